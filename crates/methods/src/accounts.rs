//! Accounts, presence, avatars, settings and permissions.

use crate::{Handler, MethodContext, Outcome, date, param, session, str_param, value};
use comet_core::Result;
use comet_core::user::Presence;
use comet_protocol::{chat, ejson};
use comet_service::Service;
use comet_service::auth::parse_meteor_login;
use comet_service::settings::SettingsQuery;
use serde_json::{Value, json};

/// The methods of this area, by name.
pub(crate) const METHODS: &[(&str, Handler)] = &[
    ("login", |s, p, c| Box::pin(login(s, p, c))),
    ("logout", |s, _, c| Box::pin(logout(s, c))),
    ("public-settings/get", |s, _, _| {
        Box::pin(public_settings(s))
    }),
    ("permissions/get", |s, _, c| Box::pin(permissions(s, c))),
    ("saveUserPreferences", |s, p, c| {
        Box::pin(save_user_preferences(s, p, c))
    }),
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
];

async fn login(service: &Service, params: Vec<Value>, ctx: MethodContext<'_>) -> Result<Outcome> {
    let arg = params.first().cloned().unwrap_or(Value::Null);
    let request = parse_meteor_login(&arg)?;
    let result = service.accounts().login(request, ctx.client).await?;
    let answer = json!({
        "id": result.user.id,
        "token": result.token,
        "tokenExpires": date(result.token_expires),
        "type": result.login_type,
    });
    Ok(Outcome::LoggedIn(Box::new(result), answer))
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

/// `getUserRoles()`: users holding global roles other than `user`.
async fn get_user_roles(service: &Service, ctx: MethodContext<'_>) -> Result<Outcome> {
    let session = session(&ctx)?;
    let mut users: Vec<Value> = Vec::new();
    for role in service.permissions().roles().await? {
        if role.id == "user" || role.scope != comet_core::catalog::SCOPE_USERS {
            continue;
        }
        let filter = comet_core::page::UserFilter {
            role: Some(role.id.clone()),
            ..comet_core::page::UserFilter::default()
        };
        let page = comet_core::page::Page {
            offset: 0,
            count: Some(1000),
            sort: Vec::new(),
        };
        for listed in service
            .accounts()
            .list_users(session, &filter, &page)
            .await?
            .0
        {
            let user = listed.user;
            if !users.iter().any(|u| u["_id"] == json!(user.id)) {
                let roles: Vec<&String> = user.roles.iter().filter(|r| *r != "user").collect();
                users.push(json!({"_id": user.id, "username": user.username, "roles": roles}));
            }
        }
    }
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
                "_updatedAt": date(s.updated_at),
            });
            if let Value::Object(map) = &mut doc {
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

/// `saveUserPreferences(settings)`: merges preferences into the caller's own, as
/// `users.setPreferences` does; answers `true`.
async fn save_user_preferences(
    service: &Service,
    params: Vec<Value>,
    ctx: MethodContext<'_>,
) -> Result<Outcome> {
    let session = session(&ctx)?;
    let Some(Value::Object(settings)) = param(&params, 0) else {
        return Err(crate::match_failed());
    };
    service
        .accounts()
        .set_preferences(session, None, settings)
        .await?;
    value(Value::Bool(true))
}
