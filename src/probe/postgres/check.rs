//! The running PostgreSQL probe: one shared connection (samples pipeline on it),
//! reconnected when it breaks; for writes, the ledger.

use super::compile::{PostgresMode, PostgresProbePlan};
use super::conn::{certainly_not_committed, connect, reason};
use super::ledger;
use crate::probe::ledger::{verified, Ledger, Pending};
use crate::record::{WriteOutcome, WritesVerified};
use std::str::FromStr;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};
use tokio_postgres::{Client, Config, Statement};

/// A live connection and, for writes, its prepared INSERT.
struct Session {
    client: Client,
    insert: Option<Statement>,
}

pub struct PostgresProbe {
    config: Config,
    mode: PostgresMode,
    interval: Duration,
    timeout: Duration,
    session: tokio::sync::Mutex<Option<Arc<Session>>>,
    base_id: AtomicI64,
    /// Wall-clock time of seq 0's intended send, fixed by the first sample.
    origin: OnceLock<SystemTime>,
    ledger: Ledger,
}

impl PostgresProbe {
    pub fn new(
        plan: &PostgresProbePlan,
        interval: Duration,
        timeout: Duration,
    ) -> Result<PostgresProbe, String> {
        let config = Config::from_str(&plan.conninfo).map_err(|e| e.to_string())?;
        Ok(PostgresProbe {
            config,
            mode: plan.mode.clone(),
            interval,
            timeout,
            session: tokio::sync::Mutex::new(None),
            base_id: AtomicI64::new(1),
            origin: OnceLock::new(),
            ledger: Ledger::default(),
        })
    }

    fn table(&self) -> Option<&str> {
        match &self.mode {
            PostgresMode::Write { table, .. } => Some(table),
            PostgresMode::Read { .. } => None,
        }
    }

    /// Preflight, read-only: the server answers; a read probe's query runs once, a
    /// write probe's server is a primary (its sample would write a row, so none is taken).
    pub async fn preflight(&self) -> Result<String, String> {
        let client = connect(&self.config, self.timeout.max(Duration::from_secs(5))).await?;
        match &self.mode {
            PostgresMode::Read { query } => {
                run_query(&client, query).await?;
                Ok("answered".into())
            }
            PostgresMode::Write { .. } => {
                refuse_standby(&client).await?;
                Ok("connected to a primary".into())
            }
        }
    }

    /// Before the run: connect, refuse a standby for writes, create the ledger table and
    /// pick the first id after every id already in it (earlier runs' rows stay).
    pub async fn prepare(&self) -> Result<(), String> {
        let setup_timeout = self.timeout.max(Duration::from_secs(5));
        let client = connect(&self.config, setup_timeout).await?;
        match &self.mode {
            PostgresMode::Read { query } => {
                run_query(&client, query).await?;
            }
            PostgresMode::Write { table, .. } => {
                refuse_standby(&client).await?;
                let base = create_ledger_table(&client, table).await?;
                self.base_id.store(base, Ordering::SeqCst);
            }
        }
        let session = self.session_for(client).await?;
        *self.session.lock().await = Some(Arc::new(session));
        Ok(())
    }

    async fn session_for(&self, client: Client) -> Result<Session, String> {
        let insert = match self.table() {
            Some(table) => Some(
                client
                    .prepare(&format!(
                        "INSERT INTO {table} (id, sent_at) VALUES ($1, $2)"
                    ))
                    .await
                    .map_err(|e| reason(&e))?,
            ),
            None => None,
        };
        Ok(Session { client, insert })
    }

    /// The live session, reconnecting (one sample at a time) when it broke.
    async fn session(&self) -> Result<Arc<Session>, String> {
        let mut slot = self.session.lock().await;
        if let Some(s) = slot.as_ref().filter(|s| !s.client.is_closed()) {
            return Ok(Arc::clone(s));
        }
        *slot = None;
        let client = connect(&self.config, self.timeout).await?;
        let session = Arc::new(self.session_for(client).await?);
        *slot = Some(Arc::clone(&session));
        Ok(session)
    }

    pub async fn check(&self, seq: u64) -> Result<(), String> {
        let _running = self.ledger.running();
        match &self.mode {
            PostgresMode::Read { query } => {
                let s = self.session().await?;
                s.client
                    .simple_query(query)
                    .await
                    .map(|_| ())
                    .map_err(|e| reason(&e))
            }
            PostgresMode::Write { .. } => self.write(seq).await,
        }
    }

    async fn write(&self, seq: u64) -> Result<(), String> {
        let sent_at = self.intended_send_time(seq);
        self.ledger.mark(seq, Pending::Failed);
        let s = self.session().await?;
        let Some(insert) = &s.insert else {
            return Err("internal: write session without its INSERT".into());
        };
        let id = self.base_id.load(Ordering::SeqCst) + seq as i64;
        self.ledger.mark(seq, Pending::Sent);
        match s.client.execute(insert, &[&id, &sent_at]).await {
            Ok(_) => Ok(()),
            Err(e) => {
                if certainly_not_committed(&e) {
                    self.ledger.mark(seq, Pending::Failed);
                }
                Err(reason(&e))
            }
        }
    }

    fn intended_send_time(&self, seq: u64) -> SystemTime {
        let since_origin = self
            .interval
            .saturating_mul(u32::try_from(seq).unwrap_or(u32::MAX));
        let origin = *self.origin.get_or_init(|| SystemTime::now() - since_origin);
        origin + since_origin
    }

    pub fn keeps_ledger(&self) -> bool {
        self.table().is_some()
    }

    /// The ledger entry of a sample that ended; `None` for read probes.
    pub fn write_outcome(&self, seq: u64, ok: bool) -> Option<WriteOutcome> {
        self.table().map(|_| self.ledger.outcome(seq, ok))
    }

    /// After the run: wait for running writes to end, then read every id back from
    /// `verify_conninfo`, retrying while the store settles (a rejoin, a restart).
    pub async fn verify_writes(&self, probe: &str, t_us: u64) -> Option<WritesVerified> {
        let PostgresMode::Write {
            table,
            verify_conninfo,
        } = &self.mode
        else {
            return None;
        };
        self.wait_idle().await;
        let base = self.base_id.load(Ordering::SeqCst);
        let result = read_back_with_retries(verify_conninfo, table, base, self.timeout).await;
        Some(verified(probe, t_us, base, result))
    }

    async fn wait_idle(&self) {
        let until = tokio::time::Instant::now() + self.timeout + Duration::from_secs(1);
        while !self.ledger.idle() && tokio::time::Instant::now() < until {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// Writes go to a primary: a standby would fail every sample for a reason that is the
/// spec's, not the fault's.
async fn refuse_standby(client: &Client) -> Result<(), String> {
    let row = client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .map_err(|e| reason(&e))?;
    let in_recovery: bool = row.try_get(0).map_err(|e| reason(&e))?;
    if in_recovery {
        return Err("conninfo lands on a standby (pg_is_in_recovery() = true): point it at the primary or add target_session_attrs=read-write".into());
    }
    Ok(())
}

/// Create the ledger table if absent; the first id of this run.
async fn create_ledger_table(client: &Client, table: &str) -> Result<i64, String> {
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS {table} (id bigint PRIMARY KEY, sent_at timestamptz)"
        ))
        .await
        .map_err(|e| format!("creating {table}: {}", reason(&e)))?;
    let row = client
        .query_one(
            &format!("SELECT coalesce(max(id), 0) + 1 FROM {table}"),
            &[],
        )
        .await
        .map_err(|e| format!("reading {table}: {}", reason(&e)))?;
    row.try_get::<_, i64>(0).map_err(|e| reason(&e))
}

async fn read_back_with_retries(
    conninfo: &str,
    table: &str,
    base: i64,
    timeout: Duration,
) -> Result<Vec<[u64; 2]>, String> {
    let config = Config::from_str(conninfo).map_err(|e| e.to_string())?;
    let until = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let attempt = async {
            let client = connect(&config, timeout.max(Duration::from_secs(2))).await?;
            ledger::read_back(&client, table, base).await
        };
        match attempt.await {
            Ok(present) => return Ok(present),
            Err(e) if tokio::time::Instant::now() >= until => {
                return Err(format!("reading the ledger back: {e}"))
            }
            Err(e) => tracing::debug!("ledger read-back: {e}; retrying"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The class of a failed sample, from its reason: the server's own errors
/// (`error: ...`, `fatal: ...`) are query failures; the rest is the connection's.
pub fn failure(reason: String) -> crate::probe::failure::Failure {
    use crate::probe::failure::{Failure, FailureClass};
    let class = if reason == "connection refused" {
        FailureClass::Refused
    } else if reason == "timed out" {
        FailureClass::Timeout
    } else if ["error:", "fatal:", "panic:"]
        .iter()
        .any(|p| reason.starts_with(p))
    {
        FailureClass::Query
    } else {
        FailureClass::Connect
    };
    Failure::new(class, reason)
}

/// Run a read probe's query once (preflight and prepare), naming it in the error.
async fn run_query(client: &Client, query: &str) -> Result<(), String> {
    client
        .simple_query(query)
        .await
        .map(|_| ())
        .map_err(|e| format!("`{query}`: {}", reason(&e)))
}
