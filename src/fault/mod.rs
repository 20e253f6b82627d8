//! Fault injection: one folder per backend, closed enums here that dispatch to them.
//!
//! The safety contract (see `docs/writing-a-fault.md`): `prepare` resolves the target
//! and returns the [`Undo`] that reverts the fault *without changing anything*; the
//! engine journals that undo (fsync) and only then calls `inject`, which returns once
//! the fault has taken effect. Reverting = applying the undo, the same code whether the
//! engine reverts at the end of a fault, on Ctrl-C, after a panic, or `shakeout
//! rollback` reverts what a killed run left. Every undo is idempotent.
//!
//! Every backend folder has the same files: `spec.rs` (YAML mirror), `compile.rs`
//! (pure checks into a resolved plan, `describe` text, exclusive-target key),
//! `inject.rs` (`prepare`, `inject`), `undo.rs` (journaled undo: `apply`,
//! `manual_fix`) and, when the backend needs something for the whole run,
//! `lifecycle.rs`. A backend knows nothing of probes, plans or reports.
//!
//! Adding a fault kind: a row in [`fault_kinds!`] below (its YAML key and spec type),
//! then the compiler points at every `match` that needs an arm.

pub mod az_loss;
pub mod demo;
pub mod ec2;
pub mod kubernetes;
pub mod patroni;
pub mod postgres;
pub mod process;
pub mod proxy;
mod run_wide;

pub use crate::record::Milestone;
pub use run_wide::{RunWide, SetupError, UndoLog};

use crate::spec::check::{exactly_one, Errors};
use crate::spec::Dur;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The one table of fault kinds: YAML key => spec-kind variant (spec type).
///
/// It generates the `faults:` entry mirror [`FaultSpec`] (common fields plus one
/// optional field per key, so serde's "unknown field, did you mean" lists every kind),
/// the list of keys used by the exactly-one check, and [`FaultSpecKind`], the enum
/// that [`compile`] dispatches on.
macro_rules! fault_kinds {
    ($( $(#[$doc:meta])* $key:ident => $variant:ident($spec:ty), )*) => {
        /// One entry of `faults:`: when, for how long, and exactly one kind key.
        #[derive(Debug, Clone, Deserialize, Serialize)]
        #[serde(deny_unknown_fields)]
        pub struct FaultSpec {
            pub name: String,
            /// Offset from run start.
            pub at: Dur,
            /// How long the fault stays applied before it is reverted.
            pub duration: Dur,
            $( $(#[$doc])* #[serde(default)] pub $key: Option<$spec>, )*
        }

        /// The kind a fault gives, borrowed from its spec.
        pub enum FaultSpecKind<'a> {
            $( $variant(&'a $spec), )*
        }

        impl FaultSpec {
            /// Every kind key, in table order.
            pub const KINDS: &'static [&'static str] = &[$( stringify!($key) ),*];

            /// Each kind key and whether this fault gives it.
            pub fn kinds_given(&self) -> Vec<(&'static str, bool)> {
                vec![$( (stringify!($key), self.$key.is_some()) ),*]
            }

            /// The kinds this fault gives, with their YAML keys.
            pub fn kinds(&self) -> Vec<(&'static str, FaultSpecKind<'_>)> {
                let mut out = Vec::new();
                $( if let Some(s) = &self.$key {
                    out.push((stringify!($key), FaultSpecKind::$variant(s)));
                } )*
                out
            }
        }
    };
}

fault_kinds! {
    /// Lose one zone in every layer named.
    az_loss => AzLoss(az_loss::AzLossSpec),
    /// Pause or kill a local process.
    process => Process(process::ProcessFaultSpec),
    /// Add latency through a proxy.
    latency => Latency(proxy::LatencyFaultSpec),
    /// Another network fault through a proxy, or the proxy down.
    network => Network(proxy::NetworkFaultSpec),
    /// Kill or stall a PostgreSQL primary, or promote its standby.
    postgres => Postgres(postgres::PostgresFaultSpec),
    /// Switch over, fail over or lose a member of a Patroni cluster.
    patroni => Patroni(patroni::PatroniFaultSpec),
    /// Promote a replica of the demo's store.
    db_failover => DbFailover(demo::DbFailoverSpec),
    /// Delete or evict Kubernetes pods chosen by label selector.
    pods => Pods(kubernetes::PodsFaultSpec),
}

/// `target:`: what the run starts or acts on; exactly one key.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TargetSpec {
    #[serde(default)]
    pub demo: Option<demo::DemoTargetSpec>,
}

/// The target, resolved.
#[derive(Debug, Clone, Serialize)]
pub enum TargetPlan {
    Demo(demo::DemoPlan),
}

impl TargetPlan {
    pub fn demo(&self) -> Option<&demo::DemoPlan> {
        match self {
            TargetPlan::Demo(d) => Some(d),
        }
    }

    /// Its lines in `shakeout plan`.
    pub fn describe(&self) -> String {
        match self {
            TargetPlan::Demo(d) => demo::describe_target(d),
        }
    }
}

/// Check `target:`.
pub fn compile_target(t: &TargetSpec, e: &mut Errors) -> Option<TargetPlan> {
    let Some(d) = &t.demo else {
        e.at("target", "name the target, e.g. `demo:`");
        return None;
    };
    demo::compile_target(d, "target.demo", e).map(TargetPlan::Demo)
}

/// What a fault's compile step may look at besides its own spec.
pub struct CompileContext<'a> {
    /// The fault's name (toxics are named after it).
    pub fault: &'a str,
    pub target: Option<&'a TargetPlan>,
    pub proxies: &'a [proxy::ProxyPlan],
    /// How long the fault stays applied.
    pub duration: std::time::Duration,
}

/// The closed set of resolved faults: one variant per backend (`az_loss` holds the
/// zone's layers, each a backend's).
#[derive(Debug, Clone, Serialize)]
pub enum FaultKind {
    AzLoss(az_loss::AzLossPlan),
    Process(process::ProcessFault),
    Proxy(proxy::ProxyFault),
    Postgres(postgres::PostgresFault),
    Patroni(patroni::PatroniFault),
    DbFailover(demo::DbFailoverPlan),
    Pods(kubernetes::PodsFault),
}

/// Check the kind of the fault at `path` (`faults[i]`): exactly one kind key.
pub fn compile(
    f: &FaultSpec,
    path: &str,
    ctx: &CompileContext,
    e: &mut Errors,
) -> Option<FaultKind> {
    if !exactly_one(e, path, "fault kind", &f.kinds_given()) {
        return None;
    }
    let (key, kind) = f.kinds().pop()?;
    let kpath = format!("{path}.{key}");
    let (p, name) = (kpath.as_str(), ctx.fault);
    match kind {
        FaultSpecKind::AzLoss(s) => az_loss::compile(s, p, ctx, e).map(FaultKind::AzLoss),
        FaultSpecKind::Process(s) => process::compile(s, p, e).map(FaultKind::Process),
        FaultSpecKind::Latency(s) => {
            proxy::compile_latency(name, s, p, ctx.proxies, e).map(FaultKind::Proxy)
        }
        FaultSpecKind::Network(s) => {
            proxy::compile_network(name, s, p, ctx.proxies, e).map(FaultKind::Proxy)
        }
        FaultSpecKind::Postgres(s) => postgres::compile(s, p, e).map(FaultKind::Postgres),
        FaultSpecKind::Patroni(s) => patroni::compile(s, p, e).map(FaultKind::Patroni),
        FaultSpecKind::DbFailover(s) => {
            demo::compile_db_failover(s, ctx.target.and_then(|t| t.demo()), p, e)
                .map(FaultKind::DbFailover)
        }
        FaultSpecKind::Pods(s) => kubernetes::compile_pods(s, p, e).map(FaultKind::Pods),
    }
}

impl FaultKind {
    /// The YAML key the fault was written with (events, reports, `plan`).
    pub fn kind_name(&self) -> &'static str {
        match self {
            FaultKind::AzLoss(_) => "az_loss",
            FaultKind::Process(_) => "process",
            FaultKind::Proxy(p) => p.kind_name(),
            FaultKind::Postgres(_) => "postgres",
            FaultKind::Patroni(_) => "patroni",
            FaultKind::DbFailover(_) => "db_failover",
            FaultKind::Pods(_) => "pods",
        }
    }

    /// What the fault does, in words, for `shakeout plan` and the reports.
    pub fn describe(&self) -> String {
        match self {
            FaultKind::AzLoss(z) => z.describe(),
            FaultKind::Process(p) => p.describe(),
            FaultKind::Proxy(p) => p.describe(),
            FaultKind::Postgres(p) => p.describe(),
            FaultKind::Patroni(p) => p.describe(),
            FaultKind::DbFailover(f) => f.describe(),
            FaultKind::Pods(p) => p.describe(),
        }
    }

    /// What the fault changes, when two faults must not change it at the same time:
    /// the first revert would end both (a zone brought up, a process resumed, a proxy
    /// enabled).
    pub fn exclusive_keys(&self) -> Vec<String> {
        match self {
            FaultKind::AzLoss(z) => z.exclusive_keys(),
            FaultKind::Process(p) => vec![p.exclusive_key()],
            FaultKind::Proxy(p) => p.exclusive_key().into_iter().collect(),
            FaultKind::Postgres(p) => p.exclusive_keys(),
            FaultKind::Patroni(p) => vec![p.exclusive_key()],
            FaultKind::DbFailover(f) => vec![f.exclusive_key()],
            FaultKind::Pods(p) => vec![p.exclusive_key()],
        }
    }

    /// Why this fault is a destructive action on shared infrastructure (cloud instances,
    /// cluster nodes), if it is one. Such a fault runs only with `run --allow-destructive`:
    /// a spec alone cannot opt in, so a file copied from a colleague cannot stop
    /// production by surprise. Local faults (demo, processes, proxies, databases the
    /// operator names by data directory) are not.
    pub fn destructive(&self) -> Option<String> {
        match self {
            FaultKind::AzLoss(z) => z.destructive(),
            FaultKind::Process(_)
            | FaultKind::Proxy(_)
            | FaultKind::Postgres(_)
            | FaultKind::Patroni(_)
            | FaultKind::DbFailover(_) => None,
            FaultKind::Pods(p) => Some(p.destructive()),
        }
    }

    /// The proxy a latency fault slows and the round trip it asks to add.
    pub fn added_latency(&self) -> Option<(&str, f64)> {
        match self {
            FaultKind::Proxy(p) => p.added_latency_ms().map(|ms| (p.proxy.as_str(), ms)),
            FaultKind::AzLoss(_)
            | FaultKind::Process(_)
            | FaultKind::Postgres(_)
            | FaultKind::Patroni(_)
            | FaultKind::DbFailover(_)
            | FaultKind::Pods(_) => None,
        }
    }
}

/// How to revert one applied fault, as journaled. Each variant is a backend's own undo
/// type, tagged by its `action` (`{"action": "resume", ...}`), so the journal reads the
/// same as when the undos were one flat enum.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Undo {
    Demo(demo::DemoUndo),
    Process(process::ProcessUndo),
    Proxy(proxy::ProxyUndo),
    Postgres(Box<postgres::PostgresUndo>),
    Patroni(Box<patroni::PatroniUndo>),
    /// A zone lost in several layers, brought back together.
    Zone(az_loss::ZoneUndo),
    Ec2(ec2::Ec2Undo),
    Kubernetes(kubernetes::KubernetesUndo),
}

impl Undo {
    /// Revert. Idempotent. `Ok(note)` says what was done ("resumed process 1234",
    /// "nothing to do: ...").
    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            Undo::Demo(u) => u.apply().await,
            Undo::Process(u) => u.apply().await,
            Undo::Proxy(u) => u.apply().await,
            Undo::Postgres(u) => u.apply().await,
            Undo::Patroni(u) => u.apply().await,
            Undo::Zone(u) => u.apply().await,
            Undo::Ec2(u) => u.apply().await,
            Undo::Kubernetes(u) => u.apply().await,
        }
    }

    /// [`apply`](Self::apply), saying apart what the revert left for a person on
    /// purpose (`rejoin: false`): the engine records it for the report.
    pub async fn revert(&self) -> Result<Reverted, FaultError> {
        match self {
            Undo::Postgres(u) => u.revert().await,
            other => other.apply().await.map(Reverted::done),
        }
    }

    /// Why this undo, read back from a journal, must not be applied (it would reach a
    /// process it cannot prove is the one the fault touched), if it must not.
    pub fn distrust(&self) -> Option<String> {
        match self {
            Undo::Demo(_)
            | Undo::Proxy(_)
            | Undo::Postgres(_)
            | Undo::Ec2(_)
            | Undo::Kubernetes(_) => None,
            Undo::Process(u) => u.distrust(),
            Undo::Patroni(u) => u.distrust(),
            Undo::Zone(u) => u.distrust(),
        }
    }

    /// What is broken while this undo is pending, and how a person undoes it by hand.
    pub fn manual_fix(&self) -> String {
        match self {
            Undo::Demo(u) => u.manual_fix(),
            Undo::Process(u) => u.manual_fix(),
            Undo::Proxy(u) => u.manual_fix(),
            Undo::Postgres(u) => u.manual_fix(),
            Undo::Patroni(u) => u.manual_fix(),
            Undo::Zone(u) => u.manual_fix(),
            Undo::Ec2(u) => u.manual_fix(),
            Undo::Kubernetes(u) => u.manual_fix(),
        }
    }
}

/// What a revert did, and what it left for a person to finish when the spec asked it
/// to leave something (the steps, for the report).
#[derive(Debug, Clone, PartialEq)]
pub struct Reverted {
    pub note: String,
    pub left_behind: Option<String>,
}

impl Reverted {
    /// A revert that left nothing behind.
    pub fn done(note: String) -> Reverted {
        Reverted {
            note,
            left_behind: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum FaultError {
    #[error("{0}")]
    Target(String),
    #[error("{what}: {source}")]
    Io {
        what: String,
        #[source]
        source: std::io::Error,
    },
}

/// What `prepare` may need from the run.
#[derive(Debug, Clone)]
pub struct FaultContext {
    /// Where a fault's side files (restart logs) go.
    pub run_dir: PathBuf,
    /// Base URL of the API serving the run's built-in proxies, if it has any.
    pub proxy_api: Option<String>,
    /// The run's id, written on what a fault creates in a cloud account (tags), so a
    /// revert or a sweep finds it.
    pub run_id: String,
}

/// What a fault tells the run while it acts: the failover milestones it reached (the
/// run timestamps each when it is noted) and what it achieved (asked vs achieved).
pub struct FaultNotes<'a> {
    sink: &'a (dyn Fn(FaultNote) + Send + Sync),
}

/// One thing a fault noted.
#[derive(Debug, Clone, PartialEq)]
pub enum FaultNote {
    Milestone(Milestone),
    Check {
        metric: String,
        asked: Option<f64>,
        achieved: f64,
    },
}

impl<'a> FaultNotes<'a> {
    pub fn new(sink: &'a (dyn Fn(FaultNote) + Send + Sync)) -> FaultNotes<'a> {
        FaultNotes { sink }
    }

    /// Notes that go nowhere (a revert, a test).
    pub fn discard() -> FaultNotes<'static> {
        FaultNotes { sink: &|_| {} }
    }

    pub fn milestone(&self, m: Milestone) {
        (self.sink)(FaultNote::Milestone(m));
    }

    pub fn check(&self, metric: &str, asked: Option<f64>, achieved: f64) {
        (self.sink)(FaultNote::Check {
            metric: metric.to_string(),
            asked,
            achieved,
        });
    }
}

/// What a fault's preflight may need from the rest of the plan.
pub struct PreflightContext<'a> {
    pub proxies: &'a [proxy::ProxyPlan],
}

/// Before t=0, read-only: the fault's target exists and is in the state the fault
/// needs (a live process, a zone, a proxy, a reachable database). `Ok` says what was
/// found, `Err` what is missing. Called by `run` before anything is touched and by
/// `plan --preflight`.
pub async fn preflight(kind: &FaultKind, ctx: &PreflightContext<'_>) -> Result<String, FaultError> {
    match kind {
        FaultKind::AzLoss(z) => z.preflight().await,
        FaultKind::Process(p) => process::preflight(p),
        FaultKind::Proxy(p) => {
            let created = ctx
                .proxies
                .iter()
                .any(|x| x.name == p.proxy && x.listen.is_some() && x.upstream.is_some());
            proxy::preflight(p, created).await
        }
        FaultKind::Postgres(p) => postgres::preflight(p).await,
        FaultKind::Patroni(p) => patroni::preflight(p).await,
        FaultKind::DbFailover(f) => demo::preflight_failover(f).await,
        FaultKind::Pods(p) => kubernetes::preflight_pods(p).await,
    }
}

/// Resolve the target of a planned fault and say how to undo it. Changes nothing.
pub async fn prepare(name: &str, kind: &FaultKind, ctx: &FaultContext) -> Result<Undo, FaultError> {
    match kind {
        FaultKind::AzLoss(z) => z.prepare(name, ctx).await,
        FaultKind::Process(p) => process::prepare(name, p, ctx).map(Undo::Process),
        FaultKind::Proxy(p) => proxy::prepare(p, ctx).await.map(Undo::Proxy),
        FaultKind::Postgres(p) => postgres::prepare(name, p, ctx)
            .await
            .map(|u| Undo::Postgres(Box::new(u))),
        FaultKind::Patroni(p) => patroni::prepare(name, p, ctx)
            .await
            .map(|u| Undo::Patroni(Box::new(u))),
        FaultKind::DbFailover(f) => demo::prepare_failover(f).await.map(Undo::Demo),
        FaultKind::Pods(p) => kubernetes::prepare_pods(p).await.map(Undo::Kubernetes),
    }
}

/// Apply the fault; returns once it has taken effect, with what it did when the fault
/// chose its targets itself (the pods a Kubernetes fault removed), for the events and
/// the report. Call only after its undo is journaled. A database fault notes its
/// failover milestones and checks in `notes`.
pub async fn inject(
    kind: &FaultKind,
    undo: &Undo,
    notes: &FaultNotes<'_>,
) -> Result<Option<String>, FaultError> {
    match (kind, undo) {
        (FaultKind::AzLoss(z), u) => z.inject(u).await,
        (FaultKind::Process(p), Undo::Process(u)) => process::inject(p, u).await.map(|()| None),
        (FaultKind::Proxy(p), Undo::Proxy(u)) => proxy::inject(p, u).await.map(|()| None),
        (FaultKind::Postgres(p), Undo::Postgres(u)) => {
            postgres::inject(p, u, notes).await.map(|()| None)
        }
        (FaultKind::Patroni(p), Undo::Patroni(u)) => patroni::inject(p, u).await.map(|()| None),
        (FaultKind::DbFailover(f), Undo::Demo(_)) => demo::inject_failover(f).await.map(|()| None),
        (FaultKind::Pods(p), Undo::Kubernetes(u)) => kubernetes::inject_pods(p, u).await.map(Some),
        _ => Err(FaultError::Target(
            "internal: a fault with a foreign undo".into(),
        )),
    }
}

/// What the fault achieved, watched from just before its injection (`began`) while it
/// is applied; bounded in time. The notes are the same [`FaultNote`]s `inject` gives,
/// so the engine records both the same way. `None` for faults that measure nothing
/// this way.
pub fn watch(
    kind: &FaultKind,
    undo: &Undo,
    began: std::time::Instant,
) -> Option<std::pin::Pin<Box<dyn std::future::Future<Output = Vec<FaultNote>> + Send>>> {
    match (kind, undo) {
        (FaultKind::Patroni(p), Undo::Patroni(u)) => {
            let (p, u) = (p.clone(), u.clone());
            Some(Box::pin(
                async move { patroni::achieved(&p, &u, began).await },
            ))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests;
