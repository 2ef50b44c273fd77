//! Avatars over real HTTP and DDP: users.setAvatar from an upload and from a URL (served by a
//! tiny local HTTP server), the refusals (not an image, SVG, too big, bad or private URLs,
//! someone else's avatar without permission, the setting off), /avatar/... with ETags and
//! 304s, the SVG initials (escaped), users.resetAvatar, users.getAvatar, room avatars through
//! rooms.saveRoomSettings, the updateAvatar event on stream-notify-logged, the DDP methods,
//! and removal with the user or room.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, Part, TestServer};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A PNG header claiming 2×3 pixels (enough for sniffing).
fn png() -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
    bytes.extend_from_slice(&2u32.to_be_bytes());
    bytes.extend_from_slice(&3u32.to_be_bytes());
    bytes.extend_from_slice(b"\x08\x06\0\0\0rest-of-image");
    bytes
}

/// A server keeping avatars as sent (`Accounts_AvatarResize` off), so that these tests can
/// compare served bytes with uploaded ones; resizing has its own test.
async fn unresized_server(configure: impl FnOnce(&mut comet_server::Config)) -> TestServer {
    TestServer::start_with(|config| {
        config
            .setting_overrides
            .push(("Accounts_AvatarResize".to_owned(), "false".to_owned()));
        configure(config);
    })
    .await
}

/// A real `width`×`height` RGB PNG.
fn real_png(width: u32, height: u32) -> Vec<u8> {
    let pixels = image::RgbImage::from_fn(width, height, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, 90])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    pixels
        .write_to(&mut out, image::ImageFormat::Png)
        .expect("encode png");
    out.into_inner()
}

fn gif() -> Vec<u8> {
    b"GIF89a\x01\0\x01\0\x80\0\0rest".to_vec()
}

async fn upload(server: &TestServer, parts: &[Part<'_>], auth: &Auth) -> (u16, Value) {
    common::post_form(server, "users.setAvatar", parts, auth).await
}

/// An image answer: status, headers and raw bytes.
struct Image {
    status: u16,
    headers: reqwest::header::HeaderMap,
    bytes: Vec<u8>,
}

impl Image {
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

async fn image(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> Image {
    let mut request = server.http.get(format!("{}{path}", server.base));
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = request.send().await.expect("request");
    Image {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        bytes: response.bytes().await.expect("body").to_vec(),
    }
}

/// A tiny HTTP server for avatar URLs: `/a.png` (an image), `/big.png` (a large "image"),
/// `/page` (HTML), `/fake.png` (text claiming to be PNG), `/error` (500), else 404. Counts
/// the requests it gets.
async fn image_host() -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let hits = Arc::new(AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counter.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") && request.len() < 16_384 {
                    match tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buffer))
                        .await
                    {
                        Ok(Ok(n)) if n > 0 => request.extend_from_slice(&buffer[..n]),
                        _ => return,
                    }
                }
                let line = String::from_utf8_lossy(&request).into_owned();
                let path = line.split_whitespace().nth(1).unwrap_or("/").to_owned();
                let (status, content_type, body): (&str, &str, Vec<u8>) = match path.as_str() {
                    "/a.png" => ("200 OK", "image/png", png()),
                    "/big.png" => ("200 OK", "image/png", {
                        let mut big = png();
                        big.resize(200_000, b'x');
                        big
                    }),
                    "/page" => ("200 OK", "text/html", b"<html></html>".to_vec()),
                    "/fake.png" => ("200 OK", "image/png", b"<svg onload=alert(1)>".to_vec()),
                    "/error" => ("500 Internal Server Error", "text/plain", b"no".to_vec()),
                    _ => ("404 Not Found", "text/plain", b"missing".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    (format!("http://127.0.0.1:{}", addr.port()), hits)
}

async fn logged_watcher(server: &TestServer, username: &str) -> Ddp {
    let mut ddp = Ddp::connect(server).await;
    ddp.login(username).await;
    assert_eq!(
        ddp.sub("stream-notify-logged", "updateAvatar").await["msg"],
        json!("ready")
    );
    ddp
}

async fn next_avatar_event(ddp: &mut Ddp) -> Value {
    let frame = ddp
        .until(|m| {
            m["collection"] == "stream-notify-logged" && m["fields"]["eventName"] == "updateAvatar"
        })
        .await;
    frame["fields"]["args"][0].clone()
}

/// The picture `rocket.cat` is created with, stored as is by servers that keep avatars
/// unresized.
const ROCKET_CAT_AVATAR: &[u8] = include_bytes!("../../../service/assets/rocketcat.png");

/// The stored avatar files, but for the bot's, which every server starts with.
fn avatar_files(server: &TestServer) -> Vec<String> {
    match std::fs::read_dir(server.data_dir().join("uploads")) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| std::fs::read(e.path()).is_ok_and(|bytes| bytes != ROCKET_CAT_AVATAR))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("avatar-"))
            .collect(),
        Err(_) => Vec::new(),
    }
}

#[tokio::test]
async fn upload_serve_cache_reset_and_delete() {
    let server = unresized_server(|_| {}).await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let mut watcher = logged_watcher(&server, "ann").await;
    let mut own = Ddp::connect(&server).await;
    own.login("ann").await;
    let user_data = format!("{}/userData", ann.user_id);
    assert_eq!(
        own.sub("stream-notify-user", &user_data).await["msg"],
        json!("ready")
    );

    // No avatar yet: upstream's initials, coloured by the name's length ("ann": 3 → #E26D0E).
    let initials = image(&server, "/avatar/ann", &[]).await;
    assert_eq!(initials.status, 200);
    assert_eq!(initials.header("content-type"), "image/svg+xml");
    assert_eq!(initials.header("cache-control"), "public, max-age=3600");
    assert_eq!(initials.header("x-content-type-options"), "nosniff");
    assert_eq!(
        initials.header("content-security-policy"),
        "default-src 'none'"
    );
    assert!(
        initials.text().contains("fill=\"#E26D0E\""),
        "{}",
        initials.text()
    );
    assert!(initials.text().contains(">\nA\n<"), "{}", initials.text());
    let again = image(
        &server,
        "/avatar/ann",
        &[("If-None-Match", initials.header("etag"))],
    )
    .await;
    assert_eq!(again.status, 304);
    let sized = image(&server, "/avatar/ann?size=64", &[]).await;
    assert!(sized.text().contains("viewBox=\"0 0 64 64\""));

    // Upload.
    let (status, body) = upload(
        &server,
        &[("image", Some(("me.png", "image/png")), &png())],
        &ann,
    )
    .await;
    assert_eq!((status, &body["success"]), (200, &json!(true)), "{body}");
    let event = next_avatar_event(&mut watcher).await;
    assert_eq!(event["username"], json!("ann"));
    let etag = event["etag"].as_str().expect("etag").to_owned();
    let data = own
        .until(|m| m["fields"]["eventName"] == json!(user_data))
        .await;
    assert_eq!(data["fields"]["args"][0]["diff"]["avatarETag"], json!(etag));
    let me = server.get("me", &[], Some(&ann)).await;
    assert_eq!(me.ok()["avatarETag"], json!(etag));
    let info = server
        .get("users.info", &[("username", "ann")], Some(&admin))
        .await;
    assert_eq!(info.ok()["user"]["avatarETag"], json!(etag));
    assert_eq!(avatar_files(&server).len(), 1);

    let served = image(&server, "/avatar/ann", &[]).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.bytes, png());
    assert_eq!(served.header("content-type"), "image/png");
    assert_eq!(served.header("etag"), format!("\"{etag}\""));
    assert_eq!(served.header("x-content-type-options"), "nosniff");
    assert_eq!(
        served.header("content-security-policy"),
        "default-src 'none'"
    );
    assert!(!served.header("last-modified").is_empty());
    let cached = image(
        &server,
        "/avatar/ann",
        &[("If-None-Match", &format!("\"{etag}\""))],
    )
    .await;
    assert_eq!((cached.status, cached.bytes.len()), (304, 0));
    let by_date = image(
        &server,
        "/avatar/ann",
        &[("If-Modified-Since", served.header("last-modified"))],
    )
    .await;
    assert_eq!(by_date.status, 304);
    assert_eq!(image(&server, "/avatar/ann.jpg", &[]).await.bytes, png());
    assert_eq!(image(&server, "/avatar/ANN", &[]).await.bytes, png());
    assert_eq!(
        image(&server, &format!("/avatar/uid/{}", ann.user_id), &[])
            .await
            .bytes,
        png()
    );
    // `@name` always gives the initials.
    let forced = image(&server, "/avatar/@ann", &[]).await;
    assert_eq!(forced.header("content-type"), "image/svg+xml");
    // A second upload replaces the first, blob included.
    let (status, _) = upload(
        &server,
        &[("image", Some(("me.gif", "image/gif")), &gif())],
        &ann,
    )
    .await;
    assert_eq!(status, 200);
    let second = next_avatar_event(&mut watcher).await;
    assert_ne!(second["etag"], json!(etag));
    assert_eq!(image(&server, "/avatar/ann", &[]).await.bytes, gif());
    assert_eq!(avatar_files(&server).len(), 1);
    let stale = image(
        &server,
        "/avatar/ann",
        &[("If-None-Match", &format!("\"{etag}\""))],
    )
    .await;
    assert_eq!(stale.status, 200, "an old ETag no longer matches");

    // users.getAvatar redirects without a login.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let redirect = no_redirects
        .get(format!(
            "{}/api/v1/users.getAvatar?username=ann",
            server.base
        ))
        .send()
        .await
        .expect("request");
    assert_eq!(redirect.status().as_u16(), 307);
    let location = redirect.headers()["location"].to_str().expect("location");
    assert!(location.ends_with("/avatar/ann"), "{location}");

    // Unknown users get initials of what was asked, escaped (a username is user input).
    let unknown = image(&server, "/avatar/%3Cscript%3Ex%3C%2Fscript%3E", &[]).await;
    assert_eq!(unknown.status, 200);
    assert!(!unknown.text().contains("<script"), "{}", unknown.text());
    assert!(unknown.text().contains(">\nS\n<"), "{}", unknown.text());
    assert_eq!(image(&server, "/avatar/uid/nobody", &[]).await.status, 404);

    // Reset.
    server
        .post("users.resetAvatar", json!({"username": "ann"}), Some(&ann))
        .await
        .ok();
    let reset = next_avatar_event(&mut watcher).await;
    assert_eq!(reset, json!({"username": "ann"}));
    let data = own
        .until(|m| {
            m["fields"]["eventName"] == json!(user_data)
                && m["fields"]["args"][0]["unset"]["avatarETag"] == json!(1)
        })
        .await;
    assert_eq!(data["fields"]["args"][0]["diff"], json!({}));
    assert_eq!(
        image(&server, "/avatar/ann", &[])
            .await
            .header("content-type"),
        "image/svg+xml"
    );
    assert!(
        server
            .get("me", &[], Some(&ann))
            .await
            .ok()
            .get("avatarETag")
            .is_none()
    );
    assert!(avatar_files(&server).is_empty());

    // Deleting the user removes the avatar.
    let (status, _) = upload(
        &server,
        &[("image", Some(("me.png", "image/png")), &png())],
        &ann,
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(avatar_files(&server).len(), 1);
    server
        .post("users.delete", json!({"userId": ann.user_id}), Some(&admin))
        .await
        .ok();
    assert!(avatar_files(&server).is_empty());
    assert_eq!(
        image(&server, "/avatar/ann", &[])
            .await
            .header("content-type"),
        "image/svg+xml"
    );
    server.stop().await;
}

#[tokio::test]
async fn refusals_and_permissions() {
    let server = unresized_server(|_| {}).await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let bob = server.new_user("bob").await;

    // Not an image, and SVG (which could run script on our origin).
    let (status, body) = upload(
        &server,
        &[("image", Some(("a.txt", "image/png")), b"hello")],
        &ann,
    )
    .await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("error-invalid-file-type")),
        "{body}"
    );
    let svg = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let (status, body) = upload(
        &server,
        &[("image", Some(("a.svg", "image/svg+xml")), svg)],
        &ann,
    )
    .await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("error-invalid-file-type")),
        "{body}"
    );
    // No image at all.
    let (status, body) = upload(&server, &[("userId", None, ann.user_id.as_bytes())], &ann).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("The 'image' param is required"))
    );
    server
        .post("users.setAvatar", json!({}), Some(&ann))
        .await
        .refused(400, "The 'image' param is required");

    // Another user's avatar needs edit-other-user-avatar.
    let (status, body) = upload(
        &server,
        &[
            ("image", Some(("a.png", "image/png")), &png()),
            ("userId", None, bob.user_id.as_bytes()),
        ],
        &ann,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("Not allowed [error-not-allowed]")),
        "{body}"
    );
    server
        .post(
            "users.setAvatar",
            json!({"userId": bob.user_id, "avatarUrl": "http://example.com/a.png"}),
            Some(&ann),
        )
        .await
        .refused(403, "unauthorized");
    server
        .post(
            "users.resetAvatar",
            json!({"userId": bob.user_id}),
            Some(&ann),
        )
        .await
        .refused(400, "Reset avatar is not allowed [error-not-allowed]");
    // An admin may.
    let (status, body) = upload(
        &server,
        &[
            ("image", Some(("a.png", "image/png")), &png()),
            ("username", None, b"bob"),
        ],
        &admin,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(image(&server, "/avatar/bob", &[]).await.bytes, png());
    server
        .post(
            "users.resetAvatar",
            json!({"userId": bob.user_id}),
            Some(&admin),
        )
        .await
        .ok();

    // Too big (FileUpload_MaxFileSize, as upstream).
    server
        .post(
            "settings/FileUpload_MaxFileSize",
            json!({"value": 16}),
            Some(&admin),
        )
        .await
        .ok();
    let (status, body) = upload(
        &server,
        &[("image", Some(("a.png", "image/png")), &png())],
        &ann,
    )
    .await;
    assert_eq!(
        (status, &body["errorType"]),
        (400, &json!("error-file-too-large")),
        "{body}"
    );
    server
        .post(
            "settings/FileUpload_MaxFileSize",
            json!({"value": 104_857_600}),
            Some(&admin),
        )
        .await
        .ok();

    // Avatar changes switched off: only holders of edit-other-user-avatar may.
    server
        .post(
            "settings/Accounts_AllowUserAvatarChange",
            json!({"value": false}),
            Some(&admin),
        )
        .await
        .ok();
    let (status, body) = upload(
        &server,
        &[("image", Some(("a.png", "image/png")), &png())],
        &ann,
    )
    .await;
    assert_eq!(
        (status, &body["error"]),
        (
            400,
            &json!("Change avatar is not allowed [error-not-allowed]")
        ),
        "{body}"
    );
    server
        .post(
            "users.resetAvatar",
            json!({"userId": ann.user_id}),
            Some(&ann),
        )
        .await
        .refused(400, "Reset avatar is not allowed [error-not-allowed]");
    let (status, _) = upload(
        &server,
        &[("image", Some(("a.png", "image/png")), &png())],
        &admin,
    )
    .await;
    assert_eq!(status, 200);

    // Blocking anonymous access: images need a login (cookies or rc_uid/rc_token), anonymous
    // requests get initials.
    server
        .post(
            "settings/Accounts_AvatarBlockUnauthenticatedAccess",
            json!({"value": true}),
            Some(&admin),
        )
        .await
        .ok();
    let anonymous = image(&server, "/avatar/admin", &[]).await;
    assert_eq!(anonymous.header("content-type"), "image/svg+xml");
    let with_query = image(
        &server,
        &format!(
            "/avatar/admin?rc_uid={}&rc_token={}",
            ann.user_id, ann.token
        ),
        &[],
    )
    .await;
    assert_eq!(with_query.bytes, png());
    server.stop().await;
}

#[tokio::test]
async fn from_url() {
    let server = unresized_server(|c| c.avatar_url_allow_private = true).await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let (host, _) = image_host().await;
    let mut watcher = logged_watcher(&server, "ann").await;

    server
        .post(
            "users.setAvatar",
            json!({"avatarUrl": format!("{host}/a.png")}),
            Some(&ann),
        )
        .await
        .ok();
    let event = next_avatar_event(&mut watcher).await;
    assert_eq!(event["username"], json!("ann"));
    assert_eq!(image(&server, "/avatar/ann", &[]).await.bytes, png());

    let missing = format!("{host}/missing.png");
    let reply = server
        .post("users.setAvatar", json!({"avatarUrl": missing}), Some(&ann))
        .await;
    reply.refused(
        400,
        &format!("Invalid avatar URL: {missing} [error-avatar-invalid-url]"),
    );
    let failing = format!("{host}/error");
    server
        .post("users.setAvatar", json!({"avatarUrl": failing}), Some(&ann))
        .await
        .refused(
            400,
            &format!(
                "Error while handling avatar setting from a URL ({failing}) for ann [error-avatar-url-handling]"
            ),
        );
    let page = format!("{host}/page");
    server
        .post("users.setAvatar", json!({"avatarUrl": page}), Some(&ann))
        .await
        .refused(
            400,
            &format!("Invalid avatar URL: {page} [error-avatar-invalid-url]"),
        );
    // Claims to be an image, is not: the bytes decide.
    let fake = server
        .post(
            "users.setAvatar",
            json!({"avatarUrl": format!("{host}/fake.png")}),
            Some(&ann),
        )
        .await;
    assert_eq!(
        fake.body["errorType"],
        json!("error-invalid-file-type"),
        "{}",
        fake.body
    );
    for bad in ["ftp://127.0.0.1/a.png", "not a url", "file:///etc/passwd"] {
        let reply = server
            .post("users.setAvatar", json!({"avatarUrl": bad}), Some(&ann))
            .await;
        assert_eq!(
            reply.body["errorType"],
            json!("error-avatar-invalid-url"),
            "{bad}: {}",
            reply.body
        );
    }
    // Too big: cut off while streaming.
    server
        .post(
            "settings/FileUpload_MaxFileSize",
            json!({"value": 100_000}),
            Some(&admin),
        )
        .await
        .ok();
    let big = server
        .post(
            "users.setAvatar",
            json!({"avatarUrl": format!("{host}/big.png")}),
            Some(&ann),
        )
        .await;
    assert_eq!(
        big.body["errorType"],
        json!("error-file-too-large"),
        "{}",
        big.body
    );
    // The first avatar survived every refusal.
    assert_eq!(image(&server, "/avatar/ann", &[]).await.bytes, png());
    server.stop().await;
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let server = unresized_server(|_| {}).await;
    let ann = server.new_user("ann").await;
    let (host, hits) = image_host().await;
    let port = host.rsplit(':').next().expect("port").to_owned();
    for url in [
        format!("{host}/a.png"),
        format!("http://localhost:{port}/a.png"),
        format!("http://[::1]:{port}/a.png"),
        format!("http://169.254.169.254:{port}/latest"),
    ] {
        let reply = server
            .post("users.setAvatar", json!({"avatarUrl": url}), Some(&ann))
            .await;
        assert_eq!(reply.status, 400, "{url}: {}", reply.body);
        assert_eq!(
            reply.body["errorType"],
            json!("error-avatar-invalid-url"),
            "{url}"
        );
    }
    assert_eq!(
        hits.load(Ordering::SeqCst),
        0,
        "the local server was reached"
    );
    server.stop().await;
}

#[tokio::test]
async fn room_avatars_and_ddp_methods() {
    let server = unresized_server(|_| {}).await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let mut watcher = logged_watcher(&server, "ann").await;
    let created = server
        .post("channels.create", json!({"name": "pictures"}), Some(&admin))
        .await;
    let rid = created.ok()["channel"]["_id"]
        .as_str()
        .expect("rid")
        .to_owned();

    // No avatar: initials of the room's name; unknown rooms are 404.
    let initials = image(&server, &format!("/avatar/room/{rid}"), &[]).await;
    assert_eq!(initials.header("content-type"), "image/svg+xml");
    assert!(initials.text().contains(">\nP\n<"));
    assert_eq!(
        image(&server, "/avatar/room/nothere", &[]).await.status,
        404
    );

    let data_uri = format!("data:image/png;base64,{}", base64_encode(&png()));
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "roomAvatar": data_uri}),
            Some(&admin),
        )
        .await
        .ok();
    let event = next_avatar_event(&mut watcher).await;
    assert_eq!(event["rid"], json!(rid));
    assert!(event["etag"].is_string());
    let served = image(&server, &format!("/avatar/room/{rid}"), &[]).await;
    assert_eq!(served.bytes, png());
    for path in ["rooms.info", "channels.info"] {
        let info = server.get(path, &[("roomId", &rid)], Some(&admin)).await;
        let doc = &info.ok()[if path == "rooms.info" {
            "room"
        } else {
            "channel"
        }];
        assert_eq!(doc["avatarETag"], event["etag"], "{path}");
    }
    assert_eq!(
        served.header("etag"),
        format!("\"{}\"", event["etag"].as_str().unwrap_or(""))
    );
    let history = server
        .get("channels.history", &[("roomId", &rid)], Some(&admin))
        .await;
    assert_eq!(
        history.ok()["messages"][0]["t"],
        json!("room_changed_avatar")
    );

    // Members without edit-room may not.
    server
        .post("channels.join", json!({"roomId": rid}), Some(&ann))
        .await
        .ok();
    let refused = server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "roomAvatar": ""}),
            Some(&ann),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["errorType"], json!("error-action-not-allowed"));
    // Not an image.
    let svg = format!(
        "data:image/svg+xml;base64,{}",
        base64_encode(b"<svg><script/></svg>")
    );
    let reply = server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "roomAvatar": svg}),
            Some(&admin),
        )
        .await;
    assert_eq!(
        reply.body["errorType"],
        json!("error-invalid-file-type"),
        "{}",
        reply.body
    );

    // Removed with "".
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "roomAvatar": ""}),
            Some(&admin),
        )
        .await
        .ok();
    let removed = next_avatar_event(&mut watcher).await;
    assert_eq!(removed, json!({"rid": rid}));
    let info = server
        .get("rooms.info", &[("roomId", &rid)], Some(&admin))
        .await;
    assert!(info.ok()["room"].get("avatarETag").is_none());
    assert_eq!(
        image(&server, &format!("/avatar/room/{rid}"), &[])
            .await
            .header("content-type"),
        "image/svg+xml"
    );

    // Deleting the room removes its avatar.
    server
        .post(
            "rooms.saveRoomSettings",
            json!({"rid": rid, "roomAvatar": data_uri}),
            Some(&admin),
        )
        .await
        .ok();
    assert_eq!(next_avatar_event(&mut watcher).await["rid"], json!(rid));
    assert_eq!(avatar_files(&server).len(), 1);
    server
        .post("channels.delete", json!({"roomId": rid}), Some(&admin))
        .await
        .ok();
    assert!(avatar_files(&server).is_empty());

    // DDP: setAvatarFromService with a data URI, getAvatarSuggestion, resetAvatar.
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("ann").await;
    let set = ddp
        .call(
            "setAvatarFromService",
            json!([data_uri, "image/png", "upload"]),
        )
        .await;
    assert!(set.get("error").is_none(), "{set}");
    let event = next_avatar_event(&mut watcher).await;
    assert_eq!(event["username"], json!("ann"));
    assert_eq!(image(&server, "/avatar/ann", &[]).await.bytes, png());
    let others = ddp
        .call(
            "setAvatarFromService",
            json!([data_uri, "image/png", "upload", admin.user_id]),
        )
        .await;
    assert_eq!(
        others["error"]["error"],
        json!("error-unauthorized"),
        "{others}"
    );
    let suggestions = ddp.call("getAvatarSuggestion", json!([])).await;
    assert_eq!(suggestions["result"], json!({}));
    let reset = ddp.call("resetAvatar", json!([])).await;
    assert!(reset.get("error").is_none(), "{reset}");
    assert_eq!(
        next_avatar_event(&mut watcher).await,
        json!({"username": "ann"})
    );
    assert_eq!(
        image(&server, "/avatar/ann", &[])
            .await
            .header("content-type"),
        "image/svg+xml"
    );
    server.stop().await;
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[tokio::test]
async fn uploaded_avatars_are_resized_to_accounts_avatar_size() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let (status, body) = upload(
        &server,
        &[(
            "image",
            Some(("wide.png", "image/png")),
            &real_png(400, 300),
        )],
        &ann,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let served = image(&server, "/avatar/ann", &[]).await;
    assert_eq!(served.header("content-type"), "image/png");
    let decoded = image::load_from_memory(&served.bytes).expect("a PNG");
    assert_eq!((decoded.width(), decoded.height()), (200, 200));

    server
        .post(
            "settings/Accounts_AvatarSize",
            json!({"value": 64}),
            Some(&admin),
        )
        .await
        .ok();
    let (status, body) = upload(
        &server,
        &[("image", Some(("tall.png", "image/png")), &real_png(90, 300))],
        &ann,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let decoded =
        image::load_from_memory(&image(&server, "/avatar/ann", &[]).await.bytes).expect("a PNG");
    assert_eq!((decoded.width(), decoded.height()), (64, 64));

    // Something that only looks like an image is refused once it has to be decoded.
    let (status, body) = upload(
        &server,
        &[("image", Some(("fake.png", "image/png")), &png())],
        &ann,
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], json!("error-invalid-image"));
    server.stop().await;
}
