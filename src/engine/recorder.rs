//! The event consumer and the signal watcher, the run's two long-lived helper tasks.

use super::live::Live;
use super::Stop;
use crate::record::{Event, EventWriter, Recording};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// The single consumer of events: writes them, keeps the in-memory recording, feeds
/// the live view and the guardrails. Returns the recording and, if `events.jsonl`
/// could not be written in full, why (a harness error: the run cannot be re-rendered).
pub(super) async fn record(
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut writer: EventWriter,
    first: Event,
    live: Arc<Live>,
    stop: watch::Sender<Option<Stop>>,
) -> (Recording, Option<String>) {
    let mut rec = Recording::default();
    rec.push(first);
    let mut flush = tokio::time::interval(Duration::from_millis(200));
    let mut write_error: Option<String> = None;
    let mut note = |result: std::io::Result<()>| {
        if let (Err(e), None) = (result, &write_error) {
            tracing::error!("cannot write events.jsonl: {e}");
            write_error = Some(format!("cannot write events.jsonl: {e}"));
        }
    };
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
                note(writer.write(&ev));
                rec.push(ev);
            }
            _ = flush.tick() => note(writer.flush()),
        }
    }
    note(writer.flush());
    (rec, write_error)
}

/// The fatal signals a run catches: each stops the run, which reverts every fault and
/// exits as an aborted run. Left to their default action they would end the process
/// with its faults still applied (an SSH drop sends SIGHUP).
pub(super) const FATAL: [(libc::c_int, &str); 6] = [
    (libc::SIGINT, "interrupted (SIGINT / Ctrl-C)"),
    (libc::SIGTERM, "terminated (SIGTERM)"),
    (
        libc::SIGHUP,
        "hung up (SIGHUP: the terminal or SSH session closed)",
    ),
    (libc::SIGQUIT, "quit (SIGQUIT)"),
    (libc::SIGUSR1, "signalled (SIGUSR1)"),
    (libc::SIGUSR2, "signalled (SIGUSR2)"),
];

/// Handlers for the fatal signals, installed before anything is changed so that a
/// signal that arrives during setup is held until the run can act on it.
pub(super) struct Signals(Vec<(tokio::signal::unix::Signal, &'static str)>);

impl Signals {
    pub fn install() -> Signals {
        use tokio::signal::unix::{signal, SignalKind};
        let mut installed = Vec::new();
        for (sig, reason) in FATAL {
            match signal(SignalKind::from_raw(sig)) {
                Ok(s) => installed.push((s, reason)),
                Err(e) => tracing::warn!(
                    "cannot catch {reason}: that signal will not revert faults ({e})"
                ),
            }
        }
        Signals(installed)
    }

    /// The reason of the first fatal signal received (never, if none could be caught).
    pub(super) async fn first(&mut self) -> &'static str {
        std::future::poll_fn(|cx| {
            for (signal, reason) in self.0.iter_mut() {
                if signal.poll_recv(cx).is_ready() {
                    return std::task::Poll::Ready(*reason);
                }
            }
            std::task::Poll::Pending
        })
        .await
    }
}

pub(super) async fn watch_signals(mut signals: Signals, stop: watch::Sender<Option<Stop>>) {
    let reason = signals.first().await;
    tracing::warn!("{reason}: reverting every fault");
    stop.send_modify(|s| {
        if s.is_none() {
            *s = Some(Stop::Abort(reason.into()));
        }
    });
}
