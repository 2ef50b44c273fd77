//! What a new Comet server starts with: Rocket.Chat's default roles, permissions and settings.
//!
//! Ids, defaults and role lists follow upstream (`upsertPermissions.ts`, `constant/permissions.ts`,
//! `server/settings/*.ts`) so that clients which gate features on them behave as against
//! Rocket.Chat. Admins change them at runtime; this table only seeds an empty database.

use crate::setting::SettingType;
use serde_json::{Value, json};

/// A role scope: global (`Users`) or per room (`Subscriptions`).
pub const SCOPE_USERS: &str = "Users";
pub const SCOPE_SUBSCRIPTIONS: &str = "Subscriptions";

/// A built-in role: `(id, scope, description)`. Built-ins are protected.
pub const DEFAULT_ROLES: &[(&str, &str, &str)] = &[
    ("admin", SCOPE_USERS, "Admin"),
    ("moderator", SCOPE_SUBSCRIPTIONS, "Moderator"),
    ("leader", SCOPE_SUBSCRIPTIONS, "Leader"),
    ("owner", SCOPE_SUBSCRIPTIONS, "Owner"),
    ("user", SCOPE_USERS, ""),
    ("bot", SCOPE_USERS, ""),
    ("app", SCOPE_USERS, ""),
    ("guest", SCOPE_USERS, ""),
    ("anonymous", SCOPE_USERS, ""),
    ("livechat-agent", SCOPE_USERS, "Livechat Agent"),
    ("livechat-manager", SCOPE_USERS, "Livechat Manager"),
];

/// Permission ids with their default roles (upstream `constant/permissions.ts`).
pub const DEFAULT_PERMISSIONS: &[(&str, &[&str])] = &[
    ("access-mailer", &["admin"]),
    ("access-marketplace", &["admin", "user"]),
    ("access-permissions", &["admin"]),
    ("access-setting-permissions", &["admin"]),
    ("add-all-to-room", &["admin"]),
    (
        "add-livechat-department-agents",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("add-oauth-service", &["admin"]),
    ("add-team-channel", &["admin", "owner", "moderator"]),
    ("add-team-member", &["admin", "owner", "moderator"]),
    ("add-user-to-any-c-room", &["admin"]),
    ("add-user-to-any-p-room", &[]),
    ("add-user-to-joined-room", &["admin", "owner", "moderator"]),
    ("api-bypass-rate-limit", &["admin", "bot", "app"]),
    // Comet's: list and unlist file digests in the upload blocklist (`files.blocklist.*`).
    ("manage-file-blocklist", &["admin"]),
    ("archive-room", &["admin", "owner"]),
    ("assign-admin-role", &["admin"]),
    ("assign-roles", &["admin"]),
    ("auto-translate", &["admin"]),
    ("ban-user", &["admin", "owner", "moderator"]),
    ("bulk-register-user", &["admin"]),
    ("bypass-time-limit-edit-and-delete", &["bot", "app"]),
    ("call-management", &["admin", "owner", "moderator", "user"]),
    (
        "change-livechat-room-visitor",
        &["admin", "livechat-manager", "livechat-agent"],
    ),
    ("clean-channel-history", &["admin"]),
    ("clear-oembed-cache", &["admin"]),
    (
        "close-livechat-room",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    (
        "close-others-livechat-room",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("convert-team", &["admin", "owner"]),
    ("create-c", &["admin", "user", "bot", "app"]),
    ("create-d", &["admin", "user", "bot", "app"]),
    ("create-invite-links", &["admin", "owner", "moderator"]),
    (
        "create-livechat-contact",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    ("create-p", &["admin", "user", "bot", "app"]),
    ("create-personal-access-tokens", &["admin", "user"]),
    ("create-team", &["admin", "user"]),
    ("create-team-channel", &["admin", "owner", "moderator"]),
    ("create-team-group", &["admin", "owner", "moderator"]),
    ("create-user", &["admin"]),
    ("delete-c", &["admin", "owner"]),
    ("delete-d", &["admin"]),
    ("delete-message", &["admin", "owner", "moderator"]),
    ("delete-own-message", &["admin", "user"]),
    ("delete-p", &["admin", "owner"]),
    ("delete-team", &["admin", "owner"]),
    ("delete-team-channel", &["admin", "owner", "moderator"]),
    ("delete-team-group", &["admin", "owner", "moderator"]),
    ("delete-user", &["admin"]),
    (
        "edit-livechat-room-customfields",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    ("edit-message", &["admin", "owner", "moderator"]),
    (
        "edit-omnichannel-contact",
        &["livechat-manager", "livechat-agent", "admin"],
    ),
    ("edit-other-user-active-status", &["admin"]),
    ("edit-other-user-avatar", &["admin"]),
    ("edit-other-user-e2ee", &["admin"]),
    ("edit-other-user-info", &["admin"]),
    ("edit-other-user-password", &["admin"]),
    ("edit-other-user-totp", &["admin"]),
    ("edit-privileged-setting", &["admin"]),
    ("edit-room", &["admin", "owner", "moderator"]),
    ("edit-room-avatar", &["admin", "owner", "moderator"]),
    ("edit-room-retention-policy", &["admin"]),
    ("edit-team", &["admin", "owner"]),
    ("edit-team-channel", &["admin", "owner", "moderator"]),
    ("edit-team-member", &["admin", "owner", "moderator"]),
    ("force-delete-message", &["admin", "owner"]),
    ("get-server-info", &["admin"]),
    ("inbound-voip-calls", &["livechat-agent"]),
    ("join-without-join-code", &["admin", "bot", "app"]),
    ("kick-user-from-any-c-room", &["admin"]),
    ("kick-user-from-any-p-room", &[]),
    ("leave-c", &["admin", "user", "bot", "anonymous", "app"]),
    ("leave-p", &["admin", "user", "bot", "anonymous", "app"]),
    ("logout-other-user", &["admin"]),
    ("mail-messages", &["admin"]),
    ("manage-agent-extension-association", &["admin"]),
    ("manage-apps", &["admin"]),
    ("manage-assets", &["admin"]),
    ("manage-cloud", &["admin"]),
    ("manage-email-inbox", &["admin"]),
    ("manage-emoji", &["admin"]),
    ("manage-incoming-integrations", &["admin"]),
    (
        "manage-livechat-agents",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    (
        "manage-livechat-departments",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("manage-livechat-managers", &["livechat-manager", "admin"]),
    ("manage-moderation-actions", &["admin"]),
    ("manage-oauth-apps", &["admin"]),
    ("manage-outgoing-integrations", &["admin"]),
    ("manage-own-incoming-integrations", &["admin"]),
    ("manage-own-outgoing-integrations", &["admin"]),
    ("manage-selected-settings", &["admin"]),
    ("manage-sounds", &["admin"]),
    ("manage-user-status", &["admin"]),
    ("manage-voip-call-settings", &["livechat-manager", "admin"]),
    (
        "manage-voip-contact-center-settings",
        &["livechat-manager", "admin"],
    ),
    ("manage-voip-extensions", &["admin"]),
    ("mention-all", &["admin", "owner", "moderator", "user"]),
    ("mention-here", &["admin", "owner", "moderator", "user"]),
    ("message-impersonate", &["bot", "app"]),
    ("mobile-upload-file", &["user", "admin"]),
    ("move-room-to-team", &["admin", "owner", "moderator"]),
    ("mute-user", &["admin", "owner", "moderator"]),
    (
        "on-hold-livechat-room",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    (
        "on-hold-others-livechat-room",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("pin-message", &["owner", "moderator", "admin"]),
    ("post-readonly", &["admin", "owner", "moderator"]),
    ("preview-c-room", &["admin", "user", "anonymous"]),
    ("register-on-cloud", &["admin"]),
    (
        "remove-closed-livechat-room",
        &["livechat-manager", "admin"],
    ),
    (
        "remove-closed-livechat-rooms",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("remove-livechat-department", &["livechat-manager", "admin"]),
    ("remove-slackbridge-links", &["admin"]),
    ("remove-team-channel", &["admin", "owner", "moderator"]),
    ("remove-user", &["admin", "owner", "moderator"]),
    ("restart-server", &["admin"]),
    ("run-import", &["admin"]),
    ("run-migration", &["admin"]),
    (
        "save-others-livechat-room-info",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("send-mail", &["admin"]),
    ("send-many-messages", &["admin", "bot", "app"]),
    (
        "send-omnichannel-chat-transcript",
        &["livechat-manager", "admin"],
    ),
    ("set-leader", &["admin", "owner"]),
    ("set-moderator", &["admin", "owner"]),
    ("set-owner", &["admin", "owner"]),
    ("set-react-when-readonly", &["admin", "owner"]),
    ("set-readonly", &["admin", "owner"]),
    ("start-discussion", &["admin", "user", "guest", "app"]),
    (
        "start-discussion-other-user",
        &["admin", "user", "owner", "app"],
    ),
    ("sync-auth-services-users", &["admin"]),
    ("test-admin-options", &["admin"]),
    ("test-push-notifications", &["admin", "user"]),
    ("toggle-room-e2e-encryption", &["owner", "admin"]),
    (
        "transfer-livechat-guest",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("unarchive-room", &["admin"]),
    (
        "update-livechat-contact",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    ("user-generate-access-token", &["admin"]),
    (
        "videoconf-ring-users",
        &["admin", "owner", "moderator", "user"],
    ),
    (
        "view-agent-extension-association",
        &["livechat-manager", "admin", "livechat-agent"],
    ),
    ("view-all-team-channels", &["admin", "owner"]),
    ("view-all-teams", &["admin"]),
    (
        "view-broadcast-member-list",
        &["admin", "owner", "moderator"],
    ),
    ("view-c-room", &["admin", "user", "bot", "app", "anonymous"]),
    ("view-d-room", &["admin", "user", "bot", "app", "guest"]),
    ("view-device-management", &["admin"]),
    ("view-engagement-dashboard", &["admin"]),
    ("view-federation-data", &["admin"]),
    ("view-full-other-user-info", &["admin"]),
    ("view-import-operations", &["admin"]),
    ("view-join-code", &["admin"]),
    ("view-joined-room", &["guest", "bot", "app", "anonymous"]),
    (
        "view-l-room",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    (
        "view-livechat-analytics",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("view-livechat-appearance", &["livechat-manager", "admin"]),
    (
        "view-livechat-business-hours",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    (
        "view-livechat-contact",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    (
        "view-livechat-contact-history",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    (
        "view-livechat-current-chats",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("view-livechat-customfields", &["livechat-manager", "admin"]),
    (
        "view-livechat-departments",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("view-livechat-installation", &["livechat-manager", "admin"]),
    (
        "view-livechat-manager",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    (
        "view-livechat-queue",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    (
        "view-livechat-real-time-monitoring",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    (
        "view-livechat-room-closed-by-another-agent",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    (
        "view-livechat-room-closed-same-department",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    (
        "view-livechat-room-customfields",
        &[
            "livechat-manager",
            "livechat-monitor",
            "livechat-agent",
            "admin",
        ],
    ),
    (
        "view-livechat-rooms",
        &["livechat-manager", "livechat-monitor", "admin"],
    ),
    ("view-livechat-triggers", &["livechat-manager", "admin"]),
    ("view-livechat-webhooks", &["livechat-manager", "admin"]),
    // Comet's own (upstream has no audit log in its free edition): reading the audit log.
    ("view-audit-log", &["admin"]),
    ("view-logs", &["admin"]),
    ("view-moderation-console", &["admin"]),
    (
        "view-omnichannel-contact-center",
        &[
            "livechat-manager",
            "livechat-agent",
            "livechat-monitor",
            "admin",
        ],
    ),
    ("view-other-user-channels", &["admin"]),
    (
        "view-outside-room",
        &["admin", "owner", "moderator", "user"],
    ),
    ("view-p-room", &["admin", "user", "anonymous", "guest"]),
    ("view-privileged-setting", &["admin"]),
    ("view-room-administration", &["admin"]),
    ("view-statistics", &["admin"]),
    ("view-user-administration", &["admin"]),
    ("view-user-voip-extension", &["admin", "user"]),
    ("view-voip-extension-details", &["admin", "user"]),
];

/// A setting's seed: id, type, default, public, group, section, select choices.
/// The inclusive bounds of a numeric setting's value. Upstream registers the sound volumes as
/// `range` settings, which run from 0 to 100, and refuses values outside them
/// (`checkSettingValueBounds`); Comet keeps them as `int`.
pub fn value_bounds(id: &str) -> Option<(f64, f64)> {
    const VOLUMES: &[&str] = &[
        "Accounts_Default_User_Preferences_notificationsSoundVolume",
        "Accounts_Default_User_Preferences_masterVolume",
        "Accounts_Default_User_Preferences_voipRingerVolume",
    ];
    VOLUMES.contains(&id).then_some((0.0, 100.0))
}

pub struct SettingSeed {
    pub id: &'static str,
    pub setting_type: SettingType,
    pub default: fn() -> Value,
    pub public: bool,
    pub group: &'static str,
    pub section: Option<&'static str>,
    pub choices: &'static [&'static str],
}

macro_rules! seed {
    ($id:literal, $ty:ident, $default:expr, public = $public:literal, $group:literal $(, $section:literal)? $(; choices = $choices:expr)?) => {
        SettingSeed {
            id: $id,
            setting_type: SettingType::$ty,
            default: || json!($default),
            public: $public,
            group: $group,
            section: seed!(@section $($section)?),
            choices: seed!(@choices $($choices)?),
        }
    };
    (@section) => { None };
    (@section $s:literal) => { Some($s) };
    (@choices) => { &[] };
    (@choices $c:expr) => { $c };
}

macro_rules! asset_seed {
    ($id:literal, $name:literal) => {
        SettingSeed {
            id: $id,
            setting_type: SettingType::Asset,
            default: || crate::assets::default_setting_value($name),
            public: true,
            group: "Assets",
            section: None,
            choices: &[],
        }
    };
}

/// The `FileUpload_Storage_Type` choices Comet implements (of upstream's GridFS, AmazonS3,
/// GoogleCloudStorage, Webdav and FileSystem).
pub const FILE_STORAGE_TYPES: &[&str] = &["FileSystem", "AmazonS3"];

/// The `AutoTranslate_ServiceProvider` choices: Comet's built-in engine, then upstream's
/// provider ids.
pub const AUTO_TRANSLATE_PROVIDERS: &[&str] = &[
    "comet-builtin",
    "google-translate",
    "deepl-translate",
    "microsoft-translate",
    "libre-translate",
];

/// The name people read for an `AUTO_TRANSLATE_PROVIDERS` entry.
pub fn auto_translate_provider_display_name(id: &str) -> &'static str {
    match id {
        "comet-builtin" => "Comet (built-in)",
        "google-translate" => "Google",
        "deepl-translate" => "DeepL",
        "microsoft-translate" => "Microsoft",
        "libre-translate" => "LibreTranslate",
        _ => "",
    }
}

/// Where `id` stands in the catalog: upstream's `sorter`, which keeps an administration page in
/// the order the settings were declared.
pub fn setting_sorter(id: &str) -> Option<usize> {
    DEFAULT_SETTINGS.iter().position(|seed| seed.id == id)
}

/// The `Accounts_RegistrationForm` choices.
pub const REGISTRATION_FORM_CHOICES: &[&str] = &["Public", "Disabled", "Secret URL"];

/// Settings a new server starts with (the ones Comet reads, and the public ones clients read at
/// start-up).
pub const DEFAULT_SETTINGS: &[SettingSeed] = &[
    // General
    seed!(
        "Site_Url",
        String,
        "http://localhost:3000",
        public = true,
        "General"
    ),
    seed!("Site_Name", String, "Comet", public = true, "General"),
    seed!("Language", Language, "", public = true, "General"),
    // As upstream: a new workspace starts "pending", and its first administrator is walked through
    // the essentials (the web client's setup wizard) before it reads "completed".
    seed!("Show_Setup_Wizard", Select, "pending", public = true, "General"; choices = &["pending", "in_progress", "completed"]),
    seed!(
        "UTF8_User_Names_Validation",
        String,
        "[0-9a-zA-Z-_.]+",
        public = true,
        "General",
        "UTF8"
    ),
    seed!(
        "UTF8_Channel_Names_Validation",
        String,
        "[0-9a-zA-Z-_.]+",
        public = true,
        "General",
        "UTF8"
    ),
    seed!("Favorite_Rooms", Boolean, true, public = true, "General"),
    seed!(
        "UTF8_Names_Slugify",
        Boolean,
        true,
        public = true,
        "General",
        "UTF8"
    ),
    seed!("Document_Domain", String, "", public = true, "General"),
    // REST API
    seed!(
        "API_Default_Count",
        Int,
        50,
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "API_Upper_Count_Limit",
        Int,
        100,
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "API_Allow_Infinite_Count",
        Boolean,
        true,
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "API_Enable_Direct_Message_History_EndPoint",
        Boolean,
        false,
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "API_Enable_Shields",
        Boolean,
        true,
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "API_Shield_Types",
        String,
        "*",
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "API_Shield_user_require_auth",
        Boolean,
        false,
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "Presence_broadcast_disabled",
        Boolean,
        false,
        public = true,
        "Troubleshoot"
    ),
    seed!(
        "API_User_Limit",
        Int,
        500,
        public = true,
        "General",
        "REST API"
    ),
    seed!(
        "API_Use_REST_For_DDP_Calls",
        Boolean,
        true,
        public = true,
        "General",
        "REST API"
    ),
    seed!(
        "API_Apply_permission_view-outside-room_on_users-list",
        Boolean,
        false,
        public = true,
        "General",
        "REST API"
    ),
    seed!(
        "API_Enable_CORS",
        Boolean,
        false,
        public = false,
        "General",
        "REST API"
    ),
    seed!(
        "API_CORS_Origin",
        String,
        "*",
        public = false,
        "General",
        "REST API"
    ),
    // Rate limiter
    seed!(
        "API_Enable_Rate_Limiter",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "API_Rate_Limiter"
    ),
    seed!(
        "API_Enable_Rate_Limiter_Dev",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "API_Rate_Limiter"
    ),
    seed!(
        "API_Enable_Rate_Limiter_Limit_Calls_Default",
        Int,
        10,
        public = false,
        "Rate Limiter",
        "API_Rate_Limiter"
    ),
    seed!(
        "API_Enable_Rate_Limiter_Limit_Time_Default",
        Int,
        60000,
        public = false,
        "Rate Limiter",
        "API_Rate_Limiter"
    ),
    seed!(
        "Rate_Limiter_Limit_RegisterUser",
        Int,
        1,
        public = false,
        "Rate Limiter",
        "Feature_Limiting"
    ),
    seed!(
        "DDP_Rate_Limit_IP_Enabled",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_IP_Requests_Allowed",
        Int,
        120000,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_IP_Interval_Time",
        Int,
        60000,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_User_Enabled",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_User_Requests_Allowed",
        Int,
        1200,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_User_Interval_Time",
        Int,
        60000,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_Connection_Enabled",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_Connection_Requests_Allowed",
        Int,
        600,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_Connection_Interval_Time",
        Int,
        60000,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_User_By_Method_Enabled",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_User_By_Method_Requests_Allowed",
        Int,
        20,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_User_By_Method_Interval_Time",
        Int,
        10000,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_Connection_By_Method_Enabled",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_Connection_By_Method_Requests_Allowed",
        Int,
        10,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    seed!(
        "DDP_Rate_Limit_Connection_By_Method_Interval_Time",
        Int,
        10000,
        public = false,
        "Rate Limiter",
        "DDP_Rate_Limiter"
    ),
    // Comet's abuse controls (beyond upstream): each 0 or false turns it off. "New accounts" are
    // self-registered accounts younger than Comet_Abuse_New_Account_Age_Hours that no admin
    // approved (users.approve).
    seed!(
        "Comet_Abuse_Messages_Per_User_Limit",
        Int,
        5,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    seed!(
        "Comet_Abuse_Messages_Per_User_Interval_Time",
        Int,
        1000,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    seed!(
        "Comet_Abuse_Room_Creation_Per_Day",
        Int,
        25,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    seed!(
        "Comet_Abuse_New_Account_Age_Hours",
        Int,
        24,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    seed!(
        "Comet_Abuse_New_Account_Direct_Messages_Per_Hour",
        Int,
        10,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    seed!(
        "Comet_Abuse_New_Account_Block_Links",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    seed!(
        "Comet_Abuse_New_Account_Block_Uploads",
        Boolean,
        true,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    seed!(
        "Comet_Abuse_New_Account_Max_Rooms",
        Int,
        10,
        public = false,
        "Rate Limiter",
        "Comet_Abuse_Controls"
    ),
    // Accounts
    seed!("Accounts_RegistrationForm", Select, "Public", public = true, "Accounts", "Registration"; choices = REGISTRATION_FORM_CHOICES),
    seed!(
        "Accounts_RegistrationForm_SecretURL",
        String,
        "",
        public = false,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_RegistrationForm_LinkReplacementText",
        String,
        "New user registration is currently disabled",
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_Registration_Users_Default_Roles",
        String,
        "user",
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_RequireNameForSignUp",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_RequirePasswordConfirmation",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_EmailVerification",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_ManuallyApproveNewUsers",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_AllowedDomainsList",
        String,
        "",
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_BlockedDomainsList",
        String,
        "",
        public = false,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_BlockedUsernameList",
        String,
        "",
        public = false,
        "Accounts",
        "Registration"
    ),
    // Comet's own: days the audit log keeps entries (0 = forever); pruning keeps the chain
    // verifiable.
    seed!(
        "Audit_Retention_Days",
        Int,
        0,
        public = false,
        "General",
        "Audit"
    ),
    seed!(
        "Accounts_LoginExpiration",
        Int,
        90,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowAnonymousRead",
        Boolean,
        false,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowAnonymousWrite",
        Boolean,
        false,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowDeleteOwnAccount",
        Boolean,
        false,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowUserProfileChange",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowUserAvatarChange",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    // Avatars: how long browsers may cache `/avatar/...`, and whether it needs a login
    // (upstream's newest default is on; Comet keeps the earlier off, so that avatar links work
    // in every client, bot and email without a session cookie or token in the URL). Uploaded
    // avatars are resized to a square of `Accounts_AvatarSize` pixels, as upstream.
    seed!(
        "Accounts_AvatarResize",
        Boolean,
        true,
        public = false,
        "Accounts"
    ),
    seed!("Accounts_AvatarSize", Int, 200, public = false, "Accounts"),
    seed!(
        "Accounts_AvatarCacheTime",
        Int,
        3600,
        public = false,
        "Accounts"
    ),
    seed!(
        "Accounts_AvatarBlockUnauthenticatedAccess",
        Boolean,
        false,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowRealNameChange",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowUserStatusMessageChange",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowUsernameChange",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowEmailChange",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowPasswordChange",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowInvisibleStatusOption",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_PasswordReset",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_CustomFields",
        Code,
        "",
        public = true,
        "Accounts",
        "Registration"
    ),
    seed!(
        "Accounts_AllowPasswordChangeForOAuthUsers",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!("Accounts_Directory_DefaultView", Select, "channels", public = true, "Accounts"; choices = &["channels", "users"]),
    seed!(
        "Accounts_ShowFormLogin",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_AllowEmailNotifications",
        Boolean,
        true,
        public = true,
        "Accounts"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_Enabled",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_By_TOTP_Enabled",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_By_Email_Enabled",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_By_Email_Code_Expiration",
        Int,
        3600,
        public = false,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_Enforce_Password_Fallback",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_MaxDelta",
        Int,
        1,
        public = false,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_TwoFactorAuthentication_RememberFor",
        Int,
        1800,
        public = false,
        "Accounts",
        "Two Factor Authentication"
    ),
    seed!(
        "Accounts_Password_Policy_Enabled",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_MinLength",
        Int,
        7,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_MaxLength",
        Int,
        -1,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_ForbidRepeatingCharacters",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_ForbidRepeatingCharactersCount",
        Int,
        3,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_AtLeastOneLowercase",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_AtLeastOneUppercase",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_AtLeastOneNumber",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    seed!(
        "Accounts_Password_Policy_AtLeastOneSpecialCharacter",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Password_Policy"
    ),
    // Failed-login blocking. Upstream ships it disabled; Comet is secure by default.
    seed!(
        "Block_Multiple_Failed_Logins_Enabled",
        Boolean,
        true,
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    seed!(
        "Block_Multiple_Failed_Logins_By_User",
        Boolean,
        true,
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    seed!(
        "Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User",
        Int,
        10,
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    seed!(
        "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
        Int,
        5,
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    seed!(
        "Block_Multiple_Failed_Logins_By_Ip",
        Boolean,
        true,
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    seed!(
        "Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip",
        Int,
        50,
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    seed!(
        "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes",
        Int,
        5,
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    seed!(
        "Block_Multiple_Failed_Logins_Ip_Whitelist",
        String,
        "",
        public = false,
        "Accounts",
        "Login_Attempts"
    ),
    // Default user preferences, read by `me` and clients.
    seed!(
        "Accounts_Default_User_Preferences_enableAutoAway",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_idleTimeLimit",
        Int,
        300,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_desktopNotificationRequireInteraction",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!("Accounts_Default_User_Preferences_desktopNotifications", Select, "all", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["all", "mentions", "nothing"]),
    seed!("Accounts_Default_User_Preferences_pushNotifications", Select, "all", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["all", "mentions", "nothing"]),
    seed!(
        "Accounts_Default_User_Preferences_unreadAlert",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_useEmojis",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_convertAsciiEmoji",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_autoImageLoad",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_saveMobileBandwidth",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_collapseMediaByDefault",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_hideUsernames",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_hideRoles",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_hideFlexTab",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_displayAvatars",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_sidebarGroupByType",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!("Accounts_Default_User_Preferences_themeAppearence", Select, "auto", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["auto", "light", "dark"]),
    seed!("Accounts_Default_User_Preferences_sidebarViewMode", Select, "medium", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["extended", "medium", "condensed"]),
    seed!(
        "Accounts_Default_User_Preferences_sidebarDisplayAvatar",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_sidebarShowUnread",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!("Accounts_Default_User_Preferences_sidebarSortby", Select, "activity", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["activity", "alphabetical"]),
    seed!(
        "Accounts_Default_User_Preferences_sidebarShowFavorites",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!("Accounts_Default_User_Preferences_sendOnEnter", Select, "normal", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["normal", "alternative", "desktop"]),
    seed!("Accounts_Default_User_Preferences_emailNotificationMode", Select, "mentions", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["nothing", "mentions"]),
    seed!(
        "Accounts_Default_User_Preferences_newRoomNotification",
        String,
        "door",
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_newMessageNotification",
        String,
        "chime",
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_muteFocusedConversations",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_notificationsSoundVolume",
        Int,
        100,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!("Accounts_Default_User_Preferences_alsoSendThreadToChannel", Select, "default", public = true, "Accounts", "Accounts_Default_User_Preferences"; choices = &["default", "always", "never"]),
    seed!(
        "Accounts_Default_User_Preferences_showThreadsInMainChannel",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_omnichannelTranscriptEmail",
        Boolean,
        false,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    // Also upstream's CE defaults, so that `me` lists exactly upstream's preference keys.
    seed!(
        "Accounts_Default_User_Preferences_masterVolume",
        Int,
        100,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_voipRingerVolume",
        Int,
        100,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_enableMobileRinging",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_sidebarSectionsOrder",
        MultiSelect,
        [
            "Incoming_Calls",
            "Incoming_Livechats",
            "Open_Livechats",
            "On_Hold_Chats",
            "Unread",
            "Favorites",
            "Teams",
            "Discussions",
            "Channels",
            "Direct_Messages",
            "Conversations"
        ],
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_featuresPreview",
        String,
        "[]",
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "Accounts_Default_User_Preferences_notifyCalendarEvents",
        Boolean,
        true,
        public = true,
        "Accounts",
        "Accounts_Default_User_Preferences"
    ),
    seed!(
        "UI_Use_Name_Avatar",
        Boolean,
        false,
        public = true,
        "Layout",
        "User_Interface"
    ),
    seed!(
        "UI_Use_Real_Name",
        Boolean,
        false,
        public = true,
        "Layout",
        "User_Interface"
    ),
    // File uploads (upstream's FileUpload group; public because clients check them before
    // offering an upload).
    seed!(
        "FileUpload_Enabled",
        Boolean,
        true,
        public = true,
        "FileUpload"
    ),
    seed!(
        "FileUpload_MaxFileSize",
        Int,
        104_857_600,
        public = true,
        "FileUpload"
    ),
    // Comet's own: how many files (and avatars) one user may send per minute; 0 turns it off.
    seed!(
        "FileUpload_Rate_Limit_Per_Minute",
        Int,
        60,
        public = true,
        "FileUpload"
    ),
    seed!(
        "FileUpload_MediaTypeWhiteList",
        String,
        "",
        public = true,
        "FileUpload"
    ),
    seed!(
        "FileUpload_MediaTypeBlackList",
        String,
        "image/svg+xml",
        public = true,
        "FileUpload"
    ),
    seed!(
        "FileUpload_ProtectFiles",
        Boolean,
        true,
        public = true,
        "FileUpload"
    ),
    // Who may download a protected file (upstream's `requestCanAccessFiles`); not public.
    seed!(
        "FileUpload_Restrict_to_room_members",
        Boolean,
        true,
        public = false,
        "FileUpload"
    ),
    seed!(
        "FileUpload_Restrict_to_users_who_can_access_room",
        Boolean,
        false,
        public = false,
        "FileUpload"
    ),
    seed!(
        "FileUpload_Enabled_Direct",
        Boolean,
        true,
        public = true,
        "FileUpload"
    ),
    seed!(
        "FileUpload_RotateImages",
        Boolean,
        true,
        public = true,
        "FileUpload"
    ),
    // Image attachments (upstream's Message group, Message_Attachments section).
    seed!(
        "Message_Attachments_Thumbnails_Enabled",
        Boolean,
        true,
        public = true,
        "Message",
        "Message_Attachments"
    ),
    seed!(
        "Message_Attachments_Thumbnails_Width",
        Int,
        480,
        public = true,
        "Message",
        "Message_Attachments"
    ),
    seed!(
        "Message_Attachments_Thumbnails_Height",
        Int,
        360,
        public = true,
        "Message",
        "Message_Attachments"
    ),
    seed!(
        "Message_Attachments_Strip_Exif",
        Boolean,
        true,
        public = true,
        "Message",
        "Message_Attachments"
    ),
    // Where uploaded files are kept (upstream's default is GridFS, which Comet does not have;
    // only the two storage types Comet implements are accepted).
    seed!("FileUpload_Storage_Type", Select, "FileSystem", public = true, "FileUpload"; choices = FILE_STORAGE_TYPES),
    // Amazon S3 or any S3-compatible service (upstream's "Amazon S3" section). Not public: the
    // credentials are `password` settings, readable only with view-privileged-setting.
    seed!(
        "FileUpload_S3_Bucket",
        String,
        "",
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_Acl",
        String,
        "",
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_AWSAccessKeyId",
        Password,
        "",
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_AWSSecretAccessKey",
        Password,
        "",
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_CDN",
        String,
        "",
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_Region",
        String,
        "",
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_BucketURL",
        String,
        "",
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_ForcePathStyle",
        Boolean,
        false,
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_URLExpiryTimeSpan",
        Int,
        120,
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_Proxy_Avatars",
        Boolean,
        false,
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_Proxy_Uploads",
        Boolean,
        false,
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    seed!(
        "FileUpload_S3_Proxy_UserDataFiles",
        Boolean,
        false,
        public = false,
        "FileUpload",
        "Amazon S3"
    ),
    // Messages (read by later features; public because clients read them at start-up).
    seed!(
        "Message_MaxAllowedSize",
        Int,
        5000,
        public = true,
        "Message"
    ),
    seed!(
        "Message_AllowEditing",
        Boolean,
        true,
        public = true,
        "Message"
    ),
    seed!(
        "Message_AllowDeleting",
        Boolean,
        true,
        public = true,
        "Message"
    ),
    seed!("Message_ErasureType", Select, "Delete", public = true, "Message"; choices = &["Keep", "Delete", "Unlink"]),
    seed!(
        "Message_AllowEditing_BlockEditInMinutes",
        Int,
        0,
        public = true,
        "Message"
    ),
    seed!(
        "Message_AllowDeleting_BlockDeleteInMinutes",
        Int,
        0,
        public = true,
        "Message"
    ),
    seed!(
        "Message_Read_Receipt_Enabled",
        Boolean,
        false,
        public = true,
        "Message"
    ),
    seed!(
        "Message_AllowBadWordsFilter",
        Boolean,
        false,
        public = true,
        "Message"
    ),
    seed!(
        "Message_BadWordsFilterList",
        String,
        "",
        public = true,
        "Message"
    ),
    seed!(
        "Message_BadWordsWhitelist",
        String,
        "",
        public = true,
        "Message"
    ),
    // Automatic translation (upstream `app/autotranslate/server/settings.ts` and the
    // LibreTranslate provider). Comet's own engine, `comet-builtin`, is the default provider:
    // it needs no key and sends no message off the machine.
    // Video conferences (upstream's `VideoConf_*`). Jitsi is built in (upstream installs it as
    // an app); its settings carry the ids of Rocket.Chat's former built-in Jitsi integration.
    seed!(
        "VideoConf_Default_Provider",
        String,
        "",
        public = true,
        "Video_Conference"
    ),
    seed!(
        "VideoConf_Enable_DMs",
        Boolean,
        true,
        public = true,
        "Video_Conference"
    ),
    seed!(
        "VideoConf_Enable_Channels",
        Boolean,
        true,
        public = true,
        "Video_Conference"
    ),
    seed!(
        "VideoConf_Enable_Groups",
        Boolean,
        true,
        public = true,
        "Video_Conference"
    ),
    seed!(
        "VideoConf_Enable_Teams",
        Boolean,
        true,
        public = true,
        "Video_Conference"
    ),
    seed!(
        "VideoConf_Mobile_Ringing",
        Boolean,
        false,
        public = true,
        "Video_Conference"
    ),
    seed!(
        "Jitsi_Enabled",
        Boolean,
        false,
        public = true,
        "Video_Conference",
        "Jitsi"
    ),
    seed!(
        "Jitsi_Domain",
        String,
        "meet.jit.si",
        public = true,
        "Video_Conference",
        "Jitsi"
    ),
    seed!(
        "Jitsi_URL_Room_Prefix",
        String,
        "RocketChat",
        public = true,
        "Video_Conference",
        "Jitsi"
    ),
    seed!(
        "Jitsi_URL_Room_Suffix",
        String,
        "",
        public = true,
        "Video_Conference",
        "Jitsi"
    ),
    seed!(
        "Jitsi_SSL",
        Boolean,
        true,
        public = true,
        "Video_Conference",
        "Jitsi"
    ),
    seed!(
        "Jitsi_Enabled_TokenAuth",
        Boolean,
        false,
        public = false,
        "Video_Conference",
        "Jitsi"
    ),
    seed!(
        "Jitsi_Application_ID",
        String,
        "",
        public = false,
        "Video_Conference",
        "Jitsi"
    ),
    seed!(
        "Jitsi_Application_Secret",
        Password,
        "",
        public = false,
        "Video_Conference",
        "Jitsi"
    ),
    // Comet's own provider (`comet`): calls made by the web client over WebRTC, signalled
    // over DDP, relayed by a TURN server (coturn's REST-API credentials) when peers cannot
    // reach each other. Comet-only settings; the secret is never public.
    seed!(
        "Comet_Calls_Enabled",
        Boolean,
        true,
        public = true,
        "Video_Conference",
        "Comet"
    ),
    seed!(
        "Comet_Calls_ICE_Servers",
        String,
        "",
        public = false,
        "Video_Conference",
        "Comet"
    ),
    seed!(
        "Comet_Calls_TURN_Secret",
        Password,
        "",
        public = false,
        "Video_Conference",
        "Comet"
    ),
    seed!(
        "Comet_Calls_TURN_Credential_TTL",
        Int,
        3600,
        public = false,
        "Video_Conference",
        "Comet"
    ),
    seed!(
        "AutoTranslate_Enabled",
        Boolean,
        false,
        public = true,
        "Message",
        "AutoTranslate"
    ),
    seed!(
        "AutoTranslate_AutoEnableOnJoinRoom",
        Boolean,
        false,
        public = true,
        "Message",
        "AutoTranslate"
    ),
    seed!("AutoTranslate_ServiceProvider", Select, "comet-builtin", public = true, "Message", "AutoTranslate"; choices = AUTO_TRANSLATE_PROVIDERS),
    seed!(
        "AutoTranslate_GoogleAPIKey",
        String,
        "",
        public = false,
        "Message",
        "AutoTranslate_Google"
    ),
    seed!(
        "AutoTranslate_DeepLAPIKey",
        String,
        "",
        public = false,
        "Message",
        "AutoTranslate_DeepL"
    ),
    seed!(
        "AutoTranslate_MicrosoftAPIKey",
        String,
        "",
        public = false,
        "Message",
        "AutoTranslate_Microsoft"
    ),
    seed!(
        "AutoTranslate_LibreTranslateAPIURL",
        String,
        "",
        public = false,
        "Message",
        "AutoTranslate_LibreTranslate"
    ),
    seed!(
        "AutoTranslate_LibreTranslateAPIKey",
        String,
        "",
        public = false,
        "Message",
        "AutoTranslate_LibreTranslate"
    ),
    // The message parser's options (`md`, see `markup`): colors, KaTeX, and the intranet
    // domains bare names of which become links.
    seed!(
        "Message_CustomDomain_AutoLink",
        String,
        "",
        public = true,
        "Message"
    ),
    seed!(
        "HexColorPreview_Enabled",
        Boolean,
        true,
        public = true,
        "Message",
        "Hex_Color_Preview"
    ),
    seed!(
        "Katex_Enabled",
        Boolean,
        true,
        public = true,
        "Message",
        "Katex"
    ),
    seed!(
        "Katex_Parenthesis_Syntax",
        Boolean,
        true,
        public = true,
        "Message",
        "Katex"
    ),
    seed!(
        "Katex_Dollar_Syntax",
        Boolean,
        false,
        public = true,
        "Message",
        "Katex"
    ),
    // The web client sends an unknown `/word ...` as a plain message only when this is on.
    seed!(
        "Message_AllowUnrecognizedSlashCommand",
        Boolean,
        false,
        public = true,
        "Message"
    ),
    seed!(
        "Message_AllowPinning",
        Boolean,
        true,
        public = true,
        "Message"
    ),
    seed!(
        "Message_AllowStarring",
        Boolean,
        true,
        public = true,
        "Message"
    ),
    seed!("Threads_enabled", Boolean, true, public = true, "Message"),
    seed!(
        "Discussion_enabled",
        Boolean,
        true,
        public = true,
        "Discussion"
    ),
    seed!("Unread_Count", Select, "user_and_group_mentions_only", public = true, "General"; choices = &["all_messages", "user_mentions_only", "group_mentions_only", "user_and_group_mentions_only"]),
    seed!("Unread_Count_DM", Select, "all_messages", public = true, "General"; choices = &["all_messages", "user_mentions_only", "group_mentions_only", "user_and_group_mentions_only"]),
    // Upstream settings that admin tools and scripts set, with upstream's types, defaults and
    // groups. Comet stores them; see docs/compatibility.md for which it does not act on yet.
    // A deleted message stays as a "message removed" (`t: rm`) placeholder.
    seed!(
        "Message_ShowDeletedStatus",
        Boolean,
        false,
        public = true,
        "Message"
    ),
    seed!(
        "Message_KeepHistory",
        Boolean,
        false,
        public = true,
        "Message"
    ),
    seed!(
        "Message_CustomFields_Enabled",
        Boolean,
        false,
        public = false,
        "Message"
    ),
    seed!(
        "Message_CustomFields",
        Code,
        MESSAGE_CUSTOM_FIELDS_SCHEMA,
        public = false,
        "Message"
    ),
    // Link previews (`comet_core::links`, the service's `previews`).
    seed!("API_Embed", Boolean, true, public = true, "Message"),
    seed!(
        "API_Embed_UserAgent",
        String,
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/41.0.2227.0 Safari/537.36",
        public = true,
        "Message"
    ),
    seed!("API_EmbedTimeout", Int, 10, public = false, "Message"),
    // Stored without effect: Comet keeps no cache of fetched pages (docs/compatibility.md).
    seed!(
        "API_EmbedCacheExpirationDays",
        Int,
        30,
        public = false,
        "Message"
    ),
    seed!("API_EmbedDisabledFor", String, "", public = true, "Message"),
    seed!(
        "API_EmbedIgnoredHosts",
        String,
        "localhost, 127.0.0.1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16",
        public = false,
        "Message"
    ),
    seed!(
        "API_EmbedSafePorts",
        String,
        "80, 443",
        public = false,
        "Message"
    ),
    seed!(
        "UI_Allow_room_names_with_special_chars",
        Boolean,
        false,
        public = true,
        "Layout",
        "User_Interface"
    ),
    seed!(
        "UserData_EnableDownload",
        Boolean,
        true,
        public = true,
        "UserDataDownload"
    ),
    seed!("Log_Level", Select, "2", public = true, "Logs"; choices = &["0", "1", "2"]),
    seed!("Log_View_Limit", Int, 1000, public = false, "Logs"),
    seed!("Log_Trace_Methods", Boolean, false, public = false, "Logs"),
    seed!(
        "Log_Trace_Methods_Filter",
        String,
        "",
        public = false,
        "Logs"
    ),
    seed!(
        "Log_Trace_Subscriptions",
        Boolean,
        false,
        public = false,
        "Logs"
    ),
    seed!(
        "Log_Trace_Subscriptions_Filter",
        String,
        "",
        public = false,
        "Logs"
    ),
    seed!("SMTP_Protocol", Select, "smtp", public = false, "Email", "SMTP"; choices = &["smtp", "smtps"]),
    seed!("SMTP_Host", String, "", public = false, "Email", "SMTP"),
    seed!("SMTP_Port", String, "", public = false, "Email", "SMTP"),
    seed!(
        "SMTP_IgnoreTLS",
        Boolean,
        true,
        public = false,
        "Email",
        "SMTP"
    ),
    seed!("SMTP_Pool", Boolean, true, public = false, "Email", "SMTP"),
    seed!("SMTP_Username", String, "", public = false, "Email", "SMTP"),
    seed!(
        "SMTP_Password",
        Password,
        "",
        public = false,
        "Email",
        "SMTP"
    ),
    seed!("From_Email", String, "", public = false, "Email", "SMTP"),
    seed!("LDAP_Enable", Boolean, false, public = true, "LDAP"),
    seed!(
        "Accounts_OAuth_Google",
        Boolean,
        false,
        public = true,
        "OAuth",
        "Google"
    ),
    seed!(
        "Accounts_OAuth_Google_id",
        String,
        "",
        public = false,
        "OAuth",
        "Google"
    ),
    seed!(
        "Accounts_OAuth_Google_secret",
        String,
        "",
        public = false,
        "OAuth",
        "Google"
    ),
    seed!(
        "VoIP_Enabled",
        Boolean,
        false,
        public = true,
        "Call_Center",
        "General_Settings"
    ),
    // Assets (`assets.setAsset`): public, as upstream, so that clients find the logo and icons.
    asset_seed!("Assets_logo", "logo"),
    asset_seed!("Assets_logo_dark", "logo_dark"),
    asset_seed!("Assets_background", "background"),
    asset_seed!("Assets_background_dark", "background_dark"),
    asset_seed!("Assets_favicon_ico", "favicon_ico"),
    asset_seed!("Assets_favicon", "favicon"),
    asset_seed!("Assets_favicon_16", "favicon_16"),
    asset_seed!("Assets_favicon_32", "favicon_32"),
    asset_seed!("Assets_favicon_192", "favicon_192"),
    asset_seed!("Assets_favicon_512", "favicon_512"),
    asset_seed!("Assets_touchicon_180", "touchicon_180"),
    asset_seed!("Assets_touchicon_180_pre", "touchicon_180_pre"),
    asset_seed!("Assets_tile_70", "tile_70"),
    asset_seed!("Assets_tile_144", "tile_144"),
    asset_seed!("Assets_tile_150", "tile_150"),
    asset_seed!("Assets_tile_310_square", "tile_310_square"),
    asset_seed!("Assets_tile_310_wide", "tile_310_wide"),
    asset_seed!("Assets_safari_pinned", "safari_pinned"),
];

/// `Message_CustomFields`' default: upstream's example schema.
const MESSAGE_CUSTOM_FIELDS_SCHEMA: &str = r#"{
	"properties": {
		"priority": {
			"type": "string",
			"nullable": false,
			"enum": ["low", "medium", "high"]
		}
	},
	"required": ["priority"]
}"#;

/// The prefix of per-user preference defaults among the settings.
pub const USER_PREFERENCE_PREFIX: &str = "Accounts_Default_User_Preferences_";

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn seeds_are_unique_and_well_typed() {
        let mut ids = HashSet::new();
        for s in DEFAULT_SETTINGS {
            assert!(ids.insert(s.id), "duplicate setting {}", s.id);
            let default = (s.default)();
            assert!(
                s.setting_type.accepts(&default),
                "{} default has wrong type",
                s.id
            );
            if !s.choices.is_empty() {
                assert!(
                    s.choices.iter().any(|c| json!(c) == default),
                    "{} default not a choice",
                    s.id
                );
            }
        }
        for asset in crate::assets::ASSETS {
            let id = crate::assets::setting_id(asset.name);
            assert!(ids.contains(id.as_str()), "no setting for asset {id}");
        }
        let mut perms = HashSet::new();
        for (id, _) in DEFAULT_PERMISSIONS {
            assert!(perms.insert(*id), "duplicate permission {id}");
        }
    }
}
