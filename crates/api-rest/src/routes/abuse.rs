//! Comet's own abuse-control endpoints (no upstream counterpart): approving new accounts
//! (`users.approve`), purging a user (`users.purge`) and the file blocklist
//! (`files.blocklist.add`, `.remove`, `.list`).

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{opt_str, pagination, req_str};
use axum::extract::State;
use comet_protocol::iso;
use serde_json::json;

/// `POST /api/v1/users.approve` `{userId}`: lifts the limits on a new account.
pub async fn approve(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let user_id = req_str(&body, "userId")?;
    let user = app
        .service
        .accounts()
        .approve_user(&session, &user_id)
        .await?;
    ok(json!({"user": {"_id": user.id, "approved": user.approved}}))
}

/// `POST /api/v1/users.purge` `{userId, confirmRelinquish?}`: deactivates a user and deletes
/// every message and file they sent, in every room.
pub async fn purge(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let user_id = req_str(&body, "userId")?;
    let confirm = crate::params::opt_bool(&body, "confirmRelinquish")?.unwrap_or(false);
    let purged = app
        .service
        .accounts()
        .purge_user(&session, &user_id, confirm)
        .await?;
    ok(json!({
        "user": {"_id": purged.user.id, "active": purged.user.active},
        "rooms": purged.rooms,
        "files": purged.files,
    }))
}

/// `POST /api/v1/files.blocklist.add` `{sha256, reason?}`.
pub async fn block(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let sha256 = req_str(&body, "sha256")?;
    let reason = opt_str(&body, "reason")?;
    let added = app
        .service
        .files()
        .block_hash(&session, &sha256, reason)
        .await?;
    ok(json!({"added": added}))
}

/// `POST /api/v1/files.blocklist.remove` `{sha256}`.
pub async fn unblock(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let sha256 = req_str(&body, "sha256")?;
    let removed = app.service.files().unblock_hash(&session, &sha256).await?;
    ok(json!({"removed": removed}))
}

/// `GET /api/v1/files.blocklist.list` `?offset&count`: newest first.
pub async fn list_blocked(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &query)?;
    let (entries, total) = app
        .service
        .files()
        .blocked_hashes(&session, offset, count)
        .await?;
    let hashes: Vec<_> = entries
        .iter()
        .map(|e| {
            json!({
                "sha256": e.sha256,
                "reason": e.reason,
                "addedBy": e.added_by,
                "addedAt": iso(e.added_at),
            })
        })
        .collect();
    ok(json!({
        "hashes": hashes,
        "count": hashes.len(),
        "offset": offset,
        "total": total,
    }))
}
