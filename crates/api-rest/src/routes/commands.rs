//! `commands.*`: slash commands. Each check fails with upstream's own sentence, in upstream's
//! order (the types of the fields first, then the command, the room and the thread).

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::pagination;
use axum::extract::State;
use comet_core::{Error, Result};
use comet_service::commands::{CommandRun, SlashCommand};
use serde_json::{Value, json};

/// A command as upstream serializes its registry entry (the callback left out).
fn command_json(command: &SlashCommand) -> Value {
    let mut body = json!({
        "command": command.command,
        "description": command.description,
        "clientOnly": command.client_only,
        "providesPreview": command.provides_preview,
    });
    if let Value::Object(map) = &mut body {
        if let Some(params) = command.params {
            map.insert("params".into(), json!(params));
        }
        // Upstream registers one permission as a string and several as a list.
        match command.permission {
            [] => {}
            [one] => {
                map.insert("permission".into(), json!(one));
            }
            many => {
                map.insert("permission".into(), json!(many));
            }
        }
    }
    body
}

/// A required string field, refused with `message` when missing or of another type.
fn required_str<'a>(params: &'a Value, name: &str, message: &'static str) -> Result<&'a str> {
    params
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| Error::failure(message))
}

/// An optional string field: JavaScript's `if (body.x && typeof body.x !== 'string')`, so
/// falsy values of any type count as absent.
fn optional_str(params: &Value, name: &str, message: &'static str) -> Result<Option<String>> {
    match params.get(name) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::Number(n)) if n.as_f64() == Some(0.0) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::failure(message)),
    }
}

const PARAMS_NOT_STRING: &str = "The parameters for the command must be a single string.";
const TMID_NOT_STRING: &str = "The tmid parameter when provided must be a string.";

/// `GET /api/v1/commands.get?command=`.
pub async fn get(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(query): Params,
) -> ApiResult {
    let name = required_str(
        &query,
        "command",
        "The query param \"command\" must be provided.",
    )?;
    let Some(command) = app.service.commands().find(name) else {
        return Err(Error::failure(format!(
            "There is no command in the system by the name of: {name}"
        ))
        .into());
    };
    ok(json!({ "command": command_json(command) }))
}

/// `GET /api/v1/commands.list`: `offset`/`count`, and the deprecated JSON `sort` and `query`
/// (`{"command": "..."}`), as upstream still applies them.
pub async fn list(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(query): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &query)?;
    let filter: Option<String> = match query.get("query").and_then(Value::as_str) {
        Some(raw) => serde_json::from_str::<Value>(raw)
            .map_err(|_| Error::failure("Invalid query parameter provided"))?
            .get("command")
            .and_then(Value::as_str)
            .map(str::to_owned),
        None => None,
    };
    let mut commands: Vec<&SlashCommand> = app
        .service
        .commands()
        .list()
        .iter()
        .filter(|c| filter.as_deref().is_none_or(|f| c.command == f))
        .collect();
    if let Some(raw) = query.get("sort").and_then(Value::as_str) {
        let sort: Value = serde_json::from_str(raw)
            .map_err(|_| Error::failure("Invalid sort parameter provided"))?;
        if let Some(keys) = sort.as_object() {
            // Upstream compares the first key that tells two commands apart.
            commands.sort_by(|a, b| {
                for (key, direction) in keys {
                    let (x, y) = match key.as_str() {
                        "command" => (a.command, b.command),
                        "description" => (a.description, b.description),
                        _ => continue,
                    };
                    let order = if direction.as_i64() == Some(-1) {
                        y.cmp(x)
                    } else {
                        x.cmp(y)
                    };
                    if order.is_ne() {
                        return order;
                    }
                }
                std::cmp::Ordering::Equal
            });
        }
    }
    let total = commands.len();
    let offset_items = usize::try_from(offset).unwrap_or(usize::MAX);
    let page: Vec<Value> = commands
        .into_iter()
        .skip(offset_items)
        .take(count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX)))
        .map(command_json)
        .collect();
    ok(json!({
        "commands": page,
        "appsLoaded": true,
        "offset": offset,
        "count": page.len(),
        "total": total,
    }))
}

/// `POST /api/v1/commands.run {command, params?, roomId, tmid?, triggerId?}`.
pub async fn run(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let command = required_str(&body, "command", "You must provide a command to run.")?;
    let params = optional_str(&body, "params", PARAMS_NOT_STRING)?;
    let room_id = required_str(
        &body,
        "roomId",
        "The room's id where to execute this command must be provided and be a string.",
    )?;
    let thread_id = optional_str(&body, "tmid", TMID_NOT_STRING)?;
    let run = CommandRun {
        command: command.to_owned(),
        params: params.unwrap_or_default(),
        room_id: room_id.to_owned(),
        thread_id,
    };
    app.service.commands().run(&session, run).await?;
    ok(json!({}))
}

/// `GET /api/v1/commands.preview?command=&params=&roomId=`: no built-in command offers
/// previews, so a valid request gets an empty list.
pub async fn preview(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let command = required_str(
        &query,
        "command",
        "You must provide a command to get the previews from.",
    )?;
    optional_str(&query, "params", PARAMS_NOT_STRING)?;
    let room_id = required_str(
        &query,
        "roomId",
        "The room's id where the previews are being displayed must be provided and be a string.",
    )?;
    app.service
        .commands()
        .check_preview(&session, command, room_id, None)
        .await?;
    ok(json!({ "preview": { "i18nTitle": "", "items": [] } }))
}

/// `POST /api/v1/commands.preview`: runs a preview item; none exist among the built-in
/// commands, so a valid request does nothing.
pub async fn execute_preview(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let command = required_str(
        &body,
        "command",
        "You must provide a command to run the preview item on.",
    )?;
    optional_str(&body, "params", PARAMS_NOT_STRING)?;
    let room_id = required_str(
        &body,
        "roomId",
        "The room's id where the preview is being executed in must be provided and be a string.",
    )?;
    let Some(item) = body.get("previewItem").filter(|v| !v.is_null()) else {
        return Err(Error::failure("The preview item being executed must be provided.").into());
    };
    let truthy = |key: &str| match item.get(key) {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(_) => true,
    };
    if !truthy("id") || !truthy("type") || item.get("value").is_none() {
        return Err(
            Error::failure("The preview item being executed is in the wrong format.").into(),
        );
    }
    let thread_id = optional_str(&body, "tmid", TMID_NOT_STRING)?;
    optional_str(
        &body,
        "triggerId",
        "The triggerId parameter when provided must be a string.",
    )?;
    app.service
        .commands()
        .check_preview(&session, command, room_id, thread_id)
        .await?;
    ok(json!({}))
}
