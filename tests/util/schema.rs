//! Validate a JSON value against a schema in `schemas/` (JSON Schema draft 2020-12),
//! with Python's `jsonschema` (scripts/install-test-deps installs it): the reference
//! implementation, already on every machine that runs the Toxiproxy client tests, and
//! lighter than a Rust validator's dependency tree.
//!
//! Without python3 or jsonschema the check is skipped, except under CI=true, where it
//! fails the test.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Checks the schema itself first (a broken schema would accept anything), then the
/// instance; prints one `path: message` line per error. Exit 3: jsonschema missing.
const SCRIPT: &str = r#"
import json, sys
try:
    from jsonschema import Draft202012Validator, FormatChecker
except ImportError:
    sys.exit(3)
schema = json.load(open(sys.argv[1]))
Draft202012Validator.check_schema(schema)
if schema.get("$schema") != "https://json-schema.org/draft/2020-12/schema":
    print("schema does not declare draft 2020-12"); sys.exit(1)
instance = json.load(sys.stdin)
errors = sorted(Draft202012Validator(schema, format_checker=FormatChecker()).iter_errors(instance), key=str)
for e in errors:
    print("/".join(str(p) for p in e.absolute_path) + ": " + e.message)
sys.exit(1 if errors else 0)
"#;

pub fn schema_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("schemas")
        .join(name)
}

/// What validation found: `Ok(true)` valid, `Ok(false)` validator missing (outside CI),
/// `Err(lines)` the errors.
pub fn validate(value: &serde_json::Value, schema: &str) -> Result<bool, String> {
    let path = schema_path(schema);
    assert!(path.exists(), "no schema {}", path.display());
    let child = Command::new("python3")
        .args(["-c", SCRIPT])
        .arg(&path)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let Ok(mut child) = child else {
        return missing("python3");
    };
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(value.to_string().as_bytes());
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("schema validation of {schema} took over 60s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("validator output");
    match out.status.code() {
        Some(0) => Ok(true),
        Some(3) => missing("python3 jsonschema"),
        _ => Err(format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

fn missing(what: &str) -> Result<bool, String> {
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "{what} is not installed; run scripts/install-test-deps"
    );
    eprintln!("skipping schema validation: {what} is not installed");
    Ok(false)
}

/// Fails the test when `value` does not match `schema` (a file name in `schemas/`).
pub fn assert_valid(value: &serde_json::Value, schema: &str) {
    if let Err(errors) = validate(value, schema) {
        panic!("not valid against schemas/{schema}:\n{errors}\n{value:#}");
    }
}
