//! The top-level compile: each section by its owner, then the checks that span
//! sections.

use super::experiment::GuardrailSpec;
use super::{Effect, Experiment, FaultPlan, Guardrail, Plan, ProbePlan, ProxyPlan, TargetPlan};
use crate::analysis::BudgetConfig;
use crate::fault::{self, CompileContext, FaultSpec};
use crate::probe::{self, ProbeSpec};
use crate::spec::check::{check_name, check_name_length, unknown_name, Errors};
use crate::spec::yaml::{SourceMap, SpecError};
use crate::spec::{self, Dur};
use crate::verdict::Thresholds;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Compile a parsed experiment. `file` names the source in messages.
pub fn compile(exp: &Experiment, file: &str, map: &SourceMap) -> Result<Plan, Vec<SpecError>> {
    let mut e = Errors::new(file, map);
    let duration = exp.duration.0;
    check_header(exp, &mut e);
    let target = exp
        .target
        .as_ref()
        .and_then(|t| fault::compile_target(t, &mut e));
    let thresholds = compile_sla(&exp.sla, "sla", &mut e);
    let probe_thresholds = compile_probe_slas(exp, &mut e);
    let budget = compile_budget(&exp.sla, &mut e);
    let probes = compile_probes(&exp.probes, duration, &mut e);
    let proxies = fault::proxy::compile_proxies(&exp.proxies, &mut e);
    let sections = Sections {
        run: duration,
        target: target.as_ref(),
        proxies: &proxies,
        probes: &probes,
    };
    let faults = compile_faults(&exp.faults, &sections, &mut e);
    check_overlaps(&faults, &mut e);
    let faults = faults.into_iter().map(|(_, f)| f).collect();
    check_names(exp, &mut e);
    let guardrails = compile_guardrails(&exp.guardrails, &exp.probes, &mut e);
    let steady_state = compile_steady_state(exp, &mut e);
    let (duration, faults) = after_steady_state(steady_state.as_ref(), duration, faults);
    let notify = exp
        .notify
        .as_ref()
        .and_then(|n| crate::notify::compile(n, "notify", &mut e));
    e.finish(|| Plan {
        name: exp.name.clone(),
        description: exp.description.clone(),
        source: Some(file.to_string()),
        duration,
        target,
        thresholds,
        probe_thresholds,
        budget,
        probes,
        faults,
        proxies,
        guardrails,
        steady_state,
        judge: exp.sla.judge.unwrap_or_default(),
        notify,
    })
}

/// `steady_state:` with its thresholds resolved: its own, else the SLA's, else every
/// sample must succeed.
fn compile_steady_state(exp: &Experiment, e: &mut Errors) -> Option<super::SteadyState> {
    let s = exp.steady_state.as_ref()?;
    if s.for_.0.is_zero() {
        e.at("steady_state.for", "must be longer than 0s");
    }
    Some(super::SteadyState {
        window: s.for_.0,
        availability_pct: s
            .availability
            .or(exp.sla.availability)
            .map_or(100.0, |p| p.as_f64()),
        latency_p99: s.latency_p99.or(exp.sla.latency_p99).map(|d| d.0),
    })
}

/// The steady-state window comes first: every fault moves after it and the run
/// grows by it, so the timeline written in the spec starts when it is met.
fn after_steady_state(
    steady: Option<&super::SteadyState>,
    duration: Duration,
    faults: Vec<FaultPlan>,
) -> (Duration, Vec<FaultPlan>) {
    let Some(s) = steady else {
        return (duration, faults);
    };
    let faults = faults
        .into_iter()
        .map(|f| FaultPlan {
            at: f.at + s.window,
            ..f
        })
        .collect();
    (duration + s.window, faults)
}

/// What a fault is compiled against: the sections compiled before it.
struct Sections<'a> {
    run: Duration,
    target: Option<&'a TargetPlan>,
    proxies: &'a [ProxyPlan],
    probes: &'a [ProbePlan],
}

fn check_header(exp: &Experiment, e: &mut Errors) {
    if exp.name.trim().is_empty() {
        e.at("name", "must not be empty");
    }
    check_name_length(&exp.name, "name", e);
    if exp.duration.0.is_zero() {
        e.at("duration", "must be longer than 0s");
    }
}

/// Each probe's own `sla:` block laid over the top-level one, by probe name. Keys that
/// apply to the whole run are refused there: they have no per-probe meaning.
fn compile_probe_slas(exp: &Experiment, e: &mut Errors) -> BTreeMap<String, Thresholds> {
    let mut out = BTreeMap::new();
    for (i, p) in exp.probes.iter().enumerate() {
        let Some(own) = &p.sla else { continue };
        let path = format!("probes[{i}].sla");
        for key in own.run_wide_keys() {
            e.at(
                format!("{path}.{key}"),
                "applies to the whole run, not to one probe; set it in the top-level `sla:`",
            );
        }
        let merged = exp.sla.overridden_by(own);
        out.insert(p.name.clone(), compile_sla(&merged, &path, e));
    }
    out
}

/// `path` is where `s` was written, for messages (`sla`, `probes[1].sla`).
fn compile_sla(s: &spec::Sla, path: &str, e: &mut Errors) -> Thresholds {
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
        e.at(format!("{path}.recovery_successes"), "must be at least 1");
    }
    Thresholds {
        availability_pct: s.availability,
        recovery_time: s.recovery_time.map(|d| d.0),
        recovery_successes: k.max(1),
        max_outage: s.max_outage.map(|d| d.0),
        latency,
        budget_max_spent_pct: s.error_budget.as_ref().and_then(|b| b.max_spent),
        max_disruption: s.max_disruption.map(|d| d.0),
        max_lateness: s.max_lateness.map(|d| d.0),
        rpo: s.rpo.map(|d| d.0),
        max_lost_writes: s.max_lost_writes,
    }
}

fn compile_budget(s: &spec::Sla, e: &mut Errors) -> Option<BudgetConfig> {
    let b = s.error_budget.as_ref()?;
    if b.objective == crate::percent::Percent::FULL {
        e.at(
            "sla.error_budget.objective",
            "an objective of 100% leaves no budget to spend",
        );
    }
    if b.period.0.is_zero() {
        e.at("sla.error_budget.period", "must be longer than 0s");
    }
    Some(BudgetConfig {
        objective_pct: b.objective,
        period_us: b.period.0.as_micros() as u64,
    })
}

fn compile_probes(specs: &[ProbeSpec], run: Duration, e: &mut Errors) -> Vec<ProbePlan> {
    if specs.is_empty() {
        e.at(
            "probes",
            "an experiment needs at least one probe: it is how the run measures anything",
        );
    }
    let mut names = BTreeSet::new();
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, p)| {
            if !names.insert(p.name.as_str()) {
                e.at(
                    format!("probes[{i}].name"),
                    format!("duplicate probe name `{}`", p.name),
                );
            }
            probe::compile(p, &format!("probes[{i}]"), run, e)
        })
        .collect()
}

/// Names end up in messages, reports and file names: none may be blank or too long.
/// (A probe's blankness is checked by `probe::compile`.)
fn check_names(exp: &Experiment, e: &mut Errors) {
    for (i, p) in exp.probes.iter().enumerate() {
        check_name_length(&p.name, &format!("probes[{i}].name"), e);
    }
    for (i, f) in exp.faults.iter().enumerate() {
        check_name(&f.name, &format!("faults[{i}].name"), e);
    }
    for (i, p) in exp.proxies.iter().enumerate() {
        check_name(&p.name, &format!("proxies[{i}].name"), e);
    }
}

/// Each compiled fault with the index of its spec (faults that did not compile are
/// left out, so the two differ).
fn compile_faults(specs: &[FaultSpec], s: &Sections, e: &mut Errors) -> Vec<(usize, FaultPlan)> {
    let mut names = BTreeSet::new();
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, f)| {
            if !names.insert(f.name.as_str()) {
                e.at(
                    format!("faults[{i}].name"),
                    format!("duplicate fault name `{}`", f.name),
                );
            }
            compile_fault(f, &format!("faults[{i}]"), s, e).map(|plan| (i, plan))
        })
        .collect()
}

fn compile_fault(f: &FaultSpec, path: &str, s: &Sections, e: &mut Errors) -> Option<FaultPlan> {
    check_fault_timing(f, path, s.run, e);
    let ctx = CompileContext {
        fault: &f.name,
        target: s.target,
        proxies: s.proxies,
        duration: f.duration.0,
    };
    let kind = fault::compile(f, path, &ctx, e)?;
    let effect = expected_effect(&kind, s);
    Some(FaultPlan {
        name: f.name.clone(),
        at: f.at.0,
        duration: f.duration.0,
        kind,
        effect,
    })
}

fn check_fault_timing(f: &FaultSpec, path: &str, run: Duration, e: &mut Errors) {
    if f.at.0 >= run {
        e.at(
            format!("{path}.at"),
            format!("{} is not before the end of the run ({})", f.at, Dur(run)),
        );
    } else if f.at.0 + f.duration.0 > run {
        e.at(
            format!("{path}.duration"),
            format!(
                "{} from {} ends after the run's duration {}",
                f.duration,
                f.at,
                Dur(run)
            ),
        );
    }
    if f.duration.0.is_zero() {
        e.at(format!("{path}.duration"), "must be longer than 0s");
    }
}

/// A latency fault's asked added round trip, judged on the probes that go through its
/// proxy (those whose address is the proxy's `listen`).
fn expected_effect(kind: &fault::FaultKind, s: &Sections) -> Option<Effect> {
    let (proxy, asked) = kind.added_latency()?;
    let listen = s.proxies.iter().find(|p| p.name == proxy)?.listen;
    let probes = s
        .probes
        .iter()
        .filter(|p| listen.is_some() && p.kind.address() == listen)
        .map(|p| p.name.clone())
        .collect();
    Some(Effect {
        metric: "added_latency_ms".into(),
        asked,
        probes,
    })
}

/// Two faults that change the same thing must not overlap in time.
///
/// Each fault's targets are computed once and the faults grouped by target; within a
/// group, sorted by start, a fault overlaps an earlier one exactly when it starts
/// before the latest end so far. O(n log n), so 10,000 faults validate at once.
fn check_overlaps(faults: &[(usize, FaultPlan)], e: &mut Errors) {
    let mut reported = BTreeSet::new();
    for (target, mut group) in faults_by_target(faults) {
        group.sort_by_key(|&(spec_i, f)| (f.at, spec_i));
        let mut latest: Option<&FaultPlan> = None;
        for &(spec_i, b) in &group {
            match latest {
                Some(a) if b.at < end(a) => {
                    if reported.insert((spec_i, a.name.as_str())) {
                        e.at(
                            format!("faults[{spec_i}].at"),
                            format!("`{}` overlaps `{}` on {target}: the first revert would end both; run them one after the other", b.name, a.name),
                        );
                    }
                    if end(b) > end(a) {
                        latest = Some(b);
                    }
                }
                _ => latest = Some(b),
            }
        }
    }
}

fn end(f: &FaultPlan) -> Duration {
    f.at.saturating_add(f.duration)
}

/// The faults that change each exclusive target, with their spec indices.
fn faults_by_target(faults: &[(usize, FaultPlan)]) -> BTreeMap<String, Vec<(usize, &FaultPlan)>> {
    let mut groups: BTreeMap<String, Vec<(usize, &FaultPlan)>> = BTreeMap::new();
    for (spec_i, f) in faults {
        for key in f.kind.exclusive_keys() {
            groups.entry(key).or_default().push((*spec_i, f));
        }
    }
    groups
}

/// A guardrail is either about probes (`max_outage`/`max_failures`), a Prometheus
/// query, or an alert: exactly one of the three.
fn compile_metric_guardrail(
    g: &GuardrailSpec,
    i: usize,
    e: &mut Errors,
) -> Option<crate::probe::prometheus::MetricGuardrail> {
    use crate::probe::prometheus::{compile_alert, compile_query};
    let path = format!("guardrails[{i}]");
    let probe_based = g.max_outage.is_some() || g.max_failures.is_some();
    let given = [probe_based, g.prometheus.is_some(), g.alert.is_some()];
    match given.iter().filter(|b| **b).count() {
        0 => e.at(
            &path,
            "give `max_outage` or `max_failures`, or a `prometheus` or `alert` block",
        ),
        1 => {}
        _ => e.at(
            &path,
            "one guardrail per entry: `max_outage`/`max_failures`, `prometheus` or `alert`",
        ),
    }
    if g.probe.is_some() && !probe_based {
        e.at(
            format!("{path}.probe"),
            "goes with `max_outage` or `max_failures`",
        );
    }
    match (&g.prometheus, &g.alert) {
        (Some(q), _) => compile_query(q, &format!("{path}.prometheus"), e),
        (None, Some(a)) => compile_alert(a, &format!("{path}.alert"), e),
        (None, None) => None,
    }
}

fn compile_guardrails(
    specs: &[GuardrailSpec],
    probes: &[ProbeSpec],
    e: &mut Errors,
) -> Vec<Guardrail> {
    let names: BTreeSet<&str> = probes.iter().map(|p| p.name.as_str()).collect();
    specs
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
            let metric = compile_metric_guardrail(g, i, e);
            Guardrail {
                probe: g.probe.clone(),
                max_outage: g.max_outage.map(|d| d.0),
                max_failures: g.max_failures,
                metric,
            }
        })
        .collect()
}
