//! The hub: which live sessions listen to what, and fan-out of bus events to them.
//!
//! Each event is encoded once into a DDP `changed` frame and the same bytes are handed to every
//! listening session's bounded queue. A session whose queue is full is closed (1013) rather
//! than allowed to slow the room down or silently miss frames: the close goes ahead of the
//! queue (`Outbox::close_now`), so the client learns at once that it must reconnect and catch up.

use crate::outbox::{Offer, Outbox};
use axum::extract::ws::Utf8Bytes;
use comet_events::{Change, Event};
use comet_protocol::{chat, ejson};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

pub use crate::outbox::Frame;

/// Which of a user's sessions end, by the hash of the token they logged in with.
enum SessionsEnding<'a> {
    All,
    AllBut(&'a str),
    Only(&'a str),
}

impl SessionsEnding<'_> {
    fn ends(&self, token: Option<&str>) -> bool {
        match self {
            SessionsEnding::All => true,
            SessionsEnding::AllBut(kept) => token != Some(*kept),
            SessionsEnding::Only(ended) => token == Some(*ended),
        }
    }
}

/// Most stream events one session may listen to (subscriptions and presence watches).
pub const MAX_LISTENS_PER_SESSION: usize = 2_000;

/// One live DDP session as the hub knows it. Kept small (boxed strings, sorted vectors that
/// allocate only when used): there is one per connection.
struct Listener {
    outbox: Arc<Outbox>,
    user_id: Option<Box<str>>,
    /// The hash of the login token the session logged in with.
    token: Option<Box<str>>,
    /// (stream, event name) subscribed (e.g. `stream-room-messages`, `{rid}`), each with how
    /// many DDP subscriptions ask for it; sorted, at most `MAX_LISTENS_PER_SESSION`.
    events: Vec<(&'static str, Box<str>, u32)>,
    /// Rooms the logged-in user is a member of (keys into `by_member_room`); sorted.
    member_rooms: Vec<Box<str>>,
}

impl Listener {
    fn listen_count(&self) -> usize {
        self.events.len()
    }

    fn find_event(&self, stream: &'static str, event_name: &str) -> Result<usize, usize> {
        self.events
            .binary_search_by(|(s, name, _)| (*s, &**name).cmp(&(stream, event_name)))
    }
}

/// Indexes so that delivering an event costs in proportion to its recipients, never to the
/// number of connected sessions.
#[derive(Default)]
struct Registry {
    listeners: HashMap<u64, Listener>,
    /// Stream → event name → sessions listening to it.
    by_event: HashMap<&'static str, HashMap<String, HashSet<u64>>>,
    /// User id → that user's logged-in sessions.
    by_user: HashMap<String, HashSet<u64>>,
    /// Room id → logged-in sessions whose user is a member (for `rooms-changed`).
    by_member_room: HashMap<String, HashSet<u64>>,
}

fn remove_from<K: std::hash::Hash + Eq + ?Sized>(
    index: &mut HashMap<String, HashSet<u64>>,
    key: &K,
    session: u64,
) where
    String: std::borrow::Borrow<K>,
{
    if let Some(set) = index.get_mut(key) {
        set.remove(&session);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

impl Registry {
    fn forget_memberships(&mut self, session: u64) {
        let Some(listener) = self.listeners.get_mut(&session) else {
            return;
        };
        let rooms = std::mem::take(&mut listener.member_rooms);
        for room in rooms {
            remove_from(&mut self.by_member_room, &*room, session);
        }
    }

    fn add_membership(&mut self, session: u64, room_id: &str) {
        let Some(listener) = self.listeners.get_mut(&session) else {
            return;
        };
        if let Err(at) = listener
            .member_rooms
            .binary_search_by(|r| (**r).cmp(room_id))
        {
            listener.member_rooms.insert(at, room_id.into());
        }
        self.by_member_room
            .entry(room_id.to_owned())
            .or_default()
            .insert(session);
    }

    fn remove_membership(&mut self, session: u64, room_id: &str) {
        if let Some(listener) = self.listeners.get_mut(&session)
            && let Ok(at) = listener
                .member_rooms
                .binary_search_by(|r| (**r).cmp(room_id))
        {
            listener.member_rooms.remove(at);
        }
        remove_from(&mut self.by_member_room, room_id, session);
    }

    fn sessions_of(&self, user_id: &str) -> Vec<u64> {
        self.by_user
            .get(user_id)
            .map(|set| set.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Drops one DDP subscription to an event; with `all`, every one of them.
    fn unlisten(&mut self, session: u64, stream: &'static str, event_name: &str, all: bool) {
        if let Some(listener) = self.listeners.get_mut(&session)
            && let Ok(at) = listener.find_event(stream, event_name)
        {
            let count = &mut listener.events[at].2;
            *count = count.saturating_sub(1);
            if *count > 0 && !all {
                return;
            }
            listener.events.remove(at);
        }
        if let Some(index) = self.by_event.get_mut(stream) {
            remove_from(index, event_name, session);
        }
    }

    /// The sessions listening to `event_name` of `stream`.
    fn listening(&self, stream: &'static str, event_name: &str) -> impl Iterator<Item = &Listener> {
        self.by_event
            .get(stream)
            .and_then(|index| index.get(event_name))
            .into_iter()
            .flatten()
            .filter_map(|id| self.listeners.get(id))
    }

    fn is_listening(&self, session: u64, stream: &'static str, event_name: &str) -> bool {
        self.by_event
            .get(stream)
            .and_then(|index| index.get(event_name))
            .is_some_and(|set| set.contains(&session))
    }
}

/// The set of live sessions.
#[derive(Default)]
pub struct Hub {
    registry: Mutex<Registry>,
    next_id: AtomicU64,
}

/// The streams Comet serves.
pub const ROOM_MESSAGES: &str = "stream-room-messages";
pub const NOTIFY_ROOM: &str = "stream-notify-room";
pub const NOTIFY_USER: &str = "stream-notify-user";
pub const NOTIFY_LOGGED: &str = "stream-notify-logged";
pub const NOTIFY_ALL: &str = "stream-notify-all";
pub const USER_PRESENCE: &str = "stream-user-presence";
pub const ROLES: &str = "stream-roles";

/// The static name of a stream a client asks for, if Comet serves it.
pub fn stream_name(name: &str) -> Option<&'static str> {
    [
        ROOM_MESSAGES,
        NOTIFY_ROOM,
        NOTIFY_USER,
        NOTIFY_LOGGED,
        NOTIFY_ALL,
        USER_PRESENCE,
        ROLES,
    ]
    .into_iter()
    .find(|s| *s == name)
}

/// Encodes a stream event as upstream's `changed` message.
pub fn changed(collection: &str, event_name: &str, args: Value) -> Frame {
    let frame = json!({
        "msg": "changed",
        "collection": collection,
        "id": "id",
        "fields": {"eventName": event_name, "args": args},
    });
    Utf8Bytes::from(frame.to_string())
}

fn presence_code(status: comet_core::user::Presence) -> u8 {
    use comet_core::user::Presence;
    match status {
        Presence::Offline => 0,
        Presence::Online => 1,
        Presence::Away => 2,
        Presence::Busy => 3,
    }
}

impl Hub {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        match self.registry.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        }
    }

    /// Registers a new session; returns its id.
    pub fn join(&self, outbox: Arc<Outbox>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.registry().listeners.insert(
            id,
            Listener {
                outbox,
                user_id: None,
                token: None,
                events: Vec::new(),
                member_rooms: Vec::new(),
            },
        );
        id
    }

    /// Forgets a session and everything it listened to.
    pub fn leave(&self, session: u64) {
        let mut registry = self.registry();
        registry.forget_memberships(session);
        let Some(listener) = registry.listeners.remove(&session) else {
            return;
        };
        if let Some(user_id) = &listener.user_id {
            remove_from(&mut registry.by_user, &**user_id, session);
        }
        for (stream, name, _) in listener.events {
            if let Some(index) = registry.by_event.get_mut(stream) {
                remove_from(index, &*name, session);
            }
        }
    }

    /// Records who is logged in on the session and which rooms they are in.
    /// Stops a session from answering to the token it logged in with (its own `logout`, which
    /// ends that token for every other connection), without logging it out yet.
    pub fn forget_token(&self, session: u64) {
        if let Some(listener) = self.registry().listeners.get_mut(&session) {
            listener.token = None;
        }
    }

    pub fn set_user(
        &self,
        session: u64,
        user_id: Option<String>,
        token: Option<String>,
        rooms: Vec<String>,
    ) {
        let mut registry = self.registry();
        registry.forget_memberships(session);
        let Some(listener) = registry.listeners.get_mut(&session) else {
            return;
        };
        listener.token = token.map(String::into_boxed_str);
        let previous = std::mem::replace(&mut listener.user_id, user_id.as_deref().map(Box::from));
        if let Some(previous) = previous {
            remove_from(&mut registry.by_user, &*previous, session);
        }
        if let Some(user_id) = user_id {
            registry.by_user.entry(user_id).or_default().insert(session);
        }
        let mut rooms = rooms;
        rooms.sort_unstable();
        rooms.dedup();
        if let Some(listener) = registry.listeners.get_mut(&session) {
            listener.member_rooms = rooms.iter().map(|r| Box::from(r.as_str())).collect();
        }
        for room in rooms {
            registry
                .by_member_room
                .entry(room)
                .or_default()
                .insert(session);
        }
    }

    /// Starts delivering `event_name` of `stream` to the session; false when the session
    /// already listens to as many events as it may.
    pub fn listen(&self, session: u64, stream: &'static str, event_name: &str) -> bool {
        let mut registry = self.registry();
        let Some(listener) = registry.listeners.get_mut(&session) else {
            return false;
        };
        match listener.find_event(stream, event_name) {
            Ok(at) => listener.events[at].2 += 1,
            Err(_) if listener.listen_count() >= MAX_LISTENS_PER_SESSION => return false,
            Err(at) => listener.events.insert(at, (stream, event_name.into(), 1)),
        }
        registry
            .by_event
            .entry(stream)
            .or_default()
            .entry(event_name.to_owned())
            .or_default()
            .insert(session);
        true
    }

    /// Stops delivering `event_name` of `stream` to the session.
    pub fn unlisten(&self, session: u64, stream: &'static str, event_name: &str) {
        self.registry().unlisten(session, stream, event_name, false);
    }

    fn send(listener: &Listener, frame: &Frame) {
        match listener.outbox.offer(frame) {
            // Closing: a frame now would arrive after a gap the client cannot see.
            Offer::Closing => {}
            Offer::Queued => comet_metrics::REALTIME_FRAMES.inc(),
            Offer::Full => {
                comet_metrics::REALTIME_FRAMES.inc();
                comet_metrics::REALTIME_SLOW_CONSUMERS.inc();
                tracing::warn!("closing a realtime session that cannot keep up (1013)");
                listener.outbox.close_now(1013, "slow consumer");
            }
        }
    }

    /// Closes every session after what is already queued for it; returns how many. For when
    /// the hub itself missed events (its dispatcher fell behind the bus): a client that went
    /// on would never learn of the gap, while one that reconnects catches up as after any
    /// reconnection (`1013`, try again later).
    pub fn close_all(&self, code: u16, reason: &'static str) -> usize {
        let registry = self.registry();
        for listener in registry.listeners.values() {
            Self::close(listener, code, reason);
        }
        registry.listeners.len()
    }

    /// Closes a session after the frames already queued for it, or at once when its queue is
    /// full (those frames could not all be delivered anyway).
    fn close(listener: &Listener, code: u16, reason: &'static str) {
        if !listener.outbox.offer_close(code, reason) {
            listener.outbox.close_now(code, reason);
        }
    }

    /// Sends a frame to the sessions listening to `event_name` of `stream`, optionally only
    /// those of one user.
    ///
    /// The frame is made only once someone listens: most events of a busy server reach no
    /// session of this instance (no one has the room open here), and encoding a message is
    /// most of what dispatching it costs.
    fn deliver(
        &self,
        stream: &'static str,
        event_name: &str,
        only_user: Option<&str>,
        frame: impl FnOnce() -> Frame,
    ) {
        let registry = self.registry();
        let mut frame = Some(frame);
        let mut made: Option<Frame> = None;
        for listener in registry.listening(stream, event_name) {
            if only_user.is_none_or(|u| listener.user_id.as_deref() == Some(u)) {
                if made.is_none() {
                    made = frame.take().map(|make| make());
                }
                if let Some(made) = &made {
                    Self::send(listener, made);
                }
            }
        }
    }

    /// Turns one bus event into frames for the sessions that listen to it.
    pub fn dispatch(&self, event: &Event) {
        match event {
            Event::Message(message) => {
                self.deliver(ROOM_MESSAGES, &message.room_id, None, || {
                    changed(
                        ROOM_MESSAGES,
                        &message.room_id,
                        json!([ejson(chat::message(message))]),
                    )
                });
            }
            Event::Ephemeral {
                user_id,
                room_id,
                thread_id,
                notice,
            } => {
                let at = comet_core::now();
                let mut message = match notice {
                    comet_events::Notice::MentionedOutsideRoom {
                        mentions,
                        display_names,
                        may_add,
                    } => {
                        let names = display_names
                            .iter()
                            .map(|n| format!("*{n}*"))
                            .collect::<Vec<_>>()
                            .join(", ");
                        let text = if *may_add {
                            format!("You mentioned {names}, but they're not in this room.")
                        } else {
                            format!(
                                "You mentioned {names}, but they're not in this room. You can ask a room admin to add them."
                            )
                        };
                        json!({
                            "msg": "",
                            "mentions": mentions
                                .iter()
                                .map(|m| json!({"_id": m.id, "username": m.username, "name": m.name}))
                                .collect::<Vec<_>>(),
                            "blocks": [{
                                "appId": "mention-core",
                                "type": "section",
                                "text": {"type": "mrkdwn", "text": text},
                            }],
                        })
                    }
                    comet_events::Notice::Text(text) => json!({"msg": text}),
                };
                if let Value::Object(map) = &mut message {
                    map.insert("_id".into(), json!(at.timestamp_millis().to_string()));
                    map.insert("rid".into(), json!(room_id));
                    map.insert("ts".into(), json!({"$date": at.timestamp_millis()}));
                    map.insert("_updatedAt".into(), json!({"$date": at.timestamp_millis()}));
                    map.insert("u".into(), json!({"_id": "rocket.cat", "username": "rocket.cat", "name": "Rocket.Cat"}));
                    map.insert("private".into(), json!(true));
                    map.insert("groupable".into(), json!(false));
                    if let Some(tmid) = thread_id {
                        map.insert("tmid".into(), json!(tmid));
                    }
                }
                let name = format!("{user_id}/message");
                self.deliver(NOTIFY_USER, &name, Some(user_id), || {
                    changed(NOTIFY_USER, &name, json!([message]))
                });
            }
            Event::MessageDeleted {
                room_id,
                message_id,
            } => {
                let name = format!("{room_id}/deleteMessage");
                self.deliver(NOTIFY_ROOM, &name, None, || {
                    changed(NOTIFY_ROOM, &name, json!([{"_id": message_id}]))
                });
            }
            Event::UserActivity {
                room_id,
                username,
                activities,
                thread_id,
            } => {
                let extras = match thread_id {
                    Some(tmid) => json!({"tmid": tmid}),
                    None => json!({}),
                };
                let name = format!("{room_id}/user-activity");
                self.deliver(NOTIFY_ROOM, &name, None, || {
                    changed(NOTIFY_ROOM, &name, json!([username, activities, extras]))
                });
                let typing = activities.iter().any(|a| a == "user-typing");
                let legacy = format!("{room_id}/typing");
                self.deliver(NOTIFY_ROOM, &legacy, None, || {
                    changed(NOTIFY_ROOM, &legacy, json!([username, typing]))
                });
            }
            Event::Room { room, last_message } => {
                let registry = self.registry();
                let Some(sessions) = registry.by_member_room.get(&room.id) else {
                    return;
                };
                // Made once, for the first member session that listens (most rooms have none
                // open on this instance).
                let mut args: Option<String> = None;
                let mut mine: Option<Frame> = None;
                let mut name = String::new();
                for id in sessions {
                    let Some(listener) = registry.listeners.get(id) else {
                        continue;
                    };
                    let Some(user_id) = listener.user_id.as_deref() else {
                        continue;
                    };
                    // A new message also goes to members listening to `__my_messages__`.
                    if let Some(message) = last_message
                        && registry.is_listening(*id, ROOM_MESSAGES, "__my_messages__")
                    {
                        let frame = mine.get_or_insert_with(|| {
                            let context = json!({
                                "roomParticipant": true,
                                "roomType": room.room_type.as_str(),
                                "roomName": room.name,
                            });
                            changed(
                                ROOM_MESSAGES,
                                "__my_messages__",
                                json!([ejson(chat::message(message)), context]),
                            )
                        });
                        Self::send(listener, frame);
                    }
                    // Rooms go out as `rooms-changed` to each member, under their own event
                    // name; one reused buffer, as this runs for every member session per
                    // message.
                    name.clear();
                    name.push_str(user_id);
                    name.push_str("/rooms-changed");
                    if registry.is_listening(*id, NOTIFY_USER, &name) {
                        let args = args.get_or_insert_with(|| {
                            let doc = ejson(chat::room(room, last_message.as_deref()));
                            json!(["updated", doc]).to_string()
                        });
                        let frame = Frame::from(format!(
                            r#"{{"msg":"changed","collection":"{NOTIFY_USER}","id":"id","fields":{{"eventName":{},"args":{args}}}}}"#,
                            Value::String(name.clone())
                        ));
                        Self::send(listener, &frame);
                    }
                }
            }
            Event::Subscription {
                change,
                subscription,
            } => {
                let user_id = &subscription.user.id;
                self.track_membership(*change, &subscription.room_id, user_id);
                let name = format!("{user_id}/subscriptions-changed");
                self.deliver(NOTIFY_USER, &name, Some(user_id), || {
                    let args = json!([change.as_str(), ejson(chat::subscription(subscription))]);
                    changed(NOTIFY_USER, &name, args)
                });
                if *change == Change::Removed {
                    self.stop_room_for_user(&subscription.room_id, user_id);
                }
            }
            Event::RoleDefined(role) | Event::RoleRemoved(role) => {
                let kind = if matches!(event, Event::RoleRemoved(_)) {
                    "removed"
                } else {
                    "changed"
                };
                let mut doc = comet_protocol::rest::role(role);
                if let Value::Object(map) = &mut doc {
                    map.insert("type".into(), json!(kind));
                }
                self.deliver(ROLES, "roles", None, || {
                    changed(ROLES, "roles", json!([doc]))
                });
            }
            Event::UserChanged(user) => {
                let diff = json!({
                    "name": user.name,
                    "username": user.username,
                    "status": user.status.as_str(),
                    "statusDefault": user.status_default.as_str(),
                    "statusText": user.status_text,
                    "active": user.active,
                    "roles": user.roles,
                    "utcOffset": comet_protocol::rest::utc_offset(user.utc_offset),
                    "settings.preferences": user.preferences,
                });
                let name = format!("{}/userData", user.id);
                let args = json!([{"type": "updated", "id": user.id, "diff": diff, "unset": {}}]);
                self.deliver(NOTIFY_USER, &name, Some(&user.id), || {
                    changed(NOTIFY_USER, &name, args)
                });
            }
            Event::UserRenamed {
                user_id,
                username,
                name,
            } => {
                let args = json!([{"_id": user_id, "name": name, "username": username}]);
                let event = "Users:NameChanged";
                self.deliver(NOTIFY_LOGGED, event, None, || {
                    changed(NOTIFY_LOGGED, event, args)
                });
            }
            Event::UserDeleted {
                user_id,
                erasure,
                replaced_by,
            } => {
                // Upstream tells clients only when messages went away or changed hands, so
                // that kept messages do not vanish from open sessions.
                let args = match (erasure.as_str(), replaced_by) {
                    ("Delete", _) => json!([{"userId": user_id, "messageErasureType": "Delete"}]),
                    ("Unlink", Some(by)) => json!([{
                        "userId": user_id,
                        "messageErasureType": "Unlink",
                        "replaceByUser": {"_id": by.id, "username": by.username, "alias": comet_core::user::REMOVED_USER_ALIAS},
                    }]),
                    _ => return,
                };
                let event = "Users:Deleted";
                self.deliver(NOTIFY_LOGGED, event, None, || {
                    changed(NOTIFY_LOGGED, event, args)
                });
            }
            Event::RoleChanged {
                added,
                role,
                user_id,
                username,
                room_id,
            } => {
                let mut change = json!({
                    "type": if *added { "added" } else { "removed" },
                    "_id": role,
                    "u": {"_id": user_id, "username": username},
                });
                if let (Some(rid), Value::Object(map)) = (room_id, &mut change) {
                    map.insert("scope".into(), json!(rid));
                }
                let event = "roles-change";
                self.deliver(NOTIFY_LOGGED, event, None, || {
                    changed(NOTIFY_LOGGED, event, json!([change]))
                });
            }
            Event::MessagesRead { room_id, until } => {
                let name = format!("{room_id}/messagesRead");
                let args = json!([{"until": {"$date": until.timestamp_millis()}}]);
                self.deliver(NOTIFY_ROOM, &name, None, || {
                    changed(NOTIFY_ROOM, &name, args)
                });
            }
            Event::MessagesCleaned {
                room_id,
                oldest,
                latest,
                exclude_pinned,
                user_ids,
            } => {
                let mut ts = serde_json::Map::new();
                if let Some(oldest) = oldest {
                    ts.insert("$gt".into(), json!({"$date": oldest.timestamp_millis()}));
                }
                if let Some(latest) = latest {
                    ts.insert("$lt".into(), json!({"$date": latest.timestamp_millis()}));
                }
                let args = json!([{
                    "rid": room_id,
                    "excludePinned": exclude_pinned,
                    "ignoreDiscussion": true,
                    "ts": ts,
                    "users": user_ids,
                }]);
                let name = format!("{room_id}/deleteMessageBulk");
                self.deliver(NOTIFY_ROOM, &name, None, || {
                    changed(NOTIFY_ROOM, &name, args)
                });
            }
            Event::SessionsEnded { .. }
            | Event::OtherSessionsEnded { .. }
            | Event::SessionEnded { .. } => {
                let (user_id, ending) = match event {
                    Event::OtherSessionsEnded {
                        user_id,
                        kept_token,
                    } => (user_id, SessionsEnding::AllBut(kept_token)),
                    Event::SessionEnded { user_id, token } => {
                        (user_id, SessionsEnding::Only(token))
                    }
                    Event::SessionsEnded { user_id } => (user_id, SessionsEnding::All),
                    _ => return,
                };
                let name = format!("{user_id}/force_logout");
                let frame = changed(NOTIFY_USER, &name, json!([]));
                let registry = self.registry();
                for id in registry.by_user.get(user_id).into_iter().flatten() {
                    if let Some(listener) = registry.listeners.get(id)
                        && ending.ends(listener.token.as_deref())
                    {
                        Self::send(listener, &frame);
                        Self::close(listener, 4001, "logged out");
                    }
                }
            }
            Event::Setting {
                id, value, public, ..
            } => {
                if *public {
                    let args = json!(["updated", {"_id": id, "value": value}]);
                    let name = "public-settings-changed";
                    self.deliver(NOTIFY_ALL, name, None, || changed(NOTIFY_ALL, name, args));
                }
            }
            Event::Permission(permission) => {
                let doc = json!({
                    "_id": permission.id,
                    "roles": permission.roles,
                    "_updatedAt": {"$date": permission.updated_at.timestamp_millis()},
                });
                let name = "permissions-changed";
                self.deliver(NOTIFY_LOGGED, name, None, || {
                    changed(NOTIFY_LOGGED, name, json!(["updated", doc]))
                });
            }
            Event::UserNotice {
                user_id,
                name,
                args,
            } => {
                let name = format!("{user_id}/{name}");
                self.deliver(NOTIFY_USER, &name, Some(user_id), || {
                    changed(NOTIFY_USER, &name, args.clone())
                });
            }
            Event::RoomNotice {
                room_id,
                name,
                args,
            } => {
                let name = format!("{room_id}/{name}");
                self.deliver(NOTIFY_ROOM, &name, None, || {
                    changed(NOTIFY_ROOM, &name, args.clone())
                });
            }
            Event::WorkspaceNotice {
                everyone,
                name,
                payload,
            } => {
                let stream = if *everyone { NOTIFY_ALL } else { NOTIFY_LOGGED };
                let args = json!([payload]);
                self.deliver(stream, name, None, || changed(stream, name, args));
            }
            Event::AvatarChanged {
                user_id,
                username,
                room_id,
                etag,
            } => {
                // The user's own sessions see the new `avatarETag` on their user document.
                if let Some(user_id) = user_id {
                    let (diff, unset) = match etag {
                        Some(etag) => (json!({"avatarETag": etag}), json!({})),
                        None => (json!({}), json!({"avatarETag": 1})),
                    };
                    let name = format!("{user_id}/userData");
                    let args =
                        json!([{"type": "updated", "id": user_id, "diff": diff, "unset": unset}]);
                    self.deliver(NOTIFY_USER, &name, Some(user_id), || {
                        changed(NOTIFY_USER, &name, args)
                    });
                }
                // Upstream's listener sends `{username, etag}` for users and `{rid, etag}` for
                // rooms; a reset leaves `etag` out.
                let mut change = serde_json::Map::new();
                if let Some(username) = username {
                    change.insert("username".into(), json!(username));
                }
                if let Some(rid) = room_id {
                    change.insert("rid".into(), json!(rid));
                }
                if let Some(etag) = etag {
                    change.insert("etag".into(), json!(etag));
                }
                let event = "updateAvatar";
                self.deliver(NOTIFY_LOGGED, event, None, || {
                    changed(NOTIFY_LOGGED, event, json!([change]))
                });
            }
            Event::UserStatus {
                user_id,
                username,
                status,
                status_text,
            } => {
                let presence = json!({
                    "msg": "changed",
                    "collection": USER_PRESENCE,
                    "id": user_id,
                    "fields": {
                        "uid": user_id,
                        "args": [username, presence_code(*status), status_text],
                        "eventName": user_id,
                    },
                });
                self.deliver(USER_PRESENCE, user_id, None, || {
                    Frame::from(presence.to_string())
                });
                let args = json!([[user_id, username, presence_code(*status), status_text]]);
                self.deliver(NOTIFY_LOGGED, "user-status", None, || {
                    changed(NOTIFY_LOGGED, "user-status", args)
                });
            }
            // Only the service's session cache cares; clients see nothing.
            Event::SessionsStale { .. } => {}
        }
    }

    /// Logged-in members of a room with a session listening to `<uid>/<event>` on
    /// `stream-notify-user`.
    pub fn members_listening(&self, room_id: &str, event: &str) -> Vec<String> {
        let registry = self.registry();
        // One reused buffer: this runs for every member session per message.
        let mut name = String::new();
        let mut users: Vec<String> = registry
            .by_member_room
            .get(room_id)
            .into_iter()
            .flatten()
            .filter_map(|id| {
                let user_id = registry.listeners.get(id)?.user_id.as_deref()?;
                name.clear();
                name.push_str(user_id);
                name.push('/');
                name.push_str(event);
                registry
                    .is_listening(*id, NOTIFY_USER, &name)
                    .then(|| user_id.to_owned())
            })
            .collect();
        users.sort();
        users.dedup();
        users
    }

    /// Sends a desktop notification to a user's sessions.
    pub fn send_notification(&self, user_id: &str, notification: Value) {
        let name = format!("{user_id}/notification");
        self.deliver(NOTIFY_USER, &name, Some(user_id), || {
            changed(NOTIFY_USER, &name, json!([notification]))
        });
    }

    /// Sends a member their updated subscription.
    pub fn send_subscription(&self, subscription: &comet_core::room::Subscription) {
        let user_id = &subscription.user.id;
        let name = format!("{user_id}/subscriptions-changed");
        self.deliver(NOTIFY_USER, &name, Some(user_id), || {
            let args = json!(["updated", ejson(chat::subscription(subscription))]);
            changed(NOTIFY_USER, &name, args)
        });
    }

    /// Keeps the member-room index in step with joins and removals.
    fn track_membership(&self, change: Change, room_id: &str, user_id: &str) {
        let mut registry = self.registry();
        for id in registry.sessions_of(user_id) {
            match change {
                Change::Inserted => registry.add_membership(id, room_id),
                Change::Removed => registry.remove_membership(id, room_id),
                Change::Updated => {}
            }
        }
    }

    /// A member removed from a room stops receiving it at once (until they may again).
    fn stop_room_for_user(&self, room_id: &str, user_id: &str) {
        let mut registry = self.registry();
        let prefix = format!("{room_id}/");
        for id in registry.sessions_of(user_id) {
            registry.unlisten(id, ROOM_MESSAGES, room_id, true);
            let room_events: Vec<Box<str>> = registry
                .listeners
                .get(&id)
                .into_iter()
                .flat_map(|l| &l.events)
                .filter(|(stream, name, _)| *stream == NOTIFY_ROOM && name.starts_with(&prefix))
                .map(|(_, name, _)| name.clone())
                .collect();
            for name in room_events {
                registry.unlisten(id, NOTIFY_ROOM, &name, true);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_all_sessions_ends_each_after_what_it_already_had() {
        let hub = Hub::default();
        let outboxes: Vec<Arc<Outbox>> = (0..2).map(|_| Arc::new(Outbox::default())).collect();
        for outbox in &outboxes {
            hub.join(outbox.clone());
        }
        assert_eq!(hub.close_all(1013, "missed events"), 2);
        for outbox in outboxes {
            assert!(matches!(
                outbox.pop(),
                Some(crate::outbox::Outgoing::Close(1013, "missed events"))
            ));
        }
    }

    #[test]
    fn a_frame_is_made_only_when_someone_listens_and_then_once() {
        let hub = Hub::default();
        let made = std::cell::Cell::new(0);
        let make = || {
            made.set(made.get() + 1);
            changed(NOTIFY_ROOM, "room/typing", json!(["ann", true]))
        };
        let elsewhere = hub.join(Arc::new(Outbox::default()));
        assert!(hub.listen(elsewhere, NOTIFY_ROOM, "other-room/typing"));
        hub.deliver(NOTIFY_ROOM, "room/typing", None, make);
        assert_eq!(made.get(), 0, "encoded for no one");

        let outboxes: Vec<Arc<Outbox>> = (0..3).map(|_| Arc::new(Outbox::default())).collect();
        for outbox in &outboxes {
            let session = hub.join(outbox.clone());
            assert!(hub.listen(session, NOTIFY_ROOM, "room/typing"));
        }
        hub.deliver(NOTIFY_ROOM, "room/typing", None, make);
        assert_eq!(made.get(), 1, "encoded once for every listener");
        for outbox in outboxes {
            assert!(matches!(
                outbox.pop(),
                Some(crate::outbox::Outgoing::Frame(frame)) if frame.as_str().contains("room/typing")
            ));
        }
    }
}
