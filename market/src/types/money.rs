//! Exact money: a decimal amount in an ISO 4217 currency, never a float.

use std::fmt;

use rust_decimal::Decimal;

use crate::{Error, Result};

/// Largest amount accepted, in major units: far above any listing, far below overflow.
const MAX_MAJOR_UNITS: i64 = 1_000_000_000;

/// An ISO 4217 currency that has a fixed number of minor-unit digits (EUR: 2, JPY: 0, KWD: 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    code: iso_currency::Currency,
    exponent: u32,
}

impl Currency {
    /// Parse a three-letter code. Lower case is accepted. Codes without minor units defined by
    /// ISO 4217 (gold, test codes, "no currency") are refused: a listing needs a price.
    pub fn parse(code: &str) -> Result<Self> {
        let upper = code.trim().to_ascii_uppercase();
        let unknown = || {
            Error::invalid(
                "currency",
                format!("{code:?} is not an ISO 4217 currency code"),
            )
        };
        if upper.len() != 3 {
            return Err(unknown());
        }
        let parsed = iso_currency::Currency::from_code(&upper).ok_or_else(unknown)?;
        let exponent = parsed.exponent().ok_or_else(|| {
            Error::invalid(
                "currency",
                format!("{upper} has no minor unit and cannot price a listing"),
            )
        })?;
        Ok(Currency {
            code: parsed,
            exponent: u32::from(exponent),
        })
    }

    /// The three-letter code.
    pub fn code(&self) -> &'static str {
        self.code.code()
    }

    /// How many decimal places an amount in this currency may have.
    pub fn exponent(&self) -> u32 {
        self.exponent
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A non-negative amount of money in one currency, with no more decimals than the currency has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Money {
    minor: i64,
    currency: Currency,
}

impl Money {
    /// Parse a decimal string such as `28.00`, `0.1` or `1500` in `currency`.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self> {
        let field = "price";
        let text = amount.trim();
        let well_formed = !text.is_empty()
            && text
                .chars()
                .all(|c| c.is_ascii_digit() || c == '.' || c == '-')
            && !text.starts_with('.')
            && !text.ends_with('.');
        if !well_formed {
            return Err(Error::invalid(
                field,
                format!("{amount:?} is not a decimal amount like \"28.00\""),
            ));
        }
        // `from_str` would silently round digits past a 96-bit mantissa ("28.000…0001" → 28);
        // such an amount has more decimals than any currency allows.
        let decimal = Decimal::from_str_exact(text).map_err(|_| {
            let decimals = text
                .split_once('.')
                .map_or(0, |(_, fraction)| fraction.len());
            if decimals > currency.exponent() as usize {
                too_many_decimals(amount, currency)
            } else {
                Error::invalid(
                    field,
                    format!("{amount:?} is not a decimal amount like \"28.00\""),
                )
            }
        })?;
        if decimal.is_sign_negative() && !decimal.is_zero() {
            return Err(Error::invalid(field, "must not be negative"));
        }
        let decimal = decimal.normalize();
        if decimal.scale() > currency.exponent() {
            return Err(too_many_decimals(amount, currency));
        }
        if decimal >= Decimal::from(MAX_MAJOR_UNITS) {
            return Err(Error::invalid(
                field,
                format!("must be below {MAX_MAJOR_UNITS}"),
            ));
        }
        let minor = (decimal * Decimal::from(10_i64.pow(currency.exponent())))
            .trunc()
            .mantissa();
        let minor = i64::try_from(minor).map_err(|_| Error::invalid(field, "too large"))?;
        Ok(Money { minor, currency })
    }

    /// Rebuild from the stored form (minor units and a code).
    pub fn from_minor(minor: i64, currency_code: &str) -> Result<Self> {
        let currency = Currency::parse(currency_code).map_err(|_| {
            Error::Internal(format!("stored currency {currency_code:?} is invalid"))
        })?;
        if minor < 0 {
            return Err(Error::Internal(format!("stored price {minor} is negative")));
        }
        Ok(Money { minor, currency })
    }

    /// The amount in minor units (cents for EUR, yen for JPY).
    pub fn minor(&self) -> i64 {
        self.minor
    }

    /// The currency.
    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The amount as an exact decimal.
    pub fn amount(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    /// The amount as a decimal string with exactly the currency's number of decimals (`28.00`,
    /// `1500` for JPY): the form used on the wire and in the API.
    pub fn amount_string(&self) -> String {
        self.amount().to_string()
    }

    /// A stored amount (minor units and a code) as its decimal string; the bare number if the
    /// stored currency is unknown (for display only).
    /// Negative amounts (a loss, a reserve drawn on) keep their sign: `-1.00`.
    pub fn display_minor(minor: i64, currency_code: &str) -> String {
        if minor < 0 {
            return format!(
                "-{}",
                Money::display_minor(minor.saturating_neg(), currency_code)
            );
        }
        Money::from_minor(minor, currency_code)
            .map(|m| m.amount_string())
            .unwrap_or_else(|_| minor.to_string())
    }
}

fn too_many_decimals(amount: &str, currency: Currency) -> Error {
    Error::invalid(
        "price",
        format!(
            "{} allows {} decimal place{}, got {amount}",
            currency.code(),
            currency.exponent(),
            if currency.exponent() == 1 { "" } else { "s" }
        ),
    )
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.amount_string(), self.currency.code())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn eur() -> Currency {
        Currency::parse("EUR").unwrap()
    }

    #[test]
    fn amounts_round_trip_exactly() {
        for (input, expected) in [
            ("28.00", "28.00"),
            ("28", "28.00"),
            ("0.1", "0.10"),
            ("99999.99", "99999.99"),
            ("0", "0.00"),
        ] {
            let m = Money::parse(input, eur()).unwrap();
            assert_eq!(m.amount_string(), expected, "{input}");
            assert_eq!(Money::from_minor(m.minor(), "EUR").unwrap(), m);
        }
        let yen = Money::parse("1500", Currency::parse("jpy").unwrap()).unwrap();
        assert_eq!((yen.minor(), yen.amount_string().as_str()), (1500, "1500"));
        let dinar = Money::parse("1.234", Currency::parse("KWD").unwrap()).unwrap();
        assert_eq!(dinar.minor(), 1234);
    }

    #[test]
    fn bad_amounts_are_refused_with_the_reason() {
        for bad in [
            "-1",
            "-0.01",
            "abc",
            "",
            "1e3",
            "1,00",
            ".5",
            "5.",
            "NaN",
            "1000000000",
        ] {
            let err = Money::parse(bad, eur()).unwrap_err();
            assert_eq!(err.status(), 422, "{bad}");
        }
        let err = Money::parse("28.001", eur()).unwrap_err();
        assert!(err.to_string().contains("2 decimal places"), "{err}");
        let err = Money::parse("28.0000000000000000000000000001", eur()).unwrap_err();
        assert!(
            err.to_string().contains("2 decimal places"),
            "not rounded to 28: {err}"
        );
        assert!(Money::parse("10.5", Currency::parse("JPY").unwrap()).is_err());
    }

    #[test]
    fn currencies_are_checked() {
        assert!(Currency::parse("EUR").is_ok());
        assert!(Currency::parse("eur").is_ok());
        for bad in ["EURO", "XYZ", "", "XAU", "XXX"] {
            assert!(Currency::parse(bad).is_err(), "{bad}");
        }
    }
}
