//! Rocket.Chat's REST API v1 over axum.
//!
//! Handlers are thin: extract parameters, call one service operation, convert the result to
//! upstream's wire shape. Authentication and rate limiting happen once, in `gate`, for every
//! route; permission checks live in the service.

mod envelope;
mod extract;
mod gate;
pub mod params;
pub(crate) mod routes;
pub mod upload_form;

use axum::Router;
use comet_service::Service;
use std::sync::Arc;

pub use envelope::{ApiError, ApiResult};
pub use extract::{params_from_body, parse_urlencoded};
pub use gate::client_ip;
pub use routes::route_list;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub service: Arc<Service>,
    /// How many proxies in front of Comet append to `X-Forwarded-For` (`HTTP_FORWARDED_COUNT`).
    pub forwarded_count: usize,
    /// The address this instance listens on, shown by `instances.get`.
    pub listen_addr: Option<std::net::SocketAddr>,
    /// REST requests handled at once at most (`COMET_MAX_REQUESTS_IN_FLIGHT`); more are
    /// refused with 503 at once rather than queued without bound.
    pub max_requests_in_flight: usize,
}

/// Largest request body the API accepts (JSON and form bodies).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;

/// The REST API: `/api/info`, `/api/v1/*`.
pub fn router(state: AppState) -> Router {
    let in_flight = Arc::new(tokio::sync::Semaphore::new(
        state.max_requests_in_flight.max(1),
    ));
    routes::routes()
        .fallback(envelope::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            gate::gate,
        ))
        .layer(axum::middleware::from_fn(read_small_bodies_first))
        .layer(axum::middleware::from_fn_with_state(in_flight, shed_load))
        .with_state(state)
}

/// Refuses a request at once (503, `Retry-After: 1`) when as many requests as allowed are in
/// progress, so that an overload costs a bounded amount of memory and every client learns
/// that its request was not taken, rather than waiting in an unbounded queue until it times
/// out. The slot is held until the response starts; a download streams without it.
async fn shed_load(
    axum::extract::State(in_flight): axum::extract::State<Arc<tokio::sync::Semaphore>>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let Ok(_slot) = in_flight.try_acquire() else {
        comet_metrics::HTTP_REQUESTS_SHED.inc();
        let mut response = envelope::error_response(&comet_core::Error::unavailable(
            "The server is busy, try again shortly",
        ));
        response.headers_mut().insert(
            axum::http::header::RETRY_AFTER,
            axum::http::HeaderValue::from_static("1"),
        );
        return response;
    };
    next.run(request).await
}

/// Bodies up to this size are read in full before anything else looks at the request.
const READ_FIRST_BODY_BYTES: u64 = 64 * 1024;

/// Reads a small request body before the request is handled. An answer given while part of the
/// body is still unread (unknown route, refused credentials, rate limit) makes the HTTP layer
/// close the connection rather than guess where the next request starts; clients that write a
/// request's head and body separately and reuse connections (Python's `requests`, bot SDKs)
/// then see their next request fail. Reading the body first keeps every such answer on a
/// connection that stays usable. Larger bodies (uploads) stream to their handler as before.
async fn read_small_bodies_first(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let declared = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    let Some(length) = declared.filter(|&n| n > 0 && n <= READ_FIRST_BODY_BYTES) else {
        return next.run(request).await;
    };
    let (parts, body) = request.into_parts();
    // `length` is at most 64 KiB, so it fits any usize.
    let limit = usize::try_from(length).unwrap_or(usize::MAX);
    match axum::body::to_bytes(body, limit).await {
        Ok(bytes) => {
            next.run(axum::extract::Request::from_parts(
                parts,
                axum::body::Body::from(bytes),
            ))
            .await
        }
        Err(_) => envelope::error_response(&comet_core::Error::failure(
            "The request body could not be read",
        )),
    }
}
