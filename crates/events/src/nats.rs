//! The event bus across instances: every event is delivered to this instance's subscribers at
//! once (so an instance that loses NATS keeps serving its own clients) and published to NATS
//! for the other instances, which deliver it to theirs. The connection is made with `no_echo`,
//! so an instance never receives its own events back: each subscriber sees each event once.
//!
//! Subjects name what an event is about (`comet.events.room.<rid>`, `comet.events.user.<uid>`,
//! `comet.events.all`), so that operators can watch or route them; every instance listens to
//! `comet.events.>`. Payloads are [`Envelope`]s in JSON; an envelope of another
//! [`EVENT_VERSION`] (an instance of another release during a rolling upgrade) is counted and
//! left alone rather than misread.

use crate::{BUS_CAPACITY, EVENT_VERSION, Envelope, Event, EventBus};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::{broadcast, mpsc};

/// Events waiting to go out to NATS before new ones are dropped (counted, and logged).
const OUTBOUND_CAPACITY: usize = 16_384;

/// Counters an operator may want on a dashboard.
#[derive(Debug, Default)]
pub struct NatsStats {
    pub published: AtomicU64,
    pub received: AtomicU64,
    /// Events not sent to other instances because the outbound queue was full.
    pub dropped: AtomicU64,
    /// Messages from NATS that could not be decoded.
    pub undecodable: AtomicU64,
    /// Envelopes of another encoding version (another release of Comet), left alone.
    pub other_version: AtomicU64,
}

/// Just the version of an envelope, read before anything else of it.
#[derive(serde::Deserialize)]
struct VersionOnly {
    version: u32,
}

/// What to make of a payload from NATS.
#[derive(Debug)]
enum Incoming {
    Envelope(Box<Envelope>),
    OtherVersion(u32),
    Undecodable(serde_json::Error),
}

fn decode(payload: &[u8]) -> Incoming {
    match serde_json::from_slice::<VersionOnly>(payload) {
        Ok(VersionOnly { version }) if version != EVENT_VERSION => Incoming::OtherVersion(version),
        Ok(_) => match serde_json::from_slice::<Envelope>(payload) {
            Ok(envelope) => Incoming::Envelope(Box::new(envelope)),
            Err(e) => Incoming::Undecodable(e),
        },
        Err(e) => Incoming::Undecodable(e),
    }
}

/// The bus of a Comet instance that is one of several.
pub struct NatsBus {
    local: broadcast::Sender<Arc<Envelope>>,
    outbound: mpsc::Sender<Arc<Envelope>>,
    client: async_nats::Client,
    stats: Arc<NatsStats>,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus").finish_non_exhaustive()
    }
}

/// Why the bus could not start.
#[derive(Debug, thiserror::Error)]
pub enum NatsError {
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect { url: String, reason: String },
    #[error("cannot subscribe to NATS: {0}")]
    Subscribe(String),
}

/// A NATS URL fit for a log line: any `user:password@` is replaced.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            format!("{}***{}", &url[..scheme_end + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The subject an event is published on.
pub fn subject(event: &Event) -> String {
    let about = match event {
        Event::Message(message) => Some(("room", message.room_id.as_str())),
        Event::Room { room, .. } => Some(("room", room.id.as_str())),
        Event::MessageDeleted { room_id, .. }
        | Event::UserActivity { room_id, .. }
        | Event::MessagesRead { room_id, .. }
        | Event::MessagesCleaned { room_id, .. }
        | Event::RoomNotice { room_id, .. } => Some(("room", room_id.as_str())),
        Event::Ephemeral { user_id, .. }
        | Event::SessionsEnded { user_id }
        | Event::OtherSessionsEnded { user_id, .. }
        | Event::SessionEnded { user_id, .. }
        | Event::UserRenamed { user_id, .. }
        | Event::UserDeleted { user_id, .. }
        | Event::RoleChanged { user_id, .. }
        | Event::UserStatus { user_id, .. }
        | Event::UserNotice { user_id, .. } => Some(("user", user_id.as_str())),
        Event::Subscription { subscription, .. } => Some(("user", subscription.user.id.as_str())),
        Event::UserChanged(user) => Some(("user", user.id.as_str())),
        Event::SessionsStale {
            user_id: Some(user_id),
        } => Some(("user", user_id.as_str())),
        Event::Setting { .. }
        | Event::Permission(_)
        | Event::RoleDefined(_)
        | Event::RoleRemoved(_)
        | Event::AvatarChanged { .. }
        | Event::SessionsStale { user_id: None }
        | Event::WorkspaceNotice { .. } => None,
    };
    match about {
        // Ids are Meteor-style ids (letters and digits), safe as subject tokens; anything
        // else is replaced rather than allowed to add tokens or wildcards.
        Some((kind, id)) => {
            let token: String = id
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            format!("comet.events.{kind}.{token}")
        }
        None => "comet.events.all".to_owned(),
    }
}

impl NatsBus {
    /// Connects to NATS (retrying in the background if it is not up yet) and starts relaying.
    pub async fn connect(url: &str, instance_name: &str) -> Result<NatsBus, NatsError> {
        let client = async_nats::ConnectOptions::new()
            .name(instance_name)
            .no_echo()
            .retry_on_initial_connect()
            .event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("connected to NATS"),
                    async_nats::Event::Disconnected => {
                        tracing::warn!("lost NATS: serving local clients only until it returns");
                    }
                    other => tracing::debug!(event = %other, "NATS"),
                }
            })
            .connect(url)
            .await
            .map_err(|e| NatsError::Connect {
                url: without_credentials(url),
                reason: e.to_string(),
            })?;
        let mut incoming = client
            .subscribe("comet.events.>")
            .await
            .map_err(|e| NatsError::Subscribe(e.to_string()))?;
        let (local, _) = broadcast::channel(BUS_CAPACITY);
        let (outbound, mut queue) = mpsc::channel::<Arc<Envelope>>(OUTBOUND_CAPACITY);
        let stats = Arc::new(NatsStats::default());

        let publisher = client.clone();
        let publish_stats = stats.clone();
        tokio::spawn(async move {
            while let Some(envelope) = queue.recv().await {
                let payload = match serde_json::to_vec(&*envelope) {
                    Ok(payload) => payload,
                    Err(e) => {
                        tracing::error!(error = %e, "cannot encode an event for NATS");
                        continue;
                    }
                };
                match publisher
                    .publish(subject(&envelope.event), payload.into())
                    .await
                {
                    Ok(()) => {
                        publish_stats.published.fetch_add(1, Ordering::Relaxed);
                    }
                    Err(e) => {
                        publish_stats.dropped.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, "could not publish an event to NATS");
                    }
                }
            }
        });

        let relay = local.clone();
        let receive_stats = stats.clone();
        tokio::spawn(async move {
            use futures_util::StreamExt;
            while let Some(message) = incoming.next().await {
                match decode(&message.payload) {
                    Incoming::Envelope(envelope) => {
                        receive_stats.received.fetch_add(1, Ordering::Relaxed);
                        let _ = relay.send(Arc::from(envelope));
                    }
                    Incoming::OtherVersion(version) => {
                        receive_stats.other_version.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(version, "ignored an event of another encoding version");
                    }
                    Incoming::Undecodable(e) => {
                        receive_stats.undecodable.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(error = %e, subject = %message.subject, "undecodable event from NATS");
                    }
                }
            }
        });
        Ok(NatsBus {
            local,
            outbound,
            client,
            stats,
        })
    }

    pub fn stats(&self) -> Arc<NatsStats> {
        self.stats.clone()
    }
}

impl EventBus for NatsBus {
    fn publish(&self, envelope: Envelope) {
        let envelope = Arc::new(envelope);
        if let Err(mpsc::error::TrySendError::Full(_)) = self.outbound.try_send(envelope.clone()) {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("NATS outbound queue full: an event reaches this instance only");
        }
        let _ = self.local.send(envelope);
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.local.subscribe()
    }

    fn connected(&self) -> bool {
        self.client.connection_state() == async_nats::connection::State::Connected
    }

    fn counters(&self) -> Vec<(&'static str, u64)> {
        vec![
            ("published", self.stats.published.load(Ordering::Relaxed)),
            ("received", self.stats.received.load(Ordering::Relaxed)),
            ("dropped", self.stats.dropped.load(Ordering::Relaxed)),
            (
                "undecodable",
                self.stats.undecodable.load(Ordering::Relaxed),
            ),
            (
                "other_version",
                self.stats.other_version.load(Ordering::Relaxed),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_never_reach_logs() {
        assert_eq!(
            without_credentials("nats://comet:s3cret@10.0.0.5:4222"),
            "nats://***@10.0.0.5:4222"
        );
        assert_eq!(
            without_credentials("nats://127.0.0.1:4222"),
            "nats://127.0.0.1:4222"
        );
    }

    #[test]
    fn subjects_name_the_room_or_user_and_stay_single_tokens() {
        let deleted = Event::MessageDeleted {
            room_id: "GENERAL".into(),
            message_id: "m".into(),
        };
        assert_eq!(subject(&deleted), "comet.events.room.GENERAL");
        let odd = Event::SessionsEnded {
            user_id: "a.b>*".into(),
        };
        assert_eq!(subject(&odd), "comet.events.user.a_b__");
    }

    #[test]
    fn envelopes_of_another_version_are_left_alone() {
        let envelope = Envelope::new(
            "i1",
            Event::SessionsEnded {
                user_id: "u1".into(),
            },
        );
        let payload = serde_json::to_vec(&envelope).expect("encode");
        match decode(&payload) {
            Incoming::Envelope(decoded) => assert_eq!(*decoded, envelope),
            other => panic!("{other:?}"),
        }
        let mut newer = serde_json::to_value(&envelope).expect("encode");
        newer["version"] = serde_json::json!(EVENT_VERSION + 1);
        newer["event"] = serde_json::json!({"SomethingNew": {"x": 1}});
        let payload = serde_json::to_vec(&newer).expect("encode");
        assert!(matches!(decode(&payload), Incoming::OtherVersion(v) if v == EVENT_VERSION + 1));
        assert!(matches!(decode(b"{}"), Incoming::Undecodable(_)));
    }
}
