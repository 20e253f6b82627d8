//! `report.html`: one self-contained page (inline CSS, inline SVG charts) with the same
//! content as `report.md`, for opening from a CI artifact without a network.

use super::document::{self, Align, Block, Cell, Document, Grouped, Inline, ProbeOutages, Section};
use super::{verdict_word, Report};
use crate::format::escape_xml as x;
use crate::verdict::Outcome;
use std::fmt::Write;

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1000px;\
padding:0 1rem;color:#1f2328;line-height:1.45}\
h1{font-size:1.6rem;margin-bottom:.3rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}\
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.92rem;display:block;max-width:100%;\
overflow-x:auto}\
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left}\
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.badge{display:inline-block;padding:.1rem .6rem;border-radius:.3rem;color:#fff;font-weight:700;font-size:1rem;\
vertical-align:middle}\
.pass{background:#1a7f37}.fail{background:#cf222e}.aborted{background:#9a6700}.error{background:#6e40c9}\
td.ok{color:#1a7f37}td.bad{color:#cf222e;font-weight:700}\
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem}dl.meta dt{color:#59636e}\
dl.meta dd{margin:0;min-width:0;overflow-wrap:anywhere}figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}\
figure svg{max-width:100%;height:auto}footer{margin-top:2rem;font-size:.85rem;color:#59636e}\
code{background:#f6f8fa;padding:0 .25rem;border-radius:.2rem}";

/// Render the page. `charts` are (title, SVG markup) pairs from [`crate::chart`]; the
/// markup is trusted (it escapes its own text) and inlined as is.
pub fn render(r: &Report, charts: &[(String, String)]) -> String {
    let doc = document::build(r);
    let mut h = String::new();
    head(&mut h, &doc);
    title(&mut h, &doc);
    for s in &doc.sections {
        match s {
            Section::Text { heading, blocks } => section(&mut h, *heading, blocks),
            Section::Charts => inline_charts(&mut h, charts),
        }
    }
    footer(&mut h, &doc);
    h
}

// `write!` into a String cannot fail; the results are ignored on purpose below.

fn head(h: &mut String, doc: &Document) {
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{}: {} ({})</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        verdict_word(doc.verdict),
        x(&doc.experiment),
        x(&doc.run_id)
    );
}

fn title(h: &mut String, doc: &Document) {
    let class = match doc.verdict {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Aborted => "aborted",
        Outcome::Error => "error",
    };
    let _ = writeln!(
        h,
        "<h1>shakeout: {} <span class=\"badge {class}\">{}</span></h1>",
        x(&doc.experiment),
        verdict_word(doc.verdict)
    );
    if let Some(d) = &doc.description {
        let _ = writeln!(h, "<p>{}</p>", x(d));
    }
    h.push_str("<dl class=\"meta\">\n");
    for f in &doc.facts {
        let _ = write!(h, "<dt>{}</dt><dd>", f.label);
        inlines(h, &f.value);
        h.push_str("</dd>\n");
    }
    h.push_str("</dl>\n");
    if let Some(w) = &doc.warning {
        // Styled inline: the shared stylesheet stays as every past report has it.
        h.push_str(
            "<div class=\"banner degraded\" role=\"alert\" style=\"margin:1rem 0;padding:.6rem .9rem;\
             border:1px solid #d4a72c;border-left:.35rem solid #9a6700;background:#fff8c5;border-radius:.3rem\">",
        );
        inlines(h, w);
        h.push_str("</div>\n");
    }
}

fn inlines(h: &mut String, parts: &[Inline]) {
    for part in parts {
        match part {
            Inline::Text(t) => h.push_str(&x(t)),
            Inline::Code(c) => {
                let _ = write!(h, "<code>{}</code>", x(c));
            }
            Inline::Strong(t) => {
                let _ = write!(h, "<strong>{}</strong>", x(t));
            }
        }
    }
}

fn section(h: &mut String, heading: Option<&str>, blocks: &[Block]) {
    if let Some(heading) = heading {
        let _ = writeln!(h, "<h2>{heading}</h2>");
    }
    for b in blocks {
        match b {
            Block::Paragraph(parts) => {
                h.push_str("<p>");
                inlines(h, parts);
                h.push_str("</p>\n");
            }
            Block::List(items) => {
                h.push_str("<ul>\n");
                for item in items {
                    let _ = writeln!(h, "<li>{}</li>", x(item));
                }
                h.push_str("</ul>\n");
            }
            Block::Table(t) => table(h, &t.columns, t.rows.iter().map(|r| (None, r))),
            Block::Grouped(g) => grouped(h, g),
            Block::Outages(groups) => outages(h, groups),
        }
    }
}

fn inline_charts(h: &mut String, charts: &[(String, String)]) {
    if charts.is_empty() {
        return;
    }
    h.push_str("<h2>Charts</h2>\n");
    for (title, svg) in charts {
        let _ = writeln!(
            h,
            "<figure>\n<figcaption>{}</figcaption>\n{svg}\n</figure>",
            x(title)
        );
    }
}

/// A table; each row may start with a subject cell (the group it belongs to).
fn table<'a>(
    h: &mut String,
    columns: &[document::Column],
    rows: impl Iterator<Item = (Option<&'a str>, &'a Vec<Cell>)>,
) {
    h.push_str("<table>\n<thead><tr>");
    for c in columns {
        let _ = write!(h, "<th>{}</th>", c.title);
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (subject, row) in rows {
        h.push_str("<tr>");
        let body = &columns[columns.len() - row.len()..];
        if let Some(s) = subject {
            let _ = write!(h, "<td>{}</td>", x(s));
        }
        for (c, col) in row.iter().zip(body) {
            cell(h, c, col.align);
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody></table>\n");
}

fn cell(h: &mut String, c: &Cell, align: Align) {
    let class = match align {
        Align::Left => "",
        Align::Right | Align::Figure => " class=\"n\"",
    };
    let _ = match c {
        Cell::Text(t) => write!(h, "<td{class}>{}</td>", x(t)),
        Cell::Code(t) => write!(h, "<td{class}><code>{}</code></td>", x(t)),
        Cell::Pass(true) => write!(h, "<td class=\"ok\">pass</td>"),
        Cell::Pass(false) => write!(h, "<td class=\"bad\">FAIL</td>"),
    };
}

/// One table for every subject, the subject in the first column.
fn grouped(h: &mut String, g: &Grouped) {
    let Some((_, first)) = g.groups.first() else {
        return;
    };
    let _ = writeln!(h, "<p>{}</p>", g.intro);
    let mut columns = vec![document::Column {
        title: g.subject,
        align: Align::Left,
    }];
    columns.extend(first.columns.iter().cloned());
    let rows = g
        .groups
        .iter()
        .flat_map(|(s, t)| t.rows.iter().map(move |r| (Some(s.as_str()), r)));
    table(h, &columns, rows);
}

fn outages(h: &mut String, groups: &[ProbeOutages]) {
    let mut columns = vec![document::Column {
        title: "Probe",
        align: Align::Left,
    }];
    for title in ["Start", "End", "Duration", "Failed samples"] {
        columns.push(document::Column {
            title,
            align: Align::Right,
        });
    }
    columns.push(document::Column {
        title: "First error",
        align: Align::Left,
    });
    let rows: Vec<(&str, Vec<Cell>)> = groups
        .iter()
        .flat_map(|g| {
            g.outages.iter().map(|o| {
                let cells = [
                    &o.start,
                    &o.end,
                    &o.duration,
                    &o.failed_samples.to_string(),
                    o.first_error.as_deref().unwrap_or("–"),
                ]
                .map(|s| Cell::Text(s.to_string()));
                (g.probe.as_str(), cells.to_vec())
            })
        })
        .collect();
    table(h, &columns, rows.iter().map(|(p, r)| (Some(*p), r)));
    let left_out: Vec<String> = groups
        .iter()
        .filter(|g| g.more > 0)
        .map(|g| format!("{}: {}", g.probe, document::more_sentence(g.more)))
        .collect();
    if !left_out.is_empty() {
        h.push_str("<ul>\n");
        for item in &left_out {
            let _ = writeln!(h, "<li>{}</li>", x(item));
        }
        h.push_str("</ul>\n");
    }
}

fn footer(h: &mut String, doc: &Document) {
    h.push_str("<footer>\n<dl>\n");
    for (term, def) in doc.definitions {
        let _ = writeln!(h, "<dt><em>{term}</em></dt><dd>{}</dd>", x(def));
    }
    let _ = writeln!(
        h,
        "</dl>\n<p>{}</p>\n</footer>\n</body>\n</html>",
        x(&doc.colophon)
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::test_support::{fixture, fixture_named};

    #[test]
    fn page_has_verdict_tables_and_inlined_svg() {
        let f = fixture();
        let svg = crate::chart::timeline(&f.rec, &f.analysis);
        let page = render(&f.report, &[("Timeline".into(), svg.clone())]);
        assert!(page.starts_with("<!DOCTYPE html>"));
        assert!(page.contains("<span class=\"badge fail\">FAIL</span>"));
        assert!(page.contains(&svg), "svg inlined verbatim");
        assert!(page.contains("<figcaption>Timeline</figcaption>"));
        assert!(
            page.contains("<td class=\"n\">300.0ms</td><td class=\"bad\">FAIL</td>"),
            "{page}"
        );
        assert!(
            page.contains("<td class=\"n\">1.000s</td><td class=\"n\">1.500s</td>"),
            "{page}"
        );
        assert!(page.contains("not recovered") || page.contains("550.0ms"));
        // No external assets: a self-contained page.
        assert!(!page.contains("src=\"http") && !page.contains("<link"));
    }

    #[test]
    fn text_is_escaped() {
        let f = fixture_named("a<b&\"c\"", "db");
        let page = render(&f.report, &[("Latency: a<b".into(), String::new())]);
        assert!(page.contains("<td>a&lt;b&amp;&quot;c&quot;</td>"), "{page}");
        assert!(page.contains("<figcaption>Latency: a&lt;b</figcaption>"));
        assert!(!page.contains("a<b"));
    }

    #[test]
    fn aborted_run_and_harness_errors_are_shown() {
        let mut r = fixture().report;
        r.verdict = Outcome::Aborted;
        r.aborted = Some(crate::analysis::Abort {
            at_ms: 3200.0,
            reason: "Ctrl-C".into(),
        });
        r.errors = vec!["revert failed: <timeout>".into()];
        let page = render(&r, &[]);
        assert!(page.contains("<span class=\"badge aborted\">ABORTED</span>"));
        assert!(
            page.contains("<dt>Aborted</dt><dd>at 3.200s: Ctrl-C</dd>"),
            "{page}"
        );
        assert!(page.contains("<li>revert failed: &lt;timeout&gt;</li>"));
        assert!(!page.contains("<h2>Charts</h2>"));
    }
}
