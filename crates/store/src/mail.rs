//! Outgoing mail and the single-use tokens that mailed links carry.
//!
//! Mail waits in `mail_queue` until a worker delivers it: a mail server that is down delays
//! mail and loses none. Workers on several instances may run at once; each message is
//! claimed (its next attempt pushed past a lease) before it is sent, so only one instance
//! sends it at a time.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;

/// One message waiting to be delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub id: String,
    pub recipient: String,
    pub subject: String,
    pub text_body: String,
    pub html_body: String,
    pub created_at: Timestamp,
    /// Not to be tried before this time (a retry's backoff, or a claim's lease).
    pub next_attempt_at: Timestamp,
    /// Failed attempts so far.
    pub attempts: u32,
    pub last_error: Option<String>,
}

/// What an email token proves: that its holder reads the address (verification), or may set
/// the account's password (reset).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EmailTokenKind {
    VerifyEmail,
    ResetPassword,
}

impl EmailTokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EmailTokenKind::VerifyEmail => "verify-email",
            EmailTokenKind::ResetPassword => "reset-password",
        }
    }

    pub fn parse(text: &str) -> Option<EmailTokenKind> {
        match text {
            "verify-email" => Some(EmailTokenKind::VerifyEmail),
            "reset-password" => Some(EmailTokenKind::ResetPassword),
            _ => None,
        }
    }
}

/// A token sent by mail, stored as the SHA-256 of the token (never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailToken {
    pub hashed_token: String,
    pub kind: EmailTokenKind,
    pub user_id: String,
    /// The address the token was mailed to.
    pub address: String,
    pub created_at: Timestamp,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait MailStore: Send + Sync {
    /// Queues a message unless `capacity` messages already wait; false (nothing queued) when
    /// the queue is full.
    async fn enqueue_mail(&self, mail: &QueuedMail, capacity: u64) -> StoreResult<bool>;
    /// Claims up to `limit` messages due at `now`, oldest attempt first, by moving their next
    /// attempt to `lease_until`; returns them as claimed, oldest first. A message claimed by
    /// one caller is not returned to another until its lease ends.
    async fn claim_due_mail(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u64,
    ) -> StoreResult<Vec<QueuedMail>>;
    /// Removes a delivered (or abandoned) message.
    async fn remove_mail(&self, id: &str) -> StoreResult<()>;
    /// Records a failed attempt: one more attempt, the error, and when to try again.
    async fn mail_attempt_failed(
        &self,
        id: &str,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> StoreResult<()>;
    /// How many messages wait.
    async fn pending_mail_count(&self) -> StoreResult<u64>;

    /// Stores a token, first removing the user's other tokens of its kind (only the latest
    /// mailed link works).
    async fn replace_email_token(&self, token: &EmailToken) -> StoreResult<()>;
    /// Removes and returns the token with this hash and kind: a token is used at most once,
    /// even by callers racing with it. Expired tokens are returned too; the caller decides.
    async fn take_email_token(
        &self,
        hashed_token: &str,
        kind: EmailTokenKind,
    ) -> StoreResult<Option<EmailToken>>;
    /// Removes tokens that expired before `cutoff`; how many.
    async fn delete_expired_email_tokens(&self, cutoff: Timestamp) -> StoreResult<u64>;
}
