//! Accounts: registration, administration, profile status and presence.

use crate::Accounts;
use crate::audit::{AuditTarget, changed_fields, user_fields};
use crate::auth::PasswordInput;
use crate::authz::Required;
use crate::hashing::hash_digest;
use crate::{ClientInfo, Session, store_error};
use comet_core::page::{Page, UserSortKey};
use comet_core::user::{Email, Presence, User, UserType};
use comet_core::validate::{is_blocked_username, is_valid_email, username_regex};
use comet_core::{Error, Result, id, now};
use comet_store::{Conflict, StoreError, UserFilter};
use serde_json::{Map, Value, json};

/// Addresses a user by id or username (upstream's `getUserFromParams`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserRef {
    Id(String),
    Username(String),
    /// An email address, any case (`users.info`, 8.4).
    Email(String),
}

/// How much of a user the caller may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UserView {
    /// Public profile fields only.
    Limited,
    /// Everything but secrets (`view-full-other-user-info`, or oneself).
    Full,
}

/// A user as shown to a caller.
#[derive(Debug, Clone)]
pub struct VisibleUser {
    pub user: User,
    pub view: UserView,
}

/// `users.register` input.
/// What `users.listByStatus` asks for.
#[derive(Debug, Clone, Default)]
pub struct UsersByStatus {
    /// `status`: `active` (`Some(true)`) or `deactivated` (`Some(false)`).
    pub active: Option<bool>,
    pub has_logged_in: Option<bool>,
    pub user_type: Option<String>,
    /// Any of these global roles; `all` among them means any user.
    pub roles: Vec<String>,
    pub search_term: Option<String>,
    /// `inactiveReason`: `deactivated`, `pending_approval`, `idle_too_long`.
    pub inactive_reasons: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default)]
pub struct Registration {
    pub username: String,
    pub email: String,
    pub password: String,
    pub name: Option<String>,
    pub secret_url: Option<String>,
    pub reason: Option<String>,
    pub custom_fields: Option<Value>,
}

/// What `users.purge` did.
#[derive(Debug)]
pub struct PurgedUser {
    pub user: User,
    /// Rooms the user's messages were deleted from.
    pub rooms: usize,
    /// Files deleted.
    pub files: usize,
}

/// `users.create` input.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub email: String,
    pub password: String,
    pub name: String,
    pub active: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub require_password_change: bool,
    pub verified: bool,
    pub nickname: Option<String>,
    pub bio: Option<String>,
    pub status_text: Option<String>,
    pub custom_fields: Option<Value>,
    /// Join the default rooms (`joinDefaultChannels`, true unless asked otherwise).
    pub join_default_channels: bool,
}

/// `users.update` changes; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub active: Option<bool>,
    pub roles: Option<Vec<String>>,
    pub verified: Option<bool>,
    pub require_password_change: Option<bool>,
    pub nickname: Option<String>,
    pub bio: Option<String>,
    pub status_text: Option<String>,
    pub custom_fields: Option<Value>,
    /// With `active: false`: hand over (or remove) the rooms the user is the last owner of.
    pub confirm_relinquish: bool,
}

/// `users.updateOwnBasicInfo` changes (upstream's `saveUserProfile`); `None` leaves a field
/// as it is.
#[derive(Debug, Clone, Default)]
pub struct OwnProfileChanges {
    pub email: Option<String>,
    pub name: Option<String>,
    pub username: Option<String>,
    pub nickname: Option<String>,
    pub bio: Option<String>,
    pub status_text: Option<String>,
    pub status_type: Option<String>,
    pub new_password: Option<String>,
    pub custom_fields: Option<Value>,
}

/// `users.getPresence` answer.
#[derive(Debug, Clone)]
pub struct PresenceInfo {
    pub user_id: String,
    pub presence: Presence,
    /// Only for oneself: the connection status and the last login.
    pub own: Option<(Presence, Option<comet_core::Timestamp>)>,
}

/// `me`: the caller with preferences merged over the server defaults.
#[derive(Debug, Clone)]
pub struct Me {
    pub user: User,
    pub preferences: Map<String, Value>,
    pub avatar_url: String,
}

/// A password policy rule: its setting, the character test, the error code and reason.
type CharacterRule = (&'static str, fn(char) -> bool, &'static str, &'static str);

fn action_not_allowed(reason: &'static str, action: &str) -> Error {
    Error::meteor("error-action-not-allowed", reason)
        .with_details(json!({"method": "insertOrUpdateUser", "action": action}))
}

fn field_required(field: &str) -> Error {
    Error::meteor(
        "error-the-field-is-required",
        format!("The field {field} is required"),
    )
    .with_details(json!({"method": "insertOrUpdateUser", "field": field}))
}

fn field_unavailable(value: &str, field: &str) -> Error {
    Error::meteor(
        "error-field-unavailable",
        format!("{value} is already in use :("),
    )
    .with_details(json!({"method": "insertOrUpdateUser", "field": field}))
}

/// Names may hold any text except markup and control characters (upstream `validateNameChars`).
fn name_is_valid(name: &str) -> bool {
    !name.chars().any(|c| c == '<' || c == '>' || c.is_control()) && name.chars().count() <= 120
}

/// Escapes markup in values echoed inside error messages.
fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The password policy as clients show it before a password is typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordPolicy {
    pub enabled: bool,
    pub rules: Vec<PasswordRule>,
}

/// One rule of the password policy, with its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordRule {
    MinLength(i64),
    MaxLength(i64),
    ForbidRepeatingCharacters,
    ForbidRepeatingCharactersCount(i64),
    Lowercase,
    Uppercase,
    Number,
    Special,
}

/// Upstream's limits on profile texts, in UTF-16 code units as JavaScript counts them.
const MAX_NICKNAME_LENGTH: usize = 120;
const MAX_BIO_LENGTH: usize = 260;

/// A nickname or bio as upstream stores it: blank removes it, too long is refused.
fn profile_text(value: String, max: usize, code: &'static str) -> Result<Option<String>> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    if value.encode_utf16().count() > max {
        let what = if code == "error-bio-size-exceeded" {
            "Bio"
        } else {
            "Nickname"
        };
        return Err(
            Error::meteor(code, format!("{what} size exceeds {max} characters"))
                .with_details(json!({"method": "saveUserProfile"})),
        );
    }
    Ok(Some(value))
}

impl Accounts<'_> {
    fn username_is_valid(&self, username: &str) -> bool {
        username_regex(&self.ctx.setting_str("UTF8_User_Names_Validation")).is_match(username)
    }

    fn username_is_blocked(&self, username: &str) -> bool {
        is_blocked_username(
            username,
            &self.ctx.setting_str("Accounts_BlockedUsernameList"),
        )
    }

    async fn username_is_taken(&self, username: &str, except: Option<&str>) -> Result<bool> {
        let found = self
            .ctx
            .store
            .user_by_username(username)
            .await
            .map_err(store_error)?;
        Ok(found.is_some_and(|u| Some(u.id.as_str()) != except))
    }

    async fn email_is_taken(&self, email: &str, except: Option<&str>) -> Result<bool> {
        let found = self
            .ctx
            .store
            .user_by_email(email)
            .await
            .map_err(store_error)?;
        Ok(found.is_some_and(|u| Some(u.id.as_str()) != except))
    }

    /// Email format and the allowed/blocked domain lists.
    fn check_email(&self, email: &str) -> Result<()> {
        if !is_valid_email(email) {
            return Err(Error::meteor(
                "error-invalid-email",
                format!("Invalid email {}", escape_html(email)),
            )
            .with_details(json!({"method": "insertOrUpdateUser", "email": email})));
        }
        let domain = email.rsplit('@').next().unwrap_or_default().to_lowercase();
        let list = |id: &str| -> Vec<String> {
            self.ctx
                .setting_str(id)
                .split(',')
                .map(|d| d.trim().to_lowercase())
                .filter(|d| !d.is_empty())
                .collect()
        };
        // Upstream's `validateEmailDomain`: the allow list first, then the block list.
        let allowed = list("Accounts_AllowedDomainsList");
        if !allowed.is_empty() && !allowed.contains(&domain) {
            return Err(Error::meteor(
                "error-invalid-domain",
                "The email domain is not in whitelist",
            )
            .with_details(json!({"function": "RocketChat.validateEmailDomain"})));
        }
        if list("Accounts_BlockedDomainsList").contains(&domain) {
            return Err(Error::meteor(
                "error-email-domain-blacklisted",
                "The email domain is blacklisted",
            )
            .with_details(json!({"function": "RocketChat.validateEmailDomain"})));
        }
        Ok(())
    }

    /// `Accounts_Password_Policy_*`, when enabled.
    /// The password rules in force (`pw.getPolicy`), as upstream lists them: none while the
    /// policy is off.
    pub fn password_policy(&self) -> PasswordPolicy {
        let enabled = self.ctx.setting_bool("Accounts_Password_Policy_Enabled");
        let mut rules = Vec::new();
        if enabled {
            let setting = |id: &str| self.ctx.setting_int(id);
            let flag = |id: &str| self.ctx.setting_bool(id);
            let min = setting("Accounts_Password_Policy_MinLength");
            if min >= 1 {
                rules.push(PasswordRule::MinLength(min));
            }
            let max = setting("Accounts_Password_Policy_MaxLength");
            if max >= 1 {
                rules.push(PasswordRule::MaxLength(max));
            }
            if flag("Accounts_Password_Policy_ForbidRepeatingCharacters") {
                rules.push(PasswordRule::ForbidRepeatingCharacters);
            }
            let repeats = setting("Accounts_Password_Policy_ForbidRepeatingCharactersCount");
            if repeats != 0 {
                rules.push(PasswordRule::ForbidRepeatingCharactersCount(repeats));
            }
            for (id, rule) in [
                (
                    "Accounts_Password_Policy_AtLeastOneLowercase",
                    PasswordRule::Lowercase,
                ),
                (
                    "Accounts_Password_Policy_AtLeastOneUppercase",
                    PasswordRule::Uppercase,
                ),
                (
                    "Accounts_Password_Policy_AtLeastOneNumber",
                    PasswordRule::Number,
                ),
                (
                    "Accounts_Password_Policy_AtLeastOneSpecialCharacter",
                    PasswordRule::Special,
                ),
            ] {
                if flag(id) {
                    rules.push(rule);
                }
            }
        }
        PasswordPolicy { enabled, rules }
    }

    /// Upstream's `PasswordPolicy.validate`: every failing rule is listed in `details` (as
    /// `{error, message}`) under one `error-password-policy-not-met`, so that a client can
    /// show them all at once.
    pub(crate) fn check_password_policy(&self, password: &str) -> Result<()> {
        let not_met = || {
            Error::meteor(
                "error-password-policy-not-met",
                "The password provided does not meet the server's password policy.",
            )
        };
        // A blank password fails even with the policy off, as upstream's does.
        if password.trim().is_empty() {
            return Err(not_met());
        }
        if !self.ctx.setting_bool("Accounts_Password_Policy_Enabled") {
            return Ok(());
        }
        let mut reasons = Vec::new();
        let mut fail = |code: &str, message: &str| {
            reasons.push(json!({"error": code, "message": message}));
        };
        // JavaScript's `length`: UTF-16 code units.
        let length = password.encode_utf16().count() as i64;
        let min = self.ctx.setting_int("Accounts_Password_Policy_MinLength");
        let max = self.ctx.setting_int("Accounts_Password_Policy_MaxLength");
        if min >= 1 && length < min {
            fail(
                "error-password-policy-not-met-minLength",
                "The password does not meet the minimum length password policy.",
            );
        }
        if max >= 1 && length > max {
            fail(
                "error-password-policy-not-met-maxLength",
                "The password does not meet the maximum length password policy.",
            );
        }
        if self
            .ctx
            .setting_bool("Accounts_Password_Policy_ForbidRepeatingCharacters")
        {
            // Upstream's `(.)\1{count,}`: a character followed by `count` more of itself.
            let limit = self
                .ctx
                .setting_int("Accounts_Password_Policy_ForbidRepeatingCharactersCount")
                .max(0);
            let mut run = 0i64;
            let mut previous = None;
            let mut repeats = false;
            for c in password.chars() {
                run = if Some(c) == previous { run + 1 } else { 1 };
                previous = Some(c);
                repeats |= run > limit;
            }
            if repeats {
                fail(
                    "error-password-policy-not-met-repeatingCharacters",
                    "The password contains repeating characters which is against the password policy.",
                );
            }
        }
        // Upstream's classes are ASCII: `[a-z]`, `[A-Z]`, `[0-9]`, and `[^A-Za-z0-9 ]`.
        let checks: [CharacterRule; 4] = [
            (
                "Accounts_Password_Policy_AtLeastOneLowercase",
                |c: char| c.is_ascii_lowercase(),
                "error-password-policy-not-met-oneLowercase",
                "The password does not contain at least one lowercase character which is against the password policy.",
            ),
            (
                "Accounts_Password_Policy_AtLeastOneUppercase",
                |c: char| c.is_ascii_uppercase(),
                "error-password-policy-not-met-oneUppercase",
                "The password does not contain at least one uppercase character which is against the password policy.",
            ),
            (
                "Accounts_Password_Policy_AtLeastOneNumber",
                |c: char| c.is_ascii_digit(),
                "error-password-policy-not-met-oneNumber",
                "The password does not contain at least one numerical character which is against the password policy.",
            ),
            (
                "Accounts_Password_Policy_AtLeastOneSpecialCharacter",
                |c: char| !c.is_ascii_alphanumeric() && c != ' ',
                "error-password-policy-not-met-oneSpecial",
                "The password does not contain at least one special character which is against the password policy.",
            ),
        ];
        for (setting, test, code, reason) in checks {
            if self.ctx.setting_bool(setting) && !password.chars().any(test) {
                fail(code, reason);
            }
        }
        if reasons.is_empty() {
            Ok(())
        } else {
            Err(not_met().with_details(Value::Array(reasons)))
        }
    }

    fn bcrypt_cost(&self) -> u32 {
        self.ctx.config.bcrypt_cost
    }

    pub(crate) async fn hash_password(&self, password: &PasswordInput) -> Result<String> {
        let digest = match password {
            PasswordInput::Plain(plain) => comet_core::password::sha256_hex(plain),
            PasswordInput::Sha256Digest(d) => d.to_lowercase(),
        };
        hash_digest(digest, self.bcrypt_cost()).await
    }

    fn default_roles(&self) -> Vec<String> {
        let roles: Vec<String> = self
            .ctx
            .setting_str("Accounts_Registration_Users_Default_Roles")
            .split(',')
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        if roles.is_empty() {
            vec!["user".to_owned()]
        } else {
            roles
        }
    }

    /// Inserts a new user; the first person on a server without an admin becomes admin. With
    /// `join_default_rooms` the user joins every default room (`#general`).
    pub(crate) async fn insert_user(
        &self,
        mut user: User,
        join_default_rooms: bool,
    ) -> Result<User> {
        if user.user_type == UserType::User
            && !user.has_role("admin")
            && self
                .ctx
                .store
                .count_active_users_with_role("admin")
                .await
                .map_err(store_error)?
                == 0
        {
            user.roles.push("admin".to_owned());
            user.approved = true;
        }
        match self.ctx.store.insert_user(&user).await {
            Ok(()) => {
                tracing::info!(user = %user.id, username = %user.username, roles = ?user.roles, "user created");
                if join_default_rooms && user.active {
                    self.ctx.rooms().join_default_rooms(&user).await?;
                }
                Ok(user)
            }
            Err(StoreError::Conflict(Conflict::Username)) => {
                Err(field_unavailable(&escape_html(&user.username), "Username"))
            }
            Err(StoreError::Conflict(Conflict::Email)) => Err(field_unavailable(
                &escape_html(user.email.as_ref().map_or("", |e| e.address.as_str())),
                "Email",
            )),
            Err(e) => Err(store_error(e)),
        }
    }

    pub(crate) fn blank_user(&self, username: &str, name: &str, email: Option<Email>) -> User {
        let at = now();
        User {
            id: id::new_id(),
            username: username.to_owned(),
            name: name.to_owned(),
            email,
            user_type: UserType::User,
            active: true,
            roles: self.default_roles(),
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
            preferences: Value::Object(Map::new()),
            custom_fields: None,
            created_at: at,
            updated_at: at,
            last_login: None,
            approved: true,
        }
    }

    /// `users.register`: self-service sign-up, as `Accounts_RegistrationForm` allows.
    pub async fn register(
        &self,
        registration: Registration,
        _client: &ClientInfo,
    ) -> Result<VisibleUser> {
        let Registration {
            username,
            email,
            password,
            name,
            secret_url,
            reason: _,
            custom_fields,
        } = registration;
        if let Some(name) = &name
            && !name_is_valid(name)
        {
            return Err(Error::failure("Name contains invalid characters"));
        }
        if !self.username_is_valid(&username) {
            return Err(Error::failure("The username provided is not valid"));
        }
        if self.username_is_blocked(&username) || self.username_is_taken(&username, None).await? {
            return Err(Error::failure("Username is already in use"));
        }
        if let Some(fields) = &custom_fields {
            self.validate_custom_fields(fields)?;
        }
        match self.ctx.setting_str("Accounts_RegistrationForm").as_str() {
            "Disabled" => {
                return Err(Error::meteor(
                    "error-user-registration-disabled",
                    "User registration is disabled",
                )
                .with_details(json!({"method": "registerUser"})));
            }
            "Secret URL" => {
                self.check_registration_secret(secret_url.as_deref())
                    .await?
            }
            _ => {}
        }
        let name = name.map(|n| n.trim().to_owned()).unwrap_or_default();
        if name.is_empty() && self.ctx.setting_bool("Accounts_RequireNameForSignUp") {
            return Err(field_required("Name"));
        }
        self.check_password_policy(&password)?;
        self.check_email(&email)?;
        if self.email_is_taken(&email, None).await? {
            return Err(Error::meteor("403", "Email already exists."));
        }
        let mut user = self.blank_user(
            &username,
            &name,
            Some(Email {
                address: email,
                verified: false,
            }),
        );
        user.active = !self.ctx.setting_bool("Accounts_ManuallyApproveNewUsers");
        // Self-registered accounts are new until they are old enough or an admin approves them.
        user.approved = false;
        user.password_bcrypt = Some(self.hash_password(&PasswordInput::Plain(password)).await?);
        user.custom_fields = custom_fields.filter(|f| f.as_object().is_some_and(|m| !m.is_empty()));
        let user = self.insert_user(user, true).await?;
        if self
            .ctx
            .setting_bool("Accounts_TwoFactorAuthentication_By_Email_Auto_Opt_In")
        {
            self.ctx
                .store
                .set_email_two_factor_enabled(&user.id, true, now())
                .await
                .map_err(store_error)?;
        }
        // Upstream mails every new account a verification link; Comet does when verification
        // is asked for (`Accounts_EmailVerification`), the only time the link matters.
        if self.ctx.setting_bool("Accounts_EmailVerification")
            && let Some(email) = &user.email
            && let Err(e) = self.send_verification_email(&user, &email.address).await
        {
            tracing::warn!(error = %e, user = %user.id, "queuing the verification mail failed");
        }
        Ok(VisibleUser {
            user,
            view: UserView::Limited,
        })
    }

    /// `Secret URL` registration: the secret of `Accounts_RegistrationForm_SecretURL`, or
    /// (as upstream's `registerUser` accepts) the token of a valid invite link.
    async fn check_registration_secret(&self, secret: Option<&str>) -> Result<()> {
        let refused = || {
            Error::meteor(
                "error-user-registration-secret",
                "User registration is only allowed via Secret URL",
            )
            .with_details(json!({"method": "registerUser"}))
        };
        let Some(secret) = secret.filter(|s| !s.is_empty()) else {
            return Err(refused());
        };
        if self.registration_secret_matches(secret) {
            return Ok(());
        }
        match self
            .ctx
            .invites()
            .validate(secret, "validateInviteToken")
            .await
        {
            Ok(_) => Ok(()),
            Err(e) if e.kind == comet_core::ErrorKind::Internal => Err(e),
            Err(_) => Err(refused()),
        }
    }

    /// `checkRegistrationSecretURL`: whether `secret` is the registration secret (an empty
    /// secret setting matches nothing).
    pub fn registration_secret_matches(&self, secret: &str) -> bool {
        let expected = self.ctx.setting_str("Accounts_RegistrationForm_SecretURL");
        // Digests compare in a time that says nothing about how much of the secret matched.
        !expected.is_empty()
            && comet_core::password::sha256_hex(secret)
                == comet_core::password::sha256_hex(&expected)
    }

    /// Checks role ids and whether the caller may assign them.
    async fn check_roles_assignment(&self, session: &Session, roles: &[String]) -> Result<()> {
        let known = self.ctx.store.roles().await.map_err(store_error)?;
        if roles.iter().any(|r| !known.iter().any(|k| &k.id == r)) {
            return Err(action_not_allowed(
                "The field Roles consist invalid role id",
                "Assign_role",
            ));
        }
        if !self.ctx.has_permission(&session.user, "assign-roles") {
            return Err(action_not_allowed(
                "Assigning roles is not allowed",
                "Assign_role",
            ));
        }
        if roles.iter().any(|r| r == "admin")
            && !self.ctx.has_permission(&session.user, "assign-admin-role")
        {
            return Err(action_not_allowed(
                "Assigning admin is not allowed",
                "Assign_admin",
            ));
        }
        Ok(())
    }

    fn visible(&self, session: &Session, user: User) -> VisibleUser {
        let view = if user.id == session.user.id
            || self
                .ctx
                .has_permission(&session.user, "view-full-other-user-info")
        {
            UserView::Full
        } else {
            UserView::Limited
        };
        VisibleUser { user, view }
    }

    /// `users.create`: an administrator adds an account.
    pub async fn create_user(&self, session: &Session, new_user: NewUser) -> Result<VisibleUser> {
        if !name_is_valid(&new_user.name) {
            return Err(Error::failure("Name contains invalid characters"));
        }
        if !self.ctx.has_permission(&session.user, "create-user") {
            return Err(action_not_allowed(
                "Adding user is not allowed",
                "Adding_user",
            ));
        }
        if let Some(roles) = &new_user.roles {
            self.check_roles_assignment(session, roles).await?;
        }
        if let Some(fields) = &new_user.custom_fields {
            self.validate_custom_fields(fields)?;
        }
        let name = new_user.name.trim();
        if name.is_empty() && self.ctx.setting_bool("Accounts_RequireNameForSignUp") {
            return Err(field_required("Name"));
        }
        let username = new_user.username.trim();
        if username.is_empty() {
            return Err(field_required("Username"));
        }
        if !self.username_is_valid(username) {
            return Err(Error::meteor(
                "error-input-is-not-a-valid-field",
                format!("{} is not a valid username", escape_html(username)),
            )
            .with_details(
                json!({"method": "insertOrUpdateUser", "input": username, "field": "Username"}),
            ));
        }
        if self.username_is_blocked(username) {
            return Err(Error::meteor(
                "error-blocked-username",
                format!("{} is blocked and can't be used!", escape_html(username)),
            )
            .with_details(json!({"method": "insertOrUpdateUser", "field": username})));
        }
        if new_user.password.is_empty() {
            return Err(field_required("Password"));
        }
        self.check_email(&new_user.email)?;
        if self.username_is_taken(username, None).await? {
            return Err(field_unavailable(&escape_html(username), "Username"));
        }
        if self.email_is_taken(&new_user.email, None).await? {
            return Err(field_unavailable(&escape_html(&new_user.email), "Email"));
        }
        self.check_password_policy(&new_user.password)?;

        let mut user = self.blank_user(
            username,
            name,
            Some(Email {
                address: new_user.email.trim().to_owned(),
                verified: new_user.verified,
            }),
        );
        if let Some(roles) = new_user.roles {
            user.roles = roles;
        }
        user.active = new_user.active.unwrap_or(true);
        user.require_password_change = new_user.require_password_change;
        user.nickname = new_user
            .nickname
            .map(|v| profile_text(v, MAX_NICKNAME_LENGTH, "error-nickname-size-exceeded"))
            .transpose()?
            .flatten();
        user.bio = new_user
            .bio
            .map(|v| profile_text(v, MAX_BIO_LENGTH, "error-bio-size-exceeded"))
            .transpose()?
            .flatten();
        user.status_text = new_user.status_text.unwrap_or_default();
        user.custom_fields = new_user.custom_fields;
        user.password_bcrypt = Some(
            self.hash_password(&PasswordInput::Plain(new_user.password))
                .await?,
        );
        let user = self
            .insert_user(user, new_user.join_default_channels)
            .await?;
        self.ctx
            .audit_by(
                session,
                "user.create",
                AuditTarget::user(&user),
                None,
                Some(user_fields(&user)),
            )
            .await?;
        Ok(self.visible(session, user))
    }

    /// Looks a user up by id or username.
    pub async fn find_user(&self, user: &UserRef) -> Result<Option<User>> {
        match user {
            UserRef::Id(id) => self.ctx.store.user_by_id(id).await,
            UserRef::Username(name) => self.ctx.store.user_by_username(name).await,
            UserRef::Email(email) => self.ctx.store.user_by_email(email).await,
        }
        .map_err(store_error)
    }

    /// Like `find_user`, refusing with upstream's `error-invalid-user` when missing.
    pub async fn require_user(&self, user: &UserRef) -> Result<User> {
        self.find_user(user).await?.ok_or_else(Error::invalid_user)
    }

    /// Refuses to leave the server without an active admin.
    async fn ensure_other_active_admin(
        &self,
        user: &User,
        reason: &'static str,
        method: &str,
    ) -> Result<()> {
        if user.has_role("admin") && user.active {
            let admins = self
                .ctx
                .store
                .count_active_users_with_role("admin")
                .await
                .map_err(store_error)?;
            if admins <= 1 {
                return Err(Error::meteor("error-action-not-allowed", reason)
                    .with_details(json!({"method": method, "action": "Remove_last_admin"})));
            }
        }
        Ok(())
    }

    /// `users.update`: changes a profile (others' with `edit-other-user-info`).
    pub async fn update_user(
        &self,
        session: &Session,
        user_id: &str,
        changes: UserChanges,
    ) -> Result<VisibleUser> {
        if let Some(name) = &changes.name
            && !name_is_valid(name)
        {
            return Err(Error::failure("Name contains invalid characters"));
        }
        let editing_other = user_id != session.user.id;
        if editing_other
            && !self
                .ctx
                .has_permission(&session.user, "edit-other-user-info")
        {
            return Err(action_not_allowed(
                "Editing user is not allowed",
                "Editing_user",
            ));
        }
        if !editing_other
            && changes.verified.is_some()
            && !self
                .ctx
                .has_permission(&session.user, "edit-other-user-info")
        {
            return Err(action_not_allowed(
                "Editing email verification is not allowed",
                "Editing_user",
            ));
        }
        let Some(mut user) = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::failure("User not found"));
        };
        let (original_name, original_username) = (user.name.clone(), user.username.clone());
        let fields_before = user_fields(&user);
        if let Some(roles) = &changes.roles
            && roles != &user.roles
        {
            self.check_roles_assignment(session, roles).await?;
            if !roles.iter().any(|r| r == "admin") {
                self.ensure_other_active_admin(
                    &user,
                    "Leaving the app without admins is not allowed",
                    "insertOrUpdateUser",
                )
                .await?;
            }
        }
        if let Some(name) = &changes.name {
            let name = name.trim();
            if name.is_empty() && self.ctx.setting_bool("Accounts_RequireNameForSignUp") {
                return Err(field_required("Name"));
            }
            user.name = name.to_owned();
        }
        if let Some(username) = &changes.username {
            let username = username.trim();
            if username.is_empty() {
                return Err(field_required("Username"));
            }
            if username != user.username {
                if !editing_other && !self.ctx.setting_bool("Accounts_AllowUsernameChange") {
                    return Err(action_not_allowed(
                        "Edit username is not allowed",
                        "Update_username",
                    ));
                }
                if !self.username_is_valid(username) {
                    return Err(Error::meteor(
                        "error-input-is-not-a-valid-field",
                        format!("{} is not a valid username", escape_html(username)),
                    )
                    .with_details(json!({"method": "insertOrUpdateUser", "input": username, "field": "Username"})));
                }
                // Upstream checks availability only for new users; on an edit its
                // `saveUserIdentity` just fails for a taken or reserved name.
                if self.username_is_blocked(username)
                    || self.username_is_taken(username, Some(&user.id)).await?
                {
                    return Err(Error::meteor(
                        "error-could-not-save-identity",
                        "Could not save user identity",
                    )
                    .with_details(json!({"method": "saveUser"})));
                }
                user.username = username.to_owned();
            }
        }
        let mut email_changed = false;
        if let Some(email) = &changes.email {
            let email = email.trim();
            let current = user.email.as_ref().map(|e| e.address.to_lowercase());
            if current.as_deref() != Some(email.to_lowercase().as_str()) {
                if !editing_other && !self.ctx.setting_bool("Accounts_AllowEmailChange") {
                    return Err(action_not_allowed(
                        "Edit user email is not allowed",
                        "Update_email",
                    ));
                }
                self.check_email(email)?;
                if self.email_is_taken(email, Some(&user.id)).await? {
                    return Err(field_unavailable(&escape_html(email), "Email"));
                }
                user.email = Some(Email {
                    address: email.to_owned(),
                    verified: false,
                });
                email_changed = true;
            }
        }
        if let Some(verified) = changes.verified
            && let Some(email) = user.email.as_mut()
        {
            email.verified = verified;
        }
        let mut password_changed = false;
        if let Some(password) = changes.password.filter(|p| !p.is_empty()) {
            if editing_other
                && !self
                    .ctx
                    .has_permission(&session.user, "edit-other-user-password")
            {
                return Err(action_not_allowed(
                    "Editing user password is not allowed",
                    "Edit_user_password",
                ));
            }
            if !editing_other && !self.ctx.setting_bool("Accounts_AllowPasswordChange") {
                return Err(action_not_allowed(
                    "Changing password is not allowed",
                    "Change_password",
                ));
            }
            self.check_password_policy(&password)?;
            user.password_bcrypt = Some(self.hash_password(&PasswordInput::Plain(password)).await?);
            password_changed = true;
        }
        if let Some(roles) = changes.roles {
            user.roles = roles;
        }
        if let Some(v) = changes.require_password_change {
            user.require_password_change = v;
        }
        if let Some(v) = changes.nickname {
            user.nickname = profile_text(v, MAX_NICKNAME_LENGTH, "error-nickname-size-exceeded")?;
        }
        if let Some(v) = changes.bio {
            user.bio = profile_text(v, MAX_BIO_LENGTH, "error-bio-size-exceeded")?;
        }
        if let Some(v) = changes.status_text {
            user.status_text = v;
        }
        if let Some(v) = changes.custom_fields {
            self.validate_custom_fields(&v)?;
            user.custom_fields = Some(v);
        }
        user.updated_at = now();
        match self.ctx.store.update_user(&user).await {
            Ok(_) => {}
            Err(StoreError::Conflict(Conflict::Username)) => {
                return Err(field_unavailable(&escape_html(&user.username), "Username"));
            }
            Err(StoreError::Conflict(Conflict::Email)) => {
                return Err(field_unavailable(
                    &escape_html(user.email.as_ref().map_or("", |e| e.address.as_str())),
                    "Email",
                ));
            }
            Err(e) => return Err(store_error(e)),
        }
        if email_changed {
            self.mail_changed_email_verification(&user).await?;
        }
        if password_changed {
            // A new password ends the account's other sessions; the caller's own stays.
            let keep = (!editing_other).then_some(session.token.hashed_token.as_str());
            self.end_sessions(&user.id, keep).await?;
        }
        if let Some(active) = changes.active
            && active != user.active
        {
            user = self
                .apply_active_status(user, active, changes.confirm_relinquish)
                .await?;
        }
        tracing::info!(by = %session.user.id, user = %user.id, "user updated");
        let (mut before, mut after) = changed_fields(&fields_before, &user_fields(&user));
        if password_changed {
            // The entry says that the password changed, never what it is (redacted).
            for side in [&mut before, &mut after] {
                if let Value::Object(fields) = side {
                    fields.insert("password".to_owned(), json!("changed"));
                }
            }
        }
        let action = if password_changed && editing_other {
            "user.update.password_reset"
        } else {
            "user.update"
        };
        self.ctx
            .audit_by(
                session,
                action,
                AuditTarget::user(&user),
                Some(before),
                Some(after),
            )
            .await?;
        self.ctx
            .publish(comet_events::Event::UserChanged(Box::new(user.clone())));
        if user.name != original_name || user.username != original_username {
            // The profile is saved: a failure here leaves only stale room names behind.
            if let Err(e) = self.ctx.rooms().rename_in_direct_rooms(&user).await {
                tracing::warn!(error = %e, user = %user.id, "could not rename direct rooms");
            }
            self.ctx.publish(comet_events::Event::UserRenamed {
                user_id: user.id.clone(),
                username: user.username.clone(),
                name: user.name.clone(),
            });
        }
        Ok(self.visible(session, user))
    }

    async fn apply_active_status(
        &self,
        mut user: User,
        active: bool,
        confirm_relinquish: bool,
    ) -> Result<User> {
        if !active {
            self.ensure_other_active_admin(
                &user,
                "Leaving the app without an active admin is not allowed",
                "removeUserFromRole",
            )
            .await?;
            let rooms = self.owned_room_fates(&user).await?;
            self.relinquish_rooms(&user, &rooms, confirm_relinquish)
                .await?;
        }
        user.active = active;
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        if !active {
            self.end_sessions(&user.id, None).await?;
        }
        Ok(user)
    }

    /// Who may activate and deactivate users.
    pub const SET_ACTIVE_STATUS: Required =
        Required::Any(&["edit-other-user-active-status", "manage-moderation-actions"]);

    /// `users.setActiveStatus`.
    pub async fn set_active_status(
        &self,
        session: &Session,
        user_id: &str,
        active: bool,
        confirm_relinquish: bool,
    ) -> Result<User> {
        self.ctx.authorize(&session.user, Self::SET_ACTIVE_STATUS)?;
        let Some(user) = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::failure("User not found"));
        };
        let user = if user.active == active {
            user
        } else {
            let user = self
                .apply_active_status(user, active, confirm_relinquish)
                .await?;
            self.audit_active_status(session, &user).await?;
            user
        };
        tracing::info!(by = %session.user.id, user = %user.id, active, "user active status set");
        Ok(user)
    }

    /// Upstream's `setUserActiveStatus` method: only `edit-other-user-active-status` (the
    /// REST route also admits `manage-moderation-actions`), and an unknown user is no error.
    pub async fn set_user_active_status(
        &self,
        session: &Session,
        user_id: &str,
        active: bool,
        confirm_relinquish: bool,
    ) -> Result<()> {
        if !self
            .ctx
            .has_permission(&session.user, "edit-other-user-active-status")
        {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "setUserActiveStatus"})));
        }
        let Some(user) = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
        else {
            return Ok(());
        };
        if user.active != active {
            let user = self
                .apply_active_status(user, active, confirm_relinquish)
                .await?;
            self.audit_active_status(session, &user).await?;
        }
        tracing::info!(by = %session.user.id, user = %user_id, active, "user active status set");
        Ok(())
    }

    async fn audit_active_status(&self, session: &Session, user: &User) -> Result<()> {
        let action = if user.active {
            "user.activate"
        } else {
            "user.deactivate"
        };
        self.ctx
            .audit_by(
                session,
                action,
                AuditTarget::user(user),
                Some(json!({"active": !user.active})),
                Some(json!({"active": user.active})),
            )
            .await
    }

    /// Who may delete users.
    pub const DELETE_USER: Required = Required::All(&["delete-user"]);

    /// `users.delete`.
    pub async fn delete_user(
        &self,
        session: &Session,
        target: &UserRef,
        confirm_relinquish: bool,
    ) -> Result<()> {
        self.ctx.authorize(&session.user, Self::DELETE_USER)?;
        let user = self.require_user(target).await?;
        let (audit_target, fields) = (AuditTarget::user(&user), user_fields(&user));
        self.remove_account(session, user, confirm_relinquish)
            .await?;
        self.ctx
            .audit_by(session, "user.delete", audit_target, Some(fields), None)
            .await
    }

    /// Deletes an account (checked by the caller): `users.delete`, `users.deleteOwnAccount`.
    async fn remove_account(
        &self,
        session: &Session,
        user: User,
        confirm_relinquish: bool,
    ) -> Result<()> {
        if user.user_type == UserType::App {
            return Err(Error::meteor(
                "error-cannot-delete-app-user",
                "Deleting app user is not allowed",
            ));
        }
        self.ensure_other_active_admin(
            &user,
            "Leaving the app without admins is not allowed",
            "deleteUser",
        )
        .await?;
        let rooms = self.owned_room_fates(&user).await?;
        self.relinquish_rooms(&user, &rooms, confirm_relinquish)
            .await?;
        let erasure = self.ctx.setting_str("Message_ErasureType");
        let replaced_by = match erasure.as_str() {
            "Delete" => {
                self.erase_user_messages(&user).await?;
                None
            }
            "Unlink" => self.unlink_user_messages(&user).await?,
            _ => None,
        };
        self.ctx
            .store
            .delete_user(&user.id)
            .await
            .map_err(store_error)?;
        tracing::info!(by = %session.user.id, user = %user.id, erasure, "user deleted");
        if let Err(e) = self
            .ctx
            .files()
            .remove_avatar(comet_store::AvatarOwner::User, &user.id)
            .await
        {
            tracing::warn!(error = %e.message(), user = %user.id, "could not remove a user avatar");
        }
        self.ctx.publish(comet_events::Event::SessionsEnded {
            user_id: user.id.clone(),
        });
        self.ctx.publish(comet_events::Event::UserDeleted {
            user_id: user.id,
            erasure,
            replaced_by,
        });
        Ok(())
    }

    /// `Message_ErasureType` = `Delete`: the user's messages go (as tombstones, so that
    /// clients syncing later drop them too), then every file they sent.
    /// Deletes every message and file `user` sent, telling each room's listeners; answers in
    /// how many rooms messages went and how many files.
    async fn erase_user_messages(&self, user: &User) -> Result<(usize, usize)> {
        let rooms = self
            .ctx
            .store
            .rooms_with_messages_by(&user.id)
            .await
            .map_err(store_error)?;
        let authors = [user.id.clone()];
        let room_count = rooms.len();
        for room_id in rooms {
            self.ctx
                .store
                .delete_messages(
                    &room_id,
                    &comet_store::MessageFilter::default(),
                    false,
                    &authors,
                    None,
                    now(),
                )
                .await
                .map_err(store_error)?;
            // A closed range, as a client's delete query needs one: everything they wrote.
            self.ctx.publish(comet_events::Event::MessagesCleaned {
                room_id,
                oldest: chrono::DateTime::from_timestamp_millis(0),
                latest: Some(now()),
                exclude_pinned: false,
                user_ids: authors.to_vec(),
            });
        }
        let uploads = self
            .ctx
            .store
            .user_uploads(&user.id)
            .await
            .map_err(store_error)?;
        let file_count = uploads.len();
        for upload in uploads {
            if let Err(e) = self.ctx.files().discard_upload(&upload).await {
                tracing::warn!(error = %e, file = %upload.id, "could not delete a file");
            }
        }
        Ok((room_count, file_count))
    }

    /// Who may purge a user: deactivate them and delete all they sent.
    pub const PURGE_USER: Required =
        Required::All(&["edit-other-user-active-status", "delete-user"]);

    /// `users.purge` (Comet): deactivates a user (ending their sessions) and deletes every
    /// message and file they sent, in every room, as `Message_ErasureType` "Delete" does when
    /// a user is deleted; the account stays, inactive, for the record.
    pub async fn purge_user(
        &self,
        session: &Session,
        user_id: &str,
        confirm_relinquish: bool,
    ) -> Result<PurgedUser> {
        self.ctx.authorize(&session.user, Self::PURGE_USER)?;
        let Some(user) = self
            .ctx
            .store
            .user_by_id(user_id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::failure("User not found"));
        };
        if user.id == session.user.id {
            return Err(Error::meteor(
                "error-action-not-allowed",
                "You cannot purge yourself",
            ));
        }
        let user = if user.active {
            self.apply_active_status(user, false, confirm_relinquish)
                .await?
        } else {
            user
        };
        let (rooms, files) = self.erase_user_messages(&user).await?;
        tracing::info!(by = %session.user.id, user = %user.id, rooms, files, "user purged");
        self.ctx
            .audit_by(
                session,
                "user.purge",
                crate::audit::AuditTarget::user(&user),
                None,
                Some(serde_json::json!({"active": false, "rooms": rooms, "files": files})),
            )
            .await?;
        Ok(PurgedUser { user, rooms, files })
    }

    /// `Message_ErasureType` = `Unlink`: the user's messages stay, attributed to `rocket.cat`
    /// under the alias "Removed User". Returns who they now belong to; nothing changes when
    /// `rocket.cat` does not exist (as upstream).
    async fn unlink_user_messages(
        &self,
        user: &User,
    ) -> Result<Option<comet_core::room::UserStub>> {
        let Some(cat) = self
            .ctx
            .store
            .user_by_username("rocket.cat")
            .await
            .map_err(store_error)?
        else {
            return Ok(None);
        };
        let replacement = comet_core::room::UserStub {
            id: cat.id,
            username: cat.username,
            name: None,
        };
        self.ctx
            .store
            .unlink_messages(
                &user.id,
                &replacement,
                comet_core::user::REMOVED_USER_ALIAS,
                now(),
            )
            .await
            .map_err(store_error)?;
        Ok(Some(replacement))
    }

    /// `users.info`.
    pub async fn user_info(&self, session: &Session, target: &UserRef) -> Result<VisibleUser> {
        let not_found = || Error::failure("User not found.");
        let Some(user) = self.find_user(target).await? else {
            return Err(not_found());
        };
        // An address names someone only to those who may see addresses: anyone else could
        // otherwise learn whose address it is (or that it has an account) by asking.
        if matches!(target, UserRef::Email(_))
            && user.id != session.user.id
            && !self
                .ctx
                .has_permission(&session.user, "view-full-other-user-info")
        {
            return Err(not_found());
        }
        Ok(self.visible(session, user))
    }

    /// Who may list users (`users.list`, `users.listByStatus`).
    pub const LIST_USERS: Required = Required::All(&["view-d-room"]);

    /// `users.list`: needs `view-d-room` (and `view-outside-room` when so configured).
    pub async fn list_users(
        &self,
        session: &Session,
        filter: &UserFilter,
        page: &Page<UserSortKey>,
    ) -> Result<(Vec<VisibleUser>, u64)> {
        self.authorize_user_listing(session)?;
        self.listed_users(session, filter, page).await
    }

    /// `users.list` with upstream's deprecated `query` and `fields`: each user is shown as
    /// `document` renders them, matched against the checked query, and cut to the listed
    /// fields (with `_id` and upstream's `nameInsensitive`).
    pub async fn list_users_by_query(
        &self,
        session: &Session,
        query: Option<&Map<String, Value>>,
        fields: Option<&Map<String, Value>>,
        page: &Page<UserSortKey>,
        document: impl Fn(&VisibleUser) -> Value,
    ) -> Result<(Vec<Value>, u64)> {
        self.authorize_user_listing(session)?;
        let privileged = self
            .ctx
            .has_permission(&session.user, "view-full-other-user-info");
        let listed = crate::user_query::listed_fields(fields, privileged);
        let condition = match query.filter(|q| !q.is_empty()) {
            Some(query) => Some(crate::user_query::UserQuery::parse(
                query, &listed, privileged,
            )?),
            None => None,
        };
        let project = |doc: Value| -> Value {
            let Value::Object(map) = doc else {
                return doc;
            };
            let name = map.get("name").and_then(Value::as_str).unwrap_or("");
            let mut shown = Map::new();
            shown.insert("nameInsensitive".into(), Value::from(name.to_lowercase()));
            for (key, value) in map {
                if key == "_id" || listed.contains(&key) {
                    shown.insert(key, value);
                }
            }
            Value::Object(shown)
        };
        let Some(condition) = condition else {
            let (users, total) = self
                .listed_users(session, &UserFilter::default(), page)
                .await?;
            return Ok((users.iter().map(|u| project(document(u))).collect(), total));
        };
        // The query is evaluated here, over every user in the page's order, then paged.
        let everyone = Page {
            offset: 0,
            count: None,
            sort: page.sort.clone(),
        };
        let (users, _) = self
            .listed_users(session, &UserFilter::default(), &everyone)
            .await?;
        let matching: Vec<Value> = users
            .iter()
            .map(&document)
            .filter(|doc| condition.matches(doc))
            .collect();
        let total = matching.len() as u64;
        let offset = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let count = page
            .count
            .map_or(usize::MAX, |c| usize::try_from(c).unwrap_or(usize::MAX));
        let shown = matching
            .into_iter()
            .skip(offset)
            .take(count)
            .map(project)
            .collect();
        Ok((shown, total))
    }

    /// `users.listByStatus`: as `users.list`, narrowed by activity, first login, type, roles
    /// and a search term. The term looks at addresses only for callers who may see them.
    pub async fn list_users_by_status(
        &self,
        session: &Session,
        query: &UsersByStatus,
        page: &Page<UserSortKey>,
    ) -> Result<(Vec<VisibleUser>, u64)> {
        self.authorize_user_listing(session)?;
        // Comet records no reason for a deactivation, which upstream counts as `deactivated`
        // (or `idle_too_long`); asking only for other reasons (pending approval) finds no one.
        if let Some(reasons) = &query.inactive_reasons
            && !reasons
                .iter()
                .any(|r| r == "deactivated" || r == "idle_too_long")
        {
            return Ok((Vec::new(), 0));
        }
        let search = query
            .search_term
            .as_deref()
            .filter(|term| !term.trim().is_empty());
        // Upstream ignores the roles when they include `all`.
        let any_role = if query.roles.iter().any(|r| r == "all") {
            Vec::new()
        } else {
            query.roles.clone()
        };
        let filter = UserFilter {
            active: query.active,
            has_logged_in: query.has_logged_in,
            user_type: query.user_type.clone().filter(|t| !t.is_empty()),
            any_role,
            search: search.map(str::to_owned),
            search_names_only: !self
                .ctx
                .has_permission(&session.user, "view-full-other-user-info"),
            ..UserFilter::default()
        };
        self.listed_users(session, &filter, page).await
    }

    /// `users.list` and `users.listByStatus` need `view-d-room`, and `view-outside-room` when
    /// `API_Apply_permission_view-outside-room_on_users-list` says so.
    fn authorize_user_listing(&self, session: &Session) -> Result<()> {
        self.ctx.authorize(&session.user, Self::LIST_USERS)?;
        if self
            .ctx
            .setting_bool("API_Apply_permission_view-outside-room_on_users-list")
        {
            self.ctx
                .require_permission(&session.user, "view-outside-room")?;
        }
        Ok(())
    }

    async fn listed_users(
        &self,
        session: &Session,
        filter: &UserFilter,
        page: &Page<UserSortKey>,
    ) -> Result<(Vec<VisibleUser>, u64)> {
        let (users, total) = self
            .ctx
            .store
            .list_users(filter, page)
            .await
            .map_err(store_error)?;
        // Listings show every row alike, by what the caller may see of others.
        let view = if self
            .ctx
            .has_permission(&session.user, "view-full-other-user-info")
        {
            UserView::Full
        } else {
            UserView::Limited
        };
        let users = users
            .into_iter()
            .map(|user| VisibleUser { user, view })
            .collect();
        Ok((users, total))
    }

    /// `me` (and `login`'s `data.me`): the user with preferences merged over the defaults.
    pub fn me(&self, user: &User) -> Me {
        let mut preferences = Map::clone(&self.ctx.settings_cache.default_preferences());
        if let Value::Object(own) = &user.preferences {
            for (k, v) in own {
                preferences.insert(k.clone(), v.clone());
            }
        }
        Me {
            user: user.clone(),
            preferences,
            avatar_url: self.avatar_url(&user.username),
        }
    }

    /// `users.getPreferences` and `users.setPreferences`' answer: the preferences the user
    /// saved (no defaults: upstream returns `settings.preferences` as stored) with `language`.
    pub fn saved_preferences(&self, user: &User) -> Map<String, Value> {
        let mut preferences = match &user.preferences {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        // Upstream copies `user.language` in even when it is unset (then JSON drops it).
        if let Some(language) = &user.language {
            preferences.insert("language".to_owned(), Value::String(language.clone()));
        }
        preferences
    }

    /// The absolute URL of a user's avatar.
    pub fn avatar_url(&self, username: &str) -> String {
        format!(
            "{}/avatar/{}",
            self.ctx.setting_str("Site_Url").trim_end_matches('/'),
            username
        )
    }

    /// `users.getPresence`: oneself when `target` is `None`.
    pub async fn presence(
        &self,
        session: &Session,
        target: Option<&UserRef>,
    ) -> Result<PresenceInfo> {
        let user = match target {
            None => session.user.clone(),
            Some(r) => self.require_user(r).await?,
        };
        let own = (user.id == session.user.id).then_some((user.status_connection, user.last_login));
        Ok(PresenceInfo {
            user_id: user.id,
            presence: user.status,
            own,
        })
    }

    /// `users.setStatus`: the caller's (or, with `edit-other-user-info`, another's) status.
    pub async fn set_status(
        &self,
        session: &Session,
        target: Option<&UserRef>,
        status: Option<&str>,
        message: Option<&str>,
    ) -> Result<()> {
        if !self
            .ctx
            .setting_bool("Accounts_AllowUserStatusMessageChange")
        {
            return Err(
                Error::meteor("error-not-allowed", "Change status is not allowed")
                    .with_details(json!({"method": "users.setStatus"})),
            );
        }
        let mut user = match target {
            None => session.user.clone(),
            Some(r) => {
                let user = self.require_user(r).await?;
                if user.id != session.user.id
                    && !self
                        .ctx
                        .has_permission(&session.user, "edit-other-user-info")
                {
                    return Err(Error::forbidden());
                }
                user
            }
        };
        if let Some(message) = message {
            user.status_text = message.chars().take(120).collect();
        }
        if let Some(status) = status {
            let Some(presence) = Presence::parse(status) else {
                return Err(Error::meteor(
                    "error-invalid-status",
                    "Valid status types include online, away, offline, and busy.",
                )
                .with_details(json!({"method": "users.setStatus"})));
            };
            if presence == Presence::Offline
                && !self.ctx.setting_bool("Accounts_AllowInvisibleStatusOption")
            {
                return Err(Error::meteor(
                    "error-status-not-allowed",
                    "Invisible status is disabled",
                )
                .with_details(json!({"method": "users.setStatus"})));
            }
            user.status_default = presence;
            // Upstream's route writes the chosen status as the visible one, connected or not
            // (a REST-only client shows as it says); the next connection change recomputes it.
            user.status = presence;
        }
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        self.ctx.publish(comet_events::Event::UserStatus {
            user_id: user.id.clone(),
            username: user.username.clone(),
            status: user.status,
            status_text: user.status_text.clone(),
        });
        self.ctx
            .publish(comet_events::Event::UserChanged(Box::new(user)));
        Ok(())
    }
}

impl Accounts<'_> {
    /// `userSetUtcOffset`: the caller's clock offset from UTC, in hours (fractional for zones
    /// such as UTC+5:30), which other people's user cards show as the caller's local time.
    /// Offsets outside the world's zones (−14 to +14 hours) are refused; an unchanged offset is
    /// not written again (clients send it after every login).
    pub async fn set_utc_offset(&self, session: &Session, hours: f64) -> Result<bool> {
        if !hours.is_finite() || !(-14.0..=14.0).contains(&hours) {
            return Err(Error::invalid_params(
                "utcOffset must be a number of hours between -14 and 14",
            ));
        }
        let Some(mut user) = self
            .ctx
            .store
            .user_by_id(&session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor("error-invalid-user", "Invalid user"));
        };
        if user.utc_offset == hours {
            return Ok(false);
        }
        user.utc_offset = hours;
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        self.ctx
            .publish(comet_events::Event::UserChanged(Box::new(user)));
        Ok(true)
    }
}

impl Accounts<'_> {
    /// `users.setPreferences`: merges the given preference keys into the user's own (another
    /// user's with `edit-other-user-info`), checked against upstream's request schema.
    /// `language` is kept on the user itself, as upstream's `saveUserPreferences` does.
    pub async fn set_preferences(
        &self,
        session: &Session,
        target: Option<&str>,
        data: &Map<String, Value>,
    ) -> Result<User> {
        for (key, value) in data {
            let Some((_, shape)) = comet_core::user::PREFERENCE_KEYS
                .iter()
                .find(|(k, _)| k == key)
            else {
                return Err(Error::invalid_params(format!(
                    "must NOT have additional properties: {key}"
                )));
            };
            if !shape.accepts(value) {
                return Err(Error::invalid_params(format!(
                    "must be {}",
                    shape.type_word()
                )));
            }
            if key == "alsoSendThreadToChannel"
                && value
                    .as_str()
                    .is_some_and(|v| !["default", "always", "never"].contains(&v))
            {
                return Err(Error::invalid_params(
                    "must be equal to one of the allowed values",
                ));
            }
        }
        // Upstream checks the permission before it looks the target up, so an unknown id
        // without the permission is refused as an edit of someone else.
        let target = target.filter(|id| !id.is_empty() && *id != session.user.id.as_str());
        let mut user = match target {
            None => session.user.clone(),
            Some(id) => {
                if !self
                    .ctx
                    .has_permission(&session.user, "edit-other-user-info")
                {
                    return Err(Error::meteor(
                        "error-action-not-allowed",
                        "Editing user is not allowed",
                    ));
                }
                self.ctx
                    .store
                    .user_by_id(id)
                    .await
                    .map_err(store_error)?
                    .ok_or_else(|| {
                        Error::meteor(
                            "error-invalid-user",
                            "The optional \"userId\" param provided does not match any users",
                        )
                    })?
            }
        };
        let old_language = user.language.clone();
        let mut preferences = match &user.preferences {
            Value::Object(map) => map.clone(),
            _ => Map::new(),
        };
        for (key, value) in data {
            if key == "language" {
                user.language = value.as_str().map(str::to_owned).filter(|l| !l.is_empty());
                continue;
            }
            preferences.insert(key.clone(), value.clone());
        }
        user.preferences = Value::Object(preferences);
        user.updated_at = now();
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        self.ctx
            .publish(comet_events::Event::UserChanged(Box::new(user.clone())));
        if user.language.is_some() && user.language != old_language {
            self.ctx.auto_translate().follow_language(&user).await?;
        }
        Ok(user)
    }
}

impl Accounts<'_> {
    /// `users.updateOwnBasicInfo`: the caller edits their own profile, in the order of
    /// upstream's `saveUserProfile`. The second factor (the current password) is the caller's
    /// to check first, with `require_second_factor`, when the email or the password changes.
    pub async fn update_own_basic_info(
        &self,
        session: &Session,
        changes: OwnProfileChanges,
    ) -> Result<VisibleUser> {
        let not_allowed = |reason: &'static str| {
            Error::meteor("error-action-not-allowed", reason)
                .with_details(json!({"method": "insertOrUpdateUser", "action": "Update_user"}))
        };
        let could_not_save_identity = || {
            Error::meteor(
                "error-could-not-save-identity",
                "Could not save user identity",
            )
            .with_details(json!({"method": "saveUserProfile"}))
        };
        if !self.ctx.setting_bool("Accounts_AllowUserProfileChange") {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "saveUserProfile"})));
        }
        let Some(mut user) = self
            .ctx
            .store
            .user_by_id(&session.user.id)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::meteor("error-invalid-user", "Invalid user"));
        };
        let (original_name, original_username) = (user.name.clone(), user.username.clone());
        let fields_before = user_fields(&user);
        // upstream's validateUserEditing: a field counts as edited when given and different.
        let editing = |given: &Option<String>, current: &str| {
            given.as_deref().is_some_and(|value| value != current)
        };
        if editing(&changes.username, &user.username)
            && !self.ctx.setting_bool("Accounts_AllowUsernameChange")
        {
            return Err(not_allowed("Edit username is not allowed"));
        }
        if editing(&changes.status_text, &user.status_text)
            && !self
                .ctx
                .setting_bool("Accounts_AllowUserStatusMessageChange")
        {
            return Err(not_allowed("Edit user status is not allowed"));
        }
        if editing(&changes.name, &user.name)
            && !self.ctx.setting_bool("Accounts_AllowRealNameChange")
        {
            return Err(not_allowed("Edit user real name is not allowed"));
        }
        if let Some(current) = &user.email
            && editing(&changes.email, &current.address)
            && !self.ctx.setting_bool("Accounts_AllowEmailChange")
        {
            return Err(not_allowed("Edit user email is not allowed"));
        }
        let new_password = changes.new_password.filter(|p| !p.is_empty());
        if new_password.is_some() && !self.ctx.setting_bool("Accounts_AllowPasswordChange") {
            return Err(not_allowed("Edit user password is not allowed"));
        }
        // saveUserIdentity: any refusal of the name or username is one error.
        let name_given = changes.name.as_deref().is_some_and(|n| !n.is_empty());
        let username_given = changes.username.as_deref().is_some_and(|u| !u.is_empty());
        if name_given || username_given {
            if let Some(username) = &changes.username {
                let username = username.trim();
                if username != user.username {
                    if username.is_empty()
                        || ["all", "here"].contains(&username.to_lowercase().as_str())
                        || !self.username_is_valid(username)
                        || self.username_is_blocked(username)
                        || self.username_is_taken(username, Some(&user.id)).await?
                    {
                        return Err(could_not_save_identity());
                    }
                    user.username = username.to_owned();
                }
            }
            if let Some(name) = &changes.name {
                let name = name.trim();
                if name != user.name {
                    if (name.is_empty() && self.ctx.setting_bool("Accounts_RequireNameForSignUp"))
                        || !name_is_valid(name)
                    {
                        return Err(could_not_save_identity());
                    }
                    user.name = name.to_owned();
                }
            }
        }
        if let Some(text) = changes.status_text {
            user.status_text = text.chars().take(120).collect();
        }
        if let Some(status) = changes.status_type.filter(|s| !s.is_empty()) {
            let Some(presence) = Presence::parse(&status) else {
                return Err(Error::meteor(
                    "error-invalid-status",
                    "Valid status types include online, away, offline, and busy.",
                )
                .with_details(json!({"method": "setUserStatus"})));
            };
            user.status_default = presence;
            user.status = Presence::effective(user.status_connection, presence);
        }
        if let Some(bio) = changes.bio {
            user.bio = profile_text(bio, MAX_BIO_LENGTH, "error-bio-size-exceeded")?
                .map(|b| b.trim().to_owned());
        }
        if let Some(nickname) = changes.nickname.filter(|n| !n.is_empty()) {
            user.nickname = profile_text(
                nickname,
                MAX_NICKNAME_LENGTH,
                "error-nickname-size-exceeded",
            )?
            .map(|n| n.trim().to_owned());
        }
        let mut email_changed = false;
        if let Some(email) = changes.email.filter(|e| !e.is_empty()) {
            let email = email.trim();
            let same = user
                .email
                .as_ref()
                .is_some_and(|e| e.address.eq_ignore_ascii_case(email));
            if !same {
                self.check_email(email)?;
                if self.email_is_taken(email, Some(&user.id)).await? {
                    return Err(field_unavailable(&escape_html(email), "Email"));
                }
                user.email = Some(Email {
                    address: email.to_owned(),
                    verified: false,
                });
                email_changed = true;
            }
        }
        let mut password_changed = false;
        if let (Some(password), Some(stored)) = (new_password, user.password_bcrypt.clone()) {
            let digest = comet_core::password::sha256_hex(&password);
            if crate::hashing::verify_digest(digest, stored).await? {
                return Err(Error::meteor(
                    "error-password-same-as-current",
                    "Entered password same as current password",
                )
                .with_details(json!({"method": "saveUserProfile"})));
            }
            self.check_password_policy(&password)?;
            user.password_bcrypt = Some(self.hash_password(&PasswordInput::Plain(password)).await?);
            password_changed = true;
        }
        if let Some(fields) = changes
            .custom_fields
            .filter(|f| f.as_object().is_some_and(|m| !m.is_empty()))
        {
            self.validate_custom_fields(&fields)?;
            user.custom_fields = Some(fields);
        }
        user.updated_at = now();
        match self.ctx.store.update_user(&user).await {
            Ok(_) => {}
            Err(StoreError::Conflict(Conflict::Username)) => return Err(could_not_save_identity()),
            Err(StoreError::Conflict(Conflict::Email)) => {
                return Err(field_unavailable(
                    &escape_html(user.email.as_ref().map_or("", |e| e.address.as_str())),
                    "Email",
                ));
            }
            Err(e) => return Err(store_error(e)),
        }
        if email_changed {
            self.mail_changed_email_verification(&user).await?;
        }
        if password_changed {
            // A new password ends the account's other sessions; this one stays.
            self.end_sessions(&user.id, Some(session.token.hashed_token.as_str()))
                .await?;
        }
        let (mut before, mut after) = changed_fields(&fields_before, &user_fields(&user));
        if password_changed {
            for side in [&mut before, &mut after] {
                if let Value::Object(fields) = side {
                    fields.insert("password".to_owned(), json!("changed"));
                }
            }
        }
        if before
            .as_object()
            .is_some_and(|changed| !changed.is_empty())
        {
            self.ctx
                .audit_by(
                    session,
                    "user.update.own",
                    AuditTarget::user(&user),
                    Some(before),
                    Some(after),
                )
                .await?;
        }
        tracing::info!(user = %user.id, "own profile updated");
        if user.status != session.user.status || user.status_text != session.user.status_text {
            self.ctx.publish(comet_events::Event::UserStatus {
                user_id: user.id.clone(),
                username: user.username.clone(),
                status: user.status,
                status_text: user.status_text.clone(),
            });
        }
        self.ctx
            .publish(comet_events::Event::UserChanged(Box::new(user.clone())));
        if user.name != original_name || user.username != original_username {
            // The profile is saved: a failure here leaves only stale room names behind.
            if let Err(e) = self.ctx.rooms().rename_in_direct_rooms(&user).await {
                tracing::warn!(error = %e, user = %user.id, "could not rename direct rooms");
            }
            self.ctx.publish(comet_events::Event::UserRenamed {
                user_id: user.id.clone(),
                username: user.username.clone(),
                name: user.name.clone(),
            });
        }
        Ok(self.visible(session, user))
    }
}

/// What becomes of one room when its member leaves for good (upstream's
/// `getSubscribedRoomsForUserWithDetails`).
#[derive(Debug, Clone)]
struct RoomFate {
    room_id: String,
    /// `fname`, else `name`: what the `user-last-owner` refusal lists.
    name: String,
    /// The member who becomes owner: the earliest-joined other active member.
    new_owner: Option<String>,
    /// No one is left to own it (or the user is its only member).
    remove: bool,
}

impl Accounts<'_> {
    /// For each room (not direct) the user is in: who takes ownership when they are its last
    /// owner, and whether the room goes because no one else could.
    async fn owned_room_fates(&self, user: &User) -> Result<Vec<RoomFate>> {
        let subscriptions = self
            .ctx
            .store
            .subscriptions_of_user(&user.id, None)
            .await
            .map_err(store_error)?;
        let mut fates = Vec::new();
        for subscription in subscriptions {
            if subscription.room_type == comet_core::room::RoomType::Direct {
                continue;
            }
            let (mut members, _) = self
                .ctx
                .store
                .subscriptions_of_room(&subscription.room_id, 0, None)
                .await
                .map_err(store_error)?;
            let name = subscription
                .fname
                .clone()
                .filter(|f| !f.is_empty())
                .unwrap_or_else(|| subscription.name.clone());
            let is_owner = subscription.roles.iter().any(|r| r == "owner");
            if !is_owner {
                // Upstream removes a room whose only member leaves, owner or not.
                if members.len() <= 1 {
                    fates.push(RoomFate {
                        room_id: subscription.room_id,
                        name,
                        new_owner: None,
                        remove: true,
                    });
                }
                continue;
            }
            let owners = members
                .iter()
                .filter(|m| m.roles.iter().any(|r| r == "owner"))
                .count();
            if owners != 1 {
                continue;
            }
            members.retain(|m| m.user.id != user.id);
            members.sort_by_key(|m| m.joined_at);
            let ids: Vec<String> = members.iter().map(|m| m.user.id.clone()).collect();
            let active: std::collections::HashSet<String> = self
                .ctx
                .store
                .users_by_ids(&ids)
                .await
                .map_err(store_error)?
                .into_iter()
                .filter(|u| u.active)
                .map(|u| u.id)
                .collect();
            let new_owner = ids.into_iter().find(|id| active.contains(id));
            fates.push(RoomFate {
                room_id: subscription.room_id,
                name,
                remove: new_owner.is_none(),
                new_owner,
            });
        }
        Ok(fates)
    }

    /// Upstream's last-owner rule: without `confirm_relinquish`, refuses with
    /// `[user-last-owner]` and the rooms concerned; with it, makes each new owner owner and
    /// removes the rooms no one is left in.
    async fn relinquish_rooms(
        &self,
        user: &User,
        fates: &[RoomFate],
        confirm_relinquish: bool,
    ) -> Result<()> {
        if fates.is_empty() {
            return Ok(());
        }
        if !confirm_relinquish {
            let removed: Vec<&str> = fates
                .iter()
                .filter(|f| f.remove)
                .map(|f| f.name.as_str())
                .collect();
            let changed: Vec<&str> = fates
                .iter()
                .filter(|f| !f.remove)
                .map(|f| f.name.as_str())
                .collect();
            return Err(Error::meteor("user-last-owner", "")
                .with_details(json!({"shouldBeRemoved": removed, "shouldChangeOwner": changed})));
        }
        for fate in fates {
            if fate.remove {
                self.ctx.rooms().erase_room(&fate.room_id).await?;
                tracing::info!(room = %fate.room_id, user = %user.id, "room removed with its last member");
                continue;
            }
            let Some(owner_id) = &fate.new_owner else {
                continue;
            };
            let Some(mut subscription) = self
                .ctx
                .store
                .subscription(&fate.room_id, owner_id)
                .await
                .map_err(store_error)?
            else {
                continue;
            };
            if !subscription.roles.iter().any(|r| r == "owner") {
                subscription.roles.push("owner".to_owned());
            }
            subscription.updated_at = now();
            self.ctx
                .store
                .update_subscription(&subscription)
                .await
                .map_err(store_error)?;
            self.ctx.publish(comet_events::Event::RoleChanged {
                added: true,
                role: "owner".to_owned(),
                user_id: owner_id.clone(),
                username: subscription.user.username.clone(),
                room_id: Some(fate.room_id.clone()),
            });
            self.ctx
                .rooms()
                .publish_subscription(comet_events::Change::Updated, subscription);
        }
        Ok(())
    }
}

impl Accounts<'_> {
    /// Upstream's `validateCustomFields`: the fields against the `Accounts_CustomFields`
    /// definitions (JSON, `{name: {required, type, options, minLength, maxLength}}`); an empty
    /// setting means there is nothing to check against.
    pub fn validate_custom_fields(&self, fields: &Value) -> Result<()> {
        let raw = self.ctx.setting_str("Accounts_CustomFields");
        if raw.trim().is_empty() {
            return Ok(());
        }
        let Ok(Value::Object(definitions)) = serde_json::from_str::<Value>(&raw) else {
            return Err(Error::meteor(
                "error-invalid-customfield-json",
                "Invalid JSON for Custom Fields",
            ));
        };
        let refuse = |reason: String| {
            Err(
                Error::meteor("error-user-registration-custom-field", reason)
                    .with_details(json!({"method": "registerUser"})),
            )
        };
        for (name, definition) in &definitions {
            let given = fields.get(name);
            // Upstream trims the value as a string; a missing one is empty.
            let text = match given {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.trim().to_owned(),
                Some(other) => other.to_string().trim().to_owned(),
            };
            let length = text.encode_utf16().count() as u64;
            if definition["required"].as_bool() == Some(true) && text.is_empty() {
                return refuse(format!("Field {name} is required"));
            }
            if definition["type"] == json!("select")
                && let Some(options) = definition["options"].as_array()
                && !options.iter().any(|o| Some(o) == given)
            {
                return refuse(format!("Value for field {name} is invalid"));
            }
            if let Some(max) = definition["maxLength"].as_u64().filter(|m| *m > 0)
                && length > max
            {
                return refuse(format!("Max length of field {name} {max}"));
            }
            if let Some(min) = definition["minLength"].as_u64().filter(|m| *m > 0)
                && length > 0
                && length < min
            {
                return refuse(format!("Min length of field {name} {min}"));
            }
        }
        Ok(())
    }
}

impl Accounts<'_> {
    /// `users.removeOtherTokens` / `users.logoutOtherClients`: removes the caller's login
    /// tokens but this session's (personal access tokens stay), and closes the live
    /// connections that used them. Answers when this session's token expires.
    pub async fn remove_other_tokens(&self, session: &Session) -> Result<comet_core::Timestamp> {
        self.end_sessions(&session.user.id, Some(&session.token.hashed_token))
            .await?;
        Ok(session.token.created_at + self.login_expiration())
    }

    /// `users.logout`: ends every login of the caller or, with `logout-other-user`, of another
    /// user.
    pub async fn logout_user(&self, session: &Session, user_id: Option<&str>) -> Result<String> {
        let user_id = user_id
            .filter(|id| !id.is_empty())
            .unwrap_or(&session.user.id)
            .to_owned();
        if user_id != session.user.id
            && !self.ctx.has_permission(&session.user, "logout-other-user")
        {
            return Err(Error::forbidden());
        }
        let exists = self
            .ctx
            .store
            .user_by_id(&user_id)
            .await
            .map_err(store_error)?
            .is_some();
        if !exists {
            return Err(Error::meteor("error-invalid-user-id", "Invalid user id"));
        }
        self.end_sessions(&user_id, None).await?;
        Ok(user_id)
    }

    /// Removes a user's login tokens — all, or all but the one hashed `keep` (personal access
    /// tokens stay) — and closes the live connections that logged in with them, on every
    /// instance, as Meteor closes connections whose token is removed.
    pub(crate) async fn end_sessions(&self, user_id: &str, keep: Option<&str>) -> Result<()> {
        self.ctx
            .store
            .delete_login_tokens(user_id, keep)
            .await
            .map_err(store_error)?;
        self.ctx.publish(match keep {
            Some(kept) => comet_events::Event::OtherSessionsEnded {
                user_id: user_id.to_owned(),
                kept_token: kept.to_owned(),
            },
            None => comet_events::Event::SessionsEnded {
                user_id: user_id.to_owned(),
            },
        });
        Ok(())
    }

    /// `users.checkUsernameAvailability` (upstream's `checkUsernameAvailabilityWithValidation`).
    pub async fn check_username_availability(
        &self,
        session: &Session,
        username: &str,
    ) -> Result<bool> {
        if username.is_empty() {
            return Err(Error::meteor("error-invalid-username", "Invalid username")
                .with_details(json!({"method": "setUsername"})));
        }
        if !self.ctx.setting_bool("Accounts_AllowUsernameChange") {
            return Err(Error::meteor("error-not-allowed", "Not allowed")
                .with_details(json!({"method": "setUsername"})));
        }
        if session.user.username == username {
            return Ok(true);
        }
        if self.username_is_blocked(username) || !self.username_is_valid(username) {
            return Err(Error::meteor(
                "error-blocked-username",
                format!("{} is blocked and can't be used!", escape_html(username)),
            )
            .with_details(json!({"method": "checkUsernameAvailability", "field": username})));
        }
        Ok(!self.username_is_taken(username, None).await?)
    }

    /// `users.getUsernameSuggestion`: a free username from the caller's name or email, as
    /// upstream's `generateUsernameSuggestion` tries them, numbered when all are taken.
    pub async fn username_suggestion(&self, session: &Session) -> Result<String> {
        let user = &session.user;
        self.suggest_username(&user.name, user.email.as_ref().map(|e| e.address.as_str()))
            .await
    }

    /// A free username from a name or an email address (see [`Accounts::username_suggestion`]).
    pub async fn suggest_username(&self, name: &str, email: Option<&str>) -> Result<String> {
        let slug = |text: &str| -> String {
            let mut out = String::new();
            for c in text.trim().chars() {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    out.extend(c.to_lowercase());
                } else if !out.ends_with('.') && !out.is_empty() {
                    out.push('.');
                }
            }
            out.trim_end_matches('.').to_owned()
        };
        let mut candidates = vec![slug(name)];
        if let Some(address) = email {
            let local = address.split('@').next().unwrap_or_default();
            candidates.push(slug(local));
        }
        candidates.retain(|c| !c.is_empty());
        for candidate in &candidates {
            if self.suggestion_is_free(candidate).await? {
                return Ok(candidate.clone());
            }
        }
        let base = candidates
            .first()
            .cloned()
            .unwrap_or_else(|| "user".to_owned());
        for n in 1..=1000u32 {
            let numbered = format!("{base}-{n}");
            if self.suggestion_is_free(&numbered).await? {
                return Ok(numbered);
            }
        }
        Ok(format!("{base}-{}", id::new_id()))
    }

    async fn suggestion_is_free(&self, username: &str) -> Result<bool> {
        Ok(self.username_is_valid(username)
            && !self.username_is_blocked(username)
            && !self.username_is_taken(username, None).await?)
    }

    /// `users.deleteOwnAccount`: the caller deletes their account, as
    /// `Accounts_AllowDeleteOwnAccount` allows, proving it with their password (the SHA-256
    /// hex digest, as upstream's client sends it).
    pub async fn delete_own_account(
        &self,
        session: &Session,
        password: &str,
        confirm_relinquish: bool,
    ) -> Result<()> {
        if !self.ctx.setting_bool("Accounts_AllowDeleteOwnAccount") {
            return Err(Error::meteor("error-not-allowed", "Not allowed"));
        }
        let user = session.user.clone();
        match &user.password_bcrypt {
            Some(stored) if !stored.trim().is_empty() => {
                let digest = password.to_lowercase();
                if !crate::hashing::verify_digest(digest, stored.clone()).await? {
                    return Err(Error::meteor("error-invalid-password", "Invalid password")
                        .with_details(json!({"method": "deleteUserOwnAccount"})));
                }
            }
            _ => {
                if user.username != password {
                    return Err(Error::meteor("error-invalid-username", "Invalid username")
                        .with_details(json!({"method": "deleteUserOwnAccount"})));
                }
            }
        }
        let (audit_target, fields) = (AuditTarget::user(&user), user_fields(&user));
        self.remove_account(session, user, confirm_relinquish)
            .await?;
        self.ctx
            .audit_by(session, "user.delete.own", audit_target, Some(fields), None)
            .await
    }
}
