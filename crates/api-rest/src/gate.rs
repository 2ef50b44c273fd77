//! The one place every request passes: client identification, authentication, rate limiting
//! and the request log line (method, route and status only: never headers or query strings,
//! which may carry tokens).

use crate::AppState;
use crate::envelope::error_response;
use crate::extract::Authentication;
use axum::extract::{ConnectInfo, MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use comet_core::ErrorKind;
use comet_service::ClientInfo;
use comet_service::ratelimit::{RateLimitDecision, RateLimitPolicy, RateLimitState};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}

/// The client address: the peer, or with `forwarded_count` proxies in front, the address the
/// outermost trusted proxy saw (counted from the right of `X-Forwarded-For`).
pub fn client_ip(
    peer: Option<IpAddr>,
    headers: &HeaderMap,
    forwarded_count: usize,
) -> Option<IpAddr> {
    if forwarded_count == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = header_str(headers, "x-forwarded-for")
        .map(|v| v.split(',').map(str::trim).collect())
        .unwrap_or_default();
    forwarded
        .len()
        .checked_sub(forwarded_count)
        .and_then(|i| forwarded.get(i))
        .and_then(|ip| ip.parse().ok())
        .or(peer)
}

/// `rc_uid`/`rc_token` from the cookies, else from the query string.
fn file_credentials(headers: &HeaderMap, query: Option<&str>) -> (Option<String>, Option<String>) {
    let mut uid = None;
    let mut token = None;
    for cookie in headers
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for pair in cookie.split(';') {
            match pair.trim().split_once('=') {
                Some(("rc_uid", v)) => uid = Some(v.trim().to_owned()),
                Some(("rc_token", v)) => token = Some(v.trim().to_owned()),
                _ => {}
            }
        }
    }
    if uid.is_none() || token.is_none() {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
        for (key, value) in pairs {
            match key.as_str() {
                "rc_uid" => uid = Some(value),
                "rc_token" => token = Some(value),
                _ => {}
            }
        }
    }
    (uid, token)
}

/// Which limit applies to a route (upstream's per-route `rateLimiterOptions`).
fn policy_for(route: &str) -> RateLimitPolicy {
    match route {
        "/api/v1/users.register" => RateLimitPolicy::RegisterUser,
        // Upstream's `rateLimiterOptions` of `v1/videoConference.ts`.
        "/api/v1/video-conference.start" | "/api/v1/video-conference.cancel" => {
            RateLimitPolicy::Fixed {
                limit: 3,
                period_ms: 60_000,
            }
        }
        "/api/v1/video-conference.join" => RateLimitPolicy::Fixed {
            limit: 2,
            period_ms: 5_000,
        },
        "/api/v1/video-conference.info" => RateLimitPolicy::Fixed {
            limit: 15,
            period_ms: 3_000,
        },
        "/api/v1/video-conference.list"
        | "/api/v1/video-conference.providers"
        | "/api/v1/video-conference.capabilities" => RateLimitPolicy::Fixed {
            limit: 3,
            period_ms: 1_000,
        },
        r if r.starts_with("/api/v1/method.call") => RateLimitPolicy::Off,
        r if r.starts_with("/api/") => RateLimitPolicy::Default,
        _ => RateLimitPolicy::Off,
    }
}

fn set_rate_headers(response: &mut Response, state: &RateLimitState) {
    let headers = response.headers_mut();
    for (name, value) in [
        ("x-ratelimit-limit", state.limit.to_string()),
        ("x-ratelimit-remaining", state.remaining.to_string()),
        ("x-ratelimit-reset", state.reset_at_ms.to_string()),
    ] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.insert(name, v);
        }
    }
}

pub async fn gate(State(app): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.ip());
    let client = ClientInfo {
        ip: client_ip(peer, req.headers(), app.forwarded_count),
        user_agent: header_str(req.headers(), "user-agent").map(str::to_owned),
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "<unmatched>".to_owned(), |m| m.as_str().to_owned());
    let method = req.method().clone();
    // The path itself only for requests no route matched (bounded metric labels use the
    // route pattern; the log line must still say what was asked for).
    let unmatched_path = (route == "<unmatched>").then(|| req.uri().path().to_owned());

    let mut credentials = (
        header_str(req.headers(), "x-user-id").map(str::to_owned),
        header_str(req.headers(), "x-auth-token").map(str::to_owned),
    );
    // Downloads come from `<img>` tags and links, which cannot set headers: upstream also
    // reads the `rc_uid`/`rc_token` cookies and query parameters there.
    let path = req.uri().path();
    if credentials.0.is_none()
        && (path.starts_with("/file-upload/")
            || path.starts_with("/ufs/")
            || path.starts_with("/avatar/"))
    {
        credentials = file_credentials(req.headers(), req.uri().query());
    }
    let session = match (credentials.0.as_deref(), credentials.1.as_deref()) {
        (Some(user_id), Some(token)) if !user_id.is_empty() && !token.is_empty() => {
            match app.service.accounts().authenticate(user_id, token).await {
                Ok(session) => Some(session),
                Err(e) if e.kind == ErrorKind::Internal => return error_response(&e),
                Err(_) => None,
            }
        }
        _ => None,
    };
    let user_id = session.as_ref().map(|s| s.user.id.clone());
    let forbidden = session.as_ref().is_some_and(|s| {
        crate::routes::required_permissions(&route, &method)
            .is_some_and(|required| !app.service.meets(&s.user, required))
    });

    let decision = app
        .service
        .check_rate_limit(
            policy_for(&route),
            &format!("{route}{}", method.as_str().to_ascii_lowercase()),
            &client,
            session.as_ref().map(|s| &s.user),
        )
        .await;
    // Every event this request causes names its user and this id (also in the log line).
    let request_id = comet_core::id::new_id();
    let cause = comet_service::request_cause(session.as_ref(), request_id.clone());
    req.extensions_mut().insert(Authentication { session });
    req.extensions_mut().insert(client.clone());

    let mut response = match &decision {
        RateLimitDecision::Refused(_, error) => error_response(error),
        _ if forbidden => error_response(&comet_core::Error::permission_required()),
        _ => comet_service::with_request(cause, client, next.run(req)).await,
    };
    if let RateLimitDecision::Allowed(state) | RateLimitDecision::Refused(state, _) = &decision {
        set_rate_headers(&mut response, state);
    }
    comet_metrics::observe_http(
        method.as_str(),
        &route,
        response.status().as_u16(),
        started.elapsed(),
    );
    tracing::info!(
        method = %method,
        route = %route,
        path = unmatched_path.as_deref().unwrap_or("-"),
        status = response.status().as_u16(),
        user = user_id.as_deref().unwrap_or("-"),
        request = %request_id,
        elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forwarded_for_is_read_from_the_right() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "x-forwarded-for",
            HeaderValue::from_static("1.1.1.1, 2.2.2.2"),
        );
        let peer: Option<IpAddr> = "127.0.0.1".parse().ok();
        assert_eq!(client_ip(peer, &headers, 0), peer);
        assert_eq!(client_ip(peer, &headers, 1), "2.2.2.2".parse().ok());
        assert_eq!(client_ip(peer, &headers, 2), "1.1.1.1".parse().ok());
        assert_eq!(client_ip(peer, &headers, 3), peer);
    }

    #[test]
    fn register_has_its_own_limit() {
        assert_eq!(
            policy_for("/api/v1/users.register"),
            RateLimitPolicy::RegisterUser
        );
        assert_eq!(
            policy_for("/api/v1/method.call/{method}"),
            RateLimitPolicy::Off
        );
        assert_eq!(policy_for("/api/v1/me"), RateLimitPolicy::Default);
    }
}
