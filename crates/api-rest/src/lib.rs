//! Rocket.Chat's REST API v1 over axum.
//!
//! Handlers are thin: extract parameters, call one service operation, convert the result to
//! upstream's wire shape. Authentication and rate limiting happen once, in `gate`, for every
//! route; permission checks live in the service.

mod envelope;
mod extract;
mod gate;
mod params;
pub(crate) mod routes;

use axum::Router;
use comet_service::Service;
use std::sync::Arc;

pub use envelope::{ApiError, ApiResult};
pub use gate::client_ip;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// How many proxies in front of Comet append to `X-Forwarded-For` (`HTTP_FORWARDED_COUNT`).
    pub forwarded_count: usize,
    /// The address this instance listens on, shown by `instances.get`.
    pub listen_addr: Option<std::net::SocketAddr>,
}

/// Largest request body the API accepts (JSON and form bodies).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The REST API: `/api/info`, `/api/v1/*`.
pub fn router(state: AppState) -> Router {
    routes::routes()
        .fallback(envelope::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .with_state(state)
}
