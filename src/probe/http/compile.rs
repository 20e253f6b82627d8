//! Pure checks of an `http:` probe; its `plan` text.

use super::spec::{HttpProbeSpec, HttpWriteSpec, StatusList};
use crate::probe::https::{BodyCheck, ExpectBodySpec, TlsSpec};
use crate::spec::check::{check_http_url, Errors};
use crate::spec::yaml::did_you_mean;
use serde::Serialize;
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize)]
pub struct HttpProbePlan {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub expect: Vec<StatusPattern>,
    /// HTTPS options; `None` for the system's roots (or a plain http:// URL).
    pub tls: Option<TlsSpec>,
    pub reuse_connection: bool,
    pub expect_body: Option<ExpectBodySpec>,
    /// A write probe: `url` and `body` are templates with `{id}`.
    pub write: Option<HttpWritePlan>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpWritePlan {
    /// Where each id is read back after the run, with `{id}`.
    pub read_url: String,
}

/// The placeholder a write probe replaces with each write's id.
pub const ID: &str = "{id}";

/// `template` with `{id}` replaced by `id`.
pub fn with_id(template: &str, id: i64) -> String {
    template.replace(ID, &id.to_string())
}

/// A status code or a class (`2xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StatusPattern {
    Code(u16),
    Class(u16),
}

impl StatusPattern {
    pub fn matches(&self, status: u16) -> bool {
        match *self {
            StatusPattern::Code(c) => c == status,
            StatusPattern::Class(c) => status / 100 == c,
        }
    }
    fn parse(text: &str) -> Option<StatusPattern> {
        let t = text.trim();
        if let Some(d) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
            return d
                .parse::<u16>()
                .ok()
                .filter(|d| (1..=5).contains(d))
                .map(StatusPattern::Class);
        }
        t.parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .map(StatusPattern::Code)
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
        }
    }
}

const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];

/// Check an `http:` probe at `path`.
pub fn compile(h: &HttpProbeSpec, path: &str, e: &mut Errors) -> Option<HttpProbePlan> {
    let url_ok = check_http_url(&with_id(&h.url, 0), &format!("{path}.url"), e);
    let write = h.write.as_ref().and_then(|w| compile_write(h, w, path, e));
    let write_ok = h.write.is_none() || write.is_some();
    let default_method = if h.write.is_some() { "POST" } else { "GET" };
    let method = h
        .method
        .clone()
        .unwrap_or_else(|| default_method.into())
        .to_ascii_uppercase();
    let method_ok = METHODS.contains(&method.as_str());
    if !method_ok {
        let hint = did_you_mean(&method, &METHODS)
            .map(|m| format!(", did you mean `{m}`?"))
            .unwrap_or_default();
        e.at(
            format!("{path}.method"),
            format!("unknown method `{method}`{hint}"),
        );
    }
    // Credential header values are redacted from every output, even when written
    // literally in the spec.
    crate::spec::env::redact_in_outputs(
        h.headers
            .iter()
            .filter(|(name, _)| crate::spec::env::is_sensitive_header(name))
            .map(|(_, value)| value.clone()),
    );
    let mut headers_ok = true;
    for name in h.headers.keys() {
        if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            e.at(format!("{path}.headers.{name}"), "not a valid header name");
            headers_ok = false;
        }
    }
    let expect = expected_statuses(
        h.expect_status.as_ref(),
        &format!("{path}.expect_status"),
        e,
    );
    let expect = expect?;
    let tls_ok = check_tls(h, path, e);
    let body_ok = check_body(h.expect_body.as_ref(), &format!("{path}.expect_body"), e);
    (url_ok && method_ok && headers_ok && tls_ok && body_ok && write_ok).then(|| HttpProbePlan {
        url: h.url.clone(),
        method,
        headers: h
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body: h.write.as_ref().map_or(h.body.clone(), |w| w.body.clone()),
        expect,
        tls: h.tls.clone(),
        reuse_connection: h.reuse_connection,
        expect_body: h.expect_body.clone(),
        write,
    })
}

/// `write:` — the id must reach the server (in the url or the body) and be readable
/// back; the body belongs under `write:` so it is plainly a template.
fn compile_write(
    h: &HttpProbeSpec,
    w: &HttpWriteSpec,
    path: &str,
    e: &mut Errors,
) -> Option<HttpWritePlan> {
    let wpath = format!("{path}.write");
    let mut ok = true;
    if h.body.is_some() {
        e.at(
            format!("{path}.body"),
            "a write probe's body goes in `write.body` (with `{id}`)",
        );
        ok = false;
    }
    let body_has_id = w.body.as_deref().is_some_and(|b| b.contains(ID));
    if !h.url.contains(ID) && !body_has_id {
        e.at(
            format!("{wpath}.body"),
            "put `{id}` in `write.body` or in `url`: each write must carry its id",
        );
        ok = false;
    }
    let rpath = format!("{wpath}.read_url");
    if !w.read_url.contains(ID) {
        e.at(
            &rpath,
            "must contain `{id}`: each id is read back on its own",
        );
        ok = false;
    } else if !check_http_url(&with_id(&w.read_url, 0), &rpath, e) {
        ok = false;
    }
    ok.then(|| HttpWritePlan {
        read_url: w.read_url.clone(),
    })
}

/// `tls:` only goes with an https:// URL; a client certificate needs its key.
fn check_tls(h: &HttpProbeSpec, path: &str, e: &mut Errors) -> bool {
    let Some(tls) = &h.tls else { return true };
    let mut ok = true;
    if !h
        .url
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("https://")
    {
        e.at(format!("{path}.tls"), "`tls` options need an https:// url");
        ok = false;
    }
    if tls.client_cert.is_some() != tls.client_key.is_some() {
        e.at(
            format!("{path}.tls"),
            "`client_cert` and `client_key` go together",
        );
        ok = false;
    }
    ok
}

fn check_body(spec: Option<&ExpectBodySpec>, path: &str, e: &mut Errors) -> bool {
    match spec.map(BodyCheck::compile) {
        Some(Err(reason)) => {
            e.at(path, reason);
            false
        }
        _ => true,
    }
}

/// The statuses that count as success (any 2xx by default); `None` when one is invalid.
fn expected_statuses(
    list: Option<&StatusList>,
    path: &str,
    e: &mut Errors,
) -> Option<Vec<StatusPattern>> {
    let Some(list) = list else {
        return Some(vec![StatusPattern::Class(2)]);
    };
    let mut out = Vec::new();
    let mut ok = true;
    for (i, s) in list.0.iter().enumerate() {
        match StatusPattern::parse(s) {
            Some(p) => out.push(p),
            None => {
                let sub = if list.0.len() > 1 {
                    format!("[{i}]")
                } else {
                    String::new()
                };
                e.at(
                    format!("{path}{sub}"),
                    format!("`{s}` is not a status code (100-599) or class like 2xx"),
                );
                ok = false;
            }
        }
    }
    if list.0.is_empty() {
        e.at(path, "list at least one status");
        ok = false;
    }
    ok.then_some(out)
}

impl HttpProbePlan {
    pub fn target(&self) -> String {
        match &self.write {
            None => format!("{} {}", self.method, self.url),
            Some(w) => format!(
                "{} {} (writes, read back from {})",
                self.method, self.url, w.read_url
            ),
        }
    }

    pub fn is_write(&self) -> bool {
        self.write.is_some()
    }

    pub fn success(&self) -> String {
        let statuses: Vec<String> = self.expect.iter().map(|s| s.to_string()).collect();
        let mut text = format!("success = status {}", statuses.join(" or "));
        match self.expect_body.as_ref().map(BodyCheck::compile) {
            Some(Ok(BodyCheck::Contains(t))) => text.push_str(&format!(", body contains `{t}`")),
            Some(Ok(BodyCheck::JsonPointer { pointer, equals })) => {
                text.push_str(&format!(", body `{pointer}` = {equals}"))
            }
            _ => {}
        }
        if self.is_write() {
            text.push_str("; a 2xx acknowledges the write (ledger read back after the run)");
        }
        if self.is_insecure() {
            text.push_str(" (tls: insecure, certificate not verified)");
        }
        text
    }

    /// `tls: {insecure: true}`: the certificate is not verified; every report says so.
    pub fn is_insecure(&self) -> bool {
        self.tls.as_ref().is_some_and(|t| t.insecure)
    }

    /// The host:port the probe connects to, with `localhost` read as 127.0.0.1.
    pub fn address(&self) -> Option<SocketAddr> {
        crate::probe::http_url_address(&with_id(&self.url, 0))
    }
}

#[cfg(test)]
mod write_tests {
    use super::*;

    fn compiled(yaml: &str) -> (Option<HttpProbePlan>, String) {
        let spec: HttpProbeSpec = serde_yaml::from_str(yaml).unwrap();
        let map = crate::spec::yaml::SourceMap::default();
        let mut e = Errors::new("t.yaml", &map);
        let plan = compile(&spec, "probes[0].http", &mut e);
        let errors = match e.finish(|| ()) {
            Ok(()) => String::new(),
            Err(list) => format!("{list:?}"),
        };
        (plan, errors)
    }

    #[test]
    fn a_write_probe_posts_a_templated_body_and_reads_back_by_id() {
        let (plan, errors) = compiled(
            "url: http://127.0.0.1:1/orders\nwrite: {body: '{\"id\": {id}}', read_url: 'http://127.0.0.1:1/orders/{id}'}",
        );
        let plan = plan.unwrap_or_else(|| panic!("{errors}"));
        assert_eq!(plan.method, "POST");
        assert_eq!(plan.body.as_deref(), Some("{\"id\": {id}}"));
        assert!(plan.is_write());
        assert_eq!(with_id(plan.body.as_deref().unwrap(), 42), "{\"id\": 42}");
    }

    #[test]
    fn a_write_probe_needs_the_id_in_the_request_and_the_read_url() {
        let (plan, errors) = compiled(
            "url: http://127.0.0.1:1/orders\nwrite: {body: 'x', read_url: 'http://127.0.0.1:1/orders'}",
        );
        assert!(plan.is_none());
        assert!(errors.contains("put `{id}`"), "{errors}");
        assert!(errors.contains("must contain `{id}`"), "{errors}");
        let (plan, errors) = compiled(
            "url: http://127.0.0.1:1/orders/{id}\nbody: x\nwrite: {read_url: 'http://127.0.0.1:1/orders/{id}'}",
        );
        assert!(plan.is_none());
        assert!(errors.contains("write.body"), "{errors}");
    }
}
