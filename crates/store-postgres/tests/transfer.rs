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

/// Tables without a key are read window by window of heap blocks: pages that span windows,
/// windows left empty by deletions and the end of the table all come out right.
#[tokio::test]
async fn keyless_tables_page_across_empty_stretches() {
    use comet_store::LoginAttemptStore;
    use comet_store::transfer::{FailedLogin, Record, RecordKind, TransferStore, copy_kind};
    let Some((database, from)) = postgres().await else {
        return;
    };
    let (_dir, to) = sqlite().await;
    use comet_store::encoding::{from_millis, millis};
    let t0 = millis(comet_core::now());
    // 200 keys of 100 failures each, in key order: each key fills a stretch of blocks.
    let failures: Vec<Record> = (0..20_000i64)
        .map(|i| {
            Record::FailedLogin(FailedLogin {
                key: format!("ip:{:03}", i / 100),
                at: from_millis(t0 + i % 7).expect("time"),
            })
        })
        .collect();
    for batch in failures.chunks(5000) {
        from.import(batch).await.expect("import");
    }
    for key in 20..160 {
        from.clear_failed_logins(&format!("ip:{key:03}"))
            .await
            .expect("clear");
    }
    let copied = copy_kind(&from, &to, RecordKind::FailedLogin, 77, |_| {})
        .await
        .expect("copy");
    assert_eq!(copied, 6_000);
    for key in [0, 19, 20, 159, 160, 199] {
        let key = format!("ip:{key:03}");
        let since = from_millis(t0 - 1000).expect("time");
        assert_eq!(
            to.count_failed_logins(&key, since).await.expect("count"),
            from.count_failed_logins(&key, since).await.expect("count"),
            "{key}"
        );
    }
    let source = from
        .export(RecordKind::FailedLogin, None, 10_000)
        .await
        .expect("export");
    assert_eq!(source.records.len(), 6_000);
    assert_eq!(source.next, None);
    let target = to
        .export(RecordKind::FailedLogin, None, 10_000)
        .await
        .expect("export");
    assert_eq!(target.records, source.records, "copied in order");
    done(database, from).await;
}

/// Every table the migrations create is copied by `migrate-db` (a record kind names it): a new
/// table must be added to the transfer.
#[tokio::test]
async fn every_table_is_transferred() {
    use comet_store::RecordKind;
    use comet_store::transfer::NOT_TRANSFERRED;
    use sqlx::Connection;
    let Some((database, store)) = postgres().await else {
        return;
    };
    let mut connection = sqlx::PgConnection::connect(database.url())
        .await
        .expect("connect");
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY table_name",
    )
    .fetch_all(&mut connection)
    .await
    .expect("tables");
    let _ = connection.close().await;
    for table in tables {
        let covered = RecordKind::ALL.iter().any(|kind| kind.name() == table)
            || NOT_TRANSFERRED.contains(&table.as_str())
            || table == "_sqlx_migrations";
        assert!(
            covered,
            "table {table} is not copied by migrate-db: give it a RecordKind \
             (comet_store::transfer) and export/import arms in every backend"
        );
    }
    done(database, store).await;
}
