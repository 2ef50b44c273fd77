//! The `{success: ...}` envelope and the one mapping from errors to responses.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use comet_core::{Error, ErrorKind};
use serde_json::{Map, Value, json};

/// A handler's failure: a domain error shown in Rocket.Chat's envelope.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl From<Error> for ApiError {
    fn from(e: Error) -> Self {
        ApiError(e)
    }
}

pub type ApiResult = Result<Response, ApiError>;

/// `API.v1.success(body)`: the body with `success: true` merged in.
pub fn ok(body: Value) -> ApiResult {
    let mut map = match body {
        Value::Object(map) => map,
        Value::Null => Map::new(),
        other => {
            let mut map = Map::new();
            map.insert("result".into(), other);
            map
        }
    };
    map.insert("success".into(), Value::Bool(true));
    Ok(json_response(StatusCode::OK, Value::Object(map)))
}

/// A JSON response with exactly `Content-Type: application/json`, as upstream sends.
pub fn json_response(status: StatusCode, body: Value) -> Response {
    let mut response = (status, axum::Json(body)).into_response();
    let headers = response.headers_mut();
    headers.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    headers.insert(
        axum::http::header::PRAGMA,
        axum::http::HeaderValue::from_static("no-cache"),
    );
    response
}

/// Meteor error codes may be numbers (`403`); upstream's `errorType` then is a number too.
fn error_type_value(code: &str) -> Value {
    code.parse::<i64>()
        .map_or_else(|_| json!(code), |n| json!(n))
}

/// The status and body upstream sends for an error.
pub fn error_response(error: &Error) -> Response {
    let failure = |message: String| json!({"success": false, "error": message});
    let (status, body) = match error.kind {
        // Upstream's authentication check adds the older `{status, message}` to its body.
        ErrorKind::NotLoggedIn => (
            StatusCode::UNAUTHORIZED,
            json!({"success": false, "error": error.message(),
                   "status": "error", "message": error.message()}),
        ),
        ErrorKind::LoginFailed => (StatusCode::UNAUTHORIZED, failure("unauthorized".into())),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, failure(error.message())),
        ErrorKind::Unauthorized => (StatusCode::UNAUTHORIZED, failure(error.message())),
        ErrorKind::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, failure(error.message())),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, failure(error.message())),
        ErrorKind::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, failure(error.message())),
        // Shaped as a thrown Meteor error, so clients that branch on `errorType` can tell an
        // overloaded server (retry) from a refusal.
        ErrorKind::Unavailable => (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"success": false,
                   "error": format!("{} [{}]", error.reason, error.code.as_deref().unwrap_or("error-server-busy")),
                   "errorType": error.code.as_deref().unwrap_or("error-server-busy")}),
        ),
        ErrorKind::Internal => {
            tracing::error!(
                detail = error.log_detail.as_deref().unwrap_or(""),
                "internal error"
            );
            (StatusCode::INTERNAL_SERVER_ERROR, failure(error.message()))
        }
        ErrorKind::Meteor | ErrorKind::InvalidParams | ErrorKind::Failure => {
            let mut map = Map::new();
            map.insert("success".into(), Value::Bool(false));
            let message = if error.kind == ErrorKind::InvalidParams {
                format!("{} [invalid-params]", error.reason)
            } else {
                error.message()
            };
            if !message.is_empty() {
                map.insert("error".into(), Value::String(message));
            }
            if let Some(code) = &error.code {
                map.insert("errorType".into(), error_type_value(code));
            }
            if let Some(details) = &error.details {
                map.insert("details".into(), details.clone());
            }
            (StatusCode::BAD_REQUEST, Value::Object(map))
        }
    };
    json_response(status, body)
}

/// The answer of `POST /api/v1/login` refused for its second factor: 401 with the Meteor
/// error's code, reason and details in upstream's login failure shape.
pub fn login_error_response(error: &Error) -> Response {
    json_response(
        StatusCode::UNAUTHORIZED,
        json!({
            "success": false,
            "status": "error",
            "error": error.code,
            "message": error.reason,
            "details": error.details,
        }),
    )
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

/// Unknown routes.
pub async fn not_found() -> Response {
    error_response(&Error::not_found())
}
