//! Comet's domain: identifiers, users, roles, permissions, settings and the one error type.
//!
//! Nothing in this crate performs I/O; everything here is a value or a pure rule.

pub mod assets;
pub mod audit;
pub mod catalog;
pub mod conditions;
pub mod error;
pub mod id;
pub mod links;
pub mod markup;
pub mod mentions;
pub mod message_rules;
pub mod moderation;
pub mod page;
pub mod password;
pub mod role;
pub mod room;
pub mod search;
pub mod setting;
pub mod slug;
pub mod team;
pub mod totp;
pub mod user;
pub mod validate;

pub use error::{Error, ErrorKind, Result};

/// A point in time, always UTC.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// A date as Rocket.Chat puts it in JSON: ISO 8601 with milliseconds and `Z`, as JavaScript's
/// `Date.toJSON`. (Written without a format string: parsing one for every date of every
/// message was a few percent of a post's time.)
pub fn iso(t: Timestamp) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The current time truncated to milliseconds, the precision Rocket.Chat's dates carry on the wire.
pub fn now() -> Timestamp {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_millis(now.timestamp_millis()).unwrap_or(now)
}
