//! Embedded demo deployment: zones × replicas behind a health-checking load balancer.
//!
//! Every replica is a real HTTP server on its own 127.0.0.1 port and the load
//! balancer is a real reverse proxy with active health checks. Nothing is
//! simulated: when a zone is crashed or blackholed, requests routed to it fail
//! (502 / 504) until the health checks eject its backends, so an experiment
//! shows a genuine, explainable outage followed by recovery.
//!
//! Zones are driven through [`Demo::set_zone`] in-process, or through the admin
//! API on the load balancer's own port (`/_shakeout/zones`) with
//! [`admin_set_zone`].

mod admin;
mod json;
mod lb;
mod orders;
mod replica;
pub mod store;

#[cfg(test)]
mod tests;

use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::info;

pub use admin::{admin_set_zone, admin_store, admin_zones, BackendStatus, StoreAction, ZoneStatus};

use lb::Backend;
use replica::{Identity, Server};

/// Active health checking done by the load balancer, per backend.
#[derive(Debug, Clone)]
pub struct HealthCheck {
    /// Time between two checks of the same backend.
    pub interval: Duration,
    /// A check that has not answered 200 within this time counts as failed.
    pub timeout: Duration,
    /// Consecutive failed checks before a healthy backend is ejected.
    pub unhealthy_threshold: u32,
    /// Consecutive passed checks before an ejected backend is readmitted.
    pub healthy_threshold: u32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        HealthCheck {
            interval: Duration::from_millis(500),
            timeout: Duration::from_millis(250),
            unhealthy_threshold: 2,
            healthy_threshold: 2,
        }
    }
}

/// Most replicas per zone: each is a listening socket and a task, and a spec allows
/// no more either.
pub const MAX_REPLICAS_PER_ZONE: u32 = 64;

/// Shape of the demo deployment.
#[derive(Debug, Clone)]
pub struct DemoConfig {
    /// Address of the load balancer (and admin API). Port 0 picks a free port;
    /// see [`Demo::addr`].
    pub listen: SocketAddr,
    /// Zone names, e.g. `a`, `b`, `c`. Non-empty, unique, and made of ASCII
    /// letters, digits, `-`, `_` or `.` (they appear in URLs and backend names).
    pub zones: Vec<String>,
    /// Replicas in every zone; backends are named `{zone}-{n}`, n from 1.
    pub replicas_per_zone: u32,
    pub health: HealthCheck,
    /// Longest the balancer waits for a backend's full response before
    /// answering 504; also the connect timeout.
    pub backend_timeout: Duration,
    /// A replicated key-value store behind `/orders` (primary in the first zone).
    pub store: Option<store::StoreConfig>,
}

impl Default for DemoConfig {
    fn default() -> Self {
        DemoConfig {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 18080)),
            zones: vec!["a".into(), "b".into(), "c".into()],
            replicas_per_zone: 2,
            health: HealthCheck::default(),
            backend_timeout: Duration::from_secs(1),
            store: None,
        }
    }
}

/// What is currently done to a zone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneMode {
    /// Serving normally.
    Up,
    /// Replicas are gone: ports refuse connections, open connections are reset.
    Crash,
    /// Replicas accept connections and requests but never answer.
    Blackhole,
}

impl std::fmt::Display for ZoneMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            ZoneMode::Up => "up",
            ZoneMode::Crash => "crash",
            ZoneMode::Blackhole => "blackhole",
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("{}", bind_message(.addr, .source))]
    Bind {
        addr: SocketAddr,
        #[source]
        source: io::Error,
    },
    #[error("unknown zone `{zone}`; zones are {}", .valid.join(", "))]
    UnknownZone { zone: String, valid: Vec<String> },
    #[error("invalid demo config: {0}")]
    InvalidConfig(String),
    /// Nothing listens at the balancer's address (the demo is not running).
    #[error("demo admin API at {lb}: cannot connect: {source}")]
    AdminUnreachable {
        lb: SocketAddr,
        #[source]
        source: io::Error,
    },
    /// The admin API rejected the request or answered something unexpected.
    #[error("demo admin API at {lb}: {reason}")]
    Admin { lb: SocketAddr, reason: String },
    #[error("demo admin API at {lb} did not answer within {timeout:?}")]
    AdminTimeout { lb: SocketAddr, timeout: Duration },
}

fn bind_message(addr: &SocketAddr, source: &io::Error) -> String {
    if source.kind() == io::ErrorKind::AddrInUse {
        format!("{addr} is already in use")
    } else {
        format!("cannot listen on {addr}: {source}")
    }
}

/// A running demo deployment. Dropping it stops everything too, but only
/// [`Demo::shutdown`] waits until every socket is closed.
pub struct Demo {
    inner: Arc<Inner>,
    addr: SocketAddr,
    lb: Server,
    health: JoinSet<()>,
}

/// State shared between the [`Demo`] handle and the load balancer (whose
/// admin API changes zone modes).
struct Inner {
    zones: Vec<Zone>,
    /// In round-robin order: a-1, b-1, c-1, a-2, b-2, c-2, ...
    backends: Vec<Arc<Backend>>,
    proxy: lb::Proxy,
    store: Option<Arc<store::Store>>,
}

struct Zone {
    name: String,
    mode: watch::Sender<ZoneMode>,
    replicas: Vec<ReplicaSlot>,
    /// Serialises mode changes so a crash and a restart cannot interleave.
    transition: tokio::sync::Mutex<()>,
}

struct ReplicaSlot {
    id: Arc<Identity>,
    addr: SocketAddr,
    /// `None` while crashed (or shut down).
    server: Mutex<Option<Server>>,
}

impl ReplicaSlot {
    fn take_server(&self) -> Option<Server> {
        self.server
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take()
    }

    fn put_server(&self, server: Server) {
        *self
            .server
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(server);
    }
}

fn validate(cfg: &DemoConfig) -> Result<(), DemoError> {
    let invalid = |msg: String| Err(DemoError::InvalidConfig(msg));
    if cfg.zones.is_empty() {
        return invalid("at least one zone is required".into());
    }
    for (i, zone) in cfg.zones.iter().enumerate() {
        let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        if zone.is_empty() || !zone.chars().all(ok_char) {
            return invalid(format!(
                "zone name `{zone}` must be non-empty ASCII letters, digits, `-`, `_` or `.`"
            ));
        }
        if cfg.zones[..i].contains(zone) {
            return invalid(format!("duplicate zone name `{zone}`"));
        }
    }
    if !(1..=MAX_REPLICAS_PER_ZONE).contains(&cfg.replicas_per_zone) {
        return invalid(format!(
            "replicas_per_zone must be between 1 and {MAX_REPLICAS_PER_ZONE}, found {}",
            cfg.replicas_per_zone
        ));
    }
    let h = &cfg.health;
    if h.interval.is_zero() || h.timeout.is_zero() || cfg.backend_timeout.is_zero() {
        return invalid("health interval/timeout and backend_timeout must be non-zero".into());
    }
    if h.unhealthy_threshold < 1 || h.healthy_threshold < 1 {
        return invalid("health check thresholds must be at least 1".into());
    }
    Ok(())
}

impl Demo {
    /// Binds the load balancer and every replica, then starts serving and
    /// health checking. All sockets are bound before this returns.
    pub async fn start(cfg: DemoConfig) -> Result<Demo, DemoError> {
        validate(&cfg)?;

        // Bind everything up front so a failure leaves nothing running.
        let lb_listener = replica::bind_listener(cfg.listen)?;
        let addr = lb_listener.local_addr().map_err(|source| DemoError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let store = cfg
            .store
            .clone()
            .map(|c| Arc::new(store::Store::new(c, &cfg.zones)));
        let mut zones = Vec::with_capacity(cfg.zones.len());
        let mut listeners = Vec::new();
        for zone_name in &cfg.zones {
            let (mode, _) = watch::channel(ZoneMode::Up);
            let mut replicas = Vec::new();
            for n in 1..=cfg.replicas_per_zone {
                let any_port = SocketAddr::from((Ipv4Addr::LOCALHOST, 0));
                let listener = replica::bind_listener(any_port)?;
                let addr = listener.local_addr().map_err(|source| DemoError::Bind {
                    addr: any_port,
                    source,
                })?;
                let id = Arc::new(Identity {
                    zone: zone_name.clone(),
                    name: format!("{zone_name}-{n}"),
                    store: store.clone(),
                });
                listeners.push((listener, Arc::clone(&id), mode.subscribe()));
                replicas.push(ReplicaSlot {
                    id,
                    addr,
                    server: Mutex::new(None),
                });
            }
            zones.push(Zone {
                name: zone_name.clone(),
                mode,
                replicas,
                transition: tokio::sync::Mutex::new(()),
            });
        }

        // Interleave zones so consecutive requests land in different zones.
        let mut backends = Vec::new();
        for n in 0..cfg.replicas_per_zone as usize {
            for (zone_idx, zone) in zones.iter().enumerate() {
                let slot = &zone.replicas[n];
                backends.push(Arc::new(Backend::new(
                    slot.id.name.clone(),
                    zone_idx,
                    slot.addr,
                )));
            }
        }

        // Start serving. Listeners were pushed in zone-major order, matching
        // the iteration below.
        let mut listeners = listeners.into_iter();
        for zone in &zones {
            for slot in &zone.replicas {
                if let Some((listener, id, mode)) = listeners.next() {
                    slot.put_server(replica::spawn_replica(listener, id, mode));
                }
            }
        }

        let mut health = JoinSet::new();
        for backend in &backends {
            health.spawn(lb::health_check_loop(
                Arc::clone(backend),
                cfg.health.clone(),
            ));
        }

        let inner = Arc::new(Inner {
            zones,
            backends,
            proxy: lb::Proxy::new(cfg.backend_timeout),
            store,
        });
        let lb = lb::spawn_balancer(lb_listener, Arc::clone(&inner));
        info!(
            %addr,
            zones = cfg.zones.len(),
            replicas_per_zone = cfg.replicas_per_zone,
            "demo deployment started"
        );
        Ok(Demo {
            inner,
            addr,
            lb,
            health,
        })
    }

    /// The load balancer's bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Puts every replica of `zone` into `mode`. Returns once the change is in
    /// effect: after `Crash`, the replica ports already refuse connections.
    pub async fn set_zone(&self, zone: &str, mode: ZoneMode) -> Result<(), DemoError> {
        self.inner.set_zone(zone, mode).await
    }

    /// Every zone with its current mode, in configuration order.
    pub fn zones(&self) -> Vec<(String, ZoneMode)> {
        self.inner
            .zones
            .iter()
            .map(|z| (z.name.clone(), *z.mode.borrow()))
            .collect()
    }

    /// Zones with their backends' addresses and health, as served by
    /// `GET /_shakeout/zones`.
    pub fn status(&self) -> Vec<ZoneStatus> {
        self.inner.status()
    }

    /// Stops the balancer, the health checks and every replica, and waits
    /// until all of their sockets are closed.
    pub async fn shutdown(mut self) {
        self.lb.stop().await;
        self.health.shutdown().await;
        for zone in &self.inner.zones {
            for slot in &zone.replicas {
                if let Some(server) = slot.take_server() {
                    server.stop().await;
                }
            }
        }
        info!(addr = %self.addr, "demo deployment stopped");
    }
}

impl Inner {
    fn zone(&self, name: &str) -> Result<&Zone, DemoError> {
        self.zones
            .iter()
            .find(|z| z.name == name)
            .ok_or_else(|| DemoError::UnknownZone {
                zone: name.to_string(),
                valid: self.zones.iter().map(|z| z.name.clone()).collect(),
            })
    }

    async fn set_zone(&self, name: &str, mode: ZoneMode) -> Result<(), DemoError> {
        let zone = self.zone(name)?;
        let _guard = zone.transition.lock().await;
        let old = *zone.mode.borrow();
        if old == mode {
            return Ok(());
        }
        match (old, mode) {
            (_, ZoneMode::Crash) => {
                // A crashed process holds no sockets: close the listeners and
                // every accepted connection before reporting the crash done.
                for slot in &zone.replicas {
                    if let Some(server) = slot.take_server() {
                        server.stop().await;
                    }
                }
                zone.mode.send_replace(mode);
            }
            (ZoneMode::Crash, _) => {
                // Set the mode first so the restarted servers answer in it.
                zone.mode.send_replace(mode);
                for slot in &zone.replicas {
                    match replica::bind_listener(slot.addr) {
                        Ok(listener) => slot.put_server(replica::spawn_replica(
                            listener,
                            Arc::clone(&slot.id),
                            zone.mode.subscribe(),
                        )),
                        Err(e) => {
                            // Leave the zone consistently crashed rather than
                            // half up.
                            for slot in &zone.replicas {
                                if let Some(server) = slot.take_server() {
                                    server.stop().await;
                                }
                            }
                            zone.mode.send_replace(ZoneMode::Crash);
                            return Err(e);
                        }
                    }
                }
            }
            // Up <-> Blackhole: the replicas keep their sockets and consult
            // the mode on every request.
            _ => {
                zone.mode.send_replace(mode);
            }
        }
        // The zone's copy of the store goes with it (and comes back with it).
        if let Some(store) = &self.store {
            store.set_zone_lost(name, mode != ZoneMode::Up);
        }
        info!(zone = %zone.name, from = %old, to = %mode, "zone mode changed");
        Ok(())
    }

    fn status(&self) -> Vec<ZoneStatus> {
        self.zones
            .iter()
            .enumerate()
            .map(|(idx, zone)| self.zone_status(idx, zone))
            .collect()
    }

    fn zone_status(&self, idx: usize, zone: &Zone) -> ZoneStatus {
        ZoneStatus {
            name: zone.name.clone(),
            mode: *zone.mode.borrow(),
            backends: self
                .backends
                .iter()
                .filter(|b| b.zone == idx)
                .map(|b| BackendStatus {
                    name: b.name.clone(),
                    addr: b.addr,
                    healthy: b.is_healthy(),
                })
                .collect(),
        }
    }
}
