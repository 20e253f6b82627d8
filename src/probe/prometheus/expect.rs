//! `expect:` — the condition a metric value must satisfy: `"< 0.01"`, `"> 0"`,
//! `"<= 5"`, `">= 0.99"`, `"== 1"`, or `{between: [a, b]}` (inclusive).

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A comparison operator of an `expect` expression.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
    Eq,
}

impl Op {
    fn as_str(self) -> &'static str {
        match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
        }
    }
}

/// A parsed `expect`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Expectation {
    /// `value <op> bound`, e.g. `< 0.01`.
    Compare(Op, f64),
    /// `low <= value <= high`.
    Between(f64, f64),
}

/// Why an `expect` expression was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ExpectError {
    #[error("empty expectation; write e.g. `< 0.01`")]
    Empty,
    #[error("`{0}` does not start with a comparison (<, <=, >, >=, ==); write e.g. `< 0.01`")]
    NoOperator(String),
    #[error("`{text}`: `{number}` is not a number")]
    BadNumber { text: String, number: String },
    #[error("between: [{0}, {1}]: the first bound is greater than the second")]
    Reversed(f64, f64),
}

impl Expectation {
    /// Whether `value` satisfies the expectation. NaN satisfies nothing.
    pub fn holds(&self, value: f64) -> bool {
        match *self {
            Expectation::Compare(Op::Lt, bound) => value < bound,
            Expectation::Compare(Op::Le, bound) => value <= bound,
            Expectation::Compare(Op::Gt, bound) => value > bound,
            Expectation::Compare(Op::Ge, bound) => value >= bound,
            Expectation::Compare(Op::Eq, bound) => value == bound,
            Expectation::Between(low, high) => low <= value && value <= high,
        }
    }

    /// `between: [low, high]`, refused when `low > high` or a bound is not finite.
    pub fn between(low: f64, high: f64) -> Result<Expectation, ExpectError> {
        for bound in [low, high] {
            if !bound.is_finite() {
                let text = format!("between: [{low}, {high}]");
                return Err(ExpectError::BadNumber {
                    text,
                    number: bound.to_string(),
                });
            }
        }
        if low > high {
            return Err(ExpectError::Reversed(low, high));
        }
        Ok(Expectation::Between(low, high))
    }
}

impl FromStr for Expectation {
    type Err = ExpectError;

    fn from_str(text: &str) -> Result<Expectation, ExpectError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(ExpectError::Empty);
        }
        // Two-character operators first, so `<=` is not read as `<` and `=5`.
        let ops = [Op::Le, Op::Ge, Op::Eq, Op::Lt, Op::Gt];
        let Some((op, rest)) = ops
            .iter()
            .find_map(|op| trimmed.strip_prefix(op.as_str()).map(|rest| (*op, rest)))
        else {
            return Err(ExpectError::NoOperator(trimmed.to_string()));
        };
        let number = rest.trim();
        match number.parse::<f64>() {
            Ok(bound) if bound.is_finite() => Ok(Expectation::Compare(op, bound)),
            _ => Err(ExpectError::BadNumber {
                text: trimmed.to_string(),
                number: number.to_string(),
            }),
        }
    }
}

impl fmt::Display for Expectation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expectation::Compare(op, bound) => write!(f, "{} {bound}", op.as_str()),
            Expectation::Between(low, high) => write!(f, "between {low} and {high}"),
        }
    }
}

impl Serialize for Expectation {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Expectation::Compare(..) => serializer.serialize_str(&self.to_string()),
            Expectation::Between(low, high) => {
                let mut map = serializer.serialize_map(Some(1))?;
                map.serialize_entry("between", &[low, high])?;
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Expectation {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Expectation, D::Error> {
        deserializer.deserialize_any(ExpectationVisitor)
    }
}

struct ExpectationVisitor;

impl<'de> Visitor<'de> for ExpectationVisitor {
    type Value = Expectation;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a comparison like \"< 0.01\", or {between: [low, high]}")
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Expectation, E> {
        text.parse().map_err(E::custom)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Expectation, A::Error> {
        let Some(key) = map.next_key::<String>()? else {
            return Err(de::Error::custom("expected {between: [low, high]}"));
        };
        if key != "between" {
            return Err(de::Error::unknown_field(&key, &["between"]));
        }
        let [low, high] = map.next_value::<[f64; 2]>()?;
        if let Some(extra) = map.next_key::<String>()? {
            return Err(de::Error::unknown_field(&extra, &["between"]));
        }
        Expectation::between(low, high).map_err(de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Expectation {
        text.parse().unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn every_operator_parses_and_holds_as_written() {
        assert_eq!(parse("< 0.01"), Expectation::Compare(Op::Lt, 0.01));
        assert_eq!(parse("<=5"), Expectation::Compare(Op::Le, 5.0));
        assert_eq!(parse(" >= 0.99 "), Expectation::Compare(Op::Ge, 0.99));
        assert_eq!(parse("> -1e3"), Expectation::Compare(Op::Gt, -1000.0));
        assert_eq!(parse("== 1"), Expectation::Compare(Op::Eq, 1.0));
        assert!(parse("< 0.01").holds(0.005) && !parse("< 0.01").holds(0.01));
        assert!(parse("<= 5").holds(5.0) && !parse("<= 5").holds(5.1));
        assert!(parse("> 0").holds(0.1) && !parse("> 0").holds(0.0));
        assert!(parse(">= 2").holds(2.0) && !parse(">= 2").holds(1.9));
        assert!(parse("== 1").holds(1.0) && !parse("== 1").holds(1.5));
        assert!(!parse("< 1").holds(f64::NAN) && !parse("> 1").holds(f64::NAN));
    }

    #[test]
    fn between_is_inclusive_and_read_from_yaml() {
        let e: Expectation = serde_yaml::from_str("between: [1, 3]").unwrap();
        assert_eq!(e, Expectation::Between(1.0, 3.0));
        assert!(e.holds(1.0) && e.holds(3.0) && e.holds(2.0));
        assert!(!e.holds(0.99) && !e.holds(3.01) && !e.holds(f64::NAN));
        let s: Expectation = serde_yaml::from_str("'< 0.01'").unwrap();
        assert_eq!(s, Expectation::Compare(Op::Lt, 0.01));
        assert_eq!(
            serde_yaml::to_string(&e).unwrap().trim(),
            "between:\n- 1.0\n- 3.0"
        );
        assert_eq!(serde_yaml::to_string(&s).unwrap().trim(), "< 0.01");
    }

    #[test]
    fn bad_expressions_say_what_is_wrong() {
        assert_eq!("".parse::<Expectation>(), Err(ExpectError::Empty));
        let no_op = "0.01".parse::<Expectation>().unwrap_err();
        assert_eq!(no_op, ExpectError::NoOperator("0.01".into()));
        assert!(no_op.to_string().contains("write e.g. `< 0.01`"));
        let bad = "< lots".parse::<Expectation>().unwrap_err();
        assert_eq!(bad.to_string(), "`< lots`: `lots` is not a number");
        assert!(matches!(
            "<".parse::<Expectation>(),
            Err(ExpectError::BadNumber { .. })
        ));
        assert!(matches!(
            "< NaN".parse::<Expectation>(),
            Err(ExpectError::BadNumber { .. })
        ));
        assert!(matches!(
            "=< 1".parse::<Expectation>(),
            Err(ExpectError::NoOperator(_))
        ));
        assert!(matches!(
            "!= 1".parse::<Expectation>(),
            Err(ExpectError::NoOperator(_))
        ));
        let reversed = serde_yaml::from_str::<Expectation>("between: [3, 1]").unwrap_err();
        assert!(
            reversed.to_string().contains("first bound is greater"),
            "{reversed}"
        );
        let unknown = serde_yaml::from_str::<Expectation>("below: 3").unwrap_err();
        assert!(
            unknown.to_string().contains("unknown field `below`"),
            "{unknown}"
        );
        assert!(serde_yaml::from_str::<Expectation>("between: [1]").is_err());
        assert!(serde_yaml::from_str::<Expectation>("0.5").is_err());
    }
}
