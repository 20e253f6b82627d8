//! Pure checks of an `exec:` probe; its `plan` text.

use super::ExecProbeSpec;
use crate::spec::check::Errors;
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct ExecProbePlan {
    pub command: Vec<String>,
    pub env: BTreeMap<String, String>,
}

/// Check an `exec:` probe at `path`.
pub fn compile(x: &ExecProbeSpec, path: &str, e: &mut Errors) -> Option<ExecProbePlan> {
    if x.command.first().is_none_or(|p| p.trim().is_empty()) {
        e.at(
            format!("{path}.command"),
            "give the program and its arguments, e.g. [pg_isready, -h, db]",
        );
        return None;
    }
    for name in x.env.keys() {
        if name.is_empty() || name.contains(['=', '\0']) {
            e.at(format!("{path}.env.{name}"), "not a valid variable name");
            return None;
        }
    }
    Some(ExecProbePlan {
        command: x.command.clone(),
        env: x.env.clone(),
    })
}

impl ExecProbePlan {
    pub fn target(&self) -> String {
        self.command.join(" ")
    }

    pub fn success(&self) -> String {
        "success = exit status 0".into()
    }
}
