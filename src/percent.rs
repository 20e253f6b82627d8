//! Exact percentages. `99.95%` is kept as an integer count of billionths of a percent,
//! so a share of a period (`99.95%` of 30d leaves exactly 21m36s) and a comparison of a
//! measured ratio with a threshold (`1999 of 2000 ≥ 99.95%`) never go through binary
//! floating point, which cannot hold 0.9995 and would leave 1295999.9999998573 ms.
//! Depends on nothing else in the crate.

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;

/// Decimal places a percentage may have: `99.999999999%` at most.
pub const MAX_DECIMALS: u32 = 9;
/// Units of the stored integer in one percent.
const PER_PERCENT: u64 = 10u64.pow(MAX_DECIMALS);
/// Units in 100%.
const WHOLE: u128 = 100 * PER_PERCENT as u128;

/// A percentage between 0% and 100%, exact to [`MAX_DECIMALS`] decimal places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Percent {
    /// Billionths of a percent: 99.95% is 99_950_000_000.
    units: u64,
}

impl Percent {
    /// 100%.
    pub const FULL: Percent = Percent {
        units: WHOLE as u64,
    };

    /// `99.95%`, `99.95` or `99`: a plain decimal number, optionally followed by `%`.
    pub fn parse(text: &str) -> Result<Percent, String> {
        let t = text.trim();
        let number = t.strip_suffix('%').unwrap_or(t).trim();
        let units = decimal_units(number)
            .ok_or_else(|| format!("`{t}` is not a percentage like \"99.95%\""))??;
        Percent::from_units(units)
    }

    /// A number a YAML or JSON parser already read. Its shortest decimal form is the
    /// one that was written (`99.95` reads back as `99.95`), so nothing is lost.
    pub fn from_f64(value: f64) -> Result<Percent, String> {
        if !value.is_finite() {
            return Err(format!("{value}% is outside 0%..100%"));
        }
        Percent::parse(&format!("{value}"))
    }

    /// Whole percent: `Percent::whole(99)` is 99%.
    pub fn whole(percent: u64) -> Result<Percent, String> {
        Percent::from_units(u128::from(percent) * u128::from(PER_PERCENT))
    }

    fn from_units(units: u128) -> Result<Percent, String> {
        if units > WHOLE {
            let shown = Percent {
                units: u64::try_from(units).unwrap_or(u64::MAX),
            };
            return Err(format!("{shown} is outside 0%..100%"));
        }
        // WHOLE fits in u64, so the conversion cannot fail here.
        let units = u64::try_from(units).unwrap_or(u64::MAX);
        Ok(Percent { units })
    }

    /// The nearest `f64` (for JSON numbers and charts; never for arithmetic).
    pub fn as_f64(self) -> f64 {
        self.units as f64 / PER_PERCENT as f64
    }

    /// 100% minus this: the error budget's share of an objective.
    pub fn complement(self) -> Percent {
        Percent {
            units: Percent::FULL.units - self.units,
        }
    }

    /// This share of `total` (any integer unit), rounded down: `99.95%` of
    /// 2_592_000_000_000 µs is 2_590_704_000_000 µs exactly.
    pub fn of(self, total: u64) -> u64 {
        let share = u128::from(total) * u128::from(self.units) / WHOLE;
        // share <= total because units <= WHOLE.
        u64::try_from(share).unwrap_or(u64::MAX)
    }

    /// Whether `part / whole` is at least this percentage, decided exactly.
    /// Nothing (`whole == 0`) meets no threshold.
    pub fn is_met_by(self, part: u64, whole: u64) -> bool {
        whole > 0 && u128::from(part) * WHOLE >= u128::from(self.units) * u128::from(whole)
    }

    /// Whether `part / whole` is at most this percentage, decided exactly. An empty
    /// whole is met only by an empty part.
    pub fn is_not_exceeded_by(self, part: u64, whole: u64) -> bool {
        if whole == 0 {
            return part == 0;
        }
        u128::from(part) * WHOLE <= u128::from(self.units) * u128::from(whole)
    }
}

/// Units of a plain decimal number (`99.95` → 99_950_000_000): `None` when it is not a
/// decimal number, `Some(Err)` when it has more decimals than can be kept exactly.
fn decimal_units(number: &str) -> Option<Result<u128, String>> {
    let (int, frac) = number.split_once('.').unwrap_or((number, ""));
    let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (int.is_empty() && frac.is_empty()) || !digits_only(int) || !digits_only(frac) {
        return None;
    }
    let frac = frac.trim_end_matches('0');
    if frac.len() > MAX_DECIMALS as usize {
        return Some(Err(format!(
            "`{number}%` has more than {MAX_DECIMALS} decimal places"
        )));
    }
    let int = int.trim_start_matches('0');
    // More than three integer digits is over 100% whatever they are.
    if int.len() > 3 {
        return Some(Err(format!("{number}% is outside 0%..100%")));
    }
    let int: u128 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let frac_units: u128 = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = MAX_DECIMALS as usize);
        padded.parse().ok()?
    };
    Some(Ok(int * u128::from(PER_PERCENT) + frac_units))
}

impl fmt::Display for Percent {
    /// As written, without trailing zeros: `99.95%`, `99%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let int = self.units / PER_PERCENT;
        let frac = self.units % PER_PERCENT;
        if frac == 0 {
            return write!(f, "{int}%");
        }
        let digits = format!("{frac:0width$}", width = MAX_DECIMALS as usize);
        write!(f, "{int}.{}%", digits.trim_end_matches('0'))
    }
}

impl Percent {
    /// [`Display`](fmt::Display) without the `%` sign: `99.95`.
    pub fn number(self) -> String {
        let mut s = self.to_string();
        s.pop();
        s
    }
}

/// A JSON/YAML number (`99.95`), so recorded SLAs keep the field types they had.
impl Serialize for Percent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_f64(self.as_f64())
    }
}

impl<'de> Deserialize<'de> for Percent {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Percent;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a percentage like \"99.95%\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Percent, E> {
                Percent::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Percent, E> {
                Percent::whole(v).map_err(E::custom)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Percent, E> {
                let whole = u64::try_from(v).map_err(|_| E::custom(format!("{v}% is below 0%")))?;
                Percent::whole(whole).map_err(E::custom)
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Percent, E> {
                Percent::from_f64(v).map_err(E::custom)
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pct(s: &str) -> Percent {
        Percent::parse(s).unwrap()
    }

    #[test]
    fn parses_decimals_exactly_and_prints_them_back() {
        assert_eq!(pct("99.95%").to_string(), "99.95%");
        assert_eq!(pct("99").to_string(), "99%");
        assert_eq!(pct("099.500").to_string(), "99.5%");
        assert_eq!(pct(".5%").to_string(), "0.5%");
        assert_eq!(pct("99.999999999%").to_string(), "99.999999999%");
        assert_eq!(pct("100%").number(), "100");
        assert_eq!(Percent::from_f64(99.95).unwrap(), pct("99.95"));
        assert_eq!(pct("99.95").as_f64(), 99.95);
    }

    #[test]
    fn rejects_what_is_not_an_exact_percentage() {
        for bad in [
            "101%",
            "lots",
            "",
            "%",
            "1e2",
            "-1",
            "99.9999999999%",
            "1000",
        ] {
            assert!(Percent::parse(bad).is_err(), "{bad}");
        }
        assert!(Percent::from_f64(f64::NAN).is_err());
        assert!(Percent::from_f64(100.5).is_err());
    }

    #[test]
    fn shares_of_a_period_are_exact() {
        let thirty_days_us = 30 * 86_400 * 1_000_000u64;
        // The reproduction of issue 8 item 4: f64 gave 1295999.9999998573 ms.
        assert_eq!(pct("99.95%").complement().of(thirty_days_us), 1_296_000_000);
        assert_eq!(pct("99.9%").complement().of(thirty_days_us), 2_592_000_000);
        assert_eq!(pct("100%").complement().of(thirty_days_us), 0);
        assert_eq!(pct("0%").complement().of(u64::MAX), u64::MAX);
    }

    #[test]
    fn ratios_compare_exactly() {
        // 619/625 is exactly 99.04%; in f64, 619/625*100 is 99.03999999999999.
        assert!(pct("99.04%").is_met_by(619, 625));
        assert!(!pct("99.04%").is_met_by(618, 625));
        assert!(pct("99.95%").is_met_by(1999, 2000));
        assert!(!pct("0%").is_met_by(0, 0));
        assert!(pct("50%").is_not_exceeded_by(1, 2));
        assert!(!pct("50%").is_not_exceeded_by(1_000_001, 2_000_000));
        assert!(pct("0%").is_not_exceeded_by(0, 0));
        assert!(!pct("100%").is_not_exceeded_by(1, 0));
    }
}
