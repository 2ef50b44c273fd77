//! `comet migrate-db`: copies a whole database into a new, empty one (typically a single-node
//! server's SQLite file into PostgreSQL, to run several instances), then checks that every
//! table holds as many records on both sides.
//!
//! It works between any two backends, through the stores' export and import
//! ([`comet_store::TransferStore`]): table by table in dependency order, a batch of records
//! per read and per write transaction, so that memory stays bounded whatever the size. The
//! source is only read (opening it applies pending migrations, as starting a server would);
//! no server may be using either database meanwhile.

use comet_store::transfer::copy_kind;
use comet_store::{RecordKind, Store};
use comet_store_postgres::PostgresStore;
use comet_store_sqlite::SqliteStore;
use std::io::Write;
use std::time::{Duration, Instant};

/// `comet migrate-db` arguments.
#[derive(clap::Args, Clone)]
pub struct MigrateDbArgs {
    /// The database to copy from: `sqlite://path` or `postgres://user:password@host/db`.
    /// It is only read; stop every server using it first.
    #[arg(long, value_name = "URL")]
    pub from: String,

    /// The database to copy into, which must exist (for PostgreSQL) and be empty: a
    /// `sqlite://` file is created if missing. Same URL forms as DATABASE_URL.
    #[arg(long, value_name = "URL")]
    pub to: String,

    /// Records per read and per write transaction.
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub batch_size: u32,
}

impl std::fmt::Debug for MigrateDbArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MigrateDbArgs")
            .field("from", &redact_url(&self.from))
            .field("to", &redact_url(&self.to))
            .field("batch_size", &self.batch_size)
            .finish()
    }
}

/// Why a migration stopped; the message says what to do.
#[derive(Debug)]
pub struct MigrateError(pub String);

impl std::fmt::Display for MigrateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for MigrateError {}

/// A database URL fit for output: the password (`user:password@`, or a `password=` query
/// parameter) replaced by `***`.
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end + 3 => {
            let credentials = &base[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => {
                    format!("{}{user}:***{}", &base[..scheme_end + 3], &base[at..])
                }
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| match pair.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => pair.to_owned(),
            })
            .collect();
        out.push('?');
        out.push_str(&pairs.join("&"));
    }
    out
}

/// The passwords a URL carries (`user:password@`, `password=`), to scrub from error messages
/// that might quote the URL in some form of their own.
fn passwords(url: &str) -> Vec<&str> {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut found = Vec::new();
    if let (Some(scheme_end), Some(at)) = (base.find("://"), base.rfind('@'))
        && at > scheme_end + 3
        && let Some((_, password)) = base[scheme_end + 3..at].split_once(':')
    {
        found.push(password);
    }
    for pair in query.split('&') {
        if let Some((key, value)) = pair.split_once('=')
            && key.eq_ignore_ascii_case("password")
        {
            found.push(value);
        }
    }
    found.retain(|password| !password.is_empty());
    found
}

/// `message` with every password of `url` replaced by `***`.
fn scrub(message: String, url: &str) -> String {
    passwords(url)
        .into_iter()
        .fold(message, |message, password| {
            message.replace(password, "***")
        })
}

/// An open database of either backend, kept concrete so that it can be closed cleanly (SQLite
/// folds its write-ahead log back into the file when the last connection closes).
enum Database {
    Sqlite(SqliteStore),
    Postgres(PostgresStore),
}

impl Database {
    /// Opens `url`; a SQLite source must exist (a mistyped path must not read as an empty
    /// server), a SQLite target is created.
    async fn open(url: &str, must_exist: bool) -> Result<Database, String> {
        let scheme = url.split(':').next().unwrap_or_default();
        let opened = match scheme {
            "sqlite" if must_exist => SqliteStore::open_existing_url(url)
                .await
                .map(Database::Sqlite)
                .map_err(|e| e.to_string()),
            "sqlite" => SqliteStore::open_url(url)
                .await
                .map(Database::Sqlite)
                .map_err(|e| e.to_string()),
            "postgres" | "postgresql" => PostgresStore::connect(url)
                .await
                .map(Database::Postgres)
                .map_err(|e| e.to_string()),
            other => Err(format!(
                "unsupported scheme {other:?}; use sqlite:// or postgres://"
            )),
        };
        opened.map_err(|message| scrub(message, url))
    }

    fn store(&self) -> &dyn Store {
        match self {
            Database::Sqlite(store) => store,
            Database::Postgres(store) => store,
        }
    }

    async fn close(self) {
        match self {
            Database::Sqlite(store) => store.close().await,
            Database::Postgres(store) => store.close().await,
        }
    }
}

/// Writes a line of progress. Output is only informative: a closed stdout must not abort a
/// copy halfway, so write errors are ignored.
fn say(out: &mut dyn Write, line: std::fmt::Arguments<'_>) {
    let _ = out.write_fmt(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

/// How often a long table reports how far it got.
const PROGRESS_EVERY: Duration = Duration::from_secs(5);

/// Records per kind, in [`RecordKind::ALL`]'s order.
async fn counts(store: &dyn Store) -> Result<Vec<(RecordKind, u64)>, comet_store::StoreError> {
    let mut counts = Vec::with_capacity(RecordKind::ALL.len());
    for kind in RecordKind::ALL {
        counts.push((kind, store.count_records(kind).await?));
    }
    Ok(counts)
}

fn describe(counts: &[(RecordKind, u64)]) -> String {
    counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(kind, n)| format!("{kind}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs the migration, writing progress to `out`.
pub async fn migrate_db(args: &MigrateDbArgs, out: &mut dyn Write) -> Result<(), MigrateError> {
    let (from_shown, to_shown) = (redact_url(&args.from), redact_url(&args.to));
    if args.from == args.to {
        return Err(MigrateError(format!(
            "--from and --to both name {from_shown}: the target must be a new database"
        )));
    }
    let source = Database::open(&args.from, true)
        .await
        .map_err(|e| MigrateError(format!("cannot open the source {from_shown}: {e}")))?;
    let target = match Database::open(&args.to, false).await {
        Ok(target) => target,
        Err(e) => {
            source.close().await;
            return Err(MigrateError(format!(
                "cannot open the target {to_shown}: {e}"
            )));
        }
    };
    let result = copy_all(
        source.store(),
        target.store(),
        args.batch_size,
        (&from_shown, &to_shown),
        out,
    )
    .await;
    source.close().await;
    target.close().await;
    result
}

async fn copy_all(
    source: &dyn Store,
    target: &dyn Store,
    batch: u32,
    (from_shown, to_shown): (&str, &str),
    out: &mut dyn Write,
) -> Result<(), MigrateError> {
    let read_failed =
        |which: &str, e: comet_store::StoreError| MigrateError(format!("cannot read {which}: {e}"));
    let source_counts = counts(source)
        .await
        .map_err(|e| read_failed(from_shown, e))?;
    if source_counts.iter().all(|(_, n)| *n == 0) {
        return Err(MigrateError(format!(
            "the source {from_shown} holds nothing (no users, settings or rooms): is --from \
             the right database?"
        )));
    }
    let target_counts = counts(target).await.map_err(|e| read_failed(to_shown, e))?;
    if target_counts.iter().any(|(_, n)| *n > 0) {
        return Err(MigrateError(format!(
            "the target {to_shown} is not empty ({}); migrate-db only copies into a new, \
             empty database: create one (or give a new SQLite file) and point --to at it",
            describe(&target_counts)
        )));
    }

    say(out, format_args!("copying {from_shown} to {to_shown}"));
    let started = Instant::now();
    for (kind, total) in &source_counts {
        let (kind, total) = (*kind, *total);
        let table_started = Instant::now();
        let mut copied_so_far = 0u64;
        let mut last_report = Instant::now();
        let copied = copy_kind(source, target, kind, batch, |n| {
            copied_so_far = n;
            if last_report.elapsed() >= PROGRESS_EVERY && n < total {
                say(out, format_args!("  {kind}: {n}/{total}"));
                last_report = Instant::now();
            }
        })
        .await
        .map_err(|e| {
            MigrateError(format!(
                "copying {kind} failed after {copied_so_far} of {total} records: {e}. The target \
                 now holds a partial copy: empty it (drop and create the database again, or \
                 delete the SQLite file) before trying again"
            ))
        })?;
        say(
            out,
            format_args!(
                "  {kind}: {copied} copied in {:.1} s",
                table_started.elapsed().as_secs_f64()
            ),
        );
    }

    say(out, format_args!("verifying record counts"));
    let source_after = counts(source)
        .await
        .map_err(|e| read_failed(from_shown, e))?;
    let target_after = counts(target).await.map_err(|e| read_failed(to_shown, e))?;
    let mut mismatches = Vec::new();
    for ((kind, before), ((_, now), (_, copied))) in source_counts
        .iter()
        .zip(source_after.iter().zip(target_after.iter()))
    {
        let ok = before == now && now == copied;
        say(
            out,
            format_args!(
                "  {kind}: source {now}, target {copied}{}",
                if ok { "" } else { "  MISMATCH" }
            ),
        );
        if !ok {
            mismatches.push(format!("{kind} (source {now}, target {copied})"));
        }
    }
    if !mismatches.is_empty() {
        return Err(MigrateError(format!(
            "record counts differ after the copy: {}; was a server writing to the source \
             meanwhile? Empty the target and try again with every server stopped",
            mismatches.join(", ")
        )));
    }
    let total: u64 = target_after.iter().map(|(_, n)| n).sum();
    say(
        out,
        format_args!(
            "done: {total} records copied and verified in {:.1} s; start Comet with \
             DATABASE_URL={to_shown}",
            started.elapsed().as_secs_f64()
        ),
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{redact_url, scrub};

    #[test]
    fn passwords_never_reach_the_output() {
        assert_eq!(
            redact_url("postgres://comet:s3cr3t@db:5432/comet"),
            "postgres://comet:***@db:5432/comet"
        );
        assert_eq!(
            redact_url(
                "postgresql://comet:p@ss@db/comet?sslmode=require&password=x&max_connections=4"
            ),
            "postgresql://comet:***@db/comet?sslmode=require&password=***&max_connections=4"
        );
        assert_eq!(redact_url("postgres://db/comet"), "postgres://db/comet");
        assert_eq!(
            scrub(
                "at postgres://u:pw1@db/c?password=pw2: no".to_owned(),
                "postgres://u:pw1@db/c?password=pw2"
            ),
            "at postgres://u:***@db/c?password=***: no"
        );
        assert_eq!(
            redact_url("postgres://comet@db/comet"),
            "postgres://comet@db/comet"
        );
        assert_eq!(
            redact_url("sqlite://./data/comet.db"),
            "sqlite://./data/comet.db"
        );
    }
}
