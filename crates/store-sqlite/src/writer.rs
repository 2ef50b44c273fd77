//! The one writer connection, on a thread of its own, and group commit.
//!
//! A commit is acknowledged only once the write-ahead log is on disk (by default), and that
//! sync costs far more than the statements before it. So transactions share one COMMIT, and
//! the sync after it (made outside the write lock: see `wal_sync`): the writer thread opens an
//! outer `BEGIN IMMEDIATE` (the batch), runs every transaction inside its own `SAVEPOINT`,
//! and a transaction's commit releases its savepoint into the batch. The thread COMMITs the
//! batch once nothing else is waiting for it (or the batch is full). Nothing is acknowledged
//! before the COMMIT of its batch succeeded and the log was synced after it, and when that
//! COMMIT or sync fails, or an error ends SQLite's transaction under the batch (`SQLITE_FULL`,
//! `SQLITE_IOERR`, `SQLITE_BUSY`...), every member of the batch gets an error.
//!
//! The thread owns its connection (rusqlite, with a cache of prepared statements) and takes
//! work from a channel, so it runs one transaction after another without waiting for anyone:
//! when the connection was a pool's, each transaction was a round trip from its task to the
//! driver's thread, and the next task had to be woken to send its own, which was half of the
//! time per post (BENCHMARKS.md, session 19). A transaction sends nothing until it needs a
//! result: the statements whose results it does not read ([`WriteTx::queue`]) go with its
//! next statement or its commit, so a post is one message to the thread. A transaction that
//! has read something holds the connection (its savepoint is open) until it commits or is
//! dropped; the thread sets other transactions' work aside meanwhile, and takes it up, in the
//! order it came, when that transaction ends. A transaction dropped without committing is
//! rolled back to its savepoint, and the rest of the batch goes on.

use crate::connection::{self, Access, SqliteRow};
use crate::wal_sync::{Outcome, WalSync};
use crate::{index_statement, indexed_words, sqlite_form, store_error};
use comet_core::room::Message;
use comet_store::{StoreError, StoreResult};
use comet_store_sql::{Param, Query};
use rusqlite::Connection;
use std::collections::{HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use tokio::sync::{mpsc, oneshot, watch};

/// The most transactions one COMMIT makes durable; past it the batch commits.
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

/// A statement in SQLite's form (anonymous placeholders) with its values in order.
type Statement = (String, Vec<Param>);

/// What a transaction asks of the thread.
enum Command {
    Run(Run),
    /// Transaction `.0` ended without committing.
    Abandon(u64),
    /// The log's syncer has finished: commit the batch it held back, if nothing runs.
    CommitDeferred,
    /// Commit the open batch and close the connection.
    Close(oneshot::Sender<()>),
}

/// Statements of one transaction, in order.
struct Run {
    tx: u64,
    /// Run inside a savepoint of the transaction's own; without, the transaction is a single
    /// statement, which SQLite keeps atomic by itself.
    savepoint: bool,
    statements: Vec<Statement>,
    /// The transaction ends with these: its savepoint is released into the batch.
    commit: bool,
    /// Messages to index with the batch, handed over when it commits.
    index: Vec<IndexEntry>,
    reply: oneshot::Sender<Result<Ran, Failed>>,
}

/// The rows and the changes of the last statement of a run, and for a commit, the outcome of
/// its batch to come.
struct Ran {
    rows: Vec<SqliteRow>,
    changes: u64,
    outcome: Option<watch::Receiver<Outcome>>,
}

/// A failed run: the error, and whether it ended the whole batch (and so the transaction).
struct Failed {
    error: StoreError,
    batch_ended: Option<String>,
}

/// The writer thread's end of the connection, shared by every clone of the database.
#[derive(Clone)]
pub(crate) struct Writer {
    shared: Arc<Shared>,
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    next_tx: AtomicU64,
    /// The thread is waiting for work with no transaction holding the connection.
    idle: Arc<AtomicBool>,
    wal_sync: Option<Arc<WalSync>>,
}

impl Writer {
    /// Opens the writer connection to the database file at `path` (migrated already) on a
    /// thread of its own.
    pub(crate) async fn start(path: PathBuf, wal_sync: Option<WalSync>) -> StoreResult<Self> {
        let (commands, receiver) = mpsc::unbounded_channel();
        let wal_sync = wal_sync.map(Arc::new);
        let idle = Arc::new(AtomicBool::new(true));
        let shared = Arc::new(Shared {
            commands,
            next_tx: AtomicU64::new(1),
            idle: Arc::clone(&idle),
            wal_sync: wal_sync.clone(),
        });
        if let Some(sync) = &wal_sync {
            // Weak: the thread ends once every handle is gone, and the syncer must not keep
            // its channel open.
            let commands = shared.commands.downgrade();
            sync.on_deferred_commit(Box::new(move || {
                if let Some(commands) = commands.upgrade() {
                    let _ = commands.send(Command::CommitDeferred);
                }
            }));
        }
        let (opened_tx, opened) = oneshot::channel();
        std::thread::Builder::new()
            .name("comet-sqlite-writer".to_owned())
            .spawn(move || match connection::open(&path, Access::Write) {
                Ok(connection) => {
                    let _ = opened_tx.send(Ok(()));
                    let thread = Thread {
                        connection,
                        path,
                        commands: receiver,
                        set_aside: VecDeque::new(),
                        holder: None,
                        batch: None,
                        wal_sync,
                        idle,
                    };
                    thread.run();
                }
                Err(e) => {
                    let _ = opened_tx.send(Err(e));
                }
            })
            .map_err(|e| StoreError::Backend(format!("cannot start the writer thread: {e}")))?;
        match opened.await {
            Ok(Ok(())) => Ok(Writer { shared }),
            Ok(Err(e)) => Err(StoreError::Backend(format!(
                "cannot open the writer connection: {e}"
            ))),
            Err(_) => Err(StoreError::Backend(
                "the writer thread ended while opening".to_owned(),
            )),
        }
    }

    /// A transaction: it holds nothing until it sends its first statement.
    pub(crate) fn begin(&self) -> WriteTx {
        WriteTx {
            writer: self.clone(),
            id: self.shared.next_tx.fetch_add(1, Ordering::Relaxed),
            pending: Vec::new(),
            index: Vec::new(),
            sent: false,
            ended: None,
        }
    }

    /// One statement as a transaction of its own: its rows and changes, once durable.
    pub(crate) async fn write_alone(&self, query: Query) -> StoreResult<(Vec<SqliteRow>, u64)> {
        let mut tx = self.begin();
        tx.pending.push(sqlite_form(query));
        let ran = tx.send(false, true).await?;
        tx.ended = Some("the transaction has ended".to_owned());
        await_outcome(ran.outcome).await?;
        Ok((ran.rows, ran.changes))
    }

    /// 1 when no transaction holds the connection and the thread waits for work, else 0.
    pub(crate) fn idle(&self) -> u32 {
        u32::from(self.shared.idle.load(Ordering::Relaxed))
    }

    /// How many times the log was synced after commits (none when SQLite syncs it itself).
    pub(crate) fn wal_syncs(&self) -> u64 {
        self.shared.wal_sync.as_ref().map_or(0, |s| s.syncs())
    }

    /// Commits the open batch, then closes the connection.
    pub(crate) async fn close(&self) {
        let (done, closed) = oneshot::channel();
        if self.shared.commands.send(Command::Close(done)).is_ok() {
            let _ = closed.await;
        }
    }

    fn send(&self, command: Command) -> StoreResult<()> {
        self.shared
            .commands
            .send(command)
            .map_err(|_| StoreError::Backend("the database is closed".to_owned()))
    }
}

/// Waits for the outcome of a batch (`None`: nothing was written, nothing to wait for).
async fn await_outcome(outcome: Option<watch::Receiver<Outcome>>) -> StoreResult<()> {
    let Some(mut outcome) = outcome else {
        return Ok(());
    };
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

/// A write transaction. Its statements run on the writer thread, in a savepoint of the open
/// batch; it holds the connection from its first statement sent until it commits or is
/// dropped.
pub struct WriteTx {
    writer: Writer,
    id: u64,
    /// Statements not sent yet.
    pending: Vec<Statement>,
    /// Messages to index, handed to the batch when this transaction commits into it.
    index: Vec<IndexEntry>,
    /// Something was sent: the thread may hold this transaction's savepoint.
    sent: bool,
    /// Why this transaction can do nothing more (committed, or an error ended its batch).
    ended: Option<String>,
}

impl WriteTx {
    /// Runs a statement (after those held back) and returns its rows.
    pub(crate) async fn fetch(&mut self, query: Query) -> StoreResult<Vec<SqliteRow>> {
        self.pending.push(sqlite_form(query));
        self.send(true, false).await.map(|ran| ran.rows)
    }

    /// Runs a statement (after those held back) and returns how many rows it changed.
    pub(crate) async fn execute(&mut self, query: Query) -> StoreResult<u64> {
        self.pending.push(sqlite_form(query));
        self.send(true, false).await.map(|ran| ran.changes)
    }

    /// Holds a statement back to be sent with the next one (or the commit), unless enough
    /// are held already; its error, if any, comes from that later call.
    pub(crate) async fn queue(&mut self, query: Query) -> StoreResult<()> {
        if let Some(reason) = &self.ended {
            return Err(StoreError::Backend(reason.clone()));
        }
        self.pending.push(sqlite_form(query));
        if self.pending.len() >= MAX_PENDING {
            self.send(true, false).await?;
        }
        Ok(())
    }

    /// Holds messages to add to the search index with the batch this transaction commits
    /// into (see [`IndexEntry`]).
    pub(crate) fn index_later(&mut self, entries: impl Iterator<Item = IndexEntry>) {
        self.index.extend(entries);
    }

    /// Sends the statements held back to the thread and waits for them to run.
    async fn send(&mut self, savepoint: bool, commit: bool) -> StoreResult<Ran> {
        if let Some(reason) = &self.ended {
            return Err(StoreError::Backend(reason.clone()));
        }
        let (reply, ran) = oneshot::channel();
        let run = Run {
            tx: self.id,
            savepoint,
            statements: std::mem::take(&mut self.pending),
            commit,
            index: if commit {
                std::mem::take(&mut self.index)
            } else {
                Vec::new()
            },
            reply,
        };
        // From here the thread may open this transaction's savepoint; dropped before it ends,
        // the transaction tells the thread to roll it back.
        self.sent = true;
        self.writer.send(Command::Run(run))?;
        match ran.await {
            Ok(Ok(ran)) => Ok(ran),
            Ok(Err(failed)) => {
                if let Some(reason) = failed.batch_ended {
                    self.ended = Some(reason);
                }
                Err(failed.error)
            }
            Err(_) => {
                let reason = "the writer thread ended".to_owned();
                self.ended = Some(reason.clone());
                Err(StoreError::Backend(reason))
            }
        }
    }

    /// Releases the transaction into its batch and returns once the batch is durable.
    pub(crate) async fn commit(mut self) -> StoreResult<()> {
        if let Some(reason) = &self.ended {
            return Err(StoreError::Backend(reason.clone()));
        }
        if !self.sent && self.pending.is_empty() && self.index.is_empty() {
            // Nothing was written: no savepoint to open and release.
            self.ended = Some("the transaction has ended".to_owned());
            return Ok(());
        }
        let ran = self.send(true, true).await;
        // Committed, or rolled back to its savepoint by the thread: either way it is over.
        self.ended = Some("the transaction has ended".to_owned());
        await_outcome(ran?.outcome).await
    }
}

impl Drop for WriteTx {
    /// Tells the thread to roll back the savepoint this transaction may have left open.
    fn drop(&mut self) {
        if self.sent && self.ended.is_none() {
            let _ = self.writer.send(Command::Abandon(self.id));
        }
    }
}

/// The open outer transaction.
struct Batch {
    /// Transactions released into it, waiting for its COMMIT.
    members: usize,
    outcome: watch::Sender<Outcome>,
    /// Messages its members committed, to add to the search index before its COMMIT.
    index: Vec<IndexEntry>,
}

/// The writer thread's state.
struct Thread {
    connection: Connection,
    path: PathBuf,
    commands: mpsc::UnboundedReceiver<Command>,
    /// Work of other transactions that came while one held the connection, in order.
    set_aside: VecDeque<Command>,
    /// The transaction whose savepoint is open between its statements.
    holder: Option<u64>,
    batch: Option<Batch>,
    wal_sync: Option<Arc<WalSync>>,
    /// [`Shared::idle`].
    idle: Arc<AtomicBool>,
}

const SAVEPOINT: &str = "SAVEPOINT comet_member";
const RELEASE: &str = "RELEASE comet_member";
const ROLLBACK_TO: &str = "ROLLBACK TO comet_member";

impl Thread {
    fn run(mut self) {
        loop {
            let command = match self.next_command() {
                Some(command) => command,
                None => {
                    // Every handle is gone: what was committed into the batch is kept.
                    self.finish_batch();
                    return;
                }
            };
            self.idle.store(false, Ordering::Relaxed);
            match command {
                Command::Run(run) => self.run_statements(run),
                Command::Abandon(tx) => self.abandon(tx),
                Command::CommitDeferred => {
                    if self.holder.is_none() {
                        self.finish_batch();
                    }
                }
                Command::Close(done) => {
                    self.finish_batch();
                    let _ = done.send(());
                    return;
                }
            }
        }
    }

    /// The next work: what was set aside once the connection is free again, then what came;
    /// when nothing has, the batch is committed (unless the log's syncer will have it
    /// committed) and the thread waits.
    fn next_command(&mut self) -> Option<Command> {
        if self.holder.is_none()
            && let Some(command) = self.set_aside.pop_front()
        {
            return Some(command);
        }
        if let Ok(command) = self.commands.try_recv() {
            return Some(command);
        }
        if self.holder.is_none() && self.batch.is_some() && !self.defer_commit() {
            self.finish_batch();
        }
        self.idle.store(self.holder.is_none(), Ordering::Relaxed);
        self.commands.blocking_recv()
    }

    /// Whether the open batch should stay open for now: the log's syncer is busy, and will
    /// have it committed when it is not.
    fn defer_commit(&self) -> bool {
        let has_members = self.batch.as_ref().is_some_and(|b| b.members > 0);
        has_members && self.wal_sync.as_ref().is_some_and(|s| s.defer_commit())
    }

    fn run_statements(&mut self, run: Run) {
        if self.holder.is_some_and(|holder| holder != run.tx) {
            self.set_aside.push_back(Command::Run(run));
            return;
        }
        if run.reply.is_closed() {
            // Its caller went away (a cancelled request) before it ran: none of it runs.
            self.abandon(run.tx);
            return;
        }
        if self.batch.is_some() && self.connection.is_autocommit() {
            // SQLite ended the batch without an error seen here: nothing of it stands.
            let reason = "SQLite rolled back the batch of transactions";
            let held = self.holder == Some(run.tx);
            self.abort(reason);
            if held {
                let _ = run.reply.send(Err(Failed {
                    error: StoreError::Backend(reason.to_owned()),
                    batch_ended: Some(reason.to_owned()),
                }));
                return;
            }
        }
        let outcome = self.run_in_batch(&run.statements, run.savepoint, run.tx);
        let reply = match outcome {
            Ok((rows, changes)) if run.commit => match self.release(run.savepoint) {
                Ok(()) => {
                    let outcome = self.batch.as_mut().map(|batch| {
                        batch.members += 1;
                        batch.index.extend(run.index);
                        batch.outcome.subscribe()
                    });
                    Ok(Ran {
                        rows,
                        changes,
                        outcome,
                    })
                }
                Err(e) => Err(self.failed(e, run.savepoint)),
            },
            Ok((rows, changes)) => Ok(Ran {
                rows,
                changes,
                outcome: None,
            }),
            Err(e) => {
                let failed = self.failed(e, run.savepoint);
                if run.commit && failed.batch_ended.is_none() && run.savepoint {
                    // The transaction ends here, without its writes.
                    self.roll_back_member();
                }
                Err(failed)
            }
        };
        let _ = run.reply.send(reply);
        if self.batch.as_ref().is_some_and(|b| b.members >= MAX_BATCH) && self.holder.is_none() {
            self.finish_batch();
        }
    }

    /// Opens the batch and the transaction's savepoint when needed, and runs the statements;
    /// the rows and changes of the last.
    fn run_in_batch(
        &mut self,
        statements: &[Statement],
        savepoint: bool,
        tx: u64,
    ) -> rusqlite::Result<(Vec<SqliteRow>, u64)> {
        if self.batch.is_none() {
            self.control("BEGIN IMMEDIATE")?;
            self.batch = Some(Batch {
                members: 0,
                outcome: watch::Sender::new(None),
                index: Vec::new(),
            });
        }
        if savepoint && self.holder != Some(tx) {
            self.control(SAVEPOINT)?;
            self.holder = Some(tx);
        }
        let mut last = (Vec::new(), 0);
        for (sql, params) in statements {
            last = connection::run(&self.connection, sql, params)?;
        }
        Ok(last)
    }

    /// Runs a statement that controls transactions (`BEGIN`, `SAVEPOINT`...), prepared once:
    /// a post runs three of them.
    fn control(&self, sql: &str) -> rusqlite::Result<()> {
        self.connection.prepare_cached(sql)?.execute([]).map(drop)
    }

    /// Releases the holder's savepoint into the batch.
    fn release(&mut self, savepoint: bool) -> rusqlite::Result<()> {
        if savepoint && self.holder.is_some() {
            self.control(RELEASE)?;
        }
        self.holder = None;
        Ok(())
    }

    /// What a failed run tells its transaction; when the error may have ended SQLite's
    /// transaction, the whole batch is rolled back and failed first.
    fn failed(&mut self, e: rusqlite::Error, savepoint: bool) -> Failed {
        let ended = self.batch.is_some() && self.connection.is_autocommit();
        if ended || !connection::is_local(&e) {
            let reason = format!("a transaction of the batch failed: {e}");
            self.abort(&reason);
            return Failed {
                error: store_error(&e),
                batch_ended: Some(reason),
            };
        }
        if !savepoint {
            // A single statement: SQLite undid it, and its transaction is over.
            self.holder = None;
        }
        Failed {
            error: store_error(&e),
            batch_ended: None,
        }
    }

    /// Rolls back the holder's savepoint (its writes leave the batch) and frees the connection.
    fn roll_back_member(&mut self) {
        if self.holder.take().is_none() {
            return;
        }
        let undone = self
            .connection
            .execute_batch(ROLLBACK_TO)
            .and_then(|()| self.control(RELEASE));
        if let Err(e) = undone {
            self.abort(&format!(
                "a dropped transaction could not be rolled back: {e}"
            ));
        }
    }

    fn abandon(&mut self, tx: u64) {
        match self.holder {
            Some(holder) if holder == tx => self.roll_back_member(),
            // Its savepoint is still to come, after the holder's: so is this.
            Some(_) => self.set_aside.push_back(Command::Abandon(tx)),
            // Already released into the batch, or never opened.
            None => {}
        }
    }

    /// Rolls back the outer transaction and fails every member of its batch with `reason`.
    fn abort(&mut self, reason: &str) {
        self.holder = None;
        if !self.connection.is_autocommit()
            && let Err(e) = self.connection.execute_batch("ROLLBACK")
        {
            // The connection's state is unknown: a new one starts clean.
            tracing::error!(error = %e, "the writer's batch could not be rolled back; reopening");
            match connection::open(&self.path, Access::Write) {
                Ok(connection) => self.connection = connection,
                Err(e) => tracing::error!(error = %e, "the writer could not reopen the database"),
            }
        }
        if let Some(batch) = self.batch.take() {
            batch.outcome.send_replace(Some(Err(reason.to_owned())));
        }
    }

    /// Makes the open batch durable and tells its members (a batch no transaction was
    /// released into is rolled back: nobody waits for it).
    fn finish_batch(&mut self) {
        if let Some(holder) = self.holder {
            // Closing with a transaction holding the connection: it cannot commit any more.
            self.abandon(holder);
        }
        let Some(batch) = self.batch.as_mut() else {
            return;
        };
        if batch.members == 0 {
            self.abort("rolled back with no transaction to commit");
            return;
        }
        let entries = std::mem::take(&mut batch.index);
        if let Err(e) = self.index(&entries) {
            self.abort(&format!("the batch's messages could not be indexed: {e}"));
            return;
        }
        if let Err(e) = self.control("COMMIT") {
            self.abort(&format!("the commit of the batch failed: {e}"));
            return;
        }
        if let Some(batch) = self.batch.take() {
            match &self.wal_sync {
                // Durable (and told) once the log is synced; the writer goes on.
                Some(sync) => sync.committed(batch.outcome),
                None => {
                    batch.outcome.send_replace(Some(Ok(())));
                }
            }
        }
    }

    /// Adds what the batch's members left to the search index, the last entry of a message
    /// standing for it.
    fn index(&self, entries: &[IndexEntry]) -> rusqlite::Result<()> {
        let mut seen = HashSet::new();
        let mut latest: Vec<&IndexEntry> = entries
            .iter()
            .rev()
            .filter(|e| seen.insert(e.message_id.as_str()))
            .collect();
        latest.reverse();
        for chunk in latest.chunks(INDEX_CHUNK) {
            let (sql, params) = sqlite_form(index_statement(chunk));
            connection::run(&self.connection, &sql, &params)?;
        }
        Ok(())
    }
}
