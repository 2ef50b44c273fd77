//! `presence.*` and `instances.get`: the presence service and the instances of a deployment.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Client};
use axum::extract::State;
use axum::http::HeaderMap;
use comet_protocol::iso;
use serde_json::json;

/// `GET /api/v1/presence.getConnections` (`manage-user-status`): live connections on every
/// instance, and upstream's limit as `max`.
pub async fn get_connections(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let (current, max) = app.service.connections().connection_count(&session).await?;
    ok(json!({"current": current, "max": max}))
}

/// `POST /api/v1/presence.enableBroadcast` (`manage-user-status`, second factor required).
pub async fn enable_broadcast(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
) -> ApiResult {
    super::users::two_factor(&app, &session, &headers, &client).await?;
    app.service.connections().enable_broadcast(&session).await?;
    ok(json!({}))
}

/// `GET /api/v1/instances.get` (`view-statistics`): the instances sharing this deployment's
/// database, in upstream's shape. Comet records of other instances only their id, last
/// heartbeat and connection count; process details are this instance's own.
pub async fn instances(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let instances = app.service.connections().instances(&session).await?;
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let docs: Vec<_> = instances
        .iter()
        .map(|instance| {
            let mut record = json!({
                "_id": instance.id,
                "name": "comet",
                "_updatedAt": iso(instance.last_beat),
                "extraInformation": {"conns": instance.connections},
            });
            if instance.local {
                record["pid"] = json!(std::process::id());
                record["extraInformation"]["os"] = json!({"cpus": cpus});
                record["extraInformation"]["version"] = json!(env!("CARGO_PKG_VERSION"));
            }
            json!({
                "currentStatus": {
                    "connected": instance.alive,
                    "lastHeartbeatTime": instance.last_beat.timestamp_millis(),
                    "local": instance.local,
                },
                "instanceRecord": record,
                "broadcastAuth": true,
            })
        })
        .collect();
    ok(json!({"instances": docs}))
}
