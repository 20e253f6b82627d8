//! `report.md`: the run for people, sized to paste into a pull-request comment.

use super::{
    budget_sentence, check_subject, fmt_dur, fmt_num, fmt_offset, fmt_opt_ms, fmt_pct,
    fmt_recovery, fmt_span, verdict_word, Report, DEFINITIONS,
};
use std::fmt::Write;

/// Render the whole report as GitHub-flavoured Markdown.
pub fn render(r: &Report) -> String {
    let mut md = String::new();
    // `write!` into a String cannot fail; the results are ignored on purpose below.
    let _ = writeln!(
        md,
        "# shakeout: {} — **{}**\n",
        esc(&r.experiment),
        verdict_word(r.verdict)
    );
    if let Some(d) = &r.description {
        let _ = writeln!(md, "{}\n", esc(d));
    }
    let _ = writeln!(md, "- Run: `{}`", code(&r.run_id));
    let _ = writeln!(md, "- Started: {}", esc(&r.started_at));
    let duration = if (r.measured_ms - r.duration_ms).abs() < 0.5 {
        fmt_span(r.duration_ms)
    } else {
        format!(
            "{} of {} planned",
            fmt_span(r.measured_ms),
            fmt_span(r.duration_ms)
        )
    };
    let _ = writeln!(md, "- Duration: {duration}");
    if let Some(a) = &r.aborted {
        let _ = writeln!(
            md,
            "- **Aborted** at {}: {}",
            fmt_offset(a.at_ms),
            esc(&a.reason)
        );
    }
    if let Some(s) = &r.source {
        let _ = writeln!(md, "- Spec: `{}`", code(s));
    }
    let _ = writeln!(md, "- Exit code: {}", r.exit_code);
    md.push('\n');

    sla(&mut md, r);
    probes(&mut md, r);
    outages(&mut md, r);
    faults(&mut md, r);
    phases(&mut md, r);

    if let Some(b) = &r.error_budget {
        let _ = write!(md, "**Error budget:** {}", budget_sentence(b));
        if let Some(p) = &b.probe {
            let _ = write!(
                md,
                " — {} of downtime on probe {}",
                fmt_span(b.spent_ms),
                esc(p)
            );
        }
        md.push_str(".\n\n");
    }

    if !r.errors.is_empty() {
        md.push_str("## Harness errors\n\n");
        for e in &r.errors {
            let _ = writeln!(md, "- {}", esc(e));
        }
        md.push('\n');
    }

    md.push_str("---\n\n");
    for (term, def) in DEFINITIONS {
        // Trailing backslash = hard line break, so each definition stays on its own line.
        let _ = writeln!(md, "*{term}*: {def}\\");
    }
    let _ = writeln!(
        md,
        "\n<sub>{} {}, report schema v{}</sub>",
        r.tool, r.tool_version, r.schema_version
    );
    md
}

fn sla(md: &mut String, r: &Report) {
    md.push_str("## SLA\n\n");
    if r.sla.is_empty() {
        md.push_str("No SLA thresholds were set.\n\n");
        return;
    }
    md.push_str("| Check | Probe / fault | Threshold | Measured | Result |\n");
    md.push_str("|---|---|---|---|---|\n");
    for c in &r.sla {
        let _ = writeln!(
            md,
            "| `{}` | {} | {} | {} | {} |",
            code(&c.name),
            esc(&check_subject(c)),
            esc(&c.threshold),
            esc(&c.measured),
            if c.pass { "pass" } else { "**FAIL**" }
        );
    }
    md.push('\n');
}

fn probes(md: &mut String, r: &Report) {
    if r.probes.is_empty() {
        return;
    }
    md.push_str("## Probes\n\n");
    md.push_str("| Probe | Samples | Failed | Availability | Downtime | Longest outage | p50 | p99 | max |\n");
    md.push_str("|---|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for p in &r.probes {
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            esc(&p.name),
            p.total,
            p.failed,
            fmt_pct(p.availability_pct),
            fmt_dur(p.downtime_ms),
            fmt_dur(p.longest_outage_ms),
            fmt_opt_ms(p.latency_ms.p50),
            fmt_opt_ms(p.latency_ms.p99),
            fmt_opt_ms(p.latency_ms.max),
        );
    }
    md.push('\n');
}

fn outages(md: &mut String, r: &Report) {
    if r.probes.iter().all(|p| p.outages.is_empty()) {
        return;
    }
    md.push_str("## Outages\n\nTimes are offsets from the run start.\n\n");
    for p in r.probes.iter().filter(|p| !p.outages.is_empty()) {
        let n = p.outages.len();
        let _ = writeln!(
            md,
            "**{}** ({n} outage{})\n",
            esc(&p.name),
            if n == 1 { "" } else { "s" }
        );
        for o in &p.outages {
            let _ = write!(
                md,
                "- {} → {} ({}, {} failed samples)",
                fmt_offset(o.start_ms),
                fmt_offset(o.end_ms),
                fmt_dur(o.duration_ms),
                o.failed_samples
            );
            match &o.first_error {
                Some(e) => {
                    let _ = writeln!(md, ": {}", esc(e));
                }
                None => md.push('\n'),
            }
        }
        md.push('\n');
    }
}

fn faults(md: &mut String, r: &Report) {
    if r.faults.is_empty() {
        return;
    }
    md.push_str("## Faults\n\n");
    md.push_str(
        "| Fault | Kind | Injected at | Reverted at | Time to detect | Recovery time | Errors |\n",
    );
    md.push_str("|---|---|--:|--:|--:|--:|---|\n");
    for f in &r.faults {
        let detect = match (f.injected_at_ms, f.detect_ms) {
            (None, _) => "–".to_string(),
            (Some(_), Some(d)) => fmt_dur(d),
            (Some(_), None) => "no failures".to_string(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} |",
            esc(&f.name),
            esc(&f.kind),
            f.injected_at_ms
                .map_or_else(|| "not injected".into(), fmt_offset),
            f.reverted_at_ms
                .map_or_else(|| "not reverted".into(), fmt_offset),
            detect,
            fmt_recovery(f),
            if f.errors.is_empty() {
                "–".to_string()
            } else {
                esc(&f.errors.join("; "))
            },
        );
    }
    md.push('\n');
    for f in r.faults.iter().filter(|f| !f.checks.is_empty()) {
        let _ = writeln!(md, "**{}**: asked vs achieved\n", esc(&f.name));
        md.push_str("| Metric | Measured by | Asked | Achieved |\n|---|---|--:|--:|\n");
        for c in &f.checks {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                esc(&c.metric),
                c.probe.as_deref().map_or("–".to_string(), esc),
                fmt_num(c.asked),
                fmt_num(c.achieved)
            );
        }
        md.push('\n');
    }
}

fn phases(md: &mut String, r: &Report) {
    if r.probes.iter().all(|p| p.phases.is_empty()) {
        return;
    }
    md.push_str("## Phases\n\n");
    md.push_str("| Probe | Phase | Window | Samples | Failed | Availability | p50 | p99 |\n");
    md.push_str("|---|---|---|--:|--:|--:|--:|--:|\n");
    for p in &r.probes {
        for ph in &p.phases {
            let _ = writeln!(
                md,
                "| {} | {} | {} – {} | {} | {} | {} | {} | {} |",
                esc(&p.name),
                esc(&ph.name),
                fmt_offset(ph.start_ms),
                fmt_offset(ph.end_ms),
                ph.total,
                ph.failed,
                if ph.total == 0 {
                    "–".into()
                } else {
                    fmt_pct(ph.availability_pct)
                },
                fmt_opt_ms(ph.latency_ms.p50),
                fmt_opt_ms(ph.latency_ms.p99),
            );
        }
    }
    md.push('\n');
}

/// Escape user text (probe names, error messages) so it renders literally, even inside
/// a table cell: Markdown punctuation is backslash-escaped and newlines become spaces.
/// `<` and `&` are escaped only where they could start an HTML tag or entity, so the
/// common `<= 250ms` stays readable in the raw file.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        let next = chars.peek().copied();
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' | '#' | '~' => {
                out.push('\\');
                out.push(c);
            }
            '<' if next.is_some_and(|n| n.is_ascii_alphabetic() || "/!?".contains(n)) => {
                out.push_str("\\<");
            }
            '&' if next.is_some_and(|n| n.is_ascii_alphanumeric() || n == '#') => {
                out.push_str("\\&");
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// Text for inside a code span: backticks cannot be escaped there, and a `|` would still
/// split a table cell, so both are replaced.
fn code(s: &str) -> String {
    s.replace('`', "'")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{fixture, fixture_named};

    #[test]
    fn sla_rows_show_result_and_measured_value() {
        let md = render(&fixture().report);
        assert!(md.contains("**FAIL**"), "{md}");
        assert!(
            md.contains("| `latency_p99` | db | <= 250ms | 300.0ms | **FAIL** |"),
            "{md}"
        );
        assert!(
            md.contains("| `latency_p99` | api | <= 250ms | 2.0ms | pass |"),
            "{md}"
        );
        assert!(
            md.contains("| `availability` | api | >= 80% | 87.500% | pass |"),
            "{md}"
        );
        assert!(
            md.contains("| `recovery_time` | kill-primary | <= 2s | 550.0ms | pass |"),
            "{md}"
        );
    }

    #[test]
    fn outage_is_listed_with_start_end_and_first_error() {
        let md = render(&fixture().report);
        assert!(
            md.contains("- 1.000s → 1.500s (500.0ms, 5 failed samples): connection refused"),
            "{md}"
        );
        // db never failed, so it gets no outage list.
        assert!(md.contains("**api** (1 outage)\n"), "{md}");
        assert!(!md.contains("**db** ("), "{md}");
        // A probe without outages has zero downtime, not `-0.0ms`.
        assert!(
            md.contains("| db | 40 | 0 | 100.000% | 0.0ms | 0.0ms |"),
            "{md}"
        );
    }

    #[test]
    fn faults_phases_budget_and_definitions() {
        let md = render(&fixture().report);
        assert!(
            md.contains("| kill-primary | az\\_loss | 0.950s | 2.000s | 50.0ms | 550.0ms | – |"),
            "{md}"
        );
        assert!(
            md.contains("| slow-disk | az\\_loss | 2.500s | 3.500s | no failures | 0.0ms | – |"),
            "{md}"
        );
        assert!(
            md.contains("| added\\_latency\\_ms | – | 300 | 295.5 |"),
            "{md}"
        );
        assert!(
            md.contains("| api | during kill-primary | 0.950s – 2.000s | 10 | 5 |"),
            "{md}"
        );
        assert!(
            md.contains("spent 0.039% of the 21m36s budget (99.95% over 30d)"),
            "{md}"
        );
        assert!(md.contains("*Outage*: "));
        assert!(md.contains("*Recovery time*: "));
    }

    #[test]
    fn aborted_run_and_harness_errors_are_shown() {
        let mut r = fixture().report;
        r.aborted = Some(crate::analysis::Abort {
            at_ms: 3200.0,
            reason: "Ctrl-C".into(),
        });
        r.verdict = crate::verdict::Outcome::Aborted;
        r.errors = vec!["revert of kill-primary failed: timeout".into()];
        let md = render(&r);
        assert!(md.starts_with("# shakeout: failover — **ABORTED**"), "{md}");
        assert!(md.contains("- **Aborted** at 3.200s: Ctrl-C"), "{md}");
        assert!(
            md.contains("## Harness errors\n\n- revert of kill-primary failed: timeout"),
            "{md}"
        );
    }

    #[test]
    fn user_text_cannot_break_a_table() {
        let md = render(&fixture_named("a<b&\"c\"|x", "db").report);
        assert!(md.contains("| a\\<b&\"c\"\\|x | 40 |"), "{md}");
        assert!(!md.contains("a<b"), "{md}");
    }

    #[test]
    fn escaping_targets_only_what_markdown_would_interpret() {
        assert_eq!(esc("<= 250ms"), "<= 250ms");
        assert_eq!(esc("<script>&lt;"), "\\<script>\\&lt;");
        assert_eq!(esc("a_b*c|d\nnext"), "a\\_b\\*c\\|d next");
    }
}
