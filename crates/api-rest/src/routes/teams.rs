//! Teams (upstream's `v1/teams.ts`): `teams.create`, `teams.list`, `teams.listAll`,
//! `teams.info`, `teams.members`, `teams.addMembers`, `teams.removeMember`,
//! `teams.updateMember`, `teams.leave`, `teams.delete`, `teams.convertToChannel`,
//! `teams.addRooms`, `teams.removeRoom`, `teams.updateRoom`, `teams.listRooms`,
//! `teams.autocomplete`, `teams.update`, `teams.listRoomsOfUser`; `channels.convertToTeam` and
//! `groups.convertToTeam`.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{opt_str, pagination, req_bool, req_str};
use axum::extract::State;
use comet_core::Error;
use comet_core::page::{Direction, Page, RoomSortKey};
use comet_core::room::Room;
use comet_core::team::{Team, TeamMember, TeamType};
use comet_core::user::User;
use comet_protocol::iso;
use comet_service::teams::{
    ChildKind, ChildrenQuery, MemberRoles, NewTeam, TeamInfo, TeamMemberFilter, TeamOrMainRoom,
    TeamRef,
};
use serde_json::{Value, json};

fn team_json(team: &Team) -> Value {
    json!({
        "_id": team.id,
        "name": team.name,
        "type": team.team_type.as_number(),
        "roomId": team.room_id,
        "createdBy": {"_id": team.created_by.id, "username": team.created_by.username},
        "createdAt": iso(team.created_at),
        "_updatedAt": iso(team.updated_at),
    })
}

fn team_info_json(info: &TeamInfo) -> Value {
    let mut doc = team_json(&info.team);
    if let Some(map) = doc.as_object_mut() {
        map.insert("rooms".into(), json!(info.rooms));
        map.insert("numberOfUsers".into(), json!(info.members));
    }
    doc
}

fn member_json(member: &TeamMember, user: &User) -> Value {
    json!({
        "user": {
            "_id": user.id,
            "username": user.username,
            "name": user.name,
            "status": user.status.as_str(),
        },
        "roles": member.roles,
        "createdBy": {"_id": member.created_by.id, "username": member.created_by.username},
        "createdAt": iso(member.created_at),
    })
}

fn room_json(room: &Room) -> Value {
    comet_protocol::chat::room(room, None)
}

/// `teamId` or `teamName`, as upstream's schemas and `check`s require one of them. Either may
/// be empty: upstream then finds no team and answers as for an unknown one.
fn team_ref(params: &Value) -> Result<TeamRef, Error> {
    let id = opt_str(params, "teamId")?;
    let name = opt_str(params, "teamName")?;
    if let Some(id) = id.as_ref().filter(|s| !s.is_empty()) {
        return Ok(TeamRef::Id(id.clone()));
    }
    if let Some(name) = name.as_ref().filter(|s| !s.is_empty()) {
        return Ok(TeamRef::Name(name.clone()));
    }
    if id.is_some() || name.is_some() {
        return Ok(TeamRef::Id(String::new()));
    }
    Err(Error::invalid_params(
        "must have required property 'teamId'",
    ))
}

/// An optional list of room ids which, when given, must hold at least one (`minItems: 1`).
fn room_list(params: &Value, name: &str, non_empty: bool) -> Result<Vec<String>, Error> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => {
            if non_empty && items.is_empty() {
                return Err(Error::invalid_params("must NOT have fewer than 1 items"));
            }
            items
                .iter()
                .map(|item| {
                    item.as_str()
                        .map(str::to_owned)
                        .ok_or_else(|| Error::invalid_params("must be string"))
                })
                .collect()
        }
        Some(_) => Err(Error::invalid_params("must be array")),
    }
}

fn member_roles(value: &Value) -> Result<MemberRoles, Error> {
    let user_id = value
        .get("userId")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_params("must have required property 'userId'"))?;
    let roles = match value.get("roles") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        Some(_) => return Err(Error::invalid_params("must be array")),
    };
    Ok(MemberRoles {
        user_id: user_id.to_owned(),
        roles,
    })
}

/// The main room's side panel items (`sidepanel.items`), refused as upstream's
/// `isValidSidepanel` refuses them: only `channels` and `discussions`, at least one, no repeats.
fn sidepanel_items(body: &Value) -> Result<Vec<String>, Error> {
    let invalid = || Error::failure("error-invalid-sidepanel");
    let items = match body.pointer("/sidepanel/items") {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return Ok(Vec::new()),
        Some(Value::Array(items)) => items,
        Some(_) => return Err(invalid()),
    };
    let mut chosen: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(name @ ("channels" | "discussions")) if !chosen.iter().any(|c| c == name) => {
                chosen.push(name.to_owned());
            }
            _ => return Err(invalid()),
        }
    }
    if chosen.is_empty() {
        return Err(invalid());
    }
    Ok(chosen)
}

/// `POST /api/v1/teams.create` `{name, type, members?, owner?, room?}`.
pub async fn create(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let teams = app.service.teams();
    // The permission is checked before the body, as upstream does.
    if !app.service.has_permission(&session.user, "create-team") {
        return Err(Error::permission_required().into());
    }
    let name = req_str(&body, "name")?;
    let team_type = body
        .get("type")
        .and_then(Value::as_i64)
        .and_then(TeamType::from_number)
        .ok_or_else(|| Error::invalid_params("Match error: Failed Match.OneOf in field type"))?;
    let members = crate::params::opt_str_list(&body, "members")?.unwrap_or_default();
    let owner = opt_str(&body, "owner")?;
    let read_only = body
        .pointer("/room/readOnly")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let sidepanel = sidepanel_items(&body)?;
    let team = teams
        .create(
            &session,
            NewTeam {
                name,
                team_type: Some(team_type),
                members,
                owner,
                read_only,
                sidepanel,
            },
        )
        .await?;
    ok(json!({"team": team_json(&team)}))
}

/// `GET /api/v1/teams.list`: the caller's teams.
pub async fn list(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &params)?;
    let listing = app.service.teams().list(&session, offset, count).await?;
    let teams: Vec<Value> = listing.records.iter().map(team_info_json).collect();
    ok(json!({"teams": teams, "total": listing.total, "count": teams.len(), "offset": offset}))
}

/// `GET /api/v1/teams.listAll`.
pub async fn list_all(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &params)?;
    let listing = app
        .service
        .teams()
        .list_all(&session, offset, count)
        .await?;
    let teams: Vec<Value> = listing.records.iter().map(team_info_json).collect();
    ok(json!({"teams": teams, "total": listing.total, "count": teams.len(), "offset": offset}))
}

/// `GET /api/v1/teams.info` `?teamId|teamName`.
pub async fn info(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let team = team_ref(&params)?;
    let team = app.service.teams().info(&session, &team).await?;
    ok(json!({"teamInfo": team_json(&team)}))
}

/// `GET /api/v1/teams.members` `?teamId|teamName, status[], username, name`.
pub async fn members(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &params)?;
    let team = team_ref(&params)?;
    let statuses = match params.get("status") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(one)) => vec![one.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        Some(_) => return Err(Error::invalid_params("Match error: Expected array").into()),
    };
    let filter = TeamMemberFilter {
        username: opt_str(&params, "username")?.filter(|s| !s.is_empty()),
        name: opt_str(&params, "name")?.filter(|s| !s.is_empty()),
        statuses,
        except_user: None,
    };
    let listing = app
        .service
        .teams()
        .members(&session, &team, &filter, offset, count)
        .await?;
    let members: Vec<Value> = listing
        .records
        .iter()
        .map(|(member, user)| member_json(member, user))
        .collect();
    ok(json!({
        "members": members,
        "total": listing.total,
        "count": members.len(),
        "offset": offset,
    }))
}

/// `POST /api/v1/teams.addMembers` `{teamId|teamName, members: [{userId, roles?}]}`.
pub async fn add_members(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let members = match body.get("members") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(member_roles)
            .collect::<Result<Vec<_>, _>>()?,
        Some(Value::Array(_)) => {
            return Err(Error::invalid_params("must NOT have fewer than 1 items").into());
        }
        _ => {
            return Err(Error::invalid_params("must have required property 'members'").into());
        }
    };
    let team = team_ref(&body)?;
    app.service
        .teams()
        .add_members(&session, &team, &members)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/teams.updateMember` `{teamId|teamName, member: {userId, roles?}}`.
pub async fn update_member(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let member = match body.get("member") {
        Some(value @ Value::Object(_)) => member_roles(value)?,
        _ => return Err(Error::invalid_params("must have required property 'member'").into()),
    };
    let team = team_ref(&body)?;
    app.service
        .teams()
        .update_member(&session, &team, &member)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/teams.removeMember` `{teamId|teamName, userId, rooms?}`.
pub async fn remove_member(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let user_id = body
        .get("userId")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_params("must have required property 'userId'"))?
        .to_owned();
    let rooms = room_list(&body, "rooms", true)?;
    let team = team_ref(&body)?;
    app.service
        .teams()
        .remove_member(&session, &team, &user_id, &rooms)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/teams.leave` `{teamId|teamName, rooms?}`.
pub async fn leave(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let rooms = room_list(&body, "rooms", true)?;
    let team = team_ref(&body)?;
    app.service.teams().leave(&session, &team, &rooms).await?;
    ok(Value::Null)
}

/// `POST /api/v1/teams.delete` `{teamId|teamName, roomsToRemove?}`.
pub async fn delete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let rooms = room_list(&body, "roomsToRemove", false)?;
    let team = team_ref(&body)?;
    app.service.teams().delete(&session, &team, &rooms).await?;
    ok(Value::Null)
}

/// `POST /api/v1/teams.convertToChannel` `{teamId|teamName, roomsToRemove?}`.
pub async fn convert_to_channel(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let rooms = room_list(&body, "roomsToRemove", false)?;
    let team = team_ref(&body)?;
    app.service
        .teams()
        .convert_to_channel(&session, &team, &rooms)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/teams.addRooms` `{teamId|teamName, rooms}`.
pub async fn add_rooms(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    if !matches!(body.get("rooms"), Some(Value::Array(_))) {
        return Err(Error::invalid_params("Match error: Missing key 'rooms'").into());
    }
    let rooms = room_list(&body, "rooms", false)?;
    let team = team_ref(&body)?;
    let added = app
        .service
        .teams()
        .add_rooms(&session, &team, &rooms)
        .await?;
    let rooms: Vec<Value> = added.iter().map(room_json).collect();
    ok(json!({"rooms": rooms}))
}

/// `POST /api/v1/teams.removeRoom` `{teamId|teamName, roomId}`.
pub async fn remove_room(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = body
        .get("roomId")
        .and_then(Value::as_str)
        .ok_or_else(|| Error::invalid_params("must have required property 'roomId'"))?
        .to_owned();
    let team = team_ref(&body)?;
    let room = app
        .service
        .teams()
        .remove_room(&session, &team, &room_id)
        .await?;
    ok(json!({"room": room_json(&room)}))
}

/// `POST /api/v1/teams.updateRoom` `{roomId, isDefault}`.
pub async fn update_room(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = req_str(&body, "roomId")?;
    let is_default = req_bool(&body, "isDefault")?;
    let room = app
        .service
        .teams()
        .update_room(&session, &room_id, is_default)
        .await?;
    ok(json!({"room": room_json(&room)}))
}

/// `GET /api/v1/teams.listRooms` `?teamId|teamName, filter, type`.
pub async fn list_rooms(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let team = team_ref(&params)?;
    let (offset, count) = pagination(&app, &params)?;
    let filter = opt_str(&params, "filter")?;
    let auto_join = opt_str(&params, "type")?.as_deref() == Some("autoJoin");
    let listing = app
        .service
        .teams()
        .list_rooms(&session, &team, filter, auto_join, offset, count)
        .await?;
    let rooms: Vec<Value> = listing.records.iter().map(room_json).collect();
    ok(json!({"rooms": rooms, "total": listing.total, "count": rooms.len(), "offset": offset}))
}

/// `GET /api/v1/teams.listChildren` `?teamId|teamName|roomId, filter, type, sort`: exactly one
/// of the three names the team (upstream's schema); an unknown team is a 404.
pub async fn list_children(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let mut named = Vec::new();
    for key in ["teamId", "teamName", "roomId"] {
        if let Some(value) = opt_str(&params, key)? {
            named.push((key, value));
        }
    }
    let [(key, value)] = named.as_slice() else {
        return Err(Error::invalid_params("must match exactly one schema in oneOf").into());
    };
    let team = match *key {
        "teamId" => TeamOrMainRoom::Team(TeamRef::Id(value.clone())),
        "teamName" => TeamOrMainRoom::Team(TeamRef::Name(value.clone())),
        _ => TeamOrMainRoom::MainRoom(value.clone()),
    };
    let kind = match opt_str(&params, "type")?.as_deref() {
        None => None,
        Some("channels") => Some(ChildKind::Rooms),
        Some("discussions") => Some(ChildKind::Discussions),
        Some(_) => {
            return Err(Error::invalid_params("must be equal to one of the allowed values").into());
        }
    };
    let (offset, count) = pagination(&app, &params)?;
    let sort = crate::params::json_sort(
        &params,
        vec![(RoomSortKey::CreatedAt, Direction::Ascending)],
        |field| match field {
            "name" | "fname" => Some(RoomSortKey::Name),
            "ts" => Some(RoomSortKey::CreatedAt),
            "_updatedAt" => Some(RoomSortKey::UpdatedAt),
            "lm" | "lastMessage" => Some(RoomSortKey::LastMessageAt),
            "msgs" => Some(RoomSortKey::MessageCount),
            "usersCount" => Some(RoomSortKey::UsersCount),
            _ => None,
        },
    )?;
    let query = ChildrenQuery {
        team,
        filter: opt_str(&params, "filter")?,
        kind,
        page: Page {
            offset,
            count,
            sort,
        },
    };
    let Some(listing) = app.service.teams().list_children(&session, query).await? else {
        return Err(Error::not_found().into());
    };
    let data: Vec<Value> = listing.records.iter().map(room_json).collect();
    ok(json!({
        "data": data,
        "total": listing.total,
        "offset": offset,
        "count": count.unwrap_or(0),
    }))
}

/// `GET /api/v1/teams.autocomplete` `?name`.
pub async fn autocomplete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let name = req_str(&params, "name")?;
    let rooms = app.service.teams().autocomplete(&session, &name).await?;
    let teams: Vec<Value> = rooms
        .iter()
        .map(|room| {
            json!({
                "_id": room.id,
                "name": room.name,
                "fname": room.fname,
                "t": room.room_type.as_str(),
                "teamId": room.team_id,
            })
        })
        .collect();
    ok(json!({"teams": teams}))
}

/// `POST /api/v1/teams.update` `{teamId|teamName, data: {name?, type?, updateRoom?}}`.
pub async fn update(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let data = match body.get("data") {
        Some(data @ Value::Object(_)) => data,
        _ => return Err(Error::invalid_params("must have required property 'data'").into()),
    };
    // Upstream's schema allows `name` and `type` only (Comet also reads `updateRoom` there, as
    // upstream's service does); a `sidepanel` is refused with the rest.
    if let Some(fields) = data.as_object()
        && fields
            .keys()
            .any(|key| !matches!(key.as_str(), "name" | "type" | "updateRoom"))
    {
        return Err(Error::invalid_params("must NOT have additional properties").into());
    }
    let name = opt_str(data, "name")?;
    let team_type =
        match data.get("type") {
            None | Some(Value::Null) => None,
            Some(value) => Some(value.as_i64().and_then(TeamType::from_number).ok_or_else(
                || Error::invalid_params("must be equal to one of the allowed values"),
            )?),
        };
    let update_room = match data.get("updateRoom") {
        None | Some(Value::Null) => true,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(Error::invalid_params("must be boolean").into()),
    };
    let team = team_ref(&body)?;
    app.service
        .teams()
        .update(&session, &team, name, team_type, update_room)
        .await?;
    ok(Value::Null)
}

/// `GET /api/v1/teams.listRoomsOfUser` `?teamId|teamName, userId, canUserDelete`.
pub async fn list_rooms_of_user(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let team = team_ref(&params).map_err(|_| {
        Error::invalid_params(
            "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation",
        )
    })?;
    let user_id = opt_str(&params, "userId")?
        .ok_or_else(|| Error::invalid_params("Match error: Missing key 'userId'"))?;
    let deletable_only = opt_str(&params, "canUserDelete")?.as_deref() == Some("true");
    let (offset, count) = pagination(&app, &params)?;
    let listing = app
        .service
        .teams()
        .list_rooms_of_user(&session, &team, &user_id, deletable_only, offset, count)
        .await?;
    let rooms: Vec<Value> = listing
        .records
        .iter()
        .map(|(room, last_owner)| {
            let mut doc = room_json(room);
            if let Some(map) = doc.as_object_mut() {
                map.insert("isLastOwner".into(), json!(last_owner));
            }
            doc
        })
        .collect();
    // Upstream answers offset 0 whatever was asked.
    ok(json!({"rooms": rooms, "total": listing.total, "count": rooms.len(), "offset": 0}))
}

/// `POST /api/v1/channels.convertToTeam` `{channelId|channelName}`: `create-team`, then
/// `edit-room` in the channel when it is named by id, as upstream checks them.
pub async fn convert_channel(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let channel_id = opt_str(&body, "channelId")?.filter(|s| !s.is_empty());
    let channel_name = opt_str(&body, "channelName")?.filter(|s| !s.is_empty());
    if channel_id.is_none() && channel_name.is_none() {
        return Err(Error::invalid_params("must have required property 'channelId'").into());
    }
    if !app.service.has_permission(&session.user, "create-team") {
        return Err(Error::permission_required().into());
    }
    if let Some(id) = &channel_id
        && !app
            .service
            .rooms()
            .has_room_permission(&session.user, "edit-room", id)
            .await?
    {
        return Err(Error::forbidden().into());
    }
    let reference = match channel_id {
        Some(id) => json!({"roomId": id}),
        None => json!({"roomName": channel_name}),
    };
    let room = super::rooms::load(&app, &session, super::rooms::CHANNELS, &reference).await?;
    super::rooms::refuse_archived(super::rooms::CHANNELS, &room)?;
    let team = app
        .service
        .teams()
        .convert_room(&session, room.room())
        .await?;
    ok(json!({"team": team_json(&team)}))
}

/// `POST /api/v1/groups.convertToTeam` `{roomId|roomName}`: a group the caller is in, then
/// `create-team` and `edit-room` in it.
pub async fn convert_group(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let room_id = opt_str(&body, "roomId")?.filter(|s| !s.is_empty());
    let room_name = opt_str(&body, "roomName")?.filter(|s| !s.is_empty());
    if room_id.is_none() && room_name.is_none() {
        return Err(Error::invalid_params("must have required property 'roomId'").into());
    }
    let room = super::rooms::load(&app, &session, super::rooms::GROUPS, &body).await?;
    super::rooms::refuse_archived(super::rooms::GROUPS, &room)?;
    let rooms = app.service.rooms();
    if !rooms
        .has_room_permission(&session.user, "create-team", &room.id)
        .await?
        || !rooms
            .has_room_permission(&session.user, "edit-room", &room.id)
            .await?
    {
        return Err(Error::unauthorized().into());
    }
    let team = app
        .service
        .teams()
        .convert_room(&session, room.room())
        .await?;
    ok(json!({"team": team_json(&team)}))
}
