//! The SQLite connections of the store (rusqlite), and running one statement on them.
//!
//! The writer thread and the readers open their connections here with the same settings, and
//! run statements through the same cache of prepared statements; a row is read out of SQLite
//! into owned values, so it outlives its statement and can cross threads.

use comet_store::{StoreError, StoreResult};
use comet_store_sql::Param;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, OpenFlags, ToSql};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Prepared statements a connection keeps (least recently used go first): the store's
/// everyday statements fit, so they are not parsed again.
const STATEMENT_CACHE: usize = 256;

/// Statements with more values than this (bulk inserts, the batch's index statement, long
/// lists) are prepared for the one use: their text varies with their size, so a cache would
/// hold many large ones that rarely come back.
const CACHED_MAX_PARAMS: usize = 32;

/// How long a statement waits for another process's lock before failing with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// What a connection is opened for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The one writer.
    Write,
    /// A reader: SQLite refuses it any write.
    Read,
}

/// A connection to the database file at `path` (migrated already).
pub(crate) fn open(path: &Path, access: Access) -> rusqlite::Result<Connection> {
    let flags = match access {
        Access::Write => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(BUSY_TIMEOUT)?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Sorts and temporary results stay in memory, bounded by what one statement holds.
    connection.execute_batch("PRAGMA temp_store = MEMORY;")?;
    if access == Access::Write {
        // WAL is a property of the file, set when it was created; `NORMAL` still syncs around
        // checkpoints, and with `Synchronous::Full` the log is synced after each COMMIT (see
        // `wal_sync`). Each transaction of a batch runs in a savepoint, whose journal keeps
        // the first version of every page it changes: in memory (`temp_store`) that is a
        // copy, in a temporary file a system call per page (a seventh of the writer's time);
        // bounded by one batch's pages.
        connection.execute_batch(&format!(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA journal_size_limit = {}; PRAGMA wal_autocheckpoint = {};",
            crate::WAL_SIZE_LIMIT_BYTES,
            crate::CHECKPOINT_PAGES
        ))?;
    }
    Ok(connection)
}

/// A row of a statement's result, read out of SQLite.
pub struct SqliteRow {
    columns: Arc<[String]>,
    values: Vec<Value>,
}

impl SqliteRow {
    /// The value of `column`.
    pub(crate) fn value(&self, column: &str) -> StoreResult<&Value> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| StoreError::Backend(format!("column {column}: no such column")))
    }
}

/// A value to bind, in SQLite's storage forms (lists and documents as JSON text, booleans as
/// integers).
struct Bind<'a>(&'a Param);

impl ToSql for Bind<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        let null = ToSqlOutput::Owned(Value::Null);
        Ok(match self.0 {
            Param::Int(value) => value.map_or(null, |n| ToSqlOutput::Owned(Value::Integer(n))),
            Param::Float(value) => value.map_or(null, |x| ToSqlOutput::Owned(Value::Real(x))),
            Param::Text(value) => value.as_ref().map_or(null, |text| {
                ToSqlOutput::Borrowed(ValueRef::Text(text.as_bytes()))
            }),
            Param::Bool(value) => {
                value.map_or(null, |b| ToSqlOutput::Owned(Value::Integer(i64::from(b))))
            }
            Param::TextList(items) => ToSqlOutput::Owned(Value::Text(
                serde_json::Value::from(items.clone()).to_string(),
            )),
            Param::Json(value) => value.as_ref().map_or(null, |document| {
                ToSqlOutput::Owned(Value::Text(document.to_string()))
            }),
        })
    }
}

/// Runs one statement through the cache of prepared statements: its rows and, for a statement
/// that writes, the rows it changed.
pub(crate) fn run(
    connection: &Connection,
    sql: &str,
    params: &[Param],
) -> rusqlite::Result<(Vec<SqliteRow>, u64)> {
    let (mut cached, mut once);
    let statement: &mut rusqlite::Statement<'_> = if params.len() > CACHED_MAX_PARAMS {
        once = connection.prepare(sql)?;
        &mut once
    } else {
        cached = connection.prepare_cached(sql)?;
        &mut cached
    };
    for (at, param) in params.iter().enumerate() {
        statement.raw_bind_parameter(at + 1, Bind(param))?;
    }
    let columns = statement.column_count();
    if columns == 0 {
        let changed = statement.raw_execute()?;
        return Ok((Vec::new(), changed as u64));
    }
    let names: Arc<[String]> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let writes = !statement.readonly();
    let mut found = Vec::new();
    let mut rows = statement.raw_query();
    while let Some(row) = rows.next()? {
        let values = (0..columns)
            .map(|i| row.get::<_, Value>(i))
            .collect::<rusqlite::Result<Vec<_>>>()?;
        found.push(SqliteRow {
            columns: Arc::clone(&names),
            values,
        });
    }
    drop(rows);
    let changed = if writes { connection.changes() } else { 0 };
    Ok((found, changed))
}

/// Whether a statement's error concerns the statement alone (SQLite's constraint, SQL, type
/// and size errors): the transaction around it and the connection are as they were. Anything else (disk full, I/O, busy...) may have ended the transaction, or left
/// the connection in a state the next user must not inherit.
pub(crate) fn is_local(e: &rusqlite::Error) -> bool {
    match e {
        rusqlite::Error::SqliteFailure(failure, _) => {
            // SQLITE_ERROR, SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE.
            matches!(failure.extended_code & 0xff, 1 | 18 | 19 | 20 | 25)
        }
        rusqlite::Error::SqliteSingleThreadedMode
        | rusqlite::Error::InvalidPath(_)
        | rusqlite::Error::UnwindingPanic => false,
        _ => true,
    }
}

/// Whether a statement was interrupted (by a progress handler or an interrupt handle). A read
/// interrupted leaves its connection as it was; a write's transaction is rolled back.
pub(crate) fn is_interrupted(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(failure, _)
        if failure.code == rusqlite::ErrorCode::OperationInterrupted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_that_may_end_the_transaction_are_not_local() {
        let failure = |code| {
            rusqlite::Error::SqliteFailure(rusqlite::ffi::Error::new(code), Some("x".to_owned()))
        };
        assert!(is_local(&failure(2067)), "a unique constraint");
        assert!(is_local(&failure(1)), "an SQL error");
        assert!(
            !is_local(&failure(9)),
            "an interruption (it rolls back a write)"
        );
        assert!(is_interrupted(&failure(9)));
        assert!(!is_interrupted(&failure(1)));
        assert!(!is_local(&failure(13)), "a full disk");
        assert!(!is_local(&failure(10)), "an I/O error");
        assert!(!is_local(&failure(5)), "busy");
    }
}
