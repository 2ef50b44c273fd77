//! DDP on the wire: a WebSocket text frame into DDP messages, and EJSON dates in parameters.

use comet_core::Timestamp;
use serde_json::Value;

/// How the socket frames DDP: raw JSON, or SockJS (`a["..."]` frames).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Raw,
    SockJs,
}

/// Parses one client frame into DDP messages (SockJS frames may carry several); `None` when
/// the frame is not DDP at all.
pub fn decode_frame(framing: Framing, text: &str) -> Option<Vec<Value>> {
    match framing {
        Framing::Raw => {
            let value: Value = serde_json::from_str(text).ok()?;
            match value {
                // Some clients wrap a message in an array.
                Value::Array(items) => Some(items),
                other => Some(vec![other]),
            }
        }
        Framing::SockJs => {
            let batch: Vec<String> = serde_json::from_str(text).ok()?;
            batch.iter().map(|m| serde_json::from_str(m).ok()).collect()
        }
    }
}

/// An EJSON date (`{"$date": ms}`) or an ISO string, as method parameters carry times.
pub fn ejson_date(value: &Value) -> Option<Timestamp> {
    if let Some(ms) = value.get("$date").and_then(Value::as_i64) {
        return chrono::DateTime::from_timestamp_millis(ms);
    }
    value
        .as_str()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|d| d.with_timezone(&chrono::Utc))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

        /// Any text a client sends is either DDP messages or a clean refusal, never a panic.
        #[test]
        fn the_frame_parser_never_panics(text in "\\PC{0,300}") {
            let _ = decode_frame(Framing::Raw, &text);
            let _ = decode_frame(Framing::SockJs, &text);
        }

        /// JSON-shaped garbage too: nested arrays, strings of JSON, numbers.
        #[test]
        fn json_shaped_input_is_handled(text in r#"[\[\]{}",:0-9a-z\\ ]{0,200}"#) {
            let _ = decode_frame(Framing::Raw, &text);
            let _ = decode_frame(Framing::SockJs, &text);
        }
    }

    #[test]
    fn decodes_raw_and_sockjs_frames() {
        let raw = decode_frame(Framing::Raw, r#"{"msg":"ping"}"#).expect("raw");
        assert_eq!(raw[0]["msg"], "ping");
        let wrapped =
            decode_frame(Framing::Raw, r#"[{"msg":"ping"},{"msg":"pong"}]"#).expect("array");
        assert_eq!(wrapped.len(), 2);
        let sockjs = decode_frame(Framing::SockJs, r#"["{\"msg\":\"connect\"}"]"#).expect("sockjs");
        assert_eq!(sockjs[0]["msg"], "connect");
        assert!(decode_frame(Framing::SockJs, r#"["not json"]"#).is_none());
        assert!(decode_frame(Framing::Raw, "{").is_none());
    }

    #[test]
    fn dates_come_as_ejson_or_iso() {
        let ms = 1_714_564_800_007_i64;
        let from_ejson = ejson_date(&json!({"$date": ms})).expect("EJSON date");
        assert_eq!(from_ejson.timestamp_millis(), ms);
        let from_iso = ejson_date(&json!("2024-05-01T12:00:00.007Z")).expect("ISO date");
        assert_eq!(from_iso, from_ejson);
        assert_eq!(ejson_date(&json!({"$date": "soon"})), None);
        assert_eq!(ejson_date(&json!({"$date": i64::MAX})), None);
        assert_eq!(ejson_date(&json!(17)), None);
    }
}
