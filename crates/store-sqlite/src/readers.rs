//! The reader connections, lent without a round trip on their return.
//!
//! sqlx's pool tests every connection given back to it with a ping: a task is spawned that
//! sends it to the connection's worker thread and waits for the answer, after every query.
//! Each read thus crossed between threads twice instead of once, and such hand-offs are most
//! of the server's CPU under load (BENCHMARKS.md, "reads lent without the pool's ping").
//!
//! Readers run single statements, or snapshots of several that hold no transaction open
//! between them, so a connection whose statement finished is ready for the next reader as
//! it is. So connections stay out of sqlx's pool while they are in use: they are lent from
//! this stack and put back on it directly. The pool still opens them and bounds their number
//! (a permit here stands for each connection lent or kept), and gets back, to test as it
//! always does, any connection whose statement did not finish (its future was dropped) or
//! failed in a way that may concern the connection rather than the statement, and any left
//! unused for [`IDLE_RETURN`], which its idle timeout then closes.

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqlitePool, SqliteRow};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A connection unused this long goes back to sqlx's pool (and is closed after its idle
/// timeout), so that a quiet server does not keep every reader's cache.
const IDLE_RETURN: Duration = Duration::from_secs(60);

/// The reader connections (read-only, WAL: they never wait for the writer).
#[derive(Clone)]
pub(crate) struct Readers {
    shared: Arc<Shared>,
}

struct Shared {
    pool: SqlitePool,
    /// One per connection that may be lent at once: the pool's size.
    permits: Arc<Semaphore>,
    /// Connections given back, the most recently used last.
    idle: Mutex<Vec<(PoolConnection<Sqlite>, Instant)>>,
}

/// A lent reader connection, given back when dropped.
pub struct Reader {
    connection: Option<PoolConnection<Sqlite>>,
    /// Set while a statement runs and after an error that may concern the connection: such a
    /// connection goes back to sqlx's pool, which tests it.
    doubtful: bool,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Readers {
    /// Lends the connections of `pool` (at most `size` at once, its maximum).
    pub(crate) fn new(pool: SqlitePool, size: usize) -> Readers {
        let shared = Arc::new(Shared {
            pool,
            permits: Arc::new(Semaphore::new(size)),
            idle: Mutex::default(),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(return_unused(Arc::downgrade(&shared)));
        }
        Readers { shared }
    }

    /// A connection: one given back before, or a new one from the pool.
    pub(crate) async fn lend(&self) -> Result<Reader, sqlx::Error> {
        let permit = self
            .shared
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| sqlx::Error::PoolClosed)?;
        let kept = self.shared.lock().pop();
        let connection = match kept {
            Some((connection, _)) => connection,
            // The permit guarantees the pool room for it: the connections lent or kept here
            // are fewer than its size.
            None => self.shared.pool.acquire().await?,
        };
        Ok(Reader {
            connection: Some(connection),
            doubtful: false,
            shared: self.shared.clone(),
            _permit: permit,
        })
    }

    /// Runs one statement on a lent connection.
    pub(crate) async fn fetch_all(
        &self,
        query: comet_store_sql::Query,
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        self.lend().await?.fetch_all(query).await
    }

    /// The connections open (lent, kept here, or idle in the pool).
    pub(crate) fn size(&self) -> u32 {
        self.shared.pool.size()
    }

    /// The connections open and not lent.
    pub(crate) fn idle(&self) -> u32 {
        let kept = self.shared.lock().len();
        u32::try_from(kept + self.shared.pool.num_idle()).unwrap_or(u32::MAX)
    }

    /// Lends nothing more, gives every kept connection back and closes the pool, waiting for
    /// the connections lent to be given back.
    pub(crate) async fn close(&self) {
        self.shared.permits.close();
        let kept = std::mem::take(&mut *self.shared.lock());
        drop(kept);
        self.shared.pool.close().await;
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(PoolConnection<Sqlite>, Instant)>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every so often gives sqlx's pool the connections kept unused for [`IDLE_RETURN`]; ends
/// with the readers.
async fn return_unused(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(IDLE_RETURN / 2);
    loop {
        tick.tick().await;
        let Some(shared) = shared.upgrade() else {
            return;
        };
        let unused: Vec<_> = {
            let mut kept = shared.lock();
            // The most recently used are last: the unused ones are a prefix.
            let fresh = kept
                .iter()
                .position(|(_, since)| since.elapsed() < IDLE_RETURN)
                .unwrap_or(kept.len());
            kept.drain(..fresh).collect()
        };
        drop(unused);
    }
}

impl Reader {
    /// Runs one statement and returns its rows.
    pub(crate) async fn fetch_all(
        &mut self,
        query: comet_store_sql::Query,
    ) -> Result<Vec<SqliteRow>, sqlx::Error> {
        let connection = self
            .connection
            .as_deref_mut()
            .ok_or(sqlx::Error::PoolClosed)?;
        self.doubtful = true;
        let found = crate::statement(query).fetch_all(connection).await;
        self.doubtful = found.as_ref().is_err_and(|e| !is_local(e));
        found
    }

    /// Runs one statement and returns how many rows it changed.
    pub(crate) async fn execute(
        &mut self,
        query: comet_store_sql::Query,
    ) -> Result<u64, sqlx::Error> {
        let connection = self
            .connection
            .as_deref_mut()
            .ok_or(sqlx::Error::PoolClosed)?;
        self.doubtful = true;
        let done = crate::statement(query).execute(connection).await;
        self.doubtful = done.as_ref().is_err_and(|e| !is_local(e));
        done.map(|d| d.rows_affected())
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.doubtful || self.shared.permits.is_closed() {
            // Back to the pool, which tests it (or closes it once the pool is closed).
            drop(connection);
            return;
        }
        self.shared.lock().push((connection, Instant::now()));
    }
}

/// Whether a statement's error leaves the connection as it was (the statement alone failed):
/// SQLite's constraint, SQL, type and size errors, and decoding; anything else (I/O, busy, a
/// lost connection...) may leave it in a state the next borrower must not inherit.
fn is_local(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Database(db) => {
            let code = db.code().and_then(|c| c.parse::<i32>().ok()).unwrap_or(-1);
            // SQLITE_ERROR, SQLITE_TOOBIG, SQLITE_CONSTRAINT, SQLITE_MISMATCH, SQLITE_RANGE.
            matches!(code & 0xff, 1 | 18 | 19 | 20 | 25)
        }
        sqlx::Error::Encode(_)
        | sqlx::Error::Decode(_)
        | sqlx::Error::ColumnDecode { .. }
        | sqlx::Error::ColumnNotFound(_)
        | sqlx::Error::ColumnIndexOutOfBounds { .. }
        | sqlx::Error::TypeNotFound { .. }
        | sqlx::Error::RowNotFound => true,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use crate::{READERS, SqliteDatabase, Synchronous};
    use comet_store_sql::{Database, Query, Transaction};
    use std::time::Duration;

    /// Long enough on a loaded machine; only a hang reaches it.
    const PATIENCE: Duration = Duration::from_secs(60);

    async fn open() -> (tempfile::TempDir, SqliteDatabase) {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("test.db").display());
        let db = SqliteDatabase::open_url_with(&url, Synchronous::Full)
            .await
            .expect("open");
        (dir, db)
    }

    async fn one(db: &SqliteDatabase) -> i64 {
        let rows = tokio::time::timeout(PATIENCE, db.read(Query::new("SELECT 1 AS one")))
            .await
            .expect("in time")
            .expect("read");
        rows[0].get::<i64>("one").expect("one")
    }

    fn reader_stats(db: &SqliteDatabase) -> (u32, u32) {
        let stats = db.pool_stats();
        let reader = stats.iter().find(|s| s.pool == "reader").expect("reader");
        (reader.size, reader.idle)
    }

    #[tokio::test]
    async fn a_connection_given_back_is_lent_again() {
        let (_dir, db) = open().await;
        for _ in 0..20 {
            assert_eq!(one(&db).await, 1);
        }
        assert_eq!(reader_stats(&db), (1, 1));
    }

    #[tokio::test]
    async fn no_more_than_the_readers_are_lent_and_the_next_waits_for_one_back() {
        let (_dir, db) = open().await;
        let mut lent = Vec::new();
        for _ in 0..READERS {
            lent.push(db.snapshot().await.expect("snapshot"));
        }
        assert_eq!(reader_stats(&db), (READERS, 0));
        let waiting = tokio::spawn({
            let db = db.clone();
            async move { db.snapshot().await.map(drop) }
        });
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(!waiting.is_finished(), "a fifth reader was lent");
        lent.pop();
        tokio::time::timeout(PATIENCE, waiting)
            .await
            .expect("lent once one came back")
            .expect("task")
            .expect("snapshot");
        assert_eq!(reader_stats(&db).0, READERS);
    }

    #[tokio::test]
    async fn a_read_dropped_midway_leaves_readers_that_answer_right() {
        let (_dir, db) = open().await;
        // Long enough to be cut off while it runs.
        let long = Query::new(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 50000000) \
             SELECT count(*) AS c FROM n",
        );
        let cut = tokio::time::timeout(Duration::from_millis(20), db.read(long)).await;
        assert!(cut.is_err(), "the long read finished before it was dropped");
        for _ in 0..2 * READERS {
            assert_eq!(one(&db).await, 1);
        }
    }

    #[tokio::test]
    async fn a_statement_error_keeps_the_connection_and_the_reader_goes_on() {
        let (_dir, db) = open().await;
        let mut session = db.snapshot().await.expect("snapshot");
        let failed = session
            .read(Query::new("SELECT * FROM no_such_table"))
            .await;
        assert!(failed.is_err());
        let rows = session
            .read(Query::new("SELECT 2 AS two"))
            .await
            .expect("read");
        assert_eq!(rows[0].get::<i64>("two").expect("two"), 2);
        drop(session);
        assert_eq!(reader_stats(&db), (1, 1));
    }

    #[tokio::test]
    async fn closing_gives_back_the_kept_connections_and_lends_no_more() {
        let (_dir, db) = open().await;
        let held = db.snapshot().await.expect("snapshot");
        assert_eq!(one(&db).await, 1);
        let closing = tokio::spawn({
            let db = db.clone();
            async move { db.close().await }
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
        drop(held);
        tokio::time::timeout(PATIENCE, closing)
            .await
            .expect("closed in time")
            .expect("task");
        assert!(db.read(Query::new("SELECT 1")).await.is_err());
    }
}
