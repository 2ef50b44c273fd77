//! Rooms and subscriptions.

use crate::{
    Handler, MethodContext, Outcome, date, date_param, match_failed, param, room, session,
    str_param, value,
};
use comet_core::room::RoomType;
use comet_core::user::Presence;
use comet_core::{Error, Result};
use comet_protocol::{chat, ejson};
use comet_service::Service;
use comet_service::rooms::{NewRoom, RoomRef};
use serde_json::{Value, json};

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("subscriptions/get", |s, p, c| {
        Box::pin(subscriptions_get(s, p, c))
    }),
    ("rooms/get", |s, p, c| Box::pin(rooms_get(s, p, c))),
    ("getRoomIdByNameOrId", |s, p, c| {
        Box::pin(room_lookup(s, p, c, RoomLookup::IdByIdOrName))
    }),
    ("getRoomNameById", |s, p, c| {
        Box::pin(room_lookup(s, p, c, RoomLookup::NameById))
    }),
    ("joinRoom", |s, p, c| Box::pin(join_room(s, p, c))),
    ("muteUserInRoom", |s, p, c| {
        Box::pin(mute_user(s, p, c, true))
    }),
    ("unmuteUserInRoom", |s, p, c| {
        Box::pin(mute_user(s, p, c, false))
    }),
    ("slashCommand", |s, p, c| Box::pin(slash_command(s, p, c))),
    ("leaveRoom", |s, p, c| Box::pin(leave_room(s, p, c))),
    ("openRoom", |s, p, c| Box::pin(set_open(s, p, c, true))),
    ("hideRoom", |s, p, c| Box::pin(set_open(s, p, c, false))),
    ("toggleFavorite", |s, p, c| {
        Box::pin(toggle_favorite(s, p, c))
    }),
    ("saveNotificationSettings", |s, p, c| {
        Box::pin(save_notification_settings(s, p, c))
    }),
    ("createDirectMessage", |s, p, c| {
        Box::pin(create_direct_message(s, p, c))
    }),
    ("createChannel", |s, p, c| {
        Box::pin(create_room(s, p, c, RoomType::Channel))
    }),
    ("createPrivateGroup", |s, p, c| {
        Box::pin(create_room(s, p, c, RoomType::Private))
    }),
    ("getRoomRoles", |s, p, c| Box::pin(get_room_roles(s, p, c))),
    ("addUsersToRoom", |s, p, c| {
        Box::pin(add_users_to_room(s, p, c))
    }),
    ("getUsersOfRoom", |s, p, c| {
        Box::pin(get_users_of_room(s, p, c))
    }),
    ("getRoomByTypeAndName", |s, p, c| {
        Box::pin(get_room_by_type_and_name(s, p, c))
    }),
    ("saveRoomSettings", |s, p, c| {
        Box::pin(save_room_settings(s, p, c))
    }),
    ("roomNameExists", |s, p, c| {
        Box::pin(room_name_exists(s, p, c))
    }),
    ("getRoomById", |s, p, c| Box::pin(get_room_by_id(s, p, c))),
    ("getRoomJoinCode", |s, p, c| {
        Box::pin(get_room_join_code(s, p, c))
    }),
    ("getSlashCommandPreviews", |s, p, c| {
        Box::pin(slash_command_previews(s, p, c, false))
    }),
    ("executeSlashCommandPreview", |s, p, c| {
        Box::pin(slash_command_previews(s, p, c, true))
    }),
    ("joinDefaultChannels", |s, p, c| {
        Box::pin(join_default_channels(s, p, c))
    }),
];

/// What a room lookup method is given and answers.
#[derive(Clone, Copy)]
enum RoomLookup {
    /// `getRoomIdByNameOrId(idOrName)` → the room's id.
    IdByIdOrName,
    /// `getRoomNameById(rid)` → the room's name.
    NameById,
}

impl RoomLookup {
    fn method(self) -> &'static str {
        match self {
            RoomLookup::IdByIdOrName => "getRoomIdByNameOrId",
            RoomLookup::NameById => "getRoomNameById",
        }
    }
}

/// A room lookup by id (or name); a room that is not there or that the caller may not see is
/// `error-not-allowed`, as upstream.
async fn room_lookup(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    lookup: RoomLookup,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let key = str_param(&params, 0)?;
    let not_allowed = || {
        Error::meteor("error-not-allowed", "Not allowed")
            .with_details(json!({"method": lookup.method()}))
    };
    let mut found = service
        .rooms()
        .find_room_unchecked(&RoomRef::Id(key.clone()))
        .await?;
    if found.is_none() && matches!(lookup, RoomLookup::IdByIdOrName) {
        found = service
            .rooms()
            .find_room_unchecked(&RoomRef::Name(key))
            .await?;
    }
    let Some(found) = found else {
        return Err(not_allowed());
    };
    let Some(access) = service.rooms().room_access(session, found).await? else {
        return Err(not_allowed());
    };
    match lookup {
        RoomLookup::NameById => value(json!(access.name)),
        RoomLookup::IdByIdOrName => value(json!(access.id)),
    }
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
        .rooms()
        .subscriptions(session, since)
        .await?
        .iter()
        .map(|s| ejson(chat::own_subscription(s, &session.user.preferences)))
        .collect();
    match since {
        None => value(Value::Array(update)),
        Some(since) => {
            let remove: Vec<Value> = service
                .rooms()
                .removed_subscriptions(session, since)
                .await?
                .iter()
                .map(|s| json!({"_id": s.id, "_deletedAt": date(s.removed_at)}))
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
        .rooms()
        .subscribed_rooms(session, since)
        .await?
        .iter()
        .map(|v| ejson(chat::room(&v.room, v.last_message.as_ref())))
        .collect();
    match since {
        None => value(Value::Array(update)),
        Some(since) => {
            let remove: Vec<Value> = service
                .rooms()
                .removed_rooms(session, since)
                .await?
                .iter()
                .map(|(id, at)| json!({"_id": id, "_deletedAt": date(*at)}))
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
    let reference = RoomRef::Id(str_param(&params, 0)?);
    let room = service
        .rooms()
        .room_for_join(session, &reference, comet_service::rooms::RoomFamily::Any)
        .await?;
    let code = param(&params, 1).and_then(Value::as_str);
    service.rooms().join_room(session, &room, code).await?;
    value(Value::Bool(true))
}

async fn leave_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room = room(service, session, &str_param(&params, 0)?).await?;
    service.rooms().leave_room(session, &room).await?;
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
        .rooms()
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
        .messages()
        .set_favorite(session, &str_param(&params, 0)?, favorite)
        .await?;
    value(Value::Number(1.into()))
}

/// `saveNotificationSettings(roomId, field, value)`: one notification preference of the
/// caller's subscription; every parameter a string.
async fn save_notification_settings(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = str_param(&params, 0)?;
    let field = str_param(&params, 1)?;
    let setting = str_param(&params, 2)?;
    service
        .rooms()
        .save_notification_setting(session, &room_id, &field, &setting)
        .await?;
    value(Value::Bool(true))
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
    let room = service
        .rooms()
        .create_direct(session, &usernames, false)
        .await?;
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
        team_id: param(&params, 4)
            .and_then(|extra| extra.get("teamId"))
            .and_then(Value::as_str)
            .map(str::to_owned),
        ..NewRoom::default()
    };
    let room = service
        .rooms()
        .create_room(session, room_type, new_room)
        .await?;
    value(json!({"rid": room.id, "name": room.name}))
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
        .rooms().room_roles(&room)
        .await?
        .iter()
        .map(|s| json!({"_id": s.id, "rid": s.room_id, "u": {"_id": s.user.id, "username": s.user.username}, "roles": s.roles}))
        .collect();
    value(Value::Array(roles))
}

/// `addUsersToRoom({rid, users: [usernames]})`.
async fn add_users_to_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let arg = param(&params, 0).ok_or_else(match_failed)?;
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
                .accounts()
                .require_user(&comet_service::accounts::UserRef::Username(name.to_owned()))
                .await?,
        );
    }
    service
        .rooms()
        .invite_to_room(session, &room, &users)
        .await?;
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
    let (members, total) = service.rooms().room_members(&room, skip, limit).await?;
    let records: Vec<Value> = members
        .iter()
        .filter_map(|(_, user)| user.as_ref())
        .filter(|u| show_all || u.status != Presence::Offline)
        .map(|u| json!({"_id": u.id, "username": u.username, "name": u.name, "status": u.status.as_str()}))
        .collect();
    value(json!({"total": total, "records": records}))
}

/// `muteUserInRoom({rid, username})`, `unmuteUserInRoom({rid, username})`.
async fn mute_user(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    muted: bool,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let data = param(&params, 0).ok_or_else(match_failed)?;
    let room_id = crate::str_field(data, "rid")?;
    let username = crate::str_field(data, "username")?;
    service
        .rooms()
        .set_muted(session, room_id, username, muted)
        .await?;
    value(json!(true))
}

/// `slashCommand({cmd, params, msg: {rid, tmid?}, triggerId?})`: what `commands.run` does.
async fn slash_command(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let data = param(&params, 0).cloned().unwrap_or(Value::Null);
    let Some(command) = data
        .get("cmd")
        .and_then(Value::as_str)
        .filter(|cmd| service.commands().find(cmd).is_some())
    else {
        return Err(
            Error::meteor("error-invalid-command", "Invalid Command Provided")
                .with_details(json!({"method": "executeSlashCommandPreview"})),
        );
    };
    let message = data.get("msg").unwrap_or(&Value::Null);
    let Some(room_id) = message.get("rid").and_then(Value::as_str) else {
        return Err(Error::meteor(
            "invalid-command-usage",
            "Executing a command requires at least a message with a room id.",
        ));
    };
    let run = comet_service::commands::CommandRun {
        command: command.to_owned(),
        params: data
            .get("params")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        room_id: room_id.to_owned(),
        thread_id: message
            .get("tmid")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    service.commands().run(session, run).await?;
    value(Value::Null)
}

/// `saveRoomSettings(rid, {settings})` or `saveRoomSettings(rid, setting, value)` →
/// `{result: true, rid}`.
async fn save_room_settings(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = params.first().and_then(Value::as_str);
    let settings = match params.get(1) {
        Some(Value::Object(settings)) => settings.clone(),
        // One setting by name; anything else becomes a name no setting has, as upstream's
        // `{[settings]: value}` does.
        other => {
            let name = match other {
                Some(Value::String(name)) => name.clone(),
                Some(value) => value.to_string(),
                None => "undefined".to_owned(),
            };
            let value = params.get(2).cloned().unwrap_or(Value::Null);
            serde_json::Map::from_iter([(name, value)])
        }
    };
    let rid = service
        .rooms()
        .save_room_settings(session, room_id, &settings)
        .await?;
    value(json!({"result": true, "rid": rid}))
}

/// `getRoomByTypeAndName(type, name)` → the room document.
async fn get_room_by_type_and_name(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = ctx.session.ok_or_else(|| {
        Error::meteor("error-invalid-user", "Invalid user")
            .with_details(json!({"method": "getRoomByTypeAndName"}))
    })?;
    let room_type = str_param(&params, 0)?;
    let name = str_param(&params, 1)?;
    let view = service
        .rooms()
        .room_by_type_and_name(session, &room_type, &name)
        .await?;
    value(ejson(chat::room(&view.room, view.last_message.as_ref())))
}

/// `roomNameExists(name)`: whether a room has this name, as `rooms.nameExists` answers.
async fn room_name_exists(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let name = str_param(&params, 0)?;
    // Upstream names the method `roomExists` in this error.
    crate::session_for(&ctx, "roomExists")?;
    value(json!(service.rooms().name_exists(&name).await?))
}

/// `getRoomById(rid)` → the room document, for a caller who may read the room.
async fn get_room_by_id(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let room_id = str_param(&params, 0)?;
    // Upstream names `getRoomNameById` in its first two errors.
    let session = crate::session_for(&ctx, "getRoomNameById")?;
    let not_allowed = |method: &str| {
        Error::meteor("error-not-allowed", "Not allowed").with_details(json!({ "method": method }))
    };
    let Some(found) = service
        .rooms()
        .find_room_unchecked(&RoomRef::Id(room_id))
        .await?
    else {
        return Err(not_allowed("getRoomNameById"));
    };
    let Some(access) = service.rooms().room_access(session, found).await? else {
        return Err(not_allowed("getRoomById"));
    };
    let view = service.rooms().room_view(access.into_room()).await?;
    value(ejson(chat::room(&view.room, view.last_message.as_ref())))
}

/// `getRoomJoinCode(rid)` → the room's join code, for holders of `view-join-code` (nothing for
/// a room without one).
async fn get_room_join_code(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let room_id = str_param(&params, 0)?;
    let session = crate::session_for(&ctx, "getJoinCode")?;
    let code = service.rooms().room_join_code(session, &room_id).await?;
    value(code.map_or(Value::Null, Value::String))
}

/// `getSlashCommandPreviews({cmd, params, msg})` and
/// `executeSlashCommandPreview({cmd, params, msg}, preview)`: none of the built-in commands
/// offers previews, so a known command is refused as upstream refuses such a command.
async fn slash_command_previews(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    execute: bool,
) -> Result<Outcome> {
    const EXECUTE: &str = "executeSlashCommandPreview";
    // Upstream names `getSlashCommandPreview` when nobody is logged in.
    crate::session_for(
        &ctx,
        if execute {
            EXECUTE
        } else {
            "getSlashCommandPreview"
        },
    )?;
    let invalid = |reason: &'static str| {
        Error::meteor("error-invalid-command", reason).with_details(json!({"method": EXECUTE}))
    };
    let Some(command) = param(&params, 0)
        .and_then(|c| c.get("cmd"))
        .and_then(Value::as_str)
        .and_then(|cmd| service.commands().find(cmd))
    else {
        return Err(invalid("Invalid Command Provided"));
    };
    if !command.provides_preview {
        return Err(invalid("Command Does Not Provide Previews"));
    }
    if execute && param(&params, 1).is_none() {
        return Err(
            Error::meteor("error-invalid-command-preview", "Invalid Preview Provided")
                .with_details(json!({"method": EXECUTE})),
        );
    }
    // No command providing previews exists, so none has previews to list or run.
    value(if execute {
        Value::Null
    } else {
        json!({"i18nTitle": "", "items": []})
    })
}

/// `joinDefaultChannels(silenced?)`: the caller joins the default rooms they are not in yet
/// (always with the join message: Comet has no silent join).
async fn join_default_channels(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    if param(&params, 0).is_some_and(|v| !v.is_boolean()) {
        return Err(match_failed());
    }
    let session = crate::session_for(&ctx, "joinDefaultChannels")?;
    service.rooms().join_default_channels(session).await?;
    value(Value::Null)
}
