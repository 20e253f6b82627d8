//! Pure checks of a `prometheus:` probe; its `plan` text.

use super::spec::PrometheusProbeSpec;
use super::Expectation;
use crate::probe::http_url_address;
use crate::probe::https::TlsSpec;
use crate::spec::check::{check_http_url, Errors};
use serde::Serialize;
use std::net::SocketAddr;

#[derive(Debug, Clone, Serialize)]
pub struct PrometheusProbePlan {
    pub url: String,
    pub query: String,
    pub expect: Expectation,
    pub tls: Option<TlsSpec>,
}

/// Check a `prometheus:` probe at `path`.
pub fn compile(p: &PrometheusProbeSpec, path: &str, e: &mut Errors) -> Option<PrometheusProbePlan> {
    let url_ok = check_http_url(&p.url, &format!("{path}.url"), e);
    let query_ok = !p.query.trim().is_empty();
    if !query_ok {
        e.at(format!("{path}.query"), "must not be empty");
    }
    (url_ok && query_ok).then(|| PrometheusProbePlan {
        url: p.url.clone(),
        query: p.query.clone(),
        expect: p.expect,
        tls: p.tls.clone(),
    })
}

impl PrometheusProbePlan {
    pub fn target(&self) -> String {
        format!("{} at {}", self.query, self.url)
    }

    pub fn success(&self) -> String {
        format!("success = value {}", self.expect)
    }

    pub fn address(&self) -> Option<SocketAddr> {
        http_url_address(&self.url)
    }
}
