//! `comet-bench realtime`: memory per idle DDP connection, and fan-out from one room to many
//! listeners, next to a bare tokio WebSocket broadcast server measured in the same run.

use crate::{CometProcess, PASSWORD, http_client, login, post_json, rss_kib_of};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::Mutex;
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Parser)]
pub struct RealtimeArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Listening connections.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// Messages per second the sender posts.
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// Seconds the fan-out phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

fn now_micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
}

/// What the listeners observed.
#[derive(Default)]
struct Observed {
    deliveries: AtomicU64,
    latencies_us: Mutex<Vec<u64>>,
}

/// Reads frames until the socket closes, recording the latency of every frame that carries a
/// send time (`t=<micros>` in the text).
async fn listen<S>(mut socket: S, observed: Arc<Observed>)
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    while let Some(Ok(frame)) = socket.next().await {
        let Message::Text(text) = frame else { continue };
        if let Some(at) = text.find("t=") {
            let digits: String = text[at + 2..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            if let Ok(sent) = digits.parse::<u64>() {
                observed.deliveries.fetch_add(1, Ordering::Relaxed);
                observed
                    .latencies_us
                    .lock()
                    .await
                    .push(now_micros().saturating_sub(sent));
            }
        }
    }
}

fn report(name: &str, observed: &Observed, latencies: &mut [u64], seconds: f64) -> f64 {
    latencies.sort_unstable();
    let pick = |p: f64| {
        latencies
            .get(((latencies.len().max(1) - 1) as f64 * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let rate = observed.deliveries.load(Ordering::Relaxed) as f64 / seconds;
    println!(
        "{name}: {rate:.0} deliveries/s, latency p50 {:.1} ms, p99 {:.1} ms",
        pick(0.5),
        pick(0.99)
    );
    rate
}

/// The baseline: a bare tokio-tungstenite server that broadcasts each frame to every client.
async fn bare_broadcast(connections: usize, rate: u64, seconds: u64) -> Result<f64, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
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
                // Until the client goes away (so that a finished phase frees its sockets).
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
    let observed = Arc::new(Observed::default());
    let mut clients = Vec::with_capacity(connections);
    for _ in 0..connections {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}"))
            .await
            .map_err(|e| e.to_string())?;
        clients.push(tokio::spawn(listen(ws, observed.clone())));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate.max(1)));
    while started.elapsed() < Duration::from_secs(seconds) {
        tick.tick().await;
        let frame =
            json!({"msg": "changed", "fields": {"args": [{"msg": format!("t={}", now_micros())}]}});
        let _ = tx.send(Arc::from(frame.to_string()));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elapsed = started.elapsed().as_secs_f64();
    for c in clients {
        c.abort();
    }
    let mut latencies = observed.latencies_us.lock().await.clone();
    Ok(report(
        "baseline bare tokio-tungstenite broadcast",
        &observed,
        &mut latencies,
        elapsed,
    ))
}

pub async fn run(args: RealtimeArgs) -> Result<(), String> {
    println!(
        "comet-bench realtime: {} connections, {} msgs/s for {} s",
        args.connections, args.rate, args.seconds
    );
    let baseline = bare_broadcast(args.connections, args.rate, args.seconds).await?;

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let comet = CometProcess::start(&args.comet, 4, dir.path()).await?;
    let pid = comet.pid();
    let http = http_client(8)?;
    let base = comet.base.clone();
    let (admin_id, admin_token) = login(&http, &base, "admin").await?;
    post_json(&http, format!("{base}/api/v1/users.create"),
        json!({"username": "listener", "email": "listener@example.com", "password": PASSWORD, "name": "Listener"}),
        Some((&admin_id, &admin_token))).await?;
    let (_, token) = login(&http, &base, "listener").await?;
    let ws_url = format!("{}/websocket", base.replace("http://", "ws://"));

    let rss_before = rss_kib_of(pid).unwrap_or(0);
    let observed = Arc::new(Observed::default());
    let mut clients = Vec::with_capacity(args.connections);
    for _ in 0..args.connections {
        let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
            .await
            .map_err(|e| e.to_string())?;
        for frame in [
            json!({"msg": "connect", "version": "1", "support": ["1"]}),
            json!({"msg": "method", "id": "1", "method": "login", "params": [{"resume": token}]}),
            json!({"msg": "sub", "id": "s", "name": "stream-room-messages", "params": ["GENERAL", {"useCollection": false, "args": []}]}),
        ] {
            ws.send(Message::Text(frame.to_string().into()))
                .await
                .map_err(|e| e.to_string())?;
        }
        // Wait for `ready` so that the connection counts as subscribed.
        loop {
            let frame = tokio::time::timeout(Duration::from_secs(10), ws.next())
                .await
                .map_err(|_| "no ready within 10 s".to_owned())?;
            match frame {
                Some(Ok(Message::Text(text))) if text.contains("\"ready\"") => break,
                Some(Ok(_)) => continue,
                _ => return Err("connection closed before ready".into()),
            }
        }
        clients.push(tokio::spawn(listen(ws, observed.clone())));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_after = rss_kib_of(pid).unwrap_or(0);
    println!(
        "comet RSS: {:.1} MiB before, {:.1} MiB with {} idle logged-in subscribed connections: {:.1} KiB per connection",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        args.connections,
        rss_after.saturating_sub(rss_before) as f64 / args.connections as f64
    );

    let (sender_id, sender_token) = (admin_id.clone(), admin_token.clone());
    let started = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / args.rate.max(1)));
    while started.elapsed() < Duration::from_secs(args.seconds) {
        tick.tick().await;
        let text = format!("t={}", now_micros());
        let body: Value = post_json(
            &http,
            format!("{base}/api/v1/chat.postMessage"),
            json!({"roomId": "GENERAL", "text": text}),
            Some((&sender_id, &sender_token)),
        )
        .await?;
        if body["success"] != json!(true) {
            return Err(format!("post failed: {body}"));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let elapsed = started.elapsed().as_secs_f64();
    for c in clients {
        c.abort();
    }
    let mut latencies = observed.latencies_us.lock().await.clone();
    let comet_rate = report(
        "comet stream-room-messages fan-out",
        &observed,
        &mut latencies,
        elapsed,
    );
    println!(
        "fan-out ratio to the bare broadcast: {:.2}",
        comet_rate / baseline.max(1.0)
    );
    drop(comet);
    Ok(())
}
