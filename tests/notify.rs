//! Notifications end to end: the real binary runs real (short) experiments and posts
//! to a receiver on 127.0.0.1 that answers as each test scripts it: one that fails
//! twice then accepts, one that never accepts, one that takes Slack's body.

mod util;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use util::*;

/// One request the receiver got: its path and its body.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    body: String,
}

/// An HTTP receiver answering the n-th request with `statuses[n]` (the last one
/// repeated); stopped on drop.
struct Receiver {
    port: u16,
    got: Arc<Mutex<Vec<Received>>>,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Receiver {
    fn start(statuses: &[u16]) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let got = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (g, s, statuses) = (Arc::clone(&got), Arc::clone(&stop), statuses.to_vec());
        let thread = std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let n = g.lock().unwrap().len();
                        let status = statuses[n.min(statuses.len() - 1)];
                        if let Some(r) = serve(stream, status) {
                            g.lock().unwrap().push(r);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Receiver {
            port,
            got,
            stop,
            thread: Some(thread),
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn received(&self) -> Vec<Received> {
        self.got.lock().unwrap().clone()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Reads one request (headers, then Content-Length bytes of body) and answers `status`.
fn serve(mut stream: TcpStream, status: u16) -> Option<Received> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut data = Vec::new();
    let mut buf = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            return None;
        }
        data.extend_from_slice(&buf[..n]);
        if let Some(i) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&data[..head_end]).to_string();
    let length: usize = head
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case("content-length")
                .then(|| v.trim().parse().ok())?
        })
        .unwrap_or(0);
    while data.len() < head_end + length {
        let n = stream.read(&mut buf).ok()?;
        if n == 0 {
            break;
        }
        data.extend_from_slice(&buf[..n]);
    }
    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
    let body = String::from_utf8_lossy(&data[head_end..]).to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
    );
    Some(Received { path, body })
}

/// `availability: 50%` passes and `100%` fails, every time.
fn one_zone_run(name: &str, availability: &str) -> String {
    util::gameday::one_zone_loss(name, &format!("  availability: {availability}\n"))
}

fn run_with_env(args: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    wait_output(spawn(args, envs), Duration::from_secs(60))
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[test]
fn a_receiver_that_fails_twice_gets_the_failing_checks_on_the_third_attempt() {
    let receiver = Receiver::start(&[500, 503, 200]);
    let dir = tempfile::tempdir().unwrap();
    let mut spec = one_zone_run("notify-fail", "100%");
    spec.push_str("notify:\n  webhook: ${HOOK_URL}\n");
    let spec = write_spec(dir.path(), "n.yaml", &spec);
    let out_dir = dir.path().join("out");
    let secret_url = receiver.url("/hooks/T0123/very-secret-token");
    let out = run_with_env(
        &[
            "run",
            spec.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[("HOOK_URL", &secret_url)],
    );
    let said = text(&out);
    // The verdict is the run's: a failed SLA, exit 1, delivered or not.
    assert_eq!(code(&out), 1, "{said}");
    let got = receiver.received();
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got
        .iter()
        .all(|r| r.path == "/hooks/T0123/very-secret-token"));
    let body = json(&got[2].body);
    assert_eq!(body["kind"], "run");
    assert_eq!(body["name"], "notify-fail");
    assert_eq!(body["verdict"], "fail");
    assert_eq!(body["exit_code"], 1);
    let check = &body["failing_checks"][0];
    assert_eq!(check["check"], "availability");
    assert_eq!(check["threshold"], ">= 100%");
    assert!(
        check["measured"].as_str().unwrap().ends_with('%'),
        "{check}"
    );
    assert!(body["report"].as_str().unwrap().ends_with("out/report.md"));
    // Said on stderr and recorded beside the report; the URL never in full.
    let port = receiver.port;
    assert!(
        said.contains(&format!(
            "notified webhook http://127.0.0.1:{port}/… (3 attempts)"
        )),
        "{said}"
    );
    assert!(!said.contains("very-secret-token"), "{said}");
    let recorded = std::fs::read_to_string(out_dir.join("notifications.json")).unwrap();
    let recorded = json(&recorded);
    assert_eq!(recorded[0]["delivered"], true);
    assert_eq!(recorded[0]["attempts"], 3);
    assert!(!recorded.to_string().contains("very-secret-token"));
    for file in ["report.json", "report.md", "experiment.yaml"] {
        let text = std::fs::read_to_string(out_dir.join(file)).unwrap();
        assert!(!text.contains("very-secret-token"), "{file}");
    }
}

#[test]
fn a_receiver_that_never_accepts_changes_neither_verdict_nor_exit_code() {
    let receiver = Receiver::start(&[503]);
    let dir = tempfile::tempdir().unwrap();
    let mut spec = one_zone_run("notify-pass", "50%");
    spec.push_str(&format!(
        "notify:\n  webhook: {}\n  on: [pass]\n",
        receiver.url("/hook")
    ));
    let spec = write_spec(dir.path(), "n.yaml", &spec);
    let out_dir = dir.path().join("out");
    let started = std::time::Instant::now();
    let out = run_with_env(
        &[
            "run",
            spec.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
        ],
        &[],
    );
    let said = text(&out);
    assert_eq!(code(&out), 0, "{said}");
    // Bounded: four attempts, then it gives up.
    assert_eq!(receiver.received().len(), 4);
    assert!(started.elapsed() < Duration::from_secs(30));
    assert!(
        said.contains(
            "failed after 4 attempts: the receiver answered HTTP 503; the verdict stands"
        ),
        "{said}"
    );
    let recorded = json(&std::fs::read_to_string(out_dir.join("notifications.json")).unwrap());
    assert_eq!(recorded[0]["delivered"], false);
    assert_eq!(recorded[0]["error"], "the receiver answered HTTP 503");
    assert_eq!(read_report(&out_dir)["verdict"], "pass");
}

#[test]
fn a_passing_run_is_sent_nowhere_by_default() {
    let receiver = Receiver::start(&[200]);
    let closed = format!("http://127.0.0.1:{}/nobody", free_port());
    let dir = tempfile::tempdir().unwrap();
    let spec = write_spec(dir.path(), "n.yaml", &one_zone_run("quiet", "50%"));
    let out_dir = dir.path().join("out");
    let out = run_with_env(
        &[
            "run",
            spec.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--notify",
            &receiver.url("/x"),
            "--notify",
            &closed,
        ],
        &[],
    );
    assert_eq!(code(&out), 0, "{}", text(&out));
    // Default `on` is fail, aborted, error: a pass sends nothing anywhere.
    assert!(receiver.received().is_empty());
    assert!(!out_dir.join("notifications.json").exists());
    assert!(!text(&out).contains("notif"), "{}", text(&out));
}

#[test]
fn a_suite_sends_one_slack_message_linking_the_published_report() {
    let receiver = Receiver::start(&[200]);
    let dir = tempfile::tempdir().unwrap();
    write_spec(dir.path(), "a.yaml", &one_zone_run("first", "50%"));
    write_spec(dir.path(), "b.yaml", &one_zone_run("second", "100%"));
    let suite = write_spec(
        dir.path(),
        "day.yaml",
        &format!(
            "suite:\n  name: day\n  experiments: [a.yaml, b.yaml]\n  notify:\n    slack: {}\n",
            receiver.url("/services/T0/B0/XYZ")
        ),
    );
    let out_dir = dir.path().join("day-out");
    let out = run_with_env(
        &[
            "run",
            suite.to_str().unwrap(),
            "--out",
            out_dir.to_str().unwrap(),
            "--report-url",
            "https://ci.example/artifacts/",
        ],
        &[],
    );
    assert_eq!(code(&out), 1, "{}", text(&out));
    let got = receiver.received();
    assert_eq!(got.len(), 1, "{got:?}");
    let body = json(&got[0].body);
    let slack = body["text"].as_str().unwrap();
    assert!(
        slack.contains("shakeout suite `day`: *FAIL* (exit 1)"),
        "{slack}"
    );
    assert!(slack.contains("`1. first`: pass (exit 0)"), "{slack}");
    assert!(slack.contains("`2. second`: fail (exit 1)"), "{slack}");
    assert!(
        slack.contains("second: availability (checkout): measured "),
        "{slack}"
    );
    assert!(slack.contains("threshold &gt;= 100%"), "{slack}");
    assert!(
        slack.ends_with("Report: https://ci.example/artifacts/day-out/suite.html"),
        "{slack}"
    );
    let suite_json = json(&std::fs::read_to_string(out_dir.join("suite.json")).unwrap());
    assert_eq!(suite_json["notifications"][0]["format"], "slack");
    assert_eq!(suite_json["notifications"][0]["delivered"], true);
    assert!(!Path::new(&out_dir).join("notifications.json").exists());
}

#[test]
fn a_notify_url_that_is_not_one_is_refused_without_echoing_it() {
    let out = shakeout(&[
        "run",
        "experiments/zone-loss.yaml",
        "--notify",
        "ftp://x/secret-path",
    ]);
    assert_eq!(code(&out), 2, "{}", text(&out));
    assert!(!text(&out).contains("secret-path"), "{}", text(&out));
    let dir = tempfile::tempdir().unwrap();
    let mut spec = one_zone_run("bad-notify", "50%");
    spec.push_str("notify:\n  slack: ftp://x/secret-path\n  webhok: x\n");
    let spec = write_spec(dir.path(), "n.yaml", &spec);
    let out = shakeout(&["validate", spec.to_str().unwrap()]);
    let said = text(&out);
    assert_eq!(code(&out), 2, "{said}");
    assert!(said.contains("notify.webhok: unknown field"), "{said}");
    assert!(said.contains("did you mean `webhook`"), "{said}");
    assert!(!said.contains("secret-path"), "{said}");
}
