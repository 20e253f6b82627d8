//! Metric guardrails: stop a run when a Prometheus query violates its expectation
//! for long enough, or when a named alert fires. Compiled here (with the probe they
//! share a client with); the engine polls them with [`MetricGuardrail::watch`].

use super::spec::{AlertGuardrailSpec, PrometheusGuardrailSpec};
use super::{Expectation, PrometheusClient};
use crate::probe::https::TlsSpec;
use crate::spec::check::{check_http_url, Errors};
use crate::spec::units::format_duration;
use serde::Serialize;
use std::time::{Duration, Instant};

pub const DEFAULT_GUARDRAIL_INTERVAL: Duration = Duration::from_secs(1);

/// A resolved metric guardrail.
#[derive(Debug, Clone, Serialize)]
pub enum MetricGuardrail {
    Query {
        url: String,
        query: String,
        expect: Expectation,
        /// How long the expectation must stay violated; zero = at once.
        for_: Duration,
        tls: Option<TlsSpec>,
        interval: Duration,
    },
    Alert {
        url: String,
        name: String,
        tls: Option<TlsSpec>,
        interval: Duration,
    },
}

/// Check a `guardrails[i].prometheus` block.
pub fn compile_query(
    g: &PrometheusGuardrailSpec,
    path: &str,
    e: &mut Errors,
) -> Option<MetricGuardrail> {
    let url_ok = check_http_url(&g.url, &format!("{path}.url"), e);
    if g.query.trim().is_empty() {
        e.at(format!("{path}.query"), "must not be empty");
        return None;
    }
    let interval = interval(g.interval.map(|d| d.0), path, e)?;
    url_ok.then(|| MetricGuardrail::Query {
        url: g.url.clone(),
        query: g.query.clone(),
        expect: g.expect,
        for_: g.for_.map_or(Duration::ZERO, |d| d.0),
        tls: g.tls.clone(),
        interval,
    })
}

/// Check a `guardrails[i].alert` block.
pub fn compile_alert(
    g: &AlertGuardrailSpec,
    path: &str,
    e: &mut Errors,
) -> Option<MetricGuardrail> {
    let url_ok = check_http_url(&g.url, &format!("{path}.url"), e);
    if g.name.trim().is_empty() {
        e.at(format!("{path}.name"), "must not be empty");
        return None;
    }
    let interval = interval(g.interval.map(|d| d.0), path, e)?;
    url_ok.then(|| MetricGuardrail::Alert {
        url: g.url.clone(),
        name: g.name.clone(),
        tls: g.tls.clone(),
        interval,
    })
}

fn interval(given: Option<Duration>, path: &str, e: &mut Errors) -> Option<Duration> {
    let interval = given.unwrap_or(DEFAULT_GUARDRAIL_INTERVAL);
    if interval < Duration::from_millis(10) {
        e.at(format!("{path}.interval"), "must be at least 10ms");
        return None;
    }
    Some(interval)
}

impl MetricGuardrail {
    /// In words, for `plan`.
    pub fn describe(&self) -> String {
        match self {
            MetricGuardrail::Query {
                url,
                query,
                expect,
                for_,
                ..
            } => {
                let during = if for_.is_zero() {
                    "at once".to_string()
                } else {
                    format!("for {}", format_duration(*for_))
                };
                format!("`{query}` at {url} is not {expect} ({during})")
            }
            MetricGuardrail::Alert { url, name, .. } => {
                format!("alert `{name}` fires at {url}")
            }
        }
    }

    fn url_and_tls(&self) -> (&str, Option<TlsSpec>, Duration) {
        match self {
            MetricGuardrail::Query {
                url, tls, interval, ..
            }
            | MetricGuardrail::Alert {
                url, tls, interval, ..
            } => (url, tls.clone(), *interval),
        }
    }

    /// A client for this guardrail's Prometheus; an error is a setup error (exit 3).
    pub fn client(&self) -> Result<PrometheusClient, String> {
        let (url, tls, interval) = self.url_and_tls();
        let timeout = interval.max(Duration::from_secs(1));
        PrometheusClient::new(url, tls, timeout).map_err(|e| e.to_string())
    }

    /// Polls until the guardrail trips and returns why, in words with the value seen.
    /// A Prometheus that cannot be read does not trip it (the run's own probes judge
    /// the target); it is logged.
    pub async fn watch(&self, client: &PrometheusClient) -> String {
        let (_, _, interval) = self.url_and_tls();
        let mut violated_since: Option<Instant> = None;
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            if let Some(reason) = self.poll(client, &mut violated_since).await {
                return reason;
            }
        }
    }

    /// One poll: the trip reason, if this poll trips the guardrail.
    pub async fn poll(
        &self,
        client: &PrometheusClient,
        violated_since: &mut Option<Instant>,
    ) -> Option<String> {
        match self {
            MetricGuardrail::Query {
                query,
                expect,
                for_,
                ..
            } => {
                let value = match client.query(query).await {
                    Ok(v) => v,
                    Err(f) => {
                        tracing::warn!("guardrail query `{query}`: {f}");
                        return None;
                    }
                };
                if expect.holds(value) {
                    *violated_since = None;
                    return None;
                }
                let since = *violated_since.get_or_insert_with(Instant::now);
                (since.elapsed() >= *for_).then(|| {
                    format!(
                        "guardrail: prometheus `{query}` = {value}, not {expect}{}",
                        if for_.is_zero() {
                            String::new()
                        } else {
                            format!(" for {}", format_duration(*for_))
                        }
                    )
                })
            }
            MetricGuardrail::Alert { name, .. } => match client.firing(name).await {
                Ok(Some(alert)) => Some(format!(
                    "guardrail: alert `{name}` is firing (value {})",
                    alert.value.as_deref().unwrap_or("unknown")
                )),
                Ok(None) => None,
                Err(f) => {
                    tracing::warn!("guardrail alert `{name}`: {f}");
                    None
                }
            },
        }
    }
}
