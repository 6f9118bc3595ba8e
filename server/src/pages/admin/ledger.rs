//! `/admin/ledger`: the co-op's books. Account balances by currency (what `tianguis ledger
//! balance` prints), the closed fiscal periods with their figures, and the forms to close a
//! period, record an operating cost and pay out what the co-op owes; the ledger as CSV for the
//! browser's session (the API's `ledger.csv` wants a bearer token).

use std::collections::BTreeMap;

use askama::Template;
use axum::{
    Form, Router,
    extract::{State, rejection::FormRejection},
    http::{HeaderMap, header},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};
use market::{
    service::{ledger, periods},
    types::{Currency, Money},
};
use serde::Deserialize;

use super::{Admin, Shown, done};
use crate::{
    pages::{Nav, PageError},
    routes::AppState,
    session::{PageUser, check_csrf, no_store},
};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/ledger", get(page))
        .route("/admin/ledger/close", post(close_period))
        .route("/admin/ledger/cost", post(record_cost))
        .route("/admin/ledger/pay", post(pay_out))
        .route("/admin/ledger.csv", get(ledger_csv))
}

/// One account's line in the balances table.
struct AccountRow {
    account: String,
    debit: String,
    credit: String,
    /// Debit minus credit (negative: a credit balance).
    balance: String,
}

/// The balances of one currency.
struct CurrencyBooks {
    currency: String,
    accounts: Vec<AccountRow>,
    debit: String,
    credit: String,
    balanced: bool,
}

/// A liability still owing something: a suggestion for the Pay out form.
struct Owed {
    account: String,
    amount: String,
    currency: String,
}

/// A period's figures in one currency, as text.
struct PeriodFigures {
    currency: String,
    revenue: String,
    expenses: String,
    surplus: String,
    reserve: String,
    dividends: String,
    /// Each member: username, patronage, dividend.
    members: Vec<(String, i64, String)>,
}

struct PeriodRow {
    p: periods::PeriodView,
    figures: Vec<PeriodFigures>,
}

/// The three forms as they were sent, shown again after a refusal.
#[derive(Default)]
struct Drafts {
    label: String,
    until: String,
    cost_amount: String,
    cost_memo: String,
    pay_account: String,
    pay_amount: String,
    pay_memo: String,
    currency: String,
}

#[derive(Template)]
#[template(path = "admin_ledger.html")]
struct LedgerPage<'a> {
    node_name: &'a str,
    nav: Nav,
    section: &'static str,
    note: Option<String>,
    error: Option<String>,
    csrf: String,
    books: Vec<CurrencyBooks>,
    owed: Vec<Owed>,
    periods: Vec<PeriodRow>,
    /// When the open period started (the last closed one's end).
    open_since: Option<DateTime<Utc>>,
    d: Drafts,
}

async fn page(State(state): State<AppState>, Admin(user): Admin, headers: HeaderMap) -> Response {
    show(
        &state,
        &user,
        Shown::from_headers(&headers),
        Drafts::default(),
    )
    .await
}

fn books_of(
    balances: BTreeMap<(String, String), ledger::Balance>,
) -> (Vec<CurrencyBooks>, Vec<Owed>) {
    let mut books: Vec<CurrencyBooks> = Vec::new();
    let mut totals: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut owed = Vec::new();
    for ((currency, account), b) in balances {
        let money = |minor: i64| Money::display_minor(minor, &currency);
        if account.starts_with("liabilities:") && b.credit > b.debit {
            owed.push(Owed {
                account: account.clone(),
                amount: money(b.credit - b.debit),
                currency: currency.clone(),
            });
        }
        let row = AccountRow {
            debit: money(b.debit),
            credit: money(b.credit),
            balance: money(b.debit - b.credit),
            account,
        };
        let total = totals.entry(currency.clone()).or_default();
        total.0 += b.debit;
        total.1 += b.credit;
        match books.last_mut() {
            Some(last) if last.currency == currency => last.accounts.push(row),
            _ => books.push(CurrencyBooks {
                currency,
                accounts: vec![row],
                debit: String::new(),
                credit: String::new(),
                balanced: true,
            }),
        }
    }
    for b in &mut books {
        let (debit, credit) = totals.get(&b.currency).copied().unwrap_or_default();
        b.debit = Money::display_minor(debit, &b.currency);
        b.credit = Money::display_minor(credit, &b.currency);
        b.balanced = debit == credit;
    }
    (books, owed)
}

fn figures_of(p: &periods::PeriodView) -> Vec<PeriodFigures> {
    p.results
        .iter()
        .map(|r| {
            let m = |minor: i64| Money::display_minor(minor, &r.currency);
            PeriodFigures {
                currency: r.currency.clone(),
                revenue: m(r.revenue_minor),
                expenses: m(r.expenses_minor),
                surplus: m(r.surplus_minor),
                reserve: m(r.reserve_minor),
                dividends: m(r.dividends_minor),
                members: r
                    .dividends
                    .iter()
                    .map(|d| (d.username.clone(), d.patronage, m(d.dividend_minor)))
                    .collect(),
            }
        })
        .collect()
}

async fn show(state: &AppState, user: &PageUser, shown: Shown, mut d: Drafts) -> Response {
    let ctx = &state.ctx;
    let nav = Nav::build(state, Some(user)).await;
    let shown = match shown.check(state, &nav) {
        Ok(shown) => shown,
        Err(page) => return page,
    };
    let loaded = async {
        Ok::<_, market::Error>((ledger::trial_balance(ctx).await?, periods::list(ctx).await?))
    };
    let (balances, closed) = match loaded.await {
        Ok(loaded) => loaded,
        Err(e) => return PageError::new(state, e).nav(nav).into_response(),
    };
    let (books, owed) = books_of(balances);
    let open_since = closed.last().map(|p| p.ends_at);
    let periods = closed
        .into_iter()
        .rev()
        .map(|p| PeriodRow {
            figures: figures_of(&p),
            p,
        })
        .collect();
    if d.currency.is_empty() {
        d.currency = ctx.instance.bylaws.currency.clone();
    }
    shown.answer(
        state,
        &LedgerPage {
            node_name: &ctx.instance.name,
            nav,
            section: "ledger",
            note: shown.note.clone(),
            error: shown.error_text(),
            csrf: user.csrf(),
            books,
            owed,
            periods,
            open_since,
            d,
        },
    )
}

/// The end of a period as typed: RFC 3339, or a date and time in UTC as a browser's
/// `datetime-local` sends it (`2026-12-31T23:59`), or a date (its last second, UTC).
fn parse_until(text: &str) -> Result<Option<DateTime<Utc>>, market::Error> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(Some(t.with_timezone(&Utc)));
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M:%S",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Ok(Some(t.and_utc()));
        }
    }
    NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(23, 59, 59))
        .map(|t| Some(t.and_utc()))
        .ok_or_else(|| {
            market::Error::invalid(
                "until",
                "a date such as 2026-12-31, or a time such as 2026-12-31T23:59:59Z",
            )
        })
}

/// An amount in a currency, as the forms send them; errors name the `amount` field.
fn parse_money(amount: &str, currency: &str) -> Result<Money, market::Error> {
    let currency = Currency::parse(currency)?;
    Money::parse(amount, currency).map_err(|e| match e {
        market::Error::Invalid { reason, .. } => market::Error::invalid("amount", reason),
        other => other,
    })
}

/// The "Close a period" form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CloseForm {
    csrf: String,
    label: String,
    until: String,
}

async fn close_period(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<CloseForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let by = format!("admin:{}", user.user.username);
    let closed = match parse_until(&form.until) {
        Ok(until) => periods::close(&state.ctx, &by, &form.label, until).await,
        Err(e) => Err(e),
    };
    match closed {
        Ok(p) => {
            let surplus: Vec<String> = p
                .results
                .iter()
                .map(|r| Money::display_minor(r.surplus_minor, &r.currency) + " " + &r.currency)
                .collect();
            done(
                &state,
                "/admin/ledger",
                &format!(
                    "Closed period {} (up to {} UTC); surplus {}.",
                    p.label,
                    p.ends_at.format("%Y-%m-%d %H:%M"),
                    if surplus.is_empty() {
                        "none".to_string()
                    } else {
                        surplus.join(", ")
                    }
                ),
            )
        }
        Err(e) => {
            let d = Drafts {
                label: form.label,
                until: form.until,
                ..Default::default()
            };
            show(&state, &user, Shown::refused(e), d).await
        }
    }
}

/// The "Record a cost" form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct CostForm {
    csrf: String,
    amount: String,
    currency: String,
    memo: String,
}

async fn record_cost(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<CostForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let booked = match parse_money(&form.amount, &form.currency) {
        Ok(amount) => ledger::record_cost(&state.ctx, amount, &form.memo)
            .await
            .map(|entry| (entry, amount)),
        Err(e) => Err(e),
    };
    match booked {
        Ok((entry, amount)) => done(
            &state,
            "/admin/ledger",
            &format!(
                "Booked entry {}: a cost of {} {} for {}.",
                entry.id,
                amount.amount_string(),
                entry.currency,
                entry.memo
            ),
        ),
        Err(e) => {
            let d = Drafts {
                cost_amount: form.amount,
                cost_memo: form.memo,
                currency: form.currency,
                ..Default::default()
            };
            show(&state, &user, Shown::refused(e), d).await
        }
    }
}

/// The "Pay out" form.
#[derive(Deserialize, Default)]
#[serde(default)]
struct PayForm {
    csrf: String,
    account: String,
    amount: String,
    currency: String,
    memo: String,
}

async fn pay_out(
    State(state): State<AppState>,
    Admin(user): Admin,
    form: Result<Form<PayForm>, FormRejection>,
) -> Response {
    let form = form.map(|Form(f)| f).unwrap_or_default();
    if let Err(refused) = check_csrf(&user, &form.csrf) {
        return refused;
    }
    let paid = match parse_money(&form.amount, &form.currency) {
        Ok(amount) => ledger::pay_out(&state.ctx, &form.account, amount, &form.memo)
            .await
            .map(|entry| (entry, amount)),
        Err(e) => Err(e),
    };
    match paid {
        Ok((entry, amount)) => done(
            &state,
            "/admin/ledger",
            &format!(
                "Booked entry {}: paid {} {} to {}.",
                entry.id,
                amount.amount_string(),
                entry.currency,
                form.account.trim()
            ),
        ),
        Err(e) => {
            let d = Drafts {
                pay_account: form.account,
                pay_amount: form.amount,
                pay_memo: form.memo,
                currency: form.currency,
                ..Default::default()
            };
            show(&state, &user, Shown::refused(e), d).await
        }
    }
}

/// `GET /admin/ledger.csv`: every ledger line as CSV (what `tianguis ledger export` prints),
/// for the admin's browser session.
async fn ledger_csv(State(state): State<AppState>, Admin(user): Admin) -> Response {
    match ledger::export_csv(&state.ctx).await {
        Ok(csv) => no_store(
            (
                [
                    (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
                    (
                        header::CONTENT_DISPOSITION,
                        "attachment; filename=\"ledger.csv\"",
                    ),
                ],
                csv,
            )
                .into_response(),
        ),
        Err(e) => PageError::new(&state, e)
            .nav(Nav::session(&user))
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::parse_until;

    #[test]
    fn the_end_of_a_period_is_read_as_a_browser_or_a_person_types_it() {
        let at = |s: &str| parse_until(s).unwrap().unwrap().to_rfc3339();
        assert_eq!(at("2026-12-31"), "2026-12-31T23:59:59+00:00");
        assert_eq!(at("2026-12-31T18:30"), "2026-12-31T18:30:00+00:00");
        assert_eq!(at("2026-12-31T18:30:00+02:00"), "2026-12-31T16:30:00+00:00");
        assert!(parse_until("  ").unwrap().is_none());
        assert!(parse_until("yesterday").is_err());
        assert!(parse_until("2026-13-01").is_err());
    }
}
