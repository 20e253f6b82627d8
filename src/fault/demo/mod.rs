//! The demo backend: the embedded demo deployment as a run's target, and the loss of
//! one of its zones (the `demo:` layer of `az_loss`), and the failover of its replicated
//! store (`db_failover`: a fault kind of its own, but the same target, admin API and
//! undo enum, so it lives here rather than in a folder that would duplicate them). The smallest backend, and the one
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

pub use compile::{
    compile_db_failover, compile_target, compile_zone_loss, describe_target, DbFailoverPlan,
    DemoPlan, StorePlan, ZoneLossPlan,
};
pub use inject::{
    inject, inject_failover, preflight, preflight_failover, prepare, prepare_failover,
};
pub use lifecycle::DemoRun;
pub use spec::{
    AzLossMode, DbFailoverSpec, DemoStoreSpec, DemoTargetSpec, DemoZoneLossSpec, HealthCheckSpec,
};
pub use undo::{DemoUndo, StoreRef, ZoneRef};
