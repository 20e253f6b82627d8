//! `prepare` (finds both clusters and checks their roles; changes nothing) and
//! `inject` (returns once the fault took effect).

use super::compile::{PgNodePlan, PostgresFault, PostgresPlanAction};
use super::node::{self, PgNode, PgProc};
use super::undo::PostgresUndo;
use crate::fault::{FaultContext, FaultError, FaultNotes, Milestone};
use std::time::{Duration, Instant};

const CONNECT: Duration = Duration::from_secs(5);

fn target(what: &str, n: &PgNodePlan, e: impl std::fmt::Display) -> FaultError {
    FaultError::Target(format!("{what} {}: {e}", n.data_dir.display()))
}

pub async fn prepare(
    _name: &str,
    f: &PostgresFault,
    _ctx: &FaultContext,
) -> Result<PostgresUndo, FaultError> {
    let primary_pm = node::postmaster(&f.primary.data_dir)?;
    let standby_pm = node::postmaster(&f.standby.data_dir)?;
    let primary = node::describe_node(&f.primary.data_dir, &f.primary.conninfo, &primary_pm)?;
    let standby = node::describe_node(&f.standby.data_dir, &f.standby.conninfo, &standby_pm)?;
    let client = check_pair(f).await?;
    let walsenders = walsenders(&client, f).await?;
    Ok(match f.action {
        PostgresPlanAction::StallReplication => PostgresUndo::PostgresResumeWalsenders {
            primary: f.primary.data_dir.clone(),
            walsenders,
        },
        PostgresPlanAction::KillPrimary { rejoin, .. } => PostgresUndo::PostgresRejoin {
            rewind: rewind_possible(&client, f).await?,
            node: primary,
            source: standby,
            killed: Some(primary_pm),
            rejoin,
        },
        PostgresPlanAction::Promote => PostgresUndo::PostgresRejoin {
            rewind: rewind_possible(
                &node::connect(&f.standby.conninfo, CONNECT)
                    .await
                    .map_err(|e| target("standby", &f.standby, e))?,
                f,
            )
            .await?,
            node: standby,
            source: primary,
            killed: None,
            rejoin: true,
        },
    })
}

/// The primary answers as a primary, the standby as a standby that streams from that
/// very primary; a client on the primary.
async fn check_pair(f: &PostgresFault) -> Result<tokio_postgres::Client, FaultError> {
    let client = check_roles(f).await?;
    let standby = node::connect(&f.standby.conninfo, CONNECT)
        .await
        .map_err(|e| target("standby", &f.standby, e))?;
    let upstream = node::upstream(&client, &standby)
        .await
        .map_err(|e| target("standby", &f.standby, e))?;
    if let Some(why) = upstream.mismatch() {
        return Err(target(
            "standby",
            &f.standby,
            format!(
                "does not replicate from the primary {}: {why}",
                f.primary.data_dir.display()
            ),
        ));
    }
    Ok(client)
}

/// The primary answers as a primary and the standby as a standby; a client on the
/// primary.
async fn check_roles(f: &PostgresFault) -> Result<tokio_postgres::Client, FaultError> {
    let standby_recovering = node::in_recovery(&f.standby.conninfo)
        .await
        .map_err(|e| target("standby", &f.standby, e))?;
    if !standby_recovering {
        return Err(target(
            "standby",
            &f.standby,
            "is not in recovery (pg_is_in_recovery() = false): it is a primary, not a standby",
        ));
    }
    let client = node::connect(&f.primary.conninfo, CONNECT)
        .await
        .map_err(|e| target("primary", &f.primary, e))?;
    let row = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|e| target("primary", &f.primary, node::reason(&e)))?;
    if row.try_get::<_, bool>(0).unwrap_or(true) {
        return Err(target(
            "primary",
            &f.primary,
            "is in recovery (pg_is_in_recovery() = true): it is a standby",
        ));
    }
    Ok(client)
}

/// The walsenders on the primary; none means the standby does not replicate from it.
async fn walsenders(
    client: &tokio_postgres::Client,
    f: &PostgresFault,
) -> Result<Vec<PgProc>, FaultError> {
    let rows = client
        .query("SELECT pid FROM pg_stat_replication", &[])
        .await
        .map_err(|e| target("primary", &f.primary, node::reason(&e)))?;
    let procs: Vec<PgProc> = rows
        .iter()
        .filter_map(|r| r.try_get::<_, i32>(0).ok())
        .filter_map(node::find)
        .collect();
    if procs.is_empty() {
        return Err(target(
            "primary",
            &f.primary,
            format!(
                "no standby replicates from it (pg_stat_replication is empty), so {} is not its standby",
                f.standby.data_dir.display()
            ),
        ));
    }
    Ok(procs)
}

async fn rewind_possible(
    client: &tokio_postgres::Client,
    f: &PostgresFault,
) -> Result<bool, FaultError> {
    let row = client
        .query_one(
            "SELECT current_setting('wal_log_hints') = 'on' OR current_setting('data_checksums') = 'on'",
            &[],
        )
        .await
        .map_err(|e| target("cluster", &f.primary, node::reason(&e)))?;
    Ok(row.try_get(0).unwrap_or(false))
}

pub async fn inject(
    f: &PostgresFault,
    undo: &PostgresUndo,
    notes: &FaultNotes<'_>,
) -> Result<(), FaultError> {
    match (&f.action, undo) {
        (
            PostgresPlanAction::StallReplication,
            PostgresUndo::PostgresResumeWalsenders { walsenders, .. },
        ) => stall(walsenders).await,
        (
            PostgresPlanAction::KillPrimary { promote_after, .. },
            PostgresUndo::PostgresRejoin {
                killed: Some(pm),
                source,
                ..
            },
        ) => {
            let timeline = timeline_before(source).await?;
            kill_cluster(pm, notes).await?;
            tokio::time::sleep(*promote_after).await;
            promote(source, timeline, notes).await
        }
        (PostgresPlanAction::Promote, PostgresUndo::PostgresRejoin { node, .. }) => {
            let timeline = timeline_before(node).await?;
            promote(node, timeline, notes).await
        }
        _ => Err(FaultError::Target(
            "internal: a postgres fault with a foreign undo".into(),
        )),
    }
}

async fn stall(walsenders: &[PgProc]) -> Result<(), FaultError> {
    for p in walsenders {
        if !node::signal(p, libc::SIGSTOP) {
            return Err(FaultError::Target(format!("walsender {} is gone", p.pid)));
        }
    }
    wait("the walsenders to stop", || {
        walsenders.iter().all(node::is_stopped)
    })
    .await
}

/// SIGKILL the postmaster and every process it started, as a crash of the node would.
async fn kill_cluster(pm: &PgProc, notes: &FaultNotes<'_>) -> Result<(), FaultError> {
    if !node::is_same_alive(pm) {
        return Err(FaultError::Target(format!(
            "the postmaster {} is no longer the process found before the run",
            pm.pid
        )));
    }
    // Listed first: once the postmaster is dead its children belong to init.
    let children = node::children(pm.pid);
    node::signal(pm, libc::SIGKILL);
    for c in &children {
        node::signal(c, libc::SIGKILL);
    }
    notes.milestone(Milestone::PrimaryLost);
    wait("the primary's processes to die", || {
        !node::is_same_alive(pm) && !children.iter().any(node::is_same_alive)
    })
    .await
}

/// The standby's timeline before it is promoted (the one promotion must leave).
async fn timeline_before(n: &PgNode) -> Result<i64, FaultError> {
    let fail = |e: String| FaultError::Target(format!("standby {}: {e}", n.data_dir.display()));
    let client = node::connect(&n.conninfo, CONNECT).await.map_err(fail)?;
    node::timeline(&client, true).await.map_err(fail)
}

/// `pg_promote()`, then check it took: `pg_is_in_recovery() = false` and a timeline
/// past `timeline_before`; both are noted as asked vs achieved.
async fn promote(
    n: &PgNode,
    timeline_before: i64,
    notes: &FaultNotes<'_>,
) -> Result<(), FaultError> {
    let fail = |e: String| FaultError::Target(format!("promoting {}: {e}", n.data_dir.display()));
    let client = node::connect(&n.conninfo, CONNECT).await.map_err(fail)?;
    notes.milestone(Milestone::PromotionStarted);
    // Not `pg_promote(true)`: it checks only every 100 ms, and the new primary's
    // milestone would trail the first writes it accepts.
    let row = client
        .query_one("SELECT pg_promote(false)", &[])
        .await
        .map_err(|e| fail(node::reason(&e)))?;
    if !row.try_get::<_, bool>(0).unwrap_or(false) {
        return Err(fail("pg_promote() returned false".into()));
    }
    wait_out_of_recovery(&client, Duration::from_secs(60))
        .await
        .map_err(fail)?;
    notes.milestone(Milestone::NewPrimary);
    notes.check("pg_is_in_recovery", Some(0.0), 0.0);
    let now = node::timeline(&client, false)
        .await
        .map_err(|e| fail(format!("reading its timeline: {e}")))?;
    notes.check("timeline", Some((timeline_before + 1) as f64), now as f64);
    if now <= timeline_before {
        return Err(fail(format!(
            "its timeline stayed at {now} (was {timeline_before}): it was not promoted"
        )));
    }
    Ok(())
}

/// Poll `pg_is_in_recovery()` on `client` every 2 ms until it answers false.
async fn wait_out_of_recovery(
    client: &tokio_postgres::Client,
    within: Duration,
) -> Result<(), String> {
    let until = Instant::now() + within;
    loop {
        let row = client
            .query_one("SELECT pg_is_in_recovery()", &[])
            .await
            .map_err(|e| node::reason(&e))?;
        if !row.try_get::<_, bool>(0).unwrap_or(true) {
            return Ok(());
        }
        if Instant::now() >= until {
            return Err(format!("still in recovery {within:?} after pg_promote()"));
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

async fn wait(what: &str, done: impl Fn() -> bool) -> Result<(), FaultError> {
    let until = Instant::now() + Duration::from_secs(10);
    while !done() {
        if Instant::now() >= until {
            return Err(FaultError::Target(format!("timed out waiting for {what}")));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

/// Preflight, read-only: both data directories hold a running postmaster, both
/// servers answer, and they are in the roles the spec says.
pub async fn preflight(f: &PostgresFault) -> Result<String, FaultError> {
    node::postmaster(&f.primary.data_dir)?;
    node::postmaster(&f.standby.data_dir)?;
    check_pair(f).await?;
    Ok(format!(
        "primary ({}) and standby ({}) running and reachable; the standby streams from the primary",
        f.primary.data_dir.display(),
        f.standby.data_dir.display()
    ))
}
