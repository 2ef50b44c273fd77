//! Messages: sending, editing, deleting, reacting, reading history, searching.

use crate::Messages;
use crate::pipeline::{Draft, Sender};
use crate::rooms::RoomAccess;
use crate::rooms::RoomFamily;
use crate::{Session, store_error};
use comet_core::mentions;
use comet_core::message_rules;
use comet_core::page::{Direction, Page};
use comet_core::room::{Mention, Message, Room, RoomType, UserStub};
use comet_core::user::User;
use comet_core::{Error, Result, Timestamp, id, now};
use comet_store::{
    MessageChange, MessageChanged, MessageFilter, MessageSortKey, PostEffects, ThreadReplyEffects,
};
use serde_json::json;

pub use comet_core::room::NewMessage;

/// A history request (`channels.history` and friends).
#[derive(Debug, Clone, Default)]
pub struct HistoryQuery {
    pub latest: Option<Timestamp>,
    pub oldest: Option<Timestamp>,
    pub inclusive: bool,
    pub offset: u64,
    pub count: Option<u64>,
    pub show_thread_messages: bool,
}

/// Plain errors upstream's `canSendMessage` throws (shown without an error type).
fn cannot_send(reason: &'static str) -> Error {
    Error::failure(reason)
}

pub(crate) fn message_not_found() -> Error {
    Error::meteor(
        "error-message-not-found",
        "The provided \"messageId\" does not match any existing message.",
    )
}

/// `smile`, `:smile:` → `:smile:`; anything else is not an emoji name.
pub fn normalize_emoji(raw: &str) -> Option<String> {
    let name = raw.trim().trim_matches(':');
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '+'));
    valid.then(|| format!(":{name}:"))
}

/// Who composed a message's content: what a client sends is checked as upstream checks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    Client,
    Server,
}

impl Messages<'_> {
    /// Upstream's `canSendMessage`: membership, archive, read-only and mute rules.
    pub(crate) async fn check_can_send(&self, session: &Session, room: &RoomAccess) -> Result<()> {
        let subscribed = match room.subscribed(&session.user.id) {
            Some(subscribed) => subscribed,
            None => self
                .ctx
                .rooms()
                .subscription(session, &room.id)
                .await?
                .is_some(),
        };
        let public_reader = room.room_type == RoomType::Channel
            && self.ctx.has_permission(&session.user, "view-c-room");
        if !(subscribed || public_reader) {
            return Err(cannot_send("error-not-allowed"));
        }
        // A user banned from a public channel is no reader of it.
        if !subscribed
            && self
                .ctx
                .rooms()
                .is_banned(&room.id, &session.user.id)
                .await?
        {
            return Err(cannot_send("error-not-allowed"));
        }
        if room.archived {
            return Err(cannot_send("error-room-archived"));
        }
        // A member unmuted in a read-only room may post there, as upstream.
        if room.read_only
            && !room.unmuted.contains(&session.user.username)
            && !self
                .ctx
                .rooms()
                .has_room_permission(&session.user, "post-readonly", &room.id)
                .await?
        {
            return Err(cannot_send(
                "You can't send messages because the room is readonly.",
            ));
        }
        if room.muted.iter().any(|u| u == &session.user.username) {
            return Err(cannot_send("You_have_been_muted"));
        }
        Ok(())
    }

    /// Resolves `@user` and `#channel` mentions; `@all`/`@here` count only with permission.
    async fn resolve_mentions(
        &self,
        session: &Session,
        room: &Room,
        text: &str,
    ) -> Result<(Vec<Mention>, Vec<(String, String)>, bool)> {
        let parsed = mentions::parse(text);
        let mut users = Vec::new();
        for name in &parsed.users {
            if let Some(user) = self
                .ctx
                .store
                .user_by_username(name)
                .await
                .map_err(store_error)?
            {
                users.push(Mention {
                    id: user.id,
                    username: user.username,
                    name: Some(user.name),
                });
            }
        }
        let mut group = false;
        for (flag, word, permission) in [
            (parsed.all, "all", "mention-all"),
            (parsed.here, "here", "mention-here"),
        ] {
            if flag
                && self
                    .ctx
                    .rooms()
                    .has_room_permission(&session.user, permission, &room.id)
                    .await?
            {
                group = true;
                users.push(Mention {
                    id: word.to_owned(),
                    username: word.to_owned(),
                    name: None,
                });
            }
        }
        let mut channels = Vec::new();
        for name in &parsed.channels {
            if let Some(found) = self
                .ctx
                .store
                .room_by_name(name)
                .await
                .map_err(store_error)?
                && found.room_type == RoomType::Channel
            {
                channels.push((found.id, found.name.unwrap_or_default()));
            }
        }
        Ok((users, channels, group))
    }

    fn max_message_size(&self) -> usize {
        usize::try_from(self.ctx.setting_int("Message_MaxAllowedSize")).unwrap_or(5000)
    }

    /// Whether a text is over `Message_MaxAllowedSize` (counted in characters).
    pub fn message_too_long(&self, text: &str) -> bool {
        text.chars().count() > self.max_message_size()
    }

    /// Upstream's `validateMessage`: who may post under another name or picture, links clients
    /// render as links (never `javascript:`), attachment field types, and custom fields.
    async fn check_content(
        &self,
        session: &Session,
        room: &RoomAccess,
        new: &NewMessage,
    ) -> Result<()> {
        let present = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.is_empty());
        if let Some(avatar) = new.avatar.as_deref().filter(|a| !a.is_empty())
            && !message_rules::valid_partial_url(avatar)
        {
            return Err(Error::failure(message_rules::INVALID_HREF));
        }
        if (present(&new.alias) || present(&new.avatar))
            && !self
                .ctx
                .rooms()
                .has_room_permission(&session.user, "message-impersonate", &room.id)
                .await?
        {
            return Err(Error::failure("Not enough permission"));
        }
        if let Some(attachments) = &new.attachments {
            message_rules::check_attachments(attachments).map_err(Error::failure)?;
        }
        if let Some(fields) = &new.custom_fields {
            self.check_custom_fields(fields)?;
        }
        Ok(())
    }

    /// Custom fields are refused unless enabled, and must follow `Message_CustomFields`.
    pub(crate) fn check_custom_fields(&self, fields: &serde_json::Value) -> Result<()> {
        if !self.ctx.setting_bool("Message_CustomFields_Enabled") {
            return Err(Error::failure("Custom fields not enabled"));
        }
        match message_rules::check_custom_fields(
            &self.ctx.setting_str("Message_CustomFields"),
            fields,
        ) {
            Ok(()) => Ok(()),
            Err(message_rules::CustomFieldsError::InvalidConfig) => {
                Err(Error::failure("Invalid custom fields config"))
            }
            Err(message_rules::CustomFieldsError::Invalid) => {
                Err(Error::failure("Invalid custom fields"))
            }
        }
    }

    /// Posts a message a client wrote to a room the caller may write in.
    pub async fn send_message(
        &self,
        session: &Session,
        room: &RoomAccess,
        new: NewMessage,
    ) -> Result<Message> {
        self.post_message(session, room, new, Origin::Client).await
    }

    /// Posts a message the server composed for the caller (a discussion's quote of the message
    /// it starts from): its attachments are the server's own, not checked as client input.
    pub(crate) async fn send_composed_message(
        &self,
        session: &Session,
        room: &RoomAccess,
        new: NewMessage,
    ) -> Result<Message> {
        self.post_message(session, room, new, Origin::Server).await
    }

    async fn post_message(
        &self,
        session: &Session,
        room: &RoomAccess,
        new: NewMessage,
        origin: Origin,
    ) -> Result<Message> {
        if self.message_too_long(&new.text) {
            return Err(Error::meteor(
                "error-message-size-exceeded",
                "Message size exceeds Message_MaxAllowedSize",
            ));
        }
        if new.thread_show && new.thread_id.is_none() {
            return Err(Error::meteor(
                "invalid-params",
                "tshow provided but missing tmid",
            ));
        }
        self.check_can_send(session, room).await?;
        self.ctx.check_message_rate(&session.user)?;
        if origin == Origin::Client {
            self.check_content(session, room, &new).await?;
        }
        let mut thread_id = None;
        let mut thread_root = None;
        if let Some(tmid) = &new.thread_id {
            if !self.ctx.setting_bool("Threads_enabled") {
                return Err(Error::meteor("error-not-allowed", "not-allowed"));
            }
            let parent = self
                .ctx
                .store
                .message_by_id(tmid)
                .await
                .map_err(store_error)?;
            let Some(parent) = parent.filter(|p| p.room_id == room.id && p.deleted_at.is_none())
            else {
                return Err(Error::meteor("error-invalid-message", "Invalid Message"));
            };
            // Replies to replies belong to the root of the thread.
            let root = match &parent.thread_id {
                Some(root_id) => self
                    .ctx
                    .store
                    .message_by_id(root_id)
                    .await
                    .map_err(store_error)?
                    .unwrap_or_else(|| parent.clone()),
                None => parent.clone(),
            };
            thread_id = Some(root.id.clone());
            thread_root = Some(root);
        }
        let message_id = match new.id.filter(|i| !i.is_empty()) {
            Some(client_id) => {
                if self
                    .ctx
                    .store
                    .message_by_id(&client_id)
                    .await
                    .map_err(store_error)?
                    .is_some()
                {
                    return Err(Error::meteor(
                        "error-message-already-exists",
                        "Message already exists",
                    ));
                }
                client_id
            }
            None => id::new_id(),
        };
        let text = new.text.trim().to_owned();
        let (mentions, channels, group) = self.resolve_mentions(session, room, &text).await?;
        let at = now();
        let mut message = Message::new(
            message_id,
            &room.id,
            UserStub::from(&session.user),
            &text,
            at,
        );
        message.mentions = mentions;
        message.channels = channels;
        message.unread = self.ctx.setting_bool("Message_Read_Receipt_Enabled");
        message.thread_id = thread_id;
        message.thread_show = new.thread_show;
        message.alias = new.alias.filter(|s| !s.is_empty());
        message.emoji = new.emoji.filter(|s| !s.is_empty());
        message.avatar = new.avatar.filter(|s| !s.is_empty());
        message.attachments = new
            .attachments
            .filter(|a| a.as_array().is_some_and(|items| !items.is_empty()));
        message.files = new.files;
        message.groupable = new.groupable;
        message.custom_fields = new.custom_fields;
        message.urls = self.urls_for(&text, new.parse_urls, new.preview_urls.as_deref());

        let hidden_reply = message.thread_id.is_some() && !message.thread_show;
        let mentioned: Vec<String> = message
            .mentions
            .iter()
            .filter(|m| m.id != "all" && m.id != "here" && m.id != session.user.id)
            .map(|m| m.id.clone())
            .collect();
        let unread_setting = if room.room_type == RoomType::Direct {
            self.ctx.setting_str("Unread_Count_DM")
        } else {
            self.ctx.setting_str("Unread_Count")
        };
        let group_mention = group && mentioned.is_empty();
        let thread = thread_root
            .as_ref()
            .map(|root| thread_reply_effects(root, &session.user.id, &mentioned, group));
        let effects = if hidden_reply {
            PostEffects {
                counts_in_room: true,
                thread: thread.clone(),
                ..PostEffects::default()
            }
        } else {
            PostEffects {
                counts_in_room: true,
                becomes_last_message: true,
                unread_for_all: !group && unread_setting == "all_messages",
                mentioned_user_ids: mentioned,
                group_mention,
                alert_others: true,
                thread: thread.clone(),
            }
        };
        let sent = self
            .post(Draft {
                sender: Sender::Member(session),
                room,
                message,
                effects,
            })
            .await?;
        if let Some(thread) = thread {
            // The followers' unread threads changed: their clients hear of it.
            let touched: Vec<String> = thread
                .followers
                .into_iter()
                .chain(thread.mentioned)
                .collect();
            if !touched.is_empty() {
                let subscriptions = self
                    .ctx
                    .store
                    .subscriptions_of_users_in_room(&room.id, &touched)
                    .await
                    .map_err(store_error)?;
                for subscription in subscriptions {
                    self.ctx
                        .rooms()
                        .publish_subscription(comet_events::Change::Updated, subscription);
                }
            }
        }
        self.queue_previews(&sent);
        self.ctx.auto_translate().queue(&sent);
        Ok(sent)
    }

    /// Tells the sender (and only them) when someone they mentioned is not in the room.
    pub(crate) async fn notice_mentions_outside_room(
        &self,
        session: &Session,
        room: &Room,
        message: &Message,
    ) -> Result<()> {
        let mentioned: Vec<String> = message
            .mentions
            .iter()
            .filter(|m| m.id != "all" && m.id != "here")
            .map(|m| m.id.clone())
            .collect();
        if mentioned.is_empty() {
            return Ok(());
        }
        let members: std::collections::HashSet<String> = self
            .ctx
            .store
            .subscriptions_of_users_in_room(&room.id, &mentioned)
            .await
            .map_err(store_error)?
            .into_iter()
            .map(|s| s.user.id)
            .collect();
        let outside: Vec<comet_core::room::Mention> = message
            .mentions
            .iter()
            .filter(|m| mentioned.contains(&m.id) && !members.contains(&m.id))
            .cloned()
            .collect();
        if outside.is_empty() {
            return Ok(());
        }
        let any_room_permission = match room.room_type {
            RoomType::Private => "add-user-to-any-p-room",
            _ => "add-user-to-any-c-room",
        };
        let may_add = self.ctx.has_permission(&session.user, any_room_permission)
            || self
                .ctx
                .rooms()
                .has_room_permission(&session.user, "add-user-to-joined-room", &room.id)
                .await?;
        let real_names = self.ctx.setting_bool("UI_Use_Real_Name");
        let display_names = outside
            .iter()
            .map(|m| match (&m.name, real_names) {
                (Some(name), true) if !name.is_empty() => name.clone(),
                _ => m.username.clone(),
            })
            .collect();
        self.ctx.publish(comet_events::Event::Ephemeral {
            user_id: session.user.id.clone(),
            room_id: room.id.clone(),
            thread_id: message.thread_id.clone(),
            notice: comet_events::Notice::MentionedOutsideRoom {
                mentions: outside,
                display_names,
                may_add,
            },
        });
        Ok(())
    }

    /// Loads a message the caller may read.
    /// `chat.getMessageReadReceipts`: the members who have read the room since the message
    /// came (their subscription's last read is at or after it), its author aside; none while
    /// `Message_Read_Receipt_Enabled` is off. Each receipt's time is the reader's latest read
    /// of the room (Comet keeps no receipt per message: docs/compatibility.md).
    pub async fn read_receipts(
        &self,
        session: &Session,
        message_id: &str,
    ) -> Result<Vec<ReadReceipt>> {
        let (message, room) = self.readable_message(session, message_id).await?;
        if !self.ctx.setting_bool("Message_Read_Receipt_Enabled") {
            return Ok(Vec::new());
        }
        let (subscriptions, _) = self
            .ctx
            .store
            .subscriptions_of_room(&room.id, 0, None)
            .await
            .map_err(store_error)?;
        let mut receipts: Vec<ReadReceipt> = subscriptions
            .into_iter()
            .filter(|s| s.user.id != message.author.id && s.last_seen >= message.created_at)
            .map(|s| ReadReceipt {
                room_id: room.id.clone(),
                message_id: message.id.clone(),
                user: s.user,
                at: s.last_seen,
            })
            .collect();
        receipts.sort_by_key(|r| r.at);
        Ok(receipts)
    }

    pub async fn readable_message(
        &self,
        session: &Session,
        message_id: &str,
    ) -> Result<(Message, Room)> {
        let message = self
            .ctx
            .store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?;
        let Some(message) = message.filter(|m| m.deleted_at.is_none()) else {
            return Err(message_not_found());
        };
        let Some(room) = self
            .ctx
            .store
            .room_by_id(&message.room_id)
            .await
            .map_err(store_error)?
        else {
            return Err(message_not_found());
        };
        if !self
            .ctx
            .rooms()
            .can_access_room(&session.user, &room)
            .await?
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed"));
        }
        Ok((message, room))
    }

    fn within_window(&self, setting: &str, message: &Message) -> bool {
        let minutes = self.ctx.setting_int(setting);
        minutes <= 0 || now() - message.created_at <= chrono::Duration::minutes(minutes)
    }

    /// `chat.update`: edits the text (own messages, or with `edit-message`), and the custom
    /// fields when `custom_fields` is given (checked as a new message's are).
    pub async fn update_message(
        &self,
        session: &Session,
        room_id: &str,
        message_id: &str,
        text: &str,
        preview_urls: Option<&[String]>,
        custom_fields: Option<&serde_json::Value>,
    ) -> Result<Message> {
        let found = self
            .ctx
            .store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?;
        let Some(message) = found.filter(|m| m.deleted_at.is_none()) else {
            return Err(Error::failure(format!(
                "No message found with the id of \"{message_id}\"."
            )));
        };
        if message.room_id != room_id {
            return Err(Error::failure(
                "The room id provided does not match where the message is from.",
            ));
        }
        let Some(room) = self
            .ctx
            .store
            .room_by_id(room_id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor("error-invalid-room", "Invalid room"));
        };
        let can_edit_any = self
            .ctx
            .rooms()
            .has_room_permission(&session.user, "edit-message", room_id)
            .await?;
        let own = message.author.id == session.user.id;
        if !can_edit_any {
            if !own || !self.ctx.setting_bool("Message_AllowEditing") {
                return Err(Error::meteor(
                    "error-action-not-allowed",
                    "Message editing not allowed",
                )
                .with_details(json!({"method": "updateMessage", "action": "Message_editing"})));
            }
            if !self
                .ctx
                .has_permission(&session.user, "bypass-time-limit-edit-and-delete")
                && !self.within_window("Message_AllowEditing_BlockEditInMinutes", &message)
            {
                return Err(Error::meteor(
                    "error-message-editing-blocked",
                    "Message editing is blocked",
                )
                .with_details(json!({"method": "updateMessage"})));
            }
        }
        if message.kind.is_some() {
            return Err(Error::meteor(
                "error-action-not-allowed",
                "Message editing not allowed",
            ));
        }
        if self.message_too_long(text) {
            return Err(Error::meteor(
                "error-message-size-exceeded",
                "Message size exceeds Message_MaxAllowedSize",
            ));
        }
        if let Some(fields) = custom_fields {
            self.check_custom_fields(fields)?;
        }
        let text = text.trim().to_owned();
        let (mentions, channels, _) = self.resolve_mentions(session, &room, &text).await?;
        // The text's URLs again (upstream parses them on every edit); those the message
        // already had keep the previews fetched for them.
        let urls = self
            .urls_for(&text, None, preview_urls)
            .into_iter()
            .map(|mut url| {
                if let Some(before) = message
                    .urls
                    .iter()
                    .find(|b| b.url == url.url && !url.ignore_parse)
                {
                    url.meta = before.meta.clone();
                    url.headers = before.headers.clone();
                }
                url
            })
            .collect();
        // An edit passes the same filters as a new message (upstream runs its
        // `beforeSaveMessage` hooks on edits too); it is marked edited first, as upstream's
        // hooks see it, so that they treat it as one (quotes of the old text go).
        let mut edited = message.clone();
        edited.text = text;
        edited.mentions = mentions;
        edited.channels = channels;
        edited.urls = urls;
        edited.edited_at = Some(now());
        let mut draft = Draft {
            sender: Sender::Member(session),
            room: &room,
            message: edited,
            effects: PostEffects::default(),
        };
        self.run_filters(&mut draft).await?;
        let Message {
            text,
            mentions,
            channels,
            urls,
            attachments,
            md,
            ..
        } = draft.message;
        let edit = MessageChange::Edit {
            text,
            mentions,
            channels,
            urls,
            md,
            by: UserStub {
                id: session.user.id.clone(),
                username: session.user.username.clone(),
                name: None,
            },
            attachments,
            custom_fields: custom_fields.cloned(),
        };
        let edited = self
            .change_message(&message.id, &edit)
            .await?
            .map(|changed| changed.message)
            .ok_or_else(|| {
                Error::failure(format!("No message found with the id of \"{message_id}\"."))
            })?;
        self.queue_previews(&edited);
        self.ctx.auto_translate().queue(&edited);
        Ok(edited)
    }

    /// `chat.delete`.
    pub async fn delete_message(
        &self,
        session: &Session,
        room_id: &str,
        message_id: &str,
    ) -> Result<Message> {
        let found = self
            .ctx
            .store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?;
        let Some(message) = found.filter(|m| m.deleted_at.is_none()) else {
            return Err(Error::failure(format!(
                "No message found with the id of \"{message_id}\"."
            )));
        };
        if message.room_id != room_id {
            return Err(Error::failure(
                "The room id provided does not match where the message is from.",
            ));
        }
        let not_allowed = || {
            Error::meteor("error-action-not-allowed", "Not allowed")
                .with_details(json!({"method": "deleteMessage", "action": "Delete_message"}))
        };
        let forced = self
            .ctx
            .rooms()
            .has_room_permission(&session.user, "force-delete-message", room_id)
            .await?;
        if !forced {
            let any = self
                .ctx
                .rooms()
                .has_room_permission(&session.user, "delete-message", room_id)
                .await?;
            let own = message.author.id == session.user.id
                && self
                    .ctx
                    .rooms()
                    .has_room_permission(&session.user, "delete-own-message", room_id)
                    .await?;
            if !(any || own) || !self.ctx.setting_bool("Message_AllowDeleting") {
                return Err(not_allowed());
            }
            if !self
                .ctx
                .has_permission(&session.user, "bypass-time-limit-edit-and-delete")
                && !self.within_window("Message_AllowDeleting_BlockDeleteInMinutes", &message)
            {
                return Err(Error::meteor(
                    "error-message-deleting-blocked",
                    "Message deleting is blocked",
                )
                .with_details(json!({"method": "deleteMessage"})));
            }
        }
        self.remove_message(&session.user, &message).await?;
        self.audit_deletion_by_other(session, &message).await?;
        Ok(message)
    }

    /// Deletes a message someone was allowed to delete, as `Message_ShowDeletedStatus` says
    /// (emptied and marked, or removed), with its files, telling clients and forgetting the
    /// thread unreads it caused. Callers check who may.
    pub(crate) async fn remove_message(&self, by: &User, message: &Message) -> Result<()> {
        if self.ctx.setting_bool("Message_ShowDeletedStatus") {
            // The message stays, emptied, and clients see it change rather than go.
            let stub = UserStub {
                id: by.id.clone(),
                username: by.username.clone(),
                name: None,
            };
            self.change_message(&message.id, &MessageChange::MarkDeleted { by: stub })
                .await?;
            tracing::info!(by = %by.id, message = %message.id, "message marked deleted");
            self.ctx.files().delete_message_files(message).await;
            return self.forget_unread_thread(message).await;
        }
        self.ctx
            .store
            .delete_message(&message.id, now())
            .await
            .map_err(store_error)?;
        tracing::info!(by = %by.id, message = %message.id, "message deleted");
        self.ctx.files().delete_message_files(message).await;
        self.ctx.publish(comet_events::Event::MessageDeleted {
            room_id: message.room_id.clone(),
            message_id: message.id.clone(),
        });
        self.forget_unread_thread(message).await
    }

    /// Deleting someone else's message (and its files) is a moderator's act: audited.
    pub(crate) async fn audit_deletion_by_other(
        &self,
        session: &Session,
        message: &Message,
    ) -> Result<()> {
        if message.author.id == session.user.id {
            return Ok(());
        }
        self.ctx
            .audit_by(
                session,
                "message.delete",
                crate::audit::AuditTarget::new(
                    "message",
                    &message.id,
                    Some(message.author.username.clone()),
                ),
                Some(json!({
                    "rid": message.room_id,
                    "u": {"_id": message.author.id, "username": message.author.username},
                    "msg": message.text,
                    "files": message.files,
                })),
                None,
            )
            .await
    }

    /// A deleted thread reply no longer makes its thread unread for anyone in the room (as
    /// upstream, which takes the thread out of the room's unread threads).
    async fn forget_unread_thread(&self, deleted: &Message) -> Result<()> {
        let Some(thread_id) = &deleted.thread_id else {
            return Ok(());
        };
        let (subscriptions, _) = self
            .ctx
            .store
            .subscriptions_of_room(&deleted.room_id, 0, None)
            .await
            .map_err(store_error)?;
        for subscription in subscriptions {
            if !subscription.thread_unread.contains(thread_id) {
                continue;
            }
            let clear_alert = subscription.thread_unread.len() <= 1 && subscription.unread == 0;
            if let Some(updated) = self
                .ctx
                .store
                .read_thread(
                    &deleted.room_id,
                    &subscription.user.id,
                    thread_id,
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
        }
        Ok(())
    }

    /// `chat.react`: toggles (or sets, with `should_react`) the caller's reaction.
    pub async fn react(
        &self,
        session: &Session,
        message_id: &str,
        emoji: &str,
        should_react: Option<bool>,
    ) -> Result<Message> {
        let (message, room) = self.readable_message(session, message_id).await?;
        let Some(emoji) = normalize_emoji(emoji) else {
            return Err(
                Error::meteor("error-not-allowed", "Invalid emoji provided.")
                    .with_details(json!({"method": "setReaction"})),
            );
        };
        if room.read_only
            && !room.react_when_read_only
            && !self
                .ctx
                .rooms()
                .has_room_permission(&session.user, "post-readonly", &room.id)
                .await?
        {
            return Err(cannot_send(
                "You can't send messages because the room is readonly.",
            ));
        }
        if room.muted.iter().any(|u| u == &session.user.username) {
            return Err(Error::meteor(
                "error-not-allowed",
                "You have been muted and cannot react in this room",
            ));
        }
        let reacted = message
            .reactions
            .get(&emoji)
            .is_some_and(|users| users.iter().any(|u| u == &session.user.username));
        let react = should_react.unwrap_or(!reacted);
        let change = if react {
            MessageChange::React {
                emoji,
                username: session.user.username.clone(),
            }
        } else {
            MessageChange::Unreact {
                emoji,
                username: session.user.username.clone(),
            }
        };
        self.change_message(message_id, &change)
            .await?
            .map(|changed| changed.message)
            .ok_or_else(message_not_found)
    }

    /// Applies one change to a live message atomically (see `MessageStore::change_message`)
    /// and announces the message if the change altered it. `None`: no such live message.
    pub(crate) async fn change_message(
        &self,
        message_id: &str,
        change: &MessageChange,
    ) -> Result<Option<MessageChanged>> {
        let outcome = self
            .ctx
            .store
            .change_message(message_id, change, now())
            .await
            .map_err(store_error)?;
        if let Some(changed) = outcome.as_ref().filter(|c| c.changed) {
            self.ctx.publish(comet_events::Event::Message(Box::new(
                changed.message.clone(),
            )));
        }
        Ok(outcome)
    }

    /// `stream-notify-room` `<rid>/user-activity` (and the legacy `typing`): tells the room's
    /// other members what the caller is doing; only members may.
    pub async fn notify_activity(
        &self,
        session: &Session,
        room_id: &str,
        activities: Vec<String>,
        thread_id: Option<String>,
    ) -> Result<()> {
        // Upstream drops activity from non-members without an error.
        if self
            .ctx
            .rooms()
            .subscription(session, room_id)
            .await?
            .is_none()
        {
            return Ok(());
        }
        const KNOWN: [&str; 3] = ["user-typing", "user-recording", "user-uploading"];
        let activities: Vec<String> = activities
            .into_iter()
            .filter(|a| KNOWN.contains(&a.as_str()))
            .collect();
        self.ctx.publish(comet_events::Event::UserActivity {
            room_id: room_id.to_owned(),
            username: session.user.username.clone(),
            activities,
            thread_id,
        });
        Ok(())
    }

    /// A room's history, newest first.
    pub async fn history(&self, room: &RoomAccess, query: &HistoryQuery) -> Result<Vec<Message>> {
        let filter = MessageFilter {
            latest: query.latest,
            oldest: query.oldest,
            inclusive: query.inclusive,
            hide_thread_replies: !query.show_thread_messages,
            ..MessageFilter::default()
        };
        let page = Page {
            offset: query.offset,
            count: query.count,
            sort: vec![(MessageSortKey::CreatedAt, Direction::Descending)],
        };
        self.ctx
            .store
            .room_messages(&room.id, &filter, &page)
            .await
            .map_err(store_error)
    }

    /// The unread messages older than a loaded page (DDP `loadHistory`): those after the
    /// caller's last-seen time `last_seen` and before `loaded_from` (the oldest message of the
    /// page), as the first of them and how many there are.
    pub async fn unread_before(
        &self,
        room: &RoomAccess,
        last_seen: Timestamp,
        loaded_from: Timestamp,
        show_thread_messages: bool,
    ) -> Result<(Option<Message>, u64)> {
        let filter = MessageFilter {
            latest: Some(loaded_from),
            oldest: Some(last_seen),
            inclusive: false,
            hide_thread_replies: !show_thread_messages,
            ..MessageFilter::default()
        };
        let page = Page {
            offset: 0,
            count: Some(1),
            sort: vec![(MessageSortKey::CreatedAt, Direction::Ascending)],
        };
        let (mut first, total) = self.room_messages(room, &filter, &page).await?;
        Ok((first.pop(), total))
    }

    /// A page of a room's messages with a filter (`channels.messages`, pinned, starred, ...).
    pub async fn room_messages(
        &self,
        room: &RoomAccess,
        filter: &MessageFilter,
        page: &Page<MessageSortKey>,
    ) -> Result<(Vec<Message>, u64)> {
        let messages = self
            .ctx
            .store
            .room_messages(&room.id, filter, page)
            .await
            .map_err(store_error)?;
        let total = self
            .ctx
            .store
            .count_room_messages(&room.id, filter)
            .await
            .map_err(store_error)?;
        Ok((messages, total))
    }

    /// `channels.anonymousread`: a public channel's messages for anyone, signed in or not,
    /// while `Accounts_AllowAnonymousRead` is on. As upstream, the channel is looked up first,
    /// so an unknown one is "not found" whatever the setting.
    pub async fn anonymous_read(
        &self,
        channel: &crate::rooms::RoomRef,
        page: &Page<MessageSortKey>,
    ) -> Result<(Vec<Message>, u64)> {
        let found = self.ctx.rooms().find_room_unchecked(channel).await?;
        let Some(room) = found.filter(|r| r.room_type == RoomType::Channel) else {
            return Err(crate::rooms::room_not_found(RoomFamily::Channels));
        };
        if !self.ctx.setting_bool("Accounts_AllowAnonymousRead") {
            return Err(
                Error::meteor("error-not-allowed", "Enable \"Allow Anonymous Read\"")
                    .with_details(json!({"method": "channels.anonymousread"})),
            );
        }
        let filter = MessageFilter::default();
        let messages = self
            .ctx
            .store
            .room_messages(&room.id, &filter, page)
            .await
            .map_err(store_error)?;
        let total = self
            .ctx
            .store
            .count_room_messages(&room.id, &filter)
            .await
            .map_err(store_error)?;
        Ok((messages, total))
    }

    /// `chat.search`: full-text search in one room the caller may read, with upstream's
    /// operators (`from:`, `mention:`, `has:star`, `is:pinned`, `before:`, `after:`, `on:`,
    /// `order:asc`).
    pub async fn search_messages(
        &self,
        session: &Session,
        room_id: &str,
        text: &str,
        offset: u64,
        count: Option<u64>,
    ) -> Result<Vec<Message>> {
        let room = self
            .ctx
            .rooms()
            .room_for(
                session,
                &crate::rooms::RoomRef::Id(room_id.to_owned()),
                RoomFamily::Any,
            )
            .await
            .map_err(|_| Error::failure(""))?;
        let query = comet_core::search::parse(text);
        let user_id_of = |name: &str| {
            let name = name.to_owned();
            async move {
                if name == "me" {
                    return Ok::<_, Error>(Some(session.user.id.clone()));
                }
                Ok(self
                    .ctx
                    .store
                    .user_by_username(&name)
                    .await
                    .map_err(store_error)?
                    .map(|u| u.id))
            }
        };
        let mut filter = MessageFilter {
            hide_system: true,
            pinned_only: query.pinned,
            starred_by: if query.starred {
                vec![session.user.id.clone()]
            } else {
                Vec::new()
            },
            ..MessageFilter::default()
        };
        if let Some(from) = &query.from {
            // An unknown author matches nothing.
            filter.author_id = Some(user_id_of(from).await?.unwrap_or_default());
        }
        if let Some(mention) = &query.mention {
            filter.mentioning = vec![user_id_of(mention).await?.unwrap_or_default()];
        }
        let day_start = |d: chrono::NaiveDate| d.and_hms_opt(0, 0, 0).map(|t| t.and_utc());
        if let Some(day) = query.on {
            filter.oldest = day_start(day);
            filter.latest = day.succ_opt().and_then(day_start);
            filter.inclusive = false;
        }
        if let Some(day) = query.before {
            filter.latest = day_start(day);
        }
        if let Some(day) = query.after {
            filter.oldest = day.succ_opt().and_then(day_start);
            filter.inclusive = true;
        }
        self.ctx
            .store
            .search_messages(
                &room.id,
                &query.text,
                &filter,
                query.oldest_first,
                offset,
                count,
            )
            .await
            .map_err(store_error)
    }
}

/// Who a reply in a thread reaches, as upstream's `reply` decides: the users it mentions
/// start following the thread, and so does the root's author when the thread starts; every
/// follower other than the author and the mentioned gets the thread among their unread
/// threads (marked as a group mention for `@all`/`@here`), and the mentioned get it marked
/// as mentioning them.
fn thread_reply_effects(
    root: &Message,
    author_id: &str,
    mentioned: &[String],
    group: bool,
) -> ThreadReplyEffects {
    let mut new_followers: Vec<String> = mentioned.to_vec();
    if root.thread_participants.is_empty() && root.author.id != author_id {
        new_followers.push(root.author.id.clone());
    }
    let mut followers: Vec<String> = Vec::new();
    for user_id in root.thread_participants.iter().chain(&new_followers) {
        if user_id != author_id && !mentioned.contains(user_id) && !followers.contains(user_id) {
            followers.push(user_id.clone());
        }
    }
    ThreadReplyEffects {
        new_followers,
        followers,
        group,
        mentioned: mentioned.to_vec(),
    }
}

#[cfg(test)]
mod tests {
    use super::normalize_emoji;

    #[test]
    fn emoji_names_get_colons() {
        assert_eq!(normalize_emoji("smile").as_deref(), Some(":smile:"));
        assert_eq!(normalize_emoji(":+1:").as_deref(), Some(":+1:"));
        assert_eq!(normalize_emoji("no spaces"), None);
        assert_eq!(normalize_emoji("::"), None);
    }
}

/// One member having read a message (see [`Messages::read_receipts`]).
#[derive(Debug, Clone)]
pub struct ReadReceipt {
    pub room_id: String,
    pub message_id: String,
    pub user: UserStub,
    pub at: Timestamp,
}

/// What `loadSurroundingMessages` answers: a message with its neighbours, oldest first.
#[derive(Debug, Clone)]
pub struct Surrounding {
    pub messages: Vec<Message>,
    /// More messages precede the first one.
    pub more_before: bool,
    /// More messages follow the last one.
    pub more_after: bool,
}

impl Messages<'_> {
    /// Messages of a room the caller may read, strictly after or before `at`.
    async fn messages_beside(
        &self,
        room: &RoomAccess,
        at: Option<Timestamp>,
        after: bool,
        limit: u64,
    ) -> Result<Vec<Message>> {
        let filter = if after {
            MessageFilter {
                oldest: at,
                ..MessageFilter::default()
            }
        } else {
            MessageFilter {
                latest: at,
                ..MessageFilter::default()
            }
        };
        let direction = if after {
            Direction::Ascending
        } else {
            Direction::Descending
        };
        let page = Page {
            offset: 0,
            count: Some(limit),
            sort: vec![(MessageSortKey::CreatedAt, direction)],
        };
        self.ctx
            .store
            .room_messages(&room.id, &filter, &page)
            .await
            .map_err(store_error)
    }

    /// Upstream's `loadNextMessages`: a room's messages after `end` (from its start without
    /// one), oldest first. A room the caller may not read, or that does not exist, is
    /// `error-not-allowed`.
    pub async fn next_messages(
        &self,
        session: &Session,
        room_id: &str,
        end: Option<Timestamp>,
        limit: u64,
    ) -> Result<Vec<Message>> {
        if room_id.is_empty() {
            return Err(Error::meteor("error-invalid-room", "Invalid room")
                .with_details(json!({"method": "loadNextMessages"})));
        }
        let not_allowed = || {
            Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "loadNextMessages"}))
        };
        let rooms = self.ctx.rooms();
        let room = rooms
            .find_room_unchecked(&crate::rooms::RoomRef::Id(room_id.to_owned()))
            .await?
            .ok_or_else(not_allowed)?;
        let room = rooms
            .room_access(session, room)
            .await?
            .ok_or_else(not_allowed)?;
        self.messages_beside(&room, end, true, limit).await
    }

    /// Upstream's `loadSurroundingMessages`: up to `limit` messages around one (half before,
    /// rounded up, then the message, then the rest after). `None` when the message does not
    /// exist or the caller may not read its room, where upstream answers `false`.
    pub async fn surrounding_messages(
        &self,
        session: &Session,
        message_id: &str,
        limit: i64,
    ) -> Result<Option<Surrounding>> {
        let Some(message) = self
            .ctx
            .store
            .message_by_id(message_id)
            .await
            .map_err(store_error)?
            .filter(|m| m.deleted_at.is_none())
        else {
            return Ok(None);
        };
        let rooms = self.ctx.rooms();
        let Some(room) = rooms
            .find_room_unchecked(&crate::rooms::RoomRef::Id(message.room_id.clone()))
            .await?
        else {
            return Ok(None);
        };
        let Some(room) = rooms.room_access(session, room).await? else {
            return Ok(None);
        };
        let rest = (limit - 1).max(0) as u64;
        let before_limit = rest.div_ceil(2);
        let after_limit = rest / 2;
        let mut messages = if before_limit == 0 {
            Vec::new()
        } else {
            self.messages_beside(&room, Some(message.created_at), false, before_limit)
                .await?
        };
        let more_before = messages.len() as u64 == before_limit;
        messages.reverse();
        let after = if after_limit == 0 {
            Vec::new()
        } else {
            self.messages_beside(&room, Some(message.created_at), true, after_limit)
                .await?
        };
        let more_after = after.len() as u64 == after_limit;
        messages.push(message);
        messages.extend(after);
        Ok(Some(Surrounding {
            messages,
            more_before,
            more_after,
        }))
    }

    /// Upstream's `getMessages`: messages by id, refused (`error-not-allowed`) when any of
    /// them is in a room the caller may not read; ids of no message are left out.
    pub async fn messages_by_ids(&self, session: &Session, ids: &[String]) -> Result<Vec<Message>> {
        let messages: Vec<Message> = self
            .ctx
            .store
            .messages_by_ids(ids)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter(|m| m.deleted_at.is_none())
            .collect();
        let mut room_ids: Vec<&str> = messages.iter().map(|m| m.room_id.as_str()).collect();
        room_ids.sort_unstable();
        room_ids.dedup();
        let rooms = self.ctx.rooms();
        for room_id in room_ids {
            let readable = match rooms
                .find_room_unchecked(&crate::rooms::RoomRef::Id(room_id.to_owned()))
                .await?
            {
                Some(room) => rooms.can_access_room(&session.user, &room).await?,
                None => false,
            };
            if !readable {
                return Err(Error::meteor("error-not-allowed", "Not allowed")
                    .with_details(json!({"method": "getSingleMessage"})));
            }
        }
        Ok(messages)
    }
}
