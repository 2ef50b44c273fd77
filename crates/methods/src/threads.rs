//! Threads: following them, their replies and a room's list of them.

use crate::{Handler, MethodContext, Outcome, match_failed, param, session_for, value};
use comet_core::{Error, Result};
use comet_protocol::{chat, ejson};
use comet_service::Service;
use comet_service::message_marks::ThreadKind;
use serde_json::{Value, json};

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("followMessage", |s, p, c| {
        Box::pin(follow_message(s, p, c, true))
    }),
    ("unfollowMessage", |s, p, c| {
        Box::pin(follow_message(s, p, c, false))
    }),
    ("getThreadMessages", |s, p, c| {
        Box::pin(get_thread_messages(s, p, c))
    }),
    ("getThreadsList", |s, p, c| {
        Box::pin(get_threads_list(s, p, c))
    }),
];

/// The most thread messages or threads one call returns, as upstream.
const MAX_LIMIT: f64 = 100.0;

/// An optional non-negative count of an object parameter (`limit`, `skip`).
fn count_field(data: &Value, name: &str) -> Result<Option<f64>> {
    match data.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_f64().map(Some).ok_or_else(match_failed),
    }
}

fn over_limit(method: &str) -> Error {
    Error::meteor("error-not-allowed", format!("max limit: {MAX_LIMIT}"))
        .with_details(json!({ "method": method }))
}

/// Upstream answers a caller who is not logged in as it answers with threads off.
fn threads_disabled(method: &str) -> Error {
    Error::meteor("error-not-allowed", "Threads Disabled").with_details(json!({ "method": method }))
}

/// `followMessage({mid})`, `unfollowMessage({mid})`: what `chat.followMessage` and
/// `chat.unfollowMessage` do.
async fn follow_message(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    follow: bool,
) -> Result<Outcome> {
    let method = if follow {
        "followMessage"
    } else {
        "unfollowMessage"
    };
    let data = param(&params, 0).ok_or_else(match_failed)?;
    let message_id = crate::str_field(data, "mid")?;
    let session = session_for(&ctx, method)?;
    service
        .messages()
        .follow_thread(session, message_id, follow)
        .await?;
    value(Value::Null)
}

/// `getThreadMessages({tmid, limit?, skip?})` → the thread's first message, then its replies
/// newest first.
async fn get_thread_messages(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "getThreadMessages";
    let data = param(&params, 0).cloned().unwrap_or(Value::Null);
    let limit = count_field(&data, "limit")?;
    if limit.is_some_and(|l| l > MAX_LIMIT) {
        return Err(over_limit(METHOD));
    }
    let skip = count_field(&data, "skip")?;
    let session = ctx.session.ok_or_else(|| threads_disabled(METHOD))?;
    let thread_id = data
        .get("tmid")
        .and_then(Value::as_str)
        .ok_or_else(match_failed)?;
    let messages = service
        .messages()
        .read_thread_messages(
            session,
            thread_id,
            skip.map_or(0, |s| s.max(0.0) as u64),
            // Upstream leaves a limit of 0 unset.
            limit.filter(|l| *l >= 1.0).map(|l| l as u64),
        )
        .await?;
    value(Value::Array(
        messages.iter().map(|m| ejson(chat::message(m))).collect(),
    ))
}

/// `getThreadsList({rid, limit = 50, skip = 0})` → the room's threads, latest reply first.
async fn get_threads_list(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "getThreadsList";
    let data = param(&params, 0).cloned().unwrap_or(Value::Null);
    let limit = count_field(&data, "limit")?.unwrap_or(50.0);
    if limit > MAX_LIMIT {
        return Err(over_limit(METHOD));
    }
    let skip = count_field(&data, "skip")?.unwrap_or(0.0);
    let session = ctx.session.ok_or_else(|| threads_disabled(METHOD))?;
    let room_id = data
        .get("rid")
        .and_then(Value::as_str)
        .ok_or_else(match_failed)?;
    let (threads, _) = service
        .messages()
        .threads(
            session,
            room_id,
            ThreadKind::All,
            None,
            skip.max(0.0) as u64,
            // Upstream leaves a limit of 0 unset.
            Some(limit).filter(|l| *l >= 1.0).map(|l| l as u64),
        )
        .await?;
    value(Value::Array(
        threads.iter().map(|m| ejson(chat::message(m))).collect(),
    ))
}
