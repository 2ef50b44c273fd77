//! Flows that work through a mailed link: email verification (`users.sendConfirmationEmail`,
//! the mail sent at sign-up, Meteor's `verifyEmail`) and password reset
//! (`users.forgotPassword`, Meteor's `resetPassword`).
//!
//! A link carries a random 43-character token; the store keeps only its SHA-256, one per user
//! and purpose (a new mail makes the previous link useless). Using a token deletes it, so a
//! link works once; a reset link works for `RESET_TOKEN_LIFETIME`, a verification link for
//! `VERIFY_TOKEN_LIFETIME`. Both flows log the user in, as Meteor's methods do.

use crate::auth::{LoginResult, PasswordInput};
use crate::mail_templates::{MailKind, MailLanguage, render};
use crate::{Accounts, ClientInfo, store_error};
use comet_core::password::hash_login_token;
use comet_core::user::User;
use comet_core::{Error, Result, id, now};
use comet_store::{EmailToken, EmailTokenKind};

/// How long a password reset link works.
pub const RESET_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::hours(1);
/// How long an email verification link works.
pub const VERIFY_TOKEN_LIFETIME: chrono::Duration = chrono::Duration::days(3);

impl Accounts<'_> {
    /// Mails `user` a link that verifies `address`. False when mail is off or the queue is
    /// full (logged).
    pub(crate) async fn send_verification_email(&self, user: &User, address: &str) -> Result<bool> {
        let token = self
            .issue_email_token(user, address, EmailTokenKind::VerifyEmail)
            .await?;
        let url = format!("{}/verify-email/{token}", self.site_url());
        let mail = render(
            MailKind::VerifyEmail,
            self.mail_language(user),
            &self.ctx.setting_str("Site_Name"),
            display_name(user),
            &url,
        );
        self.ctx.queue_mail(address, mail).await
    }

    /// After an email change: with `Accounts_EmailVerification` on, the new address (left
    /// unverified by the change) is mailed a link that verifies it.
    pub(crate) async fn mail_changed_email_verification(&self, user: &User) -> Result<()> {
        if !self.ctx.setting_bool("Accounts_EmailVerification") {
            return Ok(());
        }
        let Some(email) = user.email.as_ref().filter(|e| !e.verified) else {
            return Ok(());
        };
        self.send_verification_email(user, &email.address).await?;
        Ok(())
    }

    /// `users.sendConfirmationEmail`: mails a verification link to the account with this
    /// address. False when no account has it, as upstream answers a bare failure then.
    pub async fn send_confirmation_email(&self, email: &str) -> Result<bool> {
        let email = email.trim();
        let Some(user) = self
            .ctx
            .store
            .user_by_email(email)
            .await
            .map_err(store_error)?
        else {
            return Ok(false);
        };
        let address = user
            .email
            .as_ref()
            .map_or_else(|| email.to_owned(), |e| e.address.clone());
        self.send_verification_email(&user, &address).await?;
        Ok(true)
    }

    /// `users.forgotPassword`: mails a reset link to the account with this address, if there
    /// is one. Succeeds either way, so that the answer tells nobody whether an address has an
    /// account.
    pub async fn forgot_password(&self, email: Option<&str>) -> Result<()> {
        if !self.ctx.setting_bool("Accounts_PasswordReset") {
            return Err(Error::failure("Password reset is not enabled"));
        }
        let Some(email) = email.filter(|e| !e.is_empty()) else {
            return Err(Error::failure("The 'email' param is required"));
        };
        let email = email.trim().to_lowercase();
        let user = self
            .ctx
            .store
            .user_by_email(&email)
            .await
            .map_err(store_error)?;
        let Some(user) = user else {
            return Ok(());
        };
        let token = self
            .issue_email_token(&user, &email, EmailTokenKind::ResetPassword)
            .await?;
        let url = format!("{}/reset-password/{token}", self.site_url());
        let mail = render(
            MailKind::ResetPassword,
            self.mail_language(&user),
            &self.ctx.setting_str("Site_Name"),
            display_name(&user),
            &url,
        );
        self.ctx.queue_mail(&email, mail).await?;
        Ok(())
    }

    /// Meteor's `verifyEmail(token)`: marks the address the link was mailed to as verified
    /// and logs its owner in.
    pub async fn verify_email(&self, token: &str, client: &ClientInfo) -> Result<LoginResult> {
        let expired = || Error::meteor("403", "Verify email link expired");
        let record = self
            .take_email_token(token, EmailTokenKind::VerifyEmail)
            .await?
            .ok_or_else(expired)?;
        let mut user = self
            .ctx
            .store
            .user_by_id(&record.user_id)
            .await
            .map_err(store_error)?
            .ok_or_else(expired)?;
        let Some(email) = user
            .email
            .as_mut()
            .filter(|e| e.address.eq_ignore_ascii_case(&record.address))
        else {
            return Err(Error::meteor(
                "403",
                "Verify email link is for unknown address",
            ));
        };
        email.verified = true;
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        self.ctx
            .publish(comet_events::Event::UserChanged(Box::new(user.clone())));
        self.log_in_by_link(user, client).await
    }

    /// Meteor's `resetPassword(token, newPassword)`: sets the password, verifies the address
    /// the link was mailed to, ends every other session and logs the user in.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: PasswordInput,
        client: &ClientInfo,
    ) -> Result<LoginResult> {
        // Checked before the token is used, so a password the policy refuses keeps the link
        // working for a better one.
        if let PasswordInput::Plain(plain) = &new_password {
            self.check_password_policy(plain)?;
        }
        let expired = || Error::meteor("403", "Token expired");
        let record = self
            .take_email_token(token, EmailTokenKind::ResetPassword)
            .await?
            .ok_or_else(expired)?;
        let mut user = self
            .ctx
            .store
            .user_by_id(&record.user_id)
            .await
            .map_err(store_error)?
            .ok_or_else(expired)?;
        let Some(email) = user
            .email
            .as_mut()
            .filter(|e| e.address.eq_ignore_ascii_case(&record.address))
        else {
            return Err(Error::meteor("403", "Token has invalid email address"));
        };
        email.verified = true;
        user.password_bcrypt = Some(self.hash_password(&new_password).await?);
        user.require_password_change = false;
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        self.ctx
            .store
            .delete_login_tokens(&user.id, None)
            .await
            .map_err(store_error)?;
        self.ctx
            .publish(comet_events::Event::UserChanged(Box::new(user.clone())));
        self.log_in_by_link(user, client).await
    }

    /// The login that follows a used link, refused as a password login would be for an
    /// account that may not log in.
    async fn log_in_by_link(&self, user: User, _client: &ClientInfo) -> Result<LoginResult> {
        if !user.active {
            return Err(Error::login_failed(
                "error-user-is-not-activated",
                "User is not activated",
            ));
        }
        self.issue_login(user).await
    }

    async fn issue_email_token(
        &self,
        user: &User,
        address: &str,
        kind: EmailTokenKind,
    ) -> Result<String> {
        let token = id::new_secret();
        let created_at = now();
        let lifetime = match kind {
            EmailTokenKind::VerifyEmail => VERIFY_TOKEN_LIFETIME,
            EmailTokenKind::ResetPassword => RESET_TOKEN_LIFETIME,
        };
        self.ctx
            .store
            .replace_email_token(&EmailToken {
                hashed_token: hash_login_token(&token),
                kind,
                user_id: user.id.clone(),
                address: address.to_owned(),
                created_at,
                expires_at: created_at + lifetime,
            })
            .await
            .map_err(store_error)?;
        Ok(token)
    }

    /// The token's record if it exists and has not expired; it is used up either way.
    async fn take_email_token(
        &self,
        token: &str,
        kind: EmailTokenKind,
    ) -> Result<Option<EmailToken>> {
        if token.is_empty() {
            return Ok(None);
        }
        let record = self
            .ctx
            .store
            .take_email_token(&hash_login_token(token), kind)
            .await
            .map_err(store_error)?;
        Ok(record.filter(|r| r.expires_at > now()))
    }

    pub(crate) fn site_url(&self) -> String {
        self.ctx
            .setting_str("Site_Url")
            .trim_end_matches('/')
            .to_owned()
    }

    pub(crate) fn mail_language(&self, user: &User) -> MailLanguage {
        let server = self.ctx.setting_str("Language");
        MailLanguage::pick([user.language.as_deref(), Some(server.as_str())])
    }

    /// Removes email tokens that expired; run periodically.
    pub async fn purge_expired_email_tokens(&self) -> Result<u64> {
        self.ctx
            .store
            .delete_expired_email_tokens(now())
            .await
            .map_err(store_error)
    }
}

pub(crate) fn display_name(user: &User) -> &str {
    if user.name.trim().is_empty() {
        &user.username
    } else {
        &user.name
    }
}
