//! Accounts, presence, avatars, settings and permissions.

use crate::{Handler, MethodContext, Outcome, date, param, session, str_param, value};
use comet_core::error::ErrorKind;
use comet_core::user::Presence;
use comet_core::{Error, Result};
use comet_protocol::{chat, ejson};
use comet_service::Service;
use comet_service::accounts::UserRef;
use comet_service::auth::parse_meteor_login;
use comet_service::roles::RoleRef;
use comet_service::settings::SettingsQuery;
use serde_json::{Value, json};

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("login", |s, p, c| Box::pin(login(s, p, c))),
    ("verifyEmail", |s, p, c| Box::pin(verify_email(s, p, c))),
    ("resetPassword", |s, p, c| Box::pin(reset_password(s, p, c))),
    ("logout", |s, _, c| Box::pin(logout(s, c))),
    ("2fa:enable", |s, _, c| Box::pin(two_factor_enable(s, c))),
    ("2fa:validateTempToken", |s, p, c| {
        Box::pin(two_factor_validate_temp_token(s, p, c))
    }),
    ("2fa:disable", |s, p, c| {
        Box::pin(two_factor_disable(s, p, c))
    }),
    ("2fa:regenerateCodes", |s, p, c| {
        Box::pin(two_factor_regenerate_codes(s, p, c))
    }),
    ("2fa:checkCodesRemaining", |s, _, c| {
        Box::pin(two_factor_codes_remaining(s, c))
    }),
    ("public-settings/get", |s, _, _| {
        Box::pin(public_settings(s))
    }),
    ("permissions/get", |s, _, c| Box::pin(permissions(s, c))),
    ("UserPresence:setDefaultStatus", |s, p, c| {
        Box::pin(set_default_status(s, p, c))
    }),
    ("setUserStatus", |s, p, c| {
        Box::pin(set_user_status(s, p, c))
    }),
    ("setAvatarFromService", |s, p, c| {
        Box::pin(set_avatar_from_service(s, p, c))
    }),
    ("resetAvatar", |s, p, c| Box::pin(reset_avatar(s, p, c))),
    ("getAvatarSuggestion", |_, _, c| {
        Box::pin(get_avatar_suggestion(c))
    }),
    ("UserPresence:online", |_, _, c| {
        Box::pin(connection_presence(c, Presence::Online))
    }),
    ("UserPresence:away", |_, _, c| {
        Box::pin(connection_presence(c, Presence::Away))
    }),
    ("getUserRoles", |s, _, c| Box::pin(get_user_roles(s, c))),
    ("spotlight", |s, p, c| Box::pin(spotlight(s, p, c))),
    ("setUserActiveStatus", |s, p, c| {
        Box::pin(set_user_active_status(s, p, c))
    }),
    ("private-settings/get", |s, p, c| {
        Box::pin(private_settings(s, p, c))
    }),
    ("checkUsernameAvailability", |s, p, c| {
        Box::pin(check_username_availability(s, p, c))
    }),
    ("getUsernameSuggestion", |s, _, c| {
        Box::pin(get_username_suggestion(s, c))
    }),
    ("deleteUserOwnAccount", |s, p, c| {
        Box::pin(delete_user_own_account(s, p, c))
    }),
    ("deleteUser", |s, p, c| Box::pin(delete_user(s, p, c))),
    ("userSetUtcOffset", |s, p, c| {
        Box::pin(user_set_utc_offset(s, p, c))
    }),
    ("saveUserPreferences", |s, p, c| {
        Box::pin(save_user_preferences(s, p, c))
    }),
    ("createToken", |s, p, c| Box::pin(create_token(s, p, c))),
    ("authorization:addUserToRole", |s, p, c| {
        Box::pin(add_user_to_role(s, p, c))
    }),
    ("authorization:removeUserFromRole", |s, p, c| {
        Box::pin(remove_user_from_role(s, p, c))
    }),
    ("setAdminStatus", |s, p, c| {
        Box::pin(set_admin_status(s, p, c))
    }),
    ("authorization:addPermissionToRole", |s, p, c| {
        Box::pin(permission_role(s, p, c, true))
    }),
    ("authorization:removeRoleFromPermission", |s, p, c| {
        Box::pin(permission_role(s, p, c, false))
    }),
    ("authorization:deleteRole", |s, p, c| {
        Box::pin(delete_role(s, p, c))
    }),
    ("registerUser", |s, p, c| Box::pin(register_user(s, p, c))),
    ("checkRegistrationSecretURL", |s, p, _| {
        Box::pin(check_registration_secret_url(s, p))
    }),
];

/// `registerUser({email, pass, name, secretURL?, reason?, username?})` → the new user's id:
/// what `users.register` does, obeying `Accounts_RegistrationForm` alike. Comet accounts
/// always have a username, so one is suggested from the name or the address when the form
/// has none (upstream's client sets it afterwards with `setUsername`).
async fn register_user(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let form = crate::param(&params, 0).ok_or_else(crate::match_failed)?;
    let email = crate::str_field(form, "email")?.trim().to_lowercase();
    let password = crate::str_field(form, "pass")?.to_owned();
    let name = crate::str_field(form, "name")?.to_owned();
    let optional = |key: &str| -> Result<Option<String>> {
        match form.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(crate::match_failed()),
        }
    };
    let secret_url = optional("secretURL")?;
    let reason = optional("reason")?;
    let accounts = service.accounts();
    let username = match optional("username")?.filter(|u| !u.is_empty()) {
        Some(username) => username,
        None => accounts.suggest_username(&name, Some(&email)).await?,
    };
    let registration = comet_service::accounts::Registration {
        username,
        email,
        password,
        name: Some(name),
        secret_url,
        reason,
        custom_fields: None,
    };
    let user = accounts.register(registration, ctx.client).await?;
    value(json!(user.user.id))
}

/// `checkRegistrationSecretURL(hash)` → whether `hash` is `Accounts_RegistrationForm_SecretURL`.
async fn check_registration_secret_url(service: &Service, params: Vec<Value>) -> Result<Outcome> {
    let hash = crate::str_param(&params, 0)?;
    value(json!(service.accounts().registration_secret_matches(&hash)))
}

async fn login(service: &Service, params: Vec<Value>, ctx: MethodContext<'_>) -> Result<Outcome> {
    let arg = params.first().cloned().unwrap_or(Value::Null);
    let request = parse_meteor_login(&arg)?;
    let result = service.accounts().login(request, ctx.client).await?;
    Ok(logged_in(result))
}

/// What Meteor's login methods answer: the user, a new token and its expiry.
fn logged_in(result: comet_service::LoginResult) -> Outcome {
    let answer = json!({
        "id": result.user.id,
        "token": result.token,
        "tokenExpires": date(result.token_expires),
        "type": result.login_type,
    });
    Outcome::LoggedIn(Box::new(result), answer)
}

/// Meteor's `verifyEmail(token)`: the token of a mailed verification link; logs in.
async fn verify_email(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let token = str_param(&params, 0)?;
    let result = service.accounts().verify_email(&token, ctx.client).await?;
    Ok(logged_in(result))
}

/// Meteor's `resetPassword(token, newPassword)`: the token of a mailed reset link and the
/// new password (plain, or `{digest, algorithm}`); logs in.
async fn reset_password(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let token = str_param(&params, 0)?;
    let password =
        comet_service::auth::parse_meteor_password(params.get(1).unwrap_or(&Value::Null))?;
    let result = service
        .accounts()
        .reset_password(&token, password, ctx.client)
        .await?;
    Ok(logged_in(result))
}

/// The caller of a `2fa:*` method, or upstream's bare `not-authorized`.
fn two_factor_caller<'a>(ctx: &MethodContext<'a>) -> Result<&'a comet_service::Session> {
    ctx.session
        .ok_or_else(|| Error::meteor("not-authorized", ""))
}

/// `2fa:enable`: `{secret, url}` of a new TOTP secret waiting for its first code.
async fn two_factor_enable(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    let session = two_factor_caller(&ctx)?;
    let enrolment = service.accounts().enable_totp(session).await?;
    value(json!({"secret": enrolment.secret, "url": enrolment.url}))
}

/// `2fa:validateTempToken(code)`: `{codes}`, the backup codes, once the code matches.
async fn two_factor_validate_temp_token(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = two_factor_caller(&ctx)?;
    let code = str_param(&params, 0)?;
    let codes = service
        .accounts()
        .validate_totp_temp_token(session, &code)
        .await?;
    value(json!({ "codes": codes }))
}

/// `2fa:disable(code)`: true when TOTP was turned off, false for a wrong code.
async fn two_factor_disable(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = two_factor_caller(&ctx)?;
    let code = str_param(&params, 0)?;
    let disabled = service.accounts().disable_totp(session, &code).await?;
    value(json!(disabled))
}

/// `2fa:regenerateCodes(code)`: `{codes}`, or nothing for a wrong code.
async fn two_factor_regenerate_codes(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = two_factor_caller(&ctx)?;
    let code = str_param(&params, 0)?;
    let codes = service
        .accounts()
        .regenerate_totp_codes(session, &code)
        .await?;
    value(codes.map_or(Value::Null, |codes| json!({ "codes": codes })))
}

/// `2fa:checkCodesRemaining`: `{remaining}`.
async fn two_factor_codes_remaining(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    let session = two_factor_caller(&ctx)?;
    let remaining = service.accounts().totp_codes_remaining(session).await?;
    value(json!({ "remaining": remaining }))
}

async fn logout(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    if let Some(session) = ctx.session {
        service.accounts().logout(session).await?;
    }
    Ok(Outcome::LoggedOut)
}

async fn public_settings(service: &Service) -> Result<Outcome> {
    let page = service
        .settings()
        .public_settings(&SettingsQuery::default());
    value(Value::Array(
        page.settings
            .into_iter()
            .map(|s| json!({"_id": s.id, "value": s.value}))
            .collect(),
    ))
}

async fn permissions(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    session(&ctx)?;
    value(Value::Array(
        service
            .permissions()
            .permissions(None)
            .into_iter()
            .map(|p| json!({"_id": p.id, "roles": p.roles, "_updatedAt": date(p.updated_at)}))
            .collect(),
    ))
}

async fn set_default_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let status = str_param(&params, 0)?;
    service
        .accounts()
        .set_status(session, None, Some(&status), None)
        .await?;
    value(Value::Bool(true))
}

async fn set_user_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let status = param(&params, 0).and_then(Value::as_str);
    let text = param(&params, 1).and_then(Value::as_str);
    service
        .accounts()
        .set_status(session, None, status, text)
        .await?;
    value(Value::Null)
}

/// `setAvatarFromService(dataURI, contentType, service, targetUserId?)`: a data URI, or with
/// service `url` an image URL, becomes the user's avatar.
async fn set_avatar_from_service(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let data = param(&params, 0)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let source = param(&params, 2)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let target = param(&params, 3).and_then(Value::as_str);
    service
        .files()
        .set_avatar_from_service(session, data, source, target)
        .await?;
    value(Value::Null)
}

/// `resetAvatar(userId?)`: back to the initials.
async fn reset_avatar(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let target = param(&params, 0).and_then(Value::as_str);
    service.files().reset_avatar_method(session, target).await?;
    value(Value::Null)
}

/// `getAvatarSuggestion`: avatars offered by the user's login services; Comet has no external
/// login services, so there are none.
async fn get_avatar_suggestion(ctx: MethodContext<'_>) -> Result<Outcome> {
    session(&ctx)?;
    value(serde_json::json!({}))
}

/// `UserPresence:online` / `UserPresence:away`: the client reports (in)activity.
async fn connection_presence(ctx: MethodContext<'_>, presence: Presence) -> Result<Outcome> {
    session(&ctx)?;
    Ok(Outcome::ConnectionPresence(presence))
}

/// `getUserRoles()`: what `roles.getUsersInPublicRoles` answers.
async fn get_user_roles(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    session(&ctx)?;
    let users: Vec<Value> = service
        .permissions()
        .users_in_public_roles()
        .await?
        .iter()
        .map(|u| json!({"_id": u.id, "username": u.username, "roles": u.roles}))
        .collect();
    value(Value::Array(users))
}

/// `spotlight(text, usernames, {users, rooms})`.
async fn spotlight(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let text = param(&params, 0)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let found = service.rooms().spotlight(session, text).await?;
    let users: Vec<Value> = found
        .users
        .iter()
        .map(|u| json!({"_id": u.id, "name": u.name, "username": u.username, "status": u.status.as_str()}))
        .collect();
    let rooms: Vec<Value> = found
        .rooms
        .iter()
        .map(|r| ejson(chat::room(r, None)))
        .collect();
    value(json!({"users": users, "rooms": rooms}))
}

/// `setUserActiveStatus(userId, active, confirmRelinquish?)` → `true`.
async fn set_user_active_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let user_id = str_param(&params, 0)?;
    let active = param(&params, 1)
        .and_then(Value::as_bool)
        .ok_or_else(crate::match_failed)?;
    let confirm_relinquish = param(&params, 2).and_then(Value::as_bool).unwrap_or(false);
    let session = ctx.session.ok_or_else(|| {
        comet_core::Error::meteor("error-invalid-user", "Invalid user")
            .with_details(json!({"method": "setUserActiveStatus"}))
    })?;
    service
        .accounts()
        .set_user_active_status(session, &user_id, active, confirm_relinquish)
        .await?;
    value(Value::Bool(true))
}

/// `private-settings/get(updatedSince?)`: every setting document for administrators; with a
/// date, `{update, remove}` (settings are never removed).
async fn private_settings(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let Some(session) = ctx.session else {
        return value(json!([]));
    };
    let since = crate::date_param(&params, 0);
    let docs: Vec<Value> = service
        .settings()
        .private_settings(session, since)
        .iter()
        .map(|s| {
            let mut doc = json!({
                "_id": s.id,
                "value": s.value,
                "packageValue": s.package_value,
                "type": s.setting_type.as_str(),
                "public": s.public,
                "group": s.group,
                // Upstream's label and description keys: the id, and the id with `_Description`.
                "i18nLabel": s.id,
                "i18nDescription": format!("{}_Description", s.id),
                "_updatedAt": date(s.updated_at),
            });
            if let Value::Object(map) = &mut doc {
                if let Some(sorter) = comet_core::catalog::setting_sorter(&s.id) {
                    map.insert("sorter".into(), json!(sorter));
                }
                if s.setting_type == comet_core::setting::SettingType::Password {
                    map.insert("secret".into(), json!(true));
                }
                if let Some(section) = &s.section {
                    map.insert("section".into(), json!(section));
                }
                if !s.choices.is_empty() {
                    let values: Vec<Value> = s
                        .choices
                        .iter()
                        .map(|c| json!({"key": c, "i18nLabel": c}))
                        .collect();
                    map.insert("values".into(), Value::Array(values));
                }
            }
            doc
        })
        .collect();
    match since {
        None => value(Value::Array(docs)),
        Some(_) => value(json!({"update": docs, "remove": []})),
    }
}

/// `checkUsernameAvailability(username)` → whether the caller may take the username: what
/// `users.checkUsernameAvailability` answers.
async fn check_username_availability(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let username = str_param(&params, 0)?;
    // Upstream names `setUsername` in this error.
    let session = crate::session_for(&ctx, "setUsername")?;
    let available = service
        .accounts()
        .check_username_availability(session, &username)
        .await?;
    value(json!(available))
}

/// `getUsernameSuggestion()` → a free username for the caller.
async fn get_username_suggestion(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    let session = crate::session_for(&ctx, "getUsernameSuggestion")?;
    value(json!(
        service.accounts().username_suggestion(session).await?
    ))
}

/// `deleteUserOwnAccount(password, confirmRelinquish?)` → `true`: what
/// `users.deleteOwnAccount` does.
async fn delete_user_own_account(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let password = str_param(&params, 0)?;
    let confirm_relinquish = param(&params, 1).and_then(Value::as_bool).unwrap_or(false);
    let session = crate::session_for(&ctx, "deleteUserOwnAccount")?;
    service
        .accounts()
        .delete_own_account(session, &password, confirm_relinquish)
        .await?;
    value(json!(true))
}

/// `deleteUser(userId, confirmRelinquish?)` → `true`: what `users.delete` does.
async fn delete_user(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let user_id = str_param(&params, 0)?;
    let confirm_relinquish = param(&params, 1).and_then(Value::as_bool).unwrap_or(false);
    let details = || json!({"method": "deleteUser"});
    let not_allowed = || Error::meteor("error-not-allowed", "Not allowed").with_details(details());
    let session = ctx.session.ok_or_else(not_allowed)?;
    service
        .accounts()
        .delete_user(session, &UserRef::Id(user_id), confirm_relinquish)
        .await
        .map_err(|e| match (&e.kind, e.code.as_deref()) {
            (ErrorKind::Forbidden, _) => not_allowed(),
            (_, Some("error-invalid-user")) => {
                Error::meteor("error-invalid-user", "Invalid user to delete")
                    .with_details(details())
            }
            (_, Some("error-cannot-delete-app-user")) => e.with_details(details()),
            _ => e,
        })?;
    value(json!(true))
}

/// `saveUserPreferences(preferences)` → `true`: what `users.setPreferences` does for the
/// caller. Keys that are no preference are ignored, as upstream's pattern ignores them.
async fn save_user_preferences(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let Some(Value::Object(given)) = param(&params, 0) else {
        return Err(crate::match_failed());
    };
    let preferences: serde_json::Map<String, Value> = given
        .iter()
        .filter(|(key, _)| {
            comet_core::user::PREFERENCE_KEYS
                .iter()
                .any(|(known, _)| known == key)
        })
        .map(|(key, v)| (key.clone(), v.clone()))
        .collect();
    let session = crate::session_for(&ctx, "saveUserPreferences")?;
    service
        .accounts()
        .set_preferences(session, None, &preferences)
        .await
        .map_err(|e| {
            // A value of the wrong type fails upstream's pattern check.
            if e.kind == ErrorKind::InvalidParams {
                crate::match_failed()
            } else {
                e
            }
        })?;
    value(json!(true))
}

/// `userSetUtcOffset(hours)`: the caller's offset from UTC (upstream's client sends it after
/// login). Like upstream, a connection without a user gets nothing done and no error; a value
/// that is not a number of hours within the world's zones fails the pattern check.
async fn user_set_utc_offset(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let hours = param(&params, 0)
        .and_then(Value::as_f64)
        .ok_or_else(crate::match_failed)?;
    let Some(session) = ctx.session else {
        return value(Value::Null);
    };
    service
        .accounts()
        .set_utc_offset(session, hours)
        .await
        .map_err(|e| {
            if e.kind == ErrorKind::InvalidParams {
                crate::match_failed()
            } else {
                e
            }
        })?;
    value(Value::Null)
}

/// `createToken(userId)` → `{userId, authToken}`: what `users.createToken` does, when the
/// operator enabled it (the method takes no secret, so a configured secret refuses it).
async fn create_token(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let user_id = str_param(&params, 0)?;
    let session = crate::session_for(&ctx, "createToken")?;
    let target = service
        .accounts()
        .require_user(&UserRef::Id(user_id))
        .await?;
    let (user_id, token) = service
        .accounts()
        .create_token_for(session, &target, None)
        .await?;
    value(json!({"userId": user_id, "authToken": token}))
}

/// The role a method names by id or, as upstream still accepts, by name.
async fn role_named(service: &Service, role: &str, method: &str) -> Result<RoleRef> {
    let roles = service.permissions().roles().await?;
    roles
        .iter()
        .find(|r| r.id == role)
        .or_else(|| roles.iter().find(|r| r.name == role))
        .map(|r| RoleRef::Id(r.id.clone()))
        .ok_or_else(|| {
            Error::meteor("error-invalid-role", "Invalid Role")
                .with_details(json!({ "method": method }))
        })
}

/// The role and username of the `authorization:*UserToRole` methods: non-empty strings.
fn role_arguments(params: &[Value], method: &str) -> Result<(String, String)> {
    let text = |i: usize| {
        param(params, i)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    match (text(0), text(1)) {
        (Some(role), Some(username)) => Ok((role, username)),
        _ => Err(
            Error::meteor("error-invalid-arguments", "Invalid arguments")
                .with_details(json!({ "method": method })),
        ),
    }
}

/// What both `authorization:*UserToRole` methods check first, in upstream's order: the
/// caller may manage permissions (refused with `refusal`, upstream's wording differs between
/// the two), then the arguments, then the role.
async fn role_change<'a>(
    service: &Service,
    params: &[Value],
    ctx: &MethodContext<'a>,
    method: &'static str,
    refusal: &'static str,
) -> Result<(&'a comet_service::Session, RoleRef, String)> {
    let not_allowed = || {
        Error::meteor("error-action-not-allowed", refusal)
            .with_details(json!({"method": method, "action": "Accessing_permissions"}))
    };
    let session = ctx.session.ok_or_else(not_allowed)?;
    if !service.meets(&session.user, comet_service::Permissions::MANAGE) {
        return Err(not_allowed());
    }
    let (role, username) = role_arguments(params, method)?;
    let role = role_named(service, &role, method).await?;
    Ok((session, role, username))
}

/// `authorization:addUserToRole(role, username, scope?)` → `true`: what
/// `roles.addUserToRole` does (global roles).
async fn add_user_to_role(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "authorization:addUserToRole";
    let (session, role, username) = role_change(
        service,
        &params,
        &ctx,
        METHOD,
        "Accessing permissions is not allowed",
    )
    .await?;
    let Some(user) = service
        .accounts()
        .find_user(&UserRef::Username(username))
        .await?
    else {
        return Err(Error::meteor("error-user-not-found", "User not found")
            .with_details(json!({ "method": METHOD })));
    };
    let scope = param(&params, 2).and_then(Value::as_str);
    match service
        .permissions()
        .add_user_to_role(session, &role, &user, scope)
        .await
    {
        // Upstream adds a role its holder already has without complaint.
        Err(e) if e.code.as_deref() == Some("error-user-already-in-role") => {}
        other => {
            other?;
        }
    }
    value(json!(true))
}

/// `authorization:removeUserFromRole(role, username, scope?)` → `true`: what
/// `roles.removeUserFromRole` does.
async fn remove_user_from_role(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "authorization:removeUserFromRole";
    let (session, role, username) = role_change(
        service,
        &params,
        &ctx,
        METHOD,
        "Access permissions is not allowed",
    )
    .await?;
    let result = service
        .permissions()
        .remove_user_from_role(session, &role, &username)
        .await;
    match result.as_ref().map_err(|e| e.code.as_deref()) {
        Ok(_) => {}
        // Upstream removes a role its holder does not have without complaint.
        Err(Some("error-user-not-in-role")) => {}
        Err(Some("error-invalid-user")) => {
            return Err(Error::meteor("error-invalid-user", "Invalid user")
                .with_details(json!({ "method": METHOD })));
        }
        Err(Some("error-admin-required")) => {
            return Err(Error::meteor(
                "error-action-not-allowed",
                "Leaving the app without admins is not allowed",
            )
            .with_details(json!({"method": "removeUserFromRole", "action": "Remove_last_admin"})));
        }
        Err(_) => {
            result?;
        }
    }
    value(json!(true))
}

/// `setAdminStatus(userId, admin?)`: with `admin`, gives the user the `admin` role (upstream
/// takes nothing away here).
async fn set_admin_status(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "setAdminStatus";
    let user_id = str_param(&params, 0)?;
    let admin = match param(&params, 1) {
        None => false,
        Some(v) => v.as_bool().ok_or_else(crate::match_failed)?,
    };
    let session = crate::session_for(&ctx, METHOD)?;
    if !service.has_permission(&session.user, "assign-admin-role") {
        return Err(Error::meteor("error-not-allowed", "Not allowed")
            .with_details(json!({ "method": METHOD })));
    }
    let Some(user) = service.accounts().find_user(&UserRef::Id(user_id)).await? else {
        // Upstream's words for a user it cannot make an administrator.
        return Err(
            Error::meteor("error-not-allowed", "Federated Users cant be admins")
                .with_details(json!({ "method": METHOD })),
        );
    };
    if admin {
        match service
            .permissions()
            .add_user_to_role(session, &RoleRef::Id("admin".to_owned()), &user, None)
            .await
        {
            Err(e) if e.code.as_deref() == Some("error-user-already-in-role") => {}
            other => {
                other?;
            }
        }
    }
    value(Value::Null)
}

/// `authorization:addPermissionToRole(permission, role)` and
/// `authorization:removeRoleFromPermission(permission, role)`: what `permissions.update`
/// does for one permission, with its roles plus or minus one.
async fn permission_role(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
    add: bool,
) -> Result<Outcome> {
    let (method, action, refusal) = if add {
        (
            "authorization:addPermissionToRole",
            "Adding_permission",
            "Adding permission is not allowed",
        )
    } else {
        (
            "authorization:removeRoleFromPermission",
            "Removing_permission",
            "Removing permission is not allowed",
        )
    };
    let permission_id = param(&params, 0)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let role = param(&params, 1)
        .and_then(Value::as_str)
        .unwrap_or_default();
    // Upstream looks the permission up before it checks the caller.
    let Some(permission) = service
        .permissions()
        .permissions(None)
        .into_iter()
        .find(|p| p.id == permission_id)
    else {
        return Err(if add {
            Error::meteor("error-invalid-permission", "Permission does not exist")
                .with_details(json!({"method": method, "action": action}))
        } else {
            Error::meteor("error-permission-not-found", "Permission not found")
                .with_details(json!({ "method": method }))
        });
    };
    let not_allowed = || {
        Error::meteor("error-action-not-allowed", refusal)
            .with_details(json!({"method": method, "action": action}))
    };
    let session = ctx.session.ok_or_else(not_allowed)?;
    if !service.meets(&session.user, comet_service::Permissions::MANAGE) {
        return Err(not_allowed());
    }
    let mut roles = permission.roles.clone();
    if add {
        roles.push(role.to_owned());
    } else {
        roles.retain(|r| r != role);
    }
    service
        .permissions()
        .update_permissions(session, &[(permission.id.clone(), roles)])
        .await?;
    value(Value::Null)
}

/// `authorization:deleteRole(role)` → the deletion's result: what `roles.delete` does.
async fn delete_role(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    const METHOD: &str = "authorization:deleteRole";
    let details = || json!({ "method": METHOD });
    let not_allowed = || {
        Error::meteor(
            "error-action-not-allowed",
            "Accessing permissions is not allowed",
        )
        .with_details(json!({"method": METHOD, "action": "Accessing_permissions"}))
    };
    let session = ctx.session.ok_or_else(not_allowed)?;
    if !service.meets(&session.user, comet_service::Permissions::MANAGE) {
        return Err(not_allowed());
    }
    let role = param(&params, 0)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let RoleRef::Id(role_id) = role_named(service, role, METHOD).await.map_err(|e| {
        // This method's words differ from its siblings' in case only.
        if e.code.as_deref() == Some("error-invalid-role") {
            Error::meteor("error-invalid-role", "Invalid role").with_details(details())
        } else {
            e
        }
    })?
    else {
        return Err(Error::meteor("error-invalid-role", "Invalid role").with_details(details()));
    };
    service
        .permissions()
        .delete_role(session, &role_id)
        .await
        .map_err(|e| match e.code.as_deref() {
            Some("error-role-protected") => Error::meteor(
                "error-delete-protected-role",
                "Cannot delete a protected role",
            )
            .with_details(details()),
            Some("error-role-in-use") => e.with_details(details()),
            _ => e,
        })?;
    value(json!({"acknowledged": true, "deletedCount": 1}))
}
