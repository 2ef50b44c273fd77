//! File throughput: a big file uploaded and downloaded through Comet next to `cp` of the same
//! file on the same disk, the server's peak memory while it streams (which must not grow with
//! the file), and concurrent small-image uploads per second next to uploads of the same size
//! that are not images (the difference is what reading dimensions and thumbnails cost).

use crate::{CometProcess, http_client, load, login, post_json, rss_kib_of};
use clap::Parser;
use futures_util::StreamExt as _;
use serde_json::{Value, json};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::io::AsyncWriteExt as _;

#[derive(Parser)]
pub(crate) struct FileArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Size of the big file in MB (10^6 bytes).
    #[arg(long, default_value_t = 100)]
    megabytes: u64,
    /// Concurrent clients uploading small images.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// Seconds each small-upload phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Small image width and height in pixels (above the 480×360 thumbnail box, so that
    /// every upload gets a thumbnail as well as a preview).
    #[arg(long, default_value_t = 640)]
    image_side: u32,
}

const BOUNDARY: &str = "----comet-bench-boundary-a81f33";

/// Writes `bytes` of incompressible content, a megabyte at a time.
async fn write_big_file(path: &Path, bytes: u64) -> Result<(), String> {
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| e.to_string())?;
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut chunk = vec![0u8; 1 << 20];
    let mut left = bytes;
    while left > 0 {
        for b in chunk.iter_mut() {
            // xorshift: cheap bytes no layer below can compress away.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *b = state as u8;
        }
        let n = usize::try_from(left.min(chunk.len() as u64)).unwrap_or(chunk.len());
        file.write_all(&chunk[..n])
            .await
            .map_err(|e| e.to_string())?;
        left -= n as u64;
    }
    file.sync_all().await.map_err(|e| e.to_string())
}

/// Seconds `cp` takes to copy `from` to `to`, then (second value) with the copy synced to
/// disk as Comet syncs every upload before acknowledging it.
fn cp_seconds(from: &Path, to: &Path) -> Result<(f64, f64), String> {
    let started = Instant::now();
    let status = std::process::Command::new("cp")
        .arg(from)
        .arg(to)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("cp failed".into());
    }
    let copied = started.elapsed().as_secs_f64();
    let status = std::process::Command::new("sync")
        .arg(to)
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err("sync failed".into());
    }
    Ok((copied, started.elapsed().as_secs_f64()))
}

/// Samples a process's resident memory every 10 ms until stopped; returns the peak (KiB).
fn watch_peak_rss(pid: u32) -> (Arc<AtomicBool>, tokio::task::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let task = tokio::spawn(async move {
        let mut peak = 0;
        while !flag.load(Ordering::Relaxed) {
            peak = peak.max(rss_kib_of(pid).unwrap_or(0));
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        peak
    });
    (stop, task)
}

/// Uploads `path` to `rooms.upload` as a streamed multipart body; returns the file's URL.
async fn upload_file(
    http: &reqwest::Client,
    base: &str,
    room: &str,
    auth: (&str, &str),
    path: &Path,
    name: &str,
) -> Result<String, String> {
    let head = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let tail = format!("\r\n--{BOUNDARY}--\r\n");
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| e.to_string())?;
    let body = futures_util::stream::once(async move { Ok(bytes::Bytes::from(head)) })
        .chain(tokio_util::io::ReaderStream::with_capacity(file, 64 * 1024))
        .chain(futures_util::stream::once(async move {
            Ok::<_, std::io::Error>(bytes::Bytes::from(tail))
        }));
    let response = http
        .post(format!("{base}/api/v1/rooms.upload/{room}"))
        .header("X-User-Id", auth.0)
        .header("X-Auth-Token", auth.1)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        )
        .body(reqwest::Body::wrap_stream(body))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("upload: {status}: {body}"));
    }
    body["message"]["file"]["_id"]
        .as_str()
        .map(|id| format!("/file-upload/{id}/{name}"))
        .ok_or_else(|| format!("upload answered without a file: {body}"))
}

/// Downloads `url`, discarding the bytes; returns how many arrived.
async fn download(http: &reqwest::Client, url: String, auth: (&str, &str)) -> Result<u64, String> {
    let response = http
        .get(url)
        .header("X-User-Id", auth.0)
        .header("X-Auth-Token", auth.1)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    if !response.status().is_success() {
        return Err(format!("download: {}", response.status()));
    }
    let mut stream = response.bytes_stream();
    let mut total = 0;
    while let Some(chunk) = stream.next().await {
        total += chunk.map_err(|e| e.to_string())?.len() as u64;
    }
    Ok(total)
}

/// A `side`×`side` RGB PNG of smooth gradients with noise (photo-like enough to be worth a
/// thumbnail), written with stored deflate blocks so the benchmark needs no image library.
fn small_png(side: u32) -> Vec<u8> {
    let mut raw = Vec::new();
    let mut state: u32 = 0x1234_5678;
    for y in 0..side {
        raw.push(0); // filter: none
        for x in 0..side {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            let noise = (state >> 28) as u8;
            raw.push(((x * 255) / side.max(1)) as u8 ^ noise);
            raw.push(((y * 255) / side.max(1)) as u8);
            raw.push((((x + y) * 127) / side.max(1)) as u8 ^ noise);
        }
    }
    let mut zlib = vec![0x78, 0x01];
    let blocks: Vec<&[u8]> = raw.chunks(65_535).collect();
    for (i, block) in blocks.iter().enumerate() {
        zlib.push(u8::from(i + 1 == blocks.len()));
        let len = block.len() as u16;
        zlib.extend_from_slice(&len.to_le_bytes());
        zlib.extend_from_slice(&(!len).to_le_bytes());
        zlib.extend_from_slice(block);
    }
    zlib.extend_from_slice(&adler32(&raw).to_be_bytes());

    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&side.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", &zlib), (b"IEND", &[])] {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut chunk = kind.to_vec();
        chunk.extend_from_slice(data);
        png.extend_from_slice(&chunk);
        png.extend_from_slice(&crc32(&chunk).to_be_bytes());
    }
    png
}

fn adler32(data: &[u8]) -> u32 {
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65_521;
        b = (b + a) % 65_521;
    }
    (b << 16) | a
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Concurrent uploads per second of `content` named `name`, for `seconds`.
async fn small_uploads(
    http: &reqwest::Client,
    base: &str,
    room: &str,
    auth: (&str, &str),
    args: &FileArgs,
    name: &'static str,
    content: Vec<u8>,
) -> Result<f64, String> {
    let mut body = format!(
        "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(&content);
    body.extend_from_slice(format!("\r\n--{BOUNDARY}--\r\n").as_bytes());
    let body = bytes::Bytes::from(body);
    let url = format!("{base}/api/v1/rooms.upload/{room}");
    let (uid, token) = (auth.0.to_owned(), auth.1.to_owned());
    let http = http.clone();
    load(args.clients, args.seconds, move |_| {
        let (http, url, body) = (http.clone(), url.clone(), body.clone());
        let (uid, token) = (uid.clone(), token.clone());
        async move {
            let response = http
                .post(url)
                .header("X-User-Id", uid)
                .header("X-Auth-Token", token)
                .header(
                    "Content-Type",
                    format!("multipart/form-data; boundary={BOUNDARY}"),
                )
                .body(body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if !response.status().is_success() {
                return Err(format!("small upload: {}", response.status()));
            }
            response.bytes().await.map_err(|e| e.to_string())?;
            Ok(())
        }
    })
    .await
}

pub(crate) async fn run(args: FileArgs) -> Result<(), String> {
    let dir = tempfile::tempdir_in(".").map_err(|e| e.to_string())?;
    let source = dir.path().join("big.bin");
    let bytes = args.megabytes * 1_000_000;
    write_big_file(&source, bytes).await?;
    let mb = bytes as f64 / 1e6;
    println!(
        "comet-bench files: {:.0} MB file, {} clients for small uploads",
        mb, args.clients
    );

    let (cp, cp_sync) = cp_seconds(&source, &dir.path().join("copy.bin"))?;
    println!(
        "baseline cp: {:.0} MB/s, cp + sync: {:.0} MB/s",
        mb / cp,
        mb / cp_sync
    );
    let _ = std::fs::remove_file(dir.path().join("copy.bin"));

    let data = dir.path().join("data");
    let comet = CometProcess::start_with_env(
        &args.comet,
        10,
        &data,
        &[("OVERWRITE_SETTING_FileUpload_MaxFileSize", "-1".into())],
    )
    .await?;
    let http = http_client(args.clients)?;
    let base = comet.base.clone();
    let (uid, token) = login(&http, &base, "admin").await?;
    let auth = (uid.as_str(), token.as_str());
    let room = post_json(
        &http,
        format!("{base}/api/v1/channels.create"),
        json!({"name": "bench-files"}),
        Some(auth),
    )
    .await?["channel"]["_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let idle_rss = comet.rss_kib().unwrap_or(0);

    // A small file first, so the peak of the big one can be compared with it.
    let small = dir.path().join("small.bin");
    write_big_file(&small, bytes / 10).await?;
    let (stop, peak) = watch_peak_rss(comet.pid());
    let small_url = upload_file(&http, &base, &room, auth, &small, "small.bin").await?;
    stop.store(true, Ordering::Relaxed);
    let small_peak = peak.await.map_err(|e| e.to_string())?;

    let (stop, peak) = watch_peak_rss(comet.pid());
    let started = Instant::now();
    let url = upload_file(&http, &base, &room, auth, &source, "big.bin").await?;
    let upload_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let upload_peak = peak.await.map_err(|e| e.to_string())?;
    println!(
        "comet upload: {:.0} MB/s (ratio to cp: {:.2}, to cp + sync: {:.2}); peak RSS {} KiB \
         (idle {} KiB; {} KiB while uploading a file a tenth the size)",
        mb / upload_seconds,
        cp / upload_seconds,
        cp_sync / upload_seconds,
        upload_peak,
        idle_rss,
        small_peak
    );

    let (stop, peak) = watch_peak_rss(comet.pid());
    let started = Instant::now();
    let received = download(&http, format!("{base}{url}"), auth).await?;
    let download_seconds = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    let download_peak = peak.await.map_err(|e| e.to_string())?;
    if received != bytes {
        return Err(format!("downloaded {received} bytes of {bytes}"));
    }
    download(&http, format!("{base}{small_url}"), auth).await?;
    println!(
        "comet download: {:.0} MB/s (ratio to cp: {:.2}); peak RSS {} KiB",
        mb / download_seconds,
        cp / download_seconds,
        download_peak
    );

    let image = small_png(args.image_side);
    let size = image.len();
    let mut not_image = image.clone();
    not_image[..8].copy_from_slice(b"NOTANIMG");
    let plain = small_uploads(&http, &base, &room, auth, &args, "data.bin", not_image).await?;
    println!("baseline uploads/s of a {size}-byte file that is not an image: {plain:.0}");
    let images = small_uploads(&http, &base, &room, auth, &args, "photo.png", image).await?;
    println!(
        "comet uploads/s of a {side}×{side} PNG ({size} bytes): {images:.0} (ratio to the \
         same size not an image: {:.2})",
        images / plain,
        side = args.image_side
    );
    drop(comet);
    Ok(())
}
