//! The one writer connection, and group commit.
//!
//! A commit is acknowledged only once the write-ahead log is on disk (by default), and that
//! sync costs far more than the statements before it. So writers that queue for the connection
//! share one COMMIT, and the sync after it (made outside the write lock: see `wal_sync`): the
//! first opens an outer `BEGIN IMMEDIATE` (the batch), every transaction runs inside its own
//! `SAVEPOINT`, and its commit releases the savepoint into the batch. Whoever commits while no
//! other writer is queued (or fills the batch) COMMITs the batch; otherwise it hands the
//! connection to the next writer and waits for the batch's outcome. Nothing is acknowledged
//! before the COMMIT of its batch succeeded and the log was synced after it, and when that
//! COMMIT or sync fails, or an error ends SQLite's transaction under the batch (`SQLITE_FULL`,
//! `SQLITE_IOERR`, `SQLITE_BUSY`...), every member of the batch gets an error.
//!
//! A member waiting for its batch also queues for the connection again: when it gets it back
//! with its batch still open (the writers after it went away, or one was dropped), it commits
//! the batch itself. So a batch never waits for a writer that is gone, and it holds at most the
//! writers that were queued when its first member committed, which bounds everyone's wait.
//!
//! A transaction dropped without committing leaves its savepoint open; whoever holds the
//! connection next rolls back to it before anything else (a task is started to do it at once,
//! so a quiet server does not keep the batch open), and the rest of the batch goes on. The
//! steps that change this state are recorded before they are sent, so an interrupted future
//! (a cancelled request) leaves work that the next holder finishes, never a wrong state.
//!
//! Every statement is a round trip to sqlx's worker thread, and the task holding the writer
//! waits to be scheduled again after each: with a post's five statements that was a third of
//! the writer's time. So a transaction's statements whose result it does not read are held
//! back ([`WriteTx::queue`]) and sent with its next statement or its RELEASE, the SAVEPOINT
//! with them, as one multi-statement execution: a post is one round trip.

use crate::wal_sync::{Outcome, WalSync};
use crate::{bound, index_statement, indexed_words, sqlite_form, store_error};
use comet_core::room::Message;
use comet_store::{StoreError, StoreResult};
use comet_store_sql::{Param, Query};
use futures_util::TryStreamExt;
use sqlx::pool::PoolConnection;
use sqlx::sqlite::{Sqlite, SqliteConnection, SqlitePool, SqliteQueryResult, SqliteRow};
use sqlx::{Either, Executor};
use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use tokio::sync::{Mutex, OwnedMutexGuard, watch};

/// The most transactions one COMMIT makes durable; past it the next commit syncs.
const MAX_BATCH: usize = 256;

/// The most statements a transaction holds back; the next one is sent with them.
const MAX_PENDING: usize = 64;

/// The most messages one statement adds to the search index (four values each).
const INDEX_CHUNK: usize = 200;

/// A message to add to the search index when its batch commits.
///
/// FTS5 writes out what it holds in memory whenever a savepoint opens, and every transaction
/// of a batch opens one: indexing each message in its own transaction made a segment of the
/// index per message, then merged them, about a third of the writer's time. Held back and
/// added together just before the batch's COMMIT, outside any member's savepoint, a batch
/// makes one segment. Only transactions that committed into the batch hand theirs over.
pub(crate) struct IndexEntry {
    pub(crate) message_id: String,
    pub(crate) room_id: String,
    /// The text the words were made of: the message is indexed only if it still has it.
    pub(crate) text: String,
    pub(crate) words: String,
}

impl IndexEntry {
    /// The entry of a live message with words to index.
    pub(crate) fn of(message: &Message) -> Option<IndexEntry> {
        if message.deleted_at.is_some() {
            return None;
        }
        let words = indexed_words(&message.room_id, &message.text)?;
        Some(IndexEntry {
            message_id: message.id.clone(),
            room_id: message.room_id.clone(),
            text: message.text.clone(),
            words,
        })
    }
}

/// The writer connection, shared by every clone of the database.
#[derive(Clone)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
}

struct Shared {
    /// The one-connection writer pool.
    pool: SqlitePool,
    state: Arc<Mutex<State>>,
    /// Writers waiting to begin (not members waiting for their batch).
    queued: AtomicUsize,
    /// Transactions SQLite has rolled back on the writer connection (its rollback hook): an
    /// explicit ROLLBACK, or an error that ended the transaction by itself.
    rollbacks: Arc<AtomicU64>,
    max_batch: usize,
    /// Syncs the log after each COMMIT when the connection itself does not (see `wal_sync`).
    wal_sync: Option<WalSync>,
}

struct Batch {
    id: u64,
    /// Transactions released into it, waiting for its COMMIT.
    members: usize,
    /// [`Shared::rollbacks`] when it began: a change means SQLite rolled it back.
    rollbacks_at_start: u64,
    outcome: watch::Sender<Outcome>,
    /// Messages its members committed, to add to the search index before its COMMIT.
    index: Vec<IndexEntry>,
}

impl Shared {
    /// Whether the open batch should stay open for now: the log's syncer is busy, and will
    /// have it committed when it is not.
    fn defer_commit(&self) -> bool {
        self.wal_sync.as_ref().is_some_and(WalSync::defer_commit)
    }
}

/// What only the holder of the lock touches.
#[derive(Default)]
struct State {
    connection: Option<PoolConnection<Sqlite>>,
    /// The open outer transaction, if any.
    batch: Option<Batch>,
    /// A member's savepoint may be open although no transaction owns it any more (dropped, or
    /// its commit interrupted): roll back to it before anything else.
    member_open: bool,
    /// The outer transaction must be rolled back (and its batch failed) for this reason before
    /// anything else: set before a step whose interruption would leave it unknown.
    broken: Option<String>,
    batches_begun: u64,
}

const SAVEPOINT: &str = "SAVEPOINT comet_member";
const RELEASE: &str = "RELEASE comet_member";
const ROLLBACK_TO: &str = "ROLLBACK TO comet_member";

impl Writer {
    pub(crate) fn new(
        pool: SqlitePool,
        rollbacks: Arc<AtomicU64>,
        wal_sync: Option<WalSync>,
    ) -> Self {
        let shared = Arc::new(Shared {
            pool,
            state: Arc::default(),
            queued: AtomicUsize::new(0),
            rollbacks,
            max_batch: MAX_BATCH,
            wal_sync,
        });
        if let (Some(sync), Ok(runtime)) = (&shared.wal_sync, tokio::runtime::Handle::try_current())
        {
            // Weak: the syncer belongs to `shared`, and must not keep it alive.
            let weak = Arc::downgrade(&shared);
            sync.on_deferred_commit(Box::new(move || {
                if let Some(shared) = weak.upgrade() {
                    runtime.spawn(async move {
                        let mut state = shared.state.clone().lock_owned().await;
                        if state.batch.is_some() {
                            state.finish_batch(&shared).await;
                        }
                    });
                }
            }));
        }
        Writer { shared }
    }

    /// Takes the connection for a transaction: a savepoint in the open batch (or a new one).
    /// Without `savepoint` the transaction is a single statement, which SQLite keeps atomic by
    /// itself.
    pub(crate) async fn begin(&self, savepoint: bool) -> StoreResult<WriteTx> {
        let mut guard = self.lock_in_turn().await;
        let shared = &self.shared;
        guard.settle(shared).await;
        if guard.batch.is_none() {
            // Until its answer is read, whether BEGIN ran is unknown; a ROLLBACK settles it.
            guard.broken = Some("a transaction's start was interrupted".to_owned());
            guard
                .execute(&shared.pool, "BEGIN IMMEDIATE")
                .await
                .map_err(store_error)?;
            guard.broken = None;
            guard.batches_begun += 1;
            guard.batch = Some(Batch {
                id: guard.batches_begun,
                members: 0,
                rollbacks_at_start: shared.rollbacks.load(Ordering::SeqCst),
                outcome: watch::Sender::new(None),
                index: Vec::new(),
            });
        }
        let mut tx = WriteTx {
            guard: Some(guard),
            writer: self.clone(),
            failed: None,
            savepoint,
            pending: Pending::default(),
            index: Vec::new(),
        };
        if savepoint {
            // Sent with the transaction's first statement.
            tx.pending.opens_savepoint = true;
            tx.pending.push(SAVEPOINT, Vec::new());
        }
        Ok(tx)
    }

    /// Waits for the connection, counted among the writers queued meanwhile.
    async fn lock_in_turn(&self) -> OwnedMutexGuard<State> {
        /// Uncounts the writer however its wait ends (a cancelled request included).
        struct Queued<'a>(&'a AtomicUsize);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.shared.queued.fetch_add(1, Ordering::SeqCst);
        let _queued = Queued(&self.shared.queued);
        self.shared.state.clone().lock_owned().await
    }

    /// 1 when no transaction holds the connection, else 0.
    pub(crate) fn idle(&self) -> u32 {
        u32::from(self.shared.state.try_lock().is_ok())
    }

    pub(crate) fn pool(&self) -> &SqlitePool {
        &self.shared.pool
    }

    /// How many times the log was synced after commits (none when SQLite syncs it itself).
    pub(crate) fn wal_syncs(&self) -> u64 {
        self.shared.wal_sync.as_ref().map_or(0, WalSync::syncs)
    }

    /// Commits the open batch, then closes the connection and the pool.
    pub(crate) async fn close(&self) {
        let shared = &self.shared;
        let mut state = shared.state.lock().await;
        state.finish_batch(shared).await;
        if let Some(connection) = state.connection.take() {
            // Closing is best effort: the pool closes what is left next.
            connection.close().await.ok();
        }
        drop(state);
        shared.pool.close().await;
    }
}

impl State {
    /// The connection, taken from the pool when none is held (at first, or after one failed).
    async fn connection(
        &mut self,
        pool: &SqlitePool,
    ) -> Result<&mut SqliteConnection, sqlx::Error> {
        if self.connection.is_none() {
            self.connection = Some(pool.acquire().await?);
        }
        self.connection
            .as_deref_mut()
            .ok_or(sqlx::Error::PoolClosed)
    }

    async fn execute(&mut self, pool: &SqlitePool, sql: &'static str) -> Result<(), sqlx::Error> {
        let connection = self.connection(pool).await?;
        sqlx::query(sql).execute(connection).await.map(drop)
    }

    /// Adds what the open batch's members left to the search index, the last entry of a
    /// message standing for it.
    async fn index_batch(&mut self, pool: &SqlitePool) -> Result<(), sqlx::Error> {
        let Some(batch) = self.batch.as_mut() else {
            return Ok(());
        };
        let entries = std::mem::take(&mut batch.index);
        let mut seen = HashSet::new();
        let mut latest: Vec<&IndexEntry> = entries
            .iter()
            .rev()
            .filter(|e| seen.insert(e.message_id.as_str()))
            .collect();
        latest.reverse();
        for chunk in latest.chunks(INDEX_CHUNK) {
            let (sql, params) = sqlite_form(index_statement(chunk));
            let connection = self.connection(pool).await?;
            connection.execute(bound(sql, params)).await?;
        }
        Ok(())
    }

    /// Finishes what an earlier holder left: a broken batch is rolled back and failed, an
    /// abandoned savepoint rolled back, and a batch that SQLite rolled back by itself failed.
    async fn settle(&mut self, shared: &Shared) {
        if let Some(reason) = self.broken.clone() {
            self.abort(&shared.pool, reason).await;
            return;
        }
        if self.member_open {
            let undone = match self.execute(&shared.pool, ROLLBACK_TO).await {
                Ok(()) => self.execute(&shared.pool, RELEASE).await,
                Err(e) => Err(e),
            };
            match undone {
                Ok(()) => self.member_open = false,
                // Its commit released it before being interrupted: it is part of the batch.
                Err(e) if is_message(&e, "no such savepoint") => self.member_open = false,
                Err(e) => {
                    let reason = format!("a dropped transaction could not be rolled back: {e}");
                    self.abort(&shared.pool, reason).await;
                    return;
                }
            }
        }
        if self.rolled_back(shared) {
            let reason = "SQLite rolled back the batch of transactions".to_owned();
            self.abort(&shared.pool, reason).await;
        }
    }

    /// Whether SQLite rolled back the open batch since it began.
    fn rolled_back(&self, shared: &Shared) -> bool {
        self.batch
            .as_ref()
            .is_some_and(|b| shared.rollbacks.load(Ordering::SeqCst) != b.rollbacks_at_start)
    }

    /// Rolls back the outer transaction and fails every member of its batch with `reason`.
    async fn abort(&mut self, pool: &SqlitePool, reason: String) {
        self.broken = Some(reason.clone());
        match self.execute(pool, "ROLLBACK").await {
            Ok(()) => {}
            Err(e) if is_message(&e, "no transaction is active") => {}
            Err(_) => {
                // The connection's state is unknown: a new one starts clean.
                if let Some(connection) = self.connection.take() {
                    drop(connection.detach());
                }
            }
        }
        self.broken = None;
        self.member_open = false;
        if let Some(batch) = self.batch.take() {
            batch.outcome.send_replace(Some(Err(reason)));
        }
    }

    /// Settles, then makes the open batch durable and tells its members (a batch no
    /// transaction was released into is rolled back: nobody waits for it).
    async fn finish_batch(&mut self, shared: &Shared) {
        self.settle(shared).await;
        match &self.batch {
            None => {}
            Some(batch) if batch.members == 0 => {
                let reason = "rolled back with no transaction to commit".to_owned();
                self.abort(&shared.pool, reason).await;
            }
            Some(_) => {
                // Until its answer is read, what the index holds of the batch is unknown.
                self.broken = Some("the batch's indexing was interrupted".to_owned());
                if let Err(e) = self.index_batch(&shared.pool).await {
                    let reason = format!("the batch's messages could not be indexed: {e}");
                    self.abort(&shared.pool, reason).await;
                    return;
                }
                self.broken = None;
                self.commit_batch(shared).await;
            }
        }
    }

    /// COMMITs the open batch; its members are told once it is durable.
    async fn commit_batch(&mut self, shared: &Shared) {
        match self.execute(&shared.pool, "COMMIT").await {
            Ok(()) => {
                if let Some(batch) = self.batch.take() {
                    match &shared.wal_sync {
                        // Durable (and told) once the log is synced; the writer goes on.
                        Some(sync) => sync.committed(batch.outcome),
                        None => {
                            batch.outcome.send_replace(Some(Ok(())));
                        }
                    }
                }
            }
            Err(e) => {
                let reason = format!("the commit of the batch failed: {e}");
                self.abort(&shared.pool, reason).await;
            }
        }
    }
}

/// Commits the batch on a task of its own, so that a cancelled caller cannot leave its
/// members without an outcome.
fn spawn_finish(shared: Arc<Shared>, mut guard: OwnedMutexGuard<State>) {
    tokio::spawn(async move { guard.finish_batch(&shared).await });
}

/// Waits for the outcome of batch `id`, committing it when the connection comes back first.
async fn await_outcome(
    shared: Arc<Shared>,
    id: u64,
    mut outcome: watch::Receiver<Outcome>,
) -> StoreResult<()> {
    tokio::select! {
        biased;
        _ = outcome.wait_for(Option::is_some) => {}
        guard = shared.state.clone().lock_owned() => {
            if guard.batch.as_ref().is_some_and(|b| b.id == id) && !shared.defer_commit() {
                spawn_finish(shared.clone(), guard);
            }
        }
    }
    let decided = match outcome.wait_for(Option::is_some).await {
        Ok(decided) => (*decided).clone(),
        Err(_) => None,
    };
    match decided {
        Some(Ok(())) => Ok(()),
        Some(Err(reason)) => Err(StoreError::Backend(reason)),
        None => Err(StoreError::Backend(
            "the batch of this transaction ended without an outcome".to_owned(),
        )),
    }
}

/// Whether a statement's error leaves the batch as it was (the statement alone undone):
/// SQLite's constraint, SQL, type and size errors do; anything else (disk full, I/O, busy,
/// a lost connection...) may have ended the transaction.
pub(crate) fn is_local(e: &sqlx::Error) -> bool {
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

fn is_message(e: &sqlx::Error, start: &str) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.message().starts_with(start))
}

/// A write transaction: it holds the writer connection until committed or dropped.
pub struct WriteTx {
    guard: Option<OwnedMutexGuard<State>>,
    writer: Writer,
    /// Why this transaction can do nothing more (an error ended its batch).
    failed: Option<String>,
    savepoint: bool,
    /// Statements not sent yet.
    pending: Pending,
    /// Messages to index, handed to the batch when this transaction commits into it.
    index: Vec<IndexEntry>,
}

/// Statements held back to go with the next one sent: SQL in SQLite's form (anonymous
/// placeholders), `;`-separated, with their values in order. sqlx prepares each statement of
/// the text in turn and binds it the values after those the statements before it took.
#[derive(Default)]
struct Pending {
    sql: String,
    params: Vec<Param>,
    statements: usize,
    /// The transaction's SAVEPOINT is among them.
    opens_savepoint: bool,
}

impl Pending {
    fn push(&mut self, sql: &str, params: Vec<Param>) {
        if !self.sql.is_empty() {
            self.sql.push_str(";\n");
        }
        self.sql.push_str(sql);
        self.params.extend(params);
        self.statements += 1;
    }
}

/// The rows and the changes of the last statement of a multi-statement execution: each
/// statement's rows come before the result that ends it.
fn last_statement(results: Vec<Either<SqliteQueryResult, SqliteRow>>) -> (Vec<SqliteRow>, u64) {
    let (mut rows, mut last_rows, mut changed) = (Vec::new(), Vec::new(), 0);
    for result in results {
        match result {
            Either::Left(done) => {
                changed = done.rows_affected();
                last_rows = std::mem::take(&mut rows);
            }
            Either::Right(row) => rows.push(row),
        }
    }
    (last_rows, changed)
}

impl WriteTx {
    fn state(&mut self) -> StoreResult<&mut State> {
        if let Some(reason) = &self.failed {
            return Err(StoreError::Backend(reason.clone()));
        }
        self.guard
            .as_deref_mut()
            .ok_or_else(|| StoreError::Backend("the transaction has ended".to_owned()))
    }

    /// Runs a statement (after those held back) and returns its rows.
    pub(crate) async fn fetch(&mut self, query: Query) -> StoreResult<Vec<SqliteRow>> {
        self.send(Some(query)).await.map(|(rows, _)| rows)
    }

    /// Runs a statement (after those held back) and returns how many rows it changed.
    pub(crate) async fn execute(&mut self, query: Query) -> StoreResult<u64> {
        self.send(Some(query)).await.map(|(_, changed)| changed)
    }

    /// Holds a statement back to be sent with the next one (or the commit), unless enough
    /// are held already; its error, if any, comes from that later call.
    pub(crate) async fn queue(&mut self, query: Query) -> StoreResult<()> {
        self.state()?;
        let (sql, params) = sqlite_form(query);
        self.pending.push(&sql, params);
        if self.pending.statements >= MAX_PENDING {
            self.send(None).await?;
        }
        Ok(())
    }

    /// Holds messages to add to the search index with the batch this transaction commits
    /// into (see [`IndexEntry`]).
    pub(crate) fn index_later(&mut self, entries: impl Iterator<Item = IndexEntry>) {
        self.index.extend(entries);
    }

    /// Sends the statements held back, then `last`, in one execution; returns the rows and
    /// changes of the last statement sent.
    async fn send(&mut self, last: Option<Query>) -> StoreResult<(Vec<SqliteRow>, u64)> {
        let pool = self.writer.shared.pool.clone();
        let mut pending = std::mem::take(&mut self.pending);
        if let Some(query) = last {
            let (sql, params) = sqlite_form(query);
            pending.push(&sql, params);
        }
        if pending.statements == 0 {
            return Ok((Vec::new(), 0));
        }
        let state = self.state()?;
        if pending.opens_savepoint {
            // From here the savepoint may exist: whoever holds the connection next after an
            // interruption or an error rolls back to it.
            state.member_open = true;
        }
        let results = match state.connection(&pool).await {
            Ok(connection) => {
                connection
                    .fetch_many(bound(pending.sql, pending.params))
                    .try_collect::<Vec<_>>()
                    .await
            }
            Err(e) => Err(e),
        };
        match results {
            Ok(results) => Ok(last_statement(results)),
            Err(e) => Err(self.failure(e).await),
        }
    }

    /// The error of a failed statement; when it may have ended SQLite's transaction, the
    /// whole batch is rolled back and failed, and this transaction can do nothing more.
    async fn failure(&mut self, e: sqlx::Error) -> StoreError {
        let shared = self.writer.shared.clone();
        if let Some(state) = self.guard.as_deref_mut()
            && (state.rolled_back(&shared) || !is_local(&e))
        {
            let reason = format!("a transaction of the batch failed: {e}");
            state.abort(&shared.pool, reason.clone()).await;
            self.failed = Some(reason);
        }
        store_error(e)
    }

    /// Releases the transaction into its batch and returns once the batch is durable.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        if let Some(reason) = &self.failed {
            return Err(StoreError::Backend(reason.clone()));
        }
        let shared = self.writer.shared.clone();
        if self.savepoint {
            if self.pending.opens_savepoint && self.pending.statements == 1 {
                // Nothing was written: no savepoint to open and release.
                self.pending = Pending::default();
            } else {
                self.pending.push(RELEASE, Vec::new());
            }
        }
        // An error here leaves the savepoint (when it may be open) to be rolled back when
        // this transaction is dropped, or ends the batch when it was not the statement's alone.
        self.send(None).await?;
        let Some(mut guard) = self.guard.take() else {
            return Err(StoreError::Backend("the transaction has ended".to_owned()));
        };
        guard.member_open = false;
        if guard.rolled_back(&shared) {
            let reason = "SQLite rolled back the batch of transactions".to_owned();
            guard.abort(&shared.pool, reason.clone()).await;
            return Err(StoreError::Backend(reason));
        }
        let Some(batch) = guard.batch.as_mut() else {
            return Err(StoreError::Backend(
                "the transaction's batch has ended".to_owned(),
            ));
        };
        batch.members += 1;
        batch.index.append(&mut self.index);
        let (id, outcome) = (batch.id, batch.outcome.subscribe());
        if batch.members >= shared.max_batch
            || (shared.queued.load(Ordering::SeqCst) == 0 && !shared.defer_commit())
        {
            spawn_finish(shared.clone(), guard);
        } else {
            drop(guard);
        }
        await_outcome(shared, id, outcome).await
    }
}

impl Drop for WriteTx {
    /// Leaves its savepoint for the next holder to roll back, and starts a task to do it now,
    /// committing the rest of the batch if no writer is queued to carry it on.
    fn drop(&mut self) {
        let Some(guard) = self.guard.take() else {
            return;
        };
        drop(guard);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let shared = self.writer.shared.clone();
            runtime.spawn(async move {
                let mut state = shared.state.clone().lock_owned().await;
                state.settle(&shared).await;
                if shared.queued.load(Ordering::SeqCst) == 0 {
                    state.finish_batch(&shared).await;
                }
            });
        }
    }
}
