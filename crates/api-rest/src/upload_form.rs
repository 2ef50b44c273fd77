//! The multipart form of `rooms.upload` and `rooms.media`: its parts read one by one, the file
//! part streamed to whatever stores it, the text parts collected (small and capped), and the
//! file message's fields read from them.

use axum::extract::Multipart;
use comet_core::{Error, Result};
use comet_service::files::{FileMessage, IncomingFile};
use futures_util::TryStreamExt;
use serde_json::{Map, Value};
use std::future::Future;
use tokio_util::io::StreamReader;

use crate::params::opt_str;

/// Largest text part of an upload form (`msg`, `description`, ...).
pub const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Most parts an upload form may have.
pub const MAX_PARTS: usize = 32;

fn bad_form(detail: impl std::fmt::Display) -> Error {
    Error::failure(format!("Invalid multipart body: {detail}"))
}

/// Where the file part of a form goes while it streams in.
pub trait FileSink {
    /// What storing a file leaves (an upload record).
    type Stored;

    /// Reads the file part to its end, or fails.
    fn store(
        &mut self,
        file: IncomingFile<'_>,
    ) -> impl Future<Output = Result<Self::Stored>> + Send;
}

/// An upload form read so far: its stored file (if any) and its text fields.
#[derive(Debug)]
pub struct UploadForm<F> {
    pub file: Option<F>,
    pub fields: Map<String, Value>,
}

impl<F> Default for UploadForm<F> {
    fn default() -> Self {
        UploadForm {
            file: None,
            fields: Map::new(),
        }
    }
}

/// Reads the parts of an upload form into `form`, handing the `file` part to `sink` as it
/// streams in. On failure `form` keeps what was read, so that a stored file can be removed.
pub async fn read_upload_form<S: FileSink + Send>(
    multipart: &mut Multipart,
    sink: &mut S,
    form: &mut UploadForm<S::Stored>,
) -> Result<()> {
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(bad_form("too many parts"));
        }
        let name = field.name().unwrap_or_default().to_owned();
        // As upstream's form parser (busboy) sees it, a part is a file only when it names
        // one; a part with an empty file name is an ordinary field.
        if let Some(file_name) = field
            .file_name()
            .filter(|n| !n.is_empty())
            .map(str::to_owned)
        {
            // Upstream refuses a second file before it looks at the part's name.
            if form.file.is_some() {
                return Err(Error::failure("Just 1 file is allowed"));
            }
            if name != "file" {
                return Err(Error::meteor("invalid-field", ""));
            }
            let claimed_type = field.content_type().map(str::to_owned);
            let stream = field.map_err(std::io::Error::other);
            let mut reader = StreamReader::new(stream);
            let stored = sink
                .store(IncomingFile {
                    name: file_name,
                    claimed_type,
                    body: &mut reader,
                })
                .await?;
            form.file = Some(stored);
            continue;
        }
        let mut value = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
            if value.len() + chunk.len() > MAX_FIELD_BYTES {
                return Err(bad_form(format!("field {name} is too large")));
            }
            value.extend_from_slice(&chunk);
        }
        let text = String::from_utf8(value).map_err(|_| bad_form("fields must be UTF-8"))?;
        form.fields.insert(name, Value::String(text));
    }
    Ok(())
}

/// The message that goes with an uploaded file, from the form's (or a JSON body's) fields.
pub fn file_message(fields: &Value) -> Result<FileMessage> {
    Ok(FileMessage {
        text: opt_str(fields, "msg")?,
        description: opt_str(fields, "description")?,
        thread_id: opt_str(fields, "tmid")?,
        custom_fields: custom_fields(fields.get("customFields"))?,
    })
}

/// `customFields` of a file message: a JSON text in a form (upstream parses it with
/// `JSON.parse`), or already an object in a JSON body. Its content is checked with the message.
fn custom_fields(value: Option<&Value>) -> Result<Option<Value>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => serde_json::from_str::<Value>(text)
            .ok()
            .filter(Value::is_object)
            .map(Some)
            .ok_or_else(|| Error::failure("Invalid custom fields")),
        Some(object @ Value::Object(_)) => Ok(Some(object.clone())),
        Some(_) => Err(Error::failure("Invalid custom fields")),
    }
}
