//! `comet-bench moderation`: what the message filters cost the message path.
//!
//! One server, posters each writing into a room of their own; phases alternate between the
//! moderation filters off (the baseline) and on (the bad-words filter with a list of
//! `--bad-words` words, one message in ten holding one of them), so both are measured in the
//! same run on the same database, and the ratio is what the filters cost.

use crate::{CometProcess, PASSWORD, http_client, load, login, post_json};
use rand::Rng;
use serde_json::{Value, json};
use std::sync::Arc;

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
}

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

async fn set_setting(
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
    Ok(())
}
