//! Moving a whole database between backends (`comet migrate-db`): every persisted row as a
//! domain value ([`Record`]), read out a page at a time and written back verbatim.
//!
//! A backend exports each kind in an order of its own that is stable while nobody writes (the
//! copy runs with the servers stopped) and that preserves insertion order where its queries
//! break ties by it (messages, login tokens, roles): importing in export order then gives the
//! target the same tie-breaks. Importing is a raw write: ids, timestamps, counters and
//! derived indexes (full-text search) come out as they were, and nothing else happens (no
//! counter moves, no system message, no trash row).
//!
//! # Adding a table
//!
//! A new persisted table gets a [`RecordKind`] variant (placed in [`RecordKind::ALL`] after
//! everything it references), a [`Record`] variant, and then its columns, row conversion and
//! insert in `comet-store-sql` (`rows.rs`, `transfer.rs`) and its export order in PostgreSQL's
//! `export.rs`; those matches are exhaustive, so the compiler lists them.
//! The conformance suite's `transfer` should fill the new table too. A table of live
//! coordination state only, which a starting server rebuilds, goes in [`NOT_TRANSFERRED`]
//! instead.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::role::{Permission, Role};
use comet_core::room::{Message, Room, Subscription};
use comet_core::setting::Setting;
use comet_core::user::{LoginToken, User};

/// One kind of persisted record: one table, or a table with the rows that only exist as part
/// of it (a user's global roles).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RecordKind {
    User,
    LoginToken,
    Role,
    Permission,
    Setting,
    FailedLogin,
    Room,
    Subscription,
    Message,
    SubscriptionTrash,
    RoomTrash,
    Upload,
    Avatar,
    ModerationReport,
    BlockedFileHash,
    RoomBan,
    AuditEntry,
    Invite,
    InviteToken,
    UserTotp,
    UserEmailTwoFactor,
    QueuedMail,
    EmailToken,
    Team,
    TeamMember,
    CustomEmoji,
    CustomEmojiTrash,
    CustomUserStatus,
    CustomSound,
    VideoConference,
}

impl RecordKind {
    /// Every kind, each after the kinds it references (tokens after users, subscriptions after
    /// rooms and users, messages after rooms), so that copying in this order never writes a
    /// row before the row it points to. A new table goes here.
    pub const ALL: [RecordKind; 30] = [
        RecordKind::User,
        RecordKind::LoginToken,
        RecordKind::Role,
        RecordKind::Permission,
        RecordKind::Setting,
        RecordKind::FailedLogin,
        RecordKind::Room,
        RecordKind::Subscription,
        RecordKind::Message,
        RecordKind::SubscriptionTrash,
        RecordKind::RoomTrash,
        RecordKind::Upload,
        RecordKind::Avatar,
        RecordKind::ModerationReport,
        RecordKind::BlockedFileHash,
        RecordKind::RoomBan,
        RecordKind::AuditEntry,
        RecordKind::Invite,
        RecordKind::InviteToken,
        RecordKind::UserTotp,
        RecordKind::UserEmailTwoFactor,
        RecordKind::QueuedMail,
        RecordKind::EmailToken,
        RecordKind::Team,
        RecordKind::TeamMember,
        RecordKind::CustomEmoji,
        RecordKind::CustomEmojiTrash,
        RecordKind::CustomUserStatus,
        RecordKind::CustomSound,
        RecordKind::VideoConference,
    ];

    /// The name of the kind's table, as both backends call it: for progress output, and for
    /// the backends' tests that every table they create is transferred.
    pub fn name(self) -> &'static str {
        match self {
            RecordKind::User => "users",
            RecordKind::LoginToken => "login_tokens",
            RecordKind::Role => "roles",
            RecordKind::Permission => "permissions",
            RecordKind::Setting => "settings",
            RecordKind::FailedLogin => "failed_logins",
            RecordKind::Room => "rooms",
            RecordKind::Subscription => "subscriptions",
            RecordKind::Message => "messages",
            RecordKind::SubscriptionTrash => "subscription_trash",
            RecordKind::RoomTrash => "room_trash",
            RecordKind::Upload => "uploads",
            RecordKind::Avatar => "avatars",
            RecordKind::ModerationReport => "moderation_reports",
            RecordKind::BlockedFileHash => "blocked_file_hashes",
            RecordKind::RoomBan => "room_bans",
            RecordKind::AuditEntry => "audit_log",
            RecordKind::Invite => "invites",
            RecordKind::InviteToken => "invite_tokens",
            RecordKind::UserTotp => "user_totp",
            RecordKind::UserEmailTwoFactor => "user_email_two_factor",
            RecordKind::QueuedMail => "mail_queue",
            RecordKind::EmailToken => "email_tokens",
            RecordKind::Team => "teams",
            RecordKind::TeamMember => "team_members",
            RecordKind::CustomEmoji => "custom_emoji",
            RecordKind::CustomEmojiTrash => "custom_emoji_trash",
            RecordKind::CustomUserStatus => "custom_user_statuses",
            RecordKind::CustomSound => "custom_sounds",
            RecordKind::VideoConference => "video_conferences",
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// Tables that hold only live coordination between running instances (which instances and
/// connections are alive, job leases, rate-limit windows): a stopped server has none worth
/// keeping and a starting one rebuilds them, so the transfer leaves them out. Main's cluster
/// tables are named ahead of their arrival on this branch; every other table must have a
/// [`RecordKind`] (the backends' tests check). Mail waiting for delivery and the tokens of
/// mailed links do move: a link mailed before the move still works after it.
pub const NOT_TRANSFERRED: [&str; 5] = [
    "instances",
    "connections",
    "leases",
    "rate_windows",
    // Snapshots of counts: the target makes its own from the data it receives.
    "statistics",
];

/// A failed login, as blocking counts them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedLogin {
    pub key: String,
    pub at: Timestamp,
}

/// A removed subscription kept for sync (`removed_subscriptions`), with the user it was of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashedSubscription {
    pub id: String,
    pub user_id: String,
    pub room_id: String,
    pub removed_at: Timestamp,
}

/// A deleted room kept for sync (`removed_rooms`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrashedRoom {
    pub id: String,
    pub removed_at: Timestamp,
}

/// One persisted row (with its dependent rows) in domain terms.
///
/// Records only travel inside one process, from one store to another, so they are not
/// serializable: in particular a [`User`] keeps its `password_bcrypt`, which serde skips on
/// purpose (events must not carry it).
#[derive(Debug, Clone, PartialEq)]
#[allow(
    clippy::large_enum_variant,
    reason = "records live a page at a time; boxing messages would only add an allocation each"
)]
pub enum Record {
    /// A user with its global roles (in order) and password hash.
    User(User),
    /// A login token or personal access token (hashes only, as stored).
    LoginToken(LoginToken),
    Role(Role),
    Permission(Permission),
    Setting(Setting),
    FailedLogin(FailedLogin),
    /// A room with its counters and last message as they are.
    Room(Room),
    /// A subscription with its unread and mention counters as they are.
    Subscription(Subscription),
    /// A message, a system message or a deleted message's tombstone, with its reactions,
    /// thread fields, pins, stars and read-receipt `unread` flag.
    Message(Message),
    SubscriptionTrash(TrashedSubscription),
    RoomTrash(TrashedRoom),
    /// An uploaded file's record (its bytes stay in the blob store, which is not moved).
    Upload(crate::Upload),
    /// A user's or room's avatar record (its bytes stay in the blob store, which is not moved).
    Avatar(crate::Avatar),
    /// A moderation report with its copy of the reported message or user and its decision.
    ModerationReport(crate::ModerationReport),
    /// A listed file digest.
    BlockedFileHash(crate::BlockedFileHash),
    /// A user's ban from a room.
    RoomBan(crate::RoomBan),
    /// An audit log entry, with its links as they are (the chain stays verifiable).
    AuditEntry(comet_core::audit::AuditEntry),
    /// An invite link, without any token.
    Invite(crate::Invite),
    /// The digest of a token handed out for an invite.
    InviteToken(crate::InviteToken),
    /// A user's TOTP state, its secrets sealed as stored (the key stays with the server).
    UserTotp(crate::UserTotp),
    /// A user's second factor by email, with the code waiting (a hash) as stored.
    UserEmailTwoFactor(crate::EmailTwoFactor),
    /// Mail waiting for delivery, with its attempts so far.
    QueuedMail(crate::QueuedMail),
    /// The digest of a mailed link's token.
    EmailToken(crate::EmailToken),
    Team(comet_core::team::Team),
    /// A membership of a team, with its team roles.
    TeamMember(comet_core::team::TeamMember),
    /// A custom emoji's record (its bytes stay in the blob store, which is not moved).
    CustomEmoji(crate::CustomEmoji),
    /// What is left of a deleted custom emoji, for clients' sync.
    CustomEmojiTrash(crate::DeletedCustomEmoji),
    CustomUserStatus(crate::CustomUserStatus),
    /// A custom sound's record (its bytes stay in the blob store, which is not moved).
    CustomSound(crate::CustomSound),
    /// A call with its participants and status as they are.
    VideoConference(crate::VideoConference),
}

impl Record {
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::User(_) => RecordKind::User,
            Record::LoginToken(_) => RecordKind::LoginToken,
            Record::Role(_) => RecordKind::Role,
            Record::Permission(_) => RecordKind::Permission,
            Record::Setting(_) => RecordKind::Setting,
            Record::FailedLogin(_) => RecordKind::FailedLogin,
            Record::Room(_) => RecordKind::Room,
            Record::Subscription(_) => RecordKind::Subscription,
            Record::Message(_) => RecordKind::Message,
            Record::SubscriptionTrash(_) => RecordKind::SubscriptionTrash,
            Record::RoomTrash(_) => RecordKind::RoomTrash,
            Record::Upload(_) => RecordKind::Upload,
            Record::Avatar(_) => RecordKind::Avatar,
            Record::ModerationReport(_) => RecordKind::ModerationReport,
            Record::BlockedFileHash(_) => RecordKind::BlockedFileHash,
            Record::RoomBan(_) => RecordKind::RoomBan,
            Record::AuditEntry(_) => RecordKind::AuditEntry,
            Record::Invite(_) => RecordKind::Invite,
            Record::InviteToken(_) => RecordKind::InviteToken,
            Record::UserTotp(_) => RecordKind::UserTotp,
            Record::UserEmailTwoFactor(_) => RecordKind::UserEmailTwoFactor,
            Record::QueuedMail(_) => RecordKind::QueuedMail,
            Record::EmailToken(_) => RecordKind::EmailToken,
            Record::Team(_) => RecordKind::Team,
            Record::TeamMember(_) => RecordKind::TeamMember,
            Record::CustomEmoji(_) => RecordKind::CustomEmoji,
            Record::CustomEmojiTrash(_) => RecordKind::CustomEmojiTrash,
            Record::CustomUserStatus(_) => RecordKind::CustomUserStatus,
            Record::CustomSound(_) => RecordKind::CustomSound,
            Record::VideoConference(_) => RecordKind::VideoConference,
        }
    }
}

/// One page of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportPage {
    pub records: Vec<Record>,
    /// Where the following page starts (pass it back as `after`); `None` after the last page.
    /// Opaque: a position in the exporting backend's own order, meaningful only to it.
    pub next: Option<String>,
}

/// Whole-database export and import, for moving a server between backends.
#[async_trait]
pub trait TransferStore: Send + Sync {
    /// Up to `limit` records of `kind` following the position `after` (from the start when
    /// `None`), in the backend's stable order. Memory stays bounded by `limit` whatever the
    /// table's size. The order is only stable while nothing writes to the store.
    async fn export(
        &self,
        kind: RecordKind,
        after: Option<&str>,
        limit: u32,
    ) -> StoreResult<ExportPage>;

    /// Writes `records` (of any kinds, in the order given) in one transaction, exactly as they
    /// are: the same ids, timestamps and counters, derived indexes filled, nothing else
    /// changed. A record that exists already fails the whole batch with a conflict. Meant for
    /// an empty store that nothing else writes to.
    async fn import(&self, records: &[Record]) -> StoreResult<()>;

    /// How many records of `kind` the store holds.
    async fn count_records(&self, kind: RecordKind) -> StoreResult<u64>;
}

/// Copies every record of `kind` from `from` to `to`, `batch` records per page and per
/// transaction, calling `progress` with the running total after each batch. Returns how many
/// records were copied.
pub async fn copy_kind<F, T>(
    from: &F,
    to: &T,
    kind: RecordKind,
    batch: u32,
    mut progress: impl FnMut(u64),
) -> StoreResult<u64>
where
    F: TransferStore + ?Sized,
    T: TransferStore + ?Sized,
{
    let batch = batch.max(1);
    let mut copied = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = from.export(kind, after.as_deref(), batch).await?;
        if page.records.is_empty() {
            return Ok(copied);
        }
        to.import(&page.records).await?;
        copied += page.records.len() as u64;
        progress(copied);
        match page.next {
            Some(next) => after = Some(next),
            None => return Ok(copied),
        }
    }
}
