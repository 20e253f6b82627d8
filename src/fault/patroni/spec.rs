//! YAML mirror of `patroni:` faults.

use crate::spec::Dur;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PatroniFaultSpec {
    /// Any member's REST API, e.g. `http://127.0.0.1:8008`.
    pub url: String,
    pub action: PatroniAction,
    /// switchover (optional: Patroni picks the best replica) and failover (required):
    /// the member that should become the leader.
    #[serde(default)]
    pub candidate: Option<String>,
    /// kill_node: the member to kill (default: the leader when the fault starts).
    #[serde(default)]
    pub member: Option<String>,
    /// kill_node: how to start the killed member's Patroni again (argv, no shell;
    /// `{member}` in an argument becomes the killed member's name).
    #[serde(default)]
    pub restart: Option<Vec<String>>,
    /// libpq keywords for checking the leaders' PostgreSQL (`user`, `dbname`,
    /// `password`, ...); each member's host and port come from the cluster
    /// (default `user=postgres dbname=postgres`).
    #[serde(default)]
    pub conninfo: Option<String>,
    /// How long the switchover or failover call and the wait for a new leader may
    /// take (default 60s).
    #[serde(default)]
    pub timeout: Option<Dur>,
    /// How long the revert waits for the old leader (or the killed member) to stream
    /// from the leader as a replica again (default 120s).
    #[serde(default)]
    pub rejoin_timeout: Option<Dur>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatroniAction {
    /// `POST /switchover {leader, candidate}`: a planned handover.
    Switchover,
    /// `POST /failover {candidate}`: a manual failover to `candidate`.
    Failover,
    /// SIGKILL one member's Patroni and its postmaster together (a node loss).
    KillNode,
}
