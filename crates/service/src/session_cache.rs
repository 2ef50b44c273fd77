//! Sessions recently authenticated, so that a request with a token seen moments ago does not
//! read the database again.
//!
//! An entry is the user and token a hashed login token resolved to. It is dropped the moment
//! anything that decides what the session may do changes: every event naming a user
//! (tokens removed, logout, deactivation, deletion, roles, profile, status) drops that user's
//! entries, on this instance when the event is published and on the others when it arrives
//! over the bus (see [`user_whose_sessions_change`]). Changes that have no event of their own
//! publish [`Event::SessionsStale`]. A session read from the store is cached only if no
//! invalidation happened while it was being read, so a read that raced a revocation cannot
//! put the revoked session back. The size bound and the time to live are safety nets: the
//! cache never holds more than [`SESSION_CACHE_CAPACITY`] sessions, none for longer than
//! [`SESSION_CACHE_TTL`], whatever events are lost.

use crate::Session;
use comet_events::Event;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most sessions kept; beyond it the oldest entry goes first.
pub const SESSION_CACHE_CAPACITY: usize = 10_000;
/// Longest an entry is used before the store is read again.
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(30);

/// Which cached sessions an event makes stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stale<'a> {
    User(&'a str),
    Everyone,
}

/// The users whose cached sessions `event` makes stale, if any.
pub(crate) fn user_whose_sessions_change(event: &Event) -> Option<Stale<'_>> {
    match event {
        Event::SessionsEnded { user_id }
        | Event::OtherSessionsEnded { user_id, .. }
        | Event::SessionEnded { user_id, .. }
        | Event::UserRenamed { user_id, .. }
        | Event::UserDeleted { user_id, .. }
        | Event::RoleChanged { user_id, .. }
        | Event::UserStatus { user_id, .. }
        | Event::AvatarChanged {
            user_id: Some(user_id),
            ..
        } => Some(Stale::User(user_id)),
        Event::UserChanged(user) => Some(Stale::User(&user.id)),
        Event::SessionsStale { user_id } => Some(match user_id {
            Some(user_id) => Stale::User(user_id),
            None => Stale::Everyone,
        }),
        _ => None,
    }
}

/// What `me` shows of a user beyond the user record, cached beside their sessions and dropped
/// with them (the events that end or change a session also cover these: a second factor
/// enabled ends the other sessions, one disabled publishes [`Event::SessionsStale`], an avatar
/// change publishes `AvatarChanged`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFacts {
    pub totp_enabled: bool,
    pub email_two_factor_enabled: bool,
    pub avatar_etag: Option<String>,
}

struct Entry {
    session: Session,
    inserted: Instant,
    /// Tells this entry from a later one for the same token in `order`.
    serial: u64,
}

#[derive(Default)]
struct Entries {
    by_token: HashMap<String, Entry>,
    /// Hashed tokens by user, to drop a user's sessions without a scan.
    by_user: HashMap<String, Vec<String>>,
    /// `(serial, hashed token)` in insertion order: the oldest is evicted first and expires
    /// first. Entries removed early leave their item here until it reaches the front.
    order: VecDeque<(u64, String)>,
    /// Per user: bounded by the capacity too (emptied when full).
    facts: HashMap<String, (AccountFacts, Instant)>,
    next_serial: u64,
    /// Counts invalidations: an insert is refused if any happened since its read began.
    generation: u64,
}

impl Entries {
    fn remove_token(&mut self, hashed_token: &str) {
        if let Some(entry) = self.by_token.remove(hashed_token) {
            let user_id = &entry.session.user.id;
            if let Some(tokens) = self.by_user.get_mut(user_id) {
                tokens.retain(|t| t != hashed_token);
                if tokens.is_empty() {
                    self.by_user.remove(user_id);
                }
            }
        }
    }

    /// Pops evicted or expired items off the front of `order`.
    fn trim(&mut self, now: Instant, capacity: usize, ttl: Duration) {
        while let Some((serial, token)) = self.order.front() {
            let current = self.by_token.get(token).filter(|e| e.serial == *serial);
            let keep = match current {
                Some(entry) => {
                    self.order.len() <= capacity && now.duration_since(entry.inserted) < ttl
                }
                // Already removed (or replaced by a newer entry): the item is only a leftover.
                None => false,
            };
            if keep {
                break;
            }
            let is_current = current.is_some();
            let token = token.clone();
            self.order.pop_front();
            if is_current {
                self.remove_token(&token);
            }
        }
    }
}

/// A bounded, self-expiring map from hashed login tokens to sessions.
pub(crate) struct SessionCache {
    entries: Mutex<Entries>,
    capacity: usize,
    ttl: Duration,
}

impl Default for SessionCache {
    fn default() -> Self {
        SessionCache::new(SESSION_CACHE_CAPACITY, SESSION_CACHE_TTL)
    }
}

impl SessionCache {
    pub(crate) fn new(capacity: usize, ttl: Duration) -> Self {
        SessionCache {
            entries: Mutex::new(Entries::default()),
            capacity,
            ttl,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The cached session for a hashed token, unless it is older than the time to live.
    pub(crate) fn get(&self, hashed_token: &str) -> Option<Session> {
        let entries = self.lock();
        let entry = entries.by_token.get(hashed_token)?;
        (entry.inserted.elapsed() < self.ttl).then(|| entry.session.clone())
    }

    /// Read before the store is asked; pass it to [`SessionCache::insert`].
    pub(crate) fn generation(&self) -> u64 {
        self.lock().generation
    }

    /// Caches a session read from the store, unless some invalidation happened after
    /// `generation` was taken (the read may then predate it).
    pub(crate) fn insert(&self, generation: u64, session: &Session) {
        let now = Instant::now();
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        let token = session.token.hashed_token.clone();
        entries.remove_token(&token);
        let serial = entries.next_serial;
        entries.next_serial += 1;
        entries
            .by_user
            .entry(session.user.id.clone())
            .or_default()
            .push(token.clone());
        entries.by_token.insert(
            token.clone(),
            Entry {
                session: session.clone(),
                inserted: now,
                serial,
            },
        );
        entries.order.push_back((serial, token));
        entries.trim(now, self.capacity, self.ttl);
    }

    /// Drops the sessions `stale` names.
    pub(crate) fn invalidate(&self, stale: Stale<'_>) {
        let mut entries = self.lock();
        entries.generation += 1;
        match stale {
            Stale::User(user_id) => {
                for token in entries.by_user.remove(user_id).unwrap_or_default() {
                    entries.by_token.remove(&token);
                }
                entries.facts.remove(user_id);
            }
            Stale::Everyone => {
                entries.by_token.clear();
                entries.by_user.clear();
                entries.order.clear();
                entries.facts.clear();
            }
        }
    }

    /// A user's cached facts, unless older than the time to live.
    pub(crate) fn facts(&self, user_id: &str) -> Option<AccountFacts> {
        let entries = self.lock();
        let (facts, inserted) = entries.facts.get(user_id)?;
        (inserted.elapsed() < self.ttl).then(|| facts.clone())
    }

    /// Caches a user's facts read from the store, on the terms of [`SessionCache::insert`].
    pub(crate) fn insert_facts(&self, generation: u64, user_id: &str, facts: AccountFacts) {
        let mut entries = self.lock();
        if entries.generation != generation {
            return;
        }
        if entries.facts.len() >= self.capacity {
            entries.facts.clear();
        }
        entries
            .facts
            .insert(user_id.to_owned(), (facts, Instant::now()));
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().by_token.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use comet_core::user::{LoginToken, Presence, TokenKind, User, UserType};

    fn session(user_id: &str, token: &str) -> Session {
        let at = comet_core::now();
        let user = User {
            id: user_id.to_owned(),
            username: format!("name-{user_id}"),
            name: String::new(),
            email: None,
            user_type: UserType::User,
            active: true,
            roles: vec!["user".to_owned()],
            status: Presence::Offline,
            status_default: Presence::Online,
            status_connection: Presence::Offline,
            status_text: String::new(),
            utc_offset: 0.0,
            password_bcrypt: None,
            require_password_change: false,
            language: None,
            nickname: None,
            bio: None,
            preferences: serde_json::json!({}),
            custom_fields: None,
            created_at: at,
            updated_at: at,
            last_login: None,
            approved: true,
        };
        Session {
            user,
            token: LoginToken {
                user_id: user_id.to_owned(),
                hashed_token: token.to_owned(),
                created_at: comet_core::now(),
                kind: TokenKind::Login,
                two_factor_until: None,
                two_factor_client: None,
            },
        }
    }

    #[test]
    fn a_cached_session_is_found_by_its_token() {
        let cache = SessionCache::default();
        cache.insert(cache.generation(), &session("u1", "t1"));
        assert_eq!(cache.get("t1").map(|s| s.user.id), Some("u1".to_owned()));
        assert!(cache.get("t2").is_none());
    }

    #[test]
    fn invalidating_a_user_drops_all_their_sessions_and_no_one_elses() {
        let cache = SessionCache::default();
        for (user, token) in [("u1", "a"), ("u1", "b"), ("u2", "c")] {
            cache.insert(cache.generation(), &session(user, token));
        }
        cache.invalidate(Stale::User("u1"));
        assert!(cache.get("a").is_none());
        assert!(cache.get("b").is_none());
        assert!(cache.get("c").is_some());
        cache.invalidate(Stale::Everyone);
        assert!(cache.get("c").is_none());
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_cached() {
        let cache = SessionCache::default();
        let before_the_read = cache.generation();
        cache.invalidate(Stale::User("u1"));
        cache.insert(before_the_read, &session("u1", "t1"));
        assert!(cache.get("t1").is_none());
    }

    #[test]
    fn the_size_bound_evicts_the_oldest_first() {
        let cache = SessionCache::new(3, Duration::from_secs(60));
        for n in 0..5 {
            cache.insert(cache.generation(), &session("u", &format!("t{n}")));
        }
        assert_eq!(cache.len(), 3);
        assert!(cache.get("t0").is_none());
        assert!(cache.get("t1").is_none());
        assert!(cache.get("t4").is_some());
    }

    #[test]
    fn removed_entries_do_not_fill_the_queue_forever() {
        let cache = SessionCache::new(2, Duration::from_secs(60));
        for n in 0..100 {
            cache.insert(cache.generation(), &session("u", &format!("t{n}")));
            cache.invalidate(Stale::User("u"));
        }
        cache.insert(cache.generation(), &session("u", "last"));
        assert!(cache.lock().order.len() <= 2);
        assert!(cache.get("last").is_some());
    }

    #[test]
    fn facts_go_with_their_user_and_respect_the_bound() {
        let cache = SessionCache::new(2, Duration::from_secs(60));
        let facts = AccountFacts {
            totp_enabled: true,
            email_two_factor_enabled: false,
            avatar_etag: Some("e".into()),
        };
        cache.insert_facts(cache.generation(), "u1", facts.clone());
        assert_eq!(cache.facts("u1"), Some(facts.clone()));
        cache.invalidate(Stale::User("u1"));
        assert_eq!(cache.facts("u1"), None);
        let stale = cache.generation();
        cache.invalidate(Stale::User("u2"));
        cache.insert_facts(stale, "u1", facts.clone());
        assert_eq!(cache.facts("u1"), None, "raced an invalidation");
        for user in ["a", "b", "c"] {
            cache.insert_facts(cache.generation(), user, facts.clone());
        }
        assert!(cache.lock().facts.len() <= 2);
    }

    #[test]
    fn entries_expire() {
        let cache = SessionCache::new(10, Duration::ZERO);
        cache.insert(cache.generation(), &session("u", "t"));
        assert!(cache.get("t").is_none());
    }

    #[test]
    fn events_naming_a_user_make_their_sessions_stale() {
        let ended = Event::SessionEnded {
            user_id: "u1".into(),
            token: "h".into(),
        };
        assert_eq!(user_whose_sessions_change(&ended), Some(Stale::User("u1")));
        assert_eq!(
            user_whose_sessions_change(&Event::SessionsStale { user_id: None }),
            Some(Stale::Everyone)
        );
        let deleted = Event::MessageDeleted {
            room_id: "r".into(),
            message_id: "m".into(),
        };
        assert_eq!(user_whose_sessions_change(&deleted), None);
    }
}
