//! `comet-load`: simulated Rocket.Chat web-client users against Comet. Each user logs in over
//! DDP, follows the streams the web client follows and acts (switches rooms, reads history,
//! posts, reacts, replies in threads, types, opens direct messages, searches, uploads, changes
//! status, reconnects) with think times in between. A bounded run holds a fixed number of
//! users; an unbounded run adds users while Mattermost's load-test criteria hold and removes
//! them when one fails. The report is a table, a JSON file and an SVG chart.

#![allow(
    clippy::print_stdout,
    reason = "a command-line report: printing is its purpose"
)]

use clap::Parser;
use std::path::PathBuf;

mod ddp;
mod report;
mod run;
mod seed;
mod stats;
mod user;

#[derive(Parser)]
#[command(about = "Simulated web-client users against Comet")]
enum Command {
    /// Runs simulated users against a server (started here unless `--url` is given) and
    /// reports per action, the criteria, and the server's CPU and memory.
    Run(Box<run::RunArgs>),
    /// Prepares a data directory for a server started by hand (`COMET_DATA_DIR`): starts
    /// `--comet` once on it, stops it, and bulk-imports the data set.
    Seed {
        /// The data directory (created; must not hold a database yet).
        #[arg(long)]
        data_dir: PathBuf,
        #[arg(long, default_value = "target/release/comet")]
        comet: String,
        /// bcrypt cost of the seeded passwords.
        #[arg(long, default_value_t = 10)]
        bcrypt_cost: u32,
        #[command(flatten)]
        size: seed::SeedSize,
    },
}

async fn main_result() -> Result<bool, String> {
    match Command::parse() {
        Command::Seed {
            data_dir,
            comet,
            bcrypt_cost,
            size,
        } => {
            if data_dir.join("comet.db").exists() {
                return Err(format!(
                    "{} already holds a database: seed a fresh directory",
                    data_dir.display()
                ));
            }
            run::prepare(&comet, &data_dir, &size, bcrypt_cost).await?;
            println!(
                "seeded {}; start the server on it with COMET_DATA_DIR={} and the settings in \
                 BENCHMARKS.md (rate limits off)",
                data_dir.display(),
                data_dir.display()
            );
            Ok(true)
        }
        Command::Run(args) => {
            let (json_path, svg_path) = (args.json.clone(), args.svg.clone());
            let report = run::run(*args).await?;
            print!("{}", report.table());
            let json = serde_json::to_string_pretty(&report.json).map_err(|e| e.to_string())?;
            std::fs::write(&json_path, json)
                .map_err(|e| format!("{}: {e}", json_path.display()))?;
            std::fs::write(&svg_path, report.svg())
                .map_err(|e| format!("{}: {e}", svg_path.display()))?;
            println!(
                "report: {}, chart: {}",
                json_path.display(),
                svg_path.display()
            );
            Ok(true)
        }
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // reqwest is built without a bundled TLS crypto provider (see the workspace Cargo.toml).
    let _ = rustls::crypto::ring::default_provider().install_default();
    match comet_bench::process::until_stopped(main_result())
        .await
        .and_then(|outcome| outcome)
    {
        Ok(_) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("comet-load failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
