//! `comet-bench translation`: what automatic translation costs the message path.
//!
//! One server with the built-in engine (`--models`, else `COMET_TRANSLATION_MODELS`), one room
//! of `--members` members who each turned translation on into Portuguese
//! (`autotranslate.saveSettings`), a few of them listening over DDP (`stream-room-messages`),
//! a few posting 20-word English messages with `chat.postMessage`. Phases alternate between
//! translation off (`AutoTranslate_Enabled` false: the baseline) and on, on the same server and
//! database, so the ratios are what translation costs the acknowledgement and the original's
//! delivery. On-phases also count the translations that reached the listeners, and their delay
//! after the original; what never arrives was dropped by the bounded translation queue.
//!
//! Every message carries its send time as a code span (`t=<micros>`), which translation leaves
//! untouched, so a listener can time the original's delivery.

use crate::moderation::{ms, percentiles, set_setting};
use crate::realtime::{connect, now_micros, subscribe_room_messages};
use crate::{CometProcess, PASSWORD, http_client, load, login, post_json};
use futures_util::{SinkExt, StreamExt};
use rand::Rng;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Parser)]
pub struct TranslationArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// The translation models (`scripts/translation-models.sh` prints them); defaults to
    /// `COMET_TRANSLATION_MODELS`.
    #[arg(long)]
    models: Option<String>,
    /// Members of the room, every one translating into `pt`.
    #[arg(long, default_value_t = 100)]
    members: usize,
    /// Members posting (concurrently).
    #[arg(long, default_value_t = 8)]
    posters: usize,
    /// Members listening over DDP.
    #[arg(long, default_value_t = 4)]
    listeners: usize,
    /// Posts per second offered by all posters together; 0 posts as fast as they can.
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// Seconds each phase posts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Off/on phase pairs.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// The longest wait after an on-phase for translations still being made.
    #[arg(long, default_value_t = 60)]
    drain_seconds: u64,
}

const LANGUAGE: &str = "pt";
const WORDS_PER_MESSAGE: usize = 20;

const VOCABULARY: &[&str] = &[
    "the", "team", "will", "deploy", "new", "server", "release", "after", "lunch", "please",
    "review", "my", "changes", "before", "meeting", "tomorrow", "morning", "database", "is",
    "slow", "again", "customer", "reported", "problem", "with", "payment", "page", "we", "should",
    "check", "logs", "today", "thank", "you", "for", "help", "coffee", "ready", "office", "week",
];

fn english_message(rng: &mut impl Rng) -> String {
    let words: Vec<&str> = (0..WORDS_PER_MESSAGE)
        .map(|_| VOCABULARY[rng.random_range(0..VOCABULARY.len())])
        .collect();
    format!("{} `t={}`", words.join(" "), now_micros())
}

/// What the listeners and posters observed in the current phase.
#[derive(Default)]
struct PhaseSamples {
    acknowledgements: Vec<Duration>,
    /// From the post being sent to the original reaching a listener, every listener counted.
    deliveries: Vec<Duration>,
    /// From the original reaching a listener to its translation reaching the same listener.
    translation_delays: Vec<Duration>,
    /// Listeners whose socket ended, with the close code the server gave.
    closed: Vec<String>,
}

#[derive(Default)]
struct Observations {
    samples: Mutex<PhaseSamples>,
    /// Translations received, all listeners together (each message counted once per listener).
    translations: AtomicU64,
}

impl Observations {
    fn with<R>(&self, f: impl FnOnce(&mut PhaseSamples) -> R) -> R {
        f(&mut self.samples.lock().unwrap_or_else(PoisonError::into_inner))
    }

    fn take(&self) -> (PhaseSamples, u64) {
        let samples = self.with(std::mem::take);
        (samples, self.translations.swap(0, Ordering::Relaxed))
    }
}

/// Reads one listener's frames until the socket closes: the first frame of a message is its
/// original, a later one carrying `translations.pt` its translation. Answers the server's
/// heartbeat, which would otherwise close the session within a minute.
async fn listen(
    mut socket: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    observations: Arc<Observations>,
) {
    // Message id → when its original arrived here, and whether its translation has too.
    let mut seen: HashMap<String, (Instant, bool)> = HashMap::new();
    let mut ending = "the socket ended".to_owned();
    while let Some(Ok(frame)) = socket.next().await {
        let text = match frame {
            Message::Text(text) => text,
            Message::Close(close) => {
                ending = close.map_or_else(
                    || "closed".to_owned(),
                    |c| format!("closed {} ({})", u16::from(c.code), c.reason),
                );
                continue;
            }
            _ => continue,
        };
        let Ok(frame) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        if frame["msg"] == "ping" {
            let pong = match frame.get("id") {
                Some(id) => json!({"msg": "pong", "id": id}),
                None => json!({"msg": "pong"}),
            };
            if socket
                .send(Message::Text(pong.to_string().into()))
                .await
                .is_err()
            {
                break;
            }
            continue;
        }
        let message = &frame["fields"]["args"][0];
        let Some(id) = message["_id"].as_str() else {
            continue;
        };
        let translated = message["translations"][LANGUAGE].is_string();
        match seen.get_mut(id) {
            None => {
                seen.insert(id.to_owned(), (Instant::now(), false));
                if let Some(sent) = sent_at(message["msg"].as_str().unwrap_or_default()) {
                    let latency = Duration::from_micros(now_micros().saturating_sub(sent));
                    observations.with(|s| s.deliveries.push(latency));
                }
            }
            Some((arrived, already)) if translated && !*already => {
                *already = true;
                let delay = arrived.elapsed();
                observations.with(|s| s.translation_delays.push(delay));
                observations.translations.fetch_add(1, Ordering::Relaxed);
            }
            Some(_) => {}
        }
    }
    observations.with(|s| s.closed.push(ending));
}

fn sent_at(text: &str) -> Option<u64> {
    let at = text.find("t=")?;
    text[at + 2..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .ok()
}

/// Spaces each poster's posts so that all of them together offer `rate` posts per second.
struct Pacer {
    interval: Duration,
    next: Vec<Mutex<Instant>>,
}

impl Pacer {
    fn new(rate: f64, posters: usize) -> Option<Pacer> {
        (rate > 0.0).then(|| Pacer {
            interval: Duration::from_secs_f64(posters as f64 / rate),
            // Posters start spread over one interval, not all at once.
            next: (0..posters)
                .map(|i| {
                    Mutex::new(
                        Instant::now()
                            + Duration::from_secs_f64(i as f64 / rate.max(f64::MIN_POSITIVE)),
                    )
                })
                .collect(),
        })
    }

    fn restart(&self) {
        let now = Instant::now();
        for (i, next) in self.next.iter().enumerate() {
            *next.lock().unwrap_or_else(PoisonError::into_inner) = now
                + self
                    .interval
                    .mul_f64(i as f64 / self.next.len().max(1) as f64);
        }
    }

    async fn wait(&self, poster: usize) {
        let Some(slot) = self.next.get(poster) else {
            return;
        };
        let at = {
            let mut next = slot.lock().unwrap_or_else(PoisonError::into_inner);
            let at = *next;
            // A poster that fell behind (a slow acknowledgement) does not burst to catch up.
            *next = at.max(Instant::now()) + self.interval;
            at
        };
        tokio::time::sleep_until(at.into()).await;
    }
}

/// One phase's figures.
struct PhaseFigures {
    posts_per_second: f64,
    posted: u64,
    acknowledgement: (Duration, Duration),
    delivery: (Duration, Duration),
    /// Messages translated (per listener, averaged) and the delay p50/p99.
    translated: f64,
    translation_delay: (Duration, Duration),
    listeners_closed: Vec<String>,
}

pub async fn run(args: TranslationArgs) -> Result<(), String> {
    let models = args
        .models
        .clone()
        .or_else(|| std::env::var("COMET_TRANSLATION_MODELS").ok())
        .ok_or("give --models or COMET_TRANSLATION_MODELS (scripts/translation-models.sh)")?;
    if args.posters == 0 || args.listeners == 0 || args.posters + args.listeners > args.members {
        return Err(
            "give at least one poster and one listener, together no more than --members".into(),
        );
    }
    println!(
        "comet-bench translation: {} members translating into {LANGUAGE}, {} posters ({}), {} DDP listeners, {} rounds of {} s off / {} s on",
        args.members,
        args.posters,
        if args.rate > 0.0 {
            format!("{} posts/s offered", args.rate)
        } else {
            "as fast as they can".to_owned()
        },
        args.listeners,
        args.rounds,
        args.seconds,
        args.seconds
    );
    let http = http_client(args.posters.max(8))?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Hundreds of "queue full" warnings would drown the report; dropped work is counted here.
    let comet = CometProcess::start_with_env(
        &args.comet,
        4,
        dir.path(),
        &[
            ("COMET_TRANSLATION_MODELS", models),
            ("COMET_LOG", "error".to_owned()),
        ],
    )
    .await?;
    let base = comet.base.clone();
    let (admin_id, admin_token) = login(&http, &base, "admin").await?;
    let admin = (admin_id.as_str(), admin_token.as_str());
    set_setting(&http, &base, admin, "AutoTranslate_Enabled", json!(true)).await?;
    post_json(
        &http,
        format!("{base}/api/v1/permissions.update"),
        json!({"permissions": [{"_id": "auto-translate", "roles": ["admin", "user"]}]}),
        Some(admin),
    )
    .await?;
    let usernames: Vec<String> = (0..args.members).map(|i| format!("member{i}")).collect();
    for name in &usernames {
        post_json(&http, format!("{base}/api/v1/users.create"),
            json!({"username": name, "email": format!("{name}@example.com"), "password": PASSWORD, "name": name}),
            Some(admin)).await?;
    }
    let room = post_json(
        &http,
        format!("{base}/api/v1/channels.create"),
        json!({"name": "translated", "members": usernames}),
        Some(admin),
    )
    .await?;
    let room_id = room["channel"]["_id"]
        .as_str()
        .ok_or("channels.create gave no id")?
        .to_owned();
    let mut sessions = Vec::with_capacity(args.members);
    for name in &usernames {
        let session = login(&http, &base, name).await?;
        let auth = Some((session.0.as_str(), session.1.as_str()));
        for (field, value) in [
            ("autoTranslate", json!(true)),
            ("autoTranslateLanguage", json!(LANGUAGE)),
        ] {
            post_json(
                &http,
                format!("{base}/api/v1/autotranslate.saveSettings"),
                json!({"roomId": room_id, "field": field, "value": value, "defaultLanguage": LANGUAGE}),
                auth,
            )
            .await?;
        }
        sessions.push(session);
    }

    let server: SocketAddr = base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("bad address {base}: {e}"))?;
    let ws_url = format!("ws://{server}/websocket");
    let observations = Arc::new(Observations::default());
    let mut listeners = Vec::with_capacity(args.listeners);
    for (index, (_, token)) in sessions
        .iter()
        .skip(args.posters)
        .take(args.listeners)
        .enumerate()
    {
        let ws = tokio::time::timeout(Duration::from_secs(60), async {
            let ws = connect(&ws_url, server, index, 1).await?;
            subscribe_room_messages(ws, token, &room_id).await
        })
        .await
        .map_err(|_| format!("listener {index} not subscribed within 60 s"))??;
        listeners.push(tokio::spawn(listen(ws, observations.clone())));
    }
    let posters = Arc::new(sessions[..args.posters].to_vec());

    // The engine loads its model on first use: one translation before measuring.
    post_json(
        &http,
        format!("{base}/api/v1/chat.postMessage"),
        json!({"roomId": room_id, "text": english_message(&mut rand::rng())}),
        Some((posters[0].0.as_str(), posters[0].1.as_str())),
    )
    .await?;
    let warm = Instant::now();
    while observations.translations.load(Ordering::Relaxed) < args.listeners as u64 {
        if warm.elapsed() > Duration::from_secs(120) {
            return Err("the first translation did not arrive within 120 s".into());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "first translation (model loaded) after {:.2} s",
        warm.elapsed().as_secs_f64()
    );
    observations.take();

    let pacer = Arc::new(Pacer::new(args.rate, args.posters));
    let mut phases: [Vec<PhaseFigures>; 2] = [Vec::new(), Vec::new()];
    for round in 0..args.rounds {
        for (phase, translating) in [false, true].into_iter().enumerate() {
            set_setting(
                &http,
                &base,
                admin,
                "AutoTranslate_Enabled",
                json!(translating),
            )
            .await?;
            if let Some(pacer) = pacer.as_ref() {
                pacer.restart();
            }
            let rate = {
                let (http, base, posters, room_id, pacer, observations) = (
                    http.clone(),
                    base.clone(),
                    posters.clone(),
                    room_id.clone(),
                    pacer.clone(),
                    observations.clone(),
                );
                load(args.posters, args.seconds, move |i| {
                    let (http, base, posters, room_id, pacer, observations) = (
                        http.clone(),
                        base.clone(),
                        posters.clone(),
                        room_id.clone(),
                        pacer.clone(),
                        observations.clone(),
                    );
                    async move {
                        if let Some(pacer) = pacer.as_ref() {
                            pacer.wait(i).await;
                        }
                        let (uid, token) = &posters[i];
                        let text = english_message(&mut rand::rng());
                        let sent = Instant::now();
                        post_json(
                            &http,
                            format!("{base}/api/v1/chat.postMessage"),
                            json!({"roomId": room_id, "text": text}),
                            Some((uid, token)),
                        )
                        .await?;
                        let acknowledged = sent.elapsed();
                        observations.with(|s| s.acknowledgements.push(acknowledged));
                        Ok(())
                    }
                })
                .await?
            };
            let posted = observations.with(|s| s.acknowledgements.len()) as u64;
            let expected = posted * args.listeners as u64;
            // Let the last originals arrive; in an on-phase, wait for translations until none
            // has come for 3 s (or all have), so that no work spills into the next phase.
            tokio::time::sleep(Duration::from_secs(1)).await;
            if translating {
                let drain = Instant::now();
                let (mut last, mut last_change) = (0, Instant::now());
                while drain.elapsed() < Duration::from_secs(args.drain_seconds) {
                    let now = observations.translations.load(Ordering::Relaxed);
                    if now >= expected {
                        break;
                    }
                    if now != last {
                        (last, last_change) = (now, Instant::now());
                    } else if last_change.elapsed() > Duration::from_secs(3) {
                        break;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
            let (mut samples, translations) = observations.take();
            let figures = PhaseFigures {
                posts_per_second: rate,
                posted,
                acknowledgement: percentiles(&mut samples.acknowledgements),
                delivery: percentiles(&mut samples.deliveries),
                translated: translations as f64 / args.listeners.max(1) as f64,
                translation_delay: percentiles(&mut samples.translation_delays),
                listeners_closed: samples.closed,
            };
            print_phase(round + 1, translating, &figures);
            phases[phase].push(figures);
        }
    }
    for listener in listeners {
        listener.abort();
    }
    summarize(&phases);
    Ok(())
}

fn print_phase(round: usize, translating: bool, f: &PhaseFigures) {
    print!(
        "round {round}: translation {}: {:.1} posts/s ({} posted), ack p50 {:.1} ms p99 {:.1} ms, original delivered p50 {:.1} ms p99 {:.1} ms",
        if translating { "on " } else { "off" },
        f.posts_per_second,
        f.posted,
        ms(f.acknowledgement.0),
        ms(f.acknowledgement.1),
        ms(f.delivery.0),
        ms(f.delivery.1),
    );
    if translating {
        print!(
            ", translated {:.0} of {} ({:.1} %), translation after the original p50 {:.0} ms p99 {:.0} ms",
            f.translated,
            f.posted,
            100.0 * f.translated / f.posted.max(1) as f64,
            ms(f.translation_delay.0),
            ms(f.translation_delay.1),
        );
    }
    if !f.listeners_closed.is_empty() {
        print!(
            "; listeners lost: {} [{}]",
            f.listeners_closed.len(),
            f.listeners_closed.join(", ")
        );
    }
    println!();
}

/// One figure picked out of a phase's.
type Figure = dyn Fn(&PhaseFigures) -> f64;

/// Means over rounds, and the on/off ratios.
fn summarize(phases: &[Vec<PhaseFigures>; 2]) {
    let mean = |phase: &[PhaseFigures], pick: &dyn Fn(&PhaseFigures) -> f64| {
        phase.iter().map(pick).sum::<f64>() / phase.len().max(1) as f64
    };
    let [off, on] = phases;
    let rows: [(&str, &Figure); 5] = [
        ("acknowledged posts/s", &|f| f.posts_per_second),
        ("acknowledgement p50 ms", &|f| ms(f.acknowledgement.0)),
        ("acknowledgement p99 ms", &|f| ms(f.acknowledgement.1)),
        ("original delivered p50 ms", &|f| ms(f.delivery.0)),
        ("original delivered p99 ms", &|f| ms(f.delivery.1)),
    ];
    println!("means over {} rounds (on / off = ratio):", off.len());
    for (name, pick) in rows {
        let (off, on) = (mean(off, pick), mean(on, pick));
        println!(
            "  {name}: off {off:.1}, on {on:.1}, ratio {:.2}",
            on / off.max(f64::MIN_POSITIVE)
        );
    }
    let posted: u64 = on.iter().map(|f| f.posted).sum();
    let translated: f64 = on.iter().map(|f| f.translated).sum();
    println!(
        "  translated in on-phases: {translated:.0} of {posted} messages ({:.1} %; {:.0} dropped or still queued), translation after the original p50 {:.0} ms, p99 {:.0} ms",
        100.0 * translated / posted.max(1) as f64,
        (posted as f64 - translated).max(0.0),
        mean(on, &|f| ms(f.translation_delay.0)),
        mean(on, &|f| ms(f.translation_delay.1)),
    );
}
