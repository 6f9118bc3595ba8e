//! The transparency report: per fiscal period and currency, what the co-op's sales were, what
//! it took, what that paid for and how the surplus was shared; and what the same orders would
//! have cost under other platforms' fee schedules ([`fees`]).
//!
//! Every figure is summed from the ledger (`ledger_entries`, `ledger_lines`) and carries a
//! [`Trace`]: the accounts, the entry kinds and the entries it was summed from. Nothing is read
//! from the periods service: a period's allocation is read from its `close` entries. Entries
//! belong to the period their `booked_at` falls in (after `starts_at`, up to `ends_at`); a
//! closing entry belongs to the period it names. The open period runs from the end of the last
//! closed one (or the first entry) to now.

mod cache;
pub mod fees;
mod figures;

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    Context, Result,
    entities::{fiscal_period, ledger_entry, ledger_line, order},
};
pub use cache::ReportCache;
pub use figures::{Allocation, Comparison, CurrencyReport, FeeCost, Figure, Shares, Trace, amount};

/// The label of the open period in URLs and JSON.
pub const OPEN: &str = "current";

/// The whole report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// The node's name.
    pub node: String,
    /// When the report was computed (the open period ends here).
    pub generated_at: DateTime<Utc>,
    /// The co-op's commission on each sale, in percent.
    pub commission_percent: Decimal,
    /// Where the fee schedules were read from.
    pub fee_schedules: String,
    /// Periods, newest first: the open one, then the closed ones.
    pub periods: Vec<PeriodReport>,
}

/// One fiscal period.
#[derive(Debug, Clone, serde::Serialize)]
pub struct PeriodReport {
    /// The period's label, or [`OPEN`].
    pub label: String,
    /// True for the period not closed yet.
    pub open: bool,
    /// Entries booked after this instant belong to it (none: since the first entry).
    pub starts_at: Option<DateTime<Utc>>,
    /// ...up to and including this one (the open period: now).
    pub ends_at: DateTime<Utc>,
    /// When it was closed.
    pub closed_at: Option<DateTime<Utc>>,
    /// Per currency, in code order; empty when nothing was booked.
    pub currencies: Vec<CurrencyReport>,
}

impl Report {
    /// The period `label` ([`OPEN`] for the open one).
    pub fn period(&self, label: &str) -> Option<&PeriodReport> {
        self.periods.iter().find(|p| p.label == label)
    }
}

impl PeriodReport {
    /// The figures in `currency`.
    pub fn currency(&self, code: &str) -> Option<&CurrencyReport> {
        self.currencies
            .iter()
            .find(|c| c.currency.eq_ignore_ascii_case(code))
    }
}

/// The entries of one period and currency, with their lines.
#[derive(Default)]
struct Books<'a> {
    entries: Vec<(&'a ledger_entry::Model, &'a [ledger_line::Model])>,
}

/// Compute the report from the ledger, as of now.
pub async fn report(ctx: &Context, schedules: &fees::FeeSchedules) -> Result<Report> {
    let now = crate::db::now(&ctx.db).await?;
    let periods = fiscal_period::Entity::find()
        .order_by_asc(fiscal_period::Column::EndsAt)
        .all(&ctx.db)
        .await?;
    let entries = ledger_entry::Entity::find()
        .order_by_asc(ledger_entry::Column::Id)
        .all(&ctx.db)
        .await?;
    let mut lines: BTreeMap<i32, Vec<ledger_line::Model>> = BTreeMap::new();
    for line in ledger_line::Entity::find()
        .order_by_asc(ledger_line::Column::Id)
        .all(&ctx.db)
        .await?
    {
        lines.entry(line.entry_id).or_default().push(line);
    }
    // The orders the sale entries book, in one query (a subquery, not lists of ids: on
    // PostgreSQL, 20 queries of 500 bound ids took a second for 10,000 sales; BENCHMARKS.md).
    let booked = sea_orm::sea_query::Query::select()
        .column(ledger_entry::Column::OrderId)
        .from(ledger_entry::Entity)
        .and_where(ledger_entry::Column::Kind.eq("sale"))
        .to_owned();
    let orders: BTreeMap<String, order::Model> = order::Entity::find()
        .filter(order::Column::Id.in_subquery(booked))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|o| (o.id.clone(), o))
        .collect();

    // Bucket each entry: index into `periods`, or `periods.len()` for the open period.
    let open_index = periods.len();
    let last_end = periods.last().map(|p| p.ends_at);
    let mut buckets: BTreeMap<(usize, String), Books> = BTreeMap::new();
    for entry in &entries {
        let bucket = match entry.period_id {
            Some(id) if entry.kind == "close" => periods.iter().position(|p| p.id == id),
            _ => periods
                .iter()
                .position(|p| entry.booked_at > p.starts_at && entry.booked_at <= p.ends_at)
                .or_else(|| {
                    last_end
                        .is_none_or(|end| entry.booked_at > end)
                        .then_some(open_index)
                }),
        };
        let Some(bucket) = bucket else {
            continue;
        };
        let entry_lines = lines.get(&entry.id).map_or(&[][..], Vec::as_slice);
        buckets
            .entry((bucket, entry.currency.clone()))
            .or_default()
            .entries
            .push((entry, entry_lines));
    }

    let mut out = Vec::new();
    for index in (0..=open_index).rev() {
        let period = periods.get(index);
        let currencies = buckets
            .iter()
            .filter(|((i, _), _)| *i == index)
            .map(|((_, currency), books)| {
                figures::currency_report(
                    currency,
                    &books.entries,
                    &orders,
                    period.is_some(),
                    schedules,
                )
            })
            .collect();
        out.push(match period {
            Some(p) => PeriodReport {
                label: p.label.clone(),
                open: false,
                starts_at: Some(p.starts_at),
                ends_at: p.ends_at,
                closed_at: Some(p.closed_at),
                currencies,
            },
            None => PeriodReport {
                label: OPEN.into(),
                open: true,
                starts_at: last_end,
                ends_at: now,
                closed_at: None,
                currencies,
            },
        });
    }
    Ok(Report {
        node: ctx.instance.name.clone(),
        generated_at: now,
        commission_percent: Decimal::new(i64::from(ctx.instance.commission_bp), 2),
        fee_schedules: schedules.origin.clone(),
        periods: out,
    })
}

/// The currencies any period has figures in, in code order.
pub fn currencies(report: &Report) -> Vec<String> {
    report
        .periods
        .iter()
        .flat_map(|p| p.currencies.iter().map(|c| c.currency.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}
