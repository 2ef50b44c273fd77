//! A real Comet server on port 0 with a temporary data directory, and an HTTP client for it.
//! Every wait has a timeout.
//!
//! The database is SQLite in that directory, or with `COMET_TEST_BACKEND=postgres` a fresh
//! PostgreSQL database per server on the server named by `COMET_TEST_POSTGRES_URL` (see
//! `scripts/postgres-test-server.sh`), dropped when the test server goes.

#![allow(
    dead_code,
    reason = "each test binary uses a different part of the harness"
)]

pub mod ddp;
pub mod process;
pub mod smtp;

use comet_server::{Config, launch};
use comet_store_postgres::testing::TestDatabase;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub const ADMIN_USERNAME: &str = "admin";
pub const ADMIN_PASS: &str = "Adm1n-Test-Pass!";
pub const PASSWORD: &str = "Us3r-Test-Pass!";
/// Longest any single request may take before the test fails.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

pub struct TestServer {
    pub base: String,
    pub http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
    /// The PostgreSQL database of this server, when the run uses PostgreSQL.
    database: Option<TestDatabase>,
}

/// The environment variable choosing the backend of the test servers: `sqlite` (default) or
/// `postgres`.
pub const BACKEND_VAR: &str = "COMET_TEST_BACKEND";

/// A fresh PostgreSQL database when this run asks for PostgreSQL, `None` for SQLite.
pub async fn postgres_database() -> Option<TestDatabase> {
    match std::env::var(BACKEND_VAR).as_deref() {
        Err(_) | Ok("") | Ok("sqlite") => None,
        Ok("postgres") => {
            let server_url = std::env::var(comet_store_postgres::testing::SERVER_URL_VAR)
                .ok()
                .filter(|url| !url.is_empty())
                .unwrap_or_else(|| {
                    panic!(
                        "{BACKEND_VAR}=postgres needs {} (start a server with \
                         scripts/postgres-test-server.sh)",
                        comet_store_postgres::testing::SERVER_URL_VAR
                    )
                });
            Some(TestDatabase::create(&server_url).await)
        }
        Ok(other) => panic!("{BACKEND_VAR} must be sqlite or postgres, not {other:?}"),
    }
}

/// An HTTP response: status and JSON body (Null when the body is not JSON).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Value,
    pub headers: reqwest::header::HeaderMap,
}

impl Reply {
    pub fn ok(&self) -> &Value {
        assert_eq!(
            self.status, 200,
            "expected 200, got {}: {}",
            self.status, self.body
        );
        assert_eq!(self.body["success"], json!(true), "{}", self.body);
        &self.body
    }

    /// Asserts a refusal with this status and `error` text.
    pub fn refused(&self, status: u16, error: &str) -> &Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["success"], json!(false), "{}", self.body);
        assert_eq!(self.body["error"], json!(error), "{}", self.body);
        &self.body
    }
}

/// The abuse controls every test server but abuse.rs's starts with turned off.
pub const ABUSE_CONTROLS_OFF: [&str; 3] = [
    "Comet_Abuse_New_Account_Age_Hours",
    "Comet_Abuse_Messages_Per_User_Limit",
    "Comet_Abuse_Room_Creation_Per_Day",
];

/// Credentials of a logged-in user.
#[derive(Debug, Clone)]
pub struct Auth {
    pub user_id: String,
    pub token: String,
}

impl TestServer {
    /// Starts a server with an admin (`admin` / `ADMIN_PASS`), a cheap bcrypt cost and the rate
    /// limiter off; `configure` may change anything.
    pub async fn start_with(configure: impl FnOnce(&mut Config)) -> TestServer {
        // reqwest is built without a bundled TLS crypto provider (see the workspace Cargo.toml).
        comet_service::blobs::install_crypto_provider();
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::for_data_dir(dir.path().to_path_buf());
        let database = postgres_database().await;
        config.database_url = database.as_ref().map(|d| d.url().to_owned());
        config.admin_pass = Some(ADMIN_PASS.to_owned());
        config.admin_email = Some("admin@example.com".to_owned());
        config.bcrypt_cost = 4;
        config
            .setting_overrides
            .push(("API_Enable_Rate_Limiter".to_owned(), "false".to_owned()));
        // Test users register themselves seconds before they upload files and post links, and
        // act at machine speed: the abuse controls meant for throwaway accounts and floods are
        // tested on their own, at their defaults, in abuse.rs (which drops these).
        for id in ABUSE_CONTROLS_OFF {
            config
                .setting_overrides
                .push((id.to_owned(), "0".to_owned()));
        }
        configure(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let shutdown = async {
                let _ = rx.await;
            };
            if let Err(e) = launch(config, listener, shutdown).await {
                panic!("server failed: {e}");
            }
        });
        let server = TestServer {
            base: format!("http://{addr}"),
            http: reqwest::Client::builder()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("client"),
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
            database,
        };
        server.wait_ready().await;
        server
    }

    /// The server's data directory (database, uploaded files).
    pub fn data_dir(&self) -> &std::path::Path {
        self._dir.path()
    }

    /// The PostgreSQL database's URL when the run uses PostgreSQL (`None`: SQLite in
    /// [`TestServer::data_dir`]).
    pub fn database_url(&self) -> Option<&str> {
        self.database.as_ref().map(|d| d.url())
    }

    pub async fn start() -> TestServer {
        Self::start_with(|_| {}).await
    }

    async fn wait_ready(&self) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(r) = self
                .http
                .get(format!("{}/api/info", self.base))
                .send()
                .await
                && r.status().is_success()
            {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "server not ready in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server and waits (bounded) for it to finish.
    pub async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("server stops within 10 s")
                .expect("server task");
        }
        if let Some(database) = self.database.take() {
            database.drop_database().await;
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    async fn reply(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            body,
            headers,
        }
    }

    fn with_auth(builder: reqwest::RequestBuilder, auth: Option<&Auth>) -> reqwest::RequestBuilder {
        match auth {
            Some(a) => builder
                .header("X-User-Id", &a.user_id)
                .header("X-Auth-Token", &a.token),
            None => builder,
        }
    }

    /// `GET /api/v1/<path>` with query parameters.
    pub async fn get(&self, path: &str, query: &[(&str, &str)], auth: Option<&Auth>) -> Reply {
        let builder = self
            .http
            .get(self.url(&format!("/api/v1/{path}")))
            .query(query);
        Self::reply(
            Self::with_auth(builder, auth)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Sets a setting as `admin` (`POST /api/v1/settings/<id>`), asserting success.
    pub async fn set_setting(&self, admin: &Auth, id: &str, value: Value) {
        self.post(
            &format!("settings/{id}"),
            json!({"value": value}),
            Some(admin),
        )
        .await
        .ok();
    }

    /// `POST /api/v1/<path>` with a JSON body.
    pub async fn post(&self, path: &str, body: Value, auth: Option<&Auth>) -> Reply {
        let builder = self
            .http
            .post(self.url(&format!("/api/v1/{path}")))
            .json(&body);
        Self::reply(
            Self::with_auth(builder, auth)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// `POST /api/v1/<path>` with extra headers (e.g. `X-2fa-Code`).
    pub async fn post_with_headers(
        &self,
        path: &str,
        body: Value,
        auth: Option<&Auth>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut builder = self
            .http
            .post(self.url(&format!("/api/v1/{path}")))
            .json(&body);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        Self::reply(
            Self::with_auth(builder, auth)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// `GET` of a path outside `/api/v1`.
    pub async fn get_raw(&self, path: &str, auth: Option<&Auth>) -> Reply {
        let builder = self.http.get(self.url(path));
        Self::reply(
            Self::with_auth(builder, auth)
                .send()
                .await
                .expect("request"),
        )
        .await
    }

    /// Logs in with username and password.
    pub async fn login(&self, username: &str, password: &str) -> Auth {
        let reply = self
            .post(
                "login",
                json!({"user": username, "password": password}),
                None,
            )
            .await;
        let body = reply.ok();
        Auth {
            user_id: body["data"]["userId"].as_str().expect("userId").to_owned(),
            token: body["data"]["authToken"]
                .as_str()
                .expect("authToken")
                .to_owned(),
        }
    }

    pub async fn admin(&self) -> Auth {
        self.login(ADMIN_USERNAME, ADMIN_PASS).await
    }

    /// Registers `username` (password `PASSWORD`) and logs in.
    pub async fn new_user(&self, username: &str) -> Auth {
        self.post(
            "users.register",
            json!({
                "username": username,
                "email": format!("{username}@example.com"),
                "pass": PASSWORD,
                "name": format!("User {username}"),
            }),
            None,
        )
        .await
        .ok();
        self.login(username, PASSWORD).await
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        // Not stopped (a failed test, or one that just ends): the drop closes the server's
        // connections itself.
        if let Some(database) = self.database.take() {
            database.drop_database_blocking();
        }
    }
}

/// SHA-256 hex of a password, the form of digest logins and the password second factor.
pub fn sha256_hex(s: &str) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(s.as_bytes()))
}

/// Asserts an exact status and body.
pub fn assert_exact(reply: &Reply, status: u16, body: Value) {
    assert_eq!(reply.status, status, "{}", reply.body);
    assert_eq!(reply.body, body);
}

/// The `_id` of a room or message document.
pub fn id_of(document: &Value) -> String {
    document["_id"].as_str().expect("_id").to_owned()
}

/// The caller's subscription to a room (`subscriptions.getOne`).
pub async fn subscription(server: &TestServer, auth: &Auth, rid: &str) -> Value {
    server
        .get("subscriptions.getOne", &[("roomId", rid)], Some(auth))
        .await
        .ok()["subscription"]
        .clone()
}

/// Posts a message that must succeed and returns it. Pauses around the post so that
/// consecutive messages get distinct timestamps (history order and paging stay deterministic).
pub async fn say(server: &TestServer, auth: &Auth, rid: &str, text: &str) -> Value {
    tokio::time::sleep(Duration::from_millis(3)).await;
    let message = server
        .post(
            "chat.postMessage",
            json!({"roomId": rid, "text": text}),
            Some(auth),
        )
        .await
        .ok()["message"]
        .clone();
    tokio::time::sleep(Duration::from_millis(5)).await;
    message
}

/// One part of a multipart form: field name, optional (file name, content type), content.
pub type Part<'a> = (&'a str, Option<(&'a str, &'a str)>, &'a [u8]);

/// A `multipart/form-data` body: its content type (with the boundary) and bytes.
pub fn multipart(parts: &[Part<'_>]) -> (String, Vec<u8>) {
    let boundary = "----comet-test-boundary-7MA4YWxkTrZu0gW";
    let mut body = Vec::new();
    for (name, file, content) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        let disposition = match file {
            Some((file_name, content_type)) => format!(
                "Content-Disposition: form-data; name=\"{name}\"; filename=\"{file_name}\"\r\nContent-Type: {content_type}\r\n\r\n"
            ),
            None => format!("Content-Disposition: form-data; name=\"{name}\"\r\n\r\n"),
        };
        body.extend_from_slice(disposition.as_bytes());
        body.extend_from_slice(content);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Posts a multipart form to `/api/v1/<path>` as `auth`: the status and the JSON body (null
/// when it is not JSON).
pub async fn post_form(
    server: &TestServer,
    path: &str,
    parts: &[Part<'_>],
    auth: &Auth,
) -> (u16, Value) {
    let (content_type, body) = multipart(parts);
    let response = server
        .http
        .post(format!("{}/api/v1/{path}", server.base))
        .header("X-User-Id", &auth.user_id)
        .header("X-Auth-Token", &auth.token)
        .header("Content-Type", content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

/// `channels.create` / `groups.create` (`family`) that must succeed; returns the room id.
pub async fn create_room(
    server: &TestServer,
    auth: &Auth,
    family: &str,
    name: &str,
    members: &[&str],
) -> String {
    let key = if family == "groups" {
        "group"
    } else {
        "channel"
    };
    server
        .post(
            &format!("{family}.create"),
            json!({"name": name, "members": members}),
            Some(auth),
        )
        .await
        .ok()[key]["_id"]
        .as_str()
        .expect("room _id")
        .to_owned()
}
