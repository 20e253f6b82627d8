//! Thin binary: parse arguments, call the library, map the outcome to an exit code.

use clap::Parser;
use shakeout::cli::{
    Cli, Command, DemoCommand, Format, ProxyCommand, RunArgs, SweepCommand, TrendArgs,
};
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
        Command::Validate { files, format } => validate(&files, format),
        Command::Plan {
            file,
            preflight,
            format,
        } => plan(&file, preflight, format).await,
        Command::Run(args) => run(args).await,
        Command::Rollback { dir } => rollback(&dir).await,
        Command::Report { dir, rejudge } => rerender(&dir, rejudge),
        Command::Sweep {
            command: SweepCommand::Ec2 { region },
        } => sweep_ec2(&region).await,
        Command::Trend(args) => trend(&args),
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

/// A document for `--format json`, on stdout alone so it parses when piped.
fn print_json(value: &impl serde::Serialize) {
    match serde_json::to_string_pretty(value) {
        Ok(json) => out!("{json}"),
        Err(e) => say!("error: cannot render JSON: {e}"),
    }
}

async fn plan(file: &Path, preflight: bool, format: Format) -> i32 {
    use shakeout::plan::json;
    let plan = match (shakeout::plan::load(file), format) {
        (Ok((plan, _)), _) => plan,
        (Err(errors), Format::Text) => return print_spec_errors(&errors),
        (Err(errors), Format::Json) => {
            print_json(&json::validate_output(&[(
                file.display().to_string(),
                errors,
            )]));
            return exit::INVALID;
        }
    };
    match format {
        Format::Text => {
            out_raw!("{}", shakeout::plan::describe(&plan));
            // Read-only: what the databases it names look like now, and the risks seen.
            if let Some(topology) = engine::topology::describe(&plan).await {
                out_raw!("{topology}");
            }
        }
        Format::Json => print_json(&json::plan_output(&plan)),
    }
    if preflight {
        plan_preflight(&plan, format).await
    } else {
        exit::PASS
    }
}

fn validate(files: &[PathBuf], format: Format) -> i32 {
    if format == Format::Json {
        let results: Vec<(String, Vec<_>)> = files
            .iter()
            .map(|f| {
                let errors = shakeout::suite::load(f).err().unwrap_or_default();
                (f.display().to_string(), errors)
            })
            .collect();
        let output = shakeout::plan::json::validate_output(&results);
        print_json(&output);
        return if output.valid {
            exit::PASS
        } else {
            exit::INVALID
        };
    }
    let mut all = Vec::new();
    for f in files {
        // A suite file or a directory is checked with every experiment it names.
        match shakeout::suite::load(f) {
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
    use shakeout::suite::Loaded;
    let loaded = match shakeout::suite::load(&args.file) {
        Ok(x) => x,
        Err(errors) => return print_spec_errors(&errors),
    };
    if !args.allow_destructive {
        if let Some(code) = refuse_destructive(&loaded) {
            return code;
        }
    }
    let settings = match run_settings(&args) {
        Ok(s) => s,
        Err(e) => {
            say!("error: {e}");
            return exit::INVALID;
        }
    };
    match loaded {
        Loaded::Experiment(entry) if args.repeat > 1 => {
            let finished =
                shakeout::suite::run_repeat(&entry, args.repeat as usize, &settings, &say_line)
                    .await;
            print_suite_result(&finished, args.json)
        }
        Loaded::Experiment(entry) => run_single(*entry, &args, &settings).await,
        Loaded::Suite(_) if args.repeat > 1 => {
            say!("error: --repeat runs one experiment file, not a suite or a directory");
            exit::INVALID
        }
        Loaded::Suite(suite) => {
            let finished = shakeout::suite::run_suite(&suite, &settings, &say_line).await;
            print_suite_result(&finished, args.json)
        }
    }
}

fn say_line(line: String) {
    say!("{line}");
}

fn run_settings(args: &RunArgs) -> Result<shakeout::suite::Settings, String> {
    Ok(shakeout::suite::Settings {
        out: args.out.clone(),
        progress: !args.quiet && std::io::stderr().is_terminal(),
        notify: args
            .notify
            .iter()
            .map(|u| shakeout::notify::Target::from_flag(u))
            .collect::<Result<_, _>>()?,
        report_url: args.report_url.clone(),
        retry: shakeout::notify::Retry::default(),
    })
}

async fn run_single(
    entry: shakeout::suite::Entry,
    args: &RunArgs,
    settings: &shakeout::suite::Settings,
) -> i32 {
    let plan = entry.plan;
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
        progress: settings.progress,
        spec_text: Some(entry.text),
    };
    let ran = shakeout::suite::run_experiment(&plan, opts).await;
    if let Some(outcome) = &ran.outcome {
        print_run_result(&outcome.report, &files, &outcome.written, args.json);
    }
    for line in &ran.messages {
        say!("{line}");
    }
    let deliveries = match &ran.outcome {
        Some(outcome) => {
            shakeout::suite::notify_run(&plan, &outcome.report, &files.report_dir, settings).await
        }
        None => {
            shakeout::suite::notify_unreported_run(&plan, &ran, &files.report_dir, settings).await
        }
    };
    for d in &deliveries {
        say!("{}", shakeout::suite::delivery_line(d));
    }
    ran.exit_code
}

/// The suite's verdict line and report path to stdout (with `--json`, suite.json
/// alone goes to stdout and the rest to stderr).
fn print_suite_result(f: &shakeout::suite::Finished, json: bool) -> i32 {
    let r = &f.report;
    let passed = r
        .runs
        .iter()
        .filter(|e| e.verdict == Some(shakeout::verdict::Outcome::Pass))
        .count();
    let summary = format!(
        "{} `{}`: {} (exit {}), {passed} of {} runs passed",
        r.kind,
        r.name,
        shakeout::suite::outcome_word(r.verdict).to_uppercase(),
        r.exit_code,
        r.runs.len()
    );
    let md = f.dir.join("suite.md");
    let named = f.written.contains(&md).then(|| md.display().to_string());
    if json {
        if let Ok(text) = serde_json::to_string_pretty(r) {
            out!("{text}");
        }
        say!("{summary}");
    } else {
        out!("{summary}");
    }
    if let Some(stopped) = &r.stopped {
        say!("stopped early: {stopped}");
    }
    if let Some(md) = named {
        if json {
            say!("report: {md}");
        } else {
            out!("report: {md}");
        }
    }
    for d in &r.notifications {
        say!("{}", shakeout::suite::delivery_line(d));
    }
    for failure in &f.failures {
        say!("error: {failure}");
    }
    r.exit_code
}

/// A run with destructive faults and no `--allow-destructive`: print the plans that
/// have them (what would change), say why nothing ran, exit 2. `None` when the run may
/// go ahead. A suite is refused as a whole, before its first experiment.
fn refuse_destructive(loaded: &shakeout::suite::Loaded) -> Option<i32> {
    use shakeout::suite::Loaded;
    let plans: Vec<&shakeout::plan::Plan> = match loaded {
        Loaded::Experiment(entry) => vec![&entry.plan],
        Loaded::Suite(suite) => suite.entries.iter().map(|e| &e.plan).collect(),
    };
    let mut refused = Vec::new();
    for plan in plans {
        let faults = plan.destructive_faults();
        if !faults.is_empty() {
            out_raw!("{}", shakeout::plan::describe(plan));
            refused.extend(faults.into_iter().map(|(f, why)| (f.to_string(), why)));
        }
    }
    let (first, why) = refused.first()?;
    let more = match refused.len() {
        1 => String::new(),
        n => format!(" (and {} more destructive fault(s))", n - 1),
    };
    say!(
        "error: refusing to run: fault `{first}` {why}{more}; nothing was changed. \
         `shakeout plan --preflight FILE` lists every target it would touch; then add \
         --allow-destructive to `shakeout run`."
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
    for line in shakeout::suite::rollback_problems(r) {
        say!("{line}");
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

/// `shakeout trend`: exit 1 when the newest run of any experiment regressed.
fn trend(args: &TrendArgs) -> i32 {
    use shakeout::trend;
    let found = match trend::collect(&args.dirs) {
        Ok(found) => found,
        Err(e) => {
            say!("error: {e}");
            return exit::INVALID;
        }
    };
    for skipped in &found.skipped {
        say!("warning: skipped {skipped}");
    }
    let rule = trend::Rule {
        regression_pct: args.regression,
        baseline_runs: args.baseline as usize,
        min_history: args.min_history as usize,
    };
    let t = trend::build(found.runs, rule);
    match &args.out {
        None => out_raw!("{}", trend::markdown(&t, false)),
        Some(dir) => match trend::write(&t, dir) {
            Ok(_) => out!("{}", trend::summary(&t)),
            Err(e) => {
                say!("error: cannot write the trend into {}: {e}", dir.display());
                return exit::HARNESS;
            }
        },
    }
    if t.regressed {
        exit::FAIL
    } else {
        exit::PASS
    }
}

/// `plan --preflight`: print every read-only check; exit 3 when one failed. With
/// `--format json` the checks go to stderr: stdout holds the plan's JSON alone.
async fn plan_preflight(plan: &shakeout::plan::Plan, format: Format) -> i32 {
    use engine::preflight;
    match preflight::read_only(plan).await {
        Ok(checks) => {
            let words = preflight::describe(&checks);
            match format {
                Format::Text => out_raw!("{words}"),
                Format::Json => say!("{}", words.trim_end()),
            }
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

/// `sweep ec2`: one line per deny-all ACL found; exit 4 when one could not be removed.
async fn sweep_ec2(region: &str) -> i32 {
    use shakeout::fault::ec2::{self, SweepOutcome};
    let items = match ec2::sweep(region).await {
        Ok(items) => items,
        Err(e) => {
            say!("error: {e}");
            return exit::HARNESS;
        }
    };
    if items.is_empty() {
        out!("no deny-all network ACL left by shakeout in {region}");
    }
    let mut failed = false;
    for item in &items {
        match &item.outcome {
            SweepOutcome::Kept(why) => out!("kept {}: {why}", item.description),
            SweepOutcome::Removed(note) => out!("removed {}: {note}", item.description),
            SweepOutcome::Failed(e) => {
                failed = true;
                say!("error: could not remove {}: {e}", item.description);
            }
        }
    }
    if failed {
        exit::REVERT_FAILED
    } else {
        exit::PASS
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
