//! Run-wide: the in-process demo is started before the probes and stopped after the
//! last revert. An external demo (`external: true`) is left alone.

use super::compile::DemoPlan;
use crate::demo::store::StoreConfig;
use crate::demo::{Demo, DemoConfig, DemoError, HealthCheck};

/// The demo this run started, if any.
pub struct DemoRun(Option<Demo>);

impl DemoRun {
    pub async fn start(plan: Option<&DemoPlan>) -> Result<DemoRun, DemoError> {
        let Some(d) = plan.filter(|d| !d.external) else {
            return Ok(DemoRun(None));
        };
        let demo = Demo::start(DemoConfig {
            listen: d.listen,
            zones: d.zones.clone(),
            replicas_per_zone: d.replicas_per_zone,
            health: HealthCheck {
                interval: d.health_interval,
                timeout: d.health_timeout,
                unhealthy_threshold: d.unhealthy_threshold,
                healthy_threshold: d.healthy_threshold,
            },
            backend_timeout: d.backend_timeout,
            store: d.store.as_ref().map(|s| StoreConfig {
                replication: s.replication,
                delay: s.delay,
            }),
        })
        .await?;
        Ok(DemoRun(Some(demo)))
    }

    pub async fn stop(self) {
        if let Some(d) = self.0 {
            d.shutdown().await;
        }
    }
}
