//! Moderation reports (Rocket.Chat's `moderation_reports`): what members report about a
//! message (with a copy of the message as it was when reported) or about a user, and what a
//! moderator decided (`_hidden` and `moderationInfo`).

use crate::Timestamp;
use crate::room::{Message, RoomType};

/// Who made a report, as they were when they made it (`reportedBy`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportAuthor {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    pub created_at: Timestamp,
}

/// A reported user as they were when reported (`reportedUser`).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct ReportedUser {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    /// Address and whether it was verified.
    pub emails: Vec<(String, bool)>,
    pub created_at: Timestamp,
}

/// The room of a reported message (`room`: `_id`, `name`, `fname`, `t`, `federated`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ReportRoom {
    pub id: String,
    pub name: Option<String>,
    pub fname: Option<String>,
    pub room_type: RoomType,
    pub federated: bool,
}

/// What was reported.
#[derive(Debug, Clone, PartialEq)]
pub enum ReportSubject {
    /// A message: a copy of it as it was, and its room.
    Message {
        message: Box<Message>,
        room: ReportRoom,
    },
    User(ReportedUser),
}

/// What a moderator did with a report (`moderationInfo`).
#[derive(Debug, Clone, PartialEq)]
pub struct ModerationInfo {
    pub hidden_at: Timestamp,
    /// The moderator's user id.
    pub moderated_by: String,
    pub reason: String,
    /// e.g. `DELETE Messages`, `None`, or what the console sent.
    pub action: String,
}

/// One report.
#[derive(Debug, Clone, PartialEq)]
pub struct ModerationReport {
    pub id: String,
    pub description: String,
    pub reported_by: ReportAuthor,
    pub ts: Timestamp,
    pub subject: ReportSubject,
    /// Set once a moderator handled the report (`_hidden`); handled reports leave the
    /// listings but stay readable by id.
    pub moderation: Option<ModerationInfo>,
}

/// Which open reports a console listing covers: reported strictly between `oldest` and
/// `latest`, and, with `search`, whose text matches it (a case-insensitive substring).
#[derive(Debug, Clone, PartialEq)]
pub struct ReportFilter {
    pub oldest: Timestamp,
    pub latest: Timestamp,
    pub search: Option<String>,
}

/// How grouped listings can be ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportGroupSortKey {
    /// The newest report of the group.
    Latest,
    /// How many open reports the group has.
    Count,
    /// The author's (or reported user's) username.
    Username,
    /// The author's (or reported user's) name.
    Name,
}

/// The open reports about one author's messages (`moderation.reportsByUsers`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthorReports {
    /// The group's newest report.
    pub latest: ModerationReport,
    /// How many open reports in the filter name this author's messages.
    pub count: u64,
    /// The distinct rooms of the reported messages.
    pub rooms: Vec<ReportRoom>,
    /// The author no longer has an account.
    pub author_deleted: bool,
}

/// The open reports about one user (`moderation.userReports`).
#[derive(Debug, Clone, PartialEq)]
pub struct UserReports {
    pub latest: ModerationReport,
    pub count: u64,
}

/// Which open reports a moderator's decision closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportTarget {
    /// Every report of one message.
    Message(String),
    /// Every report of any message written by this user.
    MessagesBy(String),
    /// Every report about this user.
    User(String),
}
