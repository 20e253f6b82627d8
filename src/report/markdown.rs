//! `report.md`: the run for people, sized to paste into a pull-request comment.
//! Lays out the [`Document`] built from the report; says nothing of its own.

use super::document::{
    self, Align, Block, Cell, Document, Fact, Grouped, Inline, ProbeOutages, Section, Table,
};
use super::{verdict_word, Report};
use std::fmt::Write;

/// Render the whole report as GitHub-flavoured Markdown.
pub fn render(r: &Report) -> String {
    let doc = document::build(r);
    let mut md = String::new();
    title(&mut md, &doc);
    for s in &doc.sections {
        section(&mut md, s);
    }
    footer(&mut md, &doc);
    md
}

// `write!` into a String cannot fail; the results are ignored on purpose below.

fn title(md: &mut String, doc: &Document) {
    let _ = writeln!(
        md,
        "# shakeout: {} — **{}**\n",
        esc(&doc.experiment),
        verdict_word(doc.verdict)
    );
    if let Some(d) = &doc.description {
        let _ = writeln!(md, "{}\n", esc(d));
    }
    for f in &doc.facts {
        fact(md, f);
    }
    md.push('\n');
    if let Some(w) = &doc.warning {
        md.push_str("> ");
        inlines(md, w);
        md.push_str("\n\n");
    }
}

fn fact(md: &mut String, f: &Fact) {
    if f.alert {
        let _ = write!(md, "- **{}** ", f.label);
    } else {
        let _ = write!(md, "- {}: ", f.label);
    }
    inlines(md, &f.value);
    md.push('\n');
}

fn inlines(md: &mut String, parts: &[Inline]) {
    for part in parts {
        match part {
            Inline::Text(t) => md.push_str(&esc(t)),
            Inline::Code(c) => {
                let _ = write!(md, "`{}`", code(c));
            }
            Inline::Strong(t) => {
                let _ = write!(md, "**{}**", esc(t));
            }
        }
    }
}

fn section(md: &mut String, s: &Section) {
    let Section::Text { heading, blocks } = s else {
        return;
    };
    if let Some(h) = heading {
        let _ = writeln!(md, "## {h}\n");
    }
    for b in blocks {
        block(md, b);
    }
}

fn block(md: &mut String, b: &Block) {
    match b {
        Block::Paragraph(parts) => {
            inlines(md, parts);
            md.push_str("\n\n");
        }
        Block::List(items) => {
            for item in items {
                let _ = writeln!(md, "- {}", esc(item));
            }
            md.push('\n');
        }
        Block::Table(t) => table(md, t),
        Block::Grouped(g) => grouped(md, g),
        Block::Outages(groups) => {
            for g in groups {
                outages(md, g);
            }
        }
    }
}

fn table(md: &mut String, t: &Table) {
    let titles: Vec<&str> = t.columns.iter().map(|c| c.title).collect();
    let _ = writeln!(md, "| {} |", titles.join(" | "));
    let rule: Vec<&str> = t
        .columns
        .iter()
        .map(|c| match c.align {
            Align::Right => "--:",
            Align::Left | Align::Figure => "---",
        })
        .collect();
    let _ = writeln!(md, "|{}|", rule.join("|"));
    for row in &t.rows {
        let cells: Vec<String> = row.iter().map(cell).collect();
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
}

fn cell(c: &Cell) -> String {
    match c {
        Cell::Text(t) => esc(t),
        Cell::Code(t) => format!("`{}`", code(t)),
        Cell::Pass(true) => "pass".into(),
        Cell::Pass(false) => "**FAIL**".into(),
    }
}

fn grouped(md: &mut String, g: &Grouped) {
    for (subject, t) in &g.groups {
        let _ = writeln!(md, "**{}**: {}\n", esc(subject), g.caption);
        table(md, t);
    }
}

fn outages(md: &mut String, g: &ProbeOutages) {
    let n = g.outages.len() + g.more;
    let _ = writeln!(
        md,
        "**{}** ({n} outage{})\n",
        esc(&g.probe),
        if n == 1 { "" } else { "s" }
    );
    for o in &g.outages {
        let _ = write!(
            md,
            "- {} → {} ({}, {} failed samples)",
            o.start, o.end, o.duration, o.failed_samples
        );
        match &o.first_error {
            Some(e) => {
                let _ = writeln!(md, ": {}", esc(e));
            }
            None => md.push('\n'),
        }
    }
    if g.more > 0 {
        let _ = writeln!(md, "- {}", document::more_sentence(g.more));
    }
    md.push('\n');
}

fn footer(md: &mut String, doc: &Document) {
    md.push_str("---\n\n");
    for (term, def) in doc.definitions {
        // Trailing backslash = hard line break, so each definition stays on its own line.
        let _ = writeln!(md, "*{term}*: {def}\\");
    }
    let _ = writeln!(md, "\n<sub>{}</sub>", doc.colophon);
}

/// Escape user text (probe names, error messages) so it renders literally, even inside
/// a table cell: Markdown punctuation is backslash-escaped and newlines become spaces.
/// `<` and `&` are escaped only where they could start an HTML tag or entity, so the
/// common `<= 250ms` stays readable in the raw file.
pub fn esc(s: &str) -> String {
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
            md.contains(
                "| slow-disk | az\\_loss | 2.500s | 3.500s | no failures | no failed samples | – |"
            ),
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
