//! Rocket.Chat's wire shapes, written by hand from domain values.
//!
//! Field names, optional fields and date formats follow upstream's `core-typings` and what its
//! REST routes return; nothing here derives a wire shape from a domain type.

pub mod chat;
pub mod rest;

use comet_core::Timestamp;

/// A REST date: ISO 8601 with milliseconds and `Z`, as JavaScript's `Date.toJSON`.
pub fn iso(t: Timestamp) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_match_javascript() {
        let t = chrono::DateTime::from_timestamp_millis(1_714_564_800_007).expect("valid");
        assert_eq!(super::iso(t), "2024-05-01T12:00:00.007Z");
    }
}
