//! Notifications: after a run, a suite or a repeat, tell a Slack channel (incoming
//! webhook) or any HTTP endpoint (a JSON webhook) what happened.
//!
//! - `notify:` in a spec or suite, or `--notify URL`, names where; `on:` names which
//!   verdicts are sent (default `fail`, `aborted` and `error`).
//! - A notification is sent after the verdict and never changes it, nor the exit code:
//!   a failed delivery is a [`Delivery`] with its error, for stderr and the report.
//! - A webhook URL is a credential (whoever holds it can post): it is shown only as
//!   `scheme://host/…` ([`redacted_url`]), and `${VAR}` in the spec keeps it out of the file.

mod message;
mod send;

pub use message::{FailingCheck, Message, SuiteLine};
pub use send::{deliver, Delivery, Retry};

use crate::spec::check::{exactly_one, Errors};
use serde::{Deserialize, Serialize};

/// `notify:` as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySpec {
    /// A Slack incoming-webhook URL (`https://hooks.slack.com/services/...`).
    #[serde(default)]
    pub slack: Option<String>,
    /// Any URL that takes a JSON POST (see the README for the body).
    #[serde(default)]
    pub webhook: Option<String>,
    /// The verdicts that send a message (default: fail, aborted, error).
    #[serde(default)]
    pub on: Option<Vec<On>>,
}

/// A verdict a notification is sent on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum On {
    Pass,
    Fail,
    Aborted,
    /// A harness error or a failed revert.
    Error,
}

/// What `on:` is when not written: everything that needs a person.
pub const DEFAULT_ON: [On; 3] = [On::Fail, On::Aborted, On::Error];

/// The shape of the message a target takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    Slack,
    Webhook,
}

/// One resolved place to notify.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub format: Format,
    pub url: String,
    pub on: Vec<On>,
}

impl Target {
    /// A `--notify URL`: a Slack incoming webhook when the host is Slack's, a JSON
    /// webhook otherwise; sent on the default verdicts. The error never quotes the
    /// URL's path (a credential), unlike a flag parser's.
    pub fn from_flag(url: &str) -> Result<Target, String> {
        let ok = url
            .parse::<hyper::Uri>()
            .is_ok_and(|u| matches!(u.scheme_str(), Some("http" | "https")) && u.host().is_some());
        if !ok {
            return Err(format!(
                "--notify `{}` is not an http:// or https:// URL with a host",
                redacted_url(url)
            ));
        }
        Ok(Target::for_url(url))
    }

    fn for_url(url: &str) -> Target {
        let slack = url
            .parse::<hyper::Uri>()
            .ok()
            .and_then(|u| u.host().map(|h| h.eq_ignore_ascii_case("hooks.slack.com")))
            .unwrap_or(false);
        Target {
            format: if slack {
                Format::Slack
            } else {
                Format::Webhook
            },
            url: url.to_string(),
            on: DEFAULT_ON.to_vec(),
        }
    }

    /// Whether a run that ended with `on` sends to this target.
    pub fn wants(&self, on: On) -> bool {
        self.on.contains(&on)
    }
}

/// Checks `notify:` at `path` (`notify`, `suite.notify`) and resolves it.
pub fn compile(spec: &NotifySpec, path: &str, e: &mut Errors) -> Option<Target> {
    let keys = [
        ("slack", spec.slack.is_some()),
        ("webhook", spec.webhook.is_some()),
    ];
    if !exactly_one(e, path, "notification target", &keys) {
        return None;
    }
    let (format, url, key) = match (&spec.slack, &spec.webhook) {
        (Some(url), _) => (Format::Slack, url, "slack"),
        (None, Some(url)) => (Format::Webhook, url, "webhook"),
        (None, None) => return None,
    };
    let url_path = format!("{path}.{key}");
    if !check_url(url, &url_path, e) {
        return None;
    }
    let on = spec.on.clone().unwrap_or_else(|| DEFAULT_ON.to_vec());
    if on.is_empty() {
        e.at(
            format!("{path}.on"),
            "lists no verdict: give some of pass, fail, aborted, error, or leave `on` out",
        );
        return None;
    }
    Some(Target {
        format,
        url: url.clone(),
        on,
    })
}

/// An http:// or https:// URL with a host. The message never quotes the URL's path:
/// it is a credential.
fn check_url(url: &str, path: &str, e: &mut Errors) -> bool {
    let ok = url.parse::<hyper::Uri>().is_ok_and(|uri| {
        matches!(uri.scheme_str(), Some("http" | "https")) && uri.host().is_some()
    });
    if !ok {
        e.at(
            path,
            format!(
                "`{}` is not an http:// or https:// URL with a host",
                redacted_url(url)
            ),
        );
    }
    ok
}

/// `https://hooks.slack.com/…`: scheme and host only, never the path or query that
/// hold the secret, nor user information.
pub fn redacted_url(url: &str) -> String {
    match url.parse::<hyper::Uri>() {
        Ok(uri) => match (uri.scheme_str(), uri.host()) {
            (Some(scheme), Some(host)) => {
                let port = uri.port_u16().map(|p| format!(":{p}")).unwrap_or_default();
                format!("{scheme}://{host}{port}/…")
            }
            _ => "(not a URL)".to_string(),
        },
        Err(_) => "(not a URL)".to_string(),
    }
}

/// Which `on:` word a run with this outcome and exit code is.
pub fn on_for(outcome: crate::verdict::Outcome, exit_code: i32) -> On {
    use crate::verdict::{exit, Outcome};
    if exit_code == exit::REVERT_FAILED || exit_code == exit::HARNESS {
        return On::Error;
    }
    match outcome {
        Outcome::Pass => On::Pass,
        Outcome::Fail => On::Fail,
        Outcome::Aborted => On::Aborted,
        Outcome::Error => On::Error,
    }
}

/// Sends `message` to every target that wants its verdict, one after another; the
/// deliveries in target order (targets that do not want it are left out).
pub async fn notify_all(targets: &[Target], message: &Message, retry: Retry) -> Vec<Delivery> {
    let mut out = Vec::new();
    for target in targets.iter().filter(|t| t.wants(message.on)) {
        out.push(deliver(target, message, retry).await);
    }
    out
}

#[cfg(test)]
mod tests;
