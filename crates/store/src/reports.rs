//! Moderation reports (Rocket.Chat's `moderation_reports` collection): what members report
//! about a message (with a copy of the message as it was when reported) or about a user, and
//! what a moderator decided (`_hidden` and `moderationInfo`).
//!
//! The console's listings group reports by the reported message's author or by the reported
//! user; the grouping, counting and paging are done by the backend, so that a page costs the
//! same however many reports exist.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::page::Page;
use comet_core::room::{Message, RoomType};

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

#[async_trait]
pub trait ReportStore: Send + Sync {
    async fn insert_report(&self, report: &ModerationReport) -> StoreResult<()>;
    /// A report, handled or not.
    async fn report_by_id(&self, id: &str) -> StoreResult<Option<ModerationReport>>;
    /// One page of the authors of reported messages, each with its open reports in `filter`
    /// (search: the message text, the description, the author's username or name), and how
    /// many authors there are in all.
    async fn message_reports_by_author(
        &self,
        filter: &ReportFilter,
        page: &Page<ReportGroupSortKey>,
    ) -> StoreResult<(Vec<AuthorReports>, u64)>;
    /// One page of reported users, each with its open reports in `filter` (search: the
    /// reported user's username or name), and how many reported users there are in all.
    async fn user_reports_by_user(
        &self,
        filter: &ReportFilter,
        page: &Page<ReportGroupSortKey>,
    ) -> StoreResult<(Vec<UserReports>, u64)>;
    /// One page of the open reports of `target`, newest first unless `newest_first` is false,
    /// with `search` matched as the target's kind says (message reports: the message text,
    /// except for `Message`, where also the description and author; user reports: the
    /// reported user's username or name), and the total.
    async fn open_reports(
        &self,
        target: &ReportTarget,
        search: Option<&str>,
        newest_first: bool,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<ModerationReport>, u64)>;
    /// Closes every open report of `target` with `info`; how many were closed. Reports
    /// already handled keep the decision that closed them.
    async fn hide_reports(&self, target: &ReportTarget, info: &ModerationInfo) -> StoreResult<u64>;
}
