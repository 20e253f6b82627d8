//! Measured outages against a target that goes down on a schedule this test controls:
//! each measured outage must match the real one within one probe interval + 20 ms.

mod util;
use std::time::{Duration, SystemTime};
use tokio::net::{TcpListener, TcpSocket};
use util::*;

fn listen(port: u16) -> TcpListener {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_reuseaddr(true).unwrap();
    socket.bind(([127, 0, 0, 1], port).into()).unwrap();
    socket.listen(1024).unwrap()
}

/// A keep-alive HTTP/1.1 server answering 200 to everything; aborting it is a crash.
async fn serve(listener: TcpListener) {
    net::serve_http(listener, |_| net::HTTP_OK).await
}

/// Serve on `port`, going down (listener closed, connections dropped) for each window.
/// Returns the real (down, up) wall-clock times.
async fn flappy(
    port: u16,
    windows: Vec<(SystemTime, SystemTime)>,
    until: SystemTime,
) -> Vec<(SystemTime, SystemTime)> {
    let wait_until =
        |t: SystemTime| tokio::time::sleep(t.duration_since(SystemTime::now()).unwrap_or_default());
    let mut actual = Vec::new();
    let mut server = tokio::spawn(serve(listen(port)));
    for (down, up) in windows {
        wait_until(down).await;
        server.abort();
        let _ = server.await;
        let real_down = SystemTime::now();
        wait_until(up).await;
        server = tokio::spawn(serve(listen(port)));
        actual.push((real_down, SystemTime::now()));
    }
    wait_until(until).await;
    server.abort();
    actual
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn measured_outages_match_the_real_schedule() {
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let interval_ms = 20.0;
    let spec = write_spec(
        dir.path(),
        "flappy.yaml",
        &format!(
            "name: flappy\nduration: 5s\nsla:\n  availability: 50%\nprobes:\n  - name: web\n    http:\n      url: http://127.0.0.1:{port}/\n      interval: 20ms\n      timeout: 200ms\n"
        ),
    );
    let t0 = SystemTime::now();
    let at = |ms: u64| t0 + Duration::from_millis(ms);
    let windows = vec![(at(1500), at(2500)), (at(3100), at(3500))];
    let server = tokio::spawn(flappy(port, windows, at(7000)));
    tokio::time::sleep(Duration::from_millis(200)).await;

    let out_dir = dir.path().join("out");
    let args = [
        "run",
        spec.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]
    .map(String::from);
    let out = tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        shakeout(&args)
    })
    .await
    .unwrap();
    assert_eq!(code(&out), 0, "{}", text(&out));
    let actual = server.await.unwrap();

    let report = read_report(&out_dir);
    let started = humantime::parse_rfc3339(report["started_at"].as_str().unwrap()).unwrap();
    let outages = report["probes"][0]["outages"].as_array().unwrap();
    assert_eq!(
        outages.len(),
        actual.len(),
        "measured {outages:?} for real {actual:?}"
    );
    let offset = |t: SystemTime| t.duration_since(started).unwrap().as_secs_f64() * 1000.0;
    let tolerance = interval_ms + 20.0;
    let mut measured_down = 0.0;
    for (o, (down, up)) in outages.iter().zip(&actual) {
        let (start, end) = (
            o["start_ms"].as_f64().unwrap(),
            o["end_ms"].as_f64().unwrap(),
        );
        let (real_start, real_end) = (offset(*down), offset(*up));
        assert!(
            (start - real_start).abs() <= tolerance,
            "outage start {start} vs real {real_start}"
        );
        assert!(
            (end - real_end).abs() <= tolerance,
            "outage end {end} vs real {real_end}"
        );
        measured_down += end - start;
    }
    let downtime = report["probes"][0]["downtime_ms"].as_f64().unwrap();
    assert!((downtime - measured_down).abs() < 1e-6);
    let real: f64 = actual
        .iter()
        .map(|(d, u)| u.duration_since(*d).unwrap().as_secs_f64() * 1000.0)
        .sum();
    assert!(
        (downtime - real).abs() <= 2.0 * tolerance,
        "downtime {downtime} vs real {real}"
    );
    // Availability is exactly the share of samples that succeeded.
    let (total, failed) = (
        report["probes"][0]["total"].as_f64().unwrap(),
        report["probes"][0]["failed"].as_f64().unwrap(),
    );
    assert_eq!(total, 250.0);
    assert!(
        (report["probes"][0]["availability_pct"].as_f64().unwrap()
            - (total - failed) / total * 100.0)
            .abs()
            < 1e-9
    );
}
