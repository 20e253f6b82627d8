//! Serde mirror of the `prometheus:` probe and the metric guardrails.

use super::Expectation;
use crate::probe::https::TlsSpec;
use crate::spec::Dur;
use serde::{Deserialize, Serialize};

/// `prometheus:` probe — an instant query per sample; the sample succeeds when the
/// query's single value satisfies `expect`. The value is recorded for charting.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusProbeSpec {
    /// Base URL of the Prometheus server (`http://prometheus:9090`); a path prefix is kept.
    pub url: String,
    /// PromQL that yields one number: a scalar or a one-series instant vector.
    pub query: String,
    /// Condition on the value: `"< 0.01"`, `">= 0.99"`, `{between: [a, b]}`, ...
    pub expect: Expectation,
    #[serde(default)]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// TLS settings for an `https://` Prometheus, as for `http` probes.
    #[serde(default)]
    pub tls: Option<TlsSpec>,
}

/// `guardrails: - prometheus:` — stop the run when the query's value violates
/// `expect` for `for` (at once by default).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrometheusGuardrailSpec {
    pub url: String,
    pub query: String,
    pub expect: Expectation,
    /// How long the expectation must stay violated before the run stops.
    #[serde(default, rename = "for")]
    pub for_: Option<Dur>,
    #[serde(default)]
    pub tls: Option<TlsSpec>,
    /// How often the query runs (default 1s).
    #[serde(default)]
    pub interval: Option<Dur>,
}

/// `guardrails: - alert:` — stop the run when the Prometheus alert `name` fires
/// (state `firing` in `/api/v1/alerts`; `pending` does not count).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AlertGuardrailSpec {
    pub url: String,
    /// The alert's name (its `alertname` label).
    pub name: String,
    #[serde(default)]
    pub tls: Option<TlsSpec>,
    /// How often the alerts are read (default 1s).
    #[serde(default)]
    pub interval: Option<Dur>,
}
