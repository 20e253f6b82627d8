//! What the backend reads of a cluster: its members and leader (asked of any member
//! that answers), the leader's PostgreSQL role and timeline, and whether a member
//! streams from the leader as a replica.

use super::api::{self, Cluster, Member, MemberStatus};
use crate::fault::postgres::node;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};

/// The cluster as the fault found it: what the undo and the asked-vs-achieved checks
/// compare with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Before {
    pub scope: String,
    pub leader: String,
    /// The leader's PostgreSQL, `host=... port=...`.
    #[serde(default)]
    pub leader_pg: Option<String>,
    /// Every member's REST API: the cluster is asked of whichever answers.
    pub apis: Vec<String>,
    /// The leader's timeline.
    pub timeline: i64,
    /// When the fault should make a new leader: within how long, as the cluster's
    /// configuration implies (ms).
    #[serde(default)]
    pub bound_ms: Option<u64>,
}

/// `GET /cluster` from the first member in `apis` that answers.
pub async fn from_any(apis: &[String]) -> Result<Cluster, String> {
    let mut last = "no member to ask".to_string();
    for base in apis {
        match api::get::<Cluster>(base, "/cluster").await {
            Ok(c) => return Ok(c),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The member's PostgreSQL: (`pg_is_in_recovery()`, its timeline when it is a primary).
pub async fn pg_state(conninfo: &str, m: &Member) -> Result<(bool, i64), String> {
    let address = m
        .pg_address()
        .ok_or_else(|| format!("member `{}` publishes no PostgreSQL host and port", m.name))?;
    pg_state_at(conninfo, &address).await
}

/// [`pg_state`] of the PostgreSQL at `address` (`host=... port=...`).
pub async fn pg_state_at(conninfo: &str, address: &str) -> Result<(bool, i64), String> {
    let full = format!("{conninfo} {address}");
    let client = node::connect(&full, Duration::from_secs(3)).await?;
    // The timeline of the WAL being written (what Patroni itself reports).
    let row = client
        .query_one(
            "SELECT pg_is_in_recovery(), CASE WHEN pg_is_in_recovery() THEN 0 \
             ELSE ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int END",
            &[],
        )
        .await
        .map_err(|e| node::reason(&e))?;
    let recovering: bool = row.try_get(0).map_err(|e| node::reason(&e))?;
    let timeline: i32 = row.try_get(1).map_err(|e| node::reason(&e))?;
    Ok((recovering, i64::from(timeline)))
}

/// Wait until `name` streams from the leader as a replica (the leader's walsender for
/// it says `streaming` on three polls in a row), or leads itself.
pub async fn wait_replica(name: &str, apis: &[String], within: Duration) -> Result<String, String> {
    const STABLE: u32 = 3;
    let until = Instant::now() + within;
    let mut streak = 0;
    loop {
        let last = match replica_state(name, apis).await {
            Ok(ReplicaState::Leads) => return Ok(format!("`{name}` is the leader")),
            Ok(ReplicaState::Streaming(leader)) => {
                streak += 1;
                if streak >= STABLE {
                    return Ok(format!("`{name}` streams from `{leader}` as a replica"));
                }
                format!("streams from `{leader}`")
            }
            Ok(ReplicaState::NotYet(why)) | Err(why) => {
                streak = 0;
                why
            }
        };
        if Instant::now() >= until {
            return Err(format!(
                "`{name}` did not stream as a replica within {within:?} (last: {last})"
            ));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

enum ReplicaState {
    Leads,
    Streaming(String),
    NotYet(String),
}

async fn replica_state(name: &str, apis: &[String]) -> Result<ReplicaState, String> {
    let cluster = from_any(apis).await?;
    let Some(leader) = cluster.leader() else {
        return Ok(ReplicaState::NotYet("the cluster has no leader".into()));
    };
    if leader.name == name {
        return Ok(ReplicaState::Leads);
    }
    let base = leader
        .api_base()
        .ok_or_else(|| format!("leader `{}` publishes no REST API", leader.name))?;
    let status: MemberStatus = api::get(&base, "/patroni").await?;
    let streaming = status
        .replication
        .iter()
        .any(|w| w.application_name == name && w.state == "streaming");
    Ok(match streaming {
        true => ReplicaState::Streaming(leader.name.clone()),
        false => ReplicaState::NotYet(format!(
            "no streaming walsender for it on `{}`",
            leader.name
        )),
    })
}
