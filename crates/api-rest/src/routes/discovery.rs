//! `directory`, `spotlight`, and the remaining room administration routes.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{
    any_room_ref, opt_bool, opt_str, opt_str_list, pagination, parse_js_date, req_str, room_ref,
};
use axum::extract::State;
use comet_core::room::RoomType;
use comet_core::{Error, Result};
use comet_protocol::chat;
use comet_protocol::iso;
use comet_protocol::rest::UserWire;
use comet_service::Session;
use comet_service::accounts::UserView;
use comet_service::discovery::{DirectoryKind, DirectoryPage};
use comet_service::message_marks::ThreadKind;
use comet_service::room_admin::{CleanHistory, NewDiscussion};
use comet_service::rooms::{RoomFamily, RoomRef};
use serde_json::{Value, json};

/// `GET /api/v1/directory`: `text`, `type`, `sort` as parameters or inside a JSON `query`.
pub async fn directory(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let legacy: Value = opt_str(&params, "query")?
        .and_then(|q| serde_json::from_str(&q).ok())
        .unwrap_or(Value::Null);
    let text = opt_str(&params, "text")?
        .or(opt_str(&legacy, "text")?)
        .unwrap_or_default();
    let sort = opt_str(&params, "sort")?.and_then(|s| serde_json::from_str::<Value>(&s).ok());
    if sort
        .as_ref()
        .and_then(Value::as_object)
        .is_some_and(|keys| keys.len() > 1)
    {
        return Err(Error::failure("This method support only one \"sort\" parameter").into());
    }
    let kind = match opt_str(&params, "type")?
        .or(opt_str(&legacy, "type")?)
        .as_deref()
    {
        None | Some("channels") => DirectoryKind::Channels,
        Some("users") => DirectoryKind::Users,
        Some("teams") => DirectoryKind::Teams,
        Some(_) => return Err(Error::meteor("error-invalid-type", "Invalid type").into()),
    };
    let descending = sort.and_then(|v| {
        v.as_object()
            .and_then(|o| o.values().next().and_then(Value::as_i64))
    }) == Some(-1);
    let (offset, count) = pagination(&app, &params)?;
    let page = app
        .service
        .rooms()
        .directory(&session, kind, &text, descending, offset, count)
        .await?;
    let (result, total): (Vec<Value>, u64) = match page {
        DirectoryPage::Users(users, total) => (
            users
                .iter()
                .map(|u| {
                    let mut v = UserWire::new(&u.user, u.view == UserView::Full).to_value();
                    if let Value::Object(map) = &mut v {
                        map.insert("createdAt".into(), json!(iso(u.user.created_at)));
                    }
                    v
                })
                .collect(),
            total,
        ),
        DirectoryPage::Channels(rooms, total) => {
            (rooms.iter().map(|r| chat::room(r, None)).collect(), total)
        }
        DirectoryPage::Teams(rooms, total) => (
            rooms
                .iter()
                .map(|(room, rooms_count)| {
                    let mut doc = chat::room(room, None);
                    if let Value::Object(map) = &mut doc {
                        map.insert("roomsCount".into(), json!(rooms_count));
                    }
                    doc
                })
                .collect(),
            total,
        ),
    };
    ok(json!({"result": result, "count": result.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/spotlight`.
pub async fn spotlight(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let query = req_str(&params, "query")?;
    let found = app.service.rooms().spotlight(&session, &query).await?;
    let users: Vec<Value> = found
        .users
        .iter()
        .map(|u| json!({"_id": u.id, "name": u.name, "username": u.username, "status": u.status.as_str(), "statusText": u.status_text}))
        .collect();
    let rooms: Vec<Value> = found.rooms.iter().map(|r| chat::room(r, None)).collect();
    ok(json!({"users": users, "rooms": rooms}))
}

/// `channels.addAll`, `groups.addAll`.
pub async fn add_all(
    family: super::rooms::Family,
    app: AppState,
    session: Session,
    body: Value,
) -> ApiResult {
    let room = app
        .service
        .rooms()
        .room_for(&session, &room_ref(&body)?, family.family)
        .await?;
    super::rooms::refuse_archived(family, &room)?;
    let active_only = opt_bool(&body, "activeUsersOnly")?.unwrap_or(false);
    app.service
        .rooms()
        .add_all_users(&session, &room, active_only)
        .await?;
    let room = app
        .service
        .rooms()
        .find_room_unchecked(&RoomRef::Id(room.id.clone()))
        .await?
        .ok_or_else(|| Error::meteor("error-room-not-found", "Room not found"))?;
    let view = app.service.rooms().room_view(room).await?;
    ok(json!({ family.one: chat::room(&view.room, view.last_message.as_ref()) }))
}

/// `POST /api/v1/rooms.saveRoomSettings`: several settings at once, by the names of upstream's
/// `saveRoomSettings` method, which decides everything else.
pub async fn save_room_settings(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = req_str(&body, "rid")?;
    let mut settings = body.as_object().cloned().unwrap_or_default();
    settings.remove("rid");
    // Form bodies carry booleans as "true"/"false".
    for (name, value) in settings.iter_mut() {
        if let Value::String(_) = value
            && BOOLEAN_SETTINGS.contains(&name.as_str())
            && let Some(flag) = opt_bool(&body, name)?
        {
            *value = Value::Bool(flag);
        }
    }
    let rid = app
        .service
        .rooms()
        .save_room_settings(&session, Some(&room_id), &settings)
        .await?;
    ok(json!({ "rid": rid }))
}

/// The settings `rooms.saveRoomSettings` types as booleans.
const BOOLEAN_SETTINGS: &[&str] = &[
    "featured",
    "readOnly",
    "reactWhenReadOnly",
    "default",
    "encrypted",
    "retentionEnabled",
    "retentionExcludePinned",
    "retentionFilesOnly",
    "retentionIgnoreThreads",
    "retentionOverrideGlobal",
];

/// `GET /api/v1/rooms.adminRooms`.
pub async fn admin_rooms(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let types: Vec<RoomType> = opt_str_list(&query, "types")?
        .unwrap_or_default()
        .iter()
        .filter_map(|t| RoomType::parse(t))
        .collect();
    let filter = opt_str(&query, "filter")?.filter(|s| !s.is_empty());
    let (offset, count) = pagination(&app, &query)?;
    let (rooms, total) = app
        .service
        .rooms()
        .admin_rooms(&session, &types, filter, offset, count)
        .await?;
    let docs: Vec<Value> = rooms.iter().map(|r| chat::room(r, None)).collect();
    ok(json!({"rooms": docs, "count": docs.len(), "offset": offset, "total": total}))
}

fn date(body: &Value, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    match opt_str(body, name)? {
        None => Ok(None),
        Some(raw) => parse_js_date(&raw)
            .map(Some)
            .ok_or_else(|| Error::invalid_params(format!("must be a valid date: {name}"))),
    }
}

/// `POST /api/v1/rooms.cleanHistory`.
pub async fn clean_history(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = req_str(&body, "roomId")?;
    let latest = date(&body, "latest")?
        .ok_or_else(|| Error::invalid_params("must have required property 'latest'"))?;
    let oldest = date(&body, "oldest")?
        .ok_or_else(|| Error::invalid_params("must have required property 'oldest'"))?;
    let clean = CleanHistory {
        latest: Some(latest),
        oldest: Some(oldest),
        inclusive: opt_bool(&body, "inclusive")?.unwrap_or(false),
        exclude_pinned: opt_bool(&body, "excludePinned")?.unwrap_or(false),
        ignore_threads: opt_bool(&body, "ignoreThreads")?.unwrap_or(false),
        user_ids: user_ids(&app, opt_str_list(&body, "users")?.unwrap_or_default()).await?,
        limit: crate::params::opt_u64(&body, "limit")?.filter(|l| *l > 0),
        files_only: opt_bool(&body, "filesOnly")?.unwrap_or(false),
    };
    let count = app
        .service
        .rooms()
        .clean_history(&session, &room_id, clean)
        .await?;
    ok(json!({"_id": room_id, "count": count}))
}

async fn user_ids(app: &AppState, usernames: Vec<String>) -> Result<Vec<String>> {
    let mut ids = Vec::with_capacity(usernames.len());
    for name in usernames {
        let user = app
            .service
            .accounts()
            .require_user(&comet_service::accounts::UserRef::Username(name))
            .await?;
        ids.push(user.id);
    }
    Ok(ids)
}

/// `POST /api/v1/rooms.createDiscussion`.
pub async fn create_discussion(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(parent) = opt_str(&body, "prid")?.filter(|s| !s.is_empty()) else {
        return Err(Error::failure("Body parameter \"prid\" is required.").into());
    };
    let Some(name) = opt_str(&body, "t_name")?.filter(|s| !s.is_empty()) else {
        return Err(Error::failure("Body parameter \"t_name\" is required.").into());
    };
    // Upstream refuses a `users` that is set (truthy) but not a list.
    let truthy = |v: &Value| match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    };
    if body
        .get("users")
        .is_some_and(|users| truthy(users) && !users.is_array())
    {
        return Err(Error::failure("Body parameter \"users\" must be an array.").into());
    }
    let discussion = NewDiscussion {
        parent_room_id: parent,
        name,
        parent_message_id: opt_str(&body, "pmid")?.filter(|s| !s.is_empty()),
        reply: opt_str(&body, "reply")?,
        usernames: opt_str_list(&body, "users")?.unwrap_or_default(),
        topic: opt_str(&body, "topic")?,
    };
    let room = app
        .service
        .rooms()
        .create_discussion(&session, discussion)
        .await?;
    // Upstream answers what its createRoom returns: the room and its id again as `rid`.
    let mut discussion = chat::room(&room, None);
    if let Value::Object(fields) = &mut discussion {
        fields.insert("rid".into(), json!(room.id));
    }
    ok(json!({ "discussion": discussion }))
}

/// `GET /api/v1/rooms.getDiscussions`.
pub async fn room_discussions(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room = app
        .service
        .rooms()
        .room_for(&session, &any_room_ref(&query)?, RoomFamily::Any)
        .await?;
    let (offset, count) = pagination(&app, &query)?;
    let (rooms, total) = app
        .service
        .rooms()
        .discussions(&session, &room, offset, count)
        .await?;
    let docs: Vec<Value> = rooms.iter().map(|r| chat::room(r, None)).collect();
    ok(json!({"discussions": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/chat.getDiscussions`: the `discussion-created` messages of a room.
pub async fn chat_discussions(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "roomId")?;
    let room = app
        .service
        .rooms()
        .room_for(&session, &RoomRef::Id(room_id), RoomFamily::Any)
        .await
        // Upstream's `findDiscussionsFromRoom` throws a bare error for a room it cannot read.
        .map_err(|_| Error::failure("error-not-allowed"))?;
    let (offset, count) = pagination(&app, &query)?;
    let filter = comet_core::page::MessageFilter {
        discussions: true,
        text_contains: opt_str(&query, "text")?.filter(|t| !t.is_empty()),
        ..comet_core::page::MessageFilter::default()
    };
    let page = comet_core::page::Page {
        offset,
        count,
        sort: vec![(
            comet_core::page::MessageSortKey::CreatedAt,
            comet_core::page::Direction::Descending,
        )],
    };
    let (messages, total) = app
        .service
        .messages()
        .room_messages(&room, &filter, &page)
        .await?;
    let docs: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({"messages": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/chat.ignoreUser`.
pub async fn ignore_user(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "rid")?;
    let user_id = req_str(&query, "userId")?;
    let ignore = opt_bool(&query, "ignore")?.unwrap_or(true);
    app.service
        .rooms()
        .ignore_user(&session, &room_id, &user_id, ignore)
        .await?;
    ok(Value::Null)
}

/// `GET /api/v1/chat.getMessageReadReceipts`: who read the message; empty while read
/// receipts are off.
pub async fn read_receipts(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let Some(message_id) = opt_str(&query, "messageId")?.filter(|s| !s.is_empty()) else {
        return Err(Error::failure("The required 'messageId' param is missing.").into());
    };
    let receipts = app
        .service
        .messages()
        .read_receipts(&session, &message_id)
        .await?;
    let receipts: Vec<Value> = receipts
        .into_iter()
        .map(|r| {
            json!({
                "_id": format!("{}{}", r.message_id, r.user.id),
                "roomId": r.room_id,
                "messageId": r.message_id,
                "userId": r.user.id,
                "ts": iso(r.at),
                "user": {"_id": r.user.id, "username": r.user.username, "name": r.user.name},
            })
        })
        .collect();
    ok(json!({ "receipts": receipts }))
}

/// `GET /api/v1/channels.getAllUserMentionsByChannel`: messages mentioning the caller.
pub async fn mentions_in_channel(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let (docs, total, offset) =
        super::chat::marked_page(&app, &session, super::chat::Marked::Mentioned, &query).await?;
    ok(json!({"mentions": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `channels.online`, `groups.online`: members who are not offline. The room comes as `_id`,
/// `roomId` or upstream's JSON `query={"_id": ...}`.
pub async fn online(
    family: super::rooms::Family,
    app: AppState,
    session: Session,
    query: Value,
) -> ApiResult {
    let legacy: Value = opt_str(&query, "query")?
        .and_then(|q| serde_json::from_str(&q).ok())
        .unwrap_or(Value::Null);
    let Some(room_id) = opt_str(&query, "_id")?
        .or(opt_str(&query, "roomId")?)
        .or(opt_str(&legacy, "_id")?)
        .filter(|s| !s.is_empty())
    else {
        return Err(Error::failure("Invalid query").into());
    };
    let members = app
        .service
        .rooms()
        .online_members(&session, &RoomRef::Id(room_id), family.family)
        .await?;
    let online: Vec<Value> = members
        .iter()
        .map(|u| json!({"_id": u.id, "username": u.username}))
        .collect();
    ok(json!({"online": online}))
}

/// `GET /api/v1/chat.syncThreadsList`: thread roots changed since a time.
pub async fn sync_threads_list(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "rid")?;
    let since = super::chat::required_iso_date(&query, "updatedSince")?;
    let (threads, _) = app
        .service
        .messages()
        .threads(&session, &room_id, ThreadKind::All, None, 0, None)
        .await?;
    let update: Vec<Value> = threads
        .iter()
        .filter(|m| m.updated_at > since)
        .map(chat::message)
        .collect();
    ok(json!({"threads": {"update": update, "remove": []}}))
}
