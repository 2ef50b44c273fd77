//! Durability of the SQLite store: the `synchronous` setting, and group commit (concurrent
//! transactions sharing one COMMIT) keeping every transaction's outcome its own.

use comet_store::{Conflict, StoreError};
use comet_store_sql::{Database, Query, SqlRow, Transaction};
use comet_store_sqlite::{SqliteDatabase, SqliteStore, Synchronous};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Long enough for any of these tests on a loaded machine; only a hang reaches it.
const PATIENCE: Duration = Duration::from_secs(60);

async fn fresh(synchronous: Synchronous) -> (tempfile::TempDir, Arc<SqliteDatabase>) {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = SqliteDatabase::open_url_with(&url, synchronous)
        .await
        .expect("open");
    db.write(Query::new("CREATE TABLE t (k TEXT PRIMARY KEY)"))
        .await
        .expect("create table");
    (dir, Arc::new(db))
}

/// `PRAGMA synchronous` on the writer connection (0 off, 1 normal, 2 full).
async fn writer_pragma(db: &SqliteDatabase, name: &str) -> i64 {
    let mut tx = db.begin().await.expect("begin");
    let rows = tx
        .read(Query::new(format!("PRAGMA {name}")))
        .await
        .expect("pragma");
    tx.commit().await.expect("commit");
    rows.first().expect("a row").int(name).expect(name)
}

async fn writer_synchronous(db: &SqliteDatabase) -> i64 {
    writer_pragma(db, "synchronous").await
}

/// Every key in `t`, read through the reader pool (committed data only).
async fn keys(db: &SqliteDatabase) -> BTreeSet<String> {
    let rows = db
        .read(Query::new("SELECT k FROM t"))
        .await
        .expect("read keys");
    rows.iter().map(|r| r.text("k").expect("k")).collect()
}

fn insert(key: &str) -> Query {
    Query::new("INSERT INTO t (k) VALUES ($1)").bind(key)
}

/// A writer inserting `key` in a transaction of its own and committing.
fn writer(db: &Arc<SqliteDatabase>, key: String) -> JoinHandle<(String, Result<(), StoreError>)> {
    let db = db.clone();
    tokio::spawn(async move {
        let outcome = async {
            let mut tx = db.begin().await?;
            tx.write(insert(&key)).await?;
            tx.commit().await
        }
        .await;
        (key, outcome)
    })
}

/// Lets every spawned task run until it waits (on a current-thread runtime, the spawned
/// writers then queue for the writer connection in the order they were spawned).
async fn let_spawned_tasks_queue() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

async fn outcomes(
    writers: Vec<JoinHandle<(String, Result<(), StoreError>)>>,
) -> Vec<(String, Result<(), StoreError>)> {
    let mut outcomes = Vec::new();
    for writer in writers {
        let joined = tokio::time::timeout(PATIENCE, writer)
            .await
            .expect("a writer never finished");
        outcomes.push(joined.expect("writer task"));
    }
    outcomes
}

/// Commits `count` transactions one after the other; returns the log syncs they caused.
async fn syncs_of_sequential_commits(db: &SqliteDatabase, count: usize) -> u64 {
    let before = db.wal_syncs();
    for i in 0..count {
        let mut tx = db.begin().await.expect("begin");
        tx.write(insert(&format!("sequential-{i}")))
            .await
            .expect("insert");
        tx.commit().await.expect("commit");
    }
    db.wal_syncs() - before
}

#[tokio::test]
async fn full_is_the_default_synchronous() {
    let dir = tempfile::tempdir().expect("temp dir");
    for store in [
        SqliteStore::open(&dir.path().join("test.db"))
            .await
            .expect("open"),
        SqliteStore::open_url(&format!(
            "sqlite://{}",
            dir.path().join("other.db").display()
        ))
        .await
        .expect("open url"),
    ] {
        store
            .write(Query::new("CREATE TABLE t (k TEXT PRIMARY KEY)"))
            .await
            .expect("create table");
        // Each commit waits for a sync of the log that began after it.
        assert_eq!(syncs_of_sequential_commits(&store, 5).await, 5);
        store.close().await;
    }
}

#[tokio::test]
async fn with_full_a_commit_is_acknowledged_after_a_sync_of_the_log() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    assert_eq!(syncs_of_sequential_commits(&db, 20).await, 20);
    // SQLite itself syncs only around checkpoints: the writer does the rest, outside the lock.
    assert_eq!(writer_synchronous(&db).await, 1, "NORMAL");
}

#[tokio::test]
async fn a_commit_whose_log_could_not_be_synced_is_not_acknowledged() {
    let (dir, db) = fresh(Synchronous::Full).await;
    let log = dir.path().join("test.db-wal");
    let moved = dir.path().join("moved-wal");
    // The writer keeps the file open; only the syncer's way to it is gone.
    std::fs::rename(&log, &moved).expect("move the log");
    let outcome = db.write(insert("unsynced")).await;
    assert!(
        matches!(&outcome, Err(StoreError::Backend(m)) if m.contains("could not be synced")),
        "{outcome:?}"
    );
    std::fs::rename(&moved, &log).expect("put the log back");
    db.write(insert("synced")).await.expect("a later write");
}

#[tokio::test]
async fn the_write_ahead_log_is_cut_back_after_checkpoints() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    let limit = writer_pragma(&db, "journal_size_limit").await;
    assert_eq!(
        u64::try_from(limit).ok(),
        Some(comet_store_sqlite::WAL_SIZE_LIMIT_BYTES)
    );
}

#[tokio::test]
async fn the_writer_checkpoints_after_its_own_interval() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    let pages = writer_pragma(&db, "wal_autocheckpoint").await;
    assert_eq!(
        u32::try_from(pages).ok(),
        Some(comet_store_sqlite::CHECKPOINT_PAGES)
    );
}

#[tokio::test]
async fn normal_synchronous_is_available() {
    let (_dir, db) = fresh(Synchronous::Normal).await;
    assert_eq!(writer_synchronous(&db).await, 1, "NORMAL");
    // Nothing syncs the log after commits.
    assert_eq!(syncs_of_sequential_commits(&db, 5).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_transactions_all_commit() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let db = db.clone();
        tasks.push(tokio::spawn(async move {
            if i % 4 == 0 {
                // A single statement, outside any transaction of the caller's.
                db.write(insert(&format!("w{i}-a"))).await?;
                db.write(insert(&format!("w{i}-b"))).await.map(drop)
            } else {
                let mut tx = db.begin().await?;
                tx.write(insert(&format!("w{i}-a"))).await?;
                tx.write(insert(&format!("w{i}-b"))).await?;
                tx.commit().await
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("a transaction never finished")
            .expect("task")
            .expect("committed");
    }
    let expected: BTreeSet<String> = (0..200)
        .flat_map(|i| [format!("w{i}-a"), format!("w{i}-b")])
        .collect();
    assert_eq!(keys(&db).await, expected);
}

/// Runs the transaction `conflicting` in the middle of a batch of 40 other writers (they all
/// queue behind a first transaction holding the writer, so they commit as one batch), after
/// the row `taken` was committed; checks that every other writer committed, nothing of the
/// conflicting one did, and the writer is free afterwards.
async fn conflict_in_a_batch<F, Fut>(conflicting: F)
where
    F: FnOnce(Arc<SqliteDatabase>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (_dir, db) = fresh(Synchronous::Full).await;
    db.write(insert("taken")).await.expect("seed");
    let mut first = db.begin().await.expect("begin");
    first.write(insert("first")).await.expect("insert");
    let mut writers: Vec<_> = (0..20).map(|i| writer(&db, format!("w{i}"))).collect();
    let conflicting = tokio::spawn(conflicting(db.clone()));
    writers.extend((20..40).map(|i| writer(&db, format!("w{i}"))));
    let_spawned_tasks_queue().await;
    first.commit().await.expect("first commits");
    for (key, outcome) in outcomes(writers).await {
        outcome.unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    tokio::time::timeout(PATIENCE, conflicting)
        .await
        .expect("the conflicting writer never finished")
        .expect("conflicting task");
    let mut expected: BTreeSet<String> = (0..40).map(|i| format!("w{i}")).collect();
    expected.extend(["taken".to_owned(), "first".to_owned()]);
    assert_eq!(keys(&db).await, expected);
    db.write(insert("after")).await.expect("a later write");
}

#[tokio::test]
async fn a_conflicting_transaction_dropped_mid_batch_leaves_out_only_its_own_writes() {
    conflict_in_a_batch(|db| async move {
        let mut tx = db.begin().await.expect("begin");
        tx.write(insert("conflicting-own")).await.expect("own row");
        let conflict = tx.write(insert("taken")).await;
        assert!(
            matches!(conflict, Err(StoreError::Conflict(Conflict::Id))),
            "{conflict:?}"
        );
        // Dropped: nothing of it may be committed.
    })
    .await;
}

#[tokio::test]
async fn transactions_dropped_without_commit_are_rolled_back_while_their_batch_commits() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    let mut first = db.begin().await.expect("begin");
    first.write(insert("first")).await.expect("insert");
    let dropped = |db: &Arc<SqliteDatabase>, key: &'static str| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await.expect("begin");
            tx.write(insert(key)).await.expect("insert");
        })
    };
    let mut writers: Vec<_> = (0..10).map(|i| writer(&db, format!("w{i}"))).collect();
    let dropped_mid_batch = dropped(&db, "dropped-mid-batch");
    writers.extend((10..20).map(|i| writer(&db, format!("w{i}"))));
    // The last one queued: everyone before it handed the writer on and waits for the batch,
    // which must still commit once it is gone.
    let dropped_last = dropped(&db, "dropped-last");
    let_spawned_tasks_queue().await;
    first.commit().await.expect("first commits");
    for (key, outcome) in outcomes(writers).await {
        outcome.unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    for task in [dropped_mid_batch, dropped_last] {
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("a dropping writer never finished")
            .expect("dropping task");
    }
    let mut expected: BTreeSet<String> = (0..20).map(|i| format!("w{i}")).collect();
    expected.insert("first".to_owned());
    assert_eq!(keys(&db).await, expected);
    // The writer is free again and the next transaction commits alone.
    db.write(insert("after")).await.expect("a later write");
    assert!(keys(&db).await.contains("after"));
}

#[tokio::test]
async fn an_error_that_ends_the_transaction_fails_every_member_of_its_batch() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    // A database that may grow by a few pages only: a large row fails with SQLITE_FULL,
    // which may end SQLite's whole transaction, so nobody in that batch may be told that
    // their transaction committed.
    let pages = {
        let mut tx = db.begin().await.expect("begin");
        let rows = tx
            .read(Query::new("PRAGMA page_count"))
            .await
            .expect("page count");
        tx.commit().await.expect("commit");
        rows.first()
            .expect("a row")
            .int("page_count")
            .expect("pages")
    };
    db.write(Query::new(format!("PRAGMA max_page_count = {}", pages + 8)))
        .await
        .expect("limit the size");

    let mut first = db.begin().await.expect("begin");
    first.write(insert("first")).await.expect("insert");
    let same_batch: Vec<_> = (0..10).map(|i| writer(&db, format!("w{i}"))).collect();
    let too_large = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await?;
            tx.write(Query::new(
                "INSERT INTO t (k) VALUES ('large' || hex(randomblob(400000)))",
            ))
            .await?;
            tx.commit().await
        })
    };
    let next_batch: Vec<_> = (10..20).map(|i| writer(&db, format!("w{i}"))).collect();
    let_spawned_tasks_queue().await;
    let first_outcome = first.commit().await;

    let failed = tokio::time::timeout(PATIENCE, too_large)
        .await
        .expect("the large writer never finished")
        .expect("large task");
    assert!(failed.is_err(), "the large row cannot fit");
    assert!(first_outcome.is_err(), "first was in the failed batch");
    for (key, outcome) in outcomes(same_batch).await {
        assert!(outcome.is_err(), "{key} was in the failed batch");
    }
    for (key, outcome) in outcomes(next_batch).await {
        outcome.unwrap_or_else(|e| panic!("{key}, in a later batch: {e}"));
    }
    let expected: BTreeSet<String> = (10..20).map(|i| format!("w{i}")).collect();
    assert_eq!(keys(&db).await, expected);
}

#[tokio::test]
async fn queued_statements_run_before_the_next_one_whose_result_is_its_own() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    let mut tx = db.begin().await.expect("begin");
    tx.queue(insert("a")).await.expect("queue a");
    tx.queue(insert("b")).await.expect("queue b");
    let changed = tx
        .write(Query::new("UPDATE t SET k = k || '2' WHERE k = $1").bind("a"))
        .await
        .expect("update");
    assert_eq!(changed, 1, "the changes of the last statement only");
    tx.queue(insert("c")).await.expect("queue c");
    let rows = tx
        .read(Query::new("SELECT count(*) AS n FROM t"))
        .await
        .expect("count");
    assert_eq!(rows.len(), 1, "the rows of the last statement only");
    assert_eq!(rows[0].int("n").expect("n"), 3, "queued rows are visible");
    tx.queue(insert("d")).await.expect("queue d");
    assert!(keys(&db).await.is_empty(), "nothing committed yet");
    tx.commit().await.expect("commit");
    let expected: BTreeSet<String> = ["a2", "b", "c", "d"].map(str::to_owned).into();
    assert_eq!(keys(&db).await, expected);
}

#[tokio::test]
async fn more_queued_statements_than_are_held_back_all_commit() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    let mut tx = db.begin().await.expect("begin");
    for i in 0..500 {
        tx.queue(insert(&format!("k{i}"))).await.expect("queue");
    }
    tx.commit().await.expect("commit");
    assert_eq!(keys(&db).await.len(), 500);
}

#[tokio::test]
async fn a_queued_statements_conflict_comes_from_the_commit_and_leaves_out_only_its_transaction() {
    conflict_in_a_batch(|db| async move {
        let mut tx = db.begin().await.expect("begin");
        for key in ["conflicting-own", "taken", "conflicting-after"] {
            tx.queue(insert(key)).await.expect("queued");
        }
        let committed = tx.commit().await;
        assert!(
            matches!(committed, Err(StoreError::Conflict(Conflict::Id))),
            "{committed:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn a_transaction_dropped_with_statements_queued_or_sent_leaves_nothing() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    {
        let mut tx = db.begin().await.expect("begin");
        tx.queue(insert("queued-only")).await.expect("queue");
    }
    {
        let mut tx = db.begin().await.expect("begin");
        tx.queue(insert("queued-then-sent")).await.expect("queue");
        tx.read(Query::new("SELECT k FROM t")).await.expect("read");
    }
    db.write(insert("after")).await.expect("a later write");
    let expected: BTreeSet<String> = ["after".to_owned()].into();
    assert_eq!(keys(&db).await, expected);
}

#[tokio::test]
async fn transactions_of_held_back_statements_share_a_batch_each_with_its_own_outcome() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    db.write(insert("taken")).await.expect("seed");
    let mut first = db.begin().await.expect("begin");
    first.write(insert("first")).await.expect("hold the writer");
    let syncs_before = db.wal_syncs();
    // Transactions that send nothing before their commit (a post's kind); every fifth
    // conflicts halfway through.
    let unsent = |i: usize| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await?;
            tx.queue(insert(&format!("u{i}-a"))).await?;
            if i.is_multiple_of(5) {
                tx.queue(insert("taken")).await?;
            }
            tx.queue(insert(&format!("u{i}-b"))).await?;
            tx.commit().await
        })
    };
    let mut handed_over: Vec<_> = (0..30).map(unsent).collect();
    let_spawned_tasks_queue().await;
    // One caller goes away while it waits for the writer: nothing of it runs.
    let cancelled = {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await?;
            tx.queue(insert("cancelled")).await?;
            tx.commit().await
        })
    };
    let_spawned_tasks_queue().await;
    cancelled.abort();
    handed_over.push(unsent(30));
    let_spawned_tasks_queue().await;
    first.commit().await.expect("first commits");

    let mut expected: BTreeSet<String> = ["taken".to_owned(), "first".to_owned()].into();
    for (i, task) in handed_over.into_iter().enumerate() {
        let outcome = tokio::time::timeout(PATIENCE, task)
            .await
            .expect("a transaction never finished")
            .expect("task");
        if i.is_multiple_of(5) {
            assert!(
                matches!(outcome, Err(StoreError::Conflict(Conflict::Id))),
                "u{i}: {outcome:?}"
            );
        } else {
            outcome.unwrap_or_else(|e| panic!("u{i}: {e}"));
            expected.extend([format!("u{i}-a"), format!("u{i}-b")]);
        }
    }
    assert!(cancelled.await.is_err(), "the cancelled task was aborted");
    assert_eq!(keys(&db).await, expected);
    assert_eq!(db.wal_syncs() - syncs_before, 1, "one batch, one sync");
    db.write(insert("after")).await.expect("a later write");
}

#[tokio::test]
async fn work_that_comes_while_a_transaction_holds_the_writer_runs_after_it_in_order() {
    let (_dir, db) = fresh(Synchronous::Full).await;
    let mut holder = db.begin().await.expect("begin");
    // Having read, it holds the connection until it ends.
    holder
        .read(Query::new("SELECT count(*) AS n FROM t"))
        .await
        .expect("read");
    holder.write(insert("held")).await.expect("write");
    let queued = |statement: Query| {
        let db = db.clone();
        tokio::spawn(async move {
            let mut tx = db.begin().await?;
            tx.queue(statement).await?;
            tx.commit().await
        })
    };
    // The second copies what the first inserts: it finds it only if it runs after it.
    let first = queued(insert("a"));
    let_spawned_tasks_queue().await;
    let second = queued(Query::new(
        "INSERT INTO t (k) SELECT 'after-' || k FROM t WHERE k = 'a'",
    ));
    let_spawned_tasks_queue().await;
    let alone = db.clone();
    let single = tokio::spawn(async move { alone.write(insert("single")).await });
    let_spawned_tasks_queue().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!first.is_finished() && !second.is_finished() && !single.is_finished());
    // The holder still sees only its own writes.
    let seen = holder
        .read(Query::new("SELECT k FROM t ORDER BY k"))
        .await
        .expect("read again");
    let seen: Vec<String> = seen.iter().map(|r| r.text("k").expect("k")).collect();
    assert_eq!(seen, ["held"]);
    holder.commit().await.expect("the holder commits");
    for task in [first, second] {
        tokio::time::timeout(PATIENCE, task)
            .await
            .expect("a set-aside transaction never finished")
            .expect("task")
            .expect("committed");
    }
    tokio::time::timeout(PATIENCE, single)
        .await
        .expect("the single statement never finished")
        .expect("task")
        .expect("committed");
    let expected: BTreeSet<String> = ["held", "a", "after-a", "single"].map(str::to_owned).into();
    assert_eq!(keys(&db).await, expected);
}

/// A snapshot (`VACUUM INTO`) of a database that takes far longer to copy than a read may run
/// on an async worker is whole: it is not cut off and started again into a half-written file.
#[tokio::test]
async fn a_snapshot_of_a_large_database_is_whole() {
    let (dir, db) = fresh(Synchronous::Normal).await;
    db.write(Query::new(
        "INSERT INTO t (k) WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n \
         WHERE i < 20000) SELECT printf('%08d', i) || hex(randomblob(1000)) FROM n",
    ))
    .await
    .expect("fill");
    let copy = dir.path().join("snapshot.db");
    tokio::time::timeout(PATIENCE, db.snapshot_into(&copy))
        .await
        .expect("in time")
        .expect("snapshot");
    let url = format!("sqlite://{}", copy.display());
    let snapshot = SqliteDatabase::open_url_with(&url, Synchronous::Normal)
        .await
        .expect("open the snapshot");
    let rows = snapshot
        .read(Query::new("SELECT count(*) AS n FROM t"))
        .await
        .expect("count");
    assert_eq!(rows[0].int("n").expect("n"), 20_000);
}
