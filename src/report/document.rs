//! What a human report says, built once from a [`Report`]: a title, facts about the
//! run, and sections of paragraphs, lists and tables. `markdown` and `html` only lay
//! this out, so the two renderings cannot drift apart in content.
//!
//! Text in the model is plain (unescaped); each renderer escapes it for its format.

use super::{budget_sentence, check_subject, fmt_recovery, Report, DEFINITIONS};
use crate::analysis::{FaultAnalysis, ProbeAnalysis};
use crate::format::{fmt_dur, fmt_num, fmt_offset, fmt_opt_ms, fmt_share, fmt_span};
use crate::verdict::Outcome;

#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    pub experiment: String,
    pub verdict: Outcome,
    pub run_id: String,
    pub description: Option<String>,
    pub facts: Vec<Fact>,
    /// Said above everything else when the figures cannot be fully trusted (the
    /// harness ran late): a banner on the page, a quote in Markdown.
    pub warning: Option<Vec<Inline>>,
    pub sections: Vec<Section>,
    pub definitions: &'static [(&'static str, &'static str)],
    /// `shakeout 0.1.0, report schema v1`.
    pub colophon: String,
}

/// One line about the run: `Started: …`, `Exit code: 1`.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub label: &'static str,
    pub value: Vec<Inline>,
    /// Something went wrong (an abort): Markdown puts the label in bold.
    pub alert: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Text(String),
    Code(String),
    Strong(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Section {
    Text {
        heading: Option<&'static str>,
        blocks: Vec<Block>,
    },
    /// Where the page inlines the charts; the Markdown, sized for a PR comment, has none.
    Charts,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    List(Vec<String>),
    Table(Table),
    /// Tables of several subjects with the same columns: one table on the page with a
    /// column for the subject; in Markdown, one captioned table per subject.
    Grouped(Grouped),
    /// The outages of each probe: a table on the page, a list per probe in Markdown.
    Outages(Vec<ProbeOutages>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub columns: Vec<Column>,
    pub rows: Vec<Vec<Cell>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    pub title: &'static str,
    pub align: Align,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    Left,
    /// A number: right-aligned with tabular digits.
    Right,
    /// A figure in words (`212.3ms`, `1.000s – 2.000s`): tabular on the page, left in
    /// Markdown, where the raw text is read too.
    Figure,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Code(String),
    Pass(bool),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Grouped {
    /// The subject column on the page: `Fault`.
    pub subject: &'static str,
    /// Said once before the page's table.
    pub intro: &'static str,
    /// Said after each subject in Markdown: `**kill-db**: asked vs achieved`.
    pub caption: &'static str,
    pub groups: Vec<(String, Table)>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProbeOutages {
    pub probe: String,
    /// The first [`LIST_CAP`] outages.
    pub outages: Vec<OutageRow>,
    /// Outages left out of the list (all of them are in report.json).
    pub more: usize,
}

/// Longest list of outages or disruptions a human report shows per probe.
pub const LIST_CAP: usize = 20;

/// `… and 231 more (all in report.json)`.
pub fn more_sentence(more: usize) -> String {
    format!("… and {more} more (all in report.json)")
}

#[derive(Debug, Clone, PartialEq)]
pub struct OutageRow {
    pub start: String,
    pub end: String,
    pub duration: String,
    pub failed_samples: u64,
    pub first_error: Option<String>,
}

/// The whole report as a document.
pub fn build(r: &Report) -> Document {
    let sections = [
        Some(sla(r)),
        Some(Section::Charts),
        probes(r),
        failure_classes(r),
        metric_values(r),
        outages(r),
        disruptions(r),
        writes(r),
        faults(r),
        failover(r),
        phases(r),
        error_budget(r),
        harness_errors(r),
    ];
    Document {
        experiment: r.experiment.clone(),
        verdict: r.verdict,
        run_id: r.run_id.clone(),
        description: r.description.clone(),
        facts: facts(r),
        warning: measurement_warning(r),
        sections: sections.into_iter().flatten().collect(),
        definitions: DEFINITIONS,
        colophon: format!(
            "{} {}, report schema v{}",
            r.tool, r.tool_version, r.schema_version
        ),
    }
}

fn text(s: impl Into<String>) -> Cell {
    Cell::Text(s.into())
}

fn col(title: &'static str, align: Align) -> Column {
    Column { title, align }
}

fn section(heading: &'static str, blocks: Vec<Block>) -> Section {
    Section::Text {
        heading: Some(heading),
        blocks,
    }
}

fn facts(r: &Report) -> Vec<Fact> {
    let fact = |label, value| Fact {
        label,
        value,
        alert: false,
    };
    let mut facts = vec![
        fact("Run", vec![Inline::Code(r.run_id.clone())]),
        fact("Started", vec![Inline::Text(r.started_at.clone())]),
        fact("Duration", vec![Inline::Text(duration(r))]),
    ];
    if let Some(a) = &r.aborted {
        facts.push(Fact {
            label: "Aborted",
            value: vec![
                Inline::Text(format!("at {}: ", fmt_offset(a.at_ms))),
                Inline::Text(a.reason.clone()),
            ],
            alert: true,
        });
    }
    for p in r.probes.iter().filter(|p| p.tls_insecure) {
        facts.push(Fact {
            label: "TLS",
            value: vec![
                Inline::Text("probe ".into()),
                Inline::Code(p.name.clone()),
                Inline::Text(" does not verify certificates (tls: insecure)".into()),
            ],
            alert: true,
        });
    }
    if let Some(s) = &r.source {
        facts.push(fact("Spec", vec![Inline::Code(s.clone())]));
    }
    facts.push(fact(
        "Exit code",
        vec![Inline::Text(r.exit_code.to_string())],
    ));
    facts
}

/// The run's length, and the planned one when it stopped early.
fn duration(r: &Report) -> String {
    if (r.measured_ms - r.duration_ms).abs() < 0.5 {
        fmt_span(r.duration_ms)
    } else {
        format!(
            "{} of {} planned",
            fmt_span(r.measured_ms),
            fmt_span(r.duration_ms)
        )
    }
}

fn sla(r: &Report) -> Section {
    if r.sla.is_empty() {
        let none = Inline::Text("No SLA thresholds were set.".into());
        return section("SLA", vec![Block::Paragraph(vec![none])]);
    }
    let rows = r
        .sla
        .iter()
        .map(|c| {
            vec![
                Cell::Code(c.name.clone()),
                text(check_subject(c)),
                text(c.threshold.clone()),
                text(c.measured.clone()),
                Cell::Pass(c.pass),
            ]
        })
        .collect();
    let columns = vec![
        col("Check", Align::Left),
        col("Probe / fault", Align::Left),
        col("Threshold", Align::Left),
        col("Measured", Align::Figure),
        col("Result", Align::Left),
    ];
    section("SLA", vec![Block::Table(Table { columns, rows })])
}

fn probes(r: &Report) -> Option<Section> {
    if r.probes.is_empty() {
        return None;
    }
    let mut columns = vec![col("Probe", Align::Left)];
    for title in [
        "Samples",
        "Failed",
        "Availability",
        "Downtime",
        "Longest outage",
        "p50",
        "p99",
        "max",
    ] {
        columns.push(col(title, Align::Right));
    }
    let rows = r.probes.iter().map(probe_row).collect();
    Some(section(
        "Probes",
        vec![Block::Table(Table { columns, rows })],
    ))
}

fn probe_row(p: &ProbeAnalysis) -> Vec<Cell> {
    vec![
        text(p.name.clone()),
        text(p.total.to_string()),
        text(p.failed.to_string()),
        text(fmt_share(p.total.saturating_sub(p.failed), p.total)),
        text(fmt_dur(p.downtime_ms)),
        text(fmt_dur(p.longest_outage_ms)),
        text(fmt_opt_ms(p.latency_ms.p50)),
        text(fmt_opt_ms(p.latency_ms.p99)),
        text(fmt_opt_ms(p.latency_ms.max)),
    ]
}

/// The write ledger of each write probe (absent when there is none).
fn writes(r: &Report) -> Option<Section> {
    let rows: Vec<Vec<Cell>> = r
        .probes
        .iter()
        .filter_map(|p| Some(writes_row(&p.name, p.writes.as_ref()?)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut columns = vec![col("Probe", Align::Left)];
    for title in [
        "Acked",
        "Failed",
        "Unknown",
        "Lost",
        "Recovered",
        "Not written",
        "Phantom",
        "RPO",
    ] {
        columns.push(col(title, Align::Right));
    }
    columns.push(col("Lost ids", Align::Left));
    Some(section(
        "Writes",
        vec![Block::Table(Table { columns, rows })],
    ))
}

fn writes_row(probe: &str, w: &crate::analysis::writes::Writes) -> Vec<Cell> {
    let lost_ids = match &w.verify_error {
        Some(e) => format!("not read back: {e}"),
        None => w
            .lost_ranges
            .iter()
            .map(|[a, b]| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a}–{b}")
                }
            })
            .collect::<Vec<_>>()
            .join(", "),
    };
    let mut row = vec![text(probe)];
    for n in [
        w.acked,
        w.failed,
        w.unknown,
        w.lost,
        w.recovered,
        w.not_written,
        w.phantom,
    ] {
        row.push(text(n.to_string()));
    }
    row.push(text(w.rpo_ms.map_or("—".into(), fmt_dur)));
    row.push(text(lost_ids));
    row
}

/// Failed samples per probe and failure class (refused, timeout, tls, ...).
fn failure_classes(r: &Report) -> Option<Section> {
    let rows: Vec<Vec<Cell>> = r
        .probes
        .iter()
        .flat_map(|p| {
            p.failure_classes.iter().map(|(class, n)| {
                vec![
                    text(p.name.clone()),
                    text(class.clone()),
                    text(n.to_string()),
                ]
            })
        })
        .collect();
    (!rows.is_empty()).then(|| {
        let columns = vec![
            col("Probe", Align::Left),
            col("Failure class", Align::Left),
            col("Samples", Align::Right),
        ];
        section(
            "Failures by class",
            vec![Block::Table(Table { columns, rows })],
        )
    })
}

/// What each metric probe read over the run.
fn metric_values(r: &Report) -> Option<Section> {
    let rows: Vec<Vec<Cell>> = r
        .probes
        .iter()
        .filter_map(|p| {
            let v = p.values.as_ref()?;
            Some(vec![
                text(p.name.clone()),
                text(fmt_num(v.min)),
                text(fmt_num(v.last)),
                text(fmt_num(v.max)),
                text(v.count.to_string()),
            ])
        })
        .collect();
    (!rows.is_empty()).then(|| {
        let mut columns = vec![col("Probe", Align::Left)];
        for title in ["min", "last", "max", "Readings"] {
            columns.push(col(title, Align::Right));
        }
        section("Metric values", vec![Block::Table(Table { columns, rows })])
    })
}

fn outages(r: &Report) -> Option<Section> {
    if r.probes.iter().all(|p| p.outages.is_empty()) {
        return None;
    }
    let groups = r
        .probes
        .iter()
        .filter(|p| !p.outages.is_empty())
        .map(|p| ProbeOutages {
            probe: p.name.clone(),
            more: p.outages.len().saturating_sub(LIST_CAP),
            outages: p
                .outages
                .iter()
                .take(LIST_CAP)
                .map(|o| OutageRow {
                    start: fmt_offset(o.start_ms),
                    end: fmt_offset(o.end_ms),
                    duration: fmt_dur(o.duration_ms),
                    failed_samples: o.failed_samples,
                    first_error: o.first_error.clone(),
                })
                .collect(),
        })
        .collect();
    let intro = Inline::Text("Times are offsets from the run start.".into());
    Some(section(
        "Outages",
        vec![Block::Paragraph(vec![intro]), Block::Outages(groups)],
    ))
}

/// `Measurement degraded: the harness sent probes late (…)`, when it did.
fn measurement_warning(r: &Report) -> Option<Vec<Inline>> {
    let m = &r.measurement;
    m.degraded.then(|| {
        let note = m.note.clone().unwrap_or_default();
        vec![
            Inline::Strong("Measurement degraded:".into()),
            Inline::Text(format!(" {note}.")),
        ]
    })
}

/// Disruptions, when they say more than the outages: some outages were merged, or an
/// SLA judges them.
fn disruptions(r: &Report) -> Option<Section> {
    let judged = r.sla.iter().any(|c| c.name == "max_disruption");
    let merged = r
        .probes
        .iter()
        .any(|p| p.disruptions.len() != p.outages.len());
    if !(judged || merged) || r.probes.iter().all(|p| p.disruptions.is_empty()) {
        return None;
    }
    let columns = vec![
        col("Probe", Align::Left),
        col("Start", Align::Right),
        col("End", Align::Right),
        col("Duration", Align::Right),
        col("Failed", Align::Right),
        col("Samples", Align::Right),
    ];
    let mut rows = Vec::new();
    let mut left_out = Vec::new();
    for p in &r.probes {
        rows.extend(p.disruptions.iter().take(LIST_CAP).map(|d| {
            vec![
                text(p.name.clone()),
                text(fmt_offset(d.start_ms)),
                text(fmt_offset(d.end_ms)),
                text(fmt_dur(d.duration_ms)),
                text(d.failed.to_string()),
                text(d.total.to_string()),
            ]
        }));
        let more = p.disruptions.len().saturating_sub(LIST_CAP);
        if more > 0 {
            left_out.push(format!("{}: {}", p.name, more_sentence(more)));
        }
    }
    let intro = Inline::Text(
        "Outages separated by fewer than K successes (the recovery K) count as one. \
         Times are offsets from the run start."
            .into(),
    );
    let mut blocks = vec![
        Block::Paragraph(vec![intro]),
        Block::Table(Table { columns, rows }),
    ];
    if !left_out.is_empty() {
        blocks.push(Block::List(left_out));
    }
    Some(section("Disruptions", blocks))
}

fn faults(r: &Report) -> Option<Section> {
    if r.faults.is_empty() {
        return None;
    }
    let columns = vec![
        col("Fault", Align::Left),
        col("Kind", Align::Left),
        col("Injected at", Align::Right),
        col("Reverted at", Align::Right),
        col("Time to detect", Align::Right),
        col("Recovery time", Align::Right),
        col("Errors", Align::Left),
    ];
    let stopped_early = r.aborted.is_some();
    let rows = r
        .faults
        .iter()
        .map(|f| fault_row(f, stopped_early))
        .collect();
    let mut blocks = vec![Block::Table(Table { columns, rows })];
    if let Some(checks) = fault_checks(r) {
        blocks.push(checks);
    }
    let left: Vec<String> = r
        .faults
        .iter()
        .flat_map(|f| {
            f.left_behind
                .iter()
                .map(move |n| format!("{}: {n}", f.name))
        })
        .collect();
    if !left.is_empty() {
        let intro = Inline::Text("Left for a person on purpose, as the spec asked:".into());
        blocks.push(Block::Paragraph(vec![intro]));
        blocks.push(Block::List(left));
    }
    blocks.extend(fault_details(r));
    blocks.extend(capacity(r));
    Some(section("Faults", blocks))
}

/// What each fault that chose its own targets did (the pods it removed), by name.
fn fault_details(r: &Report) -> Vec<Block> {
    r.faults
        .iter()
        .filter_map(|f| {
            let detail = f.detail.as_ref()?;
            Some(Block::Paragraph(vec![
                Inline::Code(f.name.clone()),
                Inline::Text(format!(": {detail}")),
            ]))
        })
        .collect()
}

/// How each capacity probe's count (ready pods) fell and came back around each fault.
fn capacity(r: &Report) -> Option<Block> {
    let rows: Vec<Vec<Cell>> = r
        .faults
        .iter()
        .flat_map(|f| {
            f.per_probe.iter().filter_map(|p| {
                let c = p.capacity.as_ref()?;
                Some(vec![
                    text(f.name.clone()),
                    text(p.probe.clone()),
                    text(fmt_num(c.before)),
                    text(fmt_num(c.lowest)),
                    text(c.back_ms.map_or_else(|| "not back".into(), fmt_dur)),
                ])
            })
        })
        .collect();
    (!rows.is_empty()).then(|| {
        Block::Table(Table {
            columns: vec![
                col("Fault", Align::Left),
                col("Capacity probe", Align::Left),
                col("Ready before", Align::Right),
                col("Lowest", Align::Right),
                col("Full capacity back after", Align::Figure),
            ],
            rows,
        })
    })
}

fn fault_row(f: &FaultAnalysis, stopped_early: bool) -> Vec<Cell> {
    let detect = match (f.injected_at_ms, f.detect_ms) {
        (None, _) => "–".to_string(),
        (Some(_), Some(d)) => fmt_dur(d),
        (Some(_), None) => "no failures".to_string(),
    };
    let errors = if f.errors.is_empty() {
        "–".to_string()
    } else {
        f.errors.join("; ")
    };
    vec![
        text(f.name.clone()),
        text(f.kind.clone()),
        text(
            f.injected_at_ms
                .map_or_else(|| "not injected".into(), fmt_offset),
        ),
        text(
            f.reverted_at_ms
                .map_or_else(|| "not reverted".into(), fmt_offset),
        ),
        text(detect),
        text(fmt_recovery(f, stopped_early)),
        text(errors),
    ]
}

/// What each fault asked for and what it achieved, for the faults that say.
fn fault_checks(r: &Report) -> Option<Block> {
    let groups: Vec<(String, Table)> = r
        .faults
        .iter()
        .filter(|f| !f.checks.is_empty())
        .map(|f| {
            let columns = vec![
                col("Metric", Align::Left),
                col("Measured by", Align::Left),
                col("Asked", Align::Right),
                col("Achieved", Align::Right),
            ];
            let rows = f
                .checks
                .iter()
                .map(|c| {
                    vec![
                        text(c.metric.clone()),
                        text(c.probe.as_deref().unwrap_or("–")),
                        text(c.asked.map_or("–".into(), fmt_num)),
                        text(fmt_num(c.achieved)),
                    ]
                })
                .collect();
            (f.name.clone(), Table { columns, rows })
        })
        .collect();
    (!groups.is_empty()).then_some(Block::Grouped(Grouped {
        subject: "Fault",
        intro: "What each fault asked for and what it achieved:",
        caption: "asked vs achieved",
        groups,
    }))
}

/// The write outage of each failover, in phases (absent when no fault noted any).
fn failover(r: &Report) -> Option<Section> {
    let rows: Vec<Vec<Cell>> = r
        .faults
        .iter()
        .flat_map(|f| f.write_outages.iter().map(|o| failover_row(&f.name, o)))
        .collect();
    if rows.is_empty() {
        return None;
    }
    let mut columns = vec![col("Fault", Align::Left), col("Probe", Align::Left)];
    for title in [
        "Last acked write",
        "First acked write",
        "Write outage",
        "Detection",
        "Promotion",
        "First write",
    ] {
        columns.push(col(title, Align::Right));
    }
    let intro = Inline::Text(
        "Detection: primary lost → promotion started; promotion: → a new primary accepts \
         writes; first write: → the probe's first acknowledged write through its own route. \
         The write outage runs from the last acknowledged write before the loss to the first \
         after it."
            .into(),
    );
    Some(section(
        "Failover",
        vec![
            Block::Paragraph(vec![intro]),
            Block::Table(Table { columns, rows }),
        ],
    ))
}

fn failover_row(fault: &str, o: &crate::analysis::failover::WriteOutage) -> Vec<Cell> {
    let phase = |name: &str| {
        o.phases
            .iter()
            .find(|p| p.name == name)
            .map_or("–".into(), |p| fmt_dur(p.duration_ms))
    };
    let offset = |ms: Option<f64>| ms.map_or("–".into(), fmt_offset);
    vec![
        text(fault),
        text(o.probe.as_deref().unwrap_or("–")),
        text(offset(o.last_acked_before_ms)),
        text(offset(o.first_acked_after_ms)),
        text(o.outage_ms.map_or("–".into(), fmt_dur)),
        text(phase("detection")),
        text(phase("promotion")),
        text(phase("first_write")),
    ]
}

fn phases(r: &Report) -> Option<Section> {
    if r.probes.iter().all(|p| p.phases.is_empty()) {
        return None;
    }
    let mut columns = vec![
        col("Probe", Align::Left),
        col("Phase", Align::Left),
        col("Window", Align::Figure),
    ];
    for title in ["Samples", "Failed", "Availability", "p50", "p99"] {
        columns.push(col(title, Align::Right));
    }
    let mut rows = Vec::new();
    for p in &r.probes {
        for ph in &p.phases {
            rows.push(vec![
                text(p.name.clone()),
                text(ph.name.clone()),
                text(format!(
                    "{} – {}",
                    fmt_offset(ph.start_ms),
                    fmt_offset(ph.end_ms)
                )),
                text(ph.total.to_string()),
                text(ph.failed.to_string()),
                text(fmt_share(ph.total.saturating_sub(ph.failed), ph.total)),
                text(fmt_opt_ms(ph.latency_ms.p50)),
                text(fmt_opt_ms(ph.latency_ms.p99)),
            ]);
        }
    }
    Some(section(
        "Phases",
        vec![Block::Table(Table { columns, rows })],
    ))
}

/// `Error budget: spent … — 340.0ms of downtime on probe checkout.`, without a heading.
fn error_budget(r: &Report) -> Option<Section> {
    let b = r.error_budget.as_ref()?;
    let mut line = vec![
        Inline::Strong("Error budget:".into()),
        Inline::Text(format!(" {}", budget_sentence(b))),
    ];
    if let Some(p) = &b.probe {
        line.push(Inline::Text(format!(
            " — {} of downtime on probe ",
            fmt_span(b.spent_ms)
        )));
        line.push(Inline::Text(p.clone()));
    }
    line.push(Inline::Text(".".into()));
    Some(Section::Text {
        heading: None,
        blocks: vec![Block::Paragraph(line)],
    })
}

fn harness_errors(r: &Report) -> Option<Section> {
    (!r.errors.is_empty()).then(|| section("Harness errors", vec![Block::List(r.errors.clone())]))
}
