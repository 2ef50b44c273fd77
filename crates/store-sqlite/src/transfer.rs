//! Whole-database export and import (`comet migrate-db`).
//!
//! Every table is exported in `rowid` order, the cursor being the last `rowid`: that is the
//! insertion order the queries break ties by (messages of one millisecond, login tokens when
//! pruning, roles as listed), so importing in export order reproduces it. Imports insert the
//! rows as they are, in one transaction on the writer; the FTS triggers index message text.

use crate::chat::{
    MESSAGE_COLUMNS, ROOM_COLUMNS, SUBSCRIPTION_COLUMNS, insert_message, insert_subscription,
};
use crate::chat_rows::{message_from_row, room_from_row, subscription_from_row};
use crate::rows::{
    from_millis, get, millis, permission_from_row, role_from_row, setting_from_row, token_from_row,
    user_from_row,
};
use crate::{SqliteStore, backend, bind_user_fields, json_text, write_error, write_user_roles};
use async_trait::async_trait;
use comet_core::room::Room;
use comet_store::transfer::{
    ExportPage, FailedLogin, Record, RecordKind, TransferStore, TrashedRoom, TrashedSubscription,
};
use comet_store::{StoreError, StoreResult};
use serde_json::Value;
use sqlx::sqlite::SqliteRow;
use sqlx::{Sqlite, Transaction};

/// The table holding a kind's rows.
fn table(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::User => "users",
        RecordKind::LoginToken => "login_tokens",
        RecordKind::Role => "roles",
        RecordKind::Permission => "permissions",
        RecordKind::Setting => "settings",
        RecordKind::FailedLogin => "failed_logins",
        RecordKind::Room => "rooms",
        RecordKind::Subscription => "subscriptions",
        RecordKind::Message => "messages",
        RecordKind::SubscriptionTrash => "subscription_trash",
        RecordKind::RoomTrash => "room_trash",
        RecordKind::Upload => "uploads",
        RecordKind::Avatar => "avatars",
    }
}

/// The columns `pos` (the rowid) and whatever the kind's row conversion reads, from the
/// kind's table (aliased `u` for users, whose roles come from a subquery).
fn export_query(kind: RecordKind) -> String {
    let columns = match kind {
        RecordKind::User => {
            return concat!(
                "SELECT u.rowid AS pos, ",
                crate::user_columns!(),
                " FROM users u WHERE u.rowid > ? ORDER BY u.rowid LIMIT ?"
            )
            .to_owned();
        }
        RecordKind::LoginToken => {
            "hashed_token, user_id AS token_user_id, created_at AS token_created_at, kind, \
             name AS token_name, last_token_part, bypass_two_factor, two_factor_until, \
             two_factor_client"
        }
        RecordKind::Role => "id, name, scope, description, protected, mandatory_2fa, updated_at",
        RecordKind::Permission => "id, roles, updated_at",
        RecordKind::Setting => {
            "id, value, package_value, setting_type, public, grp, section, choices, updated_at"
        }
        RecordKind::FailedLogin => "key, at",
        RecordKind::Room => ROOM_COLUMNS,
        RecordKind::Subscription => SUBSCRIPTION_COLUMNS,
        RecordKind::Message => MESSAGE_COLUMNS,
        RecordKind::SubscriptionTrash => "id, user_id, rid, deleted_at",
        RecordKind::RoomTrash => "id, deleted_at",
        RecordKind::Upload => crate::files::UPLOAD_COLUMNS,
        RecordKind::Avatar => crate::avatars::AVATAR_COLUMNS,
    };
    format!(
        "SELECT rowid AS pos, {columns} FROM {} WHERE rowid > ? ORDER BY rowid LIMIT ?",
        table(kind)
    )
}

fn record_from_row(kind: RecordKind, row: &SqliteRow) -> StoreResult<Record> {
    Ok(match kind {
        RecordKind::User => Record::User(user_from_row(row)?),
        RecordKind::LoginToken => Record::LoginToken(token_from_row(row)?),
        RecordKind::Role => Record::Role(role_from_row(row)?),
        RecordKind::Permission => Record::Permission(permission_from_row(row)?),
        RecordKind::Setting => Record::Setting(setting_from_row(row)?),
        RecordKind::FailedLogin => Record::FailedLogin(FailedLogin {
            key: get(row, "key")?,
            at: from_millis(get(row, "at")?)?,
        }),
        RecordKind::Room => Record::Room(room_from_row(row)?),
        RecordKind::Subscription => Record::Subscription(subscription_from_row(row)?),
        RecordKind::Message => Record::Message(message_from_row(row)?),
        RecordKind::SubscriptionTrash => Record::SubscriptionTrash(TrashedSubscription {
            id: get(row, "id")?,
            user_id: get(row, "user_id")?,
            room_id: get(row, "rid")?,
            removed_at: from_millis(get(row, "deleted_at")?)?,
        }),
        RecordKind::RoomTrash => Record::RoomTrash(TrashedRoom {
            id: get(row, "id")?,
            removed_at: from_millis(get(row, "deleted_at")?)?,
        }),
        RecordKind::Upload => Record::Upload(crate::files::upload_from_row(row)?),
        RecordKind::Avatar => Record::Avatar(crate::avatars::avatar_from_row(row)?),
    })
}

fn json_list(items: &[String]) -> String {
    json_text(&Value::from(items.to_vec()))
}

/// A room row exactly as given, counters and last message included (creating a room through
/// the store starts them at zero).
async fn insert_room(tx: &mut Transaction<'_, Sqlite>, room: &Room) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO rooms (id, t, name, name_key, fname, creator_id, creator_username, \
         creator_name, topic, description, announcement, read_only, react_when_read_only, \
         archived, is_default, featured, encrypted, broadcast, join_code, muted, user_ids, \
         usernames, msgs, users_count, lm, last_message_id, sys_mes, prid, custom_fields, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
         ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&room.id)
    .bind(room.room_type.as_str())
    .bind(&room.name)
    .bind(room.name.as_ref().map(|n| n.to_lowercase()))
    .bind(&room.fname)
    .bind(room.creator.as_ref().map(|c| c.id.clone()))
    .bind(room.creator.as_ref().map(|c| c.username.clone()))
    .bind(room.creator.as_ref().and_then(|c| c.name.clone()))
    .bind(&room.topic)
    .bind(&room.description)
    .bind(&room.announcement)
    .bind(room.read_only)
    .bind(room.react_when_read_only)
    .bind(room.archived)
    .bind(room.default)
    .bind(room.featured)
    .bind(room.encrypted)
    .bind(room.broadcast)
    .bind(&room.join_code)
    .bind(json_list(&room.muted))
    .bind(json_list(&room.user_ids))
    .bind(json_list(&room.usernames))
    .bind(room.message_count)
    .bind(room.users_count)
    .bind(room.last_message_at.map(millis))
    .bind(&room.last_message_id)
    .bind(json_list(&room.hidden_system_messages))
    .bind(&room.parent_id)
    .bind(json_text(&room.custom_fields))
    .bind(millis(room.created_at))
    .bind(millis(room.updated_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn insert_record(tx: &mut Transaction<'_, Sqlite>, record: &Record) -> StoreResult<()> {
    match record {
        Record::User(user) => {
            let insert = sqlx::query(
                "INSERT INTO users (id, username, username_key, name, email, email_key, \
                 email_verified, user_type, active, status, status_default, status_connection, \
                 status_text, utc_offset, password_bcrypt, require_password_change, language, \
                 nickname, bio, preferences, custom_fields, created_at, updated_at, last_login) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&user.id);
            bind_user_fields(insert, user)
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
            write_user_roles(tx, user).await.map_err(write_error)?;
        }
        Record::LoginToken(token) => crate::insert_token(tx, token).await?,
        Record::Role(role) => {
            sqlx::query(
                "INSERT INTO roles (id, name, scope, description, protected, mandatory_2fa, \
                 updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&role.id)
            .bind(&role.name)
            .bind(&role.scope)
            .bind(&role.description)
            .bind(role.protected)
            .bind(role.mandatory_2fa)
            .bind(millis(role.updated_at))
            .execute(&mut **tx)
            .await
            .map_err(write_error)?;
        }
        Record::Permission(permission) => {
            sqlx::query("INSERT INTO permissions (id, roles, updated_at) VALUES (?, ?, ?)")
                .bind(&permission.id)
                .bind(json_list(&permission.roles))
                .bind(millis(permission.updated_at))
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
        }
        Record::Setting(setting) => {
            sqlx::query(
                "INSERT INTO settings (id, value, package_value, setting_type, public, grp, \
                 section, choices, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .bind(&setting.id)
            .bind(json_text(&setting.value))
            .bind(json_text(&setting.package_value))
            .bind(setting.setting_type.as_str())
            .bind(setting.public)
            .bind(&setting.group)
            .bind(&setting.section)
            .bind(json_list(&setting.choices))
            .bind(millis(setting.updated_at))
            .execute(&mut **tx)
            .await
            .map_err(write_error)?;
        }
        Record::Upload(upload) => crate::files::insert_upload_row(&mut **tx, upload).await?,
        Record::Avatar(avatar) => {
            crate::avatars::insert_avatar_row(&mut **tx, avatar, false).await?;
        }
        Record::FailedLogin(failed) => {
            sqlx::query("INSERT INTO failed_logins (key, at) VALUES (?, ?)")
                .bind(&failed.key)
                .bind(millis(failed.at))
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
        }
        Record::Room(room) => insert_room(tx, room).await.map_err(write_error)?,
        Record::Subscription(subscription) => insert_subscription(tx, subscription)
            .await
            .map_err(write_error)?,
        Record::Message(message) => insert_message(tx, message).await.map_err(write_error)?,
        Record::SubscriptionTrash(trashed) => {
            sqlx::query(
                "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) VALUES (?, ?, ?, ?)",
            )
            .bind(&trashed.id)
            .bind(&trashed.user_id)
            .bind(&trashed.room_id)
            .bind(millis(trashed.removed_at))
            .execute(&mut **tx)
            .await
            .map_err(write_error)?;
        }
        Record::RoomTrash(trashed) => {
            sqlx::query("INSERT INTO room_trash (id, deleted_at) VALUES (?, ?)")
                .bind(&trashed.id)
                .bind(millis(trashed.removed_at))
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
        }
    }
    Ok(())
}

#[async_trait]
impl TransferStore for SqliteStore {
    async fn export(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ExportPage> {
        // Rowids are positive unless a program chose otherwise; start below any of them.
        let after: i64 = match after {
            None => i64::MIN,
            Some(cursor) => cursor.parse().map_err(|_| {
                StoreError::Backend(format!("invalid export position {cursor:?} for {kind}"))
            })?,
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(export_query(kind)))
            .bind(after)
            .bind(i64::from(limit))
            .fetch_all(&self.reader)
            .await
            .map_err(backend)?;
        let records = rows
            .iter()
            .map(|row| record_from_row(kind, row))
            .collect::<StoreResult<Vec<_>>>()?;
        let next = match rows.last() {
            Some(last) if rows.len() >= limit as usize => {
                Some(get::<i64>(last, "pos")?.to_string())
            }
            _ => None,
        };
        Ok(ExportPage { records, next })
    }

    async fn import(&self, records: &[Record]) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        for record in records {
            insert_record(&mut tx, record).await?;
        }
        tx.commit().await.map_err(write_error)
    }

    async fn count_records(&self, kind: RecordKind) -> StoreResult<u64> {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(*) FROM {}",
            table(kind)
        )))
        .fetch_one(&self.reader)
        .await
        .map_err(backend)?;
        Ok(u64::try_from(n).unwrap_or(0))
    }
}
