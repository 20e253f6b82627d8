//! The `http` write ledger end to end: the real binary writes to a real HTTP store in
//! this process that treats each id by its last digit (stores or not, answers 2xx, 5xx
//! or never), and the report's counts are checked against what the store received and
//! holds.

mod util;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::*;

/// What the store does with a create of `id`, by `id % 10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fate {
    /// 201 and stored.
    Stored,
    /// 201, not stored: an acknowledged write the store loses.
    AckedNotStored,
    /// 503, not stored.
    Refused,
    /// Stored, then 500: present though never acknowledged (a phantom).
    StoredThen500,
    /// Stored, no answer: unknown to the client, then recovered.
    StoredSilent,
    /// No answer, not stored: unknown, not written.
    Silent,
}

fn fate(id: i64) -> Fate {
    match id % 10 {
        1 => Fate::AckedNotStored,
        2 => Fate::Refused,
        3 => Fate::StoredThen500,
        4 => Fate::StoredSilent,
        5 => Fate::Silent,
        _ => Fate::Stored,
    }
}

#[derive(Default)]
struct Store {
    received: Mutex<BTreeSet<i64>>,
    held: Mutex<BTreeSet<i64>>,
}

fn answer(status: u16) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::new()));
    *r.status_mut() = hyper::StatusCode::from_u16(status).unwrap();
    r
}

async fn handle(req: Request<hyper::body::Incoming>, store: Arc<Store>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if let Some(id) = path.strip_prefix("/orders/") {
        let Ok(id) = id.parse::<i64>() else {
            return answer(400);
        };
        let held = store.held.lock().unwrap().contains(&id);
        return answer(if held { 200 } else { 404 });
    }
    let body = req.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let id = v["id"].as_i64().unwrap();
    store.received.lock().unwrap().insert(id);
    let f = fate(id);
    if matches!(f, Fate::Stored | Fate::StoredThen500 | Fate::StoredSilent) {
        store.held.lock().unwrap().insert(id);
    }
    match f {
        Fate::Stored | Fate::AckedNotStored => answer(201),
        Fate::Refused => answer(503),
        Fate::StoredThen500 => answer(500),
        Fate::StoredSilent | Fate::Silent => {
            tokio::time::sleep(Duration::from_secs(5)).await;
            answer(504)
        }
    }
}

/// The store on a loopback port, served by a runtime of its own.
fn start_store(store: Arc<Store>) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            while let Ok((s, _)) = l.accept().await {
                let store = Arc::clone(&store);
                tokio::spawn(async move {
                    let svc = hyper::service::service_fn(move |req| {
                        let store = Arc::clone(&store);
                        async move { Ok::<_, std::convert::Infallible>(handle(req, store).await) }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(s), svc)
                        .await;
                });
            }
        });
    });
    rx.recv_timeout(Duration::from_secs(5)).unwrap()
}

fn spec(addr: SocketAddr) -> String {
    format!(
        r#"name: http-ledger
duration: 2s
sla:
  max_lost_writes: 0
probes:
  - name: orders
    http:
      url: http://{addr}/orders
      write:
        body: '{{"id": {{id}}}}'
        read_url: http://{addr}/orders/{{id}}
      interval: 20ms
      timeout: 300ms
"#
    )
}

fn count(ids: &BTreeSet<i64>, pred: impl Fn(Fate) -> bool) -> u64 {
    ids.iter().filter(|id| pred(fate(**id))).count() as u64
}

#[test]
fn http_write_ledger_counts_what_the_store_received_and_holds() {
    let store = Arc::new(Store::default());
    let addr = start_store(Arc::clone(&store));
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "w.yaml", &spec(addr));
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    assert_eq!(
        code(&out),
        1,
        "lost writes fail max_lost_writes: {}",
        text(&out)
    );

    let received = store.received.lock().unwrap().clone();
    assert!(received.len() >= 50, "{} writes received", received.len());
    let report = read_report(&out_dir);
    let w = &report["probes"][0]["writes"];
    let n = |k: &str| w[k].as_u64().unwrap_or_else(|| panic!("writes.{k}: {w}"));
    use Fate::*;
    assert_eq!(
        n("acked"),
        count(&received, |f| matches!(f, Stored | AckedNotStored)),
        "{w}"
    );
    assert_eq!(
        n("failed"),
        count(&received, |f| matches!(f, Refused | StoredThen500)),
        "{w}"
    );
    assert_eq!(
        n("unknown"),
        count(&received, |f| matches!(f, StoredSilent | Silent)),
        "{w}"
    );
    assert_eq!(n("lost"), count(&received, |f| f == AckedNotStored), "{w}");
    assert_eq!(
        n("recovered"),
        count(&received, |f| f == StoredSilent),
        "{w}"
    );
    assert_eq!(
        n("not_written"),
        count(&received, |f| matches!(f, Refused | Silent)),
        "{w}"
    );
    assert_eq!(
        n("phantom"),
        count(&received, |f| f == StoredThen500),
        "{w}"
    );
    // Every lost range holds only ids the store acknowledged and dropped.
    let held = store.held.lock().unwrap().clone();
    for r in w["lost_ranges"].as_array().unwrap() {
        let (a, b) = (r[0].as_i64().unwrap(), r[1].as_i64().unwrap());
        for id in a..=b {
            assert_eq!(fate(id), AckedNotStored, "id {id} in {r}");
            assert!(!held.contains(&id));
        }
    }
}

#[test]
fn a_write_probe_against_nothing_records_failed_writes_not_lost_ones() {
    let addr = answer_preflight_then_vanish();
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "w.yaml", &spec(addr));
    let out_dir = dir.path().join("out");
    let out = run_out(spec.to_str().unwrap(), out_dir.to_str().unwrap());
    let report = read_report(&out_dir);
    let w = &report["probes"][0]["writes"];
    assert!(w["failed"].as_u64().unwrap() >= 50, "{w}");
    assert_eq!(w["acked"], 0, "{w}");
    assert_eq!(w["unknown"], 0, "refused before sending: {w}");
    assert_eq!(w["lost"], 0, "{w}");
    assert_eq!(
        w["rpo_ms"],
        serde_json::Value::Null,
        "no read-back possible: {w}"
    );
    assert!(
        w["verify_error"]
            .as_str()
            .unwrap()
            .contains("connection refused"),
        "{w}"
    );
    assert_ne!(code(&out), 0, "{}", text(&out));
}

/// A server that answers the run's preflight check once (any answer will do) and is
/// gone before t=0, so every write of the run is refused before it is sent.
fn answer_preflight_then_vanish() -> SocketAddr {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = listener.accept() {
            let mut buf = [0u8; 4096];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
        // The listener closes here: from now on connections are refused.
    });
    addr
}
