//! PostgreSQL backend of Comet's store traits, for deployments that run several Comet nodes on
//! one database.
//!
//! A bounded connection pool; every trait method is one transaction (or one statement). Where
//! SQLite gets atomic read-modify-write from its single writer, this backend gets it from
//! statements that update in place (`x = x + 1`), row locks (`FOR UPDATE`), and one rule that
//! keeps concurrent writers free of deadlocks: a transaction that writes more than one row of a
//! room (the room and its messages or subscriptions) locks the room's row first, so such writes
//! within one room queue behind each other while different rooms proceed in parallel.

mod avatars;
mod chat;
mod chat_rows;
mod cluster;
mod files;
mod rows;
#[cfg(feature = "testing")]
pub mod testing;
mod transfer;

use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::page::{Direction, Page, UserSortKey};
use comet_core::role::{Permission, Role};
use comet_core::setting::Setting;
use comet_core::user::{LoginToken, TokenKind, User};
use comet_store::{
    Conflict, LoginAttemptStore, PermissionStore, RoleStore, SettingStore, StoreError, StoreResult,
    TokenStore, UserFilter, UserStore,
};
use rows::{
    millis, permission_from_row, role_from_row, setting_from_row, token_from_row, user_from_row,
};
use serde_json::Value;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Transaction};
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// Connections in the pool unless the URL says otherwise (`max_connections=N`).
pub const DEFAULT_MAX_CONNECTIONS: u32 = 16;
/// How long a request waits for a free connection unless the URL says otherwise
/// (`acquire_timeout=SECONDS`).
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// The PostgreSQL store.
#[derive(Clone)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore").finish_non_exhaustive()
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint failure to the field it protects (by the constraint names the
/// migrations give), anything else to a backend failure.
pub(crate) fn write_error(e: sqlx::Error) -> StoreError {
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

impl PostgresStore {
    /// Connects to a `postgres://` (or `postgresql://`) URL and applies migrations. Besides
    /// libpq's parameters the URL may carry `max_connections` (default 16) and
    /// `acquire_timeout` in seconds (default 10).
    pub async fn connect(url: &str) -> StoreResult<Self> {
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
        let store = PostgresStore { pool };
        store.migrate().await?;
        Ok(store)
    }

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

    /// A read-only transaction that sees one snapshot, for answers made of several queries
    /// (a page and its total).
    pub(crate) async fn snapshot(&self) -> StoreResult<Transaction<'static, Postgres>> {
        self.pool
            .begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            .await
            .map_err(backend)
    }
}

/// A count from the database as the traits give it.
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// `LIMIT` for an optional count: NULL is no limit.
pub(crate) fn limit(count: Option<u64>) -> Option<i64> {
    count.map(|c| i64::try_from(c).unwrap_or(i64::MAX))
}

pub(crate) fn offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

/// The SQL for one sort key's direction, with NULLs ordered as SQLite orders them (smallest).
pub(crate) fn direction(direction: Direction) -> &'static str {
    match direction {
        Direction::Ascending => " ASC NULLS FIRST",
        Direction::Descending => " DESC NULLS LAST",
    }
}

/// The user columns (aliased `u`); a macro so that queries stay `concat!`ed string literals.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.name, u.email, u.email_verified, u.user_type, u.active, u.status, \
         u.status_default, u.status_connection, u.status_text, u.utc_offset, u.password_bcrypt, \
         u.require_password_change, u.language, u.nickname, u.bio, u.preferences, \
         u.custom_fields, u.roles, u.created_at, u.updated_at, u.last_login"
    };
}
pub(crate) use user_columns;

fn sort_column(key: UserSortKey) -> &'static str {
    match key {
        UserSortKey::Username => "u.username_key",
        UserSortKey::Name => "u.name",
        UserSortKey::CreatedAt => "u.created_at",
        UserSortKey::UpdatedAt => "u.updated_at",
        UserSortKey::Status => "u.status",
        UserSortKey::Active => "u.active",
        UserSortKey::LastLogin => "u.last_login",
        UserSortKey::Type => "u.user_type",
        UserSortKey::Email => "u.email_key",
    }
}

fn push_user_filter(q: &mut QueryBuilder<Postgres>, filter: &UserFilter) {
    q.push(" WHERE TRUE");
    if let Some(role) = &filter.role {
        q.push(" AND u.roles @> ARRAY[")
            .push_bind(role.clone())
            .push("]::text[]");
    }
    if let Some(active) = filter.active {
        q.push(" AND u.active = ").push_bind(active);
    }
    if let Some(search) = &filter.search {
        // name has the "C" collation, so lower() folds ASCII only, as SQLite's does.
        let pattern = comet_store::encoding::like_pattern(search);
        q.push(" AND (u.username_key LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR lower(u.name) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR u.email_key LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

/// A user's roles as stored: in order, each once (SQLite keeps them in a table keyed by role).
fn distinct_roles(roles: &[String]) -> Vec<String> {
    let mut distinct: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        if !distinct.contains(role) {
            distinct.push(role.clone());
        }
    }
    distinct
}

type PgQuery<'q> = sqlx::query::Query<'q, Postgres, sqlx::postgres::PgArguments>;

/// Binds every user column but the id, in the order both the insert and the update list them.
fn bind_user_fields<'q>(query: PgQuery<'q>, user: &'q User) -> PgQuery<'q> {
    query
        .bind(&user.username)
        .bind(user.username.to_lowercase())
        .bind(&user.name)
        .bind(user.email.as_ref().map(|e| e.address.clone()))
        .bind(user.email.as_ref().map(|e| e.address.to_lowercase()))
        .bind(user.email.as_ref().is_some_and(|e| e.verified))
        .bind(user.user_type.as_str())
        .bind(user.active)
        .bind(user.status.as_str())
        .bind(user.status_default.as_str())
        .bind(user.status_connection.as_str())
        .bind(&user.status_text)
        .bind(user.utc_offset)
        .bind(&user.password_bcrypt)
        .bind(user.require_password_change)
        .bind(&user.language)
        .bind(&user.nickname)
        .bind(&user.bio)
        .bind(Json(&user.preferences))
        .bind(user.custom_fields.as_ref().map(Json))
        .bind(distinct_roles(&user.roles))
        .bind(millis(user.created_at))
        .bind(millis(user.updated_at))
        .bind(user.last_login.map(millis))
}

async fn insert_token(tx: &mut Transaction<'_, Postgres>, token: &LoginToken) -> StoreResult<()> {
    let (kind, name, last_part, bypass) = match &token.kind {
        TokenKind::Login => ("login", None, None, false),
        TokenKind::PersonalAccess {
            name,
            last_token_part,
            bypass_two_factor,
        } => (
            "pat",
            Some(name.as_str()),
            Some(last_token_part.as_str()),
            *bypass_two_factor,
        ),
    };
    sqlx::query(
        "INSERT INTO login_tokens (hashed_token, user_id, created_at, kind, name, \
         last_token_part, bypass_two_factor, two_factor_until, two_factor_client) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(&token.hashed_token)
    .bind(&token.user_id)
    .bind(millis(token.created_at))
    .bind(kind)
    .bind(name)
    .bind(last_part)
    .bind(bypass)
    .bind(token.two_factor_until.map(millis))
    .bind(&token.two_factor_client)
    .execute(&mut **tx)
    .await
    .map_err(write_error)?;
    Ok(())
}

#[async_trait]
impl UserStore for PostgresStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let insert = sqlx::query(
            "INSERT INTO users (id, username, username_key, name, email, email_key, \
             email_verified, user_type, active, status, status_default, status_connection, \
             status_text, utc_offset, password_bcrypt, require_password_change, language, \
             nickname, bio, preferences, custom_fields, roles, created_at, updated_at, \
             last_login) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
        )
        .bind(&user.id);
        bind_user_fields(insert, user)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(())
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id = ANY($1)"
        ))
        .bind(ids)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.username_key = $1"
        ))
        .bind(username.to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.email_key = $1"
        ))
        .bind(email.to_lowercase())
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let update = sqlx::query(
            "UPDATE users SET username = $1, username_key = $2, name = $3, email = $4, \
             email_key = $5, email_verified = $6, user_type = $7, active = $8, status = $9, \
             status_default = $10, status_connection = $11, status_text = $12, \
             utc_offset = $13, password_bcrypt = $14, require_password_change = $15, \
             language = $16, nickname = $17, bio = $18, preferences = $19, \
             custom_fields = $20, roles = $21, created_at = $22, updated_at = $23, \
             last_login = $24 WHERE id = $25",
        );
        let result = bind_user_fields(update, user)
            .bind(&user.id)
            .execute(&self.pool)
            .await
            .map_err(write_error)?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        // Tokens and subscriptions go with the user through ON DELETE CASCADE.
        let result = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &Page<UserSortKey>,
    ) -> StoreResult<(Vec<User>, u64)> {
        let mut tx = self.snapshot().await?;
        let mut count_query = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM users u");
        push_user_filter(&mut count_query, filter);
        let total: i64 = count_query
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;

        let mut q =
            QueryBuilder::<Postgres>::new(concat!("SELECT ", user_columns!(), " FROM users u"));
        push_user_filter(&mut q, filter);
        q.push(" ORDER BY ");
        for (key, order) in &page.sort {
            q.push(sort_column(*key)).push(direction(*order)).push(", ");
        }
        q.push("u.created_at ASC, u.id ASC LIMIT ")
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = q.build().fetch_all(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let users = rows
            .iter()
            .map(user_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((users, count(total)))
    }

    async fn count_active_users_with_role(&self, role: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE roles @> ARRAY[$1]::text[] AND active",
        )
        .bind(role)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok(count(n))
    }

    async fn reset_connection_presence(&self) -> StoreResult<()> {
        // Bots keep the presence they were given; people are offline until they connect.
        sqlx::query(
            "UPDATE users SET status_connection = 'offline', status = 'offline' \
             WHERE user_type = 'user' AND (status_connection <> 'offline' OR status <> 'offline')",
        )
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(count(n))
    }
}

/// The token columns (aliased `t`) under the names `token_from_row` reads.
macro_rules! token_columns {
    () => {
        "t.hashed_token, t.user_id AS token_user_id, t.created_at AS token_created_at, t.kind, \
         t.name AS token_name, t.last_token_part, t.bypass_two_factor, t.two_factor_until, \
         t.two_factor_client"
    };
}
pub(crate) use token_columns;

#[async_trait]
impl TokenStore for PostgresStore {
    async fn insert_token(&self, token: &LoginToken) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        insert_token(&mut tx, token).await?;
        tx.commit().await.map_err(write_error)
    }

    async fn user_by_token(&self, hashed_token: &str) -> StoreResult<Option<(User, LoginToken)>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", ",
            token_columns!(),
            " FROM login_tokens t JOIN users u ON u.id = t.user_id WHERE t.hashed_token = $1"
        ))
        .bind(hashed_token)
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        match row {
            Some(r) => Ok(Some((user_from_row(&r)?, token_from_row(&r)?))),
            None => Ok(None),
        }
    }

    async fn remember_two_factor(
        &self,
        hashed_token: &str,
        until: Timestamp,
        client: &str,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE login_tokens SET two_factor_until = $1, two_factor_client = $2 \
             WHERE hashed_token = $3",
        )
        .bind(millis(until))
        .bind(client)
        .bind(hashed_token)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_token(&self, user_id: &str, hashed_token: &str) -> StoreResult<bool> {
        let result =
            sqlx::query("DELETE FROM login_tokens WHERE user_id = $1 AND hashed_token = $2")
                .bind(user_id)
                .bind(hashed_token)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_login_tokens(&self, user_id: &str, keep: Option<&str>) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'login' \
             AND hashed_token IS DISTINCT FROM $2",
        )
        .bind(user_id)
        .bind(keep)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected())
    }

    async fn personal_access_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            token_columns!(),
            " FROM login_tokens t WHERE t.user_id = $1 AND t.kind = 'pat' \
             ORDER BY t.created_at, t.name"
        ))
        .bind(user_id)
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn delete_personal_access_token(&self, user_id: &str, name: &str) -> StoreResult<bool> {
        let result = sqlx::query(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'pat' AND name = $2",
        )
        .bind(user_id)
        .bind(name)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn replace_personal_access_token(&self, token: &LoginToken) -> StoreResult<bool> {
        let TokenKind::PersonalAccess { name, .. } = &token.kind else {
            return Ok(false);
        };
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let removed = sqlx::query(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'pat' AND name = $2",
        )
        .bind(&token.user_id)
        .bind(name)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        insert_token(&mut tx, token).await?;
        tx.commit().await.map_err(write_error)?;
        Ok(true)
    }

    async fn prune_login_tokens(&self, user_id: &str, keep: u32) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'login' \
             AND hashed_token NOT IN (SELECT hashed_token FROM login_tokens \
               WHERE user_id = $1 AND kind = 'login' ORDER BY created_at DESC, seq DESC \
               LIMIT $2)",
        )
        .bind(user_id)
        .bind(i64::from(keep))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected())
    }

    async fn delete_login_tokens_before(&self, cutoff: Timestamp) -> StoreResult<u64> {
        let result =
            sqlx::query("DELETE FROM login_tokens WHERE kind = 'login' AND created_at < $1")
                .bind(millis(cutoff))
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl SettingStore for PostgresStore {
    async fn settings(&self) -> StoreResult<Vec<Setting>> {
        let rows = sqlx::query(
            "SELECT id, value, package_value, setting_type, public, grp, section, choices, \
             updated_at FROM settings ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(setting_from_row).collect()
    }

    async fn insert_setting_if_absent(&self, setting: &Setting) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO settings (id, value, package_value, setting_type, public, grp, \
             section, choices, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&setting.id)
        .bind(Json(&setting.value))
        .bind(Json(&setting.package_value))
        .bind(setting.setting_type.as_str())
        .bind(setting.public)
        .bind(&setting.group)
        .bind(&setting.section)
        .bind(&setting.choices)
        .bind(millis(setting.updated_at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_setting_value(&self, id: &str, value: &Value, at: Timestamp) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE settings SET value = $1, updated_at = $2 WHERE id = $3")
            .bind(Json(value))
            .bind(millis(at))
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl PermissionStore for PostgresStore {
    async fn permissions(&self) -> StoreResult<Vec<Permission>> {
        let rows = sqlx::query("SELECT id, roles, updated_at FROM permissions ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        rows.iter().map(permission_from_row).collect()
    }

    async fn insert_permission_if_absent(&self, permission: &Permission) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT INTO permissions (id, roles, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&permission.id)
        .bind(&permission.roles)
        .bind(millis(permission.updated_at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_permission_roles(
        &self,
        id: &str,
        roles: &[String],
        at: Timestamp,
    ) -> StoreResult<bool> {
        let result =
            sqlx::query("UPDATE permissions SET roles = $1, updated_at = $2 WHERE id = $3")
                .bind(roles)
                .bind(millis(at))
                .bind(id)
                .execute(&self.pool)
                .await
                .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl RoleStore for PostgresStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(
            "SELECT id, name, scope, description, protected, mandatory_2fa, updated_at \
             FROM roles ORDER BY seq",
        )
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.iter().map(role_from_row).collect()
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (id, name, scope, description, protected, mandatory_2fa, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&role.id)
        .bind(&role.name)
        .bind(&role.scope)
        .bind(&role.description)
        .bind(role.protected)
        .bind(role.mandatory_2fa)
        .bind(millis(role.updated_at))
        .execute(&self.pool)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn insert_role_if_absent(&self, role: &Role) -> StoreResult<bool> {
        // Like SQLite's, a role whose id or name is taken is left alone.
        let result = sqlx::query(
            "INSERT INTO roles (id, name, scope, description, protected, mandatory_2fa, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT DO NOTHING",
        )
        .bind(&role.id)
        .bind(&role.name)
        .bind(&role.scope)
        .bind(&role.description)
        .bind(role.protected)
        .bind(role.mandatory_2fa)
        .bind(millis(role.updated_at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl LoginAttemptStore for PostgresStore {
    async fn record_failed_login(&self, key: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("INSERT INTO failed_logins (key, at) VALUES ($1, $2)")
            .bind(key)
            .bind(millis(at))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn count_failed_logins(&self, key: &str, since: Timestamp) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM failed_logins WHERE key = $1 AND at >= $2")
                .bind(key)
                .bind(millis(since))
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        Ok(count(n))
    }

    async fn clear_failed_logins(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM failed_logins WHERE key = $1")
            .bind(key)
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl comet_store::OpsStore for PostgresStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn pool_stats(&self) -> Vec<comet_store::PoolStats> {
        vec![comet_store::PoolStats {
            pool: "main",
            size: self.pool.size(),
            idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
        }]
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

    #[test]
    fn roles_are_kept_once_in_order() {
        let roles = ["user", "admin", "user"].map(String::from);
        assert_eq!(distinct_roles(&roles), ["user", "admin"]);
    }
}
