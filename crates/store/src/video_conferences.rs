//! Video conferences (upstream's `IVideoConference`): one call in a room, its status and who
//! joined it.

use crate::StoreResult;
use async_trait::async_trait;
use comet_core::Timestamp;
use serde::{Deserialize, Serialize};

/// `direct` (a DM call that rings the other member) or `videoconference` (a room call).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VideoConferenceKind {
    Direct,
    Videoconference,
}

impl VideoConferenceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            VideoConferenceKind::Direct => "direct",
            VideoConferenceKind::Videoconference => "videoconference",
        }
    }
}

/// Upstream's `VideoConferenceStatus` numbers.
pub mod status {
    pub const CALLING: i64 = 0;
    pub const STARTED: i64 = 1;
    pub const EXPIRED: i64 = 2;
    pub const ENDED: i64 = 3;
    pub const DECLINED: i64 = 4;
}

/// A user as a call records them (`createdBy`, `endedBy`, `users[]`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallUser {
    pub id: String,
    pub username: String,
    pub name: Option<String>,
    pub avatar_etag: Option<String>,
    /// When they joined (for `users[]`); when the call was created or ended otherwise.
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub ts: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VideoConference {
    pub id: String,
    pub kind: VideoConferenceKind,
    pub room_id: String,
    pub status: i64,
    pub users: Vec<CallUser>,
    pub created_by: CallUser,
    #[serde(with = "chrono::serde::ts_milliseconds")]
    pub created_at: Timestamp,
    #[serde(with = "chrono::serde::ts_milliseconds_option")]
    pub ended_at: Option<Timestamp>,
    pub ended_by: Option<CallUser>,
    pub provider_name: String,
    pub url: Option<String>,
    /// The `videoconf` message posted when the call started (room calls).
    pub started_message_id: Option<String>,
    pub ended_message_id: Option<String>,
    pub ringing: bool,
    pub title: Option<String>,
    pub anonymous_users: i64,
    pub discussion_rid: Option<String>,
    /// When the call last changed (`_updatedAt`); calls stored before it was kept have none.
    #[serde(default, with = "chrono::serde::ts_milliseconds_option")]
    pub updated_at: Option<Timestamp>,
    /// Comet's own provider: the ids of the users in the call now (joined and not left), in
    /// the order they came. Empty for other providers.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub present: Vec<String>,
    /// Bumped by every update, so concurrent changes (two people joining at once) never
    /// overwrite each other: an update names the revision it read.
    pub revision: i64,
}

#[async_trait]
pub trait VideoConferenceStore: Send + Sync {
    async fn insert_video_conference(&self, call: &VideoConference) -> StoreResult<()>;
    async fn video_conference(&self, id: &str) -> StoreResult<Option<VideoConference>>;
    /// Stores `call` in place of the stored one if that is still at `call.revision`, and
    /// stores it with the next revision. False, with nothing written, when someone changed it
    /// since (the caller reads again and retries) or it is gone.
    async fn update_video_conference(&self, call: &VideoConference) -> StoreResult<bool>;
    /// A room's calls, newest first, the page `offset..offset+count`, and how many there are.
    async fn room_video_conferences(
        &self,
        room_id: &str,
        offset: i64,
        count: i64,
    ) -> StoreResult<(Vec<VideoConference>, i64)>;
    /// Direct calls still ringing (`calling`) that were created before `before`.
    async fn unanswered_direct_calls(&self, before: Timestamp)
    -> StoreResult<Vec<VideoConference>>;
    /// Calls of any kind still calling or started that were created before `before`, oldest
    /// first (upstream's long-running calls, expired after a day).
    async fn open_video_conferences(&self, before: Timestamp) -> StoreResult<Vec<VideoConference>>;
}
