//! Rooms, subscriptions and messages in PostgreSQL.

use crate::chat_rows::{message_from_row, room_from_row, subscription_from_row};
use crate::rows::{from_millis, millis};
use crate::{PostgresStore, backend, count, direction, limit, offset, write_error};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::page::{Direction, Page};
use comet_core::room::{Message, Room, Subscription, UserStub};
use comet_store::encoding::{like_pattern, message_extra, search_words};
use comet_store::{
    Conflict, MessageChange, MessageChanged, MessageFilter, MessageSortKey, MessageStore,
    PostEffects, RemovedSubscription, RoomFilter, RoomSortKey, RoomStore, StoreError, StoreResult,
    SubscriptionStore,
};
use sqlx::types::Json;
use sqlx::{Postgres, QueryBuilder, Transaction};

pub(crate) const ROOM_COLUMNS: &str = "id, t, name, fname, creator_id, creator_username, creator_name, topic, \
    description, announcement, read_only, react_when_read_only, archived, is_default, featured, \
    encrypted, broadcast, join_code, muted, user_ids, usernames, msgs, users_count, lm, \
    last_message_id, sys_mes, prid, custom_fields, created_at, updated_at";

pub(crate) const SUBSCRIPTION_COLUMNS: &str = "id, rid, t, user_id, username, user_name, name, fname, roles, \
    open, alert, unread, user_mentions, group_mentions, favorite, archived, ts, ls, lr, tunread, \
    ignored, updated_at";

pub(crate) const MESSAGE_COLUMNS: &str = "id, rid, msg, t, u_id, u_username, u_name, ts, updated_at, tmid, \
    tshow, tcount, tlm, pinned, deleted_at, extra, unread";

/// The text search configuration the migrations create (`simple` after `unaccent`).
pub(crate) const SEARCH_CONFIG: &str = "comet_search";

/// What is indexed of a message's text: its words (as [`search_words`] splits them, like
/// SQLite's unicode61 tokenizer) lowercased by Rust, so that neither the database's locale nor
/// PostgreSQL's parser (which would keep `a.b.com` or `x@y.org` as one token) changes what a
/// search finds.
pub(crate) fn search_document(text: &str) -> String {
    search_words(text)
        .iter()
        .map(|w| w.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Turns user text into a `to_tsquery` expression with SQLite's meaning: every word required,
/// the last one also matching as a prefix. Words hold only letters and digits, so they are
/// never tsquery syntax; they are quoted all the same.
fn tsquery_text(text: &str) -> Option<String> {
    let words = search_words(text);
    let (last, rest) = words.split_last()?;
    let term = |word: &str| {
        let quoted = word
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('\'', "''");
        format!("'{quoted}'")
    };
    let mut terms: Vec<String> = rest.iter().map(|w| term(w)).collect();
    terms.push(format!("{}:*", term(last)));
    Some(terms.join(" & "))
}

/// Locks a room's row for the rest of the transaction. Every transaction that writes several
/// rows of a room (the room, its messages, its subscriptions) takes this lock first: such writes
/// to one room then queue in one order and can never deadlock on each other's rows. Returns
/// whether the room exists.
async fn lock_room(tx: &mut Transaction<'_, Postgres>, room_id: &str) -> StoreResult<bool> {
    let row = sqlx::query("SELECT id FROM rooms WHERE id = $1 FOR NO KEY UPDATE")
        .bind(room_id)
        .fetch_optional(&mut **tx)
        .await
        .map_err(backend)?;
    Ok(row.is_some())
}

pub(crate) async fn insert_subscription(
    tx: &mut Transaction<'_, Postgres>,
    s: &Subscription,
    if_not_member: bool,
) -> Result<bool, sqlx::Error> {
    let on_conflict = if if_not_member {
        " ON CONFLICT ON CONSTRAINT subscriptions_member_unique DO NOTHING"
    } else {
        ""
    };
    let mut q = QueryBuilder::<Postgres>::new(
        "INSERT INTO subscriptions (id, rid, t, user_id, username, user_name, name, fname, \
         roles, open, alert, unread, user_mentions, group_mentions, favorite, archived, ts, ls, \
         lr, tunread, ignored, updated_at) VALUES (",
    );
    let mut values = q.separated(", ");
    values
        .push_bind(s.id.clone())
        .push_bind(s.room_id.clone())
        .push_bind(s.room_type.as_str())
        .push_bind(s.user.id.clone())
        .push_bind(s.user.username.clone())
        .push_bind(s.user.name.clone())
        .push_bind(s.name.clone())
        .push_bind(s.fname.clone())
        .push_bind(s.roles.clone())
        .push_bind(s.open)
        .push_bind(s.alert)
        .push_bind(s.unread)
        .push_bind(s.user_mentions)
        .push_bind(s.group_mentions)
        .push_bind(s.favorite)
        .push_bind(s.archived)
        .push_bind(millis(s.joined_at))
        .push_bind(millis(s.last_seen))
        .push_bind(s.last_reply.map(millis))
        .push_bind(s.thread_unread.clone())
        .push_bind(s.ignored.clone())
        .push_bind(millis(s.updated_at));
    q.push(")").push(on_conflict);
    let result = q.build().execute(&mut **tx).await?;
    Ok(result.rows_affected() > 0)
}

async fn insert_message(tx: &mut Transaction<'_, Postgres>, m: &Message) -> StoreResult<()> {
    sqlx::query(
        "INSERT INTO messages (id, rid, msg, t, u_id, u_username, u_name, ts, updated_at, tmid, \
         tshow, tcount, tlm, pinned, deleted_at, extra, search_vector, unread) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, \
         to_tsvector($17::regconfig, $18), $19)",
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
    .bind(Json(message_extra(m)))
    .bind(SEARCH_CONFIG)
    .bind(search_document(&m.text))
    .bind(m.unread)
    .execute(&mut **tx)
    .await
    .map_err(write_error)?;
    Ok(())
}

/// Counts a message in its room and, when asked, makes it the last message unless the room
/// already has a newer one (a concurrent post that committed first).
async fn count_message(
    tx: &mut Transaction<'_, Postgres>,
    m: &Message,
    counts: bool,
    last: bool,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE rooms SET msgs = msgs + $1, \
         lm = CASE WHEN $2 AND (lm IS NULL OR lm <= $3) THEN $3 ELSE lm END, \
         last_message_id = CASE WHEN $2 AND (lm IS NULL OR lm <= $3) THEN $4 \
           ELSE last_message_id END, \
         updated_at = $3 WHERE id = $5",
    )
    .bind(i64::from(counts))
    .bind(last)
    .bind(millis(m.created_at))
    .bind(&m.id)
    .bind(&m.room_id)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

/// Turns the selected live messages into tombstones (no text, no document, not searchable).
async fn tombstone(
    tx: &mut Transaction<'_, Postgres>,
    ids: &[String],
    at: Timestamp,
) -> StoreResult<()> {
    sqlx::query(
        "UPDATE messages SET deleted_at = $1, updated_at = $1, msg = '', extra = '{}', \
         search_vector = NULL WHERE id = ANY($2)",
    )
    .bind(millis(at))
    .bind(ids)
    .execute(&mut **tx)
    .await
    .map_err(backend)?;
    Ok(())
}

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

fn push_room_filter(q: &mut QueryBuilder<Postgres>, filter: &RoomFilter) {
    q.push(" WHERE TRUE");
    if !filter.types.is_empty() {
        let types: Vec<&str> = filter.types.iter().map(|t| t.as_str()).collect();
        q.push(" AND t = ANY(").push_bind(types).push(")");
    }
    if let Some(name) = &filter.name {
        q.push(" AND name_key LIKE ")
            .push_bind(like_pattern(name))
            .push(" ESCAPE '\\'");
    }
    if filter.default_only {
        q.push(" AND is_default");
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

fn push_message_filter(q: &mut QueryBuilder<Postgres>, room_id: &str, filter: &MessageFilter) {
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
        q.push(" AND (tmid IS NULL OR tshow)");
    }
    if let Some(thread) = &filter.thread_id {
        q.push(" AND tmid = ").push_bind(thread.clone());
    }
    if filter.pinned_only {
        q.push(" AND pinned");
    }
    if let Some(user_id) = &filter.starred_by {
        q.push(" AND extra -> 'starred' @> jsonb_build_array(")
            .push_bind(user_id.clone())
            .push("::text)");
    }
    if let Some(user_id) = &filter.mentioning {
        q.push(" AND extra -> 'mentions' @> jsonb_build_array(jsonb_build_object('id', ")
            .push_bind(user_id.clone())
            .push("::text))");
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
        q.push(" AND extra -> 'replies' @> jsonb_build_array(")
            .push_bind(user_id.clone())
            .push("::text)");
    }
    if filter.discussions {
        q.push(" AND extra ->> 'drid' IS NOT NULL");
    }
    if filter.with_files {
        q.push(" AND extra -> 'files' IS NOT NULL");
    }
    if let Some(text) = &filter.text_contains {
        // msg has the "C" collation, so lower() folds ASCII only, as SQLite's does.
        q.push(" AND lower(msg) LIKE ")
            .push_bind(like_pattern(text))
            .push(" ESCAPE '\\'");
    }
}

#[async_trait]
impl RoomStore for PostgresStore {
    async fn create_room(
        &self,
        room: &Room,
        subscriptions: &[Subscription],
        first_message: Option<&Message>,
    ) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        sqlx::query(
            "INSERT INTO rooms (id, t, name, name_key, fname, creator_id, creator_username, \
             creator_name, topic, description, announcement, read_only, react_when_read_only, \
             archived, is_default, featured, encrypted, broadcast, join_code, muted, user_ids, \
             usernames, msgs, users_count, lm, last_message_id, sys_mes, prid, custom_fields, \
             created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, \
             $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, 0, $23, NULL, NULL, $24, $25, \
             $26, $27, $28)",
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
        .bind(i64::try_from(subscriptions.len()).unwrap_or(i64::MAX))
        .bind(&room.hidden_system_messages)
        .bind(&room.parent_id)
        .bind(Json(&room.custom_fields))
        .bind(millis(room.created_at))
        .bind(millis(room.updated_at))
        .execute(&mut *tx)
        .await
        .map_err(write_error)?;
        for s in subscriptions {
            insert_subscription(&mut tx, s, false)
                .await
                .map_err(write_error)?;
        }
        if let Some(m) = first_message {
            insert_message(&mut tx, m).await?;
            count_message(&mut tx, m, true, false).await?;
        }
        tx.commit().await.map_err(write_error)
    }

    async fn room_by_id(&self, id: &str) -> StoreResult<Option<Room>> {
        let mut q =
            QueryBuilder::<Postgres>::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE id = "));
        q.push_bind(id.to_owned());
        let row = q
            .build()
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| room_from_row(&r)).transpose()
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<Room>> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {ROOM_COLUMNS} FROM rooms WHERE name_key = "
        ));
        q.push_bind(name.to_lowercase());
        let row = q
            .build()
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| room_from_row(&r)).transpose()
    }

    async fn rooms_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Room>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {ROOM_COLUMNS} FROM rooms WHERE id = ANY("
        ));
        q.push_bind(ids.to_vec()).push(")");
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(room_from_row).collect()
    }

    async fn update_room(&self, room: &Room) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // The room's row is locked by this update before its subscriptions are touched.
        let result = sqlx::query(
            "UPDATE rooms SET t = $1, name = $2, name_key = $3, fname = $4, topic = $5, \
             description = $6, announcement = $7, read_only = $8, react_when_read_only = $9, \
             archived = $10, is_default = $11, featured = $12, encrypted = $13, broadcast = $14, \
             join_code = $15, muted = $16, user_ids = $17, usernames = $18, sys_mes = $19, \
             custom_fields = $20, updated_at = $21 WHERE id = $22",
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
        .bind(&room.muted)
        .bind(&room.user_ids)
        .bind(&room.usernames)
        .bind(&room.hidden_system_messages)
        .bind(Json(&room.custom_fields))
        .bind(millis(room.updated_at))
        .bind(&room.id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match write_error(e) {
            StoreError::Conflict(_) => StoreError::Conflict(Conflict::RoomName),
            other => other,
        })?;
        if result.rows_affected() == 0 {
            return Ok(false);
        }
        if let Some(name) = &room.name {
            sqlx::query(
                "UPDATE subscriptions SET name = $1, fname = $2, t = $3, archived = $4, \
                 updated_at = $5 WHERE rid = $6",
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // Locked first, so that no member joins between the trash copy and the delete.
        let locked = sqlx::query("SELECT id FROM rooms WHERE id = $1 FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        if locked.is_none() {
            return Ok(false);
        }
        sqlx::query(
            "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
             SELECT id, user_id, rid, $1 FROM subscriptions WHERE rid = $2",
        )
        .bind(at)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        // Subscriptions and messages go with the room through ON DELETE CASCADE.
        sqlx::query("DELETE FROM rooms WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        sqlx::query("INSERT INTO room_trash (id, deleted_at) VALUES ($1, $2)")
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
        let mut tx = self.snapshot().await?;
        let mut count_query = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM rooms");
        push_room_filter(&mut count_query, filter);
        let total: i64 = count_query
            .build_query_scalar()
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let mut q = QueryBuilder::<Postgres>::new(format!("SELECT {ROOM_COLUMNS} FROM rooms"));
        push_room_filter(&mut q, filter);
        q.push(" ORDER BY ");
        for (key, order) in &page.sort {
            q.push(room_sort_column(*key))
                .push(direction(*order))
                .push(", ");
        }
        q.push("created_at ASC, id ASC LIMIT ")
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = q.build().fetch_all(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let rooms = rows
            .iter()
            .map(room_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((rooms, count(total)))
    }
}

#[async_trait]
impl SubscriptionStore for PostgresStore {
    async fn subscription(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<Subscription>> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = "
        ));
        q.push_bind(room_id.to_owned())
            .push(" AND user_id = ")
            .push_bind(user_id.to_owned());
        let row = q
            .build()
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| subscription_from_row(&r)).transpose()
    }

    async fn subscriptions_of_users_in_room(
        &self,
        room_id: &str,
        user_ids: &[String],
    ) -> StoreResult<Vec<Subscription>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = "
        ));
        q.push_bind(room_id.to_owned())
            .push(" AND user_id = ANY(")
            .push_bind(user_ids.to_vec())
            .push(")");
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn subscriptions_of_user(
        &self,
        user_id: &str,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<Subscription>> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE user_id = "
        ));
        q.push_bind(user_id.to_owned());
        if let Some(since) = since {
            q.push(" AND updated_at > ").push_bind(millis(since));
        }
        q.push(" ORDER BY ts, id");
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn subscriptions_of_room(
        &self,
        room_id: &str,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<Subscription>, u64)> {
        let mut tx = self.snapshot().await?;
        let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM subscriptions WHERE rid = $1")
            .bind(room_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(backend)?;
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = "
        ));
        q.push_bind(room_id.to_owned())
            .push(" ORDER BY username, id LIMIT ")
            .push_bind(limit(page_count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let rows = q.build().fetch_all(&mut *tx).await.map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        let subs = rows
            .iter()
            .map(subscription_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((subs, count(total)))
    }

    async fn add_member(
        &self,
        subscription: &Subscription,
        message: Option<&Message>,
    ) -> StoreResult<bool> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_room(&mut tx, &subscription.room_id).await?;
        // With the room locked no one else adds this member meanwhile; ON CONFLICT covers a
        // subscription that was already there.
        let added = insert_subscription(&mut tx, subscription, true)
            .await
            .map_err(write_error)?;
        if !added {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE rooms SET users_count = users_count + 1, updated_at = $1 WHERE id = $2",
        )
        .bind(millis(subscription.updated_at))
        .bind(&subscription.room_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(m) = message {
            insert_message(&mut tx, m).await?;
            count_message(&mut tx, m, true, false).await?;
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
        let at = millis(comet_core::now());
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_room(&mut tx, room_id).await?;
        let removed = sqlx::query(
            "WITH gone AS (DELETE FROM subscriptions WHERE rid = $1 AND user_id = $2 \
               RETURNING id, user_id, rid) \
             INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
             SELECT id, user_id, rid, $3 FROM gone",
        )
        .bind(room_id)
        .bind(user_id)
        .bind(at)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if removed.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query(
            "UPDATE rooms SET users_count = GREATEST(users_count - 1, 0), updated_at = $1 \
             WHERE id = $2",
        )
        .bind(at)
        .bind(room_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        if let Some(m) = message {
            insert_message(&mut tx, m).await?;
            count_message(&mut tx, m, true, false).await?;
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
            "SELECT id, rid, deleted_at FROM subscription_trash WHERE user_id = $1 \
             AND deleted_at > $2 ORDER BY deleted_at",
        )
        .bind(user_id)
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, room_id, at)| {
                Ok(RemovedSubscription {
                    id,
                    room_id,
                    removed_at: from_millis(at)?,
                })
            })
            .collect()
    }

    async fn removed_rooms(&self, since: Timestamp) -> StoreResult<Vec<(String, Timestamp)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, deleted_at FROM room_trash WHERE deleted_at > $1 ORDER BY deleted_at",
        )
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, at)| Ok((id, from_millis(at)?)))
            .collect()
    }

    async fn update_subscription(&self, s: &Subscription) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE subscriptions SET name = $1, fname = $2, roles = $3, open = $4, alert = $5, \
             unread = $6, user_mentions = $7, group_mentions = $8, favorite = $9, \
             archived = $10, ls = $11, lr = $12, tunread = $13, ignored = $14, \
             updated_at = $15 WHERE id = $16",
        )
        .bind(&s.name)
        .bind(&s.fname)
        .bind(&s.roles)
        .bind(s.open)
        .bind(s.alert)
        .bind(s.unread)
        .bind(s.user_mentions)
        .bind(s.group_mentions)
        .bind(s.favorite)
        .bind(s.archived)
        .bind(millis(s.last_seen))
        .bind(s.last_reply.map(millis))
        .bind(&s.thread_unread)
        .bind(&s.ignored)
        .bind(millis(s.updated_at))
        .bind(&s.id)
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected() > 0)
    }
}

#[async_trait]
impl MessageStore for PostgresStore {
    async fn earliest_last_seen(&self, room_id: &str) -> StoreResult<Option<Timestamp>> {
        let earliest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(ls) FROM subscriptions WHERE rid = $1")
                .bind(room_id)
                .fetch_one(&self.pool)
                .await
                .map_err(backend)?;
        earliest.map(from_millis).transpose()
    }

    async fn mark_messages_read(&self, room_id: &str, until: Timestamp) -> StoreResult<u64> {
        let result = sqlx::query(
            "UPDATE messages SET unread = FALSE WHERE rid = $1 AND unread AND ts <= $2",
        )
        .bind(room_id)
        .bind(millis(until))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(result.rows_affected())
    }

    async fn post_message(&self, m: &Message, effects: &PostEffects) -> StoreResult<()> {
        let at = millis(m.created_at);
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_room(&mut tx, &m.room_id).await?;
        insert_message(&mut tx, m).await?;
        if effects.counts_in_room || effects.becomes_last_message {
            count_message(
                &mut tx,
                m,
                effects.counts_in_room,
                effects.becomes_last_message,
            )
            .await?;
        }
        if let Some(parent) = &m.thread_id {
            // One statement: the reply count and the participant list change under the
            // parent's row lock, so concurrent replies lose neither.
            sqlx::query(
                "UPDATE messages SET tcount = tcount + 1, tlm = $1, updated_at = $1, \
                 extra = CASE \
                   WHEN jsonb_typeof(extra -> 'replies') = 'array' \
                     AND extra -> 'replies' @> jsonb_build_array($2::text) THEN extra \
                   WHEN extra -> 'replies' IS NULL \
                     THEN jsonb_set(extra, '{replies}', jsonb_build_array($2::text)) \
                   WHEN jsonb_typeof(extra -> 'replies') = 'array' \
                     THEN jsonb_set(extra, '{replies}', \
                       (extra -> 'replies') || jsonb_build_array($2::text)) \
                   ELSE extra END \
                 WHERE id = $3",
            )
            .bind(at)
            .bind(&m.author.id)
            .bind(parent)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        if !effects.alert_others
            && !effects.unread_for_all
            && !effects.group_mention
            && effects.mentioned_user_ids.is_empty()
        {
            return tx.commit().await.map_err(write_error);
        }
        // Other members: alert, unread and mention counters, raised in place.
        sqlx::query(
            "UPDATE subscriptions SET updated_at = $1, alert = alert OR $2, open = open OR $2, \
             unread = unread + CASE WHEN $3 OR user_id = ANY($4) THEN 1 ELSE 0 END, \
             user_mentions = user_mentions + CASE WHEN user_id = ANY($4) THEN 1 ELSE 0 END, \
             group_mentions = group_mentions + CASE WHEN $5 THEN 1 ELSE 0 END \
             WHERE rid = $6 AND user_id <> $7",
        )
        .bind(at)
        .bind(effects.alert_others)
        .bind(effects.unread_for_all || effects.group_mention)
        .bind(&effects.mentioned_user_ids)
        .bind(effects.group_mention)
        .bind(&m.room_id)
        .bind(&m.author.id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(write_error)
    }

    async fn message_by_id(&self, id: &str) -> StoreResult<Option<Message>> {
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = "
        ));
        q.push_bind(id.to_owned());
        let row = q
            .build()
            .fetch_optional(&self.pool)
            .await
            .map_err(backend)?;
        row.map(|r| message_from_row(&r)).transpose()
    }

    async fn messages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ANY("
        ));
        q.push_bind(ids.to_vec()).push(")");
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
        at: Timestamp,
    ) -> StoreResult<Option<MessageChanged>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        // FOR UPDATE: concurrent changes to one message apply one after the other, each to
        // what the previous one wrote.
        let mut q = QueryBuilder::<Postgres>::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE deleted_at IS NULL AND id = "
        ));
        q.push_bind(id.to_owned()).push(" FOR UPDATE");
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
            "UPDATE messages SET msg = $1, t = $2, updated_at = $3, tshow = $4, pinned = $5, \
             extra = $6, search_vector = to_tsvector($7::regconfig, $8) WHERE id = $9",
        )
        .bind(&message.text)
        .bind(&message.kind)
        .bind(millis(message.updated_at))
        .bind(message.thread_show)
        .bind(message.pinned)
        .bind(Json(message_extra(&message)))
        .bind(SEARCH_CONFIG)
        .bind(search_document(&message.text))
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
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let room_id: Option<String> = sqlx::query_scalar("SELECT rid FROM messages WHERE id = $1")
            .bind(id)
            .fetch_optional(&mut *tx)
            .await
            .map_err(backend)?;
        let Some(room_id) = room_id else {
            return Ok(false);
        };
        lock_room(&mut tx, &room_id).await?;
        // Checked again under the lock: a concurrent delete of the same message uncounts once.
        let found: Option<Option<String>> = sqlx::query_scalar(
            "SELECT tmid FROM messages WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(backend)?;
        let Some(thread_id) = found else {
            return Ok(false);
        };
        tombstone(&mut tx, &[id.to_owned()], at).await?;
        if let Some(parent) = thread_id {
            sqlx::query(
                "UPDATE messages SET tcount = GREATEST(tcount - 1, 0), updated_at = $1 \
                 WHERE id = $2",
            )
            .bind(millis(at))
            .bind(parent)
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        }
        // Uncount it, and if it was the last message, the newest remaining one becomes last.
        sqlx::query(
            "UPDATE rooms SET msgs = GREATEST(msgs - 1, 0), updated_at = $1, \
             last_message_id = CASE WHEN last_message_id = $2 THEN \
               (SELECT id FROM messages WHERE rid = rooms.id AND deleted_at IS NULL \
                AND (tmid IS NULL OR tshow) ORDER BY ts DESC, seq DESC LIMIT 1) \
             ELSE last_message_id END WHERE id = $3",
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
        let mut q = QueryBuilder::<Postgres>::new("SELECT COUNT(*) FROM messages");
        push_message_filter(&mut q, room_id, filter);
        let total: i64 = q
            .build_query_scalar()
            .fetch_one(&self.pool)
            .await
            .map_err(backend)?;
        Ok(count(total))
    }

    async fn room_messages(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        page: &Page<MessageSortKey>,
    ) -> StoreResult<Vec<Message>> {
        let mut q =
            QueryBuilder::<Postgres>::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages"));
        push_message_filter(&mut q, room_id, filter);
        q.push(" ORDER BY ");
        let sort = if page.sort.is_empty() {
            vec![(MessageSortKey::CreatedAt, Direction::Descending)]
        } else {
            page.sort.clone()
        };
        for (key, order) in &sort {
            q.push(match key {
                MessageSortKey::CreatedAt => "ts",
                MessageSortKey::UpdatedAt => "updated_at",
                MessageSortKey::ThreadLastAt => "tlm",
            })
            .push(direction(*order))
            .push(", ");
        }
        q.push("seq DESC LIMIT ")
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }

    async fn delete_messages(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        exclude_pinned: bool,
        authors: &[String],
        limit_to: Option<u64>,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        lock_room(&mut tx, room_id).await?;
        let mut select = QueryBuilder::<Postgres>::new("SELECT id FROM messages");
        push_message_filter(&mut select, room_id, filter);
        if exclude_pinned {
            select.push(" AND NOT pinned");
        }
        if !authors.is_empty() {
            select
                .push(" AND u_id = ANY(")
                .push_bind(authors.to_vec())
                .push(")");
        }
        select
            .push(" ORDER BY ts DESC, seq DESC LIMIT ")
            .push_bind(limit(limit_to));
        let ids: Vec<String> = select
            .build_query_scalar()
            .fetch_all(&mut *tx)
            .await
            .map_err(backend)?;
        tombstone(&mut tx, &ids, at).await?;
        sqlx::query(
            "UPDATE rooms SET updated_at = $1, \
             msgs = (SELECT COUNT(*) FROM messages WHERE rid = rooms.id AND deleted_at IS NULL), \
             last_message_id = (SELECT id FROM messages WHERE rid = rooms.id \
               AND deleted_at IS NULL AND t IS NULL AND (tmid IS NULL OR tshow) \
               ORDER BY ts DESC, seq DESC LIMIT 1) \
             WHERE id = $2",
        )
        .bind(millis(at))
        .bind(room_id)
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        tx.commit().await.map_err(write_error)?;
        Ok(ids.len() as u64)
    }

    async fn rooms_with_messages_by(&self, author_id: &str) -> StoreResult<Vec<String>> {
        sqlx::query_scalar(
            "SELECT DISTINCT rid FROM messages WHERE u_id = $1 AND deleted_at IS NULL ORDER BY rid",
        )
        .bind(author_id)
        .fetch_all(&self.pool)
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
            "UPDATE messages SET u_id = $1, u_username = $2, u_name = NULL, updated_at = $3, \
             extra = jsonb_set(extra, '{alias}', to_jsonb($4::text)) \
             WHERE u_id = $5 AND deleted_at IS NULL",
        )
        .bind(&replacement.id)
        .bind(&replacement.username)
        .bind(millis(at))
        .bind(alias)
        .bind(author_id)
        .execute(&self.pool)
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
            "SELECT id, deleted_at FROM messages WHERE rid = $1 AND deleted_at IS NOT NULL \
             AND deleted_at > $2 ORDER BY deleted_at, seq",
        )
        .bind(room_id)
        .bind(millis(since))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        rows.into_iter()
            .map(|(id, at)| Ok((id, from_millis(at)?)))
            .collect()
    }

    async fn search_messages(
        &self,
        room_id: &str,
        text: &str,
        filter: &MessageFilter,
        oldest_first: bool,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<Vec<Message>> {
        let mut q = match tsquery_text(text) {
            None => {
                let mut q = QueryBuilder::<Postgres>::new(format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages"
                ));
                push_message_filter(&mut q, room_id, filter);
                q.push(if oldest_first {
                    " ORDER BY ts ASC, seq ASC"
                } else {
                    " ORDER BY ts DESC, seq DESC"
                });
                q
            }
            Some(query) => {
                // Best matches first, as SQLite orders by FTS5's rank; newest first among equals.
                let mut q = QueryBuilder::<Postgres>::new(format!(
                    "SELECT {MESSAGE_COLUMNS} FROM messages, to_tsquery("
                ));
                q.push_bind(SEARCH_CONFIG)
                    .push("::regconfig, ")
                    .push_bind(query)
                    .push(") AS query");
                push_message_filter(&mut q, room_id, filter);
                q.push(
                    " AND search_vector @@ query \
                     ORDER BY ts_rank(search_vector, query) DESC, ts DESC, seq DESC",
                );
                q
            }
        };
        q.push(" LIMIT ")
            .push_bind(limit(page_count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let rows = q.build().fetch_all(&self.pool).await.map_err(backend)?;
        rows.iter().map(message_from_row).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_documents_are_lowercased_words() {
        assert_eq!(
            search_document("Olá, a IMPLANTAÇÃO: deploy.example.com!"),
            "olá a implantação deploy example com"
        );
        assert_eq!(search_document("مرحبا بالعالم"), "مرحبا بالعالم");
    }

    #[test]
    fn tsqueries_require_every_word_and_the_last_as_a_prefix() {
        assert_eq!(
            tsquery_text("Hello wor").as_deref(),
            Some("'hello' & 'wor':*")
        );
        assert_eq!(
            tsquery_text("\"unbalanced OR (").as_deref(),
            Some("'unbalanced' & 'or':*")
        );
        assert_eq!(tsquery_text("a' & b:*").as_deref(), Some("'a' & 'b':*"));
        assert_eq!(tsquery_text(" !? "), None);
    }
}
