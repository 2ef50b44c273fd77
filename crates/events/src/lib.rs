//! The event bus. The service publishes an event after the transaction that caused it has
//! committed; transports (DDP) subscribe and fan events out to their clients, and the same
//! events feed every other consumer (caches, and later the audit log and webhooks).
//!
//! What travels is an [`Envelope`]: the domain change ([`Event`]) with who caused it
//! ([`Actor`]), when, on which instance, under which request ([`current_cause`]), an id of
//! its own and the encoding version, so that an instance can ignore what a newer one sends.
//!
//! The in-process bus is a bounded broadcast: a subscriber that falls behind loses events
//! (and is told so) instead of slowing the publisher. A NATS implementation of the same trait
//! carries events between instances.

mod nats;

pub use nats::{NatsBus, NatsError, NatsStats, subject};

use comet_core::Timestamp;
use comet_core::room::{Message, Subscription};
use std::sync::Arc;
use tokio::sync::broadcast;

/// The envelope and event encoding this build writes and understands. An instance ignores
/// (and counts) envelopes of another version; raise it whenever a change to [`Envelope`] or
/// [`Event`] would make older instances misread the new encoding.
pub const EVENT_VERSION: u32 = 1;

/// Who caused an event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Actor {
    /// A logged-in user acting through any transport (or an admin acting on someone else).
    User { id: String, username: String },
    /// A request without a logged-in user (registration, login, a public read).
    Anonymous,
    /// The server itself: start-up, housekeeping, expiry.
    System,
}

/// Why events are being published: who acts, and the request (REST) or method call (DDP)
/// they act through. Transports set it around each request with [`with_cause`]; work outside
/// any request (start-up, periodic jobs, tasks spawned off a request) is the system's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    pub actor: Actor,
    pub request_id: Option<String>,
}

impl Cause {
    fn system() -> Cause {
        Cause {
            actor: Actor::System,
            request_id: None,
        }
    }
}

/// One event as it travels on the bus.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Envelope {
    /// Unique per event (Meteor-style id).
    pub id: String,
    /// [`EVENT_VERSION`] of the instance that wrote it.
    pub version: u32,
    /// When it was published, right after the change committed.
    pub at: Timestamp,
    pub actor: Actor,
    /// The instance whose service published it.
    pub instance: String,
    /// The request (REST) or method call (DDP) that caused it, when there was one.
    pub cause: Option<String>,
    pub event: Event,
}

impl Envelope {
    /// A new envelope for `event` published now on `instance`, attributed to the running
    /// request's [`Cause`] (the system's outside any request).
    pub fn new(instance: &str, event: Event) -> Envelope {
        let cause = current_cause();
        Envelope {
            id: comet_core::id::new_id(),
            version: EVENT_VERSION,
            at: comet_core::now(),
            actor: cause.actor,
            instance: instance.to_owned(),
            cause: cause.request_id,
            event,
        }
    }
}

tokio::task_local! {
    static CAUSE: Cause;
}

/// Runs `work` (one request or method call) with `cause` attributed to every event it
/// publishes.
pub async fn with_cause<F: std::future::Future>(cause: Cause, work: F) -> F::Output {
    CAUSE.scope(cause, work).await
}

/// The cause `with_cause` set for the running request, or the system outside any.
pub fn current_cause() -> Cause {
    CAUSE
        .try_with(Clone::clone)
        .unwrap_or_else(|_| Cause::system())
}

/// What happened to a subscription.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Change {
    Inserted,
    Updated,
    Removed,
}

impl Change {
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Inserted => "inserted",
            Change::Updated => "updated",
            Change::Removed => "removed",
        }
    }
}

/// Something clients may need to see.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Event {
    /// A message only one user sees, from the server (`<uid>/message` on stream-notify-user).
    Ephemeral {
        user_id: String,
        room_id: String,
        thread_id: Option<String>,
        notice: Notice,
    },
    /// A message was posted or changed (edit, reaction, pin, star): clients upsert it.
    Message(Box<Message>),
    /// A room changed (settings, or a new last message): members' sidebars update.
    Room {
        room: Box<comet_core::room::Room>,
        last_message: Option<Box<Message>>,
    },
    /// A message was deleted.
    MessageDeleted { room_id: String, message_id: String },
    /// A member's subscription changed (joined, read, left ...).
    Subscription {
        change: Change,
        subscription: Box<Subscription>,
    },
    /// Someone is typing (or stopped: empty `activities`).
    UserActivity {
        room_id: String,
        username: String,
        activities: Vec<String>,
        thread_id: Option<String>,
    },
    /// A setting's value changed (`public` ones go to everyone).
    Setting {
        id: String,
        value: serde_json::Value,
        public: bool,
        updated_at: comet_core::Timestamp,
    },
    /// A permission's roles changed.
    Permission(comet_core::role::Permission),
    /// A user's sessions ended server-side (deactivated, deleted, password reset by an admin):
    /// live connections must stop acting for them.
    SessionsEnded { user_id: String },
    /// All of a user's sessions but the one holding `kept_token` (a login token's hash) ended
    /// (`users.removeOtherTokens`, `users.logoutOtherClients`).
    OtherSessionsEnded { user_id: String, kept_token: String },
    /// One token of a user (its hash) was removed (`logout`, a personal access token removed
    /// or regenerated): the connections that logged in with it end.
    SessionEnded { user_id: String, token: String },
    /// A user's account or tokens changed in a way no other event tells (a login, a second
    /// factor remembered on a token, idle accounts deactivated in bulk): caches of
    /// authenticated sessions drop the user's (everyone's when `user_id` is `None`). Clients
    /// see nothing.
    SessionsStale { user_id: Option<String> },
    /// A role was created (`stream-roles`).
    RoleDefined(comet_core::role::Role),
    /// A role was deleted (`stream-roles`, `type: removed`).
    RoleRemoved(comet_core::role::Role),
    /// A user's own data changed (status, name, roles ...): their sessions get `userData`.
    UserChanged(Box<comet_core::user::User>),
    /// A user's name or username changed.
    UserRenamed {
        user_id: String,
        username: String,
        name: String,
    },
    /// A user was deleted; their messages were kept, deleted or re-attributed to
    /// `replaced_by` according to `erasure` (`Message_ErasureType`: Keep, Delete, Unlink).
    UserDeleted {
        user_id: String,
        #[serde(default)]
        erasure: String,
        #[serde(default)]
        replaced_by: Option<comet_core::room::UserStub>,
    },
    /// A user gained or lost a role (globally, or in `room_id`).
    RoleChanged {
        added: bool,
        role: String,
        user_id: String,
        username: String,
        room_id: Option<String>,
    },
    /// Every member has now seen a room's messages up to `until` (read receipts).
    MessagesRead {
        room_id: String,
        until: comet_core::Timestamp,
    },
    /// Messages of a room were deleted in bulk (`rooms.cleanHistory`).
    MessagesCleaned {
        room_id: String,
        oldest: Option<comet_core::Timestamp>,
        latest: Option<comet_core::Timestamp>,
        exclude_pinned: bool,
        user_ids: Vec<String>,
    },
    /// A user's (`username`) or room's (`room_id`) avatar changed; `etag` is the new
    /// `avatarETag`, `None` when it went back to the default (`updateAvatar` on
    /// stream-notify-logged).
    AvatarChanged {
        /// The user's id (their own sessions get `avatarETag` in `userData`).
        user_id: Option<String>,
        username: Option<String>,
        room_id: Option<String>,
        etag: Option<String>,
    },
    /// A change to the workspace's custom emoji, user statuses or sounds, told to every
    /// logged-in session (`stream-notify-logged`) or, with `everyone`, to every session
    /// (`stream-notify-all`) as `name` with the one argument `payload` (upstream's
    /// `{emojiData}`, `{userStatusData}`, `{soundData}`).
    WorkspaceNotice {
        everyone: bool,
        name: String,
        payload: serde_json::Value,
    },
    /// An event for one user's sessions: `stream-notify-user` `<user_id>/<name>` with `args`
    /// (a call ringing, `video-conference`; signalling, `webrtc`).
    UserNotice {
        user_id: String,
        name: String,
        args: serde_json::Value,
    },
    /// An event for a room's members: `stream-notify-room` `<room_id>/<name>` with `args`
    /// (a call changed: `videoconf` with the call's id).
    RoomNotice {
        room_id: String,
        name: String,
        args: serde_json::Value,
    },
    /// A user's visible status changed.
    UserStatus {
        user_id: String,
        username: String,
        status: comet_core::user::Presence,
        status_text: String,
    },
}

/// Publishes events and hands out subscriptions to them.
pub trait EventBus: Send + Sync {
    fn publish(&self, envelope: Envelope);
    fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>>;
    /// Whether events reach the other instances now (always, for a single instance).
    fn connected(&self) -> bool {
        true
    }
    /// Counters for `/metrics`: `(name suffix, value)`.
    fn counters(&self) -> Vec<(&'static str, u64)> {
        Vec::new()
    }
}

/// The single-node bus.
pub struct InProcessBus {
    sender: broadcast::Sender<Arc<Envelope>>,
}

/// How many events a subscriber may fall behind before it loses some.
pub const BUS_CAPACITY: usize = 8192;

impl Default for InProcessBus {
    fn default() -> Self {
        let (sender, _) = broadcast::channel(BUS_CAPACITY);
        InProcessBus { sender }
    }
}

impl EventBus for InProcessBus {
    fn publish(&self, envelope: Envelope) {
        // No subscriber (no live connection) is not an error.
        let _ = self.sender.send(Arc::new(envelope));
    }

    fn subscribe(&self) -> broadcast::Receiver<Arc<Envelope>> {
        self.sender.subscribe()
    }
}

/// What an ephemeral message tells its one reader.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Notice {
    /// Users the reader mentioned are not members of the room; `may_add` when the reader
    /// could add them.
    MentionedOutsideRoom {
        mentions: Vec<comet_core::room::Mention>,
        display_names: Vec<String>,
        may_add: bool,
    },
    /// A plain sentence (e.g. why an action was refused).
    Text(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deleted(id: &str) -> Envelope {
        Envelope::new(
            "i1",
            Event::MessageDeleted {
                room_id: "r".into(),
                message_id: id.into(),
            },
        )
    }

    #[tokio::test]
    async fn subscribers_get_events_published_after_they_subscribed() {
        let bus = InProcessBus::default();
        bus.publish(deleted("before"));
        let mut rx = bus.subscribe();
        let after = deleted("after");
        bus.publish(after.clone());
        let got = rx.recv().await.expect("event");
        assert_eq!(*got, after);
    }

    #[tokio::test]
    async fn envelopes_carry_the_cause_of_the_request_that_published_them() {
        let outside = deleted("x");
        assert_eq!((outside.actor, outside.cause), (Actor::System, None));
        let ann = Actor::User {
            id: "u1".into(),
            username: "ann".into(),
        };
        let cause = Cause {
            actor: ann.clone(),
            request_id: Some("req-1".into()),
        };
        let inside = with_cause(cause, async { deleted("y") }).await;
        assert_eq!(inside.actor, ann);
        assert_eq!(inside.cause.as_deref(), Some("req-1"));
        assert_eq!(inside.instance, "i1");
        assert_eq!(inside.version, EVENT_VERSION);
        assert_ne!(inside.id, deleted("y").id, "every envelope has its own id");
    }
}
