//! Row → domain conversions for accounts, tokens, settings, permissions and roles.

use comet_core::Timestamp;
use comet_core::role::{Permission, Role};
use comet_core::setting::{Setting, SettingType};
use comet_core::user::{Email, LoginToken, Presence, TokenKind, User, UserType};
pub(crate) use comet_store::encoding::{from_millis, millis};
use comet_store::{StoreError, StoreResult};
use serde_json::Value;
use sqlx::Row;
use sqlx::postgres::PgRow;
use sqlx::types::Json;

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unexpected {what} in database: {value:?}"))
}

pub(crate) fn get<'r, T>(row: &'r PgRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Backend(format!("column {column}: {e}")))
}

pub(crate) fn json(row: &PgRow, column: &str) -> StoreResult<Value> {
    Ok(get::<Json<Value>>(row, column)?.0)
}

pub(crate) fn opt_json(row: &PgRow, column: &str) -> StoreResult<Option<Value>> {
    Ok(get::<Option<Json<Value>>>(row, column)?.map(|j| j.0))
}

pub(crate) fn time(row: &PgRow, column: &str) -> StoreResult<Timestamp> {
    from_millis(get(row, column)?)
}

pub(crate) fn opt_time(row: &PgRow, column: &str) -> StoreResult<Option<Timestamp>> {
    get::<Option<i64>>(row, column)?
        .map(from_millis)
        .transpose()
}

fn presence(row: &PgRow, column: &str) -> StoreResult<Presence> {
    let text: String = get(row, column)?;
    Presence::parse(&text).ok_or_else(|| corrupt(column, &text))
}

pub(crate) fn user_from_row(row: &PgRow) -> StoreResult<User> {
    let email: Option<String> = get(row, "email")?;
    let user_type: String = get(row, "user_type")?;
    Ok(User {
        id: get(row, "id")?,
        username: get(row, "username")?,
        name: get(row, "name")?,
        email: email
            .map(|address| -> StoreResult<Email> {
                Ok(Email {
                    address,
                    verified: get(row, "email_verified")?,
                })
            })
            .transpose()?,
        user_type: UserType::parse(&user_type).ok_or_else(|| corrupt("user_type", &user_type))?,
        active: get(row, "active")?,
        roles: get(row, "roles")?,
        status: presence(row, "status")?,
        status_default: presence(row, "status_default")?,
        status_connection: presence(row, "status_connection")?,
        status_text: get(row, "status_text")?,
        utc_offset: get(row, "utc_offset")?,
        password_bcrypt: get(row, "password_bcrypt")?,
        require_password_change: get(row, "require_password_change")?,
        language: get(row, "language")?,
        nickname: get(row, "nickname")?,
        bio: get(row, "bio")?,
        preferences: json(row, "preferences")?,
        custom_fields: opt_json(row, "custom_fields")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
        last_login: opt_time(row, "last_login")?,
    })
}

pub(crate) fn token_from_row(row: &PgRow) -> StoreResult<LoginToken> {
    let kind: String = get(row, "kind")?;
    let kind = match kind.as_str() {
        "login" => TokenKind::Login,
        "pat" => TokenKind::PersonalAccess {
            name: get::<Option<String>>(row, "token_name")?.unwrap_or_default(),
            last_token_part: get::<Option<String>>(row, "last_token_part")?.unwrap_or_default(),
            bypass_two_factor: get(row, "bypass_two_factor")?,
        },
        other => return Err(corrupt("token kind", other)),
    };
    Ok(LoginToken {
        user_id: get(row, "token_user_id")?,
        hashed_token: get(row, "hashed_token")?,
        created_at: time(row, "token_created_at")?,
        kind,
        two_factor_until: opt_time(row, "two_factor_until")?,
        two_factor_client: get(row, "two_factor_client")?,
    })
}

pub(crate) fn setting_from_row(row: &PgRow) -> StoreResult<Setting> {
    let setting_type: String = get(row, "setting_type")?;
    Ok(Setting {
        id: get(row, "id")?,
        value: json(row, "value")?,
        package_value: json(row, "package_value")?,
        setting_type: SettingType::parse(&setting_type)
            .ok_or_else(|| corrupt("setting_type", &setting_type))?,
        public: get(row, "public")?,
        group: get(row, "grp")?,
        section: get(row, "section")?,
        choices: get(row, "choices")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn permission_from_row(row: &PgRow) -> StoreResult<Permission> {
    Ok(Permission {
        id: get(row, "id")?,
        roles: get(row, "roles")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn role_from_row(row: &PgRow) -> StoreResult<Role> {
    Ok(Role {
        id: get(row, "id")?,
        name: get(row, "name")?,
        scope: get(row, "scope")?,
        description: get(row, "description")?,
        protected: get(row, "protected")?,
        mandatory_2fa: get(row, "mandatory_2fa")?,
        updated_at: time(row, "updated_at")?,
    })
}
