//! Writes the seed inputs of every fuzz target into `fuzz/corpus/<target>/`: real DDP frames,
//! REST parameters, Rocket.Chat messages with markup, upload forms, and small images with
//! EXIF/XMP/text metadata made here. Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml --example seed_corpus`.

use image::codecs::gif::GifEncoder;
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::PngEncoder;
use image::codecs::webp::WebPEncoder;
use image::{DynamicImage, Rgba, RgbaImage};
use std::path::Path;

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new("fuzz/corpus").join(target);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    std::fs::write(dir.join(format!("seed-{name}")), bytes).expect("write a seed");
}

fn picture() -> DynamicImage {
    DynamicImage::ImageRgba8(RgbaImage::from_fn(8, 6, |x, y| {
        Rgba([(x * 30) as u8, (y * 40) as u8, 90, 255])
    }))
}

fn encoded(encode: impl FnOnce(&DynamicImage, &mut Vec<u8>)) -> Vec<u8> {
    let mut out = Vec::new();
    encode(&picture(), &mut out);
    out
}

fn jpeg() -> Vec<u8> {
    encoded(|img, out| {
        DynamicImage::ImageRgb8(img.to_rgb8())
            .write_with_encoder(JpegEncoder::new_with_quality(out, 80))
            .expect("encode JPEG");
    })
}

fn png() -> Vec<u8> {
    encoded(|img, out| {
        img.write_with_encoder(PngEncoder::new(out))
            .expect("encode PNG")
    })
}

fn gif() -> Vec<u8> {
    encoded(|img, out| {
        img.write_with_encoder(GifEncoder::new(out))
            .expect("encode GIF")
    })
}

fn webp() -> Vec<u8> {
    encoded(|img, out| {
        img.write_with_encoder(WebPEncoder::new_lossless(out))
            .expect("encode WebP")
    })
}

/// A JPEG segment: marker and payload with its length.
fn segment(marker: u8, payload: &[u8]) -> Vec<u8> {
    let length = u16::try_from(payload.len() + 2).expect("a segment fits");
    let mut s = vec![0xff, marker];
    s.extend_from_slice(&length.to_be_bytes());
    s.extend_from_slice(payload);
    s
}

/// EXIF as a camera writes it: IFD0 with the orientation, a make and a GPS IFD with a position.
fn exif(orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\0\x2a\0\0\0\x08".to_vec();
    // IFD0: 3 entries, then the next-IFD offset.
    tiff.extend_from_slice(&3u16.to_be_bytes());
    let entry = |tag: u16, kind: u16, count: u32, value: u32| {
        let mut e = tag.to_be_bytes().to_vec();
        e.extend_from_slice(&kind.to_be_bytes());
        e.extend_from_slice(&count.to_be_bytes());
        e.extend_from_slice(&value.to_be_bytes());
        e
    };
    let ifd0_end = 8 + 2 + 3 * 12 + 4;
    let make_at = ifd0_end;
    let gps_at = make_at + 8;
    tiff.extend(entry(0x0112, 3, 1, u32::from(orientation) << 16));
    tiff.extend(entry(0x010f, 2, 8, make_at));
    tiff.extend(entry(0x8825, 4, 1, gps_at));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    tiff.extend_from_slice(b"Camera\0\0");
    // GPS IFD: latitude reference and latitude (three rationals).
    let rationals_at = gps_at + 2 + 2 * 12 + 4;
    tiff.extend_from_slice(&2u16.to_be_bytes());
    tiff.extend(entry(0x0001, 2, 2, u32::from_be_bytes(*b"N\0\0\0")));
    tiff.extend(entry(0x0002, 5, 3, rationals_at));
    tiff.extend_from_slice(&0u32.to_be_bytes());
    for (n, d) in [(48u32, 1u32), (51, 1), (2400, 100)] {
        tiff.extend_from_slice(&n.to_be_bytes());
        tiff.extend_from_slice(&d.to_be_bytes());
    }
    let mut payload = b"Exif\0\0".to_vec();
    payload.extend(tiff);
    segment(0xe1, &payload)
}

/// A JPEG with `segments` after its start-of-image marker.
fn jpeg_with(segments: &[Vec<u8>]) -> Vec<u8> {
    let plain = jpeg();
    let mut out = plain[..2].to_vec();
    for s in segments {
        out.extend_from_slice(s);
    }
    out.extend_from_slice(&plain[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
    let mut c = u32::try_from(data.len())
        .expect("a chunk fits")
        .to_be_bytes()
        .to_vec();
    let mut body = kind.to_vec();
    body.extend_from_slice(data);
    c.extend_from_slice(&body);
    c.extend_from_slice(&crc32(&body).to_be_bytes());
    c
}

/// A PNG with `chunks` after its header chunk.
fn png_with(chunks: &[Vec<u8>]) -> Vec<u8> {
    let plain = png();
    let after_ihdr = 8 + 8 + 13 + 4;
    let mut out = plain[..after_ihdr].to_vec();
    for c in chunks {
        out.extend_from_slice(c);
    }
    out.extend_from_slice(&plain[after_ihdr..]);
    out
}

fn prefixed(prefix: &[u8], rest: &[u8]) -> Vec<u8> {
    let mut out = prefix.to_vec();
    out.extend_from_slice(rest);
    out
}

fn ddp() {
    let frames: &[(&str, &str)] = &[
        (
            "connect",
            r#"{"msg":"connect","version":"1","support":["1","pre2","pre1"]}"#,
        ),
        ("ping", r#"{"msg":"ping","id":"7"}"#),
        (
            "login-resume",
            r#"{"msg":"method","method":"login","id":"1","params":[{"resume":"6cd2a0d2b1a5a6d1b8c4f0e3d2c1b0a9f8e7d6c5b4a"}]}"#,
        ),
        (
            "login-password",
            r#"{"msg":"method","method":"login","id":"2","params":[{"user":{"username":"alice"},"password":{"digest":"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8","algorithm":"sha-256"}}]}"#,
        ),
        (
            "send-message",
            r#"{"msg":"method","method":"sendMessage","id":"3","params":[{"_id":"Xy7pQmRt2LkZs9aBc","rid":"GENERAL","msg":"hello **world** @bob #general","tmid":"","tshow":false}]}"#,
        ),
        (
            "load-history",
            r#"{"msg":"method","method":"loadHistory","id":"4","params":["GENERAL",{"$date":1714564800007},50,{"$date":1714564700000}]}"#,
        ),
        (
            "sync-messages",
            r#"{"msg":"method","method":"chat.syncMessages","id":"5","params":[{"roomId":"GENERAL","lastUpdate":"2024-05-01T12:00:00.007Z"}]}"#,
        ),
        (
            "sub-room-messages",
            r#"{"msg":"sub","id":"s1","name":"stream-room-messages","params":["GENERAL",{"useCollection":false,"args":[]}]}"#,
        ),
        ("unsub", r#"{"msg":"unsub","id":"s1"}"#),
        (
            "changed-with-dates",
            r#"{"msg":"changed","collection":"stream-room-messages","id":"id","fields":{"eventName":"GENERAL","args":[{"_id":"m1","rid":"GENERAL","msg":"hi","ts":"2024-05-01T12:00:00.007Z","_updatedAt":"2024-05-01T12:00:01.000Z","u":{"_id":"u1","username":"alice"},"editedAt":"not a date"}]}}"#,
        ),
        (
            "array-wrapped",
            r#"[{"msg":"ping"},{"msg":"pong","id":"9"}]"#,
        ),
        (
            "sockjs",
            r#"["{\"msg\":\"connect\",\"version\":\"1\",\"support\":[\"1\"]}","{\"msg\":\"ping\"}"]"#,
        ),
    ];
    for (name, frame) in frames {
        write("ddp_frame", name, frame.as_bytes());
    }
}

fn rest() {
    // The first byte picks the source: 0 query string, 1 form body, 2 JSON body; 0x80 allows
    // unbounded pages.
    let inputs: &[(&str, u8, &str)] = &[
        (
            "query-users-list",
            0,
            "count=10&offset=5&sort=%7B%22username%22%3A1%7D&fields=%7B%22name%22%3A1%7D&userIds[]=u1&userIds[]=u2",
        ),
        (
            "query-history",
            0,
            "roomId=GENERAL&latest=2024-05-01T12%3A00%3A00.000Z&oldest=1714564800000&inclusive=true&count=0",
        ),
        (
            "query-infinite",
            0x80,
            "count=0&offset=+12&usernames=alice,+bob,,carol.",
        ),
        (
            "form-body",
            1,
            "roomName=general&text=hi+there&type=users&sort=%7B%22ts%22%3A-1%7D&unreads=false",
        ),
        (
            "json-messages-query",
            2,
            r#"{"roomId":"GENERAL","count":"20","offset":0,"sort":"{\"ts\":-1}","query":"{\"pinned\":true,\"mentions._id\":{\"$in\":[\"u1\"]},\"u._id\":\"u2\"}"}"#,
        ),
        (
            "json-user-refs",
            2,
            r#"{"userId":"u1","username":"alice","usernames":"[\"bob\",\"carol\"]","userIds":["u3"],"latest":"2024-05-01","oldest":"2024-05-01T12:00"}"#,
        ),
    ];
    for (name, selector, text) in inputs {
        write(
            "rest_params",
            name,
            &prefixed(&[*selector], text.as_bytes()),
        );
    }
}

fn markup() {
    let messages: &[(&str, &str)] = &[
        (
            "inline",
            "**bold** _italic_ ~strike~ `code` @alice #general https://rocket.chat :smile: :) <3",
        ),
        (
            "code-block",
            "```js\nconst answer = 42;\nconsole.log(`${answer}`);\n```",
        ),
        (
            "blocks",
            "> a quote\n> more\n- item\n- [x] done\n- [ ] todo\n1. one\n2. two\n\n# Heading\n## Sub",
        ),
        (
            "extras",
            "color:#ff0000 \\[x^2\\] \\(y\\) $$a+b$$ $c$ <t:1630360800:R> <t:1630360800>",
        ),
        (
            "links",
            "[docs](https://docs.rocket.chat/) ![cat](https://example.com/cat.png) <https://a.b/c|label> www.rocket.chat mail@example.com intranet.corp/x",
        ),
        (
            "mentions",
            "@all @here thanks @bob.smith. and (@carol) see #random, ping @alice",
        ),
        (
            "nested",
            "**_~nested~ emphasis_** *star* __under__ ~~double~~",
        ),
        ("emoji", "😀🎉👍🏽"),
        (
            "quote-link",
            "[ ](https://chat.example.com/channel/general?msg=Xy7pQmRt2LkZs9aBc) look",
        ),
    ];
    for (name, text) in messages {
        write("markup", name, &prefixed(&[0x0b], text.as_bytes()));
    }
    write(
        "markup",
        "katex-dollar",
        &prefixed(&[0x1f], b"$$\\frac{a}{b}$$ $x$ intranet.corp"),
    );
}

fn multipart() {
    let boundary = "----CometFormBoundary7MA4YWxkTrZu0gW";
    let part = |headers: &str, body: &[u8]| {
        let mut p = format!("--{boundary}\r\n{headers}\r\n\r\n").into_bytes();
        p.extend_from_slice(body);
        p.extend_from_slice(b"\r\n");
        p
    };
    let end = format!("--{boundary}--\r\n").into_bytes();
    let file = part(
        "Content-Disposition: form-data; name=\"file\"; filename=\"photo.jpg\"\r\nContent-Type: image/jpeg",
        &jpeg()[..64],
    );
    let msg = part(
        "Content-Disposition: form-data; name=\"msg\"",
        "hello @bob".as_bytes(),
    );
    let description = part(
        "Content-Disposition: form-data; name=\"description\"",
        b"a photo",
    );
    let custom = part(
        "Content-Disposition: form-data; name=\"customFields\"",
        br#"{"ticket":"T-1"}"#,
    );
    let tmid = part(
        "Content-Disposition: form-data; name=\"tmid\"",
        b"Xy7pQmRt2LkZs9aBc",
    );
    let empty_name = part(
        "Content-Disposition: form-data; name=\"note\"; filename=\"\"",
        b"not a file",
    );
    let second = part(
        "Content-Disposition: form-data; name=\"file\"; filename=\"b.txt\"\r\nContent-Type: text/plain",
        b"second file",
    );
    let forms: Vec<(&str, Vec<Vec<u8>>)> = vec![
        (
            "upload",
            vec![
                file.clone(),
                msg.clone(),
                description,
                custom,
                tmid,
                end.clone(),
            ],
        ),
        ("fields-only", vec![msg.clone(), empty_name, end.clone()]),
        ("two-files", vec![file.clone(), second, end.clone()]),
        ("truncated", vec![msg, file[..40].to_vec()]),
    ];
    for (name, parts) in forms {
        let mut input = vec![0x07];
        input.extend_from_slice(boundary.as_bytes());
        input.push(b'\n');
        for p in parts {
            input.extend(p);
        }
        write("multipart_upload", name, &input);
    }
}

fn images() {
    let xmp = segment(
        0xe1,
        b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta xmlns:x='adobe:ns:meta/'><rdf:RDF/></x:xmpmeta>",
    );
    let comment = segment(0xfe, b"made by a camera");
    let iptc = segment(0xed, b"Photoshop 3.0\08BIM\x04\x04\0\0\0\0\0\x00");
    let camera = jpeg_with(&[exif(6), xmp, comment, iptc]);
    let metadata_png = png_with(&[
        chunk(b"tEXt", b"Comment\0hello"),
        chunk(b"eXIf", &exif(3)[10..]),
        chunk(b"tIME", &[0x07, 0xe8, 5, 1, 12, 0, 0]),
    ]);
    for (name, bytes) in [
        ("png", png()),
        ("jpeg", jpeg()),
        ("gif", gif()),
        ("webp", webp()),
        ("jpeg-exif", camera.clone()),
        ("png-text", metadata_png.clone()),
    ] {
        write("image_headers", name, &bytes);
    }
    // Flags: 1 PNG, 2 strip, 4 keep orientation; then the chunking byte.
    write(
        "exif_filter",
        "jpeg-strip-keep",
        &prefixed(&[0x06, 0x35], &camera),
    );
    write(
        "exif_filter",
        "jpeg-strip",
        &prefixed(&[0x02, 0x12], &camera),
    );
    write(
        "exif_filter",
        "jpeg-observe",
        &prefixed(&[0x00, 0x01], &camera),
    );
    write(
        "exif_filter",
        "jpeg-plain",
        &prefixed(&[0x06, 0x80], &jpeg()),
    );
    write(
        "exif_filter",
        "png-strip",
        &prefixed(&[0x03, 0x47], &metadata_png),
    );
    write(
        "exif_filter",
        "png-observe",
        &prefixed(&[0x01, 0x03], &metadata_png),
    );
}

fn main() {
    ddp();
    rest();
    markup();
    multipart();
    images();
}
