//! The process backend: pause (SIGSTOP → SIGCONT) or kill (signal → run a restart
//! command) any local process.
//!
//! Same shape as every backend (see `fault/demo/mod.rs`): `spec.rs`, `compile.rs`,
//! `inject.rs`, `undo.rs`; no run-wide lifecycle. `pid.rs` holds what both inject and
//! undo need: a pid can be reused by an unrelated process after the original exits, so
//! every reference carries the process's start time (field 22 of /proc/PID/stat) and
//! no signal is sent to a process whose start time differs.

mod compile;
mod inject;
mod pid;
mod spec;
mod undo;

pub use compile::{compile, signal_name, PidSource, ProcessFault, ProcessPlanAction};
pub use inject::{inject, preflight, prepare};
pub use spec::{ProcessAction, ProcessFaultSpec};
pub use undo::{ProcessRef, ProcessUndo, RestartSpec};
