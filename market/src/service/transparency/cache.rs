//! The report, computed once per change of the books: the public page, its chart and the JSON
//! are asked for far more often than the ledger changes, and computing the report reads the
//! whole ledger (see BENCHMARKS.md, "Transparency report").
//!
//! The cached report is reused while the ledger and the periods look the same: the same number
//! of entries and periods and the same highest ids. Entries and periods are only ever added,
//! so any booking or closing changes the stamp; the count also catches an entry committed late
//! with a lower id than one already seen (two transactions on PostgreSQL). Concurrent requests
//! for a stale report wait for one computation instead of each starting their own. The report's
//! `generated_at` is when it was computed, which may be earlier than the request.

use std::sync::Arc;

use sea_orm::{
    EntityTrait, QuerySelect,
    sea_query::{Expr, ExprTrait},
};
use tokio::sync::Mutex;

use super::{Report, fees::FeeSchedules, report};
use crate::{
    Context, Result,
    entities::{fiscal_period, ledger_entry},
};

/// What the report was computed from: (entries, highest entry id, periods, highest period id).
type Stamp = (u64, Option<i32>, u64, Option<i32>);

/// One node's cached report.
#[derive(Debug, Default)]
pub struct ReportCache {
    slot: Mutex<Option<(Stamp, Arc<Report>)>>,
}

async fn stamp(ctx: &Context) -> Result<Stamp> {
    let (entries, last_entry) =
        count_and_last::<ledger_entry::Entity>(ctx, ledger_entry::Column::Id).await?;
    let (periods, last_period) =
        count_and_last::<fiscal_period::Entity>(ctx, fiscal_period::Column::Id).await?;
    Ok((entries, last_entry, periods, last_period))
}

/// `SELECT COUNT(*), MAX(id)` of a table, in one query.
async fn count_and_last<E: EntityTrait>(
    ctx: &Context,
    id: E::Column,
) -> Result<(u64, Option<i32>)> {
    let row = E::find()
        .select_only()
        .column_as(Expr::col(id).count(), "rows")
        .column_as(Expr::col(id).max(), "last")
        .into_tuple::<(i64, Option<i32>)>()
        .one(&ctx.db)
        .await?;
    let (rows, last) = row.unwrap_or((0, None));
    Ok((u64::try_from(rows).unwrap_or(0), last))
}

impl ReportCache {
    /// The report as of the books now: the cached one if nothing was booked or closed since it
    /// was computed, else a new one (which is kept).
    pub async fn get(&self, ctx: &Context, schedules: &FeeSchedules) -> Result<Arc<Report>> {
        let mut slot = self.slot.lock().await;
        let now = stamp(ctx).await?;
        if let Some((seen, cached)) = slot.as_ref()
            && *seen == now
        {
            return Ok(cached.clone());
        }
        let fresh = Arc::new(report(ctx, schedules).await?);
        // What was booked while the report was computed changes the stamp; the next request
        // then computes again rather than trusting this one.
        let after = stamp(ctx).await?;
        if after == now {
            *slot = Some((now, fresh.clone()));
        } else {
            *slot = None;
        }
        Ok(fresh)
    }
}
