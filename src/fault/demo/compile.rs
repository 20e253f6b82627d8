//! Pure checks of the demo target and of a zone loss on it; their `plan` text and
//! the exclusive-target key.

use super::spec::{AzLossMode, DbFailoverSpec, DemoTargetSpec};
use crate::demo::store::Replication;
use crate::spec::check::{check_exposure, loopback_addr, unknown_name, Errors};
use crate::spec::units::format_duration as d;
use serde::Serialize;
use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::time::Duration;

/// The demo deployment, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct DemoPlan {
    pub listen: SocketAddr,
    pub zones: Vec<String>,
    pub replicas_per_zone: u32,
    pub health_interval: Duration,
    pub health_timeout: Duration,
    pub unhealthy_threshold: u32,
    pub healthy_threshold: u32,
    pub backend_timeout: Duration,
    /// Already running elsewhere: only its admin API is used.
    pub external: bool,
    pub store: Option<StorePlan>,
}

/// The demo's replicated store, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct StorePlan {
    pub replication: Replication,
    pub delay: Duration,
}

/// A failover of the demo's store, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct DbFailoverPlan {
    pub lb: SocketAddr,
    /// The zone promoted; `None`: the first replica.
    pub to: Option<String>,
    pub replication: Replication,
    pub in_process: bool,
}

pub const DEFAULT_REPLICATION_DELAY: Duration = Duration::from_millis(200);

/// Check `db_failover` at `path`: a demo target with a store, and a replica to promote.
pub fn compile_db_failover(
    s: &DbFailoverSpec,
    target: Option<&DemoPlan>,
    path: &str,
    e: &mut Errors,
) -> Option<DbFailoverPlan> {
    let Some((demo, store)) = target.and_then(|d| d.store.as_ref().map(|s| (d, s))) else {
        e.at(
            path,
            "db_failover needs a demo target with a store (`target: demo: store:`)",
        );
        return None;
    };
    if demo.zones.len() < 2 {
        e.at(
            path,
            "the store needs at least two zones: a primary and a replica to promote",
        );
        return None;
    }
    if let Some(to) = &s.to {
        // The primary starts in the first zone; the others hold replicas.
        let replicas: Vec<&str> = demo.zones[1..].iter().map(String::as_str).collect();
        if !replicas.contains(&to.as_str()) {
            e.at(
                format!("{path}.to"),
                unknown_name("replica zone", to, &replicas),
            );
            return None;
        }
    }
    Some(DbFailoverPlan {
        lb: demo.listen,
        to: s.to.clone(),
        replication: store.replication,
        in_process: !demo.external,
    })
}

impl DbFailoverPlan {
    pub fn describe(&self) -> String {
        let to = self
            .to
            .as_ref()
            .map_or("the first replica".to_string(), |z| {
                format!("the replica in zone `{z}`")
            });
        let mode = match self.replication {
            Replication::Async => "async: acknowledged writes not yet replicated are lost",
            Replication::Sync => "sync: no acknowledged write is lost",
        };
        format!(
            "fail the demo store at {} over to {to} ({mode}); revert rejoins the old primary as a replica",
            self.lb
        )
    }

    /// One failover of a store at a time: the first revert would end both.
    pub fn exclusive_key(&self) -> String {
        format!("the store of the demo at {}", self.lb)
    }
}

/// One zone of the demo lost, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneLossPlan {
    /// The balancer whose admin API takes the zone down.
    pub lb: SocketAddr,
    pub zone: String,
    pub mode: AzLossMode,
    /// The demo lives inside the run's process.
    pub in_process: bool,
}

/// Check `target.demo` (at `path`).
pub fn compile_target(t: &DemoTargetSpec, path: &str, e: &mut Errors) -> Option<DemoPlan> {
    let listen = loopback_addr(&t.listen, &format!("{path}.listen"), e);
    check_exposure(listen, t.expose, path, e);
    check_zones(&t.zones, path, e);
    if t.replicas_per_zone == 0 || t.replicas_per_zone > 64 {
        e.at(
            format!("{path}.replicas_per_zone"),
            "must be between 1 and 64",
        );
    }
    let hc = t.health_check.clone().unwrap_or_default();
    let hpath = format!("{path}.health_check");
    let health_interval = hc.interval.map_or(Duration::from_millis(500), |d| d.0);
    let health_timeout = hc.timeout.map_or(Duration::from_millis(250), |d| d.0);
    for (field, value) in [("interval", health_interval), ("timeout", health_timeout)] {
        if value.is_zero() {
            e.at(format!("{hpath}.{field}"), "must be longer than 0s");
        }
    }
    let unhealthy_threshold = hc.unhealthy_threshold.unwrap_or(2);
    let healthy_threshold = hc.healthy_threshold.unwrap_or(2);
    for (field, value) in [
        ("unhealthy_threshold", unhealthy_threshold),
        ("healthy_threshold", healthy_threshold),
    ] {
        if value == 0 {
            e.at(format!("{hpath}.{field}"), "must be at least 1");
        }
    }
    Some(DemoPlan {
        listen: listen?,
        zones: t.zones.clone(),
        replicas_per_zone: t.replicas_per_zone,
        health_interval,
        health_timeout,
        unhealthy_threshold,
        healthy_threshold,
        backend_timeout: t.backend_timeout.map_or(Duration::from_secs(1), |d| d.0),
        external: t.external,
        store: t.store.as_ref().map(|s| StorePlan {
            replication: s.replication.unwrap_or(Replication::Async),
            delay: s
                .replication_delay
                .map_or(DEFAULT_REPLICATION_DELAY, |d| d.0),
        }),
    })
}

fn check_zones(zones: &[String], path: &str, e: &mut Errors) {
    if zones.is_empty() {
        e.at(format!("{path}.zones"), "needs at least one zone");
    }
    let mut seen = BTreeSet::new();
    for (i, z) in zones.iter().enumerate() {
        if z.trim().is_empty() || !seen.insert(z.as_str()) {
            e.at(
                format!("{path}.zones[{i}]"),
                format!("zone names must be unique and non-empty (`{z}`)"),
            );
        }
    }
}

/// Check a zone loss on the demo. `path` is where a missing target is reported,
/// `zone_path` where an unknown zone is.
pub fn compile_zone_loss(
    zone: &str,
    mode: AzLossMode,
    target: Option<&DemoPlan>,
    (path, zone_path): (&str, &str),
    e: &mut Errors,
) -> Option<ZoneLossPlan> {
    let Some(demo) = target else {
        e.at(path, "az_loss needs a target with zones (`target: demo:`)");
        return None;
    };
    if !demo.zones.iter().any(|z| z == zone) {
        let zones: Vec<&str> = demo.zones.iter().map(String::as_str).collect();
        e.at(zone_path, unknown_name("zone", zone, &zones));
        return None;
    }
    Some(ZoneLossPlan {
        lb: demo.listen,
        zone: zone.to_string(),
        mode,
        in_process: !demo.external,
    })
}

/// The target's two lines in `shakeout plan`.
pub fn describe_target(t: &DemoPlan) -> String {
    let who = if t.external {
        "already running (driven through its admin API)"
    } else {
        "started and stopped by the run"
    };
    let store = t.store.as_ref().map_or(String::new(), |s| {
        let mode = match s.replication {
            Replication::Async => "async",
            Replication::Sync => "sync",
        };
        format!(
            "\n  store: primary in zone {}, replicas in {}; {mode} replication, delay {}",
            t.zones.first().map_or("?", String::as_str),
            t.zones.get(1..).map_or(String::new(), |z| z.join(", ")),
            d(s.delay)
        )
    });
    format!(
        "demo deployment at {}: zones {} × {} replicas, {who}\n  balancer health checks every {} (timeout {}), unhealthy after {}, healthy after {}; backend timeout {}",
        t.listen,
        t.zones.join(", "),
        t.replicas_per_zone,
        d(t.health_interval),
        d(t.health_timeout),
        t.unhealthy_threshold,
        t.healthy_threshold,
        d(t.backend_timeout)
    ) + &store
}

impl ZoneLossPlan {
    pub fn describe(&self) -> String {
        let how = match self.mode {
            AzLossMode::Crash => "replicas refuse connections",
            AzLossMode::Blackhole => "replicas accept and never answer",
        };
        format!(
            "lose zone `{}` of the demo at {} ({how})",
            self.zone, self.lb
        )
    }

    /// Two losses of one zone must not overlap: the first revert would end both.
    pub fn exclusive_key(&self) -> String {
        format!("zone `{}` of {}", self.zone, self.lb)
    }
}
