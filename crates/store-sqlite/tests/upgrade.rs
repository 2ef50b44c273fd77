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
