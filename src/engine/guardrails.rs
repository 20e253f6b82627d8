//! Metric guardrails during a run: each `prometheus` / `alert` guardrail polls its
//! Prometheus on its own task and, when it trips, stops the run as an abort (every
//! fault reverted, verdict aborted, exit 1). The reason names the guardrail and the
//! value it saw; the `aborted` event records when.

use super::Stop;
use crate::plan::Guardrail;
use crate::probe::prometheus::{MetricGuardrail, PrometheusClient};
use crate::probe::ProbeError;
use std::sync::Arc;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// A metric guardrail with its client, built before anything is touched.
pub(super) struct Watcher {
    guardrail: MetricGuardrail,
    client: Arc<PrometheusClient>,
}

/// Clients for every metric guardrail; a bad URL or TLS file is a setup error.
pub(super) fn build(guardrails: &[Guardrail]) -> Result<Vec<Watcher>, ProbeError> {
    guardrails
        .iter()
        .enumerate()
        .filter_map(|(i, g)| g.metric.as_ref().map(|m| (i, m)))
        .map(|(i, m)| {
            let client = m.client().map_err(|message| ProbeError::Setup {
                probe: format!("guardrails[{i}]"),
                message,
            })?;
            Ok(Watcher {
                guardrail: m.clone(),
                client: Arc::new(client),
            })
        })
        .collect()
}

/// One task per guardrail; the first to trip sets the stop state.
pub(super) fn spawn(
    watchers: Vec<Watcher>,
    stop_tx: &watch::Sender<Option<Stop>>,
) -> Vec<JoinHandle<()>> {
    watchers
        .into_iter()
        .map(|w| {
            let stop_tx = stop_tx.clone();
            tokio::spawn(async move {
                let reason = w.guardrail.watch(&w.client).await;
                tracing::warn!("{reason}");
                stop_tx.send_modify(|s| {
                    if s.is_none() {
                        *s = Some(Stop::Abort(reason));
                    }
                });
            })
        })
        .collect()
}
