//! `report.html`: one self-contained page (inline CSS, inline SVG charts) with the same
//! content as `report.md`, for opening from a CI artifact without a network.

use super::{
    budget_sentence, check_subject, escape_xml as x, fmt_dur, fmt_num, fmt_offset, fmt_opt_ms,
    fmt_pct, fmt_recovery, fmt_span, verdict_word, Report, DEFINITIONS,
};
use crate::verdict::Outcome;
use std::fmt::Write;

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1000px;\
padding:0 1rem;color:#1f2328;line-height:1.45}\
h1{font-size:1.6rem;margin-bottom:.3rem}h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem}\
table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.92rem}\
th,td{border:1px solid #d0d7de;padding:.25rem .6rem;text-align:left}\
th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}\
.badge{display:inline-block;padding:.1rem .6rem;border-radius:.3rem;color:#fff;font-weight:700;font-size:1rem;\
vertical-align:middle}\
.pass{background:#1a7f37}.fail{background:#cf222e}.aborted{background:#9a6700}.error{background:#6e40c9}\
td.ok{color:#1a7f37}td.bad{color:#cf222e;font-weight:700}\
dl.meta{display:grid;grid-template-columns:max-content auto;gap:.1rem 1rem}dl.meta dt{color:#59636e}\
dl.meta dd{margin:0}figure{margin:1rem 0}figcaption{font-weight:600;margin-bottom:.3rem}\
figure svg{max-width:100%;height:auto}footer{margin-top:2rem;font-size:.85rem;color:#59636e}\
code{background:#f6f8fa;padding:0 .25rem;border-radius:.2rem}";

/// Render the page. `charts` are (title, SVG markup) pairs from [`crate::chart`]; the
/// markup is trusted (it escapes its own text) and inlined as is.
pub fn render(r: &Report, charts: &[(String, String)]) -> String {
    let verdict = verdict_word(r.verdict);
    let class = match r.verdict {
        Outcome::Pass => "pass",
        Outcome::Fail => "fail",
        Outcome::Aborted => "aborted",
        Outcome::Error => "error",
    };
    let mut h = String::new();
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{verdict}: {} ({})</title>\n<style>{CSS}</style>\n</head>\n<body>\n",
        x(&r.experiment),
        x(&r.run_id)
    );
    let _ = writeln!(
        h,
        "<h1>shakeout: {} <span class=\"badge {class}\">{verdict}</span></h1>",
        x(&r.experiment)
    );
    if let Some(d) = &r.description {
        let _ = writeln!(h, "<p>{}</p>", x(d));
    }
    h.push_str("<dl class=\"meta\">\n");
    let mut meta = vec![
        ("Run", format!("<code>{}</code>", x(&r.run_id))),
        ("Started", x(&r.started_at)),
        (
            "Duration",
            if (r.measured_ms - r.duration_ms).abs() < 0.5 {
                fmt_span(r.duration_ms)
            } else {
                format!(
                    "{} of {} planned",
                    fmt_span(r.measured_ms),
                    fmt_span(r.duration_ms)
                )
            },
        ),
    ];
    if let Some(a) = &r.aborted {
        meta.push((
            "Aborted",
            format!("at {}: {}", fmt_offset(a.at_ms), x(&a.reason)),
        ));
    }
    if let Some(s) = &r.source {
        meta.push(("Spec", format!("<code>{}</code>", x(s))));
    }
    meta.push(("Exit code", r.exit_code.to_string()));
    for (k, v) in meta {
        let _ = writeln!(h, "<dt>{k}</dt><dd>{v}</dd>");
    }
    h.push_str("</dl>\n");

    // SLA
    h.push_str("<h2>SLA</h2>\n");
    if r.sla.is_empty() {
        h.push_str("<p>No SLA thresholds were set.</p>\n");
    } else {
        table_head(
            &mut h,
            &["Check", "Probe / fault", "Threshold", "Measured", "Result"],
        );
        for c in &r.sla {
            let _ =
                writeln!(
                h,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td class=\"n\">{}</td>{}</tr>",
                x(&c.name),
                x(&check_subject(c)),
                x(&c.threshold),
                x(&c.measured),
                if c.pass { "<td class=\"ok\">pass</td>" } else { "<td class=\"bad\">FAIL</td>" }
            );
        }
        h.push_str("</tbody></table>\n");
    }

    if !charts.is_empty() {
        h.push_str("<h2>Charts</h2>\n");
        for (title, svg) in charts {
            let _ = writeln!(
                h,
                "<figure>\n<figcaption>{}</figcaption>\n{svg}\n</figure>",
                x(title)
            );
        }
    }

    // Probes
    if !r.probes.is_empty() {
        h.push_str("<h2>Probes</h2>\n");
        table_head(
            &mut h,
            &[
                "Probe",
                "Samples",
                "Failed",
                "Availability",
                "Downtime",
                "Longest outage",
                "p50",
                "p99",
                "max",
            ],
        );
        for p in &r.probes {
            let _ = write!(h, "<tr><td>{}</td>", x(&p.name));
            num_cells(
                &mut h,
                &[
                    p.total.to_string(),
                    p.failed.to_string(),
                    fmt_pct(p.availability_pct),
                    fmt_dur(p.downtime_ms),
                    fmt_dur(p.longest_outage_ms),
                    fmt_opt_ms(p.latency_ms.p50),
                    fmt_opt_ms(p.latency_ms.p99),
                    fmt_opt_ms(p.latency_ms.max),
                ],
            );
            h.push_str("</tr>\n");
        }
        h.push_str("</tbody></table>\n");
    }

    // Outages
    if r.probes.iter().any(|p| !p.outages.is_empty()) {
        h.push_str("<h2>Outages</h2>\n<p>Times are offsets from the run start.</p>\n");
        table_head(
            &mut h,
            &[
                "Probe",
                "Start",
                "End",
                "Duration",
                "Failed samples",
                "First error",
            ],
        );
        for p in &r.probes {
            for o in &p.outages {
                let _ = write!(h, "<tr><td>{}</td>", x(&p.name));
                num_cells(
                    &mut h,
                    &[
                        fmt_offset(o.start_ms),
                        fmt_offset(o.end_ms),
                        fmt_dur(o.duration_ms),
                        o.failed_samples.to_string(),
                    ],
                );
                let _ = writeln!(
                    h,
                    "<td>{}</td></tr>",
                    x(o.first_error.as_deref().unwrap_or("–"))
                );
            }
        }
        h.push_str("</tbody></table>\n");
    }

    // Faults
    if !r.faults.is_empty() {
        h.push_str("<h2>Faults</h2>\n");
        table_head(
            &mut h,
            &[
                "Fault",
                "Kind",
                "Injected at",
                "Reverted at",
                "Time to detect",
                "Recovery time",
                "Errors",
            ],
        );
        for f in &r.faults {
            let detect = match (f.injected_at_ms, f.detect_ms) {
                (None, _) => "–".to_string(),
                (Some(_), Some(d)) => fmt_dur(d),
                (Some(_), None) => "no failures".to_string(),
            };
            let _ = write!(h, "<tr><td>{}</td><td>{}</td>", x(&f.name), x(&f.kind));
            num_cells(
                &mut h,
                &[
                    f.injected_at_ms
                        .map_or_else(|| "not injected".into(), fmt_offset),
                    f.reverted_at_ms
                        .map_or_else(|| "not reverted".into(), fmt_offset),
                    detect,
                    fmt_recovery(f),
                ],
            );
            let errs = if f.errors.is_empty() {
                "–".to_string()
            } else {
                f.errors.join("; ")
            };
            let _ = writeln!(h, "<td>{}</td></tr>", x(&errs));
        }
        h.push_str("</tbody></table>\n");
        let checked: Vec<_> = r.faults.iter().filter(|f| !f.checks.is_empty()).collect();
        if !checked.is_empty() {
            h.push_str("<p>What each fault asked for and what it achieved:</p>\n");
            table_head(
                &mut h,
                &["Fault", "Metric", "Measured by", "Asked", "Achieved"],
            );
            for f in checked {
                for c in &f.checks {
                    let by = c.probe.as_deref().unwrap_or("–");
                    let _ = write!(
                        h,
                        "<tr><td>{}</td><td>{}</td><td>{}</td>",
                        x(&f.name),
                        x(&c.metric),
                        x(by)
                    );
                    num_cells(&mut h, &[fmt_num(c.asked), fmt_num(c.achieved)]);
                    h.push_str("</tr>\n");
                }
            }
            h.push_str("</tbody></table>\n");
        }
    }

    // Phases
    if r.probes.iter().any(|p| !p.phases.is_empty()) {
        h.push_str("<h2>Phases</h2>\n");
        table_head(
            &mut h,
            &[
                "Probe",
                "Phase",
                "Window",
                "Samples",
                "Failed",
                "Availability",
                "p50",
                "p99",
            ],
        );
        for p in &r.probes {
            for ph in &p.phases {
                let _ = write!(h, "<tr><td>{}</td><td>{}</td>", x(&p.name), x(&ph.name));
                num_cells(
                    &mut h,
                    &[
                        format!("{} – {}", fmt_offset(ph.start_ms), fmt_offset(ph.end_ms)),
                        ph.total.to_string(),
                        ph.failed.to_string(),
                        if ph.total == 0 {
                            "–".into()
                        } else {
                            fmt_pct(ph.availability_pct)
                        },
                        fmt_opt_ms(ph.latency_ms.p50),
                        fmt_opt_ms(ph.latency_ms.p99),
                    ],
                );
                h.push_str("</tr>\n");
            }
        }
        h.push_str("</tbody></table>\n");
    }

    if let Some(b) = &r.error_budget {
        let _ = write!(
            h,
            "<p><strong>Error budget:</strong> {}",
            x(&budget_sentence(b))
        );
        if let Some(p) = &b.probe {
            let _ = write!(
                h,
                " — {} of downtime on probe {}",
                fmt_span(b.spent_ms),
                x(p)
            );
        }
        h.push_str(".</p>\n");
    }

    if !r.errors.is_empty() {
        h.push_str("<h2>Harness errors</h2>\n<ul>\n");
        for e in &r.errors {
            let _ = writeln!(h, "<li>{}</li>", x(e));
        }
        h.push_str("</ul>\n");
    }

    h.push_str("<footer>\n<dl>\n");
    for (term, def) in DEFINITIONS {
        let _ = writeln!(h, "<dt><em>{term}</em></dt><dd>{}</dd>", x(def));
    }
    let _ = writeln!(
        h,
        "</dl>\n<p>{} {}, report schema v{}</p>\n</footer>\n</body>\n</html>",
        x(&r.tool),
        x(&r.tool_version),
        r.schema_version
    );
    h
}

fn table_head(h: &mut String, cols: &[&str]) {
    h.push_str("<table>\n<thead><tr>");
    for c in cols {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr></thead>\n<tbody>\n");
}

/// Right-aligned cells; the values are formatted numbers, but escaped anyway.
fn num_cells(h: &mut String, cells: &[String]) {
    for c in cells {
        let _ = write!(h, "<td class=\"n\">{}</td>", x(c));
    }
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
