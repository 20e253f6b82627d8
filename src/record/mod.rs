//! The event log of a run — the truth every report is rendered from.
//!
//! Every event carries a monotonic offset from one run start, in microseconds.
//! Samples carry their *intended* send time (`due_us`), so an outage is attributed
//! to when the request should have gone out, whatever the target did to it.

use crate::sla::Sla;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// One line of `events.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Event {
    RunStarted(RunStarted),
    Sample(Sample),
    FaultInjecting {
        fault: String,
        t_us: u64,
    },
    FaultInjected {
        fault: String,
        t_us: u64,
        /// What the fault did, when it chose its targets itself (the pods a
        /// Kubernetes fault removed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        detail: Option<String>,
    },
    FaultReverted {
        fault: String,
        t_us: u64,
    },
    FaultFailed {
        fault: String,
        t_us: u64,
        phase: FaultPhase,
        error: String,
    },
    /// A measurement of what an active fault actually did (asked vs achieved).
    FaultCheck {
        fault: String,
        t_us: u64,
        metric: String,
        /// Absent when the fault asked for no figure (it only measured one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        asked: Option<f64>,
        achieved: f64,
    },
    /// What a revert left for a person on purpose (`rejoin: false`), with the steps.
    FaultLeftBehind {
        fault: String,
        t_us: u64,
        note: String,
    },
    /// A moment a fault reached while it acted, timestamped when it happened.
    FaultMilestone {
        fault: String,
        t_us: u64,
        milestone: Milestone,
    },
    Aborted {
        t_us: u64,
        reason: String,
    },
    /// A write probe's ledger read back after the run.
    WritesVerified(WritesVerified),
    RunFinished {
        t_us: u64,
    },
}

/// The moments of a database failover, with the same names for every backend (the
/// write-outage phases of the analysis are cut at them; docs/writing-a-fault.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Milestone {
    /// The primary stopped serving: killed, or its node lost.
    PrimaryLost,
    /// Failover began: a promotion was requested (or a cluster manager started one).
    PromotionStarted,
    /// A new primary answers as writable.
    NewPrimary,
}

impl Milestone {
    pub fn as_str(self) -> &'static str {
        match self {
            Milestone::PrimaryLost => "primary_lost",
            Milestone::PromotionStarted => "promotion_started",
            Milestone::NewPrimary => "new_primary",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultPhase {
    Inject,
    Revert,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    pub experiment: String,
    pub run_id: String,
    /// Wall-clock start, RFC 3339 (for humans; all arithmetic uses the offsets).
    pub started_at: String,
    pub duration_us: u64,
    pub probes: Vec<ProbeInfo>,
    pub faults: Vec<FaultInfo>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    /// What the run is judged against, as the plan resolved it; absent in runs recorded
    /// before it was, which are judged against their saved `experiment.yaml`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla: Option<Box<Sla>>,
    /// Length of the steady-state window at the run's start, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steady_state_us: Option<u64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProbeInfo {
    pub name: String,
    pub kind: String,
    pub target: String,
    pub interval_us: u64,
    pub timeout_us: u64,
    /// `tls: {insecure: true}`: certificates not verified; every report says so.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultInfo {
    pub name: String,
    pub kind: String,
    pub description: String,
    pub at_us: u64,
    pub duration_us: u64,
    /// What the fault should measurably do (asked), for the asked-vs-achieved check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub effect: Option<Effect>,
}

/// An expected, measurable effect of a fault on the probes that cross it. The plan
/// resolves it; it lives here because the event log records it and depends on nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Effect {
    /// `added_latency_ms`.
    pub metric: String,
    pub asked: f64,
    /// Probes whose path crosses the faulty component.
    pub probes: Vec<String>,
}

/// One probe sample.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub probe: String,
    pub seq: u64,
    /// Intended send time: `seq × interval` after run start.
    pub due_us: u64,
    /// How late the request actually left (scheduler lateness).
    #[serde(default)]
    pub late_us: u64,
    /// From the intended send time to the outcome (success, failure or deadline).
    pub latency_us: u64,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Write probes only: what became of the write this sample sent (its ledger entry;
    /// the id is the sample's `seq` plus the probe's base id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<WriteOutcome>,
    /// The failure's class (`refused`, `timeout`, `tls`, `status`, ...); absent for a
    /// success and in runs recorded before classes were.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub class: Option<String>,
    /// The value a metric probe read (also when it failed `expect`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// Output tails of a failed command (`exec` probes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
}

/// What a write probe knows about one write when its sample ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WriteOutcome {
    /// The commit was confirmed.
    Acked,
    /// Certainly not committed: refused, an error before commit, a read-only server.
    Failed,
    /// Sent, but no answer (timeout, connection lost): it may become visible later.
    Unknown,
}

/// After the run, once every fault was reverted: which ids of a write probe's ledger
/// the data store holds now. Ids are `base_id + seq`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WritesVerified {
    pub probe: String,
    pub t_us: u64,
    pub base_id: i64,
    /// Present seqs as inclusive ranges `[first, last]`, ascending.
    pub present: Vec<[u64; 2]>,
    /// Why the read-back failed, when it did (then `present` is empty and means nothing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Ascending values into inclusive `[first, last]` runs.
pub fn seq_ranges(sorted: impl IntoIterator<Item = u64>) -> Vec<[u64; 2]> {
    let mut out: Vec<[u64; 2]> = Vec::new();
    for v in sorted {
        match out.last_mut() {
            Some(r) if v == r[1] + 1 => r[1] = v,
            Some(r) if v <= r[1] => {}
            _ => out.push([v, v]),
        }
    }
    out
}

/// Everything a run recorded, in memory.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Recording {
    pub started: Option<RunStarted>,
    pub samples: Vec<Sample>,
    pub fault_events: Vec<Event>,
    pub aborted: Option<(u64, String)>,
    pub finished_us: Option<u64>,
    /// Write probes' read-backs, in the order they were recorded.
    pub writes_verified: Vec<WritesVerified>,
}

impl Recording {
    pub fn push(&mut self, event: Event) {
        match event {
            Event::RunStarted(s) => self.started = Some(s),
            Event::Sample(s) => self.samples.push(s),
            Event::Aborted { t_us, reason } => self.aborted = Some((t_us, reason)),
            Event::RunFinished { t_us } => self.finished_us = Some(t_us),
            Event::WritesVerified(w) => self.writes_verified.push(w),
            other => self.fault_events.push(other),
        }
    }

    /// Read an `events.jsonl`. A torn last line (the run was killed mid-write) is ignored;
    /// any other bad line is an error naming its line number.
    pub fn read(path: &Path) -> Result<Recording, RecordError> {
        let file = std::fs::File::open(path)
            .map_err(|e| RecordError::Io(path.display().to_string(), e))?;
        let mut recording = Recording::default();
        let lines: Vec<String> = BufReader::new(file)
            .lines()
            .collect::<Result<_, _>>()
            .map_err(|e| RecordError::Io(path.display().to_string(), e))?;
        let last = lines.len();
        for (i, line) in lines.iter().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<Event>(line) {
                Ok(ev) => recording.push(ev),
                Err(_) if i + 1 == last => break,
                Err(e) => {
                    return Err(RecordError::Parse(format!(
                        "{}:{}: {e}",
                        path.display(),
                        i + 1
                    )))
                }
            }
        }
        if recording.started.is_none() {
            return Err(RecordError::Parse(format!(
                "{}: no run_started event; is this a shakeout events.jsonl?",
                path.display()
            )));
        }
        Ok(recording)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("{0}: {1}")]
    Io(String, #[source] std::io::Error),
    #[error("{0}")]
    Parse(String),
}

/// Appends events as JSON lines, flushing often so a killed run keeps what it measured.
pub struct EventWriter {
    out: std::io::BufWriter<std::fs::File>,
    unflushed: usize,
}

impl EventWriter {
    pub fn create(path: &Path) -> std::io::Result<EventWriter> {
        let file = std::fs::File::create(path)?;
        Ok(EventWriter {
            out: std::io::BufWriter::with_capacity(1 << 16, file),
            unflushed: 0,
        })
    }

    pub fn write(&mut self, event: &Event) -> std::io::Result<()> {
        let line = serde_json::to_string(event)?;
        // A secret from the environment may echo in an error or a target.
        let line = crate::spec::env::redact_output(&line);
        self.out.write_all(line.as_bytes())?;
        self.out.write_all(b"\n")?;
        self.unflushed += 1;
        // Fault events are rare and matter most after a crash: flush them at once.
        if !matches!(event, Event::Sample(_)) || self.unflushed >= 256 {
            self.flush()?;
        }
        Ok(())
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.unflushed = 0;
        self.out.flush()
    }
}

#[cfg(test)]
mod ledger_tests {
    #[test]
    fn seq_ranges_merge_consecutive_values() {
        assert_eq!(
            super::seq_ranges([0, 1, 2, 5, 7, 8]),
            vec![[0, 2], [5, 5], [7, 8]]
        );
        assert_eq!(super::seq_ranges([]), Vec::<[u64; 2]>::new());
    }
}
