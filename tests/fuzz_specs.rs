//! Fixed-seed fuzzing of `validate` and `plan` over the files in experiments/.
//!
//! Each mutant is one of the example experiments with a few hostile edits: lines
//! deleted, duplicated, swapped or re-indented; values replaced by huge, negative,
//! unicode, control-character, deeply nested or wrongly typed ones; unknown keys;
//! truncation. Every mutant goes through the same parse-and-compile as `validate`
//! (and `plan`'s description when it compiles), in-process; a sample also goes
//! through the real binary. What must hold:
//! - nothing panics or aborts (exit 101/134);
//! - a rejection is exit 2, and every error names the file and either a
//!   `LINE:COL` or a field path.
//!
//! The generator is a xorshift with a fixed seed, so a failure replays exactly;
//! `SHAKEOUT_FUZZ_SEED` and `SHAKEOUT_FUZZ_MUTANTS` widen a local run.

mod util;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::time::{Duration, Instant};
use util::*;

const DEFAULT_SEED: u64 = 0x5eed_c4a0_5bad_f00d;
const DEFAULT_MUTANTS: usize = 2000;
/// One mutant in this many also runs through the real binary (validate and plan).
const BINARY_EVERY: usize = 10;

/// xorshift64*: small, fast and the same on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

/// Values that broke, or could break, a parser or a compile step.
const HOSTILE_VALUES: &[&str] = &[
    "18446744073709551615s",
    "10000000000000000000s",
    "5124095576031h",
    "99999999999999999999999",
    "-1",
    "-5s",
    "-0.5%",
    "1e308",
    "1e-320ms",
    ".nan",
    "-.inf",
    "0",
    "0s",
    "30",
    "4294967296",
    "100.0000000001%",
    "\"\"",
    "\"   \"",
    "\"\\t\"",
    "~",
    "[]",
    "{}",
    "[1, [2, [3]]]",
    "{a: {b: {c: d}}}",
    "true",
    "\"ünïcødé ✓ 日本\"",
    "\"\\u202e\\u200b\"",
    "\"\\e[2K\\a\\r\\nzone-loss.yaml: ok\"",
    "\"\\0\"",
    "0.0.0.0:18080",
    "localhost:99999",
    "localhost:18080",
    "http://[::1",
    "&anchor x",
    "*undefined",
    "!!binary aGVsbG8=",
    "!custom 1",
    "'single ''quoted'''",
    "|\n  block\n  text",
    "1s # comment",
];

fn mutate(text: &str, rng: &mut Rng) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for _ in 0..=rng.below(2) {
        if lines.is_empty() {
            lines.push(String::new());
        }
        let i = rng.below(lines.len());
        match rng.below(10) {
            0 => {
                lines.remove(i);
            }
            1 => lines.insert(i, lines[i].clone()),
            2 => {
                let j = rng.below(lines.len());
                lines.swap(i, j);
            }
            3 | 4 => lines[i] = replace_value(&lines[i], rng.pick(HOSTILE_VALUES)),
            5 => lines[i] = replace_value(&lines[i], &long_value(rng)),
            6 => lines[i] = replace_value(&lines[i], &nested(rng.below(400))),
            7 => {
                let indent = leading_spaces(&lines[i]);
                lines.insert(
                    i,
                    format!("{}bogus_{}: 1", " ".repeat(indent), rng.below(9)),
                );
            }
            8 => lines[i] = reindent(&lines[i], rng),
            _ => lines[i] = with_control_char(&lines[i], rng),
        }
    }
    let mut out = lines.join("\n");
    if rng.below(20) == 0 {
        truncate_at_char(&mut out, rng.below(text.len()));
    }
    out
}

fn replace_value(line: &str, value: &str) -> String {
    match line.find(": ") {
        Some(i) => format!("{}: {value}", &line[..i]),
        None => match line.find("- ") {
            Some(i) => format!("{}- {value}", &line[..i]),
            None => format!("{line} {value}"),
        },
    }
}

fn long_value(rng: &mut Rng) -> String {
    "x".repeat(1 + rng.below(5000))
}

fn nested(depth: usize) -> String {
    format!("{}1{}", "[".repeat(depth), "]".repeat(depth))
}

fn leading_spaces(line: &str) -> usize {
    line.len() - line.trim_start_matches(' ').len()
}

fn reindent(line: &str, rng: &mut Rng) -> String {
    match rng.below(3) {
        0 => format!("  {line}"),
        1 => line.trim_start().to_string(),
        _ => format!("\t{}", line.trim_start()),
    }
}

fn with_control_char(line: &str, rng: &mut Rng) -> String {
    let c = ["\u{1b}", "\u{7}", "\r", "\u{0}", "\u{feff}", "\u{202e}"][rng.below(6)];
    let mut at = rng.below(line.len() + 1);
    while !line.is_char_boundary(at) {
        at -= 1;
    }
    format!("{}{c}{}", &line[..at], &line[at..])
}

fn truncate_at_char(s: &mut String, mut at: usize) {
    while !s.is_char_boundary(at) {
        at -= 1;
    }
    s.truncate(at);
}

fn examples() -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = std::fs::read_dir("experiments")
        .expect("experiments/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
        .map(|p| {
            let text = std::fs::read_to_string(&p).expect("read example");
            (p.display().to_string(), text)
        })
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    files
}

fn env_or<T: std::str::FromStr>(key: &str, default: T) -> T {
    std::env::var(key)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether the mutant was rejected, and what went wrong with it (None: nothing).
fn check_in_process(name: &str, text: &str) -> (bool, Option<String>) {
    let result = catch_unwind(AssertUnwindSafe(|| {
        match shakeout::plan::from_text(name, text) {
            Ok(plan) => {
                shakeout::plan::describe(&plan);
                Ok(())
            }
            Err(errors) => Err(errors),
        }
    }));
    match result {
        Err(_) => (false, Some("panicked".into())),
        Ok(Ok(())) => (false, None),
        Ok(Err(errors)) if errors.is_empty() => (true, Some("rejected with no error".into())),
        Ok(Err(errors)) => (
            true,
            errors
                .iter()
                .find(|e| e.file != name || (e.pos.is_none() && e.path.is_empty()))
                .map(|e| format!("an error with neither position nor field path: {e}")),
        ),
    }
}

/// The real binary on one mutant file: exit 0 or 2, and each error line positioned.
fn check_binary(file: &Path) -> Option<String> {
    let name = file.to_str().unwrap();
    for cmd in ["validate", "plan"] {
        let out = shakeout(&[cmd, name]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        match code(&out) {
            0 => {}
            2 => {
                let mut lines: Vec<&str> = stderr.lines().collect();
                let count = lines.pop().unwrap_or_default();
                if !count.ends_with(" error") && !count.ends_with(" errors") {
                    return Some(format!("{cmd}: no error count: {stderr}"));
                }
                if let Some(l) = lines.iter().find(|l| !positioned(l, name)) {
                    return Some(format!("{cmd}: unpositioned error line `{l}`"));
                }
            }
            other => return Some(format!("{cmd}: exit {other}: {stderr}")),
        }
    }
    None
}

/// `FILE:LINE:COL: ...` or `FILE: field.path: ...`.
fn positioned(line: &str, file: &str) -> bool {
    let Some(rest) = line.strip_prefix(file) else {
        return false;
    };
    let mut parts = rest.splitn(3, ':');
    let _ = parts.next();
    match (parts.next(), parts.next()) {
        (Some(l), Some(c)) if l.parse::<u32>().is_ok() => c
            .split(':')
            .next()
            .is_some_and(|c| c.parse::<u32>().is_ok()),
        (Some(path), Some(_)) => path.starts_with(' ') && path.len() > 1,
        _ => false,
    }
}

#[test]
fn fixed_seed_mutants_of_the_examples_never_panic_and_every_error_is_positioned() {
    let seed = env_or("SHAKEOUT_FUZZ_SEED", DEFAULT_SEED);
    let mutants = env_or("SHAKEOUT_FUZZ_MUTANTS", DEFAULT_MUTANTS);
    let examples = examples();
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(seed);
    let started = Instant::now();
    let (mut rejected, mut failures) = (0, Vec::new());
    // Panics are caught and counted; their messages would only bury the summary.
    std::panic::set_hook(Box::new(|_| {}));
    for n in 0..mutants {
        let (base, text) = &examples[rng.below(examples.len())];
        let mutant = mutate(text, &mut rng);
        let name = format!("mutant-{n}.yaml");
        let (was_rejected, mut problem) = check_in_process(&name, &mutant);
        rejected += usize::from(was_rejected);
        if problem.is_none() && n % BINARY_EVERY == 0 {
            let file = write_spec(dir.path(), &name, &mutant);
            problem = check_binary(&file);
        }
        if let Some(p) = problem {
            failures.push(format!(
                "mutant {n} of {base} (seed {seed:#x}): {p}\n--- mutant ---\n{mutant}\n---"
            ));
        }
    }
    let _ = std::panic::take_hook();
    let took = started.elapsed();
    eprintln!(
        "{mutants} mutants, {rejected} rejected, {} failures, {took:?}",
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{}",
        failures[..failures.len().min(3)].join("\n\n")
    );
    // The mutants must exercise both paths, or the generator has gone blind.
    assert!(
        rejected > mutants / 4 && rejected < mutants,
        "{rejected} of {mutants} rejected"
    );
    assert!(took < Duration::from_secs(60), "took {took:?}");
}

#[test]
fn the_position_check_accepts_both_shapes_and_nothing_else() {
    assert!(positioned("m.yaml:3:5: faults[0].at: bad", "m.yaml"));
    assert!(positioned("m.yaml: probes: needs one", "m.yaml"));
    assert!(!positioned("m.yaml: bad", "m.yaml"));
    assert!(!positioned("other.yaml:3:5: x: bad", "m.yaml"));
    assert!(!positioned("error: something", "m.yaml"));
}
