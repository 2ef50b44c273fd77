//! Changing rooms: names, topics and flags, archiving, deleting, and room roles.

use crate::Rooms;
use crate::rooms::RoomAccess;
use crate::rooms::system_message;
use crate::{Session, store_error};
use comet_core::room::{Room, RoomType};
use comet_core::user::User;
use comet_core::{Error, Result, now};
use comet_store::{Conflict, StoreError};
use serde_json::{Map, Value, json};

/// One change to a room's settings.
#[derive(Debug, Clone, PartialEq)]
pub enum RoomChange {
    Name(String),
    Topic(String),
    Description(String),
    Announcement(String),
    ReadOnly(bool),
    Type(RoomType),
    JoinCode(String),
    Default(bool),
    CustomFields(Value),
    Encrypted(bool),
    Featured(bool),
    ReactWhenReadOnly(bool),
    /// The system message types the room hides (`sysMes`).
    SystemMessages(Vec<String>),
    /// The room's favorite default (`favorite`).
    Favorite(bool),
    /// A team main room's side panel items (`sidepanel.items`; empty: none).
    Sidepanel(Vec<String>),
}

/// Upstream's `isValidSidepanel`: `null`, or `{items}` holding one or both of `channels` and
/// `discussions`, none twice. The items, or `None` when the value is not valid.
pub fn sidepanel_items(value: &Value) -> Option<Vec<String>> {
    let items = match value {
        Value::Null => return Some(Vec::new()),
        Value::Object(fields) => fields.get("items")?.as_array()?,
        _ => return None,
    };
    let mut chosen: Vec<String> = Vec::with_capacity(items.len());
    for item in items {
        match item.as_str() {
            Some(name @ ("channels" | "discussions")) if !chosen.iter().any(|c| c == name) => {
                chosen.push(name.to_owned());
            }
            _ => return None,
        }
    }
    (!chosen.is_empty()).then_some(chosen)
}

/// A room role that can be given in a room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomRole {
    Owner,
    Moderator,
    Leader,
}

impl RoomRole {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomRole::Owner => "owner",
            RoomRole::Moderator => "moderator",
            RoomRole::Leader => "leader",
        }
    }

    fn permission(self) -> &'static str {
        match self {
            RoomRole::Owner => "set-owner",
            RoomRole::Moderator => "set-moderator",
            RoomRole::Leader => "set-leader",
        }
    }
}

/// The settings `saveRoomSettings` knows, in upstream's order.
pub const ROOM_SETTINGS: &[&str] = &[
    "roomAvatar",
    "featured",
    "roomName",
    "roomTopic",
    "roomAnnouncement",
    "roomCustomFields",
    "roomDescription",
    "roomType",
    "readOnly",
    "reactWhenReadOnly",
    "systemMessages",
    "default",
    "joinCode",
    "retentionEnabled",
    "retentionMaxAge",
    "retentionExcludePinned",
    "retentionFilesOnly",
    "retentionIgnoreThreads",
    "retentionOverrideGlobal",
    "encrypted",
    "favorite",
    "sidepanel",
];

/// The system message types a room may hide (upstream's `MessageTypesValues`).
const HIDEABLE_SYSTEM_MESSAGES: &[&str] = &[
    "uj",
    "ujt",
    "ul",
    "ult",
    "ru",
    "removed-user-from-team",
    "au",
    "added-user-to-team",
    "mute_unmute",
    "r",
    "ut",
    "wm",
    "rm",
    "subscription-role-added",
    "subscription-role-removed",
    "room-archived",
    "room-unarchived",
    "room_changed_privacy",
    "room_changed_avatar",
    "room_changed_topic",
    "room_e2e_enabled",
    "room_e2e_disabled",
    "room-removed-read-only",
    "room-set-read-only",
    "room-disallowed-reacting",
    "room-allowed-reacting",
    "user-added-room-to-team",
    "user-converted-to-channel",
    "user-converted-to-team",
    "user-deleted-room-from-team",
    "user-removed-room-from-team",
    "room_changed_announcement",
    "room_changed_description",
];

/// JavaScript's truthiness, which upstream's checks on these values use.
fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0 && !n.is_nan()),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// What saving one `saveRoomSettings` setting changes, given the room as it is now; `None`
/// when upstream's saver leaves the room as it is (the same value, or a setting Comet keeps
/// nothing for).
fn room_setting_change(room: &Room, name: &str, value: &Value) -> Result<Option<RoomChange>> {
    let text = || -> Result<Option<String>> {
        match value {
            Value::Null => Ok(None),
            Value::String(s) => Ok(Some(s.clone())),
            _ => Err(Error::invalid_params(format!("must be string: {name}"))),
        }
    };
    let flag = || -> Result<bool> {
        match value {
            Value::Null => Ok(false),
            Value::Bool(b) => Ok(*b),
            _ => Err(Error::invalid_params(format!("must be boolean: {name}"))),
        }
    };
    // Topic, announcement and description: nothing to do when both are empty or they match.
    let text_change = |current: &Option<String>, make: fn(String) -> RoomChange| {
        let value = text()?.unwrap_or_default();
        let current = current.as_deref().unwrap_or_default();
        Ok((value != current).then(|| make(value)))
    };
    Ok(match name {
        "roomName" => match text()? {
            Some(name) if !name.trim().is_empty() && room.name.as_deref() != Some(&name) => {
                Some(RoomChange::Name(name))
            }
            _ => None,
        },
        "roomTopic" => text_change(&room.topic, RoomChange::Topic)?,
        "roomAnnouncement" => text_change(&room.announcement, RoomChange::Announcement)?,
        "roomDescription" => text_change(&room.description, RoomChange::Description)?,
        "roomCustomFields" => {
            if !value.is_object() {
                return Err(Error::meteor(
                    "invalid-roomCustomFields-type",
                    "Invalid roomCustomFields type",
                )
                .with_details(json!({"function": "RocketChat.saveRoomCustomFields"})));
            }
            Some(RoomChange::CustomFields(value.clone()))
        }
        "roomType" => {
            let raw = value.as_str().unwrap_or_default();
            match raw {
                "c" | "p" => RoomType::parse(raw)
                    .filter(|t| *t != room.room_type)
                    .map(RoomChange::Type),
                _ if RoomType::parse(raw) == Some(room.room_type) => None,
                _ => {
                    return Err(Error::meteor(
                        "error-invalid-room-type",
                        "error-invalid-room-type",
                    )
                    .with_details(json!({"function": "RocketChat.saveRoomType", "type": value})));
                }
            }
        }
        "readOnly" => {
            let v = flag()?;
            (v != room.read_only).then_some(RoomChange::ReadOnly(v))
        }
        "reactWhenReadOnly" => {
            let v = flag()?;
            (v != room.react_when_read_only).then_some(RoomChange::ReactWhenReadOnly(v))
        }
        "systemMessages" => {
            let invalid = || {
                Error::meteor("invalid-room", "Invalid option")
                    .with_details(json!({"function": "RocketChat.saveRoomSystemMessages"}))
            };
            let hidden: Vec<String> = match value {
                Value::Null => Vec::new(),
                Value::Array(items) => items
                    .iter()
                    .map(|item| {
                        item.as_str()
                            .filter(|t| HIDEABLE_SYSTEM_MESSAGES.contains(t))
                            .map(str::to_owned)
                            .ok_or_else(invalid)
                    })
                    .collect::<Result<_>>()?,
                _ => return Err(invalid()),
            };
            (hidden != room.hidden_system_messages).then_some(RoomChange::SystemMessages(hidden))
        }
        "joinCode" => {
            // Upstream stores `String(value)`.
            let code = match value {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(RoomChange::JoinCode(code))
        }
        "default" => Some(RoomChange::Default(flag()?)),
        "featured" => Some(RoomChange::Featured(flag()?)),
        "encrypted" => {
            let v = flag()?;
            (v != room.encrypted).then_some(RoomChange::Encrypted(v))
        }
        // `{favorite, defaultValue}`: the room keeps `favorite` only when both are set, as
        // upstream's `saveFavoriteById`.
        "favorite" => match value {
            Value::Object(fields) => {
                let set = |key: &str| fields.get(key).is_some_and(is_truthy);
                let favorite = set("favorite") && set("defaultValue");
                (favorite != room.favorite).then_some(RoomChange::Favorite(favorite))
            }
            _ => None,
        },
        // Validated before: `null` or one or both items.
        "sidepanel" => sidepanel_items(value).map(RoomChange::Sidepanel),
        // Retention policies: Comet has no such feature (see docs/compatibility.md), so the
        // validated value is not kept.
        _ => None,
    })
}

fn editing_not_allowed(reason: &'static str, action: &str) -> Error {
    Error::meteor("error-action-not-allowed", reason)
        .with_details(json!({"method": "saveRoomSettings", "action": action}))
}

impl Rooms<'_> {
    pub(crate) async fn post_system_message(
        &self,
        room: &Room,
        kind: &str,
        actor: &User,
        text: &str,
        role: Option<&str>,
    ) -> Result<()> {
        let mut message = system_message(kind, &room.id, actor, text, now());
        message.role = role.map(str::to_owned);
        self.ctx.messages().post_system(room, message).await?;
        Ok(())
    }

    /// Applies one settings change for the `channels.set*`/`groups.set*` routes, with its
    /// system message: `edit-room` first, then what that one change also requires.
    pub async fn change_room(
        &self,
        session: &Session,
        room: &RoomAccess,
        change: RoomChange,
    ) -> Result<RoomAccess> {
        let user = &session.user;
        if !self
            .has_room_permission(user, "edit-room", &room.id)
            .await?
        {
            return Err(editing_not_allowed(
                "Editing room is not allowed",
                "Editing_room",
            ));
        }
        self.authorize_change(user, room, &change).await?;
        let changed = self.apply_change(user, room.room(), change).await?;
        tracing::info!(by = %user.id, room = %room.id, "room settings changed");
        self.publish_room(changed.clone());
        // The caller read the room and was allowed to change it: they keep their access to it.
        Ok(RoomAccess::granted(changed))
    }

    /// What one change needs beyond `edit-room` when it comes from its own route.
    async fn authorize_change(&self, user: &User, room: &Room, change: &RoomChange) -> Result<()> {
        match change {
            RoomChange::ReadOnly(_)
                if !self
                    .has_room_permission(user, "set-readonly", &room.id)
                    .await? =>
            {
                return Err(editing_not_allowed(
                    "Editing readonly room is not allowed",
                    "Editing_readonly_room",
                ));
            }
            RoomChange::Type(room_type) => {
                if *room_type == RoomType::Direct || room.room_type == RoomType::Direct {
                    return Err(Error::meteor(
                        "error-invalid-room-type",
                        "Invalid room type",
                    ));
                }
                self.authorize_type(user, *room_type)?;
            }
            RoomChange::Default(_) | RoomChange::Featured(_) => {
                self.authorize_room_administration(user)?
            }
            RoomChange::Encrypted(_)
                if !self
                    .has_room_permission(user, "toggle-room-e2e-encryption", &room.id)
                    .await? =>
            {
                return Err(editing_not_allowed(
                    "Editing room is not allowed",
                    "Editing_room",
                ));
            }
            _ => {}
        }
        Ok(())
    }

    /// Upstream's `roomType` validator: making a room public needs `create-c`, private
    /// `create-p`.
    fn authorize_type(&self, user: &User, room_type: RoomType) -> Result<()> {
        let (permission, reason) = match room_type {
            RoomType::Channel => (
                "create-c",
                "Changing a private group to a public channel is not allowed",
            ),
            RoomType::Private => (
                "create-p",
                "Changing a public channel to a private room is not allowed",
            ),
            RoomType::Direct => return Ok(()),
        };
        if self.ctx.has_permission(user, permission) {
            Ok(())
        } else {
            Err(editing_not_allowed(reason, "Change_Room_Type"))
        }
    }

    /// Upstream's `default` and `featured` validators.
    fn authorize_room_administration(&self, user: &User) -> Result<()> {
        if self.ctx.has_permission(user, "view-room-administration") {
            Ok(())
        } else {
            Err(editing_not_allowed(
                "Viewing room administration is not allowed",
                "Viewing_room_administration",
            ))
        }
    }

    fn publish_room(&self, room: Room) {
        self.ctx.publish(comet_events::Event::Room {
            room: Box::new(room),
            last_message: None,
        });
    }

    /// A team's main room carries its name and type: renaming it or changing its type
    /// changes the team too (upstream's `saveRoomName`/`saveRoomType` for `teamMain`).
    async fn follow_team(&self, before: &Room, after: &Room) -> Result<()> {
        let Some(team_id) = after.team_id.as_deref().filter(|_| after.team_main) else {
            return Ok(());
        };
        if before.name == after.name && before.room_type == after.room_type {
            return Ok(());
        }
        let store = &self.ctx.store;
        let Some(mut team) = store.team_by_id(team_id).await.map_err(store_error)? else {
            return Ok(());
        };
        if let Some(name) = &after.name {
            team.name = name.clone();
        }
        team.team_type = if after.room_type == RoomType::Private {
            comet_core::team::TeamType::Private
        } else {
            comet_core::team::TeamType::Public
        };
        team.updated_at = now();
        store.update_team(&team).await.map_err(store_error)?;
        Ok(())
    }

    /// Writes one change and posts its system message, after whatever permission checks the
    /// caller's path requires; checks here are about the value (upstream's `saveRoom*`
    /// functions). Publishes nothing: the caller announces the room once it is done.
    pub(crate) async fn apply_change(
        &self,
        user: &User,
        room: &Room,
        change: RoomChange,
    ) -> Result<Room> {
        let mut updated = room.clone();
        let mut note: Option<(&str, String)> = None;
        match change {
            RoomChange::Name(name) if room.parent_id.is_some() => {
                // A discussion keeps its slug: renaming it sets only the display name, which
                // needs no validation (upstream's `saveRoomName` for discussions).
                updated.fname = Some(name.clone());
                note = Some(("r", name));
            }
            RoomChange::Name(name) => {
                let name = name.trim().to_owned();
                if room.room_type == RoomType::Direct {
                    return Err(editing_not_allowed(
                        "Editing room is not allowed",
                        "Editing_room",
                    ));
                }
                // The names the server keeps for itself are taken, as upstream's tests expect
                // of a rename.
                if comet_core::validate::SYSTEM_BLOCKED_USERNAMES
                    .contains(&name.to_lowercase().as_str())
                {
                    return Err(Error::meteor(
                        "error-field-unavailable",
                        format!("{name} is already in use :("),
                    )
                    .with_details(json!({"field": name})));
                }
                let slug = self
                    .ctx
                    .rooms()
                    .valid_room_name(&name, Some(&room.id))
                    .await?;
                updated.name = Some(slug);
                updated.fname = Some(name.clone());
                note = Some(("r", name));
            }
            RoomChange::Topic(topic) => {
                updated.topic = Some(topic.clone()).filter(|t| !t.is_empty());
                note = Some(("room_changed_topic", topic));
            }
            RoomChange::Description(description) => {
                updated.description = Some(description.clone()).filter(|t| !t.is_empty());
                note = Some(("room_changed_description", description));
            }
            RoomChange::Announcement(announcement) => {
                updated.announcement = Some(announcement.clone()).filter(|t| !t.is_empty());
                note = Some(("room_changed_announcement", announcement));
            }
            RoomChange::ReadOnly(read_only) => {
                updated.read_only = read_only;
                let kind = if read_only {
                    "room-set-read-only"
                } else {
                    "room-removed-read-only"
                };
                note = Some((kind, user.username.clone()));
            }
            RoomChange::ReactWhenReadOnly(allowed) => {
                updated.react_when_read_only = allowed;
                let kind = if allowed {
                    "room-allowed-reacting"
                } else {
                    "room-disallowed-reacting"
                };
                note = Some((kind, String::new()));
            }
            RoomChange::Type(room_type) => {
                if room_type == RoomType::Direct {
                    return Err(Error::meteor(
                        "error-invalid-room-type",
                        "error-invalid-room-type",
                    )
                    .with_details(json!({"function": "RocketChat.saveRoomType", "type": "d"})));
                }
                if room.room_type == RoomType::Direct {
                    return Err(Error::meteor(
                        "error-direct-room",
                        "Can't change type of direct rooms",
                    )
                    .with_details(json!({"function": "RocketChat.saveRoomType"})));
                }
                updated.room_type = room_type;
                let label = if room_type == RoomType::Channel {
                    "public"
                } else {
                    "private"
                };
                note = Some(("room_changed_privacy", label.to_owned()));
            }
            RoomChange::JoinCode(code) => {
                updated.join_code = Some(code).filter(|c| !c.trim().is_empty());
            }
            RoomChange::Default(default) => updated.default = default,
            RoomChange::Featured(featured) => updated.featured = featured,
            RoomChange::Favorite(favorite) => updated.favorite = favorite,
            RoomChange::Sidepanel(items) => updated.sidepanel = items,
            RoomChange::CustomFields(fields) => updated.custom_fields = fields,
            RoomChange::SystemMessages(hidden) => updated.hidden_system_messages = hidden,
            RoomChange::Encrypted(encrypted) => {
                updated.encrypted = encrypted;
                // Upstream announces only a real change.
                if room.encrypted != encrypted {
                    let kind = if encrypted {
                        "room_e2e_enabled"
                    } else {
                        "room_e2e_disabled"
                    };
                    note = Some((kind, user.username.clone()));
                }
            }
        }
        updated.updated_at = now();
        match self.ctx.store.update_room(&updated).await {
            Ok(_) => {}
            Err(StoreError::Conflict(Conflict::RoomName)) => {
                let name = updated.name.clone().unwrap_or_default();
                return Err(Error::meteor(
                    "error-duplicate-channel-name",
                    format!("A channel with name '{name}' exists"),
                ));
            }
            Err(e) => return Err(store_error(e)),
        }
        if let Some((kind, text)) = note {
            self.post_system_message(&updated, kind, user, &text, None)
                .await?;
        }
        self.follow_team(room, &updated).await?;
        self.ctx
            .store
            .room_by_id(&room.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::internal("room vanished while being changed"))
    }

    /// Upstream's `saveRoomSettings` (the method and `rooms.saveRoomSettings`): several
    /// settings by upstream's names. Checked in upstream's order: every name known, the room,
    /// `edit-room` (a direct room's participant may still toggle `encrypted`), broadcast rooms'
    /// read-only flags, then each setting's own rule; only then is anything written. Settings
    /// are taken in the order of `ROOM_SETTINGS` (upstream takes the client's key order, which
    /// a JSON object does not keep here). Answers the room's id.
    pub async fn save_room_settings(
        &self,
        session: &Session,
        room_id: Option<&str>,
        settings: &Map<String, Value>,
    ) -> Result<String> {
        let user = &session.user;
        let invalid_room = || {
            Error::meteor("error-invalid-room", "Invalid room")
                .with_details(json!({"method": "saveRoomSettings"}))
        };
        let room_id = room_id.ok_or_else(invalid_room)?;
        if settings
            .keys()
            .any(|key| !ROOM_SETTINGS.contains(&key.as_str()))
        {
            return Err(
                Error::meteor("error-invalid-settings", "Invalid settings provided")
                    .with_details(json!({"method": "saveRoomSettings"})),
            );
        }
        let room = self
            .find_room_unchecked(&crate::rooms::RoomRef::Id(room_id.to_owned()))
            .await?
            .ok_or_else(invalid_room)?;
        let mut names: Vec<&str> = ROOM_SETTINGS
            .iter()
            .copied()
            .filter(|name| settings.contains_key(*name))
            .collect();
        if !self
            .has_room_permission(user, "edit-room", &room.id)
            .await?
        {
            // Upstream lets anyone toggle a direct room's encryption; Comet keeps that to the
            // room's participants.
            let participant = room.room_type == RoomType::Direct
                && names.contains(&"encrypted")
                && self.can_access_room(user, &room).await?;
            if !participant {
                return Err(editing_not_allowed(
                    "Editing room is not allowed",
                    "Editing_room",
                ));
            }
            names = vec!["encrypted"];
        }
        let truthy = |name: &str| settings.get(name).is_some_and(is_truthy);
        if room.broadcast && (truthy("readOnly") || truthy("reactWhenReadOnly")) {
            return Err(editing_not_allowed(
                "Editing readOnly/reactWhenReadOnly are not allowed for broadcast rooms",
                "Editing_room",
            ));
        }
        for name in &names {
            let value = settings.get(*name).unwrap_or(&Value::Null);
            self.validate_room_setting(user, &room, name, value).await?;
        }
        let mut current = room.clone();
        let mut changed = false;
        for name in names {
            let value = settings.get(name).unwrap_or(&Value::Null);
            if name == "roomAvatar" {
                let data_uri = match value {
                    Value::Null => None,
                    Value::String(s) => Some(s.as_str()),
                    _ => return Err(Error::invalid_params("must be string: roomAvatar")),
                };
                // The caller holds `edit-room` (checked above): they may manage the room.
                let access = RoomAccess::granted(current.clone());
                self.ctx
                    .files()
                    .set_room_avatar(session, &access, data_uri)
                    .await?;
                continue;
            }
            if let Some(change) = room_setting_change(&current, name, value)? {
                current = self.apply_change(user, &current, change).await?;
                changed = true;
            }
        }
        if changed {
            tracing::info!(by = %user.id, room = %room.id, "room settings changed");
            self.publish_room(current);
        }
        Ok(room.id)
    }

    /// Upstream's per-setting validators of `saveRoomSettings`, run on every setting before
    /// any is saved.
    async fn validate_room_setting(
        &self,
        user: &User,
        room: &Room,
        name: &str,
        value: &Value,
    ) -> Result<()> {
        match name {
            "default" | "featured" => self.authorize_room_administration(user),
            "sidepanel" => {
                let refused = |reason: &'static str| {
                    Err(Error::meteor("error-action-not-allowed", reason)
                        .with_details(json!({"method": "saveRoomSettings"})))
                };
                if !room.team_main {
                    return refused("Invalid room");
                }
                if !self
                    .has_room_permission(user, "edit-team", &room.id)
                    .await?
                {
                    return refused("You do not have permission to change sidepanel items");
                }
                if sidepanel_items(value).is_none() {
                    return Err(Error::meteor("error-invalid-sidepanel", ""));
                }
                Ok(())
            }
            "roomType" => match value.as_str().and_then(RoomType::parse) {
                Some(t) if t == room.room_type => Ok(()),
                Some(t) => self.authorize_type(user, t),
                None => Ok(()),
            },
            "encrypted" => {
                if is_truthy(value) == room.encrypted {
                    return Ok(());
                }
                let refused = |reason: &'static str| {
                    Err(Error::meteor("error-action-not-allowed", reason).with_details(
                        json!({"method": "saveRoomSettings", "action": "Change_Room_Encrypted"}),
                    ))
                };
                match room.room_type {
                    RoomType::Channel => {
                        refused("Only groups or direct channels can enable encryption")
                    }
                    RoomType::Direct => Ok(()),
                    RoomType::Private => {
                        if self
                            .has_room_permission(user, "toggle-room-e2e-encryption", &room.id)
                            .await?
                        {
                            Ok(())
                        } else {
                            refused("You do not have permission to toggle E2E encryption")
                        }
                    }
                }
            }
            // Comet keeps no retention policy on rooms, so every value differs from the room's.
            "retentionEnabled"
            | "retentionMaxAge"
            | "retentionExcludePinned"
            | "retentionFilesOnly"
            | "retentionIgnoreThreads" => {
                if self
                    .has_room_permission(user, "edit-room-retention-policy", &room.id)
                    .await?
                {
                    Ok(())
                } else {
                    Err(editing_not_allowed(
                        "Editing room retention policy is not allowed",
                        "Editing_room",
                    ))
                }
            }
            "roomAvatar" => {
                if self
                    .has_room_permission(user, "edit-room-avatar", &room.id)
                    .await?
                {
                    Ok(())
                } else {
                    Err(editing_not_allowed(
                        "Editing a room avatar is not allowed",
                        "Editing_room",
                    ))
                }
            }
            _ => Ok(()),
        }
    }

    /// Upstream's `muteUserInRoom` / `unmuteUserInRoom`: a muted member reads the room but
    /// cannot post or react in it. Checks in upstream's order: permission, room, room type,
    /// membership, user.
    pub async fn set_muted(
        &self,
        session: &Session,
        room_id: &str,
        username: &str,
        muted: bool,
    ) -> Result<()> {
        let method = if muted {
            "muteUserInRoom"
        } else {
            "unmuteUserInRoom"
        };
        let details = json!({ "method": method });
        if !self
            .has_room_permission(&session.user, "mute-user", room_id)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed").with_details(details));
        }
        let Some(room) = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor("error-invalid-room", "Invalid room").with_details(details));
        };
        if room.room_type == RoomType::Direct {
            return Err(Error::meteor(
                "error-invalid-room-type",
                format!("{} is not a valid room type", room.room_type.as_str()),
            )
            .with_details(json!({ "method": method, "type": room.room_type.as_str() })));
        }
        let target = self
            .ctx
            .store
            .user_by_username(username.trim_start_matches('@'))
            .await
            .map_err(store_error)?;
        let member = match &target {
            Some(user) => self
                .ctx
                .store
                .subscription(&room.id, &user.id)
                .await
                .map_err(store_error)?
                .is_some(),
            None => false,
        };
        if !member {
            return Err(
                Error::meteor("error-user-not-in-room", "User is not in this room")
                    .with_details(details),
            );
        }
        let Some(target) = target else {
            return Err(Error::meteor(
                "error-invalid-user",
                if muted {
                    "Invalid user to mute"
                } else {
                    "Invalid user to unmute"
                },
            )
            .with_details(details));
        };
        let mut updated = room.clone();
        let username = &target.username;
        let add = |list: &mut Vec<String>| {
            if !list.contains(username) {
                list.push(username.clone());
            }
        };
        // Upstream's lists: in a read-only room, muting takes the member off `unmuted` (they
        // may no longer post) and unmuting moves them from `muted` to `unmuted`; elsewhere
        // muting moves them onto `muted` (and off `unmuted`), unmuting off `muted`.
        match (room.read_only, muted) {
            (true, true) => updated.unmuted.retain(|name| name != username),
            (true, false) => {
                updated.muted.retain(|name| name != username);
                add(&mut updated.unmuted);
            }
            (false, true) => {
                updated.unmuted.retain(|name| name != username);
                add(&mut updated.muted);
            }
            (false, false) => updated.muted.retain(|name| name != username),
        }
        if updated.muted == room.muted && updated.unmuted == room.unmuted {
            // Already as asked: upstream's set operations change nothing and say nothing.
            return Ok(());
        }
        updated.updated_at = now();
        self.ctx
            .store
            .update_room(&updated)
            .await
            .map_err(store_error)?;
        let kind = if muted { "user-muted" } else { "user-unmuted" };
        self.post_system_message(&updated, kind, &session.user, &target.username, None)
            .await?;
        tracing::info!(by = %session.user.id, room = %room.id, user = %target.id, muted, "member mute changed");
        self.ctx
            .audit_by(
                session,
                if muted { "room.mute" } else { "room.unmute" },
                crate::audit::AuditTarget::user(&target),
                None,
                Some(json!({"room": {"_id": room.id, "name": room.name}, "muted": muted})),
            )
            .await?;
        self.ctx.publish(comet_events::Event::Room {
            room: Box::new(updated),
            last_message: None,
        });
        Ok(())
    }

    /// `channels.archive`/`unarchive`, `groups.archive`/`unarchive`.
    pub async fn set_archived(
        &self,
        session: &Session,
        room: &RoomAccess,
        archived: bool,
    ) -> Result<()> {
        let permission = if archived {
            "archive-room"
        } else {
            "unarchive-room"
        };
        if !self
            .has_room_permission(&session.user, permission, &room.id)
            .await?
        {
            return Err(
                Error::meteor("error-not-authorized", "Not authorized").with_details(
                    json!({"method": if archived { "archiveRoom" } else { "unarchiveRoom" }}),
                ),
            );
        }
        if room.room_type == RoomType::Direct {
            return Err(Error::meteor(
                "error-direct-message-room",
                "Direct Messages can not be archived",
            ));
        }
        let mut updated = room.room().clone();
        updated.archived = archived;
        updated.updated_at = now();
        self.ctx
            .store
            .update_room(&updated)
            .await
            .map_err(store_error)?;
        let kind = if archived {
            "room-archived"
        } else {
            "room-unarchived"
        };
        self.post_system_message(&updated, kind, &session.user, &session.user.username, None)
            .await?;
        self.ctx
            .audit_by(
                session,
                if archived {
                    "room.archive"
                } else {
                    "room.unarchive"
                },
                crate::audit::AuditTarget::room(&updated),
                Some(json!({"archived": !archived})),
                Some(json!({"archived": archived})),
            )
            .await
    }

    /// `channels.delete`, `groups.delete`, `im.delete`: the room with all its messages.
    pub async fn delete_room(&self, session: &Session, room: &RoomAccess) -> Result<()> {
        let permission = match room.room_type {
            RoomType::Channel => "delete-c",
            RoomType::Private => "delete-p",
            RoomType::Direct => "delete-d",
        };
        if !self
            .has_room_permission(&session.user, permission, &room.id)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "eraseRoom"})));
        }
        if room.id == crate::rooms::GENERAL_ROOM_ID
            && room.default
            && !self
                .ctx
                .has_permission(&session.user, "view-room-administration")
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed"));
        }
        self.erase_room(&room.id).await?;
        tracing::info!(by = %session.user.id, room = %room.id, "room deleted");
        self.ctx
            .audit_by(
                session,
                "room.delete",
                crate::audit::AuditTarget::room(room.room()),
                Some(json!({"t": room.room_type.as_str(), "name": room.name, "fname": room.fname})),
                None,
            )
            .await
    }

    /// Removes a room with its subscriptions, messages, files and avatar, unchecked: for
    /// `delete_room` and for rooms a deleted or deactivated user leaves with no one in them.
    pub(crate) async fn erase_room(&self, room_id: &str) -> Result<()> {
        self.ctx
            .store
            .delete_room(room_id)
            .await
            .map_err(store_error)?;
        self.ctx.files().delete_room_files(room_id).await;
        if let Err(e) = self
            .ctx
            .files()
            .remove_avatar(comet_store::AvatarOwner::Room, room_id)
            .await
        {
            tracing::warn!(error = %e.message(), room = %room_id, "could not remove a room avatar");
        }
        Ok(())
    }

    /// `channels.addOwner` and friends: gives or takes a room role, with a system message.
    pub async fn set_room_role(
        &self,
        session: &Session,
        room: &RoomAccess,
        target: &User,
        role: RoomRole,
        grant: bool,
    ) -> Result<()> {
        let method = format!(
            "{}Room{}",
            if grant { "add" } else { "remove" },
            match role {
                RoomRole::Owner => "Owner",
                RoomRole::Moderator => "Moderator",
                RoomRole::Leader => "Leader",
            }
        );
        if !self
            .has_room_permission(&session.user, role.permission(), &room.id)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": method})));
        }
        let Some(mut subscription) = self
            .ctx
            .store
            .subscription(&room.id, &target.id)
            .await
            .map_err(store_error)?
        else {
            return Err(
                Error::meteor("error-user-not-in-room", "User is not in this room")
                    .with_details(json!({"method": method})),
            );
        };
        let has = subscription.roles.iter().any(|r| r == role.as_str());
        if grant && has {
            let (code, reason) = match role {
                RoomRole::Owner => ("error-user-already-owner", "User is already an owner"),
                RoomRole::Moderator => (
                    "error-user-already-moderator",
                    "User is already a moderator",
                ),
                RoomRole::Leader => ("error-user-already-leader", "User is already a leader"),
            };
            return Err(Error::meteor(code, reason).with_details(json!({"method": method})));
        }
        if !grant && !has {
            let (code, reason) = match role {
                RoomRole::Owner => ("error-user-not-owner", "User is not an owner"),
                RoomRole::Moderator => ("error-user-not-moderator", "User is not a moderator"),
                RoomRole::Leader => ("error-user-not-leader", "User is not a leader"),
            };
            return Err(Error::meteor(code, reason).with_details(json!({"method": method})));
        }
        if !grant && role == RoomRole::Owner {
            let (subs, _) = self
                .ctx
                .store
                .subscriptions_of_room(&room.id, 0, None)
                .await
                .map_err(store_error)?;
            let owners = subs
                .iter()
                .filter(|s| s.roles.iter().any(|r| r == "owner"))
                .count();
            if owners <= 1 {
                return Err(Error::meteor(
                    "error-remove-last-owner",
                    "This is the last owner. Please set a new owner before removing this one.",
                )
                .with_details(json!({"method": method})));
            }
        }
        if grant {
            subscription.roles.push(role.as_str().to_owned());
        } else {
            subscription.roles.retain(|r| r != role.as_str());
        }
        subscription.updated_at = now();
        self.ctx
            .store
            .update_subscription(&subscription)
            .await
            .map_err(store_error)?;
        self.ctx.publish(comet_events::Event::RoleChanged {
            added: grant,
            role: role.as_str().to_owned(),
            user_id: target.id.clone(),
            username: target.username.clone(),
            room_id: Some(room.id.clone()),
        });
        self.publish_subscription(comet_events::Change::Updated, subscription);
        let kind = if grant {
            "subscription-role-added"
        } else {
            "subscription-role-removed"
        };
        self.post_system_message(
            room,
            kind,
            &session.user,
            &target.username,
            Some(role.as_str()),
        )
        .await?;
        self.ctx
            .audit_by(
                session,
                if grant {
                    "room.role.add"
                } else {
                    "room.role.remove"
                },
                crate::audit::AuditTarget::user(target),
                None,
                Some(json!({"room": {"_id": room.id, "name": room.name}, "role": role.as_str()})),
            )
            .await
    }

    /// `channels.roles`: members holding room roles.
    pub async fn room_roles(
        &self,
        room: &RoomAccess,
    ) -> Result<Vec<comet_core::room::Subscription>> {
        let (subs, _) = self
            .ctx
            .store
            .subscriptions_of_room(&room.id, 0, None)
            .await
            .map_err(store_error)?;
        Ok(subs.into_iter().filter(|s| !s.roles.is_empty()).collect())
    }
}
