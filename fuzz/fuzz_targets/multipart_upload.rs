//! The multipart form of `rooms.upload` / `rooms.media`, read as the route reads it (axum's
//! `Multipart`, our part handling, the file message's fields), with the file part kept in
//! memory instead of a blob store.
//!
//! Input: one byte shaping how the body is cut into network chunks, the boundary up to the
//! first newline, then the body. Invariants: the form reads the same whole and in chunks;
//! at most one file, from a part named `file` with a file name; text fields within their cap.

#![no_main]

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header::CONTENT_TYPE;
use comet_api_rest::upload_form::{
    FileSink, MAX_FIELD_BYTES, MAX_PARTS, UploadForm, file_message, read_upload_form,
};
use comet_core::Result;
use comet_service::files::IncomingFile;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use std::convert::Infallible;
use std::sync::LazyLock;
use tokio::io::AsyncReadExt;

static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime for the fuzz target")
});

/// A file as it arrived: its name, claimed type and bytes.
#[derive(Debug, Clone, PartialEq)]
struct Received {
    name: String,
    claimed_type: Option<String>,
    bytes: Vec<u8>,
}

struct InMemory;

impl FileSink for InMemory {
    type Stored = Received;

    async fn store(&mut self, file: IncomingFile<'_>) -> Result<Received> {
        let mut bytes = Vec::new();
        file.body
            .read_to_end(&mut bytes)
            .await
            .map_err(|e| comet_core::Error::failure(format!("read failed: {e}")))?;
        Ok(Received {
            name: file.name,
            claimed_type: file.claimed_type,
            bytes,
        })
    }
}

/// The form, or the failure's reason.
type Outcome = std::result::Result<(Option<Received>, serde_json::Map<String, Value>), String>;

async fn read(boundary: &str, chunks: Vec<Bytes>) -> Option<Outcome> {
    let stream = futures_util::stream::iter(chunks.into_iter().map(Ok::<_, Infallible>));
    let request = Request::builder()
        .method("POST")
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(Body::from_stream(stream))
        .ok()?;
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(multipart) => multipart,
        Err(rejection) => return Some(Err(rejection.body_text())),
    };
    let mut form = UploadForm::default();
    let outcome = read_upload_form(&mut multipart, &mut InMemory, &mut form).await;
    Some(
        outcome
            .map(|()| (form.file, form.fields))
            .map_err(|e| e.reason.to_string()),
    )
}

/// Cuts `body` into chunks whose sizes follow `shape`.
fn chunks(body: &[u8], shape: u8) -> Vec<Bytes> {
    let mut out = Vec::new();
    let mut rest = body;
    let mut step = usize::from(shape % 32) + 1;
    while !rest.is_empty() {
        let take = step.min(rest.len());
        out.push(Bytes::copy_from_slice(&rest[..take]));
        rest = &rest[take..];
        // Vary the sizes so that boundaries fall at every offset of a chunk.
        step = (step * 5 + usize::from(shape)) % 61 + 1;
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&shape, rest)) = data.split_first() else {
        return;
    };
    let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
        return;
    };
    let Ok(boundary) = std::str::from_utf8(&rest[..newline]) else {
        return;
    };
    let body = &rest[newline + 1..];
    let Some(whole) = RUNTIME.block_on(read(boundary, vec![Bytes::copy_from_slice(body)])) else {
        return;
    };
    let pieces = RUNTIME
        .block_on(read(boundary, chunks(body, shape)))
        .expect("the same request builds twice");
    assert_eq!(whole, pieces, "the form reads differently in chunks");
    let Ok((file, fields)) = whole else {
        return;
    };
    assert!(fields.len() <= MAX_PARTS, "{} fields", fields.len());
    for (name, value) in &fields {
        let text = value.as_str().expect("form fields are text");
        assert!(
            text.len() <= MAX_FIELD_BYTES,
            "field {name} of {} bytes",
            text.len()
        );
    }
    if let Some(file) = &file {
        assert!(!file.name.is_empty(), "a file without a name");
    }
    let fields = Value::Object(fields);
    if let Ok(message) = file_message(&fields) {
        assert_eq!(
            message.text.as_deref(),
            fields.get("msg").and_then(Value::as_str)
        );
        if let Some(custom) = message.custom_fields {
            assert!(custom.is_object(), "custom fields that are no object");
        }
    }
});
