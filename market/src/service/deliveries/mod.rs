//! The durable delivery queue: an activity is stored once with one row per target inbox; workers
//! claim due rows under a lease, so a crash releases them when the lease runs out, and record
//! each attempt's outcome with exponential backoff.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set, Statement,
    sea_query::{Expr, LockBehavior, LockType, OnConflict},
};

use crate::{
    Context, Error, Result, db,
    entities::{delivery, delivery_host, delivery_worker, outbox_activity},
};

mod hosts;
mod status;
mod workers;

pub use hosts::{give_up_on_dead_hosts, host_is_up, record_host_failure};
use hosts::{host_failed, hosts_answered};
pub use status::{FailingHost, QueueStatus, UnavailableHost, pending_summary, status};
pub use workers::{heartbeat, retire};

/// How long a worker holds a claimed delivery before another may take it: longer than one
/// attempt can take (30 s timeout), so only a dead worker's rows are taken again.
pub const LEASE: Duration = Duration::seconds(120);
/// Attempts before giving up: with the backoff below they span more than two days.
pub const MAX_ATTEMPTS: i32 = 16;
/// Deliveries to one host in flight at once, across every worker and process sharing the queue.
pub const PER_HOST: usize = 4;
/// A host that failed on this many separate UTC days, with no success between, is unavailable.
pub const UNAVAILABLE_AFTER_DAYS: i32 = 3;
/// How often one delivery is tried on an unavailable host, to see whether it is back.
pub const PROBE_INTERVAL: Duration = Duration::hours(6);
/// Deliveries waiting for a host unavailable this long are given up (it keeps its probe).
pub const GIVE_UP_AFTER: Duration = Duration::days(7);
/// How often a running worker says it is alive.
pub const HEARTBEAT: Duration = Duration::seconds(3);
/// A worker silent for this long is dead (killed): its leases are void at once.
pub const DEAD_AFTER: Duration = Duration::seconds(15);

/// Delay before attempt `attempts + 1`: 30 s, doubling, at most 12 h.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 20) - 1;
    let seconds = 30i64.saturating_mul(1i64 << exponent);
    Duration::seconds(seconds.min(12 * 3600))
}

/// The host (and port) deliveries to `inbox` are grouped and capped by.
pub fn host_of(inbox: &str) -> Option<String> {
    let url = url::Url::parse(inbox).ok()?;
    // `example.com.` is `example.com`: a trailing dot must not slip past the blocklist.
    let host = url.host_str()?.trim_end_matches('.');
    Some(match url.port() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_string(),
    })
}

/// Store `body` (the activity, serialised once) and a delivery to each inbox, in one
/// transaction. Storing the same activity id again adds only inboxes it did not have. Returns
/// the ids of the new delivery rows.
pub async fn enqueue(
    ctx: &Context,
    activity_id: &str,
    actor_id: &str,
    body: &str,
    inboxes: &[String],
) -> Result<Vec<i32>> {
    let inboxes: BTreeSet<&String> = inboxes.iter().collect();
    let mut rows = Vec::with_capacity(inboxes.len());
    for inbox in &inboxes {
        let host = host_of(inbox)
            .ok_or_else(|| Error::invalid("inbox", format!("{inbox:?} is not a URL")))?;
        rows.push((inbox.to_string(), host));
    }
    let txn = db::begin_write(&ctx.db).await?;
    let ids = enqueue_rows(&txn, activity_id, actor_id, body, rows).await?;
    txn.commit().await?;
    Ok(ids)
}

/// [`enqueue`] inside a transaction the caller commits: an order's state change and the
/// activity that tells the other party are written together or not at all.
pub async fn enqueue_in(
    txn: &DatabaseTransaction,
    activity_id: &str,
    actor_id: &str,
    body: &str,
    inbox: &str,
) -> Result<Vec<i32>> {
    let host =
        host_of(inbox).ok_or_else(|| Error::invalid("inbox", format!("{inbox:?} is not a URL")))?;
    enqueue_rows(
        txn,
        activity_id,
        actor_id,
        body,
        vec![(inbox.to_string(), host)],
    )
    .await
}

/// [`enqueue_in`] to several inboxes (each once): a proposal and its `Question` for the
/// co-op's followers are written together or not at all.
pub async fn enqueue_many_in(
    txn: &DatabaseTransaction,
    activity_id: &str,
    actor_id: &str,
    body: &str,
    inboxes: &[String],
) -> Result<Vec<i32>> {
    let inboxes: BTreeSet<&String> = inboxes.iter().collect();
    if inboxes.is_empty() {
        return Ok(Vec::new());
    }
    let mut rows = Vec::with_capacity(inboxes.len());
    for inbox in inboxes {
        let host = host_of(inbox)
            .ok_or_else(|| Error::invalid("inbox", format!("{inbox:?} is not a URL")))?;
        rows.push((inbox.to_string(), host));
    }
    enqueue_rows(txn, activity_id, actor_id, body, rows).await
}

async fn enqueue_rows(
    txn: &DatabaseTransaction,
    activity_id: &str,
    actor_id: &str,
    body: &str,
    rows: Vec<(String, String)>,
) -> Result<Vec<i32>> {
    let now = db::now(txn).await?;
    // Two processes may turn the same event into its activity at once: the second waits for the
    // first's row (the unique index) and then adds only the inboxes it lacks.
    outbox_activity::Entity::insert(outbox_activity::ActiveModel {
        activity_id: Set(activity_id.to_string()),
        actor_id: Set(actor_id.to_string()),
        body: Set(body.to_string()),
        created_at: Set(now),
        ..Default::default()
    })
    .on_conflict(
        OnConflict::column(outbox_activity::Column::ActivityId)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let activity = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::ActivityId.eq(activity_id))
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found("the activity just stored"))?;
    let known: BTreeSet<String> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Inbox)
        .filter(delivery::Column::OutboxActivityId.eq(activity.id))
        .into_tuple::<String>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let new_rows: Vec<delivery::ActiveModel> = rows
        .into_iter()
        .filter(|(inbox, _)| !known.contains(inbox))
        .map(|(inbox, host)| delivery::ActiveModel {
            outbox_activity_id: Set(activity.id),
            inbox: Set(inbox),
            host: Set(host),
            state: Set(delivery::STATE_PENDING.into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            locked_by: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        })
        .collect();
    // Many rows per statement, but not too many: on PostgreSQL one 500-row INSERT took 47 ms
    // where five of 100 rows took 5 ms (the cost grows faster than the statement).
    let mut rest = new_rows.into_iter().peekable();
    while rest.peek().is_some() {
        let chunk: Vec<_> = rest.by_ref().take(100).collect();
        delivery::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    let ids = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Id)
        .filter(delivery::Column::OutboxActivityId.eq(activity.id))
        .filter(delivery::Column::Inbox.is_not_in(known))
        .into_tuple::<i32>()
        .all(txn)
        .await?;
    Ok(ids)
}

/// A claimed delivery with its activity.
pub type Claimed = (delivery::Model, outbox_activity::Model);

/// Claims and outcomes are bookkeeping whose loss in a crash costs at most a second send of an
/// activity (at least once, which receivers deduplicate), so on PostgreSQL their commits do not
/// wait for the disk. Queueing an activity (`enqueue`) always does.
async fn bookkeeping(txn: &DatabaseTransaction) -> Result<()> {
    txn.execute_unprepared("SET LOCAL synchronous_commit = off")
        .await?;
    Ok(())
}

/// Key of the PostgreSQL advisory lock that serialises claims across processes, so the per-host
/// cap holds across them ("tianguis" in ASCII).
const CLAIM_LOCK: i64 = 0x7469_616e_6775_6973;

/// Claim up to `limit` due deliveries (all due ones, or only `only` ids), leasing them to this
/// `worker` for [`LEASE`], or until the worker stops beating for [`DEAD_AFTER`] (killed), whichever
/// is first. At most [`PER_HOST`] deliveries per host are leased at once (counting those other
/// workers hold); deliveries to unavailable hosts wait, except one per host every
/// [`PROBE_INTERVAL`]. On PostgreSQL claims take an advisory lock and rows are read
/// `FOR UPDATE SKIP LOCKED`, so several processes never claim the same row; SQLite has one
/// writer at a time anyway.
pub async fn claim_due(
    ctx: &Context,
    worker: &str,
    limit: u64,
    only: Option<&[i32]>,
) -> Result<Vec<Claimed>> {
    let postgres = ctx.db.get_database_backend() == DatabaseBackend::Postgres;
    let txn = db::begin_write(&ctx.db).await?;
    let now = db::now(&txn).await?;
    if postgres {
        bookkeeping(&txn).await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [CLAIM_LOCK.into()],
        ))
        .await?;
    }
    let hosts = delivery_host::Entity::find()
        .filter(delivery_host::Column::UnavailableSince.is_not_null())
        .all(&txn)
        .await?;
    let waiting: Vec<String> = hosts
        .iter()
        .filter(|h| h.next_probe_at.is_some_and(|at| at > now))
        .map(|h| h.host.clone())
        .collect();
    let probing: BTreeSet<String> = hosts
        .into_iter()
        .filter(|h| h.next_probe_at.is_none_or(|at| at <= now))
        .map(|h| h.host)
        .collect();
    // Leases held by workers that stopped beating are void.
    let dead: Vec<String> = delivery_worker::Entity::find()
        .filter(delivery_worker::Column::HeartbeatAt.lt(now - DEAD_AFTER))
        .all(&txn)
        .await?
        .into_iter()
        .map(|w| w.id)
        .collect();
    let mut live_lease = Condition::all().add(delivery::Column::LockedUntil.gt(now));
    let mut free = Condition::any()
        .add(delivery::Column::LockedUntil.is_null())
        .add(delivery::Column::LockedUntil.lt(now));
    if !dead.is_empty() {
        live_lease = live_lease.add(
            Condition::any()
                .add(delivery::Column::LockedBy.is_null())
                .add(delivery::Column::LockedBy.is_not_in(dead.clone())),
        );
        free = free.add(delivery::Column::LockedBy.is_in(dead));
    }
    let mut busy: HashMap<String, usize> = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::Host)
        .column_as(delivery::Column::Id.count(), "n")
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
        .filter(live_lease)
        .group_by(delivery::Column::Host)
        .into_tuple::<(String, i64)>()
        .all(&txn)
        .await?
        .into_iter()
        .map(|(host, n)| (host, usize::try_from(n).unwrap_or(usize::MAX)))
        .collect();
    let mut query = delivery::Entity::find()
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
        .filter(delivery::Column::NextAttemptAt.lte(now))
        .filter(free)
        .order_by_asc(delivery::Column::NextAttemptAt)
        .order_by_asc(delivery::Column::Id)
        // Rows beyond a host's cap are skipped below, so read more than we lease.
        .limit(limit.saturating_mul(4).min(2000));
    // Hosts already at their cap are left out in the query itself, so one host's backlog at the
    // front of the queue cannot hide every other host's rows.
    let full: Vec<String> = busy
        .iter()
        .filter(|(_, n)| **n >= PER_HOST)
        .map(|(host, _)| host.clone())
        .chain(waiting)
        .collect();
    if !full.is_empty() {
        query = query.filter(delivery::Column::Host.is_not_in(full));
    }
    if let Some(ids) = only {
        query = query.filter(delivery::Column::Id.is_in(ids.iter().copied()));
    }
    if postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let mut rows = Vec::new();
    let mut probed = BTreeSet::new();
    for row in query.all(&txn).await? {
        if rows.len() as u64 >= limit {
            break;
        }
        // One delivery tells whether an unavailable host is back.
        if probing.contains(&row.host) && probed.contains(&row.host) {
            continue;
        }
        let in_flight = busy.entry(row.host.clone()).or_default();
        if *in_flight >= PER_HOST {
            continue;
        }
        *in_flight += 1;
        if probing.contains(&row.host) {
            probed.insert(row.host.clone());
        }
        rows.push(row);
    }
    if !probed.is_empty() {
        delivery_host::Entity::update_many()
            .col_expr(
                delivery_host::Column::NextProbeAt,
                Expr::value(now + PROBE_INTERVAL),
            )
            .filter(delivery_host::Column::Host.is_in(probed))
            .exec(&txn)
            .await?;
    }
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    delivery::Entity::update_many()
        .col_expr(delivery::Column::LockedUntil, Expr::value(now + LEASE))
        .col_expr(delivery::Column::LockedBy, Expr::value(worker))
        .filter(delivery::Column::Id.is_in(ids))
        .exec(&txn)
        .await?;
    let activity_ids: BTreeSet<i32> = rows.iter().map(|r| r.outbox_activity_id).collect();
    let activities = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::Id.is_in(activity_ids))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|mut row| {
            let activity = activities
                .iter()
                .find(|a| a.id == row.outbox_activity_id)?
                .clone();
            row.locked_until = Some(now + LEASE);
            row.locked_by = Some(worker.to_string());
            Some((row, activity))
        })
        .collect())
}

/// What one attempt came to, as the delivery engine saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempted {
    /// 2xx.
    Delivered,
    /// Worth trying again: 5xx, 408, 429, a network error or a timeout.
    Retry {
        /// What happened, for the admin view.
        error: String,
        /// The receiver's `Retry-After`: the next attempt is no earlier than that.
        after: Option<std::time::Duration>,
        /// The host did not answer usefully (network error, 5xx, 408), which counts towards
        /// marking it unavailable; a 429 means it is alive.
        host_down: bool,
    },
    /// 401: perhaps the receiver cached an old key of ours. Retried once, then final.
    Unauthorized(String),
    /// Any other 4xx: final.
    Refused(String),
    /// Our side failed before the receiver said anything (no signing key, a database error, an
    /// inbox we must not post to): says nothing about the host. `retry` reschedules it with
    /// backoff; otherwise it is refused for good.
    Local {
        /// What went wrong.
        error: String,
        /// Worth another try.
        retry: bool,
    },
}

/// The row as the worker that claimed it left it: outcomes apply only while the claim holds
/// (a worker presumed dead must not overwrite what the one that took over recorded).
fn still_claimed(row: &delivery::Model) -> Condition {
    Condition::all()
        .add(delivery::Column::Id.eq(row.id))
        .add(delivery::Column::State.eq(delivery::STATE_PENDING))
        .add(held_by(row.locked_by.as_deref()))
}

/// Rows whose lease is held by `worker` (or by nobody).
fn held_by(worker: Option<&str>) -> sea_orm::sea_query::SimpleExpr {
    match worker {
        Some(worker) => delivery::Column::LockedBy.eq(worker),
        None => delivery::Column::LockedBy.is_null(),
    }
}

/// An update that ends the rows' lease, stamped `now`; callers add what changed.
fn released(now: DateTime<Utc>) -> sea_orm::UpdateMany<delivery::Entity> {
    delivery::Entity::update_many()
        .col_expr(
            delivery::Column::LockedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(
            delivery::Column::LockedBy,
            Expr::value(Option::<String>::None),
        )
        .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
}

/// Record the outcomes of claimed deliveries, in one transaction: delivered rows are done and
/// their hosts known to be up; failures are rescheduled with backoff (or `Retry-After`, when
/// that is later) or given up, and failing hosts get closer to being marked unavailable.
/// Outcomes of rows another worker has taken over since are dropped.
pub async fn record(ctx: &Context, outcomes: Vec<(delivery::Model, Attempted)>) -> Result<()> {
    if outcomes.is_empty() {
        return Ok(());
    }
    let txn = db::begin_write(&ctx.db).await?;
    let now = db::now(&txn).await?;
    if ctx.db.get_database_backend() == DatabaseBackend::Postgres {
        bookkeeping(&txn).await?;
    }
    let mut up_hosts = BTreeSet::new();
    let mut down_hosts = BTreeSet::new();
    // Delivered rows are marked in one statement per claiming worker (a fan-out's bulk).
    let mut delivered: HashMap<Option<String>, Vec<i32>> = HashMap::new();
    for (row, outcome) in outcomes {
        let (error, after) = match outcome {
            Attempted::Delivered => {
                up_hosts.insert(row.host.clone());
                delivered
                    .entry(row.locked_by.clone())
                    .or_default()
                    .push(row.id);
                continue;
            }
            Attempted::Refused(error) => {
                up_hosts.insert(row.host.clone());
                finish(&txn, &row, delivery::STATE_REFUSED, Some(error), now).await?;
                continue;
            }
            Attempted::Local {
                error,
                retry: false,
            } => {
                finish(&txn, &row, delivery::STATE_REFUSED, Some(error), now).await?;
                continue;
            }
            Attempted::Local { error, retry: true } => (error, None),
            Attempted::Unauthorized(error) => {
                up_hosts.insert(row.host.clone());
                if row
                    .last_error
                    .as_deref()
                    .is_some_and(|e| e.starts_with("HTTP 401"))
                {
                    finish(&txn, &row, delivery::STATE_REFUSED, Some(error), now).await?;
                    continue;
                }
                (error, None)
            }
            Attempted::Retry {
                error,
                after,
                host_down,
            } => {
                if host_down {
                    down_hosts.insert(row.host.clone());
                } else {
                    up_hosts.insert(row.host.clone());
                }
                (error, after)
            }
        };
        let attempts = row.attempts + 1;
        if attempts >= MAX_ATTEMPTS {
            finish(&txn, &row, delivery::STATE_FAILED, Some(error), now).await?;
            continue;
        }
        let mut delay = backoff(attempts);
        if let Some(after) = after {
            let after = Duration::from_std(after)
                .unwrap_or(Duration::hours(24))
                .min(Duration::hours(24));
            delay = delay.max(after);
        }
        released(now)
            .col_expr(delivery::Column::Attempts, Expr::value(attempts))
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now + delay))
            .col_expr(delivery::Column::LastError, Expr::value(truncate(&error)))
            .filter(still_claimed(&row))
            .exec(&txn)
            .await?;
    }
    for (owner, ids) in delivered {
        released(now)
            .col_expr(delivery::Column::State, Expr::value(delivery::STATE_DONE))
            .filter(delivery::Column::Id.is_in(ids))
            .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
            .filter(held_by(owner.as_deref()))
            .exec(&txn)
            .await?;
    }
    // A host that answered at all in this batch is up, even if another of its inboxes failed.
    let down_hosts: Vec<String> = down_hosts.difference(&up_hosts).cloned().collect();
    let up_hosts: Vec<String> = up_hosts.into_iter().collect();
    hosts_answered(&txn, &up_hosts, now).await?;
    for host in down_hosts {
        host_failed(&txn, &host, now).await?;
    }
    txn.commit().await?;
    Ok(())
}

fn truncate(error: &str) -> String {
    error.chars().take(500).collect()
}

async fn finish(
    txn: &DatabaseTransaction,
    row: &delivery::Model,
    state: &str,
    error: Option<String>,
    now: DateTime<Utc>,
) -> Result<()> {
    let mut update = released(now)
        .col_expr(delivery::Column::State, Expr::value(state))
        .col_expr(delivery::Column::Attempts, Expr::value(row.attempts + 1));
    if let Some(error) = error {
        update = update.col_expr(delivery::Column::LastError, Expr::value(truncate(&error)));
    }
    update.filter(still_claimed(row)).exec(txn).await?;
    Ok(())
}

/// Make every pending delivery (to `host`, or to all hosts) due now, and forget the host's
/// failures: an unavailable host is available again. Returns how many deliveries are now due.
pub async fn retry_now(ctx: &Context, host: Option<&str>) -> Result<u64> {
    let txn = db::begin_write(&ctx.db).await?;
    let now = db::now(&txn).await?;
    let mut forget = delivery_host::Entity::delete_many();
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING));
    if let Some(host) = host {
        update = update.filter(delivery::Column::Host.eq(host));
        forget = forget.filter(delivery_host::Column::Host.eq(host));
    }
    forget.exec(&txn).await?;
    let due = update.exec(&txn).await?.rows_affected;
    txn.commit().await?;
    Ok(due)
}

/// How long finished deliveries (done, refused, given up) are kept, for the admin's questions.
pub const KEEP_FINISHED: Duration = Duration::days(7);

/// Forget deliveries finished before `before`, stored activities with no delivery left that
/// were queued before it, and workers silent since before it. Returns how many deliveries were
/// removed.
pub async fn prune(ctx: &Context, before: DateTime<Utc>) -> Result<u64> {
    let txn = db::begin_write(&ctx.db).await?;
    let removed = delivery::Entity::delete_many()
        .filter(delivery::Column::State.ne(delivery::STATE_PENDING))
        .filter(delivery::Column::UpdatedAt.lt(before))
        .exec(&txn)
        .await?
        .rows_affected;
    let still_used = delivery::Entity::find()
        .select_only()
        .column(delivery::Column::OutboxActivityId)
        .into_query();
    outbox_activity::Entity::delete_many()
        .filter(outbox_activity::Column::CreatedAt.lt(before))
        .filter(outbox_activity::Column::Id.not_in_subquery(still_used))
        .exec(&txn)
        .await?;
    // Workers that stopped beating long ago (killed, never retired).
    delivery_worker::Entity::delete_many()
        .filter(delivery_worker::Column::HeartbeatAt.lt(before))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(removed)
}

/// Deliveries of one activity id, for tests and the admin view.
pub async fn of_activity(ctx: &Context, activity_id: &str) -> Result<Vec<delivery::Model>> {
    let Some(activity) = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::ActivityId.eq(activity_id))
        .one(&ctx.db)
        .await?
    else {
        return Ok(Vec::new());
    };
    Ok(delivery::Entity::find()
        .filter(delivery::Column::OutboxActivityId.eq(activity.id))
        .order_by_asc(delivery::Column::Id)
        .all(&ctx.db)
        .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_spans_two_days() {
        assert_eq!(backoff(1), Duration::seconds(30));
        assert_eq!(backoff(2), Duration::seconds(60));
        assert_eq!(backoff(30), Duration::hours(12));
        let total: i64 = (1..MAX_ATTEMPTS).map(|a| backoff(a).num_seconds()).sum();
        assert!(total > 2 * 24 * 3600, "retries span {total} s");
    }
}
