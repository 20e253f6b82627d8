//! The ledgered write of an `http` probe with `write:` and its read-back.
//!
//! Each sample sends one create request whose id is `base_id + seq` (templated into the
//! url and/or body). What became of it goes in the shared [`Ledger`]: a 2xx is acked;
//! a refused connection, or any answer that is not 2xx (the server answered before it
//! committed), is failed; a timeout or a connection lost once the request left is
//! unknown. After the run each id is read back with `GET read_url`: 200 present, 404
//! absent, anything else a read-back error.

use super::check::HttpProbe;
use super::compile::{with_id, HttpProbePlan, HttpWritePlan};
use crate::probe::failure::{Failure, FailureClass};
use crate::probe::https::{ClientOptions, HttpsClient};
use crate::probe::ledger::{verified, Ledger, Pending};
use crate::record::{WriteOutcome, WritesVerified};
use bytes::Bytes;
use hyper::{Method, Request, Uri};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// Read-backs in flight at once: enough to read thousands of ids in a second or two on
/// loopback, few enough not to be a load test of the store.
const READERS: u64 = 16;
/// How long an id may keep answering something other than 200/404 (the store still
/// settling after the last revert) before the read-back gives up and says why.
const SETTLE: Duration = Duration::from_secs(10);

pub struct Writer {
    url: String,
    body: String,
    read_url: String,
    read: Arc<HttpsClient>,
    timeout: Duration,
    /// Ids of this run start here: the wall clock in microseconds, so a rerun against
    /// the same store never reuses an id (a probe sends at most one write per 100us).
    base_id: i64,
    /// One past the highest seq sent: the ids to read back.
    issued: AtomicU64,
    ledger: Ledger,
}

impl Writer {
    pub fn new(
        plan: &HttpProbePlan,
        write: &HttpWritePlan,
        timeout: Duration,
    ) -> Result<Writer, String> {
        let secure = write.read_url.trim_start().starts_with("https://");
        let options = ClientOptions {
            tls: plan.tls.clone().filter(|_| secure),
            reuse_connection: true,
            timeout,
        };
        let read = HttpsClient::new(&with_id(&write.read_url, 0), &options)
            .map_err(|e| format!("read_url: {e}"))?;
        Ok(Writer {
            url: plan.url.clone(),
            body: plan.body.clone().unwrap_or_default(),
            read_url: write.read_url.clone(),
            read: Arc::new(read),
            timeout,
            base_id: base_id(SystemTime::now()),
            issued: AtomicU64::new(0),
            ledger: Ledger::default(),
        })
    }

    fn id(&self, seq: u64) -> i64 {
        self.base_id
            .saturating_add(i64::try_from(seq).unwrap_or(i64::MAX))
    }

    /// One create request, its fate in the ledger.
    pub async fn write(&self, probe: &HttpProbe, seq: u64) -> Result<(), Failure> {
        let _running = self.ledger.running();
        self.issued.fetch_max(seq + 1, Ordering::SeqCst);
        self.ledger.mark(seq, Pending::Failed);
        let id = self.id(seq);
        let uri: Uri = with_id(&self.url, id)
            .parse()
            .map_err(|e| Failure::new(FailureClass::Connect, format!("bad url: {e}")))?;
        let request = probe.request(uri, Bytes::from(with_id(&self.body, id)))?;
        let sent = || self.ledger.mark(seq, Pending::Sent);
        let response = probe.client().send_noting(request, &sent).await?;
        let state = if (200..300).contains(&response.status) {
            Pending::Acked
        } else {
            Pending::Failed
        };
        self.ledger.mark(seq, state);
        probe.judge(&response)
    }

    pub fn outcome(&self, seq: u64, ok: bool) -> WriteOutcome {
        self.ledger.outcome(seq, ok)
    }

    /// Wait for writes still running, then read every id sent back.
    pub async fn verify(&self, probe: &str, t_us: u64) -> WritesVerified {
        self.wait_idle().await;
        let issued = self.issued.load(Ordering::SeqCst);
        let result = self.read_back(issued).await;
        verified(probe, t_us, self.base_id, result)
    }

    async fn wait_idle(&self) {
        let until = tokio::time::Instant::now() + self.timeout + Duration::from_secs(1);
        while !self.ledger.idle() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Present seqs of `0..issued`, read by [`READERS`] tasks each taking every
    /// READERS-th seq.
    async fn read_back(&self, issued: u64) -> Result<Vec<[u64; 2]>, String> {
        let settle_until = tokio::time::Instant::now() + SETTLE;
        let mut tasks = tokio::task::JoinSet::new();
        for first in 0..READERS.min(issued) {
            let reader = Reader {
                client: Arc::clone(&self.read),
                read_url: self.read_url.clone(),
                base_id: self.base_id,
                settle_until,
            };
            tasks.spawn(async move { reader.read_every(first, issued).await });
        }
        let mut present = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            let seqs = joined.map_err(|e| format!("read-back task: {e}"))??;
            present.extend(seqs);
        }
        present.sort_unstable();
        Ok(crate::record::seq_ranges(present))
    }
}

/// What one read-back task needs (owned: it runs on its own task).
struct Reader {
    client: Arc<HttpsClient>,
    read_url: String,
    base_id: i64,
    settle_until: tokio::time::Instant,
}

impl Reader {
    async fn read_every(&self, first: u64, issued: u64) -> Result<Vec<u64>, String> {
        let mut present = Vec::new();
        let mut seq = first;
        while seq < issued {
            let id = self
                .base_id
                .saturating_add(i64::try_from(seq).unwrap_or(i64::MAX));
            if self.is_present(id).await? {
                present.push(seq);
            }
            seq += READERS;
        }
        Ok(present)
    }

    /// 200 present, 404 absent; anything else is retried until the store settles.
    async fn is_present(&self, id: i64) -> Result<bool, String> {
        loop {
            let reason = match self.get(id).await {
                Ok(200) => return Ok(true),
                Ok(404) => return Ok(false),
                Ok(status) => format!("HTTP {status}"),
                Err(f) => f.detail,
            };
            if tokio::time::Instant::now() >= self.settle_until {
                return Err(format!(
                    "reading id {id} back from {}: {reason} (want 200 or 404)",
                    with_id(&self.read_url, id)
                ));
            }
            tracing::debug!("read-back of id {id}: {reason}; retrying");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn get(&self, id: i64) -> Result<u16, Failure> {
        let uri: Uri = with_id(&self.read_url, id)
            .parse()
            .map_err(|e| Failure::new(FailureClass::Connect, format!("bad read_url: {e}")))?;
        let request = Request::builder()
            .method(Method::GET)
            .uri(uri)
            .body(Bytes::new())
            .map_err(|e| Failure::new(FailureClass::Connect, e.to_string()))?;
        Ok(self.client.send(request).await?.status)
    }
}

/// The first id of a run: microseconds since the Unix epoch.
fn base_id(now: SystemTime) -> i64 {
    now.duration_since(SystemTime::UNIX_EPOCH)
        .map_or(1, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX / 2))
}
