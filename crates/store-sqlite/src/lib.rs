//! SQLite backend of Comet's store traits.
//!
//! One file in WAL mode. Writes go through a pool of a single connection, so writers queue in
//! the process instead of spinning on `SQLITE_BUSY`; reads use a separate pool and never wait
//! for a writer (WAL readers see the last committed state).

mod avatars;
mod chat;
mod chat_rows;
mod cluster;
mod files;
mod rows;
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
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{QueryBuilder, Sqlite};
use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations");

/// The SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    pub(crate) writer: SqlitePool,
    pub(crate) reader: SqlitePool,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

pub(crate) fn backend(e: impl std::fmt::Display) -> StoreError {
    StoreError::Backend(e.to_string())
}

/// Maps a unique-constraint failure to the field it protects.
pub(crate) fn write_error(e: sqlx::Error) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        let message = db.message();
        let conflict = if message.contains("username_key") {
            Conflict::Username
        } else if message.contains("email_key") {
            Conflict::Email
        } else if message.contains("login_tokens.user_id") || message.contains("login_tokens.name")
        {
            Conflict::TokenName
        } else if message.contains("roles.name") {
            Conflict::RoleName
        } else if message.contains("rooms.name_key") {
            Conflict::RoomName
        } else {
            Conflict::Id
        };
        return StoreError::Conflict(conflict);
    }
    backend(e)
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path` and applies migrations.
    pub async fn open(path: &Path) -> StoreResult<Self> {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true);
        Self::open_with(options).await
    }

    /// Opens a `sqlite://` URL (as given in `DATABASE_URL`) and applies migrations.
    pub async fn open_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(true);
        Self::open_with(options).await
    }

    /// Opens the existing Comet database at a `sqlite://` URL and applies pending migrations,
    /// failing rather than creating one when there is none, and leaving alone a file Comet
    /// never opened: a database to read from, such as `comet migrate-db`'s source, where a
    /// mistyped path must not look like an empty server.
    pub async fn open_existing_url(url: &str) -> StoreResult<Self> {
        let options = SqliteConnectOptions::from_str(url)
            .map_err(backend)?
            .create_if_missing(false);
        let probe = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone().read_only(true))
            .await
            .map_err(backend)?;
        let migrated: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
        )
        .fetch_optional(&probe)
        .await
        .map_err(backend)?;
        probe.close().await;
        if migrated.is_none() {
            return Err(StoreError::Backend(
                "not a Comet database (Comet has never opened it)".to_owned(),
            ));
        }
        Self::open_with(options).await
    }

    async fn open_with(options: SqliteConnectOptions) -> StoreResult<Self> {
        let options = options
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        // The pools hold local files: a lost connection is an error anyway, so skip the
        // per-acquire ping.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false)
            .connect_with(options.clone())
            .await
            .map_err(backend)?;
        MIGRATOR.run(&writer).await.map_err(backend)?;
        let reader = SqlitePoolOptions::new()
            .max_connections(4)
            .test_before_acquire(false)
            .connect_with(options.read_only(true))
            .await
            .map_err(backend)?;
        Ok(SqliteStore { writer, reader })
    }

    /// Writes a consistent copy of the whole database to a new file at `path` while other
    /// connections go on reading and writing (`VACUUM INTO` runs in one read transaction).
    pub async fn snapshot_into(&self, path: &Path) -> StoreResult<()> {
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Backend("the snapshot path is not UTF-8".to_owned()))?;
        sqlx::query("VACUUM INTO ?")
            .bind(target)
            .execute(&self.reader)
            .await
            .map_err(backend)?;
        Ok(())
    }

    /// Closes both pools, waiting for running statements.
    pub async fn close(&self) {
        self.reader.close().await;
        self.writer.close().await;
    }
}

/// The user columns (aliased `u`) with the roles folded into a JSON array; a macro so that
/// queries stay `concat!`ed string literals.
macro_rules! user_columns {
    () => {
        "u.id, u.username, u.name, u.email, u.email_verified, u.user_type, \
    u.active, u.status, u.status_default, u.status_connection, u.status_text, u.utc_offset, \
    u.password_bcrypt, u.require_password_change, u.language, u.nickname, u.bio, u.preferences, \
    u.custom_fields, u.created_at, u.updated_at, u.last_login, \
    (SELECT json_group_array(role) FROM (SELECT role FROM user_roles r WHERE r.user_id = u.id ORDER BY r.ord)) AS roles"
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

pub(crate) use comet_store::encoding::like_pattern;

fn push_user_filter(q: &mut QueryBuilder<Sqlite>, filter: &UserFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(role) = &filter.role {
        q.push(" AND EXISTS (SELECT 1 FROM user_roles fr WHERE fr.user_id = u.id AND fr.role = ")
            .push_bind(role.clone())
            .push(")");
    }
    if let Some(active) = filter.active {
        q.push(" AND u.active = ").push_bind(active);
    }
    if let Some(search) = &filter.search {
        let pattern = like_pattern(search);
        q.push(" AND (u.username_key LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR lower(u.name) LIKE ")
            .push_bind(pattern.clone())
            .push(" ESCAPE '\\' OR u.email_key LIKE ")
            .push_bind(pattern)
            .push(" ESCAPE '\\')");
    }
}

async fn write_user_roles(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    user: &User,
) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM user_roles WHERE user_id = ?")
        .bind(&user.id)
        .execute(&mut **tx)
        .await?;
    for (ord, role) in user.roles.iter().enumerate() {
        sqlx::query("INSERT OR IGNORE INTO user_roles (user_id, role, ord) VALUES (?, ?, ?)")
            .bind(&user.id)
            .bind(role)
            .bind(ord as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(())
}

async fn insert_token(
    tx: &mut sqlx::Transaction<'_, Sqlite>,
    token: &LoginToken,
) -> StoreResult<()> {
    let (kind, name, last_part, bypass) = match &token.kind {
        TokenKind::Login => ("login", None, None, false),
        TokenKind::PersonalAccess {
            name,
            last_token_part,
            bypass_two_factor,
        } => (
            "pat",
            Some(name.clone()),
            Some(last_token_part.clone()),
            *bypass_two_factor,
        ),
    };
    sqlx::query(
        "INSERT INTO login_tokens (hashed_token, user_id, created_at, kind, name, \
         last_token_part, bypass_two_factor, two_factor_until, two_factor_client) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
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

/// Binds every user column but the id, in the order both the insert and the update list them.
fn bind_user_fields<'q>(
    query: sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments>,
    user: &'q User,
) -> sqlx::query::Query<'q, Sqlite, sqlx::sqlite::SqliteArguments> {
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
        .bind(json_text(&user.preferences))
        .bind(user.custom_fields.as_ref().map(json_text))
        .bind(millis(user.created_at))
        .bind(millis(user.updated_at))
        .bind(user.last_login.map(millis))
}

fn json_text(value: &Value) -> String {
    value.to_string()
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let insert = sqlx::query(
            "INSERT INTO users (id, username, username_key, name, email, email_key, email_verified, \
             user_type, active, status, status_default, status_connection, status_text, utc_offset, \
             password_bcrypt, require_password_change, language, nickname, bio, preferences, \
             custom_fields, created_at, updated_at, last_login) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&user.id);
        bind_user_fields(insert, user)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        write_user_roles(&mut tx, user).await.map_err(write_error)?;
        tx.commit().await.map_err(write_error)
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id = ?"
        ))
        .bind(id)
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.id IN ("
        ));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.username_key = ?"
        ))
        .bind(username.to_lowercase())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            " FROM users u WHERE u.email_key = ?"
        ))
        .bind(email.to_lowercase())
        .fetch_optional(&self.reader)
        .await
        .map_err(backend)?;
        row.map(|r| user_from_row(&r)).transpose()
    }

    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let update = sqlx::query(
            "UPDATE users SET username = ?, username_key = ?, name = ?, email = ?, email_key = ?, \
             email_verified = ?, user_type = ?, active = ?, status = ?, status_default = ?, \
             status_connection = ?, status_text = ?, utc_offset = ?, password_bcrypt = ?, \
             require_password_change = ?, language = ?, nickname = ?, bio = ?, preferences = ?, \
             custom_fields = ?, created_at = ?, updated_at = ?, last_login = ? WHERE id = ?",
        );
        let result = bind_user_fields(update, user)
            .bind(&user.id)
            .execute(&mut *tx)
            .await
            .map_err(write_error)?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        write_user_roles(&mut tx, user).await.map_err(write_error)?;
        tx.commit().await.map_err(write_error)?;
        Ok(true)
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        // Tokens and roles go with the user through ON DELETE CASCADE.
        let result = sqlx::query("DELETE FROM users WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &Page<UserSortKey>,
    ) -> StoreResult<(Vec<User>, u64)> {
        let mut count_query = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM users u");
        push_user_filter(&mut count_query, filter);
        let total: i64 = count_query
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;

        let mut q =
            QueryBuilder::<Sqlite>::new(concat!("SELECT ", user_columns!(), " FROM users u"));
        push_user_filter(&mut q, filter);
        q.push(" ORDER BY ");
        for (key, direction) in &page.sort {
            q.push(sort_column(*key)).push(match direction {
                Direction::Ascending => " ASC, ",
                Direction::Descending => " DESC, ",
            });
        }
        q.push("u.created_at ASC, u.id ASC LIMIT ")
            .push_bind(
                page.count
                    .map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX)),
            )
            .push(" OFFSET ")
            .push_bind(i64::try_from(page.offset).unwrap_or(i64::MAX));
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let users = rows
            .iter()
            .map(user_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((users, u64::try_from(total).unwrap_or(0)))
    }

    async fn count_active_users_with_role(&self, role: &str) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users u JOIN user_roles r ON r.user_id = u.id \
             WHERE r.role = ? AND u.active = 1",
        )
        .bind(role)
        .fetch_one(&self.reader)
        .await
        .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn reset_connection_presence(&self) -> StoreResult<()> {
        // Bots keep the presence they were given; people are offline until they connect.
        sqlx::query(
            "UPDATE users SET status_connection = 'offline', status = 'offline' \
             WHERE user_type = 'user' AND (status_connection != 'offline' OR status != 'offline')",
        )
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn count_users(&self) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}

#[async_trait]
impl TokenStore for SqliteStore {
    async fn insert_token(&self, token: &LoginToken) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        insert_token(&mut tx, token).await?;
        tx.commit().await.map_err(write_error)
    }

    async fn user_by_token(&self, hashed_token: &str) -> StoreResult<Option<(User, LoginToken)>> {
        let row = sqlx::query(concat!(
            "SELECT ",
            user_columns!(),
            ", t.hashed_token, t.user_id AS token_user_id, \
             t.created_at AS token_created_at, t.kind, t.name AS token_name, t.last_token_part, \
             t.bypass_two_factor, t.two_factor_until, t.two_factor_client \
             FROM login_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.hashed_token = ?"
        ))
        .bind(hashed_token)
        .fetch_optional(&self.reader)
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
            "UPDATE login_tokens SET two_factor_until = ?, two_factor_client = ? \
             WHERE hashed_token = ?",
        )
        .bind(millis(until))
        .bind(client)
        .bind(hashed_token)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_token(&self, user_id: &str, hashed_token: &str) -> StoreResult<bool> {
        let result = sqlx::query("DELETE FROM login_tokens WHERE user_id = ? AND hashed_token = ?")
            .bind(user_id)
            .bind(hashed_token)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn delete_login_tokens(&self, user_id: &str, keep: Option<&str>) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM login_tokens WHERE user_id = ? AND kind = 'login' \
             AND hashed_token IS NOT ?",
        )
        .bind(user_id)
        .bind(keep)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected())
    }

    async fn personal_access_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>> {
        let rows = sqlx::query(
            "SELECT hashed_token, user_id AS token_user_id, created_at AS token_created_at, kind, \
             name AS token_name, last_token_part, bypass_two_factor, two_factor_until, \
             two_factor_client FROM login_tokens \
             WHERE user_id = ? AND kind = 'pat' ORDER BY created_at, name",
        )
        .bind(user_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(token_from_row).collect()
    }

    async fn delete_personal_access_token(&self, user_id: &str, name: &str) -> StoreResult<bool> {
        let result =
            sqlx::query("DELETE FROM login_tokens WHERE user_id = ? AND kind = 'pat' AND name = ?")
                .bind(user_id)
                .bind(name)
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn replace_personal_access_token(&self, token: &LoginToken) -> StoreResult<bool> {
        let TokenKind::PersonalAccess { name, .. } = &token.kind else {
            return Ok(false);
        };
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let removed =
            sqlx::query("DELETE FROM login_tokens WHERE user_id = ? AND kind = 'pat' AND name = ?")
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
            "DELETE FROM login_tokens WHERE user_id = ? AND kind = 'login' AND hashed_token NOT IN \
             (SELECT hashed_token FROM login_tokens WHERE user_id = ? AND kind = 'login' \
              ORDER BY created_at DESC, rowid DESC LIMIT ?)",
        )
        .bind(user_id)
        .bind(user_id)
        .bind(i64::from(keep))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected())
    }

    async fn delete_login_tokens_before(&self, cutoff: Timestamp) -> StoreResult<u64> {
        let result =
            sqlx::query("DELETE FROM login_tokens WHERE kind = 'login' AND created_at < ?")
                .bind(millis(cutoff))
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        Ok(result.rows_affected())
    }
}

#[async_trait]
impl SettingStore for SqliteStore {
    async fn settings(&self) -> StoreResult<Vec<Setting>> {
        let rows = sqlx::query(
            "SELECT id, value, package_value, setting_type, public, grp, section, choices, \
             updated_at FROM settings ORDER BY id",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(setting_from_row).collect()
    }

    async fn insert_setting_if_absent(&self, setting: &Setting) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT OR IGNORE INTO settings (id, value, package_value, setting_type, public, grp, \
             section, choices, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&setting.id)
        .bind(json_text(&setting.value))
        .bind(json_text(&setting.package_value))
        .bind(setting.setting_type.as_str())
        .bind(setting.public)
        .bind(&setting.group)
        .bind(&setting.section)
        .bind(json_text(&Value::from(setting.choices.clone())))
        .bind(millis(setting.updated_at))
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }

    async fn set_setting_value(&self, id: &str, value: &Value, at: Timestamp) -> StoreResult<bool> {
        let result = sqlx::query("UPDATE settings SET value = ?, updated_at = ? WHERE id = ?")
            .bind(json_text(value))
            .bind(millis(at))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl PermissionStore for SqliteStore {
    async fn permissions(&self) -> StoreResult<Vec<Permission>> {
        let rows = sqlx::query("SELECT id, roles, updated_at FROM permissions ORDER BY id")
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        rows.iter().map(permission_from_row).collect()
    }

    async fn insert_permission_if_absent(&self, permission: &Permission) -> StoreResult<bool> {
        let result = sqlx::query(
            "INSERT OR IGNORE INTO permissions (id, roles, updated_at) VALUES (?, ?, ?)",
        )
        .bind(&permission.id)
        .bind(json_text(&Value::from(permission.roles.clone())))
        .bind(millis(permission.updated_at))
        .execute(&self.writer)
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
        let result = sqlx::query("UPDATE permissions SET roles = ?, updated_at = ? WHERE id = ?")
            .bind(json_text(&Value::from(roles.to_vec())))
            .bind(millis(at))
            .bind(id)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl RoleStore for SqliteStore {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        let rows = sqlx::query(
            "SELECT id, name, scope, description, protected, mandatory_2fa, updated_at FROM roles \
             ORDER BY rowid",
        )
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.iter().map(role_from_row).collect()
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO roles (id, name, scope, description, protected, mandatory_2fa, updated_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&role.id)
        .bind(&role.name)
        .bind(&role.scope)
        .bind(&role.description)
        .bind(role.protected)
        .bind(role.mandatory_2fa)
        .bind(millis(role.updated_at))
        .execute(&self.writer)
        .await
        .map_err(write_error)?;
        Ok(())
    }

    async fn insert_role_if_absent(&self, role: &Role) -> StoreResult<bool> {
        match self.insert_role(role).await {
            Ok(()) => Ok(true),
            Err(StoreError::Conflict(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[async_trait]
impl LoginAttemptStore for SqliteStore {
    async fn record_failed_login(&self, key: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query("INSERT INTO failed_logins (key, at) VALUES (?, ?)")
            .bind(key)
            .bind(millis(at))
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }

    async fn count_failed_logins(&self, key: &str, since: Timestamp) -> StoreResult<u64> {
        let n: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM failed_logins WHERE key = ? AND at >= ?")
                .bind(key)
                .bind(millis(since))
                .fetch_one(&self.reader)
                .await
                .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn clear_failed_logins(&self, key: &str) -> StoreResult<()> {
        sqlx::query("DELETE FROM failed_logins WHERE key = ?")
            .bind(key)
            .execute(&self.writer)
            .await
            .map_err(backend)?;
        Ok(())
    }
}

#[async_trait]
impl comet_store::OpsStore for SqliteStore {
    async fn ping(&self) -> StoreResult<()> {
        sqlx::query("SELECT 1")
            .execute(&self.reader)
            .await
            .map_err(backend)?;
        Ok(())
    }

    fn pool_stats(&self) -> Vec<comet_store::PoolStats> {
        [("writer", &self.writer), ("reader", &self.reader)]
            .into_iter()
            .map(|(pool, p)| comet_store::PoolStats {
                pool,
                size: p.size(),
                idle: u32::try_from(p.num_idle()).unwrap_or(u32::MAX),
            })
            .collect()
    }
}
