//! Machine translation of plain texts. The service decides what to translate, for whom and
//! when (which rooms, which languages, what to keep untouched: mentions, emoji, code, links);
//! this crate only turns texts in one language into another, behind [`Translator`], so the
//! service never sees a model file or a provider's wire format.

pub mod builtin;

use async_trait::async_trait;

pub mod providers;

/// Why a translation did not happen. None of these is ever shown to the sender of a message;
/// the service keeps the original and tells admins.
#[derive(Debug, thiserror::Error)]
pub enum TranslateError {
    /// No model or provider route from the source language to the target.
    #[error("no translation from {source_language} to {target_language}")]
    UnsupportedPair {
        source_language: String,
        target_language: String,
    },
    /// The work queue is full: the caller drops this translation (never the message).
    #[error("translation queue is full")]
    Overloaded,
    /// The provider answered with an error or could not be reached; worth retrying later.
    #[error("translation provider failed: {0}")]
    Provider(String),
    /// The provider refused the configuration (a missing or rejected key, a bad URL); retrying
    /// does not help until an admin changes it.
    #[error("translation provider is misconfigured: {0}")]
    Configuration(String),
}

/// A translation engine or service.
#[async_trait]
pub trait Translator: Send + Sync {
    /// The provider's id as upstream writes it into a message's `translationProvider`.
    fn provider_id(&self) -> &'static str;

    /// Language codes this translator can translate into (lowercase, upstream's codes such as
    /// `en`, `pt`, `zh-TW`).
    async fn supported_languages(&self) -> Result<Vec<String>, TranslateError>;

    /// Translates each of `texts` into `target_language`, answering in the same order.
    /// `source_language` is the texts' language when the caller knows it; otherwise the
    /// translator detects it. A text already in the target language comes back unchanged.
    async fn translate(
        &self,
        texts: &[String],
        source_language: Option<&str>,
        target_language: &str,
    ) -> Result<Vec<String>, TranslateError>;
}
