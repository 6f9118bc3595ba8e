//! Co-op governance: members propose, vote one member one vote in secret, check their own vote
//! with a receipt, and read results computed when the voting window closes.
//!
//! # Why a vote cannot be linked to a member
//!
//! A vote is written as two rows in one transaction, in two tables that share nothing but the
//! proposal:
//!
//! - `ballots (proposal_id, user_id, cast_at)`: *that* a member voted (turnout, and the unique
//!   index that refuses a second vote);
//! - `votes (id, proposal_id, option_index, receipt_hash)`: *what* was voted, with a random id,
//!   no user, no time, and the SHA-256 of a random receipt code that only the voter ever sees
//!   (it is returned once and never stored).
//!
//! No column, key or timestamp joins a `votes` row to a `ballots` row, so reading the database
//! (as an admin, or from a backup) tells who voted and how many votes each option got, not who
//! voted what. A voter proves to themselves that their vote counted by presenting the code: its
//! hash finds the vote. Nobody else can, because the hash cannot be reversed into a code (128
//! random bits) and the code is nowhere on the node. The audit log records *that* a vote was
//! cast, never by whom or for what (see [`log::VOTE_CAST`]): who voted is in `ballots` already,
//! and a log every member reads must not become a timeline of individual members' votes.
//!
//! # What this does not protect against (residual limits)
//!
//! - **Insertion order.** Someone who watches the database while votes arrive (or compares two
//!   backups, or reads a write-ahead log, or PostgreSQL's heap order and per-row transaction ids
//!   `xmin`, which are equal for the two rows of one vote) can pair each new vote with the new
//!   ballot. On SQLite `votes` is a `WITHOUT ROWID` table, so rows are stored in the order of
//!   their random id and have no hidden rowid; PostgreSQL keeps its heap order and `xmin`. A
//!   node operator with that level of access during the vote must be trusted.
//! - **The running node.** Whoever controls the server process sees each request (user and
//!   option together) as it is handled. Secrecy here is against reading the stored data.
//! - **Receipts prove a vote.** A member can show their code to someone else to prove how they
//!   voted (vote selling, coercion). This is the cost of letting members verify their vote.
//! - **Small electorates.** If every member votes the same way, the tally says how each voted.
//!
//! Cryptographic voting (blind signatures, mix networks) would remove the first two and is out
//! of scope.

pub mod followers;
pub mod log;
pub mod tally;

use chrono::{DateTime, Utc};
use rand::RngCore;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Set, sea_query::Expr,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use log::{SYSTEM, log};
pub use tally::{OptionCount, Results};

use crate::{
    Context, Error, Result, db,
    entities::{ballot, proposal, user, vote},
    service::{Page, PageRequest, deliveries},
    types::Text,
};

/// A general proposal: its result is published, nothing else happens.
pub const KIND_GENERAL: &str = "general";
/// An admission vote: its `subject` (a username) is admitted if `yes` is adopted, turned down
/// otherwise (`membership::settle_admission`).
pub const KIND_ADMISSION: &str = "admission";

/// The shortest voting window.
const MIN_WINDOW: chrono::Duration = chrono::Duration::minutes(1);
/// The longest voting window.
const MAX_WINDOW: chrono::Duration = chrono::Duration::days(90);

/// A proposal as a member submits it (API, page, CLI).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewProposal {
    /// 1–200 characters.
    pub title: String,
    /// Markdown, at most 20 000 characters.
    #[serde(default)]
    pub text: String,
    /// 2–10 distinct labels; `["yes", "no"]` when absent.
    #[serde(default)]
    pub options: Option<Vec<String>>,
    /// RFC 3339 end of the voting window...
    #[serde(default)]
    pub closes_at: Option<String>,
    /// ... or its length in hours from now.
    #[serde(default)]
    pub hours: Option<f64>,
    /// Percent of members who must vote; the bylaws' default when absent.
    #[serde(default)]
    pub quorum: Option<f64>,
    /// Percent of votes cast the winning option must be more than; the bylaws' default.
    #[serde(default)]
    pub threshold: Option<f64>,
}

/// A checked proposal, ready to be opened. Other features (admission votes) build one directly
/// with their own `kind` and `subject`.
#[derive(Debug, Clone)]
pub struct Draft {
    /// [`KIND_GENERAL`] or a kind another feature acts on at close.
    pub kind: String,
    /// What a non-general proposal is about (a username).
    pub subject: Option<String>,
    /// Title.
    pub title: String,
    /// Markdown text.
    pub body: String,
    /// Option labels.
    pub options: Vec<String>,
    /// Quorum, basis points of the electorate.
    pub quorum_bp: u32,
    /// Threshold, basis points of votes cast.
    pub threshold_bp: u32,
    /// End of the voting window.
    pub closes_at: DateTime<Utc>,
}

fn percent_bp(field: &str, value: Option<f64>, default: u32, max: f64) -> Result<u32> {
    let Some(value) = value else {
        return Ok(default);
    };
    if !value.is_finite() || value < 0.0 || value > max {
        return Err(Error::invalid(
            field,
            format!("a percentage from 0 to {max}"),
        ));
    }
    Ok((value * 100.0).round() as u32)
}

impl Draft {
    /// Check what a member submitted, at `now`, with the bylaws' defaults.
    pub fn parse(ctx: &Context, input: NewProposal, now: DateTime<Utc>) -> Result<Draft> {
        let title = Text::line("title", &input.title, 1, 200)?.into_inner();
        let text = Text::lines("text", &input.text, 0, 20_000)?.into_inner();
        let options = input
            .options
            .unwrap_or_else(|| vec!["yes".into(), "no".into()]);
        if !(2..=10).contains(&options.len()) {
            return Err(Error::invalid("options", "2 to 10 options"));
        }
        let options = options
            .iter()
            .enumerate()
            .map(|(i, o)| Text::line(&format!("options[{i}]"), o, 1, 100).map(Text::into_inner))
            .collect::<Result<Vec<String>>>()?;
        for (i, option) in options.iter().enumerate() {
            if options[..i]
                .iter()
                .any(|o| o.to_lowercase() == option.to_lowercase())
            {
                return Err(Error::invalid(
                    format!("options[{i}]"),
                    format!("{option:?} is there twice"),
                ));
            }
        }
        let closes_at = match (input.closes_at.as_deref(), input.hours) {
            (Some(_), Some(_)) => {
                return Err(Error::invalid(
                    "closes_at",
                    "give closes_at or hours, not both",
                ));
            }
            (Some(text), None) => DateTime::parse_from_rfc3339(text.trim())
                .map_err(|_| {
                    Error::invalid("closes_at", "an RFC 3339 time, e.g. 2026-12-01T18:00:00Z")
                })?
                .with_timezone(&Utc),
            (None, Some(hours)) => {
                if !hours.is_finite() || hours <= 0.0 || hours > 24.0 * 90.0 {
                    return Err(Error::invalid(
                        "hours",
                        "more than 0, at most 2160 (90 days)",
                    ));
                }
                now + chrono::Duration::seconds((hours * 3600.0).round() as i64)
            }
            (None, None) => {
                return Err(Error::invalid(
                    "closes_at",
                    "say when voting ends: closes_at (RFC 3339) or hours",
                ));
            }
        };
        if closes_at < now + MIN_WINDOW {
            return Err(Error::invalid(
                "closes_at",
                "voting must stay open at least one minute",
            ));
        }
        if closes_at > now + MAX_WINDOW {
            return Err(Error::invalid(
                "closes_at",
                "voting may stay open at most 90 days",
            ));
        }
        let bylaws = &ctx.instance.bylaws;
        Ok(Draft {
            kind: KIND_GENERAL.into(),
            subject: None,
            title,
            body: text,
            options,
            quorum_bp: percent_bp("quorum", input.quorum, bylaws.quorum_bp, 100.0)?,
            threshold_bp: percent_bp("threshold", input.threshold, bylaws.threshold_bp, 99.99)?,
            closes_at,
        })
    }
}

/// An activity the co-op's actor sends to all its followers, built by the federation layer
/// and queued in the transaction of the change it announces.
#[derive(Debug, Clone)]
pub struct Broadcast {
    /// The activity's id.
    pub activity_id: String,
    /// The co-op actor's id (it signs).
    pub actor_id: String,
    /// The activity, serialised.
    pub body: String,
}

/// Builds the [`Broadcast`] for a proposal (and its result, once closed); `None` sends nothing.
pub type Announce<'a> = &'a (dyn Fn(&ProposalView) -> Result<Option<Broadcast>> + Send + Sync);

async fn broadcast(txn: &DatabaseTransaction, out: Option<Broadcast>) -> Result<Vec<i32>> {
    let Some(out) = out else {
        return Ok(Vec::new());
    };
    let inboxes = followers::inboxes(txn).await?;
    deliveries::enqueue_many_in(txn, &out.activity_id, &out.actor_id, &out.body, &inboxes).await
}

/// A proposal as the API, pages and federation show it.
#[derive(Debug, Clone, Serialize)]
pub struct ProposalView {
    /// UUID.
    pub id: String,
    /// `general`, ...
    pub kind: String,
    /// What a non-general proposal is about.
    pub subject: Option<String>,
    /// Title.
    pub title: String,
    /// Markdown.
    pub text: String,
    /// The text rendered to safe HTML.
    pub text_html: String,
    /// Option labels.
    pub options: Vec<String>,
    /// Quorum, percent of members.
    pub quorum: f64,
    /// Threshold, percent of votes cast.
    pub threshold: f64,
    /// Proposer.
    pub created_by: String,
    /// Opened.
    pub created_at: DateTime<Utc>,
    /// End of the window.
    pub closes_at: DateTime<Utc>,
    /// When it closed (null while open).
    pub closed_at: Option<DateTime<Utc>>,
    /// Open for votes.
    pub open: bool,
    /// Members who have voted so far (no running tallies while open).
    pub turnout: u64,
    /// The result, once closed.
    pub result: Option<Results>,
    /// The proposal's page (and its `Question`'s id).
    pub url: String,
}

/// The proposal's page, also the id of its `Question`.
pub fn proposal_url(ctx: &Context, id: &str) -> String {
    ctx.instance.url(&format!("/coop/proposals/{id}"))
}

fn options_of(row: &proposal::Model) -> Result<Vec<String>> {
    serde_json::from_str(&row.options)
        .map_err(|e| Error::Internal(format!("proposal {} has unreadable options: {e}", row.id)))
}

async fn view_in(
    conn: &impl ConnectionTrait,
    ctx: &Context,
    row: proposal::Model,
) -> Result<ProposalView> {
    let turnout = ballot::Entity::find()
        .filter(ballot::Column::ProposalId.eq(&row.id))
        .count(conn)
        .await?;
    let result = row
        .result
        .as_deref()
        .map(serde_json::from_str::<Results>)
        .transpose()
        .map_err(|e| {
            Error::Internal(format!("proposal {} has an unreadable result: {e}", row.id))
        })?;
    Ok(ProposalView {
        options: options_of(&row)?,
        text_html: crate::markdown::render(&row.body),
        url: proposal_url(ctx, &row.id),
        quorum: f64::from(row.quorum_bp) / 100.0,
        threshold: f64::from(row.threshold_bp) / 100.0,
        open: row.closed_at.is_none(),
        turnout,
        result,
        id: row.id,
        kind: row.kind,
        subject: row.subject,
        title: row.title,
        text: row.body,
        created_by: row.created_by,
        created_at: row.created_at,
        closes_at: row.closes_at,
        closed_at: row.closed_at,
    })
}

/// Open `draft` inside `txn` (another feature's transaction, e.g. an application to join),
/// logging it and queuing its announcement. Returns the proposal and the deliveries queued.
pub async fn open_in(
    txn: &DatabaseTransaction,
    ctx: &Context,
    draft: Draft,
    created_by: &str,
    announce: Announce<'_>,
) -> Result<(ProposalView, Vec<i32>)> {
    let now = db::now(txn).await?;
    let options =
        serde_json::to_string(&draft.options).map_err(|e| Error::Internal(e.to_string()))?;
    let row = proposal::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        kind: Set(draft.kind),
        subject: Set(draft.subject),
        title: Set(draft.title),
        body: Set(draft.body),
        options: Set(options),
        quorum_bp: Set(i32::try_from(draft.quorum_bp).unwrap_or(i32::MAX)),
        threshold_bp: Set(i32::try_from(draft.threshold_bp).unwrap_or(i32::MAX)),
        created_by: Set(created_by.to_string()),
        created_at: Set(now),
        closes_at: Set(draft.closes_at),
        closed_at: Set(None),
        result: Set(None),
        electorate: Set(None),
    }
    .insert(txn)
    .await?;
    log(
        txn,
        created_by,
        log::PROPOSAL_CREATED,
        Some(&row.id),
        &format!(
            "{:?}, voting until {}",
            row.title,
            row.closes_at.to_rfc3339()
        ),
    )
    .await?;
    let view = view_in(txn, ctx, row).await?;
    let ids = broadcast(txn, announce(&view)?).await?;
    Ok((view, ids))
}

/// A member proposes (403 for anyone else).
pub async fn propose(
    ctx: &Context,
    member: &user::Model,
    input: NewProposal,
    announce: Announce<'_>,
) -> Result<(ProposalView, Vec<i32>)> {
    if !member.is_member() {
        return Err(Error::Forbidden(
            "only members of the co-op may make proposals".into(),
        ));
    }
    let draft = Draft::parse(ctx, input, db::now(&ctx.db).await?)?;
    let txn = db::begin_write(&ctx.db).await?;
    let (view, ids) = open_in(&txn, ctx, draft, &member.username, announce).await?;
    txn.commit().await?;
    Ok((view, ids))
}

fn parse_id(id: &str) -> Result<String> {
    uuid::Uuid::parse_str(id)
        .map(|u| u.to_string())
        .map_err(|_| Error::not_found("proposal"))
}

/// One proposal (as stored: [`close_due`] first to close it if its time has come).
pub async fn get(ctx: &Context, id: &str) -> Result<ProposalView> {
    let row = proposal::Entity::find_by_id(parse_id(id)?)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("proposal"))?;
    view_in(&ctx.db, ctx, row).await
}

/// Whether `voter` has voted on proposal `id` (only ever told to the voter).
pub async fn has_voted(ctx: &Context, id: &str, voter: &user::Model) -> Result<bool> {
    Ok(ballot::Entity::find()
        .filter(ballot::Column::ProposalId.eq(parse_id(id)?))
        .filter(ballot::Column::UserId.eq(voter.id))
        .count(&ctx.db)
        .await?
        > 0)
}

/// Proposals, open ones first (soonest to close first), then closed ones (newest first).
pub async fn list(ctx: &Context, page: PageRequest) -> Result<Page<ProposalView>> {
    let paginator = proposal::Entity::find()
        .order_by_asc(Expr::cust("CASE WHEN closed_at IS NULL THEN 0 ELSE 1 END"))
        .order_by_asc(Expr::cust(
            "CASE WHEN closed_at IS NULL THEN closes_at ELSE NULL END",
        ))
        .order_by_desc(proposal::Column::CreatedAt)
        .paginate(&ctx.db, page.per_page);
    let total = paginator.num_items().await?;
    let mut items = Vec::new();
    for row in paginator.fetch_page(page.page - 1).await? {
        items.push(view_in(&ctx.db, ctx, row).await?);
    }
    Ok(Page {
        items,
        page: page.page,
        per_page: page.per_page,
        total,
    })
}

/// Every proposal, newest first (the co-op actor's outbox), at most `limit`.
pub async fn newest(ctx: &Context, limit: u64) -> Result<(Vec<ProposalView>, u64)> {
    let total = proposal::Entity::find().count(&ctx.db).await?;
    let mut items = Vec::new();
    for row in proposal::Entity::find()
        .order_by_desc(proposal::Column::CreatedAt)
        .limit(limit)
        .all(&ctx.db)
        .await?
    {
        items.push(view_in(&ctx.db, ctx, row).await?);
    }
    Ok((items, total))
}

/// Which option a voter chose: its label or its 0-based index.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Choice {
    /// 0-based index.
    Index(u64),
    /// Label (compared ignoring case).
    Label(String),
}

fn option_index(options: &[String], choice: &Choice) -> Result<usize> {
    let found = match choice {
        Choice::Index(i) => usize::try_from(*i).ok().filter(|i| *i < options.len()),
        Choice::Label(label) => options
            .iter()
            .position(|o| o.to_lowercase() == label.trim().to_lowercase()),
    };
    found.ok_or_else(|| Error::invalid("option", format!("one of {}", options.join(", "))))
}

/// A vote's receipt code, as the voter is shown it once: 32 hex digits in four groups.
fn new_receipt() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    hex.as_bytes()
        .chunks(8)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// What is stored of a receipt: SHA-256 of the proposal and the code's 32 hex digits (dashes,
/// spaces and case ignored). `None` if the code cannot be one of ours.
fn receipt_hash(proposal_id: &str, code: &str) -> Option<String> {
    let digits: String = code
        .chars()
        .filter(|c| !matches!(c, '-' | ' '))
        .map(|c| c.to_ascii_lowercase())
        .collect();
    if digits.len() != 32 || !digits.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let digest = Sha256::digest(format!("tianguis-receipt:{proposal_id}:{digits}").as_bytes());
    Some(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// A cast vote's receipt code, shown to the voter once.
#[derive(Debug, Clone, Serialize)]
pub struct Receipt {
    /// The proposal.
    pub proposal_id: String,
    /// The code: keep it to check later that the vote was counted, and for what.
    pub receipt: String,
}

/// A member votes (403 for anyone else; 409 after the window or for a second vote; 422 for an
/// option the proposal does not have). Call [`close_due`] first so a due proposal is closed.
pub async fn vote(
    ctx: &Context,
    voter: &user::Model,
    id: &str,
    choice: &Choice,
) -> Result<Receipt> {
    if !voter.is_member() {
        return Err(Error::Forbidden("only members of the co-op vote".into()));
    }
    let id = parse_id(id)?;
    let txn = db::begin_write(&ctx.db).await?;
    let now = db::now(&txn).await?;
    let mut find = proposal::Entity::find_by_id(id.clone());
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        // Held until commit: a close waits for votes in flight and counts them; a vote that
        // arrives during a close waits for it and then sees the proposal closed.
        find = find.lock_shared();
    }
    let row = find
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("proposal"))?;
    if row.closed_at.is_some() || row.closes_at <= now {
        return Err(Error::Conflict("voting on this proposal has closed".into()));
    }
    let index = option_index(&options_of(&row)?, choice)?;
    let inserted = ballot::ActiveModel {
        proposal_id: Set(id.clone()),
        user_id: Set(voter.id),
        cast_at: Set(now),
        ..Default::default()
    }
    .insert(&txn)
    .await;
    // The unique index (proposal, member) refuses a second ballot, also two at once.
    inserted.map_err(|e| Error::from_unique(e, "you have already voted on this proposal"))?;
    let code = new_receipt();
    let hash = receipt_hash(&id, &code)
        .ok_or_else(|| Error::Internal("a fresh receipt is malformed".into()))?;
    vote::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        proposal_id: Set(id.clone()),
        option_index: Set(i32::try_from(index).unwrap_or(0)),
        receipt_hash: Set(hash),
    }
    .insert(&txn)
    .await?;
    // Not the voter (whether someone voted is theirs to tell) and never the option.
    log(&txn, SYSTEM, log::VOTE_CAST, Some(&id), "a vote was cast").await?;
    txn.commit().await?;
    Ok(Receipt {
        proposal_id: id,
        receipt: code,
    })
}

/// What a receipt counted for.
#[derive(Debug, Clone, Serialize)]
pub struct Counted {
    /// Always true (an unknown receipt is a 404).
    pub counted: bool,
    /// The option the vote with this receipt counts for.
    pub option: String,
}

/// A member checks a receipt: the option its vote counts for, or 404 for a code that is not a
/// receipt of this proposal.
pub async fn check_receipt(
    ctx: &Context,
    member: &user::Model,
    id: &str,
    code: &str,
) -> Result<Counted> {
    if !member.is_member() {
        return Err(Error::Forbidden("only members of the co-op vote".into()));
    }
    let row = proposal::Entity::find_by_id(parse_id(id)?)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("proposal"))?;
    let not_found = || Error::not_found("receipt");
    let hash = receipt_hash(&row.id, code).ok_or_else(not_found)?;
    let found = vote::Entity::find()
        .filter(vote::Column::ProposalId.eq(&row.id))
        .filter(vote::Column::ReceiptHash.eq(hash))
        .one(&ctx.db)
        .await?
        .ok_or_else(not_found)?;
    let option = usize::try_from(found.option_index)
        .ok()
        .and_then(|i| options_of(&row).ok()?.get(i).cloned())
        .ok_or_else(|| Error::Internal("a vote for no option".into()))?;
    Ok(Counted {
        counted: true,
        option,
    })
}

/// A proposal just closed by this call, with its result: what a caller acts on.
#[derive(Debug, Clone)]
pub struct Closed {
    /// The proposal, closed.
    pub proposal: ProposalView,
    /// Its result.
    pub results: Results,
    /// Deliveries queued (the `Update{Question}`).
    pub deliveries: Vec<i32>,
}

/// Close proposal `id` if its window has passed and it is still open: count, store the result,
/// log it and queue its announcement, all in one transaction. `None` if there was nothing to do
/// (not due, or closed already, perhaps by a concurrent call: the conditional
/// `UPDATE … WHERE closed_at IS NULL` lets exactly one caller close it).
///
/// **Extension point.** What a closed proposal does beyond publishing its result depends on
/// its `kind`, matched below inside the closing transaction: a membership feature adds its
/// `admission` arm there (admit `subject` if the adopted option is `yes`), so the decision and
/// its effect commit together.
pub async fn close(ctx: &Context, id: &str, announce: Announce<'_>) -> Result<Option<Closed>> {
    let id = parse_id(id)?;
    let txn = db::begin_write(&ctx.db).await?;
    let now = db::now(&txn).await?;
    let updated = proposal::Entity::update_many()
        .col_expr(proposal::Column::ClosedAt, Expr::value(now))
        .filter(proposal::Column::Id.eq(&id))
        .filter(proposal::Column::ClosedAt.is_null())
        .filter(proposal::Column::ClosesAt.lte(now))
        .exec(&txn)
        .await?;
    if updated.rows_affected == 0 {
        txn.rollback().await?;
        return Ok(None);
    }
    let row = proposal::Entity::find_by_id(id.clone())
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("proposal"))?;
    let options = options_of(&row)?;
    let mut counts = vec![0u64; options.len()];
    let cast: Vec<i32> = vote::Entity::find()
        .select_only()
        .column(vote::Column::OptionIndex)
        .filter(vote::Column::ProposalId.eq(&id))
        .into_tuple()
        .all(&txn)
        .await?;
    for index in cast {
        if let Some(count) = usize::try_from(index).ok().and_then(|i| counts.get_mut(i)) {
            *count += 1;
        }
    }
    let electorate = crate::service::membership::count_members(&txn).await?;
    let results = tally::compute(
        &options,
        &counts,
        electorate,
        u32::try_from(row.quorum_bp).unwrap_or(0),
        u32::try_from(row.threshold_bp).unwrap_or(10_000),
    );
    let result = serde_json::to_string(&results).map_err(|e| Error::Internal(e.to_string()))?;
    let mut active: proposal::ActiveModel = row.into();
    active.result = Set(Some(result));
    active.electorate = Set(Some(i32::try_from(electorate).unwrap_or(i32::MAX)));
    let row = active.update(&txn).await?;
    match row.kind.as_str() {
        // A general proposal's result is published; nothing else happens.
        KIND_GENERAL => {}
        // An admission vote admits or turns down its applicant, in this transaction.
        KIND_ADMISSION => {
            crate::service::membership::settle_admission(&txn, ctx, &row, &results).await?;
        }
        other => {
            tracing::warn!(kind = other, id = %row.id, "a proposal of a kind nothing acts on closed")
        }
    }
    log(
        &txn,
        SYSTEM,
        log::PROPOSAL_CLOSED,
        Some(&row.id),
        &results.outcome,
    )
    .await?;
    let proposal = view_in(&txn, ctx, row).await?;
    let deliveries = broadcast(&txn, announce(&proposal)?).await?;
    txn.commit().await?;
    Ok(Some(Closed {
        proposal,
        results,
        deliveries,
    }))
}

/// Close every proposal whose window has passed (the reconciler runs this periodically, and
/// reads and votes run it first so results never wait). Returns those this call closed.
pub async fn close_due(ctx: &Context, announce: Announce<'_>) -> Result<Vec<Closed>> {
    let now = db::now(&ctx.db).await?;
    let due: Vec<String> = proposal::Entity::find()
        .select_only()
        .column(proposal::Column::Id)
        .filter(proposal::Column::ClosedAt.is_null())
        .filter(proposal::Column::ClosesAt.lte(now))
        .into_tuple()
        .all(&ctx.db)
        .await?;
    let mut closed = Vec::new();
    for id in due {
        if let Some(done) = close(ctx, &id, announce).await? {
            closed.push(done);
        }
    }
    Ok(closed)
}

/// Log a reply to a proposal's `Question` (a Mastodon poll vote) that was not counted.
pub async fn reply_ignored(
    ctx: &Context,
    id: &str,
    from: &str,
    option: Option<&str>,
) -> Result<()> {
    let id = parse_id(id)?;
    if proposal::Entity::find_by_id(id.clone())
        .one(&ctx.db)
        .await?
        .is_none()
    {
        return Err(Error::not_found("proposal"));
    }
    // The remote actor's address is public (it replied in public or to us); its chosen
    // option is not repeated, as it is no vote.
    let detail = match option {
        Some(_) => format!("a poll reply from {from} was not counted: members vote on the node"),
        None => format!("a reply from {from} was not counted: members vote on the node"),
    };
    log(&ctx.db, from, log::REPLY_IGNORED, Some(&id), &detail).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn receipts_are_random_and_hash_ignoring_dashes_and_case() {
        let a = new_receipt();
        let b = new_receipt();
        assert_ne!(a, b);
        assert_eq!(a.len(), 35, "{a}");
        let h = receipt_hash("p", &a).unwrap();
        assert_eq!(h.len(), 64);
        assert_eq!(
            receipt_hash("p", &a.replace('-', "").to_uppercase()),
            Some(h.clone())
        );
        assert_ne!(receipt_hash("q", &a), Some(h), "bound to its proposal");
        assert_eq!(receipt_hash("p", "not a code"), None);
    }

    #[test]
    fn options_are_chosen_by_label_or_index() {
        let options = vec!["Yes".to_string(), "No".to_string()];
        assert_eq!(
            option_index(&options, &Choice::Label("yes".into())).unwrap(),
            0
        );
        assert_eq!(option_index(&options, &Choice::Index(1)).unwrap(), 1);
        assert!(option_index(&options, &Choice::Index(2)).is_err());
        assert!(option_index(&options, &Choice::Label("maybe".into())).is_err());
    }
}
