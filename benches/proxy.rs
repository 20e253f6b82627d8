//! Proxy benchmark: direct loopback vs shakeout's proxy (vs Toxiproxy when a
//! `toxiproxy-server` binary is on PATH), in one run:
//!
//!   cargo bench --bench proxy
//!
//! Measures throughput (1 and 8 streams), HTTP requests/s at 32 keep-alive
//! connections, 1-connection ping-pong latency, latency-toxic accuracy at
//! 50 ms, and 1,000 held connections with toxics added and removed
//! mid-stream (RSS and fd counts). Every phase is bounded in time.
//!
//! Reference peers run in the same interleaved rounds: socat (when on
//! PATH) and a minimal blocking splice(2) relay, which show what one extra
//! loopback TCP hop costs on this machine whatever the relay does
//! (PROXY_BENCH_PEERS=socat,relay|none). Throughput rows also report the
//! CPU the bench process spent per GB and how busy the machine was: on 2
//! vCPUs, 8 streams saturate both cores on every path, so the ratio to
//! direct is bounded by the ratio of CPU per GB.
//! Knobs: PROXY_BENCH_ROUNDS (default 3), PROXY_BENCH_SECS (default 2),
//! PROXY_BENCH_ONLY, PROXY_BENCH_RUNTIMES=3, PROXY_BENCH_RELAY=copy.
//! PROXY_BENCH_SOAK_SECS=N adds a soak through our proxy: 1,000 connections
//! held for N seconds, toxics added and removed every second, RSS and open
//! fds sampled every 10 s (memory must stay flat, fds must come back).
//!
//! Servers, load generators and the proxy share one 2-worker tokio runtime
//! (PROXY_BENCH_RUNTIMES=3 gives each its own; on 2 vCPUs that measured
//! worse for the proxy), so "direct" and "proxy" share the same client and
//! server code and differ only by the proxy hop (and the CPU it takes).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Empty, Full};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use shakeout::proxy::{
    Bandwidth, Latency, ProxyConfig, Registry, Stream, ToxicKind, ToxicSpec, ToxiproxyClient,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

/// Length of one throughput or HTTP measurement: PROXY_BENCH_SECS
/// (default 2).
fn phase_time() -> Duration {
    let secs = std::env::var("PROXY_BENCH_SECS")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| *s > 0.0 && *s <= 60.0)
        .unwrap_or(2.0);
    Duration::from_secs_f64(secs)
}
const PINGPONG_TIME: Duration = Duration::from_secs(2);
const PINGPONG_MAX: usize = 200_000;
const LATENCY_TIME: Duration = Duration::from_secs(2);
const HOLD_CONNS: usize = 1000;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn runtime(name: &str) -> Result<Runtime, BoxError> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name(name)
        .enable_all()
        .build()?)
}

/// The upstream services, shared by every path.
#[derive(Clone, Copy)]
struct Upstreams {
    sink: SocketAddr,
    echo: SocketAddr,
    http: SocketAddr,
}

async fn start_upstreams() -> Result<Upstreams, BoxError> {
    let sink = TcpListener::bind("127.0.0.1:0").await?;
    let echo = TcpListener::bind("127.0.0.1:0").await?;
    let http = TcpListener::bind("127.0.0.1:0").await?;
    let ups = Upstreams {
        sink: sink.local_addr()?,
        echo: echo.local_addr()?,
        http: http.local_addr()?,
    };
    tokio::spawn(async move {
        while let Ok((mut s, _)) = sink.accept().await {
            tokio::spawn(async move {
                let mut buf = vec![0u8; 256 * 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 {
                        break;
                    }
                    SINK_BYTES.fetch_add(n as u64, Ordering::Relaxed);
                }
            });
        }
    });
    tokio::spawn(async move {
        while let Ok((mut s, _)) = echo.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                while let Ok(n) = s.read(&mut buf).await {
                    if n == 0 || s.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            });
        }
    });
    tokio::spawn(async move {
        while let Ok((s, _)) = http.accept().await {
            let _ = s.set_nodelay(true);
            tokio::spawn(async move {
                let svc =
                    hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
                        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                    });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(s), svc)
                    .await;
            });
        }
    });
    Ok(ups)
}

static SINK_BYTES: AtomicU64 = AtomicU64::new(0);

/// One way to reach the upstreams.
enum Path {
    Direct,
    /// Our proxy; its listeners and connections run on the given runtime.
    Ours(Registry, tokio::runtime::Handle),
    /// Boxed: with the `aws` feature the client's HTTP stack grows (shared crates gain
    /// features), and the enum should not take its size.
    Toxiproxy(Box<ToxiproxyClient>),
    /// socat (one forked process per connection), when installed: a
    /// well-known userspace relay to compare against.
    Socat(peers::Socat),
    /// A minimal blocking splice(2) relay, two threads per connection and
    /// no event loop: about the least CPU a userspace TCP hop can cost, so
    /// it shows what the extra hop itself costs on this machine.
    Relay(peers::Relay),
}

impl Path {
    fn label(&self) -> &'static str {
        match self {
            Path::Direct => "direct",
            Path::Ours(..) => "shakeout",
            Path::Toxiproxy(_) => "toxiproxy",
            Path::Socat(_) => "socat",
            Path::Relay(_) => "splice-relay",
        }
    }

    /// Address that leads to `upstream` on this path.
    async fn route(&self, name: &str, upstream: SocketAddr) -> Result<SocketAddr, BoxError> {
        let cfg = ProxyConfig::new(name, "127.0.0.1:0", upstream.to_string());
        let listen = match self {
            Path::Direct => return Ok(upstream),
            Path::Ours(r, rt) => {
                // Spawned so the proxy's tasks live on the proxy runtime.
                let r = r.clone();
                let name = name.to_string();
                rt.spawn(async move {
                    let _ = r.delete(&name).await;
                    r.create(cfg).await
                })
                .await??
                .listen
            }
            Path::Toxiproxy(c) => {
                let _ = c.delete_proxy(name).await;
                c.create_proxy(&cfg).await?.listen
            }
            Path::Socat(s) => return s.route(name, upstream).await,
            Path::Relay(r) => return r.route(name, upstream),
        };
        Ok(listen.parse()?)
    }

    /// Whether this path can apply toxics (the peers cannot).
    fn toxics(&self) -> bool {
        matches!(self, Path::Ours(..) | Path::Toxiproxy(_))
    }

    async fn add_toxic(&self, name: &str, t: ToxicSpec) -> Result<(), BoxError> {
        match self {
            Path::Direct | Path::Socat(_) | Path::Relay(_) => {}
            Path::Ours(r, _) => {
                r.add_toxic(name, t).await?;
            }
            Path::Toxiproxy(c) => {
                c.add_toxic(name, &t).await?;
            }
        }
        Ok(())
    }

    async fn remove_toxic(&self, name: &str, toxic: &str) -> Result<(), BoxError> {
        match self {
            Path::Direct | Path::Socat(_) | Path::Relay(_) => {}
            Path::Ours(r, _) => r.remove_toxic(name, toxic).await?,
            Path::Toxiproxy(c) => c.remove_toxic(name, toxic).await?,
        }
        Ok(())
    }
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, BoxError> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    Ok(s)
}

/// CPU time (user + system) this process has used so far.
fn cpu_time() -> Duration {
    // SAFETY: getrusage writes one rusage struct into `ru`.
    let ru = unsafe {
        let mut ru: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut ru);
        ru
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// (busy, total) jiffies of the whole machine, from /proc/stat.
fn machine_jiffies() -> (u64, u64) {
    let s = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let v: Vec<u64> = s
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    // idle + iowait
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// One throughput measurement.
#[derive(Clone, Copy)]
struct Tp {
    mb_s: f64,
    /// CPU seconds this process spent per GB moved (load, proxy and sink;
    /// not an external relay such as socat).
    cpu_s_per_gb: f64,
    /// Share of the whole machine's CPU that was busy (0..1).
    busy: f64,
}

/// MB/s pushed into the sink by `streams` writers during phase_time().
async fn throughput(addr: SocketAddr, streams: usize) -> Result<Tp, BoxError> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut tasks = Vec::new();
    for _ in 0..streams {
        let mut s = connect(addr).await?;
        let stop = Arc::clone(&stop);
        tasks.push(tokio::spawn(async move {
            let buf = vec![0x5au8; 256 * 1024];
            while !stop.load(Ordering::Relaxed) {
                if s.write_all(&buf).await.is_err() {
                    break;
                }
            }
        }));
    }
    // Warm up, then measure what the sink received.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let b0 = SINK_BYTES.load(Ordering::Relaxed);
    let (c0, (mb0, mt0)) = (cpu_time(), machine_jiffies());
    let t0 = Instant::now();
    tokio::time::sleep(phase_time()).await;
    let bytes = SINK_BYTES.load(Ordering::Relaxed) - b0;
    let secs = t0.elapsed().as_secs_f64();
    let cpu = (cpu_time() - c0).as_secs_f64();
    let (mb1, mt1) = machine_jiffies();
    stop.store(true, Ordering::Relaxed);
    for t in tasks {
        let _ = t.await;
    }
    Ok(Tp {
        mb_s: bytes as f64 / secs / 1e6,
        cpu_s_per_gb: cpu / (bytes.max(1) as f64 / 1e9),
        busy: (mb1 - mb0) as f64 / (mt1 - mt0).max(1) as f64,
    })
}

/// Requests/s over `conns` keep-alive HTTP/1.1 connections.
async fn http_rps(addr: SocketAddr, conns: usize) -> Result<f64, BoxError> {
    let count = Arc::new(AtomicU64::new(0));
    // Connect and handshake every connection first: connection setup is
    // slower through a relay (and much slower through socat, which forks),
    // and must neither eat into nor stretch the measured window.
    let mut senders = Vec::with_capacity(conns);
    for _ in 0..conns {
        let s = connect(addr).await?;
        let (send, conn) = hyper::client::conn::http1::handshake(TokioIo::new(s)).await?;
        tokio::spawn(conn);
        senders.push(send);
    }
    let t0 = Instant::now();
    let deadline = t0 + phase_time();
    let mut tasks = Vec::new();
    for mut send in senders {
        let count = Arc::clone(&count);
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let req = match Request::get("/")
                    .header("host", "bench")
                    .body(Empty::<Bytes>::new())
                {
                    Ok(r) => r,
                    Err(_) => break,
                };
                match send.send_request(req).await {
                    Ok(resp) => {
                        if resp.into_body().collect().await.is_err() {
                            break;
                        }
                        count.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(_) => break,
                }
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
    Ok(count.load(Ordering::Relaxed) as f64 / t0.elapsed().as_secs_f64())
}

fn hist() -> Result<Histogram<u64>, BoxError> {
    Ok(Histogram::new_with_bounds(1, 60_000_000_000, 3)?)
}

/// Round-trip times (ns) of 64-byte ping-pongs on one connection.
async fn pingpong(addr: SocketAddr) -> Result<Histogram<u64>, BoxError> {
    let mut h = hist()?;
    let mut s = connect(addr).await?;
    let msg = [7u8; 64];
    let mut buf = [0u8; 64];
    for _ in 0..200 {
        s.write_all(&msg).await?;
        s.read_exact(&mut buf).await?;
    }
    let end = Instant::now() + PINGPONG_TIME;
    let mut n = 0;
    while Instant::now() < end && n < PINGPONG_MAX {
        let t0 = Instant::now();
        s.write_all(&msg).await?;
        s.read_exact(&mut buf).await?;
        h.saturating_record(t0.elapsed().as_nanos() as u64);
        n += 1;
    }
    Ok(h)
}

/// Delivered one-way-plus-echo delay minus the asked latency (ns, can be
/// negative in theory so we record the absolute value) for timestamped
/// frames sent every 2 ms on 8 connections through a 50 ms latency toxic.
async fn latency_error(
    addr: SocketAddr,
    asked: Duration,
) -> Result<(Histogram<u64>, u64), BoxError> {
    let base = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..8 {
        let s = connect(addr).await?;
        let (mut r, mut w) = s.into_split();
        let writer = tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            let end = Instant::now() + LATENCY_TIME;
            let mut sent = 0u64;
            while Instant::now() < end {
                tick.tick().await;
                let ts = base.elapsed().as_nanos() as u64;
                let mut frame = [0u8; 16];
                frame[..8].copy_from_slice(&ts.to_le_bytes());
                if w.write_all(&frame).await.is_err() {
                    break;
                }
                sent += 1;
            }
            (w, sent)
        });
        let reader = tokio::spawn(async move {
            let mut h = Histogram::<u64>::new_with_bounds(1, 60_000_000_000, 3).ok();
            let mut frame = [0u8; 16];
            let mut early = 0u64;
            // Bounded: stops at EOF or when the frames stop arriving.
            while let Ok(Ok(_)) =
                tokio::time::timeout(asked + Duration::from_secs(1), r.read_exact(&mut frame)).await
            {
                let mut ts = [0u8; 8];
                ts.copy_from_slice(&frame[..8]);
                let sent = u64::from_le_bytes(ts);
                let now = base.elapsed().as_nanos() as u64;
                let delay = now.saturating_sub(sent);
                let asked_ns = asked.as_nanos() as u64;
                if delay < asked_ns {
                    early += 1;
                }
                if let Some(h) = h.as_mut() {
                    h.saturating_record(delay.abs_diff(asked_ns).max(1));
                }
            }
            (h, early)
        });
        tasks.push((writer, reader));
    }
    let mut total = hist()?;
    let mut early = 0;
    for (w, r) in tasks {
        let (wh, _sent) = w.await?;
        drop(wh);
        let (h, e) = r.await?;
        if let Some(h) = h {
            total.add(h)?;
        }
        early += e;
    }
    Ok((total, early))
}

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

fn fd_count() -> usize {
    std::fs::read_dir("/proc/self/fd")
        .map(|d| d.count())
        .unwrap_or(0)
}

fn raise_nofile(want: u64) -> u64 {
    // Each held connection costs up to 4 fds in this process (client,
    // proxy accept, proxy upstream, echo accept).
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit/setrlimit only read/write the struct we pass.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        if lim.rlim_cur < want {
            lim.rlim_cur = want.min(lim.rlim_max);
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

struct HoldReport {
    rss_before: u64,
    rss_peak: u64,
    rss_after: u64,
    fd_before: usize,
    fd_peak: usize,
    fd_after: usize,
    alive: usize,
    errors: usize,
}

/// Opens HOLD_CONNS echo connections, sends a frame on each every 100 ms
/// for 3 s, adds latency + bandwidth toxics at 1 s and removes them at 2 s,
/// then closes everything.
async fn hold(path: &Path, name: &str, echo: SocketAddr) -> Result<HoldReport, BoxError> {
    let addr = path.route(name, echo).await?;
    let rss_before = rss_kb();
    let fd_before = fd_count();
    let mut conns = Vec::with_capacity(HOLD_CONNS);
    for _ in 0..HOLD_CONNS {
        conns.push(connect(addr).await?);
    }
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(HOLD_CONNS);
    for mut s in conns {
        tasks.push(tokio::spawn(async move {
            let mut buf = [0u8; 32];
            let msg = [1u8; 32];
            while start.elapsed() < Duration::from_secs(3) {
                if s.write_all(&msg).await.is_err() {
                    return false;
                }
                match tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await {
                    Ok(Ok(_)) => {}
                    _ => return false,
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            true
        }));
    }
    tokio::time::sleep_until((start + Duration::from_secs(1)).into()).await;
    let lat = ToxicSpec::new(
        ToxicKind::Latency(Latency {
            latency: 20,
            jitter: 5,
        }),
        Stream::Downstream,
    );
    let bw = ToxicSpec::new(
        ToxicKind::Bandwidth(Bandwidth { rate: 1000 }),
        Stream::Upstream,
    );
    path.add_toxic(name, lat).await?;
    path.add_toxic(name, bw).await?;
    tokio::time::sleep_until((start + Duration::from_millis(1500)).into()).await;
    let rss_peak = rss_kb();
    let fd_peak = fd_count();
    tokio::time::sleep_until((start + Duration::from_secs(2)).into()).await;
    path.remove_toxic(name, "latency_downstream").await?;
    path.remove_toxic(name, "bandwidth_upstream").await?;
    let mut alive = 0;
    let mut errors = 0;
    for t in tasks {
        match t.await {
            Ok(true) => alive += 1,
            _ => errors += 1,
        }
    }
    // Let the closes propagate through the proxy and echo server, then
    // hand freed heap back to the OS so "after" shows what is still held
    // rather than what glibc keeps cached in its per-thread arenas.
    tokio::time::sleep(Duration::from_millis(500)).await;
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe {
        libc::malloc_trim(0);
    }
    Ok(HoldReport {
        rss_before,
        rss_peak,
        rss_after: rss_kb(),
        fd_before,
        fd_peak,
        fd_after: fd_count(),
        alive,
        errors,
    })
}

/// Holds HOLD_CONNS echo connections through `path` for `length`, each sending
/// a frame every 100 ms, while toxics are added and removed every second.
/// Prints RSS and fd samples every 10 s and the state after closing.
async fn soak(path: &Path, echo: SocketAddr, length: Duration) -> Result<(), BoxError> {
    let name = "bench_soak";
    let addr = path.route(name, echo).await?;
    let (rss_start, fd_start) = (rss_kb(), fd_count());
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(HOLD_CONNS);
    for _ in 0..HOLD_CONNS {
        let mut s = connect(addr).await?;
        tasks.push(tokio::spawn(async move {
            let (mut buf, msg) = ([0u8; 32], [1u8; 32]);
            let mut frames = 0u64;
            while start.elapsed() < length {
                if s.write_all(&msg).await.is_err() {
                    return Err(frames);
                }
                match tokio::time::timeout(Duration::from_secs(2), s.read_exact(&mut buf)).await {
                    Ok(Ok(_)) => frames += 1,
                    _ => return Err(frames),
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Ok(frames)
        }));
    }
    println!(
        "\nsoak: {HOLD_CONNS} connections through shakeout for {}s, toxics toggled every second",
        length.as_secs()
    );
    println!("{:>8} {:>10} {:>8}", "t (s)", "RSS (KB)", "fds");
    let mut samples = Vec::new();
    let mut toggles = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    while start.elapsed() < length {
        tick.tick().await;
        let secs = start.elapsed().as_secs();
        if toggles % 2 == 0 {
            let lat = ToxicSpec::new(
                ToxicKind::Latency(Latency {
                    latency: 5,
                    jitter: 1,
                }),
                Stream::Downstream,
            );
            path.add_toxic(name, lat).await?;
        } else {
            path.remove_toxic(name, "latency_downstream").await?;
        }
        toggles += 1;
        if secs % 10 == 0 {
            let (rss, fds) = (rss_kb(), fd_count());
            println!("{secs:>8} {rss:>10} {fds:>8}");
            samples.push(rss);
        }
    }
    let (mut ok, mut failed, mut frames) = (0, 0, 0);
    for t in tasks {
        match t.await {
            Ok(Ok(n)) => {
                ok += 1;
                frames += n;
            }
            Ok(Err(n)) => {
                failed += 1;
                frames += n;
            }
            Err(_) => failed += 1,
        }
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    // SAFETY: malloc_trim only releases free heap memory.
    unsafe {
        libc::malloc_trim(0);
    }
    // Flatness: the second half of the soak against the first sample after warm-up.
    let warm = samples.get(1).copied().unwrap_or(rss_start);
    let last = samples.last().copied().unwrap_or(warm);
    println!(
        "soak: {ok} connections lived, {failed} failed, {frames} frames echoed, {toggles} toxic changes; RSS {rss_start} KB at start, {warm} KB after 10 s, {last} KB at the end ({:+} KB), {} KB after closing; fds {fd_start} -> {}",
        last as i64 - warm as i64,
        rss_kb(),
        fd_count()
    );
    Ok(())
}

struct Results {
    label: &'static str,
    /// One sample per round.
    tp1: Vec<Tp>,
    tp8: Vec<Tp>,
    rps: Vec<f64>,
    /// All rounds merged.
    pp: Option<Histogram<u64>>,
    /// Frame delay with no toxic (|delay - 0|), the measurement floor.
    frame_base: Option<Histogram<u64>>,
    /// |delay - 50 ms| through a 50 ms latency toxic.
    lat_err: Option<(Histogram<u64>, u64)>,
    hold: Option<HoldReport>,
}

impl Results {
    fn new(label: &'static str) -> Self {
        Results {
            label,
            tp1: Vec::new(),
            tp8: Vec::new(),
            rps: Vec::new(),
            pp: None,
            frame_base: None,
            lat_err: None,
            hold: None,
        }
    }
}

fn median_by(v: &[Tp], f: fn(&Tp) -> f64) -> Option<f64> {
    median(&v.iter().map(f).collect::<Vec<_>>())
}

fn median(v: &[f64]) -> Option<f64> {
    let mut v = v.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    v.get(v.len() / 2).copied()
}

/// Rounds of the throughput/HTTP/ping-pong phases, interleaved between
/// paths: this 2-vCPU VM is noisy (thread placement alone moves results
/// by 2x), so we report medians over rounds. PROXY_BENCH_ROUNDS overrides
/// the default of 3.
fn rounds() -> usize {
    std::env::var("PROXY_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|n| (1..=50).contains(n))
        .unwrap_or(3)
}

/// Phases to run: all, or those listed in PROXY_BENCH_ONLY
/// (comma-separated: tp, http, pp, lat, hold) to iterate on one quickly.
fn want(phase: &str) -> bool {
    match std::env::var("PROXY_BENCH_ONLY") {
        Ok(v) if !v.trim().is_empty() => v.split(',').any(|p| p.trim() == phase),
        _ => true,
    }
}

/// One round of the repeated phases.
async fn measure_round(path: &Path, ups: Upstreams, r: &mut Results) -> Result<(), BoxError> {
    let label = path.label();
    if want("tp") {
        eprintln!("[{label}] throughput, 1 stream");
        r.tp1
            .push(throughput(path.route("bench_sink", ups.sink).await?, 1).await?);
        eprintln!("[{label}] throughput, 8 streams");
        r.tp8
            .push(throughput(path.route("bench_sink", ups.sink).await?, 8).await?);
    }
    if want("http") {
        eprintln!("[{label}] HTTP, 32 connections");
        r.rps
            .push(http_rps(path.route("bench_http", ups.http).await?, 32).await?);
    }
    if want("pp") {
        eprintln!("[{label}] ping-pong");
        let h = pingpong(path.route("bench_echo", ups.echo).await?).await?;
        match r.pp.as_mut() {
            Some(all) => all.add(h)?,
            None => r.pp = Some(h),
        }
    }
    Ok(())
}

/// The phases run once: latency accuracy and 1,000 held connections.
async fn measure_once(path: &Path, ups: Upstreams, r: &mut Results) -> Result<(), BoxError> {
    let label = path.label();
    if want("lat") {
        eprintln!("[{label}] frame delay without toxic");
        let addr = path.route("bench_latency", ups.echo).await?;
        r.frame_base = Some(latency_error(addr, Duration::ZERO).await?.0);
        if path.toxics() {
            eprintln!("[{label}] latency toxic accuracy (50 ms)");
            let t = ToxicSpec::new(
                ToxicKind::Latency(Latency {
                    latency: 50,
                    jitter: 0,
                }),
                Stream::Downstream,
            );
            path.add_toxic("bench_latency", t).await?;
            r.lat_err = Some(latency_error(addr, Duration::from_millis(50)).await?);
        }
    }
    if want("hold") && (path.toxics() || matches!(path, Path::Direct)) {
        eprintln!("[{label}] holding {HOLD_CONNS} connections, toxics added/removed mid-stream");
        r.hold = Some(hold(path, "bench_hold", ups.echo).await?);
    }
    Ok(())
}

fn find_toxiproxy() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("toxiproxy-server"))
        .find(|p| p.is_file())
}

fn start_toxiproxy(rt: &Runtime) -> Option<(Child, ToxiproxyClient)> {
    let Some(bin) = find_toxiproxy() else {
        println!("toxiproxy-server not found on PATH: skipping the Toxiproxy column");
        return None;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let child = Command::new(bin)
        .args(["-host", "127.0.0.1", "-port", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .ok()?;
    let client = ToxiproxyClient::new(&format!("127.0.0.1:{port}"), Duration::from_secs(5)).ok()?;
    let ok = rt.block_on(async {
        for _ in 0..100 {
            if client.version().await.is_ok() {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        false
    });
    if !ok {
        println!("toxiproxy-server did not start: skipping the Toxiproxy column");
        return None;
    }
    Some((child, client))
}

fn us(ns: u64) -> f64 {
    ns as f64 / 1000.0
}

fn print_table(rs: &[Results]) {
    let direct = &rs[0];
    let mut header = format!("{:<44}", "metric");
    for r in rs {
        header += &format!("{:>14}", r.label);
    }
    for r in &rs[1..] {
        header += &format!("{:>22}", format!("{}/direct", r.label));
    }
    println!("\n{header}");
    println!("{}", "-".repeat(header.chars().count()));
    let row = |name: &str, f: &dyn Fn(&Results) -> Option<f64>, ratio: bool| {
        if f(direct).is_none() {
            return;
        }
        let mut line = format!("{name:<44}");
        for r in rs {
            line += &format!(
                "{:>14}",
                f(r).map(|v| format!("{v:.1}")).unwrap_or("-".into())
            );
        }
        for r in &rs[1..] {
            let cell = match (f(r), f(direct)) {
                (Some(v), Some(d)) if ratio => format!("{:.2}x", v / d),
                (Some(v), Some(d)) => format!("{:+.1}", v - d),
                _ => "-".into(),
            };
            line += &format!("{cell:>22}");
        }
        println!("{line}");
    };
    let q = |h: &Option<Histogram<u64>>, q: f64| h.as_ref().map(|h| us(h.value_at_quantile(q)));
    row(
        "throughput, 1 stream (MB/s)",
        &|r| median_by(&r.tp1, |t| t.mb_s),
        true,
    );
    row(
        "throughput, 8 streams (MB/s)",
        &|r| median_by(&r.tp8, |t| t.mb_s),
        true,
    );
    row(
        "  CPU ms per GB, 1 stream [bench process]",
        &|r| median_by(&r.tp1, |t| t.cpu_s_per_gb * 1e3),
        true,
    );
    row(
        "  CPU ms per GB, 8 streams [bench process]",
        &|r| median_by(&r.tp8, |t| t.cpu_s_per_gb * 1e3),
        true,
    );
    row(
        "  machine CPU busy %, 1 stream",
        &|r| median_by(&r.tp1, |t| t.busy * 100.0),
        false,
    );
    row(
        "  machine CPU busy %, 8 streams",
        &|r| median_by(&r.tp8, |t| t.busy * 100.0),
        false,
    );
    row(
        "HTTP req/s, 32 keep-alive connections",
        &|r| median(&r.rps),
        true,
    );
    row("ping-pong RTT p50 (µs) [added]", &|r| q(&r.pp, 0.5), false);
    row("ping-pong RTT p99 (µs) [added]", &|r| q(&r.pp, 0.99), false);
    row(
        "frame RTT, no toxic, p50 (µs) [added]",
        &|r| q(&r.frame_base, 0.5),
        false,
    );
    row(
        "frame RTT, no toxic, p99 (µs) [added]",
        &|r| q(&r.frame_base, 0.99),
        false,
    );
    row(
        "frame RTT, no toxic, max (µs) [added]",
        &|r| q(&r.frame_base, 1.0),
        false,
    );
    println!(
        "(throughput and req/s: median of {} interleaved rounds of {:.1} s; ping-pong: all rounds merged)",
        rounds(),
        phase_time().as_secs_f64()
    );
    println!("(CPU ms per GB: this process only, so socat's own CPU is not in it; machine busy %: all processes, the other tenants included)");
    for r in rs {
        let fmt = |v: &[f64]| {
            v.iter()
                .map(|x| format!("{x:.0}"))
                .collect::<Vec<_>>()
                .join(" ")
        };
        if !r.tp1.is_empty() || !r.rps.is_empty() {
            println!(
                "  {:<10} rounds: 1 stream [{}] 8 streams [{}] req/s [{}]",
                r.label,
                fmt(&r.tp1.iter().map(|t| t.mb_s).collect::<Vec<_>>()),
                fmt(&r.tp8.iter().map(|t| t.mb_s).collect::<Vec<_>>()),
                fmt(&r.rps)
            );
        }
    }
    println!();
    for r in &rs[1..] {
        if let Some((h, early)) = &r.lat_err {
            println!(
                "{:<10} latency toxic 50 ms, 8 conns x 500 frames/s: |RTT - 50 ms| p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs ({} frames, {} early)",
                r.label,
                us(h.value_at_quantile(0.5)),
                us(h.value_at_quantile(0.99)),
                us(h.max()),
                h.len(),
                early
            );
        }
    }
    println!();
    for r in rs {
        if let Some(h) = &r.hold {
            println!(
                "{:<10} {} conns: RSS {:.1} -> {:.1} (peak) -> {:.1} MB, fds {} -> {} -> {}, alive {} errors {}",
                r.label,
                HOLD_CONNS,
                h.rss_before as f64 / 1024.0,
                h.rss_peak as f64 / 1024.0,
                h.rss_after as f64 / 1024.0,
                h.fd_before,
                h.fd_peak,
                h.fd_after,
                h.alive,
                h.errors
            );
        }
    }
    println!("(RSS and fds are for the whole bench process: clients, echo server and proxy.)");
}

fn main() -> Result<(), BoxError> {
    let limit = raise_nofile(16_384);
    if limit < (HOLD_CONNS as u64) * 4 + 256 {
        println!("warning: RLIMIT_NOFILE is {limit}; the {HOLD_CONNS}-connection phase may fail");
    }
    // One shared 2-worker runtime by default (as inside shakeout, where the
    // proxy shares the process runtime with probes); PROXY_BENCH_RUNTIMES=3
    // gives servers, load and proxy a runtime each instead.
    let separate = std::env::var("PROXY_BENCH_RUNTIMES").is_ok_and(|v| v.trim() == "3");
    let rts = if separate {
        vec![
            runtime("bench-upstream")?,
            runtime("bench-load")?,
            runtime("bench-proxy")?,
        ]
    } else {
        vec![runtime("bench")?]
    };
    let pick = |i: usize| &rts[i.min(rts.len() - 1)];
    let (servers, load, proxy_rt) = (pick(0), pick(1), pick(2));
    let ups = servers.block_on(start_upstreams())?;

    let reg = Registry::new();
    let mut paths = vec![
        Path::Direct,
        Path::Ours(reg.clone(), proxy_rt.handle().clone()),
    ];
    let tp = start_toxiproxy(load);
    if let Some((_, client)) = &tp {
        let _ = load.block_on(client.reset());
        paths.push(Path::Toxiproxy(Box::new(client.clone())));
    }
    // Reference peers: PROXY_BENCH_PEERS lists them (socat, relay; default
    // both), "none" skips them.
    let peers = std::env::var("PROXY_BENCH_PEERS").unwrap_or_else(|_| "socat,relay".into());
    let peer = |p: &str| peers.split(',').any(|x| x.trim() == p);
    if peer("socat") {
        match peers::Socat::find() {
            Some(s) => paths.push(Path::Socat(s)),
            None => println!("socat not found on PATH: skipping the socat column"),
        }
    }
    if peer("relay") {
        paths.push(Path::Relay(peers::Relay::default()));
    }
    let mut results: Vec<Results> = paths.iter().map(|p| Results::new(p.label())).collect();
    let n = rounds();
    for round in 1..=n {
        eprintln!("round {round}/{n}");
        for (p, r) in paths.iter().zip(results.iter_mut()) {
            load.block_on(measure_round(p, ups, r))?;
        }
    }
    for (p, r) in paths.iter().zip(results.iter_mut()) {
        load.block_on(measure_once(p, ups, r))?;
    }
    print_table(&results);

    let soak_secs: u64 = std::env::var("PROXY_BENCH_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    if soak_secs > 0 {
        load.block_on(soak(&paths[1], ups.echo, Duration::from_secs(soak_secs)))?;
    }

    if let Some((mut child, _)) = tp {
        let _ = child.kill();
        let _ = child.wait();
    }
    proxy_rt.block_on(reg.shutdown());
    Ok(())
}

/// Reference relays run beside the proxy in the same rounds.
mod peers {
    use std::collections::HashMap;
    use std::net::{SocketAddr, TcpListener, TcpStream};
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
    use std::process::{Child, Command, Stdio};
    use std::sync::Mutex;
    use std::time::Duration;

    use super::BoxError;

    fn socat_bin() -> Option<std::path::PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|d| d.join("socat"))
            .find(|p| p.is_file())
    }

    /// One `socat TCP-LISTEN:…,fork TCP:upstream` per route.
    pub struct Socat {
        bin: std::path::PathBuf,
        running: Mutex<HashMap<String, (Child, SocketAddr)>>,
    }

    impl Socat {
        pub fn find() -> Option<Socat> {
            Some(Socat {
                bin: socat_bin()?,
                running: Mutex::new(HashMap::new()),
            })
        }

        pub async fn route(
            &self,
            name: &str,
            upstream: SocketAddr,
        ) -> Result<SocketAddr, BoxError> {
            if let Some((_, a)) = self.running.lock().map_err(|_| "poisoned")?.get(name) {
                return Ok(*a);
            }
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let addr: SocketAddr = format!("127.0.0.1:{port}").parse()?;
            // 128 KiB blocks (socat's default is 8 KiB) and TCP_NODELAY on
            // both sides, like the proxy.
            let child = Command::new(&self.bin)
                .args([
                    "-b",
                    "131072",
                    &format!("TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr,nodelay"),
                    &format!("TCP:{upstream},nodelay"),
                ])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?;
            self.running
                .lock()
                .map_err(|_| "poisoned")?
                .insert(name.to_string(), (child, addr));
            for _ in 0..100 {
                if tokio::net::TcpStream::connect(addr).await.is_ok() {
                    // That probe connection made socat fork a child that
                    // exits with it; give it a moment.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    return Ok(addr);
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err("socat did not start listening".into())
        }
    }

    impl Drop for Socat {
        fn drop(&mut self) {
            if let Ok(mut m) = self.running.lock() {
                for (_, (mut c, _)) in m.drain() {
                    let _ = c.kill();
                    let _ = c.wait();
                }
            }
        }
    }

    /// Blocking splice relay: a listener thread per route, two threads per
    /// connection, 1 MiB pipes (or what pipe-max-size allows).
    #[derive(Default)]
    pub struct Relay {
        routes: Mutex<HashMap<String, SocketAddr>>,
    }

    impl Relay {
        pub fn route(&self, name: &str, upstream: SocketAddr) -> Result<SocketAddr, BoxError> {
            let mut routes = self.routes.lock().map_err(|_| "poisoned")?;
            if let Some(a) = routes.get(name) {
                return Ok(*a);
            }
            let l = TcpListener::bind("127.0.0.1:0")?;
            let addr = l.local_addr()?;
            std::thread::spawn(move || {
                // Lives until the bench exits.
                for c in l.incoming() {
                    let Ok(c) = c else { continue };
                    let Ok(s) = TcpStream::connect(upstream) else {
                        continue;
                    };
                    let _ = c.set_nodelay(true);
                    let _ = s.set_nodelay(true);
                    let (Ok(c2), Ok(s2)) = (c.try_clone(), s.try_clone()) else {
                        continue;
                    };
                    std::thread::spawn(move || pump(c, s));
                    std::thread::spawn(move || pump(s2, c2));
                }
            });
            routes.insert(name.to_string(), addr);
            Ok(addr)
        }
    }

    fn pump(from: TcpStream, to: TcpStream) {
        if std::env::var("PROXY_BENCH_RELAY").is_ok_and(|v| v.trim() == "copy") {
            return copy(from, to);
        }
        let mut fds = [0 as RawFd; 2];
        // SAFETY: pipe2 writes two fds into the array.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
            return;
        }
        // SAFETY: both fds were just created and are owned here.
        let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        // SAFETY: fcntl with an integer argument on our own fd.
        let cap = unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, 1 << 20) };
        let cap = if cap > 0 { cap as usize } else { 64 * 1024 };
        // No SPLICE_F_MORE: it corks small writes (HTTP drops to ~80 req/s).
        let flags = libc::SPLICE_F_MOVE;
        loop {
            // SAFETY: splice on fds we keep open, null offsets.
            let n = unsafe {
                libc::splice(
                    from.as_raw_fd(),
                    std::ptr::null_mut(),
                    w.as_raw_fd(),
                    std::ptr::null_mut(),
                    cap,
                    flags,
                )
            };
            if n <= 0 {
                break;
            }
            let mut left = n as usize;
            while left > 0 {
                // SAFETY: as above.
                let m = unsafe {
                    libc::splice(
                        r.as_raw_fd(),
                        std::ptr::null_mut(),
                        to.as_raw_fd(),
                        std::ptr::null_mut(),
                        left,
                        flags,
                    )
                };
                if m <= 0 {
                    let _ = to.shutdown(std::net::Shutdown::Both);
                    let _ = from.shutdown(std::net::Shutdown::Both);
                    return;
                }
                left -= m as usize;
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    }

    /// read/write through a 256 KiB buffer (PROXY_BENCH_RELAY=copy).
    fn copy(mut from: TcpStream, mut to: TcpStream) {
        use std::io::{Read, Write};
        let mut buf = vec![0u8; 256 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        let _ = from.shutdown(std::net::Shutdown::Both);
                        return;
                    }
                }
            }
        }
        let _ = to.shutdown(std::net::Shutdown::Write);
    }
}
