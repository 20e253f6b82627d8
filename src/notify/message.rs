//! What a notification says, and its two shapes: Slack's `{"text": ...}` and the
//! generic JSON body (the [`Message`] itself).

use super::On;
use crate::report::Report;
use crate::verdict::Check;
use serde::Serialize;

/// Bumped on any incompatible change to the webhook body.
pub const SCHEMA_VERSION: u32 = 1;

/// Failing checks listed in a Slack message before "and N more".
const MAX_LISTED: usize = 10;

/// The generic webhook body, and what the Slack text is written from.
#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub schema_version: u32,
    /// `run`, `suite` or `repeat`.
    pub kind: String,
    /// The experiment's or the suite's name.
    pub name: String,
    /// `pass`, `fail`, `aborted` or `error`.
    pub verdict: On,
    pub exit_code: i32,
    pub failing_checks: Vec<FailingCheck>,
    /// A suite's or a repeat's runs, in order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub runs: Vec<SuiteLine>,
    /// The report's path, or its URL under `--report-url`.
    pub report: String,
    /// Harness errors and revert failures, in words.
    pub errors: Vec<String>,
    #[serde(skip)]
    pub on: On,
}

/// One SLA check that did not pass.
#[derive(Debug, Clone, Serialize)]
pub struct FailingCheck {
    /// In a suite, the experiment it belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<String>,
    pub check: String,
    /// The probe or fault it was measured on.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    pub measured: String,
    pub threshold: String,
}

impl FailingCheck {
    /// The failing checks of `checks`, marked with `experiment` when given.
    pub fn of(checks: &[Check], experiment: Option<&str>) -> Vec<FailingCheck> {
        checks
            .iter()
            .filter(|c| !c.pass)
            .map(|c| FailingCheck {
                experiment: experiment.map(str::to_string),
                check: c.name.clone(),
                scope: c.probe.clone().or_else(|| c.fault.clone()),
                measured: c.measured.clone(),
                threshold: c.threshold.clone(),
            })
            .collect()
    }
}

/// One run of a suite or repeat, in the message.
#[derive(Debug, Clone, Serialize)]
pub struct SuiteLine {
    pub name: String,
    pub verdict: On,
    pub exit_code: i32,
}

impl Message {
    /// The message about one run.
    pub fn of_run(r: &Report, report: String) -> Message {
        let on = super::on_for(r.verdict, r.exit_code);
        Message {
            schema_version: SCHEMA_VERSION,
            kind: "run".into(),
            name: r.experiment.clone(),
            verdict: on,
            exit_code: r.exit_code,
            failing_checks: FailingCheck::of(&r.sla, None),
            runs: Vec::new(),
            report,
            errors: r.errors.clone(),
            on,
        }
    }

    /// The Slack incoming-webhook body: one mrkdwn text.
    pub fn slack_body(&self) -> serde_json::Value {
        serde_json::json!({ "text": self.slack_text() })
    }

    fn slack_text(&self) -> String {
        let mut t = format!(
            "{} shakeout {} `{}`: *{}* (exit {})",
            icon(self.on),
            self.kind,
            slack_escape(&self.name),
            word(self.on).to_uppercase(),
            self.exit_code
        );
        for line in &self.runs {
            t.push_str(&format!(
                "\n{} `{}`: {} (exit {})",
                icon(line.verdict),
                slack_escape(&line.name),
                word(line.verdict),
                line.exit_code
            ));
        }
        for c in self.failing_checks.iter().take(MAX_LISTED) {
            t.push_str(&format!("\n• {}", slack_escape(&check_line(c))));
        }
        if self.failing_checks.len() > MAX_LISTED {
            let more = self.failing_checks.len() - MAX_LISTED;
            t.push_str(&format!("\n• … and {more} more failing checks"));
        }
        for e in self.errors.iter().take(MAX_LISTED) {
            t.push_str(&format!("\n:warning: {}", slack_escape(e)));
        }
        t.push_str(&format!("\nReport: {}", slack_escape(&self.report)));
        t
    }
}

/// `recovery_time (lose-zone-a): measured 7.2s, threshold <= 5s`.
fn check_line(c: &FailingCheck) -> String {
    let mut line = String::new();
    if let Some(e) = &c.experiment {
        line.push_str(&format!("{e}: "));
    }
    line.push_str(&c.check);
    if let Some(s) = &c.scope {
        line.push_str(&format!(" ({s})"));
    }
    line.push_str(&format!(
        ": measured {}, threshold {}",
        c.measured, c.threshold
    ));
    line
}

fn icon(on: On) -> &'static str {
    match on {
        On::Pass => ":white_check_mark:",
        On::Fail => ":x:",
        On::Aborted => ":octagonal_sign:",
        On::Error => ":rotating_light:",
    }
}

/// The `on:` word of a verdict.
pub fn word(on: On) -> &'static str {
    match on {
        On::Pass => "pass",
        On::Fail => "fail",
        On::Aborted => "aborted",
        On::Error => "error",
    }
}

/// Slack reads `<`, `>` and `&` as markup (links, mentions): escaped as it asks.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}
