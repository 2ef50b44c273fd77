//! The workspace's assets: `assets.setAsset`, `assets.unsetAsset` (`v1/assets.ts`) and the
//! files themselves at `/assets/<name>.<ext>` (upstream's `/assets/` listener).
//!
//! Files are served with `nosniff` and a `default-src 'none'` policy (SVG may carry script),
//! and revalidated on every use, since an administrator may replace one at any time.

use crate::AppState;
use crate::envelope::{ApiResult, error_response, ok};
use crate::extract::{Caller, Params};
use crate::params::{opt_bool, req_str};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comet_core::{Error, Result};
use comet_service::assets::MAX_ASSET_BYTES;
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

/// Largest text part of the form (`assetName`, `refreshAllClients`).
const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Most parts the form may have.
const MAX_PARTS: usize = 8;

fn bad_form(detail: impl std::fmt::Display) -> Error {
    Error::failure(format!("Invalid multipart body: {detail}"))
}

/// The form of `assets.setAsset`: one file and its text fields.
struct AssetForm {
    /// The file's field name, content type and bytes.
    file: Option<(String, String, Vec<u8>)>,
    fields: serde_json::Map<String, Value>,
}

async fn read_form(req: Request) -> Result<AssetForm> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad_form(e.body_text()))?;
    let mut form = AssetForm {
        file: None,
        fields: serde_json::Map::new(),
    };
    let mut parts = 0;
    while let Some(mut field) = multipart.next_field().await.map_err(bad_form)? {
        parts += 1;
        if parts > MAX_PARTS {
            return Err(bad_form("too many parts"));
        }
        let name = field.name().unwrap_or_default().to_owned();
        if field.file_name().is_some() {
            let content_type = field.content_type().unwrap_or_default().to_owned();
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                if (bytes.len() + chunk.len()) as u64 > MAX_ASSET_BYTES {
                    return Err(Error::meteor(
                        "error-file-too-large",
                        format!(
                            "File exceeds allowed size of {}.",
                            comet_service::files::human_size(MAX_ASSET_BYTES)
                        ),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            if form.file.is_none() {
                form.file = Some((name, content_type, bytes));
            }
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

/// `POST /api/v1/assets.setAsset` (multipart): the file in `asset` with `assetName`, as
/// upstream's client sends it; a file whose field is itself an asset's name (older servers,
/// and the `rocketchat_API` client) names the asset too. `refreshAllClients` is accepted: the
/// setting change already reaches every client.
pub async fn set_asset(
    State(app): State<AppState>,
    Caller(session): Caller,
    req: Request,
) -> ApiResult {
    let form = read_form(req).await?;
    let Some((field, content_type, bytes)) = form.file else {
        return Err(Error::meteor("No file uploaded", "").into());
    };
    let named = form
        .fields
        .get("assetName")
        .and_then(Value::as_str)
        .filter(|name| !name.is_empty())
        .map(str::to_owned);
    let asset_name = match named {
        Some(name) => name,
        None if field != "asset" => field,
        None => String::new(),
    };
    app.service
        .workspace()
        .set_asset(&session, &asset_name, &content_type, bytes)
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/assets.unsetAsset` `{assetName, refreshAllClients?}`.
pub async fn unset_asset(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let asset_name = req_str(&body, "assetName")?;
    opt_bool(&body, "refreshAllClients")?;
    app.service
        .workspace()
        .unset_asset(&session, &asset_name)
        .await?;
    ok(json!({}))
}

/// `GET /assets/<name>.<ext>`: a set asset's file; 404 when that asset is not set.
pub async fn asset_file(State(app): State<AppState>, Path(file): Path<String>) -> Response {
    let found = match app.service.workspace().asset_file(&file).await {
        Ok(found) => found,
        Err(e) => return error_response(&e),
    };
    let Some(found) = found else {
        return (StatusCode::NOT_FOUND, "Not Found").into_response();
    };
    let len = found.reader.len;
    let mut response = Body::from_stream(ReaderStream::new(found.reader.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(found.content_type),
    );
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; sandbox"),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}
