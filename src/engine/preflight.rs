//! Preflight: before t=0, every fault's target is resolved and checked and every
//! probe's target answers once. Read-only (see each backend's `preflight`). `run`
//! refuses to start (exit 3, nothing journaled or injected) when a check fails;
//! `plan --preflight` prints every check's result.

use super::scheduler::ScheduledProbe;
use crate::fault::{self, PreflightContext};
use crate::plan::Plan;
use crate::probe::Probe;
use std::fmt::Write;
use std::net::SocketAddr;

/// One check: what was checked and what it found (`Err`: what is missing).
#[derive(Debug, Clone, PartialEq)]
pub struct Check {
    pub what: String,
    pub result: Result<String, String>,
}

/// Every fault's target, in plan order.
pub async fn faults(plan: &Plan) -> Vec<Check> {
    let ctx = PreflightContext {
        proxies: &plan.proxies,
    };
    let mut out = Vec::new();
    for f in &plan.faults {
        out.push(Check {
            what: format!("fault `{}` ({})", f.name, f.kind.kind_name()),
            result: fault::preflight(&f.kind, &ctx)
                .await
                .map_err(|e| e.to_string()),
        });
    }
    out
}

/// Every probe answers once; all probes at the same time, so one slow target does
/// not hold up the others' checks.
pub async fn probes(probes: &[ScheduledProbe]) -> Vec<Check> {
    let handles: Vec<_> = probes
        .iter()
        .map(|p| {
            let (probe, interval) = (std::sync::Arc::clone(&p.probe), p.interval);
            tokio::spawn(async move { probe.preflight(interval).await })
        })
        .collect();
    let mut out = Vec::new();
    for (p, h) in probes.iter().zip(handles) {
        out.push(Check {
            what: format!("probe `{}`", p.name),
            result: h
                .await
                .unwrap_or_else(|e| Err(format!("preflight task failed: {e}"))),
        });
    }
    out
}

/// The failed checks as one error message, or `None` when all passed.
pub fn failures(checks: &[Check]) -> Option<String> {
    let failed: Vec<String> = checks
        .iter()
        .filter_map(|c| c.result.as_ref().err().map(|e| format!("{}: {e}", c.what)))
        .collect();
    (!failed.is_empty()).then(|| {
        format!(
            "preflight failed, nothing was changed: {}",
            failed.join("; ")
        )
    })
}

/// `plan --preflight`: the faults' checks and the probes', without starting the run's
/// own demo or proxies; a probe aimed at one of those is skipped with the reason.
pub async fn read_only(plan: &Plan) -> Result<Vec<Check>, crate::probe::ProbeError> {
    let mut checks = faults(plan).await;
    let started = started_by_run(plan);
    let mut to_probe = Vec::new();
    for p in &plan.probes {
        if p.kind.address().is_some_and(|a| started.contains(&a)) {
            checks.push(Check {
                what: format!("probe `{}`", p.name),
                result: Ok("skipped: its target is started by the run".into()),
            });
            continue;
        }
        to_probe.push(ScheduledProbe {
            name: p.name.as_str().into(),
            probe: std::sync::Arc::new(Probe::build(p)?),
            interval: p.interval,
            timeout: p.timeout,
        });
    }
    checks.extend(probes(&to_probe).await);
    Ok(checks)
}

/// Addresses the run itself listens on: the embedded demo and the built-in proxies.
fn started_by_run(plan: &Plan) -> Vec<SocketAddr> {
    let demo = plan
        .target
        .as_ref()
        .and_then(|t| t.demo())
        .filter(|d| !d.external)
        .map(|d| d.listen);
    let proxies = plan
        .proxies
        .iter()
        .filter(|p| p.api.is_none())
        .filter_map(|p| p.listen);
    demo.into_iter().chain(proxies).collect()
}

/// The checks in words, one line each.
pub fn describe(checks: &[Check]) -> String {
    let mut o = String::from("\nPreflight (read-only):\n");
    for c in checks {
        let _ = match &c.result {
            Ok(found) => writeln!(o, "  ok    {}: {found}", c.what),
            Err(missing) => writeln!(o, "  FAIL  {}: {missing}", c.what),
        };
    }
    if checks.is_empty() {
        o.push_str("  nothing to check\n");
    }
    o
}
