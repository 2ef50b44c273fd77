//! Link previews (`API_Embed`): a message's URLs get the metadata of the pages they point to,
//! fetched after the post is answered and pushed as a message update; `chat.getURLPreview`;
//! the settings and the SSRF guard deciding what is fetched; slow and endless pages bounded.

use crate::common;

use common::ddp::Ddp;
use common::{Auth, TestServer, id_of};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const PAGE: &str = r#"<!doctype html><html><head>
<meta charset="utf-8">
<title>The &amp; Page</title>
<meta property="og:title" content="Open Graph title">
<meta property="og:description" content="What the page is about">
<meta property="og:image" content="https://img.example/a.png">
<meta name="description" content="Plain description">
<meta name="viewport" content="width=device-width">
</head><body>hello</body></html>"#;

const OEMBED_PAGE: &str = r#"<html><head><title>Video</title>
<link rel="alternate" type="application/json+oembed" href="/oembed.json">
</head></html>"#;

/// A local web server for previews: every request's path is recorded.
struct Pages {
    base: String,
    port: u16,
    requested: Arc<Mutex<Vec<String>>>,
}

impl Pages {
    fn requested(&self) -> Vec<String> {
        self.requested.lock().expect("lock").clone()
    }
}

async fn respond(socket: &mut tokio::net::TcpStream, status: &str, headers: &str, body: &[u8]) {
    let head = format!(
        "HTTP/1.1 {status}\r\n{headers}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = socket.write_all(head.as_bytes()).await;
    let _ = socket.write_all(body).await;
    let _ = socket.shutdown().await;
}

async fn pages() -> Pages {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let requested = Arc::new(Mutex::new(Vec::new()));
    let log = requested.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let log = log.clone();
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
                let text = String::from_utf8_lossy(&request).into_owned();
                let path = text.split_whitespace().nth(1).unwrap_or("/").to_owned();
                log.lock().expect("lock").push(path.clone());
                let html = "Content-Type: text/html; charset=utf-8\r\n";
                match path.as_str() {
                    "/page" | "/other" | "/edited" => {
                        respond(&mut socket, "200 OK", html, PAGE.as_bytes()).await
                    }
                    "/video" => respond(&mut socket, "200 OK", html, OEMBED_PAGE.as_bytes()).await,
                    "/oembed.json" => {
                        let body = json!({"type": "video", "title": "Embedded video",
                            "thumbnail_url": "https://img.example/t.jpg", "html": "<iframe src=x>"});
                        respond(
                            &mut socket,
                            "200 OK",
                            "Content-Type: application/json\r\n",
                            body.to_string().as_bytes(),
                        )
                        .await
                    }
                    "/image.png" => {
                        respond(
                            &mut socket,
                            "200 OK",
                            "Content-Type: image/png\r\n",
                            b"\x89PNG",
                        )
                        .await
                    }
                    "/to-localhost" => {
                        let location = format!("Location: http://localhost:{port}/page\r\n");
                        respond(&mut socket, "302 Found", &location, b"").await
                    }
                    "/slow" => {
                        // Headers, then nothing for longer than any preview may take.
                        let _ = socket
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 100\r\n\r\n<title>")
                            .await;
                        tokio::time::sleep(Duration::from_secs(60)).await;
                    }
                    "/endless" => {
                        // The metadata first, then a body that never ends: only a reader that
                        // stops at its cap gets to the metadata in time.
                        let head = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<html><head><meta property=\"og:title\" content=\"Endless\">";
                        if socket.write_all(head.as_bytes()).await.is_err() {
                            return;
                        }
                        let padding = vec![b' '; 16 * 1024];
                        while socket.write_all(&padding).await.is_ok() {}
                    }
                    _ => respond(&mut socket, "404 Not Found", html, b"missing").await,
                }
            });
        }
    });
    Pages {
        base: format!("http://127.0.0.1:{port}"),
        port,
        requested,
    }
}

/// A server that may preview pages on this machine: private addresses allowed, nothing
/// ignored, the page server's port safe, a short timeout.
async fn server_for(pages: &Pages, allow_private: bool) -> TestServer {
    let port = pages.port;
    TestServer::start_with(move |c| {
        c.link_preview_allow_private = allow_private;
        for (id, value) in [
            ("API_EmbedIgnoredHosts", String::new()),
            ("API_EmbedSafePorts", format!("80, 443, {port}")),
            ("API_EmbedTimeout", "2".to_owned()),
        ] {
            c.setting_overrides.push((id.to_owned(), value));
        }
    })
    .await
}

async fn set(server: &TestServer, admin: &Auth, id: &str, value: Value) {
    server
        .post(
            &format!("settings/{id}"),
            json!({"value": value}),
            Some(admin),
        )
        .await
        .ok();
}

async fn post(server: &TestServer, auth: &Auth, text: &str) -> Value {
    server
        .post(
            "chat.postMessage",
            json!({"roomId": "GENERAL", "text": text}),
            Some(auth),
        )
        .await
        .ok()["message"]
        .clone()
}

async fn get_message(server: &TestServer, auth: &Auth, id: &str) -> Value {
    server
        .get("chat.getMessage", &[("msgId", id)], Some(auth))
        .await
        .ok()["message"]
        .clone()
}

/// The message once its first URL has metadata (polling `chat.getMessage`).
async fn previewed(server: &TestServer, auth: &Auth, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let message = get_message(server, auth, id).await;
        if message["urls"][0]["meta"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
        {
            return message;
        }
        assert!(Instant::now() < deadline, "no preview in time: {message}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts `text` after `others` were posted, waits for a sentinel message with a preview, and
/// returns the others as they are then: jobs run in order and refused ones finish at once, so
/// by then any preview they would get has been written.
async fn after_a_sentinel(
    server: &TestServer,
    auth: &Auth,
    pages: &Pages,
    ids: &[String],
) -> Vec<Value> {
    let sentinel = post(server, auth, &format!("sentinel {}/other", pages.base)).await;
    previewed(server, auth, &id_of(&sentinel)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut out = Vec::new();
    for id in ids {
        out.push(get_message(server, auth, id).await);
    }
    out
}

#[tokio::test]
async fn previews_arrive_as_message_updates_and_stay_in_history() {
    let pages = pages().await;
    let server = server_for(&pages, true).await;
    let ann = server.new_user("ann").await;
    let mut ddp = Ddp::connect(&server).await;
    ddp.login("ann").await;
    assert_eq!(
        ddp.sub("stream-room-messages", "GENERAL").await["msg"],
        json!("ready")
    );

    let url = format!("{}/page", pages.base);
    let sent = post(
        &server,
        &ann,
        &format!("look at {url} and `{}/other`", pages.base),
    )
    .await;
    // The answer does not wait for the page: the URL is there, its metadata not yet.
    assert_eq!(sent["urls"], json!([{"url": url, "meta": {}}]));
    let id = id_of(&sent);

    let update = ddp
        .until(|m| {
            m["collection"] == "stream-room-messages"
                && m["fields"]["args"][0]["_id"] == json!(id)
                && m["fields"]["args"][0]["urls"][0]["meta"]
                    .as_object()
                    .is_some_and(|meta| !meta.is_empty())
        })
        .await;
    let live = &update["fields"]["args"][0];
    let meta = json!({
        "pageTitle": "The & Page",
        "ogTitle": "Open Graph title",
        "ogDescription": "What the page is about",
        "ogImage": "https://img.example/a.png",
        "description": "Plain description",
    });
    assert_eq!(live["urls"][0]["meta"], meta);
    assert_eq!(
        live["urls"][0]["headers"],
        json!({"contentType": "text/html; charset=utf-8", "contentLength": PAGE.len().to_string()})
    );
    assert_eq!(live["msg"], sent["msg"]);

    let stored = get_message(&server, &ann, &id).await;
    assert_eq!(stored["urls"], live["urls"]);
    assert!(stored["_updatedAt"].as_str() > sent["_updatedAt"].as_str());

    // A page linking an oEmbed description: its fields join the page's, its HTML does not.
    let video = post(&server, &ann, &format!("{}/video", pages.base)).await;
    let video = previewed(&server, &ann, &id_of(&video)).await;
    assert_eq!(
        video["urls"][0]["meta"],
        json!({"pageTitle": "Video", "oembedType": "video", "oembedTitle": "Embedded video",
               "oembedThumbnailUrl": "https://img.example/t.jpg"})
    );

    // An edit parses the text again; a new URL gets its preview, a kept one keeps its own.
    let edited_url = format!("{}/edited", pages.base);
    server
        .post(
            "chat.update",
            json!({"roomId": "GENERAL", "msgId": id, "text": format!("{url} {edited_url}")}),
            Some(&ann),
        )
        .await
        .ok();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let message = get_message(&server, &ann, &id).await;
        let urls = message["urls"].as_array().cloned().unwrap_or_default();
        if urls.len() == 2 && urls.iter().all(|u| u["meta"]["ogTitle"].is_string()) {
            assert_eq!(urls[1]["url"], json!(edited_url));
            break;
        }
        assert!(Instant::now() < deadline, "edit not previewed: {message}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        pages.requested().iter().filter(|p| *p == "/page").count(),
        1,
        "the kept URL is not fetched again"
    );

    // `parseUrls: false`: no URLs at all. `previewUrls`: the others are left alone.
    let unparsed = server
        .post(
            "chat.sendMessage",
            json!({"message": {"rid": "GENERAL", "msg": format!("quiet {url}"), "parseUrls": false}}),
            Some(&ann),
        )
        .await
        .ok()["message"]
        .clone();
    assert_eq!(unparsed["urls"], json!([]));
    let chosen = ddp
        .call(
            "sendMessage",
            json!([{"rid": "GENERAL", "msg": format!("{url} {}/video", pages.base)}, [url]]),
        )
        .await;
    let chosen_id = chosen["result"]["_id"].as_str().expect("sent").to_owned();
    assert_eq!(
        chosen["result"]["urls"][1],
        json!({"url": format!("{}/video", pages.base), "meta": {}, "ignoreParse": true})
    );
    let chosen = previewed(&server, &ann, &chosen_id).await;
    assert_eq!(chosen["urls"][1]["meta"], json!({}));
    server.stop().await;
}

#[tokio::test]
async fn settings_decide_what_is_fetched() {
    let pages = pages().await;
    let server = server_for(&pages, true).await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let bot = server.new_user("bot").await;

    // API_Embed off: nothing is fetched.
    set(&server, &admin, "API_Embed", json!(false)).await;
    let off = post(&server, &ann, &format!("{}/page", pages.base)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(pages.requested().is_empty(), "{:?}", pages.requested());
    set(&server, &admin, "API_Embed", json!(true)).await;

    // Ignored hosts, also when a page redirects there; ports not in API_EmbedSafePorts.
    set(
        &server,
        &admin,
        "API_EmbedIgnoredHosts",
        json!("localhost, 10.0.0.0/8"),
    )
    .await;
    set(&server, &admin, "API_EmbedDisabledFor", json!("bot")).await;
    let ignored = post(
        &server,
        &ann,
        &format!("http://localhost:{}/page", pages.port),
    )
    .await;
    let redirected = post(&server, &ann, &format!("{}/to-localhost", pages.base)).await;
    let disabled = post(&server, &bot, &format!("{}/page", pages.base)).await;
    let many = post(
        &server,
        &ann,
        &(1..=6)
            .map(|i| format!("{}/page?{i}", pages.base))
            .collect::<Vec<_>>()
            .join(" "),
    )
    .await;
    let ids: Vec<String> = [&off, &ignored, &redirected, &disabled, &many]
        .iter()
        .map(|m| id_of(m))
        .collect();
    let later = after_a_sentinel(&server, &ann, &pages, &ids).await;
    for message in &later {
        assert!(
            message["urls"]
                .as_array()
                .expect("urls")
                .iter()
                .all(|u| u["meta"] == json!({}) && u.get("headers").is_none()),
            "{message}"
        );
    }
    let mut requested = pages.requested();
    requested.sort();
    assert_eq!(
        requested,
        ["/other", "/to-localhost"],
        "only the redirecting page and the sentinel were requested"
    );

    set(&server, &admin, "API_EmbedSafePorts", json!("80, 443")).await;
    let unsafe_port = post(&server, &ann, &format!("{}/page", pages.base)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get_message(&server, &ann, &id_of(&unsafe_port)).await["urls"][0]["meta"],
        json!({})
    );
    assert_eq!(pages.requested().len(), 2, "{:?}", pages.requested());
    server.stop().await;
}

#[tokio::test]
async fn slow_and_endless_pages_are_bounded() {
    let pages = pages().await;
    let server = server_for(&pages, true).await;
    let ann = server.new_user("ann").await;

    let started = Instant::now();
    let slow = post(&server, &ann, &format!("{}/slow", pages.base)).await;
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "the post waited for the page"
    );
    // The endless page is read only up to the cap, so its metadata arrives in time.
    let endless = post(&server, &ann, &format!("{}/endless", pages.base)).await;
    let endless = previewed(&server, &ann, &id_of(&endless)).await;
    assert_eq!(endless["urls"][0]["meta"], json!({"ogTitle": "Endless"}));
    // The slow one gives up after API_EmbedTimeout (2 s) and previews nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        get_message(&server, &ann, &id_of(&slow)).await["urls"][0]["meta"],
        json!({})
    );
    let started = Instant::now();
    let preview = server
        .get(
            "chat.getURLPreview",
            &[
                ("roomId", "GENERAL"),
                ("url", &format!("{}/slow", pages.base)),
            ],
            Some(&ann),
        )
        .await;
    assert_eq!(preview.ok()["urlPreview"]["meta"], json!({}));
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    server.stop().await;
}

#[tokio::test]
async fn url_preview_answers_for_readable_rooms() {
    let pages = pages().await;
    let server = server_for(&pages, true).await;
    let admin = server.admin().await;
    let ann = server.new_user("ann").await;
    let url = format!("{}/page", pages.base);

    let reply = server
        .get(
            "chat.getURLPreview",
            &[("roomId", "GENERAL"), ("url", &url)],
            Some(&ann),
        )
        .await;
    let body = reply.ok();
    assert_eq!(body["urlPreview"]["url"], json!(url));
    assert_eq!(
        body["urlPreview"]["meta"]["ogTitle"],
        json!("Open Graph title")
    );
    assert_eq!(body["urlPreview"]["ignoreParse"], json!(true));
    assert_eq!(
        body["urlPreview"]["headers"]["contentType"],
        json!("text/html; charset=utf-8")
    );

    // Not HTML: the headers, no metadata.
    let image = server
        .get(
            "chat.getURLPreview",
            &[
                ("roomId", "GENERAL"),
                ("url", &format!("{}/image.png", pages.base)),
            ],
            Some(&ann),
        )
        .await;
    assert_eq!(
        image.ok()["urlPreview"],
        json!({"url": format!("{}/image.png", pages.base), "meta": {},
               "headers": {"contentType": "image/png", "contentLength": "4"}, "ignoreParse": true})
    );
    // A page that is not there, or not a URL at all: an empty preview, not an error.
    for bad in [format!("{}/missing", pages.base), "not a url".to_owned()] {
        let reply = server
            .get(
                "chat.getURLPreview",
                &[("roomId", "GENERAL"), ("url", &bad)],
                Some(&ann),
            )
            .await;
        assert_eq!(
            reply.ok()["urlPreview"],
            json!({"url": bad, "meta": {}, "ignoreParse": true})
        );
    }

    server
        .get("chat.getURLPreview", &[("url", &url)], Some(&ann))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    server
        .get("chat.getURLPreview", &[("roomId", "GENERAL")], Some(&ann))
        .await
        .refused(400, "must have required property 'url' [invalid-params]");
    server
        .get(
            "chat.getURLPreview",
            &[("roomId", "no-such-room"), ("url", &url)],
            Some(&ann),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    let secret = server
        .post("groups.create", json!({"name": "secret"}), Some(&admin))
        .await
        .ok()["group"]
        .clone();
    server
        .get(
            "chat.getURLPreview",
            &[("roomId", &id_of(&secret)), ("url", &url)],
            Some(&ann),
        )
        .await
        .refused(400, "Not allowed [error-not-allowed]");
    assert_eq!(
        server
            .get(
                "chat.getURLPreview",
                &[("roomId", "GENERAL"), ("url", &url)],
                None
            )
            .await
            .status,
        401
    );

    set(&server, &admin, "API_Embed", json!(false)).await;
    let fetched = pages.requested().len();
    let off = server
        .get(
            "chat.getURLPreview",
            &[("roomId", "GENERAL"), ("url", &url)],
            Some(&ann),
        )
        .await;
    assert_eq!(
        off.ok()["urlPreview"],
        json!({"url": url, "meta": {}, "ignoreParse": true})
    );
    assert_eq!(pages.requested().len(), fetched);
    server.stop().await;
}

#[tokio::test]
async fn private_addresses_are_refused_by_default() {
    let pages = pages().await;
    // API_EmbedIgnoredHosts empty and the port safe: only the guard stands in the way.
    let server = server_for(&pages, false).await;
    let ann = server.new_user("ann").await;
    let url = format!("{}/page", pages.base);
    let sent = post(&server, &ann, &url).await;
    let preview = server
        .get(
            "chat.getURLPreview",
            &[("roomId", "GENERAL"), ("url", &url)],
            Some(&ann),
        )
        .await;
    assert_eq!(preview.ok()["urlPreview"]["meta"], json!({}));
    // A name resolving to a private address is refused after resolution too.
    let by_name = format!("http://localhost:{}/page", pages.port);
    let named = server
        .get(
            "chat.getURLPreview",
            &[("roomId", "GENERAL"), ("url", &by_name)],
            Some(&ann),
        )
        .await;
    assert_eq!(named.ok()["urlPreview"]["meta"], json!({}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        get_message(&server, &ann, &id_of(&sent)).await["urls"][0]["meta"],
        json!({})
    );
    assert!(pages.requested().is_empty(), "{:?}", pages.requested());
    server.stop().await;
}
