//! Pure checks of a `postgres:` fault; its `plan` text and exclusive-target keys.

use super::spec::{PostgresAction, PostgresFaultSpec, PostgresNodeSpec};
use crate::spec::check::Errors;
use serde::Serialize;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, Clone, Serialize)]
pub struct PostgresFault {
    pub primary: PgNodePlan,
    pub standby: PgNodePlan,
    pub action: PostgresPlanAction,
}

#[derive(Debug, Clone, Serialize)]
pub struct PgNodePlan {
    pub data_dir: PathBuf,
    /// May hold a password: never printed.
    #[serde(skip)]
    pub conninfo: String,
    pub zone: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub enum PostgresPlanAction {
    KillPrimary {
        promote_after: Duration,
        rejoin: bool,
    },
    StallReplication,
    Promote,
}

/// Check a `postgres:` fault at `path`.
pub fn compile(s: &PostgresFaultSpec, path: &str, e: &mut Errors) -> Option<PostgresFault> {
    let primary = node(&s.primary, &format!("{path}.primary"), e);
    let standby = node(&s.standby, &format!("{path}.standby"), e);
    if s.primary.data_dir == s.standby.data_dir {
        e.at(
            format!("{path}.standby.data_dir"),
            "is the primary's data_dir; name two different clusters",
        );
    }
    let action = action(s, path, e)?;
    Some(PostgresFault {
        primary: primary?,
        standby: standby?,
        action,
    })
}

fn action(s: &PostgresFaultSpec, path: &str, e: &mut Errors) -> Option<PostgresPlanAction> {
    let only_kill = |e: &mut Errors, key: &str, given: bool| {
        if given && s.action != PostgresAction::KillPrimary {
            e.at(format!("{path}.{key}"), "only for `action: kill_primary`");
        }
    };
    only_kill(e, "promote_after", s.promote_after.is_some());
    only_kill(e, "rejoin", s.rejoin.is_some());
    if s.allow_split_brain.is_some() && s.action != PostgresAction::Promote {
        e.at(
            format!("{path}.allow_split_brain"),
            "only for `action: promote`",
        );
    }
    match s.action {
        PostgresAction::KillPrimary => Some(PostgresPlanAction::KillPrimary {
            promote_after: s.promote_after.map_or(Duration::ZERO, |d| d.0),
            rejoin: s.rejoin.unwrap_or(true),
        }),
        PostgresAction::StallReplication => Some(PostgresPlanAction::StallReplication),
        PostgresAction::Promote if s.allow_split_brain == Some(true) => {
            Some(PostgresPlanAction::Promote)
        }
        PostgresAction::Promote => {
            e.at(
                format!("{path}.action"),
                "`promote` makes two primaries (split brain); add `allow_split_brain: true` to run this drill",
            );
            None
        }
    }
}

fn node(n: &PostgresNodeSpec, path: &str, e: &mut Errors) -> Option<PgNodePlan> {
    let mut ok = true;
    if !n.data_dir.is_absolute() {
        e.at(format!("{path}.data_dir"), "must be an absolute path");
        ok = false;
    }
    match tokio_postgres::Config::from_str(&n.conninfo) {
        Ok(c) if c.get_hosts().is_empty() => {
            e.at(
                format!("{path}.conninfo"),
                "names no host (give `host=...`)",
            );
            ok = false;
        }
        Ok(_) => {}
        Err(err) => {
            e.at(
                format!("{path}.conninfo"),
                format!("not a valid conninfo: {err}"),
            );
            ok = false;
        }
    }
    ok.then(|| PgNodePlan {
        data_dir: n.data_dir.clone(),
        conninfo: n.conninfo.clone(),
        zone: n.zone.clone(),
    })
}

impl PostgresFault {
    pub fn describe(&self) -> String {
        let (p, s) = (
            self.primary.data_dir.display(),
            self.standby.data_dir.display(),
        );
        match &self.action {
            PostgresPlanAction::KillPrimary { promote_after, rejoin } => format!(
                "kill the PostgreSQL primary {p} (SIGKILL), promote the standby {s} after {}; revert: {}",
                crate::spec::units::format_duration(*promote_after),
                if *rejoin {
                    "rejoin the old primary as a standby (pg_rewind, else pg_basebackup)"
                } else {
                    "none (rejoin: false leaves the old primary down)"
                }
            ),
            PostgresPlanAction::StallReplication => format!(
                "stall replication from the PostgreSQL primary {p} (SIGSTOP its walsenders; revert SIGCONT)"
            ),
            PostgresPlanAction::Promote => format!(
                "promote the PostgreSQL standby {s} while the primary {p} lives (split brain); revert: rejoin it as a standby"
            ),
        }
    }

    /// A stall and a kill of one pair may overlap (the classic async loss); two faults
    /// that change who is primary, or two stalls, may not.
    pub fn exclusive_keys(&self) -> Vec<String> {
        let p = self.primary.data_dir.display();
        match self.action {
            PostgresPlanAction::StallReplication => {
                vec![format!("replication from PostgreSQL {p}")]
            }
            PostgresPlanAction::KillPrimary { .. } | PostgresPlanAction::Promote => {
                vec![format!("PostgreSQL primary {p}")]
            }
        }
    }
}
