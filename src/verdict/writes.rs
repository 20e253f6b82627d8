//! `rpo` and `max_lost_writes`: one check each per write probe.

use super::Check;
use crate::analysis::writes::Writes;
use crate::analysis::Analysis;
use crate::format::{fmt_ms, format_duration};
use crate::sla::Sla;

pub fn checks(a: &Analysis, sla: &Sla) -> Vec<Check> {
    let mut out = Vec::new();
    for p in &a.probes {
        let Some(w) = &p.writes else { continue };
        let t = sla.for_probe(&p.name);
        if let Some(limit) = t.rpo {
            out.push(rpo_check(&p.name, w, limit));
        }
        if let Some(max) = t.max_lost_writes {
            out.push(lost_check(&p.name, w, max));
        }
    }
    out
}

fn unverified(w: &Writes) -> Option<String> {
    w.verify_error
        .as_ref()
        .map(|e| format!("ledger not read back ({e})"))
}

fn rpo_check(probe: &str, w: &Writes, limit: std::time::Duration) -> Check {
    let limit_ms = limit.as_secs_f64() * 1000.0;
    let value = if w.verify_error.is_some() {
        None
    } else {
        w.rpo_ms
    };
    let measured = unverified(w).unwrap_or_else(|| {
        format!(
            "{} ({} acknowledged write{} lost)",
            fmt_ms(value.unwrap_or(0.0)),
            w.lost,
            if w.lost == 1 { "" } else { "s" }
        )
    });
    // `0s` means no acknowledged write may be lost, even one lost at the very
    // instant of the fault (an RPO of 0ms).
    let pass = value.is_some_and(|v| v <= limit_ms && (limit_ms > 0.0 || w.lost == 0));
    Check {
        name: "rpo".into(),
        probe: Some(probe.to_string()),
        fault: None,
        threshold: format!("<= {}", format_duration(limit)),
        measured,
        limit: limit_ms,
        value,
        unit: "ms".into(),
        pass,
    }
}

fn lost_check(probe: &str, w: &Writes, max: u64) -> Check {
    let value = w.verify_error.is_none().then_some(w.lost as f64);
    Check {
        name: "max_lost_writes".into(),
        probe: Some(probe.to_string()),
        fault: None,
        threshold: format!("<= {max} writes"),
        measured: unverified(w).unwrap_or_else(|| format!("{} lost", w.lost)),
        limit: max as f64,
        value,
        unit: "writes".into(),
        pass: value.is_some_and(|v| v <= max as f64),
    }
}
