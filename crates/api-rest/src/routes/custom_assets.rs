//! Custom emoji, user statuses and sounds: upstream's `v1/emoji-custom.ts`,
//! `v1/custom-user-status.ts`, `v1/custom-sounds.ts`, and the `/emoji-custom/` and
//! `/custom-sounds/` file routes.

use crate::AppState;
use crate::envelope::{ApiResult, error_response, ok};
use crate::extract::{Caller, Params};
use crate::params::{opt_str, pagination};
use crate::upload_form::{MAX_FIELD_BYTES, MAX_PARTS};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comet_core::{Error, Result, Timestamp};
use comet_methods::custom_assets::{emoji_json, sound_json, status_json};
use comet_service::custom_assets::AssetFile;
use comet_service::files::human_size;
use serde_json::{Map, Value, json};
use tokio_util::io::ReaderStream;

/// What `/emoji-custom/` answers for an emoji it does not have, as upstream.
const FALLBACK_LAST_MODIFIED: &str = "Thu, 01 Jan 2015 00:00:00 GMT";
const FALLBACK_SVG: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\n\
<svg xmlns=\"http://www.w3.org/2000/svg\" pointer-events=\"none\" width=\"50\" height=\"50\" \
style=\"width: 50px; height: 50px; background-color: #000;\">\n\t<text text-anchor=\"middle\" \
y=\"50%\" x=\"50%\" dy=\"0.36em\" pointer-events=\"auto\" fill=\"#ffffff\" \
font-family=\"Helvetica, Arial, Lucida Grande, sans-serif\" \
style=\"font-weight: 400; font-size: 28px;\">\n\t\t?\n\t</text>\n</svg>";

fn bad_form(detail: impl std::fmt::Display) -> Error {
    Error::failure(format!("Invalid multipart body: {detail}"))
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

fn http_date(at: Timestamp) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A date query parameter, refused as upstream's `validateDateParam` does.
fn date_param(params: &Value, name: &'static str) -> Result<Option<Timestamp>> {
    let Some(raw) = opt_str(params, name)?.filter(|r| !r.is_empty()) else {
        return Ok(None);
    };
    chrono::DateTime::parse_from_rfc3339(&raw)
        .map(|d| Some(d.with_timezone(&chrono::Utc)))
        .map_err(|_| {
            Error::meteor(
                "error-roomId-param-invalid",
                format!("The \"{name}\" query parameter must be a valid date."),
            )
        })
}

/// Upstream's ajv schemas with `additionalProperties: false`.
fn only_properties(params: &Value, allowed: &[&str]) -> Result<()> {
    if let Value::Object(fields) = params
        && fields.keys().any(|k| !allowed.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

/// Meteor's `check(body, {key: String, ...})` for the string keys of a body.
fn check_strings(body: &Value, required: &[&str], optional: &[&str]) -> Result<()> {
    let Value::Object(fields) = body else {
        return Err(Error::failure(
            "Match error: Expected object, got undefined",
        ));
    };
    for (key, value) in fields {
        let known = required.contains(&key.as_str()) || optional.contains(&key.as_str());
        if !known {
            return Err(Error::failure(format!(
                "Match error: Unknown key in field {key}"
            )));
        }
        let fine = value.is_string() || (optional.contains(&key.as_str()) && value.is_null());
        if !fine {
            return Err(Error::failure(format!(
                "Match error: Expected string, got {} in field {key}",
                js_type(value)
            )));
        }
    }
    if let Some(missing) = required.iter().find(|k| !fields.contains_key(**k)) {
        return Err(Error::failure(format!(
            "Match error: Missing key '{missing}'"
        )));
    }
    Ok(())
}

fn js_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) | Value::Object(_) => "object",
    }
}

/// An upload form of one file part named `file_field` (bounded by `limit` while it arrives)
/// and small text fields, read as upstream's `getUploadFormData`.
struct AssetForm {
    file: Option<Vec<u8>>,
    fields: Map<String, Value>,
}

async fn read_form(req: Request, file_field: &str, limit: u64) -> Result<AssetForm> {
    // Upstream's form reader (busboy) takes a URL-encoded body too: clients send one when
    // there is no file, as rocketchat-api's `custom_emoji_update` without a new image does.
    let url_encoded = req
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if url_encoded {
        let body = axum::body::to_bytes(req.into_body(), MAX_PARTS * MAX_FIELD_BYTES)
            .await
            .map_err(|_| bad_form("the form is too large"))?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&body).map_err(|_| bad_form("malformed form"))?;
        if pairs.len() > MAX_PARTS {
            return Err(bad_form("too many parts"));
        }
        let fields = pairs
            .into_iter()
            .map(|(name, value)| (name, Value::String(value)))
            .collect();
        return Ok(AssetForm { file: None, fields });
    }
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad_form(e.body_text()))?;
    let mut form = AssetForm {
        file: None,
        fields: Map::new(),
    };
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(bad_form("too many parts"));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some_and(|n| !n.is_empty()) {
            if form.file.is_some() {
                return Err(Error::failure("Just 1 file is allowed"));
            }
            if name != file_field {
                return Err(Error::meteor("invalid-field", ""));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Err(Error::meteor(
                        "error-file-too-large",
                        format!("File exceeds allowed size of {}.", human_size(limit)),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            form.file = Some(bytes);
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
    Ok(form)
}

fn field<'a>(form: &'a AssetForm, name: &str) -> &'a str {
    form.fields
        .get(name)
        .and_then(Value::as_str)
        .unwrap_or_default()
}

/// `GET /api/v1/emoji-custom.list` (`updatedSince`, `_updatedAt`, `_id`).
pub async fn emoji_list(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(params): Params,
) -> ApiResult {
    let updated_since = date_param(&params, "updatedSince")?;
    let updated_after = date_param(&params, "_updatedAt")?;
    let id = opt_str(&params, "_id")?.filter(|i| !i.is_empty());
    let (emoji, removed) = app
        .service
        .custom_assets()
        .list_emoji(updated_since, updated_after, id)
        .await?;
    let update: Vec<Value> = emoji.iter().map(emoji_json).collect();
    let remove: Vec<Value> = removed
        .iter()
        .map(|r| {
            json!({"_id": r.id, "name": r.name, "_deletedAt": comet_protocol::iso(r.deleted_at)})
        })
        .collect();
    ok(json!({"emojis": {"update": update, "remove": remove}}))
}

/// `GET /api/v1/emoji-custom.all`: a page by name (`name` narrows it).
pub async fn emoji_all(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(params): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &params)?;
    let name = opt_str(&params, "name")?;
    let (emoji, total) = app
        .service
        .custom_assets()
        .emoji_page(name, offset, count)
        .await?;
    let emojis: Vec<Value> = emoji.iter().map(emoji_json).collect();
    ok(json!({"emojis": emojis, "count": emojis.len(), "offset": offset, "total": total}))
}

/// `POST /api/v1/emoji-custom.create`: a multipart `emoji` image with `name` and `aliases`.
pub async fn emoji_create(
    State(app): State<AppState>,
    Caller(session): Caller,
    req: Request,
) -> ApiResult {
    let limit = app.service.custom_assets().emoji_max_size();
    let form = read_form(req, "emoji", limit).await?;
    let Some(bytes) = &form.file else {
        return Err(Error::failure("No file uploaded").into());
    };
    app.service
        .custom_assets()
        .create_emoji(
            &session,
            field(&form, "name"),
            field(&form, "aliases"),
            bytes,
        )
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/emoji-custom.update`: `_id`, `name`, `aliases` and an optional `emoji` image.
pub async fn emoji_update(
    State(app): State<AppState>,
    Caller(session): Caller,
    req: Request,
) -> ApiResult {
    let limit = app.service.custom_assets().emoji_max_size();
    let form = read_form(req, "emoji", limit).await?;
    let id = form.fields.get("_id").and_then(Value::as_str);
    app.service
        .custom_assets()
        .update_emoji(
            &session,
            id,
            field(&form, "name"),
            field(&form, "aliases"),
            form.file.as_deref(),
        )
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/emoji-custom.delete` `{emojiId}`.
pub async fn emoji_delete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(id) = opt_str(&body, "emojiId")?.filter(|i| !i.is_empty()) else {
        return Err(Error::failure("The \"emojiId\" params is required!").into());
    };
    app.service
        .custom_assets()
        .delete_emoji(&session, &id)
        .await?;
    ok(Value::Null)
}

fn forbidden_text() -> Response {
    (StatusCode::FORBIDDEN, "Forbidden").into_response()
}

/// `GET /emoji-custom/`: no emoji named.
pub async fn emoji_file_root() -> Response {
    forbidden_text()
}

/// `GET /emoji-custom/<name>.<extension>`: the image, cached for a year (the client's URL
/// carries the emoji's `etag`); an unknown emoji is upstream's "?" picture.
pub async fn emoji_file(
    State(app): State<AppState>,
    Path(file_name): Path<String>,
    request: HeaderMap,
) -> Response {
    if file_name.is_empty() {
        return forbidden_text();
    }
    let result = async {
        let emoji = app
            .service
            .custom_assets()
            .emoji_by_file_name(&file_name)
            .await?;
        match emoji {
            Some(emoji) => match &emoji.file {
                Some(file) => serve_asset(&app, &request, file, emoji.etag.as_deref(), true).await,
                None => Ok(None),
            },
            None => Ok(None),
        }
    };
    match result.await {
        Ok(Some(response)) => response,
        Ok(None) => emoji_fallback(&request),
        Err(e) => error_response(&e),
    }
}

fn emoji_fallback(request: &HeaderMap) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=0"),
    );
    headers.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    headers.insert(
        header::LAST_MODIFIED,
        HeaderValue::from_static(FALLBACK_LAST_MODIFIED),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    let modified_since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    if modified_since == Some(FALLBACK_LAST_MODIFIED) {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    (StatusCode::OK, headers, FALLBACK_SVG).into_response()
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
}

/// A stored emoji or sound: `Last-Modified` its upload time, `ETag` its etag (emoji) or
/// upload time (sounds); a conditional request that matches is 304 with only
/// `Last-Modified` (and `ETag`), as upstream. `None` when the blob is missing.
async fn serve_asset(
    app: &AppState,
    request: &HeaderMap,
    file: &AssetFile,
    etag: Option<&str>,
    immutable: bool,
) -> Result<Option<Response>> {
    let last_modified = http_date(file.uploaded_at);
    let etag = format!(
        "\"{}\"",
        etag.map_or_else(
            || file.uploaded_at.timestamp_millis().to_string(),
            str::to_owned
        )
    );
    let mut headers = HeaderMap::new();
    headers.insert(header::LAST_MODIFIED, header_value(&last_modified));
    headers.insert(header::ETAG, header_value(&etag));
    let modified_since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    if if_none_match(request, &etag)
        || (request.get(header::IF_NONE_MATCH).is_none()
            && modified_since == Some(last_modified.as_str()))
    {
        return Ok(Some((StatusCode::NOT_MODIFIED, headers).into_response()));
    }
    let Some(blob) = app.service.custom_assets().open_file(file).await? else {
        tracing::warn!(key = %file.store_key, "a custom asset's bytes are missing");
        return Ok(None);
    };
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    if immutable {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000"),
        );
    } else {
        headers.insert(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=0"),
        );
        headers.insert(header::EXPIRES, HeaderValue::from_static("-1"));
    }
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    headers.insert(header::CONTENT_TYPE, header_value(&file.content_type));
    headers.insert(header::CONTENT_LENGTH, header_value(&blob.len.to_string()));
    let body = Body::from_stream(ReaderStream::new(blob.body));
    Ok(Some((StatusCode::OK, headers, body).into_response()))
}

/// `GET /api/v1/custom-user-status.list` (`_id`, `name`, paginated).
pub async fn status_list(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(params): Params,
) -> ApiResult {
    only_properties(
        &params,
        &["count", "offset", "sort", "name", "_id", "query"],
    )?;
    let (offset, count) = pagination(&app, &params)?;
    let id = opt_str(&params, "_id")?;
    let name = opt_str(&params, "name")?;
    let (statuses, total) = app
        .service
        .custom_assets()
        .status_page(id.as_deref(), name.as_deref(), offset, count)
        .await?;
    let statuses: Vec<Value> = statuses.iter().map(status_json).collect();
    ok(json!({"statuses": statuses, "count": statuses.len(), "offset": offset, "total": total}))
}

/// `POST /api/v1/custom-user-status.create` `{name, statusType?}`.
pub async fn status_create(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    check_strings(&body, &["name"], &["statusType"])?;
    let name = opt_str(&body, "name")?.unwrap_or_default();
    let status_type = opt_str(&body, "statusType")?.unwrap_or_default();
    let status = app
        .service
        .custom_assets()
        .save_status(&session, None, &name, &status_type)
        .await?;
    ok(json!({"customUserStatus": status_json(&status)}))
}

/// `POST /api/v1/custom-user-status.update` `{_id, name, statusType?}`.
pub async fn status_update(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    check_strings(&body, &["_id", "name"], &["statusType"])?;
    let id = opt_str(&body, "_id")?.unwrap_or_default();
    let name = opt_str(&body, "name")?.unwrap_or_default();
    let assets = app.service.custom_assets();
    let Some(existing) = assets.status_by_id(&id).await? else {
        return Err(Error::failure(format!(
            "No custom user status found with the id of \"{id}\"."
        ))
        .into());
    };
    // Upstream keeps the type when `statusType` is left out.
    let status_type = opt_str(&body, "statusType")?.unwrap_or(existing.status_type);
    let status = assets
        .save_status(&session, Some(&id), &name, &status_type)
        .await?;
    ok(json!({"customUserStatus": status_json(&status)}))
}

/// `POST /api/v1/custom-user-status.delete` `{customUserStatusId}`.
pub async fn status_delete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(id) = opt_str(&body, "customUserStatusId")?.filter(|i| !i.is_empty()) else {
        return Err(Error::failure("The \"customUserStatusId\" params is required!").into());
    };
    app.service
        .custom_assets()
        .delete_status(&session, &id)
        .await?;
    ok(Value::Null)
}

/// `GET /api/v1/custom-sounds.list` (`name`, paginated).
pub async fn sound_list(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(params): Params,
) -> ApiResult {
    only_properties(&params, &["count", "offset", "sort", "name", "query"])?;
    let (offset, count) = pagination(&app, &params)?;
    let name = opt_str(&params, "name")?;
    let (sounds, total) = app
        .service
        .custom_assets()
        .sound_page(name.as_deref(), offset, count)
        .await?;
    let sounds: Vec<Value> = sounds.iter().map(sound_json).collect();
    ok(json!({"sounds": sounds, "count": sounds.len(), "offset": offset, "total": total}))
}

/// `GET /api/v1/custom-sounds.getOne` `{_id}`.
pub async fn sound_get_one(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(params): Params,
) -> ApiResult {
    let Some(id) = opt_str(&params, "_id")? else {
        return Err(Error::invalid_params("must have required property '_id'").into());
    };
    only_properties(&params, &["_id"])?;
    let Some(sound) = app.service.custom_assets().sound_by_id(&id).await? else {
        return Err(Error::not_found_because("Custom Sound not found.").into());
    };
    ok(json!({"_id": sound.id, "name": sound.name}))
}

/// `GET /custom-sounds/`: no sound named.
pub async fn sound_file_root() -> Response {
    forbidden_text()
}

/// `GET /custom-sounds/<id>.<extension>`: the sound, or 404 "Not found".
pub async fn sound_file(
    State(app): State<AppState>,
    Path(file_name): Path<String>,
    request: HeaderMap,
) -> Response {
    if file_name.is_empty() {
        return forbidden_text();
    }
    let result = async {
        let sound = app
            .service
            .custom_assets()
            .sound_by_file_name(&file_name)
            .await?;
        match sound.as_ref().and_then(|s| s.file.as_ref()) {
            Some(file) => serve_asset(&app, &request, file, None, false).await,
            None => Ok(None),
        }
    };
    match result.await {
        Ok(Some(response)) => response,
        Ok(None) => (StatusCode::NOT_FOUND, "Not found").into_response(),
        Err(e) => error_response(&e),
    }
}
