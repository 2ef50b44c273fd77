//! Comet's storage interface: narrow traits per aggregate, implemented by each backend.
//!
//! Every method is atomic on its own (a backend runs it in one transaction), and no method
//! exposes a backend type. The service layer is the only caller.

use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::page::{Page, UserSortKey};
// Listing vocabulary shared with the service and the edges lives in `comet_core::page`.
pub use comet_core::page::{
    MemberFilter, MessageFilter, MessageSortKey, RoomFilter, RoomSortKey, UploadFilter, UserFilter,
};
use comet_core::role::{Permission, Role};
use comet_core::room::{Message, Room, Subscription, UserStub};
use comet_core::setting::Setting;
use comet_core::user::{LoginToken, User};
use serde_json::Value;

/// Which unique constraint a write ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conflict {
    Id,
    Username,
    Email,
    TokenName,
    RoleName,
    RoomName,
}

/// A storage failure.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated: {0:?}")]
    Conflict(Conflict),
    #[error("storage backend failed: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

#[cfg(feature = "conformance")]
pub mod conformance;
pub mod encoding;
mod message_change;
pub use message_change::{AttachmentTranslations, MessageChange, MessageChanged};
pub mod transfer;

pub use transfer::{ExportPage, Record, RecordKind, TransferStore};

#[async_trait]
pub trait UserStore: Send + Sync {
    /// Inserts a new user; usernames and emails are unique without regard to case.
    async fn insert_user(&self, user: &User) -> StoreResult<()>;
    async fn user_by_id(&self, id: &str) -> StoreResult<Option<User>>;
    /// The users with these ids that exist, in no particular order.
    async fn users_by_ids(&self, ids: &[String]) -> StoreResult<Vec<User>>;
    /// Looks a username up without regard to case.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;
    /// Looks an email address up without regard to case.
    async fn user_by_email(&self, email: &str) -> StoreResult<Option<User>>;
    /// Replaces every field of an existing user (roles included); false if it does not exist.
    async fn update_user(&self, user: &User) -> StoreResult<bool>;
    /// Deletes a user and everything that belongs only to it (tokens, roles).
    async fn delete_user(&self, id: &str) -> StoreResult<bool>;
    /// One page of users matching `filter`, and the total that match.
    async fn list_users(
        &self,
        filter: &UserFilter,
        page: &Page<UserSortKey>,
    ) -> StoreResult<(Vec<User>, u64)>;
    /// How many active users hold a global role.
    async fn count_active_users_with_role(&self, role: &str) -> StoreResult<u64>;
    /// How many users, active or not, hold a global role.
    async fn count_users_with_role(&self, role: &str) -> StoreResult<u64>;
    /// How many users exist.
    async fn count_users(&self) -> StoreResult<u64>;
    /// How many users are not offline (bots included, as upstream counts them).
    async fn count_users_not_offline(&self) -> StoreResult<u64>;
    /// Marks every user without a live connection: used at start, when no connection is live.
    async fn reset_connection_presence(&self) -> StoreResult<()>;
    /// Deactivates, as of `at`, the active users holding `role` who last logged in at or
    /// before `cutoff`, or who never logged in and were created at or before it; returns how
    /// many it deactivated.
    async fn deactivate_idle_users(
        &self,
        role: &str,
        cutoff: Timestamp,
        at: Timestamp,
    ) -> StoreResult<u64>;
}

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Stores a token; a personal access token name is unique per user.
    async fn insert_token(&self, token: &LoginToken) -> StoreResult<()>;
    /// The user and token for a hashed token, if both exist.
    async fn user_by_token(&self, hashed_token: &str) -> StoreResult<Option<(User, LoginToken)>>;
    /// Records that a second factor was given on this token, valid until `until` for `client`.
    async fn remember_two_factor(
        &self,
        hashed_token: &str,
        until: Timestamp,
        client: &str,
    ) -> StoreResult<bool>;
    async fn delete_token(&self, user_id: &str, hashed_token: &str) -> StoreResult<bool>;
    /// Deletes the user's login tokens (personal access tokens stay), except `keep` if given.
    async fn delete_login_tokens(&self, user_id: &str, keep: Option<&str>) -> StoreResult<u64>;
    async fn personal_access_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>>;
    /// Every token of a user (logins and personal access tokens), oldest first.
    async fn login_tokens(&self, user_id: &str) -> StoreResult<Vec<LoginToken>>;
    async fn delete_personal_access_token(&self, user_id: &str, name: &str) -> StoreResult<bool>;
    /// Swaps the personal access token named like `token` for `token`, in one transaction;
    /// false (and nothing written) if the user has no token of that name.
    async fn replace_personal_access_token(&self, token: &LoginToken) -> StoreResult<bool>;
    /// Keeps only the newest `keep` login tokens of a user (personal access tokens stay).
    async fn prune_login_tokens(&self, user_id: &str, keep: u32) -> StoreResult<u64>;
    /// Deletes login tokens created before `cutoff` (expired sessions).
    async fn delete_login_tokens_before(&self, cutoff: Timestamp) -> StoreResult<u64>;
}

#[async_trait]
pub trait SettingStore: Send + Sync {
    async fn settings(&self) -> StoreResult<Vec<Setting>>;
    /// Inserts a setting unless one with its id exists; returns whether it was inserted.
    async fn insert_setting_if_absent(&self, setting: &Setting) -> StoreResult<bool>;
    /// Sets a value; false if no such setting.
    async fn set_setting_value(&self, id: &str, value: &Value, at: Timestamp) -> StoreResult<bool>;
}

#[async_trait]
pub trait PermissionStore: Send + Sync {
    async fn permissions(&self) -> StoreResult<Vec<Permission>>;
    async fn insert_permission_if_absent(&self, permission: &Permission) -> StoreResult<bool>;
    /// Replaces the roles of a permission; false if no such permission.
    async fn set_permission_roles(
        &self,
        id: &str,
        roles: &[String],
        at: Timestamp,
    ) -> StoreResult<bool>;
}

#[async_trait]
pub trait RoleStore: Send + Sync {
    async fn roles(&self) -> StoreResult<Vec<Role>>;
    /// Inserts a role; names are unique.
    async fn insert_role(&self, role: &Role) -> StoreResult<()>;
    async fn insert_role_if_absent(&self, role: &Role) -> StoreResult<bool>;
    /// Replaces a role's name, scope, description, protection and 2FA flag; false if no
    /// role has its id. Names stay unique.
    async fn update_role(&self, role: &Role) -> StoreResult<bool>;
    /// Removes a role; false if there was none with this id.
    async fn delete_role(&self, id: &str) -> StoreResult<bool>;
}

/// Failed logins, kept so that blocking works across restarts (and, later, across instances).
#[async_trait]
pub trait LoginAttemptStore: Send + Sync {
    async fn record_failed_login(&self, key: &str, at: Timestamp) -> StoreResult<()>;
    /// Failed logins for `key` at or after `since`.
    async fn count_failed_logins(&self, key: &str, since: Timestamp) -> StoreResult<u64>;
    async fn clear_failed_logins(&self, key: &str) -> StoreResult<()>;
}

/// A subscription that no longer exists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedSubscription {
    pub id: String,
    pub room_id: String,
    pub removed_at: Timestamp,
}

/// What posting a message changes besides inserting it, all in the same transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PostEffects {
    /// Count the message in `room.msgs`.
    pub counts_in_room: bool,
    /// Make it the room's last message (`lm`, `lastMessage`).
    pub becomes_last_message: bool,
    /// Raise `unread` for every other member (otherwise only for the mentioned).
    pub unread_for_all: bool,
    /// Users mentioned by name: `unread` and `userMentions` rise.
    pub mentioned_user_ids: Vec<String>,
    /// `@all`/`@here`: `groupMentions` (and `unread`) rise for every other member.
    pub group_mention: bool,
    /// Mark the other members' subscriptions as having something new (`alert`, `open`).
    pub alert_others: bool,
    /// For a reply in a thread: who follows the thread and hears of it.
    pub thread: Option<ThreadReplyEffects>,
}

/// What a reply in a thread changes for the thread's followers (upstream's `reply`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ThreadReplyEffects {
    /// Users who start following the thread besides the author (the root's author when the
    /// thread starts, the users the reply mentions).
    pub new_followers: Vec<String>,
    /// Followers, neither the author nor mentioned: the thread goes into their `tunread`
    /// (and `tunreadGroup` when `group`), and their subscription alerts.
    pub followers: Vec<String>,
    /// The reply mentions `@all` or `@here`.
    pub group: bool,
    /// Users the reply mentions: the thread goes into their `tunread` and `tunreadUser`,
    /// and their subscription alerts.
    pub mentioned: Vec<String>,
}

#[async_trait]
pub trait RoomStore: Send + Sync {
    /// Creates a room with its first subscriptions and optional first message, atomically;
    /// room names are unique without regard to case.
    async fn create_room(
        &self,
        room: &Room,
        subscriptions: &[Subscription],
        first_message: Option<&Message>,
    ) -> StoreResult<()>;
    async fn room_by_id(&self, id: &str) -> StoreResult<Option<Room>>;
    /// Looks a room name up without regard to case.
    async fn room_by_name(&self, name: &str) -> StoreResult<Option<Room>>;
    /// The rooms whose display name (`fname`) is exactly this one.
    async fn rooms_by_display_name(&self, fname: &str) -> StoreResult<Vec<Room>>;
    async fn rooms_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Room>>;
    /// Replaces every field of a room except its counters and last message, and refreshes the
    /// names on its subscriptions; false if it does not exist.
    async fn update_room(&self, room: &Room) -> StoreResult<bool>;
    /// Deletes a room with its subscriptions and messages.
    async fn delete_room(&self, id: &str) -> StoreResult<bool>;
    async fn list_rooms(
        &self,
        filter: &RoomFilter,
        page: &Page<RoomSortKey>,
    ) -> StoreResult<(Vec<Room>, u64)>;
}

/// A change to a member's automatic translation choice in one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AutoTranslateChange {
    /// Turns translation on or off (`autoTranslate`); a member with no language yet gets
    /// `default_language`, when one is given (upstream's `saveAutoTranslateSettings`).
    Switch {
        on: bool,
        default_language: Option<String>,
    },
    /// Sets the language messages are translated into (`autoTranslateLanguage`).
    Language(String),
}

#[async_trait]
pub trait SubscriptionStore: Send + Sync {
    async fn subscription(&self, room_id: &str, user_id: &str)
    -> StoreResult<Option<Subscription>>;
    /// The subscriptions to one room held by these users (those that exist, in no particular
    /// order).
    async fn subscriptions_of_users_in_room(
        &self,
        room_id: &str,
        user_ids: &[String],
    ) -> StoreResult<Vec<Subscription>>;
    /// A user's subscriptions, optionally only those changed after `since`.
    async fn subscriptions_of_user(
        &self,
        user_id: &str,
        since: Option<Timestamp>,
    ) -> StoreResult<Vec<Subscription>>;
    /// A page of a room's subscriptions ordered by username, and the total.
    async fn subscriptions_of_room(
        &self,
        room_id: &str,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<Subscription>, u64)>;
    /// A page of a room's members who are active users, as `filter` selects and orders them
    /// (see [`MemberFilter`]), each with their subscription; and how many there are.
    async fn members_by_role(
        &self,
        room_id: &str,
        filter: &MemberFilter,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<(Subscription, User)>, u64)>;
    /// Adds a member (and counts them), with an optional system message, atomically. False if
    /// already a member.
    async fn add_member(
        &self,
        subscription: &Subscription,
        message: Option<&Message>,
    ) -> StoreResult<bool>;
    /// Removes a member (and uncounts them), with an optional system message, atomically.
    /// False if not a member.
    async fn remove_member(
        &self,
        room_id: &str,
        user_id: &str,
        message: Option<&Message>,
    ) -> StoreResult<bool>;
    /// Subscriptions of a user removed after a time (left, kicked, room deleted).
    async fn removed_subscriptions(
        &self,
        user_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<RemovedSubscription>>;
    /// Rooms deleted after a time: id and time.
    async fn removed_rooms(&self, since: Timestamp) -> StoreResult<Vec<(String, Timestamp)>>;
    /// Replaces a subscription's user-controlled fields (open, favorite, roles, alert, counts).
    async fn update_subscription(&self, subscription: &Subscription) -> StoreResult<bool>;
    /// Saves a member's automatic translation choice in one statement (never through
    /// [`SubscriptionStore::update_subscription`], which leaves these fields alone); the
    /// subscription as it is afterwards, `None` when the user is not a member.
    async fn change_auto_translate(
        &self,
        room_id: &str,
        user_id: &str,
        change: &AutoTranslateChange,
        at: Timestamp,
    ) -> StoreResult<Option<Subscription>>;
    /// A user changed their language (`AutoTranslate_AutoEnableOnJoinRoom`): with
    /// `Some(language)`, every subscription of theirs not explicitly opted out
    /// (`autoTranslate` not false) translates into it; with `None`, those translating stop and
    /// lose their language. Answers the subscriptions changed.
    async fn follow_user_language(
        &self,
        user_id: &str,
        language: Option<&str>,
        at: Timestamp,
    ) -> StoreResult<Vec<Subscription>>;
    /// The distinct languages (sorted) into which members of a room other than
    /// `except_user_id` have messages translated (`autoTranslate` on, a language set).
    async fn auto_translate_languages(
        &self,
        room_id: &str,
        except_user_id: &str,
    ) -> StoreResult<Vec<String>>;
    /// Takes a thread out of a member's unread threads (`tunread`, `tunreadUser`,
    /// `tunreadGroup`), clearing the subscription's alert too when `clear_alert`; the
    /// subscription as it is afterwards, `None` when there is none.
    async fn read_thread(
        &self,
        room_id: &str,
        user_id: &str,
        thread_id: &str,
        clear_alert: bool,
        at: Timestamp,
    ) -> StoreResult<Option<Subscription>>;
}

#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Inserts a message and applies its effects on the room, the thread and subscriptions.
    async fn post_message(&self, message: &Message, effects: &PostEffects) -> StoreResult<()>;
    async fn message_by_id(&self, id: &str) -> StoreResult<Option<Message>>;
    async fn messages_by_ids(&self, ids: &[String]) -> StoreResult<Vec<Message>>;
    /// Applies one change to a live (not deleted) message atomically: the message is locked,
    /// read, changed by [`MessageChange::apply`] and written back in one transaction, so that
    /// concurrent changes to one message never overwrite one another. `None` when no live
    /// message has this id.
    async fn change_message(
        &self,
        id: &str,
        change: &MessageChange,
        at: Timestamp,
    ) -> StoreResult<Option<MessageChanged>>;
    /// The earliest last-seen time among a room's members; `None` when it has none.
    async fn earliest_last_seen(&self, room_id: &str) -> StoreResult<Option<Timestamp>>;
    /// Clears `unread` on a room's messages sent at or before `until` (read receipts);
    /// returns how many changed.
    async fn mark_messages_read(&self, room_id: &str, until: Timestamp) -> StoreResult<u64>;
    /// Marks a message deleted (kept as a tombstone for sync) and uncounts it.
    async fn delete_message(&self, id: &str, at: Timestamp) -> StoreResult<bool>;
    /// A page of a room's messages.
    async fn room_messages(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        page: &Page<MessageSortKey>,
    ) -> StoreResult<Vec<Message>>;
    /// How many of a room's messages match (costs a scan of the matches: ask only when shown).
    async fn count_room_messages(&self, room_id: &str, filter: &MessageFilter) -> StoreResult<u64>;
    /// Deletes (as tombstones) up to `limit` messages of a room matching `filter`, leaving out
    /// pinned ones when asked and keeping only those by `authors` when given; returns how many.
    async fn delete_messages(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        exclude_pinned: bool,
        authors: &[String],
        limit: Option<u64>,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Rooms holding live messages by this author (for erasing a deleted user's messages).
    async fn rooms_with_messages_by(&self, author_id: &str) -> StoreResult<Vec<String>>;
    /// Re-attributes every live message of `author_id` to `replacement`, shown under `alias`
    /// (upstream's `Unlink` erasure of a deleted user); returns how many changed.
    async fn unlink_messages(
        &self,
        author_id: &str,
        replacement: &UserStub,
        alias: &str,
        at: Timestamp,
    ) -> StoreResult<u64>;
    /// Deleted messages of a room since a time.
    async fn deleted_messages(
        &self,
        room_id: &str,
        since: Timestamp,
    ) -> StoreResult<Vec<(String, Timestamp)>>;
    /// Deleted messages of a room deleted strictly after `after` and strictly before `before`
    /// (each bound optional), oldest deletion first or newest first, at most `limit`: the
    /// cursor pages of `chat.syncMessages`.
    async fn deleted_messages_between(
        &self,
        room_id: &str,
        after: Option<Timestamp>,
        before: Option<Timestamp>,
        newest_first: bool,
        limit: Option<u64>,
    ) -> StoreResult<Vec<(String, Timestamp)>>;
    /// Full-text search of a room's messages (further narrowed by `filter`), newest first
    /// (oldest first with `oldest_first`), as upstream sorts. Backends walk their matches in
    /// that order and stop after the page, so the cost follows `page_offset + page_count`, not
    /// the number of matches (SQLite orders by insertion, which is `ts` order for messages
    /// posted live; PostgreSQL by `ts`, then insertion).
    async fn search_messages(
        &self,
        room_id: &str,
        text: &str,
        filter: &MessageFilter,
        oldest_first: bool,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<Vec<Message>>;
}

/// A connection pool's occupancy, for `/metrics`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolStats {
    /// Which pool (`writer`, `reader`, `main`).
    pub pool: &'static str,
    pub size: u32,
    pub idle: u32,
}

/// Operations of the backend itself: reachability and pools.
#[async_trait]
pub trait OpsStore: Send + Sync {
    /// Succeeds when the database answers a trivial query (readiness checks).
    async fn ping(&self) -> StoreResult<()>;
    fn pool_stats(&self) -> Vec<PoolStats>;
}

mod cluster;
pub use cluster::{ClusterStore, InstanceRecord};
mod files;
pub use files::{BlockedFileHash, FileStore, Upload};
mod avatars;
pub use avatars::{Avatar, AvatarOwner, AvatarStore};
mod reports;
pub use reports::{
    AuthorReports, ModerationInfo, ModerationReport, ReportAuthor, ReportFilter,
    ReportGroupSortKey, ReportRoom, ReportStore, ReportSubject, ReportTarget, ReportedUser,
    UserReports,
};
mod bans;
pub use bans::{RoomBan, RoomBanStore};
mod audit;
pub use audit::{AuditFilter, AuditStore};
mod mail;
pub use mail::{EmailToken, EmailTokenKind, MailStore, QueuedMail};
mod invites;
pub use invites::{Invite, InviteStore, InviteToken};
mod teams;
pub use teams::{TeamMemberFilter, TeamStore};
mod two_factor;
pub use two_factor::{EmailTwoFactor, TwoFactorStore, UserTotp};
mod statistics;
pub use statistics::{StatisticsSnapshot, StatisticsStore, WorkspaceCounts};
mod video_conferences;
pub use video_conferences::{
    CallUser, VideoConference, VideoConferenceKind, VideoConferenceStore,
    status as video_conference_status,
};
mod custom_assets;
pub use custom_assets::{
    AssetFile, CustomAssetStore, CustomEmoji, CustomEmojiFilter, CustomSound, CustomUserStatus,
    DeletedCustomEmoji,
};

/// Everything the service needs from storage.
pub trait Store:
    OpsStore
    + ClusterStore
    + UserStore
    + TokenStore
    + SettingStore
    + PermissionStore
    + RoleStore
    + LoginAttemptStore
    + RoomStore
    + SubscriptionStore
    + MessageStore
    + TransferStore
    + FileStore
    + AvatarStore
    + ReportStore
    + RoomBanStore
    + AuditStore
    + MailStore
    + InviteStore
    + TeamStore
    + TwoFactorStore
    + StatisticsStore
    + CustomAssetStore
    + VideoConferenceStore
{
}

impl<T> Store for T where
    T: OpsStore
        + ClusterStore
        + UserStore
        + TokenStore
        + SettingStore
        + PermissionStore
        + RoleStore
        + LoginAttemptStore
        + RoomStore
        + SubscriptionStore
        + MessageStore
        + TransferStore
        + FileStore
        + AvatarStore
        + ReportStore
        + RoomBanStore
        + AuditStore
        + MailStore
        + InviteStore
        + TeamStore
        + TwoFactorStore
        + StatisticsStore
        + CustomAssetStore
        + VideoConferenceStore
{
}
