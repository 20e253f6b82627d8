//! YAML mirror of `postgres:` faults.

use crate::spec::Dur;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresFaultSpec {
    pub action: PostgresAction,
    pub primary: PostgresNodeSpec,
    pub standby: PostgresNodeSpec,
    /// kill_primary: wait this long after the kill before promoting (default 0s).
    #[serde(default)]
    pub promote_after: Option<Dur>,
    /// kill_primary: on revert, rejoin the old primary as a standby (default true).
    #[serde(default)]
    pub rejoin: Option<bool>,
    /// promote: must be true; two primaries at once is the point of the drill.
    #[serde(default)]
    pub allow_split_brain: Option<bool>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresNodeSpec {
    pub data_dir: PathBuf,
    pub conninfo: String,
    /// The zone the node runs in, when known: `plan` warns about a standby in the
    /// primary's zone.
    #[serde(default)]
    pub zone: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PostgresAction {
    KillPrimary,
    StallReplication,
    Promote,
}
