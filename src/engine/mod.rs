//! The run loop: start the target, schedule probes, apply the fault timeline, and
//! revert every fault on every exit path (normal end, failed injection, guardrail,
//! Ctrl-C, SIGTERM, panic of the fault controller).

mod guardrails;
pub mod journal;
mod live;
pub mod lock;
pub mod preflight;
mod recorder;
pub mod scheduler;
mod steady;
mod timeline;
pub mod topology;

use crate::fault::{FaultContext, RunWide, SetupError};
use crate::plan::Plan;
use crate::probe::Probe;
use crate::record::{Event, EventWriter, FaultInfo, ProbeInfo, Recording, RunStarted};
use crate::report::{self, Report, RunFiles};
use crate::sla::Sla;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;
use timeline::{Faults, Timeline};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

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
    /// The files that exist; any that could not be written is one of the report's errors.
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
    /// A backend's run-wide setup (the demo target, the proxies) failed.
    #[error(transparent)]
    Setup(#[from] SetupError),
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),
    /// Another run or a rollback holds the directory.
    #[error(transparent)]
    Busy(#[from] lock::LockError),
    /// A fault's target or a probe's is missing before t=0; nothing was changed.
    #[error("{0}")]
    Preflight(String),
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

/// The longest experiment name kept in a run id: the id names a directory, and a
/// file name longer than 255 bytes cannot be created.
const RUN_ID_NAME_MAX: usize = 64;

/// UTC timestamp + experiment name + a short random suffix, safe as a directory name
/// and unique even for two runs of one spec started in the same second.
pub fn run_id(experiment: &str) -> String {
    let ts = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .replace(['-', ':'], "");
    let name: String = experiment
        .chars()
        .take(RUN_ID_NAME_MAX)
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    format!("{ts}-{name}-{:06x}", fastrand::u32(..0x100_0000))
}

pub async fn run(plan: &Plan, opts: RunOptions) -> Result<RunOutcome, EngineError> {
    ignore_sigpipe();
    // Held until the run returns: no other run or rollback can use the directory meanwhile.
    let _lock = prepare_report_dir(&opts)?;
    // Every fault's target is checked before anything is written or touched.
    if let Some(e) = preflight::failures(&preflight::faults(plan).await) {
        return Err(EngineError::Preflight(e));
    }
    let signals = recorder::Signals::install();
    let (mut writer, events_path) = open_events(&opts.files.report_dir)?;
    let faults = Arc::new(Faults::open(&opts.files.report_dir)?);
    // Build everything that can fail before anything is changed on the target.
    let probes = build_probes(plan)?;
    prepare_probes(&probes).await?;
    let watchers = guardrails::build(&plan.guardrails)?;
    let run_wide = RunWide::start(plan.target.as_ref(), &plan.proxies, &*faults).await?;
    // The probes' targets answer once, after the run's own demo and proxies are up.
    if let Some(e) = preflight::failures(&preflight::probes(&probes).await) {
        run_wide.stop(&*faults).await;
        return Err(EngineError::Preflight(e));
    }
    let started_at = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    let first = Event::RunStarted(run_started(plan, &opts.run_id, &started_at));
    if let Err(source) = writer.write(&first) {
        run_wide.stop(&*faults).await;
        return Err(io_error(&events_path, source));
    }
    let ctx = run_wide.context(opts.files.report_dir.clone(), opts.run_id.clone());
    let run = Run::start(plan, Arc::clone(&faults), writer, first);
    let tasks = run.spawn(probes, ctx, signals, opts.progress)?;
    let metric_guardrails = guardrails::spawn(watchers, &run.stop_tx);
    let (recording, harness_errors) = run.wait_and_stop(tasks, &events_path).await;
    metric_guardrails.iter().for_each(JoinHandle::abort);
    let teardown_failures = run_wide.stop(&*faults).await;
    faults.add_revert_failures(teardown_failures);
    let revert_failures = faults.revert_failures();
    Ok(finish(
        plan,
        &opts,
        recording,
        harness_errors,
        revert_failures,
        started_at,
    ))
}

fn io_error(path: &Path, source: std::io::Error) -> EngineError {
    EngineError::Io {
        path: path.display().to_string(),
        source,
    }
}

/// Lock the run directory, then create the chart directory and save the spec beside the
/// report. Nothing in the directory is written before the lock is held and the
/// directory is known not to hold a previous run's unreverted faults.
fn prepare_report_dir(opts: &RunOptions) -> Result<lock::DirLock, EngineError> {
    let files = &opts.files;
    std::fs::create_dir_all(&files.report_dir)
        .map_err(|source| io_error(&files.report_dir, source))?;
    let dir_lock = lock::lock(&files.report_dir)?;
    refuse_unreverted(&files.report_dir)?;
    std::fs::create_dir_all(&files.chart_dir)
        .map_err(|source| io_error(&files.chart_dir, source))?;
    if let Some(text) = &opts.spec_text {
        let path = files.report_dir.join("experiment.yaml");
        std::fs::write(&path, crate::spec::env::redact_output(text).as_bytes())
            .map_err(|source| io_error(&path, source))?;
    }
    Ok(dir_lock)
}

/// Reusing a directory must never bury a previous run's unreverted faults; a journal
/// whose faults are all reverted is removed.
fn refuse_unreverted(dir: &Path) -> Result<(), EngineError> {
    let old_journal = dir.join(journal::FILE_NAME);
    if !old_journal.exists() {
        return Ok(());
    }
    let pending = journal::pending(dir)?;
    if !pending.is_empty() {
        return Err(EngineError::Unreverted {
            dir: dir.display().to_string(),
            faults: pending
                .iter()
                .map(|(_, f, _)| format!("`{f}`"))
                .collect::<Vec<_>>()
                .join(", "),
        });
    }
    std::fs::remove_file(&old_journal).map_err(|source| io_error(&old_journal, source))
}

/// A reader that went away (a closed pipe) must not kill the run before it reverts:
/// writes then fail with EPIPE, which every writer handles.
fn ignore_sigpipe() {
    // SAFETY: sets the disposition of one signal to SIG_IGN; no handler code runs.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

fn open_events(dir: &Path) -> Result<(EventWriter, PathBuf), EngineError> {
    let path = dir.join("events.jsonl");
    let writer = EventWriter::create(&path).map_err(|source| io_error(&path, source))?;
    Ok((writer, path))
}

fn build_probes(plan: &Plan) -> Result<Vec<scheduler::ScheduledProbe>, EngineError> {
    plan.probes
        .iter()
        .map(|p| {
            Ok(scheduler::ScheduledProbe {
                name: Arc::from(p.name.as_str()),
                probe: Arc::new(Probe::build(p)?),
                interval: p.interval,
                timeout: p.timeout,
            })
        })
        .collect()
}

/// Connect what needs connecting (database probes, their ledger tables) before the run.
async fn prepare_probes(probes: &[scheduler::ScheduledProbe]) -> Result<(), EngineError> {
    for p in probes {
        p.probe.prepare(&p.name).await?;
    }
    Ok(())
}

/// The probes that keep a write ledger, read back after every fault is reverted.
fn ledgers(probes: &[scheduler::ScheduledProbe]) -> Vec<(Arc<str>, Arc<Probe>)> {
    probes
        .iter()
        .filter(|p| p.probe.keeps_ledger())
        .map(|p| (Arc::clone(&p.name), Arc::clone(&p.probe)))
        .collect()
}

/// The first event: what the run is about to do.
fn run_started(plan: &Plan, run_id: &str, started_at: &str) -> RunStarted {
    RunStarted {
        experiment: plan.name.clone(),
        run_id: run_id.to_string(),
        started_at: started_at.to_string(),
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
                insecure: p.kind.is_insecure(),
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
        steady_state_us: plan
            .steady_state
            .as_ref()
            .map(|s| s.window.as_micros() as u64),
    }
}

/// The shared handles of a run in progress.
struct Run<'a> {
    plan: &'a Plan,
    timeline: Arc<Timeline>,
    tx: mpsc::UnboundedSender<Event>,
    recorder: JoinHandle<(Recording, Option<String>)>,
    stop_tx: watch::Sender<Option<Stop>>,
    stop_rx: watch::Receiver<Option<Stop>>,
}

/// The tasks and the thread a run starts besides the recorder.
struct Tasks {
    signals: JoinHandle<()>,
    progress: Option<JoinHandle<()>>,
    scheduler: std::thread::JoinHandle<u64>,
    stop_flag: Arc<AtomicBool>,
    controller: JoinHandle<()>,
    ledgers: Vec<(Arc<str>, Arc<Probe>)>,
}

impl<'a> Run<'a> {
    /// Time starts now; the recorder, which writes `first` and every later event,
    /// starts with it.
    fn start(plan: &'a Plan, faults: Arc<Faults>, writer: EventWriter, first: Event) -> Run<'a> {
        let (tx, rx) = mpsc::unbounded_channel::<Event>();
        let (stop_tx, stop_rx) = watch::channel::<Option<Stop>>(None);
        let start = Instant::now();
        let live = Arc::new(live::Live::new(plan, start));
        let recorder = tokio::spawn(recorder::record(
            rx,
            writer,
            first,
            Arc::clone(&live),
            stop_tx.clone(),
        ));
        let timeline = Arc::new(Timeline {
            start,
            faults,
            tx: tx.clone(),
            live,
        });
        Run {
            plan,
            timeline,
            tx,
            recorder,
            stop_tx,
            stop_rx,
        }
    }

    /// Start the signal watcher, the progress line, the probe scheduler and the fault
    /// controller.
    fn spawn(
        &self,
        probes: Vec<scheduler::ScheduledProbe>,
        ctx: FaultContext,
        signals: recorder::Signals,
        progress: bool,
    ) -> Result<Tasks, EngineError> {
        let live = &self.timeline.live;
        let signals = tokio::spawn(recorder::watch_signals(signals, self.stop_tx.clone()));
        let progress = progress
            .then(|| tokio::spawn(live::progress_line(Arc::clone(live), self.plan.duration)));
        let stop_flag = Arc::new(AtomicBool::new(false));
        let ledgers = ledgers(&probes);
        let scheduler = self.spawn_scheduler(probes, Arc::clone(&stop_flag))?;
        let controller = tokio::spawn(Arc::clone(&self.timeline).run(
            self.plan.faults.clone(),
            ctx,
            self.stop_rx.clone(),
            self.stop_tx.clone(),
        ));
        Ok(Tasks {
            signals,
            progress,
            scheduler,
            stop_flag,
            controller,
            ledgers,
        })
    }

    fn spawn_scheduler(
        &self,
        probes: Vec<scheduler::ScheduledProbe>,
        stop_flag: Arc<AtomicBool>,
    ) -> Result<std::thread::JoinHandle<u64>, EngineError> {
        let (rt, tx, start, duration) = (
            tokio::runtime::Handle::current(),
            self.tx.clone(),
            self.timeline.start,
            self.plan.duration,
        );
        std::thread::Builder::new()
            .name("shakeout-scheduler".into())
            .spawn(move || scheduler::run(start, duration, probes, rt, tx, stop_flag))
            .map_err(|source| EngineError::Io {
                path: "scheduler thread".into(),
                source,
            })
    }

    /// Wait for the planned end or an early stop, revert what is still applied, stop
    /// every task and return the recording and the harness errors.
    async fn wait_and_stop(self, mut tasks: Tasks, events_path: &Path) -> (Recording, Vec<String>) {
        let controller_result = self.wait_for_end(&mut tasks.controller).await;
        tasks.stop_flag.store(true, Ordering::Relaxed);
        let mut harness_errors = Vec::new();
        let controller_result = match controller_result {
            Some(r) => r,
            None => (&mut tasks.controller).await,
        };
        if let Err(e) = controller_result {
            harness_errors.extend(self.controller_died(e));
        }
        // Safety sweep: whatever is still active — a panic, a race with the stop — is reverted here.
        self.timeline.revert_all().await;
        self.verify_writes(&tasks.ledgers).await;
        harness_errors.extend(self.send_last_event());
        let recording = self
            .stop_tasks(tasks, events_path, &mut harness_errors)
            .await;
        (recording, harness_errors)
    }

    /// Every fault is reverted: read each write probe's ledger back from where the
    /// data lives now.
    async fn verify_writes(&self, ledgers: &[(Arc<str>, Arc<Probe>)]) {
        for (name, probe) in ledgers {
            let t_us = self.timeline.start.elapsed().as_micros() as u64;
            if let Some(v) = probe.verify_writes(name, t_us).await {
                let _ = self.tx.send(Event::WritesVerified(v));
            }
        }
    }

    /// The planned end or an early stop; a controller that dies (panic) is an early
    /// stop too: its faults are reverted by the sweep at once.
    async fn wait_for_end(
        &self,
        controller: &mut JoinHandle<()>,
    ) -> Option<Result<(), tokio::task::JoinError>> {
        let mut stop_watch = self.stop_rx.clone();
        let end = tokio::time::Instant::from_std(self.timeline.start + self.plan.duration);
        let mut controller_result = None;
        tokio::select! {
            _ = tokio::time::sleep_until(end) => {}
            _ = stop_watch.wait_for(|s| s.is_some()) => {}
            r = &mut *controller => controller_result = Some(r),
        }
        if controller_result.as_ref().is_some_and(|r| r.is_ok()) {
            // The timeline is done before the planned end: keep measuring until the end.
            tokio::select! {
                _ = tokio::time::sleep_until(end) => {}
                _ = stop_watch.wait_for(|s| s.is_some()) => {}
            }
        }
        controller_result
    }

    /// The controller panicked or was cancelled: stop the run as a harness error.
    fn controller_died(&self, e: tokio::task::JoinError) -> Option<String> {
        let what = if e.is_panic() {
            panic_message(e.into_panic())
        } else {
            "cancelled".into()
        };
        let reason = format!("internal error in the fault controller: {what}");
        self.stop_tx.send_modify(|s| {
            if s.is_none() {
                *s = Some(Stop::Harness(reason.clone()));
            }
        });
        // Reported once: through the stop state if it became the reason, else here.
        (!matches!(&*self.stop_rx.borrow(), Some(Stop::Harness(r)) if *r == reason))
            .then_some(reason)
    }

    /// `Aborted` or `RunFinished`; returns the harness error that stopped the run, if any.
    fn send_last_event(&self) -> Option<String> {
        let t_us = self.timeline.start.elapsed().as_micros() as u64;
        let stop_state = self.stop_rx.borrow().clone();
        match &stop_state {
            Some(Stop::Abort(reason)) | Some(Stop::Harness(reason)) => {
                let _ = self.tx.send(Event::Aborted {
                    t_us,
                    reason: reason.clone(),
                });
            }
            None => {
                let _ = self.tx.send(Event::RunFinished { t_us });
            }
        }
        match stop_state {
            Some(Stop::Harness(reason)) => Some(reason),
            _ => None,
        }
    }

    async fn stop_tasks(
        self,
        tasks: Tasks,
        events_path: &Path,
        harness_errors: &mut Vec<String>,
    ) -> Recording {
        let scheduler = tasks.scheduler;
        let _ = tokio::task::spawn_blocking(move || scheduler.join()).await;
        tasks.signals.abort();
        if let Some(p) = tasks.progress {
            p.abort();
            live::clear_progress_line();
        }
        // The recorder ends when every sender is gone: the scheduler's (joined), the
        // controller's (finished), and the timeline's and ours (dropped here).
        let Run {
            timeline,
            tx,
            recorder,
            ..
        } = self;
        drop((timeline, tx));
        match recorder.await {
            Ok((r, write_error)) => {
                harness_errors.extend(write_error);
                r
            }
            Err(e) => {
                harness_errors.push(format!("internal error in the recorder: {e}"));
                Recording::read(events_path).unwrap_or_default()
            }
        }
    }
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
        steady_state_us: None,
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
    RunOutcome {
        report: judged.report,
        exit_code: judged.exit_code,
        written: judged.written.files,
    }
}

/// What a run of `plan` is judged against; recorded at the run's start.
pub fn plan_sla(plan: &Plan) -> Sla {
    Sla {
        thresholds: plan.thresholds.clone(),
        budget: plan.budget,
        per_probe: plan.probe_thresholds.clone(),
    }
}

/// The fatal signals a run catches, for whoever waits between runs (a suite's pause):
/// a signal then must stop what comes next, not be swallowed by the handlers a run
/// left installed.
pub struct SignalWatch(recorder::Signals);

impl SignalWatch {
    pub fn install() -> SignalWatch {
        SignalWatch(recorder::Signals::install())
    }

    /// The reason of the first fatal signal received since install.
    pub async fn first(&mut self) -> &'static str {
        self.0.first().await
    }

    /// The reason of a signal already received, without waiting.
    pub async fn received(&mut self) -> Option<&'static str> {
        tokio::select! {
            biased;
            reason = self.0.first() => Some(reason),
            () = std::future::ready(()) => None,
        }
    }
}

/// Whether a run's abort reason is a fatal signal (the person wants everything to stop).
pub fn is_signal_abort(reason: &str) -> bool {
    recorder::FATAL.iter().any(|(_, r)| *r == reason)
}

fn panic_message(p: Box<dyn std::any::Any + Send>) -> String {
    p.downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| p.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".into())
}
