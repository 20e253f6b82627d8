//! Toxiproxy-compatible HTTP API over a [`Registry`].
//!
//! Routes, status codes and JSON shapes follow Toxiproxy's `api.go`:
//! errors are `{"error":"...","status":N}`, creates answer 201, deletes
//! 204, toxic create/update 200 with the toxic. POST and PATCH are both
//! accepted for updates (Toxiproxy deprecated POST but still serves it).

use std::convert::Infallible;
use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE, USER_AGENT};
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::task::JoinSet;

use super::error::ProxyError;
use super::registry::{ProxyConfig, ProxyUpdate, Registry};

/// Version reported by `GET /version`: the Toxiproxy API level we emulate,
/// so clients that gate features on it behave as with Toxiproxy.
pub const TOXIPROXY_VERSION: &str = "2.12.0";

/// Request bodies are small JSON documents; refuse anything huge.
const MAX_BODY: usize = 1 << 20;

type Resp = Response<Full<Bytes>>;

/// How long a client may take to send a request's head, or its body, and how long
/// a kept-alive connection may sit idle: a connection that sends half a request and
/// stops must not hold a socket and a task forever.
pub const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves the API on `listener` until `shutdown` completes, then stops
/// accepting and drops open API connections. Proxies are left to the caller.
pub async fn serve_api(
    listener: TcpListener,
    registry: Registry,
    shutdown: impl Future<Output = ()>,
) {
    serve_api_with_timeout(listener, registry, shutdown, READ_TIMEOUT).await
}

/// [`serve_api`] with another [`READ_TIMEOUT`] (tests use a short one).
pub async fn serve_api_with_timeout(
    listener: TcpListener,
    registry: Registry,
    shutdown: impl Future<Output = ()>,
    read_timeout: Duration,
) {
    let mut conns = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "API accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                    continue;
                }
            },
            // Reap finished connection tasks so the set stays small.
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let reg = registry.clone();
        conns.spawn(async move {
            let svc = service_fn(move |req| {
                let reg = reg.clone();
                async move { Ok::<_, Infallible>(handle_within(&reg, req, read_timeout).await) }
            });
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(read_timeout)
                .serve_connection(TokioIo::new(stream), svc)
                .await
            {
                tracing::debug!(client = %peer, error = %e, "API connection error");
            }
        });
    }
    conns.shutdown().await;
}

/// Handles one API request.
pub async fn handle(reg: &Registry, req: Request<Incoming>) -> Resp {
    handle_within(reg, req, READ_TIMEOUT).await
}

/// Handles one API request whose body must arrive within `read_timeout`.
async fn handle_within(reg: &Registry, req: Request<Incoming>, read_timeout: Duration) -> Resp {
    // Toxiproxy refuses browsers so a web page cannot drive the API (CSRF).
    if req
        .headers()
        .get(USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ua| ua.starts_with("Mozilla/"))
    {
        return Response::builder()
            .status(StatusCode::FORBIDDEN)
            .header(CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(Full::new(Bytes::from_static(b"User agent not allowed\n")))
            .unwrap_or_else(|_| Response::new(Full::new(Bytes::new())));
    }
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let body = match tokio::time::timeout(
        read_timeout,
        Limited::new(req.into_body(), MAX_BODY).collect(),
    )
    .await
    {
        Ok(Ok(b)) => b.to_bytes(),
        Ok(Err(e)) => return error(&ProxyError::BadRequestBody(e.to_string())),
        Err(_) => {
            return error(&ProxyError::BadRequestBody(format!(
                "request body not received within {}s",
                read_timeout.as_secs_f64()
            )))
        }
    };
    let segs: Vec<String> = path
        .trim_matches('/')
        .split('/')
        .map(percent_decode)
        .collect();
    let segs: Vec<&str> = segs.iter().map(String::as_str).collect();
    let result = route(reg, &method, &segs, &body).await;
    match result {
        Ok(r) => r,
        Err(e) => {
            if e.status() >= 500 {
                tracing::warn!(%method, %path, error = %e, "API error");
            }
            error(&e)
        }
    }
}

async fn route(
    reg: &Registry,
    m: &Method,
    segs: &[&str],
    body: &Bytes,
) -> Result<Resp, ProxyError> {
    let is_update = *m == Method::POST || *m == Method::PATCH;
    match segs {
        ["version"] if *m == Method::GET => Ok(version()),
        ["reset"] if *m == Method::POST => {
            reg.try_reset().await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        ["proxies"] if *m == Method::GET => {
            let map: serde_json::Map<String, Value> = reg
                .list()
                .into_iter()
                .map(|p| (p.name.clone(), to_value(&p)))
                .collect();
            Ok(json_resp(StatusCode::OK, &Value::Object(map)))
        }
        ["proxies"] if *m == Method::POST => {
            let cfg: ProxyConfig = parse(body)?;
            let info = reg.create(cfg).await?;
            Ok(json_resp(StatusCode::CREATED, &to_value(&info)))
        }
        ["populate"] if *m == Method::POST => {
            let res = match parse::<Vec<ProxyConfig>>(body) {
                Ok(cfgs) => reg.populate(cfgs).await,
                Err(e) => Err(e),
            };
            Ok(match res {
                Ok(ps) => json_resp(StatusCode::CREATED, &json!({ "proxies": ps })),
                // Toxiproxy embeds the error next to a null proxy list.
                Err(e) => json_resp(
                    status(e.status()),
                    &json!({ "error": e.to_string(), "status": e.status(), "proxies": null }),
                ),
            })
        }
        ["proxies", name] if *m == Method::GET => {
            Ok(json_resp(StatusCode::OK, &to_value(&reg.get(name)?)))
        }
        ["proxies", name] if is_update => {
            // Unknown proxy wins over a bad body, as in Toxiproxy.
            reg.get(name)?;
            let upd: ProxyUpdate = parse(body)?;
            let info = reg.update(name, upd).await?;
            Ok(json_resp(StatusCode::OK, &to_value(&info)))
        }
        ["proxies", name] if *m == Method::DELETE => {
            reg.delete(name).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        ["proxies", name, "toxics"] if *m == Method::GET => {
            Ok(json_resp(StatusCode::OK, &to_value(&reg.toxics(name)?)))
        }
        ["proxies", name, "toxics"] if *m == Method::POST => {
            reg.get(name)?;
            let v: Value = parse(body)?;
            let t = reg.add_toxic_json(name, &v).await?;
            Ok(json_resp(StatusCode::OK, &t.to_json()))
        }
        ["proxies", name, "toxics", toxic] if *m == Method::GET => Ok(json_resp(
            StatusCode::OK,
            &reg.get_toxic(name, toxic)?.to_json(),
        )),
        ["proxies", name, "toxics", toxic] if is_update => {
            reg.get_toxic(name, toxic)?;
            let v: Value = parse(body)?;
            let t = reg.update_toxic(name, toxic, v).await?;
            Ok(json_resp(StatusCode::OK, &t.to_json()))
        }
        ["proxies", name, "toxics", toxic] if *m == Method::DELETE => {
            reg.remove_toxic(name, toxic).await?;
            Ok(empty(StatusCode::NO_CONTENT))
        }
        ["version"]
        | ["reset"]
        | ["proxies"]
        | ["populate"]
        | ["proxies", _]
        | ["proxies", _, "toxics"]
        | ["proxies", _, "toxics", _] => Err(ProxyError::MethodNotAllowed),
        _ => Err(ProxyError::RouteNotFound),
    }
}

fn parse<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ProxyError> {
    serde_json::from_slice(body).map_err(|e| ProxyError::BadRequestBody(e.to_string()))
}

fn to_value<T: serde::Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
}

fn version() -> Resp {
    let body = format!("{{\"version\": \"{TOXIPROXY_VERSION}\"}}\n");
    let mut r = Response::new(Full::new(Bytes::from(body)));
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/json;charset=utf-8"),
    );
    r
}

fn json_resp(code: StatusCode, v: &Value) -> Resp {
    let body = serde_json::to_vec(v).unwrap_or_default();
    let mut r = Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = code;
    r.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn empty(code: StatusCode) -> Resp {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = code;
    r
}

fn error(e: &ProxyError) -> Resp {
    json_resp(status(e.status()), &e.to_json())
}

/// Decodes `%XX` escapes in a path segment (proxy and toxic names may
/// contain characters clients escape).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
            if let Some(v) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::percent_decode;

    #[test]
    fn decodes_escapes() {
        assert_eq!(percent_decode("a%20b"), "a b");
        assert_eq!(percent_decode("plain"), "plain");
        assert_eq!(percent_decode("bad%2"), "bad%2");
        assert_eq!(percent_decode("end%41"), "endA");
    }
}
