//! REST parameters: a query string, a form body or a JSON body read into one object, then the
//! typed readers the routes use (`count`/`offset`, `sort`, `fields`-style lists, `query`
//! selectors, dates, user and room references).
//!
//! The first byte picks the source (and the `API_Allow_Infinite_Count` setting); the rest is
//! the text. Invariants: parameters are always an object; a query string re-encoded from what
//! was read reads the same; a page never exceeds the upper count; a number read is the number
//! written; lists hold no empty or comma-joined items; dates read back the same instant.

#![no_main]

use chrono::Datelike;
use comet_api_rest::params::{
    PageLimits, json_sort, message_query, opt_bool, opt_str, opt_str_list, opt_u64, page_window,
    parse_js_date, room_ref, user_ref, user_refs, user_sort,
};
use comet_api_rest::{params_from_body, parse_urlencoded};
use comet_core::page::MessageFilter;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Names the routes read, plus whatever the input itself names.
const NAMES: &[&str] = &[
    "count",
    "offset",
    "sort",
    "fields",
    "query",
    "userIds",
    "usernames",
    "userId",
    "username",
    "roomId",
    "roomName",
    "latest",
    "oldest",
    "inclusive",
    "unreads",
    "text",
    "type",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    let params = match selector % 3 {
        0 => {
            let Ok(query) = std::str::from_utf8(rest) else {
                return;
            };
            match parse_urlencoded(query) {
                Ok(params) => {
                    check_query_round_trip(&params);
                    params
                }
                Err(_) => return,
            }
        }
        1 => match params_from_body("application/x-www-form-urlencoded", rest) {
            Ok(params) => params,
            Err(_) => return,
        },
        _ => match params_from_body("application/json; charset=utf-8", rest) {
            Ok(params) => params,
            Err(_) => return,
        },
    };
    let Value::Object(map) = &params else {
        panic!("parameters are not an object: {params}");
    };
    let limits = PageLimits {
        default_count: 50,
        upper_count: 100,
        allow_infinite: selector & 0x80 != 0,
    };
    check_page(&params, limits);
    let names = NAMES.iter().copied().chain(map.keys().map(String::as_str));
    for name in names {
        check_scalars(&params, name);
        check_list(&params, name);
    }
    if let Ok(sort) = user_sort(&params)
        && let Some(Value::String(raw)) = params.get("sort")
    {
        let fields = serde_json::from_str::<Value>(raw)
            .ok()
            .and_then(|v| v.as_object().map(serde_json::Map::len));
        assert_eq!(Some(sort.len()), fields, "sort keys lost or invented");
    }
    let _ = json_sort(&params, Vec::new(), |field| Some(field.len()));
    let mut filter = MessageFilter::default();
    if message_query(&params, &mut filter).is_ok() && filter.pinned_only {
        let raw = params
            .get("query")
            .and_then(Value::as_str)
            .unwrap_or_default();
        assert!(raw.contains("pinned"), "pinned without asking: {raw}");
    }
    let _ = (user_ref(&params), room_ref(&params), user_refs(&params));
});

/// The object re-encoded as a query string (`key[]=` for arrays) reads back the same.
fn check_query_round_trip(params: &Value) {
    let Value::Object(map) = params else {
        panic!("a query string read as {params}");
    };
    let mut pairs: Vec<(String, &str)> = Vec::new();
    for (key, value) in map {
        match value {
            Value::String(text) => pairs.push((key.clone(), text)),
            Value::Array(items) => {
                assert!(!items.is_empty(), "an empty list from a query string");
                for item in items {
                    let text = item.as_str().expect("query values are strings");
                    pairs.push((format!("{key}[]"), text));
                }
            }
            other => panic!("a query string value read as {other}"),
        }
    }
    let encoded = serde_urlencoded_pairs(&pairs);
    let again = parse_urlencoded(&encoded).expect("re-encoded query reads");
    assert_eq!(&again, params, "query {encoded:?} reads differently");
}

/// Percent-encodes pairs as `application/x-www-form-urlencoded`.
fn serde_urlencoded_pairs(pairs: &[(String, &str)]) -> String {
    fn encode(text: &str, out: &mut String) {
        for byte in text.bytes() {
            match byte {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                    out.push(char::from(byte));
                }
                b' ' => out.push('+'),
                _ => out.push_str(&format!("%{byte:02X}")),
            }
        }
    }
    let mut out = String::new();
    for (i, (key, value)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode(key, &mut out);
        out.push('=');
        encode(value, &mut out);
    }
    out
}

fn check_page(params: &Value, limits: PageLimits) {
    let Ok((offset, count)) = page_window(params, limits) else {
        return;
    };
    match count {
        Some(count) => assert!(count <= limits.upper_count, "count {count} over the limit"),
        None => assert!(limits.allow_infinite, "unbounded page without the setting"),
    }
    let written = opt_u64(params, "offset").ok().flatten().unwrap_or(0);
    assert_eq!(offset, written);
}

fn check_scalars(params: &Value, name: &str) {
    if let Ok(Some(n)) = opt_u64(params, name) {
        match &params[name] {
            Value::Number(number) => assert_eq!(number.as_u64(), Some(n)),
            Value::String(text) => assert_eq!(text.trim().parse::<u64>().ok(), Some(n)),
            other => panic!("{other} read as the number {n}"),
        }
    }
    if let Ok(Some(flag)) = opt_bool(params, name) {
        let value = &params[name];
        assert!(*value == Value::Bool(flag) || *value == Value::String(flag.to_string()));
    }
    // RFC 3339 has four-digit years only.
    if let Ok(Some(text)) = opt_str(params, name)
        && let Some(at) = parse_js_date(&text)
        && (0..=9999).contains(&at.year())
    {
        let again = parse_js_date(&at.to_rfc3339());
        assert_eq!(
            again,
            Some(at),
            "{text:?} does not read back as the same instant"
        );
    }
}

fn check_list(params: &Value, name: &str) {
    let Ok(Some(list)) = opt_str_list(params, name) else {
        return;
    };
    if let Some(Value::String(text)) = params.get(name)
        && !text.trim_start().starts_with('[')
    {
        for item in &list {
            assert!(!item.is_empty() && !item.contains(','), "bad item {item:?}");
            assert_eq!(item.trim(), item, "untrimmed item {item:?}");
        }
    }
}
