//! The Toxiproxy-compatible HTTP API, exercised with the reference
//! `toxiproxy_rust` client (blocking, run on blocking threads), with raw
//! HTTP requests for every status code and error body, and with our own
//! async `ToxiproxyClient`. Every test is bounded in time.

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shakeout::proxy::{
    serve, ClientError, Latency, ProxyConfig, Stream, ToxicKind, ToxicSpec, ToxiproxyClient,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

mod util;
use util::net::{bounded, echo_server, OnEof};

/// Runs `serve` on a free loopback port; dropping the sender stops it.
struct Server {
    addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

async fn start_server() -> Server {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        if let Err(e) = serve(addr, None, rx).await {
            panic!("serve failed: {e}");
        }
    });
    let t0 = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(t0.elapsed() < Duration::from_secs(5), "API did not start");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Server { addr, _stop: tx }
}

/// One raw HTTP/1.1 request; returns (status, parsed JSON body or Null).
async fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, Value) {
    let mut s = TcpStream::connect(addr).await.expect("connect API");
    let body = body.unwrap_or("");
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    s.write_all(req.as_bytes()).await.expect("send request");
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).await.expect("read response");
    let text = String::from_utf8_lossy(&raw);
    let status: u16 = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("status code");
    let payload = text.split_once("\r\n\r\n").map(|x| x.1).unwrap_or("");
    let v = if payload.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str(payload).unwrap_or_else(|e| panic!("bad JSON {payload:?}: {e}"))
    };
    (status, v)
}

fn err(status: u16, msg: &str) -> Value {
    json!({ "error": msg, "status": status })
}

/// Blocking round trip through std sockets (for the blocking client test).
fn std_rtt(addr: &str) -> Duration {
    let mut s = std::net::TcpStream::connect(addr).expect("connect proxy");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    s.set_nodelay(true).expect("nodelay");
    let t0 = Instant::now();
    s.write_all(b"hello").expect("write");
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).expect("echo");
    assert_eq!(&buf, b"hello");
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reference_client_drives_the_api() {
    bounded(async {
        let srv = start_server().await;
        let up = echo_server(OnEof::Close).await;
        let api = srv.addr;
        tokio::task::spawn_blocking(move || {
            use toxiproxy_rust::client::Client;
            use toxiproxy_rust::proxy::ProxyPack;
            let client = Client::new(api);
            assert!(client.is_running());
            let version = client.version().expect("version");
            assert!(version.contains("\"version\""), "{version}");

            let created = client
                .populate(vec![ProxyPack::new(
                    "echo".into(),
                    "127.0.0.1:0".into(),
                    up.to_string(),
                )])
                .expect("populate");
            assert_eq!(created.len(), 1);
            let proxy = client.find_proxy("echo").expect("find proxy");
            let listen = proxy.proxy_pack.listen.clone();
            assert_ne!(listen, "127.0.0.1:0", "listen shows the bound port");
            assert!(client.all().expect("all").contains_key("echo"));
            assert!(std_rtt(&listen) < Duration::from_millis(50));

            proxy.with_latency("downstream".into(), 100, 0, 1.0);
            let toxics = proxy.toxics().expect("toxics");
            assert_eq!(toxics.len(), 1);
            assert_eq!(toxics[0].name, "latency_downstream");
            let d = std_rtt(&listen);
            assert!(
                d >= Duration::from_millis(100) && d < Duration::from_millis(150),
                "{d:?}"
            );
            proxy.delete_all_toxics().expect("delete toxics");
            assert!(std_rtt(&listen) < Duration::from_millis(50));

            // bandwidth: 20 KB at 50 KB/s ≈ 0.4 s.
            proxy.with_bandwidth("upstream".into(), 50, 1.0);
            let mut s = std::net::TcpStream::connect(&listen).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            let t0 = Instant::now();
            s.write_all(&[1u8; 20_000]).expect("write");
            let mut buf = vec![0u8; 20_000];
            s.read_exact(&mut buf).expect("read");
            let d = t0.elapsed();
            assert!(
                d >= Duration::from_millis(300) && d < Duration::from_millis(700),
                "{d:?}"
            );
            proxy.delete_all_toxics().expect("delete toxics");

            // timeout: the data never comes back and the connection closes.
            proxy.with_timeout("upstream".into(), 100, 1.0);
            let mut s = std::net::TcpStream::connect(&listen).expect("connect");
            s.set_read_timeout(Some(Duration::from_secs(5)))
                .expect("timeout");
            s.write_all(b"x").expect("write");
            let mut b = [0u8; 1];
            assert!(matches!(s.read(&mut b), Ok(0) | Err(_)));

            // reset removes toxics; disable refuses connections.
            client.reset().expect("reset");
            assert!(proxy.toxics().expect("toxics").is_empty());
            proxy
                .with_down(|| {
                    assert!(std::net::TcpStream::connect(&listen).is_err());
                })
                .expect("down");
            assert!(std_rtt(&listen) < Duration::from_millis(50));
            proxy.disable().expect("disable");
            client.reset().expect("reset");
            assert!(client.find_proxy("echo").expect("find").proxy_pack.enabled);
            assert!(std_rtt(&listen) < Duration::from_millis(50));
            proxy.delete().expect("delete");
            assert!(client.find_proxy("echo").is_err());
        })
        .await
        .expect("blocking client thread");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_code_and_error_body() {
    bounded(async {
        let srv = start_server().await;
        let a = srv.addr;
        let up = echo_server(OnEof::Close).await.to_string();

        let (st, v) = http(a, "GET", "/version", None).await;
        assert_eq!(st, 200);
        assert!(v["version"].is_string());

        let (st, v) = http(a, "GET", "/proxies", None).await;
        assert_eq!((st, v), (200, json!({})));

        // Create: 201 with the proxy JSON.
        let body = json!({"name":"db","listen":"127.0.0.1:0","upstream":up}).to_string();
        let (st, v) = http(a, "POST", "/proxies", Some(&body)).await;
        assert_eq!(st, 201);
        assert_eq!(v["name"], "db");
        assert_eq!(v["upstream"], up.as_str());
        assert_eq!(v["enabled"], true);
        assert_eq!(v["toxics"], json!([]));
        let listen = v["listen"].as_str().expect("listen").to_string();
        let listen_addr: SocketAddr = listen.parse().expect("bound address");

        // 409 duplicate, 400 bad body / missing fields; nothing changes.
        let (st, v) = http(a, "POST", "/proxies", Some(&body)).await;
        assert_eq!((st, v), (409, err(409, "proxy already exists")));
        let (st, v) = http(a, "POST", "/proxies", Some("{not json")).await;
        assert_eq!(st, 400);
        assert!(v["error"].as_str().is_some_and(|e| e.starts_with("bad request body")));
        assert_eq!(v["status"], 400);
        let (st, v) = http(a, "POST", "/proxies", Some(r#"{"upstream":"127.0.0.1:1"}"#)).await;
        assert_eq!((st, v), (400, err(400, "missing required field: name")));
        let (st, v) = http(a, "POST", "/proxies", Some(r#"{"name":"x"}"#)).await;
        assert_eq!((st, v), (400, err(400, "missing required field: upstream")));

        // Listen port in use: Toxiproxy answers 500 with Go's bind error.
        let busy = std::net::TcpListener::bind("127.0.0.1:0").expect("bind busy");
        let busy_addr = busy.local_addr().expect("busy addr");
        let b = json!({"name":"busy","listen":busy_addr.to_string(),"upstream":up}).to_string();
        let (st, v) = http(a, "POST", "/proxies", Some(&b)).await;
        assert_eq!(st, 500);
        assert_eq!(
            v["error"],
            format!("listen tcp {busy_addr}: bind: address already in use")
        );
        assert_eq!(v["status"], 500);
        let (_, v) = http(a, "GET", "/proxies", None).await;
        assert_eq!(v.as_object().map(|m| m.len()), Some(1), "{v}");

        // Proxy show / 404.
        let (st, v) = http(a, "GET", "/proxies/db", None).await;
        assert_eq!(st, 200);
        assert_eq!(v["listen"], listen.as_str());
        let (st, v) = http(a, "GET", "/proxies/nope", None).await;
        assert_eq!((st, v), (404, err(404, "proxy not found")));
        let (st, v) = http(a, "POST", "/proxies/nope", Some(r#"{"enabled":false}"#)).await;
        assert_eq!((st, v), (404, err(404, "proxy not found")));
        let (st, v) = http(a, "DELETE", "/proxies/nope", None).await;
        assert_eq!((st, v), (404, err(404, "proxy not found")));
        let (st, v) = http(a, "GET", "/proxies/nope/toxics", None).await;
        assert_eq!((st, v), (404, err(404, "proxy not found")));

        // Toxics: 200 create, 409 duplicate, 400 type/stream/attribute.
        let t = json!({"type":"latency","attributes":{"latency":10}}).to_string();
        let (st, v) = http(a, "POST", "/proxies/db/toxics", Some(&t)).await;
        assert_eq!(st, 200);
        assert_eq!(
            v,
            json!({"name":"latency_downstream","type":"latency","stream":"downstream",
                   "toxicity":1.0,"attributes":{"latency":10,"jitter":0}})
        );
        let (st, v) = http(a, "POST", "/proxies/db/toxics", Some(&t)).await;
        assert_eq!((st, v), (409, err(409, "toxic already exists")));
        let (st, v) = http(a, "POST", "/proxies/db/toxics", Some(r#"{"type":"boom"}"#)).await;
        assert_eq!((st, v), (400, err(400, "invalid toxic type")));
        let (st, v) = http(
            a,
            "POST",
            "/proxies/db/toxics",
            Some(r#"{"type":"latency","stream":"sideways"}"#),
        )
        .await;
        assert_eq!(
            (st, v),
            (
                400,
                err(400, "stream was invalid, can be either upstream or downstream")
            )
        );
        let (st, v) = http(
            a,
            "POST",
            "/proxies/db/toxics",
            Some(r#"{"name":"bad","type":"latency","attributes":{"latency":"slow"}}"#),
        )
        .await;
        assert_eq!(st, 400);
        assert!(v["error"].as_str().is_some_and(|e| e.starts_with("bad request body")));
        let (st, _) = http(
            a,
            "POST",
            "/proxies/db/toxics",
            Some(r#"{"name":"bad","type":"slicer","attributes":{"average_size":10,"size_variation":20}}"#),
        )
        .await;
        assert_eq!(st, 400);
        let (st, _) = http(a, "POST", "/proxies/db/toxics", Some("[1,2")).await;
        assert_eq!(st, 400);
        let (st, v) = http(a, "GET", "/proxies/db/toxics", None).await;
        assert_eq!(st, 200);
        assert_eq!(v.as_array().map(Vec::len), Some(1), "bad requests changed nothing");

        // Toxic show / update / delete.
        let (st, v) = http(a, "GET", "/proxies/db/toxics/latency_downstream", None).await;
        assert_eq!(st, 200);
        assert_eq!(v["attributes"]["latency"], 10);
        let (st, v) = http(a, "GET", "/proxies/db/toxics/nope", None).await;
        assert_eq!((st, v), (404, err(404, "toxic not found")));
        let (st, v) = http(
            a,
            "POST",
            "/proxies/db/toxics/latency_downstream",
            Some(r#"{"attributes":{"jitter":2},"toxicity":0.5}"#),
        )
        .await;
        assert_eq!(st, 200);
        assert_eq!(v["attributes"], json!({"latency":10,"jitter":2}));
        assert_eq!(v["toxicity"], 0.5);
        let (st, v) = http(
            a,
            "PATCH",
            "/proxies/db/toxics/latency_downstream",
            Some(r#"{"attributes":{"latency":-5}}"#),
        )
        .await;
        assert_eq!(st, 400, "{v}");
        let (_, v) = http(a, "GET", "/proxies/db/toxics/latency_downstream", None).await;
        assert_eq!(v["attributes"]["latency"], 10, "failed update changed nothing");
        let (st, v) = http(a, "POST", "/proxies/db/toxics/nope", Some("{}")).await;
        assert_eq!((st, v), (404, err(404, "toxic not found")));
        let (st, v) = http(a, "DELETE", "/proxies/db/toxics/latency_downstream", None).await;
        assert_eq!((st, v), (204, Value::Null));
        let (st, v) = http(a, "DELETE", "/proxies/db/toxics/latency_downstream", None).await;
        assert_eq!((st, v), (404, err(404, "toxic not found")));

        // Update proxy: disable → 200 and connections refused.
        let (st, v) = http(a, "POST", "/proxies/db", Some(r#"{"enabled":false}"#)).await;
        assert_eq!(st, 200);
        assert_eq!(v["enabled"], false);
        assert!(TcpStream::connect(listen_addr).await.is_err());
        let (st, _) = http(a, "POST", "/proxies/db", Some("nope")).await;
        assert_eq!(st, 400);

        // Reset: 204, everything enabled and toxic-free.
        let (st, _) = http(a, "POST", "/proxies/db/toxics", Some(&t)).await;
        assert_eq!(st, 200);
        let (st, v) = http(a, "POST", "/reset", None).await;
        assert_eq!((st, v), (204, Value::Null));
        let (_, v) = http(a, "GET", "/proxies/db", None).await;
        assert_eq!(v["enabled"], true);
        assert_eq!(v["toxics"], json!([]));
        assert!(TcpStream::connect(listen_addr).await.is_ok());

        // Populate: 201 {"proxies":[...]}; a bad entry changes nothing.
        let p = json!([{"name":"a","listen":"127.0.0.1:0","upstream":up},
                       {"name":"b","listen":"127.0.0.1:0","upstream":up,"enabled":false}])
        .to_string();
        let (st, v) = http(a, "POST", "/populate", Some(&p)).await;
        assert_eq!(st, 201);
        let names: Vec<&str> = v["proxies"]
            .as_array()
            .expect("proxies array")
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(names, ["a", "b"]);
        assert_eq!(v["proxies"][1]["enabled"], false);
        let bad = json!([{"name":"c","upstream":up},{"name":"","upstream":up}]).to_string();
        let (st, v) = http(a, "POST", "/populate", Some(&bad)).await;
        assert_eq!(st, 400);
        assert_eq!(v["error"], "missing required field: name at proxy 2");
        let (st, _) = http(a, "POST", "/populate", Some("{}")).await;
        assert_eq!(st, 400);
        let (st, v) = http(a, "GET", "/proxies/c", None).await;
        assert_eq!((st, v), (404, err(404, "proxy not found")));

        // Delete: 204 and the port is closed.
        let (st, v) = http(a, "DELETE", "/proxies/db", None).await;
        assert_eq!((st, v), (204, Value::Null));
        assert!(TcpStream::connect(listen_addr).await.is_err());

        // Unknown route / method.
        let (st, _) = http(a, "GET", "/nothing", None).await;
        assert_eq!(st, 404);
        let (st, _) = http(a, "PUT", "/proxies", None).await;
        assert_eq!(st, 405);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_client_round_trip_and_errors() {
    bounded(async {
        let srv = start_server().await;
        let up = echo_server(OnEof::Close).await;
        let c = ToxiproxyClient::new(&format!("http://{}", srv.addr), Duration::from_secs(5))
            .expect("client");
        assert_eq!(c.version().await.expect("version"), "2.12.0");
        let info = c
            .create_proxy(&ProxyConfig::new("svc", "127.0.0.1:0", up.to_string()))
            .await
            .expect("create");
        assert!(info.listen_addr().is_some());
        let e = c
            .create_proxy(&ProxyConfig::new("svc", "127.0.0.1:0", up.to_string()))
            .await
            .expect_err("duplicate");
        assert_eq!(e.status(), Some(409));
        assert!(e.to_string().contains("proxy already exists"), "{e}");
        assert!(c.proxies().await.expect("list").contains_key("svc"));
        let t = ToxicSpec::new(
            ToxicKind::Latency(Latency {
                latency: 20,
                jitter: 0,
            }),
            Stream::Upstream,
        );
        let added = c.add_toxic("svc", &t).await.expect("add toxic");
        assert_eq!(added, t);
        assert_eq!(c.get_proxy("svc").await.expect("get").toxics, vec![t]);
        c.remove_toxic("svc", "latency_upstream")
            .await
            .expect("remove toxic");
        let e = c
            .remove_toxic("svc", "latency_upstream")
            .await
            .expect_err("gone");
        assert!(matches!(e, ClientError::Status { status: 404, ref message, .. } if message == "toxic not found"));
        assert!(!c.set_enabled("svc", false).await.expect("disable").enabled);
        c.reset().await.expect("reset");
        assert!(c.get_proxy("svc").await.expect("get").enabled);
        let e = c.get_proxy("nope").await.expect_err("404");
        assert_eq!(e.status(), Some(404));

        // Unreachable server: a typed error, not a panic or a hang.
        let dead = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port");
        let c2 = ToxiproxyClient::new(&dead.to_string(), Duration::from_millis(500)).expect("client");
        assert!(matches!(
            c2.version().await,
            Err(ClientError::Transport { .. } | ClientError::Timeout { .. })
        ));
        assert!(ToxiproxyClient::new("ftp://x", Duration::from_secs(1)).is_err());
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_loads_config_and_stops() {
    bounded(async {
        let up = echo_server(OnEof::Close).await;
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("proxies.json");
        std::fs::write(
            &path,
            json!([{"name":"cfg","listen":"127.0.0.1:0","upstream":up.to_string()}]).to_string(),
        )
        .expect("write config");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        let addr: SocketAddr = ([127, 0, 0, 1], port).into();
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(serve(addr, Some(path), async move {
            let _ = rx.await;
        }));
        let c = ToxiproxyClient::new(&addr.to_string(), Duration::from_secs(2)).expect("client");
        let t0 = Instant::now();
        let info = loop {
            if let Ok(p) = c.get_proxy("cfg").await {
                break p;
            }
            assert!(t0.elapsed() < Duration::from_secs(5), "API did not start");
            tokio::time::sleep(Duration::from_millis(10)).await;
        };
        let listen = info.listen_addr().expect("bound");
        assert!(TcpStream::connect(listen).await.is_ok());
        let _ = tx.send(());
        task.await.expect("join").expect("serve ok");
        assert!(
            TcpStream::connect(listen).await.is_err(),
            "proxies closed on shutdown"
        );

        // A broken config file is an error, not an empty proxy.
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, "{").expect("write bad config");
        let r = serve(addr, Some(bad), async {}).await;
        assert!(r.is_err());
    })
    .await
}
