//! Invite links: `findOrCreateInvite`, `listInvites`, `removeInvite/:_id`,
//! `validateInviteToken`, `useInviteToken` (upstream's `v1/invites.ts`).

use crate::AppState;
use crate::envelope::{ApiResult, json_response, ok};
use crate::extract::{Caller, Params};
use crate::params::req_str;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use comet_core::Error;
use comet_protocol::iso;
use comet_service::invites::Invite;
use serde_json::{Map, Value, json};

/// An invite as upstream stores it, without a token (`listInvites`).
fn invite_json(invite: &Invite) -> Map<String, Value> {
    let doc = json!({
        "_id": invite.id,
        "rid": invite.room_id,
        "userId": invite.user_id,
        "createdAt": iso(invite.created_at),
        "_updatedAt": iso(invite.updated_at),
        "expires": invite.expires.map(iso),
        "days": invite.days,
        "maxUses": invite.max_uses,
        "uses": invite.uses,
    });
    match doc {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

/// Upstream's ajv schema for a body of exactly these properties, checked before anything else.
fn only_properties(body: &Value, allowed: &[&str]) -> Result<(), Error> {
    if let Value::Object(fields) = body
        && fields.keys().any(|k| !allowed.contains(&k.as_str()))
    {
        return Err(Error::invalid_params("must NOT have additional properties"));
    }
    Ok(())
}

/// A required integer property (`type: 'integer'`).
fn req_integer(body: &Value, name: &str) -> Result<i64, Error> {
    match body.get(name) {
        None => Err(Error::invalid_params(format!(
            "must have required property '{name}'"
        ))),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.fract() == 0.0 && f.abs() < 9e15)
                    .map(|f| f as i64)
            })
            .ok_or_else(|| Error::invalid_params("must be integer")),
        Some(_) => Err(Error::invalid_params("must be integer")),
    }
}

/// `POST /api/v1/findOrCreateInvite` `{rid, days, maxUses}`.
pub async fn find_or_create(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    for name in ["rid", "days", "maxUses"] {
        if body.get(name).is_none() {
            return Err(
                Error::invalid_params(format!("must have required property '{name}'")).into(),
            );
        }
    }
    only_properties(&body, &["rid", "days", "maxUses"])?;
    let rid = req_str(&body, "rid")?;
    let days = req_integer(&body, "days")?;
    let max_uses = req_integer(&body, "maxUses")?;
    let issued = app
        .service
        .invites()
        .find_or_create(&session, &rid, days, max_uses)
        .await?;
    let mut doc = invite_json(&issued.invite);
    doc.insert("inviteToken".into(), json!(issued.token));
    doc.insert("url".into(), json!(issued.url));
    ok(Value::Object(doc))
}

/// `GET /api/v1/listInvites`: a bare array, as upstream's `success(array)` serialises.
pub async fn list(State(app): State<AppState>, Caller(session): Caller) -> ApiResult {
    let invites = app.service.invites().list(&session).await?;
    let docs: Vec<Value> = invites
        .iter()
        .map(|i| Value::Object(invite_json(i)))
        .collect();
    Ok(json_response(StatusCode::OK, Value::Array(docs)))
}

/// `DELETE /api/v1/removeInvite/:_id`: a bare `true`.
pub async fn remove(
    State(app): State<AppState>,
    Caller(session): Caller,
    Path(invite_id): Path<String>,
) -> ApiResult {
    app.service.invites().remove(&session, &invite_id).await?;
    Ok(json_response(StatusCode::OK, Value::Bool(true)))
}

/// `POST /api/v1/validateInviteToken` `{token}`: no authentication; `{valid}` whatever the
/// token.
pub async fn validate(State(app): State<AppState>, Params(body): Params) -> ApiResult {
    only_properties(&body, &["token"])?;
    let token = req_str(&body, "token")?;
    let valid = app.service.invites().is_valid(&token).await;
    ok(json!({"valid": valid}))
}

/// `POST /api/v1/useInviteToken` `{token}`.
pub async fn use_token(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let token = req_str(&body, "token")?;
    only_properties(&body, &["token"])?;
    let joined = app.service.invites().use_token(&session, &token).await?;
    let room = &joined.room;
    let mut doc = Map::new();
    doc.insert("rid".into(), json!(room.id));
    if let Some(prid) = &room.parent_id {
        doc.insert("prid".into(), json!(prid));
    }
    if let Some(fname) = &room.fname {
        doc.insert("fname".into(), json!(fname));
    }
    if let Some(name) = &room.name {
        doc.insert("name".into(), json!(name));
    }
    doc.insert("t".into(), json!(room.room_type.as_str()));
    ok(json!({"room": doc}))
}

/// `POST /api/v1/sendInvitationEmail` `{emails: [string]}`: `{emails}` queued.
pub async fn send_invitation_email(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let Some(emails) = body.get("emails") else {
        return Err(Error::invalid_params("must have required property 'emails'").into());
    };
    let Some(emails) = emails.as_array() else {
        return Err(Error::invalid_params("must be array").into());
    };
    let emails: Vec<String> = emails
        .iter()
        .map(|e| e.as_str().map(str::to_owned))
        .collect::<Option<_>>()
        .ok_or_else(|| Error::invalid_params("must be string"))?;
    let sent = app
        .service
        .invites()
        .send_invitation_emails(&session, &emails)
        .await?;
    ok(json!({"emails": sent}))
}
