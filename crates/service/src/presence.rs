//! Presence from live connections: a user with at least one connection is online (or away,
//! or the status they chose); with none, offline.

use crate::{Service, store_error};
use comet_core::user::Presence;
use comet_core::{Result, now};
use std::collections::HashMap;
use std::sync::Mutex;

/// Live connections per user on this node, each online or away (idle, or the client said so).
#[derive(Default)]
pub(crate) struct Connections {
    by_user: Mutex<HashMap<String, HashMap<u64, Presence>>>,
}

/// What a user's connections add up to: online if any is, away if all are, else offline.
fn aggregate(connections: Option<&HashMap<u64, Presence>>) -> Presence {
    let Some(connections) = connections.filter(|c| !c.is_empty()) else {
        return Presence::Offline;
    };
    if connections.values().any(|p| *p == Presence::Online) {
        Presence::Online
    } else {
        Presence::Away
    }
}

impl Connections {
    fn current(&self, user_id: &str) -> Presence {
        let map = match self.by_user.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        aggregate(map.get(user_id))
    }

    /// Sets (`Some`) or removes (`None`) one connection's state; returns the user's aggregate
    /// presence before and after.
    fn set(&self, user_id: &str, connection: u64, state: Option<Presence>) -> (Presence, Presence) {
        let mut map = match self.by_user.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let before = aggregate(map.get(user_id));
        match state {
            Some(presence) => {
                map.entry(user_id.to_owned())
                    .or_default()
                    .insert(connection, presence);
            }
            None => {
                if let Some(connections) = map.get_mut(user_id) {
                    connections.remove(&connection);
                    if connections.is_empty() {
                        map.remove(user_id);
                    }
                }
            }
        }
        (before, aggregate(map.get(user_id)))
    }
}

impl Service {
    /// A live connection of a user opened (`Some(Online)`), became idle or active again
    /// (`Some(Away)` / `Some(Online)`), or closed (`None`). The user's presence follows all of
    /// their connections: the first brings them online, the last takes them offline, and they
    /// are away only while every connection is.
    pub async fn connection_state(
        &self,
        user_id: &str,
        connection: u64,
        state: Option<Presence>,
    ) -> Result<()> {
        let (before, mut after) = self.connections.set(user_id, connection, state);
        if before == after {
            return Ok(());
        }
        // Connections of one user may change while the write is under way: write until what
        // is stored matches what the connections add up to.
        for _ in 0..4 {
            self.set_connection_presence(user_id, after).await?;
            let current = self.connections.current(user_id);
            if current == after {
                break;
            }
            after = current;
        }
        Ok(())
    }

    /// Stores the presence a user's connections add up to (or, over HTTP, what the client
    /// reported), combined with the status they chose.
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
