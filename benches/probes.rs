//! Probe engine benchmark: sustained samples/s against a local HTTP server, and
//! schedule lateness (actual send − intended send) at 1 kHz per probe.
//!
//!     cargo bench --bench probes
//!     cargo bench --bench probes -- https
//!
//! The `https` mode measures what a new connection per HTTPS sample (TCP + TLS
//! handshake, the default) costs against a reused one (`reuse_connection: true`): a
//! local HTTPS server with a CA and certificate generated here, probed open loop at
//! increasing rates in both modes.
//!
//! Every figure comes from a real run of the engine (the same code `shakeout run`
//! uses) against a real HTTP server on loopback, read back from the run's report.
//! The physical limit is measured in the same run: a closed-loop client hammering the
//! same server as fast as it can (and `wrk`, when installed, as a peer).

use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use shakeout::engine::{self, RunOptions};
use shakeout::report::RunFiles;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

#[path = "../tests/util/tls.rs"]
mod tls;

/// A tiny HTTP server on its own runtime thread, so it does not share the engine's workers.
fn start_server() -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let _ = stream.set_nodelay(true);
                tokio::spawn(async move {
                    let svc = service_fn(|_req| async {
                        Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::from_static(
                            b"ok",
                        ))))
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), svc)
                        .await;
                });
            }
        });
    });
    rx.recv().unwrap()
}

struct Figures {
    samples: u64,
    failed: u64,
    seconds: f64,
    late_p50_us: f64,
    late_p99_us: f64,
    latency_p99_ms: f64,
}

async fn run_engine(addr: SocketAddr, probes: usize, interval: &str, duration: &str) -> Figures {
    let mut spec = format!("name: bench\nduration: {duration}\nprobes:\n");
    // Keep-alive, like the closed-loop limit it is divided by: this figure is the
    // engine's capacity, not the cost of a TCP handshake (the `https` mode measures that).
    for i in 0..probes {
        spec.push_str(&format!(
            "  - name: p{i}\n    http:\n      url: http://{addr}/\n      interval: {interval}\n      timeout: 1s\n      reuse_connection: true\n"
        ));
    }
    run_spec(&spec).await
}

/// The engine on a spec, read back from its report.
async fn run_spec(spec: &str) -> Figures {
    let plan = shakeout::plan::from_text("bench.yaml", spec).expect("bench spec compiles");
    let dir = tempfile::tempdir().unwrap();
    let files = RunFiles {
        report_dir: dir.path().to_path_buf(),
        chart_dir: dir.path().to_path_buf(),
    };
    let out = engine::run(
        &plan,
        RunOptions {
            run_id: "bench".into(),
            files,
            progress: false,
            spec_text: None,
        },
    )
    .await
    .expect("bench run");
    let r = out.report;
    let samples: u64 = r.probes.iter().map(|p| p.total).sum();
    let failed: u64 = r.probes.iter().map(|p| p.failed).sum();
    // Lateness: the worst probe's percentiles (every probe shares one scheduler).
    let late_p50_us = r
        .probes
        .iter()
        .filter_map(|p| p.send_lateness_ms.p50)
        .fold(0.0, f64::max)
        * 1000.0;
    let late_p99_us = r
        .probes
        .iter()
        .filter_map(|p| p.send_lateness_ms.p99)
        .fold(0.0, f64::max)
        * 1000.0;
    let latency_p99_ms = r
        .probes
        .iter()
        .filter_map(|p| p.latency_ms.p99)
        .fold(0.0, f64::max);
    Figures {
        samples,
        failed,
        seconds: r.duration_ms / 1000.0,
        late_p50_us,
        late_p99_us,
        latency_p99_ms,
    }
}

/// Closed loop: `conns` tasks each sending the next request as soon as the last returns.
async fn direct_max(addr: SocketAddr, conns: usize, secs: f64) -> f64 {
    use hyper_util::client::legacy::Client;
    let client: Client<_, Full<Bytes>> = Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(hyper_util::client::legacy::connect::HttpConnector::new());
    let uri: hyper::Uri = format!("http://{addr}/").parse().unwrap();
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let mut tasks = Vec::new();
    for _ in 0..conns {
        let (client, uri) = (client.clone(), uri.clone());
        tasks.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < end {
                let req = hyper::Request::get(uri.clone())
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                if let Ok(resp) = client.request(req).await {
                    let _ = http_body_util::BodyExt::collect(resp.into_body()).await;
                    n += 1;
                }
            }
            n
        }));
    }
    let mut total = 0;
    for t in tasks {
        total += t.await.unwrap();
    }
    total as f64 / secs
}

fn wrk(addr: SocketAddr) -> Option<f64> {
    let out = std::process::Command::new("wrk")
        .args(["-t1", "-c32", "-d3s", &format!("http://{addr}/")])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.starts_with("Requests/sec:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

const BENCH_AUTH: &str = "Bearer bench";

/// `probes` HTTPS probes of `url` at `interval`, trusting `ca`, one connection per
/// sample or one kept per probe.
fn https_spec(
    url: &str,
    ca: &std::path::Path,
    probes: usize,
    interval: &str,
    reuse: bool,
) -> String {
    let mut spec = "name: bench-https\nduration: 3s\nprobes:\n".to_string();
    for i in 0..probes {
        spec.push_str(&format!(
            "  - name: p{i}\n    http:\n      url: {url}\n      interval: {interval}\n      timeout: 1s\n      \
             headers: {{Authorization: \"{BENCH_AUTH}\"}}\n      tls: {{ca_file: \"{}\"}}\n      reuse_connection: {reuse}\n",
            ca.display()
        ));
    }
    spec
}

/// New connection vs reused one, open loop at increasing rates (4 probes).
fn https_mode(rt: &tokio::runtime::Runtime) {
    let dir = tempfile::tempdir().unwrap();
    let ca = tls::Ca::new("shakeout bench CA");
    let ca_file = ca.write(dir.path(), "ca.pem");
    let server = tls::HttpsServer::start(ca.server(&["127.0.0.1"], false), BENCH_AUTH);
    let url = server.url();
    println!(
        "HTTPS sample cost (2 cores shared by server and engine; TLS 1.3, ring, P-256 leaf)\n"
    );
    println!(
        "{:>18} {:>10} {:>10} {:>8} {:>11} {:>10}",
        "mode", "due/s", "samples/s", "failed", "late p99", "lat p99"
    );
    for interval_us in [16_000u64, 8_000, 4_000, 2_000, 1_000, 500] {
        for reuse in [false, true] {
            let interval = format!("{interval_us}us");
            let spec = https_spec(&url, &ca_file, 4, &interval, reuse);
            let f = rt.block_on(run_spec(&spec));
            println!(
                "{:>18} {:>10} {:>10.0} {:>8} {:>9.0}µs {:>8.2}ms",
                if reuse {
                    "reused connection"
                } else {
                    "new connection"
                },
                4_000_000 / interval_us,
                f.samples as f64 / f.seconds,
                f.failed,
                f.late_p99_us,
                f.latency_p99_ms
            );
        }
    }
}

fn main() {
    if std::env::args().any(|a| a == "https") {
        let rt = engine::runtime().expect("runtime");
        https_mode(&rt);
        return;
    }
    let addr = start_server();
    // The same runtime `shakeout run` uses.
    let rt = engine::runtime().expect("runtime");
    println!(
        "shakeout probe benchmark (2 cores shared by server, engine and client; loopback HTTP)\n"
    );

    let direct = rt.block_on(direct_max(addr, 32, 3.0));
    println!("physical limit: closed-loop hyper client, 32 connections: {direct:>9.0} req/s");
    match wrk(addr) {
        Some(w) => {
            println!("peer: wrk -t1 -c32 (closed loop):                       {w:>9.0} req/s")
        }
        None => println!("peer: wrk not installed (apt-get install wrk) — skipped"),
    }

    println!("\nopen-loop engine, sustained (samples due at a fixed rate, every one recorded):");
    println!(
        "{:>28} {:>10} {:>9} {:>8} {:>11} {:>11} {:>10}",
        "load", "samples/s", "failed", "÷limit", "late p50", "late p99", "lat p99"
    );
    for (probes, interval) in [(10usize, "1ms"), (20, "1ms"), (40, "1ms")] {
        let f = rt.block_on(run_engine(addr, probes, interval, "5s"));
        let rate = f.samples as f64 / f.seconds;
        println!(
            "{:>28} {rate:>10.0} {:>9} {:>8.2} {:>9.0}µs {:>9.0}µs {:>8.2}ms",
            format!("{probes} probes × 1 kHz"),
            f.failed,
            rate / direct,
            f.late_p50_us,
            f.late_p99_us,
            f.latency_p99_ms
        );
    }

    println!("\nschedule lateness at 1 kHz per probe (goal: p99 ≤ 1 ms):");
    for probes in [1usize, 4] {
        let f = rt.block_on(run_engine(addr, probes, "1ms", "5s"));
        println!(
            "{:>28} samples {:>6}, failed {}, lateness p50 {:.0}µs p99 {:.0}µs",
            format!("{probes} probe(s) × 1 kHz"),
            f.samples,
            f.failed,
            f.late_p50_us,
            f.late_p99_us
        );
    }
}
