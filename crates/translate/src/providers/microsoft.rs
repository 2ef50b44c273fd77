//! Microsoft Translator (Azure AI Translator) text API v3, as upstream's `msTranslate.ts` calls
//! it: the key in `Ocp-Apim-Subscription-Key`, texts as `[{"Text": …}]`, the target in `to`;
//! the languages from `/languages?scope=translation`, which needs no key. A resource created in
//! a region other than global also needs `Ocp-Apim-Subscription-Region`, which upstream cannot
//! send; here it goes when the config names a region.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{
    BatchedProvider, ErrorAnswer, LanguageCache, ProviderOptions, Transport, canonical_language,
    expect_one_per_text, same_language, translate_in_batches,
};
use crate::{TranslateError, Translator};

/// Where Microsoft's global endpoint lives.
pub const MICROSOFT_BASE_URL: &str = "https://api.cognitive.microsofttranslator.com";

const SERVICE: &str = "Microsoft Translator";

const API_VERSION: &str = "3.0";

/// `/translate` takes at most 1,000 texts…
const MAX_TEXTS: usize = 1000;

/// …of at most 50,000 characters in all (counted in characters, not bytes).
const MAX_REQUEST_CHARS: usize = 50_000;

/// Codes upstream's clients send that Microsoft spells otherwise.
const ALIASES: &[(&str, &str)] = &[
    ("zh", "zh-Hans"),
    ("zh-CN", "zh-Hans"),
    ("zh-SG", "zh-Hans"),
    ("zh-TW", "zh-Hant"),
    ("zh-HK", "zh-Hant"),
    ("zh-MO", "zh-Hant"),
];

/// The settings upstream keeps in `AutoTranslate_MicrosoftAPIKey`, and the resource's region
/// (`westeurope`), needed unless the resource is global.
#[derive(Clone)]
pub struct MicrosoftConfig {
    pub api_key: String,
    pub region: Option<String>,
}

impl std::fmt::Debug for MicrosoftConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MicrosoftConfig")
            .field("region", &self.region)
            .finish_non_exhaustive()
    }
}

/// Translates with Microsoft Translator.
#[derive(Debug)]
pub struct MicrosoftTranslate {
    key: reqwest::header::HeaderValue,
    region: Option<String>,
    transport: Transport,
    languages: LanguageCache,
}

#[derive(Deserialize)]
struct LanguagesAnswer {
    translation: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct TextItem<'t> {
    #[serde(rename = "Text")]
    text: &'t str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TranslateItem {
    #[serde(default)]
    detected_language: Option<DetectedLanguage>,
    translations: Vec<Translation>,
}

#[derive(Deserialize)]
struct DetectedLanguage {
    language: String,
}

#[derive(Deserialize)]
struct Translation {
    text: String,
}

impl MicrosoftTranslate {
    pub fn new(config: MicrosoftConfig) -> Result<Self, TranslateError> {
        Self::with_options(config, ProviderOptions::default())
    }

    pub fn with_options(
        config: MicrosoftConfig,
        options: ProviderOptions,
    ) -> Result<Self, TranslateError> {
        let key = config.api_key.trim();
        if key.is_empty() {
            return Err(TranslateError::Configuration(
                "the Microsoft Translator API key is not set".to_owned(),
            ));
        }
        Ok(Self {
            key: super::secret_header(SERVICE, key)?,
            region: config
                .region
                .map(|r| r.trim().to_owned())
                .filter(|r| !r.is_empty()),
            transport: Transport::new(SERVICE, MICROSOFT_BASE_URL, &options)?,
            languages: LanguageCache::new(options.languages_ttl),
        })
    }

    async fn fetch_languages(&self) -> Result<Vec<String>, TranslateError> {
        let request = self
            .transport
            .client
            .get(self.transport.url("/languages"))
            .query(&[("api-version", API_VERSION), ("scope", "translation")]);
        let body = self.transport.send(request).await?.map_err(classify)?;
        let answer: LanguagesAnswer = self.transport.decode(&body)?;
        Ok(answer
            .translation
            .keys()
            .map(|code| canonical_language(code))
            .collect())
    }
}

/// Microsoft's errors are `{"error": {"code": 401000, "message": …}}`.
fn classify(answer: ErrorAnswer) -> TranslateError {
    let message = answer.json().and_then(|j| {
        j.pointer("/error/message")
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    });
    answer.into_error(SERVICE, message)
}

impl BatchedProvider for MicrosoftTranslate {
    const SERVICE: &'static str = SERVICE;
    const MAX_TEXTS: usize = MAX_TEXTS;
    const MAX_REQUEST_SIZE: usize = MAX_REQUEST_CHARS;
    const ALIASES: &'static [(&'static str, &'static str)] = ALIASES;

    fn text_size(text: &str) -> usize {
        text.chars().count()
    }

    async fn translate_batch(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target: &str,
    ) -> Result<Vec<String>, TranslateError> {
        let mut query = vec![
            ("api-version", API_VERSION),
            ("to", target),
            ("textType", "plain"),
        ];
        if let Some(source) = source_language {
            query.push(("from", source));
        }
        let items: Vec<TextItem<'_>> = texts.iter().map(|t| TextItem { text: t }).collect();
        let mut request = self
            .transport
            .client
            .post(self.transport.url("/translate"))
            .query(&query)
            .header("Ocp-Apim-Subscription-Key", self.key.clone())
            .json(&items);
        if let Some(region) = &self.region {
            request = request.header("Ocp-Apim-Subscription-Region", region);
        }
        let answer = self.transport.send(request).await?.map_err(classify)?;
        let answer: Vec<TranslateItem> = self.transport.decode(&answer)?;
        expect_one_per_text(SERVICE, answer.len(), texts.len())?;
        texts
            .iter()
            .zip(answer)
            .map(|(original, item)| {
                if item
                    .detected_language
                    .is_some_and(|d| same_language(&d.language, target))
                {
                    return Ok(original.clone());
                }
                // One target per request, so the first translation is the one asked for.
                item.translations
                    .into_iter()
                    .next()
                    .map(|t| t.text)
                    .ok_or_else(|| {
                        TranslateError::Provider(format!("{SERVICE} answered no translation"))
                    })
            })
            .collect()
    }
}

#[async_trait]
impl Translator for MicrosoftTranslate {
    fn provider_id(&self) -> &'static str {
        "microsoft-translate"
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
