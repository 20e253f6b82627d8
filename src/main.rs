//! Thin binary: parse arguments, call the library, map the outcome to an exit code.

use clap::Parser;
use shakeout::cli::{Cli, Command, DemoCommand, ProxyCommand, RunArgs};
use shakeout::engine::{self, exit, journal, RunOptions};
use shakeout::report::RunFiles;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

// Writes to stderr and stdout that ignore errors: `eprintln!` and `println!` panic
// when the reader of a pipe has gone (EPIPE; SIGPIPE is ignored by Rust programs),
// and a closed terminal must not turn a reverted run into a panic (exit 101).
// Every line passes through the output redactor: a secret from the environment must
// not reach a terminal or a CI log.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let text = shakeout::spec::env::redact_output(&text);
        let _ = writeln!(std::io::stderr().lock(), "{text}");
    }};
}
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let text = shakeout::spec::env::redact_output(&text);
        let _ = writeln!(std::io::stdout().lock(), "{text}");
    }};
}
macro_rules! out_raw {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = format!($($arg)*);
        let text = shakeout::spec::env::redact_output(&text);
        let _ = write!(std::io::stdout().lock(), "{text}");
    }};
}

/// Log lines go through the output redactor too.
struct RedactingStderr;

impl std::io::Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let text = shakeout::spec::env::redact_output(&text);
        std::io::stderr().lock().write_all(text.as_bytes())?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().lock().flush()
    }
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() {
                exit::INVALID
            } else {
                exit::PASS
            };
            let _ = e.print();
            return ExitCode::from(code as u8);
        }
    };
    init_logging(cli.verbose);
    let rt = match engine::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            say!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit::HARNESS as u8);
        }
    };
    let code = rt.block_on(dispatch(cli.command));
    // Do not wait for lingering connection tasks: everything that matters is reverted and written.
    rt.shutdown_timeout(std::time::Duration::from_secs(1));
    ExitCode::from(code as u8)
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("shakeout={default},warn")));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(colour_on_stderr())
        .with_writer(|| RedactingStderr)
        .with_target(false)
        .init();
}

/// Colour only for a person at a terminal: never in a CI log or a file, and never
/// when NO_COLOR is set to anything non-empty (https://no-color.org).
fn colour_on_stderr() -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    !no_color && std::io::stderr().is_terminal()
}

async fn dispatch(cmd: Command) -> i32 {
    match cmd {
        Command::Validate { files } => validate(&files),
        Command::Plan { file, preflight } => match shakeout::plan::load(&file) {
            Ok((plan, _)) => {
                out_raw!("{}", shakeout::plan::describe(&plan));
                if preflight {
                    plan_preflight(&plan).await
                } else {
                    exit::PASS
                }
            }
            Err(errors) => print_spec_errors(&errors),
        },
        Command::Run(args) => run(args).await,
        Command::Rollback { dir } => rollback(&dir).await,
        Command::Report { dir, rejudge } => rerender(&dir, rejudge),
        Command::Proxy {
            command: ProxyCommand::Serve { listen, config },
        } => proxy_serve(listen, config).await,
        Command::Demo {
            command:
                DemoCommand::Serve {
                    listen,
                    zones,
                    replicas_per_zone,
                    health_interval,
                    pid_file,
                    store,
                    replication_delay,
                },
        } => {
            let store = store.map(|replication| shakeout::demo::store::StoreConfig {
                replication,
                delay: replication_delay,
            });
            let shape = (zones, replicas_per_zone, health_interval, store);
            demo_serve(listen, shape, pid_file).await
        }
    }
}

fn print_spec_errors(errors: &[shakeout::spec::yaml::SpecError]) -> i32 {
    for e in errors {
        say!("{e}");
    }
    say!(
        "{} error{}",
        errors.len(),
        if errors.len() == 1 { "" } else { "s" }
    );
    exit::INVALID
}

fn validate(files: &[PathBuf]) -> i32 {
    let mut all = Vec::new();
    for f in files {
        match shakeout::plan::load(f) {
            Ok(_) => out!("{}: ok", f.display()),
            Err(errors) => all.extend(errors),
        }
    }
    if all.is_empty() {
        exit::PASS
    } else {
        print_spec_errors(&all)
    }
}

async fn run(args: RunArgs) -> i32 {
    let (plan, text) = match shakeout::plan::load(&args.file) {
        Ok(x) => x,
        Err(errors) => return print_spec_errors(&errors),
    };
    if !args.allow_destructive {
        if let Some(code) = refuse_destructive(&plan) {
            return code;
        }
    }
    let run_id = engine::run_id(&plan.name);
    let files = match &args.out {
        Some(dir) => RunFiles {
            report_dir: dir.clone(),
            chart_dir: dir.clone(),
        },
        None => RunFiles {
            report_dir: Path::new("reports").join(&run_id),
            chart_dir: Path::new("charts").join(&run_id),
        },
    };
    let opts = RunOptions {
        run_id,
        files: files.clone(),
        progress: !args.quiet && std::io::stderr().is_terminal(),
        spec_text: Some(text),
    };
    // The engine runs in its own task so that a panic anywhere in it is caught here and
    // the journal reverts whatever it had applied.
    let handle = tokio::spawn(async move { engine::run(&plan, opts).await });
    match handle.await {
        Ok(Ok(outcome)) => {
            let r = &outcome.report;
            print_run_result(r, &files, &outcome.written, args.json);
            outcome.exit_code
        }
        // Refused before anything was changed: the directory is not this run's to use.
        Ok(Err(
            e @ (engine::EngineError::Unreverted { .. }
            | engine::EngineError::Busy(engine::lock::LockError::Busy { .. })),
        )) => {
            say!("error: {e}");
            exit::INVALID
        }
        Ok(Err(e)) => {
            say!("error: {e}");
            exit::HARNESS
        }
        Err(join) => {
            say!("error: internal error (panic) during the run: {join}");
            match journal::rollback(&files.report_dir).await {
                Ok(r) => {
                    for (fault, note) in &r.reverted {
                        say!("reverted `{fault}`: {note}");
                    }
                    print_rollback_problems(&r);
                    if r.may_remain() {
                        exit::REVERT_FAILED
                    } else {
                        exit::HARNESS
                    }
                }
                Err(e) => {
                    say!(
                        "error: {e}; run `shakeout rollback {}`",
                        files.report_dir.display()
                    );
                    exit::REVERT_FAILED
                }
            }
        }
    }
}

/// A run with destructive faults and no `--allow-destructive`: print the plan (what
/// would change), say why nothing ran, exit 2. `None` when the run may go ahead.
fn refuse_destructive(plan: &shakeout::plan::Plan) -> Option<i32> {
    let faults = plan.destructive_faults();
    let (first, why) = faults.first()?;
    out_raw!("{}", shakeout::plan::describe(plan));
    let more = match faults.len() {
        1 => String::new(),
        n => format!(" (and {} more destructive fault(s))", n - 1),
    };
    say!(
        "error: refusing to run: fault `{first}` {why}{more}; nothing was changed. \
         Check the targets above, then add --allow-destructive to `shakeout run`."
    );
    Some(exit::INVALID)
}

/// The verdict summary goes to stdout, so `run x > log` keeps it; with `--json`
/// stdout holds only report.json (for `jq`) and the summary goes to stderr.
fn print_run_result(
    r: &shakeout::report::Report,
    files: &RunFiles,
    written: &[PathBuf],
    json: bool,
) {
    let summary = shakeout::report::summary(r);
    // Only a report that exists is named.
    let report_md = files.report_dir.join("report.md");
    let named = written
        .contains(&report_md)
        .then(|| report_md.display().to_string());
    if json {
        // stdout holds report.json alone, so it still parses when piped.
        if let Ok(json) = serde_json::to_string_pretty(r) {
            out!("{json}");
        }
        say!("{summary}");
        if let Some(md) = &named {
            say!("report: {md}");
        }
    } else {
        out!("{summary}");
        if let Some(md) = &named {
            out!("report: {md}");
        }
    }
    for e in &r.errors {
        say!("error: {e}");
    }
}

async fn rollback(dir: &Path) -> i32 {
    match journal::rollback(dir).await {
        Ok(r) => {
            if r.reverted.is_empty() && !r.may_remain() {
                out!(
                    "nothing to revert: every fault in {} is already reverted",
                    dir.join(journal::FILE_NAME).display()
                );
            }
            for (fault, note) in &r.reverted {
                out!("reverted `{fault}`: {note}");
            }
            print_rollback_problems(&r);
            if r.may_remain() {
                exit::REVERT_FAILED
            } else {
                exit::PASS
            }
        }
        Err(e) => {
            say!("error: {e}");
            exit::INVALID
        }
    }
}

/// What a rollback could not revert, skipped, or could not record.
fn print_rollback_problems(r: &journal::Rollback) {
    for (fault, err, fix) in &r.failed {
        say!("error: could not revert `{fault}`: {err}\n  still broken: {fix}");
    }
    for skipped in &r.skipped {
        say!("error: {skipped}");
    }
    for note in &r.notes {
        say!("warning: {note}");
    }
}

fn rerender(dir: &Path, rejudge: bool) -> i32 {
    use shakeout::report::JudgeAgainst;
    let against = if rejudge {
        JudgeAgainst::SavedSpec
    } else {
        JudgeAgainst::Recorded
    };
    match shakeout::report::rerender(dir, against, saved_spec_sla) {
        Ok(report) => {
            out!("{}", shakeout::report::summary(&report));
            exit::PASS
        }
        Err(e @ shakeout::report::RerenderError::Write(_)) => {
            say!("error: {e}");
            exit::HARNESS
        }
        Err(e) => {
            say!("error: {e}");
            exit::INVALID
        }
    }
}

/// `plan --preflight`: print every read-only check; exit 3 when one failed.
async fn plan_preflight(plan: &shakeout::plan::Plan) -> i32 {
    use engine::preflight;
    match preflight::read_only(plan).await {
        Ok(checks) => {
            out_raw!("{}", preflight::describe(&checks));
            match preflight::failures(&checks) {
                Some(e) => {
                    say!("error: {e}");
                    exit::HARNESS
                }
                None => exit::PASS,
            }
        }
        Err(e) => {
            say!("error: {e}");
            exit::HARNESS
        }
    }
}

/// The SLA of a saved experiment.yaml, for runs that did not record theirs or are re-judged.
fn saved_spec_sla(path: &Path) -> Result<shakeout::sla::Sla, String> {
    match shakeout::plan::load(path) {
        Ok((plan, _)) => Ok(engine::plan_sla(&plan)),
        Err(errors) => Err(errors
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n")),
    }
}

async fn proxy_serve(listen: std::net::SocketAddr, config: Option<PathBuf>) -> i32 {
    let api = match shakeout::proxy::bind(listen, config).await {
        Ok(api) => api,
        Err(e) => {
            say!("error: {e}");
            return match e {
                shakeout::proxy::ProxyError::Config { .. } => exit::INVALID,
                _ => exit::HARNESS,
            };
        }
    };
    say!(
        "Toxiproxy-compatible API on http://{}; Ctrl-C to stop",
        api.addr()
    );
    warn_if_exposed(api.addr(), "the API creates proxies and toxics");
    api.run(wait_for_shutdown_signal()).await;
    exit::PASS
}

/// Neither server has authentication: say so when it can be reached from other hosts.
fn warn_if_exposed(addr: std::net::SocketAddr, what: &str) {
    if let Some(warning) = shakeout::util::exposure_warning(addr, what) {
        say!("warning: {warning}");
    }
}

/// Zones, replicas per zone, health-check interval and store of a served demo.
type DemoShape = (
    Vec<String>,
    u32,
    std::time::Duration,
    Option<shakeout::demo::store::StoreConfig>,
);

async fn demo_serve(
    listen: std::net::SocketAddr,
    (zones, replicas_per_zone, health_interval, store): DemoShape,
    pid_file: Option<PathBuf>,
) -> i32 {
    use shakeout::demo::{Demo, DemoConfig, HealthCheck};
    let cfg = DemoConfig {
        listen,
        zones,
        replicas_per_zone,
        health: HealthCheck {
            interval: health_interval,
            ..HealthCheck::default()
        },
        backend_timeout: std::time::Duration::from_secs(1),
        store,
    };
    let demo = match Demo::start(cfg).await {
        Ok(d) => d,
        Err(e) => {
            say!("error: {e}");
            return match e {
                shakeout::demo::DemoError::InvalidConfig(_) => exit::INVALID,
                _ => exit::HARNESS,
            };
        }
    };
    say!(
        "demo deployment on http://{} (admin: GET/PUT http://{}/_shakeout/zones); Ctrl-C to stop",
        demo.addr(),
        demo.addr()
    );
    for (zone, mode) in demo.zones() {
        say!("  zone {zone}: {mode}");
    }
    warn_if_exposed(demo.addr(), "the admin API takes zones down");
    if let Some(path) = &pid_file {
        if let Err(e) = std::fs::write(path, format!("{}\n", std::process::id())) {
            say!("error: cannot write {}: {e}", path.display());
            demo.shutdown().await;
            return exit::HARNESS;
        }
    }
    wait_for_shutdown_signal().await;
    demo.shutdown().await;
    if let Some(path) = &pid_file {
        let _ = std::fs::remove_file(path);
    }
    exit::PASS
}

async fn wait_for_shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
