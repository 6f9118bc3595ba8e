//! Hosts that keep failing: days of failures, marking one unavailable, and bringing it back.

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, Set,
    sea_query::{Expr, OnConflict},
};

use super::{PROBE_INTERVAL, UNAVAILABLE_AFTER_DAYS};
use crate::{
    Context, Result, db,
    entities::{delivery, delivery_host},
};

/// These hosts answered: forget their failures and, if they were unavailable, make everything
/// waiting for them due now.
pub(super) async fn hosts_answered<C: ConnectionTrait>(
    conn: &C,
    hosts: &[String],
    now: DateTime<Utc>,
) -> Result<()> {
    if hosts.is_empty() {
        return Ok(());
    }
    let known: Vec<delivery_host::Model> = delivery_host::Entity::find()
        .filter(delivery_host::Column::Host.is_in(hosts.iter().cloned()))
        .all(conn)
        .await?;
    if known.is_empty() {
        return Ok(());
    }
    let was_unavailable: Vec<String> = known
        .iter()
        .filter(|h| h.unavailable_since.is_some())
        .map(|h| h.host.clone())
        .collect();
    delivery_host::Entity::delete_many()
        .filter(delivery_host::Column::Host.is_in(known.into_iter().map(|h| h.host)))
        .exec(conn)
        .await?;
    if !was_unavailable.is_empty() {
        delivery::Entity::update_many()
            .col_expr(delivery::Column::NextAttemptAt, Expr::value(now))
            .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
            .filter(delivery::Column::Host.is_in(was_unavailable))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// A failed attempt on `host`: count a new day of failures, and mark the host unavailable once
/// it has failed on [`UNAVAILABLE_AFTER_DAYS`] separate days.
pub(super) async fn host_failed(
    txn: &DatabaseTransaction,
    host: &str,
    now: DateTime<Utc>,
) -> Result<()> {
    // Another process may record the same host at once, or an inbound activity forget it: an
    // insert that tolerates the row existing, then an update that tolerates it being gone.
    delivery_host::Entity::insert(delivery_host::ActiveModel {
        host: Set(host.to_string()),
        failure_days: Set(1),
        last_failure_at: Set(now),
        unavailable_since: Set(None),
        next_probe_at: Set(None),
    })
    .on_conflict(
        OnConflict::column(delivery_host::Column::Host)
            .do_nothing()
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    let Some(known) = delivery_host::Entity::find_by_id(host.to_string())
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    if known.last_failure_at == now {
        // Just inserted.
        return Ok(());
    }
    let new_day = known.last_failure_at.date_naive() != now.date_naive();
    let failure_days = known.failure_days + i32::from(new_day);
    let mut update = delivery_host::Entity::update_many()
        .col_expr(
            delivery_host::Column::FailureDays,
            Expr::value(failure_days),
        )
        .col_expr(delivery_host::Column::LastFailureAt, Expr::value(now));
    if known.unavailable_since.is_none() && failure_days >= UNAVAILABLE_AFTER_DAYS {
        tracing::warn!(host, failure_days, "host marked unavailable");
        update = update
            .col_expr(delivery_host::Column::UnavailableSince, Expr::value(now))
            .col_expr(
                delivery_host::Column::NextProbeAt,
                Expr::value(now + PROBE_INTERVAL),
            );
    }
    update
        .filter(delivery_host::Column::Host.eq(host))
        .exec(txn)
        .await?;
    Ok(())
}

/// Record that `host` failed at `at` (the engine does this itself; exposed so an operator tool
/// or a test can replay a history of failures on earlier days).
pub async fn record_host_failure(ctx: &Context, host: &str, at: DateTime<Utc>) -> Result<()> {
    let txn = db::begin_write(&ctx.db).await?;
    host_failed(&txn, host, at).await?;
    txn.commit().await?;
    Ok(())
}

/// `host` sent us a verified activity: it is up. If it was marked unavailable, its deliveries
/// are due again. Costs one read when the host was not failing. Returns whether it had been
/// failing.
pub async fn host_is_up(ctx: &Context, host: &str) -> Result<bool> {
    let known = delivery_host::Entity::find_by_id(host.to_string())
        .one(&ctx.db)
        .await?;
    if known.is_none() {
        return Ok(false);
    }
    let txn = db::begin_write(&ctx.db).await?;
    let now = db::now(&txn).await?;
    hosts_answered(&txn, &[host.to_string()], now).await?;
    txn.commit().await?;
    Ok(true)
}

/// Give up, for good, the deliveries waiting for hosts that have been unavailable for longer
/// than [`super::GIVE_UP_AFTER`] (Mastodon likewise stops delivering to servers that stay
/// down), and forget failure records that are a month old without the host being marked.
/// Returns how many deliveries were given up.
pub async fn give_up_on_dead_hosts(ctx: &Context) -> Result<u64> {
    let txn = db::begin_write(&ctx.db).await?;
    let now = db::now(&txn).await?;
    let dead: Vec<delivery_host::Model> = delivery_host::Entity::find()
        .filter(delivery_host::Column::UnavailableSince.lt(now - super::GIVE_UP_AFTER))
        .all(&txn)
        .await?;
    let mut given_up = 0;
    for host in dead {
        let since = host.unavailable_since.unwrap_or(host.last_failure_at);
        given_up += delivery::Entity::update_many()
            .col_expr(delivery::Column::State, Expr::value(delivery::STATE_FAILED))
            .col_expr(
                delivery::Column::LastError,
                Expr::value(format!(
                    "gave up: {} unavailable since {}",
                    host.host,
                    since.format("%Y-%m-%d")
                )),
            )
            .col_expr(delivery::Column::UpdatedAt, Expr::value(now))
            .filter(delivery::Column::State.eq(delivery::STATE_PENDING))
            .filter(delivery::Column::Host.eq(host.host.as_str()))
            .exec(&txn)
            .await?
            .rows_affected;
    }
    delivery_host::Entity::delete_many()
        .filter(delivery_host::Column::UnavailableSince.is_null())
        .filter(delivery_host::Column::LastFailureAt.lt(now - chrono::Duration::days(30)))
        .exec(&txn)
        .await?;
    txn.commit().await?;
    Ok(given_up)
}
