//! Fee schedules of other platforms, read from a data file a co-op edits (shipped as
//! `fees/fee-schedules.toml`, documented at its top), and what one order would cost under each.
//!
//! Every fee keeps its source and the day it was checked, so the comparison can cite them. The
//! file is checked once, when it is read: an error names the schedule, the fee and the field.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::Deserialize;

use crate::{
    Error, Result,
    types::{Currency, Money},
};

/// The shipped file, built in: used when the configured file is the default one and missing.
pub const SHIPPED: &str = include_str!("../../../../fees/fee-schedules.toml");

/// What a percentage fee is a percentage of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Basis {
    /// The order's total: items plus shipping.
    ItemsAndShipping,
    /// The items only.
    Items,
}

/// What a fixed fee is charged for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    /// Once per order.
    Order,
    /// Once per item sold.
    Item,
}

/// Whether a platform is owned by its investors or by its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// An investor-owned marketplace: drawn next to ours in the chart.
    Traditional,
    /// Another platform co-op: shown for context.
    Cooperative,
}

/// One fee of a schedule.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Fee {
    /// What the platform calls it.
    pub name: String,
    /// A percentage of `of`, if any.
    pub percent: Option<Decimal>,
    /// What the percentage is of.
    pub of: Basis,
    /// A fixed amount in the schedule's currency, major units, if any.
    pub fixed: Option<Decimal>,
    /// What the fixed amount is charged for.
    pub per: Per,
    /// Most this fee takes from one order, in the schedule's currency.
    pub cap: Option<Decimal>,
    /// The page the figure comes from.
    pub source: String,
    /// When someone read that page.
    pub checked: NaiveDate,
    /// Anything a reader should know.
    pub note: Option<String>,
}

/// A platform's fees.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Schedule {
    /// Short stable name (`etsy-us`).
    pub id: String,
    /// Shown in the table.
    pub name: String,
    /// Investor-owned or co-op.
    pub kind: Kind,
    /// What kind of platform it is.
    pub description: String,
    /// The currency of its fixed fees and caps.
    pub currency: String,
    /// Anything a reader should know (fees not counted, ...).
    pub note: Option<String>,
    /// Its fees, those of the schedule it extends first.
    pub fees: Vec<Fee>,
}

/// An exchange rate: 1 `from` is `rate` `to`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rate {
    /// Currency converted from.
    pub from: String,
    /// Currency converted to.
    pub to: String,
    /// How many `to` one `from` is.
    pub rate: Decimal,
    /// Where the rate comes from.
    pub source: String,
    /// When it was read.
    pub checked: NaiveDate,
    /// Anything a reader should know.
    pub note: Option<String>,
}

/// The whole file, checked.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FeeSchedules {
    /// Where it was read from: a path, or "built-in copy of …".
    pub origin: String,
    /// Exchange rates.
    pub rates: Vec<Rate>,
    /// Schedules in file order.
    pub schedules: Vec<Schedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    rates: Vec<RawRate>,
    #[serde(default)]
    schedules: Vec<RawSchedule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRate {
    from: String,
    to: String,
    rate: String,
    source: String,
    checked: String,
    note: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSchedule {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    description: String,
    currency: String,
    note: Option<String>,
    extends: Option<String>,
    #[serde(default)]
    fees: Vec<RawFee>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFee {
    name: String,
    percent: Option<String>,
    of: Option<String>,
    fixed: Option<String>,
    per: Option<String>,
    cap: Option<String>,
    source: String,
    checked: String,
    note: Option<String>,
}

impl FeeSchedules {
    /// Parse and check a fee schedules file read from `origin`.
    pub fn parse(text: &str, origin: &str) -> Result<FeeSchedules> {
        let bad = |field: String, reason: String| {
            Error::invalid(format!("fee schedules ({origin}): {field}"), reason)
        };
        let raw: RawFile = toml::from_str(text).map_err(|e| {
            bad(
                "file".into(),
                e.to_string()
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" "),
            )
        })?;
        let mut rates = Vec::new();
        for (i, r) in raw.rates.into_iter().enumerate() {
            let at = |field: &str| format!("rates[{i}] ({} to {}).{field}", r.from, r.to);
            let from = currency(&r.from).map_err(|e| bad(at("from"), e))?;
            let to = currency(&r.to).map_err(|e| bad(at("to"), e))?;
            let rate = decimal(&r.rate)
                .filter(|d| *d > Decimal::ZERO)
                .ok_or_else(|| bad(at("rate"), format!("{:?} is not a positive number", r.rate)))?;
            rates.push(Rate {
                from,
                to,
                rate,
                source: url(&r.source).map_err(|e| bad(at("source"), e))?,
                checked: date(&r.checked).map_err(|e| bad(at("checked"), e))?,
                note: r.note,
            });
        }
        let mut schedules: Vec<Schedule> = Vec::new();
        for s in raw.schedules {
            let at = |field: &str| format!("schedule {:?}: {field}", s.id);
            let id = s.id.trim();
            if id.is_empty() || !id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(bad(at("id"), "letters, digits and '-' only".into()));
            }
            if schedules.iter().any(|o| o.id == id) {
                return Err(bad(at("id"), "used by an earlier schedule".into()));
            }
            if s.name.trim().is_empty() {
                return Err(bad(at("name"), "must not be empty".into()));
            }
            let kind = match s.kind.as_str() {
                "traditional" => Kind::Traditional,
                "cooperative" => Kind::Cooperative,
                other => {
                    return Err(bad(
                        at("kind"),
                        format!("{other:?}: use \"traditional\" or \"cooperative\""),
                    ));
                }
            };
            let code = currency(&s.currency).map_err(|e| bad(at("currency"), e))?;
            let mut fees = match &s.extends {
                None => Vec::new(),
                Some(base) => {
                    let base = schedules.iter().find(|o| &o.id == base).ok_or_else(|| {
                        bad(
                            at("extends"),
                            format!("{base:?} is not a schedule defined above this one"),
                        )
                    })?;
                    if base.currency != code {
                        return Err(bad(
                            at("currency"),
                            "must be that of the extended schedule".into(),
                        ));
                    }
                    base.fees.clone()
                }
            };
            for f in s.fees {
                let at = |field: &str| format!("schedule {:?}, fee {:?}: {field}", s.id, f.name);
                fees.push(fee(&f, &code).map_err(|(field, reason)| bad(at(field), reason))?);
            }
            if fees.is_empty() {
                return Err(bad(at("fees"), "a schedule needs at least one fee".into()));
            }
            schedules.push(Schedule {
                id: id.to_string(),
                name: s.name,
                kind,
                description: s.description,
                currency: code,
                note: s.note,
                fees,
            });
        }
        Ok(FeeSchedules {
            origin: origin.to_string(),
            rates,
            schedules,
        })
    }

    /// The built-in copy of the shipped file.
    pub fn shipped() -> Result<FeeSchedules> {
        Self::parse(SHIPPED, "built-in copy of fees/fee-schedules.toml")
    }

    /// The rate converting `from` into `to` (1 when they are the same currency).
    pub fn rate(&self, from: &str, to: &str) -> Option<Rate> {
        if from == to {
            return None;
        }
        self.rates
            .iter()
            .find(|r| r.from == from && r.to == to)
            .cloned()
            .or_else(|| {
                // The inverse of a listed rate, rounded to 6 decimals.
                let inverse = self.rates.iter().find(|r| r.from == to && r.to == from)?;
                Some(Rate {
                    from: from.into(),
                    to: to.into(),
                    rate: (Decimal::ONE / inverse.rate).round_dp(6),
                    note: Some(format!("inverse of the {to}→{from} rate")),
                    ..inverse.clone()
                })
            })
    }
}

fn fee(f: &RawFee, currency_code: &str) -> Result<Fee, (&'static str, String)> {
    if f.name.trim().is_empty() {
        return Err(("name", "must not be empty".into()));
    }
    let percent = match &f.percent {
        None => None,
        Some(p) => Some(
            decimal(p)
                .filter(|d| *d >= Decimal::ZERO && *d <= Decimal::ONE_HUNDRED)
                .ok_or(("percent", format!("{p:?} is not a number from 0 to 100")))?,
        ),
    };
    let amount = |field: &'static str, text: &Option<String>| -> Result<_, (&str, String)> {
        match text {
            None => Ok(None),
            Some(t) => {
                let c = Currency::parse(currency_code).map_err(|e| (field, e.to_string()))?;
                Money::parse(t, c)
                    .map(|m| Some(m.amount()))
                    .map_err(|e| (field, format!("{t:?}: {}", reason(&e))))
            }
        }
    };
    let fixed = amount("fixed", &f.fixed)?;
    let cap = amount("cap", &f.cap)?;
    if percent.is_none() && fixed.is_none() {
        return Err((
            "percent",
            "a fee needs a percent, a fixed amount, or both".into(),
        ));
    }
    let of = match (f.of.as_deref(), percent) {
        (None | Some("items_and_shipping"), _) => Basis::ItemsAndShipping,
        (Some("items"), _) => Basis::Items,
        (Some(other), _) => {
            return Err((
                "of",
                format!("{other:?}: use \"items_and_shipping\" or \"items\""),
            ));
        }
    };
    if percent.is_some() && f.of.is_none() {
        return Err((
            "of",
            "say what the percentage is of: \"items_and_shipping\" or \"items\"".into(),
        ));
    }
    let per = match (f.per.as_deref(), fixed) {
        (Some("order"), _) => Per::Order,
        (Some("item"), _) => Per::Item,
        (None, None) => Per::Order,
        (None, Some(_)) => {
            return Err((
                "per",
                "say what the fixed fee is for: \"order\" or \"item\"".into(),
            ));
        }
        (Some(other), _) => return Err(("per", format!("{other:?}: use \"order\" or \"item\""))),
    };
    Ok(Fee {
        name: f.name.trim().to_string(),
        percent,
        of,
        fixed,
        per,
        cap,
        source: url(&f.source).map_err(|e| ("source", e))?,
        checked: date(&f.checked).map_err(|e| ("checked", e))?,
        note: f.note.clone(),
    })
}

fn reason(e: &Error) -> String {
    match e {
        Error::Invalid { reason, .. } => reason.clone(),
        other => other.to_string(),
    }
}

fn decimal(text: &str) -> Option<Decimal> {
    Decimal::from_str_exact(text.trim()).ok()
}

fn currency(code: &str) -> Result<String, String> {
    Currency::parse(code)
        .map(|c| c.code().to_string())
        .map_err(|e| reason(&e))
}

fn url(text: &str) -> Result<String, String> {
    match url::Url::parse(text.trim()) {
        Ok(u) if matches!(u.scheme(), "http" | "https") => Ok(u.to_string()),
        _ => Err(format!(
            "{text:?} is not an http(s) URL: every figure needs its source"
        )),
    }
}

fn date(text: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .map_err(|_| format!("{text:?} is not a date like 2026-11-22"))
}

/// One order as the comparison sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderFigures {
    /// Items sold.
    pub quantity: i64,
    /// Items, minor units.
    pub items_minor: i64,
    /// Items + shipping, minor units.
    pub total_minor: i64,
}

/// A schedule's amounts converted into the sales' currency, ready to price orders.
#[derive(Debug, Clone)]
pub struct Priced<'a> {
    /// The schedule.
    pub schedule: &'a Schedule,
    /// The rate used, when the schedule's currency is not the sales'.
    pub rate: Option<Rate>,
    exponent: u32,
}

impl<'a> Priced<'a> {
    /// Prepare `schedule` for sales in `currency`; `None` when no rate converts its fixed
    /// amounts and caps (a percentage-only schedule needs none).
    pub fn new(file: &FeeSchedules, schedule: &'a Schedule, currency: &str) -> Option<Self> {
        let exponent = Currency::parse(currency).ok()?.exponent();
        let needs_rate = schedule
            .fees
            .iter()
            .any(|f| f.fixed.is_some() || f.cap.is_some());
        let rate = if schedule.currency == currency || !needs_rate {
            None
        } else {
            Some(file.rate(&schedule.currency, currency)?)
        };
        Some(Priced {
            schedule,
            rate,
            exponent,
        })
    }

    /// A schedule amount (major units) in minor units of the sales' currency, half up.
    fn minor(&self, amount: Decimal) -> i64 {
        let converted = match &self.rate {
            Some(rate) => amount * rate.rate,
            None => amount,
        };
        to_minor(converted * Decimal::from(10_i64.pow(self.exponent)))
    }

    /// What fee `index` takes from one order, minor units.
    pub fn fee(&self, index: usize, order: &OrderFigures) -> i64 {
        let Some(fee) = self.schedule.fees.get(index) else {
            return 0;
        };
        let base = match fee.of {
            Basis::ItemsAndShipping => order.total_minor,
            Basis::Items => order.items_minor,
        };
        let percent = fee.percent.map_or(0, |p| {
            to_minor(Decimal::from(base) * p / Decimal::ONE_HUNDRED)
        });
        let fixed = fee.fixed.map_or(0, |f| {
            let times = match fee.per {
                Per::Order => 1,
                Per::Item => order.quantity,
            };
            self.minor(f).saturating_mul(times)
        });
        let charged = percent.saturating_add(fixed);
        match fee.cap {
            Some(cap) => charged.min(self.minor(cap)),
            None => charged,
        }
    }

    /// Each fee's total over `orders`, in the schedule's order.
    pub fn totals(&self, orders: &[OrderFigures]) -> Vec<i64> {
        (0..self.schedule.fees.len())
            .map(|i| orders.iter().map(|o| self.fee(i, o)).sum())
            .collect()
    }
}

/// Round half up (away from zero) to a whole number of minor units.
fn to_minor(amount: Decimal) -> i64 {
    let rounded = amount.round_dp_with_strategy(0, RoundingStrategy::MidpointAwayFromZero);
    i64::try_from(rounded.mantissa() / 10_i128.pow(rounded.scale())).unwrap_or(i64::MAX)
}

/// Schedules by id, for lookups.
pub fn by_id(file: &FeeSchedules) -> BTreeMap<&str, &Schedule> {
    file.schedules.iter().map(|s| (s.id.as_str(), s)).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_etsy_worked_example_of_the_research_notes() {
        // marketplace_anchors.md §7: a $50 item plus $10 shipping sold by a US Etsy shop costs
        // listing $0.20 + transaction $3.90 + processing ($1.80 + $0.25) = $6.15, 10.25 % of $60.
        let file = FeeSchedules::shipped().unwrap();
        let etsy = by_id(&file)["etsy-us"];
        let priced = Priced::new(&file, etsy, "USD").unwrap();
        assert!(priced.rate.is_none(), "USD sales, USD fees");
        let order = OrderFigures {
            quantity: 1,
            items_minor: 5_000,
            total_minor: 6_000,
        };
        assert_eq!(priced.totals(&[order]), vec![20, 390, 205]);
        let total: i64 = priced.totals(&[order]).iter().sum();
        assert_eq!(total, 615);
        assert_eq!(
            Decimal::new(total * 100, 0) / Decimal::from(6_000),
            Decimal::new(1025, 2)
        );
        // Attributed to an Offsite Ad: 15 % more ($9), and the fee stops at $100 an order.
        let ad = Priced::new(&file, by_id(&file)["etsy-us-offsite-ad"], "USD").unwrap();
        assert_eq!(ad.totals(&[order]).iter().sum::<i64>(), 615 + 900);
        let big = OrderFigures {
            quantity: 1,
            items_minor: 1_000_000,
            total_minor: 1_000_000,
        };
        assert_eq!(ad.fee(3, &big), 10_000, "capped at $100");
    }

    #[test]
    fn fixed_fees_in_another_currency_use_the_listed_rate() {
        let file = FeeSchedules::shipped().unwrap();
        let etsy = by_id(&file)["etsy-us"];
        let priced = Priced::new(&file, etsy, "EUR").unwrap();
        let rate = priced.rate.clone().unwrap();
        assert_eq!((rate.from.as_str(), rate.to.as_str()), ("USD", "EUR"));
        let order = OrderFigures {
            quantity: 2,
            items_minor: 5_600,
            total_minor: 6_150,
        };
        let listing = to_minor(Decimal::new(20, 2) * rate.rate * Decimal::from(100));
        assert_eq!(priced.fee(0, &order), listing * 2, "per item, converted");
        // Percentage-only schedules need no rate at all; a fixed fee without one cannot be priced.
        assert!(Priced::new(&file, by_id(&file)["drivers-coop"], "JPY").is_some());
        assert!(Priced::new(&file, etsy, "JPY").is_none());
    }

    #[test]
    fn a_bad_file_is_refused_naming_the_schedule_the_fee_and_the_field() {
        let fee = |extra: &str| {
            format!(
                "[[schedules]]\nid = \"x\"\nname = \"X\"\nkind = \"traditional\"\ncurrency = \"USD\"\n\
                 [[schedules.fees]]\nname = \"Cut\"\nsource = \"https://x.example/fees\"\n\
                 checked = \"2026-11-22\"\n{extra}"
            )
        };
        let cases = [
            (fee("percent = \"abc\"\nof = \"items\""), "fee \"Cut\": percent"),
            (fee("percent = \"101\"\nof = \"items\""), "fee \"Cut\": percent"),
            (fee("percent = \"5\""), "fee \"Cut\": of"),
            (fee("fixed = \"0.2\""), "fee \"Cut\": per"),
            (fee("fixed = \"0.201\"\nper = \"item\""), "fee \"Cut\": fixed"),
            (fee(""), "fee \"Cut\": percent"),
            (
                fee("percent = \"5\"\nof = \"items\"").replace("https://x.example/fees", "x"),
                "fee \"Cut\": source",
            ),
            (
                fee("percent = \"5\"\nof = \"items\"").replace("2026-11-22", "last week"),
                "fee \"Cut\": checked",
            ),
            (
                fee("percent = \"5\"\nof = \"items\"").replace("traditional", "evil"),
                "schedule \"x\": kind",
            ),
            (
                fee("percent = \"5\"\nof = \"items\"").replace("USD", "USDX"),
                "schedule \"x\": currency",
            ),
            ("[[schedules]]\nid = \"x\"".into(), "file"),
            (
                "[[rates]]\nfrom = \"USD\"\nto = \"EUR\"\nrate = \"-1\"\nsource = \"https://e.example\"\nchecked = \"2026-01-01\"".into(),
                "rates[0] (USD to EUR).rate",
            ),
        ];
        for (text, field) in cases {
            let err = FeeSchedules::parse(&text, "test.toml").unwrap_err();
            assert_eq!(err.status(), 422);
            let message = err.to_string();
            assert!(
                message.starts_with("fee schedules (test.toml): ") && message.contains(field),
                "{message} should name {field}"
            );
        }
        let twice = format!(
            "{}\n{}",
            fee("percent = \"5\"\nof = \"items\""),
            fee("percent = \"5\"\nof = \"items\"")
        );
        assert!(
            FeeSchedules::parse(&twice, "t")
                .unwrap_err()
                .to_string()
                .contains("earlier")
        );
    }

    #[test]
    fn the_shipped_file_cites_every_fee() {
        let file = FeeSchedules::shipped().unwrap();
        assert!(file.schedules.len() >= 5);
        for s in &file.schedules {
            for f in &s.fees {
                assert!(f.source.starts_with("https://"), "{}: {}", s.id, f.name);
            }
        }
        let ad = by_id(&file)["etsy-us-offsite-ad"];
        assert_eq!(ad.fees.len(), 4, "Etsy's fees plus the Offsite Ads fee");
    }
}
