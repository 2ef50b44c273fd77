//! `assets.setAsset`, `assets.unsetAsset` and `/assets/<name>.<ext>` (upstream's
//! tests/end-to-end/api/assets2.ts and app/assets/server/assets.ts).

use crate::common;

use common::{TestServer, post_form};
use serde_json::{Value, json};

/// A PNG header claiming `width`×`height` pixels (enough for sniffing and the size check).
fn png(width: u32, height: u32) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(&width.to_be_bytes());
    bytes.extend_from_slice(&height.to_be_bytes());
    bytes.extend_from_slice(b"\x08\x06\0\0\0rest-of-image");
    bytes
}

const SVG: &[u8] = br#"<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"></svg>"#;

async fn public_setting(server: &TestServer, id: &str) -> Value {
    let reply = server.get("settings.public", &[("_id", id)], None).await;
    reply.ok()["settings"]
        .as_array()
        .and_then(|all| all.iter().find(|s| s["_id"] == json!(id)))
        .map(|s| s["value"].clone())
        .unwrap_or(Value::Null)
}

#[tokio::test]
async fn set_serve_and_unset_the_logo() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    assert_eq!(
        public_setting(&server, "Assets_logo").await,
        json!({"defaultUrl": "images/logo/logo.svg"})
    );
    let missing = server.get_raw("/assets/logo.png", None).await;
    assert_eq!(missing.status, 404);

    let logo = png(40, 20);
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[
            ("asset", Some(("logo.png", "image/png")), &logo),
            ("assetName", None, b"logo"),
        ],
        &admin,
    )
    .await;
    assert_eq!((status, &body), (200, &json!({"success": true})));
    assert_eq!(
        public_setting(&server, "Assets_logo").await,
        json!({"url": "assets/logo.png", "defaultUrl": "images/logo/logo.svg"})
    );

    let served = server
        .http
        .get(format!("{}/assets/logo.png", server.base))
        .send()
        .await
        .expect("request");
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.headers()["content-type"], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert_eq!(served.headers()["access-control-allow-origin"], "*");
    assert_eq!(
        served.bytes().await.expect("body").as_ref(),
        logo.as_slice()
    );
    // Another extension of the same asset is not what is set.
    assert_eq!(server.get_raw("/assets/logo.svg", None).await.status, 404);

    // Replacing it with an SVG moves the URL.
    let (status, _) = post_form(
        &server,
        "assets.setAsset",
        &[
            ("asset", Some(("logo.svg", "image/svg+xml")), SVG),
            ("assetName", None, b"logo"),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 200);
    let served = server
        .http
        .get(format!("{}/assets/logo.svg", server.base))
        .send()
        .await
        .expect("request");
    assert_eq!(served.status().as_u16(), 200);
    assert_eq!(served.headers()["content-type"], "image/svg+xml");
    assert!(
        served.headers()["content-security-policy"]
            .to_str()
            .is_ok_and(|policy| policy.contains("default-src 'none'"))
    );
    assert_eq!(server.get_raw("/assets/logo.png", None).await.status, 404);

    let unset = server
        .post(
            "assets.unsetAsset",
            json!({"assetName": "logo"}),
            Some(&admin),
        )
        .await;
    assert_eq!(unset.ok(), &json!({"success": true}));
    assert_eq!(
        public_setting(&server, "Assets_logo").await,
        json!({"defaultUrl": "images/logo/logo.svg"})
    );
    assert_eq!(server.get_raw("/assets/logo.svg", None).await.status, 404);
    server.stop().await;
}

#[tokio::test]
async fn asset_checks_as_upstream() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;

    // Not a known asset (upstream's `attach('invalidAsset', ...)` with no `assetName`).
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[("invalidAsset", Some(("x.png", "image/png")), &png(4, 4))],
        &admin,
    )
    .await;
    assert_eq!(
        (status, &body),
        (400, &json!({"success": false, "error": "Invalid asset"}))
    );
    server
        .post(
            "assets.unsetAsset",
            json!({"assetName": "invalidAsset"}),
            Some(&admin),
        )
        .await
        .refused(400, "Invalid asset");

    // A type the asset does not take.
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[
            ("asset", Some(("icon.png", "image/png")), &png(4, 4)),
            ("assetName", None, b"favicon"),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["error"],
        json!("Invalid file type: image/png [error-invalid-file-type]")
    );
    assert_eq!(body["errorType"], json!("error-invalid-file-type"));

    // Bytes that are not what the type claims.
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[
            (
                "asset",
                Some(("logo.png", "image/png")),
                b"<script>alert(1)</script>",
            ),
            ("assetName", None, b"logo"),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errorType"], json!("error-invalid-file-type"));

    // Fixed sizes.
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[
            ("asset", Some(("f.png", "image/png")), &png(16, 16)),
            ("assetName", None, b"favicon_32"),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errorType"], json!("error-invalid-file-width"));
    assert_eq!(
        body["error"],
        json!("Invalid file width [error-invalid-file-width]")
    );
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[
            ("asset", Some(("f.png", "image/png")), &png(32, 31)),
            ("assetName", None, b"favicon_32"),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["errorType"], json!("error-invalid-file-height"));
    // The field named after the asset, as the rocketchat_API client sends it.
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[("favicon_32", Some(("f.png", "image/png")), &png(32, 32))],
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        public_setting(&server, "Assets_favicon_32").await["url"],
        json!("assets/favicon_32.png")
    );

    // manage-assets, checked before the form is read.
    let (status, body) = post_form(
        &server,
        "assets.setAsset",
        &[
            ("asset", Some(("logo.png", "image/png")), &png(4, 4)),
            ("assetName", None, b"logo"),
        ],
        &alice,
    )
    .await;
    assert_eq!(status, 403, "{body}");
    server
        .post(
            "assets.unsetAsset",
            json!({"assetName": "logo"}),
            Some(&alice),
        )
        .await
        .refused(
            403,
            "User does not have the permissions required for this action [error-unauthorized]",
        );
    server.stop().await;
}
