//! Moderation reports (Rocket.Chat's `moderation_reports` collection): what members report
//! about a message (with a copy of the message as it was when reported) or about a user, and
//! what a moderator decided (`_hidden` and `moderationInfo`).
//!
//! The console's listings group reports by the reported message's author or by the reported
//! user; the grouping, counting and paging are done by the backend, so that a page costs the
//! same however many reports exist.

use crate::StoreResult;
use async_trait::async_trait;
pub use comet_core::moderation::{
    AuthorReports, ModerationInfo, ModerationReport, ReportAuthor, ReportFilter,
    ReportGroupSortKey, ReportRoom, ReportSubject, ReportTarget, ReportedUser, UserReports,
};
use comet_core::page::Page;

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
