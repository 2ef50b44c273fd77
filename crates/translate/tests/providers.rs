//! The HTTP translation providers against local stand-ins for the services.
//!
//! Google, DeepL, Microsoft and LibreTranslate cannot be reached from where these tests run, so
//! each test starts a local HTTP server on 127.0.0.1 that replays the service's documented wire
//! format (request paths, headers and bodies as each service's API reference describes them,
//! and its documented answers and error bodies), records every request the provider sends and
//! asserts them. They prove the providers speak the documented protocol, not that the real
//! services still answer as documented.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use comet_translate::providers::{
    DeeplConfig, DeeplTranslate, GoogleConfig, GoogleTranslate, LibreTranslate,
    LibreTranslateConfig, MicrosoftConfig, MicrosoftTranslate, ProviderOptions,
};
use comet_translate::{TranslateError, Translator};
use serde_json::{Value, json};

/// Every wait in these tests ends within this.
const TEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A request as the stand-in received it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    headers: HeaderMap,
    body: Value,
}

impl Recorded {
    fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// The stand-in's answer to one request.
struct Reply {
    status: u16,
    body: Value,
    delay: Duration,
}

fn reply(status: u16, body: Value) -> Reply {
    Reply {
        status,
        body,
        delay: Duration::ZERO,
    }
}

type Responder = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

#[derive(Clone)]
struct Stand {
    responder: Responder,
    requests: Arc<Mutex<Vec<Recorded>>>,
}

/// A local HTTP server answering as `responder` says and recording what it was sent.
struct Service {
    base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Service {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Service {
    async fn start(responder: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stand = Stand {
            responder: Arc::new(responder),
            requests: requests.clone(),
        };
        let router = axum::Router::new().fallback(answer).with_state(stand);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind a local port");
        let address = listener.local_addr().expect("local address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            base_url: format!("http://{address}"),
            requests,
            task,
        }
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("requests lock").clone()
    }

    fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|r| r.path == path)
            .collect()
    }

    fn options(&self) -> ProviderOptions {
        ProviderOptions {
            base_url: Some(self.base_url.clone()),
            ..ProviderOptions::default()
        }
    }
}

async fn answer(State(stand): State<Stand>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, 1024 * 1024)
        .await
        .unwrap_or_default();
    let query = parts
        .uri
        .query()
        .map(|q| {
            reqwest::Url::parse(&format!("http://stand/?{q}"))
                .map(|url| url.query_pairs().into_owned().collect())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let recorded = Recorded {
        method: parts.method.to_string(),
        path: parts.uri.path().to_owned(),
        query,
        headers: parts.headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    };
    stand
        .requests
        .lock()
        .expect("requests lock")
        .push(recorded.clone());
    let reply = (stand.responder)(&recorded);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (
        status,
        [("content-type", "application/json")],
        Body::from(reply.body.to_string()),
    )
        .into_response()
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(TEST_TIMEOUT, future)
        .await
        .expect("the provider answered in time")
}

fn texts(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

/// "pt:<text>" for each text of a request: what the stand-ins answer as translations.
fn tagged(target: &str, items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|t| format!("{target}:{}", t.as_str().unwrap_or_default()))
        .collect()
}

fn assert_configuration(result: Result<Vec<String>, TranslateError>, secret: &str) {
    match result {
        Err(TranslateError::Configuration(message)) => {
            assert!(!message.contains(secret), "the key leaked: {message}")
        }
        other => panic!("expected a configuration error, got {other:?}"),
    }
}

fn assert_provider(result: Result<Vec<String>, TranslateError>, secret: &str) {
    match result {
        Err(TranslateError::Provider(message)) => {
            assert!(!message.contains(secret), "the key leaked: {message}")
        }
        other => panic!("expected a provider error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Google Cloud Translation - Basic (v2)

const GOOGLE_KEY: &str = "AIzaSy-google-test-key";

/// Google's documented answers: `{"data": {"languages": [{"language": …}]}}` and
/// `{"data": {"translations": [{"translatedText": …, "detectedSourceLanguage": …}]}}`.
fn google_service(request: &Recorded) -> Reply {
    match request.path.as_str() {
        "/language/translate/v2/languages" => reply(
            200,
            json!({"data": {"languages": [
                {"language": "en"}, {"language": "pt"}, {"language": "zh-TW"}, {"language": "de"}
            ]}}),
        ),
        "/language/translate/v2" => {
            let target = request.body["target"].as_str().unwrap_or_default();
            let items = request.body["q"].as_array().cloned().unwrap_or_default();
            let translations: Vec<Value> = items
                .iter()
                .map(|t| {
                    let text = t.as_str().unwrap_or_default();
                    // The stand-in "detects" Portuguese for texts starting with "Olá".
                    let detected = if text.starts_with("Olá") { "pt" } else { "en" };
                    json!({"translatedText": format!("{target}:{text}"), "detectedSourceLanguage": detected})
                })
                .collect();
            reply(200, json!({"data": {"translations": translations}}))
        }
        _ => reply(404, json!({"error": {"code": 404, "message": "Not Found"}})),
    }
}

fn google(service: &Service) -> GoogleTranslate {
    GoogleTranslate::with_options(
        GoogleConfig {
            api_key: GOOGLE_KEY.to_owned(),
        },
        service.options(),
    )
    .expect("google provider")
}

#[tokio::test]
async fn google_translates_texts_in_one_post_with_the_key_in_the_query() {
    let service = Service::start(google_service).await;
    let provider = google(&service);
    assert_eq!(provider.provider_id(), "google-translate");

    let result = within(provider.translate(
        &texts(&["Hello", "Olá, tudo bem?", "Good night"]),
        None,
        "pt",
    ))
    .await
    .expect("translated");
    // A text Google detects as already Portuguese comes back as written.
    assert_eq!(result, vec!["pt:Hello", "Olá, tudo bem?", "pt:Good night"]);

    let requests = service.requests_to("/language/translate/v2");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.query_value("key"), Some(GOOGLE_KEY));
    assert_eq!(
        request.body,
        json!({"q": ["Hello", "Olá, tudo bem?", "Good night"], "target": "pt", "format": "text"})
    );
    assert!(
        request
            .header("content-type")
            .is_some_and(|c| c.starts_with("application/json"))
    );
}

#[tokio::test]
async fn google_sends_the_source_when_known_and_falls_back_from_unlisted_regions() {
    let service = Service::start(google_service).await;
    let provider = google(&service);
    within(provider.translate(&texts(&["Hallo"]), Some("de"), "pt-BR"))
        .await
        .expect("translated");
    within(provider.translate(&texts(&["Hello"]), None, "zh-TW"))
        .await
        .expect("translated");
    let requests = service.requests_to("/language/translate/v2");
    // pt-BR is not in Google's list, so (as upstream) its language is asked for.
    assert_eq!(requests[0].body["target"], "pt");
    assert_eq!(requests[0].body["source"], "de");
    // zh-TW is listed, so it goes as it is.
    assert_eq!(requests[1].body["target"], "zh-TW");
}

#[tokio::test]
async fn google_batches_at_128_segments() {
    let service = Service::start(google_service).await;
    let provider = google(&service);
    let many: Vec<String> = (0..130).map(|i| format!("text {i}")).collect();
    let result = within(provider.translate(&many, Some("en"), "de"))
        .await
        .expect("translated");
    let expected: Vec<String> = many.iter().map(|t| format!("de:{t}")).collect();
    assert_eq!(result, expected);
    let requests = service.requests_to("/language/translate/v2");
    let sizes: Vec<usize> = requests
        .iter()
        .map(|r| r.body["q"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![128, 2]);
}

#[tokio::test]
async fn google_lists_languages_once_per_ttl() {
    let service = Service::start(google_service).await;
    let provider = google(&service);
    let first = within(provider.supported_languages())
        .await
        .expect("languages");
    let second = within(provider.supported_languages())
        .await
        .expect("languages");
    assert_eq!(first, vec!["en", "pt", "zh-TW", "de"]);
    assert_eq!(first, second);
    let requests = service.requests_to("/language/translate/v2/languages");
    assert_eq!(requests.len(), 1, "the list is cached");
    assert_eq!(requests[0].method, "GET");
    assert_eq!(requests[0].query_value("key"), Some(GOOGLE_KEY));

    // With no time to live, the next call asks again.
    let fresh = GoogleTranslate::with_options(
        GoogleConfig {
            api_key: GOOGLE_KEY.to_owned(),
        },
        ProviderOptions {
            languages_ttl: Duration::ZERO,
            ..service.options()
        },
    )
    .expect("google provider");
    within(fresh.supported_languages())
        .await
        .expect("languages");
    within(fresh.supported_languages())
        .await
        .expect("languages");
    assert_eq!(
        service
            .requests_to("/language/translate/v2/languages")
            .len(),
        3
    );
}

/// A stand-in that answers every translation with `status` and Google's error body.
async fn google_failing(status: u16, error: Value) -> (Service, GoogleTranslate) {
    let service = Service::start(move |request: &Recorded| {
        if request.path == "/language/translate/v2" {
            reply(status, error.clone())
        } else {
            google_service(request)
        }
    })
    .await;
    let provider = google(&service);
    (service, provider)
}

#[tokio::test]
async fn google_maps_rejected_keys_to_configuration_errors() {
    // Google's documented answer to an invalid key: 400 with reason keyInvalid.
    let (_service, provider) = google_failing(
        400,
        json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.",
            "errors": [{"message": "API key not valid. Please pass a valid API key.", "domain": "global", "reason": "keyInvalid"}],
            "status": "INVALID_ARGUMENT"}}),
    )
    .await;
    assert_configuration(
        within(provider.translate(&texts(&["Hi"]), None, "pt")).await,
        GOOGLE_KEY,
    );

    for status in [401, 403] {
        let (_service, provider) = google_failing(
            status,
            json!({"error": {"code": status, "message": "The caller does not have permission", "status": "PERMISSION_DENIED"}}),
        )
        .await;
        assert_configuration(
            within(provider.translate(&texts(&["Hi"]), None, "pt")).await,
            GOOGLE_KEY,
        );
    }
}

#[tokio::test]
async fn google_maps_throttling_and_failures_to_provider_errors() {
    let cases = [
        (
            403,
            json!({"error": {"code": 403, "message": "User Rate Limit Exceeded",
                "errors": [{"reason": "userRateLimitExceeded", "domain": "usageLimits"}]}}),
        ),
        (
            429,
            json!({"error": {"code": 429, "message": "Quota exceeded", "status": "RESOURCE_EXHAUSTED"}}),
        ),
        (
            500,
            json!({"error": {"code": 500, "message": "Internal error", "status": "INTERNAL"}}),
        ),
        (
            503,
            json!({"error": {"code": 503, "message": "The service is currently unavailable.", "status": "UNAVAILABLE"}}),
        ),
    ];
    for (status, body) in cases {
        let (_service, provider) = google_failing(status, body).await;
        let result = within(provider.translate(&texts(&["Hi"]), None, "pt")).await;
        assert_provider(result, GOOGLE_KEY);
    }
}

#[tokio::test]
async fn google_gives_up_on_a_slow_answer_without_naming_the_key() {
    let service = Service::start(|request: &Recorded| Reply {
        delay: Duration::from_secs(3),
        ..google_service(request)
    })
    .await;
    let provider = GoogleTranslate::with_options(
        GoogleConfig {
            api_key: GOOGLE_KEY.to_owned(),
        },
        ProviderOptions {
            request_timeout: Duration::from_millis(300),
            ..service.options()
        },
    )
    .expect("google provider");
    let result = within(provider.translate(&texts(&["Hi"]), None, "pt")).await;
    assert_provider(result, GOOGLE_KEY);
    let languages = within(provider.supported_languages()).await;
    assert!(matches!(languages, Err(TranslateError::Provider(_))));
}

#[tokio::test]
async fn google_refuses_a_missing_key_and_hides_keys_from_debug_output() {
    let missing = GoogleTranslate::new(GoogleConfig {
        api_key: "  ".to_owned(),
    });
    assert!(matches!(missing, Err(TranslateError::Configuration(_))));
    let config = GoogleConfig {
        api_key: GOOGLE_KEY.to_owned(),
    };
    assert!(!format!("{config:?}").contains(GOOGLE_KEY));
    let service = Service::start(google_service).await;
    assert!(!format!("{:?}", google(&service)).contains(GOOGLE_KEY));
}

// ---------------------------------------------------------------------------------------------
// DeepL API v2

const DEEPL_FREE_KEY: &str = "0a1b2c3d-deepl-test-key:fx";
const DEEPL_PRO_KEY: &str = "0a1b2c3d-deepl-pro-key";

/// DeepL's documented answers: `/v2/languages?type=target` lists
/// `[{"language": "PT-BR", "name": …, "supports_formality": …}]`; `/v2/translate` answers
/// `{"translations": [{"detected_source_language": "EN", "text": …}]}`.
fn deepl_service(request: &Recorded) -> Reply {
    match request.path.as_str() {
        "/v2/languages" => reply(
            200,
            json!([
                {"language": "DE", "name": "German", "supports_formality": true},
                {"language": "EN-GB", "name": "English (British)", "supports_formality": false},
                {"language": "EN-US", "name": "English (American)", "supports_formality": false},
                {"language": "PT-BR", "name": "Portuguese (Brazilian)", "supports_formality": true},
                {"language": "PT-PT", "name": "Portuguese (European)", "supports_formality": true},
                {"language": "ZH-HANT", "name": "Chinese (traditional)", "supports_formality": false}
            ]),
        ),
        "/v2/translate" => {
            let target = request.body["target_lang"].as_str().unwrap_or_default();
            let items = request.body["text"].as_array().cloned().unwrap_or_default();
            let translations: Vec<Value> = items
                .iter()
                .zip(tagged(target, &items))
                .map(|(original, text)| {
                    let detected = if original.as_str().is_some_and(|t| t.starts_with("Hallo")) {
                        "DE"
                    } else {
                        "EN"
                    };
                    json!({"detected_source_language": detected, "text": text})
                })
                .collect();
            reply(200, json!({"translations": translations}))
        }
        _ => reply(404, json!({"message": "Not found"})),
    }
}

fn deepl(service: &Service, key: &str) -> DeeplTranslate {
    DeeplTranslate::with_options(
        DeeplConfig {
            api_key: key.to_owned(),
        },
        service.options(),
    )
    .expect("deepl provider")
}

#[test]
fn deepl_picks_the_free_endpoint_for_fx_keys_as_upstream() {
    let free = DeeplTranslate::new(DeeplConfig {
        api_key: DEEPL_FREE_KEY.to_owned(),
    })
    .expect("deepl provider");
    assert_eq!(free.base_url(), "https://api-free.deepl.com");
    let pro = DeeplTranslate::new(DeeplConfig {
        api_key: DEEPL_PRO_KEY.to_owned(),
    })
    .expect("deepl provider");
    assert_eq!(pro.base_url(), "https://api.deepl.com");
    assert!(!format!("{free:?}").contains(DEEPL_FREE_KEY));
}

#[tokio::test]
async fn deepl_translates_with_the_auth_key_header_and_upstreams_codes() {
    let service = Service::start(deepl_service).await;
    let provider = deepl(&service, DEEPL_FREE_KEY);
    assert_eq!(provider.provider_id(), "deepl-translate");

    let result = within(provider.translate(&texts(&["Hello", "Good night"]), None, "pt-BR"))
        .await
        .expect("translated");
    assert_eq!(result, vec!["PT-BR:Hello", "PT-BR:Good night"]);

    let requests = service.requests_to("/v2/translate");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(
        request.header("authorization"),
        Some(format!("DeepL-Auth-Key {DEEPL_FREE_KEY}").as_str())
    );
    assert_eq!(
        request.body,
        json!({"text": ["Hello", "Good night"], "target_lang": "PT-BR"})
    );
    assert!(request.query.is_empty(), "the key never goes in the URL");

    // A regional code DeepL does not list falls back to its language; zh-TW is DeepL's ZH-HANT;
    // a known source goes without its region, as DeepL's source languages have none.
    within(provider.translate(&texts(&["Hello"]), Some("en-US"), "de-AT"))
        .await
        .expect("translated");
    within(provider.translate(&texts(&["Hello"]), None, "zh-TW"))
        .await
        .expect("translated");
    let requests = service.requests_to("/v2/translate");
    assert_eq!(
        requests[1].body,
        json!({"text": ["Hello"], "target_lang": "DE", "source_lang": "EN"})
    );
    assert_eq!(requests[2].body["target_lang"], "ZH-HANT");
}

#[tokio::test]
async fn deepl_keeps_texts_already_in_the_target_language() {
    let service = Service::start(deepl_service).await;
    let provider = deepl(&service, DEEPL_PRO_KEY);
    let result = within(provider.translate(&texts(&["Hallo Welt", "Hello"]), None, "de"))
        .await
        .expect("translated");
    assert_eq!(result, vec!["Hallo Welt", "DE:Hello"]);
}

#[tokio::test]
async fn deepl_lists_target_languages_in_bcp47_casing() {
    let service = Service::start(deepl_service).await;
    let provider = deepl(&service, DEEPL_PRO_KEY);
    let languages = within(provider.supported_languages())
        .await
        .expect("languages");
    assert_eq!(
        languages,
        vec!["de", "en-GB", "en-US", "pt-BR", "pt-PT", "zh-Hant"]
    );
    within(provider.supported_languages())
        .await
        .expect("languages");
    let requests = service.requests_to("/v2/languages");
    assert_eq!(requests.len(), 1, "the list is cached");
    assert_eq!(requests[0].query_value("type"), Some("target"));
    assert_eq!(
        requests[0].header("authorization"),
        Some(format!("DeepL-Auth-Key {DEEPL_PRO_KEY}").as_str())
    );
}

#[tokio::test]
async fn deepl_batches_at_50_texts_and_128_kib() {
    let service = Service::start(deepl_service).await;
    let provider = deepl(&service, DEEPL_PRO_KEY);
    let many: Vec<String> = (0..51).map(|i| format!("text {i}")).collect();
    let result = within(provider.translate(&many, None, "de"))
        .await
        .expect("translated");
    assert_eq!(result.len(), 51);
    assert_eq!(result[50], "DE:text 50");

    // Three texts of 50 KiB do not fit one 128 KiB body.
    let large: Vec<String> = (0..3)
        .map(|i| format!("{i}{}", "a".repeat(50 * 1024)))
        .collect();
    within(provider.translate(&large, None, "de"))
        .await
        .expect("translated");

    let sizes: Vec<usize> = service
        .requests_to("/v2/translate")
        .iter()
        .map(|r| r.body["text"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![50, 1, 2, 1]);
}

async fn deepl_failing(status: u16, body: Value) -> (Service, DeeplTranslate) {
    let service = Service::start(move |request: &Recorded| {
        if request.path == "/v2/translate" {
            reply(status, body.clone())
        } else {
            deepl_service(request)
        }
    })
    .await;
    let provider = deepl(&service, DEEPL_FREE_KEY);
    (service, provider)
}

#[tokio::test]
async fn deepl_maps_errors_as_documented() {
    for status in [401, 403] {
        let (_service, provider) = deepl_failing(
            status,
            json!({"message": "Wrong endpoint. Use https://api.deepl.com"}),
        )
        .await;
        assert_configuration(
            within(provider.translate(&texts(&["Hi"]), None, "de")).await,
            DEEPL_FREE_KEY,
        );
    }
    // 429: too many requests; 456: the character quota is used up; 5xx: DeepL's failure.
    for status in [429, 456, 500, 503, 529] {
        let (_service, provider) =
            deepl_failing(status, json!({"message": "Too many requests"})).await;
        assert_provider(
            within(provider.translate(&texts(&["Hi"]), None, "de")).await,
            DEEPL_FREE_KEY,
        );
    }
}

#[tokio::test]
async fn deepl_gives_up_on_a_slow_answer() {
    let service = Service::start(|request: &Recorded| Reply {
        delay: if request.path == "/v2/translate" {
            Duration::from_secs(3)
        } else {
            Duration::ZERO
        },
        ..deepl_service(request)
    })
    .await;
    let provider = DeeplTranslate::with_options(
        DeeplConfig {
            api_key: DEEPL_FREE_KEY.to_owned(),
        },
        ProviderOptions {
            request_timeout: Duration::from_millis(300),
            ..service.options()
        },
    )
    .expect("deepl provider");
    assert_provider(
        within(provider.translate(&texts(&["Hi"]), None, "de")).await,
        DEEPL_FREE_KEY,
    );
}

// ---------------------------------------------------------------------------------------------
// Microsoft Translator v3

const MICROSOFT_KEY: &str = "ms-translator-test-key-0123456789";

/// Microsoft's documented answers: `/languages?api-version=3.0&scope=translation` gives
/// `{"translation": {"pt": {"name": …, "nativeName": …, "dir": "ltr"}, …}}`; `/translate`
/// answers `[{"detectedLanguage": {"language": "en", "score": 1.0}, "translations":
/// [{"text": …, "to": "pt"}]}]`.
fn microsoft_service(request: &Recorded) -> Reply {
    match request.path.as_str() {
        "/languages" => reply(
            200,
            json!({"translation": {
                "de": {"name": "German", "nativeName": "Deutsch", "dir": "ltr"},
                "pt": {"name": "Portuguese (Brazil)", "nativeName": "Português (Brasil)", "dir": "ltr"},
                "pt-pt": {"name": "Portuguese (Portugal)", "nativeName": "Português (Portugal)", "dir": "ltr"},
                "zh-Hans": {"name": "Chinese Simplified", "nativeName": "中文 (简体)", "dir": "ltr"},
                "zh-Hant": {"name": "Chinese Traditional", "nativeName": "繁體中文 (繁體)", "dir": "ltr"}
            }}),
        ),
        "/translate" => {
            let target = request.query_value("to").unwrap_or_default().to_owned();
            let items = request.body.as_array().cloned().unwrap_or_default();
            let answer: Vec<Value> = items
                .iter()
                .map(|item| {
                    let text = item["Text"].as_str().unwrap_or_default();
                    let detected = if text.starts_with("Olá") { "pt" } else { "en" };
                    json!({
                        "detectedLanguage": {"language": detected, "score": 1.0},
                        "translations": [{"text": format!("{target}:{text}"), "to": target}]
                    })
                })
                .collect();
            reply(200, json!(answer))
        }
        _ => reply(
            404,
            json!({"error": {"code": 404000, "message": "not found"}}),
        ),
    }
}

fn microsoft(service: &Service, region: Option<&str>) -> MicrosoftTranslate {
    MicrosoftTranslate::with_options(
        MicrosoftConfig {
            api_key: MICROSOFT_KEY.to_owned(),
            region: region.map(str::to_owned),
        },
        service.options(),
    )
    .expect("microsoft provider")
}

#[tokio::test]
async fn microsoft_translates_with_the_subscription_key_and_region() {
    let service = Service::start(microsoft_service).await;
    let provider = microsoft(&service, Some("westeurope"));
    assert_eq!(provider.provider_id(), "microsoft-translate");

    let result = within(provider.translate(&texts(&["Hello", "Olá"]), None, "pt"))
        .await
        .expect("translated");
    assert_eq!(result, vec!["pt:Hello", "Olá"]);

    let requests = service.requests_to("/translate");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.query_value("api-version"), Some("3.0"));
    assert_eq!(request.query_value("to"), Some("pt"));
    assert_eq!(request.query_value("textType"), Some("plain"));
    assert_eq!(request.query_value("from"), None);
    assert_eq!(
        request.header("ocp-apim-subscription-key"),
        Some(MICROSOFT_KEY)
    );
    assert_eq!(
        request.header("ocp-apim-subscription-region"),
        Some("westeurope")
    );
    assert_eq!(request.body, json!([{"Text": "Hello"}, {"Text": "Olá"}]));

    // Without a region the header is not sent; zh-TW is Microsoft's zh-Hant; a known source
    // goes as `from`.
    let global = microsoft(&service, None);
    within(global.translate(&texts(&["Hello"]), Some("en"), "zh-TW"))
        .await
        .expect("translated");
    let requests = service.requests_to("/translate");
    assert_eq!(requests[1].header("ocp-apim-subscription-region"), None);
    assert_eq!(requests[1].query_value("to"), Some("zh-Hant"));
    assert_eq!(requests[1].query_value("from"), Some("en"));
}

#[tokio::test]
async fn microsoft_lists_languages_without_the_key() {
    let service = Service::start(microsoft_service).await;
    let provider = microsoft(&service, None);
    let mut languages = within(provider.supported_languages())
        .await
        .expect("languages");
    languages.sort();
    assert_eq!(languages, vec!["de", "pt", "pt-PT", "zh-Hans", "zh-Hant"]);
    within(provider.supported_languages())
        .await
        .expect("languages");
    let requests = service.requests_to("/languages");
    assert_eq!(requests.len(), 1, "the list is cached");
    assert_eq!(requests[0].query_value("api-version"), Some("3.0"));
    assert_eq!(requests[0].query_value("scope"), Some("translation"));
    assert_eq!(requests[0].header("ocp-apim-subscription-key"), None);
}

#[tokio::test]
async fn microsoft_batches_at_50000_characters() {
    let service = Service::start(microsoft_service).await;
    let provider = microsoft(&service, None);
    // Characters, not bytes: 20,000 two-byte characters each, three of them.
    let large: Vec<String> = (0..3).map(|_| "é".repeat(20_000)).collect();
    let result = within(provider.translate(&large, None, "de"))
        .await
        .expect("translated");
    assert_eq!(result.len(), 3);
    let sizes: Vec<usize> = service
        .requests_to("/translate")
        .iter()
        .map(|r| r.body.as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![2, 1]);
}

async fn microsoft_failing(status: u16, code: u32) -> (Service, MicrosoftTranslate) {
    let service = Service::start(move |request: &Recorded| {
        if request.path == "/translate" {
            reply(
                status,
                json!({"error": {"code": code, "message": "The request is not authorized"}}),
            )
        } else {
            microsoft_service(request)
        }
    })
    .await;
    let provider = microsoft(&service, Some("westeurope"));
    (service, provider)
}

#[tokio::test]
async fn microsoft_maps_errors_as_documented() {
    for (status, code) in [(401, 401_000), (403, 403_000)] {
        let (_service, provider) = microsoft_failing(status, code).await;
        assert_configuration(
            within(provider.translate(&texts(&["Hi"]), None, "de")).await,
            MICROSOFT_KEY,
        );
    }
    for (status, code) in [(429, 429_000), (500, 500_000), (503, 503_000)] {
        let (_service, provider) = microsoft_failing(status, code).await;
        assert_provider(
            within(provider.translate(&texts(&["Hi"]), None, "de")).await,
            MICROSOFT_KEY,
        );
    }
}

#[tokio::test]
async fn microsoft_gives_up_on_a_slow_answer() {
    let service = Service::start(|request: &Recorded| Reply {
        delay: Duration::from_secs(3),
        ..microsoft_service(request)
    })
    .await;
    let provider = MicrosoftTranslate::with_options(
        MicrosoftConfig {
            api_key: MICROSOFT_KEY.to_owned(),
            region: None,
        },
        ProviderOptions {
            request_timeout: Duration::from_millis(300),
            ..service.options()
        },
    )
    .expect("microsoft provider");
    assert_provider(
        within(provider.translate(&texts(&["Hi"]), None, "de")).await,
        MICROSOFT_KEY,
    );
}

// ---------------------------------------------------------------------------------------------
// LibreTranslate

const LIBRE_KEY: &str = "libre-test-key-00000000";

/// LibreTranslate's documented answers: `/languages` lists `[{"code": "en", "name":
/// "English", "targets": […]}]`; `/translate` with a list `q` answers `{"translatedText":
/// […], "detectedLanguage": [{"confidence": 90.0, "language": "en"}, …]}` (the latter only for
/// `source: auto`); errors are `{"error": "…"}`.
fn libre_service(request: &Recorded) -> Reply {
    match request.path.as_str() {
        "/languages" => reply(
            200,
            json!([
                {"code": "en", "name": "English", "targets": ["de", "pt", "zh-Hans"]},
                {"code": "de", "name": "German", "targets": ["en", "pt"]},
                {"code": "pt", "name": "Portuguese", "targets": ["en", "de"]},
                {"code": "zh-Hans", "name": "Chinese", "targets": ["en"]}
            ]),
        ),
        "/translate" => {
            let target = request.body["target"].as_str().unwrap_or_default();
            let items = request.body["q"].as_array().cloned().unwrap_or_default();
            let mut answer = json!({"translatedText": tagged(target, &items)});
            if request.body["source"] == "auto" {
                let detected: Vec<Value> = items
                    .iter()
                    .map(|t| {
                        let language = if t.as_str().is_some_and(|t| t.starts_with("Olá")) {
                            "pt"
                        } else {
                            "en"
                        };
                        json!({"confidence": 90.0, "language": language})
                    })
                    .collect();
                answer["detectedLanguage"] = json!(detected);
            }
            reply(200, answer)
        }
        _ => reply(404, json!({"error": "Not Found"})),
    }
}

fn libre(service: &Service, api_key: Option<&str>) -> LibreTranslate {
    LibreTranslate::new(LibreTranslateConfig {
        // The server's URL is the config's own; a trailing slash is allowed.
        url: format!("{}/", service.base_url),
        api_key: api_key.map(str::to_owned),
    })
    .expect("libretranslate provider")
}

#[tokio::test]
async fn libretranslate_translates_a_list_of_texts_in_text_format() {
    let service = Service::start(libre_service).await;
    let provider = libre(&service, Some(LIBRE_KEY));
    assert_eq!(provider.provider_id(), "libre-translate");

    let result = within(provider.translate(&texts(&["Hello", "Olá"]), None, "pt"))
        .await
        .expect("translated");
    assert_eq!(result, vec!["pt:Hello", "Olá"]);

    let requests = service.requests_to("/translate");
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].method, "POST");
    assert_eq!(
        requests[0].body,
        json!({"q": ["Hello", "Olá"], "source": "auto", "target": "pt", "format": "text", "api_key": LIBRE_KEY})
    );

    // Without a key none is sent; a known source replaces auto.
    let keyless = libre(&service, None);
    let result = within(keyless.translate(&texts(&["Hallo"]), Some("de"), "en"))
        .await
        .expect("translated");
    assert_eq!(result, vec!["en:Hallo"]);
    let requests = service.requests_to("/translate");
    assert_eq!(
        requests[1].body,
        json!({"q": ["Hallo"], "source": "de", "target": "en", "format": "text"})
    );
}

#[tokio::test]
async fn libretranslate_accepts_a_single_value_answer() {
    // Older servers answer a one-text list with a plain string.
    let service = Service::start(|request: &Recorded| {
        if request.path == "/translate" {
            reply(200, json!({"translatedText": "Olá"}))
        } else {
            libre_service(request)
        }
    })
    .await;
    let provider = libre(&service, None);
    let result = within(provider.translate(&texts(&["Hello"]), Some("en"), "pt"))
        .await
        .expect("translated");
    assert_eq!(result, vec!["Olá"]);
}

#[tokio::test]
async fn libretranslate_lists_the_servers_languages() {
    let service = Service::start(libre_service).await;
    let provider = libre(&service, None);
    let languages = within(provider.supported_languages())
        .await
        .expect("languages");
    assert_eq!(languages, vec!["en", "de", "pt", "zh-Hans"]);
    within(provider.supported_languages())
        .await
        .expect("languages");
    let requests = service.requests_to("/languages");
    assert_eq!(requests.len(), 1, "the list is cached");
    assert_eq!(requests[0].method, "GET");
}

#[tokio::test]
async fn libretranslate_batches_at_50_texts() {
    let service = Service::start(libre_service).await;
    let provider = libre(&service, None);
    let many: Vec<String> = (0..120).map(|i| format!("text {i}")).collect();
    let result = within(provider.translate(&many, Some("en"), "de"))
        .await
        .expect("translated");
    assert_eq!(result[119], "de:text 119");
    let sizes: Vec<usize> = service
        .requests_to("/translate")
        .iter()
        .map(|r| r.body["q"].as_array().map_or(0, Vec::len))
        .collect();
    assert_eq!(sizes, vec![50, 50, 20]);
}

async fn libre_failing(status: u16, error: &'static str) -> (Service, LibreTranslate) {
    let service = Service::start(move |request: &Recorded| {
        if request.path == "/translate" {
            reply(status, json!({ "error": error }))
        } else {
            libre_service(request)
        }
    })
    .await;
    let provider = libre(&service, Some(LIBRE_KEY));
    (service, provider)
}

#[tokio::test]
async fn libretranslate_maps_errors_as_documented() {
    for (status, error) in [
        (400, "Invalid API key"),
        (401, "Unauthorized"),
        (403, "Please contact the server operator to get an API key"),
    ] {
        let (_service, provider) = libre_failing(status, error).await;
        assert_configuration(
            within(provider.translate(&texts(&["Hi"]), None, "de")).await,
            LIBRE_KEY,
        );
    }
    for (status, error) in [
        (429, "Slowdown: 30 per 1 minute"),
        (500, "Cannot translate text"),
        (502, "Bad gateway"),
    ] {
        let (_service, provider) = libre_failing(status, error).await;
        assert_provider(
            within(provider.translate(&texts(&["Hi"]), None, "de")).await,
            LIBRE_KEY,
        );
    }
}

#[tokio::test]
async fn libretranslate_gives_up_on_a_slow_or_absent_server() {
    let service = Service::start(|request: &Recorded| Reply {
        delay: Duration::from_secs(3),
        ..libre_service(request)
    })
    .await;
    let provider = LibreTranslate::with_options(
        LibreTranslateConfig {
            url: service.base_url.clone(),
            api_key: Some(LIBRE_KEY.to_owned()),
        },
        ProviderOptions {
            request_timeout: Duration::from_millis(300),
            ..ProviderOptions::default()
        },
    )
    .expect("libretranslate provider");
    assert_provider(
        within(provider.translate(&texts(&["Hi"]), None, "de")).await,
        LIBRE_KEY,
    );

    // Nothing listens on a port just released.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("address")
    };
    let absent = LibreTranslate::new(LibreTranslateConfig {
        url: format!("http://{closed}"),
        api_key: None,
    })
    .expect("libretranslate provider");
    assert_provider(
        within(absent.translate(&texts(&["Hi"]), None, "de")).await,
        LIBRE_KEY,
    );
    assert!(matches!(
        LibreTranslate::new(LibreTranslateConfig {
            url: String::new(),
            api_key: None
        }),
        Err(TranslateError::Configuration(_))
    ));
}
