//! Room bans (`rooms.banUser`): who may not be a member of a room until unbanned.
//!
//! Upstream keeps a banned user's subscription with `status: 'BANNED'`; here banning removes
//! the subscription exactly as a kick does (so every member-only read and the realtime
//! removal stay what they are) and records the ban beside it, which joining, inviting and
//! invite links consult.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::room::Message;

/// One user's ban from one room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomBan {
    pub room_id: String,
    pub user_id: String,
    /// The moderator who banned them.
    pub banned_by: String,
    pub banned_at: Timestamp,
}

#[async_trait]
pub trait RoomBanStore: Send + Sync {
    /// Removes a member (and uncounts them, as `remove_member` does), records the ban and
    /// posts the optional system message, atomically. False, with nothing changed, when the
    /// user is not a member.
    async fn ban_member(&self, ban: &RoomBan, message: Option<&Message>) -> StoreResult<bool>;
    /// Lifts a ban and posts the optional system message, atomically. False, with nothing
    /// changed, when there was no ban.
    async fn unban(
        &self,
        room_id: &str,
        user_id: &str,
        message: Option<&Message>,
    ) -> StoreResult<bool>;
    async fn room_ban(&self, room_id: &str, user_id: &str) -> StoreResult<Option<RoomBan>>;
    /// A page of a room's bans, oldest first, and how many there are.
    async fn room_bans(
        &self,
        room_id: &str,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<RoomBan>, u64)>;
}
