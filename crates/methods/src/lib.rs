//! Meteor methods by name. DDP `method` messages and REST `method.call` both dispatch here, so a
//! method behaves the same on either transport. Each method parses its positional parameters,
//! calls one service operation, and answers in EJSON (dates as `{"$date": ms}`).

use comet_core::room::RoomType;
use comet_core::user::Presence;
use comet_core::{Error, Result, Timestamp};
use comet_protocol::{chat, ejson};
use comet_service::auth::parse_meteor_login;
use comet_service::messages::{HistoryQuery, NewMessage};
use comet_service::rooms::{NewRoom, RoomAccess, RoomFamily, RoomRef};
use comet_service::settings::SettingsQuery;
use comet_service::{ClientInfo, LoginResult, Service, Session};
use serde_json::{Value, json};
use std::future::Future;
use std::pin::Pin;

/// What a method runs with: the caller (if logged in) and the client.
pub struct MethodContext<'a> {
    pub session: Option<&'a Session>,
    pub client: &'a ClientInfo,
}

/// What a method produced. `login` also hands the transport the new session.
pub enum Outcome {
    Value(Value),
    LoggedIn(Box<LoginResult>, Value),
    LoggedOut,
    /// `UserPresence:online`/`away`: the client reports its connection (in)active; the
    /// transport applies it to the connection it came on (the answer is `null`).
    ConnectionPresence(Presence),
}

type MethodFuture<'a> = Pin<Box<dyn Future<Output = Result<Outcome>> + Send + 'a>>;

fn session<'a>(ctx: &MethodContext<'a>) -> Result<&'a Session> {
    ctx.session
        .ok_or_else(|| Error::meteor("error-invalid-user", "Invalid user"))
}

fn param(params: &[Value], index: usize) -> Option<&Value> {
    params.get(index).filter(|v| !v.is_null())
}

fn str_param(params: &[Value], index: usize) -> Result<String> {
    param(params, index)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))
}

/// An EJSON date parameter (`{"$date": ms}`) or an ISO string.
fn date_param(params: &[Value], index: usize) -> Option<Timestamp> {
    let value = param(params, index)?;
    if let Some(ms) = value.get("$date").and_then(Value::as_i64) {
        return chrono::DateTime::from_timestamp_millis(ms);
    }
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&chrono::Utc))
}

fn value(v: Value) -> Result<Outcome> {
    Ok(Outcome::Value(v))
}

async fn room(service: &Service, session: &Session, room_id: &str) -> Result<RoomAccess> {
    service
        .room_for(session, &RoomRef::Id(room_id.to_owned()), RoomFamily::Any)
        .await
}

/// Runs the Meteor method `name`.
pub async fn call(
    service: &Service,
    name: &str,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let future: MethodFuture<'_> = match name {
        "login" => Box::pin(login(service, params, ctx)),
        "logout" => Box::pin(logout(service, ctx)),
        "public-settings/get" => Box::pin(public_settings(service)),
        "permissions/get" => Box::pin(permissions(service, ctx)),
        "sendMessage" => Box::pin(send_message(service, params, ctx)),
        "sendFileMessage" => Box::pin(send_file_message(service, params, ctx)),
        "updateMessage" => Box::pin(update_message(service, params, ctx)),
        "deleteMessage" => Box::pin(delete_message(service, params, ctx)),
        "setReaction" => Box::pin(set_reaction(service, params, ctx)),
        "getSingleMessage" => Box::pin(get_single_message(service, params, ctx)),
        "loadHistory" => Box::pin(load_history(service, params, ctx)),
        "readMessages" => Box::pin(read_messages(service, params, ctx)),
        "subscriptions/get" => Box::pin(subscriptions_get(service, params, ctx)),
        "rooms/get" => Box::pin(rooms_get(service, params, ctx)),
        "joinRoom" => Box::pin(join_room(service, params, ctx)),
        "leaveRoom" => Box::pin(leave_room(service, params, ctx)),
        "openRoom" => Box::pin(set_open(service, params, ctx, true)),
        "hideRoom" => Box::pin(set_open(service, params, ctx, false)),
        "toggleFavorite" => Box::pin(toggle_favorite(service, params, ctx)),
        "createDirectMessage" => Box::pin(create_direct_message(service, params, ctx)),
        "createChannel" => Box::pin(create_room(service, params, ctx, RoomType::Channel)),
        "createPrivateGroup" => Box::pin(create_room(service, params, ctx, RoomType::Private)),
        "stream-notify-room" => Box::pin(notify_room(service, params, ctx)),
        "UserPresence:setDefaultStatus" => Box::pin(set_default_status(service, params, ctx)),
        "loadMissedMessages" => Box::pin(load_missed_messages(service, params, ctx)),
        "getRoomRoles" => Box::pin(get_room_roles(service, params, ctx)),
        "getUserRoles" => Box::pin(get_user_roles(service, ctx)),
        "addUsersToRoom" => Box::pin(add_users_to_room(service, params, ctx)),
        "getUsersOfRoom" => Box::pin(get_users_of_room(service, params, ctx)),
        "spotlight" => Box::pin(spotlight(service, params, ctx)),
        "setUserStatus" => Box::pin(set_user_status(service, params, ctx)),
        "setAvatarFromService" => Box::pin(set_avatar_from_service(service, params, ctx)),
        "resetAvatar" => Box::pin(reset_avatar(service, params, ctx)),
        "getAvatarSuggestion" => Box::pin(get_avatar_suggestion(ctx)),
        "UserPresence:online" => Box::pin(connection_presence(ctx, Presence::Online)),
        "UserPresence:away" => Box::pin(connection_presence(ctx, Presence::Away)),
        _ => return Err(Error::meteor("404", format!("Method '{name}' not found"))),
    };
    future.await
}

async fn login(service: &Service, params: Vec<Value>, ctx: MethodContext<'_>) -> Result<Outcome> {
    let arg = params.first().cloned().unwrap_or(Value::Null);
    let request = parse_meteor_login(&arg)?;
    let result = service.login(request, ctx.client).await?;
    let answer = json!({
        "id": result.user.id,
        "token": result.token,
        "tokenExpires": {"$date": result.token_expires.timestamp_millis()},
        "type": result.login_type,
    });
    Ok(Outcome::LoggedIn(Box::new(result), answer))
}

async fn logout(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    if let Some(session) = ctx.session {
        service.logout(session).await?;
    }
    Ok(Outcome::LoggedOut)
}

async fn public_settings(service: &Service) -> Result<Outcome> {
    let page = service.public_settings(&SettingsQuery::default());
    value(Value::Array(
        page.settings
            .into_iter()
            .map(|s| json!({"_id": s.id, "value": s.value}))
            .collect(),
    ))
}

async fn permissions(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    session(&ctx)?;
    value(Value::Array(
        service
            .permissions(None)
            .into_iter()
            .map(|p| json!({"_id": p.id, "roles": p.roles, "_updatedAt": {"$date": p.updated_at.timestamp_millis()}}))
            .collect(),
    ))
}

fn new_message(message: &Value) -> NewMessage {
    let text = |key: &str| message.get(key).and_then(Value::as_str).map(str::to_owned);
    NewMessage {
        id: text("_id"),
        text: text("msg").unwrap_or_default(),
        alias: text("alias"),
        emoji: text("emoji"),
        avatar: text("avatar"),
        attachments: message.get("attachments").filter(|a| a.is_array()).cloned(),
        files: None,
        thread_id: text("tmid").filter(|t| !t.is_empty()),
        thread_show: message
            .get("tshow")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        groupable: message.get("groupable").and_then(Value::as_bool),
        custom_fields: message
            .get("customFields")
            .filter(|v| v.is_object())
            .cloned(),
    }
}

async fn send_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let message =
        param(&params, 0).ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let room_id = message
        .get("rid")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let room = room(service, session, room_id)
        .await
        .map_err(|_| Error::meteor("error-not-allowed", "Not allowed"))?;
    let sent = service
        .send_message(session, &room, new_message(message))
        .await?;
    value(ejson(chat::message(&sent)))
}

/// `sendFileMessage(roomId, store, file, msgData)`: posts the message of a file uploaded with
/// `rooms.media` (what `rooms.mediaConfirm` does over REST). `false` when the room is not
/// there or not accessible, as upstream.
async fn send_file_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = str_param(&params, 0)?;
    let file = param(&params, 2)
        .filter(|f| f.is_object())
        .ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let file_id = file
        .get("_id")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let data = param(&params, 3).cloned().unwrap_or(Value::Null);
    let text = |value: Option<&Value>| -> Result<Option<String>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(Error::meteor("error-invalid-params", "Match failed")),
        }
    };
    let fields = comet_service::files::FileMessage {
        text: text(data.get("msg"))?,
        description: text(file.get("description"))?,
        thread_id: text(data.get("tmid"))?,
    };
    let room = match service.upload_target(session, &room_id).await {
        Ok(room) => room,
        Err(e) if e.kind == comet_core::error::ErrorKind::Forbidden => return value(json!(false)),
        Err(e) => return Err(e),
    };
    let sent = service
        .confirm_upload(session, &room, file_id, fields)
        .await?;
    value(ejson(chat::message(&sent)))
}

async fn update_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let message =
        param(&params, 0).ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let field = |key: &str| {
        message
            .get(key)
            .and_then(Value::as_str)
            .ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))
    };
    service
        .update_message(session, field("rid")?, field("_id")?, field("msg")?)
        .await?;
    value(Value::Null)
}

async fn delete_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let id = param(&params, 0)
        .and_then(|m| m.get("_id"))
        .and_then(Value::as_str)
        .ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let (message, _) = service.readable_message(session, id).await?;
    service
        .delete_message(session, &message.room_id, id)
        .await?;
    value(json!({"_id": id}))
}

async fn set_reaction(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let emoji = str_param(&params, 0)?;
    let message_id = str_param(&params, 1)?;
    let should_react = param(&params, 2).and_then(Value::as_bool);
    service
        .react(session, &message_id, &emoji, should_react)
        .await?;
    value(Value::Null)
}

async fn get_single_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let id = str_param(&params, 0)?;
    let (message, _) = service.readable_message(session, &id).await?;
    value(ejson(chat::message(&message)))
}

/// `loadHistory(rid, end, limit, ls, showThreadMessages)` → `{messages}` newest first.
async fn load_history(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = str_param(&params, 0)?;
    let room = room(service, session, &room_id).await?;
    let limit = param(&params, 2)
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .min(100);
    let query = HistoryQuery {
        latest: date_param(&params, 1),
        count: Some(limit),
        show_thread_messages: param(&params, 4).and_then(Value::as_bool).unwrap_or(true),
        ..HistoryQuery::default()
    };
    let messages = service.history(&room, &query).await?;
    let docs: Vec<Value> = messages.iter().map(|m| ejson(chat::message(m))).collect();
    value(json!({"messages": docs}))
}

async fn read_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    service.mark_read(session, &str_param(&params, 0)?).await?;
    value(Value::Null)
}

/// Without a date: the list; with one: `{update, remove}`, as upstream's method answers.
async fn subscriptions_get(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    // Upstream answers an anonymous caller with an empty list.
    let Some(session) = ctx.session else {
        return value(json!([]));
    };
    let since = date_param(&params, 0);
    let update: Vec<Value> = service
        .subscriptions(session, since)
        .await?
        .iter()
        .map(|s| ejson(chat::subscription(s)))
        .collect();
    match since {
        None => value(Value::Array(update)),
        Some(since) => {
            let remove: Vec<Value> = service
                .removed_subscriptions(session, since)
                .await?
                .iter()
                .map(|s| json!({"_id": s.id, "_deletedAt": {"$date": s.removed_at.timestamp_millis()}}))
                .collect();
            value(json!({"update": update, "remove": remove}))
        }
    }
}

async fn rooms_get(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    // Upstream answers an anonymous caller with an empty list.
    let Some(session) = ctx.session else {
        return value(json!([]));
    };
    let since = date_param(&params, 0);
    let update: Vec<Value> = service
        .subscribed_rooms(session, since)
        .await?
        .iter()
        .map(|v| ejson(chat::room(&v.room, v.last_message.as_ref())))
        .collect();
    match since {
        None => value(Value::Array(update)),
        Some(since) => {
            let remove: Vec<Value> = service
                .removed_rooms(session, since)
                .await?
                .iter()
                .map(|(id, at)| json!({"_id": id, "_deletedAt": {"$date": at.timestamp_millis()}}))
                .collect();
            value(json!({"update": update, "remove": remove}))
        }
    }
}

async fn join_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room = room(service, session, &str_param(&params, 0)?).await?;
    let code = param(&params, 1).and_then(Value::as_str);
    service.join_room(session, &room, code).await?;
    value(Value::Bool(true))
}

async fn leave_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room = room(service, session, &str_param(&params, 0)?).await?;
    service.leave_room(session, &room).await?;
    value(Value::Bool(true))
}

async fn set_open(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    open: bool,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    service
        .set_open(session, &str_param(&params, 0)?, open)
        .await?;
    value(Value::Number(1.into()))
}

async fn toggle_favorite(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let favorite = param(&params, 1).and_then(Value::as_bool).unwrap_or(true);
    service
        .set_favorite(session, &str_param(&params, 0)?, favorite)
        .await?;
    value(Value::Number(1.into()))
}

async fn create_direct_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let usernames: Vec<String> = params
        .iter()
        .filter_map(|p| p.as_str().map(str::to_owned))
        .collect();
    let room = service.create_direct(session, &usernames, false).await?;
    value(json!({"t": "d", "rid": room.id, "usernames": room.usernames, "_id": room.id}))
}

async fn create_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    room_type: RoomType,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let members = param(&params, 1)
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let new_room = NewRoom {
        name: str_param(&params, 0)?,
        members,
        read_only: param(&params, 2).and_then(Value::as_bool).unwrap_or(false),
        custom_fields: param(&params, 3).filter(|v| v.is_object()).cloned(),
        ..NewRoom::default()
    };
    let room = service.create_room(session, room_type, new_room).await?;
    value(json!({"rid": room.id, "name": room.name}))
}

/// `stream-notify-room` as a method: `["<rid>/user-activity", username, activities, extras]` or
/// the legacy `["<rid>/typing", username, typing]`.
async fn notify_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let event = str_param(&params, 0)?;
    let Some((room_id, kind)) = event.split_once('/') else {
        return Err(Error::meteor("error-not-allowed", "Not allowed"));
    };
    let activities: Vec<String> = match kind {
        "user-activity" => param(&params, 2)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        "typing" => {
            if param(&params, 2).and_then(Value::as_bool).unwrap_or(false) {
                vec!["user-typing".to_owned()]
            } else {
                Vec::new()
            }
        }
        _ => return Err(Error::meteor("error-not-allowed", "Not allowed")),
    };
    let thread_id = param(&params, 3)
        .and_then(|extras| extras.get("tmid"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    service
        .notify_activity(session, room_id, activities, thread_id)
        .await?;
    value(Value::Null)
}

async fn set_default_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let status = str_param(&params, 0)?;
    service
        .set_status(session, None, Some(&status), None)
        .await?;
    value(Value::Bool(true))
}

async fn set_user_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let status = param(&params, 0).and_then(Value::as_str);
    let text = param(&params, 1).and_then(Value::as_str);
    service.set_status(session, None, status, text).await?;
    value(Value::Null)
}

/// `setAvatarFromService(dataURI, contentType, service, targetUserId?)`: a data URI, or with
/// service `url` an image URL, becomes the user's avatar.
async fn set_avatar_from_service(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let data = param(&params, 0)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let source = param(&params, 2)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let target = param(&params, 3).and_then(Value::as_str);
    service
        .set_avatar_from_service(session, data, source, target)
        .await?;
    value(Value::Null)
}

/// `resetAvatar(userId?)`: back to the initials.
async fn reset_avatar(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let target = param(&params, 0).and_then(Value::as_str);
    service.reset_avatar_method(session, target).await?;
    value(Value::Null)
}

/// `getAvatarSuggestion`: avatars offered by the user's login services; Comet has no external
/// login services, so there are none.
async fn get_avatar_suggestion(ctx: MethodContext<'_>) -> Result<Outcome> {
    session(&ctx)?;
    value(serde_json::json!({}))
}

/// `UserPresence:online` / `UserPresence:away`: the client reports (in)activity.
async fn connection_presence(ctx: MethodContext<'_>, presence: Presence) -> Result<Outcome> {
    session(&ctx)?;
    Ok(Outcome::ConnectionPresence(presence))
}

/// `loadMissedMessages(rid, since)`: messages changed in a room since a time, oldest first.
async fn load_missed_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = str_param(&params, 0)?;
    let since = date_param(&params, 1)
        .ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let sync = service.sync_messages(session, &room_id, since).await?;
    let mut messages: Vec<&comet_core::room::Message> = sync.updated.iter().collect();
    messages.sort_by_key(|m| m.created_at);
    value(Value::Array(
        messages
            .into_iter()
            .map(|m| ejson(chat::message(m)))
            .collect(),
    ))
}

/// `getRoomRoles(rid)`: members holding room roles, as `{rid, u, roles}`.
async fn get_room_roles(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room = room(service, session, &str_param(&params, 0)?).await?;
    let roles: Vec<Value> = service
        .room_roles(&room)
        .await?
        .iter()
        .map(|s| json!({"_id": s.id, "rid": s.room_id, "u": {"_id": s.user.id, "username": s.user.username}, "roles": s.roles}))
        .collect();
    value(Value::Array(roles))
}

/// `getUserRoles()`: users holding global roles other than `user`.
async fn get_user_roles(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    let session = session(&ctx)?;
    let mut users: Vec<Value> = Vec::new();
    for role in service.roles().await? {
        if role.id == "user" || role.scope != comet_core::catalog::SCOPE_USERS {
            continue;
        }
        let filter = comet_store::UserFilter {
            role: Some(role.id.clone()),
            ..comet_store::UserFilter::default()
        };
        let page = comet_core::page::Page {
            offset: 0,
            count: Some(1000),
            sort: Vec::new(),
        };
        for listed in service.list_users(session, &filter, &page).await?.0 {
            let user = listed.user;
            if !users.iter().any(|u| u["_id"] == json!(user.id)) {
                let roles: Vec<&String> = user.roles.iter().filter(|r| *r != "user").collect();
                users.push(json!({"_id": user.id, "username": user.username, "roles": roles}));
            }
        }
    }
    value(Value::Array(users))
}

/// `addUsersToRoom({rid, users: [usernames]})`.
async fn add_users_to_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let arg =
        param(&params, 0).ok_or_else(|| Error::meteor("error-invalid-params", "Match failed"))?;
    let room_id = arg
        .get("rid")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::meteor("error-invalid-room", "Invalid room"))?;
    let room = room(service, session, room_id).await?;
    let mut users = Vec::new();
    for name in arg
        .get("users")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
    {
        users.push(
            service
                .require_user(&comet_service::accounts::UserRef::Username(name.to_owned()))
                .await?,
        );
    }
    service.invite_to_room(session, &room, &users).await?;
    value(Value::Bool(true))
}

/// `getUsersOfRoom(rid, showAll, {limit, skip})` → `{total, records}`.
async fn get_users_of_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room = room(service, session, &str_param(&params, 0)?).await?;
    let show_all = param(&params, 1).and_then(Value::as_bool).unwrap_or(false);
    let options = param(&params, 2);
    let limit = options.and_then(|o| o.get("limit")).and_then(Value::as_u64);
    let skip = options
        .and_then(|o| o.get("skip"))
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let (members, total) = service.room_members(&room, skip, limit).await?;
    let records: Vec<Value> = members
        .iter()
        .filter_map(|(_, user)| user.as_ref())
        .filter(|u| show_all || u.status != Presence::Offline)
        .map(|u| json!({"_id": u.id, "username": u.username, "name": u.name, "status": u.status.as_str()}))
        .collect();
    value(json!({"total": total, "records": records}))
}

/// `spotlight(text, usernames, {users, rooms})`.
async fn spotlight(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let text = param(&params, 0)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let found = service.spotlight(session, text).await?;
    let users: Vec<Value> = found
        .users
        .iter()
        .map(|u| json!({"_id": u.id, "name": u.name, "username": u.username, "status": u.status.as_str()}))
        .collect();
    let rooms: Vec<Value> = found
        .rooms
        .iter()
        .map(|r| ejson(chat::room(r, None)))
        .collect();
    value(json!({"users": users, "rooms": rooms}))
}

/// The DDP `result` message for a method outcome.
pub fn result_message(id: &Value, outcome: &Result<Value>) -> Value {
    match outcome {
        Ok(result) => json!({"msg": "result", "id": id, "result": result}),
        Err(error) => json!({"msg": "result", "id": id, "error": error_object(error)}),
    }
}

/// A Meteor error as DDP carries it.
pub fn error_object(error: &Error) -> Value {
    let code = error.code.as_deref().unwrap_or("internal-error");
    let mut object = json!({
        "isClientSafe": true,
        "error": code.parse::<i64>().map_or_else(|_| json!(code), |n| json!(n)),
        "reason": error.reason,
        "message": format!("{} [{code}]", error.reason),
        "errorType": "Meteor.Error",
    });
    if let (Some(details), Value::Object(map)) = (&error.details, &mut object) {
        map.insert("details".into(), details.clone());
    }
    object
}
