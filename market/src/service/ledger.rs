//! The co-op's books: a double-entry ledger in minor units of each currency. Every entry's
//! debits equal its credits, checked before it is written, so the whole ledger balances at all
//! times.
//!
//! What is booked (money paid by buyers is collected for the co-op's shops, per the payment
//! instructions the co-op publishes for them):
//!
//! - **A sale**, once, when one of our shops' orders is completed (total T = items + shipping,
//!   commission C = `[coop] commission_percent` of T, payment cost P =
//!   `[coop] payment_cost_percent` of T):
//!   - debit `assets:cash` T; credit `revenue:commission` C; credit
//!     `liabilities:seller_payable:{shop}` T − C (what the co-op owes the seller);
//!   - and, if P > 0, debit `expenses:payment_costs` P, credit `assets:cash` P (the co-op bears
//!     the payment provider's fee).
//!
//!   Orders cancelled or refunded before completion were never booked, so nothing is reversed.
//! - **An operating cost** an admin records (`tianguis ledger cost`): debit `expenses:operating`,
//!   credit `assets:cash`.
//!
//! Percentages are held as basis points (1/100 of a percent); a share of an amount is rounded
//! half up to the currency's minor unit.

use std::collections::BTreeMap;

use sea_orm::{
    ActiveModelTrait, ColumnTrait, DatabaseTransaction, EntityTrait, QueryFilter, QueryOrder, Set,
};

use crate::{
    Context, Error, Result, db,
    entities::{ledger_entry, ledger_line, order, shop},
    types::{Money, Text},
};

/// The co-op's bank account (money collected for sales, costs paid).
pub const CASH: &str = "assets:cash";
/// The co-op's commission on sales.
pub const COMMISSION: &str = "revenue:commission";
/// What payment providers charged.
pub const PAYMENT_COSTS: &str = "expenses:payment_costs";
/// Costs of running the co-op (hosting, bookkeeping, ...).
pub const OPERATING: &str = "expenses:operating";

/// What the co-op owes the seller `shop` for its sales.
pub fn seller_payable(shop: &str) -> String {
    format!("liabilities:seller_payable:{shop}")
}

/// One line of an entry: exactly one of its sides is above zero.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// The account.
    pub account: String,
    /// Debit, minor units.
    pub debit: i64,
    /// Credit, minor units.
    pub credit: i64,
}

/// A debit line.
pub fn dr(account: impl Into<String>, amount: i64) -> Line {
    Line {
        account: account.into(),
        debit: amount,
        credit: 0,
    }
}

/// A credit line.
pub fn cr(account: impl Into<String>, amount: i64) -> Line {
    Line {
        account: account.into(),
        debit: 0,
        credit: amount,
    }
}

/// `bp` basis points of `amount` (minor units), rounded half up.
pub fn share(amount: i64, bp: u32) -> i64 {
    let scaled = i128::from(amount) * i128::from(bp);
    i64::try_from((scaled + 5_000) / 10_000).unwrap_or(i64::MAX)
}

/// Check an entry: no negative amounts, no line with both sides, debits equal credits. Lines
/// of zero are dropped.
fn balanced(lines: Vec<Line>) -> Result<Vec<Line>> {
    let lines: Vec<Line> = lines
        .into_iter()
        .filter(|l| l.debit != 0 || l.credit != 0)
        .collect();
    if lines
        .iter()
        .any(|l| l.debit < 0 || l.credit < 0 || (l.debit > 0 && l.credit > 0))
    {
        return Err(Error::Internal(format!("malformed ledger lines {lines:?}")));
    }
    let debits: i128 = lines.iter().map(|l| i128::from(l.debit)).sum();
    let credits: i128 = lines.iter().map(|l| i128::from(l.credit)).sum();
    if debits != credits || lines.len() < 2 {
        return Err(Error::Internal(format!(
            "unbalanced ledger entry: debits {debits}, credits {credits}"
        )));
    }
    Ok(lines)
}

/// Serialise ledger writes: on PostgreSQL an advisory lock held until `txn` ends (SQLite's
/// write transactions are already one at a time). Closing a period takes it before reading the
/// period's entries, so no entry can be booked into a period while it is being closed.
pub async fn lock(txn: &DatabaseTransaction) -> Result<()> {
    use sea_orm::ConnectionTrait;
    if txn.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(7372002)")
            .await?;
    }
    Ok(())
}

/// Write one balanced entry inside `txn` (taking the ledger lock).
pub async fn post(
    txn: &DatabaseTransaction,
    kind: &str,
    order_id: Option<&str>,
    currency: &str,
    memo: &str,
    lines: Vec<Line>,
) -> Result<ledger_entry::Model> {
    let lines = balanced(lines)?;
    lock(txn).await?;
    let entry = ledger_entry::ActiveModel {
        kind: Set(kind.into()),
        order_id: Set(order_id.map(str::to_string)),
        currency: Set(currency.into()),
        memo: Set(memo.into()),
        booked_at: Set(db::now(txn).await?),
        period_id: Set(None),
        ..Default::default()
    }
    .insert(txn)
    .await?;
    for line in lines {
        ledger_line::ActiveModel {
            entry_id: Set(entry.id),
            account: Set(line.account),
            debit_minor: Set(line.debit),
            credit_minor: Set(line.credit),
            ..Default::default()
        }
        .insert(txn)
        .await?;
    }
    Ok(entry)
}

/// Book a completed order of one of our shops (inside the transaction that completes it).
pub async fn book_sale(
    txn: &DatabaseTransaction,
    ctx: &Context,
    order: &order::Model,
) -> Result<()> {
    let Some(shop_id) = order.shop_id else {
        return Ok(());
    };
    let shop = shop::Entity::find_by_id(shop_id)
        .one(txn)
        .await?
        .ok_or_else(|| Error::not_found("shop"))?;
    let total = order.total_minor;
    let commission = share(total, ctx.instance.commission_bp);
    let payment = share(total, ctx.instance.payment_cost_bp);
    let memo = format!(
        "{} × {} to {}",
        order.quantity, order.title, order.buyer_name
    );
    post(
        txn,
        "sale",
        Some(&order.id),
        &order.currency,
        &memo,
        vec![
            dr(CASH, total),
            cr(COMMISSION, commission),
            cr(seller_payable(&shop.handle), total - commission),
            dr(PAYMENT_COSTS, payment),
            cr(CASH, payment),
        ],
    )
    .await?;
    Ok(())
}

/// An operating cost paid from the co-op's cash (an admin records it).
pub async fn record_cost(ctx: &Context, amount: Money, memo: &str) -> Result<ledger_entry::Model> {
    let memo = Text::line("memo", memo, 0, 500)?;
    let memo = memo.as_str();
    if memo.is_empty() {
        return Err(Error::invalid(
            "memo",
            "1 to 500 characters: what was paid for",
        ));
    }
    if amount.minor() == 0 {
        return Err(Error::invalid("amount", "must be above zero"));
    }
    let txn = db::begin_write(&ctx.db).await?;
    let entry = post(
        &txn,
        "cost",
        None,
        amount.currency().code(),
        memo,
        vec![dr(OPERATING, amount.minor()), cr(CASH, amount.minor())],
    )
    .await?;
    txn.commit().await?;
    Ok(entry)
}

/// Pay out what the co-op owes from its cash: a seller's share of their sales
/// (`liabilities:seller_payable:{shop}`) or a member's dividends
/// (`liabilities:dividends_payable:{member}`). Debits the liability, credits cash. 422 for an
/// account that is not a liability or an amount of zero; 409 for more than is owed.
pub async fn pay_out(
    ctx: &Context,
    account: &str,
    amount: Money,
    memo: &str,
) -> Result<ledger_entry::Model> {
    let account = account.trim();
    if !account.starts_with("liabilities:") || account.len() > 200 {
        return Err(Error::invalid(
            "account",
            "a liabilities: account, such as liabilities:seller_payable:pottery",
        ));
    }
    if amount.minor() == 0 {
        return Err(Error::invalid("amount", "must be above zero"));
    }
    let memo = memo.trim();
    if memo.chars().count() > 500 {
        return Err(Error::invalid("memo", "at most 500 characters"));
    }
    let currency = amount.currency().code();
    let txn = db::begin_write(&ctx.db).await?;
    lock(&txn).await?;
    let owed = owed_on(&txn, account, currency).await?;
    if amount.minor() > owed {
        return Err(Error::Conflict(format!(
            "{account} is owed {} {currency}; cannot pay out {}",
            Money::display_minor(owed, currency),
            amount.amount_string()
        )));
    }
    let memo = if memo.is_empty() {
        format!("paid out to {account}")
    } else {
        memo.to_string()
    };
    let entry = post(
        &txn,
        "payout",
        None,
        currency,
        &memo,
        vec![dr(account, amount.minor()), cr(CASH, amount.minor())],
    )
    .await?;
    txn.commit().await?;
    Ok(entry)
}

/// Credits minus debits of `account` in `currency`: what a liability still owes.
async fn owed_on(txn: &DatabaseTransaction, account: &str, currency: &str) -> Result<i64> {
    let ids: Vec<i32> = ledger_entry::Entity::find()
        .filter(ledger_entry::Column::Currency.eq(currency))
        .all(txn)
        .await?
        .into_iter()
        .map(|e| e.id)
        .collect();
    let mut ids = ids;
    ids.sort_unstable();
    let mut owed = 0;
    for line in ledger_line::Entity::find()
        .filter(ledger_line::Column::Account.eq(account))
        .all(txn)
        .await?
    {
        if ids.binary_search(&line.entry_id).is_ok() {
            owed += line.credit_minor - line.debit_minor;
        }
    }
    Ok(owed)
}

/// An account's totals in one currency.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Balance {
    /// Sum of debits.
    pub debit: i64,
    /// Sum of credits.
    pub credit: i64,
}

/// Debits and credits of every account, by currency then account.
pub async fn trial_balance(ctx: &Context) -> Result<BTreeMap<(String, String), Balance>> {
    let entries: BTreeMap<i32, String> = ledger_entry::Entity::find()
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|e| (e.id, e.currency))
        .collect();
    let mut balances: BTreeMap<(String, String), Balance> = BTreeMap::new();
    for line in ledger_line::Entity::find().all(&ctx.db).await? {
        let currency = entries
            .get(&line.entry_id)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("ledger line {} has no entry", line.id)))?;
        let balance = balances.entry((currency, line.account)).or_default();
        balance.debit += line.debit_minor;
        balance.credit += line.credit_minor;
    }
    Ok(balances)
}

/// The entries booked for an order (a sale is booked once).
pub async fn entries_for_order(ctx: &Context, order_id: &str) -> Result<Vec<ledger_entry::Model>> {
    Ok(ledger_entry::Entity::find()
        .filter(ledger_entry::Column::OrderId.eq(order_id))
        .all(&ctx.db)
        .await?)
}

fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

/// Every line of every entry as CSV, oldest first:
/// `entry,booked_at,kind,order,currency,account,debit,credit,memo`.
pub async fn export_csv(ctx: &Context) -> Result<String> {
    let entries: BTreeMap<i32, ledger_entry::Model> = ledger_entry::Entity::find()
        .all(&ctx.db)
        .await?
        .into_iter()
        .map(|e| (e.id, e))
        .collect();
    let mut out = String::from("entry,booked_at,kind,order,currency,account,debit,credit,memo\n");
    for line in ledger_line::Entity::find()
        .order_by_asc(ledger_line::Column::EntryId)
        .order_by_asc(ledger_line::Column::Id)
        .all(&ctx.db)
        .await?
    {
        let Some(entry) = entries.get(&line.entry_id) else {
            continue;
        };
        out.push_str(&format!(
            "{},{},{},{},{},{},{},{},{}\n",
            entry.id,
            entry.booked_at.to_rfc3339(),
            entry.kind,
            entry.order_id.as_deref().unwrap_or_default(),
            entry.currency,
            csv_field(&line.account),
            Money::display_minor(line.debit_minor, &entry.currency),
            Money::display_minor(line.credit_minor, &entry.currency),
            csv_field(&entry.memo),
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn shares_round_half_up_and_entries_must_balance() {
        assert_eq!(share(6150, 500), 308, "5 % of 61.50 is 3.075 → 3.08");
        assert_eq!(share(6150, 0), 0);
        assert_eq!(share(1, 5_000), 1, "half a cent rounds up");
        assert_eq!(share(10_000, 10_000), 10_000);
        assert!(balanced(vec![dr(CASH, 100), cr(COMMISSION, 100)]).is_ok());
        assert!(balanced(vec![dr(CASH, 100), cr(COMMISSION, 99)]).is_err());
        assert!(balanced(vec![dr(CASH, -5), cr(COMMISSION, -5)]).is_err());
        assert!(
            balanced(vec![dr(CASH, 0), cr(COMMISSION, 0)]).is_err(),
            "empty"
        );
        let kept = balanced(vec![dr(CASH, 10), cr(COMMISSION, 10), dr(PAYMENT_COSTS, 0)]).unwrap();
        assert_eq!(kept.len(), 2, "zero lines dropped");
    }
}
