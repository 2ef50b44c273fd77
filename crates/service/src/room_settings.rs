//! Changing rooms: names, topics and flags, archiving, deleting, and room roles.

use crate::Rooms;
use crate::rooms::RoomAccess;
use crate::rooms::system_message;
use crate::{Session, store_error};
use comet_core::room::{Room, RoomType};
use comet_core::user::User;
use comet_core::{Error, Result, now};
use comet_store::{Conflict, StoreError};
use serde_json::{Value, json};

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

    /// Applies one settings change (upstream's `saveRoomSettings`), with its system message.
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
        let mut updated = room.room().clone();
        let mut note: Option<(&str, String)> = None;
        match change {
            RoomChange::Name(name) => {
                let name = name.trim().to_owned();
                if room.room_type == RoomType::Direct {
                    return Err(editing_not_allowed(
                        "Editing room is not allowed",
                        "Editing_room",
                    ));
                }
                if !comet_core::validate::username_regex(
                    &self.ctx.setting_str("UTF8_Channel_Names_Validation"),
                )
                .is_match(&name)
                {
                    return Err(Error::meteor(
                        "error-invalid-room-name",
                        format!("{name} is not a valid room name."),
                    )
                    .with_details(json!({"channel_name": name})));
                }
                if let Some(other) = self
                    .ctx
                    .store
                    .room_by_name(&name)
                    .await
                    .map_err(store_error)?
                    && other.id != room.id
                {
                    return Err(Error::meteor(
                        "error-duplicate-channel-name",
                        format!("A channel with name '{name}' exists"),
                    )
                    .with_details(json!({"channel_name": name})));
                }
                updated.name = Some(name.clone());
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
                if !self
                    .has_room_permission(user, "set-readonly", &room.id)
                    .await?
                {
                    return Err(editing_not_allowed(
                        "Editing readonly room is not allowed",
                        "Editing_readonly_room",
                    ));
                }
                updated.read_only = read_only;
                let kind = if read_only {
                    "room-set-read-only"
                } else {
                    "room-removed-read-only"
                };
                note = Some((kind, user.username.clone()));
            }
            RoomChange::Type(room_type) => {
                let (permission, reason) = match room_type {
                    RoomType::Channel => (
                        "create-c",
                        "Changing a private group to a public channel is not allowed",
                    ),
                    RoomType::Private => (
                        "create-p",
                        "Changing a public channel to a private room is not allowed",
                    ),
                    RoomType::Direct => {
                        return Err(Error::meteor(
                            "error-invalid-room-type",
                            "Invalid room type",
                        ));
                    }
                };
                if room.room_type == RoomType::Direct {
                    return Err(Error::meteor(
                        "error-invalid-room-type",
                        "Invalid room type",
                    ));
                }
                if !self.ctx.has_permission(user, permission) {
                    return Err(editing_not_allowed(reason, "Change_Room_Type"));
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
                updated.join_code = Some(code).filter(|c| !c.is_empty());
            }
            RoomChange::Default(default) => {
                if !self.ctx.has_permission(user, "view-room-administration") {
                    return Err(editing_not_allowed(
                        "Viewing room administration is not allowed",
                        "Viewing_room_administration",
                    ));
                }
                updated.default = default;
            }
            RoomChange::CustomFields(fields) => {
                updated.custom_fields = fields;
            }
            RoomChange::Encrypted(encrypted) => {
                if !self
                    .has_room_permission(user, "toggle-room-e2e-encryption", &room.id)
                    .await?
                {
                    return Err(editing_not_allowed(
                        "Editing room is not allowed",
                        "Editing_room",
                    ));
                }
                updated.encrypted = encrypted;
                let kind = if encrypted {
                    "room_e2e_enabled"
                } else {
                    "room_e2e_disabled"
                };
                note = Some((kind, String::new()));
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
        tracing::info!(by = %user.id, room = %room.id, "room settings changed");
        let changed = self
            .ctx
            .store
            .room_by_id(&room.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::internal("room vanished while being changed"))?;
        self.ctx.publish(comet_events::Event::Room {
            room: Box::new(changed.clone()),
            last_message: None,
        });
        // The caller read the room and was allowed to change it: they keep their access to it.
        Ok(RoomAccess::granted(changed))
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
        updated.muted.retain(|name| name != &target.username);
        if muted {
            updated.muted.push(target.username.clone());
        }
        if updated.muted == room.muted {
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
        self.ctx
            .store
            .delete_room(&room.id)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, room = %room.id, "room deleted");
        self.ctx.files().delete_room_files(&room.id).await;
        if let Err(e) = self
            .ctx
            .files()
            .remove_avatar(comet_store::AvatarOwner::Room, &room.id)
            .await
        {
            tracing::warn!(error = %e.message(), room = %room.id, "could not remove a room avatar");
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
