//! File uploads into rooms: `rooms.upload`, `rooms.media` + `rooms.mediaConfirm`, the files
//! of a room, downloads, and deleting a file with its message.
//!
//! The type of a file is what its bytes say (magic numbers), not what the client claims; the
//! allow and deny lists (`FileUpload_MediaTypeWhiteList` / `BlackList`) are checked against
//! both. Image dimensions are read from the headers as the file arrives; EXIF metadata is
//! removed from JPEG/PNG uploads while they stream into storage (`images::MetadataFilter`),
//! and images are decoded only, bounded, when their message is sent, for the preview and
//! thumbnail upstream attaches (`images::process`).

use crate::Files;
use crate::messages::NewMessage;
use crate::rooms::RoomAccess;
use crate::storage::storage_unavailable;
use crate::{Session, store_error};
use comet_core::room::{Message, RoomType};
use comet_core::user::User;
use comet_core::{Error, Result, id, now};
use comet_media::blobs::{BlobError, BlobReader};
use comet_media::images::{self, FilteredReader, MetadataFilter, Processed, image_dimensions};
use comet_media::sniff::sniff;
/// An uploaded file's record, as the edges read it.
pub use comet_store::Upload;
use comet_store::UploadFilter;
use serde_json::{Value, json};
use tokio::io::{AsyncRead, AsyncReadExt};

/// How many leading bytes are read to recognise a file's type and image size.
const SNIFF_LEN: usize = 4096;

/// How long a `rooms.media` upload waits for its confirmation (upstream: 24 hours).
const TEMPORARY_UPLOAD_HOURS: i64 = 24;

/// Types a browser would run as a document in our origin; never trusted from a client.
const ACTIVE_TYPES: &[&str] = &[
    "text/html",
    "application/xhtml+xml",
    "image/svg+xml",
    "text/xml",
    "application/xml",
    "text/javascript",
    "application/javascript",
    "text/xsl",
];

/// The message fields sent with a file (`msg`, `description`, `tmid`, `customFields`).
#[derive(Debug, Clone, Default)]
pub struct FileMessage {
    pub text: Option<String>,
    pub description: Option<String>,
    pub thread_id: Option<String>,
    /// Checked like any message's custom fields (`Message_CustomFields_Enabled`, the schema).
    pub custom_fields: Option<Value>,
}

/// A file arriving from a client, read as it streams in.
pub struct IncomingFile<'a> {
    /// The client's file name (sanitized before use).
    pub name: String,
    /// The client's claimed media type.
    pub claimed_type: Option<String>,
    pub body: &'a mut (dyn AsyncRead + Send + Unpin),
}

impl std::fmt::Debug for IncomingFile<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IncomingFile")
            .field("name", &self.name)
            .field("claimed_type", &self.claimed_type)
            .finish_non_exhaustive()
    }
}

/// The type to record: the sniffed one, or the client's when the bytes cannot tell and the
/// claim is harmless (a `.docx` is a zip, a `.csv` is text).
pub fn decide_type(sniffed: &'static str, claimed: Option<&str>) -> String {
    let claimed = claimed
        .map(|c| {
            c.split(';')
                .next()
                .unwrap_or_default()
                .trim()
                .to_lowercase()
        })
        .filter(|c| c.contains('/') && !ACTIVE_TYPES.contains(&c.as_str()));
    let Some(claimed) = claimed else {
        return sniffed.to_owned();
    };
    let recognisable = ["image/", "audio/", "video/"]
        .iter()
        .any(|p| claimed.starts_with(p));
    match sniffed {
        "application/octet-stream" | "application/zip" if !recognisable => claimed,
        // Text with no recognisable header keeps a text claim, and an opaque one: a client
        // that calls a file `application/octet-stream` gets it back as a download.
        "text/plain"
            if claimed.starts_with("text/")
                || claimed == "application/json"
                || claimed == "application/octet-stream" =>
        {
            claimed
        }
        _ => sniffed.to_owned(),
    }
}

/// Upstream's `fileUploadIsValidContentType`: the deny list wins, an empty allow list allows
/// everything, and `type/*` entries cover the group.
pub fn type_allowed(content_type: &str, allow: &str, deny: &str) -> bool {
    let matches = |list: &str| {
        list.split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .any(|entry| {
                entry.eq_ignore_ascii_case(content_type)
                    || entry.strip_suffix("/*").is_some_and(|group| {
                        content_type
                            .split_once('/')
                            .is_some_and(|(g, _)| g.eq_ignore_ascii_case(group))
                    })
            })
    };
    if matches(deny) {
        return false;
    }
    allow.trim().is_empty() || matches(allow)
}

/// A file name safe to store and show: no directories, no control characters, bounded length.
pub fn sanitize_file_name(raw: &str) -> String {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| {
            !c.is_control() && !matches!(*c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        })
        .collect();
    let trimmed = cleaned.trim().trim_start_matches('.').trim();
    let bounded: String = trimmed.chars().take(200).collect();
    if bounded.is_empty() {
        "file".to_owned()
    } else {
        bounded
    }
}

/// JavaScript's `encodeURI`, which upstream applies to names in file URLs.
pub fn encode_uri(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        let keep = byte.is_ascii_alphanumeric() || b";,/?:@&=+$-_.!~*'()#".contains(&byte);
        if keep {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// The path a file is downloaded from (`FileUpload.getPath`).
pub fn file_url(upload: &Upload) -> String {
    format!("/file-upload/{}/{}", upload.id, encode_uri(&upload.name))
}

/// Sizes as upstream's messages show them (`filesize`: decimal units, two decimals at most).
pub fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    let rounded = (value * 100.0).round() / 100.0;
    format!("{rounded} {}", UNITS[unit])
}

/// What decoding an image added: its upright size, preview, and stored thumbnail.
#[derive(Debug, Clone, Default)]
pub struct ImageExtras {
    /// The blurred base64 JPEG preview (`image_preview`).
    pub preview: Option<String>,
    /// The thumbnail's own upload record.
    pub thumbnail: Option<Upload>,
}

fn file_entry(upload: &Upload) -> Value {
    json!({
        "_id": upload.id,
        "name": upload.name,
        "type": upload.content_type,
        "size": upload.size,
        "format": upload.format.clone().unwrap_or_default(),
        "typeGroup": upload.type_group(),
    })
}

/// The `files` entries and the attachment a file message carries (upstream's
/// `parseFileIntoMessageAttachments`): for an image with a thumbnail, `files` lists the
/// original then the thumbnail, and the attachment shows the thumbnail (`image_url`,
/// `image_type`, `image_dimensions`), still titled and linked to the original.
pub fn file_message_parts(upload: &Upload, extras: Option<&ImageExtras>) -> (Vec<Value>, Value) {
    let url = file_url(upload);
    let mut files = vec![file_entry(upload)];
    let mut attachment = json!({
        "title": upload.name,
        "type": "file",
        "title_link": url,
        "title_link_download": true,
        "fileId": upload.id,
    });
    let Value::Object(a) = &mut attachment else {
        return (files, attachment);
    };
    if let Some(description) = &upload.description {
        a.insert("description".into(), json!(description));
    }
    match upload.type_group() {
        "image" => {
            a.insert("image_url".into(), json!(url));
            a.insert("image_type".into(), json!(upload.content_type));
            a.insert("image_size".into(), json!(upload.size));
            if let Some((width, height)) = upload.dimensions {
                a.insert(
                    "image_dimensions".into(),
                    json!({"width": width, "height": height}),
                );
            }
            if let Some(preview) = extras.and_then(|e| e.preview.as_ref()) {
                a.insert("image_preview".into(), json!(preview));
            }
            if let Some(thumb) = extras.and_then(|e| e.thumbnail.as_ref()) {
                // Upstream names the thumbnail's URL after the original's file name.
                let thumb_url = format!("/file-upload/{}/{}", thumb.id, encode_uri(&upload.name));
                a.insert("image_url".into(), json!(thumb_url));
                a.insert("image_type".into(), json!(thumb.content_type));
                if let Some((width, height)) = thumb.dimensions {
                    a.insert(
                        "image_dimensions".into(),
                        json!({"width": width, "height": height}),
                    );
                }
                files.push(file_entry(thumb));
            }
        }
        group @ ("audio" | "video") => {
            a.insert(format!("{group}_url"), json!(url));
            a.insert(format!("{group}_type"), json!(upload.content_type));
            a.insert(format!("{group}_size"), json!(upload.size));
        }
        _ => {
            // Upstream's `getFileExtension` gives the extension in capitals.
            a.insert("format".into(), json!(upload.extension.to_uppercase()));
            a.insert("size".into(), json!(upload.size));
        }
    }
    (files, attachment)
}

/// An upload as `channels.files` and friends list it (`IUpload` with its `user`).
pub fn upload_json(upload: &Upload, user: Option<&User>) -> Value {
    let iso = |t: comet_core::Timestamp| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    let url = file_url(upload);
    let mut v = json!({
        "_id": upload.id,
        "name": upload.name,
        "size": upload.size,
        "type": upload.content_type,
        "typeGroup": upload.type_group(),
        "extension": upload.extension,
        "rid": upload.room_id,
        "userId": upload.user_id,
        "store": upload.store,
        "complete": upload.complete,
        "uploading": false,
        "progress": 1,
        "uploadedAt": iso(upload.uploaded_at),
        "_updatedAt": iso(upload.updated_at),
        "url": url,
        "path": url,
    });
    if let Value::Object(o) = &mut v {
        if let Some(description) = &upload.description {
            o.insert("description".into(), json!(description));
        }
        if upload.format.is_some() || upload.dimensions.is_some() {
            let mut identify = serde_json::Map::new();
            if let Some(format) = &upload.format {
                identify.insert("format".into(), json!(format));
            }
            if let Some((width, height)) = upload.dimensions {
                identify.insert("size".into(), json!({"width": width, "height": height}));
            }
            o.insert("identify".into(), Value::Object(identify));
        }
        if let Some(at) = upload.expires_at {
            o.insert("expiresAt".into(), json!(iso(at)));
        }
        if let Some(original) = &upload.original_file_id {
            o.insert("originalFileId".into(), json!(original));
        }
        if let Some(user) = user {
            o.insert(
                "user".into(),
                json!({"_id": user.id, "username": user.username, "name": user.name}),
            );
        }
    }
    v
}

fn invalid_file() -> Error {
    Error::meteor("invalid-file", "")
}

impl Files<'_> {
    /// `FileUpload_MaxFileSize` in bytes; `None` when unlimited (-1).
    pub fn max_file_size(&self) -> Option<u64> {
        u64::try_from(self.ctx.setting_int("FileUpload_MaxFileSize")).ok()
    }

    /// The room an upload goes to, if the caller may post files there (upstream checks
    /// `canAccessRoomId` first and answers 403), refusing when uploads are off.
    pub async fn upload_target(&self, session: &Session, room_id: &str) -> Result<RoomAccess> {
        let room = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?;
        let Some(room) = room else {
            return Err(Error::forbidden());
        };
        let Some(room) = self.ctx.rooms().room_access(session, room).await? else {
            return Err(Error::forbidden());
        };
        if !self.ctx.setting_bool("FileUpload_Enabled") {
            return Err(Error::meteor(
                "error-file-upload-disabled",
                "File upload is disabled",
            ));
        }
        if room.room_type == RoomType::Direct && !self.ctx.setting_bool("FileUpload_Enabled_Direct")
        {
            return Err(Error::meteor(
                "error-direct-message-file-upload-not-allowed",
                "File sharing not allowed in direct messages",
            ));
        }
        self.ctx.check_new_account_upload(&session.user)?;
        Ok(room)
    }

    /// Streams a file into storage for `room` and records it. `temporary` uploads
    /// (`rooms.media`) wait for a confirmation. Nothing is kept when anything fails.
    pub async fn store_upload(
        &self,
        session: &Session,
        room: &RoomAccess,
        file: IncomingFile<'_>,
        temporary: bool,
    ) -> Result<Upload> {
        self.ctx.check_upload_rate(&session.user).await?;
        let limit = self.max_file_size();
        let mut head = Vec::with_capacity(SNIFF_LEN);
        (&mut *file.body)
            .take(SNIFF_LEN as u64)
            .read_to_end(&mut head)
            .await
            .map_err(|e| Error::failure(format!("Upload failed: {e}")))?;
        let sniffed = sniff(&head);
        let content_type = decide_type(sniffed, file.claimed_type.as_deref());
        let allow = self.ctx.setting_str("FileUpload_MediaTypeWhiteList");
        let deny = self.ctx.setting_str("FileUpload_MediaTypeBlackList");
        let claimed_denied = file
            .claimed_type
            .as_deref()
            .is_some_and(|claimed| !type_allowed(claimed, "", &deny));
        if claimed_denied || !type_allowed(&content_type, &allow, &deny) {
            return Err(Error::meteor(
                "error-invalid-file-type",
                "File type is not accepted.",
            ));
        }
        let too_large = |limit: u64| {
            Error::meteor(
                "error-file-too-large",
                format!("File exceeds allowed size of {}.", human_size(limit)),
            )
        };
        let upload_id = id::new_id();
        let blobs = self.blob_store_for_writing()?;
        // The digest is of the bytes as sent, before any metadata is stripped: the blocklist
        // names files as they circulate.
        let mut body =
            HashingReader::new(std::io::Cursor::new(head.clone()).chain(&mut *file.body));
        // Metadata goes before the bytes reach storage, so no one ever downloads it.
        let filter = MetadataFilter::new(
            &content_type,
            self.ctx.setting_bool("Message_Attachments_Strip_Exif"),
            self.ctx.setting_bool("FileUpload_RotateImages"),
        );
        let (stored, orientation, frame) = match filter {
            Some(filter) => {
                let mut filtered = FilteredReader::new(&mut body, filter);
                let stored = blobs.put(&upload_id, &mut filtered, limit).await;
                let seen = filtered.filter();
                (stored, seen.orientation(), seen.dimensions())
            }
            None => (blobs.put(&upload_id, &mut body, limit).await, None, None),
        };
        let sha256 = body.hex_digest();
        let size = match stored {
            Ok(size) => size,
            Err(BlobError::TooLarge(limit)) => return Err(too_large(limit)),
            Err(BlobError::Io(e)) => return Err(Error::internal(e)),
            Err(BlobError::Unavailable(cause)) => {
                return Err(storage_unavailable(blobs.name(), &cause));
            }
        };
        if let Err(refusal) = self.check_not_blocked(&sha256).await {
            self.discard_key(blobs.as_ref(), &upload_id).await;
            tracing::info!(by = %session.user.id, %sha256, "blocked file refused");
            // Someone trying to spread a known bad file is what moderators look for.
            self.ctx
                .audit_by(
                    session,
                    "file.upload.blocked",
                    crate::audit::AuditTarget::new("file", sha256.clone(), Some(file.name.clone())),
                    None,
                    Some(serde_json::json!({"sha256": sha256, "name": file.name})),
                )
                .await?;
            return Err(refusal);
        }
        let name = sanitize_file_name(&file.name);
        let extension = name
            .rsplit_once('.')
            .map(|(_, ext)| ext.to_lowercase())
            .unwrap_or_default();
        // Upstream's `identify.size` is the upright size: EXIF orientations 5–8 turn it.
        let dimensions = image_dimensions(&content_type, &head)
            .or(frame)
            .map(|(w, h)| {
                if orientation.is_some_and(|o| o >= 5) {
                    (h, w)
                } else {
                    (w, h)
                }
            });
        let at = now();
        let upload = Upload {
            store_key: upload_id.clone(),
            id: upload_id,
            name,
            size,
            format: content_type
                .strip_prefix("image/")
                .filter(|_| dimensions.is_some())
                .map(str::to_owned),
            content_type,
            extension,
            room_id: room.id.clone(),
            user_id: session.user.id.clone(),
            store: blobs.name().to_owned(),
            complete: !temporary,
            description: None,
            dimensions,
            expires_at: temporary.then(|| at + chrono::Duration::hours(TEMPORARY_UPLOAD_HOURS)),
            uploaded_at: at,
            updated_at: at,
            original_file_id: None,
        };
        if let Err(e) = self.ctx.store.insert_upload(&upload).await {
            self.discard_blob(&upload).await;
            return Err(store_error(e));
        }
        tracing::info!(by = %session.user.id, file = %upload.id, size, "file uploaded");
        Ok(upload)
    }

    /// Removes bytes written under `key` that no record will point to.
    async fn discard_key(&self, blobs: &dyn comet_media::blobs::BlobStore, key: &str) {
        if let Err(e) = blobs.delete(key).await {
            tracing::warn!(error = %e, key, store = %blobs.name(), "could not remove a blob");
        }
    }

    /// Removes an upload's bytes from the store it was written to.
    pub(crate) async fn discard_blob(&self, upload: &Upload) {
        let key = upload.store_key.as_str();
        let result = match self.blob_store_named(&upload.store) {
            Ok(blobs) => blobs.delete(key).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.message()),
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, key, store = %upload.store, "could not remove a blob");
        }
    }

    /// Removes an upload's record and bytes (its message is gone, or it was never sent).
    pub async fn discard_upload(&self, upload: &Upload) -> Result<()> {
        self.ctx
            .store
            .delete_upload(&upload.id)
            .await
            .map_err(store_error)?;
        self.discard_blob(upload).await;
        Ok(())
    }

    /// Posts the message carrying a stored file (upstream's `sendFileMessage`) and marks the
    /// upload complete. On refusal the upload is removed, as nothing refers to it.
    pub async fn send_file_message(
        &self,
        session: &Session,
        room: &RoomAccess,
        mut upload: Upload,
        fields: FileMessage,
    ) -> Result<Message> {
        let result = self
            .try_send_file_message(session, room, &mut upload, fields)
            .await;
        if result.is_err() {
            self.discard_upload(&upload).await?;
        }
        result
    }

    async fn try_send_file_message(
        &self,
        session: &Session,
        room: &RoomAccess,
        upload: &mut Upload,
        fields: FileMessage,
    ) -> Result<Message> {
        if let Some(description) = &fields.description
            && self.ctx.messages().message_too_long(description)
        {
            return Err(Error::meteor("error-message-size-exceeded", ""));
        }
        upload.description = fields.description.filter(|d| !d.is_empty());
        upload.complete = true;
        upload.expires_at = None;
        upload.updated_at = now();
        let extras = self.image_extras(upload).await;
        let (files, attachment) = file_message_parts(upload, extras.as_ref());
        let new = NewMessage {
            text: fields.text.unwrap_or_default(),
            thread_id: fields.thread_id.filter(|t| !t.is_empty()),
            attachments: Some(json!([attachment])),
            files: Some(Value::Array(files)),
            custom_fields: fields.custom_fields,
            // Upstream sends file messages as not groupable.
            groupable: Some(false),
            ..NewMessage::default()
        };
        let thumbnail = extras.and_then(|e| e.thumbnail);
        let sent = self.ctx.messages().send_message(session, room, new).await;
        let message = match sent {
            Ok(message) => message,
            Err(e) => {
                if let Some(thumb) = &thumbnail
                    && let Err(e) = self.discard_upload(thumb).await
                {
                    tracing::warn!(error = %e, file = %thumb.id, "could not drop a thumbnail");
                }
                return Err(e);
            }
        };
        self.ctx
            .store
            .update_upload(upload)
            .await
            .map_err(store_error)?;
        Ok(message)
    }

    /// Decodes an image upload (bounded: see `images`) for its preview and, when thumbnails
    /// are on and it is larger than the box, a thumbnail stored as an upload of its own.
    /// Updates `upload.dimensions` to the decoded upright size when the header had none.
    /// Any failure only means the message goes without them.
    async fn image_extras(&self, upload: &mut Upload) -> Option<ImageExtras> {
        images::format_of(&upload.content_type)?;
        if let Some((w, h)) = upload.dimensions
            && !images::within_limits(w, h)
        {
            tracing::info!(file = %upload.id, w, h, "image too large to thumbnail");
            return None;
        }
        if upload.size > images::MAX_INPUT_BYTES {
            return None;
        }
        let bytes = match self.read_upload(upload).await {
            Ok(bytes) => bytes,
            Err(e) => {
                tracing::warn!(error = %e, file = %upload.id, "could not read an image");
                return None;
            }
        };
        let thumbnail_box = self
            .ctx
            .setting_bool("Message_Attachments_Thumbnails_Enabled")
            .then(|| {
                let side = |key: &str| u32::try_from(self.ctx.setting_int(key)).unwrap_or(0);
                (
                    side("Message_Attachments_Thumbnails_Width"),
                    side("Message_Attachments_Thumbnails_Height"),
                )
            })
            .filter(|(w, h)| *w > 0 && *h > 0);
        let content_type = upload.content_type.clone();
        let processed: Processed = match images::run_bounded(move || {
            images::process(&bytes, &content_type, thumbnail_box)
        })
        .await
        {
            Ok(processed) => processed,
            Err(e) => {
                tracing::info!(error = %e, file = %upload.id, "no preview for an image");
                return None;
            }
        };
        if upload.dimensions.is_none() {
            upload.dimensions = Some((processed.width, processed.height));
            upload.format = upload
                .content_type
                .strip_prefix("image/")
                .map(str::to_owned);
        }
        let mut extras = ImageExtras {
            preview: Some(processed.preview),
            thumbnail: None,
        };
        if let Some(thumb) = processed.thumbnail {
            match self.store_thumbnail(upload, thumb).await {
                Ok(record) => extras.thumbnail = Some(record),
                Err(e) => {
                    tracing::warn!(error = %e, file = %upload.id, "could not keep a thumbnail")
                }
            }
        }
        Some(extras)
    }

    /// Reads a whole stored upload (callers bound its size first).
    async fn read_upload(&self, upload: &Upload) -> Result<Vec<u8>> {
        let reader = self
            .open_upload(upload, 0)
            .await?
            .ok_or_else(|| Error::failure("the file's bytes are missing"))?;
        let mut bytes = Vec::with_capacity(usize::try_from(reader.len).unwrap_or(0));
        reader
            .body
            .take(images::MAX_INPUT_BYTES + 1)
            .read_to_end(&mut bytes)
            .await
            .map_err(Error::internal)?;
        Ok(bytes)
    }

    /// Stores a thumbnail as its own upload (upstream's `uploadImageThumbnail`: named
    /// `thumb-<name>`, `typeGroup` `thumb`, pointing at its original).
    async fn store_thumbnail(&self, original: &Upload, thumb: images::Thumbnail) -> Result<Upload> {
        let thumb_id = id::new_id();
        let mut body = std::io::Cursor::new(thumb.bytes);
        let blobs = self.blob_store_for_writing()?;
        let size = blobs
            .put(&thumb_id, &mut body, None)
            .await
            .map_err(Error::internal)?;
        let name = format!("thumb-{}", original.name);
        let at = now();
        let record = Upload {
            store_key: thumb_id.clone(),
            id: thumb_id,
            extension: name
                .rsplit_once('.')
                .map(|(_, ext)| ext.to_lowercase())
                .unwrap_or_default(),
            name,
            size,
            content_type: thumb.content_type.to_owned(),
            room_id: original.room_id.clone(),
            user_id: original.user_id.clone(),
            store: blobs.name().to_owned(),
            complete: true,
            description: None,
            dimensions: Some((thumb.width, thumb.height)),
            format: Some(thumb.format.to_owned()),
            expires_at: None,
            uploaded_at: at,
            updated_at: at,
            original_file_id: Some(original.id.clone()),
        };
        if let Err(e) = self.ctx.store.insert_upload(&record).await {
            self.discard_blob(&record).await;
            return Err(store_error(e));
        }
        Ok(record)
    }

    /// `rooms.mediaConfirm`: sends the message for a temporary upload of the caller's.
    pub async fn confirm_upload(
        &self,
        session: &Session,
        room: &RoomAccess,
        file_id: &str,
        fields: FileMessage,
    ) -> Result<Message> {
        let found = self
            .ctx
            .store
            .upload_by_id(file_id)
            .await
            .map_err(store_error)?;
        let upload = found
            .filter(|u| u.user_id == session.user.id && u.room_id == room.id && !u.complete)
            .ok_or_else(invalid_file)?;
        self.send_file_message(session, room, upload, fields).await
    }

    /// A page of a room's files with their uploaders (`channels.files` and friends).
    pub async fn room_files(
        &self,
        room: &RoomAccess,
        filter: &UploadFilter,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<(Upload, Option<User>)>, u64)> {
        let (uploads, total) = self
            .ctx
            .store
            .room_uploads(&room.id, filter, offset, count)
            .await
            .map_err(store_error)?;
        let mut ids: Vec<String> = uploads.iter().map(|u| u.user_id.clone()).collect();
        ids.sort();
        ids.dedup();
        let users = self
            .ctx
            .store
            .users_by_ids(&ids)
            .await
            .map_err(store_error)?;
        let listed = uploads
            .into_iter()
            .map(|u| {
                let user = users.iter().find(|x| x.id == u.user_id).cloned();
                (u, user)
            })
            .collect();
        Ok((listed, total))
    }

    /// `rooms.images`: a room's images, newest first, leaving out thumbnails and unconfirmed
    /// uploads. With `starting_from`, only images up to that one's time, and that image first
    /// even when the page would not include it (upstream's behaviour).
    pub async fn room_images(
        &self,
        session: &Session,
        room_id: &str,
        starting_from: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<Upload>, u64)> {
        let room = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?;
        let Some(room) = room else {
            return Err(Error::forbidden());
        };
        if !self
            .ctx
            .rooms()
            .can_access_room(&session.user, &room)
            .await?
        {
            return Err(Error::forbidden());
        }
        let initial = match starting_from.filter(|s| !s.is_empty()) {
            Some(id) => self
                .ctx
                .store
                .upload_by_id(id)
                .await
                .map_err(store_error)?
                .filter(|u| u.room_id == room.id),
            None => None,
        };
        let filter = UploadFilter {
            type_group: Some("image".into()),
            only_complete: true,
            uploaded_up_to: initial.as_ref().map(|u| u.uploaded_at),
            ..UploadFilter::default()
        };
        let (mut images, total) = self
            .ctx
            .store
            .room_uploads(&room.id, &filter, offset, count)
            .await
            .map_err(store_error)?;
        if let Some(initial) = initial
            && !images.iter().any(|u| u.id == initial.id)
        {
            images.insert(0, initial);
        }
        Ok((images, total))
    }

    /// A file for download by `user`: it must exist and its room be readable by them.
    /// `None` when there is no such file; `Forbidden` when the caller may not see it.
    pub async fn file_for_download(
        &self,
        user: Option<&User>,
        file_id: &str,
    ) -> Result<Option<Upload>> {
        let found = self
            .ctx
            .store
            .upload_by_id(file_id)
            .await
            .map_err(store_error)?;
        let Some(upload) = found else {
            return Ok(None);
        };
        // A data export is its owner's alone, whatever protects room files.
        if crate::data_export::export_kind(&upload).is_some() {
            let owner = user.is_some_and(|u| u.id == upload.user_id);
            if owner && self.ctx.setting_bool("UserData_EnableDownload") {
                return Ok(Some(upload));
            }
            return Err(Error::forbidden());
        }
        if !self.ctx.setting_bool("FileUpload_ProtectFiles") {
            return Ok(Some(upload));
        }
        let Some(user) = user else {
            return Err(Error::forbidden());
        };
        if self.may_download(user, &upload).await? {
            Ok(Some(upload))
        } else {
            Err(Error::forbidden())
        }
    }

    /// Whether a signed-in `user` may download a protected file, as upstream's
    /// `requestCanAccessFiles` decides from the two `FileUpload_Restrict_*` settings: neither
    /// set lets any signed-in user in; room members only; anyone who can read the room; both
    /// set (a combination upstream's admin UI never offers) lets no one in.
    async fn may_download(&self, user: &User, upload: &Upload) -> Result<bool> {
        let members_only = self.ctx.setting_bool("FileUpload_Restrict_to_room_members");
        let readers = self
            .ctx
            .setting_bool("FileUpload_Restrict_to_users_who_can_access_room");
        match (members_only, readers) {
            (false, false) => Ok(true),
            (true, false) => Ok(self
                .ctx
                .store
                .subscription(&upload.room_id, &user.id)
                .await
                .map_err(store_error)?
                .is_some()),
            (false, true) => {
                let room = self
                    .ctx
                    .store
                    .room_by_id(&upload.room_id)
                    .await
                    .map_err(store_error)?;
                match &room {
                    Some(room) => self.ctx.rooms().can_access_room(user, room).await,
                    None => Ok(false),
                }
            }
            (true, true) => Ok(false),
        }
    }

    /// Opens an upload's bytes from `offset`; `None` if the blob is missing.
    pub async fn open_upload(&self, upload: &Upload, offset: u64) -> Result<Option<BlobReader>> {
        let blobs = self.blob_store_named(&upload.store)?;
        match blobs.open(&upload.store_key, offset).await {
            Ok(found) => Ok(found),
            Err(e) if upload.store == crate::storage::FILE_SYSTEM_UPLOADS => {
                Err(Error::internal(e))
            }
            Err(e) => Err(storage_unavailable(&upload.store, &e.to_string())),
        }
    }

    /// Deletes the files a message carries (upstream deletes `file._id`); false when one of
    /// them could not be deleted (it is logged and left for a later attempt).
    pub(crate) async fn delete_message_files(&self, message: &Message) -> bool {
        let Some(Value::Array(files)) = &message.files else {
            return true;
        };
        let mut all_deleted = true;
        for file in files {
            let Some(file_id) = file.get("_id").and_then(Value::as_str) else {
                continue;
            };
            match self.ctx.store.upload_by_id(file_id).await {
                Ok(Some(upload)) => {
                    if let Err(e) = self.discard_upload(&upload).await {
                        tracing::warn!(error = %e, file = file_id, "could not delete a file");
                        all_deleted = false;
                    }
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::warn!(error = %e, file = file_id, "could not look a file up");
                    all_deleted = false;
                }
            }
        }
        all_deleted
    }

    /// Deletes every file of a deleted room (upstream's `eraseRoom` removes them too).
    pub(crate) async fn delete_room_files(&self, room_id: &str) {
        let all = UploadFilter {
            include_thumbs: true,
            ..UploadFilter::default()
        };
        match self.ctx.store.room_uploads(room_id, &all, 0, None).await {
            Ok((uploads, _)) => {
                for upload in uploads {
                    if let Err(e) = self.discard_upload(&upload).await {
                        tracing::warn!(error = %e, file = %upload.id, "could not delete a file");
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, room = room_id, "could not list a room's files"),
        }
    }

    /// Drops temporary uploads nobody confirmed in time; returns how many.
    pub async fn purge_expired_uploads(&self) -> Result<u64> {
        let expired = self
            .ctx
            .store
            .expired_uploads(now())
            .await
            .map_err(store_error)?;
        for upload in &expired {
            self.discard_upload(upload).await?;
        }
        Ok(expired.len() as u64)
    }
}

/// A reader that computes the SHA-256 of everything read through it.
struct HashingReader<R> {
    inner: R,
    hasher: sha2::Sha256,
}

impl<R> HashingReader<R> {
    fn new(inner: R) -> Self {
        HashingReader {
            inner,
            hasher: <sha2::Sha256 as sha2::Digest>::new(),
        }
    }

    /// The lowercase hex digest of what was read so far.
    fn hex_digest(&self) -> String {
        hex::encode(sha2::Digest::finalize(self.hasher.clone()))
    }
}

impl<R: AsyncRead + Unpin> AsyncRead for HashingReader<R> {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let this = &mut *self;
        let before = buf.filled().len();
        let polled = std::pin::Pin::new(&mut this.inner).poll_read(cx, buf);
        if let std::task::Poll::Ready(Ok(())) = &polled {
            sha2::Digest::update(&mut this.hasher, &buf.filled()[before..]);
        }
        polled
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_trust_bytes_not_claims() {
        // A claim cannot turn markup into something served inline, nor HTML into text.
        assert_eq!(decide_type("text/html", Some("image/png")), "text/html");
        assert_eq!(decide_type("text/plain", Some("text/html")), "text/plain");
        assert_eq!(decide_type("text/plain", Some("text/csv")), "text/csv");
        assert_eq!(
            decide_type("text/plain", Some("application/octet-stream")),
            "application/octet-stream"
        );
        assert_eq!(
            decide_type(
                "application/zip",
                Some("application/vnd.openxmlformats-officedocument.wordprocessingml.document")
            ),
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
        );
        assert_eq!(
            decide_type("application/octet-stream", Some("image/png")),
            "application/octet-stream"
        );
    }

    #[test]
    fn allow_and_deny_lists() {
        assert!(type_allowed("image/png", "", "image/svg+xml"));
        assert!(!type_allowed("image/svg+xml", "", "image/svg+xml"));
        assert!(type_allowed("image/png", "image/*,application/pdf", ""));
        assert!(!type_allowed("text/plain", "image/*, application/pdf", ""));
        assert!(!type_allowed("image/png", "image/*", "image/*"));
    }

    #[test]
    fn names_and_urls() {
        assert_eq!(sanitize_file_name("../../etc/passwd"), "passwd");
        assert_eq!(sanitize_file_name("C:\\x\\a\u{202e}gpj.exe"), "agpj.exe");
        assert_eq!(sanitize_file_name(".."), "file");
        assert_eq!(encode_uri("a b/ü#?.png"), "a%20b/%C3%BC#?.png");
        assert_eq!(human_size(104_857_600), "104.86 MB");
        assert_eq!(human_size(10), "10 B");
    }
}
