//! Pure checks of a `patroni:` fault; its `plan` text and exclusive-target key.

use super::spec::{PatroniAction, PatroniFaultSpec};
use crate::spec::check::Errors;
use serde::Serialize;
use std::str::FromStr;
use std::time::Duration;

const DEFAULT_CONNINFO: &str = "user=postgres dbname=postgres";
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const DEFAULT_REJOIN_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Serialize)]
pub struct PatroniFault {
    /// `http://host:port` of the member the spec names.
    pub url: String,
    pub action: PatroniPlanAction,
    /// libpq keywords without host and port; may hold a password: never printed.
    #[serde(skip)]
    pub conninfo: String,
    pub timeout: Duration,
    pub rejoin_timeout: Duration,
}

#[derive(Debug, Clone, Serialize)]
pub enum PatroniPlanAction {
    Switchover {
        candidate: Option<String>,
    },
    Failover {
        candidate: String,
    },
    KillNode {
        member: Option<String>,
        restart: Vec<String>,
    },
}

/// Check a `patroni:` fault at `path`.
pub fn compile(s: &PatroniFaultSpec, path: &str, e: &mut Errors) -> Option<PatroniFault> {
    let url = base_url(&s.url, &format!("{path}.url"), e);
    let conninfo = conninfo(s.conninfo.as_deref(), &format!("{path}.conninfo"), e);
    let action = action(s, path, e);
    for (key, d) in [("timeout", s.timeout), ("rejoin_timeout", s.rejoin_timeout)] {
        if d.is_some_and(|d| d.0.is_zero()) {
            e.at(format!("{path}.{key}"), "must be longer than 0s");
        }
    }
    Some(PatroniFault {
        url: url?,
        action: action?,
        conninfo: conninfo?,
        timeout: s.timeout.map_or(DEFAULT_TIMEOUT, |d| d.0),
        rejoin_timeout: s.rejoin_timeout.map_or(DEFAULT_REJOIN_TIMEOUT, |d| d.0),
    })
}

/// `http://host:port`, without a path: Patroni's endpoints are appended to it.
fn base_url(url: &str, path: &str, e: &mut Errors) -> Option<String> {
    let trimmed = url.trim_end_matches('/');
    match trimmed.parse::<hyper::Uri>() {
        Ok(u) if u.scheme_str() == Some("http") && u.host().is_some() && u.path() == "/" => {
            Some(trimmed.to_string())
        }
        Ok(u) if u.scheme_str() == Some("https") => {
            e.at(
                path,
                "https is not supported yet; give the member's http:// REST API",
            );
            None
        }
        _ => {
            e.at(
                path,
                "expected a member's REST API as http://host:port (no path), e.g. http://127.0.0.1:8008",
            );
            None
        }
    }
}

fn conninfo(given: Option<&str>, path: &str, e: &mut Errors) -> Option<String> {
    let text = given.unwrap_or(DEFAULT_CONNINFO);
    match tokio_postgres::Config::from_str(text) {
        Ok(c) if !c.get_hosts().is_empty() || !c.get_ports().is_empty() => {
            e.at(
                path,
                "names a host or port; leave them out: each member's come from the cluster",
            );
            None
        }
        Ok(_) => Some(text.to_string()),
        Err(err) => {
            e.at(path, format!("not a valid conninfo: {err}"));
            None
        }
    }
}

fn action(s: &PatroniFaultSpec, path: &str, e: &mut Errors) -> Option<PatroniPlanAction> {
    let kill = s.action == PatroniAction::KillNode;
    let only = |e: &mut Errors, key: &str, given: bool, ok: bool, which: &str| {
        if given && !ok {
            e.at(format!("{path}.{key}"), format!("only for {which}"));
        }
    };
    let candidate_given = s.candidate.is_some();
    only(
        e,
        "candidate",
        candidate_given,
        !kill,
        "`action: switchover` or `failover`",
    );
    only(e, "member", s.member.is_some(), kill, "`action: kill_node`");
    only(
        e,
        "restart",
        s.restart.is_some(),
        kill,
        "`action: kill_node`",
    );
    for (key, name) in [("candidate", &s.candidate), ("member", &s.member)] {
        if name.as_ref().is_some_and(|n| n.trim().is_empty()) {
            e.at(format!("{path}.{key}"), "is empty; give a member's name");
        }
    }
    match s.action {
        PatroniAction::Switchover => Some(PatroniPlanAction::Switchover {
            candidate: s.candidate.clone(),
        }),
        PatroniAction::Failover => match &s.candidate {
            Some(c) => Some(PatroniPlanAction::Failover {
                candidate: c.clone(),
            }),
            None => {
                e.at(
                    format!("{path}.candidate"),
                    "`failover` needs a candidate (Patroni fails over only to a named member)",
                );
                None
            }
        },
        PatroniAction::KillNode => match &s.restart {
            Some(argv) if argv.first().is_some_and(|p| !p.trim().is_empty()) => {
                Some(PatroniPlanAction::KillNode {
                    member: s.member.clone(),
                    restart: argv.clone(),
                })
            }
            Some(_) => {
                e.at(
                    format!("{path}.restart"),
                    "is empty; give the command that starts the member's Patroni",
                );
                None
            }
            None => {
                e.at(
                    format!("{path}.restart"),
                    "`kill_node` needs the command that starts the member's Patroni again, e.g. [/usr/bin/patroni, /etc/patroni/pg1.yml]",
                );
                None
            }
        },
    }
}

impl PatroniFault {
    pub fn describe(&self) -> String {
        let url = &self.url;
        match &self.action {
            PatroniPlanAction::Switchover { candidate } => format!(
                "Patroni switchover at {url} to {}; revert: wait until the old leader streams as a replica",
                candidate
                    .as_deref()
                    .map_or("the replica Patroni picks".to_string(), |c| format!("`{c}`"))
            ),
            PatroniPlanAction::Failover { candidate } => format!(
                "Patroni failover at {url} to `{candidate}`; revert: wait until the old leader streams as a replica"
            ),
            PatroniPlanAction::KillNode { member, restart } => format!(
                "kill Patroni member {} at {url} with its postmaster (SIGKILL); revert: `{}`, then wait until it streams as a replica",
                member
                    .as_deref()
                    .map_or("the leader".to_string(), |m| format!("`{m}`")),
                restart.join(" ")
            ),
        }
    }

    /// One fault at a time changes who leads a cluster.
    pub fn exclusive_key(&self) -> String {
        format!("Patroni cluster at {}", self.url)
    }
}
