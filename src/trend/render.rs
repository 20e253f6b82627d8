//! trend.md and trend.html: one section per experiment, a table of its runs (oldest
//! first) with each regressed figure marked, and its chart.

use super::{chart, ExperimentTrend, Figure, Figures, Regression, RunPoint, Trend};
use crate::format::{escape_xml as x, fmt_dur, fmt_num, fmt_pct};
use crate::report::markdown::esc;
use std::fmt::Write;

const COLUMNS: [&str; 8] = [
    "Started",
    "Run",
    "Verdict",
    "Recovery time",
    "Availability",
    "Longest disruption",
    "Lost writes",
    "Regression",
];

/// How "worse" is judged, shown under both renderings.
fn rule_sentence(t: &Trend) -> String {
    format!(
        "A figure regressed when it is worse than the median of the previous {} runs (at least \
         {} of them) by more than {}% and by more than what the run can resolve (one probe \
         interval for times, one sample for availability). Worse means: a longer recovery time \
         (never recovered is worst), a larger unavailability (100% − availability, of the worst \
         probe), a longer longest disruption, more lost acknowledged writes.",
        t.baseline_runs,
        t.min_history,
        fmt_num(t.regression_pct)
    )
}

/// A figure of a run as a cell: `–` when the run has none.
fn figure_cell(f: &Figures, figure: Figure) -> String {
    match figure {
        Figure::Recovery if !f.recovered => "not recovered".into(),
        Figure::Recovery => f.recovery_ms.map_or("–".into(), fmt_dur),
        Figure::Availability => f.availability_pct.map_or("–".into(), fmt_pct),
        Figure::Disruption => f.longest_disruption_ms.map_or("–".into(), fmt_dur),
        Figure::LostWrites => f.lost_writes.map_or("–".into(), |n| n.to_string()),
    }
}

fn compared(value: f64, figure: &str) -> String {
    if figure == Figure::LostWrites.key() {
        fmt_num(value)
    } else if figure == Figure::Availability.key() {
        format!("{} unavailable", fmt_pct(value))
    } else {
        fmt_dur(value)
    }
}

/// `Recovery time 1.500s vs median 1.000s of 5 (+50%)`.
pub fn regression_words(r: &Regression) -> String {
    let title = Figure::ALL
        .iter()
        .find(|f| f.key() == r.figure)
        .map_or(r.figure.as_str(), |f| f.title());
    let value = r
        .value
        .map_or("not recovered".into(), |v| compared(v, &r.figure));
    let by = r
        .worse_by_pct
        .map(|p| format!(" (+{}%)", fmt_num(p.round())))
        .unwrap_or_default();
    format!(
        "{title} {value} vs median {} of {}{by}",
        compared(r.baseline, &r.figure),
        r.baseline_of
    )
}

fn regressed(run: &RunPoint, figure: Figure) -> bool {
    run.regressions.iter().any(|r| r.figure == figure.key())
}

/// The summary line: which experiments' newest run regressed.
pub fn summary(t: &Trend) -> String {
    let bad: Vec<&str> = t
        .experiments
        .iter()
        .filter(|e| e.newest_regressed)
        .map(|e| e.experiment.as_str())
        .collect();
    let runs: usize = t.experiments.iter().map(|e| e.runs.len()).sum();
    let plural = |n: usize, word: &str| format!("{n} {word}{}", if n == 1 { "" } else { "s" });
    let head = format!(
        "{} of {}",
        plural(runs, "run"),
        plural(t.experiments.len(), "experiment")
    );
    if bad.is_empty() {
        format!("{head}; no newest run regressed")
    } else {
        format!("{head}; the newest run regressed: {}", bad.join(", "))
    }
}

/// trend.md. With `charts`, each experiment links its chart file beside it.
pub fn markdown(t: &Trend, charts: bool) -> String {
    let mut md = String::from("# shakeout trend\n\n");
    let _ = writeln!(md, "{}\n", esc(&summary(t)));
    for (i, e) in t.experiments.iter().enumerate() {
        md_experiment(
            &mut md,
            e,
            charts.then(|| chart::file_name(i, &e.experiment)),
        );
    }
    let _ = writeln!(md, "<sub>{}</sub>", esc(&rule_sentence(t)));
    md
}

fn md_experiment(md: &mut String, e: &ExperimentTrend, chart: Option<String>) {
    let mark = if e.newest_regressed {
        " — **newest run regressed**"
    } else {
        ""
    };
    let _ = writeln!(md, "## {}{mark}\n", esc(&e.experiment));
    if let Some(file) = chart {
        let _ = writeln!(md, "![{} over time]({file})\n", esc(&e.experiment));
    }
    let _ = writeln!(md, "| {} |", COLUMNS.join(" | "));
    let _ = writeln!(md, "|{}", "---|".repeat(COLUMNS.len()));
    for run in &e.runs {
        let mut cells = vec![
            esc(&run.started_at),
            esc(&run.run_id),
            run.verdict.to_uppercase(),
        ];
        for f in Figure::ALL {
            let cell = figure_cell(&run.figures, f);
            cells.push(if regressed(run, f) {
                format!("**▲ {cell}**")
            } else {
                cell
            });
        }
        let words: Vec<String> = run.regressions.iter().map(regression_words).collect();
        cells.push(esc(&words.join("; ")));
        let _ = writeln!(md, "| {} |", cells.join(" | "));
    }
    md.push('\n');
}

const CSS: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1100px;\
padding:0 1rem;color:#1f2328;line-height:1.45}\
h2{margin-top:2rem;border-bottom:1px solid #d0d7de;padding-bottom:.2rem;overflow-wrap:anywhere}\
.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0 1rem;font-size:.9rem}\
th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left}th{background:#f6f8fa}\
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}\
td.bad{color:#cf222e;font-weight:700}.badge{padding:.1rem .5rem;border-radius:.3rem;color:#fff;\
background:#cf222e;font-size:.9rem}figure{margin:1rem 0}figure svg{max-width:100%;height:auto}\
footer{margin-top:2rem;font-size:.85rem;color:#59636e}";

/// trend.html: self-contained, charts inlined. `charts` are (file name, SVG) pairs in
/// experiment order, from [`chart::all`].
pub fn html(t: &Trend, charts: &[(String, String)]) -> String {
    let mut h = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>shakeout trend</title>\n<style>{CSS}</style>\n</head>\n<body>\n\
         <h1>shakeout trend</h1>\n<p>{}</p>\n",
        x(&summary(t))
    );
    for (i, e) in t.experiments.iter().enumerate() {
        let svg = charts.get(i).map(|(_, svg)| svg.as_str());
        html_experiment(&mut h, e, svg);
    }
    let _ = write!(
        h,
        "<footer>{}</footer>\n</body>\n</html>\n",
        x(&rule_sentence(t))
    );
    h
}

fn html_experiment(h: &mut String, e: &ExperimentTrend, svg: Option<&str>) {
    let mark = if e.newest_regressed {
        " <span class=\"badge\">newest run regressed</span>"
    } else {
        ""
    };
    let _ = writeln!(h, "<h2>{}{mark}</h2>", x(&e.experiment));
    if let Some(svg) = svg {
        let _ = writeln!(h, "<figure>\n{svg}\n</figure>");
    }
    h.push_str("<div class=\"scroll\"><table>\n<tr>");
    for c in COLUMNS {
        let _ = write!(h, "<th>{c}</th>");
    }
    h.push_str("</tr>\n");
    for run in &e.runs {
        let _ = write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td>",
            x(&run.started_at),
            x(&run.run_id),
            run.verdict.to_uppercase()
        );
        for f in Figure::ALL {
            let class = if regressed(run, f) { "n bad" } else { "n" };
            let mark = if regressed(run, f) { "▲ " } else { "" };
            let _ = write!(
                h,
                "<td class=\"{class}\">{mark}{}</td>",
                x(&figure_cell(&run.figures, f))
            );
        }
        let words: Vec<String> = run.regressions.iter().map(regression_words).collect();
        let _ = writeln!(h, "<td>{}</td></tr>", x(&words.join("; ")));
    }
    h.push_str("</table></div>\n");
}
