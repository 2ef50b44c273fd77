//! Rooms, subscriptions and messages in SQLite.

use crate::chat_rows::{message_extra, message_from_row, room_from_row, subscription_from_row};
use crate::rows::{from_millis, millis};
use crate::{SqliteStore, backend, write_error};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::page::{Direction, Page};
use comet_core::room::{Message, Room, Subscription, UserStub};
use comet_store::{
    MessageChange, MessageChanged, MessageFilter, MessageSortKey, MessageStore, PostEffects,
    RemovedSubscription, RoomFilter, RoomSortKey, RoomStore, StoreError, StoreResult,
    SubscriptionStore,
};
use serde_json::Value;
use sqlx::{QueryBuilder, Sqlite, Transaction};

fn json_list(items: &[String]) -> String {
    Value::from(items.to_vec()).to_string()
}

fn limit(count: Option<u64>) -> i64 {
    count.map_or(-1, |c| i64::try_from(c).unwrap_or(i64::MAX))
}

fn offset(offset: u64) -> i64 {
    i64::try_from(offset).unwrap_or(i64::MAX)
}

pub(crate) async fn insert_subscription(
    tx: &mut Transaction<'_, Sqlite>,
    s: &Subscription,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO subscriptions (id, rid, t, user_id, username, user_name, name, fname, roles, \
         open, alert, unread, user_mentions, group_mentions, favorite, archived, ts, ls, lr, \
         tunread, ignored, updated_at) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&s.id)
    .bind(&s.room_id)
    .bind(s.room_type.as_str())
    .bind(&s.user.id)
    .bind(&s.user.username)
    .bind(&s.user.name)
    .bind(&s.name)
    .bind(&s.fname)
    .bind(json_list(&s.roles))
    .bind(s.open)
    .bind(s.alert)
    .bind(s.unread)
    .bind(s.user_mentions)
    .bind(s.group_mentions)
    .bind(s.favorite)
    .bind(s.archived)
    .bind(millis(s.joined_at))
    .bind(millis(s.last_seen))
    .bind(s.last_reply.map(millis))
    .bind(json_list(&s.thread_unread))
    .bind(json_list(&s.ignored))
    .bind(millis(s.updated_at))
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) async fn insert_message(
    tx: &mut Transaction<'_, Sqlite>,
    m: &Message,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO messages (id, rid, msg, t, u_id, u_username, u_name, ts, updated_at, tmid, \
         tshow, tcount, tlm, pinned, deleted_at, extra, unread) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(&m.id)
    .bind(&m.room_id)
    .bind(&m.text)
    .bind(&m.kind)
    .bind(&m.author.id)
    .bind(&m.author.username)
    .bind(&m.author.name)
    .bind(millis(m.created_at))
    .bind(millis(m.updated_at))
    .bind(&m.thread_id)
    .bind(m.thread_show)
    .bind(m.thread_count)
    .bind(m.thread_last_at.map(millis))
    .bind(m.pinned)
    .bind(m.deleted_at.map(millis))
    .bind(message_extra(m))
    .bind(m.unread)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Counts a message in its room and, when asked, makes it the last message unless the room
/// already has a newer one (posts can reach the writer out of timestamp order).
async fn count_message(
    tx: &mut Transaction<'_, Sqlite>,
    m: &Message,
    counts: bool,
    last: bool,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE rooms SET msgs = msgs + ?1, \
         lm = CASE WHEN ?2 AND (lm IS NULL OR lm <= ?3) THEN ?3 ELSE lm END, \
         last_message_id = CASE WHEN ?2 AND (lm IS NULL OR lm <= ?3) THEN ?4 \
           ELSE last_message_id END, \
         updated_at = ?3 WHERE id = ?5",
    )
    .bind(i64::from(counts))
    .bind(last)
    .bind(millis(m.created_at))
    .bind(&m.id)
    .bind(&m.room_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

pub(crate) const ROOM_COLUMNS: &str = "id, t, name, fname, creator_id, creator_username, creator_name, topic, \
    description, announcement, read_only, react_when_read_only, archived, is_default, featured, \
    encrypted, broadcast, join_code, muted, user_ids, usernames, msgs, users_count, lm, \
    last_message_id, sys_mes, prid, custom_fields, created_at, updated_at";

pub(crate) const SUBSCRIPTION_COLUMNS: &str = "id, rid, t, user_id, username, user_name, name, fname, roles, \
    open, alert, unread, user_mentions, group_mentions, favorite, archived, ts, ls, lr, tunread, \
    ignored, updated_at";

pub(crate) const MESSAGE_COLUMNS: &str = "id, rid, msg, t, u_id, u_username, u_name, ts, updated_at, tmid, \
    tshow, tcount, tlm, pinned, deleted_at, extra, unread";

fn room_sort_column(key: RoomSortKey) -> &'static str {
    match key {
        RoomSortKey::Name => "name",
        RoomSortKey::CreatedAt => "created_at",
        RoomSortKey::UpdatedAt => "updated_at",
        RoomSortKey::LastMessageAt => "lm",
        RoomSortKey::MessageCount => "msgs",
        RoomSortKey::UsersCount => "users_count",
    }
}

fn push_room_filter(q: &mut QueryBuilder<Sqlite>, filter: &RoomFilter) {
    q.push(" WHERE 1 = 1");
    if !filter.types.is_empty() {
        q.push(" AND t IN (");
        let mut list = q.separated(", ");
        for t in &filter.types {
            list.push_bind(t.as_str());
        }
        q.push(")");
    }
    if let Some(name) = &filter.name {
        q.push(" AND name_key LIKE ")
            .push_bind(crate::like_pattern(name))
            .push(" ESCAPE '\\'");
    }
    if filter.default_only {
        q.push(" AND is_default = 1");
    }
    if let Some(parent) = &filter.parent_id {
        q.push(" AND prid = ").push_bind(parent.clone());
    }
    if let Some(user_id) = &filter.member {
        q.push(" AND id IN (SELECT rid FROM subscriptions WHERE user_id = ")
            .push_bind(user_id.clone())
            .push(")");
    }
}

fn push_message_filter(q: &mut QueryBuilder<Sqlite>, room_id: &str, filter: &MessageFilter) {
    q.push(" WHERE rid = ").push_bind(room_id.to_owned());
    q.push(" AND deleted_at IS NULL");
    let (before, after) = if filter.inclusive {
        ("<=", ">=")
    } else {
        ("<", ">")
    };
    if let Some(latest) = filter.latest {
        q.push(format_args!(" AND ts {before} "))
            .push_bind(millis(latest));
    }
    if let Some(oldest) = filter.oldest {
        q.push(format_args!(" AND ts {after} "))
            .push_bind(millis(oldest));
    }
    if filter.hide_thread_replies {
        q.push(" AND (tmid IS NULL OR tshow = 1)");
    }
    if let Some(thread) = &filter.thread_id {
        q.push(" AND tmid = ").push_bind(thread.clone());
    }
    if filter.pinned_only {
        q.push(" AND pinned = 1");
    }
    if let Some(user_id) = &filter.starred_by {
        q.push(" AND EXISTS (SELECT 1 FROM json_each(extra, '$.starred') s WHERE s.value = ")
            .push_bind(user_id.clone())
            .push(")");
    }
    if let Some(user_id) = &filter.mentioning {
        q.push(
            " AND EXISTS (SELECT 1 FROM json_each(extra, '$.mentions') m \
             WHERE json_extract(m.value, '$.id') = ",
        )
        .push_bind(user_id.clone())
        .push(")");
    }
    if let Some(after) = filter.updated_after {
        q.push(" AND updated_at > ").push_bind(millis(after));
    }
    if filter.hide_system {
        q.push(" AND t IS NULL");
    }
    if let Some(author) = &filter.author_id {
        q.push(" AND u_id = ").push_bind(author.clone());
    }
    if filter.thread_roots {
        q.push(" AND tlm IS NOT NULL");
    }
    if let Some(user_id) = &filter.thread_participant {
        q.push(" AND EXISTS (SELECT 1 FROM json_each(extra, '$.replies') r WHERE r.value = ")
            .push_bind(user_id.clone())
            .push(")");
    }
    if filter.discussions {
        q.push(" AND json_extract(extra, '$.drid') IS NOT NULL");
    }
    if filter.with_files {
        q.push(" AND json_extract(extra, '$.files') IS NOT NULL");
    }
    if let Some(text) = &filter.text_contains {
        q.push(" AND lower(msg) LIKE ")
            .push_bind(crate::like_pattern(text))
            .push(" ESCAPE '\\'");
    }
}

#[async_trait]
impl RoomStore for SqliteStore {
    async fn create_room(
        &self,
        room: &Room,
        subscriptions: &[Subscription],
        first_message: Option<&Message>,
    ) -> StoreResult<()> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO rooms (id, t, name, name_key, fname, creator_id, creator_username, \
             creator_name, topic, description, announcement, read_only, react_when_read_only, \
             archived, is_default, featured, encrypted, broadcast, join_code, muted, user_ids, \
             usernames, msgs, users_count, lm, last_message_id, sys_mes, prid, custom_fields, \
             created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \
             ?, ?, ?, ?, ?, 0, ?, NULL, NULL, ?, ?, ?, ?, ?)",
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
        .bind(i64::try_from(subscriptions.len()).unwrap_or(i64::MAX))
        .bind(json_list(&room.hidden_system_messages))
        .bind(&room.parent_id)
        .bind(room.custom_fields.to_string())
        .bind(millis(room.created_at))
        .bind(millis(room.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(|e| match write_error(e) {
            StoreError::Conflict(
                comet_store::Conflict::Email | comet_store::Conflict::Username,
            ) => StoreError::Conflict(comet_store::Conflict::RoomName),
            other => other,
        })?;
        for s in subscriptions {
            insert_subscription(&mut tx, s).await.map_err(write_error)?;
        }
        if let Some(m) = first_message {
            insert_message(&mut tx, m).await.map_err(write_error)?;
            count_message(&mut tx, m, true, false)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(write_error)
    }

    async fn room_by_id(&self, id: &str) -> StoreResult<Option<Room>> {
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = "));
        q.push_bind(id.to_owned());
        let row = q
            .build()
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.map(|r| room_from_row(&r)).transpose()
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<Room>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {ROOM_COLUMNS} FROM rooms WHERE name_key = "
        ));
        q.push_bind(name.to_lowercase());
        let row = q
            .build()
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.map(|r| room_from_row(&r)).transpose()
    }

    async fn rooms_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Room>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q =
            QueryBuilder::<Sqlite>::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id IN ("));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(room_from_row).collect()
    }

    async fn update_room(&self, room: &Room) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let result = sqlx::query(
            "UPDATE rooms SET t = ?, name = ?, name_key = ?, fname = ?, topic = ?, description = ?, \
             announcement = ?, read_only = ?, react_when_read_only = ?, archived = ?, is_default = ?, \
             featured = ?, encrypted = ?, broadcast = ?, join_code = ?, muted = ?, user_ids = ?, \
             usernames = ?, sys_mes = ?, custom_fields = ?, updated_at = ? WHERE id = ?",
        )
        .bind(room.room_type.as_str())
        .bind(&room.name)
        .bind(room.name.as_ref().map(|n| n.to_lowercase()))
        .bind(&room.fname)
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
        .bind(json_list(&room.hidden_system_messages))
        .bind(room.custom_fields.to_string())
        .bind(millis(room.updated_at))
        .bind(&room.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match write_error(e) {
            StoreError::Conflict(_) => StoreError::Conflict(comet_store::Conflict::RoomName),
            other => other,
        })?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(name) = &room.name {
            sqlx::query(
                "UPDATE subscriptions SET name = ?, fname = ?, t = ?, archived = ?, updated_at = ? \
                 WHERE rid = ?",
            )
            .bind(name)
            .bind(&room.fname)
            .bind(room.room_type.as_str())
            .bind(room.archived)
            .bind(millis(room.updated_at))
            .bind(&room.id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        tx.commit().await.map_err(write_error)?;
        Ok(true)
    }

    async fn delete_room(&self, id: &str) -> StoreResult<bool> {
        let at = millis(comet_core::now());
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
             SELECT id, user_id, rid, ? FROM subscriptions WHERE rid = ?",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        // Subscriptions and messages go with the room through ON DELETE CASCADE.
        let result = sqlx::query("DELETE FROM rooms WHERE id = ?")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("INSERT INTO room_trash (id, deleted_at) VALUES (?, ?)")
            .bind(id)
            .bind(at)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(write_error)?;
        Ok(true)
    }

    async fn list_rooms(
        &self,
        filter: &RoomFilter,
        page: &Page<RoomSortKey>,
    ) -> StoreResult<(Vec<Room>, u64)> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM rooms");
        push_room_filter(&mut count, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {ROOM_COLUMNS} FROM rooms"));
        push_room_filter(&mut q, filter);
        q.push(" ORDER BY ");
        for (key, direction) in &page.sort {
            q.push(room_sort_column(*key)).push(match direction {
                Direction::Ascending => " ASC, ",
                Direction::Descending => " DESC, ",
            });
        }
        q.push("created_at ASC, id ASC LIMIT ")
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let rooms = rows
            .iter()
            .map(room_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rooms, u64::try_from(total).unwrap_or(0)))
    }
}

#[async_trait]
impl SubscriptionStore for SqliteStore {
    async fn subscription(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<Subscription>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = "
        ));
        q.push_bind(room_id.to_owned())
            .push(" AND user_id = ")
            .push_bind(user_id.to_owned());
        let row = q
            .build()
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.map(|r| subscription_from_row(&r)).transpose()
    }

    async fn subscriptions_of_users_in_room(
        &self,
        room_id: &str,
        user_ids: &[String],
    ) -> StoreResult<Vec<Subscription>> {
        let mut found = Vec::with_capacity(user_ids.len());
        // Bounded lists keep each statement well under SQLite's bound-parameter limit.
        for chunk in user_ids.chunks(500) {
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = "
            ));
            q.push_bind(room_id.to_owned()).push(" AND user_id IN (");
            let mut list = q.separated(", ");
            for id in chunk {
                list.push_bind(id.clone());
            }
            q.push(")");
            let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
            for row in &rows {
                found.push(subscription_from_row(row)?);
            }
        }
        Ok(found)
    }

    async fn subscriptions_of_user(
        &self,
        user_id: &str,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<Subscription>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE user_id = "
        ));
        q.push_bind(user_id.to_owned());
        if let Some(since) = since {
            q.push(" AND updated_at > ").push_bind(millis(since));
        }
        q.push(" ORDER BY ts, id");
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn subscriptions_of_room(
        &self,
        room_id: &str,
        page_offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<Subscription>, u64)> {
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscriptions WHERE rid = ?")
            .bind(room_id)
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = "
        ));
        q.push_bind(room_id.to_owned())
            .push(" ORDER BY username, id LIMIT ")
            .push_bind(limit(count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        let subs = rows
            .iter()
            .map(subscription_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((subs, u64::try_from(total).unwrap_or(0)))
    }

    async fn add_member(
        &self,
        subscription: &Subscription,
        message: Option<&Message>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM subscriptions WHERE rid = ? AND user_id = ?")
                .bind(&subscription.room_id)
                .bind(&subscription.user.id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        if exists.is_some() {
            return Ok(false);
        }
        insert_subscription(&mut tx, subscription)
            .await
            .map_err(write_error)?;
        sqlx::query("UPDATE rooms SET users_count = users_count + 1, updated_at = ? WHERE id = ?")
            .bind(millis(subscription.updated_at))
            .bind(&subscription.room_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if let Some(m) = message {
            insert_message(&mut tx, m).await.map_err(write_error)?;
            count_message(&mut tx, m, true, false)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(write_error)?;
        Ok(true)
    }

    async fn remove_member(
        &self,
        room_id: &str,
        user_id: &str,
        message: Option<&Message>,
    ) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
             SELECT id, user_id, rid, ? FROM subscriptions WHERE rid = ? AND user_id = ?",
        )
        .bind(millis(comet_core::now()))
        .bind(room_id)
        .bind(user_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        let removed = sqlx::query("DELETE FROM subscriptions WHERE rid = ? AND user_id = ?")
            .bind(room_id)
            .bind(user_id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE rooms SET users_count = MAX(users_count - 1, 0), updated_at = ? WHERE id = ?",
        )
        .bind(millis(comet_core::now()))
        .bind(room_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(m) = message {
            insert_message(&mut tx, m).await.map_err(write_error)?;
            count_message(&mut tx, m, true, false)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(write_error)?;
        Ok(true)
    }

    async fn removed_subscriptions(
        &self,
        user_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<RemovedSubscription>> {
        let rows: Vec<(String, String, i64)> = sqlx::query_as(
            "SELECT id, rid, deleted_at FROM subscription_trash WHERE user_id = ? \
             AND deleted_at > ? ORDER BY deleted_at",
        )
        .bind(user_id)
        .bind(millis(since))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, room_id, at)| {
                Ok(RemovedSubscription {
                    id,
                    room_id,
                    removed_at: crate::rows::from_millis(at)?,
                })
            })
            .collect()
    }

    async fn removed_rooms(&self, since: Timestamp) -> StoreResult<Vec<(String, Timestamp)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, deleted_at FROM room_trash WHERE deleted_at > ? ORDER BY deleted_at",
        )
        .bind(millis(since))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, at)| Ok((id, crate::rows::from_millis(at)?)))
            .collect()
    }

    async fn update_subscription(&self, s: &Subscription) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE subscriptions SET name = ?, fname = ?, roles = ?, open = ?, alert = ?, \
             unread = ?, user_mentions = ?, group_mentions = ?, favorite = ?, archived = ?, \
             ls = ?, lr = ?, tunread = ?, ignored = ?, updated_at = ? WHERE id = ?",
        )
        .bind(&s.name)
        .bind(&s.fname)
        .bind(json_list(&s.roles))
        .bind(s.open)
        .bind(s.alert)
        .bind(s.unread)
        .bind(s.user_mentions)
        .bind(s.group_mentions)
        .bind(s.favorite)
        .bind(s.archived)
        .bind(millis(s.last_seen))
        .bind(s.last_reply.map(millis))
        .bind(json_list(&s.thread_unread))
        .bind(json_list(&s.ignored))
        .bind(millis(s.updated_at))
        .bind(&s.id)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl MessageStore for SqliteStore {
    async fn post_message(&self, m: &Message, effects: &PostEffects) -> StoreResult<()> {
        let at = millis(m.created_at);
        let mut tx = self.writer.begin().await.map_err(backend)?;
        insert_message(&mut tx, m).await.map_err(write_error)?;
        if effects.counts_in_room || effects.becomes_last_message {
            count_message(
                &mut tx,
                m,
                effects.counts_in_room,
                effects.becomes_last_message,
            )
            .await
            .map_err(backend)?;
        }
        if let Some(parent) = &m.thread_id {
            let parent_extra: Option<String> =
                sqlx::query_scalar("SELECT extra FROM messages WHERE id = ?")
                    .bind(parent)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(backend)?;
            if let Some(extra) = parent_extra {
                let mut extra: Value = serde_json::from_str(&extra)
                    .unwrap_or_else(|_| Value::Object(Default::default()));
                if let Value::Object(map) = &mut extra {
                    let replies = map
                        .entry("replies")
                        .or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(list) = replies
                        && !list
                            .iter()
                            .any(|v| v.as_str() == Some(m.author.id.as_str()))
                    {
                        list.push(Value::String(m.author.id.clone()));
                    }
                }
                sqlx::query(
                    "UPDATE messages SET tcount = tcount + 1, tlm = ?, extra = ?, updated_at = ? \
                     WHERE id = ?",
                )
                .bind(at)
                .bind(extra.to_string())
                .bind(at)
                .bind(parent)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
            }
        }
        if !effects.alert_others
            && !effects.unread_for_all
            && !effects.group_mention
            && effects.mentioned_user_ids.is_empty()
        {
            return tx.commit().await.map_err(write_error);
        }
        // Other members: alert, unread and mention counters.
        let mut q = QueryBuilder::<Sqlite>::new("UPDATE subscriptions SET updated_at = ");
        q.push_bind(at);
        if effects.alert_others {
            q.push(", alert = 1, open = 1");
        }
        q.push(", unread = unread + CASE WHEN ");
        q.push_bind(effects.unread_for_all || effects.group_mention);
        if !effects.mentioned_user_ids.is_empty() {
            q.push(" OR user_id IN (");
            let mut list = q.separated(", ");
            for id in &effects.mentioned_user_ids {
                list.push_bind(id.clone());
            }
            q.push(")");
        }
        q.push(" THEN 1 ELSE 0 END");
        if !effects.mentioned_user_ids.is_empty() {
            q.push(", user_mentions = user_mentions + CASE WHEN user_id IN (");
            let mut list = q.separated(", ");
            for id in &effects.mentioned_user_ids {
                list.push_bind(id.clone());
            }
            q.push(") THEN 1 ELSE 0 END");
        }
        if effects.group_mention {
            q.push(", group_mentions = group_mentions + 1");
        }
        q.push(" WHERE rid = ")
            .push_bind(m.room_id.clone())
            .push(" AND user_id != ")
            .push_bind(m.author.id.clone());
        q.build().execute(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(write_error)
    }

    async fn message_by_id(&self, id: &str) -> StoreResult<Option<Message>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = "
        ));
        q.push_bind(id.to_owned());
        let row = q
            .build()
            .fetch_optional(&self.reader)
            .await
            .map_err(backend)?;
        row.map(|r| message_from_row(&r)).transpose()
    }

    async fn messages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id IN ("
        ));
        let mut list = q.separated(", ");
        for id in ids {
            list.push_bind(id.clone());
        }
        q.push(")");
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn earliest_last_seen(&self, room_id: &str) -> StoreResult<Option<Timestamp>> {
        let earliest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(ls) FROM subscriptions WHERE rid = ?")
                .bind(room_id)
                .fetch_one(&self.reader)
                .await
                .map_err(backend)?;
        earliest.map(from_millis).transpose()
    }

    async fn mark_messages_read(&self, room_id: &str, until: Timestamp) -> StoreResult<u64> {
        let result =
            sqlx::query("UPDATE messages SET unread = 0 WHERE rid = ? AND unread = 1 AND ts <= ?")
                .bind(room_id)
                .bind(millis(until))
                .execute(&self.writer)
                .await
                .map_err(backend)?;
        Ok(result.rows_affected())
    }

    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
        at: Timestamp,
    ) -> StoreResult<Option<MessageChanged>> {
        // The writer pool has one connection: reading and writing back inside its
        // transaction serialises every change to the message.
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let mut q = QueryBuilder::<Sqlite>::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE deleted_at IS NULL AND id = "
        ));
        q.push_bind(id.to_owned());
        let Some(row) = q.build().fetch_optional(&mut *tx).await.map_err(backend)? else {
            return Ok(None);
        };
        let mut message = message_from_row(&row)?;
        if !change.apply(&mut message, at) {
            return Ok(Some(MessageChanged {
                message,
                changed: false,
            }));
        }
        sqlx::query(
            "UPDATE messages SET msg = ?, t = ?, updated_at = ?, tshow = ?, pinned = ?, extra = ? \
             WHERE id = ?",
        )
        .bind(&message.text)
        .bind(&message.kind)
        .bind(millis(message.updated_at))
        .bind(message.thread_show)
        .bind(message.pinned)
        .bind(message_extra(&message))
        .bind(&message.id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(write_error)?;
        Ok(Some(MessageChanged {
            message,
            changed: true,
        }))
    }

    async fn delete_message(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let found: Option<(String, Option<String>, Option<String>)> =
            sqlx::query_as("SELECT rid, tmid, t FROM messages WHERE id = ? AND deleted_at IS NULL")
                .bind(id)
                .fetch_optional(&mut *tx)
                .await
                .map_err(backend)?;
        let Some((room_id, thread_id, _kind)) = found else {
            return Ok(false);
        };
        sqlx::query(
            "UPDATE messages SET deleted_at = ?, updated_at = ?, msg = '', extra = '{}' WHERE id = ?",
        )
        .bind(millis(at))
        .bind(millis(at))
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(parent) = thread_id {
            sqlx::query(
                "UPDATE messages SET tcount = MAX(tcount - 1, 0), updated_at = ? WHERE id = ?",
            )
            .bind(millis(at))
            .bind(parent)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        // Uncount it, and if it was the last message, the newest remaining one becomes last.
        sqlx::query(
            "UPDATE rooms SET msgs = MAX(msgs - 1, 0), updated_at = ?, \
             last_message_id = CASE WHEN last_message_id = ? THEN \
               (SELECT id FROM messages WHERE rid = rooms.id AND deleted_at IS NULL \
                AND (tmid IS NULL OR tshow = 1) ORDER BY ts DESC, rowid DESC LIMIT 1) \
             ELSE last_message_id END WHERE id = ?",
        )
        .bind(millis(at))
        .bind(id)
        .bind(&room_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(write_error)?;
        Ok(true)
    }

    async fn count_room_messages(&self, room_id: &str, filter: &MessageFilter) -> StoreResult<u64> {
        let mut count = QueryBuilder::<Sqlite>::new("SELECT COUNT(*) FROM messages");
        push_message_filter(&mut count, room_id, filter);
        let total: i64 = count
            .build_query_scalar()
            .fetch_one(&self.reader)
            .await
            .map_err(backend)?;
        Ok(u64::try_from(total).unwrap_or(0))
    }

    async fn room_messages(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        page: &Page<MessageSortKey>,
    ) -> StoreResult<Vec<Message>> {
        let mut q = QueryBuilder::<Sqlite>::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages"));
        push_message_filter(&mut q, room_id, filter);
        q.push(" ORDER BY ");
        let sort = if page.sort.is_empty() {
            vec![(MessageSortKey::CreatedAt, Direction::Descending)]
        } else {
            page.sort.clone()
        };
        for (i, (key, direction)) in sort.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push(match key {
                MessageSortKey::CreatedAt => "ts",
                MessageSortKey::UpdatedAt => "updated_at",
                MessageSortKey::ThreadLastAt => "tlm",
            })
            .push(match direction {
                Direction::Ascending => " ASC",
                Direction::Descending => " DESC",
            });
        }
        q.push(", rowid DESC LIMIT ")
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn delete_messages(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        exclude_pinned: bool,
        authors: &[String],
        limit: Option<u64>,
        at: Timestamp,
    ) -> StoreResult<u64> {
        self.delete_matching(room_id, filter, exclude_pinned, authors, limit, at)
            .await
    }

    async fn rooms_with_messages_by(&self, author_id: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT DISTINCT rid FROM messages WHERE u_id = ? AND deleted_at IS NULL ORDER BY rid",
        )
        .bind(author_id)
        .fetch_all(&self.reader)
        .await
        .map_err(backend)
    }

    async fn unlink_messages(
        &self,
        author_id: &str,
        replacement: &UserStub,
        alias: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE messages SET u_id = ?, u_username = ?, u_name = NULL, updated_at = ?, \
             extra = json_set(extra, '$.alias', ?) WHERE u_id = ? AND deleted_at IS NULL",
        )
        .bind(&replacement.id)
        .bind(&replacement.username)
        .bind(millis(at))
        .bind(alias)
        .bind(author_id)
        .execute(&self.writer)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected())
    }

    async fn deleted_messages(
        &self,
        room_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<(String, Timestamp)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, deleted_at FROM messages WHERE rid = ? AND deleted_at IS NOT NULL \
             AND deleted_at > ? ORDER BY deleted_at",
        )
        .bind(room_id)
        .bind(millis(since))
        .fetch_all(&self.reader)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, at)| Ok((id, crate::rows::from_millis(at)?)))
            .collect()
    }

    async fn search_messages(
        &self,
        room_id: &str,
        text: &str,
        filter: &MessageFilter,
        oldest_first: bool,
        page_offset: u64,
        count: Option<u64>,
    ) -> StoreResult<Vec<Message>> {
        let query = fts_query(text);
        let order = if oldest_first { "ts ASC" } else { "ts DESC" };
        let mut q = if query.is_empty() {
            let mut q =
                QueryBuilder::<Sqlite>::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages"));
            push_message_filter(&mut q, room_id, filter);
            q.push(format_args!(" ORDER BY {order}"));
            q
        } else {
            // FTS first (CROSS JOIN fixes the join order), then the room and the filter.
            let columns = MESSAGE_COLUMNS
                .split(", ")
                .map(|c| format!("m.{}", c.trim()))
                .collect::<Vec<_>>()
                .join(", ");
            let mut q = QueryBuilder::<Sqlite>::new(format!(
                "SELECT {columns} FROM messages_fts CROSS JOIN messages m \
                 ON m.rowid = messages_fts.rowid"
            ));
            push_message_filter(&mut q, room_id, filter);
            q.push(" AND messages_fts MATCH ").push_bind(query);
            q.push(" ORDER BY messages_fts.rank, m.ts DESC");
            q
        };
        q.push(" LIMIT ")
            .push_bind(limit(count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let rows = q.build().fetch_all(&self.reader).await.map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }
}

/// Turns user text into an FTS5 query: every word a quoted term (so that operators and
/// punctuation in user input are never FTS syntax), all terms required, the last one also
/// matching as a prefix.
fn fts_query(text: &str) -> String {
    let words: Vec<String> = comet_store::encoding::search_words(text)
        .into_iter()
        .map(|w| format!("\"{w}\""))
        .collect();
    match words.split_last() {
        Some((last, rest)) => {
            let mut terms: Vec<String> = rest.to_vec();
            terms.push(format!("{last}*"));
            terms.join(" ")
        }
        None => String::new(),
    }
}

impl SqliteStore {
    /// Tombstones the selected messages and recounts the room, in one transaction.
    pub(crate) async fn delete_matching(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        exclude_pinned: bool,
        authors: &[String],
        limit_to: Option<u64>,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let mut tx = self.writer.begin().await.map_err(backend)?;
        let mut select = QueryBuilder::<Sqlite>::new("SELECT id FROM messages");
        push_message_filter(&mut select, room_id, filter);
        if exclude_pinned {
            select.push(" AND pinned = 0");
        }
        if !authors.is_empty() {
            select.push(" AND u_id IN (");
            let mut list = select.separated(", ");
            for a in authors {
                list.push_bind(a.clone());
            }
            select.push(")");
        }
        select
            .push(" ORDER BY ts DESC, rowid DESC LIMIT ")
            .push_bind(limit(limit_to));
        let ids: Vec<String> = select
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        for id in &ids {
            sqlx::query(
                "UPDATE messages SET deleted_at = ?, updated_at = ?, msg = '', extra = '{}' WHERE id = ?",
            )
            .bind(millis(at))
            .bind(millis(at))
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        sqlx::query(
            "UPDATE rooms SET updated_at = ?, \
             msgs = (SELECT COUNT(*) FROM messages WHERE rid = rooms.id AND deleted_at IS NULL), \
             last_message_id = (SELECT id FROM messages WHERE rid = rooms.id AND deleted_at IS NULL \
               AND t IS NULL AND (tmid IS NULL OR tshow = 1) ORDER BY ts DESC, rowid DESC \
               LIMIT 1) \
             WHERE id = ?",
        )
        .bind(millis(at))
        .bind(room_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(write_error)?;
        Ok(ids.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn fts_queries_quote_every_word() {
        assert_eq!(super::fts_query("hello wor"), "\"hello\" \"wor\"*");
        assert_eq!(super::fts_query("a\" OR b"), "\"a\" \"OR\" \"b\"*");
        assert_eq!(super::fts_query("مرحبا بالعالم"), "\"مرحبا\" \"بالعالم\"*");
        assert_eq!(super::fts_query("  "), "");
    }
}
