//! The durable delivery queue: an activity is stored once with one row per target inbox; workers
//! claim due rows under a lease, so a crash releases them when the lease runs out, and record
//! each attempt's outcome with exponential backoff.

use std::collections::BTreeSet;

use chrono::{DateTime, Duration, Utc};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect, Set,
    sea_query::{Expr, LockBehavior, LockType},
};

use crate::{
    Context, Error, Result, db,
    entities::{delivery, outbox_activity},
};

/// How long a worker holds a claimed delivery before another may take it.
pub const LEASE: Duration = Duration::seconds(120);
/// Attempts before giving up: with the backoff below they span more than two days.
pub const MAX_ATTEMPTS: i32 = 16;

/// Delay before attempt `attempts + 1`: 30 s, doubling, at most 12 h.
pub fn backoff(attempts: i32) -> Duration {
    let exponent = attempts.clamp(1, 20) - 1;
    let seconds = 30i64.saturating_mul(1i64 << exponent);
    Duration::seconds(seconds.min(12 * 3600))
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
    let txn = db::begin_write(&ctx.db).await?;
    let now = Utc::now();
    let existing = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::ActivityId.eq(activity_id))
        .one(&txn)
        .await?;
    let activity = match existing {
        Some(activity) => activity,
        None => {
            outbox_activity::ActiveModel {
                activity_id: Set(activity_id.to_string()),
                actor_id: Set(actor_id.to_string()),
                body: Set(body.to_string()),
                created_at: Set(now),
                ..Default::default()
            }
            .insert(&txn)
            .await?
        }
    };
    let mut ids = Vec::with_capacity(inboxes.len());
    for inbox in inboxes {
        let host = url::Url::parse(inbox)
            .ok()
            .and_then(|u| {
                u.host_str().map(|h| match u.port() {
                    Some(p) => format!("{h}:{p}"),
                    None => h.to_string(),
                })
            })
            .ok_or_else(|| Error::invalid("inbox", format!("{inbox:?} is not a URL")))?;
        let already = delivery::Entity::find()
            .filter(delivery::Column::OutboxActivityId.eq(activity.id))
            .filter(delivery::Column::Inbox.eq(inbox.as_str()))
            .one(&txn)
            .await?;
        if already.is_some() {
            continue;
        }
        let row = delivery::ActiveModel {
            outbox_activity_id: Set(activity.id),
            inbox: Set(inbox.clone()),
            host: Set(host),
            state: Set(delivery::STATE_PENDING.into()),
            attempts: Set(0),
            next_attempt_at: Set(now),
            locked_until: Set(None),
            last_error: Set(None),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(&txn)
        .await?;
        ids.push(row.id);
    }
    txn.commit().await?;
    Ok(ids)
}

/// A claimed delivery with its activity.
pub type Claimed = (delivery::Model, outbox_activity::Model);

/// Claim up to `limit` due deliveries (all due ones, or only `only` ids), leasing them to this
/// worker. On PostgreSQL the rows are locked with `FOR UPDATE SKIP LOCKED`, so several processes
/// never claim the same row; SQLite has one writer at a time anyway.
pub async fn claim_due(ctx: &Context, limit: u64, only: Option<&[i32]>) -> Result<Vec<Claimed>> {
    let now = Utc::now();
    let txn = db::begin_write(&ctx.db).await?;
    let mut query = delivery::Entity::find()
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
        .filter(delivery::Column::NextAttemptAt.lte(now))
        .filter(
            Condition::any()
                .add(delivery::Column::LockedUntil.is_null())
                .add(delivery::Column::LockedUntil.lt(now)),
        )
        .order_by_asc(delivery::Column::NextAttemptAt)
        .order_by_asc(delivery::Column::Id)
        .limit(limit);
    if let Some(ids) = only {
        query = query.filter(delivery::Column::Id.is_in(ids.iter().copied()));
    }
    if ctx.db.get_database_backend() == DatabaseBackend::Postgres {
        query = query.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let rows = query.all(&txn).await?;
    if rows.is_empty() {
        txn.commit().await?;
        return Ok(Vec::new());
    }
    let ids: Vec<i32> = rows.iter().map(|r| r.id).collect();
    delivery::Entity::update_many()
        .col_expr(delivery::Column::LockedUntil, Expr::value(now + LEASE))
        .filter(delivery::Column::Id.is_in(ids))
        .exec(&txn)
        .await?;
    let activity_ids: Vec<i32> = rows.iter().map(|r| r.outbox_activity_id).collect();
    let activities = outbox_activity::Entity::find()
        .filter(outbox_activity::Column::Id.is_in(activity_ids))
        .all(&txn)
        .await?;
    txn.commit().await?;
    Ok(rows
        .into_iter()
        .filter_map(|row| {
            let activity = activities
                .iter()
                .find(|a| a.id == row.outbox_activity_id)?
                .clone();
            Some((row, activity))
        })
        .collect())
}

/// Record a delivered (or finally refused) delivery.
pub async fn mark_done(ctx: &Context, id: i32) -> Result<()> {
    finish(ctx, id, delivery::STATE_DONE, None, None).await
}

/// Record a failed attempt: retry after the backoff, or give up after [`MAX_ATTEMPTS`].
pub async fn mark_failed_attempt(ctx: &Context, row: &delivery::Model, error: &str) -> Result<()> {
    let attempts = row.attempts + 1;
    let error: String = error.chars().take(500).collect();
    if attempts >= MAX_ATTEMPTS {
        return finish(
            ctx,
            row.id,
            delivery::STATE_FAILED,
            Some(error),
            Some(attempts),
        )
        .await;
    }
    delivery::ActiveModel {
        id: Set(row.id),
        attempts: Set(attempts),
        next_attempt_at: Set(Utc::now() + backoff(attempts)),
        locked_until: Set(None),
        last_error: Set(Some(error)),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .update(&ctx.db)
    .await?;
    Ok(())
}

async fn finish(
    ctx: &Context,
    id: i32,
    state: &str,
    error: Option<String>,
    attempts: Option<i32>,
) -> Result<()> {
    let mut row = delivery::ActiveModel {
        id: Set(id),
        state: Set(state.to_string()),
        locked_until: Set(None),
        updated_at: Set(Utc::now()),
        ..Default::default()
    };
    if let Some(error) = error {
        row.last_error = Set(Some(error));
    }
    if let Some(attempts) = attempts {
        row.attempts = Set(attempts);
    }
    row.update(&ctx.db).await?;
    Ok(())
}

/// Make every pending delivery (to `host`, or to all hosts) due now.
pub async fn retry_now(ctx: &Context, host: Option<&str>) -> Result<u64> {
    let mut update = delivery::Entity::update_many()
        .col_expr(delivery::Column::NextAttemptAt, Expr::value(Utc::now()))
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING));
    if let Some(host) = host {
        update = update.filter(delivery::Column::Host.eq(host));
    }
    Ok(update.exec(&ctx.db).await?.rows_affected)
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

/// The oldest pending delivery's creation time and how many are pending.
pub async fn pending_summary(ctx: &Context) -> Result<(u64, Option<DateTime<Utc>>)> {
    use sea_orm::PaginatorTrait;
    let pending =
        delivery::Entity::find().filter(delivery::Column::State.eq(delivery::STATE_PENDING));
    let count = pending.clone().count(&ctx.db).await?;
    let oldest = pending
        .order_by_asc(delivery::Column::CreatedAt)
        .one(&ctx.db)
        .await?
        .map(|d| d.created_at);
    Ok((count, oldest))
}

/// A host with deliveries that failed at least once and are still being retried.
#[derive(Debug, Clone, serde::Serialize)]
pub struct FailingHost {
    /// Host (and port).
    pub host: String,
    /// Pending deliveries to it.
    pub pending: u64,
    /// The most attempts any of them has had.
    pub attempts: i32,
    /// The latest error.
    pub last_error: Option<String>,
}

/// The queue at a glance, for `tianguis deliveries status` and the admin API.
#[derive(Debug, Clone, serde::Serialize)]
pub struct QueueStatus {
    /// Deliveries waiting (due or not).
    pub pending: u64,
    /// When the oldest of them was queued.
    pub oldest_pending: Option<DateTime<Utc>>,
    /// Deliveries given up after the last retry.
    pub failed: u64,
    /// Hosts whose deliveries are failing, worst first.
    pub failing_hosts: Vec<FailingHost>,
}

/// The queue's depth, oldest pending delivery, and failing hosts.
pub async fn status(ctx: &Context) -> Result<QueueStatus> {
    use sea_orm::PaginatorTrait;
    let (pending, oldest_pending) = pending_summary(ctx).await?;
    let failed = delivery::Entity::find()
        .filter(delivery::Column::State.eq(delivery::STATE_FAILED))
        .count(&ctx.db)
        .await?;
    let retrying = delivery::Entity::find()
        .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
        .filter(delivery::Column::Attempts.gt(0))
        .order_by_asc(delivery::Column::UpdatedAt)
        .limit(10_000)
        .all(&ctx.db)
        .await?;
    let mut hosts: Vec<FailingHost> = Vec::new();
    for row in retrying {
        match hosts.iter_mut().find(|h| h.host == row.host) {
            Some(host) => {
                host.pending += 1;
                host.attempts = host.attempts.max(row.attempts);
                host.last_error = row.last_error.or(host.last_error.take());
            }
            None => hosts.push(FailingHost {
                host: row.host,
                pending: 1,
                attempts: row.attempts,
                last_error: row.last_error,
            }),
        }
    }
    hosts.sort_by(|a, b| b.attempts.cmp(&a.attempts).then(b.pending.cmp(&a.pending)));
    Ok(QueueStatus {
        pending,
        oldest_pending,
        failed,
        failing_hosts: hosts,
    })
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
