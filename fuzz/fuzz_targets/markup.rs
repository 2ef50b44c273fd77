//! Message text: the markup tree `md` (upstream's message grammar) and the mentions a message
//! makes (`@user`, `@all`, `@here`, `#channel`).
//!
//! The first byte picks the parser options; the rest is the text. Invariants: only an empty
//! text has no tree; the tree survives being stored as JSON and read back (which also bounds
//! its depth by what a JSON reader accepts) and stays within a size proportional to the text;
//! every mentioned name is written in the text; mentions are not repeated.

#![no_main]

use comet_core::markup::{Options, parse_json};
use comet_core::mentions;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// How much larger than the text its stored tree may be (each character can become a node
/// such as `{"type":"PLAIN_TEXT","value":"x"}`, inside a few levels of emphasis).
const MAX_GROWTH: usize = 256;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, rest)) = data.split_first() else {
        return;
    };
    let text = String::from_utf8_lossy(rest);
    let options = Options {
        colors: flags & 1 != 0,
        emoticons: flags & 2 != 0,
        katex_dollar: flags & 4 != 0,
        katex_parenthesis: flags & 8 != 0,
        custom_domains: if flags & 16 != 0 {
            vec!["corp".to_owned(), "intra.example".to_owned()]
        } else {
            Vec::new()
        },
    };
    check_markup(&text, &options);
    check_mentions(&text);
});

fn check_markup(text: &str, options: &Options) {
    let md = parse_json(text, options);
    assert_eq!(
        md.is_none(),
        text.is_empty(),
        "a tree exists iff there is text"
    );
    let Some(md) = md else {
        return;
    };
    let stored = md.to_string();
    let read: Value = serde_json::from_str(&stored)
        .unwrap_or_else(|e| panic!("stored md does not read back ({e}), depth {}", depth(&md)));
    assert_eq!(read, md, "stored md reads back differently");
    assert!(
        stored.len() <= MAX_GROWTH * text.len() + 1024,
        "md of {} bytes for a text of {}",
        stored.len(),
        text.len()
    );
    names_are_in_text(&md, text);
}

fn depth(value: &Value) -> usize {
    match value {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(map) => 1 + map.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// Mention nodes name what the text says.
fn names_are_in_text(node: &Value, text: &str) {
    match node {
        Value::Array(items) => items.iter().for_each(|n| names_are_in_text(n, text)),
        Value::Object(map) => {
            let kind = map.get("type").and_then(Value::as_str);
            if matches!(kind, Some("MENTION_USER" | "MENTION_CHANNEL")) {
                let name = node["value"]["value"].as_str().unwrap_or_default();
                assert!(text.contains(name), "mention {name:?} not in the text");
            }
            map.values().for_each(|n| names_are_in_text(n, text));
        }
        _ => {}
    }
}

fn check_mentions(text: &str) {
    let found = mentions::parse(text);
    let mut seen = std::collections::HashSet::new();
    for user in &found.users {
        assert!(
            text.contains(&format!("@{user}")),
            "@{user} not in the text"
        );
        assert!(user != "all" && user != "here", "{user} is a group word");
        assert!(seen.insert(user.to_lowercase()), "@{user} repeated");
        assert!(!user.ends_with('.'), "@{user} keeps a sentence's dot");
    }
    seen.clear();
    for channel in &found.channels {
        assert!(
            text.contains(&format!("#{channel}")),
            "#{channel} not in the text"
        );
        assert!(seen.insert(channel.to_lowercase()), "#{channel} repeated");
    }
    if found.all {
        assert!(text.contains("@all"));
    }
    if found.here {
        assert!(text.contains("@here"));
    }
}
