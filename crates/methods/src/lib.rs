//! Meteor methods by name. DDP `method` messages and REST `method.call` both dispatch here, so a
//! method behaves the same on either transport. Each method parses its positional parameters,
//! calls one service operation, and answers in EJSON (dates as `{"$date": ms}`). Methods live
//! in one module per area (`accounts`, `messages`, `room_admin`, `rooms`, `threads`), each
//! declaring its names in a `METHODS` table; the registry joins the tables.

mod accounts;
mod autotranslate;
pub mod custom_assets;
mod messages;
mod room_admin;
mod rooms;
mod threads;

use comet_core::user::Presence;
use comet_core::{Error, ErrorKind, Result, Timestamp};
use comet_service::rooms::{RoomAccess, RoomFamily, RoomRef};
use comet_service::{ClientInfo, LoginResult, Service, Session};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::LazyLock;

/// What a method runs with: the caller (if logged in) and the client.
pub struct MethodContext<'a> {
    pub session: Option<&'a Session>,
    pub client: &'a ClientInfo,
}

/// What a method produced. `login` also hands the transport the new session.
pub enum Outcome {
    Value(Value),
    LoggedIn(Box<LoginResult>, Value),
    LoggedOut,
    /// `UserPresence:online`/`away`: the client reports its connection (in)active; the
    /// transport applies it to the connection it came on (the answer is `null`).
    ConnectionPresence(Presence),
}

type MethodFuture<'a> = Pin<Box<dyn Future<Output = Result<Outcome>> + Send + 'a>>;

fn session<'a>(ctx: &MethodContext<'a>) -> Result<&'a Session> {
    ctx.session
        .ok_or_else(|| Error::meteor("error-invalid-user", "Invalid user"))
}

/// The caller, or upstream's `error-invalid-user` naming the method, for methods that name it.
fn session_for<'a>(ctx: &MethodContext<'a>, method: &str) -> Result<&'a Session> {
    ctx.session.ok_or_else(|| {
        Error::meteor("error-invalid-user", "Invalid user")
            .with_details(json!({ "method": method }))
    })
}

fn param(params: &[Value], index: usize) -> Option<&Value> {
    params.get(index).filter(|v| !v.is_null())
}

/// Meteor's answer to parameters that do not match a method's pattern (`check`).
fn match_failed() -> Error {
    Error::meteor("error-invalid-params", "Match failed")
}

fn str_param(params: &[Value], index: usize) -> Result<String> {
    param(params, index)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(match_failed)
}

/// A required string field of an object parameter.
fn str_field<'a>(object: &'a Value, key: &str) -> Result<&'a str> {
    object
        .get(key)
        .and_then(Value::as_str)
        .ok_or_else(match_failed)
}

/// A time in EJSON (`{"$date": ms}`).
fn date(at: Timestamp) -> Value {
    serde_json::json!({ "$date": at.timestamp_millis() })
}

/// An EJSON date parameter (`{"$date": ms}`) or an ISO string.
fn date_param(params: &[Value], index: usize) -> Option<Timestamp> {
    comet_protocol::ddp::ejson_date(param(params, index)?)
}

fn value(v: Value) -> Result<Outcome> {
    Ok(Outcome::Value(v))
}

async fn room(service: &Service, session: &Session, room_id: &str) -> Result<RoomAccess> {
    service
        .rooms()
        .room_for(session, &RoomRef::Id(room_id.to_owned()), RoomFamily::Any)
        .await
}

/// The DDP `result` message for a method outcome.
pub fn result_message(id: &Value, outcome: &Result<Value>) -> Value {
    match outcome {
        Ok(result) => json!({"msg": "result", "id": id, "result": result}),
        Err(error) => json!({"msg": "result", "id": id, "error": error_object(error)}),
    }
}

/// A Meteor error as DDP carries it.
pub fn error_object(error: &Error) -> Value {
    if error.kind == ErrorKind::TooManyRequests
        && error.code.as_deref() != Some("too-many-requests")
    {
        // Whatever limit refused the call, a DDP client sees Meteor's rate limiter error.
        let time_to_reset = error
            .details
            .as_ref()
            .and_then(|d| d.get("timeToReset"))
            .and_then(Value::as_u64)
            .unwrap_or(1000);
        return error_object(&Error::ddp_too_many_requests(time_to_reset));
    }
    let code = error.code.as_deref().unwrap_or("internal-error");
    let mut object = json!({
        "isClientSafe": true,
        "error": code.parse::<i64>().map_or_else(|_| json!(code), |n| json!(n)),
        "reason": error.reason,
        "message": format!("{} [{code}]", error.reason),
        "errorType": "Meteor.Error",
    });
    if let (Some(details), Value::Object(map)) = (&error.details, &mut object) {
        map.insert("details".into(), details.clone());
    }
    object
}

/// A method: positional parameters in, an outcome out.
type Handler = for<'a> fn(&'a Service, Vec<Value>, MethodContext<'a>) -> MethodFuture<'a>;

/// Every method of every area, by name.
static REGISTRY: LazyLock<HashMap<&'static str, Handler>> = LazyLock::new(|| {
    [
        accounts::METHODS,
        autotranslate::METHODS,
        custom_assets::METHODS,
        messages::METHODS,
        room_admin::METHODS,
        rooms::METHODS,
        threads::METHODS,
    ]
    .into_iter()
    .flatten()
    .copied()
    .collect()
});

/// The name of every registered method, sorted.
pub fn method_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = REGISTRY.keys().copied().collect();
    names.sort_unstable();
    names
}

/// Runs the Meteor method `name`.
pub async fn call(
    service: &Service,
    name: &str,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let Some(handler) = REGISTRY.get(name) else {
        return Err(Error::meteor("404", format!("Method '{name}' not found")));
    };
    handler(service, params, ctx).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_name_is_registered_once() {
        let declared = accounts::METHODS.len()
            + autotranslate::METHODS.len()
            + custom_assets::METHODS.len()
            + messages::METHODS.len()
            + room_admin::METHODS.len()
            + rooms::METHODS.len()
            + threads::METHODS.len();
        assert_eq!(REGISTRY.len(), declared, "a method name is declared twice");
        assert!(REGISTRY.contains_key("sendMessage") && REGISTRY.contains_key("login"));
    }

    #[test]
    fn method_names_lists_the_registry() {
        let names = method_names();
        assert_eq!(names.len(), REGISTRY.len());
        assert!(names.windows(2).all(|pair| pair[0] < pair[1]), "sorted");
        assert!(names.contains(&"sendMessage") && names.contains(&"getThreadsList"));
    }
}
