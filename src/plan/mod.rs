//! Compile a parsed spec into a runnable [`Plan`]. Pure: no network, files or clock.
//! Every problem is collected, each with its field path and source position.

use crate::analysis::BudgetConfig;
use crate::spec::yaml::{did_you_mean, SourceMap, SpecError};
use crate::spec::{self, AzLossMode, Experiment, ProcessAction};
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
}

impl FaultKind {
    pub fn kind_name(&self) -> &'static str {
        match self {
            FaultKind::AzLoss { .. } => "az_loss",
            FaultKind::Process { .. } => "process",
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
        }
    }
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
    pub listen: SocketAddr,
    pub upstream: String,
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
        .filter_map(|(i, p)| {
            let path = format!("proxies[{i}]");
            if !proxy_names.insert(p.name.as_str()) {
                e.at(
                    format!("{path}.name"),
                    format!("duplicate proxy name `{}`", p.name),
                );
            }
            let listen = loopback_addr(&p.listen, &format!("{path}.listen"), &mut e);
            if p.upstream.trim().is_empty() {
                e.at(format!("{path}.upstream"), "must be host:port");
            }
            Some(ProxyPlan {
                name: p.name.clone(),
                listen: listen?,
                upstream: p.upstream.clone(),
            })
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
                &mut e,
            )
        })
        .collect();

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
    let set = [p.http.is_some(), p.tcp.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if set != 1 {
        e.at(
            path,
            format!("give exactly one probe kind (`http` or `tcp`), found {set}"),
        );
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

fn compile_fault(
    f: &spec::FaultSpec,
    path: &str,
    run: Duration,
    target: Option<&TargetPlan>,
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
    let set = [f.az_loss.is_some(), f.process.is_some()]
        .iter()
        .filter(|x| **x)
        .count();
    if set != 1 {
        e.at(
            path,
            format!("give exactly one fault kind (`az_loss`, `process`), found {set}"),
        );
        return None;
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
    })
}

/// Read, parse and compile one experiment file. Returns the plan and the file's text.
pub fn load(path: &std::path::Path) -> Result<(Plan, String), Vec<SpecError>> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        vec![SpecError {
            file: file.clone(),
            pos: None,
            path: String::new(),
            message: format!("cannot read: {e}"),
        }]
    })?;
    let plan = from_text(&file, &text)?;
    Ok((plan, text))
}

/// Parse and compile experiment text; `file` names it in messages.
pub fn from_text(file: &str, text: &str) -> Result<Plan, Vec<SpecError>> {
    let (exp, map) = crate::spec::yaml::from_str::<Experiment>(file, text)?;
    compile(&exp, file, &map)
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
            let _ = writeln!(o, "  {}: {} -> {}", p.name, p.listen, p.upstream);
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
            ),
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
