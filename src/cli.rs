//! Command-line definitions (clap). No logic here.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "shakeout",
    version,
    about = "Break things on purpose, measure, and judge against your SLA."
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
    Validate {
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Print the concrete timeline of an experiment. Touches nothing.
    Plan { file: PathBuf },
    /// Run an experiment and write its reports and charts.
    Run(RunArgs),
    /// Revert whatever a run's journal says is still applied (after a crash or kill -9).
    Rollback {
        /// The run's directory (the one holding journal.jsonl).
        dir: PathBuf,
    },
    /// Re-render the reports and charts of a past run from its saved events, judged
    /// against the SLA the run recorded.
    Report {
        /// The run's directory (the one holding events.jsonl).
        dir: PathBuf,
        /// Judge the run again against the SLA in its saved experiment.yaml (edit the
        /// thresholds there first), instead of the SLA it was run with.
        #[arg(long)]
        rejudge: bool,
    },
    /// The embedded demo deployment.
    Demo {
        #[command(subcommand)]
        command: DemoCommand,
    },
    /// The built-in TCP fault proxy.
    Proxy {
        #[command(subcommand)]
        command: ProxyCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProxyCommand {
    /// Serve Toxiproxy's HTTP API (existing Toxiproxy clients work unchanged) until Ctrl-C.
    Serve {
        /// Where the API listens.
        #[arg(long, default_value = "127.0.0.1:8474")]
        listen: SocketAddr,
        /// Proxies to create at start: a JSON array like Toxiproxy's `-config`.
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct RunArgs {
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
}

#[derive(Debug, Subcommand)]
pub enum DemoCommand {
    /// Serve the demo deployment until Ctrl-C, so other tools can be pointed at it.
    Serve {
        #[arg(long, default_value = "127.0.0.1:18080")]
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
    },
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    crate::spec::Dur::parse(s).map(|d| d.0)
}
