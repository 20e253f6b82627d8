//! Value types written as strings in specs: durations (`250ms`, `10s`, `1h`) and
//! percentages (`99.95%`).

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use std::fmt;
use std::time::Duration;

/// The longest duration a spec may write (humantime's `1y`, 365.25 days): longer than
/// any experiment or SLA period, and far enough from `Duration::MAX` that sums of a few
/// durations (a fault's start plus its length) cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(31_557_600);

fn too_long(text: &str) -> String {
    format!("`{text}` is longer than 1 year, the longest duration allowed")
}

/// A duration written with a unit: `250ms`, `10s`, `1m30s`, `1h`, `30d`, `500us`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Dur(pub Duration);

impl Dur {
    pub fn parse(text: &str) -> Result<Dur, String> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(
                "expected a duration like \"250ms\" or \"10s\", found an empty string".into(),
            );
        }
        if trimmed.chars().all(|c| c.is_ascii_digit() || c == '.') {
            return Err(format!(
                "`{trimmed}` has no unit; write it like \"{trimmed}s\" or \"{trimmed}ms\""
            ));
        }
        let d = humantime::parse_duration(trimmed).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => {
                format!("`{trimmed}` is out of range: a duration is between 1ns and 1 year")
            }
            e => format!("`{trimmed}` is not a duration like \"250ms\" or \"10s\" ({e})"),
        })?;
        if d > MAX_DURATION {
            return Err(too_long(trimmed));
        }
        Ok(Dur(d))
    }

    pub fn as_ms_f64(&self) -> f64 {
        self.0.as_secs_f64() * 1000.0
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

/// The one formatting of durations lives in [`crate::format`]; re-exported for the spec's `Display`.
pub use crate::format::format_duration;

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Dur;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a duration like \"250ms\" or \"10s\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Dur, E> {
                Dur::parse(v).map_err(E::custom)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit; write it like \"{v}s\" or \"{v}ms\""
                )))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Dur, E> {
                if v >= 0 {
                    return self.visit_u64(v as u64);
                }
                Err(E::custom(format!(
                    "`{v}` is not a duration: it is negative"
                )))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Dur, E> {
                Err(E::custom(format!(
                    "`{v}` has no unit; write it like \"{v}s\" or \"{v}ms\""
                )))
            }
        }
        // The placeholder is a length typical of experiments (an hour): checks that
        // compare durations ("ends after the run's duration", "more than 50 million
        // samples") then rarely fire on it and echo the bad value a second time.
        crate::spec::yaml::recover(d.deserialize_any(V), || Dur(Duration::from_secs(3600)))
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

/// A percentage, written `99.95%` (or a bare number `99.95`), kept exactly.
pub use crate::percent::Percent;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_units_only() {
        assert_eq!(Dur::parse("250ms").unwrap().0, Duration::from_millis(250));
        assert_eq!(Dur::parse("1m30s").unwrap().0, Duration::from_secs(90));
        assert_eq!(
            Dur::parse("30d").unwrap().0,
            Duration::from_secs(30 * 86400)
        );
        assert!(Dur::parse("10").unwrap_err().contains("no unit"));
        assert!(Dur::parse("ten seconds").is_err());
    }

    #[test]
    fn durations_longer_than_a_year_are_refused_without_overflow() {
        assert_eq!(Dur::parse("1y").unwrap().0, MAX_DURATION);
        for text in [
            "18446744073709551615s",
            "10000000000000000000s",
            "5124095576031h",
            "366d",
            "99999999999999999999999999h",
        ] {
            let e = Dur::parse(text).unwrap_err();
            assert!(e.contains("1 year"), "{text}: {e}");
        }
    }

    #[test]
    fn durations_format_compactly() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(90)), "1m30s");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::from_micros(1500)), "1.5ms");
    }

    #[test]
    fn percentages_parse_and_bound() {
        assert_eq!(Percent::parse("99.95%").unwrap().as_f64(), 99.95);
        assert_eq!(Percent::parse("99").unwrap().as_f64(), 99.0);
        assert!(Percent::parse("101%").is_err());
        assert!(Percent::parse("lots").is_err());
    }
}
