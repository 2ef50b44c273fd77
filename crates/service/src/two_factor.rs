//! The TOTP second factor (upstream's `2fa:*` methods and `TOTPCheck`): enrolment with a
//! shared secret confirmed by a first code, single-use backup codes, and checking a code
//! at login and on sensitive calls. Secrets are sealed at rest (`secrets.rs`); backup codes
//! are kept as SHA-256 digests, as upstream.

use crate::auth::Session;
use crate::{Accounts, store_error};
use comet_core::totp;
use comet_core::{Error, Result, now};
use comet_store::UserTotp;

/// What `2fa:enable` answers: the secret to type in, and the URL a QR code carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TotpEnrolment {
    pub secret: String,
    pub url: String,
}

/// The sealing context of a user's TOTP secrets: a sealed secret opens only on its own row.
fn seal_context(user_id: &str) -> String {
    format!("totp:{user_id}")
}

fn invalid_totp() -> Error {
    Error::meteor("invalid-totp", "")
}

impl Accounts<'_> {
    async fn totp_state(&self, user_id: &str) -> Result<Option<UserTotp>> {
        self.ctx.store.user_totp(user_id).await.map_err(store_error)
    }

    /// The user's TOTP when it is a second factor they can use now: enrolled, and
    /// `Accounts_TwoFactorAuthentication_By_TOTP_Enabled` on (upstream's `TOTPCheck.isEnabled`).
    pub(crate) async fn active_totp(&self, user_id: &str) -> Result<Option<UserTotp>> {
        if !self
            .ctx
            .setting_bool("Accounts_TwoFactorAuthentication_By_TOTP_Enabled")
        {
            return Ok(None);
        }
        Ok(self.totp_state(user_id).await?.filter(|t| t.enabled))
    }

    /// Whether the user has enabled TOTP (`services.totp.enabled` of `me`).
    pub async fn totp_enabled(&self, user_id: &str) -> Result<bool> {
        Ok(self.totp_state(user_id).await?.is_some_and(|t| t.enabled))
    }

    /// Checks `code` against an enabled TOTP: an eight-character code only as a backup code
    /// (used up when it matches), any other as the code of the moment within
    /// `Accounts_TwoFactorAuthentication_MaxDelta` steps, as upstream's `TOTP.verify`.
    pub(crate) async fn verify_totp(&self, state: &UserTotp, code: &str) -> Result<bool> {
        if !state.enabled {
            return Ok(false);
        }
        if totp::is_backup_code_shape(code) {
            return self
                .ctx
                .store
                .use_backup_code(&state.user_id, &totp::backup_code_hash(code))
                .await
                .map_err(store_error);
        }
        let Some(sealed) = &state.secret else {
            return Ok(false);
        };
        let secret = self
            .ctx
            .config
            .secret_key
            .open(sealed, &seal_context(&state.user_id))?;
        Ok(totp::verify(
            &secret,
            code,
            now().timestamp(),
            self.max_delta(),
        ))
    }

    fn max_delta(&self) -> u32 {
        u32::try_from(
            self.ctx
                .setting_int("Accounts_TwoFactorAuthentication_MaxDelta")
                .clamp(0, 10),
        )
        .unwrap_or(0)
    }

    /// `2fa:enable`: a new secret waiting for its first code. An enabled TOTP stays as it is
    /// until the new secret is confirmed (upstream turns it off here, which would let a
    /// session disable the second factor without a code).
    pub async fn enable_totp(&self, session: &Session) -> Result<TotpEnrolment> {
        let user = &session.user;
        let invalid_user = |reason: &'static str| {
            Error::meteor("error-invalid-user", reason)
                .with_details(serde_json::json!({"method": "2fa:enable"}))
        };
        if user.username.is_empty() {
            return Err(invalid_user("Invalid user"));
        }
        if user.email.as_ref().is_some_and(|e| !e.verified) {
            return Err(invalid_user(
                "You need to verify your emails before setting up 2FA",
            ));
        }
        let secret = totp::new_secret();
        let sealed = self
            .ctx
            .config
            .secret_key
            .seal(&secret, &seal_context(&user.id))?;
        self.ctx
            .store
            .set_totp_temp_secret(&user.id, &sealed, now())
            .await
            .map_err(store_error)?;
        let issuer = match self.ctx.setting_str("Site_Name") {
            name if name.trim().is_empty() => "Rocket.Chat".to_owned(),
            name => name,
        };
        let url = totp::otpauth_url(&secret, &user.username, &issuer);
        Ok(TotpEnrolment { secret, url })
    }

    /// `2fa:validateTempToken`: confirms the enrolment with a code of the new secret, enables
    /// it with twelve new backup codes (answered once) and ends the user's other sessions,
    /// as upstream.
    pub async fn validate_totp_temp_token(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<Vec<String>> {
        let user_id = session.user_id();
        let state = self.totp_state(user_id).await?;
        let Some(sealed) = state.and_then(|s| s.temp_secret) else {
            return Err(invalid_totp());
        };
        let secret = self
            .ctx
            .config
            .secret_key
            .open(&sealed, &seal_context(user_id))?;
        if !totp::verify(&secret, code, now().timestamp(), self.max_delta()) {
            return Err(invalid_totp());
        }
        let (codes, hashes) = totp::new_backup_codes();
        let enabled = self
            .ctx
            .store
            .enable_totp(user_id, &sealed, &hashes, now())
            .await
            .map_err(store_error)?;
        if !enabled {
            // Another enrolment replaced this secret meanwhile.
            return Err(invalid_totp());
        }
        self.end_sessions(user_id, Some(&session.token.hashed_token))
            .await?;
        self.ctx
            .audit_by(
                session,
                "user.2fa.enable",
                crate::audit::AuditTarget::user(&session.user),
                None,
                Some(serde_json::json!({"method": "totp"})),
            )
            .await?;
        Ok(codes)
    }

    /// `2fa:disable`: turns TOTP off given a code or a backup code; false (upstream's answer)
    /// for a wrong one.
    pub async fn disable_totp(&self, session: &Session, code: &str) -> Result<bool> {
        let user_id = session.user_id();
        let Some(state) = self.totp_state(user_id).await?.filter(|s| s.enabled) else {
            return Ok(false);
        };
        if !self.verify_totp(&state, code).await? {
            return Ok(false);
        }
        let disabled = self
            .ctx
            .store
            .disable_totp(user_id)
            .await
            .map_err(store_error)?;
        if disabled {
            self.ctx.publish(comet_events::Event::SessionsStale {
                user_id: Some(user_id.to_owned()),
            });
            self.ctx
                .audit_by(
                    session,
                    "user.2fa.disable",
                    crate::audit::AuditTarget::user(&session.user),
                    Some(serde_json::json!({"method": "totp"})),
                    None,
                )
                .await?;
        }
        Ok(disabled)
    }

    /// `2fa:regenerateCodes`: twelve new backup codes given a code; `None` (upstream answers
    /// nothing) for a wrong one.
    pub async fn regenerate_totp_codes(
        &self,
        session: &Session,
        code: &str,
    ) -> Result<Option<Vec<String>>> {
        let user_id = session.user_id();
        let Some(state) = self.totp_state(user_id).await?.filter(|s| s.enabled) else {
            return Err(invalid_totp());
        };
        if !self.verify_totp(&state, code).await? {
            return Ok(None);
        }
        let (codes, hashes) = totp::new_backup_codes();
        let replaced = self
            .ctx
            .store
            .replace_backup_codes(user_id, &hashes, now())
            .await
            .map_err(store_error)?;
        Ok(replaced.then_some(codes))
    }

    /// `2fa:checkCodesRemaining`: how many backup codes are left.
    pub async fn totp_codes_remaining(&self, session: &Session) -> Result<usize> {
        let Some(state) = self
            .totp_state(session.user_id())
            .await?
            .filter(|s| s.enabled)
        else {
            return Err(invalid_totp());
        };
        Ok(state.backup_codes.len())
    }
}
