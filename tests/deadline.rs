//! The deadline wins: an `ok` sample never has a latency above its timeout, however
//! late the runtime polls the sample's task.

use shakeout::engine::scheduler::{self, ScheduledProbe};
use shakeout::probe::tcp::{TcpProbe, TcpProbePlan};
use shakeout::probe::Probe;
use shakeout::record::Event;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A listener that accepts and drops every connection, so each connect succeeds at once.
fn accepting_listener() -> std::net::SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            drop(stream);
        }
    });
    addr
}

#[test]
fn an_ok_sample_never_has_a_latency_above_its_timeout_on_a_busy_runtime() {
    let addr = accepting_listener();
    let timeout = Duration::from_millis(20);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let handle = rt.handle().clone();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    // One thread drives the runtime; a task on it hogs that thread for 2.5 timeouts at
    // a time, so sample tasks are polled long after their deadline.
    let busy = Arc::new(AtomicBool::new(true));
    let driver = {
        let busy = Arc::clone(&busy);
        std::thread::spawn(move || {
            rt.block_on(async move {
                tokio::spawn(async move {
                    while busy.load(std::sync::atomic::Ordering::Relaxed) {
                        std::thread::sleep(Duration::from_millis(50));
                        tokio::task::yield_now().await;
                    }
                });
                let mut samples = Vec::new();
                while let Some(Event::Sample(s)) = rx.recv().await {
                    samples.push(s);
                }
                samples
            })
        })
    };
    let probes = vec![ScheduledProbe {
        name: Arc::from("tcp"),
        probe: Arc::new(Probe::Tcp(TcpProbe::new(&TcpProbePlan {
            address: addr.to_string(),
        }))),
        interval: Duration::from_millis(3),
        timeout,
    }];
    let started = scheduler::run(
        Instant::now(),
        Duration::from_millis(800),
        probes,
        handle,
        tx,
        Arc::new(AtomicBool::new(false)),
    );
    // Let the last samples reach their deadline, then close the channel.
    std::thread::sleep(timeout * 4);
    busy.store(false, std::sync::atomic::Ordering::Relaxed);
    let samples = driver.join().unwrap();
    assert_eq!(samples.len() as u64, started);
    let late_ok: Vec<_> = samples
        .iter()
        .filter(|s| s.ok && s.latency_us > timeout.as_micros() as u64)
        .map(|s| (s.seq, s.latency_us))
        .collect();
    assert!(
        late_ok.is_empty(),
        "ok samples above the timeout: {late_ok:?}"
    );
    assert!(samples.iter().any(|s| s.ok), "no sample succeeded");
    assert!(
        samples.iter().any(|s| !s.ok),
        "the runtime was never late enough to test the deadline"
    );
}
