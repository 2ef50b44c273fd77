//! `presence.*` and `instances.get`: the presence service and the instances of a deployment.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Client, MaybeCaller, Params};
use crate::params::{opt_str, user_ref};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use comet_core::Error;
use comet_protocol::iso;
use comet_service::presence::ShieldRequest;
use serde_json::{Value, json};

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
/// database, in the shape of upstream's single-process (CE) records, whose test clients look
/// for the instance named `rocket.chat`. Comet records of other instances only their id, last
/// heartbeat and connection count; the address and process details are this instance's own.
pub async fn instances(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let instances = app.service.connections().instances(&session).await?;
    let cpus = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let docs: Vec<_> = instances
        .iter()
        .map(|instance| {
            let mut record = json!({
                "_id": instance.id,
                "name": "rocket.chat",
                "_updatedAt": iso(instance.last_beat),
                "extraInformation": {"conns": instance.connections},
            });
            let mut doc = json!({
                "currentStatus": {
                    "connected": instance.alive,
                    "lastHeartbeatTime": instance.last_beat.timestamp_millis(),
                    "local": instance.local,
                },
                "broadcastAuth": true,
            });
            if instance.local {
                record["pid"] = json!(std::process::id());
                let extra = &mut record["extraInformation"];
                extra["os"] = json!({
                    "type": std::env::consts::OS,
                    "platform": std::env::consts::OS,
                    "arch": std::env::consts::ARCH,
                    "cpus": cpus,
                });
                // Upstream names its runtime here; Comet's is itself.
                extra["nodeVersion"] = json!(concat!("comet-", env!("CARGO_PKG_VERSION")));
                extra["version"] = json!(env!("CARGO_PKG_VERSION"));
                if let Some(addr) = app.listen_addr {
                    extra["host"] = json!(addr.ip().to_string());
                    extra["port"] = json!(addr.port().to_string());
                    extra["tcpPort"] = json!(addr.port());
                    doc["address"] = json!(addr.to_string());
                }
            }
            doc["instanceRecord"] = record;
            doc
        })
        .collect();
    ok(json!({"instances": docs}))
}

/// `GET /api/v1/shield.svg` (no authentication): a badge of the online users, a channel, a
/// user's presence or "join chat", as an SVG image.
pub async fn shield(
    State(app): State<AppState>,
    MaybeCaller(caller): MaybeCaller,
    Params(query): Params,
) -> Result<Response, crate::envelope::ApiError> {
    // Upstream's schema: `name` and `channel` required, `icon` "true" or "false"; the user of
    // a `user` badge as `getUserFromParams` reads it.
    const ALLOWED: &[&str] = &[
        "type", "icon", "channel", "name", "userId", "username", "user",
    ];
    if let Value::Object(fields) = &query
        && fields.keys().any(|k| !ALLOWED.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties").into());
    }
    let Some(name) = opt_str(&query, "name")? else {
        return Err(Error::invalid_params("must have required property 'name'").into());
    };
    let Some(channel) = opt_str(&query, "channel")? else {
        return Err(Error::invalid_params("must have required property 'channel'").into());
    };
    let hide_icon = match opt_str(&query, "icon")?.as_deref() {
        None | Some("true") => false,
        Some("false") => true,
        Some(_) => {
            return Err(Error::invalid_params("must be equal to one of the allowed values").into());
        }
    };
    let kind = opt_str(&query, "type")?;
    let user = if kind.as_deref() == Some("user") {
        user_ref(&query).ok()
    } else {
        None
    };
    let request = ShieldRequest {
        kind,
        hide_icon,
        channel,
        name,
        user,
    };
    let shield = app
        .service
        .connections()
        .shield(caller.as_ref(), &request)
        .await?;
    let svg = comet_protocol::rest::shield_svg(
        &shield.name,
        &shield.text,
        shield.color,
        shield.hide_icon,
        &shield.icon_url,
    );
    let mut response = svg.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("image/svg+xml;charset=utf-8"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // Opened directly, the badge may load its icon and nothing else, and runs no script.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; img-src * data:; style-src 'unsafe-inline'"),
    );
    Ok(response)
}
