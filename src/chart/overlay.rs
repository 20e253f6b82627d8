//! What the latency chart draws besides the samples: the harness's own send lateness
//! (so a harness stall is not read as a slow service) and the SLA's latency limits.

use super::{ms, LatencyLayout, LogScale, XScale, LEFT, MUTED, RIGHT, WIDTH};
use crate::format::{escape_xml as x, fmt_dur};
use crate::record::Sample;
use std::collections::BTreeMap;
use std::fmt::Write;

const LATE_FILL: &str = "#6e7781";
const LIMIT: &str = "#cf222e";

/// The largest send lateness (ms) per horizontal pixel, left to right.
pub(super) fn lateness_envelope(samples: &[&Sample], xs: XScale) -> Vec<(f64, f64)> {
    let mut by_px: BTreeMap<i64, u64> = BTreeMap::new();
    for s in samples {
        let px = xs.px(ms(s.due_us)).round() as i64;
        let late = by_px.entry(px).or_insert(0);
        *late = (*late).max(s.late_us);
    }
    by_px
        .into_iter()
        .map(|(px, late)| (px as f64, ms(late)))
        .collect()
}

/// A translucent grey area from the bottom of the plot up to the lateness envelope,
/// with its caption; nothing when every value sits below the scale.
pub(super) fn draw_lateness(
    svg: &mut String,
    envelope: &[(f64, f64)],
    ys: &LogScale,
    layout: &LatencyLayout,
) {
    if envelope.iter().all(|&(_, v)| v <= ys.lo) {
        return;
    }
    let (Some(first), Some(last)) = (envelope.first(), envelope.last()) else {
        return;
    };
    let bottom = layout.plot_bottom;
    let mut d = format!("M{} {bottom:.1}", first.0);
    for &(px, v) in envelope {
        let _ = write!(d, "L{px} {:.1}", ys.y(v.min(ys.hi)));
    }
    let _ = write!(d, "L{} {bottom:.1}Z", last.0);
    let _ = writeln!(
        svg,
        "<path class=\"lateness\" d=\"{d}\" fill=\"{LATE_FILL}\" fill-opacity=\"0.25\" stroke=\"none\"/>\
         <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{MUTED}\" text-anchor=\"end\">grey: harness send lateness</text>",
        WIDTH - RIGHT - 4.0,
        layout.plot_top + 12.0
    );
}

/// The SLA's latency limits as red lines, or a note when a limit is off the scale.
pub(super) fn draw_limits(
    svg: &mut String,
    limits: &[(String, f64)],
    ys: &LogScale,
    layout: &LatencyLayout,
) {
    let mut note_y = layout.plot_top + 12.0;
    for (stat, limit) in limits {
        let label = x(&format!("SLA {stat} <= {}", fmt_dur(*limit)));
        if *limit > ys.hi || *limit < ys.lo {
            let side = if *limit > ys.hi { "above" } else { "below" };
            let _ = writeln!(
                svg,
                "<text class=\"sla-limit\" x=\"{:.1}\" y=\"{note_y:.1}\" font-size=\"11\" fill=\"{LIMIT}\">{label} ({side} the chart)</text>",
                LEFT + 4.0
            );
            note_y += 13.0;
            continue;
        }
        let py = ys.y(*limit);
        let _ = writeln!(
            svg,
            "<line class=\"sla-limit\" x1=\"{LEFT}\" y1=\"{py:.1}\" x2=\"{:.1}\" y2=\"{py:.1}\" stroke=\"{LIMIT}\" \
             stroke-width=\"1.5\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" fill=\"{LIMIT}\">{label}</text>",
            WIDTH - RIGHT,
            LEFT + 4.0,
            py - 4.0
        );
    }
}

/// The highest value the scale should reach for the overlays: the lateness peak, and
/// each limit within one decade of the data (a far-off limit would squash the samples).
pub(super) fn scale_top(envelope: &[(f64, f64)], limits: &[(String, f64)], data_hi: f64) -> f64 {
    let late = envelope.iter().map(|p| p.1).fold(0.0, f64::max);
    let reach = data_hi.max(late);
    limits
        .iter()
        .map(|(_, l)| *l)
        .filter(|&l| l <= reach * 10.0)
        .fold(reach, f64::max)
}
