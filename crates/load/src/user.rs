//! One simulated user: a DDP connection and REST calls, as the web client makes them
//! (web/src/lib/stores/live.ts, timelines, uploads), acting with think times in between.

use crate::ddp::Ddp;
use crate::seed::{self, SeedSize};
use crate::stats::Recorder;
use rand::Rng;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;

/// What every simulated user shares.
pub struct World {
    pub base: String,
    pub ws_url: String,
    pub server: SocketAddr,
    pub sources: u8,
    /// One keep-alive pool per loopback source address.
    pub http: Vec<reqwest::Client>,
    pub recorder: Recorder,
    /// Stream events received by all the users.
    pub events: Arc<AtomicU64>,
    pub seed: SeedSize,
    pub think_mean: Duration,
    pub timeout: Duration,
}

/// The actions of a user between think times, with how often each is chosen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    SwitchRoom,
    ScrollBack,
    MarkRead,
    Post,
    React,
    ReplyInThread,
    Typing,
    OpenDirect,
    Search,
    Upload,
    SetStatus,
    Reconnect,
}

impl Action {
    pub const ALL: [Action; 12] = [
        Action::SwitchRoom,
        Action::ScrollBack,
        Action::MarkRead,
        Action::Post,
        Action::React,
        Action::ReplyInThread,
        Action::Typing,
        Action::OpenDirect,
        Action::Search,
        Action::Upload,
        Action::SetStatus,
        Action::Reconnect,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Action::SwitchRoom => "switch_room",
            Action::ScrollBack => "scroll_back",
            Action::MarkRead => "mark_read",
            Action::Post => "post",
            Action::React => "react",
            Action::ReplyInThread => "reply_in_thread",
            Action::Typing => "typing",
            Action::OpenDirect => "open_direct",
            Action::Search => "search",
            Action::Upload => "upload",
            Action::SetStatus => "set_status",
            Action::Reconnect => "reconnect",
        }
    }

    /// Relative frequency: reading and typing dominate, as in Mattermost's load-test-ng
    /// simulation; uploads, status changes and reconnections are rare.
    fn weight(self) -> u32 {
        match self {
            Action::SwitchRoom => 20,
            Action::ScrollBack => 8,
            Action::MarkRead => 6,
            Action::Post => 18,
            Action::React => 8,
            Action::ReplyInThread => 6,
            Action::Typing => 16,
            Action::OpenDirect => 3,
            Action::Search => 4,
            Action::Upload => 2,
            Action::SetStatus => 2,
            Action::Reconnect => 1,
        }
    }

    fn pick(rng: &mut impl Rng) -> Action {
        let total: u32 = Action::ALL.iter().map(|a| a.weight()).sum();
        let mut roll = rng.random_range(0..total);
        for action in Action::ALL {
            if roll < action.weight() {
                return action;
            }
            roll -= action.weight();
        }
        Action::SwitchRoom
    }
}

/// The name of the login action in the report (password login, streams, first screen).
pub const LOGIN: &str = "login";

const USER_STREAMS: [&str; 5] = [
    "subscriptions-changed",
    "rooms-changed",
    "message",
    "notification",
    "userData",
];
const LOGGED_STREAMS: [&str; 8] = [
    "permissions-changed",
    "roles-change",
    "updateAvatar",
    "updateEmojiCustom",
    "deleteEmojiCustom",
    "updateCustomUserStatus",
    "deleteCustomUserStatus",
    "user-status",
];

#[derive(Clone)]
struct OpenRoom {
    id: String,
    /// `c` or `d`: which family of history endpoints.
    kind: String,
}

struct User {
    world: Arc<World>,
    index: usize,
    username: String,
    http: reqwest::Client,
    ddp: Option<Ddp>,
    user_id: String,
    token: String,
    rooms: Vec<OpenRoom>,
    current: Option<OpenRoom>,
    room_subscriptions: Vec<String>,
    /// `ts` of the oldest message loaded in the open room (where scrolling back continues).
    oldest: Option<String>,
    /// Ids of messages loaded or posted in the open room (to react to, reply to).
    recent: Vec<String>,
    /// When the room list was last fetched (`updatedSince` after a reconnection).
    synced_at: String,
}

fn iso(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl User {
    fn rest_error(endpoint: &str, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            format!("{endpoint}: timeout")
        } else {
            format!("{endpoint}: connection")
        }
    }

    /// One REST request with the session's headers; its latency and outcome are recorded.
    async fn rest(
        &self,
        request: reqwest::RequestBuilder,
        endpoint: &str,
    ) -> Result<Value, String> {
        let started = Instant::now();
        let outcome = self.send(request, endpoint).await;
        self.world.recorder.request(
            started.elapsed(),
            outcome.as_ref().err().map(String::as_str),
        );
        outcome
    }

    async fn send(
        &self,
        request: reqwest::RequestBuilder,
        endpoint: &str,
    ) -> Result<Value, String> {
        let response = request
            .header("X-User-Id", &self.user_id)
            .header("X-Auth-Token", &self.token)
            .timeout(self.world.timeout)
            .send()
            .await
            .map_err(|e| Self::rest_error(endpoint, &e))?;
        let status = response.status();
        let body: Value = response
            .json()
            .await
            .map_err(|e| Self::rest_error(endpoint, &e))?;
        if !status.is_success() || body["success"] == json!(false) {
            return Err(format!("{endpoint}: HTTP {}", status.as_u16()));
        }
        Ok(body)
    }

    async fn get(&self, endpoint: &str, query: &[(&str, String)]) -> Result<Value, String> {
        let url = format!("{}/api/v1/{endpoint}", self.world.base);
        self.rest(self.http.get(url).query(query), endpoint).await
    }

    async fn post(&self, endpoint: &str, body: Value) -> Result<Value, String> {
        let url = format!("{}/api/v1/{endpoint}", self.world.base);
        self.rest(self.http.post(url).json(&body), endpoint).await
    }

    /// A DDP method call, recorded as a request.
    async fn call(&self, method: &str, params: Value) -> Result<Value, String> {
        let ddp = self.ddp.as_ref().ok_or("not connected")?;
        let started = Instant::now();
        let outcome = ddp
            .call(method, params)
            .await
            .map_err(|e| format!("{method}: {e}"));
        self.world.recorder.request(
            started.elapsed(),
            outcome.as_ref().err().map(String::as_str),
        );
        outcome
    }

    async fn subscribe(&self, stream: &str, event: &str) -> Result<String, String> {
        let ddp = self.ddp.as_ref().ok_or("not connected")?;
        let started = Instant::now();
        let outcome = ddp
            .subscribe(stream, event)
            .await
            .map_err(|e| format!("sub {stream}: {e}"));
        self.world.recorder.request(
            started.elapsed(),
            outcome.as_ref().err().map(String::as_str),
        );
        outcome
    }

    async fn open_connection(&mut self) -> Result<(), String> {
        if let Some(old) = self.ddp.take() {
            old.close().await;
        }
        let world = &self.world;
        let ddp = Ddp::open(
            &world.ws_url,
            world.server,
            self.index,
            world.sources,
            world.timeout,
            world.events.clone(),
        )
        .await
        .map_err(|e| format!("websocket: {e}"))?;
        self.ddp = Some(ddp);
        Ok(())
    }

    /// The streams the web client follows for the whole session.
    async fn follow_user_streams(&self) -> Result<(), String> {
        for event in USER_STREAMS {
            self.subscribe("stream-notify-user", &format!("{}/{event}", self.user_id))
                .await?;
        }
        for event in LOGGED_STREAMS {
            self.subscribe("stream-notify-logged", event).await?;
        }
        self.subscribe("stream-notify-all", "public-settings-changed")
            .await?;
        Ok(())
    }

    /// Password login over DDP, the user's streams, then what the first screen loads.
    async fn login(&mut self) -> Result<(), String> {
        self.open_connection().await?;
        let digest = {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(
                comet_bench::process::PASSWORD.as_bytes(),
            ))
        };
        let answer = self
            .call(
                "login",
                json!([{"user": {"username": self.username},
                    "password": {"digest": digest, "algorithm": "sha-256"}}]),
            )
            .await?;
        self.user_id = answer["id"].as_str().unwrap_or_default().to_owned();
        self.token = answer["token"].as_str().unwrap_or_default().to_owned();
        if self.token.is_empty() {
            return Err("login: no token".into());
        }
        self.follow_user_streams().await?;
        self.get("me", &[]).await?;
        self.load_room_list(None).await?;
        let mut offset = 0u64;
        loop {
            let page = self
                .get(
                    "settings.public",
                    &[("offset", offset.to_string()), ("count", "100".into())],
                )
                .await?;
            let got = page["settings"].as_array().map_or(0, Vec::len) as u64;
            offset += got;
            if got == 0 || offset >= page["total"].as_u64().unwrap_or(0) || offset >= 2_000 {
                break;
            }
        }
        self.get("permissions.listAll", &[]).await?;
        self.get("emoji-custom.list", &[]).await?;
        self.get("custom-user-status.list", &[("count", "100".into())])
            .await?;
        self.switch_room(None).await
    }

    async fn load_room_list(&mut self, since: Option<String>) -> Result<(), String> {
        let query: Vec<(&str, String)> =
            since.iter().map(|s| ("updatedSince", s.clone())).collect();
        let fetched_at = iso(comet_core::now());
        let subscriptions = self.get("subscriptions.get", &query).await?;
        self.get("rooms.get", &query).await?;
        for sub in subscriptions["update"].as_array().into_iter().flatten() {
            let id = sub["rid"].as_str().unwrap_or_default().to_owned();
            if !id.is_empty() && !self.rooms.iter().any(|r| r.id == id) {
                self.rooms.push(OpenRoom {
                    id,
                    kind: sub["t"].as_str().unwrap_or("c").to_owned(),
                });
            }
        }
        self.synced_at = fetched_at;
        Ok(())
    }

    fn history_endpoint(room: &OpenRoom) -> &'static str {
        match room.kind.as_str() {
            "d" => "im.history",
            "p" => "groups.history",
            _ => "channels.history",
        }
    }

    async fn load_history(&mut self, latest: Option<String>) -> Result<(), String> {
        let room = self.current.clone().ok_or("no room open")?;
        let mut query = vec![
            ("roomId", room.id.clone()),
            ("count", "50".to_owned()),
            ("showThreadMessages", "false".to_owned()),
        ];
        if let Some(latest) = latest {
            query.push(("latest", latest));
        }
        let body = self.get(Self::history_endpoint(&room), &query).await?;
        let messages = body["messages"].as_array().cloned().unwrap_or_default();
        if let Some(oldest) = messages.last().and_then(|m| m["ts"].as_str()) {
            self.oldest = Some(oldest.to_owned());
        }
        for message in &messages {
            if let Some(id) = message["_id"].as_str() {
                self.recent.push(id.to_owned());
            }
        }
        let keep = self.recent.len().saturating_sub(100);
        self.recent.drain(..keep);
        Ok(())
    }

    async fn follow_room(&mut self, room_id: &str) -> Result<(), String> {
        let mut subscriptions = vec![self.subscribe("stream-room-messages", room_id).await?];
        for event in ["deleteMessage", "user-activity"] {
            subscriptions.push(
                self.subscribe("stream-notify-room", &format!("{room_id}/{event}"))
                    .await?,
            );
        }
        self.room_subscriptions = subscriptions;
        Ok(())
    }

    /// Opens a room (a random other one when `to` is `None`): its streams, its last 50
    /// messages, and marks it read.
    async fn switch_room(&mut self, to: Option<OpenRoom>) -> Result<(), String> {
        let room = match to {
            Some(room) => room,
            None => {
                let choices: Vec<&OpenRoom> = self
                    .rooms
                    .iter()
                    .filter(|r| self.current.as_ref().is_none_or(|c| c.id != r.id))
                    .collect();
                if choices.is_empty() {
                    return Err("switch_room: no room".into());
                }
                let pick = rand::rng().random_range(0..choices.len());
                choices[pick].clone()
            }
        };
        if let Some(ddp) = &self.ddp {
            for id in std::mem::take(&mut self.room_subscriptions) {
                ddp.unsubscribe(&id)
                    .await
                    .map_err(|e| format!("unsub: {e}"))?;
            }
        }
        self.current = Some(room.clone());
        self.oldest = None;
        self.recent.clear();
        self.follow_room(&room.id).await?;
        self.load_history(None).await?;
        self.post("subscriptions.read", json!({"rid": room.id}))
            .await?;
        Ok(())
    }

    fn current_id(&self) -> Result<String, String> {
        self.current
            .as_ref()
            .map(|r| r.id.clone())
            .ok_or_else(|| "no room open".to_owned())
    }

    fn some_recent(&self) -> Option<String> {
        if self.recent.is_empty() {
            return None;
        }
        let pick = rand::rng().random_range(0..self.recent.len());
        Some(self.recent[pick].clone())
    }

    async fn send_message(&mut self, thread: Option<String>) -> Result<(), String> {
        let rid = self.current_id()?;
        let text = {
            let mut rng = rand::rng();
            let words = rng.random_range(3..20);
            seed::sentence(&mut rng, words)
        };
        let id = comet_core::id::new_id();
        let mut message = json!({"_id": id, "rid": rid, "msg": text});
        if let Some(tmid) = thread {
            message["tmid"] = json!(tmid);
        }
        self.post("chat.sendMessage", json!({ "message": message }))
            .await?;
        self.recent.push(id);
        Ok(())
    }

    /// After a reconnection: resume with the token, follow the same streams again, and catch
    /// up (changed rooms, what the open room missed), as live.ts's `catchUp` does.
    async fn reconnect(&mut self) -> Result<(), String> {
        self.open_connection().await?;
        self.call("login", json!([{"resume": self.token}])).await?;
        self.follow_user_streams().await?;
        if let Some(room) = self.current.clone() {
            self.follow_room(&room.id).await?;
            self.get(
                "chat.syncMessages",
                &[
                    ("roomId", room.id.clone()),
                    ("lastUpdate", self.synced_at.clone()),
                ],
            )
            .await?;
        }
        let since = self.synced_at.clone();
        self.load_room_list(Some(since)).await
    }

    async fn upload(&mut self) -> Result<(), String> {
        let rid = self.current_id()?;
        let (name, content) = {
            let mut rng = rand::rng();
            let size = rng.random_range(512..4096);
            let line = seed::sentence(&mut rng, 12);
            let content: String = line.chars().cycle().take(size).collect();
            (format!("notes-{}.txt", rng.random::<u32>()), content)
        };
        let boundary = format!("comet-load-{}", comet_core::id::new_id());
        let body = format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
             Content-Type: text/plain\r\n\r\n{content}\r\n--{boundary}--\r\n"
        );
        let url = format!("{}/api/v1/rooms.media/{rid}", self.world.base);
        let stored = self
            .rest(
                self.http
                    .post(url)
                    .header(
                        "Content-Type",
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(body),
                "rooms.media",
            )
            .await?;
        let file_id = stored["file"]["_id"]
            .as_str()
            .ok_or("rooms.media: no file id")?
            .to_owned();
        let url = format!(
            "{}/api/v1/rooms.mediaConfirm/{rid}/{file_id}",
            self.world.base
        );
        self.rest(
            self.http.post(url).json(&json!({"msg": "the notes"})),
            "rooms.mediaConfirm",
        )
        .await?;
        Ok(())
    }

    async fn act(&mut self, action: Action) -> Result<(), String> {
        match action {
            Action::SwitchRoom => self.switch_room(None).await,
            Action::ScrollBack => {
                let oldest = self.oldest.clone();
                self.load_history(oldest).await
            }
            Action::MarkRead => {
                let rid = self.current_id()?;
                self.post("subscriptions.read", json!({ "rid": rid }))
                    .await
                    .map(drop)
            }
            Action::Post => self.send_message(None).await,
            Action::React => match self.some_recent() {
                Some(message) => {
                    let emoji =
                        [":+1:", ":tada:", ":smile:", ":eyes:"][rand::rng().random_range(0..4)];
                    self.post("chat.react", json!({"messageId": message, "emoji": emoji}))
                        .await
                        .map(drop)
                }
                None => self.send_message(None).await,
            },
            Action::ReplyInThread => match self.some_recent() {
                Some(tmid) => {
                    self.get(
                        "chat.getThreadMessages",
                        &[("tmid", tmid.clone()), ("count", "100".into())],
                    )
                    .await?;
                    self.send_message(Some(tmid)).await
                }
                None => self.send_message(None).await,
            },
            Action::Typing => {
                let rid = self.current_id()?;
                self.call(
                    "stream-notify-room",
                    json!([
                        format!("{rid}/user-activity"),
                        self.username,
                        ["user-typing"],
                        {}
                    ]),
                )
                .await
                .map(drop)
            }
            Action::OpenDirect => {
                let other = {
                    let users = self.world.seed.seed_users.max(2);
                    let mut pick = rand::rng().random_range(0..users);
                    if pick == self.index {
                        pick = (pick + 1) % users;
                    }
                    seed::username(pick)
                };
                let created = self.post("im.create", json!({ "username": other })).await?;
                let id = created["room"]["_id"]
                    .as_str()
                    .or_else(|| created["room"]["rid"].as_str())
                    .ok_or("im.create: no room")?
                    .to_owned();
                let room = OpenRoom {
                    id: id.clone(),
                    kind: "d".into(),
                };
                if !self.rooms.iter().any(|r| r.id == id) {
                    self.rooms.push(room.clone());
                }
                self.switch_room(Some(room)).await
            }
            Action::Search => {
                let rid = self.current_id()?;
                let word = seed::WORDS[rand::rng().random_range(0..seed::WORDS.len())];
                self.get(
                    "chat.search",
                    &[
                        ("roomId", rid),
                        ("searchText", word.to_owned()),
                        ("count", "50".into()),
                    ],
                )
                .await
                .map(drop)
            }
            Action::Upload => self.upload().await,
            Action::SetStatus => {
                let status = ["online", "away", "busy"][rand::rng().random_range(0..3)];
                self.post("users.setStatus", json!({"status": status, "message": ""}))
                    .await
                    .map(drop)
            }
            Action::Reconnect => self.reconnect().await,
        }
    }
}

/// Exponentially distributed think time with the given mean, capped at ten means.
fn think_time(mean: Duration) -> Duration {
    let u: f64 = rand::rng().random_range(f64::EPSILON..1.0);
    mean.mul_f64((-u.ln()).min(10.0))
}

/// Runs user `index` until `stop`: logs in, then acts with think times. The first action is
/// `Action::ALL[index % 12]`, so that even a short run with a few users exercises every kind.
pub async fn run(world: Arc<World>, index: usize, stop: CancellationToken) {
    let http = world.http[index % world.http.len().max(1)].clone();
    let mut user = User {
        username: seed::username(index),
        world: world.clone(),
        index,
        http,
        ddp: None,
        user_id: String::new(),
        token: String::new(),
        rooms: Vec::new(),
        current: None,
        room_subscriptions: Vec::new(),
        oldest: None,
        recent: Vec::new(),
        synced_at: String::new(),
    };
    let mut logged_in = false;
    let mut failed_logins = 0u32;
    let mut next = Action::ALL[index % Action::ALL.len()];
    while !stop.is_cancelled() {
        if !logged_in {
            let started = Instant::now();
            let outcome = tokio::select! {
                outcome = user.login() => outcome,
                () = stop.cancelled() => break,
            };
            world.recorder.action(
                LOGIN,
                started.elapsed(),
                outcome.as_ref().err().map(String::as_str),
            );
            logged_in = outcome.is_ok();
            if !logged_in {
                // As the web client retries: 0.5 s doubling up to 30 s, with jitter, so that
                // an overloaded server is not kept overloaded by the retries themselves.
                let base = (0.5 * 2f64.powi(i32::try_from(failed_logins).unwrap_or(16))).min(30.0);
                let wait = base / 2.0 + rand::rng().random_range(0.0..=base / 2.0);
                failed_logins = failed_logins.saturating_add(1);
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_secs_f64(wait)) => continue,
                    () = stop.cancelled() => break,
                }
            }
        }
        tokio::select! {
            () = tokio::time::sleep(think_time(world.think_mean)) => {}
            () = stop.cancelled() => break,
        }
        // A connection the server closed is an error, then a reconnection.
        let action = if user.ddp.as_ref().is_some_and(Ddp::is_closed) {
            world.recorder.action(
                Action::Reconnect.name(),
                Duration::ZERO,
                Some("connection lost"),
            );
            Action::Reconnect
        } else {
            next
        };
        let started = Instant::now();
        let outcome = tokio::select! {
            outcome = user.act(action) => outcome,
            () = stop.cancelled() => break,
        };
        world.recorder.action(
            action.name(),
            started.elapsed(),
            outcome.as_ref().err().map(String::as_str),
        );
        next = Action::pick(&mut rand::rng());
    }
    if let Some(ddp) = user.ddp.take() {
        ddp.close().await;
    }
}
