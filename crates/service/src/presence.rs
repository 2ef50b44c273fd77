//! Presence from live connections: a user with at least one connection is online (or away,
//! or the status they chose); with none, offline.

use crate::{Service, store_error};
use comet_core::user::Presence;
use comet_core::{Result, now};
use std::collections::HashMap;
use std::sync::Mutex;

/// Live connections per user on this node.
#[derive(Default)]
pub(crate) struct Connections {
    by_user: Mutex<HashMap<String, usize>>,
}

impl Connections {
    /// Adds (`+1`) or removes (`-1`) a connection; returns the user's count afterwards.
    fn adjust(&self, user_id: &str, delta: isize) -> usize {
        let mut map = match self.by_user.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let count = map.entry(user_id.to_owned()).or_insert(0);
        *count = count.saturating_add_signed(delta);
        let after = *count;
        if after == 0 {
            map.remove(user_id);
        }
        after
    }
}

impl Service {
    /// A logged-in connection opened: the first one brings the user online.
    pub async fn connection_opened(&self, user_id: &str) -> Result<()> {
        if self.connections.adjust(user_id, 1) == 1 {
            self.set_connection_presence(user_id, Presence::Online)
                .await?;
        }
        Ok(())
    }

    /// A logged-in connection closed: the last one takes the user offline.
    pub async fn connection_closed(&self, user_id: &str) -> Result<()> {
        if self.connections.adjust(user_id, -1) == 0 {
            self.set_connection_presence(user_id, Presence::Offline)
                .await?;
        }
        Ok(())
    }

    /// `UserPresence:online` / `UserPresence:away`: the client says the user is (in)active.
    pub async fn set_connection_presence(&self, user_id: &str, connection: Presence) -> Result<()> {
        let Some(mut user) = self.store.user_by_id(user_id).await.map_err(store_error)? else {
            return Ok(());
        };
        let status = Presence::effective(connection, user.status_default);
        if user.status_connection == connection && user.status == status {
            return Ok(());
        }
        user.status_connection = connection;
        user.status = status;
        user.updated_at = now();
        self.store.update_user(&user).await.map_err(store_error)?;
        self.publish(comet_events::Event::UserStatus {
            user_id: user.id,
            username: user.username,
            status,
            status_text: user.status_text,
        });
        Ok(())
    }
}
