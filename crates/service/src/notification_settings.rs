//! A member's notification preferences for one room (upstream's `saveNotificationSettings`
//! and `rooms.saveNotification`), kept on their subscription under upstream's field names.

use crate::Rooms;
use crate::{Session, store_error};
use comet_core::{Error, Result, now};
use serde_json::{Value, json};

/// The fields a member may set, with what each keeps.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// `all`/`mentions`/`nothing`, or `default` to fall back to the account's preference;
    /// kept with its origin field (`desktopPrefOrigin`, ...).
    Level(&'static str),
    /// Kept as given; `default` removes it.
    Text,
    /// Kept as given, `default` included (upstream's `unreadAlert`).
    Verbatim,
    /// `"1"` turns it on, anything else off.
    Flag,
}

const FIELDS: &[(&str, Kind)] = &[
    ("desktopNotifications", Kind::Level("desktopPrefOrigin")),
    ("audioNotificationValue", Kind::Text),
    ("mobilePushNotifications", Kind::Level("mobilePrefOrigin")),
    ("emailNotifications", Kind::Level("emailPrefOrigin")),
    ("unreadAlert", Kind::Verbatim),
    ("disableNotifications", Kind::Flag),
    ("hideUnreadStatus", Kind::Flag),
    ("hideMentionStatus", Kind::Flag),
    ("muteGroupMentions", Kind::Flag),
];

const LEVELS: &[&str] = &["all", "mentions", "nothing", "default"];

fn method_details() -> Value {
    json!({"method": "saveNotificationSettings"})
}

impl Rooms<'_> {
    /// Saves one notification preference on the caller's subscription to a room. Checked in
    /// upstream's order: a known field, a value its field accepts, then the subscription.
    pub async fn save_notification_setting(
        &self,
        session: &Session,
        room_id: &str,
        field: &str,
        value: &str,
    ) -> Result<()> {
        self.save_notification_settings(session, room_id, &[(field.to_owned(), value.to_owned())])
            .await
    }

    /// Saves several preferences at once (`rooms.saveNotification`): all are checked before
    /// any is written, and the subscription changes once.
    pub async fn save_notification_settings(
        &self,
        session: &Session,
        room_id: &str,
        settings: &[(String, String)],
    ) -> Result<()> {
        let mut kinds = Vec::with_capacity(settings.len());
        for (field, value) in settings {
            let Some((_, kind)) = FIELDS.iter().find(|(name, _)| name == field) else {
                return Err(
                    Error::meteor("error-invalid-settings", "Invalid settings field")
                        .with_details(method_details()),
                );
            };
            if matches!(kind, Kind::Level(_)) && !LEVELS.contains(&value.as_str()) {
                return Err(Error::meteor(
                    "error-invalid-notification-settings-value",
                    "Invalid notification settings value",
                )
                .with_details(method_details()));
            }
            kinds.push(*kind);
        }
        let Some(mut subscription) = self
            .ctx
            .store
            .subscription(room_id, &session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(
                Error::meteor("error-invalid-subscription", "Invalid subscription")
                    .with_details(method_details()),
            );
        };
        let fields = &mut subscription.notifications;
        for ((field, value), kind) in settings.iter().zip(kinds) {
            match kind {
                Kind::Level(origin) if value == "default" => {
                    // Back to the account's preference, which the subscription then no
                    // longer overrides.
                    fields.remove(field);
                    fields.remove(origin);
                }
                Kind::Level(origin) => {
                    fields.insert(field.clone(), json!(value));
                    fields.insert(origin.to_owned(), json!("subscription"));
                }
                Kind::Text if value == "default" => {
                    fields.remove(field);
                }
                Kind::Text | Kind::Verbatim => {
                    fields.insert(field.clone(), json!(value));
                }
                Kind::Flag => {
                    fields.insert(field.clone(), json!(value == "1"));
                }
            }
        }
        subscription.updated_at = now();
        self.ctx
            .store
            .update_subscription(&subscription)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, room = %room_id, "notification preferences saved");
        self.publish_subscription(comet_events::Change::Updated, subscription);
        Ok(())
    }
}
