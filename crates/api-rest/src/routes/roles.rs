use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{opt_bool, opt_str, pagination, parse_js_date, req_str, user_ref};
use axum::extract::State;
use comet_core::Error;
use comet_protocol::rest;
use comet_service::roles::{NewRole, RoleRef};
use serde_json::{Value, json};

/// `GET /api/v1/permissions.listAll`: all permissions, or those changed since `updatedSince`.
pub async fn permissions_list_all(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(query): Params,
) -> ApiResult {
    let since = match opt_str(&query, "updatedSince")? {
        None => None,
        Some(raw) => Some(parse_js_date(&raw).ok_or_else(|| {
            Error::meteor(
                "error-roomId-param-invalid",
                "The \"updatedSince\" query parameter must be a valid date.",
            )
        })?),
    };
    let update: Vec<Value> = app
        .service
        .permissions()
        .permissions(since)
        .iter()
        .map(rest::permission)
        .collect();
    ok(json!({"update": update, "remove": []}))
}

/// `POST /api/v1/permissions.update`.
pub async fn permissions_update(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let items = match body.get("permissions") {
        Some(Value::Array(items)) => items,
        Some(_) => return Err(Error::invalid_params("must be array").into()),
        None => {
            return Err(Error::invalid_params("must have required property 'permissions'").into());
        }
    };
    let mut changes = Vec::with_capacity(items.len());
    for item in items {
        let id = req_str(item, "_id")?;
        let Some(Value::Array(roles)) = item.get("roles") else {
            return Err(Error::invalid_params("must have required property 'roles'").into());
        };
        let roles = roles
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| Error::invalid_params("must be string"))?;
        changes.push((id, roles));
    }
    let permissions = app
        .service
        .permissions()
        .update_permissions(&session, &changes)
        .await?;
    let permissions: Vec<Value> = permissions.iter().map(rest::permission).collect();
    ok(json!({"permissions": permissions}))
}

/// `POST /api/v1/permissions.addRole` and `permissions.removeRole`: one role granted to, or
/// taken from, one permission.
async fn permission_role(
    app: &AppState,
    session: &comet_service::Session,
    body: &Value,
    granted: bool,
) -> ApiResult {
    let permission = req_str(body, "permissionId")?;
    let role = req_str(body, "role")?;
    app.service
        .permissions()
        .set_permission_role(session, &permission, &role, granted)
        .await?;
    ok(Value::Null)
}

/// `POST /api/v1/permissions.addRole`.
pub async fn permissions_add_role(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    permission_role(&app, &session, &body, true).await
}

/// `POST /api/v1/permissions.removeRole`.
pub async fn permissions_remove_role(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    permission_role(&app, &session, &body, false).await
}

/// `GET /api/v1/roles.getUsersInPublicRoles`: `{_id, username, roles}` of each holder of a
/// public role.
pub async fn get_users_in_public_roles(
    State(app): State<AppState>,
    Caller(_session): Caller,
) -> ApiResult {
    let users: Vec<Value> = app
        .service
        .permissions()
        .users_in_public_roles()
        .await?
        .iter()
        .map(|u| json!({"_id": u.id, "username": u.username, "roles": u.roles}))
        .collect();
    ok(json!({"users": users}))
}

/// `GET /api/v1/roles.sync`: the roles changed after `updatedSince` (nothing without it, as
/// upstream). Roles are deleted outright, so `remove` stays empty.
pub async fn sync(
    State(app): State<AppState>,
    Caller(_session): Caller,
    Params(query): Params,
) -> ApiResult {
    let Some(raw) = opt_str(&query, "updatedSince")? else {
        return ok(json!({"roles": {"update": [], "remove": []}}));
    };
    let since = parse_js_date(&raw)
        .ok_or_else(|| Error::invalid_params("must match format \"date-time\""))?;
    let update: Vec<Value> = app
        .service
        .permissions()
        .roles()
        .await?
        .iter()
        .filter(|r| r.updated_at > since)
        .map(rest::role)
        .collect();
    ok(json!({"roles": {"update": update, "remove": []}}))
}

/// `GET /api/v1/roles.list`.
pub async fn list(State(app): State<AppState>, Caller(_session): Caller) -> ApiResult {
    let roles: Vec<Value> = app
        .service
        .permissions()
        .roles()
        .await?
        .iter()
        .map(rest::role)
        .collect();
    ok(json!({"roles": roles}))
}

/// `POST /api/v1/roles.create`.
pub async fn create(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let role = app
        .service
        .permissions()
        .create_role(
            &session,
            NewRole {
                name: req_str(&body, "name")?,
                scope: opt_str(&body, "scope")?,
                description: opt_str(&body, "description")?,
                mandatory_2fa: opt_bool(&body, "mandatory2fa")?.unwrap_or(false),
            },
        )
        .await?;
    ok(json!({"role": rest::role(&role)}))
}

/// `POST /api/v1/roles.update`.
pub async fn update(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let role_id = req_str(&body, "roleId")?;
    let role = app
        .service
        .permissions()
        .update_role(
            &session,
            &role_id,
            NewRole {
                name: req_str(&body, "name")?,
                scope: opt_str(&body, "scope")?,
                description: opt_str(&body, "description")?,
                mandatory_2fa: opt_bool(&body, "mandatory2fa")?.unwrap_or(false),
            },
        )
        .await?;
    ok(json!({"role": rest::role(&role)}))
}

/// `POST /api/v1/roles.delete`.
pub async fn delete(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let role = req_str(&body, "roleId")?;
    app.service
        .permissions()
        .delete_role(&session, &role)
        .await?;
    ok(Value::Null)
}

fn role_ref(body: &Value) -> Result<Option<RoleRef>, Error> {
    if let Some(id) = opt_str(body, "roleId")?.filter(|s| !s.is_empty()) {
        return Ok(Some(RoleRef::Id(id)));
    }
    Ok(opt_str(body, "roleName")?
        .filter(|s| !s.is_empty())
        .map(RoleRef::Name))
}

/// `POST /api/v1/roles.addUserToRole`.
pub async fn add_user_to_role(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(role) = role_ref(&body)? else {
        return Err(Error::failure("error-invalid-role-properties").into());
    };
    let user = app
        .service
        .accounts()
        .require_user(&user_ref(&body)?)
        .await?;
    let room_id = opt_str(&body, "roomId")?;
    let role = app
        .service
        .permissions()
        .add_user_to_role(&session, &role, &user, room_id.as_deref())
        .await?;
    ok(json!({"role": rest::role(&role)}))
}

/// `POST /api/v1/roles.removeUserFromRole`.
pub async fn remove_user_from_role(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(role) = role_ref(&body)? else {
        return Err(Error::invalid_params("must have required property 'roleId'").into());
    };
    let username = req_str(&body, "username")?;
    let role = app
        .service
        .permissions()
        .remove_user_from_role(&session, &role, &username)
        .await?;
    ok(json!({"role": rest::role(&role)}))
}

/// `GET /api/v1/roles.getUsersInRole`.
pub async fn get_users_in_role(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let role = opt_str(&query, "role")?.unwrap_or_default();
    let room_id = opt_str(&query, "roomId")?;
    let (offset, count) = pagination(&app, &query)?;
    let (users, total) = app
        .service
        .permissions()
        .users_in_role(&session, &role, room_id.as_deref(), offset, count)
        .await?;
    let users: Vec<Value> = users.iter().map(rest::user_in_role).collect();
    ok(json!({"users": users, "total": total}))
}
