//! SVG charts drawn from saved data (a [`Recording`] and its [`Analysis`]), written by
//! hand as plain strings so reports need no plotting dependency and no external assets.
//!
//! Both charts share one x axis: run time in seconds from the run start, with each
//! sample drawn at its *intended* send time, the same clock the analysis uses.

use crate::analysis::Analysis;
use crate::format::{escape_xml as x, fmt_dur, fmt_num, fmt_offset};
use crate::record::{Recording, Sample};
use std::collections::BTreeSet;
use std::fmt::Write;

mod failover;
mod values;
pub use values::values;

/// Fixed drawing width; the SVGs scale through their `viewBox`.
const WIDTH: f64 = 960.0;
/// Room on the left for lane labels and y-axis ticks.
const LEFT: f64 = 150.0;
/// Room on the right for the p50/p99 labels.
const RIGHT: f64 = 80.0;
const FONT: &str = "font-family=\"system-ui,-apple-system,'Segoe UI',Helvetica,Arial,sans-serif\"";
/// Above this many samples in a lane, marks would overlap into mush (and bloat the file):
/// draw one column per pixel coloured by its failure share instead.
const MAX_MARKS: usize = 4000;

const GREEN: (u8, u8, u8) = (0x2d, 0xa4, 0x4e);
const RED: (u8, u8, u8) = (0xcf, 0x22, 0x2e);
const FAULT_FILL: &str = "#8250df";
const TEXT: &str = "#1f2328";
const MUTED: &str = "#59636e";
const GRID: &str = "#d8dee4";

/// Maps run time (ms) onto the plot's horizontal pixels.
#[derive(Clone, Copy)]
struct XScale {
    span_ms: f64,
}

impl XScale {
    fn new(a: &Analysis) -> XScale {
        // The measured span is what the samples cover; a zero span (nothing measured)
        // still needs a non-degenerate axis.
        let span_ms = if a.measured_ms > 0.0 {
            a.measured_ms
        } else {
            a.duration_ms.max(1000.0)
        };
        XScale { span_ms }
    }
    fn plot_width(self) -> f64 {
        WIDTH - LEFT - RIGHT
    }
    fn px(self, ms: f64) -> f64 {
        LEFT + (ms / self.span_ms).clamp(0.0, 1.0) * self.plot_width()
    }
}

/// Fault windows as drawn: (name, from ms, to ms). A fault never reverted is shaded to the
/// end of the measured span; one never injected is not drawn (nothing happened).
fn fault_spans(a: &Analysis, xs: XScale) -> Vec<(String, f64, f64)> {
    a.faults
        .iter()
        .filter_map(|f| {
            let from = f.injected_at_ms?;
            Some((f.name.clone(), from, f.reverted_at_ms.unwrap_or(xs.span_ms)))
        })
        .collect()
}

/// Give each fault label a row so labels of nearby faults do not overprint each other.
/// Returns the row of each span and the number of rows.
fn label_rows(spans: &[(String, f64, f64)], xs: XScale) -> (Vec<usize>, usize) {
    let mut row_ends: Vec<f64> = Vec::new();
    let mut rows = Vec::new();
    for (name, from, _) in spans {
        let start = xs.px(*from);
        // Rough width of the label at 11 px: good enough to keep labels apart.
        let end = start + 6.5 * name.chars().count() as f64 + 8.0;
        let row = match row_ends.iter().position(|&e| e <= start) {
            Some(r) => r,
            None => {
                row_ends.push(0.0);
                row_ends.len() - 1
            }
        };
        row_ends[row] = end;
        rows.push(row);
    }
    let n = row_ends.len();
    (rows, n)
}

/// Draw fault windows as shaded spans from `top` to `bottom`, with labels in rows above.
fn draw_faults(
    svg: &mut String,
    spans: &[(String, f64, f64)],
    rows: &[usize],
    xs: XScale,
    label_top: f64,
    top: f64,
    bottom: f64,
) {
    for ((name, from, to), row) in spans.iter().zip(rows) {
        let (x0, x1) = (xs.px(*from), xs.px(*to));
        let _ = writeln!(
            svg,
            "<g class=\"fault\"><title>{}: {} → {}</title>\
             <rect x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{FAULT_FILL}\" fill-opacity=\"0.12\"/>\
             <line x1=\"{x0:.1}\" y1=\"{:.1}\" x2=\"{x0:.1}\" y2=\"{bottom:.1}\" stroke=\"{FAULT_FILL}\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{FAULT_FILL}\">{}</text></g>",
            x(name),
            fmt_offset(*from),
            fmt_offset(*to),
            (x1 - x0).max(1.0),
            bottom - top,
            label_top + *row as f64 * 15.0 + 2.0,
            x0 + 3.0,
            label_top + *row as f64 * 15.0 + 12.0,
            x(name),
        );
    }
}

/// Tick positions (ms) for the time axis: a 1-2-5 style step giving roughly 6–12 ticks.
fn time_ticks(span_ms: f64) -> Vec<f64> {
    const STEPS_MS: &[f64] = &[
        1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1e3, 2e3, 5e3, 1e4, 15e3, 3e4, 6e4,
        12e4, 3e5, 6e5, 9e5, 18e5, 36e5, 72e5, 216e5, 432e5, 864e5,
    ];
    let step = STEPS_MS
        .iter()
        .copied()
        .find(|s| span_ms / s <= 12.0)
        .unwrap_or(span_ms / 10.0);
    let n = (span_ms / step).floor() as usize;
    (0..=n).map(|i| i as f64 * step).collect()
}

fn time_label(ms: f64) -> String {
    if ms >= 60_000.0 {
        let m = (ms / 60_000.0).floor();
        let s = (ms - m * 60_000.0) / 1000.0;
        if s < 1e-9 {
            format!("{}m", m as u64)
        } else {
            format!("{}m{}s", m as u64, fmt_num(s))
        }
    } else {
        format!("{}s", fmt_num(ms / 1000.0))
    }
}

/// Vertical grid lines from `top` to `bottom` and tick labels under `bottom`.
fn draw_time_axis(svg: &mut String, xs: XScale, top: f64, bottom: f64) {
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{bottom:.1}\" x2=\"{:.1}\" y2=\"{bottom:.1}\" stroke=\"{MUTED}\"/>",
        WIDTH - RIGHT
    );
    for t in time_ticks(xs.span_ms) {
        let px = xs.px(t);
        let _ = writeln!(
            svg,
            "<line x1=\"{px:.1}\" y1=\"{top:.1}\" x2=\"{px:.1}\" y2=\"{bottom:.1}\" stroke=\"{GRID}\" stroke-width=\"0.5\"/>\
             <line x1=\"{px:.1}\" y1=\"{bottom:.1}\" x2=\"{px:.1}\" y2=\"{:.1}\" stroke=\"{MUTED}\"/>\
             <text x=\"{px:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\" text-anchor=\"middle\">{}</text>",
            bottom + 4.0,
            bottom + 16.0,
            time_label(t)
        );
    }
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\" text-anchor=\"end\">run time</text>",
        WIDTH - RIGHT,
        bottom + 30.0
    );
}

/// A dashed line where the run was aborted, when it was.
fn draw_abort(svg: &mut String, a: &Analysis, xs: XScale, top: f64, bottom: f64) {
    if let Some(ab) = &a.aborted {
        let px = xs.px(ab.at_ms);
        let _ = writeln!(
            svg,
            "<g class=\"abort\"><title>aborted: {}</title><line x1=\"{px:.1}\" y1=\"{top:.1}\" x2=\"{px:.1}\" y2=\"{bottom:.1}\" \
             stroke=\"{TEXT}\" stroke-dasharray=\"4 3\"/><text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{TEXT}\" \
             text-anchor=\"end\">aborted</text></g>",
            x(&ab.reason),
            px - 3.0,
            bottom - 4.0
        );
    }
}

fn svg_open(height: f64, title: &str) -> String {
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" \
         height=\"{height:.0}\" {FONT} role=\"img\">\n<title>{}</title>\n\
         <rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n\
         <text x=\"12\" y=\"20\" font-size=\"14\" font-weight=\"600\" fill=\"{TEXT}\">{}</text>\n",
        x(title),
        x(title)
    )
}

fn hex((r, g, b): (u8, u8, u8)) -> String {
    format!("#{r:02x}{g:02x}{b:02x}")
}

/// Green → red by the share of failed samples, so a mostly-ok pixel column still shows red.
fn share_color(share: f64) -> String {
    let s = share.clamp(0.0, 1.0);
    // Any failure at all should be visible: lift small shares towards red.
    let s = if s > 0.0 { 0.35 + 0.65 * s } else { 0.0 };
    let mix = |a: u8, b: u8| (a as f64 + (b as f64 - a as f64) * s).round() as u8;
    hex((
        mix(GREEN.0, RED.0),
        mix(GREEN.1, RED.1),
        mix(GREEN.2, RED.2),
    ))
}

fn probe_samples<'a>(rec: &'a Recording, probe: &str) -> Vec<&'a Sample> {
    let mut v: Vec<&Sample> = rec.samples.iter().filter(|s| s.probe == probe).collect();
    v.sort_by_key(|s| (s.due_us, s.seq));
    v
}

fn ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn experiment(rec: &Recording) -> String {
    rec.started
        .as_ref()
        .map_or_else(|| "run".into(), |s| s.experiment.clone())
}

/// One lane per probe: every sample as a mark at its intended time (green ok, red failed),
/// outages as red bands, fault windows as labelled shaded spans.
pub fn timeline(rec: &Recording, a: &Analysis) -> String {
    const LANE: f64 = 24.0;
    const GAP: f64 = 10.0;
    let xs = XScale::new(a);
    let spans = fault_spans(a, xs);
    let (rows, nrows) = label_rows(&spans, xs);
    let label_top = 30.0;
    let lanes_top = label_top + nrows as f64 * 15.0 + 6.0;
    let nlanes = a.probes.len().max(1);
    let lanes_bottom = lanes_top + nlanes as f64 * (LANE + GAP);
    let legend = legend_rows(timeline_legend(a));
    // A second legend row only for charts that need it: the others stay as they were.
    let height = lanes_bottom + 62.0 + 16.0 * (legend.len() - 1) as f64;

    let mut svg = svg_open(
        height,
        &format!("{}: samples by intended send time", experiment(rec)),
    );
    draw_time_axis(&mut svg, xs, lanes_top, lanes_bottom);
    draw_faults(
        &mut svg,
        &spans,
        &rows,
        xs,
        label_top,
        lanes_top - 4.0,
        lanes_bottom,
    );

    if a.probes.is_empty() {
        let _ = writeln!(
            svg,
            "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"12\" fill=\"{MUTED}\">no probes</text>",
            lanes_top + LANE / 2.0 + 4.0
        );
    }
    for (i, p) in a.probes.iter().enumerate() {
        let y = lanes_top + i as f64 * (LANE + GAP) + GAP / 2.0;
        let _ = writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"{TEXT}\" text-anchor=\"end\">{}</text>\
             <rect x=\"{LEFT}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{LANE}\" fill=\"#f6f8fa\"/>",
            LEFT - 8.0,
            y + LANE / 2.0 + 4.0,
            x(&truncate(&p.name, 22)),
            xs.plot_width()
        );
        let samples = probe_samples(rec, &p.name);
        if samples.len() <= MAX_MARKS {
            // Marks as wide as the sample interval allows, but never wider than 3 px.
            let interval_px = p.interval_ms / xs.span_ms * xs.plot_width();
            let w = (interval_px * 0.6).clamp(1.0, 3.0);
            for (ok, color) in [(true, GREEN), (false, RED)] {
                let mut d = String::new();
                for s in samples.iter().filter(|s| s.ok == ok) {
                    let _ = write!(d, "M{:.1} {y:.1}v{LANE}", xs.px(ms(s.due_us)));
                }
                if !d.is_empty() {
                    let _ = writeln!(
                        svg,
                        "<path class=\"{}\" d=\"{d}\" stroke=\"{}\" stroke-width=\"{w:.1}\"/>",
                        if ok { "ok" } else { "failed" },
                        hex(color)
                    );
                }
            }
        } else {
            let cols = xs.plot_width().ceil() as usize;
            let mut counts = vec![(0u64, 0u64); cols];
            for s in &samples {
                let c = ((xs.px(ms(s.due_us)) - LEFT).floor() as usize).min(cols - 1);
                counts[c].0 += 1;
                counts[c].1 += u64::from(!s.ok);
            }
            // Adjacent columns of the same colour become one rect, keeping the file small.
            let mut c = 0;
            while c < cols {
                let (n, f) = counts[c];
                if n == 0 {
                    c += 1;
                    continue;
                }
                let color = share_color(f as f64 / n as f64);
                let start = c;
                while c + 1 < cols
                    && counts[c + 1].0 > 0
                    && share_color(counts[c + 1].1 as f64 / counts[c + 1].0 as f64) == color
                {
                    c += 1;
                }
                let _ = writeln!(
                    svg,
                    "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{}\" height=\"{LANE}\" fill=\"{color}\"/>",
                    LEFT + start as f64,
                    c - start + 1
                );
                c += 1;
            }
        }
        for o in &p.outages {
            let (x0, x1) = (xs.px(o.start_ms), xs.px(o.end_ms));
            let _ = writeln!(
                svg,
                "<rect class=\"outage\" x=\"{x0:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{}\" \
                 fill-opacity=\"0.35\" stroke=\"{}\"><title>outage {} → {} ({}): {}</title></rect>",
                y - 3.0,
                (x1 - x0).max(1.5),
                LANE + 6.0,
                hex(RED),
                hex(RED),
                fmt_offset(o.start_ms),
                fmt_offset(o.end_ms),
                fmt_dur(o.duration_ms),
                x(o.first_error.as_deref().unwrap_or("failed")),
            );
        }
        failover::draw_phases(&mut svg, a, Some(&p.name), xs, y + LANE + 3.5);
        if i == 0 {
            failover::draw_phases(&mut svg, a, None, xs, y + LANE + 3.5);
        }
        failover::draw_lost(&mut svg, rec, p, &samples, xs, y, LANE);
    }
    draw_abort(&mut svg, a, xs, lanes_top - 4.0, lanes_bottom);

    draw_legend(
        &mut svg,
        &legend,
        height - 14.0 - 16.0 * (legend.len() - 1) as f64,
    );
    svg.push_str("</svg>\n");
    svg
}

type LegendItem = (String, &'static str, &'static str);

/// The timeline's legend: colour, opacity, label.
fn timeline_legend(a: &Analysis) -> Vec<LegendItem> {
    let mut items = vec![
        (hex(GREEN), "1", "ok sample"),
        (hex(RED), "1", "failed sample"),
        (hex(RED), "0.35", "outage"),
        (FAULT_FILL.to_string(), "0.25", "fault injected → reverted"),
    ];
    if a.faults.iter().any(|f| !f.write_outages.is_empty()) {
        for (_, color, label) in failover::PHASES {
            items.push((color.to_string(), "1", label));
        }
    }
    if a.probes
        .iter()
        .any(|p| p.writes.as_ref().is_some_and(|w| w.lost > 0))
    {
        items.push((failover::LOST.to_string(), "1", "lost write (acked)"));
    }
    items
}

fn legend_width(label: &str) -> f64 {
    16.0 + 6.5 * label.chars().count() as f64 + 18.0
}

/// Legend items split into rows that fit the chart's width.
fn legend_rows(items: Vec<LegendItem>) -> Vec<Vec<LegendItem>> {
    let mut rows: Vec<Vec<LegendItem>> = vec![Vec::new()];
    let mut lx = LEFT;
    for item in items {
        let w = legend_width(item.2);
        if lx + w > WIDTH && rows.last().is_some_and(|r| !r.is_empty()) {
            rows.push(Vec::new());
            lx = LEFT;
        }
        lx += w;
        if let Some(r) = rows.last_mut() {
            r.push(item);
        }
    }
    rows
}

fn draw_legend(svg: &mut String, rows: &[Vec<LegendItem>], first_y: f64) {
    for (i, row) in rows.iter().enumerate() {
        let ly = first_y + 16.0 * i as f64;
        let mut lx = LEFT;
        for (color, opacity, label) in row {
            let _ = writeln!(
                svg,
                "<rect x=\"{lx:.1}\" y=\"{:.1}\" width=\"12\" height=\"10\" fill=\"{color}\" fill-opacity=\"{opacity}\"/>\
                 <text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"11\" fill=\"{MUTED}\">{label}</text>",
                ly - 9.0,
                lx + 16.0
            );
            lx += legend_width(label);
        }
    }
}

/// [`latency_with_limits`] without SLA limits.
pub fn latency(rec: &Recording, a: &Analysis, probe: &str) -> String {
    latency_with_limits(rec, a, probe, &[])
}

/// Latency of one probe's successful samples over time (log scale), failures as red ticks
/// along the top, fault windows shaded, the run's p50/p99 as labelled lines, the
/// harness's send lateness as a grey area, and each SLA latency limit
/// (`("p99", 250.0)`, in ms) as a red line.
pub fn latency_with_limits(
    rec: &Recording,
    a: &Analysis,
    probe: &str,
    limits: &[(String, f64)],
) -> String {
    let xs = XScale::new(a);
    let spans = fault_spans(a, xs);
    let (rows, nrows) = label_rows(&spans, xs);
    let layout = LatencyLayout::new(nrows);
    let mut svg = svg_open(
        layout.height,
        &format!("{}: latency of probe {probe}", experiment(rec)),
    );
    let samples = probe_samples(rec, probe);
    let ok = ok_points(&samples);
    let pct = a
        .probes
        .iter()
        .find(|p| p.name == probe)
        .map(|p| &p.latency_ms);
    let envelope = overlay::lateness_envelope(&samples, xs);
    let data_hi = ok
        .iter()
        .map(|p| p.1)
        .fold(pct.and_then(|p| p.p99).unwrap_or(0.0), f64::max);
    let top = overlay::scale_top(&envelope, limits, data_hi);
    let ys = LogScale::covering(&ok, Some(top), &layout);

    draw_time_axis(&mut svg, xs, layout.plot_top, layout.plot_bottom);
    draw_faults(
        &mut svg,
        &spans,
        &rows,
        xs,
        layout.label_top,
        layout.strip_top,
        layout.plot_bottom,
    );
    draw_latency_axis(&mut svg, &ys, &layout);
    if ok.is_empty() {
        draw_no_successes(&mut svg, xs, &layout);
    }
    overlay::draw_lateness(&mut svg, &envelope, &ys, &layout);
    // Percentile lines go under the dots, so samples sitting on a percentile stay visible.
    if let Some(p) = pct {
        draw_percentiles(&mut svg, p, &ys);
    }
    overlay::draw_limits(&mut svg, limits, &ys, &layout);
    draw_ok_dots(&mut svg, &ok, xs, &ys);
    draw_failed_ticks(&mut svg, &samples, xs, layout.strip_top);
    draw_abort(&mut svg, a, xs, layout.strip_top, layout.plot_bottom);
    svg.push_str("</svg>\n");
    svg
}

/// Vertical positions of the latency chart: fault labels, the failed-sample strip, the plot.
struct LatencyLayout {
    label_top: f64,
    strip_top: f64,
    plot_top: f64,
    plot_bottom: f64,
    height: f64,
}

impl LatencyLayout {
    const PLOT_H: f64 = 240.0;

    fn new(label_rows: usize) -> LatencyLayout {
        let label_top = 30.0;
        let strip_top = label_top + label_rows as f64 * 15.0 + 6.0;
        let plot_top = strip_top + 16.0;
        let plot_bottom = plot_top + Self::PLOT_H;
        LatencyLayout {
            label_top,
            strip_top,
            plot_top,
            plot_bottom,
            height: plot_bottom + 44.0,
        }
    }
}

/// (intended send time, latency) of each successful sample, in ms.
fn ok_points(samples: &[&Sample]) -> Vec<(f64, f64)> {
    samples
        .iter()
        .filter(|s| s.ok)
        // 1 µs floor: the log scale has no zero.
        .map(|s| (ms(s.due_us), ms(s.latency_us).max(0.001)))
        .collect()
}

/// A log scale over whole decades covering every point and the percentile lines.
struct LogScale {
    lo: f64,
    hi: f64,
    plot_bottom: f64,
}

impl LogScale {
    /// `top`: the highest value besides the points the scale must reach.
    fn covering(ok: &[(f64, f64)], top: Option<f64>, layout: &LatencyLayout) -> LogScale {
        let lo_v = ok.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        let hi_v = ok
            .iter()
            .map(|p| p.1)
            .fold(0.0, f64::max)
            .max(top.unwrap_or(0.0));
        let (lo, hi) = if ok.is_empty() {
            (1.0, 1000.0)
        } else {
            let lo = 10f64.powf(lo_v.log10().floor());
            let hi = 10f64.powf(hi_v.log10().ceil());
            (lo, if hi <= lo { lo * 10.0 } else { hi })
        };
        LogScale {
            lo,
            hi,
            plot_bottom: layout.plot_bottom,
        }
    }

    fn y(&self, v: f64) -> f64 {
        let (lo, hi) = (self.lo, self.hi);
        self.plot_bottom
            - (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10()) * LatencyLayout::PLOT_H
    }
}

/// Grid lines and labels at 1, 2, 5 × each decade, the axis and its captions.
fn draw_latency_axis(svg: &mut String, ys: &LogScale, layout: &LatencyLayout) {
    let mut decade = ys.lo;
    while decade < ys.hi * 1.0001 {
        for m in [1.0, 2.0, 5.0] {
            let v = decade * m;
            if v > ys.hi * 1.0001 {
                break;
            }
            let py = ys.y(v);
            let major = m == 1.0;
            let _ = writeln!(
                svg,
                "<line x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"{GRID}\" stroke-width=\"{}\"/>\
                 <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\" text-anchor=\"end\">{}</text>",
                WIDTH - RIGHT,
                if major { 0.8 } else { 0.4 },
                LEFT - 6.0,
                py + 4.0,
                ms_label(v)
            );
        }
        decade *= 10.0;
    }
    let _ = writeln!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{:.1}\" x2=\"{LEFT}\" y2=\"{:.1}\" stroke=\"{MUTED}\"/>\
         <text x=\"14\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\">latency (log)</text>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{}\" text-anchor=\"end\">failed</text>",
        layout.plot_top,
        layout.plot_bottom,
        layout.plot_top + 12.0,
        LEFT - 6.0,
        layout.strip_top + 11.0,
        hex(RED)
    );
}

fn draw_no_successes(svg: &mut String, xs: XScale, layout: &LatencyLayout) {
    let _ = writeln!(
        svg,
        "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"13\" fill=\"{MUTED}\" text-anchor=\"middle\">no successful samples</text>",
        LEFT + xs.plot_width() / 2.0,
        layout.plot_top + LatencyLayout::PLOT_H / 2.0
    );
}

/// Dashed p50 and p99 lines; the p99 label moves up if it would sit on the p50 label.
fn draw_percentiles(svg: &mut String, p: &crate::analysis::Percentiles, ys: &LogScale) {
    let mut last_label_y = f64::INFINITY;
    for (name, v, color) in [("p50", p.p50, "#1a7f37"), ("p99", p.p99, "#bc4c00")] {
        let Some(v) = v else { continue };
        let py = ys.y(v);
        let ly = (py + 4.0).min(last_label_y - 13.0);
        last_label_y = ly;
        let _ = writeln!(
            svg,
            "<line class=\"{name}\" x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"{color}\" \
             stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>\
             <text x=\"{:.1}\" y=\"{ly:.1}\" font-size=\"11\" fill=\"{color}\">{name} {}</text>",
            WIDTH - RIGHT,
            WIDTH - RIGHT + 4.0,
            fmt_dur(v)
        );
    }
}

/// One dot per occupied half-pixel: identical pixels add nothing to the picture but bytes.
fn draw_ok_dots(svg: &mut String, ok: &[(f64, f64)], xs: XScale, ys: &LogScale) {
    let dots: BTreeSet<(i64, i64)> = ok
        .iter()
        .map(|&(t, v)| {
            (
                (xs.px(t) * 2.0).round() as i64,
                (ys.y(v) * 2.0).round() as i64,
            )
        })
        .collect();
    // Few samples get bigger dots: each one matters and nothing overlaps.
    let dot = if dots.len() < 500 { 4.5 } else { 3.0 };
    let mut d = String::new();
    for (px2, py2) in &dots {
        let _ = write!(d, "M{} {}h0", *px2 as f64 / 2.0, *py2 as f64 / 2.0);
    }
    if !d.is_empty() {
        let _ = writeln!(
            svg,
            "<path class=\"ok\" d=\"{d}\" stroke=\"#0969da\" stroke-opacity=\"0.7\" stroke-width=\"{dot}\" stroke-linecap=\"round\"/>"
        );
    }
}

/// A red tick in the strip above the plot for each failed sample.
fn draw_failed_ticks(svg: &mut String, samples: &[&Sample], xs: XScale, strip_top: f64) {
    let fails: BTreeSet<i64> = samples
        .iter()
        .filter(|s| !s.ok)
        .map(|s| (xs.px(ms(s.due_us)) * 2.0).round() as i64)
        .collect();
    let mut d = String::new();
    for px2 in &fails {
        let _ = write!(d, "M{} {:.1}v10", *px2 as f64 / 2.0, strip_top + 2.0);
    }
    if !d.is_empty() {
        let _ = writeln!(
            svg,
            "<path class=\"failed\" d=\"{d}\" stroke=\"{}\" stroke-width=\"1.5\"/>",
            hex(RED)
        );
    }
}

fn ms_label(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}s", fmt_num(v / 1000.0))
    } else {
        format!("{}ms", fmt_num(v))
    }
}

/// Lane labels have a fixed column; long names are cut with an ellipsis (the full name is
/// in the report tables).
fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max - 1).collect::<String>() + "…"
    }
}

mod overlay;

#[cfg(test)]
mod tests;
