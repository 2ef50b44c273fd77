//! A user's TOTP second factor (upstream's `services.totp`): the shared secret, a secret
//! waiting for its first code during enrolment, and the digests of the unused backup codes.
//! Secrets arrive here already sealed by the service; the store never sees them in clear.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;

/// One user's TOTP state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserTotp {
    pub user_id: String,
    /// The sealed secret codes are checked against while `enabled`.
    pub secret: Option<String>,
    /// The sealed secret of an enrolment that has not been confirmed with a code yet.
    pub temp_secret: Option<String>,
    pub enabled: bool,
    /// SHA-256 hex digests of the backup codes not yet used.
    pub backup_codes: Vec<String>,
    pub updated_at: Timestamp,
}

/// One user's second factor by email: whether it is on, and the code mailed last (a bcrypt
/// hash) until it is used or expires.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTwoFactor {
    pub user_id: String,
    pub enabled: bool,
    pub code_hash: Option<String>,
    pub code_expires_at: Option<Timestamp>,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait TwoFactorStore: Send + Sync {
    async fn user_totp(&self, user_id: &str) -> StoreResult<Option<UserTotp>>;
    /// Starts (or restarts) an enrolment: keeps whatever is enabled and sets the secret
    /// waiting for confirmation.
    async fn set_totp_temp_secret(
        &self,
        user_id: &str,
        temp_secret: &str,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Confirms an enrolment: `secret` becomes the enabled one with `backup_codes`, the waiting
    /// secret is cleared. False, with nothing changed, when no secret was waiting or another
    /// one has replaced `expected_temp_secret` meanwhile.
    async fn enable_totp(
        &self,
        user_id: &str,
        expected_temp_secret: &str,
        backup_codes: &[String],
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Removes the user's TOTP state; false when there was none enabled.
    async fn disable_totp(&self, user_id: &str) -> StoreResult<bool>;
    /// Replaces the backup codes of an enabled TOTP; false when none is enabled.
    async fn replace_backup_codes(
        &self,
        user_id: &str,
        backup_codes: &[String],
        at: Timestamp,
    ) -> StoreResult<bool>;
    /// Uses up one backup code: true exactly once per code, however many try at once.
    async fn use_backup_code(&self, user_id: &str, code_hash: &str) -> StoreResult<bool>;
    async fn email_two_factor(&self, user_id: &str) -> StoreResult<Option<EmailTwoFactor>>;
    /// Turns the second factor by email on or off (off also forgets a code waiting).
    async fn set_email_two_factor_enabled(
        &self,
        user_id: &str,
        enabled: bool,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Keeps `code_hash` as the user's one code until `expires_at`, replacing any earlier.
    async fn set_email_code(
        &self,
        user_id: &str,
        code_hash: &str,
        expires_at: Timestamp,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// Uses up the code whose hash is `code_hash`: true exactly once, however many try at once.
    async fn use_email_code(&self, user_id: &str, code_hash: &str) -> StoreResult<bool>;
    /// Forgets the user's code once it has expired at `at`.
    async fn remove_expired_email_code(&self, user_id: &str, at: Timestamp) -> StoreResult<()>;
}
