//! Compile a parsed spec into a runnable [`Plan`]. Pure: no network, files or clock.
//! Every problem is collected, each with its field path and source position.

use crate::analysis::BudgetConfig;
use crate::proxy::toxic::{
    Bandwidth, Latency, LimitData, ResetPeer, Slicer, SlowClose, Stream, Timeout,
};
use crate::proxy::{ToxicKind, ToxicSpec};
use crate::spec::yaml::{did_you_mean, SourceMap, SpecError};
use crate::spec::{self, AzLossMode, Experiment, ProcessAction, StreamSpec};
use crate::verdict::Thresholds;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

pub const DEFAULT_INTERVAL: Duration = Duration::from_millis(100);
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);

/// A resolved experiment: everything the engine needs, nothing left to interpret.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub name: String,
    pub description: Option<String>,
    /// The spec file, for reports.
    pub source: Option<String>,
    pub duration: Duration,
    pub target: Option<TargetPlan>,
    pub thresholds: Thresholds,
    pub budget: Option<BudgetConfig>,
    pub probes: Vec<ProbePlan>,
    pub faults: Vec<FaultPlan>,
    pub proxies: Vec<ProxyPlan>,
    pub guardrails: Vec<Guardrail>,
}

#[derive(Debug, Clone, Serialize)]
pub enum TargetPlan {
    Demo(DemoPlan),
}

#[derive(Debug, Clone, Serialize)]
pub struct DemoPlan {
    pub listen: SocketAddr,
    pub zones: Vec<String>,
    pub replicas_per_zone: u32,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    pub unhealthy_threshold: u32,
    pub healthy_threshold: u32,
    pub backend_timeout: Duration,
    /// Already running elsewhere: only its admin API is used.
    pub external: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProbePlan {
    pub name: String,
    pub interval: Duration,
    pub timeout: Duration,
    pub kind: ProbeKind,
}

#[derive(Debug, Clone, Serialize)]
pub enum ProbeKind {
    Http(HttpProbePlan),
    Tcp { address: String },
}

impl ProbeKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            ProbeKind::Http(_) => "http",
            ProbeKind::Tcp { .. } => "tcp",
        }
    }
    pub fn target(&self) -> String {
        match self {
            ProbeKind::Http(h) => format!("{} {}", h.method, h.url),
            ProbeKind::Tcp { address } => address.clone(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpProbePlan {
    pub url: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    pub expect: Vec<StatusPattern>,
}

/// A status code or a class (`2xx`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum StatusPattern {
    Code(u16),
    Class(u16),
}

impl StatusPattern {
    pub fn matches(&self, status: u16) -> bool {
        match *self {
            StatusPattern::Code(c) => c == status,
            StatusPattern::Class(c) => status / 100 == c,
        }
    }
    fn parse(text: &str) -> Option<StatusPattern> {
        let t = text.trim();
        if let Some(d) = t.strip_suffix("xx").or_else(|| t.strip_suffix("XX")) {
            return d
                .parse::<u16>()
                .ok()
                .filter(|d| (1..=5).contains(d))
                .map(StatusPattern::Class);
        }
        t.parse::<u16>()
            .ok()
            .filter(|c| (100..=599).contains(c))
            .map(StatusPattern::Code)
    }
}

impl std::fmt::Display for StatusPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatusPattern::Code(c) => write!(f, "{c}"),
            StatusPattern::Class(c) => write!(f, "{c}xx"),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FaultPlan {
    pub name: String,
    pub at: Duration,
    pub duration: Duration,
    pub kind: FaultKind,
    /// What the fault should measurably do, checked after the run (asked vs achieved).
    pub effect: Option<Effect>,
}

/// An expected, measurable effect of a fault on the probes that cross it.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Effect {
    /// `added_latency_ms`.
    pub metric: String,
    pub asked: f64,
    /// Probes whose path crosses the faulty component.
    pub probes: Vec<String>,
}

/// The closed set of fault kinds. Adding a backend = one variant here + one module in `fault/`.
#[derive(Debug, Clone, Serialize)]
pub enum FaultKind {
    AzLoss {
        lb: SocketAddr,
        zone: String,
        mode: AzLossMode,
        in_process: bool,
    },
    Process {
        pid: PidSource,
        action: ProcessPlanAction,
    },
    /// Toxics added to a proxy (`api: None` = the run's built-in proxy).
    Toxics {
        proxy: String,
        api: Option<String>,
        toxics: Vec<ToxicSpec>,
    },
    /// The proxy disabled: no new connections, open ones closed.
    ProxyDown { proxy: String, api: Option<String> },
}

impl FaultKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            FaultKind::AzLoss { .. } => "az_loss",
            FaultKind::Process { .. } => "process",
            FaultKind::Toxics { toxics, .. } => match toxics.first().map(|t| t.kind) {
                Some(ToxicKind::Latency(_)) => "latency",
                _ => "network",
            },
            FaultKind::ProxyDown { .. } => "network",
        }
    }

    pub fn describe(&self) -> String {
        match self {
            FaultKind::AzLoss { zone, mode, lb, .. } => {
                let how = match mode {
                    AzLossMode::Crash => "replicas refuse connections",
                    AzLossMode::Blackhole => "replicas accept and never answer",
                };
                format!("lose zone `{zone}` of the demo at {lb} ({how})")
            }
            FaultKind::Process { pid, action } => match action {
                ProcessPlanAction::Pause => format!("pause {pid} (SIGSTOP; revert SIGCONT)"),
                ProcessPlanAction::Kill { signal, restart } => {
                    format!(
                        "kill {pid} with SIG{}; revert: run `{}`",
                        signal_name(*signal),
                        restart.join(" ")
                    )
                }
            },
            FaultKind::Toxics { proxy, api, toxics } => {
                let what: Vec<String> = toxics.iter().map(describe_toxic).collect();
                format!(
                    "{} on proxy `{proxy}`{}",
                    what.join(" and "),
                    where_proxy(api)
                )
            }
            FaultKind::ProxyDown { proxy, api } => {
                format!(
                    "take proxy `{proxy}`{} down (connections refused and closed)",
                    where_proxy(api)
                )
            }
        }
    }
}

fn where_proxy(api: &Option<String>) -> String {
    api.as_ref().map(|a| format!(" at {a}")).unwrap_or_default()
}

fn describe_toxic(t: &ToxicSpec) -> String {
    let what = match t.kind {
        ToxicKind::Latency(l) if l.jitter > 0 => {
            format!("+{}ms ±{}ms latency", l.latency, l.jitter)
        }
        ToxicKind::Latency(l) => format!("+{}ms latency", l.latency),
        ToxicKind::Bandwidth(b) => format!("bandwidth {} KB/s", b.rate),
        ToxicKind::SlowClose(s) => format!("close delayed {}ms", s.delay),
        ToxicKind::Timeout(t) if t.timeout == 0 => {
            "data swallowed until the fault ends".to_string()
        }
        ToxicKind::Timeout(t) => format!("data swallowed, closed after {}ms", t.timeout),
        ToxicKind::ResetPeer(r) => format!("connections reset {}ms after first data", r.timeout),
        ToxicKind::Slicer(s) => format!(
            "data sliced to {}±{} bytes, {}us apart",
            s.average_size, s.size_variation, s.delay
        ),
        ToxicKind::LimitData(l) => format!("connections closed after {} bytes", l.bytes),
    };
    let share = if t.toxicity < 1.0 {
        format!(", {:.0}% of connections", t.toxicity * 100.0)
    } else {
        String::new()
    };
    format!("{what} ({}{share})", t.stream.as_str())
}

#[derive(Debug, Clone, Serialize)]
pub enum PidSource {
    Pid(i32),
    File(PathBuf),
}

impl std::fmt::Display for PidSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PidSource::Pid(p) => write!(f, "process {p}"),
            PidSource::File(path) => write!(f, "the process in {}", path.display()),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub enum ProcessPlanAction {
    Pause,
    Kill { signal: i32, restart: Vec<String> },
}

pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        libc::SIGKILL => "KILL",
        libc::SIGTERM => "TERM",
        libc::SIGINT => "INT",
        _ => "?",
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ProxyPlan {
    pub name: String,
    /// Where it listens; unknown until the run for a remote proxy used as it is.
    pub listen: Option<SocketAddr>,
    pub upstream: Option<String>,
    /// `None`: built in, started by the run. `Some(url)`: lives in that Toxiproxy API.
    pub api: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Guardrail {
    /// `None` = every probe.
    pub probe: Option<String>,
    pub max_outage: Option<Duration>,
    pub max_failures: Option<u64>,
}

/// Collects errors with positions looked up in the source map.
struct Errors<'a> {
    file: &'a str,
    map: &'a SourceMap,
    list: Vec<SpecError>,
}

impl Errors<'_> {
    fn at(&mut self, path: impl Into<String>, message: impl Into<String>) {
        let path = path.into();
        self.list.push(SpecError {
            file: self.file.to_string(),
            pos: self.map.pos(&path),
            path,
            message: message.into(),
        });
    }
}

/// Compile a parsed experiment. `file` names the source in messages.
pub fn compile(exp: &Experiment, file: &str, map: &SourceMap) -> Result<Plan, Vec<SpecError>> {
    let mut e = Errors {
        file,
        map,
        list: Vec::new(),
    };
    let duration = exp.duration.0;
    if exp.name.trim().is_empty() {
        e.at("name", "must not be empty");
    }
    if duration.is_zero() {
        e.at("duration", "must be longer than 0s");
    }

    let target = exp.target.as_ref().and_then(|t| compile_target(t, &mut e));
    let thresholds = compile_sla(&exp.sla, &mut e);
    let budget = exp.sla.error_budget.as_ref().map(|b| BudgetConfig {
        objective_pct: b.objective.0,
        period_us: b.period.0.as_micros() as u64,
    });
    if let Some(b) = &exp.sla.error_budget {
        if b.objective.0 >= 100.0 {
            e.at(
                "sla.error_budget.objective",
                "an objective of 100% leaves no budget to spend",
            );
        }
        if b.period.0.is_zero() {
            e.at("sla.error_budget.period", "must be longer than 0s");
        }
    }

    if exp.probes.is_empty() {
        e.at(
            "probes",
            "an experiment needs at least one probe: it is how the run measures anything",
        );
    }
    let mut names = BTreeSet::new();
    let probes: Vec<ProbePlan> = exp
        .probes
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            if !names.insert(p.name.as_str()) {
                e.at(
                    format!("probes[{i}].name"),
                    format!("duplicate probe name `{}`", p.name),
                );
            }
            compile_probe(p, &format!("probes[{i}]"), duration, &mut e)
        })
        .collect();

    let mut proxy_names = BTreeSet::new();
    let proxies: Vec<ProxyPlan> = exp
        .proxies
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let path = format!("proxies[{i}]");
            if !proxy_names.insert(p.name.as_str()) {
                e.at(
                    format!("{path}.name"),
                    format!("duplicate proxy name `{}`", p.name),
                );
            }
            let listen = p.listen.as_deref().and_then(|l| loopback_addr(l, &format!("{path}.listen"), &mut e));
            if let Some(u) = &p.upstream {
                if !u.contains(':') {
                    e.at(format!("{path}.upstream"), format!("`{u}` is not host:port"));
                }
            }
            match &p.api {
                None => {
                    if p.listen.is_none() {
                        e.at(path.clone(), "a built-in proxy needs `listen` (and `upstream`)");
                    }
                    if p.upstream.is_none() {
                        e.at(path.clone(), "a built-in proxy needs `upstream`");
                    }
                }
                Some(api) => {
                    if !api.starts_with("http://") || api.parse::<hyper::Uri>().is_err() {
                        e.at(format!("{path}.api"), format!("`{api}` is not an http:// URL like http://127.0.0.1:8474"));
                    }
                    if p.listen.is_some() != p.upstream.is_some() {
                        e.at(path.clone(), "give both `listen` and `upstream` (to create the proxy) or neither (to use it as it is)");
                    }
                }
            }
            ProxyPlan { name: p.name.clone(), listen, upstream: p.upstream.clone(), api: p.api.clone() }
        })
        .collect();

    let mut fault_names = BTreeSet::new();
    let faults: Vec<FaultPlan> = exp
        .faults
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            if !fault_names.insert(f.name.as_str()) {
                e.at(
                    format!("faults[{i}].name"),
                    format!("duplicate fault name `{}`", f.name),
                );
            }
            compile_fault(
                f,
                &format!("faults[{i}]"),
                duration,
                target.as_ref(),
                &proxies,
                &probes,
                &mut e,
            )
        })
        .collect();

    check_overlaps(&faults, &exp.faults, &mut e);

    let guardrails = exp
        .guardrails
        .iter()
        .enumerate()
        .map(|(i, g)| {
            if let Some(p) = &g.probe {
                if !names.contains(p.as_str()) {
                    let all: Vec<&str> = names.iter().copied().collect();
                    e.at(
                        format!("guardrails[{i}].probe"),
                        unknown_name("probe", p, &all),
                    );
                }
            }
            if g.max_outage.is_none() && g.max_failures.is_none() {
                e.at(
                    format!("guardrails[{i}]"),
                    "give `max_outage` or `max_failures`",
                );
            }
            Guardrail {
                probe: g.probe.clone(),
                max_outage: g.max_outage.map(|d| d.0),
                max_failures: g.max_failures,
            }
        })
        .collect();

    if !e.list.is_empty() {
        e.list.sort_by_key(|x| x.pos.map(|p| (p.line, p.col)));
        return Err(e.list);
    }
    Ok(Plan {
        name: exp.name.clone(),
        description: exp.description.clone(),
        source: Some(file.to_string()),
        duration,
        target,
        thresholds,
        budget,
        probes,
        faults,
        proxies,
        guardrails,
    })
}

fn unknown_name(what: &str, name: &str, valid: &[&str]) -> String {
    match did_you_mean(name, valid) {
        Some(s) => format!("no {what} named `{name}`, did you mean `{s}`?"),
        None if valid.is_empty() => format!("no {what} named `{name}`: none is defined"),
        None => format!(
            "no {what} named `{name}`; {what}s are: {}",
            valid.join(", ")
        ),
    }
}

/// Load-generating and fault-injecting sockets are bound to loopback unless the user
/// names another address explicitly; parse `host:port` where host is an IP.
fn loopback_addr(text: &str, path: &str, e: &mut Errors) -> Option<SocketAddr> {
    let t = text.trim();
    let with_host = if t.starts_with(':') {
        format!("127.0.0.1{t}")
    } else {
        t.replace("localhost:", "127.0.0.1:")
    };
    match with_host.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            e.at(
                path,
                format!("`{t}` is not an address like 127.0.0.1:18080"),
            );
            None
        }
    }
}

fn compile_target(t: &spec::Target, e: &mut Errors) -> Option<TargetPlan> {
    let Some(d) = &t.demo else {
        e.at("target", "name the target, e.g. `demo:`");
        return None;
    };
    let listen = loopback_addr(&d.listen, "target.demo.listen", e);
    if d.zones.is_empty() {
        e.at("target.demo.zones", "needs at least one zone");
    }
    let mut seen = BTreeSet::new();
    for (i, z) in d.zones.iter().enumerate() {
        if z.trim().is_empty() || !seen.insert(z.as_str()) {
            e.at(
                format!("target.demo.zones[{i}]"),
                format!("zone names must be unique and non-empty (`{z}`)"),
            );
        }
    }
    if d.replicas_per_zone == 0 || d.replicas_per_zone > 64 {
        e.at("target.demo.replicas_per_zone", "must be between 1 and 64");
    }
    let hc = d.health_check.clone().unwrap_or(spec::HealthCheckSpec {
        interval: None,
        timeout: None,
        unhealthy_threshold: None,
        healthy_threshold: None,
    });
    let health_interval = hc.interval.map_or(Duration::from_millis(500), |d| d.0);
    let health_timeout = hc.timeout.map_or(Duration::from_millis(250), |d| d.0);
    if health_interval.is_zero() {
        e.at(
            "target.demo.health_check.interval",
            "must be longer than 0s",
        );
    }
    if health_timeout.is_zero() {
        e.at("target.demo.health_check.timeout", "must be longer than 0s");
    }
    let unhealthy_threshold = hc.unhealthy_threshold.unwrap_or(2);
    let healthy_threshold = hc.healthy_threshold.unwrap_or(2);
    if unhealthy_threshold == 0 {
        e.at(
            "target.demo.health_check.unhealthy_threshold",
            "must be at least 1",
        );
    }
    if healthy_threshold == 0 {
        e.at(
            "target.demo.health_check.healthy_threshold",
            "must be at least 1",
        );
    }
    Some(TargetPlan::Demo(DemoPlan {
        listen: listen?,
        zones: d.zones.clone(),
        replicas_per_zone: d.replicas_per_zone,
        health_interval,
        health_timeout,
        unhealthy_threshold,
        healthy_threshold,
        backend_timeout: d.backend_timeout.map_or(Duration::from_secs(1), |d| d.0),
        external: d.external,
    }))
}

fn compile_sla(s: &spec::Sla, e: &mut Errors) -> Thresholds {
    let latency = [
        ("p50", s.latency_p50),
        ("p90", s.latency_p90),
        ("p95", s.latency_p95),
        ("p99", s.latency_p99),
        ("p999", s.latency_p999),
        ("max", s.latency_max),
    ]
    .into_iter()
    .filter_map(|(stat, d)| d.map(|d| (stat.to_string(), d.0)))
    .collect();
    let k = s.recovery_successes.unwrap_or(3);
    if k == 0 {
        e.at("sla.recovery_successes", "must be at least 1");
    }
    Thresholds {
        availability_pct: s.availability.map(|p| p.0),
        recovery_time: s.recovery_time.map(|d| d.0),
        recovery_successes: k.max(1),
        max_outage: s.max_outage.map(|d| d.0),
        latency,
        budget_max_spent_pct: s
            .error_budget
            .as_ref()
            .and_then(|b| b.max_spent.map(|p| p.0)),
    }
}

fn compile_probe(
    p: &spec::ProbeSpec,
    path: &str,
    run: Duration,
    e: &mut Errors,
) -> Option<ProbePlan> {
    if p.name.trim().is_empty() {
        e.at(format!("{path}.name"), "must not be empty");
    }
    if !exactly_one(
        e,
        path,
        "probe kind",
        &[("http", p.http.is_some()), ("tcp", p.tcp.is_some())],
    ) {
        return None;
    }
    let (interval, timeout, kind, kpath) = if let Some(h) = &p.http {
        let kpath = format!("{path}.http");
        let kind = compile_http(h, &kpath, e).map(ProbeKind::Http);
        (h.interval, h.timeout, kind, kpath)
    } else {
        let t = p.tcp.as_ref()?;
        let kpath = format!("{path}.tcp");
        let kind = if t.address.contains(':') {
            Some(ProbeKind::Tcp {
                address: t.address.clone(),
            })
        } else {
            e.at(
                format!("{kpath}.address"),
                format!("`{}` is not host:port", t.address),
            );
            None
        };
        (t.interval, t.timeout, kind, kpath)
    };
    let interval = interval.map_or(DEFAULT_INTERVAL, |d| d.0);
    let timeout = timeout.map_or(DEFAULT_TIMEOUT, |d| d.0);
    if interval < Duration::from_micros(100) {
        e.at(format!("{kpath}.interval"), "must be at least 100us");
    } else if run.as_micros() / interval.as_micros() > 50_000_000 {
        e.at(
            format!("{kpath}.interval"),
            "would take more than 50 million samples; use a longer interval",
        );
    }
    if timeout.is_zero() {
        e.at(format!("{kpath}.timeout"), "must be longer than 0s");
    }
    Some(ProbePlan {
        name: p.name.clone(),
        interval,
        timeout,
        kind: kind?,
    })
}

fn compile_http(h: &spec::HttpProbeSpec, path: &str, e: &mut Errors) -> Option<HttpProbePlan> {
    let mut ok = true;
    match h.url.parse::<hyper::Uri>() {
        Ok(uri) => {
            if uri.scheme_str() != Some("http") {
                e.at(
                    format!("{path}.url"),
                    format!("`{}`: only http:// URLs are supported", h.url),
                );
                ok = false;
            } else if uri.host().is_none() {
                e.at(format!("{path}.url"), format!("`{}` has no host", h.url));
                ok = false;
            }
        }
        Err(err) => {
            e.at(
                format!("{path}.url"),
                format!("`{}` is not a URL ({err})", h.url),
            );
            ok = false;
        }
    }
    let method = h
        .method
        .clone()
        .unwrap_or_else(|| "GET".into())
        .to_ascii_uppercase();
    const METHODS: [&str; 7] = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"];
    if !METHODS.contains(&method.as_str()) {
        let hint = did_you_mean(&method, &METHODS)
            .map(|m| format!(", did you mean `{m}`?"))
            .unwrap_or_default();
        e.at(
            format!("{path}.method"),
            format!("unknown method `{method}`{hint}"),
        );
        ok = false;
    }
    for name in h.headers.keys() {
        if hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
            e.at(format!("{path}.headers.{name}"), "not a valid header name");
            ok = false;
        }
    }
    let expect = match &h.expect_status {
        None => vec![StatusPattern::Class(2)],
        Some(list) => {
            let mut out = Vec::new();
            for (i, s) in list.0.iter().enumerate() {
                match StatusPattern::parse(s) {
                    Some(p) => out.push(p),
                    None => {
                        let sub = if list.0.len() > 1 {
                            format!("[{i}]")
                        } else {
                            String::new()
                        };
                        e.at(
                            format!("{path}.expect_status{sub}"),
                            format!("`{s}` is not a status code (100-599) or class like 2xx"),
                        );
                        ok = false;
                    }
                }
            }
            if list.0.is_empty() {
                e.at(format!("{path}.expect_status"), "list at least one status");
                ok = false;
            }
            out
        }
    };
    ok.then(|| HttpProbePlan {
        url: h.url.clone(),
        method,
        headers: h
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        body: h.body.clone(),
        expect,
    })
}

#[allow(clippy::too_many_arguments)]
fn compile_fault(
    f: &spec::FaultSpec,
    path: &str,
    run: Duration,
    target: Option<&TargetPlan>,
    proxies: &[ProxyPlan],
    probes: &[ProbePlan],
    e: &mut Errors,
) -> Option<FaultPlan> {
    if f.at.0 >= run {
        e.at(
            format!("{path}.at"),
            format!(
                "{} is not before the end of the run ({})",
                f.at,
                crate::spec::Dur(run)
            ),
        );
    } else if f.at.0 + f.duration.0 > run {
        e.at(
            format!("{path}.duration"),
            format!(
                "{} from {} ends after the run's duration {}",
                f.duration,
                f.at,
                crate::spec::Dur(run)
            ),
        );
    }
    if f.duration.0.is_zero() {
        e.at(format!("{path}.duration"), "must be longer than 0s");
    }
    let kinds = [
        ("az_loss", f.az_loss.is_some()),
        ("process", f.process.is_some()),
        ("latency", f.latency.is_some()),
        ("network", f.network.is_some()),
    ];
    if !exactly_one(e, path, "fault kind", &kinds) {
        return None;
    }
    if let Some(l) = &f.latency {
        let kind = compile_latency(f, l, &format!("{path}.latency"), proxies, e)?;
        let effect = latency_effect(l, &kind, proxies, probes);
        return Some(FaultPlan {
            name: f.name.clone(),
            at: f.at.0,
            duration: f.duration.0,
            kind,
            effect,
        });
    }
    if let Some(n) = &f.network {
        let kind = compile_network(f, n, &format!("{path}.network"), proxies, e)?;
        return Some(FaultPlan {
            name: f.name.clone(),
            at: f.at.0,
            duration: f.duration.0,
            kind,
            effect: None,
        });
    }
    let kind = if let Some(az) = &f.az_loss {
        let kpath = format!("{path}.az_loss");
        match target {
            Some(TargetPlan::Demo(d)) => {
                if !d.zones.contains(&az.zone) {
                    let zones: Vec<&str> = d.zones.iter().map(String::as_str).collect();
                    e.at(
                        format!("{kpath}.zone"),
                        unknown_name("zone", &az.zone, &zones),
                    );
                    return None;
                }
                FaultKind::AzLoss {
                    lb: d.listen,
                    zone: az.zone.clone(),
                    mode: az.mode,
                    in_process: !d.external,
                }
            }
            None => {
                e.at(kpath, "az_loss needs a target with zones (`target: demo:`)");
                return None;
            }
        }
    } else {
        let p = f.process.as_ref()?;
        let kpath = format!("{path}.process");
        let pid = match (p.pid, &p.pid_file) {
            (Some(pid), None) if pid > 1 => PidSource::Pid(pid),
            (Some(pid), None) => {
                e.at(
                    format!("{kpath}.pid"),
                    format!("{pid} is not a process shakeout may signal"),
                );
                return None;
            }
            (None, Some(file)) => PidSource::File(file.clone()),
            _ => {
                e.at(kpath, "give exactly one of `pid` or `pid_file`");
                return None;
            }
        };
        let action = match p.action {
            ProcessAction::Pause => {
                if p.restart.is_some() || p.signal.is_some() {
                    e.at(
                        kpath.clone(),
                        "`restart` and `signal` only apply to `action: kill`",
                    );
                }
                ProcessPlanAction::Pause
            }
            ProcessAction::Kill => {
                let signal = match p
                    .signal
                    .as_deref()
                    .map(|s| s.trim_start_matches("SIG").to_ascii_uppercase())
                {
                    None => libc::SIGKILL,
                    Some(s) if s == "KILL" => libc::SIGKILL,
                    Some(s) if s == "TERM" => libc::SIGTERM,
                    Some(s) if s == "INT" => libc::SIGINT,
                    Some(s) => {
                        e.at(
                            format!("{kpath}.signal"),
                            format!("`{s}` is not one of KILL, TERM, INT"),
                        );
                        libc::SIGKILL
                    }
                };
                match &p.restart {
                    Some(argv) if !argv.is_empty() && !argv[0].is_empty() => {
                        ProcessPlanAction::Kill {
                            signal,
                            restart: argv.clone(),
                        }
                    }
                    _ => {
                        e.at(
                            format!("{kpath}.restart"),
                            "a killed process cannot be brought back without `restart: [command, args...]`",
                        );
                        return None;
                    }
                }
            }
        };
        FaultKind::Process { pid, action }
    };
    Some(FaultPlan {
        name: f.name.clone(),
        at: f.at.0,
        duration: f.duration.0,
        kind,
        effect: None,
    })
}

/// What a fault changes, when two faults must not change it at the same time: the
/// first revert would end both (a zone brought up, a process resumed, a proxy enabled).
fn exclusive_target(k: &FaultKind) -> Option<String> {
    match k {
        FaultKind::AzLoss { lb, zone, .. } => Some(format!("zone `{zone}` of {lb}")),
        FaultKind::Process {
            pid: PidSource::Pid(p),
            ..
        } => Some(format!("process {p}")),
        FaultKind::Process {
            pid: PidSource::File(f),
            ..
        } => Some(format!("the process in {}", f.display())),
        FaultKind::ProxyDown { proxy, .. } => Some(format!("proxy `{proxy}`")),
        // Toxics are named per fault: several can be on one proxy at once.
        FaultKind::Toxics { .. } => None,
    }
}

fn check_overlaps(faults: &[FaultPlan], specs: &[spec::FaultSpec], e: &mut Errors) {
    for (j, b) in faults.iter().enumerate() {
        for a in &faults[..j] {
            let (Some(ta), Some(tb)) = (exclusive_target(&a.kind), exclusive_target(&b.kind))
            else {
                continue;
            };
            let overlap = a.at < b.at + b.duration && b.at < a.at + a.duration;
            if ta == tb && overlap {
                let i = specs.iter().position(|f| f.name == b.name).unwrap_or(j);
                e.at(
                    format!("faults[{i}].at"),
                    format!("`{}` overlaps `{}` on {ta}: the first revert would end both; run them one after the other", b.name, a.name),
                );
            }
        }
    }
}

/// Backends are one key each; exactly one of `keys` (name, present) must be given.
fn exactly_one(e: &mut Errors, path: &str, what: &str, keys: &[(&str, bool)]) -> bool {
    let given: Vec<&str> = keys
        .iter()
        .filter(|(_, set)| *set)
        .map(|(k, _)| *k)
        .collect();
    if given.len() == 1 {
        return true;
    }
    let all = keys
        .iter()
        .map(|(k, _)| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let found = if given.is_empty() {
        "none".to_string()
    } else {
        given.join(" and ")
    };
    e.at(
        path,
        format!("give exactly one {what} ({all}), found {found}"),
    );
    false
}

/// The proxy a fault names, or an error listing the defined ones.
fn find_proxy<'a>(
    name: &str,
    path: &str,
    proxies: &'a [ProxyPlan],
    e: &mut Errors,
) -> Option<&'a ProxyPlan> {
    let found = proxies.iter().find(|p| p.name == name);
    if found.is_none() {
        let names: Vec<&str> = proxies.iter().map(|p| p.name.as_str()).collect();
        e.at(path, unknown_name("proxy", name, &names));
    }
    found
}

fn toxicity(t: Option<f64>, path: &str, e: &mut Errors) -> f32 {
    match t {
        None => 1.0,
        Some(v) if (0.0..=1.0).contains(&v) => v as f32,
        Some(v) => {
            e.at(path, format!("{v} is not a probability between 0 and 1"));
            1.0
        }
    }
}

fn streams(s: StreamSpec) -> Vec<Stream> {
    match s {
        StreamSpec::Upstream => vec![Stream::Upstream],
        StreamSpec::Downstream => vec![Stream::Downstream],
        StreamSpec::Both => vec![Stream::Upstream, Stream::Downstream],
    }
}

/// One toxic per stream, named after the fault so a rollback can find exactly it.
fn toxics_for(fault: &str, kind: ToxicKind, stream: StreamSpec, toxicity: f32) -> Vec<ToxicSpec> {
    streams(stream)
        .into_iter()
        .map(|st| {
            ToxicSpec::new(kind, st)
                .named(format!("shakeout-{fault}-{}", st.as_str()))
                .with_toxicity(toxicity)
        })
        .collect()
}

fn ms(d: Duration) -> u64 {
    d.as_millis() as u64
}

fn compile_latency(
    f: &spec::FaultSpec,
    l: &spec::LatencyFaultSpec,
    path: &str,
    proxies: &[ProxyPlan],
    e: &mut Errors,
) -> Option<FaultKind> {
    let proxy = find_proxy(&l.proxy, &format!("{path}.proxy"), proxies, e);
    let tox = toxicity(l.toxicity, &format!("{path}.toxicity"), e);
    let jitter = l.jitter.map_or(Duration::ZERO, |d| d.0);
    if l.latency.0.subsec_micros() % 1000 != 0 || jitter.subsec_micros() % 1000 != 0 {
        e.at(path, "latency and jitter are applied in whole milliseconds");
    }
    if jitter > l.latency.0 {
        e.at(
            format!("{path}.jitter"),
            "jitter larger than the latency would make some delays negative",
        );
    }
    let kind = ToxicKind::Latency(Latency {
        latency: ms(l.latency.0),
        jitter: ms(jitter),
    });
    let proxy = proxy?;
    Some(FaultKind::Toxics {
        proxy: proxy.name.clone(),
        api: proxy.api.clone(),
        toxics: toxics_for(&f.name, kind, l.stream, tox),
    })
}

fn compile_network(
    f: &spec::FaultSpec,
    n: &spec::NetworkFaultSpec,
    path: &str,
    proxies: &[ProxyPlan],
    e: &mut Errors,
) -> Option<FaultKind> {
    let proxy = find_proxy(&n.proxy, &format!("{path}.proxy"), proxies, e);
    let tox = toxicity(n.toxicity, &format!("{path}.toxicity"), e);
    let toxics = [
        ("bandwidth", n.bandwidth.is_some()),
        ("slow_close", n.slow_close.is_some()),
        ("timeout", n.timeout.is_some()),
        ("reset_peer", n.reset_peer.is_some()),
        ("slicer", n.slicer.is_some()),
        ("limit_data", n.limit_data.is_some()),
        ("down", n.down.is_some()),
    ];
    if !exactly_one(e, path, "network fault", &toxics) {
        return None;
    }
    let kind = if let Some(b) = &n.bandwidth {
        ToxicKind::Bandwidth(Bandwidth { rate: b.rate })
    } else if let Some(s) = &n.slow_close {
        ToxicKind::SlowClose(SlowClose {
            delay: ms(s.delay.0),
        })
    } else if let Some(t) = &n.timeout {
        ToxicKind::Timeout(Timeout {
            timeout: ms(t.timeout.0),
        })
    } else if let Some(t) = &n.reset_peer {
        ToxicKind::ResetPeer(ResetPeer {
            timeout: ms(t.timeout.0),
        })
    } else if let Some(s) = &n.slicer {
        if s.average_size == 0 || s.size_variation >= s.average_size {
            e.at(
                format!("{path}.slicer"),
                "needs average_size > 0 and size_variation < average_size",
            );
        }
        ToxicKind::Slicer(Slicer {
            average_size: s.average_size,
            size_variation: s.size_variation,
            delay: s.delay.0.as_micros() as u64,
        })
    } else if let Some(l) = &n.limit_data {
        ToxicKind::LimitData(LimitData { bytes: l.bytes })
    } else {
        if n.down != Some(true) {
            e.at(
                format!("{path}.down"),
                "write `down: true` (the proxy is taken down for the fault's duration)",
            );
        }
        if n.stream != StreamSpec::Downstream || n.toxicity.is_some() {
            e.at(
                path,
                "`stream` and `toxicity` do not apply to `down` (the whole proxy goes down)",
            );
        }
        let proxy = proxy?;
        return Some(FaultKind::ProxyDown {
            proxy: proxy.name.clone(),
            api: proxy.api.clone(),
        });
    };
    let proxy = proxy?;
    Some(FaultKind::Toxics {
        proxy: proxy.name.clone(),
        api: proxy.api.clone(),
        toxics: toxics_for(&f.name, kind, n.stream, tox),
    })
}

/// The host:port a probe connects to, with `localhost` read as 127.0.0.1.
fn probe_address(p: &ProbePlan) -> Option<SocketAddr> {
    let authority = match &p.kind {
        ProbeKind::Http(h) => {
            let uri: hyper::Uri = h.url.parse().ok()?;
            let host = uri.host()?.replace("localhost", "127.0.0.1");
            format!("{host}:{}", uri.port_u16().unwrap_or(80))
        }
        ProbeKind::Tcp { address } => address.replace("localhost", "127.0.0.1"),
    };
    authority.parse().ok()
}

/// A latency fault's asked added round trip, judged on the probes that go through its proxy.
fn latency_effect(
    l: &spec::LatencyFaultSpec,
    kind: &FaultKind,
    proxies: &[ProxyPlan],
    probes: &[ProbePlan],
) -> Option<Effect> {
    let FaultKind::Toxics { proxy, .. } = kind else {
        return None;
    };
    let listen = proxies.iter().find(|p| &p.name == proxy)?.listen;
    let through: Vec<String> = probes
        .iter()
        .filter(|p| listen.is_some() && probe_address(p) == listen)
        .map(|p| p.name.clone())
        .collect();
    // A request/response crosses each direction once: both streams add the latency twice.
    let per_direction = l.latency.0.as_secs_f64() * 1000.0;
    let asked = if l.stream == StreamSpec::Both {
        2.0 * per_direction
    } else {
        per_direction
    };
    Some(Effect {
        metric: "added_latency_ms".into(),
        asked,
        probes: through,
    })
}

/// Read, parse and compile one experiment file. Returns the plan and the file's text.
pub fn load(path: &std::path::Path) -> Result<(Plan, String), Vec<SpecError>> {
    let file = path.display().to_string();
    let text = crate::spec::yaml::read_spec_file(path).map_err(|e| vec![e])?;
    let plan = from_text(&file, &text)?;
    Ok((plan, text))
}

/// Parse and compile experiment text; `file` names it in messages.
pub fn from_text(file: &str, text: &str) -> Result<Plan, Vec<SpecError>> {
    match crate::spec::yaml::from_str_partial::<Experiment>(file, text) {
        Ok((exp, map)) => compile(&exp, file, &map),
        Err(p) => {
            let mut errors = p.errors;
            // Only unknown keys went wrong: the plan's own checks still run, except in the
            // mappings that held an unknown key (their errors would only echo it).
            if let Some((exp, map)) = p.value {
                let noisy: Vec<String> = errors.iter().map(|e| noisy_path(e).to_string()).collect();
                if let Err(more) = compile(&exp, file, &map) {
                    errors.extend(
                        more.into_iter()
                            .filter(|m| !noisy.iter().any(|n| m.path.starts_with(n.as_str()))),
                    );
                }
                errors.sort_by_key(|e| (e.pos.is_none(), e.pos));
            }
            Err(errors)
        }
    }
}

/// Where a parse error makes the plan's own checks noisy: the mapping that held an
/// unknown key, or the bad value itself (read as a placeholder).
fn noisy_path(e: &SpecError) -> &str {
    if e.message.starts_with("unknown field") {
        parent_path(&e.path)
    } else {
        &e.path
    }
}

fn parent_path(path: &str) -> &str {
    path.rfind(['.', '[']).map_or("", |i| &path[..i])
}

/// The plan in words: what is injected when, on which targets, what each probe does,
/// and which SLA checks will be judged. Used by `shakeout plan`.
pub fn describe(plan: &Plan) -> String {
    use crate::spec::units::format_duration as d;
    use std::fmt::Write;
    let mut o = String::new();
    let _ = writeln!(
        o,
        "experiment `{}`{}",
        plan.name,
        plan.source
            .as_ref()
            .map(|s| format!(" ({s})"))
            .unwrap_or_default()
    );
    if let Some(desc) = &plan.description {
        let _ = writeln!(o, "  {desc}");
    }
    let _ = writeln!(o, "duration {}", d(plan.duration));
    let _ = writeln!(o, "\ntarget:");
    match &plan.target {
        None => {
            let _ = writeln!(o, "  none (probe-only: nothing is started or changed)");
        }
        Some(TargetPlan::Demo(t)) => {
            let who = if t.external {
                "already running (driven through its admin API)"
            } else {
                "started and stopped by the run"
            };
            let _ = writeln!(
                o,
                "  demo deployment at {}: zones {} × {} replicas, {who}\n  balancer health checks every {} (timeout {}), unhealthy after {}, healthy after {}; backend timeout {}",
                t.listen,
                t.zones.join(", "),
                t.replicas_per_zone,
                d(t.health_interval),
                d(t.health_timeout),
                t.unhealthy_threshold,
                t.healthy_threshold,
                d(t.backend_timeout)
            );
        }
    }
    if !plan.proxies.is_empty() {
        let _ = writeln!(o, "\nproxies (started before the probes):");
        for p in &plan.proxies {
            let listen = p
                .listen
                .map(|l| l.to_string())
                .unwrap_or_else(|| "(as configured)".into());
            let upstream = p
                .upstream
                .clone()
                .unwrap_or_else(|| "(as configured)".into());
            let place = match &p.api {
                None => "built in".to_string(),
                Some(api) => format!("in the Toxiproxy server at {api}"),
            };
            let _ = writeln!(o, "  {}: {listen} -> {upstream}, {place}", p.name);
        }
    }
    let _ = writeln!(
        o,
        "\nprobes (open loop: sample n is sent at n × interval, whatever happened to n-1):"
    );
    for p in &plan.probes {
        let samples = plan.duration.as_micros() / p.interval.as_micros().max(1);
        let success = match &p.kind {
            ProbeKind::Http(h) => format!(
                "success = status {}",
                h.expect
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            ProbeKind::Tcp { .. } => "success = connection established".into(),
        };
        let _ = writeln!(
            o,
            "  {}: {} {} every {}, timeout {}, {success} (~{samples} samples)",
            p.name,
            p.kind.kind_name(),
            p.kind.target(),
            d(p.interval),
            d(p.timeout)
        );
    }
    let _ = writeln!(o, "\ntimeline:");
    let mut events: Vec<(Duration, u8, String)> = Vec::new();
    for f in &plan.faults {
        events.push((
            f.at,
            1,
            format!(
                "inject `{}` [{}]: {}",
                f.name,
                f.kind.kind_name(),
                f.kind.describe()
            ) + &match &f.effect {
                Some(e) if e.probes.is_empty() => {
                    "; its effect is not measured: no probe goes through that proxy".to_string()
                }
                Some(e) => format!(
                    "; asked +{} round trip, measured by {}",
                    d(Duration::from_secs_f64(e.asked / 1000.0)),
                    e.probes.join(", ")
                ),
                None => String::new(),
            },
        ));
        events.push((f.at + f.duration, 0, format!("revert `{}`", f.name)));
    }
    events.sort();
    let _ = writeln!(o, "  {:>8}  start target and probes", "0s");
    for (t, _, what) in events {
        let _ = writeln!(o, "  {:>8}  {what}", d(t));
    }
    let _ = writeln!(
        o,
        "  {:>8}  stop probes, revert anything still applied, write reports",
        d(plan.duration)
    );
    for g in &plan.guardrails {
        let who = g
            .probe
            .as_deref()
            .map(|p| format!("probe `{p}`"))
            .unwrap_or_else(|| "any probe".into());
        let mut conds = Vec::new();
        if let Some(m) = g.max_outage {
            conds.push(format!("fails for longer than {}", d(m)));
        }
        if let Some(m) = g.max_failures {
            conds.push(format!("reaches {m} failed samples"));
        }
        let _ = writeln!(
            o,
            "  guardrail: abort (and revert) when {who} {}",
            conds.join(" or ")
        );
    }
    let _ = writeln!(o, "\nSLA checks (judged after the run):");
    let t = &plan.thresholds;
    let probes = plan
        .probes
        .iter()
        .map(|p| p.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut any = false;
    if let Some(a) = t.availability_pct {
        any = true;
        let _ = writeln!(o, "  availability >= {a}% for each probe ({probes})");
    }
    for (stat, limit) in &t.latency {
        any = true;
        let _ = writeln!(
            o,
            "  latency {stat} <= {} for each probe ({probes}), successful samples",
            d(*limit)
        );
    }
    if let Some(m) = t.max_outage {
        any = true;
        let _ = writeln!(o, "  longest outage <= {} for each probe ({probes})", d(m));
    }
    if let Some(r) = t.recovery_time {
        any = true;
        for f in &plan.faults {
            let _ = writeln!(
                o,
                "  recovery time <= {} for fault `{}` ({} consecutive successes)",
                d(r),
                f.name,
                t.recovery_successes
            );
        }
        if plan.faults.is_empty() {
            let _ = writeln!(
                o,
                "  recovery time <= {} (no faults: nothing to judge)",
                d(r)
            );
        }
    }
    if let Some(b) = &plan.budget {
        let allowed =
            Duration::from_micros(((1.0 - b.objective_pct / 100.0) * b.period_us as f64) as u64);
        let spent = t
            .budget_max_spent_pct
            .map(|m| format!("; check: this run spends <= {m}% of it"))
            .unwrap_or_default();
        let _ = writeln!(
            o,
            "  error budget: {}% over {} allows {} of downtime{spent}",
            b.objective_pct,
            d(Duration::from_micros(b.period_us)),
            d(allowed)
        );
        any |= t.budget_max_spent_pct.is_some();
    }
    if !any {
        let _ = writeln!(o, "  none: the run reports figures but every run passes");
    }
    o
}
