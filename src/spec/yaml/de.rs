//! A serde `Deserializer` over a positioned [`Node`] tree that records every error
//! it can find instead of stopping at the first.
//!
//! Error protocol: an error is written to the [`Sink`] exactly once, by the
//! innermost deserializer frame that knows a position for it, and then travels
//! up as [`Error::Recorded`] (a marker with no text of its own). Errors made by
//! serde-derive code (`missing field`, `invalid type`, custom `deserialize_with`
//! messages) arrive without a position as [`Error::Message`]; the first frame
//! they pass through gives them its node's position and path.

use std::cell::{Cell, RefCell};
use std::fmt;

use serde::de::{
    self, DeserializeSeed, EnumAccess, IntoDeserializer, MapAccess, SeqAccess, Unexpected,
    VariantAccess, Visitor,
};

use super::tree::{Kind, Node};
use super::{did_you_mean, join_index, join_key, Pos};

/// Display text of [`Error::Recorded`]. `each` recognises our already-recorded
/// errors by this text, since it cannot name our error type through `D::Error`.
const RECORDED: &str = "shakeout::spec::yaml: error already recorded with its position";

#[derive(Debug)]
pub(super) enum Error {
    /// Already in the sink; carries nothing so it cannot be reported twice.
    Recorded,
    /// Not yet positioned.
    Message(String),
    /// `unknown field` raised by serde itself (inside tagged enums, where our
    /// struct code does not run): the field name lets us find the key.
    UnknownField { field: String, message: String },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Recorded => f.write_str(RECORDED),
            Error::Message(m) | Error::UnknownField { message: m, .. } => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error::Message(msg.to_string())
    }

    // serde's default reads "invalid type: string "x", expected u16"; lead with
    // what was wanted instead, which is what a spec author needs first.
    fn invalid_type(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Error::Message(format!(
            "expected {}, found {}",
            plain_expected(&exp.to_string()),
            plain_unexpected(&unexp)
        ))
    }

    fn invalid_value(unexp: Unexpected<'_>, exp: &dyn de::Expected) -> Self {
        Self::invalid_type(unexp, exp)
    }

    // These two are also reached through serde's internal buffering (tagged and
    // untagged enums), where our own struct/enum code does not run.
    fn unknown_field(field: &str, expected: &'static [&'static str]) -> Self {
        Error::UnknownField {
            field: field.to_string(),
            message: unknown("field", field, expected),
        }
    }

    fn unknown_variant(variant: &str, expected: &'static [&'static str]) -> Self {
        Error::Message(unknown("variant", variant, expected))
    }
}

/// serde names what a number field wants by its Rust type (`u32`); say it in words.
fn plain_expected(exp: &str) -> String {
    let range = |lo: &str, hi: &str| format!("a whole number from {lo} to {hi}");
    match exp {
        "u8" => range("0", "255"),
        "u16" => range("0", "65535"),
        "u32" => range("0", "4294967295"),
        "u64" | "usize" => range("0", "18446744073709551615"),
        "i8" => range("-128", "127"),
        "i16" => range("-32768", "32767"),
        "i32" => range("-2147483648", "2147483647"),
        "i64" | "isize" => range("-9223372036854775808", "9223372036854775807"),
        "u128" | "i128" => "a whole number".to_string(),
        "f32" | "f64" => "a number".to_string(),
        "char" => "a single character".to_string(),
        other => other.to_string(),
    }
}

/// serde's words for a value ("unit value", "integer `1` as i128") in the spec's terms.
fn plain_unexpected(unexp: &Unexpected<'_>) -> String {
    match unexp {
        Unexpected::Unit | Unexpected::Option => "nothing (null)".to_string(),
        Unexpected::Bool(b) => format!("boolean `{b}`"),
        Unexpected::Unsigned(n) => format!("`{n}`"),
        Unexpected::Signed(n) => format!("`{n}`"),
        Unexpected::Float(f) => format!("`{f}`"),
        Unexpected::Char(c) => format!("{:?}", c.to_string()),
        Unexpected::Str(s) => format!("string {s:?}"),
        Unexpected::Seq => "a sequence".to_string(),
        Unexpected::Map => "a mapping".to_string(),
        Unexpected::Other(o) => o
            .strip_suffix(" as i128")
            .or_else(|| o.strip_suffix(" as u128"))
            .map(|n| n.trim_start_matches("integer ").to_string())
            .unwrap_or_else(|| o.to_string()),
        other => other.to_string(),
    }
}

/// "unknown field `timout`, did you mean `timeout`?" or the list of valid names.
pub(super) fn unknown(what: &str, word: &str, expected: &[&str]) -> String {
    if let Some(best) = did_you_mean(word, expected) {
        format!("unknown {what} `{word}`, did you mean `{best}`?")
    } else if expected.is_empty() {
        format!("unknown {what} `{word}`; nothing is allowed here")
    } else {
        format!(
            "unknown {what} `{word}`; expected one of: {}",
            expected.join(", ")
        )
    }
}

pub(super) struct Recorded {
    pub pos: Option<Pos>,
    pub path: String,
    pub message: String,
}

/// Every error found so far, in the order found.
#[derive(Default)]
pub(super) struct Sink {
    errors: RefCell<Vec<Recorded>>,
}

impl Sink {
    pub fn record(&self, pos: Option<Pos>, path: &str, message: String) {
        self.errors.borrow_mut().push(Recorded {
            pos,
            path: path.to_string(),
            message,
        });
    }

    pub fn into_errors(self) -> Vec<Recorded> {
        self.errors.into_inner()
    }
}

thread_local! {
    /// How many of our deserializations are running on this thread.
    static ACTIVE: Cell<usize> = const { Cell::new(0) };
}

thread_local! {
    /// How many recorded errors were replaced by a placeholder value ([`super::recover`])
    /// in the deserialization running on this thread.
    static RECOVERED: Cell<usize> = const { Cell::new(0) };
}

pub(super) fn note_recovered() {
    RECOVERED.with(|r| r.set(r.get() + 1));
}

/// Start counting recoveries for a new deserialization; returns the count so far.
pub(super) fn take_recovered() -> usize {
    RECOVERED.with(|r| r.replace(0))
}

/// Marks our deserializer as running on this thread while alive (panic-safe).
pub(super) struct Active(());

impl Active {
    pub fn enter() -> Self {
        ACTIVE.with(|a| a.set(a.get() + 1));
        Active(())
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.with(|a| a.set(a.get().saturating_sub(1)));
    }
}

/// True when `e` is our [`Error::Recorded`]: safe to drop, it is in the sink.
/// Any other error (another format's, or ours still unpositioned) is not.
pub(super) fn already_recorded(e: &impl fmt::Display) -> bool {
    ACTIVE.with(|a| a.get() > 0) && e.to_string() == RECORDED
}

/// Record an unpositioned error at `node` (whose path is `path`); pass
/// everything else through.
fn attach<T>(sink: &Sink, node: &Node, path: &str, r: Result<T, Error>) -> Result<T, Error> {
    match r {
        Err(Error::Message(m)) => {
            sink.record(Some(node.pos), path, m);
            Err(Error::Recorded)
        }
        Err(Error::UnknownField { field, message }) => {
            match find_key(node, &field, path) {
                Some((pos, key_path)) => sink.record(Some(pos), &key_path, message),
                None => sink.record(Some(node.pos), path, message),
            }
            Err(Error::Recorded)
        }
        other => other,
    }
}

/// First key named `name` in `node`'s subtree, in document order.
fn find_key(node: &Node, name: &str, path: &str) -> Option<(Pos, String)> {
    match &node.kind {
        Kind::Map(entries) => {
            if let Some((key, _)) = entries.iter().find(|(k, _)| k.key_text() == Some(name)) {
                return Some((key.pos, join_key(path, name)));
            }
            entries.iter().find_map(|(k, v)| {
                let text = k.key_text()?;
                find_key(v, name, &join_key(path, text))
            })
        }
        Kind::Seq(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, item)| find_key(item, name, &join_index(path, i))),
        Kind::Null | Kind::Scalar { .. } => None,
    }
}

fn err<T>(msg: String) -> Result<T, Error> {
    Err(Error::Message(msg))
}

/// A YAML 1.2 core-schema reading of a plain scalar.
enum Plain {
    Bool(bool),
    Int(i128),
    Float(f64),
    Str,
}

fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "True" | "TRUE" => Some(true),
        "false" | "False" | "FALSE" => Some(false),
        _ => None,
    }
}

fn parse_int(s: &str) -> Option<i128> {
    let (neg, digits) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if let Some(hex) = digits.strip_prefix("0x") {
        (16, hex)
    } else if let Some(oct) = digits.strip_prefix("0o") {
        (8, oct)
    } else {
        (10, digits)
    };
    // from_str_radix would accept a second sign ("+-5"); only digits may follow.
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let n = i128::from_str_radix(digits, radix).ok()?;
    Some(if neg { -n } else { n })
}

fn parse_float(s: &str) -> Option<f64> {
    match s {
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Some(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Some(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Some(f64::NAN),
        _ => {}
    }
    // Rust also parses "inf", "NaN" and "infinity"; YAML treats those as strings.
    let numeric = s.chars().any(|c| c.is_ascii_digit())
        && s.chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if numeric {
        s.parse().ok()
    } else {
        None
    }
}

fn resolve(s: &str) -> Plain {
    if let Some(b) = parse_bool(s) {
        Plain::Bool(b)
    } else if let Some(i) = parse_int(s) {
        Plain::Int(i)
    } else if let Some(f) = parse_float(s) {
        Plain::Float(f)
    } else {
        Plain::Str
    }
}

/// How a node reads in "expected X, found Y".
fn describe(node: &Node) -> String {
    match &node.kind {
        Kind::Null => "null".to_string(),
        Kind::Seq(_) => "a sequence".to_string(),
        Kind::Map(_) => "a mapping".to_string(),
        Kind::Scalar { value, plain: true } => match resolve(value) {
            Plain::Bool(_) => format!("boolean `{value}`"),
            Plain::Int(_) => format!("integer `{value}`"),
            Plain::Float(_) => format!("number `{value}`"),
            Plain::Str => format!("string {value:?}"),
        },
        Kind::Scalar { value, .. } => format!("string {value:?}"),
    }
}

fn visit_int<'de, V: Visitor<'de>>(v: V, n: i128) -> Result<V::Value, Error> {
    if let Ok(i) = i64::try_from(n) {
        v.visit_i64(i)
    } else if let Ok(u) = u64::try_from(n) {
        v.visit_u64(u)
    } else {
        v.visit_i128(n)
    }
}

/// Deserializer for one node, at one field path.
#[derive(Clone)]
pub(super) struct NodeDe<'a> {
    node: &'a Node,
    path: String,
    sink: &'a Sink,
}

impl<'a> NodeDe<'a> {
    pub fn new(node: &'a Node, path: String, sink: &'a Sink) -> Self {
        NodeDe { node, path, sink }
    }

    fn attach<T>(&self, r: Result<T, Error>) -> Result<T, Error> {
        attach(self.sink, self.node, &self.path, r)
    }

    fn expected<T>(&self, what: &str) -> Result<T, Error> {
        err(format!("expected {what}, found {}", describe(self.node)))
    }

    fn scalar(&self) -> Option<&'a str> {
        match &self.node.kind {
            Kind::Scalar { value, .. } => Some(value),
            _ => None,
        }
    }

    fn any<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            Kind::Null => v.visit_unit(),
            Kind::Scalar { value, plain: true } => match resolve(value) {
                Plain::Bool(b) => v.visit_bool(b),
                Plain::Int(n) => visit_int(v, n),
                Plain::Float(f) => v.visit_f64(f),
                Plain::Str => v.visit_str(value),
            },
            Kind::Scalar { value, .. } => v.visit_str(value),
            Kind::Seq(items) => v.visit_seq(SeqDe::new(items, &self.path, self.sink)),
            Kind::Map(entries) => v.visit_map(MapDe::new(
                entries.iter().collect(),
                false,
                &self.path,
                self.sink,
            )),
        }
    }

    fn bool<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match self.scalar().and_then(parse_bool) {
            Some(b) => v.visit_bool(b),
            None => self.expected("a boolean (true or false)"),
        }
    }

    // Quoted numbers are accepted too: `port: "8080"` is unambiguous.
    fn int<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match self.scalar().and_then(|s| parse_int(s.trim())) {
            Some(n) => visit_int(v, n),
            None => self.expected("an integer"),
        }
    }

    fn float<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match self.scalar().and_then(|s| parse_float(s.trim())) {
            Some(f) => v.visit_f64(f),
            None => self.expected("a number"),
        }
    }

    // Any scalar reads as its text, so `zone: 1` fills a String field with "1".
    fn str<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(s) => v.visit_str(s),
            None => self.expected("a string"),
        }
    }

    fn char<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match self.scalar() {
            Some(s) => {
                let mut chars = s.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => v.visit_char(c),
                    // Let the visitor word the complaint about a longer string.
                    _ => v.visit_str(s),
                }
            }
            None => self.expected("a single character"),
        }
    }

    fn bytes<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            Kind::Scalar { value, .. } => v.visit_bytes(value.as_bytes()),
            Kind::Seq(_) => self.seq(v),
            _ => self.expected("a string or a sequence of bytes"),
        }
    }

    fn unit<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match self.node.kind {
            Kind::Null => v.visit_unit(),
            _ => self.expected("nothing (null)"),
        }
    }

    // An empty `key:` reads as an empty list or mapping: a spec author writing
    // `faults:` with nothing under it means "no faults".
    fn seq<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            Kind::Seq(items) => v.visit_seq(SeqDe::new(items, &self.path, self.sink)),
            Kind::Null => v.visit_seq(SeqDe::new(&[], &self.path, self.sink)),
            _ => self.expected("a sequence"),
        }
    }

    fn map<'de, V: Visitor<'de>>(&self, v: V) -> Result<V::Value, Error> {
        match &self.node.kind {
            Kind::Map(entries) => v.visit_map(MapDe::new(
                entries.iter().collect(),
                false,
                &self.path,
                self.sink,
            )),
            Kind::Null => v.visit_map(MapDe::new(Vec::new(), false, &self.path, self.sink)),
            _ => self.expected("a mapping"),
        }
    }

    /// Unknown keys are recorded at the key and skipped, so the rest of the
    /// mapping is still checked and the visitor only sees known fields.
    fn struct_<'de, V: Visitor<'de>>(
        &self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let entries = match &self.node.kind {
            Kind::Map(entries) => entries,
            Kind::Null => return v.visit_map(MapDe::new(Vec::new(), true, &self.path, self.sink)),
            _ => return self.expected("a mapping"),
        };
        let mut known = Vec::with_capacity(entries.len());
        for entry in entries {
            let (key, _) = entry;
            match key.key_text() {
                Some(name) if fields.contains(&name) => known.push(entry),
                Some(name) => self.sink.record(
                    Some(key.pos),
                    &join_key(&self.path, name),
                    unknown("field", name, fields),
                ),
                None => self.sink.record(
                    Some(key.pos),
                    &self.path,
                    format!("expected a field name, found {}", describe(key)),
                ),
            }
        }
        v.visit_map(MapDe::new(known, true, &self.path, self.sink))
    }

    fn enum_<'de, V: Visitor<'de>>(
        &self,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match &self.node.kind {
            Kind::Scalar { value, .. } => v.visit_enum(EnumDe {
                name: value,
                name_node: self.node,
                name_path: self.path.clone(),
                value: None,
                sink: self.sink,
            }),
            Kind::Map(entries) if entries.len() == 1 => {
                let (key, value) = &entries[0];
                let Some(name) = key.key_text() else {
                    return self
                        .expected(&format!("a variant name (one of: {})", variants.join(", ")));
                };
                let path = join_key(&self.path, name);
                v.visit_enum(EnumDe {
                    name,
                    name_node: key,
                    name_path: path.clone(),
                    value: Some(NodeDe::new(value, path, self.sink)),
                    sink: self.sink,
                })
            }
            Kind::Map(entries) => err(format!(
                "expected a single key naming one of: {}; found a mapping with {} keys",
                variants.join(", "),
                entries.len()
            )),
            _ => self.expected(&format!("one of: {}", variants.join(", "))),
        }
    }
}

/// Each `deserialize_*` runs its body, then positions any error that came out.
macro_rules! forward {
    ($($method:ident => $inner:ident,)*) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            let r = self.$inner(v);
            self.attach(r)
        }
    )*};
}

impl<'de> de::Deserializer<'de> for NodeDe<'_> {
    type Error = Error;

    forward! {
        deserialize_any => any,
        deserialize_bool => bool,
        deserialize_i8 => int,
        deserialize_i16 => int,
        deserialize_i32 => int,
        deserialize_i64 => int,
        deserialize_i128 => int,
        deserialize_u8 => int,
        deserialize_u16 => int,
        deserialize_u32 => int,
        deserialize_u64 => int,
        deserialize_u128 => int,
        deserialize_f32 => float,
        deserialize_f64 => float,
        deserialize_char => char,
        deserialize_str => str,
        deserialize_string => str,
        deserialize_identifier => str,
        deserialize_bytes => bytes,
        deserialize_byte_buf => bytes,
        deserialize_unit => unit,
        deserialize_seq => seq,
        deserialize_map => map,
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let r = match self.node.kind {
            Kind::Null => v.visit_none(),
            _ => v.visit_some(self.clone()),
        };
        self.attach(r)
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        let r = self.unit(v);
        self.attach(r)
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        let r = v.visit_newtype_struct(self.clone());
        self.attach(r)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        let r = self.seq(v);
        self.attach(r)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        let r = self.seq(v);
        self.attach(r)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let r = self.struct_(fields, v);
        self.attach(r)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let r = self.enum_(variants, v);
        self.attach(r)
    }

    // Nothing inside an ignored value can be wrong, so do not walk it.
    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

struct SeqDe<'a> {
    items: std::iter::Enumerate<std::slice::Iter<'a, Node>>,
    path: &'a str,
    sink: &'a Sink,
}

impl<'a> SeqDe<'a> {
    fn new(items: &'a [Node], path: &'a str, sink: &'a Sink) -> Self {
        SeqDe {
            items: items.iter().enumerate(),
            path,
            sink,
        }
    }
}

impl<'de> SeqAccess<'de> for SeqDe<'_> {
    type Error = Error;

    // The iterator advances before the element is read, so a caller that
    // tolerates an element's error (`each`) moves on to the next element.
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some((i, node)) = self.items.next() else {
            return Ok(None);
        };
        let path = join_index(self.path, i);
        // Errors raised after the element's own deserializer returned (a
        // `deserialize_with` rejecting the value) are positioned here.
        let r = seed.deserialize(NodeDe::new(node, path.clone(), self.sink));
        attach(self.sink, node, &path, r).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

struct MapDe<'a> {
    entries: std::vec::IntoIter<&'a (Node, Node)>,
    /// Struct fields: keys are handed over as plain strings (already checked).
    string_keys: bool,
    /// The value of the key just returned, with its path.
    value: Option<(&'a Node, String)>,
    path: &'a str,
    sink: &'a Sink,
}

impl<'a> MapDe<'a> {
    fn new(
        entries: Vec<&'a (Node, Node)>,
        string_keys: bool,
        path: &'a str,
        sink: &'a Sink,
    ) -> Self {
        MapDe {
            entries: entries.into_iter(),
            string_keys,
            value: None,
            path,
            sink,
        }
    }
}

impl<'de> MapAccess<'de> for MapDe<'_> {
    type Error = Error;

    fn next_key_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, Error> {
        let Some((key, value)) = self.entries.next() else {
            return Ok(None);
        };
        let path = match key.key_text() {
            Some(text) => join_key(self.path, text),
            None => self.path.to_string(),
        };
        let r = match (self.string_keys, key.key_text()) {
            (true, Some(text)) => seed.deserialize(text.into_deserializer()),
            _ => seed.deserialize(NodeDe::new(key, path.clone(), self.sink)),
        };
        let k = attach(self.sink, key, &path, r)?;
        self.value = Some((value, path));
        Ok(Some(k))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let Some((node, path)) = self.value.take() else {
            return err("internal error: map value requested before its key".to_string());
        };
        let r = seed.deserialize(NodeDe::new(node, path.clone(), self.sink));
        attach(self.sink, node, &path, r)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}

/// An enum written as `variant` (unit) or `variant: value` (single-key mapping).
struct EnumDe<'a> {
    name: &'a str,
    /// The scalar (or key) that names the variant.
    name_node: &'a Node,
    name_path: String,
    /// None for the bare `variant` form.
    value: Option<NodeDe<'a>>,
    sink: &'a Sink,
}

impl<'de, 'a> EnumAccess<'de> for EnumDe<'a> {
    type Error = Error;
    type Variant = VariantDe<'a>;

    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, VariantDe<'a>), Error> {
        // serde checks the name against the variants (including `#[serde(other)]`
        // and aliases) and words the error via `de::Error::unknown_variant`.
        let r = seed.deserialize(self.name.into_deserializer());
        let v = attach(self.sink, self.name_node, &self.name_path, r)?;
        Ok((
            v,
            VariantDe {
                name: self.name,
                value: self.value,
            },
        ))
    }
}

struct VariantDe<'a> {
    name: &'a str,
    value: Option<NodeDe<'a>>,
}

impl VariantDe<'_> {
    fn needs_value<T>(&self) -> Result<T, Error> {
        err(format!(
            "`{0}` needs settings: write it as a mapping `{0}: ...`",
            self.name
        ))
    }
}

impl<'de> VariantAccess<'de> for VariantDe<'_> {
    type Error = Error;

    fn unit_variant(self) -> Result<(), Error> {
        match self.value {
            None => Ok(()),
            Some(de) if matches!(de.node.kind, Kind::Null) => Ok(()),
            Some(de) => {
                let r = err(format!(
                    "`{}` takes no settings, found {}",
                    self.name,
                    describe(de.node)
                ));
                de.attach(r)
            }
        }
    }

    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, seed: S) -> Result<S::Value, Error> {
        match self.value {
            Some(de) => {
                let keep = de.clone();
                let r = seed.deserialize(de);
                keep.attach(r)
            }
            None => self.needs_value(),
        }
    }

    fn tuple_variant<V: Visitor<'de>>(self, len: usize, v: V) -> Result<V::Value, Error> {
        match self.value {
            Some(de) => de::Deserializer::deserialize_tuple(de, len, v),
            None => self.needs_value(),
        }
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Some(de) => de::Deserializer::deserialize_struct(de, "", fields, v),
            None => self.needs_value(),
        }
    }
}
