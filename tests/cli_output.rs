//! What a CI log sees: the verdict on stdout, logs on stderr, no ANSI colour off a
//! terminal or with NO_COLOR, `localhost:PORT` for every address, and `--help` with
//! an example on every command.

mod util;
use clap::CommandFactory;
use std::process::Command;
use std::time::Duration;
use util::*;

/// A 1 s run where every address is written `localhost:PORT`: the demo, a built-in
/// proxy and its upstream, an http probe through the proxy and a tcp probe.
fn localhost_spec(dir: &std::path::Path) -> std::path::PathBuf {
    let (demo, proxy) = (free_port(), free_port());
    write_spec(
        dir,
        "lh.yaml",
        &format!(
            "name: lh\nduration: 1s\n\
             target:\n  demo:\n    listen: localhost:{demo}\n    zones: [a]\n    replicas_per_zone: 1\n\
             proxies:\n  - name: p\n    listen: localhost:{proxy}\n    upstream: localhost:{demo}\n\
             sla:\n  availability: 99%\n\
             probes:\n  - name: web\n    http: {{url: \"http://localhost:{proxy}/\", interval: 50ms}}\n\
             \x20 - name: port\n    tcp: {{address: \"localhost:{demo}\", interval: 50ms}}\n\
             faults:\n  - name: slow\n    at: 200ms\n    duration: 500ms\n    latency: {{proxy: p, latency: 5ms}}\n"
        ),
    )
}

#[test]
fn the_verdict_goes_to_stdout_and_logs_to_stderr_without_colour() {
    let dir = tempfile::tempdir().unwrap();
    let spec = localhost_spec(dir.path());
    let out_dir = dir.path().join("out");
    let out = shakeout(&[
        "-v",
        "run",
        spec.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(code(&out), 0, "{stdout}{stderr}");
    assert!(
        stdout.starts_with("PASS lh: 2/2 SLA checks passed"),
        "{stdout}"
    );
    assert!(stdout.contains("\nreport: "), "{stdout}");
    assert!(!stderr.contains("SLA checks passed"), "{stderr}");
    assert!(stderr.contains("INFO"), "-v logs go to stderr: {stderr}");
    assert!(
        !stderr.contains('\u{1b}') && !stdout.contains('\u{1b}'),
        "{stderr}"
    );

    // Every address was localhost:PORT and every sample got through.
    let report = read_report(&out_dir);
    for p in report["probes"].as_array().unwrap() {
        assert!(p["total"].as_u64().unwrap() > 5, "{p}");
        assert_eq!(p["failed"].as_u64(), Some(0), "{p}");
    }
}

#[test]
fn with_json_stdout_is_only_the_report() {
    let dir = tempfile::tempdir().unwrap();
    let spec = localhost_spec(dir.path());
    let out_dir = dir.path().join("out");
    let out = shakeout(&[
        "run",
        spec.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    let json: serde_json::Value =
        serde_json::from_slice(&out.stdout).expect("stdout is report.json alone");
    assert_eq!(json["experiment"], "lh");
    assert!(String::from_utf8_lossy(&out.stderr).starts_with("PASS lh"));
}

/// Colour is for a terminal: under a pseudo-terminal (`script`) the logs are
/// coloured, and NO_COLOR turns that off.
#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("skipped: no `script` to give the run a terminal");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let spec = localhost_spec(dir.path());
    let on_a_terminal = |no_color: Option<&str>, out: &str| {
        let line = format!(
            "{} -v run {} --out {} -q",
            bin().display(),
            spec.display(),
            dir.path().join(out).display()
        );
        let mut cmd = Command::new("script");
        cmd.args(["-qec", &line, "/dev/null"])
            .env_remove("NO_COLOR");
        if let Some(v) = no_color {
            cmd.env("NO_COLOR", v);
        }
        let child = cmd
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let o = wait_output(child, Duration::from_secs(30));
        assert_eq!(code(&o), 0, "{}", text(&o));
        text(&o)
    };
    let coloured = on_a_terminal(None, "a");
    assert!(
        coloured.contains("INFO") && coloured.contains('\u{1b}'),
        "{coloured}"
    );
    let plain = on_a_terminal(Some("1"), "b");
    assert!(
        plain.contains("INFO") && !plain.contains('\u{1b}'),
        "{plain}"
    );
}

#[test]
fn the_servers_take_localhost_port() {
    for args in [
        ["demo", "serve", "--listen", "localhost:0"],
        ["proxy", "serve", "--listen", "localhost:0"],
    ] {
        let mut child = spawn(&args, &[]);
        let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
        let mut first = String::new();
        let _ = std::io::BufRead::read_line(&mut stderr, &mut first);
        signal(&child, libc::SIGTERM);
        let _ = child.wait();
        assert!(first.contains(" on http://127.0.0.1:"), "{args:?}: {first}");
        assert!(!first.contains("127.0.0.1:0;"), "{args:?}: {first}");
    }
    let out = shakeout(&["proxy", "serve", "--listen", "localhost:http"]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(
        text(&out).contains("is not an address like"),
        "{}",
        text(&out)
    );
}

/// Every command, down to `demo serve`: its own help names each argument with a
/// description and shows an example.
#[test]
fn every_command_describes_its_arguments_and_shows_an_example() {
    let mut commands = Vec::new();
    collect_commands(
        &shakeout::cli::Cli::command(),
        &mut Vec::new(),
        &mut commands,
    );
    assert!(commands.len() >= 9, "{commands:?}");
    for (path, args) in &commands {
        let mut argv: Vec<&str> = path.iter().map(String::as_str).collect();
        argv.push("--help");
        let out = shakeout(&argv);
        let help = String::from_utf8_lossy(&out.stdout);
        assert_eq!(code(&out), 0, "{argv:?}: {}", text(&out));
        assert!(
            help.contains("Example"),
            "{argv:?} shows no example:\n{help}"
        );
        for (name, described) in args {
            assert!(described, "{argv:?}: argument `{name}` has no description");
        }
    }
}

type Described = Vec<(String, bool)>;

fn collect_commands(
    cmd: &clap::Command,
    path: &mut Vec<String>,
    out: &mut Vec<(Vec<String>, Described)>,
) {
    let args = cmd
        .get_arguments()
        .filter(|a| !matches!(a.get_id().as_str(), "help" | "version"))
        .map(|a| (a.get_id().to_string(), a.get_help().is_some()))
        .collect();
    out.push((path.clone(), args));
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        path.push(sub.get_name().to_string());
        collect_commands(sub, path, out);
        path.pop();
    }
}
