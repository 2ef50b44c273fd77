//! A LibreTranslate server (self-hosted or libretranslate.com), as upstream's
//! `libreTranslate.ts` calls it: `POST /translate` with the lines as a `q` list, `source: auto`
//! unless the caller knows it, `format: text` and the key (when the server requires one) as
//! `api_key` in the body; `GET /languages` for what it translates.

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{
    BatchedProvider, ErrorAnswer, LanguageCache, ProviderOptions, Transport, canonical_language,
    expect_one_per_text, same_language, translate_in_batches,
};
use crate::{TranslateError, Translator};

const SERVICE: &str = "LibreTranslate";

/// A server sets its own batch and character limits (none by default); these stay under what
/// public instances allow and keep one request's work short.
const MAX_TEXTS: usize = 50;
const MAX_REQUEST_TEXT_BYTES: usize = 32 * 1024;

/// The settings upstream keeps in `AutoTranslate_LibreTranslateAPIURL` (the server's base URL,
/// `http://libretranslate.internal:5000`) and `AutoTranslate_LibreTranslateAPIKey` (only for
/// servers that require keys).
#[derive(Clone)]
pub struct LibreTranslateConfig {
    pub url: String,
    pub api_key: Option<String>,
}

impl std::fmt::Debug for LibreTranslateConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibreTranslateConfig")
            .field("url", &self.url)
            .field("api_key_set", &self.api_key.is_some())
            .finish()
    }
}

/// Translates with a LibreTranslate server.
pub struct LibreTranslate {
    api_key: Option<String>,
    transport: Transport,
    languages: LanguageCache,
}

impl std::fmt::Debug for LibreTranslate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LibreTranslate")
            .field("url", &self.transport.base_url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Language {
    code: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TranslateAnswer {
    translated_text: OneOrMany<String>,
    #[serde(default)]
    detected_language: Option<OneOrMany<DetectedLanguage>>,
}

/// A list `q` gets list answers; older servers answer a one-element list with a single value.
#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany<T> {
    One(T),
    Many(Vec<T>),
}

impl<T> OneOrMany<T> {
    fn into_vec(self) -> Vec<T> {
        match self {
            Self::One(value) => vec![value],
            Self::Many(values) => values,
        }
    }
}

#[derive(Deserialize)]
struct DetectedLanguage {
    language: String,
}

impl LibreTranslate {
    /// The server at `config.url`; [`ProviderOptions::base_url`], when set, wins over it.
    pub fn new(config: LibreTranslateConfig) -> Result<Self, TranslateError> {
        Self::with_options(config, ProviderOptions::default())
    }

    pub fn with_options(
        config: LibreTranslateConfig,
        options: ProviderOptions,
    ) -> Result<Self, TranslateError> {
        if config.url.trim().is_empty() && options.base_url.is_none() {
            return Err(TranslateError::Configuration(
                "the LibreTranslate URL is not set".to_owned(),
            ));
        }
        Ok(Self {
            transport: Transport::new(SERVICE, &config.url, &options)?,
            languages: LanguageCache::new(options.languages_ttl),
            api_key: config
                .api_key
                .map(|k| k.trim().to_owned())
                .filter(|k| !k.is_empty()),
        })
    }

    async fn fetch_languages(&self) -> Result<Vec<String>, TranslateError> {
        let request = self.transport.client.get(self.transport.url("/languages"));
        let body = self.transport.send(request).await?.map_err(classify)?;
        let languages: Vec<Language> = self.transport.decode(&body)?;
        Ok(languages
            .into_iter()
            .map(|l| canonical_language(&l.code))
            .collect())
    }
}

/// LibreTranslate's errors are `{"error": "…"}`. A server that requires keys answers a
/// missing or unknown one with 400 or 403 depending on its version; both need an admin.
fn classify(answer: ErrorAnswer) -> TranslateError {
    let message = answer
        .json()
        .and_then(|j| j.get("error").and_then(|m| m.as_str()).map(str::to_owned));
    if answer.status == reqwest::StatusCode::BAD_REQUEST
        && message
            .as_deref()
            .is_some_and(|m| m.to_ascii_lowercase().contains("api key"))
    {
        return TranslateError::Configuration(super::describe_status(
            SERVICE,
            answer.status,
            message,
        ));
    }
    answer.into_error(SERVICE, message)
}

impl BatchedProvider for LibreTranslate {
    const SERVICE: &'static str = SERVICE;
    const MAX_TEXTS: usize = MAX_TEXTS;
    const MAX_REQUEST_SIZE: usize = MAX_REQUEST_TEXT_BYTES;

    async fn translate_batch(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target: &str,
    ) -> Result<Vec<String>, TranslateError> {
        let mut body = json!({
            "q": texts,
            "source": source_language.unwrap_or("auto"),
            "target": target,
            "format": "text",
        });
        if let Some(key) = &self.api_key {
            body["api_key"] = json!(key);
        }
        let request = self
            .transport
            .client
            .post(self.transport.url("/translate"))
            .json(&body);
        let answer = self.transport.send(request).await?.map_err(classify)?;
        let answer: TranslateAnswer = self.transport.decode(&answer)?;
        let translations = answer.translated_text.into_vec();
        expect_one_per_text(SERVICE, translations.len(), texts.len())?;
        let detected: Vec<Option<String>> = match answer.detected_language {
            Some(detected) => detected
                .into_vec()
                .into_iter()
                .map(|d| Some(d.language))
                .collect(),
            None => Vec::new(),
        };
        Ok(texts
            .iter()
            .zip(translations)
            .enumerate()
            .map(
                |(index, (original, translation))| match detected.get(index).cloned().flatten() {
                    Some(language) if same_language(&language, target) => original.clone(),
                    _ => translation,
                },
            )
            .collect())
    }
}

#[async_trait]
impl Translator for LibreTranslate {
    /// Upstream's `libreTranslate.ts` names its provider `libre-translate`, in the same
    /// `<service>-translate` form as the others; messages translated here carry the same id.
    fn provider_id(&self) -> &'static str {
        "libre-translate"
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
