//! Crash tests: the real `comet` binary is killed with SIGKILL while clients post, then started
//! again on the same database. After each restart every acknowledged message is there exactly
//! once, every message whose fate its client never learned is there completely or not at all,
//! and the counters agree with the messages: each room's `msgs`, `lm` and last message, its
//! thread root's reply count, last reply and repliers, and every member's `unread`,
//! `userMentions` and `alert`. Acknowledged reactions survive too.
//!
//! The backend follows `COMET_TEST_BACKEND` as in every end-to-end test. The cluster variant
//! runs two instances on one database and a real NATS server (`NATS_SERVER_BIN`) and kills one.
//! `COMET_CRASH_CYCLES` (default 3) sets the number of kill/restart cycles per test, for long
//! runs (see BENCHMARKS.md, "Reliability"); `COMET_CRASH_SEED` replays a run's random choices
//! (each test prints its seed; the interleaving of requests still varies).

use crate::common;

use comet_store_postgres::testing::TestDatabase;
use common::ADMIN_PASS;
use common::ddp::Ddp;
use common::process::{Comet, CometSetup, Nats};
use futures_util::StreamExt;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message as Frame;

/// Rooms the posters write into.
const ROOMS: usize = 3;
/// Concurrent posters, each a user of their own.
const POSTERS: usize = 4;
const READER: &str = "reader";
const EMOJI: &str = ":+1:";
/// Every message the posters write starts with this, then a key unique in the run.
const KEY_PREFIX: &str = "crash-";
/// Longest any single request may take; one that takes longer has an unknown outcome.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// Longest a phase may take: posters winding down, a listener catching up.
const WAIT: Duration = Duration::from_secs(30);

/// Kill/restart cycles per test: `COMET_CRASH_CYCLES`, 3 by default.
fn cycles() -> u32 {
    match std::env::var("COMET_CRASH_CYCLES") {
        Ok(value) if !value.is_empty() => {
            value.parse().ok().filter(|n| *n > 0).unwrap_or_else(|| {
                panic!("COMET_CRASH_CYCLES must be a positive number, not {value:?}")
            })
        }
        _ => 3,
    }
}

/// The seed of the run's random choices: `COMET_CRASH_SEED`, or a fresh one.
fn seed() -> u64 {
    match std::env::var("COMET_CRASH_SEED") {
        Ok(value) if !value.is_empty() => value
            .parse()
            .unwrap_or_else(|_| panic!("COMET_CRASH_SEED must be a number, not {value:?}")),
        _ => rand::random(),
    }
}

/// Settings of every process: each message a member has not read counts as unread (not only
/// mentions), so the unread counters account for every message; history comes in big pages.
fn settings() -> Vec<(String, String)> {
    [
        ("Unread_Count", "all_messages"),
        ("API_Upper_Count_Limit", "1000"),
    ]
    .into_iter()
    .map(|(id, value)| (format!("OVERWRITE_SETTING_{id}"), value.to_owned()))
    .collect()
}

/// The PostgreSQL database of a run on PostgreSQL, dropped however the test ends (after the
/// processes using it, which are declared later and so dropped first).
struct Database(Option<TestDatabase>);

impl Database {
    async fn for_this_run() -> Database {
        Database(common::postgres_database().await)
    }

    fn url(&self) -> Option<String> {
        self.0.as_ref().map(|database| database.url().to_owned())
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Some(database) = self.0.take() {
            database.drop_database_blocking();
        }
    }
}

#[derive(Debug, Clone)]
struct Account {
    username: String,
    id: String,
    token: String,
}

/// How a request ended: the server's answer, or none (connection cut, timeout).
#[derive(Debug)]
enum Answer {
    Replied(u16, Value),
    NoAnswer(String),
}

#[derive(Clone)]
struct Api {
    http: reqwest::Client,
}

impl Api {
    fn new() -> Api {
        comet_service::blobs::install_crypto_provider();
        Api {
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(REQUEST_TIMEOUT)
                .build()
                .expect("client"),
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        base: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        auth: Option<&Account>,
    ) -> Answer {
        let mut request = self
            .http
            .request(method, format!("{base}/api/v1/{path}"))
            .query(query);
        if let Some(account) = auth {
            request = request
                .header("X-User-Id", &account.id)
                .header("X-Auth-Token", &account.token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(e) => return Answer::NoAnswer(e.to_string()),
        };
        let status = response.status().as_u16();
        match response.text().await {
            Ok(text) => Answer::Replied(status, serde_json::from_str(&text).unwrap_or(Value::Null)),
            Err(e) => Answer::NoAnswer(e.to_string()),
        }
    }

    /// A request that must succeed (setup and checks, with the server up).
    async fn ok(
        &self,
        method: reqwest::Method,
        base: &str,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&Value>,
        auth: Option<&Account>,
    ) -> Value {
        match self.request(method, base, path, query, body, auth).await {
            Answer::Replied(200, body) if body["success"] == true => body,
            Answer::Replied(status, body) => panic!("{path} refused: {status} {body}"),
            Answer::NoAnswer(error) => panic!("{path}: no answer: {error}"),
        }
    }

    async fn get(&self, base: &str, path: &str, query: &[(&str, &str)], auth: &Account) -> Value {
        self.ok(reqwest::Method::GET, base, path, query, None, Some(auth))
            .await
    }

    async fn post(&self, base: &str, path: &str, body: Value, auth: Option<&Account>) -> Value {
        self.ok(reqwest::Method::POST, base, path, &[], Some(&body), auth)
            .await
    }

    async fn login(&self, base: &str, username: &str, password: &str) -> Account {
        let body = self
            .post(
                base,
                "login",
                json!({"user": username, "password": password}),
                None,
            )
            .await;
        Account {
            username: username.to_owned(),
            id: text(&body["data"]["userId"]).to_owned(),
            token: text(&body["data"]["authToken"]).to_owned(),
        }
    }
}

/// A string field that must be there.
fn text(value: &Value) -> &str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value}"))
}

struct Room {
    id: String,
    /// A message by the admin that the posters' thread replies answer.
    root: String,
}

/// The users and rooms of a run, made before the first kill.
struct Chat {
    admin: Account,
    posters: Vec<Account>,
    reader: Account,
    rooms: Vec<Room>,
}

impl Chat {
    async fn set_up(api: &Api, base: &str) -> Chat {
        let admin = api.login(base, "admin", ADMIN_PASS).await;
        let names: Vec<String> = (0..POSTERS)
            .map(|i| format!("poster{i}"))
            .chain([READER.to_owned()])
            .collect();
        let mut accounts = Vec::new();
        for name in &names {
            api.post(
                base,
                "users.create",
                json!({"username": name, "email": format!("{name}@example.com"),
                       "password": common::PASSWORD, "name": name, "verified": true}),
                Some(&admin),
            )
            .await;
            accounts.push(api.login(base, name, common::PASSWORD).await);
        }
        let reader = accounts.pop().expect("the reader");
        let mut rooms = Vec::new();
        for r in 0..ROOMS {
            let created = api
                .post(
                    base,
                    "channels.create",
                    json!({"name": format!("load-{r}"), "members": names}),
                    Some(&admin),
                )
                .await;
            let id = text(&created["channel"]["_id"]).to_owned();
            let root = api
                .post(
                    base,
                    "chat.postMessage",
                    json!({"roomId": id, "text": "thread root"}),
                    Some(&admin),
                )
                .await;
            rooms.push(Room {
                id,
                root: text(&root["message"]["_id"]).to_owned(),
            });
        }
        Chat {
            admin,
            posters: accounts,
            reader,
            rooms,
        }
    }

    fn members(&self) -> impl Iterator<Item = &Account> {
        std::iter::once(&self.admin)
            .chain(&self.posters)
            .chain(std::iter::once(&self.reader))
    }
}

/// One message a poster tried to post.
#[derive(Debug, Clone)]
struct Attempt {
    key: String,
    room: usize,
    poster: usize,
    /// The `_id` the client chose (`chat.sendMessage`); `None`: `chat.postMessage`, where the
    /// server chooses.
    client_id: Option<String>,
    /// A reply in the room's thread, with its `tshow`.
    reply: Option<bool>,
    mentions_reader: bool,
}

impl Attempt {
    fn text(&self) -> String {
        if self.mentions_reader {
            format!("{} hello @{READER}", self.key)
        } else {
            format!("{} hello", self.key)
        }
    }
}

/// What is known of an attempt.
#[derive(Debug, Clone)]
enum Fate {
    /// Answered with success: must be stored, with this id.
    Acknowledged(String),
    /// No answer: stored completely or not at all.
    Unknown,
    /// Refused with this answer: must not be stored.
    Refused(String),
    /// Found after a restart: must stay.
    Present(String),
    /// Unknown, then missing after a restart: must stay missing.
    Absent,
}

#[derive(Debug)]
struct Posted {
    attempt: Attempt,
    fate: Fate,
    started: Instant,
}

/// A reaction that was acknowledged.
#[derive(Debug)]
struct Reaction {
    message_id: String,
    username: String,
}

#[derive(Default)]
struct PosterReport {
    posts: Vec<Posted>,
    reactions: Vec<Reaction>,
}

/// A Meteor-style id (17 characters of its alphabet) chosen by the client.
fn client_id(rng: &mut StdRng) -> String {
    const ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
    (0..17)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect()
}

async fn post(api: &Api, base: &str, account: &Account, room: &Room, attempt: &Attempt) -> Answer {
    let method = reqwest::Method::POST;
    match &attempt.client_id {
        Some(id) => {
            let mut message = json!({"_id": id, "rid": room.id, "msg": attempt.text()});
            if let Some(tshow) = attempt.reply {
                message["tmid"] = json!(room.root);
                message["tshow"] = json!(tshow);
            }
            let body = json!({ "message": message });
            api.request(
                method,
                base,
                "chat.sendMessage",
                &[],
                Some(&body),
                Some(account),
            )
            .await
        }
        None => {
            let mut body = json!({"roomId": room.id, "text": attempt.text()});
            if let Some(tshow) = attempt.reply {
                body["tmid"] = json!(room.root);
                body["tshow"] = json!(tshow);
            }
            api.request(
                method,
                base,
                "chat.postMessage",
                &[],
                Some(&body),
                Some(account),
            )
            .await
        }
    }
}

/// One poster: posts as fast as answers come, into random rooms, some messages as thread
/// replies or mentioning the reader, and reacts to some of its acknowledged messages. Stops
/// when told to, or at its first request without an answer (its server is gone).
#[allow(
    clippy::too_many_arguments,
    reason = "one task's inputs, each used once; a struct would only name them again"
)]
async fn post_until_stopped(
    api: Api,
    base: String,
    poster: usize,
    account: Account,
    rooms: Arc<Vec<Room>>,
    cycle: u32,
    seed: u64,
    stop: Arc<AtomicBool>,
) -> PosterReport {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut report = PosterReport::default();
    let mut n = 0u32;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let room = rng.random_range(0..rooms.len());
        let attempt = Attempt {
            key: format!("{KEY_PREFIX}c{cycle}-p{poster}-{n}"),
            room,
            poster,
            client_id: rng.random_bool(0.5).then(|| client_id(&mut rng)),
            reply: rng.random_bool(0.25).then(|| rng.random_bool(0.5)),
            mentions_reader: rng.random_bool(0.2),
        };
        let started = Instant::now();
        let fate = match post(&api, &base, &account, &rooms[room], &attempt).await {
            Answer::Replied(200, body) if body["success"] == true => {
                Fate::Acknowledged(text(&body["message"]["_id"]).to_owned())
            }
            Answer::Replied(status, body) => Fate::Refused(format!("{status} {body}")),
            Answer::NoAnswer(_) => Fate::Unknown,
        };
        let mut server_gone = matches!(fate, Fate::Unknown);
        if let Fate::Acknowledged(id) = &fate
            && rng.random_bool(0.2)
        {
            let body = json!({"messageId": id, "emoji": EMOJI, "shouldReact": true});
            let answer = api
                .request(
                    reqwest::Method::POST,
                    &base,
                    "chat.react",
                    &[],
                    Some(&body),
                    Some(&account),
                )
                .await;
            match answer {
                Answer::Replied(200, body) if body["success"] == true => {
                    report.reactions.push(Reaction {
                        message_id: id.clone(),
                        username: account.username.clone(),
                    });
                }
                Answer::Replied(status, body) => {
                    panic!("reaction to {id} refused: {status} {body}")
                }
                Answer::NoAnswer(_) => server_gone = true,
            }
        }
        report.posts.push(Posted {
            attempt,
            fate,
            started,
        });
        if server_gone {
            break;
        }
    }
    report
}

/// The posters of one cycle.
struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<PosterReport>>,
}

impl Load {
    /// Starts one poster per entry of `servers` (the base URL it posts to).
    fn start(api: &Api, servers: &[String], chat: &Chat, cycle: u32, seed: u64) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let rooms = Arc::new(
            chat.rooms
                .iter()
                .map(|room| Room {
                    id: room.id.clone(),
                    root: room.root.clone(),
                })
                .collect::<Vec<_>>(),
        );
        let tasks = servers
            .iter()
            .enumerate()
            .map(|(poster, base)| {
                tokio::spawn(post_until_stopped(
                    api.clone(),
                    base.clone(),
                    poster,
                    chat.posters[poster].clone(),
                    rooms.clone(),
                    cycle,
                    seed ^ (poster as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                    stop.clone(),
                ))
            })
            .collect();
        Load { stop, tasks }
    }

    /// Stops the posters and collects what each did.
    async fn finish(mut self) -> Vec<PosterReport> {
        self.stop.store(true, Ordering::SeqCst);
        let mut reports = Vec::new();
        for task in std::mem::take(&mut self.tasks) {
            reports.push(
                tokio::time::timeout(WAIT, task)
                    .await
                    .expect("a poster stops in time")
                    .expect("poster"),
            );
        }
        reports
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// What one cycle's posters did.
#[derive(Debug, Default)]
struct Tally {
    acknowledged: usize,
    unknown: usize,
    refused: Vec<String>,
    reactions: usize,
}

/// Every attempt of the run and what is known of it.
#[derive(Default)]
struct Ledger {
    posts: BTreeMap<String, (Attempt, Fate)>,
    reactions: Vec<Reaction>,
}

impl Ledger {
    fn record(&mut self, reports: Vec<PosterReport>) -> Tally {
        let mut tally = Tally::default();
        for report in reports {
            for Posted { attempt, fate, .. } in report.posts {
                match &fate {
                    Fate::Acknowledged(id) => {
                        tally.acknowledged += 1;
                        if let Some(chosen) = &attempt.client_id {
                            assert_eq!(
                                id, chosen,
                                "{}: the server changed the client's _id",
                                attempt.key
                            );
                        }
                    }
                    Fate::Unknown => tally.unknown += 1,
                    Fate::Refused(answer) => {
                        tally.refused.push(format!("{}: {answer}", attempt.key))
                    }
                    Fate::Present(_) | Fate::Absent => {}
                }
                let key = attempt.key.clone();
                assert!(
                    self.posts.insert(key.clone(), (attempt, fate)).is_none(),
                    "key {key} used twice"
                );
            }
            tally.reactions += report.reactions.len();
            self.reactions.extend(report.reactions);
        }
        tally
    }
}

/// What a check of one server covered.
#[derive(Debug, Default)]
struct Checked {
    /// Stored messages read and checked.
    messages: usize,
    /// Acknowledged in the last cycle and found.
    acknowledged: usize,
    /// Unknown in the last cycle and found complete.
    unknown_present: usize,
    /// Unknown in the last cycle and not found anywhere.
    unknown_absent: usize,
}

/// The key of a message the posters wrote, `None` for the setup's.
fn key_of(message: &Value) -> Option<&str> {
    message["msg"]
        .as_str()?
        .split_whitespace()
        .next()
        .filter(|word| word.starts_with(KEY_PREFIX))
}

/// A room's every stored message, thread replies included, newest first.
async fn full_history(
    api: &Api,
    base: &str,
    chat: &Chat,
    room: &Room,
    at_most: usize,
) -> Vec<Value> {
    let mut all: Vec<Value> = Vec::new();
    loop {
        let offset = all.len().to_string();
        let page = api
            .get(
                base,
                "channels.history",
                &[
                    ("roomId", &room.id),
                    ("count", "1000"),
                    ("offset", &offset),
                    ("showThreadMessages", "true"),
                ],
                &chat.admin,
            )
            .await;
        let messages = page["messages"].as_array().expect("messages");
        if messages.is_empty() {
            return all;
        }
        all.extend(messages.iter().cloned());
        assert!(
            all.len() <= at_most,
            "room {}: history goes on past the {at_most} messages ever posted",
            room.id
        );
    }
}

/// The message is exactly what its poster sent.
fn assert_complete(chat: &Chat, attempt: &Attempt, message: &Value) {
    let key = &attempt.key;
    let room = &chat.rooms[attempt.room];
    assert_eq!(message["rid"], json!(room.id), "{key}: room; {message}");
    assert_eq!(
        message["msg"],
        json!(attempt.text()),
        "{key}: text; {message}"
    );
    assert_eq!(
        message["u"]["_id"],
        json!(chat.posters[attempt.poster].id),
        "{key}: author; {message}"
    );
    assert!(
        message["t"].is_null(),
        "{key}: not a system message; {message}"
    );
    if let Some(id) = &attempt.client_id {
        assert_eq!(
            message["_id"],
            json!(id),
            "{key}: the client's _id; {message}"
        );
    }
    match attempt.reply {
        Some(tshow) => {
            assert_eq!(
                message["tmid"],
                json!(room.root),
                "{key}: thread; {message}"
            );
            assert_eq!(message["tshow"] == true, tshow, "{key}: tshow; {message}");
        }
        None => assert!(message["tmid"].is_null(), "{key}: no thread; {message}"),
    }
    let mentioned: Vec<&str> = message["mentions"]
        .as_array()
        .map(|mentions| mentions.iter().filter_map(|m| m["_id"].as_str()).collect())
        .unwrap_or_default();
    let expected: Vec<&str> = if attempt.mentions_reader {
        vec![chat.reader.id.as_str()]
    } else {
        Vec::new()
    };
    assert_eq!(mentioned, expected, "{key}: mentions; {message}");
}

/// Whether a member sees the message in the room's main timeline (not a system message, not
/// a reply kept in its thread): what `unread`, `lm` and the last message follow.
fn in_timeline(message: &Value) -> bool {
    message["t"].is_null() && (message["tmid"].is_null() || message["tshow"] == true)
}

/// The room's counters agree with its stored messages (`history`, newest first).
async fn assert_room_counters(api: &Api, base: &str, chat: &Chat, r: usize, history: &[Value]) {
    let room = &chat.rooms[r];
    let info = api
        .get(base, "rooms.info", &[("roomId", &room.id)], &chat.admin)
        .await["room"]
        .clone();
    assert_eq!(
        info["msgs"],
        json!(history.len()),
        "room {r}: msgs counts every stored message"
    );
    let timeline: Vec<&Value> = history.iter().filter(|m| in_timeline(m)).collect();
    let newest = timeline.first().expect("the thread root at least");
    assert_eq!(
        info["lastMessage"]["_id"], newest["_id"],
        "room {r}: the last message is the newest one; room {info}"
    );
    assert_eq!(
        info["lm"], newest["ts"],
        "room {r}: lm is the newest message's time"
    );

    let root = history
        .iter()
        .find(|m| m["_id"] == json!(room.root))
        .expect("the thread root");
    let replies: Vec<&Value> = history
        .iter()
        .filter(|m| m["tmid"] == json!(room.root))
        .collect();
    assert_eq!(
        root["tcount"].as_u64().unwrap_or(0),
        replies.len() as u64,
        "room {r}: the root's tcount counts its replies; root {root}"
    );
    if let Some(newest_reply) = replies.iter().max_by_key(|m| text(&m["ts"]).to_owned()) {
        assert_eq!(
            root["tlm"], newest_reply["ts"],
            "room {r}: the root's tlm is its newest reply's time; root {root}"
        );
    }
    // Upstream's `replies` are the thread's participants: every replier, and also the root's
    // author and the users replies mention.
    let listed: BTreeSet<&str> = root["replies"]
        .as_array()
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for reply in &replies {
        let replier = text(&reply["u"]["_id"]);
        assert!(
            listed.contains(replier),
            "room {r}: the root's replies name replier {replier}; root {root}"
        );
    }
    let members: BTreeSet<&str> = chat.members().map(|m| m.id.as_str()).collect();
    assert!(
        listed.is_subset(&members),
        "room {r}: the root's replies name only members; root {root}"
    );

    // No one reads: each member's unread counts the timeline messages of others.
    for member in chat.members() {
        let subscription = api
            .get(
                base,
                "subscriptions.getOne",
                &[("roomId", &room.id)],
                member,
            )
            .await["subscription"]
            .clone();
        let from_others: Vec<&&Value> = timeline
            .iter()
            .filter(|m| m["u"]["_id"] != json!(member.id))
            .collect();
        let mentioning = from_others
            .iter()
            .filter(|m| {
                m["mentions"]
                    .as_array()
                    .is_some_and(|ms| ms.iter().any(|x| x["_id"] == json!(member.id)))
            })
            .count();
        let who = &member.username;
        assert_eq!(
            subscription["unread"],
            json!(from_others.len()),
            "room {r}: {who}'s unread; {subscription}"
        );
        assert_eq!(
            subscription["userMentions"],
            json!(mentioning),
            "room {r}: {who}'s mentions; {subscription}"
        );
        assert_eq!(
            subscription["alert"],
            json!(!from_others.is_empty()),
            "room {r}: {who}'s alert; {subscription}"
        );
    }
}

/// Reads everything back from the server at `base` and checks it against the ledger; unknown
/// attempts become present or absent, which later checks then hold them to.
async fn check_everything(api: &Api, base: &str, chat: &Chat, ledger: &mut Ledger) -> Checked {
    let mut checked = Checked::default();
    let mut stored: HashMap<String, Value> = HashMap::new();
    let mut by_id: HashMap<String, Value> = HashMap::new();
    let at_most = ledger.posts.len() + 100;
    for (r, room) in chat.rooms.iter().enumerate() {
        let history = full_history(api, base, chat, room, at_most).await;
        checked.messages += history.len();
        let mut ids = HashSet::new();
        for message in &history {
            let id = text(&message["_id"]).to_owned();
            assert!(
                ids.insert(id.clone()),
                "room {r}: message {id} listed twice"
            );
            by_id.insert(id, message.clone());
            let Some(key) = key_of(message) else {
                continue;
            };
            let (attempt, _) = ledger
                .posts
                .get(key)
                .unwrap_or_else(|| panic!("room {r}: a message no one posted: {message}"));
            assert_complete(chat, attempt, message);
            assert!(
                stored.insert(key.to_owned(), message.clone()).is_none(),
                "{key} is stored twice: {message}"
            );
        }
        assert_room_counters(api, base, chat, r, &history).await;
    }
    for (key, (attempt, fate)) in ledger.posts.iter_mut() {
        let found = stored.get(key);
        match fate.clone() {
            Fate::Acknowledged(id) | Fate::Present(id) => {
                let message =
                    found.unwrap_or_else(|| panic!("{key} ({id}) was acknowledged and is lost"));
                assert_eq!(message["_id"], json!(id), "{key}: the acknowledged id");
                if matches!(fate, Fate::Acknowledged(_)) {
                    checked.acknowledged += 1;
                }
                *fate = Fate::Present(id);
            }
            Fate::Refused(answer) => assert!(
                found.is_none(),
                "{key} was refused ({answer}) yet is stored: {found:?}"
            ),
            Fate::Absent => assert!(
                found.is_none(),
                "{key} was missing after an earlier restart, yet is stored now: {found:?}"
            ),
            Fate::Unknown => {
                if let Some(id) = &attempt.client_id {
                    // The message itself, looked up directly, agrees with the history.
                    let answer = api
                        .request(
                            reqwest::Method::GET,
                            base,
                            "chat.getMessage",
                            &[("msgId", id)],
                            None,
                            Some(&chat.admin),
                        )
                        .await;
                    match (found, answer) {
                        (Some(_), Answer::Replied(200, body)) => {
                            assert_complete(chat, attempt, &body["message"]);
                        }
                        (None, Answer::Replied(400, body)) if body["success"] == false => {}
                        (found, answer) => panic!(
                            "{key}: chat.getMessage disagrees with the history ({found:?}): {answer:?}"
                        ),
                    }
                }
                *fate = match found {
                    Some(message) => {
                        checked.unknown_present += 1;
                        Fate::Present(text(&message["_id"]).to_owned())
                    }
                    None => {
                        checked.unknown_absent += 1;
                        Fate::Absent
                    }
                };
            }
        }
    }
    for reaction in &ledger.reactions {
        let message = by_id
            .get(&reaction.message_id)
            .unwrap_or_else(|| panic!("reacted-to message {} is lost", reaction.message_id));
        let usernames = &message["reactions"][EMOJI]["usernames"];
        assert!(
            usernames
                .as_array()
                .is_some_and(|names| names.iter().any(|n| n == &json!(reaction.username))),
            "{}'s acknowledged reaction is lost: {message}",
            reaction.username
        );
    }
    checked
}

fn assert_none_refused(cycle: u32, tally: &Tally) {
    assert!(
        tally.refused.is_empty(),
        "cycle {cycle}: posts refused while the server was up: {:?}",
        tally.refused
    );
}

#[tokio::test]
async fn a_killed_server_keeps_every_acknowledged_message_and_consistent_counters() {
    let (cycles, seed) = (cycles(), seed());
    eprintln!("crash: {cycles} cycles, COMET_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let database = Database::for_this_run().await;
    let data = tempfile::tempdir().expect("data dir");
    let mut setup = CometSetup::new(data.path().to_path_buf(), database.url());
    setup.env = settings();
    let api = Api::new();
    let mut server = Comet::start(&setup).await;
    let chat = Chat::set_up(&api, &server.base).await;
    let mut ledger = Ledger::default();
    let mut checked_messages = 0;
    for cycle in 1..=cycles {
        let servers = vec![server.base.clone(); POSTERS];
        let load = Load::start(&api, &servers, &chat, cycle, rng.random());
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..=2000))).await;
        server.kill();
        let tally = ledger.record(load.finish().await);
        assert!(
            tally.acknowledged > 0,
            "cycle {cycle}: nothing was acknowledged before the kill"
        );
        server = Comet::start(&setup).await;
        let checked = check_everything(&api, &server.base, &chat, &mut ledger).await;
        assert_none_refused(cycle, &tally);
        eprintln!("crash cycle {cycle}: {tally:?}; after restart {checked:?}");
        checked_messages += checked.messages;
    }
    eprintln!(
        "crash: {cycles} cycles, {} posts attempted, {checked_messages} stored messages checked",
        ledger.posts.len()
    );
}

/// A DDP connection that records the id of every message streamed to it.
struct Listener {
    seen: Arc<Mutex<HashSet<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    async fn start(base: &str, chat: &Chat) -> Listener {
        let mut ddp = Ddp::connect_to(base).await;
        ddp.login(READER).await;
        for room in &chat.rooms {
            assert_eq!(
                ddp.sub("stream-room-messages", &room.id).await["msg"],
                "ready"
            );
        }
        let seen = Arc::new(Mutex::new(HashSet::new()));
        let recording = seen.clone();
        let task = tokio::spawn(async move {
            while let Some(Ok(frame)) = ddp.socket.next().await {
                let Frame::Text(frame) = frame else { continue };
                let Ok(frame) = serde_json::from_str::<Value>(&frame) else {
                    continue;
                };
                if frame["msg"] == "ping" {
                    ddp.send(json!({"msg": "pong"})).await;
                } else if frame["collection"] == "stream-room-messages"
                    && let Some(id) = frame["fields"]["args"][0]["_id"].as_str()
                {
                    recording.lock().expect("listener").insert(id.to_owned());
                }
            }
        });
        Listener { seen, task }
    }

    /// Waits (bounded) until every one of `ids` has been streamed.
    async fn wait_for(&self, ids: &[String]) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let missing: Vec<&String> = {
                let seen = self.seen.lock().expect("listener");
                ids.iter().filter(|id| !seen.contains(*id)).collect()
            };
            if missing.is_empty() {
                return;
            }
            assert!(
                !self.task.is_finished(),
                "the listener's connection closed; {} messages never streamed",
                missing.len()
            );
            assert!(
                tokio::time::Instant::now() < deadline,
                "{} acknowledged messages never streamed, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[tokio::test]
async fn a_killed_instance_loses_nothing_acknowledged_while_its_peer_serves_on() {
    // Several instances share a PostgreSQL database (docs/deployment.md); SQLite is one
    // process's database.
    let database = Database::for_this_run().await;
    let Some(database_url) = database.url() else {
        eprintln!("skipped: several instances need PostgreSQL (COMET_TEST_BACKEND=postgres)");
        return;
    };
    let Some(nats) = Nats::start() else {
        return;
    };
    let (cycles, seed) = (cycles(), seed());
    eprintln!("crash (two instances): {cycles} cycles, COMET_CRASH_SEED={seed}");
    let mut rng = StdRng::seed_from_u64(seed);
    let shared = tempfile::tempdir().expect("data dirs");
    let instance = |name: &str| {
        let data = shared.path().join(name);
        std::fs::create_dir_all(&data).expect("data dir");
        let mut setup = CometSetup::new(data, Some(database_url.clone()));
        setup.nats_url = Some(nats.url.clone());
        setup.env = settings();
        setup
            .env
            .push(("COMET_INSTANCE_TIMEOUT".into(), "3".into()));
        setup
    };
    let (setup_a, setup_b) = (instance("a"), instance("b"));
    let api = Api::new();
    let mut a = Comet::start(&setup_a).await;
    let b = Comet::start(&setup_b).await;
    let chat = Chat::set_up(&api, &a.base).await;
    let listener = Listener::start(&b.base, &chat).await;
    let mut ledger = Ledger::default();
    let mut checked_messages = 0;
    for cycle in 1..=cycles {
        // Even posters on A, odd ones on B.
        let servers: Vec<String> = (0..POSTERS)
            .map(|i| if i % 2 == 0 { &a.base } else { &b.base }.clone())
            .collect();
        let load = Load::start(&api, &servers, &chat, cycle, rng.random());
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..=1500))).await;
        a.kill();
        let killed_at = Instant::now();
        // B alone for a while.
        tokio::time::sleep(Duration::from_millis(rng.random_range(300..=1000))).await;
        let reports = load.finish().await;

        let on_b: Vec<&Posted> = reports
            .iter()
            .flat_map(|report| &report.posts)
            .filter(|posted| posted.attempt.poster % 2 == 1)
            .collect();
        for posted in &on_b {
            assert!(
                matches!(posted.fate, Fate::Acknowledged(_)),
                "cycle {cycle}: B failed a post: {posted:?}"
            );
        }
        let while_a_down = on_b.iter().filter(|p| p.started > killed_at).count();
        assert!(
            while_a_down > 0,
            "cycle {cycle}: B took no post while A was down"
        );
        let acknowledged_by_b: Vec<String> = on_b
            .iter()
            .filter_map(|posted| match &posted.fate {
                Fate::Acknowledged(id) => Some(id.clone()),
                _ => None,
            })
            .collect();
        let tally = ledger.record(reports);
        listener.wait_for(&acknowledged_by_b).await;

        a = Comet::start(&setup_a).await;
        let checked = check_everything(&api, &a.base, &chat, &mut ledger).await;
        let checked_on_b = check_everything(&api, &b.base, &chat, &mut ledger).await;
        assert_eq!(
            checked.messages, checked_on_b.messages,
            "both instances read the same messages"
        );
        assert_none_refused(cycle, &tally);
        eprintln!(
            "crash (two instances) cycle {cycle}: {tally:?}, {while_a_down} posts to B while A was \
             down; after restart {checked:?}"
        );
        checked_messages += checked.messages + checked_on_b.messages;
    }
    eprintln!(
        "crash (two instances): {cycles} cycles, {} posts attempted, {checked_messages} stored \
         messages checked",
        ledger.posts.len()
    );
}
