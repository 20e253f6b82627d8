//! `preflight` (reads the cluster: is it Patroni, who leads, do the named members
//! exist), `prepare` (the same reads, plus the killed member's processes; changes
//! nothing) and `inject` (returns once the fault took effect).

use super::api::{self, Cluster, DcsConfig, Member, MemberStatus};
use super::cluster::{self, Before};
use super::compile::{PatroniFault, PatroniPlanAction};
use super::member::{self, LocalMember};
use super::undo::PatroniUndo;
use crate::fault::postgres::node;
use crate::fault::{FaultContext, FaultError};
use std::time::{Duration, Instant};

/// The cluster as preflight and prepare read it.
struct Survey {
    status: MemberStatus,
    cluster: Cluster,
    config: DcsConfig,
    leader: Member,
    /// The leader's (pg_is_in_recovery(), timeline).
    timeline: i64,
}

fn target(e: impl std::fmt::Display) -> FaultError {
    FaultError::Target(e.to_string())
}

async fn survey(f: &PatroniFault) -> Result<Survey, FaultError> {
    let url = &f.url;
    let status: MemberStatus = api::get(url, "/patroni").await.map_err(|e| {
        target(format!(
            "{url} does not answer like Patroni's REST API (GET /patroni: {e})"
        ))
    })?;
    let cluster: Cluster = api::get(url, "/cluster").await.map_err(|e| {
        target(format!(
            "{url} does not answer like Patroni's REST API (GET /cluster: {e})"
        ))
    })?;
    let config: DcsConfig = api::get(url, "/config").await.map_err(|e| {
        target(format!(
            "Patroni at {url}: cannot read its configuration (GET /config: {e})"
        ))
    })?;
    let leader = cluster.leader().cloned().ok_or_else(|| {
        target(format!(
            "Patroni cluster `{}` at {url} has no leader",
            status.patroni.scope
        ))
    })?;
    check_names(f, &cluster, &leader)?;
    let (recovering, timeline) = cluster::pg_state(&f.conninfo, &leader)
        .await
        .map_err(|e| target(format!("leader `{}`: PostgreSQL: {e}", leader.name)))?;
    if recovering {
        return Err(target(format!(
            "leader `{}` answers pg_is_in_recovery() = true: it is not a primary",
            leader.name
        )));
    }
    Ok(Survey {
        status,
        cluster,
        config,
        leader,
        timeline,
    })
}

/// The candidate and the member the spec names exist, and a candidate is not the leader.
fn check_names(f: &PatroniFault, c: &Cluster, leader: &Member) -> Result<(), FaultError> {
    let (name, what) = match &f.action {
        PatroniPlanAction::Switchover { candidate: Some(n) }
        | PatroniPlanAction::Failover { candidate: n } => (n, "candidate"),
        PatroniPlanAction::KillNode {
            member: Some(n), ..
        } => (n, "member"),
        _ => return Ok(()),
    };
    if c.member(name).is_none() {
        return Err(target(format!(
            "{what} `{name}` is not a member of the Patroni cluster at {} (members: {})",
            f.url,
            c.names()
        )));
    }
    if what == "candidate" && *name == leader.name {
        return Err(target(format!("candidate `{name}` is already the leader")));
    }
    Ok(())
}

/// The member `kill_node` acts on: the one named, else the leader.
fn victim<'a>(f: &PatroniFault, s: &'a Survey) -> Option<&'a Member> {
    match &f.action {
        PatroniPlanAction::KillNode {
            member: Some(n), ..
        } => s.cluster.member(n),
        PatroniPlanAction::KillNode { member: None, .. } => Some(&s.leader),
        _ => None,
    }
}

/// How soon the fault should bring a new leader, as the configuration implies: a
/// lost leader's key expires after at most `ttl` and a replica acts on its next loop
/// (`loop_wait`). A switchover or failover takes a loop of the old leader (it demotes
/// and stops PostgreSQL) and one of the candidate (it promotes), each of whose steps
/// Patroni retries for up to `retry_timeout`.
fn bound(f: &PatroniFault, c: &DcsConfig, kills_leader: bool) -> Option<Duration> {
    match &f.action {
        PatroniPlanAction::KillNode { .. } if !kills_leader => None,
        PatroniPlanAction::KillNode { .. } => Some(Duration::from_secs(c.ttl + c.loop_wait)),
        _ => Some(Duration::from_secs(2 * c.loop_wait + c.retry_timeout)),
    }
}

pub async fn preflight(f: &PatroniFault) -> Result<String, FaultError> {
    let s = survey(f).await?;
    if let Some(m) = victim(f, &s) {
        member::find(m).map_err(target)?;
    }
    Ok(topology(&s))
}

/// The cluster in one line, and the bounds its configuration implies.
fn topology(s: &Survey) -> String {
    let c = &s.config;
    let replicas: Vec<String> = s
        .cluster
        .members
        .iter()
        .filter(|m| m.name != s.leader.name)
        .map(|m| {
            let lag = m.lag.as_ref().map_or("?".into(), |l| match l {
                serde_json::Value::Number(n) => format!("{n} B"),
                other => other.as_str().unwrap_or("?").to_string(),
            });
            format!("{} ({}, {}, lag {lag})", m.name, m.role, m.state)
        })
        .collect();
    format!(
        "Patroni {} cluster `{}`: leader {} (timeline {}), replicas {}; {}; node loss: a new leader within ≈ ttl ({}s) + loop_wait ({}s) = {}s; switchover or failover: within ≈ 2 × loop_wait + retry_timeout ({}s) = {}s",
        s.status.patroni.version,
        s.status.patroni.scope,
        s.leader.name,
        s.timeline,
        if replicas.is_empty() { "none".into() } else { replicas.join(", ") },
        if c.synchronous_mode { "synchronous_mode on" } else { "asynchronous replication" },
        c.ttl,
        c.loop_wait,
        c.ttl + c.loop_wait,
        c.retry_timeout,
        2 * c.loop_wait + c.retry_timeout
    )
}

pub async fn prepare(
    name: &str,
    f: &PatroniFault,
    ctx: &FaultContext,
) -> Result<PatroniUndo, FaultError> {
    let s = survey(f).await?;
    let victim = victim(f, &s)
        .map(member::find)
        .transpose()
        .map_err(target)?;
    let kills_leader = victim.as_ref().is_none_or(|v| v.name == s.leader.name);
    let before = Before {
        scope: s.status.patroni.scope.clone(),
        leader: s.leader.name.clone(),
        leader_pg: s.leader.pg_address(),
        apis: s
            .cluster
            .members
            .iter()
            .filter_map(Member::api_base)
            .collect(),
        timeline: s.timeline,
        bound_ms: bound(f, &s.config, kills_leader).map(|d| d.as_millis() as u64),
    };
    let rejoin_timeout_ms = f.rejoin_timeout.as_millis() as u64;
    Ok(match (&f.action, victim) {
        (PatroniPlanAction::KillNode { restart, .. }, Some(member)) => {
            PatroniUndo::PatroniRestartMember {
                before,
                restart: restart
                    .iter()
                    .map(|a| a.replace("{member}", &member.name))
                    .collect(),
                member,
                log: std::path::absolute(
                    ctx.run_dir.join(format!("{}.restart.log", file_stem(name))),
                )
                .unwrap_or_else(|_| ctx.run_dir.join(format!("{}.restart.log", file_stem(name)))),
                rejoin_timeout_ms,
            }
        }
        _ => PatroniUndo::PatroniAwaitRejoin {
            before,
            rejoin_timeout_ms,
        },
    })
}

fn file_stem(name: &str) -> String {
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    crate::util::bounded_file_stem(&safe)
}

pub async fn inject(f: &PatroniFault, undo: &PatroniUndo) -> Result<(), FaultError> {
    match (&f.action, undo) {
        (
            PatroniPlanAction::Switchover { candidate },
            PatroniUndo::PatroniAwaitRejoin { before, .. },
        ) => {
            let mut body = serde_json::json!({ "leader": before.leader });
            if let Some(c) = candidate {
                body["candidate"] = c.clone().into();
            }
            hand_over(f, "switchover", body, before).await
        }
        (
            PatroniPlanAction::Failover { candidate },
            PatroniUndo::PatroniAwaitRejoin { before, .. },
        ) => {
            hand_over(
                f,
                "failover",
                serde_json::json!({ "candidate": candidate }),
                before,
            )
            .await
        }
        (PatroniPlanAction::KillNode { .. }, PatroniUndo::PatroniRestartMember { member, .. }) => {
            kill(member).await
        }
        _ => Err(target("internal: a patroni fault with a foreign undo")),
    }
}

/// `POST /switchover` or `/failover`. Patroni answers only once the new leader holds
/// the lock, a second or more after the old leader stopped taking writes; the fault
/// took effect when the old leader's PostgreSQL stops answering as a primary (the
/// call then finishes in the background; the watcher checks its outcome), or when
/// the call says it is done.
async fn hand_over(
    f: &PatroniFault,
    what: &'static str,
    body: serde_json::Value,
    before: &Before,
) -> Result<(), FaultError> {
    let (url, timeout) = (f.url.clone(), f.timeout);
    let mut call =
        tokio::spawn(async move { api::post(&url, &format!("/{what}"), body, timeout).await });
    loop {
        tokio::select! {
            answer = &mut call => return answered(what, answer, before).await,
            _ = tokio::time::sleep(Duration::from_millis(20)) => {}
        }
        if stepped_down(f, before).await {
            tokio::spawn(async move {
                if let Ok(Ok((status, text))) = call.await {
                    tracing::info!("Patroni {what}: HTTP {status}: {}", api::one_line(&text));
                }
            });
            return Ok(());
        }
    }
}

/// The old leader's PostgreSQL refuses connections or answers as a standby.
async fn stepped_down(f: &PatroniFault, before: &Before) -> bool {
    let Some(address) = &before.leader_pg else {
        return false;
    };
    !matches!(
        cluster::pg_state_at(&f.conninfo, address).await,
        Ok((false, _))
    )
}

async fn answered(
    what: &str,
    answer: Result<Result<(u16, String), String>, tokio::task::JoinError>,
    before: &Before,
) -> Result<(), FaultError> {
    let (status, text) = answer
        .map_err(|e| target(format!("{what}: {e}")))?
        .map_err(|e| target(format!("{what}: {e}")))?;
    if status != 200 {
        return Err(target(format!(
            "Patroni refused the {what}: HTTP {status}: {}",
            api::one_line(&text)
        )));
    }
    let cluster = cluster::from_any(&before.apis).await.map_err(target)?;
    match cluster.leader() {
        Some(l) if l.name != before.leader => Ok(()),
        _ => Err(target(format!(
            "{what}: Patroni answered `{}`, but `{}` still leads (or no one does)",
            api::one_line(&text),
            before.leader
        ))),
    }
}

/// SIGKILL Patroni, then its postmaster and every process the postmaster started:
/// killing Patroni alone leaves PostgreSQL running (a split brain in waiting).
async fn kill(m: &LocalMember) -> Result<(), FaultError> {
    for (what, p) in [("Patroni", &m.patroni), ("postmaster", &m.postmaster)] {
        if !node::is_same_alive(p) {
            return Err(target(format!(
                "member `{}`: its {what} {} is no longer the process found before the run",
                m.name, p.pid
            )));
        }
    }
    // Listed first: once the postmaster is dead its children belong to init.
    let children = node::children(m.postmaster.pid);
    node::signal(&m.patroni, libc::SIGKILL);
    node::signal(&m.postmaster, libc::SIGKILL);
    for c in &children {
        node::signal(c, libc::SIGKILL);
    }
    let until = Instant::now() + Duration::from_secs(10);
    let gone = || {
        !node::is_same_alive(&m.patroni)
            && !node::is_same_alive(&m.postmaster)
            && !children.iter().any(node::is_same_alive)
    };
    while !gone() {
        if Instant::now() >= until {
            return Err(target(format!(
                "member `{}`: its processes did not die within 10s",
                m.name
            )));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}
