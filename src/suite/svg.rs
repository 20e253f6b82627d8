//! The suite's charts, as plain SVG strings like the run charts: the day's timeline
//! (one lane per experiment on one wall-clock axis, its faults inside it) and, for a
//! repeat, each figure's spread over the runs.

use super::repeat::{Distribution, RepeatSummary};
use super::report::{RunEntry, SuiteReport};
use crate::format::{escape_xml as x, fmt_dur, fmt_num};
use crate::verdict::Outcome;
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 220.0;
const RIGHT: f64 = 30.0;
const LANE: f64 = 30.0;
const TOP: f64 = 40.0;
const AXIS: f64 = 40.0;
const FONT: &str = "font-family=\"system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif\"";
const TEXT: &str = "#1f2328";
const MUTED: &str = "#59636e";
const GRID: &str = "#d8dee4";
const FAULT: &str = "#8250df";

fn colour(v: Option<Outcome>) -> &'static str {
    match v {
        Some(Outcome::Pass) => "#2da44e",
        Some(Outcome::Fail) => "#cf222e",
        Some(Outcome::Aborted) => "#bf8700",
        Some(Outcome::Error) => "#6e7781",
        None => "#eaeef2",
    }
}

fn open(height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height}\" \
         width=\"{WIDTH}\" height=\"{height}\" role=\"img\" {FONT} font-size=\"12\">\n\
         <title>{}</title>\n<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"12\" y=\"22\" font-size=\"14\" font-weight=\"600\" fill=\"{TEXT}\">{}</text>\n",
        x(title),
        x(title)
    )
}

/// Round steps for a wall-clock axis, in seconds.
const STEPS_S: [f64; 14] = [
    1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0, 3600.0, 7200.0,
];

fn tick_step_ms(span_ms: f64) -> f64 {
    STEPS_S
        .iter()
        .map(|s| s * 1000.0)
        .find(|step| span_ms / step <= 10.0)
        .unwrap_or(3_600_000.0 * 6.0)
}

/// The whole day on one axis: a lane per experiment from its start to its end,
/// coloured by verdict, its faults as bars inside it.
pub fn timeline(r: &SuiteReport) -> String {
    let lanes = r.runs.len().max(1) as f64;
    let height = TOP + lanes * LANE + AXIS;
    let mut svg = open(height, &format!("{}: the day's timeline", r.name));
    let span = r.duration_ms.max(1.0);
    let px = |ms: f64| LEFT + (ms / span).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT);
    axis(&mut svg, span, TOP, TOP + lanes * LANE, &px);
    for (i, e) in r.runs.iter().enumerate() {
        lane(&mut svg, e, TOP + i as f64 * LANE, &px);
    }
    svg.push_str("</svg>\n");
    svg
}

fn axis(svg: &mut String, span: f64, top: f64, bottom: f64, px: &dyn Fn(f64) -> f64) {
    let step = tick_step_ms(span);
    let mut t = 0.0;
    while t <= span + 0.5 {
        let at = px(t);
        let _ = write!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"{top}\" x2=\"{at:.1}\" y2=\"{bottom}\" stroke=\"{GRID}\"/>\n\
             <text x=\"{at:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"{MUTED}\">{}</text>\n",
            bottom + 16.0,
            x(&clock(t))
        );
        t += step;
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{MUTED}\">time since the suite started</text>",
        WIDTH - RIGHT,
        bottom + 34.0
    );
}

/// `0:00`, `1:30`, `1:02:00`.
fn clock(ms: f64) -> String {
    let s = (ms / 1000.0).round() as u64;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}

fn lane(svg: &mut String, e: &RunEntry, top: f64, px: &dyn Fn(f64) -> f64) {
    let verdict = e.verdict.map_or("skipped".to_string(), |v| {
        super::outcome_word(v).to_string()
    });
    let label = format!("{}. {} ({verdict})", e.index, truncate(&e.experiment, 26));
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{TEXT}\">{}</text>",
        LEFT - 8.0,
        top + LANE / 2.0 + 4.0,
        x(&label)
    );
    if e.status == "skipped" {
        return;
    }
    let (x0, x1) = (px(e.offset_ms), px(e.offset_ms + e.wall_ms));
    let _ = writeln!(
        svg,
        "<rect x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" rx=\"3\" fill=\"{}\" fill-opacity=\"0.85\">\
         <title>{}: {verdict}, {}</title></rect>",
        top + 5.0,
        (x1 - x0).max(2.0),
        LANE - 10.0,
        colour(e.verdict),
        x(&e.experiment),
        x(&fmt_dur(e.wall_ms))
    );
    let t0 = e.offset_ms + e.t0_offset_ms.unwrap_or(0.0);
    for f in &e.faults {
        let start = px(t0 + f.injected_at_ms);
        let end = px(t0 + f.reverted_at_ms.unwrap_or(f.injected_at_ms));
        let _ = writeln!(
            svg,
            "<rect x=\"{start:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"8\" fill=\"{FAULT}\"><title>fault {}</title></rect>",
            top + LANE / 2.0 - 4.0,
            (end - start).max(2.0),
            x(&f.name)
        );
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// One row per figure: each run's value as a dot on the row's own scale, the
/// min–max range as a line, the median as a tick, and the SLA's limit in red.
pub fn distributions(s: &RepeatSummary, name: &str) -> String {
    let rows: Vec<&Distribution> = s.figures.iter().filter(|d| d.max.is_some()).collect();
    let height = TOP + rows.len().max(1) as f64 * LANE + 30.0;
    let title = format!("{name}: {} runs, each figure's spread", s.runs);
    let mut svg = open(height, &title);
    for (i, d) in rows.iter().enumerate() {
        row(&mut svg, d, TOP + i as f64 * LANE);
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{MUTED}\">dots: runs · bar: median · red: SLA limit · each row on its own scale</text>",
        WIDTH - RIGHT,
        height - 10.0
    );
    svg.push_str("</svg>\n");
    svg
}

fn value_words(v: f64, unit: &str) -> String {
    match unit {
        "ms" => fmt_dur(v),
        "percent" => format!("{}%", fmt_num(v)),
        _ => fmt_num(v),
    }
}

fn row(svg: &mut String, d: &Distribution, top: f64) {
    let (Some(min), Some(max)) = (d.min, d.max) else {
        return;
    };
    let low = d.limit.map_or(min, |l| l.min(min));
    let high = d.limit.map_or(max, |l| l.max(max));
    let pad = ((high - low) * 0.05).max(if high == 0.0 { 1.0 } else { high.abs() * 0.01 });
    let (low, high) = (low - pad, high + pad);
    let plot_right = WIDTH - RIGHT - 140.0;
    let px = |v: f64| LEFT + (v - low) / (high - low) * (plot_right - LEFT);
    let mid = top + LANE / 2.0;
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"{TEXT}\">{}</text>\n\
         <line x1=\"{LEFT}\" y1=\"{mid:.1}\" x2=\"{plot_right:.1}\" y2=\"{mid:.1}\" stroke=\"{GRID}\"/>\n\
         <line x1=\"{:.1}\" y1=\"{mid:.1}\" x2=\"{:.1}\" y2=\"{mid:.1}\" stroke=\"{MUTED}\" stroke-width=\"3\"/>",
        LEFT - 8.0,
        mid + 4.0,
        x(&format!("{} · {}", d.figure, truncate(&d.scope, 16))),
        px(min),
        px(max),
    );
    if let Some(limit) = d.limit {
        let at = px(limit);
        let _ = writeln!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"{:.1}\" x2=\"{at:.1}\" y2=\"{:.1}\" stroke=\"#cf222e\" stroke-dasharray=\"4 2\"><title>limit {}</title></line>",
            top + 3.0,
            top + LANE - 3.0,
            x(&value_words(limit, &d.unit))
        );
    }
    for (run, v) in d.values.iter().enumerate() {
        if let Some(v) = v {
            let _ = writeln!(
                svg,
                "<circle cx=\"{:.1}\" cy=\"{mid:.1}\" r=\"4\" fill=\"#0969da\" fill-opacity=\"0.6\"><title>run {}: {}</title></circle>",
                px(*v),
                run + 1,
                x(&value_words(*v, &d.unit))
            );
        }
    }
    if let Some(median) = d.median {
        let at = px(median);
        let _ = writeln!(
            svg,
            "<line x1=\"{at:.1}\" y1=\"{:.1}\" x2=\"{at:.1}\" y2=\"{:.1}\" stroke=\"{TEXT}\" stroke-width=\"2\"/>",
            mid - 8.0,
            mid + 8.0
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" fill=\"{MUTED}\">{} – {}</text>",
        plot_right + 10.0,
        mid + 4.0,
        x(&value_words(min, &d.unit)),
        x(&value_words(max, &d.unit))
    );
}
