//! `/transparency`: the co-op's public report (totals, take rate, surplus and its allocation per
//! period, the comparison with other platforms' fees, and the chart), and
//! `/transparency/chart.svg`. The same report as JSON is `GET /api/v1/transparency`.

use std::collections::HashMap;

use askama::Template;
use axum::{
    Router,
    extract::{Query, State},
    http::header,
    response::{IntoResponse, Response},
    routing::get,
};
use market::service::transparency::{
    self, Allocation, Comparison, CurrencyReport, Figure, OPEN, PeriodReport, fees::Kind,
};

use super::{Nav, PageError, render};
use crate::{routes::AppState, session::MaybeUser};

pub mod chart;

/// The report's routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/transparency", get(page))
        .route("/transparency/chart.svg", get(chart_svg))
}

/// One line of the figures table.
struct Row {
    label: &'static str,
    amount: String,
    /// What it means.
    meaning: &'static str,
    /// How it is summed from the ledger.
    rule: String,
    entries: usize,
}

fn row(label: &'static str, meaning: &'static str, f: &Figure, currency: &str) -> Row {
    Row {
        label,
        amount: format!("{} {currency}", f.amount),
        meaning,
        rule: f.trace.rule.clone(),
        entries: f.trace.entry_ids.len(),
    }
}

struct FeeLine {
    name: String,
    terms: String,
    amount: String,
    source: String,
    checked: String,
}

struct ComparisonView {
    name: String,
    description: String,
    cooperative: bool,
    note: Option<String>,
    rate: Option<String>,
    unavailable: Option<String>,
    fees: Vec<FeeLine>,
    total: String,
    percent: String,
    difference: String,
}

fn comparison_view(c: &Comparison, currency: &str) -> ComparisonView {
    let difference = if c.difference_minor >= 0 {
        format!("{} {currency} more than here", c.difference)
    } else {
        format!(
            "{} {currency} less than here",
            transparency::amount(-c.difference_minor, currency)
        )
    };
    ComparisonView {
        name: c.name.clone(),
        description: c.description.clone(),
        cooperative: c.kind == Kind::Cooperative,
        note: c.note.clone(),
        rate: c.rate.as_ref().map(|r| {
            format!(
                "1 {} = {} {} (source: {}, checked {}{})",
                r.from,
                r.rate,
                r.to,
                r.source,
                r.checked,
                r.note
                    .as_deref()
                    .map(|n| format!("; {n}"))
                    .unwrap_or_default()
            )
        }),
        unavailable: c.unavailable.clone(),
        fees: c
            .fees
            .iter()
            .map(|f| FeeLine {
                name: f.name.clone(),
                terms: f.terms.clone(),
                amount: format!("{} {currency}", f.amount),
                source: f.source.clone(),
                checked: f.checked.to_string(),
            })
            .collect(),
        total: format!("{} {currency}", c.total),
        percent: c
            .percent_of_sales
            .map(|p| format!("{p} %"))
            .unwrap_or_else(|| "–".into()),
        difference,
    }
}

struct CurrencyView {
    currency: String,
    sales: usize,
    items_sold: i64,
    take_rate: String,
    rows: Vec<Row>,
    allocation: Vec<Row>,
    members_paid: Option<usize>,
    commission: String,
    orders_compared: usize,
    comparisons: Vec<ComparisonView>,
    chart_src: String,
    chart_alt: String,
}

fn currency_view(period: &PeriodReport, c: &CurrencyReport) -> CurrencyView {
    let cur = c.currency.as_str();
    let rows = vec![
        row(
            "Sales",
            "what buyers paid for completed orders (items + shipping)",
            &c.sales_total,
            cur,
        ),
        row(
            "Commission",
            "the co-op's take on those sales",
            &c.commission,
            cur,
        ),
        row(
            "To sellers",
            "what the co-op owes its sellers for those sales",
            &c.to_sellers,
            cur,
        ),
        row(
            "Payment costs",
            "what receiving payments cost the co-op",
            &c.payment_costs,
            cur,
        ),
        row(
            "Operating costs",
            "hosting, bookkeeping and the rest of running the co-op",
            &c.operating_costs,
            cur,
        ),
        row("Revenue", "all the co-op's income", &c.revenue, cur),
        row("Expenses", "all the co-op's costs", &c.expenses, cur),
        row(
            if period.open {
                "Surplus so far"
            } else {
                "Surplus"
            },
            "revenue − expenses",
            &c.surplus,
            cur,
        ),
    ];
    let (allocation, members_paid) = match &c.allocation {
        Allocation::Allocated(shares) => (
            vec![
                row(
                    "Reserve",
                    "kept by the co-op as its indivisible reserve",
                    &shares.reserve,
                    cur,
                ),
                row(
                    "Member dividends",
                    "returned to members in proportion to their patronage",
                    &shares.dividends,
                    cur,
                ),
            ],
            Some(shares.members_paid),
        ),
        Allocation::NotYetAllocated => (Vec::new(), None),
    };
    let label = if period.open {
        "the current period"
    } else {
        period.label.as_str()
    };
    CurrencyView {
        currency: c.currency.clone(),
        sales: c.sales,
        items_sold: c.items_sold,
        take_rate: c
            .take_rate_percent
            .map(|p| format!("{p} %"))
            .unwrap_or_else(|| "–".into()),
        rows,
        allocation,
        members_paid,
        commission: format!("{} {cur}", c.commission.amount),
        orders_compared: c.orders_compared,
        comparisons: c
            .comparison
            .iter()
            .map(|cmp| comparison_view(cmp, cur))
            .collect(),
        chart_src: format!(
            "/transparency/chart.svg?period={}&currency={cur}",
            url::form_urlencoded::byte_serialize(period.label.as_bytes()).collect::<String>()
        ),
        chart_alt: format!(
            "Where each {cur} of sales in {label} went: {} to sellers, {} payment costs, {} operating costs, {} surplus; see the table above for the figures.",
            c.to_sellers.amount, c.payment_costs.amount, c.operating_costs.amount, c.surplus.amount
        ),
    }
}

struct PeriodView {
    heading: String,
    span: String,
    open: bool,
    currencies: Vec<CurrencyView>,
}

#[derive(Template)]
#[template(path = "transparency.html")]
struct TransparencyPage<'a> {
    node_name: &'a str,
    nav: Nav,
    commission_percent: String,
    fee_schedules: String,
    /// When the report shown was computed (it is kept until the books change).
    as_of: String,
    periods: Vec<PeriodView>,
}

async fn page(
    State(state): State<AppState>,
    MaybeUser(user): MaybeUser,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let nav = Nav::build(&state, user.as_ref()).await;
    let fail = PageError::with(&state, &nav);
    let report = state
        .transparency
        .get(ctx, &state.fee_schedules)
        .await
        .map_err(&fail)?;
    let date = |d: chrono::DateTime<chrono::Utc>| d.format("%Y-%m-%d %H:%M UTC").to_string();
    let periods = report
        .periods
        .iter()
        .map(|p| PeriodView {
            heading: if p.open {
                "Current period (open)".into()
            } else {
                format!("Period {}", p.label)
            },
            span: match (p.open, p.starts_at) {
                (true, Some(start)) => format!("from {} to now", date(start)),
                (true, None) => "since the co-op's first entry".into(),
                (false, start) => format!(
                    "{} to {}, closed {}",
                    start.map(date).unwrap_or_default(),
                    date(p.ends_at),
                    p.closed_at.map(date).unwrap_or_default()
                ),
            },
            open: p.open,
            currencies: p.currencies.iter().map(|c| currency_view(p, c)).collect(),
        })
        .collect();
    Ok(render(&TransparencyPage {
        node_name: &ctx.instance.name,
        nav: nav.clone(),
        commission_percent: report.commission_percent.normalize().to_string(),
        fee_schedules: report.fee_schedules.clone(),
        as_of: date(report.generated_at),
        periods,
    }))
}

/// `?period=LABEL&currency=EUR` (defaults: the open period, the co-op's currency).
async fn chart_svg(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Response, PageError> {
    let ctx = &state.ctx;
    let report = state
        .transparency
        .get(ctx, &state.fee_schedules)
        .await
        .map_err(|e| PageError::new(&state, e))?;
    let label = params.get("period").map_or(OPEN, String::as_str);
    let period = report
        .period(label)
        .ok_or_else(|| PageError::new(&state, market::Error::not_found("period")))?;
    let currency = match params.get("currency") {
        Some(code) => market::types::Currency::parse(code)
            .map_err(|e| PageError::new(&state, e))?
            .code()
            .to_string(),
        None => ctx.instance.bylaws.currency.clone(),
    };
    let svg = chart::svg(
        &ctx.instance.name,
        period,
        &currency,
        period.currency(&currency),
    );
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        svg,
    )
        .into_response())
}
