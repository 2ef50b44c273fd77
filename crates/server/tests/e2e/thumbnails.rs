//! Image uploads: upstream's `files[]` / attachment fields (thumbnail, `image_preview`,
//! `image_dimensions`), thumbnails stored and downloadable as uploads of their own, EXIF
//! removed before anyone can download it, decompression bombs sent without a thumbnail,
//! thumbnails deleted with their message and room, listings without thumbnails, and
//! `rooms.images`.

use crate::common;

use base64::Engine;
use common::{Auth, Part, TestServer, post_form};
use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use serde_json::{Value, json};
use std::io::Cursor;
use std::time::{Duration, Instant};

/// An image to send: name, type, bytes, through rooms.media, upright size, thumbnail size.
type Case<'a> = (&'a str, &'a str, Vec<u8>, bool, (u32, u32), (u32, u32));

/// Sends an image through `rooms.upload` (or `rooms.media` + `rooms.mediaConfirm`) and returns
/// the message.
async fn send_image(
    server: &TestServer,
    auth: &Auth,
    rid: &str,
    name: &str,
    content_type: &str,
    bytes: &[u8],
    two_step: bool,
) -> Value {
    let file: Part<'_> = ("file", Some((name, content_type)), bytes);
    if !two_step {
        let (status, body) = post_form(server, &format!("rooms.upload/{rid}"), &[file], auth).await;
        assert_eq!(status, 200, "{body}");
        return body["message"].clone();
    }
    let (status, body) = post_form(server, &format!("rooms.media/{rid}"), &[file], auth).await;
    assert_eq!(status, 200, "{body}");
    let file_id = body["file"]["_id"].as_str().expect("file id").to_owned();
    let confirmed = server
        .post(
            &format!("rooms.mediaConfirm/{rid}/{file_id}"),
            json!({"msg": ""}),
            Some(auth),
        )
        .await;
    confirmed.ok()["message"].clone()
}

async fn download(server: &TestServer, path: &str, auth: &Auth) -> (u16, Vec<u8>) {
    let response = server
        .http
        .get(format!("{}{path}", server.base))
        .header("X-User-Id", &auth.user_id)
        .header("X-Auth-Token", &auth.token)
        .send()
        .await
        .expect("download");
    let status = response.status().as_u16();
    (status, response.bytes().await.expect("body").to_vec())
}

async fn group(server: &TestServer, owner: &Auth, name: &str) -> String {
    server
        .post("groups.create", json!({"name": name}), Some(owner))
        .await
        .ok()["group"]["_id"]
        .as_str()
        .expect("group id")
        .to_owned()
}

fn stored_files(server: &TestServer) -> Vec<String> {
    let mut names = Vec::new();
    if let Ok(entries) = std::fs::read_dir(server.data_dir().join("uploads")) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            // Avatars (the bot's, from the start) are not message uploads.
            if entry.file_type().is_ok_and(|t| t.is_file()) && !name.starts_with("avatar-") {
                names.push(name);
            }
        }
    }
    names.sort();
    names
}

fn encode(image: DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).expect("encode");
    out.into_inner()
}

fn rgba(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(width, height, |x, y| {
        Rgba([(x % 251) as u8, (y % 241) as u8, 120, 255])
    }))
}

fn rgb(width: u32, height: u32) -> DynamicImage {
    DynamicImage::ImageRgb8(RgbImage::from_fn(width, height, |x, y| {
        Rgb([(x % 251) as u8, (y % 241) as u8, 60])
    }))
}

/// A JPEG with an EXIF block: orientation 6 (turn 90° clockwise) and GPS data.
fn jpeg_with_gps(width: u32, height: u32) -> Vec<u8> {
    let plain = encode(rgb(width, height), ImageFormat::Jpeg);
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    tiff.extend_from_slice(&[0, 2]);
    tiff.extend_from_slice(&[0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, 6, 0, 0]);
    tiff.extend_from_slice(&[0x88, 0x25, 0, 4, 0, 0, 0, 1, 0, 0, 0, 38]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(&[0, 1]);
    tiff.extend_from_slice(&[0x00, 0x01, 0, 2, 0, 0, 0, 2, b'N', 0, 0, 0]);
    tiff.extend_from_slice(&[0, 0, 0, 0]);
    tiff.extend_from_slice(b"GPS-SECRET 52.5200N 13.4050E");
    let mut segment = b"Exif\0\0".to_vec();
    segment.extend_from_slice(&tiff);
    let mut out = plain[..2].to_vec();
    out.extend_from_slice(&[0xff, 0xe1]);
    out.extend_from_slice(
        &u16::try_from(segment.len() + 2)
            .expect("small")
            .to_be_bytes(),
    );
    out.extend_from_slice(&segment);
    out.extend_from_slice(&plain[2..]);
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn png_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&u32::try_from(data.len()).expect("small").to_be_bytes());
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    out.extend_from_slice(&body);
    out.extend_from_slice(&crc32(&body).to_be_bytes());
}

fn png_with(width: u32, height: u32, idat: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&height.to_be_bytes());
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]); // 8-bit greyscale
    png_chunk(&mut out, b"IHDR", &ihdr);
    png_chunk(&mut out, b"IDAT", idat);
    png_chunk(&mut out, b"IEND", &[]);
    out
}

/// A zlib stream of `n` zero bytes, about 13 bits per 258 bytes (fixed-Huffman matches).
fn zlib_zeros(n: u64) -> Vec<u8> {
    struct Bits {
        out: Vec<u8>,
        acc: u32,
        len: u32,
    }
    impl Bits {
        fn put(&mut self, value: u32, count: u32) {
            self.acc |= value << self.len;
            self.len += count;
            while self.len >= 8 {
                self.out.push((self.acc & 0xff) as u8);
                self.acc >>= 8;
                self.len -= 8;
            }
        }
        /// Huffman codes go most significant bit first.
        fn code(&mut self, code: u32, count: u32) {
            let reversed = code.reverse_bits() >> (32 - count);
            self.put(reversed, count);
        }
    }
    let mut bits = Bits {
        out: vec![0x78, 0x01],
        acc: 0,
        len: 0,
    };
    bits.put(1, 1); // final block
    bits.put(1, 2); // fixed Huffman
    bits.code(0x30, 8); // literal 0
    let mut left = n - 1;
    while left >= 258 {
        bits.code(0b1100_0101, 8); // length 258 (code 285)
        bits.code(0, 5); // distance 1
        left -= 258;
    }
    for _ in 0..left {
        bits.code(0x30, 8);
    }
    bits.code(0, 7); // end of block (256)
    if bits.len > 0 {
        bits.put(0, 8 - bits.len);
    }
    let mut out = bits.out;
    let b = u32::try_from(n % 65521).expect("small");
    out.extend_from_slice(&((b << 16) | 1).to_be_bytes());
    out
}

fn preview_size(attachment: &Value) -> (u32, u32) {
    let preview = attachment["image_preview"].as_str().expect("image_preview");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(preview)
        .expect("base64");
    let image = image::load_from_memory_with_format(&bytes, ImageFormat::Jpeg).expect("jpeg");
    (image.width(), image.height())
}

#[tokio::test]
async fn image_messages_carry_thumbnails_previews_and_upright_dimensions() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "gallery").await;

    let cases: Vec<Case<'_>> = vec![
        (
            "wide.png",
            "image/png",
            encode(rgba(960, 400), ImageFormat::Png),
            false,
            (960, 400),
            (480, 200),
        ),
        (
            "photo.jpg",
            "image/jpeg",
            jpeg_with_gps(1000, 800),
            true,
            (800, 1000),
            (288, 360),
        ),
        (
            "anim.gif",
            "image/gif",
            encode(rgba(600, 100), ImageFormat::Gif),
            false,
            (600, 100),
            (480, 80),
        ),
        (
            "pic.webp",
            "image/webp",
            encode(rgba(800, 600), ImageFormat::WebP),
            true,
            (800, 600),
            (480, 360),
        ),
    ];
    let mut originals = Vec::new();
    for (name, kind, bytes, two_step, upright, thumb_size) in &cases {
        let message = send_image(&server, &alice, &rid, name, kind, bytes, *two_step).await;
        let files = message["files"].as_array().expect("files");
        assert_eq!(files.len(), 2, "{name}: {message}");
        let (original, thumb) = (&files[0], &files[1]);
        assert_eq!(message["file"], *original);
        assert_eq!(original["typeGroup"], json!("image"));
        assert_eq!(original["type"], json!(kind));
        assert_eq!(thumb["typeGroup"], json!("thumb"), "{name}");
        assert_eq!(thumb["name"], json!(format!("thumb-{name}")));
        assert_eq!(thumb["type"], json!(kind), "thumbnails keep the format");
        let original_id = original["_id"].as_str().expect("id").to_owned();
        let thumb_id = thumb["_id"].as_str().expect("id").to_owned();

        let attachment = &message["attachments"][0];
        assert_eq!(attachment["type"], json!("file"));
        assert_eq!(attachment["title"], json!(name));
        assert_eq!(attachment["fileId"], json!(original_id));
        assert_eq!(
            attachment["title_link"],
            json!(format!("/file-upload/{original_id}/{name}"))
        );
        assert_eq!(attachment["title_link_download"], json!(true));
        assert_eq!(
            attachment["image_url"],
            json!(format!("/file-upload/{thumb_id}/{name}"))
        );
        assert_eq!(attachment["image_type"], json!(kind));
        assert_eq!(
            attachment["image_dimensions"],
            json!({"width": thumb_size.0, "height": thumb_size.1}),
            "{name}"
        );
        let (pw, ph) = preview_size(attachment);
        assert!(
            pw <= 32 && ph <= 32 && (pw == 32 || ph == 32),
            "{name}: {pw}x{ph}"
        );

        // The thumbnail downloads and is the size announced.
        let (status, bytes) =
            download(&server, &format!("/file-upload/{thumb_id}/{name}"), &alice).await;
        assert_eq!(status, 200);
        let decoded = image::load_from_memory(&bytes).expect("thumbnail decodes");
        assert_eq!((decoded.width(), decoded.height()), *thumb_size, "{name}");

        // The original keeps its upright size on its record (`identify.size`).
        let listed = server
            .get(
                "groups.files",
                &[("roomId", &rid), ("name", name)],
                Some(&alice),
            )
            .await;
        let doc = &listed.ok()["files"][0];
        assert_eq!(doc["_id"], json!(original_id));
        assert_eq!(
            doc["identify"]["size"],
            json!({"width": upright.0, "height": upright.1}),
            "{name}"
        );
        originals.push((original_id, name.to_string()));
    }

    // The JPEG's GPS block is gone from what anyone downloads; the pixels are intact and it
    // still says which way is up.
    let (jpeg_id, jpeg_name) = &originals[1];
    let (status, bytes) = download(
        &server,
        &format!("/file-upload/{jpeg_id}/{jpeg_name}"),
        &alice,
    )
    .await;
    assert_eq!(status, 200);
    assert!(!contains(&bytes, b"GPS-SECRET"));
    let plain = encode(rgb(1000, 800), ImageFormat::Jpeg);
    assert!(bytes.ends_with(&plain[2..]), "the image data is untouched");
    let decoded = image::load_from_memory(&bytes).expect("jpeg");
    assert_eq!((decoded.width(), decoded.height()), (1000, 800));

    // Listings leave thumbnails out, as upstream's findPaginatedWithoutThumbs.
    let listed = server
        .get("groups.files", &[("roomId", &rid)], Some(&alice))
        .await;
    let body = listed.ok();
    assert_eq!(body["total"], json!(4));
    assert!(
        body["files"]
            .as_array()
            .expect("files")
            .iter()
            .all(|f| f["typeGroup"] == json!("image"))
    );
    let images = server
        .get(
            "groups.files",
            &[("roomId", &rid), ("typeGroup", "image")],
            Some(&alice),
        )
        .await;
    assert_eq!(images.ok()["total"], json!(4));

    // rooms.images: newest first, no thumbnails, upstream's count and paging.
    let all = server
        .get("rooms.images", &[("roomId", &rid)], Some(&alice))
        .await;
    let body = all.ok();
    let ids: Vec<&str> = body["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["_id"].as_str())
        .collect();
    let expected: Vec<&str> = originals.iter().rev().map(|(id, _)| id.as_str()).collect();
    assert_eq!(ids, expected);
    assert_eq!(
        (body["total"].clone(), body["offset"].clone()),
        (json!(4), json!(0))
    );
    let paged = server
        .get(
            "rooms.images",
            &[("roomId", &rid), ("count", "2"), ("offset", "1")],
            Some(&alice),
        )
        .await;
    let body = paged.ok();
    assert_eq!(body["files"].as_array().map(Vec::len), Some(2));
    assert_eq!(
        (
            body["count"].clone(),
            body["offset"].clone(),
            body["total"].clone()
        ),
        (json!(2), json!(1), json!(4))
    );
    let (second, _) = &originals[1];
    let from = server
        .get(
            "rooms.images",
            &[("roomId", &rid), ("startingFromId", second)],
            Some(&alice),
        )
        .await;
    let body = from.ok();
    let ids: Vec<&str> = body["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["_id"].as_str())
        .collect();
    assert_eq!(ids, [originals[1].0.as_str(), originals[0].0.as_str()]);
    server
        .get("rooms.images", &[], Some(&alice))
        .await
        .refused(400, "must have required property 'roomId' [invalid-params]");
    let outsider = server.new_user("mallory").await;
    let refused = server
        .get("rooms.images", &[("roomId", &rid)], Some(&outsider))
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    server.stop().await;
}

#[tokio::test]
async fn small_images_have_no_thumbnail_and_settings_are_obeyed() {
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let rid = group(&server, &admin, "small").await;

    let message = send_image(
        &server,
        &admin,
        &rid,
        "dot.png",
        "image/png",
        &encode(rgba(100, 50), ImageFormat::Png),
        false,
    )
    .await;
    assert_eq!(
        message["files"].as_array().map(Vec::len),
        Some(1),
        "{message}"
    );
    let attachment = &message["attachments"][0];
    let original = message["files"][0]["_id"].as_str().expect("id");
    assert_eq!(
        attachment["image_url"],
        json!(format!("/file-upload/{original}/dot.png"))
    );
    assert_eq!(
        attachment["image_dimensions"],
        json!({"width": 100, "height": 50})
    );
    assert_eq!(preview_size(attachment), (32, 16));

    // Thumbnails off: the preview stays, no thumbnail.
    for (setting, value) in [
        ("Message_Attachments_Thumbnails_Enabled", json!(false)),
        ("Message_Attachments_Strip_Exif", json!(false)),
    ] {
        server
            .post(
                &format!("settings/{setting}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .ok();
    }
    let message = send_image(
        &server,
        &admin,
        &rid,
        "big.jpg",
        "image/jpeg",
        &jpeg_with_gps(1000, 800),
        false,
    )
    .await;
    assert_eq!(
        message["files"].as_array().map(Vec::len),
        Some(1),
        "{message}"
    );
    assert!(message["attachments"][0]["image_preview"].is_string());
    assert_eq!(
        message["attachments"][0]["image_dimensions"],
        json!({"width": 800, "height": 1000})
    );
    // Stripping off: the file is stored as sent.
    let id = message["files"][0]["_id"].as_str().expect("id");
    let (_, bytes) = download(&server, &format!("/file-upload/{id}/big.jpg"), &admin).await;
    assert_eq!(bytes, jpeg_with_gps(1000, 800));

    // A smaller box from the settings.
    for (setting, value) in [
        ("Message_Attachments_Thumbnails_Enabled", json!(true)),
        ("Message_Attachments_Thumbnails_Width", json!(50)),
        ("Message_Attachments_Thumbnails_Height", json!(50)),
    ] {
        server
            .post(
                &format!("settings/{setting}"),
                json!({"value": value}),
                Some(&admin),
            )
            .await
            .ok();
    }
    let message = send_image(
        &server,
        &admin,
        &rid,
        "again.png",
        "image/png",
        &encode(rgba(100, 50), ImageFormat::Png),
        true,
    )
    .await;
    assert_eq!(
        message["attachments"][0]["image_dimensions"],
        json!({"width": 50, "height": 25})
    );
    server.stop().await;
}

#[tokio::test]
async fn decompression_bombs_are_sent_without_a_thumbnail() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "bombs").await;

    // A few hundred bytes claiming 100000×100000 pixels.
    let claim = png_with(100_000, 100_000, &zlib_zeros(1000));
    // About 2.5 MB that inflates to 400 MB (20000×20000 greyscale of zeros).
    let inflating = png_with(20_000, 20_000, &zlib_zeros(20_000 * 20_001));
    assert!(inflating.len() < 3_000_000, "{}", inflating.len());
    for (name, bytes, two_step) in [
        ("claim.png", &claim, false),
        ("inflating.png", &inflating, true),
    ] {
        let started = Instant::now();
        let message = send_image(&server, &alice, &rid, name, "image/png", bytes, two_step).await;
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{name} took {:?}",
            started.elapsed()
        );
        assert_eq!(
            message["files"].as_array().map(Vec::len),
            Some(1),
            "{message}"
        );
        let attachment = &message["attachments"][0];
        assert!(attachment.get("image_preview").is_none(), "{name}");
        let id = message["files"][0]["_id"].as_str().expect("id");
        assert_eq!(
            attachment["image_url"],
            json!(format!("/file-upload/{id}/{name}"))
        );
    }
    // The server is fine and still makes thumbnails.
    let message = send_image(
        &server,
        &alice,
        &rid,
        "fine.png",
        "image/png",
        &encode(rgba(700, 700), ImageFormat::Png),
        false,
    )
    .await;
    assert_eq!(
        message["files"].as_array().map(Vec::len),
        Some(2),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn thumbnails_go_with_their_message_and_room() {
    let server = TestServer::start().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "fleeting").await;
    let message = send_image(
        &server,
        &alice,
        &rid,
        "a.png",
        "image/png",
        &encode(rgba(900, 900), ImageFormat::Png),
        false,
    )
    .await;
    let ids: Vec<String> = message["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|f| f["_id"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(ids.len(), 2);
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(stored_files(&server), expected);
    let message_id = message["_id"].as_str().expect("id");
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": message_id}),
            Some(&alice),
        )
        .await
        .ok();
    assert!(stored_files(&server).is_empty());
    for id in &ids {
        let (status, _) = download(&server, &format!("/file-upload/{id}/a.png"), &alice).await;
        assert_eq!(status, 404);
    }

    // Deleting the room removes originals and thumbnails alike.
    send_image(
        &server,
        &alice,
        &rid,
        "b.png",
        "image/png",
        &encode(rgba(900, 900), ImageFormat::Png),
        true,
    )
    .await;
    assert_eq!(stored_files(&server).len(), 2);
    server
        .post("groups.delete", json!({"roomId": rid}), Some(&alice))
        .await
        .ok();
    assert!(stored_files(&server).is_empty());
    server.stop().await;
}
