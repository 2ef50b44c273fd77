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
    /// A route's own `rateLimiterOptions`: `limit` calls per `period_ms`.
    Fixed { limit: u64, period_ms: u64 },
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
    period: Duration,
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
            // Each window by its own period: a day-long count must not go with the short ones.
            windows.retain(|_, w| now.duration_since(w.started) < w.period);
        }
        let window = windows.entry(key).or_insert(Window {
            started: now,
            period,
            calls: 0,
        });
        if now.duration_since(window.started) >= window.period || window.period != period {
            window.started = now;
            window.period = period;
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
            RateLimitPolicy::Fixed { limit, period_ms } => (
                i64::try_from(limit).unwrap_or(i64::MAX),
                i64::try_from(period_ms).unwrap_or(i64::MAX),
            ),
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

/// One of upstream's DDP limits, configured by `DDP_Rate_Limit_<name>_Enabled`,
/// `..._Requests_Allowed` and `..._Interval_Time` (milliseconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DdpLimit {
    /// Calls from one client address (loopback exempt, as upstream).
    Ip,
    /// Calls by one logged-in user, over all their connections.
    User,
    /// Calls on one connection.
    Connection,
    /// Calls of one method (or subscription) by one logged-in user.
    UserByMethod,
    /// Calls of one method (or subscription) on one connection.
    ConnectionByMethod,
}

impl DdpLimit {
    fn setting_name(self) -> &'static str {
        match self {
            DdpLimit::Ip => "IP",
            DdpLimit::User => "User",
            DdpLimit::Connection => "Connection",
            DdpLimit::UserByMethod => "User_By_Method",
            DdpLimit::ConnectionByMethod => "Connection_By_Method",
        }
    }
}

/// How many calls a limit allows in how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Allowance {
    pub calls: u64,
    pub period: Duration,
}

impl Allowance {
    /// Upstream scales the per-method allowance of stream subscriptions (`stream-*`) by four,
    /// calls and interval alike: the same rate, a larger burst.
    fn scaled(self, factor: u32) -> Allowance {
        Allowance {
            calls: self.calls.saturating_mul(u64::from(factor)),
            period: self.period.saturating_mul(factor),
        }
    }
}

/// What a DDP call is, for the limits.
pub struct DdpCall<'a> {
    pub user: Option<&'a User>,
    pub ip: Option<std::net::IpAddr>,
    /// The method's or the subscription's name.
    pub name: &'a str,
}

impl DdpCall<'_> {
    fn per_method_factor(&self) -> u32 {
        if self.name.starts_with("stream-") {
            4
        } else {
            1
        }
    }
}

impl Service {
    /// A DDP limit's allowance as the settings say, `None` when it is off.
    pub fn ddp_allowance(&self, limit: DdpLimit) -> Option<Allowance> {
        let name = limit.setting_name();
        if !self.setting_bool(&format!("DDP_Rate_Limit_{name}_Enabled")) {
            return None;
        }
        let calls =
            u64::try_from(self.setting_int(&format!("DDP_Rate_Limit_{name}_Requests_Allowed")))
                .ok()?;
        let period_ms =
            u64::try_from(self.setting_int(&format!("DDP_Rate_Limit_{name}_Interval_Time")))
                .ok()?;
        (period_ms > 0).then(|| Allowance {
            calls,
            period: Duration::from_millis(period_ms),
        })
    }

    /// Whether the caller is exempt from the DDP limits (`api-bypass-rate-limit`).
    pub fn bypasses_rate_limits(&self, user: Option<&User>) -> bool {
        user.is_some_and(|u| self.has_permission(u, "api-bypass-rate-limit"))
    }

    /// Counts a DDP call against the limits that span connections (per address, per user, per
    /// user and method), kept by this instance as upstream's are; every applicable limit counts
    /// the call. `Err(time to reset)` of the longest refusing limit.
    pub fn check_ddp_shared_limits(&self, call: &DdpCall<'_>) -> Result<(), Duration> {
        if self.bypasses_rate_limits(call.user) {
            return Ok(());
        }
        let mut refused: Option<Duration> = None;
        let mut count = |key: String, allowance: Allowance| {
            let (calls, reset_in) = self.rate_limiter.hit(key, allowance.period);
            if calls > allowance.calls {
                refused = Some(refused.map_or(reset_in, |r| r.max(reset_in)));
            }
        };
        if let Some(ip) = call.ip.filter(|ip| !ip.is_loopback())
            && let Some(allowance) = self.ddp_allowance(DdpLimit::Ip)
        {
            count(format!("ddp-ip\u{0}{ip}"), allowance);
        }
        if let Some(user) = call.user {
            if let Some(allowance) = self.ddp_allowance(DdpLimit::User) {
                count(format!("ddp-user\u{0}{}", user.id), allowance);
            }
            if let Some(allowance) = self.ddp_allowance(DdpLimit::UserByMethod) {
                count(
                    format!("ddp-user-method\u{0}{}\u{0}{}", user.id, call.name),
                    allowance.scaled(call.per_method_factor()),
                );
            }
        }
        refused.map_or(Ok(()), Err)
    }

    /// The per-connection allowances for a call: in all, and for its method.
    pub fn ddp_connection_allowances(&self, name: &str) -> (Option<Allowance>, Option<Allowance>) {
        let factor = DdpCall {
            user: None,
            ip: None,
            name,
        }
        .per_method_factor();
        (
            self.ddp_allowance(DdpLimit::Connection),
            self.ddp_allowance(DdpLimit::ConnectionByMethod)
                .map(|a| a.scaled(factor)),
        )
    }

    /// The per-user message limit (`Comet_Abuse_Messages_Per_User_Limit` messages per
    /// `Comet_Abuse_Messages_Per_User_Interval_Time` milliseconds, 0 = off), over every
    /// transport: upstream limits `sendMessage` to 5 a second for users without
    /// `send-many-messages`, on DDP only; here REST posts count too.
    pub(crate) fn check_message_rate(&self, user: &User) -> comet_core::Result<()> {
        let (Ok(limit), Ok(period_ms)) = (
            u64::try_from(self.setting_int("Comet_Abuse_Messages_Per_User_Limit")),
            u64::try_from(self.setting_int("Comet_Abuse_Messages_Per_User_Interval_Time")),
        ) else {
            return Ok(());
        };
        if limit == 0 || period_ms == 0 || self.has_permission(user, "send-many-messages") {
            return Ok(());
        }
        // Counted by this instance, as upstream's method limits are: the message path must
        // not wait on the database for it.
        let (calls, reset_in) = self.rate_limiter.hit(
            format!("messages\u{0}{}", user.id),
            Duration::from_millis(period_ms),
        );
        if calls > limit {
            let wait_seconds = reset_in.as_millis().div_ceil(1000).max(1);
            return Err(Error::too_many_requests(
                u64::try_from(wait_seconds).unwrap_or(u64::MAX),
            ));
        }
        Ok(())
    }

    /// Counts one action under `key` and refuses it with a 429 past `limit` per `period_ms`.
    pub(crate) async fn check_window(
        &self,
        key: String,
        limit: u64,
        period_ms: u64,
    ) -> comet_core::Result<()> {
        let Some((calls, reset_in)) = self.count_in_window(key, period_ms).await else {
            return Ok(());
        };
        if calls > limit {
            let wait_seconds = reset_in.as_millis().div_ceil(1000).max(1);
            return Err(Error::too_many_requests(
                u64::try_from(wait_seconds).unwrap_or(u64::MAX),
            ));
        }
        Ok(())
    }
}
