//! The demo's replicated key-value store: one node per zone, one of them the primary,
//! the others replicas. Served by every app replica (`POST /orders` with `{"id": N}`,
//! `GET /orders/{id}`), driven by the admin API (`/_shakeout/store`, `.../failover`,
//! `.../rejoin`).
//!
//! Replication is real in the sense that matters for RPO: in `async` mode a write is
//! acknowledged once the primary holds it and reaches the replicas `delay` later; a
//! failover in between leaves it only on the demoted primary, so it is gone. In `sync`
//! mode the write is acknowledged only once every live replica holds it too.
//!
//! A node lives in its zone: when the zone is lost (crash or blackhole) the node is
//! unreachable, so it takes no writes and replicates nothing; a lost primary's zone
//! means no writes at all until a failover or the zone's return. Back up, a replica
//! catches up with the primary; the old primary is the primary again unless a failover
//! fenced it meanwhile.

use serde::{Deserialize, Serialize};
use std::collections::HashSet;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Replication {
    Async,
    Sync,
}

#[derive(Debug, Clone)]
pub struct StoreConfig {
    pub replication: Replication,
    /// How long a write takes to reach the replicas.
    pub delay: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Primary,
    Replica,
    /// Demoted by a failover and fenced: it serves nothing until it rejoins.
    Down,
}

/// One node as the admin API reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeStatus {
    pub zone: String,
    pub role: Role,
    pub keys: usize,
    /// Its zone is lost: the node is unreachable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub zone_lost: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoreStatus {
    pub replication: Replication,
    pub delay_ms: u64,
    pub primary: String,
    pub nodes: Vec<NodeStatus>,
}

/// What a create did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Created {
    /// Newly written (201).
    New,
    /// Already held by the primary (200: a retried create is not an error).
    Exists,
    /// The primary changed while a synchronous write waited for its replicas: not
    /// committed anywhere that counts (503).
    PrimaryLost,
    /// The primary's zone is lost: nothing was written (503).
    Unavailable,
}

struct Node {
    zone: String,
    role: Role,
    keys: HashSet<u64>,
    zone_lost: bool,
}

struct State {
    nodes: Vec<Node>,
    primary: usize,
    /// Bumped by every failover: a replication started under an older primary is void.
    generation: u64,
}

pub struct Store {
    cfg: StoreConfig,
    state: Mutex<State>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("replication", &self.cfg.replication)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// The primary in the first zone, a replica in each other.
    pub fn new(cfg: StoreConfig, zones: &[String]) -> Store {
        let nodes = zones
            .iter()
            .enumerate()
            .map(|(i, z)| Node {
                zone: z.clone(),
                role: if i == 0 { Role::Primary } else { Role::Replica },
                keys: HashSet::new(),
                zone_lost: false,
            })
            .collect();
        Store {
            cfg,
            state: Mutex::new(State {
                nodes,
                primary: 0,
                generation: 0,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Write `id` to the primary and replicate it as configured.
    pub async fn create(self: &Arc<Self>, id: u64) -> Created {
        let generation = {
            let mut s = self.lock();
            let p = s.primary;
            if s.nodes[p].zone_lost {
                return Created::Unavailable;
            }
            if !s.nodes[p].keys.insert(id) {
                return Created::Exists;
            }
            s.generation
        };
        match self.cfg.replication {
            Replication::Async => {
                let store = Arc::clone(self);
                tokio::spawn(async move {
                    tokio::time::sleep(store.cfg.delay).await;
                    store.replicate(id, generation);
                });
                Created::New
            }
            Replication::Sync => {
                tokio::time::sleep(self.cfg.delay).await;
                if self.replicate(id, generation) {
                    Created::New
                } else {
                    Created::PrimaryLost
                }
            }
        }
    }

    /// Apply `id` to every replica, unless a failover happened since it was written.
    fn replicate(&self, id: u64, generation: u64) -> bool {
        let mut s = self.lock();
        if s.generation != generation {
            return false;
        }
        for n in s
            .nodes
            .iter_mut()
            .filter(|n| n.role == Role::Replica && !n.zone_lost)
        {
            n.keys.insert(id);
        }
        true
    }

    /// Whether the current primary holds `id`; `None` while its zone is lost.
    pub fn read(&self, id: u64) -> Option<bool> {
        let s = self.lock();
        let p = &s.nodes[s.primary];
        (!p.zone_lost).then(|| p.keys.contains(&id))
    }

    /// The node in `zone` lost (`true`) or back (`false`). Back, a replica catches up
    /// with the primary (what it missed streams in); a primary keeps what it holds.
    pub fn set_zone_lost(&self, zone: &str, lost: bool) {
        let mut s = self.lock();
        let primary = s.primary;
        let copy = s.nodes[primary].keys.clone();
        for (i, n) in s
            .nodes
            .iter_mut()
            .enumerate()
            .filter(|(_, n)| n.zone == zone)
        {
            if n.zone_lost && !lost && n.role == Role::Replica && i != primary {
                n.keys = copy.clone();
            }
            n.zone_lost = lost;
        }
    }

    /// Promote the replica in `to` (default: the first replica in zone order); the old
    /// primary is fenced (`Down`). Writes it acknowledged but had not replicated stay on
    /// it alone.
    pub fn failover(&self, to: Option<&str>) -> Result<StoreStatus, String> {
        let mut s = self.lock();
        let candidate = s.nodes.iter().position(|n| {
            n.role == Role::Replica && !n.zone_lost && to.is_none_or(|z| z == n.zone)
        });
        let Some(new) = candidate else {
            return Err(match to {
                Some(z) => format!("no replica in zone `{z}` to promote"),
                None => "no replica to promote".into(),
            });
        };
        let old = s.primary;
        s.nodes[old].role = Role::Down;
        s.nodes[new].role = Role::Primary;
        s.primary = new;
        s.generation += 1;
        drop(s);
        Ok(self.status())
    }

    /// Make the store whole: every fenced node rejoins as a replica of the current
    /// primary with a fresh copy of its data (its unreplicated writes are discarded, as
    /// a rewind or re-clone would). Nothing to do when no node is fenced.
    pub fn rejoin(&self) -> (usize, StoreStatus) {
        let mut s = self.lock();
        let copy = s.nodes[s.primary].keys.clone();
        let mut rejoined = 0;
        for n in s.nodes.iter_mut().filter(|n| n.role == Role::Down) {
            n.role = Role::Replica;
            n.keys = copy.clone();
            rejoined += 1;
        }
        drop(s);
        (rejoined, self.status())
    }

    pub fn status(&self) -> StoreStatus {
        let s = self.lock();
        StoreStatus {
            replication: self.cfg.replication,
            delay_ms: self.cfg.delay.as_millis() as u64,
            primary: s.nodes[s.primary].zone.clone(),
            nodes: s
                .nodes
                .iter()
                .map(|n| NodeStatus {
                    zone: n.zone.clone(),
                    role: n.role,
                    keys: n.keys.len(),
                    zone_lost: n.zone_lost,
                })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(replication: Replication) -> Arc<Store> {
        let zones: Vec<String> = ["a", "b", "c"].iter().map(|z| z.to_string()).collect();
        Arc::new(Store::new(
            StoreConfig {
                replication,
                delay: Duration::from_millis(50),
            },
            &zones,
        ))
    }

    #[tokio::test]
    async fn async_failover_loses_the_acknowledged_unreplicated_writes() {
        let s = store(Replication::Async);
        assert_eq!(s.create(1).await, Created::New);
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(s.create(2).await, Created::New);
        assert_eq!(s.create(2).await, Created::Exists);
        let st = s.failover(None).unwrap();
        assert_eq!(st.primary, "b");
        assert_eq!(s.read(1), Some(true));
        assert_eq!(s.read(2), Some(false), "acked on a, never replicated");
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(
            s.read(2),
            Some(false),
            "a replication from the old primary is void"
        );
        let (n, st) = s.rejoin();
        assert_eq!(n, 1);
        assert_eq!(st.primary, "b");
        assert!(st.nodes.iter().all(|n| n.role != Role::Down && n.keys == 1));
        assert_eq!(s.rejoin().0, 0, "idempotent");
    }

    #[tokio::test]
    async fn sync_writes_are_on_the_replicas_before_the_ack() {
        let s = store(Replication::Sync);
        assert_eq!(s.create(1).await, Created::New);
        s.failover(Some("c")).unwrap();
        assert_eq!(s.read(1), Some(true));
        assert_eq!(
            s.failover(Some("a")).unwrap_err(),
            "no replica in zone `a` to promote"
        );
    }

    #[tokio::test]
    async fn a_sync_write_whose_primary_fails_meanwhile_is_not_acknowledged() {
        let s = store(Replication::Sync);
        let writer = tokio::spawn({
            let s = Arc::clone(&s);
            async move { s.create(7).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        s.failover(None).unwrap();
        assert_eq!(writer.await.unwrap(), Created::PrimaryLost);
        assert_eq!(s.read(7), Some(false));
    }

    #[tokio::test]
    async fn a_lost_zone_loses_its_node_until_it_returns() {
        let s = store(Replication::Sync);
        s.set_zone_lost("b", true);
        assert_eq!(
            s.create(1).await,
            Created::New,
            "the live replica c confirms"
        );
        let keys = |st: &StoreStatus, z: &str| {
            st.nodes
                .iter()
                .find(|n| n.zone == z)
                .map(|n| (n.keys, n.zone_lost))
        };
        assert_eq!(keys(&s.status(), "b"), Some((0, true)), "b missed it");
        assert!(
            s.failover(Some("b")).is_err(),
            "a node in a lost zone cannot be promoted"
        );
        s.set_zone_lost("b", false);
        assert_eq!(keys(&s.status(), "b"), Some((1, false)), "caught up");

        s.set_zone_lost("a", true);
        assert_eq!(
            s.create(2).await,
            Created::Unavailable,
            "the primary's zone"
        );
        assert_eq!(s.read(1), None);
        s.set_zone_lost("a", false);
        assert_eq!(s.read(1), Some(true), "the primary keeps its data");
        assert_eq!(s.create(2).await, Created::New);
    }
}
