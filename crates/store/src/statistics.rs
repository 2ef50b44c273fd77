//! Workspace statistics (upstream's `rocketchat_statistics`): the counts a snapshot is made of,
//! each answered from an index or a row per room rather than a scan of the messages, and the
//! stored snapshots `statistics.list` pages through.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;
use serde_json::Value;

/// What the database counts for one snapshot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkspaceCounts {
    pub total_users: u64,
    /// Active accounts that are not apps (upstream's `getActiveLocalUserCount`).
    pub active_users: u64,
    pub non_active_users: u64,
    /// Accounts by stored status (`online`, `away`, `busy`).
    pub online_users: u64,
    pub away_users: u64,
    pub busy_users: u64,
    pub total_channels: u64,
    pub total_private_groups: u64,
    pub total_direct: u64,
    pub total_discussions: u64,
    /// Messages that head a thread.
    pub total_threads: u64,
    /// Messages by room type, summed from each room's message counter.
    pub total_channel_messages: u64,
    pub total_private_group_messages: u64,
    pub total_direct_messages: u64,
    pub uploads_total: u64,
    pub uploads_total_size: u64,
    /// Bytes the database takes, when the backend can tell.
    pub database_size: Option<u64>,
}

/// One stored snapshot: the statistics document as it was answered.
#[derive(Debug, Clone, PartialEq)]
pub struct StatisticsSnapshot {
    pub id: String,
    pub created_at: Timestamp,
    pub document: Value,
}

#[async_trait]
pub trait StatisticsStore: Send + Sync {
    async fn workspace_counts(&self) -> StoreResult<WorkspaceCounts>;
    async fn insert_statistics(&self, snapshot: &StatisticsSnapshot) -> StoreResult<()>;
    /// The newest snapshot.
    async fn latest_statistics(&self) -> StoreResult<Option<StatisticsSnapshot>>;
    /// Snapshots newest first, a page of them, and how many there are.
    async fn list_statistics(
        &self,
        offset: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<StatisticsSnapshot>, u64)>;
    /// Removes the snapshots made before `before`; how many went.
    async fn prune_statistics(&self, before: Timestamp) -> StoreResult<u64>;
}
