//! Google Cloud Translation - Basic (v2), with an API key as upstream's `googleTranslate.ts`
//! uses it. Upstream sends one GET per message with the lines as repeated `q`; the API also
//! takes them as a JSON list in a POST, which is not bounded by a URL's length, so that is what
//! is sent here.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{
    BatchedProvider, ErrorAnswer, LanguageCache, ProviderOptions, Transport, canonical_language,
    expect_one_per_text, same_language, translate_in_batches,
};
use crate::{TranslateError, Translator};

/// Where Google's API lives; paths below it are `/language/translate/v2…`.
pub const GOOGLE_BASE_URL: &str = "https://translation.googleapis.com";

const SERVICE: &str = "Google Translate";

/// The API refuses more than 128 text segments in one request.
const MAX_SEGMENTS: usize = 128;

/// Google recommends well under 30,000 characters per request (the v3 API's hard limit; v2
/// states none); JSON-escaped bytes overcount characters, so this stays under it.
const MAX_REQUEST_TEXT_BYTES: usize = 30_000;

/// The settings upstream keeps in `AutoTranslate_GoogleAPIKey`.
#[derive(Clone)]
pub struct GoogleConfig {
    pub api_key: String,
}

impl std::fmt::Debug for GoogleConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GoogleConfig").finish_non_exhaustive()
    }
}

/// Translates with Google Cloud Translation v2.
#[derive(Debug)]
pub struct GoogleTranslate {
    config: GoogleConfig,
    transport: Transport,
    languages: LanguageCache,
}

#[derive(Deserialize)]
struct Envelope<T> {
    data: T,
}

#[derive(Deserialize)]
struct LanguagesData {
    languages: Vec<Language>,
}

#[derive(Deserialize)]
struct Language {
    language: String,
}

#[derive(Deserialize)]
struct TranslationsData {
    translations: Vec<Translation>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Translation {
    translated_text: String,
    #[serde(default)]
    detected_source_language: Option<String>,
}

impl GoogleTranslate {
    pub fn new(config: GoogleConfig) -> Result<Self, TranslateError> {
        Self::with_options(config, ProviderOptions::default())
    }

    pub fn with_options(
        config: GoogleConfig,
        options: ProviderOptions,
    ) -> Result<Self, TranslateError> {
        if config.api_key.trim().is_empty() {
            return Err(TranslateError::Configuration(
                "the Google Translate API key is not set".to_owned(),
            ));
        }
        Ok(Self {
            transport: Transport::new(SERVICE, GOOGLE_BASE_URL, &options)?,
            languages: LanguageCache::new(options.languages_ttl),
            config,
        })
    }

    async fn fetch_languages(&self) -> Result<Vec<String>, TranslateError> {
        let request = self
            .transport
            .client
            .get(self.transport.url("/language/translate/v2/languages"))
            .query(&[("key", self.config.api_key.as_str())]);
        let body = self.transport.send(request).await?.map_err(classify)?;
        let answer: Envelope<LanguagesData> = self.transport.decode(&body)?;
        Ok(answer
            .data
            .languages
            .into_iter()
            .map(|l| canonical_language(&l.language))
            .collect())
    }
}

/// Google answers a bad key with 400 (`keyInvalid`, or `API_KEY_INVALID` in newer error
/// details) and a spent quota or rate with 403; the first needs an admin, the second only time.
fn classify(answer: ErrorAnswer) -> TranslateError {
    let json = answer.json();
    let error = json.as_ref().and_then(|j| j.get("error"));
    let message = error
        .and_then(|e| e.get("message"))
        .and_then(|m| m.as_str())
        .map(str::to_owned);
    let reasons: Vec<String> = error
        .into_iter()
        .flat_map(|e| {
            let legacy = e.get("errors").and_then(|v| v.as_array()).cloned();
            let details = e.get("details").and_then(|v| v.as_array()).cloned();
            legacy
                .into_iter()
                .flatten()
                .chain(details.into_iter().flatten())
        })
        .filter_map(|item| {
            item.get("reason")
                .and_then(|r| r.as_str())
                .map(str::to_owned)
        })
        .collect();
    let key_rejected = reasons
        .iter()
        .any(|r| r == "keyInvalid" || r == "API_KEY_INVALID" || r == "keyExpired")
        || message
            .as_deref()
            .is_some_and(|m| m.contains("API key not valid"));
    let throttled = reasons.iter().any(|r| {
        let r = r.to_ascii_lowercase();
        r.contains("ratelimitexceeded")
            || r.contains("quotaexceeded")
            || r.contains("limitexceeded")
    });
    let status = answer.status;
    if status == reqwest::StatusCode::BAD_REQUEST && key_rejected {
        return TranslateError::Configuration(super::describe_status(SERVICE, status, message));
    }
    if status == reqwest::StatusCode::FORBIDDEN && throttled {
        return TranslateError::Provider(super::describe_status(SERVICE, status, message));
    }
    answer.into_error(SERVICE, message)
}

impl BatchedProvider for GoogleTranslate {
    const SERVICE: &'static str = SERVICE;
    const MAX_TEXTS: usize = MAX_SEGMENTS;
    const MAX_REQUEST_SIZE: usize = MAX_REQUEST_TEXT_BYTES;

    async fn translate_batch(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target: &str,
    ) -> Result<Vec<String>, TranslateError> {
        let mut body = json!({ "q": texts, "target": target, "format": "text" });
        if let Some(source) = source_language {
            body["source"] = json!(source);
        }
        let request = self
            .transport
            .client
            .post(self.transport.url("/language/translate/v2"))
            .query(&[("key", self.config.api_key.as_str())])
            .json(&body);
        let answer = self.transport.send(request).await?.map_err(classify)?;
        let answer: Envelope<TranslationsData> = self.transport.decode(&answer)?;
        let translations = answer.data.translations;
        expect_one_per_text(SERVICE, translations.len(), texts.len())?;
        Ok(texts
            .iter()
            .zip(translations)
            .map(
                |(original, translation)| match translation.detected_source_language {
                    Some(detected) if same_language(&detected, target) => original.clone(),
                    _ => translation.translated_text,
                },
            )
            .collect())
    }
}

#[async_trait]
impl Translator for GoogleTranslate {
    fn provider_id(&self) -> &'static str {
        "google-translate"
    }

    async fn supported_languages(&self) -> Result<Vec<String>, TranslateError> {
        self.languages.get_or_fetch(|| self.fetch_languages()).await
    }

    async fn translate(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target_language: &str,
    ) -> Result<Vec<String>, TranslateError> {
        translate_in_batches(self, texts, source_language, target_language).await
    }
}
