use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Client, Params};
use axum::extract::State;
use comet_core::Error;
use comet_protocol::rest;
use comet_service::auth::parse_meteor_login;
use comet_service::{LoginRequest, PasswordInput, UserSelector};
use serde_json::{Value, json};

/// Upstream's `loginCompatibility`: the REST shorthand forms become Meteor's login argument;
/// bodies with other keys are already Meteor's form.
fn login_request(body: &Value) -> Result<LoginRequest, Error> {
    let Value::Object(map) = body else {
        return Err(Error::failure("unauthorized"));
    };
    let shorthand = map.keys().all(|k| {
        matches!(
            k.as_str(),
            "user" | "username" | "email" | "password" | "code"
        )
    });
    let password = map.get("password");
    if password.is_none() || !shorthand {
        return parse_meteor_login(body);
    }
    let selector = if let Some(user) = map.get("user").and_then(Value::as_str) {
        if user.contains('@') {
            UserSelector::Email(user.to_owned())
        } else {
            UserSelector::Username(user.to_owned())
        }
    } else if let Some(name) = map.get("username").and_then(Value::as_str) {
        UserSelector::Username(name.to_owned())
    } else if let Some(email) = map.get("email").and_then(Value::as_str) {
        UserSelector::Email(email.to_owned())
    } else {
        return parse_meteor_login(body);
    };
    let password = match password {
        Some(Value::String(plain)) => PasswordInput::Plain(plain.clone()),
        Some(Value::Object(o)) => match o.get("hashed").and_then(Value::as_str) {
            Some(digest) => PasswordInput::Sha256Digest(digest.to_owned()),
            None => return parse_meteor_login(body),
        },
        _ => return Err(Error::meteor("400", "Match failed")),
    };
    Ok(LoginRequest::Password {
        user: selector,
        password,
    })
}

/// `POST /api/v1/login`: every form Rocket.Chat accepts; any failure is 401 "unauthorized".
pub async fn login(
    State(app): State<AppState>,
    Client(client): Client,
    Params(body): Params,
) -> ApiResult {
    let request = login_request(&body).map_err(|_| Error::login_failed("400", "Match failed"))?;
    let result = app.service.accounts().login(request, &client).await?;
    let me = app.service.accounts().me(&result.user);
    ok(json!({
        "status": "success",
        "data": {
            "userId": result.user.id,
            "authToken": result.token,
            "me": rest::me(&me.user, me.preferences, &me.avatar_url),
        },
    }))
}

/// `GET|POST /api/v1/logout`: ends this session only.
pub async fn logout(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    app.service.accounts().logout(&session).await?;
    ok(json!({"status": "success", "data": {"message": "You've been logged out!"}}))
}

/// `GET /api/v1/me`.
pub async fn me(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let me = app.service.accounts().me(&session.user);
    let mut doc = rest::me(&me.user, me.preferences, &me.avatar_url);
    if let (Some(etag), Value::Object(map)) = (
        super::avatars::user_etag(&app, &me.user.id).await?,
        &mut doc,
    ) {
        map.insert("avatarETag".into(), json!(etag));
    }
    ok(doc)
}
