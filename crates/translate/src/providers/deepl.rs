//! DeepL API v2, as upstream's `deeplTranslate.ts` calls it: the free endpoint for a key that
//! ends in `:fx`, the pro endpoint otherwise, the key in a `DeepL-Auth-Key` authorization
//! header, and the target languages from `/v2/languages?type=target` in `Intl.Locale` casing
//! (`PT-BR` → `pt-BR`).

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::json;

use super::{
    BatchedProvider, ErrorAnswer, LanguageCache, ProviderOptions, Transport, canonical_language,
    expect_one_per_text, primary_subtag, same_language, translate_in_batches,
};
use crate::{TranslateError, Translator};

/// The endpoint of DeepL API Pro keys.
pub const DEEPL_PRO_BASE_URL: &str = "https://api.deepl.com";
/// The endpoint of DeepL API Free keys (those ending in `:fx`).
pub const DEEPL_FREE_BASE_URL: &str = "https://api-free.deepl.com";

const SERVICE: &str = "DeepL";

/// `/v2/translate` takes at most 50 texts per request…
const MAX_TEXTS: usize = 50;

/// …in a body of at most 128 KiB; the rest of the body (target, source, braces) is far under
/// the room left here.
const MAX_REQUEST_TEXT_BYTES: usize = 120 * 1024;

/// Codes upstream's clients send that DeepL spells otherwise.
const ALIASES: &[(&str, &str)] = &[
    ("zh-CN", "zh-Hans"),
    ("zh-SG", "zh-Hans"),
    ("zh-TW", "zh-Hant"),
    ("zh-HK", "zh-Hant"),
    ("zh-MO", "zh-Hant"),
];

/// The settings upstream keeps in `AutoTranslate_DeepLAPIKey`.
#[derive(Clone)]
pub struct DeeplConfig {
    pub api_key: String,
}

impl std::fmt::Debug for DeeplConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeeplConfig")
            .field("free_key", &is_free_key(&self.api_key))
            .finish_non_exhaustive()
    }
}

/// Whether a key belongs to DeepL API Free, whose requests go to another host (as upstream
/// decides it: by the `:fx` suffix).
pub fn is_free_key(api_key: &str) -> bool {
    api_key.trim().ends_with(":fx")
}

/// Translates with the DeepL API.
#[derive(Debug)]
pub struct DeeplTranslate {
    authorization: reqwest::header::HeaderValue,
    transport: Transport,
    languages: LanguageCache,
}

#[derive(Deserialize)]
struct Language {
    language: String,
}

#[derive(Deserialize)]
struct TranslateAnswer {
    translations: Vec<Translation>,
}

#[derive(Deserialize)]
struct Translation {
    text: String,
    #[serde(default)]
    detected_source_language: Option<String>,
}

impl DeeplTranslate {
    pub fn new(config: DeeplConfig) -> Result<Self, TranslateError> {
        Self::with_options(config, ProviderOptions::default())
    }

    pub fn with_options(
        config: DeeplConfig,
        options: ProviderOptions,
    ) -> Result<Self, TranslateError> {
        let key = config.api_key.trim();
        if key.is_empty() {
            return Err(TranslateError::Configuration(
                "the DeepL API key is not set".to_owned(),
            ));
        }
        let default_base_url = if is_free_key(key) {
            DEEPL_FREE_BASE_URL
        } else {
            DEEPL_PRO_BASE_URL
        };
        Ok(Self {
            authorization: super::secret_header(SERVICE, &format!("DeepL-Auth-Key {key}"))?,
            transport: Transport::new(SERVICE, default_base_url, &options)?,
            languages: LanguageCache::new(options.languages_ttl),
        })
    }

    /// The address requests go to (the free or the pro endpoint, unless overridden).
    pub fn base_url(&self) -> &str {
        &self.transport.base_url
    }

    async fn fetch_languages(&self) -> Result<Vec<String>, TranslateError> {
        let request = self
            .transport
            .client
            .get(self.transport.url("/v2/languages"))
            .query(&[("type", "target")])
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone());
        let body = self.transport.send(request).await?.map_err(classify)?;
        let languages: Vec<Language> = self.transport.decode(&body)?;
        Ok(languages
            .into_iter()
            .map(|l| canonical_language(&l.language))
            .collect())
    }
}

/// DeepL answers a rejected key with 403 and a used-up character quota with 456; the latter
/// passes with the billing period, so it is retried like throttling.
fn classify(answer: ErrorAnswer) -> TranslateError {
    let message = answer
        .json()
        .and_then(|j| j.get("message").and_then(|m| m.as_str()).map(str::to_owned));
    if answer.status.as_u16() == 456 {
        return TranslateError::Provider(super::describe_status(
            SERVICE,
            answer.status,
            Some(message.unwrap_or_else(|| "quota exceeded".to_owned())),
        ));
    }
    answer.into_error(SERVICE, message)
}

impl BatchedProvider for DeeplTranslate {
    const SERVICE: &'static str = SERVICE;
    const MAX_TEXTS: usize = MAX_TEXTS;
    const MAX_REQUEST_SIZE: usize = MAX_REQUEST_TEXT_BYTES;
    const ALIASES: &'static [(&'static str, &'static str)] = ALIASES;

    async fn translate_batch(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target: &str,
    ) -> Result<Vec<String>, TranslateError> {
        let mut body = json!({ "text": texts, "target_lang": target.to_ascii_uppercase() });
        if let Some(source) = source_language {
            // Source languages have no regional variants in DeepL's list.
            body["source_lang"] = json!(primary_subtag(source).to_ascii_uppercase());
        }
        let request = self
            .transport
            .client
            .post(self.transport.url("/v2/translate"))
            .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
            .json(&body);
        let answer = self.transport.send(request).await?.map_err(classify)?;
        let answer: TranslateAnswer = self.transport.decode(&answer)?;
        expect_one_per_text(SERVICE, answer.translations.len(), texts.len())?;
        Ok(texts
            .iter()
            .zip(answer.translations)
            .map(
                |(original, translation)| match translation.detected_source_language {
                    Some(detected) if same_language(&detected, target) => original.clone(),
                    _ => translation.text,
                },
            )
            .collect())
    }
}

#[async_trait]
impl Translator for DeeplTranslate {
    fn provider_id(&self) -> &'static str {
        "deepl-translate"
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
