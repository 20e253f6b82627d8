//! One SVG per experiment: a panel per figure that any of its runs has, runs left to
//! right (oldest first), each regressed run in red. Hand-written like `crate::chart`.

use super::{ExperimentTrend, Figure, Figures, Trend};
use crate::format::{escape_xml as x, fmt_dur, fmt_num};
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 170.0;
const RIGHT: f64 = 40.0;
const PANEL: f64 = 110.0;
const GAP: f64 = 26.0;
const TOP: f64 = 34.0;
const BOTTOM: f64 = 44.0;
const FONT: &str = "font-family=\"system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif\"";
const LINE: &str = "#0969da";
const RED: &str = "#cf222e";
const MUTED: &str = "#59636e";
const GRID: &str = "#d8dee4";

/// The chart file of the `index`-th experiment: `trend-1-checkout.svg`.
pub fn file_name(index: usize, experiment: &str) -> String {
    format!(
        "trend-{}-{}.svg",
        index + 1,
        crate::report::sanitize_file_stem(experiment)
    )
}

/// Every experiment's chart, as (file name, SVG), in experiment order.
pub fn all(t: &Trend) -> Vec<(String, String)> {
    t.experiments
        .iter()
        .enumerate()
        .map(|(i, e)| (file_name(i, &e.experiment), experiment(e)))
        .collect()
}

/// What a panel draws for a run: a value, "never recovered" (drawn at the top), or none.
#[derive(Clone, Copy)]
enum Point {
    Value(f64),
    NotRecovered,
    Missing,
}

fn point(f: &Figures, figure: Figure) -> Point {
    let v = match figure {
        Figure::Recovery if !f.recovered => return Point::NotRecovered,
        Figure::Recovery => f.recovery_ms,
        Figure::Availability => f.availability_pct,
        Figure::Disruption => f.longest_disruption_ms,
        Figure::LostWrites => f.lost_writes.map(|n| n as f64),
    };
    v.map_or(Point::Missing, Point::Value)
}

fn label(figure: Figure, v: f64) -> String {
    match figure {
        Figure::Recovery | Figure::Disruption => fmt_dur(v),
        Figure::Availability => format!("{}%", fmt_num(v)),
        Figure::LostWrites => fmt_num(v),
    }
}

pub fn experiment(e: &ExperimentTrend) -> String {
    let figures: Vec<Figure> = Figure::ALL
        .into_iter()
        .filter(|f| {
            e.runs
                .iter()
                .any(|r| !matches!(point(&r.figures, *f), Point::Missing))
        })
        .collect();
    let height = TOP + figures.len() as f64 * (PANEL + GAP) + BOTTOM;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" {FONT} font-size=\"12\" role=\"img\">\n\
         <title>{} over {} runs</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#fff\"/>\n\
         <text x=\"{LEFT}\" y=\"20\" font-size=\"14\" font-weight=\"600\">{}: runs over time \
         (red: regressed)</text>\n",
        x(&e.experiment),
        e.runs.len(),
        x(&e.experiment)
    );
    for (i, figure) in figures.iter().enumerate() {
        let top = TOP + i as f64 * (PANEL + GAP);
        panel(&mut svg, e, *figure, top);
    }
    run_axis(&mut svg, e, height - BOTTOM + 4.0);
    svg.push_str("</svg>\n");
    svg
}

/// The x position of run `i` of `n`.
fn run_x(i: usize, n: usize) -> f64 {
    let span = WIDTH - LEFT - RIGHT;
    if n <= 1 {
        LEFT + span / 2.0
    } else {
        LEFT + span * i as f64 / (n - 1) as f64
    }
}

/// The value range a panel shows: from 0 (or just under the lowest availability) to
/// just over the highest value.
fn y_range(figure: Figure, values: &[f64]) -> (f64, f64) {
    let max = values.iter().copied().fold(0.0, f64::max);
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    match figure {
        Figure::Availability => {
            let low = if min.is_finite() { min } else { 99.0 };
            let margin = ((100.0 - low) * 0.1).max(0.001);
            (low - margin, 100.0)
        }
        _ if max <= 0.0 => (0.0, 1.0),
        _ => (0.0, max * 1.1),
    }
}

fn panel(svg: &mut String, e: &ExperimentTrend, figure: Figure, top: f64) {
    let bottom = top + PANEL;
    let points: Vec<Point> = e.runs.iter().map(|r| point(&r.figures, figure)).collect();
    let values: Vec<f64> = points
        .iter()
        .filter_map(|p| match p {
            Point::Value(v) => Some(*v),
            _ => None,
        })
        .collect();
    let (low, high) = y_range(figure, &values);
    let y = |v: f64| bottom - (v - low) / (high - low) * PANEL;
    let _ = write!(
        svg,
        "<text x=\"10\" y=\"{}\" font-weight=\"600\">{}</text>\n\
         <line x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\" stroke=\"{GRID}\"/>\n\
         <line x1=\"{LEFT}\" y1=\"{top}\" x2=\"{}\" y2=\"{top}\" stroke=\"{GRID}\"/>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{MUTED}\">{}</text>\n\
         <text x=\"{}\" y=\"{}\" text-anchor=\"end\" fill=\"{MUTED}\">{}</text>\n",
        top + PANEL / 2.0,
        figure.title(),
        WIDTH - RIGHT,
        WIDTH - RIGHT,
        LEFT - 6.0,
        top + 4.0,
        x(&label(figure, high)),
        LEFT - 6.0,
        bottom,
        x(&label(figure, low)),
    );
    let n = e.runs.len();
    let line: Vec<String> = points
        .iter()
        .enumerate()
        .filter_map(|(i, p)| match p {
            Point::Value(v) => Some(format!("{:.1},{:.1}", run_x(i, n), y(*v))),
            _ => None,
        })
        .collect();
    if line.len() > 1 {
        let _ = writeln!(
            svg,
            "<polyline points=\"{}\" fill=\"none\" stroke=\"{LINE}\" stroke-width=\"1.5\"/>",
            line.join(" ")
        );
    }
    for (i, p) in points.iter().enumerate() {
        let bad = e.runs[i]
            .regressions
            .iter()
            .any(|r| r.figure == figure.key());
        marker(svg, *p, (run_x(i, n), top, y), bad, &e.runs[i].run_id);
    }
}

/// One run's mark: a dot (red and larger when regressed), or a red × at the top of the
/// panel for a fault that never recovered.
fn marker(
    svg: &mut String,
    p: Point,
    (cx, top, y): (f64, f64, impl Fn(f64) -> f64),
    bad: bool,
    run: &str,
) {
    match p {
        Point::Missing => {}
        Point::NotRecovered => {
            let _ = writeln!(
                svg,
                "<text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{RED}\" \
                 font-size=\"16\" font-weight=\"700\">×<title>{}: never recovered</title></text>",
                top + 12.0,
                x(run)
            );
        }
        Point::Value(v) => {
            let (r, fill) = if bad { (5.5, RED) } else { (3.5, LINE) };
            let _ = writeln!(
                svg,
                "<circle cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"{r}\" fill=\"{fill}\"><title>{}</title></circle>",
                y(v),
                x(run)
            );
        }
    }
}

/// Run numbers and start times under the panels, thinned to at most 8 labels.
fn run_axis(svg: &mut String, e: &ExperimentTrend, y: f64) {
    let n = e.runs.len();
    let step = n.div_ceil(8).max(1);
    for (i, run) in e.runs.iter().enumerate() {
        if i % step != 0 && i != n - 1 {
            continue;
        }
        // `2026-11-25T15:52:21.599Z` → `11-25 15:52`.
        let short = run
            .started_at
            .get(5..16)
            .map_or(run.started_at.clone(), |s| s.replace('T', " "));
        let cx = run_x(i, n);
        let _ = writeln!(
            svg,
            "<text x=\"{cx:.1}\" y=\"{y:.1}\" text-anchor=\"middle\" fill=\"{MUTED}\">#{}\
             <tspan x=\"{cx:.1}\" dy=\"14\">{}</tspan></text>",
            i + 1,
            x(&short)
        );
    }
}
