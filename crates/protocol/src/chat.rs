//! Rooms, subscriptions and messages on the REST wire.

use crate::iso;
use comet_core::room::{Message, NewMessage, Room, RoomType, Subscription, UserStub};
use serde_json::{Map, Value, json};

fn user_stub(stub: &UserStub) -> Value {
    let mut v = json!({"_id": stub.id, "username": stub.username});
    if let (Some(name), Value::Object(map)) = (&stub.name, &mut v) {
        map.insert("name".into(), json!(name));
    }
    v
}

fn put(map: &mut Map<String, Value>, key: &str, value: impl Into<Value>) {
    map.insert(key.to_owned(), value.into());
}

/// An IRoom; `last_message` becomes `lastMessage`. Hidden fields (`joinCode`) never appear.
pub fn room(room: &Room, last_message: Option<&Message>) -> Value {
    let mut m = Map::new();
    put(&mut m, "_id", room.id.clone());
    put(&mut m, "t", room.room_type.as_str());
    if let Some(name) = &room.name {
        put(&mut m, "name", name.clone());
    }
    if let Some(fname) = &room.fname {
        put(&mut m, "fname", fname.clone());
    }
    if let Some(creator) = &room.creator {
        put(&mut m, "u", user_stub(creator));
    }
    put(&mut m, "msgs", room.message_count);
    put(&mut m, "usersCount", room.users_count);
    put(&mut m, "ts", iso(room.created_at));
    put(&mut m, "_updatedAt", iso(room.updated_at));
    if room.room_type == RoomType::Direct {
        put(&mut m, "usernames", json!(room.usernames));
        put(&mut m, "uids", json!(room.user_ids));
        if room.default {
            put(&mut m, "default", true);
        }
    } else {
        put(&mut m, "ro", room.read_only);
        // Upstream's channels and groups always carry `default` and `sysMes` (`true` while the
        // room hides no system message of its own).
        put(&mut m, "default", room.default);
        if room.hidden_system_messages.is_empty() {
            put(&mut m, "sysMes", true);
        }
    }
    for (key, flag) in [
        ("favorite", room.favorite),
        ("archived", room.archived),
        ("featured", room.featured),
        ("encrypted", room.encrypted),
        ("broadcast", room.broadcast),
        ("reactWhenReadOnly", room.react_when_read_only),
    ] {
        if flag {
            put(&mut m, key, true);
        }
    }
    for (key, text) in [
        ("topic", &room.topic),
        ("description", &room.description),
        ("announcement", &room.announcement),
    ] {
        if let Some(text) = text {
            put(&mut m, key, text.clone());
        }
    }
    if room.join_code.as_ref().is_some_and(|c| !c.is_empty()) {
        put(&mut m, "joinCodeRequired", true);
    }
    if !room.muted.is_empty() {
        put(&mut m, "muted", json!(room.muted));
    }
    if !room.unmuted.is_empty() {
        put(&mut m, "unmuted", json!(room.unmuted));
    }
    if !room.hidden_system_messages.is_empty() {
        put(&mut m, "sysMes", json!(room.hidden_system_messages));
    }
    if room
        .custom_fields
        .as_object()
        .is_some_and(|o| !o.is_empty())
    {
        put(&mut m, "customFields", room.custom_fields.clone());
    }
    if let Some(parent) = &room.parent_id {
        put(&mut m, "prid", parent.clone());
    }
    if let Some(team_id) = &room.team_id {
        put(&mut m, "teamId", team_id.clone());
    }
    if room.team_main {
        put(&mut m, "teamMain", true);
    }
    if room.team_default {
        put(&mut m, "teamDefault", true);
    }
    if !room.sidepanel.is_empty() {
        put(&mut m, "sidepanel", json!({"items": room.sidepanel}));
    }
    if let Some(lm) = room.last_message_at {
        put(&mut m, "lm", iso(lm));
    }
    if let Some(last) = last_message {
        put(&mut m, "lastMessage", message(last));
    }
    Value::Object(m)
}

/// Adds `ro` and `sysMes` to a direct conversation's document, as every entry of upstream's
/// `im.list.everyone` carries them (its own tests check both there, and only there).
pub fn add_direct_room_flags(doc: &mut Value, room: &Room) {
    let Some(m) = doc.as_object_mut() else {
        return;
    };
    m.entry("ro").or_insert(Value::Bool(room.read_only));
    m.entry("sysMes").or_insert(Value::Bool(true));
}

/// The few fields upstream shows of a room another refers to (a discussion's `parent`):
/// `_id`, `name`, `fname`, `t`, `prid` and `u`.
pub fn room_summary(room: &Room) -> Value {
    let mut m = Map::new();
    put(&mut m, "_id", room.id.clone());
    if let Some(name) = &room.name {
        put(&mut m, "name", name.clone());
    }
    if let Some(fname) = &room.fname {
        put(&mut m, "fname", fname.clone());
    }
    put(&mut m, "t", room.room_type.as_str());
    if let Some(parent) = &room.parent_id {
        put(&mut m, "prid", parent.clone());
    }
    if let Some(creator) = &room.creator {
        put(&mut m, "u", user_stub(creator));
    }
    Value::Object(m)
}

/// An ISubscription.
pub fn subscription(s: &Subscription) -> Value {
    let mut m = Map::new();
    put(&mut m, "_id", s.id.clone());
    put(&mut m, "rid", s.room_id.clone());
    put(&mut m, "u", user_stub(&s.user));
    put(&mut m, "name", s.name.clone());
    if let Some(fname) = &s.fname {
        put(&mut m, "fname", fname.clone());
    }
    put(&mut m, "t", s.room_type.as_str());
    put(&mut m, "ts", iso(s.joined_at));
    put(&mut m, "ls", iso(s.last_seen));
    if let Some(lr) = s.last_reply {
        put(&mut m, "lr", iso(lr));
    }
    put(&mut m, "open", s.open);
    put(&mut m, "alert", s.alert);
    put(&mut m, "unread", s.unread);
    put(&mut m, "userMentions", s.user_mentions);
    put(&mut m, "groupMentions", s.group_mentions);
    if !s.roles.is_empty() {
        put(&mut m, "roles", json!(s.roles));
    }
    if s.favorite {
        put(&mut m, "f", true);
    }
    if s.archived {
        put(&mut m, "archived", true);
    }
    // Upstream adds these lists when a followed thread gets a reply and removes them when the
    // room is read with its threads: a subscription without unread threads has none.
    if !s.thread_unread.is_empty() {
        put(&mut m, "tunread", json!(s.thread_unread));
    }
    if !s.thread_unread_user.is_empty() {
        put(&mut m, "tunreadUser", json!(s.thread_unread_user));
    }
    if !s.thread_unread_group.is_empty() {
        put(&mut m, "tunreadGroup", json!(s.thread_unread_group));
    }
    if !s.ignored.is_empty() {
        put(&mut m, "ignored", json!(s.ignored));
    }
    // Saved notification preferences are subscription fields of their own upstream.
    for (key, value) in &s.notifications {
        put(&mut m, key, value.clone());
    }
    if let Some(on) = s.auto_translate {
        put(&mut m, "autoTranslate", on);
    }
    if let Some(language) = &s.auto_translate_language {
        put(&mut m, "autoTranslateLanguage", language.clone());
    }
    put(&mut m, "_updatedAt", iso(s.updated_at));
    Value::Object(m)
}

/// An ISubscription as its owner reads it: the notification preferences the owner chose in
/// their account apply to every subscription that has none of its own, as upstream's
/// `getDefaultSubscriptionPref` copies them in (only `emailNotificationMode` today).
pub fn own_subscription(s: &Subscription, owner_preferences: &Value) -> Value {
    let mut doc = subscription(s);
    if let (Value::Object(m), Some(mode)) = (
        &mut doc,
        owner_preferences
            .get("emailNotificationMode")
            .and_then(Value::as_str)
            .filter(|mode| !mode.is_empty() && *mode != "default"),
    ) && !m.contains_key("emailNotifications")
    {
        m.insert("emailNotifications".into(), json!(mode));
        m.insert("emailPrefOrigin".into(), json!("user"));
    }
    doc
}

/// A member as `rooms.membersOrderedByRole` lists them: the public profile, the member's
/// roles in the room, and the few fields of their subscription upstream shows (its id, when
/// they joined, the roles), never its unread counts or other private state.
pub fn member_with_roles(user: &comet_core::user::User, subscription: &Subscription) -> Value {
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(user.id));
    doc.insert("username".into(), json!(user.username));
    doc.insert("name".into(), json!(user.name));
    if let Some(nickname) = &user.nickname {
        doc.insert("nickname".into(), json!(nickname));
    }
    doc.insert("status".into(), json!(user.status.as_str()));
    doc.insert("_updatedAt".into(), json!(iso(user.updated_at)));
    doc.insert("roles".into(), json!(subscription.roles));
    doc.insert(
        "subscription".into(),
        json!({
            "_id": subscription.id,
            "ts": iso(subscription.joined_at),
            "roles": subscription.roles,
        }),
    );
    Value::Object(doc)
}

/// An IMessage.
pub fn message(msg: &Message) -> Value {
    let mut m = Map::new();
    put(&mut m, "_id", msg.id.clone());
    put(&mut m, "rid", msg.room_id.clone());
    put(&mut m, "msg", msg.text.clone());
    put(&mut m, "ts", iso(msg.created_at));
    put(&mut m, "u", user_stub(&msg.author));
    put(&mut m, "_updatedAt", iso(msg.updated_at));
    if let Some(kind) = &msg.kind {
        put(&mut m, "t", kind.clone());
    }
    put(
        &mut m,
        "mentions",
        Value::Array(
            msg.mentions
                .iter()
                .map(|x| {
                    let mut v = json!({"_id": x.id, "username": x.username});
                    if let Value::Object(o) = &mut v {
                        if let Some(name) = &x.name {
                            o.insert("name".into(), json!(name));
                        }
                        if x.id != "all" && x.id != "here" {
                            o.insert("type".into(), json!("user"));
                        }
                    }
                    v
                })
                .collect(),
        ),
    );
    put(
        &mut m,
        "channels",
        Value::Array(
            msg.channels
                .iter()
                .map(|(id, name)| json!({"_id": id, "name": name}))
                .collect(),
        ),
    );
    if !msg.reactions.is_empty() {
        let reactions: Map<String, Value> = msg
            .reactions
            .iter()
            .map(|(emoji, users)| (emoji.clone(), json!({"usernames": users})))
            .collect();
        put(&mut m, "reactions", Value::Object(reactions));
    }
    if let Some(tmid) = &msg.thread_id {
        put(&mut m, "tmid", tmid.clone());
        if msg.thread_show {
            put(&mut m, "tshow", true);
        }
    }
    if msg.thread_count > 0 || msg.thread_last_at.is_some() {
        put(&mut m, "tcount", msg.thread_count);
        if let Some(tlm) = msg.thread_last_at {
            put(&mut m, "tlm", iso(tlm));
        }
        put(&mut m, "replies", json!(msg.thread_participants));
    }
    put(&mut m, "pinned", msg.pinned);
    if msg.unread {
        put(&mut m, "unread", true);
    }
    if let Some(at) = msg.pinned_at {
        put(&mut m, "pinnedAt", iso(at));
    }
    if let Some(by) = &msg.pinned_by {
        put(
            &mut m,
            "pinnedBy",
            json!({"_id": by.id, "username": by.username}),
        );
    }
    if !msg.starred_by.is_empty() {
        put(
            &mut m,
            "starred",
            Value::Array(msg.starred_by.iter().map(|id| json!({"_id": id})).collect()),
        );
    }
    if let Some(at) = msg.edited_at {
        put(&mut m, "editedAt", iso(at));
    }
    if let Some(by) = &msg.edited_by {
        put(
            &mut m,
            "editedBy",
            json!({"_id": by.id, "username": by.username}),
        );
    }
    if let Some(attachments) = &msg.attachments {
        put(&mut m, "attachments", attachments.clone());
    }
    if let Some(files) = &msg.files {
        if let Some(first) = files.get(0) {
            put(&mut m, "file", first.clone());
        }
        put(&mut m, "files", files.clone());
    }
    for (key, value) in [
        ("alias", &msg.alias),
        ("emoji", &msg.emoji),
        ("avatar", &msg.avatar),
        ("role", &msg.role),
    ] {
        if let Some(v) = value {
            put(&mut m, key, v.clone());
        }
    }
    if let Some(groupable) = msg.groupable {
        put(&mut m, "groupable", groupable);
    }
    if let Some(custom) = &msg.custom_fields {
        put(&mut m, "customFields", custom.clone());
    }
    if !msg.translations.is_empty() {
        put(&mut m, "translations", json!(msg.translations));
    }
    if let Some(provider) = &msg.translation_provider {
        put(&mut m, "translationProvider", provider.clone());
    }
    if let Some(blocks) = &msg.blocks {
        put(&mut m, "blocks", blocks.clone());
    }
    if let Some(drid) = &msg.discussion_id {
        put(&mut m, "drid", drid.clone());
        put(&mut m, "dcount", msg.discussion_count);
        if let Some(dlm) = msg.discussion_last_at {
            put(&mut m, "dlm", iso(dlm));
        }
    }
    put(
        &mut m,
        "urls",
        Value::Array(msg.urls.iter().map(message_url).collect()),
    );
    if let Some(md) = &msg.md {
        put(&mut m, "md", md.clone());
    }
    Value::Object(m)
}

/// One entry of a message's `urls` (upstream's `MessageUrl`), also `chat.getURLPreview`'s
/// `urlPreview`: `{url, meta}`, with `headers` once fetched and `ignoreParse` when set.
pub fn message_url(url: &comet_core::links::MessageUrl) -> Value {
    let mut m = Map::new();
    put(&mut m, "url", url.url.clone());
    put(&mut m, "meta", json!(url.meta));
    if !url.headers.is_empty() {
        put(&mut m, "headers", json!(url.headers));
    }
    if url.ignore_parse {
        put(&mut m, "ignoreParse", true);
    }
    Value::Object(m)
}

/// `previewUrls` (`chat.sendMessage`, `chat.update`, DDP `sendMessage`'s second parameter): the
/// URLs of the text the client wants previewed; absent or null: all of them.
pub fn preview_urls(value: Option<&Value>) -> comet_core::Result<Option<Vec<String>>> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| {
                item.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| comet_core::Error::invalid_params("must be string"))
            })
            .collect::<comet_core::Result<Vec<_>>>()
            .map(Some),
        Some(_) => Err(comet_core::Error::invalid_params("must be array")),
    }
}

/// A message as a client sends it, read from the body of `chat.postMessage` (`text_key`
/// `text`), `chat.sendMessage` and DDP `sendMessage` (`msg`): the one parser of both
/// transports. Wrongly typed fields are refused (`invalid-params`), absent ones left out.
pub fn new_message(body: &Value, text_key: &str) -> comet_core::Result<NewMessage> {
    let text = |key: &str| -> comet_core::Result<Option<String>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(comet_core::Error::invalid_params("must be string")),
        }
    };
    let flag = |key: &str| -> comet_core::Result<Option<bool>> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            // Form bodies send booleans as words.
            Some(Value::String(s)) if s == "true" => Ok(Some(true)),
            Some(Value::String(s)) if s == "false" => Ok(Some(false)),
            Some(_) => Err(comet_core::Error::invalid_params("must be boolean")),
        }
    };
    Ok(NewMessage {
        id: text("_id")?,
        text: text(text_key)?.unwrap_or_default(),
        alias: text("alias")?,
        emoji: text("emoji")?,
        avatar: text("avatar")?,
        attachments: body.get("attachments").filter(|a| a.is_array()).cloned(),
        files: None,
        thread_id: text("tmid")?.filter(|t| !t.is_empty()),
        thread_show: flag("tshow")?.unwrap_or(false),
        groupable: flag("groupable")?,
        custom_fields: body.get("customFields").filter(|v| v.is_object()).cloned(),
        parse_urls: flag("parseUrls")?,
        preview_urls: None,
    })
}

#[cfg(test)]
mod new_message_tests {
    use super::new_message;
    use serde_json::json;

    #[test]
    fn reads_every_field_and_refuses_wrong_types() {
        let parsed = new_message(
            &json!({"_id": "m1", "msg": "hi", "tmid": "t1", "tshow": "true",
                    "attachments": [{"text": "a"}], "customFields": {"k": 1}, "alias": null}),
            "msg",
        )
        .expect("parses");
        assert_eq!(parsed.id.as_deref(), Some("m1"));
        assert_eq!(parsed.text, "hi");
        assert_eq!(parsed.thread_id.as_deref(), Some("t1"));
        assert!(parsed.thread_show);
        assert!(parsed.attachments.is_some() && parsed.custom_fields.is_some());
        assert_eq!(parsed.alias, None);
        assert!(new_message(&json!({"msg": 5}), "msg").is_err());
        assert!(new_message(&json!({"tshow": 1}), "msg").is_err());
        assert_eq!(
            new_message(&json!({"tmid": ""}), "msg")
                .expect("ok")
                .thread_id,
            None
        );
    }
}
