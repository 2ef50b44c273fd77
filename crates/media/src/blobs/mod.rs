//! Blob storage: where the bytes of uploaded files live. The records describing them are in
//! the store (`comet_store::FileStore`); a blob is written completely before its record.
//!
//! Two backends: the local filesystem under the data dir ([`LocalBlobStore`], upstream's
//! `FileSystem` store and Comet's default) and S3-compatible object storage ([`S3BlobStore`],
//! upstream's `AmazonS3`). Everything streams, in both: no whole file is ever held in memory,
//! and an interrupted or refused write leaves nothing behind.

mod local;
mod s3;

pub use local::LocalBlobStore;
pub use s3::{PART_SIZE, S3BlobStore, S3Config, http_client, install_crypto_provider};

use async_trait::async_trait;
use std::io;
use tokio::io::AsyncRead;

/// Why a write failed.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The content went past the limit; nothing was kept.
    #[error("blob larger than {0} bytes")]
    TooLarge(u64),
    #[error("blob storage failed: {0}")]
    Io(#[from] io::Error),
    /// The storage service refused or could not be reached (misconfigured, wrong credentials,
    /// down). The text names the cause and never a secret.
    #[error("file storage unavailable: {0}")]
    Unavailable(String),
}

/// A blob opened for reading from some offset, with its total length.
pub struct BlobReader {
    pub len: u64,
    pub body: Box<dyn AsyncRead + Send + Unpin>,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

/// A place to keep file contents by key (keys are ids chosen by the service, never by clients).
#[async_trait]
pub trait BlobStore: Send + Sync {
    /// Upstream's store name, recorded on each upload (`store`).
    fn name(&self) -> &'static str;
    /// Copies `body` under `key`, refusing (and keeping nothing) past `limit` bytes; returns
    /// the size written.
    async fn put(
        &self,
        key: &str,
        body: &mut (dyn AsyncRead + Send + Unpin),
        limit: Option<u64>,
    ) -> Result<u64, BlobError>;
    /// Opens a blob positioned at `offset`; `None` if there is none.
    async fn open(&self, key: &str, offset: u64) -> io::Result<Option<BlobReader>>;
    /// Removes a blob; removing a missing one is not an error.
    async fn delete(&self, key: &str) -> io::Result<()>;
    /// A URL the client may fetch the blob from directly for `expires_secs` seconds, served
    /// with these `Content-Disposition` and `Content-Type`; `None` when the store has no such
    /// thing (the server streams the bytes itself).
    fn presigned_get(
        &self,
        _key: &str,
        _expires_secs: u64,
        _content_disposition: &str,
        _content_type: &str,
    ) -> Option<String> {
        None
    }
}
