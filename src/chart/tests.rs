use super::*;
use crate::analysis::{analyse, AnalysisConfig};
use crate::record::Event;
use crate::report::test_support::{fixture, fixture_named};

fn well_formed(svg: &str) -> roxmltree::Document<'_> {
    roxmltree::Document::parse(svg).unwrap_or_else(|e| panic!("{e}\n{svg}"))
}

#[test]
fn timeline_has_one_band_per_outage_and_fault_labels() {
    let f = fixture();
    let svg = timeline(&f.rec, &f.analysis);
    let doc = well_formed(&svg);
    let outages: usize = f.analysis.probes.iter().map(|p| p.outages.len()).sum();
    assert_eq!(outages, 1);
    assert_eq!(svg.matches("class=\"outage\"").count(), outages);
    // The band spans the outage: 1000..1500 ms of a 4000 ms run over a 730 px plot.
    let band = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("outage"))
        .expect("band");
    let x0: f64 = band.attribute("x").and_then(|v| v.parse().ok()).expect("x");
    let w: f64 = band
        .attribute("width")
        .and_then(|v| v.parse().ok())
        .expect("width");
    assert!((x0 - (LEFT + 0.25 * 730.0)).abs() < 0.1, "{x0}");
    assert!((w - 0.125 * 730.0).abs() < 0.2, "{w}");
    let texts: Vec<&str> = doc
        .descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        texts.contains(&"kill-primary") && texts.contains(&"slow-disk"),
        "{texts:?}"
    );
    assert!(texts.contains(&"api") && texts.contains(&"db"));
    assert!(svg.contains("viewBox=\"0 0 960 "));
    // 5 failed api samples drawn as red marks, 75 ok marks over both lanes.
    let failed = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("failed"))
        .expect("failed marks");
    assert_eq!(
        failed.attribute("d").map(|d| d.matches('M').count()),
        Some(5)
    );
    let ok_marks: usize = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("ok"))
        .filter_map(|n| n.attribute("d"))
        .map(|d| d.matches('M').count())
        .sum();
    assert_eq!(ok_marks, 75);
}

#[test]
fn dense_lanes_are_bucketed_into_pixel_columns() {
    let mut f = fixture();
    // 10 000 extra samples in the api lane, every one failed in the last quarter.
    let mut rec = f.rec.clone();
    for i in 0..10_000u64 {
        let t_us = i * 400;
        rec.push(Event::Sample(crate::record::Sample {
            probe: "api".into(),
            seq: 1000 + i,
            due_us: t_us,
            late_us: 0,
            latency_us: 1000,
            ok: t_us < 3_000_000,
            error: None,
            ..Default::default()
        }));
    }
    f.analysis = analyse(&rec, &AnalysisConfig::default());
    let svg = timeline(&rec, &f.analysis);
    well_formed(&svg);
    // The dense lane has no per-sample marks, and is drawn in at most one rect per pixel.
    let failed_paths = svg.matches("class=\"failed\"").count();
    assert_eq!(failed_paths, 0, "only db (never failing) may use marks");
    assert!(
        svg.contains(&format!("fill=\"{}\"", hex(RED))),
        "fully failed columns are red"
    );
    assert!(svg.len() < 200_000, "{} bytes", svg.len());
}

#[test]
fn latency_chart_has_percentile_lines_failures_and_faults() {
    let f = fixture();
    let svg = latency(&f.rec, &f.analysis, "db");
    let doc = well_formed(&svg);
    assert!(svg.contains("class=\"p50\"") && svg.contains("class=\"p99\""));
    assert!(svg.contains(">p99 300.0ms<"), "{svg}");
    assert!(svg.contains(">p50 5.0ms<"), "{svg}");
    assert!(!svg.contains("class=\"failed\""), "db never failed");
    assert_eq!(
        doc.descendants()
            .filter(|n| n.attribute("class") == Some("fault"))
            .count(),
        2
    );
    // p99 (300 ms) sits above p50 (5 ms): smaller y.
    let line_y = |c: &str| -> f64 {
        doc.descendants()
            .find(|n| n.attribute("class") == Some(c))
            .and_then(|n| n.attribute("y1"))
            .and_then(|v| v.parse().ok())
            .expect("line")
    };
    assert!(line_y("p99") < line_y("p50"));

    let api = latency(&f.rec, &f.analysis, "api");
    let doc = well_formed(&api);
    let failed = doc
        .descendants()
        .find(|n| n.attribute("class") == Some("failed"))
        .expect("failed ticks");
    assert_eq!(
        failed.attribute("d").map(|d| d.matches('M').count()),
        Some(5)
    );
}

#[test]
fn latency_of_unknown_or_silent_probe_still_renders() {
    let f = fixture();
    let svg = latency(&f.rec, &f.analysis, "nope");
    well_formed(&svg);
    assert!(svg.contains("no successful samples"));
}

#[test]
fn text_in_charts_is_escaped() {
    let f = fixture_named("a<b&\"c\"", "db");
    for svg in [
        timeline(&f.rec, &f.analysis),
        latency(&f.rec, &f.analysis, "a<b&\"c\""),
    ] {
        let doc = well_formed(&svg);
        assert!(svg.contains("a&lt;b&amp;&quot;c&quot;"));
        assert!(doc
            .descendants()
            .any(|n| n.text().is_some_and(|t| t.contains("a<b&\"c\""))));
    }
}

#[test]
fn ticks_are_round_and_cover_the_span() {
    assert_eq!(
        time_ticks(4000.0),
        [0.0, 500.0, 1000.0, 1500.0, 2000.0, 2500.0, 3000.0, 3500.0, 4000.0]
    );
    let t = time_ticks(30.0 * 60_000.0);
    assert_eq!(t[1], 300_000.0);
    assert_eq!(time_label(90_000.0), "1m30s");
    assert_eq!(time_label(120_000.0), "2m");
    assert_eq!(time_label(1500.0), "1.5s");
}

#[test]
fn sla_limit_is_a_line_when_in_range_and_a_note_when_far_above() {
    let f = fixture();
    let near = [("p99".to_string(), 250.0)];
    let svg = latency_with_limits(&f.rec, &f.analysis, "db", &near);
    assert!(svg.contains("<line class=\"sla-limit\""), "{svg}");
    assert!(svg.contains("SLA p99 &lt;= 250.0ms</text>"));
    // A limit 1000× the data would squash the samples into a sliver: noted instead.
    let far = [("p99".to_string(), 300_000.0)];
    let svg = latency_with_limits(&f.rec, &f.analysis, "db", &far);
    assert!(!svg.contains("<line class=\"sla-limit\""));
    assert!(svg.contains("(above the chart)"));
    assert!(!latency(&f.rec, &f.analysis, "db").contains("sla-limit"));
}

#[test]
fn a_harness_stall_is_drawn_as_lateness_and_stays_on_the_scale() {
    let mut f = fixture();
    for s in f.rec.samples.iter_mut().filter(|s| s.probe == "api") {
        s.late_us = if s.due_us == 3_000_000 { 5_000_000 } else { 10 };
    }
    let svg = latency(&f.rec, &f.analysis, "api");
    assert!(svg.contains("class=\"lateness\""));
    assert!(svg.contains("harness send lateness"));
    // The 5 s stall sets the top of the scale: it is not drawn off the chart.
    assert!(svg.contains(">5s</text>"), "{svg}");
}
