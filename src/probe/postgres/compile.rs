//! Pure checks of a `postgres:` probe; its `plan` text.

use super::spec::{PostgresModeSpec, PostgresProbeSpec};
use crate::spec::check::Errors;
use serde::Serialize;
use std::str::FromStr;

pub const DEFAULT_TABLE: &str = "shakeout_writes";
pub const DEFAULT_QUERY: &str = "SELECT 1";

#[derive(Debug, Clone, Serialize)]
pub struct PostgresProbePlan {
    /// Kept as written: it may hold a password, so it is never printed (see `target`).
    #[serde(skip)]
    pub conninfo: String,
    pub mode: PostgresMode,
    /// host:port list and database, without credentials.
    pub endpoint: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum PostgresMode {
    Read {
        query: String,
    },
    Write {
        table: String,
        #[serde(skip)]
        verify_conninfo: String,
    },
}

/// Check a `postgres:` probe at `path`.
pub fn compile(s: &PostgresProbeSpec, path: &str, e: &mut Errors) -> Option<PostgresProbePlan> {
    let config = parse_conninfo(&s.conninfo, &format!("{path}.conninfo"), e);
    let mode = match s.mode.unwrap_or(PostgresModeSpec::Read) {
        PostgresModeSpec::Read => compile_read(s, path, e),
        PostgresModeSpec::Write => compile_write(s, path, e),
    };
    Some(PostgresProbePlan {
        conninfo: s.conninfo.clone(),
        endpoint: endpoint(&config?),
        mode: mode?,
    })
}

fn compile_read(s: &PostgresProbeSpec, path: &str, e: &mut Errors) -> Option<PostgresMode> {
    for (key, given) in [
        ("table", s.table.is_some()),
        ("verify_conninfo", s.verify_conninfo.is_some()),
    ] {
        if given {
            e.at(format!("{path}.{key}"), "only for `mode: write`");
        }
    }
    let query = s.query.clone().unwrap_or_else(|| DEFAULT_QUERY.into());
    if query.trim().is_empty() {
        e.at(format!("{path}.query"), "must not be empty");
        return None;
    }
    Some(PostgresMode::Read { query })
}

fn compile_write(s: &PostgresProbeSpec, path: &str, e: &mut Errors) -> Option<PostgresMode> {
    if s.query.is_some() {
        e.at(
            format!("{path}.query"),
            "only for `mode: read` (a write probe inserts its own rows)",
        );
    }
    let table = s.table.clone().unwrap_or_else(|| DEFAULT_TABLE.into());
    let table_ok = valid_table(&table);
    if !table_ok {
        e.at(
            format!("{path}.table"),
            format!(
                "`{table}` is not a plain table name (letters, digits, `_`, optionally `schema.`)"
            ),
        );
    }
    let verify_conninfo = s
        .verify_conninfo
        .clone()
        .unwrap_or_else(|| s.conninfo.clone());
    let verify_ok = s.verify_conninfo.is_none()
        || parse_conninfo(&verify_conninfo, &format!("{path}.verify_conninfo"), e).is_some();
    (table_ok && verify_ok).then_some(PostgresMode::Write {
        table,
        verify_conninfo,
    })
}

/// The conninfo as tokio-postgres reads it; an error at `path` when it cannot.
pub fn parse_conninfo(text: &str, path: &str, e: &mut Errors) -> Option<tokio_postgres::Config> {
    match tokio_postgres::Config::from_str(text) {
        Ok(c) if c.get_hosts().is_empty() => {
            e.at(path, "names no host (give `host=...`)");
            None
        }
        Ok(c) => Some(c),
        Err(err) => {
            e.at(path, format!("not a valid conninfo: {err}"));
            None
        }
    }
}

/// An identifier PostgreSQL takes unquoted, lower case: the ledger table is created and
/// queried by this name, so nothing in it may need quoting.
fn valid_table(name: &str) -> bool {
    let part = |p: &str| {
        let mut chars = p.chars();
        chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
            && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && p.len() <= 63
    };
    let parts: Vec<&str> = name.split('.').collect();
    parts.len() <= 2 && parts.iter().all(|p| part(p))
}

/// `127.0.0.1:5432,127.0.0.1:5433/postgres`: where the probe connects, no credentials.
pub fn endpoint(c: &tokio_postgres::Config) -> String {
    let ports = c.get_ports();
    let hosts: Vec<String> = c
        .get_hosts()
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let host = match h {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            };
            let port = ports.get(i).or(ports.first()).copied().unwrap_or(5432);
            format!("{host}:{port}")
        })
        .collect();
    format!(
        "{}/{}",
        hosts.join(","),
        c.get_dbname().or(c.get_user()).unwrap_or("postgres")
    )
}

impl PostgresProbePlan {
    pub fn target(&self) -> String {
        match &self.mode {
            PostgresMode::Read { .. } => self.endpoint.clone(),
            PostgresMode::Write { table, .. } => {
                format!("{} (writes to {table})", self.endpoint)
            }
        }
    }

    pub fn success(&self) -> String {
        match &self.mode {
            PostgresMode::Read { query } => format!("success = `{query}` answers"),
            PostgresMode::Write { .. } => {
                "success = an INSERT is committed (ledger read back after the run)".into()
            }
        }
    }

    pub fn is_write(&self) -> bool {
        matches!(self.mode, PostgresMode::Write { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_must_need_no_quoting() {
        assert!(valid_table("shakeout_writes"));
        assert!(valid_table("public.orders2"));
        assert!(!valid_table("Orders"));
        assert!(!valid_table("a;drop table x"));
        assert!(!valid_table("a.b.c"));
        assert!(!valid_table("1abc"));
    }

    #[test]
    fn the_endpoint_lists_every_host_without_credentials() {
        let c = tokio_postgres::Config::from_str(
            "host=127.0.0.1,127.0.0.1 port=5432,5433 user=u password=secret dbname=app",
        )
        .unwrap();
        assert_eq!(endpoint(&c), "127.0.0.1:5432,127.0.0.1:5433/app");
    }
}
