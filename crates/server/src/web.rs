//! The embedded web client: the files `build.rs` built from `web/`, served from memory.
//!
//! Hashed files under `/assets/` are cached forever; `index.html` is revalidated on every
//! load and answers every other HTML navigation (the client routes in the browser). Bodies are
//! sent precompressed (brotli or gzip) when the browser accepts it.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;
use std::sync::LazyLock;

/// One built file.
pub struct Asset {
    pub path: &'static str,
    pub content_type: &'static str,
    pub etag: &'static str,
    pub body: &'static [u8],
    pub gzip: Option<&'static [u8]>,
    pub brotli: Option<&'static [u8]>,
}

mod embedded {
    use super::Asset;
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

static BY_PATH: LazyLock<HashMap<&'static str, &'static Asset>> =
    LazyLock::new(|| embedded::ASSETS.iter().map(|a| (a.path, a)).collect());

/// The policy for the HTML document: only this origin's scripts, styles and sockets.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; \
    object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Path prefixes that belong to the server's APIs or to built files: a miss there is a 404,
/// never the client's HTML.
const NEVER_HTML: &[&str] = &[
    "/api/",
    "/websocket",
    "/sockjs/",
    "/avatar/",
    "/file-upload/",
    "/emoji-custom/",
    "/custom-sounds/",
    "/ufs/",
    "/assets/",
];

/// Whether a request path belongs to the REST API (`/api` and below).
pub fn is_api_path(path: &str) -> bool {
    // Uploaded files and avatars are served by the API router too: they need its
    // authentication (`rc_uid`/`rc_token` cookies or query parameters).
    path == "/api"
        || path.starts_with("/api/")
        || path.starts_with("/file-upload/")
        || path.starts_with("/ufs/")
        || path.starts_with("/avatar/")
        || path.starts_with("/emoji-custom/")
        || path.starts_with("/custom-sounds/")
        || is_workspace_asset(path)
}

/// Whether a path names one of the workspace's assets (`/assets/logo.png`), which the API
/// serves; the client's own built files under `/assets/` have hashed names and never match.
fn is_workspace_asset(path: &str) -> bool {
    path.strip_prefix("/assets/")
        .and_then(|file| file.rsplit_once('.'))
        .is_some_and(|(name, _)| comet_core::assets::asset_named(name).is_some())
}

/// Serves the client: assets by path, `index.html` for navigations.
pub fn router() -> Router {
    Router::new().fallback(serve)
}

/// The embedded files' paths (for tests and logs).
pub fn asset_count() -> usize {
    embedded::ASSETS.len()
}

async fn serve(method: Method, uri: Uri, headers: HeaderMap) -> Response {
    if method != Method::GET && method != Method::HEAD {
        let mut response = StatusCode::METHOD_NOT_ALLOWED.into_response();
        response
            .headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return response;
    }
    let path = uri.path();
    let (asset, cache) = if let Some(asset) = BY_PATH.get(path).copied() {
        let cache = if path.starts_with("/assets/") {
            "public, max-age=31536000, immutable"
        } else if path == "/index.html" {
            "no-cache"
        } else {
            "public, max-age=3600"
        };
        (asset, cache)
    } else if is_navigation(&headers, path)
        && !NEVER_HTML.iter().any(|p| path.starts_with(p))
        && let Some(index) = BY_PATH.get("/index.html").copied()
    {
        (index, "no-cache")
    } else {
        return not_found();
    };
    respond(asset, cache, &method, &headers)
}

fn not_found() -> Response {
    let mut response = (StatusCode::NOT_FOUND, "Not Found").into_response();
    response.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// A navigation to a page of the client: the browser asks for HTML, or a client that takes
/// anything (`curl`'s `*/*`, or no `Accept` at all) asks for a path that does not name a file
/// (no extension in its last segment, so a missing script or image stays a 404).
fn is_navigation(headers: &HeaderMap, path: &str) -> bool {
    let names_a_file = path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'));
    match headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()) {
        None => !names_a_file,
        Some(accept) => accept.split(',').any(|part| {
            let media = part.split(';').next().unwrap_or_default().trim();
            media == "text/html" || (!names_a_file && matches!(media, "*/*" | "text/*"))
        }),
    }
}

/// Whether `Accept-Encoding` lists `coding` without `q=0`.
fn accepts_encoding(headers: &HeaderMap, coding: &str) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|part| {
            let mut pieces = part.split(';').map(str::trim);
            let name_matches = pieces
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case(coding));
            let refused = pieces.any(|p| {
                p.strip_prefix("q=")
                    .and_then(|q| q.parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            name_matches && !refused
        })
}

fn respond(asset: &Asset, cache: &'static str, method: &Method, headers: &HeaderMap) -> Response {
    let is_html = asset.content_type.starts_with("text/html");
    let mut out = HeaderMap::new();
    out.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    out.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    out.insert(header::ETAG, HeaderValue::from_static(asset.etag));
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    if asset.gzip.is_some() || asset.brotli.is_some() {
        out.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if is_html {
        out.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        out.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        out.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|tags| tags.split(',').any(|t| t.trim() == asset.etag));
    if fresh {
        return (StatusCode::NOT_MODIFIED, out).into_response();
    }
    let body = match (asset.brotli, asset.gzip) {
        (Some(br), _) if accepts_encoding(headers, "br") => {
            out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("br"));
            br
        }
        (_, Some(gz)) if accepts_encoding(headers, "gzip") => {
            out.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            gz
        }
        _ => asset.body,
    };
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
    let body = if method == Method::HEAD {
        Body::empty()
    } else {
        Body::from(body)
    };
    (StatusCode::OK, out, body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(name: header::HeaderName, value: &'static str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(name, HeaderValue::from_static(value));
        headers
    }

    #[test]
    fn encodings_respect_zero_quality() {
        let h = with(header::ACCEPT_ENCODING, "gzip, deflate, br;q=0");
        assert!(accepts_encoding(&h, "gzip"));
        assert!(!accepts_encoding(&h, "br"));
        assert!(!accepts_encoding(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn navigations_accept_html_or_anything() {
        let browser = with(header::ACCEPT, "text/html,application/xhtml+xml,*/*;q=0.8");
        assert!(is_navigation(&browser, "/channel/general"));
        assert!(!is_navigation(
            &with(header::ACCEPT, "application/json"),
            "/"
        ));
        assert!(is_navigation(&HeaderMap::new(), "/"));
        let curl = with(header::ACCEPT, "*/*");
        assert!(is_navigation(&curl, "/"));
        assert!(is_navigation(&curl, "/home"));
        assert!(!is_navigation(&curl, "/assets/missing.js"));
        assert!(!is_navigation(&HeaderMap::new(), "/favicon.png"));
    }

    #[test]
    fn the_build_embeds_an_index() {
        assert!(BY_PATH.contains_key("/index.html"));
        assert!(asset_count() > 1);
    }

    #[test]
    fn api_paths() {
        assert!(is_api_path("/api"));
        assert!(is_api_path("/api/v1/me"));
        assert!(!is_api_path("/apiary"));
        assert!(is_api_path("/file-upload/abc/a.png"));
        assert!(!is_api_path("/file-uploads"));
        assert!(is_api_path("/ufs/GridFS:Uploads/abc/a.png"));
        assert!(is_api_path("/avatar/ann"));
        assert!(is_api_path("/avatar/room/GENERAL"));
        assert!(!is_api_path("/avatars"));
    }
}
