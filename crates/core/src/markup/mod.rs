//! A message's text as a tree of markup: upstream's `md` field, which Rocket.Chat computes with
//! its message parser (`@rocket.chat/message-parser`) before saving every message a person
//! writes, and from which its clients render messages. The tree has the same shape as
//! upstream's, node for node: blocks (`PARAGRAPH`, `HEADING`, `CODE`, `QUOTE`, lists, tasks,
//! `LINE_BREAK`, `KATEX`, `BIG_EMOJI`) holding inlines (`PLAIN_TEXT`, `BOLD`, `ITALIC`,
//! `STRIKE`, `INLINE_CODE`, `LINK`, `IMAGE`, mentions, `EMOJI`, `COLOR`, `INLINE_KATEX`,
//! `TIMESTAMP`), each a JSON object with `type` and `value` keys.
//!
//! The parser (`parser.rs`) follows upstream's grammar rule by rule, including its ordered
//! choices and its quirks, so that clients see the same tree for the same text. Unlike a
//! backtracking grammar it is bounded: every rule attempt is counted against a budget
//! proportional to the text's length, and nesting has a fixed limit. A text that would exceed
//! them (only contrived ones do) is given the plain tree: one paragraph of plain text a line.
//! Nothing here panics on any input.

mod parser;
mod unicode_tables;

use serde_json::{Map, Value, json};
use std::collections::HashSet;
use std::sync::LazyLock;

/// What the parser recognises beyond the always-on syntax, as upstream's server configures it
/// from settings (`HexColorPreview_Enabled`, `Katex_*`, `Message_CustomDomain_AutoLink`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// `color:#rrggbb` as a `COLOR` node.
    pub colors: bool,
    /// `:)`, `<3`... as `EMOJI` nodes (the server always turns them on).
    pub emoticons: bool,
    /// `$$...$$` and `$...$` as KaTeX.
    pub katex_dollar: bool,
    /// `\[...\]` and `\(...\)` as KaTeX.
    pub katex_parenthesis: bool,
    /// Host names linked although their suffix is not a public one (an intranet's `.corp`).
    pub custom_domains: Vec<String>,
}

impl Default for Options {
    /// Upstream's defaults: colors and emoticons on, KaTeX with the parenthesis syntax only.
    fn default() -> Self {
        Options {
            colors: true,
            emoticons: true,
            katex_dollar: false,
            katex_parenthesis: true,
            custom_domains: Vec::new(),
        }
    }
}

/// An inline node.
#[derive(Debug, Clone, PartialEq)]
pub enum Inline {
    Plain(String),
    Bold(Vec<Inline>),
    Italic(Vec<Inline>),
    Strike(Vec<Inline>),
    InlineCode(String),
    Link {
        src: String,
        label: Vec<Inline>,
    },
    Image {
        src: String,
        label: String,
    },
    MentionUser(String),
    MentionChannel(String),
    /// `:shortcode:` (`value` is the shortcode) or an emoticon (`value` is what was typed).
    Emoji {
        value: String,
        short_code: String,
    },
    /// An emoji typed as its Unicode character(s).
    EmojiUnicode(String),
    Color {
        r: u8,
        g: u8,
        b: u8,
        a: u8,
    },
    InlineKatex(String),
    /// `<t:1630360800:R>`: the Unix time as written and its format letter.
    Timestamp {
        timestamp: String,
        format: char,
    },
}

/// A block node.
#[derive(Debug, Clone, PartialEq)]
pub enum Block {
    Paragraph(Vec<Inline>),
    Heading {
        level: u8,
        value: Vec<Inline>,
    },
    /// A fenced code block: its language (`none` when not given) and lines.
    Code {
        language: String,
        lines: Vec<String>,
    },
    /// `>` lines: a paragraph each.
    Quote(Vec<Vec<Inline>>),
    /// `- [x] done` lines: whether checked, and the text.
    Tasks(Vec<(bool, Vec<Inline>)>),
    /// `1. item` lines: the number as written (read as JavaScript's `parseInt` would) and text.
    OrderedList(Vec<(f64, Vec<Inline>)>),
    UnorderedList(Vec<Vec<Inline>>),
    LineBreak,
    Katex(String),
    /// A message of one to three emoji and nothing else.
    BigEmoji(Vec<Inline>),
}

/// The tree of `text`, or `None` for an empty text (upstream leaves `md` out then).
pub fn parse(text: &str, options: &Options) -> Option<Vec<Block>> {
    if text.is_empty() {
        return None;
    }
    Some(parser::parse(text, options))
}

/// `md` as upstream stores it: the tree of `text` as JSON, or `None` for an empty text.
pub fn parse_json(text: &str, options: &Options) -> Option<Value> {
    parse(text, options).map(|blocks| Value::Array(blocks.iter().map(block_json).collect()))
}

fn plain_json(text: &str) -> Value {
    json!({"type": "PLAIN_TEXT", "value": text})
}

fn inlines_json(inlines: &[Inline]) -> Value {
    Value::Array(inlines.iter().map(inline_json).collect())
}

fn typed(kind: &str, value: Value) -> Value {
    json!({"type": kind, "value": value})
}

/// One inline as JSON. Fields upstream leaves `undefined` (the `value` of a Unicode emoji) are
/// absent, as they are once upstream has stored the message.
pub fn inline_json(inline: &Inline) -> Value {
    match inline {
        Inline::Plain(text) => plain_json(text),
        Inline::Bold(items) => typed("BOLD", inlines_json(items)),
        Inline::Italic(items) => typed("ITALIC", inlines_json(items)),
        Inline::Strike(items) => typed("STRIKE", inlines_json(items)),
        Inline::InlineCode(code) => typed("INLINE_CODE", plain_json(code)),
        Inline::Link { src, label } => typed(
            "LINK",
            json!({"src": plain_json(src), "label": inlines_json(label)}),
        ),
        Inline::Image { src, label } => typed(
            "IMAGE",
            json!({"src": plain_json(src), "label": plain_json(label)}),
        ),
        Inline::MentionUser(name) => typed("MENTION_USER", plain_json(name)),
        Inline::MentionChannel(name) => typed("MENTION_CHANNEL", plain_json(name)),
        Inline::Emoji { value, short_code } => {
            json!({"type": "EMOJI", "value": plain_json(value), "shortCode": short_code})
        }
        Inline::EmojiUnicode(unicode) => json!({"type": "EMOJI", "unicode": unicode}),
        Inline::Color { r, g, b, a } => typed("COLOR", json!({"r": r, "g": g, "b": b, "a": a})),
        Inline::InlineKatex(source) => typed("INLINE_KATEX", json!(source)),
        Inline::Timestamp { timestamp, format } => typed(
            "TIMESTAMP",
            json!({"timestamp": timestamp, "format": format.to_string()}),
        ),
    }
}

/// A list item's number: an integer when it is one JavaScript holds exactly.
fn number_json(number: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if number.fract() == 0.0 && number.abs() < EXACT {
        // In range and integral, so the conversion is exact.
        json!(number as i64)
    } else {
        serde_json::Number::from_f64(number).map_or(Value::Null, Value::Number)
    }
}

/// One block as JSON (a `LINE_BREAK` has no `value`, as upstream stores it).
pub fn block_json(block: &Block) -> Value {
    match block {
        Block::Paragraph(items) => typed("PARAGRAPH", inlines_json(items)),
        Block::Heading { level, value } => {
            json!({"type": "HEADING", "level": level, "value": inlines_json(value)})
        }
        Block::Code { language, lines } => json!({
            "type": "CODE",
            "language": language,
            "value": lines
                .iter()
                .map(|line| typed("CODE_LINE", plain_json(line)))
                .collect::<Vec<_>>(),
        }),
        Block::Quote(paragraphs) => typed(
            "QUOTE",
            Value::Array(
                paragraphs
                    .iter()
                    .map(|p| typed("PARAGRAPH", inlines_json(p)))
                    .collect(),
            ),
        ),
        Block::Tasks(tasks) => typed(
            "TASKS",
            Value::Array(
                tasks
                    .iter()
                    .map(|(status, value)| {
                        json!({"type": "TASK", "status": status, "value": inlines_json(value)})
                    })
                    .collect(),
            ),
        ),
        Block::OrderedList(items) => typed(
            "ORDERED_LIST",
            Value::Array(
                items
                    .iter()
                    .map(|(number, value)| {
                        let mut item = Map::new();
                        item.insert("type".into(), json!("LIST_ITEM"));
                        item.insert("value".into(), inlines_json(value));
                        item.insert("number".into(), number_json(*number));
                        Value::Object(item)
                    })
                    .collect(),
            ),
        ),
        Block::UnorderedList(items) => typed(
            "UNORDERED_LIST",
            Value::Array(
                items
                    .iter()
                    .map(|value| typed("LIST_ITEM", inlines_json(value)))
                    .collect(),
            ),
        ),
        Block::LineBreak => json!({"type": "LINE_BREAK"}),
        Block::Katex(source) => typed("KATEX", json!(source)),
        Block::BigEmoji(emoji) => typed("BIG_EMOJI", inlines_json(emoji)),
    }
}

/// The top-level domains of the public suffix list's ICANN section.
static TLDS: LazyLock<HashSet<&'static str>> = LazyLock::new(|| {
    include_str!("tlds.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .collect()
});

/// The host of a URL-like text as upstream's suffix library reads it: after any `scheme://`,
/// before any path, query or fragment, after any `user@`, before any `:port`; lowercase.
fn host_of(text: &str) -> String {
    let rest = match text.find("://") {
        Some(at)
            if text[..at]
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')) =>
        {
            &text[at + 3..]
        }
        _ => text.strip_prefix("//").unwrap_or(text),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let mut host = &rest[..end];
    if let Some(at) = host.rfind('@') {
        host = &host[at + 1..];
    }
    if !host.starts_with('[')
        && let Some(colon) = host.find(':')
    {
        host = &host[..colon];
    }
    host.trim_end_matches('.').to_lowercase()
}

/// Whether a host name is one the suffix library accepts at all.
fn valid_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 255
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_') || !c.is_ascii())
        })
}

/// A dotted quad of digits (the suffix library does not check the numbers' ranges).
fn looks_like_ipv4(host: &str) -> bool {
    host.split('.').count() == 4
        && host
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()))
}

fn known_suffix(host: &str) -> bool {
    host.rsplit('.')
        .next()
        .is_some_and(|tld| TLDS.contains(tld))
}

/// Whether `text` parses as an absolute URL (WHATWG `URL.canParse`, in outline): a scheme,
/// and for the special schemes a host without forbidden characters and a numeric port.
fn parses_as_url(text: &str) -> bool {
    let Some(colon) = text.find(':') else {
        return false;
    };
    let scheme = &text[..colon];
    let mut chars = scheme.chars();
    if !chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        || !chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
    {
        return false;
    }
    let scheme = scheme.to_ascii_lowercase();
    if !matches!(scheme.as_str(), "http" | "https" | "ws" | "wss" | "ftp") {
        return true;
    }
    let rest = text[colon + 1..].trim_start_matches(['/', '\\']);
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let mut authority = &rest[..end];
    if let Some(at) = authority.rfind('@') {
        authority = &authority[at + 1..];
    }
    let (host, port) = match authority.rfind(':') {
        Some(c) if !authority.starts_with('[') => (&authority[..c], Some(&authority[c + 1..])),
        _ => (authority, None),
    };
    !host.is_empty()
        && !host.contains([
            ' ', '#', '%', '/', ':', '<', '>', '?', '@', '[', '\\', ']', '^', '|',
        ])
        && port.is_none_or(|p| p.is_empty() || p.parse::<u16>().is_ok())
}

/// `scheme://` at the start.
fn has_absolute_scheme(text: &str) -> bool {
    let Some(at) = text.find("://") else {
        return false;
    };
    let scheme = &text[..at];
    let mut chars = scheme.chars();
    scheme.len() <= 32
        && chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'))
}

/// A bare URL found in text: a link when its host is an IP address, has a public suffix, or is
/// `localhost` or one of the custom domains (or below them); plain text otherwise. The link
/// points to the text itself when that is an absolute URL, else to `//text`.
fn auto_link(text: &str, custom_domains: &[String]) -> Inline {
    let host = host_of(text);
    let trusted = |domain: &str| {
        let domain = domain.trim().to_lowercase();
        !domain.is_empty() && (host == domain || host.ends_with(&format!(".{domain}")))
    };
    let linked = valid_host(&host)
        && (looks_like_ipv4(&host)
            || known_suffix(&host)
            || trusted("localhost")
            || custom_domains.iter().any(|d| trusted(d)));
    if !linked {
        return Inline::Plain(text.to_owned());
    }
    let src = if parses_as_url(text) || text.starts_with("//") || has_absolute_scheme(text) {
        text.to_owned()
    } else {
        format!("//{text}")
    };
    Inline::Link {
        src,
        label: vec![Inline::Plain(text.to_owned())],
    }
}

/// A bare e-mail address: a `mailto:` link when its domain has a public suffix.
fn auto_email(address: &str) -> Inline {
    let host = host_of(&format!("mailto:{address}"));
    if valid_host(&host) && known_suffix(&host) {
        Inline::Link {
            src: format!("mailto:{address}"),
            label: vec![Inline::Plain(address.to_owned())],
        }
    } else {
        Inline::Plain(address.to_owned())
    }
}

#[cfg(test)]
mod tests;
