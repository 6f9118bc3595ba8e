//! One period's figures in one currency, each summed from ledger lines and traced to them.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use rust_decimal::Decimal;

use super::fees::{self, FeeSchedules, Kind, OrderFigures, Priced, Rate};
use crate::{
    entities::{ledger_entry, ledger_line, order},
    service::ledger,
    types::Money,
};

/// Where a figure comes from: which sides of which accounts, in which entries.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Trace {
    /// How the figure is summed, e.g. `credit − debit of revenue:commission`.
    pub rule: String,
    /// The accounts summed (a `*` stands for every account with that prefix).
    pub accounts: Vec<String>,
    /// The kinds of the entries summed.
    pub entry_kinds: Vec<String>,
    /// The ids of the entries that contributed a line.
    pub entry_ids: Vec<i32>,
}

/// An amount in minor units of the report's currency (negative for a loss), with its trace.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Figure {
    /// Minor units.
    pub minor: i64,
    /// As a decimal string (`-12.30`).
    pub amount: String,
    /// Where it comes from.
    pub trace: Trace,
}

/// How a closed period's surplus was shared, read from its closing entries.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Allocation {
    /// The period is closed: its `close` entries credit the reserve and the members.
    Allocated(Box<Shares>),
    /// The period is open: its surplus so far is shared when it closes.
    NotYetAllocated,
}

/// A closed period's surplus as its closing entries shared it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Shares {
    /// Credited to `equity:reserve` (negative: a loss taken from it).
    pub reserve: Figure,
    /// Credited to `liabilities:dividends_payable:*`.
    pub dividends: Figure,
    /// Members credited a dividend.
    pub members_paid: usize,
}

/// One fee of a schedule, over the period's orders.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeeCost {
    /// The fee's name.
    pub name: String,
    /// Its terms in words (`6.5 % of items + shipping`, `0.20 USD per item`).
    pub terms: String,
    /// What it would have taken, minor units.
    pub minor: i64,
    /// As a decimal string.
    pub amount: String,
    /// Where the figure comes from.
    pub source: String,
    /// When that page was read.
    pub checked: NaiveDate,
    /// Anything a reader should know.
    pub note: Option<String>,
}

/// The period's orders under one fee schedule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Comparison {
    /// The schedule's id.
    pub schedule: String,
    /// Its name.
    pub name: String,
    /// Investor-owned or co-op.
    pub kind: Kind,
    /// What kind of platform.
    pub description: String,
    /// The schedule's own note.
    pub note: Option<String>,
    /// The exchange rate used for its fixed fees and caps, if any.
    pub rate: Option<Rate>,
    /// Why it could not be priced (no exchange rate); the figures below are then zero.
    pub unavailable: Option<String>,
    /// Each fee.
    pub fees: Vec<FeeCost>,
    /// All its fees, minor units.
    pub total_minor: i64,
    /// As a decimal string.
    pub total: String,
    /// Its fees as a percentage of sales, two decimals; none without sales.
    pub percent_of_sales: Option<Decimal>,
    /// What sellers would have paid there minus what they paid here (the commission): positive
    /// when this co-op cost them less.
    pub difference_minor: i64,
    /// As a decimal string.
    pub difference: String,
}

/// A period's figures in one currency.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CurrencyReport {
    /// ISO 4217 code.
    pub currency: String,
    /// Completed sales: `sale` entries.
    pub sales: usize,
    /// Items sold: the quantities of the orders those entries book.
    pub items_sold: i64,
    /// Sales, items + shipping: debits of `assets:cash` in `sale` entries.
    pub sales_total: Figure,
    /// The co-op's commission.
    pub commission: Figure,
    /// Commission ÷ sales, in percent, two decimals; none without sales.
    pub take_rate_percent: Option<Decimal>,
    /// What payments cost the co-op.
    pub payment_costs: Figure,
    /// What running the co-op cost.
    pub operating_costs: Figure,
    /// What sellers are owed for their sales.
    pub to_sellers: Figure,
    /// All revenue.
    pub revenue: Figure,
    /// All expenses.
    pub expenses: Figure,
    /// Revenue − expenses (the open period: so far).
    pub surplus: Figure,
    /// How the surplus was shared.
    pub allocation: Allocation,
    /// The orders priced under each fee schedule.
    pub comparison: Vec<Comparison>,
    /// Orders of the `sale` entries that were found and priced.
    pub orders_compared: usize,
}

type Books<'a> = [(&'a ledger_entry::Model, &'a [ledger_line::Model])];

/// A signed minor amount as a decimal string.
pub fn amount(minor: i64, currency: &str) -> String {
    let digits = Money::display_minor(
        minor.unsigned_abs().try_into().unwrap_or(i64::MAX),
        currency,
    );
    if minor < 0 {
        format!("-{digits}")
    } else {
        digits
    }
}

fn percent(part: i64, whole: i64) -> Option<Decimal> {
    (whole != 0)
        .then(|| (Decimal::from(part) * Decimal::ONE_HUNDRED / Decimal::from(whole)).round_dp(2))
}

/// An account pattern: exact, or a prefix when it ends in `*`.
fn matches(pattern: &str, account: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => account.starts_with(prefix),
        None => account == pattern,
    }
}

#[derive(Clone, Copy)]
enum Side {
    Debit,
    Credit,
    /// Debit − credit.
    DebitNet,
    /// Credit − debit.
    CreditNet,
}

/// Sum one side of `accounts` over the entries of `kinds` (all kinds but `close` if empty).
fn sum(books: &Books, currency: &str, accounts: &[&str], kinds: &[&str], side: Side) -> Figure {
    let (mut total, mut ids, mut seen_kinds) = (0_i64, Vec::new(), BTreeSet::new());
    for (entry, lines) in books {
        let wanted = if kinds.is_empty() {
            entry.kind != "close"
        } else {
            kinds.contains(&entry.kind.as_str())
        };
        if !wanted {
            continue;
        }
        let mut touched = false;
        for line in lines
            .iter()
            .filter(|l| accounts.iter().any(|a| matches(a, &l.account)))
        {
            touched = true;
            total += match side {
                Side::Debit => line.debit_minor,
                Side::Credit => line.credit_minor,
                Side::DebitNet => line.debit_minor - line.credit_minor,
                Side::CreditNet => line.credit_minor - line.debit_minor,
            };
        }
        if touched {
            ids.push(entry.id);
            seen_kinds.insert(entry.kind.clone());
        }
    }
    let rule = match side {
        Side::Debit => "debits",
        Side::Credit => "credits",
        Side::DebitNet => "debits − credits",
        Side::CreditNet => "credits − debits",
    };
    let kinds_text = if kinds.is_empty() {
        "every entry of the period but closing entries".to_string()
    } else {
        format!("{} entries", kinds.join(", "))
    };
    Figure {
        minor: total,
        amount: amount(total, currency),
        trace: Trace {
            rule: format!("{rule} of {} in {kinds_text}", accounts.join(", ")),
            accounts: accounts.iter().map(|a| a.to_string()).collect(),
            entry_kinds: seen_kinds.into_iter().collect(),
            entry_ids: ids,
        },
    }
}

/// The figures of one period in `currency`.
pub(super) fn currency_report(
    currency: &str,
    books: &Books,
    orders: &BTreeMap<String, order::Model>,
    closed: bool,
    schedules: &FeeSchedules,
) -> CurrencyReport {
    let sale = &["sale"][..];
    let sales_total = sum(books, currency, &[ledger::CASH], sale, Side::Debit);
    let commission = sum(books, currency, &[ledger::COMMISSION], &[], Side::CreditNet);
    let payment_costs = sum(
        books,
        currency,
        &[ledger::PAYMENT_COSTS],
        &[],
        Side::DebitNet,
    );
    let operating_costs = sum(books, currency, &[ledger::OPERATING], &[], Side::DebitNet);
    let to_sellers = sum(
        books,
        currency,
        &["liabilities:seller_payable:*"],
        sale,
        Side::Credit,
    );
    let revenue = sum(books, currency, &["revenue:*"], &[], Side::CreditNet);
    let expenses = sum(books, currency, &["expenses:*"], &[], Side::DebitNet);
    let mut surplus_trace = revenue.trace.clone();
    surplus_trace.rule = "revenue − expenses: credits − debits of revenue:*, minus debits − credits of expenses:*, in every entry of the period but closing entries".into();
    surplus_trace
        .accounts
        .extend(expenses.trace.accounts.iter().cloned());
    surplus_trace.entry_kinds = surplus_trace
        .entry_kinds
        .iter()
        .chain(&expenses.trace.entry_kinds)
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    surplus_trace.entry_ids = surplus_trace
        .entry_ids
        .iter()
        .chain(&expenses.trace.entry_ids)
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let surplus_minor = revenue.minor - expenses.minor;
    let surplus = Figure {
        minor: surplus_minor,
        amount: amount(surplus_minor, currency),
        trace: surplus_trace,
    };
    let allocation = if closed {
        let close = &["close"][..];
        let reserve = sum(books, currency, &["equity:reserve"], close, Side::CreditNet);
        let dividends = sum(
            books,
            currency,
            &["liabilities:dividends_payable:*"],
            close,
            Side::Credit,
        );
        let members_paid = books
            .iter()
            .filter(|(e, _)| e.kind == "close")
            .flat_map(|(_, lines)| lines.iter())
            .filter(|l| {
                l.credit_minor > 0 && matches("liabilities:dividends_payable:*", &l.account)
            })
            .map(|l| l.account.as_str())
            .collect::<BTreeSet<_>>()
            .len();
        Allocation::Allocated(Box::new(Shares {
            reserve,
            dividends,
            members_paid,
        }))
    } else {
        Allocation::NotYetAllocated
    };

    let mut figures = Vec::new();
    let mut items_sold = 0;
    for (entry, _) in books.iter().filter(|(e, _)| e.kind == "sale") {
        if let Some(o) = entry.order_id.as_ref().and_then(|id| orders.get(id)) {
            items_sold += i64::from(o.quantity);
            figures.push(OrderFigures {
                quantity: i64::from(o.quantity),
                items_minor: o.items_minor,
                total_minor: o.total_minor,
            });
        }
    }
    let comparison = schedules
        .schedules
        .iter()
        .map(|s| {
            compare(
                schedules,
                s,
                currency,
                &figures,
                commission.minor,
                sales_total.minor,
            )
        })
        .collect();
    CurrencyReport {
        currency: currency.to_string(),
        sales: sales_total.trace.entry_ids.len(),
        items_sold,
        take_rate_percent: percent(commission.minor, sales_total.minor),
        sales_total,
        commission,
        payment_costs,
        operating_costs,
        to_sellers,
        revenue,
        expenses,
        surplus,
        allocation,
        comparison,
        orders_compared: figures.len(),
    }
}

fn terms(fee: &fees::Fee, currency: &str) -> String {
    let mut parts = Vec::new();
    if let Some(p) = fee.percent {
        let of = match fee.of {
            fees::Basis::ItemsAndShipping => "items + shipping",
            fees::Basis::Items => "items",
        };
        parts.push(format!("{} % of {of}", p.normalize()));
    }
    if let Some(f) = fee.fixed {
        let per = match fee.per {
            fees::Per::Order => "order",
            fees::Per::Item => "item",
        };
        parts.push(format!("{f} {currency} per {per}"));
    }
    let mut text = parts.join(" + ");
    if let Some(cap) = fee.cap {
        text.push_str(&format!(", at most {cap} {currency} per order"));
    }
    text
}

fn compare(
    file: &FeeSchedules,
    schedule: &fees::Schedule,
    currency: &str,
    orders: &[OrderFigures],
    here: i64,
    sales: i64,
) -> Comparison {
    let priced = Priced::new(file, schedule, currency);
    let totals = priced.as_ref().map(|p| p.totals(orders));
    let fees = schedule
        .fees
        .iter()
        .enumerate()
        .map(|(i, fee)| {
            let minor = totals.as_ref().and_then(|t| t.get(i).copied()).unwrap_or(0);
            FeeCost {
                name: fee.name.clone(),
                terms: terms(fee, &schedule.currency),
                minor,
                amount: amount(minor, currency),
                source: fee.source.clone(),
                checked: fee.checked,
                note: fee.note.clone(),
            }
        })
        .collect::<Vec<_>>();
    let total: i64 = fees.iter().map(|f| f.minor).sum();
    Comparison {
        schedule: schedule.id.clone(),
        name: schedule.name.clone(),
        kind: schedule.kind,
        description: schedule.description.clone(),
        note: schedule.note.clone(),
        rate: priced.as_ref().and_then(|p| p.rate.clone()),
        unavailable: priced.is_none().then(|| {
            format!(
                "no {}→{currency} exchange rate in the fee schedules file",
                schedule.currency
            )
        }),
        fees,
        total_minor: total,
        total: amount(total, currency),
        percent_of_sales: percent(total, sales),
        difference_minor: total - here,
        difference: amount(total - here, currency),
    }
}
