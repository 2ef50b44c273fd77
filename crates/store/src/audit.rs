//! The audit log: an append-only hash chain of privileged actions (see `comet_core::audit`).
//!
//! No method edits or deletes an entry, except pruning the oldest ones, which appends an
//! entry recording where the kept chain starts.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::audit::{AuditDraft, AuditEntry};

/// Which entries a listing selects; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// The actor's id or username (exact).
    pub actor: Option<String>,
    /// The action (exact), or an action family when it ends in `.` (`room.` selects every
    /// `room.*` action).
    pub action: Option<String>,
    /// The target's id or name (exact).
    pub target: Option<String>,
    /// Entries at or after this time.
    pub since: Option<Timestamp>,
    /// Entries before this time.
    pub until: Option<Timestamp>,
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    /// Appends an entry after the newest one, hashing it into the chain. Appends are
    /// serialised (one writer, or a lock held until commit), so the chain never forks.
    async fn append_audit(&self, draft: &AuditDraft) -> StoreResult<AuditEntry>;
    /// A page of the entries `filter` selects, newest first, and how many it selects.
    async fn list_audit(
        &self,
        filter: &AuditFilter,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<AuditEntry>, u64)>;
    /// Up to `limit` entries with sequence numbers above `after_seq`, oldest first: for
    /// walking the whole chain a page at a time (verification, export).
    async fn audit_entries_after(&self, after_seq: u64, limit: u32)
    -> StoreResult<Vec<AuditEntry>>;
    /// Removes the entries older than `before` and, when it removed any, appends `prune` (an
    /// entry of action `comet_core::audit::PRUNE_ACTION`, whose `after` the store fills with
    /// the removed part's last sequence number and hash), in one transaction. Returns how
    /// many entries it removed. The newest entry is never removed, so the chain keeps its
    /// head.
    async fn prune_audit(&self, before: Timestamp, prune: &AuditDraft) -> StoreResult<u64>;
}
