//! Operations endpoints: liveness (`/health`), readiness (`/ready`: database and event bus)
//! and Prometheus metrics (`/metrics`, for scrapers on the machine or a private network only).

use axum::Router;
use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use comet_service::Service;
use serde_json::json;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

#[derive(Clone)]
struct Ops {
    service: Arc<Service>,
    forwarded_count: usize,
}

/// The process is up and serving HTTP.
async fn health() -> Response {
    (StatusCode::OK, axum::Json(json!({"status": "ok"}))).into_response()
}

/// Whether this instance can serve: its database answers and its bus reaches the others.
async fn ready(State(ops): State<Ops>) -> Response {
    let readiness = ops.service.readiness().await;
    let word = |ok: bool| if ok { "ok" } else { "unavailable" };
    let status = if readiness.ready() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if readiness.ready() { "ready" } else { "unavailable" },
        "database": word(readiness.database),
        "bus": word(readiness.bus),
    });
    (status, axum::Json(body)).into_response()
}

/// Loopback and private-network addresses: where a Prometheus scraper lives.
fn internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unique_local()
                || v6.is_unicast_link_local()
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| v4.is_loopback() || v4.is_private())
        }
    }
}

async fn metrics(
    State(ops): State<Ops>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    let client = comet_api_rest::client_ip(Some(peer.ip()), &headers, ops.forwarded_count);
    if !client.is_some_and(internal) {
        return (
            StatusCode::FORBIDDEN,
            "metrics are served to internal addresses only\n",
        )
            .into_response();
    }
    let text = comet_metrics::render(&ops.service.metric_samples());
    (
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

pub fn router(service: Arc<Service>, forwarded_count: usize) -> Router {
    Router::new()
        .route("/health", get(health))
        .route("/ready", get(ready))
        .route("/metrics", get(metrics))
        .with_state(Ops {
            service,
            forwarded_count,
        })
}

#[cfg(test)]
mod tests {
    use super::internal;

    #[test]
    fn only_internal_addresses_may_scrape() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.9",
            "172.16.5.5",
            "::1",
            "fd00::1",
        ] {
            assert!(internal(ip.parse().expect("ip")), "{ip}");
        }
        for ip in ["8.8.8.8", "172.32.0.1", "2001:db8::1"] {
            assert!(!internal(ip.parse().expect("ip")), "{ip}");
        }
    }
}
