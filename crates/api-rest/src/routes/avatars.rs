//! Avatars: `users.setAvatar`, `users.resetAvatar`, `users.getAvatar`,
//! `users.getAvatarSuggestion`, and the images themselves at `/avatar/<username>`,
//! `/avatar/uid/<userId>` and `/avatar/room/<rid>` (upstream's `server/routes/avatar`).
//!
//! Images are served with `Cache-Control: public, max-age=<Accounts_AvatarCacheTime>`, an
//! `ETag` (the `avatarETag`) answered by `If-None-Match`, and `Last-Modified` answered by
//! `If-Modified-Since` as upstream does. Whoever has no image gets upstream's SVG initials.
//! Every answer carries `nosniff` and a `default-src 'none'` policy, so nothing served here
//! can run script on our origin.

use crate::AppState;
use crate::envelope::{ApiResult, error_response, json_response, ok};
use crate::extract::{Caller, MaybeCaller, Params};
use crate::params::{opt_str, user_ref};
use axum::body::Body;
use axum::extract::{FromRequest, Multipart, Path, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use comet_core::{Error, Result};
use comet_service::accounts::UserRef;
use comet_service::avatars::{Avatar, AvatarOwner};
use serde_json::{Value, json};
use tokio_util::io::ReaderStream;

/// Largest text part of a `users.setAvatar` form (`userId`, `username`).
const MAX_FIELD_BYTES: usize = 64 * 1024;
/// Most parts a `users.setAvatar` form may have.
const MAX_PARTS: usize = 16;
/// What upstream sends as `Last-Modified` for generated initials.
const FALLBACK_LAST_MODIFIED: &str = "Thu, 01 Jan 2015 00:00:00 GMT";
/// The side of the initials' square, and its bounds when asked with `size`.
const SVG_DEFAULT_SIZE: u32 = 200;
const SVG_MIN_SIZE: u32 = 16;
const SVG_MAX_SIZE: u32 = 1024;
/// Upstream's `getAvatarColor` palette, picked by the name's length.
const AVATAR_COLORS: [&str; 6] = [
    "#158D65", "#7F1B9F", "#B68D00", "#E26D0E", "#10529E", "#6C727A",
];
/// Extensions a client may append to `/avatar/<username>`.
const IMAGE_EXTENSIONS: [&str; 6] = [".jpg", ".jpeg", ".png", ".svg", ".gif", ".webp"];

fn bad_form(detail: impl std::fmt::Display) -> Error {
    Error::failure(format!("Invalid multipart body: {detail}"))
}

fn is_multipart(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("multipart/form-data"))
}

/// The user named by `userId` or `username`, if either is given.
fn optional_user(params: &Value) -> Result<Option<UserRef>> {
    let named = opt_str(params, "userId")?.is_some_and(|s| !s.is_empty())
        || opt_str(params, "username")?.is_some_and(|s| !s.is_empty());
    if named {
        user_ref(params).map(Some)
    } else {
        Ok(None)
    }
}

/// A `users.setAvatar` form: the `image` part's bytes (bounded by the avatar limit while they
/// arrive) and the `userId`/`username` fields.
struct AvatarForm {
    image: Option<Vec<u8>>,
    fields: serde_json::Map<String, Value>,
}

async fn read_form(app: &AppState, req: Request) -> Result<AvatarForm> {
    let mut multipart = Multipart::from_request(req, &())
        .await
        .map_err(|e| bad_form(e.body_text()))?;
    let limit = app.service.files().avatar_max_size();
    let mut form = AvatarForm {
        image: None,
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
            if name != "image" {
                return Err(Error::meteor("invalid-field", ""));
            }
            let mut bytes = Vec::new();
            while let Some(chunk) = field.chunk().await.map_err(bad_form)? {
                if (bytes.len() + chunk.len()) as u64 > limit {
                    return Err(Error::meteor(
                        "error-file-too-large",
                        format!(
                            "File exceeds allowed size of {}.",
                            comet_service::files::human_size(limit)
                        ),
                    ));
                }
                bytes.extend_from_slice(&chunk);
            }
            // One image; further ones are ignored.
            if form.image.is_none() {
                form.image = Some(bytes);
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

/// `POST /api/v1/users.setAvatar`: `avatarUrl`, or a multipart `image`; `userId`/`username`
/// for someone else (with `edit-other-user-avatar`).
pub async fn set_avatar(
    State(app): State<AppState>,
    Caller(session): Caller,
    req: Request,
) -> ApiResult {
    if !is_multipart(req.headers()) {
        let Params(params) = Params::from_request(req, &app).await?;
        let target = optional_user(&params)?;
        let user = app
            .service
            .files()
            .avatar_target(&session, target.as_ref())
            .await?;
        if let Some(url) = opt_str(&params, "avatarUrl")?.filter(|u| !u.is_empty()) {
            app.service
                .files()
                .set_user_avatar_from_url(&user, &url)
                .await?;
            return ok(json!({}));
        }
        return Err(Error::failure("The 'image' param is required").into());
    }
    let mut user = app.service.files().avatar_target(&session, None).await?;
    let form = read_form(&app, req).await?;
    let Some(image) = form.image else {
        return Err(Error::failure("The 'image' param is required").into());
    };
    if let Some(target) = optional_user(&Value::Object(form.fields))? {
        user = app
            .service
            .files()
            .avatar_form_target(&session, &target)
            .await?;
    }
    app.service
        .files()
        .set_user_avatar_bytes(&user, image, "rest")
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/users.resetAvatar`.
pub async fn reset_avatar(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let target = user_ref(&params)?;
    app.service.files().reset_avatar(&session, &target).await?;
    ok(json!({}))
}

/// `GET /api/v1/users.getAvatar`: a 307 to the user's avatar (no login needed).
pub async fn get_avatar(State(app): State<AppState>, Params(params): Params) -> Response {
    let user = match user_ref(&params) {
        Ok(target) => app.service.accounts().require_user(&target).await,
        Err(e) => Err(e),
    };
    match user {
        Ok(user) => {
            let url = app.service.accounts().avatar_url(&user.username);
            let mut response = json_response(StatusCode::TEMPORARY_REDIRECT, json!(url));
            if let Ok(location) = HeaderValue::from_str(&url) {
                response.headers_mut().insert(header::LOCATION, location);
            }
            response
        }
        Err(e) => error_response(&e),
    }
}

/// `GET /api/v1/users.getAvatarSuggestion`: none, as Comet has no external login services.
pub async fn get_avatar_suggestion(Caller(_session): Caller) -> ApiResult {
    ok(json!({"suggestions": {}}))
}

/// `avatarETag` of a user, to add to their documents (`me`, `users.info`).
pub async fn user_etag(app: &AppState, user_id: &str) -> Result<Option<String>> {
    Ok(app
        .service
        .files()
        .avatar_of(AvatarOwner::User, user_id)
        .await?
        .map(|a| a.etag))
}

/// Adds the room's `avatarETag` to its document when it has an avatar of its own.
pub async fn with_room_etag(app: &AppState, room_id: &str, mut doc: Value) -> Result<Value> {
    let avatar = app
        .service
        .files()
        .avatar_of(AvatarOwner::Room, room_id)
        .await?;
    if let (Some(avatar), Value::Object(map)) = (avatar, &mut doc) {
        map.insert("avatarETag".into(), json!(avatar.etag));
    }
    Ok(doc)
}

// The images.

/// Upstream's `getFirstLetter`: the first ASCII letter or digit, upper-cased.
fn first_letter(name: &str) -> String {
    name.chars()
        .find(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase().to_string())
        .unwrap_or_default()
}

/// `&`, `<`, `>`, quotes: whatever names contain never becomes markup.
fn escape_xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Upstream's `renderSVGLetters`: a coloured square with the name's initial (or, with
/// `all_initials`, the first letters of up to three words).
pub fn render_initials(name: &str, size: u32, all_initials: bool) -> String {
    let (color, initials) = if name == "?" {
        ("#000", "?".to_owned())
    } else {
        // JavaScript's `length` counts UTF-16 units.
        let color = AVATAR_COLORS[name.encode_utf16().count() % AVATAR_COLORS.len()];
        let initials = if all_initials {
            name.split(' ').take(3).map(first_letter).collect()
        } else {
            first_letter(name)
        };
        (color, initials)
    };
    let count = initials.chars().count();
    let reduction = if count > 1 {
        (count * count) as f64 / 10.0
    } else {
        0.0
    };
    let font_size = f64::from(size) / (1.6 + reduction);
    let initials = escape_xml(&initials);
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {size} {size}\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"{color}\"/>\n\
         <text x=\"50%\" y=\"50%\" dy=\"0.36em\" text-anchor=\"middle\" pointer-events=\"none\" \
         fill=\"#ffffff\" font-family=\"'Helvetica', 'Arial', 'Lucida Grande', 'sans-serif'\" \
         font-size=\"{font_size}\">\n{initials}\n</text>\n</svg>"
    )
}

fn header_value(value: &str) -> HeaderValue {
    HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static("invalid"))
}

/// Headers every avatar answer has: caching (`cacheTime` or `Accounts_AvatarCacheTime`),
/// inline disposition, and nothing that could run.
fn common_headers(app: &AppState, query: &Value) -> HeaderMap {
    let cache_time = query
        .get("cacheTime")
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<u32>().ok())
        .filter(|n| *n > 0)
        .map_or_else(
            || app.service.setting_int("Accounts_AvatarCacheTime").max(0),
            i64::from,
        );
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CACHE_CONTROL,
        header_value(&format!("public, max-age={cache_time}")),
    );
    headers.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("inline"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    headers
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

/// The size asked with `size`, bounded as upstream.
fn requested_size(query: &Value) -> u32 {
    query
        .get("size")
        .and_then(Value::as_str)
        .and_then(|s| s.trim().parse::<i64>().ok())
        .filter(|n| *n != 0)
        .map_or(SVG_DEFAULT_SIZE, |n| {
            u32::try_from(n.clamp(i64::from(SVG_MIN_SIZE), i64::from(SVG_MAX_SIZE)))
                .unwrap_or(SVG_DEFAULT_SIZE)
        })
}

/// Generated initials. `format=png|jpg` asks upstream to rasterize them; Comet has no
/// rasterizer and always answers SVG, which every avatar consumer draws.
fn serve_initials(
    mut headers: HeaderMap,
    request: &HeaderMap,
    query: &Value,
    name: &str,
    all_initials: bool,
) -> Response {
    let svg = render_initials(name, requested_size(query), all_initials);
    // The image depends only on its text, so a digest of it is a stable validator.
    let etag = format!("\"i-{:016x}\"", fnv1a(svg.as_bytes()));
    headers.insert(
        header::LAST_MODIFIED,
        HeaderValue::from_static(FALLBACK_LAST_MODIFIED),
    );
    headers.insert(header::ETAG, header_value(&etag));
    let modified_since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    if if_none_match(request, &etag)
        || (request.get(header::IF_NONE_MATCH).is_none()
            && modified_since == Some(FALLBACK_LAST_MODIFIED))
    {
        return (StatusCode::NOT_MODIFIED, headers).into_response();
    }
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml"),
    );
    (StatusCode::OK, headers, svg).into_response()
}

/// 64-bit FNV-1a: stable across builds and instances (unlike the standard hasher).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn http_date(at: comet_core::Timestamp) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

/// A stored image.
async fn serve_file(
    app: &AppState,
    mut headers: HeaderMap,
    request: &HeaderMap,
    avatar: &Avatar,
) -> Result<Option<Response>> {
    let etag = format!("\"{}\"", avatar.etag);
    let last_modified = http_date(avatar.updated_at);
    headers.insert(header::ETAG, header_value(&etag));
    headers.insert(header::LAST_MODIFIED, header_value(&last_modified));
    let modified_since = request
        .get(header::IF_MODIFIED_SINCE)
        .and_then(|v| v.to_str().ok());
    if if_none_match(request, &etag)
        || (request.get(header::IF_NONE_MATCH).is_none()
            && modified_since == Some(last_modified.as_str()))
    {
        return Ok(Some((StatusCode::NOT_MODIFIED, headers).into_response()));
    }
    let Some(blob) = app.service.files().open_avatar(avatar).await? else {
        tracing::warn!(owner = %avatar.owner_id, "an avatar's bytes are missing");
        return Ok(None);
    };
    headers.insert(header::CONTENT_TYPE, header_value(&avatar.content_type));
    headers.insert(header::CONTENT_LENGTH, header_value(&blob.len.to_string()));
    let body = Body::from_stream(ReaderStream::new(blob.body));
    Ok(Some((StatusCode::OK, headers, body).into_response()))
}

fn not_found() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

/// With `Accounts_AvatarBlockUnauthenticatedAccess`, an anonymous request gets initials of
/// what it asked for, not the image (upstream's `protectAvatarsWithFallback`).
fn blocked(app: &AppState, caller: Option<&comet_service::Session>) -> bool {
    caller.is_none()
        && app
            .service
            .setting_bool("Accounts_AvatarBlockUnauthenticatedAccess")
}

fn anonymous_fallback(request: &HeaderMap, query: &Value, name: &str) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    serve_initials(headers, request, query, name, false)
}

/// `GET /avatar/<username>` (also `<username>.jpg` and friends; `@<name>` always gives the
/// initials of `<name>`). An unknown name gets its initials too, as upstream.
pub async fn user_avatar(
    State(app): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(name): Path<String>,
    request: HeaderMap,
    Params(query): Params,
) -> Response {
    if name.is_empty() {
        return not_found();
    }
    if blocked(&app, caller.as_ref()) {
        return anonymous_fallback(&request, &query, &name);
    }
    match user_avatar_response(&app, &name, &request, &query).await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

async fn user_avatar_response(
    app: &AppState,
    name: &str,
    request: &HeaderMap,
    query: &Value,
) -> Result<Response> {
    let headers = common_headers(app, query);
    let use_name = app.service.setting_bool("UI_Use_Name_Avatar");
    if let Some(initials_of) = name.strip_prefix('@') {
        return Ok(serve_initials(
            headers,
            request,
            query,
            initials_of,
            use_name,
        ));
    }
    let mut found = app.service.files().user_avatar_by_username(name).await?;
    let mut shown = name;
    if found.is_none()
        && let Some(stem) = IMAGE_EXTENSIONS
            .iter()
            .find_map(|ext| name.strip_suffix(ext))
            .filter(|stem| !stem.is_empty())
    {
        found = app.service.files().user_avatar_by_username(stem).await?;
        shown = stem;
    }
    if let Some((_, Some(avatar))) = &found
        && let Some(response) = serve_file(app, headers.clone(), request, avatar).await?
    {
        return Ok(response);
    }
    match &found {
        Some((user, _)) if use_name && !user.name.is_empty() => {
            Ok(serve_initials(headers, request, query, &user.name, true))
        }
        Some((user, _)) => Ok(serve_initials(
            headers,
            request,
            query,
            &user.username,
            false,
        )),
        None => Ok(serve_initials(headers, request, query, shown, false)),
    }
}

/// `GET /avatar/uid/<userId>`: unknown ids are 404.
pub async fn user_avatar_by_id(
    State(app): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(user_id): Path<String>,
    request: HeaderMap,
    Params(query): Params,
) -> Response {
    if blocked(&app, caller.as_ref()) {
        return anonymous_fallback(&request, &query, "uid");
    }
    let result = async {
        let Some((user, avatar)) = app.service.files().user_avatar_by_id(&user_id).await? else {
            return Ok(not_found());
        };
        let headers = common_headers(&app, &query);
        if let Some(avatar) = &avatar
            && let Some(response) = serve_file(&app, headers.clone(), &request, avatar).await?
        {
            return Ok(response);
        }
        let use_name = app.service.setting_bool("UI_Use_Name_Avatar") && !user.name.is_empty();
        let name = if use_name { &user.name } else { &user.username };
        Ok(serve_initials(headers, &request, &query, name, use_name))
    };
    match result.await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

/// `GET /avatar/room/<rid>`: the room's image (a discussion without one shows its parent's),
/// else the initials of its name; unknown rooms are 404.
pub async fn room_avatar(
    State(app): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Path(room_id): Path<String>,
    request: HeaderMap,
    Params(query): Params,
) -> Response {
    if blocked(&app, caller.as_ref()) {
        return anonymous_fallback(&request, &query, &room_id);
    }
    let result = async {
        let Some((room, avatar)) = app.service.files().room_avatar(&room_id).await? else {
            return Ok(not_found());
        };
        let headers = common_headers(&app, &query);
        if let Some(avatar) = &avatar
            && let Some(response) = serve_file(&app, headers.clone(), &request, avatar).await?
        {
            return Ok(response);
        }
        // Upstream's `getRoomName`: the display name, else the slug; a direct room is
        // named by its other participants, which a cookie-less request cannot tell apart.
        let name = room
            .fname
            .clone()
            .or_else(|| room.name.clone())
            .unwrap_or_else(|| room.usernames.join(", "));
        Ok::<_, Error>(serve_initials(headers, &request, &query, &name, false))
    };
    match result.await {
        Ok(response) => response,
        Err(e) => error_response(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initials_follow_upstream() {
        let svg = render_initials("ann", 200, false);
        // "ann".length % 6 == 3
        assert!(svg.contains("fill=\"#E26D0E\""), "{svg}");
        assert!(svg.contains(">\nA\n<"), "{svg}");
        assert!(svg.contains("font-size=\"125\""), "{svg}");
        let svg = render_initials("Ann Bee Cat Dan", 200, true);
        assert!(svg.contains(">\nABC\n<"), "{svg}");
        let svg = render_initials("?", 100, false);
        assert!(svg.contains("fill=\"#000\"") && svg.contains(">\n?\n<"));
        // Nothing but letters and digits reaches the text, and that is escaped too.
        let svg = render_initials("<script>", 200, false);
        assert!(!svg.contains("<script"), "{svg}");
        assert_eq!(
            escape_xml("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }

    #[test]
    fn sizes_are_bounded() {
        assert_eq!(requested_size(&json!({})), 200);
        assert_eq!(requested_size(&json!({"size": "5"})), 16);
        assert_eq!(requested_size(&json!({"size": "64"})), 64);
        assert_eq!(requested_size(&json!({"size": "99999"})), 1024);
        assert_eq!(requested_size(&json!({"size": "x"})), 200);
    }
}
