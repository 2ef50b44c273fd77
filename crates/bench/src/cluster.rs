//! `comet-bench cluster`: what spreading Comet over two instances costs a message on its way.
//!
//! Same PostgreSQL database, same machine, two runs: first one instance (in-process events)
//! with the sender and every listener on it; then two instances joined by NATS, the sender
//! posting to the first and every listener on the second, so that each delivery crosses
//! instances. Each run measures delivery latency at a fixed rate and the maximal rate.

use crate::realtime::{Observed, connect, open_all, post_at_rate, post_timed, report};
use crate::{CometProcess, PASSWORD, http_client, login, post_json};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

#[derive(clap::Parser)]
pub struct ClusterArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// An empty PostgreSQL database both runs use (`postgres://…`).
    #[arg(long, env = "DATABASE_URL")]
    database_url: String,
    /// The NATS server of the two-instance run (`nats://…`).
    #[arg(long, env = "NATS_URL")]
    nats_url: String,
    /// Listening connections.
    #[arg(long, default_value_t = 500)]
    connections: usize,
    /// Messages per second in the fixed-rate phase.
    #[arg(long, default_value_t = 20)]
    rate: u64,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Concurrent senders in the maximal-rate phase.
    #[arg(long, default_value_t = 8)]
    senders: usize,
}

/// Latency at the fixed rate and the maximal rate of one run.
struct RunReport {
    p50_ms: f64,
    p99_ms: f64,
    max_rate: f64,
}

async fn measure(
    args: &ClusterArgs,
    sender_base: &str,
    listener_base: &str,
    label: &str,
) -> Result<RunReport, String> {
    let http = http_client(args.senders.max(8))?;
    let admin = login(&http, sender_base, "admin").await?;
    // The listener account exists after the first run.
    let _ = post_json(
        &http,
        format!("{sender_base}/api/v1/users.create"),
        json!({"username": "listener", "email": "listener@example.com", "password": PASSWORD, "name": "Listener"}),
        Some((&admin.0, &admin.1)),
    )
    .await;
    let (_, token) = login(&http, listener_base, "listener").await?;
    let server: SocketAddr = listener_base
        .trim_start_matches("http://")
        .parse()
        .map_err(|e| format!("bad address {listener_base}: {e}"))?;
    let ws_url = format!("ws://{server}/websocket");
    let observed = Arc::new(Observed::default());
    let clients = open_all(
        args.connections,
        move |index| {
            let (ws_url, token) = (ws_url.clone(), token.clone());
            async move {
                let mut ws = connect(&ws_url, server, index, 4).await?;
                for frame in [
                    json!({"msg": "connect", "version": "1", "support": ["1"]}),
                    json!({"msg": "method", "id": "1", "method": "login", "params": [{"resume": token}]}),
                    json!({"msg": "sub", "id": "s", "name": "stream-room-messages", "params": ["GENERAL", {"useCollection": false, "args": []}]}),
                ] {
                    ws.send(Message::Text(frame.to_string().into()))
                        .await
                        .map_err(|e| e.to_string())?;
                }
                loop {
                    match ws.next().await {
                        Some(Ok(Message::Text(text))) if text.contains("\"ready\"") => break,
                        Some(Ok(_)) => continue,
                        _ => return Err("connection closed before ready".into()),
                    }
                }
                Ok(ws)
            }
        },
        &observed,
    )
    .await?;
    tokio::time::sleep(Duration::from_secs(1)).await;

    let auth = (admin.0.as_str(), admin.1.as_str());
    let started = Instant::now();
    post_at_rate(&http, sender_base, auth, args.rate as f64, args.seconds).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let fixed = report(
        &format!(
            "{label}: {} msgs/s to {} listeners",
            args.rate, args.connections
        ),
        &observed,
        started.elapsed().as_secs_f64(),
    )
    .await;

    observed.reset();
    let posted = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..args.senders {
        let (http, base, posted, stop) = (
            http.clone(),
            sender_base.to_owned(),
            posted.clone(),
            stop.clone(),
        );
        let (id, token) = admin.clone();
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
    let max_rate = posted.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let expected = posted.load(Ordering::Relaxed) as f64 * args.connections as f64;
    let delivered = observed.deliveries.load(Ordering::Relaxed) as f64;
    println!(
        "{label}: maximal rate {max_rate:.0} msgs/s, {:.1}% of the expected deliveries arrived",
        100.0 * delivered / expected.max(1.0)
    );
    for c in clients {
        c.abort();
    }
    Ok(RunReport {
        p50_ms: fixed.p50_ms,
        p99_ms: fixed.p99_ms,
        max_rate,
    })
}

pub async fn run(args: ClusterArgs) -> Result<(), String> {
    println!(
        "comet-bench cluster: {} listeners, {} msgs/s for {} s, same PostgreSQL",
        args.connections, args.rate, args.seconds
    );
    let database = ("DATABASE_URL", args.database_url.clone());
    let one = {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let a = CometProcess::start_with_env(
            &args.comet,
            4,
            dir.path(),
            std::slice::from_ref(&database),
        )
        .await?;
        let report = measure(&args, &a.base, &a.base, "one instance").await?;
        drop(a);
        report
    };
    let two = {
        let (dir_a, dir_b) = (
            tempfile::tempdir().map_err(|e| e.to_string())?,
            tempfile::tempdir().map_err(|e| e.to_string())?,
        );
        let env = [database, ("NATS_URL", args.nats_url.clone())];
        let a = CometProcess::start_with_env(&args.comet, 4, dir_a.path(), &env).await?;
        let b = CometProcess::start_with_env(&args.comet, 4, dir_b.path(), &env).await?;
        let report = measure(
            &args,
            &a.base,
            &b.base,
            "two instances (post to A, listen on B)",
        )
        .await?;
        drop((a, b));
        report
    };
    println!(
        "crossing instances adds {:.1} ms at p50 and {:.1} ms at p99; maximal rate {:.0} vs {:.0} msgs/s ({:.2})",
        two.p50_ms - one.p50_ms,
        two.p99_ms - one.p99_ms,
        two.max_rate,
        one.max_rate,
        two.max_rate / one.max_rate.max(1.0)
    );
    Ok(())
}
