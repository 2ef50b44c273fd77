//! `comet-bench moderation`: what the message filters cost the message path.
//!
//! One server, posters each writing into a room of their own; phases alternate between the
//! moderation filters off (the baseline) and on (the bad-words filter with a list of
//! `--bad-words` words, one message in ten holding one of them), so both are measured in the
//! same run on the same database, and the ratio is what the filters cost.
//!
//! Then the audit log: `--audit-entries` entries appended through the store (as the server
//! appends them: hashed into the chain one after another) by 100 actors, and `audit.log`
//! filtered by one actor, newest page first, timed over HTTP and, as the baseline, as the
//! store's own query without HTTP, authentication or JSON.

use crate::{CometProcess, PASSWORD, http_client, load, login, post_json};
use comet_core::audit::AuditDraft;
use comet_store::{AuditFilter, AuditStore};
use comet_store_sqlite::{SqliteDatabase, SqliteStore, Synchronous};
use rand::Rng;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(clap::Parser)]
pub struct ModerationArgs {
    /// The comet binary to measure (build it with --release first).
    #[arg(long, default_value = "target/release/comet")]
    comet: String,
    /// Concurrent posters.
    #[arg(long, default_value_t = 64)]
    clients: usize,
    /// Seconds each phase runs.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Off/on phase pairs.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Words in the bad-words list.
    #[arg(long, default_value_t = 1_000)]
    bad_words: usize,
    /// Entries in the audit log whose listing is timed.
    #[arg(long, default_value_t = 1_000_000)]
    audit_entries: u64,
    /// Sequential `audit.log` requests timed (and as many store queries).
    #[arg(long, default_value_t = 500)]
    audit_queries: usize,
}

/// Actors of the seeded audit entries.
const AUDIT_ACTORS: u64 = 100;

const VOCABULARY: &[&str] = &[
    "deploy", "server", "release", "review", "lunch", "meeting", "incident", "database", "latency",
    "coffee", "ticket", "merge", "branch", "rollback", "monitor", "alert", "customer", "design",
    "café", "naïve", "queue", "backup", "cluster", "token",
];

/// The `n`-th listed word: made-up words that never occur in ordinary text.
fn bad_word(n: usize) -> String {
    format!("zorblax{n:04}")
}

fn message(rng: &mut impl Rng, bad_words: usize) -> String {
    let mut words: Vec<String> = (0..12)
        .map(|_| VOCABULARY[rng.random_range(0..VOCABULARY.len())].to_owned())
        .collect();
    if bad_words > 0 && rng.random_range(0..10) == 0 {
        let at = rng.random_range(0..words.len());
        words[at] = bad_word(rng.random_range(0..bad_words));
    }
    words.join(" ")
}

pub(crate) async fn set_setting(
    http: &reqwest::Client,
    base: &str,
    admin: (&str, &str),
    id: &str,
    value: Value,
) -> Result<(), String> {
    post_json(
        http,
        format!("{base}/api/v1/settings/{id}"),
        json!({ "value": value }),
        Some(admin),
    )
    .await
    .map(drop)
}

pub async fn run(args: ModerationArgs) -> Result<(), String> {
    let http = http_client(args.clients)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    println!(
        "comet-bench moderation: {} posters, {} rounds of {} s off / {} s on, {} bad words",
        args.clients, args.rounds, args.seconds, args.seconds, args.bad_words
    );
    let comet = CometProcess::start(&args.comet, 4, dir.path()).await?;
    let base = comet.base.clone();
    let (admin_id, admin_token) = login(&http, &base, "admin").await?;
    let admin = (admin_id.as_str(), admin_token.as_str());
    let mut rooms = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        post_json(&http, format!("{base}/api/v1/users.create"),
            json!({"username": format!("poster{i}"), "email": format!("poster{i}@example.com"), "password": PASSWORD, "name": format!("Poster {i}")}),
            Some(admin)).await?;
        let room = post_json(
            &http,
            format!("{base}/api/v1/channels.create"),
            json!({"name": format!("room{i}"), "members": [format!("poster{i}")]}),
            Some(admin),
        )
        .await?;
        rooms.push(
            room["channel"]["_id"]
                .as_str()
                .ok_or("channels.create gave no id")?
                .to_owned(),
        );
    }
    let list = (0..args.bad_words)
        .map(bad_word)
        .collect::<Vec<_>>()
        .join(",");
    set_setting(
        &http,
        &base,
        admin,
        "Message_BadWordsFilterList",
        json!(list),
    )
    .await?;
    let mut sessions = Vec::with_capacity(args.clients);
    for i in 0..args.clients {
        sessions.push(login(&http, &base, &format!("poster{i}")).await?);
    }
    let (sessions, rooms) = (Arc::new(sessions), Arc::new(rooms));

    let mut rates = [Vec::new(), Vec::new()];
    for round in 0..args.rounds {
        for (phase, filters_on) in [false, true].into_iter().enumerate() {
            set_setting(
                &http,
                &base,
                admin,
                "Message_AllowBadWordsFilter",
                json!(filters_on),
            )
            .await?;
            let (http, base, sessions, rooms) =
                (http.clone(), base.clone(), sessions.clone(), rooms.clone());
            let bad_words = args.bad_words;
            let rate = load(args.clients, args.seconds, move |i| {
                let (http, base, sessions, rooms) =
                    (http.clone(), base.clone(), sessions.clone(), rooms.clone());
                async move {
                    let text = message(&mut rand::rng(), bad_words);
                    let (uid, token) = &sessions[i];
                    post_json(
                        &http,
                        format!("{base}/api/v1/chat.postMessage"),
                        json!({"roomId": rooms[i], "text": text}),
                        Some((uid, token)),
                    )
                    .await
                    .map(drop)
                }
            })
            .await?;
            println!(
                "round {}: filters {}: {rate:.0} posts/s",
                round + 1,
                if filters_on { "on " } else { "off" }
            );
            rates[phase].push(rate);
        }
    }
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    let (off, on) = (mean(&rates[0]), mean(&rates[1]));
    println!(
        "chat.postMessage, {} posters into {} rooms: filters off {off:.0} posts/s, on {on:.0} posts/s (ratio {:.2})",
        args.clients,
        args.clients,
        on / off.max(f64::MIN_POSITIVE)
    );
    drop(comet);
    audit_listing(&args, dir.path(), &http).await
}

/// The audit log seeded with `--audit-entries` entries, then listed by actor.
async fn audit_listing(
    args: &ModerationArgs,
    dir: &std::path::Path,
    http: &reqwest::Client,
) -> Result<(), String> {
    let url = format!("sqlite://{}", dir.join("comet.db").display());
    // The seed need not survive a power cut: sync at checkpoints only.
    let store = SqliteDatabase::open_url_with(&url, Synchronous::Normal)
        .await
        .map(SqliteStore::new)
        .map_err(|e| e.to_string())?;
    let started = Instant::now();
    let base_time = comet_core::now() - chrono::Duration::days(30);
    let actions = [
        "user.update",
        "room.mute",
        "setting.update",
        "message.delete",
        "room.ban",
    ];
    let mut rng = rand::rng();
    for n in 0..args.audit_entries {
        let actor = n % AUDIT_ACTORS;
        let target = rng.random_range(0..10_000u32);
        let draft = AuditDraft {
            at: base_time + chrono::Duration::milliseconds(n as i64 * 2),
            actor_id: format!("actor-id-{actor}"),
            actor_username: format!("moderator{actor}"),
            action: actions[(n % actions.len() as u64) as usize].to_owned(),
            target_kind: "user".to_owned(),
            target_id: format!("user-id-{target}"),
            target_name: Some(format!("user{target}")),
            client_address: Some("198.51.100.7".to_owned()),
            user_agent: None,
            before: Some(format!(r#"{{"name":"before {n}"}}"#)),
            after: Some(format!(r#"{{"name":"after {n}"}}"#)),
        };
        store
            .append_audit(&draft)
            .await
            .map_err(|e| e.to_string())?;
    }
    println!(
        "seeded {} audit entries ({} actors) in {:.0} s",
        args.audit_entries,
        AUDIT_ACTORS,
        started.elapsed().as_secs_f64()
    );
    let mut direct = Vec::with_capacity(args.audit_queries);
    for _ in 0..args.audit_queries {
        let filter = AuditFilter {
            actor: Some(format!("moderator{}", rng.random_range(0..AUDIT_ACTORS))),
            ..AuditFilter::default()
        };
        let at = Instant::now();
        let (page, _) = store
            .list_audit(&filter, 0, Some(50))
            .await
            .map_err(|e| e.to_string())?;
        direct.push(at.elapsed());
        if page.len() != 50 {
            return Err(format!("the store listed {} entries, not 50", page.len()));
        }
    }
    store.close().await;

    let comet = CometProcess::start(&args.comet, 4, dir).await?;
    let admin = login(http, &comet.base, "admin").await?;
    let mut served = Vec::with_capacity(args.audit_queries);
    for _ in 0..args.audit_queries {
        let actor = format!("moderator{}", rng.random_range(0..AUDIT_ACTORS));
        let at = Instant::now();
        let response = http
            .get(format!("{}/api/v1/audit.log", comet.base))
            .query(&[("actor", actor.as_str()), ("count", "50")])
            .header("X-User-Id", &admin.0)
            .header("X-Auth-Token", &admin.1)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let body: Value = response.json().await.map_err(|e| e.to_string())?;
        served.push(at.elapsed());
        if body["entries"].as_array().map(Vec::len) != Some(50) {
            return Err(format!("audit.log: {body}"));
        }
    }
    let (direct_p50, direct_p99) = percentiles(&mut direct);
    let (served_p50, served_p99) = percentiles(&mut served);
    println!(
        "audit.log by actor (50 newest of {} entries): p50 {:.1} ms, p99 {:.1} ms; store query alone p50 {:.1} ms, p99 {:.1} ms (p99 ratio {:.2})",
        args.audit_entries,
        ms(served_p50),
        ms(served_p99),
        ms(direct_p50),
        ms(direct_p99),
        ms(served_p99) / ms(direct_p99).max(f64::MIN_POSITIVE)
    );
    Ok(())
}

pub(crate) fn percentiles(samples: &mut [Duration]) -> (Duration, Duration) {
    samples.sort();
    let at = |p: f64| {
        samples
            .get(((samples.len() as f64 * p) as usize).min(samples.len().saturating_sub(1)))
            .copied()
            .unwrap_or_default()
    };
    (at(0.50), at(0.99))
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
