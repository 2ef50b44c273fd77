//! Instances, connections, leases and rate-limit windows (see `comet_store::ClusterStore`).

use crate::rows::{from_millis, millis};
use crate::{PostgresStore, backend};
use async_trait::async_trait;
use comet_core::Timestamp;
use comet_core::user::Presence;
use comet_store::{ClusterStore, StoreResult};

/// Connections of instances that are gone: stale heartbeat, or no heartbeat at all.
macro_rules! dead_connections {
    () => {
        "instance_id IN (SELECT id FROM instances WHERE heartbeat_at < $1) \
         OR instance_id NOT IN (SELECT id FROM instances)"
    };
}

#[async_trait]
impl ClusterStore for PostgresStore {
    async fn instance_heartbeat(&self, instance_id: &str, at: Timestamp) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO instances (id, heartbeat_at) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
        )
        .bind(instance_id)
        .bind(millis(at))
        .execute(&self.pool)
        .await
        .map_err(backend)?;
        Ok(())
    }

    async fn expire_instances(&self, before: Timestamp) -> StoreResult<Vec<String>> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        let users: Vec<String> = sqlx::query_scalar(concat!(
            "SELECT DISTINCT user_id FROM connections WHERE ",
            dead_connections!(),
            " ORDER BY user_id"
        ))
        .bind(millis(before))
        .fetch_all(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query(concat!(
            "DELETE FROM connections WHERE ",
            dead_connections!()
        ))
        .bind(millis(before))
        .execute(&mut *tx)
        .await
        .map_err(backend)?;
        sqlx::query("DELETE FROM instances WHERE heartbeat_at < $1")
            .bind(millis(before))
            .execute(&mut *tx)
            .await
            .map_err(backend)?;
        tx.commit().await.map_err(backend)?;
        Ok(users)
    }

    async fn set_connection(
        &self,
        instance_id: &str,
        connection_id: &str,
        user_id: &str,
        presence: Option<Presence>,
        at: Timestamp,
    ) -> StoreResult<()> {
        match presence {
            Some(presence) => sqlx::query(
                "INSERT INTO connections (instance_id, id, user_id, status, updated_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (instance_id, id) DO UPDATE SET \
                 user_id = excluded.user_id, status = excluded.status, \
                 updated_at = excluded.updated_at",
            )
            .bind(instance_id)
            .bind(connection_id)
            .bind(user_id)
            .bind(presence.as_str())
            .bind(millis(at))
            .execute(&self.pool)
            .await
            .map_err(backend)?,
            None => sqlx::query("DELETE FROM connections WHERE instance_id = $1 AND id = $2")
                .bind(instance_id)
                .bind(connection_id)
                .execute(&self.pool)
                .await
                .map_err(backend)?,
        };
        Ok(())
    }

    async fn connection_presences(&self, user_id: &str) -> StoreResult<Vec<Presence>> {
        let statuses: Vec<String> =
            sqlx::query_scalar("SELECT status FROM connections WHERE user_id = $1")
                .bind(user_id)
                .fetch_all(&self.pool)
                .await
                .map_err(backend)?;
        Ok(statuses.iter().filter_map(|s| Presence::parse(s)).collect())
    }

    async fn clear_connections(&self) -> StoreResult<()> {
        let mut tx = self.pool.begin().await.map_err(backend)?;
        for statement in ["DELETE FROM connections", "DELETE FROM instances"] {
            sqlx::query(statement)
                .execute(&mut *tx)
                .await
                .map_err(backend)?;
        }
        tx.commit().await.map_err(backend)?;
        Ok(())
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool> {
        let held_by: Option<String> = sqlx::query_scalar(
            "INSERT INTO leases (name, holder, until) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, until = excluded.until \
             WHERE leases.holder = excluded.holder OR leases.until < $4 \
             RETURNING holder",
        )
        .bind(name)
        .bind(holder)
        .bind(millis(until))
        .bind(millis(now))
        .fetch_optional(&self.pool)
        .await
        .map_err(backend)?;
        Ok(held_by.as_deref() == Some(holder))
    }

    async fn hit_rate_window(
        &self,
        key: &str,
        now: Timestamp,
        period_ms: i64,
    ) -> StoreResult<(Timestamp, u64)> {
        let (started, calls): (i64, i64) = sqlx::query_as(
            "INSERT INTO rate_windows (key, started, calls) VALUES ($1, $2, 1) \
             ON CONFLICT (key) DO UPDATE SET \
             calls = CASE WHEN rate_windows.started + $3 <= excluded.started THEN 1 \
                     ELSE rate_windows.calls + 1 END, \
             started = CASE WHEN rate_windows.started + $4 <= excluded.started \
                     THEN excluded.started ELSE rate_windows.started END \
             RETURNING started, calls",
        )
        .bind(key)
        .bind(millis(now))
        .bind(period_ms)
        .bind(period_ms)
        .fetch_one(&self.pool)
        .await
        .map_err(backend)?;
        Ok((from_millis(started)?, u64::try_from(calls).unwrap_or(0)))
    }

    async fn purge_rate_windows(&self, before: Timestamp) -> StoreResult<u64> {
        let result = sqlx::query("DELETE FROM rate_windows WHERE started < $1")
            .bind(millis(before))
            .execute(&self.pool)
            .await
            .map_err(backend)?;
        Ok(result.rows_affected())
    }
}
