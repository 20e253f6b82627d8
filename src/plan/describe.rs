//! `shakeout plan`: the plan in words, one section per step. Backends give their own
//! lines (`TargetPlan::describe`, `FaultKind::describe`, `ProbeKind::success`, ...).

use super::{FaultPlan, Plan};
use crate::fault::proxy::describe_proxies;
use crate::sla::Thresholds;
use crate::spec::units::format_duration as d;
use std::fmt::Write;
use std::time::Duration;

/// The plan in words: what is injected when, on which targets, what each probe does,
/// and which SLA checks will be judged. Used by `shakeout plan`.
pub fn describe(plan: &Plan) -> String {
    let mut o = String::new();
    header(&mut o, plan);
    target(&mut o, plan);
    proxies(&mut o, plan);
    probes(&mut o, plan);
    timeline(&mut o, plan);
    guardrails(&mut o, plan);
    sla_checks(&mut o, plan);
    o
}

fn header(o: &mut String, plan: &Plan) {
    let source = plan
        .source
        .as_ref()
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let _ = writeln!(o, "experiment `{}`{source}", plan.name);
    if let Some(desc) = &plan.description {
        let _ = writeln!(o, "  {desc}");
    }
    let _ = writeln!(o, "duration {}", d(plan.duration));
}

fn target(o: &mut String, plan: &Plan) {
    let _ = writeln!(o, "\ntarget:");
    match &plan.target {
        None => {
            let _ = writeln!(o, "  none (probe-only: nothing is started or changed)");
        }
        Some(t) => {
            let _ = writeln!(o, "  {}", t.describe());
        }
    }
}

fn proxies(o: &mut String, plan: &Plan) {
    if plan.proxies.is_empty() {
        return;
    }
    let _ = writeln!(o, "\nproxies (started before the probes):");
    for line in describe_proxies(&plan.proxies) {
        let _ = writeln!(o, "  {line}");
    }
}

fn probes(o: &mut String, plan: &Plan) {
    let _ = writeln!(
        o,
        "\nprobes (open loop: sample n is sent at n × interval, whatever happened to n-1):"
    );
    for p in &plan.probes {
        let samples = plan.duration.as_micros() / p.interval.as_micros().max(1);
        let _ = writeln!(
            o,
            "  {}: {} {} every {}, timeout {}, {} (~{samples} samples)",
            p.name,
            p.kind.kind_name(),
            p.kind.target(),
            d(p.interval),
            d(p.timeout),
            p.kind.success()
        );
    }
}

fn timeline(o: &mut String, plan: &Plan) {
    let _ = writeln!(o, "\ntimeline:");
    // (time, order at that time: reverts first, text)
    let mut events: Vec<(Duration, u8, String)> = Vec::new();
    for f in &plan.faults {
        events.push((f.at, 1, inject_line(f)));
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
}

fn inject_line(f: &FaultPlan) -> String {
    let effect = match &f.effect {
        Some(e) if e.probes.is_empty() => {
            "; its effect is not measured: no probe goes through that proxy".to_string()
        }
        Some(e) => format!(
            "; asked +{} round trip, measured by {}",
            d(Duration::from_secs_f64(e.asked / 1000.0)),
            e.probes.join(", ")
        ),
        None => String::new(),
    };
    format!(
        "inject `{}` [{}]: {}{effect}",
        f.name,
        f.kind.kind_name(),
        f.kind.describe()
    )
}

fn guardrails(o: &mut String, plan: &Plan) {
    for g in &plan.guardrails {
        if let Some(m) = &g.metric {
            let _ = writeln!(o, "  guardrail: abort (and revert) when {}", m.describe());
            continue;
        }
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
}

fn sla_checks(o: &mut String, plan: &Plan) {
    let _ = writeln!(o, "\nSLA checks (judged after the run):");
    let any = per_probe_checks(o, plan)
        | recovery_checks(o, plan)
        | budget_check(o, plan)
        | write_checks(o, plan);
    if !any {
        let _ = writeln!(o, "  none: the run reports figures but every run passes");
    }
}

/// The probes judged by each value of one threshold, in probe order: every probe
/// holds the top-level value unless its own `sla:` block changed it.
fn groups<'a, T: PartialEq>(
    plan: &'a Plan,
    probes: impl Iterator<Item = &'a str>,
    value: impl Fn(&Thresholds) -> Option<T>,
) -> Vec<(T, Vec<&'a str>)> {
    let mut out: Vec<(T, Vec<&str>)> = Vec::new();
    for name in probes {
        let t = plan.probe_thresholds.get(name).unwrap_or(&plan.thresholds);
        let Some(v) = value(t) else { continue };
        match out.iter_mut().find(|(g, _)| *g == v) {
            Some((_, names)) => names.push(name),
            None => out.push((v, vec![name])),
        }
    }
    out
}

/// `each probe (a, b)` when the group is all of `of`, else `a, b`.
fn who(names: &[&str], of: usize) -> String {
    if names.len() == of {
        format!("each probe ({})", names.join(", "))
    } else {
        names.join(", ")
    }
}

fn probe_names(plan: &Plan) -> impl Iterator<Item = &str> {
    plan.probes.iter().map(|p| p.name.as_str())
}

/// `rpo` and `max_lost_writes`, judged on write probes only; true when there is one.
fn write_checks(o: &mut String, plan: &Plan) -> bool {
    let writers: Vec<&str> = plan
        .probes
        .iter()
        .filter(|p| p.kind.is_write())
        .map(|p| p.name.as_str())
        .collect();
    let mut any = false;
    if writers.is_empty() {
        let t = &plan.thresholds;
        let none = "no write probe: nothing to judge";
        if let Some(r) = t.rpo {
            let _ = writeln!(o, "  rpo <= {} for each write probe ({none})", d(r));
        }
        if let Some(m) = t.max_lost_writes {
            let _ = writeln!(
                o,
                "  lost acknowledged writes <= {m} for each write probe ({none})"
            );
        }
        return t.rpo.is_some() || t.max_lost_writes.is_some();
    }
    let of = writers.len();
    let each = |names: &[&str]| {
        if names.len() == of {
            format!("each write probe ({})", names.join(", "))
        } else {
            names.join(", ")
        }
    };
    for (r, names) in groups(plan, writers.iter().copied(), |t| t.rpo) {
        any = true;
        let _ = writeln!(o, "  rpo <= {} for {}", d(r), each(&names));
    }
    for (m, names) in groups(plan, writers.iter().copied(), |t| t.max_lost_writes) {
        any = true;
        let _ = writeln!(o, "  lost acknowledged writes <= {m} for {}", each(&names));
    }
    any
}

/// Availability, latency and outage checks; true when there is one.
fn per_probe_checks(o: &mut String, plan: &Plan) -> bool {
    let of = plan.probes.len();
    let mut any = false;
    for (a, names) in groups(plan, probe_names(plan), |t| t.availability_pct) {
        any = true;
        let _ = writeln!(o, "  availability >= {a} for {}", who(&names, of));
    }
    for stat in LATENCY_STATS {
        let limit = |t: &Thresholds| t.latency.iter().find(|(s, _)| s == stat).map(|l| l.1);
        for (limit, names) in groups(plan, probe_names(plan), limit) {
            any = true;
            let _ = writeln!(
                o,
                "  latency {stat} <= {} for {}, successful samples",
                d(limit),
                who(&names, of)
            );
        }
    }
    for (m, names) in groups(plan, probe_names(plan), |t| t.max_outage) {
        any = true;
        let _ = writeln!(o, "  longest outage <= {} for {}", d(m), who(&names, of));
    }
    let k = plan.thresholds.recovery_successes;
    for (m, names) in groups(plan, probe_names(plan), |t| t.max_disruption) {
        any = true;
        let _ = writeln!(
            o,
            "  longest disruption <= {} for {}, ended by {k} consecutive successes",
            d(m),
            who(&names, of)
        );
    }
    if let Some(m) = plan.thresholds.max_lateness {
        any = true;
        let _ = writeln!(o, "  harness send lateness <= {} over the whole run", d(m));
    }
    any
}

/// The latency statistics an SLA may bound, in the order the plan lists them.
const LATENCY_STATS: [&str; 6] = ["p50", "p90", "p95", "p99", "p999", "max"];

fn recovery_checks(o: &mut String, plan: &Plan) -> bool {
    let t = &plan.thresholds;
    let Some(r) = t.recovery_time else {
        return false;
    };
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
    true
}

/// The error budget's size, and its check when `max_spent` is given (only then true).
fn budget_check(o: &mut String, plan: &Plan) -> bool {
    let t = &plan.thresholds;
    let Some(b) = &plan.budget else {
        return false;
    };
    let allowed = Duration::from_micros(b.allowed_us());
    let spent = t
        .budget_max_spent_pct
        .map(|m| format!("; check: this run spends <= {m} of it"))
        .unwrap_or_default();
    let _ = writeln!(
        o,
        "  error budget: {} over {} allows {} of downtime{spent}",
        b.objective_pct,
        d(Duration::from_micros(b.period_us)),
        d(allowed)
    );
    t.budget_max_spent_pct.is_some()
}
