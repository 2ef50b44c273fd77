//! Slash commands: upstream's built-in `/commands`, run from a room's composer (REST
//! `commands.run`, DDP `slashCommand`). A command acts as its caller, through the same
//! operations (and permission checks) as the endpoints it stands for; what it has to tell its
//! caller (a room that does not exist, a user already in the room, ...) arrives as an
//! ephemeral message only they see, as upstream's `notify.ephemeralMessage`.

use crate::Commands;
use crate::room_settings::RoomChange;
use crate::rooms::{NewRoom, RoomAccess, direct_room_id};
use crate::{Session, store_error};
use comet_core::room::{NewMessage, Room, RoomType};
use comet_core::user::User;
use comet_core::{Error, Result};

/// One command as clients list it (`commands.list`, `commands.get`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlashCommand {
    pub command: &'static str,
    /// The parameters hint (an i18n key of upstream's web client, or a literal).
    pub params: Option<&'static str>,
    /// The description (an i18n key of upstream's web client).
    pub description: &'static str,
    /// Permissions a client should check before offering the command (any room scope).
    pub permission: &'static [&'static str],
    /// Whether clients run it themselves (the text faces); the server runs it too, for
    /// clients that do not.
    pub client_only: bool,
    pub provides_preview: bool,
}

const fn command(
    command: &'static str,
    params: Option<&'static str>,
    description: &'static str,
    permission: &'static [&'static str],
) -> SlashCommand {
    SlashCommand {
        command,
        params,
        description,
        permission,
        client_only: false,
        provides_preview: false,
    }
}

const fn text_face(command: &'static str, description: &'static str) -> SlashCommand {
    SlashCommand {
        command,
        params: Some("your_message_optional"),
        description,
        permission: &[],
        client_only: true,
        provides_preview: false,
    }
}

/// Upstream's built-in commands, in upstream's registration order.
const BUILT_IN: &[SlashCommand] = &[
    command("archive", Some("#channel"), "Archive", &["archive-room"]),
    command(
        "ban",
        Some("@username"),
        "Ban_user_from_room",
        &["ban-user"],
    ),
    command(
        "create",
        Some("#channel"),
        "Create_A_New_Channel",
        &["create-c", "create-p"],
    ),
    command("help", None, "Show_the_keyboard_shortcut_list", &[]),
    command("hide", Some("#room"), "Hide_room", &[]),
    command(
        "invite",
        Some("@username"),
        "Invite_user_to_join_channel",
        &["add-user-to-joined-room"],
    ),
    command(
        "invite-all-to",
        Some("#room"),
        "Invite_user_to_join_channel_all_to",
        &[
            "add-user-to-joined-room",
            "add-user-to-any-c-room",
            "add-user-to-any-p-room",
        ],
    ),
    command(
        "invite-all-from",
        Some("#room"),
        "Invite_user_to_join_channel_all_from",
        &["add-user-to-joined-room"],
    ),
    command(
        "join",
        Some("#channel"),
        "Join_the_given_channel",
        &["view-c-room"],
    ),
    command(
        "kick",
        Some("@username"),
        "Remove_someone_from_room",
        &["remove-user"],
    ),
    command(
        "leave",
        None,
        "Leave_the_current_channel",
        &["leave-c", "leave-p"],
    ),
    command(
        "part",
        None,
        "Leave_the_current_channel",
        &["leave-c", "leave-p"],
    ),
    command("me", Some("your_message"), "Displays_action_text", &[]),
    command(
        "msg",
        Some("@username <message>"),
        "Direct_message_someone",
        &["create-d"],
    ),
    command(
        "mute",
        Some("@username"),
        "Mute_someone_in_room",
        &["mute-user"],
    ),
    command(
        "unmute",
        Some("@username"),
        "Unmute_someone_in_room",
        &["mute-user"],
    ),
    command(
        "status",
        Some("Slash_Status_Params"),
        "Slash_Status_Description",
        &[],
    ),
    command(
        "topic",
        Some("Slash_Topic_Params"),
        "Slash_Topic_Description",
        &["edit-room"],
    ),
    command(
        "unarchive",
        Some("#channel"),
        "Unarchive",
        &["unarchive-room"],
    ),
    command(
        "unban",
        Some("@username"),
        "Unban_user_from_room",
        &["ban-user"],
    ),
    text_face("gimme", "Slash_Gimme_Description"),
    text_face("lennyface", "Slash_LennyFace_Description"),
    text_face("shrug", "Slash_Shrug_Description"),
    text_face("tableflip", "Slash_Tableflip_Description"),
    text_face("unflip", "Slash_TableUnflip_Description"),
];

/// A command to run, as `commands.run` receives it.
#[derive(Debug, Clone, Default)]
pub struct CommandRun {
    pub command: String,
    /// Everything after the command name.
    pub params: String,
    pub room_id: String,
    pub thread_id: Option<String>,
}

/// The place a command runs in: the room (which the caller may read) and the thread.
struct Place<'s> {
    session: &'s Session,
    room: RoomAccess,
    thread_id: Option<String>,
}

/// What `/help` lists: upstream's keyboard shortcuts.
const SHORTCUTS: &[(&str, &str)] = &[
    (
        "Command (or Ctrl) + p OR Command (or Ctrl) + k",
        "Open Channel / User search",
    ),
    (
        "Shift (or Ctrl) + ESC",
        "Mark all messages (in all channels) as read",
    ),
    ("Up Arrow", "Edit previous message"),
    (
        "Command (or Alt) + Left Arrow",
        "Move to the beginning of the message",
    ),
    (
        "Command (or Alt) + Up Arrow",
        "Move to the beginning of the message",
    ),
    (
        "Command (or Alt) + Right Arrow",
        "Move to the end of the message",
    ),
    (
        "Command (or Alt) + Down Arrow",
        "Move to the end of the message",
    ),
    ("Shift + Enter", "New line in message compose input"),
];

/// `name` without one leading `sigil` (`#room`, `@user`).
fn strip_sigil(name: &str, sigil: char) -> &str {
    name.strip_prefix(sigil).unwrap_or(name)
}

impl Commands<'_> {
    /// Every command, in registration order.
    pub fn list(&self) -> &'static [SlashCommand] {
        BUILT_IN
    }

    /// A command by name, ignoring case (upstream lowercases what it is asked).
    pub fn find(&self, name: &str) -> Option<&'static SlashCommand> {
        let name = name.to_lowercase();
        BUILT_IN.iter().find(|c| c.command == name)
    }

    /// Runs a command in a room the caller may read. Checks in upstream's order: the
    /// command exists, the caller may read the room, the thread is in the room.
    pub async fn run(&self, session: &Session, run: CommandRun) -> Result<()> {
        let place = self
            .prepare(session, &run.command, &run.room_id, run.thread_id)
            .await?;
        let Some(command) = self.find(&run.command) else {
            return Err(unknown_command());
        };
        let params = run.params.as_str();
        match command.command {
            "archive" => self.archive(&place, params, true).await,
            "unarchive" => self.archive(&place, params, false).await,
            "create" => self.create(&place, params).await,
            "help" => {
                let lines: String = SHORTCUTS
                    .iter()
                    .map(|(keys, what)| format!("\n`{keys}` - {what}"))
                    .collect();
                self.tell(&place, lines);
                Ok(())
            }
            "hide" => self.hide(&place, params).await,
            "invite" => self.invite(&place, params).await,
            "invite-all-to" => self.invite_all(&place, params, false).await,
            "invite-all-from" => self.invite_all(&place, params, true).await,
            "join" => self.join(&place, params).await,
            "kick" => self.kick(&place, params).await,
            "ban" => self.ban(&place, params, true).await,
            "unban" => self.ban(&place, params, false).await,
            "leave" | "part" => {
                let outcome = self.ctx.rooms().leave_room(session, &place.room).await;
                if let Err(error) = &outcome {
                    self.tell(&place, error.reason.to_string());
                }
                outcome
            }
            "me" => {
                let text = params.trim();
                if text.is_empty() {
                    return Ok(());
                }
                self.post(&place, format!("_{text}_")).await
            }
            "msg" => self.direct_message(&place, params).await,
            "mute" => self.mute(&place, params, true).await,
            "unmute" => self.mute(&place, params, false).await,
            "status" => self.status(&place, params).await,
            "topic" => {
                let rooms = self.ctx.rooms();
                if rooms
                    .has_room_permission(&session.user, "edit-room", &place.room.id)
                    .await?
                {
                    let topic = params.trim().to_owned();
                    rooms
                        .change_room(session, &place.room, RoomChange::Topic(topic))
                        .await?;
                }
                Ok(())
            }
            face => {
                let (before, after) = match face {
                    "gimme" => ("༼ つ ◕_◕ ༽つ", ""),
                    "lennyface" => ("", "( ͡° ͜ʖ ͡°)"),
                    "shrug" => ("", "¯\\\\_(ツ)_/¯"),
                    "tableflip" => ("", "(╯°□°）╯︵ ┻━┻"),
                    "unflip" => ("", "┬─┬ ノ( ゜-゜ノ)"),
                    other => {
                        return Err(Error::internal(format!(
                            "slash command {other} has no implementation"
                        )));
                    }
                };
                let text = [before, params.trim(), after]
                    .into_iter()
                    .filter(|part| !part.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ");
                self.post(&place, text).await
            }
        }
    }

    /// Checks what `commands.preview` is asked about; no built-in command offers previews,
    /// so a valid request has none.
    pub async fn check_preview(
        &self,
        session: &Session,
        command: &str,
        room_id: &str,
        thread_id: Option<String>,
    ) -> Result<&'static SlashCommand> {
        self.prepare(session, command, room_id, thread_id).await?;
        self.find(command).ok_or_else(unknown_command)
    }

    async fn prepare<'s>(
        &self,
        session: &'s Session,
        command: &str,
        room_id: &str,
        thread_id: Option<String>,
    ) -> Result<Place<'s>> {
        if self.find(command).is_none() {
            return Err(unknown_command());
        }
        let rooms = self.ctx.rooms();
        let room = match rooms
            .find_room_unchecked(&crate::rooms::RoomRef::Id(room_id.to_owned()))
            .await?
        {
            Some(room) => rooms.room_access(session, room).await?,
            None => None,
        };
        let Some(room) = room else {
            return Err(Error::forbidden());
        };
        if let Some(tmid) = &thread_id {
            let thread = self
                .ctx
                .store
                .message_by_id(tmid)
                .await
                .map_err(store_error)?;
            if !thread.is_some_and(|t| t.room_id == room.id && t.deleted_at.is_none()) {
                return Err(Error::failure("Invalid thread."));
            }
        }
        Ok(Place {
            session,
            room,
            thread_id,
        })
    }

    /// An ephemeral message to the caller, in the room (and thread) the command ran in.
    fn tell(&self, place: &Place<'_>, text: impl Into<String>) {
        self.ctx.publish(comet_events::Event::Ephemeral {
            user_id: place.session.user.id.clone(),
            room_id: place.room.id.clone(),
            thread_id: place.thread_id.clone(),
            notice: comet_events::Notice::Text(text.into()),
        });
    }

    /// Posts a message as the caller where the command ran.
    async fn post(&self, place: &Place<'_>, text: String) -> Result<()> {
        let message = NewMessage {
            text,
            thread_id: place.thread_id.clone(),
            ..NewMessage::default()
        };
        self.ctx
            .messages()
            .send_message(place.session, &place.room, message)
            .await
            .map(|_| ())
    }

    async fn room_named(&self, name: &str) -> Result<Option<Room>> {
        self.ctx
            .store
            .room_by_name(strip_sigil(name, '#'))
            .await
            .map_err(store_error)
    }

    async fn user_named(&self, name: &str) -> Result<Option<User>> {
        self.ctx
            .store
            .user_by_username(strip_sigil(name, '@'))
            .await
            .map_err(store_error)
    }

    async fn is_member(&self, room_id: &str, user_id: &str) -> Result<bool> {
        Ok(self
            .ctx
            .store
            .subscription(room_id, user_id)
            .await
            .map_err(store_error)?
            .is_some())
    }

    /// `/archive [#channel]`, `/unarchive [#channel]`: the current room without a name.
    async fn archive(&self, place: &Place<'_>, params: &str, archive: bool) -> Result<()> {
        let session = place.session;
        let rooms = self.ctx.rooms();
        let name = params.trim();
        let target = if name.is_empty() {
            Some(place.room.clone())
        } else {
            match self.room_named(name).await? {
                Some(room) => self.reachable(session, room, archive).await?,
                None => None,
            }
        };
        let Some(target) = target else {
            let name = strip_sigil(name, '#');
            self.tell(place, format!("The channel `#{name}` does not exist."));
            return Ok(());
        };
        let shown = target.name.clone().unwrap_or_default();
        if target.room_type == RoomType::Direct {
            return Err(if archive {
                Error::meteor(
                    "error-room-type-not-archivable",
                    "Room type: d can not be archived",
                )
            } else {
                Error::meteor(
                    "error-room-type-not-unarchivable",
                    "Room type: d can not be unarchived",
                )
            });
        }
        let permission = if archive {
            "archive-room"
        } else {
            "unarchive-room"
        };
        if !rooms
            .has_room_permission(&session.user, permission, &target.id)
            .await?
        {
            return Err(Error::meteor("error-not-authorized", "Not authorized"));
        }
        if target.archived == archive {
            self.tell(
                place,
                if archive {
                    format!("An archived Channel with name `#{shown}` exists")
                } else {
                    format!("Channel with name `#{shown}` is already in Unarchived state")
                },
            );
            return Ok(());
        }
        rooms.set_archived(session, &target, archive).await?;
        self.tell(
            place,
            if archive {
                format!("Channel with name `#{shown}` has been archived successfully")
            } else {
                format!("Channel with name `#{shown}` has been Unarchived successfully")
            },
        );
        Ok(())
    }

    /// A room named in a command: one the caller may read, or one the permission to archive
    /// or unarchive it covers (an administrator need not be a member).
    async fn reachable(
        &self,
        session: &Session,
        room: Room,
        archive: bool,
    ) -> Result<Option<RoomAccess>> {
        let rooms = self.ctx.rooms();
        let permission = if archive {
            "archive-room"
        } else {
            "unarchive-room"
        };
        if rooms
            .has_room_permission(&session.user, permission, &room.id)
            .await?
        {
            return Ok(Some(RoomAccess::granted(room)));
        }
        rooms.room_access(session, room).await
    }

    /// `/create #name [--private]`.
    async fn create(&self, place: &Place<'_>, params: &str) -> Result<()> {
        let private = params.split_whitespace().any(|word| word == "--private");
        let Some(name) = params
            .split_whitespace()
            .find(|word| !word.starts_with("--"))
            .map(|word| strip_sigil(word, '#'))
            .filter(|name| !name.is_empty())
        else {
            return Ok(());
        };
        if self.room_named(name).await?.is_some() {
            self.tell(place, format!("The channel `#{name}` already exists."));
            return Ok(());
        }
        let room_type = if private {
            RoomType::Private
        } else {
            RoomType::Channel
        };
        let new_room = NewRoom {
            name: name.to_owned(),
            ..NewRoom::default()
        };
        self.ctx
            .rooms()
            .create_room(place.session, room_type, new_room)
            .await
            .map(|_| ())
    }

    /// `/hide [#room | @user]`: closes the room in the caller's sidebar.
    async fn hide(&self, place: &Place<'_>, params: &str) -> Result<()> {
        let session = place.session;
        let raw = params.trim();
        let room_id = if raw.is_empty() {
            place.room.id.clone()
        } else {
            let name = raw.split_whitespace().next().unwrap_or_default();
            let room_id = if let Some(channel) = name.strip_prefix('#') {
                self.room_named(channel).await?.map(|room| room.id)
            } else {
                match self.user_named(name).await? {
                    Some(user) => Some(direct_room_id(&[&session.user.id, &user.id])),
                    None => None,
                }
            };
            let Some(room_id) = room_id else {
                self.tell(place, format!("The channel `{raw}` does not exist."));
                return Ok(());
            };
            if !self.is_member(&room_id, &session.user.id).await? {
                self.tell(place, format!("You are not in the room `{raw}`"));
                return Ok(());
            }
            room_id
        };
        if let Err(error) = self.ctx.rooms().set_open(session, &room_id, false).await {
            self.tell(place, error.reason.to_string());
        }
        Ok(())
    }

    /// `/invite @user [@user ...]`: adds users to the current room.
    async fn invite(&self, place: &Place<'_>, params: &str) -> Result<()> {
        let names: Vec<&str> = params
            .split(|c: char| c.is_whitespace() || c == ',')
            .map(|name| strip_sigil(name, '@'))
            .filter(|name| !name.is_empty())
            .collect();
        if names.is_empty() {
            return Ok(());
        }
        if place.room.room_type == RoomType::Direct {
            self.tell(place, "Cannot invite users to direct rooms");
            return Ok(());
        }
        let mut found: Vec<User> = Vec::with_capacity(names.len());
        for name in &names {
            if let Some(user) = self.user_named(name).await?
                && !found.iter().any(|u| u.id == user.id)
            {
                found.push(user);
            }
        }
        if found.is_empty() {
            self.tell(
                place,
                format!("No user exists by the name of `@{}`.", names.join(" @")),
            );
            return Ok(());
        }
        let mut invited = Vec::with_capacity(found.len());
        for user in found {
            if self.is_member(&place.room.id, &user.id).await? {
                self.tell(place, format!("`@{}` is already in here.", user.username));
            } else {
                invited.push(user);
            }
        }
        if invited.is_empty() {
            return Ok(());
        }
        if let Err(error) = self
            .ctx
            .rooms()
            .invite_to_room(place.session, &place.room, &invited)
            .await
        {
            self.tell(place, error.reason.to_string());
        }
        Ok(())
    }

    /// `/invite-all-to #room` (the current room's members into #room, created when missing)
    /// and `/invite-all-from #room` (#room's members into the current room).
    async fn invite_all(&self, place: &Place<'_>, params: &str, from: bool) -> Result<()> {
        let session = place.session;
        let rooms = self.ctx.rooms();
        let name = strip_sigil(params.trim(), '#');
        if name.is_empty() {
            return Ok(());
        }
        let named = match self.room_named(name).await? {
            Some(room) => Some(rooms.room_access(session, room.clone()).await?.ok_or(room)),
            None => None,
        };
        let (base, target) = if from {
            (named, Some(Ok(place.room.clone())))
        } else {
            (Some(Ok(place.room.clone())), named)
        };
        let base = match base {
            None => {
                self.tell(place, format!("The channel `#{name}` does not exist."));
                return Ok(());
            }
            Some(Err(_)) => {
                self.tell(
                    place,
                    "The room does not exist or you may not have access permission",
                );
                return Ok(());
            }
            Some(Ok(base)) => base,
        };
        let limit = self.ctx.setting_int("API_User_Limit");
        if limit <= 0 {
            return Ok(());
        }
        let (members, total) = rooms.room_members(&base, 0, None).await?;
        if i64::try_from(total).unwrap_or(i64::MAX) > limit {
            self.tell(
                place,
                "The number of users you are trying to invite to #channel_name exceeds the limit set by the administrator",
            );
            return Ok(());
        }
        let users: Vec<User> = members.into_iter().filter_map(|(_, user)| user).collect();
        let outcome = match target {
            Some(Ok(target)) => rooms.invite_to_room(session, &target, &users).await,
            Some(Err(_)) => Err(Error::meteor("error-not-allowed", "Not allowed")),
            None => {
                let room_type = match base.room_type {
                    RoomType::Direct => {
                        self.tell(place, "Cannot invite users to direct rooms");
                        return Ok(());
                    }
                    other => other,
                };
                let new_room = NewRoom {
                    name: name.to_owned(),
                    members: users
                        .iter()
                        .filter(|u| u.id != session.user.id)
                        .map(|u| u.username.clone())
                        .collect(),
                    ..NewRoom::default()
                };
                match rooms.create_room(session, room_type, new_room).await {
                    Ok(_) => {
                        self.tell(place, format!("Channel `#{name}` created."));
                        Ok(())
                    }
                    Err(error) => Err(error),
                }
            }
        };
        match outcome {
            Ok(()) => self.tell(place, "The users have been added"),
            Err(error) if error.code.as_deref() == Some("error-cant-invite-for-direct-room") => {
                self.tell(place, "Cannot invite users to direct rooms");
            }
            Err(error) => self.tell(place, error.reason.to_string()),
        }
        Ok(())
    }

    /// `/join #channel`.
    async fn join(&self, place: &Place<'_>, params: &str) -> Result<()> {
        let session = place.session;
        let name = strip_sigil(params.trim(), '#');
        if name.is_empty() {
            return Ok(());
        }
        let Some(room) = self
            .room_named(name)
            .await?
            .filter(|room| room.room_type == RoomType::Channel)
        else {
            self.tell(place, format!("The channel `#{name}` does not exist."));
            return Ok(());
        };
        if self.is_member(&room.id, &session.user.id).await? {
            return Err(Error::meteor(
                "error-user-already-in-room",
                "You are already in the channel",
            )
            .with_details(serde_json::json!({"method": "slashCommands"})));
        }
        self.ctx.rooms().join_room(session, &room, None).await
    }

    /// `/kick @user`.
    async fn kick(&self, place: &Place<'_>, params: &str) -> Result<()> {
        let name = strip_sigil(params.trim(), '@');
        if name.is_empty() {
            return Ok(());
        }
        let Some(user) = self.user_named(name).await? else {
            self.tell(place, format!("The username `{name}` doesn't exist."));
            return Ok(());
        };
        self.ctx
            .rooms()
            .kick_from_room(place.session, &place.room, &user)
            .await
    }

    /// `/ban @user`, `/unban @user`.
    async fn ban(&self, place: &Place<'_>, params: &str, banned: bool) -> Result<()> {
        let name = strip_sigil(params.trim(), '@');
        if name.is_empty() {
            return Ok(());
        }
        let Some(user) = self.user_named(name).await? else {
            self.tell(place, format!("The username `{name}` doesn't exist."));
            return Ok(());
        };
        let rooms = self.ctx.rooms();
        if banned {
            rooms.ban_user(place.session, &place.room.id, &user).await
        } else {
            rooms.unban_user(place.session, &place.room.id, &user).await
        }
    }

    /// `/msg @user message`: a direct message, sent without leaving the current room.
    async fn direct_message(&self, place: &Place<'_>, params: &str) -> Result<()> {
        let session = place.session;
        let params = params.trim_start();
        let (name, text) = params
            .split_once(char::is_whitespace)
            .unwrap_or((params, ""));
        let text = text.trim();
        if name.is_empty() || text.is_empty() {
            self.tell(place, "Username and message must not be empty.");
            return Ok(());
        }
        let Some(user) = self.user_named(name).await? else {
            self.tell(place, format!("The username `{name}` doesn't exist."));
            return Ok(());
        };
        let rooms = self.ctx.rooms();
        let room = rooms
            .create_direct(session, std::slice::from_ref(&user.username), false)
            .await?;
        let Some(room) = rooms.room_access(session, room).await? else {
            return Err(Error::internal(
                "a new direct room is not readable by its creator",
            ));
        };
        let message = NewMessage {
            text: text.to_owned(),
            ..NewMessage::default()
        };
        self.ctx
            .messages()
            .send_message(session, &room, message)
            .await
            .map(|_| ())
    }

    /// `/mute @user`, `/unmute @user`.
    async fn mute(&self, place: &Place<'_>, params: &str, muted: bool) -> Result<()> {
        let name = strip_sigil(params.trim(), '@');
        if name.is_empty() {
            return Ok(());
        }
        let Some(user) = self.user_named(name).await? else {
            self.tell(place, format!("The username `{name}` doesn't exist."));
            return Ok(());
        };
        self.ctx
            .rooms()
            .set_muted(place.session, &place.room.id, &user.username, muted)
            .await
    }

    /// `/status message`: the caller's status message.
    async fn status(&self, place: &Place<'_>, params: &str) -> Result<()> {
        let outcome = self
            .ctx
            .accounts()
            .set_status(place.session, None, None, Some(params.trim()))
            .await;
        match &outcome {
            Ok(()) => self.tell(place, "Status message changed successfully."),
            Err(error) if error.code.as_deref() == Some("error-not-allowed") => self.tell(
                place,
                "Your Rocket.Chat administrator has disabled the changing of status messages",
            ),
            Err(_) => {}
        }
        outcome
    }
}

fn unknown_command() -> Error {
    Error::failure("The command provided does not exist (or is disabled).")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_names_are_unique_and_lowercase() {
        let mut names: Vec<&str> = BUILT_IN.iter().map(|c| c.command).collect();
        assert!(names.iter().all(|n| n.to_lowercase() == *n));
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), BUILT_IN.len());
    }

    #[test]
    fn sigils_are_stripped_once() {
        assert_eq!(strip_sigil("#general", '#'), "general");
        assert_eq!(strip_sigil("##general", '#'), "#general");
        assert_eq!(strip_sigil("general", '#'), "general");
    }
}
