//! Fresh databases for tests (feature `testing`): each test gets its own database, created
//! with a unique name on the server named by `COMET_TEST_POSTGRES_URL` and dropped after.
//!
//! Without that variable the tests skip, so that `cargo test` works on a machine without
//! PostgreSQL; under CI (`CI` set) they fail instead, so that a CI run never passes without
//! them. `scripts/postgres-test-server.sh` starts a throwaway server and sets the variable.

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable naming the PostgreSQL server tests use, e.g.
/// `postgres://comet@127.0.0.1:55432/postgres` (a user allowed to create databases).
pub const SERVER_URL_VAR: &str = "COMET_TEST_POSTGRES_URL";

fn running_under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "0" && v != "false")
}

/// The test server's URL; `None` (tests skip) only outside CI when none is configured.
///
/// # Panics
/// Under CI when `COMET_TEST_POSTGRES_URL` is not set.
pub fn server_url() -> Option<String> {
    match std::env::var(SERVER_URL_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if running_under_ci() => panic!(
            "{SERVER_URL_VAR} is not set, and CI requires the PostgreSQL tests to run. Start a \
             throwaway server and run the tests against it with \
             `scripts/postgres-test-server.sh cargo test -p comet-store-postgres`, or point \
             {SERVER_URL_VAR} at a server where the user may create databases \
             (e.g. postgres://comet@127.0.0.1:55432/postgres)."
        ),
        _ => {
            eprintln!(
                "note: PostgreSQL tests skipped: {SERVER_URL_VAR} is not set (see \
                 scripts/postgres-test-server.sh)"
            );
            None
        }
    }
}

/// `url` with its database name replaced.
fn with_database(url: &str, database: &str) -> String {
    let (without_query, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_start = without_query.find("://").map_or(0, |i| i + 3);
    let server = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    format!("{server}/{database}{query}")
}

/// A database of its own for one test.
#[derive(Debug)]
pub struct TestDatabase {
    server_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Creates an empty database on the configured server, or `None` when tests skip.
    pub async fn create_if_configured() -> Option<TestDatabase> {
        let server_url = server_url()?;
        Some(TestDatabase::create(&server_url).await)
    }

    /// Creates an empty database with a unique name on the server at `server_url`.
    pub async fn create(server_url: &str) -> TestDatabase {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "comet_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = PgConnection::connect(server_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {SERVER_URL_VAR} ({server_url}): {e}"));
        // The name is ours (letters, digits, underscores), so it is safe to splice in.
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        TestDatabase {
            server_url: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
        }
    }

    /// The URL of the test database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Drops the database, closing whatever connections are still open to it.
    pub async fn drop_database(self) {
        drop_database(&self.server_url, &self.name).await;
    }

    /// [`Self::drop_database`] from synchronous code (a `Drop` impl), on a thread of its own.
    pub fn drop_database_blocking(self) {
        let (server_url, name) = (self.server_url, self.name);
        let dropping = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime to drop the test database");
            runtime.block_on(drop_database(&server_url, &name));
        });
        let _ = dropping.join();
    }
}

async fn drop_database(server_url: &str, name: &str) {
    // Best effort: a database left behind only takes room in a throwaway cluster.
    let Ok(mut admin) = PgConnection::connect(server_url).await else {
        return;
    };
    let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
    )))
    .execute(&mut admin)
    .await;
    let _ = admin.close().await;
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            super::with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(
            super::with_database("postgresql://u:p@h/postgres?sslmode=disable", "t1"),
            "postgresql://u:p@h/t1?sslmode=disable"
        );
        assert_eq!(
            super::with_database("postgres://h:5432", "t1"),
            "postgres://h:5432/t1"
        );
    }
}
