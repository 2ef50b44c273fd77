//! `comet-bench soak`: hours of mixed traffic on many connections, to show that Comet's memory
//! is flat once warm (no leak per message, per connection or per reconnect).
//!
//! Users in a few shared channels; every connection logs in as one of them and follows two
//! rooms' messages and its user's notifications, answering heartbeats as a real client does.
//! Meanwhile, at a steady rate: posts, thread replies, reactions, edits, deletions, history
//! pages and room lists, and connections dropping and reconnecting. Comet's RSS is sampled
//! every `sample_seconds`; the report compares the end with the level after warm-up.

use crate::realtime::connect;
use crate::{CometProcess, PASSWORD, http_client, login, post_json, rss_kib_of};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Parser)]
pub struct SoakArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Live connections held throughout.
    #[arg(long, default_value_t = 2000)]
    connections: usize,
    /// How long the traffic runs.
    #[arg(long, default_value_t = 60)]
    minutes: u64,
    /// Users the connections log in as.
    #[arg(long, default_value_t = 100)]
    users: usize,
    /// Channels every user is a member of.
    #[arg(long, default_value_t = 10)]
    rooms: usize,
    /// Messages posted per second (other actions are in proportion).
    #[arg(long, default_value_t = 10.0)]
    rate: f64,
    /// Connections dropped and reopened per second.
    #[arg(long, default_value_t = 2.0)]
    reconnects: f64,
    /// Seconds between RSS samples.
    #[arg(long, default_value_t = 10)]
    sample_seconds: u64,
    /// Loopback source addresses the client sockets spread over.
    #[arg(long, default_value_t = 4)]
    source_addresses: u8,
}

#[derive(Default)]
struct Counters {
    actions: AtomicU64,
    errors: AtomicU64,
    frames: AtomicU64,
    reconnects: AtomicU64,
}

struct World {
    base: String,
    ws_url: String,
    server: SocketAddr,
    sources: u8,
    /// (user id, token) per user.
    users: Vec<(String, String)>,
    rooms: Vec<String>,
    counters: Counters,
}

/// One client connection: logs in, follows two rooms and its user's notifications, answers
/// heartbeats, and runs until `stop` or until the soak drops it.
async fn client(world: Arc<World>, index: usize, stop: Arc<AtomicBool>) -> Result<(), String> {
    let (user_id, token) = &world.users[index % world.users.len()];
    let mut ws = connect(&world.ws_url, world.server, index, world.sources).await?;
    let rooms = [
        &world.rooms[index % world.rooms.len()],
        &world.rooms[(index + 1) % world.rooms.len()],
    ];
    let mut frames = vec![
        json!({"msg": "connect", "version": "1", "support": ["1"]}),
        json!({"msg": "method", "id": "l", "method": "login", "params": [{"resume": token}]}),
        json!({"msg": "sub", "id": "n", "name": "stream-notify-user", "params": [format!("{user_id}/notification"), false]}),
    ];
    for (k, rid) in rooms.iter().enumerate() {
        frames.push(json!({"msg": "sub", "id": format!("r{k}"), "name": "stream-room-messages", "params": [rid, false]}));
    }
    for frame in frames {
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
    }
    while !stop.load(Ordering::Relaxed) {
        let next = tokio::time::timeout(Duration::from_secs(1), ws.next()).await;
        match next {
            Err(_) => continue,
            Ok(Some(Ok(Message::Text(text)))) => {
                world.counters.frames.fetch_add(1, Ordering::Relaxed);
                if text.contains("\"msg\":\"ping\"") {
                    ws.send(Message::Text(json!({"msg": "pong"}).to_string().into()))
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(e))) => return Err(e.to_string()),
            Ok(None) => return Err("closed by the server".into()),
        }
    }
    let _ = ws.close(None).await;
    Ok(())
}

/// Keeps connection `index` open, reopening it whenever the soak drops it (`generation`
/// changes) or the server closes it.
async fn keep_connected(
    world: Arc<World>,
    index: usize,
    drops: Arc<Vec<AtomicU64>>,
    done: Arc<AtomicBool>,
) {
    while !done.load(Ordering::Relaxed) {
        let stop = Arc::new(AtomicBool::new(false));
        let generation = drops[index].load(Ordering::Relaxed);
        let watcher = {
            let (stop, drops, done) = (stop.clone(), drops.clone(), done.clone());
            tokio::spawn(async move {
                while drops[index].load(Ordering::Relaxed) == generation
                    && !done.load(Ordering::Relaxed)
                {
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
                stop.store(true, Ordering::Relaxed);
            })
        };
        if client(world.clone(), index, stop).await.is_err() && !done.load(Ordering::Relaxed) {
            world.counters.errors.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        watcher.abort();
        world.counters.reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// One REST action of the mix, chosen at random.
async fn act(
    world: &World,
    http: &reqwest::Client,
    recent: &tokio::sync::Mutex<Vec<(String, String, usize)>>,
) {
    let (user, rid, roll, pick) = {
        let mut rng = rand::rng();
        (
            rng.random_range(0..world.users.len()),
            world.rooms[rng.random_range(0..world.rooms.len())].clone(),
            rng.random_range(0..100u32),
            rng.random_range(0..64usize),
        )
    };
    let auth = (world.users[user].0.as_str(), world.users[user].1.as_str());
    let base = &world.base;
    let target = recent.lock().await.get(pick).cloned();
    let outcome = match (roll, target) {
        (0..=49, _) | (_, None) => {
            let text = format!(
                "soak message {} with some words in it",
                rand::rng().random::<u32>()
            );
            let reply = post_json(
                http,
                format!("{base}/api/v1/chat.postMessage"),
                json!({"roomId": rid, "text": text}),
                Some(auth),
            )
            .await;
            if let Ok(reply) = &reply
                && let Some(id) = reply["message"]["_id"].as_str()
            {
                let mut recent = recent.lock().await;
                recent.insert(0, (id.to_owned(), rid.clone(), user));
                recent.truncate(64);
            }
            reply.map(drop)
        }
        (50..=59, Some((mid, room, _))) => post_json(
            http,
            format!("{base}/api/v1/chat.postMessage"),
            json!({"roomId": room, "text": "a reply in the thread", "tmid": mid}),
            Some(auth),
        )
        .await
        .map(drop),
        (60..=69, Some((mid, _, _))) => {
            let emoji = [":smile:", ":tada:", ":+1:"][pick % 3];
            post_json(
                http,
                format!("{base}/api/v1/chat.react"),
                json!({"messageId": mid, "emoji": emoji}),
                Some(auth),
            )
            .await
            .map(drop)
        }
        (70..=74, Some((mid, room, author))) => {
            let auth = (
                world.users[author].0.as_str(),
                world.users[author].1.as_str(),
            );
            post_json(
                http,
                format!("{base}/api/v1/chat.update"),
                json!({"roomId": room, "msgId": mid, "text": "edited text"}),
                Some(auth),
            )
            .await
            .map(drop)
        }
        (75..=76, Some((mid, room, author))) => {
            recent.lock().await.retain(|(id, _, _)| *id != mid);
            let auth = (
                world.users[author].0.as_str(),
                world.users[author].1.as_str(),
            );
            post_json(
                http,
                format!("{base}/api/v1/chat.delete"),
                json!({"roomId": room, "msgId": mid}),
                Some(auth),
            )
            .await
            .map(drop)
        }
        (77..=94, _) => {
            get(
                http,
                format!("{base}/api/v1/channels.history?roomId={rid}&count=50"),
                auth,
            )
            .await
        }
        _ => get(http, format!("{base}/api/v1/subscriptions.get"), auth).await,
    };
    world.counters.actions.fetch_add(1, Ordering::Relaxed);
    if outcome.is_err() {
        world.counters.errors.fetch_add(1, Ordering::Relaxed);
    }
}

async fn get(http: &reqwest::Client, url: String, auth: (&str, &str)) -> Result<(), String> {
    let reply = http
        .get(url)
        .header("X-User-Id", auth.0)
        .header("X-Auth-Token", auth.1)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = reply.status();
    let _: Value = reply.json().await.map_err(|e| e.to_string())?;
    if status.is_success() {
        Ok(())
    } else {
        Err(status.to_string())
    }
}

pub async fn run(args: SoakArgs) -> Result<(), String> {
    println!(
        "comet-bench soak: {} connections, {} users in {} rooms, {} msgs/s (twice that in actions), {} reconnects/s, {} min",
        args.connections, args.users, args.rooms, args.rate, args.reconnects, args.minutes
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let comet = CometProcess::start(&args.comet, 4, dir.path()).await?;
    let pid = comet.pid();
    let http = http_client(64)?;
    let base = comet.base.clone();
    let (admin_id, admin_token) = login(&http, &base, "admin").await?;
    let admin = Some((admin_id.as_str(), admin_token.as_str()));
    let mut users = Vec::with_capacity(args.users);
    let mut usernames = Vec::with_capacity(args.users);
    for i in 0..args.users {
        let username = format!("soak{i}");
        post_json(&http, format!("{base}/api/v1/users.create"),
            json!({"username": username, "email": format!("{username}@example.com"), "password": PASSWORD, "name": format!("Soak {i}")}),
            admin).await?;
        users.push(login(&http, &base, &username).await?);
        usernames.push(username);
    }
    let mut rooms = Vec::with_capacity(args.rooms);
    for r in 0..args.rooms {
        let created = post_json(
            &http,
            format!("{base}/api/v1/channels.create"),
            json!({"name": format!("soak-{r}"), "members": usernames}),
            admin,
        )
        .await?;
        rooms.push(
            created["channel"]["_id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let server: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("bad address {base}: {e}"))?;
    let world = Arc::new(World {
        ws_url: format!("ws://{server}/websocket"),
        base: base.clone(),
        server,
        sources: args.source_addresses,
        users,
        rooms,
        counters: Counters::default(),
    });

    let done = Arc::new(AtomicBool::new(false));
    let drops: Arc<Vec<AtomicU64>> =
        Arc::new((0..args.connections).map(|_| AtomicU64::new(0)).collect());
    let mut connections = Vec::with_capacity(args.connections);
    for index in 0..args.connections {
        let (world, drops, done) = (world.clone(), drops.clone(), done.clone());
        connections.push(tokio::spawn(async move {
            // Staggered start: 64 new connections every 100 ms.
            let wave = u64::try_from(index / 64).unwrap_or(u64::MAX);
            tokio::time::sleep(
                Duration::from_millis(100).saturating_mul(u32::try_from(wave).unwrap_or(u32::MAX)),
            )
            .await;
            keep_connected(world, index, drops, done).await;
        }));
    }

    let recent = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let actions_per_second = args.rate * 2.0;
    let in_flight = Arc::new(Semaphore::new(256));
    let started = Instant::now();
    let total = Duration::from_secs(args.minutes * 60);
    let mut tick =
        tokio::time::interval(Duration::from_secs_f64(1.0 / actions_per_second.max(0.1)));
    let mut next_sample = Duration::ZERO;
    let mut next_drop = 0.0f64;
    let mut samples: Vec<(f64, u64)> = Vec::new();
    println!("minute  RSS MiB  actions  errors  frames  reconnects");
    while started.elapsed() < total {
        tick.tick().await;
        if started.elapsed() >= next_sample {
            let rss = rss_kib_of(pid).ok_or("comet is gone")?;
            samples.push((started.elapsed().as_secs_f64(), rss));
            let c = &world.counters;
            println!(
                "{:6.1}  {:7.1}  {:7}  {:6}  {:6}  {:10}",
                started.elapsed().as_secs_f64() / 60.0,
                rss as f64 / 1024.0,
                c.actions.load(Ordering::Relaxed),
                c.errors.load(Ordering::Relaxed),
                c.frames.load(Ordering::Relaxed),
                c.reconnects.load(Ordering::Relaxed)
            );
            next_sample += Duration::from_secs(args.sample_seconds);
        }
        let due = started.elapsed().as_secs_f64() * args.reconnects;
        while next_drop < due {
            let index = rand::rng().random_range(0..args.connections);
            drops[index].fetch_add(1, Ordering::Relaxed);
            next_drop += 1.0;
        }
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            continue;
        };
        let (world, http, recent) = (world.clone(), http.clone(), recent.clone());
        tokio::spawn(async move {
            act(&world, &http, &recent).await;
            drop(permit);
        });
    }
    done.store(true, Ordering::Relaxed);
    let _ = tokio::time::timeout(
        Duration::from_secs(30),
        futures_util::future::join_all(connections),
    )
    .await;

    // Warm-up: the first fifth of the run (at least one sample).
    let warm_from = samples.len() / 5;
    let warm = samples.get(warm_from).map_or(0, |s| s.1);
    let after_warm_max = samples
        .iter()
        .skip(warm_from)
        .map(|s| s.1)
        .max()
        .unwrap_or(0);
    let end = samples.last().map_or(0, |s| s.1);
    let c = &world.counters;
    println!(
        "RSS after warm-up ({:.1} min) {:.1} MiB, highest after it {:.1} MiB, at the end {:.1} MiB: \
         {:+.1} MiB from warm-up to the end over {:.0} min; {} actions, {} errors, {} frames, {} reconnects",
        samples.get(warm_from).map_or(0.0, |s| s.0 / 60.0),
        warm as f64 / 1024.0,
        after_warm_max as f64 / 1024.0,
        end as f64 / 1024.0,
        (end as f64 - warm as f64) / 1024.0,
        started.elapsed().as_secs_f64() / 60.0,
        c.actions.load(Ordering::Relaxed),
        c.errors.load(Ordering::Relaxed),
        c.frames.load(Ordering::Relaxed),
        c.reconnects.load(Ordering::Relaxed)
    );
    drop(comet);
    Ok(())
}
