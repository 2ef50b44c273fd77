//! `users.requestDataDownload`: a user's copy of their own data.
//!
//! Upstream records an export operation, which a periodic job later turns into a zip archive
//! (`UserDataFiles`) announced by email. Comet builds the export at once: one JSON document
//! holding the profile, the rooms the user belongs to and their messages (only the user's
//! own, or everyone's with `fullExport`), kept as an upload owned by the user and tied to no
//! room. Only its owner may download it (`/file-upload/<id>/<name>`), while
//! `UserData_EnableDownload` is on. The upload record is the operation: asking again within
//! a day answers the last one instead of building another.

use crate::files::Upload;
use crate::{Accounts, Session, store_error};
use comet_core::page::{MessageFilter, MessageSortKey, Page};
use comet_core::room::Message;
use comet_core::user::User;
use comet_core::{Error, Result, Timestamp, id, now};
use serde_json::{Value, json};

/// A time as the export writes it (JavaScript's ISO form).
fn iso(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// The `room_id` of a data export: no room (upload records of room files always name one).
pub const USER_DATA_ROOM: &str = "";

/// How the upload of a data export is marked, full or not.
const FULL_EXPORT_MARK: &str = "user-data-export:full";
const OWN_DATA_MARK: &str = "user-data-export:own";

/// How long a finished export answers new requests before another is built.
const REUSE_HOURS: i64 = 24;

/// Messages read from the store at a time, and the most one export holds, so that a request
/// cannot make the server hold an unbounded document.
const MESSAGE_BATCH: u64 = 500;
const MAX_EXPORTED_MESSAGES: usize = 50_000;

/// One data export (upstream's `IExportOperation`), finished when it is answered.
#[derive(Debug, Clone)]
pub struct ExportOperation {
    pub id: String,
    pub user_id: String,
    pub full_export: bool,
    pub created_at: Timestamp,
    /// The exported document, downloadable by its owner.
    pub file: Upload,
}

/// What `users.requestDataDownload` answers: whether a new export was made, and the export.
#[derive(Debug, Clone)]
pub struct DataDownload {
    pub requested: bool,
    pub operation: ExportOperation,
}

/// Whether `upload` is a data export, and if so whether a full one.
pub fn export_kind(upload: &Upload) -> Option<bool> {
    if upload.room_id != USER_DATA_ROOM {
        return None;
    }
    match upload.description.as_deref() {
        Some(FULL_EXPORT_MARK) => Some(true),
        Some(OWN_DATA_MARK) => Some(false),
        _ => None,
    }
}

fn operation(upload: Upload, full_export: bool) -> ExportOperation {
    ExportOperation {
        id: upload.id.clone(),
        user_id: upload.user_id.clone(),
        full_export,
        created_at: upload.uploaded_at,
        file: upload,
    }
}

impl Accounts<'_> {
    /// `users.requestDataDownload`: the caller's last export of this kind if it is less than a
    /// day old, otherwise a new one.
    pub async fn request_data_download(
        &self,
        session: &Session,
        full_export: bool,
    ) -> Result<DataDownload> {
        if !self.ctx.setting_bool("UserData_EnableDownload") {
            return Err(Error::meteor(
                "error-not-allowed",
                "Data download is not enabled on this server",
            ));
        }
        let user = &session.user;
        let uploads = self
            .ctx
            .store
            .user_uploads(&user.id)
            .await
            .map_err(store_error)?;
        let last = uploads
            .into_iter()
            .filter(|u| export_kind(u) == Some(full_export))
            .max_by_key(|u| u.uploaded_at);
        if let Some(last) = last
            && now().signed_duration_since(last.uploaded_at) < chrono::Duration::hours(REUSE_HOURS)
        {
            return Ok(DataDownload {
                requested: false,
                operation: operation(last, full_export),
            });
        }
        let document = self.export_document(user, full_export).await?;
        let bytes = serde_json::to_vec_pretty(&document).map_err(Error::internal)?;
        let file = self.store_export(user, full_export, bytes).await?;
        tracing::info!(user = %user.id, file = %file.id, full_export, "user data exported");
        Ok(DataDownload {
            requested: true,
            operation: operation(file, full_export),
        })
    }

    /// The export's content.
    async fn export_document(&self, user: &User, full_export: bool) -> Result<Value> {
        let subscriptions = self
            .ctx
            .store
            .subscriptions_of_user(&user.id, None)
            .await
            .map_err(store_error)?;
        let mut rooms = Vec::with_capacity(subscriptions.len());
        let mut exported = 0;
        for subscription in &subscriptions {
            let filter = MessageFilter {
                author_id: (!full_export).then(|| user.id.clone()),
                hide_removed: true,
                ..MessageFilter::default()
            };
            let mut messages = Vec::new();
            let mut offset = 0;
            while exported < MAX_EXPORTED_MESSAGES {
                let page = Page {
                    offset,
                    count: Some(MESSAGE_BATCH),
                    sort: vec![(
                        MessageSortKey::CreatedAt,
                        comet_core::page::Direction::Ascending,
                    )],
                };
                let batch = self
                    .ctx
                    .store
                    .room_messages(&subscription.room_id, &filter, &page)
                    .await
                    .map_err(store_error)?;
                let read = batch.len();
                for message in batch.iter().take(MAX_EXPORTED_MESSAGES - exported) {
                    messages.push(exported_message(message));
                    exported += 1;
                }
                if (read as u64) < MESSAGE_BATCH {
                    break;
                }
                offset += MESSAGE_BATCH;
            }
            rooms.push(json!({
                "_id": subscription.room_id,
                "t": subscription.room_type.as_str(),
                "name": subscription.name,
                "fname": subscription.fname,
                "roles": subscription.roles,
                "joinedAt": iso(subscription.joined_at),
                "messages": messages,
            }));
        }
        Ok(json!({
            "exportedAt": iso(now()),
            "fullExport": full_export,
            "truncated": exported >= MAX_EXPORTED_MESSAGES,
            "user": {
                "_id": user.id,
                "username": user.username,
                "name": user.name,
                "emails": user.email.as_ref().map(|e| vec![json!({"address": e.address, "verified": e.verified})]),
                "roles": user.roles,
                "nickname": user.nickname,
                "bio": user.bio,
                "statusText": user.status_text,
                "language": user.language,
                "utcOffset": user.utc_offset,
                "customFields": user.custom_fields,
                "preferences": user.preferences,
                "createdAt": iso(user.created_at),
                "lastLogin": user.last_login.map(iso),
            },
            "rooms": rooms,
        }))
    }

    /// Keeps the export as an upload of the user's, in the blob store new files go to.
    async fn store_export(&self, user: &User, full_export: bool, bytes: Vec<u8>) -> Result<Upload> {
        let file_id = id::new_id();
        let blobs = self.ctx.files().blob_store_for_writing()?;
        let mut body = std::io::Cursor::new(bytes);
        let size = blobs
            .put(&file_id, &mut body, None)
            .await
            .map_err(Error::internal)?;
        let at = now();
        let kind = if full_export { "full" } else { "own" };
        let upload = Upload {
            store_key: file_id.clone(),
            id: file_id,
            name: format!(
                "{}-data-{kind}-{}.json",
                user.username,
                at.format("%Y%m%d%H%M%S")
            ),
            size,
            content_type: "application/json".to_owned(),
            extension: "json".to_owned(),
            room_id: USER_DATA_ROOM.to_owned(),
            user_id: user.id.clone(),
            store: blobs.name().to_owned(),
            complete: true,
            description: Some(
                if full_export {
                    FULL_EXPORT_MARK
                } else {
                    OWN_DATA_MARK
                }
                .to_owned(),
            ),
            dimensions: None,
            format: None,
            expires_at: None,
            uploaded_at: at,
            updated_at: at,
            original_file_id: None,
        };
        if let Err(e) = self.ctx.store.insert_upload(&upload).await {
            self.ctx.files().discard_blob(&upload).await;
            return Err(store_error(e));
        }
        Ok(upload)
    }
}

/// One message as the export writes it.
fn exported_message(message: &Message) -> Value {
    json!({
        "_id": message.id,
        "ts": iso(message.created_at),
        "u": {"_id": message.author.id, "username": message.author.username},
        "msg": message.text,
        "t": message.kind,
        "tmid": message.thread_id,
        "editedAt": message.edited_at.map(iso),
        "attachments": message.attachments,
        "files": message.files,
    })
}
