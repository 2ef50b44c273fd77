//! Mail for people who are away (upstream's `shouldNotifyEmail` / `sendEmail` of
//! `sendNotificationsOnMessage`): a direct message, or a mention, to a member whose
//! connections are all gone, whose `emailNotificationMode` preference and subscription's
//! `emailNotifications` allow it and whose address is verified, is mailed to them.
//!
//! Posting never waits for this: the posted message goes into a bounded channel (a full one
//! drops the job, logged) and a worker decides and queues the mail (the mail queue itself is
//! durable).

use crate::mail_templates::{MailLanguage, MessageNotice, render_message_notice};
use crate::{Service, store_error};
use comet_core::Result;
use comet_core::room::{Message, Room, RoomType};
use comet_core::user::Presence;
use std::sync::Arc;
use tokio::sync::mpsc;

/// Posted messages waiting for the worker at most.
const QUEUE: usize = 1024;

/// One posted message to decide mail for.
pub(crate) struct OfflineMailJob {
    room: Room,
    message: Message,
}

/// The posting side of the worker's channel.
pub(crate) struct OfflineMailQueue {
    jobs: mpsc::Sender<OfflineMailJob>,
}

impl OfflineMailQueue {
    pub(crate) fn new() -> (OfflineMailQueue, mpsc::Receiver<OfflineMailJob>) {
        let (jobs, waiting) = mpsc::channel(QUEUE);
        (OfflineMailQueue { jobs }, waiting)
    }
}

impl Service {
    /// Hands a posted message to the worker; never waits.
    pub(crate) fn queue_offline_mail(&self, room: &Room, message: &Message) {
        if message.kind.is_some()
            || !self.setting_bool("Accounts_AllowEmailNotifications")
            || (room.room_type != RoomType::Direct && message.mentions.is_empty())
        {
            return;
        }
        let job = OfflineMailJob {
            room: room.clone(),
            message: message.clone(),
        };
        if self.offline_mail.jobs.try_send(job).is_err() {
            tracing::warn!("offline mail: the queue is full, a message's mail is dropped");
        }
    }

    /// Decides and queues the mail of each posted message. Holds the service weakly.
    pub(crate) fn run_offline_mail_worker(
        self: &Arc<Self>,
        mut waiting: mpsc::Receiver<OfflineMailJob>,
    ) {
        let service = Arc::downgrade(self);
        tokio::spawn(async move {
            while let Some(job) = waiting.recv().await {
                let Some(live) = service.upgrade() else {
                    break;
                };
                if let Err(e) = live.mail_offline_recipients(&job.room, &job.message).await {
                    tracing::warn!(error = %e, message = %job.message.id, "offline mail failed");
                }
            }
        });
    }

    async fn mail_offline_recipients(&self, room: &Room, message: &Message) -> Result<()> {
        let direct = room.room_type == RoomType::Direct;
        let candidates: Vec<String> = if direct {
            room.user_ids.clone()
        } else {
            message.mentions.iter().map(|m| m.id.clone()).collect()
        };
        let candidates: Vec<String> = candidates
            .into_iter()
            .filter(|id| id != &message.author.id && id != "all" && id != "here")
            .collect();
        if candidates.is_empty() {
            return Ok(());
        }
        let users = self.rooms().users_by_ids(&candidates).await?;
        let sender = message
            .author
            .name
            .clone()
            .filter(|n| !n.trim().is_empty())
            .unwrap_or_else(|| message.author.username.clone());
        let site = self
            .setting_str("Site_Url")
            .trim_end_matches('/')
            .to_owned();
        let site_name = self.setting_str("Site_Name");
        let server_language = self.setting_str("Language");
        for user in users {
            if user.status_connection != Presence::Offline || !user.active {
                continue;
            }
            let Some(address) = user.email.as_ref().filter(|e| e.verified) else {
                continue;
            };
            let Some(subscription) = self
                .store
                .subscription(&room.id, &user.id)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            let setting = |key: &str| {
                subscription
                    .notifications
                    .get(key)
                    .cloned()
                    .unwrap_or(serde_json::Value::Null)
            };
            if setting("disableNotifications") == serde_json::Value::Bool(true) {
                continue;
            }
            let room_choice = setting("emailNotifications");
            let wanted = match room_choice.as_str() {
                Some("nothing") => false,
                Some("all" | "mentions") => true,
                _ => {
                    let preferences = self.accounts().me(&user).preferences;
                    preferences
                        .get("emailNotificationMode")
                        .and_then(serde_json::Value::as_str)
                        .unwrap_or("mentions")
                        != "nothing"
                }
            };
            if !wanted {
                continue;
            }
            let (room_name, room_url) = if direct {
                (sender.clone(), format!("{site}/direct/{}", room.id))
            } else {
                let name = room
                    .fname
                    .clone()
                    .or_else(|| room.name.clone())
                    .unwrap_or_default();
                let path = if room.room_type == RoomType::Private {
                    "group"
                } else {
                    "channel"
                };
                let slug = room.name.clone().unwrap_or_else(|| room.id.clone());
                (name, format!("{site}/{path}/{slug}"))
            };
            let language =
                MailLanguage::pick([user.language.as_deref(), Some(server_language.as_str())]);
            let mail = render_message_notice(
                language,
                &MessageNotice {
                    site: &site_name,
                    sender: &sender,
                    room: &room_name,
                    direct,
                    text: &message.text,
                    room_url: &room_url,
                },
            );
            self.queue_mail(&address.address, mail).await?;
        }
        Ok(())
    }
}
