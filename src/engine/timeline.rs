//! The fault controller: each fault journaled, injected at `at`, reverted after
//! `duration`; and the sweep that reverts whatever is still applied on any exit path.

use super::journal::{self, Entry, Journal, JournalError};
use super::live::Live;
use super::Stop;
use crate::fault::{self, FaultContext, FaultError, Undo, UndoLog};
use crate::plan::FaultPlan;
use crate::record::{Event, FaultPhase};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// A fault that has been journaled (and maybe applied) and not yet reverted.
#[derive(Debug, Clone)]
struct Active {
    id: u32,
    name: String,
    undo: Undo,
}

/// The run's journal and what it holds applied: shared between the fault controller,
/// the final safety sweep and the run-wide setup.
pub(super) struct Faults {
    active: Mutex<Vec<Active>>,
    journal: Mutex<Journal>,
    revert_failures: Mutex<Vec<String>>,
    /// Asked-vs-achieved watchers of applied faults, by fault id: awaited before the
    /// fault is reverted.
    watchers: Mutex<Vec<(u32, tokio::task::JoinHandle<()>)>>,
}

impl Faults {
    pub fn open(dir: &Path) -> Result<Faults, JournalError> {
        Ok(Faults {
            active: Mutex::new(Vec::new()),
            journal: Mutex::new(Journal::open(dir)?),
            revert_failures: Mutex::new(Vec::new()),
            watchers: Mutex::new(Vec::new()),
        })
    }

    fn append(&self, entry: &Entry) -> Result<(), String> {
        self.journal
            .lock()
            .map_err(|_| "journal lock poisoned".to_string())
            .and_then(|mut j| j.append(entry).map_err(|e| e.to_string()))
    }

    pub fn add_revert_failures(&self, more: Vec<String>) {
        if let Ok(mut f) = self.revert_failures.lock() {
            f.extend(more);
        }
    }

    pub fn revert_failures(&self) -> Vec<String> {
        self.revert_failures
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }
}

/// Run-wide setup steps journal through the same journal as faults.
impl UndoLog for Faults {
    fn applying(&self, id: u32, what: &str, undo: &Undo) -> Result<(), String> {
        self.append(&Entry::Applying {
            id,
            fault: what.to_string(),
            undo: undo.clone(),
            at: journal::now_rfc3339(),
        })
    }

    fn finished(&self, id: u32, what: &str, outcome: &Result<String, FaultError>) {
        let _ = self.append(&outcome_entry(id, what, outcome));
    }
}

/// The journal entry that records how applying an undo went.
fn outcome_entry(id: u32, what: &str, outcome: &Result<String, FaultError>) -> Entry {
    let (fault, at) = (what.to_string(), journal::now_rfc3339());
    match outcome {
        Ok(note) => Entry::Reverted {
            id,
            fault,
            note: note.clone(),
            at,
        },
        Err(e) => Entry::RevertFailed {
            id,
            fault,
            error: e.to_string(),
            at,
        },
    }
}

/// What the fault controller needs, shared with the final sweep.
pub(super) struct Timeline {
    pub start: Instant,
    pub faults: Arc<Faults>,
    pub tx: mpsc::UnboundedSender<Event>,
    pub live: Arc<Live>,
}

impl Timeline {
    fn t_us(&self) -> u64 {
        self.start.elapsed().as_micros() as u64
    }

    /// Apply the timeline: each fault injected at `at`, reverted after `duration`.
    /// Waits out the steady-state window (if any) and judges it; `false` (and the
    /// run stopped as aborted) when it is not met or the run stopped meanwhile.
    async fn steady_state_met(
        &self,
        stop_rx: &mut watch::Receiver<Option<Stop>>,
        stop_tx: &watch::Sender<Option<Stop>>,
    ) -> bool {
        let Some(steady) = self.live.steady_state() else {
            return true;
        };
        let end = tokio::time::Instant::from_std(self.start + steady.window());
        tokio::select! {
            _ = tokio::time::sleep_until(end) => {}
            _ = stop_rx.wait_for(|s| s.is_some()) => return false,
        }
        // Samples due before the end but still in flight belong to the window.
        tokio::select! {
            _ = steady.wait_for_in_flight(end) => {}
            _ = stop_rx.wait_for(|s| s.is_some()) => return false,
        }
        match steady.judge() {
            Ok(()) => true,
            Err(reason) => {
                tracing::warn!("{reason}; no fault is injected");
                stop_tx.send_modify(|s| {
                    if s.is_none() {
                        *s = Some(Stop::Abort(reason));
                    }
                });
                false
            }
        }
    }

    pub async fn run(
        self: Arc<Self>,
        plan: Vec<FaultPlan>,
        ctx: FaultContext,
        mut stop_rx: watch::Receiver<Option<Stop>>,
        stop_tx: watch::Sender<Option<Stop>>,
    ) {
        if !self.steady_state_met(&mut stop_rx, &stop_tx).await {
            return;
        }
        let mut injected = vec![false; plan.len()];
        for (at, inject, i) in actions(&plan) {
            let when = tokio::time::Instant::from_std(self.start + at);
            tokio::select! {
                _ = tokio::time::sleep_until(when) => {}
                _ = stop_rx.wait_for(|s| s.is_some()) => break,
            }
            if stop_rx.borrow().is_some() {
                break;
            }
            let f = &plan[i];
            if inject {
                if let Err(reason) = self.inject_one(i as u32, f, &ctx).await {
                    stop_tx.send_modify(|s| {
                        if s.is_none() {
                            *s = Some(Stop::Harness(reason));
                        }
                    });
                    break;
                }
                injected[i] = true;
                self.live.set_fault(&f.name, true);
                if std::env::var("SHAKEOUT_FAILPOINT").as_deref() == Ok("panic-after-inject") {
                    panic!("failpoint panic-after-inject");
                }
            } else if injected[i] {
                self.revert_one(i as u32).await;
                self.live.set_fault(&f.name, false);
            }
        }
        self.revert_all().await;
    }

    async fn inject_one(&self, id: u32, f: &FaultPlan, ctx: &FaultContext) -> Result<(), String> {
        let fail = |error: String| {
            let _ = self.tx.send(Event::FaultFailed {
                fault: f.name.clone(),
                t_us: self.t_us(),
                phase: FaultPhase::Inject,
                error: error.clone(),
            });
            format!("fault `{}` could not be injected: {error}", f.name)
        };
        let undo = fault::prepare(&f.name, &f.kind, ctx)
            .await
            .map_err(|e| fail(e.to_string()))?;
        // Journal first, then change the target.
        self.faults
            .applying(id, &f.name, &undo)
            .map_err(|e| fail(format!("not injected: cannot journal it first ({e})")))?;
        if let Ok(mut a) = self.faults.active.lock() {
            a.push(Active {
                id,
                name: f.name.clone(),
                undo: undo.clone(),
            });
        }
        let _ = self.tx.send(Event::FaultInjecting {
            fault: f.name.clone(),
            t_us: self.t_us(),
        });
        tracing::info!("injecting `{}`: {}", f.name, f.kind.describe());
        let watcher = self.watch(f, &undo);
        let notes_sink = self.notes_sink(&f.name);
        let notes = fault::FaultNotes::new(&notes_sink);
        let detail = match fault::inject(&f.kind, &undo, &notes).await {
            Ok(detail) => detail,
            Err(e) => {
                if let Some(w) = watcher {
                    w.abort();
                }
                let reason = fail(e.to_string());
                // Whatever part of it took effect is undone now.
                self.revert_one(id).await;
                return Err(reason);
            }
        };
        if let Some(d) = &detail {
            tracing::info!("injected `{}`: {d}", f.name);
        }
        let _ = self.tx.send(Event::FaultInjected {
            fault: f.name.clone(),
            t_us: self.t_us(),
            detail,
        });
        if let (Some(w), Ok(mut all)) = (watcher, self.faults.watchers.lock()) {
            all.push((id, w));
        }
        Ok(())
    }

    /// Start the fault's asked-vs-achieved watcher, if it has one: its notes are
    /// recorded like the ones `inject` gives, timestamped as each arrives.
    fn watch(&self, f: &FaultPlan, undo: &Undo) -> Option<tokio::task::JoinHandle<()>> {
        let watching = fault::watch(&f.kind, undo, Instant::now())?;
        let sink = self.notes_sink(&f.name);
        Some(tokio::spawn(async move {
            for note in watching.await {
                sink(note);
            }
        }))
    }

    /// Let the fault's watcher finish (it is bounded in time) before the revert
    /// changes what it watches.
    async fn finish_watch(&self, id: u32) {
        let handle = self.faults.watchers.lock().ok().and_then(|mut all| {
            let pos = all.iter().position(|(i, _)| *i == id)?;
            Some(all.remove(pos).1)
        });
        if let Some(h) = handle {
            let _ = h.await;
        }
    }

    /// Turns what fault `name` notes into events, timestamped as it notes them.
    fn notes_sink(&self, name: &str) -> impl Fn(fault::FaultNote) + Send + Sync {
        let (tx, start, fault) = (self.tx.clone(), self.start, name.to_string());
        move |note| {
            let t_us = start.elapsed().as_micros() as u64;
            let fault = fault.clone();
            let _ = tx.send(match note {
                fault::FaultNote::Milestone(milestone) => Event::FaultMilestone {
                    fault,
                    t_us,
                    milestone,
                },
                fault::FaultNote::Check {
                    metric,
                    asked,
                    achieved,
                } => Event::FaultCheck {
                    fault,
                    t_us,
                    metric,
                    asked,
                    achieved,
                },
            });
        }
    }

    async fn revert_one(&self, id: u32) {
        let active = self.faults.active.lock().ok().and_then(|mut a| {
            let pos = a.iter().position(|x| x.id == id)?;
            Some(a.remove(pos))
        });
        let Some(active) = active else { return };
        self.finish_watch(id).await;
        let outcome = active.undo.revert().await;
        match &outcome {
            Ok(done) => {
                tracing::info!("reverted `{}`: {}", active.name, done.note);
                let _ = self.tx.send(Event::FaultReverted {
                    fault: active.name.clone(),
                    t_us: self.t_us(),
                });
                if let Some(left) = &done.left_behind {
                    let _ = self.tx.send(Event::FaultLeftBehind {
                        fault: active.name.clone(),
                        t_us: self.t_us(),
                        note: left.clone(),
                    });
                }
            }
            Err(e) => self.revert_failed(&active, e),
        }
        let outcome = outcome.map(|done| done.note);
        let journaled = self
            .faults
            .append(&outcome_entry(id, &active.name, &outcome));
        if let (Ok(_), Err(e)) = (&outcome, journaled) {
            tracing::warn!("reverted `{}` but could not journal it: {e}", active.name);
        }
    }

    fn revert_failed(&self, active: &Active, e: &FaultError) {
        tracing::error!("could not revert `{}`: {e}", active.name);
        let _ = self.tx.send(Event::FaultFailed {
            fault: active.name.clone(),
            t_us: self.t_us(),
            phase: FaultPhase::Revert,
            error: e.to_string(),
        });
        self.faults.add_revert_failures(vec![format!(
            "revert of `{}` failed: {e}. Still broken: {}. After fixing the cause, `shakeout rollback` retries it.",
            active.name,
            active.undo.manual_fix()
        )]);
    }

    /// Revert every active fault, newest first.
    pub async fn revert_all(&self) {
        loop {
            let last = self
                .faults
                .active
                .lock()
                .ok()
                .and_then(|a| a.last().map(|x| (x.id, x.name.clone())));
            let Some((id, name)) = last else { break };
            self.revert_one(id).await;
            self.live.set_fault(&name, false);
        }
    }
}

/// (time, is_inject, fault index); reverts sort before injects at the same instant.
fn actions(plan: &[FaultPlan]) -> Vec<(Duration, bool, usize)> {
    let mut actions: Vec<(Duration, bool, usize)> = Vec::new();
    for (i, f) in plan.iter().enumerate() {
        actions.push((f.at, true, i));
        actions.push((f.at + f.duration, false, i));
    }
    actions.sort_by_key(|(t, inject, i)| (*t, *inject, *i));
    actions
}
