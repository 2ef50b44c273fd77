//! Invite links (`findOrCreateInvite`, `useInviteToken`): who may join a room by link, until
//! when and how many times.
//!
//! Tokens are never stored: an invite keeps the SHA-256 digests of the tokens handed out for
//! it, and a token is looked up by its digest.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;

/// An invite, as upstream's `IInvite` without its token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    /// 16 hexadecimal digits, as upstream's.
    pub id: String,
    pub room_id: String,
    /// Who created it.
    pub user_id: String,
    /// 0 for an invite that never expires.
    pub days: i64,
    /// 0 for no limit.
    pub max_uses: i64,
    pub uses: i64,
    pub expires: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The digest of one token handed out for an invite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InviteToken {
    /// SHA-256 of the token, in hexadecimal.
    pub token_hash: String,
    pub invite_id: String,
    pub created_at: Timestamp,
}

#[async_trait]
pub trait InviteStore: Send + Sync {
    /// Inserts an invite with the digest of its first token, atomically.
    async fn insert_invite(&self, invite: &Invite, token: &InviteToken) -> StoreResult<()>;
    /// Adds the digest of another token for an existing invite. False, with nothing written,
    /// when the invite is gone.
    async fn add_invite_token(&self, token: &InviteToken) -> StoreResult<bool>;
    /// The newest invite of `user_id` to `room_id` with these limits that has neither expired
    /// at `now` nor been used up (upstream's `findOneByUserRoomMaxUsesAndExpiration`).
    async fn reusable_invite(
        &self,
        user_id: &str,
        room_id: &str,
        max_uses: i64,
        days: i64,
        now: Timestamp,
    ) -> StoreResult<Option<Invite>>;
    async fn invite_by_id(&self, id: &str) -> StoreResult<Option<Invite>>;
    /// The invite a token (given by its digest) was handed out for.
    async fn invite_by_token_hash(&self, token_hash: &str) -> StoreResult<Option<Invite>>;
    /// Every invite, oldest first.
    async fn invites(&self) -> StoreResult<Vec<Invite>>;
    /// Deletes an invite and its tokens. False when there was none.
    async fn delete_invite(&self, id: &str) -> StoreResult<bool>;
    /// Counts one use of an invite if it has uses left, atomically (two people taking the last
    /// use at once: one succeeds). False when it has none left or is gone.
    async fn take_invite_use(&self, id: &str, at: Timestamp) -> StoreResult<bool>;
}
