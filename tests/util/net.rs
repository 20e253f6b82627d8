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
