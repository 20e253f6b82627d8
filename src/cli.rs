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
    /// Check experiment files; print every error as FILE:LINE:COL: path: message.
    #[command(after_help = "Example:\n  shakeout validate experiments/*.yaml\n\n\
        Exit 0 when every file is valid, 2 when any is not.")]
    Validate {
        /// Experiment files (YAML) to check; all errors of all files are printed.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
    },
    /// Print the concrete timeline of an experiment. Touches nothing.
    #[command(
        after_help = "Examples:\n  shakeout plan experiments/zone-loss.yaml\n  \
        shakeout plan --preflight experiments/process-pause.yaml\n\n\
        With --preflight: exit 0 when every check passed, 3 when one failed."
    )]
    Plan {
        /// The experiment file (YAML) to describe.
        file: PathBuf,
        /// Also run the read-only checks `run` makes before t=0 (fault targets exist,
        /// probe targets answer once) and print each result.
        #[arg(long)]
        preflight: bool,
    },
    /// Run an experiment and write its reports and charts.
    #[command(
        after_help = "Examples:\n  shakeout run experiments/zone-loss.yaml\n  \
        shakeout run experiments/zone-loss.yaml --out runs/today --quiet > run.log\n\n\
        The verdict summary goes to stdout, logs to stderr. Exit 0 pass, 1 SLA failed, \
        2 invalid input, 3 harness error, 4 a fault may not be reverted."
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

#[derive(Debug, Args)]
pub struct RunArgs {
    /// The experiment file (YAML) to run.
    pub file: PathBuf,
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
