//! `junit.xml`: the SLA checks as test cases, for CI test reporters (GitLab, Jenkins,
//! GitHub actions that read JUnit).
//!
//! Every SLA check is one test case; a `run completed` case fails when the run was
//! aborted (and passes otherwise, so the set of case names is stable from run to run);
//! each harness error is a test case with an `<error>`. A degraded measurement (the
//! harness ran late) is a `measurement` property and the suite's `<system-err>`.

use super::{check_subject, Report};
use crate::format::{escape_xml as x, fmt_num, fmt_offset};
use std::fmt::Write;

pub fn render(r: &Report) -> String {
    let class = x(&r.experiment);
    let mut cases = String::new();
    let (mut tests, mut failures, mut errors) = (0usize, 0usize, 0usize);

    for c in &r.sla {
        tests += 1;
        let subject = check_subject(c);
        let name = if subject.is_empty() {
            c.name.clone()
        } else {
            format!("{} [{subject}]", c.name)
        };
        let _ = write!(
            cases,
            "    <testcase classname=\"{class}\" name=\"{}\" time=\"0\"",
            x(&name)
        );
        if c.pass {
            cases.push_str("/>\n");
        } else {
            failures += 1;
            let message = format!("measured {}, threshold {}", c.measured, c.threshold);
            let _ = write!(
                cases,
                ">\n      <failure message=\"{}\" type=\"sla\">{}</failure>\n    </testcase>\n",
                x(&message),
                x(&format!("{name}: {message}")),
            );
        }
    }

    tests += 1;
    let _ = write!(
        cases,
        "    <testcase classname=\"{class}\" name=\"run completed\" time=\"0\""
    );
    match &r.aborted {
        None => cases.push_str("/>\n"),
        Some(a) => {
            failures += 1;
            let message = format!("aborted at {}: {}", fmt_offset(a.at_ms), a.reason);
            let _ = write!(
                cases,
                ">\n      <failure message=\"{}\" type=\"aborted\">{}</failure>\n    </testcase>\n",
                x(&message),
                x(&message),
            );
        }
    }

    for (i, e) in r.errors.iter().enumerate() {
        tests += 1;
        errors += 1;
        // Numbered rather than named after the message, which may be long or multi-line.
        let _ = write!(
            cases,
            "    <testcase classname=\"{class}\" name=\"harness error {}\" time=\"0\">\n      \
             <error message=\"{}\" type=\"harness\">{}</error>\n    </testcase>\n",
            i + 1,
            x(e),
            x(e),
        );
    }

    // The suite's time is the measured span: what the run actually took to observe.
    let time = format!("{:.3}", r.measured_ms / 1000.0);
    let suite = x(&format!("shakeout: {}", r.experiment));
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"shakeout\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{time}\">"
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{suite}\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" \
         skipped=\"0\" time=\"{time}\" timestamp=\"{}\">",
        x(&r.started_at)
    );
    out.push_str("    <properties>\n");
    let mut props = vec![
        ("run_id", r.run_id.clone()),
        ("verdict", super::verdict_word(r.verdict).to_lowercase()),
        ("exit_code", r.exit_code.to_string()),
        ("tool_version", r.tool_version.clone()),
    ];
    if let Some(s) = &r.source {
        props.push(("source", s.clone()));
    }
    if r.measurement.degraded {
        props.push(("measurement", "degraded".into()));
    }
    for (k, v) in props {
        let _ = writeln!(out, "      <property name=\"{k}\" value=\"{}\"/>", x(&v));
    }
    for (k, v) in fault_properties(r) {
        let _ = writeln!(
            out,
            "      <property name=\"{}\" value=\"{}\"/>",
            x(&k),
            x(&v)
        );
    }
    out.push_str("    </properties>\n");
    out.push_str(&cases);
    if let Some(note) = r
        .measurement
        .note
        .as_ref()
        .filter(|_| r.measurement.degraded)
    {
        // CI reporters show a suite's system-err; properties are rarely displayed.
        let _ = writeln!(
            out,
            "    <system-err>{}</system-err>",
            x(&format!("measurement degraded: {note}"))
        );
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// Asked vs achieved and failover phases, as `fault.<name>.<figure>` properties (none
/// for faults that measured nothing).
fn fault_properties(r: &Report) -> Vec<(String, String)> {
    let mut props = Vec::new();
    for f in &r.faults {
        for c in &f.checks {
            let by = c
                .probe
                .as_deref()
                .map_or(String::new(), |p| format!(" ({p})"));
            let asked = c.asked.map_or("nothing".into(), fmt_num);
            props.push((
                format!("fault.{}.{}{by}", f.name, c.metric),
                format!("asked {asked}, achieved {}", fmt_num(c.achieved)),
            ));
        }
        for left in &f.left_behind {
            props.push((format!("fault.{}.left_behind", f.name), left.clone()));
        }
        for o in &f.write_outages {
            let probe = o.probe.as_deref().unwrap_or("-");
            if let Some(ms) = o.outage_ms {
                props.push((
                    format!("fault.{}.write_outage_ms ({probe})", f.name),
                    fmt_num(ms),
                ));
            }
            for p in &o.phases {
                props.push((
                    format!("fault.{}.{}_ms ({probe})", f.name, p.name),
                    fmt_num(p.duration_ms),
                ));
            }
        }
    }
    props
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::escape_xml;
    use crate::report::test_support::{fixture, fixture_named};

    fn attr<'a>(n: roxmltree::Node<'a, '_>, name: &str) -> &'a str {
        n.attribute(name)
            .unwrap_or_else(|| panic!("no {name} on {n:?}"))
    }

    #[test]
    fn escape_covers_markup_characters() {
        assert_eq!(
            escape_xml(r#"<a>&"b"'c'"#),
            "&lt;a&gt;&amp;&quot;b&quot;&apos;c&apos;"
        );
        assert_eq!(escape_xml("tab\tok\u{1}bell"), "tab\tok\u{FFFD}bell");
    }

    #[test]
    fn well_formed_and_counts_failures() {
        let xml = render(&fixture().report);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .expect("suite");
        assert_eq!(attr(suite, "name"), "shakeout: failover");
        // 2 probes × (availability, p99, max_outage) + 2 recovery checks + run completed.
        assert_eq!(attr(suite, "tests"), "9");
        assert_eq!(attr(suite, "failures"), "1");
        assert_eq!(attr(suite, "errors"), "0");
        assert_eq!(attr(suite, "time"), "4.000");
        let cases: Vec<_> = suite
            .children()
            .filter(|n| n.has_tag_name("testcase"))
            .collect();
        assert_eq!(cases.len(), 9);
        let failed: Vec<_> = cases
            .iter()
            .filter(|c| c.children().any(|n| n.has_tag_name("failure")))
            .map(|c| attr(*c, "name"))
            .collect();
        assert_eq!(failed, ["latency_p99 [db]"]);
        let failure = doc
            .descendants()
            .find(|n| n.has_tag_name("failure"))
            .expect("failure");
        assert_eq!(
            attr(failure, "message"),
            "measured 300.0ms, threshold <= 250ms"
        );
        assert!(cases.iter().all(|c| attr(*c, "classname") == "failover"));
    }

    #[test]
    fn aborted_run_and_harness_errors_count() {
        let mut r = fixture().report;
        r.aborted = Some(crate::analysis::Abort {
            at_ms: 3200.0,
            reason: "Ctrl-C <SIGINT>".into(),
        });
        r.errors = vec![
            "revert failed: \"iptables\" exited 1".into(),
            "second".into(),
        ];
        let xml = render(&r);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let suite = doc
            .descendants()
            .find(|n| n.has_tag_name("testsuite"))
            .expect("suite");
        assert_eq!(attr(suite, "tests"), "11");
        assert_eq!(attr(suite, "failures"), "2");
        assert_eq!(attr(suite, "errors"), "2");
        let run = suite
            .children()
            .find(|n| n.attribute("name") == Some("run completed"))
            .expect("run completed case");
        let f = run
            .children()
            .find(|n| n.has_tag_name("failure"))
            .expect("failure");
        assert_eq!(attr(f, "message"), "aborted at 3.200s: Ctrl-C <SIGINT>");
        let e = doc
            .descendants()
            .find(|n| n.has_tag_name("error"))
            .expect("error");
        assert_eq!(attr(e, "message"), "revert failed: \"iptables\" exited 1");
    }

    #[test]
    fn hostile_probe_name_is_escaped() {
        let xml = render(&fixture_named("a<b&\"c\"", "db").report);
        assert!(
            xml.contains("name=\"availability [a&lt;b&amp;&quot;c&quot;]\""),
            "{xml}"
        );
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        assert!(doc
            .descendants()
            .any(|n| n.attribute("name") == Some("latency_p99 [a<b&\"c\"]")));
    }
}
