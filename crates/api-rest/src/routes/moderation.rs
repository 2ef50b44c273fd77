//! `moderation.*` and `chat.reportMessage` (upstream's `v1/moderation.ts`, `v1/chat.ts`).
//!
//! Upstream validates the console's query strings with schemas whose failures say
//! `error-invalid-params`, and request bodies with schemas whose failures say
//! `invalid-params`; each route below reads its parameters the way its schema does.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{json_sort, opt_str, pagination, parse_js_date, req_str};
use axum::extract::State;
use comet_core::moderation::{ReportFilter, ReportGroupSortKey, ReportSubject, ReportTarget};
use comet_core::page::{Direction, Page};
use comet_core::{Error, Result, now};
use comet_protocol::moderation as wire;
use comet_service::moderation::ReportWindow;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};

fn query_invalid(message: &str) -> Error {
    Error::failure_typed(message.to_owned(), "error-invalid-params")
}

/// A query parameter its schema requires to be a non-empty string.
fn required_query_id(query: &Value, name: &str) -> Result<String> {
    match opt_str(query, name)? {
        None => Err(query_invalid(&format!(
            "must have required property '{name}'"
        ))),
        Some(s) if s.is_empty() => Err(query_invalid("must NOT have fewer than 1 characters")),
        Some(s) => Ok(s),
    }
}

/// `latest`/`oldest`/`selector`: reported strictly between `oldest` (default: the epoch) and
/// `latest` (default: now), matching `selector` (upstream escapes it into a
/// case-insensitive regular expression, that is, a substring).
fn report_filter(query: &Value) -> Result<ReportFilter> {
    let date = |name: &str| -> Result<Option<comet_core::Timestamp>> {
        match opt_str(query, name)?.filter(|s| !s.is_empty()) {
            None => Ok(None),
            Some(raw) => parse_js_date(&raw)
                .map(Some)
                .ok_or_else(|| query_invalid("must match format \"date\"")),
        }
    };
    Ok(ReportFilter {
        latest: date("latest")?.unwrap_or_else(now),
        oldest: date("oldest")?.unwrap_or(chrono::DateTime::UNIX_EPOCH),
        search: opt_str(query, "selector")?.filter(|s| !s.is_empty()),
    })
}

/// The console's sorts of grouped listings (`{"reports.ts": -1}`, `{"count": 1}`, ...).
fn group_sort(query: &Value) -> Result<Vec<(ReportGroupSortKey, Direction)>> {
    json_sort(query, Vec::new(), |field| match field {
        "reports.ts" | "ts" => Some(ReportGroupSortKey::Latest),
        "count" => Some(ReportGroupSortKey::Count),
        "reports.message.u.username" | "reports.reportedUser.username" | "username" => {
            Some(ReportGroupSortKey::Username)
        }
        "reports.message.u.name" | "reports.reportedUser.name" | "name" => {
            Some(ReportGroupSortKey::Name)
        }
        _ => None,
    })
}

/// A target's listing: `selector`, `{"ts": 1 | -1}` (newest first by default) and the page.
fn report_window(app: &AppState, query: &Value) -> Result<ReportWindow> {
    let (offset, count) = pagination(app, query)?;
    let sort = json_sort(query, Vec::new(), |field| (field == "ts").then_some(()))?;
    Ok(ReportWindow {
        search: opt_str(query, "selector")?.filter(|s| !s.is_empty()),
        oldest_first: sort
            .first()
            .is_some_and(|(_, d)| *d == Direction::Ascending),
        offset,
        count,
    })
}

fn group_page(app: &AppState, query: &Value) -> Result<Page<ReportGroupSortKey>> {
    let (offset, count) = pagination(app, query)?;
    Ok(Page {
        offset,
        count,
        sort: group_sort(query)?,
    })
}

/// `POST /api/v1/chat.reportMessage {messageId, description}`.
pub async fn report_message(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let message_id = req_str(&body, "messageId")?;
    let description = req_str(&body, "description")?;
    if message_id.is_empty() {
        return Err(Error::failure("The required \"messageId\" param is missing.").into());
    }
    if description.is_empty() {
        return Err(Error::failure("The required \"description\" param is missing.").into());
    }
    app.service
        .moderation()
        .report_message(&session, &message_id, &description)
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/moderation.reportUser {userId, description}`.
pub async fn report_user(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let user_id = req_str(&body, "userId")?;
    // The schema requires the key but lets it be null.
    let description = match body.get("description") {
        None => {
            return Err(Error::invalid_params("must have required property 'description'").into());
        }
        Some(_) => opt_str(&body, "description")?.unwrap_or_default(),
    };
    app.service
        .moderation()
        .report_user(&session, &user_id, &description)
        .await?;
    ok(json!({}))
}

/// `GET /api/v1/moderation.reportsByUsers`: reported messages grouped by author.
pub async fn reports_by_users(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let filter = report_filter(&query)?;
    let page = group_page(&app, &query)?;
    let (groups, total) = app
        .service
        .moderation()
        .reports_by_author(&session, &filter, &page)
        .await?;
    let reports: Vec<Value> = groups.iter().map(wire::author_reports).collect();
    ok(json!({
        "count": reports.len(),
        "reports": reports,
        "offset": page.offset,
        "total": total,
    }))
}

/// `GET /api/v1/moderation.userReports`: reported users.
pub async fn user_reports(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let filter = report_filter(&query)?;
    let page = group_page(&app, &query)?;
    let (groups, total) = app
        .service
        .moderation()
        .reports_by_reported_user(&session, &filter, &page)
        .await?;
    let reports: Vec<Value> = groups.iter().map(wire::user_reports).collect();
    ok(json!({
        "count": reports.len(),
        "reports": reports,
        "offset": page.offset,
        "total": total,
    }))
}

/// `GET /api/v1/moderation.user.reportedMessages?userId=`: an author's reported messages,
/// each message once (the count is of the reports read, as upstream).
pub async fn user_reported_messages(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let user_id = required_query_id(&query, "userId")?;
    let window = report_window(&app, &query)?;
    let (user, page) = app
        .service
        .moderation()
        .open_reports(&session, &ReportTarget::MessagesBy(user_id), &window)
        .await?;
    let mut seen = HashSet::new();
    let messages: Vec<Value> = page
        .reports
        .iter()
        .filter(|r| match &r.subject {
            ReportSubject::Message { message, .. } => seen.insert(message.id.clone()),
            ReportSubject::User(_) => false,
        })
        .map(wire::reported_message)
        .collect();
    ok(json!({
        "user": user.as_ref().map(wire::report_author_user),
        "messages": messages,
        "count": page.reports.len(),
        "total": page.total,
        "offset": window.offset,
    }))
}

/// `GET /api/v1/moderation.user.reportsByUserId?userId=`: the reports about a user.
pub async fn user_reports_by_user_id(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let user_id = required_query_id(&query, "userId")?;
    let window = report_window(&app, &query)?;
    let (user, page) = app
        .service
        .moderation()
        .open_reports(&session, &ReportTarget::User(user_id), &window)
        .await?;
    // The addresses the reports recorded, each once.
    let mut recorded = BTreeMap::new();
    for report in &page.reports {
        if let ReportSubject::User(reported) = &report.subject
            && let Some((address, verified)) = reported.emails.first()
        {
            recorded.insert(address.clone(), *verified);
        }
    }
    let recorded: Vec<(String, bool)> = recorded.into_iter().collect();
    let reports: Vec<Value> = page.reports.iter().map(wire::user_report).collect();
    ok(json!({
        "user": user.as_ref().map(|u| wire::reported_user_profile(u, &recorded)),
        "count": reports.len(),
        "reports": reports,
        "total": page.total,
        "offset": window.offset,
    }))
}

/// `GET /api/v1/moderation.reports?msgId=`: the reports of one message.
pub async fn reports(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let message_id = required_query_id(&query, "msgId")?;
    let window = report_window(&app, &query)?;
    let (_, page) = app
        .service
        .moderation()
        .open_reports(&session, &ReportTarget::Message(message_id), &window)
        .await?;
    let reports: Vec<Value> = page.reports.iter().map(wire::message_report).collect();
    ok(json!({
        "count": reports.len(),
        "reports": reports,
        "offset": window.offset,
        "total": page.total,
    }))
}

/// `GET /api/v1/moderation.reportInfo?reportId=`.
pub async fn report_info(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let report_id = required_query_id(&query, "reportId")?;
    let report = app
        .service
        .moderation()
        .report(&session, &report_id)
        .await?;
    ok(json!({"report": wire::report(&report)}))
}

/// `POST /api/v1/moderation.user.deleteReportedMessages {userId, reason?}` (the page of
/// reports whose messages go is read from the query string, as upstream).
pub async fn delete_reported_messages(
    State(app): State<AppState>,
    Caller(session): Caller,
    uri: axum::http::Uri,
    Params(body): Params,
) -> ApiResult {
    let user_id = req_str(&body, "userId")?;
    let reason = opt_str(&body, "reason")?;
    let query = crate::extract::parse_urlencoded(uri.query().unwrap_or_default())?;
    let (offset, count) = pagination(&app, &query)?;
    app.service
        .moderation()
        .delete_reported_messages(&session, &user_id, reason, offset, count)
        .await?;
    ok(json!({}))
}

/// The body of `moderation.dismissReports` and `moderation.dismissUserReports`: `userId` or
/// (for the first) `msgId`, exactly one, with optional `reason` and `action`.
struct Dismissal {
    user_id: Option<String>,
    message_id: Option<String>,
    reason: Option<String>,
    action: Option<String>,
}

fn dismissal(body: &Value) -> Result<Dismissal> {
    let user_id = opt_str(body, "userId")?;
    let message_id = opt_str(body, "msgId")?;
    if user_id.is_some() == message_id.is_some() {
        return Err(Error::invalid_params(
            "must match exactly one schema in oneOf",
        ));
    }
    Ok(Dismissal {
        user_id,
        message_id,
        reason: opt_str(body, "reason")?,
        action: opt_str(body, "action")?,
    })
}

/// `POST /api/v1/moderation.dismissReports {userId | msgId, reason?, action?}`.
pub async fn dismiss_reports(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let d = dismissal(&body)?;
    app.service
        .moderation()
        .dismiss_message_reports(&session, d.user_id, d.message_id, d.reason, d.action)
        .await?;
    ok(json!({}))
}

/// `POST /api/v1/moderation.dismissUserReports {userId, reason?, action?}`.
pub async fn dismiss_user_reports(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(body): Params,
) -> ApiResult {
    let d = dismissal(&body)?;
    app.service
        .moderation()
        .dismiss_user_reports(
            &session,
            d.user_id.as_deref().unwrap_or_default(),
            d.reason,
            d.action,
        )
        .await?;
    ok(json!({}))
}
