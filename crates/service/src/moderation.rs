//! Reports and the moderation console: members report messages (`chat.reportMessage`) and
//! users (`moderation.reportUser`); moderators list the open reports grouped by author or by
//! reported user, read them, delete the reported messages and close reports with a reason
//! (`moderation.*`, upstream's `v1/moderation.ts` and `server/lib/moderation`).

use crate::authz::Required;
use crate::rooms::RoomRef;
use crate::{Moderation, Session, store_error};
use comet_core::page::Page;
use comet_core::room::Message;
use comet_core::user::User;
use comet_core::{Error, Result, id, now};
use comet_store::{
    AuthorReports, ModerationInfo, ModerationReport, ReportAuthor, ReportFilter,
    ReportGroupSortKey, ReportRoom, ReportSubject, ReportTarget, ReportedUser, UserReports,
};
use std::collections::HashSet;

/// What a moderator names when closing reports without saying why.
const NO_REASON: &str = "No reason provided";
/// The action recorded on reports closed by deleting their messages.
const DELETE_MESSAGES: &str = "DELETE Messages";

/// A page of one target's open reports, and how many there are.
pub struct ReportPage {
    pub reports: Vec<ModerationReport>,
    pub total: u64,
}

/// Which part of a target's open reports to list.
#[derive(Debug, Clone, Default)]
pub struct ReportWindow {
    /// A case-insensitive substring (see `ReportStore::open_reports` for what it matches).
    pub search: Option<String>,
    pub oldest_first: bool,
    pub offset: u64,
    pub count: Option<u64>,
}

fn author_of(user: &User) -> ReportAuthor {
    ReportAuthor {
        id: user.id.clone(),
        username: user.username.clone(),
        name: Some(user.name.clone()),
        created_at: user.created_at,
    }
}

/// Upstream keeps the reason a moderator gave unless it is blank.
fn reason_or_default(reason: Option<String>) -> String {
    reason
        .filter(|r| !r.trim().is_empty())
        .unwrap_or_else(|| NO_REASON.to_owned())
}

impl Moderation<'_> {
    /// Who may read the console (`view-moderation-console`).
    pub const VIEW: Required = Required::All(&["view-moderation-console"]);
    /// Who may act on reports (`manage-moderation-actions`).
    pub const MANAGE: Required = Required::All(&["manage-moderation-actions"]);

    /// `chat.reportMessage`: a message the reporter can read, copied as it is now. A message
    /// that does not exist and one in a room the reporter may not read are refused alike.
    pub async fn report_message(
        &self,
        session: &Session,
        message_id: &str,
        description: &str,
    ) -> Result<()> {
        if description.trim().is_empty() {
            return Err(Error::failure("error-invalid-description"));
        }
        let invalid = || Error::failure("error-invalid-message_id");
        let message = self
            .ctx
            .store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?
            .filter(|m| m.deleted_at.is_none())
            .ok_or_else(invalid)?;
        let room = self
            .ctx
            .rooms()
            .find_room_unchecked(&RoomRef::Id(message.room_id.clone()))
            .await?
            .ok_or_else(invalid)?;
        let room = self
            .ctx
            .rooms()
            .room_access(session, room)
            .await?
            .ok_or_else(invalid)?
            .room()
            .clone();
        let report = ModerationReport {
            id: id::new_id(),
            description: description.to_owned(),
            reported_by: author_of(&session.user),
            ts: now(),
            subject: ReportSubject::Message {
                message: Box::new(message),
                room: ReportRoom {
                    id: room.id.clone(),
                    name: room.name.clone(),
                    fname: room.fname.clone(),
                    room_type: room.room_type,
                    federated: false,
                },
            },
            moderation: None,
        };
        self.ctx
            .store
            .insert_report(&report)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, message = %message_id, "message reported");
        Ok(())
    }

    /// `moderation.reportUser`: any user, as they are now.
    pub async fn report_user(
        &self,
        session: &Session,
        user_id: &str,
        description: &str,
    ) -> Result<()> {
        let user = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::failure("Invalid user id provided."))?;
        let report = ModerationReport {
            id: id::new_id(),
            description: description.to_owned(),
            reported_by: author_of(&session.user),
            ts: now(),
            subject: ReportSubject::User(ReportedUser {
                id: user.id.clone(),
                username: user.username.clone(),
                name: Some(user.name.clone()),
                emails: user
                    .email
                    .iter()
                    .map(|e| (e.address.clone(), e.verified))
                    .collect(),
                created_at: user.created_at,
            }),
            moderation: None,
        };
        self.ctx
            .store
            .insert_report(&report)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, user = %user_id, "user reported");
        Ok(())
    }

    /// `moderation.reportsByUsers`: the open message reports grouped by the messages' author.
    pub async fn reports_by_author(
        &self,
        session: &Session,
        filter: &ReportFilter,
        page: &Page<ReportGroupSortKey>,
    ) -> Result<(Vec<AuthorReports>, u64)> {
        self.ctx.authorize(&session.user, Self::VIEW)?;
        self.ctx
            .store
            .message_reports_by_author(filter, page)
            .await
            .map_err(store_error)
    }

    /// `moderation.userReports`: the open user reports grouped by reported user.
    pub async fn reports_by_reported_user(
        &self,
        session: &Session,
        filter: &ReportFilter,
        page: &Page<ReportGroupSortKey>,
    ) -> Result<(Vec<UserReports>, u64)> {
        self.ctx.authorize(&session.user, Self::VIEW)?;
        self.ctx
            .store
            .user_reports_by_user(filter, page)
            .await
            .map_err(store_error)
    }

    /// The open reports of `target` in `window` (`moderation.user.reportedMessages`,
    /// `moderation.user.reportsByUserId`, `moderation.reports`), with the user the target
    /// names when it names one that still exists.
    pub async fn open_reports(
        &self,
        session: &Session,
        target: &ReportTarget,
        window: &ReportWindow,
    ) -> Result<(Option<User>, ReportPage)> {
        self.ctx.authorize(&session.user, Self::VIEW)?;
        let user = match target {
            ReportTarget::MessagesBy(user_id) | ReportTarget::User(user_id) => self
                .ctx
                .store
                .user_by_id(user_id)
                .await
                .map_err(store_error)?,
            ReportTarget::Message(_) => None,
        };
        let (reports, total) = self
            .ctx
            .store
            .open_reports(
                target,
                window.search.as_deref(),
                !window.oldest_first,
                window.offset,
                window.count,
            )
            .await
            .map_err(store_error)?;
        Ok((user, ReportPage { reports, total }))
    }

    /// `moderation.reportInfo`: one report, open or closed.
    pub async fn report(&self, session: &Session, report_id: &str) -> Result<ModerationReport> {
        self.ctx.authorize(&session.user, Self::VIEW)?;
        self.ctx
            .store
            .report_by_id(report_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::failure("error-report-not-found"))
    }

    /// `moderation.user.deleteReportedMessages`: deletes the messages of `user_id` named by
    /// the page (`offset`, `count`) of their open reports, newest first, through the ordinary
    /// deletion (so clients are told and files go), then closes every open report of their
    /// messages as `DELETE Messages`.
    pub async fn delete_reported_messages(
        &self,
        session: &Session,
        user_id: &str,
        reason: Option<String>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<()> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        let reason = reason_or_default(reason);
        let target = ReportTarget::MessagesBy(user_id.to_owned());
        let (reports, total) = self
            .ctx
            .store
            .open_reports(&target, None, true, offset, count)
            .await
            .map_err(store_error)?;
        if total == 0 {
            return Err(Error::failure("No reported messages found for this user."));
        }
        let mut seen = HashSet::new();
        for report in reports {
            let ReportSubject::Message { message, .. } = report.subject else {
                continue;
            };
            if !seen.insert(message.id.clone()) {
                continue;
            }
            // The copy in the report may be older than the message; delete what is there now,
            // and nothing when it is already gone.
            let Some(current) = self.live_message(&message.id).await? else {
                continue;
            };
            let messages = self.ctx.messages();
            messages.remove_message(&session.user, &current).await?;
            messages.audit_deletion_by_other(session, &current).await?;
        }
        self.close(&target, &session.user, reason, DELETE_MESSAGES.to_owned())
            .await?;
        Ok(())
    }

    async fn live_message(&self, message_id: &str) -> Result<Option<Message>> {
        Ok(self
            .ctx
            .store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?
            .filter(|m| m.deleted_at.is_none()))
    }

    /// `moderation.dismissReports`: closes the open reports of one author's messages
    /// (`userId`) or of one message (`msgId`); refused when there are none.
    pub async fn dismiss_message_reports(
        &self,
        session: &Session,
        author_id: Option<String>,
        message_id: Option<String>,
        reason: Option<String>,
        action: Option<String>,
    ) -> Result<()> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        let author_id = author_id.filter(|s| !s.is_empty());
        let message_id = message_id.filter(|s| !s.is_empty());
        let target = match (author_id, message_id) {
            (Some(author), _) => ReportTarget::MessagesBy(author),
            (None, Some(message)) => ReportTarget::Message(message),
            // Upstream closes nothing and answers success.
            (None, None) => return Ok(()),
        };
        let (_, open) = self
            .ctx
            .store
            .open_reports(&target, None, true, 0, Some(1))
            .await
            .map_err(store_error)?;
        if open == 0 {
            return Err(Error::failure("no-reports-found"));
        }
        let action = action.unwrap_or_else(|| "None".to_owned());
        self.close(&target, &session.user, reason_or_default(reason), action)
            .await
    }

    /// `moderation.dismissUserReports`: closes the open reports about a user.
    pub async fn dismiss_user_reports(
        &self,
        session: &Session,
        user_id: &str,
        reason: Option<String>,
        action: Option<String>,
    ) -> Result<()> {
        self.ctx.authorize(&session.user, Self::MANAGE)?;
        if user_id.is_empty() {
            return Err(Error::failure("error-user-id-param-not-provided"));
        }
        // Upstream keeps an empty reason here (`reason ?? ...`), unlike the other actions.
        let reason = reason.unwrap_or_else(|| NO_REASON.to_owned());
        let action = action.unwrap_or_else(|| "None".to_owned());
        self.close(
            &ReportTarget::User(user_id.to_owned()),
            &session.user,
            reason,
            action,
        )
        .await
    }

    async fn close(
        &self,
        target: &ReportTarget,
        moderator: &User,
        reason: String,
        action: String,
    ) -> Result<()> {
        let info = ModerationInfo {
            hidden_at: now(),
            moderated_by: moderator.id.clone(),
            reason,
            action,
        };
        let closed = self
            .ctx
            .store
            .hide_reports(target, &info)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %moderator.id, target = ?target, closed, action = %info.action, "reports closed");
        let (kind, id) = match target {
            ReportTarget::Message(id) => ("message", id),
            ReportTarget::MessagesBy(id) | ReportTarget::User(id) => ("user", id),
        };
        let scope = match target {
            ReportTarget::Message(_) => "message",
            ReportTarget::MessagesBy(_) => "messages-by-user",
            ReportTarget::User(_) => "user",
        };
        self.ctx
            .audit()
            .record(
                moderator,
                "moderation.reports.close",
                crate::audit::AuditTarget::new(kind, id.clone(), None),
                None,
                Some(serde_json::json!({
                    "reports": scope,
                    "closed": closed,
                    "action": info.action,
                    "reason": info.reason,
                })),
            )
            .await
    }
}
