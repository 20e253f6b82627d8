//! The journaled undos of the PostgreSQL backend.

use super::node::{self, PgNode, PgProc};
use super::rejoin;
use crate::fault::{FaultError, Reverted};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PostgresUndo {
    /// Leave one primary (`source`) and make `node` its standby again.
    PostgresRejoin {
        node: PgNode,
        source: PgNode,
        /// kill_primary: the postmaster it kills (alive after the revert = never killed).
        #[serde(default)]
        killed: Option<PgProc>,
        /// pg_rewind is possible (wal_log_hints or data checksums on the node).
        rewind: bool,
        /// `rejoin: false`: leave the old primary down.
        rejoin: bool,
    },
    /// SIGCONT the walsenders a stall stopped.
    PostgresResumeWalsenders {
        primary: PathBuf,
        walsenders: Vec<PgProc>,
    },
}

impl PostgresUndo {
    pub async fn apply(&self) -> Result<String, FaultError> {
        self.revert().await.map(|r| r.note)
    }

    /// [`apply`](Self::apply), saying apart what it left for a person (`rejoin: false`).
    pub async fn revert(&self) -> Result<Reverted, FaultError> {
        match self {
            PostgresUndo::PostgresRejoin {
                node,
                source,
                killed,
                rewind,
                rejoin: false,
            } if !killed.as_ref().is_some_and(node::is_same_alive) => {
                left_down(node, source, *rewind)
                    .await
                    .map_err(FaultError::Target)
            }
            other => other.revert_fully().await.map(Reverted::done),
        }
    }

    async fn revert_fully(&self) -> Result<String, FaultError> {
        match self {
            PostgresUndo::PostgresRejoin {
                node,
                source,
                killed,
                rewind,
                rejoin,
            } => apply_rejoin(node, source, killed.as_ref(), *rewind, *rejoin)
                .await
                .map_err(FaultError::Target),
            PostgresUndo::PostgresResumeWalsenders { walsenders, .. } => {
                let resumed = walsenders
                    .iter()
                    .filter(|p| node::signal(p, libc::SIGCONT))
                    .count();
                Ok(match resumed {
                    0 => "nothing to do: no stopped walsender is left".into(),
                    n => format!("resumed {n} walsender(s)"),
                })
            }
        }
    }

    pub fn manual_fix(&self) -> String {
        match self {
            PostgresUndo::PostgresRejoin { node, source, .. } => format!(
                "{} may be down or a second primary: stop it, then as its owner run `pg_rewind -D {} --source-server='{}' -R` (or a fresh `pg_basebackup -R`) and `pg_ctl start -D {}`",
                node.data_dir.display(),
                node.data_dir.display(),
                redact(&source.conninfo),
                node.data_dir.display()
            ),
            PostgresUndo::PostgresResumeWalsenders {
                primary,
                walsenders,
            } => format!(
                "the walsenders of {} may still be stopped: `kill -CONT {}`",
                primary.display(),
                walsenders
                    .iter()
                    .map(|p| p.pid.to_string())
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        }
    }
}

/// A conninfo without its password, for messages.
fn redact(conninfo: &str) -> String {
    conninfo
        .split_whitespace()
        .filter(|kv| !kv.starts_with("password="))
        .collect::<Vec<_>>()
        .join(" ")
}

async fn apply_rejoin(
    n: &PgNode,
    source: &PgNode,
    killed: Option<&PgProc>,
    rewind: bool,
    rejoin_wanted: bool,
) -> Result<String, String> {
    if killed.is_some_and(node::is_same_alive) && node::in_recovery(&source.conninfo).await? {
        return Ok("nothing to do: the primary was never killed".into());
    }
    let source_is_primary = !node::in_recovery(&source.conninfo).await?;
    if !source_is_primary {
        // Killed, never promoted: the old primary is still the only primary.
        if node::postmaster(&n.data_dir).is_ok() {
            return Ok(format!("nothing to do: {} runs", n.data_dir.display()));
        }
        rejoin::start(n).await?;
        rejoin::wait_role(n, false, std::time::Duration::from_secs(60)).await?;
        return Ok(format!(
            "restarted {} (the standby was never promoted)",
            n.data_dir.display()
        ));
    }
    if !rejoin_wanted {
        return Ok(rejoin_steps(n, source));
    }
    rejoin::rejoin(n, source, rewind).await
}

/// `rejoin: false` after a kill: the standby is the one primary (promoted now if it was
/// not yet), the old primary stays down, and the report says how to rejoin it.
async fn left_down(n: &PgNode, source: &PgNode, rewind: bool) -> Result<Reverted, String> {
    if node::postmaster(&n.data_dir).is_ok() {
        // It runs again (someone restarted it): make it a standby like a full revert.
        return apply_rejoin(n, source, None, rewind, true)
            .await
            .map(Reverted::done);
    }
    if node::in_recovery(&source.conninfo).await? {
        // Killed, never promoted: restart the old primary, nothing is left behind.
        return apply_rejoin(n, source, None, rewind, true)
            .await
            .map(Reverted::done);
    }
    let steps = rejoin_steps(n, source);
    Ok(Reverted {
        note: steps.clone(),
        left_behind: Some(steps),
    })
}

fn rejoin_steps(n: &PgNode, source: &PgNode) -> String {
    format!(
        "left the old primary {} down as asked (rejoin: false); {} is the primary. To rejoin it: as its owner `pg_rewind -D {} --source-server='{}' -R` (or a fresh `pg_basebackup -R`), then `pg_ctl start -D {}`",
        n.data_dir.display(),
        source.data_dir.display(),
        n.data_dir.display(),
        redact(&source.conninfo),
        n.data_dir.display()
    )
}
