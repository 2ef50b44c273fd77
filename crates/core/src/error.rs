//! The one error type of Comet.
//!
//! Every failure a client can cause has a kind. Rocket.Chat shows failures in a few distinct
//! ways (a thrown `Meteor.Error` rendered as `"<reason> [<code>]"`, a bare `failure(message)`,
//! 401/403/429 helpers); the kind decides which, and the transports map kinds to statuses by an
//! exhaustive match. The `reason` is user-facing text; `log_detail` is for the log only.

use serde_json::Value;
use std::borrow::Cow;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// How a failure is classified, which decides how every transport presents it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// No valid credentials were given (401, "You must be logged in to do this.").
    NotLoggedIn,
    /// A login attempt failed for any reason (401 "unauthorized" on REST; the Meteor error
    /// with its code and reason on DDP).
    LoginFailed,
    /// The caller may not do this (403): a declared permission is missing ("User does not have
    /// the permissions required for this action [error-unauthorized]"), or an operation refused
    /// it by its own rule (upstream's `API.v1.forbidden()`, "unauthorized" before 9.0).
    Forbidden,
    /// A `Meteor.Error` whose code is `error-unauthorized` (401 on REST).
    Unauthorized,
    /// Rate limit exceeded (429).
    TooManyRequests,
    /// A thrown `Meteor.Error(code, reason, details)`: 400 with `"<reason> [<code>]"`.
    Meteor,
    /// Upstream's bare `API.v1.failure(message[, errorType])`: 400 with the message as is.
    Failure,
    /// Body or query validation failed (ajv on upstream): 400 with `errorType` `invalid-params`.
    InvalidParams,
    /// A route or resource that is not there (404 "Resource not found").
    NotFound,
    /// The request body exceeds the server's limit (413).
    PayloadTooLarge,
    /// The server is too busy to take the request now (503); nothing was done.
    Unavailable,
    /// Something failed inside the server; the detail is logged, never shown (500).
    Internal,
}

/// A failure: its kind, Rocket.Chat's error code (`errorType`), the user-facing reason and
/// optional structured details.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    pub kind: ErrorKind,
    /// The Meteor error code (`errorType`); `None` for bare failures without one.
    pub code: Option<Cow<'static, str>>,
    pub reason: Cow<'static, str>,
    pub details: Option<Value>,
    /// What actually happened, for the log; never sent to a client.
    pub log_detail: Option<String>,
}

impl Error {
    fn make(kind: ErrorKind, code: Option<Cow<'static, str>>, reason: Cow<'static, str>) -> Self {
        Error {
            kind,
            code,
            reason,
            details: None,
            log_detail: None,
        }
    }

    /// A `Meteor.Error(code, reason)`.
    pub fn meteor(code: &'static str, reason: impl Into<Cow<'static, str>>) -> Self {
        let code = Cow::Borrowed(code);
        if code == "error-unauthorized" || code == "unauthorized" {
            return Error::make(ErrorKind::Unauthorized, Some(code), reason.into());
        }
        Error::make(ErrorKind::Meteor, Some(code), reason.into())
    }

    /// A bare `failure(message)` without an `errorType`.
    pub fn failure(message: impl Into<Cow<'static, str>>) -> Self {
        Error::make(ErrorKind::Failure, None, message.into())
    }

    /// A bare `failure(message, errorType)`.
    pub fn failure_typed(message: impl Into<Cow<'static, str>>, error_type: &'static str) -> Self {
        Error::make(
            ErrorKind::Failure,
            Some(Cow::Borrowed(error_type)),
            message.into(),
        )
    }

    pub fn invalid_params(message: impl Into<Cow<'static, str>>) -> Self {
        Error::make(
            ErrorKind::InvalidParams,
            Some(Cow::Borrowed("invalid-params")),
            message.into(),
        )
    }

    pub fn not_logged_in() -> Self {
        Error::make(
            ErrorKind::NotLoggedIn,
            None,
            Cow::Borrowed("You must be logged in to do this."),
        )
    }

    /// A failed login; `code` and `reason` are what a DDP client sees.
    pub fn login_failed(code: &'static str, reason: &'static str) -> Self {
        Error::make(
            ErrorKind::LoginFailed,
            Some(Cow::Borrowed(code)),
            Cow::Borrowed(reason),
        )
    }

    /// Upstream's `API.v1.forbidden()`: 403 "unauthorized" (Rocket.Chat 8 keeps that text;
    /// "forbidden" is planned for 9.0).
    pub fn forbidden() -> Self {
        Error::make(ErrorKind::Forbidden, None, Cow::Borrowed("unauthorized"))
    }

    /// Upstream's `API.v1.forbidden(message)`: 403 with a message of its own.
    pub fn forbidden_because(message: impl Into<Cow<'static, str>>) -> Self {
        Error::make(ErrorKind::Forbidden, None, message.into())
    }

    /// Upstream's `API.v1.unauthorized()`: 401 "unauthorized", used by a few routes (such as
    /// `rooms.hide`) for a caller who may not read the room.
    pub fn unauthorized() -> Self {
        Error::make(ErrorKind::Unauthorized, None, Cow::Borrowed("unauthorized"))
    }

    /// Upstream's `API.v1.unauthorized(message)`: 401 with a message of its own.
    pub fn unauthorized_because(message: impl Into<Cow<'static, str>>) -> Self {
        Error::make(ErrorKind::Unauthorized, None, message.into())
    }

    /// A permission an operation declares is missing (upstream's `permissionsRequired`).
    pub fn permission_required() -> Self {
        Error::make(
            ErrorKind::Forbidden,
            Some(Cow::Borrowed("error-unauthorized")),
            Cow::Borrowed("User does not have the permissions required for this action"),
        )
    }

    /// The server refused the request unseen because it is at capacity (503, `error-server-busy`).
    pub fn unavailable(reason: &'static str) -> Self {
        Error::make(
            ErrorKind::Unavailable,
            Some(Cow::Borrowed("error-server-busy")),
            Cow::Borrowed(reason),
        )
    }

    /// A rate limit refused the call (REST: 429 `error-too-many-requests`). The details carry
    /// `timeToReset` (milliseconds), from which DDP renders Meteor's own wording
    /// ([`Error::ddp_too_many_requests`]).
    pub fn too_many_requests(wait_seconds: u64) -> Self {
        Error::make(
            ErrorKind::TooManyRequests,
            Some(Cow::Borrowed("error-too-many-requests")),
            Cow::Owned(format!(
                "Error, too many requests. Please slow down. You must wait {wait_seconds} seconds before trying this endpoint again."
            )),
        )
        .with_details(serde_json::json!({"timeToReset": wait_seconds.saturating_mul(1000)}))
    }

    /// Meteor's DDP rate limiter refusal: `too-many-requests`, "... before trying again.",
    /// details `{timeToReset}` in milliseconds.
    pub fn ddp_too_many_requests(time_to_reset_ms: u64) -> Self {
        let wait_seconds = time_to_reset_ms.div_ceil(1000).max(1);
        Error::make(
            ErrorKind::TooManyRequests,
            Some(Cow::Borrowed("too-many-requests")),
            Cow::Owned(format!(
                "Error, too many requests. Please slow down. You must wait {wait_seconds} seconds before trying again."
            )),
        )
        .with_details(serde_json::json!({"timeToReset": time_to_reset_ms}))
    }

    pub fn payload_too_large(limit_bytes: usize) -> Self {
        Error::make(
            ErrorKind::PayloadTooLarge,
            None,
            Cow::Owned(format!("Request body is larger than {limit_bytes} bytes")),
        )
    }

    pub fn not_found() -> Self {
        Error::make(
            ErrorKind::NotFound,
            None,
            Cow::Borrowed("Resource not found"),
        )
    }

    /// Upstream's `API.v1.notFound(message)`: 404 with the message as is.
    pub fn not_found_because(message: impl Into<Cow<'static, str>>) -> Self {
        Error::make(ErrorKind::NotFound, None, message.into())
    }

    /// An internal failure: `detail` is for the log only.
    pub fn internal(detail: impl std::fmt::Display) -> Self {
        let mut error = Error::make(
            ErrorKind::Internal,
            None,
            Cow::Borrowed("Internal server error"),
        );
        error.log_detail = Some(detail.to_string());
        error
    }

    /// `error-invalid-user` from upstream's `getUserFromParams`.
    pub fn invalid_user() -> Self {
        Error::meteor(
            "error-invalid-user",
            "The required \"userId\" or \"username\" param provided does not match any users",
        )
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The text upstream shows: `"<reason> [<code>]"` for Meteor errors, the reason otherwise.
    pub fn message(&self) -> String {
        match (&self.kind, &self.code) {
            (
                ErrorKind::Meteor
                | ErrorKind::Unauthorized
                | ErrorKind::TooManyRequests
                | ErrorKind::Forbidden,
                Some(code),
            ) => {
                if self.reason.is_empty() {
                    format!("[{code}]")
                } else {
                    format!("{} [{code}]", self.reason)
                }
            }
            _ => self.reason.to_string(),
        }
    }
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message())?;
        if let Some(detail) = &self.log_detail {
            write!(f, " ({detail})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meteor_messages_carry_the_code() {
        let e = Error::meteor("error-field-unavailable", "bob is already in use :(");
        assert_eq!(
            e.message(),
            "bob is already in use :( [error-field-unavailable]"
        );
        assert_eq!(
            Error::meteor("error-invalid-roleId", "").message(),
            "[error-invalid-roleId]"
        );
        assert_eq!(
            Error::failure("User not found.").message(),
            "User not found."
        );
        assert_eq!(
            Error::meteor("error-unauthorized", "x").kind,
            ErrorKind::Unauthorized
        );
    }
}
