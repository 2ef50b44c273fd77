//! `comet`: serve with configuration from flags and environment, or run a subcommand
//! (`comet migrate-db`).

use comet_server::backup;
use comet_server::logging::{FlushOnDrop, QueuedOutput, RecentLines};
use comet_server::migrate::migrate_db;
use comet_server::{Command, Config, launch};
use tokio::net::TcpListener;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::writer::BoxMakeWriter;

/// jemalloc, so that memory taken at a peak (thousands of connections, a burst of messages) is
/// returned to the system once it passes; glibc's malloc keeps it (see BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Sets up logging; the logs queued for the output are written when the guard is dropped.
fn init_logging(config: &Config) -> Option<FlushOnDrop> {
    use tracing_subscriber::fmt;
    use tracing_subscriber::prelude::*;
    let filter = EnvFilter::try_new(&config.log).unwrap_or_else(|_| EnvFilter::new("info"));
    // A subcommand's own output goes to stdout; its logs stay out of the way on stderr. The
    // server's go through a queue, so that an output read slowly never holds up a request.
    let (writer, guard) = if config.command.is_some() {
        (BoxMakeWriter::new(std::io::stderr), None)
    } else {
        match QueuedOutput::start(Box::new(std::io::stdout())) {
            Ok((queued, guard)) => (BoxMakeWriter::new(queued), Some(guard)),
            Err(e) => {
                eprintln!("comet: logging in place: cannot start the log thread: {e}");
                (BoxMakeWriter::new(std::io::stdout), None)
            }
        }
    };
    // The same events, as plain text, for administrators reading `stdout.queue`.
    let recent = fmt::layer().with_ansi(false).with_writer(RecentLines);
    let registry = tracing_subscriber::registry().with(filter).with(recent);
    if config.log_format == "json" {
        registry
            .with(fmt::layer().json().with_writer(writer))
            .init();
    } else {
        registry.with(fmt::layer().with_writer(writer)).init();
    }
    guard
}

/// Resolves on SIGTERM or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::warn!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down");
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let config = Config::from_env_and_args();
    let _flush_logs = init_logging(&config);
    let outcome = match &config.command {
        Some(Command::MigrateDb(args)) => Some((
            "migrate-db",
            migrate_db(args, &mut std::io::stdout())
                .await
                .map_err(|e| e.to_string()),
        )),
        Some(Command::Backup(args)) => Some((
            "backup",
            backup::backup(&config, args, &mut std::io::stdout()).await,
        )),
        Some(Command::Restore(args)) => Some((
            "restore",
            backup::restore(&config, args, &mut std::io::stdout()).await,
        )),
        Some(Command::Audit(args)) => Some((
            "audit",
            comet_server::audit::run(&config, args, &mut std::io::stdout()).await,
        )),
        None => None,
    };
    if let Some((command, result)) = outcome {
        return match result {
            Ok(()) => std::process::ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("comet {command}: {e}");
                std::process::ExitCode::FAILURE
            }
        };
    }
    let address = format!("{}:{}", config.bind, config.port);
    let listener = match TcpListener::bind(&address).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(%address, error = %e, "cannot listen");
            return std::process::ExitCode::FAILURE;
        }
    };
    match launch(config, listener, shutdown_signal()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "comet stopped");
            std::process::ExitCode::FAILURE
        }
    }
}
