//! `shakeout plan`'s look at live databases: for each `postgres` fault and probe, the
//! topology found read-only with a short timeout and the risks it carries. An
//! unreachable database is one line; the offline plan and the exit code stay as they are.

use crate::fault::postgres::{self, RiskContext};
use crate::fault::FaultKind;
use crate::plan::Plan;
use crate::probe::ProbeKind;
use std::time::Duration;

/// The `Topology` section, or `None` when the plan has no PostgreSQL fault or probe.
pub async fn describe(plan: &Plan) -> Option<String> {
    let ctx = RiskContext {
        no_loss: no_loss(plan),
    };
    let mut lines = Vec::new();
    for f in &plan.faults {
        if let FaultKind::Postgres(p) = &f.kind {
            lines.push(postgres::describe_fault(&f.name, p, ctx).await);
        }
    }
    for p in &plan.probes {
        if let ProbeKind::Postgres(pg) = &p.kind {
            lines.push(postgres::describe_probe(&p.name, &pg.endpoint, &pg.conninfo, ctx).await);
        }
    }
    (!lines.is_empty()).then(|| format!("\nTopology (read-only, found now):\n{}", lines.concat()))
}

/// Some SLA allows no lost acknowledged write.
fn no_loss(plan: &Plan) -> bool {
    std::iter::once(&plan.thresholds)
        .chain(plan.probe_thresholds.values())
        .any(|t| t.rpo == Some(Duration::ZERO) || t.max_lost_writes == Some(0))
}
