//! The queue at a glance, for `tianguis deliveries status` and the admin API.

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use crate::{
    Context, Result,
    entities::{delivery, delivery_host},
};

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
    /// Deliveries the receiver refused for good (a 4xx).
    pub refused: u64,
    /// Hosts whose deliveries are failing, worst first.
    pub failing_hosts: Vec<FailingHost>,
    /// Hosts marked unavailable: their deliveries wait until they answer again.
    pub unavailable_hosts: Vec<UnavailableHost>,
}

/// A host marked unavailable.
#[derive(Debug, Clone, serde::Serialize)]
pub struct UnavailableHost {
    /// Host (and port).
    pub host: String,
    /// Separate days it failed on.
    pub failure_days: i32,
    /// Since when.
    pub since: DateTime<Utc>,
    /// When one delivery is next tried, to see whether it is back.
    pub next_probe_at: Option<DateTime<Utc>>,
    /// Deliveries waiting for it.
    pub pending: u64,
}

/// The queue's depth, oldest pending delivery, and failing hosts.
pub async fn status(ctx: &Context) -> Result<QueueStatus> {
    use sea_orm::PaginatorTrait;
    let (pending, oldest_pending) = pending_summary(ctx).await?;
    let failed = delivery::Entity::find()
        .filter(delivery::Column::State.eq(delivery::STATE_FAILED))
        .count(&ctx.db)
        .await?;
    let refused = delivery::Entity::find()
        .filter(delivery::Column::State.eq(delivery::STATE_REFUSED))
        .count(&ctx.db)
        .await?;
    let mut unavailable_hosts = Vec::new();
    for host in delivery_host::Entity::find()
        .filter(delivery_host::Column::UnavailableSince.is_not_null())
        .order_by_asc(delivery_host::Column::Host)
        .all(&ctx.db)
        .await?
    {
        let waiting = delivery::Entity::find()
            .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
            .filter(delivery::Column::Host.eq(host.host.as_str()))
            .count(&ctx.db)
            .await?;
        unavailable_hosts.push(UnavailableHost {
            since: host.unavailable_since.unwrap_or(host.last_failure_at),
            host: host.host,
            failure_days: host.failure_days,
            next_probe_at: host.next_probe_at,
            pending: waiting,
        });
    }
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
        refused,
        failing_hosts: hosts,
        unavailable_hosts,
    })
}
