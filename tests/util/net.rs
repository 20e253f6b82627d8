//! Async helpers for tests that drive real TCP connections in-process.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// The longest any in-process network test may take.
pub const TEST_LIMIT: Duration = Duration::from_secs(30);

/// Run `f`, failing the test if it takes longer than [`TEST_LIMIT`].
pub async fn bounded<F: Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_LIMIT, f)
        .await
        .expect("test exceeded its time bound");
}

/// What the echo server does when its client stops sending.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEof {
    /// Drop the connection.
    Close,
    /// Shut down its write side first (a half-close the proxy must pass on).
    HalfClose,
}

/// A loopback TCP server that writes back what it reads.
pub async fn echo_server(on_eof: OnEof) -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind echo");
    let addr = l.local_addr().expect("echo addr");
    tokio::spawn(async move {
        while let Ok((mut s, _)) = l.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if s.write_all(&buf[..n]).await.is_err() {
                                return;
                            }
                        }
                    }
                }
                if on_eof == OnEof::HalfClose {
                    let _ = s.shutdown().await;
                }
            });
        }
    });
    addr
}

/// The reply of a [`serve_http`] server that answers 200.
pub const HTTP_OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

/// A keep-alive HTTP/1.1 server on `listener` answering request `n` (counted by arrival,
/// across connections, from 0) with `reply(n)`. It runs until its task is aborted;
/// dropping its JoinSet then aborts every connection, which a client sees as a crash.
pub async fn serve_http(listener: TcpListener, reply: fn(u64) -> &'static [u8]) {
    let count = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let mut conns = tokio::task::JoinSet::new();
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            continue;
        };
        let count = count.clone();
        conns.spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut pending = Vec::new();
            loop {
                let n = match stream.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => n,
                };
                pending.extend_from_slice(&buf[..n]);
                while let Some(end) = pending.windows(4).position(|w| w == b"\r\n\r\n") {
                    pending.drain(..end + 4);
                    let nth = count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    if stream.write_all(reply(nth)).await.is_err() {
                        return;
                    }
                }
            }
        });
    }
}
