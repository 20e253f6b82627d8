//! `expect_body` checks, compiled once from the spec and run on every body.

use super::spec::ExpectBodySpec;
use crate::probe::failure::{Failure, FailureClass};

/// A compiled `expect_body`.
#[derive(Debug, Clone, PartialEq)]
pub enum BodyCheck {
    /// The body contains this text.
    Contains(String),
    /// The body is JSON whose value at `pointer` equals `equals`.
    JsonPointer {
        pointer: String,
        equals: serde_json::Value,
    },
}

impl BodyCheck {
    /// Compiles a spec; the error says what is wrong with it, for the spec's error list.
    pub fn compile(spec: &ExpectBodySpec) -> Result<BodyCheck, String> {
        match (&spec.contains, &spec.json_pointer, &spec.equals) {
            (Some(text), None, None) => Ok(BodyCheck::Contains(text.clone())),
            (None, Some(pointer), Some(equals)) => {
                if !pointer.is_empty() && !pointer.starts_with('/') {
                    return Err(format!(
                        "json_pointer `{pointer}` must start with `/` (e.g. `/status`)"
                    ));
                }
                Ok(BodyCheck::JsonPointer {
                    pointer: pointer.clone(),
                    equals: equals.clone(),
                })
            }
            (None, Some(_), None) => Err("json_pointer needs `equals: <value>`".into()),
            (None, None, Some(_)) => Err("`equals` needs `json_pointer`".into()),
            (None, None, None) => Err("expect_body needs `contains` or `json_pointer`".into()),
            (Some(_), _, _) => {
                Err("expect_body takes either `contains` or `json_pointer`, not both".into())
            }
        }
    }

    /// Checks one body; a mismatch is a `body` failure saying what was found.
    pub fn check(&self, body: &[u8]) -> Result<(), Failure> {
        match self {
            BodyCheck::Contains(text) => {
                if contains(body, text.as_bytes()) {
                    Ok(())
                } else {
                    Err(body_failure(format!("body does not contain `{text}`")))
                }
            }
            BodyCheck::JsonPointer { pointer, equals } => check_pointer(body, pointer, equals),
        }
    }
}

fn check_pointer(body: &[u8], pointer: &str, equals: &serde_json::Value) -> Result<(), Failure> {
    let doc: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| body_failure(format!("body is not JSON: {e}")))?;
    let Some(found) = doc.pointer(pointer) else {
        return Err(body_failure(format!("body has no `{pointer}`")));
    };
    if json_equal(found, equals) {
        Ok(())
    } else {
        Err(body_failure(format!(
            "body `{pointer}` is {} (expected {equals})",
            short(found)
        )))
    }
}

/// JSON equality where numbers compare by value: YAML's `1` and a body's `1.0` agree.
fn json_equal(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    use serde_json::Value;
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            (Some(x), Some(y)) => x == y,
            _ => x == y,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| json_equal(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

/// A value as text, cut short: failure reasons are grouped and shown in tables.
fn short(value: &serde_json::Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(60) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

fn body_failure(detail: String) -> Failure {
    Failure::new(FailureClass::Body, detail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(yaml: &str) -> ExpectBodySpec {
        serde_yaml::from_str(yaml).expect("spec parses")
    }

    #[test]
    fn contains_matches_text_in_the_body() {
        let check = BodyCheck::compile(&spec("contains: ok")).unwrap();
        assert!(check.check(b"status: ok\n").is_ok());
        let err = check.check(b"status: down").unwrap_err();
        assert_eq!(err.class, FailureClass::Body);
        assert_eq!(err.detail, "body does not contain `ok`");
    }

    #[test]
    fn json_pointer_compares_the_value_numbers_by_value() {
        let check = BodyCheck::compile(&spec("json_pointer: /status\nequals: up")).unwrap();
        assert!(check.check(br#"{"status":"up"}"#).is_ok());
        let err = check.check(br#"{"status":"down"}"#).unwrap_err();
        assert_eq!(err.detail, r#"body `/status` is "down" (expected "up")"#);
        let missing = check.check(br#"{"state":"up"}"#).unwrap_err();
        assert_eq!(missing.detail, "body has no `/status`");
        let not_json = check.check(b"<html>").unwrap_err();
        assert!(
            not_json.detail.starts_with("body is not JSON"),
            "{not_json}"
        );

        let nested = BodyCheck::compile(&spec("json_pointer: /db/replicas\nequals: 3")).unwrap();
        assert!(nested.check(br#"{"db":{"replicas":3.0}}"#).is_ok());
        assert!(nested.check(br#"{"db":{"replicas":2}}"#).is_err());
        assert!(json_equal(&json!([1, {"a": 2}]), &json!([1.0, {"a": 2.0}])));
    }

    #[test]
    fn bad_specs_are_refused_with_the_reason() {
        let both = BodyCheck::compile(&spec("contains: ok\njson_pointer: /a\nequals: 1"));
        assert!(both.unwrap_err().contains("not both"));
        let no_equals = BodyCheck::compile(&spec("json_pointer: /a"));
        assert!(no_equals.unwrap_err().contains("needs `equals"));
        let bad_pointer = BodyCheck::compile(&spec("json_pointer: status\nequals: up"));
        assert!(bad_pointer.unwrap_err().contains("must start with `/`"));
        let unknown = serde_yaml::from_str::<ExpectBodySpec>("contain: ok");
        assert!(unknown.is_err(), "unknown keys are denied");
    }
}
