//! Patroni's REST API: the few endpoints the backend reads (`/patroni`, `/cluster`,
//! `/config`) and calls (`/switchover`, `/failover`). Every call is bounded in time.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use std::time::Duration;

/// A short bound for reads: a member that does not answer within it is down.
pub const READ: Duration = Duration::from_secs(3);

/// `GET /patroni`: one member's own view.
#[derive(Debug, Clone, Deserialize)]
pub struct MemberStatus {
    /// Its walsenders, when it leads (`application_name` is the replica's name).
    #[serde(default)]
    pub replication: Vec<Walsender>,
    pub patroni: PatroniVersion,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Walsender {
    #[serde(default)]
    pub application_name: String,
    #[serde(default)]
    pub state: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PatroniVersion {
    pub version: String,
    pub scope: String,
}

/// `GET /cluster`: every member as the DCS has it.
#[derive(Debug, Clone, Deserialize)]
pub struct Cluster {
    pub members: Vec<Member>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub name: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub state: String,
    /// `http://host:port/patroni`.
    #[serde(default)]
    pub api_url: Option<String>,
    #[serde(default)]
    pub host: Option<String>,
    #[serde(default)]
    pub port: Option<u16>,
    /// Bytes behind the leader, or `"unknown"`.
    #[serde(default)]
    pub lag: Option<serde_json::Value>,
}

/// `GET /config`: the dynamic configuration the timings follow from.
#[derive(Debug, Clone, Deserialize)]
pub struct DcsConfig {
    #[serde(default = "default_ttl")]
    pub ttl: u64,
    #[serde(default = "default_loop_wait")]
    pub loop_wait: u64,
    #[serde(default = "default_retry_timeout")]
    pub retry_timeout: u64,
    #[serde(default)]
    pub synchronous_mode: bool,
}

// Patroni's own defaults, for keys the dynamic configuration leaves out.
fn default_ttl() -> u64 {
    30
}
fn default_loop_wait() -> u64 {
    10
}
fn default_retry_timeout() -> u64 {
    10
}

impl Cluster {
    pub fn leader(&self) -> Option<&Member> {
        self.members
            .iter()
            .find(|m| m.role == "leader" || m.role == "standby_leader")
    }

    pub fn member(&self, name: &str) -> Option<&Member> {
        self.members.iter().find(|m| m.name == name)
    }

    pub fn names(&self) -> String {
        self.members
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

impl Member {
    /// Its PostgreSQL as libpq keywords: `host=... port=...`.
    pub fn pg_address(&self) -> Option<String> {
        Some(format!("host={} port={}", self.host.as_ref()?, self.port?))
    }

    /// Its REST API's base URL (`api_url` without `/patroni`).
    pub fn api_base(&self) -> Option<String> {
        let url = self.api_url.as_deref()?;
        let base = url.strip_suffix("/patroni").unwrap_or(url);
        Some(base.trim_end_matches('/').to_string())
    }
}

pub async fn get<T: DeserializeOwned>(base: &str, path: &str) -> Result<T, String> {
    let (status, body) = call(Method::GET, base, path, None, READ).await?;
    if status != 200 {
        return Err(format!(
            "GET {base}{path}: HTTP {status}: {}",
            one_line(&body)
        ));
    }
    serde_json::from_str(&body).map_err(|e| format!("GET {base}{path}: {e}"))
}

/// `POST` a JSON body; the status and the body as text.
pub async fn post(
    base: &str,
    path: &str,
    body: serde_json::Value,
    timeout: Duration,
) -> Result<(u16, String), String> {
    call(Method::POST, base, path, Some(body), timeout).await
}

async fn call(
    method: Method,
    base: &str,
    path: &str,
    body: Option<serde_json::Value>,
    timeout: Duration,
) -> Result<(u16, String), String> {
    let url = format!("{base}{path}");
    let payload = body.map_or_else(Bytes::new, |b| Bytes::from(b.to_string()));
    let req = Request::builder()
        .method(method)
        .uri(&url)
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(payload))
        .map_err(|e| format!("{url}: {e}"))?;
    let mut conn = HttpConnector::new();
    conn.set_connect_timeout(Some(timeout));
    let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build(conn);
    let exchange = async {
        let resp = client.request(req).await.map_err(|e| innermost(&e))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok::<_, String>((status, String::from_utf8_lossy(&bytes).into_owned()))
    };
    tokio::time::timeout(timeout, exchange)
        .await
        .map_err(|_| format!("{url}: no answer within {timeout:?}"))?
        .map_err(|e| format!("{url}: {e}"))
}

/// The root cause ("Connection refused"), not the client's wrapper.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

/// A server's answer on one line, cut short: it goes into one-line errors.
pub fn one_line(body: &str) -> String {
    let flat: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    let cut: String = flat.chars().take(160).collect();
    crate::util::escape_control(&cut).into_owned()
}
