//! Pure checks of the Kubernetes zone layer and of `pods:`; their `plan` text and
//! exclusive-target keys.

use super::select::{check_selector, Pick};
use super::spec::{KubernetesZoneSpec, PodCap, PodsAction, PodsFaultSpec, PodsMode, ZoneAction};
use crate::percent::Percent;
use crate::spec::check::Errors;
use serde::Serialize;
use std::time::Duration;

pub const DEFAULT_ZONE_LABEL: &str = "topology.kubernetes.io/zone";
pub const DEFAULT_EVICTION_TIMEOUT: Duration = Duration::from_secs(30);

/// What a Kubernetes fault does to the pods it chose, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub enum PodAction {
    /// Through the Eviction API; a 429 (a PodDisruptionBudget) retried until `timeout`.
    Evict { timeout: Duration },
    /// DELETE, with this grace period in seconds (the pod's own when `None`).
    Delete { grace_seconds: Option<u32> },
}

impl PodAction {
    fn describe(self) -> String {
        match self {
            PodAction::Evict { .. } => "evict".into(),
            PodAction::Delete {
                grace_seconds: Some(s),
            } => format!("delete (grace period {s}s)"),
            PodAction::Delete {
                grace_seconds: None,
            } => "delete".into(),
        }
    }
}

/// A zone loss on Kubernetes, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct ZoneLossPlan {
    pub zone: String,
    pub zone_label: String,
    pub action: ZoneAction,
    pub node_selector: Option<String>,
    pub namespace: Option<String>,
    pub pod_selector: Option<String>,
    pub max_nodes: Option<u32>,
    pub max_pods: Option<PodCap>,
    pub context: Option<String>,
    /// What `cordon_and_evict` or `delete_pods` does to each pod.
    pub pods: PodAction,
}

impl ZoneLossPlan {
    /// The label selector of the zone's nodes.
    pub fn node_selector(&self) -> String {
        let zone = format!("{}={}", self.zone_label, self.zone);
        match &self.node_selector {
            Some(extra) => format!("{zone},{extra}"),
            None => zone,
        }
    }

    pub fn describe(&self) -> String {
        let pods = pods_words(&self.namespace, &self.pod_selector);
        let what = match self.action {
            ZoneAction::CordonAndEvict => format!("cordon its nodes and evict {pods}"),
            ZoneAction::DeletePods => format!("{} {pods} on its nodes", self.pods.describe()),
            ZoneAction::Isolate => {
                format!("isolate {pods} on its nodes (deny-all NetworkPolicy)")
            }
        };
        format!(
            "lose zone `{}` on Kubernetes (nodes {}){}: {what}{}",
            self.zone,
            self.node_selector(),
            context_words(&self.context),
            caps_words(self.max_nodes, self.max_pods),
        )
    }

    /// What it does to the cluster, for `run`'s refusal without `--allow-destructive`.
    pub fn destructive(&self) -> String {
        let pods = pods_words(&self.namespace, &self.pod_selector);
        let nodes = format!(
            "the Kubernetes nodes {}{}",
            self.node_selector(),
            context_words(&self.context)
        );
        let what = match self.action {
            ZoneAction::CordonAndEvict => format!("cordons {nodes} and evicts {pods} on them"),
            ZoneAction::DeletePods => format!("deletes {pods} on {nodes}"),
            ZoneAction::Isolate => format!("cuts off the network of {pods} on {nodes}"),
        };
        format!("{what}{}", caps_words(self.max_nodes, self.max_pods))
    }

    pub fn exclusive_key(&self) -> String {
        format!(
            "Kubernetes nodes {}{}",
            self.node_selector(),
            context_words(&self.context)
        )
    }
}

/// A `pods:` fault, resolved.
#[derive(Debug, Clone, Serialize)]
pub struct PodsFault {
    pub namespace: String,
    pub selector: String,
    pub pick: Pick,
    pub action: PodAction,
    pub max_pods: Option<PodCap>,
    pub context: Option<String>,
}

impl PodsFault {
    pub fn describe(&self) -> String {
        format!(
            "{} {} of the pods {} in namespace {}{}{}",
            self.action.describe(),
            self.pick.describe(),
            self.selector,
            self.namespace,
            context_words(&self.context),
            caps_words(None, self.max_pods),
        )
    }

    /// What it does to the cluster, for `run`'s refusal without `--allow-destructive`.
    pub fn destructive(&self) -> String {
        let verb = match self.action {
            PodAction::Evict { .. } => "evicts",
            PodAction::Delete { .. } => "deletes",
        };
        format!(
            "{verb} {} of the Kubernetes pods {} in namespace {}{}{}",
            self.pick.describe(),
            self.selector,
            self.namespace,
            context_words(&self.context),
            caps_words(None, self.max_pods),
        )
    }

    pub fn exclusive_key(&self) -> String {
        format!(
            "Kubernetes pods {} in {}{}",
            self.selector,
            self.namespace,
            context_words(&self.context)
        )
    }
}

fn context_words(context: &Option<String>) -> String {
    context
        .as_ref()
        .map_or_else(String::new, |c| format!(" (context {c})"))
}

/// "the pods app=web in namespace shop", "every pod in every namespace".
fn pods_words(namespace: &Option<String>, selector: &Option<String>) -> String {
    let ns = namespace
        .as_ref()
        .map_or_else(|| "every namespace".into(), |n| format!("namespace {n}"));
    match selector {
        Some(s) => format!("the pods {s} in {ns}"),
        None => format!("every pod in {ns}"),
    }
}

fn caps_words(max_nodes: Option<u32>, max_pods: Option<PodCap>) -> String {
    let caps: Vec<String> = max_nodes
        .map(|n| format!("{n} nodes"))
        .into_iter()
        .chain(max_pods.map(|p| p.to_string()))
        .collect();
    if caps.is_empty() {
        String::new()
    } else {
        format!(" (at most {})", caps.join(", "))
    }
}

/// Check an `az_loss: {kubernetes: ...}` layer at `path`.
pub fn compile_zone_loss(
    zone: &str,
    s: &KubernetesZoneSpec,
    path: &str,
    e: &mut Errors,
) -> Option<ZoneLossPlan> {
    let before = e.count();
    let zone_label = s.zone_label.clone().unwrap_or(DEFAULT_ZONE_LABEL.into());
    check_zone_selector(zone, &zone_label, path, e);
    check_optional_selector(&s.node_selector, &format!("{path}.node_selector"), e);
    check_optional_selector(&s.pod_selector, &format!("{path}.pod_selector"), e);
    check_name(&s.namespace, &format!("{path}.namespace"), e);
    check_cap(s.max_nodes.map(u64::from), &format!("{path}.max_nodes"), e);
    check_pod_cap(s.max_pods, &format!("{path}.max_pods"), e);
    let pods = zone_pod_action(s, path, e);
    (e.count() == before).then(|| ZoneLossPlan {
        zone: zone.to_string(),
        zone_label,
        action: s.action,
        node_selector: s.node_selector.clone(),
        namespace: s.namespace.clone(),
        pod_selector: s.pod_selector.clone(),
        max_nodes: s.max_nodes,
        max_pods: s.max_pods,
        context: s.context.clone(),
        pods,
    })
}

fn check_zone_selector(zone: &str, label: &str, path: &str, e: &mut Errors) {
    if let Err(why) = check_selector(&format!("{label}={zone}")) {
        let at = if label == DEFAULT_ZONE_LABEL {
            format!("{path}.zone")
        } else {
            format!("{path}.zone_label")
        };
        e.at(
            at,
            format!("`{label}={zone}` is not a node label selector: {why}"),
        );
    }
}

/// The per-pod action a zone loss takes, with the options that belong to it.
fn zone_pod_action(s: &KubernetesZoneSpec, path: &str, e: &mut Errors) -> PodAction {
    let misplaced = |key: &str, only: &str, e: &mut Errors| {
        e.at(
            format!("{path}.{key}"),
            format!("`{key}` only applies to `action: {only}`"),
        )
    };
    if s.action != ZoneAction::DeletePods && s.grace_period.is_some() {
        misplaced("grace_period", "delete_pods", e);
    }
    if s.action != ZoneAction::CordonAndEvict && s.eviction_timeout.is_some() {
        misplaced("eviction_timeout", "cordon_and_evict", e);
    }
    match s.action {
        ZoneAction::DeletePods => PodAction::Delete {
            grace_seconds: grace_seconds(s.grace_period.map(|d| d.0), path, e),
        },
        ZoneAction::CordonAndEvict | ZoneAction::Isolate => PodAction::Evict {
            timeout: eviction_timeout(s.eviction_timeout.map(|d| d.0), path, e),
        },
    }
}

/// Check a `pods:` fault at `path`.
pub fn compile_pods(s: &PodsFaultSpec, path: &str, e: &mut Errors) -> Option<PodsFault> {
    let before = e.count();
    check_name(&Some(s.namespace.clone()), &format!("{path}.namespace"), e);
    if let Err(why) = check_selector(&s.selector) {
        e.at(format!("{path}.selector"), why);
    }
    let pick = pick(s, path, e);
    check_pod_cap(s.max_pods, &format!("{path}.max_pods"), e);
    let action = match s.action {
        PodsAction::Delete => {
            if s.eviction_timeout.is_some() {
                e.at(
                    format!("{path}.eviction_timeout"),
                    "`eviction_timeout` only applies to `action: evict`",
                );
            }
            PodAction::Delete {
                grace_seconds: grace_seconds(s.grace_period.map(|d| d.0), path, e),
            }
        }
        PodsAction::Evict => {
            if s.grace_period.is_some() {
                e.at(
                    format!("{path}.grace_period"),
                    "`grace_period` only applies to `action: delete`",
                );
            }
            PodAction::Evict {
                timeout: eviction_timeout(s.eviction_timeout.map(|d| d.0), path, e),
            }
        }
    };
    (e.count() == before).then(|| PodsFault {
        namespace: s.namespace.clone(),
        selector: s.selector.clone(),
        pick: pick.unwrap_or(Pick::One),
        action,
        max_pods: s.max_pods,
        context: s.context.clone(),
    })
}

fn pick(s: &PodsFaultSpec, path: &str, e: &mut Errors) -> Option<Pick> {
    let vpath = format!("{path}.value");
    match (s.mode, s.value) {
        (PodsMode::One, None) => Some(Pick::One),
        (PodsMode::All, None) => Some(Pick::All),
        (PodsMode::One | PodsMode::All, Some(_)) => {
            e.at(
                vpath,
                "`value` only applies to `mode: fixed` or `mode: percent`",
            );
            None
        }
        (PodsMode::Fixed, Some(v)) if v >= 1.0 && v.fract() == 0.0 && v <= 1e6 => {
            Some(Pick::Fixed(v as u64))
        }
        (PodsMode::Fixed, _) => {
            e.at(
                vpath,
                "`mode: fixed` needs `value`: a whole number of pods, at least 1",
            );
            None
        }
        (PodsMode::Percent, Some(v)) if v > 0.0 => match Percent::from_f64(v) {
            Ok(p) => Some(Pick::Share(p)),
            Err(why) => {
                e.at(vpath, why);
                None
            }
        },
        (PodsMode::Percent, _) => {
            e.at(
                vpath,
                "`mode: percent` needs `value`: a share above 0 and at most 100",
            );
            None
        }
    }
}

fn grace_seconds(grace: Option<Duration>, path: &str, e: &mut Errors) -> Option<u32> {
    let grace = grace?;
    if grace.subsec_nanos() != 0 || grace.as_secs() > u64::from(u32::MAX) {
        e.at(
            format!("{path}.grace_period"),
            "must be a whole number of seconds (Kubernetes counts grace periods in seconds)",
        );
        return None;
    }
    Some(grace.as_secs() as u32)
}

fn eviction_timeout(t: Option<Duration>, path: &str, e: &mut Errors) -> Duration {
    let t = t.unwrap_or(DEFAULT_EVICTION_TIMEOUT);
    if t.is_zero() {
        e.at(format!("{path}.eviction_timeout"), "must be longer than 0s");
    }
    t
}

fn check_optional_selector(s: &Option<String>, path: &str, e: &mut Errors) {
    if let Some(Err(why)) = s.as_deref().map(check_selector) {
        e.at(path, why);
    }
}

/// A namespace is a DNS label: lowercase letters, digits and `-`, at most 63.
fn check_name(name: &Option<String>, path: &str, e: &mut Errors) {
    let Some(name) = name else { return };
    let ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !ok {
        e.at(path, format!("`{name}` is not a namespace name"));
    }
}

fn check_cap(cap: Option<u64>, path: &str, e: &mut Errors) {
    if cap == Some(0) {
        e.at(
            path,
            "must be at least 1 (a fault that may touch nothing does nothing)",
        );
    }
}

fn check_pod_cap(cap: Option<PodCap>, path: &str, e: &mut Errors) {
    match cap {
        Some(PodCap::Count(n)) => check_cap(Some(n), path, e),
        Some(PodCap::Share(p)) if p.as_f64() <= 0.0 => e.at(path, "must be above 0%"),
        _ => {}
    }
}
