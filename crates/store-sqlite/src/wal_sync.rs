//! Syncing the write-ahead log outside SQLite's write lock.
//!
//! With `synchronous=FULL`, SQLite syncs the log inside COMMIT while it still holds its one
//! write lock, so the next batch of transactions cannot start until the disk has answered.
//! Instead the writer connection runs with
//! `synchronous=NORMAL` (SQLite still syncs around every checkpoint, so the database is never
//! corrupted), and a thread of this module syncs the log after each COMMIT has written its
//! frames; a batch's members are told it succeeded only once that sync has finished. An
//! acknowledged transaction is therefore on disk exactly as with `FULL`, while the writer
//! goes on with the next batch.
//!
//! That next batch is not committed while a sync is running (its members could not be told
//! any sooner): it stays open and takes in every transaction that commits meanwhile, and the
//! syncer has it committed as soon as the disk answers. So a batch holds what one sync's time
//! brings, as it did when the sync ran inside COMMIT, and the writer never waits for the disk.
//!
//! Readers may see a batch for the length of one sync before it is durable; everything that
//! tells clients about a write (the answer, the events) waits for it.

use std::fs::File;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// A sync taking this long is logged: every write waits for it.
const SLOW_SYNC: Duration = Duration::from_secs(1);

/// A batch's outcome once decided; an error is told to every member.
pub(crate) type Outcome = Option<Result<(), String>>;

/// The log syncer: a thread, and the batches committed but not yet synced.
pub(crate) struct WalSync {
    shared: Arc<SyncShared>,
}

struct SyncShared {
    /// The write-ahead log file (`<database>-wal`).
    log: PathBuf,
    queue: Mutex<Queue>,
    wake: Condvar,
    syncs: AtomicU64,
    /// Commits the deferred batch (given by the writer, which owns this syncer).
    commit_deferred: OnceLock<Box<dyn Fn() + Send + Sync>>,
}

#[derive(Default)]
struct Queue {
    /// Batches whose COMMIT has returned, each waiting for a sync that starts after it.
    committed: Vec<watch::Sender<Outcome>>,
    /// A sync is running.
    syncing: bool,
    /// An open batch waits to be committed once no sync is running or due.
    deferred: bool,
    closed: bool,
}

impl WalSync {
    /// Starts the syncer of the log at `log`.
    pub(crate) fn start(log: PathBuf) -> std::io::Result<Self> {
        let shared = Arc::new(SyncShared {
            log,
            queue: Mutex::default(),
            wake: Condvar::new(),
            syncs: AtomicU64::new(0),
            commit_deferred: OnceLock::new(),
        });
        let worker = shared.clone();
        std::thread::Builder::new()
            .name("comet-wal-sync".to_owned())
            .spawn(move || worker.run())?;
        Ok(WalSync { shared })
    }

    /// Hands over a batch whose COMMIT has returned: its members learn the outcome once the
    /// log has been synced.
    pub(crate) fn committed(&self, outcome: watch::Sender<Outcome>) {
        let mut queue = self.lock();
        queue.committed.push(outcome);
        drop(queue);
        self.shared.wake.notify_one();
    }

    /// Sets what commits a deferred batch once no sync is running.
    pub(crate) fn on_deferred_commit(&self, commit: Box<dyn Fn() + Send + Sync>) {
        // Set once, by the writer that owns this syncer.
        let _ = self.shared.commit_deferred.set(commit);
    }

    /// Whether the open batch should wait instead of committing now: a sync is running or
    /// due, and its members could not be told sooner. When so, the batch will be committed
    /// (through [`WalSync::on_deferred_commit`]) once none is.
    pub(crate) fn defer_commit(&self) -> bool {
        let mut queue = self.lock();
        let busy = queue.syncing || !queue.committed.is_empty();
        if busy {
            queue.deferred = true;
        }
        busy
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.shared.lock()
    }

    /// How many times the log has been synced.
    pub(crate) fn syncs(&self) -> u64 {
        self.shared.syncs.load(Ordering::Relaxed)
    }

    /// Syncs the log now (after work done outside the writer's batches, such as migrations).
    pub(crate) fn sync_now(&self) -> std::io::Result<()> {
        self.shared.sync()
    }
}

impl Drop for WalSync {
    /// Lets the thread finish what is queued, then end.
    fn drop(&mut self) {
        let mut queue = self.lock();
        queue.closed = true;
        drop(queue);
        self.shared.wake.notify_one();
    }
}

impl SyncShared {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn run(&self) {
        loop {
            let batches = {
                let mut queue = self.lock();
                while queue.committed.is_empty() && !queue.closed {
                    queue = self
                        .wake
                        .wait(queue)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if queue.committed.is_empty() {
                    return;
                }
                queue.syncing = true;
                // Every batch taken here had written its frames before this sync begins.
                std::mem::take(&mut queue.committed)
            };
            let started = Instant::now();
            let synced = self.sync();
            let took = started.elapsed();
            if took >= SLOW_SYNC {
                // Every write waits for this: a slow disk shows here first.
                tracing::warn!(seconds = took.as_secs_f64(), batches = batches.len(), log = %self.log.display(), "syncing the write-ahead log was slow");
            }
            let outcome = match synced {
                Ok(()) => Ok(()),
                Err(e) => {
                    // The frames are in the log but their durability is unknown: nothing of
                    // these batches may be acknowledged as durable.
                    tracing::error!(error = %e, log = %self.log.display(), "the write-ahead log could not be synced");
                    Err(format!("the write-ahead log could not be synced: {e}"))
                }
            };
            for batch in batches {
                batch.send_replace(Some(outcome.clone()));
            }
            let commit_deferred = {
                let mut queue = self.lock();
                queue.syncing = false;
                let due = queue.deferred && queue.committed.is_empty();
                if due {
                    queue.deferred = false;
                }
                due
            };
            if commit_deferred && let Some(commit) = self.commit_deferred.get() {
                commit();
            }
        }
    }

    fn sync(&self) -> std::io::Result<()> {
        // fdatasync flushes the file's data whichever descriptor wrote it; opening the file
        // each time follows SQLite should it ever recreate the log.
        File::open(&self.log)?.sync_data()?;
        self.syncs.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}
