//! Async REST client for a Toxiproxy-compatible server (real Toxiproxy or
//! `shakeout proxy serve`), used by the `toxiproxy` fault backend.
//!
//! Every call is bounded by the client's timeout, checks the status code and
//! turns the server's `{"error":...}` body into [`ClientError::Status`].

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::CONTENT_TYPE;
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

use super::registry::{ProxyConfig, ProxyInfo};
use super::toxic::ToxicSpec;

/// What can go wrong talking to the server.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid base URL {url:?}: {reason}")]
    InvalidUrl { url: String, reason: String },
    #[error("request to {url} failed: {reason}")]
    Transport { url: String, reason: String },
    #[error("request to {url} timed out after {timeout:?}")]
    Timeout { url: String, timeout: Duration },
    /// The server answered with an unexpected status; `message` is its
    /// `error` field when it sent one, else the raw body.
    #[error("{method} {url}: HTTP {status}: {message}")]
    Status {
        method: String,
        url: String,
        status: u16,
        message: String,
    },
    #[error("cannot decode response from {url}: {reason}")]
    Decode { url: String, reason: String },
}

impl ClientError {
    /// The HTTP status, for `Status` errors.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// Client for the Toxiproxy REST API.
#[derive(Clone)]
pub struct ToxiproxyClient {
    base: String,
    timeout: Duration,
    http: Client<HttpConnector, Full<Bytes>>,
}

impl ToxiproxyClient {
    /// `base_url` like `http://127.0.0.1:8474` (a bare `host:port` is
    /// accepted too). `timeout` bounds each request end to end.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, ClientError> {
        let trimmed = base_url.trim_end_matches('/');
        let base = if trimmed.contains("://") {
            trimmed.to_string()
        } else {
            format!("http://{trimmed}")
        };
        let uri: Uri =
            base.parse()
                .map_err(|e: hyper::http::uri::InvalidUri| ClientError::InvalidUrl {
                    url: base_url.to_string(),
                    reason: e.to_string(),
                })?;
        if uri.scheme_str() != Some("http") || uri.host().is_none() {
            return Err(ClientError::InvalidUrl {
                url: base_url.to_string(),
                reason: "expected http://host:port".into(),
            });
        }
        let mut conn = HttpConnector::new();
        conn.set_nodelay(true);
        conn.set_connect_timeout(Some(timeout));
        let http = Client::builder(TokioExecutor::new()).build(conn);
        Ok(ToxiproxyClient {
            base,
            timeout,
            http,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Server version string (e.g. `2.12.0`). Accepts both the JSON form of
    /// Toxiproxy ≥ 2.6 and the plain-text form of older releases.
    pub async fn version(&self) -> Result<String, ClientError> {
        let (_, body) = self
            .call(Method::GET, "/version", None, &[StatusCode::OK])
            .await?;
        let text = String::from_utf8_lossy(&body).trim().to_string();
        Ok(serde_json::from_str::<Value>(&text)
            .ok()
            .and_then(|v| v.get("version").and_then(Value::as_str).map(str::to_string))
            .unwrap_or(text))
    }

    /// All proxies by name.
    pub async fn proxies(&self) -> Result<BTreeMap<String, ProxyInfo>, ClientError> {
        self.json(Method::GET, "/proxies", None, &[StatusCode::OK])
            .await
    }

    pub async fn create_proxy(&self, p: &ProxyConfig) -> Result<ProxyInfo, ClientError> {
        let body = serde_json::to_value(p).unwrap_or(Value::Null);
        self.json(Method::POST, "/proxies", Some(body), &[StatusCode::CREATED])
            .await
    }

    /// Creates or replaces several proxies at once.
    pub async fn populate(&self, ps: &[ProxyConfig]) -> Result<Vec<ProxyInfo>, ClientError> {
        let body = serde_json::to_value(ps).unwrap_or(Value::Null);
        #[derive(serde::Deserialize)]
        struct Out {
            proxies: Vec<ProxyInfo>,
        }
        let out: Out = self
            .json(
                Method::POST,
                "/populate",
                Some(body),
                &[StatusCode::CREATED],
            )
            .await?;
        Ok(out.proxies)
    }

    pub async fn get_proxy(&self, name: &str) -> Result<ProxyInfo, ClientError> {
        self.json(
            Method::GET,
            &format!("/proxies/{}", esc(name)),
            None,
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn delete_proxy(&self, name: &str) -> Result<(), ClientError> {
        self.call(
            Method::DELETE,
            &format!("/proxies/{}", esc(name)),
            None,
            &[StatusCode::NO_CONTENT],
        )
        .await
        .map(|_| ())
    }

    /// Enables (listener up) or disables (listener and connections closed).
    pub async fn set_enabled(&self, name: &str, enabled: bool) -> Result<ProxyInfo, ClientError> {
        // POST rather than PATCH: every Toxiproxy release accepts POST.
        self.json(
            Method::POST,
            &format!("/proxies/{}", esc(name)),
            Some(json!({ "enabled": enabled })),
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn add_toxic(&self, proxy: &str, t: &ToxicSpec) -> Result<ToxicSpec, ClientError> {
        self.json(
            Method::POST,
            &format!("/proxies/{}/toxics", esc(proxy)),
            Some(t.to_json()),
            &[StatusCode::OK],
        )
        .await
    }

    /// Updates a toxic with a partial body, e.g. `{"attributes":{"latency":10}}`.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        body: Value,
    ) -> Result<ToxicSpec, ClientError> {
        self.json(
            Method::POST,
            &format!("/proxies/{}/toxics/{}", esc(proxy), esc(name)),
            Some(body),
            &[StatusCode::OK],
        )
        .await
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ClientError> {
        self.call(
            Method::DELETE,
            &format!("/proxies/{}/toxics/{}", esc(proxy), esc(name)),
            None,
            &[StatusCode::NO_CONTENT],
        )
        .await
        .map(|_| ())
    }

    /// Enables every proxy and removes every toxic.
    pub async fn reset(&self) -> Result<(), ClientError> {
        self.call(Method::POST, "/reset", None, &[StatusCode::NO_CONTENT])
            .await
            .map(|_| ())
    }

    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        ok: &[StatusCode],
    ) -> Result<T, ClientError> {
        let url = format!("{}{}", self.base, path);
        let (_, bytes) = self.call(method, path, body, ok).await?;
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Decode {
            url,
            reason: e.to_string(),
        })
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
        ok: &[StatusCode],
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let url = format!("{}{}", self.base, path);
        let payload = match &body {
            Some(v) => Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            None => Bytes::new(),
        };
        let req = Request::builder()
            .method(method.clone())
            .uri(&url)
            .header(CONTENT_TYPE, "application/json")
            .body(Full::new(payload))
            .map_err(|e| ClientError::InvalidUrl {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let exchange = async {
            let resp = self
                .http
                .request(req)
                .await
                .map_err(|e| ClientError::Transport {
                    url: url.clone(),
                    reason: e.to_string(),
                })?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| ClientError::Transport {
                    url: url.clone(),
                    reason: e.to_string(),
                })?
                .to_bytes();
            Ok::<_, ClientError>((status, bytes))
        };
        let (status, bytes) = tokio::time::timeout(self.timeout, exchange)
            .await
            .map_err(|_| ClientError::Timeout {
                url: url.clone(),
                timeout: self.timeout,
            })??;
        if !ok.contains(&status) {
            let text = String::from_utf8_lossy(&bytes).trim().to_string();
            let message = serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string))
                .unwrap_or(text);
            return Err(ClientError::Status {
                method: method.to_string(),
                url,
                status: status.as_u16(),
                message,
            });
        }
        Ok((status, bytes))
    }
}

use crate::util::path_segment as esc;
