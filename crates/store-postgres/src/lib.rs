//! PostgreSQL backend of Comet's store traits, for deployments that run several Comet nodes on
//! one database: the driver and dialect under `comet-store-sql`.
//!
//! A bounded connection pool; every trait method is one transaction (or one statement). Where
//! SQLite gets atomic read-modify-write from its single writer, this backend gets it from
//! statements that update in place (`x = x + 1`), row locks (`FOR UPDATE`), and one rule that
//! keeps concurrent writers free of deadlocks: a transaction that writes more than one row of a
//! room (the room and its messages or subscriptions) locks the room's row first, so such writes
//! within one room queue behind each other while different rooms proceed in parallel.

mod export;
mod search;
#[cfg(feature = "testing")]
pub mod testing;

use async_trait::async_trait;
use comet_core::room::Message;
use comet_store::transfer::RecordKind;
use comet_store::{Conflict, PoolStats, StoreError, StoreResult};
use comet_store_sql::{Connect, Database, Param, Query, SqlRow, SqlStore, Transaction};
use serde_json::Value;
use sqlx::postgres::{PgArguments, PgConnectOptions, PgPool, PgPoolOptions, PgRow};
use sqlx::types::Json;
use sqlx::{AssertSqlSafe, Postgres, Row};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections in the pool unless the URL says otherwise (`max_connections=N`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a free connection unless the URL says otherwise
/// (`acquire_timeout=SECONDS`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store.
pub type PostgresStore = SqlStore<PostgresDatabase>;

/// A connection pool to a PostgreSQL database.
#[derive(Clone)]
pub struct PostgresDatabase {
    pool: PgPool,
}

impl std::fmt::Debug for PostgresDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint failure to the field it protects (by the constraint names the
/// migrations give), anything else to a backend failure.
fn store_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let conflict = match db.constraint() {
            Some("users_username_unique") => Conflict::Username,
            Some("users_email_unique") => Conflict::Email,
            Some("login_tokens_pat_name") => Conflict::TokenName,
            Some("roles_name_unique") => Conflict::RoleName,
            Some("rooms_name_unique") => Conflict::RoomName,
            _ => Conflict::Id,
        };
        return StoreError::Conflict(conflict);
    }
    backend(e)
}

/// The statement with its values bound as PostgreSQL types them (lists as `TEXT[]`,
/// documents as `JSONB`).
fn statement(query: Query) -> sqlx::query::Query<'static, Postgres, PgArguments> {
    let (sql, params) = query.into_parts();
    let mut statement = sqlx::query(AssertSqlSafe(sql));
    for param in params {
        statement = match param {
            Param::Int(value) => statement.bind(value),
            Param::Float(value) => statement.bind(value),
            Param::Text(value) => statement.bind(value),
            Param::Bool(value) => statement.bind(value),
            Param::TextList(items) => statement.bind(items),
            Param::Json(value) => statement.bind(value.map(Json)),
        };
    }
    statement
}

/// A row of a PostgreSQL result.
pub struct PgResultRow(PgRow);

impl PgResultRow {
    fn get<'r, T>(&'r self, column: &str) -> StoreResult<T>
    where
        T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>,
    {
        self.0
            .try_get(column)
            .map_err(|e| StoreError::Backend(format!("column {column}: {e}")))
    }
}

impl SqlRow for PgResultRow {
    fn text(&self, column: &str) -> StoreResult<String> {
        self.get(column)
    }

    fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        self.get(column)
    }

    fn int(&self, column: &str) -> StoreResult<i64> {
        self.get(column)
    }

    fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        self.get(column)
    }

    fn float(&self, column: &str) -> StoreResult<f64> {
        self.get(column)
    }

    fn bool(&self, column: &str) -> StoreResult<bool> {
        self.get(column)
    }

    fn opt_bool(&self, column: &str) -> StoreResult<Option<bool>> {
        self.get(column)
    }

    fn text_list(&self, column: &str) -> StoreResult<Vec<String>> {
        self.get(column)
    }

    fn opt_json(&self, column: &str) -> StoreResult<Option<Value>> {
        Ok(self.get::<Option<Json<Value>>>(column)?.map(|json| json.0))
    }
}

fn rows(rows: Vec<PgRow>) -> Vec<PgResultRow> {
    rows.into_iter().map(PgResultRow).collect()
}

/// A transaction on one pooled connection.
pub struct PgTransaction(sqlx::Transaction<'static, Postgres>);

#[async_trait]
impl Transaction for PgTransaction {
    type Row = PgResultRow;

    async fn read(&mut self, query: Query) -> StoreResult<Vec<PgResultRow>> {
        let found = statement(query).fetch_all(&mut *self.0).await;
        found.map(rows).map_err(store_error)
    }

    async fn write(&mut self, query: Query) -> StoreResult<u64> {
        let done = statement(query).execute(&mut *self.0).await;
        done.map(|d| d.rows_affected()).map_err(store_error)
    }

    /// Sent at once: what SQLite's writer saves by holding statements back (a hand-off to its
    /// worker thread per statement) is not PostgreSQL's cost.
    async fn queue(&mut self, query: Query) -> StoreResult<()> {
        self.write(query).await.map(drop)
    }

    /// The index is the row's `search_vector`, set with the row.
    async fn index_messages(&mut self, _messages: &[&Message]) -> StoreResult<()> {
        Ok(())
    }

    async fn commit(self) -> StoreResult<()> {
        self.0.commit().await.map_err(store_error)
    }
}

#[async_trait]
impl Database for PostgresDatabase {
    type Row = PgResultRow;
    type Tx = PgTransaction;

    const TRUE: &'static str = "TRUE";
    const FALSE: &'static str = "FALSE";
    const INSERTION_ORDER: &'static str = "seq";
    const LOCKS_ROWS: bool = true;
    const KEY_LOCK: Option<&'static str> = Some("SELECT pg_advisory_xact_lock(hashtext($1))");
    // Text ids sort like SQLite's whatever the database's collation.
    const BYTEWISE: &'static str = " COLLATE \"C\"";
    const USER_ROLES_IN_ROW: bool = true;
    const USER_ROLES_COLUMN: &'static str = "u.roles";
    const DELETE_IN_CTE: bool = true;
    const SEARCH_COLUMN: Option<&'static str> = Some("search_vector");
    const DATABASE_SIZE: &'static str = "SELECT pg_database_size(current_database()) AS n";

    fn user_has_role(param: &str) -> String {
        format!("u.roles @> ARRAY[{param}]::text[]")
    }

    fn in_list(column: &str, param: &str) -> String {
        format!("{column} = ANY({param})")
    }

    fn list_contains(column: &str, param: &str) -> String {
        format!("{param}::text = ANY({column})")
    }

    fn list_add(column: &str, param: &str) -> String {
        format!(
            "CASE WHEN {param}::text = ANY({column}) THEN {column} \
             ELSE array_append({column}, {param}::text) END"
        )
    }

    fn list_remove(column: &str, param: &str) -> String {
        format!("array_remove({column}, {param}::text)")
    }

    fn json_array_contains(doc: &str, key: &str, param: &str) -> String {
        format!("{doc} -> '{key}' @> jsonb_build_array({param}::text)")
    }

    fn json_array_has_id(doc: &str, key: &str, param: &str) -> String {
        format!("{doc} -> '{key}' @> jsonb_build_array(jsonb_build_object('id', {param}::text))")
    }

    fn json_text(doc: &str, key: &str) -> String {
        format!("{doc} ->> '{key}'")
    }

    fn json_set_text(doc: &str, key: &str, param: &str) -> String {
        format!("jsonb_set({doc}, '{{{key}}}', to_jsonb({param}::text))")
    }

    fn json_add_to_set(doc: &str, key: &str, param: &str) -> String {
        let item = format!("jsonb_build_array({param}::text)");
        format!(
            "CASE WHEN jsonb_typeof({doc} -> '{key}') = 'array' AND {doc} -> '{key}' @> {item} \
               THEN {doc} \
             WHEN {doc} -> '{key}' IS NULL THEN jsonb_set({doc}, '{{{key}}}', {item}) \
             WHEN jsonb_typeof({doc} -> '{key}') = 'array' \
               THEN jsonb_set({doc}, '{{{key}}}', ({doc} -> '{key}') || {item}) \
             ELSE {doc} END"
        )
    }

    fn search_index(q: &mut Query, text: &str) -> String {
        let config = q.param(search::CONFIG);
        let document = q.param(search::document(text));
        format!("to_tsvector({config}::regconfig, {document})")
    }

    /// The room comes with `filter`: the walk is over the room's own index entries already.
    fn search(
        q: &mut Query,
        _room_id: &str,
        text: &str,
        oldest_first: bool,
        filter: &mut dyn FnMut(&mut Query),
    ) -> bool {
        let Some(terms) = search::tsquery_text(text) else {
            return false;
        };
        // Newest first, as upstream sorts (`ts`, then insertion order): the planner can walk
        // `messages_room_ts` from the newest end and test each message against the query
        // until a page is found, rather than collect and rank every match.
        q.push(&format!(
            "SELECT {} FROM messages, to_tsquery(",
            comet_store_sql::MESSAGE_COLUMNS
        ))
        .push_bind(search::CONFIG)
        .push("::regconfig, ")
        .push_bind(terms)
        .push(") AS query");
        filter(q);
        q.push(if oldest_first {
            " AND search_vector @@ query ORDER BY ts ASC, seq ASC"
        } else {
            " AND search_vector @@ query ORDER BY ts DESC, seq DESC"
        });
        true
    }

    async fn read(&self, query: Query) -> StoreResult<Vec<PgResultRow>> {
        let found = statement(query).fetch_all(&self.pool).await;
        found.map(rows).map_err(store_error)
    }

    async fn write(&self, query: Query) -> StoreResult<u64> {
        let done = statement(query).execute(&self.pool).await;
        done.map(|d| d.rows_affected()).map_err(store_error)
    }

    async fn write_returning(&self, query: Query) -> StoreResult<Vec<PgResultRow>> {
        self.read(query).await
    }

    async fn begin(&self) -> StoreResult<PgTransaction> {
        let tx = self.pool.begin().await.map_err(store_error)?;
        Ok(PgTransaction(tx))
    }

    /// A read-only transaction that sees one snapshot.
    async fn snapshot(&self) -> StoreResult<PgTransaction> {
        let tx = self
            .pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(store_error)?;
        Ok(PgTransaction(tx))
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        vec![PoolStats {
            pool: "main",
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }]
    }

    async fn export_rows(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<(Vec<PgResultRow>, Option<String>)> {
        export::rows(self, kind, after, limit).await
    }
}

#[async_trait]
impl Connect for PostgresDatabase {
    /// Connects to a `postgres://` (or `postgresql://`) URL and applies migrations. Besides
    /// libpq's parameters the URL may carry `max_connections` (default 16) and
    /// `acquire_timeout` in seconds (default 10).
    async fn connect(url: &str) -> StoreResult<Self> {
        let (url, settings) = split_pool_settings(url)?;
        let options = PgConnectOptions::from_str(&url)
            .map_err(|e| {
                StoreError::Backend(format!("invalid DATABASE_URL {}: {e}", redacted(&url)))
            })?
            .application_name("comet");
        // sqlx pings a pooled connection before handing it out (one short round trip), so a
        // database restart costs no failed requests.
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_with(options)
            .await
            .map_err(|e| {
                StoreError::Backend(format!(
                    "cannot connect to PostgreSQL at {}: {e}",
                    redacted(&url)
                ))
            })?;
        let database = PostgresDatabase { pool };
        database.migrate().await?;
        Ok(database)
    }
}

impl PostgresDatabase {
    async fn migrate(&self) -> StoreResult<()> {
        // Message search needs unaccent (postgresql-contrib); say so plainly rather than
        // failing halfway through a migration.
        let unaccent_available: bool = sqlx::query_scalar(
            "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'unaccent')",
        )
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        if !unaccent_available {
            return Err(StoreError::Backend(
                "PostgreSQL lacks the unaccent extension that message search needs: install \
                 postgresql-contrib (or your distribution's equivalent) on the database server"
                    .to_owned(),
            ));
        }
        // sqlx holds an advisory lock while migrating, so nodes starting together take turns.
        MIGRATOR.run(&self.pool).await.map_err(|e| {
            let detail = e.to_string();
            let hint = if detail.contains("permission denied") {
                " (the database user needs to own the database, or at least to be allowed to \
                 create tables and the unaccent extension in it)"
            } else {
                ""
            };
            StoreError::Backend(format!("cannot apply database migrations: {detail}{hint}"))
        })
    }

    /// Closes the pool, waiting for running statements.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Pool settings read from (and removed from) the query string of a `postgres://` URL; the
/// rest of the URL is libpq's syntax as sqlx reads it.
#[derive(Debug, Clone, PartialEq)]
struct PoolSettings {
    max_connections: u32,
    acquire_timeout: Duration,
}

fn split_pool_settings(url: &str) -> StoreResult<(String, PoolSettings)> {
    let mut settings = PoolSettings {
        max_connections: DEFAULT_MAX_CONNECTIONS,
        acquire_timeout: DEFAULT_ACQUIRE_TIMEOUT,
    };
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), settings));
    };
    let invalid = |key: &str, value: &str| {
        StoreError::Backend(format!(
            "DATABASE_URL: {key} must be a positive whole number, not {value:?}"
        ))
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        match key {
            "max_connections" => {
                settings.max_connections = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(key, value))?;
            }
            "acquire_timeout" => {
                let seconds: u64 = value
                    .parse()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| invalid(key, value))?;
                settings.acquire_timeout = Duration::from_secs(seconds);
            }
            _ => kept.push(pair),
        }
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok((url, settings))
}

/// The URL without its password, for error messages.
fn redacted(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let credentials = &url[scheme_end + 3..at];
            match credentials.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_settings_come_out_of_the_url() {
        let (url, settings) = split_pool_settings(
            "postgres://u:p@db/comet?sslmode=disable&max_connections=4&acquire_timeout=3",
        )
        .expect("valid");
        assert_eq!(url, "postgres://u:p@db/comet?sslmode=disable");
        assert_eq!(
            settings,
            PoolSettings {
                max_connections: 4,
                acquire_timeout: Duration::from_secs(3)
            }
        );
        let (url, settings) = split_pool_settings("postgresql://db/comet").expect("valid");
        assert_eq!(url, "postgresql://db/comet");
        assert_eq!(settings.max_connections, DEFAULT_MAX_CONNECTIONS);
        let (url, _) = split_pool_settings("postgres://db/comet?max_connections=2").expect("ok");
        assert_eq!(url, "postgres://db/comet");
        assert!(split_pool_settings("postgres://db/c?max_connections=0").is_err());
        assert!(split_pool_settings("postgres://db/c?acquire_timeout=soon").is_err());
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redacted("postgres://comet:secret@db:5432/comet"),
            "postgres://comet:***@db:5432/comet"
        );
        assert_eq!(redacted("postgres://db/comet"), "postgres://db/comet");
    }
}
