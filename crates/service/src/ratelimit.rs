//! The REST rate limiter: a fixed window per route and client address, sized by settings.
//!
//! A single instance keeps windows in memory (a restart forgets them, which only ever relaxes
//! limits for at most one window). Instances sharing a database count in it, so that a client
//! spreading calls over instances meets the same limit.

use crate::{ClientInfo, Service};
use comet_core::Error;
use comet_core::user::User;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Past this many tracked windows, expired ones are swept before adding another.
const MAX_TRACKED_WINDOWS: usize = 100_000;

/// Which limit a route has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitPolicy {
    /// `API_Enable_Rate_Limiter_Limit_Calls_Default` per `..._Time_Default`.
    Default,
    /// `Rate_Limiter_Limit_RegisterUser` per minute (`users.register`).
    RegisterUser,
    /// Not limited here (`method.call`, limited per method instead).
    Off,
}

/// The state of a window after a call, for the `X-RateLimit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitState {
    pub limit: u64,
    pub remaining: u64,
    /// Epoch milliseconds when the window resets.
    pub reset_at_ms: i64,
}

/// The limiter's verdict on one call.
#[derive(Debug, Clone, PartialEq)]
pub enum RateLimitDecision {
    /// The limiter does not apply (disabled, exempt caller or route).
    Exempt,
    Allowed(RateLimitState),
    Refused(RateLimitState, Error),
}

struct Window {
    started: Instant,
    calls: u64,
}

#[derive(Default)]
pub(crate) struct RateLimiter {
    windows: Mutex<HashMap<String, Window>>,
}

impl RateLimiter {
    fn hit(&self, key: String, period: Duration) -> (u64, Duration) {
        let now = Instant::now();
        let mut windows = match self.windows.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if windows.len() >= MAX_TRACKED_WINDOWS {
            windows.retain(|_, w| now.duration_since(w.started) < period);
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            calls: 0,
        });
        if now.duration_since(window.started) >= period {
            window.started = now;
            window.calls = 0;
        }
        window.calls += 1;
        (
            window.calls,
            period.saturating_sub(now.duration_since(window.started)),
        )
    }
}

impl Service {
    /// Counts a call to `route` (e.g. `/v1/users.registerpost`) and decides whether it may run.
    pub async fn check_rate_limit(
        &self,
        policy: RateLimitPolicy,
        route: &str,
        client: &ClientInfo,
        user: Option<&User>,
    ) -> RateLimitDecision {
        if policy == RateLimitPolicy::Off || !self.setting_bool("API_Enable_Rate_Limiter") {
            return RateLimitDecision::Exempt;
        }
        if user.is_some_and(|u| self.has_permission(u, "api-bypass-rate-limit")) {
            return RateLimitDecision::Exempt;
        }
        let (limit, period_ms) = match policy {
            RateLimitPolicy::RegisterUser => {
                (self.setting_int("Rate_Limiter_Limit_RegisterUser"), 60_000)
            }
            _ => (
                self.setting_int("API_Enable_Rate_Limiter_Limit_Calls_Default"),
                self.setting_int("API_Enable_Rate_Limiter_Limit_Time_Default"),
            ),
        };
        let (Ok(limit), Ok(period_ms)) = (u64::try_from(limit), u64::try_from(period_ms)) else {
            return RateLimitDecision::Exempt;
        };
        if limit == 0 || period_ms == 0 {
            return RateLimitDecision::Exempt;
        }
        let ip = client.ip.map(|ip| ip.to_string()).unwrap_or_default();
        let Some((calls, reset_in)) = self
            .count_in_window(format!("{route}\u{0}{ip}"), period_ms)
            .await
        else {
            return RateLimitDecision::Exempt;
        };
        let reset_in_ms = i64::try_from(reset_in.as_millis()).unwrap_or(i64::MAX);
        let state = RateLimitState {
            limit,
            remaining: limit.saturating_sub(calls),
            reset_at_ms: comet_core::now()
                .timestamp_millis()
                .saturating_add(reset_in_ms),
        };
        if calls > limit {
            let wait_seconds = reset_in.as_millis().div_ceil(1000).max(1);
            RateLimitDecision::Refused(
                state,
                Error::too_many_requests(u64::try_from(wait_seconds).unwrap_or(u64::MAX)),
            )
        } else {
            RateLimitDecision::Allowed(state)
        }
    }

    /// Counts one call under `key` in a window of `period_ms`: how many calls the window has
    /// seen and how long until it resets. `None` when the count is unavailable (the store
    /// failed), in which case the caller lets the call through.
    async fn count_in_window(&self, key: String, period_ms: u64) -> Option<(u64, Duration)> {
        let period = Duration::from_millis(period_ms);
        if !self.config.clustered {
            return Some(self.rate_limiter.hit(key, period));
        }
        let at = comet_core::now();
        match self
            .store
            .hit_rate_window(&key, at, i64::try_from(period_ms).unwrap_or(i64::MAX))
            .await
        {
            Ok((started, calls)) => {
                let elapsed = (at - started).to_std().unwrap_or_default();
                Some((calls, period.saturating_sub(elapsed)))
            }
            Err(e) => {
                // The request itself will meet the same database; refusing it here would
                // only hide the real failure.
                tracing::warn!(error = %e, "rate limit window unavailable");
                None
            }
        }
    }

    /// The per-user upload limit (`FileUpload_Rate_Limit_Per_Minute`, 0 = off), counted for
    /// every file and avatar a user sends whatever the transport or client address, so that
    /// one account cannot fill the disk from many addresses. Users who may bypass the API
    /// rate limiter bypass this too.
    pub(crate) async fn check_upload_rate(&self, user: &User) -> comet_core::Result<()> {
        let Ok(limit) = u64::try_from(self.setting_int("FileUpload_Rate_Limit_Per_Minute")) else {
            return Ok(());
        };
        if limit == 0 || self.has_permission(user, "api-bypass-rate-limit") {
            return Ok(());
        }
        let key = format!("upload\u{0}{}", user.id);
        let Some((calls, reset_in)) = self.count_in_window(key, 60_000).await else {
            return Ok(());
        };
        if calls > limit {
            let wait_seconds = reset_in.as_millis().div_ceil(1000).max(1);
            tracing::info!(user = %user.id, limit, "upload rate limit reached");
            return Err(Error::too_many_requests(
                u64::try_from(wait_seconds).unwrap_or(u64::MAX),
            ));
        }
        Ok(())
    }
}
