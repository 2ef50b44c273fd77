//! Rooms, subscriptions and messages.
//!
//! Where SQLite gets atomic read-modify-write from its single writer, PostgreSQL gets it from
//! statements that update in place (`x = x + 1`), row locks, and one rule that keeps
//! concurrent writers free of deadlocks: a transaction that writes more than one row of a room
//! (the room and its messages or subscriptions) locks the room's row first ([`lock_room`]).

use crate::rows::{
    MESSAGE_COLUMNS, ROOM_COLUMNS, SUBSCRIPTION_COLUMNS, message_from_row, room_from_row,
    subscription_from_row, user_columns, user_from_row,
};
use crate::{
    Database, Param, Query, SqlRow, SqlStore, Transaction, counted, direction, limit, offset,
};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::page::{Direction, Page};
use comet_core::room::{Message, Room, Subscription, UserStub};
use comet_core::user::User;
use comet_store::encoding::{from_millis, like_pattern, message_extra, millis};
use comet_store::{
    AutoTranslateChange, Conflict, MemberFilter, MessageChange, MessageChanged, MessageFilter,
    MessageSortKey, MessageStore, PostEffects, RemovedSubscription, RoomFilter, RoomSortKey,
    RoomStore, StoreError, StoreResult, SubscriptionStore, ThreadReplyEffects,
};
use serde_json::Value;

/// Messages per insert statement: 19 parameters each stays under both dialects' limits.
pub(crate) const MESSAGES_PER_INSERT: usize = 1000;

/// Locks a room's row for the rest of the transaction where rows are locked: every
/// transaction that writes several rows of a room takes it first, so such writes to one room
/// queue in one order and never deadlock. Returns whether the room exists (always true
/// without locks).
pub(crate) async fn lock_room<D: Database>(tx: &mut D::Tx, room_id: &str) -> StoreResult<bool> {
    if !D::LOCKS_ROWS {
        return Ok(true);
    }
    let lock = Query::new("SELECT id FROM rooms WHERE id = $1 FOR NO KEY UPDATE").bind(room_id);
    Ok(!tx.read(lock).await?.is_empty())
}

/// ` FOR UPDATE` where rows are locked.
pub(crate) fn for_update<D: Database>() -> &'static str {
    if D::LOCKS_ROWS { " FOR UPDATE" } else { "" }
}

pub(crate) fn insert_subscription_query(s: &Subscription, if_not_member: bool) -> Query {
    let on_conflict = if if_not_member {
        " ON CONFLICT (rid, user_id) DO NOTHING"
    } else {
        ""
    };
    Query::new(format!(
        "INSERT INTO subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, \
         $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, \
         $23, $24, $25, $26, $27){on_conflict}"
    ))
    .bind(&s.id)
    .bind(&s.room_id)
    .bind(s.room_type.as_str())
    .bind(&s.user.id)
    .bind(&s.user.username)
    .bind(&s.user.name)
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
    .bind(millis(s.joined_at))
    .bind(millis(s.last_seen))
    .bind(s.last_reply.map(millis))
    .bind(&s.thread_unread)
    .bind(&s.ignored)
    .bind(millis(s.updated_at))
    .bind(Value::Object(s.notifications.clone()))
    .bind(&s.thread_unread_user)
    .bind(&s.thread_unread_group)
    .bind(s.auto_translate)
    .bind(&s.auto_translate_language)
}

/// Inserts message rows exactly as given, with their search index: queued (see
/// [`Transaction::queue`]), so a failure may surface at the transaction's next statement.
pub(crate) async fn insert_messages<D: Database>(
    tx: &mut D::Tx,
    messages: &[&Message],
) -> StoreResult<()> {
    tx.queue(insert_messages_query::<D>(messages)).await?;
    tx.index_messages(messages).await
}

/// Message rows exactly as given, in one statement. Live messages get their search index
/// where it lives in the row; tombstones have none, as deleting leaves them.
fn insert_messages_query<D: Database>(messages: &[&Message]) -> Query {
    let search_column = D::SEARCH_COLUMN.map_or(String::new(), |c| format!(", {c}"));
    let mut q = Query::new(format!(
        "INSERT INTO messages ({MESSAGE_COLUMNS}{search_column}) VALUES "
    ));
    for (i, m) in messages.iter().enumerate() {
        let mut values = vec![
            q.param(&m.id),
            q.param(&m.room_id),
            q.param(&m.text),
            q.param(&m.kind),
            q.param(&m.author.id),
            q.param(&m.author.username),
            q.param(&m.author.name),
            q.param(millis(m.created_at)),
            q.param(millis(m.updated_at)),
            q.param(&m.thread_id),
            q.param(m.thread_show),
            q.param(m.thread_count),
            q.param(m.thread_last_at.map(millis)),
            q.param(m.pinned),
            q.param(m.deleted_at.map(millis)),
            q.param(message_extra(m)),
            q.param(m.unread),
        ];
        if D::SEARCH_COLUMN.is_some() {
            values.push(match m.deleted_at {
                None => D::search_index(&mut q, &m.text),
                Some(_) => "NULL".to_owned(),
            });
        }
        if i > 0 {
            q.push(", ");
        }
        q.push("(").push(&values.join(", ")).push(")");
    }
    q
}

/// A room row with the given counters and last message (a new room starts them at zero; an
/// import keeps them).
pub(crate) fn insert_room_query(
    room: &Room,
    message_count: i64,
    users_count: i64,
    last_message: (Option<i64>, Option<String>),
) -> Query {
    let creator = room.creator.as_ref();
    Query::new(format!(
        "INSERT INTO rooms (name_key, fname_key, {ROOM_COLUMNS}) VALUES ($1, $2, $3, $4, $5, \
         $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, \
         $24, $25, $26, $27, $28, $29, $30, $31, $32, $33, $34, $35, $36, $37, $38)"
    ))
    .bind(room.name.as_ref().map(|n| n.to_lowercase()))
    .bind(room.fname.as_ref().map(|n| n.to_lowercase()))
    .bind(&room.id)
    .bind(room.room_type.as_str())
    .bind(&room.name)
    .bind(&room.fname)
    .bind(creator.map(|c| c.id.clone()))
    .bind(creator.map(|c| c.username.clone()))
    .bind(creator.and_then(|c| c.name.clone()))
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
    .bind(message_count)
    .bind(users_count)
    .bind(last_message.0)
    .bind(last_message.1)
    .bind(&room.hidden_system_messages)
    .bind(&room.parent_id)
    .bind(&room.custom_fields)
    .bind(millis(room.created_at))
    .bind(millis(room.updated_at))
    .bind(&room.unmuted)
    .bind(room.favorite)
    .bind(&room.team_id)
    .bind(room.team_main)
    .bind(room.team_default)
    .bind(&room.sidepanel)
}

/// Counts a message in its room and, when asked, makes it the last message unless the room
/// already has a newer one (posts can commit out of timestamp order).
fn count_message_query(m: &Message, counts: bool, last: bool) -> Query {
    Query::new(
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
}

/// Inserts a system message that comes with a membership change, and counts it.
pub(crate) async fn post_system_message<D: Database>(
    tx: &mut D::Tx,
    m: Option<&Message>,
) -> StoreResult<()> {
    if let Some(m) = m {
        insert_messages::<D>(tx, &[m]).await?;
        tx.write(count_message_query(m, true, false)).await?;
    }
    Ok(())
}

/// Deletes a member's subscription (keeping it in the sync trash) and uncounts them, inside
/// the caller's transaction with the room locked; false when they were not a member.
pub(crate) async fn remove_subscription_in<D: Database>(
    tx: &mut D::Tx,
    room_id: &str,
    user_id: &str,
    at: Timestamp,
) -> StoreResult<bool> {
    let at = millis(at);
    let removed = if D::DELETE_IN_CTE {
        let remove = Query::new(
            "WITH gone AS (DELETE FROM subscriptions WHERE rid = $1 AND user_id = $2 \
               RETURNING id, user_id, rid) \
             INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
             SELECT id, user_id, rid, $3 FROM gone",
        );
        tx.write(remove.bind(room_id).bind(user_id).bind(at))
            .await?
    } else {
        let trash = Query::new(
            "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
             SELECT id, user_id, rid, $1 FROM subscriptions WHERE rid = $2 AND user_id = $3",
        );
        tx.write(trash.bind(at).bind(room_id).bind(user_id)).await?;
        let remove = Query::new("DELETE FROM subscriptions WHERE rid = $1 AND user_id = $2");
        tx.write(remove.bind(room_id).bind(user_id)).await?
    };
    if removed == 0 {
        return Ok(false);
    }
    let uncount = Query::new(
        "UPDATE rooms SET users_count = CASE WHEN users_count > 0 THEN users_count - 1 \
         ELSE 0 END, updated_at = $1 WHERE id = $2",
    );
    tx.write(uncount.bind(at).bind(room_id)).await?;
    Ok(true)
}

/// Turns the selected live messages into tombstones (no text, nothing to search).
async fn tombstone<D: Database>(tx: &mut D::Tx, ids: &[String], at: Timestamp) -> StoreResult<()> {
    let unindex = D::SEARCH_COLUMN.map_or(String::new(), |c| format!(", {c} = NULL"));
    let update = Query::new(format!(
        "UPDATE messages SET deleted_at = $1, updated_at = $1, msg = '', extra = '{{}}'{unindex} \
         WHERE {}",
        D::in_list("id", "$2")
    ));
    tx.write(update.bind(millis(at)).bind(ids)).await.map(drop)
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

fn push_room_filter<D: Database>(q: &mut Query, filter: &RoomFilter) {
    q.push(" WHERE 1 = 1");
    if !filter.types.is_empty() {
        let types: Vec<String> = filter.types.iter().map(|t| t.as_str().to_owned()).collect();
        let types = q.param(types);
        q.push(" AND ").push(&D::in_list("t", &types));
    }
    if let Some(name) = &filter.name {
        q.push(" AND name_key LIKE ")
            .push_bind(like_pattern(name))
            .push(" ESCAPE '\\'");
    }
    if let Some(text) = &filter.name_or_fname {
        let mut pattern = like_pattern(text);
        if filter.name_or_fname_prefix {
            pattern.remove(0);
        }
        let pattern = q.param(pattern);
        q.push(&format!(
            " AND (name_key LIKE {pattern} ESCAPE '\\' OR fname_key LIKE {pattern} ESCAPE '\\')"
        ));
    }
    if filter.default_only {
        q.push(" AND is_default = ").push(D::TRUE);
    }
    if let Some(parent) = &filter.parent_id {
        q.push(" AND prid = ").push_bind(parent);
    }
    if let Some(team_id) = &filter.team_id {
        q.push(" AND team_id = ").push_bind(team_id);
    }
    if filter.team_default_only {
        q.push(" AND team_default = ").push(D::TRUE);
    }
    if filter.team_main_only {
        q.push(" AND team_main = ").push(D::TRUE);
    }
    if filter.without_team_main {
        q.push(" AND team_main = ").push(D::FALSE);
    }
    if let Some((team_id, main_room_id)) = &filter.team_children {
        q.push(" AND (team_id = ")
            .push_bind(team_id)
            .push(" OR prid = ")
            .push_bind(main_room_id)
            .push(")");
    }
    if let Some(user_id) = &filter.visible_to {
        q.push(" AND (t = 'c' OR id IN (SELECT rid FROM subscriptions WHERE user_id = ")
            .push_bind(user_id)
            .push("))");
    }
    if let Some(user_id) = &filter.member {
        q.push(" AND id IN (SELECT rid FROM subscriptions WHERE user_id = ")
            .push_bind(user_id)
            .push(")");
    }
}

/// What the member listings of rooms and teams ask of a member's user row (`u`).
#[derive(Default)]
pub(crate) struct MemberConditions<'a> {
    /// Only users with one of these statuses (empty: any).
    pub statuses: &'a [String],
    /// Case-insensitive text in the username.
    pub username: Option<&'a str>,
    /// Case-insensitive text in the name.
    pub name: Option<&'a str>,
    /// Case-insensitive text in the username or the name.
    pub username_or_name: Option<&'a str>,
    /// Leave this user out.
    pub except_user: Option<&'a str>,
}

/// The conditions of a member listing on its user row `u`, after its own `WHERE`: active users
/// only, then `conditions`.
pub(crate) fn push_member_conditions<D: Database>(q: &mut Query, conditions: &MemberConditions) {
    q.push(" AND u.active = ").push(D::TRUE);
    if !conditions.statuses.is_empty() {
        let statuses = q.param(conditions.statuses);
        q.push(" AND ").push(&D::in_list("u.status", &statuses));
    }
    // lower() folds ASCII only in both dialects (PostgreSQL's name has the "C" collation).
    if let Some(username) = conditions.username {
        q.push(" AND u.username_key LIKE ")
            .push_bind(like_pattern(username))
            .push(" ESCAPE '\\'");
    }
    if let Some(name) = conditions.name {
        q.push(" AND lower(u.name) LIKE ")
            .push_bind(like_pattern(name))
            .push(" ESCAPE '\\'");
    }
    if let Some(text) = conditions.username_or_name {
        let pattern = q.param(like_pattern(text));
        q.push(&format!(
            " AND (u.username_key LIKE {pattern} ESCAPE '\\' \
             OR lower(u.name) LIKE {pattern} ESCAPE '\\')"
        ));
    }
    if let Some(except) = conditions.except_user {
        q.push(" AND u.id <> ").push_bind(except);
    }
}

fn push_message_filter<D: Database>(q: &mut Query, room_id: &str, filter: &MessageFilter) {
    q.push(" WHERE rid = ").push_bind(room_id);
    q.push(" AND deleted_at IS NULL");
    let (before, after) = if filter.inclusive {
        ("<=", ">=")
    } else {
        ("<", ">")
    };
    if let Some(latest) = filter.latest {
        q.push(&format!(" AND ts {before} "))
            .push_bind(millis(latest));
    }
    if let Some(oldest) = filter.oldest {
        q.push(&format!(" AND ts {after} "))
            .push_bind(millis(oldest));
    }
    if filter.hide_thread_replies {
        q.push(&format!(" AND (tmid IS NULL OR tshow = {})", D::TRUE));
    }
    if let Some(thread) = &filter.thread_id {
        q.push(" AND tmid = ").push_bind(thread);
    }
    if filter.pinned_only {
        q.push(" AND pinned = ").push(D::TRUE);
    }
    if !filter.starred_by.is_empty() {
        let any: Vec<String> = filter
            .starred_by
            .iter()
            .map(|user_id| {
                let user_id = q.param(user_id);
                D::json_array_contains("extra", "starred", &user_id)
            })
            .collect();
        q.push(&format!(" AND ({})", any.join(" OR ")));
    }
    if !filter.mentioning.is_empty() {
        let any: Vec<String> = filter
            .mentioning
            .iter()
            .map(|user_id| {
                let user_id = q.param(user_id);
                D::json_array_has_id("extra", "mentions", &user_id)
            })
            .collect();
        q.push(&format!(" AND ({})", any.join(" OR ")));
    }
    if let Some(after) = filter.updated_after {
        q.push(" AND updated_at > ").push_bind(millis(after));
    }
    if let Some(before) = filter.updated_before {
        q.push(" AND updated_at < ").push_bind(millis(before));
    }
    if filter.hide_system {
        q.push(" AND t IS NULL");
    }
    if filter.hide_removed {
        q.push(" AND (t IS NULL OR t <> 'rm')");
    }
    if let Some(author) = &filter.author_id {
        q.push(" AND u_id = ").push_bind(author);
    }
    if filter.thread_roots {
        q.push(" AND tlm IS NOT NULL");
    }
    if let Some(user_id) = &filter.thread_participant {
        let user_id = q.param(user_id);
        q.push(" AND ")
            .push(&D::json_array_contains("extra", "replies", &user_id));
    }
    if filter.discussions {
        q.push(&format!(
            " AND {} IS NOT NULL",
            D::json_text("extra", "drid")
        ));
    }
    if filter.with_files {
        q.push(&format!(
            " AND {} IS NOT NULL",
            D::json_text("extra", "files")
        ));
    }
    if let Some(text) = &filter.text_contains {
        // msg folds ASCII only under lower() in both (PostgreSQL's has the "C" collation).
        q.push(" AND lower(msg) LIKE ")
            .push_bind(like_pattern(text))
            .push(" ESCAPE '\\'");
    }
}

impl<D: Database> SqlStore<D> {
    /// The rooms meeting `condition`, given the placeholder of `value`.
    async fn rooms_where(
        &self,
        value: impl Into<Param> + Send,
        condition: impl FnOnce(&str) -> String + Send,
    ) -> StoreResult<Vec<Room>> {
        let mut q = Query::new(format!("SELECT {ROOM_COLUMNS} FROM rooms WHERE "));
        let value = q.param(value);
        q.push(&condition(&value));
        let rows = self.db.read(q).await?;
        rows.iter().map(room_from_row).collect()
    }

    /// The messages meeting `condition`, given the placeholder of `value`.
    async fn messages_where(
        &self,
        value: impl Into<Param> + Send,
        condition: impl FnOnce(&str) -> String + Send,
    ) -> StoreResult<Vec<Message>> {
        let mut q = Query::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE "));
        let value = q.param(value);
        q.push(&condition(&value));
        let rows = self.db.read(q).await?;
        rows.iter().map(message_from_row).collect()
    }
}

#[async_trait]
impl<D: Database> RoomStore for SqlStore<D> {
    async fn create_room(
        &self,
        room: &Room,
        subscriptions: &[Subscription],
        first_message: Option<&Message>,
    ) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        let users = i64::try_from(subscriptions.len()).unwrap_or(i64::MAX);
        let insert = insert_room_query(room, 0, users, (None, None));
        tx.write(insert).await.map_err(|e| match e {
            StoreError::Conflict(Conflict::Email | Conflict::Username) => {
                StoreError::Conflict(Conflict::RoomName)
            }
            other => other,
        })?;
        for s in subscriptions {
            tx.write(insert_subscription_query(s, false)).await?;
        }
        post_system_message::<D>(&mut tx, first_message).await?;
        tx.commit().await
    }

    async fn room_by_id(&self, id: &str) -> StoreResult<Option<Room>> {
        Ok(self.rooms_where(id, |p| format!("id = {p}")).await?.pop())
    }

    async fn room_by_name(&self, name: &str) -> StoreResult<Option<Room>> {
        Ok(self
            .rooms_where(name.to_lowercase(), |p| format!("name_key = {p}"))
            .await?
            .pop())
    }

    async fn rooms_by_display_name(&self, fname: &str) -> StoreResult<Vec<Room>> {
        let mut rooms = self
            .rooms_where(fname.to_lowercase(), |p| format!("fname_key = {p}"))
            .await?;
        rooms.retain(|room| room.fname.as_deref() == Some(fname));
        Ok(rooms)
    }

    async fn rooms_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Room>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.rooms_where(ids, |p| D::in_list("id", p)).await
    }

    async fn update_room(&self, room: &Room) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        // The room's row is locked by this update before its subscriptions are touched.
        let update = Query::new(
            "UPDATE rooms SET t = $1, name = $2, name_key = $3, fname = $4, topic = $5, \
             description = $6, announcement = $7, read_only = $8, react_when_read_only = $9, \
             archived = $10, is_default = $11, featured = $12, encrypted = $13, broadcast = $14, \
             join_code = $15, muted = $16, user_ids = $17, usernames = $18, sys_mes = $19, \
             custom_fields = $20, updated_at = $21, unmuted = $22, favorite = $23, \
             fname_key = $25, team_id = $26, team_main = $27, team_default = $28, \
             sidepanel = $29 WHERE id = $24",
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
        .bind(&room.custom_fields)
        .bind(millis(room.updated_at))
        .bind(&room.unmuted)
        .bind(room.favorite)
        .bind(&room.id)
        .bind(room.fname.as_ref().map(|n| n.to_lowercase()))
        .bind(&room.team_id)
        .bind(room.team_main)
        .bind(room.team_default)
        .bind(&room.sidepanel);
        let updated = tx.write(update).await.map_err(|e| match e {
            StoreError::Conflict(_) => StoreError::Conflict(Conflict::RoomName),
            other => other,
        })?;
        if updated == 0 {
            return Ok(false);
        }
        if let Some(name) = &room.name {
            let rename = Query::new(
                "UPDATE subscriptions SET name = $1, fname = $2, t = $3, archived = $4, \
                 updated_at = $5 WHERE rid = $6",
            )
            .bind(name)
            .bind(&room.fname)
            .bind(room.room_type.as_str())
            .bind(room.archived)
            .bind(millis(room.updated_at))
            .bind(&room.id);
            tx.write(rename).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn delete_room(&self, id: &str) -> StoreResult<bool> {
        let at = millis(comet_core::now());
        let mut tx = self.db.begin().await?;
        // Locked first, so that no member joins between the trash copy and the delete.
        if D::LOCKS_ROWS {
            let lock = Query::new("SELECT id FROM rooms WHERE id = $1 FOR UPDATE").bind(id);
            if tx.read(lock).await?.is_empty() {
                return Ok(false);
            }
        }
        let trash = Query::new(
            "INSERT INTO subscription_trash (id, user_id, rid, deleted_at) \
             SELECT id, user_id, rid, $1 FROM subscriptions WHERE rid = $2",
        );
        tx.write(trash.bind(at).bind(id)).await?;
        // Subscriptions and messages go with the room through ON DELETE CASCADE.
        if tx
            .write(Query::new("DELETE FROM rooms WHERE id = $1").bind(id))
            .await?
            == 0
        {
            return Ok(false);
        }
        let trash = Query::new("INSERT INTO room_trash (id, deleted_at) VALUES ($1, $2)");
        tx.write(trash.bind(id).bind(at)).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn list_rooms(
        &self,
        filter: &RoomFilter,
        page: &Page<RoomSortKey>,
    ) -> StoreResult<(Vec<Room>, u64)> {
        let mut tx = self.db.snapshot().await?;
        let mut count_query = Query::new("SELECT COUNT(*) AS n FROM rooms");
        push_room_filter::<D>(&mut count_query, filter);
        let total = counted(&tx.read(count_query).await?)?;
        let mut q = Query::new(format!("SELECT {ROOM_COLUMNS} FROM rooms"));
        push_room_filter::<D>(&mut q, filter);
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
        let rows = tx.read(q).await?;
        tx.commit().await?;
        let rooms = rows.iter().map(room_from_row).collect::<StoreResult<_>>()?;
        Ok((rooms, total))
    }
}

#[async_trait]
impl<D: Database> SubscriptionStore for SqlStore<D> {
    async fn subscription(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> StoreResult<Option<Subscription>> {
        let select = Query::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = $1 AND user_id = $2"
        ));
        let rows = self.db.read(select.bind(room_id).bind(user_id)).await?;
        rows.first().map(subscription_from_row).transpose()
    }

    async fn subscriptions_of_users_in_room(
        &self,
        room_id: &str,
        user_ids: &[String],
    ) -> StoreResult<Vec<Subscription>> {
        if user_ids.is_empty() {
            return Ok(Vec::new());
        }
        let select = Query::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = $1 AND {}",
            D::in_list("user_id", "$2")
        ));
        let rows = self.db.read(select.bind(room_id).bind(user_ids)).await?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn subscriptions_of_user(
        &self,
        user_id: &str,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<Subscription>> {
        let mut q = Query::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE user_id = $1"
        ))
        .bind(user_id);
        if let Some(since) = since {
            q.push(" AND updated_at > ").push_bind(millis(since));
        }
        q.push(" ORDER BY ts, id");
        let rows = self.db.read(q).await?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn subscriptions_of_room(
        &self,
        room_id: &str,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<Subscription>, u64)> {
        let mut tx = self.db.snapshot().await?;
        let total = Query::new("SELECT COUNT(*) AS n FROM subscriptions WHERE rid = $1");
        let total = counted(&tx.read(total.bind(room_id)).await?)?;
        let page = Query::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = $1 \
             ORDER BY username, id LIMIT $2 OFFSET $3"
        ))
        .bind(room_id)
        .bind(limit(page_count))
        .bind(offset(page_offset));
        let rows = tx.read(page).await?;
        tx.commit().await?;
        let subscriptions = rows
            .iter()
            .map(subscription_from_row)
            .collect::<StoreResult<_>>()?;
        Ok((subscriptions, total))
    }

    async fn members_by_role(
        &self,
        room_id: &str,
        filter: &MemberFilter,
        page_offset: u64,
        page_count: Option<u64>,
    ) -> StoreResult<(Vec<(Subscription, User)>, u64)> {
        let matching = |q: &mut Query| {
            q.push(" FROM subscriptions s JOIN users u ON u.id = s.user_id WHERE s.rid = ")
                .push_bind(room_id);
            push_member_conditions::<D>(
                q,
                &MemberConditions {
                    statuses: &filter.statuses,
                    username_or_name: filter.search.as_deref(),
                    ..MemberConditions::default()
                },
            );
        };
        let mut tx = self.db.snapshot().await?;
        let mut count_query = Query::new("SELECT COUNT(*) AS n");
        matching(&mut count_query);
        let total = counted(&tx.read(count_query).await?)?;

        // Upstream's priorities: owner 0, leader 250, moderator 500, anyone else 10000; then
        // presence as its status strings sort descending, offline last.
        let mut q = Query::new("SELECT s.user_id AS user_id");
        matching(&mut q);
        let mut priority = String::from("CASE");
        for (role, rank) in [("owner", 0), ("leader", 250), ("moderator", 500)] {
            let role = q.param(role);
            priority.push_str(&format!(
                " WHEN {} THEN {rank}",
                D::list_contains("s.roles", &role)
            ));
        }
        priority.push_str(" ELSE 10000 END");
        let name = if filter.by_name {
            "u.name"
        } else {
            "u.username"
        };
        q.push(&format!(
            " ORDER BY {priority}{}, CASE u.status WHEN 'online' THEN 3 WHEN 'busy' THEN 2 \
             WHEN 'away' THEN 1 ELSE 0 END DESC, {name}{}{}, u.id LIMIT ",
            direction(filter.role_order),
            D::BYTEWISE,
            direction(filter.name_order),
        ))
        .push_bind(limit(page_count))
        .push(" OFFSET ")
        .push_bind(offset(page_offset));
        let ids = tx
            .read(q)
            .await?
            .iter()
            .map(|row| row.text("user_id"))
            .collect::<StoreResult<Vec<String>>>()?;
        if ids.is_empty() {
            tx.commit().await?;
            return Ok((Vec::new(), total));
        }
        let mut users_query = Query::new(format!(
            "SELECT {} FROM users u WHERE ",
            user_columns::<D>()
        ));
        let id_list = users_query.param(&ids);
        users_query.push(&D::in_list("u.id", &id_list));
        let users = tx
            .read(users_query)
            .await?
            .iter()
            .map(user_from_row)
            .collect::<StoreResult<Vec<User>>>()?;
        let mut subs_query = Query::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE rid = "
        ));
        subs_query.push_bind(room_id).push(" AND ");
        let id_list = subs_query.param(&ids);
        subs_query.push(&D::in_list("user_id", &id_list));
        let subscriptions = tx
            .read(subs_query)
            .await?
            .iter()
            .map(subscription_from_row)
            .collect::<StoreResult<Vec<Subscription>>>()?;
        tx.commit().await?;
        // Back in the order of the page; a member removed meanwhile cannot be missing, as all
        // three reads see one snapshot.
        let members = ids
            .iter()
            .filter_map(|id| {
                let user = users.iter().find(|u| &u.id == id)?;
                let subscription = subscriptions.iter().find(|s| &s.user.id == id)?;
                Some((subscription.clone(), user.clone()))
            })
            .collect();
        Ok((members, total))
    }

    async fn add_member(
        &self,
        subscription: &Subscription,
        message: Option<&Message>,
    ) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        lock_room::<D>(&mut tx, &subscription.room_id).await?;
        // With the room locked (or the single writer) no one else adds this member meanwhile;
        // ON CONFLICT covers a subscription that was already there.
        if tx
            .write(insert_subscription_query(subscription, true))
            .await?
            == 0
        {
            return Ok(false);
        }
        let count = Query::new(
            "UPDATE rooms SET users_count = users_count + 1, updated_at = $1 WHERE id = $2",
        );
        tx.write(
            count
                .bind(millis(subscription.updated_at))
                .bind(&subscription.room_id),
        )
        .await?;
        post_system_message::<D>(&mut tx, message).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn remove_member(
        &self,
        room_id: &str,
        user_id: &str,
        message: Option<&Message>,
    ) -> StoreResult<bool> {
        let at = comet_core::now();
        let mut tx = self.db.begin().await?;
        lock_room::<D>(&mut tx, room_id).await?;
        if !remove_subscription_in::<D>(&mut tx, room_id, user_id, at).await? {
            return Ok(false);
        }
        post_system_message::<D>(&mut tx, message).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn removed_subscriptions(
        &self,
        user_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<RemovedSubscription>> {
        let select = Query::new(
            "SELECT id, rid, deleted_at FROM subscription_trash WHERE user_id = $1 \
             AND deleted_at > $2 ORDER BY deleted_at",
        );
        let rows = self
            .db
            .read(select.bind(user_id).bind(millis(since)))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(RemovedSubscription {
                    id: row.text("id")?,
                    room_id: row.text("rid")?,
                    removed_at: row.time("deleted_at")?,
                })
            })
            .collect()
    }

    async fn removed_rooms(&self, since: Timestamp) -> StoreResult<Vec<(String, Timestamp)>> {
        let select = Query::new(
            "SELECT id, deleted_at FROM room_trash WHERE deleted_at > $1 ORDER BY deleted_at",
        );
        let rows = self.db.read(select.bind(millis(since))).await?;
        rows.iter()
            .map(|row| Ok((row.text("id")?, row.time("deleted_at")?)))
            .collect()
    }

    async fn update_subscription(&self, s: &Subscription) -> StoreResult<bool> {
        let update = Query::new(
            "UPDATE subscriptions SET name = $1, fname = $2, roles = $3, open = $4, alert = $5, \
             unread = $6, user_mentions = $7, group_mentions = $8, favorite = $9, \
             archived = $10, ls = $11, lr = $12, tunread = $13, ignored = $14, \
             updated_at = $15, notifications = $16, tunread_user = $17, tunread_group = $18 \
             WHERE id = $19",
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
        .bind(Value::Object(s.notifications.clone()))
        .bind(&s.thread_unread_user)
        .bind(&s.thread_unread_group)
        .bind(&s.id);
        Ok(self.db.write(update).await? > 0)
    }

    async fn change_auto_translate(
        &self,
        room_id: &str,
        user_id: &str,
        change: &AutoTranslateChange,
        at: Timestamp,
    ) -> StoreResult<Option<Subscription>> {
        let update = match change {
            AutoTranslateChange::Switch {
                on,
                default_language,
            } => Query::new(
                "UPDATE subscriptions SET auto_translate = $1, auto_translate_language = \
                 COALESCE(NULLIF(auto_translate_language, ''), $2), updated_at = $3 \
                 WHERE rid = $4 AND user_id = $5",
            )
            .bind(*on)
            .bind(default_language.as_deref().filter(|l| !l.is_empty())),
            AutoTranslateChange::Language(language) => Query::new(
                "UPDATE subscriptions SET auto_translate_language = $1, updated_at = $2 \
                 WHERE rid = $3 AND user_id = $4",
            )
            .bind(language),
        };
        let update = update.bind(millis(at)).bind(room_id).bind(user_id);
        if self.db.write(update).await? == 0 {
            return Ok(None);
        }
        self.subscription(room_id, user_id).await
    }

    async fn follow_user_language(
        &self,
        user_id: &str,
        language: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Vec<Subscription>> {
        let stamp = millis(at);
        let update = match language {
            Some(language) => Query::new(format!(
                "UPDATE subscriptions SET auto_translate = {}, auto_translate_language = $1, \
                 updated_at = $2 WHERE user_id = $3 \
                 AND (auto_translate IS NULL OR auto_translate = {}) \
                 AND (auto_translate IS NULL OR auto_translate_language IS NULL \
                 OR auto_translate_language <> $4)",
                D::TRUE,
                D::TRUE
            ))
            .bind(language),
            None => Query::new(format!(
                "UPDATE subscriptions SET auto_translate = NULL, auto_translate_language = NULL, \
                 updated_at = $1 WHERE user_id = $2 AND auto_translate = {}",
                D::TRUE
            )),
        };
        let mut update = update.bind(stamp).bind(user_id);
        if let Some(language) = language {
            update = update.bind(language);
        }
        if self.db.write(update).await? == 0 {
            return Ok(Vec::new());
        }
        let select = Query::new(format!(
            "SELECT {SUBSCRIPTION_COLUMNS} FROM subscriptions WHERE user_id = $1 \
             AND updated_at = $2 ORDER BY ts, id"
        ));
        let rows = self.db.read(select.bind(user_id).bind(stamp)).await?;
        rows.iter().map(subscription_from_row).collect()
    }

    async fn auto_translate_languages(
        &self,
        room_id: &str,
        except_user_id: &str,
    ) -> StoreResult<Vec<String>> {
        let select = Query::new(format!(
            "SELECT DISTINCT auto_translate_language FROM subscriptions \
             WHERE rid = $1 AND auto_translate = {} AND user_id <> $2 \
             AND auto_translate_language IS NOT NULL AND auto_translate_language <> '' \
             ORDER BY auto_translate_language",
            D::TRUE
        ));
        let rows = self
            .db
            .read(select.bind(room_id).bind(except_user_id))
            .await?;
        rows.iter()
            .map(|row| row.text("auto_translate_language"))
            .collect()
    }

    async fn read_thread(
        &self,
        room_id: &str,
        user_id: &str,
        thread_id: &str,
        clear_alert: bool,
        at: Timestamp,
    ) -> StoreResult<Option<Subscription>> {
        let update = Query::new(format!(
            "UPDATE subscriptions SET tunread = {}, tunread_user = {}, tunread_group = {}, \
             alert = CASE WHEN $2 THEN {} ELSE alert END, updated_at = $3 \
             WHERE rid = $4 AND user_id = $5",
            D::list_remove("tunread", "$1"),
            D::list_remove("tunread_user", "$1"),
            D::list_remove("tunread_group", "$1"),
            D::FALSE,
        ))
        .bind(thread_id)
        .bind(clear_alert)
        .bind(millis(at))
        .bind(room_id)
        .bind(user_id);
        if self.db.write(update).await? == 0 {
            return Ok(None);
        }
        self.subscription(room_id, user_id).await
    }
}

/// A thread reply's effects on its followers: new followers join the root's `replies`; the
/// followers and the mentioned get the thread among their unread threads, and an alert.
async fn thread_reply_effects<D: Database>(
    tx: &mut D::Tx,
    m: &Message,
    thread_id: &str,
    thread: &ThreadReplyEffects,
) -> StoreResult<()> {
    let at = millis(m.created_at);
    for follower in &thread.new_followers {
        let follow = Query::new(format!(
            "UPDATE messages SET extra = {} WHERE id = $2",
            D::json_add_to_set("extra", "replies", "$1")
        ));
        tx.queue(follow.bind(follower).bind(thread_id)).await?;
    }
    if !thread.followers.is_empty() {
        let group = if thread.group {
            D::list_add("tunread_group", "$1")
        } else {
            "tunread_group".to_owned()
        };
        let unread = Query::new(format!(
            "UPDATE subscriptions SET tunread = {}, tunread_group = {group}, alert = {}, \
             open = {}, updated_at = $2 WHERE rid = $3 AND {}",
            D::list_add("tunread", "$1"),
            D::TRUE,
            D::TRUE,
            D::in_list("user_id", "$4"),
        ));
        tx.queue(
            unread
                .bind(thread_id)
                .bind(at)
                .bind(&m.room_id)
                .bind(&thread.followers),
        )
        .await?;
    }
    if !thread.mentioned.is_empty() {
        let unread = Query::new(format!(
            "UPDATE subscriptions SET tunread = {}, tunread_user = {}, alert = {}, open = {}, \
             updated_at = $2 WHERE rid = $3 AND {}",
            D::list_add("tunread", "$1"),
            D::list_add("tunread_user", "$1"),
            D::TRUE,
            D::TRUE,
            D::in_list("user_id", "$4"),
        ));
        tx.queue(
            unread
                .bind(thread_id)
                .bind(at)
                .bind(&m.room_id)
                .bind(&thread.mentioned),
        )
        .await?;
    }
    Ok(())
}

#[async_trait]
impl<D: Database> MessageStore for SqlStore<D> {
    async fn post_message(&self, m: &Message, effects: &PostEffects) -> StoreResult<()> {
        let at = millis(m.created_at);
        let mut tx = self.db.begin().await?;
        lock_room::<D>(&mut tx, &m.room_id).await?;
        insert_messages::<D>(&mut tx, &[m]).await?;
        if effects.counts_in_room || effects.becomes_last_message {
            let count =
                count_message_query(m, effects.counts_in_room, effects.becomes_last_message);
            tx.queue(count).await?;
        }
        if let Some(parent) = &m.thread_id {
            // One statement: the reply count and the participant list change together. The
            // reply was stamped before it queued for the room, so replies may commit out of
            // order: `tlm` only moves forward, as the room's `lm` does.
            let reply = Query::new(format!(
                "UPDATE messages SET tcount = tcount + 1, \
                 tlm = CASE WHEN tlm IS NULL OR tlm <= $1 THEN $1 ELSE tlm END, \
                 updated_at = $1, extra = {} WHERE id = $3",
                D::json_add_to_set("extra", "replies", "$2")
            ));
            tx.queue(reply.bind(at).bind(&m.author.id).bind(parent))
                .await?;
            if let Some(thread) = &effects.thread {
                thread_reply_effects::<D>(&mut tx, m, parent, thread).await?;
            }
        }
        if !effects.alert_others
            && !effects.unread_for_all
            && !effects.group_mention
            && effects.mentioned_user_ids.is_empty()
        {
            return tx.commit().await;
        }
        // Other members: alert, unread and mention counters, raised in place.
        let mentioned = D::in_list("user_id", "$4");
        let others = Query::new(format!(
            "UPDATE subscriptions SET updated_at = $1, alert = alert OR $2, open = open OR $2, \
             unread = unread + CASE WHEN $3 OR {mentioned} THEN 1 ELSE 0 END, \
             user_mentions = user_mentions + CASE WHEN {mentioned} THEN 1 ELSE 0 END, \
             group_mentions = group_mentions + CASE WHEN $5 THEN 1 ELSE 0 END \
             WHERE rid = $6 AND user_id <> $7"
        ))
        .bind(at)
        .bind(effects.alert_others)
        .bind(effects.unread_for_all || effects.group_mention)
        .bind(&effects.mentioned_user_ids)
        .bind(effects.group_mention)
        .bind(&m.room_id)
        .bind(&m.author.id);
        tx.queue(others).await?;
        tx.commit().await
    }

    async fn message_by_id(&self, id: &str) -> StoreResult<Option<Message>> {
        Ok(self
            .messages_where(id, |p| format!("id = {p}"))
            .await?
            .pop())
    }

    async fn messages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Message>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        self.messages_where(ids, |p| D::in_list("id", p)).await
    }

    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
        at: Timestamp,
    ) -> StoreResult<Option<MessageChanged>> {
        // Read and written back in one transaction under the row's lock (or SQLite's single
        // writer): concurrent changes to one message apply one after the other.
        let mut tx = self.db.begin().await?;
        let select = Query::new(format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE deleted_at IS NULL AND id = $1{}",
            for_update::<D>()
        ));
        let Some(row) = tx.read(select.bind(id)).await?.pop() else {
            return Ok(None);
        };
        let mut message = message_from_row(&row)?;
        if !change.apply(&mut message, at) {
            return Ok(Some(MessageChanged {
                message,
                changed: false,
            }));
        }
        let mut update = Query::new(
            "UPDATE messages SET msg = $1, t = $2, updated_at = $3, tshow = $4, pinned = $5, \
             extra = $6",
        )
        .bind(&message.text)
        .bind(&message.kind)
        .bind(millis(message.updated_at))
        .bind(message.thread_show)
        .bind(message.pinned)
        .bind(message_extra(&message));
        if let Some(column) = D::SEARCH_COLUMN {
            let index = D::search_index(&mut update, &message.text);
            update.push(&format!(", {column} = {index}"));
        }
        update.push(" WHERE id = ").push_bind(&message.id);
        tx.queue(update).await?;
        tx.index_messages(&[&message]).await?;
        tx.commit().await?;
        Ok(Some(MessageChanged {
            message,
            changed: true,
        }))
    }

    async fn earliest_last_seen(&self, room_id: &str) -> StoreResult<Option<Timestamp>> {
        let select = Query::new("SELECT MIN(ls) AS n FROM subscriptions WHERE rid = $1");
        match self.db.read(select.bind(room_id)).await?.first() {
            Some(row) => row.opt_time("n"),
            None => Ok(None),
        }
    }

    async fn mark_messages_read(&self, room_id: &str, until: Timestamp) -> StoreResult<u64> {
        let update = Query::new(format!(
            "UPDATE messages SET unread = {} WHERE rid = $1 AND unread = {} AND ts <= $2",
            D::FALSE,
            D::TRUE
        ));
        self.db
            .write(update.bind(room_id).bind(millis(until)))
            .await
    }

    async fn delete_message(&self, id: &str, at: Timestamp) -> StoreResult<bool> {
        let mut tx = self.db.begin().await?;
        let find =
            Query::new("SELECT rid, tmid FROM messages WHERE id = $1 AND deleted_at IS NULL");
        let Some(row) = tx.read(find.bind(id)).await?.pop() else {
            return Ok(false);
        };
        let room_id = row.text("rid")?;
        let mut thread_id = row.opt_text("tmid")?;
        if D::LOCKS_ROWS {
            lock_room::<D>(&mut tx, &room_id).await?;
            // Checked again under the lock: a concurrent delete of the same message uncounts
            // once.
            let recheck = Query::new(
                "SELECT tmid FROM messages WHERE id = $1 AND deleted_at IS NULL FOR UPDATE",
            );
            let Some(row) = tx.read(recheck.bind(id)).await?.pop() else {
                return Ok(false);
            };
            thread_id = row.opt_text("tmid")?;
        }
        tombstone::<D>(&mut tx, &[id.to_owned()], at).await?;
        if let Some(parent) = thread_id {
            let uncount = Query::new(
                "UPDATE messages SET tcount = CASE WHEN tcount > 0 THEN tcount - 1 ELSE 0 END, \
                 updated_at = $1 WHERE id = $2",
            );
            tx.write(uncount.bind(millis(at)).bind(parent)).await?;
        }
        // Uncount it, and if it was the last message, the newest remaining one becomes last.
        let uncount = Query::new(format!(
            "UPDATE rooms SET msgs = CASE WHEN msgs > 0 THEN msgs - 1 ELSE 0 END, \
             updated_at = $1, last_message_id = CASE WHEN last_message_id = $2 THEN \
               (SELECT id FROM messages WHERE rid = rooms.id AND deleted_at IS NULL \
                AND (tmid IS NULL OR tshow = {}) ORDER BY ts DESC, {} DESC LIMIT 1) \
             ELSE last_message_id END WHERE id = $3",
            D::TRUE,
            D::INSERTION_ORDER
        ));
        tx.write(uncount.bind(millis(at)).bind(id).bind(&room_id))
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn room_messages(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        page: &Page<MessageSortKey>,
    ) -> StoreResult<Vec<Message>> {
        let mut q = Query::new(format!("SELECT {MESSAGE_COLUMNS} FROM messages"));
        push_message_filter::<D>(&mut q, room_id, filter);
        q.push(" ORDER BY ");
        let newest_first = [(MessageSortKey::CreatedAt, Direction::Descending)];
        let sort = if page.sort.is_empty() {
            &newest_first[..]
        } else {
            &page.sort[..]
        };
        for (key, order) in sort {
            match key {
                MessageSortKey::CreatedAt => q.push("ts"),
                MessageSortKey::UpdatedAt => q.push("updated_at"),
                MessageSortKey::ThreadLastAt => q.push("tlm"),
                MessageSortKey::AuthorUsername => q.push("u_username").push(D::BYTEWISE),
            }
            .push(direction(*order))
            .push(", ");
        }
        q.push(D::INSERTION_ORDER)
            .push(" DESC LIMIT ")
            .push_bind(limit(page.count))
            .push(" OFFSET ")
            .push_bind(offset(page.offset));
        let rows = self.db.read(q).await?;
        rows.iter().map(message_from_row).collect()
    }

    async fn count_room_messages(&self, room_id: &str, filter: &MessageFilter) -> StoreResult<u64> {
        let mut q = Query::new("SELECT COUNT(*) AS n FROM messages");
        push_message_filter::<D>(&mut q, room_id, filter);
        counted(&self.db.read(q).await?)
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
        let mut tx = self.db.begin().await?;
        lock_room::<D>(&mut tx, room_id).await?;
        let mut select = Query::new("SELECT id FROM messages");
        push_message_filter::<D>(&mut select, room_id, filter);
        if exclude_pinned {
            select.push(" AND pinned = ").push(D::FALSE);
        }
        if !authors.is_empty() {
            let authors = select.param(authors);
            select.push(" AND ").push(&D::in_list("u_id", &authors));
        }
        select
            .push(&format!(
                " ORDER BY ts DESC, {} DESC LIMIT ",
                D::INSERTION_ORDER
            ))
            .push_bind(limit(limit_to));
        let ids = tx
            .read(select)
            .await?
            .iter()
            .map(|row| row.text("id"))
            .collect::<StoreResult<Vec<_>>>()?;
        tombstone::<D>(&mut tx, &ids, at).await?;
        let recount = Query::new(format!(
            "UPDATE rooms SET updated_at = $1, \
             msgs = (SELECT COUNT(*) FROM messages WHERE rid = rooms.id AND deleted_at IS NULL), \
             last_message_id = (SELECT id FROM messages WHERE rid = rooms.id \
               AND deleted_at IS NULL AND t IS NULL AND (tmid IS NULL OR tshow = {}) \
               ORDER BY ts DESC, {} DESC LIMIT 1) \
             WHERE id = $2",
            D::TRUE,
            D::INSERTION_ORDER
        ));
        tx.write(recount.bind(millis(at)).bind(room_id)).await?;
        tx.commit().await?;
        Ok(ids.len() as u64)
    }

    async fn rooms_with_messages_by(&self, author_id: &str) -> StoreResult<Vec<String>> {
        let select = Query::new(
            "SELECT DISTINCT rid FROM messages WHERE u_id = $1 AND deleted_at IS NULL ORDER BY rid",
        );
        let rows = self.db.read(select.bind(author_id)).await?;
        rows.iter().map(|row| row.text("rid")).collect()
    }

    async fn unlink_messages(
        &self,
        author_id: &str,
        replacement: &UserStub,
        alias: &str,
        at: Timestamp,
    ) -> StoreResult<u64> {
        let update = Query::new(format!(
            "UPDATE messages SET u_id = $1, u_username = $2, u_name = NULL, updated_at = $3, \
             extra = {} WHERE u_id = $5 AND deleted_at IS NULL",
            D::json_set_text("extra", "alias", "$4")
        ))
        .bind(&replacement.id)
        .bind(&replacement.username)
        .bind(millis(at))
        .bind(alias)
        .bind(author_id);
        self.db.write(update).await
    }

    async fn deleted_messages(
        &self,
        room_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<(String, Timestamp)>> {
        let select = Query::new(format!(
            "SELECT id, deleted_at FROM messages WHERE rid = $1 AND deleted_at IS NOT NULL \
             AND deleted_at > $2 ORDER BY deleted_at, {}",
            D::INSERTION_ORDER
        ));
        let rows = self
            .db
            .read(select.bind(room_id).bind(millis(since)))
            .await?;
        rows.iter()
            .map(|row| Ok((row.text("id")?, from_millis(row.int("deleted_at")?)?)))
            .collect()
    }

    async fn deleted_messages_between(
        &self,
        room_id: &str,
        after: Option<Timestamp>,
        before: Option<Timestamp>,
        newest_first: bool,
        limit: Option<u64>,
    ) -> StoreResult<Vec<(String, Timestamp)>> {
        let mut q = Query::default();
        q.push("SELECT id, deleted_at FROM messages WHERE rid = ")
            .push_bind(room_id)
            .push(" AND deleted_at IS NOT NULL");
        if let Some(after) = after {
            q.push(" AND deleted_at > ").push_bind(millis(after));
        }
        if let Some(before) = before {
            q.push(" AND deleted_at < ").push_bind(millis(before));
        }
        let direction = if newest_first { "DESC" } else { "ASC" };
        q.push(&format!(
            " ORDER BY deleted_at {direction}, {} {direction}",
            D::INSERTION_ORDER
        ));
        q.push(" LIMIT ").push_bind(self::limit(limit));
        let rows = self.db.read(q).await?;
        rows.iter()
            .map(|row| Ok((row.text("id")?, from_millis(row.int("deleted_at")?)?)))
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
        let mut q = Query::default();
        let mut narrow = |q: &mut Query| push_message_filter::<D>(q, room_id, filter);
        if !D::search(&mut q, room_id, text, oldest_first, &mut narrow) {
            q.push(&format!("SELECT {MESSAGE_COLUMNS} FROM messages"));
            narrow(&mut q);
            let order = if oldest_first { "ASC" } else { "DESC" };
            q.push(&format!(
                " ORDER BY ts {order}, {} {order}",
                D::INSERTION_ORDER
            ));
        }
        q.push(" LIMIT ")
            .push_bind(limit(page_count))
            .push(" OFFSET ")
            .push_bind(offset(page_offset));
        let rows = self.db.read(q).await?;
        rows.iter().map(message_from_row).collect()
    }
}
