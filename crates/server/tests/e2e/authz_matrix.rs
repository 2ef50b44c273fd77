//! The authorization matrix: every REST route (from `comet_api_rest::route_list`) and every DDP
//! method (from `comet_methods::method_names`) is sent, with a canonical request, as each of
//! eight roles, and must answer as `authz/matrix.toml` beside this file says. A route or method
//! without an entry fails, and so does an entry naming a route or method that no longer exists.
//!
//! The roles: `anonymous` (no credentials), `user` (the `user` role, a member of no fixture
//! room), `member`, `moderator` and `owner` of the fixture rooms, `admin` (the `admin` role, a
//! member of no fixture room), `bot` (only the `bot` role, a member of the fixture rooms) and
//! `deactivated` (a member of the rooms whose token, and whose live DDP connection, were made
//! before it was deactivated).
//!
//! Requests that change something run against fresh fixtures (see `Fixture`), so that every
//! role meets the same state and no check depends on another's order.

use crate::common;

use common::{Auth, PASSWORD, TestServer, sha256_hex};
use futures_util::{SinkExt, StreamExt, stream};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

const ROLES: [&str; 8] = [
    "anonymous",
    "user",
    "member",
    "moderator",
    "owner",
    "admin",
    "bot",
    "deactivated",
];

/// How many checks run at once.
const CONCURRENCY: usize = 8;

/// Longest wait for one answer, REST or DDP. Generous: `addAll` adds every user of the server
/// (hundreds here), one subscription at a time.
const WAIT: Duration = Duration::from_secs(60);

/// Error codes that refuse a permission (REST `errorType` or DDP `error`).
const FORBIDDING_CODES: &[&str] = &[
    "error-not-allowed",
    "error-action-not-allowed",
    "error-unauthorized",
    "unauthorized",
    "not-authorized",
    "error-not-authorized",
    "error-permission-denied",
];

/// Error codes that refuse the room: it cannot be seen, or the caller is not in it.
const ROOM_DENIAL_CODES: &[&str] = &[
    "error-room-not-found",
    "error-invalid-room",
    "error-user-not-in-room",
    "error-not-in-room",
];

/// What an answer means for authorization.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    /// 2xx (3xx for downloads), or a DDP result.
    Ok,
    /// REST 401 "You must be logged in to do this."; DDP `error-invalid-user`, or the
    /// connection closed by the server.
    Unauthorized,
    /// A permission refusal: REST 403, another 401, or a `FORBIDDING_CODES` error.
    Forbidden,
    /// A room refusal: REST 404 or a `ROOM_DENIAL_CODES` error.
    Denied,
    /// Any other refusal (invalid input, a state that does not allow it).
    Failed,
    /// A server error (5xx, DDP `internal-error`): never expected.
    Broken,
}

impl Class {
    /// The matrix's word for the class.
    fn word(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::Unauthorized => "unauthorized",
            Class::Forbidden => "forbidden",
            Class::Denied => "denied",
            Class::Failed => "failed",
            Class::Broken => "a server error",
        }
    }
}

/// What the matrix may expect: a class, or a set of classes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Expected {
    Is(Class),
    /// Forbidden, denied or failed: the outcome depends on the input, but it is never a grant.
    Refused,
    /// Anything but a server error.
    Any,
}

impl Expected {
    fn parse(word: &str) -> Option<Expected> {
        Some(match word {
            "ok" => Expected::Is(Class::Ok),
            "unauthorized" => Expected::Is(Class::Unauthorized),
            "forbidden" => Expected::Is(Class::Forbidden),
            "denied" => Expected::Is(Class::Denied),
            "failed" => Expected::Is(Class::Failed),
            "refused" => Expected::Refused,
            "any" => Expected::Any,
            _ => return None,
        })
    }

    fn word(self) -> &'static str {
        match self {
            Expected::Is(class) => class.word(),
            Expected::Refused => "refused",
            Expected::Any => "any",
        }
    }

    fn admits(self, class: Class) -> bool {
        match self {
            Expected::Is(expected) => expected == class,
            Expected::Refused => matches!(class, Class::Forbidden | Class::Denied | Class::Failed),
            Expected::Any => class != Class::Broken,
        }
    }
}

const OUTCOME_WORDS: [&str; 7] = [
    "ok",
    "unauthorized",
    "forbidden",
    "denied",
    "failed",
    "refused",
    "any",
];

fn classify_code(code: &str) -> Class {
    if FORBIDDING_CODES.contains(&code) {
        Class::Forbidden
    } else if ROOM_DENIAL_CODES.contains(&code) {
        Class::Denied
    } else {
        Class::Failed
    }
}

fn classify_rest(status: u16, body: &Value) -> Class {
    match status {
        200..=399 => Class::Ok,
        401 if body["error"] == json!("You must be logged in to do this.") => Class::Unauthorized,
        401 | 403 => Class::Forbidden,
        404 => Class::Denied,
        // Upstream's bare `failure(error.message)` of a plain `Error('error-not-allowed')`
        // carries the code as its whole text.
        400..=499 => body["errorType"]
            .as_str()
            .or_else(|| body["error"].as_str())
            .map_or(Class::Failed, classify_code),
        _ => Class::Broken,
    }
}

/// The close code of a session the server ended because its login did: a logout, or the
/// user deactivated or deleted.
const LOGGED_OUT: u16 = 4001;

/// The class of a DDP answer: `Some(result)`, or `None` when the connection closed first with
/// `closed_with` (no code when it just ended).
fn classify_ddp(answer: Option<&Value>, closed_with: Option<u16>) -> Class {
    let Some(answer) = answer else {
        // Only a logged-out session's close counts: a heartbeat timeout (4000) would hide
        // whether the server refused the call.
        return if closed_with == Some(LOGGED_OUT) {
            Class::Unauthorized
        } else {
            Class::Failed
        };
    };
    match answer.get("error") {
        None => Class::Ok,
        Some(error) => match error["error"].as_str() {
            Some("error-invalid-user") => Class::Unauthorized,
            Some("internal-error") | Some("500") => Class::Broken,
            Some(code) => classify_code(code),
            // Numeric codes: `Meteor.Error(403, 'Access to Method Forbidden')` and kin.
            None => match error["error"].as_i64() {
                Some(401 | 403) => Class::Forbidden,
                Some(404) => Class::Denied,
                Some(500..=599) => Class::Broken,
                _ => Class::Failed,
            },
        },
    }
}

/// Which fixtures a check runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fixture {
    /// The shared rooms and people (requests that change nothing that other checks read).
    Shared,
    /// Fresh rooms (and other objects) for this role's request; the shared people.
    Rooms,
    /// Fresh people and rooms: for requests that end the caller's own session or account.
    World,
}

/// One entry of the matrix.
#[derive(Debug)]
struct Entry {
    /// `GET /api/v1/channels.info`, `ddp sendMessage`; a variant adds ` #name`.
    key: String,
    expected: BTreeMap<&'static str, Expected>,
    fixture: Fixture,
    request: Value,
}

/// What the entry's key names: a REST route or a DDP method.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Target {
    Rest { method: String, path: String },
    Ddp { method: String },
}

impl Entry {
    fn target(&self) -> Target {
        let base = self.key.split(" #").next().unwrap_or(&self.key);
        match base.split_once(' ') {
            Some(("ddp", method)) => Target::Ddp {
                method: method.to_owned(),
            },
            Some((method, path)) => Target::Rest {
                method: method.to_owned(),
                path: path.to_owned(),
            },
            None => Target::Rest {
                method: String::new(),
                path: base.to_owned(),
            },
        }
    }
}

/// Reads the matrix, reporting every malformed entry.
fn load_matrix() -> (Vec<Entry>, Vec<String>) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/authz/matrix.toml");
    let text = std::fs::read_to_string(path).expect("the matrix file is readable");
    let document: toml::Table = match text.parse() {
        Ok(document) => document,
        Err(error) => {
            let span = error.span().unwrap_or_default();
            let line = text[..span.start.min(text.len())].lines().count();
            panic!(
                "the matrix is not valid TOML at line {line}: {}",
                error.message()
            );
        }
    };
    let mut entries = Vec::new();
    let mut problems = Vec::new();
    for (section, prefix) in [("rest", ""), ("ddp", "ddp ")] {
        let Some(table) = document.get(section).and_then(toml::Value::as_table) else {
            problems.push(format!("the matrix has no [{section}] table"));
            continue;
        };
        for (name, value) in table {
            let key = format!("{prefix}{name}");
            match parse_entry(&key, value, section == "ddp") {
                Ok(entry) => entries.push(entry),
                Err(problem) => problems.push(format!("{key}: {problem}")),
            }
        }
    }
    for name in document.keys() {
        if name != "rest" && name != "ddp" {
            problems.push(format!("unknown top-level table [{name}]"));
        }
    }
    (entries, problems)
}

fn parse_entry(key: &str, value: &toml::Value, ddp: bool) -> Result<Entry, String> {
    let table = value.as_table().ok_or("not a table")?;
    let mut expected = BTreeMap::new();
    let mut rest_word = None;
    let mut request = serde_json::Map::new();
    let mut fixture = None;
    for (field, value) in table {
        if let Some(outcome) = OUTCOME_WORDS.iter().find(|w| **w == field) {
            let outcome = Expected::parse(outcome).ok_or("unknown outcome")?;
            match value {
                toml::Value::String(star) if star == "*" => {
                    if rest_word.replace(outcome).is_some() {
                        return Err("two outcomes claim \"*\"".into());
                    }
                }
                toml::Value::Array(roles) => {
                    for role in roles {
                        let role = role.as_str().ok_or("a role is not a string")?;
                        let role = ROLES
                            .iter()
                            .find(|r| **r == role)
                            .ok_or_else(|| format!("unknown role {role:?}"))?;
                        if expected.insert(*role, outcome).is_some() {
                            return Err(format!("role {role} is given twice"));
                        }
                    }
                }
                _ => return Err(format!("`{field}` must be a list of roles or \"*\"")),
            }
            continue;
        }
        match field.as_str() {
            "fixture" => {
                fixture = Some(match value.as_str() {
                    Some("shared") => Fixture::Shared,
                    Some("rooms") => Fixture::Rooms,
                    Some("world") => Fixture::World,
                    _ => return Err("fixture must be shared, rooms or world".into()),
                });
            }
            "note" => {}
            "path" | "query" | "body" | "params" | "upload" | "headers" => {
                let json = serde_json::to_value(value).map_err(|e| e.to_string())?;
                request.insert(field.clone(), json);
            }
            other => return Err(format!("unknown field `{other}`")),
        }
    }
    for role in ROLES {
        if !expected.contains_key(role) {
            let outcome = rest_word.ok_or_else(|| format!("no outcome for role {role}"))?;
            expected.insert(role, outcome);
        }
    }
    let writes = ddp || !key.starts_with("GET ");
    let fixture = fixture.unwrap_or(if writes {
        Fixture::Rooms
    } else {
        Fixture::Shared
    });
    Ok(Entry {
        key: key.to_owned(),
        expected,
        fixture,
        request: Value::Object(request),
    })
}

/// A user of the fixtures.
#[derive(Debug, Clone)]
struct Person {
    id: String,
    username: String,
    /// For `deactivated`, the token issued before the deactivation.
    auth: Auth,
}

/// The seven users behind the logged-in roles.
struct People {
    by_role: HashMap<&'static str, Person>,
    /// Live DDP connections of `deactivated`, logged in before the deactivation; each check
    /// takes one.
    deactivated_connections: Mutex<Vec<Ddp>>,
}

impl People {
    fn person(&self, role: &str) -> &Person {
        self.by_role
            .get(role)
            .expect("every logged-in role has a person")
    }
}

static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// A name no other fixture uses.
fn unique(prefix: &str) -> String {
    format!("{prefix}{}", UNIQUE.fetch_add(1, Ordering::Relaxed))
}

/// A 1×1 PNG, for avatar uploads.
static ONE_PIXEL_PNG: std::sync::LazyLock<Vec<u8>> = std::sync::LazyLock::new(|| {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(
            "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==",
        )
        .expect("a valid PNG in base64")
});

static NO_REDIRECTS: std::sync::OnceLock<reqwest::Client> = std::sync::OnceLock::new();

/// Sends a REST request: `GET` with a query, `POST` with a JSON body (or a multipart upload).
async fn send_rest(
    server: &TestServer,
    method: &str,
    path: &str,
    request: &Value,
    auth: Option<&Auth>,
) -> (u16, Value) {
    let url = format!("{}{}", server.base, path);
    // Redirects (avatars, files in S3) are answers in themselves: not followed.
    let client = NO_REDIRECTS.get_or_init(|| {
        reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(WAIT)
            .build()
            .expect("an HTTP client")
    });
    let mut builder = match method {
        "GET" => client.get(url),
        "POST" => client.post(url),
        "DELETE" => client.delete(url),
        other => panic!("no requests of method {other}"),
    };
    if let Some(query) = request.get("query").and_then(Value::as_object) {
        let pairs: Vec<(String, String)> = query
            .iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.as_str().map_or_else(|| v.to_string(), str::to_owned),
                )
            })
            .collect();
        builder = builder.query(&pairs);
    }
    if let Some(headers) = request.get("headers").and_then(Value::as_object) {
        for (name, value) in headers {
            builder = builder.header(name, value.as_str().unwrap_or_default());
        }
    }
    if method == "POST" {
        if let Some(upload) = request.get("upload").and_then(Value::as_object) {
            let mut parts: Vec<common::Part<'_>> = Vec::new();
            let mut owned = Vec::new();
            for (name, value) in upload {
                owned.push((name.clone(), value.as_str().unwrap_or_default().to_owned()));
            }
            for (name, value) in &owned {
                if name == "file" {
                    parts.push(("file", Some(("authz.txt", "text/plain")), value.as_bytes()));
                } else if name == "image" || name == "emoji" {
                    parts.push((
                        name.as_str(),
                        Some(("avatar.png", "image/png")),
                        &ONE_PIXEL_PNG[..],
                    ));
                } else {
                    parts.push((name, None, value.as_bytes()));
                }
            }
            let (content_type, body) = common::multipart(&parts);
            builder = builder.header("Content-Type", content_type).body(body);
        } else {
            builder = builder.json(request.get("body").unwrap_or(&json!({})));
        }
    }
    if let Some(auth) = auth {
        builder = builder
            .header("X-User-Id", &auth.user_id)
            .header("X-Auth-Token", &auth.token);
    }
    let response = builder.send().await.expect("the request is answered");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// A bare DDP connection that reports a closed socket instead of panicking.
struct Ddp {
    socket: common::ddp::Socket,
    next_id: u64,
    /// The last message sent, for a failure to say what went unanswered.
    last_sent: String,
    /// The code of the server's close frame, once it closed the connection.
    closed_with: Option<u16>,
}

impl Ddp {
    async fn connect(server: &TestServer) -> Ddp {
        let url = format!("{}/websocket", server.base.replace("http://", "ws://"));
        let (socket, _) = tokio::time::timeout(WAIT, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect in time")
            .expect("connect");
        let mut ddp = Ddp {
            socket,
            next_id: 0,
            last_sent: String::new(),
            closed_with: None,
        };
        ddp.send(json!({"msg": "connect", "version": "1", "support": ["1"]}))
            .await;
        ddp.until(|m| m["msg"] == "connected")
            .await
            .expect("the server answers connect");
        ddp
    }

    async fn send(&mut self, message: Value) -> bool {
        if message["msg"] != "pong" {
            self.last_sent = message.to_string();
        }
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .is_ok()
    }

    /// The next frame matching `want`, or `None` when the server closes the connection.
    async fn until(&mut self, want: impl Fn(&Value) -> bool) -> Option<Value> {
        loop {
            let Ok(frame) = tokio::time::timeout(WAIT, self.socket.next()).await else {
                panic!(
                    "no DDP frame in {WAIT:?} (waiting after: {})",
                    self.last_sent
                );
            };
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(Message::Close(frame))) => {
                    self.closed_with = frame.map(|f| u16::from(f.code));
                    return None;
                }
                Some(Err(_)) | None => return None,
                Some(Ok(_)) => continue,
            };
            let value: Value = serde_json::from_str(&text).expect("json");
            if value["msg"] == "ping" {
                self.send(json!({"msg": "pong"})).await;
                continue;
            }
            if want(&value) {
                return Some(value);
            }
        }
    }

    /// Calls a method: the `result` frame, or `None` when the connection closed first.
    async fn call(&mut self, method: &str, params: Value) -> Option<Value> {
        self.next_id += 1;
        let id = self.next_id.to_string();
        if !self
            .send(json!({"msg": "method", "id": id, "method": method, "params": params}))
            .await
        {
            return None;
        }
        self.until(|m| m["msg"] == "result" && m["id"] == json!(id))
            .await
    }

    async fn resume(&mut self, token: &str) {
        let reply = self
            .call("login", json!([{"resume": token}]))
            .await
            .expect("the connection stays open");
        assert!(reply.get("error").is_none(), "resume login: {reply}");
    }
}

/// Creates a user with these roles as the bootstrap admin and logs it in.
async fn create_person(server: &TestServer, root: &Auth, prefix: &str, roles: &[&str]) -> Person {
    let username = unique(prefix);
    let created = server
        .post(
            "users.create",
            json!({"username": username, "email": format!("{username}@example.com"),
                   "name": username, "password": PASSWORD, "roles": roles,
                   "verified": true, "joinDefaultChannels": false}),
            Some(root),
        )
        .await;
    let id = created.ok()["user"]["_id"]
        .as_str()
        .expect("user id")
        .to_owned();
    let auth = server.login(&username, PASSWORD).await;
    Person { id, username, auth }
}

/// The people of a world (`roles` of them), the rooms `needs` asks for, and `deactivated`
/// (when among them) deactivated after it joined the rooms and opened `ddp_connections` live
/// DDP connections.
async fn build_people(
    server: &TestServer,
    root: &Auth,
    roles: &[&'static str],
    needs: &Needs,
    ddp_connections: usize,
) -> (People, HashMap<String, String>) {
    let mut by_role = HashMap::new();
    for role in roles.iter().copied() {
        let global_roles: &[&str] = match role {
            "anonymous" => continue,
            "admin" => &["admin"],
            "bot" => &["bot"],
            _ => &["user"],
        };
        let person = create_person(server, root, &format!("az-{role}-"), global_roles).await;
        by_role.insert(role, person);
    }
    let people = People {
        by_role,
        deactivated_connections: Mutex::new(Vec::new()),
    };
    let deactivated = people.by_role.get("deactivated").cloned();
    // Rooms take `deactivated` in while it can still join.
    let values = build_rooms(server, &people, needs, deactivated.is_some()).await;
    if let Some(deactivated) = deactivated {
        let mut connections = Vec::new();
        for _ in 0..ddp_connections {
            let mut ddp = Ddp::connect(server).await;
            ddp.resume(&deactivated.auth.token).await;
            connections.push(ddp);
        }
        *people.deactivated_connections.lock().await = connections;
        server
            .post(
                "users.setActiveStatus",
                json!({"userId": deactivated.id, "activeStatus": false}),
                Some(root),
            )
            .await
            .ok();
    }
    (people, values)
}

/// The people a fresh world needs for one role's request: the caller, and those its rooms
/// are made of. Fewer users keep operations over every user (`addAll`) quick.
fn world_roles(caller: &'static str, needs: &Needs) -> Vec<&'static str> {
    let mut roles = vec![caller];
    let rooms = needs.public || needs.thread || needs.private || needs.file || needs.archived;
    if rooms {
        roles.extend(["owner", "moderator", "member", "bot"]);
    } else if needs.dm {
        roles.extend(["owner", "member"]);
    }
    roles.sort_unstable();
    roles.dedup();
    roles
}

/// Which fixtures a request's placeholders need.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Needs {
    public: bool,
    thread: bool,
    private: bool,
    dm: bool,
    file: bool,
    archived: bool,
    target: bool,
    role: bool,
}

fn all_room_needs() -> Needs {
    Needs {
        public: true,
        thread: true,
        private: true,
        dm: true,
        file: true,
        archived: false,
        target: false,
        role: false,
    }
}

/// The placeholders (`$name`) a string mentions.
fn placeholders(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find('$') {
        let after = &rest[start + 1..];
        let end = after
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        if end > 0 {
            found.push(after[..end].to_owned());
        }
        rest = &after[end..];
    }
    found
}

fn needs_of(request: &Value) -> Needs {
    let text = request.to_string();
    let mut needs = Needs::default();
    for name in placeholders(&text) {
        match name.split('_').next().unwrap_or_default() {
            "public" => needs.public = true,
            "thread" => needs.thread = true,
            "private" => needs.private = true,
            "dm" => needs.dm = true,
            "file" => needs.file = true,
            "archived" => needs.archived = true,
            "target" => needs.target = true,
            "role" => needs.role = true,
            _ => {}
        }
    }
    needs
}

/// Builds the rooms (and other objects) `needs` asks for; the placeholder values.
async fn build_rooms(
    server: &TestServer,
    people: &People,
    needs: &Needs,
    with_deactivated: bool,
) -> HashMap<String, String> {
    let mut values = HashMap::new();
    let rooms_wanted =
        needs.public || needs.thread || needs.private || needs.file || needs.archived;
    if !rooms_wanted && !needs.dm {
        return values;
    }
    let owner = &people.person("owner").auth;
    let member = &people.person("member").auth;
    let mut members = Vec::new();
    let mut moderator_id = String::new();
    if rooms_wanted {
        members = vec![
            people.person("moderator").username.clone(),
            people.person("member").username.clone(),
            people.person("bot").username.clone(),
        ];
        if with_deactivated {
            members.push(people.person("deactivated").username.clone());
        }
        moderator_id = people.person("moderator").id.clone();
    }
    for (kind, family, wanted) in [
        (
            "public",
            "channels",
            needs.public || needs.thread || needs.file,
        ),
        ("private", "groups", needs.private),
        ("archived", "channels", needs.archived),
        ("archived_private", "groups", needs.archived),
    ] {
        if !wanted {
            continue;
        }
        let name = unique(&format!("az-{kind}-"));
        let created = server
            .post(
                &format!("{family}.create"),
                json!({"name": name, "members": members}),
                Some(owner),
            )
            .await;
        let key = if family == "channels" {
            "channel"
        } else {
            "group"
        };
        let rid = created.ok()[key]["_id"]
            .as_str()
            .expect("room id")
            .to_owned();
        server
            .post(
                &format!("{family}.addModerator"),
                json!({"roomId": rid, "userId": moderator_id}),
                Some(owner),
            )
            .await
            .ok();
        let message = server
            .post(
                "chat.postMessage",
                json!({"roomId": rid, "text": "a message from the member"}),
                Some(member),
            )
            .await;
        let msg = message.ok()["message"]["_id"]
            .as_str()
            .expect("message id")
            .to_owned();
        if kind.starts_with("archived") {
            server
                .post(
                    &format!("{family}.archive"),
                    json!({"roomId": rid}),
                    Some(owner),
                )
                .await
                .ok();
        }
        values.insert(format!("{kind}_msg"), msg);
        values.insert(kind.to_owned(), rid);
        values.insert(format!("{kind}_name"), name);
    }
    if needs.thread {
        let rid = values["public"].clone();
        let root = server
            .post(
                "chat.postMessage",
                json!({"roomId": rid, "text": "a thread by the member"}),
                Some(member),
            )
            .await;
        let tmid = root.ok()["message"]["_id"]
            .as_str()
            .expect("message id")
            .to_owned();
        server
            .post(
                "chat.postMessage",
                json!({"roomId": rid, "text": "a reply by the owner", "tmid": tmid}),
                Some(owner),
            )
            .await
            .ok();
        values.insert("thread".into(), tmid);
    }
    if needs.file {
        let rid = values["public"].clone();
        let (status, body) = common::post_form(
            server,
            &format!("rooms.upload/{rid}"),
            &[("file", Some(("note.txt", "text/plain")), b"a file")],
            member,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let file = &body["message"]["file"];
        values.insert(
            "file_id".into(),
            file["_id"].as_str().expect("file id").into(),
        );
        values.insert(
            "file_name".into(),
            file["name"].as_str().expect("file name").into(),
        );
    }
    if needs.dm {
        let created = server
            .post(
                "im.create",
                json!({"username": people.person("member").username}),
                Some(owner),
            )
            .await;
        let rid = created.ok()["room"]["_id"]
            .as_str()
            .expect("dm id")
            .to_owned();
        values.insert("dm".into(), rid);
    }
    values
}

/// Objects a request targets that are made for it alone: a user, a custom role.
async fn build_targets(
    server: &TestServer,
    root: &Auth,
    needs: &Needs,
    values: &mut HashMap<String, String>,
) {
    if needs.target {
        let target = create_person(server, root, "az-target-", &["user"]).await;
        values.insert("target_id".into(), target.id);
        values.insert("target_username".into(), target.username);
    }
    if needs.role {
        let name = unique("az-role-");
        let created = server
            .post(
                "roles.create",
                json!({"name": name, "scope": "Users"}),
                Some(root),
            )
            .await;
        let id = created.ok()["role"]["_id"]
            .as_str()
            .expect("role id")
            .to_owned();
        values.insert("role".into(), id);
        values.insert("role_name".into(), name);
    }
}

/// Replaces every `$name` in the strings of `value`.
fn substitute(value: &Value, values: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        // TOML has no null.
        Value::String(text) if text == "$null" => Value::Null,
        Value::String(text) => {
            let mut out = text.clone();
            let mut names = placeholders(text);
            // Longest first, so that `$public_msg` is not read as `$public` + `_msg`.
            names.sort_by_key(|n| std::cmp::Reverse(n.len()));
            for name in names {
                let replacement = values
                    .get(&name)
                    .ok_or_else(|| format!("unknown placeholder ${name}"))?;
                out = out.replace(&format!("${name}"), replacement);
            }
            Value::String(out)
        }
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|item| substitute(item, values))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((k.clone(), substitute(v, values)?)))
                .collect::<Result<_, String>>()?,
        ),
        other => other.clone(),
    })
}

/// The placeholders for the people and for the caller.
fn people_values(people: &People, role: &str, values: &mut HashMap<String, String>) {
    for (name, person) in &people.by_role {
        values.insert(format!("{name}_id"), person.id.clone());
        values.insert(format!("{name}_username"), person.username.clone());
    }
    let (me_id, me_username) = match people.by_role.get(role) {
        Some(person) => (person.id.clone(), person.username.clone()),
        None => ("nobody-at-all-id".to_owned(), "nobody-at-all".to_owned()),
    };
    values.insert("me_id".into(), me_id);
    values.insert("me_username".into(), me_username);
    values.insert("password".into(), PASSWORD.to_owned());
    values.insert("password_digest".into(), sha256_hex(PASSWORD));
    values.insert("unique".into(), unique("az-"));
}

struct Shared {
    people: People,
    rooms: HashMap<String, String>,
}

/// An answer cut to a length that keeps a failure's list readable.
fn shortened(text: String) -> String {
    const SHOWN: usize = 240;
    match text.char_indices().nth(SHOWN) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text,
    }
}

/// Runs one entry as one role: the class of the answer and a short description of it.
async fn check(
    server: &TestServer,
    root: &Auth,
    shared: &Shared,
    entry: &Entry,
    role: &'static str,
) -> Result<(Class, String), String> {
    let needs = needs_of(&entry.request);
    let world;
    let (people, mut values) = match entry.fixture {
        Fixture::Shared => (&shared.people, shared.rooms.clone()),
        Fixture::Rooms => (
            &shared.people,
            build_rooms(server, &shared.people, &needs, false).await,
        ),
        Fixture::World => {
            let ddp = usize::from(matches!(entry.target(), Target::Ddp { .. }));
            let roles = world_roles(role, &needs);
            world = build_people(server, root, &roles, &needs, ddp).await;
            (&world.0, world.1)
        }
    };
    build_targets(server, root, &needs, &mut values).await;
    people_values(people, role, &mut values);
    let request = substitute(&entry.request, &values)?;
    match entry.target() {
        Target::Rest { method, path } => {
            let path = match request.get("path").and_then(Value::as_str) {
                Some(concrete) => concrete.to_owned(),
                None if path.contains('{') => {
                    return Err(format!("the route {path} needs a concrete `path`"));
                }
                None => path,
            };
            let auth = people.by_role.get(role).map(|p| &p.auth);
            let (status, body) = send_rest(server, &method, &path, &request, auth).await;
            let class = classify_rest(status, &body);
            Ok((class, shortened(format!("{status} {body}"))))
        }
        Target::Ddp { method } => {
            let params = request.get("params").cloned().unwrap_or_else(|| json!([]));
            let mut ddp = match role {
                "anonymous" => Ddp::connect(server).await,
                "deactivated" => {
                    let taken = people.deactivated_connections.lock().await.pop();
                    taken.ok_or("no DDP connection of deactivated is left")?
                }
                _ => {
                    let mut ddp = Ddp::connect(server).await;
                    ddp.resume(&people.person(role).auth.token).await;
                    ddp
                }
            };
            let answer = ddp.call(&method, params).await;
            let class = classify_ddp(answer.as_ref(), ddp.closed_with);
            let shown = answer.map_or_else(
                || format!("connection closed ({:?})", ddp.closed_with),
                |a| a.get("error").unwrap_or(&a["result"]).to_string(),
            );
            Ok((class, shortened(shown)))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_and_method_answers_each_role_as_the_matrix_says() {
    let (entries, mut problems) = load_matrix();

    // Completeness: every route and method has an entry, and every entry names one.
    let routes: BTreeSet<Target> = comet_api_rest::route_list()
        .into_iter()
        .map(|(method, path)| Target::Rest {
            method: method.as_str().to_owned(),
            path,
        })
        .collect();
    let methods: BTreeSet<Target> = comet_methods::method_names()
        .into_iter()
        .map(|method| Target::Ddp {
            method: method.to_owned(),
        })
        .collect();
    let known: BTreeSet<Target> = routes.union(&methods).cloned().collect();
    let covered: BTreeSet<Target> = entries
        .iter()
        .filter(|e| !e.key.contains(" #"))
        .map(Entry::target)
        .collect();
    for missing in known.difference(&covered) {
        problems.push(format!("no matrix entry for {missing:?}"));
    }
    for entry in &entries {
        if !known.contains(&entry.target()) {
            problems.push(format!("{}: no such route or method", entry.key));
        }
    }

    let server = TestServer::start().await;
    let root = server.admin().await;
    let shared_ddp = entries
        .iter()
        .filter(|e| e.fixture != Fixture::World && matches!(e.target(), Target::Ddp { .. }))
        .count();
    let (people, rooms) = build_people(&server, &root, &ROLES, &all_room_needs(), shared_ddp).await;
    let shared = Shared { people, rooms };

    let checks = entries
        .iter()
        .filter(|e| known.contains(&e.target()))
        .flat_map(|entry| ROLES.iter().map(move |role| (entry, *role)));
    let outcomes: Vec<_> = stream::iter(checks)
        .map(|(entry, role)| {
            let (server, root, shared) = (&server, &root, &shared);
            async move { (entry, role, check(server, root, shared, entry, role).await) }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;

    let mut mismatches = Vec::new();
    for (entry, role, outcome) in outcomes {
        match outcome {
            Err(problem) => problems.push(format!("{} as {role}: {problem}", entry.key)),
            Ok((class, shown)) => {
                let expected = entry.expected[role];
                if !expected.admits(class) {
                    mismatches.push(format!(
                        "{} as {role}: expected {}, got {}: {shown}",
                        entry.key,
                        expected.word(),
                        class.word()
                    ));
                }
            }
        }
    }
    mismatches.sort();
    problems.sort();
    server.stop().await;
    let checked = entries.len();
    assert!(
        mismatches.is_empty() && problems.is_empty(),
        "{} mismatches and {} problems in {checked} entries:\n{}\n{}",
        mismatches.len(),
        problems.len(),
        mismatches.join("\n"),
        problems.join("\n")
    );
}
