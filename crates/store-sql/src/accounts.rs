//! Users, tokens, settings, permissions, roles, failed logins and the store's own operations.

use crate::rows::{
    ROLE_COLUMNS, SETTING_COLUMNS, TOKEN_COLUMNS, permission_from_row, role_from_row,
    setting_from_row, token_from_row, user_columns, user_from_row,
};
use crate::{Database, Query, SqlStore, Transaction, counted, direction, limit, offset};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::page::{Page, UserSortKey};
use comet_core::role::{Permission, Role};
use comet_core::setting::Setting;
use comet_core::user::{LoginToken, TokenKind, User};
use comet_store::encoding::{like_pattern, millis};
use comet_store::{
    LoginAttemptStore, OpsStore, PermissionStore, PoolStats, RoleStore, SettingStore, StoreResult,
    TokenStore, UserFilter, UserStore,
};
use serde_json::Value;

/// The user columns written by both the insert and the update, in this order, after the id.
const USER_WRITTEN: [&str; 24] = [
    "username",
    "username_key",
    "name",
    "email",
    "email_key",
    "email_verified",
    "user_type",
    "active",
    "status",
    "status_default",
    "status_connection",
    "status_text",
    "utc_offset",
    "password_bcrypt",
    "require_password_change",
    "language",
    "nickname",
    "bio",
    "preferences",
    "custom_fields",
    "created_at",
    "updated_at",
    "last_login",
    "approved",
];

/// A user's roles as stored: in order, each once.
fn distinct_roles(roles: &[String]) -> Vec<String> {
    let mut distinct: Vec<String> = Vec::with_capacity(roles.len());
    for role in roles {
        if !distinct.contains(role) {
            distinct.push(role.clone());
        }
    }
    distinct
}

/// Binds the written user columns in [`USER_WRITTEN`] order, then the roles where they are a
/// column of the row.
fn bind_user_fields<D: Database>(q: &mut Query, user: &User) -> Vec<String> {
    let email = user.email.as_ref();
    let values: Vec<crate::Param> = vec![
        user.username.clone().into(),
        user.username.to_lowercase().into(),
        user.name.clone().into(),
        email.map(|e| e.address.clone()).into(),
        email.map(|e| e.address.to_lowercase()).into(),
        email.is_some_and(|e| e.verified).into(),
        user.user_type.as_str().into(),
        user.active.into(),
        user.status.as_str().into(),
        user.status_default.as_str().into(),
        user.status_connection.as_str().into(),
        user.status_text.clone().into(),
        user.utc_offset.into(),
        user.password_bcrypt.clone().into(),
        user.require_password_change.into(),
        user.language.clone().into(),
        user.nickname.clone().into(),
        user.bio.clone().into(),
        (&user.preferences).into(),
        crate::Param::Json(user.custom_fields.clone()),
        millis(user.created_at).into(),
        millis(user.updated_at).into(),
        user.last_login.map(millis).into(),
        user.approved.into(),
    ];
    let mut placeholders: Vec<String> = values.into_iter().map(|v| q.param(v)).collect();
    if D::USER_ROLES_IN_ROW {
        placeholders.push(q.param(distinct_roles(&user.roles)));
    }
    placeholders
}

fn user_written_columns<D: Database>() -> Vec<&'static str> {
    let mut columns = USER_WRITTEN.to_vec();
    if D::USER_ROLES_IN_ROW {
        columns.push("roles");
    }
    columns
}

fn insert_user_query<D: Database>(user: &User) -> Query {
    let mut q = Query::default();
    let id = q.param(&user.id);
    let values = bind_user_fields::<D>(&mut q, user);
    q.push(&format!(
        "INSERT INTO users (id, {}) VALUES ({id}, {})",
        user_written_columns::<D>().join(", "),
        values.join(", ")
    ));
    q
}

/// Writes a user's roles as rows of `user_roles`, where they are not a column of the user.
async fn write_user_roles<D: Database>(tx: &mut D::Tx, user: &User) -> StoreResult<()> {
    if D::USER_ROLES_IN_ROW {
        return Ok(());
    }
    tx.write(Query::new("DELETE FROM user_roles WHERE user_id = $1").bind(&user.id))
        .await?;
    for (ord, role) in user.roles.iter().enumerate() {
        let insert = Query::new(
            "INSERT INTO user_roles (user_id, role, ord) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
        );
        tx.write(insert.bind(&user.id).bind(role).bind(ord as i64))
            .await?;
    }
    Ok(())
}

/// Inserts a user with its roles (also used by the import, in its transaction).
pub(crate) async fn insert_user_in<D: Database>(tx: &mut D::Tx, user: &User) -> StoreResult<()> {
    tx.write(insert_user_query::<D>(user)).await?;
    write_user_roles::<D>(tx, user).await
}

pub(crate) fn insert_token_query(token: &LoginToken) -> Query {
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
    Query::new(
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
}

pub(crate) fn insert_role_query(role: &Role, if_absent: bool) -> Query {
    let on_conflict = if if_absent {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    Query::new(format!(
        "INSERT INTO roles ({ROLE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7){on_conflict}"
    ))
    .bind(&role.id)
    .bind(&role.name)
    .bind(&role.scope)
    .bind(&role.description)
    .bind(role.protected)
    .bind(role.mandatory_2fa)
    .bind(millis(role.updated_at))
}

pub(crate) fn insert_permission_query(permission: &Permission, if_absent: bool) -> Query {
    let on_conflict = if if_absent {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    Query::new(format!(
        "INSERT INTO permissions (id, roles, updated_at) VALUES ($1, $2, $3){on_conflict}"
    ))
    .bind(&permission.id)
    .bind(&permission.roles)
    .bind(millis(permission.updated_at))
}

pub(crate) fn insert_setting_query(setting: &Setting, if_absent: bool) -> Query {
    let on_conflict = if if_absent {
        " ON CONFLICT DO NOTHING"
    } else {
        ""
    };
    Query::new(format!(
        "INSERT INTO settings ({SETTING_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)\
         {on_conflict}"
    ))
    .bind(&setting.id)
    .bind(&setting.value)
    .bind(&setting.package_value)
    .bind(setting.setting_type.as_str())
    .bind(setting.public)
    .bind(&setting.group)
    .bind(&setting.section)
    .bind(&setting.choices)
    .bind(millis(setting.updated_at))
}

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

fn push_user_filter<D: Database>(q: &mut Query, filter: &UserFilter) {
    q.push(" WHERE 1 = 1");
    if let Some(role) = &filter.role {
        let role = q.param(role);
        q.push(" AND ").push(&D::user_has_role(&role));
    }
    if let Some(active) = filter.active {
        q.push(" AND u.active = ").push_bind(active);
    }
    if let Some(search) = &filter.search {
        // lower() folds ASCII only in both (PostgreSQL's name has the "C" collation).
        let pattern = q.param(like_pattern(search));
        let email = if filter.search_names_only {
            String::new()
        } else {
            format!(" OR u.email_key LIKE {pattern} ESCAPE '\\'")
        };
        q.push(&format!(
            " AND (u.username_key LIKE {pattern} ESCAPE '\\' OR lower(u.name) LIKE {pattern} \
             ESCAPE '\\'{email})"
        ));
    }
    if !filter.any_role.is_empty() {
        let held: Vec<String> = filter
            .any_role
            .iter()
            .map(|role| {
                let role = q.param(role);
                D::user_has_role(&role)
            })
            .collect();
        q.push(&format!(" AND ({})", held.join(" OR ")));
    }
    match filter.has_logged_in {
        Some(true) => {
            q.push(" AND u.last_login IS NOT NULL");
        }
        Some(false) => {
            q.push(" AND u.last_login IS NULL");
        }
        None => {}
    }
    if let Some(user_type) = &filter.user_type {
        q.push(" AND u.user_type = ").push_bind(user_type.as_str());
    }
    if filter.not_offline {
        q.push(" AND u.status <> 'offline'");
    }
    if let Some(since) = filter.updated_since {
        q.push(" AND u.updated_at >= ").push_bind(millis(since));
    }
    if let Some(ids) = &filter.ids {
        let ids = q.param(ids.as_slice());
        q.push(" AND ").push(&D::in_list("u.id", &ids));
    }
    if !filter.exclude_ids.is_empty() {
        let ids = q.param(filter.exclude_ids.as_slice());
        q.push(" AND NOT ").push(&D::in_list("u.id", &ids));
    }
    if !filter.exclude_usernames.is_empty() {
        let keys: Vec<String> = filter
            .exclude_usernames
            .iter()
            .map(|name| name.to_lowercase())
            .collect();
        let keys = q.param(keys.as_slice());
        q.push(" AND NOT ")
            .push(&D::in_list("u.username_key", &keys));
    }
    if let Some((user_id, room_type)) = &filter.shares_room_with {
        let user_id = q.param(user_id);
        let of_type = match room_type {
            Some(t) => format!(" AND mine.t = {}", q.param(t.as_str())),
            None => String::new(),
        };
        q.push(&format!(
            " AND u.id <> {user_id} AND EXISTS (SELECT 1 FROM subscriptions mine \
             JOIN subscriptions theirs ON theirs.rid = mine.rid \
             WHERE mine.user_id = {user_id}{of_type} AND theirs.user_id = u.id)"
        ));
    }
}

impl<D: Database> SqlStore<D> {
    async fn user_where(&self, condition: &str, value: String) -> StoreResult<Option<User>> {
        let sql = format!(
            "SELECT {} FROM users u WHERE {condition} = $1",
            user_columns::<D>()
        );
        let rows = self.db.read(Query::new(sql).bind(value)).await?;
        rows.first().map(user_from_row).transpose()
    }
}

#[async_trait]
impl<D: Database> UserStore for SqlStore<D> {
    async fn insert_user(&self, user: &User) -> StoreResult<()> {
        if D::USER_ROLES_IN_ROW {
            return self.db.write(insert_user_query::<D>(user)).await.map(drop);
        }
        let mut tx = self.db.begin().await?;
        insert_user_in::<D>(&mut tx, user).await?;
        tx.commit().await
    }

    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>> {
        self.user_where("u.id", id.to_owned()).await
    }

    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = Query::new(format!(
            "SELECT {} FROM users u WHERE ",
            user_columns::<D>()
        ));
        let ids = q.param(ids);
        q.push(&D::in_list("u.id", &ids));
        let rows = self.db.read(q).await?;
        rows.iter().map(user_from_row).collect()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        self.user_where("u.username_key", username.to_lowercase())
            .await
    }

    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>> {
        self.user_where("u.email_key", email.to_lowercase()).await
    }

    async fn update_user(&self, user: &User) -> StoreResult<bool> {
        let mut q = Query::default();
        let values = bind_user_fields::<D>(&mut q, user);
        let assignments: Vec<String> = user_written_columns::<D>()
            .iter()
            .zip(&values)
            .map(|(column, value)| format!("{column} = {value}"))
            .collect();
        let id = q.param(&user.id);
        q.push(&format!(
            "UPDATE users SET {} WHERE id = {id}",
            assignments.join(", ")
        ));
        if D::USER_ROLES_IN_ROW {
            return Ok(self.db.write(q).await? > 0);
        }
        let mut tx = self.db.begin().await?;
        if tx.write(q).await? == 0 {
            return Ok(false);
        }
        write_user_roles::<D>(&mut tx, user).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_user(&self, id: &str) -> StoreResult<bool> {
        // Tokens (and SQLite's role rows) go with the user through ON DELETE CASCADE.
        let deleted = self
            .db
            .write(Query::new("DELETE FROM users WHERE id = $1").bind(id))
            .await?;
        Ok(deleted > 0)
    }

    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &Page<UserSortKey>,
    ) -> StoreResult<(Vec<User>, u64)> {
        let mut tx = self.db.snapshot().await?;
        let mut count_query = Query::new("SELECT COUNT(*) AS n FROM users u");
        push_user_filter::<D>(&mut count_query, filter);
        let total = counted(&tx.read(count_query).await?)?;
        let mut q = Query::new(format!("SELECT {} FROM users u", user_columns::<D>()));
        push_user_filter::<D>(&mut q, filter);
        q.push(" ORDER BY ");
        for (key, order) in &page.sort {
            q.push(sort_column(*key)).push(direction(*order)).push(", ");
        }
        q.push("u.created_at ASC, u.id ASC LIMIT ")
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = tx.read(q).await?;
        tx.commit().await?;
        let users = rows.iter().map(user_from_row).collect::<StoreResult<_>>()?;
        Ok((users, total))
    }

    async fn count_active_users_with_role(&self, role: &str) -> StoreResult<u64> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM users u WHERE {} AND u.active = {}",
            D::user_has_role("$1"),
            D::TRUE
        );
        counted(&self.db.read(Query::new(sql).bind(role)).await?)
    }

    async fn count_users_with_role(&self, role: &str) -> StoreResult<u64> {
        let sql = format!(
            "SELECT COUNT(*) AS n FROM users u WHERE {}",
            D::user_has_role("$1")
        );
        counted(&self.db.read(Query::new(sql).bind(role)).await?)
    }

    async fn reset_connection_presence(&self) -> StoreResult<()> {
        // Bots keep the presence they were given; people are offline until they connect.
        let reset = Query::new(
            "UPDATE users SET status_connection = 'offline', status = 'offline' \
             WHERE user_type = 'user' AND (status_connection <> 'offline' OR status <> 'offline')",
        );
        self.db.write(reset).await.map(drop)
    }

    async fn deactivate_idle_users(
        &self,
        role: &str,
        cutoff: Timestamp,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let sql = format!(
            "UPDATE users AS u SET active = {}, updated_at = $3 WHERE u.active = {} AND {} \
             AND (u.last_login <= $2 OR (u.last_login IS NULL AND u.created_at <= $2))",
            D::FALSE,
            D::TRUE,
            D::user_has_role("$1")
        );
        let update = Query::new(sql)
            .bind(role)
            .bind(millis(cutoff))
            .bind(millis(at));
        self.db.write(update).await
    }

    async fn count_users_not_offline(&self) -> StoreResult<u64> {
        let sql = "SELECT COUNT(*) AS n FROM users WHERE status <> 'offline'";
        counted(&self.db.read(Query::new(sql)).await?)
    }

    async fn count_users(&self) -> StoreResult<u64> {
        counted(
            &self
                .db
                .read(Query::new("SELECT COUNT(*) AS n FROM users"))
                .await?,
        )
    }
}

#[async_trait]
impl<D: Database> TokenStore for SqlStore<D> {
    async fn insert_token(&self, token: &LoginToken) -> StoreResult<()> {
        self.db.write(insert_token_query(token)).await.map(drop)
    }

    async fn user_by_token(&self, hashed_token: &str) -> StoreResult<Option<(User, LoginToken)>> {
        let sql = format!(
            "SELECT {}, {TOKEN_COLUMNS} FROM login_tokens t JOIN users u ON u.id = t.user_id \
             WHERE t.hashed_token = $1",
            user_columns::<D>()
        );
        let rows = self.db.read(Query::new(sql).bind(hashed_token)).await?;
        match rows.first() {
            Some(row) => Ok(Some((user_from_row(row)?, token_from_row(row)?))),
            None => Ok(None),
        }
    }

    async fn remember_two_factor(
        &self,
        hashed_token: &str,
        until: Timestamp,
        client: &str,
    ) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE login_tokens SET two_factor_until = $1, two_factor_client = $2 \
             WHERE hashed_token = $3",
        );
        let changed = self
            .db
            .write(update.bind(millis(until)).bind(client).bind(hashed_token))
            .await?;
        Ok(changed > 0)
    }

    async fn delete_token(&self, user_id: &str, hashed_token: &str) -> StoreResult<bool> {
        let delete =
            Query::new("DELETE FROM login_tokens WHERE user_id = $1 AND hashed_token = $2");
        Ok(self
            .db
            .write(delete.bind(user_id).bind(hashed_token))
            .await?
            > 0)
    }

    async fn delete_login_tokens(&self, user_id: &str, keep: Option<&str>) -> StoreResult<u64> {
        let delete = Query::new(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'login' \
             AND hashed_token IS DISTINCT FROM $2",
        );
        self.db.write(delete.bind(user_id).bind(keep)).await
    }

    async fn personal_access_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM login_tokens t WHERE t.user_id = $1 AND t.kind = 'pat' \
             ORDER BY t.created_at, t.name"
        );
        let rows = self.db.read(Query::new(sql).bind(user_id)).await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn login_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM login_tokens t WHERE t.user_id = $1 \
             ORDER BY t.created_at, t.hashed_token"
        );
        let rows = self.db.read(Query::new(sql).bind(user_id)).await?;
        rows.iter().map(token_from_row).collect()
    }

    async fn delete_personal_access_token(&self, user_id: &str, name: &str) -> StoreResult<bool> {
        let delete = Query::new(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'pat' AND name = $2",
        );
        Ok(self.db.write(delete.bind(user_id).bind(name)).await? > 0)
    }

    async fn replace_personal_access_token(&self, token: &LoginToken) -> StoreResult<bool> {
        let TokenKind::PersonalAccess { name, .. } = &token.kind else {
            return Ok(false);
        };
        let mut tx = self.db.begin().await?;
        let delete = Query::new(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'pat' AND name = $2",
        );
        if tx.write(delete.bind(&token.user_id).bind(name)).await? == 0 {
            return Ok(false);
        }
        tx.write(insert_token_query(token)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn prune_login_tokens(&self, user_id: &str, keep: u32) -> StoreResult<u64> {
        let delete = Query::new(format!(
            "DELETE FROM login_tokens WHERE user_id = $1 AND kind = 'login' \
             AND hashed_token NOT IN (SELECT hashed_token FROM login_tokens \
               WHERE user_id = $1 AND kind = 'login' ORDER BY created_at DESC, {} DESC \
               LIMIT $2)",
            D::INSERTION_ORDER
        ));
        self.db
            .write(delete.bind(user_id).bind(i64::from(keep)))
            .await
    }

    async fn delete_login_tokens_before(&self, cutoff: Timestamp) -> StoreResult<u64> {
        let delete =
            Query::new("DELETE FROM login_tokens WHERE kind = 'login' AND created_at < $1");
        self.db.write(delete.bind(millis(cutoff))).await
    }
}

#[async_trait]
impl<D: Database> SettingStore for SqlStore<D> {
    async fn settings(&self) -> StoreResult<Vec<Setting>> {
        let sql = format!("SELECT {SETTING_COLUMNS} FROM settings ORDER BY id");
        let rows = self.db.read(Query::new(sql)).await?;
        rows.iter().map(setting_from_row).collect()
    }

    async fn insert_setting_if_absent(&self, setting: &Setting) -> StoreResult<bool> {
        Ok(self.db.write(insert_setting_query(setting, true)).await? > 0)
    }

    async fn set_setting_value(&self, id: &str, value: &Value, at: Timestamp) -> StoreResult<bool> {
        let update = Query::new("UPDATE settings SET value = $1, updated_at = $2 WHERE id = $3");
        Ok(self
            .db
            .write(update.bind(value).bind(millis(at)).bind(id))
            .await?
            > 0)
    }
}

#[async_trait]
impl<D: Database> PermissionStore for SqlStore<D> {
    async fn permissions(&self) -> StoreResult<Vec<Permission>> {
        let select = Query::new("SELECT id, roles, updated_at FROM permissions ORDER BY id");
        let rows = self.db.read(select).await?;
        rows.iter().map(permission_from_row).collect()
    }

    async fn insert_permission_if_absent(&self, permission: &Permission) -> StoreResult<bool> {
        Ok(self
            .db
            .write(insert_permission_query(permission, true))
            .await?
            > 0)
    }

    async fn set_permission_roles(
        &self,
        id: &str,
        roles: &[String],
        at: Timestamp,
    ) -> StoreResult<bool> {
        let update = Query::new("UPDATE permissions SET roles = $1, updated_at = $2 WHERE id = $3");
        Ok(self
            .db
            .write(update.bind(roles).bind(millis(at)).bind(id))
            .await?
            > 0)
    }
}

#[async_trait]
impl<D: Database> RoleStore for SqlStore<D> {
    async fn roles(&self) -> StoreResult<Vec<Role>> {
        let sql = format!(
            "SELECT {ROLE_COLUMNS} FROM roles ORDER BY {}",
            D::INSERTION_ORDER
        );
        let rows = self.db.read(Query::new(sql)).await?;
        rows.iter().map(role_from_row).collect()
    }

    async fn insert_role(&self, role: &Role) -> StoreResult<()> {
        self.db
            .write(insert_role_query(role, false))
            .await
            .map(drop)
    }

    async fn insert_role_if_absent(&self, role: &Role) -> StoreResult<bool> {
        // A role whose id or name is taken is left alone.
        Ok(self.db.write(insert_role_query(role, true)).await? > 0)
    }

    async fn update_role(&self, role: &Role) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE roles SET name = $2, scope = $3, description = $4, protected = $5, \
             mandatory_2fa = $6, updated_at = $7 WHERE id = $1",
        )
        .bind(&role.id)
        .bind(&role.name)
        .bind(&role.scope)
        .bind(&role.description)
        .bind(role.protected)
        .bind(role.mandatory_2fa)
        .bind(millis(role.updated_at));
        Ok(self.db.write(update).await? > 0)
    }

    async fn delete_role(&self, id: &str) -> StoreResult<bool> {
        let delete = Query::new("DELETE FROM roles WHERE id = $1").bind(id);
        Ok(self.db.write(delete).await? > 0)
    }
}

#[async_trait]
impl<D: Database> LoginAttemptStore for SqlStore<D> {
    async fn record_failed_login(&self, key: &str, at: Timestamp) -> StoreResult<()> {
        let insert = Query::new("INSERT INTO failed_logins (key, at) VALUES ($1, $2)");
        self.db
            .write(insert.bind(key).bind(millis(at)))
            .await
            .map(drop)
    }

    async fn count_failed_logins(&self, key: &str, since: Timestamp) -> StoreResult<u64> {
        let select =
            Query::new("SELECT COUNT(*) AS n FROM failed_logins WHERE key = $1 AND at >= $2");
        counted(&self.db.read(select.bind(key).bind(millis(since))).await?)
    }

    async fn clear_failed_logins(&self, key: &str) -> StoreResult<()> {
        let delete = Query::new("DELETE FROM failed_logins WHERE key = $1");
        self.db.write(delete.bind(key)).await.map(drop)
    }
}

#[async_trait]
impl<D: Database> OpsStore for SqlStore<D> {
    async fn ping(&self) -> StoreResult<()> {
        self.db.read(Query::new("SELECT 1 AS n")).await.map(drop)
    }

    fn pool_stats(&self) -> Vec<PoolStats> {
        self.db.pool_stats()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn roles_are_kept_once_in_order() {
        let roles = ["user", "admin", "user"].map(String::from);
        assert_eq!(super::distinct_roles(&roles), ["user", "admin"]);
    }
}
