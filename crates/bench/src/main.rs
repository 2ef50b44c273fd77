//! `comet-bench`: throughput of Comet's hot REST paths, each next to a baseline measured in the
//! same run on the same machine, so that the ratios mean something on noisy hosts.
//!
//! Everything runs on loopback and stops by itself: every load phase is bounded in time.

#![allow(
    clippy::print_stdout,
    reason = "a command-line report: printing is its purpose"
)]

use clap::Parser;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

mod cluster;
mod files;
mod messages;
mod moderation;
mod overload;
mod realtime;
mod soak;
mod translation;

#[derive(Parser)]
#[command(about = "Benchmarks Comet against same-run baselines")]
enum Benchmark {
    /// Logins/s and `me` req/s (vs bcrypt and bare axum), idle RSS with many users.
    Accounts(Args),
    /// Durable posts/s (vs the store's bare insert loop), history and search on a big room.
    Messages(messages::MessageArgs),
    /// Posts/s with the message filters on (a 1,000-word bad-words list) vs off, same run.
    Moderation(moderation::ModerationArgs),
    /// RSS per idle DDP connection, and fan-out to many listeners (vs a bare WebSocket broadcast).
    Realtime(realtime::RealtimeArgs),
    /// Messages offered at several times the sustainable rate: memory bounded, every listener
    /// gets every acknowledged message or is closed.
    Overload(overload::OverloadArgs),
    /// Hours of mixed traffic on many connections: is memory flat once warm?
    Soak(soak::SoakArgs),
    /// Delivery across two instances (PostgreSQL + NATS) vs one, on the same database.
    Cluster(cluster::ClusterArgs),
    /// Big-file upload/download MB/s vs `cp`, peak RSS, small-image uploads/s.
    Files(files::FileArgs),
    /// Posts/s and delivery latency with automatic translation on (100 members translating
    /// into Portuguese with the built-in engine) vs off, same run.
    Translation(translation::TranslationArgs),
    /// The realtime benchmark's baseline server (run by `realtime` in a child process).
    #[command(hide = true)]
    BareBroadcastServer,
}

#[derive(Parser)]
struct Args {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Concurrent clients in each load phase.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds each load phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Users to create before measuring idle memory.
    #[arg(long, default_value_t = 10_000)]
    users: usize,
}

pub(crate) use comet_bench::process::{CometProcess, PASSWORD, cpu_seconds_of, rss_kib_of};

/// Runs `clients` concurrent loops of `request` for `seconds`; returns completed requests per
/// second. A failed request stops the phase with an error.
pub(crate) async fn load<F, Fut>(clients: usize, seconds: u64, request: F) -> Result<f64, String>
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<(), String>> + Send,
{
    let request = Arc::new(request);
    let done = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients);
    for client in 0..clients {
        let (request, done, stop) = (request.clone(), done.clone(), stop.clone());
        tasks.push(tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                request(client).await?;
                done.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        match tokio::time::timeout(Duration::from_secs(30), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => return Err(e),
            Ok(Err(e)) => return Err(e.to_string()),
            Err(_) => return Err("a client did not finish within 30 s".into()),
        }
    }
    Ok(done.load(Ordering::Relaxed) as f64 / started.elapsed().as_secs_f64())
}

/// Baseline: bcrypt verifications per second on every core (what a login must do once).
async fn bcrypt_baseline(seconds: u64) -> Result<f64, String> {
    use sha2::Digest as _;
    let digest = hex::encode(sha2::Sha256::digest(PASSWORD.as_bytes()));
    let hash = bcrypt::hash(digest, 10).map_err(|e| e.to_string())?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let deadline = Instant::now() + Duration::from_secs(seconds);
    let started = Instant::now();
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let hash = hash.clone();
            std::thread::spawn(move || {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    if bcrypt::verify("x", &hash).is_ok() {
                        n += 1;
                    }
                }
                n
            })
        })
        .collect();
    let mut total = 0;
    for h in handles {
        total += h.join().map_err(|_| "bcrypt thread panicked".to_owned())?;
    }
    Ok(total as f64 / started.elapsed().as_secs_f64())
}

/// Baseline: a bare axum endpoint returning a small JSON body.
async fn hello_server() -> Result<String, String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| e.to_string())?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = axum::Router::new().route(
        "/hello",
        axum::routing::get(|| async { axum::Json(json!({"hello": "world", "success": true})) }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(format!("http://{addr}/hello"))
}

pub(crate) async fn post_json(
    http: &reqwest::Client,
    url: String,
    body: Value,
    auth: Option<(&str, &str)>,
) -> Result<Value, String> {
    let mut req = http.post(url).json(&body);
    if let Some((uid, token)) = auth {
        req = req.header("X-User-Id", uid).header("X-Auth-Token", token);
    }
    let response = req.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("{status}: {body}"));
    }
    Ok(body)
}

pub(crate) async fn login(
    http: &reqwest::Client,
    base: &str,
    user: &str,
) -> Result<(String, String), String> {
    let body = post_json(
        http,
        format!("{base}/api/v1/login"),
        json!({"user": user, "password": PASSWORD}),
        None,
    )
    .await?;
    Ok((
        body["data"]["userId"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["data"]["authToken"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    ))
}

pub(crate) fn http_client(clients: usize) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .pool_max_idle_per_host(clients)
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())
}

async fn run(args: Args) -> Result<(), String> {
    let http = http_client(args.clients)?;
    println!(
        "comet-bench: {} clients, {} s per phase",
        args.clients, args.seconds
    );

    let bcrypt_rate = bcrypt_baseline(args.seconds).await?;
    println!("baseline bcrypt(cost 10) verifications/s, all cores: {bcrypt_rate:.1}");

    let hello = hello_server().await?;
    let hello_rate = {
        let http = http.clone();
        load(args.clients, args.seconds, move |_| {
            let (http, url) = (http.clone(), hello.clone());
            async move {
                let r = http.get(url).send().await.map_err(|e| e.to_string())?;
                r.bytes().await.map_err(|e| e.to_string())?;
                Ok(())
            }
        })
        .await?
    };
    println!("baseline bare axum JSON endpoint req/s: {hello_rate:.0}");

    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let comet = CometProcess::start(&args.comet, 10, dir.path()).await?;
    let base = comet.base.clone();
    let (admin_id, admin_token) = login(&http, &base, "admin").await?;
    for i in 0..args.clients {
        post_json(
            &http,
            format!("{base}/api/v1/users.create"),
            json!({"username": format!("bench{i}"), "email": format!("bench{i}@example.com"), "password": PASSWORD, "name": format!("Bench {i}")}),
            Some((&admin_id, &admin_token)),
        )
        .await?;
    }
    let login_rate = {
        let (http, base) = (http.clone(), base.clone());
        load(args.clients, args.seconds, move |i| {
            let (http, base) = (http.clone(), base.clone());
            async move { login(&http, &base, &format!("bench{i}")).await.map(|_| ()) }
        })
        .await?
    };
    println!(
        "comet logins/s: {login_rate:.1}  (ratio to bcrypt baseline: {:.2})",
        login_rate / bcrypt_rate
    );

    let mut sessions = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        sessions.push(login(&http, &base, &format!("bench{i}")).await?);
    }
    let sessions = Arc::new(sessions);
    let cpu_before = cpu_seconds_of(comet.pid());
    let me_started = Instant::now();
    let me_rate = {
        let (http, base) = (http.clone(), base.clone());
        load(args.clients, args.seconds, move |i| {
            let (http, base, sessions) = (http.clone(), base.clone(), sessions.clone());
            async move {
                let (uid, token) = &sessions[i];
                let r = http
                    .get(format!("{base}/api/v1/me"))
                    .header("X-User-Id", uid)
                    .header("X-Auth-Token", token)
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !r.status().is_success() {
                    return Err(format!("me: {}", r.status()));
                }
                r.bytes().await.map_err(|e| e.to_string())?;
                Ok(())
            }
        })
        .await?
    };
    let me_served = me_rate * me_started.elapsed().as_secs_f64();
    println!(
        "comet authenticated `me` req/s: {me_rate:.0}  (ratio to bare axum: {:.3})",
        me_rate / hello_rate
    );
    // CPU time per request hardly depends on what else the host runs, unlike requests/s.
    if let (Some(before), Some(after)) = (cpu_before, cpu_seconds_of(comet.pid())) {
        println!(
            "comet CPU per `me` request: {:.0} µs",
            (after - before) * 1e6 / me_served.max(1.0)
        );
    }
    drop(comet);

    // Idle memory with many accounts. Hash cost does not change memory, so these users are
    // created with a cheap cost to keep the run short.
    let idle_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let comet = CometProcess::start(&args.comet, 4, idle_dir.path()).await?;
    let base = comet.base.clone();
    let rss_fresh = comet.rss_kib().unwrap_or(0);
    let (admin_id, admin_token) = login(&http, &base, "admin").await?;
    let created = Arc::new(AtomicU64::new(0));
    let per_client = args.users.div_ceil(args.clients.max(1));
    let mut tasks = Vec::new();
    for c in 0..args.clients {
        let (http, base, admin_id, admin_token, created) = (
            http.clone(),
            base.clone(),
            admin_id.clone(),
            admin_token.clone(),
            created.clone(),
        );
        let total = args.users;
        tasks.push(tokio::spawn(async move {
            for k in 0..per_client {
                let i = c * per_client + k;
                if i >= total {
                    break;
                }
                post_json(
                    &http,
                    format!("{base}/api/v1/users.create"),
                    json!({"username": format!("idle{i}"), "email": format!("idle{i}@example.com"), "password": PASSWORD, "name": format!("Idle {i}")}),
                    Some((&admin_id, &admin_token)),
                )
                .await?;
                created.fetch_add(1, Ordering::Relaxed);
            }
            Ok::<(), String>(())
        }));
    }
    for t in tasks {
        t.await.map_err(|e| e.to_string())??;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_idle = comet.rss_kib().unwrap_or(0);
    println!(
        "comet RSS: {:.1} MiB fresh, {:.1} MiB idle after creating {} users",
        rss_fresh as f64 / 1024.0,
        rss_idle as f64 / 1024.0,
        created.load(Ordering::Relaxed)
    );
    Ok(())
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // reqwest is built without a bundled TLS crypto provider (see the workspace Cargo.toml).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let benchmark = async {
        match Benchmark::parse() {
            Benchmark::Accounts(args) => run(args).await,
            Benchmark::Messages(args) => messages::run(args).await,
            Benchmark::Moderation(args) => moderation::run(args).await,
            Benchmark::Realtime(args) => realtime::run(args).await,
            Benchmark::BareBroadcastServer => realtime::bare_broadcast_server().await,
            Benchmark::Cluster(args) => cluster::run(args).await,
            Benchmark::Overload(args) => overload::run(args).await,
            Benchmark::Soak(args) => soak::run(args).await,
            Benchmark::Files(args) => files::run(args).await,
            Benchmark::Translation(args) => translation::run(args).await,
        }
    };
    let outcome = comet_bench::process::until_stopped(benchmark)
        .await
        .and_then(|outcome| outcome);
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("comet-bench failed: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
