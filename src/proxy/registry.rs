//! The set of proxies, their listeners, connections and toxics. This is the
//! in-process API the experiment engine uses; the HTTP API is a thin layer
//! over it.

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::error::ProxyError;
use super::link::{self, Chain, ChainToxic};
use super::toxic::{Stream, ToxicSpec};

/// Listen address used when a proxy is created without one. Toxiproxy binds
/// all interfaces in that case; we stay on loopback.
pub const DEFAULT_PROXY_LISTEN: &str = "127.0.0.1:0";

/// How long a new client connection waits for the upstream to accept.
const UPSTREAM_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A proxy to create (Toxiproxy's create/populate body).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyConfig {
    #[serde(default)]
    pub name: String,
    /// `host:port` to bind; empty = `127.0.0.1:0`.
    #[serde(default)]
    pub listen: String,
    #[serde(default)]
    pub upstream: String,
    #[serde(default = "default_enabled")]
    pub enabled: bool,
}

fn default_enabled() -> bool {
    true
}

impl ProxyConfig {
    pub fn new(
        name: impl Into<String>,
        listen: impl Into<String>,
        upstream: impl Into<String>,
    ) -> Self {
        ProxyConfig {
            name: name.into(),
            listen: listen.into(),
            upstream: upstream.into(),
            enabled: true,
        }
    }

    fn check(&self) -> Result<(), ProxyError> {
        if self.name.is_empty() {
            return Err(ProxyError::MissingField("name".into()));
        }
        if self.upstream.is_empty() {
            return Err(ProxyError::MissingField("upstream".into()));
        }
        Ok(())
    }
}

/// Fields of a proxy update; `None` keeps the current value.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyUpdate {
    #[serde(default)]
    pub listen: Option<String>,
    #[serde(default)]
    pub upstream: Option<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A proxy as the API shows it. `listen` is the actually bound address once
/// the proxy has been started (so `127.0.0.1:0` becomes a real port).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProxyInfo {
    pub name: String,
    pub listen: String,
    pub upstream: String,
    pub enabled: bool,
    pub toxics: Vec<ToxicSpec>,
}

impl ProxyInfo {
    /// The bound listen address, if it parses as a socket address.
    pub fn listen_addr(&self) -> Option<SocketAddr> {
        self.listen.parse().ok()
    }
}

/// All proxies. Cheap to clone; clones share state.
#[derive(Clone, Default)]
pub struct Registry {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Serialises mutating operations, which await (bind, stop) and must
    /// not interleave (e.g. two creates of the same name).
    ops: tokio::sync::Mutex<()>,
    proxies: Mutex<BTreeMap<String, Arc<Proxy>>>,
    next_uid: AtomicU64,
}

struct Proxy {
    name: String,
    state: Mutex<State>,
    toxics: Mutex<Vec<Installed>>,
    /// Chain snapshots per direction (index: Stream::index); connections
    /// hold receivers and pick up changes without dropping.
    chains: [watch::Sender<Chain>; 2],
    conns: Arc<Mutex<ConnTable>>,
}

struct State {
    listen: String,
    upstream: String,
    enabled: bool,
    listener: Option<JoinHandle<()>>,
}

#[derive(Clone)]
struct Installed {
    spec: ToxicSpec,
    uid: u64,
    rev: u64,
}

#[derive(Default)]
struct ConnTable {
    next: u64,
    live: HashMap<u64, JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Critical sections only move plain values in and out; a panic in one
    // cannot leave them half-updated, so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Proxy {
    fn new(cfg: &ProxyConfig) -> Arc<Self> {
        Arc::new(Proxy {
            name: cfg.name.clone(),
            state: Mutex::new(State {
                listen: cfg.listen.clone(),
                upstream: cfg.upstream.clone(),
                enabled: false,
                listener: None,
            }),
            toxics: Mutex::new(Vec::new()),
            chains: [
                watch::Sender::new(Arc::new(Vec::new())),
                watch::Sender::new(Arc::new(Vec::new())),
            ],
            conns: Arc::new(Mutex::new(ConnTable::default())),
        })
    }

    fn info(&self) -> ProxyInfo {
        let st = lock(&self.state);
        let mut toxics: Vec<ToxicSpec> =
            lock(&self.toxics).iter().map(|t| t.spec.clone()).collect();
        // Toxiproxy lists upstream toxics first, then downstream.
        toxics.sort_by_key(|t| t.stream.index());
        ProxyInfo {
            name: self.name.clone(),
            listen: st.listen.clone(),
            upstream: st.upstream.clone(),
            enabled: st.enabled,
            toxics,
        }
    }

    /// Sends the chain of `stream` to every connection. Called with the
    /// toxics lock held, so concurrent changes publish in the order they
    /// were made and no connection ends up on a stale snapshot.
    fn publish(&self, toxics: &[Installed], stream: Stream) {
        let chain: Vec<ChainToxic> = toxics
            .iter()
            .filter(|t| t.spec.stream == stream)
            .map(|t| ChainToxic {
                uid: t.uid,
                rev: t.rev,
                kind: t.spec.kind,
                toxicity: t.spec.toxicity,
            })
            .collect();
        self.chains[stream.index()].send_replace(Arc::new(chain));
    }

    fn clear_toxics(&self) {
        let mut toxics = lock(&self.toxics);
        toxics.clear();
        self.publish(&toxics, Stream::Upstream);
        self.publish(&toxics, Stream::Downstream);
    }

    /// Binds and starts accepting. No-op when already enabled.
    async fn start(self: &Arc<Self>) -> Result<(), ProxyError> {
        let (listen, upstream) = {
            let st = lock(&self.state);
            if st.enabled {
                return Ok(());
            }
            (st.listen.clone(), st.upstream.clone())
        };
        let addr = if listen.is_empty() {
            DEFAULT_PROXY_LISTEN.to_string()
        } else {
            listen
        };
        let listener = TcpListener::bind(&addr)
            .await
            .map_err(|e| ProxyError::listen(&addr, &e))?;
        let bound = listener.local_addr().map(|a| a.to_string()).unwrap_or(addr);
        tracing::info!(proxy = %self.name, listen = %bound, upstream = %upstream, "started proxy");
        let task = tokio::spawn(accept_loop(Arc::clone(self), listener, upstream));
        let mut st = lock(&self.state);
        st.listen = bound;
        st.enabled = true;
        st.listener = Some(task);
        Ok(())
    }

    /// Closes the listener, then every open connection, and waits until
    /// both are really gone so a following connect is refused.
    async fn stop(&self) {
        let listener = {
            let mut st = lock(&self.state);
            st.enabled = false;
            st.listener.take()
        };
        if let Some(l) = listener {
            l.abort();
            let _ = l.await;
        }
        let conns: Vec<JoinHandle<()>> = lock(&self.conns).live.drain().map(|(_, h)| h).collect();
        if !conns.is_empty() {
            tracing::debug!(proxy = %self.name, connections = conns.len(), "closing connections");
        }
        for c in &conns {
            c.abort();
        }
        for c in conns {
            let _ = c.await;
        }
        tracing::info!(proxy = %self.name, "stopped proxy");
    }
}

async fn accept_loop(proxy: Arc<Proxy>, listener: TcpListener, upstream: String) {
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                // Typically EMFILE: back off instead of spinning.
                tracing::warn!(proxy = %proxy.name, error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
        };
        let up = proxy.chains[Stream::Upstream.index()].subscribe();
        let down = proxy.chains[Stream::Downstream.index()].subscribe();
        let upstream = upstream.clone();
        let name = proxy.name.clone();
        let table = Arc::clone(&proxy.conns);
        // Holding the table lock across spawn + insert guarantees the task's
        // own removal (which takes the same lock) happens after the insert.
        let mut t = lock(&proxy.conns);
        let id = t.next;
        t.next += 1;
        let handle = tokio::spawn(async move {
            connection(name, client, peer, upstream, up, down).await;
            lock(&table).live.remove(&id);
        });
        t.live.insert(id, handle);
    }
}

async fn connection(
    name: String,
    client: TcpStream,
    peer: SocketAddr,
    upstream: String,
    up: watch::Receiver<Chain>,
    down: watch::Receiver<Chain>,
) {
    let _ = client.set_nodelay(true);
    let server = match tokio::time::timeout(UPSTREAM_CONNECT_TIMEOUT, TcpStream::connect(&upstream))
        .await
    {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            tracing::warn!(proxy = %name, client = %peer, upstream = %upstream, error = %e, "unable to open connection to upstream");
            return;
        }
        Err(_) => {
            tracing::warn!(proxy = %name, client = %peer, upstream = %upstream, "upstream connect timed out");
            return;
        }
    };
    let _ = server.set_nodelay(true);
    link::tune_loopback(&client);
    link::tune_loopback(&server);
    tracing::debug!(proxy = %name, client = %peer, "accepted client");
    link::run(client, server, up, down).await;
    tracing::debug!(proxy = %name, client = %peer, "connection closed");
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    fn find(&self, name: &str) -> Result<Arc<Proxy>, ProxyError> {
        lock(&self.inner.proxies)
            .get(name)
            .cloned()
            .ok_or(ProxyError::ProxyNotFound)
    }

    fn uid(&self) -> u64 {
        self.inner.next_uid.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Creates a proxy and, if enabled, binds it. 409 if the name exists.
    pub async fn create(&self, p: ProxyConfig) -> Result<ProxyInfo, ProxyError> {
        p.check()?;
        let _op = self.inner.ops.lock().await;
        if lock(&self.inner.proxies).contains_key(&p.name) {
            return Err(ProxyError::ProxyAlreadyExists);
        }
        let proxy = Proxy::new(&p);
        if p.enabled {
            proxy.start().await?;
        }
        lock(&self.inner.proxies).insert(p.name.clone(), Arc::clone(&proxy));
        Ok(proxy.info())
    }

    /// Creates or replaces a set of proxies (Toxiproxy's `/populate`). All
    /// entries are validated before anything changes. An existing proxy
    /// with the same listen and upstream is kept as is (with its toxics).
    pub async fn populate(&self, ps: Vec<ProxyConfig>) -> Result<Vec<ProxyInfo>, ProxyError> {
        let mut seen = std::collections::HashSet::new();
        for (i, p) in ps.iter().enumerate() {
            if p.name.is_empty() {
                return Err(ProxyError::MissingField(format!("name at proxy {}", i + 1)));
            }
            if p.upstream.is_empty() {
                return Err(ProxyError::MissingField(format!(
                    "upstream at proxy {}",
                    i + 1
                )));
            }
            if !seen.insert(p.name.as_str()) {
                return Err(ProxyError::BadRequestBody(format!(
                    "duplicate proxy name {:?}",
                    p.name
                )));
            }
        }
        let _op = self.inner.ops.lock().await;
        let mut out = Vec::with_capacity(ps.len());
        for p in ps {
            let existing = lock(&self.inner.proxies).get(&p.name).cloned();
            if let Some(old) = existing {
                let same = {
                    let st = lock(&old.state);
                    st.listen == p.listen && st.upstream == p.upstream
                };
                if same {
                    out.push(old.info());
                    continue;
                }
                lock(&self.inner.proxies).remove(&p.name);
                old.stop().await;
            }
            let proxy = Proxy::new(&p);
            if p.enabled {
                proxy.start().await?;
            }
            lock(&self.inner.proxies).insert(p.name.clone(), Arc::clone(&proxy));
            out.push(proxy.info());
        }
        Ok(out)
    }

    /// Changes listen/upstream (restarting the listener and closing open
    /// connections, as Toxiproxy does) and/or enables/disables the proxy.
    pub async fn update(&self, name: &str, p: ProxyUpdate) -> Result<ProxyInfo, ProxyError> {
        let _op = self.inner.ops.lock().await;
        let proxy = self.find(name)?;
        let (listen, upstream, enabled) = {
            let st = lock(&proxy.state);
            (
                p.listen.unwrap_or_else(|| st.listen.clone()),
                p.upstream.unwrap_or_else(|| st.upstream.clone()),
                p.enabled.unwrap_or(st.enabled),
            )
        };
        let moved = {
            let st = lock(&proxy.state);
            listen != st.listen || upstream != st.upstream
        };
        if moved {
            proxy.stop().await;
            let mut st = lock(&proxy.state);
            st.listen = listen;
            st.upstream = upstream;
        }
        let running = lock(&proxy.state).enabled;
        if enabled && !running {
            proxy.start().await?;
        } else if !enabled && running {
            proxy.stop().await;
        }
        Ok(proxy.info())
    }

    /// Removes a proxy, closing its listener and connections.
    pub async fn delete(&self, name: &str) -> Result<(), ProxyError> {
        let _op = self.inner.ops.lock().await;
        let proxy = lock(&self.inner.proxies)
            .remove(name)
            .ok_or(ProxyError::ProxyNotFound)?;
        proxy.stop().await;
        Ok(())
    }

    pub fn get(&self, name: &str) -> Result<ProxyInfo, ProxyError> {
        Ok(self.find(name)?.info())
    }

    /// All proxies, sorted by name.
    pub fn list(&self) -> Vec<ProxyInfo> {
        let proxies: Vec<Arc<Proxy>> = lock(&self.inner.proxies).values().cloned().collect();
        proxies.iter().map(|p| p.info()).collect()
    }

    /// Adds a toxic; open connections pick it up on their next chunk
    /// (or immediately for timers such as `timeout`).
    pub async fn add_toxic(&self, proxy: &str, t: ToxicSpec) -> Result<ToxicSpec, ProxyError> {
        let p = self.find(proxy)?;
        if t.name.is_empty() {
            return Err(ProxyError::MissingField("name".into()));
        }
        t.validate()?;
        {
            let mut toxics = lock(&p.toxics);
            if toxics.iter().any(|x| x.spec.name == t.name) {
                return Err(ProxyError::ToxicAlreadyExists);
            }
            toxics.push(Installed {
                spec: t.clone(),
                uid: self.uid(),
                rev: 0,
            });
            p.publish(&toxics, t.stream);
        }
        tracing::info!(proxy = %proxy, toxic = %t.name, kind = t.kind.type_name(), stream = t.stream.as_str(), "added toxic");
        Ok(t)
    }

    /// Parses and adds a toxic from its JSON body (Toxiproxy's error order:
    /// invalid body/stream/type, then "toxic already exists", then bad
    /// attributes).
    pub async fn add_toxic_json(
        &self,
        proxy: &str,
        body: &serde_json::Value,
    ) -> Result<ToxicSpec, ProxyError> {
        let p = self.find(proxy)?;
        match ToxicSpec::from_json(body) {
            Ok(t) => self.add_toxic(proxy, t).await,
            Err(e @ ProxyError::BadRequestBody(_)) => {
                // A duplicate name wins over bad attributes in Toxiproxy.
                let name = body
                    .get("name")
                    .and_then(|n| n.as_str())
                    .map(str::to_string)
                    .or_else(|| {
                        let ty = body.get("type").and_then(|n| n.as_str())?;
                        let st = body
                            .get("stream")
                            .and_then(|n| n.as_str())
                            .filter(|s| !s.is_empty())
                            .unwrap_or("downstream");
                        Some(format!("{ty}_{st}"))
                    });
                if let Some(n) = name {
                    if lock(&p.toxics).iter().any(|x| x.spec.name == n) {
                        return Err(ProxyError::ToxicAlreadyExists);
                    }
                }
                Err(e)
            }
            Err(e) => Err(e),
        }
    }

    /// Updates a toxic's attributes and/or toxicity from a JSON body
    /// (`{"attributes":{...},"toxicity":x}`); given attributes replace the
    /// current ones, the rest stay.
    pub async fn update_toxic(
        &self,
        proxy: &str,
        name: &str,
        t: serde_json::Value,
    ) -> Result<ToxicSpec, ProxyError> {
        let p = self.find(proxy)?;
        let spec = {
            let mut toxics = lock(&p.toxics);
            let cur = toxics
                .iter_mut()
                .find(|x| x.spec.name == name)
                .ok_or(ProxyError::ToxicNotFound)?;
            let spec = cur.spec.updated(&t)?;
            cur.spec = spec.clone();
            cur.rev += 1;
            p.publish(&toxics, spec.stream);
            spec
        };
        tracing::info!(proxy = %proxy, toxic = %name, "updated toxic");
        Ok(spec)
    }

    /// The toxics of a proxy, upstream first.
    pub fn toxics(&self, proxy: &str) -> Result<Vec<ToxicSpec>, ProxyError> {
        Ok(self.get(proxy)?.toxics)
    }

    pub fn get_toxic(&self, proxy: &str, name: &str) -> Result<ToxicSpec, ProxyError> {
        self.toxics(proxy)?
            .into_iter()
            .find(|t| t.name == name)
            .ok_or(ProxyError::ToxicNotFound)
    }

    pub async fn remove_toxic(&self, proxy: &str, name: &str) -> Result<(), ProxyError> {
        let p = self.find(proxy)?;
        {
            let mut toxics = lock(&p.toxics);
            let i = toxics
                .iter()
                .position(|x| x.spec.name == name)
                .ok_or(ProxyError::ToxicNotFound)?;
            let stream = toxics.remove(i).spec.stream;
            p.publish(&toxics, stream);
        }
        tracing::info!(proxy = %proxy, toxic = %name, "removed toxic");
        Ok(())
    }

    /// Enables every proxy and removes every toxic (Toxiproxy's `/reset`).
    /// Proxies that fail to re-bind are logged and stay disabled.
    pub async fn reset(&self) {
        let _op = self.inner.ops.lock().await;
        let proxies: Vec<Arc<Proxy>> = lock(&self.inner.proxies).values().cloned().collect();
        for p in proxies {
            if let Err(e) = p.start().await {
                tracing::warn!(proxy = %p.name, error = %e, "reset: cannot re-enable proxy");
            }
            p.clear_toxics();
        }
    }

    /// Like [`Registry::reset`] but reports the first bind failure, which
    /// the HTTP API turns into an error response as Toxiproxy does.
    pub async fn try_reset(&self) -> Result<(), ProxyError> {
        let _op = self.inner.ops.lock().await;
        let proxies: Vec<Arc<Proxy>> = lock(&self.inner.proxies).values().cloned().collect();
        for p in proxies {
            p.start().await?;
            p.clear_toxics();
        }
        Ok(())
    }

    /// Closes every listener and connection and forgets all proxies.
    pub async fn shutdown(&self) {
        let _op = self.inner.ops.lock().await;
        let proxies: Vec<Arc<Proxy>> = std::mem::take(&mut *lock(&self.inner.proxies))
            .into_values()
            .collect();
        for p in proxies {
            p.stop().await;
        }
    }
}
