//! Invite links: `findOrCreateInvite`, `listInvites`, `removeInvite`, `validateInviteToken`,
//! `useInviteToken`, and the invite tokens that open registration in `Secret URL` mode.
//!
//! An invite is upstream's document; its token is a 43-character random secret of which only
//! the SHA-256 digest is stored, so a copy of the database opens no room. Since a digest
//! cannot be handed back, asking again for an equal unexpired invite answers the same invite
//! (same `_id`, expiry and uses) with a fresh token added to it; every token handed out for an
//! invite leads to it until it expires, is used up or is removed.

use crate::audit::AuditTarget;
use crate::rooms::system_message;
use crate::{Invites, Session, store_error};
use comet_core::password::sha256_hex;
use comet_core::room::{Room, RoomType};
use comet_core::{Error, Result, Timestamp, now};
pub use comet_store::Invite;
use comet_store::InviteToken;
use serde_json::{Value, json};

/// The lifetimes an invite may have, in days (0: it never expires).
pub const INVITE_DAYS: [i64; 5] = [0, 1, 7, 15, 30];
/// The numbers of uses an invite may allow (0: no limit).
pub const INVITE_MAX_USES: [i64; 7] = [0, 1, 5, 10, 25, 50, 100];

const PERMISSION: &str = "create-invite-links";

/// An invite with the token just handed out for it and the link that carries the token.
#[derive(Debug, Clone)]
pub struct IssuedInvite {
    pub invite: Invite,
    pub token: String,
    pub url: String,
}

/// The room a used invite led into, as `useInviteToken` answers it.
#[derive(Debug, Clone)]
pub struct InvitedRoom {
    pub room: Room,
}

fn invalid_token(method: &'static str) -> Error {
    Error::meteor("error-invalid-token", "The invite token is invalid.")
        .with_details(json!({"method": method, "field": "token"}))
}

fn invalid_room() -> Error {
    Error::meteor("error-invalid-room", "The rid field is invalid")
        .with_details(json!({"method": "findOrCreateInvite", "field": "rid"}))
}

fn not_authorized() -> Error {
    Error::meteor("not_authorized", "")
}

/// 16 hexadecimal digits, as upstream's invite ids.
fn new_invite_id() -> String {
    format!(
        "{:08x}{:08x}",
        comet_core::id::random_u32(),
        comet_core::id::random_u32()
    )
}

impl Invites<'_> {
    /// The link that carries `token`: `<Site_Url>/invite/<token>`.
    fn url_for(&self, token: &str) -> String {
        let site = self.ctx.setting_str("Site_Url");
        format!("{}/invite/{token}", site.trim_end_matches('/'))
    }

    /// `findOrCreateInvite`: the caller's unexpired invite to a room they are in with these
    /// limits, or a new one; either way with a new token.
    pub async fn find_or_create(
        &self,
        session: &Session,
        room_id: &str,
        days: i64,
        max_uses: i64,
    ) -> Result<IssuedInvite> {
        if room_id.is_empty() {
            return Err(
                Error::meteor("error-the-field-is-required", "The field rid is required")
                    .with_details(json!({"method": "findOrCreateInvite", "field": "rid"})),
            );
        }
        if !self
            .ctx
            .rooms()
            .has_room_permission(&session.user, PERMISSION, room_id)
            .await?
        {
            return Err(not_authorized());
        }
        let store = &self.ctx.store;
        if store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?
            .is_none()
        {
            return Err(invalid_room());
        }
        let Some(room) = store.room_by_id(room_id).await.map_err(store_error)? else {
            return Err(invalid_room());
        };
        if room.room_type == RoomType::Direct {
            return Err(Error::meteor(
                "error-room-type-not-allowed",
                "Cannot create invite links for this room type",
            )
            .with_details(json!({"method": "findOrCreateInvite"})));
        }
        if !INVITE_DAYS.contains(&days) {
            return Err(Error::meteor(
                "invalid-number-of-days",
                "Invite should expire in 1, 7, 15 or 30 days, or send 0 to never expire.",
            ));
        }
        if !INVITE_MAX_USES.contains(&max_uses) {
            return Err(Error::meteor(
                "invalid-number-of-uses",
                "Invite should be valid for 1, 5, 10, 25, 50, 100 or infinite (0) uses.",
            ));
        }
        let at = now();
        let token = comet_core::id::new_secret();
        let digest = |invite_id: &str| InviteToken {
            token_hash: sha256_hex(&token),
            invite_id: invite_id.to_owned(),
            created_at: at,
        };
        if let Some(existing) = store
            .reusable_invite(&session.user.id, room_id, max_uses, days, at)
            .await
            .map_err(store_error)?
            && store
                .add_invite_token(&digest(&existing.id))
                .await
                .map_err(store_error)?
        {
            self.ctx
                .audit_by(
                    session,
                    "invite.reissue",
                    AuditTarget::room(&room),
                    None,
                    Some(audit_fields(&existing)),
                )
                .await?;
            let url = self.url_for(&token);
            return Ok(IssuedInvite {
                invite: existing,
                token,
                url,
            });
        }
        let invite = Invite {
            id: new_invite_id(),
            room_id: room.id.clone(),
            user_id: session.user.id.clone(),
            days,
            max_uses,
            uses: 0,
            expires: (days > 0).then(|| at + chrono::Duration::days(days)),
            created_at: at,
            updated_at: at,
        };
        store
            .insert_invite(&invite, &digest(&invite.id))
            .await
            .map_err(store_error)?;
        self.ctx
            .audit_by(
                session,
                "invite.create",
                AuditTarget::room(&room),
                None,
                Some(audit_fields(&invite)),
            )
            .await?;
        let url = self.url_for(&token);
        Ok(IssuedInvite { invite, token, url })
    }

    /// `sendInvitationEmail`: mails each well-formed address an invitation to the workspace
    /// with a link to registration; the addresses queued. Refusals are upstream's (its route
    /// answers a thrown error's message as a bare failure).
    pub async fn send_invitation_emails(
        &self,
        session: &Session,
        emails: &[String],
    ) -> Result<Vec<String>> {
        if !self.ctx.has_permission(&session.user, "bulk-register-user") {
            return Err(Error::failure("Not allowed [error-not-allowed]"));
        }
        let valid: Vec<String> = emails
            .iter()
            .map(|e| e.trim())
            .filter(|e| comet_core::validate::is_valid_email(e))
            .map(str::to_owned)
            .collect();
        if valid.is_empty() {
            return Err(Error::failure(
                "No valid email addresses [error-email-send-failed]",
            ));
        }
        let site = self.ctx.setting_str("Site_Url");
        let url = format!("{}/register", site.trim_end_matches('/'));
        let site_name = self.ctx.setting_str("Site_Name");
        let inviter = if session.user.name.trim().is_empty() {
            session.user.username.clone()
        } else {
            session.user.name.clone()
        };
        let language = crate::mail_templates::MailLanguage::pick([Some(
            self.ctx.setting_str("Language").as_str(),
        )]);
        let mut sent = Vec::with_capacity(valid.len());
        for email in valid {
            let mail = crate::mail_templates::render(
                crate::mail_templates::MailKind::Invitation,
                language,
                &site_name,
                &inviter,
                &url,
            );
            if self.ctx.queue_mail(&email, mail).await? {
                sent.push(email);
            }
        }
        Ok(sent)
    }

    /// `listInvites`: every invite, for holders of `create-invite-links`.
    pub async fn list(&self, session: &Session) -> Result<Vec<Invite>> {
        if !self.ctx.has_permission(&session.user, PERMISSION) {
            return Err(not_authorized());
        }
        self.ctx.store.invites().await.map_err(store_error)
    }

    /// `removeInvite/:_id`.
    pub async fn remove(&self, session: &Session, invite_id: &str) -> Result<()> {
        if !self.ctx.has_permission(&session.user, PERMISSION) {
            return Err(not_authorized());
        }
        if invite_id.is_empty() {
            return Err(
                Error::meteor("error-the-field-is-required", "The field _id is required")
                    .with_details(json!({"method": "removeInvite", "field": "_id"})),
            );
        }
        let store = &self.ctx.store;
        let gone = || {
            Error::meteor("invalid-invitation-id", "Invalid Invitation _id")
                .with_details(json!({"method": "removeInvite"}))
        };
        let Some(invite) = store.invite_by_id(invite_id).await.map_err(store_error)? else {
            return Err(gone());
        };
        if !store.delete_invite(invite_id).await.map_err(store_error)? {
            return Err(gone());
        }
        let room = store
            .room_by_id(&invite.room_id)
            .await
            .map_err(store_error)?;
        let target = match &room {
            Some(room) => AuditTarget::room(room),
            None => AuditTarget::new("room", &invite.room_id, None),
        };
        self.ctx
            .audit_by(
                session,
                "invite.remove",
                target,
                Some(audit_fields(&invite)),
                None,
            )
            .await
    }

    /// Upstream's `validateInviteToken`: the invite a token leads to and its room, refused
    /// when unknown, expired or used up. `method` names the caller in the errors' details.
    pub async fn validate(&self, token: &str, method: &'static str) -> Result<(Invite, Room)> {
        if token.is_empty() {
            return Err(invalid_token(method));
        }
        let store = &self.ctx.store;
        let Some(invite) = store
            .invite_by_token_hash(&sha256_hex(token))
            .await
            .map_err(store_error)?
        else {
            return Err(invalid_token(method));
        };
        let Some(room) = store
            .room_by_id(&invite.room_id)
            .await
            .map_err(store_error)?
        else {
            return Err(
                Error::meteor("error-invalid-room", "The invite token is invalid.")
                    .with_details(json!({"method": method, "field": "rid"})),
            );
        };
        let expired = |field: &str| {
            Error::meteor("error-invite-expired", "The invite token has expired.")
                .with_details(json!({"method": method, "field": field}))
        };
        if invite.expires.is_some_and(|expires| expires <= now()) {
            return Err(expired("expires"));
        }
        if invite.max_uses > 0 && invite.uses >= invite.max_uses {
            return Err(expired("maxUses"));
        }
        Ok((invite, room))
    }

    /// `validateInviteToken`: whether a token may be used now. Never fails on the token.
    pub async fn is_valid(&self, token: &str) -> bool {
        self.validate(token, "validateInviteToken").await.is_ok()
    }

    /// `useInviteToken`: joins the caller to the invite's room (a use is counted only for
    /// someone not yet in it).
    pub async fn use_token(&self, session: &Session, token: &str) -> Result<InvitedRoom> {
        if token.is_empty() {
            return Err(invalid_token("useInviteToken"));
        }
        let (invite, room) = self.validate(token, "useInviteToken").await?;
        if room.room_type == RoomType::Direct {
            return Err(Error::meteor(
                "error-room-type-not-allowed",
                "Can't join room of this type via invite",
            )
            .with_details(json!({"method": "useInviteToken", "field": "token"})));
        }
        let store = &self.ctx.store;
        let rooms = self.ctx.rooms();
        if store
            .subscription(&room.id, &session.user.id)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Ok(InvitedRoom { room });
        }
        if rooms.is_banned(&room.id, &session.user.id).await? {
            return Err(
                Error::meteor("error-user-is-banned", "User is banned from this room")
                    .with_details(json!({"method": "addUserToRoom"})),
            );
        }
        self.ctx.check_rooms_joined(&session.user).await?;
        let at = now();
        if !store
            .take_invite_use(&invite.id, at)
            .await
            .map_err(store_error)?
        {
            // Its last use went to someone else since it was validated.
            return Err(
                Error::meteor("error-invite-expired", "The invite token has expired.")
                    .with_details(json!({"method": "useInviteToken", "field": "maxUses"})),
            );
        }
        let subscription = rooms.joining_subscription(&room, &session.user, at);
        let message = system_message("uj", &room.id, &session.user, &session.user.username, at);
        rooms.add_member(&room, subscription, message).await?;
        Ok(InvitedRoom { room })
    }
}

/// What the audit log keeps of an invite (never a token).
fn audit_fields(invite: &Invite) -> Value {
    json!({
        "_id": invite.id,
        "days": invite.days,
        "maxUses": invite.max_uses,
        "expires": invite.expires.map(|t: Timestamp| t.to_rfc3339()),
    })
}
