//! Admin API under `/_shakeout/` on the load balancer's port: the server
//! side (answered directly, never load-balanced) and the client used by
//! faults to drive an in-process or external demo.
//!
//! - `GET /_shakeout/zones` → `{"zones":[{"name":"a","mode":"up","backends":[...]}]}`
//! - `PUT /_shakeout/zones/{zone}` with `{"mode":"crash"}` → the zone's new state

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};

use super::json::{error_response, json_response};
use super::{DemoError, Inner, ZoneMode};

/// One zone as reported by the admin API.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneStatus {
    pub name: String,
    pub mode: ZoneMode,
    pub backends: Vec<BackendStatus>,
}

/// One backend as seen by the load balancer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackendStatus {
    pub name: String,
    pub addr: SocketAddr,
    pub healthy: bool,
}

#[derive(Deserialize)]
struct SetZoneBody {
    mode: ZoneMode,
}

/// Admin bodies are tiny; refuse anything that is not.
const MAX_ADMIN_BODY: usize = 64 * 1024;

pub(crate) async fn handle(req: Request<Incoming>, inner: &Inner) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if path == "/_shakeout/store" || path.starts_with("/_shakeout/store/") {
        return store_admin(req, inner, &path).await;
    }
    let zone = path.strip_prefix("/_shakeout/zones/");
    match (req.method(), path.as_str(), zone) {
        (&Method::GET, "/_shakeout/zones", _) => json_response(
            StatusCode::OK,
            &serde_json::json!({ "zones": inner.status() }),
        ),
        (&Method::PUT, _, Some(zone)) if !zone.is_empty() && !zone.contains('/') => {
            let Some(zone) = percent_decode(zone) else {
                return error_response(StatusCode::BAD_REQUEST, "bad percent-encoding in zone");
            };
            set_zone(req, inner, &zone).await
        }
        (_, "/_shakeout/zones", _) => {
            error_response(StatusCode::METHOD_NOT_ALLOWED, "use GET /_shakeout/zones")
        }
        (_, _, Some(zone)) if !zone.is_empty() && !zone.contains('/') => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "use PUT /_shakeout/zones/{zone} with {\"mode\":\"up|crash|blackhole\"}",
        ),
        _ => error_response(StatusCode::NOT_FOUND, &format!("no admin endpoint {path}")),
    }
}

async fn set_zone(req: Request<Incoming>, inner: &Inner, zone: &str) -> Response<Full<Bytes>> {
    // Check the zone first so a typo is reported as such whatever the body.
    if let Err(e) = inner.zone(zone) {
        return unknown_zone_response(&e, inner);
    }
    let body = match Limited::new(req.into_body(), MAX_ADMIN_BODY)
        .collect()
        .await
    {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return error_response(StatusCode::BAD_REQUEST, &format!("cannot read body: {e}"))
        }
    };
    let mode = match serde_json::from_slice::<SetZoneBody>(&body) {
        Ok(b) => b.mode,
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("expected {{\"mode\":\"up|crash|blackhole\"}}: {e}"),
            )
        }
    };
    match inner.set_zone(zone, mode).await {
        Ok(()) => match inner.zones.iter().enumerate().find(|(_, z)| z.name == zone) {
            Some((idx, z)) => json_response(
                StatusCode::OK,
                &serde_json::json!(inner.zone_status(idx, z)),
            ),
            None => error_response(StatusCode::INTERNAL_SERVER_ERROR, "zone vanished"),
        },
        Err(e @ DemoError::UnknownZone { .. }) => unknown_zone_response(&e, inner),
        Err(e) => error_response(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
    }
}

/// The store's admin API: `GET /_shakeout/store`, `POST /_shakeout/store/failover`
/// (`{"to": "b"}` optional), `POST /_shakeout/store/rejoin`.
async fn store_admin(req: Request<Incoming>, inner: &Inner, path: &str) -> Response<Full<Bytes>> {
    let Some(store) = &inner.store else {
        return error_response(StatusCode::NOT_FOUND, "this demo has no store");
    };
    match (req.method().clone(), path) {
        (Method::GET, "/_shakeout/store") => json_response(StatusCode::OK, &serde_json::json!(store.status())),
        (Method::POST, "/_shakeout/store/failover") => {
            let body = match Limited::new(req.into_body(), MAX_ADMIN_BODY).collect().await {
                Ok(b) => b.to_bytes(),
                Err(e) => return error_response(StatusCode::BAD_REQUEST, &format!("body: {e}")),
            };
            let to = if body.iter().all(u8::is_ascii_whitespace) {
                None
            } else {
                match serde_json::from_slice::<FailoverBody>(&body) {
                    Ok(b) => b.to,
                    Err(e) => {
                        return error_response(
                            StatusCode::BAD_REQUEST,
                            &format!("expected {{\"to\": \"zone\"}} or nothing: {e}"),
                        )
                    }
                }
            };
            match store.failover(to.as_deref()) {
                Ok(status) => json_response(StatusCode::OK, &serde_json::json!(status)),
                Err(e) => error_response(StatusCode::CONFLICT, &e),
            }
        }
        (Method::POST, "/_shakeout/store/rejoin") => {
            let (rejoined, status) = store.rejoin();
            json_response(
                StatusCode::OK,
                &serde_json::json!({"rejoined": rejoined, "store": status}),
            )
        }
        _ => error_response(
            StatusCode::NOT_FOUND,
            "use GET /_shakeout/store, POST /_shakeout/store/failover or POST /_shakeout/store/rejoin",
        ),
    }
}

#[derive(Deserialize)]
struct FailoverBody {
    #[serde(default)]
    to: Option<String>,
}

/// A change to the store of the demo at some balancer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreAction {
    /// Promote the replica in this zone (or the first replica).
    Failover(Option<String>),
    /// Every fenced node rejoins as a replica.
    Rejoin,
    /// Only read the state.
    Status,
}

/// Drive the store of the demo whose balancer listens on `lb`; its answer as JSON.
pub async fn admin_store(
    lb: SocketAddr,
    action: &StoreAction,
    timeout: Duration,
) -> Result<serde_json::Value, DemoError> {
    let (method, path, body) = match action {
        StoreAction::Failover(to) => (
            Method::POST,
            "/_shakeout/store/failover",
            serde_json::json!({ "to": to }).to_string(),
        ),
        StoreAction::Rejoin => (Method::POST, "/_shakeout/store/rejoin", String::new()),
        StoreAction::Status => (Method::GET, "/_shakeout/store", String::new()),
    };
    match tokio::time::timeout(timeout, admin_call(lb, method, path, body)).await {
        Ok(result) => result,
        Err(_) => Err(DemoError::AdminTimeout { lb, timeout }),
    }
}

async fn admin_call(
    lb: SocketAddr,
    method: Method,
    path: &str,
    body: String,
) -> Result<serde_json::Value, DemoError> {
    let admin_err = |reason: String| DemoError::Admin { lb, reason };
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(HOST, lb.to_string())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| admin_err(format!("cannot build request: {e}")))?;
    let (status, body) = send_admin(lb, req).await?;
    let parsed: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
        admin_err(format!(
            "status {status}: {}",
            String::from_utf8_lossy(&body)
        ))
    })?;
    if status != StatusCode::OK {
        let detail = parsed.get("error").and_then(|e| e.as_str()).unwrap_or("");
        return Err(admin_err(format!("status {status}: {detail}")));
    }
    Ok(parsed)
}

fn unknown_zone_response(e: &DemoError, inner: &Inner) -> Response<Full<Bytes>> {
    // The zone list lets the client rebuild a typed `UnknownZone` error.
    let zones: Vec<&str> = inner.zones.iter().map(|z| z.name.as_str()).collect();
    json_response(
        StatusCode::NOT_FOUND,
        &serde_json::json!({ "error": e.to_string(), "zones": zones }),
    )
}

/// Sets `zone` of the demo whose load balancer listens on `lb` to `mode`,
/// through `PUT /_shakeout/zones/{zone}`. Everything, connect included, must
/// finish within `timeout`.
pub async fn admin_set_zone(
    lb: SocketAddr,
    zone: &str,
    mode: ZoneMode,
    timeout: Duration,
) -> Result<(), DemoError> {
    match tokio::time::timeout(timeout, put_zone(lb, zone, mode)).await {
        Ok(result) => result,
        Err(_) => Err(DemoError::AdminTimeout { lb, timeout }),
    }
}

async fn put_zone(lb: SocketAddr, zone: &str, mode: ZoneMode) -> Result<(), DemoError> {
    let admin_err = |reason: String| DemoError::Admin { lb, reason };
    let body = serde_json::json!({ "mode": mode }).to_string();
    let req = Request::builder()
        .method(Method::PUT)
        .uri(format!("/_shakeout/zones/{}", percent_encode(zone)))
        .header(HOST, lb.to_string())
        .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| admin_err(format!("cannot build request: {e}")))?;
    let (status, body) = send_admin(lb, req).await?;
    if status == StatusCode::OK {
        return Ok(());
    }
    let parsed: Option<serde_json::Value> = serde_json::from_slice(&body).ok();
    if status == StatusCode::NOT_FOUND {
        let valid = parsed
            .as_ref()
            .and_then(|v| v.get("zones"))
            .and_then(|z| serde_json::from_value::<Vec<String>>(z.clone()).ok());
        if let Some(valid) = valid {
            return Err(DemoError::UnknownZone {
                zone: zone.to_string(),
                valid,
            });
        }
    }
    let detail = parsed
        .as_ref()
        .and_then(|v| v.get("error"))
        .and_then(|e| e.as_str())
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body).into_owned());
    Err(admin_err(format!("status {status}: {detail}")))
}

/// The zones of the demo whose load balancer listens on `lb`, through
/// `GET /_shakeout/zones`; reads only. Everything must finish within `timeout`.
pub async fn admin_zones(lb: SocketAddr, timeout: Duration) -> Result<Vec<String>, DemoError> {
    let get = async {
        let req = Request::builder()
            .method(Method::GET)
            .uri("/_shakeout/zones")
            .header(HOST, lb.to_string())
            .body(Full::new(Bytes::new()))
            .map_err(|e| DemoError::Admin {
                lb,
                reason: format!("cannot build request: {e}"),
            })?;
        let (status, body) = send_admin(lb, req).await?;
        let parsed: ZonesBody = (status == StatusCode::OK)
            .then(|| serde_json::from_slice(&body).ok())
            .flatten()
            .ok_or_else(|| DemoError::Admin {
                lb,
                reason: format!("GET /_shakeout/zones answered {status}, not a zone list"),
            })?;
        Ok(parsed.zones.into_iter().map(|z| z.name).collect())
    };
    tokio::time::timeout(timeout, get)
        .await
        .unwrap_or(Err(DemoError::AdminTimeout { lb, timeout }))
}

#[derive(Deserialize)]
struct ZonesBody {
    zones: Vec<ZoneStatus>,
}

/// One request to the admin API on a connection of its own: status and whole body.
async fn send_admin(
    lb: SocketAddr,
    req: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), DemoError> {
    let admin_err = |reason: String| DemoError::Admin { lb, reason };
    let stream = tokio::net::TcpStream::connect(lb)
        .await
        .map_err(|source| DemoError::AdminUnreachable { lb, source })?;
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| admin_err(format!("HTTP handshake failed: {e}")))?;
    // Aborted on every exit path so the connection never outlives the call.
    let conn = AbortOnDrop(tokio::spawn(conn));
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| admin_err(format!("request failed: {e}")))?;
    let status = resp.status();
    let body = Limited::new(resp.into_body(), MAX_ADMIN_BODY)
        .collect()
        .await
        .map_err(|e| admin_err(format!("cannot read response: {e}")))?
        .to_bytes();
    drop(conn);
    Ok((status, body))
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

use crate::util::path_segment as percent_encode;

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_round_trip() {
        for s in ["a", "us-east-1a", "a b/c%d", "zöne"] {
            assert_eq!(percent_decode(&percent_encode(s)).as_deref(), Some(s));
        }
        assert_eq!(percent_encode("a b/c"), "a%20b%2Fc");
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%4"), None);
    }
}
