//! `comet audit verify`: checks the audit log's hash chain from the configured database.

use crate::Config;
use comet_core::audit::ChainVerdict;
use comet_store::AuditStore;
use comet_store_postgres::PostgresStore;
use comet_store_sqlite::SqliteStore;
use std::io::Write;

/// `comet audit <command>`.
#[derive(clap::Args, Clone, Debug)]
pub struct AuditArgs {
    #[command(subcommand)]
    pub command: AuditCommand,
}

#[derive(clap::Subcommand, Clone, Debug)]
pub enum AuditCommand {
    /// Check every entry's hash and its link to the entry before it; prints OK with the
    /// number of entries, or the sequence number of the first broken link (and fails).
    Verify,
}

/// Runs an audit command against the database `config` names; `Err` says why it failed.
pub async fn run(config: &Config, args: &AuditArgs, out: &mut dyn Write) -> Result<(), String> {
    match args.command {
        AuditCommand::Verify => {
            let url = config.database_url();
            let verdict = match url.split(':').next().unwrap_or_default() {
                "sqlite" => {
                    let store = SqliteStore::open_existing_url(&url)
                        .await
                        .map_err(|e| format!("cannot open the database: {e}"))?;
                    let verdict = verify(&store).await;
                    store.close().await;
                    verdict?
                }
                "postgres" | "postgresql" => {
                    let store = PostgresStore::connect(&url)
                        .await
                        .map_err(|e| format!("cannot open the database: {e}"))?;
                    let verdict = verify(&store).await;
                    store.close().await;
                    verdict?
                }
                other => return Err(format!("unsupported DATABASE_URL scheme {other:?}")),
            };
            match verdict {
                ChainVerdict::Intact { entries } => {
                    let _ = writeln!(out, "audit log OK: {entries} entries verified");
                    Ok(())
                }
                ChainVerdict::Broken { seq, reason } => {
                    Err(format!("audit log broken at entry {seq}: {reason}"))
                }
            }
        }
    }
}

async fn verify(store: &impl AuditStore) -> Result<ChainVerdict, String> {
    comet_service::audit::verify_chain(store)
        .await
        .map_err(|e| format!("cannot read the audit log: {e}"))
}
