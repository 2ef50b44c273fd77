//! Room administration: room roles, archiving, erasing, removing members, cleaning history,
//! adding everyone, discussions and ignoring members.

use crate::{
    Handler, MethodContext, Outcome, date_param, match_failed, param, session_for, str_param, value,
};
use comet_core::room::RoomType;
use comet_core::{Error, Result};
use comet_protocol::{chat, ejson};
use comet_service::Service;
use comet_service::accounts::UserRef;
use comet_service::room_admin::{CleanHistory, NewDiscussion};
use comet_service::room_settings::RoomRole::{self, Leader, Moderator, Owner};
use serde_json::{Value, json};

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("addRoomOwner", |s, p, c| {
        Box::pin(room_role(s, p, c, Owner, true))
    }),
    ("removeRoomOwner", |s, p, c| {
        Box::pin(room_role(s, p, c, Owner, false))
    }),
    ("addRoomModerator", |s, p, c| {
        Box::pin(room_role(s, p, c, Moderator, true))
    }),
    ("removeRoomModerator", |s, p, c| {
        Box::pin(room_role(s, p, c, Moderator, false))
    }),
    ("addRoomLeader", |s, p, c| {
        Box::pin(room_role(s, p, c, Leader, true))
    }),
    ("removeRoomLeader", |s, p, c| {
        Box::pin(room_role(s, p, c, Leader, false))
    }),
    ("archiveRoom", |s, p, c| {
        Box::pin(archive_room(s, p, c, true))
    }),
    ("unarchiveRoom", |s, p, c| {
        Box::pin(archive_room(s, p, c, false))
    }),
    ("eraseRoom", |s, p, c| Box::pin(erase_room(s, p, c))),
    ("removeUserFromRoom", |s, p, c| {
        Box::pin(remove_user_from_room(s, p, c))
    }),
    ("cleanRoomHistory", |s, p, c| {
        Box::pin(clean_room_history(s, p, c))
    }),
    ("addAllUserToRoom", |s, p, c| {
        Box::pin(add_all_user_to_room(s, p, c))
    }),
    ("createDiscussion", |s, p, c| {
        Box::pin(create_discussion(s, p, c))
    }),
    ("ignoreUser", |s, p, c| Box::pin(ignore_user(s, p, c))),
];

/// `addRoomOwner(rid, userId)` and its five kin → `true`.
async fn room_role(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    role: RoomRole,
    grant: bool,
) -> Result<Outcome> {
    let method = match (role, grant) {
        (Owner, true) => "addRoomOwner",
        (Owner, false) => "removeRoomOwner",
        (Moderator, true) => "addRoomModerator",
        (Moderator, false) => "removeRoomModerator",
        (Leader, true) => "addRoomLeader",
        (Leader, false) => "removeRoomLeader",
    };
    let room_id = str_param(&params, 0)?;
    let user_id = str_param(&params, 1)?;
    let session = session_for(&ctx, method)?;
    let room = service
        .rooms()
        .room_for_moderation(session, &room_id, method)
        .await?;
    let Some(user) = service.accounts().find_user(&UserRef::Id(user_id)).await? else {
        return Err(Error::meteor("error-invalid-user", "Invalid user")
            .with_details(json!({"method": method})));
    };
    service
        .rooms()
        .set_room_role(session, &room, &user, role, grant)
        .await?;
    value(json!(true))
}

/// `archiveRoom(rid)`, `unarchiveRoom(rid)`.
async fn archive_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    archived: bool,
) -> Result<Outcome> {
    let method = if archived {
        "archiveRoom"
    } else {
        "unarchiveRoom"
    };
    let room_id = str_param(&params, 0)?;
    let session = session_for(&ctx, method)?;
    let room = service
        .rooms()
        .room_for_moderation(session, &room_id, method)
        .await?;
    service
        .rooms()
        .set_archived(session, &room, archived)
        .await?;
    value(Value::Null)
}

/// `eraseRoom(rid)` → `true`: what `rooms.delete` does.
async fn erase_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let room_id = str_param(&params, 0)?;
    let session = session_for(&ctx, "eraseRoom")?;
    service.rooms().delete_room_by_id(session, &room_id).await?;
    value(json!(true))
}

/// `removeUserFromRoom({rid, username})` → `true`: what `channels.kick`/`groups.kick` do.
async fn remove_user_from_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "removeUserFromRoom";
    let data = param(&params, 0).ok_or_else(match_failed)?;
    let room_id = crate::str_field(data, "rid")?;
    let username = crate::str_field(data, "username")?;
    let session = session_for(&ctx, METHOD)?;
    let not_allowed = || {
        Error::meteor("error-not-allowed", "Not allowed").with_details(json!({"method": METHOD}))
    };
    let rooms = service.rooms();
    let Some(found) = rooms
        .find_room_unchecked(&comet_service::rooms::RoomRef::Id(room_id.to_owned()))
        .await?
    else {
        return Err(not_allowed());
    };
    // Members are not removed from direct conversations (upstream's room type rules).
    if found.room_type == RoomType::Direct {
        return Err(not_allowed());
    }
    let Some(room) = rooms.room_access(session, found).await? else {
        return Err(Error::meteor(
            "error-room-not-found",
            "The required \"roomId\" or \"roomName\" param provided does not match any group",
        ));
    };
    let user = service
        .accounts()
        .require_user(&UserRef::Username(username.to_owned()))
        .await?;
    rooms.kick_from_room(session, &room, &user).await?;
    value(json!(true))
}

/// `cleanRoomHistory({roomId, latest, oldest, inclusive, limit, excludePinned, filesOnly,
/// fromUsers, ignoreThreads})` → how many messages (or files) went.
async fn clean_room_history(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "cleanRoomHistory";
    let data = param(&params, 0).ok_or_else(match_failed)?;
    let room_id = crate::str_field(data, "roomId")?.to_owned();
    let field = |name: &str| data.get(name).filter(|v| !v.is_null());
    let date = |name: &str| {
        field(name)
            .map(|v| date_param(std::slice::from_ref(v), 0).ok_or_else(match_failed))
            .transpose()?
            .ok_or_else(match_failed)
    };
    let flag = |name: &str, default: bool| match field(name) {
        None => Ok(default),
        Some(v) => v.as_bool().ok_or_else(match_failed),
    };
    let latest = date("latest")?;
    let oldest = date("oldest")?;
    let inclusive = flag("inclusive", true)?;
    let limit = match field("limit") {
        None => None,
        Some(v) => Some(v.as_f64().ok_or_else(match_failed)?),
    };
    let exclude_pinned = flag("excludePinned", false)?;
    let files_only = flag("filesOnly", false)?;
    let ignore_threads = flag("ignoreThreads", false)?;
    let from_users: Vec<String> = match field("fromUsers") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_owned).ok_or_else(match_failed))
            .collect::<Result<_>>()?,
        Some(_) => return Err(match_failed()),
    };
    let session = session_for(&ctx, METHOD)?;
    let mut user_ids = Vec::with_capacity(from_users.len());
    for name in from_users {
        // Upstream removes the messages of the users it finds by these names.
        if let Some(user) = service
            .accounts()
            .find_user(&UserRef::Username(name))
            .await?
        {
            user_ids.push(user.id);
        }
    }
    let clean = CleanHistory {
        latest: Some(latest),
        oldest: Some(oldest),
        inclusive,
        exclude_pinned,
        ignore_threads,
        user_ids,
        limit: limit.filter(|l| *l >= 1.0).map(|l| l as u64),
        files_only,
    };
    let count = service
        .rooms()
        .clean_history(session, &room_id, clean)
        .await
        .map_err(|e| {
            if e.code.as_deref() == Some("error-room-not-found") {
                Error::meteor("error-not-allowed", "Not allowed")
                    .with_details(json!({"method": METHOD}))
            } else {
                e
            }
        })?;
    value(json!(count))
}

/// `addAllUserToRoom(rid, activeUsersOnly = false)` → `true`: what `channels.addAll` does.
async fn add_all_user_to_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "addAllToRoom";
    let room_id = str_param(&params, 0)?;
    let active_only = match param(&params, 1) {
        None => false,
        Some(v) => v.as_bool().ok_or_else(match_failed)?,
    };
    let forbidden = || {
        Error::meteor("403", "Access to Method Forbidden").with_details(json!({"method": METHOD}))
    };
    let session = ctx.session.ok_or_else(forbidden)?;
    let room = service
        .rooms()
        .room_for_moderation(session, &room_id, METHOD)
        .await?;
    service
        .rooms()
        .add_all_users(session, &room, active_only)
        .await
        .map_err(|e| {
            if e.code.as_deref() == Some("error-not-allowed") {
                forbidden()
            } else {
                e
            }
        })?;
    value(json!(true))
}

/// `createDiscussion({prid, pmid, t_name, reply, users})` → the discussion room with `rid`.
async fn create_discussion(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let data = param(&params, 0).cloned().unwrap_or(Value::Null);
    let text = |name: &str| {
        data.get(name)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let session = session_for(&ctx, "DiscussionCreation")?;
    let discussion = NewDiscussion {
        parent_room_id: text("prid").unwrap_or_default(),
        name: text("t_name").unwrap_or_default(),
        parent_message_id: text("pmid"),
        reply: text("reply"),
        usernames: data
            .get("users")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        topic: None,
    };
    let room = service
        .rooms()
        .create_discussion(session, discussion)
        .await?;
    let mut doc = ejson(chat::room(&room, None));
    if let Value::Object(fields) = &mut doc {
        fields.insert("rid".into(), json!(room.id));
    }
    value(doc)
}

/// `ignoreUser({rid, userId, ignore = true})` → `true`: what `chat.ignoreUser` does.
async fn ignore_user(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let data = param(&params, 0).ok_or_else(match_failed)?;
    let user_id = crate::str_field(data, "userId")?;
    let room_id = crate::str_field(data, "rid")?;
    let ignore = match data.get("ignore") {
        None => true,
        Some(v) => v.as_bool().ok_or_else(match_failed)?,
    };
    let session = session_for(&ctx, "ignoreUser")?;
    service
        .rooms()
        .ignore_user(session, room_id, user_id, ignore)
        .await?;
    value(json!(true))
}
