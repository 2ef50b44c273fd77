//! Reading typed parameters out of a request's JSON object, with upstream's validation texts.

use crate::AppState;
use comet_core::page::{Direction, MessageFilter, UserSortKey};
use comet_core::{Error, Result};
use comet_service::accounts::UserRef;
use serde_json::Value;

fn required(name: &str) -> Error {
    Error::invalid_params(format!("must have required property '{name}'"))
}

/// An optional string; present but not a string is a validation error.
pub fn opt_str(params: &Value, name: &str) -> Result<Option<String>> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(Error::invalid_params("must be string")),
    }
}

/// A required string.
pub fn req_str(params: &Value, name: &str) -> Result<String> {
    opt_str(params, name)?.ok_or_else(|| required(name))
}

/// An optional boolean; form bodies and query strings send `"true"`/`"false"`.
pub fn opt_bool(params: &Value, name: &str) -> Result<Option<bool>> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(Value::String(s)) if s == "true" => Ok(Some(true)),
        Some(Value::String(s)) if s == "false" => Ok(Some(false)),
        Some(_) => Err(Error::invalid_params("must be boolean")),
    }
}

pub fn req_bool(params: &Value, name: &str) -> Result<bool> {
    opt_bool(params, name)?.ok_or_else(|| required(name))
}

/// An optional non-negative integer (numbers or numeric strings).
pub fn opt_u64(params: &Value, name: &str) -> Result<Option<u64>> {
    match params.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .map(Some)
            .ok_or_else(|| Error::invalid_params("must be >= 0")),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => s
            .trim()
            .parse::<u64>()
            .map(Some)
            .map_err(|_| Error::invalid_params("must be a non-negative integer")),
        Some(_) => Err(Error::invalid_params("must be number")),
    }
}

/// An optional list of strings: a JSON array (also as a query-string value, `["a","b"]`), or
/// a comma-separated string.
pub fn opt_str_list(params: &Value, name: &str) -> Result<Option<Vec<String>>> {
    match params.get(name) {
        Some(Value::String(s)) if s.trim_start().starts_with('[') => {
            let parsed: Value = serde_json::from_str(s)
                .map_err(|_| Error::invalid_params("must be array of strings"))?;
            opt_str_list(&serde_json::json!({ name: parsed }), name)
        }
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| Error::invalid_params("must be array of strings"))
            })
            .collect::<Result<Vec<_>>>()
            .map(Some),
        Some(Value::String(s)) => Ok(Some(
            s.split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
        )),
        Some(_) => Err(Error::invalid_params("must be array")),
    }
}

/// A date as JavaScript's `Date.parse` reads the common forms: RFC 3339 / ISO 8601 with or
/// without a zone (UTC assumed), a bare date, or epoch milliseconds.
pub fn parse_js_date(raw: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let raw = raw.trim();
    if let Ok(d) = chrono::DateTime::parse_from_rfc3339(raw) {
        return Some(d.with_timezone(&chrono::Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(d) = chrono::NaiveDateTime::parse_from_str(raw, format) {
            return Some(d.and_utc());
        }
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        return d.and_hms_opt(0, 0, 0).map(|d| d.and_utc());
    }
    raw.parse::<i64>()
        .ok()
        .and_then(chrono::DateTime::from_timestamp_millis)
}

/// Upstream's `getUserFromParams`: `userId`, `username` or `user`.
pub fn user_ref(params: &Value) -> Result<UserRef> {
    if let Some(id) = opt_str(params, "userId")?.filter(|s| !s.is_empty()) {
        return Ok(UserRef::Id(id));
    }
    if let Some(name) = opt_str(params, "username")?
        .or(opt_str(params, "user")?)
        .filter(|s| !s.is_empty())
    {
        return Ok(UserRef::Username(name));
    }
    Err(Error::meteor(
        "error-user-param-not-provided",
        "The required \"userId\" or \"username\" param was not provided",
    ))
}

/// The settings that bound a page: `API_Default_Count`, `API_Upper_Count_Limit` and
/// `API_Allow_Infinite_Count`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimits {
    pub default_count: u64,
    pub upper_count: u64,
    pub allow_infinite: bool,
}

impl PageLimits {
    fn of(app: &AppState) -> Self {
        let service = &app.service;
        PageLimits {
            default_count: u64::try_from(service.setting_int("API_Default_Count")).unwrap_or(50),
            upper_count: u64::try_from(service.setting_int("API_Upper_Count_Limit")).unwrap_or(100),
            allow_infinite: service.setting_bool("API_Allow_Infinite_Count"),
        }
    }
}

/// `offset` and `count` as upstream's `getPaginationItems`: `count` defaults to
/// `API_Default_Count`, is capped at `API_Upper_Count_Limit`, and 0 means "all" only when
/// `API_Allow_Infinite_Count` is on.
pub fn pagination(app: &AppState, params: &Value) -> Result<(u64, Option<u64>)> {
    page_window(params, PageLimits::of(app))
}

/// `offset` and `count` (`None`: all) within `limits`.
pub fn page_window(params: &Value, limits: PageLimits) -> Result<(u64, Option<u64>)> {
    let upper = limits.upper_count;
    let offset = opt_u64(params, "offset")?.unwrap_or(0);
    let count = match opt_u64(params, "count")? {
        None => Some(limits.default_count.min(upper)),
        Some(0) if limits.allow_infinite => None,
        Some(n) => Some(n.min(upper)),
    };
    Ok((offset, count))
}

/// The JSON `sort` parameter (`{"field": 1 | -1, ...}`, upstream's `parseJsonQuery`), its
/// fields mapped to sort keys by `key`; `default` when absent. An unknown field or direction
/// is upstream's `error-invalid-sort`.
pub fn json_sort<K>(
    params: &Value,
    default: Vec<(K, Direction)>,
    key: impl Fn(&str) -> Option<K>,
) -> Result<Vec<(K, Direction)>> {
    let Some(raw) = opt_str(params, "sort")? else {
        return Ok(default);
    };
    let invalid = || {
        Error::meteor(
            "error-invalid-sort",
            format!("Invalid sort parameter provided \"{raw}\""),
        )
    };
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&raw) else {
        return Err(invalid());
    };
    fields
        .iter()
        .map(|(field, dir)| {
            let key = key(field).ok_or_else(invalid)?;
            match dir.as_i64() {
                Some(1) => Ok((key, Direction::Ascending)),
                Some(-1) => Ok((key, Direction::Descending)),
                _ => Err(invalid()),
            }
        })
        .collect()
}

/// The JSON `sort` parameter for user listings, e.g. `{"username": 1}`.
pub fn user_sort(params: &Value) -> Result<Vec<(UserSortKey, Direction)>> {
    json_sort(
        params,
        vec![(UserSortKey::Username, Direction::Ascending)],
        UserSortKey::parse,
    )
}

/// `roomId` or `roomName` (upstream's `findChannelByIdOrName` and friends).
pub fn room_ref(params: &Value) -> Result<comet_service::rooms::RoomRef> {
    use comet_service::rooms::RoomRef;
    if let Some(id) = opt_str(params, "roomId")?.filter(|s| !s.is_empty()) {
        return Ok(RoomRef::Id(id));
    }
    if let Some(name) = opt_str(params, "roomName")?.filter(|s| !s.is_empty()) {
        return Ok(RoomRef::Name(name));
    }
    Err(Error::meteor(
        "error-room-param-not-provided",
        "The parameter \"roomId\" or \"roomName\" is required",
    ))
}

/// `roomId` or `roomName` for the `rooms.*` routes that look any room up (upstream's
/// `findRoomByIdOrName`, whose missing-parameter error is `error-roomid-param-not-provided`).
pub fn any_room_ref(params: &Value) -> Result<comet_service::rooms::RoomRef> {
    room_ref(params).map_err(|e| {
        if e.code.as_deref() == Some("error-room-param-not-provided") {
            Error::meteor(
                "error-roomid-param-not-provided",
                "The parameter \"roomId\" or \"roomName\" is required",
            )
        } else {
            e
        }
    })
}

/// Users named by `userId`, `username`, `userIds[]` or `usernames[]`, as upstream's
/// `getUserListFromParams`.
pub fn user_refs(params: &Value) -> Result<Vec<UserRef>> {
    let mut refs = Vec::new();
    if let Some(id) = opt_str(params, "userId")?.filter(|s| !s.is_empty()) {
        refs.push(UserRef::Id(id));
    }
    if let Some(name) = opt_str(params, "username")?.filter(|s| !s.is_empty()) {
        refs.push(UserRef::Username(name));
    }
    for id in opt_str_list(params, "userIds")?.unwrap_or_default() {
        refs.push(UserRef::Id(id));
    }
    for name in opt_str_list(params, "usernames")?.unwrap_or_default() {
        refs.push(UserRef::Username(name));
    }
    Ok(refs)
}

/// The deprecated `query` parameter of `channels.messages`, `groups.messages` and
/// `im.messages` (a Mongo selector, still applied by 8.x), as far as it names conditions a
/// message filter has: the selectors clients send there (`pinned`, `mentions._id`,
/// `starred._id`, each as a value or `{"$in": [...]}`), the author (`u._id`) and the thread
/// (`tmid`). `rid` and `_hidden` are what upstream sets itself. Anything else is refused as an
/// invalid query rather than ignored, since ignoring a condition would list messages the
/// client did not ask for.
pub fn message_query(query: &Value, filter: &mut MessageFilter) -> Result<()> {
    let Some(raw) = opt_str(query, "query")? else {
        return Ok(());
    };
    let invalid = || {
        Error::meteor(
            "error-invalid-query",
            format!("Invalid query parameter provided: \"{raw}\""),
        )
    };
    let Ok(Value::Object(selector)) = serde_json::from_str::<Value>(&raw) else {
        return Err(invalid());
    };
    // A value, or `{"$in": [values]}`.
    let ids = |value: &Value| -> Option<Vec<String>> {
        match value {
            Value::String(id) => Some(vec![id.clone()]),
            Value::Object(op) if op.len() == 1 => op.get("$in")?.as_array().and_then(|items| {
                items
                    .iter()
                    .map(|v| v.as_str().map(str::to_owned))
                    .collect()
            }),
            _ => None,
        }
    };
    for (key, value) in &selector {
        match key.as_str() {
            "rid" | "_hidden" => {}
            "pinned" => filter.pinned_only = value.as_bool().ok_or_else(invalid)?,
            "mentions._id" => filter.mentioning = ids(value).ok_or_else(invalid)?,
            "starred._id" => filter.starred_by = ids(value).ok_or_else(invalid)?,
            "u._id" => filter.author_id = Some(value.as_str().ok_or_else(invalid)?.to_owned()),
            "tmid" => filter.thread_id = Some(value.as_str().ok_or_else(invalid)?.to_owned()),
            _ => return Err(invalid()),
        }
    }
    Ok(())
}
