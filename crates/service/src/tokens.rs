//! Tokens made on request: `users.createToken` and personal access tokens.

use crate::Accounts;
use crate::authz::Required;
use crate::{Session, store_error};
use comet_core::password::hash_login_token;
use comet_core::user::{LoginToken, TokenKind, User};
use comet_core::{Error, Result, id, now};
use comet_store::{Conflict, StoreError};

/// A personal access token as listed (never the token itself).
#[derive(Debug, Clone)]
pub struct PersonalAccessToken {
    pub name: String,
    pub created_at: comet_core::Timestamp,
    pub last_token_part: String,
    pub bypass_two_factor: bool,
}

/// Compares two secrets in time independent of where they differ.
fn secrets_match(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn not_authorized() -> Error {
    Error::meteor("error-not-authorized", "Not authorized")
        .with_details(serde_json::json!({"method": "createToken"}))
}

fn pat_not_authorized(method: &str) -> Error {
    Error::meteor("not-authorized", "Not Authorized")
        .with_details(serde_json::json!({"method": method}))
}

impl Accounts<'_> {
    /// `users.createToken`: a login token for `target`, only when the operator enabled it
    /// (`CREATE_TOKENS_FOR_USERS`, and the `CREATE_TOKENS_FOR_USERS_SECRET` if one is set).
    pub async fn create_token_for(
        &self,
        session: &Session,
        target: &User,
        secret: Option<&str>,
    ) -> Result<(String, String)> {
        let config = &self.ctx.config;
        let enabled = match &config.create_tokens_secret {
            Some(expected) => secret.is_some_and(|given| secrets_match(given, expected)),
            None => config.create_tokens_for_users,
        };
        if !enabled {
            return Err(not_authorized());
        }
        if target.id != session.user.id
            && !self
                .ctx
                .has_permission(&session.user, "user-generate-access-token")
        {
            return Err(not_authorized());
        }
        let login = self.issue_login(target.clone()).await?;
        tracing::info!(by = %session.user.id, user = %target.id, "login token created on request");
        self.ctx
            .audit_by(
                session,
                "token.login.create",
                crate::audit::AuditTarget::user(target),
                None,
                None,
            )
            .await?;
        Ok((target.id.clone(), login.token))
    }

    fn require_pat_permission(&self, session: &Session, method: &str) -> Result<()> {
        if self
            .ctx
            .has_permission(&session.user, "create-personal-access-tokens")
        {
            Ok(())
        } else {
            Err(pat_not_authorized(method))
        }
    }

    async fn store_pat(
        &self,
        user_id: &str,
        name: &str,
        bypass_two_factor: bool,
    ) -> Result<String> {
        let (token, stored) = new_pat(user_id, name, bypass_two_factor);
        match self.ctx.store.insert_token(&stored).await {
            Ok(()) => Ok(token),
            Err(StoreError::Conflict(Conflict::TokenName)) => Err(Error::meteor(
                "error-token-already-exists",
                "A token with this name already exists",
            )),
            Err(e) => Err(store_error(e)),
        }
    }
}

/// A new personal access token: the plain secret and its stored form.
fn new_pat(user_id: &str, name: &str, bypass_two_factor: bool) -> (String, LoginToken) {
    let token = id::new_secret();
    let last_token_part = token[token.len() - 6..].to_owned();
    let stored = LoginToken {
        user_id: user_id.to_owned(),
        hashed_token: hash_login_token(&token),
        created_at: now(),
        kind: TokenKind::PersonalAccess {
            name: name.to_owned(),
            last_token_part,
            bypass_two_factor,
        },
        two_factor_until: None,
        two_factor_client: None,
    };
    (token, stored)
}

impl Accounts<'_> {
    /// `users.generatePersonalAccessToken`.
    pub async fn generate_personal_access_token(
        &self,
        session: &Session,
        name: &str,
        bypass_two_factor: bool,
    ) -> Result<String> {
        self.require_pat_permission(session, "personalAccessTokens:generateToken")?;
        let token = self
            .store_pat(&session.user.id, name, bypass_two_factor)
            .await?;
        self.audit_pat(session, "token.create", name, Some(bypass_two_factor))
            .await?;
        Ok(token)
    }

    async fn audit_pat(
        &self,
        session: &Session,
        action: &str,
        name: &str,
        bypass_two_factor: Option<bool>,
    ) -> Result<()> {
        self.ctx
            .audit_by(
                session,
                action,
                crate::audit::AuditTarget::new(
                    "personal_access_token",
                    format!("{}:{name}", session.user.id),
                    Some(name.to_owned()),
                ),
                None,
                bypass_two_factor.map(|bypass| serde_json::json!({"bypassTwoFactor": bypass})),
            )
            .await
    }

    /// `users.regeneratePersonalAccessToken`: a new secret under the same name and options.
    pub async fn regenerate_personal_access_token(
        &self,
        session: &Session,
        name: &str,
    ) -> Result<String> {
        self.require_pat_permission(session, "personalAccessTokens:regenerateToken")?;
        let existing = self.find_pat(&session.user.id, name).await?;
        let old_hash = self.pat_hash(&session.user.id, name).await?;
        let (token, stored) = new_pat(&session.user.id, name, existing.bypass_two_factor);
        let replaced = self
            .ctx
            .store
            .replace_personal_access_token(&stored)
            .await
            .map_err(store_error)?;
        if replaced {
            self.end_connections_of(&session.user.id, old_hash);
            self.audit_pat(session, "token.regenerate", name, None)
                .await?;
            Ok(token)
        } else {
            Err(token_does_not_exist())
        }
    }

    /// `users.removePersonalAccessToken`.
    pub async fn remove_personal_access_token(&self, session: &Session, name: &str) -> Result<()> {
        self.require_pat_permission(session, "personalAccessTokens:removeToken")?;
        let hash = self.pat_hash(&session.user.id, name).await?;
        let removed = self
            .ctx
            .store
            .delete_personal_access_token(&session.user.id, name)
            .await
            .map_err(store_error)?;
        if removed {
            self.end_connections_of(&session.user.id, hash);
            self.audit_pat(session, "token.remove", name, None).await
        } else {
            Err(token_does_not_exist())
        }
    }

    /// The caller's own tokens (hashes only), which upstream's `users.info` shows its owner
    /// under `services.resume`.
    pub async fn own_tokens(&self, session: &Session) -> Result<Vec<comet_core::user::LoginToken>> {
        self.ctx
            .store
            .login_tokens(&session.user.id)
            .await
            .map_err(store_error)
    }

    /// Who may list their personal access tokens.
    pub const LIST_ACCESS_TOKENS: Required = Required::All(&["create-personal-access-tokens"]);

    /// `users.getPersonalAccessTokens`.
    pub async fn personal_access_tokens(
        &self,
        session: &Session,
    ) -> Result<Vec<PersonalAccessToken>> {
        self.ctx
            .authorize(&session.user, Self::LIST_ACCESS_TOKENS)?;
        let tokens = self
            .ctx
            .store
            .personal_access_tokens(&session.user.id)
            .await
            .map_err(store_error)?;
        Ok(tokens.into_iter().filter_map(as_pat).collect())
    }

    /// The stored hash of a user's personal access token, by name.
    async fn pat_hash(&self, user_id: &str, name: &str) -> Result<Option<String>> {
        Ok(self
            .ctx
            .store
            .personal_access_tokens(user_id)
            .await
            .map_err(store_error)?
            .into_iter()
            .find(|t| matches!(&t.kind, TokenKind::PersonalAccess { name: n, .. } if n == name))
            .map(|t| t.hashed_token))
    }

    /// Ends the live connections that logged in with a token that is gone.
    fn end_connections_of(&self, user_id: &str, hashed_token: Option<String>) {
        if let Some(token) = hashed_token {
            self.ctx.publish(comet_events::Event::SessionEnded {
                user_id: user_id.to_owned(),
                token,
            });
        }
    }

    async fn find_pat(&self, user_id: &str, name: &str) -> Result<PersonalAccessToken> {
        self.ctx
            .store
            .personal_access_tokens(user_id)
            .await
            .map_err(store_error)?
            .into_iter()
            .filter_map(as_pat)
            .find(|t| t.name == name)
            .ok_or_else(token_does_not_exist)
    }
}

fn token_does_not_exist() -> Error {
    Error::meteor("error-token-does-not-exists", "Token does not exist")
}

fn as_pat(token: LoginToken) -> Option<PersonalAccessToken> {
    match token.kind {
        TokenKind::PersonalAccess {
            name,
            last_token_part,
            bypass_two_factor,
        } => Some(PersonalAccessToken {
            name,
            created_at: token.created_at,
            last_token_part,
            bypass_two_factor,
        }),
        TokenKind::Login => None,
    }
}
