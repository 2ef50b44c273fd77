//! `comet-bench overload`: messages offered at several times the rate Comet sustains, to check
//! that overload is honest: memory stays bounded, and every listener either receives every
//! acknowledged message or is closed (1013) so that it reconnects and catches up. A listener
//! with a silent gap is a failure.
//!
//! 1. N listeners subscribe to `GENERAL`'s messages over DDP; each records which messages
//!    (numbered `seq=<n>` in their text) it received and how its connection ended.
//! 2. The sustainable rate: 64 senders posting as fast as they can (each waits for its reply).
//! 3. Overload: posts offered open-loop at `factor` times that rate, each in its own task (up to
//!    `max_in_flight` at once), whatever the replies do. Comet's RSS is sampled meanwhile.
//! 4. Once deliveries stop, every listener is checked against the acknowledged messages.

use crate::realtime::connect;
use crate::{CometProcess, PASSWORD, http_client, login, post_json, rss_kib_of};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[derive(clap::Parser)]
pub struct OverloadArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Listening connections.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// How many times the sustainable rate is offered.
    #[arg(long, default_value_t = 10.0)]
    factor: f64,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Posts the load generator keeps in flight at most in the overload phase.
    #[arg(long, default_value_t = 4096)]
    max_in_flight: usize,
    /// Loopback source addresses the client sockets spread over.
    #[arg(long, default_value_t = 4)]
    source_addresses: u8,
}

/// How a listener's connection ended, and which messages it saw.
#[derive(Default)]
struct Listener {
    received: Vec<u64>,
    close: Option<Option<u16>>,
}

impl Listener {
    fn mark(&mut self, seq: usize) {
        let word = seq / 64;
        if self.received.len() <= word {
            self.received.resize(word + 1, 0);
        }
        self.received[word] |= 1 << (seq % 64);
    }

    fn has(&self, seq: usize) -> bool {
        self.received
            .get(seq / 64)
            .is_some_and(|w| w & (1 << (seq % 64)) != 0)
    }
}

fn seq_of(text: &str) -> Option<usize> {
    let at = text.find("seq=")?;
    let digits: String = text[at + 4..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// What happened to each post: 0 not answered yet, 1 acknowledged, 2 refused (an error status),
/// 3 failed (no answer: connection error or timeout).
const ACKED: u8 = 1;
const SUSTAINABLE_SENDERS: usize = 64;
const REFUSED: u8 = 2;
const FAILED: u8 = 3;

struct Posts {
    outcome: Mutex<Vec<u8>>,
    next: AtomicUsize,
    refused_by_status: Mutex<std::collections::BTreeMap<u16, u64>>,
}

impl Posts {
    fn new() -> Self {
        Posts {
            outcome: Mutex::new(Vec::new()),
            next: AtomicUsize::new(0),
            refused_by_status: Mutex::new(std::collections::BTreeMap::new()),
        }
    }

    fn set(&self, seq: usize, outcome: u8) {
        if let Ok(mut all) = self.outcome.lock() {
            if all.len() <= seq {
                all.resize(seq + 1, 0);
            }
            all[seq] = outcome;
        }
    }

    fn count(&self, outcome: u8) -> usize {
        self.outcome
            .lock()
            .map_or(0, |all| all.iter().filter(|o| **o == outcome).count())
    }
}

/// Posts message number `seq` and records its outcome.
async fn post_numbered(
    http: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    posts: &Posts,
    seq: usize,
) -> bool {
    let reply = http
        .post(format!("{base}/api/v1/chat.postMessage"))
        .header("X-User-Id", auth.0)
        .header("X-Auth-Token", auth.1)
        .json(&json!({"roomId": "GENERAL", "text": format!("seq={seq}")}))
        .send()
        .await;
    let outcome = match reply {
        Ok(r) if r.status().is_success() => ACKED,
        Ok(r) => {
            if let Ok(mut by) = posts.refused_by_status.lock() {
                *by.entry(r.status().as_u16()).or_default() += 1;
            }
            REFUSED
        }
        Err(_) => FAILED,
    };
    posts.set(seq, outcome);
    outcome == ACKED
}

pub async fn run(args: OverloadArgs) -> Result<(), String> {
    println!(
        "comet-bench overload: {} listeners, {}× the sustainable rate for {} s",
        args.connections, args.factor, args.seconds
    );
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let comet = CometProcess::start(&args.comet, 4, dir.path()).await?;
    let pid = comet.pid();
    let http = http_client(SUSTAINABLE_SENDERS)?;
    let base = comet.base.clone();
    let (admin_id, admin_token) = login(&http, &base, "admin").await?;
    post_json(&http, format!("{base}/api/v1/users.create"),
        json!({"username": "listener", "email": "listener@example.com", "password": PASSWORD, "name": "Listener"}),
        Some((&admin_id, &admin_token))).await?;
    let (_, token) = login(&http, &base, "listener").await?;
    let server: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("bad address {base}: {e}"))?;
    let ws_url = format!("ws://{server}/websocket");

    let rss_idle = rss_kib_of(pid).unwrap_or(0);
    let listeners: Arc<Vec<Mutex<Listener>>> = Arc::new(
        (0..args.connections)
            .map(|_| Mutex::new(Listener::default()))
            .collect(),
    );
    let deliveries = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(64));
    let mut opening = Vec::new();
    for index in 0..args.connections {
        let (ws_url, token, gate) = (ws_url.clone(), token.clone(), gate.clone());
        let sources = args.source_addresses;
        opening.push(tokio::spawn(async move {
            let _permit = gate.acquire().await.map_err(|e| e.to_string())?;
            let mut ws = connect(&ws_url, server, index, sources).await?;
            for frame in [
                json!({"msg": "connect", "version": "1", "support": ["1"]}),
                json!({"msg": "method", "id": "1", "method": "login", "params": [{"resume": token}]}),
                json!({"msg": "sub", "id": "s", "name": "stream-room-messages", "params": ["GENERAL", {"useCollection": false, "args": []}]}),
            ] {
                ws.send(Message::Text(frame.to_string().into()))
                    .await
                    .map_err(|e| e.to_string())?;
            }
            let ready = tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(text))) if text.contains("\"ready\"") => {
                            return Ok(());
                        }
                        Some(Ok(_)) => continue,
                        _ => return Err("connection closed before ready".to_owned()),
                    }
                }
            })
            .await;
            ready.map_err(|_| format!("connection {index} not ready within 60 s"))??;
            Ok::<_, String>(ws)
        }));
    }
    let mut tasks = Vec::new();
    for (index, opening) in opening.into_iter().enumerate() {
        let mut ws = opening.await.map_err(|e| e.to_string())??;
        let (listeners, deliveries) = (listeners.clone(), deliveries.clone());
        tasks.push(tokio::spawn(async move {
            let mut code = None;
            while let Some(frame) = ws.next().await {
                match frame {
                    Ok(Message::Text(text)) => {
                        // Answer heartbeats as a real client does, or the server closes
                        // the connection as dead (4000) during a long run.
                        if text.contains("\"msg\":\"ping\"") {
                            let pong = json!({"msg": "pong"}).to_string();
                            if ws.send(Message::Text(pong.into())).await.is_err() {
                                break;
                            }
                            continue;
                        }
                        if let Some(seq) = seq_of(&text)
                            && let Ok(mut me) = listeners[index].lock()
                        {
                            me.mark(seq);
                            deliveries.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(Message::Close(frame)) => {
                        code = Some(frame.map(|f| u16::from(f.code)));
                        break;
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
            if let Ok(mut me) = listeners[index].lock() {
                me.close = Some(code.flatten());
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_connected = rss_kib_of(pid).unwrap_or(0);
    println!(
        "{} listeners connected; comet RSS {:.1} MiB idle, {:.1} MiB with them",
        args.connections,
        rss_idle as f64 / 1024.0,
        rss_connected as f64 / 1024.0
    );

    let posts = Arc::new(Posts::new());
    let auth = (admin_id.clone(), admin_token.clone());

    // The sustainable rate: closed-loop senders, enough of them that their round trips do not
    // limit it.
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..SUSTAINABLE_SENDERS {
        let (http, base, posts, stop, auth) = (
            http.clone(),
            base.clone(),
            posts.clone(),
            stop.clone(),
            auth.clone(),
        );
        senders.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let seq = posts.next.fetch_add(1, Ordering::Relaxed);
                post_numbered(&http, &base, (&auth.0, &auth.1), &posts, seq).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(args.seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for sender in senders {
        sender.await.map_err(|e| e.to_string())?;
    }
    let sustainable = posts.count(ACKED) as f64 / started.elapsed().as_secs_f64();
    println!(
        "sustainable rate ({SUSTAINABLE_SENDERS} closed-loop senders): {sustainable:.0} msgs/s"
    );
    settle(&deliveries).await;

    // Overload: open loop at `factor` times that rate.
    let offered_rate = (sustainable * args.factor).max(1.0);
    let overload_client = http_client(args.max_in_flight)?;
    let in_flight = Arc::new(Semaphore::new(args.max_in_flight));
    let first_overload_seq = posts.next.load(Ordering::Relaxed);
    let peak_rss = Arc::new(AtomicU64::new(rss_kib_of(pid).unwrap_or(0)));
    let sampling = Arc::new(AtomicBool::new(true));
    let sampler = {
        let (peak_rss, sampling) = (peak_rss.clone(), sampling.clone());
        tokio::spawn(async move {
            while sampling.load(Ordering::Relaxed) {
                if let Some(rss) = rss_kib_of(pid) {
                    peak_rss.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut not_offered = 0u64;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / offered_rate));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tick.tick().await;
        let Ok(permit) = in_flight.clone().try_acquire_owned() else {
            not_offered += 1;
            continue;
        };
        let seq = posts.next.fetch_add(1, Ordering::Relaxed);
        let (http, base, posts, auth) = (
            overload_client.clone(),
            base.clone(),
            posts.clone(),
            auth.clone(),
        );
        tokio::spawn(async move {
            post_numbered(&http, &base, (&auth.0, &auth.1), &posts, seq).await;
            drop(permit);
        });
    }
    let offering = started.elapsed().as_secs_f64();
    let max_in_flight = u32::try_from(args.max_in_flight).unwrap_or(u32::MAX);
    let _ = tokio::time::timeout(
        Duration::from_secs(60),
        in_flight.acquire_many(max_in_flight),
    )
    .await;
    let answered = started.elapsed().as_secs_f64();
    settle(&deliveries).await;
    sampling.store(false, Ordering::Relaxed);
    let _ = sampler.await;
    let offered = posts.next.load(Ordering::Relaxed) - first_overload_seq;
    let outcomes = posts.outcome.lock().map(|o| o.clone()).unwrap_or_default();
    let in_phase = |outcome: u8| {
        outcomes
            .iter()
            .skip(first_overload_seq)
            .filter(|o| **o == outcome)
            .count()
    };
    let (acked, refused, failed) = (in_phase(ACKED), in_phase(REFUSED), in_phase(FAILED));
    println!(
        "offered {offered} posts at {:.0} msgs/s ({not_offered} ticks skipped with {} in flight); \
         acknowledged {acked} ({:.0}/s over {answered:.1} s), refused {refused} {:?}, no answer {failed}",
        offered as f64 / offering,
        args.max_in_flight,
        acked as f64 / answered,
        posts
            .refused_by_status
            .lock()
            .map(|m| m.clone())
            .unwrap_or_default(),
    );
    println!(
        "comet RSS: {:.1} MiB with the listeners before, {:.1} MiB at the peak of the overload",
        rss_connected as f64 / 1024.0,
        peak_rss.load(Ordering::Relaxed) as f64 / 1024.0
    );

    // Every listener: all acknowledged messages, or a close.
    let acked_seqs: Vec<usize> = outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| **o == ACKED)
        .map(|(seq, _)| seq)
        .collect();
    let (mut complete, mut gaps) = (0usize, 0usize);
    let mut closes: std::collections::BTreeMap<String, usize> = Default::default();
    let mut worst_gap = 0usize;
    for listener in listeners.iter() {
        let Ok(listener) = listener.lock() else {
            continue;
        };
        if let Some(code) = listener.close {
            let name = match code {
                Some(c) => format!("{c} ({:?})", CloseCode::from(c)),
                None => "no close frame".to_owned(),
            };
            *closes.entry(name).or_default() += 1;
            continue;
        }
        let missing = acked_seqs.iter().filter(|s| !listener.has(**s)).count();
        if missing == 0 {
            complete += 1;
        } else {
            gaps += 1;
            worst_gap = worst_gap.max(missing);
        }
    }
    println!(
        "listeners: {complete} received every acknowledged message, closed {closes:?}, \
         {gaps} silent gaps (largest: {worst_gap} messages missing)"
    );
    for task in tasks {
        task.abort();
    }
    drop(comet);
    if gaps > 0 {
        return Err(format!(
            "{gaps} listeners lost messages without being closed"
        ));
    }
    Ok(())
}

/// Waits until no delivery arrived for 3 s (at most 60 s).
async fn settle(deliveries: &AtomicU64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut last = deliveries.load(Ordering::Relaxed);
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(3)).await;
        let now = deliveries.load(Ordering::Relaxed);
        if now == last {
            return;
        }
        last = now;
    }
}
