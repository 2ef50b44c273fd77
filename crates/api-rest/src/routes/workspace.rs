//! The workspace: `statistics`, `statistics.list` (`v1/stats.ts`).

use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::{Caller, Params};
use crate::params::pagination;
use crate::routes::users::json_object_param;
use axum::extract::State;
use comet_core::Error;
use serde_json::{Value, json};

/// `GET /api/v1/statistics?refresh=`: the newest snapshot (a new one with `refresh=true`), its
/// fields at the top level. Callers without `view-statistics` get `error-not-allowed`.
pub async fn statistics(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let refresh = match query.get("refresh") {
        None | Some(Value::Null) => false,
        Some(Value::String(flag)) if flag == "true" => true,
        Some(Value::String(flag)) if flag == "false" => false,
        Some(_) => {
            return Err(Error::invalid_params("must be equal to one of the allowed values").into());
        }
    };
    let document = app
        .service
        .workspace()
        .statistics(&session, refresh)
        .await?;
    ok(document)
}

/// `GET /api/v1/statistics.list?offset=&count=&fields=`: stored snapshots, newest first.
pub async fn statistics_list(
    State(app): State<AppState>,
    Caller(session): Caller,
    Params(query): Params,
) -> ApiResult {
    let (offset, count) = pagination(&app, &query)?;
    let fields = json_object_param(&query, "fields", "error-invalid-fields", "fields")?;
    // `query` is read as upstream's parseJsonQuery reads it, but snapshots are not filtered by
    // it (docs/compatibility.md).
    json_object_param(&query, "query", "error-invalid-query", "query")?;
    let (statistics, total) = app
        .service
        .workspace()
        .list_statistics(&session, offset, count, fields.as_ref())
        .await?;
    ok(json!({
        "statistics": statistics,
        "count": statistics.len(),
        "offset": offset,
        "total": total,
    }))
}
