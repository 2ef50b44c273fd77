//! Uploaded files: the records of Rocket.Chat's `rocketchat_uploads` collection (`IUpload`).
//!
//! The bytes live in a blob store; these records say what each blob is, who sent it where, and
//! whether the upload finished. A record is written only once its blob is in place, so a
//! record never points at a half-written file.

use crate::{StoreResult, UploadFilter};
use async_trait::async_trait;
use comet_core::Timestamp;

/// One uploaded file (upstream's `IUpload`).
#[derive(Debug, Clone, PartialEq)]
pub struct Upload {
    pub id: String,
    /// The sanitized file name shown to users and used in its URL.
    pub name: String,
    pub size: u64,
    /// The media type as sniffed from the content (not the client's claim).
    pub content_type: String,
    /// Lowercased extension of the name, without the dot (`extension`).
    pub extension: String,
    pub room_id: String,
    pub user_id: String,
    /// Where the blob store keeps the bytes.
    pub store_key: String,
    /// The blob store that holds it (`store`, e.g. `FileSystem:Uploads`).
    pub store: String,
    /// Upload finished and confirmed; temporary `rooms.media` uploads are not yet.
    pub complete: bool,
    pub description: Option<String>,
    /// Image width and height (`identify.size`).
    pub dimensions: Option<(u32, u32)>,
    /// Image format as identified (`identify.format`), e.g. `png`.
    pub format: Option<String>,
    /// A temporary upload (`rooms.media`) is dropped after this unless confirmed.
    pub expires_at: Option<Timestamp>,
    pub uploaded_at: Timestamp,
    pub updated_at: Timestamp,
    /// Set on a thumbnail: the upload it was made from (`originalFileId`).
    pub original_file_id: Option<String>,
}

impl Upload {
    /// Upstream's `typeGroup`: `thumb` for thumbnails, otherwise the part of the media type
    /// before the slash.
    pub fn type_group(&self) -> &str {
        if self.original_file_id.is_some() {
            return "thumb";
        }
        self.content_type
            .split_once('/')
            .map_or(self.content_type.as_str(), |(group, _)| group)
    }
}

/// A file no one may upload, by the SHA-256 digest of its bytes (the blocklist).
#[derive(Debug, Clone, PartialEq)]
pub struct BlockedFileHash {
    /// Lowercase hex SHA-256 of the file as sent.
    pub sha256: String,
    /// The administrator who listed it.
    pub added_by: String,
    pub reason: Option<String>,
    pub added_at: Timestamp,
}

#[async_trait]
pub trait FileStore: Send + Sync {
    async fn insert_upload(&self, upload: &Upload) -> StoreResult<()>;
    async fn upload_by_id(&self, id: &str) -> StoreResult<Option<Upload>>;
    /// Replaces the mutable fields (name, description, complete, expiry, image details, and the
    /// size and store of a file written after its record, as a data export's); false if it
    /// does not exist.
    async fn update_upload(&self, upload: &Upload) -> StoreResult<bool>;
    async fn delete_upload(&self, id: &str) -> StoreResult<bool>;
    /// A page of a room's files, newest first, and the total that match.
    async fn room_uploads(
        &self,
        room_id: &str,
        filter: &UploadFilter,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<Upload>, u64)>;
    /// Unconfirmed uploads whose expiry is before `before` (for cleanup).
    async fn expired_uploads(&self, before: Timestamp) -> StoreResult<Vec<Upload>>;
    /// Every upload a user sent (for erasing a deleted user's files).
    async fn user_uploads(&self, user_id: &str) -> StoreResult<Vec<Upload>>;
    /// Lists a digest; false (and nothing changed) if it is listed already.
    async fn block_file_hash(&self, entry: &BlockedFileHash) -> StoreResult<bool>;
    /// Unlists a digest; false if it was not listed.
    async fn unblock_file_hash(&self, sha256: &str) -> StoreResult<bool>;
    async fn is_file_hash_blocked(&self, sha256: &str) -> StoreResult<bool>;
    /// A page of the listed digests, newest first, and how many there are.
    async fn blocked_file_hashes(
        &self,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<BlockedFileHash>, u64)>;
}
