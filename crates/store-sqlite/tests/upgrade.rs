//! Upgrades of a database written by an older Comet: what it held is still found afterwards.

use comet_store::MessageFilter;
use comet_store::MessageStore;
use comet_store_sqlite::SqliteStore;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

/// Applies the migrations numbered below `first_new` to a new database at `path`, as the Comet
/// that stopped there would have.
async fn migrate_up_to(path: &std::path::Path, first_new: &str) {
    let older = tempfile::tempdir().expect("temp dir");
    let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    for entry in std::fs::read_dir(&source).expect("migrations") {
        let entry = entry.expect("migration");
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.as_str() < first_new {
            std::fs::copy(entry.path(), older.path().join(&name)).expect("copy");
        }
    }
    let migrator = sqlx::migrate::Migrator::new(older.path())
        .await
        .expect("older migrations");
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(false);
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("open");
    migrator.run(&pool).await.expect("older schema");
    for (n, text) in ["the deployment finished", "lunch at noon", "plan b"]
        .iter()
        .enumerate()
    {
        sqlx::query(
            "INSERT INTO messages (id, rid, msg, u_id, u_username, ts, updated_at) \
             VALUES (?, 'r1', ?, 'u1', 'ann', ?, ?)",
        )
        .bind(format!("m{n}"))
        .bind(text)
        .bind(1_700_000_000_000_i64 + n as i64)
        .bind(1_700_000_000_000_i64 + n as i64)
        .execute(&pool)
        .await
        .expect("old message");
    }
    pool.close().await;
}

#[tokio::test]
async fn messages_indexed_before_the_prefix_index_are_found_by_prefix_after_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    migrate_up_to(&path, "0027").await;

    let store = SqliteStore::open(&path).await.expect("upgrade");
    let search = |text: &'static str| {
        let store = &store;
        async move {
            store
                .search_messages("r1", text, &MessageFilter::default(), false, 0, None)
                .await
                .expect("search")
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("de").await, ["m0"], "a two-letter prefix");
    assert_eq!(search("lun").await, ["m1"], "a three-letter prefix");
    assert_eq!(search("deploym").await, ["m0"], "a longer prefix");
    assert_eq!(search("b").await, ["m2"], "one letter, whole");
}

#[tokio::test]
async fn messages_stored_before_the_per_room_index_are_found_in_their_own_room() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("old.db");
    migrate_up_to(&path, "0030").await;
    // More than one batch of the rebuild (20,000 messages), another room using the same words, and a deleted
    // message, which stays out of the index.
    let pool = SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(
            SqliteConnectOptions::new()
                .filename(&path)
                .foreign_keys(false),
        )
        .await
        .expect("reopen");
    let mut tx = pool.begin().await.expect("begin");
    for n in 0..21_000_i64 {
        let (room, text) = if n % 2 == 0 {
            ("r2", format!("deployment number {n}"))
        } else {
            ("r3", format!("filler {n}"))
        };
        sqlx::query(
            "INSERT INTO messages (id, rid, msg, u_id, u_username, ts, updated_at) \
             VALUES (?, ?, ?, 'u1', 'ann', ?, ?)",
        )
        .bind(format!("n{n}"))
        .bind(room)
        .bind(text)
        .bind(1_700_000_001_000_i64 + n)
        .bind(1_700_000_001_000_i64 + n)
        .execute(&mut *tx)
        .await
        .expect("old message");
    }
    tx.commit().await.expect("commit");
    sqlx::query(
        "INSERT INTO messages (id, rid, msg, u_id, u_username, ts, updated_at, deleted_at) \
         VALUES ('gone', 'r1', '', 'u1', 'ann', 1, 1, 1)",
    )
    .execute(&pool)
    .await
    .expect("tombstone");
    pool.close().await;

    let store = SqliteStore::open(&path).await.expect("upgrade");
    let search = |room: &'static str, text: &'static str| {
        let store = &store;
        async move {
            store
                .search_messages(
                    room,
                    text,
                    &MessageFilter::default(),
                    false,
                    0,
                    Some(20_000),
                )
                .await
                .expect("search")
                .into_iter()
                .map(|m| m.id)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(search("r1", "deploym").await, ["m0"], "only r1's");
    assert_eq!(search("r1", "plan b").await, ["m2"]);
    assert_eq!(
        search("r2", "deploy").await.len(),
        10_500,
        "every r2 message"
    );
    assert_eq!(
        search("r2", "number 20998").await,
        ["n20998"],
        "the last batch"
    );
    assert_eq!(search("r3", "fil").await.len(), 10_500);
    assert!(search("r3", "deployment").await.is_empty());
    drop(store);

    // The rebuild ran once: opening again finds the same, with no rebuild left to do.
    let store = SqliteStore::open(&path).await.expect("reopen");
    let found = store
        .search_messages("r1", "lunch", &MessageFilter::default(), false, 0, None)
        .await
        .expect("search");
    assert_eq!(found.len(), 1);
}
