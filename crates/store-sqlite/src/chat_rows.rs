//! Row ↔ domain conversions for rooms, subscriptions and messages.

use crate::rows::{corrupt, from_millis, get, json, string_list};
use comet_core::room::{Mention, Message, Room, RoomType, Subscription, UserStub};
use comet_store::StoreResult;
use serde_json::{Map, Value, json};
use sqlx::sqlite::SqliteRow;
use std::collections::BTreeMap;

fn opt_millis(row: &SqliteRow, column: &str) -> StoreResult<Option<comet_core::Timestamp>> {
    get::<Option<i64>>(row, column)?
        .map(from_millis)
        .transpose()
}

fn room_type(row: &SqliteRow, column: &str) -> StoreResult<RoomType> {
    let t: String = get(row, column)?;
    RoomType::parse(&t).ok_or_else(|| corrupt(column, &t))
}

pub(crate) fn room_from_row(row: &SqliteRow) -> StoreResult<Room> {
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
        muted: string_list(row, "muted")?,
        user_ids: string_list(row, "user_ids")?,
        usernames: string_list(row, "usernames")?,
        message_count: get(row, "msgs")?,
        users_count: get(row, "users_count")?,
        last_message_at: opt_millis(row, "lm")?,
        last_message_id: get(row, "last_message_id")?,
        hidden_system_messages: string_list(row, "sys_mes")?,
        parent_id: get(row, "prid")?,
        custom_fields: json(row, "custom_fields")?,
        created_at: from_millis(get(row, "created_at")?)?,
        updated_at: from_millis(get(row, "updated_at")?)?,
    })
}

pub(crate) fn subscription_from_row(row: &SqliteRow) -> StoreResult<Subscription> {
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
        roles: string_list(row, "roles")?,
        open: get(row, "open")?,
        alert: get(row, "alert")?,
        unread: get(row, "unread")?,
        user_mentions: get(row, "user_mentions")?,
        group_mentions: get(row, "group_mentions")?,
        favorite: get(row, "favorite")?,
        archived: get(row, "archived")?,
        joined_at: from_millis(get(row, "ts")?)?,
        last_seen: from_millis(get(row, "ls")?)?,
        last_reply: opt_millis(row, "lr")?,
        thread_unread: string_list(row, "tunread")?,
        ignored: string_list(row, "ignored")?,
        updated_at: from_millis(get(row, "updated_at")?)?,
    })
}

fn stub_json(stub: &UserStub) -> Value {
    json!({"id": stub.id, "username": stub.username, "name": stub.name})
}

fn stub_from(value: &Value) -> Option<UserStub> {
    Some(UserStub {
        id: value.get("id")?.as_str()?.to_owned(),
        username: value.get("username")?.as_str()?.to_owned(),
        name: value.get("name").and_then(Value::as_str).map(str::to_owned),
    })
}

/// The storage form of the message fields that have no column of their own.
pub(crate) fn message_extra(message: &Message) -> String {
    let mut extra = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            extra.insert(key.to_owned(), value);
        }
    };
    if !message.mentions.is_empty() {
        put(
            "mentions",
            Value::Array(
                message
                    .mentions
                    .iter()
                    .map(|m| json!({"id": m.id, "username": m.username, "name": m.name}))
                    .collect(),
            ),
        );
    }
    if !message.channels.is_empty() {
        put(
            "channels",
            Value::Array(
                message
                    .channels
                    .iter()
                    .map(|(id, name)| json!({"id": id, "name": name}))
                    .collect(),
            ),
        );
    }
    if !message.reactions.is_empty() {
        put("reactions", json!(message.reactions));
    }
    if !message.thread_participants.is_empty() {
        put("replies", json!(message.thread_participants));
    }
    if !message.starred_by.is_empty() {
        put("starred", json!(message.starred_by));
    }
    put(
        "pinnedAt",
        json!(message.pinned_at.map(crate::rows::millis)),
    );
    put(
        "pinnedBy",
        message.pinned_by.as_ref().map_or(Value::Null, stub_json),
    );
    put(
        "editedAt",
        json!(message.edited_at.map(crate::rows::millis)),
    );
    put(
        "editedBy",
        message.edited_by.as_ref().map_or(Value::Null, stub_json),
    );
    put(
        "attachments",
        message.attachments.clone().unwrap_or(Value::Null),
    );
    put("alias", json!(message.alias));
    put("emoji", json!(message.emoji));
    put("avatar", json!(message.avatar));
    put("groupable", json!(message.groupable));
    put(
        "customFields",
        message.custom_fields.clone().unwrap_or(Value::Null),
    );
    put("role", json!(message.role));
    put("drid", json!(message.discussion_id));
    if message.discussion_count > 0 {
        put("dcount", json!(message.discussion_count));
    }
    put(
        "dlm",
        json!(message.discussion_last_at.map(crate::rows::millis)),
    );
    Value::Object(extra).to_string()
}

pub(crate) fn message_from_row(row: &SqliteRow) -> StoreResult<Message> {
    let extra = json(row, "extra")?;
    let field = |key: &str| extra.get(key).filter(|v| !v.is_null());
    let strings = |key: &str| -> Vec<String> {
        field(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let time = |key: &str| -> StoreResult<Option<comet_core::Timestamp>> {
        field(key)
            .and_then(Value::as_i64)
            .map(from_millis)
            .transpose()
    };
    let text = |key: &str| field(key).and_then(Value::as_str).map(str::to_owned);
    let reactions: BTreeMap<String, Vec<String>> = field("reactions")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    Ok(Message {
        id: get(row, "id")?,
        room_id: get(row, "rid")?,
        text: get(row, "msg")?,
        author: UserStub {
            id: get(row, "u_id")?,
            username: get(row, "u_username")?,
            name: get(row, "u_name")?,
        },
        kind: get(row, "t")?,
        created_at: from_millis(get(row, "ts")?)?,
        updated_at: from_millis(get(row, "updated_at")?)?,
        mentions: field("mentions")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|m| {
                        Some(Mention {
                            id: m.get("id")?.as_str()?.to_owned(),
                            username: m.get("username")?.as_str()?.to_owned(),
                            name: m.get("name").and_then(Value::as_str).map(str::to_owned),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default(),
        channels: field("channels")
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|c| {
                        Some((
                            c.get("id")?.as_str()?.to_owned(),
                            c.get("name")?.as_str()?.to_owned(),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default(),
        reactions,
        thread_id: get(row, "tmid")?,
        thread_show: get(row, "tshow")?,
        thread_count: get(row, "tcount")?,
        thread_last_at: opt_millis(row, "tlm")?,
        thread_participants: strings("replies"),
        pinned: get(row, "pinned")?,
        pinned_at: time("pinnedAt")?,
        pinned_by: field("pinnedBy").and_then(stub_from),
        starred_by: strings("starred"),
        edited_at: time("editedAt")?,
        edited_by: field("editedBy").and_then(stub_from),
        attachments: field("attachments").cloned(),
        alias: text("alias"),
        emoji: text("emoji"),
        avatar: text("avatar"),
        groupable: field("groupable").and_then(Value::as_bool),
        custom_fields: field("customFields").cloned(),
        role: text("role"),
        discussion_id: text("drid"),
        discussion_count: field("dcount").and_then(Value::as_i64).unwrap_or(0),
        discussion_last_at: time("dlm")?,
        deleted_at: opt_millis(row, "deleted_at")?,
        unread: get(row, "unread")?,
    })
}
