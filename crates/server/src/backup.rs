//! `comet backup` and `comet restore`: a server's database and uploaded files, together.
//!
//! A SQLite database is snapshotted while the server runs (`VACUUM INTO` is one read
//! transaction, so the copy is consistent), and the files it references are then copied from
//! the uploads directory. Files are immutable once stored (written to a temporary name and
//! renamed), so a copy taken after the snapshot holds every file the snapshot refers to, save
//! those deleted in between, which are reported. PostgreSQL databases are backed up with
//! `pg_dump`; `comet backup` then copies only the files. Files kept in S3 stay in the bucket.

use crate::config::Config;
use comet_store::{Record, RecordKind, TransferStore};
use comet_store_postgres::PostgresStore;
use comet_store_sqlite::SqliteStore;
use std::io::Write;
use std::path::{Path, PathBuf};

/// `comet backup` arguments.
#[derive(clap::Args, Clone, Debug)]
pub struct BackupArgs {
    /// The directory to write the backup into; it must not exist or be empty.
    #[arg(long, value_name = "DIR")]
    pub to: PathBuf,
}

/// `comet restore` arguments.
#[derive(clap::Args, Clone, Debug)]
pub struct RestoreArgs {
    /// A directory written by `comet backup`.
    #[arg(long, value_name = "DIR")]
    pub from: PathBuf,
}

/// The database file inside a backup.
const DATABASE_FILE: &str = "comet.db";
/// The uploaded files inside a backup, and inside the data directory.
const UPLOADS_DIR: &str = "uploads";
/// What a backup holds, for people and for `restore`.
const MANIFEST_FILE: &str = "backup.json";

/// Upload records read per page while copying files.
const PAGE: u32 = 500;

fn say(out: &mut dyn Write, line: std::fmt::Arguments<'_>) {
    // Output is informative only: a closed stdout must not abort a backup halfway.
    let _ = out.write_fmt(line);
    let _ = out.write_all(b"\n");
    let _ = out.flush();
}

fn is_sqlite(url: &str) -> bool {
    url.starts_with("sqlite:")
}

/// The file path of a `sqlite://path?options` URL.
fn sqlite_path(url: &str) -> PathBuf {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    PathBuf::from(rest.split('?').next().unwrap_or(rest))
}

/// Blob keys are ids the service made; anything else in a database is not joined into a path.
fn safe_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

fn ensure_empty_dir(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                return Err(format!(
                    "{} is not empty; back up into a new directory",
                    dir.display()
                ));
            }
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display())),
        Err(e) => Err(format!("cannot read {}: {e}", dir.display())),
    }
}

/// What copying files found.
#[derive(Debug, Default)]
struct FileCopy {
    copied: u64,
    bytes: u64,
    /// Recorded but gone from the uploads directory (deleted after the snapshot).
    missing: u64,
    /// Kept by another store (S3): not in the backup.
    elsewhere: u64,
}

/// The local blob a record names, if it has one: (what it is, its store, its key).
fn local_blob(record: &Record) -> Option<(String, &str, &str)> {
    match record {
        Record::Upload(upload) => Some((
            format!("file {}", upload.id),
            upload.store.as_str(),
            upload.store_key.as_str(),
        )),
        Record::CustomEmoji(emoji) => emoji.file.as_ref().map(|file| {
            (
                format!("custom emoji {}", emoji.id),
                file.store.as_str(),
                file.store_key.as_str(),
            )
        }),
        Record::CustomSound(sound) => sound.file.as_ref().map(|file| {
            (
                format!("custom sound {}", sound.id),
                file.store.as_str(),
                file.store_key.as_str(),
            )
        }),
        _ => None,
    }
}

/// Copies the local blob of every upload, custom emoji and custom sound `store` records from
/// `from` into `to`.
async fn copy_files(store: &dyn TransferStore, from: &Path, to: &Path) -> Result<FileCopy, String> {
    tokio::fs::create_dir_all(to)
        .await
        .map_err(|e| format!("cannot create {}: {e}", to.display()))?;
    let mut report = FileCopy::default();
    for kind in [
        RecordKind::Upload,
        RecordKind::CustomEmoji,
        RecordKind::CustomSound,
    ] {
        let mut after: Option<String> = None;
        loop {
            let page = store
                .export(kind, after.as_deref(), PAGE)
                .await
                .map_err(|e| format!("cannot list files: {e}"))?;
            for record in &page.records {
                let Some((what, blob_store, key)) = local_blob(record) else {
                    continue;
                };
                if !blob_store.starts_with("FileSystem") {
                    report.elsewhere += 1;
                    continue;
                }
                if !safe_key(key) {
                    return Err(format!("{what} has an unsafe storage key"));
                }
                match tokio::fs::copy(from.join(key), to.join(key)).await {
                    Ok(bytes) => {
                        report.copied += 1;
                        report.bytes += bytes;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => report.missing += 1,
                    Err(e) => return Err(format!("cannot copy {what}: {e}")),
                }
            }
            match page.next {
                Some(next) if !page.records.is_empty() => after = Some(next),
                _ => break,
            }
        }
    }
    Ok(report)
}

/// Runs `comet backup`, writing progress to `out`.
pub async fn backup(config: &Config, args: &BackupArgs, out: &mut dyn Write) -> Result<(), String> {
    ensure_empty_dir(&args.to)?;
    let url = config.database_url();
    let uploads = config.data_dir.join(UPLOADS_DIR);
    let files = if is_sqlite(&url) {
        let live = SqliteStore::open_existing_url(&url)
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        let snapshot = args.to.join(DATABASE_FILE);
        let taken = live.snapshot_into(&snapshot).await;
        live.close().await;
        taken.map_err(|e| format!("cannot snapshot the database: {e}"))?;
        say(out, format_args!("database: {}", snapshot.display()));
        let copy = SqliteStore::open_existing_url(&format!("sqlite://{}", snapshot.display()))
            .await
            .map_err(|e| format!("cannot read the snapshot: {e}"))?;
        let files = copy_files(&copy, &uploads, &args.to.join(UPLOADS_DIR)).await;
        copy.close().await;
        files?
    } else {
        let live = PostgresStore::connect(&url)
            .await
            .map_err(|e| format!("cannot open the database: {e}"))?;
        say(
            out,
            format_args!("database: PostgreSQL is not copied; back it up with pg_dump"),
        );
        let files = copy_files(&live, &uploads, &args.to.join(UPLOADS_DIR)).await;
        live.close().await;
        files?
    };
    say(
        out,
        format_args!(
            "files: {} copied ({} bytes); {} deleted since the snapshot; {} kept in object storage",
            files.copied, files.bytes, files.missing, files.elsewhere
        ),
    );
    let manifest = serde_json::json!({
        "comet": env!("CARGO_PKG_VERSION"),
        "createdAt": comet_core::now().to_rfc3339(),
        "database": if is_sqlite(&url) { Some(DATABASE_FILE) } else { None },
        "files": files.copied,
        "bytes": files.bytes,
    });
    std::fs::write(args.to.join(MANIFEST_FILE), manifest.to_string())
        .map_err(|e| format!("cannot write the manifest: {e}"))?;
    say(out, format_args!("backup complete: {}", args.to.display()));
    Ok(())
}

/// Runs `comet restore` into the configured data directory, which must hold no database.
pub async fn restore(
    config: &Config,
    args: &RestoreArgs,
    out: &mut dyn Write,
) -> Result<(), String> {
    let url = config.database_url();
    if !is_sqlite(&url) {
        return Err(
            "restore writes a SQLite database; restore PostgreSQL with pg_restore, \
                    then copy the backup's uploads directory into the data directory"
                .into(),
        );
    }
    let source = args.from.join(DATABASE_FILE);
    if !source.is_file() {
        return Err(format!("{} holds no {DATABASE_FILE}", args.from.display()));
    }
    let target = sqlite_path(&url);
    if target.exists() {
        return Err(format!(
            "{} exists; restore into a new data directory, or move it away first",
            target.display()
        ));
    }
    // Check that the backup is a Comet database before putting it in place.
    let check = SqliteStore::open_existing_url(&format!("sqlite://{}", source.display()))
        .await
        .map_err(|e| format!("{} is not a usable backup: {e}", source.display()))?;
    check.close().await;
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let partial = target.with_extension("restoring");
    std::fs::copy(&source, &partial).map_err(|e| format!("cannot copy the database: {e}"))?;
    std::fs::rename(&partial, &target).map_err(|e| format!("cannot place the database: {e}"))?;
    say(out, format_args!("database: {}", target.display()));

    let uploads = config.data_dir.join(UPLOADS_DIR);
    std::fs::create_dir_all(&uploads)
        .map_err(|e| format!("cannot create {}: {e}", uploads.display()))?;
    let mut restored = 0u64;
    if let Ok(entries) = std::fs::read_dir(args.from.join(UPLOADS_DIR)) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(key) = name.to_str().filter(|k| safe_key(k)) else {
                continue;
            };
            if entry.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::copy(entry.path(), uploads.join(key))
                    .map_err(|e| format!("cannot copy file {key}: {e}"))?;
                restored += 1;
            }
        }
    }
    say(out, format_args!("files: {restored} restored"));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_urls_to_paths() {
        assert_eq!(
            sqlite_path("sqlite:///var/lib/comet/comet.db?mode=rwc"),
            PathBuf::from("/var/lib/comet/comet.db")
        );
        assert_eq!(
            sqlite_path("sqlite://data/comet.db"),
            PathBuf::from("data/comet.db")
        );
        assert!(!safe_key("../etc/passwd"));
        assert!(safe_key("aB3-x_y"));
    }
}
