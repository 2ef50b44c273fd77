//! A WebSocket text frame from a client, as DDP reads it (raw and SockJS framing), then what
//! the server reads out of each message: EJSON dates and the message a client sends.
//!
//! Invariants: a frame that decodes re-encodes to a frame that decodes to the same messages;
//! turning a document into EJSON only replaces date strings by `{"$date": ms}` of the same
//! instant and is idempotent; an EJSON date read from a parameter keeps its milliseconds.

#![no_main]

use comet_protocol::ddp::{Framing, decode_frame, ejson_date};
use comet_protocol::{chat, ejson};
use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    // WebSocket text frames are UTF-8 by the time DDP sees them.
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for framing in [Framing::Raw, Framing::SockJs] {
        let Some(batch) = decode_frame(framing, text) else {
            continue;
        };
        let again = encode(framing, &batch);
        let decoded = decode_frame(framing, &again)
            .unwrap_or_else(|| panic!("{framing:?} frame {again:?} does not decode"));
        assert!(
            decoded.len() == batch.len() && decoded.iter().zip(&batch).all(|(a, b)| same(a, b)),
            "{framing:?} frame {again:?} decodes to {decoded:?}, not {batch:?}"
        );
        for message in &batch {
            check_ejson(message);
            check_method(message);
        }
    }
});

/// Equal values, floats within a rounding of their last digit (serde_json reads decimal
/// floats fast rather than exactly, so printing and reading one may move it by an ulp).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) if x.is_f64() || y.is_f64() => {
            let (x, y) = (
                x.as_f64().unwrap_or(f64::NAN),
                y.as_f64().unwrap_or(f64::NAN),
            );
            x == y || (x - y).abs() <= f64::EPSILON * 4.0 * x.abs().max(y.abs())
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// A frame carrying `batch`, as a client would send it.
fn encode(framing: Framing, batch: &[Value]) -> String {
    match framing {
        // One message that is not an array goes alone; anything else as an array.
        Framing::Raw => match batch {
            [single] if !single.is_array() => single.to_string(),
            _ => Value::Array(batch.to_vec()).to_string(),
        },
        Framing::SockJs => {
            let texts: Vec<String> = batch.iter().map(Value::to_string).collect();
            json!(texts).to_string()
        }
    }
}

fn check_ejson(message: &Value) {
    let converted = ejson(message.clone());
    same_but_dates(message, &converted);
    assert_eq!(
        ejson(converted.clone()),
        converted,
        "EJSON is not idempotent"
    );
}

/// `after` is `before` with some date strings turned into `{"$date": ms}` of the same instant.
fn same_but_dates(before: &Value, after: &Value) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            assert!(b.keys().eq(a.keys()), "keys changed: {before} → {after}");
            for (key, value) in b {
                same_but_dates(value, &a[key]);
            }
        }
        (Value::Array(b), Value::Array(a)) => {
            assert_eq!(b.len(), a.len(), "array length changed");
            for (b, a) in b.iter().zip(a) {
                same_but_dates(b, a);
            }
        }
        (Value::String(text), Value::Object(_)) => {
            let instant = chrono::DateTime::parse_from_rfc3339(text)
                .unwrap_or_else(|_| panic!("{text:?} became {after} but is no date"));
            assert_eq!(*after, json!({"$date": instant.timestamp_millis()}));
        }
        _ => assert_eq!(before, after, "a value changed that is no date"),
    }
}

fn check_method(message: &Value) {
    if message.get("msg").and_then(Value::as_str) != Some("method") {
        return;
    }
    let Some(params) = message.get("params").and_then(Value::as_array) else {
        return;
    };
    for param in params {
        if let Some(at) = ejson_date(param) {
            let ms = at.timestamp_millis();
            if let Some(sent) = param.get("$date").and_then(Value::as_i64) {
                assert_eq!(ms, sent, "EJSON date changed its milliseconds");
            }
            let back = ejson_date(&json!({"$date": ms})).map(|d| d.timestamp_millis());
            assert_eq!(back, Some(ms), "a date read does not read back");
        }
    }
    if let Some(first) = params.first()
        && let Ok(sent) = chat::new_message(first, "msg")
    {
        let text = first.get("msg").and_then(Value::as_str).unwrap_or_default();
        assert_eq!(sent.text, text);
        assert!(
            sent.thread_id.as_deref() != Some(""),
            "empty thread id kept"
        );
    }
}
