use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Client, Params};
use crate::params::{opt_bool, opt_str, pagination};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use comet_core::Error;
use comet_protocol::rest;
use comet_service::settings::{SettingsPage, SettingsQuery};
use serde_json::{Value, json};

fn settings_query(app: &AppState, query: &Value) -> Result<SettingsQuery, Error> {
    let (offset, count) = pagination(app, query)?;
    let ids = opt_str(query, "_id")?.map(|ids| {
        ids.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    });
    Ok(SettingsQuery { ids, offset, count })
}

fn page_json(page: &SettingsPage, offset: u64, include_defaults: bool) -> Value {
    let settings: Vec<Value> = page
        .settings
        .iter()
        .map(|s| rest::setting_listed(s, include_defaults))
        .collect();
    json!({"settings": settings, "count": settings.len(), "offset": offset, "total": page.total})
}

/// `GET /api/v1/settings.public`: no login needed.
pub async fn public(State(app): State<AppState>, Params(query): Params) -> ApiResult {
    let q = settings_query(&app, &query)?;
    let page = app.service.settings().public_settings(&q);
    ok(page_json(&page, q.offset, false))
}

/// `GET /api/v1/service.configurations`: no login needed. Comet has no OAuth or other
/// external login services, so there is never a configuration to list.
pub async fn service_configurations() -> ApiResult {
    ok(json!({"configurations": []}))
}

/// `GET /api/v1/settings.oauth`: no login needed; the enabled OAuth services, none in Comet.
pub async fn oauth() -> ApiResult {
    ok(json!({"services": []}))
}

/// `GET /api/v1/settings`: all settings for privileged callers, public ones for others.
pub async fn list(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let q = settings_query(&app, &query)?;
    let include_defaults = opt_bool(&query, "includeDefaults")?.unwrap_or(false);
    let page = app.service.settings().list_settings(&session, &q);
    ok(page_json(&page, q.offset, include_defaults))
}

/// `GET /api/v1/settings/:_id`.
pub async fn get(
    State(app): State<AppState>,
    Caller(session): Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let setting = app.service.settings().get_setting(&session, &id)?;
    ok(rest::setting_value(&setting))
}

/// `POST /api/v1/settings/:_id` (second factor required).
pub async fn update(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
    Path(id): Path<String>,
    Params(body): Params,
) -> ApiResult {
    let Some(value) = body.get("value").cloned() else {
        return Err(Error::invalid_params("must have required property 'value'").into());
    };
    super::users::two_factor(&app, &session, &headers, &client).await?;
    app.service
        .settings()
        .update_setting(&session, &id, value)
        .await?;
    ok(Value::Null)
}

/// `GET /api/v1/stdout.queue` (`view-logs`): the server's recent log lines, oldest first, as
/// `{id, string, ts}`.
pub async fn stdout_queue(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let lines = app.service.settings().recent_logs(&session)?;
    let queue: Vec<Value> = lines
        .iter()
        .map(|line| json!({"id": line.id, "string": line.text, "ts": comet_protocol::iso(line.at)}))
        .collect();
    ok(json!({"queue": queue}))
}
