//! Probes measure the target. A down target is a failed sample, never an error:
//! `check` returns `Err(reason)` with a short, groupable reason ("connection refused").
//!
//! One folder per kind, the same files in each: `spec.rs` (YAML mirror, with the
//! `interval` and `timeout` every kind has), `compile.rs` (pure checks into a resolved
//! plan, the `plan` text), `check.rs` (the running probe: one sample per `check`).
//! Adding a kind: a row in [`probe_kinds!`], then the compiler points at every `match`.

pub mod exec;
pub mod failure;
pub mod http;
pub mod https;
pub mod kubernetes;
pub mod ledger;
pub mod postgres;
pub mod prometheus;
pub mod tcp;

use crate::spec::check::{exactly_one, Errors};
use crate::spec::Dur;
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// Samples a probe's preflight may take before its target counts as not answering.
pub const PREFLIGHT_TRIES: u64 = 3;

/// The host:port an http(s) URL connects to, when its host is an IP address or
/// `localhost` (read as 127.0.0.1); the port defaults by scheme.
pub fn http_url_address(url: &str) -> Option<SocketAddr> {
    let uri: hyper::Uri = url.parse().ok()?;
    let host = uri.host()?.replace("localhost", "127.0.0.1");
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    format!("{host}:{}", uri.port_u16().unwrap_or(default_port))
        .parse()
        .ok()
}

/// The one table of probe kinds: YAML key => spec-kind variant (spec type). It
/// generates the `probes:` entry mirror [`ProbeSpec`], the keys for the exactly-one
/// check, and [`ProbeSpecKind`], which [`compile`] dispatches on.
macro_rules! probe_kinds {
    ($( $(#[$doc:meta])* $key:ident => $variant:ident($spec:ty), )*) => {
        /// One entry of `probes:`: a name and exactly one kind key.
        #[derive(Debug, Clone, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct ProbeSpec {
            pub name: String,
            /// This probe's own thresholds, laid over the top-level `sla:`.
            #[serde(default)]
            pub sla: Option<crate::spec::Sla>,
            $( $(#[$doc])* #[serde(default)] pub $key: Option<$spec>, )*
        }

        /// The kind a probe gives, borrowed from its spec.
        pub enum ProbeSpecKind<'a> {
            $( $variant(&'a $spec), )*
        }

        impl ProbeSpec {
            /// Every kind key, in table order.
            pub const KINDS: &'static [&'static str] = &[$( stringify!($key) ),*];

            /// Each kind key and whether this probe gives it.
            pub fn kinds_given(&self) -> Vec<(&'static str, bool)> {
                vec![$( (stringify!($key), self.$key.is_some()) ),*]
            }

            /// The kinds this probe gives, with their YAML keys.
            pub fn kinds(&self) -> Vec<(&'static str, ProbeSpecKind<'_>)> {
                let mut out = Vec::new();
                $( if let Some(s) = &self.$key {
                    out.push((stringify!($key), ProbeSpecKind::$variant(s)));
                } )*
                out
            }
        }

        impl ProbeSpecKind<'_> {
            /// `interval` and `timeout`, which every kind's spec has.
            pub fn timing(&self) -> (Option<Dur>, Option<Dur>) {
                match self {
                    $( ProbeSpecKind::$variant(s) => (s.interval, s.timeout), )*
                }
            }
        }
    };
}

probe_kinds! {
    /// An HTTP request; success = an expected status and a whole body.
    http => Http(http::HttpProbeSpec),
    /// A TCP connect; success = the connection is established.
    tcp => Tcp(tcp::TcpProbeSpec),
    /// A PostgreSQL query or, with `mode: write`, a ledgered INSERT.
    postgres => Postgres(postgres::PostgresProbeSpec),
    /// A PromQL instant query; success = its value meets `expect`.
    prometheus => Prometheus(prometheus::PrometheusProbeSpec),
    /// A command; success = exit status 0.
    exec => Exec(exec::ExecProbeSpec),
    /// Ready Kubernetes pods by selector; success = at least `min_ready`.
    kubernetes => Kubernetes(kubernetes::KubernetesProbeSpec),
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbePlan {
    pub name: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub kind: ProbeKind,
}

/// The closed set of resolved probes, one variant per kind.
#[derive(Debug, Clone, Serialize)]
pub enum ProbeKind {
    Http(http::HttpProbePlan),
    Tcp(tcp::TcpProbePlan),
    Postgres(postgres::PostgresProbePlan),
    Prometheus(prometheus::PrometheusProbePlan),
    Exec(exec::ExecProbePlan),
    Kubernetes(kubernetes::KubernetesProbePlan),
}

impl ProbeKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            ProbeKind::Http(_) => "http",
            ProbeKind::Tcp(_) => "tcp",
            ProbeKind::Postgres(_) => "postgres",
            ProbeKind::Prometheus(_) => "prometheus",
            ProbeKind::Exec(_) => "exec",
            ProbeKind::Kubernetes(_) => "kubernetes",
        }
    }

    /// What the probe aims at, in words (`GET http://...`, `127.0.0.1:80`).
    pub fn target(&self) -> String {
        match self {
            ProbeKind::Http(h) => h.target(),
            ProbeKind::Tcp(t) => t.target(),
            ProbeKind::Postgres(p) => p.target(),
            ProbeKind::Prometheus(p) => p.target(),
            ProbeKind::Exec(x) => x.target(),
            ProbeKind::Kubernetes(k) => k.target(),
        }
    }

    /// What counts as a success, for `shakeout plan`.
    pub fn success(&self) -> String {
        match self {
            ProbeKind::Http(h) => h.success(),
            ProbeKind::Tcp(t) => t.success(),
            ProbeKind::Postgres(p) => p.success(),
            ProbeKind::Prometheus(p) => p.success(),
            ProbeKind::Exec(x) => x.success(),
            ProbeKind::Kubernetes(k) => k.success(),
        }
    }

    /// The host:port the probe connects to, when it is an IP address.
    pub fn address(&self) -> Option<SocketAddr> {
        match self {
            ProbeKind::Http(h) => h.address(),
            ProbeKind::Tcp(t) => t.address(),
            ProbeKind::Postgres(_) => None,
            ProbeKind::Prometheus(p) => p.address(),
            ProbeKind::Exec(_) | ProbeKind::Kubernetes(_) => None,
        }
    }

    /// Whether the probe writes and keeps a ledger (`rpo`, `max_lost_writes` judge it).
    pub fn is_write(&self) -> bool {
        match self {
            ProbeKind::Http(h) => h.is_write(),
            ProbeKind::Postgres(p) => p.is_write(),
            ProbeKind::Tcp(_)
            | ProbeKind::Prometheus(_)
            | ProbeKind::Exec(_)
            | ProbeKind::Kubernetes(_) => false,
        }
    }

    /// Whether the probe skips certificate checks (`tls: {insecure: true}`); every
    /// report marks such a probe.
    pub fn is_insecure(&self) -> bool {
        match self {
            ProbeKind::Http(h) => h.is_insecure(),
            ProbeKind::Prometheus(p) => p.tls.as_ref().is_some_and(|t| t.insecure),
            ProbeKind::Tcp(_)
            | ProbeKind::Postgres(_)
            | ProbeKind::Exec(_)
            | ProbeKind::Kubernetes(_) => false,
        }
    }
}

/// Check the probe at `path` (`probes[i]`), sampling for `run`.
pub fn compile(p: &ProbeSpec, path: &str, run: Duration, e: &mut Errors) -> Option<ProbePlan> {
    if p.name.trim().is_empty() {
        e.at(format!("{path}.name"), "must not be empty");
    }
    if !exactly_one(e, path, "probe kind", &p.kinds_given()) {
        return None;
    }
    let (key, spec) = p.kinds().pop()?;
    let kpath = format!("{path}.{key}");
    let kind = match spec {
        ProbeSpecKind::Http(s) => http::compile(s, &kpath, e).map(ProbeKind::Http),
        ProbeSpecKind::Tcp(s) => tcp::compile(s, &kpath, e).map(ProbeKind::Tcp),
        ProbeSpecKind::Postgres(s) => postgres::compile(s, &kpath, e).map(ProbeKind::Postgres),
        ProbeSpecKind::Prometheus(s) => {
            prometheus::compile(s, &kpath, e).map(ProbeKind::Prometheus)
        }
        ProbeSpecKind::Exec(s) => exec::compile(s, &kpath, e).map(ProbeKind::Exec),
        ProbeSpecKind::Kubernetes(s) => {
            kubernetes::compile(s, &kpath, e).map(ProbeKind::Kubernetes)
        }
    };
    let (interval, timeout) = compile_timing(spec.timing(), &kpath, run, e);
    Some(ProbePlan {
        name: p.name.clone(),
        interval,
        timeout,
        kind: kind?,
    })
}

fn compile_timing(
    (interval, timeout): (Option<Dur>, Option<Dur>),
    path: &str,
    run: Duration,
    e: &mut Errors,
) -> (Duration, Duration) {
    let interval = interval.map_or(DEFAULT_INTERVAL, |d| d.0);
    let timeout = timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if interval < Duration::from_micros(100) {
        e.at(format!("{path}.interval"), "must be at least 100us");
    } else if run.as_micros() / interval.as_micros() > 50_000_000 {
        e.at(
            format!("{path}.interval"),
            "would take more than 50 million samples; use a longer interval",
        );
    }
    if timeout.is_zero() {
        e.at(format!("{path}.timeout"), "must be longer than 0s");
    }
    (interval, timeout)
}

/// One probe, built from its plan. Shared by every in-flight sample (open loop), so
/// `check` takes `&self`.
pub enum Probe {
    Http(Box<http::HttpProbe>),
    Tcp(tcp::TcpProbe),
    Postgres(Box<postgres::PostgresProbe>),
    Prometheus(Box<prometheus::PrometheusProbe>),
    Exec(exec::ExecProbe),
    Kubernetes(Box<kubernetes::KubernetesProbe>),
}

/// What one sample saw: a failure (classified) or none, and, for the kinds that
/// have them, a value (a metric) and output tails (a command's).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    pub failure: Option<failure::Failure>,
    pub value: Option<f64>,
    pub output: Option<String>,
}

impl From<Result<(), failure::Failure>> for Outcome {
    fn from(result: Result<(), failure::Failure>) -> Outcome {
        Outcome {
            failure: result.err(),
            ..Outcome::default()
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("probe `{probe}`: {message}")]
    Setup { probe: String, message: String },
}

impl Probe {
    pub fn build(plan: &ProbePlan) -> Result<Probe, ProbeError> {
        let setup = |message| ProbeError::Setup {
            probe: plan.name.clone(),
            message,
        };
        Ok(match &plan.kind {
            ProbeKind::Http(h) => Probe::Http(Box::new(
                http::HttpProbe::new(h, plan.timeout).map_err(setup)?,
            )),
            ProbeKind::Tcp(t) => Probe::Tcp(tcp::TcpProbe::new(t)),
            ProbeKind::Postgres(p) => Probe::Postgres(Box::new(
                postgres::PostgresProbe::new(p, plan.interval, plan.timeout).map_err(setup)?,
            )),
            ProbeKind::Prometheus(p) => Probe::Prometheus(Box::new(
                prometheus::PrometheusProbe::new(
                    &p.url,
                    &p.query,
                    p.expect,
                    p.tls.clone(),
                    plan.timeout,
                )
                .map_err(|e| setup(e.to_string()))?,
            )),
            ProbeKind::Exec(x) => Probe::Exec(
                exec::ExecProbe::new(&x.command, &x.env, plan.timeout)
                    .map_err(|e| setup(e.to_string()))?,
            ),
            ProbeKind::Kubernetes(k) => Probe::Kubernetes(Box::new(
                kubernetes::KubernetesProbe::new(k, plan.timeout).map_err(setup)?,
            )),
        })
    }

    /// What must happen before the run and may need the network: a database probe
    /// connects and, for writes, creates its ledger table. Changes nothing the faults
    /// act on; an error here stops the run before anything is touched.
    pub async fn prepare(&self, name: &str) -> Result<(), ProbeError> {
        let result = match self {
            Probe::Postgres(p) => p.prepare().await,
            Probe::Http(_)
            | Probe::Tcp(_)
            | Probe::Prometheus(_)
            | Probe::Exec(_)
            | Probe::Kubernetes(_) => Ok(()),
        };
        result.map_err(|message| ProbeError::Setup {
            probe: name.to_string(),
            message,
        })
    }

    /// Before t=0: the target answers once. Up to [`PREFLIGHT_TRIES`] samples, one
    /// interval apart; the first answer passes. Any answer counts, even one the sample
    /// fails on (a status, a body, a TLS handshake, a query error): judging answers is
    /// the run's job and the steady state's; preflight finds targets that are not
    /// there at all (refused, timed out, unreachable). A write probe only connects (its
    /// sample would write a row) and a command probe only resolves its program (its
    /// sample may do anything), so `plan --preflight` stays read-only for them.
    pub async fn preflight(&self, interval: Duration) -> Result<String, String> {
        match self {
            Probe::Postgres(p) => return p.preflight().await,
            Probe::Exec(p) => return p.preflight(),
            Probe::Http(_) | Probe::Tcp(_) | Probe::Prometheus(_) | Probe::Kubernetes(_) => {}
        }
        let mut last = String::new();
        for seq in 0..PREFLIGHT_TRIES {
            if seq > 0 {
                tokio::time::sleep(interval.min(Duration::from_secs(1))).await;
            }
            match self.check(seq).await.failure {
                None => return Ok("answered".into()),
                Some(f) if f.class.is_an_answer() => {
                    return Ok(format!(
                        "answered (the sample failed: {}: {})",
                        f.class, f.detail
                    ))
                }
                Some(f) => last = format!("{}: {}", f.class, f.detail),
            }
        }
        Err(format!("did not answer in {PREFLIGHT_TRIES} tries: {last}"))
    }

    /// Whether this probe writes and keeps a ledger to read back after the run.
    pub fn keeps_ledger(&self) -> bool {
        match self {
            Probe::Postgres(p) => p.keeps_ledger(),
            Probe::Http(p) => p.keeps_ledger(),
            Probe::Tcp(_) | Probe::Prometheus(_) | Probe::Exec(_) | Probe::Kubernetes(_) => false,
        }
    }

    /// A write probe's ledger entry for the sample `seq` that just ended.
    pub fn write_outcome(&self, seq: u64, ok: bool) -> Option<crate::record::WriteOutcome> {
        match self {
            Probe::Postgres(p) => p.write_outcome(seq, ok),
            Probe::Http(p) => p.write_outcome(seq, ok),
            Probe::Tcp(_) | Probe::Prometheus(_) | Probe::Exec(_) | Probe::Kubernetes(_) => None,
        }
    }

    /// After the run, every fault reverted: a write probe reads its ledger back.
    pub async fn verify_writes(
        &self,
        name: &str,
        t_us: u64,
    ) -> Option<crate::record::WritesVerified> {
        match self {
            Probe::Postgres(p) => p.verify_writes(name, t_us).await,
            Probe::Http(p) => p.verify_writes(name, t_us).await,
            Probe::Tcp(_) | Probe::Prometheus(_) | Probe::Exec(_) | Probe::Kubernetes(_) => None,
        }
    }

    /// One sample. `seq` numbers samples of this probe from 0 (write probes use it to
    /// know exactly which acknowledged write went missing).
    pub async fn check(&self, seq: u64) -> Outcome {
        match self {
            Probe::Http(p) => p.check(seq).await.into(),
            Probe::Tcp(p) => p.check().await.into(),
            Probe::Postgres(p) => p.check(seq).await.map_err(postgres::failure).into(),
            Probe::Prometheus(p) => {
                let reading = p.check().await;
                Outcome {
                    failure: reading.result.err(),
                    value: reading.value,
                    output: None,
                }
            }
            Probe::Exec(p) => match p.check().await {
                Ok(()) => Outcome::default(),
                Err(f) => Outcome {
                    output: exec_output(&f),
                    failure: Some(f.failure),
                    value: None,
                },
            },
            Probe::Kubernetes(p) => {
                let (value, result) = p.check().await;
                Outcome {
                    failure: result.err(),
                    value,
                    output: None,
                }
            }
        }
    }
}

/// The output tails of a failed command, for its event; `None` when it printed nothing.
fn exec_output(f: &exec::ExecFailure) -> Option<String> {
    let mut parts = Vec::new();
    if !f.stdout_tail.trim().is_empty() {
        parts.push(format!("stdout: {}", f.stdout_tail.trim_end()));
    }
    if !f.stderr_tail.trim().is_empty() {
        parts.push(format!("stderr: {}", f.stderr_tail.trim_end()));
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// A short reason for an I/O failure, stable enough to group by.
pub fn io_reason(e: &std::io::Error) -> String {
    use std::io::ErrorKind::*;
    match e.kind() {
        ConnectionRefused => "connection refused".into(),
        ConnectionReset => "connection reset".into(),
        ConnectionAborted => "connection aborted".into(),
        TimedOut => "timed out".into(),
        UnexpectedEof => "connection closed".into(),
        BrokenPipe => "broken pipe".into(),
        AddrNotAvailable => "address not available".into(),
        _ => e.to_string(),
    }
}

/// Walk an error's sources to the innermost I/O error, if any.
pub fn root_reason(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    let mut last = e.to_string();
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return io_reason(io);
        }
        last = err.to_string();
        cur = err.source();
    }
    last
}
