//! `suite.md`, `suite.html` and `junit.xml` of a suite or repeat, from [`SuiteReport`].

use super::repeat::RepeatSummary;
use super::report::{Figures, RunEntry, SuiteReport};
use crate::format::{escape_xml as x, fmt_dur, fmt_num};
use std::fmt::Write;

fn verdict_of(e: &RunEntry) -> String {
    e.verdict.map_or("skipped".to_string(), |v| {
        super::outcome_word(v).to_string()
    })
}

/// The verdict as the table says it: a degraded measurement is said wherever a
/// verdict is given.
fn verdict_cell(e: &RunEntry) -> String {
    let degraded = e.figures.as_ref().is_some_and(|f| f.measurement_degraded);
    if degraded {
        format!("{} (measurement degraded)", verdict_of(e))
    } else {
        verdict_of(e)
    }
}

fn opt_ms(v: Option<f64>) -> String {
    v.map_or("–".into(), fmt_dur)
}

/// The key figures of a run as table cells: availability, longest disruption,
/// recovery, detect, lost writes, checks.
fn figure_cells(f: Option<&Figures>) -> [String; 6] {
    let Some(f) = f else {
        return std::array::from_fn(|_| "–".to_string());
    };
    let recovery = if f.unrecovered {
        "not recovered".to_string()
    } else {
        opt_ms(f.recovery_ms)
    };
    [
        f.availability_pct
            .map_or("–".into(), |a| format!("{}%", fmt_num(a))),
        fmt_dur(f.longest_disruption_ms),
        recovery,
        opt_ms(f.detect_ms),
        f.lost_writes.map_or("–".into(), |l| l.to_string()),
        format!("{} of {} failed", f.checks_failed, f.checks),
    ]
}

const HEADERS: [&str; 10] = [
    "#",
    "Experiment",
    "Verdict",
    "Exit",
    "Availability (lowest)",
    "Longest disruption",
    "Recovery (slowest)",
    "Detect (slowest)",
    "Lost writes",
    "Checks",
];

fn title(r: &SuiteReport) -> String {
    let what = if r.kind == "repeat" {
        "Repeat"
    } else {
        "Game day"
    };
    format!(
        "{what} `{}`: {} (exit {})",
        r.name,
        super::outcome_word(r.verdict).to_uppercase(),
        r.exit_code
    )
}

fn facts(r: &SuiteReport) -> Vec<String> {
    let ran = r.runs.iter().filter(|e| e.status == "ran").count();
    let passed = r
        .runs
        .iter()
        .filter(|e| e.verdict == Some(crate::verdict::Outcome::Pass))
        .count();
    let mut out = vec![
        format!("Suite id: {}", r.suite_id),
        format!("Source: {}", r.source),
        format!(
            "Started {}, took {}; {ran} of {} runs ran, {passed} passed.",
            r.started_at,
            fmt_dur(r.duration_ms),
            r.runs.len()
        ),
    ];
    if let Some(s) = &r.stopped {
        out.push(format!("Stopped early: {s}"));
    }
    out
}

/// Markdown table cell text: no pipes or line breaks.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace(['\n', '\r'], " ")
}

pub fn markdown(r: &SuiteReport, charts: &[&str]) -> String {
    let mut md = format!("# {}\n\n", cell(&title(r)));
    if let Some(d) = &r.description {
        let _ = writeln!(md, "{}\n", cell(d));
    }
    for f in facts(r) {
        let _ = writeln!(md, "- {}", cell(&f));
    }
    md.push('\n');
    for c in charts {
        let _ = writeln!(md, "![{c}]({c})\n");
    }
    let _ = writeln!(md, "| {} |", HEADERS.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(HEADERS.len()));
    for e in &r.runs {
        let name = match &e.report_md {
            Some(link) => format!("[{}]({link})", cell(&e.experiment)),
            None => cell(&e.experiment),
        };
        let exit = e.exit_code.map_or("–".into(), |c| c.to_string());
        let _ = writeln!(
            md,
            "| {} | {name} | {} | {exit} | {} |",
            e.index,
            verdict_cell(e),
            figure_cells(e.figures.as_ref())
                .map(|c| cell(&c))
                .join(" | ")
        );
    }
    if let Some(rep) = &r.repeat {
        repeat_markdown(&mut md, rep);
    }
    failing_markdown(&mut md, r);
    notes_markdown(&mut md, r);
    md
}

fn repeat_markdown(md: &mut String, rep: &RepeatSummary) {
    let _ = writeln!(
        md,
        "\n## Distribution over {} runs\n\n| Figure | Of | Min | Median | p90 | Max | Missing |\n|---|---|---|---|---|---|---|",
        rep.reported
    );
    for d in &rep.figures {
        let w = |v: Option<f64>| v.map_or("–".to_string(), |v| words(v, &d.unit));
        let missing = d.values.iter().filter(|v| v.is_none()).count();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {missing} |",
            d.figure,
            cell(&d.scope),
            w(d.min),
            w(d.median),
            w(d.p90),
            w(d.max)
        );
    }
    let _ = writeln!(
        md,
        "\n## Checks, judged on the {} run\n\n| Check | Of | Threshold | Judged | Run | Runs passed | Result |\n|---|---|---|---|---|---|---|",
        rep.judge.as_str()
    );
    for c in &rep.checks {
        let scope = c.probe.clone().or(c.fault.clone()).unwrap_or_default();
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} of {} | {} |",
            c.name,
            cell(&scope),
            cell(&c.threshold),
            cell(&c.measured),
            c.judged_run,
            c.passed_runs,
            c.runs,
            if c.pass { "pass" } else { "FAIL" }
        );
    }
}

fn words(v: f64, unit: &str) -> String {
    match unit {
        "ms" => fmt_dur(v),
        "percent" => format!("{}%", fmt_num(v)),
        _ => fmt_num(v),
    }
}

fn failing_markdown(md: &mut String, r: &SuiteReport) {
    let failing: Vec<String> = r
        .runs
        .iter()
        .flat_map(|e| {
            e.failing_checks.iter().map(move |c| {
                let scope = c
                    .scope
                    .as_ref()
                    .map_or(String::new(), |s| format!(" ({s})"));
                format!(
                    "{}. {}: {}{scope}: measured {}, threshold {}",
                    e.index, e.experiment, c.check, c.measured, c.threshold
                )
            })
        })
        .collect();
    if !failing.is_empty() {
        md.push_str("\n## Failing checks\n\n");
        for f in failing {
            let _ = writeln!(md, "- {}", cell(&f));
        }
    }
}

fn notes(r: &SuiteReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .runs
        .iter()
        .flat_map(|e| {
            e.errors
                .iter()
                .map(move |m| format!("{}: {m}", e.experiment))
        })
        .collect();
    for d in &r.notifications {
        out.push(match &d.error {
            None => format!(
                "notification ({}) to {} delivered after {} attempt(s)",
                d.format, d.target, d.attempts
            ),
            Some(e) => format!(
                "notification ({}) to {} NOT delivered after {} attempt(s): {e}",
                d.format, d.target, d.attempts
            ),
        });
    }
    out
}

fn notes_markdown(md: &mut String, r: &SuiteReport) {
    let notes = notes(r);
    if !notes.is_empty() {
        md.push_str("\n## Errors and notifications\n\n");
        for n in notes {
            let _ = writeln!(md, "- {}", cell(&n));
        }
    }
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;\
color:#1f2328;max-width:1100px;margin:0 auto;padding:16px;line-height:1.45}\
table{border-collapse:collapse;margin:8px 0;display:block;overflow-x:auto}\
th,td{border:1px solid #d8dee4;padding:4px 8px;text-align:left;white-space:nowrap}\
th{background:#f6f8fa}.pass{color:#1a7f37}.fail{color:#cf222e}.aborted{color:#9a6700}\
.error,.skipped{color:#59636e}svg{max-width:100%;height:auto}";

pub fn html(r: &SuiteReport, charts: &[(String, String)]) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1 class=\"{}\">{}</h1>\n",
        x(&title(r)),
        super::outcome_word(r.verdict),
        x(&title(r))
    );
    if let Some(d) = &r.description {
        let _ = writeln!(h, "<p>{}</p>", x(d));
    }
    h.push_str("<ul>\n");
    for f in facts(r) {
        let _ = writeln!(h, "<li>{}</li>", x(&f));
    }
    h.push_str("</ul>\n");
    for (_, svg) in charts {
        let _ = writeln!(h, "<figure>{svg}</figure>");
    }
    h.push_str("<table>\n<tr>");
    for head in HEADERS {
        let _ = write!(h, "<th>{}</th>", x(head));
    }
    h.push_str("</tr>\n");
    for e in &r.runs {
        run_row(&mut h, e);
    }
    h.push_str("</table>\n");
    // The tables below are the markdown's: one text, two renderings.
    let mut rest = String::new();
    if let Some(rep) = &r.repeat {
        repeat_markdown(&mut rest, rep);
    }
    failing_markdown(&mut rest, r);
    notes_markdown(&mut rest, r);
    markdown_tail_html(&mut h, &rest);
    h.push_str("</body>\n</html>\n");
    h
}

fn run_row(h: &mut String, e: &RunEntry) {
    let verdict = verdict_of(e);
    let words = verdict_cell(e);
    let name = match &e.report_html {
        Some(link) => format!("<a href=\"{}\">{}</a>", x(link), x(&e.experiment)),
        None => x(&e.experiment),
    };
    let exit = e.exit_code.map_or("–".into(), |c| c.to_string());
    let _ = write!(
        h,
        "<tr><td>{}</td><td>{name}</td><td class=\"{verdict}\">{}</td><td>{exit}</td>",
        e.index,
        x(&words)
    );
    for c in figure_cells(e.figures.as_ref()) {
        let _ = write!(h, "<td>{}</td>", x(&c));
    }
    h.push_str("</tr>\n");
}

/// The few markdown shapes the tail uses (headings, bullet lists, pipe tables) as HTML.
fn markdown_tail_html(h: &mut String, md: &str) {
    let mut in_list = false;
    let mut in_table = false;
    for line in md.lines() {
        let is_row = line.starts_with('|');
        if in_list && !line.starts_with("- ") {
            h.push_str("</ul>\n");
            in_list = false;
        }
        if in_table && !is_row {
            h.push_str("</table>\n");
            in_table = false;
        }
        if let Some(head) = line.strip_prefix("## ") {
            let _ = writeln!(h, "<h2>{}</h2>", x(head));
        } else if let Some(item) = line.strip_prefix("- ") {
            if !in_list {
                h.push_str("<ul>\n");
                in_list = true;
            }
            let _ = writeln!(h, "<li>{}</li>", x(&item.replace("\\|", "|")));
        } else if is_row {
            if line.starts_with("|---") {
                continue;
            }
            if !in_table {
                h.push_str("<table>\n");
                in_table = true;
            }
            h.push_str("<tr>");
            for c in split_row(line) {
                let class = match c.as_str() {
                    "pass" => " class=\"pass\"",
                    "FAIL" => " class=\"fail\"",
                    _ => "",
                };
                let _ = write!(h, "<td{class}>{}</td>", x(&c));
            }
            h.push_str("</tr>\n");
        }
    }
    if in_list {
        h.push_str("</ul>\n");
    }
    if in_table {
        h.push_str("</table>\n");
    }
}

/// The cells of `| a | b \| c |`.
fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                chars.next();
                if let Some(last) = cells.last_mut() {
                    last.push('|');
                }
            }
            '|' => cells.push(String::new()),
            c => {
                if let Some(last) = cells.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    cells.iter().map(|c| c.trim().to_string()).collect()
}

/// One `<testsuite>` per run: a test case per SLA check, and `run completed` (a
/// failure when the run was aborted, an error when it could not run or errored;
/// skipped when the suite stopped before it).
pub fn junit(r: &SuiteReport, reports: &[Option<crate::report::Report>]) -> String {
    let mut suites = String::new();
    let (mut tests, mut failures, mut errors) = (0usize, 0usize, 0usize);
    for (e, report) in r.runs.iter().zip(reports) {
        let t = junit_suite(&mut suites, e, report.as_ref());
        tests += t.0;
        failures += t.1;
        errors += t.2;
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">\n{suites}</testsuites>\n",
        x(&r.name),
        r.duration_ms / 1000.0
    )
}

fn junit_suite(
    out: &mut String,
    e: &RunEntry,
    report: Option<&crate::report::Report>,
) -> (usize, usize, usize) {
    let suite_name = format!("{}. {}", e.index, e.experiment);
    let class = x(&e.experiment);
    let mut cases = String::new();
    let (mut tests, mut failures, mut errors, mut skipped) = (0, 0, 0, 0);
    for c in report.map_or(&[][..], |r| &r.sla[..]) {
        tests += 1;
        let scope = c.probe.clone().or(c.fault.clone());
        let name = scope.map_or(c.name.clone(), |s| format!("{} [{s}]", c.name));
        let _ = write!(
            cases,
            "    <testcase classname=\"{class}\" name=\"{}\" time=\"0\"",
            x(&name)
        );
        if c.pass {
            cases.push_str("/>\n");
        } else {
            failures += 1;
            let message = format!("measured {}, threshold {}", c.measured, c.threshold);
            let _ = write!(
                cases,
                ">\n      <failure message=\"{}\" type=\"sla\">{}</failure>\n    </testcase>\n",
                x(&message),
                x(&message)
            );
        }
    }
    tests += 1;
    let _ = write!(
        cases,
        "    <testcase classname=\"{class}\" name=\"run completed\" time=\"{:.3}\"",
        e.wall_ms / 1000.0
    );
    match (e.status.as_str(), report.and_then(|r| r.aborted.as_ref())) {
        ("skipped", _) => {
            skipped += 1;
            cases.push_str(">\n      <skipped message=\"the suite stopped before this experiment\"/>\n    </testcase>\n");
        }
        (_, Some(a)) => {
            failures += 1;
            let _ = write!(
                cases,
                ">\n      <failure message=\"aborted: {}\" type=\"aborted\"/>\n    </testcase>\n",
                x(&a.reason)
            );
        }
        _ if report.is_none() || e.exit_code.is_some_and(|c| c >= 3) => {
            errors += 1;
            let message = e.errors.join("; ");
            let _ = write!(
                cases,
                ">\n      <error message=\"{}\" type=\"harness\">{}</error>\n    </testcase>\n",
                x(&message),
                x(&message)
            );
        }
        _ => cases.push_str("/>\n"),
    }
    let _ = write!(
        out,
        "  <testsuite name=\"{}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" skipped=\"{skipped}\" time=\"{:.3}\">\n{cases}  </testsuite>\n",
        x(&suite_name),
        e.wall_ms / 1000.0
    );
    (tests, failures, errors)
}
