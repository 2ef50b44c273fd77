//! Rocket.Chat's wire shapes, written by hand from domain values.
//!
//! Field names, optional fields and date formats follow upstream's `core-typings` and what its
//! REST routes return; nothing here derives a wire shape from a domain type.

pub mod chat;
pub mod ddp;
pub mod moderation;
pub mod rest;

pub use comet_core::iso;

#[cfg(test)]
mod tests {
    #[test]
    fn iso_dates_match_javascript() {
        let t = chrono::DateTime::from_timestamp_millis(1_714_564_800_007).expect("valid");
        assert_eq!(super::iso(t), "2024-05-01T12:00:00.007Z");
    }
}

/// The keys whose values are dates in Rocket.Chat's documents.
const DATE_KEYS: &[&str] = &[
    "ts",
    "_updatedAt",
    "lm",
    "ls",
    "lr",
    "tlm",
    "dlm",
    "editedAt",
    "pinnedAt",
    "createdAt",
    "lastLogin",
    "_deletedAt",
    "expires",
    "tokenExpires",
];

/// Turns a REST document into its EJSON form (the DDP form): dates become `{"$date": ms}`.
pub fn ejson(value: serde_json::Value) -> serde_json::Value {
    use serde_json::Value;
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(key, value)| {
                    let value = match (&value, DATE_KEYS.contains(&key.as_str())) {
                        (Value::String(text), true) => chrono::DateTime::parse_from_rfc3339(text)
                            .map(|d| serde_json::json!({"$date": d.timestamp_millis()}))
                            .unwrap_or(value),
                        _ => ejson(value),
                    };
                    (key, value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(ejson).collect()),
        other => other,
    }
}

#[cfg(test)]
mod ejson_tests {
    #[test]
    fn dates_become_ejson_deeply() {
        let rest = serde_json::json!({"ts": "2024-05-01T12:00:00.007Z", "msg": "2024-05-01T12:00:00.007Z",
            "lastMessage": {"_updatedAt": "2024-05-01T12:00:00.007Z"}, "list": [{"ts": "nope"}]});
        let e = super::ejson(rest);
        assert_eq!(e["ts"], serde_json::json!({"$date": 1_714_564_800_007_i64}));
        assert_eq!(e["msg"], serde_json::json!("2024-05-01T12:00:00.007Z"));
        assert_eq!(
            e["lastMessage"]["_updatedAt"]["$date"],
            serde_json::json!(1_714_564_800_007_i64)
        );
        assert_eq!(e["list"][0]["ts"], serde_json::json!("nope"));
    }
}
