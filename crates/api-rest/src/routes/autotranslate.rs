//! Automatic translation: `autotranslate.getSupportedLanguages`, `autotranslate.saveSettings`
//! and `autotranslate.translateMessage` (upstream's `v1/autotranslate.ts`). Each checks its
//! parameters as upstream's schema does first, then `AutoTranslate_Enabled`, then the rules
//! of the service.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use axum::extract::State;
use comet_core::Error;
use comet_protocol::chat;
use serde_json::{Value, json};

const DISABLED: &str = "AutoTranslate is disabled.";

/// Upstream's schemas allow no other properties.
fn only_properties(params: &Value, allowed: &[&str]) -> Result<(), Error> {
    if let Value::Object(fields) = params
        && fields.keys().any(|k| !allowed.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

/// A string property as ajv with `coerceTypes` reads it: numbers and booleans become their
/// text; anything else is refused.
fn coerced_str(params: &Value, name: &str) -> Result<Option<String>, Error> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        Some(Value::Bool(b)) => Ok(Some(b.to_string())),
        Some(_) => Err(Error::invalid_params(format!("must be string: {name}"))),
    }
}

fn required(name: &str) -> Error {
    Error::invalid_params(format!("must have required property '{name}'"))
}

fn ensure_enabled(app: &AppState) -> Result<(), Error> {
    if app.service.setting_bool("AutoTranslate_Enabled") {
        Ok(())
    } else {
        Err(Error::failure(DISABLED))
    }
}

/// `GET /api/v1/autotranslate.getSupportedLanguages` `{targetLanguage?}`:
/// `{languages: [{language, name}]}`, names in `targetLanguage`.
pub async fn supported_languages(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    only_properties(&query, &["targetLanguage"])?;
    let target = coerced_str(&query, "targetLanguage")?;
    ensure_enabled(&app)?;
    let languages = app
        .service
        .auto_translate()
        .supported_languages(&session, target.as_deref())
        .await?;
    let languages: Vec<Value> = languages
        .into_iter()
        .map(|l| json!({"language": l.language, "name": l.name}))
        .collect();
    ok(json!({ "languages": languages }))
}

/// `POST /api/v1/autotranslate.saveSettings` `{roomId, field, value, defaultLanguage?}`:
/// the caller's translation choice in a room.
pub async fn save_settings(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    only_properties(&body, &["roomId", "field", "value", "defaultLanguage"])?;
    let room_id = coerced_str(&body, "roomId")?.ok_or_else(|| required("roomId"))?;
    let field = coerced_str(&body, "field")?.ok_or_else(|| required("field"))?;
    if field != "autoTranslate" && field != "autoTranslateLanguage" {
        return Err(Error::invalid_params("must be equal to one of the allowed values").into());
    }
    // `value` is a boolean or a string (other scalars coerced to one).
    let value = match body.get("value") {
        None | Some(Value::Null) => return Err(required("value").into()),
        Some(Value::Bool(b)) => Value::Bool(*b),
        Some(_) => Value::String(coerced_str(&body, "value")?.unwrap_or_default()),
    };
    let default_language = coerced_str(&body, "defaultLanguage")?.unwrap_or_default();
    ensure_enabled(&app)?;
    let value = if field == "autoTranslate" {
        match &value {
            Value::Bool(true) => "1".to_owned(),
            Value::String(s) if s == "true" => "1".to_owned(),
            Value::Bool(false) => "false".to_owned(),
            Value::String(s) if s == "false" => "false".to_owned(),
            _ => {
                return Err(
                    Error::failure("The bodyParam \"autoTranslate\" must be a boolean.").into(),
                );
            }
        }
    } else {
        // Upstream refuses a string that starts as a number (`parseInt` succeeds).
        match value.as_str() {
            Some(s) if !starts_as_number(s) => s.to_owned(),
            _ => {
                return Err(Error::failure(
                    "The bodyParam \"autoTranslateLanguage\" must be a string.",
                )
                .into());
            }
        }
    };
    app.service
        .auto_translate()
        .save_settings(&session, &room_id, &field, &value, &default_language)
        .await?;
    ok(Value::Null)
}

/// Whether JavaScript's `parseInt` finds a number at the start of `s`.
fn starts_as_number(s: &str) -> bool {
    let s = s.trim_start();
    let s = s.strip_prefix(['+', '-']).unwrap_or(s);
    s.starts_with(|c: char| c.is_ascii_digit())
}

/// `POST /api/v1/autotranslate.translateMessage` `{messageId, targetLanguage?}`: translates
/// one message now; `{message}` with its translations.
pub async fn translate_message(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    only_properties(&body, &["messageId", "targetLanguage"])?;
    let message_id = coerced_str(&body, "messageId")?.ok_or_else(|| required("messageId"))?;
    let target = coerced_str(&body, "targetLanguage")?;
    ensure_enabled(&app)?;
    if message_id.is_empty() {
        return Err(Error::failure("The bodyParam \"messageId\" is required.").into());
    }
    let message = app
        .service
        .auto_translate()
        .translate_message(&session, &message_id, target.as_deref())
        .await?;
    ok(json!({ "message": chat::message(&message) }))
}

/// `GET /api/v1/autotranslate.status` (Comet's own; upstream has no engine of its own to
/// report on): whether translation is on, the provider, what the worker translated and
/// dropped, the provider's failures and the last of them, and the built-in engine's state.
/// For those who may change the settings (`edit-privileged-setting`).
pub async fn status(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let status = app.service.auto_translate().status(&session).await?;
    let health = &status.health;
    let engine = status.engine.as_ref().map(|engine| {
        json!({
            "workers": engine.workers,
            "queued": engine.queued,
            "running": engine.running,
            "cacheHits": engine.cache_hits,
            "cacheMisses": engine.cache_misses,
            "cachedEntries": engine.cached_entries,
            "loadedPairs": engine.loaded_pairs,
            "installedPairs": status.installed_pairs,
        })
    });
    ok(json!({
        "enabled": status.enabled,
        "provider": status.provider,
        "translated": health.translated,
        "dropped": health.dropped,
        "failures": health.failures,
        "lastFailure": health.last_failure.as_ref().map(|failure| json!({
            "at": comet_protocol::iso(failure.at),
            "provider": failure.provider,
            "error": failure.error,
        })),
        "engine": engine,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_at_the_start_are_what_parse_int_reads() {
        assert!(starts_as_number("12"));
        assert!(starts_as_number(" -3x"));
        assert!(!starts_as_number("en"));
        assert!(!starts_as_number(""));
    }
}
