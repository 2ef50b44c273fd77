//! Room exports (`rooms.export` with `type: "file"`): the room's messages between two dates,
//! written as upstream's export file (HTML, or one JSON object per line) with the files they
//! carry under `assets/`, packed in a zip. The request only checks and queues the export; a
//! worker builds it off the request path, one export at a time, stores the zip as an upload
//! and delivers it to the requester as a file message from `rocket.cat` in their direct room
//! (upstream emails a download link instead; Comet sends no email).
//!
//! The work is bounded: at most `MAX_EXPORT_MESSAGES` messages, assets up to
//! `MAX_ASSET_BYTES` in all, and `EXPORT_QUEUE` exports waiting.

use crate::files::{FileMessage, IncomingFile};
use crate::{Files, Service, Session, store_error};
use chrono::{DateTime, Utc};
use comet_core::iso;
use comet_core::page::{Direction, MessageFilter, MessageSortKey, Page};
use comet_core::room::Message;
use comet_core::user::{LoginToken, TokenKind, User};
use comet_core::{Error, Result, Timestamp, now};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc;

/// Most exports waiting for the worker; more are refused until it catches up.
const EXPORT_QUEUE: usize = 16;
/// Most messages one export holds (upstream has no cap; a huge room would hold the worker).
pub const MAX_EXPORT_MESSAGES: u64 = 20_000;
/// Messages read from the store at a time.
const EXPORT_PAGE: u64 = 1_000;
/// Most bytes of attached files copied into one export; later files are left out (their
/// message still names them).
const MAX_ASSET_BYTES: u64 = 64 * 1024 * 1024;

/// The form an export is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    Html,
    Json,
}

impl ExportFormat {
    fn extension(self) -> &'static str {
        match self {
            ExportFormat::Html => "html",
            ExportFormat::Json => "json",
        }
    }
}

/// One queued export.
#[derive(Debug, Clone)]
pub(crate) struct ExportJob {
    user_id: String,
    room_id: String,
    format: ExportFormat,
    from: Timestamp,
    to: Timestamp,
}

/// The service's side of the export queue.
pub(crate) struct ExportQueue {
    jobs: mpsc::Sender<ExportJob>,
}

impl ExportQueue {
    pub(crate) fn new() -> (ExportQueue, mpsc::Receiver<ExportJob>) {
        let (jobs, waiting) = mpsc::channel(EXPORT_QUEUE);
        (ExportQueue { jobs }, waiting)
    }
}

impl Service {
    /// Builds queued exports one after another. Holds the service weakly: the worker ends
    /// with it.
    pub(crate) fn run_export_worker(self: &Arc<Self>, mut waiting: mpsc::Receiver<ExportJob>) {
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(job) = waiting.recv().await {
                let Some(service) = service.upgrade() else {
                    break;
                };
                let (user, room) = (job.user_id.clone(), job.room_id.clone());
                if let Err(e) = service.files().build_export(job).await {
                    tracing::warn!(error = %e, %user, %room, "room export failed");
                }
            }
        });
    }
}

/// A request to export a room as a file.
#[derive(Debug, Clone)]
pub struct FileExport {
    pub format: ExportFormat,
    /// `dateFrom` (a day, `YYYY-MM-DD`); none: from the start.
    pub date_from: Option<chrono::NaiveDate>,
    /// `dateTo` (a day, included); none: until today.
    pub date_to: Option<chrono::NaiveDate>,
}

fn day_start(day: chrono::NaiveDate) -> Timestamp {
    day.and_hms_opt(0, 0, 0).map_or_else(now, |t| t.and_utc())
}

impl Files<'_> {
    /// `rooms.export` (`type: "file"`): checks as upstream (`mail-messages` in the room, the
    /// room, read access, the dates) and queues the export.
    pub async fn export_room(
        &self,
        session: &Session,
        room_id: &str,
        request: FileExport,
    ) -> Result<()> {
        self.check_export(session, room_id).await?;
        // Upstream reads both as midnight UTC and lets the last day count whole.
        let from = request
            .date_from
            .map_or(DateTime::<Utc>::UNIX_EPOCH, day_start);
        let to = request.date_to.map_or_else(now, day_start) + chrono::Duration::days(1);
        if from > to {
            return Err(Error::meteor(
                "error-invalid-dates",
                "From date cannot be after To date",
            ));
        }
        let job = ExportJob {
            user_id: session.user.id.clone(),
            room_id: room_id.to_owned(),
            format: request.format,
            from,
            to,
        };
        self.ctx.exports.jobs.try_send(job).map_err(|_| {
            Error::meteor(
                "error-too-many-requests",
                "Too many exports are waiting; try again later",
            )
        })?;
        tracing::info!(by = %session.user.id, room = %room_id, "room export queued");
        Ok(())
    }

    /// `rooms.export` (`type: "email"`): the same checks, then a refusal, as Comet sends no
    /// email.
    pub async fn export_room_by_email(
        &self,
        session: &Session,
        room_id: &str,
        has_recipients: bool,
    ) -> Result<()> {
        self.check_export(session, room_id).await?;
        if !has_recipients {
            return Err(Error::meteor("error-invalid-recipient", ""));
        }
        Err(Error::meteor(
            "error-email-send-failed",
            "This server does not send email",
        ))
    }

    async fn check_export(&self, session: &Session, room_id: &str) -> Result<()> {
        if !self
            .ctx
            .rooms()
            .has_room_permission(&session.user, "mail-messages", room_id)
            .await?
        {
            return Err(Error::meteor(
                "error-action-not-allowed",
                "Mailing is not allowed",
            ));
        }
        let room = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::meteor("error-invalid-room", ""))?;
        if !self
            .ctx
            .rooms()
            .can_access_room(&session.user, &room)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not Allowed"));
        }
        Ok(())
    }

    /// Builds one export and delivers it (the worker's part).
    async fn build_export(&self, job: ExportJob) -> Result<()> {
        let store = &self.ctx.store;
        let Some(user) = store.user_by_id(&job.user_id).await.map_err(store_error)? else {
            return Ok(());
        };
        let Some(room) = store.room_by_id(&job.room_id).await.map_err(store_error)? else {
            return Ok(());
        };
        let filter = MessageFilter {
            oldest: Some(job.from),
            latest: Some(job.to),
            inclusive: true,
            ..MessageFilter::default()
        };
        let mut messages = Vec::new();
        while (messages.len() as u64) < MAX_EXPORT_MESSAGES {
            let page = Page {
                offset: messages.len() as u64,
                count: Some(EXPORT_PAGE.min(MAX_EXPORT_MESSAGES - messages.len() as u64)),
                sort: vec![(MessageSortKey::CreatedAt, Direction::Ascending)],
            };
            let batch = store
                .room_messages(&room.id, &filter, &page)
                .await
                .map_err(store_error)?;
            let done = (batch.len() as u64) < EXPORT_PAGE;
            messages.extend(batch.into_iter().filter(|m| m.deleted_at.is_none()));
            if done {
                break;
            }
        }
        let target = match (job.format, &room.name) {
            (ExportFormat::Json, Some(name)) if !name.is_empty() => format!("{name}.json"),
            (format, _) => format!("{}.{}", room.id, format.extension()),
        };
        let mut zip = ZipWriter::default();
        zip.add(&target, render(job.format, &messages).as_bytes());
        let mut copied = 0u64;
        for message in &messages {
            let Some((file_id, file_name)) = first_file(message) else {
                continue;
            };
            let Some(upload) = store.upload_by_id(&file_id).await.map_err(store_error)? else {
                continue;
            };
            if copied + upload.size > MAX_ASSET_BYTES {
                continue;
            }
            let Some(blob) = self.open_upload(&upload, 0).await? else {
                continue;
            };
            let mut bytes = Vec::new();
            blob.body
                .take(upload.size)
                .read_to_end(&mut bytes)
                .await
                .map_err(Error::internal)?;
            copied += bytes.len() as u64;
            zip.add(&format!("assets/{file_id}-{file_name}"), &bytes);
        }
        let archive = zip.finish();
        self.deliver_export(&user, &room, job.format, archive).await
    }

    /// Sends the zip to `user` from `rocket.cat`, in their direct room.
    async fn deliver_export(
        &self,
        user: &User,
        room: &comet_core::room::Room,
        format: ExportFormat,
        archive: Vec<u8>,
    ) -> Result<()> {
        let Some(bot) = self
            .ctx
            .store
            .user_by_id("rocket.cat")
            .await
            .map_err(store_error)?
        else {
            return Err(Error::internal("rocket.cat is missing"));
        };
        let bot = Session {
            token: LoginToken {
                user_id: bot.id.clone(),
                hashed_token: String::new(),
                created_at: now(),
                kind: TokenKind::Login,
                two_factor_until: None,
                two_factor_client: None,
            },
            user: bot,
        };
        let direct = self
            .ctx
            .rooms()
            .create_direct(&bot, std::slice::from_ref(&user.username), false)
            .await?;
        let direct = self
            .ctx
            .rooms()
            .room_access(&bot, direct)
            .await?
            .ok_or_else(|| Error::internal("rocket.cat cannot write in its direct room"))?;
        // Upstream's name: the day, the user's display name, `-data` for JSON.
        let shown = if user.name.is_empty() {
            &user.username
        } else {
            &user.name
        };
        let suffix = if format == ExportFormat::Json {
            "-data"
        } else {
            ""
        };
        let name = format!("{}-{shown}{suffix}.zip", now().format("%Y-%m-%d"));
        let mut body = std::io::Cursor::new(archive);
        let upload = self
            .store_upload(
                &bot,
                &direct,
                IncomingFile {
                    name,
                    claimed_type: Some("application/zip".to_owned()),
                    body: &mut body,
                },
                false,
            )
            .await?;
        let room_name = room.name.clone().unwrap_or_else(|| room.id.clone());
        self.send_file_message(
            &bot,
            &direct,
            upload,
            FileMessage {
                text: Some(format!("Your export of {room_name} is ready to download.")),
                ..FileMessage::default()
            },
        )
        .await?;
        tracing::info!(user = %user.id, room = %room.id, "room export delivered");
        Ok(())
    }
}

/// The id and name of the file a message carries, if any.
fn first_file(message: &Message) -> Option<(String, String)> {
    let file = message.files.as_ref()?.as_array()?.first()?;
    let id = file.get("_id")?.as_str()?;
    let name = file.get("name").and_then(Value::as_str).unwrap_or("file");
    // A name is only a path segment inside the archive.
    let name: String = name
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    Some((id.to_owned(), name))
}

/// Upstream's per-attachment summary in an export.
fn attachment_summary(attachment: &Value, message: &Message) -> Value {
    let field = |name: &str| attachment.get(name).cloned().unwrap_or(Value::Null);
    let url = [
        "title_link",
        "image_url",
        "audio_url",
        "video_url",
        "message_link",
    ]
    .iter()
    .find_map(|k| {
        attachment
            .get(*k)
            .filter(|v| v.as_str().is_some_and(|s| !s.is_empty()))
    })
    .cloned()
    .unwrap_or(Value::Null);
    let file = first_file(message);
    let mut out = Map::new();
    for key in [
        "type",
        "title",
        "title_link",
        "image_url",
        "audio_url",
        "video_url",
        "message_link",
        "image_type",
        "image_size",
        "video_size",
        "video_type",
        "audio_size",
        "audio_type",
    ] {
        let value = field(key);
        if !value.is_null() {
            out.insert(key.to_owned(), value);
        }
    }
    out.insert("url".into(), url);
    out.insert("remote".into(), json!(file.is_none()));
    if let Some((id, name)) = file {
        out.insert("fileId".into(), json!(id));
        out.insert("fileName".into(), json!(name));
    }
    Value::Object(out)
}

/// What a message says in an export: its text, or for the notices of joining, leaving and
/// renaming the sentence upstream writes for them (in English).
fn export_text(message: &Message) -> String {
    let user = &message.author.username;
    match message.kind.as_deref() {
        Some("uj") => "Has joined the channel.".to_owned(),
        Some("ul") => "Has left the channel.".to_owned(),
        Some("ult") => "Has left the team.".to_owned(),
        Some("ujt") => "Has joined the team.".to_owned(),
        Some("au") => format!("User {} added by {user}.", message.text),
        Some("ru") => format!("User {} removed by {user}.", message.text),
        Some("r") => format!("Room name changed to: {} by {user}", message.text),
        Some("wm") => format!("Welcome {user}"),
        _ => message.text.clone(),
    }
}

fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The export file: for JSON one object per message and line (`msg`, `username`, `ts`,
/// `attachments`, `type`), for HTML a paragraph per message, as upstream writes them. Unlike
/// upstream, the HTML escapes what people wrote.
pub fn render(format: ExportFormat, messages: &[Message]) -> String {
    let mut out = String::new();
    if format == ExportFormat::Html {
        out.push_str("<meta http-equiv=\"content-type\" content=\"text/html; charset=utf-8\">");
    }
    let lines: Vec<String> = messages
        .iter()
        .map(|message| {
            let text = export_text(message);
            match format {
                ExportFormat::Json => {
                    let mut object = Map::new();
                    object.insert("msg".into(), json!(text));
                    object.insert("username".into(), json!(message.author.username));
                    object.insert("ts".into(), json!(iso(message.created_at)));
                    if let Some(Value::Array(attachments)) = &message.attachments {
                        let summaries: Vec<Value> = attachments
                            .iter()
                            .map(|a| attachment_summary(a, message))
                            .collect();
                        object.insert("attachments".into(), Value::Array(summaries));
                    }
                    if let Some(kind) = &message.kind {
                        object.insert("type".into(), json!(kind));
                    }
                    Value::Object(object).to_string()
                }
                ExportFormat::Html => {
                    let italic = matches!(
                        message.kind.as_deref(),
                        Some("uj" | "ul" | "au" | "r" | "ru" | "wm" | "livechat-close")
                    );
                    let body = if italic {
                        format!("<i>{}</i>", escape_html(&text))
                    } else {
                        escape_html(&text)
                    };
                    let mut parts = vec![
                        format!(
                            "<p><strong>{}</strong> ({}):<br/>",
                            escape_html(&message.author.username),
                            message.created_at.format("%a, %d %b %Y %H:%M:%S GMT")
                        ),
                        body,
                    ];
                    if let Some((id, name)) = first_file(message) {
                        let title = message
                            .attachments
                            .as_ref()
                            .and_then(Value::as_array)
                            .and_then(|a| {
                                a.iter().find(|att| {
                                    att.get("type").and_then(Value::as_str) == Some("file")
                                        && att
                                            .get("title_link")
                                            .and_then(Value::as_str)
                                            .is_some_and(|l| l.contains(&id))
                                })
                            })
                            .and_then(|att| att.get("title").and_then(Value::as_str))
                            .unwrap_or("Message attachments")
                            .to_owned();
                        parts.push(format!(
                            "<br/><a href=\"./assets/{}\">{}</a>",
                            escape_html(&format!("{id}-{name}")),
                            escape_html(&title)
                        ));
                    }
                    parts.push("</p>".to_owned());
                    parts.join("\n")
                }
            }
        })
        .collect();
    out.push_str(&lines.join("\n"));
    out.push('\n');
    out
}

/// A zip archive built in memory, its entries stored uncompressed (the assets are mostly
/// compressed already, and the archive is a download, not an archive format to optimise).
#[derive(Default)]
pub(crate) struct ZipWriter {
    bytes: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl ZipWriter {
    pub(crate) fn add(&mut self, name: &str, data: &[u8]) {
        // Sizes and offsets are 32-bit in a plain zip: the caps above keep exports far below.
        let (Ok(size), Ok(offset)) = (u32::try_from(data.len()), u32::try_from(self.bytes.len()))
        else {
            return;
        };
        let Ok(name_len) = u16::try_from(name.len()) else {
            return;
        };
        let crc = crc32fast::hash(data);
        // Version 2.0, bit 11: the name is UTF-8; method 0 (stored); no date.
        let common = |out: &mut Vec<u8>| {
            out.extend_from_slice(&20u16.to_le_bytes());
            out.extend_from_slice(&0x0800u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
            out.extend_from_slice(&0x0021u16.to_le_bytes());
            out.extend_from_slice(&crc.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&size.to_le_bytes());
            out.extend_from_slice(&name_len.to_le_bytes());
            out.extend_from_slice(&0u16.to_le_bytes());
        };
        self.bytes.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut self.bytes);
        self.bytes.extend_from_slice(name.as_bytes());
        self.bytes.extend_from_slice(data);

        self.central
            .extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        self.central.extend_from_slice(&20u16.to_le_bytes());
        common(&mut self.central);
        // Comment length, disk number, internal and external attributes, header offset.
        self.central.extend_from_slice(&0u16.to_le_bytes());
        self.central.extend_from_slice(&0u16.to_le_bytes());
        self.central.extend_from_slice(&0u16.to_le_bytes());
        self.central.extend_from_slice(&0u32.to_le_bytes());
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.entries = self.entries.saturating_add(1);
    }

    pub(crate) fn finish(mut self) -> Vec<u8> {
        let offset = u32::try_from(self.bytes.len()).unwrap_or(u32::MAX);
        let size = u32::try_from(self.central.len()).unwrap_or(u32::MAX);
        self.bytes.append(&mut self.central);
        self.bytes.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.bytes.extend_from_slice(&0u16.to_le_bytes());
        self.bytes.extend_from_slice(&0u16.to_le_bytes());
        self.bytes.extend_from_slice(&self.entries.to_le_bytes());
        self.bytes.extend_from_slice(&self.entries.to_le_bytes());
        self.bytes.extend_from_slice(&size.to_le_bytes());
        self.bytes.extend_from_slice(&offset.to_le_bytes());
        self.bytes.extend_from_slice(&0u16.to_le_bytes());
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use comet_core::room::UserStub;

    fn message(text: &str, kind: Option<&str>) -> Message {
        let at = DateTime::parse_from_rfc3339("2024-03-15T10:20:30Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|_| now());
        let mut m = Message::new(
            "m1".into(),
            "r1",
            UserStub {
                id: "u1".into(),
                username: "ann".into(),
                name: None,
            },
            text,
            at,
        );
        m.kind = kind.map(str::to_owned);
        m
    }

    #[test]
    fn json_is_one_object_per_line() {
        let out = render(
            ExportFormat::Json,
            &[message("hello", None), message("", Some("uj"))],
        );
        let lines: Vec<Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap_or(Value::Null))
            .collect();
        assert_eq!(
            lines,
            [
                json!({"msg": "hello", "ts": "2024-03-15T10:20:30.000Z", "username": "ann"}),
                json!({"msg": "Has joined the channel.", "ts": "2024-03-15T10:20:30.000Z",
                       "type": "uj", "username": "ann"}),
            ]
        );
    }

    #[test]
    fn html_escapes_what_people_wrote() {
        let out = render(ExportFormat::Html, &[message("<b>hi</b>", None)]);
        assert!(out.contains("<p><strong>ann</strong> (Fri, 15 Mar 2024 10:20:30 GMT):<br/>\n&lt;b&gt;hi&lt;/b&gt;\n</p>"), "{out}");
    }

    #[test]
    fn zips_list_their_entries() {
        let mut zip = ZipWriter::default();
        zip.add("a.txt", b"hello");
        zip.add("assets/b.bin", &[0, 1, 2]);
        let bytes = zip.finish();
        assert_eq!(&bytes[..4], b"PK\x03\x04");
        let end = &bytes[bytes.len() - 22..];
        assert_eq!(&end[..4], b"PK\x05\x06");
        assert_eq!(u16::from_le_bytes([end[10], end[11]]), 2);
    }
}
