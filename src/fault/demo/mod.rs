//! The demo backend: the embedded demo deployment as a run's target, and the loss of
//! one of its zones (the `demo:` layer of `az_loss`). The smallest backend, and the one
//! `docs/writing-a-fault.md` walks through.
//!
//! Same shape as every backend:
//! - `spec.rs`: the YAML mirror (`target: demo:`, `az_loss: {demo: {mode}}`);
//! - `compile.rs`: pure checks into resolved plans, `describe` text, exclusive key;
//! - `inject.rs`: `prepare` (changes nothing, returns the undo) and `inject`;
//! - `undo.rs`: the journaled undo, idempotent `apply`, `manual_fix`;
//! - `lifecycle.rs`: run-wide setup (starts the in-process demo before the probes,
//!   stops it after the last revert).
//!
//! Zones are taken down and brought up through the balancer's admin API: the same path
//! for an in-process demo and for an external `shakeout demo serve`.

mod compile;
mod inject;
mod lifecycle;
mod spec;
mod undo;

pub use compile::{compile_target, compile_zone_loss, describe_target, DemoPlan, ZoneLossPlan};
pub use inject::{inject, preflight, prepare};
pub use lifecycle::DemoRun;
pub use spec::{AzLossMode, DemoTargetSpec, DemoZoneLossSpec, HealthCheckSpec};
pub use undo::{DemoUndo, ZoneRef};
