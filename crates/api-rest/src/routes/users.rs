use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Client, Params};
use crate::params::{
    opt_bool, opt_str, opt_str_list, pagination, req_bool, req_str, user_ref, user_sort,
};
use axum::extract::State;
use axum::http::HeaderMap;
use comet_core::Error;
use comet_core::page::{Page, UserSortKey};
use comet_protocol::{iso, rest::UserWire};
use comet_service::accounts::{
    NewUser, OwnProfileChanges, Registration, UserChanges, UserRef, UserView, UsersByStatus,
    VisibleUser,
};
use comet_service::{ClientInfo, Session};
use serde_json::{Value, json};

fn user_json(user: &VisibleUser) -> Value {
    UserWire::new(&user.user, user.view == UserView::Full).to_value()
}

/// Runs the second-factor check of routes upstream marks `twoFactorRequired`.
pub(crate) async fn two_factor(
    app: &AppState,
    session: &Session,
    headers: &HeaderMap,
    client: &ClientInfo,
) -> Result<(), Error> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    app.service
        .accounts()
        .check_two_factor(
            session,
            header("x-2fa-code"),
            header("x-2fa-method"),
            client,
        )
        .await
}

/// `POST /api/v1/users.register`: self-service sign-up. Upstream's route does not require
/// authentication, so its framework never reads the caller's credentials there: a request
/// carrying a logged-in user's headers registers a new account like an anonymous one.
pub async fn register(
    State(app): State<AppState>,
    Client(client): Client,
    Params(body): Params,
) -> ApiResult {
    let registration = Registration {
        username: req_str(&body, "username")?,
        email: req_str(&body, "email")?,
        password: req_str(&body, "pass")?,
        name: opt_str(&body, "name")?,
        secret_url: opt_str(&body, "secretURL")?.or(opt_str(&body, "secret")?),
        reason: opt_str(&body, "reason")?,
        custom_fields: body.get("customFields").filter(|v| v.is_object()).cloned(),
    };
    let user = app
        .service
        .accounts()
        .register(registration, &client)
        .await?;
    ok(json!({"user": user_json(&user)}))
}

/// `GET /api/v1/users.info`.
pub async fn info(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let target = if let Some(id) = opt_str(&query, "userId")?.filter(|s| !s.is_empty()) {
        UserRef::Id(id)
    } else if let Some(name) = opt_str(&query, "username")?.filter(|s| !s.is_empty()) {
        UserRef::Username(name)
    } else if let Some(email) = opt_str(&query, "email")?.filter(|s| !s.is_empty()) {
        // Rocket.Chat 8.4 looks users up by email address too.
        UserRef::Email(email)
    } else {
        return Err(Error::failure("Invalid search query.").into());
    };
    let user = app.service.accounts().user_info(&session, &target).await?;
    let mut doc = user_json(&user);
    if let Value::Object(map) = &mut doc {
        map.insert("canViewAllInfo".into(), json!(user.view == UserView::Full));
        if let Some(etag) = super::avatars::user_etag(&app, &user.user.id).await? {
            map.insert("avatarETag".into(), json!(etag));
        }
        if user.user.id == session.user.id {
            // Oneself also sees which login services exist and, as upstream shows its owner,
            // the hashes of their login tokens (never the password hash).
            let tokens: Vec<Value> = app
                .service
                .accounts()
                .own_tokens(&session)
                .await?
                .iter()
                .map(|t| match &t.kind {
                    comet_core::user::TokenKind::Login => {
                        json!({"when": iso(t.created_at), "hashedToken": t.hashed_token})
                    }
                    comet_core::user::TokenKind::PersonalAccess {
                        name,
                        last_token_part,
                        bypass_two_factor,
                    } => json!({
                        "type": "personalAccessToken",
                        "createdAt": iso(t.created_at),
                        "hashedToken": t.hashed_token,
                        "name": name,
                        "lastTokenPart": last_token_part,
                        "bypassTwoFactor": bypass_two_factor,
                    }),
                })
                .collect();
            map.insert(
                "services".into(),
                json!({
                    "password": user.user.password_bcrypt.is_some(),
                    "resume": {"loginTokens": tokens},
                }),
            );
        }
        if opt_bool(&query, "includeUserRooms")? == Some(true)
            && let Some(subscriptions) = app
                .service
                .rooms()
                .rooms_of_user(&session, &user.user.id)
                .await?
        {
            // Upstream's projection of each subscription.
            let rooms: Vec<Value> = subscriptions
                .iter()
                .map(|s| {
                    json!({"_id": s.id, "rid": s.room_id, "name": s.name, "t": s.room_type.as_str(),
                           "roles": s.roles, "unread": s.unread})
                })
                .collect();
            map.insert("rooms".into(), json!(rooms));
        }
    }
    ok(json!({"user": doc}))
}

/// `GET /api/v1/users.list`.
pub async fn list(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &query)?;
    let page = Page {
        offset,
        count,
        sort: user_sort(&query)?,
    };
    let fields = json_object_param(&query, "fields", "error-invalid-fields", "fields")?;
    if let Some(fields) = &fields
        && fields
            .values()
            .any(|v| v.as_i64() != Some(0) && v.as_i64() != Some(1))
    {
        return Err(invalid_json_param(&query, "error-invalid-fields", "fields").into());
    }
    let condition = json_object_param(&query, "query", "error-invalid-query", "query")?;
    let (docs, total) = app
        .service
        .accounts()
        .list_users_by_query(
            &session,
            condition.as_ref(),
            fields.as_ref(),
            &page,
            user_json,
        )
        .await?;
    ok(json!({"users": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// Upstream's refusal of a `fields` or `query` parameter that is not a JSON object.
fn invalid_json_param(params: &Value, code: &'static str, name: &str) -> Error {
    let raw = params.get(name).and_then(Value::as_str).unwrap_or_default();
    Error::meteor(
        code,
        format!("Invalid {name} parameter provided: \"{raw}\""),
    )
}

/// A JSON object given as a string parameter (`fields`, `query`); absent or empty is none.
pub(crate) fn json_object_param(
    params: &Value,
    name: &str,
    code: &'static str,
    label: &str,
) -> Result<Option<serde_json::Map<String, Value>>, Error> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(raw)) if raw.is_empty() => Ok(None),
        Some(Value::String(raw)) => match serde_json::from_str::<Value>(raw) {
            Ok(Value::Object(map)) => Ok(Some(map)),
            _ => Err(invalid_json_param(params, code, label)),
        },
        Some(Value::Object(map)) => Ok(Some(map.clone())),
        Some(_) => Err(invalid_json_param(params, code, label)),
    }
}

/// `GET /api/v1/users.listByStatus`: the administration's user table (`view-d-room`).
pub async fn list_by_status(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    // Upstream's schema (ajv, additional properties refused), checked before anything else.
    const ALLOWED: &[&str] = &[
        "status",
        "hasLoggedIn",
        "type",
        "roles",
        "searchTerm",
        "sort",
        "count",
        "offset",
        "inactiveReason",
    ];
    if let Value::Object(fields) = &query
        && fields.keys().any(|k| !ALLOWED.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties").into());
    }
    let active = match opt_str(&query, "status")?.as_deref() {
        None => None,
        Some("active") => Some(true),
        Some("deactivated") => Some(false),
        Some(_) => {
            return Err(Error::invalid_params("must be equal to one of the allowed values").into());
        }
    };
    let inactive_reasons = opt_str_list(&query, "inactiveReason")?;
    if let Some(reasons) = &inactive_reasons
        && reasons
            .iter()
            .any(|r| !["deactivated", "pending_approval", "idle_too_long"].contains(&r.as_str()))
    {
        return Err(Error::invalid_params("must be equal to one of the allowed values").into());
    }
    let by_status = UsersByStatus {
        inactive_reasons,
        active,
        has_logged_in: opt_bool(&query, "hasLoggedIn")?,
        user_type: opt_str(&query, "type")?,
        roles: opt_str_list(&query, "roles")?.unwrap_or_default(),
        search_term: opt_str(&query, "searchTerm")?,
    };
    let (offset, count) = pagination(&app, &query)?;
    let mut sort = user_sort(&query)?;
    // Upstream sorts by activity along with presence when asked for `status`.
    if let Some(&(_, direction)) = sort.iter().find(|(key, _)| *key == UserSortKey::Status) {
        sort.push((UserSortKey::Active, direction));
    }
    let page = Page {
        offset,
        count,
        sort,
    };
    let (users, total) = app
        .service
        .accounts()
        .list_users_by_status(&session, &by_status, &page)
        .await?;
    let docs: Vec<Value> = users
        .iter()
        .map(|u| comet_protocol::rest::user_by_status(&u.user, u.view == UserView::Full))
        .collect();
    ok(json!({"users": docs, "count": docs.len(), "offset": offset, "total": total}))
}

/// `POST /api/v1/users.create`.
pub async fn create(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let new_user = NewUser {
        email: req_str(&body, "email")?,
        name: req_str(&body, "name")?,
        password: req_str(&body, "password")?,
        username: req_str(&body, "username")?,
        active: opt_bool(&body, "active")?,
        roles: opt_str_list(&body, "roles")?,
        require_password_change: opt_bool(&body, "requirePasswordChange")?.unwrap_or(false),
        verified: opt_bool(&body, "verified")?.unwrap_or(false),
        nickname: opt_str(&body, "nickname")?,
        bio: opt_str(&body, "bio")?,
        status_text: opt_str(&body, "statusText")?,
        custom_fields: body.get("customFields").filter(|v| v.is_object()).cloned(),
        join_default_channels: opt_bool(&body, "joinDefaultChannels")?.unwrap_or(true),
    };
    let user = app
        .service
        .accounts()
        .create_user(&session, new_user)
        .await?;
    ok(json!({"user": user_json(&user)}))
}

/// `POST /api/v1/users.update` (second factor required).
pub async fn update(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    let user_id = req_str(&body, "userId")?;
    if user_id.is_empty() {
        return Err(Error::invalid_params("must NOT have fewer than 1 characters").into());
    }
    let data = match body.get("data") {
        Some(data @ Value::Object(_)) => data.clone(),
        Some(_) => return Err(Error::invalid_params("must be object").into()),
        None => return Err(Error::invalid_params("must have required property 'data'").into()),
    };
    // Upstream's `UsersUpdateParamsPOST` `data` properties (`joinDefaultChannels` is for
    // creation only).
    const DATA_KEYS: &[&str] = &[
        "email",
        "name",
        "password",
        "username",
        "bio",
        "nickname",
        "statusText",
        "active",
        "roles",
        "requirePasswordChange",
        "setRandomPassword",
        "sendWelcomeEmail",
        "verified",
        "customFields",
        "status",
    ];
    if data
        .as_object()
        .is_some_and(|map| map.keys().any(|k| !DATA_KEYS.contains(&k.as_str())))
    {
        return Err(Error::invalid_params("must NOT have additional properties").into());
    }
    let changes = UserChanges {
        email: opt_str(&data, "email")?,
        name: opt_str(&data, "name")?,
        username: opt_str(&data, "username")?,
        password: opt_str(&data, "password")?,
        active: opt_bool(&data, "active")?,
        roles: opt_str_list(&data, "roles")?,
        verified: opt_bool(&data, "verified")?,
        require_password_change: opt_bool(&data, "requirePasswordChange")?,
        nickname: opt_str(&data, "nickname")?,
        bio: opt_str(&data, "bio")?,
        status_text: opt_str(&data, "statusText")?,
        custom_fields: data.get("customFields").filter(|v| v.is_object()).cloned(),
        confirm_relinquish: opt_bool(&body, "confirmRelinquish")?.unwrap_or(false),
    };
    two_factor(&app, &session, &headers, &client).await?;
    let user = app
        .service
        .accounts()
        .update_user(&session, &user_id, changes)
        .await?;
    ok(json!({"user": user_json(&user)}))
}

/// `POST /api/v1/users.updateOwnBasicInfo`: the caller's own profile. Changing the email or
/// the password needs the current password (SHA-256 hex) as `data.currentPassword`, or as the
/// `X-2fa-Code` header with `X-2fa-Method`, as upstream's password second factor.
pub async fn update_own_basic_info(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    const BODY_KEYS: &[&str] = &["data", "customFields"];
    const DATA_KEYS: &[&str] = &[
        "email",
        "name",
        "username",
        "nickname",
        "bio",
        "statusText",
        "statusType",
        "currentPassword",
        "newPassword",
        "phones",
    ];
    let additional = |object: &serde_json::Map<String, Value>, allowed: &[&str]| {
        if object.keys().any(|k| !allowed.contains(&k.as_str())) {
            Err(Error::invalid_params("must NOT have additional properties"))
        } else {
            Ok(())
        }
    };
    let data = match body.get("data") {
        Some(Value::Object(data)) => data,
        Some(_) => return Err(Error::invalid_params("must be object").into()),
        None => return Err(Error::invalid_params("must have required property 'data'").into()),
    };
    if let Value::Object(map) = &body {
        additional(map, BODY_KEYS)?;
    }
    additional(data, DATA_KEYS)?;
    let custom_fields = match body.get("customFields") {
        None | Some(Value::Null) => None,
        Some(fields @ Value::Object(_)) => Some(fields.clone()),
        Some(_) => return Err(Error::invalid_params("must be object").into()),
    };
    let data = Value::Object(data.clone());
    let current_password = opt_str(&data, "currentPassword")?;
    let changes = OwnProfileChanges {
        email: opt_str(&data, "email")?,
        name: opt_str(&data, "name")?,
        username: opt_str(&data, "username")?,
        nickname: opt_str(&data, "nickname")?,
        bio: opt_str(&data, "bio")?,
        status_text: opt_str(&data, "statusText")?,
        status_type: opt_str(&data, "statusType")?,
        new_password: opt_str(&data, "newPassword")?,
        custom_fields,
    };
    let accounts = app.service.accounts();
    let given = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
    if given(&changes.email) || given(&changes.new_password) {
        // The current password is the code; without it, the 2FA headers, as upstream.
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let (code, method) = match current_password.as_deref().filter(|p| !p.is_empty()) {
            Some(code) => (Some(code), Some("password")),
            None if header("x-2fa-method").is_some() => {
                (header("x-2fa-code"), header("x-2fa-method"))
            }
            None => (None, None),
        };
        accounts
            .require_second_factor(&session, code, method, &client)
            .await?;
    }
    let user = accounts.update_own_basic_info(&session, changes).await?;
    ok(json!({"user": user_json(&user)}))
}

/// `POST /api/v1/users.delete`.
pub async fn delete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let target = user_ref(&body)?;
    let confirm = opt_bool(&body, "confirmRelinquish")?.unwrap_or(false);
    app.service
        .accounts()
        .delete_user(&session, &target, confirm)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/users.setActiveStatus`.
pub async fn set_active_status(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let user_id = req_str(&body, "userId")?;
    let active = req_bool(&body, "activeStatus")?;
    let confirm = opt_bool(&body, "confirmRelinquish")?.unwrap_or(false);
    let user = app
        .service
        .accounts()
        .set_active_status(&session, &user_id, active, confirm)
        .await?;
    ok(json!({"user": {"_id": user.id, "active": user.active}}))
}

/// `GET /api/v1/users.getPresence`: oneself without parameters.
pub async fn get_presence(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let target = user_ref(&query).ok();
    let presence = app
        .service
        .accounts()
        .presence(&session, target.as_ref())
        .await?;
    let mut body = json!({"presence": presence.presence.as_str()});
    if let (Some((connection, last_login)), Value::Object(map)) = (presence.own, &mut body) {
        map.insert("connectionStatus".into(), json!(connection.as_str()));
        if let Some(at) = last_login {
            map.insert("lastLogin".into(), json!(iso(at)));
        }
    }
    ok(body)
}

/// `GET /api/v1/pw.getPolicy`: `{enabled, policy: [[name, {limit}?], ...]}` as upstream.
pub async fn password_policy(State(app): State<AppState>, Caller(_session): Caller) -> ApiResult {
    use comet_service::accounts::PasswordRule;
    let policy = app.service.accounts().password_policy();
    let rules: Vec<Value> = policy
        .rules
        .iter()
        .map(|rule| match *rule {
            PasswordRule::MinLength(n) => {
                json!(["get-password-policy-minLength", {"minLength": n}])
            }
            PasswordRule::MaxLength(n) => {
                json!(["get-password-policy-maxLength", {"maxLength": n}])
            }
            PasswordRule::ForbidRepeatingCharacters => {
                json!(["get-password-policy-forbidRepeatingCharacters"])
            }
            PasswordRule::ForbidRepeatingCharactersCount(n) => json!([
                "get-password-policy-forbidRepeatingCharactersCount",
                {"forbidRepeatingCharactersCount": n}
            ]),
            PasswordRule::Lowercase => {
                json!(["get-password-policy-mustContainAtLeastOneLowercase"])
            }
            PasswordRule::Uppercase => {
                json!(["get-password-policy-mustContainAtLeastOneUppercase"])
            }
            PasswordRule::Number => json!(["get-password-policy-mustContainAtLeastOneNumber"]),
            PasswordRule::Special => {
                json!(["get-password-policy-mustContainAtLeastOneSpecialCharacter"])
            }
        })
        .collect();
    ok(json!({"enabled": policy.enabled, "policy": rules}))
}

/// `GET /api/v1/users.getStatus`: `{_id, status}`, and for oneself also `connectionStatus`.
pub async fn get_status(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let target = user_ref(&query).ok();
    let presence = app
        .service
        .accounts()
        .presence(&session, target.as_ref())
        .await?;
    let mut body = json!({"_id": presence.user_id, "status": presence.presence.as_str()});
    if let (Some((connection, _)), Value::Object(map)) = (presence.own, &mut body) {
        map.insert("connectionStatus".into(), json!(connection.as_str()));
    }
    ok(body)
}

/// `POST /api/v1/users.setStatus`.
pub async fn set_status(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    // Upstream's `check(body, Match.OneOf({status?, message}, {status, message?}))`: a
    // string `status` or a string `message`, the other one a string or absent.
    let field = |key: &str| body.get(key).filter(|v| !v.is_null());
    let text_or_absent = |key: &str| field(key).is_none_or(Value::is_string);
    let text = |key: &str| field(key).is_some_and(Value::is_string);
    let fits = (text_or_absent("status") && text("message"))
        || (text("status") && text_or_absent("message"));
    if !fits {
        return Err(Error::failure(
            "Match error: Failed Match.OneOf, Match.Maybe or Match.Optional validation",
        )
        .into());
    }
    let status = opt_str(&body, "status")?;
    let message = opt_str(&body, "message")?;
    let target = user_ref(&body).ok();
    app.service
        .accounts()
        .set_status(
            &session,
            target.as_ref(),
            status.as_deref(),
            message.as_deref(),
        )
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/users.createToken`: only when the operator enabled it.
pub async fn create_token(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let target = match user_ref(&body) {
        Ok(r) => app.service.accounts().require_user(&r).await?,
        Err(_) => session.user.clone(),
    };
    let secret = opt_str(&body, "secret")?;
    let (user_id, token) = app
        .service
        .accounts()
        .create_token_for(&session, &target, secret.as_deref())
        .await?;
    ok(json!({"data": {"userId": user_id, "authToken": token}}))
}

fn token_name(body: &Value) -> Result<String, Error> {
    opt_str(body, "tokenName")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| Error::failure("The 'tokenName' param is required"))
}

/// `POST /api/v1/users.generatePersonalAccessToken` (second factor required).
pub async fn generate_personal_access_token(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    let name = token_name(&body)?;
    let bypass = opt_bool(&body, "bypassTwoFactor")?.unwrap_or(false);
    two_factor(&app, &session, &headers, &client).await?;
    let token = app
        .service
        .accounts()
        .generate_personal_access_token(&session, &name, bypass)
        .await?;
    ok(json!({"token": token}))
}

/// `POST /api/v1/users.regeneratePersonalAccessToken` (second factor required).
pub async fn regenerate_personal_access_token(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    let name = token_name(&body)?;
    two_factor(&app, &session, &headers, &client).await?;
    let token = app
        .service
        .accounts()
        .regenerate_personal_access_token(&session, &name)
        .await?;
    ok(json!({"token": token}))
}

/// `GET /api/v1/users.getPersonalAccessTokens`.
pub async fn get_personal_access_tokens(
    State(app): State<AppState>,
    Caller(session): Caller,
) -> ApiResult {
    let tokens = app
        .service
        .accounts()
        .personal_access_tokens(&session)
        .await?;
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "name": t.name,
                "createdAt": iso(t.created_at),
                "lastTokenPart": t.last_token_part,
                "bypassTwoFactor": t.bypass_two_factor,
            })
        })
        .collect();
    ok(json!({"tokens": tokens}))
}

/// `POST /api/v1/users.removePersonalAccessToken` (second factor required).
pub async fn remove_personal_access_token(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
    Params(body): Params,
) -> ApiResult {
    let name = token_name(&body)?;
    two_factor(&app, &session, &headers, &client).await?;
    app.service
        .accounts()
        .remove_personal_access_token(&session, &name)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/users.setPreferences`: `{userId?, data: {...}}`.
pub async fn set_preferences(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(Value::Object(data)) = body.get("data") else {
        return Err(Error::invalid_params("must have required property 'data'").into());
    };
    let target = opt_str(&body, "userId")?;
    let accounts = app.service.accounts();
    let user = accounts
        .set_preferences(&session, target.as_deref(), data)
        .await?;
    let preferences = accounts.saved_preferences(&user);
    ok(json!({"user": {"_id": user.id, "settings": {"preferences": preferences}}}))
}

/// `GET /api/v1/users.getPreferences`: the caller's saved preferences and language.
pub async fn get_preferences(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let preferences = app.service.accounts().saved_preferences(&session.user);
    ok(json!({"preferences": preferences}))
}

/// `POST /api/v1/users.removeOtherTokens`: ends the caller's other logins.
pub async fn remove_other_tokens(
    State(app): State<AppState>,
    Caller(session): Caller,
) -> ApiResult {
    app.service.accounts().remove_other_tokens(&session).await?;
    ok(Value::Null)
}

/// `POST /api/v1/users.logoutOtherClients`: ends the caller's other logins and answers this
/// one's token and expiry.
pub async fn logout_other_clients(
    State(app): State<AppState>,
    Caller(session): Caller,
    headers: HeaderMap,
) -> ApiResult {
    let Some(token) = headers
        .get("x-auth-token")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
    else {
        return Err(Error::meteor("error-parameter-required", "x-auth-token is required").into());
    };
    let expires = app.service.accounts().remove_other_tokens(&session).await?;
    ok(json!({"token": token, "tokenExpires": iso(expires)}))
}

/// `POST /api/v1/users.logout`: `{userId?}`; another user's needs `logout-other-user`.
pub async fn logout(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let target = opt_str(&body, "userId")?;
    let user_id = app
        .service
        .accounts()
        .logout_user(&session, target.as_deref())
        .await?;
    ok(json!({"message": format!("User {user_id} has been logged out!")}))
}

/// `GET /api/v1/users.checkUsernameAvailability?username=`.
pub async fn check_username_availability(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let username = req_str(&query, "username")?;
    let result = app
        .service
        .accounts()
        .check_username_availability(&session, &username)
        .await?;
    ok(json!({"result": result}))
}

/// `GET /api/v1/users.getUsernameSuggestion`.
pub async fn get_username_suggestion(
    State(app): State<AppState>,
    Caller(session): Caller,
) -> ApiResult {
    let result = app.service.accounts().username_suggestion(&session).await?;
    ok(json!({"result": result}))
}

/// `POST /api/v1/users.deleteOwnAccount`: `{password, confirmRelinquish?}`.
pub async fn delete_own_account(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(password) = opt_str(&body, "password")?.filter(|p| !p.is_empty()) else {
        return Err(Error::failure("Body parameter \"password\" is required.").into());
    };
    let confirm = opt_bool(&body, "confirmRelinquish")?.unwrap_or(false);
    app.service
        .accounts()
        .delete_own_account(&session, &password, confirm)
        .await?;
    ok(Value::Null)
}

/// Refuses parameters outside `allowed`, as upstream's schemas (`additionalProperties: false`).
fn only_known(params: &Value, allowed: &[&str]) -> Result<(), Error> {
    if let Value::Object(fields) = params
        && fields.keys().any(|k| !allowed.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

/// A user as `users.presence` and `users.autocomplete` project them: the given fields, each
/// only when the user has it, and the avatar's `avatarETag`.
async fn user_summary(
    app: &AppState,
    user: &comet_core::user::User,
    fields: &[&str],
) -> Result<Value, Error> {
    let mut doc = serde_json::Map::new();
    doc.insert("_id".into(), json!(user.id));
    for field in fields {
        let value = match *field {
            "username" => json!(user.username),
            "name" => json!(user.name),
            "status" => json!(user.status.as_str()),
            "utcOffset" => comet_protocol::rest::utc_offset(user.utc_offset),
            "statusText" if !user.status_text.is_empty() => json!(user.status_text),
            "nickname" => match &user.nickname {
                Some(nickname) => json!(nickname),
                None => continue,
            },
            _ => continue,
        };
        doc.insert((*field).into(), value);
    }
    if let Some(etag) = super::avatars::user_etag(app, &user.id).await? {
        doc.insert("avatarETag".into(), json!(etag));
    }
    Ok(Value::Object(doc))
}

/// `GET /api/v1/users.presence`: `{users, full}`; `from` (a date) asks only for what changed
/// since then, `ids` (a list, or one string with commas) for those users only.
pub async fn presence(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    use comet_service::people::PresenceQuery;
    only_known(&query, &["from", "ids"])?;
    let presence_query = PresenceQuery {
        from: opt_str(&query, "from")?
            .as_deref()
            .and_then(crate::params::parse_js_date),
        ids: opt_str_list(&query, "ids")?,
    };
    let (users, full) = app
        .service
        .accounts()
        .presence_list(&session, &presence_query)
        .await?;
    let mut docs = Vec::with_capacity(users.len());
    for user in &users {
        docs.push(
            user_summary(
                &app,
                user,
                &["username", "name", "status", "utcOffset", "statusText"],
            )
            .await?,
        );
    }
    ok(json!({"users": docs, "full": full}))
}

/// `GET /api/v1/users.autocomplete?selector={"term", "exceptions", "conditions"}`: `{items}`.
pub async fn autocomplete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    use comet_service::people::AutocompleteSelector;
    let Some(raw) = query.get("selector") else {
        return Err(Error::invalid_params("must have required property 'selector'").into());
    };
    let Some(raw) = raw.as_str() else {
        return Err(Error::invalid_params("must be string").into());
    };
    only_known(&query, &["selector"])?;
    let selector: Value =
        serde_json::from_str(raw).map_err(|e| Error::failure(format!("Invalid selector: {e}")))?;
    let exceptions = match selector.get("exceptions") {
        Some(Value::Array(names)) => names
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    let selector = AutocompleteSelector {
        term: selector
            .get("term")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        exceptions,
        conditions: selector.get("conditions").filter(|c| !c.is_null()).cloned(),
    };
    let users = app
        .service
        .accounts()
        .autocomplete(&session, &selector)
        .await?;
    let mut items = Vec::with_capacity(users.len());
    for user in &users {
        items.push(user_summary(&app, user, &["name", "username", "nickname", "status"]).await?);
    }
    ok(json!({"items": items}))
}

/// `POST /api/v1/users.deactivateIdle` (`edit-other-user-active-status`): `{daysIdle,
/// role = "user"}`, answers `{count}` of the users deactivated.
pub async fn deactivate_idle(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let days_idle = match body.get("daysIdle") {
        None => {
            return Err(Error::invalid_params("must have required property 'daysIdle'").into());
        }
        Some(Value::Number(n)) => n.as_f64().unwrap_or(0.0),
        Some(_) => return Err(Error::invalid_params("must be number").into()),
    };
    only_known(&body, &["daysIdle", "role"])?;
    let role = match body.get("role") {
        None => "user".to_owned(),
        Some(Value::String(role)) => role.clone(),
        Some(_) => return Err(Error::invalid_params("must be string").into()),
    };
    let count = app
        .service
        .accounts()
        .deactivate_idle(&session, days_idle, &role)
        .await?;
    ok(json!({"count": count}))
}

/// `GET /api/v1/users.requestDataDownload?fullExport=`: `{requested, exportOperation}`. A new
/// export is answered `pending` and built in the background; once `completed`, its zip is
/// downloadable by the caller at the path `generatedFile` names.
pub async fn request_data_download(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    only_known(&query, &["fullExport"])?;
    let full_export = match query.get("fullExport") {
        None | Some(Value::Null) => false,
        Some(Value::String(flag)) => flag == "true",
        Some(Value::Bool(flag)) => *flag,
        Some(_) => return Err(Error::invalid_params("must be string").into()),
    };
    let download = app
        .service
        .request_data_download(&session, full_export)
        .await?;
    let op = &download.operation;
    let mut operation = json!({
        "_id": op.id,
        "userId": op.user_id,
        "status": if op.completed { "completed" } else { "pending" },
        "fullExport": op.full_export,
        "fileList": [],
        "createdAt": iso(op.created_at),
        "_updatedAt": iso(op.updated_at),
    });
    if op.completed {
        operation["fileId"] = json!(op.file.id);
        operation["generatedFile"] = json!(comet_service::files::file_url(&op.file));
    }
    ok(json!({
        "requested": download.requested,
        "exportOperation": operation,
    }))
}

/// `POST /api/v1/users.forgotPassword`: mails a reset link to the account with `email`, if
/// any; answers success either way, as upstream.
pub async fn forgot_password(State(app): State<AppState>, Params(body): Params) -> ApiResult {
    let email = opt_str(&body, "email")?;
    app.service
        .accounts()
        .forgot_password(email.as_deref())
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/users.sendConfirmationEmail`: mails a verification link to the account with
/// `email`; a bare failure when no account has it. Open to callers who are not logged in, as
/// upstream since it let unverified users (who cannot log in) ask for the link again.
pub async fn send_confirmation_email(
    State(app): State<AppState>,
    Params(body): Params,
) -> ApiResult {
    let email = req_str(&body, "email")?;
    if app
        .service
        .accounts()
        .send_confirmation_email(&email)
        .await?
    {
        ok(json!({}))
    } else {
        Err(Error::failure("").into())
    }
}

/// `POST /api/v1/users.2fa.enableEmail`: turns on codes by email; the caller's other sessions
/// end, as upstream.
pub async fn enable_email_two_factor(
    State(app): State<AppState>,
    Caller(session): Caller,
) -> ApiResult {
    app.service
        .accounts()
        .enable_email_two_factor(&session)
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/users.2fa.disableEmail` (second factor required).
pub async fn disable_email_two_factor(
    State(app): State<AppState>,
    Caller(session): Caller,
    Client(client): Client,
    headers: HeaderMap,
) -> ApiResult {
    two_factor(&app, &session, &headers, &client).await?;
    app.service
        .accounts()
        .disable_email_two_factor(&session)
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/users.2fa.sendEmailCode` `{emailOrUsername}`: no authentication; success
/// whether or not an account matches.
pub async fn send_email_two_factor_code(
    State(app): State<AppState>,
    crate::extract::MaybeCaller(session): crate::extract::MaybeCaller,
    Params(body): Params,
) -> ApiResult {
    let email_or_username = opt_str(&body, "emailOrUsername")?.unwrap_or_default();
    app.service
        .accounts()
        .send_email_code_on_request(session.as_ref().map(|s| &s.user), &email_or_username)
        .await?;
    ok(json!({}))
}
