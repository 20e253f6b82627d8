//! Command-line definitions (clap). No logic here.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shakeout",
    version,
    about = "Break things on purpose, measure, and judge against your SLA.",
    after_help = "Example:\n  shakeout validate experiments/zone-loss.yaml && shakeout run experiments/zone-loss.yaml\n\n\
        `shakeout <COMMAND> --help` describes each command's arguments."
)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check experiment files (and suite files or directories, with every experiment
    /// they name); print every error as FILE:LINE:COL: path: message.
    #[command(after_help = "Examples:
  shakeout validate experiments/*.yaml
  \
        shakeout validate --format json experiments/*.yaml | jq '.errors[]'

\
        Exit 0 when every file is valid, 2 when any is not.")]
    Validate {
        /// Experiment files (YAML) to check; all errors of all files are printed.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// `json`: one JSON document on stdout (schemas/validate.schema.json) with each
        /// error's file, line, column, path, message and suggestion.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Print the concrete timeline of an experiment. Touches nothing.
    #[command(
        after_help = "Examples:\n  shakeout plan experiments/zone-loss.yaml\n  \
        shakeout plan --preflight experiments/process-pause.yaml\n  \
        shakeout plan --format json experiments/zone-loss.yaml | jq '.checks'\n\n\
        With --preflight: exit 0 when every check passed, 3 when one failed."
    )]
    Plan {
        /// The experiment file (YAML) to describe.
        file: PathBuf,
        /// Also run the read-only checks `run` makes before t=0 (fault targets exist,
        /// probe targets answer once) and print each result.
        #[arg(long)]
        preflight: bool,
        /// `json`: the plan as one JSON document on stdout (schemas/plan.schema.json):
        /// probes, faults, the timeline and the SLA checks.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Run an experiment and write its reports and charts.
    #[command(
        after_help = "Examples:\n  shakeout run experiments/zone-loss.yaml\n  \
        shakeout run experiments/zone-loss.yaml --out runs/today --quiet > run.log\n  \
        shakeout run experiments/suites/demo-gameday.yaml   # a game day\n  \
        shakeout run experiments/zone-loss.yaml --repeat 5\n\n\
        The verdict summary goes to stdout, logs to stderr. Exit 0 pass, 1 SLA failed, \
        2 invalid input, 3 harness error, 4 a fault may not be reverted. A suite or a \
        repeat exits with the worst code of its runs."
    )]
    Run(RunArgs),
    /// Revert whatever a run's journal says is still applied (after a crash or kill -9).
    #[command(
        after_help = "Example:\n  shakeout rollback reports/checkout-survives-zone-loss-20260101T120000Z"
    )]
    Rollback {
        /// The run's directory (the one holding journal.jsonl).
        dir: PathBuf,
    },
    /// Re-render the reports and charts of a past run from its saved events, judged
    /// against the SLA the run recorded.
    #[command(after_help = "Examples:\n  shakeout report runs/today\n  \
        shakeout report runs/today --rejudge   # after editing runs/today/experiment.yaml")]
    Report {
        /// The run's directory (the one holding events.jsonl).
        dir: PathBuf,
        /// Judge the run again against the SLA in its saved experiment.yaml (edit the
        /// thresholds there first), instead of the SLA it was run with.
        #[arg(long)]
        rejudge: bool,
    },
    /// Find what killed runs left in a cloud account, by its tags, and remove what has
    /// expired.
    #[command(after_help = "Example:\n  shakeout sweep ec2 --region us-east-1\n\n\
        Exit 0 when nothing expired is left, 4 when something could not be removed.")]
    Sweep {
        #[command(subcommand)]
        command: SweepCommand,
    },
    /// Each experiment's runs over time, with regressions marked: recovery time,
    /// availability, longest disruption and lost writes.
    #[command(after_help = "Examples:\n  shakeout trend reports/\n  \
        shakeout trend nightly/ archive/ --out trend --regression 10%\n\n\
        A run regressed on a figure when it is worse than the median of the previous runs \
        (--baseline, default 5; at least --min-history, default 3) by more than --regression \
        and by more than one sample. \
        Exit 0: no experiment's newest run regressed; 1: one did; 2: no runs or bad \
        arguments; 3: the output could not be written.")]
    Trend(TrendArgs),
    /// The embedded demo deployment.
    #[command(
        after_help = "Example:\n  shakeout demo serve --listen localhost:18080 --zones a,b,c"
    )]
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// The built-in TCP fault proxy.
    #[command(after_help = "Example:\n  shakeout proxy serve --listen localhost:8474")]
    Proxy {
        #[command(subcommand)]
        command: ProxyCommand,
    },
}

/// How a command prints its result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Lines for people.
    Text,
    /// One JSON document for tools.
    Json,
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Serve Toxiproxy's HTTP API (existing Toxiproxy clients work unchanged) until Ctrl-C.
    #[command(after_help = "Examples:\n  shakeout proxy serve\n  \
        shakeout proxy serve --listen localhost:8474 --config proxies.json\n\n\
        proxies.json: [{\"name\": \"checkout\", \"listen\": \"127.0.0.1:18082\", \"upstream\": \"127.0.0.1:18080\"}]")]
    Serve {
        /// Where the API listens (IP:PORT, localhost:PORT or :PORT). It has no
        /// authentication: keep it on loopback.
        #[arg(long, default_value = "127.0.0.1:8474", value_parser = parse_listen)]
        listen: SocketAddr,
        /// Proxies to create at start: a JSON array like Toxiproxy's `-config`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum SweepCommand {
    /// Deny-all network ACLs of `az_loss` `ec2:` layers (tagged shakeout:run-id): list
    /// them, and for those past their shakeout:expires tag put their subnets back and
    /// delete them. Needs a build with `--features aws`.
    #[command(after_help = "Example:\n  shakeout sweep ec2 --region us-east-1")]
    Ec2 {
        /// The AWS region to look in.
        #[arg(long)]
        region: String,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment file (YAML) to run; or a suite file (top-level `suite:`), or a
    /// directory whose experiment files run in name order (a game day).
    pub file: PathBuf,
    /// Run the experiment N times and judge the distribution (`sla.judge`: worst,
    /// median or p90; default worst).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub repeat: u32,
    /// Also notify this URL (a Slack incoming webhook on hooks.slack.com, any other
    /// URL gets the JSON webhook body) on fail, aborted and error. Repeatable.
    #[arg(long, value_name = "URL")]
    pub notify: Vec<String>,
    /// Link reports in notifications as PREFIX/<run or suite dir>/report.html
    /// (e.g. where CI publishes them) instead of their local path.
    #[arg(long, value_name = "PREFIX")]
    pub report_url: Option<String>,
    /// Put every file of this run in DIR (default: reports/<run-id>/ and charts/<run-id>/).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// No live progress line.
    #[arg(short, long)]
    pub quiet: bool,
    /// Print report.json to stdout when the run ends.
    #[arg(long)]
    pub json: bool,
    /// Allow faults that act on shared infrastructure (stop cloud instances, cut
    /// subnets, cordon cluster nodes, delete pods). Without it such a run prints its
    /// plan, changes nothing and exits 2: a spec file alone cannot opt in.
    #[arg(long)]
    pub allow_destructive: bool,
}

#[derive(Debug, Args)]
pub struct TrendArgs {
    /// Directories searched recursively for runs (each run's report.json).
    #[arg(required = true, value_name = "DIR")]
    pub dirs: Vec<PathBuf>,
    /// Write trend.md, trend.html, trend.json and one chart per experiment here;
    /// without it, trend.md (without charts) goes to stdout.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// How much worse than the baseline median a figure must be to regress.
    #[arg(long, default_value = "20%", value_parser = crate::trend::parse_regression)]
    pub regression: f64,
    /// How many previous runs the baseline median is taken over.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub baseline: u32,
    /// How many previous runs a run needs before it is judged at all.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub min_history: u32,
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Serve the demo deployment until Ctrl-C, so other tools can be pointed at it.
    #[command(after_help = "Examples:\n  shakeout demo serve\n  \
        shakeout demo serve --listen :18080 --zones a,b --replicas-per-zone 3 --pid-file demo.pid")]
    Serve {
        /// Where the load balancer and its admin API listen (IP:PORT, localhost:PORT or
        /// :PORT). The admin API has no authentication: keep it on loopback.
        #[arg(long, default_value = "127.0.0.1:18080", value_parser = parse_listen)]
        listen: SocketAddr,
        /// Comma-separated zone names.
        #[arg(long, default_value = "a,b,c", value_delimiter = ',')]
        zones: Vec<String>,
        /// Replicas in every zone (1 to 64).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=i64::from(crate::demo::MAX_REPLICAS_PER_ZONE)))]
        replicas_per_zone: u32,
        /// Health-check interval of the balancer.
        #[arg(long, default_value = "500ms", value_parser = parse_duration)]
        health_interval: std::time::Duration,
        /// Write this process's pid here (for `process` faults against the demo).
        #[arg(long, value_name = "PATH")]
        pid_file: Option<PathBuf>,
        /// Add a replicated key-value store behind POST /orders and GET /orders/{id}
        /// (primary in the first zone): `async` or `sync` replication.
        #[arg(long, value_name = "REPLICATION", value_parser = parse_replication)]
        store: Option<crate::demo::store::Replication>,
        /// How long a write takes to reach the store's replicas.
        #[arg(long, default_value = "200ms", value_parser = parse_duration)]
        replication_delay: std::time::Duration,
    },
}

fn parse_replication(s: &str) -> Result<crate::demo::store::Replication, String> {
    match s {
        "async" => Ok(crate::demo::store::Replication::Async),
        "sync" => Ok(crate::demo::store::Replication::Sync),
        _ => Err(format!("`{s}`: use async or sync")),
    }
}

fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    crate::spec::check::parse_addr(s)
        .ok_or_else(|| format!("`{s}` is not an address like 127.0.0.1:8474 or localhost:8474"))
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::spec::Dur::parse(s).map(|d| d.0)
}
