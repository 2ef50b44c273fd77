//! Files: uploads into rooms (`rooms.upload`, `rooms.media`, `rooms.mediaConfirm`), the files
//! of a room (`channels.files`, `groups.files`, `im.files`) and downloads
//! (`GET /file-upload/:id/:name`, and the older `GET /ufs/:store/:id/:name`).
//!
//! Multipart bodies stream: the file part goes straight to the blob store (which enforces
//! `FileUpload_MaxFileSize`), other parts are small and capped.

use crate::AppState;
use crate::envelope::{ApiError, ApiResult, error_response, ok};
use crate::extract::{Caller, MaybeCaller, Params};
use crate::params::{opt_bool, opt_str, pagination, req_str};
use crate::routes::rooms::{Family, load};
use crate::upload_form::{FileSink, UploadForm, file_message, read_upload_form};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comet_core::page::UploadFilter;
use comet_core::{Error, Result};
use comet_protocol::chat;
use comet_service::Session;
use comet_service::files::Upload;
use comet_service::files::{IncomingFile, upload_json};
use comet_service::rooms::RoomAccess;
use serde_json::{Value, json};
use tokio::io::AsyncReadExt;
use tokio_util::io::ReaderStream;

/// Bytes read from storage per chunk of a download.
const DOWNLOAD_CHUNK: usize = 128 * 1024;

/// Types shown in the browser rather than downloaded; everything else is an attachment.
const INLINE_TYPES: &[&str] = &[
    "image/png",
    "image/jpeg",
    "image/gif",
    "image/webp",
    "application/pdf",
    "text/plain",
];

/// Stores the file part of an upload form in the room's blob store as it streams in.
struct StoreInRoom<'a> {
    app: &'a AppState,
    session: &'a Session,
    room: &'a RoomAccess,
    temporary: bool,
}

impl FileSink for StoreInRoom<'_> {
    type Stored = Upload;

    async fn store(&mut self, file: IncomingFile<'_>) -> Result<Upload> {
        self.app
            .service
            .files()
            .store_upload(self.session, self.room, file, self.temporary)
            .await
    }
}

/// Reads an upload form, storing the `file` part as it streams in. Anything stored is
/// removed again when the rest of the form fails.
async fn read_form(
    app: &AppState,
    session: &Session,
    room: &RoomAccess,
    req: Request,
    temporary: bool,
) -> Result<UploadForm<Upload>> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| Error::failure(format!("Invalid multipart body: {}", e.body_text())))?;
    let mut sink = StoreInRoom {
        app,
        session,
        room,
        temporary,
    };
    let mut form = UploadForm::default();
    let result = read_upload_form(&mut multipart, &mut sink, &mut form).await;
    if let Err(e) = result {
        if let Some(upload) = &form.file {
            app.service.files().discard_upload(upload).await?;
        }
        return Err(e);
    }
    Ok(form)
}

/// Upstream's form parser rejects with this bare text when no part is a file.
fn no_file() -> Error {
    Error::failure("No file uploaded")
}

/// `POST /api/v1/rooms.upload/:rid` (deprecated upstream in 8.0): uploads and posts at once.
pub async fn upload(
    State(app): State<AppState>,
    Caller(session): Caller,
    Path(rid): Path<String>,
    req: Request,
) -> ApiResult {
    let room = app.service.files().upload_target(&session, &rid).await?;
    let form = read_form(&app, &session, &room, req, false).await?;
    let Some(upload) = form.file else {
        return Err(ApiError(no_file()));
    };
    let fields = match file_message(&Value::Object(form.fields)) {
        Ok(fields) => fields,
        Err(e) => {
            // Nothing will refer to the stored file.
            app.service.files().discard_upload(&upload).await?;
            return Err(e.into());
        }
    };
    let message = app
        .service
        .files()
        .send_file_message(&session, &room, upload, fields)
        .await?;
    ok(json!({"message": chat::message(&message)}))
}

/// `POST /api/v1/rooms.media/:rid`: stores a file that waits for `rooms.mediaConfirm`.
pub async fn media(
    State(app): State<AppState>,
    Caller(session): Caller,
    Path(rid): Path<String>,
    req: Request,
) -> ApiResult {
    let room = app.service.files().upload_target(&session, &rid).await?;
    let form = read_form(&app, &session, &room, req, true).await?;
    let Some(upload) = form.file else {
        return Err(ApiError(no_file()));
    };
    ok(json!({"file": {"_id": upload.id, "url": comet_service::files::file_url(&upload)}}))
}

/// `POST /api/v1/rooms.mediaConfirm/:rid/:fileId`: posts the message for a `rooms.media` file.
pub async fn media_confirm(
    State(app): State<AppState>,
    Caller(session): Caller,
    Path((rid, file_id)): Path<(String, String)>,
    Params(params): Params,
) -> ApiResult {
    let room = app.service.files().upload_target(&session, &rid).await?;
    let fields = file_message(&params)?;
    let message = app
        .service
        .files()
        .confirm_upload(&session, &room, &file_id, fields)
        .await?;
    ok(json!({"message": chat::message(&message)}))
}

/// `channels.files`, `groups.files`, `im.files`.
pub async fn files(family: Family, app: AppState, session: Session, query: Value) -> ApiResult {
    let room = load(&app, &session, family, &query).await?;
    let (offset, count) = pagination(&app, &query)?;
    let filter = UploadFilter {
        name: opt_str(&query, "name")?.filter(|n| !n.is_empty()),
        type_group: opt_str(&query, "typeGroup")?.filter(|t| !t.is_empty()),
        only_complete: opt_bool(&query, "onlyConfirmed")?.unwrap_or(false),
        ..UploadFilter::default()
    };
    let (files, total) = app
        .service
        .files()
        .room_files(&room, &filter, offset, count)
        .await?;
    let docs: Vec<Value> = files
        .iter()
        .map(|(upload, user)| upload_json(upload, user.as_ref()))
        .collect();
    ok(json!({"files": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/rooms.images?roomId=&startingFromId=&offset=&count=`: a room's images as
/// upload records. Upstream answers `count` with the count asked for, not the page's length.
pub async fn images(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let room_id = req_str(&query, "roomId")?;
    let starting_from = opt_str(&query, "startingFromId")?;
    let (offset, count) = pagination(&app, &query)?;
    let (images, total) = app
        .service
        .files()
        .room_images(&session, &room_id, starting_from.as_deref(), offset, count)
        .await?;
    let docs: Vec<Value> = images.iter().map(|u| upload_json(u, None)).collect();
    let count = count.map_or_else(|| json!(docs.len()), |c| json!(c));
    ok(json!({"files": docs, "count": count, "offset": offset, "total": total}))
}

/// RFC 6266 `Content-Disposition`: an ASCII fallback name and the exact one as `filename*`.
fn content_disposition(upload: &Upload, force_download: bool) -> String {
    let inline = !force_download && INLINE_TYPES.contains(&upload.content_type.as_str());
    let fallback: String = upload
        .name
        .chars()
        .map(|c| {
            if (c.is_ascii_graphic() && c != '"' && c != '\\') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut encoded = String::new();
    for byte in upload.name.bytes() {
        if byte.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{fallback}\"; filename*=UTF-8''{encoded}")
}

/// A single `bytes=` range within `len`: `Ok(None)` for none, `Err` when unsatisfiable.
fn parse_range(
    header: Option<&HeaderValue>,
    len: u64,
) -> std::result::Result<Option<(u64, u64)>, ()> {
    let Some(raw) = header.and_then(|h| h.to_str().ok()) else {
        return Ok(None);
    };
    let Some(spec) = raw.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    // Several ranges would need a multipart answer; the whole file is a valid reply instead.
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((start, end)) = spec.trim().split_once('-') else {
        return Ok(None);
    };
    let (start, end) = match (start.trim(), end.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().map_err(|_| ())?;
            if n == 0 {
                return Err(());
            }
            (len.saturating_sub(n), len.saturating_sub(1))
        }
        (start, "") => (start.parse().map_err(|_| ())?, len.saturating_sub(1)),
        (start, end) => {
            let end: u64 = end.parse().map_err(|_| ())?;
            (
                start.parse().map_err(|_| ())?,
                end.min(len.saturating_sub(1)),
            )
        }
    };
    if len == 0 || start > end || start >= len {
        return Err(());
    }
    Ok(Some((start, end)))
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// `GET /file-upload/:id/:name`: members of the file's room download it (authenticated by
/// headers, `rc_uid`/`rc_token` cookies or query parameters, resolved by `gate`).
pub async fn download(
    State(app): State<AppState>,
    MaybeCaller(session): MaybeCaller,
    Path((file_id, _name)): Path<(String, String)>,
    headers: HeaderMap,
    Params(query): Params,
) -> Response {
    match serve(&app, session.as_ref(), &file_id, &query, &headers).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

/// `GET /ufs/:store/:id/:name`: the download URLs of older Rocket.Chat versions (its UploadFS
/// routes, e.g. `/ufs/GridFS:Uploads/<id>/<name>`), still found in old messages and clients.
/// Every `*:Uploads` store names the same upload records, so the file is served from wherever
/// it is stored, with the rules of `/file-upload`.
pub async fn legacy_download(
    State(app): State<AppState>,
    MaybeCaller(session): MaybeCaller,
    Path((store, file_id, _name)): Path<(String, String, String)>,
    headers: HeaderMap,
    Params(query): Params,
) -> Response {
    if !store.ends_with(":Uploads") {
        return error_response(&Error::not_found());
    }
    match serve(&app, session.as_ref(), &file_id, &query, &headers).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn serve(
    app: &AppState,
    session: Option<&Session>,
    file_id: &str,
    query: &Value,
    headers: &HeaderMap,
) -> Result<Response> {
    let upload = app
        .service
        .files()
        .file_for_download(session.map(|s| &s.user), file_id)
        .await?
        .ok_or_else(Error::not_found)?;
    let force_download = query.get("download").is_some();
    let disposition = content_disposition(&upload, force_download);
    // Files in S3 are fetched from S3 itself unless the server is to proxy them (upstream's
    // `redirectToFile`: a 302 to a short-lived presigned URL, and no caching of the redirect).
    if let Some(url) = app
        .service
        .files()
        .upload_redirect_url(&upload, &disposition)?
    {
        let mut headers = HeaderMap::new();
        headers.insert(header::LOCATION, header_value(&url));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        return Ok((StatusCode::FOUND, headers).into_response());
    }
    let etag = format!("\"{}-{}\"", upload.id, upload.size);
    let mut common = HeaderMap::new();
    common.insert(header::ETAG, header_value(&etag));
    // The bytes behind an id never change; the cache is private as files are protected.
    common.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000"),
    );
    common.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    common.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Whatever a file contains, it cannot run script or reach our origin's data when opened.
    common.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'; img-src 'self'; media-src 'self'; style-src 'unsafe-inline'"),
    );
    let if_none_match = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok());
    if if_none_match.is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*")) {
        return Ok((StatusCode::NOT_MODIFIED, common).into_response());
    }
    common.insert(header::CONTENT_TYPE, header_value(&upload.content_type));
    common.insert(header::CONTENT_DISPOSITION, header_value(&disposition));
    // The recorded size is the blob's (it is counted as it is written), so the range is
    // settled before the blob is opened once, at its start (one request to remote stores).
    let len = upload.size;
    let range = match parse_range(headers.get(header::RANGE), len) {
        Ok(range) => range,
        Err(()) => {
            common.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes */{len}")),
            );
            return Ok((StatusCode::RANGE_NOT_SATISFIABLE, common).into_response());
        }
    };
    let (status, start, end) = match range {
        Some((start, end)) => {
            common.insert(
                header::CONTENT_RANGE,
                header_value(&format!("bytes {start}-{end}/{len}")),
            );
            (StatusCode::PARTIAL_CONTENT, start, end)
        }
        None => (StatusCode::OK, 0, len.saturating_sub(1)),
    };
    let body_len = if len == 0 { 0 } else { end - start + 1 };
    let Some(blob) = app.service.files().open_upload(&upload, start).await? else {
        return Err(Error::not_found());
    };
    let reader = blob.body;
    common.insert(header::CONTENT_LENGTH, header_value(&body_len.to_string()));
    // Each read of a file is a hop to the blocking pool: big reads keep that cost small
    // next to the copy, and still bound the memory of a download to one buffer.
    let body = Body::from_stream(ReaderStream::with_capacity(
        reader.take(body_len),
        DOWNLOAD_CHUNK,
    ));
    Ok((status, common, body).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let h = |v: &'static str| HeaderValue::from_static(v);
        assert_eq!(parse_range(None, 10), Ok(None));
        assert_eq!(parse_range(Some(&h("bytes=0-4")), 10), Ok(Some((0, 4))));
        assert_eq!(parse_range(Some(&h("bytes=5-")), 10), Ok(Some((5, 9))));
        assert_eq!(parse_range(Some(&h("bytes=-3")), 10), Ok(Some((7, 9))));
        assert_eq!(parse_range(Some(&h("bytes=8-100")), 10), Ok(Some((8, 9))));
        assert_eq!(parse_range(Some(&h("bytes=10-")), 10), Err(()));
        assert_eq!(parse_range(Some(&h("bytes=0-1,3-4")), 10), Ok(None));
    }
}
