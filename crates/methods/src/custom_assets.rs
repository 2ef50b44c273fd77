//! Custom emoji, user statuses and sounds: the DDP methods upstream's clients call, and the
//! documents both transports send (REST form; DDP turns dates into EJSON).

use crate::{Handler, MethodContext, Outcome, match_failed, param, session_for, str_param, value};
use base64::Engine as _;
use comet_core::{Error, Result};
use comet_protocol::{ejson, iso};
use comet_service::Service;
use comet_service::custom_assets::{CustomEmoji, CustomSound, CustomUserStatus, SoundInput};
use serde_json::{Value, json};

/// An emoji as upstream's `IEmojiCustom`.
pub fn emoji_json(emoji: &CustomEmoji) -> Value {
    let mut doc = json!({
        "_id": emoji.id,
        "name": emoji.name,
        "aliases": emoji.aliases,
        "extension": emoji.extension,
        "_updatedAt": iso(emoji.updated_at),
    });
    if let (Some(etag), Value::Object(map)) = (&emoji.etag, &mut doc) {
        map.insert("etag".into(), json!(etag));
    }
    doc
}

/// A custom user status as upstream's `ICustomUserStatus`.
pub fn status_json(status: &CustomUserStatus) -> Value {
    json!({
        "_id": status.id,
        "name": status.name,
        "statusType": status.status_type,
        "_updatedAt": iso(status.updated_at),
    })
}

/// A sound as upstream's `ICustomSound`.
pub fn sound_json(sound: &CustomSound) -> Value {
    json!({
        "_id": sound.id,
        "name": sound.name,
        "extension": sound.extension,
        "_updatedAt": iso(sound.updated_at),
    })
}

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("listEmojiCustom", |s, p, c| Box::pin(list_emoji(s, p, c))),
    ("deleteEmojiCustom", |s, p, c| {
        Box::pin(delete_emoji(s, p, c))
    }),
    ("listCustomUserStatus", |s, p, c| {
        Box::pin(list_statuses(s, p, c))
    }),
    ("insertOrUpdateUserStatus", |s, p, c| {
        Box::pin(save_status(s, p, c))
    }),
    ("deleteCustomUserStatus", |s, p, c| {
        Box::pin(delete_status(s, p, c))
    }),
    ("listCustomSounds", |s, p, c| Box::pin(list_sounds(s, p, c))),
    ("insertOrUpdateSound", |s, p, c| {
        Box::pin(save_sound(s, p, c))
    }),
    ("uploadCustomSound", |s, p, c| {
        Box::pin(upload_sound(s, p, c))
    }),
    ("deleteCustomSound", |s, p, c| {
        Box::pin(delete_sound(s, p, c))
    }),
];

fn not_authorized() -> Error {
    Error::meteor("not_authorized", "")
}

/// `listEmojiCustom(options?)`: `{name?, aliases?}` narrow the list to exact matches.
async fn list_emoji(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    session_for(&ctx, "listEmojiCustom")?;
    let options = param(&params, 0).cloned().unwrap_or_else(|| json!({}));
    let name = match options.get("name") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name.clone()),
        Some(_) => return Err(match_failed()),
    };
    let aliases = match options.get("aliases") {
        None | Some(Value::Null) => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|a| a.as_str().map(str::to_owned).ok_or_else(match_failed))
                .collect::<Result<Vec<_>>>()?,
        ),
        Some(_) => return Err(match_failed()),
    };
    let (emoji, _) = service.custom_assets().list_emoji(None, None, None).await?;
    let listed: Vec<Value> = emoji
        .iter()
        .filter(|e| name.as_ref().is_none_or(|n| *n == e.name))
        .filter(|e| aliases.as_ref().is_none_or(|a| *a == e.aliases))
        .map(|e| ejson(emoji_json(e)))
        .collect();
    value(json!(listed))
}

async fn delete_emoji(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = ctx.session.ok_or_else(not_authorized)?;
    let id = str_param(&params, 0)?;
    service.custom_assets().delete_emoji(session, &id).await?;
    value(json!(true))
}

async fn list_statuses(
    service: &Service,
    _params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    session_for(&ctx, "listCustomUserStatus")?;
    let (statuses, _) = service
        .custom_assets()
        .status_page(None, None, 0, None)
        .await?;
    let listed: Vec<Value> = statuses.iter().map(|s| ejson(status_json(s))).collect();
    value(json!(listed))
}

fn opt_text(object: &Value, key: &str) -> Result<Option<String>> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(match_failed()),
    }
}

/// `insertOrUpdateUserStatus({_id?, name, statusType})`: the new status's id, or true.
async fn save_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = ctx.session.ok_or_else(not_authorized)?;
    let data = param(&params, 0).cloned().unwrap_or_else(|| json!({}));
    let id = opt_text(&data, "_id")?;
    let name = opt_text(&data, "name")?.unwrap_or_default();
    let status_type = opt_text(&data, "statusType")?.unwrap_or_default();
    let status = service
        .custom_assets()
        .save_status(session, id.as_deref(), &name, &status_type)
        .await?;
    value(if id.is_some() {
        json!(true)
    } else {
        json!(status.id)
    })
}

async fn delete_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = ctx.session.ok_or_else(not_authorized)?;
    let id = str_param(&params, 0)?;
    service.custom_assets().delete_status(session, &id).await?;
    value(json!(true))
}

async fn list_sounds(
    service: &Service,
    _params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    session_for(&ctx, "listCustomSounds")?;
    let (sounds, _) = service.custom_assets().sound_page(None, 0, None).await?;
    let listed: Vec<Value> = sounds.iter().map(|s| ejson(sound_json(s))).collect();
    value(json!(listed))
}

fn sound_input(data: &Value) -> Result<SoundInput> {
    Ok(SoundInput {
        id: opt_text(data, "_id")?,
        name: opt_text(data, "name")?.unwrap_or_default(),
        extension: opt_text(data, "extension")?.unwrap_or_default(),
        previous_name: opt_text(data, "previousName")?,
        previous_extension: opt_text(data, "previousExtension")?,
        new_file: data
            .get("newFile")
            .and_then(Value::as_bool)
            .unwrap_or(false),
    })
}

/// `insertOrUpdateSound(soundData)`: the sound's id.
async fn save_sound(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = ctx.session.ok_or_else(not_authorized)?;
    let data = param(&params, 0).cloned().unwrap_or_else(|| json!({}));
    let id = service
        .custom_assets()
        .save_sound(session, sound_input(&data)?)
        .await?;
    value(json!(id))
}

/// A file's bytes as a client sends them: a binary string (one character per byte, as
/// `FileReader.readAsBinaryString` gives) or EJSON binary (`{"$binary": base64}`).
fn binary_content(content: &Value) -> Result<Vec<u8>> {
    match content {
        Value::String(text) => text
            .chars()
            .map(|c| u8::try_from(u32::from(c)).map_err(|_| match_failed()))
            .collect(),
        Value::Object(map) => map
            .get("$binary")
            .and_then(Value::as_str)
            .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
            .ok_or_else(match_failed),
        _ => Err(match_failed()),
    }
}

/// `uploadCustomSound(binaryContent, contentType, soundData)`.
async fn upload_sound(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = ctx.session.ok_or_else(not_authorized)?;
    let bytes = binary_content(param(&params, 0).ok_or_else(match_failed)?)?;
    let data = param(&params, 2).cloned().unwrap_or_else(|| json!({}));
    let id = opt_text(&data, "_id")?.ok_or_else(match_failed)?;
    service
        .custom_assets()
        .upload_sound(session, &id, &bytes)
        .await?;
    value(Value::Null)
}

async fn delete_sound(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = ctx.session.ok_or_else(not_authorized)?;
    let id = str_param(&params, 0)?;
    service.custom_assets().delete_sound(session, &id).await?;
    value(json!(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binary_strings_and_ejson_binary_are_bytes() {
        assert_eq!(
            binary_content(&json!("ID3\u{ff}")).ok(),
            Some(b"ID3\xff".to_vec())
        );
        assert_eq!(
            binary_content(&json!({"$binary": "SUQz"})).ok(),
            Some(b"ID3".to_vec())
        );
        assert!(binary_content(&json!("\u{100}")).is_err());
        assert!(binary_content(&json!(3)).is_err());
    }
}
