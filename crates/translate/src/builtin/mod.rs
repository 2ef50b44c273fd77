//! The built-in engine: Firefox Translations' Marian models run in-process by `fxtranslate`,
//! so no text leaves the machine and no key or extra service is needed.
//!
//! Models come from a directory of `<src>-<trg>/` pair directories (see [`models`]); a pair
//! without a model of its own goes through English ([`route`]). Translation is CPU work, so
//! it runs on a small pool of OS threads, never on the async runtime and never more threads
//! than cores, fed by a bounded queue: when the queue is full a request fails at once with
//! [`TranslateError::Overloaded`] and the caller drops that translation. Finished translations
//! are cached by text and language pair; a model is memory-mapped on first use and unmapped
//! after a while without use.

mod cache;
mod detect;
mod models;
mod route;

/// A text's language among candidate codes: the service asks it once per message, since the
/// prose it sends between kept tokens is too short to tell.
pub use detect::detect as detect_language;
pub use route::{PIVOT_LANGUAGE, Pair, Route, RoutePlanner};

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use fxtranslate::engine::Engine;
use tokio::sync::oneshot;

use crate::{TranslateError, Translator};
use cache::{CacheKey, TranslationCache};
use models::ModelFiles;

/// What the built-in engine writes into a message's `translationProvider`.
pub const PROVIDER_ID: &str = "comet-builtin";

/// How the built-in engine runs.
#[derive(Debug, Clone)]
pub struct BuiltinConfig {
    /// The directory holding one `<src>-<trg>/` directory per installed pair.
    pub models_dir: PathBuf,
    /// Translating threads; at least one and at most the machine's cores.
    pub workers: usize,
    /// Requests waiting for a thread beyond which new ones are refused as overloaded.
    pub queue_capacity: usize,
    /// Translations kept for reuse (0: none).
    pub cache_entries: usize,
    /// A model unused for this long is unloaded (its mapping and working memory released).
    pub idle_unload: Duration,
}

impl BuiltinConfig {
    /// Defaults: one core left to the server itself on machines with more than one (posting
    /// must never wait behind translation), 256 waiting requests, 10 000 cached
    /// translations, models unloaded after 10 minutes unused.
    pub fn new(models_dir: impl Into<PathBuf>) -> BuiltinConfig {
        BuiltinConfig {
            models_dir: models_dir.into(),
            workers: available_cores().saturating_sub(1).max(1),
            queue_capacity: 256,
            cache_entries: 10_000,
            idle_unload: Duration::from_secs(600),
        }
    }
}

/// Puts the calling translation thread under Linux's `SCHED_IDLE` policy: it runs when the
/// rest of the server leaves a core free, so posting and delivery never wait behind a
/// translation (measured in BENCHMARKS.md); when the server is saturated, translations slow
/// down and the bounded queue drops them instead. Elsewhere threads keep the normal policy.
fn yield_to_the_server() {
    #[cfg(target_os = "linux")]
    {
        use thread_priority::unix::{
            NormalThreadSchedulePolicy, ThreadSchedulePolicy, set_thread_priority_and_policy,
            thread_native_id,
        };
        let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Idle);
        if let Err(error) = set_thread_priority_and_policy(
            thread_native_id(),
            thread_priority::ThreadPriority::Min,
            idle,
        ) {
            tracing::warn!(
                ?error,
                "translation thread keeps the normal scheduling policy"
            );
        }
    }
}

fn available_cores() -> usize {
    std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
}

/// A snapshot of the engine's state, for metrics and tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinStats {
    pub workers: usize,
    /// Requests waiting for a thread.
    pub queued: usize,
    /// Requests being translated now.
    pub running: usize,
    /// Texts answered from the cache.
    pub cache_hits: u64,
    /// Texts that had to be translated by a model.
    pub cache_misses: u64,
    /// Translations in the cache.
    pub cached_entries: usize,
    /// Pairs whose model is loaded now, as `<src>-<trg>`.
    pub loaded_pairs: Vec<String>,
}

/// The built-in translator. Dropping it stops its threads once their current work is done.
pub struct BuiltinTranslator {
    shared: Arc<Shared>,
    workers: usize,
}

struct Shared {
    planner: RoutePlanner,
    pairs: HashMap<Pair, ModelFiles>,
    /// The pairs the owner thread has loaded, as `<src>-<trg>`, for [`BuiltinStats`].
    loaded_pairs: Mutex<BTreeSet<String>>,
    queue: Mutex<Queue>,
    job_ready: Condvar,
    queue_capacity: usize,
    idle_unload: Duration,
    cache: Mutex<TranslationCache>,
    cache_hits: AtomicU64,
    cache_misses: AtomicU64,
    running: AtomicUsize,
}

#[derive(Default)]
struct Queue {
    jobs: VecDeque<Job>,
    closed: bool,
}

struct Job {
    route: Route,
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<String>, TranslateError>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic inside the engine is caught where it happens; the data behind these locks is
    // consistent at every await-free point, so a poisoned lock is still usable.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl BuiltinTranslator {
    /// Finds the installed pairs (no model is loaded yet) and starts the threads.
    pub fn open(config: BuiltinConfig) -> Result<BuiltinTranslator, TranslateError> {
        let installed = models::discover(&config.models_dir)?;
        let planner = RoutePlanner::new(installed.iter().map(|files| files.pair.clone()));
        let pairs = installed
            .into_iter()
            .map(|files| (files.pair.clone(), files))
            .collect();
        let shared = Arc::new(Shared {
            planner,
            pairs,
            loaded_pairs: Mutex::new(BTreeSet::new()),
            queue: Mutex::new(Queue::default()),
            job_ready: Condvar::new(),
            queue_capacity: config.queue_capacity.max(1),
            idle_unload: config.idle_unload,
            cache: Mutex::new(TranslationCache::new(config.cache_entries)),
            cache_hits: AtomicU64::new(0),
            cache_misses: AtomicU64::new(0),
            running: AtomicUsize::new(0),
        });
        let workers = config.workers.clamp(1, available_cores());
        let translator = BuiltinTranslator {
            shared: Arc::clone(&shared),
            workers,
        };
        // One thread owns the models; the other workers are its scoped helpers.
        std::thread::Builder::new()
            .name("comet-translate".to_owned())
            .spawn(move || {
                yield_to_the_server();
                shared.own(workers - 1)
            })
            .map_err(|error| {
                TranslateError::Configuration(format!(
                    "cannot start the translation thread: {error}"
                ))
            })?;
        tracing::info!(
            models_dir = %config.models_dir.display(),
            pairs = ?translator.installed_pairs(),
            workers,
            "built-in translation engine ready"
        );
        Ok(translator)
    }

    /// The installed pairs as `<src>-<trg>`.
    pub fn installed_pairs(&self) -> Vec<String> {
        self.shared
            .planner
            .pairs()
            .map(ToString::to_string)
            .collect()
    }

    pub fn stats(&self) -> BuiltinStats {
        let loaded_pairs = lock(&self.shared.loaded_pairs).iter().cloned().collect();
        BuiltinStats {
            workers: self.workers,
            queued: lock(&self.shared.queue).jobs.len(),
            running: self.shared.running.load(Ordering::SeqCst),
            cache_hits: self.shared.cache_hits.load(Ordering::SeqCst),
            cache_misses: self.shared.cache_misses.load(Ordering::SeqCst),
            cached_entries: lock(&self.shared.cache).len(),
            loaded_pairs,
        }
    }

    /// Translates `texts` through each of `languages` in turn, every step a direct installed
    /// model (e.g. `["pt", "en", "pt"]`), bypassing the cache: for checking an installation
    /// and a pivot's quality from the models at hand.
    pub async fn translate_along(
        &self,
        texts: &[String],
        languages: &[&str],
    ) -> Result<Vec<String>, TranslateError> {
        let route = self.shared.planner.chain(languages).ok_or_else(|| {
            TranslateError::UnsupportedPair {
                source_language: languages.first().copied().unwrap_or_default().to_owned(),
                target_language: languages.last().copied().unwrap_or_default().to_owned(),
            }
        })?;
        self.shared
            .submit(vec![(route, texts.to_vec())])?
            .remove(0)
            .await
    }
}

impl Drop for BuiltinTranslator {
    fn drop(&mut self) {
        lock(&self.shared.queue).closed = true;
        self.shared.job_ready.notify_all();
    }
}

/// What happens to one text of a request.
enum Plan {
    Unchanged,
    Cached(String),
    Translate { route: Route, key: CacheKey },
}

#[async_trait]
impl Translator for BuiltinTranslator {
    fn provider_id(&self) -> &'static str {
        PROVIDER_ID
    }

    async fn supported_languages(&self) -> Result<Vec<String>, TranslateError> {
        Ok(self.shared.planner.target_languages().into_iter().collect())
    }

    async fn translate(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target_language: &str,
    ) -> Result<Vec<String>, TranslateError> {
        let unsupported = |source: &str| TranslateError::UnsupportedPair {
            source_language: source.to_owned(),
            target_language: target_language.to_owned(),
        };
        let planner = &self.shared.planner;
        // Detection also considers the target, so a text already in it is left alone; but only
        // a target some model produces, or every guess of it would pass as "already there".
        let mut candidates: BTreeSet<String> = planner.source_languages();
        if planner.translates_into(target_language) {
            candidates.insert(target_language.to_ascii_lowercase());
        }

        let mut plans = Vec::with_capacity(texts.len());
        for text in texts {
            if !text.chars().any(char::is_alphabetic) {
                plans.push(Plan::Unchanged);
                continue;
            }
            let source = match source_language {
                Some(source) => source.to_owned(),
                None => match detect::detect(text, candidates.iter().map(String::as_str)) {
                    Some(detected) => detected,
                    None => {
                        plans.push(Plan::Unchanged);
                        continue;
                    }
                },
            };
            let route = planner
                .plan(&source, target_language)
                .ok_or_else(|| unsupported(&source))?;
            let (Some(first), Some(last)) = (route.legs.first(), route.legs.last()) else {
                plans.push(Plan::Unchanged);
                continue;
            };
            let key = CacheKey {
                text: text.clone(),
                source_language: first.source.clone(),
                target_language: last.target.clone(),
            };
            match lock(&self.shared.cache).get(&key) {
                Some(cached) => {
                    self.shared.cache_hits.fetch_add(1, Ordering::SeqCst);
                    plans.push(Plan::Cached(cached));
                }
                None => {
                    self.shared.cache_misses.fetch_add(1, Ordering::SeqCst);
                    plans.push(Plan::Translate { route, key });
                }
            }
        }

        // One job per distinct route (a request is nearly always one route).
        let mut batches: Vec<(Route, Vec<String>)> = Vec::new();
        for plan in &plans {
            if let Plan::Translate { route, key } = plan {
                match batches.iter_mut().find(|(existing, _)| existing == route) {
                    Some((_, batch)) => batch.push(key.text.clone()),
                    None => batches.push((route.clone(), vec![key.text.clone()])),
                }
            }
        }
        let routes: Vec<Route> = batches.iter().map(|(route, _)| route.clone()).collect();
        let mut translated: Vec<VecDeque<String>> = Vec::with_capacity(routes.len());
        for reply in self.shared.submit(batches)? {
            translated.push(reply.await?.into());
        }

        let mut answers = Vec::with_capacity(texts.len());
        for (text, plan) in texts.iter().zip(plans) {
            match plan {
                Plan::Unchanged => answers.push(text.clone()),
                Plan::Cached(cached) => answers.push(cached),
                Plan::Translate { route, key } => {
                    let batch = routes
                        .iter()
                        .position(|candidate| *candidate == route)
                        .and_then(|index| translated.get_mut(index))
                        .and_then(VecDeque::pop_front)
                        .ok_or_else(|| {
                            TranslateError::Provider("a translation went missing".to_owned())
                        })?;
                    lock(&self.shared.cache).insert(key, batch.clone());
                    answers.push(batch);
                }
            }
        }
        Ok(answers)
    }
}

type Reply = std::pin::Pin<Box<dyn Future<Output = Result<Vec<String>, TranslateError>> + Send>>;

/// The models loaded now, owned by the owner thread (an engine must be dropped on the
/// thread that built it) and lent to the helpers, with when each was last used.
struct Loaded {
    engines: HashMap<Pair, Engine>,
    last_used: Mutex<HashMap<Pair, Instant>>,
}

impl Loaded {
    fn touch(&self, pair: &Pair) {
        lock(&self.last_used).insert(pair.clone(), Instant::now());
    }

    fn idle(&self, idle_unload: Duration) -> Vec<Pair> {
        lock(&self.last_used)
            .iter()
            .filter(|(_, used)| used.elapsed() >= idle_unload)
            .map(|(pair, _)| pair.clone())
            .collect()
    }
}

impl Shared {
    /// Queues every batch or none: refused at once when they do not all fit.
    fn submit(&self, batches: Vec<(Route, Vec<String>)>) -> Result<Vec<Reply>, TranslateError> {
        let mut queue = lock(&self.queue);
        if queue.closed {
            return Err(stopped());
        }
        if queue.jobs.len() + batches.len() > self.queue_capacity {
            return Err(TranslateError::Overloaded);
        }
        let mut replies: Vec<Reply> = Vec::with_capacity(batches.len());
        for (route, texts) in batches {
            let (reply, answer) = oneshot::channel();
            queue.jobs.push_back(Job {
                route,
                texts,
                reply,
            });
            replies.push(Box::pin(async move {
                answer.await.unwrap_or_else(|_| Err(stopped()))
            }));
        }
        drop(queue);
        self.job_ready.notify_all();
        Ok(replies)
    }

    fn sweep_interval(&self) -> Duration {
        (self.idle_unload / 4).clamp(Duration::from_millis(10), Duration::from_secs(60))
    }

    /// The owner thread: loads the models the next request needs, then serves requests
    /// with `helpers` more threads borrowing the loaded models, until a request needs a model
    /// not loaded or a loaded one has been idle long enough to unload; both happen here,
    /// between those rounds, when no helper is running.
    fn own(&self, helpers: usize) {
        let mut loaded = Loaded {
            engines: HashMap::new(),
            last_used: Mutex::new(HashMap::new()),
        };
        loop {
            let missing = {
                let mut queue = lock(&self.queue);
                if queue.closed {
                    return;
                }
                if queue.jobs.is_empty() {
                    let (waited, _) = self
                        .job_ready
                        .wait_timeout(queue, self.sweep_interval())
                        .unwrap_or_else(PoisonError::into_inner);
                    queue = waited;
                }
                queue.jobs.front().map(|job| {
                    job.route
                        .legs
                        .iter()
                        .filter(|leg| !loaded.engines.contains_key(leg))
                        .cloned()
                        .collect::<Vec<Pair>>()
                })
            };
            for pair in missing.unwrap_or_default() {
                if let Err(error) = self.load(&pair, &mut loaded) {
                    // Only this thread takes jobs between rounds, so the front is still the
                    // job that needed the model.
                    if let Some(job) = lock(&self.queue).jobs.pop_front() {
                        let _unused = job.reply.send(Err(error));
                    }
                    break;
                }
            }
            if !lock(&self.queue).jobs.is_empty() {
                let lent = &loaded;
                std::thread::scope(|scope| {
                    for index in 1..=helpers {
                        let spawned = std::thread::Builder::new()
                            .name(format!("comet-translate-{index}"))
                            .spawn_scoped(scope, move || {
                                yield_to_the_server();
                                self.serve(lent)
                            });
                        if let Err(error) = spawned {
                            tracing::warn!(%error, "cannot start a translation helper thread");
                        }
                    }
                    self.serve(lent);
                });
            }
            self.unload_idle(&mut loaded);
        }
    }

    fn load(&self, pair: &Pair, loaded: &mut Loaded) -> Result<(), TranslateError> {
        let files = self
            .pairs
            .get(pair)
            .ok_or_else(|| TranslateError::UnsupportedPair {
                source_language: pair.source.clone(),
                target_language: pair.target.clone(),
            })?;
        let started = Instant::now();
        let engine = models::load(files)?;
        tracing::info!(pair = %pair, elapsed_ms = started.elapsed().as_millis() as u64, "translation model loaded");
        loaded.engines.insert(pair.clone(), engine);
        loaded.touch(pair);
        lock(&self.loaded_pairs).insert(pair.to_string());
        Ok(())
    }

    fn unload_idle(&self, loaded: &mut Loaded) {
        for pair in loaded.idle(self.idle_unload) {
            loaded.engines.remove(&pair);
            lock(&loaded.last_used).remove(&pair);
            lock(&self.loaded_pairs).remove(&pair.to_string());
            tracing::info!(pair = %pair, "idle translation model unloaded");
        }
    }

    /// Takes and runs requests whose models are loaded; returns when the translator closes,
    /// when the next request needs another model, or when nothing is waiting and a loaded
    /// model is due to be unloaded.
    fn serve(&self, loaded: &Loaded) {
        loop {
            let job = {
                let mut queue = lock(&self.queue);
                loop {
                    if queue.closed {
                        return;
                    }
                    match queue.jobs.front() {
                        Some(front)
                            if front
                                .route
                                .legs
                                .iter()
                                .all(|leg| loaded.engines.contains_key(leg)) =>
                        {
                            break queue.jobs.pop_front();
                        }
                        Some(_) => {
                            // Wake the others so they also make way for the owner to load it.
                            self.job_ready.notify_all();
                            return;
                        }
                        None => {
                            let (waited, timeout) = self
                                .job_ready
                                .wait_timeout(queue, self.sweep_interval())
                                .unwrap_or_else(PoisonError::into_inner);
                            queue = waited;
                            if timeout.timed_out()
                                && queue.jobs.is_empty()
                                && !loaded.idle(self.idle_unload).is_empty()
                            {
                                return;
                            }
                        }
                    }
                }
            };
            let Some(job) = job else { continue };
            // The asker gave up (its request was cancelled): nobody wants this work.
            if job.reply.is_closed() {
                continue;
            }
            self.running.fetch_add(1, Ordering::SeqCst);
            let answer = run(loaded, &job.route, job.texts);
            self.running.fetch_sub(1, Ordering::SeqCst);
            // The asker may have gone meanwhile; the answer is then simply unused.
            let _unused = job.reply.send(answer);
        }
    }
}

fn stopped() -> TranslateError {
    TranslateError::Provider("the translation engine has stopped".to_owned())
}

fn run(
    loaded: &Loaded,
    route: &Route,
    mut texts: Vec<String>,
) -> Result<Vec<String>, TranslateError> {
    for leg in &route.legs {
        let engine = loaded
            .engines
            .get(leg)
            .ok_or_else(|| TranslateError::UnsupportedPair {
                source_language: leg.source.clone(),
                target_language: leg.target.clone(),
            })?;
        loaded.touch(leg);
        let translated = std::panic::catch_unwind(AssertUnwindSafe(|| {
            texts
                .iter()
                .map(|text| translate_keeping_lines(engine, text))
                .collect::<Vec<String>>()
        }))
        .map_err(|_| TranslateError::Provider(format!("the {leg} model failed on this text")))?;
        texts = translated;
        loaded.touch(leg);
    }
    Ok(texts)
}

/// Translates line by line so a multi-line text keeps its line breaks, blank lines and each
/// line's indentation; lines without letters (rules, numbers, emoji) are kept as they are.
/// Within a line the engine splits sentences itself.
fn translate_keeping_lines(engine: &Engine, text: &str) -> String {
    let mut translated = String::with_capacity(text.len() + text.len() / 4);
    for line in text.split_inclusive('\n') {
        let content = line.trim_end_matches(['\n', '\r']);
        let ending = &line[content.len()..];
        let trimmed = content.trim();
        if !trimmed.chars().any(char::is_alphabetic) {
            translated.push_str(line);
            continue;
        }
        let leading = &content[..content.len() - content.trim_start().len()];
        let trailing = &content[content.trim_end().len()..];
        translated.push_str(leading);
        translated.push_str(&engine.translate_long(trimmed));
        translated.push_str(trailing);
        translated.push_str(ending);
    }
    translated
}
