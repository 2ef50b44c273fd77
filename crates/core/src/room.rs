//! Rooms, subscriptions and messages.

use crate::Timestamp;
use serde_json::Value;
use std::collections::BTreeMap;

/// The kind of a room (`IRoom.t`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum RoomType {
    /// A public channel (`c`).
    Channel,
    /// A private group (`p`).
    Private,
    /// A direct conversation between two or more users (`d`).
    Direct,
}

impl RoomType {
    pub fn as_str(self) -> &'static str {
        match self {
            RoomType::Channel => "c",
            RoomType::Private => "p",
            RoomType::Direct => "d",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "c" => Some(RoomType::Channel),
            "p" => Some(RoomType::Private),
            "d" => Some(RoomType::Direct),
            _ => None,
        }
    }
}

/// A user as rooms and messages refer to one (`{_id, username, name}`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UserStub {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
}

impl From<&crate::user::User> for UserStub {
    fn from(user: &crate::user::User) -> Self {
        UserStub {
            id: user.id.clone(),
            username: user.username.clone(),
            name: Some(user.name.clone()),
        }
    }
}

/// A room: channel, private group or direct conversation.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Room {
    pub id: String,
    pub room_type: RoomType,
    /// The room's slug; direct rooms have none.
    pub name: Option<String>,
    /// The display name.
    pub fname: Option<String>,
    pub creator: Option<UserStub>,
    pub topic: Option<String>,
    pub description: Option<String>,
    pub announcement: Option<String>,
    pub read_only: bool,
    pub react_when_read_only: bool,
    pub archived: bool,
    /// New users join default rooms.
    pub default: bool,
    pub featured: bool,
    pub encrypted: bool,
    pub broadcast: bool,
    /// Hidden; only `joinCodeRequired` is ever shown.
    pub join_code: Option<String>,
    /// Usernames muted in this room.
    pub muted: Vec<String>,
    /// Usernames a moderator unmuted in a read-only room: they may post there (`unmuted`).
    #[serde(default)]
    pub unmuted: Vec<String>,
    /// The room's favorite default (`favorite`), set by `saveRoomSettings` on a default room.
    #[serde(default)]
    pub favorite: bool,
    /// Participants of a direct room (ids and usernames, in the same order).
    pub user_ids: Vec<String>,
    pub usernames: Vec<String>,
    pub message_count: i64,
    pub users_count: i64,
    pub last_message_at: Option<Timestamp>,
    pub last_message_id: Option<String>,
    /// System message types this room hides.
    pub hidden_system_messages: Vec<String>,
    /// For a discussion: the room it was started from (`prid`).
    pub parent_id: Option<String>,
    pub custom_fields: Value,
    /// The team this room belongs to (`teamId`).
    #[serde(default)]
    pub team_id: Option<String>,
    /// This room is its team's main room (`teamMain`).
    #[serde(default)]
    pub team_main: bool,
    /// The team's members join this room when they join the team (`teamDefault`).
    #[serde(default)]
    pub team_default: bool,
    /// What a team main room's side panel shows (`sidepanel.items`: `channels`,
    /// `discussions`); empty: no side panel.
    #[serde(default)]
    pub sidepanel: Vec<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// One user's membership of one room: the sidebar entry.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Subscription {
    pub id: String,
    pub room_id: String,
    pub room_type: RoomType,
    pub user: UserStub,
    /// The room slug, or for direct rooms the other participants' usernames.
    pub name: String,
    pub fname: Option<String>,
    /// Room roles: `owner`, `moderator`, `leader`.
    pub roles: Vec<String>,
    /// Shown in the sidebar.
    pub open: bool,
    /// Bold in the sidebar: something new since last read.
    pub alert: bool,
    pub unread: i64,
    pub user_mentions: i64,
    pub group_mentions: i64,
    pub favorite: bool,
    pub archived: bool,
    pub joined_at: Timestamp,
    /// Last seen (read) time.
    pub last_seen: Timestamp,
    /// Last time the user wrote in the room.
    pub last_reply: Option<Timestamp>,
    /// Threads with unread replies (`tunread`).
    pub thread_unread: Vec<String>,
    /// Of those, threads with an unread reply mentioning this user (`tunreadUser`).
    #[serde(default)]
    pub thread_unread_user: Vec<String>,
    /// Of those, threads with an unread `@all`/`@here` reply (`tunreadGroup`).
    #[serde(default)]
    pub thread_unread_group: Vec<String>,
    /// Users whose messages this user ignores in this room.
    pub ignored: Vec<String>,
    /// Notification preferences saved for this room (`rooms.saveNotification`), by
    /// upstream's subscription field names (`desktopNotifications`, `disableNotifications`,
    /// ...), each shown on the subscription as is.
    #[serde(default)]
    pub notifications: serde_json::Map<String, Value>,
    /// Whether messages arrive translated (`autoTranslate`); `None` until the member (or
    /// `AutoTranslate_AutoEnableOnJoinRoom`) sets it, shown then as an absent field.
    #[serde(default)]
    pub auto_translate: Option<bool>,
    /// The language messages are translated into (`autoTranslateLanguage`).
    #[serde(default)]
    pub auto_translate_language: Option<String>,
    pub updated_at: Timestamp,
}

/// A mention of a user (or of `all`/`here`) in a message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mention {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
}

/// A message, or a system message when `kind` is set.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Message {
    pub id: String,
    pub room_id: String,
    pub text: String,
    pub author: UserStub,
    /// System message type (`t`), e.g. `uj` for a join.
    pub kind: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub mentions: Vec<Mention>,
    /// `#channel` mentions: `(room id, name)`.
    pub channels: Vec<(String, String)>,
    /// Emoji (with colons) → usernames who reacted.
    pub reactions: BTreeMap<String, Vec<String>>,
    pub thread_id: Option<String>,
    pub thread_show: bool,
    /// On a thread's first message: replies, last reply, participants.
    pub thread_count: i64,
    pub thread_last_at: Option<Timestamp>,
    pub thread_participants: Vec<String>,
    pub pinned: bool,
    pub pinned_at: Option<Timestamp>,
    pub pinned_by: Option<UserStub>,
    /// Ids of users who starred the message.
    pub starred_by: Vec<String>,
    pub edited_at: Option<Timestamp>,
    pub edited_by: Option<UserStub>,
    pub attachments: Option<Value>,
    /// Uploaded files the message carries (`files`: `{_id, name, type, size, format, typeGroup}`);
    /// the first is also sent as the deprecated `file`.
    pub files: Option<Value>,
    pub alias: Option<String>,
    pub emoji: Option<String>,
    pub avatar: Option<String>,
    pub groupable: Option<bool>,
    pub custom_fields: Option<Value>,
    /// For `subscription-role-added`/`-removed`: the role.
    pub role: Option<String>,
    /// A discussion started from this message: its room (`drid`), size and last activity.
    pub discussion_id: Option<String>,
    pub discussion_count: i64,
    pub discussion_last_at: Option<Timestamp>,
    /// Deleted messages stay as tombstones for sync (`chat.getDeletedMessages`).
    pub deleted_at: Option<Timestamp>,
    /// With read receipts on: not yet seen by every member.
    pub unread: bool,
    /// The URLs in the text, with their previews once fetched (`urls`).
    #[serde(default)]
    pub urls: Vec<crate::links::MessageUrl>,
    /// The text as a markup tree (`md`, see [`crate::markup`]), computed when the message is
    /// saved; absent for system messages and texts upstream does not parse.
    #[serde(default)]
    pub md: Option<Value>,
    /// The text translated, by language (`translations`), as automatic translation stores
    /// them; cleared by an edit.
    #[serde(default)]
    pub translations: BTreeMap<String, String>,
    /// Which engine or service made `translations` (`translationProvider`).
    #[serde(default)]
    pub translation_provider: Option<String>,
    /// UI-kit blocks the message shows instead of its text (`blocks`), e.g. a call's
    /// `video_conf` block.
    #[serde(default)]
    pub blocks: Option<Value>,
}

impl Message {
    /// A new message with only the essentials set.
    pub fn new(id: String, room_id: &str, author: UserStub, text: &str, at: Timestamp) -> Self {
        Message {
            id,
            room_id: room_id.to_owned(),
            text: text.to_owned(),
            author,
            kind: None,
            created_at: at,
            updated_at: at,
            mentions: Vec::new(),
            channels: Vec::new(),
            reactions: BTreeMap::new(),
            thread_id: None,
            thread_show: false,
            thread_count: 0,
            thread_last_at: None,
            thread_participants: Vec::new(),
            pinned: false,
            pinned_at: None,
            pinned_by: None,
            starred_by: Vec::new(),
            edited_at: None,
            edited_by: None,
            attachments: None,
            files: None,
            alias: None,
            emoji: None,
            avatar: None,
            groupable: None,
            custom_fields: None,
            role: None,
            discussion_id: None,
            discussion_count: 0,
            discussion_last_at: None,
            deleted_at: None,
            unread: false,
            urls: Vec::new(),
            md: None,
            translations: BTreeMap::new(),
            translation_provider: None,
            blocks: None,
        }
    }
}

/// What a client sends to post a message.
#[derive(Debug, Clone, Default)]
pub struct NewMessage {
    /// A client-chosen id (`chat.sendMessage` allows one).
    pub id: Option<String>,
    pub text: String,
    pub alias: Option<String>,
    pub emoji: Option<String>,
    pub avatar: Option<String>,
    pub attachments: Option<Value>,
    /// Uploaded files (set only by the upload operations).
    pub files: Option<Value>,
    pub thread_id: Option<String>,
    pub thread_show: bool,
    pub groupable: Option<bool>,
    pub custom_fields: Option<Value>,
    /// `parseUrls`: `Some(false)` keeps the text's URLs out of `urls` (no previews).
    pub parse_urls: Option<bool>,
    /// `previewUrls`: the URLs the client chose to preview; the others are `ignoreParse`.
    pub preview_urls: Option<Vec<String>>,
}
