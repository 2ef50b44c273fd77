//! `POST /api/v1/rooms.export`: a room's messages as a file (built off the request path and
//! delivered to the caller), or by email (refused: Comet sends no email).

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use axum::extract::State;
use comet_core::Error;
use comet_service::export::{ExportFormat, FileExport};
use serde_json::{Map, Value, json};

/// What one property of upstream's schema accepts.
#[derive(Clone, Copy)]
enum Kind {
    Str,
    /// A string among these.
    OneOf(&'static [&'static str]),
    /// A day, `YYYY-MM-DD` (ajv's `date` format); null allowed.
    Day,
    /// A string or null.
    OptStr,
    /// An array of strings or null.
    OptStrList,
}

/// One branch of upstream's `oneOf`: its properties in order and which are required.
struct Branch {
    properties: &'static [(&'static str, Kind)],
    required: &'static [&'static str],
}

const FILE: Branch = Branch {
    properties: &[
        ("rid", Kind::Str),
        ("type", Kind::OneOf(&["file"])),
        ("format", Kind::OneOf(&["html", "json"])),
        ("dateFrom", Kind::Day),
        ("dateTo", Kind::Day),
    ],
    required: &["rid", "type", "format"],
};

const EMAIL: Branch = Branch {
    properties: &[
        ("rid", Kind::Str),
        ("type", Kind::OneOf(&["email"])),
        ("toUsers", Kind::OptStrList),
        ("toEmails", Kind::OptStrList),
        ("additionalEmails", Kind::OptStr),
        ("subject", Kind::OptStr),
        ("messages", Kind::OptStrList),
    ],
    required: &["rid", "type"],
};

fn parse_day(raw: &str) -> Option<chrono::NaiveDate> {
    if raw.len() != 10 {
        return None;
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

/// The first error ajv reports for this branch, in its keyword order (required, additional
/// properties, then each property), or `None` when the body matches it.
fn branch_error(body: &Map<String, Value>, branch: &Branch) -> Option<String> {
    if let Some(missing) = branch.required.iter().find(|k| !body.contains_key(**k)) {
        return Some(format!("must have required property '{missing}'"));
    }
    if body
        .keys()
        .any(|k| !branch.properties.iter().any(|(name, _)| name == k))
    {
        return Some("must NOT have additional properties".to_owned());
    }
    for (name, kind) in branch.properties {
        let Some(value) = body.get(*name) else {
            continue;
        };
        let error = match (kind, value) {
            (Kind::Day | Kind::OptStr | Kind::OptStrList, Value::Null) => None,
            (Kind::Str | Kind::OptStr, Value::String(_)) => None,
            (Kind::OneOf(allowed), Value::String(s)) => (!allowed.contains(&s.as_str()))
                .then(|| "must be equal to one of the allowed values".to_owned()),
            (Kind::Day, Value::String(s)) => parse_day(s)
                .is_none()
                .then(|| "must match format \"date\"".to_owned()),
            (Kind::OptStrList, Value::Array(items)) => items
                .iter()
                .any(|i| !i.is_string())
                .then(|| "must be string".to_owned()),
            (Kind::OptStrList, _) => Some("must be array".to_owned()),
            _ => Some("must be string".to_owned()),
        };
        if error.is_some() {
            return error;
        }
    }
    None
}

/// Upstream's `isRoomsExportProps`: exactly one of the file and email forms.
fn validate(body: &Value) -> Result<(), Error> {
    let Value::Object(fields) = body else {
        return Err(Error::invalid_params("must be object"));
    };
    let errors: Vec<String> = [&FILE, &EMAIL]
        .iter()
        .filter_map(|branch| branch_error(fields, branch))
        .collect();
    match errors.len() {
        1 => Ok(()),
        0 => Err(Error::invalid_params(
            "must match exactly one schema in oneOf",
        )),
        _ => Err(Error::invalid_params(format!(
            "{}\n must match exactly one schema in oneOf",
            errors.join("\n ")
        ))),
    }
}

/// `POST /api/v1/rooms.export`.
pub async fn export(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    validate(&body)?;
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let rid = text("rid").unwrap_or_default();
    if text("type") == Some("file") {
        let format = if text("format") == Some("json") {
            ExportFormat::Json
        } else {
            ExportFormat::Html
        };
        let request = FileExport {
            format,
            date_from: text("dateFrom").and_then(parse_day),
            date_to: text("dateTo").and_then(parse_day),
        };
        app.service
            .files()
            .export_room(&session, rid, request)
            .await?;
        return ok(json!({}));
    }
    let listed = |name: &str| {
        body.get(name)
            .and_then(Value::as_array)
            .is_some_and(|items| !items.is_empty())
    };
    app.service
        .files()
        .export_room_by_email(&session, rid, listed("toUsers") || listed("toEmails"))
        .await?;
    ok(json!({}))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(body: Value) -> String {
        validate(&body)
            .err()
            .map(|e| e.reason.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn the_file_form_needs_its_fields() {
        assert!(validate(&json!({"rid": "r", "type": "file", "format": "html"})).is_ok());
        assert!(
            validate(&json!({"rid": "r", "type": "file", "format": "json",
                             "dateFrom": "2024-03-15", "dateTo": null}))
            .is_ok()
        );
        assert!(
            error(json!({"type": "file", "format": "html"}))
                .starts_with("must have required property 'rid'")
        );
        assert!(
            error(json!({"rid": "r", "format": "html"}))
                .contains("must have required property 'type'")
        );
        assert!(
            error(json!({"rid": "r", "type": "file", "format": "html", "dateFrom": "test-date"}))
                .contains("must match format \"date\"")
        );
        assert!(
            error(json!({"rid": "r", "type": "file", "format": "pdf"}))
                .contains("must be equal to one of the allowed values")
        );
        assert!(!error(json!({"rid": "r", "type": "nope", "format": "html"})).is_empty());
    }

    #[test]
    fn the_email_form_is_recognised() {
        assert!(
            validate(&json!({"rid": "r", "type": "email", "toUsers": ["ann"],
                                 "subject": "s", "messages": ["m"]}))
            .is_ok()
        );
    }
}
