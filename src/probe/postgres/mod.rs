//! PostgreSQL probe. `mode: read` times a query; `mode: write` inserts one row per
//! sample (id = base id + seq, with its intended send time) and keeps a ledger of what
//! became of each write, read back after the run to count lost acknowledged writes.
//! Files as in every probe kind, plus `conn.rs` (connecting, one-line errors) and
//! `ledger.rs` (the in-flight outcomes and the read-back).

mod check;
mod compile;
mod conn;
mod ledger;
mod spec;

pub use check::{failure, PostgresProbe};
pub use compile::{compile, PostgresMode, PostgresProbePlan};
pub use spec::{PostgresModeSpec, PostgresProbeSpec};
