//! What a backend supplies: a driver that runs [`Query`]s, and its dialect's differences.

use crate::query::Query;
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::room::Message;
use comet_store::encoding::from_millis;
use comet_store::{PoolStats, RecordKind, StoreResult};
use serde_json::Value;
use std::path::Path;

/// A result row; each getter reads a column by name in the backend's storage form.
pub trait SqlRow: Send + Sync {
    fn text(&self, column: &str) -> StoreResult<String>;
    fn opt_text(&self, column: &str) -> StoreResult<Option<String>>;
    fn int(&self, column: &str) -> StoreResult<i64>;
    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>>;
    fn float(&self, column: &str) -> StoreResult<f64>;
    fn bool(&self, column: &str) -> StoreResult<bool>;
    fn opt_bool(&self, column: &str) -> StoreResult<Option<bool>>;
    /// A list of strings (`TEXT[]`, or a JSON array of strings).
    fn text_list(&self, column: &str) -> StoreResult<Vec<String>>;
    fn opt_json(&self, column: &str) -> StoreResult<Option<Value>>;

    fn json(&self, column: &str) -> StoreResult<Value> {
        self.opt_json(column)?
            .ok_or_else(|| corrupt(column, "NULL"))
    }

    /// A time stored as Unix milliseconds.
    fn time(&self, column: &str) -> StoreResult<Timestamp> {
        from_millis(self.int(column)?)
    }

    fn opt_time(&self, column: &str) -> StoreResult<Option<Timestamp>> {
        self.opt_int(column)?.map(from_millis).transpose()
    }
}

/// A value the database should not hold.
pub(crate) fn corrupt(what: &str, value: &str) -> comet_store::StoreError {
    comet_store::StoreError::Backend(format!("unexpected {what} in database: {value:?}"))
}

/// A transaction (or, for [`Database::snapshot`], a consistent read).
#[async_trait]
pub trait Transaction: Send {
    type Row: SqlRow;
    async fn read(&mut self, query: Query) -> StoreResult<Vec<Self::Row>>;
    /// Runs a statement; returns how many rows it changed.
    async fn write(&mut self, query: Query) -> StoreResult<u64>;
    /// Runs a statement whose result the transaction does not read. The backend may hold it
    /// back and send it with the transaction's next statement or its commit, in one round
    /// trip: then its error comes from that call.
    async fn queue(&mut self, query: Query) -> StoreResult<()>;
    /// Adds messages just inserted, or whose text was just set (the index has let go of the
    /// old text by then), to the search index where it is a table of its own, in the same
    /// commit; nothing where the index is in the row. The backend may add them when its
    /// batch of transactions commits, as long as they are committed with it.
    async fn index_messages(&mut self, messages: &[&Message]) -> StoreResult<()>;
    async fn commit(self) -> StoreResult<()>;
}

/// A backend: its driver, and the SQL in which its dialect differs.
///
/// Errors come back as [`comet_store::StoreError`]: a unique violation as the `Conflict` it
/// means, anything else as `Backend`.
#[async_trait]
pub trait Database: Send + Sync + 'static {
    type Row: SqlRow;
    type Tx: Transaction<Row = Self::Row>;

    /// Boolean literals as the columns store them (SQLite's partial indexes say `= 1`).
    const TRUE: &'static str;
    const FALSE: &'static str;
    /// The column that orders a table's rows by insertion (`rowid`, or an identity column).
    const INSERTION_ORDER: &'static str;
    /// Whether concurrent writers need row locks. SQLite has a single writer connection, so
    /// its transactions never interleave and take no locks.
    const LOCKS_ROWS: bool;
    /// A statement taking a text key that serializes transactions on that key until they end
    /// (for rows that may not exist yet to lock); none where writers never interleave.
    const KEY_LOCK: Option<&'static str>;
    /// What makes a text comparison bytewise, after a column in `ORDER BY`.
    const BYTEWISE: &'static str;
    /// Whether a user's roles are a list column of `users` (else rows of `user_roles`).
    const USER_ROLES_IN_ROW: bool;
    /// The select expression for a user's roles (`users` aliased `u`), named `roles`.
    const USER_ROLES_COLUMN: &'static str;
    /// Whether a `DELETE … RETURNING` may feed an `INSERT` in one statement (a CTE).
    const DELETE_IN_CTE: bool;
    /// The column holding a message's search index, when it lives in the row (otherwise the
    /// index is a table of its own, which [`Transaction::index_messages`] fills).
    const SEARCH_COLUMN: Option<&'static str>;
    /// A query answering `n`, the bytes the database takes.
    const DATABASE_SIZE: &'static str;

    /// `u` (a user) holds the role bound at `param`.
    fn user_has_role(param: &str) -> String;
    /// `column` equals one of the list bound at `param`.
    fn in_list(column: &str, param: &str) -> String;
    /// The list column `column` (a subscription's roles) holds the string bound at `param`.
    fn list_contains(column: &str, param: &str) -> String;
    /// The list column `column` with the string bound at `param` appended unless it holds it.
    fn list_add(column: &str, param: &str) -> String;
    /// The list column `column` without the string bound at `param`.
    fn list_remove(column: &str, param: &str) -> String;
    /// The array under `key` of the document `doc` holds the string bound at `param`.
    fn json_array_contains(doc: &str, key: &str, param: &str) -> String;
    /// The array under `key` of `doc` holds an object whose `id` is the string at `param`.
    fn json_array_has_id(doc: &str, key: &str, param: &str) -> String;
    /// The value under `key` of `doc`, as text (NULL when absent or null).
    fn json_text(doc: &str, key: &str) -> String;
    /// `doc` with the string bound at `param` set under `key`.
    fn json_set_text(doc: &str, key: &str, param: &str) -> String;
    /// `doc` with the string at `param` appended to the array under `key` unless it is there
    /// already (starting the array when absent; a non-array is left alone).
    fn json_add_to_set(doc: &str, key: &str, param: &str) -> String;
    /// The value of [`Database::SEARCH_COLUMN`] for a message's text (binding into `q`).
    fn search_index(q: &mut Query, text: &str) -> String;
    /// Starts a full-text search of the messages of room `room_id` (selecting the message
    /// columns), or returns false when `text` has no words; `filter` narrows it with a `WHERE`
    /// clause on the message columns (the room among them), then the match and the order
    /// follow: newest first (oldest first with `oldest_first`), in an order the backend can
    /// walk from its newest match without collecting every match, so that a page costs about
    /// its own size whatever the number of matches.
    fn search(
        q: &mut Query,
        room_id: &str,
        text: &str,
        oldest_first: bool,
        filter: &mut dyn FnMut(&mut Query),
    ) -> bool;

    /// Reads (from a reader, where the backend has them).
    async fn read(&self, query: Query) -> StoreResult<Vec<Self::Row>>;
    /// Runs a statement; returns how many rows it changed.
    async fn write(&self, query: Query) -> StoreResult<u64>;
    /// Runs a statement that returns rows (`RETURNING`).
    async fn write_returning(&self, query: Query) -> StoreResult<Vec<Self::Row>>;
    /// A write transaction.
    async fn begin(&self) -> StoreResult<Self::Tx>;
    /// Reads that belong together (a page and its total).
    async fn snapshot(&self) -> StoreResult<Self::Tx>;
    fn pool_stats(&self) -> Vec<PoolStats>;
    /// Up to `limit` rows of `kind` after the position `after`, selecting
    /// [`crate::export_columns`] from the kind's table aliased [`crate::export_alias`], in the
    /// backend's stable export order; with the position of the next page, if any.
    async fn export_rows(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<(Vec<Self::Row>, Option<String>)>;
}

/// A database in a file, opened by path or URL.
#[async_trait]
pub trait OpenFile: Database + Sized {
    async fn open(path: &Path) -> StoreResult<Self>;
    async fn open_url(url: &str) -> StoreResult<Self>;
    /// Opens only a database Comet has already created.
    async fn open_existing_url(url: &str) -> StoreResult<Self>;
}

/// A database server reached by URL.
#[async_trait]
pub trait Connect: Database + Sized {
    async fn connect(url: &str) -> StoreResult<Self>;
}
