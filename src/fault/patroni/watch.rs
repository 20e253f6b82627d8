//! Asked vs achieved: while the fault is applied, watch for the new leader and check
//! it: it differs from the old one, answers `pg_is_in_recovery() = false`, and writes
//! on a later timeline; how long it took, next to the bound the configuration implies.

use super::cluster::{self, Before};
use super::compile::PatroniFault;
use super::undo::PatroniUndo;
use crate::fault::FaultNote;
use std::time::{Duration, Instant};

/// What the new leader turned out to be.
struct NewLeader {
    after: Duration,
    writable: bool,
    timeline: i64,
}

pub async fn achieved(f: &PatroniFault, undo: &PatroniUndo, began: Instant) -> Vec<FaultNote> {
    let before = undo.before();
    let Some(bound_ms) = before.bound_ms else {
        // A replica killed: the leader must stay.
        let changed = cluster::from_any(&before.apis)
            .await
            .is_ok_and(|c| c.leader().is_none_or(|l| l.name != before.leader));
        return vec![check("leader_changed", 0.0, f64::from(u8::from(changed)))];
    };
    let until = began + f.timeout.max(Duration::from_millis(2 * bound_ms));
    let found = new_leader(f, before, began, until).await;
    let mut out = vec![check(
        "leader_changed",
        1.0,
        f64::from(u8::from(found.is_some())),
    )];
    if let Some(n) = found {
        out.push(check(
            "new_leader_ms",
            bound_ms as f64,
            n.after.as_secs_f64() * 1000.0,
        ));
        out.push(check(
            "new_leader_writable",
            1.0,
            f64::from(u8::from(n.writable)),
        ));
        out.push(check(
            "timeline",
            (before.timeline + 1) as f64,
            n.timeline as f64,
        ));
    }
    out
}

fn check(metric: &str, asked: f64, achieved: f64) -> FaultNote {
    FaultNote::Check {
        metric: metric.to_string(),
        asked: Some(asked),
        achieved,
    }
}

/// Poll until a member other than the old leader holds the lock and its PostgreSQL
/// answers as a primary (or `until` passes: then the last leader seen, if any).
async fn new_leader(
    f: &PatroniFault,
    before: &Before,
    began: Instant,
    until: Instant,
) -> Option<NewLeader> {
    let mut seen = None;
    while Instant::now() < until {
        if let Ok(c) = cluster::from_any(&before.apis).await {
            if let Some(l) = c.leader().filter(|l| l.name != before.leader) {
                let after = began.elapsed();
                if let Ok((recovering, timeline)) = cluster::pg_state(&f.conninfo, l).await {
                    let n = NewLeader {
                        after,
                        writable: !recovering,
                        timeline,
                    };
                    if n.writable {
                        return Some(n);
                    }
                    seen = Some(n);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    seen
}
