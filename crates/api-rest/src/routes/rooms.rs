//! `channels.*`, `groups.*`, `im.*`/`dm.*`: one set of handlers, parameterized by family.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::params::{
    json_sort, message_query, opt_bool, opt_str, opt_str_list, opt_u64, pagination, parse_js_date,
    room_ref, user_ref, user_refs,
};
use comet_core::page::Direction;
use comet_core::page::RoomSortKey;
use comet_core::room::{Room, RoomType};
use comet_core::user::User;
use comet_core::{Error, Result};
use comet_protocol::chat;
use comet_protocol::iso;
use comet_protocol::rest::utc_offset;
use comet_service::Session;
use comet_service::messages::HistoryQuery;
use comet_service::rooms::{NewRoom, RoomAccess, RoomFamily, RoomListQuery, RoomRef};
use serde_json::{Value, json};

/// How one family of endpoints names things on the wire.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    pub family: RoomFamily,
    pub room_type: RoomType,
    /// The key of a single room in responses (`channel`, `group`).
    pub one: &'static str,
    /// The key of a list of rooms (`channels`, `groups`, `ims`).
    pub many: &'static str,
    /// Whether history shows thread replies unless told otherwise (groups do, channels don't).
    pub threads_by_default: bool,
}

pub const CHANNELS: Family = Family {
    family: RoomFamily::Channels,
    room_type: RoomType::Channel,
    one: "channel",
    many: "channels",
    threads_by_default: false,
};

pub const GROUPS: Family = Family {
    family: RoomFamily::Groups,
    room_type: RoomType::Private,
    one: "group",
    many: "groups",
    threads_by_default: true,
};

pub const DIRECT: Family = Family {
    family: RoomFamily::Direct,
    room_type: RoomType::Direct,
    one: "room",
    many: "ims",
    threads_by_default: false,
};

pub(crate) async fn load(
    app: &AppState,
    session: &Session,
    family: Family,
    params: &Value,
) -> Result<RoomAccess> {
    let reference = reference(app, session, family, params).await?;
    app.service
        .rooms()
        .room_for(session, &reference, family.family)
        .await
}

/// The room a family route names: `roomId`/`roomName`, or for direct messages `roomId` or
/// `username` (whose conversation with the caller is opened if need be).
async fn reference(
    app: &AppState,
    session: &Session,
    family: Family,
    params: &Value,
) -> Result<RoomRef> {
    Ok(if family.room_type == RoomType::Direct {
        match opt_str(params, "roomId")?.filter(|s| !s.is_empty()) {
            Some(id) => RoomRef::Id(id),
            None => match opt_str(params, "username")?.filter(|s| !s.is_empty()) {
                Some(username) => {
                    let room = app
                        .service
                        .rooms()
                        .create_direct(session, &[username], false)
                        .await?;
                    RoomRef::Id(room.id)
                }
                None => {
                    return Err(Error::meteor(
                        "error-room-param-not-provided",
                        "Query param \"roomId\" or \"username\" is required",
                    ));
                }
            },
        }
    } else {
        room_ref(params)?
    })
}

/// `load` for the im.* routes that check the caller's access to the id they were given
/// before looking the conversation up (`im.open`, `im.setTopic`, `im.counters`): a
/// conversation that does not exist is 403 "unauthorized" there, not `invalid-channel`.
async fn load_direct_access_first(
    app: &AppState,
    session: &Session,
    params: &Value,
) -> Result<RoomAccess> {
    load(app, session, DIRECT, params)
        .await
        .map_err(|e| match e.code.as_deref() {
            Some("invalid-channel") => Error::forbidden(),
            _ => e,
        })
}

/// `load`, refusing archived rooms as upstream's lookups do for every route that changes or
/// reads more than history, info and members.
async fn load_unarchived(
    app: &AppState,
    session: &Session,
    family: Family,
    params: &Value,
) -> Result<RoomAccess> {
    let room = load(app, session, family, params).await?;
    refuse_archived(family, &room)?;
    Ok(room)
}

/// Upstream's `checkedArchived` refusal.
pub fn refuse_archived(family: Family, room: &Room) -> Result<()> {
    if room.archived && room.room_type != RoomType::Direct {
        let subject = if family.room_type == RoomType::Private {
            "private group"
        } else {
            "channel"
        };
        let name = room.name.clone().unwrap_or_default();
        return Err(Error::meteor(
            "error-room-archived",
            format!("The {subject}, {name}, is archived"),
        ));
    }
    Ok(())
}

async fn room_json(app: &AppState, room: Room) -> Result<Value> {
    let view = app.service.rooms().room_view(room).await?;
    Ok(chat::room(&view.room, view.last_message.as_ref()))
}

async fn reload(app: &AppState, room_id: &str) -> Result<Room> {
    app.service
        .rooms()
        .find_room_unchecked(&RoomRef::Id(room_id.to_owned()))
        .await?
        .ok_or_else(|| Error::meteor("error-room-not-found", "Room not found"))
}

/// `channels.create`, `groups.create`.
pub async fn create(family: Family, app: AppState, session: Session, body: Value) -> ApiResult {
    let extra = body.get("extraData").cloned().unwrap_or(Value::Null);
    let team_id = opt_str(&extra, "teamId")?;
    // Upstream's validator checks the permission before the parameters.
    app.service
        .rooms()
        .authorize_creation(&session, family.room_type, team_id.as_deref())
        .await?;
    let name = opt_str(&body, "name")?.filter(|n| !n.trim().is_empty());
    let Some(name) = name else {
        let message = if family.room_type == RoomType::Private {
            "Body param \"name\" is required"
        } else {
            "Param \"name\" is required"
        };
        return Err(Error::failure(message).into());
    };
    let members = match body.get("members") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => {
            let message = if family.room_type == RoomType::Private {
                "Body param \"members\" must be an array if provided"
            } else {
                "Param \"members\" must be an array if provided"
            };
            return Err(Error::failure(message).into());
        }
    };
    let member_teams = match body.get("teams") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect(),
        Some(_) => return Err(Error::failure("Param teams must be an array").into()),
    };
    let new_room = NewRoom {
        name,
        members,
        read_only: opt_bool(&body, "readOnly")?.unwrap_or(false),
        exclude_self: opt_bool(&body, "excludeSelf")?.unwrap_or(false),
        topic: opt_str(&extra, "topic")?,
        description: opt_str(&extra, "description")?,
        broadcast: opt_bool(&extra, "broadcast")?.unwrap_or(false),
        encrypted: opt_bool(&extra, "encrypted")?.unwrap_or(false),
        custom_fields: body.get("customFields").filter(|v| v.is_object()).cloned(),
        team_id,
        member_teams,
    };
    let room = app
        .service
        .rooms()
        .create_room(&session, family.room_type, new_room)
        .await?;
    ok(json!({ family.one: room_json(&app, room).await? }))
}

/// `channels.info`, `groups.info`.
pub async fn info(family: Family, app: AppState, session: Session, query: Value) -> ApiResult {
    let room = load(&app, &session, family, &query).await?;
    let room_id = room.id.clone();
    let doc = room_json(&app, room.into_room()).await?;
    let doc = super::avatars::with_room_etag(&app, &room_id, doc).await?;
    ok(json!({ family.one: doc }))
}

fn room_sort(query: &Value) -> Result<Vec<(RoomSortKey, Direction)>> {
    json_sort(
        query,
        vec![(RoomSortKey::Name, Direction::Ascending)],
        |field| match field {
            "name" | "fname" => Some(RoomSortKey::Name),
            "ts" => Some(RoomSortKey::CreatedAt),
            "_updatedAt" => Some(RoomSortKey::UpdatedAt),
            "lm" | "lastMessage" => Some(RoomSortKey::LastMessageAt),
            "msgs" => Some(RoomSortKey::MessageCount),
            "usersCount" => Some(RoomSortKey::UsersCount),
            _ => None,
        },
    )
}

/// The `sort` of message listings (`channels.messages` and its twins): newest first unless
/// asked otherwise.
fn message_sort(query: &Value) -> Result<Vec<(comet_core::page::MessageSortKey, Direction)>> {
    use comet_core::page::MessageSortKey;
    json_sort(
        query,
        vec![(MessageSortKey::CreatedAt, Direction::Descending)],
        |field| match field {
            "ts" => Some(MessageSortKey::CreatedAt),
            "_updatedAt" => Some(MessageSortKey::UpdatedAt),
            "tlm" => Some(MessageSortKey::ThreadLastAt),
            "u.username" => Some(MessageSortKey::AuthorUsername),
            _ => None,
        },
    )
}

/// `channels.list`, `channels.list.joined`, `groups.list`, `groups.listAll`, `im.list`.
pub async fn list(
    family: Family,
    joined_only: bool,
    app: AppState,
    session: Session,
    query: Value,
) -> ApiResult {
    let (offset, count) = pagination(&app, &query)?;
    let name = opt_str(&query, "name")?.filter(|s| !s.is_empty());
    let (rooms, total) = app
        .service
        .rooms()
        .list_rooms(
            &session,
            RoomListQuery {
                types: vec![family.room_type],
                joined_only,
                name,
                id: opt_str(&query, "_id")?.filter(|s| !s.is_empty()),
                offset,
                count,
                sort: room_sort(&query)?,
            },
        )
        .await?;
    let administrators_listing = !joined_only && family.room_type == RoomType::Direct;
    let docs: Vec<Value> = rooms
        .iter()
        .map(|v| {
            let mut doc = chat::room(&v.room, v.last_message.as_ref());
            if administrators_listing {
                chat::add_direct_room_flags(&mut doc, &v.room);
            }
            doc
        })
        .collect();
    ok(json!({ family.many: docs, "count": docs.len(), "offset": offset, "total": total }))
}

/// `channels.join`.
pub async fn join(app: AppState, session: Session, body: Value) -> ApiResult {
    let reference = room_ref(&body)?;
    let room = app
        .service
        .rooms()
        .room_for_join(&session, &reference, RoomFamily::Channels)
        .await?;
    refuse_archived(CHANNELS, &room)?;
    let code = opt_str(&body, "joinCode")?;
    app.service
        .rooms()
        .join_room(&session, &room, code.as_deref())
        .await?;
    let room = reload(&app, &room.id).await?;
    ok(json!({ "channel": room_json(&app, room).await? }))
}

/// `rooms.join` (8.x): joins any room the caller may see (a channel, or a discussion of one),
/// with its join code when it has one; answers the room.
pub async fn rooms_join(app: AppState, session: Session, body: Value) -> ApiResult {
    let Some(room_id) = opt_str(&body, "roomId")? else {
        return Err(Error::invalid_params("must have required property 'roomId'").into());
    };
    let room = app
        .service
        .rooms()
        .room_for_join(&session, &RoomRef::Id(room_id), RoomFamily::Any)
        .await?;
    let code = opt_str(&body, "joinCode")?;
    app.service
        .rooms()
        .join_room(&session, &room, code.as_deref())
        .await?;
    let room = reload(&app, &room.id).await?;
    ok(json!({ "room": room_json(&app, room).await? }))
}

/// `channels.leave`, `groups.leave`.
pub async fn leave(family: Family, app: AppState, session: Session, body: Value) -> ApiResult {
    let room = load_unarchived(&app, &session, family, &body).await?;
    app.service.rooms().leave_room(&session, &room).await?;
    if family.room_type == RoomType::Private {
        return ok(Value::Null);
    }
    let room = reload(&app, &room.id).await?;
    ok(json!({ family.one: room_json(&app, room).await? }))
}

async fn users_of(
    app: &AppState,
    refs: Vec<comet_service::accounts::UserRef>,
) -> Result<Vec<User>> {
    let mut users = Vec::with_capacity(refs.len());
    for r in refs {
        let user = app.service.accounts().require_user(&r).await?;
        if !users.iter().any(|u: &User| u.id == user.id) {
            users.push(user);
        }
    }
    Ok(users)
}

/// `channels.invite`, `groups.invite`.
pub async fn invite(family: Family, app: AppState, session: Session, body: Value) -> ApiResult {
    let room = load_unarchived(&app, &session, family, &body).await?;
    let users = users_of(&app, user_refs(&body)?).await?;
    if users.is_empty() {
        return Err(match family.room_type {
            RoomType::Private => Error::meteor(
                "error-empty-invite-list",
                "Cannot invite if no valid users are provided",
            ),
            _ => Error::failure_typed(
                "invalid-user-invite-list",
                "Cannot invite if no users are provided",
            ),
        }
        .into());
    }
    app.service
        .rooms()
        .invite_to_room(&session, &room, &users)
        .await?;
    let room = reload(&app, &room.id).await?;
    ok(json!({ family.one: room_json(&app, room).await? }))
}

/// `channels.kick`, `groups.kick`.
pub async fn kick(family: Family, app: AppState, session: Session, body: Value) -> ApiResult {
    let room = app
        .service
        .rooms()
        .room_for_kick(&session, &room_ref(&body)?, family.family)
        .await?;
    refuse_archived(family, &room)?;
    let user = app
        .service
        .accounts()
        .require_user(&user_ref(&body)?)
        .await?;
    app.service
        .rooms()
        .kick_from_room(&session, &room, &user)
        .await?;
    if family.room_type == RoomType::Private {
        return ok(Value::Null);
    }
    let room = reload(&app, &room.id).await?;
    ok(json!({ family.one: room_json(&app, room).await? }))
}

fn date_param(query: &Value, name: &str) -> Result<Option<chrono::DateTime<chrono::Utc>>> {
    match opt_str(query, name)? {
        None => Ok(None),
        Some(raw) => parse_js_date(&raw).map(Some).ok_or_else(|| {
            Error::meteor(
                "error-invalid-date",
                format!("The \"{name}\" query parameter must be a valid date."),
            )
        }),
    }
}

/// `channels.history`, `groups.history`, `im.history`: newest first, 20 by default.
pub async fn history(family: Family, app: AppState, session: Session, query: Value) -> ApiResult {
    if family.room_type == RoomType::Direct && opt_str(&query, "roomId")?.is_none() {
        return Err(Error::meteor(
            "error-room-param-not-provided",
            "Query param \"roomId\" is required",
        )
        .into());
    }
    let room = load(&app, &session, family, &query).await?;
    let upper = u64::try_from(app.service.setting_int("API_Upper_Count_Limit")).unwrap_or(100);
    let show_threads = match opt_bool(&query, "showThreadMessages")? {
        Some(v) => v,
        None => family.threads_by_default,
    };
    let history = HistoryQuery {
        latest: date_param(&query, "latest")?,
        oldest: date_param(&query, "oldest")?,
        inclusive: opt_bool(&query, "inclusive")?.unwrap_or(false),
        offset: opt_u64(&query, "offset")?.unwrap_or(0),
        count: Some(opt_u64(&query, "count")?.unwrap_or(20).min(upper)),
        show_thread_messages: show_threads,
    };
    let messages = app.service.messages().history(&room, &history).await?;
    let messages: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({ "messages": messages }))
}

/// `channels.messages`, `groups.messages`, `im.messages`.
pub async fn messages(family: Family, app: AppState, session: Session, query: Value) -> ApiResult {
    // Upstream's `groups.messages` schema is a `oneOf` of a `roomId` and a `roomName` form,
    // each allowing both keys: a request with both matches both forms.
    if family.room_type == RoomType::Private
        && opt_str(&query, "roomId")?.is_some()
        && opt_str(&query, "roomName")?.is_some()
    {
        return Err(Error::invalid_params("must match exactly one schema in oneOf").into());
    }
    // Paging, sort and the selector are read before the room is looked up, as upstream's
    // `getPaginationItems` and `parseJsonQuery` are.
    let (offset, count) = pagination(&app, &query)?;
    let sort = message_sort(&query)?;
    let mut filter = comet_core::page::MessageFilter::default();
    message_query(&query, &mut filter)?;
    let room = load(&app, &session, family, &query).await?;
    // The explicit parameters win over the selector's conditions, as upstream spreads them
    // after it.
    if opt_bool(&query, "pinned")?.unwrap_or(false) {
        filter.pinned_only = true;
    }
    if let Some(ids) = opt_str_list(&query, "mentionIds")? {
        filter.mentioning = ids;
    }
    if let Some(ids) = opt_str_list(&query, "starredIds")? {
        filter.starred_by = ids;
    }
    let page = comet_core::page::Page {
        offset,
        count,
        sort,
    };
    let (messages, total) = app
        .service
        .messages()
        .room_messages(&room, &filter, &page)
        .await?;
    let docs: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({ "messages": docs, "count": docs.len(), "offset": offset, "total": total }))
}

/// `channels.getIntegrations`, `groups.getIntegrations`: the room's webhooks (none yet).
pub async fn integrations(
    family: Family,
    app: AppState,
    session: Session,
    query: Value,
) -> ApiResult {
    let room = room_ref(&query)?;
    let (integrations, total) = app
        .service
        .rooms()
        .room_integrations(&session, &room, family.family)
        .await?;
    let (offset, _) = pagination(&app, &query)?;
    ok(json!({
        "integrations": integrations,
        "count": integrations.len(),
        "offset": offset,
        "total": total,
    }))
}

/// `channels.anonymousread`: open to callers without credentials.
pub async fn anonymous_read(
    axum::extract::State(app): axum::extract::State<AppState>,
    crate::extract::Params(query): crate::extract::Params,
) -> ApiResult {
    let channel = room_ref(&query)?;
    let (offset, count) = pagination(&app, &query)?;
    let page = comet_core::page::Page {
        offset,
        count,
        sort: message_sort(&query)?,
    };
    let (messages, total) = app
        .service
        .messages()
        .anonymous_read(&channel, &page)
        .await?;
    let docs: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({ "messages": docs, "count": docs.len(), "offset": offset, "total": total }))
}

/// `im.messages.others` / `dm.messages.others`: a direct conversation read by an administrator.
pub async fn messages_others(app: AppState, session: Session, query: Value) -> ApiResult {
    let (offset, count) = pagination(&app, &query)?;
    let page = comet_core::page::Page {
        offset,
        count,
        sort: message_sort(&query)?,
    };
    let room_id = opt_str(&query, "roomId")?;
    let (messages, total) = app
        .service
        .rooms()
        .other_direct_messages(&session, room_id.as_deref(), &page)
        .await?;
    let docs: Vec<Value> = messages.iter().map(chat::message).collect();
    ok(json!({ "messages": docs, "offset": offset, "count": docs.len(), "total": total }))
}

/// `channels.members`, `groups.members`, `im.members`.
pub async fn members(family: Family, app: AppState, session: Session, query: Value) -> ApiResult {
    let room = load(&app, &session, family, &query).await?;
    let (offset, count) = pagination(&app, &query)?;
    // `filter` (part of a username or name) and `status[]` narrow the list, as upstream's
    // `findUsersOfRoom`.
    let search = opt_str(&query, "filter")?.filter(|f| !f.trim().is_empty());
    let statuses = opt_str_list(&query, "status")?.unwrap_or_default();
    let (users, total): (Vec<User>, u64) = if search.is_some() || !statuses.is_empty() {
        let filter = comet_core::page::MemberFilter {
            statuses,
            search: search.map(|s| s.trim().to_owned()),
            ..Default::default()
        };
        let (members, total) = app
            .service
            .rooms()
            .members_by_role(&room, &filter, offset, count)
            .await?;
        (members.into_iter().map(|(_, user)| user).collect(), total)
    } else {
        let (members, total) = app
            .service
            .rooms()
            .room_members(&room, offset, count)
            .await?;
        (
            members.into_iter().filter_map(|(_, user)| user).collect(),
            total,
        )
    };
    let docs: Vec<Value> = users
        .iter()
        .map(|u| {
            let mut v = json!({
                "_id": u.id,
                "username": u.username,
                "name": u.name,
                "status": u.status.as_str(),
                "utcOffset": utc_offset(u.utc_offset),
                "_updatedAt": iso(u.updated_at),
            });
            if !u.status_text.is_empty()
                && let Value::Object(map) = &mut v
            {
                map.insert("statusText".into(), json!(u.status_text));
            }
            v
        })
        .collect();
    ok(json!({ "members": docs, "count": docs.len(), "offset": offset, "total": total }))
}

/// `channels.open`/`close`, `groups.open`/`close`, `im.open`/`close`.
pub async fn set_open(
    family: Family,
    open: bool,
    app: AppState,
    session: Session,
    body: Value,
) -> ApiResult {
    let room = match family.room_type {
        // `im.open` checks access to the id first; `im.close` looks for the caller's
        // subscription even when the conversation is gone.
        RoomType::Direct if open => load_direct_access_first(&app, &session, &body).await?,
        RoomType::Direct => {
            load(&app, &session, family, &body)
                .await
                .map_err(|e| match e.code.as_deref() {
                    Some("invalid-channel") => {
                        Error::failure("The user is not subscribed to the room")
                    }
                    _ => e,
                })?
        }
        _ => load(&app, &session, family, &body).await?,
    };
    let name = room.name.clone().unwrap_or_default();
    let Some(subscription) = app.service.rooms().subscription(&session, &room.id).await? else {
        return Err(Error::failure(match family.room_type {
            RoomType::Channel if open => {
                format!("The user/callee is not in the channel \"{name}\".")
            }
            // Upstream's text for close lacks the closing quote; clients match it as is.
            RoomType::Channel => format!("The user/callee is not in the channel \"{name}."),
            _ => "The user is not subscribed to the room".to_owned(),
        })
        .into());
    };
    // `im.open` on an open conversation is a success, as upstream (only channels and groups
    // refuse to open what is open).
    if open && subscription.open && family.room_type == RoomType::Direct {
        return ok(Value::Null);
    }
    if subscription.open == open {
        let what = match family.room_type {
            RoomType::Channel => format!("The channel, {name},"),
            RoomType::Private => format!("The private group, {name},"),
            RoomType::Direct => "The direct message room,".to_owned(),
        };
        let state = match (open, family.room_type) {
            (true, RoomType::Private) => "open for",
            (true, _) => "open to",
            (false, _) => "closed to",
        };
        return Err(Error::failure(format!("{what} is already {state} the sender")).into());
    }
    app.service
        .rooms()
        .set_open(&session, &room.id, open)
        .await?;
    ok(Value::Null)
}

/// `im.create` / `dm.create`: `{room: {t, rid, usernames, _id}}`.
pub async fn create_direct(app: AppState, session: Session, body: Value) -> ApiResult {
    let usernames: Vec<String> = match (opt_str(&body, "username")?, opt_str(&body, "usernames")?) {
        (Some(one), _) if !one.is_empty() => vec![one],
        (_, Some(many)) if !many.is_empty() => many
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => return Err(Error::invalid_params("must have required property 'username'").into()),
    };
    let exclude_self = opt_bool(&body, "excludeSelf")?.unwrap_or(false);
    let room = app
        .service
        .rooms()
        .create_direct(&session, &usernames, exclude_self)
        .await?;
    ok(json!({"room": {"t": "d", "rid": room.id, "usernames": room.usernames, "_id": room.id}}))
}

/// Extracts the state, caller and parameters, then runs a family handler.
macro_rules! family_route {
    ($handler:path $(, $arg:expr)*) => {
        move |axum::extract::State(app): axum::extract::State<$crate::AppState>,
              $crate::extract::Caller(session): $crate::extract::Caller,
              $crate::extract::Params(params): $crate::extract::Params| async move {
            $handler($($arg,)* app, session, params).await
        }
    };
}
pub(crate) use family_route;

/// A settings endpoint: which body parameter it reads and how it answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setter {
    Rename,
    Topic,
    Description,
    Purpose,
    Announcement,
    ReadOnly,
    Type,
    JoinCode,
    Default,
    CustomFields,
    Encrypted,
}

fn same_value(family: Family, what: &str) -> Error {
    let subject = if family.room_type == RoomType::Private {
        "private group"
    } else {
        "channel"
    };
    Error::failure(format!(
        "The {subject} {what} is the same as what it would be changed to."
    ))
}

fn required_body(name: &str) -> Error {
    Error::failure(format!("The bodyParam \"{name}\" is required"))
}

/// `channels.rename`, `channels.setTopic`, ... and the `groups.*` equivalents.
pub async fn set(
    family: Family,
    setter: Setter,
    app: AppState,
    session: Session,
    body: Value,
) -> ApiResult {
    use comet_service::room_settings::RoomChange;
    let room = load_unarchived(&app, &session, family, &body).await?;
    let checks_same = family.room_type == RoomType::Channel;
    let text = |key: &str| -> Result<Option<String>> { opt_str(&body, key) };
    let (change, reply): (RoomChange, Option<(&str, Value)>) = match setter {
        Setter::Rename => {
            let name = text("name")?
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| required_body("name"))?;
            if checks_same && room.name.as_deref() == Some(name.as_str()) {
                return Err(Error::failure(
                    "The channel name is the same as what it would be renamed to.",
                )
                .into());
            }
            (RoomChange::Name(name), None)
        }
        Setter::Topic => {
            let topic = text("topic")?
                .ok_or_else(|| Error::invalid_params("must have required property 'topic'"))?;
            if checks_same && room.topic.as_deref().unwrap_or_default() == topic {
                return Err(same_value(family, "topic").into());
            }
            (
                RoomChange::Topic(topic.clone()),
                Some(("topic", json!(topic))),
            )
        }
        Setter::Description | Setter::Purpose => {
            let key = if setter == Setter::Purpose {
                "purpose"
            } else {
                "description"
            };
            let value = text(key)?.ok_or_else(|| {
                Error::invalid_params(format!("must have required property '{key}'"))
            })?;
            if checks_same && room.description.as_deref().unwrap_or_default() == value {
                let what = if setter == Setter::Purpose {
                    "purpose (description)"
                } else {
                    "description"
                };
                return Err(same_value(family, what).into());
            }
            (
                RoomChange::Description(value.clone()),
                Some((key, json!(value))),
            )
        }
        Setter::Announcement => {
            let value = text("announcement")?.ok_or_else(|| required_body("announcement"))?;
            (
                RoomChange::Announcement(value.clone()),
                Some(("announcement", json!(value))),
            )
        }
        Setter::ReadOnly => {
            let value = opt_bool(&body, "readOnly")?.ok_or_else(|| required_body("readOnly"))?;
            if room.read_only == value {
                return Err(same_value(family, "read only setting").into());
            }
            (RoomChange::ReadOnly(value), None)
        }
        Setter::Type => {
            let raw = text("type")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| required_body("type"))?;
            let room_type = match raw.as_str() {
                "c" => RoomType::Channel,
                "p" => RoomType::Private,
                _ => {
                    return Err(Error::meteor(
                        "error-invalid-room-type",
                        format!("{raw} is not a valid room type"),
                    )
                    .into());
                }
            };
            if room.room_type == room_type {
                return Err(same_value(family, "type").into());
            }
            (RoomChange::Type(room_type), None)
        }
        Setter::JoinCode => {
            let code = text("joinCode")?
                .filter(|s| !s.is_empty())
                .ok_or_else(|| required_body("joinCode"))?;
            (RoomChange::JoinCode(code), None)
        }
        Setter::Default => {
            let Some(value) = opt_bool(&body, "default")? else {
                return Err(Error::failure_typed(
                    "The bodyParam \"default\" is required",
                    "error-channels-setdefault-is-same",
                )
                .into());
            };
            if room.default == value {
                return Err(Error::failure_typed(
                    "The channel default setting is the same as what it would be changed to.",
                    "error-channels-setdefault-missing-default-param",
                )
                .into());
            }
            (RoomChange::Default(value), None)
        }
        Setter::CustomFields => {
            let Some(fields) = body.get("customFields").filter(|v| v.is_object()).cloned() else {
                return Err(Error::failure(
                    "The bodyParam \"customFields\" is required with a type like object.",
                )
                .into());
            };
            (RoomChange::CustomFields(fields), None)
        }
        Setter::Encrypted => {
            let value = opt_bool(&body, "encrypted")?.ok_or_else(|| required_body("encrypted"))?;
            (RoomChange::Encrypted(value), None)
        }
    };
    let updated = app
        .service
        .rooms()
        .change_room(&session, &room, change)
        .await?;
    match reply {
        Some((key, value)) => ok(json!({ key: value })),
        None => ok(json!({ family.one: room_json(&app, updated.into_room()).await? })),
    }
}

/// `channels.archive`/`unarchive`, `groups.archive`/`unarchive`.
pub async fn archive(
    family: Family,
    archived: bool,
    app: AppState,
    session: Session,
    body: Value,
) -> ApiResult {
    let room = load(&app, &session, family, &body).await?;
    let name = room.name.clone().unwrap_or_default();
    let subject = if family.room_type == RoomType::Private {
        "private group"
    } else {
        "channel"
    };
    if archived && room.archived {
        return Err(Error::meteor(
            "error-room-archived",
            format!("The {subject}, {name}, is archived"),
        )
        .into());
    }
    if !archived && !room.archived && family.room_type == RoomType::Channel {
        return Err(Error::failure(format!("The channel, {name}, is not archived")).into());
    }
    app.service
        .rooms()
        .set_archived(&session, &room, archived)
        .await?;
    ok(Value::Null)
}

/// `channels.delete`, `groups.delete`, `im.delete`.
pub async fn delete(family: Family, app: AppState, session: Session, body: Value) -> ApiResult {
    let room = if family.room_type == RoomType::Direct {
        let reference = reference(&app, &session, family, &body).await?;
        app.service
            .rooms()
            .direct_room_for_deletion(&session, &reference)
            .await?
    } else {
        load(&app, &session, family, &body).await?
    };
    app.service.rooms().delete_room(&session, &room).await?;
    ok(Value::Null)
}

/// `channels.addOwner` and the other five room-role endpoints.
pub async fn role(
    family: Family,
    role: comet_service::room_settings::RoomRole,
    grant: bool,
    app: AppState,
    session: Session,
    body: Value,
) -> ApiResult {
    let room = load_unarchived(&app, &session, family, &body).await?;
    let user = app
        .service
        .accounts()
        .require_user(&user_ref(&body)?)
        .await?;
    app.service
        .rooms()
        .set_room_role(&session, &room, &user, role, grant)
        .await?;
    ok(Value::Null)
}

/// `channels.roles`, `groups.roles`.
pub async fn roles(family: Family, app: AppState, session: Session, query: Value) -> ApiResult {
    let room = load_unarchived(&app, &session, family, &query).await?;
    let roles: Vec<Value> = app
        .service
        .rooms()
        .room_roles(&room)
        .await?
        .iter()
        .map(|s| {
            json!({
                "_id": s.id,
                "rid": s.room_id,
                "u": {"_id": s.user.id, "username": s.user.username, "name": s.user.name},
                "roles": s.roles,
            })
        })
        .collect();
    ok(json!({ "roles": roles }))
}

/// `channels.moderators`, `groups.moderators`.
pub async fn moderators(
    family: Family,
    app: AppState,
    session: Session,
    query: Value,
) -> ApiResult {
    let room = load_unarchived(&app, &session, family, &query).await?;
    let moderators: Vec<Value> = app
        .service
        .rooms()
        .room_roles(&room)
        .await?
        .iter()
        .filter(|s| s.roles.iter().any(|r| r == "moderator"))
        .map(|s| json!({"_id": s.user.id, "username": s.user.username, "name": s.user.name}))
        .collect();
    ok(json!({ "moderators": moderators }))
}

/// `im.setTopic`: `{topic}`.
pub async fn set_direct_topic(app: AppState, session: Session, body: Value) -> ApiResult {
    if opt_str(&body, "roomId")?.is_some_and(|id| !id.is_empty()) {
        load_direct_access_first(&app, &session, &body).await?;
    }
    set(DIRECT, Setter::Topic, app, session, body).await
}

/// `channels.counters`, `groups.counters`, `im.counters`.
pub async fn counters(family: Family, app: AppState, session: Session, query: Value) -> ApiResult {
    if family.room_type == RoomType::Direct
        && opt_str(&query, "roomId")?.is_some_and(|id| !id.is_empty())
    {
        load_direct_access_first(&app, &session, &query).await?;
    }
    let room = load_unarchived(&app, &session, family, &query).await?;
    let user_id = opt_str(&query, "userId")?;
    let c = app
        .service
        .messages()
        .counters(&session, &room, user_id.as_deref())
        .await?;
    ok(json!({
        "joined": c.joined,
        "members": c.members,
        "unreads": c.unreads,
        "unreadsFrom": c.unreads_from.map(iso),
        "msgs": c.msgs,
        "latest": c.latest.map(iso),
        "userMentions": c.user_mentions,
    }))
}
