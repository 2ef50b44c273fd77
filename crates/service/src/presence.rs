//! Presence from live connections: a user with at least one connection is online (or away,
//! or the status they chose); with none, offline. Connections are recorded in the store, so
//! that instances sharing a database agree; a stopped instance's connections expire when it
//! stops beating.

use crate::authz::Required;
use crate::{Connections, Session, store_error};
use comet_core::user::Presence;
use comet_core::{Error, Result, Timestamp, now};
use serde_json::json;

/// The connection count upstream reports as `max` in `presence.getConnections`: the number
/// past which an unlicensed Rocket.Chat stops broadcasting presence. Comet never stops, so
/// this is only what clients expect to compare with.
pub const UPSTREAM_MAX_CONNECTIONS: u64 = 200;

/// One instance of this deployment, as `instances.get` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceStatus {
    pub id: String,
    /// When it last beat.
    pub last_beat: Timestamp,
    /// Its live connections.
    pub connections: u64,
    /// This instance (the one answering).
    pub local: bool,
    /// Heard from within `COMET_INSTANCE_TIMEOUT`.
    pub alive: bool,
}

/// What `shield.svg` asks for.
#[derive(Debug, Clone, Default)]
pub struct ShieldRequest {
    /// `online`, `channel`, `user`, or anything else for "join chat".
    pub kind: Option<String>,
    /// `icon=false` hides the icon.
    pub hide_icon: bool,
    pub channel: String,
    pub name: String,
    /// The user of a `user` shield.
    pub user: Option<crate::accounts::UserRef>,
}

/// A badge's content; the edge draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct Shield {
    /// Left-hand label (may be empty).
    pub name: String,
    /// Right-hand text.
    pub text: String,
    /// Right-hand background colour.
    pub color: &'static str,
    pub hide_icon: bool,
    /// Where the icon comes from.
    pub icon_url: String,
}

impl Connections<'_> {
    /// `shield.svg`: a badge of the online users, a channel, a user's presence, or "join chat",
    /// refused in upstream's order (`API_Enable_Shields`, `API_Shield_Types`, a hidden icon
    /// without a name, the type's own needs).
    ///
    /// A `user` badge shows a user's presence, so it needs a logged-in caller whatever
    /// `API_Shield_user_require_auth` says: presence is not shown to anonymous callers
    /// elsewhere either.
    pub async fn shield(
        &self,
        caller: Option<&Session>,
        request: &ShieldRequest,
    ) -> Result<Shield> {
        if !self.ctx.setting_bool("API_Enable_Shields") {
            return Err(Error::meteor(
                "error-endpoint-disabled",
                "This endpoint is disabled",
            ));
        }
        let types = self.ctx.setting_str("API_Shield_Types");
        if let Some(kind) = &request.kind
            && types.trim() != "*"
            && !types.split(',').any(|t| t.trim() == kind)
        {
            return Err(Error::meteor(
                "error-shield-disabled",
                "This shield type is disabled",
            ));
        }
        if request.hide_icon && request.name.trim().is_empty() {
            return Err(Error::failure("Name cannot be empty when icon is hidden"));
        }
        let mut color = "#4c1";
        let text = match request.kind.as_deref() {
            Some("online") => {
                let online = self
                    .ctx
                    .store
                    .count_users_not_offline()
                    .await
                    .map_err(store_error)?;
                format!("{online} Online")
            }
            Some("channel") => {
                if request.channel.is_empty() {
                    return Err(Error::failure(
                        "Shield channel is required for type \"channel\"",
                    ));
                }
                format!("#{}", request.channel)
            }
            Some("user") => {
                if caller.is_none() {
                    return Err(Error::failure("You must be logged in to do this."));
                }
                let Some(reference) = &request.user else {
                    return Err(Error::meteor(
                        "error-user-param-not-provided",
                        "The required \"userId\" or \"username\" param was not provided",
                    ));
                };
                let Some(user) = self.ctx.accounts().find_user(reference).await? else {
                    return Err(Error::invalid_user());
                };
                color = match user.status {
                    Presence::Online => "#1fb31f",
                    Presence::Away => "#dc9b01",
                    Presence::Busy => "#bc2031",
                    Presence::Offline => "#a5a1a1",
                };
                if !user.name.is_empty() && self.ctx.setting_bool("UI_Use_Real_Name") {
                    user.name
                } else {
                    format!("@{}", user.username)
                }
            }
            _ => "JOIN CHAT".to_owned(),
        };
        Ok(Shield {
            name: request.name.clone(),
            text,
            color,
            hide_icon: request.hide_icon,
            icon_url: format!(
                "{}/favicon.svg",
                self.ctx.setting_str("Site_Url").trim_end_matches('/')
            ),
        })
    }

    /// Who may see or change the presence service (`presence.*`).
    pub const MANAGE_USER_STATUS: Required = Required::All(&["manage-user-status"]);
    /// Who may list the instances (`instances.get`).
    pub const VIEW_STATISTICS: Required = Required::All(&["view-statistics"]);

    /// `presence.getConnections`: live connections on every instance, and upstream's limit.
    pub async fn connection_count(&self, session: &Session) -> Result<(u64, u64)> {
        self.ctx
            .authorize(&session.user, Self::MANAGE_USER_STATUS)?;
        let current = self
            .ctx
            .store
            .count_connections()
            .await
            .map_err(store_error)?;
        Ok((current, UPSTREAM_MAX_CONNECTIONS))
    }

    /// `presence.enableBroadcast`: clears `Presence_broadcast_disabled`, as upstream does
    /// when presence broadcasting is turned back on.
    pub async fn enable_broadcast(&self, session: &Session) -> Result<()> {
        self.ctx
            .authorize(&session.user, Self::MANAGE_USER_STATUS)?;
        self.ctx
            .write_setting("Presence_broadcast_disabled", json!(false))
            .await
    }

    /// `instances.get`: the instances sharing this deployment's database, this one always
    /// among them (also before its first heartbeat is written).
    pub async fn instances(&self, session: &Session) -> Result<Vec<InstanceStatus>> {
        self.ctx.authorize(&session.user, Self::VIEW_STATISTICS)?;
        let records = self.ctx.store.instances().await.map_err(store_error)?;
        let here = &self.ctx.config.instance_id;
        let alive_since = now() - self.instance_timeout();
        let mut instances: Vec<InstanceStatus> = records
            .into_iter()
            .map(|r| InstanceStatus {
                local: &r.id == here,
                alive: r.last_beat >= alive_since,
                id: r.id,
                last_beat: r.last_beat,
                connections: r.connections,
            })
            .collect();
        if !instances.iter().any(|i| i.local) {
            instances.insert(
                0,
                InstanceStatus {
                    id: here.clone(),
                    last_beat: now(),
                    connections: 0,
                    local: true,
                    alive: true,
                },
            );
        }
        Ok(instances)
    }

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
            let presence = self
                .ctx
                .store
                .connections_presence(user_id)
                .await
                .map_err(store_error)?;
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
