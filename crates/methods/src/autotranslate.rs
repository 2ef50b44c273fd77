//! Automatic translation's methods, as upstream's web client calls them:
//! `autoTranslate.getSupportedLanguages(targetLanguage)`,
//! `autoTranslate.saveSettings(rid, field, value, options)` and
//! `autoTranslate.translateMessage(message, targetLanguage)` and
//! `autoTranslate.getProviderUiMetadata()`.

use crate::{Handler, MethodContext, Outcome, match_failed, param, session_for, str_param, value};
use comet_core::{Error, Result};
use comet_service::Service;
use serde_json::{Value, json};

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("autoTranslate.getSupportedLanguages", |s, p, c| {
        Box::pin(supported_languages(s, p, c))
    }),
    ("autoTranslate.saveSettings", |s, p, c| {
        Box::pin(save_settings(s, p, c))
    }),
    ("autoTranslate.translateMessage", |s, p, c| {
        Box::pin(translate_message(s, p, c))
    }),
    ("autoTranslate.getProviderUiMetadata", |s, p, c| {
        Box::pin(provider_ui_metadata(s, p, c))
    }),
];

/// `autoTranslate.getProviderUiMetadata()` → `{<provider id>: {name, displayName}}` for every
/// provider the server can use, which upstream's web client asks for at start.
async fn provider_ui_metadata(
    _service: &Service,
    _params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    if ctx.session.is_none() {
        return Err(
            Error::meteor("error-action-not-allowed", "Login neccessary")
                .with_details(json!({"method": "autoTranslate.getProviderUiMetadata"})),
        );
    }
    use comet_core::catalog::{AUTO_TRANSLATE_PROVIDERS, auto_translate_provider_display_name};
    let providers: serde_json::Map<String, Value> = AUTO_TRANSLATE_PROVIDERS
        .iter()
        .map(|id| {
            let display_name = auto_translate_provider_display_name(id);
            (
                (*id).to_owned(),
                json!({"name": id, "displayName": display_name}),
            )
        })
        .collect();
    value(Value::Object(providers))
}

/// `autoTranslate.getSupportedLanguages(targetLanguage)` → `[{language, name}]`.
async fn supported_languages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let target = param(&params, 0).and_then(Value::as_str).map(str::to_owned);
    if !service.setting_bool("AutoTranslate_Enabled") {
        return Err(Error::meteor(
            "error-autotranslate-disabled",
            "Auto-Translate is disabled",
        ));
    }
    let session = session_for(&ctx, "getSupportedLanguages")?;
    let languages = service
        .auto_translate()
        .supported_languages(session, target.as_deref())
        .await?;
    value(Value::Array(
        languages
            .into_iter()
            .map(|l| json!({"language": l.language, "name": l.name}))
            .collect(),
    ))
}

/// `autoTranslate.saveSettings(rid, field, value, {defaultLanguage})` → `true`. `value` is
/// a string (`"1"` turns translation on); a boolean is taken as upstream's client once sent.
async fn save_settings(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session_for(&ctx, "saveAutoTranslateSettings")?;
    let room_id = str_param(&params, 0)?;
    let field = str_param(&params, 1)?;
    let setting = match param(&params, 2) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "1".to_owned(),
        Some(Value::Bool(false)) => "0".to_owned(),
        _ => return Err(match_failed()),
    };
    let default_language = param(&params, 3)
        .and_then(|options| options.get("defaultLanguage"))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    service
        .auto_translate()
        .save_settings(session, &room_id, &field, &setting, &default_language)
        .await?;
    value(json!(true))
}

/// `autoTranslate.translateMessage(message, targetLanguage)`: translates a message the caller
/// may read; the translation reaches the room's listeners as a message update. Answers
/// nothing, as upstream.
async fn translate_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session_for(&ctx, "autoTranslate.translateMessage")?;
    let Some(message_id) = param(&params, 0)
        .and_then(|message| message.get("_id"))
        .and_then(Value::as_str)
    else {
        return Err(match_failed());
    };
    let target = param(&params, 1).and_then(Value::as_str).map(str::to_owned);
    if !service.setting_bool("AutoTranslate_Enabled") {
        return value(Value::Null);
    }
    let (message, room) = service
        .messages()
        .readable_message(session, message_id)
        .await?;
    service
        .auto_translate()
        .translate_readable(message, &room, target.as_deref())
        .await?;
    value(Value::Null)
}
