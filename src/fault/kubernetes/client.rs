//! The calls the Kubernetes faults make, through `kube` (feature `kubernetes`).
//!
//! Every change records whose it is, so a revert touches only what this run changed:
//! a node this run cordons carries the annotation [`CORDONED_BY`] with the run's
//! token, an isolated pod the label [`ISOLATED`], and the deny-all NetworkPolicy is
//! named after the token.

use super::select::{NodeInfo, PodInfo, PodRef};
use super::FaultError;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::api::{Api, DeleteParams, EvictParams, ListParams, Patch, PatchParams, PostParams};
use serde_json::json;
use std::time::Duration;

/// On a node this run cordoned: the run's token.
pub const CORDONED_BY: &str = "shakeout.dev/cordoned-by";
/// On a pod this run isolated: the run's token (the NetworkPolicy selects it).
pub const ISOLATED: &str = "shakeout.dev/isolated";
/// On the NetworkPolicy this run created: the run's token.
pub const CREATED_BY: &str = "shakeout.dev/created-by";

/// How long one API call may take before it counts as failed.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// A connection to one cluster (a kubeconfig context, or the current/in-cluster one).
pub struct Cluster {
    client: kube::Client,
}

/// What one eviction came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Eviction {
    Evicted,
    /// The pod was gone already.
    Gone,
    /// Refused for now (a PodDisruptionBudget: 429); the API's message.
    Refused(String),
}

fn api_error(what: &str, e: kube::Error) -> FaultError {
    let why = match &e {
        kube::Error::Api(r) => format!("{} {}: {}", r.code, r.reason, r.message),
        other => innermost(other),
    };
    FaultError::Target(format!("{what}: {why}"))
}

/// The innermost cause of a transport error ("Connection refused"), which says more
/// than the wrappers around it.
fn innermost(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

fn status_code(e: &kube::Error) -> Option<u16> {
    match e {
        kube::Error::Api(r) => Some(r.code),
        _ => None,
    }
}

impl Cluster {
    /// Connect the way `kubectl` would: the named kubeconfig context, else the current
    /// one, else the in-cluster service account.
    pub async fn connect(context: Option<&str>) -> Result<Cluster, FaultError> {
        let mut config = match context {
            Some(c) => {
                let options = kube::config::KubeConfigOptions {
                    context: Some(c.to_string()),
                    ..Default::default()
                };
                kube::Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| FaultError::Target(format!("kubeconfig context `{c}`: {e}")))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| FaultError::Target(format!("no Kubernetes configuration: {e}")))?,
        };
        config.connect_timeout = Some(CALL_TIMEOUT);
        config.read_timeout = Some(CALL_TIMEOUT);
        config.write_timeout = Some(CALL_TIMEOUT);
        let client = kube::Client::try_from(config)
            .map_err(|e| FaultError::Target(format!("Kubernetes client: {e}")))?;
        Ok(Cluster { client })
    }

    fn pods_api(&self, namespace: Option<&str>) -> Api<Pod> {
        match namespace {
            Some(ns) => Api::namespaced(self.client.clone(), ns),
            None => Api::all(self.client.clone()),
        }
    }

    /// The nodes matching a label selector.
    pub async fn nodes(&self, selector: &str) -> Result<Vec<NodeInfo>, FaultError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let list = api
            .list(&ListParams::default().labels(selector))
            .await
            .map_err(|e| api_error(&format!("list nodes {selector}"), e))?;
        let mut nodes: Vec<NodeInfo> = list
            .items
            .into_iter()
            .map(|n| NodeInfo {
                unschedulable: n.spec.as_ref().and_then(|s| s.unschedulable) == Some(true),
                name: n.metadata.name.unwrap_or_default(),
            })
            .collect();
        nodes.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(nodes)
    }

    /// The pods in `namespace` (all when `None`) matching `labels`, on `node` if given.
    pub async fn pods(
        &self,
        namespace: Option<&str>,
        labels: Option<&str>,
        node: Option<&str>,
    ) -> Result<Vec<PodInfo>, FaultError> {
        let mut params = ListParams::default();
        if let Some(l) = labels {
            params = params.labels(l);
        }
        let field = node.map(|n| format!("spec.nodeName={n}"));
        if let Some(f) = &field {
            params = params.fields(f);
        }
        let list = self
            .pods_api(namespace)
            .list(&params)
            .await
            .map_err(|e| api_error("list pods", e))?;
        Ok(list.items.into_iter().map(pod_info).collect())
    }

    /// Cordon `node` as this run's (annotation [`CORDONED_BY`] = `token`). `false`: the
    /// node was cordoned by someone else already and is left as it is.
    pub async fn cordon(&self, node: &str, token: &str) -> Result<bool, FaultError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let what = format!("cordon node {node}");
        let current = api.get(node).await.map_err(|e| api_error(&what, e))?;
        let cordoned = current.spec.as_ref().and_then(|s| s.unschedulable) == Some(true);
        let ours = annotation(&current.metadata, CORDONED_BY) == Some(token);
        if cordoned {
            return Ok(ours);
        }
        // resourceVersion makes the patch conditional: if someone changed the node since
        // it was read (maybe cordoned it), the API answers 409 and nothing is claimed.
        let patch = json!({
            "metadata": {
                "annotations": {CORDONED_BY: token},
                "resourceVersion": current.metadata.resource_version,
            },
            "spec": {"unschedulable": true},
        });
        api.patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| api_error(&what, e))?;
        Ok(true)
    }

    /// Uncordon `node` if this run cordoned it. `Ok(None)` when there was nothing to do,
    /// with the reason.
    pub async fn uncordon_if_ours(
        &self,
        node: &str,
        token: &str,
    ) -> Result<Option<&'static str>, FaultError> {
        let api: Api<Node> = Api::all(self.client.clone());
        let what = format!("uncordon node {node}");
        let Some(current) = api.get_opt(node).await.map_err(|e| api_error(&what, e))? else {
            return Ok(Some("the node is gone"));
        };
        if annotation(&current.metadata, CORDONED_BY) != Some(token) {
            return Ok(Some("not cordoned by this run"));
        }
        let patch = json!({
            "metadata": {
                "annotations": {CORDONED_BY: null},
                "resourceVersion": current.metadata.resource_version,
            },
            "spec": {"unschedulable": null},
        });
        api.patch(node, &PatchParams::default(), &Patch::Merge(&patch))
            .await
            .map_err(|e| api_error(&what, e))?;
        Ok(None)
    }

    /// One eviction of `pod` through the Eviction API.
    pub async fn evict(&self, pod: &PodRef) -> Result<Eviction, FaultError> {
        let api = self.pods_api(Some(&pod.namespace));
        match api.evict(&pod.name, &EvictParams::default()).await {
            Ok(_) => Ok(Eviction::Evicted),
            Err(e) if status_code(&e) == Some(404) => Ok(Eviction::Gone),
            Err(kube::Error::Api(r)) if r.code == 429 => Ok(Eviction::Refused(r.message)),
            Err(e) => Err(api_error(&format!("evict pod {pod}"), e)),
        }
    }

    /// Delete `pod`; `false` when it was gone already.
    pub async fn delete_pod(&self, pod: &PodRef, grace: Option<u32>) -> Result<bool, FaultError> {
        let params = DeleteParams {
            grace_period_seconds: grace,
            ..DeleteParams::default()
        };
        match self
            .pods_api(Some(&pod.namespace))
            .delete(&pod.name, &params)
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(404) => Ok(false),
            Err(e) => Err(api_error(&format!("delete pod {pod}"), e)),
        }
    }

    /// Label `pod` as isolated by this run; `false` when it was gone.
    pub async fn isolate_pod(&self, pod: &PodRef, token: &str) -> Result<bool, FaultError> {
        let patch = json!({"metadata": {"labels": {ISOLATED: token}}});
        let api = self.pods_api(Some(&pod.namespace));
        match api
            .patch(&pod.name, &PatchParams::default(), &Patch::Merge(&patch))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(404) => Ok(false),
            Err(e) => Err(api_error(&format!("label pod {pod}"), e)),
        }
    }

    /// Remove this run's isolation label from every pod in `namespace` carrying it.
    pub async fn release_pods(&self, namespace: &str, token: &str) -> Result<usize, FaultError> {
        let api = self.pods_api(Some(namespace));
        let selector = format!("{ISOLATED}={token}");
        let list = api
            .list(&ListParams::default().labels(&selector))
            .await
            .map_err(|e| api_error(&format!("list pods {selector} in {namespace}"), e))?;
        let patch = json!({"metadata": {"labels": {ISOLATED: null}}});
        let mut released = 0;
        for pod in list.items {
            let name = pod.metadata.name.unwrap_or_default();
            match api
                .patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
            {
                Ok(_) => released += 1,
                Err(e) if status_code(&e) == Some(404) => {}
                Err(e) => return Err(api_error(&format!("unlabel pod {namespace}/{name}"), e)),
            }
        }
        Ok(released)
    }

    /// Create the deny-all NetworkPolicy `name` selecting this run's isolated pods in
    /// `namespace`; one that exists already (a retried inject) is fine.
    pub async fn create_deny_all(
        &self,
        namespace: &str,
        name: &str,
        token: &str,
    ) -> Result<(), FaultError> {
        let policy: NetworkPolicy = serde_json::from_value(json!({
            "apiVersion": "networking.k8s.io/v1",
            "kind": "NetworkPolicy",
            "metadata": {"name": name, "labels": {CREATED_BY: token}},
            "spec": {
                "podSelector": {"matchLabels": {ISOLATED: token}},
                "policyTypes": ["Ingress", "Egress"],
            },
        }))
        .map_err(|e| FaultError::Target(format!("internal: NetworkPolicy: {e}")))?;
        let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), namespace);
        match api.create(&PostParams::default(), &policy).await {
            Ok(_) => Ok(()),
            Err(e) if status_code(&e) == Some(409) => Ok(()),
            Err(e) => Err(api_error(
                &format!("create NetworkPolicy {namespace}/{name}"),
                e,
            )),
        }
    }

    /// Delete the NetworkPolicy `name`; `false` when it was gone already.
    pub async fn delete_policy(&self, namespace: &str, name: &str) -> Result<bool, FaultError> {
        let api: Api<NetworkPolicy> = Api::namespaced(self.client.clone(), namespace);
        match api.delete(name, &DeleteParams::default()).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(404) => Ok(false),
            Err(e) => Err(api_error(
                &format!("delete NetworkPolicy {namespace}/{name}"),
                e,
            )),
        }
    }
}

fn annotation<'a>(
    meta: &'a k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    key: &str,
) -> Option<&'a str> {
    meta.annotations.as_ref()?.get(key).map(String::as_str)
}

fn pod_info(p: Pod) -> PodInfo {
    let meta = &p.metadata;
    let phase = p.status.as_ref().and_then(|s| s.phase.as_deref());
    PodInfo {
        owner_kind: meta
            .owner_references
            .as_ref()
            .and_then(|o| o.iter().find(|r| r.controller == Some(true)).or(o.first()))
            .map(|r| r.kind.clone()),
        mirror: annotation(meta, "kubernetes.io/config.mirror").is_some(),
        finished: matches!(phase, Some("Succeeded" | "Failed")),
        terminating: meta.deletion_timestamp.is_some(),
        pod: PodRef {
            namespace: meta.namespace.clone().unwrap_or_default(),
            name: meta.name.clone().unwrap_or_default(),
            node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        },
    }
}
