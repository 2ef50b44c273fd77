//! Pins, stars, threads, sync and counters.

use crate::Messages;
use crate::rooms::RoomAccess;
use crate::rooms::{RoomFamily, RoomRef, system_message};
use crate::{Session, store_error};
use comet_core::page::{Direction, Page};
use comet_core::room::{Message, Subscription, UserStub};
use comet_core::{Error, Result, Timestamp, now};
use comet_store::{MessageChange, MessageFilter, MessageSortKey};
use serde_json::json;

/// `channels.counters` / `groups.counters` / `im.counters`.
#[derive(Debug, Clone)]
pub struct Counters {
    pub joined: bool,
    pub members: Option<i64>,
    pub unreads: Option<i64>,
    pub unreads_from: Option<Timestamp>,
    pub msgs: Option<i64>,
    pub latest: Option<Timestamp>,
    pub user_mentions: Option<i64>,
}

/// What changed in a room since a time (`chat.syncMessages`).
#[derive(Debug, Clone)]
pub struct MessageSync {
    pub updated: Vec<Message>,
    pub deleted: Vec<(String, Timestamp)>,
}

/// Which changes a cursor page of `chat.syncMessages` walks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncKind {
    /// Messages by `_updatedAt`.
    Updated,
    /// Deletions by `_deletedAt`.
    Deleted,
}

/// A `chat.syncMessages` request as upstream's `getMessageHistory` reads it.
#[derive(Debug, Clone, Default)]
pub struct SyncRequest {
    pub last_update: Option<Timestamp>,
    pub kind: Option<SyncKind>,
    /// Cursors: a time in milliseconds, as text, as clients send them back.
    pub next: Option<String>,
    pub previous: Option<String>,
    pub count: u64,
}

/// One answer of `chat.syncMessages`: `cursor` is set in cursor mode only.
#[derive(Debug, Clone)]
pub struct SyncPage {
    pub updated: Vec<Message>,
    pub deleted: Vec<(String, Timestamp)>,
    /// `(next, previous)`.
    pub cursor: Option<(Option<String>, Option<String>)>,
}

/// A cursor as upstream reads one: an integer of milliseconds, else "Invalid Date".
fn cursor_time(cursor: &str) -> Result<Timestamp> {
    let digits = cursor.trim_start();
    // parseInt: an optional sign and the leading digits; anything after is ignored.
    let end = digits
        .char_indices()
        .find(|&(i, c)| !(c.is_ascii_digit() || (i == 0 && (c == '-' || c == '+'))))
        .map_or(digits.len(), |(i, _)| i);
    digits[..end]
        .parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
        .ok_or_else(|| Error::failure("Invalid Date"))
}

/// Which threads of a room `chat.getThreadsList` lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadKind {
    All,
    /// Threads the caller follows.
    Following,
    /// Threads with replies the caller has not read (their subscription's `tunread`).
    Unread,
}

impl Messages<'_> {
    /// `chat.pinMessage`: pins and posts a `message_pinned` system message quoting it.
    pub async fn pin_message(
        &self,
        session: &Session,
        message_id: &str,
        pinned: bool,
    ) -> Result<Option<Message>> {
        if !self.ctx.setting_bool("Message_AllowPinning") {
            return Err(
                Error::meteor("error-action-not-allowed", "Message pinning not allowed")
                    .with_details(json!({"method": "pinMessage", "action": "Message_pinning"})),
            );
        }
        let message = self
            .ctx
            .store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?
            .filter(|m| m.deleted_at.is_none())
            .ok_or_else(crate::messages::message_not_found)?;
        // Upstream asks for the caller's subscription before the permission: whoever is not in
        // the room, even with `pin-message` (an admin), is told the message was not found.
        if self
            .ctx
            .rooms()
            .subscription(session, &message.room_id)
            .await?
            .is_none()
        {
            let (method, verb) = if pinned {
                ("pinMessage", "pinning")
            } else {
                ("unpinMessage", "unpinning")
            };
            return Err(Error::meteor(
                "error-invalid-message",
                format!("Message you are {verb} was not found"),
            )
            .with_details(json!({"method": method, "action": "Message_pinning"})));
        }
        let (_, room) = self.readable_message(session, &message.id).await?;
        if !self
            .ctx
            .rooms()
            .has_room_permission(&session.user, "pin-message", &room.id)
            .await?
        {
            return Err(Error::meteor("not-authorized", "Not Authorized")
                .with_details(json!({"method": "pinMessage"})));
        }
        let at = now();
        let change = if pinned {
            MessageChange::Pin {
                by: UserStub {
                    id: session.user.id.clone(),
                    username: session.user.username.clone(),
                    name: None,
                },
            }
        } else {
            MessageChange::Unpin
        };
        let Some(outcome) = self.change_message(message_id, &change).await? else {
            return Err(message_gone());
        };
        let message = outcome.message;
        if !pinned || !outcome.changed {
            return Ok(None);
        }
        let mut notice = system_message("message_pinned", &room.id, &session.user, "", at);
        notice.attachments = Some(json!([{
            "text": message.text,
            "author_name": message.author.username,
            "author_icon": format!("/avatar/{}", message.author.username),
            "ts": comet_core::iso(message.created_at),
            "message_link": format!("{}/{}?msg={}", self.ctx.setting_str("Site_Url").trim_end_matches('/'), room.name.clone().unwrap_or_else(|| room.id.clone()), message.id),
        }]));
        Ok(Some(self.post_system(&room, notice).await?))
    }

    /// `chat.starMessage` / `chat.unStarMessage`: only members star.
    pub async fn star_message(
        &self,
        session: &Session,
        message_id: &str,
        starred: bool,
    ) -> Result<()> {
        if !self.ctx.setting_bool("Message_AllowStarring") {
            return Err(
                Error::meteor("error-action-not-allowed", "Message starring not allowed")
                    .with_details(json!({"method": "starMessage", "action": "Message_starring"})),
            );
        }
        let (message, room) = self.readable_message(session, message_id).await?;
        if self
            .ctx
            .rooms()
            .subscription(session, &room.id)
            .await?
            .is_none()
        {
            return Err(Error::meteor("error-action-not-allowed", "Not allowed")
                .with_details(json!({"method": "starMessage"})));
        }
        let change = if starred {
            MessageChange::Star {
                user_id: session.user.id.clone(),
            }
        } else {
            MessageChange::Unstar {
                user_id: session.user.id.clone(),
            }
        };
        self.change_message(&message.id, &change)
            .await?
            .ok_or_else(message_gone)?;
        Ok(())
    }

    /// `chat.followMessage` / `chat.unfollowMessage`: joins or leaves a thread's participants.
    pub async fn follow_thread(
        &self,
        session: &Session,
        message_id: &str,
        follow: bool,
    ) -> Result<()> {
        if !self.ctx.setting_bool("Threads_enabled") {
            return Err(Error::meteor("error-not-allowed", "not-allowed")
                .with_details(json!({"method": "followMessage"})));
        }
        // Upstream tells a missing message from one in a room the caller may not see.
        let (message, _) = self
            .readable_message(session, message_id)
            .await
            .map_err(|e| match e.code.as_deref() {
                Some("error-not-allowed") => Error::meteor("error-not-allowed", "not-allowed")
                    .with_details(json!({"method": "followMessage"})),
                _ if e.kind == comet_core::ErrorKind::Internal => e,
                _ => Error::meteor("error-invalid-message", "Invalid message")
                    .with_details(json!({"method": "followMessage"})),
            })?;
        let change = if follow {
            MessageChange::Follow {
                user_id: session.user.id.clone(),
            }
        } else {
            MessageChange::Unfollow {
                user_id: session.user.id.clone(),
            }
        };
        self.change_message(&message.id, &change)
            .await?
            .ok_or_else(message_gone)?;
        Ok(())
    }

    async fn thread_root(
        &self,
        session: &Session,
        thread_id: &str,
    ) -> Result<(Message, RoomAccess)> {
        if !self.ctx.setting_bool("Threads_enabled") {
            return Err(Error::meteor("error-not-allowed", "Threads Disabled")
                .with_details(json!({"method": "getThreadMessages"})));
        }
        let found = self
            .ctx
            .store
            .message_by_id(thread_id)
            .await
            .map_err(store_error)?;
        let Some(root) = found.filter(|m| m.deleted_at.is_none()) else {
            return Err(Error::meteor("error-invalid-message", "Invalid Message")
                .with_details(json!({"method": "getThreadMessages"})));
        };
        let room = self
            .ctx
            .rooms()
            .room_for(session, &RoomRef::Id(root.room_id.clone()), RoomFamily::Any)
            .await
            .map_err(|_| {
                Error::meteor("error-not-allowed", "Not Allowed")
                    .with_details(json!({"method": "getThreadMessages"}))
            })?;
        Ok((root, room))
    }

    /// `chat.getThreadMessages`: replies of a thread, oldest first.
    pub async fn thread_messages(
        &self,
        session: &Session,
        thread_id: &str,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<Message>, u64)> {
        let (root, room) = self.thread_root(session, thread_id).await?;
        let filter = MessageFilter {
            thread_id: Some(root.id),
            ..MessageFilter::default()
        };
        let page = Page {
            offset,
            count,
            sort: vec![(MessageSortKey::CreatedAt, Direction::Ascending)],
        };
        self.room_messages(&room, &filter, &page).await
    }

    /// DDP `readThreads(tmid)`: takes a thread out of the caller's unread threads; nothing
    /// happens for a message that does not exist.
    pub async fn read_thread(&self, session: &Session, thread_id: &str) -> Result<()> {
        if !self.ctx.setting_bool("Threads_enabled") {
            return Err(Error::meteor("error-not-allowed", "Threads Disabled")
                .with_details(json!({"method": "getThreadMessages"})));
        }
        let Some(root) = self
            .ctx
            .store
            .message_by_id(thread_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(());
        };
        self.ctx
            .rooms()
            .room_for(session, &RoomRef::Id(root.room_id.clone()), RoomFamily::Any)
            .await
            .map_err(|_| {
                Error::meteor("error-not-allowed", "Not allowed")
                    .with_details(json!({"method": "getThreadMessages"}))
            })?;
        self.mark_thread_read(session, &root).await
    }

    /// The caller has seen a thread: it leaves their unread threads, and when it was the last
    /// one their subscription stops alerting, as upstream's `readThread`.
    async fn mark_thread_read(&self, session: &Session, root: &Message) -> Result<()> {
        let Some(subscription) = self
            .ctx
            .store
            .subscription(&root.room_id, &session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Ok(());
        };
        if !subscription.thread_unread.contains(&root.id) {
            return Ok(());
        }
        let clear_alert = subscription.thread_unread.len() <= 1;
        if let Some(updated) = self
            .ctx
            .store
            .read_thread(
                &root.room_id,
                &session.user.id,
                &root.id,
                clear_alert,
                now(),
            )
            .await
            .map_err(store_error)?
        {
            self.ctx
                .rooms()
                .publish_subscription(comet_events::Change::Updated, updated);
        }
        Ok(())
    }

    /// DDP `getThreadMessages({tmid, limit, skip})`: the thread's root followed by its
    /// replies, newest first; reading them takes the thread out of the caller's unread
    /// threads.
    pub async fn read_thread_messages(
        &self,
        session: &Session,
        thread_id: &str,
        skip: u64,
        limit: Option<u64>,
    ) -> Result<Vec<Message>> {
        const MAX_LIMIT: u64 = 100;
        if limit.is_some_and(|l| l > MAX_LIMIT) {
            return Err(
                Error::meteor("error-not-allowed", format!("max limit: {MAX_LIMIT}"))
                    .with_details(json!({"method": "getThreadMessages"})),
            );
        }
        if !self.ctx.setting_bool("Threads_enabled") {
            return Err(Error::meteor("error-not-allowed", "Threads Disabled")
                .with_details(json!({"method": "getThreadMessages"})));
        }
        let Some(root) = self
            .ctx
            .store
            .message_by_id(thread_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(Vec::new());
        };
        let room = self
            .ctx
            .rooms()
            .room_for(session, &RoomRef::Id(root.room_id.clone()), RoomFamily::Any)
            .await
            .map_err(|_| {
                Error::meteor("error-not-allowed", "Not allowed")
                    .with_details(json!({"method": "getThreadMessages"}))
            })?;
        if root.thread_count == 0 {
            return Ok(Vec::new());
        }
        self.mark_thread_read(session, &root).await?;
        let filter = MessageFilter {
            thread_id: Some(root.id.clone()),
            ..MessageFilter::default()
        };
        let page = Page {
            offset: skip,
            count: limit.filter(|l| *l > 0),
            sort: vec![(MessageSortKey::CreatedAt, Direction::Descending)],
        };
        let replies = self
            .ctx
            .store
            .room_messages(&room.id, &filter, &page)
            .await
            .map_err(store_error)?;
        let mut messages = Vec::with_capacity(replies.len() + 1);
        messages.push(root);
        messages.extend(replies);
        Ok(messages)
    }

    /// `chat.syncThreadMessages`: replies changed after a time.
    pub async fn sync_thread_messages(
        &self,
        session: &Session,
        thread_id: &str,
        since: Timestamp,
    ) -> Result<Vec<Message>> {
        let (root, room) = self.thread_root(session, thread_id).await?;
        let filter = MessageFilter {
            thread_id: Some(root.id),
            updated_after: Some(since),
            ..MessageFilter::default()
        };
        let messages = self
            .ctx
            .store
            .room_messages(&room.id, &filter, &Page::all())
            .await
            .map_err(store_error)?;
        Ok(messages)
    }

    /// `chat.getThreadsList`: thread roots of a room, most recent reply first.
    pub async fn threads(
        &self,
        session: &Session,
        room_id: &str,
        kind: ThreadKind,
        text: Option<&str>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<Message>, u64)> {
        if !self.ctx.setting_bool("Threads_enabled") {
            return Err(Error::meteor("error-not-allowed", "Threads Disabled")
                .with_details(json!({"method": "getThreadsList"})));
        }
        let room = self
            .ctx
            .rooms()
            .room_for(session, &RoomRef::Id(room_id.to_owned()), RoomFamily::Any)
            .await
            .map_err(|_| {
                Error::meteor("error-not-allowed", "Not Allowed")
                    .with_details(json!({"method": "getThreadsList"}))
            })?;
        let filter = MessageFilter {
            thread_roots: true,
            thread_participant: (kind == ThreadKind::Following).then(|| session.user.id.clone()),
            text_contains: text.filter(|t| !t.is_empty()).map(str::to_owned),
            ..MessageFilter::default()
        };
        let sort = vec![(MessageSortKey::ThreadLastAt, Direction::Descending)];
        if kind == ThreadKind::Unread {
            // The caller's unread threads are few (their subscription lists them): page them
            // here rather than teach every store an id filter.
            let unread = self
                .ctx
                .store
                .subscription(&room.id, &session.user.id)
                .await
                .map_err(store_error)?
                .map(|s| s.thread_unread)
                .unwrap_or_default();
            if unread.is_empty() {
                return Ok((Vec::new(), 0));
            }
            let all = Page {
                offset: 0,
                count: None,
                sort,
            };
            let (threads, _) = self.room_messages(&room, &filter, &all).await?;
            let threads: Vec<Message> = threads
                .into_iter()
                .filter(|m| unread.contains(&m.id))
                .collect();
            let total = u64::try_from(threads.len()).unwrap_or(u64::MAX);
            let skip = usize::try_from(offset).unwrap_or(usize::MAX);
            let take = count.map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
            return Ok((threads.into_iter().skip(skip).take(take).collect(), total));
        }
        let page = Page {
            offset,
            count,
            sort,
        };
        self.room_messages(&room, &filter, &page).await
    }

    /// `chat.syncMessages`: messages changed and deleted in a room since a time.
    pub async fn sync_messages(
        &self,
        session: &Session,
        room_id: &str,
        since: Timestamp,
    ) -> Result<MessageSync> {
        let room = self
            .ctx
            .rooms()
            .room_for(session, &RoomRef::Id(room_id.to_owned()), RoomFamily::Any)
            .await
            .map_err(|_| Error::failure(""))?;
        let filter = MessageFilter {
            updated_after: Some(since),
            ..MessageFilter::default()
        };
        let page = Page {
            offset: 0,
            count: None,
            sort: vec![(MessageSortKey::CreatedAt, Direction::Descending)],
        };
        let updated = self
            .ctx
            .store
            .room_messages(&room.id, &filter, &page)
            .await
            .map_err(store_error)?;
        let deleted = self
            .ctx
            .store
            .deleted_messages(&room.id, since)
            .await
            .map_err(store_error)?;
        Ok(MessageSync { updated, deleted })
    }

    /// `chat.syncMessages` in either mode, checked in the order of upstream's
    /// `getMessageHistory`: access to the room, then the cursor parameters.
    pub async fn sync_messages_page(
        &self,
        session: &Session,
        room_id: &str,
        request: SyncRequest,
    ) -> Result<SyncPage> {
        let room = self
            .ctx
            .rooms()
            .room_for(session, &RoomRef::Id(room_id.to_owned()), RoomFamily::Any)
            .await
            .map_err(|_| {
                Error::meteor("error-not-allowed", "Not allowed")
                    .with_details(json!({"method": "messages/get"}))
            })?;
        let cursor = request.next.is_some() || request.previous.is_some();
        if cursor && request.kind.is_none() {
            return Err(Error::meteor(
                "error-type-param-required",
                "The \"type\" parameter is required when using the \"next\" or \"previous\" parameters",
            ));
        }
        if request.next.is_some() && request.previous.is_some() {
            return Err(Error::meteor(
                "error-cursor-conflict",
                "You cannot provide both \"next\" and \"previous\" parameters",
            ));
        }
        if cursor && request.last_update.is_some() {
            return Err(Error::meteor(
                "error-cursor-and-lastUpdate-conflict",
                "The attributes \"next\", \"previous\" and \"lastUpdate\" cannot be used together",
            ));
        }
        if let Some(since) = request.last_update {
            let sync = self.sync_messages(session, &room.id, since).await?;
            return Ok(SyncPage {
                updated: sync.updated,
                deleted: sync.deleted,
                cursor: None,
            });
        }
        let (Some(kind), true) = (request.kind, cursor) else {
            // A type without a cursor is a history request upstream, whose answer has
            // neither `updated` nor `deleted`: the route answers both empty.
            return Ok(SyncPage {
                updated: Vec::new(),
                deleted: Vec::new(),
                cursor: None,
            });
        };
        let next = request.next.as_deref().map(cursor_time).transpose()?;
        let previous = request.previous.as_deref().map(cursor_time).transpose()?;
        // upstream's default page, also for a count of 0 (which its route drops).
        let requested = if request.count == 0 {
            20
        } else {
            request.count
        };
        // One more than asked tells whether another page follows.
        let limit = requested.saturating_add(1);
        let newest_first = previous.is_some();
        // Each entry's time: `_updatedAt` or `_deletedAt`, as the cursors carry them.
        let (mut updated, mut deleted, times): (
            Vec<Message>,
            Vec<(String, Timestamp)>,
            Vec<Timestamp>,
        ) = match kind {
            SyncKind::Updated => {
                let filter = MessageFilter {
                    updated_after: next,
                    updated_before: previous,
                    ..MessageFilter::default()
                };
                let page = Page {
                    offset: 0,
                    count: Some(limit),
                    sort: vec![(
                        MessageSortKey::UpdatedAt,
                        if newest_first {
                            Direction::Descending
                        } else {
                            Direction::Ascending
                        },
                    )],
                };
                let messages = self
                    .ctx
                    .store
                    .room_messages(&room.id, &filter, &page)
                    .await
                    .map_err(store_error)?;
                let times = messages.iter().map(|m| m.updated_at).collect();
                (messages, Vec::new(), times)
            }
            SyncKind::Deleted => {
                let deleted = self
                    .ctx
                    .store
                    .deleted_messages_between(&room.id, next, previous, newest_first, Some(limit))
                    .await
                    .map_err(store_error)?;
                let times = deleted.iter().map(|(_, at)| *at).collect();
                (Vec::new(), deleted, times)
            }
        };
        let count = usize::try_from(requested).unwrap_or(usize::MAX);
        let more = times.len() > count;
        let stamp = |at: &Timestamp| at.timestamp_millis().to_string();
        // upstream's mountNextCursor / mountPreviousCursor.
        let (next_cursor, previous_cursor) = match (times.first(), times.len()) {
            (None, _) => (None, None),
            (Some(first), len) if previous.is_some() => {
                (Some(stamp(first)), more.then(|| stamp(&times[len - 2])))
            }
            (Some(first), len) => (more.then(|| stamp(&times[len - 2])), Some(stamp(first))),
        };
        if more {
            updated.truncate(count);
            deleted.truncate(count);
        }
        Ok(SyncPage {
            updated,
            deleted,
            cursor: Some((next_cursor, previous_cursor)),
        })
    }

    /// `chat.getDeletedMessages`.
    pub async fn deleted_messages(
        &self,
        session: &Session,
        room_id: &str,
        since: Timestamp,
    ) -> Result<Vec<(String, Timestamp)>> {
        let room = self
            .ctx
            .rooms()
            .room_for(session, &RoomRef::Id(room_id.to_owned()), RoomFamily::Any)
            .await?;
        self.ctx
            .store
            .deleted_messages(&room.id, since)
            .await
            .map_err(store_error)
    }

    /// `*.counters`: the caller's (or, for admins, another user's) view of a room.
    pub async fn counters(
        &self,
        session: &Session,
        room: &RoomAccess,
        user_id: Option<&str>,
    ) -> Result<Counters> {
        let user_id = match user_id {
            Some(other) if other != session.user.id => {
                if !self
                    .ctx
                    .has_permission(&session.user, "view-room-administration")
                {
                    // Upstream's `API.v1.forbidden()`: 403 "unauthorized" in 8.x.
                    return Err(Error::forbidden());
                }
                other.to_owned()
            }
            _ => session.user.id.clone(),
        };
        let subscription: Option<Subscription> = self
            .ctx
            .store
            .subscription(&room.id, &user_id)
            .await
            .map_err(store_error)?;
        let Some(subscription) = subscription else {
            return Ok(Counters {
                joined: false,
                members: None,
                unreads: None,
                unreads_from: None,
                msgs: None,
                latest: None,
                user_mentions: None,
            });
        };
        // Upstream counts the visible messages between the last read and the last message,
        // both included.
        let unreads = match room.last_message_at {
            Some(latest) => {
                let between = MessageFilter {
                    oldest: Some(subscription.last_seen),
                    latest: Some(latest),
                    inclusive: true,
                    ..MessageFilter::default()
                };
                self.ctx
                    .store
                    .count_room_messages(&room.id, &between)
                    .await
                    .map_err(store_error)?
            }
            None => 0,
        };
        Ok(Counters {
            joined: subscription.open,
            members: Some(room.users_count),
            unreads: Some(i64::try_from(unreads).unwrap_or(i64::MAX)),
            unreads_from: Some(subscription.last_seen),
            msgs: Some(room.message_count),
            latest: room.last_message_at,
            user_mentions: Some(subscription.user_mentions),
        })
    }

    /// `rooms.favorite`.
    pub async fn set_favorite(
        &self,
        session: &Session,
        room_id: &str,
        favorite: bool,
    ) -> Result<()> {
        let Some(mut s) = self.ctx.rooms().subscription(session, room_id).await? else {
            return Err(Error::meteor(
                "error-invalid-subscription",
                "You must be part of a room to favorite it",
            )
            .with_details(json!({"method": "toggleFavorite"})));
        };
        s.favorite = favorite;
        s.updated_at = now();
        self.ctx
            .store
            .update_subscription(&s)
            .await
            .map_err(store_error)?;
        self.ctx
            .rooms()
            .publish_subscription(comet_events::Change::Updated, s);
        Ok(())
    }

    /// `subscriptions.unread`: marks a room unread again. From a message (`first_unread`, its
    /// time), the room is unread from that message on, as upstream's `setAsUnreadByRoomIdAndUserId`
    /// moves `ls` back to it; a message after what was already seen changes nothing there.
    pub async fn mark_unread(
        &self,
        session: &Session,
        room_id: &str,
        first_unread: Option<Timestamp>,
    ) -> Result<()> {
        // Upstream looks for the room's latest message before anything else.
        let latest = Page {
            offset: 0,
            count: Some(1),
            sort: vec![(MessageSortKey::CreatedAt, Direction::Descending)],
        };
        let last = self
            .ctx
            .store
            .room_messages(room_id, &MessageFilter::default(), &latest)
            .await
            .map_err(store_error)?;
        if last.is_empty() {
            return Err(Error::meteor(
                "error-no-message-for-unread",
                "There are no messages to mark unread",
            )
            .with_details(json!({"method": "unreadMessages", "action": "Unread_messages"})));
        }
        let Some(mut s) = self.ctx.rooms().subscription(session, room_id).await? else {
            return Err(
                Error::meteor("error-invalid-subscription", "Invalid subscription")
                    .with_details(json!({"method": "unreadMessages"})),
            );
        };
        s.alert = true;
        s.open = true;
        s.unread = s.unread.max(1);
        if let Some(from) = first_unread
            && from < s.last_seen
        {
            s.last_seen = from;
        }
        s.updated_at = now();
        self.ctx
            .store
            .update_subscription(&s)
            .await
            .map_err(store_error)?;
        self.ctx
            .rooms()
            .publish_subscription(comet_events::Change::Updated, s);
        Ok(())
    }
}

/// The message was deleted between reading and changing it.
fn message_gone() -> Error {
    Error::meteor("error-invalid-message", "Invalid message")
}
