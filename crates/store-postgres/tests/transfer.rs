//! Moving a database to and from PostgreSQL (`comet migrate-db`): the shared transfer check
//! from SQLite, back to SQLite, and between two PostgreSQL databases.
//!
//! Needs `COMET_TEST_POSTGRES_URL` (see `scripts/postgres-test-server.sh`); without it these
//! tests skip, except under CI where they fail.

use comet_store::conformance;
use comet_store_postgres::PostgresStore;
use comet_store_postgres::testing::TestDatabase;
use comet_store_sqlite::SqliteStore;

async fn postgres() -> Option<(TestDatabase, PostgresStore)> {
    let database = TestDatabase::create_if_configured().await?;
    let store = PostgresStore::connect(database.url())
        .await
        .expect("connect and migrate");
    Some((database, store))
}

async fn sqlite() -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::open(&dir.path().join("test.db"))
        .await
        .expect("open");
    (dir, store)
}

async fn done(database: TestDatabase, store: PostgresStore) {
    store.close().await;
    database.drop_database().await;
}

#[tokio::test]
async fn from_sqlite() {
    let Some((database, to)) = postgres().await else {
        return;
    };
    let (_dir, from) = sqlite().await;
    conformance::transfer(&from, &to).await;
    done(database, to).await;
}

#[tokio::test]
async fn to_sqlite() {
    let Some((database, from)) = postgres().await else {
        return;
    };
    let (_dir, to) = sqlite().await;
    conformance::transfer(&from, &to).await;
    done(database, from).await;
}

#[tokio::test]
async fn between_postgres_databases() {
    let Some((from_database, from)) = postgres().await else {
        return;
    };
    let Some((to_database, to)) = postgres().await else {
        return;
    };
    conformance::transfer(&from, &to).await;
    done(from_database, from).await;
    done(to_database, to).await;
}
