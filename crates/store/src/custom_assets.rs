//! The workspace's own emoji, user statuses and sounds (upstream's `rocketchat_custom_emoji`,
//! `rocketchat_custom_user_status` and `rocketchat_custom_sounds`).
//!
//! An emoji's and a sound's bytes live in a blob store; the record says where. A deleted
//! emoji leaves a trash row, so that `emoji-custom.list?updatedSince=` can tell clients which
//! ones to forget.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;

/// Where a custom emoji's or sound's bytes are kept, and what they are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetFile {
    /// The media type as sniffed from the content.
    pub content_type: String,
    pub size: u64,
    /// The blob store that holds the bytes (e.g. `FileSystem:Uploads`).
    pub store: String,
    pub store_key: String,
    pub uploaded_at: Timestamp,
}

/// A custom emoji (`IEmojiCustom`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomEmoji {
    pub id: String,
    /// Unique among the names and aliases of every custom emoji.
    pub name: String,
    pub aliases: Vec<String>,
    /// The file's extension as upstream derives it from the media type (`png`, `jpeg`, ...).
    pub extension: String,
    /// Changes with every new image; `None` before the first upload completes.
    pub etag: Option<String>,
    pub file: Option<AssetFile>,
    pub updated_at: Timestamp,
}

/// What is left of a deleted custom emoji.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeletedCustomEmoji {
    pub id: String,
    pub name: String,
    pub deleted_at: Timestamp,
}

/// Which custom emoji a listing returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomEmojiFilter {
    pub id: Option<String>,
    /// Names containing this, ignoring ASCII case.
    pub name_contains: Option<String>,
    /// Changed strictly after this time.
    pub updated_after: Option<Timestamp>,
}

/// A custom user status (`ICustomUserStatus`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomUserStatus {
    pub id: String,
    /// Unique.
    pub name: String,
    /// `online`, `away`, `busy`, `offline`, or empty.
    pub status_type: String,
    pub updated_at: Timestamp,
}

/// A custom sound (`ICustomSound`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomSound {
    pub id: String,
    /// Unique.
    pub name: String,
    pub extension: String,
    /// `None` until its file is uploaded (`uploadCustomSound` follows `insertOrUpdateSound`).
    pub file: Option<AssetFile>,
    pub updated_at: Timestamp,
}

#[async_trait]
pub trait CustomAssetStore: Send + Sync {
    /// Inserts an emoji; a `Conflict` when its name is taken.
    async fn insert_custom_emoji(&self, emoji: &CustomEmoji) -> StoreResult<()>;
    /// Replaces an emoji's record; false when it is gone. A `Conflict` when its new name is
    /// taken.
    async fn update_custom_emoji(&self, emoji: &CustomEmoji) -> StoreResult<bool>;
    async fn custom_emoji_by_id(&self, id: &str) -> StoreResult<Option<CustomEmoji>>;
    async fn custom_emoji_by_name(&self, name: &str) -> StoreResult<Option<CustomEmoji>>;
    /// The emoji, other than `except_id`, whose name or one of whose aliases is `name`.
    async fn custom_emoji_using(
        &self,
        name: &str,
        except_id: Option<&str>,
    ) -> StoreResult<Vec<CustomEmoji>>;
    /// A page of emoji by name, with how many match.
    async fn list_custom_emoji(
        &self,
        filter: &CustomEmojiFilter,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<CustomEmoji>, u64)>;
    /// Deletes an emoji, leaving a trash row stamped `at`; returns it (`None` when there was
    /// none). Its blob is the caller's to remove.
    async fn delete_custom_emoji(
        &self,
        id: &str,
        at: Timestamp,
    ) -> StoreResult<Option<CustomEmoji>>;
    /// The emoji deleted strictly after `since`, oldest first.
    async fn deleted_custom_emoji_since(
        &self,
        since: Timestamp,
    ) -> StoreResult<Vec<DeletedCustomEmoji>>;

    /// Inserts a status; a `Conflict` when its name is taken.
    async fn insert_custom_user_status(&self, status: &CustomUserStatus) -> StoreResult<()>;
    /// Replaces a status's record; false when it is gone.
    async fn update_custom_user_status(&self, status: &CustomUserStatus) -> StoreResult<bool>;
    async fn custom_user_status_by_id(&self, id: &str) -> StoreResult<Option<CustomUserStatus>>;
    async fn custom_user_status_by_name(&self, name: &str)
    -> StoreResult<Option<CustomUserStatus>>;
    /// A page of statuses by name: only `id` when given, names containing `name_contains`
    /// ignoring ASCII case; with how many match.
    async fn list_custom_user_statuses(
        &self,
        id: Option<&str>,
        name_contains: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<CustomUserStatus>, u64)>;
    /// Deletes a status, returning it (`None` when there was none).
    async fn delete_custom_user_status(&self, id: &str) -> StoreResult<Option<CustomUserStatus>>;

    /// Inserts a sound; a `Conflict` when its name is taken.
    async fn insert_custom_sound(&self, sound: &CustomSound) -> StoreResult<()>;
    /// Replaces a sound's record; false when it is gone.
    async fn update_custom_sound(&self, sound: &CustomSound) -> StoreResult<bool>;
    async fn custom_sound_by_id(&self, id: &str) -> StoreResult<Option<CustomSound>>;
    async fn custom_sound_by_name(&self, name: &str) -> StoreResult<Option<CustomSound>>;
    /// A page of sounds by name, names containing `name_contains` ignoring ASCII case; with
    /// how many match.
    async fn list_custom_sounds(
        &self,
        name_contains: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<CustomSound>, u64)>;
    /// Deletes a sound, returning it (`None` when there was none). Its blob is the caller's
    /// to remove.
    async fn delete_custom_sound(&self, id: &str) -> StoreResult<Option<CustomSound>>;
}
