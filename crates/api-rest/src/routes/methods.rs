use crate::AppState;
use crate::envelope::{ApiResult, json_response};
use crate::extract::{Caller, Client, Params};
use crate::params::req_str;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use comet_core::Error;
use comet_methods::{MethodContext, Outcome, result_message};
use comet_service::{ClientInfo, Session};
use serde_json::{Value, json};

/// The request's headers for a method trace, written as upstream's log shows them, with every
/// credential replaced by `[redacted]`: the auth token and second-factor code, any
/// `Authorization`, and the values of the `rc_token` and session cookies.
fn traced_headers(headers: &HeaderMap) -> String {
    const SECRET_HEADERS: &[&str] = &["x-auth-token", "x-2fa-code", "authorization"];
    const SECRET_COOKIES: &[&str] = &["rc_token", "meteor_login_token"];
    let quote = |text: &str| format!("'{}'", text.replace('\\', "\\\\").replace('\'', "\\'"));
    let pairs: Vec<String> = headers
        .iter()
        .map(|(name, value)| {
            let name = name.as_str();
            let value = if SECRET_HEADERS.contains(&name) {
                "[redacted]".to_owned()
            } else if name == "cookie" {
                value
                    .to_str()
                    .unwrap_or_default()
                    .split(';')
                    .map(|cookie| match cookie.trim().split_once('=') {
                        Some((key, _)) if SECRET_COOKIES.contains(&key) => {
                            format!("{key}=[redacted]")
                        }
                        _ => cookie.trim().to_owned(),
                    })
                    .collect::<Vec<_>>()
                    .join("; ")
            } else {
                value.to_str().unwrap_or("[binary]").to_owned()
            };
            format!("{}: {}", quote(name), quote(&value))
        })
        .collect();
    format!("{{ {} }}", pairs.join(", "))
}

async fn bridge(
    app: &AppState,
    session: Option<&Session>,
    client: &ClientInfo,
    headers: &HeaderMap,
    body: &Value,
) -> ApiResult {
    let message = req_str(body, "message")?;
    // Upstream's schema for the DDP message: `method` a string, `params` an array, `id` a
    // string; anything else is refused before the method runs.
    let invalid = || Error::failure("Invalid method call");
    let call: Value = serde_json::from_str(&message).map_err(|_| invalid())?;
    let (Some(method), Some(Value::Array(params)), Some(id @ Value::String(_))) = (
        call.get("method").and_then(Value::as_str),
        call.get("params"),
        call.get("id"),
    ) else {
        return Err(invalid().into());
    };
    let (id, params) = (id.clone(), params.clone());
    if app.service.settings().traces_method(method) {
        tracing::info!(
            method,
            user = session.map_or("-", |s| s.user.id.as_str()),
            headers = %traced_headers(headers),
            "method called"
        );
    }
    let outcome = comet_methods::call(
        &app.service,
        method,
        params,
        MethodContext { session, client },
    )
    .await;
    let outcome = match outcome {
        Ok(Outcome::Value(value) | Outcome::LoggedIn(_, value)) => Ok(value),
        Ok(Outcome::LoggedOut) => Ok(Value::Null),
        // Over HTTP there is no connection to mark: the report applies to the user.
        Ok(Outcome::ConnectionPresence(presence)) => match session {
            Some(session) => app
                .service
                .connections()
                .set_connection_presence(&session.user.id, presence)
                .await
                .map(|()| Value::Null),
            None => Ok(Value::Null),
        },
        Err(e) => Err(e),
    };
    // As upstream: the call went through, so the HTTP answer is a success whose `message`
    // holds the DDP result, a method's error included.
    if let Err(error) = &outcome {
        tracing::info!(
            method,
            error = error.code.as_deref().unwrap_or("-"),
            reason = %error.reason,
            "method failed"
        );
    }
    Ok(json_response(
        StatusCode::OK,
        json!({"message": result_message(&id, &outcome).to_string(), "success": true}),
    ))
}

/// `POST /api/v1/method.call/:method`: a DDP method over HTTP, logged in.
pub async fn call(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    bridge(&app, Some(&session), &client, &headers, &body).await
}

/// `POST /api/v1/method.callAnon/:method`: a DDP method over HTTP, anonymous.
pub async fn call_anon(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    bridge(&app, None, &client, &headers, &body).await
}
