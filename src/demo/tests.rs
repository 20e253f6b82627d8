//! End-to-end tests of the demo deployment over real 127.0.0.1 sockets.

use std::collections::HashMap;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

use super::*;

type TestClient = Client<HttpConnector, Full<Bytes>>;

/// Every test must finish well inside this, even on a loaded machine.
async fn bounded<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), fut)
        .await
        .expect("test exceeded its time bound")
}

fn cfg(zones: &[&str], replicas: u32) -> DemoConfig {
    DemoConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        zones: zones.iter().map(|z| z.to_string()).collect(),
        replicas_per_zone: replicas,
        ..DemoConfig::default()
    }
}

/// Fast health checks: ejection after 2 failures at 50 ms intervals.
fn fast_cfg(backend_timeout: Duration) -> DemoConfig {
    DemoConfig {
        health: HealthCheck {
            interval: Duration::from_millis(50),
            timeout: Duration::from_millis(100),
            unhealthy_threshold: 2,
            healthy_threshold: 2,
        },
        backend_timeout,
        ..cfg(&["a", "b", "c"], 2)
    }
}

fn client() -> TestClient {
    Client::builder(TokioExecutor::new()).build(HttpConnector::new())
}

struct Reply {
    status: StatusCode,
    backend: Option<String>,
    body: String,
}

async fn send(
    client: &TestClient,
    method: Method,
    addr: SocketAddr,
    path: &str,
    body: &str,
) -> Reply {
    let req = Request::builder()
        .method(method)
        .uri(format!("http://{addr}{path}"))
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("valid request");
    let resp = client.request(req).await.expect("LB answers");
    let status = resp.status();
    let backend = resp
        .headers()
        .get("x-shakeout-backend")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let body = resp.into_body().collect().await.expect("body").to_bytes();
    Reply {
        status,
        backend,
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}

async fn get(client: &TestClient, addr: SocketAddr, path: &str) -> Reply {
    send(client, Method::GET, addr, path, "").await
}

/// Sends `n` requests at once, so they all reach the balancer before its
/// health checks can react to a fault injected just before.
async fn burst(client: &TestClient, addr: SocketAddr, n: usize) -> Vec<Reply> {
    let mut set = JoinSet::new();
    for _ in 0..n {
        let client = client.clone();
        set.spawn(async move { get(&client, addr, "/checkout").await });
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.expect("request task"));
    }
    out
}

fn replica_addrs(demo: &Demo, zone: &str) -> Vec<SocketAddr> {
    demo.status()
        .into_iter()
        .find(|z| z.name == zone)
        .expect("zone exists")
        .backends
        .iter()
        .map(|b| b.addr)
        .collect()
}

/// `n` sequential requests through the balancer; all must succeed. Returns
/// how many each backend served.
async fn served_by(client: &TestClient, addr: SocketAddr, n: usize) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for _ in 0..n {
        let r = get(client, addr, "/checkout").await;
        assert_eq!(r.status, StatusCode::OK, "body: {}", r.body);
        *counts
            .entry(r.backend.expect("backend header"))
            .or_insert(0) += 1;
    }
    counts
}

#[tokio::test]
async fn all_zones_up_spreads_round_robin() {
    bounded(async {
        let demo = Demo::start(cfg(&["a", "b", "c"], 2)).await.expect("start");
        let client = client();

        let r = get(&client, demo.addr(), "/checkout?item=1").await;
        let body: serde_json::Value = serde_json::from_str(&r.body).expect("json body");
        assert_eq!(body["path"], "/checkout");
        assert_eq!(
            Some(body["replica"].as_str().expect("replica")),
            r.backend.as_deref()
        );

        let counts = served_by(&client, demo.addr(), 60).await;
        assert_eq!(counts.len(), 6, "{counts:?}");
        for name in ["a-1", "a-2", "b-1", "b-2", "c-1", "c-2"] {
            let n = counts.get(name).copied().unwrap_or(0);
            assert!((9..=11).contains(&n), "{name} served {n}: {counts:?}");
        }

        // Interleaved zone order: consecutive requests change zone.
        let order: Vec<String> = {
            let mut v = Vec::new();
            for _ in 0..6 {
                v.push(
                    get(&client, demo.addr(), "/")
                        .await
                        .backend
                        .expect("header"),
                );
            }
            v
        };
        let zones: Vec<&str> = order.iter().map(|n| &n[..1]).collect();
        for pair in zones.windows(2) {
            assert_ne!(pair[0], pair[1], "not interleaved: {order:?}");
        }

        let health = get(&client, replica_addrs(&demo, "a")[0], "/health").await;
        assert_eq!(
            (health.status, health.body.as_str()),
            (StatusCode::OK, "ok")
        );
        demo.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn crashed_zone_fails_until_ejected_then_recovers_on_same_ports() {
    bounded(async {
        let demo = Demo::start(fast_cfg(Duration::from_secs(1)))
            .await
            .expect("start");
        let client = client();
        let lb = demo.addr();
        // Warm the balancer's connection pool to every backend.
        served_by(&client, lb, 12).await;
        let a_addrs = replica_addrs(&demo, "a");

        demo.set_zone("a", ZoneMode::Crash).await.expect("crash");
        let replies = burst(&client, lb, 12).await;
        for addr in &a_addrs {
            let err = TcpStream::connect(addr)
                .await
                .expect_err("crashed replica must refuse connections");
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
        }
        let failed: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status != StatusCode::OK)
            .collect();
        assert!(!failed.is_empty(), "no request hit the crashed zone");
        for r in &failed {
            assert_eq!(r.status, StatusCode::BAD_GATEWAY, "body: {}", r.body);
            assert!(
                r.backend.as_deref().is_some_and(|b| b.starts_with("a-")),
                "failure not from zone a: {:?}",
                r.backend
            );
        }

        // 2 failed checks at 50 ms, plus slack.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let counts = served_by(&client, lb, 30).await;
        assert!(
            counts.keys().all(|b| !b.starts_with("a-")),
            "zone a still served traffic: {counts:?}"
        );
        let a_status = &demo.status()[0];
        assert!(a_status.backends.iter().all(|b| !b.healthy), "{a_status:?}");

        demo.set_zone("a", ZoneMode::Up).await.expect("up");
        assert_eq!(replica_addrs(&demo, "a"), a_addrs);
        for (i, addr) in a_addrs.iter().enumerate() {
            let r = get(&client, *addr, "/x").await;
            assert_eq!(r.status, StatusCode::OK);
            assert!(r.body.contains(&format!("\"a-{}\"", i + 1)), "{}", r.body);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let counts = served_by(&client, lb, 30).await;
        assert!(
            counts.contains_key("a-1") && counts.contains_key("a-2"),
            "zone a not readmitted: {counts:?}"
        );
        demo.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn blackholed_zone_times_out_until_ejected() {
    bounded(async {
        let demo = Demo::start(fast_cfg(Duration::from_millis(200)))
            .await
            .expect("start");
        let client = client();
        let lb = demo.addr();
        served_by(&client, lb, 12).await;
        let b_addrs = replica_addrs(&demo, "b");

        demo.set_zone("b", ZoneMode::Blackhole)
            .await
            .expect("blackhole");
        let (replies, _) = tokio::join!(burst(&client, lb, 12), async {
            // TCP still accepts, but the request never gets an answer.
            let mut stream = TcpStream::connect(b_addrs[0])
                .await
                .expect("blackholed replica still accepts");
            stream
                .write_all(b"GET /health HTTP/1.1\r\nhost: x\r\n\r\n")
                .await
                .expect("write");
            let mut buf = [0u8; 64];
            let read =
                tokio::time::timeout(Duration::from_millis(300), stream.read(&mut buf)).await;
            assert!(read.is_err(), "blackholed replica answered: {read:?}");
        });
        let failed: Vec<&Reply> = replies
            .iter()
            .filter(|r| r.status != StatusCode::OK)
            .collect();
        assert!(!failed.is_empty(), "no request hit the blackholed zone");
        for r in &failed {
            assert_eq!(r.status, StatusCode::GATEWAY_TIMEOUT, "body: {}", r.body);
            assert!(r.backend.as_deref().is_some_and(|b| b.starts_with("b-")));
        }

        tokio::time::sleep(Duration::from_millis(400)).await;
        let counts = served_by(&client, lb, 30).await;
        assert!(
            counts.keys().all(|b| !b.starts_with("b-")),
            "zone b still served traffic: {counts:?}"
        );

        demo.set_zone("b", ZoneMode::Up).await.expect("up");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let counts = served_by(&client, lb, 30).await;
        assert!(
            counts.contains_key("b-1") && counts.contains_key("b-2"),
            "zone b not readmitted: {counts:?}"
        );
        demo.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn no_healthy_backend_is_503() {
    bounded(async {
        let mut c = fast_cfg(Duration::from_secs(1));
        c.zones = vec!["solo".into()];
        let demo = Demo::start(c).await.expect("start");
        let client = client();
        demo.set_zone("solo", ZoneMode::Crash).await.expect("crash");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let r = get(&client, demo.addr(), "/").await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        demo.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn admin_api() {
    bounded(async {
        let demo = Demo::start(cfg(&["a", "b", "c"], 2)).await.expect("start");
        let client = client();
        let lb = demo.addr();
        let t = Duration::from_secs(5);

        let r = get(&client, lb, "/_shakeout/zones").await;
        assert_eq!(r.status, StatusCode::OK);
        assert_eq!(r.backend, None, "admin requests must not be balanced");
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        let zones = v["zones"].as_array().expect("zones array");
        let names: Vec<&str> = zones.iter().filter_map(|z| z["name"].as_str()).collect();
        assert_eq!(names, ["a", "b", "c"]);
        for z in zones {
            assert_eq!(z["mode"], "up");
            let backends = z["backends"].as_array().expect("backends");
            assert_eq!(backends.len(), 2);
            for b in backends {
                assert!(b["name"]
                    .as_str()
                    .expect("name")
                    .starts_with(z["name"].as_str().expect("zone")));
                b["addr"]
                    .as_str()
                    .expect("addr")
                    .parse::<SocketAddr>()
                    .expect("addr parses");
                assert_eq!(b["healthy"], true);
            }
        }

        admin_set_zone(lb, "a", ZoneMode::Crash, t)
            .await
            .expect("crash");
        assert_eq!(demo.zones()[0], ("a".to_string(), ZoneMode::Crash));
        let r = get(&client, lb, "/_shakeout/zones").await;
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["zones"][0]["mode"], "crash");
        admin_set_zone(lb, "a", ZoneMode::Up, t).await.expect("up");
        assert_eq!(demo.zones()[0].1, ZoneMode::Up);

        let r = send(
            &client,
            Method::PUT,
            lb,
            "/_shakeout/zones/b",
            r#"{"mode":"blackhole"}"#,
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(
            (v["name"].as_str(), v["mode"].as_str()),
            (Some("b"), Some("blackhole"))
        );

        let err = admin_set_zone(lb, "x", ZoneMode::Crash, t)
            .await
            .expect_err("unknown zone");
        assert!(matches!(err, DemoError::UnknownZone { .. }), "{err:?}");
        assert_eq!(err.to_string(), "unknown zone `x`; zones are a, b, c");
        let r = send(
            &client,
            Method::PUT,
            lb,
            "/_shakeout/zones/x",
            r#"{"mode":"up"}"#,
        )
        .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        let v: serde_json::Value = serde_json::from_str(&r.body).expect("json");
        assert_eq!(v["error"], "unknown zone `x`; zones are a, b, c");

        for bad in ["not json", r#"{"mode":"sideways"}"#, "{}"] {
            let r = send(&client, Method::PUT, lb, "/_shakeout/zones/a", bad).await;
            assert_eq!(
                r.status,
                StatusCode::BAD_REQUEST,
                "body {bad:?}: {}",
                r.body
            );
        }
        assert_eq!(demo.zones()[0].1, ZoneMode::Up);

        // Nothing listening: a typed connection error, not a hang.
        let closed = {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            l.local_addr().expect("addr")
        };
        let err = admin_set_zone(closed, "a", ZoneMode::Up, t)
            .await
            .expect_err("closed");
        assert!(matches!(err, DemoError::AdminUnreachable { .. }), "{err:?}");
        // Accepts but never answers: the timeout applies.
        let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let err = admin_set_zone(
            silent.local_addr().expect("addr"),
            "a",
            ZoneMode::Up,
            Duration::from_millis(200),
        )
        .await
        .expect_err("silent");
        assert!(matches!(err, DemoError::AdminTimeout { .. }), "{err:?}");

        demo.shutdown().await;
    })
    .await;
}

#[tokio::test]
async fn start_rejects_bad_config_and_busy_port() {
    bounded(async {
        let taken = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = taken.local_addr().expect("addr");
        let err = Demo::start(DemoConfig {
            listen: addr,
            ..cfg(&["a"], 1)
        })
        .await
        .err()
        .expect("port in use");
        assert!(matches!(err, DemoError::Bind { .. }), "{err:?}");
        assert_eq!(err.to_string(), format!("{addr} is already in use"));

        let err = Demo::start(cfg(&[], 1)).await.err().expect("no zones");
        assert!(matches!(err, DemoError::InvalidConfig(_)), "{err:?}");

        let err = Demo::start(cfg(&["a", "b", "a"], 1))
            .await
            .err()
            .expect("duplicate");
        assert!(err.to_string().contains("duplicate zone name `a`"), "{err}");

        let err = Demo::start(cfg(&["a"], 0))
            .await
            .err()
            .expect("no replicas");
        assert!(matches!(err, DemoError::InvalidConfig(_)), "{err:?}");

        let err = Demo::start(cfg(&["a/b"], 1)).await.err().expect("bad name");
        assert!(matches!(err, DemoError::InvalidConfig(_)), "{err:?}");
    })
    .await;
}

#[tokio::test]
async fn shutdown_closes_every_port() {
    bounded(async {
        let demo = Demo::start(cfg(&["a", "b"], 1)).await.expect("start");
        let lb = demo.addr();
        let replicas: Vec<SocketAddr> = ["a", "b"]
            .iter()
            .flat_map(|z| replica_addrs(&demo, z))
            .collect();
        let r = get(&client(), lb, "/").await;
        assert_eq!(r.status, StatusCode::OK);
        demo.shutdown().await;
        for addr in std::iter::once(lb).chain(replicas) {
            let err = TcpStream::connect(addr).await.expect_err("port still open");
            assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused, "{addr}");
        }
    })
    .await;
}

#[tokio::test]
async fn a_lost_zone_takes_its_copy_of_the_store_down_with_it() {
    bounded(async {
        let demo = Demo::start(DemoConfig {
            store: Some(crate::demo::store::StoreConfig {
                replication: crate::demo::store::Replication::Sync,
                delay: Duration::from_millis(1),
            }),
            ..fast_cfg(Duration::from_secs(1))
        })
        .await
        .expect("demo starts");
        let (c, addr) = (client(), demo.addr());
        // Until the balancer ejects a lost zone it may route there (502/504): retry.
        let post = |id: u64| {
            let c = c.clone();
            async move {
                loop {
                    let r = send(
                        &c,
                        Method::POST,
                        addr,
                        "/orders",
                        &format!("{{\"id\": {id}}}"),
                    )
                    .await;
                    if r.status != StatusCode::BAD_GATEWAY
                        && r.status != StatusCode::GATEWAY_TIMEOUT
                    {
                        return r;
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        };
        assert_eq!(post(1).await.status, StatusCode::CREATED);
        demo.set_zone("b", ZoneMode::Crash)
            .await
            .expect("zone b down");
        assert_eq!(
            post(2).await.status,
            StatusCode::CREATED,
            "primary a and replica c"
        );
        let node = |zone: &str| {
            let st = demo.inner.store.as_ref().expect("a store").status();
            st.nodes
                .into_iter()
                .find(|n| n.zone == zone)
                .expect("a node per zone")
        };
        assert_eq!((node("b").keys, node("b").zone_lost), (1, true));
        demo.set_zone("b", ZoneMode::Up).await.expect("zone b up");
        assert_eq!((node("b").keys, node("b").zone_lost), (2, false));

        demo.set_zone("a", ZoneMode::Blackhole)
            .await
            .expect("zone a lost");
        let lost = post(3).await;
        assert_eq!(
            lost.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{}",
            lost.body
        );
        assert!(lost.body.contains("lost zone"), "{}", lost.body);
        demo.set_zone("a", ZoneMode::Up).await.expect("zone a up");
        assert_eq!(post(3).await.status, StatusCode::CREATED);
        demo.shutdown().await;
    })
    .await;
}
