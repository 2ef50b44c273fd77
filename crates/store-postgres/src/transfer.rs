//! Whole-database export and import (`comet migrate-db`).
//!
//! Tables with an insertion sequence (`seq`: messages, login tokens, roles) are exported in
//! that order, since queries break ties by it and importing in export order reproduces it;
//! tables with a primary key by that key; the keyless ones (failed logins and the sync trash)
//! by `ctid`, which no row changes while nothing writes to the table. Imports insert the rows
//! as they are in one transaction (messages many to a statement), computing each live
//! message's search vector as posting does. They take no room locks: an import targets a
//! database no server is using.

use crate::chat::{
    MESSAGE_COLUMNS, ROOM_COLUMNS, SEARCH_CONFIG, SUBSCRIPTION_COLUMNS, insert_subscription,
    search_document,
};
use crate::chat_rows::{message_from_row, room_from_row, subscription_from_row};
use crate::rows::{
    get, millis, permission_from_row, role_from_row, setting_from_row, time, token_from_row,
    user_from_row,
};
use crate::{PostgresStore, backend, bind_user_fields, count, insert_token, write_error};
use async_trait::async_trait;
use comet_core::room::{Message, Room};
use comet_store::encoding::message_extra;
use comet_store::transfer::{
    ExportPage, FailedLogin, Record, RecordKind, TransferStore, TrashedRoom, TrashedSubscription,
};
use comet_store::{StoreError, StoreResult};
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Transaction};

/// The order a kind is exported in, and so what its export positions are.
#[derive(Clone, Copy)]
enum Order {
    /// The text primary key `id`.
    Id,
    /// The identity column `seq` (insertion order).
    Seq,
    /// The physical row address, for tables without a key.
    Ctid,
}

/// The table holding a kind's rows, and the order it is exported in.
fn table(kind: RecordKind) -> (&'static str, Order) {
    match kind {
        RecordKind::User => ("users", Order::Id),
        RecordKind::LoginToken => ("login_tokens", Order::Seq),
        RecordKind::Role => ("roles", Order::Seq),
        RecordKind::Permission => ("permissions", Order::Id),
        RecordKind::Setting => ("settings", Order::Id),
        RecordKind::FailedLogin => ("failed_logins", Order::Ctid),
        RecordKind::Room => ("rooms", Order::Id),
        RecordKind::Subscription => ("subscriptions", Order::Id),
        RecordKind::Message => ("messages", Order::Seq),
        RecordKind::SubscriptionTrash => ("subscription_trash", Order::Ctid),
        RecordKind::RoomTrash => ("room_trash", Order::Ctid),
        RecordKind::Upload => ("uploads", Order::Id),
        // Keyed by (owner kind, owner id), not by one text id.
        RecordKind::Avatar => ("avatars", Order::Ctid),
    }
}

/// The columns each kind's row conversion reads; the table is aliased `x` (the user and token
/// column lists name their own aliases, given to the table below).
fn columns(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::User => crate::user_columns!(),
        RecordKind::LoginToken => crate::token_columns!(),
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
    }
}

fn alias(kind: RecordKind) -> &'static str {
    match kind {
        RecordKind::User => "u",
        RecordKind::LoginToken => "t",
        _ => "x",
    }
}

fn record_from_row(kind: RecordKind, row: &PgRow) -> StoreResult<Record> {
    Ok(match kind {
        RecordKind::User => Record::User(user_from_row(row)?),
        RecordKind::LoginToken => Record::LoginToken(token_from_row(row)?),
        RecordKind::Role => Record::Role(role_from_row(row)?),
        RecordKind::Permission => Record::Permission(permission_from_row(row)?),
        RecordKind::Setting => Record::Setting(setting_from_row(row)?),
        RecordKind::FailedLogin => Record::FailedLogin(FailedLogin {
            key: get(row, "key")?,
            at: time(row, "at")?,
        }),
        RecordKind::Room => Record::Room(room_from_row(row)?),
        RecordKind::Subscription => Record::Subscription(subscription_from_row(row)?),
        RecordKind::Message => Record::Message(message_from_row(row)?),
        RecordKind::SubscriptionTrash => Record::SubscriptionTrash(TrashedSubscription {
            id: get(row, "id")?,
            user_id: get(row, "user_id")?,
            room_id: get(row, "rid")?,
            removed_at: time(row, "deleted_at")?,
        }),
        RecordKind::RoomTrash => Record::RoomTrash(TrashedRoom {
            id: get(row, "id")?,
            removed_at: time(row, "deleted_at")?,
        }),
        RecordKind::Upload => Record::Upload(crate::files::upload_from_row(row)?),
        RecordKind::Avatar => Record::Avatar(crate::avatars::avatar_from_row(row)?),
    })
}

/// A room row exactly as given, counters and last message included (creating a room through
/// the store starts them at zero).
async fn insert_room(tx: &mut Transaction<'_, Postgres>, room: &Room) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO rooms (id, t, name, name_key, fname, creator_id, creator_username, \
         creator_name, topic, description, announcement, read_only, react_when_read_only, \
         archived, is_default, featured, encrypted, broadcast, join_code, muted, user_ids, \
         usernames, msgs, users_count, lm, last_message_id, sys_mes, prid, custom_fields, \
         created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
         $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, \
         $30, $31)",
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
    .bind(&room.muted)
    .bind(&room.user_ids)
    .bind(&room.usernames)
    .bind(room.message_count)
    .bind(room.users_count)
    .bind(room.last_message_at.map(millis))
    .bind(&room.last_message_id)
    .bind(&room.hidden_system_messages)
    .bind(&room.parent_id)
    .bind(Json(&room.custom_fields))
    .bind(millis(room.created_at))
    .bind(millis(room.updated_at))
    .execute(&mut **tx)
    .await
    .map_err(write_error)?;
    Ok(())
}

/// Messages per insert statement: 19 parameters each stays well under PostgreSQL's 65,535.
const MESSAGES_PER_INSERT: usize = 1000;

/// Message rows exactly as given, in order (so `seq` follows it), many per statement: they are
/// most of a database, and a round trip per row would make the copy as slow as the network.
/// Live messages get their search vector as posting computes it; tombstones have none, as
/// deleting leaves them.
async fn insert_messages(
    tx: &mut Transaction<'_, Postgres>,
    messages: &[&Message],
) -> StoreResult<()> {
    for chunk in messages.chunks(MESSAGES_PER_INSERT) {
        let mut q = QueryBuilder::<Postgres>::new(
            "INSERT INTO messages (id, rid, msg, t, u_id, u_username, u_name, ts, updated_at, \
             tmid, tshow, tcount, tlm, pinned, deleted_at, extra, unread, search_vector) ",
        );
        q.push_values(chunk, |mut row, m| {
            row.push_bind(m.id.clone())
                .push_bind(m.room_id.clone())
                .push_bind(m.text.clone())
                .push_bind(m.kind.clone())
                .push_bind(m.author.id.clone())
                .push_bind(m.author.username.clone())
                .push_bind(m.author.name.clone())
                .push_bind(millis(m.created_at))
                .push_bind(millis(m.updated_at))
                .push_bind(m.thread_id.clone())
                .push_bind(m.thread_show)
                .push_bind(m.thread_count)
                .push_bind(m.thread_last_at.map(millis))
                .push_bind(m.pinned)
                .push_bind(m.deleted_at.map(millis))
                .push_bind(Json(message_extra(m)))
                .push_bind(m.unread);
            if m.deleted_at.is_none() {
                row.push("to_tsvector(")
                    .push_bind_unseparated(SEARCH_CONFIG)
                    .push_unseparated("::regconfig, ")
                    .push_bind_unseparated(search_document(&m.text))
                    .push_unseparated(")");
            } else {
                row.push("NULL");
            }
        });
        q.build().execute(&mut **tx).await.map_err(write_error)?;
    }
    Ok(())
}

async fn insert_record(tx: &mut Transaction<'_, Postgres>, record: &Record) -> StoreResult<()> {
    match record {
        Record::User(user) => {
            let insert = sqlx::query(
                "INSERT INTO users (id, username, username_key, name, email, email_key, \
                 email_verified, user_type, active, status, status_default, status_connection, \
                 status_text, utc_offset, password_bcrypt, require_password_change, language, \
                 nickname, bio, preferences, custom_fields, roles, created_at, updated_at, \
                 last_login) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
                 $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24, $25)",
            )
            .bind(&user.id);
            bind_user_fields(insert, user)
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
        }
        Record::LoginToken(token) => insert_token(tx, token).await?,
        Record::Role(role) => {
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
            .execute(&mut **tx)
            .await
            .map_err(write_error)?;
        }
        Record::Permission(permission) => {
            sqlx::query("INSERT INTO permissions (id, roles, updated_at) VALUES ($1, $2, $3)")
                .bind(&permission.id)
                .bind(&permission.roles)
                .bind(millis(permission.updated_at))
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
        }
        Record::Upload(upload) => crate::files::insert_upload_row(&mut **tx, upload).await?,
        Record::Avatar(avatar) => {
            crate::avatars::insert_avatar_row(&mut **tx, avatar, false).await?;
        }
        Record::Setting(setting) => {
            sqlx::query(
                "INSERT INTO settings (id, value, package_value, setting_type, public, grp, \
                 section, choices, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
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
            .execute(&mut **tx)
            .await
            .map_err(write_error)?;
        }
        Record::FailedLogin(failed) => {
            sqlx::query("INSERT INTO failed_logins (key, at) VALUES ($1, $2)")
                .bind(&failed.key)
                .bind(millis(failed.at))
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
        }
        Record::Room(room) => insert_room(tx, room).await?,
        Record::Subscription(subscription) => {
            insert_subscription(tx, subscription, false)
                .await
                .map_err(write_error)?;
        }
        Record::Message(message) => insert_messages(tx, &[message]).await?,
        Record::SubscriptionTrash(trashed) => {
            sqlx::query(
                "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
                 VALUES ($1, $2, $3, $4)",
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
            sqlx::query("INSERT INTO room_trash (id, deleted_at) VALUES ($1, $2)")
                .bind(&trashed.id)
                .bind(millis(trashed.removed_at))
                .execute(&mut **tx)
                .await
                .map_err(write_error)?;
        }
    }
    Ok(())
}

/// Heap blocks read per query when paging a table without a key: a range of `ctid`s is a
/// direct scan of those blocks, so each query sorts at most a window's rows (a few thousand)
/// rather than the rest of the table.
const CTID_WINDOW_BLOCKS: i64 = 16;

/// The block number of a `ctid` as PostgreSQL prints it, `(block,item)`.
fn ctid_block(ctid: &str) -> Option<i64> {
    let (block, _) = ctid.strip_prefix('(')?.split_once(',')?;
    block.parse().ok()
}

impl PostgresStore {
    /// A page of a keyless table in `ctid` order, gathered window by window up to the table's
    /// last block.
    async fn export_by_ctid(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ExportPage> {
        let (table, _) = table(kind);
        // No row lives at item 0 of a block: items start at 1.
        let mut position = after.unwrap_or("(0,0)").to_owned();
        let mut block = ctid_block(&position).ok_or_else(|| {
            StoreError::Backend(format!("invalid export position {position:?} for {kind}"))
        })?;
        let blocks: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT pg_relation_size('{table}') / current_setting('block_size')::bigint"
        )))
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        let sql = format!(
            "SELECT x.ctid::text AS pos, {columns} FROM {table} x \
             WHERE x.ctid > $1::tid AND x.ctid < $2::tid ORDER BY x.ctid LIMIT $3",
            columns = columns(kind),
        );
        let limit = limit as usize;
        let mut records = Vec::new();
        let mut last = None;
        while records.len() < limit && block < blocks {
            let window_end = block.saturating_add(CTID_WINDOW_BLOCKS);
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
                .bind(&position)
                .bind(format!("({window_end},0)"))
                .bind(i64::try_from(limit - records.len()).unwrap_or(i64::MAX))
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
            for row in &rows {
                records.push(record_from_row(kind, row)?);
            }
            if let Some(row) = rows.last() {
                last = Some(get::<String>(row, "pos")?);
            }
            if records.len() < limit {
                position = format!("({window_end},0)");
                block = window_end;
            }
        }
        let next = if records.len() >= limit { last } else { None };
        Ok(ExportPage { records, next })
    }
}

#[async_trait]
impl TransferStore for PostgresStore {
    async fn export(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ExportPage> {
        let invalid = |cursor: &str| {
            StoreError::Backend(format!("invalid export position {cursor:?} for {kind}"))
        };
        let (table, order) = table(kind);
        let a = alias(kind);
        // The first page starts at (and includes) the smallest value of the order's type, so
        // that every page is one index range scan.
        let after_op = if after.is_some() { ">" } else { ">=" };
        let (position, condition, order_by) = match order {
            Order::Id => (
                format!("{a}.id"),
                format!("{a}.id {after_op} $1::text"),
                "id",
            ),
            Order::Seq => (
                format!("{a}.seq::text"),
                format!("{a}.seq {after_op} $1::bigint"),
                "seq",
            ),
            Order::Ctid => return self.export_by_ctid(kind, after, limit).await,
        };
        let sql = format!(
            "SELECT {position} AS pos, {columns} FROM {table} {a} WHERE {condition} \
             ORDER BY {a}.{order_by} LIMIT $2",
            columns = columns(kind),
        );
        let query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let query = match (order, after) {
            (Order::Seq, None) => query.bind(i64::MIN),
            (Order::Seq, Some(cursor)) => {
                query.bind(cursor.parse::<i64>().map_err(|_| invalid(cursor))?)
            }
            (_, after) => query.bind(after.unwrap_or_default().to_owned()),
        };
        let rows = query
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await
            .map_err(backend)?;
        let records = rows
            .iter()
            .map(|row| record_from_row(kind, row))
            .collect::<StoreResult<Vec<_>>>()?;
        let next = match rows.last() {
            Some(last) if rows.len() >= limit as usize => Some(get::<String>(last, "pos")?),
            _ => None,
        };
        Ok(ExportPage { records, next })
    }

    async fn import(&self, records: &[Record]) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let mut rest = records;
        while let Some(first) = rest.first() {
            // A run of messages goes in together; everything else a row at a time.
            let messages: Vec<&Message> = rest
                .iter()
                .map_while(|record| match record {
                    Record::Message(message) => Some(message),
                    _ => None,
                })
                .collect();
            if messages.is_empty() {
                insert_record(&mut tx, first).await?;
                rest = &rest[1..];
            } else {
                insert_messages(&mut tx, &messages).await?;
                rest = &rest[messages.len()..];
            }
        }
        tx.commit().await.map_err(write_error)
    }

    async fn count_records(&self, kind: RecordKind) -> StoreResult<u64> {
        let (table, _) = table(kind);
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {table}")))
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        Ok(count(n))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ctid_blocks_are_read_from_postgres_notation() {
        assert_eq!(super::ctid_block("(0,0)"), Some(0));
        assert_eq!(super::ctid_block("(4294967295,12)"), Some(4_294_967_295));
        assert_eq!(super::ctid_block("12"), None);
        assert_eq!(super::ctid_block("(x,1)"), None);
    }
}
