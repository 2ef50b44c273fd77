//! Video conferences (see `comet_store::VideoConferenceStore`). A call is kept as one JSON
//! document, with the fields it is looked up by (room, status, kind, creation) as columns.

use crate::driver::SqlRow;
use crate::{Database, Query, SqlStore};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::encoding::millis;
use comet_store::{
    StoreError, StoreResult, VideoConference, VideoConferenceKind, VideoConferenceStore,
    video_conference_status,
};

pub(crate) const VIDEO_CONFERENCE_COLUMNS: &str =
    "id, rid, kind, status, created_at, revision, doc";

fn document(call: &VideoConference) -> StoreResult<serde_json::Value> {
    serde_json::to_value(call).map_err(|error| StoreError::Backend(error.to_string()))
}

/// Records a call as given (also used by the import).
pub(crate) fn insert_video_conference_query(call: &VideoConference) -> StoreResult<Query> {
    Ok(Query::new(format!(
        "INSERT INTO video_conferences ({VIDEO_CONFERENCE_COLUMNS}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)"
    ))
    .bind(&call.id)
    .bind(&call.room_id)
    .bind(call.kind.as_str())
    .bind(call.status)
    .bind(millis(call.created_at))
    .bind(call.revision)
    .bind(document(call)?))
}

pub(crate) fn video_conference_from_row(row: &impl SqlRow) -> StoreResult<VideoConference> {
    let mut call: VideoConference = serde_json::from_value(row.json("doc")?)
        .map_err(|error| StoreError::Backend(format!("video conference document: {error}")))?;
    // The column is what updates compare against; the document's copy may lag it.
    call.revision = row.int("revision")?;
    Ok(call)
}

impl<D: Database> SqlStore<D> {
    async fn video_conference_list(&self, query: Query) -> StoreResult<Vec<VideoConference>> {
        let rows = self.db.read(query).await?;
        rows.iter().map(video_conference_from_row).collect()
    }
}

#[async_trait]
impl<D: Database> VideoConferenceStore for SqlStore<D> {
    async fn insert_video_conference(&self, call: &VideoConference) -> StoreResult<()> {
        self.db.write(insert_video_conference_query(call)?).await?;
        Ok(())
    }

    async fn video_conference(&self, id: &str) -> StoreResult<Option<VideoConference>> {
        let select = Query::new(format!(
            "SELECT {VIDEO_CONFERENCE_COLUMNS} FROM video_conferences WHERE id = $1"
        ))
        .bind(id);
        Ok(self.video_conference_list(select).await?.into_iter().next())
    }

    async fn update_video_conference(&self, call: &VideoConference) -> StoreResult<bool> {
        let mut next = call.clone();
        next.revision = call.revision + 1;
        let update = Query::new(
            "UPDATE video_conferences SET status = $1, revision = $2, doc = $3 \
             WHERE id = $4 AND revision = $5",
        )
        .bind(next.status)
        .bind(next.revision)
        .bind(document(&next)?)
        .bind(&call.id)
        .bind(call.revision);
        Ok(self.db.write(update).await? > 0)
    }

    async fn room_video_conferences(
        &self,
        room_id: &str,
        offset: i64,
        count: i64,
    ) -> StoreResult<(Vec<VideoConference>, i64)> {
        let select = Query::new(format!(
            "SELECT {VIDEO_CONFERENCE_COLUMNS} FROM video_conferences WHERE rid = $1 \
             ORDER BY created_at DESC, id DESC LIMIT $2 OFFSET $3"
        ))
        .bind(room_id)
        .bind(count)
        .bind(offset);
        let calls = self.video_conference_list(select).await?;
        let total =
            Query::new("SELECT COUNT(*) AS n FROM video_conferences WHERE rid = $1").bind(room_id);
        let rows = self.db.read(total).await?;
        let total = match rows.first() {
            Some(row) => row.int("n")?,
            None => 0,
        };
        Ok((calls, total))
    }

    async fn unanswered_direct_calls(
        &self,
        before: Timestamp,
    ) -> StoreResult<Vec<VideoConference>> {
        let select = Query::new(format!(
            "SELECT {VIDEO_CONFERENCE_COLUMNS} FROM video_conferences \
             WHERE kind = $1 AND status = $2 AND created_at < $3 ORDER BY created_at"
        ))
        .bind(VideoConferenceKind::Direct.as_str())
        .bind(video_conference_status::CALLING)
        .bind(millis(before));
        self.video_conference_list(select).await
    }

    async fn open_video_conferences(&self, before: Timestamp) -> StoreResult<Vec<VideoConference>> {
        let select = Query::new(format!(
            "SELECT {VIDEO_CONFERENCE_COLUMNS} FROM video_conferences \
             WHERE status IN ($1, $2) AND created_at < $3 ORDER BY created_at, id"
        ))
        .bind(video_conference_status::CALLING)
        .bind(video_conference_status::STARTED)
        .bind(millis(before));
        self.video_conference_list(select).await
    }
}
