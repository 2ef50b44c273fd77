//! Abuse controls beyond upstream's rate limits, each on by default and turned off by its
//! setting (`Comet_Abuse_*`, 0 or false):
//!
//! - room creation per user per day (`Comet_Abuse_Room_Creation_Per_Day`);
//! - new accounts: self-registered accounts younger than `Comet_Abuse_New_Account_Age_Hours`
//!   that no admin approved (`users.approve`) may not post links
//!   (`..._Block_Links`) or upload files (`..._Block_Uploads`), join more than
//!   `..._Max_Rooms` rooms, or start direct conversations with more than
//!   `..._Direct_Messages_Per_Hour` people they had none with;
//! - the file blocklist: SHA-256 digests of files no one may upload (`files.blocklist.*`);
//! - `users.purge`: deactivate a user and delete every message and file they sent.
//!
//! Users who may bypass the rate limiter (`api-bypass-rate-limit`: admins, bots, apps) are
//! exempt from all but the blocklist. Counting windows are this instance's (in the database
//! when clustered), like the REST limiter's.

use crate::pipeline::{Draft, Filter, Sender};
use crate::{Accounts, Files, Service, Session, store_error};
use async_trait::async_trait;
use comet_core::room::RoomType;
use comet_core::user::User;
use comet_core::{Error, Result, now};
use comet_store::BlockedFileHash;
use serde_json::json;

const DAY_MS: u64 = 86_400_000;
const HOUR_MS: u64 = 3_600_000;

fn setting_count(service: &Service, id: &str) -> Option<u64> {
    u64::try_from(service.setting_int(id))
        .ok()
        .filter(|n| *n > 0)
}

impl Service {
    /// Whether the limits on new accounts apply to `user`.
    pub(crate) fn is_new_account(&self, user: &User) -> bool {
        let Some(hours) = setting_count(self, "Comet_Abuse_New_Account_Age_Hours") else {
            return false;
        };
        if user.approved || self.has_permission(user, "api-bypass-rate-limit") {
            return false;
        }
        let age = now() - user.created_at;
        age < chrono::Duration::hours(i64::try_from(hours).unwrap_or(i64::MAX))
    }

    /// Counts a room creation; past the day's allowance, refuses it.
    pub(crate) async fn check_room_creation(&self, user: &User) -> Result<()> {
        let Some(limit) = setting_count(self, "Comet_Abuse_Room_Creation_Per_Day") else {
            return Ok(());
        };
        if self.has_permission(user, "api-bypass-rate-limit") {
            return Ok(());
        }
        let key = format!("rooms-created\u{0}{}", user.id);
        if self.check_window(key, limit, DAY_MS).await.is_err() {
            tracing::info!(user = %user.id, limit, "room creation limit reached");
            return Err(Error::meteor(
                "error-room-creation-limit",
                format!("You can create at most {limit} rooms a day"),
            )
            .with_details(json!({"limit": limit})));
        }
        Ok(())
    }

    /// Counts a new direct conversation started by a new account; past the hour's allowance,
    /// refuses it.
    pub(crate) async fn check_direct_to_strangers(&self, user: &User) -> Result<()> {
        let Some(limit) = setting_count(self, "Comet_Abuse_New_Account_Direct_Messages_Per_Hour")
        else {
            return Ok(());
        };
        if !self.is_new_account(user) {
            return Ok(());
        }
        let key = format!("new-directs\u{0}{}", user.id);
        if self.check_window(key, limit, HOUR_MS).await.is_err() {
            tracing::info!(user = %user.id, limit, "direct message limit of a new account reached");
            return Err(Error::meteor(
                "error-direct-message-limit",
                format!("New accounts can start at most {limit} direct conversations an hour"),
            )
            .with_details(json!({"limit": limit})));
        }
        Ok(())
    }

    /// Refuses a new account one room more than `Comet_Abuse_New_Account_Max_Rooms`.
    pub(crate) async fn check_rooms_joined(&self, user: &User) -> Result<()> {
        let Some(limit) = setting_count(self, "Comet_Abuse_New_Account_Max_Rooms") else {
            return Ok(());
        };
        if !self.is_new_account(user) {
            return Ok(());
        }
        let joined = self
            .store
            .subscriptions_of_user(&user.id, None)
            .await
            .map_err(store_error)?
            .iter()
            .filter(|s| s.room_type != RoomType::Direct)
            .count();
        if u64::try_from(joined).unwrap_or(u64::MAX) >= limit {
            return Err(Error::meteor(
                "error-new-account-room-limit",
                format!("New accounts can be in at most {limit} rooms"),
            )
            .with_details(json!({"limit": limit})));
        }
        Ok(())
    }

    /// Refuses uploads by new accounts when `Comet_Abuse_New_Account_Block_Uploads` is on.
    pub(crate) fn check_new_account_upload(&self, user: &User) -> Result<()> {
        if self.setting_bool("Comet_Abuse_New_Account_Block_Uploads") && self.is_new_account(user) {
            return Err(Error::meteor(
                "error-new-account-uploads",
                "New accounts cannot upload files yet",
            ));
        }
        Ok(())
    }
}

/// The pipeline filter refusing links in messages of new accounts
/// (`Comet_Abuse_New_Account_Block_Links`).
pub(crate) struct NewAccountLinks;

#[async_trait]
impl Filter for NewAccountLinks {
    fn name(&self) -> &'static str {
        "new-account-links"
    }

    async fn apply(&self, service: &Service, draft: &mut Draft<'_>) -> Result<()> {
        let Sender::Member(session) = draft.sender else {
            return Ok(());
        };
        if draft.message.kind.is_some()
            || !service.setting_bool("Comet_Abuse_New_Account_Block_Links")
            || !service.is_new_account(&session.user)
        {
            return Ok(());
        }
        if !comet_core::links::extract_urls(&draft.message.text).is_empty() {
            return Err(Error::meteor(
                "error-new-account-links",
                "New accounts cannot post links yet",
            ));
        }
        Ok(())
    }
}

impl Accounts<'_> {
    /// `users.approve` (Comet): an admin trusts a new account, lifting the limits on new
    /// accounts. Needs `edit-other-user-active-status`, the permission of activating users.
    pub async fn approve_user(&self, session: &Session, user_id: &str) -> Result<User> {
        if !self
            .ctx
            .has_permission(&session.user, "edit-other-user-active-status")
        {
            return Err(Error::permission_required());
        }
        let Some(mut user) = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor("error-invalid-user", "Invalid user"));
        };
        if !user.approved {
            user.approved = true;
            user.updated_at = now();
            if !self
                .ctx
                .store
                .update_user(&user)
                .await
                .map_err(store_error)?
            {
                return Err(Error::meteor("error-invalid-user", "Invalid user"));
            }
            self.ctx.publish(comet_events::Event::SessionsStale {
                user_id: Some(user.id.clone()),
            });
            tracing::info!(by = %session.user.id, user = %user.id, "account approved");
            self.ctx
                .audit_by(
                    session,
                    "user.approve",
                    crate::audit::AuditTarget::user(&user),
                    Some(serde_json::json!({"approved": false})),
                    Some(serde_json::json!({"approved": true})),
                )
                .await?;
        }
        Ok(user)
    }
}

/// Whether a string is a SHA-256 digest in hex; answers it lowercased.
fn parse_sha256(text: &str) -> Result<String> {
    let text = text.trim();
    if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        Ok(text.to_ascii_lowercase())
    } else {
        Err(Error::meteor(
            "error-invalid-hash",
            "The hash must be a SHA-256 digest in hexadecimal (64 characters)",
        ))
    }
}

impl Files<'_> {
    fn authorize_blocklist(&self, session: &Session) -> Result<()> {
        if self
            .ctx
            .has_permission(&session.user, "manage-file-blocklist")
        {
            Ok(())
        } else {
            Err(Error::permission_required())
        }
    }

    /// `files.blocklist.add`: lists a digest; answers whether it was new.
    pub async fn block_hash(
        &self,
        session: &Session,
        sha256: &str,
        reason: Option<String>,
    ) -> Result<bool> {
        self.authorize_blocklist(session)?;
        let entry = BlockedFileHash {
            sha256: parse_sha256(sha256)?,
            added_by: session.user.id.clone(),
            reason: reason.filter(|r| !r.trim().is_empty()),
            added_at: now(),
        };
        let added = self
            .ctx
            .store
            .block_file_hash(&entry)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, sha256 = %entry.sha256, added, "file hash blocked");
        if added {
            self.ctx
                .audit_by(
                    session,
                    "file.blocklist.add",
                    crate::audit::AuditTarget::new("file", entry.sha256.clone(), None),
                    None,
                    Some(serde_json::json!({"sha256": entry.sha256, "reason": entry.reason})),
                )
                .await?;
        }
        Ok(added)
    }

    /// `files.blocklist.remove`: unlists a digest; answers whether it was listed.
    pub async fn unblock_hash(&self, session: &Session, sha256: &str) -> Result<bool> {
        self.authorize_blocklist(session)?;
        let sha256 = parse_sha256(sha256)?;
        let removed = self
            .ctx
            .store
            .unblock_file_hash(&sha256)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, %sha256, removed, "file hash unblocked");
        if removed {
            self.ctx
                .audit_by(
                    session,
                    "file.blocklist.remove",
                    crate::audit::AuditTarget::new("file", sha256.clone(), None),
                    Some(serde_json::json!({"sha256": sha256})),
                    None,
                )
                .await?;
        }
        Ok(removed)
    }

    /// `files.blocklist.list`: a page of the listed digests, newest first, and the total.
    pub async fn blocked_hashes(
        &self,
        session: &Session,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<BlockedFileHash>, u64)> {
        self.authorize_blocklist(session)?;
        self.ctx
            .store
            .blocked_file_hashes(offset, count)
            .await
            .map_err(store_error)
    }

    /// Refuses a file whose digest is listed.
    pub(crate) async fn check_not_blocked(&self, sha256: &str) -> Result<()> {
        if self
            .ctx
            .store
            .is_file_hash_blocked(sha256)
            .await
            .map_err(store_error)?
        {
            return Err(Error::meteor(
                "error-file-blocked",
                "This file is blocked on this server and cannot be uploaded",
            ));
        }
        Ok(())
    }
}
