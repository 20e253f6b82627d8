//! The event consumer and the signal watcher, the run's two long-lived helper tasks.

use super::live::Live;
use super::Stop;
use crate::record::{Event, EventWriter, Recording};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The single consumer of events: writes them, keeps the in-memory recording, feeds
/// the live view and the guardrails.
pub(super) async fn record(
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut writer: EventWriter,
    first: Event,
    live: Arc<Live>,
    stop: watch::Sender<Option<Stop>>,
) -> Recording {
    let mut rec = Recording::default();
    rec.push(first);
    let mut flush = tokio::time::interval(Duration::from_millis(200));
    let mut write_failed = false;
    loop {
        tokio::select! {
            ev = rx.recv() => {
                let Some(ev) = ev else { break };
                if let Event::Sample(s) = &ev {
                    if let Some(reason) = live.sample(s) {
                        stop.send_if_modified(|cur| {
                            if cur.is_none() { *cur = Some(Stop::Abort(reason)); true } else { false }
                        });
                    }
                }
                if let Err(e) = writer.write(&ev) {
                    if !write_failed {
                        tracing::error!("cannot write events.jsonl: {e}");
                        write_failed = true;
                    }
                }
                rec.push(ev);
            }
            _ = flush.tick() => {
                let _ = writer.flush();
            }
        }
    }
    let _ = writer.flush();
    rec
}

pub(super) async fn watch_signals(stop: watch::Sender<Option<Stop>>) {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut int), Ok(mut term)) = (
        signal(SignalKind::interrupt()),
        signal(SignalKind::terminate()),
    ) else {
        tracing::warn!("cannot install signal handlers; Ctrl-C will not revert faults");
        return;
    };
    let reason = tokio::select! {
        _ = int.recv() => "interrupted (SIGINT / Ctrl-C)",
        _ = term.recv() => "terminated (SIGTERM)",
    };
    tracing::warn!("{reason}: reverting every fault");
    stop.send_modify(|s| {
        if s.is_none() {
            *s = Some(Stop::Abort(reason.into()));
        }
    });
}
