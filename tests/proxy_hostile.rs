//! Hostile requests to the Toxiproxy-compatible API: out-of-range toxic attributes
//! are a 400 naming the attribute (never a panicked connection task or a latency that
//! wraps to none), and half-sent requests do not hold connections.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shakeout::proxy::{api, Registry};

/// Serves the API on a free loopback port with `read_timeout`, on its own runtime thread.
fn start_api(read_timeout: Duration) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let stop = tokio::time::sleep(Duration::from_secs(60));
            api::serve_api_with_timeout(listener, Registry::new(), stop, read_timeout).await;
        });
    });
    addr
}

/// One request on a fresh connection; (status, JSON body).
fn request(addr: SocketAddr, method: &str, path: &str, body: &Value) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = body.to_string();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nhost: x\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out[9..12].parse().unwrap();
    let json = out
        .split_once("\r\n\r\n")
        .and_then(|(_, b)| serde_json::from_str(b).ok())
        .unwrap_or(Value::Null);
    (status, json)
}

fn create_proxy(addr: SocketAddr) {
    let (status, body) = request(
        addr,
        "POST",
        "/proxies",
        &json!({"name": "p", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}),
    );
    assert_eq!(status, 201, "{body}");
}

#[test]
fn out_of_range_toxic_attributes_are_a_400_naming_the_attribute() {
    let addr = start_api(Duration::from_secs(10));
    create_proxy(addr);
    let cases = [
        (
            "latency",
            json!({"latency": 10, "jitter": 9_300_000_000_000_000u64}),
            "jitter",
        ),
        (
            "latency",
            json!({"latency": 9_300_000_000_000_000u64}),
            "latency",
        ),
        ("latency", json!({"latency": -5}), "latency"),
        ("slow_close", json!({"delay": 1e30}), "delay"),
        ("timeout", json!({"timeout": "soon"}), "timeout"),
    ];
    for (kind, attributes, attribute) in cases {
        let (status, body) = request(
            addr,
            "POST",
            "/proxies/p/toxics",
            &json!({"type": kind, "attributes": attributes}),
        );
        assert_eq!(status, 400, "{kind} {attributes}: {body}");
        let error = body["error"].as_str().unwrap_or_default();
        assert!(error.contains(&format!("`{attribute}`")), "{error}");
    }
    // In range still works, and an update out of range is refused the same way.
    let ok = json!({"name": "lat", "type": "latency", "attributes": {"latency": 5, "jitter": 1}});
    assert_eq!(request(addr, "POST", "/proxies/p/toxics", &ok).0, 200);
    let (status, body) = request(
        addr,
        "POST",
        "/proxies/p/toxics/lat",
        &json!({"attributes": {"jitter": 9_300_000_000_000_000u64}}),
    );
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]
        .as_str()
        .unwrap_or_default()
        .contains("`jitter`"));
}

#[test]
fn half_sent_requests_are_dropped_after_the_read_timeout() {
    let read_timeout = Duration::from_millis(300);
    let addr = start_api(read_timeout);
    // Half a request head on most, a head with half its body on the rest.
    let mut conns: Vec<TcpStream> = (0..400)
        .map(|i| {
            let mut s = TcpStream::connect(addr).unwrap();
            let partial: &[u8] = if i % 4 == 0 {
                b"POST /populate HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n[{\"na"
            } else {
                b"GET /version HTTP/1.1\r\nhos"
            };
            s.write_all(partial).unwrap();
            s
        })
        .collect();
    let started = Instant::now();
    for s in conns.iter_mut() {
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut rest = Vec::new();
        // The server ends the connection (EOF or reset), possibly after an error reply.
        let ended = match s.read_to_end(&mut rest) {
            Ok(_) => true,
            Err(e) => e.kind() == std::io::ErrorKind::ConnectionReset,
        };
        assert!(ended, "a half-sent connection is still held");
    }
    assert!(
        started.elapsed() < read_timeout * 10,
        "took {:?}",
        started.elapsed()
    );
    // The API still answers.
    assert_eq!(request(addr, "GET", "/version", &Value::Null).0, 200);
}
