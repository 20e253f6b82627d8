//! YAML mirror of the Kubernetes zone layer (`az_loss: {kubernetes: ...}`) and of the
//! `pods:` fault.

use crate::percent::Percent;
use crate::spec::Dur;
use serde::{Deserialize, Serialize};

/// What losing a zone means on Kubernetes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ZoneAction {
    /// Cordon the zone's nodes and evict their pods through the Eviction API
    /// (PodDisruptionBudgets honoured); reverted by uncordoning the nodes this run
    /// cordoned.
    CordonAndEvict,
    /// Delete the zone's pods; their controllers replace them (nothing to revert).
    DeletePods,
    /// Label the zone's pods and deny all their traffic with a NetworkPolicy; reverted
    /// by deleting both.
    Isolate,
}

/// `az_loss: {zone: a, kubernetes: {...}}`: the zone's nodes, selected by label.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KubernetesZoneSpec {
    pub action: ZoneAction,
    /// The node label holding the zone (default `topology.kubernetes.io/zone`).
    #[serde(default)]
    pub zone_label: Option<String>,
    /// Only the zone's nodes that also match this label selector (`node-role=worker`).
    #[serde(default)]
    pub node_selector: Option<String>,
    /// Only pods in this namespace (all namespaces when absent).
    #[serde(default)]
    pub namespace: Option<String>,
    /// Only pods matching this label selector (`app=web`).
    #[serde(default)]
    pub pod_selector: Option<String>,
    /// Refuse, before the first change, when the zone has more nodes than this.
    #[serde(default)]
    pub max_nodes: Option<u32>,
    /// Refuse, before the first change, when more pods than this would be touched: a
    /// count (`20`) or a share of the pods matching `namespace` and `pod_selector` in
    /// every zone (`"40%"`).
    #[serde(default)]
    pub max_pods: Option<PodCap>,
    /// The kubeconfig context (the current one, or in-cluster, when absent).
    #[serde(default)]
    pub context: Option<String>,
    /// `delete_pods`: the pods' grace period (their own when absent).
    #[serde(default)]
    pub grace_period: Option<Dur>,
    /// `cordon_and_evict`: how long an eviction a PodDisruptionBudget refuses (429) is
    /// retried before it is reported (default 30s).
    #[serde(default)]
    pub eviction_timeout: Option<Dur>,
}

/// How the `pods:` fault picks among the matching pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PodsMode {
    /// One pod, chosen at random.
    #[default]
    One,
    /// Every matching pod.
    All,
    /// `value` pods, chosen at random.
    Fixed,
    /// `value` percent of the matching pods (rounded down, at least one).
    Percent,
}

/// What the `pods:` fault does to the chosen pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PodsAction {
    /// DELETE the pod (optional `grace_period`).
    #[default]
    Delete,
    /// Evict it through the Eviction API (PodDisruptionBudgets honoured).
    Evict,
}

/// `pods: {namespace, selector, mode, value, action}`: kill pods by label.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PodsFaultSpec {
    pub namespace: String,
    /// Label selector of the pods to choose from (`app=web`).
    pub selector: String,
    #[serde(default)]
    pub mode: PodsMode,
    /// `fixed`: how many pods; `percent`: what share of them.
    #[serde(default)]
    pub value: Option<f64>,
    #[serde(default)]
    pub action: PodsAction,
    #[serde(default)]
    pub max_pods: Option<PodCap>,
    #[serde(default)]
    pub context: Option<String>,
    #[serde(default)]
    pub grace_period: Option<Dur>,
    #[serde(default)]
    pub eviction_timeout: Option<Dur>,
}

/// `max_pods: 20` or `max_pods: "40%"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PodCap {
    Count(u64),
    Share(Percent),
}

impl<'de> Deserialize<'de> for PodCap {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::{self, Visitor};
        struct V;
        impl Visitor<'_> for V {
            type Value = PodCap;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number of pods like 20, or a share like \"40%\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<PodCap, E> {
                Ok(PodCap::Count(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<PodCap, E> {
                u64::try_from(v)
                    .map(PodCap::Count)
                    .map_err(|_| E::custom("must not be negative"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PodCap, E> {
                match v.trim().strip_suffix('%') {
                    Some(_) => Percent::parse(v).map(PodCap::Share).map_err(E::custom),
                    None => v.trim().parse().map(PodCap::Count).map_err(|_| {
                        E::custom(format!("`{v}` is not a number or a share like \"40%\""))
                    }),
                }
            }
        }
        d.deserialize_any(V)
    }
}

impl std::fmt::Display for PodCap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PodCap::Count(n) => write!(f, "{n} pods"),
            PodCap::Share(p) => write!(f, "{}% of the matching pods", p.number()),
        }
    }
}
