//! Comet's store traits written once, over SQL that SQLite and PostgreSQL both run.
//!
//! [`SqlStore`] implements every `comet_store` trait generically over a [`Database`]: the
//! backend crates supply a driver (run a [`Query`], begin a transaction, read a column of a
//! row) and the few SQL fragments in which the two dialects truly differ (lists, JSON
//! documents, full-text search, row locks). Every query's logic, and every row's mapping to a
//! domain value, lives here once. See ARCHITECTURE.md, "One home for each query".

mod accounts;
mod audit;
mod bans;
mod chat;
mod cluster;
mod custom_assets;
mod driver;
mod files;
mod invites;
mod mail;
mod query;
mod reports;
mod rows;
mod statistics;
mod teams;
mod transfer;
mod two_factor;
mod video_conferences;

pub use driver::{Connect, Database, OpenFile, SqlRow, Transaction};
pub use query::{Param, Query};
pub use rows::{MESSAGE_COLUMNS, export_alias, export_columns};

use comet_store::StoreResult;
use std::path::Path;

/// A store over one backend's database: every `comet_store` trait, written once.
pub struct SqlStore<D> {
    db: D,
}

impl<D> SqlStore<D> {
    pub fn new(db: D) -> Self {
        SqlStore { db }
    }
}

/// The driver's own operations (closing, SQLite's snapshots) stay reachable on the store.
impl<D> std::ops::Deref for SqlStore<D> {
    type Target = D;

    fn deref(&self) -> &D {
        &self.db
    }
}

impl<D> Clone for SqlStore<D>
where
    D: Clone,
{
    fn clone(&self) -> Self {
        SqlStore {
            db: self.db.clone(),
        }
    }
}

impl<D> std::fmt::Debug for SqlStore<D>
where
    D: std::fmt::Debug,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.db.fmt(f)
    }
}

/// The constructors of a file database, under the names callers use (`SqliteStore::open`).
impl<D: OpenFile> SqlStore<D> {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        D::open(path).await.map(SqlStore::new)
    }

    /// Opens a URL (as given in `DATABASE_URL`), creating the database if needed, and applies
    /// migrations.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        D::open_url(url).await.map(SqlStore::new)
    }

    /// Opens an existing Comet database, failing when there is none (see the backend).
    pub async fn open_existing_url(url: &str) -> StoreResult<Self> {
        D::open_existing_url(url).await.map(SqlStore::new)
    }
}

/// The constructor of a database server's store (`PostgresStore::connect`).
impl<D: Connect> SqlStore<D> {
    /// Connects to the server at `url` and applies migrations.
    pub async fn connect(url: &str) -> StoreResult<Self> {
        D::connect(url).await.map(SqlStore::new)
    }
}

/// A count as the traits give it.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The number a `SELECT COUNT(*) AS n` answered.
pub(crate) fn counted(rows: &[impl SqlRow]) -> StoreResult<u64> {
    match rows.first() {
        Some(row) => Ok(count(row.int("n")?)),
        None => Ok(0),
    }
}

/// A `LIMIT` for an optional count; "no limit" is the largest one, which both dialects take.
pub(crate) fn limit(count: Option<u64>) -> i64 {
    count.map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX))
}

pub(crate) fn offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// The SQL for one sort direction, NULLs ordered as smallest in both dialects.
pub(crate) fn direction(direction: comet_core::page::Direction) -> &'static str {
    match direction {
        comet_core::page::Direction::Ascending => " ASC NULLS FIRST",
        comet_core::page::Direction::Descending => " DESC NULLS LAST",
    }
}
