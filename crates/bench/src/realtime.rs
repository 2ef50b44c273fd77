//! `comet-bench realtime`: memory per idle DDP connection, and fan-out from one room to many
//! listeners, next to a bare tokio WebSocket broadcast server measured in the same run.
//!
//! The baseline server runs in its own process (this binary, re-executed with the hidden
//! `bare-broadcast-server` command), so that neither side of either test shares the per-process
//! open-file cap with the other: the client side holds one socket per connection, each server
//! one. Client sockets are spread over several loopback source addresses so that the ephemeral
//! port range is never what limits the run.

use crate::{CometProcess, PASSWORD, http_client, login, post_json, rss_kib_of};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Parser)]
pub struct RealtimeArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Listening connections.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Messages per second the senders offer in the fixed-rate phase.
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// Seconds each load phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Also find the highest rate Comet delivers to every listener (senders posting as fast as
    /// they can), then measure latency at half of it.
    #[arg(long)]
    max_rate: bool,
    /// Concurrent senders in the maximal-rate phase.
    #[arg(long, default_value_t = 8)]
    senders: usize,
    /// Loopback source addresses (127.0.0.1, 127.0.0.2, …) the client sockets spread over.
    #[arg(long, default_value_t = 4)]
    source_addresses: u8,
    /// Skip the baseline (when only Comet's memory is wanted).
    #[arg(long)]
    no_baseline: bool,
    /// After the load, every client leaves and Comet's RSS is sampled for this many seconds,
    /// to see whether memory taken at the peak is given back.
    #[arg(long, default_value_t = 20)]
    settle_seconds: u64,
}

pub(crate) fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// What the listeners observed in the current phase.
pub(crate) struct Observed {
    pub(crate) deliveries: AtomicU64,
    /// Connections the server closed (e.g. 1013 for a slow consumer).
    closed: AtomicU64,
    /// Latencies, sharded so that thousands of listeners rarely contend for one lock.
    latencies_us: [std::sync::Mutex<Vec<u64>>; SHARDS],
}

const SHARDS: usize = 64;

impl Default for Observed {
    fn default() -> Self {
        Observed {
            deliveries: AtomicU64::new(0),
            closed: AtomicU64::new(0),
            latencies_us: std::array::from_fn(|_| std::sync::Mutex::new(Vec::new())),
        }
    }
}

impl Observed {
    fn record(&self, shard: usize, latency_us: u64) {
        self.deliveries.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut latencies) = self.latencies_us[shard % SHARDS].lock() {
            latencies.push(latency_us);
        }
    }

    fn latencies(&self) -> Vec<u64> {
        self.latencies_us
            .iter()
            .filter_map(|shard| shard.lock().ok().map(|l| l.clone()))
            .flatten()
            .collect()
    }

    pub(crate) fn reset(&self) {
        self.deliveries.store(0, Ordering::Relaxed);
        for shard in &self.latencies_us {
            if let Ok(mut latencies) = shard.lock() {
                latencies.clear();
            }
        }
    }
}

/// Reads frames until the socket closes, recording the latency of every frame that carries a
/// send time (`t=<micros>` in the text).
pub(crate) async fn listen<S>(mut socket: S, observed: Arc<Observed>, shard: usize)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>>
        + futures_util::Sink<Message>
        + Unpin,
{
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        // A DDP client answers the server's heartbeat as Rocket.Chat's clients do: a listener
        // silent for 30 s is closed by the server (Meteor's 15 s ping and 15 s timeout).
        if text.starts_with("{\"msg\":\"ping\"") {
            if socket.send(Message::Text(PONG.into())).await.is_err() {
                break;
            }
            continue;
        }
        if let Some(at) = text.find("t=") {
            let digits: String = text[at + 2..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(sent) = digits.parse::<u64>() {
                observed.record(shard, now_micros().saturating_sub(sent));
            }
        }
    }
    observed.closed.fetch_add(1, Ordering::Relaxed);
}

/// Deliveries per second and p50/p99 latency (ms) of a phase.
pub(crate) struct PhaseReport {
    pub(crate) deliveries_per_second: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p99_ms: f64,
}

pub(crate) async fn report(name: &str, observed: &Observed, seconds: f64) -> PhaseReport {
    let mut latencies = observed.latencies();
    latencies.sort_unstable();
    let pick = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let report = PhaseReport {
        deliveries_per_second: observed.deliveries.load(Ordering::Relaxed) as f64 / seconds,
        p50_ms: pick(0.5),
        p99_ms: pick(0.99),
    };
    println!(
        "{name}: {:.0} deliveries/s, latency p50 {:.1} ms, p99 {:.1} ms",
        report.deliveries_per_second, report.p50_ms, report.p99_ms
    );
    report
}

pub(crate) use comet_bench::net::connect;

/// Logs a DDP connection in with a resume token and subscribes it to a room's
/// `stream-room-messages`; returns once the subscription is `ready`.
pub(crate) async fn subscribe_room_messages(
    mut ws: tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>,
    token: &str,
    room_id: &str,
) -> Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, String> {
    for frame in [
        json!({"msg": "connect", "version": "1", "support": ["1"]}),
        json!({"msg": "method", "id": "1", "method": "login", "params": [{"resume": token}]}),
        json!({"msg": "sub", "id": "s", "name": "stream-room-messages", "params": [room_id, {"useCollection": false, "args": []}]}),
    ] {
        ws.send(Message::Text(frame.to_string().into()))
            .await
            .map_err(|e| e.to_string())?;
    }
    // Wait for `ready` so that the connection counts as subscribed.
    loop {
        match ws.next().await {
            Some(Ok(Message::Text(text))) if text.contains("\"ready\"") => return Ok(ws),
            Some(Ok(_)) => continue,
            _ => return Err("connection closed before ready".into()),
        }
    }
}

const PONG: &str = r#"{"msg":"pong"}"#;

/// Opens `count` connections, at most 64 handshakes at a time, each prepared by `prepare`;
/// each listens from the moment it is ready (a connection left unread while the others open
/// would miss the server's heartbeat and be closed).
pub(crate) async fn open_all<F, Fut>(
    count: usize,
    prepare: F,
    observed: &Arc<Observed>,
) -> Result<Vec<tokio::task::JoinHandle<()>>, String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<
            Output = Result<tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>, String>,
        > + Send,
{
    let prepare = Arc::new(prepare);
    let gate = Arc::new(Semaphore::new(64));
    let mut opening = Vec::with_capacity(count);
    for index in 0..count {
        let (prepare, gate) = (prepare.clone(), gate.clone());
        let observed = observed.clone();
        opening.push(tokio::spawn(async move {
            let permit = gate.acquire().await.map_err(|e| e.to_string())?;
            let ws = tokio::time::timeout(Duration::from_secs(60), prepare(index))
                .await
                .map_err(|_| format!("connection {index} not ready within 60 s"))??;
            drop(permit);
            Ok::<_, String>(tokio::spawn(listen(ws, observed, index)))
        }));
    }
    let mut listeners = Vec::with_capacity(count);
    for task in opening {
        listeners.push(task.await.map_err(|e| e.to_string())??);
    }
    Ok(listeners)
}

/// The hidden `bare-broadcast-server` command: a bare tokio-tungstenite server that sends every
/// line read from stdin to every connected client. Prints its port first.
pub async fn bare_broadcast_server() -> Result<(), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let port = listener.local_addr().map_err(|e| e.to_string())?.port();
    println!("{port}");
    let (tx, _) = tokio::sync::broadcast::channel::<Arc<str>>(1024);
    let server_tx = tx.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let mut rx = server_tx.subscribe();
            tokio::spawn(async move {
                let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
                    .read_buffer_size(4096)
                    .write_buffer_size(4096);
                let Ok(ws) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
                else {
                    return;
                };
                let (mut sink, mut incoming) = ws.split();
                loop {
                    tokio::select! {
                        frame = rx.recv() => {
                            let Ok(frame) = frame else { break };
                            if sink.send(Message::Text(frame.to_string().into())).await.is_err() {
                                break;
                            }
                        }
                        read = incoming.next() => {
                            if !matches!(read, Some(Ok(_))) {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
    while let Ok(Some(line)) = lines.next_line().await {
        let _ = tx.send(Arc::from(line));
    }
    Ok(())
}

/// The baseline, run in a child process fed frames through its stdin.
async fn bare_broadcast(args: &RealtimeArgs, rate: f64) -> Result<PhaseReport, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut child = tokio::process::Command::new(exe)
        .arg("bare-broadcast-server")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| e.to_string())?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut stdin = child.stdin.take().ok_or("no stdin")?;
    let port: u16 = tokio::io::BufReader::new(stdout)
        .lines()
        .next_line()
        .await
        .map_err(|e| e.to_string())?
        .ok_or("the baseline server printed no port")?
        .parse()
        .map_err(|e| format!("bad port: {e}"))?;
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    let url = format!("ws://{server}");
    let pid = child.id();
    let rss_before = pid.and_then(rss_kib_of).unwrap_or(0);
    let observed = Arc::new(Observed::default());
    let sources = args.source_addresses;
    let clients = open_all(
        args.connections,
        move |index| {
            let url = url.clone();
            async move { connect(&url, server, index, sources).await }
        },
        &observed,
    )
    .await?;
    // As long as Comet's connections are given before its RSS is read.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = pid.and_then(rss_kib_of).unwrap_or(0);
    println!(
        "baseline RSS: {:.1} MiB before, {:.1} MiB with {} idle connections: {:.1} KiB per connection",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        args.connections,
        rss_after.saturating_sub(rss_before) as f64 / args.connections as f64
    );
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tick.tick().await;
        let frame =
            json!({"msg": "changed", "fields": {"args": [{"msg": format!("t={}", now_micros())}]}});
        stdin
            .write_all(format!("{frame}\n").as_bytes())
            .await
            .map_err(|e| e.to_string())?;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elapsed = started.elapsed().as_secs_f64();
    for c in clients {
        c.abort();
    }
    let report = report(
        &format!("baseline bare tokio-tungstenite broadcast at {rate:.0} msgs/s"),
        &observed,
        elapsed,
    )
    .await;
    drop(stdin);
    let _ = child.kill().await;
    Ok(report)
}

/// Posts one message carrying its send time.
pub(crate) async fn post_timed(
    http: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
) -> Result<(), String> {
    let body: Value = post_json(
        http,
        format!("{base}/api/v1/chat.postMessage"),
        json!({"roomId": "GENERAL", "text": format!("t={}", now_micros())}),
        Some(auth),
    )
    .await?;
    if body["success"] != json!(true) {
        return Err(format!("post failed: {body}"));
    }
    Ok(())
}

/// Offers `rate` messages per second for `seconds`, each post in its own task (at most 256 in
/// flight), so that a slow reply never lowers the offered rate.
pub(crate) async fn post_at_rate(
    http: &reqwest::Client,
    base: &str,
    auth: (&str, &str),
    rate: f64,
    seconds: u64,
) -> Result<u64, String> {
    let gate = Arc::new(Semaphore::new(256));
    let failures = Arc::new(AtomicU64::new(0));
    let mut sent = 0;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate.max(0.1)));
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| e.to_string())?;
        let (http, base, failures) = (http.clone(), base.to_owned(), failures.clone());
        let (id, token) = (auth.0.to_owned(), auth.1.to_owned());
        tokio::spawn(async move {
            if post_timed(&http, &base, (&id, &token)).await.is_err() {
                failures.fetch_add(1, Ordering::Relaxed);
            }
            drop(permit);
        });
        sent += 1;
    }
    let _ = gate.acquire_many(256).await;
    match failures.load(Ordering::Relaxed) {
        0 => Ok(sent),
        n => Err(format!("{n} posts failed")),
    }
}

pub async fn run(args: RealtimeArgs) -> Result<(), String> {
    println!(
        "comet-bench realtime: {} connections, {} msgs/s for {} s, {} source addresses",
        args.connections, args.rate, args.seconds, args.source_addresses
    );
    let baseline = if args.no_baseline {
        None
    } else {
        Some(bare_broadcast(&args, args.rate as f64).await?)
    };

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let comet = CometProcess::start(&args.comet, 4, dir.path()).await?;
    let pid = comet.pid();
    let http = http_client(args.senders.max(8))?;
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

    let rss_before = rss_kib_of(pid).unwrap_or(0);
    let observed = Arc::new(Observed::default());
    let sources = args.source_addresses;
    let opened = Instant::now();
    let clients = open_all(
        args.connections,
        move |index| {
            let (ws_url, token) = (ws_url.clone(), token.clone());
            async move {
                let ws = connect(&ws_url, server, index, sources).await?;
                subscribe_room_messages(ws, &token, "GENERAL").await
            }
        },
        &observed,
    )
    .await?;
    println!(
        "opened {} logged-in subscribed connections in {:.1} s",
        args.connections,
        opened.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib_of(pid).unwrap_or(0);
    println!(
        "comet RSS: {:.1} MiB before, {:.1} MiB with {} idle logged-in subscribed connections: {:.1} KiB per connection",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        args.connections,
        rss_after.saturating_sub(rss_before) as f64 / args.connections as f64
    );

    let auth = (admin_id.as_str(), admin_token.as_str());
    let started = Instant::now();
    post_at_rate(&http, &base, auth, args.rate as f64, args.seconds).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fixed = report(
        "comet stream-room-messages fan-out",
        &observed,
        started.elapsed().as_secs_f64(),
    )
    .await;
    if let Some(baseline) = &baseline {
        println!(
            "fan-out ratio to the bare broadcast: {:.2}",
            fixed.deliveries_per_second / baseline.deliveries_per_second.max(1.0)
        );
    }

    if args.max_rate {
        observed.reset();
        let posted = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let started = Instant::now();
        let mut senders = Vec::new();
        for _ in 0..args.senders {
            let (http, base, posted, stop) =
                (http.clone(), base.clone(), posted.clone(), stop.clone());
            let (id, token) = (admin_id.clone(), admin_token.clone());
            senders.push(tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    post_timed(&http, &base, (&id, &token)).await?;
                    posted.fetch_add(1, Ordering::Relaxed);
                }
                Ok::<(), String>(())
            }));
        }
        tokio::time::sleep(Duration::from_secs(args.seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for sender in senders {
            sender.await.map_err(|e| e.to_string())??;
        }
        let posting = started.elapsed().as_secs_f64();
        tokio::time::sleep(Duration::from_secs(2)).await;
        let max_rate = posted.load(Ordering::Relaxed) as f64 / posting;
        let delivered = observed.deliveries.load(Ordering::Relaxed) as f64;
        let expected = posted.load(Ordering::Relaxed) as f64 * args.connections as f64;
        let saturated = report(
            &format!(
                "comet at the maximal rate ({} senders as fast as they can)",
                args.senders
            ),
            &observed,
            started.elapsed().as_secs_f64(),
        )
        .await;
        println!(
            "maximal rate: {max_rate:.0} msgs/s posted, {:.0} deliveries/s, {:.1}% of the expected deliveries arrived, {} connections closed by the server",
            saturated.deliveries_per_second,
            100.0 * delivered / expected.max(1.0),
            observed.closed.load(Ordering::Relaxed)
        );
        observed.reset();
        let half = (max_rate / 2.0).max(1.0);
        let started = Instant::now();
        post_at_rate(&http, &base, auth, half, args.seconds).await?;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let at_half = report(
            &format!("comet at half the maximal rate ({half:.0} msgs/s)"),
            &observed,
            started.elapsed().as_secs_f64(),
        )
        .await;
        memory_return(pid, clients, args.settle_seconds).await;
        drop(comet);
        if !args.no_baseline {
            let baseline = bare_broadcast(&args, half).await?;
            println!(
                "at half the maximal rate: deliveries ratio {:.2}, p99 {:.1} ms vs {:.1} ms",
                at_half.deliveries_per_second / baseline.deliveries_per_second.max(1.0),
                at_half.p99_ms,
                baseline.p99_ms
            );
        }
        return Ok(());
    }
    memory_return(pid, clients, args.settle_seconds).await;
    drop(comet);
    Ok(())
}

/// Closes every client connection after the load and samples Comet's RSS until `settle_seconds`
/// have passed: what an operator sees after a peak, when the clients are gone.
async fn memory_return(pid: u32, clients: Vec<tokio::task::JoinHandle<()>>, settle_seconds: u64) {
    let peak = rss_kib_of(pid).unwrap_or(0);
    for c in clients {
        c.abort();
    }
    let started = Instant::now();
    let mut samples = vec![format!("{:.1} MiB at the peak", peak as f64 / 1024.0)];
    for at in [1, 5, 10, 20, 30, 60] {
        if at > settle_seconds {
            break;
        }
        let wait = Duration::from_secs(at).saturating_sub(started.elapsed());
        tokio::time::sleep(wait).await;
        let rss = rss_kib_of(pid).unwrap_or(0);
        samples.push(format!("{:.1} MiB {at} s after", rss as f64 / 1024.0));
    }
    println!("comet RSS once every client left: {}", samples.join(", "));
}
