//! The chart of the transparency report: where each unit of currency from sales went, as a
//! hand-built SVG (no script), with the same sales under the traditional fee schedules below it.
//! Accessible: `role="img"`, a `<title>` and a `<desc>` with every figure in words, and a text
//! label for each part.

use market::service::transparency::{Allocation, CurrencyReport, PeriodReport, amount, fees::Kind};

/// Width of a bar standing for all sales, in SVG units.
pub const BAR_WIDTH: f64 = 480.0;
const LEFT: f64 = 20.0;
const WIDTH: f64 = 760.0;

/// One coloured part of a bar.
struct Part {
    class: &'static str,
    label: String,
    minor: i64,
}

/// One bar: a title and its parts.
struct Bar {
    title: String,
    parts: Vec<Part>,
}

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

fn colour(class: &str) -> &'static str {
    match class {
        "sellers" => "#2f6f4f",
        "payment" => "#b45309",
        "operating" => "#6d28d9",
        "reserve" => "#1d4ed8",
        "dividends" => "#0f766e",
        "unallocated" => "#57534e",
        _ => "#9a3412",
    }
}

/// The bars for one period and currency: ours, then each traditional schedule priced.
fn bars(node: &str, period: &PeriodReport, c: &CurrencyReport) -> Vec<Bar> {
    let mut ours = vec![
        Part {
            class: "sellers",
            label: "To sellers".into(),
            minor: c.to_sellers.minor,
        },
        Part {
            class: "payment",
            label: "Payment costs".into(),
            minor: c.payment_costs.minor,
        },
        Part {
            class: "operating",
            label: "Operating costs".into(),
            minor: c.operating_costs.minor,
        },
    ];
    match &c.allocation {
        Allocation::Allocated(shares) => {
            ours.push(Part {
                class: "reserve",
                label: "Reserve".into(),
                minor: shares.reserve.minor,
            });
            ours.push(Part {
                class: "dividends",
                label: "Member dividends".into(),
                minor: shares.dividends.minor,
            });
        }
        Allocation::NotYetAllocated => ours.push(Part {
            class: "unallocated",
            label: "Surplus, not yet allocated".into(),
            minor: c.surplus.minor,
        }),
    }
    let when = if period.open {
        "this period so far".to_string()
    } else {
        format!("period {}", period.label)
    };
    let mut bars = vec![Bar {
        title: format!("Here, at {node} ({when})"),
        parts: ours.into_iter().filter(|p| p.minor > 0).collect(),
    }];
    for cmp in c
        .comparison
        .iter()
        .filter(|cmp| cmp.kind == Kind::Traditional && cmp.unavailable.is_none())
    {
        bars.push(Bar {
            title: format!("The same sales at {}", cmp.name),
            parts: vec![
                Part {
                    class: "sellers",
                    label: "To sellers".into(),
                    minor: c.sales_total.minor - cmp.total_minor,
                },
                Part {
                    class: "platform",
                    label: "Platform fees".into(),
                    minor: cmp.total_minor,
                },
            ]
            .into_iter()
            .filter(|p| p.minor > 0)
            .collect(),
        });
    }
    bars
}

/// `minor` as a share of `whole`, per unit of currency, two decimals.
fn per_unit(minor: i64, whole: i64) -> String {
    if whole == 0 {
        return "0.00".into();
    }
    format!("{:.2}", minor as f64 / whole as f64)
}

/// The chart for `c` (none: no sales in this period and currency).
pub fn svg(
    node: &str,
    period: &PeriodReport,
    currency: &str,
    c: Option<&CurrencyReport>,
) -> String {
    let title = format!(
        "Where each {currency} of sales went: {}",
        if period.open {
            "the current period (open)".to_string()
        } else {
            format!("period {}", period.label)
        }
    );
    let Some(c) = c.filter(|c| c.sales_total.minor > 0) else {
        return format!(
            r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="80" viewBox="0 0 {WIDTH} 80" role="img" aria-labelledby="chart-title chart-desc" data-scale-minor="0" data-bar-width="{BAR_WIDTH}"><title id="chart-title">{}</title><desc id="chart-desc">No sales yet in {currency} in this period, so there is nothing to divide.</desc><text x="{LEFT}" y="45" font-family="sans-serif" font-size="16" fill="#1d1b19">No sales yet in {currency}.</text></svg>"##,
            esc(&title)
        );
    };
    let sales = c.sales_total.minor;
    let bars = bars(node, period, c);
    // A loss makes our parts add up to more than the sales: scale to the longest bar.
    let scale = bars
        .iter()
        .map(|b| b.parts.iter().map(|p| p.minor).sum::<i64>())
        .chain([sales])
        .max()
        .unwrap_or(sales);
    let mut desc = Vec::new();
    let mut body = String::new();
    let mut y = 30.0;
    for (i, bar) in bars.iter().enumerate() {
        body.push_str(&format!(
            r##"<g class="bar" data-bar="{i}"><text x="{LEFT}" y="{y}" font-family="sans-serif" font-size="14" font-weight="bold" fill="#1d1b19">{}</text>"##,
            esc(&bar.title)
        ));
        let top = y + 8.0;
        let mut x = LEFT;
        let mut words = Vec::new();
        for part in &bar.parts {
            let width = part.minor as f64 * BAR_WIDTH / scale as f64;
            let text = format!(
                "{}: {} {currency} ({} of each {currency})",
                part.label,
                amount(part.minor, currency),
                per_unit(part.minor, sales)
            );
            body.push_str(&format!(
                r##"<rect class="part {}" x="{x:.2}" y="{top}" width="{width:.2}" height="28" fill="{}" data-minor="{}"><title>{}</title></rect>"##,
                part.class,
                colour(part.class),
                part.minor,
                esc(&text)
            ));
            x += width;
            words.push(format!(
                "{} {}",
                per_unit(part.minor, sales),
                part.label.to_lowercase()
            ));
        }
        let mut line = top + 28.0 + 18.0;
        for part in &bar.parts {
            body.push_str(&format!(
                r##"<rect x="{LEFT}" y="{:.1}" width="12" height="12" fill="{}"/><text x="{:.1}" y="{line:.1}" font-family="sans-serif" font-size="13" fill="#1d1b19">{}: {} {currency}, {} of each {currency}</text>"##,
                line - 11.0,
                colour(part.class),
                LEFT + 18.0,
                esc(&part.label),
                amount(part.minor, currency),
                per_unit(part.minor, sales)
            ));
            line += 18.0;
        }
        body.push_str("</g>");
        desc.push(format!("{}: {}.", bar.title, words.join(", ")));
        y = line + 16.0;
    }
    if c.surplus.minor < 0 {
        desc.push(format!(
            "The co-op's costs exceeded its commission by {} {currency}.",
            amount(-c.surplus.minor, currency)
        ));
    }
    let height = y;
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height:.0}" viewBox="0 0 {WIDTH} {height:.0}" role="img" aria-labelledby="chart-title chart-desc" data-scale-minor="{scale}" data-bar-width="{BAR_WIDTH}"><title id="chart-title">{}</title><desc id="chart-desc">Sales: {} {currency}. Of each {currency}: {}</desc>{body}</svg>"##,
        esc(&title),
        amount(sales, currency),
        esc(&desc.join(" "))
    )
}
