//! Rooms: creating channels, groups and direct conversations, membership, and reading them.

use crate::Rooms;
use crate::authz::Required;
use crate::{Session, store_error};
use comet_core::page::{Direction, Page};
use comet_core::room::{Message, Room, RoomType, Subscription, UserStub};
use comet_core::team::Team;
use comet_core::user::User;
use comet_core::validate::username_regex;
use comet_core::{Error, Result, Timestamp, id, now};
use comet_store::{Conflict, MemberFilter, RoomFilter, RoomSortKey, StoreError};
use serde_json::{Value, json};

/// The room every new user joins, as upstream ships it.
pub const GENERAL_ROOM_ID: &str = "GENERAL";

/// How a request names a room (`roomId` or `roomName`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RoomRef {
    Id(String),
    Name(String),
}

/// The id of the direct room between these users (the caller among them). One-to-one rooms
/// have a stable id made of both user ids in order, as upstream; larger ones a digest.
pub(crate) fn direct_room_id(user_ids: &[&str]) -> String {
    let mut ids = user_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    match ids.as_slice() {
        [only] => format!("{only}{only}"),
        [a, b] => format!("{a}{b}"),
        _ => {
            let digest = comet_core::password::sha256_hex(&ids.join(","));
            digest.chars().take(comet_core::id::ID_LEN).collect()
        }
    }
}

/// What `channels.create`/`groups.create` ask for.
#[derive(Debug, Clone, Default)]
pub struct NewRoom {
    pub name: String,
    pub members: Vec<String>,
    pub read_only: bool,
    pub exclude_self: bool,
    pub topic: Option<String>,
    pub description: Option<String>,
    pub broadcast: bool,
    pub encrypted: bool,
    pub custom_fields: Option<Value>,
    /// `extraData.teamId`: the room is created inside this team.
    pub team_id: Option<String>,
    /// `teams`: names of teams whose members (those the caller may list) join as well.
    pub member_teams: Vec<String>,
}

/// A room listing request.
#[derive(Debug, Clone, Default)]
pub struct RoomListQuery {
    pub types: Vec<RoomType>,
    /// Only rooms the caller is subscribed to.
    pub joined_only: bool,
    /// Case-insensitive part of the name.
    pub name: Option<String>,
    /// Only the room with this id (`channels.list`'s `_id`).
    pub id: Option<String>,
    pub offset: u64,
    pub count: Option<u64>,
    pub sort: Vec<(RoomSortKey, Direction)>,
}

/// A room with its last message.
#[derive(Debug, Clone)]
pub struct RoomView {
    pub room: Room,
    pub last_message: Option<Message>,
}

/// Proof that a user may read a room (its messages, members and information). Only the
/// service makes one, after checking (`Service::room_for`, `Service::room_access`), and every
/// room-scoped operation requires one, so that no path reaches a room's contents without
/// the check. It reads as the room it grants (`Deref`).
#[derive(Debug, Clone)]
pub struct RoomAccess {
    room: Room,
    /// Whether the user it was granted to was subscribed when it was checked (the check reads
    /// the subscription anyway; later checks in the same request reuse the answer).
    caller: Option<Caller>,
}

#[derive(Debug, Clone)]
struct Caller {
    user_id: String,
    subscribed: bool,
}

impl RoomAccess {
    /// Access to a room the service itself has just made for the caller (a new discussion,
    /// a new direct conversation): nothing to check.
    pub(crate) fn granted(room: Room) -> RoomAccess {
        RoomAccess { room, caller: None }
    }

    /// Whether `user_id` was subscribed to the room when this access was checked for them;
    /// `None` when it was not checked for them.
    pub(crate) fn subscribed(&self, user_id: &str) -> Option<bool> {
        self.caller
            .as_ref()
            .filter(|c| c.user_id == user_id)
            .map(|c| c.subscribed)
    }

    pub fn room(&self) -> &Room {
        &self.room
    }

    pub fn into_room(self) -> Room {
        self.room
    }
}

impl std::ops::Deref for RoomAccess {
    type Target = Room;

    fn deref(&self) -> &Room {
        &self.room
    }
}

/// Which family of endpoints asks: the "not found" errors differ per family upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomFamily {
    /// `channels.*`: public channels only.
    Channels,
    /// `groups.*`: private groups the caller is in.
    Groups,
    /// `im.*`/`dm.*`: direct rooms the caller is in.
    Direct,
    /// `rooms.*`, `chat.*`: any room the caller may see.
    Any,
}

pub(crate) fn room_not_found(family: RoomFamily) -> Error {
    match family {
        RoomFamily::Channels => Error::meteor(
            "error-room-not-found",
            "The required \"roomId\" or \"roomName\" param provided does not match any channel",
        ),
        RoomFamily::Groups => Error::meteor(
            "error-room-not-found",
            "The required \"roomId\" or \"roomName\" param provided does not match any group",
        ),
        // Upstream's im.* routes look the conversation up with
        // `getRoomByNameOrIdWithOptionToJoin`, which throws a bare `invalid-channel`.
        RoomFamily::Direct => Error::meteor("invalid-channel", ""),
        RoomFamily::Any => Error::meteor(
            "error-room-not-found",
            "The required \"roomId\" or \"roomName\" param provided does not match any room",
        ),
    }
}

/// A system message of `kind` in `room_id`, written by `actor`.
pub(crate) fn system_message(
    kind: &str,
    room_id: &str,
    actor: &User,
    text: &str,
    at: Timestamp,
) -> Message {
    let mut message = Message::new(id::new_id(), room_id, UserStub::from(actor), text, at);
    message.kind = Some(kind.to_owned());
    message.groupable = Some(false);
    message
}

/// A direct room's members in the order upstream names the room by: display name (`name`,
/// else `username`), without regard to case.
pub(crate) fn members_by_display_name(mut members: Vec<&User>) -> Vec<&User> {
    members.sort_by_cached_key(|u| {
        let shown = if u.name.is_empty() {
            &u.username
        } else {
            &u.name
        };
        (shown.to_lowercase(), shown.clone())
    });
    members
}

/// The `name` (usernames joined by `separator`) and `fname` (display names joined by ", ")
/// of one member's subscription to a direct room whose members are `sorted` (see
/// [`members_by_display_name`]): the other members, or the member itself when alone. Upstream
/// joins usernames with ", " when it creates the room and with "," when a member's name
/// changes.
pub(crate) fn direct_names(sorted: &[&User], member_id: &str, separator: &str) -> (String, String) {
    let others: Vec<&User> = sorted
        .iter()
        .copied()
        .filter(|u| u.id != member_id)
        .collect();
    let shown = if others.is_empty() {
        sorted
            .iter()
            .copied()
            .filter(|u| u.id == member_id)
            .collect()
    } else {
        others
    };
    let name = shown
        .iter()
        .map(|u| u.username.as_str())
        .collect::<Vec<_>>()
        .join(separator);
    let fname = shown
        .iter()
        .map(|u| {
            if u.name.is_empty() {
                u.username.as_str()
            } else {
                u.name.as_str()
            }
        })
        .collect::<Vec<_>>()
        .join(", ");
    (name, fname)
}

impl Rooms<'_> {
    /// The `name` of a channel or group shown as `display_name` (upstream's `getValidRoomName`).
    /// Normally the display name itself, which must then pass `UTF8_Channel_Names_Validation`
    /// and be free. With `UI_Allow_room_names_with_special_chars` the name is the display
    /// name's slug: no other room (but `room_id`, the one being renamed) may show the same
    /// display name, and a slug already taken gets the first free `-1`, `-2`, ... suffix.
    pub(crate) async fn valid_room_name(
        &self,
        display_name: &str,
        room_id: Option<&str>,
    ) -> Result<String> {
        let other = |room: &Room| Some(room.id.as_str()) != room_id;
        let special_chars = self
            .ctx
            .setting_bool("UI_Allow_room_names_with_special_chars");
        let name = if special_chars {
            let slug = comet_core::slug::room_slug(display_name);
            let same_display = self
                .ctx
                .store
                .rooms_by_display_name(display_name)
                .await
                .map_err(store_error)?;
            if let Some(taken) = same_display.iter().find(|room| other(room)) {
                let (error, message) = if taken.archived {
                    (
                        "error-archived-duplicate-name",
                        format!("There's an archived channel with name {slug}"),
                    )
                } else {
                    (
                        "error-duplicate-channel-name",
                        format!("A channel with name '{slug}' exists"),
                    )
                };
                return Err(
                    Error::meteor(error, message).with_details(json!({"channel_name": slug}))
                );
            }
            slug
        } else {
            display_name.to_owned()
        };
        if !username_regex(&self.ctx.setting_str("UTF8_Channel_Names_Validation")).is_match(&name) {
            return Err(Error::meteor(
                "error-invalid-room-name",
                format!("{name} is not a valid room name."),
            )
            .with_details(json!({"channel_name": name})));
        }
        let Some(taken) = self
            .ctx
            .store
            .room_by_name(&name)
            .await
            .map_err(store_error)?
            .filter(|room| other(room))
        else {
            return Ok(name);
        };
        if special_chars {
            for next in 1u32.. {
                let candidate = format!("{name}-{next}");
                let free = self
                    .ctx
                    .store
                    .room_by_name(&candidate)
                    .await
                    .map_err(store_error)?
                    .is_none_or(|room| !other(&room));
                if free {
                    return Ok(candidate);
                }
            }
        }
        let (error, message) = if taken.archived {
            (
                "error-archived-duplicate-name",
                format!("There's an archived channel with name {name}"),
            )
        } else {
            (
                "error-duplicate-channel-name",
                format!("A channel with name '{name}' exists"),
            )
        };
        Err(Error::meteor(error, message).with_details(json!({"channel_name": name})))
    }

    /// The subscription of someone joining a room after its creation: upstream marks the room
    /// as unread (one unread, one mention) so that it stands out in the sidebar.
    pub(crate) fn joining_subscription(
        &self,
        room: &Room,
        user: &User,
        at: Timestamp,
    ) -> Subscription {
        let mut s = self.new_subscription(room, user, Vec::new(), at);
        s.alert = true;
        s.unread = 1;
        s.user_mentions = 1;
        s
    }

    /// A new subscription of `user` to `room`.
    pub(crate) fn new_subscription(
        &self,
        room: &Room,
        user: &User,
        roles: Vec<String>,
        at: Timestamp,
    ) -> Subscription {
        let (name, fname) = match room.room_type {
            RoomType::Direct => {
                let others: Vec<&String> = room
                    .usernames
                    .iter()
                    .filter(|u| **u != user.username)
                    .collect();
                let name = if others.is_empty() {
                    user.username.clone()
                } else {
                    others
                        .iter()
                        .map(|s| s.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                (name.clone(), Some(name))
            }
            _ => (
                room.name.clone().unwrap_or_default(),
                room.fname.clone().or_else(|| room.name.clone()),
            ),
        };
        let (auto_translate, auto_translate_language) = self.ctx.auto_translate().on_join(user);
        Subscription {
            id: id::new_id(),
            room_id: room.id.clone(),
            room_type: room.room_type,
            user: UserStub::from(user),
            name,
            fname,
            roles,
            open: true,
            alert: false,
            unread: 0,
            user_mentions: 0,
            group_mentions: 0,
            favorite: false,
            archived: room.archived,
            joined_at: at,
            last_seen: at,
            last_reply: None,
            thread_unread: Vec::new(),
            notifications: Default::default(),
            thread_unread_user: Vec::new(),
            thread_unread_group: Vec::new(),
            auto_translate,
            auto_translate_language,
            ignored: Vec::new(),
            updated_at: at,
        }
    }

    /// A new room of a type created by `creator`, with no name yet.
    pub(crate) fn new_room_of(
        &self,
        room_type: RoomType,
        room_id: String,
        creator: &User,
        at: Timestamp,
    ) -> Room {
        self.blank_room(room_type, room_id, None, Some(creator), at)
    }

    fn blank_room(
        &self,
        room_type: RoomType,
        room_id: String,
        name: Option<String>,
        creator: Option<&User>,
        at: Timestamp,
    ) -> Room {
        Room {
            id: room_id,
            room_type,
            fname: name.clone(),
            name,
            creator: creator.map(UserStub::from),
            topic: None,
            description: None,
            announcement: None,
            read_only: false,
            react_when_read_only: false,
            archived: false,
            default: false,
            featured: false,
            encrypted: false,
            broadcast: false,
            join_code: None,
            muted: Vec::new(),
            user_ids: Vec::new(),
            usernames: Vec::new(),
            message_count: 0,
            users_count: 0,
            last_message_at: None,
            last_message_id: None,
            hidden_system_messages: Vec::new(),
            unmuted: Vec::new(),
            favorite: false,
            parent_id: None,
            custom_fields: json!({}),
            team_id: None,
            team_main: false,
            team_default: false,
            sidepanel: Vec::new(),
            created_at: at,
            updated_at: at,
        }
    }

    /// Tells the subscription's user about a change to it.
    pub(crate) fn publish_subscription(
        &self,
        change: comet_events::Change,
        subscription: Subscription,
    ) {
        self.ctx.publish(comet_events::Event::Subscription {
            change,
            subscription: Box::new(subscription),
        });
    }

    /// Adds a member with a system message, and tells everyone concerned.
    /// In a team's main room the notice becomes the team's (`ujt`, `added-user-to-team`) and
    /// the new member joins the team and its auto-join rooms, as upstream's `addUserToRoom`.
    pub(crate) async fn add_member(
        &self,
        room: &Room,
        subscription: Subscription,
        mut notice: Message,
    ) -> Result<bool> {
        if room.team_main {
            crate::teams::team_notice(&mut notice);
        }
        let user_id = subscription.user.id.clone();
        let added = self
            .ctx
            .store
            .add_member(&subscription, Some(&notice))
            .await
            .map_err(store_error)?;
        if added {
            self.publish_subscription(comet_events::Change::Inserted, subscription);
            let actor = notice.author.clone();
            self.ctx
                .publish(comet_events::Event::Message(Box::new(notice)));
            if let (true, Some(team_id)) = (room.team_main, &room.team_id) {
                Box::pin(self.ctx.teams().joined_main_room(team_id, &user_id, &actor)).await?;
            }
        }
        Ok(added)
    }

    /// Removes a member with a system message, and tells everyone concerned.
    /// In a team's main room the notice becomes the team's (`ult`, `removed-user-from-team`)
    /// and the member leaves the team, as upstream's `removeUserFromRoom`.
    pub(crate) async fn remove_member(
        &self,
        room: &Room,
        user_id: &str,
        mut notice: Message,
    ) -> Result<bool> {
        let room_id = room.id.as_str();
        if room.team_main {
            crate::teams::team_notice(&mut notice);
        }
        let subscription = self
            .ctx
            .store
            .subscription(room_id, user_id)
            .await
            .map_err(store_error)?;
        let removed = self
            .ctx
            .store
            .remove_member(room_id, user_id, Some(&notice))
            .await
            .map_err(store_error)?;
        if removed {
            if let Some(subscription) = subscription {
                self.publish_subscription(comet_events::Change::Removed, subscription);
            }
            self.ctx
                .publish(comet_events::Event::Message(Box::new(notice)));
            if let (true, Some(team_id)) = (room.team_main, &room.team_id) {
                self.ctx
                    .store
                    .remove_team_member(team_id, user_id)
                    .await
                    .map_err(store_error)?;
            }
        }
        Ok(removed)
    }

    /// Creates `#general` on a new server.
    pub(crate) async fn ensure_general_room(&self) -> Result<()> {
        if self
            .ctx
            .store
            .room_by_id(GENERAL_ROOM_ID)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Ok(());
        }
        let mut room = self.blank_room(
            RoomType::Channel,
            GENERAL_ROOM_ID.to_owned(),
            Some("general".to_owned()),
            None,
            now(),
        );
        room.default = true;
        match self.ctx.store.create_room(&room, &[], None).await {
            Ok(()) | Err(StoreError::Conflict(_)) => Ok(()),
            Err(e) => Err(store_error(e)),
        }
    }

    /// Subscribes a new user to every default room, with a join message in each.
    pub(crate) async fn join_default_rooms(&self, user: &User) -> Result<()> {
        let filter = RoomFilter {
            default_only: true,
            ..RoomFilter::default()
        };
        let (rooms, _) = self
            .ctx
            .store
            .list_rooms(&filter, &Page::all())
            .await
            .map_err(store_error)?;
        for room in rooms
            .into_iter()
            .filter(|r| r.room_type != RoomType::Direct)
        {
            // A user already in a default room stays as they are; one banned from it stays out.
            if self
                .ctx
                .store
                .subscription(&room.id, &user.id)
                .await
                .map_err(store_error)?
                .is_some()
                || self.is_banned(&room.id, &user.id).await?
            {
                continue;
            }
            let at = now();
            let subscription = self.joining_subscription(&room, user, at);
            let message = system_message("uj", &room.id, user, &user.username, at);
            self.add_member(&room, subscription, message).await?;
        }
        Ok(())
    }

    /// Upstream's `joinDefaultChannels`: the caller joins the default rooms they are not in.
    pub async fn join_default_channels(&self, session: &Session) -> Result<()> {
        self.join_default_rooms(&session.user).await
    }

    /// Whether the user holds a permission globally or through their roles in the room.
    pub async fn has_room_permission(
        &self,
        user: &User,
        permission: &str,
        room_id: &str,
    ) -> Result<bool> {
        if self.ctx.has_permission(user, permission) {
            return Ok(true);
        }
        let Some(subscription) = self
            .ctx
            .store
            .subscription(room_id, &user.id)
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        Ok(self.ctx.permission_cache.read(|m| {
            m.get(permission)
                .is_some_and(|p| p.roles.iter().any(|role| subscription.roles.contains(role)))
        }))
    }

    /// Finds a room by id or name without checking who asks: for admin paths, for joining
    /// (which has its own rules) and for resolving a target before `room_access`.
    pub async fn find_room_unchecked(&self, room: &RoomRef) -> Result<Option<Room>> {
        match room {
            RoomRef::Id(id) => self.ctx.store.room_by_id(id).await,
            RoomRef::Name(name) => {
                self.ctx
                    .store
                    .room_by_name(name.trim_start_matches('#'))
                    .await
            }
        }
        .map_err(store_error)
    }

    /// Whether the user may read the room (its messages, members and info).
    pub(crate) async fn can_access_room(&self, user: &User, room: &Room) -> Result<bool> {
        Ok(self.check_access(user, room).await?.is_some())
    }

    /// `Some(subscribed)` when the user may read the room.
    async fn check_access(&self, user: &User, room: &Room) -> Result<Option<bool>> {
        let subscribed = self
            .ctx
            .store
            .subscription(&room.id, &user.id)
            .await
            .map_err(store_error)?
            .is_some();
        let may_read = match room.room_type {
            // A user banned from a public channel may not read it from outside either.
            RoomType::Channel => {
                subscribed
                    || (self.ctx.has_permission(user, "view-c-room")
                        && !self.is_banned(&room.id, &user.id).await?)
            }
            RoomType::Private => subscribed,
            RoomType::Direct => subscribed || room.user_ids.iter().any(|id| id == &user.id),
        };
        Ok(may_read.then_some(subscribed))
    }

    fn access_for(user: &User, room: Room, subscribed: bool) -> RoomAccess {
        RoomAccess {
            room,
            caller: Some(Caller {
                user_id: user.id.clone(),
                subscribed,
            }),
        }
    }

    /// Loads a room for a caller in an endpoint family, refusing with that family's error when
    /// it does not exist, has another type, or the caller may not see it.
    pub async fn room_for(
        &self,
        session: &Session,
        room: &RoomRef,
        family: RoomFamily,
    ) -> Result<RoomAccess> {
        let found = self.find_room_unchecked(room).await?;
        let Some(room) = found else {
            return Err(room_not_found(family));
        };
        let type_matches = match family {
            RoomFamily::Channels => room.room_type == RoomType::Channel,
            RoomFamily::Groups => room.room_type == RoomType::Private,
            RoomFamily::Direct => room.room_type == RoomType::Direct,
            RoomFamily::Any => true,
        };
        if !type_matches {
            return Err(room_not_found(family));
        }
        match self.check_access(&session.user, &room).await? {
            Some(subscribed) => Ok(Self::access_for(&session.user, room, subscribed)),
            // Upstream's im.* routes find the conversation first, then answer an outsider
            // with `API.v1.forbidden()`.
            None if family == RoomFamily::Direct => Err(Error::forbidden()),
            None => Err(room_not_found(family)),
        }
    }

    /// The conversation `im.delete`/`dm.delete` may erase: upstream lets a caller who cannot
    /// read it go on when they hold `view-room-administration`, and leaves the decision to
    /// `eraseRoom`'s `delete-d`. Only `delete_room` may be given what this returns.
    pub async fn direct_room_for_deletion(
        &self,
        session: &Session,
        room: &RoomRef,
    ) -> Result<RoomAccess> {
        match self.room_for(session, room, RoomFamily::Direct).await {
            Err(e) if e.kind == comet_core::ErrorKind::Forbidden => {
                let direct = self
                    .find_room_unchecked(room)
                    .await?
                    .filter(|r| r.room_type == RoomType::Direct);
                match direct {
                    Some(direct) if self.ctx.meets(&session.user, Self::ADMINISTER_ROOMS) => {
                        Ok(RoomAccess::granted(direct))
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// The room `groups.kick` works on: one the caller may read, or any private group when
    /// they hold `kick-user-from-any-p-room` (upstream lets such a moderator act on groups
    /// they are not in).
    pub async fn room_for_kick(
        &self,
        session: &Session,
        room: &RoomRef,
        family: RoomFamily,
    ) -> Result<RoomAccess> {
        match self.room_for(session, room, family).await {
            Err(e) if family == RoomFamily::Groups => {
                let group = self
                    .find_room_unchecked(room)
                    .await?
                    .filter(|r| r.room_type == RoomType::Private);
                match group {
                    Some(group)
                        if self
                            .ctx
                            .has_permission(&session.user, "kick-user-from-any-p-room") =>
                    {
                        Ok(RoomAccess::granted(group))
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }

    /// `channels.online`/`groups.online`: the room's members whose status is not offline. A
    /// private group the caller may not read is refused as upstream's route does
    /// (`error-not-allowed`), not reported as missing.
    pub async fn online_members(
        &self,
        session: &Session,
        room: &RoomRef,
        family: RoomFamily,
    ) -> Result<Vec<User>> {
        let access = match self.room_for(session, room, family).await {
            Ok(access) => access,
            Err(e) if family == RoomFamily::Groups => {
                let exists = self
                    .find_room_unchecked(room)
                    .await?
                    .is_some_and(|r| r.room_type == RoomType::Private);
                return Err(if exists {
                    Error::meteor("error-not-allowed", "Not Allowed")
                } else {
                    e
                });
            }
            Err(e) => return Err(e),
        };
        let (members, _) = self.room_members(&access, 0, None).await?;
        Ok(members
            .into_iter()
            .filter_map(|(_, user)| user)
            .filter(|u| u.status != comet_core::user::Presence::Offline)
            .collect())
    }

    /// Who may page through a public channel's messages (`channels.messages`).
    pub const READ_CHANNEL_MESSAGES: Required = Required::All(&["view-c-room"]);

    /// `rooms.isMember`: whether `user` is in the room, for a caller who may see the room.
    /// Checked in upstream's order: the room exists, then the user, then the caller's access.
    pub async fn is_member(
        &self,
        session: &Session,
        room: &RoomRef,
        user: &crate::accounts::UserRef,
    ) -> Result<bool> {
        let Some(room) = self.find_room_unchecked(room).await? else {
            // Upstream looks the room up as its channel routes do, and says "channel".
            return Err(room_not_found(RoomFamily::Channels));
        };
        let Some(user) = self.ctx.accounts().find_user(user).await? else {
            return Err(Error::failure("error-user-not-found"));
        };
        if !self.can_access_room(&session.user, &room).await? {
            return Err(Error::forbidden());
        }
        Ok(self
            .ctx
            .store
            .subscription(&room.id, &user.id)
            .await
            .map_err(store_error)?
            .is_some())
    }

    /// Upstream's `getRoomByTypeAndName`: a room of a type by name (or id), for a caller who
    /// may read it; without `preview-c-room` its last message is left out, as upstream.
    pub async fn room_by_type_and_name(
        &self,
        session: &Session,
        room_type: &str,
        name: &str,
    ) -> Result<RoomView> {
        let details = json!({"method": "getRoomByTypeAndName"});
        let wanted = RoomType::parse(room_type);
        let mut found = self
            .find_room_unchecked(&RoomRef::Id(name.to_owned()))
            .await?;
        if found.is_none() && wanted != Some(RoomType::Direct) {
            found = self
                .find_room_unchecked(&RoomRef::Name(name.to_owned()))
                .await?;
        }
        let Some(room) = found.filter(|r| Some(r.room_type) == wanted) else {
            return Err(Error::meteor("error-invalid-room", "Invalid room").with_details(details));
        };
        if !self.can_access_room(&session.user, &room).await? {
            return Err(Error::meteor("error-no-permission", "No permission").with_details(details));
        }
        let mut view = self.room_view(room).await?;
        if !self.ctx.has_permission(&session.user, "preview-c-room") {
            view.last_message = None;
        }
        Ok(view)
    }

    /// Checks that the caller may read a room found by other means; `None` when they may not.
    pub async fn room_access(&self, session: &Session, room: Room) -> Result<Option<RoomAccess>> {
        Ok(self
            .check_access(&session.user, &room)
            .await?
            .map(|subscribed| Self::access_for(&session.user, room, subscribed)))
    }

    /// [`Rooms::room_access`] for `chat.postMessage`, which joins the caller to a public
    /// channel they are not in first, as upstream does. A member posting (nearly every post)
    /// costs one read of their subscription.
    pub async fn room_access_joining(
        &self,
        session: &Session,
        room: Room,
    ) -> Result<Option<RoomAccess>> {
        let access = self.check_access(&session.user, &room).await?;
        if access == Some(true) || room.room_type != RoomType::Channel {
            return Ok(access.map(|subscribed| Self::access_for(&session.user, room, subscribed)));
        }
        self.join_room(session, &room, None).await?;
        self.room_access(session, room).await
    }

    async fn existing_users(&self, usernames: &[String]) -> Result<Vec<User>> {
        let mut users: Vec<User> = Vec::with_capacity(usernames.len());
        for name in usernames {
            let name = name.trim().trim_start_matches('@');
            if let Some(user) = self
                .ctx
                .store
                .user_by_username(name)
                .await
                .map_err(store_error)?
                && !users.iter().any(|u| u.id == user.id)
            {
                users.push(user);
            }
        }
        Ok(users)
    }

    async fn resolve_usernames(&self, usernames: &[String]) -> Result<Vec<User>> {
        let mut users = Vec::with_capacity(usernames.len());
        for name in usernames {
            let name = name.trim().trim_start_matches('@');
            if name.is_empty() {
                continue;
            }
            let Some(user) = self
                .ctx
                .store
                .user_by_username(name)
                .await
                .map_err(store_error)?
            else {
                return Err(Error::meteor(
                    "error-invalid-user",
                    format!("Invalid user {name}"),
                ));
            };
            if !users.iter().any(|u: &User| u.id == user.id) {
                users.push(user);
            }
        }
        Ok(users)
    }

    /// `channels.create` / `groups.create`.
    /// Whether the caller may create a room of this type, in the team when one is named
    /// (upstream's `createChannelValidator` then `createChannelMethod`): a team room needs
    /// `create-team-channel`/`create-team-group` in the team's main room instead of
    /// `create-c`/`create-p`. Answers the team; an unknown team passes here and is refused by
    /// [`Self::create_room`], after the parameters are checked, as upstream's order has it.
    pub async fn authorize_creation(
        &self,
        session: &Session,
        room_type: RoomType,
        team_id: Option<&str>,
    ) -> Result<Option<Team>> {
        let private = room_type == RoomType::Private;
        let Some(team_id) = team_id.filter(|t| !t.is_empty()) else {
            let permission = if private { "create-p" } else { "create-c" };
            if !self.ctx.has_permission(&session.user, permission) {
                return Err(Error::forbidden());
            }
            return Ok(None);
        };
        let Some(team) = self
            .ctx
            .teams()
            .find(&crate::teams::TeamRef::Id(team_id.to_owned()))
            .await?
        else {
            return Ok(None);
        };
        let permission = if private {
            "create-team-group"
        } else {
            "create-team-channel"
        };
        if !self
            .has_room_permission(&session.user, permission, &team.room_id)
            .await?
        {
            return Err(Error::forbidden());
        }
        Ok(Some(team))
    }

    pub async fn create_room(
        &self,
        session: &Session,
        room_type: RoomType,
        new_room: NewRoom,
    ) -> Result<Room> {
        let team = self
            .authorize_creation(session, room_type, new_room.team_id.as_deref())
            .await?;
        if team.is_none() && new_room.team_id.as_deref().is_some_and(|t| !t.is_empty()) {
            return Err(Error::meteor(
                "error-team-not-found",
                "The \"teamId\" param provided does not match any team",
            ));
        }
        let display_name = new_room.name.trim().to_owned();
        if display_name.is_empty() {
            return Err(Error::meteor("error-invalid-name", "Invalid name"));
        }
        let name = self.valid_room_name(&display_name, None).await?;
        let duplicate = || {
            Error::meteor(
                "error-duplicate-channel-name",
                format!("A channel with name '{name}' exists"),
            )
            .with_details(json!({"channel_name": name}))
        };
        if !new_room.exclude_self {
            self.ctx.check_rooms_joined(&session.user).await?;
        }
        self.ctx.check_room_creation(&session.user).await?;
        let mut usernames = new_room.members.clone();
        usernames.extend(
            self.ctx
                .teams()
                .member_usernames(session, &new_room.member_teams)
                .await?,
        );
        // Unknown usernames among the members are skipped, as upstream does.
        let mut members = self.existing_users(&usernames).await?;
        let mut seen = std::collections::HashSet::new();
        members.retain(|u| seen.insert(u.id.clone()));
        members.retain(|u| u.id != session.user.id);
        let at = now();
        let mut room = self.blank_room(
            room_type,
            id::new_id(),
            Some(name.clone()),
            Some(&session.user),
            at,
        );
        room.fname = Some(display_name);
        room.read_only = new_room.read_only;
        room.topic = new_room.topic.filter(|t| !t.is_empty());
        room.description = new_room.description.filter(|t| !t.is_empty());
        room.broadcast = new_room.broadcast;
        room.encrypted = new_room.encrypted;
        if let Some(custom) = new_room.custom_fields {
            room.custom_fields = custom;
        }
        room.team_id = team.as_ref().map(|t| t.id.clone());
        let mut subscriptions = Vec::with_capacity(members.len() + 1);
        if !new_room.exclude_self {
            subscriptions.push(self.new_subscription(
                &room,
                &session.user,
                vec!["owner".to_owned()],
                at,
            ));
        }
        for member in &members {
            subscriptions.push(self.new_subscription(&room, member, Vec::new(), at));
        }
        room.users_count = i64::try_from(subscriptions.len()).unwrap_or(i64::MAX);
        match self
            .ctx
            .store
            .create_room(&room, &subscriptions, None)
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(Conflict::RoomName)) => return Err(duplicate()),
            Err(e) => return Err(store_error(e)),
        }
        tracing::info!(by = %session.user.id, room = %room.id, name = %name, "room created");
        let members: Vec<&str> = subscriptions
            .iter()
            .map(|s| s.user.username.as_str())
            .collect();
        let fields = json!({
            "t": room.room_type.as_str(),
            "name": room.name,
            "fname": room.fname,
            "readOnly": room.read_only,
            "broadcast": room.broadcast,
            "encrypted": room.encrypted,
            "members": members,
        });
        for subscription in subscriptions {
            self.publish_subscription(comet_events::Change::Inserted, subscription);
        }
        if let Some(team) = &team
            && room.room_type == RoomType::Channel
        {
            self.ctx
                .teams()
                .announce_new_room(session, team, &room)
                .await?;
        }
        self.ctx
            .audit_by(
                session,
                "room.create",
                crate::audit::AuditTarget::room(&room),
                None,
                Some(fields),
            )
            .await?;
        Ok(room)
    }

    /// After a member of direct rooms changed their username or name: the rooms list their
    /// current usernames, and every member's subscription is named after the others again
    /// (upstream's `updateDirectNameAndFnameByName` for two members, `updateGroupDMsName`,
    /// which joins the usernames with ",", for more).
    pub(crate) async fn rename_in_direct_rooms(&self, renamed: &User) -> Result<()> {
        let room_ids: Vec<String> = self
            .ctx
            .store
            .subscriptions_of_user(&renamed.id, None)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|s| s.room_type == RoomType::Direct)
            .map(|s| s.room_id)
            .collect();
        if room_ids.is_empty() {
            return Ok(());
        }
        let rooms = self
            .ctx
            .store
            .rooms_by_ids(&room_ids)
            .await
            .map_err(store_error)?;
        for mut room in rooms {
            let members = self
                .ctx
                .store
                .users_by_ids(&room.user_ids)
                .await
                .map_err(store_error)?;
            let sorted = members_by_display_name(members.iter().collect());
            let usernames: Vec<String> = sorted.iter().map(|u| u.username.clone()).collect();
            let at = now();
            if usernames != room.usernames {
                room.usernames = usernames;
                room.updated_at = at;
                self.ctx
                    .store
                    .update_room(&room)
                    .await
                    .map_err(store_error)?;
            }
            let separator = if room.user_ids.len() > 2 { "," } else { ", " };
            let subscriptions = self
                .ctx
                .store
                .subscriptions_of_users_in_room(&room.id, &room.user_ids)
                .await
                .map_err(store_error)?;
            for mut subscription in subscriptions {
                let (name, fname) = direct_names(&sorted, &subscription.user.id, separator);
                if subscription.name == name && subscription.fname.as_deref() == Some(&fname) {
                    continue;
                }
                subscription.name = name;
                subscription.fname = Some(fname);
                subscription.updated_at = at;
                self.ctx
                    .store
                    .update_subscription(&subscription)
                    .await
                    .map_err(store_error)?;
                self.publish_subscription(comet_events::Change::Updated, subscription);
            }
        }
        Ok(())
    }

    /// `im.create`: a direct room with one or more users; an existing one is reopened.
    pub async fn create_direct(
        &self,
        session: &Session,
        usernames: &[String],
        exclude_self: bool,
    ) -> Result<Room> {
        if !self.ctx.has_permission(&session.user, "create-d") {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "createDirectMessage"})));
        }
        let others = self.resolve_usernames(usernames).await?;
        let mut participants: Vec<User> = Vec::with_capacity(others.len() + 1);
        if !exclude_self {
            participants.push(session.user.clone());
        }
        for user in others {
            if !participants.iter().any(|p| p.id == user.id) {
                participants.push(user);
            }
        }
        if participants.is_empty() {
            return Err(Error::meteor("error-invalid-user", "Invalid user"));
        }
        participants.sort_by(|a, b| a.id.cmp(&b.id));
        let room_id = direct_room_id(
            &participants
                .iter()
                .map(|u| u.id.as_str())
                .collect::<Vec<_>>(),
        );
        if let Some(existing) = self
            .ctx
            .store
            .room_by_id(&room_id)
            .await
            .map_err(store_error)?
        {
            self.reopen(&existing.id, &session.user.id).await?;
            return Ok(existing);
        }
        if !exclude_self && participants.len() > 1 {
            self.ctx.check_direct_to_strangers(&session.user).await?;
        }
        let at = now();
        let mut room = self.blank_room(RoomType::Direct, room_id, None, Some(&session.user), at);
        room.user_ids = participants.iter().map(|u| u.id.clone()).collect();
        let by_name = members_by_display_name(participants.iter().collect());
        room.usernames = by_name.iter().map(|u| u.username.clone()).collect();
        room.users_count = i64::try_from(participants.len()).unwrap_or(i64::MAX);
        room.fname = None;
        let subscriptions: Vec<Subscription> = participants
            .iter()
            .map(|u| {
                let mut s = self.new_subscription(&room, u, Vec::new(), at);
                let (name, fname) = direct_names(&by_name, &u.id, ", ");
                s.name = name;
                s.fname = Some(fname);
                // The other side sees the conversation only once something is written.
                s.open = u.id == session.user.id;
                s
            })
            .collect();
        match self
            .ctx
            .store
            .create_room(&room, &subscriptions, None)
            .await
        {
            Ok(()) => {
                for subscription in subscriptions {
                    self.publish_subscription(comet_events::Change::Inserted, subscription);
                }
                Ok(room)
            }
            Err(StoreError::Conflict(_)) => self
                .ctx
                .store
                .room_by_id(&room.id)
                .await
                .map_err(store_error)?
                .ok_or_else(|| Error::internal("direct room vanished after a conflict")),
            Err(e) => Err(store_error(e)),
        }
    }

    async fn reopen(&self, room_id: &str, user_id: &str) -> Result<()> {
        if let Some(mut s) = self
            .ctx
            .store
            .subscription(room_id, user_id)
            .await
            .map_err(store_error)?
            && !s.open
        {
            s.open = true;
            s.updated_at = now();
            self.ctx
                .store
                .update_subscription(&s)
                .await
                .map_err(store_error)?;
            self.publish_subscription(comet_events::Change::Updated, s);
        }
        Ok(())
    }

    /// `channels.join`.
    pub async fn join_room(
        &self,
        session: &Session,
        room: &Room,
        join_code: Option<&str>,
    ) -> Result<()> {
        if room.room_type != RoomType::Channel {
            return Err(room_not_found(RoomFamily::Channels));
        }
        if !self.ctx.has_permission(&session.user, "view-c-room") {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "joinRoom"})));
        }
        if let Some(code) = room.join_code.as_deref().filter(|c| !c.is_empty())
            && !self
                .ctx
                .has_permission(&session.user, "join-without-join-code")
        {
            match join_code {
                None | Some("") => {
                    return Err(Error::meteor("error-code-required", "Code required")
                        .with_details(json!({"method": "joinRoom"})));
                }
                Some(given) if given != code => {
                    return Err(Error::meteor("error-code-invalid", "Invalid code")
                        .with_details(json!({"method": "joinRoom"})));
                }
                Some(_) => {}
            }
        }
        if room.archived {
            return Err(Error::meteor("error-room-archived", "The room is archived"));
        }
        // Upstream refuses a banned user as one who may not access the room.
        if self.is_banned(&room.id, &session.user.id).await? {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "joinRoom"})));
        }
        self.ctx.check_rooms_joined(&session.user).await?;
        let at = now();
        let subscription = self.joining_subscription(room, &session.user, at);
        let message = system_message("uj", &room.id, &session.user, &session.user.username, at);
        self.add_member(room, subscription, message).await?;
        Ok(())
    }

    /// `channels.leave` / `groups.leave` / `rooms.leave`.
    pub async fn leave_room(&self, session: &Session, room: &RoomAccess) -> Result<()> {
        let not_allowed = || {
            Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "leaveRoom"}))
        };
        // A direct conversation cannot be left (upstream hides it instead).
        let permission = match room.room_type {
            RoomType::Channel => "leave-c",
            RoomType::Private => "leave-p",
            RoomType::Direct => return Err(not_allowed()),
        };
        if !self.ctx.has_permission(&session.user, permission) {
            return Err(not_allowed());
        }
        let Some(subscription) = self
            .ctx
            .store
            .subscription(&room.id, &session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(
                Error::meteor("error-user-not-in-room", "You are not in this room")
                    .with_details(json!({"method": "leaveRoom"})),
            );
        };
        // The last owner stays, even alone: upstream asks to set a new owner (or delete the
        // room) first.
        if subscription.roles.iter().any(|r| r == "owner")
            && self.count_owners(&room.id).await? <= 1
        {
            return Err(Error::meteor(
                "error-you-are-last-owner",
                "You are the last owner. Please set new owner before leaving the room.",
            )
            .with_details(json!({"method": "leaveRoom"})));
        }
        let message = system_message("ul", &room.id, &session.user, &session.user.username, now());
        self.remove_member(room, &session.user.id, message).await?;
        Ok(())
    }

    pub(crate) async fn count_owners(&self, room_id: &str) -> Result<usize> {
        let (subs, _) = self
            .ctx
            .store
            .subscriptions_of_room(room_id, 0, None)
            .await
            .map_err(store_error)?;
        Ok(subs
            .iter()
            .filter(|s| s.roles.iter().any(|r| r == "owner"))
            .count())
    }

    /// `channels.invite` / `groups.invite`: adds users, with an `au` message for each.
    pub async fn invite_to_room(
        &self,
        session: &Session,
        room: &RoomAccess,
        users: &[User],
    ) -> Result<()> {
        let any_room = match room.room_type {
            RoomType::Channel => "add-user-to-any-c-room",
            RoomType::Private => "add-user-to-any-p-room",
            RoomType::Direct => {
                return Err(Error::meteor(
                    "error-cant-invite-for-direct-room",
                    "Can't invite user to direct rooms",
                ));
            }
        };
        let subscribed = self
            .ctx
            .store
            .subscription(&room.id, &session.user.id)
            .await
            .map_err(store_error)?
            .is_some();
        let allowed = self.ctx.has_permission(&session.user, any_room)
            || (subscribed
                && self
                    .has_room_permission(&session.user, "add-user-to-joined-room", &room.id)
                    .await?);
        if !allowed {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "addUsersToRoom"})));
        }
        if room.archived {
            return Err(Error::meteor("error-room-archived", "The room is archived"));
        }
        // A banned user is refused before anyone is added; a moderator unbans them first.
        for user in users {
            if self.is_banned(&room.id, &user.id).await? {
                return Err(
                    Error::meteor("error-user-is-banned", "User is banned from this room")
                        .with_details(json!({"method": "addUsersToRoom"})),
                );
            }
        }
        for user in users {
            let at = now();
            let subscription = self.joining_subscription(room, user, at);
            let message = system_message("au", &room.id, &session.user, &user.username, at);
            self.add_member(room, subscription, message).await?;
        }
        Ok(())
    }

    /// `channels.kick` / `groups.kick`.
    pub async fn kick_from_room(
        &self,
        session: &Session,
        room: &RoomAccess,
        user: &User,
    ) -> Result<()> {
        if !self
            .has_room_permission(&session.user, "remove-user", &room.id)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "removeUserFromRoom"})));
        }
        let Some(subscription) = self
            .ctx
            .store
            .subscription(&room.id, &user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(
                Error::meteor("error-user-not-in-room", "User is not in this room")
                    .with_details(json!({"method": "removeUserFromRoom"})),
            );
        };
        if subscription.roles.iter().any(|r| r == "owner")
            && self.count_owners(&room.id).await? <= 1
        {
            return Err(Error::meteor(
                "error-you-are-last-owner",
                "This is the last owner. Please set a new owner before removing this one.",
            )
            .with_details(json!({"method": "removeUserFromRoom"})));
        }
        let message = system_message("ru", &room.id, &session.user, &user.username, now());
        self.remove_member(room, &user.id, message).await?;
        self.ctx
            .audit_by(
                session,
                "room.kick",
                crate::audit::AuditTarget::user(user),
                Some(json!({"room": {"_id": room.id, "name": room.name}, "roles": subscription.roles})),
                None,
            )
            .await
    }

    /// A room with its last message.
    pub async fn room_view(&self, room: Room) -> Result<RoomView> {
        let last_message = match &room.last_message_id {
            Some(id) => self
                .ctx
                .store
                .message_by_id(id)
                .await
                .map_err(store_error)?
                .filter(|m| m.deleted_at.is_none()),
            None => None,
        };
        Ok(RoomView { room, last_message })
    }

    /// The room a discussion was started from, as `rooms.info` shows it to whoever may read
    /// the discussion (upstream answers it without checking access to the parent).
    pub async fn discussion_parent(&self, discussion: &RoomAccess) -> Result<Option<Room>> {
        match &discussion.room().parent_id {
            Some(parent) => self.ctx.store.room_by_id(parent).await.map_err(store_error),
            None => Ok(None),
        }
    }

    /// The team a room belongs to and, for a team's room other than its main room, that main
    /// room: what `rooms.info` adds as `team` and `parent` (upstream's `Team.getRoomInfo`).
    pub async fn team_of(
        &self,
        room: &RoomAccess,
    ) -> Result<Option<(comet_core::team::Team, Option<Room>)>> {
        let room = room.room();
        let Some(team_id) = &room.team_id else {
            return Ok(None);
        };
        let Some(team) = self
            .ctx
            .store
            .team_by_id(team_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        if room.team_main {
            return Ok(Some((team, None)));
        }
        let main = self
            .ctx
            .store
            .room_by_id(&team.room_id)
            .await
            .map_err(store_error)?;
        Ok(Some((team, main)))
    }

    /// Rooms with their last messages, loaded in one query.
    pub async fn room_views(&self, rooms: Vec<Room>) -> Result<Vec<RoomView>> {
        let ids: Vec<String> = rooms
            .iter()
            .filter_map(|r| r.last_message_id.clone())
            .collect();
        let messages = self
            .ctx
            .store
            .messages_by_ids(&ids)
            .await
            .map_err(store_error)?;
        Ok(rooms
            .into_iter()
            .map(|room| {
                let last_message = room
                    .last_message_id
                    .as_ref()
                    .and_then(|id| {
                        messages
                            .iter()
                            .find(|m| &m.id == id && m.deleted_at.is_none())
                    })
                    .cloned();
                RoomView { room, last_message }
            })
            .collect())
    }

    /// Who may list public channels (those without `view-c-room` see only their own).
    pub const LIST_CHANNELS: Required = Required::Any(&["view-c-room", "view-joined-room"]);

    /// The requirement of listing rooms of these types, joined or not.
    fn list_requirement(types: &[RoomType], joined_only: bool) -> Option<Required> {
        if joined_only {
            None
        } else if types.iter().any(|t| *t != RoomType::Channel) {
            Some(Self::ADMINISTER_ROOMS)
        } else {
            Some(Self::LIST_CHANNELS)
        }
    }

    /// `channels.list` (public channels), `groups.listAll` (admins), and the joined variants.
    pub async fn list_rooms(
        &self,
        session: &Session,
        query: RoomListQuery,
    ) -> Result<(Vec<RoomView>, u64)> {
        if let Some(required) = Self::list_requirement(&query.types, query.joined_only) {
            self.ctx.authorize(&session.user, required)?;
        }
        // Without `view-c-room`, `channels.list` shows only the channels one is in.
        let joined_only = query.joined_only
            || !self.ctx.has_permission(&session.user, "view-c-room")
                && !self.ctx.meets(&session.user, Self::ADMINISTER_ROOMS);
        if let Some(id) = &query.id {
            return self.list_room_by_id(session, id, &query, joined_only).await;
        }
        let filter = RoomFilter {
            types: query.types,
            name: query.name,
            member: joined_only.then(|| session.user.id.clone()),
            ..RoomFilter::default()
        };
        let page = Page {
            offset: query.offset,
            count: query.count,
            sort: query.sort,
        };
        let (rooms, total) = self
            .ctx
            .store
            .list_rooms(&filter, &page)
            .await
            .map_err(store_error)?;
        Ok((self.room_views(rooms).await?, total))
    }

    /// A listing narrowed to one room by its id: that room when it passes the listing's
    /// other filters, else nothing.
    async fn list_room_by_id(
        &self,
        session: &Session,
        id: &str,
        query: &RoomListQuery,
        joined_only: bool,
    ) -> Result<(Vec<RoomView>, u64)> {
        let Some(room) = self.ctx.store.room_by_id(id).await.map_err(store_error)? else {
            return Ok((Vec::new(), 0));
        };
        let name_matches = query.name.as_ref().is_none_or(|part| {
            room.name
                .as_ref()
                .is_some_and(|name| name.to_lowercase().contains(&part.to_lowercase()))
        });
        let member = !joined_only
            || self
                .ctx
                .store
                .subscription(&room.id, &session.user.id)
                .await
                .map_err(store_error)?
                .is_some();
        let listed = (query.types.is_empty() || query.types.contains(&room.room_type))
            && name_matches
            && member;
        if !listed || query.offset > 0 || query.count == Some(0) {
            return Ok((Vec::new(), u64::from(listed)));
        }
        Ok((self.room_views(vec![room]).await?, 1))
    }

    /// Members of a room with their users, ordered by username.
    pub async fn room_members(
        &self,
        room: &RoomAccess,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<(Subscription, Option<User>)>, u64)> {
        let (subs, total) = self
            .ctx
            .store
            .subscriptions_of_room(&room.id, offset, count)
            .await
            .map_err(store_error)?;
        let ids: Vec<String> = subs.iter().map(|s| s.user.id.clone()).collect();
        let users = self
            .ctx
            .store
            .users_by_ids(&ids)
            .await
            .map_err(store_error)?;
        let members = subs
            .into_iter()
            .map(|s| {
                let user = users.iter().find(|u| u.id == s.user.id).cloned();
                (s, user)
            })
            .collect();
        Ok((members, total))
    }

    /// Who may list a room's integrations (`channels.getIntegrations`,
    /// `groups.getIntegrations`): any of the four integration permissions.
    pub const LIST_INTEGRATIONS: Required = Required::Any(&[
        "manage-outgoing-integrations",
        "manage-own-outgoing-integrations",
        "manage-incoming-integrations",
        "manage-own-incoming-integrations",
    ]);

    /// The integrations (incoming and outgoing webhooks) of a room, as
    /// `channels.getIntegrations` and `groups.getIntegrations` list them, with the total.
    /// The room is found as the family finds it: a channel the caller may not read is 403
    /// `unauthorized` (upstream's `forbidden()`), a group they are not in is not found.
    /// Comet has no integrations yet, so every room has none.
    pub async fn room_integrations(
        &self,
        session: &Session,
        room: &RoomRef,
        family: RoomFamily,
    ) -> Result<(Vec<Value>, u64)> {
        self.ctx.authorize(&session.user, Self::LIST_INTEGRATIONS)?;
        if family == RoomFamily::Channels {
            let room = self
                .find_room_unchecked(room)
                .await?
                .filter(|r| r.room_type == RoomType::Channel)
                .ok_or_else(|| room_not_found(family))?;
            if self.room_access(session, room).await?.is_none() {
                return Err(Error::forbidden());
            }
        } else {
            self.room_for(session, room, family).await?;
        }
        Ok((Vec::new(), 0))
    }

    /// The checks of `rooms.membersOrderedByRole`, in upstream's order: the room exists, the
    /// caller may read it (else 404, so that the listing does not tell a hidden room from a
    /// missing one), it is a channel or a private group, and a broadcast room's members are
    /// listed only to holders of `view-broadcast-member-list` (globally or in the room).
    pub async fn member_list_access(
        &self,
        session: &Session,
        room: &RoomRef,
    ) -> Result<RoomAccess> {
        let Some(room) = self.find_room_unchecked(room).await? else {
            return Err(room_not_found(RoomFamily::Any));
        };
        let Some(access) = self.room_access(session, room).await? else {
            return Err(Error::not_found_because(
                "The required \"roomId\" or \"roomName\" param provided does not match any room",
            ));
        };
        let room = access.room();
        if !matches!(room.room_type, RoomType::Channel | RoomType::Private) {
            return Err(Error::failure("error-room-type-not-supported"));
        }
        if room.broadcast
            && !self
                .has_room_permission(&session.user, "view-broadcast-member-list", &room.id)
                .await?
        {
            return Err(Error::forbidden());
        }
        Ok(access)
    }

    /// A page of a room's active members by room role, presence and username (or name, with
    /// `UI_Use_Real_Name`, unless `filter` asks for usernames), and the total.
    pub async fn members_by_role(
        &self,
        room: &RoomAccess,
        filter: &MemberFilter,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<(Subscription, User)>, u64)> {
        self.ctx
            .store
            .members_by_role(&room.id, filter, offset, count)
            .await
            .map_err(store_error)
    }

    /// The caller's subscription to a room.
    pub async fn subscription(
        &self,
        session: &Session,
        room_id: &str,
    ) -> Result<Option<Subscription>> {
        self.ctx
            .store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)
    }

    /// Subscriptions the caller lost after a time (for `subscriptions.get`'s `remove`).
    pub async fn removed_subscriptions(
        &self,
        session: &Session,
        since: Timestamp,
    ) -> Result<Vec<comet_store::RemovedSubscription>> {
        self.ctx
            .store
            .removed_subscriptions(&session.user.id, since)
            .await
            .map_err(store_error)
    }

    /// Rooms the caller was in that were deleted after a time (for `rooms.get`'s `remove`).
    pub async fn removed_rooms(
        &self,
        session: &Session,
        since: Timestamp,
    ) -> Result<Vec<(String, Timestamp)>> {
        let lost = self.removed_subscriptions(session, since).await?;
        let deleted = self
            .ctx
            .store
            .removed_rooms(since)
            .await
            .map_err(store_error)?;
        Ok(deleted
            .into_iter()
            .filter(|(id, _)| lost.iter().any(|s| &s.room_id == id))
            .collect())
    }

    /// A member's subscription, for transports that push sidebar changes to that member.
    pub async fn member_subscription(
        &self,
        room_id: &str,
        user_id: &str,
    ) -> Result<Option<Subscription>> {
        self.ctx
            .store
            .subscription(room_id, user_id)
            .await
            .map_err(store_error)
    }

    /// The subscriptions to a room of several members at once (for live unread updates).
    pub async fn member_subscriptions(
        &self,
        room_id: &str,
        user_ids: &[String],
    ) -> Result<Vec<Subscription>> {
        self.ctx
            .store
            .subscriptions_of_users_in_room(room_id, user_ids)
            .await
            .map_err(store_error)
    }

    /// Users by id, for server-side fan-out (no caller: the realtime layer already knows they
    /// are members of the room in question).
    pub async fn users_by_ids(&self, user_ids: &[String]) -> Result<Vec<comet_core::user::User>> {
        self.ctx
            .store
            .users_by_ids(user_ids)
            .await
            .map_err(store_error)
    }

    /// `subscriptions.get`: all of the caller's subscriptions, or those changed since a time.
    pub async fn subscriptions(
        &self,
        session: &Session,
        since: Option<Timestamp>,
    ) -> Result<Vec<Subscription>> {
        self.ctx
            .store
            .subscriptions_of_user(&session.user.id, since)
            .await
            .map_err(store_error)
    }

    /// `users.info` with `includeUserRooms`: a user's subscriptions, for themselves or for
    /// holders of `view-other-user-channels`; `None` for anyone else (upstream then leaves
    /// the rooms out). Ordered by type, then name.
    pub async fn rooms_of_user(
        &self,
        session: &Session,
        user_id: &str,
    ) -> Result<Option<Vec<Subscription>>> {
        if user_id != session.user.id
            && !self
                .ctx
                .has_permission(&session.user, "view-other-user-channels")
        {
            return Ok(None);
        }
        let mut subscriptions = self
            .ctx
            .store
            .subscriptions_of_user(user_id, None)
            .await
            .map_err(store_error)?;
        subscriptions
            .sort_by(|a, b| (a.room_type.as_str(), &a.name).cmp(&(b.room_type.as_str(), &b.name)));
        Ok(Some(subscriptions))
    }

    /// `rooms.get`: rooms the caller is subscribed to (changed since a time).
    pub async fn subscribed_rooms(
        &self,
        session: &Session,
        since: Option<Timestamp>,
    ) -> Result<Vec<RoomView>> {
        let subs = self
            .ctx
            .store
            .subscriptions_of_user(&session.user.id, None)
            .await
            .map_err(store_error)?;
        let ids: Vec<String> = subs.into_iter().map(|s| s.room_id).collect();
        let rooms = self
            .ctx
            .store
            .rooms_by_ids(&ids)
            .await
            .map_err(store_error)?;
        let rooms = rooms
            .into_iter()
            .filter(|r| since.is_none_or(|since| r.updated_at > since))
            .collect();
        self.room_views(rooms).await
    }

    /// `subscriptions.read`: marks a room read up to now; its unread threads stay unread (and
    /// keep the room alerting) unless `read_threads`, as upstream's `readMessages`.
    pub async fn mark_read(
        &self,
        session: &Session,
        room_id: &str,
        read_threads: bool,
    ) -> Result<()> {
        let Some(mut s) = self
            .ctx
            .store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(
                Error::meteor("error-invalid-subscription", "Invalid subscription")
                    .with_details(json!({"method": "readMessages"})),
            );
        };
        let at = now();
        s.unread = 0;
        s.user_mentions = 0;
        s.group_mentions = 0;
        s.alert = s.alert && !read_threads && !s.thread_unread.is_empty();
        if read_threads {
            s.thread_unread.clear();
            s.thread_unread_user.clear();
            s.thread_unread_group.clear();
        }
        s.last_seen = at;
        s.updated_at = at;
        self.ctx
            .store
            .update_subscription(&s)
            .await
            .map_err(store_error)?;
        self.publish_subscription(comet_events::Change::Updated, s);
        if self.ctx.setting_bool("Message_Read_Receipt_Enabled") {
            self.settle_read_receipts(room_id).await?;
        }
        Ok(())
    }

    /// Once every member has seen a room up to some time, its messages until then stop being
    /// unread, and the room's listeners hear `messagesRead`.
    async fn settle_read_receipts(&self, room_id: &str) -> Result<()> {
        let Some(until) = self
            .ctx
            .store
            .earliest_last_seen(room_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(());
        };
        let changed = self
            .ctx
            .store
            .mark_messages_read(room_id, until)
            .await
            .map_err(store_error)?;
        if changed > 0 {
            self.ctx.publish(comet_events::Event::MessagesRead {
                room_id: room_id.to_owned(),
                until,
            });
        }
        Ok(())
    }

    /// `rooms.hide`: hides the room from the caller's list; refused (401, as upstream's
    /// `API.v1.unauthorized()`) to a caller who cannot read it, and a failure when it is
    /// already hidden (upstream counts the subscriptions it changed).
    pub async fn hide_room(&self, session: &Session, room_id: &str) -> Result<()> {
        let room = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?;
        let readable = match &room {
            Some(room) => self.can_access_room(&session.user, room).await?,
            None => false,
        };
        if !readable {
            return Err(Error::unauthorized());
        }
        let subscription = self
            .ctx
            .store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?;
        match subscription {
            Some(s) if s.open => self.set_open(session, room_id, false).await,
            _ => Err(Error::failure("error-room-already-hidden")),
        }
    }

    /// `rooms.open`: shows the room in the caller's list again; like upstream's `openRoom`, a
    /// room the caller has no subscription to is no error (nothing changes).
    pub async fn open_room(&self, session: &Session, room_id: &str) -> Result<()> {
        let subscription = self
            .ctx
            .store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?;
        match subscription {
            Some(s) if !s.open => self.set_open(session, room_id, true).await,
            _ => Ok(()),
        }
    }

    /// `rooms.nameExists`: whether any room has this name (upstream asks nothing more).
    pub async fn name_exists(&self, name: &str) -> Result<bool> {
        Ok(self
            .ctx
            .store
            .room_by_name(name)
            .await
            .map_err(store_error)?
            .is_some())
    }

    /// Who may read rooms' join codes.
    pub const VIEW_JOIN_CODE: Required = Required::All(&["view-join-code"]);

    /// Upstream's `getRoomJoinCode`: a room's join code (`None` for an unknown room or one
    /// without a code), for holders of `view-join-code`.
    pub async fn room_join_code(&self, session: &Session, room_id: &str) -> Result<Option<String>> {
        if !self.ctx.meets(&session.user, Self::VIEW_JOIN_CODE) {
            return Err(Error::meteor("error-not-authorized", "Not authorized")
                .with_details(json!({"method": "getJoinCode"})));
        }
        Ok(self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?
            .and_then(|room| room.join_code))
    }

    /// `rooms.delete`: upstream's `eraseRoom` by id, for whoever holds the room type's delete
    /// permission, member or not.
    pub async fn delete_room_by_id(&self, session: &Session, room_id: &str) -> Result<()> {
        let access = self
            .room_for_moderation(session, room_id, "eraseRoom")
            .await?;
        self.delete_room(session, &access).await
    }

    /// A room by id for an operation that checks a permission of its own (held globally or
    /// through the caller's roles in the room) instead of the caller's access to the room, as
    /// upstream's `eraseRoom`, `addRoomOwner`, `archiveRoom` and their kin do: only such
    /// operations may be given what this returns. An unknown room is `error-invalid-room`
    /// for `method`.
    pub async fn room_for_moderation(
        &self,
        session: &Session,
        room_id: &str,
        method: &str,
    ) -> Result<RoomAccess> {
        let found = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?;
        let Some(room) = found else {
            return Err(Error::meteor("error-invalid-room", "Invalid room")
                .with_details(json!({ "method": method })));
        };
        let subscribed = self
            .ctx
            .store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?
            .is_some();
        Ok(Self::access_for(&session.user, room, subscribed))
    }

    /// `channels.open`/`close`, `groups.open`/`close`, `im.open`/`close`: shows or hides the room.
    pub async fn set_open(&self, session: &Session, room_id: &str, open: bool) -> Result<()> {
        let Some(mut s) = self
            .ctx
            .store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor(
                "error-invalid-subscription",
                "Invalid subscription",
            ));
        };
        s.open = open;
        s.updated_at = now();
        self.ctx
            .store
            .update_subscription(&s)
            .await
            .map_err(store_error)?;
        self.publish_subscription(comet_events::Change::Updated, s);
        Ok(())
    }
}
