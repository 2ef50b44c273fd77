//! Video conferences: `video-conference.start`, `.join`, `.cancel`, `.info`, `.list`,
//! `.capabilities`, `.providers` (upstream's `v1/videoConference.ts`).

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{opt_bool, opt_str, pagination, req_str};
use axum::extract::State;
use comet_core::Error;
use comet_protocol::iso;
use comet_service::video_conferences::{CallUser, VideoConference, VideoConferenceKind};
use serde_json::{Map, Value, json};

/// Upstream's schemas allow no other properties.
fn only_properties(params: &Value, allowed: &[&str]) -> Result<(), Error> {
    if let Value::Object(fields) = params
        && fields.keys().any(|k| !allowed.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

fn user_json(user: &CallUser) -> Value {
    let mut doc = json!({"_id": user.id, "username": user.username, "ts": iso(user.ts)});
    if let Some(name) = &user.name {
        doc["name"] = json!(name);
    }
    if let Some(etag) = &user.avatar_etag {
        doc["avatarETag"] = json!(etag);
    }
    doc
}

/// A call as upstream's `IVideoConference`.
pub(crate) fn call_json(call: &VideoConference) -> Map<String, Value> {
    let mut messages = Map::new();
    if let Some(id) = &call.started_message_id {
        messages.insert("started".into(), json!(id));
    }
    if let Some(id) = &call.ended_message_id {
        messages.insert("ended".into(), json!(id));
    }
    let mut created_by = user_json(&call.created_by);
    if let Value::Object(fields) = &mut created_by {
        fields.remove("ts");
    }
    let mut doc = Map::new();
    doc.insert("_id".into(), json!(call.id));
    doc.insert(
        "_updatedAt".into(),
        json!(iso(call.updated_at.unwrap_or(call.created_at))),
    );
    doc.insert("type".into(), json!(call.kind.as_str()));
    doc.insert("rid".into(), json!(call.room_id));
    doc.insert("status".into(), json!(call.status));
    doc.insert(
        "users".into(),
        Value::Array(call.users.iter().map(user_json).collect()),
    );
    doc.insert("messages".into(), Value::Object(messages));
    doc.insert("createdBy".into(), created_by);
    doc.insert("createdAt".into(), json!(iso(call.created_at)));
    doc.insert("providerName".into(), json!(call.provider_name));
    doc.insert("ringing".into(), json!(call.ringing));
    if call.kind == VideoConferenceKind::Videoconference {
        doc.insert("anonymousUsers".into(), json!(call.anonymous_users));
    }
    if let Some(at) = call.ended_at {
        doc.insert("endedAt".into(), json!(iso(at)));
    }
    if let Some(by) = &call.ended_by {
        let mut by = user_json(by);
        if let Value::Object(fields) = &mut by {
            fields.remove("ts");
        }
        doc.insert("endedBy".into(), by);
    }
    if let Some(url) = &call.url {
        doc.insert("url".into(), json!(url));
    }
    if let Some(title) = &call.title {
        doc.insert("title".into(), json!(title));
    }
    if let Some(rid) = &call.discussion_rid {
        doc.insert("discussionRid".into(), json!(rid));
    }
    super::calls::add_present(&mut doc, call);
    doc
}

/// `POST video-conference.start` `{roomId, title?, allowRinging?}`.
pub async fn start(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    only_properties(&body, &["roomId", "title", "allowRinging"])?;
    let room_id = req_str(&body, "roomId")?;
    let title = opt_str(&body, "title")?;
    let allow_ringing = opt_bool(&body, "allowRinging")?.unwrap_or(false);
    let started = app
        .service
        .video_conferences()
        .start(&session, &room_id, title, allow_ringing)
        .await?;
    let call = &started.call;
    let mut data = json!({
        "type": call.kind.as_str(),
        "callId": call.id,
        "providerName": call.provider_name,
    });
    // Upstream's direct-call instructions name the callee, a conference's its room.
    match started.callee_id {
        Some(callee) => data["calleeId"] = json!(callee),
        None => data["rid"] = json!(call.room_id),
    }
    ok(json!({ "data": data }))
}

/// `POST video-conference.join` `{callId, state?: {mic, cam}}`: `{url, providerName}`.
pub async fn join(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    only_properties(&body, &["callId", "state"])?;
    let call_id = req_str(&body, "callId")?;
    let state = body.get("state").cloned().unwrap_or(Value::Null);
    if !state.is_null() && !state.is_object() {
        return Err(Error::invalid_params("must be object").into());
    }
    only_properties(&state, &["mic", "cam"])?;
    let mic = opt_bool(&state, "mic")?.unwrap_or(false);
    let cam = opt_bool(&state, "cam")?.unwrap_or(false);
    let (url, provider) = app
        .service
        .video_conferences()
        .join(&session, &call_id, mic, cam)
        .await?;
    ok(json!({ "url": url, "providerName": provider }))
}

/// `POST video-conference.cancel` `{callId}`.
pub async fn cancel(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    only_properties(&body, &["callId"])?;
    let call_id = req_str(&body, "callId")?;
    app.service
        .video_conferences()
        .cancel(&session, &call_id)
        .await?;
    ok(Value::Null)
}

/// `GET video-conference.info?callId=`: the call, spread into the answer.
pub async fn info(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    only_properties(&query, &["callId"])?;
    let call_id = req_str(&query, "callId")?;
    let (call, capabilities) = app
        .service
        .video_conferences()
        .info(&session, &call_id)
        .await?;
    let mut doc = call_json(&call);
    doc.insert("capabilities".into(), capabilities);
    ok(Value::Object(doc))
}

/// `GET video-conference.list?roomId=&offset=&count=`.
pub async fn list(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    only_properties(&query, &["roomId", "offset", "count"])?;
    let room_id = req_str(&query, "roomId")?;
    let (offset, count) = pagination(&app, &query)?;
    let offset = i64::try_from(offset).map_err(|_| Error::invalid_params("offset"))?;
    let limit = count.map_or(i64::MAX, |c| i64::try_from(c).unwrap_or(i64::MAX));
    let (calls, total) = app
        .service
        .video_conferences()
        .list(&session, &room_id, offset, limit)
        .await?;
    let data: Vec<Value> = calls.iter().map(|c| Value::Object(call_json(c))).collect();
    ok(json!({"data": data, "offset": offset, "count": data.len(), "total": total}))
}

/// `GET video-conference.capabilities`.
pub async fn capabilities(State(app): State<AppState>, Caller(_session): Caller) -> ApiResult {
    let (provider, capabilities) = app.service.video_conferences().capabilities()?;
    ok(json!({"providerName": provider, "capabilities": capabilities}))
}

/// `GET video-conference.providers`.
pub async fn providers(State(app): State<AppState>, Caller(_session): Caller) -> ApiResult {
    let data: Vec<Value> = app
        .service
        .video_conferences()
        .providers()
        .into_iter()
        .map(|(key, label)| json!({"key": key, "label": label}))
        .collect();
    ok(json!({ "data": data }))
}
