//! The `prometheus` probe and the clients behind the metric guardrails.
//!
//! - [`PrometheusClient`]: instant queries (`/api/v1/query`) and active alerts
//!   (`/api/v1/alerts`) of one Prometheus server.
//! - [`Expectation`]: the parsed `expect` (`"< 0.01"`, `{between: [a, b]}`).
//! - [`PrometheusProbe`]: one sample = one query judged against `expect`.

mod client;
mod compile;
mod expect;
mod guardrail;
mod spec;

pub use guardrail::{compile_alert, compile_query, MetricGuardrail, DEFAULT_GUARDRAIL_INTERVAL};

pub use compile::{compile, PrometheusProbePlan};

pub use client::{Alert, PrometheusClient};
pub use expect::{ExpectError, Expectation, Op};
pub use spec::{AlertGuardrailSpec, PrometheusGuardrailSpec, PrometheusProbeSpec};

use crate::probe::failure::{Failure, FailureClass};
use crate::probe::https::{SetupError, TlsSpec};
use std::time::Duration;

/// One sample's outcome: the value seen (for the chart, also when it violates
/// `expect`), and whether the sample passed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    pub value: Option<f64>,
    pub result: Result<(), Failure>,
}

/// A `prometheus` probe: a query and the expectation its value must meet.
pub struct PrometheusProbe {
    client: PrometheusClient,
    query: String,
    expect: Expectation,
}

impl PrometheusProbe {
    pub fn new(
        url: &str,
        query: &str,
        expect: Expectation,
        tls: Option<TlsSpec>,
        timeout: Duration,
    ) -> Result<PrometheusProbe, SetupError> {
        Ok(PrometheusProbe {
            client: PrometheusClient::new(url, tls, timeout)?,
            query: query.to_string(),
            expect,
        })
    }

    /// One sample: the query's value, judged. A value outside `expect` is an
    /// `expect` failure naming both.
    pub async fn check(&self) -> Reading {
        match self.client.query(&self.query).await {
            Err(failure) => Reading {
                value: None,
                result: Err(failure),
            },
            Ok(value) => Reading {
                value: Some(value),
                result: judge(&self.expect, value),
            },
        }
    }
}

/// Whether `value` meets `expect`, as a sample result.
pub fn judge(expect: &Expectation, value: f64) -> Result<(), Failure> {
    if expect.holds(value) {
        Ok(())
    } else {
        let detail = format!("value {value} is not {expect}");
        Err(Failure::new(FailureClass::Expect, detail))
    }
}
