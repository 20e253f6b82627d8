//! Prometheus' HTTP API: instant queries and active alerts, over [`HttpsClient`].

use crate::probe::failure::{Failure, FailureClass};
use crate::probe::https::{ClientOptions, HttpsClient, SetupError, TlsSpec};
use bytes::Bytes;
use hyper::Request;
use serde::Deserialize;
use std::collections::BTreeMap;
use std::time::Duration;

/// A client for one Prometheus server. Its connections are kept alive: the probe
/// watches a metric, not Prometheus' own availability.
pub struct PrometheusClient {
    http: HttpsClient,
    /// The URL's path without a trailing slash (`""` or a prefix like `/prometheus`).
    prefix: String,
}

/// One active alert from `/api/v1/alerts`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Alert {
    pub labels: BTreeMap<String, String>,
    /// `pending` (condition true, `for:` not yet elapsed) or `firing`.
    pub state: String,
    /// The value of the alert expression when it was last evaluated.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default, rename = "activeAt")]
    pub active_at: Option<String>,
}

impl Alert {
    /// The alert's name: its `alertname` label.
    pub fn name(&self) -> &str {
        self.labels.get("alertname").map_or("", String::as_str)
    }
    pub fn is_firing(&self) -> bool {
        self.state == "firing"
    }
}

/// The envelope of every API answer.
#[derive(Deserialize)]
struct Envelope<T> {
    status: String,
    // Missing Options are None without `default` (which would demand `T: Default`).
    data: Option<T>,
    error: Option<String>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum QueryData {
    Vector(Vec<Series>),
    Scalar((f64, String)),
    Matrix(Vec<serde_json::Value>),
    String((f64, String)),
}

#[derive(Deserialize)]
struct Series {
    value: (f64, String),
}

#[derive(Deserialize)]
struct AlertsData {
    alerts: Vec<Alert>,
}

impl PrometheusClient {
    /// A client for the Prometheus at `url`; `timeout` bounds each request.
    pub fn new(
        url: &str,
        tls: Option<TlsSpec>,
        timeout: Duration,
    ) -> Result<PrometheusClient, SetupError> {
        let options = ClientOptions {
            tls,
            reuse_connection: true,
            timeout,
        };
        let http = HttpsClient::new(url, &options)?;
        let prefix = url
            .parse::<hyper::Uri>()
            .map(|uri| uri.path().trim_end_matches('/').to_string())
            .unwrap_or_default();
        Ok(PrometheusClient { http, prefix })
    }

    /// The single value of an instant query. No series, several series, an error
    /// from Prometheus or a NaN value is a `query` failure saying which.
    pub async fn query(&self, promql: &str) -> Result<f64, Failure> {
        let path = format!("/api/v1/query?query={}", percent_encode(promql));
        match self.get::<QueryData>(&path).await? {
            QueryData::Scalar((_, value)) => number(&value),
            QueryData::Vector(series) => match series.as_slice() {
                [one] => number(&one.value.1),
                [] => Err(query_failure("no series".into())),
                many => Err(query_failure(format!(
                    "{} series; aggregate to one (sum, max, ...)",
                    many.len()
                ))),
            },
            QueryData::Matrix(series) => Err(query_failure(format!(
                "a range vector ({} series); use an instant query",
                series.len()
            ))),
            QueryData::String((_, text)) => number(&text),
        }
    }

    /// Active (pending and firing) alerts.
    pub async fn alerts(&self) -> Result<Vec<Alert>, Failure> {
        Ok(self.get::<AlertsData>("/api/v1/alerts").await?.alerts)
    }

    /// The first *firing* alert named `name`, if any.
    pub async fn firing(&self, name: &str) -> Result<Option<Alert>, Failure> {
        let alerts = self.alerts().await?;
        Ok(alerts
            .into_iter()
            .find(|a| a.is_firing() && a.name() == name))
    }

    async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T, Failure> {
        let request = Request::get(format!("{}{path}", self.prefix))
            .body(Bytes::new())
            .map_err(|e| query_failure(format!("bad request: {e}")))?;
        let response = self.http.send(request).await?;
        // Prometheus answers errors (400, 422, 503) with the same JSON envelope.
        let Ok(envelope) = serde_json::from_slice::<Envelope<T>>(&response.body) else {
            return Err(if response.status == 200 {
                query_failure("not a Prometheus API answer".into())
            } else {
                Failure::new(FailureClass::Status, format!("HTTP {}", response.status))
            });
        };
        match (envelope.status.as_str(), envelope.data) {
            ("success", Some(data)) => Ok(data),
            _ => Err(query_failure(envelope.error.unwrap_or_else(|| {
                format!("status `{}` (HTTP {})", envelope.status, response.status)
            }))),
        }
    }
}

fn number(text: &str) -> Result<f64, Failure> {
    match text.parse::<f64>() {
        Ok(value) if value.is_nan() => Err(query_failure("value is NaN".into())),
        Ok(value) => Ok(value),
        Err(_) => Err(query_failure(format!("value `{text}` is not a number"))),
    }
}

fn query_failure(detail: String) -> Failure {
    Failure::new(FailureClass::Query, detail)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len() * 3);
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(
            percent_encode("rate(x{job=\"a b\"}[1m]) > 0.5"),
            "rate%28x%7Bjob%3D%22a%20b%22%7D%5B1m%5D%29%20%3E%200.5"
        );
        assert_eq!(percent_encode("a_b-c.d~"), "a_b-c.d~");
    }

    #[test]
    fn values_parse_with_infinities_and_nan_fails() {
        assert_eq!(number("0.25"), Ok(0.25));
        assert_eq!(number("+Inf"), Ok(f64::INFINITY));
        assert_eq!(number("NaN").unwrap_err().detail, "value is NaN");
        assert_eq!(number("x").unwrap_err().class, FailureClass::Query);
    }
}
