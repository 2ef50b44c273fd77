//! `chat.*`, `rooms.*` and `subscriptions.*`.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{
    json_sort, opt_bool, opt_str, opt_str_list, opt_u64, pagination, parse_js_date, req_str,
    room_ref,
};
use axum::extract::State;
use comet_core::page::{Direction, MemberFilter};
use comet_core::room::Room;
use comet_core::{Error, Result};
use comet_protocol::chat;
use comet_service::Session;
use comet_service::accounts::UserRef;
use comet_service::message_marks::ThreadKind;
use comet_service::rooms::{RoomAccess, RoomFamily, RoomRef};
use serde_json::{Value, json};

/// Resolves `chat.postMessage`'s `channel`: `#name`, `@username`, or a room id or name;
/// joins public channels the caller is not in, as upstream.
async fn post_target(app: &AppState, session: &Session, target: &str) -> Result<RoomAccess> {
    let invalid = || Error::meteor("invalid-channel", "");
    let target = target.trim();
    if let Some(username) = target.strip_prefix('@') {
        let room = app
            .service
            .rooms()
            .create_direct(session, &[username.to_owned()], false)
            .await
            .map_err(|_| invalid())?;
        return writable(app, session, room).await;
    }
    let name = target.strip_prefix('#').unwrap_or(target);
    let room = match app
        .service
        .rooms()
        .find_room_unchecked(&RoomRef::Id(name.to_owned()))
        .await?
    {
        Some(room) => Some(room),
        None => {
            app.service
                .rooms()
                .find_room_unchecked(&RoomRef::Name(name.to_owned()))
                .await?
        }
    };
    let Some(room) = room else {
        return Err(invalid());
    };
    app.service
        .rooms()
        .room_access_joining(session, room)
        .await?
        .ok_or_else(|| Error::failure("error-not-allowed"))
}

/// Access to a room `chat.postMessage` found by name: a room the caller may not read is
/// refused as the send itself refuses it ("error-not-allowed"); the send checks the rest.
async fn writable(app: &AppState, session: &Session, room: Room) -> Result<RoomAccess> {
    app.service
        .rooms()
        .room_access(session, room)
        .await?
        .ok_or_else(|| Error::failure("error-not-allowed"))
}

/// `POST /api/v1/chat.postMessage`.
pub async fn post_message(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let target = match (opt_str(&body, "roomId")?, opt_str(&body, "channel")?) {
        (Some(id), _) if !id.is_empty() => id,
        (_, Some(channel)) if !channel.is_empty() => channel,
        _ => return Err(Error::invalid_params("must have required property 'roomId'").into()),
    };
    let mut new = chat::new_message(&body, "text")?;
    new.id = None;
    // Upstream's webhook path: `parseUrls` defaults to "no attachments".
    if new.parse_urls.is_none() && new.attachments.is_some() {
        new.parse_urls = Some(false);
    }
    if new.text.is_empty() {
        new.text = opt_str(&body, "msg")?.unwrap_or_default();
    }
    let messages = app.service.messages();
    let attachment_too_long = new.attachments.as_ref().is_some_and(|attachments| {
        comet_core::message_rules::attachment_texts(attachments)
            .any(|text| messages.message_too_long(text))
    });
    if messages.message_too_long(&new.text) || attachment_too_long {
        return Err(Error::failure("error-message-size-exceeded").into());
    }
    let room = post_target(&app, &session, &target).await?;
    let message = app
        .service
        .messages()
        .send_message(&session, &room, new)
        .await?;
    ok(json!({
        "ts": message.created_at.timestamp_millis(),
        "channel": target,
        "message": chat::message(&message),
    }))
}

/// `POST /api/v1/chat.sendMessage`.
pub async fn send_message(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(message) = body.get("message").filter(|m| m.is_object()) else {
        return Err(Error::invalid_params("must have required property 'message'").into());
    };
    if message.get("t").is_some_and(|t| !t.is_null()) {
        return Err(Error::failure("Cannot send system messages using 'chat.sendMessage'").into());
    }
    let Some(room_id) = opt_str(message, "rid")?.filter(|r| !r.is_empty()) else {
        return Err(Error::failure("The 'rid' property on the message object is missing.").into());
    };
    let room = app
        .service
        .rooms()
        .room_for(&session, &RoomRef::Id(room_id), RoomFamily::Any)
        .await
        .map_err(|_| Error::failure("error-invalid-room"))?;
    let mut new = chat::new_message(message, "msg")?;
    new.preview_urls = chat::preview_urls(body.get("previewUrls"))?;
    let message = app
        .service
        .messages()
        .send_message(&session, &room, new)
        .await?;
    ok(json!({"message": chat::message(&message)}))
}

/// `POST /api/v1/chat.update`.
pub async fn update(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = req_str(&body, "roomId")?;
    let message_id = req_str(&body, "msgId")?;
    let text = req_str(&body, "text")?;
    let preview_urls = chat::preview_urls(body.get("previewUrls"))?;
    let custom_fields = match body.get("customFields") {
        None | Some(Value::Null) => None,
        Some(fields @ Value::Object(_)) => Some(fields),
        Some(_) => return Err(Error::invalid_params("must be object").into()),
    };
    let message = app
        .service
        .messages()
        .update_message(
            &session,
            &room_id,
            &message_id,
            &text,
            preview_urls.as_deref(),
            custom_fields,
        )
        .await?;
    ok(json!({"message": chat::message(&message)}))
}

/// `POST /api/v1/chat.delete`.
pub async fn delete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = req_str(&body, "roomId")?;
    let message_id = req_str(&body, "msgId")?;
    let message = app
        .service
        .messages()
        .delete_message(&session, &room_id, &message_id)
        .await?;
    ok(json!({
        "_id": message.id,
        "ts": comet_core::now().timestamp_millis().to_string(),
        "message": {"_id": message.id, "rid": message.room_id, "u": {"_id": message.author.id, "username": message.author.username}},
    }))
}

/// `GET /api/v1/chat.getMessage`.
pub async fn get_message(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let Some(message_id) = opt_str(&query, "msgId")?.filter(|s| !s.is_empty()) else {
        return Err(Error::failure("The \"msgId\" query parameter must be provided.").into());
    };
    let (message, _) = app
        .service
        .messages()
        .readable_message(&session, &message_id)
        .await
        .map_err(|e| {
            if e.code.as_deref() == Some("error-message-not-found") {
                Error::failure("")
            } else {
                e
            }
        })?;
    ok(json!({"message": chat::message(&message)}))
}

/// `GET /api/v1/chat.getURLPreview?roomId=&url=`: `{urlPreview: {url, meta, headers?,
/// ignoreParse: true}}` for a room the caller may read; a page that cannot be previewed gives
/// empty `meta`, not an error.
pub async fn url_preview(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "roomId")?;
    let url = req_str(&query, "url")?;
    let room = app
        .service
        .rooms()
        .room_for(&session, &RoomRef::Id(room_id), RoomFamily::Any)
        .await
        .map_err(|_| Error::meteor("error-not-allowed", "Not allowed"))?;
    let preview = app.service.messages().url_preview(&room, &url).await;
    ok(json!({"urlPreview": chat::message_url(&preview)}))
}

/// `POST /api/v1/chat.react`.
pub async fn react(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let message_id = req_str(&body, "messageId")?;
    let Some(emoji) = opt_str(&body, "emoji")?.or(opt_str(&body, "reaction")?) else {
        return Err(Error::meteor(
            "error-emoji-param-not-provided",
            "The required \"emoji\" param is missing.",
        )
        .into());
    };
    let should_react = opt_bool(&body, "shouldReact")?;
    app.service
        .messages()
        .react(&session, &message_id, &emoji, should_react)
        .await?;
    ok(Value::Null)
}

/// `GET /api/v1/chat.search`.
pub async fn search(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let Some(room_id) = opt_str(&query, "roomId")?.filter(|s| !s.is_empty()) else {
        return Err(Error::meteor(
            "error-roomId-param-not-provided",
            "The required \"roomId\" query param is missing.",
        )
        .into());
    };
    let Some(text) = opt_str(&query, "searchText")?.filter(|s| !s.is_empty()) else {
        return Err(Error::meteor(
            "error-searchText-param-not-provided",
            "The required \"searchText\" query param is missing.",
        )
        .into());
    };
    let (offset, count) = pagination(&app, &query)?;
    let messages = app
        .service
        .messages()
        .search_messages(&session, &room_id, &text, offset, count)
        .await?;
    let docs: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({"messages": docs}))
}

fn updated_since(
    query: &Value,
    code: &'static str,
    reason: &'static str,
) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    match opt_str(query, "updatedSince")? {
        None => Ok(None),
        Some(raw) => parse_js_date(&raw)
            .map(Some)
            .ok_or_else(|| Error::meteor(code, reason)),
    }
}

/// `GET /api/v1/rooms.get`.
pub async fn rooms_get(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let since = updated_since(
        &query,
        "error-updatedSince-param-invalid",
        "The \"updatedSince\" query parameter must be a valid date.",
    )?;
    let rooms = app
        .service
        .rooms()
        .subscribed_rooms(&session, since)
        .await?;
    let update: Vec<Value> = rooms
        .iter()
        .map(|v| chat::room(&v.room, v.last_message.as_ref()))
        .collect();
    let remove: Vec<Value> = match since {
        Some(since) => app
            .service
            .rooms()
            .removed_rooms(&session, since)
            .await?
            .iter()
            .map(|(id, at)| json!({"_id": id, "_deletedAt": comet_protocol::iso(*at)}))
            .collect(),
        None => Vec::new(),
    };
    ok(json!({"update": update, "remove": remove}))
}

/// `GET /api/v1/rooms.info`.
pub async fn rooms_info(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let reference = crate::params::any_room_ref(&query)?;
    let room = app
        .service
        .rooms()
        .room_for(&session, &reference, RoomFamily::Any)
        .await
        .map_err(|_| Error::failure_typed("not-allowed", "Not Allowed"))?;
    let discussion_parent = app.service.rooms().discussion_parent(&room).await?;
    let team = app.service.rooms().team_of(&room).await?;
    let view = app.service.rooms().room_view(room.into_room()).await?;
    let doc = chat::room(&view.room, view.last_message.as_ref());
    let doc = super::avatars::with_room_etag(&app, &view.room.id, doc).await?;
    let mut body = json!({"room": doc});
    let mut parent = discussion_parent;
    if let Some((team, main_room)) = team {
        body["team"] = json!({
            "_id": team.id,
            "name": team.name,
            "roomId": team.room_id,
            "type": team.team_type.as_number(),
        });
        // A discussion's own parent comes first, as upstream's `discussionParent || parentRoom`.
        parent = parent.or(main_room);
    }
    if let Some(parent) = parent {
        body["parent"] = chat::room_summary(&parent);
    }
    ok(body)
}

/// `GET /api/v1/rooms.membersOrderedByRole`: a channel's or group's active members, owners
/// first, then leaders, moderators and everyone else; within each, online before away before
/// offline, then by username (or name, with `UI_Use_Real_Name`).
pub async fn rooms_members_ordered_by_role(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    // Upstream's schema: exactly one of `roomId` and `roomName`, no other fields.
    const ALLOWED: &[&str] = &[
        "roomId", "roomName", "status", "filter", "count", "offset", "sort",
    ];
    if let Value::Object(fields) = &query
        && fields.keys().any(|k| !ALLOWED.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties").into());
    }
    let room = match (opt_str(&query, "roomId")?, opt_str(&query, "roomName")?) {
        (Some(id), None) => RoomRef::Id(id),
        (None, Some(name)) => RoomRef::Name(name),
        (None, None) => {
            return Err(Error::invalid_params(
                "must have required property 'roomId'\n must have required property 'roomName'\n must match exactly one schema in oneOf",
            )
            .into());
        }
        (Some(_), Some(_)) => {
            return Err(Error::invalid_params("must match exactly one schema in oneOf").into());
        }
    };
    let statuses = opt_str_list(&query, "status")?.unwrap_or_default();
    let search = opt_str(&query, "filter")?.filter(|f| !f.is_empty());
    let access = app
        .service
        .rooms()
        .member_list_access(&session, &room)
        .await?;
    let (offset, count) = pagination(&app, &query)?;
    // Upstream orders by `rolePriority` and `username` from `sort`; other fields are ignored.
    #[derive(Clone, Copy, PartialEq)]
    enum Order {
        RolePriority,
        Username,
        Other,
    }
    let sort = json_sort(&query, Vec::new(), |field| {
        Some(match field {
            "rolePriority" => Order::RolePriority,
            "username" => Order::Username,
            _ => Order::Other,
        })
    })?;
    let direction_of = |wanted| sort.iter().find(|(o, _)| *o == wanted).map(|(_, d)| *d);
    let by_username = direction_of(Order::Username);
    let filter = MemberFilter {
        statuses,
        search,
        role_order: direction_of(Order::RolePriority).unwrap_or(Direction::Ascending),
        by_name: by_username.is_none() && app.service.setting_bool("UI_Use_Real_Name"),
        name_order: by_username.unwrap_or(Direction::Ascending),
    };
    let (members, total) = app
        .service
        .rooms()
        .members_by_role(&access, &filter, offset, count)
        .await?;
    let docs: Vec<Value> = members
        .iter()
        .map(|(subscription, user)| chat::member_with_roles(user, subscription))
        .collect();
    ok(json!({"members": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/rooms.isMember?roomId=&(userId=|username=)`.
pub async fn rooms_is_member(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    // Upstream's schema: `roomId`, and exactly one of `userId` and `username`.
    let room_id = req_str(&query, "roomId")?;
    let user = match (opt_str(&query, "userId")?, opt_str(&query, "username")?) {
        (Some(id), None) => UserRef::Id(id),
        (None, Some(name)) => UserRef::Username(name),
        (None, None) => {
            return Err(Error::invalid_params(
                "must have required property 'userId'\n must have required property 'username'\n must match exactly one schema in oneOf",
            )
            .into());
        }
        (Some(_), Some(_)) => {
            return Err(Error::invalid_params("must match exactly one schema in oneOf").into());
        }
    };
    let is_member = app
        .service
        .rooms()
        .is_member(&session, &RoomRef::Id(room_id), &user)
        .await?;
    ok(json!({"isMember": is_member}))
}

/// The body of `rooms.muteUser`, `rooms.banUser` and their undoing: upstream's schema is one
/// of `{userId, roomId}` and `{username, roomId}`, nothing else.
fn room_and_user(body: &Value) -> Result<(String, UserRef), Error> {
    let room_id = opt_str(body, "roomId")?.filter(|r| !r.is_empty());
    let user = match (
        opt_str(body, "userId")?.filter(|u| !u.is_empty()),
        opt_str(body, "username")?.filter(|u| !u.is_empty()),
    ) {
        (Some(id), None) => Some(UserRef::Id(id)),
        (None, Some(name)) => Some(UserRef::Username(name)),
        (None, None) => None,
        (Some(_), Some(_)) => {
            return Err(Error::invalid_params(
                "must match exactly one schema in oneOf",
            ));
        }
    };
    let (Some(room_id), Some(user)) = (room_id, user) else {
        let mut missing = Vec::new();
        if !matches!(body.get("userId"), Some(Value::String(_))) {
            missing.push("must have required property 'userId'");
        }
        if body
            .get("roomId")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            missing.push("must have required property 'roomId'");
        }
        if !matches!(body.get("username"), Some(Value::String(_))) {
            missing.push("must have required property 'username'");
        }
        missing.push("must match exactly one schema in oneOf");
        return Err(Error::invalid_params(missing.join("\n ")));
    };
    Ok((room_id, user))
}

/// `POST /api/v1/rooms.muteUser` and `rooms.unmuteUser` `{roomId, userId | username}`.
pub async fn rooms_mute_user(
    muted: bool,
    app: AppState,
    session: comet_service::Session,
    body: Value,
) -> ApiResult {
    let (room_id, user) = room_and_user(&body)?;
    let user = app.service.accounts().require_user(&user).await?;
    app.service
        .rooms()
        .set_muted(&session, &room_id, &user.username, muted)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/rooms.leave`.
pub async fn rooms_leave(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let reference = room_ref(&body)?;
    let room = app
        .service
        .rooms()
        .room_for(&session, &reference, RoomFamily::Any)
        .await?;
    app.service.rooms().leave_room(&session, &room).await?;
    ok(Value::Null)
}

/// `GET /api/v1/subscriptions.get`.
pub async fn subscriptions_get(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let since = updated_since(
        &query,
        "error-roomId-param-invalid",
        "The \"lastUpdate\" query parameter must be a valid date.",
    )?;
    let subs = app.service.rooms().subscriptions(&session, since).await?;
    let update: Vec<Value> = subs
        .iter()
        .map(|s| chat::own_subscription(s, &session.user.preferences))
        .collect();
    let remove: Vec<Value> = match since {
        Some(since) => app
            .service
            .rooms()
            .removed_subscriptions(&session, since)
            .await?
            .iter()
            .map(|s| json!({"_id": s.id, "_deletedAt": comet_protocol::iso(s.removed_at)}))
            .collect(),
        None => Vec::new(),
    };
    ok(json!({"update": update, "remove": remove}))
}

/// `GET /api/v1/subscriptions.getOne`.
pub async fn subscriptions_get_one(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "roomId")?;
    let subscription = app.service.rooms().subscription(&session, &room_id).await?;
    ok(json!({"subscription": subscription
        .as_ref()
        .map(|s| chat::own_subscription(s, &session.user.preferences))}))
}

/// `POST /api/v1/subscriptions.read`.
pub async fn subscriptions_read(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let rid = opt_str(&body, "rid")?;
    let room_id_param = opt_str(&body, "roomId")?;
    // Upstream's schema takes `rid` or `roomId`, each in a variant that allows no other key:
    // a body with both matches neither.
    if rid.is_some() && room_id_param.is_some() {
        return Err(Error::invalid_params("must NOT have additional properties").into());
    }
    let Some(room_id) = rid.or(room_id_param).filter(|s| !s.is_empty()) else {
        return Err(Error::invalid_params("must have required property 'rid'").into());
    };
    let read_threads = opt_bool(&body, "readThreads")?.unwrap_or(false);
    app.service
        .rooms()
        .mark_read(&session, &room_id, read_threads)
        .await
        .map_err(|_| Error::failure("error-invalid-subscription"))?;
    ok(Value::Null)
}

/// `chat.pinMessage` → `{message}` (the `message_pinned` notice); `chat.unPinMessage` → `{}`.
pub async fn pin(pinned: bool, app: AppState, session: Session, body: Value) -> ApiResult {
    let message_id = req_str(&body, "messageId")?;
    let notice = app
        .service
        .messages()
        .pin_message(&session, &message_id, pinned)
        .await?;
    match notice {
        Some(notice) if pinned => ok(json!({"message": chat::message(&notice)})),
        _ => ok(Value::Null),
    }
}

/// `chat.starMessage` / `chat.unStarMessage`.
pub async fn star(starred: bool, app: AppState, session: Session, body: Value) -> ApiResult {
    let message_id = req_str(&body, "messageId")?;
    app.service
        .messages()
        .star_message(&session, &message_id, starred)
        .await?;
    ok(Value::Null)
}

/// `chat.followMessage` / `chat.unfollowMessage`.
pub async fn follow(follow: bool, app: AppState, session: Session, body: Value) -> ApiResult {
    let message_id = req_str(&body, "mid")?;
    app.service
        .messages()
        .follow_thread(&session, &message_id, follow)
        .await?;
    ok(Value::Null)
}

/// Which marked messages a listing returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marked {
    Pinned,
    Starred,
    Mentioned,
}

/// A page of a room's pinned, starred-by-me or mentioning-me messages, the total and the offset.
pub async fn marked_page(
    app: &AppState,
    session: &Session,
    which: Marked,
    query: &Value,
) -> Result<(Vec<Value>, u64, u64)> {
    let room_id = req_str(query, "roomId")?;
    let room = app
        .service
        .rooms()
        .room_for(session, &RoomRef::Id(room_id), RoomFamily::Any)
        .await
        .map_err(|_| match which {
            Marked::Pinned => Error::meteor("error-not-allowed", "Not allowed"),
            // Upstream's `findStarredMessages`/`findMentionedMessages` throw a bare error.
            Marked::Starred | Marked::Mentioned => Error::failure("error-not-allowed"),
        })?;
    let (offset, count) = pagination(app, query)?;
    let mut filter = comet_core::page::MessageFilter::default();
    match which {
        Marked::Pinned => filter.pinned_only = true,
        Marked::Starred => filter.starred_by = vec![session.user.id.clone()],
        Marked::Mentioned => filter.mentioning = vec![session.user.id.clone()],
    }
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
    Ok((messages.iter().map(chat::message).collect(), total, offset))
}

/// `chat.getPinnedMessages`, `chat.getStarredMessages`, `chat.getMentionedMessages`.
pub async fn marked(which: Marked, app: AppState, session: Session, query: Value) -> ApiResult {
    let (docs, total, offset) = marked_page(&app, &session, which, &query).await?;
    ok(json!({"messages": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/chat.getThreadMessages`.
pub async fn thread_messages(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let thread_id = req_str(&query, "tmid")?;
    let (offset, count) = pagination(&app, &query)?;
    let (messages, total) = app
        .service
        .messages()
        .thread_messages(&session, &thread_id, offset, count)
        .await?;
    let docs: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({"messages": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/chat.getThreadsList`.
pub async fn threads_list(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "rid")?;
    let kind = match opt_str(&query, "type")?.as_deref() {
        None | Some("all") => ThreadKind::All,
        Some("following") => ThreadKind::Following,
        Some("unread") => ThreadKind::Unread,
        Some(_) => {
            return Err(Error::invalid_params("must be equal to one of the allowed values").into());
        }
    };
    let text = opt_str(&query, "text")?;
    let (offset, count) = pagination(&app, &query)?;
    let (threads, total) = app
        .service
        .messages()
        .threads(&session, &room_id, kind, text.as_deref(), offset, count)
        .await?;
    let docs: Vec<Value> = threads.iter().map(chat::message).collect();
    ok(json!({"threads": docs, "count": docs.len(), "offset": offset, "total": total}))
}

fn required_date(
    query: &Value,
    name: &str,
    code: &'static str,
    reason: &'static str,
) -> Result<chrono::DateTime<chrono::Utc>> {
    let raw = opt_str(query, name)?.ok_or_else(|| Error::meteor(code, reason))?;
    parse_js_date(&raw).ok_or_else(|| Error::meteor(code, reason))
}

/// A required ISO date-time parameter, refused as upstream's schema refuses it.
pub(crate) fn required_iso_date(
    query: &Value,
    name: &str,
) -> Result<chrono::DateTime<chrono::Utc>> {
    let raw = opt_str(query, name)?
        .ok_or_else(|| Error::invalid_params(format!("must have required property '{name}'")))?;
    chrono::DateTime::parse_from_rfc3339(&raw)
        .map(|d| d.with_timezone(&chrono::Utc))
        .map_err(|_| Error::invalid_params("must match format \"iso-date-time\""))
}

/// `GET /api/v1/chat.syncThreadMessages`.
pub async fn sync_thread_messages(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let thread_id = req_str(&query, "tmid")?;
    let since = required_iso_date(&query, "updatedSince")?;
    let messages = app
        .service
        .messages()
        .sync_thread_messages(&session, &thread_id, since)
        .await?;
    let docs: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({"messages": {"update": docs, "remove": []}}))
}

/// `GET /api/v1/chat.syncMessages` (the `lastUpdate` form).
pub async fn sync_messages(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    use comet_service::message_marks::{SyncKind, SyncRequest};
    let kind = match opt_str(&query, "type")?.as_deref() {
        None => None,
        Some("UPDATED") => Some(SyncKind::Updated),
        Some("DELETED") => Some(SyncKind::Deleted),
        Some(_) => {
            return Err(Error::invalid_params("must be equal to one of the allowed values").into());
        }
    };
    let count = opt_u64(&query, "count")?.unwrap_or(0);
    let Some(room_id) = opt_str(&query, "roomId")?.filter(|s| !s.is_empty()) else {
        return Err(Error::invalid_params("must have required property 'roomId'").into());
    };
    let last_update = opt_str(&query, "lastUpdate")?.filter(|s| !s.is_empty());
    if last_update.is_none() && kind.is_none() {
        return Err(Error::meteor(
            "error-param-required",
            "The \"type\" or \"lastUpdate\" parameters must be provided",
        )
        .into());
    }
    let last_update = last_update
        .map(|raw| {
            parse_js_date(&raw).ok_or_else(|| {
                Error::meteor(
                    "error-lastUpdate-param-invalid",
                    "The \"lastUpdate\" query parameter must be a valid date",
                )
            })
        })
        .transpose()?;
    let request = SyncRequest {
        last_update,
        kind,
        next: opt_str(&query, "next")?.filter(|s| !s.is_empty()),
        previous: opt_str(&query, "previous")?.filter(|s| !s.is_empty()),
        count,
    };
    let page = app
        .service
        .messages()
        .sync_messages_page(&session, &room_id, request)
        .await?;
    let updated: Vec<Value> = page.updated.iter().map(chat::message).collect();
    let deleted: Vec<Value> = page
        .deleted
        .iter()
        .map(|(id, at)| json!({"_id": id, "_deletedAt": comet_protocol::iso(*at)}))
        .collect();
    let mut result = json!({"updated": updated, "deleted": deleted});
    if let (Some((next, previous)), Value::Object(map)) = (page.cursor, &mut result) {
        map.insert("cursor".into(), json!({"next": next, "previous": previous}));
    }
    ok(json!({ "result": result }))
}

/// `GET /api/v1/chat.getDeletedMessages`.
pub async fn deleted_messages(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "roomId")?;
    let since = required_date(
        &query,
        "since",
        "error-roomId-param-invalid",
        "The \"since\" query parameter must be a valid date.",
    )?;
    let (offset, count) = pagination(&app, &query)?;
    let deleted = app
        .service
        .messages()
        .deleted_messages(&session, &room_id, since)
        .await?;
    let total = deleted.len();
    let docs: Vec<Value> = deleted
        .iter()
        .skip(usize::try_from(offset).unwrap_or(usize::MAX))
        .take(count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX)))
        .map(|(id, _)| json!({"_id": id}))
        .collect();
    ok(json!({"messages": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `POST /api/v1/rooms.favorite`.
pub async fn rooms_favorite(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(favorite) = opt_bool(&body, "favorite")? else {
        return Err(Error::failure("The 'favorite' param is required").into());
    };
    let room = app
        .service
        .rooms()
        .room_for(&session, &room_ref(&body)?, RoomFamily::Any)
        .await?;
    app.service
        .messages()
        .set_favorite(&session, &room.id, favorite)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/rooms.saveNotification` `{roomId, notifications: {field: value, ...}}`: the
/// caller's notification preferences for a room, each value a string as the method takes it.
pub async fn rooms_save_notification(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(room_id) = opt_str(&body, "roomId")?.filter(|s| !s.is_empty()) else {
        return Err(Error::failure("The 'roomId' param is required").into());
    };
    let settings = match body.get("notifications") {
        Some(Value::Object(fields)) if !fields.is_empty() => fields,
        _ => return Err(Error::failure("The 'notifications' param is required").into()),
    };
    let mut pairs = Vec::with_capacity(settings.len());
    for (field, value) in settings {
        let Some(text) = value.as_str() else {
            return Err(
                Error::invalid_params(format!("must be string: notifications.{field}")).into(),
            );
        };
        pairs.push((field.clone(), text.to_owned()));
    }
    app.service
        .rooms()
        .save_notification_settings(&session, &room_id, &pairs)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/subscriptions.unread`.
pub async fn subscriptions_unread(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let (room_id, first_unread) = match opt_str(&body, "roomId")? {
        Some(id) if !id.is_empty() => (id, None),
        _ => match body
            .get("firstUnreadMessage")
            .and_then(|m| m.get("_id"))
            .and_then(Value::as_str)
        {
            Some(message_id) => {
                let (message, room) = app
                    .service
                    .messages()
                    .readable_message(&session, message_id)
                    .await?;
                // As upstream's `unreadMessages`: one's own message does not make a room unread.
                if message.author.id == session.user.id {
                    return Err(Error::meteor("error-action-not-allowed", "Not allowed")
                        .with_details(
                            json!({"method": "unreadMessages", "action": "Unread_messages"}),
                        )
                        .into());
                }
                (room.id, Some(message.created_at))
            }
            None => {
                return Err(Error::invalid_params("must have required property 'roomId'").into());
            }
        },
    };
    app.service
        .messages()
        .mark_unread(&session, &room_id, first_unread)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/rooms.hide`.
pub async fn rooms_hide(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = req_str(&body, "roomId")?;
    app.service.rooms().hide_room(&session, &room_id).await?;
    ok(Value::Null)
}

/// `POST /api/v1/rooms.open`.
pub async fn rooms_open(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = req_str(&body, "roomId")?;
    app.service.rooms().open_room(&session, &room_id).await?;
    ok(Value::Null)
}

/// `GET /api/v1/rooms.nameExists`.
pub async fn rooms_name_exists(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(query): Params,
) -> ApiResult {
    let name = req_str(&query, "roomName")?;
    let exists = app.service.rooms().name_exists(&name).await?;
    ok(json!({ "exists": exists }))
}

/// `POST /api/v1/rooms.delete`.
pub async fn rooms_delete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    // Upstream checks by hand, with its own text, rather than through a schema.
    let Some(room_id) = opt_str(&body, "roomId")?.filter(|id| !id.is_empty()) else {
        return Err(Error::failure("The 'roomId' param is required").into());
    };
    app.service
        .rooms()
        .delete_room_by_id(&session, &room_id)
        .await?;
    ok(Value::Null)
}

/// The `selector` of the `rooms.autocomplete.*` routes: a JSON object whose `name` is the
/// text searched for; missing, it is refused with upstream's own text.
fn autocomplete_name(query: &Value) -> Result<String> {
    let Some(raw) = opt_str(query, "selector")? else {
        return Err(Error::failure("The 'selector' param is required"));
    };
    let selector: Value = serde_json::from_str(&raw)
        .map_err(|_| Error::failure("The 'selector' param must be a JSON object"))?;
    Ok(selector
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned())
}

/// A room as the autocomplete routes list it (upstream projects these fields).
fn autocomplete_item(room: &Room) -> Value {
    let mut item = json!({ "_id": room.id, "t": room.room_type.as_str() });
    if let Some(name) = &room.name {
        item["name"] = json!(name);
    }
    if let Some(fname) = &room.fname {
        item["fname"] = json!(fname);
    }
    item
}

/// `GET /api/v1/rooms.autocomplete.channelAndPrivate`.
pub async fn rooms_autocomplete_channel_and_private(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let name = autocomplete_name(&query)?;
    let (rooms, _) = app
        .service
        .rooms()
        .autocomplete_own_rooms(&session, &name, 0, 10, true)
        .await?;
    let items: Vec<Value> = rooms.iter().map(autocomplete_item).collect();
    ok(json!({ "items": items }))
}

/// `GET /api/v1/rooms.autocomplete.channelAndPrivate.withPagination`.
pub async fn rooms_autocomplete_channel_and_private_paged(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let name = autocomplete_name(&query)?;
    let (offset, count) = pagination(&app, &query)?;
    let (rooms, total) = app
        .service
        .rooms()
        .autocomplete_own_rooms(&session, &name, offset, count.unwrap_or(u64::MAX), false)
        .await?;
    let items: Vec<Value> = rooms.iter().map(autocomplete_item).collect();
    ok(json!({ "items": items, "total": total }))
}

/// `GET /api/v1/rooms.autocomplete.adminRooms`.
pub async fn rooms_autocomplete_admin_rooms(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let name = autocomplete_name(&query)?;
    let rooms = app
        .service
        .rooms()
        .autocomplete_admin_rooms(&session, &name)
        .await?;
    let items: Vec<Value> = rooms.iter().map(autocomplete_item).collect();
    ok(json!({ "items": items }))
}

/// `POST /api/v1/rooms.banUser` and `rooms.unbanUser` `{roomId, userId | username}`.
pub async fn rooms_ban_user(
    banned: bool,
    app: AppState,
    session: comet_service::Session,
    body: Value,
) -> ApiResult {
    let (room_id, user) = room_and_user(&body)?;
    let user = app.service.accounts().require_user(&user).await?;
    let rooms = app.service.rooms();
    if banned {
        rooms.ban_user(&session, &room_id, &user).await?;
    } else {
        rooms.unban_user(&session, &room_id, &user).await?;
    }
    ok(Value::Null)
}

/// `GET /api/v1/rooms.bannedUsers?roomId=&offset=&count=`.
pub async fn rooms_banned_users(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let Some(room_id) = opt_str(&query, "roomId")?.filter(|r| !r.is_empty()) else {
        return Err(Error::invalid_params("must have required property 'roomId'").into());
    };
    let (offset, count) = pagination(&app, &query)?;
    let (users, total) = app
        .service
        .rooms()
        .banned_users(&session, &room_id, offset, count)
        .await?;
    let docs: Vec<Value> = users
        .iter()
        .map(|u| json!({"_id": u.id, "username": u.username, "name": u.name}))
        .collect();
    ok(json!({
        "bannedUsers": docs,
        "count": docs.len(),
        "offset": offset,
        "total": total,
    }))
}
