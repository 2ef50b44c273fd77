//! Bulk and administrative room operations: add everyone, clean history, discussions,
//! ignoring users, and the admin room listing.

use crate::Rooms;
use crate::authz::Required;
use crate::rooms::RoomAccess;
use crate::rooms::{RoomFamily, RoomRef, system_message};
use crate::{Session, store_error};
use comet_core::page::{Direction, Page};
use comet_core::room::{Room, RoomType};
use comet_core::{Error, Result, Timestamp, id, now};
use comet_store::{MessageChange, MessageFilter, RoomFilter, RoomSortKey, UserFilter};
use serde_json::json;

/// `rooms.cleanHistory` parameters.
#[derive(Debug, Clone, Default)]
pub struct CleanHistory {
    pub latest: Option<Timestamp>,
    pub oldest: Option<Timestamp>,
    pub inclusive: bool,
    pub exclude_pinned: bool,
    pub ignore_threads: bool,
    pub user_ids: Vec<String>,
    pub limit: Option<u64>,
    /// Only remove the files of messages in the range, leaving the messages with a note.
    pub files_only: bool,
}

/// `rooms.createDiscussion` parameters.
#[derive(Debug, Clone, Default)]
pub struct NewDiscussion {
    pub parent_room_id: String,
    pub name: String,
    pub parent_message_id: Option<String>,
    pub reply: Option<String>,
    pub usernames: Vec<String>,
    pub topic: Option<String>,
}

impl Rooms<'_> {
    /// `channels.addAll` / `groups.addAll`: subscribes every (active) user.
    pub async fn add_all_users(
        &self,
        session: &Session,
        room: &RoomAccess,
        active_only: bool,
    ) -> Result<()> {
        if !self
            .has_room_permission(&session.user, "add-all-to-room", &room.id)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "addAllToRoom"})));
        }
        if room.room_type == RoomType::Direct {
            return Err(Error::meteor("error-invalid-room", "Invalid room"));
        }
        let filter = UserFilter {
            active: active_only.then_some(true),
            ..UserFilter::default()
        };
        let (users, _) = self
            .ctx
            .store
            .list_users(&filter, &Page::all())
            .await
            .map_err(store_error)?;
        for user in users
            .iter()
            .filter(|u| u.user_type != comet_core::user::UserType::App)
        {
            if self.is_banned(&room.id, &user.id).await? {
                continue;
            }
            let at = now();
            let subscription = self.joining_subscription(room, user, at);
            let message = system_message("au", &room.id, &session.user, &user.username, at);
            self.add_member(room, subscription, message).await?;
        }
        Ok(())
    }

    /// `rooms.cleanHistory`: deletes messages in a time range.
    pub async fn clean_history(
        &self,
        session: &Session,
        room_id: &str,
        clean: CleanHistory,
    ) -> Result<u64> {
        if !self
            .has_room_permission(&session.user, "clean-channel-history", room_id)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "cleanRoomHistory"})));
        }
        let reference = RoomRef::Id(room_id.to_owned());
        let room = match self.room_for(session, &reference, RoomFamily::Any).await {
            Ok(room) => room,
            // An existing room the caller may not read: upstream's route says so in its own
            // words.
            Err(e) => {
                if self.find_room_unchecked(&reference).await?.is_some() {
                    return Err(Error::failure_typed(
                        "User does not have access to the room [error-not-allowed]",
                        "error-not-allowed",
                    ));
                }
                return Err(e);
            }
        };
        let filter = MessageFilter {
            latest: clean.latest,
            oldest: clean.oldest,
            inclusive: clean.inclusive,
            hide_thread_replies: clean.ignore_threads,
            // A deletion's placeholder is no message to clean, and upstream does not count it.
            hide_removed: true,
            ..MessageFilter::default()
        };
        // Files first, as upstream: a message whose files could not all be removed keeps
        // its files and does not count.
        let with_files = self.messages_with_files(&room.id, &filter, &clean).await?;
        let mut file_count = 0;
        for message in with_files {
            if !self.ctx.files().delete_message_files(&message).await {
                continue;
            }
            file_count += 1;
            if clean.files_only {
                let pruned = MessageChange::RemoveFiles {
                    attachments: Some(
                        json!([{"color": "#FD745E", "text": "_File removed by prune_"}]),
                    ),
                };
                self.ctx
                    .messages()
                    .change_message(&message.id, &pruned)
                    .await?;
            }
        }
        if clean.files_only {
            tracing::info!(by = %session.user.id, room = %room.id, file_count, "room files pruned");
            return Ok(file_count);
        }
        let count = self
            .ctx
            .store
            .delete_messages(
                &room.id,
                &filter,
                clean.exclude_pinned,
                &clean.user_ids,
                clean.limit,
                now(),
            )
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, room = %room.id, count, "room history cleaned");
        self.ctx.publish(comet_events::Event::MessagesCleaned {
            room_id: room.id.clone(),
            oldest: clean.oldest,
            latest: clean.latest,
            exclude_pinned: clean.exclude_pinned,
            user_ids: clean.user_ids.clone(),
        });
        Ok(count)
    }

    /// The messages of a cleaning range that carry files, with the same pinned and author
    /// exclusions and limit as the cleaning itself.
    async fn messages_with_files(
        &self,
        room_id: &str,
        filter: &MessageFilter,
        clean: &CleanHistory,
    ) -> Result<Vec<comet_core::room::Message>> {
        const PAGE: u64 = 500;
        let filter = MessageFilter {
            with_files: true,
            ..filter.clone()
        };
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let page = Page {
                offset,
                count: Some(PAGE),
                sort: vec![(comet_store::MessageSortKey::CreatedAt, Direction::Ascending)],
            };
            let batch = self
                .ctx
                .store
                .room_messages(room_id, &filter, &page)
                .await
                .map_err(store_error)?;
            let fetched = batch.len() as u64;
            found.extend(batch.into_iter().filter(|m| {
                !(clean.exclude_pinned && m.pinned)
                    && (clean.user_ids.is_empty() || clean.user_ids.contains(&m.author.id))
            }));
            if let Some(limit) = clean.limit
                && found.len() as u64 >= limit
            {
                found.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
                break;
            }
            if fetched < PAGE {
                break;
            }
            offset += PAGE;
        }
        Ok(found)
    }

    /// `rooms.createDiscussion`: a room of the parent's type, linked to it (and to a message).
    pub async fn create_discussion(&self, session: &Session, new: NewDiscussion) -> Result<Room> {
        if !self.ctx.setting_bool("Discussion_enabled") {
            return Err(Error::meteor(
                "error-action-not-allowed",
                "You are not allowed to create a discussion",
            )
            .with_details(json!({"method": "createDiscussion"})));
        }
        let parent = self
            .room_for(
                session,
                &RoomRef::Id(new.parent_room_id.clone()),
                RoomFamily::Any,
            )
            .await
            .map_err(|_| {
                Error::meteor("error-invalid-room", "Invalid room")
                    .with_details(json!({"method": "createDiscussion"}))
            })?;
        if !self
            .has_room_permission(&session.user, "start-discussion", &parent.id)
            .await?
            && !self
                .has_room_permission(&session.user, "start-discussion-other-user", &parent.id)
                .await?
        {
            return Err(Error::meteor(
                "error-action-not-allowed",
                "You are not allowed to create a discussion",
            )
            .with_details(json!({"method": "createDiscussion"})));
        }
        let name = new.name.trim().to_owned();
        if name.is_empty() {
            return Err(
                Error::meteor("error-invalid-arguments", "Discussion name can't be empty")
                    .with_details(json!({"method": "createDiscussion"})),
            );
        }
        if parent.parent_id.is_some() {
            return Err(Error::meteor(
                "error-nested-discussion",
                "Cannot create nested discussions",
            )
            .with_details(json!({"method": "DiscussionCreation"})));
        }
        // A discussion started from a message quotes it (in the discussion and in the parent's
        // notice) and invites its author, as upstream does.
        let mut source = None;
        if let Some(message_id) = &new.parent_message_id {
            let (message, room) = self
                .ctx
                .messages()
                .readable_message(session, message_id)
                .await
                .map_err(|_| {
                    Error::meteor("error-invalid-message", "Invalid message")
                        .with_details(json!({"method": "DiscussionCreation"}))
                })?;
            if room.id != parent.id {
                return Err(Error::meteor(
                    "error-invalid-arguments",
                    "Root message room ID does not match parent room ID ",
                )
                .with_details(json!({"method": "DiscussionCreation"})));
            }
            source = Some(message);
        }
        let quote = source.as_ref().map(|message| {
            json!([{
                "text": message.text,
                "author_name": message.author.username,
                "author_icon": format!("/avatar/{}", message.author.username),
                "message_link": format!("{}/{}?msg={}", self.ctx.setting_str("Site_Url").trim_end_matches('/'), parent.name.clone().unwrap_or_else(|| parent.id.clone()), message.id),
                "ts": comet_core::iso(message.created_at),
            }])
        });
        let mut usernames = new.usernames.clone();
        if let Some(message) = &source {
            usernames.push(message.author.username.clone());
        }
        let room_type = if parent.room_type == RoomType::Channel {
            RoomType::Channel
        } else {
            RoomType::Private
        };
        let mut members = Vec::new();
        for username in &usernames {
            if let Some(user) = self
                .ctx
                .store
                .user_by_username(username)
                .await
                .map_err(store_error)?
                && user.id != session.user.id
                && !members
                    .iter()
                    .any(|m: &comet_core::user::User| m.id == user.id)
            {
                members.push(user);
            }
        }
        let at = now();
        let mut room = self.new_room_of(room_type, id::new_id(), &session.user, at);
        // Discussions are named by their display name; the slug is their id.
        room.name = Some(room.id.clone());
        room.fname = Some(name.clone());
        room.parent_id = Some(parent.id.clone());
        room.topic = new
            .topic
            .filter(|t| !t.is_empty())
            .or_else(|| parent.name.clone());
        room.description = source
            .as_ref()
            .map(|m| m.text.clone())
            .filter(|t| !t.is_empty());
        let mut subscriptions =
            vec![self.new_subscription(&room, &session.user, vec!["owner".to_owned()], at)];
        for member in &members {
            subscriptions.push(self.new_subscription(&room, member, Vec::new(), at));
        }
        room.users_count = i64::try_from(subscriptions.len()).unwrap_or(i64::MAX);
        self.ctx
            .store
            .create_room(&room, &subscriptions, None)
            .await
            .map_err(store_error)?;
        for subscription in subscriptions {
            self.publish_subscription(comet_events::Change::Inserted, subscription);
        }

        let mut notice = system_message("discussion-created", &parent.id, &session.user, &name, at);
        notice.discussion_id = Some(room.id.clone());
        notice.attachments = quote.clone();
        self.ctx.messages().post_system(&parent, notice).await?;
        let reply = new.reply.filter(|r| !r.trim().is_empty());
        if reply.is_some() || quote.is_some() {
            let post = crate::messages::NewMessage {
                text: reply.unwrap_or_default(),
                attachments: quote,
                ..crate::messages::NewMessage::default()
            };
            self.ctx
                .messages()
                .send_composed_message(session, &RoomAccess::granted(room.clone()), post)
                .await?;
        }
        tracing::info!(by = %session.user.id, room = %room.id, parent = %parent.id, "discussion created");
        self.ctx
            .store
            .room_by_id(&room.id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| Error::internal("discussion vanished after creation"))
    }

    /// `rooms.getDiscussions`: discussions of a room.
    pub async fn discussions(
        &self,
        session: &Session,
        room: &RoomAccess,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<Room>, u64)> {
        let filter = RoomFilter {
            parent_id: Some(room.id.clone()),
            ..RoomFilter::default()
        };
        let page = Page {
            offset,
            count,
            sort: vec![(RoomSortKey::CreatedAt, Direction::Descending)],
        };
        let (rooms, _) = self
            .ctx
            .store
            .list_rooms(&filter, &Page::all())
            .await
            .map_err(store_error)?;
        let mut visible = Vec::new();
        for r in rooms {
            if self.can_access_room(&session.user, &r).await? {
                visible.push(r);
            }
        }
        let total = visible.len() as u64;
        let visible = visible
            .into_iter()
            .rev()
            .skip(usize::try_from(page.offset).unwrap_or(usize::MAX))
            .take(
                page.count
                    .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX)),
            )
            .collect();
        Ok((visible, total))
    }

    /// `chat.ignoreUser`: hides (or shows again) a user's messages for the caller in a room.
    pub async fn ignore_user(
        &self,
        session: &Session,
        room_id: &str,
        user_id: &str,
        ignore: bool,
    ) -> Result<()> {
        let Some(mut subscription) = self.subscription(session, room_id).await? else {
            return Err(
                Error::meteor("error-invalid-subscription", "Invalid subscription")
                    .with_details(json!({"method": "ignoreUser"})),
            );
        };
        if self
            .ctx
            .store
            .subscription(room_id, user_id)
            .await
            .map_err(store_error)?
            .is_none()
        {
            return Err(
                Error::meteor("error-invalid-subscription", "Invalid subscription")
                    .with_details(json!({"method": "ignoreUser"})),
            );
        }
        let present = subscription.ignored.iter().any(|u| u == user_id);
        if ignore && !present {
            subscription.ignored.push(user_id.to_owned());
        } else if !ignore && present {
            subscription.ignored.retain(|u| u != user_id);
        }
        subscription.updated_at = now();
        self.ctx
            .store
            .update_subscription(&subscription)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Who may see every room, joined or not (`rooms.adminRooms`, `groups.listAll`).
    pub const ADMINISTER_ROOMS: Required = Required::All(&["view-room-administration"]);

    /// `rooms.adminRooms`: every room of the given types, for administrators. Upstream's route
    /// declares no required permission: its lookup refuses with a bare `error-not-authorized`
    /// failure (400), which its tests expect.
    pub async fn admin_rooms(
        &self,
        session: &Session,
        types: &[RoomType],
        name: Option<String>,
        offset: u64,
        count: Option<u64>,
    ) -> Result<(Vec<Room>, u64)> {
        if !self.ctx.meets(&session.user, Self::ADMINISTER_ROOMS) {
            return Err(Error::failure("error-not-authorized"));
        }
        let filter = RoomFilter {
            types: types.to_vec(),
            name_or_fname: name,
            ..RoomFilter::default()
        };
        let page = Page {
            offset,
            count,
            sort: vec![(RoomSortKey::Name, Direction::Ascending)],
        };
        self.ctx
            .store
            .list_rooms(&filter, &page)
            .await
            .map_err(store_error)
    }

    /// `rooms.autocomplete.channelAndPrivate` (and `.withPagination`): the caller's own
    /// channels and groups whose name or display name starts with `name` (any case),
    /// discussions left out (and archived rooms, for the suggestions without paging), by
    /// name; with the total before paging.
    pub async fn autocomplete_own_rooms(
        &self,
        session: &Session,
        name: &str,
        offset: u64,
        count: u64,
        skip_archived: bool,
    ) -> Result<(Vec<Room>, u64)> {
        let filter = RoomFilter {
            types: vec![RoomType::Channel, RoomType::Private],
            name_or_fname: Some(name.to_owned()).filter(|n| !n.is_empty()),
            name_or_fname_prefix: true,
            member: Some(session.user.id.clone()),
            ..RoomFilter::default()
        };
        let page = Page {
            offset: 0,
            count: None,
            sort: vec![(RoomSortKey::Name, Direction::Ascending)],
        };
        // A user's own rooms are few enough to drop discussions here rather than in SQL.
        let (rooms, _) = self
            .ctx
            .store
            .list_rooms(&filter, &page)
            .await
            .map_err(store_error)?;
        let rooms: Vec<Room> = rooms
            .into_iter()
            .filter(|r| r.parent_id.is_none() && !(skip_archived && r.archived))
            .collect();
        let total = rooms.len() as u64;
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let take = usize::try_from(count).unwrap_or(usize::MAX);
        Ok((rooms.into_iter().skip(start).take(take).collect(), total))
    }

    /// Who may search every room by name (`rooms.autocomplete.adminRooms`).
    pub const AUTOCOMPLETE_ADMIN_ROOMS: Required =
        Required::Any(&["view-room-administration", "can-audit"]);

    /// `rooms.autocomplete.adminRooms`: up to ten channels and groups, joined or not, whose
    /// name or display name starts with `name` (any case), by name.
    pub async fn autocomplete_admin_rooms(
        &self,
        session: &Session,
        name: &str,
    ) -> Result<Vec<Room>> {
        if !self
            .ctx
            .meets(&session.user, Self::AUTOCOMPLETE_ADMIN_ROOMS)
        {
            return Err(Error::failure("error-not-authorized"));
        }
        let filter = RoomFilter {
            types: vec![RoomType::Channel, RoomType::Private],
            name_or_fname: Some(name.to_owned()).filter(|n| !n.is_empty()),
            name_or_fname_prefix: true,
            ..RoomFilter::default()
        };
        let page = Page {
            offset: 0,
            count: Some(10),
            sort: vec![(RoomSortKey::Name, Direction::Ascending)],
        };
        let (rooms, _) = self
            .ctx
            .store
            .list_rooms(&filter, &page)
            .await
            .map_err(store_error)?;
        Ok(rooms)
    }

    /// `im.messages.others`: an administrator reads a direct conversation they are not in,
    /// when `API_Enable_Direct_Message_History_EndPoint` allows it, checked in upstream's
    /// order (permission, setting, room).
    pub async fn other_direct_messages(
        &self,
        session: &Session,
        room_id: Option<&str>,
        page: &Page<comet_store::MessageSortKey>,
    ) -> Result<(Vec<comet_core::room::Message>, u64)> {
        self.ctx.authorize(&session.user, Self::ADMINISTER_ROOMS)?;
        if !self
            .ctx
            .setting_bool("API_Enable_Direct_Message_History_EndPoint")
        {
            return Err(
                Error::meteor("error-endpoint-disabled", "This endpoint is disabled")
                    .with_details(json!({"route": "/api/v1/im.messages.others"})),
            );
        }
        let Some(room_id) = room_id.filter(|id| !id.is_empty()) else {
            return Err(Error::meteor(
                "error-roomid-param-not-provided",
                "The parameter \"roomId\" is required",
            ));
        };
        let room = self
            .find_room_unchecked(&RoomRef::Id(room_id.to_owned()))
            .await?
            .filter(|room| room.room_type == RoomType::Direct)
            .ok_or_else(|| {
                Error::meteor(
                    "error-room-not-found",
                    format!("No direct message room found by the id of: {room_id}"),
                )
            })?;
        // The permission above is the access: administrators read rooms they are not in.
        let access = RoomAccess::granted(room);
        self.ctx
            .messages()
            .room_messages(&access, &MessageFilter::default(), page)
            .await
    }
}
