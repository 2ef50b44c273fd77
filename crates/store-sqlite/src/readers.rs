//! The reader connections, and reads run on the thread that asks for them.
//!
//! A read of a few pages costs SQLite tens of microseconds. Handed to a thread of the driver's
//! and back (sqlx's way), it cost two wake-ups besides, and under load each read waited
//! milliseconds for them: a post's three reads took 6 of its 13 ms (BENCHMARKS.md, "reads
//! where they are asked for"). So a read runs where it is asked for, on the async task's own
//! thread, on a read-only connection lent from here. A read still running after
//! [`INLINE_BUDGET`] is interrupted (SQLite's progress handler) and run again from its start
//! on a blocking thread, so that no long read holds up the tasks of an async worker; a read
//! changes nothing, so running it again is safe.
//!
//! Readers run single statements, or several that belong together on one connection (no
//! transaction is held between them: WAL gives each statement the last committed state). A
//! connection whose statement finished is ready for the next reader as it is; one whose
//! statement failed in a way that may concern the connection (I/O, busy...) is closed rather
//! than lent again, and so is one unused for [`IDLE_CLOSE`], so that a quiet server does not
//! keep every reader's page cache.

use crate::connection::{self, Access, SqliteRow};
use crate::{sqlite_form, store_error};
use comet_store::{StoreError, StoreResult};
use rusqlite::Connection;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError};

/// How long a read may run on an async worker before it is moved to a blocking thread. A
/// read of a page of history or of a few rows takes well under it.
const INLINE_BUDGET: Duration = Duration::from_millis(2);

/// SQLite's virtual machine instructions between two looks at the clock of a read running
/// inline (a few microseconds of work).
const PROGRESS_STEPS: i32 = 1000;

/// A connection unused this long is closed.
const IDLE_CLOSE: Duration = Duration::from_secs(60);

/// The reader connections (read-only, WAL: they never wait for the writer).
#[derive(Clone)]
pub(crate) struct Readers {
    shared: Arc<Shared>,
}

struct Shared {
    path: PathBuf,
    /// One per connection that may be lent at once.
    permits: Arc<Semaphore>,
    /// Connections given back, the most recently used last.
    idle: Mutex<Vec<(ReaderConnection, Instant)>>,
    /// Connections open: lent, kept here, or moved to a blocking thread.
    open: Arc<AtomicU32>,
}

/// A read-only connection, whether a read on it is running inline (when so, its progress
/// handler interrupts it once the read's time is up), and whether its read is still wanted.
struct ReaderConnection {
    connection: Connection,
    inline_since: Arc<Mutex<Option<Instant>>>,
    /// Set when the caller of a read moved to a blocking thread went away: the progress
    /// handler interrupts it (unlike an interrupt handle, also if it had not started yet).
    unwanted: Arc<AtomicBool>,
    open: Arc<AtomicU32>,
}

impl ReaderConnection {
    fn open(shared: &Shared) -> StoreResult<ReaderConnection> {
        let connection = connection::open(&shared.path, Access::Read)
            .map_err(|e| StoreError::Backend(format!("cannot open a reader connection: {e}")))?;
        let inline_since: Arc<Mutex<Option<Instant>>> = Arc::default();
        let unwanted = Arc::new(AtomicBool::new(false));
        let (started, gone) = (Arc::clone(&inline_since), Arc::clone(&unwanted));
        connection
            .progress_handler(
                PROGRESS_STEPS,
                Some(move || {
                    gone.load(Ordering::Relaxed)
                        || started
                            .lock()
                            .unwrap_or_else(PoisonError::into_inner)
                            .is_some_and(|since| since.elapsed() >= INLINE_BUDGET)
                }),
            )
            .map_err(|e| StoreError::Backend(format!("cannot watch a reader connection: {e}")))?;
        shared.open.fetch_add(1, Ordering::Relaxed);
        Ok(ReaderConnection {
            connection,
            inline_since,
            unwanted,
            open: Arc::clone(&shared.open),
        })
    }

    /// Runs a statement here, interrupted once [`INLINE_BUDGET`] has passed.
    fn run_inline(&self, sql: &str, params: &[comet_store_sql::Param]) -> RunResult {
        self.set_inline(Some(Instant::now()));
        let ran = connection::run(&self.connection, sql, params);
        self.set_inline(None);
        ran
    }

    fn set_inline(&self, since: Option<Instant>) {
        *self
            .inline_since
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = since;
    }
}

impl Drop for ReaderConnection {
    fn drop(&mut self) {
        self.open.fetch_sub(1, Ordering::Relaxed);
    }
}

type RunResult = rusqlite::Result<(Vec<SqliteRow>, u64)>;

/// A lent reader connection, given back when dropped.
pub struct Reader {
    /// `None` once lost: moved to a blocking thread by a read that was then dropped.
    connection: Option<ReaderConnection>,
    /// Set after an error that may concern the connection: it is closed, not lent again.
    doubtful: bool,
    shared: Arc<Shared>,
    _permit: OwnedSemaphorePermit,
}

impl Readers {
    /// Readers of the database file at `path`, at most `size` connections at once.
    pub(crate) fn new(path: PathBuf, size: usize) -> Readers {
        let shared = Arc::new(Shared {
            path,
            permits: Arc::new(Semaphore::new(size)),
            idle: Mutex::default(),
            open: Arc::default(),
        });
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(close_unused(Arc::downgrade(&shared)));
        }
        Readers { shared }
    }

    /// A connection: one given back before, or a new one.
    pub(crate) async fn lend(&self) -> StoreResult<Reader> {
        let closed = || StoreError::Backend("the database is closed".to_owned());
        let permits = Arc::clone(&self.shared.permits);
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(TryAcquireError::NoPermits) => {
                permits.acquire_owned().await.map_err(|_| closed())?
            }
            Err(TryAcquireError::Closed) => return Err(closed()),
        };
        let kept = self.shared.lock().pop();
        let connection = match kept {
            Some((connection, _)) => connection,
            None => ReaderConnection::open(&self.shared)?,
        };
        Ok(Reader {
            connection: Some(connection),
            doubtful: false,
            shared: Arc::clone(&self.shared),
            _permit: permit,
        })
    }

    /// Runs one statement on a lent connection.
    pub(crate) async fn fetch_all(
        &self,
        query: comet_store_sql::Query,
    ) -> StoreResult<Vec<SqliteRow>> {
        self.lend().await?.fetch_all(query).await
    }

    /// The connections open (lent, kept here, or running a read on a blocking thread).
    pub(crate) fn size(&self) -> u32 {
        self.shared.open.load(Ordering::Relaxed)
    }

    /// The connections open and not lent.
    pub(crate) fn idle(&self) -> u32 {
        u32::try_from(self.shared.lock().len()).unwrap_or(u32::MAX)
    }

    /// Lends nothing more and closes the kept connections (those lent close when given back).
    pub(crate) fn close(&self) {
        self.shared.permits.close();
        let kept = std::mem::take(&mut *self.shared.lock());
        drop(kept);
    }
}

impl Shared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(ReaderConnection, Instant)>> {
        self.idle.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Every so often closes the connections kept unused for [`IDLE_CLOSE`]; ends with the
/// readers.
async fn close_unused(shared: Weak<Shared>) {
    let mut tick = tokio::time::interval(IDLE_CLOSE / 2);
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
                .position(|(_, since)| since.elapsed() < IDLE_CLOSE)
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
    ) -> StoreResult<Vec<SqliteRow>> {
        self.run(query).await.map(|(rows, _)| rows)
    }

    /// Runs one statement and returns how many rows it changed (a reader's connection is
    /// read-only: SQLite refuses any write).
    pub(crate) async fn execute(&mut self, query: comet_store_sql::Query) -> StoreResult<u64> {
        self.run(query).await.map(|(_, changed)| changed)
    }

    async fn run(&mut self, query: comet_store_sql::Query) -> StoreResult<(Vec<SqliteRow>, u64)> {
        let (sql, params) = sqlite_form(query);
        let connection = self.connection.as_ref().ok_or_else(lost)?;
        let ran = match connection.run_inline(&sql, &params) {
            Err(e) if connection::is_interrupted(&e) => {
                // A long read: run again where it holds up no async task. If its caller goes
                // away meanwhile, it is interrupted (and its connection closed).
                let connection = self.connection.take().ok_or_else(lost)?;
                let mut unwanted = InterruptWhenDropped(Some(Arc::clone(&connection.unwanted)));
                let (connection, ran) = tokio::task::spawn_blocking(move || {
                    let ran = connection::run(&connection.connection, &sql, &params);
                    (connection, ran)
                })
                .await
                .map_err(|e| StoreError::Backend(format!("a read failed: {e}")))?;
                unwanted.0 = None;
                self.connection = Some(connection);
                ran
            }
            ran => ran,
        };
        if let Err(e) = &ran {
            self.doubtful |= !connection::is_local(e);
        }
        ran.map_err(|e| store_error(&e))
    }
}

/// Marks a connection's read unwanted when dropped, unless disarmed (`None`).
struct InterruptWhenDropped(Option<Arc<AtomicBool>>);

impl Drop for InterruptWhenDropped {
    fn drop(&mut self) {
        if let Some(unwanted) = self.0.take() {
            unwanted.store(true, Ordering::Relaxed);
        }
    }
}

fn lost() -> StoreError {
    StoreError::Backend("the reader connection was lost".to_owned())
}

impl Drop for Reader {
    fn drop(&mut self) {
        let Some(connection) = self.connection.take() else {
            return;
        };
        if self.doubtful || self.shared.permits.is_closed() {
            // Closed here: the next reader gets a new one.
            return;
        }
        self.shared.lock().push((connection, Instant::now()));
    }
}

#[cfg(test)]
mod tests {
    use crate::{READERS, SqliteDatabase, Synchronous};
    use comet_store_sql::{Database, Query, Transaction};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
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

    /// A read that counts to `n` (about 2 ms per 10,000 here).
    fn counting_to(n: u64) -> Query {
        Query::new(format!(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {n}) \
             SELECT count(*) AS c FROM n"
        ))
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
        assert!(
            !waiting.is_finished(),
            "one more reader was lent than allowed"
        );
        lent.pop();
        tokio::time::timeout(PATIENCE, waiting)
            .await
            .expect("lent once one came back")
            .expect("task")
            .expect("snapshot");
        assert_eq!(reader_stats(&db).0, READERS);
    }

    /// On a runtime of one thread, a long read that stayed inline would hold up every other
    /// task until it ended; moved to a blocking thread, it lets them run meanwhile.
    #[tokio::test(flavor = "current_thread")]
    async fn a_long_read_is_moved_off_the_async_thread_and_still_answers() {
        let (_dir, db) = open().await;
        let done = Arc::new(AtomicBool::new(false));
        let long = tokio::spawn({
            let (db, done) = (db.clone(), Arc::clone(&done));
            async move {
                let rows = db.read(counting_to(2_000_000)).await;
                done.store(true, Ordering::SeqCst);
                rows
            }
        });
        let ticks = tokio::spawn(async move {
            let mut ticks = 0;
            while !done.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
                ticks += 1;
            }
            ticks
        });
        let rows = tokio::time::timeout(PATIENCE, long)
            .await
            .expect("in time")
            .expect("task")
            .expect("the long read");
        assert_eq!(rows[0].get::<i64>("c").expect("c"), 2_000_000);
        let ticks = tokio::time::timeout(PATIENCE, ticks)
            .await
            .expect("in time")
            .expect("task");
        assert!(
            ticks >= 5,
            "another task ran {ticks} times while the read ran"
        );
        assert_eq!(one(&db).await, 1);
    }

    #[tokio::test]
    async fn a_read_dropped_while_it_runs_elsewhere_leaves_readers_that_answer_right() {
        let (_dir, db) = open().await;
        let cut =
            tokio::time::timeout(Duration::from_millis(20), db.read(counting_to(50_000_000))).await;
        assert!(cut.is_err(), "the long read finished before it was dropped");
        // Interrupted: its connection is closed soon, not after the ten seconds of counting.
        let started = std::time::Instant::now();
        while reader_stats(&db).0 > 0 {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "the dropped read runs on"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
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
    async fn a_reader_refuses_to_write() {
        let (_dir, db) = open().await;
        let mut session = db.snapshot().await.expect("snapshot");
        let refused = session
            .write(Query::new("CREATE TABLE sneaky (x INTEGER)"))
            .await;
        assert!(refused.is_err(), "a reader wrote");
    }

    #[tokio::test]
    async fn closing_closes_the_kept_connections_and_lends_no_more() {
        let (_dir, db) = open().await;
        let held = db.snapshot().await.expect("snapshot");
        assert_eq!(one(&db).await, 1);
        tokio::time::timeout(PATIENCE, db.close())
            .await
            .expect("closed in time");
        drop(held);
        assert_eq!(reader_stats(&db), (0, 0));
        assert!(db.read(Query::new("SELECT 1")).await.is_err());
    }
}
