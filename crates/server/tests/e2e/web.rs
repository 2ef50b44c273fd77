//! The embedded web client: served at `/` with the SPA fallback, long-lived caching for hashed
//! assets, a strict CSP on the HTML, precompressed bodies, and the APIs keeping precedence.

use crate::common;

use common::TestServer;
use reqwest::header::{
    ACCEPT, ACCEPT_ENCODING, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, ETAG, IF_NONE_MATCH, X_CONTENT_TYPE_OPTIONS,
};

const HTML: &str = "text/html,application/xhtml+xml,*/*;q=0.8";

fn header<'a>(response: &'a reqwest::Response, name: &reqwest::header::HeaderName) -> &'a str {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

#[tokio::test]
async fn the_client_is_served_with_fallback_caching_and_policy() {
    let server = TestServer::start().await;
    let url = |path: &str| format!("{}{path}", server.base);

    let index = server
        .http
        .get(url("/"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("index");
    assert_eq!(index.status(), 200);
    assert_eq!(header(&index, &CONTENT_TYPE), "text/html; charset=utf-8");
    assert_eq!(header(&index, &CACHE_CONTROL), "no-cache");
    assert_eq!(header(&index, &X_CONTENT_TYPE_OPTIONS), "nosniff");
    let csp = header(&index, &CONTENT_SECURITY_POLICY).to_owned();
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let etag = header(&index, &ETAG).to_owned();
    let html = index.text().await.expect("body");
    assert!(html.contains("<div id=\"app\">"), "{html}");

    // Client routes get the same document; a revalidation is a 304.
    let deep = server
        .http
        .get(url("/channel/general"))
        .header(ACCEPT, HTML)
        .header(IF_NONE_MATCH, &etag)
        .send()
        .await
        .expect("deep link");
    assert_eq!(deep.status(), 304);

    // Hashed assets: immutable, typed, precompressed when asked.
    let script = html
        .split("src=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("script src")
        .to_owned();
    assert!(script.starts_with("/assets/"), "{script}");
    let plain = server.http.get(url(&script)).send().await.expect("asset");
    assert_eq!(plain.status(), 200);
    assert_eq!(
        header(&plain, &CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    assert_eq!(
        header(&plain, &CONTENT_TYPE),
        "text/javascript; charset=utf-8"
    );
    assert_eq!(header(&plain, &CONTENT_ENCODING), "");
    let plain_len = plain.bytes().await.expect("bytes").len();
    let gzipped = server
        .http
        .get(url(&script))
        .header(ACCEPT_ENCODING, "gzip")
        .send()
        .await
        .expect("gzip asset");
    assert_eq!(header(&gzipped, &CONTENT_ENCODING), "gzip");
    assert!(gzipped.bytes().await.expect("bytes").len() < plain_len);
    let brotli = server
        .http
        .get(url(&script))
        .header(ACCEPT_ENCODING, "gzip, deflate, br")
        .send()
        .await
        .expect("br asset");
    assert_eq!(header(&brotli, &CONTENT_ENCODING), "br");

    // `curl http://host/` (Accept: */*) and a client sending no Accept get the page too.
    for accept in [Some("*/*"), None] {
        let mut request = server.http.get(url("/"));
        if let Some(accept) = accept {
            request = request.header(ACCEPT, accept);
        }
        let page = request.send().await.expect("curl-like");
        assert_eq!(page.status(), 200, "Accept: {accept:?}");
        assert_eq!(header(&page, &CONTENT_TYPE), "text/html; charset=utf-8");
    }

    // Misses that are not navigations, and API paths, are never the client's HTML.
    for (path, accept) in [
        ("/assets/missing.js", "*/*"),
        ("/some/page", "application/json"),
        ("/file-upload/x/y", HTML),
    ] {
        let miss = server
            .http
            .get(url(path))
            .header(ACCEPT, accept)
            .send()
            .await
            .expect("miss");
        assert_eq!(miss.status(), 404, "{path}");
    }
    // Avatars are images even for browser navigations (initials for an unknown name).
    let avatar = server
        .http
        .get(url("/avatar/alice"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("avatar");
    assert_eq!(avatar.status(), 200);
    assert_eq!(header(&avatar, &CONTENT_TYPE), "image/svg+xml");
    let api = server
        .http
        .get(url("/api/v1/no-such-route"))
        .header(ACCEPT, HTML)
        .send()
        .await
        .expect("api miss");
    assert_eq!(api.status(), 404);
    assert_eq!(header(&api, &CONTENT_TYPE), "application/json");
    let info = server.get_raw("/api/info", None).await;
    assert_eq!(info.status, 200);
    let post = server
        .http
        .post(url("/channel/general"))
        .send()
        .await
        .expect("post");
    assert_eq!(post.status(), 405);
    server.stop().await;
}
