//! The shared store conformance suite against SQLite, each part on a fresh database file.

use comet_store::conformance;
use comet_store_sqlite::SqliteStore;

async fn fresh() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("test.db"))
        .await
        .expect("open");
    (dir, store)
}

#[tokio::test]
async fn users() {
    let (_dir, store) = fresh().await;
    conformance::users(&store).await;
}

#[tokio::test]
async fn tokens() {
    let (_dir, store) = fresh().await;
    conformance::tokens(&store).await;
}

#[tokio::test]
async fn settings_roles_permissions() {
    let (_dir, store) = fresh().await;
    conformance::settings_roles_permissions(&store).await;
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_are_idempotent() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.db");
    {
        let store = SqliteStore::open(&path).await.expect("open");
        conformance::users(&store).await;
        store.close().await;
    }
    let store = SqliteStore::open(&path).await.expect("reopen");
    use comet_store::UserStore;
    assert_eq!(store.count_users().await.expect("count"), 2);
}

#[tokio::test]
async fn members_by_role() {
    let (_dir, store) = fresh().await;
    conformance::members_by_role(&store).await;
}

#[tokio::test]
async fn rooms_and_messages() {
    let (_dir, store) = fresh().await;
    conformance::rooms_and_messages(&store).await;
}

#[tokio::test]
async fn thread_unreads() {
    let (_dir, store) = fresh().await;
    conformance::thread_unreads(&store).await;
}

#[tokio::test]
async fn read_receipts() {
    let (_dir, store) = fresh().await;
    conformance::read_receipts(&store).await;
}

#[tokio::test]
async fn user_and_token_lookups() {
    let (_dir, store) = fresh().await;
    conformance::user_and_token_lookups(&store).await;
}

#[tokio::test]
async fn rooms_and_subscriptions() {
    let (_dir, store) = fresh().await;
    conformance::rooms_and_subscriptions(&store).await;
}

#[tokio::test]
async fn message_history() {
    let (_dir, store) = fresh().await;
    conformance::message_history(&store).await;
}

#[tokio::test]
async fn message_search() {
    let (_dir, store) = fresh().await;
    conformance::message_search(&store).await;
}

#[tokio::test]
async fn concurrent_writers() {
    let (_dir, store) = fresh().await;
    conformance::concurrent_writers(&store).await;
}

#[tokio::test]
async fn posts_committed_out_of_order() {
    let (_dir, store) = fresh().await;
    conformance::posts_committed_out_of_order(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn search_follows_racing_writes() {
    let (_dir, store) = fresh().await;
    conformance::search_follows_racing_writes(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_message_changes() {
    let (_dir, store) = fresh().await;
    conformance::racing_message_changes(&store).await;
}

#[tokio::test]
async fn migrations_from_empty() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("test.db");
    conformance::migrations_from_empty(|| {
        let path = path.clone();
        async move { SqliteStore::open(&path).await.expect("open") }
    })
    .await;
    // Every migration shipped is recorded as applied, once.
    let shipped = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"))
        .expect("migrations dir")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "sql"))
        })
        .count();
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("connect");
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&pool)
            .await
            .expect("migrations table");
    assert_eq!(applied.len(), shipped);
    assert!(applied.iter().all(|(_, success)| *success));
}

#[tokio::test]
async fn cluster() {
    let (_dir, store) = fresh().await;
    conformance::cluster(&store).await;
}

#[tokio::test]
async fn transfer_to_sqlite() {
    let (_from_dir, from) = fresh().await;
    let (_to_dir, to) = fresh().await;
    conformance::transfer(&from, &to).await;
}

/// Every table the migrations create is copied by `migrate-db` (a record kind names it), is
/// part of another's records, or is derived: a new table must be added to the transfer.
#[tokio::test]
async fn every_table_is_transferred() {
    use comet_store::RecordKind;
    use comet_store::transfer::NOT_TRANSFERRED;
    let (dir, store) = fresh().await;
    store.close().await;
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("test.db").display()
    ))
    .await
    .expect("connect");
    let tables: Vec<String> =
        sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
            .fetch_all(&pool)
            .await
            .expect("tables");
    for table in tables {
        let covered = RecordKind::ALL.iter().any(|kind| kind.name() == table)
            || NOT_TRANSFERRED.contains(&table.as_str())
            // A user's global roles travel with the user.
            || table == "user_roles"
            // The full-text index, filled as messages are imported.
            || table.starts_with("message_words")
            || table == "_sqlx_migrations"
            || table.starts_with("sqlite_");
        assert!(
            covered,
            "table {table} is not copied by migrate-db: give it a RecordKind \
             (comet_store::transfer) and export/import arms in every backend"
        );
    }
}

#[tokio::test]
async fn uploads() {
    let (_dir, store) = fresh().await;
    conformance::uploads(&store).await;
}

#[tokio::test]
async fn statistics() {
    let (_dir, store) = fresh().await;
    conformance::statistics(&store).await;
}

#[tokio::test]
async fn custom_assets() {
    let (_dir, store) = fresh().await;
    conformance::custom_assets(&store).await;
}

#[tokio::test]
async fn two_factor() {
    let (_dir, store) = fresh().await;
    conformance::two_factor(&store).await;
}

#[tokio::test]
async fn email_two_factor() {
    let (_dir, store) = fresh().await;
    conformance::email_two_factor(&store).await;
}

#[tokio::test]
async fn avatars() {
    let (_dir, store) = fresh().await;
    conformance::avatars(&store).await;
}

#[tokio::test]
async fn reports() {
    let (_dir, store) = fresh().await;
    conformance::reports(&store).await;
}

#[tokio::test]
async fn file_blocklist() {
    let (_dir, store) = fresh().await;
    conformance::file_blocklist(&store).await;
}

#[tokio::test]
async fn room_bans() {
    let (_dir, store) = fresh().await;
    conformance::room_bans(&store).await;
}

#[tokio::test]
async fn teams() {
    let (_dir, store) = fresh().await;
    conformance::teams(&store).await;
}

#[tokio::test]
async fn video_conferences() {
    let (_dir, store) = fresh().await;
    conformance::video_conferences(&store).await;
}

#[tokio::test]
async fn invites() {
    let (_dir, store) = fresh().await;
    conformance::invites(&store).await;
}

#[tokio::test]
async fn audit_log() {
    let (_dir, store) = fresh().await;
    conformance::audit_log(&store).await;
}

#[tokio::test]
async fn mail() {
    let (_dir, store) = fresh().await;
    conformance::mail(&store).await;
}

#[tokio::test]
async fn auto_translate() {
    let (_dir, store) = fresh().await;
    conformance::auto_translate(&store).await;
}
