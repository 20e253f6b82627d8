//! Hostile spec files: every one is exit 2 with a message (a position where the file
//! has one), never a panic, a hang or a memory blow-up.

mod util;
use util::*;

fn validate_bounded(path: &std::path::Path) -> std::process::Output {
    shakeout_bounded(&["validate", path.to_str().unwrap()])
}

#[test]
fn deep_nesting_is_exit_2_with_a_position() {
    let dir = tempfile::tempdir().unwrap();
    let deep = format!("name: x\nduration: 1s\nprobes:\n{}x\n", "- ".repeat(20_000));
    let spec = write_spec(dir.path(), "deep.yaml", &deep);
    let out = validate_bounded(&spec);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(text(&out).contains("deep.yaml:4:"), "{}", text(&out));
    assert!(text(&out).contains("nested too deeply"), "{}", text(&out));
}

#[test]
fn fifos_devices_and_huge_files_are_refused_without_reading_them() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo.yaml");
    let c_path = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo on a path we own.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let huge = dir.path().join("huge.yaml");
    let file = std::fs::File::create(&huge).unwrap();
    file.set_len(64 << 20).unwrap(); // sparse: costs no disk
    for (path, says) in [
        (fifo.as_path(), "not a regular file"),
        (std::path::Path::new("/dev/zero"), "not a regular file"),
        (huge.as_path(), "larger than"),
    ] {
        let out = validate_bounded(path);
        assert_eq!(code(&out), 2, "{}", text(&out));
        assert!(text(&out).contains(says), "{}", text(&out));
    }
}

#[test]
fn overlong_durations_are_refused_by_validate_and_plan_without_panic() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "long.yaml",
        "name: x\nduration: 10s\nfaults:\n\
         - {name: f, at: 5s, duration: 18446744073709551615s, process: {pid: 4242, action: pause}}\n\
         - {name: g, at: 5s, duration: 10000000000000000000s, process: {pid: 4243, action: pause}}\n\
         sla:\n  latency_p99: 5124095576031h\n",
    );
    for cmd in ["validate", "plan"] {
        let out = shakeout(&[cmd, spec.to_str().unwrap()]);
        assert_eq!(code(&out), 2, "{cmd}: {}", text(&out));
        for path in [
            "faults[0].duration",
            "faults[1].duration",
            "sla.latency_p99",
        ] {
            assert!(
                text(&out).contains(&format!("{path}: `")),
                "{cmd} {path}: {}",
                text(&out)
            );
        }
        assert!(text(&out).contains("longer than 1 year"), "{}", text(&out));
        assert!(!text(&out).contains("panicked"), "{}", text(&out));
    }
}

#[test]
fn a_value_without_a_unit_does_not_hide_the_other_errors() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "nounit.yaml",
        "name: \"\"\nduration: 30\nprobes:\n  - name: p\n    http: {url: \"ftp://x\"}\n",
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    for needle in [
        "nounit.yaml:1:7: name: must not be empty",
        "nounit.yaml:2:11: duration: `30` has no unit",
        "nounit.yaml:5:17: probes[0].http.url:",
        "3 errors",
    ] {
        assert!(text(&out).contains(needle), "{needle}: {}", text(&out));
    }
}

#[test]
fn values_echoed_in_errors_cannot_forge_lines_or_drive_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(
        dir.path(),
        "esc.yaml",
        "name: x\nduration: 10s\nprobes:\n  - name: p\n    http: {url: \"http://a\\nzone-loss.yaml: ok\\e[2K\\a\"}\n",
    );
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    let shown = text(&out);
    assert!(
        !shown.contains('\u{1b}') && !shown.contains('\u{7}'),
        "{shown:?}"
    );
    assert!(
        !shown.lines().any(|l| l.starts_with("zone-loss.yaml")),
        "{shown}"
    );
    assert!(
        shown.contains("\\nzone-loss.yaml: ok\\u{1b}[2K\\u{7}"),
        "{shown}"
    );
}
