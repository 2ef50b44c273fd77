//! Who hears of a new message beyond the room's open views, and how: the notification policy.
//! Desktop notifications today (delivered by the realtime transport to the connections that
//! listen for them); mobile push and email will be decided here too.

use crate::Messages;
use comet_core::Result;
use comet_core::room::{Message, Room, RoomType, UserStub};

/// Rooms with more members than this notify only mentions (upstream's
/// `Notifications_Max_Room_Members`).
const MAX_MEMBERS_NOTIFIED_OF_EVERYTHING: i64 = 100;

/// A desktop notification for one user (`<uid>/notification` on `stream-notify-user`).
#[derive(Debug, Clone, PartialEq)]
pub struct DesktopNotification {
    pub user_id: String,
    pub title: String,
    pub text: String,
    pub message_id: String,
    pub message_text: String,
    pub thread_id: Option<String>,
    pub room_id: String,
    pub room_type: RoomType,
    pub room_name: Option<String>,
    pub sender: UserStub,
    /// The sender's name as shown (their name, else their username).
    pub sender_name: String,
}

/// Whether a message mentions everyone (`@all`, `@here`).
fn mentions_everyone(message: &Message) -> bool {
    message
        .mentions
        .iter()
        .any(|m| m.id == "all" || m.id == "here")
}

impl Messages<'_> {
    /// Of the users listening for notifications in a room, those who may hear of `message`
    /// at all, decided before loading anyone (so that a busy big room costs nothing per
    /// listener): in a large room only those mentioned; never the author; nobody for system
    /// messages.
    pub fn notification_candidates(
        &self,
        room: &Room,
        message: &Message,
        listening: Vec<String>,
    ) -> Vec<String> {
        if message.kind.is_some() {
            return Vec::new();
        }
        let everyone_may_hear = room.room_type == RoomType::Direct
            || mentions_everyone(message)
            || room.users_count <= MAX_MEMBERS_NOTIFIED_OF_EVERYTHING;
        listening
            .into_iter()
            .filter(|u| u != &message.author.id)
            .filter(|u| everyone_may_hear || message.mentions.iter().any(|m| &m.id == u))
            .collect()
    }

    /// The desktop notifications of `message` for `candidates` (from
    /// `notification_candidates`), by each user's `desktopNotifications` preference:
    /// direct messages and mentions always, every message in small rooms for users who want
    /// all, nothing for users who want nothing.
    pub async fn desktop_notifications(
        &self,
        room: &Room,
        message: &Message,
        candidates: &[String],
    ) -> Result<Vec<DesktopNotification>> {
        let direct = room.room_type == RoomType::Direct;
        let group = mentions_everyone(message);
        let sender_name = message
            .author
            .name
            .clone()
            .unwrap_or_else(|| message.author.username.clone());
        let users = self.ctx.rooms().users_by_ids(candidates).await?;
        let mut notifications = Vec::new();
        for user in users {
            let preference = self
                .ctx
                .accounts()
                .me(&user)
                .preferences
                .get("desktopNotifications")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("all")
                .to_owned();
            let mentioned = message.mentions.iter().any(|m| m.id == user.id);
            let wanted = match preference.as_str() {
                "nothing" => false,
                "mentions" => direct || mentioned || group,
                _ => {
                    direct
                        || mentioned
                        || group
                        || room.users_count <= MAX_MEMBERS_NOTIFIED_OF_EVERYTHING
                }
            };
            if !wanted {
                continue;
            }
            let (title, text) = if direct {
                (sender_name.clone(), message.text.clone())
            } else {
                (
                    format!("#{}", room.name.clone().unwrap_or_default()),
                    format!("{}: {}", message.author.username, message.text),
                )
            };
            notifications.push(DesktopNotification {
                user_id: user.id,
                title,
                text,
                message_id: message.id.clone(),
                message_text: message.text.clone(),
                thread_id: message.thread_id.clone(),
                room_id: room.id.clone(),
                room_type: room.room_type,
                room_name: room.name.clone(),
                sender: message.author.clone(),
                sender_name: sender_name.clone(),
            });
        }
        Ok(notifications)
    }
}
