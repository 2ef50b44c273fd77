//! Avatars: the records of Rocket.Chat's `rocketchat_avatars` collection, one per user or room
//! that has an image of its own. The bytes live in a blob store; the record says where, what
//! they are, and carries the `avatarETag` clients put in avatar URLs to bust their caches.
//!
//! Upstream keeps `avatarOrigin`/`avatarETag` on the user and `avatarETag` on the room as
//! well; here the avatar record is the one place they live, so that setting or removing an
//! avatar is one atomic write.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;

/// Whose avatar a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AvatarOwner {
    User,
    Room,
}

impl AvatarOwner {
    pub fn as_str(self) -> &'static str {
        match self {
            AvatarOwner::User => "user",
            AvatarOwner::Room => "room",
        }
    }

    pub fn parse(raw: &str) -> Option<AvatarOwner> {
        match raw {
            "user" => Some(AvatarOwner::User),
            "room" => Some(AvatarOwner::Room),
            _ => None,
        }
    }
}

/// One stored avatar image.
#[derive(Debug, Clone, PartialEq)]
pub struct Avatar {
    pub owner: AvatarOwner,
    /// The user's or the room's id.
    pub owner_id: String,
    /// How it was set (`avatarOrigin`): `upload`, `url`, `rest`, or a service name.
    pub origin: String,
    /// The media type as sniffed from the content.
    pub content_type: String,
    pub size: u64,
    /// `avatarETag`: changes with every new image.
    pub etag: String,
    /// The blob store that holds the bytes (`store`, e.g. `FileSystem:Avatars`).
    pub store: String,
    /// Where the blob store keeps the bytes.
    pub store_key: String,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait AvatarStore: Send + Sync {
    /// Records `avatar` as its owner's avatar, replacing any previous one, which is returned
    /// (its blob is the caller's to remove).
    async fn put_avatar(&self, avatar: &Avatar) -> StoreResult<Option<Avatar>>;
    async fn avatar(&self, owner: AvatarOwner, owner_id: &str) -> StoreResult<Option<Avatar>>;
    /// Removes an owner's avatar record, returning it (`None` when there was none).
    async fn delete_avatar(
        &self,
        owner: AvatarOwner,
        owner_id: &str,
    ) -> StoreResult<Option<Avatar>>;
}
