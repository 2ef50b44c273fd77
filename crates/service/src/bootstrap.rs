//! Boot configuration and first-start seeding.

use crate::auth::PasswordInput;
use crate::{Service, store_error};
use comet_core::catalog::{DEFAULT_PERMISSIONS, DEFAULT_ROLES, DEFAULT_SETTINGS};
use comet_core::role::{Permission, Role};
use comet_core::setting::Setting;
use comet_core::user::{Email, Presence, UserType};
use comet_core::{Error, Result, now};
use serde_json::Value;

/// The admin to create at start when no admin exists (`ADMIN_USERNAME`, `ADMIN_PASS`, ...).
#[derive(Clone)]
pub struct AdminBootstrap {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: String,
}

impl std::fmt::Debug for AdminBootstrap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminBootstrap")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("email", &self.email)
            .field("name", &self.name)
            .finish()
    }
}

/// What the service needs from boot configuration.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// `CREATE_TOKENS_FOR_USERS`: allow `users.createToken`.
    pub create_tokens_for_users: bool,
    /// `CREATE_TOKENS_FOR_USERS_SECRET`: when set, `users.createToken` must present it.
    pub create_tokens_secret: Option<String>,
    pub admin: Option<AdminBootstrap>,
    /// `INITIAL_USER`: a JSON user document created once, when no user has its `_id`.
    pub initial_user: Option<String>,
    /// `<SettingId>=<value>`: defaults applied only when a setting is first created.
    pub setting_defaults: Vec<(String, String)>,
    /// `OVERWRITE_SETTING_<SettingId>=<value>`: forced on every start.
    pub setting_overrides: Vec<(String, String)>,
    /// `ROOT_URL`: forced into `Site_Url` on every start.
    pub site_url: Option<String>,
    /// bcrypt cost for new password hashes (Rocket.Chat uses 10).
    pub bcrypt_cost: u32,
    /// This process's name among the instances sharing the database.
    pub instance_id: String,
    /// Whether other instances share the database (then presence, rate limits and jobs are
    /// coordinated through it, and nothing is reset at start).
    pub clustered: bool,
    /// How long an instance may go unheard before its connections count as gone.
    pub instance_timeout: std::time::Duration,
    /// Where uploaded files are kept (the local blob store's directory).
    pub uploads_dir: std::path::PathBuf,
    /// `COMET_AVATAR_URL_ALLOW_PRIVATE`: let `users.setAvatar` with `avatarUrl` fetch from
    /// loopback, private, link-local and other non-public addresses. Off by default, since such
    /// a fetch would let any user probe the server's own network (SSRF); tests turn it on to
    /// fetch from a local server.
    pub avatar_url_allow_private: bool,
    /// `COMET_LINK_PREVIEW_ALLOW_PRIVATE`: let link previews (`API_Embed`) fetch pages from
    /// non-public addresses. Off by default for the same reason; `API_EmbedIgnoredHosts`
    /// applies either way.
    pub link_preview_allow_private: bool,
    /// `DISABLE_MESSAGE_PARSER`: save messages without their markup tree (`md`).
    pub disable_message_parser: bool,
    /// `COMET_TRANSLATION_MODELS`: the built-in translation engine's model directory.
    pub translation_models: Option<std::path::PathBuf>,
    /// `COMET_MAIL_RETRY_SECONDS`: the wait before retrying a failed mail delivery, doubled
    /// after each further failure (up to an hour).
    pub mail_retry_initial: std::time::Duration,
    /// `COMET_CALL_RING_SECONDS`: how long a direct call rings before, unanswered, it is
    /// cancelled (upstream's 40 seconds).
    pub call_ring_time: std::time::Duration,
    /// The key sealing secrets kept at rest (TOTP secrets): `COMET_SECRET_KEY` or
    /// `<data dir>/secret.key`. The default is a new random key, good for one process only.
    pub secret_key: crate::secrets::SecretKey,
    /// The database backend's name (`sqlite`, `postgresql`), which `statistics` reports.
    pub database_kind: &'static str,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig {
            create_tokens_for_users: false,
            create_tokens_secret: None,
            admin: None,
            initial_user: None,
            setting_defaults: Vec::new(),
            setting_overrides: Vec::new(),
            site_url: None,
            bcrypt_cost: 10,
            instance_id: comet_core::id::new_id(),
            clustered: false,
            instance_timeout: std::time::Duration::from_secs(45),
            uploads_dir: std::env::temp_dir().join("comet-uploads"),
            avatar_url_allow_private: false,
            link_preview_allow_private: false,
            disable_message_parser: false,
            translation_models: None,
            mail_retry_initial: std::time::Duration::from_secs(10),
            call_ring_time: std::time::Duration::from_secs(40),
            secret_key: crate::secrets::SecretKey::generate(),
            database_kind: "sqlite",
        }
    }
}

/// `rocket.cat`'s picture, given to it when it is created.
const ROCKET_CAT_AVATAR: &[u8] = include_bytes!("../assets/rocketcat.png");

impl Service {
    pub(crate) async fn bootstrap(&self) -> Result<()> {
        self.seed_settings().await?;
        self.seed_roles_and_permissions().await?;
        self.rooms().ensure_general_room().await?;
        self.ensure_bot_user().await?;
        self.ensure_admin().await?;
        if let Some(document) = &self.config.initial_user {
            // As upstream: a bad document is reported and ignored, never fatal.
            if let Err(error) = self.ensure_initial_user(document).await {
                tracing::error!(
                    error = %error.log_detail.as_deref().unwrap_or(&error.reason),
                    "INITIAL_USER ignored"
                );
            }
        }
        if !self.config.clustered {
            // A single instance starting: no connection survives a restart.
            self.store.clear_connections().await.map_err(store_error)?;
            self.store
                .reset_connection_presence()
                .await
                .map_err(store_error)?;
        }
        self.store
            .instance_heartbeat(&self.config.instance_id, now())
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn seed_settings(&self) -> Result<()> {
        let at = now();
        for seed in DEFAULT_SETTINGS {
            let package_value = (seed.default)();
            let mut value = package_value.clone();
            if let Some((_, raw)) = self
                .config
                .setting_defaults
                .iter()
                .find(|(id, _)| id == seed.id)
            {
                match seed.setting_type.value_from_env(raw) {
                    Some(v) => value = v,
                    None => tracing::warn!(setting = seed.id, "ignoring default of the wrong type"),
                }
            }
            if seed.id == "Accounts_RegistrationForm_SecretURL" {
                value = Value::String(comet_core::id::new_id());
            }
            self.store
                .insert_setting_if_absent(&Setting {
                    id: seed.id.to_owned(),
                    value,
                    package_value,
                    setting_type: seed.setting_type,
                    public: seed.public,
                    group: seed.group.to_owned(),
                    section: seed.section.map(str::to_owned),
                    choices: seed.choices.iter().map(|c| (*c).to_owned()).collect(),
                    updated_at: at,
                })
                .await
                .map_err(store_error)?;
        }
        self.settings_cache
            .replace_all(self.store.settings().await.map_err(store_error)?);

        let mut forced: Vec<(String, String)> = self.config.setting_overrides.clone();
        if let Some(url) = &self.config.site_url {
            forced.push(("Site_Url".to_owned(), url.clone()));
        }
        for (id, raw) in forced {
            let Some(setting_type) = self.settings_type(&id) else {
                tracing::warn!(setting = %id, "OVERWRITE_SETTING for an unknown setting ignored");
                continue;
            };
            let Some(value) = setting_type.value_from_env(&raw) else {
                return Err(Error::internal(format!(
                    "OVERWRITE_SETTING_{id}: {raw:?} is not a valid {}",
                    setting_type.as_str()
                )));
            };
            if self.setting(&id).as_ref() != Some(&value) {
                self.write_setting(&id, value).await?;
            }
        }
        Ok(())
    }

    fn settings_type(&self, id: &str) -> Option<comet_core::setting::SettingType> {
        DEFAULT_SETTINGS
            .iter()
            .find(|s| s.id == id)
            .map(|s| s.setting_type)
    }

    async fn seed_roles_and_permissions(&self) -> Result<()> {
        let at = now();
        for (id, scope, description) in DEFAULT_ROLES {
            self.store
                .insert_role_if_absent(&Role {
                    id: (*id).to_owned(),
                    name: (*id).to_owned(),
                    scope: (*scope).to_owned(),
                    description: (*description).to_owned(),
                    protected: true,
                    mandatory_2fa: false,
                    updated_at: at,
                })
                .await
                .map_err(store_error)?;
        }
        for (id, roles) in DEFAULT_PERMISSIONS {
            self.store
                .insert_permission_if_absent(&Permission {
                    id: (*id).to_owned(),
                    roles: roles.iter().map(|r| (*r).to_owned()).collect(),
                    updated_at: at,
                })
                .await
                .map_err(store_error)?;
        }
        self.reload_permissions().await
    }

    /// `rocket.cat`, the server's own bot account, as upstream ships it.
    async fn ensure_bot_user(&self) -> Result<()> {
        if self
            .store
            .user_by_id("rocket.cat")
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Ok(());
        }
        let mut bot = self.accounts().blank_user("rocket.cat", "Rocket.Cat", None);
        bot.id = "rocket.cat".to_owned();
        bot.user_type = UserType::Bot;
        bot.roles = vec!["bot".to_owned()];
        bot.status = Presence::Online;
        bot.status_connection = Presence::Online;
        self.store.insert_user(&bot).await.map_err(store_error)?;
        // Upstream gives the bot its picture when it creates it, and clients expect it to have
        // one (`avatarETag` in `users.presence`). A store that cannot take it now leaves the
        // bot with the default avatar rather than keep the server from starting.
        if let Err(error) = self
            .files()
            .set_user_avatar_bytes(&bot, ROCKET_CAT_AVATAR.to_vec(), "local")
            .await
        {
            tracing::warn!(error = %error.reason, "rocket.cat keeps the default avatar");
        }
        Ok(())
    }

    /// Creates the configured admin if the server has none.
    async fn ensure_admin(&self) -> Result<()> {
        let Some(admin) = &self.config.admin else {
            return Ok(());
        };
        let admins = self
            .store
            .count_active_users_with_role("admin")
            .await
            .map_err(store_error)?;
        if admins > 0 {
            return Ok(());
        }
        if self
            .store
            .user_by_username(&admin.username)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Err(Error::internal(format!(
                "ADMIN_USERNAME {:?} belongs to an existing user who is not an admin",
                admin.username
            )));
        }
        let mut user = self.accounts().blank_user(
            &admin.username,
            &admin.name,
            admin.email.as_ref().map(|address| Email {
                address: address.clone(),
                verified: admin.email_verified,
            }),
        );
        user.roles = vec!["admin".to_owned()];
        user.password_bcrypt = Some(
            self.accounts()
                .hash_password(&PasswordInput::Plain(admin.password.clone()))
                .await?,
        );
        let user = self.accounts().insert_user(user, true).await?;
        tracing::info!(username = %user.username, "admin account created from ADMIN_* configuration");
        Ok(())
    }

    /// Upstream's `INITIAL_USER`: the user in the JSON document, created with its own `_id`
    /// when no user has that id yet, and added to the default rooms.
    async fn ensure_initial_user(&self, document: &str) -> Result<()> {
        let invalid = |why: &str| Error::internal(format!("INITIAL_USER: {why}"));
        let doc: Value =
            serde_json::from_str(document).map_err(|e| invalid(&format!("not JSON ({e})")))?;
        let text = |key: &str| doc.get(key).and_then(Value::as_str).map(str::trim);
        let Some(id) = text("_id").filter(|id| !id.is_empty()) else {
            return Err(invalid("no _id provided"));
        };
        if self
            .store
            .user_by_id(id)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Ok(());
        }
        let Some(username) = text("username").filter(|u| !u.is_empty()) else {
            return Err(invalid("no username provided"));
        };
        if !comet_core::validate::username_regex(&self.setting_str("UTF8_User_Names_Validation"))
            .is_match(username)
        {
            return Err(invalid("the username is not valid"));
        }
        if self
            .store
            .user_by_username(username)
            .await
            .map_err(store_error)?
            .is_some()
        {
            return Err(invalid("the username is taken"));
        }
        let email = doc
            .get("emails")
            .and_then(|emails| emails.get(0))
            .and_then(|first| {
                Some(Email {
                    address: first.get("address")?.as_str()?.trim().to_owned(),
                    verified: first
                        .get("verified")
                        .and_then(Value::as_bool)
                        .unwrap_or(false),
                })
            });
        let name = text("name").filter(|n| !n.is_empty()).unwrap_or(username);
        let mut user = self.accounts().blank_user(username, name, email);
        id.clone_into(&mut user.id);
        if let Some(roles) = doc.get("roles").and_then(Value::as_array) {
            let roles: Vec<String> = roles
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect();
            if !roles.is_empty() {
                user.roles = roles;
            }
        }
        if let Some(active) = doc.get("active").and_then(Value::as_bool) {
            user.active = active;
        }
        if text("type") == Some("bot") {
            user.user_type = UserType::Bot;
        }
        let stored_hash = doc
            .pointer("/services/password/bcrypt")
            .and_then(Value::as_str)
            .filter(|hash| hash.starts_with("$2"));
        // A password is taken as given: spaces are characters of it.
        let plain = doc.get("password").and_then(Value::as_str);
        user.password_bcrypt = match (plain, stored_hash) {
            (Some(plain), _) if !plain.is_empty() => Some(
                self.accounts()
                    .hash_password(&PasswordInput::Plain(plain.to_owned()))
                    .await?,
            ),
            // Rocket.Chat's own hash (bcrypt of the SHA-256 digest) is Comet's form too.
            (_, Some(hash)) => Some(hash.to_owned()),
            _ => None,
        };
        let user = self.accounts().insert_user(user, true).await?;
        tracing::info!(id = %user.id, username = %user.username, "initial user created from INITIAL_USER");
        Ok(())
    }
}
