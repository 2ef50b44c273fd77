//! Fetches of URLs users choose (avatar URLs, link previews) never reach non-public addresses,
//! even when the server's environment names an HTTP proxy: through a proxy the address check
//! would never see the address. The server runs as its own process so that only it has the
//! proxy variables.

use crate::common;

use common::{ADMIN_PASS, PASSWORD};
use serde_json::{Value, json};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const WAIT: Duration = Duration::from_secs(30);

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A forward proxy that answers every request with a small PNG and counts the connections.
async fn fake_proxy() -> (u16, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            counted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                let mut request = [0u8; 4096];
                let _ = socket.read(&mut request).await;
                let mut png = std::io::Cursor::new(Vec::new());
                let pixels = image::RgbImage::from_pixel(4, 4, image::Rgb([200, 10, 10]));
                if pixels.write_to(&mut png, image::ImageFormat::Png).is_err() {
                    return;
                }
                let body = png.into_inner();
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = socket.write_all(head.as_bytes()).await;
                let _ = socket.write_all(&body).await;
            });
        }
    });
    (port, hits)
}

struct Server {
    child: Child,
    base: String,
    _data: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn server_behind_proxy(proxy: &str) -> Server {
    let data = tempfile::tempdir().expect("data dir");
    let port = free_port();
    let mut command = Command::new(env!("CARGO_BIN_EXE_comet"));
    command
        .env("PORT", port.to_string())
        .env("BIND_IP", "127.0.0.1")
        .env("COMET_DATA_DIR", data.path())
        .env("ADMIN_PASS", ADMIN_PASS)
        .env("ADMIN_EMAIL", "admin@example.com")
        .env("COMET_BCRYPT_COST", "4")
        .env("COMET_LOG", "warn")
        .env("OVERWRITE_SETTING_API_Enable_Rate_Limiter", "false")
        .env("OVERWRITE_SETTING_Accounts_RegistrationForm", "Public")
        .env_remove("NO_PROXY")
        .env_remove("no_proxy")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for variable in [
        "HTTP_PROXY",
        "http_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "ALL_PROXY",
        "all_proxy",
    ] {
        command.env(variable, proxy);
    }
    let child = command.spawn().expect("start comet");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _data: data,
    };
    let http = client();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Ok(r) = http.get(format!("{}/ready", server.base)).send().await
            && r.status().is_success()
        {
            return server;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "server not ready in time"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn client() -> reqwest::Client {
    comet_service::blobs::install_crypto_provider();
    reqwest::Client::builder()
        .no_proxy()
        .timeout(WAIT)
        .build()
        .expect("client")
}

async fn post(http: &reqwest::Client, url: String, auth: &[(&str, String)], body: Value) -> Value {
    let mut request = http.post(url).json(&body);
    for (name, value) in auth {
        request = request.header(*name, value);
    }
    request
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json")
}

#[tokio::test]
async fn a_proxy_in_the_environment_does_not_open_private_addresses() {
    let (proxy_port, hits) = fake_proxy().await;
    let server = server_behind_proxy(&format!("http://127.0.0.1:{proxy_port}")).await;
    let http = client();
    let api = |path: &str| format!("{}/api/v1/{path}", server.base);
    post(
        &http,
        api("users.register"),
        &[],
        json!({"username": "ann", "email": "ann@example.com", "pass": PASSWORD, "name": "Ann"}),
    )
    .await;
    let login = post(
        &http,
        api("login"),
        &[],
        json!({"user": "ann", "password": PASSWORD}),
    )
    .await;
    let auth = [
        (
            "X-User-Id",
            login["data"]["userId"].as_str().expect("id").to_owned(),
        ),
        (
            "X-Auth-Token",
            login["data"]["authToken"]
                .as_str()
                .expect("token")
                .to_owned(),
        ),
    ];
    // A name that resolves to loopback: only the resolver could refuse it, and a proxy
    // resolves names itself.
    let unused = free_port();
    for url in [
        format!("http://localhost:{unused}/a.png"),
        format!("http://localhost.:{unused}/a.png"),
    ] {
        let reply = post(
            &http,
            api("users.setAvatar"),
            &auth,
            json!({"avatarUrl": url}),
        )
        .await;
        assert_eq!(reply["success"], json!(false), "{url}: {reply}");
        assert_eq!(
            reply["errorType"],
            json!("error-avatar-invalid-url"),
            "{url}: {reply}"
        );
    }
    assert_eq!(hits.load(Ordering::SeqCst), 0, "the proxy was used");
}
