//! The running `kubernetes` probe: one sample = list the pods, count the ready ones,
//! and read the desired count of the Deployments that own them.

use super::compile::KubernetesProbePlan;
use crate::probe::failure::{Failure, FailureClass};
use k8s_openapi::api::apps::v1::{Deployment, ReplicaSet};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use std::collections::BTreeSet;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::OnceCell;

pub struct KubernetesProbe {
    plan: KubernetesProbePlan,
    timeout: Duration,
    /// Connected on the first sample: reading a kubeconfig is async.
    apis: OnceCell<Apis>,
    /// Deployments seen owning the pods: their desired count is read even while every
    /// pod is gone.
    owners: Mutex<BTreeSet<String>>,
}

struct Apis {
    pods: Api<Pod>,
    replica_sets: Api<ReplicaSet>,
    deployments: Api<Deployment>,
}

impl KubernetesProbe {
    pub fn new(plan: &KubernetesProbePlan, timeout: Duration) -> Result<KubernetesProbe, String> {
        Ok(KubernetesProbe {
            plan: plan.clone(),
            timeout,
            apis: OnceCell::new(),
            owners: Mutex::new(BTreeSet::new()),
        })
    }

    /// Connect the way `kubectl` would: the named kubeconfig context, else the current
    /// one, else in-cluster.
    async fn connect(&self) -> Result<Apis, String> {
        let mut config = match &self.plan.context {
            Some(c) => {
                let options = kube::config::KubeConfigOptions {
                    context: Some(c.clone()),
                    ..Default::default()
                };
                kube::Config::from_kubeconfig(&options)
                    .await
                    .map_err(|e| format!("kubeconfig context `{c}`: {e}"))?
            }
            None => kube::Config::infer()
                .await
                .map_err(|e| format!("no Kubernetes configuration: {e}"))?,
        };
        config.connect_timeout = Some(self.timeout);
        config.read_timeout = Some(self.timeout);
        let client =
            kube::Client::try_from(config).map_err(|e| format!("Kubernetes client: {e}"))?;
        let ns = self.plan.namespace.as_str();
        Ok(Apis {
            pods: Api::namespaced(client.clone(), ns),
            replica_sets: Api::namespaced(client.clone(), ns),
            deployments: Api::namespaced(client, ns),
        })
    }

    /// One sample: the ready count (charted), judged against `min_ready`.
    pub async fn check(&self) -> (Option<f64>, Result<(), Failure>) {
        let apis = match self.apis.get_or_try_init(|| self.connect()).await {
            Ok(a) => a,
            Err(why) => return (None, Err(Failure::new(FailureClass::Connect, why))),
        };
        let pods = match apis
            .pods
            .list(&ListParams::default().labels(&self.plan.selector))
            .await
        {
            Ok(list) => list.items,
            Err(e) => return (None, Err(failure(&e))),
        };
        let ready = pods.iter().filter(|p| is_ready(p)).count() as u32;
        let value = Some(f64::from(ready));
        let min_ready = self.plan.min_ready;
        if ready >= min_ready {
            return (value, Ok(()));
        }
        let desired = self.desired(apis, &pods).await;
        let wanted = desired.map_or_else(String::new, |d| format!(" of {d} desired"));
        let detail = format!("{ready}{wanted} pods ready, fewer than min_ready {min_ready}");
        (value, Err(Failure::new(FailureClass::Expect, detail)))
    }

    /// The summed desired count of the Deployments owning `pods` (and any seen before).
    async fn desired(&self, apis: &Apis, pods: &[Pod]) -> Option<i32> {
        for rs in replica_set_owners(pods) {
            if let Some(d) = deployment_of(apis, &rs).await {
                if let Ok(mut owners) = self.owners.lock() {
                    owners.insert(d);
                }
            }
        }
        let owners: Vec<String> = self.owners.lock().ok()?.iter().cloned().collect();
        let mut total = None;
        for name in owners {
            if let Ok(d) = apis.deployments.get(&name).await {
                let replicas = d.spec.and_then(|s| s.replicas).unwrap_or(1);
                total = Some(total.unwrap_or(0) + replicas);
            }
        }
        total
    }
}

async fn deployment_of(apis: &Apis, replica_set: &str) -> Option<String> {
    let rs = apis.replica_sets.get(replica_set).await.ok()?;
    rs.metadata
        .owner_references?
        .into_iter()
        .find(|o| o.kind == "Deployment")
        .map(|o| o.name)
}

fn replica_set_owners(pods: &[Pod]) -> BTreeSet<String> {
    pods.iter()
        .filter_map(|p| p.metadata.owner_references.as_ref())
        .flatten()
        .filter(|o| o.kind == "ReplicaSet")
        .map(|o| o.name.clone())
        .collect()
}

/// Ready: the `Ready` condition is `True` and the pod is not being deleted.
fn is_ready(p: &Pod) -> bool {
    p.metadata.deletion_timestamp.is_none()
        && p.status
            .as_ref()
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn failure(e: &kube::Error) -> Failure {
    match e {
        kube::Error::Api(r) => Failure::new(
            FailureClass::Status,
            format!("{} {}: {}", r.code, r.reason, r.message),
        ),
        other => {
            let reason = crate::probe::root_reason(other);
            let class = if reason == "connection refused" {
                FailureClass::Refused
            } else if reason.contains("timed out") || reason.contains("deadline") {
                FailureClass::Timeout
            } else {
                FailureClass::Connect
            };
            Failure::new(class, reason)
        }
    }
}
