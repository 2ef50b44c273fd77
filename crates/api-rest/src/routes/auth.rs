use crate::AppState;
use crate::envelope::{ApiResult, login_error_response, ok};
use crate::extract::{Caller, Client, Params};
use axum::extract::State;
use axum::http::HeaderMap;
use comet_core::Error;
use comet_protocol::rest;
use comet_service::auth::parse_meteor_login;
use comet_service::{LoginRequest, PasswordInput, UserSelector};
use serde_json::{Value, json};

/// Upstream's `loginCompatibility`: the REST shorthand forms become Meteor's login argument,
/// with the second factor's code (the body's `code`, else the `X-2fa-Code` header) when one is
/// given; bodies with other keys are already Meteor's form.
fn login_request(body: &Value, code_header: Option<&str>) -> Result<LoginRequest, Error> {
    let Value::Object(map) = body else {
        return Err(Error::failure("unauthorized"));
    };
    let shorthand = map.keys().all(|k| {
        matches!(
            k.as_str(),
            "user" | "username" | "email" | "password" | "code"
        )
    });
    if map.get("password").is_none() || !shorthand {
        return parse_meteor_login(body);
    }
    let code = match map.get("code") {
        Some(Value::String(code)) if !code.is_empty() => Some(code.clone()),
        _ => code_header.filter(|c| !c.is_empty()).map(str::to_owned),
    };
    match shorthand_login(map)? {
        Some(request) => Ok(with_code(request, code)),
        None => parse_meteor_login(body).map(|request| with_code(request, code)),
    }
}

/// The shorthand forms (`user`, `username` or `email` as text; the password plain or
/// `{hashed}`); `None` for a body in Meteor's own form.
fn shorthand_login(map: &serde_json::Map<String, Value>) -> Result<Option<LoginRequest>, Error> {
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
        return Ok(None);
    };
    let password = match map.get("password") {
        Some(Value::String(plain)) => PasswordInput::Plain(plain.clone()),
        Some(Value::Object(o)) => match o.get("hashed").and_then(Value::as_str) {
            Some(digest) => PasswordInput::Sha256Digest(digest.to_owned()),
            None => return Ok(None),
        },
        _ => return Err(Error::meteor("400", "Match failed")),
    };
    Ok(Some(LoginRequest::Password {
        user: selector,
        password,
        code: None,
    }))
}

fn with_code(request: LoginRequest, code: Option<String>) -> LoginRequest {
    match request {
        LoginRequest::Password {
            user,
            password,
            code: None,
        } => LoginRequest::Password {
            user,
            password,
            code,
        },
        other => other,
    }
}

/// `POST /api/v1/login`: every form Rocket.Chat accepts; any failure is 401 "unauthorized",
/// except the second factor's `totp-required` / `totp-invalid`, which say so (upstream's
/// `{status: "error", error, message, details}`), so that clients ask for the code.
pub async fn login(
    State(app): State<AppState>,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    let code_header = headers.get("x-2fa-code").and_then(|v| v.to_str().ok());
    let request = login_request(&body, code_header)
        .map_err(|_| Error::login_failed("400", "Match failed"))?;
    let result = match app.service.accounts().login(request, &client).await {
        Ok(result) => result,
        Err(error)
            if matches!(
                error.code.as_deref(),
                Some("totp-required" | "totp-invalid" | "totp-max-attempts")
            ) =>
        {
            return Ok(login_error_response(&error));
        }
        Err(error) => return Err(error.into()),
    };
    let me = app.service.accounts().me(&result.user);
    ok(json!({
        "status": "success",
        "data": {
            "userId": result.user.id,
            "authToken": result.token,
            "me": with_second_factor(
                rest::me(&me.user, me.preferences, &me.avatar_url),
                app.service.accounts().totp_enabled(&result.user.id).await?,
                app.service.accounts().email_two_factor_enabled(&result.user.id).await?,
            ),
        },
    }))
}

/// Adds `services.totp: {enabled: true}` for a user who enabled TOTP and
/// `services.email2fa: {enabled: true}` for one who turned on codes by email, as upstream's
/// `getUserInfo` shows them (never a secret, a backup code or a mailed code).
fn with_second_factor(mut doc: Value, totp_enabled: bool, email_enabled: bool) -> Value {
    if let Some(services) = doc.get_mut("services").and_then(Value::as_object_mut) {
        if totp_enabled {
            services.insert("totp".into(), json!({"enabled": true}));
        }
        if email_enabled {
            services.insert("email2fa".into(), json!({"enabled": true}));
        }
    }
    doc
}

/// `GET|POST /api/v1/logout`: ends this session only.
pub async fn logout(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    app.service.accounts().logout(&session).await?;
    ok(json!({"status": "success", "data": {"message": "You've been logged out!"}}))
}

/// `GET /api/v1/me`.
pub async fn me(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let me = app.service.accounts().me(&session.user);
    let facts = app.service.accounts().account_facts(&me.user.id).await?;
    let mut doc = with_second_factor(
        rest::me(&me.user, me.preferences, &me.avatar_url),
        facts.totp_enabled,
        facts.email_two_factor_enabled,
    );
    if let (Some(etag), Value::Object(map)) = (facts.avatar_etag, &mut doc) {
        map.insert("avatarETag".into(), json!(etag));
    }
    ok(doc)
}
