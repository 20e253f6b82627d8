//! What the timeline draws for database failovers and write probes: the write-outage
//! phases a fault's milestones cut (a strip under the write probe's lane) and the
//! acknowledged writes that were lost (ticks above the lane at their acknowledgement).

use super::{ms, XScale, TEXT};
use crate::analysis::{Analysis, ProbeAnalysis};
use crate::format::{escape_xml as x, fmt_dur, fmt_offset};
use crate::record::{Recording, Sample, WriteOutcome};
use std::fmt::Write;

/// Phase colours: detection, promotion, first write.
pub(super) const PHASES: [(&str, &str, &str); 3] = [
    ("detection", "#bf8700", "detection"),
    ("promotion", "#0969da", "promotion"),
    ("first_write", "#8250df", "first acked write"),
];
pub(super) const LOST: &str = TEXT;

fn phase_color(name: &str) -> &'static str {
    PHASES
        .iter()
        .find(|(n, _, _)| *n == name)
        .map_or("#6e7781", |(_, c, _)| c)
}

/// The phases of every fault's write outage that belongs to `probe` (or to no probe,
/// drawn under the first lane), as a thin strip from `top`.
pub(super) fn draw_phases(
    svg: &mut String,
    a: &Analysis,
    probe: Option<&str>,
    xs: XScale,
    top: f64,
) {
    for f in &a.faults {
        for o in f
            .write_outages
            .iter()
            .filter(|o| o.probe.as_deref() == probe)
        {
            for p in &o.phases {
                let (x0, x1) = (xs.px(p.start_ms), xs.px(p.end_ms));
                let _ = writeln!(
                    svg,
                    "<rect class=\"failover-phase\" x=\"{x0:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"3\" fill=\"{}\">\
                     <title>{}: {} {} ({} → {})</title></rect>",
                    (x1 - x0).max(1.5),
                    phase_color(&p.name),
                    x(&f.name),
                    p.name.replace('_', " "),
                    fmt_dur(p.duration_ms),
                    fmt_offset(p.start_ms),
                    fmt_offset(p.end_ms),
                );
            }
        }
    }
}

/// The samples of `p` whose acknowledged write was lost.
fn lost_samples<'a>(rec: &Recording, p: &ProbeAnalysis, samples: &[&'a Sample]) -> Vec<&'a Sample> {
    let Some(w) = p.writes.as_ref().filter(|w| w.lost > 0) else {
        return Vec::new();
    };
    let Some(base) = rec
        .writes_verified
        .iter()
        .rfind(|v| v.probe == p.name)
        .map(|v| v.base_id)
    else {
        return Vec::new();
    };
    let lost = |seq: u64| {
        let id = base + seq as i64;
        w.lost_ranges.iter().any(|[a, b]| (*a..=*b).contains(&id))
    };
    samples
        .iter()
        .copied()
        .filter(|s| s.write == Some(WriteOutcome::Acked) && lost(s.seq))
        .collect()
}

/// Ticks at the acknowledgement of each lost write, over the lane at `y`.
pub(super) fn draw_lost(
    svg: &mut String,
    rec: &Recording,
    p: &ProbeAnalysis,
    samples: &[&Sample],
    xs: XScale,
    y: f64,
    lane: f64,
) {
    let lost = lost_samples(rec, p, samples);
    let (Some(first), Some(last)) = (lost.first(), lost.last()) else {
        return;
    };
    let acked = |s: &Sample| ms(s.due_us + s.latency_us);
    let mut d = String::new();
    for s in &lost {
        let _ = write!(
            d,
            "M{:.1} {:.1}v{:.1}",
            xs.px(acked(s)),
            y - 5.0,
            lane / 2.0 + 5.0
        );
    }
    let ranges = p.writes.as_ref().map_or(String::new(), |w| {
        w.lost_ranges
            .iter()
            .map(|[a, b]| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(", ")
    });
    let _ = writeln!(
        svg,
        "<g class=\"lost-writes\"><title>{} acknowledged writes lost, acknowledged {} → {} (ids {})</title>\
         <path d=\"{d}\" stroke=\"{LOST}\" stroke-width=\"1.5\"/></g>",
        lost.len(),
        fmt_offset(acked(first)),
        fmt_offset(acked(last)),
        x(&ranges),
    );
}
