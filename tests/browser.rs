//! report.html (and trend.html) in a real browser: headless Chromium (Debian
//! `chromium`, installed by scripts/install-test-deps) renders each page to a PNG at
//! desktop width and at phone width (390 px) without a single console message, and at
//! phone width the page does not scroll sideways (wide tables scroll inside themselves).
//!
//! Headless Chromium lays a window out at least 500 px wide, so the phone width is an
//! iframe 390 px wide inside a small test page. Without Chromium the test is skipped,
//! except under CI=true, where it fails.

mod util;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};
use util::*;

const PHONE: u32 = 390;
const DESKTOP: u32 = 1280;

/// The browser, when installed; under CI=true its absence fails the test.
fn chromium() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("chromium"))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed; run scripts/install-test-deps"
        );
        eprintln!("skipping: chromium is not installed (scripts/install-test-deps)");
    }
    found
}

/// A headless Chromium, in its own process group, killed with all its helper
/// processes (zygote, GPU, renderers) on drop.
struct Browser {
    child: Option<Child>,
}

impl Browser {
    fn start(bin: &Path, profile: &Path, args: &[String]) -> Browser {
        let mut cmd = Command::new(bin);
        cmd.args([
            "--headless",
            "--disable-gpu",
            "--no-first-run",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
        // SAFETY: geteuid has no preconditions. Chromium refuses to run as root with
        // its sandbox, and tests here run as root.
        if unsafe { libc::geteuid() } == 0 {
            cmd.arg("--no-sandbox");
        }
        Browser {
            child: Some(cmd.spawn().expect("spawn chromium")),
        }
    }

    /// Its output, once it exits; fails the test after 60 s.
    fn output(mut self) -> Output {
        let mut child = self.child.take().expect("running");
        let deadline = Instant::now() + Duration::from_secs(60);
        // Read both pipes on threads: Chromium logs enough to fill a pipe.
        let out = read_all(child.stdout.take());
        let err = read_all(child.stderr.take());
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                kill_group(&child);
                return Output {
                    status,
                    stdout: out.join().unwrap_or_default(),
                    stderr: err.join().unwrap_or_default(),
                };
            }
            if Instant::now() > deadline {
                kill_group(&child);
                let _ = child.wait();
                panic!("chromium did not finish within 60s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Everything `pipe` yields until it closes, read on its own thread.
fn read_all<R: std::io::Read + Send + 'static>(
    pipe: Option<R>,
) -> std::thread::JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        buf
    })
}

fn kill_group(child: &Child) {
    // SAFETY: kill(2) on the process group this test started (pgid = child's pid).
    unsafe {
        libc::kill(-(child.id() as i32), libc::SIGKILL);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            kill_group(&child);
            let _ = child.wait();
        }
    }
}

fn file_url(path: &Path) -> String {
    format!("file://{}", path.display())
}

/// Console messages Chromium logged while loading the page (`INFO:CONSOLE:12] "..."`).
/// The reports have no script, so any message (a parse or load error) is a failure.
fn console_lines(stderr: &[u8]) -> Vec<String> {
    String::from_utf8_lossy(stderr)
        .lines()
        .filter(|l| l.contains(":CONSOLE"))
        .map(str::to_string)
        .collect()
}

/// Width and height from a PNG's IHDR chunk, after checking the signature.
fn png_size(bytes: &[u8]) -> (u32, u32) {
    assert!(bytes.len() > 24, "PNG of {} bytes", bytes.len());
    assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "not a PNG");
    assert_eq!(&bytes[12..16], b"IHDR");
    let word =
        |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    (word(16), word(20))
}

/// Render `url` to `png` in a window `width` wide; asserts a real image and a quiet console.
fn screenshot(bin: &Path, work: &Path, url: &str, png: &Path, width: u32) {
    let out = Browser::start(
        bin,
        &work.join(format!("profile-shot-{width}")),
        &[
            format!("--window-size={width},2400"),
            format!("--screenshot={}", png.display()),
            url.to_string(),
        ],
    )
    .output();
    let console = console_lines(&out.stderr);
    assert!(
        console.is_empty(),
        "{url} logged to the console:\n{}",
        console.join("\n")
    );
    let bytes = std::fs::read(png).unwrap_or_else(|e| {
        panic!(
            "no screenshot of {url} ({e}):\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(png_size(&bytes).0, width, "{url}");
    // A blank page compresses to a few kB; a rendered report with charts is far larger.
    assert!(
        bytes.len() > 30_000,
        "{url}: a near-empty screenshot of {} bytes",
        bytes.len()
    );
}

/// A page holding `page` in an iframe `PHONE` px wide, so it is laid out at phone width.
fn phone_frame(work: &Path, name: &str, page: &str) -> PathBuf {
    let frame = work.join(name);
    std::fs::write(
        &frame,
        format!(
            "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"margin:0\">\
             <iframe src=\"{page}\" width=\"{PHONE}\" height=\"2400\" style=\"border:0;display:block\"></iframe>\
             <script>addEventListener('message', e => document.body.setAttribute('data-layout', e.data));</script>\
             </body></html>"
        ),
    )
    .expect("write frame");
    frame
}

/// Reported from inside the framed copy: how wide the page's content is against its
/// viewport, and the elements sticking out (for the failure message).
const MEASURE: &str = "<script>addEventListener('load', () => {\
    const w = document.documentElement.clientWidth;\
    const wide = [...document.querySelectorAll('body *')]\
      .filter(e => e.getBoundingClientRect().right > w + 0.5)\
      .slice(0, 10).map(e => e.tagName + '.' + e.className);\
    parent.postMessage(JSON.stringify({viewport: w, content: document.documentElement.scrollWidth, wide}), '*');\
  });</script>";

/// The page's layout at phone width, measured in a copy with a script appended.
fn phone_layout(bin: &Path, work: &Path, html: &Path) -> serde_json::Value {
    let copy = work.join("measured.html");
    let mut text = std::fs::read_to_string(html).expect("report.html");
    text.push_str(MEASURE);
    std::fs::write(&copy, text).expect("write copy");
    let frame = phone_frame(work, "measure-frame.html", "measured.html");
    let out = Browser::start(
        bin,
        &work.join("profile-measure"),
        &[
            "--window-size=800,2400".into(),
            // Lets the frame load and its message arrive before the DOM is dumped.
            "--virtual-time-budget=5000".into(),
            "--dump-dom".into(),
            file_url(&frame),
        ],
    )
    .output();
    let dom = String::from_utf8_lossy(&out.stdout);
    // The dumped DOM is HTML: the attribute is the one place `data-layout="` occurs,
    // its value escaped as HTML attributes are (`&quot;`, `&amp;`).
    let layout = dom
        .split_once("data-layout=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(value, _)| value.replace("&quot;", "\"").replace("&amp;", "&"))
        .unwrap_or_else(|| panic!("no layout reported:\n{dom}"));
    serde_json::from_str(&layout).expect("layout JSON")
}

/// Everything this file checks of one page.
fn check_page(bin: &Path, html: &Path) {
    let work = tempfile::tempdir().expect("tempdir");
    let page = work.path().join("report.html");
    std::fs::copy(html, &page).expect("copy page");
    screenshot(
        bin,
        work.path(),
        &file_url(&page),
        &work.path().join("desktop.png"),
        DESKTOP,
    );
    let frame = phone_frame(work.path(), "phone.html", "report.html");
    screenshot(
        bin,
        work.path(),
        &file_url(&frame),
        &work.path().join("phone.png"),
        PHONE,
    );
    let layout = phone_layout(bin, work.path(), &page);
    assert_eq!(layout["viewport"], PHONE, "{layout}");
    assert!(
        layout["content"].as_u64() <= layout["viewport"].as_u64(),
        "{}: the page scrolls sideways at {PHONE}px: {layout}",
        html.display()
    );
}

#[test]
fn committed_example_report_renders_at_desktop_and_phone_width() {
    let Some(bin) = chromium() else { return };
    check_page(
        &bin,
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("reports/example/report.html"),
    );
}

#[test]
fn a_fresh_runs_report_and_its_trend_render_at_desktop_and_phone_width() {
    let Some(bin) = chromium() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = util::experiment::ZoneLoss {
        name: "browser-zone-loss",
        duration: "2s",
        zones: "[a, b]",
        replicas_per_zone: 1,
        health_check: true,
        sla: "  availability: 50%\n  recovery_time: 5s\n",
        fault_at: "500ms",
        fault_for: "1s",
    }
    .yaml(free_port());
    let spec = write_spec(dir.path(), "z.yaml", &spec);
    let out_dir = dir.path().join("runs/one");
    let out = wait_output(
        spawn_run(
            spec.to_str().expect("utf-8"),
            out_dir.to_str().expect("utf-8"),
        ),
        Duration::from_secs(30),
    );
    // Pass or fail (a loaded machine can miss the SLA), the page must render.
    assert!([0, 1].contains(&code(&out)), "{}", text(&out));
    check_page(&bin, &out_dir.join("report.html"));

    let trend_dir = dir.path().join("trend");
    let out = shakeout_bounded(&[
        "trend",
        dir.path().join("runs").to_str().expect("utf-8"),
        "--out",
        trend_dir.to_str().expect("utf-8"),
    ]);
    assert_eq!(code(&out), 0, "{}", text(&out));
    check_page(&bin, &trend_dir.join("trend.html"));
}

/// The console check is not vacuous: a page with a script error is caught.
#[test]
fn a_console_error_is_caught() {
    let Some(bin) = chromium() else { return };
    let work = tempfile::tempdir().expect("tempdir");
    let page = work.path().join("broken.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><p>x</p><script>notDefined();</script></body></html>",
    )
    .expect("write");
    let out = Browser::start(
        &bin,
        &work.path().join("profile"),
        &[
            "--window-size=800,600".into(),
            format!("--screenshot={}", work.path().join("b.png").display()),
            file_url(&page),
        ],
    )
    .output();
    let console = console_lines(&out.stderr);
    assert!(
        console.iter().any(|l| l.contains("notDefined")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
