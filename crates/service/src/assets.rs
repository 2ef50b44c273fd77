//! `assets.setAsset` / `assets.unsetAsset` (upstream's `RocketChatAssets`): the workspace's
//! logo, favicons and tiles. The file goes to the blob store new files go to, under a key of
//! its own (`asset-<name>`); the setting `Assets_<name>` says it is set (`{url, defaultUrl}`)
//! and is what clients read. `/assets/<name>.<ext>` serves it.

use crate::authz::Required;
use crate::{Session, Workspace};
use comet_core::assets::{Asset, asset_named, extension_of, setting_id, setting_value};
use comet_core::{Error, Result};
use comet_media::blobs::{BlobReader, BlobStore};
use std::sync::Arc;

/// The most bytes an asset may have, whatever `FileUpload_MaxFileSize` says: these are icons
/// and logos, kept whole in memory while checked.
pub const MAX_ASSET_BYTES: u64 = 5 * 1024 * 1024;

/// An asset file ready to serve.
#[derive(Debug)]
pub struct AssetFile {
    pub content_type: &'static str,
    pub reader: BlobReader,
}

fn blob_key(asset: &Asset) -> String {
    format!("asset-{}", asset.name)
}

/// Upstream throws a plain `Error('Invalid asset')` from the routes.
fn invalid_asset() -> Error {
    Error::failure("Invalid asset")
}

fn invalid_file_type(content_type: &str) -> Error {
    Error::meteor(
        "error-invalid-file-type",
        format!("Invalid file type: {content_type}"),
    )
}

/// Whether the bytes are what the extension claims (upstream trusts the claim; a browser
/// served a script as an image would not).
fn bytes_match(extension: &str, bytes: &[u8]) -> bool {
    let head = &bytes[..bytes.len().min(512)];
    match extension {
        "png" => comet_media::sniff::sniff(head) == "image/png",
        "jpg" | "jpeg" => comet_media::sniff::sniff(head) == "image/jpeg",
        "ico" => head.starts_with(&[0, 0, 1, 0]) || head.starts_with(b"\x89PNG"),
        "svg" => std::str::from_utf8(bytes).is_ok_and(|text| text.contains("<svg")),
        _ => false,
    }
}

impl Workspace<'_> {
    pub const MANAGE_ASSETS: Required = Required::All(&["manage-assets"]);

    /// `assets.setAsset`: checks the asset's type and size as upstream, keeps the file and
    /// points `Assets_<name>` at it.
    pub async fn set_asset(
        &self,
        session: &Session,
        name: &str,
        content_type: &str,
        bytes: Vec<u8>,
    ) -> Result<()> {
        self.ctx.authorize(&session.user, Self::MANAGE_ASSETS)?;
        let asset = asset_named(name).ok_or_else(invalid_asset)?;
        let extension = extension_of(content_type)
            .filter(|ext| asset.extensions.contains(ext))
            .ok_or_else(|| invalid_file_type(content_type))?;
        if !bytes_match(extension, &bytes) {
            return Err(invalid_file_type(content_type));
        }
        if let Some((width, height)) = asset.size {
            let found = comet_media::images::image_dimensions("image/png", &bytes);
            if found.map(|(w, _)| w) != Some(width) {
                return Err(Error::meteor(
                    "error-invalid-file-width",
                    "Invalid file width",
                ));
            }
            if found.map(|(_, h)| h) != Some(height) {
                return Err(Error::meteor("error-invalid-file-height", ""));
            }
        }
        let blobs = self.ctx.files().blob_store_for_writing()?;
        let key = blob_key(asset);
        let mut body = std::io::Cursor::new(bytes);
        blobs
            .put(&key, &mut body, Some(MAX_ASSET_BYTES))
            .await
            .map_err(|e| crate::storage::storage_unavailable(blobs.name(), &e.to_string()))?;
        // A file of the asset kept in the other store (before a storage switch) goes.
        for other in self.other_stores(&blobs) {
            if let Err(e) = other.delete(&key).await {
                tracing::warn!(error = %e, key, "could not remove an older asset file");
            }
        }
        self.write_asset_setting(session, asset, Some(extension))
            .await
    }

    /// `assets.unsetAsset`: removes the file; `Assets_<name>` keeps only its default.
    pub async fn unset_asset(&self, session: &Session, name: &str) -> Result<()> {
        self.ctx.authorize(&session.user, Self::MANAGE_ASSETS)?;
        let asset = asset_named(name).ok_or_else(invalid_asset)?;
        let key = blob_key(asset);
        for blobs in self.all_stores() {
            if let Err(e) = blobs.delete(&key).await {
                tracing::warn!(error = %e, key, "could not remove an asset file");
            }
        }
        self.write_asset_setting(session, asset, None).await
    }

    async fn write_asset_setting(
        &self,
        session: &Session,
        asset: &Asset,
        extension: Option<&str>,
    ) -> Result<()> {
        let id = setting_id(asset.name);
        let before = self.ctx.setting(&id);
        let value = setting_value(asset, extension);
        self.ctx.write_setting(&id, value.clone()).await?;
        self.ctx
            .audit_by(
                session,
                "setting.update",
                crate::audit::AuditTarget::setting(&id),
                before.map(|v| serde_json::json!({"value": v})),
                Some(serde_json::json!({"value": value})),
            )
            .await
    }

    /// The file of `/assets/<file>` (`logo.png`), when that asset is set with that extension.
    pub async fn asset_file(&self, file: &str) -> Result<Option<AssetFile>> {
        let Some((name, extension)) = file.rsplit_once('.') else {
            return Ok(None);
        };
        let Some(asset) = asset_named(name) else {
            return Ok(None);
        };
        let current = self.ctx.setting(&setting_id(name));
        let expected = format!("assets/{file}");
        if current
            .as_ref()
            .and_then(|v| v.get("url"))
            .and_then(serde_json::Value::as_str)
            != Some(expected.as_str())
        {
            return Ok(None);
        }
        let key = blob_key(asset);
        for blobs in self.all_stores() {
            match blobs.open(&key, 0).await {
                Ok(Some(reader)) => {
                    return Ok(Some(AssetFile {
                        content_type: comet_core::assets::content_type_of(extension),
                        reader,
                    }));
                }
                Ok(None) => {}
                Err(e) => tracing::warn!(error = %e, key, "could not read an asset file"),
            }
        }
        Ok(None)
    }

    /// The store new files go to, then the local one (an asset set before a switch to S3).
    fn all_stores(&self) -> Vec<Arc<dyn BlobStore>> {
        let local = self.ctx.blobs.clone();
        match self.ctx.files().blob_store_for_writing() {
            Ok(current) if current.name() != local.name() => vec![current, local],
            _ => vec![local],
        }
    }

    fn other_stores(&self, current: &Arc<dyn BlobStore>) -> Vec<Arc<dyn BlobStore>> {
        self.all_stores()
            .into_iter()
            .filter(|s| s.name() != current.name())
            .collect()
    }
}
