//! Which blob store a file goes to and comes from.
//!
//! `FileUpload_Storage_Type` picks the store of new writes, read from the settings cache on
//! each write, so a change through the settings API (or from another instance over the bus)
//! applies to the next upload without a restart. Every upload records its store (`store`,
//! upstream's `FileSystem:Uploads` / `AmazonS3:Uploads`), and reads and deletes go to that
//! store, so files written before a switch keep working.
//!
//! Comet implements two of upstream's five storage types: `FileSystem` (its default, under
//! the data dir) and `AmazonS3` (any S3-compatible service). `GridFS`, `GoogleCloudStorage`
//! and `Webdav` are not offered: the setting refuses them.

use crate::Files;
use comet_core::{Error, Result};
use comet_media::blobs::{self, BlobStore, S3BlobStore, S3Config};
use comet_store::Upload;
use std::sync::Arc;

/// The storage types `FileUpload_Storage_Type` accepts here.
pub use comet_core::catalog::FILE_STORAGE_TYPES as STORAGE_TYPES;
/// Store names recorded on uploads, as upstream.
pub const FILE_SYSTEM_UPLOADS: &str = "FileSystem:Uploads";
pub const AMAZON_S3_UPLOADS: &str = "AmazonS3:Uploads";
pub const AMAZON_S3_AVATARS: &str = "AmazonS3:Avatars";
pub const AMAZON_S3_USER_DATA_FILES: &str = "AmazonS3:UserDataFiles";

/// The refusal an uploader (or downloader) sees when the storage service fails; the cause is
/// logged, not shown, as it may describe the infrastructure.
pub fn storage_unavailable(store: &str, cause: &str) -> Error {
    tracing::error!(store, cause, "file storage unavailable");
    Error::failure_typed(
        "File storage is not available",
        "error-file-storage-unavailable",
    )
}

impl Files<'_> {
    /// The store new uploads are written to, as `FileUpload_Storage_Type` says now.
    pub fn blob_store_for_writing(&self) -> Result<Arc<dyn BlobStore>> {
        match self.ctx.setting_str("FileUpload_Storage_Type").as_str() {
            "" | "FileSystem" => Ok(self.ctx.blobs.clone()),
            "AmazonS3" => self.blob_store_named(AMAZON_S3_UPLOADS),
            other => Err(storage_unavailable(
                other,
                "FileUpload_Storage_Type names a storage type Comet does not offer",
            )),
        }
    }

    /// The store an upload was written to (its `store`), for reading and deleting it.
    pub fn blob_store_named(&self, store: &str) -> Result<Arc<dyn BlobStore>> {
        let name = match store {
            FILE_SYSTEM_UPLOADS => return Ok(self.ctx.blobs.clone()),
            AMAZON_S3_UPLOADS => AMAZON_S3_UPLOADS,
            AMAZON_S3_AVATARS => AMAZON_S3_AVATARS,
            AMAZON_S3_USER_DATA_FILES => AMAZON_S3_USER_DATA_FILES,
            other => return Err(storage_unavailable(other, "unknown store")),
        };
        let prefix = match name {
            AMAZON_S3_AVATARS => "avatars/",
            AMAZON_S3_USER_DATA_FILES => "user-data/",
            _ => "uploads/",
        };
        let config = self
            .s3_config()
            .map_err(|cause| storage_unavailable(name, &cause))?;
        let http = self
            .ctx
            .s3_http
            .get_or_init(blobs::http_client)
            .clone()
            .map_err(|cause| storage_unavailable(name, &cause))?;
        Ok(Arc::new(S3BlobStore::new(name, prefix, config, http)))
    }

    /// The S3 connection the `FileUpload_S3_*` settings describe now; the error names what
    /// is missing (never a secret).
    pub fn s3_config(&self) -> std::result::Result<S3Config, String> {
        let bucket = self
            .ctx
            .setting_str("FileUpload_S3_Bucket")
            .trim()
            .to_owned();
        if bucket.is_empty() {
            return Err("FileUpload_S3_Bucket is empty".to_owned());
        }
        // As upstream: no region means us-east-1; an endpoint without a scheme is https.
        let region = match self.ctx.setting_str("FileUpload_S3_Region").trim() {
            "" => "us-east-1".to_owned(),
            region => region.to_owned(),
        };
        let endpoint = match self.ctx.setting_str("FileUpload_S3_BucketURL").trim() {
            "" => format!("https://s3.{region}.amazonaws.com"),
            url if url.contains("://") => url.to_owned(),
            host => format!("https://{host}"),
        };
        let endpoint = url::Url::parse(&endpoint)
            .ok()
            .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
            .ok_or_else(|| "FileUpload_S3_BucketURL is not an http(s) URL".to_owned())?;
        // As upstream's store: both credentials are required (no environment fallback).
        let access_key = self.ctx.setting_str("FileUpload_S3_AWSAccessKeyId");
        let secret_key = self.ctx.setting_str("FileUpload_S3_AWSSecretAccessKey");
        if access_key.is_empty() || secret_key.is_empty() {
            return Err(
                "no S3 credentials (FileUpload_S3_AWSAccessKeyId, FileUpload_S3_AWSSecretAccessKey)"
                    .to_owned(),
            );
        }
        let acl = Some(self.ctx.setting_str("FileUpload_S3_Acl").trim().to_owned())
            .filter(|acl| !acl.is_empty());
        Ok(S3Config {
            bucket,
            region,
            endpoint,
            access_key,
            secret_key,
            force_path_style: self.ctx.setting_bool("FileUpload_S3_ForcePathStyle"),
            acl,
        })
    }

    /// Where to send a downloader instead of streaming the file: a presigned URL valid for
    /// `FileUpload_S3_URLExpiryTimeSpan` seconds, for files in S3 unless
    /// `FileUpload_S3_Proxy_Uploads` (or `_Avatars`, ...) asks the server to proxy them.
    pub fn upload_redirect_url(
        &self,
        upload: &Upload,
        content_disposition: &str,
    ) -> Result<Option<String>> {
        let Some(kind) = upload.store.strip_prefix("AmazonS3:") else {
            return Ok(None);
        };
        if self
            .ctx
            .setting_bool(&format!("FileUpload_S3_Proxy_{kind}"))
        {
            return Ok(None);
        }
        let store = self.blob_store_named(&upload.store)?;
        let expiry = u64::try_from(self.ctx.setting_int("FileUpload_S3_URLExpiryTimeSpan"))
            .unwrap_or(0)
            .max(1);
        Ok(store.presigned_get(
            &upload.store_key,
            expiry,
            content_disposition,
            &upload.content_type,
        ))
    }
}
