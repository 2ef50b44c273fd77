//! Messages: sending, editing, reacting, history and room activity.

use crate::{
    Handler, MethodContext, Outcome, date_param, match_failed, param, room, session, str_field,
    str_param, value,
};
use comet_core::{Error, Result};
use comet_protocol::{chat, ejson};
use comet_service::Service;
use comet_service::messages::HistoryQuery;
use comet_service::rooms::{RoomFamily, RoomRef};
use serde_json::{Value, json};

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("sendMessage", |s, p, c| Box::pin(send_message(s, p, c))),
    ("sendFileMessage", |s, p, c| {
        Box::pin(send_file_message(s, p, c))
    }),
    ("updateMessage", |s, p, c| Box::pin(update_message(s, p, c))),
    ("deleteMessage", |s, p, c| Box::pin(delete_message(s, p, c))),
    ("setReaction", |s, p, c| Box::pin(set_reaction(s, p, c))),
    ("getSingleMessage", |s, p, c| {
        Box::pin(get_single_message(s, p, c))
    }),
    ("loadHistory", |s, p, c| Box::pin(load_history(s, p, c))),
    ("readMessages", |s, p, c| Box::pin(read_messages(s, p, c))),
    ("readThreads", |s, p, c| Box::pin(read_threads(s, p, c))),
    ("loadMissedMessages", |s, p, c| {
        Box::pin(load_missed_messages(s, p, c))
    }),
    ("stream-notify-room", |s, p, c| {
        Box::pin(notify_room(s, p, c))
    }),
    ("stream-notify-user", |s, p, c| {
        Box::pin(notify_user(s, p, c))
    }),
    ("starMessage", |s, p, c| Box::pin(star_message(s, p, c))),
    ("pinMessage", |s, p, c| Box::pin(pin_message(s, p, c, true))),
    ("unpinMessage", |s, p, c| {
        Box::pin(pin_message(s, p, c, false))
    }),
    ("getMessages", |s, p, c| Box::pin(get_messages(s, p, c))),
    ("loadNextMessages", |s, p, c| {
        Box::pin(load_next_messages(s, p, c))
    }),
    ("loadSurroundingMessages", |s, p, c| {
        Box::pin(load_surrounding_messages(s, p, c))
    }),
    ("messageSearch", |s, p, c| Box::pin(message_search(s, p, c))),
    ("getChannelHistory", |s, p, c| {
        Box::pin(get_channel_history(s, p, c))
    }),
    ("unreadMessages", |s, p, c| {
        Box::pin(unread_messages(s, p, c))
    }),
];

/// The most messages one page of `loadNextMessages`/`loadSurroundingMessages` returns
/// (upstream sets no bound).
const MAX_PAGE: u64 = 1000;

/// An optional `Number` parameter (Meteor's `check(limit, Number)`), with its default.
fn limit_param(params: &[Value], index: usize, default: i64) -> Result<i64> {
    match param(params, index) {
        None => Ok(default),
        Some(v) => v
            .as_f64()
            .map(|n| n.clamp(i64::MIN as f64, i64::MAX as f64) as i64)
            .ok_or_else(match_failed),
    }
}

fn message_docs(messages: &[comet_core::room::Message]) -> Vec<Value> {
    messages.iter().map(|m| ejson(chat::message(m))).collect()
}

/// `getMessages([ids])` → the messages (in rooms the caller may read).
async fn get_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let ids: Vec<String> = params
        .first()
        .and_then(Value::as_array)
        .ok_or_else(match_failed)?
        .iter()
        .map(|v| v.as_str().map(str::to_owned).ok_or_else(match_failed))
        .collect::<Result<_>>()?;
    let session = session(&ctx)?;
    let messages = service.messages().messages_by_ids(session, &ids).await?;
    value(Value::Array(message_docs(&messages)))
}

/// `loadNextMessages(rid, end?, limit = 20)` → `{messages}` oldest first.
async fn load_next_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let room_id = params
        .first()
        .and_then(Value::as_str)
        .ok_or_else(match_failed)?;
    let limit = limit_param(&params, 2, 20)?;
    let session = session(&ctx)?;
    let limit = limit.clamp(0, MAX_PAGE as i64) as u64;
    let messages = service
        .messages()
        .next_messages(session, room_id, date_param(&params, 1), limit)
        .await?;
    value(json!({"messages": message_docs(&messages)}))
}

/// `loadSurroundingMessages({_id, rid}, limit = 50)` → `{messages, moreBefore, moreAfter}`,
/// or `false` for a message that is not there or not readable.
async fn load_surrounding_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let message = params
        .first()
        .filter(|m| m.is_object())
        .ok_or_else(match_failed)?;
    let limit = limit_param(&params, 1, 50)?;
    let session = session(&ctx)?;
    let Some(id) = message
        .get("_id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
    else {
        return value(Value::Bool(false));
    };
    let limit = limit.min(MAX_PAGE as i64);
    match service
        .messages()
        .surrounding_messages(session, id, limit)
        .await?
    {
        None => value(Value::Bool(false)),
        Some(found) => value(json!({
            "messages": message_docs(&found.messages),
            "moreBefore": found.more_before,
            "moreAfter": found.more_after,
        })),
    }
}

async fn send_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let message = param(&params, 0).ok_or_else(match_failed)?;
    let mut new = chat::new_message(message, "msg").map_err(|_| match_failed())?;
    new.preview_urls = chat::preview_urls(param(&params, 1)).map_err(|_| match_failed())?;
    let room_id = str_field(message, "rid")?;
    let room = room(service, session, room_id)
        .await
        .map_err(|_| Error::meteor("error-not-allowed", "Not allowed"))?;
    let sent = service.messages().send_message(session, &room, new).await?;
    value(ejson(chat::message(&sent)))
}

/// `sendFileMessage(roomId, store, file, msgData)`: posts the message of a file uploaded with
/// `rooms.media` (what `rooms.mediaConfirm` does over REST). `false` when the room is not
/// there or not accessible, as upstream.
async fn send_file_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = str_param(&params, 0)?;
    let file = param(&params, 2)
        .filter(|f| f.is_object())
        .ok_or_else(match_failed)?;
    let file_id = str_field(file, "_id")?;
    let data = param(&params, 3).cloned().unwrap_or(Value::Null);
    let text = |value: Option<&Value>| -> Result<Option<String>> {
        match value {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(match_failed()),
        }
    };
    let fields = comet_service::files::FileMessage {
        text: text(data.get("msg"))?,
        description: text(file.get("description"))?,
        thread_id: text(data.get("tmid"))?,
        // A JSON text, as upstream's `sendFileMessage` takes it (`JSON.parse`).
        custom_fields: match text(data.get("customFields"))?.filter(|t| !t.is_empty()) {
            None => None,
            Some(raw) => Some(
                serde_json::from_str::<Value>(&raw)
                    .ok()
                    .filter(Value::is_object)
                    .ok_or_else(|| Error::failure("Invalid custom fields"))?,
            ),
        },
    };
    let room = match service.files().upload_target(session, &room_id).await {
        Ok(room) => room,
        Err(e) if e.kind == comet_core::error::ErrorKind::Forbidden => return value(json!(false)),
        Err(e) => return Err(e),
    };
    let sent = service
        .files()
        .confirm_upload(session, &room, file_id, fields)
        .await?;
    value(ejson(chat::message(&sent)))
}

/// `starMessage({_id, rid, starred})`: `false` when the caller is not in the room or the
/// message is not in it, as upstream; `true` once done.
async fn star_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let message = param(&params, 0).ok_or_else(match_failed)?;
    let (id, room_id) = (str_field(message, "_id")?, str_field(message, "rid")?);
    let starred = message
        .get("starred")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    // The setting is checked first, as upstream.
    if !service.setting_bool("Message_AllowStarring") {
        return Err(
            Error::meteor("error-action-not-allowed", "Message starring not allowed")
                .with_details(json!({"method": "starMessage", "action": "Message_starring"})),
        );
    }
    match service.messages().readable_message(session, id).await {
        Ok((found, _)) if found.room_id == room_id => {}
        Ok(_) => return value(json!(false)),
        Err(e) if e.kind == comet_core::error::ErrorKind::Internal => return Err(e),
        Err(_) => return value(json!(false)),
    }
    if service
        .rooms()
        .subscription(session, room_id)
        .await?
        .is_none()
    {
        return value(json!(false));
    }
    service
        .messages()
        .star_message(session, id, starred)
        .await?;
    value(json!(true))
}

/// `pinMessage(message)` → the `message_pinned` notice (or nothing new); `unpinMessage(message)`.
async fn pin_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    pinned: bool,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let message = param(&params, 0).ok_or_else(match_failed)?;
    let id = str_field(message, "_id")?;
    let notice = service.messages().pin_message(session, id, pinned).await?;
    match notice {
        Some(notice) if pinned => value(ejson(chat::message(&notice))),
        _ => value(json!(true)),
    }
}

async fn update_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let message = param(&params, 0).ok_or_else(match_failed)?;
    service
        .messages()
        .update_message(
            session,
            str_field(message, "rid")?,
            str_field(message, "_id")?,
            str_field(message, "msg")?,
            chat::preview_urls(param(&params, 1))
                .map_err(|_| match_failed())?
                .as_deref(),
            message.get("customFields").filter(|f| f.is_object()),
        )
        .await?;
    value(Value::Null)
}

async fn delete_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let id = param(&params, 0)
        .and_then(|m| m.get("_id"))
        .and_then(Value::as_str)
        .ok_or_else(match_failed)?;
    let (message, _) = service.messages().readable_message(session, id).await?;
    service
        .messages()
        .delete_message(session, &message.room_id, id)
        .await?;
    value(json!({"_id": id}))
}

async fn set_reaction(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let emoji = str_param(&params, 0)?;
    let message_id = str_param(&params, 1)?;
    let should_react = param(&params, 2).and_then(Value::as_bool);
    service
        .messages()
        .react(session, &message_id, &emoji, should_react)
        .await?;
    value(Value::Null)
}

async fn get_single_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let id = str_param(&params, 0)?;
    let (message, _) = service.messages().readable_message(session, &id).await?;
    value(ejson(chat::message(&message)))
}

/// `loadHistory(rid, end, limit, ls, showThreadMessages)` → `{messages}` newest first.
async fn load_history(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = str_param(&params, 0)?;
    let room = room(service, session, &room_id).await?;
    let limit = param(&params, 2)
        .and_then(Value::as_u64)
        .unwrap_or(20)
        .min(100);
    let show_thread_messages = param(&params, 4).and_then(Value::as_bool).unwrap_or(true);
    let query = HistoryQuery {
        latest: date_param(&params, 1),
        count: Some(limit),
        show_thread_messages,
        ..HistoryQuery::default()
    };
    let messages = service.messages().history(&room, &query).await?;
    // With the caller's last-seen time: the unread messages older than this page, which
    // clients count in their "new messages" bar (`firstUnread` only when there is one).
    let mut first_unread = None;
    let mut unread_not_loaded = 0;
    if let (Some(last_seen), Some(oldest)) = (date_param(&params, 3), messages.last())
        && oldest.created_at > last_seen
    {
        (first_unread, unread_not_loaded) = service
            .messages()
            .unread_before(&room, last_seen, oldest.created_at, show_thread_messages)
            .await?;
    }
    let docs: Vec<Value> = messages.iter().map(|m| ejson(chat::message(m))).collect();
    let mut answer = json!({"messages": docs, "unreadNotLoaded": unread_not_loaded});
    if let (Some(first), Value::Object(fields)) = (first_unread, &mut answer) {
        fields.insert("firstUnread".into(), ejson(chat::message(&first)));
    }
    value(answer)
}

async fn read_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let read_threads = param(&params, 1).and_then(Value::as_bool).unwrap_or(false);
    service
        .rooms()
        .mark_read(session, &str_param(&params, 0)?, read_threads)
        .await?;
    value(Value::Null)
}

/// `readThreads(tmid)`: the caller has seen a thread's replies.
async fn read_threads(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let thread_id = str_param(&params, 0)?;
    let session = session(&ctx)?;
    service.messages().read_thread(session, &thread_id).await?;
    value(Value::Null)
}

/// `loadMissedMessages(rid, since)`: messages changed in a room since a time, oldest first.
async fn load_missed_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let room_id = str_param(&params, 0)?;
    let since = date_param(&params, 1).ok_or_else(match_failed)?;
    // Upstream answers `false`, not an error, for a room the caller cannot read.
    if service
        .rooms()
        .room_for(session, &RoomRef::Id(room_id.clone()), RoomFamily::Any)
        .await
        .is_err()
    {
        return value(Value::Bool(false));
    }
    let sync = service
        .messages()
        .sync_messages(session, &room_id, since)
        .await?;
    let mut messages: Vec<&comet_core::room::Message> = sync.updated.iter().collect();
    messages.sort_by_key(|m| m.created_at);
    value(Value::Array(
        messages
            .into_iter()
            .map(|m| ejson(chat::message(m)))
            .collect(),
    ))
}

/// `stream-notify-room` as a method: `["<rid>/user-activity", username, activities, extras]` or
/// the legacy `["<rid>/typing", username, typing]`.
async fn notify_room(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let event = str_param(&params, 0)?;
    let Some((room_id, kind)) = event.split_once('/') else {
        return Err(Error::meteor("error-not-allowed", "Not allowed"));
    };
    let activities: Vec<String> = match kind {
        "user-activity" => param(&params, 2)
            .and_then(Value::as_array)
            .map(|items| {
                items
                    .iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
        "typing" => {
            if param(&params, 2).and_then(Value::as_bool).unwrap_or(false) {
                vec!["user-typing".to_owned()]
            } else {
                Vec::new()
            }
        }
        _ => return Err(Error::meteor("error-not-allowed", "Not allowed")),
    };
    let thread_id = param(&params, 3)
        .and_then(|extras| extras.get("tmid"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    service
        .messages()
        .notify_activity(session, room_id, activities, thread_id)
        .await?;
    value(Value::Null)
}

/// `stream-notify-user` as a method: a client writing `["<targetUid>/<event>", data]` to
/// another user's stream. Each event that clients may write has its rule; anything else, and
/// any write its rule refuses, is refused and delivers nothing.
async fn notify_user(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let event = str_param(&params, 0)?;
    let Some((target, kind)) = event.split_once('/') else {
        return Err(Error::meteor("error-not-allowed", "Not allowed"));
    };
    let data = param(&params, 1).cloned().unwrap_or(Value::Null);
    match kind {
        // Ringing and answering a call (upstream's `VideoConf.validateAction`).
        "video-conference" => {
            service
                .video_conferences()
                .write_user_event(session, target, &data)
                .await?
        }
        // Comet's call signalling, relayed between two people present in the same call.
        "webrtc" => {
            service
                .video_conferences()
                .relay_signal(session, target, &data)
                .await?;
        }
        _ => return Err(Error::meteor("error-not-allowed", "Not allowed")),
    }
    value(Value::Null)
}

/// An optional `Number` parameter, or `None` (Meteor's `Match.Optional(Number)`).
fn number_param(params: &[Value], index: usize) -> Result<Option<f64>> {
    match param(params, index) {
        None => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(match_failed),
    }
}

/// `messageSearch(text, rid?, limit?, offset?)` → `{message: {docs}}`, or `false` for a room the
/// caller may not read: what `chat.search` does. Without a room upstream searches every room
/// of the caller only when global search is on; Comet has no global search, so that is empty.
async fn message_search(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = crate::session_for(&ctx, "messageSearch")?;
    let text = str_param(&params, 0)?;
    let room_id = match param(&params, 1) {
        None => None,
        Some(v) => Some(v.as_str().ok_or_else(match_failed)?.to_owned()),
    };
    let limit = number_param(&params, 2)?;
    let offset = number_param(&params, 3)?;
    let Some(room_id) = room_id.filter(|r| !r.is_empty()) else {
        return value(json!({"message": {"docs": []}}));
    };
    if room(service, session, &room_id).await.is_err() {
        return value(json!(false));
    }
    let messages = service
        .messages()
        .search_messages(
            session,
            &room_id,
            &text,
            offset.map_or(0, |o| o.max(0.0) as u64),
            // Upstream's search takes 20 unless told.
            Some(limit.filter(|l| *l >= 1.0).map_or(20, |l| l as u64)),
        )
        .await?;
    value(json!({"message": {"docs": message_docs(&messages)}}))
}

/// `getChannelHistory({rid, latest?, oldest?, inclusive?, offset = 0, count = 20, unreads?,
/// showThreadMessages = true})` → `{messages}` newest first (with `unreads`, also
/// `firstUnread` and `unreadNotLoaded`), or `false` for a room the caller may not read.
async fn get_channel_history(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let data = param(&params, 0).ok_or_else(match_failed)?;
    let room_id = str_field(data, "rid")?;
    let session = crate::session_for(&ctx, "getChannelHistory")?;
    let Ok(room) = room(service, session, room_id).await else {
        return value(json!(false));
    };
    let field = |name: &str| data.get(name).filter(|v| !v.is_null());
    let date = |name: &str| -> Result<Option<comet_core::Timestamp>> {
        match field(name) {
            None => Ok(None),
            Some(v) => date_param(std::slice::from_ref(v), 0)
                .map(Some)
                .ok_or_else(|| {
                    Error::meteor("error-invalid-date", "Invalid date")
                        .with_details(json!({"method": "getChannelHistory"}))
                }),
        }
    };
    let flag = |name: &str, default: bool| field(name).and_then(Value::as_bool).unwrap_or(default);
    let number = |name: &str, default: f64| field(name).and_then(Value::as_f64).unwrap_or(default);
    let oldest = date("oldest")?;
    let show_thread_messages = flag("showThreadMessages", true);
    let query = HistoryQuery {
        latest: date("latest")?,
        oldest,
        inclusive: flag("inclusive", false),
        offset: number("offset", 0.0).max(0.0) as u64,
        count: Some((number("count", 20.0).max(0.0) as u64).min(MAX_PAGE)),
        show_thread_messages,
    };
    let messages = service.messages().history(&room, &query).await?;
    let mut answer = json!({"messages": message_docs(&messages)});
    if flag("unreads", false) {
        let (mut first_unread, mut unread_not_loaded) = (None, 0);
        if let (Some(oldest), Some(last)) = (oldest, messages.last())
            && last.created_at > oldest
        {
            (first_unread, unread_not_loaded) = service
                .messages()
                .unread_before(&room, oldest, last.created_at, show_thread_messages)
                .await?;
        }
        if let Value::Object(fields) = &mut answer {
            fields.insert("unreadNotLoaded".into(), json!(unread_not_loaded));
            if let Some(first) = first_unread {
                fields.insert("firstUnread".into(), ejson(chat::message(&first)));
            }
        }
    }
    value(answer)
}

/// `unreadMessages(firstUnreadMessage?, rid?)`: marks a room unread again, by its id or from
/// a message of someone else in it, as `subscriptions.unread` does.
async fn unread_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "unreadMessages";
    let session = crate::session_for(&ctx, METHOD)?;
    let (room_id, first_unread) = match param(&params, 1).and_then(Value::as_str) {
        Some(room_id) if !room_id.is_empty() => (room_id.to_owned(), None),
        _ => {
            let not_allowed = || {
                Error::meteor("error-action-not-allowed", "Not allowed")
                    .with_details(json!({"method": METHOD, "action": "Unread_messages"}))
            };
            let message_id = param(&params, 0)
                .and_then(|m| m.get("_id"))
                .and_then(Value::as_str)
                .ok_or_else(not_allowed)?;
            let (message, room) = service
                .messages()
                .readable_message(session, message_id)
                .await
                .map_err(|e| {
                    if e.kind == comet_core::error::ErrorKind::Internal {
                        e
                    } else {
                        not_allowed()
                    }
                })?;
            // One's own message does not make a room unread.
            if message.author.id == session.user.id {
                return Err(not_allowed());
            }
            (room.id.clone(), Some(message.created_at))
        }
    };
    service
        .messages()
        .mark_unread(session, &room_id, first_unread)
        .await?;
    value(Value::Null)
}
