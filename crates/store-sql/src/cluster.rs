//! Instances, connections, leases and rate-limit windows (see `comet_store::ClusterStore`).

use crate::{Database, Query, SqlRow, SqlStore, Transaction, count, counted};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::user::Presence;
use comet_store::encoding::{from_millis, millis};
use comet_store::{ClusterStore, InstanceRecord, StoreResult};

/// Connections of instances that are gone: stale heartbeat, or no heartbeat at all.
const DEAD_CONNECTIONS: &str = "instance_id IN (SELECT id FROM instances WHERE heartbeat_at < $1) \
     OR instance_id NOT IN (SELECT id FROM instances)";

#[async_trait]
impl<D: Database> ClusterStore for SqlStore<D> {
    async fn instance_heartbeat(&self, instance_id: &str, at: Timestamp) -> StoreResult<()> {
        let upsert = Query::new(
            "INSERT INTO instances (id, heartbeat_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        );
        self.db
            .write(upsert.bind(instance_id).bind(millis(at)))
            .await
            .map(drop)
    }

    async fn expire_instances(&self, before: Timestamp) -> StoreResult<Vec<String>> {
        let before = millis(before);
        let mut tx = self.db.begin().await?;
        let users = Query::new(format!(
            "SELECT DISTINCT user_id FROM connections WHERE {DEAD_CONNECTIONS} ORDER BY user_id"
        ));
        let users = tx
            .read(users.bind(before))
            .await?
            .iter()
            .map(|row| row.text("user_id"))
            .collect::<StoreResult<Vec<_>>>()?;
        let dead = Query::new(format!("DELETE FROM connections WHERE {DEAD_CONNECTIONS}"));
        tx.write(dead.bind(before)).await?;
        let stale = Query::new("DELETE FROM instances WHERE heartbeat_at < $1");
        tx.write(stale.bind(before)).await?;
        tx.commit().await?;
        Ok(users)
    }

    async fn count_connections(&self) -> StoreResult<u64> {
        counted(
            &self
                .db
                .read(Query::new("SELECT COUNT(*) AS n FROM connections"))
                .await?,
        )
    }

    async fn instances(&self) -> StoreResult<Vec<InstanceRecord>> {
        let rows = self
            .db
            .read(Query::new(
                "SELECT i.id AS id, i.heartbeat_at AS heartbeat_at, \
                 (SELECT COUNT(*) FROM connections c WHERE c.instance_id = i.id) AS n \
                 FROM instances i ORDER BY i.id",
            ))
            .await?;
        rows.iter()
            .map(|row| {
                Ok(InstanceRecord {
                    id: row.text("id")?,
                    last_beat: from_millis(row.int("heartbeat_at")?)?,
                    connections: count(row.int("n")?),
                })
            })
            .collect()
    }

    async fn set_connection(
        &self,
        instance_id: &str,
        connection_id: &str,
        user_id: &str,
        presence: Option<Presence>,
        at: Timestamp,
    ) -> StoreResult<()> {
        let statement = match presence {
            Some(presence) => Query::new(
                "INSERT INTO connections (instance_id, id, user_id, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance_id, id) DO UPDATE SET \
                 user_id = excluded.user_id, status = excluded.status, \
                 updated_at = excluded.updated_at",
            )
            .bind(instance_id)
            .bind(connection_id)
            .bind(user_id)
            .bind(presence.as_str())
            .bind(millis(at)),
            None => Query::new("DELETE FROM connections WHERE instance_id = $1 AND id = $2")
                .bind(instance_id)
                .bind(connection_id),
        };
        self.db.write(statement).await.map(drop)
    }

    async fn connections_presence(&self, user_id: &str) -> StoreResult<Presence> {
        // Two probes of `connections_user_status`, not a scan of the user's connections.
        let select = Query::new(
            "SELECT EXISTS (SELECT 1 FROM connections WHERE user_id = $1 AND status = $2) \
               AS online, \
             EXISTS (SELECT 1 FROM connections WHERE user_id = $1) AS connected",
        );
        let rows = self
            .db
            .read(select.bind(user_id).bind(Presence::Online.as_str()))
            .await?;
        let Some(row) = rows.first() else {
            return Ok(Presence::Offline);
        };
        Ok(if row.bool("online")? {
            Presence::Online
        } else if row.bool("connected")? {
            Presence::Away
        } else {
            Presence::Offline
        })
    }

    async fn clear_connections(&self) -> StoreResult<()> {
        let mut tx = self.db.begin().await?;
        for statement in ["DELETE FROM connections", "DELETE FROM instances"] {
            tx.write(Query::new(statement)).await?;
        }
        tx.commit().await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let upsert = Query::new(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.holder = excluded.holder OR leases.until < $4 \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(millis(until))
        .bind(millis(now));
        let rows = self.db.write_returning(upsert).await?;
        match rows.first() {
            Some(row) => Ok(row.text("holder")? == holder),
            None => Ok(false),
        }
    }

    async fn hit_rate_window(
        &self,
        key: &str,
        now: Timestamp,
        period_ms: i64,
    ) -> StoreResult<(Timestamp, u64)> {
        let upsert = Query::new(
            "INSERT INTO rate_windows (key, started, calls) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             calls = CASE WHEN rate_windows.started + $3 <= excluded.started THEN 1 \
                     ELSE rate_windows.calls + 1 END, \
             started = CASE WHEN rate_windows.started + $3 <= excluded.started \
                     THEN excluded.started ELSE rate_windows.started END \
             RETURNING started, calls",
        )
        .bind(key)
        .bind(millis(now))
        .bind(period_ms);
        let rows = self.db.write_returning(upsert).await?;
        let row = rows.first().ok_or_else(|| {
            comet_store::StoreError::Backend("the rate window upsert returned no row".to_owned())
        })?;
        Ok((row.time("started")?, count(row.int("calls")?)))
    }

    async fn purge_rate_windows(&self, before: Timestamp) -> StoreResult<u64> {
        let delete = Query::new("DELETE FROM rate_windows WHERE started < $1");
        self.db.write(delete.bind(millis(before))).await
    }
}
