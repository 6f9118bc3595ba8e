//! Peer co-op nodes: federation agreements between instance actors, and the state of copying
//! each peer's catalog.
//!
//! A peer row exists once our admin adds a node (`tianguis peer add`) or a node asks to follow
//! ours. Both directions live on the one row: `outgoing` is our `Follow` of their instance actor
//! (accepted: we copy their catalog and receive its changes), `incoming` is theirs of ours
//! (accepted: our listing changes go to them). `approved` is our admin's word: in allowlist mode
//! only approved nodes federate with us at all.

use chrono::Utc;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::{Expr, ExprTrait},
};

use crate::{
    Context, Error, Result, db,
    entities::peer::{self, incoming, outgoing},
    service::{catalog, deliveries::host_of, domains},
};

/// A node's address as given to `peer add`: `https://coop.example`, `coop.example`,
/// `http://127.0.0.1:8081` (debug mode). Returns its domain (`host` or `host:port`) and base URL.
pub fn parse_address(ctx: &Context, address: &str) -> Result<(String, String)> {
    let address = address.trim().trim_end_matches('/');
    let with_scheme = if address.contains("://") {
        address.to_string()
    } else if ctx.instance.base_url.scheme() == "http" {
        format!("http://{address}")
    } else {
        format!("https://{address}")
    };
    let url = url::Url::parse(&with_scheme)
        .map_err(|_| Error::invalid("address", format!("{address:?} is not a node's address")))?;
    if !matches!(url.scheme(), "https" | "http") || url.path() != "/" || url.query().is_some() {
        return Err(Error::invalid(
            "address",
            format!("{address:?}: give the node's address, such as https://coop.example"),
        ));
    }
    if url.scheme() == "http" && !ctx.instance.federation_debug {
        let host = url.host_str().unwrap_or_default();
        if host != "localhost" && !host.starts_with("127.") {
            return Err(Error::invalid(
                "address",
                "peers are reached over https (http only for local test nodes)",
            ));
        }
    }
    let domain = host_of(url.as_str())
        .ok_or_else(|| Error::invalid("address", format!("{address:?} has no host")))?
        .to_lowercase();
    if domain == ctx.instance.domain {
        return Err(Error::invalid("address", "that is this node"));
    }
    let base = format!("{}://{}", url.scheme(), domain);
    Ok((domain, base))
}

/// Every peer, by domain.
pub async fn list(ctx: &Context) -> Result<Vec<peer::Model>> {
    Ok(peer::Entity::find()
        .order_by_asc(peer::Column::Domain)
        .all(&ctx.db)
        .await?)
}

/// The peer at `domain`, if any.
pub async fn find(ctx: &Context, domain: &str) -> Result<Option<peer::Model>> {
    Ok(peer::Entity::find()
        .filter(peer::Column::Domain.eq(domain.to_lowercase()))
        .one(&ctx.db)
        .await?)
}

/// The peer at `domain`, or 404.
pub async fn get(ctx: &Context, domain: &str) -> Result<peer::Model> {
    find(ctx, domain)
        .await?
        .ok_or_else(|| Error::not_found("peer"))
}

/// Whether activities from `host` are accepted: not blocked, and in allowlist mode approved.
pub async fn federates_with(ctx: &Context, host: &str) -> Result<bool> {
    if domains::blocked_by(ctx, host).await?.is_some() {
        return Ok(false);
    }
    if !ctx.instance.allowlist {
        return Ok(true);
    }
    Ok(find(ctx, host).await?.is_some_and(|p| p.approved))
}

fn blank(domain: &str, base_url: &str) -> peer::ActiveModel {
    let now = Utc::now();
    peer::ActiveModel {
        domain: Set(domain.to_string()),
        base_url: Set(base_url.to_string()),
        actor_id: Set(None),
        inbox: Set(None),
        catalog_url: Set(None),
        outgoing: Set(outgoing::NONE.into()),
        follow_activity_id: Set(None),
        incoming: Set(incoming::NONE.into()),
        incoming_follow_id: Set(None),
        incoming_actor_id: Set(None),
        approved: Set(false),
        cursor: Set(None),
        backfilled: Set(false),
        pages_read: Set(0),
        items_read: Set(0),
        total_items: Set(None),
        synced_at: Set(None),
        last_error: Set(None),
        sync_locked_by: Set(None),
        sync_locked_until: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
}

/// Our admin adds a node: it is approved, and we are about to follow it. Refused for a
/// blocked domain. Adding again is harmless.
pub async fn add(ctx: &Context, domain: &str, base_url: &str) -> Result<peer::Model> {
    if let Some(entry) = domains::blocked_by(ctx, domain).await? {
        return Err(Error::Conflict(format!(
            "{domain} is blocked ({entry}); unblock it first"
        )));
    }
    let txn = db::begin_write(&ctx.db).await?;
    let existing = peer::Entity::find()
        .filter(peer::Column::Domain.eq(domain))
        .one(&txn)
        .await?;
    let row = match existing {
        Some(row) => {
            let mut active: peer::ActiveModel = row.into();
            active.approved = Set(true);
            active.updated_at = Set(Utc::now());
            active.update(&txn).await?
        }
        None => {
            let mut active = blank(domain, base_url);
            active.approved = Set(true);
            active.insert(&txn).await?
        }
    };
    txn.commit().await?;
    Ok(row)
}

/// What we learnt of their instance actor.
pub async fn set_actor(
    ctx: &Context,
    id: i32,
    actor_id: &str,
    inbox: &str,
    catalog_url: Option<&str>,
) -> Result<peer::Model> {
    let row = peer::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("peer"))?;
    let mut active: peer::ActiveModel = row.into();
    active.actor_id = Set(Some(actor_id.to_string()));
    active.inbox = Set(Some(inbox.to_string()));
    active.catalog_url = Set(catalog_url.map(str::to_string));
    active.updated_at = Set(Utc::now());
    Ok(active.update(&ctx.db).await?)
}

/// Our `Follow` went out (or is queued).
pub async fn follow_sent(ctx: &Context, id: i32, follow_id: &str) -> Result<()> {
    peer::Entity::update_many()
        .col_expr(peer::Column::Outgoing, Expr::value(outgoing::PENDING))
        .col_expr(peer::Column::FollowActivityId, Expr::value(follow_id))
        .col_expr(peer::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(peer::Column::Id.eq(id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The peer whose `Follow` (ours) has this id.
pub async fn find_by_follow(ctx: &Context, follow_id: &str) -> Result<Option<peer::Model>> {
    Ok(peer::Entity::find()
        .filter(peer::Column::FollowActivityId.eq(follow_id))
        .one(&ctx.db)
        .await?)
}

/// They answered our `Follow`. Returns the row after the change.
pub async fn follow_answered(ctx: &Context, id: i32, accepted: bool) -> Result<peer::Model> {
    let row = peer::Entity::find_by_id(id)
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("peer"))?;
    let mut active: peer::ActiveModel = row.into();
    active.outgoing = Set(if accepted {
        outgoing::ACCEPTED
    } else {
        outgoing::REJECTED
    }
    .into());
    active.updated_at = Set(Utc::now());
    Ok(active.update(&ctx.db).await?)
}

/// A node's instance actor asked to follow ours. Accepted at once in open mode or when our admin
/// already approved the node; otherwise it waits for `peer approve`. Returns the row and whether
/// to send the `Accept` now.
pub async fn follow_requested(
    ctx: &Context,
    domain: &str,
    base_url: &str,
    actor_id: &str,
    follow_id: &str,
) -> Result<(peer::Model, bool)> {
    let txn = db::begin_write(&ctx.db).await?;
    let existing = peer::Entity::find()
        .filter(peer::Column::Domain.eq(domain))
        .one(&txn)
        .await?;
    let mut active: peer::ActiveModel = match existing {
        Some(row) => row.into(),
        None => blank(domain, base_url),
    };
    let approved = match &active.approved {
        sea_orm::ActiveValue::Set(v) | sea_orm::ActiveValue::Unchanged(v) => *v,
        sea_orm::ActiveValue::NotSet => false,
    };
    let accept = approved || !ctx.instance.allowlist;
    active.incoming = Set(if accept {
        incoming::ACCEPTED
    } else {
        incoming::REQUESTED
    }
    .into());
    active.incoming_follow_id = Set(Some(follow_id.to_string()));
    active.incoming_actor_id = Set(Some(actor_id.to_string()));
    active.updated_at = Set(Utc::now());
    let row = active.save(&txn).await?;
    let id = match row.id {
        sea_orm::ActiveValue::Set(id) | sea_orm::ActiveValue::Unchanged(id) => id,
        sea_orm::ActiveValue::NotSet => return Err(Error::Internal("peer without id".into())),
    };
    let row = peer::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or_else(|| Error::not_found("peer"))?;
    txn.commit().await?;
    Ok((row, accept))
}

/// Our admin approves a node: it federates in allowlist mode, and a pending follow request of
/// theirs is accepted. Returns the row and whether an `Accept` is now due.
pub async fn approve(ctx: &Context, domain: &str) -> Result<(peer::Model, bool)> {
    if let Some(entry) = domains::blocked_by(ctx, domain).await? {
        return Err(Error::Conflict(format!(
            "{domain} is blocked ({entry}); unblock it first"
        )));
    }
    let row = get(ctx, domain).await?;
    let accept = row.incoming == incoming::REQUESTED;
    let mut active: peer::ActiveModel = row.into();
    active.approved = Set(true);
    if accept {
        active.incoming = Set(incoming::ACCEPTED.into());
    }
    active.updated_at = Set(Utc::now());
    Ok((active.update(&ctx.db).await?, accept))
}

/// Their instance actor undid its follow of ours (the one with `follow_id`, if given): our
/// changes stop going to them. Returns whether it was a peer's follow.
pub async fn follow_undone(ctx: &Context, actor_id: &str, follow_id: Option<&str>) -> Result<bool> {
    let mut update = peer::Entity::update_many();
    if let Some(follow_id) = follow_id {
        update = update.filter(peer::Column::IncomingFollowId.eq(follow_id));
    }
    let done = update
        .col_expr(peer::Column::Incoming, Expr::value(incoming::NONE))
        .col_expr(
            peer::Column::IncomingFollowId,
            Expr::value(Option::<String>::None),
        )
        .col_expr(peer::Column::UpdatedAt, Expr::value(Utc::now()))
        .filter(peer::Column::IncomingActorId.eq(actor_id))
        .exec(&ctx.db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Forget a peer and every listing copied from it. Returns the row as it was and how many
/// listings went.
pub async fn remove(ctx: &Context, domain: &str) -> Result<(peer::Model, u64)> {
    let row = get(ctx, domain).await?;
    peer::Entity::delete_by_id(row.id).exec(&ctx.db).await?;
    let purged = catalog::purge_origin(ctx, &row.domain).await?;
    Ok((row, purged))
}

/// Forget every peer a blocklist entry covers (their listings go with `catalog::purge_blocked`).
pub async fn remove_blocked(ctx: &Context, entry: &str) -> Result<u64> {
    let mut removed = 0;
    for row in list(ctx).await? {
        if domains::blocks(entry, &row.domain) {
            peer::Entity::delete_by_id(row.id).exec(&ctx.db).await?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// Where our listing changes go: the inboxes of peers whose follow we accepted.
pub async fn subscriber_inboxes(ctx: &Context) -> Result<Vec<String>> {
    Ok(peer::Entity::find()
        .filter(peer::Column::Incoming.eq(incoming::ACCEPTED))
        .all(&ctx.db)
        .await?
        .into_iter()
        .filter_map(|p| {
            p.inbox
                .or(p.incoming_actor_id.map(|a| format!("{a}/inbox")))
        })
        .collect())
}

/// Set where their activities should be sent (their instance actor's shared inbox or inbox),
/// learnt from a follow request.
pub async fn set_inbox(ctx: &Context, id: i32, actor_id: &str, inbox: &str) -> Result<()> {
    peer::Entity::update_many()
        .col_expr(peer::Column::ActorId, Expr::value(actor_id))
        .col_expr(peer::Column::Inbox, Expr::value(inbox))
        .filter(peer::Column::Id.eq(id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// The peer at `host` whose catalog we copy (our follow accepted), if any.
pub async fn followed(ctx: &Context, host: &str) -> Result<Option<peer::Model>> {
    Ok(find(ctx, host)
        .await?
        .filter(|p| p.outgoing == outgoing::ACCEPTED))
}

/// Peers whose catalog we copy.
pub async fn followed_all(ctx: &Context) -> Result<Vec<peer::Model>> {
    Ok(peer::Entity::find()
        .filter(peer::Column::Outgoing.eq(outgoing::ACCEPTED))
        .order_by_asc(peer::Column::Id)
        .all(&ctx.db)
        .await?)
}

/// Take the right to copy a peer's catalog for `lease`: one copier at a time, across processes
/// and within one (a second claim while the first holds is refused, whoever asks). Returns the
/// row if taken.
pub async fn claim_sync(
    ctx: &Context,
    id: i32,
    worker: &str,
    lease: chrono::Duration,
) -> Result<Option<peer::Model>> {
    let now = db::now(&ctx.db).await?;
    let taken = peer::Entity::update_many()
        .col_expr(peer::Column::SyncLockedBy, Expr::value(worker))
        .col_expr(peer::Column::SyncLockedUntil, Expr::value(now + lease))
        .filter(peer::Column::Id.eq(id))
        .filter(
            sea_orm::Condition::any()
                .add(peer::Column::SyncLockedUntil.is_null())
                .add(peer::Column::SyncLockedUntil.lt(now)),
        )
        .exec(&ctx.db)
        .await?;
    if taken.rows_affected == 0 {
        return Ok(None);
    }
    Ok(peer::Entity::find_by_id(id).one(&ctx.db).await?)
}

/// A page of their catalog was stored: move the cursor on and count it, while our claim holds.
/// Returns false if the claim was lost (another copier took over).
#[allow(clippy::too_many_arguments)]
pub async fn page_read(
    ctx: &Context,
    id: i32,
    worker: &str,
    lease: chrono::Duration,
    cursor: &str,
    items: u64,
    total: Option<u64>,
    finished: bool,
) -> Result<bool> {
    let now = db::now(&ctx.db).await?;
    let mut update = peer::Entity::update_many()
        .col_expr(peer::Column::Cursor, Expr::value(cursor))
        .col_expr(
            peer::Column::PagesRead,
            Expr::col(peer::Column::PagesRead).add(1),
        )
        .col_expr(
            peer::Column::ItemsRead,
            Expr::col(peer::Column::ItemsRead).add(items as i64),
        )
        .col_expr(peer::Column::SyncLockedUntil, Expr::value(now + lease))
        .col_expr(peer::Column::LastError, Expr::value(Option::<String>::None))
        .col_expr(peer::Column::UpdatedAt, Expr::value(now));
    if let Some(total) = total {
        update = update.col_expr(peer::Column::TotalItems, Expr::value(total as i64));
    }
    if finished {
        update = update
            .col_expr(peer::Column::Backfilled, Expr::value(true))
            .col_expr(peer::Column::SyncedAt, Expr::value(now));
    }
    let done = update
        .filter(peer::Column::Id.eq(id))
        .filter(peer::Column::SyncLockedBy.eq(worker))
        .exec(&ctx.db)
        .await?;
    Ok(done.rows_affected > 0)
}

/// Set where copying starts (the collection's first page) and its size.
pub async fn start_at(ctx: &Context, id: i32, cursor: &str, total: Option<u64>) -> Result<()> {
    peer::Entity::update_many()
        .col_expr(peer::Column::Cursor, Expr::value(cursor))
        .col_expr(
            peer::Column::TotalItems,
            Expr::value(total.map(|t| t as i64)),
        )
        .filter(peer::Column::Id.eq(id))
        .exec(&ctx.db)
        .await?;
    Ok(())
}

/// Copying stopped: release the claim, noting the error if any (and, for a run that reached
/// the end, when).
pub async fn sync_ended(
    ctx: &Context,
    id: i32,
    worker: &str,
    error: Option<&str>,
    reached_end: bool,
) -> Result<()> {
    let now = db::now(&ctx.db).await?;
    let mut update = peer::Entity::update_many()
        .col_expr(
            peer::Column::SyncLockedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(
            peer::Column::SyncLockedUntil,
            Expr::value(Option::<chrono::DateTime<Utc>>::None),
        )
        .col_expr(
            peer::Column::LastError,
            Expr::value(error.map(str::to_string)),
        );
    if reached_end {
        update = update.col_expr(peer::Column::SyncedAt, Expr::value(now));
    }
    update
        .filter(peer::Column::Id.eq(id))
        .filter(peer::Column::SyncLockedBy.eq(worker))
        .exec(&ctx.db)
        .await?;
    Ok(())
}
