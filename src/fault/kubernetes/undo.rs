//! The journaled undos of the Kubernetes faults, tagged by `action`. Each holds the
//! run's token and exactly what the fault will touch, chosen by `prepare`, so `inject`
//! acts on what was journaled and a rollback finds what this run changed.

use super::client::Cluster;
use super::select::PodRef;
use super::FaultError;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum KubernetesUndo {
    /// `cordon_and_evict`: uncordon the nodes this run cordoned (those carrying its
    /// token); evicted pods are replaced by their controllers.
    K8sUncordon {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        token: String,
        /// The zone's nodes that were schedulable when the fault was prepared.
        nodes: Vec<String>,
        /// The pods the fault evicts.
        pods: Vec<PodRef>,
    },
    /// `delete_pods` and `pods:`: nothing to put back, their controllers replace them.
    K8sPodsRemoved {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        pods: Vec<PodRef>,
    },
    /// `isolate`: delete the deny-all NetworkPolicy and the pods' isolation label.
    K8sUnisolate {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<String>,
        token: String,
        pods: Vec<PodRef>,
    },
}

/// The deny-all NetworkPolicy of a run's token.
pub fn policy_name(token: &str) -> String {
    format!("shakeout-isolate-{token}")
}

/// The namespaces of `pods`, each once, sorted.
pub fn namespaces(pods: &[PodRef]) -> Vec<String> {
    let mut ns: Vec<String> = pods.iter().map(|p| p.namespace.clone()).collect();
    ns.sort();
    ns.dedup();
    ns
}

fn context_flag(context: &Option<String>) -> String {
    context
        .as_ref()
        .map_or_else(String::new, |c| format!(" --context {c}"))
}

impl KubernetesUndo {
    /// Revert. Idempotent: a node already uncordoned, a policy already deleted, a pod
    /// gone are all "nothing to do".
    pub async fn apply(&self) -> Result<String, FaultError> {
        match self {
            KubernetesUndo::K8sUncordon {
                context,
                token,
                nodes,
                ..
            } => uncordon(context.as_deref(), token, nodes).await,
            KubernetesUndo::K8sPodsRemoved { pods, .. } => Ok(format!(
                "nothing to do: the {} removed pods are replaced by their controllers",
                pods.len()
            )),
            KubernetesUndo::K8sUnisolate {
                context,
                token,
                pods,
            } => unisolate(context.as_deref(), token, pods).await,
        }
    }

    pub fn manual_fix(&self) -> String {
        match self {
            KubernetesUndo::K8sUncordon {
                context,
                token,
                nodes,
                ..
            } => format!(
                "nodes this run cordoned may still be: `kubectl{} uncordon NODE` for each of {} \
                 whose annotation {}={token}",
                context_flag(context),
                nodes.join(", "),
                super::client::CORDONED_BY,
            ),
            KubernetesUndo::K8sPodsRemoved { .. } => {
                "nothing: deleted pods are replaced by their controllers".into()
            }
            KubernetesUndo::K8sUnisolate {
                context,
                token,
                pods,
            } => namespaces(pods)
                .iter()
                .map(|ns| {
                    let c = context_flag(context);
                    format!(
                        "`kubectl{c} -n {ns} delete networkpolicy {}` and \
                         `kubectl{c} -n {ns} label pods -l {label}={token} {label}-`",
                        policy_name(token),
                        label = super::client::ISOLATED,
                    )
                })
                .collect::<Vec<_>>()
                .join("; "),
        }
    }
}

async fn uncordon(
    context: Option<&str>,
    token: &str,
    nodes: &[String],
) -> Result<String, FaultError> {
    let cluster = Cluster::connect(context).await?;
    let (mut done, mut left) = (Vec::new(), Vec::new());
    let mut errors = Vec::new();
    for node in nodes {
        match cluster.uncordon_if_ours(node, token).await {
            Ok(None) => done.push(node.as_str()),
            Ok(Some(why)) => left.push(format!("{node} ({why})")),
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(FaultError::Target(errors.join("; ")));
    }
    Ok(match (done.is_empty(), left.is_empty()) {
        (true, true) => "nothing to do: this run cordoned no node".into(),
        (true, false) => format!(
            "nothing to do: no node is cordoned by this run ({})",
            left.join(", ")
        ),
        (false, true) => format!("uncordoned {}", done.join(", ")),
        (false, false) => format!("uncordoned {}; left {}", done.join(", "), left.join(", ")),
    })
}

async fn unisolate(
    context: Option<&str>,
    token: &str,
    pods: &[PodRef],
) -> Result<String, FaultError> {
    let cluster = Cluster::connect(context).await?;
    let name = policy_name(token);
    let (mut deleted, mut released) = (0, 0);
    let mut errors = Vec::new();
    // Each namespace is tried even when another fails, so a partial revert does as much
    // as it can; a second apply (rollback) finishes the rest.
    for ns in namespaces(pods) {
        match cluster.delete_policy(&ns, &name).await {
            Ok(true) => deleted += 1,
            Ok(false) => {}
            Err(e) => errors.push(e.to_string()),
        }
        match cluster.release_pods(&ns, token).await {
            Ok(n) => released += n,
            Err(e) => errors.push(e.to_string()),
        }
    }
    if !errors.is_empty() {
        return Err(FaultError::Target(errors.join("; ")));
    }
    Ok(if deleted == 0 && released == 0 {
        format!("nothing to do: no NetworkPolicy {name} and no pod labelled by this run")
    } else {
        format!("deleted {deleted} NetworkPolicy {name}, unlabelled {released} pods")
    })
}
