//! Uploads kept in S3-compatible storage (`FileUpload_Storage_Type=AmazonS3`), against a real
//! S3 server: SeaweedFS, started here on loopback ports.
//!
//! `SEAWEEDFS_BIN` names the `weed` binary (set by `scripts/test` from `scripts/seaweedfs.sh`);
//! without it the tests are skipped outside CI. One SeaweedFS process serves every test of this
//! binary (it takes seconds to start); each test has its own bucket. SeaweedFS ignores SIGTERM,
//! so a watchdog SIGKILLs it as soon as this test process is gone.

use crate::common;

use comet_service::blobs::{BlobStore, S3BlobStore, S3Config};
use common::{Auth, TestServer};
use serde_json::{Value, json};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const ACCESS_KEY: &str = "comet-test-access";
const SECRET_KEY: &str = "comet-test-secret-0123456789";
/// SeaweedFS needs about 12 seconds to answer S3 writes; this is the most we wait.
const START_TIMEOUT: Duration = Duration::from_secs(90);
const WAIT: Duration = Duration::from_secs(15);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// The shared SeaweedFS: its S3 endpoint.
struct Weed {
    endpoint: String,
    /// Never waited for: both end when the watchdog sees this process gone.
    _process: std::process::Child,
    _watchdog: std::process::Child,
    _dir: tempfile::TempDir,
}

static WEED: OnceLock<Option<Weed>> = OnceLock::new();

fn start_weed() -> Option<Weed> {
    let binary = match std::env::var("SEAWEEDFS_BIN") {
        Ok(binary) if !binary.is_empty() => binary,
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "SEAWEEDFS_BIN is not set: run scripts/test, or export SEAWEEDFS_BIN=$(scripts/seaweedfs.sh)"
            );
            eprintln!("skipped: SEAWEEDFS_BIN is not set");
            return None;
        }
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).expect("data dir");
    let config = dir.path().join("s3.json");
    let identities = json!({"identities": [{
        "name": "comet",
        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
    }]});
    std::fs::write(&config, identities.to_string()).expect("s3 config");
    let s3_port = free_port();
    // Every listener gets a free port: the gRPC ones would default to port + 10000, and the
    // Iceberg and Lance catalogs to fixed ports, which are turned off.
    let args = vec![
        "server".to_owned(),
        format!("-dir={}", data.display()),
        "-ip=127.0.0.1".to_owned(),
        "-ip.bind=127.0.0.1".to_owned(),
        format!("-master.port={}", free_port()),
        format!("-master.port.grpc={}", free_port()),
        format!("-volume.port={}", free_port()),
        format!("-volume.port.grpc={}", free_port()),
        format!("-filer.port={}", free_port()),
        format!("-filer.port.grpc={}", free_port()),
        // Each bucket is a collection that takes several volumes at once: small volumes, and
        // room for plenty (they are not preallocated).
        "-master.volumeSizeLimitMB=64".to_owned(),
        "-volume.max=100".to_owned(),
        "-s3".to_owned(),
        format!("-s3.port={s3_port}"),
        format!("-s3.port.grpc={}", free_port()),
        "-s3.port.iceberg=0".to_owned(),
        "-s3.port.lance=0".to_owned(),
        format!("-s3.config={}", config.display()),
    ];
    let log = std::fs::File::create(dir.path().join("weed.log")).expect("log");
    let child = Command::new(&binary)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start weed");
    // The watchdog outlives this process, SIGKILLs SeaweedFS once it is gone (statics are
    // never dropped) and removes its data.
    let watchdog = Command::new("sh")
        .args([
            "-c",
            "while kill -0 \"$1\" 2>/dev/null; do sleep 1; done; kill -9 \"$2\"; sleep 1; rm -rf \"$3\"",
            "watchdog",
            &std::process::id().to_string(),
            &child.id().to_string(),
            &dir.path().display().to_string(),
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start watchdog");
    Some(Weed {
        endpoint: format!("http://127.0.0.1:{s3_port}"),
        _process: child,
        _watchdog: watchdog,
        _dir: dir,
    })
}

fn config(weed: &Weed, bucket: &str) -> S3Config {
    S3Config {
        bucket: bucket.to_owned(),
        region: "us-east-1".to_owned(),
        endpoint: url::Url::parse(&weed.endpoint).expect("endpoint"),
        access_key: ACCESS_KEY.to_owned(),
        secret_key: SECRET_KEY.to_owned(),
        force_path_style: true,
        acl: None,
    }
}

/// The uploads of a bucket, read directly with signed requests.
fn bucket(weed: &Weed, name: &str) -> S3BlobStore {
    S3BlobStore::new(
        "AmazonS3:Uploads",
        "uploads/",
        config(weed, name),
        comet_service::blobs::http_client().expect("client"),
    )
}

/// The shared SeaweedFS with a fresh bucket `name`, once it accepts writes; `None` to skip.
async fn weed_with_bucket(name: &str) -> Option<&'static Weed> {
    let weed = WEED.get_or_init(start_weed).as_ref()?;
    let store = bucket(weed, name);
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let mut probe: &[u8] = b"ready";
        let ready = match store.create_bucket().await {
            Ok(()) => store.put("probe", &mut probe, None).await.is_ok(),
            Err(_) => false,
        };
        if ready {
            store.delete("probe").await.expect("delete probe");
            return Some(weed);
        }
        assert!(Instant::now() < deadline, "SeaweedFS did not start");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Settings pointing uploads at `bucket` of `weed`.
async fn use_s3(server: &TestServer, admin: &Auth, weed: &Weed, bucket: &str) {
    for (id, value) in [
        ("FileUpload_S3_Bucket", json!(bucket)),
        ("FileUpload_S3_AWSAccessKeyId", json!(ACCESS_KEY)),
        ("FileUpload_S3_AWSSecretAccessKey", json!(SECRET_KEY)),
        ("FileUpload_S3_Region", json!("us-east-1")),
        ("FileUpload_S3_BucketURL", json!(weed.endpoint)),
        ("FileUpload_S3_ForcePathStyle", json!(true)),
        ("FileUpload_Storage_Type", json!("AmazonS3")),
    ] {
        set(server, admin, id, value).await;
    }
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

fn multipart(file_name: &str, content_type: &str, content: &[u8]) -> (String, Vec<u8>) {
    common::multipart(&[("file", Some((file_name, content_type)), content)])
}

async fn upload(
    server: &TestServer,
    path: &str,
    auth: &Auth,
    file_name: &str,
    content: &[u8],
) -> (u16, Value) {
    let (content_type, body) = multipart(file_name, "application/octet-stream", content);
    let response = server
        .http
        .post(format!("{}/api/v1/{path}", server.base))
        .header("X-User-Id", &auth.user_id)
        .header("X-Auth-Token", &auth.token)
        .header("Content-Type", content_type)
        .body(body)
        .timeout(Duration::from_secs(60))
        .send()
        .await
        .expect("upload");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// Bytes that are not text, so they are stored as `application/octet-stream`.
fn content(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed) | 0x80)
        .collect()
}

/// A client that does not follow redirects (to see the 302 itself).
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

async fn get(
    client: &reqwest::Client,
    url: &str,
    auth: &Auth,
    range: Option<&str>,
) -> reqwest::Response {
    let mut request = client
        .get(url)
        .header("X-User-Id", &auth.user_id)
        .header("X-Auth-Token", &auth.token);
    if let Some(range) = range {
        request = request.header("Range", range);
    }
    request.send().await.expect("download")
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

/// Waits until the bucket's uploads are exactly `expected` with no multipart upload pending.
async fn assert_bucket(store: &S3BlobStore, expected: &[&str]) {
    let deadline = Instant::now() + WAIT;
    let mut want: Vec<String> = expected.iter().map(|k| (*k).to_owned()).collect();
    want.sort();
    loop {
        let mut keys = store.list_keys().await.expect("list");
        keys.sort();
        let pending = store.pending_multipart_uploads().await.expect("uploads");
        if keys == want && pending == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "bucket holds {keys:?} and {pending} multipart uploads; expected {want:?} and none"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn uploads_go_to_s3_and_download_redirected_proxied_and_ranged() {
    let Some(weed) = weed_with_bucket("comet-files").await else {
        return;
    };
    let store = bucket(weed, "comet-files");
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "s3-room").await;

    // A file uploaded while storage is the filesystem.
    let local_bytes = content(3000, 1);
    let (status, body) = upload(
        &server,
        &format!("rooms.upload/{rid}"),
        &alice,
        "before.bin",
        &local_bytes,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let local_url = body["message"]["attachments"][0]["title_link"]
        .as_str()
        .expect("url")
        .to_owned();

    // The admin switches to S3 through the settings API: no restart.
    use_s3(&server, &admin, weed, "comet-files").await;
    // The secret stays hidden from users.
    let public = server.get("settings.public", &[("count", "0")], None).await;
    assert!(
        !public
            .body
            .to_string()
            .contains("FileUpload_S3_AWSSecretAccessKey"),
        "{}",
        public.body
    );
    let hidden = server
        .get(
            "settings/FileUpload_S3_AWSSecretAccessKey",
            &[],
            Some(&alice),
        )
        .await;
    assert_eq!(hidden.status, 403, "{}", hidden.body);

    // rooms.media + rooms.mediaConfirm.
    let media_bytes = content(5000, 2);
    let (status, body) = upload(
        &server,
        &format!("rooms.media/{rid}"),
        &alice,
        "media.bin",
        &media_bytes,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let media_id = body["file"]["_id"].as_str().expect("id").to_owned();
    let media_url = body["file"]["url"].as_str().expect("url").to_owned();
    server
        .post(
            &format!("rooms.mediaConfirm/{rid}/{media_id}"),
            json!({"msg": "in s3"}),
            Some(&alice),
        )
        .await
        .ok();
    let files = server
        .get("groups.files", &[("roomId", rid.as_str())], Some(&alice))
        .await;
    let listed = files.ok()["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["_id"] == json!(media_id))
        .cloned()
        .expect("listed");
    assert_eq!(listed["store"], json!("AmazonS3:Uploads"));
    let mut stored = store
        .open(&media_id, 0)
        .await
        .expect("open")
        .expect("in the bucket");
    let mut in_bucket = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut stored.body, &mut in_bucket)
        .await
        .expect("read");
    assert_eq!(in_bucket, media_bytes);

    // Not proxied (upstream's default): a 302 to a presigned URL that serves the bytes.
    let direct = no_redirects();
    let redirect = get(
        &direct,
        &format!("{}{media_url}", server.base),
        &alice,
        None,
    )
    .await;
    assert_eq!(redirect.status().as_u16(), 302);
    let location = redirect
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location")
        .to_owned();
    assert!(location.starts_with(&weed.endpoint), "{location}");
    assert!(location.contains("X-Amz-Expires=120"), "{location}");
    assert!(!location.contains(SECRET_KEY));
    let presigned = direct.get(&location).send().await.expect("presigned");
    assert_eq!(presigned.status().as_u16(), 200);
    assert_eq!(
        presigned.bytes().await.expect("bytes").to_vec(),
        media_bytes
    );
    // Outsiders get no redirect.
    let bob = server.new_user("bob").await;
    let refused = get(&direct, &format!("{}{media_url}", server.base), &bob, None).await;
    assert_eq!(refused.status().as_u16(), 403);

    // A file of several parts (multipart upload) through rooms.upload.
    let big_bytes = content(comet_service::blobs::PART_SIZE + 1_500_000, 3);
    let (status, body) = upload(
        &server,
        &format!("rooms.upload/{rid}"),
        &alice,
        "big.bin",
        &big_bytes,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let big_message = body["message"]["_id"].as_str().expect("id").to_owned();
    let big_id = body["message"]["files"][0]["_id"]
        .as_str()
        .expect("file id")
        .to_owned();
    let big_url = body["message"]["attachments"][0]["title_link"]
        .as_str()
        .expect("url")
        .to_owned();

    // Proxied: the server streams it, with the headers of local files, and ranges.
    set(&server, &admin, "FileUpload_S3_Proxy_Uploads", json!(true)).await;
    let whole = get(&direct, &format!("{}{big_url}", server.base), &alice, None).await;
    assert_eq!(whole.status().as_u16(), 200);
    let headers = whole.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert!(
        headers["content-security-policy"]
            .to_str()
            .expect("csp")
            .starts_with("sandbox")
    );
    assert!(headers.contains_key("etag"));
    assert!(
        headers["content-disposition"]
            .to_str()
            .expect("disposition")
            .starts_with("attachment; filename=\"big.bin\"")
    );
    assert_eq!(headers["content-length"], big_bytes.len().to_string());
    assert!(whole.bytes().await.expect("bytes").to_vec() == big_bytes);
    let start = comet_service::blobs::PART_SIZE - 10;
    let end = start + 99;
    let ranged = get(
        &direct,
        &format!("{}{big_url}", server.base),
        &alice,
        Some(&format!("bytes={start}-{end}")),
    )
    .await;
    assert_eq!(ranged.status().as_u16(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes {start}-{end}/{}", big_bytes.len())
    );
    assert_eq!(
        ranged.bytes().await.expect("bytes").to_vec(),
        big_bytes[start..=end].to_vec()
    );

    // The file uploaded on the filesystem still downloads after the switch.
    let old = get(
        &direct,
        &format!("{}{local_url}", server.base),
        &alice,
        None,
    )
    .await;
    assert_eq!(old.status().as_u16(), 200);
    assert_eq!(old.bytes().await.expect("bytes").to_vec(), local_bytes);

    // Deleting the message deletes the object.
    assert_bucket(&store, &[&media_id, &big_id]).await;
    server
        .post(
            "chat.delete",
            json!({"roomId": rid, "msgId": big_message}),
            Some(&alice),
        )
        .await
        .ok();
    assert_bucket(&store, &[&media_id]).await;
    let gone = get(&direct, &format!("{}{big_url}", server.base), &alice, None).await;
    assert_eq!(gone.status().as_u16(), 404);

    // Too large, in one part and in several: refused, and nothing is left in the bucket.
    set(&server, &admin, "FileUpload_MaxFileSize", json!(1000)).await;
    let (status, body) = upload(
        &server,
        &format!("rooms.upload/{rid}"),
        &alice,
        "small-but-too-big.bin",
        &content(1001, 4),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], json!("error-file-too-large"), "{body}");
    let limit = comet_service::blobs::PART_SIZE + 1_000_000;
    set(&server, &admin, "FileUpload_MaxFileSize", json!(limit)).await;
    let (status, body) = upload(
        &server,
        &format!("rooms.media/{rid}"),
        &alice,
        "huge.bin",
        &content(comet_service::blobs::PART_SIZE * 2 + 10, 5),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errorType"], json!("error-file-too-large"), "{body}");
    assert_bucket(&store, &[&media_id]).await;
    server.stop().await;
}

#[tokio::test]
async fn misconfigured_s3_gives_the_uploader_a_clear_error() {
    let Some(weed) = weed_with_bucket("comet-misconfigured").await else {
        return;
    };
    let store = bucket(weed, "comet-misconfigured");
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "s3-broken").await;
    use_s3(&server, &admin, weed, "comet-misconfigured").await;

    let refused = |body: &Value| {
        assert_eq!(body["success"], json!(false), "{body}");
        assert_eq!(
            body["error"],
            json!("File storage is not available"),
            "{body}"
        );
        assert_eq!(
            body["errorType"],
            json!("error-file-storage-unavailable"),
            "{body}"
        );
        assert!(!body.to_string().contains("wrong-secret"), "{body}");
    };
    // (A missing bucket cannot be tried here: SeaweedFS creates buckets on first write.)
    let cases: [(&str, Value); 3] = [
        ("FileUpload_S3_AWSSecretAccessKey", json!("wrong-secret")),
        ("FileUpload_S3_Bucket", json!("")),
        (
            "FileUpload_S3_BucketURL",
            json!(format!("http://127.0.0.1:{}", free_port())),
        ),
    ];
    for (id, value) in cases {
        use_s3(&server, &admin, weed, "comet-misconfigured").await;
        set(&server, &admin, id, value).await;
        let started = Instant::now();
        let (status, body) = upload(
            &server,
            &format!("rooms.upload/{rid}"),
            &alice,
            "x.bin",
            &content(2000, 6),
        )
        .await;
        assert_eq!(status, 400, "{id}: {body}");
        refused(&body);
        assert!(
            started.elapsed() < WAIT,
            "{id}: took {:?}",
            started.elapsed()
        );
    }
    // Fixed again, uploads work; nothing was left behind by the failures.
    use_s3(&server, &admin, weed, "comet-misconfigured").await;
    let (status, body) = upload(
        &server,
        &format!("rooms.upload/{rid}"),
        &alice,
        "ok.bin",
        &content(2000, 7),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let id = body["message"]["files"][0]["_id"]
        .as_str()
        .expect("file id")
        .to_owned();
    assert_bucket(&store, &[&id]).await;
    // GridFS and the other upstream types Comet lacks are refused by the setting.
    let gridfs = server
        .post(
            "settings/FileUpload_Storage_Type",
            json!({"value": "GridFS"}),
            Some(&admin),
        )
        .await;
    assert_eq!(gridfs.status, 400, "{}", gridfs.body);
    server.stop().await;
}

#[tokio::test]
async fn an_interrupted_upload_leaves_nothing_in_the_bucket() {
    use tokio::io::AsyncWriteExt;
    let Some(weed) = weed_with_bucket("comet-interrupted").await else {
        return;
    };
    let store = bucket(weed, "comet-interrupted");
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    let rid = group(&server, &alice, "s3-interrupted").await;
    use_s3(&server, &admin, weed, "comet-interrupted").await;

    // A form announcing 3 parts' worth of file, cut off after a part and a half: by then a
    // multipart upload has begun and a part is stored.
    let part = comet_service::blobs::PART_SIZE;
    let (content_type, body) =
        multipart("cut.bin", "application/octet-stream", &content(part * 3, 8));
    let sent = part + part / 2;
    let address = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address)
        .await
        .expect("connect");
    let head = format!(
        "POST /api/v1/rooms.upload/{rid} HTTP/1.1\r\nHost: {address}\r\nX-User-Id: {}\r\nX-Auth-Token: {}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
        alice.user_id,
        alice.token,
        body.len()
    );
    let write = async {
        stream.write_all(head.as_bytes()).await?;
        stream.write_all(&body[..sent]).await?;
        stream.flush().await
    };
    tokio::time::timeout(WAIT, write)
        .await
        .expect("send in time")
        .expect("send");
    // Wait until S3 holds the started multipart upload, then hang up.
    let deadline = Instant::now() + WAIT;
    while store.pending_multipart_uploads().await.expect("uploads") == 0 {
        assert!(Instant::now() < deadline, "no multipart upload was started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(stream);
    assert_bucket(&store, &[]).await;
    let files = server
        .get("groups.files", &[("roomId", rid.as_str())], Some(&alice))
        .await;
    assert_eq!(files.ok()["total"], json!(0));
    server.stop().await;
}

#[tokio::test]
async fn avatars_go_to_the_bucket_and_are_served_from_it() {
    let Some(weed) = weed_with_bucket("comet-avatars").await else {
        return;
    };
    let avatars = S3BlobStore::new(
        "AmazonS3:Avatars",
        "avatars/",
        config(weed, "comet-avatars"),
        comet_service::blobs::http_client().expect("client"),
    );
    let server = TestServer::start().await;
    let admin = server.admin().await;
    let alice = server.new_user("alice").await;
    use_s3(&server, &admin, weed, "comet-avatars").await;

    let pixels = image::RgbImage::from_fn(120, 80, |x, y| image::Rgb([x as u8, y as u8, 7]));
    let mut png = std::io::Cursor::new(Vec::new());
    pixels
        .write_to(&mut png, image::ImageFormat::Png)
        .expect("encode");
    let boundary = "----comet-s3-avatar";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"me.png\"\r\nContent-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(png.get_ref());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let response = server
        .http
        .post(format!("{}/api/v1/users.setAvatar", server.base))
        .header("X-User-Id", &alice.user_id)
        .header("X-Auth-Token", &alice.token)
        .header(
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .body(body)
        .send()
        .await
        .expect("set avatar");
    assert_eq!(response.status().as_u16(), 200);

    let keys = avatars.list_keys().await.expect("list");
    assert_eq!(keys.len(), 1, "{keys:?}");
    let served = server
        .http
        .get(format!("{}/avatar/alice", server.base))
        .send()
        .await
        .expect("avatar");
    assert_eq!(served.status().as_u16(), 200);
    let decoded = image::load_from_memory(&served.bytes().await.expect("bytes")).expect("png");
    assert_eq!((decoded.width(), decoded.height()), (200, 200));

    // Resetting removes it from the bucket.
    server
        .post(
            "users.resetAvatar",
            json!({"username": "alice"}),
            Some(&alice),
        )
        .await
        .ok();
    assert_bucket(&avatars, &[]).await;
    server.stop().await;
}
