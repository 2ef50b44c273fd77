//! Users, their login tokens and presence.

use crate::Timestamp;
use serde_json::Value;

/// What kind of account this is (Rocket.Chat's `IUser.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum UserType {
    User,
    Bot,
    App,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::User => "user",
            UserType::Bot => "bot",
            UserType::App => "app",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "user" => Some(UserType::User),
            "bot" => Some(UserType::Bot),
            "app" => Some(UserType::App),
            _ => None,
        }
    }
}

/// Presence as Rocket.Chat names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Presence {
    Online,
    Away,
    Busy,
    Offline,
}

impl Presence {
    pub fn as_str(self) -> &'static str {
        match self {
            Presence::Online => "online",
            Presence::Away => "away",
            Presence::Busy => "busy",
            Presence::Offline => "offline",
        }
    }

    /// The status others see: offline without a connection, otherwise the chosen status
    /// (`online` as a choice means "whatever my connections say").
    pub fn effective(connection: Presence, chosen: Presence) -> Presence {
        match (connection, chosen) {
            (Presence::Offline, _) => Presence::Offline,
            (connection, Presence::Online) => connection,
            (_, chosen) => chosen,
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "online" => Some(Presence::Online),
            "away" => Some(Presence::Away),
            "busy" => Some(Presence::Busy),
            "offline" => Some(Presence::Offline),
            _ => None,
        }
    }
}

/// An email address of a user.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Email {
    pub address: String,
    pub verified: bool,
}

/// A user account.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    pub name: String,
    pub email: Option<Email>,
    pub user_type: UserType,
    pub active: bool,
    /// Global roles (`IUser.roles`).
    pub roles: Vec<String>,
    /// The status others see (explicit choice or derived from connections).
    pub status: Presence,
    /// The status the user chose; `Online` means "follow my connections".
    pub status_default: Presence,
    /// The status derived from live connections.
    pub status_connection: Presence,
    pub status_text: String,
    pub utc_offset: f64,
    /// bcrypt of the SHA-256 hex digest of the password; `None` for accounts without one.
    /// Never leaves the process in an event (events may cross the network to other
    /// instances); a user decoded from one has none.
    #[serde(skip)]
    pub password_bcrypt: Option<String>,
    pub require_password_change: bool,
    pub language: Option<String>,
    pub nickname: Option<String>,
    pub bio: Option<String>,
    /// `settings.preferences` as the user saved them (merged with defaults on the wire).
    pub preferences: Value,
    pub custom_fields: Option<Value>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    pub last_login: Option<Timestamp>,
    /// Trusted by an administrator: exempt from the limits on new accounts (links, files,
    /// rooms joined, direct messages to strangers) whatever its age. Accounts an administrator
    /// or the server creates start approved; self-registered ones do not.
    #[serde(default)]
    pub approved: bool,
}

impl User {
    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }
}

/// What a stored login token is.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenKind {
    /// An ordinary session token from a login; expires.
    Login,
    /// A personal access token; never expires.
    PersonalAccess {
        name: String,
        last_token_part: String,
        bypass_two_factor: bool,
    },
}

/// A login token as stored: only its hash is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginToken {
    pub user_id: String,
    pub hashed_token: String,
    pub created_at: Timestamp,
    pub kind: TokenKind,
    /// Until when a second factor given on this token stays valid, and for which client
    /// (a hash of its address and user agent): Rocket.Chat's "remember two-factor".
    pub two_factor_until: Option<Timestamp>,
    pub two_factor_client: Option<String>,
}

/// The name shown on messages of a deleted user re-attributed to `rocket.cat` (upstream's
/// `Removed_User`, under `Message_ErasureType` = `Unlink`).
pub const REMOVED_USER_ALIAS: &str = "Removed User";

/// The JSON shape a preference value must have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferenceShape {
    Bool,
    Number,
    Text,
    /// An array of strings (`highlights`).
    Words,
    /// An array of objects (`dontAskAgainList`, `featuresPreview`).
    Objects,
}

impl PreferenceShape {
    /// Whether `value` has this shape; `null` is accepted for every key, as upstream's schema
    /// marks them all `nullable`.
    pub fn accepts(self, value: &Value) -> bool {
        match (self, value) {
            (_, Value::Null) => true,
            (PreferenceShape::Bool, Value::Bool(_)) => true,
            (PreferenceShape::Number, Value::Number(_)) => true,
            (PreferenceShape::Text, Value::String(_)) => true,
            (PreferenceShape::Words, Value::Array(items)) => items.iter().all(Value::is_string),
            (PreferenceShape::Objects, Value::Array(items)) => items.iter().all(Value::is_object),
            _ => false,
        }
    }

    /// The ajv type word of the refusal (`must be boolean`).
    pub fn type_word(self) -> &'static str {
        match self {
            PreferenceShape::Bool => "boolean",
            PreferenceShape::Number => "number",
            PreferenceShape::Text => "string",
            PreferenceShape::Words | PreferenceShape::Objects => "array",
        }
    }
}

/// The keys `users.setPreferences` accepts: upstream's `UsersSetPreferencesParamsPOST` schema
/// (CE), plus `idleTimeLimit`, which upstream's own end-to-end test sends and its clients save.
/// `language` is among them but is kept on the user, not in `settings.preferences`.
pub const PREFERENCE_KEYS: &[(&str, PreferenceShape)] = {
    use PreferenceShape::{Bool, Number, Objects, Text, Words};
    &[
        ("newRoomNotification", Text),
        ("newMessageNotification", Text),
        ("clockMode", Number),
        ("useEmojis", Bool),
        ("convertAsciiEmoji", Bool),
        ("alsoSendThreadToChannel", Text),
        ("saveMobileBandwidth", Bool),
        ("collapseMediaByDefault", Bool),
        ("autoImageLoad", Bool),
        ("emailNotificationMode", Text),
        ("unreadAlert", Bool),
        ("notificationsSoundVolume", Number),
        ("desktopNotifications", Text),
        ("pushNotifications", Text),
        ("enableAutoAway", Bool),
        ("highlights", Words),
        ("showThreadsInMainChannel", Bool),
        ("desktopNotificationRequireInteraction", Bool),
        ("hideUsernames", Bool),
        ("hideRoles", Bool),
        ("displayAvatars", Bool),
        ("hideFlexTab", Bool),
        ("sendOnEnter", Text),
        ("language", Text),
        ("sidebarShowFavorites", Bool),
        ("sidebarShowUnread", Bool),
        ("sidebarSortby", Text),
        ("sidebarViewMode", Text),
        ("sidebarDisplayAvatar", Bool),
        ("sidebarGroupByType", Bool),
        ("muteFocusedConversations", Bool),
        ("dontAskAgainList", Objects),
        ("featuresPreview", Objects),
        ("themeAppearence", Text),
        ("fontSize", Text),
        ("receiveLoginDetectionEmail", Bool),
        ("notifyCalendarEvents", Bool),
        ("idleTimeLimit", Number),
        ("idleTimeLimitH", Number),
        ("idleTimeLimitM", Number),
        ("idleTimeLimitS", Number),
        ("omnichannelTranscriptEmail", Bool),
        ("omnichannelTranscriptPDF", Bool),
        ("omnichannelHideConversationAfterClosing", Bool),
        ("enableMobileRinging", Bool),
        ("mentionsWithSymbol", Bool),
    ]
};
