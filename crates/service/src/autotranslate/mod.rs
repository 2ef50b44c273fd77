//! Automatic translation of messages (upstream's `autotranslate`): members choose per room
//! whether messages arrive translated and into which language (`autoTranslate`,
//! `autoTranslateLanguage` on their subscription); a message's translations are stored in it
//! (`translations: {lang: text}`, `translationProvider`) and reach clients as any change to a
//! message does (`stream-room-messages`).
//!
//! Posting never waits for translation: after a message is saved, its id goes into a bounded
//! queue (a full queue drops the translation, never the message) drained by a worker that runs
//! at most `CONCURRENT_JOBS` jobs at once. A job asks the store once for the languages the
//! room's translating members chose, translates the text and the attachments' descriptions
//! into each (only their prose: see `protect`), and writes everything with one
//! `MessageChange::Translate`, which an edit made meanwhile makes a no-op. A provider that
//! fails leaves the original alone; the job is retried with doubling backoff up to
//! `MAX_ATTEMPTS` times, and the failure is logged at `warn`, which admins read in
//! `stdout.queue` (never the sender: they are not told at all).
//!
//! The translator comes from the settings, in one place: [`Service::translator_for`].

pub mod languages;
pub mod protect;

use crate::auth::Session;
use crate::{AutoTranslate, Service, store_error};
use comet_core::room::{Message, Room, Subscription};
use comet_core::user::User;
use comet_core::{Error, Result, now};
use comet_store::{AttachmentTranslations, AutoTranslateChange, MessageChange};
use comet_translate::builtin::{BuiltinConfig, BuiltinTranslator};
use comet_translate::providers::{
    DeeplConfig, DeeplTranslate, GoogleConfig, GoogleTranslate, LibreTranslate,
    LibreTranslateConfig, MicrosoftConfig, MicrosoftTranslate,
};
use comet_translate::{TranslateError, Translator};
use protect::Piece;
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Messages waiting for translation; beyond this, new ones go untranslated.
const QUEUE: usize = 256;
/// Messages translated at once (the built-in engine bounds its own threads as well).
const CONCURRENT_JOBS: usize = 2;
/// Tries of one message with a failing provider, the first included.
const MAX_ATTEMPTS: u32 = 4;
/// The wait before the first retry; doubled before each further one.
const FIRST_RETRY: Duration = Duration::from_secs(2);
/// How long one message's translation may take, all languages together.
const JOB_TIMEOUT: Duration = Duration::from_secs(120);
/// How long `autotranslate.translateMessage` waits for its translation.
const ON_DEMAND_TIMEOUT: Duration = Duration::from_secs(60);

/// The provider id of Comet's engine, `AutoTranslate_ServiceProvider`'s default.
pub const BUILTIN_PROVIDER: &str = comet_translate::builtin::PROVIDER_ID;

const DISABLED: &str = "Auto-Translate is disabled";
const NOT_ALLOWED: &str = "Auto-Translate is not allowed";

/// One entry of `autotranslate.getSupportedLanguages`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SupportedLanguage {
    pub language: String,
    pub name: String,
}

/// A saved message still to translate.
pub(crate) struct TranslationJob {
    message_id: String,
    attempt: u32,
}

/// The translator last made from the settings, with what it was made from.
struct CurrentTranslator {
    made_from: Vec<String>,
    translator: Arc<dyn Translator>,
}

/// The service's side of automatic translation: the job queue, the translator in use, and
/// the built-in engine once opened (its threads and models live as long as the process).
pub(crate) struct TranslationQueue {
    jobs: mpsc::Sender<TranslationJob>,
    permits: Arc<Semaphore>,
    current: Mutex<Option<CurrentTranslator>>,
    builtin: Mutex<Option<Arc<BuiltinTranslator>>>,
}

impl TranslationQueue {
    pub(crate) fn new() -> (TranslationQueue, mpsc::Receiver<TranslationJob>) {
        let (jobs, waiting) = mpsc::channel(QUEUE);
        let queue = TranslationQueue {
            jobs,
            permits: Arc::new(Semaphore::new(CONCURRENT_JOBS)),
            current: Mutex::new(None),
            builtin: Mutex::new(None),
        };
        (queue, waiting)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Service {
    /// Runs queued translation jobs, each on a task of its own once a permit is free. Holds
    /// the service weakly: the worker ends with it.
    pub(crate) fn run_translation_worker(
        self: &Arc<Self>,
        mut waiting: mpsc::Receiver<TranslationJob>,
    ) {
        let service = Arc::downgrade(self);
        let permits = self.translation.permits.clone();
        tokio::spawn(async move {
            while let Some(job) = waiting.recv().await {
                let Ok(permit) = permits.clone().acquire_owned().await else {
                    break;
                };
                let Some(service) = service.upgrade() else {
                    break;
                };
                tokio::spawn(async move {
                    let retry = service.auto_translate().run_job(&job).await;
                    drop(permit);
                    if retry {
                        service.retry_translation(job);
                    }
                });
            }
        });
    }

    /// Queues a failed job again after its backoff (without holding a permit meanwhile).
    fn retry_translation(self: &Arc<Self>, job: TranslationJob) {
        let attempt = job.attempt + 1;
        if attempt >= MAX_ATTEMPTS {
            tracing::warn!(
                message = %job.message_id,
                attempts = attempt,
                "auto-translate: giving up on this message; it stays untranslated"
            );
            return;
        }
        let wait = FIRST_RETRY * 2u32.saturating_pow(job.attempt);
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            tokio::time::sleep(wait).await;
            if let Some(service) = service.upgrade() {
                let job = TranslationJob {
                    message_id: job.message_id,
                    attempt,
                };
                if service.translation.jobs.try_send(job).is_err() {
                    tracing::warn!("auto-translate: queue full, a retry is dropped");
                }
            }
        });
    }

    /// The translator `AutoTranslate_ServiceProvider` names, made with its settings: the one
    /// place a provider id becomes a translator. Made again only when those settings change;
    /// the built-in engine is opened once (from `COMET_TRANSLATION_MODELS`) and kept.
    pub(crate) fn translator_for(
        &self,
    ) -> std::result::Result<Arc<dyn Translator>, TranslateError> {
        let provider = self.setting_str("AutoTranslate_ServiceProvider");
        let settings: &[&str] = match provider.as_str() {
            "google-translate" => &["AutoTranslate_GoogleAPIKey"],
            "deepl-translate" => &["AutoTranslate_DeepLAPIKey"],
            "microsoft-translate" => &["AutoTranslate_MicrosoftAPIKey"],
            "libre-translate" => &[
                "AutoTranslate_LibreTranslateAPIURL",
                "AutoTranslate_LibreTranslateAPIKey",
            ],
            _ => &[],
        };
        let made_from: Vec<String> = std::iter::once(provider.clone())
            .chain(settings.iter().map(|id| self.setting_str(id)))
            .collect();
        let mut current = lock(&self.translation.current);
        if let Some(existing) = current.as_ref().filter(|c| c.made_from == made_from) {
            return Ok(existing.translator.clone());
        }
        let setting = |i: usize| made_from.get(i).cloned().unwrap_or_default();
        let translator: Arc<dyn Translator> = match provider.as_str() {
            "google-translate" => Arc::new(GoogleTranslate::new(GoogleConfig {
                api_key: setting(1),
            })?),
            "deepl-translate" => Arc::new(DeeplTranslate::new(DeeplConfig {
                api_key: setting(1),
            })?),
            "microsoft-translate" => Arc::new(MicrosoftTranslate::new(MicrosoftConfig {
                api_key: setting(1),
                // Upstream has no region setting: its resources are global.
                region: None,
            })?),
            "libre-translate" => Arc::new(LibreTranslate::new(LibreTranslateConfig {
                url: setting(1),
                api_key: Some(setting(2)).filter(|key| !key.is_empty()),
            })?),
            // `comet-builtin`, and any value Comet does not know, which an admin could only
            // have written around the setting's choices.
            _ => self.builtin_translator()?,
        };
        *current = Some(CurrentTranslator {
            made_from,
            translator: translator.clone(),
        });
        Ok(translator)
    }

    fn builtin_translator(&self) -> std::result::Result<Arc<dyn Translator>, TranslateError> {
        let mut builtin = lock(&self.translation.builtin);
        if let Some(engine) = builtin.as_ref() {
            return Ok(engine.clone());
        }
        let Some(models) = &self.config.translation_models else {
            return Err(TranslateError::Configuration(
                "the built-in engine has no models: set COMET_TRANSLATION_MODELS".to_owned(),
            ));
        };
        let engine = Arc::new(BuiltinTranslator::open(BuiltinConfig::new(models))?);
        *builtin = Some(engine.clone());
        Ok(engine)
    }
}

/// Says what went wrong with the provider where admins read it (the log, `stdout.queue`).
fn report_failure(provider: &str, message_id: &str, error: &TranslateError) {
    tracing::warn!(
        provider,
        message = %message_id,
        error = %error,
        "auto-translate: the provider failed; the message keeps its original text"
    );
}

/// Whether trying again later may help.
fn worth_retrying(error: &TranslateError) -> bool {
    matches!(error, TranslateError::Provider(_))
}

/// The texts of a message to translate: its text, then each attachment's description.
struct MessageTexts {
    text: Vec<Piece>,
    /// `(index in attachments, description, its pieces)`.
    descriptions: Vec<(usize, String, Vec<Piece>)>,
}

impl MessageTexts {
    fn of(message: &Message) -> MessageTexts {
        let descriptions = message
            .attachments
            .as_ref()
            .and_then(Value::as_array)
            .map(|list| {
                list.iter()
                    .enumerate()
                    .filter_map(|(index, attachment)| {
                        let description = attachment.get("description")?.as_str()?;
                        let pieces = protect::split(description);
                        let has_prose = protect::prose(&pieces).next().is_some();
                        has_prose.then(|| (index, description.to_owned(), pieces))
                    })
                    .collect()
            })
            .unwrap_or_default();
        MessageTexts {
            text: protect::split(&message.text),
            descriptions,
        }
    }

    fn is_empty(&self) -> bool {
        protect::prose(&self.text).next().is_none() && self.descriptions.is_empty()
    }

    /// All prose, the text's first.
    fn prose(&self) -> Vec<String> {
        protect::prose(&self.text)
            .chain(
                self.descriptions
                    .iter()
                    .flat_map(|(_, _, pieces)| protect::prose(pieces)),
            )
            .cloned()
            .collect()
    }
}

/// A message's translations into several languages, ready for `MessageChange::Translate`.
#[derive(Default)]
struct Translated {
    text: BTreeMap<String, String>,
    descriptions: BTreeMap<usize, (String, BTreeMap<String, String>)>,
}

impl AutoTranslate<'_> {
    fn enabled(&self) -> bool {
        self.ctx.setting_bool("AutoTranslate_Enabled")
    }

    fn may_translate(&self, user: &User) -> bool {
        self.ctx.has_permission(user, "auto-translate")
    }

    /// After a message is saved or edited (upstream's `afterSaveMessage` hook): queues its
    /// translation. Costs no query: whether anyone wants it is the worker's question.
    pub(crate) fn queue(&self, message: &Message) {
        if !self.enabled() || message.kind.is_some() || message.deleted_at.is_some() {
            return;
        }
        let job = TranslationJob {
            message_id: message.id.clone(),
            attempt: 0,
        };
        if let Err(mpsc::error::TrySendError::Full(job)) = self.ctx.translation.jobs.try_send(job) {
            tracing::warn!(message = %job.message_id, "auto-translate: queue full, message not translated");
        }
    }

    /// Translates one queued message for the room's translating members; true when it failed
    /// in a way worth retrying.
    async fn run_job(&self, job: &TranslationJob) -> bool {
        if !self.enabled() {
            return false;
        }
        let found = match self.message_and_room(&job.message_id).await {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, message = %job.message_id, "auto-translate: cannot read the message");
                return true;
            }
        };
        let Some((message, room)) = found else {
            return false;
        };
        let languages = match self
            .ctx
            .store
            .auto_translate_languages(&room.id, &message.author.id)
            .await
        {
            Ok(languages) => languages,
            Err(e) => {
                tracing::warn!(error = %e, room = %room.id, "auto-translate: cannot read the room's languages");
                return true;
            }
        };
        if languages.is_empty() {
            return false;
        }
        match tokio::time::timeout(JOB_TIMEOUT, self.translate_and_store(&message, &languages))
            .await
        {
            Ok(Ok(_)) => false,
            Ok(Err(TranslationFailure::Provider(provider, error))) => {
                report_failure(&provider, &message.id, &error);
                worth_retrying(&error)
            }
            Ok(Err(TranslationFailure::Store(e))) => {
                tracing::warn!(error = %e, message = %message.id, "auto-translate: cannot save translations");
                true
            }
            Err(_) => {
                tracing::warn!(message = %message.id, "auto-translate: translation timed out");
                true
            }
        }
    }

    /// A live, non-system message and its room, unless the room is end-to-end encrypted.
    async fn message_and_room(&self, message_id: &str) -> Result<Option<(Message, Room)>> {
        let store = &self.ctx.store;
        let Some(message) = store.message_by_id(message_id).await.map_err(store_error)? else {
            return Ok(None);
        };
        if message.deleted_at.is_some() || message.kind.is_some() {
            return Ok(None);
        }
        let Some(room) = store
            .room_by_id(&message.room_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        Ok((!room.encrypted).then_some((message, room)))
    }

    /// Translates `message` into each of `languages` and stores the translations (announced
    /// as a message update); the message as stored afterwards.
    async fn translate_and_store(
        &self,
        message: &Message,
        languages: &[String],
    ) -> std::result::Result<Message, TranslationFailure> {
        let texts = MessageTexts::of(message);
        if texts.is_empty() {
            return Ok(message.clone());
        }
        let translator = self
            .ctx
            .translator_for()
            .map_err(|e| TranslationFailure::Provider(self.provider_name(), e))?;
        let provider = translator.provider_id();
        let prose = texts.prose();
        let source = self.source_language(translator.as_ref(), &prose).await;
        let mut translated = Translated::default();
        for language in languages {
            let answers = if source
                .as_deref()
                .is_some_and(|s| same_language(s, language))
            {
                prose.clone()
            } else {
                match translator
                    .translate(&prose, source.as_deref(), language)
                    .await
                {
                    Ok(answers) => answers,
                    // A language no model reaches is left out, not retried.
                    Err(TranslateError::UnsupportedPair { .. }) => continue,
                    Err(e) => return Err(TranslationFailure::Provider(provider.to_owned(), e)),
                }
            };
            let mut answers = answers.into_iter();
            translated
                .text
                .insert(language.clone(), protect::join(&texts.text, &mut answers));
            for (index, description, pieces) in &texts.descriptions {
                translated
                    .descriptions
                    .entry(*index)
                    .or_insert_with(|| (description.clone(), BTreeMap::new()))
                    .1
                    .insert(language.clone(), protect::join(pieces, &mut answers));
            }
        }
        if translated.text.is_empty() {
            return Ok(message.clone());
        }
        let change = MessageChange::Translate {
            source_text: message.text.clone(),
            provider: provider.to_owned(),
            translations: translated.text,
            attachments: translated
                .descriptions
                .into_iter()
                .map(
                    |(index, (source_description, translations))| AttachmentTranslations {
                        index,
                        source_description,
                        translations,
                    },
                )
                .collect(),
        };
        let changed = self
            .ctx
            .messages()
            .change_message(&message.id, &change)
            .await
            .map_err(TranslationFailure::Store)?;
        Ok(changed.map_or_else(|| message.clone(), |c| c.message))
    }

    fn provider_name(&self) -> String {
        self.ctx.setting_str("AutoTranslate_ServiceProvider")
    }

    /// The message's language, guessed once from all its prose among the languages the
    /// translator knows; `None` leaves the guessing to the translator.
    async fn source_language(
        &self,
        translator: &dyn Translator,
        prose: &[String],
    ) -> Option<String> {
        let known = translator.supported_languages().await.ok()?;
        let all = prose.join(" ");
        comet_translate::builtin::detect_language(&all, known.iter().map(String::as_str))
    }

    /// `autotranslate.getSupportedLanguages` / `autoTranslate.getSupportedLanguages`: the
    /// languages the translator in use can translate into, named in `target_language` (else
    /// the caller's language, else English).
    pub async fn supported_languages(
        &self,
        session: &Session,
        target_language: Option<&str>,
    ) -> Result<Vec<SupportedLanguage>> {
        if !self.enabled() {
            return Err(Error::meteor("error-autotranslate-disabled", DISABLED));
        }
        if !self.may_translate(&session.user) {
            return Err(Error::meteor("error-action-not-allowed", NOT_ALLOWED));
        }
        let in_language = target_language
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .or_else(|| session.user.language.clone())
            .unwrap_or_else(|| "en".to_owned());
        let codes = match self.ctx.translator_for() {
            Ok(translator) => translator.supported_languages().await,
            Err(e) => Err(e),
        };
        // Upstream answers an empty list when the provider cannot be asked.
        let codes = codes.unwrap_or_else(|e| {
            report_failure(&self.provider_name(), "-", &e);
            Vec::new()
        });
        Ok(codes
            .into_iter()
            .map(|code| SupportedLanguage {
                name: languages::language_name(&code, &in_language),
                language: code,
            })
            .collect())
    }

    /// `autotranslate.saveSettings` / `autoTranslate.saveSettings` (upstream's
    /// `saveAutoTranslateSettings`): `field` is `autoTranslate` (`value` `"1"` for on) or
    /// `autoTranslateLanguage`; a member turning translation on without a language gets
    /// `default_language`.
    pub async fn save_settings(
        &self,
        session: &Session,
        room_id: &str,
        field: &str,
        value: &str,
        default_language: &str,
    ) -> Result<()> {
        if !self.may_translate(&session.user) {
            return Err(Error::meteor("error-action-not-allowed", NOT_ALLOWED));
        }
        if field != "autoTranslate" && field != "autoTranslateLanguage" {
            return Err(Error::meteor(
                "error-invalid-settings",
                "Invalid settings field",
            ));
        }
        let store = &self.ctx.store;
        let Some(before) = store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor(
                "error-invalid-subscription",
                "Invalid subscription",
            ));
        };
        let change = if field == "autoTranslate" {
            let on = value == "1";
            let encrypted = store
                .room_by_id(room_id)
                .await
                .map_err(store_error)?
                .is_some_and(|room| room.encrypted);
            if encrypted && on {
                return Err(Error::meteor(
                    "error-e2e-enabled",
                    "Enabling auto-translation in E2E encrypted rooms is not allowed",
                ));
            }
            AutoTranslateChange::Switch {
                on,
                default_language: Some(default_language.to_owned()).filter(|l| !l.is_empty()),
            }
        } else {
            AutoTranslateChange::Language(value.to_owned())
        };
        let after = store
            .change_auto_translate(room_id, &session.user.id, &change, now())
            .await
            .map_err(store_error)?;
        if let Some(after) = after.filter(|after| changed(&before, after)) {
            self.ctx
                .rooms()
                .publish_subscription(comet_events::Change::Updated, after);
        }
        Ok(())
    }

    /// `autotranslate.translateMessage`: translates one message now, into `target_language`
    /// or else the languages the room's translating members chose, stores the translations
    /// (announced as a message update) and answers the message. Refusals as upstream's
    /// route: a missing message is "Message not found.", one the caller cannot read 403.
    pub async fn translate_message(
        &self,
        session: &Session,
        message_id: &str,
        target_language: Option<&str>,
    ) -> Result<Message> {
        let not_found = || Error::failure("Message not found.");
        let store = &self.ctx.store;
        let Some(message) = store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?
            .filter(|m| m.deleted_at.is_none())
        else {
            return Err(not_found());
        };
        let Some(room) = store
            .room_by_id(&message.room_id)
            .await
            .map_err(store_error)?
        else {
            return Err(not_found());
        };
        if !self
            .ctx
            .rooms()
            .can_access_room(&session.user, &room)
            .await?
        {
            return Err(Error::forbidden());
        }
        self.translate_readable(message, &room, target_language)
            .await
    }

    /// `autoTranslate.translateMessage` (the method): as the route, for a message the caller
    /// may read (checked by the caller); the updated message goes to the room's listeners.
    pub async fn translate_readable(
        &self,
        message: Message,
        room: &Room,
        target_language: Option<&str>,
    ) -> Result<Message> {
        if message.kind.is_some() || room.encrypted {
            return Ok(message);
        }
        let languages = match target_language.filter(|l| !l.is_empty()) {
            Some(language) => vec![language.to_owned()],
            None => self
                .ctx
                .store
                .auto_translate_languages(&room.id, &message.author.id)
                .await
                .map_err(store_error)?,
        };
        if languages.is_empty() {
            return Ok(message);
        }
        let failed = || Error::failure("Failed to translate message.");
        match tokio::time::timeout(
            ON_DEMAND_TIMEOUT,
            self.translate_and_store(&message, &languages),
        )
        .await
        {
            Ok(Ok(translated)) => Ok(translated),
            Ok(Err(TranslationFailure::Provider(provider, error))) => {
                report_failure(&provider, &message.id, &error);
                Err(failed())
            }
            Ok(Err(TranslationFailure::Store(e))) => Err(e),
            Err(_) => Err(failed()),
        }
    }

    /// A user changed their language preference: with `AutoTranslate_AutoEnableOnJoinRoom`
    /// on, their subscriptions follow it as new ones would (translating into a language that
    /// is not the workspace's, not translating otherwise), except where they turned
    /// translation off themselves (upstream's `saveUserPreferences`).
    pub(crate) async fn follow_language(&self, user: &User) -> Result<()> {
        if !self.ctx.setting_bool("AutoTranslate_AutoEnableOnJoinRoom") {
            return Ok(());
        }
        let (_, language) = self.on_join(user);
        let changed = self
            .ctx
            .store
            .follow_user_language(&user.id, language.as_deref(), now())
            .await
            .map_err(store_error)?;
        for subscription in changed {
            self.ctx
                .rooms()
                .publish_subscription(comet_events::Change::Updated, subscription);
        }
        Ok(())
    }

    /// `AutoTranslate_AutoEnableOnJoinRoom` (upstream's
    /// `getSubscriptionAutotranslateDefaultConfig`): a member whose language is not the
    /// workspace's joins with translation on, into their language.
    pub(crate) fn on_join(&self, user: &User) -> (Option<bool>, Option<String>) {
        if !self.ctx.setting_bool("AutoTranslate_AutoEnableOnJoinRoom") {
            return (None, None);
        }
        let workspace = self.ctx.setting_str("Language");
        match user.language.as_deref() {
            Some(language)
                if !language.is_empty() && language != "default" && language != workspace =>
            {
                (Some(true), Some(language.to_owned()))
            }
            _ => (None, None),
        }
    }
}

/// Why translating a message failed.
enum TranslationFailure {
    /// The provider failed (named by its id).
    Provider(String, TranslateError),
    Store(Error),
}

fn changed(before: &Subscription, after: &Subscription) -> bool {
    before.auto_translate != after.auto_translate
        || before.auto_translate_language != after.auto_translate_language
}

/// Whether two language codes name the same language (`pt` and `pt-BR` do).
fn same_language(a: &str, b: &str) -> bool {
    let primary = |code: &str| {
        code.split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase()
    };
    primary(a) == primary(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regional_codes_are_the_same_language() {
        assert!(same_language("pt", "pt-BR"));
        assert!(same_language("EN", "en_gb"));
        assert!(!same_language("pt", "es"));
    }
}
