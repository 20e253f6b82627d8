//! `junit.xml`: the SLA checks as test cases, for CI test reporters (GitLab, Jenkins,
//! GitHub actions that read JUnit).
//!
//! Every SLA check is one test case; a `run completed` case fails when the run was
//! aborted (and passes otherwise, so the set of case names is stable from run to run);
//! each harness error is a test case with an `<error>`. A degraded measurement (the
//! harness ran late) is a `measurement` property and the suite's `<system-err>`.
//!
//! Every check case, passing or failing, carries what was measured twice: as
//! `<properties>` (`measured`, `threshold`, `value`, `limit`, `unit`: for tools) and as
//! one `<system-out>` line `measured 99.150%, threshold >= 99%` (for people: GitLab's
//! test report and the common GitHub JUnit actions show a case's system-out, few show
//! properties).
//!
//! A case's `time` is the span its figure was measured over: the measured span of the
//! run for probe-wide and run-wide checks (and `run completed`), and from the fault's
//! injection to the end of the measured span for a check of one fault (0 when the
//! fault was never injected). Harness errors measured nothing: `time="0"`.

use super::{check_subject, Report};
use crate::format::{escape_xml as x, fmt_offset};
use crate::verdict::Check;
use std::fmt::Write;

/// Tests, failures and errors counted while writing the cases.
#[derive(Default)]
struct Counts {
    tests: usize,
    failures: usize,
    errors: usize,
}

pub fn render(r: &Report) -> String {
    let class = x(&r.experiment);
    let mut cases = String::new();
    let mut n = Counts::default();
    for c in &r.sla {
        check_case(&mut cases, &mut n, &class, r, c);
    }
    run_completed_case(&mut cases, &mut n, &class, r);
    for (i, e) in r.errors.iter().enumerate() {
        n.tests += 1;
        n.errors += 1;
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
    wrap_suite(r, &cases, &n)
}

/// Seconds with millisecond precision, as JUnit's `time` attributes want them.
fn seconds(ms: f64) -> String {
    format!("{:.3}", ms.max(0.0) / 1000.0)
}

/// The span a check's figure was measured over (see the module docs).
fn check_time_ms(r: &Report, c: &Check) -> f64 {
    let Some(fault) = &c.fault else {
        return r.measured_ms;
    };
    r.faults
        .iter()
        .find(|f| &f.name == fault)
        .and_then(|f| f.injected_at_ms)
        .map_or(0.0, |at| r.measured_ms - at)
}

fn check_case(cases: &mut String, n: &mut Counts, class: &str, r: &Report, c: &Check) {
    n.tests += 1;
    let subject = check_subject(c);
    let name = if subject.is_empty() {
        c.name.clone()
    } else {
        format!("{} [{subject}]", c.name)
    };
    let message = format!("measured {}, threshold {}", c.measured, c.threshold);
    let _ = writeln!(
        cases,
        "    <testcase classname=\"{class}\" name=\"{}\" time=\"{}\">",
        x(&name),
        seconds(check_time_ms(r, c))
    );
    check_properties(cases, c);
    if !c.pass {
        n.failures += 1;
        let _ = writeln!(
            cases,
            "      <failure message=\"{}\" type=\"sla\">{}</failure>",
            x(&message),
            x(&format!("{name}: {message}")),
        );
    }
    let _ = write!(
        cases,
        "      <system-out>{}</system-out>\n    </testcase>\n",
        x(&message)
    );
}

/// The measured figure and its limit, as words and as numbers.
fn check_properties(cases: &mut String, c: &Check) {
    let value = c.value.map(|v| v.to_string()).unwrap_or_default();
    let props = [
        ("measured", c.measured.clone()),
        ("threshold", c.threshold.clone()),
        ("value", value),
        ("limit", c.limit.to_string()),
        ("unit", c.unit.clone()),
    ];
    cases.push_str("      <properties>\n");
    for (k, v) in props {
        let _ = writeln!(
            cases,
            "        <property name=\"{k}\" value=\"{}\"/>",
            x(&v)
        );
    }
    cases.push_str("      </properties>\n");
}

fn run_completed_case(cases: &mut String, n: &mut Counts, class: &str, r: &Report) {
    n.tests += 1;
    let _ = write!(
        cases,
        "    <testcase classname=\"{class}\" name=\"run completed\" time=\"{}\"",
        seconds(r.measured_ms)
    );
    match &r.aborted {
        None => cases.push_str("/>\n"),
        Some(a) => {
            n.failures += 1;
            let message = format!("aborted at {}: {}", fmt_offset(a.at_ms), a.reason);
            let _ = write!(
                cases,
                ">\n      <failure message=\"{}\" type=\"aborted\">{}</failure>\n    </testcase>\n",
                x(&message),
                x(&message),
            );
        }
    }
}

fn wrap_suite(r: &Report, cases: &str, n: &Counts) -> String {
    let Counts {
        tests,
        failures,
        errors,
    } = n;
    // The suite's time is the measured span: what the run actually took to observe.
    let time = seconds(r.measured_ms);
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
    suite_properties(&mut out, r);
    out.push_str(cases);
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

fn suite_properties(out: &mut String, r: &Report) {
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
    out.push_str("    </properties>\n");
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
    fn passing_cases_carry_the_measured_value_and_the_span_they_measured() {
        let r = fixture().report;
        let xml = render(&r);
        let doc = roxmltree::Document::parse(&xml).expect("well-formed XML");
        let case = |name: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name("testcase") && n.attribute("name") == Some(name))
                .unwrap_or_else(|| panic!("no case {name}"))
        };
        let prop = |case: roxmltree::Node, name: &str| {
            case.descendants()
                .find(|n| n.has_tag_name("property") && n.attribute("name") == Some(name))
                .and_then(|n| n.attribute("value"))
                .map(str::to_string)
        };
        let check = r
            .sla
            .iter()
            .find(|c| c.name == "availability" && c.probe.as_deref() == Some("api"))
            .expect("availability check of api");
        assert!(check.pass);
        let avail = case("availability [api]");
        assert!(!avail.children().any(|n| n.has_tag_name("failure")));
        assert_eq!(
            prop(avail, "measured").as_deref(),
            Some(check.measured.as_str())
        );
        assert_eq!(
            prop(avail, "threshold").as_deref(),
            Some(check.threshold.as_str())
        );
        assert_eq!(prop(avail, "unit").as_deref(), Some("percent"));
        let out = avail
            .children()
            .find(|n| n.has_tag_name("system-out"))
            .and_then(|n| n.text())
            .expect("system-out");
        assert_eq!(
            out,
            format!("measured {}, threshold {}", check.measured, check.threshold)
        );
        // Probe-wide checks span the measured run; a fault's check starts at its injection.
        assert_eq!(attr(avail, "time"), "4.000");
        let injected = r.faults[0].injected_at_ms.expect("injected");
        let want = format!("{:.3}", (r.measured_ms - injected) / 1000.0);
        assert_eq!(attr(case("recovery_time [kill-primary]"), "time"), want);
        assert_ne!(want, "4.000");
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
