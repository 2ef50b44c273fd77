//! Extractors: the caller, the client, and request parameters (query, JSON or form body).

use crate::envelope::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, header};
use comet_core::Error;
use comet_service::{ClientInfo, Session};
use serde_json::{Map, Value};

/// What `gate` learned about the caller; stored in request extensions.
#[derive(Clone, Debug)]
pub struct Authentication {
    pub session: Option<Session>,
}

/// The authenticated caller; refuses with 401 when there is none.
pub struct Caller(pub Session);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Authentication>()
            .and_then(|a| a.session.clone())
            .map(Caller)
            .ok_or_else(|| ApiError(Error::not_logged_in()))
    }
}

/// The caller if authenticated.
pub struct MaybeCaller(pub Option<Session>);

impl<S: Send + Sync> FromRequestParts<S> for MaybeCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(MaybeCaller(
            parts
                .extensions
                .get::<Authentication>()
                .and_then(|a| a.session.clone()),
        ))
    }
}

/// The client's address and user agent, as `gate` determined them.
pub struct Client(pub ClientInfo);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Client(
            parts
                .extensions
                .get::<ClientInfo>()
                .cloned()
                .unwrap_or_default(),
        ))
    }
}

/// Request parameters as one JSON object: the query string for GET and DELETE, the JSON or
/// form body otherwise. Repeated `key[]=v` query entries become arrays.
pub struct Params(pub Value);

/// Parses `a=1&b[]=x&b[]=y` into `{"a": "1", "b": ["x", "y"]}`.
pub fn parse_urlencoded(raw: &str) -> Result<Value, Error> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw).map_err(|_| Error::failure("Invalid query parameters"))?;
    let mut map = Map::new();
    for (key, value) in pairs {
        if let Some(base) = key.strip_suffix("[]") {
            let entry = map
                .entry(base.to_owned())
                .or_insert_with(|| Value::Array(Vec::new()));
            if let Value::Array(items) = entry {
                items.push(Value::String(value));
            }
        } else {
            map.insert(key, Value::String(value));
        }
    }
    Ok(Value::Object(map))
}

impl<S: Send + Sync> FromRequest<S> for Params {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if matches!(*req.method(), Method::GET | Method::DELETE | Method::HEAD) {
            let query = req.uri().query().unwrap_or_default().to_owned();
            return Ok(Params(parse_urlencoded(&query)?));
        }
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned();
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                ApiError(Error::payload_too_large(crate::MAX_BODY_BYTES))
            } else {
                ApiError(Error::failure("The request body could not be read"))
            }
        })?;
        Ok(Params(params_from_body(&content_type, &bytes)?))
    }
}

/// The parameters of a request body: a form when `content_type` says so, JSON otherwise. Always
/// an object: a blank, unparseable or non-object body counts as empty, as upstream treats it.
pub fn params_from_body(content_type: &str, bytes: &[u8]) -> Result<Value, Error> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    let is_form = content_type
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded");
    let value = if is_form {
        std::str::from_utf8(bytes)
            .ok()
            .map(parse_urlencoded)
            .transpose()?
            .unwrap_or_else(|| Value::Object(Map::new()))
    } else {
        // Upstream treats an unparseable body as empty; validation then names what is missing.
        serde_json::from_slice(bytes).unwrap_or_else(|_| Value::Object(Map::new()))
    };
    Ok(if value.is_object() {
        value
    } else {
        Value::Object(Map::new())
    })
}
