//! Row → domain conversions.

use comet_core::role::{Permission, Role};
use comet_core::setting::{Setting, SettingType};
use comet_core::user::{Email, LoginToken, Presence, TokenKind, User, UserType};
use comet_store::{StoreError, StoreResult};
use serde_json::Value;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;

pub(crate) use comet_store::encoding::{from_millis, millis};

pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Backend(format!("unexpected {what} in database: {value:?}"))
}

pub(crate) fn get<'r, T>(row: &'r SqliteRow, column: &str) -> StoreResult<T>
where
    T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
{
    row.try_get(column)
        .map_err(|e| StoreError::Backend(format!("column {column}: {e}")))
}

pub(crate) fn json(row: &SqliteRow, column: &str) -> StoreResult<Value> {
    let text: String = get(row, column)?;
    serde_json::from_str(&text).map_err(|_| corrupt(column, &text))
}

pub(crate) fn string_list(row: &SqliteRow, column: &str) -> StoreResult<Vec<String>> {
    match json(row, column)? {
        Value::Array(items) => Ok(items
            .into_iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()),
        other => Err(corrupt(column, &other.to_string())),
    }
}

fn presence(row: &SqliteRow, column: &str) -> StoreResult<Presence> {
    let text: String = get(row, column)?;
    Presence::parse(&text).ok_or_else(|| corrupt(column, &text))
}

pub(crate) fn user_from_row(row: &SqliteRow) -> StoreResult<User> {
    let email: Option<String> = get(row, "email")?;
    let user_type: String = get(row, "user_type")?;
    let custom_fields: Option<String> = get(row, "custom_fields")?;
    let last_login: Option<i64> = get(row, "last_login")?;
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
        roles: string_list(row, "roles")?,
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
        custom_fields: custom_fields
            .map(|text| serde_json::from_str(&text).map_err(|_| corrupt("custom_fields", &text)))
            .transpose()?,
        created_at: from_millis(get(row, "created_at")?)?,
        updated_at: from_millis(get(row, "updated_at")?)?,
        last_login: last_login.map(from_millis).transpose()?,
    })
}

pub(crate) fn token_from_row(row: &SqliteRow) -> StoreResult<LoginToken> {
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
        created_at: from_millis(get(row, "token_created_at")?)?,
        kind,
        two_factor_until: get::<Option<i64>>(row, "two_factor_until")?
            .map(from_millis)
            .transpose()?,
        two_factor_client: get(row, "two_factor_client")?,
    })
}

pub(crate) fn setting_from_row(row: &SqliteRow) -> StoreResult<Setting> {
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
        choices: string_list(row, "choices")?,
        updated_at: from_millis(get(row, "updated_at")?)?,
    })
}

pub(crate) fn permission_from_row(row: &SqliteRow) -> StoreResult<Permission> {
    Ok(Permission {
        id: get(row, "id")?,
        roles: string_list(row, "roles")?,
        updated_at: from_millis(get(row, "updated_at")?)?,
    })
}

pub(crate) fn role_from_row(row: &SqliteRow) -> StoreResult<Role> {
    Ok(Role {
        id: get(row, "id")?,
        name: get(row, "name")?,
        scope: get(row, "scope")?,
        description: get(row, "description")?,
        protected: get(row, "protected")?,
        mandatory_2fa: get(row, "mandatory_2fa")?,
        updated_at: from_millis(get(row, "updated_at")?)?,
    })
}
