//! The second factor by email (upstream's `EmailCheck`): a six-digit code mailed to the user's
//! verified address when a login or a sensitive call asks for it, kept as a bcrypt hash, used
//! once and only until `Accounts_TwoFactorAuthentication_By_Email_Code_Expiration` seconds
//! have passed. `users.2fa.enableEmail` / `disableEmail` turn it on and off,
//! `users.2fa.sendEmailCode` mails a code on request.

use crate::auth::Session;
use crate::hashing::{hash_digest, verify_digest};
use crate::mail_templates::{MailKind, MailLanguage, render};
use crate::{Accounts, store_error};
use comet_core::user::User;
use comet_core::{Error, Result, now};
use serde_json::{Map, Value, json};

/// bcrypt cost of a code's hash: the code lives minutes and is used once.
const CODE_HASH_COST: u32 = 8;

/// What the `totp-required` details of the email method add (upstream's
/// `processInvalidCode`): who the code went to and whether one was mailed just now.
fn invalid_code_details(
    email_or_username: &str,
    generated: bool,
    expires: Option<comet_core::Timestamp>,
) -> Map<String, Value> {
    let mut details = Map::new();
    details.insert("emailOrUsername".into(), json!(email_or_username));
    details.insert("codeGenerated".into(), json!(generated));
    if let Some(expires) = expires {
        details.insert(
            "codeExpires".into(),
            json!(expires.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
        );
    }
    details
}

fn verified_address(user: &User) -> Option<&str> {
    user.email
        .as_ref()
        .filter(|e| e.verified)
        .map(|e| e.address.as_str())
}

impl Accounts<'_> {
    /// Whether the user has turned on codes by email (`services.email2fa.enabled` of `me`).
    pub async fn email_two_factor_enabled(&self, user_id: &str) -> Result<bool> {
        Ok(self
            .ctx
            .store
            .email_two_factor(user_id)
            .await
            .map_err(store_error)?
            .is_some_and(|s| s.enabled))
    }

    /// Upstream's `EmailCheck.isEnabled`: the setting on, the user opted in, and a verified
    /// address to mail codes to.
    pub(crate) async fn email_two_factor_active(&self, user: &User) -> Result<bool> {
        if !self
            .ctx
            .setting_bool("Accounts_TwoFactorAuthentication_By_Email_Enabled")
            || verified_address(user).is_none()
        {
            return Ok(false);
        }
        self.email_two_factor_enabled(&user.id).await
    }

    /// `users.2fa.enableEmail`: turns codes by email on and ends the user's other sessions,
    /// as upstream.
    pub async fn enable_email_two_factor(&self, session: &Session) -> Result<()> {
        let user_id = session.user_id();
        self.ctx
            .store
            .set_email_two_factor_enabled(user_id, true, now())
            .await
            .map_err(store_error)?;
        self.end_sessions(user_id, Some(&session.token.hashed_token))
            .await?;
        self.ctx
            .audit_by(
                session,
                "user.2fa.enable",
                crate::audit::AuditTarget::user(&session.user),
                None,
                Some(json!({"method": "email"})),
            )
            .await
    }

    /// `users.2fa.disableEmail` (its route asks the second factor first).
    pub async fn disable_email_two_factor(&self, session: &Session) -> Result<()> {
        self.ctx
            .store
            .set_email_two_factor_enabled(session.user_id(), false, now())
            .await
            .map_err(store_error)?;
        self.ctx.publish(comet_events::Event::SessionsStale {
            user_id: Some(session.user_id().to_owned()),
        });
        self.ctx
            .audit_by(
                session,
                "user.2fa.disable",
                crate::audit::AuditTarget::user(&session.user),
                Some(json!({"method": "email"})),
                None,
            )
            .await
    }

    /// `users.2fa.sendEmailCode`: mails a code to the caller, else to the account with this
    /// address or username. Answers the same whether or not there is one, so that nobody
    /// learns from it which accounts exist.
    pub async fn send_email_code_on_request(
        &self,
        caller: Option<&User>,
        email_or_username: &str,
    ) -> Result<()> {
        if email_or_username.is_empty() {
            return Err(Error::meteor(
                "error-parameter-required",
                "emailOrUsername is required",
            ));
        }
        let user = match caller {
            Some(user) => Some(user.clone()),
            None if email_or_username.contains('@') => self
                .ctx
                .store
                .user_by_email(email_or_username.trim())
                .await
                .map_err(store_error)?,
            None => self
                .ctx
                .store
                .user_by_username(email_or_username.trim())
                .await
                .map_err(store_error)?,
        };
        match user {
            Some(user) => self.mail_email_code(&user).await,
            None => {
                tracing::info!("2fa: no user for an email code request");
                Ok(())
            }
        }
    }

    /// Upstream's `sendEmailCode`: a new code replaces any earlier one and goes to the
    /// verified address (none: nothing is mailed, as upstream).
    async fn mail_email_code(&self, user: &User) -> Result<()> {
        let code = format!("{:06}", comet_core::id::random_u32() % 1_000_000);
        let hash = hash_digest(
            code.clone(),
            self.ctx.config.bcrypt_cost.min(CODE_HASH_COST),
        )
        .await?;
        let lifetime = self
            .ctx
            .setting_int("Accounts_TwoFactorAuthentication_By_Email_Code_Expiration")
            .clamp(1, 86_400);
        let at = now();
        self.ctx
            .store
            .set_email_code(
                &user.id,
                &hash,
                at + chrono::Duration::seconds(lifetime),
                at,
            )
            .await
            .map_err(store_error)?;
        let Some(address) = verified_address(user) else {
            return Ok(());
        };
        let shown = format!("{}-{}", &code[..3], &code[3..]);
        let server_language = self.ctx.setting_str("Language");
        let language =
            MailLanguage::pick([user.language.as_deref(), Some(server_language.as_str())]);
        let name = if user.name.trim().is_empty() {
            &user.username
        } else {
            &user.name
        };
        let mail = render(
            MailKind::TwoFactorCode,
            language,
            &self.ctx.setting_str("Site_Name"),
            name,
            &shown,
        );
        self.ctx.queue_mail(address, mail).await?;
        Ok(())
    }

    /// Upstream's `processInvalidCode` for email: forgets an expired code, mails a new one
    /// unless one is still good, and says which it did.
    pub(crate) async fn email_code_details(&self, user: &User) -> Result<Map<String, Value>> {
        let at = now();
        self.ctx
            .store
            .remove_expired_email_code(&user.id, at)
            .await
            .map_err(store_error)?;
        let email_or_username = if user.username.is_empty() {
            verified_address(user).unwrap_or_default().to_owned()
        } else {
            user.username.clone()
        };
        let state = self
            .ctx
            .store
            .email_two_factor(&user.id)
            .await
            .map_err(store_error)?;
        let waiting = state
            .filter(|s| s.code_hash.is_some())
            .and_then(|s| s.code_expires_at)
            .filter(|expires| *expires > at);
        if let Some(expires) = waiting {
            return Ok(invalid_code_details(
                &email_or_username,
                false,
                Some(expires),
            ));
        }
        self.mail_email_code(user).await?;
        Ok(invalid_code_details(&email_or_username, true, None))
    }

    /// Upstream's `EmailCheck.verify`: the code mailed last, unexpired, matches (digits only
    /// count, so "123-456" and "123456" are the same code); it is used up when it does.
    pub(crate) async fn verify_email_code(&self, user: &User, code: &str) -> Result<bool> {
        if !self.email_two_factor_active(user).await? {
            return Ok(false);
        }
        let digits: String = code.chars().filter(char::is_ascii_digit).collect();
        let Some(state) = self
            .ctx
            .store
            .email_two_factor(&user.id)
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        let (Some(hash), Some(expires)) = (state.code_hash, state.code_expires_at) else {
            return Ok(false);
        };
        if expires <= now() || digits.is_empty() {
            return Ok(false);
        }
        if !verify_digest(digits, hash.clone()).await? {
            return Ok(false);
        }
        self.ctx
            .store
            .use_email_code(&user.id, &hash)
            .await
            .map_err(store_error)
    }
}
