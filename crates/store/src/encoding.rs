//! Storage encodings every backend shares, so that SQLite and PostgreSQL store, filter and
//! search the same way: times as epoch milliseconds, the JSON document holding the message
//! fields that have no column of their own, `LIKE` patterns, and the words of a text search.

use crate::{StoreError, StoreResult};
use comet_core::Timestamp;
use comet_core::room::{Mention, Message, UserStub};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;

/// A time as stored: epoch milliseconds (the precision Rocket.Chat's dates carry).
pub fn millis(t: Timestamp) -> i64 {
    t.timestamp_millis()
}

/// A stored time back; out-of-range values mean a damaged database.
pub fn from_millis(ms: i64) -> StoreResult<Timestamp> {
    chrono::DateTime::from_timestamp_millis(ms)
        .ok_or_else(|| StoreError::Backend(format!("timestamp out of range: {ms}")))
}

/// A `LIKE ... ESCAPE '\'` pattern matching `text` anywhere, lowercased, with `%`, `_` and `\`
/// taken literally.
pub fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// The words of a search text: maximal runs of letters and digits, in any script. Everything
/// else separates words, so no user input is ever query syntax of a backend's full-text engine.
pub fn search_words(text: &str) -> Vec<&str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether the last word of a search also matches as a prefix (search as you type). A single
/// letter does not: it would match a large share of every message, and answering that is a
/// merge of most of the index on every backend, so one letter is matched as a whole word.
pub fn last_word_is_prefix(word: &str) -> bool {
    word.chars().nth(1).is_some()
}

fn stub_json(stub: &UserStub) -> Value {
    json!({"id": stub.id, "username": stub.username, "name": stub.name})
}

fn stub_from(value: &Value) -> Option<UserStub> {
    Some(UserStub {
        id: value.get("id")?.as_str()?.to_owned(),
        username: value.get("username")?.as_str()?.to_owned(),
        name: value.get("name").and_then(Value::as_str).map(str::to_owned),
    })
}

/// The message fields that have no column of their own, as one JSON object. Empty lists and
/// absent values are left out. Keys the backends filter on: `starred` (user ids), `mentions`
/// (objects with `id`), `replies` (thread participant ids) and `drid`.
pub fn message_extra(message: &Message) -> Value {
    let mut extra = Map::new();
    let mut put = |key: &str, value: Value| {
        if !value.is_null() {
            extra.insert(key.to_owned(), value);
        }
    };
    if !message.mentions.is_empty() {
        put(
            "mentions",
            Value::Array(
                message
                    .mentions
                    .iter()
                    .map(|m| json!({"id": m.id, "username": m.username, "name": m.name}))
                    .collect(),
            ),
        );
    }
    if !message.channels.is_empty() {
        put(
            "channels",
            Value::Array(
                message
                    .channels
                    .iter()
                    .map(|(id, name)| json!({"id": id, "name": name}))
                    .collect(),
            ),
        );
    }
    if !message.reactions.is_empty() {
        put("reactions", json!(message.reactions));
    }
    if !message.thread_participants.is_empty() {
        put("replies", json!(message.thread_participants));
    }
    if !message.starred_by.is_empty() {
        put("starred", json!(message.starred_by));
    }
    put("pinnedAt", json!(message.pinned_at.map(millis)));
    put(
        "pinnedBy",
        message.pinned_by.as_ref().map_or(Value::Null, stub_json),
    );
    put("editedAt", json!(message.edited_at.map(millis)));
    put(
        "editedBy",
        message.edited_by.as_ref().map_or(Value::Null, stub_json),
    );
    put(
        "attachments",
        message.attachments.clone().unwrap_or(Value::Null),
    );
    put("files", message.files.clone().unwrap_or(Value::Null));
    put("alias", json!(message.alias));
    put("emoji", json!(message.emoji));
    put("avatar", json!(message.avatar));
    put("groupable", json!(message.groupable));
    put(
        "customFields",
        message.custom_fields.clone().unwrap_or(Value::Null),
    );
    put("role", json!(message.role));
    put("drid", json!(message.discussion_id));
    if message.discussion_count > 0 {
        put("dcount", json!(message.discussion_count));
    }
    put("dlm", json!(message.discussion_last_at.map(millis)));
    if !message.urls.is_empty() {
        put(
            "urls",
            serde_json::to_value(&message.urls).unwrap_or(Value::Null),
        );
    }
    put("md", message.md.clone().unwrap_or(Value::Null));
    if !message.translations.is_empty() {
        put("translations", json!(message.translations));
    }
    put("translationProvider", json!(message.translation_provider));
    put("blocks", message.blocks.clone().unwrap_or(Value::Null));
    Value::Object(extra)
}

/// Sets the fields [`message_extra`] stores on `message` from a stored document (fields it
/// lacks are left as they are).
pub fn apply_message_extra(message: &mut Message, extra: &Value) -> StoreResult<()> {
    let field = |key: &str| extra.get(key).filter(|v| !v.is_null());
    let strings = |key: &str| -> Vec<String> {
        field(key)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let time = |key: &str| -> StoreResult<Option<Timestamp>> {
        field(key)
            .and_then(Value::as_i64)
            .map(from_millis)
            .transpose()
    };
    let text = |key: &str| field(key).and_then(Value::as_str).map(str::to_owned);
    message.mentions = field("mentions")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|m| {
                    Some(Mention {
                        id: m.get("id")?.as_str()?.to_owned(),
                        username: m.get("username")?.as_str()?.to_owned(),
                        name: m.get("name").and_then(Value::as_str).map(str::to_owned),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    message.channels = field("channels")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|c| {
                    Some((
                        c.get("id")?.as_str()?.to_owned(),
                        c.get("name")?.as_str()?.to_owned(),
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    message.reactions = field("reactions")
        .and_then(|v| serde_json::from_value::<BTreeMap<String, Vec<String>>>(v.clone()).ok())
        .unwrap_or_default();
    message.thread_participants = strings("replies");
    message.pinned_at = time("pinnedAt")?;
    message.pinned_by = field("pinnedBy").and_then(stub_from);
    message.starred_by = strings("starred");
    message.edited_at = time("editedAt")?;
    message.edited_by = field("editedBy").and_then(stub_from);
    message.attachments = field("attachments").cloned();
    message.files = field("files").cloned();
    message.alias = text("alias");
    message.emoji = text("emoji");
    message.avatar = text("avatar");
    message.groupable = field("groupable").and_then(Value::as_bool);
    message.custom_fields = field("customFields").cloned();
    message.role = text("role");
    message.discussion_id = text("drid");
    message.discussion_count = field("dcount").and_then(Value::as_i64).unwrap_or(0);
    message.discussion_last_at = time("dlm")?;
    // A damaged list loses its previews, not the message.
    message.urls = field("urls")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    message.md = field("md").cloned();
    message.translations = field("translations")
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    message.translation_provider = text("translationProvider");
    message.blocks = field("blocks").cloned();
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(like_pattern("A_b%c\\"), "%a\\_b\\%c\\\\%");
    }

    #[test]
    fn search_words_split_on_everything_but_letters_and_digits() {
        assert_eq!(search_words("a\" OR (b-c)"), ["a", "OR", "b", "c"]);
        assert_eq!(search_words("مرحبا بالعالم"), ["مرحبا", "بالعالم"]);
        assert_eq!(search_words("implantação v1.2"), ["implantação", "v1", "2"]);
        assert!(search_words(" ,; ").is_empty());
    }

    #[test]
    fn only_words_of_two_letters_or_more_are_prefixes() {
        assert!(!last_word_is_prefix("a"));
        assert!(!last_word_is_prefix("ç"));
        assert!(last_word_is_prefix("de"));
        assert!(last_word_is_prefix("مر"));
    }

    #[test]
    fn the_extra_document_round_trips() {
        let at = comet_core::now();
        let stub = UserStub {
            id: "u1".into(),
            username: "ann".into(),
            name: Some("Ann".into()),
        };
        let mut message = Message::new("m1".into(), "r1", stub.clone(), "hi", at);
        message.mentions = vec![Mention {
            id: "u2".into(),
            username: "ben".into(),
            name: None,
        }];
        message.channels = vec![("r2".into(), "dev".into())];
        message.reactions.insert(":+1:".into(), vec!["ben".into()]);
        message.thread_participants = vec!["u2".into()];
        message.starred_by = vec!["u1".into()];
        message.pinned_at = Some(at);
        message.pinned_by = Some(stub.clone());
        message.edited_at = Some(at);
        message.edited_by = Some(stub);
        message.attachments = Some(json!([{"title": "t"}]));
        message.files = Some(json!([{"_id": "f", "name": "a.png"}]));
        message.alias = Some("alias".into());
        message.emoji = Some(":x:".into());
        message.avatar = Some("/a.png".into());
        message.groupable = Some(false);
        message.custom_fields = Some(json!({"k": 1}));
        message.role = Some("owner".into());
        message.discussion_id = Some("d1".into());
        message.discussion_count = 2;
        message.discussion_last_at = Some(at);
        message.urls = vec![comet_core::links::MessageUrl {
            url: "https://a.example".into(),
            meta: [("ogTitle".to_owned(), "A".to_owned())].into(),
            headers: [("contentType".to_owned(), "text/html".to_owned())].into(),
            ignore_parse: true,
        }];
        message.translations = [("pt".to_owned(), "olá".to_owned())].into();
        message.translation_provider = Some("comet-builtin".into());
        message.blocks = Some(json!([{"type": "video_conf", "callId": "c1"}]));

        let extra = message_extra(&message);
        let mut read = Message::new("m1".into(), "r1", message.author.clone(), "hi", at);
        apply_message_extra(&mut read, &extra).expect("valid document");
        assert_eq!(read, message);
        assert_eq!(
            message_extra(&Message::new("m2".into(), "r1", read.author, "", at)),
            json!({})
        );
    }
}
