//! One replica of the demo service: a tiny hyper HTTP/1.1 server on its own
//! 127.0.0.1 port, whose behaviour follows its zone's [`ZoneMode`].
//!
//! A replica can be "crashed" (listener and every open connection dropped, as
//! a dead process would leave them) and started again on the same port.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::{oneshot, watch};
use tokio::task::{JoinHandle, JoinSet};
use tracing::{debug, warn};

use super::json::json_response;
use super::{DemoError, ZoneMode};

/// Who a replica is; shared by all of its connections.
#[derive(Debug)]
pub(crate) struct Identity {
    pub zone: String,
    pub name: String,
    /// The store every replica serves `/orders` from, when the demo has one.
    pub store: Option<Arc<super::store::Store>>,
}

/// Binds a listening socket with SO_REUSEADDR, so a replica that crashed can
/// take its old port back even while closed connections sit in TIME_WAIT.
pub(crate) fn bind_listener(addr: SocketAddr) -> Result<TcpListener, DemoError> {
    let bind_err = |source| DemoError::Bind { addr, source };
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()
    } else {
        TcpSocket::new_v6()
    }
    .map_err(bind_err)?;
    socket.set_reuseaddr(true).map_err(bind_err)?;
    socket.bind(addr).map_err(bind_err)?;
    socket.listen(1024).map_err(bind_err)
}

/// A running accept loop. Stopping it drops the listener and aborts every
/// connection task, and only returns once all of them are gone.
pub(crate) struct Server {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Server {
    pub async fn stop(self) {
        // The task may already have ended (e.g. the runtime is shutting down);
        // either way, nothing is left listening once it has been joined.
        let _ = self.stop.send(());
        if let Err(e) = self.task.await {
            if e.is_panic() {
                warn!("server task panicked: {e}");
            }
        }
    }
}

/// Spawns an accept loop on `listener`, serving each connection with `serve`.
///
/// Dropping the returned [`Server`] without calling `stop` also ends the loop
/// (the stop channel closes), so a forgotten `Demo` does not leak sockets.
pub(crate) fn spawn_server<F, Fut>(listener: TcpListener, label: String, serve: F) -> Server
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (stop, mut stop_rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let mut conns = JoinSet::new();
        loop {
            tokio::select! {
                _ = &mut stop_rx => break,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _peer)) => {
                        let _ = stream.set_nodelay(true);
                        conns.spawn(serve(stream));
                    }
                    Err(e) => {
                        // Usually fd exhaustion; back off instead of spinning.
                        warn!(server = %label, "accept failed: {e}");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                // Reap finished connections so the set does not grow forever.
                Some(_) = conns.join_next(), if !conns.is_empty() => {}
            }
        }
        drop(listener);
        conns.shutdown().await;
        debug!(server = %label, "stopped");
    });
    Server { stop, task }
}

/// Starts serving replica `id` on `listener`, answering according to `mode`.
pub(crate) fn spawn_replica(
    listener: TcpListener,
    id: Arc<Identity>,
    mode: watch::Receiver<ZoneMode>,
) -> Server {
    let label = id.name.clone();
    spawn_server(listener, label, move |stream| {
        let id = Arc::clone(&id);
        let mode = mode.clone();
        async move {
            let service =
                hyper::service::service_fn(move |req| handle(req, Arc::clone(&id), mode.clone()));
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                debug!("replica connection ended: {e}");
            }
        }
    })
}

async fn handle(
    req: Request<Incoming>,
    id: Arc<Identity>,
    mut mode: watch::Receiver<ZoneMode>,
) -> Result<Response<Full<Bytes>>, io::Error> {
    if *mode.borrow_and_update() == ZoneMode::Blackhole {
        // Never answer while blackholed: the peer sees a connection that
        // accepted its request and then went silent. Once the blackhole is
        // lifted, drop the connection (a service error closes it) rather than
        // answer a request the client has long given up on.
        let _ = mode.wait_for(|m| *m != ZoneMode::Blackhole).await;
        return Err(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            "blackhole lifted; dropping hung connection",
        ));
    }

    if req.method() == Method::GET && req.uri().path() == "/health" {
        let mut resp = Response::new(Full::new(Bytes::from_static(b"ok")));
        resp.headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        return Ok(resp);
    }

    if let Some(store) = id.store.as_ref().filter(|_| is_orders(req.uri().path())) {
        return Ok(super::orders::handle(req, store, &id.name).await);
    }

    let body = serde_json::json!({
        "zone": id.zone,
        "replica": id.name,
        "path": req.uri().path(),
    });
    Ok(json_response(StatusCode::OK, &body))
}

fn is_orders(path: &str) -> bool {
    path == "/orders" || path.starts_with("/orders/")
}
