//! The translation services upstream speaks to, each behind [`Translator`](crate::Translator):
//! Google Cloud Translation (v2), DeepL (v2), Microsoft Translator (v3) and a LibreTranslate
//! server. Each sends texts in plain-text mode (the service has already set aside what must not
//! be translated), in as few requests as the API's documented limits allow, and maps the
//! service's answers onto [`TranslateError`]: a rejected key is a configuration error (retrying
//! does not help), a throttled, failing or unreachable service is a provider error (the caller
//! retries with backoff).
//!
//! Keys never appear in errors or logs: transport errors are described without their URL (the
//! Google key travels in the query string) and the configs' `Debug` hides them.

mod deepl;
mod google;
mod libretranslate;
mod microsoft;

pub use deepl::{DeeplConfig, DeeplTranslate};
pub use google::{GoogleConfig, GoogleTranslate};
pub use libretranslate::{LibreTranslate, LibreTranslateConfig};
pub use microsoft::{MicrosoftConfig, MicrosoftTranslate};

use std::ops::Range;
use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::{TranslateError, Translator};

/// How long a provider may take to answer one request, connection included. Microsoft documents
/// 15 s as its longest latency for standard models; the others answer chat-sized texts far
/// faster.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a connection attempt may take before the provider counts as unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a fetched list of supported languages is trusted. Services add languages rarely;
/// an hour keeps `autotranslate.getSupportedLanguages` from calling them on every request.
pub const DEFAULT_LANGUAGES_TTL: Duration = Duration::from_secs(60 * 60);

/// The largest answer read from a provider. A translation answer is about as large as its
/// request (at most a few hundred KiB); a language list is a few tens of KiB.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;

/// How much of an error answer's message goes into the error (it may be an HTML page).
const MAX_ERROR_DETAIL_CHARS: usize = 200;

/// What every provider lets its caller change besides its service's config: where the service
/// lives (tests point it at a local server) and how long to wait for it.
#[derive(Debug, Clone)]
pub struct ProviderOptions {
    /// The service's address, without a path (`https://api.deepl.com`); `None` for the
    /// provider's own.
    pub base_url: Option<String>,
    /// How long one request may take, connection included.
    pub request_timeout: Duration,
    /// How long a fetched list of supported languages is used before fetching it again.
    pub languages_ttl: Duration,
}

impl Default for ProviderOptions {
    fn default() -> Self {
        Self {
            base_url: None,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            languages_ttl: DEFAULT_LANGUAGES_TTL,
        }
    }
}

/// Settings every provider shares: how long to wait and where the service lives (tests point
/// it at a local server).
#[derive(Debug, Clone)]
pub(crate) struct Transport {
    pub(crate) client: reqwest::Client,
    /// Without a trailing slash; paths are appended to it.
    pub(crate) base_url: String,
    pub(crate) service: &'static str,
}

impl Transport {
    pub(crate) fn new(
        service: &'static str,
        default_base_url: &str,
        options: &ProviderOptions,
    ) -> Result<Self, TranslateError> {
        let base_url = options.base_url.as_deref().unwrap_or(default_base_url);
        if !(base_url.starts_with("https://") || base_url.starts_with("http://")) {
            return Err(TranslateError::Configuration(format!(
                "the {service} URL must start with https:// or http://"
            )));
        }
        Ok(Self {
            client: http_client(service, options.request_timeout)?,
            base_url: trim_base_url(base_url),
            service,
        })
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Sends `request` and reads the whole answer (bounded). An answer other than 2xx comes back
    /// as [`ErrorAnswer`] for the provider to classify.
    pub(crate) async fn send(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<Result<Vec<u8>, ErrorAnswer>, TranslateError> {
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_error(self.service, e))?;
        let status = response.status();
        let mut body = Vec::new();
        loop {
            let chunk = match response.chunk().await {
                Ok(Some(chunk)) => chunk,
                Ok(None) => break,
                Err(e) => return Err(transport_error(self.service, e)),
            };
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                if !status.is_success() {
                    break;
                }
                return Err(TranslateError::Provider(format!(
                    "{} answered with more than {MAX_ANSWER_BYTES} bytes",
                    self.service
                )));
            }
            body.extend_from_slice(&chunk);
        }
        if status.is_success() {
            Ok(Ok(body))
        } else {
            Ok(Err(ErrorAnswer { status, body }))
        }
    }

    /// Decodes a successful answer's JSON.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(
        &self,
        body: &[u8],
    ) -> Result<T, TranslateError> {
        serde_json::from_slice(body).map_err(|e| {
            TranslateError::Provider(format!("{} answered unexpectedly: {e}", self.service))
        })
    }
}

/// A provider's answer with a status other than 2xx.
#[derive(Debug)]
pub(crate) struct ErrorAnswer {
    pub(crate) status: StatusCode,
    pub(crate) body: Vec<u8>,
}

impl ErrorAnswer {
    /// The JSON body, when it is JSON.
    pub(crate) fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The usual reading of an error answer: a rejected key (401, 403) needs an admin, anything
    /// else (429, 5xx, other 4xx) is the provider's failure, retried later. `detail` is the
    /// service's own message, when its error format has one.
    pub(crate) fn into_error(self, service: &str, detail: Option<String>) -> TranslateError {
        let text = describe_status(service, self.status, detail);
        match self.status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => TranslateError::Configuration(text),
            _ => TranslateError::Provider(text),
        }
    }
}

/// "DeepL answered 429 Too Many Requests: <message>", with the message cut short.
pub(crate) fn describe_status(service: &str, status: StatusCode, detail: Option<String>) -> String {
    let mut text = format!("{service} answered {status}");
    if let Some(detail) = detail.filter(|d| !d.trim().is_empty()) {
        let short: String = detail.chars().take(MAX_ERROR_DETAIL_CHARS).collect();
        text.push_str(": ");
        text.push_str(short.trim());
    }
    text
}

/// Makes ring the process's TLS crypto provider (reqwest is built without one; see the
/// workspace Cargo.toml) and builds a client that follows no redirects: a provider that
/// redirects is misconfigured, and following could carry a key elsewhere.
fn http_client(service: &str, timeout: Duration) -> Result<reqwest::Client, TranslateError> {
    // An error only means a provider was installed before, which is as good.
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT.min(timeout))
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| {
            TranslateError::Configuration(format!("cannot build the {service} HTTP client: {e}"))
        })
}

/// A header carrying a key, marked sensitive so that no debug output of the request shows it.
pub(crate) fn secret_header(
    service: &str,
    value: &str,
) -> Result<reqwest::header::HeaderValue, TranslateError> {
    let mut header = reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        TranslateError::Configuration(format!(
            "the {service} API key has characters a header cannot carry"
        ))
    })?;
    header.set_sensitive(true);
    Ok(header)
}

fn trim_base_url(url: &str) -> String {
    url.trim().trim_end_matches('/').to_owned()
}

/// A transport failure, described without the request's URL (it may carry a key).
fn transport_error(service: &str, e: reqwest::Error) -> TranslateError {
    if e.is_timeout() {
        return TranslateError::Provider(format!("{service} did not answer in time"));
    }
    if e.is_connect() {
        return TranslateError::Provider(format!("cannot connect to {service}"));
    }
    let e = e.without_url();
    let mut text = format!("request to {service} failed: {e}");
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    TranslateError::Provider(text)
}

/// A list of supported languages fetched from a service, kept for a while.
#[derive(Debug)]
pub(crate) struct LanguageCache {
    ttl: Duration,
    entry: tokio::sync::Mutex<Option<(Instant, Vec<String>)>>,
}

impl LanguageCache {
    pub(crate) fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entry: tokio::sync::Mutex::new(None),
        }
    }

    /// The cached list while fresh, else `fetch`'s. Concurrent callers wait for one fetch rather
    /// than each asking the service; a failed fetch is not cached.
    pub(crate) async fn get_or_fetch<F, Fut>(&self, fetch: F) -> Result<Vec<String>, TranslateError>
    where
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = Result<Vec<String>, TranslateError>>,
    {
        let mut entry = self.entry.lock().await;
        if let Some((fetched_at, languages)) = entry.as_ref()
            && fetched_at.elapsed() < self.ttl
        {
            return Ok(languages.clone());
        }
        let languages = fetch().await?;
        *entry = Some((Instant::now(), languages.clone()));
        Ok(languages)
    }
}

/// What tells one HTTP provider from another; [`translate_in_batches`] does the rest (the
/// no-op check, the target's spelling, splitting into requests).
pub(crate) trait BatchedProvider: Translator {
    /// The service's name in errors.
    const SERVICE: &'static str;
    /// The most texts one request carries.
    const MAX_TEXTS: usize;
    /// The most one request's texts may add up to, as [`Self::text_size`] counts them.
    const MAX_REQUEST_SIZE: usize;
    /// The service's own spellings of codes upstream's clients send (see [`resolve_target`]).
    const ALIASES: &'static [(&'static str, &'static str)] = &[];

    /// How the service counts a text against [`Self::MAX_REQUEST_SIZE`]; most count the JSON.
    fn text_size(text: &str) -> usize {
        json_size(text)
    }

    /// Translates one request's worth of texts into `target` (already in the service's
    /// spelling), answering one text per text, in order.
    fn translate_batch(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target: &str,
    ) -> impl Future<Output = Result<Vec<String>, TranslateError>> + Send;
}

/// [`Translator::translate`] for an HTTP provider: nothing is sent when there is nothing to do,
/// and the texts go in as few requests as the service's limits allow.
pub(crate) async fn translate_in_batches<P: BatchedProvider>(
    provider: &P,
    texts: &[String],
    source_language: Option<&str>,
    target_language: &str,
) -> Result<Vec<String>, TranslateError> {
    if texts.is_empty() || is_noop(source_language, target_language) {
        return Ok(texts.to_vec());
    }
    // Without the list (the service is down) the code goes as the client wrote it.
    let supported = provider.supported_languages().await.unwrap_or_default();
    let target = resolve_target(target_language, &supported, P::ALIASES);
    let mut translated = Vec::with_capacity(texts.len());
    for run in batches(
        P::SERVICE,
        texts,
        P::MAX_TEXTS,
        P::MAX_REQUEST_SIZE,
        P::text_size,
    )? {
        translated.extend(
            provider
                .translate_batch(&texts[run], source_language, &target)
                .await?,
        );
    }
    Ok(translated)
}

/// Refuses an answer that does not hold one translation per text sent: pairing them up would
/// put translations under the wrong messages.
pub(crate) fn expect_one_per_text(
    service: &str,
    answered: usize,
    sent: usize,
) -> Result<(), TranslateError> {
    if answered == sent {
        Ok(())
    } else {
        Err(TranslateError::Provider(format!(
            "{service} answered {answered} translations for {sent} texts"
        )))
    }
}

/// Splits `texts` into consecutive runs that each fit one request: at most `max_count` texts
/// whose `measure` adds up to at most `max_size`. A single text larger than `max_size` cannot
/// be sent at all.
pub(crate) fn batches(
    service: &str,
    texts: &[String],
    max_count: usize,
    max_size: usize,
    measure: impl Fn(&str) -> usize,
) -> Result<Vec<Range<usize>>, TranslateError> {
    let mut runs = Vec::new();
    let mut start = 0;
    let mut size = 0;
    for (index, text) in texts.iter().enumerate() {
        let text_size = measure(text);
        if text_size > max_size {
            return Err(TranslateError::Provider(format!(
                "a text of {text_size} is larger than {service} accepts in one request ({max_size})"
            )));
        }
        if index > start && (index - start >= max_count || size + text_size > max_size) {
            runs.push(start..index);
            start = index;
            size = 0;
        }
        size += text_size;
    }
    if start < texts.len() {
        runs.push(start..texts.len());
    }
    Ok(runs)
}

/// A text's length once written as a JSON string (quotes, escapes and the comma after it).
pub(crate) fn json_size(text: &str) -> usize {
    serde_json::to_string(text).map_or(text.len() * 6, |s| s.len()) + 1
}

/// A language code in the canonical BCP 47 casing upstream gets from `Intl.Locale`:
/// `PT-BR` → `pt-BR`, `ZH-HANT` → `zh-Hant`, `EN` → `en`.
pub(crate) fn canonical_language(code: &str) -> String {
    let mut parts = Vec::new();
    for (index, part) in code.trim().split(['-', '_']).enumerate() {
        if part.is_empty() {
            continue;
        }
        let part = if index == 0 {
            part.to_ascii_lowercase()
        } else if part.len() == 4 && part.chars().all(|c| c.is_ascii_alphabetic()) {
            let lower = part.to_ascii_lowercase();
            let mut chars = lower.chars();
            chars.next().map_or(String::new(), |first| {
                first.to_ascii_uppercase().to_string() + chars.as_str()
            })
        } else if part.len() == 2 || (part.len() == 3 && part.chars().all(|c| c.is_ascii_digit())) {
            part.to_ascii_uppercase()
        } else {
            part.to_ascii_lowercase()
        };
        parts.push(part);
    }
    parts.join("-")
}

/// The part of a language code before its first `-`: `pt-BR` → `pt`.
pub(crate) fn primary_subtag(code: &str) -> &str {
    code.split(['-', '_']).next().unwrap_or(code)
}

/// The code to ask a service for, given the languages it lists. As upstream does: a regional
/// code the service does not list (`de-AT`) falls back to its language (`de`). Before that,
/// `aliases` name a service's own spelling of a code upstream's clients send (Microsoft's
/// `zh-Hant` for `zh-TW`). With no list (it could not be fetched) the code goes as it is.
pub(crate) fn resolve_target(
    language: &str,
    supported: &[String],
    aliases: &[(&str, &str)],
) -> String {
    let listed = |code: &str| supported.iter().find(|s| s.eq_ignore_ascii_case(code));
    if let Some(code) = listed(language) {
        return code.clone();
    }
    if let Some((_, alias)) = aliases
        .iter()
        .find(|(from, _)| from.eq_ignore_ascii_case(language))
        && (supported.is_empty() || listed(alias).is_some())
    {
        return (*alias).to_owned();
    }
    if !supported.is_empty() && language.contains('-') {
        return primary_subtag(language).to_owned();
    }
    language.to_owned()
}

/// Whether a detected source language is the target's language, so the text needs no
/// translation (upstream keeps such a line as it was written).
pub(crate) fn same_language(detected: &str, target: &str) -> bool {
    primary_subtag(detected).eq_ignore_ascii_case(primary_subtag(target))
}

/// Whether the caller named the target language as the source, so nothing needs sending.
pub(crate) fn is_noop(source_language: Option<&str>, target_language: &str) -> bool {
    source_language.is_some_and(|source| source.eq_ignore_ascii_case(target_language))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_language_follows_bcp47_casing() {
        assert_eq!(canonical_language("PT-BR"), "pt-BR");
        assert_eq!(canonical_language("ZH-HANT"), "zh-Hant");
        assert_eq!(canonical_language("EN"), "en");
        assert_eq!(canonical_language("es-419"), "es-419");
        assert_eq!(canonical_language("sr-latn-rs"), "sr-Latn-RS");
    }

    #[test]
    fn resolve_target_falls_back_to_the_language_as_upstream() {
        let supported = vec!["de".to_owned(), "pt-BR".to_owned(), "zh-Hant".to_owned()];
        assert_eq!(resolve_target("de-AT", &supported, &[]), "de");
        assert_eq!(resolve_target("pt-br", &supported, &[]), "pt-BR");
        assert_eq!(
            resolve_target("zh-TW", &supported, &[("zh-TW", "zh-Hant")]),
            "zh-Hant"
        );
        assert_eq!(resolve_target("de-AT", &[], &[]), "de-AT");
    }

    #[test]
    fn batches_respect_count_and_size() -> Result<(), TranslateError> {
        let texts: Vec<String> = ["aa", "bb", "cc", "dd", "ee"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        assert_eq!(
            batches("x", &texts, 2, 100, str::len)?,
            vec![0..2, 2..4, 4..5]
        );
        assert_eq!(
            batches("x", &texts, 10, 5, str::len)?,
            vec![0..2, 2..4, 4..5]
        );
        assert!(batches("x", &texts, 10, 1, str::len).is_err());
        assert!(batches("x", &[], 10, 1, str::len)?.is_empty());
        Ok(())
    }
}
