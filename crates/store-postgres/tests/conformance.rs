//! The shared store conformance suite against PostgreSQL, each part on a fresh database.
//!
//! Needs `COMET_TEST_POSTGRES_URL` (see `scripts/postgres-test-server.sh`); without it these
//! tests skip, except under CI where they fail.

use comet_store::conformance;
use comet_store_postgres::PostgresStore;
use comet_store_postgres::testing::TestDatabase;

/// One test per suite function, each on a database of its own.
macro_rules! conformance_tests {
    ($($name:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $name() {
                let Some(database) = TestDatabase::create_if_configured().await else {
                    return;
                };
                let store = PostgresStore::connect(database.url())
                    .await
                    .expect("connect and migrate");
                conformance::$name(&store).await;
                store.close().await;
                database.drop_database().await;
            }
        )*
    };
}

conformance_tests!(
    users,
    tokens,
    settings_roles_permissions,
    rooms_and_messages
);
