//! `users.requestDataDownload`: a user's copy of their own data.
//!
//! As upstream, the request records an export operation and answers it `pending`; a background
//! task (one export at a time) builds a zip archive holding the profile (`profile.json`), the
//! rooms the user belongs to with their messages (`rooms/<id>.json`: only the user's own, or
//! everyone's with `fullExport`) and the files the user uploaded (`files/`, bounded in all),
//! then marks it `completed` and mails the user a link when mail is configured. The upload
//! record is the operation: `complete` false while it is built. Only its owner may download
//! it (`/file-upload/<id>/<name>`), while `UserData_EnableDownload` is on. Asking again within
//! a day answers the last one instead of building another.

use crate::files::Upload;
use crate::{Accounts, Service, Session, store_error};
use comet_core::iso;
use comet_core::page::{MessageFilter, MessageSortKey, Page};
use comet_core::room::Message;
use comet_core::user::User;
use comet_core::{Error, Result, Timestamp, id, now};
use serde_json::{Value, json};
use std::sync::Arc;
use tokio::io::AsyncReadExt;

/// The `room_id` of a data export: no room (upload records of room files always name one).
pub const USER_DATA_ROOM: &str = "";

/// How the upload of a data export is marked, full or not.
const FULL_EXPORT_MARK: &str = "user-data-export:full";
const OWN_DATA_MARK: &str = "user-data-export:own";

/// How long a finished export answers new requests before another is built.
const REUSE_HOURS: i64 = 24;

/// How long an export may stay pending before it counts as lost (its server stopped while
/// building it) and a new request starts another.
const PENDING_HOURS: i64 = 1;

/// The most bytes of the user's uploaded files one export copies.
const MAX_EXPORTED_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// Exports are built one at a time, whoever asks.
static BUILDING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// Messages read from the store at a time, and the most one export holds, so that a request
/// cannot make the server hold an unbounded document.
const MESSAGE_BATCH: u64 = 500;
const MAX_EXPORTED_MESSAGES: usize = 50_000;

/// One data export (upstream's `IExportOperation`).
#[derive(Debug, Clone)]
pub struct ExportOperation {
    pub id: String,
    pub user_id: String,
    pub full_export: bool,
    /// Whether the archive is built (`completed`) or not yet (`pending`).
    pub completed: bool,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// The archive, downloadable by its owner once completed.
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
        completed: upload.complete,
        created_at: upload.uploaded_at,
        updated_at: upload.updated_at,
        file: upload,
    }
}

impl Service {
    /// `users.requestDataDownload`: the caller's last export of this kind if it is less than a
    /// day old (or still being built), otherwise a new one, answered `pending` and built in
    /// the background.
    pub async fn request_data_download(
        self: &Arc<Self>,
        session: &Session,
        full_export: bool,
    ) -> Result<DataDownload> {
        let download = self
            .accounts()
            .find_or_start_data_download(session, full_export)
            .await?;
        if download.requested {
            let service = Arc::clone(self);
            let upload = download.operation.file.clone();
            let user = session.user.clone();
            tokio::spawn(async move {
                let Ok(_turn) = BUILDING.acquire().await else {
                    return;
                };
                let accounts = service.accounts();
                if let Err(e) = accounts.build_data_export(&user, upload, full_export).await {
                    tracing::warn!(error = %e, user = %user.id, "user data export failed");
                }
            });
        }
        Ok(download)
    }
}

impl Accounts<'_> {
    /// The export to answer: the last of this kind while recent, else a new pending one.
    async fn find_or_start_data_download(
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
        if let Some(last) = last {
            let age = now().signed_duration_since(last.uploaded_at);
            let live = if last.complete {
                age < chrono::Duration::hours(REUSE_HOURS)
            } else {
                age < chrono::Duration::hours(PENDING_HOURS)
            };
            if live {
                return Ok(DataDownload {
                    requested: false,
                    operation: operation(last, full_export),
                });
            }
        }
        let file = self.record_export(user, full_export).await?;
        Ok(DataDownload {
            requested: true,
            operation: operation(file, full_export),
        })
    }

    /// Builds the archive of a pending export, stores it and marks the export completed.
    async fn build_data_export(
        &self,
        user: &User,
        mut upload: Upload,
        full_export: bool,
    ) -> Result<()> {
        let mut zip = crate::export::ZipWriter::default();
        let (profile, rooms) = self.export_document(user, full_export).await?;
        let pretty = |value: &Value| serde_json::to_vec_pretty(value).map_err(Error::internal);
        zip.add("profile.json", &pretty(&profile)?);
        for room in &rooms {
            let room_id = room["_id"].as_str().unwrap_or_default();
            zip.add(&format!("rooms/{room_id}.json"), &pretty(room)?);
        }
        self.add_user_files(user, &upload.id, &mut zip).await?;
        let bytes = zip.finish();
        let blobs = self.ctx.files().blob_store_for_writing()?;
        let mut body = std::io::Cursor::new(bytes);
        let size = blobs
            .put(&upload.store_key, &mut body, None)
            .await
            .map_err(Error::internal)?;
        upload.size = size;
        upload.store = blobs.name().to_owned();
        upload.complete = true;
        upload.updated_at = now();
        let updated = self
            .ctx
            .store
            .update_upload(&upload)
            .await
            .map_err(store_error)?;
        if !updated {
            // The record went meanwhile (the account was deleted): so does the archive.
            self.ctx.files().discard_blob(&upload).await;
            return Ok(());
        }
        tracing::info!(user = %user.id, file = %upload.id, full_export, "user data exported");
        if let Some(email) = &user.email {
            let url = format!("{}{}", self.site_url(), crate::files::file_url(&upload));
            let mail = crate::mail_templates::render(
                crate::mail_templates::MailKind::DataExport,
                self.mail_language(user),
                &self.ctx.setting_str("Site_Name"),
                crate::email_links::display_name(user),
                &url,
            );
            self.ctx.queue_mail(&email.address, mail).await?;
        }
        Ok(())
    }

    /// The user's own uploads (not earlier exports), up to [`MAX_EXPORTED_FILE_BYTES`] in all.
    async fn add_user_files(
        &self,
        user: &User,
        export_id: &str,
        zip: &mut crate::export::ZipWriter,
    ) -> Result<()> {
        let uploads = self
            .ctx
            .store
            .user_uploads(&user.id)
            .await
            .map_err(store_error)?;
        let mut copied = 0u64;
        for upload in uploads {
            if upload.id == export_id
                || !upload.complete
                || export_kind(&upload).is_some()
                || upload.original_file_id.is_some()
                || copied + upload.size > MAX_EXPORTED_FILE_BYTES
            {
                continue;
            }
            let Some(blob) = self.ctx.files().open_upload(&upload, 0).await? else {
                continue;
            };
            let mut bytes = Vec::new();
            blob.body
                .take(upload.size)
                .read_to_end(&mut bytes)
                .await
                .map_err(Error::internal)?;
            copied += bytes.len() as u64;
            let name: String = upload
                .name
                .chars()
                .map(|c| if matches!(c, '/' | '\\') { '_' } else { c })
                .collect();
            zip.add(&format!("files/{}-{name}", upload.id), &bytes);
        }
        Ok(())
    }

    /// The export's content: the profile (with when and how it was exported) and each room
    /// with its messages.
    async fn export_document(&self, user: &User, full_export: bool) -> Result<(Value, Vec<Value>)> {
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
        let profile = json!({
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
        });
        Ok((profile, rooms))
    }

    /// Records a pending export: an upload of the user's, tied to no room, not yet complete.
    async fn record_export(&self, user: &User, full_export: bool) -> Result<Upload> {
        let file_id = id::new_id();
        let at = now();
        let kind = if full_export { "full" } else { "own" };
        let upload = Upload {
            store_key: file_id.clone(),
            id: file_id,
            name: format!(
                "{}-data-{kind}-{}.zip",
                user.username,
                at.format("%Y%m%d%H%M%S")
            ),
            size: 0,
            content_type: "application/zip".to_owned(),
            extension: "zip".to_owned(),
            room_id: USER_DATA_ROOM.to_owned(),
            user_id: user.id.clone(),
            store: self.ctx.files().blob_store_for_writing()?.name().to_owned(),
            complete: false,
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
        self.ctx
            .store
            .insert_upload(&upload)
            .await
            .map_err(store_error)?;
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
