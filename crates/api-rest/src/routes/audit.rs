//! The audit log (Comet's own; upstream's free edition has none): `audit.log` and
//! `audit.export`, for holders of `view-audit-log`.

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::{opt_str, pagination, parse_js_date};
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use comet_core::Error;
use comet_service::audit::AuditFilter;
use serde_json::{Value, json};

/// The filters both routes take: `actor` (id or username), `action` (exact, or a family
/// ending in `.`), `target` (id or name), `since` and `until` (dates, `until` exclusive).
fn audit_filter(params: &Value) -> Result<AuditFilter, Error> {
    let text = |name: &str| -> Result<Option<String>, Error> {
        Ok(opt_str(params, name)?.filter(|s| !s.is_empty()))
    };
    let date = |name: &str| -> Result<Option<comet_core::Timestamp>, Error> {
        match text(name)? {
            None => Ok(None),
            Some(raw) => parse_js_date(&raw).map(Some).ok_or_else(|| {
                Error::invalid_params(format!(
                    "The \"{name}\" query parameter must be a valid date."
                ))
            }),
        }
    };
    Ok(AuditFilter {
        actor: text("actor")?,
        action: text("action")?,
        target: text("target")?,
        since: date("since")?,
        until: date("until")?,
    })
}

/// `GET /api/v1/audit.log`: a page of entries, newest first, with `count`, `offset` and
/// `total`.
pub async fn log(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let filter = audit_filter(&params)?;
    let (offset, count) = pagination(&app, &params)?;
    let (entries, total) = app
        .service
        .audit()
        .list(&session, &filter, offset, count)
        .await?;
    let entries: Vec<Value> = entries.iter().map(|e| e.to_json()).collect();
    ok(json!({
        "entries": entries,
        "count": entries.len(),
        "offset": offset,
        "total": total,
    }))
}

/// Entries read per page while streaming an export.
const EXPORT_PAGE: u32 = 500;

/// `GET /api/v1/audit.export`: every entry the filters select, oldest first, one JSON object
/// a line (`application/x-ndjson`), streamed a page at a time with the chain's links so that
/// the export can be verified on its own.
pub async fn export(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(params): Params,
) -> ApiResult {
    let filter = audit_filter(&params)?;
    // The first page answers errors (a missing permission) in the envelope, before the
    // stream starts.
    let first = app
        .service
        .audit()
        .export_page(&session, 0, EXPORT_PAGE)
        .await?;
    let stream = futures_util::stream::unfold(
        (Some(first), app, session, filter),
        |(page, app, session, filter)| async move {
            let page = match page {
                Some(page) => page,
                None => return None,
            };
            let last = page.last()?.seq;
            let mut lines = String::new();
            for entry in page.iter().filter(|e| selects(&filter, e)) {
                lines.push_str(&entry.to_json().to_string());
                lines.push('\n');
            }
            let next = if page.len() < EXPORT_PAGE as usize {
                Some(Vec::new())
            } else {
                match app
                    .service
                    .audit()
                    .export_page(&session, last, EXPORT_PAGE)
                    .await
                {
                    Ok(next) => Some(next),
                    Err(e) => {
                        tracing::warn!(error = %e, "audit export ended early");
                        return Some((
                            Err(std::io::Error::other(e.to_string())),
                            (None, app, session, filter),
                        ));
                    }
                }
            };
            Some((Ok::<_, std::io::Error>(lines), (next, app, session, filter)))
        },
    );
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-ndjson"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit-log.ndjson\"",
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Whether an entry passes the filters (the export walks the chain in order and filters as
/// it goes, so that its pages stay index range scans).
fn selects(filter: &AuditFilter, entry: &comet_core::audit::AuditEntry) -> bool {
    let d = &entry.draft;
    let is = |given: &Option<String>, values: &[Option<&str>]| {
        given
            .as_deref()
            .is_none_or(|given| values.contains(&Some(given)))
    };
    let action = filter.action.as_deref().is_none_or(|action| {
        if action.ends_with('.') {
            d.action.starts_with(action)
        } else {
            d.action == action
        }
    });
    action
        && is(&filter.actor, &[Some(&d.actor_id), Some(&d.actor_username)])
        && is(
            &filter.target,
            &[Some(&d.target_id), d.target_name.as_deref()],
        )
        && filter.since.is_none_or(|since| d.at >= since)
        && filter.until.is_none_or(|until| d.at < until)
}
