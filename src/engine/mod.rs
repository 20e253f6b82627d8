//! The run loop: start the target, schedule probes, apply the fault timeline, and
//! revert every fault on every exit path (normal end, failed injection, guardrail,
//! Ctrl-C, SIGTERM, panic of the fault controller).

pub mod journal;
mod live;
mod proxies;
pub mod scheduler;

use crate::demo::{Demo, DemoConfig, HealthCheck};
use crate::fault::{self, FaultContext, Undo};
use crate::plan::{FaultPlan, Plan, TargetPlan};
use crate::probe::Probe;
use crate::record::{Event, EventWriter, FaultInfo, FaultPhase, ProbeInfo, Recording, RunStarted};
use crate::report::{self, Report, RunFiles};
use crate::sla::Sla;
use journal::{Entry, Journal};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

pub use crate::verdict::{exit, exit_code};

#[derive(Debug, Clone)]
pub struct RunOptions {
    pub run_id: String,
    pub files: RunFiles,
    /// Show the live progress line on stderr.
    pub progress: bool,
    /// The spec text, saved beside the report so the run can be understood later.
    pub spec_text: Option<String>,
}

#[derive(Debug)]
pub struct RunOutcome {
    pub report: Report,
    pub exit_code: i32,
    pub written: Vec<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("cannot create {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] journal::JournalError),
    #[error("cannot start the demo target: {0}")]
    Demo(#[from] crate::demo::DemoError),
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),
    #[error("{0}")]
    Proxy(String),
    #[error("{dir} holds a run whose faults are not all reverted ({faults}); run `shakeout rollback {dir}` first, or choose another --out")]
    Unreverted { dir: String, faults: String },
}

/// Why a run stopped early.
#[derive(Debug, Clone, PartialEq)]
pub enum Stop {
    /// Ctrl-C, SIGTERM, guardrail: aborted, exit 1.
    Abort(String),
    /// Could not inject, internal failure: exit 3.
    Harness(String),
}

/// The async runtime a run needs. Samples are handed in from the scheduler thread
/// through the runtime's shared queue; checking that queue more often than tokio's
/// default (every 31 local tasks) keeps a due sample from waiting behind a busy worker.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .global_queue_interval(4)
        .build()
}

/// UTC timestamp + experiment name, safe as a directory name.
pub fn run_id(experiment: &str) -> String {
    let ts = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let name: String = experiment
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{ts}-{name}")
}

/// A fault that has been journaled (and maybe applied) and not yet reverted.
#[derive(Debug, Clone)]
struct Active {
    id: u32,
    name: String,
    undo: Undo,
}

/// Shared between the fault controller and the final safety sweep.
struct Faults {
    active: Mutex<Vec<Active>>,
    journal: Mutex<Journal>,
    revert_failures: Mutex<Vec<String>>,
}

pub async fn run(plan: &Plan, opts: RunOptions) -> Result<RunOutcome, EngineError> {
    let files = &opts.files;
    for dir in [&files.report_dir, &files.chart_dir] {
        std::fs::create_dir_all(dir).map_err(|source| EngineError::Io {
            path: dir.display().to_string(),
            source,
        })?;
    }
    if let Some(text) = &opts.spec_text {
        let path = files.report_dir.join("experiment.yaml");
        std::fs::write(&path, text).map_err(|source| EngineError::Io {
            path: path.display().to_string(),
            source,
        })?;
    }
    // Reusing a directory must never bury a previous run's unreverted faults.
    let old_journal = files.report_dir.join(journal::FILE_NAME);
    if old_journal.exists() {
        let pending = journal::pending(&files.report_dir)?;
        if !pending.is_empty() {
            return Err(EngineError::Unreverted {
                dir: files.report_dir.display().to_string(),
                faults: pending
                    .iter()
                    .map(|(_, f, _)| format!("`{f}`"))
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        std::fs::remove_file(&old_journal).map_err(|source| EngineError::Io {
            path: old_journal.display().to_string(),
            source,
        })?;
    }
    let events_path = files.report_dir.join("events.jsonl");
    let mut writer = EventWriter::create(&events_path).map_err(|source| EngineError::Io {
        path: events_path.display().to_string(),
        source,
    })?;
    let faults = Arc::new(Faults {
        active: Mutex::new(Vec::new()),
        journal: Mutex::new(Journal::open(&files.report_dir)?),
        revert_failures: Mutex::new(Vec::new()),
    });

    // Build everything that can fail before anything is changed on the target.
    let probes: Vec<scheduler::ScheduledProbe> = plan
        .probes
        .iter()
        .map(|p| {
            Ok(scheduler::ScheduledProbe {
                name: Arc::from(p.name.as_str()),
                probe: Arc::new(Probe::build(p)?),
                interval: p.interval,
                timeout: p.timeout,
            })
        })
        .collect::<Result<_, EngineError>>()?;
    let demo = match &plan.target {
        Some(TargetPlan::Demo(d)) if !d.external => Some(
            Demo::start(DemoConfig {
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
            })
            .await?,
        ),
        _ => None,
    };

    let mut proxies = match proxies::Proxies::start(plan, &faults.journal).await {
        Ok(p) => p,
        Err(e) => {
            if let Some(d) = demo {
                d.shutdown().await;
            }
            return Err(e);
        }
    };
    let started_at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let run_started = RunStarted {
        experiment: plan.name.clone(),
        run_id: opts.run_id.clone(),
        started_at: started_at.clone(),
        duration_us: plan.duration.as_micros() as u64,
        probes: plan
            .probes
            .iter()
            .map(|p| ProbeInfo {
                name: p.name.clone(),
                kind: p.kind.kind_name().into(),
                target: p.kind.target(),
                interval_us: p.interval.as_micros() as u64,
                timeout_us: p.timeout.as_micros() as u64,
            })
            .collect(),
        faults: plan
            .faults
            .iter()
            .map(|f| FaultInfo {
                name: f.name.clone(),
                kind: f.kind.kind_name().into(),
                description: f.kind.describe(),
                at_us: f.at.as_micros() as u64,
                duration_us: f.duration.as_micros() as u64,
                effect: f.effect.clone(),
            })
            .collect(),
        description: plan.description.clone(),
        source: plan.source.clone(),
        sla: Some(Box::new(plan_sla(plan))),
    };
    let first = Event::RunStarted(run_started);
    if let Err(source) = writer.write(&first) {
        return Err(EngineError::Io {
            path: events_path.display().to_string(),
            source,
        });
    }

    let (tx, rx) = mpsc::unbounded_channel::<Event>();
    let (stop_tx, stop_rx) = watch::channel::<Option<Stop>>(None);
    let start = Instant::now();
    let live = Arc::new(live::Live::new(plan, start));

    let recorder = tokio::spawn(record(
        rx,
        writer,
        first,
        Arc::clone(&live),
        stop_tx.clone(),
    ));
    let signals = tokio::spawn(watch_signals(stop_tx.clone()));
    let progress = opts
        .progress
        .then(|| tokio::spawn(live::progress_line(Arc::clone(&live), plan.duration)));

    let stop_flag = Arc::new(AtomicBool::new(false));
    let sched = {
        let (rt, tx, stop_flag, duration) = (
            tokio::runtime::Handle::current(),
            tx.clone(),
            Arc::clone(&stop_flag),
            plan.duration,
        );
        std::thread::Builder::new()
            .name("shakeout-scheduler".into())
            .spawn(move || scheduler::run(start, duration, probes, rt, tx, stop_flag))
            .map_err(|source| EngineError::Io {
                path: "scheduler thread".into(),
                source,
            })?
    };

    let ctx = FaultContext {
        proxy_api: proxies.api_url.clone(),
        run_dir: files.report_dir.clone(),
    };
    let controller = tokio::spawn(fault_timeline(
        plan.faults.clone(),
        start,
        ctx,
        Arc::clone(&faults),
        tx.clone(),
        stop_rx.clone(),
        stop_tx.clone(),
        Arc::clone(&live),
    ));

    // Wait for the planned end or an early stop; a controller that dies (panic) is an
    // early stop too: its faults are reverted by the sweep below at once.
    let mut stop_watch = stop_rx.clone();
    let end = tokio::time::Instant::from_std(start + plan.duration);
    let mut controller = controller;
    let mut controller_result = None;
    tokio::select! {
        _ = tokio::time::sleep_until(end) => {}
        _ = stop_watch.wait_for(|s| s.is_some()) => {}
        r = &mut controller => controller_result = Some(r),
    }
    if controller_result.as_ref().is_some_and(|r| r.is_ok()) {
        // The timeline is done before the planned end: keep measuring until the end.
        tokio::select! {
            _ = tokio::time::sleep_until(end) => {}
            _ = stop_watch.wait_for(|s| s.is_some()) => {}
        }
    }
    stop_flag.store(true, Ordering::Relaxed);
    let mut harness_errors = Vec::new();
    let controller_result = match controller_result {
        Some(r) => r,
        None => controller.await,
    };
    if let Err(e) = controller_result {
        let what = if e.is_panic() {
            panic_message(e.into_panic())
        } else {
            "cancelled".into()
        };
        let reason = format!("internal error in the fault controller: {what}");
        stop_tx.send_modify(|s| {
            if s.is_none() {
                *s = Some(Stop::Harness(reason.clone()));
            }
        });
        if !matches!(&*stop_rx.borrow(), Some(Stop::Harness(r)) if *r == reason) {
            harness_errors.push(reason);
        }
    }
    // Safety sweep: whatever is still active — a panic, a race with the stop — is reverted here.
    revert_all(&faults, &tx, start, &live).await;

    let t_end = start.elapsed().as_micros() as u64;
    let stop_state = stop_rx.borrow().clone();
    match &stop_state {
        Some(Stop::Abort(reason)) | Some(Stop::Harness(reason)) => {
            let _ = tx.send(Event::Aborted {
                t_us: t_end,
                reason: reason.clone(),
            });
        }
        None => {
            let _ = tx.send(Event::RunFinished { t_us: t_end });
        }
    }
    if let Some(Stop::Harness(reason)) = &stop_state {
        harness_errors.push(reason.clone());
    }
    let _ = tokio::task::spawn_blocking(move || sched.join()).await;
    drop(tx);
    signals.abort();
    if let Some(p) = progress {
        p.abort();
        live::clear_progress_line();
    }
    let recording = match recorder.await {
        Ok(r) => r,
        Err(e) => {
            harness_errors.push(format!("internal error in the recorder: {e}"));
            Recording::read(&events_path).unwrap_or_default()
        }
    };
    let proxy_failures = proxies.stop(&faults.journal).await;
    if let Some(d) = demo {
        d.shutdown().await;
    }
    if let Ok(mut f) = faults.revert_failures.lock() {
        f.extend(proxy_failures);
    }

    let revert_failures = faults
        .revert_failures
        .lock()
        .map(|v| v.clone())
        .unwrap_or_default();
    Ok(finish(
        plan,
        &opts,
        recording,
        harness_errors,
        revert_failures,
        started_at,
    ))
}

fn finish(
    plan: &Plan,
    opts: &RunOptions,
    recording: Recording,
    mut errors: Vec<String>,
    revert_failures: Vec<String>,
    started_at: String,
) -> RunOutcome {
    let sla = plan_sla(plan);
    // The recorder always starts with the run header; if it died, the plan still knows it.
    let started = recording.started.clone().unwrap_or_else(|| RunStarted {
        experiment: plan.name.clone(),
        run_id: opts.run_id.clone(),
        started_at,
        duration_us: plan.duration.as_micros() as u64,
        probes: Vec::new(),
        faults: Vec::new(),
        description: plan.description.clone(),
        source: plan.source.clone(),
        sla: Some(Box::new(sla.clone())),
    });
    let revert_failed = !revert_failures.is_empty();
    errors.extend(revert_failures);
    let judged = report::judge_and_write(
        report::Judging {
            started: &started,
            recording: &recording,
            sla: &sla,
            errors,
            revert_failed,
        },
        &opts.files,
    );
    let written = judged.written.unwrap_or_else(|e| {
        tracing::error!("could not write the reports: {e}");
        Vec::new()
    });
    RunOutcome {
        report: judged.report,
        exit_code: judged.exit_code,
        written,
    }
}

/// What a run of `plan` is judged against; recorded at the run's start.
pub fn plan_sla(plan: &Plan) -> Sla {
    Sla {
        thresholds: plan.thresholds.clone(),
        budget: plan.budget,
    }
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}

/// The single consumer of events: writes them, keeps the in-memory recording, feeds
/// the live view and the guardrails.
async fn record(
    mut rx: mpsc::UnboundedReceiver<Event>,
    mut writer: EventWriter,
    first: Event,
    live: Arc<live::Live>,
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

async fn watch_signals(stop: watch::Sender<Option<Stop>>) {
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

fn t_us(start: Instant) -> u64 {
    start.elapsed().as_micros() as u64
}

/// Apply the timeline: each fault injected at `at`, reverted after `duration`.
#[allow(clippy::too_many_arguments)]
async fn fault_timeline(
    plan: Vec<FaultPlan>,
    start: Instant,
    ctx: FaultContext,
    faults: Arc<Faults>,
    tx: mpsc::UnboundedSender<Event>,
    mut stop_rx: watch::Receiver<Option<Stop>>,
    stop_tx: watch::Sender<Option<Stop>>,
    live: Arc<live::Live>,
) {
    // (time, is_inject, fault index); reverts sort before injects at the same instant.
    let mut actions: Vec<(Duration, bool, usize)> = Vec::new();
    for (i, f) in plan.iter().enumerate() {
        actions.push((f.at, true, i));
        actions.push((f.at + f.duration, false, i));
    }
    actions.sort_by_key(|(t, inject, i)| (*t, *inject, *i));
    let mut ids: Vec<Option<u32>> = vec![None; plan.len()];
    for (at, inject, i) in actions {
        let when = tokio::time::Instant::from_std(start + at);
        tokio::select! {
            _ = tokio::time::sleep_until(when) => {}
            _ = stop_rx.wait_for(|s| s.is_some()) => break,
        }
        if stop_rx.borrow().is_some() {
            break;
        }
        let f = &plan[i];
        if inject {
            match inject_one(i as u32, f, &ctx, &faults, &tx, start).await {
                Ok(()) => {
                    ids[i] = Some(i as u32);
                    live.set_fault(&f.name, true);
                    if std::env::var("SHAKEOUT_FAILPOINT").as_deref() == Ok("panic-after-inject") {
                        panic!("failpoint panic-after-inject");
                    }
                }
                Err(reason) => {
                    stop_tx.send_modify(|s| {
                        if s.is_none() {
                            *s = Some(Stop::Harness(reason));
                        }
                    });
                    break;
                }
            }
        } else if let Some(id) = ids[i] {
            revert_one(&faults, id, &tx, start).await;
            live.set_fault(&f.name, false);
        }
    }
    revert_all(&faults, &tx, start, &live).await;
}

async fn inject_one(
    id: u32,
    f: &FaultPlan,
    ctx: &FaultContext,
    faults: &Faults,
    tx: &mpsc::UnboundedSender<Event>,
    start: Instant,
) -> Result<(), String> {
    let fail = |phase: FaultPhase, error: String| {
        let _ = tx.send(Event::FaultFailed {
            fault: f.name.clone(),
            t_us: t_us(start),
            phase,
            error: error.clone(),
        });
        format!("fault `{}` could not be injected: {error}", f.name)
    };
    let undo = fault::prepare(&f.name, &f.kind, ctx)
        .await
        .map_err(|e| fail(FaultPhase::Inject, e.to_string()))?;
    // Journal first, then change the target.
    let entry = Entry::Applying {
        id,
        fault: f.name.clone(),
        undo: undo.clone(),
        at: journal::now_rfc3339(),
    };
    let journaled = faults
        .journal
        .lock()
        .map_err(|_| "journal lock poisoned".to_string())
        .and_then(|mut j| j.append(&entry).map_err(|e| e.to_string()));
    journaled.map_err(|e| {
        fail(
            FaultPhase::Inject,
            format!("not injected: cannot journal it first ({e})"),
        )
    })?;
    if let Ok(mut a) = faults.active.lock() {
        a.push(Active {
            id,
            name: f.name.clone(),
            undo: undo.clone(),
        });
    }
    let _ = tx.send(Event::FaultInjecting {
        fault: f.name.clone(),
        t_us: t_us(start),
    });
    tracing::info!("injecting `{}`: {}", f.name, f.kind.describe());
    match fault::inject(&f.kind, &undo).await {
        Ok(()) => {
            let _ = tx.send(Event::FaultInjected {
                fault: f.name.clone(),
                t_us: t_us(start),
            });
            Ok(())
        }
        Err(e) => {
            let reason = fail(FaultPhase::Inject, e.to_string());
            // Whatever part of it took effect is undone now.
            revert_one(faults, id, tx, start).await;
            Err(reason)
        }
    }
}

async fn revert_one(faults: &Faults, id: u32, tx: &mpsc::UnboundedSender<Event>, start: Instant) {
    let active = faults.active.lock().ok().and_then(|mut a| {
        let pos = a.iter().position(|x| x.id == id)?;
        Some(a.remove(pos))
    });
    let Some(active) = active else { return };
    match active.undo.apply().await {
        Ok(note) => {
            tracing::info!("reverted `{}`: {note}", active.name);
            let _ = tx.send(Event::FaultReverted {
                fault: active.name.clone(),
                t_us: t_us(start),
            });
            if let Ok(mut j) = faults.journal.lock() {
                if let Err(e) = j.append(&Entry::Reverted {
                    id,
                    fault: active.name.clone(),
                    note,
                    at: journal::now_rfc3339(),
                }) {
                    tracing::warn!("reverted `{}` but could not journal it: {e}", active.name);
                }
            }
        }
        Err(e) => {
            tracing::error!("could not revert `{}`: {e}", active.name);
            let _ = tx.send(Event::FaultFailed {
                fault: active.name.clone(),
                t_us: t_us(start),
                phase: FaultPhase::Revert,
                error: e.to_string(),
            });
            if let Ok(mut j) = faults.journal.lock() {
                let _ = j.append(&Entry::RevertFailed {
                    id,
                    fault: active.name.clone(),
                    error: e.to_string(),
                    at: journal::now_rfc3339(),
                });
            }
            if let Ok(mut f) = faults.revert_failures.lock() {
                f.push(format!(
                    "revert of `{}` failed: {e}. Still broken: {}. After fixing the cause, `shakeout rollback` retries it.",
                    active.name,
                    active.undo.manual_fix()
                ));
            }
        }
    }
}

/// Revert every active fault, newest first.
async fn revert_all(
    faults: &Faults,
    tx: &mpsc::UnboundedSender<Event>,
    start: Instant,
    live: &live::Live,
) {
    loop {
        let last = faults
            .active
            .lock()
            .ok()
            .and_then(|a| a.last().map(|x| (x.id, x.name.clone())));
        let Some((id, name)) = last else { break };
        revert_one(faults, id, tx, start).await;
        live.set_fault(&name, false);
    }
}
