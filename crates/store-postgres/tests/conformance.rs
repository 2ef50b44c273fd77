//! The shared store conformance suite against PostgreSQL, each part on a fresh database.
//!
//! Needs `COMET_TEST_POSTGRES_URL` (see `scripts/postgres-test-server.sh`); without it these
//! tests skip, except under CI where they fail.

use comet_store::conformance;
use comet_store_postgres::PostgresStore;
use comet_store_postgres::testing::TestDatabase;
use sqlx::Connection;

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
    rooms_and_messages,
    user_and_token_lookups,
    rooms_and_subscriptions,
    members_by_role,
    message_history,
    message_search,
    concurrent_writers,
    posts_committed_out_of_order,
    racing_message_changes,
    search_follows_racing_writes,
    read_receipts,
    thread_unreads,
    cluster,
    uploads,
    avatars,
    reports,
    file_blocklist,
    room_bans,
    audit_log,
    mail,
    invites,
    teams,
    two_factor,
    email_two_factor,
    statistics,
    custom_assets,
    auto_translate,
    video_conferences,
);

#[tokio::test]
async fn migrations_from_empty() {
    let Some(database) = TestDatabase::create_if_configured().await else {
        return;
    };
    let url = database.url().to_owned();
    conformance::migrations_from_empty(|| {
        let url = url.clone();
        async move { PostgresStore::connect(&url).await.expect("connect") }
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
    let mut connection = sqlx::PgConnection::connect(&url).await.expect("connect");
    let applied: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut connection)
            .await
            .expect("migrations table");
    assert_eq!(applied.len(), shipped);
    assert!(applied.iter().all(|(_, success)| *success));
    let _ = connection.close().await;
    database.drop_database().await;
}

#[tokio::test]
async fn the_url_may_say_postgresql_and_size_the_pool() {
    use comet_store::UserStore;
    let Some(database) = TestDatabase::create_if_configured().await else {
        return;
    };
    let rest = database
        .url()
        .strip_prefix("postgres://")
        .expect("the test URLs say postgres://");
    let url = format!("postgresql://{rest}?max_connections=2&acquire_timeout=5");
    let store = PostgresStore::connect(&url).await.expect("connect");
    // More concurrent requests than connections: they wait for one instead of failing.
    let (a, b, c, d) = tokio::join!(
        store.count_users(),
        store.count_users(),
        store.count_users(),
        store.count_users()
    );
    for counted in [a, b, c, d] {
        assert_eq!(counted.expect("count"), 0);
    }
    store.close().await;
    database.drop_database().await;
}
