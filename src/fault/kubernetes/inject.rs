//! `preflight` (reads only, lists every node and pod the fault would touch),
//! `prepare` (reads only, chooses the targets, checks the caps, returns the undo that
//! names them) and `inject` (acts on exactly what the undo names).

use super::client::{Cluster, Eviction};
use super::compile::{PodAction, PodsFault, ZoneLossPlan};
use super::select::{check_caps, disruptable, pick, NodeInfo, PodRef};
use super::spec::{PodCap, ZoneAction};
use super::undo::{namespaces, policy_name, KubernetesUndo};
use super::FaultError;
use std::time::Duration;
use tokio::time::Instant;

/// How often an eviction a PodDisruptionBudget refused is tried again.
const EVICTION_RETRY: Duration = Duration::from_millis(500);

/// What a zone loss would touch, read from the cluster.
struct ZoneTargets {
    nodes: Vec<NodeInfo>,
    pods: Vec<PodRef>,
    skipped: Vec<(PodRef, &'static str)>,
}

async fn zone_targets(c: &Cluster, p: &ZoneLossPlan) -> Result<ZoneTargets, FaultError> {
    let selector = p.node_selector();
    let nodes = c.nodes(&selector).await?;
    if nodes.is_empty() {
        return Err(FaultError::Target(format!(
            "zone `{}`: no node matches {selector}",
            p.zone
        )));
    }
    let mut listed = Vec::new();
    for n in &nodes {
        let on_node = c
            .pods(
                p.namespace.as_deref(),
                p.pod_selector.as_deref(),
                Some(&n.name),
            )
            .await?;
        listed.extend(on_node);
    }
    let (pods, skipped) = disruptable(listed);
    let all_matching = match p.max_pods {
        Some(PodCap::Share(_)) => {
            all_matching(c, p.namespace.as_deref(), p.pod_selector.as_deref()).await?
        }
        _ => pods.len(),
    };
    check_caps(
        nodes.len(),
        pods.len(),
        all_matching,
        p.max_nodes,
        p.max_pods,
    )
    .map_err(|why| FaultError::Target(format!("refused before any change: {why}")))?;
    Ok(ZoneTargets {
        nodes,
        pods,
        skipped,
    })
}

/// The pods a share cap is a share of: every pod matching, in every zone.
async fn all_matching(
    c: &Cluster,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<usize, FaultError> {
    Ok(disruptable(c.pods(namespace, selector, None).await?)
        .0
        .len())
}

fn list(pods: &[PodRef]) -> String {
    if pods.is_empty() {
        return "none".into();
    }
    pods.iter()
        .map(|p| match &p.node {
            Some(n) => format!("{p} on {n}"),
            None => p.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn verb(action: ZoneAction) -> &'static str {
    match action {
        ZoneAction::CordonAndEvict => "evict",
        ZoneAction::DeletePods => "delete",
        ZoneAction::Isolate => "isolate",
    }
}

/// Preflight, read-only: the zone's nodes exist and the caps allow the fault; says
/// every node and pod it would touch.
pub async fn preflight_zone(p: &ZoneLossPlan) -> Result<String, FaultError> {
    let c = Cluster::connect(p.context.as_deref()).await?;
    let t = zone_targets(&c, p).await?;
    let nodes: Vec<String> = t
        .nodes
        .iter()
        .map(|n| match (p.action, n.unschedulable) {
            (ZoneAction::CordonAndEvict, true) => format!("{} (already cordoned: left so)", n.name),
            _ => n.name.clone(),
        })
        .collect();
    let node_verb = match p.action {
        ZoneAction::CordonAndEvict => "would cordon",
        ZoneAction::DeletePods | ZoneAction::Isolate => "nodes",
    };
    let mut text = format!(
        "zone `{}`: {node_verb} {} node(s): {}; would {} {} pod(s): {}",
        p.zone,
        t.nodes.len(),
        nodes.join(", "),
        verb(p.action),
        t.pods.len(),
        list(&t.pods)
    );
    if !t.skipped.is_empty() {
        let left: Vec<String> = t
            .skipped
            .iter()
            .map(|(p, why)| format!("{p} ({why})"))
            .collect();
        text.push_str(&format!("; leaves {}", left.join(", ")));
    }
    Ok(text)
}

/// Choose the zone's targets and say how to undo the fault. Changes nothing.
pub async fn prepare_zone(p: &ZoneLossPlan) -> Result<KubernetesUndo, FaultError> {
    let c = Cluster::connect(p.context.as_deref()).await?;
    let t = zone_targets(&c, p).await?;
    let context = p.context.clone();
    Ok(match p.action {
        ZoneAction::CordonAndEvict => KubernetesUndo::K8sUncordon {
            context,
            token: new_token(),
            nodes: t
                .nodes
                .into_iter()
                .filter(|n| !n.unschedulable)
                .map(|n| n.name)
                .collect(),
            pods: t.pods,
        },
        ZoneAction::DeletePods => KubernetesUndo::K8sPodsRemoved {
            context,
            pods: t.pods,
        },
        ZoneAction::Isolate => KubernetesUndo::K8sUnisolate {
            context,
            token: new_token(),
            pods: t.pods,
        },
    })
}

/// A run's mark on what it changes: 12 hex digits, a valid label value.
fn new_token() -> String {
    format!("{:012x}", fastrand::u64(..) & 0xffff_ffff_ffff)
}

/// Lose the zone: act on exactly what the undo names. Returns what was done, naming
/// every node and pod.
pub async fn inject_zone(p: &ZoneLossPlan, undo: &KubernetesUndo) -> Result<String, FaultError> {
    let c = Cluster::connect(p.context.as_deref()).await?;
    match undo {
        KubernetesUndo::K8sUncordon {
            token, nodes, pods, ..
        } => {
            let cordoned = cordon(&c, nodes, token).await?;
            let evicted = remove(&c, pods, p.pods).await?;
            Ok(format!("{cordoned}; {evicted}"))
        }
        KubernetesUndo::K8sPodsRemoved { pods, .. } => remove(&c, pods, p.pods).await,
        KubernetesUndo::K8sUnisolate { token, pods, .. } => isolate(&c, pods, token).await,
    }
}

async fn cordon(c: &Cluster, nodes: &[String], token: &str) -> Result<String, FaultError> {
    let (mut done, mut left) = (Vec::new(), Vec::new());
    for node in nodes {
        if c.cordon(node, token).await? {
            done.push(node.as_str());
        } else {
            left.push(node.as_str());
        }
    }
    let mut text = format!("cordoned {} node(s): {}", done.len(), done.join(", "));
    if !left.is_empty() {
        text.push_str(&format!(
            " ({} cordoned by someone else meanwhile: left so)",
            left.join(", ")
        ));
    }
    Ok(text)
}

/// Delete or evict `pods`; evictions a PodDisruptionBudget refuses are retried until
/// the timeout, then named.
async fn remove(c: &Cluster, pods: &[PodRef], action: PodAction) -> Result<String, FaultError> {
    match action {
        PodAction::Delete { grace_seconds } => {
            let mut gone = Vec::new();
            for pod in pods {
                if !c.delete_pod(pod, grace_seconds).await? {
                    gone.push(pod.to_string());
                }
            }
            Ok(removed_words("deleted", pods, &gone, &[]))
        }
        PodAction::Evict { timeout } => evict_all(c, pods, Instant::now() + timeout).await,
    }
}

async fn evict_all(c: &Cluster, pods: &[PodRef], deadline: Instant) -> Result<String, FaultError> {
    let mut pending: Vec<&PodRef> = pods.iter().collect();
    let mut gone = Vec::new();
    let mut refused: Vec<(String, String)> = Vec::new();
    loop {
        refused.clear();
        for pod in std::mem::take(&mut pending) {
            match c.evict(pod).await? {
                Eviction::Evicted => {}
                Eviction::Gone => gone.push(pod.to_string()),
                Eviction::Refused(why) => {
                    refused.push((pod.to_string(), why));
                    pending.push(pod);
                }
            }
        }
        let now = Instant::now();
        if pending.is_empty() || now >= deadline {
            break;
        }
        // The last try is at the deadline itself, so a refusal is retried for all of it.
        tokio::time::sleep(EVICTION_RETRY.min(deadline - now)).await;
    }
    if !refused.is_empty() {
        tracing::warn!(
            "{} eviction(s) still refused at the deadline: {}",
            refused.len(),
            refused
                .iter()
                .map(|(p, _)| p.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(removed_words("evicted", pods, &gone, &refused))
}

fn removed_words(
    verb: &str,
    pods: &[PodRef],
    gone: &[String],
    refused: &[(String, String)],
) -> String {
    let done: Vec<String> = pods
        .iter()
        .map(PodRef::to_string)
        .filter(|p| !gone.contains(p) && !refused.iter().any(|(r, _)| r == p))
        .collect();
    let mut text = format!(
        "{verb} {} pod(s): {}",
        done.len(),
        if done.is_empty() {
            "none".into()
        } else {
            done.join(", ")
        }
    );
    if !gone.is_empty() {
        text.push_str(&format!("; already gone: {}", gone.join(", ")));
    }
    if let Some((_, why)) = refused.first() {
        let names: Vec<&str> = refused.iter().map(|(p, _)| p.as_str()).collect();
        text.push_str(&format!(
            "; refused until the deadline (PodDisruptionBudget): {} ({why})",
            names.join(", ")
        ));
    }
    text
}

async fn isolate(c: &Cluster, pods: &[PodRef], token: &str) -> Result<String, FaultError> {
    let name = policy_name(token);
    // The policy first: each pod is cut off the moment it is labelled.
    for ns in namespaces(pods) {
        c.create_deny_all(&ns, &name, token).await?;
    }
    let mut done = Vec::new();
    for pod in pods {
        if c.isolate_pod(pod, token).await? {
            done.push(pod.to_string());
        }
    }
    Ok(format!(
        "isolated {} pod(s) with NetworkPolicy {name}: {}",
        done.len(),
        if done.is_empty() {
            "none".into()
        } else {
            done.join(", ")
        }
    ))
}

/// What a `pods:` fault chooses from: every disruptable pod matching its selector.
async fn matching_pods(c: &Cluster, p: &PodsFault) -> Result<Vec<PodRef>, FaultError> {
    let (pods, _) = disruptable(c.pods(Some(&p.namespace), Some(&p.selector), None).await?);
    if pods.is_empty() {
        return Err(FaultError::Target(format!(
            "no running pod matches {} in namespace {}",
            p.selector, p.namespace
        )));
    }
    Ok(pods)
}

fn check_pods_cap(p: &PodsFault, chosen: usize, matching: usize) -> Result<(), FaultError> {
    check_caps(0, chosen, matching, None, p.max_pods)
        .map_err(|why| FaultError::Target(format!("refused before any change: {why}")))
}

/// Preflight, read-only: pods match, and the caps allow the pick.
pub async fn preflight_pods(p: &PodsFault) -> Result<String, FaultError> {
    let c = Cluster::connect(p.context.as_deref()).await?;
    let pods = matching_pods(&c, p).await?;
    let n = p.pick.count(pods.len());
    check_pods_cap(p, n, pods.len())?;
    Ok(format!(
        "would pick {n} of {} pod(s) matching {} in {}: {}",
        pods.len(),
        p.selector,
        p.namespace,
        list(&pods)
    ))
}

/// Pick the pods (at random) and journal them. Changes nothing.
pub async fn prepare_pods(p: &PodsFault) -> Result<KubernetesUndo, FaultError> {
    let c = Cluster::connect(p.context.as_deref()).await?;
    let pods = matching_pods(&c, p).await?;
    let matching = pods.len();
    let chosen = pick(pods, p.pick, &mut fastrand::Rng::new());
    check_pods_cap(p, chosen.len(), matching)?;
    Ok(KubernetesUndo::K8sPodsRemoved {
        context: p.context.clone(),
        pods: chosen,
    })
}

/// Delete or evict the pods the undo names.
pub async fn inject_pods(p: &PodsFault, undo: &KubernetesUndo) -> Result<String, FaultError> {
    let KubernetesUndo::K8sPodsRemoved { pods, .. } = undo else {
        return Err(FaultError::Target(
            "internal: a pods fault with a foreign undo".into(),
        ));
    };
    let c = Cluster::connect(p.context.as_deref()).await?;
    remove(&c, pods, p.action).await
}
