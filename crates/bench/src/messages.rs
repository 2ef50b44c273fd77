//! `comet-bench messages`: durable message posting, history and search.

use crate::{CometProcess, PASSWORD, http_client, load, login, post_json};
use comet_core::room::{Message, UserStub};
use comet_store::{MessageStore, PostEffects, Record, RoomStore, TransferStore, UserStore};
use comet_store_sqlite::{SqliteDatabase, SqliteStore, Synchronous};
use rand::Rng;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(clap::Parser)]
pub struct MessageArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Concurrent posters / readers.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds each load phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Messages in the big room used for history and search.
    #[arg(long, default_value_t = 1_000_000)]
    history_messages: u64,
    /// Seed the big room this many messages per transaction through the store's bulk import
    /// (1: one `post_message` each, with the room's counters, as a server would).
    #[arg(long, default_value_t = 1)]
    seed_batch: usize,
    /// Sequential searches whose latency is measured.
    #[arg(long, default_value_t = 200)]
    searches: usize,
    /// SQLite's durability mode (`COMET_SQLITE_SYNCHRONOUS`), for the server and the baseline
    /// alike.
    #[arg(long, default_value = "full", value_parser = ["full", "normal"])]
    sqlite_synchronous: String,
}

const WORDS: &[&str] = &[
    "deploy",
    "server",
    "release",
    "review",
    "lunch",
    "meeting",
    "incident",
    "database",
    "latency",
    "coffee",
    "ticket",
    "merge",
    "branch",
    "rollback",
    "monitor",
    "alert",
    "customer",
    "design",
    "مرحبا",
    "شكرا",
    "olá",
    "obrigado",
    "café",
    "naïve",
    "queue",
    "backup",
    "cluster",
    "token",
];

fn sentence(rng: &mut impl Rng, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.random_range(0..WORDS.len())])
        .collect::<Vec<_>>()
        .join(" ")
}

async fn get_json(
    http: &reqwest::Client,
    url: String,
    auth: &(String, String),
) -> Result<Value, String> {
    let response = http
        .get(url)
        .header("X-User-Id", &auth.0)
        .header("X-Auth-Token", &auth.1)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    Ok(body)
}

/// Adds the time since `started` to `latencies`.
fn record(latencies: &Mutex<Vec<Duration>>, started: Instant) {
    if let Ok(mut latencies) = latencies.lock() {
        latencies.push(started.elapsed());
    }
}

/// "p50 …, p99 …, max … ms" of the latencies recorded.
fn latency_summary(latencies: &Mutex<Vec<Duration>>) -> String {
    let mut sorted = latencies.lock().map(|l| l.clone()).unwrap_or_default();
    sorted.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        ms(percentile(&sorted, 0.5)),
        ms(percentile(&sorted, 0.99)),
        ms(sorted.last().copied().unwrap_or_default())
    )
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

/// Offers `rate` requests per second for `seconds`, each started on its schedule whether or
/// not earlier ones have finished (an open loop, so a slow answer cannot hide the queue behind
/// it); returns the rate offered, the rate answered and the sorted latencies, each measured
/// from the request's scheduled start.
async fn fixed_rate<F, Fut>(
    rate: f64,
    seconds: u64,
    request: Arc<F>,
) -> Result<(f64, f64, Vec<Duration>), String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send + 'static,
{
    let rate = rate.max(1.0);
    let interval = Duration::from_secs_f64(1.0 / rate);
    let total = (rate * seconds as f64).round() as usize;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    for n in 0..total {
        let scheduled = started + interval * n as u32;
        tokio::time::sleep_until(scheduled.into()).await;
        let request = request.clone();
        tasks.push(tokio::spawn(async move {
            request(n).await?;
            Ok::<Duration, String>(scheduled.elapsed())
        }));
    }
    let mut latencies = Vec::with_capacity(total);
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(Ok(latency))) => latencies.push(latency),
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("a request did not finish within 30 s".into()),
        }
    }
    let achieved = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    Ok((rate, achieved, latencies))
}

pub async fn run(args: MessageArgs) -> Result<(), String> {
    let http = http_client(args.clients)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    println!(
        "comet-bench messages: {} clients, {} s per phase, synchronous={}",
        args.clients, args.seconds, args.sqlite_synchronous
    );
    let synchronous = match args.sqlite_synchronous.as_str() {
        "normal" => Synchronous::Normal,
        _ => Synchronous::Full,
    };
    let server_env = [("COMET_SQLITE_SYNCHRONOUS", args.sqlite_synchronous.clone())];

    // 1. Accounts and rooms through the API, then stop the server.
    let (rooms, big_room) = {
        let comet = CometProcess::start_with_env(&args.comet, 4, dir.path(), &server_env).await?;
        let base = comet.base.clone();
        let (admin_id, admin_token) = login(&http, &base, "admin").await?;
        let admin = Some((admin_id.as_str(), admin_token.as_str()));
        let mut rooms = Vec::with_capacity(args.clients);
        for i in 0..args.clients {
            post_json(&http, format!("{base}/api/v1/users.create"),
                json!({"username": format!("poster{i}"), "email": format!("poster{i}@example.com"), "password": PASSWORD, "name": format!("Poster {i}")}),
                admin).await?;
            let room = post_json(
                &http,
                format!("{base}/api/v1/channels.create"),
                json!({"name": format!("room{i}"), "members": [format!("poster{i}")]}),
                admin,
            )
            .await?;
            rooms.push(
                room["channel"]["_id"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            );
        }
        let big = post_json(
            &http,
            format!("{base}/api/v1/channels.create"),
            json!({"name": "big"}),
            admin,
        )
        .await?;
        (
            rooms,
            big["channel"]["_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    };

    // 2. The baseline and the seed, straight through the store.
    let url = format!("sqlite://{}", dir.path().join("comet.db").display());
    let store = SqliteDatabase::open_url_with(&url, synchronous)
        .await
        .map(SqliteStore::new)
        .map_err(|e| e.to_string())?;
    let author = store
        .user_by_username("admin")
        .await
        .map_err(|e| e.to_string())?
        .ok_or("admin missing")?;
    let stub = UserStub::from(&author);
    let effects = PostEffects {
        counts_in_room: true,
        becomes_last_message: true,
        alert_others: true,
        ..PostEffects::default()
    };
    let mut rng = rand::rng();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds);
    let mut bare = 0u64;
    while Instant::now() < deadline {
        post_now(&store, &rooms[0], &stub, &effects).await?;
        bare += 1;
    }
    let bare_rate = bare as f64 / started.elapsed().as_secs_f64();
    println!(
        "baseline bare store insert loop (one task, one transaction each): {bare_rate:.0} msgs/s"
    );
    // The same posts from one task per room at once: what group commit makes of the store
    // alone, the ceiling for posts through the server.
    let store = Arc::new(store);
    let concurrent_rate = {
        let deadline = Instant::now() + Duration::from_secs(args.seconds);
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for room in &rooms {
            let (store, stub, effects, room) =
                (store.clone(), stub.clone(), effects.clone(), room.clone());
            tasks.spawn(async move {
                let mut posted = 0u64;
                while Instant::now() < deadline {
                    post_now(&store, &room, &stub, &effects).await?;
                    posted += 1;
                }
                Ok::<u64, String>(posted)
            });
        }
        let mut posted = 0u64;
        while let Some(done) = tasks.join_next().await {
            posted += done.map_err(|e| e.to_string())??;
        }
        posted as f64 / started.elapsed().as_secs_f64()
    };
    println!(
        "baseline store posts from {} tasks at once (one per room, group commit): {concurrent_rate:.0} msgs/s",
        rooms.len()
    );

    let seed_started = Instant::now();
    let base_time = comet_core::now() - chrono::Duration::days(30);
    let step_ms = (30 * 24 * 3600 * 1000) / args.history_messages.max(1) as i64;
    let mut batch = Vec::with_capacity(args.seed_batch);
    for i in 0..args.history_messages {
        let text = sentence(&mut rng, 10);
        let at = base_time + chrono::Duration::milliseconds(step_ms * i as i64);
        let message = Message::new(comet_core::id::new_id(), &big_room, stub.clone(), &text, at);
        if args.seed_batch > 1 {
            batch.push(Record::Message(message));
            if batch.len() >= args.seed_batch || i + 1 == args.history_messages {
                store.import(&batch).await.map_err(|e| e.to_string())?;
                batch.clear();
            }
            continue;
        }
        store
            .post_message(
                &message,
                &PostEffects {
                    counts_in_room: true,
                    becomes_last_message: true,
                    ..PostEffects::default()
                },
            )
            .await
            .map_err(|e| e.to_string())?;
    }
    let room = store
        .room_by_id(&big_room)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("big room missing")?;
    println!(
        "seeded {} messages into one room in {:.0} s ({} counted)",
        args.history_messages,
        seed_started.elapsed().as_secs_f64(),
        room.message_count
    );
    store.close().await;

    // 3. The server again, on the same database.
    let comet = CometProcess::start_with_env(&args.comet, 4, dir.path(), &server_env).await?;
    let base = comet.base.clone();
    let mut sessions = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        sessions.push(login(&http, &base, &format!("poster{i}")).await?);
    }
    let sessions = Arc::new(sessions);
    let rooms = Arc::new(rooms);

    let spread_latencies = Arc::new(Mutex::new(Vec::new()));
    let spread_rate = {
        let (http, base, sessions, rooms, latencies) = (
            http.clone(),
            base.clone(),
            sessions.clone(),
            rooms.clone(),
            spread_latencies.clone(),
        );
        load(args.clients, args.seconds, move |i| {
            let (http, base, sessions, rooms, latencies) = (
                http.clone(),
                base.clone(),
                sessions.clone(),
                rooms.clone(),
                latencies.clone(),
            );
            async move {
                let (uid, token) = &sessions[i];
                let started = Instant::now();
                post_json(
                    &http,
                    format!("{base}/api/v1/chat.postMessage"),
                    json!({"roomId": rooms[i], "text": "status update: the deploy finished"}),
                    Some((uid, token)),
                )
                .await?;
                record(&latencies, started);
                Ok(())
            }
        })
        .await?
    };
    println!(
        "comet chat.postMessage, {} posters into {} rooms: {spread_rate:.0} msgs/s (ratio to bare insert loop: {:.2}, to the store's concurrent posts: {:.2}); {}",
        args.clients,
        args.clients,
        spread_rate / bare_rate,
        spread_rate / concurrent_rate,
        latency_summary(&spread_latencies)
    );

    let one_room_latencies = Arc::new(Mutex::new(Vec::new()));
    let one_room_rate = {
        let (http, base, sessions, latencies) = (
            http.clone(),
            base.clone(),
            sessions.clone(),
            one_room_latencies.clone(),
        );
        load(args.clients, args.seconds, move |i| {
            let (http, base, sessions, latencies) = (
                http.clone(),
                base.clone(),
                sessions.clone(),
                latencies.clone(),
            );
            async move {
                let (uid, token) = &sessions[i];
                let started = Instant::now();
                post_json(
                    &http,
                    format!("{base}/api/v1/chat.postMessage"),
                    json!({"channel": "#big", "text": "everyone into one room"}),
                    Some((uid, token)),
                )
                .await?;
                record(&latencies, started);
                Ok(())
            }
        })
        .await?
    };
    println!(
        "comet chat.postMessage, {} posters into one room: {one_room_rate:.0} msgs/s (ratio to bare insert loop: {:.2}, to the store's concurrent posts: {:.2}); {}",
        args.clients,
        one_room_rate / bare_rate,
        one_room_rate / concurrent_rate,
        latency_summary(&one_room_latencies)
    );

    // A page of 50 messages ending at a random point of the big room's 30 days.
    let history_page = {
        let (http, base, sessions, big_room) = (
            http.clone(),
            base.clone(),
            sessions.clone(),
            big_room.clone(),
        );
        let span_ms = 30 * 24 * 3600 * 1000_i64;
        Arc::new(move |i: usize| {
            let (http, base, sessions, big_room) = (
                http.clone(),
                base.clone(),
                sessions.clone(),
                big_room.clone(),
            );
            async move {
                let latest = base_time
                    + chrono::Duration::milliseconds(rand::rng().random_range(0..span_ms));
                let url = format!(
                    "{base}/api/v1/channels.history?roomId={big_room}&count=50&latest={}",
                    latest.format("%Y-%m-%dT%H:%M:%S%.3fZ")
                );
                let body = get_json(&http, url, &sessions[i % sessions.len()]).await?;
                if body["messages"].as_array().is_none() {
                    return Err(format!("history: {body}"));
                }
                Ok::<(), String>(())
            }
        })
    };
    let history_latencies = Arc::new(Mutex::new(Vec::new()));
    let history_rate = {
        let (history_page, history_latencies) = (history_page.clone(), history_latencies.clone());
        load(args.clients, args.seconds, move |i| {
            let (history_page, history_latencies) =
                (history_page.clone(), history_latencies.clone());
            async move {
                let started = Instant::now();
                history_page(i).await?;
                record(&history_latencies, started);
                Ok(())
            }
        })
        .await?
    };
    let mut latencies = history_latencies
        .lock()
        .map(|l| l.clone())
        .unwrap_or_default();
    latencies.sort();
    println!(
        "comet channels.history (50 messages at a random point of {} messages), {} clients: {history_rate:.0} req/s (maximal rate), p50 {:.2} ms, p99 {:.2} ms",
        args.history_messages,
        args.clients,
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    let (offered, achieved, latencies) =
        fixed_rate(history_rate / 2.0, args.seconds, history_page.clone()).await?;
    println!(
        "comet channels.history at half the maximal rate ({offered:.0} req/s offered, {achieved:.0} answered/s): p50 {:.2} ms, p99 {:.2} ms (from each request's scheduled start)",
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );

    let mut latencies = Vec::with_capacity(args.searches);
    for n in 0..args.searches {
        let word = WORDS[n % WORDS.len()];
        let url = format!("{base}/api/v1/chat.search?roomId={big_room}&searchText={word}&count=20");
        let started = Instant::now();
        let body = get_json(&http, url, &sessions[0]).await?;
        latencies.push(started.elapsed());
        if body["messages"].as_array().is_none_or(|m| m.is_empty()) {
            return Err(format!("search for {word} found nothing: {body}"));
        }
    }
    latencies.sort();
    println!(
        "comet chat.search over {} messages, {} sequential queries: p50 {:.1} ms, p99 {:.1} ms",
        args.history_messages,
        args.searches,
        percentile(&latencies, 0.5).as_secs_f64() * 1000.0,
        percentile(&latencies, 0.99).as_secs_f64() * 1000.0
    );
    drop(comet);
    Ok(())
}

/// A baseline's post: an eight-word message by `author` into `room`, through the store.
async fn post_now(
    store: &SqliteStore,
    room: &str,
    author: &UserStub,
    effects: &PostEffects,
) -> Result<(), String> {
    let text = sentence(&mut rand::rng(), 8);
    let message = Message::new(
        comet_core::id::new_id(),
        room,
        author.clone(),
        &text,
        comet_core::now(),
    );
    store
        .post_message(&message, effects)
        .await
        .map_err(|e| e.to_string())
}
