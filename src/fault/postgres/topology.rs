//! What `shakeout plan` finds on a live cluster, read-only with a short timeout: who is
//! primary, which standbys stream from it (synchronous or not, how far behind), and
//! the risks visible from there.

use super::compile::{PgNodePlan, PostgresFault};
use super::node;
use std::fmt::Write;
use std::time::Duration;

/// Connecting and reading must not hold `plan` up for long.
const PLAN_TIMEOUT: Duration = Duration::from_secs(2);

/// One row of the primary's `pg_stat_replication`.
#[derive(Debug, Clone, PartialEq)]
pub struct StandbyRow {
    pub application_name: String,
    pub client_addr: Option<String>,
    pub state: String,
    pub sync_state: String,
    pub replay_lag_ms: Option<f64>,
    pub replay_lag_bytes: Option<i64>,
}

/// What one server said about itself and its standbys.
#[derive(Debug, Clone, PartialEq)]
pub struct Topology {
    pub in_recovery: bool,
    pub standbys: Vec<StandbyRow>,
}

/// What the spec says, for judging risks.
#[derive(Debug, Clone, Copy, Default)]
pub struct RiskContext {
    /// An SLA asks that no acknowledged write is lost (`rpo: 0s` or `max_lost_writes: 0`).
    pub no_loss: bool,
}

/// Read the topology behind `conninfo` (read-only queries only).
pub async fn discover(conninfo: &str) -> Result<Topology, String> {
    let client = node::connect(conninfo, PLAN_TIMEOUT).await?;
    let read = async {
        let in_recovery: bool = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .and_then(|r| r.try_get(0))
            .map_err(|e| node::reason(&e))?;
        let rows = client
            .query(
                "SELECT application_name, host(client_addr), state, sync_state, \
                 (EXTRACT(epoch FROM replay_lag) * 1000)::float8, \
                 CASE WHEN pg_is_in_recovery() THEN NULL \
                      ELSE pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::bigint END \
                 FROM pg_stat_replication ORDER BY application_name",
                &[],
            )
            .await
            .map_err(|e| node::reason(&e))?;
        let standbys = rows
            .iter()
            .map(|r| StandbyRow {
                application_name: r.try_get(0).unwrap_or_default(),
                client_addr: r.try_get(1).unwrap_or(None),
                state: r
                    .try_get::<_, Option<String>>(2)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                sync_state: r
                    .try_get::<_, Option<String>>(3)
                    .ok()
                    .flatten()
                    .unwrap_or_default(),
                replay_lag_ms: r.try_get(4).unwrap_or(None),
                replay_lag_bytes: r.try_get(5).unwrap_or(None),
            })
            .collect();
        Ok::<_, String>(Topology {
            in_recovery,
            standbys,
        })
    };
    tokio::time::timeout(PLAN_TIMEOUT, read)
        .await
        .map_err(|_| format!("no answer within {PLAN_TIMEOUT:?}"))?
}

impl StandbyRow {
    fn describe(&self) -> String {
        let lag = match (self.replay_lag_bytes, self.replay_lag_ms) {
            (Some(b), Some(ms)) => format!("replay lag {b} B, {}", fmt_ms(ms)),
            (Some(b), None) => format!("replay lag {b} B"),
            (None, Some(ms)) => format!("replay lag {}", fmt_ms(ms)),
            (None, None) => "replay lag unknown".into(),
        };
        format!(
            "standby `{}` from {}: {}, {}, {lag}",
            self.application_name,
            self.client_addr.as_deref().unwrap_or("a local socket"),
            or_unknown(&self.state),
            or_unknown(&self.sync_state),
        )
    }
}

fn or_unknown(s: &str) -> &str {
    if s.is_empty() {
        "unknown"
    } else {
        s
    }
}

fn fmt_ms(ms: f64) -> String {
    crate::spec::units::format_duration(Duration::from_secs_f64(ms.max(0.0) / 1000.0))
}

impl Topology {
    /// The risks this topology carries for the spec.
    pub fn risks(&self, ctx: RiskContext) -> Vec<String> {
        let mut out = Vec::new();
        if self.in_recovery {
            return out;
        }
        let streaming: Vec<&StandbyRow> = self
            .standbys
            .iter()
            .filter(|s| s.state == "streaming")
            .collect();
        if streaming.is_empty() {
            out.push("no standby streams from the primary: a failover has nowhere to go".into());
            return out;
        }
        let synchronous = streaming
            .iter()
            .any(|s| s.sync_state == "sync" || s.sync_state == "quorum");
        if ctx.no_loss && !synchronous {
            out.push(
                "async replication under an SLA that allows no lost write (`rpo: 0s`): a failover can lose acknowledged writes"
                    .into(),
            );
        }
        if streaming.len() == 1 {
            out.push("a single standby: once it is promoted nothing replicates the new primary until the old one rejoins".into());
        }
        out
    }
}

/// The `plan` lines for one `postgres:` fault: its primary's topology and risks, or one
/// line saying why it is unknown.
pub async fn describe_fault(name: &str, f: &PostgresFault, ctx: RiskContext) -> String {
    let mut o = String::new();
    let head = format!("fault `{name}`: primary {}", where_is(&f.primary));
    let mut risks = Vec::new();
    match discover(&f.primary.conninfo).await {
        Err(e) => {
            let _ = writeln!(o, "  {head}: unreachable ({e}); topology unknown");
        }
        Ok(t) if t.in_recovery => {
            let _ = writeln!(o, "  {head}: is in recovery (a standby, not a primary)");
        }
        Ok(t) => {
            let _ = writeln!(o, "  {head}: a primary, {} standby(s)", t.standbys.len());
            for s in &t.standbys {
                let _ = writeln!(o, "    - {}", s.describe());
            }
            risks = t.risks(ctx);
        }
    }
    // Zones come from the spec: this risk shows even when the cluster does not answer.
    if let (Some(p), Some(s)) = (&f.primary.zone, &f.standby.zone) {
        if p == s {
            risks.push(format!(
                "the standby {} is in the primary's zone `{p}`: losing the zone loses both",
                f.standby.data_dir.display()
            ));
        }
    }
    for r in risks {
        let _ = writeln!(o, "    warning: {r}");
    }
    o
}

/// The `plan` lines for a `postgres` probe's target.
pub async fn describe_probe(
    name: &str,
    endpoint: &str,
    conninfo: &str,
    ctx: RiskContext,
) -> String {
    let mut o = String::new();
    match discover(conninfo).await {
        Err(e) => {
            let _ = writeln!(
                o,
                "  probe `{name}`: {endpoint} unreachable ({e}); topology unknown"
            );
        }
        Ok(t) if t.in_recovery => {
            let _ = writeln!(
                o,
                "  probe `{name}`: {endpoint} answers as a standby (in recovery)"
            );
        }
        Ok(t) => {
            let _ = writeln!(
                o,
                "  probe `{name}`: {endpoint} answers as a primary with {} standby(s)",
                t.standbys.len()
            );
            for s in &t.standbys {
                let _ = writeln!(o, "    - {}", s.describe());
            }
            for r in t.risks(ctx) {
                let _ = writeln!(o, "    warning: {r}");
            }
        }
    }
    o
}

fn where_is(n: &PgNodePlan) -> String {
    match &n.zone {
        Some(z) => format!("{} (zone `{z}`)", n.data_dir.display()),
        None => n.data_dir.display().to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(state: &str, sync: &str) -> StandbyRow {
        StandbyRow {
            application_name: "b".into(),
            client_addr: Some("127.0.0.1".into()),
            state: state.into(),
            sync_state: sync.into(),
            replay_lag_ms: Some(1.5),
            replay_lag_bytes: Some(0),
        }
    }

    #[test]
    fn async_under_no_loss_and_a_single_standby_are_risks() {
        let t = Topology {
            in_recovery: false,
            standbys: vec![row("streaming", "async")],
        };
        let risks = t.risks(RiskContext { no_loss: true });
        assert_eq!(risks.len(), 2, "{risks:?}");
        assert!(risks[0].contains("async replication"));
        assert!(risks[1].contains("a single standby"));
        assert!(t.risks(RiskContext { no_loss: false }).len() == 1);
    }

    #[test]
    fn two_sync_standbys_carry_no_risk() {
        let t = Topology {
            in_recovery: false,
            standbys: vec![row("streaming", "sync"), row("streaming", "potential")],
        };
        assert!(t.risks(RiskContext { no_loss: true }).is_empty());
        let none = Topology {
            in_recovery: false,
            standbys: vec![row("catchup", "async")],
        };
        assert!(none.risks(RiskContext::default())[0].contains("no standby streams"));
    }
}
