//! The write ledger's live half, shared by every write probe (`postgres` with `mode:
//! write`, `http` with `write:`): what each in-flight write became when its sample
//! ended. The read-back after the run is each kind's own (a query, a GET per id).

use crate::record::{WriteOutcome, WritesVerified};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Where a write stands while its sample is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// The INSERT left for the server: without an answer it is unknown.
    Sent,
    /// The server refused it before commit, or it was never sent.
    Failed,
    /// The server confirmed the commit, even if the sample failed for another reason
    /// (an HTTP body that does not match `expect_body`).
    Acked,
}

/// Per-seq state of the writes whose samples have not ended, and how many checks are
/// still running (the read-back waits for them: an ack arriving after it would be
/// counted as lost).
#[derive(Default)]
pub struct Ledger {
    pending: Mutex<HashMap<u64, Pending>>,
    running: AtomicUsize,
}

impl Ledger {
    pub fn mark(&self, seq: u64, state: Pending) {
        if let Ok(mut m) = self.pending.lock() {
            m.insert(seq, state);
        }
    }

    /// The sample of `seq` ended (`ok`: committed within its deadline). A write still
    /// marked `Sent` when its deadline fired is unknown; one never sent is failed.
    pub fn outcome(&self, seq: u64, ok: bool) -> WriteOutcome {
        let state = self.pending.lock().ok().and_then(|mut m| m.remove(&seq));
        match (ok, state) {
            (true, _) | (false, Some(Pending::Acked)) => WriteOutcome::Acked,
            (false, Some(Pending::Sent)) => WriteOutcome::Unknown,
            (false, Some(Pending::Failed) | None) => WriteOutcome::Failed,
        }
    }

    /// Count a running check until the guard is dropped (also when its future is
    /// dropped at the deadline).
    pub fn running(&self) -> RunningGuard<'_> {
        self.running.fetch_add(1, Ordering::SeqCst);
        RunningGuard(&self.running)
    }

    pub fn idle(&self) -> bool {
        self.running.load(Ordering::SeqCst) == 0
    }
}

pub struct RunningGuard<'a>(&'a AtomicUsize);

impl Drop for RunningGuard<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

pub fn verified(
    probe: &str,
    t_us: u64,
    base_id: i64,
    result: Result<Vec<[u64; 2]>, String>,
) -> WritesVerified {
    let (present, error) = match result {
        Ok(p) => (p, None),
        Err(e) => (Vec::new(), Some(e)),
    };
    WritesVerified {
        probe: probe.to_string(),
        t_us,
        base_id,
        present,
        error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_sent_without_an_answer_is_unknown_and_one_never_sent_failed() {
        let l = Ledger::default();
        l.mark(1, Pending::Sent);
        l.mark(2, Pending::Failed);
        l.mark(4, Pending::Sent);
        l.mark(5, Pending::Acked);
        assert_eq!(l.outcome(1, false), WriteOutcome::Unknown);
        assert_eq!(l.outcome(2, false), WriteOutcome::Failed);
        assert_eq!(l.outcome(3, false), WriteOutcome::Failed);
        assert_eq!(l.outcome(4, true), WriteOutcome::Acked);
        assert_eq!(l.outcome(5, false), WriteOutcome::Acked);
        // Each state is consumed once.
        assert_eq!(l.outcome(1, false), WriteOutcome::Failed);
    }
}
