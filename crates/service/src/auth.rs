//! Logging in, authenticating requests, logging out, and the second factor.

use crate::Accounts;
use crate::hashing::verify_digest;
use crate::{ClientInfo, store_error};
use comet_core::password::{hash_login_token, is_sha256_hex, sha256_hex};
use comet_core::user::{LoginToken, TokenKind, User, UserType};
use comet_core::{Error, Result, Timestamp, id, now};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// How a login names its account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSelector {
    Username(String),
    Email(String),
    Id(String),
}

/// A password as a client sends it.
#[derive(Clone, PartialEq, Eq)]
pub enum PasswordInput {
    Plain(String),
    /// The SHA-256 hex digest of the password (`{digest, algorithm: "sha-256"}`).
    Sha256Digest(String),
}

impl std::fmt::Debug for PasswordInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PasswordInput(<redacted>)")
    }
}

impl PasswordInput {
    fn digest(&self) -> String {
        match self {
            PasswordInput::Plain(plain) => sha256_hex(plain),
            PasswordInput::Sha256Digest(digest) => digest.to_lowercase(),
        }
    }
}

/// A login attempt in any of the forms Rocket.Chat accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginRequest {
    Password {
        user: UserSelector,
        password: PasswordInput,
        /// The second factor's code (`{totp: {login, code}}`, REST's `code`).
        code: Option<String>,
    },
    Resume {
        token: String,
    },
}

/// A successful login: the user and a fresh (or resumed) token.
#[derive(Debug, Clone)]
pub struct LoginResult {
    pub user: User,
    /// The plain token: shown to the client once, stored only as a hash.
    pub token: String,
    pub token_expires: Timestamp,
    /// `"password"` or `"resume"`, as Meteor reports the login type.
    pub login_type: &'static str,
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: User,
    pub token: LoginToken,
}

impl Session {
    pub fn user_id(&self) -> &str {
        &self.user.id
    }
}

/// Most login tokens one account keeps; older sessions end first (upstream keeps 50 too).
const MAX_LOGIN_TOKENS_PER_USER: u32 = 50;

const LOGIN_BLOCKED_FOR_USER: &str = "Login has been temporarily blocked For User";
const LOGIN_BLOCKED_FOR_IP: &str = "Login has been temporarily blocked For IP";

fn user_key(user: &UserSelector) -> String {
    match user {
        UserSelector::Username(name) => format!("user:{}", name.to_lowercase()),
        UserSelector::Email(email) => format!("email:{}", email.to_lowercase()),
        UserSelector::Id(id) => format!("id:{id}"),
    }
}

impl Accounts<'_> {
    pub(crate) fn login_expiration(&self) -> chrono::Duration {
        let days = self.ctx.setting_int("Accounts_LoginExpiration");
        chrono::Duration::days(if days > 0 { days } else { 90 })
    }

    /// Whether a login token is still valid at `at`.
    fn token_is_current(&self, token: &LoginToken, at: Timestamp) -> bool {
        match token.kind {
            TokenKind::PersonalAccess { .. } => true,
            TokenKind::Login => token.created_at + self.login_expiration() > at,
        }
    }

    /// Authenticates `X-User-Id` + `X-Auth-Token` (or any user id + token pair).
    pub async fn authenticate(&self, user_id: &str, token: &str) -> Result<Session> {
        if user_id.is_empty() || token.is_empty() {
            return Err(Error::not_logged_in());
        }
        self.session_by_hash(user_id, &hash_login_token(token))
            .await
    }

    /// The session as it is now: its user read again (roles, names, active) and its token
    /// still valid. A long-lived connection calls this before each action, so that role,
    /// permission and account changes made on any instance apply to it at once. An error of
    /// kind `NotLoggedIn` means the session has ended (token removed or expired, user
    /// deactivated or deleted).
    ///
    /// Read from the store every time, not from the session cache: a change made on another
    /// instance reaches that cache only when its event arrives, and a connection's next
    /// action must not run ahead of it.
    pub async fn current_session(&self, session: &Session) -> Result<Session> {
        let found = self
            .ctx
            .store
            .user_by_token(&session.token.hashed_token)
            .await
            .map_err(store_error)?;
        let Some((user, token)) = found else {
            return Err(Error::not_logged_in());
        };
        if user.id != session.user.id || !user.active || !self.token_is_current(&token, now()) {
            return Err(Error::not_logged_in());
        }
        Ok(Session { user, token })
    }

    /// The session of a hashed token, from the session cache when it holds it (every change
    /// that could end or alter the session drops it there first, see `session_cache`), else
    /// from the store.
    async fn session_by_hash(&self, user_id: &str, hashed: &str) -> Result<Session> {
        let cache = &self.ctx.session_cache;
        // Without the bus, revocations made on other instances would not reach the cache.
        let use_cache = self.ctx.events.connected();
        if !use_cache {
            cache.invalidate(crate::session_cache::Stale::Everyone);
        }
        let cached = if use_cache { cache.get(hashed) } else { None };
        if let Some(session) = cached {
            // Expiry depends on the time and the settings, so it is checked on every use.
            if session.user.id == user_id && self.token_is_current(&session.token, now()) {
                return Ok(session);
            }
            return Err(Error::not_logged_in());
        }
        let generation = cache.generation();
        let Some((user, token)) = self
            .ctx
            .store
            .user_by_token(hashed)
            .await
            .map_err(store_error)?
        else {
            return Err(Error::not_logged_in());
        };
        if user.id != user_id || !user.active || !self.token_is_current(&token, now()) {
            return Err(Error::not_logged_in());
        }
        let session = Session { user, token };
        if use_cache {
            cache.insert(generation, &session);
        }
        Ok(session)
    }

    /// What `me` shows beyond the user record: second factors enabled and the avatar's etag,
    /// from the session cache when it holds them.
    pub async fn account_facts(&self, user_id: &str) -> Result<crate::session_cache::AccountFacts> {
        let cache = &self.ctx.session_cache;
        let use_cache = self.ctx.events.connected();
        if use_cache && let Some(facts) = cache.facts(user_id) {
            return Ok(facts);
        }
        let generation = cache.generation();
        let facts = crate::session_cache::AccountFacts {
            totp_enabled: self.totp_enabled(user_id).await?,
            email_two_factor_enabled: self.email_two_factor_enabled(user_id).await?,
            avatar_etag: self
                .ctx
                .files()
                .avatar_of(comet_store::AvatarOwner::User, user_id)
                .await?
                .map(|avatar| avatar.etag),
        };
        if use_cache {
            cache.insert_facts(generation, user_id, facts.clone());
        }
        Ok(facts)
    }

    /// Logs in with a password or resumes with a token; applies failed-login blocking.
    pub async fn login(&self, request: LoginRequest, client: &ClientInfo) -> Result<LoginResult> {
        match request {
            LoginRequest::Resume { token } => self.resume(&token).await,
            LoginRequest::Password {
                user,
                password,
                code,
            } => {
                self.password_login(user, password, code.as_deref(), client)
                    .await
            }
        }
    }

    async fn resume(&self, token: &str) -> Result<LoginResult> {
        let hashed = hash_login_token(token);
        let found = self
            .ctx
            .store
            .user_by_token(&hashed)
            .await
            .map_err(store_error)?;
        let Some((user, stored)) = found else {
            return Err(Error::login_failed(
                "403",
                "You've been logged out by the server. Please log in again.",
            ));
        };
        if !self.token_is_current(&stored, now()) {
            return Err(Error::login_failed(
                "403",
                "Your session has expired. Please log in again.",
            ));
        }
        if !user.active {
            return Err(Error::login_failed(
                "error-user-is-not-activated",
                "User is not activated",
            ));
        }
        let token_expires = stored.created_at + self.login_expiration();
        Ok(LoginResult {
            user,
            token: token.to_owned(),
            token_expires,
            login_type: "resume",
        })
    }

    fn ip_is_whitelisted(&self, client: &ClientInfo) -> bool {
        let Some(ip) = client.ip else { return false };
        let ip = ip.to_string();
        self.ctx
            .setting_str("Block_Multiple_Failed_Logins_Ip_Whitelist")
            .split(',')
            .map(str::trim)
            .any(|entry| entry == ip)
    }

    /// The failed-login keys for this attempt with their limits: `(key, attempts, window, error)`.
    fn blocking_rules(
        &self,
        user: &UserSelector,
        client: &ClientInfo,
    ) -> Vec<(String, i64, chrono::Duration, &'static str, &'static str)> {
        let mut rules = Vec::new();
        if !self
            .ctx
            .setting_bool("Block_Multiple_Failed_Logins_Enabled")
        {
            return rules;
        }
        if self
            .ctx
            .setting_bool("Block_Multiple_Failed_Logins_By_User")
        {
            rules.push((
                user_key(user),
                self.ctx
                    .setting_int("Block_Multiple_Failed_Logins_Attempts_Until_Block_by_User"),
                self.ctx.setting_minutes(
                    "Block_Multiple_Failed_Logins_Time_To_Unblock_By_User_In_Minutes",
                ),
                "error-login-blocked-for-user",
                LOGIN_BLOCKED_FOR_USER,
            ));
        }
        if self.ctx.setting_bool("Block_Multiple_Failed_Logins_By_Ip")
            && !self.ip_is_whitelisted(client)
            && let Some(ip) = client.ip
        {
            rules.push((
                format!("ip:{ip}"),
                self.ctx
                    .setting_int("Block_Multiple_Failed_Logins_Attempts_Until_Block_By_Ip"),
                self.ctx.setting_minutes(
                    "Block_Multiple_Failed_Logins_Time_To_Unblock_By_Ip_In_Minutes",
                ),
                "error-login-blocked-for-ip",
                LOGIN_BLOCKED_FOR_IP,
            ));
        }
        rules
    }

    async fn password_login(
        &self,
        selector: UserSelector,
        password: PasswordInput,
        code: Option<&str>,
        client: &ClientInfo,
    ) -> Result<LoginResult> {
        let rules = self.blocking_rules(&selector, client);
        let at = now();
        for (key, attempts, window, code, reason) in &rules {
            if *attempts > 0 {
                let failures = self
                    .ctx
                    .store
                    .count_failed_logins(key, at - *window)
                    .await
                    .map_err(store_error)?;
                if failures >= u64::try_from(*attempts).unwrap_or(u64::MAX) {
                    tracing::warn!(key = %key, "login blocked after repeated failures");
                    return Err(Error::login_failed(code, reason));
                }
            }
        }

        let checked = match self.check_password_login(&selector, &password).await {
            Ok(user) => self.login_second_factor(user, code).await,
            Err(error) => Err(error),
        };
        match checked {
            Ok(user) => {
                if let Some((key, ..)) = rules.first() {
                    self.ctx
                        .store
                        .clear_failed_logins(key)
                        .await
                        .map_err(store_error)?;
                }
                let login = self.issue_login(user).await?;
                if login.user.has_role("admin") {
                    self.ctx
                        .audit()
                        .record(
                            &login.user,
                            "user.login",
                            crate::audit::AuditTarget::user(&login.user),
                            None,
                            Some(serde_json::json!({"loginType": login.login_type})),
                        )
                        .await?;
                }
                Ok(login)
            }
            Err(error) => {
                // A wrong second factor counts as a failed login too, so that codes cannot be
                // guessed faster than passwords.
                if error.kind == comet_core::ErrorKind::LoginFailed
                    || error.code.as_deref() == Some("totp-invalid")
                {
                    for (key, ..) in &rules {
                        self.ctx
                            .store
                            .record_failed_login(key, at)
                            .await
                            .map_err(store_error)?;
                    }
                }
                Err(error)
            }
        }
    }

    /// The second factor of a password login (upstream's `onValidateLogin` check, without
    /// the password fallback): asked only of users who enabled one.
    async fn login_second_factor(&self, user: User, code: Option<&str>) -> Result<User> {
        if self
            .ctx
            .setting_bool("Accounts_TwoFactorAuthentication_Enabled")
        {
            self.second_factor(&user, code, None, SecondFactorMode::Login)
                .await?;
        }
        Ok(user)
    }

    async fn check_password_login(
        &self,
        selector: &UserSelector,
        password: &PasswordInput,
    ) -> Result<User> {
        let user = match selector {
            UserSelector::Username(name) => self.ctx.store.user_by_username(name).await,
            UserSelector::Email(email) => self.ctx.store.user_by_email(email).await,
            UserSelector::Id(id) => self.ctx.store.user_by_id(id).await,
        }
        .map_err(store_error)?;
        let Some(user) = user else {
            return Err(Error::login_failed("403", "User not found"));
        };
        let Some(stored) = user.password_bcrypt.clone() else {
            return Err(Error::login_failed("403", "User has no password set"));
        };
        if !verify_digest(password.digest(), stored).await? {
            return Err(Error::login_failed("403", "Incorrect password"));
        }
        if !user.active {
            return Err(Error::login_failed(
                "error-user-is-not-activated",
                "User is not activated",
            ));
        }
        if user.user_type == UserType::App {
            return Err(Error::login_failed(
                "error-app-user-is-not-allowed-to-login",
                "App user is not allowed to login",
            ));
        }
        if self.ctx.setting_bool("Accounts_EmailVerification")
            && !user.has_role("admin")
            && !user.email.as_ref().is_some_and(|e| e.verified)
        {
            return Err(Error::login_failed("error-invalid-email", "Invalid email"));
        }
        Ok(user)
    }

    /// Stores a new login token for `user` and records the login.
    pub(crate) async fn issue_login(&self, mut user: User) -> Result<LoginResult> {
        let token = id::new_secret();
        let created_at = now();
        self.ctx
            .store
            .insert_token(&LoginToken {
                user_id: user.id.clone(),
                hashed_token: hash_login_token(&token),
                created_at,
                kind: TokenKind::Login,
                two_factor_until: None,
                two_factor_client: None,
            })
            .await
            .map_err(store_error)?;
        self.ctx
            .store
            .prune_login_tokens(&user.id, MAX_LOGIN_TOKENS_PER_USER)
            .await
            .map_err(store_error)?;
        user.last_login = Some(created_at);
        user.updated_at = created_at;
        self.ctx
            .store
            .update_user(&user)
            .await
            .map_err(store_error)?;
        self.ctx.publish(comet_events::Event::SessionsStale {
            user_id: Some(user.id.clone()),
        });
        Ok(LoginResult {
            user,
            token,
            token_expires: created_at + self.login_expiration(),
            login_type: "password",
        })
    }

    /// `logout`: removes only the token of this session.
    pub async fn logout(&self, session: &Session) -> Result<()> {
        self.ctx
            .store
            .delete_token(&session.user.id, &session.token.hashed_token)
            .await
            .map_err(store_error)?;
        self.ctx.publish(comet_events::Event::SessionEnded {
            user_id: session.user.id.clone(),
            token: session.token.hashed_token.clone(),
        });
        Ok(())
    }

    /// Checks the second factor for routes upstream marks `twoFactorRequired` (upstream's
    /// `checkCodeForUser`): `code` and `method` come from `X-2fa-Code` and `X-2fa-Method`.
    ///
    /// The method is TOTP when the user has enabled it (or names it), else the password
    /// fallback (the code is the SHA-256 hex of the password) when
    /// `Accounts_TwoFactorAuthentication_Enforce_Password_Fallback` is on. A second factor
    /// given once is remembered on the token for `Accounts_TwoFactorAuthentication_RememberFor`
    /// seconds for the same client, accounts younger than that window are not asked, and
    /// personal access tokens made with `bypassTwoFactor` never are, as upstream.
    pub async fn check_two_factor(
        &self,
        session: &Session,
        code: Option<&str>,
        method: Option<&str>,
        client: &ClientInfo,
    ) -> Result<()> {
        if !self
            .ctx
            .setting_bool("Accounts_TwoFactorAuthentication_Enabled")
        {
            return Ok(());
        }
        if let TokenKind::PersonalAccess {
            bypass_two_factor: true,
            ..
        } = session.token.kind
        {
            return Ok(());
        }
        let at = now();
        let remember = self.remember_for();
        if session.user.created_at + remember > at {
            return Ok(());
        }
        let fingerprint = client_fingerprint(client);
        if session
            .token
            .two_factor_until
            .is_some_and(|until| until > at)
            && session.token.two_factor_client.as_deref() == Some(fingerprint.as_str())
        {
            return Ok(());
        }
        let checked = self
            .second_factor(&session.user, code, method, SecondFactorMode::Sensitive)
            .await?;
        if checked {
            self.remember_second_factor(session, client).await?;
        }
        Ok(())
    }

    fn remember_for(&self) -> chrono::Duration {
        chrono::Duration::seconds(
            self.ctx
                .setting_int("Accounts_TwoFactorAuthentication_RememberFor")
                .max(0),
        )
    }

    async fn remember_second_factor(&self, session: &Session, client: &ClientInfo) -> Result<()> {
        let remember = self.remember_for();
        if remember > chrono::Duration::zero() {
            self.ctx
                .store
                .remember_two_factor(
                    &session.token.hashed_token,
                    now() + remember,
                    &client_fingerprint(client),
                )
                .await
                .map_err(store_error)?;
            self.ctx.publish(comet_events::Event::SessionsStale {
                user_id: Some(session.user.id.clone()),
            });
        }
        Ok(())
    }

    /// Selects the user's second factor as `mode` says and checks `code` with it: `Ok(true)`
    /// when a factor was checked and passed, `Ok(false)` when none applies, and upstream's
    /// `totp-required` / `totp-invalid` errors (with `{method, codeGenerated,
    /// availableMethods}`) otherwise.
    pub(crate) async fn second_factor(
        &self,
        user: &User,
        code: Option<&str>,
        method: Option<&str>,
        mode: SecondFactorMode,
    ) -> Result<bool> {
        let totp = self.active_totp(&user.id).await?;
        let email = self.email_two_factor_active(user).await?;
        let mut available: Vec<&str> = Vec::new();
        if totp.is_some() {
            available.push("totp");
        }
        if email {
            available.push("email");
        }
        // Upstream's `getMethodByNameOrFirstActiveForUser`: a named method it knows (TOTP,
        // email), else the first the user has, else the password fallback.
        let factor = match method {
            Some("totp") => "totp",
            Some("email") => "email",
            _ if totp.is_some() => "totp",
            _ if email => "email",
            _ => {
                let fallback = match mode {
                    SecondFactorMode::Login => false,
                    SecondFactorMode::Required => true,
                    SecondFactorMode::Sensitive => {
                        user.password_bcrypt.is_some()
                            && self.ctx.setting_bool(
                                "Accounts_TwoFactorAuthentication_Enforce_Password_Fallback",
                            )
                    }
                };
                if !fallback {
                    return Ok(false);
                }
                "password"
            }
        };
        let mut details = serde_json::Map::new();
        details.insert("method".into(), serde_json::json!(factor));
        if factor == "email" {
            // As upstream, before the code is looked at: a request without a good code
            // waiting mails one.
            details.extend(self.email_code_details(user).await?);
        } else {
            details.insert("codeGenerated".into(), serde_json::json!(false));
        }
        details.insert("availableMethods".into(), serde_json::json!(available));
        let details = Value::Object(details);
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Err(Error::meteor("totp-required", "TOTP Required").with_details(details));
        };
        let valid = match (factor, &totp) {
            ("totp", Some(state)) => self.verify_totp(state, code).await?,
            ("totp", None) => false,
            ("email", _) => self.verify_email_code(user, code).await?,
            // An account without a password can never pass the password check.
            _ => match user.password_bcrypt.clone() {
                Some(stored) if is_sha256_hex(code) => {
                    verify_digest(code.to_lowercase(), stored).await?
                }
                _ => false,
            },
        };
        if !valid {
            return Err(Error::meteor("totp-invalid", "TOTP Invalid").with_details(details));
        }
        Ok(true)
    }
}

/// Which second factor a check may fall back to, as upstream's `ITwoFactorOptions` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SecondFactorMode {
    /// A login (`disablePasswordFallback`): only a factor the user enabled.
    Login,
    /// A `twoFactorRequired` route: the password when the user has no other factor and
    /// `Accounts_TwoFactorAuthentication_Enforce_Password_Fallback` is on.
    Sensitive,
    /// `requireSecondFactor`: the password when the user has no other factor, whatever the
    /// fallback setting.
    Required,
}

impl Accounts<'_> {
    /// The second factor of operations upstream wraps with `requireSecondFactor`
    /// (`saveUserProfile` changing the email or the password): unlike `check_two_factor`,
    /// nothing earlier on the token or the account's age dispenses with it, and the password
    /// is asked even when `Accounts_TwoFactorAuthentication_Enforce_Password_Fallback` is off.
    /// Only `Accounts_TwoFactorAuthentication_Enabled` turns it off, as upstream.
    pub async fn require_second_factor(
        &self,
        session: &Session,
        code: Option<&str>,
        method: Option<&str>,
        client: &ClientInfo,
    ) -> Result<()> {
        if !self
            .ctx
            .setting_bool("Accounts_TwoFactorAuthentication_Enabled")
        {
            return Ok(());
        }
        self.second_factor(&session.user, code, method, SecondFactorMode::Required)
            .await?;
        self.remember_second_factor(session, client).await
    }
}

/// A stable digest of the client's address and user agent.
fn client_fingerprint(client: &ClientInfo) -> String {
    let mut hasher = Sha256::new();
    hasher.update(client.ip.map(|ip| ip.to_string()).unwrap_or_default());
    hasher.update([0]);
    hasher.update(client.user_agent.as_deref().unwrap_or_default());
    hex::encode(hasher.finalize())
}

/// Parses a password as Meteor clients send it: a plain string, or `{digest, algorithm:
/// "sha-256"}`.
pub fn parse_meteor_password(value: &Value) -> Result<PasswordInput> {
    let bad = || Error::meteor("400", "Match failed");
    match value {
        Value::String(plain) => Ok(PasswordInput::Plain(plain.clone())),
        Value::Object(o) => {
            let algorithm = o.get("algorithm").and_then(Value::as_str);
            match (o.get("digest"), algorithm) {
                (Some(Value::String(digest)), Some("sha-256")) => {
                    Ok(PasswordInput::Sha256Digest(digest.clone()))
                }
                _ => Err(bad()),
            }
        }
        _ => Err(bad()),
    }
}

/// Parses Meteor's `login` argument: `{user, password}` (plain string or `{digest,
/// algorithm}`) or `{resume}`.
pub fn parse_meteor_login(arg: &Value) -> Result<LoginRequest> {
    let bad = || Error::meteor("400", "Match failed");
    if let Some(totp) = arg.get("totp") {
        let code = totp
            .get("code")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .ok_or_else(bad)?;
        let login = totp
            .get("login")
            .filter(|l| l.get("totp").is_none())
            .ok_or_else(bad)?;
        return match parse_meteor_login(login)? {
            LoginRequest::Password { user, password, .. } => Ok(LoginRequest::Password {
                user,
                password,
                code: Some(code.to_owned()),
            }),
            resume @ LoginRequest::Resume { .. } => Ok(resume),
        };
    }
    if let Some(token) = arg.get("resume") {
        let token = token.as_str().ok_or_else(bad)?;
        return Ok(LoginRequest::Resume {
            token: token.to_owned(),
        });
    }
    let user = arg.get("user").ok_or_else(bad)?;
    let selector = if let Some(name) = user.as_str() {
        if name.contains('@') {
            UserSelector::Email(name.to_owned())
        } else {
            UserSelector::Username(name.to_owned())
        }
    } else if let Some(name) = user.get("username").and_then(Value::as_str) {
        UserSelector::Username(name.to_owned())
    } else if let Some(email) = user.get("email").and_then(Value::as_str) {
        UserSelector::Email(email.to_owned())
    } else if let Some(id) = user.get("id").and_then(Value::as_str) {
        UserSelector::Id(id.to_owned())
    } else {
        return Err(bad());
    };
    let password = parse_meteor_password(arg.get("password").ok_or_else(bad)?)?;
    Ok(LoginRequest::Password {
        user: selector,
        password,
        code: None,
    })
}
