//! The journaled undos of the Patroni backend. Patroni keeps whatever leader the fault
//! left; a revert brings the member the fault displaced back as a streaming replica.

use super::cluster::{self, Before};
use super::member::LocalMember;
use crate::fault::postgres::node;
use crate::fault::FaultError;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum PatroniUndo {
    /// switchover, failover: wait until the old leader (which its own Patroni
    /// restarts) streams from the new one.
    PatroniAwaitRejoin {
        before: Before,
        rejoin_timeout_ms: u64,
    },
    /// kill_node: start the member's Patroni with `restart`, unless it runs, and wait
    /// until it streams from the leader.
    PatroniRestartMember {
        before: Before,
        member: LocalMember,
        restart: Vec<String>,
        /// Where the restarted Patroni's stdout and stderr go.
        log: PathBuf,
        rejoin_timeout_ms: u64,
    },
}

impl PatroniUndo {
    pub fn before(&self) -> &Before {
        match self {
            PatroniUndo::PatroniAwaitRejoin { before, .. }
            | PatroniUndo::PatroniRestartMember { before, .. } => before,
        }
    }

    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            PatroniUndo::PatroniAwaitRejoin {
                before,
                rejoin_timeout_ms,
            } => await_rejoin(before, Duration::from_millis(*rejoin_timeout_ms)).await,
            PatroniUndo::PatroniRestartMember {
                before,
                member,
                restart,
                log,
                rejoin_timeout_ms,
            } => {
                restart_member(
                    before,
                    member,
                    restart,
                    log,
                    Duration::from_millis(*rejoin_timeout_ms),
                )
                .await
            }
        }
        .map_err(FaultError::Target)
    }

    /// A journal names the processes the restart stands in for: a pid that could
    /// reach init, a group or everyone is never trusted.
    pub fn distrust(&self) -> Option<String> {
        let PatroniUndo::PatroniRestartMember { member, .. } = self else {
            return None;
        };
        [&member.patroni, &member.postmaster]
            .iter()
            .find(|p| p.pid <= 1)
            .map(|p| format!("it names pid {}, which shakeout never acts on", p.pid))
    }

    pub fn manual_fix(&self) -> String {
        match self {
            PatroniUndo::PatroniAwaitRejoin { before, .. } => format!(
                "the old leader `{}` of Patroni cluster `{}` may not have rejoined: check its Patroni log and `patronictl list`; `patronictl reinit {} {}` rebuilds it",
                before.leader, before.scope, before.scope, before.leader
            ),
            PatroniUndo::PatroniRestartMember { member, restart, .. } => format!(
                "Patroni member `{}` may be down: start it with `{}` (as uid {}), then check `patronictl list`",
                member.name,
                restart.join(" "),
                member.uid
            ),
        }
    }
}

async fn await_rejoin(before: &Before, within: Duration) -> Result<String, String> {
    let cluster = cluster::from_any(&before.apis).await?;
    if cluster.leader().is_some_and(|l| l.name == before.leader) {
        return Ok(format!("nothing to do: `{}` still leads", before.leader));
    }
    cluster::wait_replica(&before.leader, &before.apis, within).await
}

async fn restart_member(
    before: &Before,
    m: &LocalMember,
    argv: &[String],
    log: &std::path::Path,
    within: Duration,
) -> Result<String, String> {
    if node::is_same_alive(&m.patroni) && node::is_same_alive(&m.postmaster) {
        return Ok(format!(
            "nothing to do: member `{}` was never killed",
            m.name
        ));
    }
    let started = if super::api::get::<super::api::MemberStatus>(&m.api, "/patroni")
        .await
        .is_ok()
    {
        format!("`{}` already runs", m.name)
    } else {
        spawn(m, argv, log).await?
    };
    let state = cluster::wait_replica(&m.name, &before.apis, within)
        .await
        .map_err(|e| format!("{started}, but {e}; see {}", log.display()))?;
    Ok(format!("{started}; {state}"))
}

/// Start `argv` detached, as Patroni's own user when shakeout runs as root.
async fn spawn(m: &LocalMember, argv: &[String], log: &std::path::Path) -> Result<String, String> {
    let Some((program, args)) = argv.split_first() else {
        return Err("the restart command is empty".into());
    };
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .or_else(|_| std::fs::File::create("/dev/null"))
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let err = out
        .try_clone()
        .map_err(|e| format!("cannot open {}: {e}", log.display()))?;
    let mut cmd = std::process::Command::new(program);
    cmd.args(args)
        .current_dir("/")
        .stdin(std::process::Stdio::null())
        .stdout(out)
        .stderr(err);
    // Its own process group: the member must outlive this run and not get its Ctrl-C.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 && m.uid != 0 {
        std::os::unix::process::CommandExt::uid(&mut cmd, m.uid);
        std::os::unix::process::CommandExt::gid(&mut cmd, m.gid);
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("cannot run `{}`: {e}", argv.join(" ")))?;
    // A command that fails at once (typo, bad config) must not count as a revert.
    tokio::time::sleep(Duration::from_millis(300)).await;
    match child.try_wait() {
        Ok(Some(status)) => Err(format!(
            "restart command `{}` exited with {status}; see {}",
            argv.join(" "),
            log.display()
        )),
        _ => Ok(format!("restarted `{}` as process {}", m.name, child.id())),
    }
}
