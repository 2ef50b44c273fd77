//! Benchmark of the built-in translation engine (see BENCHMARKS.md, "Translation"):
//! translations per second and latency for 20-word English messages into Portuguese, with
//! the cache cold (every message new) and warm (every message seen before), against the same
//! model driven directly on one thread with no pool, queue or cache; and resident memory per
//! loaded pair.
//!
//! `cargo run --release -p comet-translate --example builtin_bench -- [MODELS_DIR] [SECONDS]`
//! (MODELS_DIR defaults to `$COMET_TRANSLATION_MODELS`, see scripts/translation-models.sh).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use comet_translate::builtin::{BuiltinConfig, BuiltinTranslator};
use comet_translate::{TranslateError, Translator};

const DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const ROOMS: [&str; 6] = [
    "kitchen",
    "library",
    "garden",
    "office",
    "cafeteria",
    "lobby",
];
const TOPICS: [&str; 8] = [
    "budget", "schedule", "website", "contract", "survey", "roadmap", "report", "campaign",
];

/// The `index`th distinct 20-word message.
fn message(index: usize) -> String {
    let hour = index % 12 + 1;
    let day = DAYS[index / 12 % DAYS.len()];
    let room = ROOMS[index / 84 % ROOMS.len()];
    let topic = TOPICS[index / 504 % TOPICS.len()];
    let message = format!(
        "On {day} at {hour} o'clock the whole team will meet in the {room} to discuss the {topic} and plan ahead."
    );
    debug_assert_eq!(message.split_whitespace().count(), 20);
    message
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|value| value.parse().ok())
        .unwrap_or(0.0);
    kib / 1024.0
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() as f64 - 1.0) * fraction).round() as usize;
    sorted[index].as_secs_f64() * 1e3
}

struct Run {
    per_second: f64,
    p50_ms: f64,
    p99_ms: f64,
    overloaded: usize,
}

/// `clients` concurrent askers, each translating one message at a time for `seconds`;
/// `next` picks the message of each request.
async fn drive(
    translator: &Arc<BuiltinTranslator>,
    clients: usize,
    seconds: f64,
    next: impl Fn(usize) -> String + Send + Sync + 'static,
) -> Run {
    let counter = Arc::new(AtomicUsize::new(0));
    let overloaded = Arc::new(AtomicUsize::new(0));
    let next = Arc::new(next);
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (translator, counter, overloaded, next) = (
            Arc::clone(translator),
            Arc::clone(&counter),
            Arc::clone(&overloaded),
            Arc::clone(&next),
        );
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < deadline {
                let text = next(counter.fetch_add(1, Ordering::SeqCst));
                let asked = Instant::now();
                match translator.translate(&[text], Some("en"), "pt").await {
                    Ok(_) => latencies.push(asked.elapsed()),
                    Err(TranslateError::Overloaded) => {
                        overloaded.fetch_add(1, Ordering::SeqCst);
                    }
                    Err(error) => panic!("translation failed: {error}"),
                }
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for task in tasks {
        latencies.extend(task.await.unwrap());
    }
    let elapsed = started.elapsed().as_secs_f64();
    latencies.sort();
    Run {
        per_second: latencies.len() as f64 / elapsed,
        p50_ms: percentile(&latencies, 0.50),
        p99_ms: percentile(&latencies, 0.99),
        overloaded: overloaded.load(Ordering::SeqCst),
    }
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let models: PathBuf = args
        .next()
        .or_else(|| std::env::var("COMET_TRANSLATION_MODELS").ok())
        .expect("a models directory (argument or COMET_TRANSLATION_MODELS)")
        .into();
    let seconds: f64 = args
        .next()
        .map_or(10.0, |value| value.parse().expect("seconds"));
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    println!("{cores} cores; {seconds} s per phase; 20-word messages, English to Portuguese");

    // Memory: the process before any model, then with each pair loaded and used.
    let before = rss_mib();
    let translator = Arc::new(
        BuiltinTranslator::open(BuiltinConfig {
            workers: cores,
            ..BuiltinConfig::new(&models)
        })
        .unwrap(),
    );
    let loading = Instant::now();
    translator
        .translate(&[message(100_000)], Some("en"), "pt")
        .await
        .unwrap();
    let first = loading.elapsed();
    let with_one = rss_mib();
    translator
        .translate(
            &["Bom dia a todos, a reunião começa às dez.".to_owned()],
            Some("pt"),
            "en",
        )
        .await
        .unwrap();
    let with_two = rss_mib();
    println!(
        "RSS: {before:.1} MiB without models, {with_one:.1} MiB with en-pt loaded (+{:.1}), {with_two:.1} MiB with pt-en too (+{:.1}); first translation incl. loading {:.0} ms",
        with_one - before,
        with_two - with_one,
        first.as_secs_f64() * 1e3
    );

    // Baseline: the model itself, one thread, nothing around it.
    let files = models.join("en-pt");
    let engine = fxtranslate::engine::Engine::load_mmapped(
        files.join("model.enpt.intgemm.alphas.bin"),
        files.join("vocab.enpt.spm"),
        files.join("vocab.enpt.spm"),
    )
    .unwrap()
    .with_shortlist(
        fxtranslate::shortlist::Shortlist::load(files.join("lex.50.50.enpt.s2t.bin")).unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    let started = Instant::now();
    let mut latencies = Vec::new();
    let mut index = 200_000;
    while Instant::now() < deadline {
        let asked = Instant::now();
        std::hint::black_box(engine.translate_long(&message(index)));
        latencies.push(asked.elapsed());
        index += 1;
    }
    let baseline = latencies.len() as f64 / started.elapsed().as_secs_f64();
    latencies.sort();
    println!(
        "baseline, the engine called directly on one thread: {baseline:.1} translations/s, p50 {:.1} ms, p99 {:.1} ms",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    drop(engine);

    for workers in [1, cores] {
        let translator = Arc::new(
            BuiltinTranslator::open(BuiltinConfig {
                workers,
                ..BuiltinConfig::new(&models)
            })
            .unwrap(),
        );
        translator
            .translate(&[message(100_000)], Some("en"), "pt")
            .await
            .unwrap();
        let clients = 4 * workers;
        // Cold: every request a message never seen (the cache never answers).
        let cold = drive(&translator, clients, seconds, message).await;
        // Warm: the first 200 of those messages again, every one already cached.
        let warm = drive(&translator, clients, seconds, |index| message(index % 200)).await;
        for (name, run) in [("cold", cold), ("warm", warm)] {
            println!(
                "{workers} worker(s), {clients} concurrent askers, cache {name}: {:.1} translations/s ({:.2}x baseline), p50 {:.3} ms, p99 {:.3} ms, {} refused as overloaded",
                run.per_second,
                run.per_second / baseline,
                run.p50_ms,
                run.p99_ms,
                run.overloaded
            );
        }
    }
}
