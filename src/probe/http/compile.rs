//! Pure checks of an `http:` probe; its `plan` text.

use super::spec::{HttpProbeSpec, StatusList};
use crate::spec::check::Errors;
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
    let url_ok = check_url(&h.url, &format!("{path}.url"), e);
    let method = h
        .method
        .clone()
        .unwrap_or_else(|| "GET".into())
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
    (url_ok && method_ok && headers_ok).then(|| HttpProbePlan {
        url: h.url.clone(),
        method,
        headers: h
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body: h.body.clone(),
        expect,
    })
}

fn check_url(url: &str, path: &str, e: &mut Errors) -> bool {
    match url.parse::<hyper::Uri>() {
        Ok(uri) if uri.scheme_str() != Some("http") => {
            e.at(path, format!("`{url}`: only http:// URLs are supported"));
            false
        }
        Ok(uri) if uri.host().is_none() => {
            e.at(path, format!("`{url}` has no host"));
            false
        }
        Ok(_) => true,
        Err(err) => {
            e.at(path, format!("`{url}` is not a URL ({err})"));
            false
        }
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
        format!("{} {}", self.method, self.url)
    }

    pub fn success(&self) -> String {
        let statuses: Vec<String> = self.expect.iter().map(|s| s.to_string()).collect();
        format!("success = status {}", statuses.join(" or "))
    }

    /// The host:port the probe connects to, with `localhost` read as 127.0.0.1.
    pub fn address(&self) -> Option<SocketAddr> {
        let uri: hyper::Uri = self.url.parse().ok()?;
        let host = uri.host()?.replace("localhost", "127.0.0.1");
        format!("{host}:{}", uri.port_u16().unwrap_or(80))
            .parse()
            .ok()
    }
}
