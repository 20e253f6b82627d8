//! Toxic descriptions: the serde model of Toxiproxy's toxic JSON
//! (`{"name","type","stream","toxicity","attributes":{...}}`) with typed
//! attributes, plus the parsing rules (defaults, error precedence) the
//! Toxiproxy API applies.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ProxyError;

/// Which direction of a connection a toxic applies to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Client → server.
    Upstream,
    /// Server → client (Toxiproxy's default).
    #[default]
    Downstream,
}

impl Stream {
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Stream::Upstream => 0,
            Stream::Downstream => 1,
        }
    }

    fn parse(s: &str) -> Result<Self, ProxyError> {
        match s {
            "upstream" => Ok(Stream::Upstream),
            "downstream" => Ok(Stream::Downstream),
            _ => Err(ProxyError::InvalidStream),
        }
    }
}

/// `latency`: delay every chunk by `latency` ms ± `jitter` ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Latency {
    pub latency: u64,
    pub jitter: u64,
}

/// `bandwidth`: limit throughput to `rate` KB/s (1 KB = 1000 bytes, as Toxiproxy).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Bandwidth {
    pub rate: u64,
}

/// `slow_close`: delay propagating the close (EOF) by `delay` ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct SlowClose {
    pub delay: u64,
}

/// `timeout`: drop all data; close the connection after `timeout` ms
/// (0 = never, until the toxic is removed, which closes it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Timeout {
    pub timeout: u64,
}

/// `reset_peer`: on the first data, wait `timeout` ms then close with RST.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct ResetPeer {
    pub timeout: u64,
}

/// `slicer`: split data into pieces of `average_size` ± `size_variation`
/// bytes, `delay` µs apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct Slicer {
    pub average_size: u64,
    pub size_variation: u64,
    pub delay: u64,
}

/// `limit_data`: close the connection once `bytes` bytes have passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(default)]
pub struct LimitData {
    pub bytes: u64,
}

/// A toxic's type and its typed attributes. Serialises as Toxiproxy's
/// `"type"` + `"attributes"` pair.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "attributes", rename_all = "snake_case")]
pub enum ToxicKind {
    Latency(Latency),
    Bandwidth(Bandwidth),
    SlowClose(SlowClose),
    Timeout(Timeout),
    ResetPeer(ResetPeer),
    Slicer(Slicer),
    LimitData(LimitData),
}

impl ToxicKind {
    /// Toxiproxy's type name.
    pub fn type_name(&self) -> &'static str {
        match self {
            ToxicKind::Latency(_) => "latency",
            ToxicKind::Bandwidth(_) => "bandwidth",
            ToxicKind::SlowClose(_) => "slow_close",
            ToxicKind::Timeout(_) => "timeout",
            ToxicKind::ResetPeer(_) => "reset_peer",
            ToxicKind::Slicer(_) => "slicer",
            ToxicKind::LimitData(_) => "limit_data",
        }
    }

    fn is_known_type(t: &str) -> bool {
        matches!(
            t,
            "latency"
                | "bandwidth"
                | "slow_close"
                | "timeout"
                | "reset_peer"
                | "slicer"
                | "limit_data"
        )
    }

    /// Typed attributes from a JSON object. Missing fields default to 0 and
    /// unknown fields are ignored, as Go's decoder does; a known attribute out of
    /// its range is an error naming it.
    pub fn from_attributes(type_name: &str, attrs: &Value) -> Result<Self, ProxyError> {
        fn de<T: DeserializeOwned>(v: &Value) -> Result<T, ProxyError> {
            T::deserialize(v).map_err(|e| ProxyError::BadRequestBody(e.to_string()))
        }
        check_ranges(type_name, attrs)?;
        let kind = match type_name {
            "latency" => ToxicKind::Latency(de(attrs)?),
            "bandwidth" => ToxicKind::Bandwidth(de(attrs)?),
            "slow_close" => ToxicKind::SlowClose(de(attrs)?),
            "timeout" => ToxicKind::Timeout(de(attrs)?),
            "reset_peer" => ToxicKind::ResetPeer(de(attrs)?),
            "slicer" => ToxicKind::Slicer(de(attrs)?),
            "limit_data" => ToxicKind::LimitData(de(attrs)?),
            _ => return Err(ProxyError::InvalidToxicType),
        };
        kind.validate()?;
        Ok(kind)
    }

    /// Attributes as a JSON object.
    pub fn attributes(&self) -> Value {
        let v = match self {
            ToxicKind::Latency(a) => serde_json::to_value(a),
            ToxicKind::Bandwidth(a) => serde_json::to_value(a),
            ToxicKind::SlowClose(a) => serde_json::to_value(a),
            ToxicKind::Timeout(a) => serde_json::to_value(a),
            ToxicKind::ResetPeer(a) => serde_json::to_value(a),
            ToxicKind::Slicer(a) => serde_json::to_value(a),
            ToxicKind::LimitData(a) => serde_json::to_value(a),
        };
        // Serialising plain integer structs cannot fail; fall back to an
        // empty object rather than panicking anyway.
        v.unwrap_or_else(|_| Value::Object(Default::default()))
    }

    /// Attribute checks beyond "is a non-negative integer". Toxiproxy's slicer
    /// panics on a size_variation larger than average_size (rand.Intn of a
    /// bad range), so we reject it up front. Times are bounded so that a deadline
    /// (`now + latency + jitter`) can neither overflow nor wrap to no delay.
    pub fn validate(&self) -> Result<(), ProxyError> {
        for (name, value) in self.timed_attributes() {
            let max = attribute_max(self.type_name(), name);
            if value > max {
                return Err(out_of_range(
                    self.type_name(),
                    name,
                    &value.to_string(),
                    max,
                ));
            }
        }
        if let ToxicKind::Slicer(s) = self {
            if s.average_size == 0 {
                return Err(ProxyError::BadRequestBody(
                    "slicer average_size must be greater than 0".into(),
                ));
            }
            if s.size_variation >= s.average_size {
                return Err(ProxyError::BadRequestBody(
                    "slicer size_variation must be less than average_size".into(),
                ));
            }
        }
        Ok(())
    }
}

/// The longest time attribute accepted, in milliseconds: one year (365.25 days),
/// like the longest duration a spec may write.
pub const MAX_MS: u64 = 31_557_600_000;

impl ToxicKind {
    /// The attributes that are times, with their values.
    fn timed_attributes(&self) -> Vec<(&'static str, u64)> {
        match *self {
            ToxicKind::Latency(l) => vec![("latency", l.latency), ("jitter", l.jitter)],
            ToxicKind::SlowClose(s) => vec![("delay", s.delay)],
            ToxicKind::Timeout(t) => vec![("timeout", t.timeout)],
            ToxicKind::ResetPeer(r) => vec![("timeout", r.timeout)],
            ToxicKind::Slicer(s) => vec![("delay", s.delay)],
            ToxicKind::Bandwidth(_) | ToxicKind::LimitData(_) => Vec::new(),
        }
    }
}

/// Largest value of an attribute (`u64::MAX` for sizes and rates).
fn attribute_max(type_name: &str, attribute: &str) -> u64 {
    match (type_name, attribute) {
        // The slicer's delay is in microseconds.
        ("slicer", "delay") => MAX_MS * 1000,
        ("latency", _) | ("slow_close", "delay") | ("timeout" | "reset_peer", "timeout") => MAX_MS,
        _ => u64::MAX,
    }
}

/// Attribute names of each toxic type, for the range check before typed parsing.
fn attribute_names(type_name: &str) -> &'static [&'static str] {
    match type_name {
        "latency" => &["latency", "jitter"],
        "bandwidth" => &["rate"],
        "slow_close" => &["delay"],
        "timeout" | "reset_peer" => &["timeout"],
        "slicer" => &["average_size", "size_variation", "delay"],
        "limit_data" => &["bytes"],
        _ => &[],
    }
}

/// Every known attribute given must be a whole number within its range (null reads
/// as 0, as in Go). Checked on the JSON so that the error names the attribute.
fn check_ranges(type_name: &str, attrs: &Value) -> Result<(), ProxyError> {
    for &name in attribute_names(type_name) {
        let Some(v) = attrs.get(name) else { continue };
        let max = attribute_max(type_name, name);
        match v {
            Value::Null => {}
            Value::Number(n) if n.as_u64().is_some_and(|x| x <= max) => {}
            other => {
                let shown: String = other.to_string().chars().take(40).collect();
                return Err(out_of_range(type_name, name, &shown, max));
            }
        }
    }
    Ok(())
}

fn out_of_range(type_name: &str, attribute: &str, shown: &str, max: u64) -> ProxyError {
    let unit = match (type_name, attribute) {
        ("slicer", "delay") => " (microseconds, 1 year)",
        _ if attribute_max(type_name, attribute) == MAX_MS => " (milliseconds, 1 year)",
        _ => "",
    };
    ProxyError::BadRequestBody(format!(
        "{type_name} attribute `{attribute}` must be a whole number from 0 to {max}{unit}, found {shown}"
    ))
}

/// One toxic as the API shows it.
#[derive(Clone, Debug, PartialEq)]
pub struct ToxicSpec {
    pub name: String,
    pub stream: Stream,
    /// Probability that the toxic applies to a given connection.
    pub toxicity: f32,
    pub kind: ToxicKind,
}

impl ToxicSpec {
    /// A toxic with Toxiproxy's defaults: name `<type>_<stream>`, toxicity 1.
    pub fn new(kind: ToxicKind, stream: Stream) -> Self {
        ToxicSpec {
            name: format!("{}_{}", kind.type_name(), stream.as_str()),
            stream,
            toxicity: 1.0,
            kind,
        }
    }

    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    pub fn with_toxicity(mut self, toxicity: f32) -> Self {
        self.toxicity = toxicity;
        self
    }

    /// Checks what the JSON parser checks, for specs built in code.
    pub fn validate(&self) -> Result<(), ProxyError> {
        check_toxicity(self.toxicity)?;
        self.kind.validate()
    }

    /// Parses a toxic-create body with Toxiproxy's defaults and error order:
    /// body shape, stream, type, then attributes.
    pub fn from_json(v: &Value) -> Result<Self, ProxyError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ProxyError::BadRequestBody("expected a JSON object".into()))?;
        let name = opt_string(obj.get("name"), "name")?.unwrap_or_default();
        let type_name = opt_string(obj.get("type"), "type")?.unwrap_or_default();
        let stream_s = opt_string(obj.get("stream"), "stream")?;
        let toxicity = match obj.get("toxicity") {
            None | Some(Value::Null) => 1.0,
            Some(t) => t
                .as_f64()
                .ok_or_else(|| ProxyError::BadRequestBody("toxicity must be a number".into()))?
                as f32,
        };
        let stream = match stream_s.as_deref() {
            None | Some("") => Stream::Downstream,
            Some(s) => Stream::parse(s)?,
        };
        if !ToxicKind::is_known_type(&type_name) {
            return Err(ProxyError::InvalidToxicType);
        }
        check_toxicity(toxicity)?;
        let empty = Value::Object(Default::default());
        let attrs = match obj.get("attributes") {
            None | Some(Value::Null) => &empty,
            Some(a) => a,
        };
        let kind = ToxicKind::from_attributes(&type_name, attrs)?;
        let name = if name.is_empty() {
            format!("{}_{}", type_name, stream.as_str())
        } else {
            name
        };
        Ok(ToxicSpec {
            name,
            stream,
            toxicity,
            kind,
        })
    }

    /// Applies a toxic-update body: `attributes` fields given replace the
    /// current ones, `toxicity` replaces the current one; name, type and
    /// stream cannot change (Toxiproxy ignores them).
    pub fn updated(&self, v: &Value) -> Result<Self, ProxyError> {
        let obj = v
            .as_object()
            .ok_or_else(|| ProxyError::BadRequestBody("expected a JSON object".into()))?;
        let mut attrs = self.kind.attributes();
        match obj.get("attributes") {
            None | Some(Value::Null) => {}
            Some(Value::Object(given)) => {
                if let Value::Object(cur) = &mut attrs {
                    for (k, val) in given {
                        cur.insert(k.clone(), val.clone());
                    }
                }
            }
            Some(_) => {
                return Err(ProxyError::BadRequestBody(
                    "attributes must be an object".into(),
                ))
            }
        }
        let toxicity = match obj.get("toxicity") {
            None | Some(Value::Null) => self.toxicity,
            Some(t) => t
                .as_f64()
                .ok_or_else(|| ProxyError::BadRequestBody("toxicity must be a number".into()))?
                as f32,
        };
        check_toxicity(toxicity)?;
        let kind = ToxicKind::from_attributes(self.kind.type_name(), &attrs)?;
        Ok(ToxicSpec {
            name: self.name.clone(),
            stream: self.stream,
            toxicity,
            kind,
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "name": self.name,
            "type": self.kind.type_name(),
            "stream": self.stream.as_str(),
            "toxicity": f32_json(self.toxicity),
            "attributes": self.kind.attributes(),
        })
    }
}

/// An f32 as the JSON number with the same shortest decimal form (0.1, not
/// 0.10000000149011612), as Go prints float32 values.
fn f32_json(x: f32) -> Value {
    format!("{x}")
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
        .unwrap_or(Value::Null)
}

fn check_toxicity(t: f32) -> Result<(), ProxyError> {
    // Toxiproxy accepts any float; values outside [0, 1] are almost always
    // a unit mistake (percent vs fraction), so we refuse them.
    if !(0.0..=1.0).contains(&t) {
        return Err(ProxyError::BadRequestBody(
            "toxicity must be between 0 and 1".into(),
        ));
    }
    Ok(())
}

fn opt_string(v: Option<&Value>, field: &str) -> Result<Option<String>, ProxyError> {
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(ProxyError::BadRequestBody(format!(
            "{field} must be a string"
        ))),
    }
}

impl Serialize for ToxicSpec {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for ToxicSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        ToxicSpec::from_json(&v).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_and_round_trip() {
        let t = ToxicSpec::from_json(&json!({"type":"latency","attributes":{"latency":50}}))
            .expect("valid");
        assert_eq!(t.name, "latency_downstream");
        assert_eq!(t.stream, Stream::Downstream);
        assert_eq!(t.toxicity, 1.0);
        assert_eq!(
            t.kind,
            ToxicKind::Latency(Latency {
                latency: 50,
                jitter: 0
            })
        );
        let back: ToxicSpec = serde_json::from_value(t.to_json()).expect("round trip");
        assert_eq!(back, t);
        let t = t.with_toxicity(0.1);
        assert_eq!(t.to_json()["toxicity"].to_string(), "0.1");
    }

    #[test]
    fn errors() {
        assert!(matches!(
            ToxicSpec::from_json(&json!({"type":"nope"})),
            Err(ProxyError::InvalidToxicType)
        ));
        assert!(matches!(
            ToxicSpec::from_json(&json!({"type":"latency","stream":"sideways"})),
            Err(ProxyError::InvalidStream)
        ));
        assert!(matches!(
            ToxicSpec::from_json(&json!({"type":"latency","attributes":{"latency":"x"}})),
            Err(ProxyError::BadRequestBody(_))
        ));
        assert!(matches!(
            ToxicSpec::from_json(&json!({"type":"latency","attributes":{"latency":-1}})),
            Err(ProxyError::BadRequestBody(_))
        ));
    }

    #[test]
    fn partial_update_keeps_other_attributes() {
        let t =
            ToxicSpec::from_json(&json!({"type":"latency","attributes":{"latency":50,"jitter":5}}))
                .expect("valid");
        let u = t
            .updated(&json!({"attributes":{"latency":10}}))
            .expect("valid update");
        assert_eq!(
            u.kind,
            ToxicKind::Latency(Latency {
                latency: 10,
                jitter: 5
            })
        );
        assert_eq!(u.name, t.name);
    }

    #[test]
    fn toxics_built_in_code_are_bounded_too() {
        let t = ToxicSpec::new(
            ToxicKind::Latency(Latency {
                latency: 1,
                jitter: 9_300_000_000_000_000,
            }),
            Stream::Downstream,
        );
        let e = t.validate().unwrap_err().to_string();
        assert!(e.contains("`jitter`") && e.contains("1 year"), "{e}");
        let ok = ToxicSpec::new(
            ToxicKind::Slicer(Slicer {
                average_size: 10,
                size_variation: 1,
                delay: MAX_MS * 1000,
            }),
            Stream::Upstream,
        );
        assert!(ok.validate().is_ok());
    }
}
