//! Row → domain conversions for rooms, subscriptions and messages.

use crate::rows::{corrupt, get, json, opt_time, time};
use comet_core::room::{Message, Room, RoomType, Subscription, UserStub};
use comet_store::StoreResult;
use sqlx::postgres::PgRow;

fn room_type(row: &PgRow, column: &str) -> StoreResult<RoomType> {
    let t: String = get(row, column)?;
    RoomType::parse(&t).ok_or_else(|| corrupt(column, &t))
}

pub(crate) fn room_from_row(row: &PgRow) -> StoreResult<Room> {
    let creator_id: Option<String> = get(row, "creator_id")?;
    Ok(Room {
        id: get(row, "id")?,
        room_type: room_type(row, "t")?,
        name: get(row, "name")?,
        fname: get(row, "fname")?,
        creator: match creator_id {
            Some(id) => Some(UserStub {
                id,
                username: get::<Option<String>>(row, "creator_username")?.unwrap_or_default(),
                name: get(row, "creator_name")?,
            }),
            None => None,
        },
        topic: get(row, "topic")?,
        description: get(row, "description")?,
        announcement: get(row, "announcement")?,
        read_only: get(row, "read_only")?,
        react_when_read_only: get(row, "react_when_read_only")?,
        archived: get(row, "archived")?,
        default: get(row, "is_default")?,
        featured: get(row, "featured")?,
        encrypted: get(row, "encrypted")?,
        broadcast: get(row, "broadcast")?,
        join_code: get(row, "join_code")?,
        muted: get(row, "muted")?,
        user_ids: get(row, "user_ids")?,
        usernames: get(row, "usernames")?,
        message_count: get(row, "msgs")?,
        users_count: get(row, "users_count")?,
        last_message_at: opt_time(row, "lm")?,
        last_message_id: get(row, "last_message_id")?,
        hidden_system_messages: get(row, "sys_mes")?,
        parent_id: get(row, "prid")?,
        custom_fields: json(row, "custom_fields")?,
        created_at: time(row, "created_at")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn subscription_from_row(row: &PgRow) -> StoreResult<Subscription> {
    Ok(Subscription {
        id: get(row, "id")?,
        room_id: get(row, "rid")?,
        room_type: room_type(row, "t")?,
        user: UserStub {
            id: get(row, "user_id")?,
            username: get(row, "username")?,
            name: get(row, "user_name")?,
        },
        name: get(row, "name")?,
        fname: get(row, "fname")?,
        roles: get(row, "roles")?,
        open: get(row, "open")?,
        alert: get(row, "alert")?,
        unread: get(row, "unread")?,
        user_mentions: get(row, "user_mentions")?,
        group_mentions: get(row, "group_mentions")?,
        favorite: get(row, "favorite")?,
        archived: get(row, "archived")?,
        joined_at: time(row, "ts")?,
        last_seen: time(row, "ls")?,
        last_reply: opt_time(row, "lr")?,
        thread_unread: get(row, "tunread")?,
        ignored: get(row, "ignored")?,
        updated_at: time(row, "updated_at")?,
    })
}

pub(crate) fn message_from_row(row: &PgRow) -> StoreResult<Message> {
    let mut message = Message::new(
        get(row, "id")?,
        &get::<String>(row, "rid")?,
        UserStub {
            id: get(row, "u_id")?,
            username: get(row, "u_username")?,
            name: get(row, "u_name")?,
        },
        &get::<String>(row, "msg")?,
        time(row, "ts")?,
    );
    message.kind = get(row, "t")?;
    message.updated_at = time(row, "updated_at")?;
    message.thread_id = get(row, "tmid")?;
    message.thread_show = get(row, "tshow")?;
    message.thread_count = get(row, "tcount")?;
    message.thread_last_at = opt_time(row, "tlm")?;
    message.pinned = get(row, "pinned")?;
    message.deleted_at = opt_time(row, "deleted_at")?;
    message.unread = get(row, "unread")?;
    comet_store::encoding::apply_message_extra(&mut message, &json(row, "extra")?)?;
    Ok(message)
}
