//! Comet's own call provider (`comet`): `video-conference.leave` and
//! `video-conference.iceServers` (Comet-only), and the `present` field of its calls.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::req_str;
use axum::extract::State;
use comet_service::calls::COMET;
use comet_service::video_conferences::VideoConference;
use serde_json::{Map, Value, json};

/// `present: [userId, ...]` on a Comet call: who is in it now.
pub(crate) fn add_present(doc: &mut Map<String, Value>, call: &VideoConference) {
    if call.provider_name == COMET {
        doc.insert("present".into(), json!(call.present));
    }
}

/// `POST video-conference.leave` `{callId}`: the caller leaves a Comet call; the last one
/// leaving ends it.
pub async fn leave(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let call_id = req_str(&body, "callId")?;
    app.service
        .video_conferences()
        .leave(&session, &call_id)
        .await?;
    ok(Value::Null)
}

/// `GET video-conference.iceServers?callId=`: `{iceServers, ttl}` for a Comet call the caller
/// is in.
pub async fn ice_servers(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let call_id = req_str(&query, "callId")?;
    let servers = app
        .service
        .video_conferences()
        .ice_servers(&session, &call_id)
        .await?;
    ok(json!({"iceServers": servers.servers, "ttl": servers.ttl}))
}
