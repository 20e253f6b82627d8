//! The PostgreSQL backend: a primary and a streaming standby, each named by its local
//! data directory and a conninfo. `kill_primary` (SIGKILL the postmaster and its
//! children, then `pg_promote()` the standby; revert rejoins the old primary as a
//! standby of the new one), `stall_replication` (SIGSTOP the primary's walsenders;
//! revert SIGCONT), `promote` (a split-brain drill).
//!
//! Same shape as every backend: `spec.rs`, `compile.rs`, `inject.rs`, `undo.rs`;
//! `node.rs` holds what inject and undo share (postmaster.pid, process identity by
//! start time, connecting, running PostgreSQL's tools as the data directory's owner).
//! `rejoin.rs` turns a node back into a standby (pg_rewind, else pg_basebackup);
//! `topology.rs` is what `plan` finds on the live cluster (read-only).

mod compile;
mod inject;
pub(crate) mod node;
mod rejoin;
mod spec;
mod topology;
mod undo;

pub use compile::{compile, PostgresFault, PostgresPlanAction};
pub use inject::{inject, preflight, prepare};
pub use spec::{PostgresAction, PostgresFaultSpec, PostgresNodeSpec};
pub use topology::{describe_fault, describe_probe, RiskContext};
pub use undo::PostgresUndo;
