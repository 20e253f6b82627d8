//! YAML mirror of `postgres:` probes.

use crate::spec::Dur;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresProbeSpec {
    /// libpq-style conninfo (`host=a,b port=5432,5433 ... target_session_attrs=read-write`)
    /// or a `postgresql://` URL.
    pub conninfo: String,
    /// `read` (default) or `write`.
    #[serde(default)]
    pub mode: Option<PostgresModeSpec>,
    /// Write mode: the ledger table, created if absent (default `shakeout_writes`).
    #[serde(default)]
    pub table: Option<String>,
    /// Write mode: where the ledger is read back after the run (default `conninfo`).
    #[serde(default)]
    pub verify_conninfo: Option<String>,
    /// Read mode: the statement timed (default `SELECT 1`).
    #[serde(default)]
    pub query: Option<String>,
    #[serde(default)]
    pub interval: Option<Dur>,
    #[serde(default)]
    pub timeout: Option<Dur>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostgresModeSpec {
    Read,
    Write,
}
