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
async fn rooms_and_messages() {
    let (_dir, store) = fresh().await;
    conformance::rooms_and_messages(&store).await;
}

#[tokio::test]
async fn read_receipts() {
    let (_dir, store) = fresh().await;
    conformance::read_receipts(&store).await;
}
