use std::time::Duration;

use serde::de::Error as _;
use serde::Deserialize;

use super::*;

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Experiment {
    name: String,
    #[serde(default)]
    duration: Option<String>,
    #[serde(default)]
    zone: Option<String>,
    #[serde(default, deserialize_with = "each")]
    probes: Vec<Probe>,
    #[serde(default, deserialize_with = "each")]
    faults: Vec<Fault>,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Probe {
    name: String,
    #[serde(default)]
    kind: Option<Kind>,
    #[serde(default)]
    http: Option<Http>,
    #[serde(default)]
    retries: u32,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Http {
    url: String,
    #[serde(default = "default_timeout", deserialize_with = "duration")]
    timeout: Duration,
}

fn default_timeout() -> Duration {
    Duration::from_secs(1)
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Http,
    Tcp,
    WriteRead,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct Fault {
    #[serde(deserialize_with = "duration")]
    at: Duration,
    action: Action,
}

#[derive(Debug, PartialEq, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum Action {
    Kill,
    Latency { ms: u64 },
    Partition(String),
}

/// "250ms" / "10s" from a string; anything else is the caller's error message.
fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    let s = String::deserialize(d)?;
    let parsed = if let Some(n) = s.strip_suffix("ms") {
        n.parse().ok().map(Duration::from_millis)
    } else if let Some(n) = s.strip_suffix('s') {
        n.parse().ok().map(Duration::from_secs)
    } else {
        None
    };
    parsed
        .ok_or_else(|| D::Error::custom(format!("expected a duration like \"250ms\", found {s:?}")))
}

/// Same shape as `Experiment` but with a plain `Vec`, to show what `each` buys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct PlainVec {
    name: String,
    #[serde(default)]
    probes: Vec<Probe>,
}

fn errors<T: DeserializeOwned + fmt::Debug>(src: &str) -> Vec<SpecError> {
    match from_str::<T>("exp.yaml", src) {
        Ok((v, _)) => panic!("expected errors, parsed {v:?}"),
        Err(e) => e,
    }
}

/// (line, col, path, message) of each error, for compact assertions.
fn brief(errors: &[SpecError]) -> Vec<(usize, usize, &str, &str)> {
    errors
        .iter()
        .map(|e| {
            let p = e.pos.unwrap_or(Pos { line: 0, col: 0 });
            (p.line, p.col, e.path.as_str(), e.message.as_str())
        })
        .collect()
}

const VALID: &str = "\
name: demo
duration: 60s
zone: 1
probes:
  - name: api
    kind: http
    http:
      url: http://localhost:8080/health
      timeout: 250ms
    retries: \"3\"
  - name: db
    kind: write_read
faults:
  - at: 10s
    action: kill
  - at: 90s
    action:
      latency:
        ms: 200
  - at: 5s
    action: {partition: zone-a}
";

#[test]
fn valid_document_round_trips() {
    let (exp, _) = from_str::<Experiment>("exp.yaml", VALID).expect("valid spec");
    assert_eq!(
        exp,
        Experiment {
            name: "demo".into(),
            duration: Some("60s".into()),
            // A plain `1` fills a String field with its text.
            zone: Some("1".into()),
            probes: vec![
                Probe {
                    name: "api".into(),
                    kind: Some(Kind::Http),
                    http: Some(Http {
                        url: "http://localhost:8080/health".into(),
                        timeout: Duration::from_millis(250),
                    }),
                    // A quoted number is still a number when one is asked for.
                    retries: 3,
                },
                Probe {
                    name: "db".into(),
                    kind: Some(Kind::WriteRead),
                    http: None,
                    retries: 0,
                },
            ],
            faults: vec![
                Fault {
                    at: Duration::from_secs(10),
                    action: Action::Kill,
                },
                Fault {
                    at: Duration::from_secs(90),
                    action: Action::Latency { ms: 200 },
                },
                Fault {
                    at: Duration::from_secs(5),
                    action: Action::Partition("zone-a".into()),
                },
            ],
        }
    );
}

#[test]
fn reports_errors_from_three_places_at_once() {
    let src = "\
name: demo
duratoin: 60s
probes:
  - name: api
    http:
      url: http://x
      timout: 250ms
  - name: db
  - name: web
    kind: htp
";
    let errs = errors::<Experiment>(src);
    assert_eq!(
        brief(&errs),
        vec![
            (
                2,
                1,
                "duratoin",
                "unknown field `duratoin`, did you mean `duration`?"
            ),
            (
                7,
                7,
                "probes[0].http.timout",
                "unknown field `timout`, did you mean `timeout`?"
            ),
            (
                10,
                11,
                "probes[2].kind",
                "unknown variant `htp`, did you mean `http`?"
            ),
        ]
    );
}

#[test]
fn each_keeps_checking_after_a_failed_element() {
    let src = "\
probes:
  - name: a
    http:
      url: u
      timeout: soon
  - http:
      url: v
  - name: c
    retries: many
";
    let errs = errors::<Experiment>(src);
    assert_eq!(
        brief(&errs),
        vec![
            // The document lacks `name`: reported at the root mapping.
            (1, 1, "", "missing field `name`"),
            (
                5,
                16,
                "probes[0].http.timeout",
                "expected a duration like \"250ms\", found \"soon\""
            ),
            (6, 5, "probes[1]", "missing field `name`"),
            (
                9,
                14,
                "probes[2].retries",
                "expected an integer, found string \"many\""
            ),
        ]
    );

    // Without `each` the first bad element ends the whole document.
    let errs = errors::<PlainVec>(src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].path, "probes[0].http.timeout");
}

#[test]
fn missing_field_points_at_the_mapping_that_lacks_it() {
    let src = "\
name: x
probes:
  - name: a
    http:
      timeout: 1s
";
    let errs = errors::<Experiment>(src);
    assert_eq!(
        brief(&errs),
        vec![(5, 7, "probes[0].http", "missing field `url`")]
    );
}

#[test]
fn syntax_error_is_one_positioned_error() {
    let errs = errors::<Experiment>("name: x\nzone: a: b\n");
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].pos.map(|p| p.line), Some(2));
    assert!(
        errs[0].message.starts_with("invalid YAML: "),
        "{}",
        errs[0].message
    );
    assert_eq!(errs[0].path, "");
}

#[test]
fn second_document_is_an_error() {
    let errs = errors::<Experiment>("name: a\n---\nname: b\n");
    assert_eq!(errs.len(), 1);
    assert_eq!(errs[0].pos, Some(Pos { line: 2, col: 1 }));
}

#[test]
fn each_with_other_deserializers_is_plain_vec() {
    let bad = r#"{"name":"x","probes":[{"name":"a","retries":"many"},{"name":"b"}]}"#;
    let err = serde_json::from_str::<Experiment>(bad).expect_err("bad element must fail");
    assert!(err.to_string().contains("many"), "{err}");

    let good = r#"{"name":"x","probes":[{"name":"a"},{"name":"b","retries":2}]}"#;
    let exp: Experiment = serde_json::from_str(good).expect("valid json");
    assert_eq!(exp.probes.len(), 2);
    assert_eq!(exp.probes[1].retries, 2);

    // serde_yaml too, and even while one of our own parses is running on
    // this thread (the swallowing must key on our error, not on a flag).
    let _active = de::Active::enter();
    let err = serde_yaml::from_str::<Experiment>("name: x\nprobes:\n  - retries: 1\n  - name: b\n")
        .expect_err("bad element must fail");
    assert!(err.to_string().contains("name"), "{err}");
}

#[test]
fn source_map_positions() {
    let (_, map) = from_str::<Experiment>("exp.yaml", VALID).expect("valid spec");
    // `  - at: 90s` is line 16: the key at column 5, the value at column 9.
    assert_eq!(map.pos("faults[1].at"), Some(Pos { line: 16, col: 9 }));
    assert_eq!(map.key_pos("faults[1].at"), Some(Pos { line: 16, col: 5 }));
    assert_eq!(
        map.pos("probes[0].http.timeout"),
        Some(Pos { line: 9, col: 16 })
    );
    // Not written: fall back to the nearest written ancestor.
    assert_eq!(map.pos("probes[1].http.timeout"), map.pos("probes[1]"));
    assert_eq!(map.pos("probes[1]"), Some(Pos { line: 11, col: 5 }));
    assert_eq!(map.key_pos("probes[1].http"), None);
    assert_eq!(map.pos(""), Some(Pos { line: 1, col: 1 }));
    assert_eq!(
        map.error("faults[1].at", "90s is after the run's duration 60s")
            .to_string(),
        "exp.yaml:16:9: faults[1].at: 90s is after the run's duration 60s"
    );
}

#[test]
fn did_you_mean_picks_close_names_only() {
    let fields = ["timeout", "interval", "url", "retries"];
    assert_eq!(did_you_mean("timout", &fields), Some("timeout"));
    assert_eq!(did_you_mean("intervall", &fields), Some("interval"));
    assert_eq!(did_you_mean("timeuot", &fields), Some("timeout"));
    assert_eq!(did_you_mean("TimeOut", &fields), Some("timeout"));
    assert_eq!(did_you_mean("zzz", &fields), None);
    assert_eq!(did_you_mean("latency", &fields), None);
    assert_eq!(did_you_mean("x", &[]), None);
}

#[test]
fn display_format() {
    let src = "\
probes:
- http:
    timout: 250ms
    url: u
  name: a
name: x
";
    let shown: Vec<String> = errors::<Experiment>(src)
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        shown,
        ["exp.yaml:3:5: probes[0].http.timout: unknown field `timout`, did you mean `timeout`?"]
    );

    // The line from the brief, built by hand.
    let e = SpecError {
        file: "exp.yaml".into(),
        pos: Some(Pos { line: 3, col: 5 }),
        path: "probes[0].http.timout".into(),
        message: "unknown field `timout`, did you mean `timeout`?".into(),
    };
    assert_eq!(
        e.to_string(),
        "exp.yaml:3:5: probes[0].http.timout: unknown field `timout`, did you mean `timeout`?"
    );
    let bare = SpecError {
        file: "exp.yaml".into(),
        pos: None,
        path: String::new(),
        message: "empty".into(),
    };
    assert_eq!(bare.to_string(), "exp.yaml: empty");
}

#[test]
fn duplicate_keys_are_reported() {
    let errs = errors::<Experiment>("name: a\nzone: z\nname: b\n");
    assert_eq!(
        brief(&errs),
        vec![(
            3,
            1,
            "name",
            "duplicate key `name` (first written at line 1, column 1)"
        )]
    );
}

#[test]
fn aliases_are_expanded() {
    let src = "\
name: &n demo
probes:
  - &p
    name: api
    retries: 2
  - *p
  - name: *n
";
    let (exp, _) = from_str::<Experiment>("exp.yaml", src).expect("valid spec");
    assert_eq!(exp.probes.len(), 3);
    assert_eq!(exp.probes[0], exp.probes[1]);
    assert_eq!(exp.probes[1].retries, 2);
    assert_eq!(exp.probes[2].name, "demo");
}

#[test]
fn enum_errors() {
    let src = "\
name: x
faults:
  - at: 1s
    action:
      latncy: {ms: 5}
  - at: 2s
    action: {kill: {now: true}}
  - at: 3s
    action: partition
";
    let errs = errors::<Experiment>(src);
    assert_eq!(
        brief(&errs),
        vec![
            (
                5,
                7,
                "faults[0].action.latncy",
                "unknown variant `latncy`, did you mean `latency`?"
            ),
            (
                7,
                20,
                "faults[1].action.kill",
                "`kill` takes no settings, found a mapping"
            ),
            (
                9,
                13,
                "faults[2].action",
                "`partition` needs settings: write it as a mapping `partition: ...`"
            ),
        ]
    );
}

#[test]
fn type_mismatches_read_naturally() {
    let errs = errors::<Experiment>("name: [a]\nprobes: {name: x}\n");
    assert_eq!(
        brief(&errs),
        // Only the first bad value of a struct is reported: serde-derive
        // stops there, so `probes` is not looked at.
        vec![(1, 7, "name", "expected a string, found a sequence")]
    );

    let errs = errors::<Experiment>("name: x\nprobes:\n  - name: a\n    kind: [http]\n");
    assert_eq!(
        brief(&errs),
        vec![(
            4,
            11,
            "probes[0].kind",
            "expected one of: http, tcp, write_read, found a sequence"
        )]
    );
}

#[test]
fn empty_document_is_a_null_root() {
    let errs = errors::<Experiment>("");
    assert_eq!(brief(&errs), vec![(1, 1, "", "missing field `name`")]);

    #[derive(Debug, Deserialize)]
    struct AllOptional {
        #[serde(default)]
        #[allow(dead_code)]
        a: Option<u8>,
    }
    assert!(from_str::<AllOptional>("f", "# only a comment\n").is_ok());
}

#[test]
fn untyped_values_follow_the_yaml_core_schema() {
    let (v, _) = from_str::<serde_json::Value>(
        "f",
        "a: 1\nb: -2.5\nc: true\nd: ~\ne: '7'\nf: hello\ng: [0x10, .inf]\n",
    )
    .expect("valid");
    assert_eq!(v["a"], serde_json::json!(1));
    assert_eq!(v["b"], serde_json::json!(-2.5));
    assert_eq!(v["c"], serde_json::json!(true));
    assert_eq!(v["d"], serde_json::Value::Null);
    assert_eq!(v["e"], serde_json::json!("7"));
    assert_eq!(v["f"], serde_json::json!("hello"));
    assert_eq!(v["g"][0], serde_json::json!(16));
    // serde_json has no infinity: it becomes null, but it was read as a float.
    assert!(v["g"][1].is_null());
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
#[allow(dead_code)]
enum Check {
    Http {
        url: String,
        #[serde(default)]
        expect: Option<u16>,
    },
    Tcp {
        addr: String,
    },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct Checks {
    #[serde(deserialize_with = "each")]
    checks: Vec<Check>,
}

#[test]
fn internally_tagged_enums_are_located_too() {
    // serde buffers these through its own deserializer, so the unknown field
    // is raised without a position and found again by name.
    let src = "\
checks:
  - type: http
    url: u
    expct: 200
  - type: tcpp
    addr: a
  - type: tcp
";
    let errs = errors::<Checks>(src);
    assert_eq!(
        brief(&errs),
        vec![
            (
                4,
                5,
                "checks[0].expct",
                "unknown field `expct`, did you mean `expect`?"
            ),
            (
                5,
                11,
                "checks[1].type",
                "unknown variant `tcpp`, did you mean `tcp`?"
            ),
            (7, 5, "checks[2]", "missing field `addr`"),
        ]
    );
}

#[test]
fn keys_must_be_names() {
    let errs = errors::<Experiment>("name: x\n[a]: 1\n");
    assert_eq!(
        brief(&errs),
        vec![(2, 1, "", "expected a field name, found a sequence")]
    );
}

#[test]
fn nesting_deeper_than_the_limit_is_one_positioned_error() {
    let src = format!("name: x\nprobes:\n{}x\n", "- ".repeat(20_000));
    let errs = errors::<Experiment>(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert_eq!(errs[0].pos.map(|p| p.line), Some(3));
    assert!(errs[0].message.contains("nested too deeply"), "{errs:?}");
    // Exactly at the limit is fine as YAML (the type then rejects it).
    let src = format!("{}x\n", "- ".repeat(tree::MAX_DEPTH));
    let errs = errors::<Experiment>(&src);
    assert!(!errs[0].message.contains("nested too deeply"), "{errs:?}");
}

#[test]
fn aliases_are_bounded_by_expanded_bytes_not_nodes() {
    // 10 KB aliased 10 times over 5 levels: 1 GB expanded from a 10 KB file.
    let mut src = format!("a0: &a0 '{}'\n", "x".repeat(10_000));
    for i in 1..=5 {
        let refs = vec![format!("*a{}", i - 1); 10].join(", ");
        src.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
    }
    let errs = errors::<Experiment>(&src);
    assert_eq!(errs.len(), 1, "{errs:?}");
    assert!(errs[0].message.contains("document too large"), "{errs:?}");
    assert!(errs[0].pos.is_some_and(|p| p.line > 1));
}

#[test]
fn numbers_out_of_range_are_said_in_words() {
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Counts {
        small: Option<u32>,
        big: Option<u32>,
    }
    let errs = errors::<Counts>("small: -1\n");
    assert_eq!(
        errs[0].message,
        "expected a whole number from 0 to 4294967295, found `-1`"
    );
    let errs = errors::<Counts>("big: 99999999999999999999999\n");
    assert_eq!(
        errs[0].message,
        "expected a whole number from 0 to 4294967295, found `99999999999999999999999`"
    );
}

#[test]
fn a_null_reads_as_nothing_not_as_a_unit_value() {
    let e = de::Error::invalid_type(serde::de::Unexpected::Unit, &"a string");
    assert_eq!(e.to_string(), "expected a string, found nothing (null)");
}

#[test]
fn control_characters_in_messages_are_escaped() {
    // An unknown key is echoed as written.
    let errs = errors::<Experiment>("name: x\n\"\\e[2K\\nfile.yaml: ok\\a\": 1\n");
    let shown = errs[0].to_string();
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\n') && !shown.contains('\u{7}'),
        "{shown}"
    );
    assert!(
        shown.contains("\\u{1b}[2K\\nfile.yaml: ok\\u{7}"),
        "{shown}"
    );
}
