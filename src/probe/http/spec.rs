//! YAML mirror of `http:` probes.

use crate::probe::https::{ExpectBodySpec, TlsSpec};
use crate::spec::Dur;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpProbeSpec {
    pub url: String,
    #[serde(default)]
    pub method: Option<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    /// Status codes that count as success: `200`, `[200, 204]`, `"2xx"`. Default: any 2xx.
    #[serde(default)]
    pub expect_status: Option<StatusList>,
    #[serde(default)]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// HTTPS options (`ca_file`, `client_cert`, `client_key`, `server_name`, `insecure`).
    #[serde(default)]
    pub tls: Option<TlsSpec>,
    /// Keep connections open between samples (default: a new connection per sample).
    #[serde(default)]
    pub reuse_connection: bool,
    /// What the body of an expected-status answer must hold.
    #[serde(default)]
    pub expect_body: Option<ExpectBodySpec>,
    /// A write probe: each sample creates one record with a unique increasing id
    /// (`{id}` in `url` and/or `write.body`), kept in a ledger and read back after the run.
    #[serde(default)]
    pub write: Option<HttpWriteSpec>,
}

/// `write: {body: '{"id": {id}}', read_url: "http://host/orders/{id}"}`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HttpWriteSpec {
    /// The request body, `{id}` replaced by the write's id.
    #[serde(default)]
    pub body: Option<String>,
    /// Where each id is read back after the run: 200 present, 404 absent.
    pub read_url: String,
}

/// One status code (`200`) or class (`"2xx"`), or a list of them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StatusList(pub Vec<String>);

impl<'de> Deserialize<'de> for StatusList {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, SeqAccess, Visitor};
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StatusList;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a status code like 200, a class like \"2xx\", or a list of them")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_string()]))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_string()]))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<StatusList, E> {
                Ok(StatusList(vec![v.to_string()]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<StatusList, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<StatusList>()? {
                    out.extend(item.0);
                }
                Ok(StatusList(out))
            }
        }
        d.deserialize_any(V)
    }
}
