//! Listings as the REST API exposes them: pagination and sorting (`count`, `offset`, `sort`)
//! and what each listing filters on. The service and the stores share this vocabulary; the
//! edges fill it in from request parameters.

use crate::Timestamp;
use crate::room::RoomType;

/// Sort direction of one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ascending,
    Descending,
}

/// Fields users can be sorted by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserSortKey {
    Username,
    Name,
    CreatedAt,
    UpdatedAt,
    Status,
    Active,
    LastLogin,
    Type,
    Email,
}

impl UserSortKey {
    /// Maps Rocket.Chat's field name (as used in `sort={"username":1}`) to a key.
    pub fn parse(field: &str) -> Option<Self> {
        Some(match field {
            "username" => UserSortKey::Username,
            "name" => UserSortKey::Name,
            "createdAt" => UserSortKey::CreatedAt,
            "_updatedAt" => UserSortKey::UpdatedAt,
            "status" => UserSortKey::Status,
            "active" => UserSortKey::Active,
            "lastLogin" => UserSortKey::LastLogin,
            "type" => UserSortKey::Type,
            "emails" | "emails.address" => UserSortKey::Email,
            _ => return None,
        })
    }
}

/// One page of a listing: skip `offset`, take `count` (`None` = all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<K> {
    pub offset: u64,
    pub count: Option<u64>,
    pub sort: Vec<(K, Direction)>,
}

impl<K> Page<K> {
    pub fn all() -> Self {
        Page {
            offset: 0,
            count: None,
            sort: Vec::new(),
        }
    }
}

/// Which users a listing returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserFilter {
    /// Only users holding this global role.
    pub role: Option<String>,
    /// Only active (`Some(true)`) or deactivated (`Some(false)`) users.
    pub active: Option<bool>,
    /// Case-insensitive substring of username, name or email.
    pub search: Option<String>,
    /// `search` looks at usernames and names only, not at addresses (for callers who may not
    /// see other users' addresses, so that a search cannot probe for one).
    pub search_names_only: bool,
    /// Only users holding any of these global roles (empty: no such condition).
    pub any_role: Vec<String>,
    /// Only users who have (`Some(true)`) or have never (`Some(false)`) logged in.
    pub has_logged_in: Option<bool>,
    /// Only users of this type (`user`, `bot`, `app`).
    pub user_type: Option<String>,
    /// Only users whose presence is not offline.
    pub not_offline: bool,
    /// Only users changed at or after this time.
    pub updated_since: Option<Timestamp>,
    /// Only users with one of these ids (`None`: any).
    pub ids: Option<Vec<String>>,
    /// Leaves out users with these ids.
    pub exclude_ids: Vec<String>,
    /// Leaves out users with these usernames (compared without regard to case).
    pub exclude_usernames: Vec<String>,
    /// Only users other than this one who are members of a room this one is a member of;
    /// with a room type, only of rooms of that type.
    pub shares_room_with: Option<(String, Option<RoomType>)>,
}

/// Which members of a room `rooms.membersOrderedByRole` lists, and how it orders them: by
/// room role (owner, leader, moderator, then everyone else), then presence (online, busy,
/// away, offline), then username or name. Only active users are members in such listings.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberFilter {
    /// Only members with one of these presences (`online`, `away`, ...); empty: any.
    pub statuses: Vec<String>,
    /// Case-insensitive substring of the username or name.
    pub search: Option<String>,
    /// Direction of the room-role order (ascending: owners first).
    pub role_order: Direction,
    /// Order by name rather than username (`UI_Use_Real_Name`).
    pub by_name: bool,
    pub name_order: Direction,
}

impl Default for MemberFilter {
    fn default() -> Self {
        MemberFilter {
            statuses: Vec::new(),
            search: None,
            role_order: Direction::Ascending,
            by_name: false,
            name_order: Direction::Ascending,
        }
    }
}

/// Which rooms a listing returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RoomFilter {
    /// Only these types (empty: all).
    pub types: Vec<RoomType>,
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Case-insensitive text found in the name or the display name (`fname`), as upstream's
    /// room searches match either.
    pub name_or_fname: Option<String>,
    /// `name_or_fname` must begin the name or the display name, not just occur in it.
    pub name_or_fname_prefix: bool,
    /// Only default rooms.
    pub default_only: bool,
    /// Only rooms this user is subscribed to.
    pub member: Option<String>,
    /// Only discussions of this room.
    pub parent_id: Option<String>,
    /// Only rooms of this team.
    pub team_id: Option<String>,
    /// Only rooms the team's members join with it (`teamDefault`).
    pub team_default_only: bool,
    /// Only teams' main rooms (`teamMain`).
    pub team_main_only: bool,
    /// Leave out teams' main rooms (upstream's team room listings, `teamMain: {$exists: false}`).
    pub without_team_main: bool,
    /// Only a team's rooms, its main room among them, and the discussions of its main room
    /// (upstream's `findChildrenOfTeam`): the team's id and its main room's id.
    pub team_children: Option<(String, String)>,
    /// Only public channels and the rooms this user is subscribed to.
    pub visible_to: Option<String>,
}

/// Sort keys for rooms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoomSortKey {
    Name,
    CreatedAt,
    UpdatedAt,
    LastMessageAt,
    MessageCount,
    UsersCount,
}

/// Which messages of a room a history request returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MessageFilter {
    /// Only messages at or before (`inclusive`) / strictly before this time.
    pub latest: Option<Timestamp>,
    /// Only messages at or after (`inclusive`) / strictly after this time.
    pub oldest: Option<Timestamp>,
    pub inclusive: bool,
    /// Leave out thread replies not also shown in the room.
    pub hide_thread_replies: bool,
    /// Only replies of this thread.
    pub thread_id: Option<String>,
    /// Only pinned messages.
    pub pinned_only: bool,
    /// Only messages starred by any of these users (none: no such condition).
    pub starred_by: Vec<String>,
    /// Only messages mentioning any of these users (none: no such condition).
    pub mentioning: Vec<String>,
    /// Only messages changed after this time (sync).
    pub updated_after: Option<Timestamp>,
    /// Only messages changed before this time (sync's `previous` cursor).
    pub updated_before: Option<Timestamp>,
    /// Leave out system messages.
    pub hide_system: bool,
    /// Leave out the "message removed" placeholders deletions leave while
    /// `Message_ShowDeletedStatus` is on.
    pub hide_removed: bool,
    /// Only messages by this author (user id).
    pub author_id: Option<String>,
    /// Only thread roots (messages with replies).
    pub thread_roots: bool,
    /// Only thread roots this user follows.
    pub thread_participant: Option<String>,
    /// Only messages that started a discussion.
    pub discussions: bool,
    /// Only messages whose text contains this (case-insensitive, no ranking).
    pub text_contains: Option<String>,
    /// Only messages carrying files (`files`).
    pub with_files: bool,
}

/// Sort keys for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageSortKey {
    CreatedAt,
    UpdatedAt,
    /// Last reply of a thread.
    ThreadLastAt,
    /// The author's username (`u.username`), bytewise.
    AuthorUsername,
}

/// Which files of a room a listing returns (`channels.files` and friends).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UploadFilter {
    /// Case-insensitive substring of the name.
    pub name: Option<String>,
    /// Only this type group (`image`, `video`, `application`, ...).
    pub type_group: Option<String>,
    /// Only completed (confirmed) uploads.
    pub only_complete: bool,
    /// Also thumbnails (upstream's listings leave them out: `findPaginatedWithoutThumbs`).
    pub include_thumbs: bool,
    /// Only uploads made at or before this time (`rooms.images`' `startingFromId`).
    pub uploaded_up_to: Option<Timestamp>,
}
