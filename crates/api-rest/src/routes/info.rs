use crate::AppState;
use crate::envelope::{ApiResult, ok};
use crate::extract::MaybeCaller;
use axum::extract::State;
use serde_json::json;

/// The Rocket.Chat release whose REST and realtime behaviour Comet follows.
pub const COMPATIBLE_VERSION: &str = comet_service::statistics::COMPATIBLE_VERSION;

/// `GET /api/info`: the compatible Rocket.Chat version (major.minor for anonymous callers, the
/// full version and build details with `view-statistics`).
pub async fn info(State(app): State<AppState>, MaybeCaller(caller): MaybeCaller) -> ApiResult {
    let privileged = caller
        .as_ref()
        .is_some_and(|s| app.service.has_permission(&s.user, "view-statistics"));
    let minimum = json!({"desktop": "3.9.6", "mobile": "4.39.0"});
    if !privileged {
        let short = COMPATIBLE_VERSION
            .rsplit_once('.')
            .map_or(COMPATIBLE_VERSION, |(major_minor, _)| major_minor);
        return ok(json!({"version": short, "minimumClientVersions": minimum}));
    }
    ok(json!({
        "version": COMPATIBLE_VERSION,
        "minimumClientVersions": minimum,
        "info": {
            "version": COMPATIBLE_VERSION,
            "build": {
                "arch": std::env::consts::ARCH,
                "platform": std::env::consts::OS,
                "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
            },
            "commit": {
                "hash": env!("COMET_GIT_HASH"),
                "date": env!("COMET_GIT_DATE"),
                "author": env!("COMET_GIT_AUTHOR"),
                "subject": env!("COMET_GIT_SUBJECT"),
                "tag": env!("COMET_GIT_TAG"),
                "branch": env!("COMET_GIT_BRANCH"),
            },
            // The Apps-Engine API version upstream reports; Comet runs no Marketplace apps.
            "marketplaceApiVersion": "0.0.0",
            "comet": {"version": env!("CARGO_PKG_VERSION")},
        },
    }))
}
