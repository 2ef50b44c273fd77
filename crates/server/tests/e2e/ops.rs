//! Operations endpoints: liveness, readiness and Prometheus metrics.

use crate::common;

use common::TestServer;
use serde_json::json;

#[tokio::test]
async fn health_and_readiness() {
    let server = TestServer::start().await;
    let health = server.get_raw("/health", None).await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body, json!({"status": "ok"}));
    let ready = server.get_raw("/ready", None).await;
    assert_eq!(ready.status, 200);
    assert_eq!(
        ready.body,
        json!({"status": "ready", "database": "ok", "bus": "ok"})
    );
    server.stop().await;
}

#[tokio::test]
async fn metrics_for_internal_scrapers_only() {
    let server = TestServer::start_with(|config| config.http_forwarded_count = 1).await;
    let admin = server.admin().await;
    server.get("me", &[], Some(&admin)).await.ok();
    server
        .post(
            "chat.postMessage",
            json!({"channel": "#general", "text": "counted"}),
            Some(&admin),
        )
        .await
        .ok();

    let scrape = |forwarded_for: &'static str| {
        let request = server
            .http
            .get(format!("{}/metrics", server.base))
            .header("X-Forwarded-For", forwarded_for);
        async move {
            tokio::time::timeout(common::REQUEST_TIMEOUT, request.send())
                .await
                .expect("in time")
                .expect("response")
        }
    };
    let inside = scrape("10.0.0.7").await;
    assert_eq!(inside.status(), 200);
    assert!(
        inside
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/plain; version=0.0.4"))
    );
    let text = inside.text().await.expect("body");
    for needle in [
        "# TYPE comet_realtime_connections gauge",
        "# TYPE comet_realtime_slow_consumer_disconnects_total counter",
        "comet_db_pool_connections{pool=",
        "comet_bus_connected 1",
        "comet_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/me\",status=\"200\"}",
        "process_resident_memory_bytes",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    let posted = text
        .lines()
        .find_map(|l| l.strip_prefix("comet_messages_posted_total "))
        .and_then(|v| v.parse::<f64>().ok())
        .expect("messages posted");
    assert!(posted >= 1.0);

    let outside = scrape("203.0.113.9").await;
    assert_eq!(outside.status(), 403);
    server.stop().await;
}
