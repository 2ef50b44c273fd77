//! What several instances sharing one database coordinate through it: which instances are
//! alive, every live connection's presence, leases for jobs only one instance may run, and
//! rate-limit windows counted across instances.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::user::Presence;

/// One live instance, as `instances` lists them.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRecord {
    pub id: String,
    pub last_beat: Timestamp,
    pub connections: u64,
}

#[async_trait]
pub trait ClusterStore: Send + Sync {
    /// Records that an instance is alive at `at`.
    async fn instance_heartbeat(&self, instance_id: &str, at: Timestamp) -> StoreResult<()>;
    /// Forgets instances last heard from before `before`, with their connections; returns the
    /// users who had connections there (their presence needs recomputing), without repeats.
    async fn expire_instances(&self, before: Timestamp) -> StoreResult<Vec<String>>;
    /// Records one live connection's presence (`Online` or `Away`), or its end (`None`).
    async fn set_connection(
        &self,
        instance_id: &str,
        connection_id: &str,
        user_id: &str,
        presence: Option<Presence>,
        at: Timestamp,
    ) -> StoreResult<()>;
    /// What a user's live connections on every instance add up to: online if any is, away if
    /// all are, offline without any. It costs the same however many connections the user
    /// has (each login and logout asks it).
    async fn connections_presence(&self, user_id: &str) -> StoreResult<Presence>;
    /// How many live connections there are, on every instance.
    async fn count_connections(&self) -> StoreResult<u64>;
    /// The instances alive now, each with when it last beat and how many live connections it
    /// holds, by id.
    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>>;
    /// Forgets every connection and instance (a single instance starting: none survive).
    async fn clear_connections(&self) -> StoreResult<()>;
    /// Takes the lease `name` for `holder` until `until` if it is free, expired (before `now`)
    /// or already `holder`'s; returns whether `holder` holds it now.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Counts one call at `now` in the fixed window `key`, which lasts `period_ms` from its
    /// first call (a call after that starts a new window); returns the window's start and its
    /// count including this call. Atomic across instances.
    async fn hit_rate_window(
        &self,
        key: &str,
        now: Timestamp,
        period_ms: i64,
    ) -> StoreResult<(Timestamp, u64)>;
    /// Deletes rate-limit windows that started before `before`.
    async fn purge_rate_windows(&self, before: Timestamp) -> StoreResult<u64>;
}
