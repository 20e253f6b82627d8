//! `proxy serve` and `demo serve`: bad flags or config are exit 2 with a plain
//! message, a failed bind is exit 3, and the address is announced only once bound.

mod util;
use std::io::{BufRead, BufReader};
use std::time::Duration;
use util::*;

#[test]
fn a_bad_proxy_config_file_is_exit_2_and_says_config_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = write_spec(dir.path(), "bad.json", "[{\"name\": \"p\", \"listen\": ");
    let dup = write_spec(
        dir.path(),
        "dup.json",
        r#"[{"name":"p","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"},
            {"name":"p","listen":"127.0.0.1:0","upstream":"127.0.0.1:9"}]"#,
    );
    for config in [&bad_json, &dup] {
        let out = shakeout_bounded(&[
            "proxy",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--config",
            config.to_str().unwrap(),
        ]);
        assert_eq!(code(&out), 2, "{}", text(&out));
        assert!(text(&out).contains("config file"), "{}", text(&out));
        assert!(!text(&out).contains("bad request body"), "{}", text(&out));
        assert!(!text(&out).contains("API on"), "{}", text(&out));
    }
}

#[test]
fn a_port_in_use_is_exit_3_and_never_announced() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let out = shakeout_bounded(&["proxy", "serve", "--listen", &addr]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(!text(&out).contains("API on"), "{}", text(&out));
    let out = shakeout_bounded(&["demo", "serve", "--listen", &addr]);
    assert_eq!(code(&out), 3, "{}", text(&out));
    assert!(text(&out).contains("already in use"), "{}", text(&out));
}

#[test]
fn bad_demo_flags_are_exit_2() {
    for args in [
        &[
            "demo",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--replicas-per-zone",
            "4294967295",
        ][..],
        &[
            "demo",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--replicas-per-zone",
            "0",
        ],
        &["demo", "serve", "--listen", "127.0.0.1:0", "--zones", "a,a"],
        &["demo", "serve", "--listen", "127.0.0.1:0", "--zones", "a b"],
    ] {
        let out = shakeout_bounded(args);
        assert_eq!(code(&out), 2, "{args:?}: {}", text(&out));
    }
    let out = shakeout_bounded(&["demo", "serve", "--replicas-per-zone", "4294967295"]);
    assert!(text(&out).contains("1..=64"), "{}", text(&out));
}

#[test]
fn the_api_is_announced_with_its_bound_port_and_no_warning_on_loopback() {
    let mut child = spawn(&["proxy", "serve", "--listen", "127.0.0.1:0"], &[]);
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(10)).unwrap_or_default();
    signal(&child, libc::SIGTERM);
    let _ = child.wait();
    let rest: Vec<String> = rx.try_iter().collect();
    assert!(
        first.starts_with("Toxiproxy-compatible API on http://127.0.0.1:"),
        "{first}"
    );
    assert!(!first.ends_with("127.0.0.1:0; Ctrl-C to stop"), "{first}");
    assert!(!rest.iter().any(|l| l.contains("warning")), "{rest:?}");
}
