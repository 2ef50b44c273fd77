//! Workspace statistics (see `comet_store::StatisticsStore`).
//!
//! Every count is answered without reading messages: message totals are the sum of each
//! room's counter, threads are counted through the partial index on thread roots.

use crate::{Database, Query, SqlRow, SqlStore, Transaction, count, counted, limit, offset};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_store::encoding::millis;
use comet_store::{StatisticsSnapshot, StatisticsStore, StoreResult, WorkspaceCounts};

fn snapshot_from_row(row: &impl SqlRow) -> StoreResult<StatisticsSnapshot> {
    Ok(StatisticsSnapshot {
        id: row.text("id")?,
        created_at: row.time("created_at")?,
        document: row.json("document")?,
    })
}

#[async_trait]
impl<D: Database> StatisticsStore for SqlStore<D> {
    async fn workspace_counts(&self) -> StoreResult<WorkspaceCounts> {
        let mut counts = WorkspaceCounts::default();
        let users = Query::new(format!(
            "SELECT COUNT(*) AS total, \
             COALESCE(SUM(CASE WHEN active = {t} AND user_type <> 'app' THEN 1 ELSE 0 END), 0) AS active, \
             COALESCE(SUM(CASE WHEN active = {f} THEN 1 ELSE 0 END), 0) AS inactive, \
             COALESCE(SUM(CASE WHEN status = 'online' THEN 1 ELSE 0 END), 0) AS online, \
             COALESCE(SUM(CASE WHEN status = 'away' THEN 1 ELSE 0 END), 0) AS away, \
             COALESCE(SUM(CASE WHEN status = 'busy' THEN 1 ELSE 0 END), 0) AS busy \
             FROM users",
            t = D::TRUE,
            f = D::FALSE,
        ));
        if let Some(row) = self.db.read(users).await?.first() {
            counts.total_users = count(row.int("total")?);
            counts.active_users = count(row.int("active")?);
            counts.non_active_users = count(row.int("inactive")?);
            counts.online_users = count(row.int("online")?);
            counts.away_users = count(row.int("away")?);
            counts.busy_users = count(row.int("busy")?);
        }
        let rooms = Query::new(
            "SELECT t, COUNT(*) AS n, CAST(COALESCE(SUM(msgs), 0) AS BIGINT) AS messages \
             FROM rooms GROUP BY t",
        );
        for row in self.db.read(rooms).await? {
            let (rooms, messages) = (count(row.int("n")?), count(row.int("messages")?));
            match row.text("t")?.as_str() {
                "c" => (counts.total_channels, counts.total_channel_messages) = (rooms, messages),
                "p" => {
                    (
                        counts.total_private_groups,
                        counts.total_private_group_messages,
                    ) = (rooms, messages)
                }
                "d" => (counts.total_direct, counts.total_direct_messages) = (rooms, messages),
                _ => {}
            }
        }
        let discussions = Query::new("SELECT COUNT(*) AS n FROM rooms WHERE prid IS NOT NULL");
        counts.total_discussions = counted(&self.db.read(discussions).await?)?;
        let threads = Query::new("SELECT COUNT(*) AS n FROM messages WHERE tlm IS NOT NULL");
        counts.total_threads = counted(&self.db.read(threads).await?)?;
        let uploads = Query::new(format!(
            "SELECT COUNT(*) AS n, CAST(COALESCE(SUM(size), 0) AS BIGINT) AS size \
             FROM uploads WHERE complete = {}",
            D::TRUE
        ));
        if let Some(row) = self.db.read(uploads).await?.first() {
            counts.uploads_total = count(row.int("n")?);
            counts.uploads_total_size = count(row.int("size")?);
        }
        counts.database_size = self
            .db
            .read(Query::new(D::DATABASE_SIZE))
            .await?
            .first()
            .map(|row| row.int("n"))
            .transpose()?
            .map(count);
        Ok(counts)
    }

    async fn insert_statistics(&self, snapshot: &StatisticsSnapshot) -> StoreResult<()> {
        let insert =
            Query::new("INSERT INTO statistics (id, created_at, document) VALUES ($1, $2, $3)")
                .bind(&snapshot.id)
                .bind(millis(snapshot.created_at))
                .bind(&snapshot.document);
        self.db.write(insert).await.map(drop)
    }

    async fn latest_statistics(&self) -> StoreResult<Option<StatisticsSnapshot>> {
        let select = Query::new(
            "SELECT id, created_at, document FROM statistics ORDER BY created_at DESC, id DESC \
             LIMIT 1",
        );
        let rows = self.db.read(select).await?;
        rows.first().map(snapshot_from_row).transpose()
    }

    async fn list_statistics(
        &self,
        skip: u64,
        count: Option<u64>,
    ) -> StoreResult<(Vec<StatisticsSnapshot>, u64)> {
        let mut tx = self.db.snapshot().await?;
        let select = Query::new(
            "SELECT id, created_at, document FROM statistics ORDER BY created_at DESC, id DESC \
             LIMIT $1 OFFSET $2",
        )
        .bind(limit(count))
        .bind(offset(skip));
        let rows = tx.read(select).await?;
        let total = tx
            .read(Query::new("SELECT COUNT(*) AS n FROM statistics"))
            .await?;
        let snapshots = rows
            .iter()
            .map(snapshot_from_row)
            .collect::<StoreResult<Vec<_>>>()?;
        Ok((snapshots, counted(&total)?))
    }

    async fn prune_statistics(&self, before: Timestamp) -> StoreResult<u64> {
        let delete =
            Query::new("DELETE FROM statistics WHERE created_at < $1").bind(millis(before));
        self.db.write(delete).await
    }
}
