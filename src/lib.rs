//! shakeout: inject real faults into a deployment, measure it with open-loop
//! probes, and judge what was measured against the SLA.
//!
//! Data flows one way: spec → plan → engine → events → analysis → verdict → reports.

pub mod analysis;
pub mod chart;
pub mod cli;
pub mod demo;
pub mod engine;
pub mod fault;
pub mod format;
pub mod notify;
pub mod percent;
pub mod plan;
pub mod probe;
pub mod proxy;
pub mod record;
pub mod report;
pub mod sla;
pub mod spec;
pub mod suite;
pub mod trend;
pub mod util;
pub mod verdict;
