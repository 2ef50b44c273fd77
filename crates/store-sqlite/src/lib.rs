//! SQLite backend of Comet's store traits: the driver and dialect under `comet-store-sql`.
//!
//! One file in WAL mode. Writes go through a single connection, owned by a thread of its own,
//! so writers queue in the process instead of spinning on `SQLITE_BUSY` (and transactions
//! never interleave, so they take no row locks); reads run on read-only connections where
//! they are asked for, and never wait for a writer (WAL readers see the last committed state):
//! see `readers`. By default a commit is
//! on disk before it is acknowledged, and transactions that come together share one COMMIT
//! and one sync: see `writer` and `wal_sync`.

use async_trait::async_trait;
use comet_core::room::Message;
use comet_store::transfer::RecordKind;
use comet_store::{Conflict, PoolStats, StoreError, StoreResult};
use comet_store_sql::{Database, OpenFile, Param, Query, SqlRow, SqlStore, Transaction};
use connection::SqliteRow;
use readers::{Reader, Readers};
use serde_json::Value;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;
use wal_sync::WalSync;
use writer::{IndexEntry, WriteTx, Writer};

mod connection;
mod readers;
mod wal_sync;
mod writer;

/// The most reader connections open at once. A read holds one only while SQLite runs it on
/// the asking thread (so about as many as there are async workers are in use), or while it
/// runs on a blocking thread, or for reads that belong together.
const READERS: u32 = 8;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store.
pub type SqliteStore = SqlStore<SqliteDatabase>;

/// The write-ahead log's length, in pages, past which the writer copies it into the database
/// (SQLite's `wal_autocheckpoint`; 64 MiB of pages). A checkpoint writes each page once however
/// many times the log holds it, and syncs the database file, while posts rewrite the same few
/// pages of their rooms (the room's row, its index entries, its members' subscriptions). At
/// SQLite's default of 1,000 pages a post cost the writer 3.7 reads and 13.2 writes (system
/// calls) and 32 KB written to disk; at this interval 1.8, 10.8 and 24 KB, and posts gained
/// 12–16 % (BENCHMARKS.md, session 23).
pub const CHECKPOINT_PAGES: u32 = 16_384;

/// What the write-ahead log file is cut back to once a checkpoint has emptied it. SQLite
/// otherwise keeps the file as large as it ever grew: a migration that rebuilt the search
/// index of 5,000,000 messages left 520 MB of it behind. Everyday writes stay below it (a
/// checkpoint runs at [`CHECKPOINT_PAGES`], 64 MiB of pages and their frame headers, plus the
/// batch that crossed it), so it costs no regrowth.
pub const WAL_SIZE_LIMIT_BYTES: u64 = 80 * 1024 * 1024;

/// How a commit reaches the disk: SQLite's `synchronous` setting, in WAL mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// The write-ahead log is synced before a commit is acknowledged, so an acknowledged write
    /// survives a power cut; transactions committing together share one sync. (SQLite's own
    /// `FULL` would sync inside the write lock; Comet syncs after COMMIT, outside it, and runs
    /// the connection with `NORMAL`, which still syncs around checkpoints.)
    #[default]
    Full,
    /// The log is synced only at checkpoints: an acknowledged write survives a crash of the
    /// process but a power cut may lose the last moments (it never corrupts the database).
    Normal,
}

/// An open SQLite database: the writer (one connection, group commit) and a reader pool.
#[derive(Clone)]
pub struct SqliteDatabase {
    writer: Writer,
    readers: Readers,
}

impl std::fmt::Debug for SqliteDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint failure to the field it protects (SQLite names the index or the
/// columns in its message), anything else to a backend failure.
fn store_error(e: &rusqlite::Error) -> StoreError {
    if let rusqlite::Error::SqliteFailure(failure, message) = e
        && matches!(
            failure.extended_code,
            rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        )
    {
        return StoreError::Conflict(conflict_named_in(message.as_deref().unwrap_or_default()));
    }
    backend(e)
}

/// The field a unique-constraint failure protects, from the index or the columns SQLite names.
fn conflict_named_in(message: &str) -> Conflict {
    if message.contains("username_key") {
        Conflict::Username
    } else if message.contains("email_key") {
        Conflict::Email
    } else if message.contains("login_tokens.user_id") || message.contains("login_tokens.name") {
        Conflict::TokenName
    } else if message.contains("roles.name") {
        Conflict::RoleName
    } else if message.contains("rooms.name_key") {
        Conflict::RoomName
    } else {
        Conflict::Id
    }
}

/// A query's SQL with anonymous placeholders, and its values in the order they are bound.
fn sqlite_form(query: Query) -> (String, Vec<Param>) {
    let (sql, params) = query.into_parts();
    anonymous_placeholders(&sql, params)
}

/// Rewrites the `$n` placeholders of a query as anonymous `?`s, with the values in the order
/// the placeholders appear (a value used twice is bound twice). SQLite keeps named and
/// numbered placeholders in a list it searches linearly, both when it parses a statement and
/// each time the driver asks a parameter's name to bind it, so a statement with thousands of
/// them (a bulk insert, a long `IN` list) cost time quadratic in their number: a 1,000-row
/// message insert spent over 80 % of an import in that search. Anonymous placeholders are not
/// in the list. Text inside quotes (string literals such as JSON paths `'$.a'`, quoted
/// identifiers) is left alone.
fn anonymous_placeholders(sql: &str, mut params: Vec<Param>) -> (String, Vec<Param>) {
    let bytes = sql.as_bytes();
    let mut out = String::with_capacity(sql.len());
    let mut ordered: Vec<Param> = Vec::with_capacity(params.len());
    // Each value moves to its first placeholder; a later use of the same number copies it
    // from there, so the common case (each used once) copies nothing.
    let mut first_use: Vec<Option<usize>> = vec![None; params.len()];
    // Everything searched for is ASCII, so byte offsets always fall between characters.
    let mut copied = 0;
    let mut quote: Option<u8> = None;
    let mut at = 0;
    while at < bytes.len() {
        let byte = bytes[at];
        match quote {
            // A doubled quote inside quotes is an escaped quote: leaving and re-entering the
            // quotes at once reads it correctly.
            Some(open) if byte == open => quote = None,
            Some(_) => {}
            None if byte == b'\'' || byte == b'"' => quote = Some(byte),
            None if byte == b'$' => {
                let digits = bytes[at + 1..]
                    .iter()
                    .take_while(|d| d.is_ascii_digit())
                    .count();
                let index = sql[at + 1..at + 1 + digits]
                    .parse::<usize>()
                    .ok()
                    .and_then(|n| n.checked_sub(1))
                    .filter(|&i| i < params.len());
                if let Some(i) = index {
                    let value = match first_use[i] {
                        Some(earlier) => ordered[earlier].clone(),
                        None => {
                            first_use[i] = Some(ordered.len());
                            std::mem::replace(&mut params[i], Param::Int(None))
                        }
                    };
                    out.push_str(&sql[copied..at]);
                    out.push('?');
                    ordered.push(value);
                    at += 1 + digits;
                    copied = at;
                    continue;
                }
            }
            None => {}
        }
        at += 1;
    }
    out.push_str(&sql[copied..]);
    (out, ordered)
}

impl SqliteRow {
    fn get<T: FromColumn>(&self, column: &str) -> StoreResult<T> {
        T::from_value(self.value(column)?)
            .map_err(|e| StoreError::Backend(format!("column {column}: {e}")))
    }
}

/// A column's value as a Rust type. SQLite's dynamic types are held to the column's type (an
/// integer is not text): a value of another type is an error, not a conversion.
trait FromColumn: Sized {
    fn from_value(value: &rusqlite::types::Value) -> Result<Self, String>;
}

fn mismatch<T>(value: &rusqlite::types::Value, wanted: &str) -> Result<T, String> {
    Err(format!(
        "a {wanted} was expected, the row has {:?}",
        value.data_type()
    ))
}

impl FromColumn for String {
    fn from_value(value: &rusqlite::types::Value) -> Result<Self, String> {
        match value {
            rusqlite::types::Value::Text(text) => Ok(text.clone()),
            other => mismatch(other, "text"),
        }
    }
}

impl FromColumn for i64 {
    fn from_value(value: &rusqlite::types::Value) -> Result<Self, String> {
        match value {
            rusqlite::types::Value::Integer(n) => Ok(*n),
            other => mismatch(other, "integer"),
        }
    }
}

impl FromColumn for f64 {
    fn from_value(value: &rusqlite::types::Value) -> Result<Self, String> {
        match value {
            rusqlite::types::Value::Real(x) => Ok(*x),
            // A whole number stored without REAL affinity comes back as an integer.
            #[expect(
                clippy::cast_precision_loss,
                reason = "as SQLite itself converts an integer to REAL"
            )]
            rusqlite::types::Value::Integer(n) => Ok(*n as f64),
            other => mismatch(other, "number"),
        }
    }
}

impl FromColumn for bool {
    fn from_value(value: &rusqlite::types::Value) -> Result<Self, String> {
        match value {
            rusqlite::types::Value::Integer(n) => Ok(*n != 0),
            other => mismatch(other, "boolean"),
        }
    }
}

impl<T: FromColumn> FromColumn for Option<T> {
    fn from_value(value: &rusqlite::types::Value) -> Result<Self, String> {
        match value {
            rusqlite::types::Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

fn parse_json(column: &str, text: &str) -> StoreResult<Value> {
    serde_json::from_str(text)
        .map_err(|_| StoreError::Backend(format!("unexpected {column} in database: {text:?}")))
}

impl SqlRow for SqliteRow {
    fn text(&self, column: &str) -> StoreResult<String> {
        self.get(column)
    }

    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.get(column)
    }

    fn int(&self, column: &str) -> StoreResult<i64> {
        self.get(column)
    }

    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        self.get(column)
    }

    fn float(&self, column: &str) -> StoreResult<f64> {
        self.get(column)
    }

    fn bool(&self, column: &str) -> StoreResult<bool> {
        self.get(column)
    }

    fn opt_bool(&self, column: &str) -> StoreResult<Option<bool>> {
        self.get(column)
    }

    fn text_list(&self, column: &str) -> StoreResult<Vec<String>> {
        match self.json(column)? {
            Value::Array(items) => Ok(items
                .into_iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()),
            other => Err(StoreError::Backend(format!(
                "unexpected {column} in database: {other}"
            ))),
        }
    }

    fn opt_json(&self, column: &str) -> StoreResult<Option<Value>> {
        let text: Option<String> = self.get(column)?;
        text.map(|text| parse_json(column, &text)).transpose()
    }
}

/// A write transaction on the writer, or a reader connection for reads that belong together
/// (WAL gives each statement the last committed state; no transaction is needed to read).
pub enum SqliteSession {
    Write(WriteTx),
    Read(Reader),
}

#[async_trait]
impl Transaction for SqliteSession {
    type Row = SqliteRow;

    async fn read(&mut self, query: Query) -> StoreResult<Vec<SqliteRow>> {
        match self {
            SqliteSession::Write(tx) => tx.fetch(query).await,
            SqliteSession::Read(reader) => reader.fetch_all(query).await,
        }
    }

    async fn write(&mut self, query: Query) -> StoreResult<u64> {
        match self {
            SqliteSession::Write(tx) => tx.execute(query).await,
            SqliteSession::Read(reader) => reader.execute(query).await,
        }
    }

    async fn queue(&mut self, query: Query) -> StoreResult<()> {
        match self {
            SqliteSession::Write(tx) => tx.queue(query).await,
            SqliteSession::Read(_) => self.write(query).await.map(drop),
        }
    }

    /// Held by the transaction, and added with the rest of its batch just before the batch
    /// commits (see [`writer::IndexEntry`]).
    async fn index_messages(&mut self, messages: &[&Message]) -> StoreResult<()> {
        match self {
            SqliteSession::Write(tx) => {
                tx.index_later(messages.iter().filter_map(|m| IndexEntry::of(m)));
                Ok(())
            }
            SqliteSession::Read(_) => Err(StoreError::Backend(
                "a read-only transaction cannot index messages".to_owned(),
            )),
        }
    }

    async fn commit(self) -> StoreResult<()> {
        match self {
            SqliteSession::Write(tx) => tx.commit().await,
            SqliteSession::Read(_) => Ok(()),
        }
    }
}

#[async_trait]
impl Database for SqliteDatabase {
    type Row = SqliteRow;
    type Tx = SqliteSession;

    // The partial indexes say `= 1`, and SQLite matches them only to the same expression.
    const TRUE: &'static str = "1";
    const FALSE: &'static str = "0";
    const INSERTION_ORDER: &'static str = "rowid";
    const LOCKS_ROWS: bool = false;
    const KEY_LOCK: Option<&'static str> = None;
    const BYTEWISE: &'static str = "";
    const USER_ROLES_IN_ROW: bool = false;
    const USER_ROLES_COLUMN: &'static str = "(SELECT json_group_array(role) FROM \
        (SELECT role FROM user_roles r WHERE r.user_id = u.id ORDER BY r.ord)) AS roles";
    // SQLite's data-modifying statements cannot be common table expressions.
    const DELETE_IN_CTE: bool = false;
    // The index is the FTS5 table `message_words` (migration 0030; `index_messages`).
    const SEARCH_COLUMN: Option<&'static str> = None;
    const DATABASE_SIZE: &'static str =
        "SELECT p.page_count * s.page_size AS n FROM pragma_page_count() p, pragma_page_size() s";

    /// Through the `user_roles_role` index, rather than a probe per user.
    fn user_has_role(param: &str) -> String {
        format!("u.id IN (SELECT user_id FROM user_roles WHERE role = {param})")
    }

    fn in_list(column: &str, param: &str) -> String {
        format!("{column} IN (SELECT value FROM json_each({param}))")
    }

    fn list_contains(column: &str, param: &str) -> String {
        format!("EXISTS (SELECT 1 FROM json_each({column}) e WHERE e.value = {param})")
    }

    fn list_add(column: &str, param: &str) -> String {
        format!(
            "CASE WHEN EXISTS (SELECT 1 FROM json_each({column}) e WHERE e.value = {param}) \
               THEN {column} ELSE json_insert({column}, '$[#]', {param}) END"
        )
    }

    fn list_remove(column: &str, param: &str) -> String {
        format!(
            "(SELECT json_group_array(e.value) FROM json_each({column}) e \
              WHERE e.value <> {param})"
        )
    }

    fn json_array_contains(doc: &str, key: &str, param: &str) -> String {
        format!("EXISTS (SELECT 1 FROM json_each({doc}, '$.{key}') e WHERE e.value = {param})")
    }

    fn json_array_has_id(doc: &str, key: &str, param: &str) -> String {
        format!(
            "EXISTS (SELECT 1 FROM json_each({doc}, '$.{key}') e \
             WHERE json_extract(e.value, '$.id') = {param})"
        )
    }

    fn json_text(doc: &str, key: &str) -> String {
        format!("json_extract({doc}, '$.{key}')")
    }

    fn json_set_text(doc: &str, key: &str, param: &str) -> String {
        format!("json_set({doc}, '$.{key}', {param})")
    }

    fn json_add_to_set(doc: &str, key: &str, param: &str) -> String {
        format!(
            "CASE WHEN json_type({doc}, '$.{key}') IS NULL \
               THEN json_set({doc}, '$.{key}', json_array({param})) \
             WHEN json_type({doc}, '$.{key}') = 'array' AND NOT EXISTS \
               (SELECT 1 FROM json_each({doc}, '$.{key}') e WHERE e.value = {param}) \
               THEN json_insert({doc}, '$.{key}[#]', {param}) \
             ELSE {doc} END"
        )
    }

    /// Never asked for: there is no [`Database::SEARCH_COLUMN`] to fill.
    fn search_index(_q: &mut Query, _text: &str) -> String {
        "NULL".to_owned()
    }

    /// Each live message's words under its room's key, found by id (a message's rowid is
    /// the database's to choose).
    fn search(
        q: &mut Query,
        room_id: &str,
        text: &str,
        oldest_first: bool,
        filter: &mut dyn FnMut(&mut Query),
    ) -> bool {
        let terms = fts_query(room_id, text);
        if terms.is_empty() {
            return false;
        }
        // FTS first (CROSS JOIN fixes the join order), then the room and the filter. The
        // matches come from a subquery that exposes only `fts_rowid`, so that the filter's
        // column names are the messages' alone. FTS5 walks its matches in rowid order (the
        // messages' insertion order) either way round, so with the LIMIT the scan stops once
        // a page is found: nothing is ranked or sorted.
        q.push(&format!(
            "SELECT {} FROM (SELECT rowid AS fts_rowid FROM message_words \
             WHERE message_words MATCH ",
            comet_store_sql::MESSAGE_COLUMNS
        ))
        .push_bind(terms)
        .push(") CROSS JOIN messages ON messages.rowid = fts_rowid");
        filter(q);
        q.push(if oldest_first {
            " ORDER BY fts_rowid ASC"
        } else {
            " ORDER BY fts_rowid DESC"
        });
        true
    }

    async fn read(&self, query: Query) -> StoreResult<Vec<SqliteRow>> {
        self.readers.fetch_all(query).await
    }

    /// A transaction of one statement, which SQLite keeps atomic without a savepoint.
    async fn write(&self, query: Query) -> StoreResult<u64> {
        let (_, changed) = self.writer.write_alone(query).await?;
        Ok(changed)
    }

    async fn write_returning(&self, query: Query) -> StoreResult<Vec<SqliteRow>> {
        let (found, _) = self.writer.write_alone(query).await?;
        Ok(found)
    }

    async fn begin(&self) -> StoreResult<SqliteSession> {
        Ok(SqliteSession::Write(self.writer.begin()))
    }

    async fn snapshot(&self) -> StoreResult<SqliteSession> {
        let reader = self.readers.lend().await?;
        Ok(SqliteSession::Read(reader))
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        // One connection, on the writer thread: idle while the thread waits for work.
        let writer = PoolStats {
            pool: "writer",
            size: 1,
            idle: self.writer.idle(),
        };
        let reader = PoolStats {
            pool: "reader",
            size: self.readers.size(),
            idle: self.readers.idle(),
        };
        vec![writer, reader]
    }

    /// Every table in `rowid` order, the cursor being the last `rowid`: that is the insertion
    /// order the queries break ties by, so importing in export order reproduces it.
    async fn export_rows(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<(Vec<SqliteRow>, Option<String>)> {
        // Rowids are positive unless a program chose otherwise; start below any of them.
        let after: i64 = match after {
            None => i64::MIN,
            Some(cursor) => cursor.parse().map_err(|_| {
                StoreError::Backend(format!("invalid export position {cursor:?} for {kind}"))
            })?,
        };
        let a = comet_store_sql::export_alias(kind);
        let select = Query::new(format!(
            "SELECT {a}.rowid AS pos, {} FROM {} {a} WHERE {a}.rowid > $1 \
             ORDER BY {a}.rowid LIMIT $2",
            comet_store_sql::export_columns::<Self>(kind),
            kind.name()
        ));
        let rows = self.read(select.bind(after).bind(i64::from(limit))).await?;
        let next = match rows.last() {
            Some(last) if rows.len() >= limit as usize => Some(last.int("pos")?.to_string()),
            _ => None,
        };
        Ok((rows, next))
    }
}

/// The characters of a room's key in the search index's terms (see [`room_search_key`]).
const ROOM_KEY_CHARS: usize = 12;

/// A room's key in the search index: 12 hexadecimal digits of the 64-bit FNV-1a hash of its
/// id. Fixed in length, so that the index's prefix entries (migration 0030: 14 and 15
/// characters) are the key and two or three letters of a word; letters and digits only, so
/// that it joins the word's term. Two rooms sharing a key only share index entries: a search
/// checks each message's room.
fn room_search_key(room_id: &str) -> String {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0100_0000_01b3;
    let hash = room_id.bytes().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(PRIME)
    });
    let key = format!("{hash:016x}");
    key[..ROOM_KEY_CHARS].to_owned()
}

/// What the index holds for a message: each of its words under the room's key, or `None`
/// when it has no words.
/// The statement adding `entries` to the search index: each message that still has, in its
/// room, the text its words were made of (one a later transaction of the batch changed or
/// deleted, or whose own transaction was undone, is left out).
fn index_statement(entries: &[&IndexEntry]) -> Query {
    let mut q = Query::new(
        "INSERT INTO message_words (rowid, words) SELECT m.rowid, v.column4 FROM (VALUES ",
    );
    for (n, entry) in entries.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.push("(")
            .push_bind(&entry.message_id)
            .push(", ")
            .push_bind(&entry.room_id)
            .push(", ")
            .push_bind(&entry.text)
            .push(", ")
            .push_bind(&entry.words)
            .push(")");
    }
    q.push(
        ") v JOIN messages m ON m.id = v.column1 AND m.rid = v.column2 AND m.msg = v.column3 \
         AND m.deleted_at IS NULL",
    );
    q
}

fn indexed_words(room_id: &str, text: &str) -> Option<String> {
    let words = comet_store::encoding::search_words(text);
    if words.is_empty() {
        return None;
    }
    let key = room_search_key(room_id);
    let mut out = String::with_capacity(text.len() + words.len() * (ROOM_KEY_CHARS + 1));
    for word in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&key);
        out.push_str(word);
    }
    Some(out)
}

/// Turns user text into an FTS5 query: every word a quoted term under the room's key (so that
/// operators and punctuation in user input are never FTS syntax), all terms required, the
/// last one also matching as a prefix unless it is a single letter (`last_word_is_prefix`).
fn fts_query(room_id: &str, text: &str) -> String {
    let words = comet_store::encoding::search_words(text);
    let Some(last) = words.last() else {
        return String::new();
    };
    let key = room_search_key(room_id);
    let mut terms: Vec<String> = words.iter().map(|w| format!("\"{key}{w}\"")).collect();
    if comet_store::encoding::last_word_is_prefix(last)
        && let Some(term) = terms.last_mut()
    {
        term.push('*');
    }
    terms.join(" ")
}

/// Indexes the messages stored before migration 0030 (its `search_rebuild` table says from
/// where), a batch per transaction, then drops the table; nothing to do once it is gone.
async fn rebuild_search_index(writer: &SqlitePool) -> StoreResult<()> {
    // Rows read per transaction, and inserted per statement (two parameters a row, within
    // SQLite's 32,766).
    const BATCH: i64 = 20_000;
    const ROWS_PER_INSERT: usize = 5_000;
    let pending: Option<(i64,)> = sqlx::query_as(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'search_rebuild'",
    )
    .fetch_optional(writer)
    .await
    .map_err(backend)?;
    if pending.is_none() {
        return Ok(());
    }
    tracing::info!("indexing the stored messages for search (migration 0030), once");
    let started = std::time::Instant::now();
    let mut indexed = 0_usize;
    loop {
        let mut tx = writer.begin().await.map_err(backend)?;
        let (next,): (i64,) = sqlx::query_as("SELECT next_rowid FROM search_rebuild")
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let batch: Vec<(i64, String, String)> = sqlx::query_as(
            "SELECT rowid, rid, msg FROM messages WHERE rowid > ? AND deleted_at IS NULL \
             ORDER BY rowid LIMIT ?",
        )
        .bind(next)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(&(last, _, _)) = batch.last() else {
            sqlx::query("DROP TABLE search_rebuild")
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            tx.commit().await.map_err(backend)?;
            break;
        };
        let rows: Vec<(i64, String)> = batch
            .iter()
            .filter_map(|(rowid, rid, msg)| Some((*rowid, indexed_words(rid, msg)?)))
            .collect();
        for chunk in rows.chunks(ROWS_PER_INSERT) {
            let mut insert = sqlx::QueryBuilder::new("INSERT INTO message_words (rowid, words) ");
            insert.push_values(chunk, |mut row, (rowid, words)| {
                row.push_bind(rowid).push_bind(words);
            });
            insert.build().execute(&mut *tx).await.map_err(backend)?;
        }
        sqlx::query("UPDATE search_rebuild SET next_rowid = ?")
            .bind(last)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        indexed += rows.len();
    }
    tracing::info!(
        indexed,
        seconds = started.elapsed().as_secs_f64(),
        "search index rebuilt (migration 0030)"
    );
    Ok(())
}

/// The database's file, `None` when it has none (in memory).
async fn database_file(pool: &SqlitePool) -> StoreResult<Option<PathBuf>> {
    let file: Option<String> =
        sqlx::query_scalar("SELECT file FROM pragma_database_list WHERE name = 'main'")
            .fetch_optional(pool)
            .await
            .map_err(backend)?;
    Ok(file.filter(|f| !f.is_empty()).map(PathBuf::from))
}

/// Starts syncing the write-ahead log of the database `file` after commits, and syncs what
/// opening wrote (migrations) and the directory that holds the log. `None` for a database
/// without a log file (in memory, or not in WAL mode).
async fn start_wal_sync(pool: &SqlitePool, file: Option<&Path>) -> StoreResult<Option<WalSync>> {
    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .map_err(backend)?;
    let Some(file) = file.filter(|_| journal.eq_ignore_ascii_case("wal")) else {
        return Ok(None);
    };
    let log = PathBuf::from(format!("{}-wal", file.display()));
    let sync = WalSync::start(log.clone()).map_err(backend)?;
    sync.sync_now().map_err(backend)?;
    // The log's name must survive a power cut too, as SQLite's `FULL` makes sure of when it
    // creates the file.
    if let Some(directory) = log.parent() {
        std::fs::File::open(directory)
            .and_then(|d| d.sync_all())
            .map_err(backend)?;
    }
    Ok(Some(sync))
}

#[async_trait]
impl OpenFile for SqliteDatabase {
    async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::open_options(options, Synchronous::default()).await
    }

    async fn open_url(url: &str) -> StoreResult<Self> {
        Self::open_url_with(url, Synchronous::default()).await
    }

    /// Fails rather than creating a database when there is none, and leaves alone a file
    /// Comet never opened: a database to read from, such as `comet migrate-db`'s source, where
    /// a mistyped path must not look like an empty server.
    async fn open_existing_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(false);
        let probe = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(backend)?;
        let migrated: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&probe)
        .await
        .map_err(backend)?;
        probe.close().await;
        if migrated.is_none() {
            return Err(StoreError::Backend(
                "not a Comet database (Comet has never opened it)".to_owned(),
            ));
        }
        Self::open_options(options, Synchronous::default()).await
    }
}

impl SqliteDatabase {
    /// Opens a URL (as given in `DATABASE_URL`), creating the database if needed, with commits
    /// made durable as `synchronous` says, and applies migrations.
    pub async fn open_url_with(url: &str, synchronous: Synchronous) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true);
        Self::open_options(options, synchronous).await
    }

    async fn open_options(
        options: SqliteConnectOptions,
        synchronous: Synchronous,
    ) -> StoreResult<Self> {
        // Both settings run the connections with `NORMAL`: with `Full` the writer syncs the log
        // itself after each COMMIT, outside SQLite's write lock (see `wal_sync`).
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10))
            .pragma("journal_size_limit", WAL_SIZE_LIMIT_BYTES.to_string())
            .pragma("wal_autocheckpoint", CHECKPOINT_PAGES.to_string())
            // Each transaction of a batch runs in a savepoint, whose journal keeps the first
            // version of every page it changes: in memory that is a copy, in a temporary file
            // a system call per page (a seventh of the writer's time). Bounded by the pages one
            // batch changes.
            .pragma("temp_store", "memory");
        // The migrations, and the one-off rebuild of the search index, run on a connection of
        // sqlx's; the writer thread opens its own once they are done.
        let setup = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATOR.run(&setup).await.map_err(backend)?;
        rebuild_search_index(&setup).await?;
        let file = database_file(&setup).await?;
        let wal_sync = match synchronous {
            Synchronous::Full => start_wal_sync(&setup, file.as_deref()).await?,
            Synchronous::Normal => None,
        };
        setup.close().await;
        let Some(file) = file else {
            return Err(StoreError::Backend(
                "an in-memory SQLite database cannot be shared by the writer and the readers: \
                 give a file"
                    .to_owned(),
            ));
        };
        let writer = Writer::start(file.clone(), wal_sync).await?;
        Ok(SqliteDatabase {
            writer,
            readers: Readers::new(file, READERS as usize),
        })
    }

    /// How many times the write-ahead log was synced after commits (always 0 with
    /// `Synchronous::Normal`).
    pub fn wal_syncs(&self) -> u64 {
        self.writer.wal_syncs()
    }

    /// Writes a consistent copy of the whole database to a new file at `path` while other
    /// connections go on reading and writing (`VACUUM INTO` runs in one read transaction).
    pub async fn snapshot_into(&self, path: &Path) -> StoreResult<()> {
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Backend("the snapshot path is not UTF-8".to_owned()))?;
        let vacuum = Query::new("VACUUM INTO $1").bind(target);
        self.read(vacuum).await.map(drop)
    }

    /// Commits the writer's open batch, then closes both pools, waiting for running
    /// statements.
    pub async fn close(&self) {
        self.readers.close();
        self.writer.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::{Param, anonymous_placeholders};

    #[test]
    fn placeholders_become_anonymous_in_the_order_they_appear() {
        let text = |s: &str| Param::Text(Some(s.to_owned()));
        let (sql, params) = anonymous_placeholders(
            "SELECT json_extract(doc, '$.a') FROM t WHERE b = $2 AND c IN ($1, $10) OR d = $2",
            (1..=10).map(|n| text(&n.to_string())).collect(),
        );
        assert_eq!(
            sql,
            "SELECT json_extract(doc, '$.a') FROM t WHERE b = ? AND c IN (?, ?) OR d = ?"
        );
        assert_eq!(params, [text("2"), text("1"), text("10"), text("2")]);
        let (sql, params) = anonymous_placeholders(
            "SELECT 'it''s $1', \"odd$1\" FROM t WHERE x = $1",
            vec![text("v")],
        );
        assert_eq!(sql, "SELECT 'it''s $1', \"odd$1\" FROM t WHERE x = ?");
        assert_eq!(params, [text("v")]);
    }

    #[test]
    fn fts_queries_quote_every_word_under_the_rooms_key() {
        let key = super::room_search_key("GENERAL");
        let words = |text: &str| super::fts_query("GENERAL", text);
        assert_eq!(words("hello wor"), format!("\"{key}hello\" \"{key}wor\"*"));
        assert_eq!(
            words("a\" OR bc"),
            format!("\"{key}a\" \"{key}OR\" \"{key}bc\"*")
        );
        assert_eq!(
            words("plan b"),
            format!("\"{key}plan\" \"{key}b\""),
            "one letter is a whole word"
        );
        assert_eq!(
            words("مرحبا بالعالم"),
            format!("\"{key}مرحبا\" \"{key}بالعالم\"*")
        );
        assert_eq!(words("  "), "");
    }

    #[test]
    fn room_keys_are_twelve_hex_digits_and_differ_between_rooms() {
        let general = super::room_search_key("GENERAL");
        assert_eq!(general.len(), 12);
        assert!(
            general
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );
        assert_eq!(general, super::room_search_key("GENERAL"), "stable");
        assert_ne!(general, super::room_search_key("general"));
        assert_eq!(super::room_search_key("").len(), 12);
    }

    #[test]
    fn a_message_is_indexed_as_its_words_under_its_rooms_key() {
        let key = super::room_search_key("r1");
        assert_eq!(
            super::indexed_words("r1", "Deploy, the app!"),
            Some(format!("{key}Deploy {key}the {key}app"))
        );
        assert_eq!(super::indexed_words("r1", " -- "), None);
    }
}
