//! Fiscal periods: closing one computes the co-op's surplus and shares it out per the bylaws.
//!
//! A period holds the entries booked after its start (the previous period's end, or the
//! beginning of the books) and at or before its end (`until`, at the latest now). Closing it,
//! for each currency with entries in it:
//!
//! - **Surplus** S = revenue − expenses, i.e. the net credit of the `revenue:*` accounts minus
//!   the net debit of the `expenses:*` accounts over the period's entries.
//! - **Patronage dividends**: the pool is `[coop] patronage_percent` of S (when S > 0). Each
//!   member's patronage is their shops' completed sales booked in the period (`sales`: the
//!   orders' totals; `orders`: their number; `[coop] patronage_measure`), counted for those who
//!   are members at closing (a member who left before has been paid out; a shop handed to
//!   another member during the period brings its sales to its owner at closing). Member i gets
//!   pool × pᵢ ÷ Σp, rounded down to the minor unit, and the units left over by rounding go one
//!   each to the largest remainders (ties: by username), so the dividends add up to the pool
//!   exactly. With no patronage at all, the pool stays in the reserve.
//! - **Reserve**: the rest of S (`[coop] reserve_percent`, plus any pool nobody earned). A loss
//!   (S < 0) is taken from the reserve; no dividends.
//! - **The closing entry** (kind `close`, `period_id` set) debits each revenue account and
//!   credits each expense account by its net for the period (so each starts the next period at
//!   zero for that period's activity), credits `equity:reserve` (or debits it for a loss), and
//!   credits `liabilities:dividends_payable:{member}` with each dividend: debits equal credits,
//!   and every figure of the period can be traced to the ledger.
//!
//! Closing is one transaction, serialised with every other ledger write (see
//! [`ledger::post`]), so no entry can land in a period after it is closed.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
    sea_query::Query,
};
use serde::Serialize;

use crate::{
    Context, Error, Result,
    bylaws::PatronageMeasure,
    db,
    entities::{dividend, fiscal_period, ledger_entry, ledger_line, order, shop, user},
    service::ledger,
    types::Money,
};

/// The co-op's indivisible reserve.
pub const RESERVE: &str = "equity:reserve";

/// What the co-op owes a member as patronage dividends.
pub fn dividends_payable(username: &str) -> String {
    format!("liabilities:dividends_payable:{username}")
}

/// One member's share of a period's surplus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dividend {
    /// The member.
    pub username: String,
    /// Their patronage: minor units of sales, or a number of orders.
    pub patronage: i64,
    /// Their dividend, minor units.
    pub dividend_minor: i64,
}

/// Share `pool` (minor units) among members in proportion to their patronage, by largest
/// remainders so the shares add up to `pool` exactly. Members with no patronage get nothing;
/// with no patronage at all, nobody gets anything (the caller keeps the pool).
pub fn allocate(pool: i64, patronage: &BTreeMap<String, i64>) -> Vec<Dividend> {
    let total: i128 = patronage.values().map(|p| i128::from((*p).max(0))).sum();
    if pool <= 0 || total == 0 {
        return Vec::new();
    }
    let mut shares: Vec<(Dividend, i128)> = patronage
        .iter()
        .filter(|(_, p)| **p > 0)
        .map(|(name, p)| {
            let exact = i128::from(pool) * i128::from(*p);
            let floor = exact / total;
            (
                Dividend {
                    username: name.clone(),
                    patronage: *p,
                    dividend_minor: i64::try_from(floor).unwrap_or(i64::MAX),
                },
                exact % total,
            )
        })
        .collect();
    let given: i64 = shares.iter().map(|(d, _)| d.dividend_minor).sum();
    let mut left = pool - given;
    let mut order: Vec<usize> = (0..shares.len()).collect();
    // Largest remainder first; among equals, by username (the map's order, kept by the sort).
    order.sort_by(|a, b| shares[*b].1.cmp(&shares[*a].1));
    for index in order {
        if left == 0 {
            break;
        }
        shares[index].0.dividend_minor += 1;
        left -= 1;
    }
    shares.into_iter().map(|(d, _)| d).collect()
}

/// A period's figures in one currency, from its entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CurrencyResult {
    /// ISO 4217 code.
    pub currency: String,
    /// Net credit of `revenue:*` over the period.
    pub revenue_minor: i64,
    /// Net debit of `expenses:*` over the period.
    pub expenses_minor: i64,
    /// revenue − expenses.
    pub surplus_minor: i64,
    /// What went to (or, for a loss, came from) `equity:reserve`.
    pub reserve_minor: i64,
    /// The sum of the dividends.
    pub dividends_minor: i64,
    /// Each member's dividend.
    pub dividends: Vec<Dividend>,
    /// The closing entry's id.
    pub closing_entry: Option<i32>,
}

/// A closed period.
#[derive(Debug, Clone, Serialize)]
pub struct PeriodView {
    /// Its label (`2026`, `2026-Q4`, ...).
    pub label: String,
    /// Entries booked after this instant...
    pub starts_at: chrono::DateTime<chrono::Utc>,
    /// ...and at or before this one.
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// When it was closed, and by whom.
    pub closed_at: chrono::DateTime<chrono::Utc>,
    /// The admin (or `operator`).
    pub closed_by: String,
    /// The allocation applied, in percent.
    pub reserve_percent: f64,
    /// The allocation applied, in percent.
    pub patronage_percent: f64,
    /// `sales` or `orders`.
    pub patronage_measure: String,
    /// Per currency.
    pub results: Vec<CurrencyResult>,
}

fn money(minor: i64, currency: &str) -> String {
    Money::display_minor(minor, currency)
}

/// Check a period label: 1 to 40 letters, digits, `-`, `_` or `.`.
fn parse_label(label: &str) -> Result<String> {
    let label = label.trim();
    if label.is_empty()
        || label.chars().count() > 40
        || !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::invalid(
            "label",
            "1 to 40 letters, digits, '-', '_' or '.', such as 2026-Q4",
        ));
    }
    Ok(label.to_string())
}

/// The entries of a period (not closing entries) with their lines.
async fn entries_between(
    txn: &DatabaseTransaction,
    after: chrono::DateTime<chrono::Utc>,
    until: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(ledger_entry::Model, Vec<ledger_line::Model>)>> {
    let entries = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::BookedAt.gt(after))
        .filter(ledger_entry::Column::BookedAt.lte(until))
        .filter(ledger_entry::Column::PeriodId.is_null())
        .order_by_asc(ledger_entry::Column::Id)
        .all(txn)
        .await?;
    let ids: Vec<i32> = entries.iter().map(|e| e.id).collect();
    let mut lines: BTreeMap<i32, Vec<ledger_line::Model>> = BTreeMap::new();
    for chunk in ids.chunks(500) {
        for line in ledger_line::Entity::find()
            .filter(ledger_line::Column::EntryId.is_in(chunk.to_vec()))
            .all(txn)
            .await?
        {
            lines.entry(line.entry_id).or_default().push(line);
        }
    }
    Ok(entries
        .into_iter()
        .map(|e| {
            let l = lines.remove(&e.id).unwrap_or_default();
            (e, l)
        })
        .collect())
}

/// Close the period ending at `until` (default now) under `label`. 422 for a bad label, an end
/// in the future or not after the previous period's; 409 if the label is taken.
pub async fn close(
    ctx: &Context,
    closed_by: &str,
    label: &str,
    until: Option<chrono::DateTime<chrono::Utc>>,
) -> Result<PeriodView> {
    let label = parse_label(label)?;
    let txn = db::begin_write(&ctx.db).await?;
    ledger::lock(&txn).await?;
    let now = db::now(&txn).await?;
    let ends_at = until.unwrap_or(now);
    if ends_at > now {
        return Err(Error::invalid("until", "a period cannot end in the future"));
    }
    if fiscal_period::Entity::find()
        .filter(fiscal_period::Column::Label.eq(&label))
        .one(&txn)
        .await?
        .is_some()
    {
        return Err(Error::Conflict(format!(
            "a period is already labelled {label}"
        )));
    }
    let previous = fiscal_period::Entity::find()
        .order_by_desc(fiscal_period::Column::EndsAt)
        .one(&txn)
        .await?;
    // The first period starts just before the first entry of the books.
    let starts_at = match &previous {
        Some(p) => p.ends_at,
        None => ledger_entry::Entity::find()
            .order_by_asc(ledger_entry::Column::BookedAt)
            .one(&txn)
            .await?
            .map(|e| e.booked_at - chrono::Duration::seconds(1))
            .filter(|first| *first < ends_at)
            .unwrap_or(ends_at - chrono::Duration::seconds(1)),
    };
    if ends_at <= starts_at {
        return Err(Error::invalid(
            "until",
            format!("must be after the end of the last closed period ({starts_at})"),
        ));
    }
    let bylaws = ctx.instance.bylaws.clone();
    let period = fiscal_period::ActiveModel {
        label: Set(label.clone()),
        starts_at: Set(starts_at),
        ends_at: Set(ends_at),
        closed_at: Set(now),
        closed_by: Set(closed_by.to_string()),
        reserve_bp: Set(i32::try_from(bylaws.reserve_bp).unwrap_or(0)),
        patronage_bp: Set(i32::try_from(bylaws.patronage_bp).unwrap_or(0)),
        patronage_measure: Set(bylaws.patronage_measure.as_str().to_string()),
        ..Default::default()
    }
    .insert(&txn)
    .await?;

    let entries = entries_between(&txn, starts_at, ends_at).await?;
    // Net revenue and expenses per currency and account.
    let mut revenue: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut expenses: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let mut sale_orders: Vec<String> = Vec::new();
    for (entry, lines) in &entries {
        if entry.kind == "sale"
            && let Some(id) = &entry.order_id
        {
            sale_orders.push(id.clone());
        }
        for line in lines {
            if line.account.starts_with("revenue:") {
                *revenue
                    .entry(entry.currency.clone())
                    .or_default()
                    .entry(line.account.clone())
                    .or_default() += line.credit_minor - line.debit_minor;
            } else if line.account.starts_with("expenses:") {
                *expenses
                    .entry(entry.currency.clone())
                    .or_default()
                    .entry(line.account.clone())
                    .or_default() += line.debit_minor - line.credit_minor;
            }
        }
    }
    let patronage = patronage_of(&txn, &sale_orders, bylaws.patronage_measure).await?;

    let mut currencies: Vec<String> = revenue.keys().chain(expenses.keys()).cloned().collect();
    currencies.sort();
    currencies.dedup();
    let mut results = Vec::new();
    for currency in currencies {
        let rev = revenue.remove(&currency).unwrap_or_default();
        let exp = expenses.remove(&currency).unwrap_or_default();
        let revenue_minor: i64 = rev.values().sum();
        let expenses_minor: i64 = exp.values().sum();
        let surplus = revenue_minor - expenses_minor;
        let pool = if surplus > 0 {
            ledger::share(surplus, bylaws.patronage_bp)
        } else {
            0
        };
        let dividends = allocate(pool, patronage.get(&currency).unwrap_or(&BTreeMap::new()));
        let dividends_minor: i64 = dividends.iter().map(|d| d.dividend_minor).sum();
        let reserve = surplus - dividends_minor;
        let mut lines = Vec::new();
        for (account, net) in &rev {
            lines.push(if *net >= 0 {
                ledger::dr(account.clone(), *net)
            } else {
                ledger::cr(account.clone(), -net)
            });
        }
        for (account, net) in &exp {
            lines.push(if *net >= 0 {
                ledger::cr(account.clone(), *net)
            } else {
                ledger::dr(account.clone(), -net)
            });
        }
        lines.push(if reserve >= 0 {
            ledger::cr(RESERVE, reserve)
        } else {
            ledger::dr(RESERVE, -reserve)
        });
        for d in &dividends {
            lines.push(ledger::cr(dividends_payable(&d.username), d.dividend_minor));
        }
        let closing_entry = if lines.iter().any(|l| l.debit != 0 || l.credit != 0) {
            let entry = ledger::post(
                &txn,
                "close",
                None,
                &currency,
                &format!(
                    "close {label}: surplus {} (reserve {}, dividends {})",
                    money(surplus, &currency),
                    money(reserve, &currency),
                    money(dividends_minor, &currency)
                ),
                lines,
            )
            .await?;
            let mut row: ledger_entry::ActiveModel = entry.into();
            row.period_id = Set(Some(period.id));
            Some(row.update(&txn).await?.id)
        } else {
            None
        };
        for d in &dividends {
            let member = user::Entity::find()
                .filter(user::Column::Username.eq(&d.username))
                .one(&txn)
                .await?
                .ok_or_else(|| Error::Internal(format!("member {} vanished", d.username)))?;
            dividend::ActiveModel {
                period_id: Set(period.id),
                user_id: Set(member.id),
                username: Set(d.username.clone()),
                currency: Set(currency.clone()),
                patronage: Set(d.patronage),
                dividend_minor: Set(d.dividend_minor),
                ..Default::default()
            }
            .insert(&txn)
            .await?;
        }
        results.push(CurrencyResult {
            currency,
            revenue_minor,
            expenses_minor,
            surplus_minor: surplus,
            reserve_minor: reserve,
            dividends_minor,
            dividends,
            closing_entry,
        });
    }
    let summary: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{}: surplus {}, reserve {}, dividends {} to {} member(s)",
                r.currency,
                money(r.surplus_minor, &r.currency),
                money(r.reserve_minor, &r.currency),
                money(r.dividends_minor, &r.currency),
                r.dividends.len()
            )
        })
        .collect();
    crate::service::governance::log(
        &txn,
        closed_by,
        "period_closed",
        None,
        &format!(
            "period {label} closed; {}",
            if summary.is_empty() {
                "nothing was booked in it".to_string()
            } else {
                summary.join("; ")
            }
        ),
    )
    .await?;
    txn.commit().await?;
    Ok(period_view(&period, results))
}

/// Patronage per currency and member: their shops' completed sales among `order_ids` (each a
/// booked sale), for accounts that are members now.
async fn patronage_of(
    txn: &DatabaseTransaction,
    order_ids: &[String],
    measure: PatronageMeasure,
) -> Result<BTreeMap<String, BTreeMap<String, i64>>> {
    let mut orders = Vec::new();
    for chunk in order_ids.chunks(500) {
        orders.extend(
            order::Entity::find()
                .filter(order::Column::Id.is_in(chunk.to_vec()))
                .all(txn)
                .await?,
        );
    }
    let owners: BTreeMap<i32, user::Model> = {
        let shops = shop::Entity::find().all(txn).await?;
        let users: BTreeMap<i32, user::Model> = user::Entity::find()
            .all(txn)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect();
        shops
            .into_iter()
            .filter_map(|s| users.get(&s.owner_id).map(|u| (s.id, u.clone())))
            .collect()
    };
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    for o in orders {
        let Some(owner) = o.shop_id.and_then(|id| owners.get(&id)) else {
            continue;
        };
        if !owner.is_member() {
            continue;
        }
        let amount = match measure {
            PatronageMeasure::Sales => o.total_minor,
            PatronageMeasure::Orders => 1,
        };
        *out.entry(o.currency.clone())
            .or_default()
            .entry(owner.username.clone())
            .or_default() += amount;
    }
    Ok(out)
}

fn period_view(period: &fiscal_period::Model, results: Vec<CurrencyResult>) -> PeriodView {
    PeriodView {
        label: period.label.clone(),
        starts_at: period.starts_at,
        ends_at: period.ends_at,
        closed_at: period.closed_at,
        closed_by: period.closed_by.clone(),
        reserve_percent: f64::from(period.reserve_bp) / 100.0,
        patronage_percent: f64::from(period.patronage_bp) / 100.0,
        patronage_measure: period.patronage_measure.clone(),
        results,
    }
}

/// A closed period's figures, read back from its closing entries and dividends.
async fn load(ctx: &Context, period: &fiscal_period::Model) -> Result<PeriodView> {
    let closing = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::PeriodId.eq(period.id))
        .order_by_asc(ledger_entry::Column::Currency)
        .all(&ctx.db)
        .await?;
    let dividends = dividend::Entity::find()
        .filter(dividend::Column::PeriodId.eq(period.id))
        .order_by_asc(dividend::Column::Username)
        .all(&ctx.db)
        .await?;
    let mut results = Vec::new();
    for entry in closing {
        let lines = ledger_line::Entity::find()
            .filter(ledger_line::Column::EntryId.eq(entry.id))
            .all(&ctx.db)
            .await?;
        let mut r = CurrencyResult {
            currency: entry.currency.clone(),
            closing_entry: Some(entry.id),
            ..Default::default()
        };
        for line in &lines {
            if line.account.starts_with("revenue:") {
                r.revenue_minor += line.debit_minor - line.credit_minor;
            } else if line.account.starts_with("expenses:") {
                r.expenses_minor += line.credit_minor - line.debit_minor;
            } else if line.account == RESERVE {
                r.reserve_minor += line.credit_minor - line.debit_minor;
            } else if line.account.starts_with("liabilities:dividends_payable:") {
                r.dividends_minor += line.credit_minor;
            }
        }
        r.surplus_minor = r.revenue_minor - r.expenses_minor;
        r.dividends = dividends
            .iter()
            .filter(|d| d.currency == entry.currency)
            .map(|d| Dividend {
                username: d.username.clone(),
                patronage: d.patronage,
                dividend_minor: d.dividend_minor,
            })
            .collect();
        results.push(r);
    }
    Ok(period_view(period, results))
}

/// Every closed period, oldest first.
pub async fn list(ctx: &Context) -> Result<Vec<PeriodView>> {
    let mut out = Vec::new();
    for period in fiscal_period::Entity::find()
        .order_by_asc(fiscal_period::Column::EndsAt)
        .all(&ctx.db)
        .await?
    {
        out.push(load(ctx, &period).await?);
    }
    Ok(out)
}

/// One closed period by label, or 404.
pub async fn get(ctx: &Context, label: &str) -> Result<PeriodView> {
    let period = fiscal_period::Entity::find()
        .filter(fiscal_period::Column::Label.eq(label.trim()))
        .one(&ctx.db)
        .await?
        .ok_or_else(|| Error::not_found("period"))?;
    load(ctx, &period).await
}

/// A member's statement for a period, in one currency.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatementLine {
    /// ISO 4217 code.
    pub currency: String,
    /// Completed sales of their shops booked in the period.
    pub orders: u64,
    /// Their total, e.g. `61.50`.
    pub sales: String,
    /// The co-op's commission on them.
    pub commission: String,
    /// What the co-op owes them for them (sales − commission).
    pub seller_payable: String,
    /// Their patronage as measured (minor units of sales, or orders).
    pub patronage: i64,
    /// All members' patronage.
    pub total_patronage: i64,
    /// Their dividend, e.g. `4.90`.
    pub dividend: String,
    /// The period's dividend pool and surplus, for context.
    pub dividends_total: String,
    /// The period's surplus.
    pub surplus: String,
}

/// A member's statement for a closed period.
#[derive(Debug, Clone, Serialize)]
pub struct Statement {
    /// The member.
    pub username: String,
    /// The period.
    pub period: String,
    /// Its bounds.
    pub starts_at: chrono::DateTime<chrono::Utc>,
    /// Its bounds.
    pub ends_at: chrono::DateTime<chrono::Utc>,
    /// `sales` or `orders`.
    pub patronage_measure: String,
    /// Per currency with sales or dividends.
    pub lines: Vec<StatementLine>,
}

/// `username`'s statement for the closed period `label`: their sales, the commission on them,
/// their patronage against everyone's, and their dividend. 404 for an unknown period or user.
pub async fn statement(ctx: &Context, label: &str, username: &str) -> Result<Statement> {
    let view = get(ctx, label).await?;
    let member = super::accounts::find_user(ctx, username)
        .await?
        .ok_or_else(|| Error::not_found("member"))?;
    let shop_ids: Vec<i32> = shop::Entity::find()
        .filter(shop::Column::OwnerId.eq(member.id))
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|s| s.id)
        .collect();
    // Their sales booked in the period (the entries of their shops' orders), then the lines of
    // those entries: two queries, however many sales the period has.
    let sales = if shop_ids.is_empty() {
        Vec::new()
    } else {
        let their_orders = Query::select()
            .column(order::Column::Id)
            .from(order::Entity)
            .and_where(order::Column::ShopId.is_in(shop_ids))
            .to_owned();
        ledger_entry::Entity::find()
            .filter(ledger_entry::Column::Kind.eq("sale"))
            .filter(ledger_entry::Column::BookedAt.gt(view.starts_at))
            .filter(ledger_entry::Column::BookedAt.lte(view.ends_at))
            .filter(ledger_entry::Column::OrderId.in_subquery(their_orders))
            .all(&ctx.db)
            .await?
    };
    let mut lines_of: BTreeMap<i32, Vec<ledger_line::Model>> = BTreeMap::new();
    for ids in sales.chunks(500) {
        for line in ledger_line::Entity::find()
            .filter(ledger_line::Column::EntryId.is_in(ids.iter().map(|e| e.id)))
            .all(&ctx.db)
            .await?
        {
            lines_of.entry(line.entry_id).or_default().push(line);
        }
    }
    let mut per: BTreeMap<String, StatementLine> = BTreeMap::new();
    let mut sums: BTreeMap<String, (i64, i64, i64)> = BTreeMap::new();
    for entry in sales {
        let sum = sums.entry(entry.currency.clone()).or_default();
        for line in lines_of.remove(&entry.id).unwrap_or_default() {
            if line.account == ledger::CASH {
                sum.0 += line.debit_minor;
            } else if line.account == ledger::COMMISSION {
                sum.1 += line.credit_minor;
            } else if line.account.starts_with("liabilities:seller_payable:") {
                sum.2 += line.credit_minor;
            }
        }
        per.entry(entry.currency.clone())
            .or_insert_with(|| StatementLine {
                currency: entry.currency.clone(),
                ..Default::default()
            })
            .orders += 1;
    }
    for r in &view.results {
        per.entry(r.currency.clone())
            .or_insert_with(|| StatementLine {
                currency: r.currency.clone(),
                ..Default::default()
            });
    }
    let mut lines = Vec::new();
    for (currency, mut line) in per {
        let (sales, commission, payable) = sums.get(&currency).copied().unwrap_or_default();
        line.sales = money(sales, &currency);
        line.commission = money(commission, &currency);
        line.seller_payable = money(payable, &currency);
        let result = view.results.iter().find(|r| r.currency == currency);
        let mine = result.and_then(|r| r.dividends.iter().find(|d| d.username == member.username));
        line.patronage = mine.map(|d| d.patronage).unwrap_or_default();
        line.total_patronage = result
            .map(|r| r.dividends.iter().map(|d| d.patronage).sum())
            .unwrap_or_default();
        line.dividend = money(
            mine.map(|d| d.dividend_minor).unwrap_or_default(),
            &currency,
        );
        line.dividends_total = money(
            result.map(|r| r.dividends_minor).unwrap_or_default(),
            &currency,
        );
        line.surplus = money(
            result.map(|r| r.surplus_minor).unwrap_or_default(),
            &currency,
        );
        lines.push(line);
    }
    Ok(Statement {
        username: member.username,
        period: view.label,
        starts_at: view.starts_at,
        ends_at: view.ends_at,
        patronage_measure: view.patronage_measure,
        lines,
    })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn patrons(list: &[(&str, i64)]) -> BTreeMap<String, i64> {
        list.iter().map(|(n, p)| (n.to_string(), *p)).collect()
    }

    #[test]
    fn dividends_are_proportional_and_add_up_to_the_pool() {
        // Worked by hand: surplus 100.00, 70 % to patronage = 70.00; sales 600 / 300 / 100
        // (of 1000) give 42.00, 21.00 and 7.00.
        let d = allocate(7_000, &patrons(&[("ana", 600), ("bea", 300), ("cai", 100)]));
        let got: Vec<(&str, i64)> = d
            .iter()
            .map(|d| (d.username.as_str(), d.dividend_minor))
            .collect();
        assert_eq!(got, vec![("ana", 4_200), ("bea", 2_100), ("cai", 700)]);

        // 10.00 among three equal patrons: 3.33 each and one cent left over, which goes to the
        // first by username (equal remainders).
        let d = allocate(1_000, &patrons(&[("ana", 5), ("bea", 5), ("cai", 5)]));
        let got: Vec<i64> = d.iter().map(|d| d.dividend_minor).collect();
        assert_eq!(got, vec![334, 333, 333]);

        // 1.00 split 2:1 is 66.67 / 33.33 cents → 67 and 33 (the larger remainder gets it).
        let d = allocate(100, &patrons(&[("ana", 2), ("bea", 1)]));
        let got: Vec<i64> = d.iter().map(|d| d.dividend_minor).collect();
        assert_eq!(got, vec![67, 33]);

        // No patronage, or nothing to share: no dividends.
        assert!(allocate(1_000, &patrons(&[("ana", 0)])).is_empty());
        assert!(allocate(0, &patrons(&[("ana", 5)])).is_empty());
        // Members without patronage get no line.
        assert_eq!(allocate(500, &patrons(&[("ana", 0), ("bea", 9)])).len(), 1);
    }

    #[test]
    fn labels_are_short_and_plain() {
        assert_eq!(parse_label(" 2026-Q4 ").unwrap(), "2026-Q4");
        assert!(parse_label("").is_err());
        assert!(parse_label("2026 Q4").is_err());
        assert!(parse_label(&"x".repeat(41)).is_err());
        // A loss is shown with its sign and decimals.
        assert_eq!(money(-100, "EUR"), "-1.00");
        assert_eq!(money(-5, "JPY"), "-5");
    }
}
