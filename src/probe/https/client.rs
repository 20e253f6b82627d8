//! The HTTP/1.1 client behind `http` and `prometheus` probe samples, over plain TCP
//! or rustls. Connections are made by hand (not a generic pooled client) so that each
//! failure is classed where it happens: connecting, the TLS handshake, the exchange,
//! or the body.

use super::{tls, SetupError, TlsSpec};
use crate::probe::failure::{Failure, FailureClass};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1::{self, SendRequest};
use hyper::header::{HeaderValue, HOST};
use hyper::{Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

/// Bodies are read whole (a body cut short is a failure) but not without bound.
const MAX_BODY: usize = 16 << 20;
/// Idle kept-alive connections beyond this are closed rather than pooled.
const MAX_IDLE: usize = 64;

type Sender = SendRequest<Full<Bytes>>;

/// How a client connects.
#[derive(Debug, Clone, Default)]
pub struct ClientOptions {
    /// TLS settings for an `https://` URL; `None` means the system's roots and no
    /// client certificate. Refused for an `http://` URL.
    pub tls: Option<TlsSpec>,
    /// Keep connections open between samples. Off by default: each sample then
    /// makes its own connection (and handshake), so a dead backend cannot hide
    /// behind a kept-alive socket.
    pub reuse_connection: bool,
    /// Bound on one whole sample: connect, handshake, request and body.
    pub timeout: Duration,
}

/// One answer: its status and its whole body.
#[derive(Debug, Clone)]
pub struct Response {
    pub status: u16,
    pub body: Bytes,
}

/// An HTTP(S) client for one origin (scheme, host, port). Shared by all in-flight
/// samples of a probe, so `send` takes `&self`.
pub struct HttpsClient {
    origin: Origin,
    tls: Option<Tls>,
    pool: Option<Mutex<Vec<Sender>>>,
    timeout: Duration,
}

struct Origin {
    host: String,
    port: u16,
    authority: HeaderValue,
}

struct Tls {
    connector: TlsConnector,
    name: ServerName<'static>,
}

/// Why one exchange failed: on a reused connection, a connection the server already
/// closed is retried once on a fresh one instead of counting against the target.
enum ExchangeError {
    Stale(Failure),
    Failed(Failure),
}

impl HttpsClient {
    /// A client for the origin of `url` (`http://` or `https://`; its path is not used).
    pub fn new(url: &str, options: &ClientOptions) -> Result<HttpsClient, SetupError> {
        let uri: Uri = url.parse().map_err(|e| SetupError::BadUrl {
            url: url.to_string(),
            reason: format!("{e}"),
        })?;
        let (origin, secure) = origin(url, &uri)?;
        let tls = match (secure, &options.tls) {
            (false, Some(_)) => return Err(SetupError::TlsForPlainHttp(url.to_string())),
            (false, None) => None,
            (true, spec) => {
                let spec = spec.clone().unwrap_or_default();
                Some(Tls {
                    connector: TlsConnector::from(tls::client_config(&spec)?),
                    name: tls::server_name(&spec, &origin.host)?,
                })
            }
        };
        Ok(HttpsClient {
            origin,
            tls,
            pool: options.reuse_connection.then(|| Mutex::new(Vec::new())),
            timeout: options.timeout,
        })
    }

    /// One request. Only the path and query of the request's URI are used; the
    /// client supplies the origin and the `Host` header (unless the request has one).
    pub async fn send(&self, request: Request<Bytes>) -> Result<Response, Failure> {
        self.send_noting(request, &|| {}).await
    }

    /// [`send`](Self::send), calling `on_sent` once a connection is up and the request
    /// is about to leave: a failure before it never reached the server (a write
    /// ledger's "failed"), one after it may have (its "unknown").
    pub async fn send_noting(
        &self,
        request: Request<Bytes>,
        on_sent: &(dyn Fn() + Sync),
    ) -> Result<Response, Failure> {
        match tokio::time::timeout(self.timeout, self.exchange(request, on_sent)).await {
            Ok(result) => result,
            Err(_) => Err(Failure::new(FailureClass::Timeout, "timed out")),
        }
    }

    async fn exchange(
        &self,
        request: Request<Bytes>,
        on_sent: &(dyn Fn() + Sync),
    ) -> Result<Response, Failure> {
        let request = self.prepare(request)?;
        if let Some(sender) = self.pooled().await {
            on_sent();
            match self.round_trip(sender, copy(&request)).await {
                Ok(response) => return Ok(response),
                Err(ExchangeError::Failed(failure)) => return Err(failure),
                Err(ExchangeError::Stale(failure)) => {
                    tracing::debug!("reused connection was closed ({failure}); reconnecting");
                }
            }
        }
        let sender = self.connect().await?;
        on_sent();
        match self.round_trip(sender, request).await {
            Ok(response) => Ok(response),
            Err(ExchangeError::Stale(failure) | ExchangeError::Failed(failure)) => Err(failure),
        }
    }

    fn prepare(&self, request: Request<Bytes>) -> Result<Request<Bytes>, Failure> {
        let (mut parts, body) = request.into_parts();
        let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        parts.uri = path
            .parse()
            .map_err(|e| Failure::new(FailureClass::Connect, format!("bad request path: {e}")))?;
        if !parts.headers.contains_key(HOST) {
            parts.headers.insert(HOST, self.origin.authority.clone());
        }
        Ok(Request::from_parts(parts, body))
    }

    /// An idle pooled connection that is still open, if any.
    async fn pooled(&self) -> Option<Sender> {
        let pool = self.pool.as_ref()?;
        loop {
            let mut sender = lock(pool).pop()?;
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    async fn connect(&self) -> Result<Sender, Failure> {
        let tcp = TcpStream::connect((self.origin.host.as_str(), self.origin.port))
            .await
            .map_err(|e| Failure::from_io(&e))?;
        // Probe requests are small; Nagle would only add latency to the figures.
        let _ = tcp.set_nodelay(true);
        match &self.tls {
            None => handshake(tcp).await,
            Some(tls) => {
                let stream = tls
                    .connector
                    .connect(tls.name.clone(), tcp)
                    .await
                    .map_err(|e| tls::handshake_failure(&e))?;
                handshake(stream).await
            }
        }
    }

    async fn round_trip(
        &self,
        mut sender: Sender,
        request: Request<Bytes>,
    ) -> Result<Response, ExchangeError> {
        let reused = self.pool.is_some();
        let response = sender
            .send_request(request.map(Full::new))
            .await
            .map_err(|e| {
                let failure = exchange_failure(&e);
                if reused {
                    ExchangeError::Stale(failure)
                } else {
                    ExchangeError::Failed(failure)
                }
            })?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| ExchangeError::Failed(body_failure(e.as_ref())))?
            .to_bytes();
        self.give_back(sender);
        Ok(Response { status, body })
    }

    fn give_back(&self, sender: Sender) {
        if let Some(pool) = &self.pool {
            let mut idle = lock(pool);
            if !sender.is_closed() && idle.len() < MAX_IDLE {
                idle.push(sender);
            }
        }
    }
}

/// HTTP/1.1 over an established stream; the connection task ends (and closes the
/// socket) once the last handle to it is dropped.
async fn handshake<S>(stream: S) -> Result<Sender, Failure>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| exchange_failure(&e))?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("probe connection ended: {e}");
        }
    });
    Ok(sender)
}

fn origin(url: &str, uri: &Uri) -> Result<(Origin, bool), SetupError> {
    let bad = |reason: &str| SetupError::BadUrl {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let secure = match uri.scheme_str() {
        Some("https") => true,
        Some("http") => false,
        _ => return Err(bad("the scheme must be http:// or https://")),
    };
    let authority = uri.authority().ok_or_else(|| bad("no host"))?;
    if authority.as_str().contains('@') {
        return Err(bad("credentials in the URL; use an Authorization header"));
    }
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let origin = Origin {
        host: host.to_string(),
        port: authority
            .port_u16()
            .unwrap_or(if secure { 443 } else { 80 }),
        authority: HeaderValue::from_str(authority.as_str()).map_err(|_| bad("bad host"))?,
    };
    Ok((origin, secure))
}

/// A copy of a request, for the one retry after a stale pooled connection.
fn copy(request: &Request<Bytes>) -> Request<Bytes> {
    let mut copy = Request::new(request.body().clone());
    *copy.method_mut() = request.method().clone();
    *copy.uri_mut() = request.uri().clone();
    *copy.version_mut() = request.version();
    *copy.headers_mut() = request.headers().clone();
    copy
}

fn exchange_failure(e: &hyper::Error) -> Failure {
    if let Some(io) = io_source(e) {
        // TLS 1.3 servers judge a client certificate after the client's handshake
        // finished, so that refusal arrives with the first answer.
        if tls::is_tls_error(io) {
            return tls::handshake_failure(io);
        }
        return Failure::from_io(io);
    }
    if e.is_incomplete_message() || e.is_canceled() {
        return Failure::new(FailureClass::Connect, "connection closed before an answer");
    }
    Failure::new(FailureClass::Connect, e.to_string())
}

fn body_failure(e: &(dyn std::error::Error + Send + Sync + 'static)) -> Failure {
    if e.is::<http_body_util::LengthLimitError>() {
        return Failure::new(
            FailureClass::Body,
            format!("body larger than {MAX_BODY} bytes"),
        );
    }
    let reason = crate::probe::root_reason(e);
    Failure::new(FailureClass::Body, format!("body: {reason}"))
}

fn io_source<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a std::io::Error> {
    let mut current = Some(e);
    while let Some(err) = current {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return Some(io);
        }
        current = err.source();
    }
    None
}

/// The pool holds plain handles; a panic elsewhere cannot leave it half-updated.
fn lock(pool: &Mutex<Vec<Sender>>) -> std::sync::MutexGuard<'_, Vec<Sender>> {
    pool.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
