//! Presence from live connections: a user with at least one connection is online (or away,
//! or the status they chose); with none, offline. Connections are recorded in the store, so
//! that instances sharing a database agree; a stopped instance's connections expire when it
//! stops beating.

use crate::Connections;
use crate::store_error;
use comet_core::user::Presence;
use comet_core::{Result, now};

/// What a user's connections add up to: online if any is, away if all are, else offline.
fn aggregate(connections: &[Presence]) -> Presence {
    if connections.is_empty() {
        Presence::Offline
    } else if connections.contains(&Presence::Online) {
        Presence::Online
    } else {
        Presence::Away
    }
}

impl Connections<'_> {
    /// A live connection of a user opened (`Some(Online)`), became idle or active again
    /// (`Some(Away)` / `Some(Online)`), or closed (`None`). The user's presence follows all of
    /// their connections on every instance: the first brings them online, the last takes them
    /// offline, and they are away only while every connection is.
    pub async fn connection_state(
        &self,
        user_id: &str,
        connection: u64,
        state: Option<Presence>,
    ) -> Result<()> {
        self.ctx
            .store
            .set_connection(
                &self.ctx.config.instance_id,
                &connection.to_string(),
                user_id,
                state,
                now(),
            )
            .await
            .map_err(store_error)?;
        self.settle_presence(user_id).await
    }

    /// Brings a user's stored presence in line with their live connections.
    pub(crate) async fn settle_presence(&self, user_id: &str) -> Result<()> {
        let mut settled = None;
        // Another instance may change this user's connections while the write is under way:
        // write until what is stored matches what the connections add up to.
        for _ in 0..4 {
            let connections = self
                .ctx
                .store
                .connection_presences(user_id)
                .await
                .map_err(store_error)?;
            let presence = aggregate(&connections);
            if settled == Some(presence) {
                break;
            }
            self.set_connection_presence(user_id, presence).await?;
            settled = Some(presence);
        }
        Ok(())
    }

    fn instance_timeout(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.ctx.config.instance_timeout)
            .unwrap_or_else(|_| chrono::Duration::seconds(45))
    }

    /// A stopping instance withdraws its connections at once (rather than after the timeout),
    /// so that users connected only here go offline now.
    pub async fn leave_cluster(&self) -> Result<()> {
        let long_ago = chrono::DateTime::<chrono::Utc>::UNIX_EPOCH;
        self.ctx
            .store
            .instance_heartbeat(&self.ctx.config.instance_id, long_ago)
            .await
            .map_err(store_error)?;
        let timeout = self.instance_timeout();
        let orphaned = self
            .ctx
            .store
            .expire_instances(now() - timeout)
            .await
            .map_err(store_error)?;
        for user_id in orphaned {
            self.settle_presence(&user_id).await?;
        }
        Ok(())
    }

    /// Runs every few seconds on every instance: says this instance is alive; the instance
    /// holding the housekeeping lease also expires dead instances (their users' presence is
    /// recomputed) and old rate-limit windows. Returns whether this instance holds the lease
    /// (and so runs the cluster's periodic jobs).
    pub async fn housekeeping(&self) -> Result<bool> {
        let at = now();
        let id = &self.ctx.config.instance_id;
        self.ctx
            .store
            .instance_heartbeat(id, at)
            .await
            .map_err(store_error)?;
        // The lease outlives one missed beat but not a dead holder by much.
        let lease_until = at + self.instance_timeout() * 2 / 3;
        if !self
            .ctx
            .store
            .acquire_lease("housekeeping", id, at, lease_until)
            .await
            .map_err(store_error)?
        {
            return Ok(false);
        }
        let timeout = self.instance_timeout();
        let orphaned = self
            .ctx
            .store
            .expire_instances(at - timeout)
            .await
            .map_err(store_error)?;
        if !orphaned.is_empty() {
            tracing::info!(
                users = orphaned.len(),
                "connections of a stopped instance expired"
            );
        }
        for user_id in orphaned {
            self.settle_presence(&user_id).await?;
        }
        self.ctx
            .store
            .purge_rate_windows(at - chrono::Duration::hours(1))
            .await
            .map_err(store_error)?;
        Ok(true)
    }

    /// Stores the presence a user's connections add up to (or, over HTTP, what the client
    /// reported), combined with the status they chose.
    pub async fn set_connection_presence(&self, user_id: &str, connection: Presence) -> Result<()> {
        let Some(mut user) = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(());
        };
        let status = Presence::effective(connection, user.status_default);
        if user.status_connection == connection && user.status == status {
            return Ok(());
        }
        user.status_connection = connection;
        user.status = status;
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        self.ctx.publish(comet_events::Event::UserStatus {
            user_id: user.id,
            username: user.username,
            status,
            status_text: user.status_text,
        });
        Ok(())
    }
}
