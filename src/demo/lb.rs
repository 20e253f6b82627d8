//! The load balancer: a round-robin reverse proxy over the backends that its
//! active health checks currently consider healthy.
//!
//! Deliberately no retries and no passive ejection: a request that hits a
//! dead backend fails (502, or 504 when the backend hangs) and keeps failing
//! until the health checks notice. That delay is the outage a chaos run sees.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION};
use hyper::{Request, Response, StatusCode, Uri, Version};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tracing::{debug, info};

use super::json::error_response;
use super::replica::{spawn_server, Server};
use super::{admin, HealthCheck, Inner};

/// Name of the response header telling which backend served (or failed) a request.
pub(crate) const BACKEND_HEADER: &str = "x-shakeout-backend";

/// Request bodies are buffered before forwarding; cap them.
const MAX_BODY: usize = 8 * 1024 * 1024;

type HttpClient = Client<HttpConnector, Full<Bytes>>;

/// The balancer's view of one replica.
pub(crate) struct Backend {
    pub name: String,
    /// Index into the deployment's zones.
    pub zone: usize,
    pub addr: SocketAddr,
    healthy: AtomicBool,
}

impl Backend {
    pub fn new(name: String, zone: usize, addr: SocketAddr) -> Backend {
        // Backends start healthy, as a freshly registered target would after
        // its initial checks; a dead one is ejected within the thresholds.
        Backend {
            name,
            zone,
            addr,
            healthy: AtomicBool::new(true),
        }
    }

    pub fn is_healthy(&self) -> bool {
        self.healthy.load(Ordering::Relaxed)
    }
}

fn client(connect_timeout: Duration, max_idle_per_host: usize) -> HttpClient {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(connect_timeout));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(max_idle_per_host)
        .build(connector)
}

/// Forwarding state: the pooled client and the round-robin cursor.
pub(crate) struct Proxy {
    client: HttpClient,
    backend_timeout: Duration,
    next: AtomicUsize,
}

impl Proxy {
    pub fn new(backend_timeout: Duration) -> Proxy {
        Proxy {
            client: client(backend_timeout, usize::MAX),
            backend_timeout,
            next: AtomicUsize::new(0),
        }
    }

    fn pick<'a>(&self, backends: &'a [Arc<Backend>]) -> Option<&'a Arc<Backend>> {
        let healthy: Vec<&Arc<Backend>> = backends.iter().filter(|b| b.is_healthy()).collect();
        if healthy.is_empty() {
            return None;
        }
        let i = self.next.fetch_add(1, Ordering::Relaxed) % healthy.len();
        Some(healthy[i])
    }
}

pub(crate) fn spawn_balancer(listener: TcpListener, inner: Arc<Inner>) -> Server {
    spawn_server(listener, "load-balancer".into(), move |stream| {
        let inner = Arc::clone(&inner);
        async move {
            let service = hyper::service::service_fn(move |req| handle(req, Arc::clone(&inner)));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!("load balancer connection ended: {e}");
            }
        }
    })
}

async fn handle(
    req: Request<Incoming>,
    inner: Arc<Inner>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path();
    if path == "/_shakeout" || path.starts_with("/_shakeout/") {
        return Ok(admin::handle(req, &inner).await);
    }
    Ok(forward(req, &inner).await)
}

async fn forward(req: Request<Incoming>, inner: &Inner) -> Response<Full<Bytes>> {
    // Read the body before choosing a backend, so a client that fails to send
    // it is not blamed on (or counted against) any backend.
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                &format!("cannot read request body: {e}"),
            )
        }
    };
    let Some(backend) = inner.proxy.pick(&inner.backends) else {
        return error_response(StatusCode::SERVICE_UNAVAILABLE, "no healthy backend");
    };
    let mut resp = forward_to(parts, body, backend, &inner.proxy).await;
    if let Ok(value) = HeaderValue::from_str(&backend.name) {
        resp.headers_mut().insert(BACKEND_HEADER, value);
    }
    resp
}

async fn forward_to(
    parts: hyper::http::request::Parts,
    body: Bytes,
    backend: &Backend,
    proxy: &Proxy,
) -> Response<Full<Bytes>> {
    let path = parts
        .uri
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string();
    let uri = match Uri::try_from(format!("http://{}{}", backend.addr, path)) {
        Ok(uri) => uri,
        Err(e) => return error_response(StatusCode::BAD_REQUEST, &format!("bad path: {e}")),
    };
    let mut out = Request::new(Full::new(body));
    *out.method_mut() = parts.method;
    *out.uri_mut() = uri;
    *out.version_mut() = Version::HTTP_11;
    *out.headers_mut() = parts.headers;
    strip_hop_by_hop(out.headers_mut());

    // The whole exchange, body included, must fit in the backend timeout.
    let exchange = async {
        let resp = proxy.client.request(out).await?;
        let (parts, body) = resp.into_parts();
        let body = body.collect().await?.to_bytes();
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>((parts, body))
    };
    match tokio::time::timeout(proxy.backend_timeout, exchange).await {
        Ok(Ok((mut parts, body))) => {
            strip_hop_by_hop(&mut parts.headers);
            Response::from_parts(parts, Full::new(body))
        }
        Ok(Err(e)) => {
            debug!(backend = %backend.name, "backend request failed: {e}");
            error_response(
                StatusCode::BAD_GATEWAY,
                &format!("backend {} failed: {}", backend.name, error_chain(&*e)),
            )
        }
        Err(_) => {
            debug!(backend = %backend.name, "backend request timed out");
            error_response(
                StatusCode::GATEWAY_TIMEOUT,
                &format!(
                    "backend {} did not answer within {:?}",
                    backend.name, proxy.backend_timeout
                ),
            )
        }
    }
}

/// Hyper's client errors say little at the top ("client error (Connect)");
/// the cause (e.g. "Connection refused") is what explains an outage.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut msg = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// Removes headers that describe one hop's connection and must not be forwarded
/// (RFC 9110 §7.6.1), including any named in `Connection`.
fn strip_hop_by_hop(headers: &mut HeaderMap) {
    let named: Vec<HeaderName> = headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|name| HeaderName::try_from(name.trim()).ok())
        .collect();
    for name in named {
        headers.remove(name);
    }
    for name in [
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ] {
        headers.remove(name);
    }
}

/// Checks one backend forever, flipping its health after enough consecutive
/// results the other way.
pub(crate) async fn health_check_loop(backend: Arc<Backend>, cfg: HealthCheck) {
    // A fresh connection per check (no idle pooling), as real balancers do,
    // so a check reflects whether the backend accepts connections right now.
    let client = client(cfg.timeout, 0);
    let uri = match Uri::try_from(format!("http://{}/health", backend.addr)) {
        Ok(uri) => uri,
        Err(e) => {
            tracing::error!(backend = %backend.name, "cannot build health check URI: {e}");
            return;
        }
    };
    let mut ticker = tokio::time::interval(cfg.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let (mut failures, mut successes) = (0u32, 0u32);
    loop {
        ticker.tick().await;
        match probe(&client, &uri, cfg.timeout).await {
            Ok(()) => {
                failures = 0;
                successes = successes.saturating_add(1);
                if !backend.is_healthy() && successes >= cfg.healthy_threshold {
                    backend.healthy.store(true, Ordering::Relaxed);
                    info!(
                        backend = %backend.name, addr = %backend.addr,
                        "backend healthy after {successes} consecutive passed checks"
                    );
                }
            }
            Err(reason) => {
                successes = 0;
                failures = failures.saturating_add(1);
                if backend.is_healthy() && failures >= cfg.unhealthy_threshold {
                    backend.healthy.store(false, Ordering::Relaxed);
                    info!(
                        backend = %backend.name, addr = %backend.addr,
                        "backend unhealthy after {failures} consecutive failed checks (last: {reason})"
                    );
                }
            }
        }
    }
}

async fn probe(client: &HttpClient, uri: &Uri, timeout: Duration) -> Result<(), String> {
    let mut req = Request::new(Full::new(Bytes::new()));
    *req.uri_mut() = uri.clone();
    match tokio::time::timeout(timeout, client.request(req)).await {
        Ok(Ok(resp)) if resp.status() == StatusCode::OK => Ok(()),
        Ok(Ok(resp)) => Err(format!("status {}", resp.status())),
        Ok(Err(e)) => Err(error_chain(&e)),
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut h = HeaderMap::new();
        for (k, v) in [
            ("connection", "keep-alive, x-session-hop"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("upgrade", "websocket"),
            ("x-session-hop", "1"),
            ("x-request-id", "42"),
            ("content-type", "application/json"),
        ] {
            h.insert(k, HeaderValue::from_static(v));
        }
        strip_hop_by_hop(&mut h);
        let mut left: Vec<&str> = h.keys().map(|k| k.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["content-type", "x-request-id"]);
    }
}
