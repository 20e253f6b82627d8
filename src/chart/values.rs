//! Value over time for metric probes (`prometheus`): every reading as a point on a
//! linear y axis, failed readings in red, fault windows shaded like the other charts.

use super::{
    draw_abort, draw_faults, draw_time_axis, experiment, fault_spans, label_rows, ms,
    probe_samples, svg_open, x, XScale, GREEN, GRID, LEFT, MUTED, RED, RIGHT, WIDTH,
};
use crate::analysis::Analysis;
use crate::format::fmt_num;
use crate::record::Recording;
use std::fmt::Write;

const LABEL_TOP: f64 = 28.0;
const PLOT_HEIGHT: f64 = 200.0;

/// The value chart of `probe`, or `None` when it read no values.
pub fn values(rec: &Recording, a: &Analysis, probe: &str) -> Option<String> {
    let points: Vec<(f64, f64, bool)> = probe_samples(rec, probe)
        .into_iter()
        .filter_map(|s| {
            s.value
                .filter(|v| v.is_finite())
                .map(|v| (ms(s.due_us), v, s.ok))
        })
        .collect();
    if points.is_empty() {
        return None;
    }
    let xs = XScale::new(a);
    let (low, high) = y_range(&points);
    let spans = fault_spans(a, xs);
    let (rows, label_rows_used) = label_rows(&spans, xs);
    let plot_top = LABEL_TOP + label_rows_used as f64 * 15.0 + 6.0;
    let bottom = plot_top + PLOT_HEIGHT;
    let title = format!("{}: {probe} value over time", experiment(rec));
    let mut svg = svg_open(bottom + 40.0, &title);
    draw_faults(&mut svg, &spans, &rows, xs, LABEL_TOP, plot_top, bottom);
    draw_y_axis(&mut svg, low, high, bottom);
    let y = |v: f64| bottom - (v - low) / (high - low) * PLOT_HEIGHT;
    let line: Vec<String> = points
        .iter()
        .map(|(t, v, _)| format!("{:.1},{:.1}", xs.px(*t), y(*v)))
        .collect();
    let _ = writeln!(
        svg,
        "<polyline class=\"value\" fill=\"none\" stroke=\"{}\" stroke-width=\"1.2\" points=\"{}\"/>",
        super::hex(GREEN),
        line.join(" ")
    );
    for (t, v, _) in points.iter().filter(|p| !p.2) {
        let _ = writeln!(
            svg,
            "<circle class=\"failed\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"2.5\" fill=\"{}\"/>",
            xs.px(*t),
            y(*v),
            super::hex(RED)
        );
    }
    draw_time_axis(&mut svg, xs, plot_top, bottom);
    draw_abort(&mut svg, a, xs, plot_top, bottom);
    svg.push_str("</svg>\n");
    Some(svg)
}

/// The y axis bounds: the readings' range, widened when flat so the line is visible.
fn y_range(points: &[(f64, f64, bool)]) -> (f64, f64) {
    let low = points.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
    let high = points.iter().map(|p| p.1).fold(f64::NEG_INFINITY, f64::max);
    if high - low < 1e-12 {
        let pad = if low.abs() > 0.0 {
            low.abs() * 0.1
        } else {
            1.0
        };
        (low - pad, high + pad)
    } else {
        let pad = (high - low) * 0.05;
        (low - pad, high + pad)
    }
}

fn draw_y_axis(svg: &mut String, low: f64, high: f64, bottom: f64) {
    for i in 0..=4 {
        let v = low + (high - low) * i as f64 / 4.0;
        let py = bottom - PLOT_HEIGHT * i as f64 / 4.0;
        let _ = writeln!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"{GRID}\" stroke-width=\"0.5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\" text-anchor=\"end\">{}</text>",
            WIDTH - RIGHT,
            LEFT - 6.0,
            py + 4.0,
            x(&fmt_num(v))
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::{analyse, AnalysisConfig};
    use crate::record::{Event, ProbeInfo, RunStarted, Sample};

    fn recording(values: &[(u64, Option<f64>, bool)]) -> Recording {
        let mut rec = Recording::default();
        rec.push(Event::RunStarted(RunStarted {
            experiment: "e".into(),
            run_id: "r".into(),
            started_at: "t".into(),
            duration_us: 10_000_000,
            probes: vec![ProbeInfo {
                name: "lag".into(),
                kind: "prometheus".into(),
                target: "q".into(),
                interval_us: 1_000_000,
                timeout_us: 500_000,
                insecure: false,
            }],
            faults: vec![],
            description: None,
            source: None,
            sla: None,
            steady_state_us: None,
        }));
        for (i, (t, v, ok)) in values.iter().enumerate() {
            rec.push(Event::Sample(Sample {
                probe: "lag".into(),
                seq: i as u64,
                due_us: *t,
                latency_us: 1000,
                ok: *ok,
                value: *v,
                ..Default::default()
            }));
        }
        rec.push(Event::RunFinished { t_us: 10_000_000 });
        rec
    }

    #[test]
    fn every_reading_is_a_point_and_failed_ones_are_marked() {
        let rec = recording(&[
            (0, Some(0.1), true),
            (1_000_000, Some(0.5), false),
            (2_000_000, None, false),
            (3_000_000, Some(0.2), true),
        ]);
        let a = analyse(&rec, &AnalysisConfig::default());
        let svg = values(&rec, &a, "lag").expect("a chart");
        let line = svg
            .lines()
            .find(|l| l.contains("class=\"value\""))
            .expect("a value line");
        assert_eq!(line.matches(',').count(), 3, "three readings: {line}");
        assert_eq!(svg.matches("class=\"failed\"").count(), 1);
        assert!(
            svg.contains(">0.5") || svg.contains(">0.52"),
            "y axis reaches the max"
        );
        let none = recording(&[(0, None, true)]);
        let a = analyse(&none, &AnalysisConfig::default());
        assert!(values(&none, &a, "lag").is_none());
    }
}
