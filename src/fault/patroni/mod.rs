//! The Patroni backend: acts on a Patroni cluster through any member's REST API.
//! `switchover` and `failover` ask Patroni for a new leader; `kill_node` SIGKILLs one
//! member's Patroni and its postmaster together (a node loss; killing Patroni alone
//! leaves PostgreSQL running), and its revert starts the member again with the
//! spec's `restart` command. Every revert waits until the displaced member streams
//! from the leader as a replica. While the fault is applied, `watch` checks the new
//! leader (asked vs achieved) against the bound the cluster's `ttl` and `loop_wait`
//! imply.
//!
//! Same shape as every backend: `spec.rs`, `compile.rs`, `inject.rs`, `undo.rs`;
//! `api.rs` speaks the REST API, `cluster.rs` reads members and roles, `member.rs`
//! finds a member's local processes, `watch.rs` measures what the fault achieved.

mod api;
mod cluster;
mod compile;
mod inject;
mod member;
mod spec;
mod undo;
mod watch;

pub use compile::{compile, PatroniFault, PatroniPlanAction};
pub use inject::{inject, preflight, prepare};
pub use spec::{PatroniAction, PatroniFaultSpec};
pub use undo::PatroniUndo;
pub use watch::achieved;
