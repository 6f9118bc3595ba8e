//! Membership of the co-op: who may vote, own shops and share the surplus.
//!
//! - **Founders.** Accounts the operator creates (`tianguis user create`, the first admin) are
//!   members from the start (`decided_by = founder`).
//! - **Applying.** Anyone registered (a buyer account) applies with a short statement. The
//!   bylaws (`[coop] admission`) say who decides: an admin (`admins`) or the members, by a
//!   yes/no admission vote opened with the application (`vote`; see `governance`).
//! - **Admission** makes the account a member (role `member`) and books its share, paid to the
//!   co-op: debit `assets:cash`, credit `equity:member_shares:{username}` (`[coop]
//!   share_price`). Approving records that the share was paid, as the co-op's treasurer would.
//!   Every member holds exactly one share and has one vote.
//! - **Leaving.** A member leaves (or an admin removes them). Their shops are transferred to
//!   another member, or closed (every listing withdrawn, so followers and peers are told);
//!   a member with orders still open on their shops must finish them first (409). With
//!   `[coop] refund_share_on_leave`, the share is refunded (debit the share account, credit
//!   cash). The account stays, as a buyer, with its order history; what the co-op still owes
//!   it (seller payable, dividends) stays owed. The last admin cannot leave.
//!
//! # One decision at a time
//!
//! Every decision here (apply, admit, reject, leave, remove, change a role) checks the state
//! and writes in one transaction that first takes the membership lock ([`lock`]): on
//! PostgreSQL an advisory lock held until commit, on SQLite the write lock `BEGIN IMMEDIATE`
//! already holds. So ten identical approvals book the share once, ten leaves refund it once,
//! two admins demoting or removing each other leave one admin, and the duplicates see the
//! state the first one left and get 409. The checks are made again inside the lock with the
//! accounts re-read there, the acting admin's role included. Membership decisions are rare, so
//! one lock for all of them costs nothing that matters and cannot deadlock between two
//! members' rows. Lock order, where several are taken: catalog, membership, ledger.

use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseTransaction,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Set,
};
use serde::Serialize;

use crate::{
    Context, Error, Result,
    bylaws::Admission,
    db,
    entities::{listing, membership, order, shop, user},
    service::{
        governance::{self, Announce},
        ledger, listings,
        shops::Authority,
    },
    types::{Money, Text},
};

/// Key of the PostgreSQL advisory lock that serialises membership decisions (the catalog's
/// is 7372001, the ledger's 7372002).
const MEMBERSHIP_LOCK: i64 = 7_372_003;

/// Take the membership lock inside `txn`, until it ends (see the module doc). On SQLite a
/// write transaction (`db::begin_write`) holds the database's write lock already.
pub async fn lock(txn: &DatabaseTransaction) -> Result<()> {
    if txn.get_database_backend() == DatabaseBackend::Postgres {
        txn.execute_unprepared(&format!("SELECT pg_advisory_xact_lock({MEMBERSHIP_LOCK})"))
            .await?;
    }
    Ok(())
}

/// A write transaction holding the membership lock.
async fn begin_decision(ctx: &Context) -> Result<DatabaseTransaction> {
    let txn = db::begin_write(&ctx.db).await?;
    lock(&txn).await?;
    Ok(txn)
}

/// The equity account holding a member's share.
pub fn share_account(username: &str) -> String {
    format!("equity:member_shares:{username}")
}

/// A membership as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct MembershipView {
    /// The account.
    pub username: String,
    /// `applied`, `active`, `rejected`, `left` (or `none` for an account that never applied).
    pub status: String,
    /// The account's role now: `member`, `admin` or `buyer`.
    pub role: String,
    /// The applicant's statement.
    pub statement: String,
    /// The share paid (or to be paid on admission), e.g. `20.00`.
    pub share: String,
    /// Its currency.
    pub currency: String,
    /// When they applied (founders: when the account was made).
    pub applied_at: chrono::DateTime<chrono::Utc>,
    /// When they were admitted or rejected.
    pub decided_at: Option<chrono::DateTime<chrono::Utc>>,
    /// `admin:{username}`, `vote:{proposal}` or `founder`.
    pub decided_by: Option<String>,
    /// The admission vote, if any.
    pub proposal_id: Option<String>,
    /// When they left.
    pub left_at: Option<chrono::DateTime<chrono::Utc>>,
}

fn view(user: &user::Model, row: Option<&membership::Model>, ctx: &Context) -> MembershipView {
    let bylaws = &ctx.instance.bylaws;
    match row {
        Some(m) => MembershipView {
            username: user.username.clone(),
            status: m.status.clone(),
            role: user.role.clone(),
            statement: m.statement.clone(),
            share: Money::display_minor(m.share_minor, &m.currency),
            currency: m.currency.clone(),
            applied_at: m.applied_at,
            decided_at: m.decided_at,
            decided_by: m.decided_by.clone(),
            proposal_id: m.proposal_id.clone(),
            left_at: m.left_at,
        },
        None => MembershipView {
            username: user.username.clone(),
            status: "none".into(),
            role: user.role.clone(),
            statement: String::new(),
            share: Money::display_minor(bylaws.share_price_minor, &bylaws.currency),
            currency: bylaws.currency.clone(),
            applied_at: user.created_at,
            decided_at: None,
            decided_by: None,
            proposal_id: None,
            left_at: None,
        },
    }
}

async fn row_of<C: ConnectionTrait>(conn: &C, user_id: i32) -> Result<Option<membership::Model>> {
    Ok(membership::Entity::find()
        .filter(membership::Column::UserId.eq(user_id))
        .one(conn)
        .await?)
}

async fn user_by_name<C: ConnectionTrait>(conn: &C, username: &str) -> Result<user::Model> {
    super::accounts::find_user_on(conn, username)
        .await?
        .ok_or_else(|| Error::not_found("account"))
}

/// Book a member's share: the co-op received it.
async fn book_share(
    txn: &DatabaseTransaction,
    ctx: &Context,
    username: &str,
    memo: &str,
) -> Result<i64> {
    let bylaws = &ctx.instance.bylaws;
    let price = bylaws.share_price_minor;
    if price > 0 {
        ledger::post(
            txn,
            "share",
            None,
            &bylaws.currency,
            memo,
            vec![
                ledger::dr(ledger::CASH, price),
                ledger::cr(share_account(username), price),
            ],
        )
        .await?;
    }
    Ok(price)
}

/// Record a founding member (inside the transaction that creates the account): active from
/// the start, share booked.
pub async fn found(txn: &DatabaseTransaction, ctx: &Context, user: &user::Model) -> Result<()> {
    let share = book_share(
        txn,
        ctx,
        &user.username,
        &format!("member share of {} (founder)", user.username),
    )
    .await?;
    membership::ActiveModel {
        user_id: Set(user.id),
        status: Set(membership::STATUS_ACTIVE.into()),
        statement: Set(String::new()),
        share_minor: Set(share),
        currency: Set(ctx.instance.bylaws.currency.clone()),
        applied_at: Set(user.created_at),
        decided_at: Set(Some(user.created_at)),
        decided_by: Set(Some("founder".into())),
        proposal_id: Set(None),
        left_at: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The membership of an account (status `none` if it never applied).
pub async fn status(ctx: &Context, user: &user::Model) -> Result<MembershipView> {
    let row = row_of(&ctx.db, user.id).await?;
    Ok(view(user, row.as_ref(), ctx))
}

/// Apply to join. 409 for a member or a pending application; 422 for a statement over 2 000
/// characters. With admission by vote, the admission vote is opened in the same transaction
/// (its id is in the answer; `announce` builds its `Question`); the deliveries queued for it
/// are returned for the caller to dispatch.
pub async fn apply(
    ctx: &Context,
    user: &user::Model,
    statement: &str,
    announce: Announce<'_>,
) -> Result<(MembershipView, Vec<i32>)> {
    let statement = Text::lines("statement", statement, 0, 2_000)?;
    let statement = statement.as_str();
    let txn = begin_decision(ctx).await?;
    let user = user::Entity::find_by_id(user.id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("account"))?;
    if user.is_member() {
        return Err(Error::Conflict("you are already a member".into()));
    }
    let existing = row_of(&txn, user.id).await?;
    if existing
        .as_ref()
        .is_some_and(|m| m.status == membership::STATUS_APPLIED)
    {
        return Err(Error::Conflict(
            "your application is already waiting for a decision".into(),
        ));
    }
    let now = db::now(&txn).await?;
    let bylaws = &ctx.instance.bylaws;
    let mut row = match existing {
        Some(m) => m.into(),
        None => membership::ActiveModel {
            user_id: Set(user.id),
            ..Default::default()
        },
    };
    row.status = Set(membership::STATUS_APPLIED.into());
    row.statement = Set(statement.to_string());
    row.share_minor = Set(bylaws.share_price_minor);
    row.currency = Set(bylaws.currency.clone());
    row.applied_at = Set(now);
    row.decided_at = Set(None);
    row.decided_by = Set(None);
    row.proposal_id = Set(None);
    row.left_at = Set(None);
    // Inside the lock nobody else can insert this row; the mapping is a second safety net.
    let mut saved = row
        .save(&txn)
        .await
        .map_err(|e| Error::from_unique(e, "your application is already waiting for a decision"))?;
    governance::log(
        &txn,
        &user.username,
        "member_applied",
        None,
        &format!("{} applied to join", user.username),
    )
    .await?;
    let mut deliveries = Vec::new();
    if bylaws.admission == Admission::Vote {
        let (proposal, queued) = admission_vote(&txn, ctx, &user, statement, now, announce).await?;
        saved.proposal_id = Set(Some(proposal));
        saved = saved.save(&txn).await?;
        deliveries = queued;
    }
    let saved: membership::Model = saved.try_into()?;
    txn.commit().await?;
    Ok((view(&user, Some(&saved), ctx), deliveries))
}

/// Open the admission vote for an applicant (yes/no, the bylaws' quorum and threshold, open
/// `admission_vote_hours`); returns the proposal id and the deliveries of its `Question`.
async fn admission_vote(
    txn: &DatabaseTransaction,
    ctx: &Context,
    user: &user::Model,
    statement: &str,
    now: chrono::DateTime<chrono::Utc>,
    announce: Announce<'_>,
) -> Result<(String, Vec<i32>)> {
    let bylaws = &ctx.instance.bylaws;
    let body = if statement.is_empty() {
        format!("{} applied to join the co-op.", user.username)
    } else {
        let quoted: Vec<String> = statement.lines().map(|l| format!("> {l}")).collect();
        format!(
            "{} applied to join the co-op:\n\n{}",
            user.username,
            quoted.join("\n")
        )
    };
    let draft = governance::Draft {
        kind: governance::KIND_ADMISSION.into(),
        subject: Some(user.username.clone()),
        title: format!("Admit {} as a member?", user.username),
        body,
        options: vec!["yes".into(), "no".into()],
        quorum_bp: bylaws.quorum_bp,
        threshold_bp: bylaws.threshold_bp,
        closes_at: now + chrono::Duration::hours(i64::from(bylaws.admission_vote_hours)),
    };
    let (proposal, deliveries) =
        governance::open_in(txn, ctx, draft, governance::log::SYSTEM, announce).await?;
    Ok((proposal.id, deliveries))
}

/// Act on a closed admission vote (inside its closing transaction): admit the applicant if
/// `yes` was adopted, turn them down otherwise. An applicant who withdrew or was decided
/// otherwise meanwhile is left alone.
pub async fn settle_admission(
    txn: &DatabaseTransaction,
    ctx: &Context,
    proposal: &crate::entities::proposal::Model,
    results: &governance::tally::Results,
) -> Result<()> {
    let Some(username) = proposal.subject.as_deref() else {
        return Ok(());
    };
    lock(txn).await?;
    let Ok(user) = user_by_name(txn, username).await else {
        return Ok(());
    };
    let pending = row_of(txn, user.id).await?.is_some_and(|m| {
        m.status == membership::STATUS_APPLIED && m.proposal_id.as_deref() == Some(&proposal.id)
    });
    if !pending {
        return Ok(());
    }
    let by = format!("vote:{}", proposal.id);
    if results.adopted.as_deref() == Some("yes") {
        admit(txn, ctx, &user, &by).await?;
    } else {
        reject(txn, &user, &by).await?;
    }
    Ok(())
}

/// `user`'s application waiting for a decision, or 409. Takes the membership lock (again: it
/// is re-entrant), so a pending application is decided once.
async fn pending_row(txn: &DatabaseTransaction, user: &user::Model) -> Result<membership::Model> {
    lock(txn).await?;
    row_of(txn, user.id)
        .await?
        .filter(|m| m.status == membership::STATUS_APPLIED)
        .ok_or_else(|| Error::Conflict(format!("{} has no pending application", user.username)))
}

/// Admit an applicant inside `txn`: role `member`, share booked, status `active`.
pub async fn admit(
    txn: &DatabaseTransaction,
    ctx: &Context,
    user: &user::Model,
    decided_by: &str,
) -> Result<membership::Model> {
    let row = pending_row(txn, user).await?;
    let share = book_share(
        txn,
        ctx,
        &user.username,
        &format!("member share of {}", user.username),
    )
    .await?;
    let now = db::now(txn).await?;
    let mut account: user::ActiveModel = user.clone().into();
    account.role = Set(user::ROLE_MEMBER.into());
    account.update(txn).await?;
    governance::log(
        txn,
        decided_by,
        "member_admitted",
        row.proposal_id.as_deref(),
        &format!("{} admitted; share booked", user.username),
    )
    .await?;
    let mut row: membership::ActiveModel = row.into();
    row.status = Set(membership::STATUS_ACTIVE.into());
    row.share_minor = Set(share);
    row.currency = Set(ctx.instance.bylaws.currency.clone());
    row.decided_at = Set(Some(now));
    row.decided_by = Set(Some(decided_by.into()));
    Ok(row.update(txn).await?)
}

/// Turn an application down inside `txn`.
pub async fn reject(
    txn: &DatabaseTransaction,
    user: &user::Model,
    decided_by: &str,
) -> Result<membership::Model> {
    let row = pending_row(txn, user).await?;
    let now = db::now(txn).await?;
    governance::log(
        txn,
        decided_by,
        "member_rejected",
        row.proposal_id.as_deref(),
        &format!("{}'s application turned down", user.username),
    )
    .await?;
    let mut row: membership::ActiveModel = row.into();
    row.status = Set(membership::STATUS_REJECTED.into());
    row.decided_at = Set(Some(now));
    row.decided_by = Set(Some(decided_by.into()));
    Ok(row.update(txn).await?)
}

/// Who decides an application by hand: an admin through the API, the operator through the CLI.
pub enum Decider<'a> {
    /// A logged-in admin.
    Admin(&'a user::Model),
    /// Whoever runs the `tianguis` CLI on the node's machine.
    Operator,
}

/// Approve or reject an application by hand. 403 unless the bylaws let admins decide and the
/// decider is an admin; 409 without a pending application.
pub async fn decide(
    ctx: &Context,
    decider: Decider<'_>,
    username: &str,
    approve: bool,
) -> Result<MembershipView> {
    let by = match &decider {
        Decider::Admin(admin) if admin.is_admin() => format!("admin:{}", admin.username),
        Decider::Admin(_) => {
            return Err(Error::Forbidden("only admins decide applications".into()));
        }
        Decider::Operator => "operator".to_string(),
    };
    if ctx.instance.bylaws.admission == Admission::Vote {
        return Err(Error::Forbidden(
            "the bylaws admit members by a vote of the members, not by an admin".into(),
        ));
    }
    let txn = begin_decision(ctx).await?;
    if let Decider::Admin(admin) = decider {
        still_admin(&txn, admin).await?;
    }
    let user = user_by_name(&txn, username).await?;
    let row = if approve {
        admit(&txn, ctx, &user, &by).await?
    } else {
        reject(&txn, &user, &by).await?
    };
    let user = user_by_name(&txn, username).await?;
    txn.commit().await?;
    Ok(view(&user, Some(&row), ctx))
}

/// Applications waiting for a decision, oldest first.
pub async fn pending(ctx: &Context) -> Result<Vec<MembershipView>> {
    list_with_status(ctx, Some(membership::STATUS_APPLIED)).await
}

/// Memberships with a status (all if `None`), oldest application first.
pub async fn list_with_status(ctx: &Context, status: Option<&str>) -> Result<Vec<MembershipView>> {
    let mut query = membership::Entity::find().order_by_asc(membership::Column::AppliedAt);
    if let Some(status) = status {
        query = query.filter(membership::Column::Status.eq(status));
    }
    let rows = query.all(&ctx.db).await?;
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        if let Some(user) = user::Entity::find_by_id(row.user_id).one(&ctx.db).await? {
            out.push(view(&user, Some(&row), ctx));
        }
    }
    Ok(out)
}

/// How many members the co-op has now.
pub async fn count_members<C: ConnectionTrait>(conn: &C) -> Result<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.is_in([user::ROLE_MEMBER, user::ROLE_ADMIN]))
        .count(conn)
        .await?)
}

/// What happens to a leaving member's shops.
#[derive(Debug, Clone)]
pub enum Shops {
    /// Close them: every listing is withdrawn.
    Close,
    /// Hand them to another member (by username).
    TransferTo(String),
}

/// What leaving did.
#[derive(Debug, Clone, Serialize)]
pub struct Departure {
    /// The membership now (`left`).
    pub membership: MembershipView,
    /// Shops closed (handles).
    pub closed_shops: Vec<String>,
    /// Shops handed over (handles), and to whom.
    pub transferred_shops: Vec<String>,
    /// Who took them over.
    pub transferred_to: Option<String>,
    /// The share refunded, if the bylaws refund it (e.g. `20.00`).
    pub refunded: Option<String>,
}

/// A member leaves the co-op (themselves, or removed by an admin or the operator). See the
/// module doc for what happens; 409 for a non-member, the last admin, or open orders on
/// their shops; 422 for a transfer to someone who is not a member.
pub async fn leave(
    ctx: &Context,
    who: Authority<'_>,
    username: &str,
    shops_go: Shops,
) -> Result<Departure> {
    // The catalog lock first (closing a shop withdraws its listings in this transaction), then
    // the membership lock: everything below is checked and written under both, at once.
    let txn = db::begin_catalog_write(&ctx.db).await?;
    lock(&txn).await?;
    let leaver = user_by_name(&txn, username).await?;
    if let Authority::User(actor) = who
        && actor.id != leaver.id
    {
        if !actor.is_admin() {
            return Err(Error::Forbidden(
                "members leave by themselves; only an admin removes someone else".into(),
            ));
        }
        still_admin(&txn, actor).await?;
    }
    if !leaver.is_member() {
        return Err(Error::Conflict(format!(
            "{} is not a member",
            leaver.username
        )));
    }
    let heir = match &shops_go {
        Shops::TransferTo(name) => {
            let heir = user_by_name(&txn, name).await.map_err(|_| {
                Error::invalid("transfer_shops_to", format!("no account named {name}"))
            })?;
            if !heir.is_member() || heir.id == leaver.id {
                return Err(Error::invalid(
                    "transfer_shops_to",
                    "shops go to another member of the co-op",
                ));
            }
            Some(heir)
        }
        Shops::Close => None,
    };
    if leaver.is_admin() && count_admins(&txn).await? <= 1 {
        return Err(Error::Conflict(
            "the last admin cannot leave: make another member admin first (tianguis member promote)".into(),
        ));
    }
    let owned = shop::Entity::find()
        .filter(shop::Column::OwnerId.eq(leaver.id))
        .order_by_asc(shop::Column::Id)
        .all(&txn)
        .await?;
    let shop_ids: Vec<i32> = owned.iter().map(|s| s.id).collect();
    if !shop_ids.is_empty() && heir.is_none() {
        let open = order::Entity::find()
            .filter(order::Column::ShopId.is_in(shop_ids.clone()))
            .filter(order::Column::State.is_not_in(["rejected", "completed", "refunded"]))
            .all(&txn)
            .await?
            .into_iter()
            .filter(|o| o.state != "cancelled" || o.paid_at.is_some())
            .count();
        if open > 0 {
            return Err(Error::Conflict(format!(
                "{open} order(s) are still open on your shops: answer, complete, cancel or refund \
                 them, or transfer the shops to another member"
            )));
        }
    }
    // Closing a shop withdraws its listings one by one (each tells followers and peers).
    let mut closed_shops = Vec::new();
    if heir.is_none() {
        for shop in &owned {
            let on_sale = listing::Entity::find()
                .filter(listing::Column::ShopId.eq(shop.id))
                .filter(listing::Column::Status.ne(listing::Status::Withdrawn.as_str()))
                .all(&txn)
                .await?;
            for listing in on_sale {
                listings::withdraw_in(&txn, ctx, &listing.id).await?;
            }
            closed_shops.push(shop.handle.clone());
        }
    }
    let mut transferred_shops = Vec::new();
    if let Some(heir) = &heir {
        for shop in &owned {
            let mut row: shop::ActiveModel = shop.clone().into();
            row.owner_id = Set(heir.id);
            row.update(&txn).await?;
            transferred_shops.push(shop.handle.clone());
        }
    }
    let now = db::now(&txn).await?;
    let row = row_of(&txn, leaver.id).await?;
    let refund = match &row {
        Some(m) if ctx.instance.bylaws.refund_share_on_leave && m.share_minor > 0 => {
            ledger::post(
                &txn,
                "share_refund",
                None,
                &m.currency,
                &format!("member share of {} refunded on leaving", leaver.username),
                vec![
                    ledger::dr(share_account(&leaver.username), m.share_minor),
                    ledger::cr(ledger::CASH, m.share_minor),
                ],
            )
            .await?;
            Some(Money::display_minor(m.share_minor, &m.currency))
        }
        _ => None,
    };
    let row = match row {
        Some(m) => {
            let mut m: membership::ActiveModel = m.into();
            m.status = Set(membership::STATUS_LEFT.into());
            m.left_at = Set(Some(now));
            m.update(&txn).await?
        }
        None => {
            membership::ActiveModel {
                user_id: Set(leaver.id),
                status: Set(membership::STATUS_LEFT.into()),
                statement: Set(String::new()),
                share_minor: Set(0),
                currency: Set(ctx.instance.bylaws.currency.clone()),
                applied_at: Set(leaver.created_at),
                decided_at: Set(None),
                decided_by: Set(None),
                proposal_id: Set(None),
                left_at: Set(Some(now)),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    let actor = match who {
        Authority::User(actor) => actor.username.clone(),
        Authority::Operator => "operator".to_string(),
    };
    governance::log(
        &txn,
        &actor,
        "member_left",
        None,
        &format!(
            "{} left the co-op{}",
            leaver.username,
            match &heir {
                Some(h) => format!("; shops handed to {}", h.username),
                None if owned.is_empty() => String::new(),
                None => "; shops closed".to_string(),
            }
        ),
    )
    .await?;
    let mut account: user::ActiveModel = leaver.clone().into();
    account.role = Set(user::ROLE_BUYER.into());
    let leaver = account.update(&txn).await?;
    txn.commit().await?;
    Ok(Departure {
        membership: view(&leaver, Some(&row), ctx),
        closed_shops,
        transferred_shops,
        transferred_to: heir.map(|h| h.username),
        refunded: refund,
    })
}

/// Re-read `actor` inside the membership lock: an admin demoted or removed a moment ago (by a
/// request that won the race) decides nothing more: 409.
async fn still_admin(txn: &DatabaseTransaction, actor: &user::Model) -> Result<()> {
    let now = user::Entity::find_by_id(actor.id).one(txn).await?;
    if now.is_some_and(|u| u.is_admin()) {
        Ok(())
    } else {
        Err(Error::Conflict(
            "you are no longer an admin of the co-op".into(),
        ))
    }
}

async fn count_admins<C: ConnectionTrait>(conn: &C) -> Result<u64> {
    Ok(user::Entity::find()
        .filter(user::Column::Role.eq(user::ROLE_ADMIN))
        .count(conn)
        .await?)
}

/// Make a member an admin, or an admin an ordinary member (by an admin through the API, or the
/// operator). 409 for someone who is not a member, or for demoting the last admin.
pub async fn set_admin(
    ctx: &Context,
    who: Authority<'_>,
    username: &str,
    admin: bool,
) -> Result<MembershipView> {
    let actor = match who {
        Authority::User(actor) if actor.is_admin() => actor.username.clone(),
        Authority::User(_) => {
            return Err(Error::Forbidden("only an admin changes roles".into()));
        }
        Authority::Operator => "operator".to_string(),
    };
    let txn = begin_decision(ctx).await?;
    if let Authority::User(actor) = who {
        still_admin(&txn, actor).await?;
    }
    let target = user_by_name(&txn, username).await?;
    if !target.is_member() {
        return Err(Error::Conflict(format!(
            "{} is not a member: only members can be admins",
            target.username
        )));
    }
    if !admin && target.is_admin() && count_admins(&txn).await? <= 1 {
        return Err(Error::Conflict("the co-op needs at least one admin".into()));
    }
    let role = if admin {
        user::ROLE_ADMIN
    } else {
        user::ROLE_MEMBER
    };
    let target = if target.role == role {
        target
    } else {
        governance::log(
            &txn,
            &actor,
            "role_changed",
            None,
            &format!("{} is now {role}", target.username),
        )
        .await?;
        let mut row: user::ActiveModel = target.into();
        row.role = Set(role.into());
        row.update(&txn).await?
    };
    let row = row_of(&txn, target.id).await?;
    txn.commit().await?;
    Ok(view(&target, row.as_ref(), ctx))
}
