//! The method registry: Meteor method names → operations. REST `method.call`/`method.callAnon`
//! use it now; the DDP transport will dispatch through the same table.
//!
//! Results are JSON in EJSON form (dates as `{"$date": <ms>}`), the form both transports send.

use crate::auth::{LoginRequest, PasswordInput, UserSelector};
use crate::settings::SettingsQuery;
use crate::{ClientInfo, Service, Session};
use comet_core::{Error, Result, Timestamp};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;

/// What a method runs with: the caller (if logged in) and the client.
pub struct MethodContext<'a> {
    pub session: Option<&'a Session>,
    pub client: &'a ClientInfo,
}

impl MethodContext<'_> {
    fn session(&self) -> Result<&Session> {
        self.session
            .ok_or_else(|| Error::meteor("error-invalid-user", "Invalid user"))
    }
}

pub type MethodFuture<'a> = Pin<Box<dyn Future<Output = Result<Value>> + Send + 'a>>;
type Handler = for<'a> fn(&'a Service, MethodContext<'a>, Vec<Value>) -> MethodFuture<'a>;

/// Method names and their handlers.
pub struct MethodRegistry {
    handlers: HashMap<&'static str, Handler>,
}

/// An EJSON date.
pub fn ejson_date(t: Timestamp) -> Value {
    json!({ "$date": t.timestamp_millis() })
}

impl MethodRegistry {
    pub(crate) fn with_builtin_methods() -> Self {
        let mut handlers: HashMap<&'static str, Handler> = HashMap::new();
        handlers.insert("login", |s, ctx, params| Box::pin(login(s, ctx, params)));
        handlers.insert("logout", |s, ctx, _| Box::pin(logout(s, ctx)));
        handlers.insert("public-settings/get", |s, _, _| {
            Box::pin(public_settings(s))
        });
        handlers.insert("permissions/get", |s, ctx, _| Box::pin(permissions(s, ctx)));
        MethodRegistry { handlers }
    }
}

impl Service {
    /// Runs a Meteor method by name.
    pub async fn call_method(
        &self,
        name: &str,
        params: Vec<Value>,
        ctx: MethodContext<'_>,
    ) -> Result<Value> {
        let Some(handler) = self.methods.handlers.get(name) else {
            return Err(Error::meteor("404", format!("Method '{name}' not found")));
        };
        handler(self, ctx, params).await
    }
}

/// Parses Meteor's `login` argument: `{user, password}` (plain string or `{digest,
/// algorithm}`) or `{resume}`.
pub fn parse_meteor_login(arg: &Value) -> Result<LoginRequest> {
    let bad = || Error::meteor("400", "Match failed");
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
    let password = match arg.get("password").ok_or_else(bad)? {
        Value::String(plain) => PasswordInput::Plain(plain.clone()),
        Value::Object(o) => {
            let algorithm = o.get("algorithm").and_then(Value::as_str);
            match (o.get("digest"), algorithm) {
                (Some(Value::String(digest)), Some("sha-256")) => {
                    PasswordInput::Sha256Digest(digest.clone())
                }
                _ => return Err(Error::meteor("400", "Match failed")),
            }
        }
        _ => return Err(bad()),
    };
    Ok(LoginRequest::Password {
        user: selector,
        password,
    })
}

async fn login(service: &Service, ctx: MethodContext<'_>, params: Vec<Value>) -> Result<Value> {
    let arg = params.first().cloned().unwrap_or(Value::Null);
    let request = parse_meteor_login(&arg)?;
    let result = service.login(request, ctx.client).await?;
    Ok(json!({
        "id": result.user.id,
        "token": result.token,
        "tokenExpires": ejson_date(result.token_expires),
        "type": result.login_type,
    }))
}

async fn logout(service: &Service, ctx: MethodContext<'_>) -> Result<Value> {
    if let Some(session) = ctx.session {
        service.logout(session).await?;
    }
    Ok(Value::Null)
}

async fn public_settings(service: &Service) -> Result<Value> {
    let page = service.public_settings(&SettingsQuery::default());
    Ok(Value::Array(
        page.settings
            .into_iter()
            .map(|s| json!({"_id": s.id, "value": s.value}))
            .collect(),
    ))
}

async fn permissions(service: &Service, ctx: MethodContext<'_>) -> Result<Value> {
    ctx.session()?;
    Ok(Value::Array(
        service
            .permissions(None)
            .into_iter()
            .map(|p| json!({"_id": p.id, "roles": p.roles, "_updatedAt": ejson_date(p.updated_at)}))
            .collect(),
    ))
}
