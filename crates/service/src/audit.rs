//! The audit log: every privileged action, appended to a hash chain (`comet_core::audit`).
//!
//! An operation records its entry with [`Audit::record`] right after its change commits and
//! before it answers: the append is awaited, and when it fails the operation fails with an
//! internal error (the change stays; the log line and `comet_audit_append_failures_total`
//! say which entry is missing), so that no success is ever answered without its entry.
//!
//! The client's address and user agent come from the protocol edge, which runs each request
//! inside [`with_client`]; the service never sees HTTP.

use crate::authz::Required;
use crate::{ClientInfo, Service, Session, store_error};
use comet_core::audit::{
    AuditDraft, AuditEntry, ChainVerdict, ChainVerifier, PRUNE_ACTION, canonical_json, redact,
};
use comet_core::room::Room;
use comet_core::user::User;
use comet_core::{Error, Result};
pub use comet_store::AuditFilter;
use comet_store::{AuditStore, StoreResult};
use serde_json::Value;

tokio::task_local! {
    static CLIENT: ClientInfo;
}

/// Runs `work` (one request or method call) with `client` as the caller's network identity,
/// which audit entries record.
pub async fn with_client<F: std::future::Future>(client: ClientInfo, work: F) -> F::Output {
    CLIENT.scope(client, work).await
}

fn current_client() -> ClientInfo {
    CLIENT.try_with(Clone::clone).unwrap_or_default()
}

/// Longest user agent kept in an entry.
const MAX_USER_AGENT: usize = 256;

/// What an action was done to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditTarget {
    pub kind: &'static str,
    pub id: String,
    pub name: Option<String>,
}

impl AuditTarget {
    pub fn new(kind: &'static str, id: impl Into<String>, name: Option<String>) -> AuditTarget {
        AuditTarget {
            kind,
            id: id.into(),
            name,
        }
    }

    pub fn user(user: &User) -> AuditTarget {
        AuditTarget::new("user", &user.id, Some(user.username.clone()))
    }

    pub fn room(room: &Room) -> AuditTarget {
        AuditTarget::new("room", &room.id, room.name.clone())
    }

    pub fn setting(id: &str) -> AuditTarget {
        AuditTarget::new("setting", id, Some(id.to_owned()))
    }

    pub fn permission(id: &str) -> AuditTarget {
        AuditTarget::new("permission", id, Some(id.to_owned()))
    }

    pub fn role(id: &str, name: &str) -> AuditTarget {
        AuditTarget::new("role", id, Some(name.to_owned()))
    }
}

/// Who may read the audit log.
pub const VIEW_AUDIT_LOG: Required = Required::All(&["view-audit-log"]);

/// Entries a page of a walk over the chain holds.
const WALK_PAGE: u32 = 500;

/// Checks the whole chain of `store`, oldest entry first, a page at a time (`comet audit
/// verify`).
pub async fn verify_chain(store: &(impl AuditStore + ?Sized)) -> StoreResult<ChainVerdict> {
    let mut verifier = ChainVerifier::new();
    let mut after = 0;
    loop {
        let page = store.audit_entries_after(after, WALK_PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(verifier.finish());
        };
        after = last.seq;
        for entry in &page {
            if let Err(broken) = verifier.check(entry) {
                return Ok(broken);
            }
        }
    }
}

/// `value` as stored in an entry: secrets redacted, keys in canonical order.
fn snapshot(value: Option<Value>) -> Option<String> {
    value.map(|value| canonical_json(&redact(&value)))
}

impl crate::Audit<'_> {
    /// Appends one entry: `actor` did `action` (dotted: `user.create`, `room.delete`, ...) to
    /// `target`, changing what `before` shows into what `after` shows (only the fields that
    /// changed; secrets are redacted here). The caller's address comes from the request.
    /// Call it after the action committed and return its error: see the module's comment.
    pub async fn record(
        &self,
        actor: &User,
        action: &str,
        target: AuditTarget,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<()> {
        self.append((&actor.id, &actor.username), action, target, before, after)
            .await
    }

    /// [`Audit::record`] for what the server does by itself (start-up, periodic jobs).
    pub async fn record_system(
        &self,
        action: &str,
        target: AuditTarget,
        after: Option<Value>,
    ) -> Result<()> {
        self.append(("system", "system"), action, target, None, after)
            .await
    }

    async fn append(
        &self,
        (actor_id, actor_username): (&str, &str),
        action: &str,
        target: AuditTarget,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<()> {
        let client = current_client();
        let draft = AuditDraft {
            at: comet_core::now(),
            actor_id: actor_id.to_owned(),
            actor_username: actor_username.to_owned(),
            action: action.to_owned(),
            target_kind: target.kind.to_owned(),
            target_id: target.id,
            target_name: target.name,
            client_address: client.ip.map(|ip| ip.to_string()),
            user_agent: client
                .user_agent
                .map(|agent| agent.chars().take(MAX_USER_AGENT).collect()),
            before: snapshot(before),
            after: snapshot(after),
        };
        match self.ctx.store.append_audit(&draft).await {
            Ok(_) => Ok(()),
            Err(e) => {
                comet_metrics::AUDIT_APPEND_FAILURES.inc();
                tracing::error!(
                    error = %e,
                    action,
                    actor = actor_id,
                    target = draft.target_id,
                    "the audit entry of a committed action could not be appended"
                );
                Err(Error::internal(e))
            }
        }
    }

    /// `audit.log`: a page of the entries `filter` selects, newest first, and their total.
    pub async fn list(
        &self,
        session: &Session,
        filter: &AuditFilter,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<AuditEntry>, u64)> {
        self.ctx.authorize(&session.user, VIEW_AUDIT_LOG)?;
        self.ctx
            .store
            .list_audit(filter, offset, count)
            .await
            .map_err(store_error)
    }

    /// `audit.export`: the next entries after `after_seq`, oldest first, for a stream of the
    /// whole log; each page is authorized on its own, so a revoked permission ends the stream.
    pub async fn export_page(
        &self,
        session: &Session,
        after_seq: u64,
        limit: u32,
    ) -> Result<Vec<AuditEntry>> {
        self.ctx.authorize(&session.user, VIEW_AUDIT_LOG)?;
        self.ctx
            .store
            .audit_entries_after(after_seq, limit)
            .await
            .map_err(store_error)
    }

    /// Checks the chain (as `comet audit verify` does).
    pub async fn verify(&self) -> Result<ChainVerdict> {
        verify_chain(self.ctx.store.as_ref())
            .await
            .map_err(store_error)
    }

    /// Removes the entries older than `Audit_Retention_Days` (0 keeps everything), leaving an
    /// entry that anchors the kept chain; run periodically. Returns how many it removed.
    pub async fn apply_retention(&self) -> Result<u64> {
        let days = self.ctx.setting_int("Audit_Retention_Days");
        if days <= 0 {
            return Ok(0);
        }
        let cutoff = comet_core::now() - chrono::Duration::days(days);
        let prune = AuditDraft {
            at: comet_core::now(),
            actor_id: "system".to_owned(),
            actor_username: "system".to_owned(),
            action: PRUNE_ACTION.to_owned(),
            target_kind: "audit_log".to_owned(),
            target_id: "audit_log".to_owned(),
            target_name: None,
            client_address: None,
            user_agent: None,
            before: Some(canonical_json(
                &serde_json::json!({"retentionDays": days, "before": cutoff.to_rfc3339()}),
            )),
            after: None,
        };
        self.ctx
            .store
            .prune_audit(cutoff, &prune)
            .await
            .map_err(store_error)
    }
}

impl Service {
    /// Records `action` by `session`'s user on `target`: the short form most operations use.
    pub(crate) async fn audit_by(
        &self,
        session: &Session,
        action: &str,
        target: AuditTarget,
        before: Option<Value>,
        after: Option<Value>,
    ) -> Result<()> {
        self.audit()
            .record(&session.user, action, target, before, after)
            .await
    }
}

/// A user's fields as audit entries show them (never the password hash or tokens).
pub fn user_fields(user: &User) -> Value {
    serde_json::json!({
        "username": user.username,
        "name": user.name,
        "email": user.email.as_ref().map(|e| &e.address),
        "verified": user.email.as_ref().map(|e| e.verified),
        "active": user.active,
        "roles": user.roles,
        "type": user.user_type.as_str(),
        "requirePasswordChange": user.require_password_change,
        "nickname": user.nickname,
        "bio": user.bio,
        "statusText": user.status_text,
        "customFields": user.custom_fields,
    })
}

/// Of two objects, only the fields that differ: `(before, after)`.
pub fn changed_fields(before: &Value, after: &Value) -> (Value, Value) {
    let (Value::Object(old), Value::Object(new)) = (before, after) else {
        return (before.clone(), after.clone());
    };
    let mut was = serde_json::Map::new();
    let mut now = serde_json::Map::new();
    for (key, value) in old {
        if new.get(key) != Some(value) {
            was.insert(key.clone(), value.clone());
            now.insert(key.clone(), new.get(key).cloned().unwrap_or(Value::Null));
        }
    }
    for (key, value) in new {
        if !old.contains_key(key) {
            now.insert(key.clone(), value.clone());
        }
    }
    (Value::Object(was), Value::Object(now))
}
