//! What a posted message may carry, as upstream's `validateMessage` decides: link fields that
//! clients put in `href` attributes must be web (or upload) addresses, never `javascript:`;
//! attachment fields have fixed types; custom fields follow the operator's JSON schema.

use serde_json::{Map, Value};

/// The refusal of a link field a client would render as a link.
pub const INVALID_HREF: &str = "Invalid href value provided";

/// Where uploads are served from: links there count as safe too.
const UPLOAD_PATH: &str = "/file-upload/";

fn is_absolute_url(value: &str) -> bool {
    value.starts_with("http://") || value.starts_with("https://") || value.starts_with("data:")
}

/// Upstream's `isRelativeURL`: no scheme and not protocol-relative.
fn is_relative_url(value: &str) -> bool {
    if value.is_empty() || value.starts_with("//") {
        return false;
    }
    let scheme_len = value
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '.' | '-')))
        .unwrap_or(value.len());
    !(scheme_len > 0 && value[scheme_len..].starts_with(':'))
}

fn is_javascript(value: &str) -> bool {
    value
        .get(..11)
        .is_some_and(|head| head.eq_ignore_ascii_case("javascript:"))
}

/// A link that must be absolute (`http(s)`, `data:`) or an upload's.
pub fn valid_full_url(value: &str) -> bool {
    (is_absolute_url(value) || value.starts_with(UPLOAD_PATH)) && !is_javascript(value)
}

/// A link that may also be relative to the server (a message's `avatar`).
pub fn valid_partial_url(value: &str) -> bool {
    (is_relative_url(value) || is_absolute_url(value) || value.starts_with(UPLOAD_PATH))
        && !is_javascript(value)
}

/// The type a field must have.
#[derive(Clone, Copy)]
enum Kind {
    Text,
    Flag,
    Number,
    TextOrNumber,
    Object,
    List,
    FullUrl,
    Scalar,
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Meteor's `Match.Error` text for a field of the wrong type.
fn mismatch(expected: &str, value: &Value, field: &str) -> String {
    format!(
        "Match error: Expected {expected}, got {} in field {field}",
        type_name(value)
    )
}

/// Checks the fields of `object` that are present (and not null) against their kinds.
fn check_fields(object: &Map<String, Value>, kinds: &[(&str, Kind)]) -> Result<(), String> {
    for (field, kind) in kinds {
        let Some(value) = object.get(*field).filter(|v| !v.is_null()) else {
            continue;
        };
        let fits = match kind {
            Kind::Text => value.is_string(),
            Kind::Flag => value.is_boolean(),
            Kind::Number => value.is_number(),
            Kind::TextOrNumber => value.is_string() || value.is_number(),
            Kind::Object => value.is_object(),
            Kind::List => value.is_array(),
            Kind::Scalar => value.is_string() || value.is_number() || value.is_boolean(),
            Kind::FullUrl => match value.as_str() {
                Some(url) if valid_full_url(url) => true,
                Some(_) => return Err(INVALID_HREF.to_owned()),
                None => false,
            },
        };
        if !fits {
            let expected = match kind {
                Kind::Text | Kind::FullUrl => "string",
                Kind::Flag => "boolean",
                Kind::Number => "number",
                Kind::TextOrNumber => "string or number",
                Kind::Object => "object",
                Kind::List => "array",
                Kind::Scalar => "string, number or boolean",
            };
            return Err(mismatch(expected, value, field));
        }
    }
    Ok(())
}

const ATTACHMENT_FIELDS: &[(&str, Kind)] = &[
    ("color", Kind::Text),
    ("text", Kind::Text),
    ("ts", Kind::TextOrNumber),
    ("thumb_url", Kind::FullUrl),
    ("button_alignment", Kind::Text),
    ("actions", Kind::List),
    ("message_link", Kind::FullUrl),
    ("collapsed", Kind::Flag),
    ("author_name", Kind::Text),
    ("author_link", Kind::FullUrl),
    ("author_icon", Kind::FullUrl),
    ("title", Kind::Text),
    ("title_link", Kind::FullUrl),
    ("title_link_download", Kind::Flag),
    ("image_dimensions", Kind::Object),
    ("image_url", Kind::FullUrl),
    ("image_preview", Kind::Text),
    ("image_type", Kind::Text),
    ("image_size", Kind::Number),
    ("audio_url", Kind::FullUrl),
    ("audio_type", Kind::Text),
    ("audio_size", Kind::Number),
    ("video_url", Kind::FullUrl),
    ("video_type", Kind::Text),
    ("video_size", Kind::Number),
    ("fields", Kind::List),
];

const ATTACHMENT_FIELD_FIELDS: &[(&str, Kind)] = &[
    ("short", Kind::Flag),
    ("title", Kind::Text),
    ("value", Kind::Scalar),
];

const ACTION_FIELDS: &[(&str, Kind)] = &[
    ("type", Kind::Text),
    ("text", Kind::Text),
    ("url", Kind::FullUrl),
    ("image_url", Kind::FullUrl),
    ("is_webview", Kind::Flag),
    ("webview_height_ratio", Kind::Text),
    ("msg", Kind::Text),
    ("msg_in_chat_window", Kind::Flag),
];

fn truthy(value: Option<&Value>) -> bool {
    match value {
        None | Some(Value::Null) | Some(Value::Bool(false)) => false,
        Some(Value::String(s)) => !s.is_empty(),
        Some(Value::Number(n)) => n.as_f64().is_some_and(|f| f != 0.0),
        Some(_) => true,
    }
}

/// Upstream's checks of a message's `attachments`, with its error texts.
pub fn check_attachments(attachments: &Value) -> Result<(), String> {
    let Some(list) = attachments.as_array() else {
        return Err(mismatch("array", attachments, "attachments"));
    };
    for attachment in list {
        let Some(object) = attachment.as_object() else {
            continue;
        };
        check_fields(object, ATTACHMENT_FIELDS)?;
        for field in object
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let Some(field) = field.as_object() else {
                return Err(mismatch("object", field, "fields"));
            };
            check_fields(field, ATTACHMENT_FIELD_FIELDS)?;
            if !truthy(field.get("value")) || !truthy(field.get("title")) {
                return Err("Invalid attachment field, title and value is required".to_owned());
            }
        }
        for action in object
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if let Some(action) = action.as_object() {
                check_fields(action, ACTION_FIELDS)?;
            }
        }
    }
    Ok(())
}

/// The texts of a message's attachments (what `Message_MaxAllowedSize` also limits).
pub fn attachment_texts(attachments: &Value) -> impl Iterator<Item = &str> {
    attachments
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("text").and_then(Value::as_str))
}

/// Why custom fields were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomFieldsError {
    /// `Message_CustomFields` is not a usable object schema.
    InvalidConfig,
    /// The fields do not follow the schema.
    Invalid,
}

/// Whether `fields` follows the operator's `Message_CustomFields` JSON schema, taken as an
/// object schema without extra properties (as upstream compiles it). The common JSON Schema
/// keywords are honoured: `type`, `properties`, `required`, `additionalProperties`, `enum`,
/// `const`, `nullable`, `minLength`/`maxLength`, `minimum`/`maximum`, `items`,
/// `minItems`/`maxItems` and `pattern`.
pub fn check_custom_fields(schema: &str, fields: &Value) -> Result<(), CustomFieldsError> {
    let schema: Value =
        serde_json::from_str(schema).map_err(|_| CustomFieldsError::InvalidConfig)?;
    let Value::Object(mut root) = schema else {
        return Err(CustomFieldsError::InvalidConfig);
    };
    if root
        .get("type")
        .is_some_and(|t| t.as_str() != Some("object"))
    {
        return Err(CustomFieldsError::InvalidConfig);
    }
    root.insert("type".into(), Value::String("object".into()));
    root.insert("additionalProperties".into(), Value::Bool(false));
    if conforms(&Value::Object(root), fields, 0) {
        Ok(())
    } else {
        Err(CustomFieldsError::Invalid)
    }
}

/// Deeper schemas than this are refused rather than walked (they come from an admin, but a
/// validator must not be a way to exhaust the stack).
const MAX_SCHEMA_DEPTH: usize = 32;

fn conforms(schema: &Value, value: &Value, depth: usize) -> bool {
    if depth > MAX_SCHEMA_DEPTH {
        return false;
    }
    let Some(schema) = schema.as_object() else {
        // `true` accepts everything, `false` nothing.
        return schema.as_bool().unwrap_or(true);
    };
    if value.is_null() && schema.get("nullable").and_then(Value::as_bool) == Some(true) {
        return true;
    }
    if let Some(kind) = schema.get("type") {
        let kinds: Vec<&str> = match kind {
            Value::String(one) => vec![one.as_str()],
            Value::Array(many) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !kinds.iter().any(|k| has_type(value, k)) {
            return false;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        return false;
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        return false;
    }
    let number = |key: &str| schema.get(key).and_then(Value::as_f64);
    let count = |key: &str| {
        schema
            .get(key)
            .and_then(Value::as_u64)
            .and_then(|n| usize::try_from(n).ok())
    };
    match value {
        Value::String(text) => {
            let length = text.chars().count();
            if count("minLength").is_some_and(|min| length < min)
                || count("maxLength").is_some_and(|max| length > max)
            {
                return false;
            }
            if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
                match regex::Regex::new(pattern) {
                    Ok(re) if re.is_match(text) => {}
                    _ => return false,
                }
            }
        }
        Value::Number(n) => {
            let Some(x) = n.as_f64() else { return false };
            if number("minimum").is_some_and(|min| x < min)
                || number("maximum").is_some_and(|max| x > max)
            {
                return false;
            }
        }
        Value::Array(items) => {
            if count("minItems").is_some_and(|min| items.len() < min)
                || count("maxItems").is_some_and(|max| items.len() > max)
            {
                return false;
            }
            if let Some(item_schema) = schema.get("items")
                && !items
                    .iter()
                    .all(|item| conforms(item_schema, item, depth + 1))
            {
                return false;
            }
        }
        Value::Object(object) => {
            let properties = schema.get("properties").and_then(Value::as_object);
            if let Some(required) = schema.get("required").and_then(Value::as_array)
                && !required
                    .iter()
                    .filter_map(Value::as_str)
                    .all(|key| object.contains_key(key))
            {
                return false;
            }
            for (key, field) in object {
                match properties.and_then(|p| p.get(key)) {
                    Some(field_schema) => {
                        if !conforms(field_schema, field, depth + 1) {
                            return false;
                        }
                    }
                    None => match schema.get("additionalProperties") {
                        Some(Value::Bool(false)) => return false,
                        Some(extra @ Value::Object(_)) if !conforms(extra, field, depth + 1) => {
                            return false;
                        }
                        _ => {}
                    },
                }
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
    true
}

fn has_type(value: &Value, kind: &str) -> bool {
    match kind {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value
            .as_f64()
            .is_some_and(|n| n.fract() == 0.0 && n.is_finite()),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn links_must_be_web_addresses_and_never_scripts() {
        assert!(valid_full_url("https://example.com/a"));
        assert!(valid_full_url("http://example.com"));
        assert!(valid_full_url("/file-upload/abc/x.png"));
        assert!(!valid_full_url("javascript:alert(1)"));
        assert!(!valid_full_url("JavaScript:alert(1)"));
        assert!(!valid_full_url("example.com"));
        assert!(!valid_full_url("/relative"));
        assert!(valid_partial_url("/avatar/x"));
        assert!(valid_partial_url("avatar.png"));
        assert!(!valid_partial_url("javascript:alert(1)"));
        assert!(!valid_partial_url("vbscript:x"));
        assert!(!valid_partial_url("//evil.example/x"));
    }

    #[test]
    fn attachments_are_checked_field_by_field() {
        assert!(check_attachments(&json!([{"title": "t", "title_link": "https://x.y"}])).is_ok());
        assert_eq!(
            check_attachments(&json!([{"author_link": "javascript:alert(1)"}])),
            Err(INVALID_HREF.to_owned())
        );
        assert_eq!(
            check_attachments(&json!([{"actions": [{"url": "javascript:x"}]}])),
            Err(INVALID_HREF.to_owned())
        );
        assert_eq!(
            check_attachments(&json!([{"message_link": 12}])),
            Err("Match error: Expected string, got number in field message_link".to_owned())
        );
        assert!(check_attachments(&json!([{"fields": ""}])).is_err());
        assert!(check_attachments(&json!([{"fields": [{"title": 12, "value": false}]}])).is_err());
        assert!(check_attachments(&json!([{"fields": [{"title": "a", "value": ""}]}])).is_err());
        assert!(check_attachments(&json!([{"fields": [{"title": "a", "value": 3}]}])).is_ok());
        assert!(check_attachments(&json!([{"title_link_download": "https://x"}])).is_err());
    }

    #[test]
    fn custom_fields_follow_the_schema_without_extra_properties() {
        let schema = r#"{"properties": {"priority": {"type": "string", "enum": ["low", "high"]}}, "required": ["priority"]}"#;
        assert_eq!(
            check_custom_fields(schema, &json!({"priority": "low"})),
            Ok(())
        );
        assert_eq!(
            check_custom_fields(schema, &json!({})),
            Err(CustomFieldsError::Invalid)
        );
        assert_eq!(
            check_custom_fields(schema, &json!({"priority": "urgent"})),
            Err(CustomFieldsError::Invalid)
        );
        assert_eq!(
            check_custom_fields(schema, &json!({"priority": "low", "x": 1})),
            Err(CustomFieldsError::Invalid)
        );
        assert_eq!(
            check_custom_fields(r#"{"type": "string"}"#, &json!({})),
            Err(CustomFieldsError::InvalidConfig)
        );
        assert_eq!(
            check_custom_fields("not json", &json!({})),
            Err(CustomFieldsError::InvalidConfig)
        );
    }
}
