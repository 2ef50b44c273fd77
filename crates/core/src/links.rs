//! Links in messages and what the pages they point to say of themselves: upstream's `API_Embed`
//! URL previews. Which URLs a message carries (`parseUrlsInMessage`), which of them the
//! settings let the server fetch (`API_EmbedIgnoredHosts`, `API_EmbedSafePorts`), and the
//! metadata read from a fetched page (`<title>`, `<meta name|property=... content=...>`, the
//! oEmbed discovery link), keyed as upstream keys them (`pageTitle`, `ogTitle`, `description`,
//! `twitterCard`, `oembedTitle`...). Fetching is the service's; everything here is pure.

use regex::Regex;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::LazyLock;

/// One URL of a message (upstream's `MessageUrl`): `meta` and `headers` are filled in after
/// the page was fetched; `ignore_parse` marks URLs the sender asked not to preview.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageUrl {
    pub url: String,
    #[serde(default)]
    pub meta: BTreeMap<String, String>,
    /// `contentType` and `contentLength`, as the page's server sent them; empty: not fetched.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub ignore_parse: bool,
}

impl MessageUrl {
    pub fn new(url: &str) -> Self {
        MessageUrl {
            url: url.to_owned(),
            ..MessageUrl::default()
        }
    }
}

/// Upstream's `getMessageUrlRegex`, with JavaScript's ASCII `\w`.
static URL_PATTERN: LazyLock<Regex> = LazyLock::new(|| {
    #[allow(
        clippy::unwrap_used,
        reason = "a constant pattern checked by the unit tests"
    )]
    Regex::new(concat!(
        r"([A-Za-z]{3,9})://([-;:&=+$,A-Za-z0-9_]+@)?([-A-Za-z0-9.]+)+:?([0-9]+)?",
        r"((/[-+=!:~%/.@,A-Za-z0-9_]*)?\??([-+=&!:;%@/.,A-Za-z0-9_]+)?(?:#([^\s)]+))?)?"
    ))
    .unwrap()
});

/// Blanks out code (fenced blocks and inline spans), in which upstream finds no links
/// (`Markdown.code` runs before the URL regex).
fn without_code(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let fence = if after.starts_with("```") { "```" } else { "`" };
        match after[fence.len()..].find(fence) {
            Some(end) => {
                let span = fence.len() * 2 + end;
                out.extend(std::iter::repeat_n(' ', after[..span].chars().count()));
                rest = &after[span..];
            }
            None => {
                out.push_str(fence);
                rest = &after[fence.len()..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The URLs in a message's text, each once, in order of appearance (code excepted).
pub fn extract_urls(text: &str) -> Vec<String> {
    let text = without_code(text);
    let mut urls: Vec<String> = Vec::new();
    for found in URL_PATTERN.find_iter(&text) {
        let url = found.as_str();
        if !urls.iter().any(|u| u == url) {
            urls.push(url.to_owned());
        }
    }
    urls
}

/// The `urls` of a message: its text's URLs unless the sender said `parseUrls: false`; with
/// `preview_urls` (the URLs a client chose to preview), the others are marked `ignoreParse`
/// unless they point at this server (`site_url`), as upstream.
pub fn message_urls(
    text: &str,
    preview_urls: Option<&[String]>,
    site_url: &str,
) -> Vec<MessageUrl> {
    extract_urls(text)
        .into_iter()
        .map(|url| {
            let ignore_parse = preview_urls
                .is_some_and(|chosen| !chosen.iter().any(|c| c == &url) && !url.contains(site_url));
            MessageUrl {
                ignore_parse,
                ..MessageUrl::new(&url)
            }
        })
        .collect()
}

/// Whether `host` (a name or an address, IPv6 without brackets) is in `API_EmbedIgnoredHosts`:
/// a comma-separated list of names, addresses, CIDR ranges and `*` patterns (`*.internal`,
/// `build-*.example.com`; `*` stands for one label or part of one).
pub fn host_ignored(host: &str, ignored_hosts: &str) -> bool {
    let host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    if host.is_empty() {
        return false;
    }
    let entries: Vec<String> = ignored_hosts
        .split(',')
        .map(|e| e.chars().filter(|c| !c.is_whitespace()).collect::<String>())
        .filter(|e| !e.is_empty())
        .map(|e| e.to_ascii_lowercase())
        .collect();
    let address = host.parse::<IpAddr>().ok();
    entries.iter().any(|entry| {
        if entry.contains('*') {
            return wildcard_matches(entry, &host);
        }
        if *entry == host {
            return true;
        }
        address.is_some_and(|ip| in_range(ip, entry))
    })
}

/// Whether `ip` is the address `entry` or in its CIDR range (`10.0.0.0/8`, `fd00::/8`).
fn in_range(ip: IpAddr, entry: &str) -> bool {
    let (base, bits) = match entry.split_once('/') {
        Some((base, bits)) => match bits.parse::<u32>() {
            Ok(bits) => (base, Some(bits)),
            Err(_) => return false,
        },
        None => (entry, None),
    };
    let Ok(base) = base.parse::<IpAddr>() else {
        return false;
    };
    let (ip, base, width) = match (ip, base) {
        (IpAddr::V4(a), IpAddr::V4(b)) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b), 128),
        (IpAddr::V6(a), IpAddr::V4(b)) => match a.to_ipv4_mapped() {
            Some(a) => (u128::from(u32::from(a)), u128::from(u32::from(b)), 32),
            None => return false,
        },
        (IpAddr::V4(_), IpAddr::V6(_)) => return false,
    };
    let bits = bits.unwrap_or(width);
    if bits > width {
        return false;
    }
    if bits == 0 {
        return true;
    }
    let shift = width - bits;
    (ip >> shift) == (base >> shift)
}

/// Upstream accepts patterns of labels and `*` (`^(?:\*\.)?(?:\*|[a-z0-9-]+)(?:\.(?:\*|[a-z0-9-]+))*$`,
/// `*` alone refused) where `*` stands for any run of characters but dots.
fn wildcard_matches(pattern: &str, host: &str) -> bool {
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars()
                .all(|c| c == '*' || c == '-' || c.is_ascii_alphanumeric())
    };
    if pattern == "*" || !pattern.split('.').all(label_ok) {
        return false;
    }
    let pattern_labels: Vec<&str> = pattern.split('.').collect();
    let host_labels: Vec<&str> = host.split('.').collect();
    pattern_labels.len() == host_labels.len()
        && pattern_labels
            .iter()
            .zip(&host_labels)
            .all(|(p, h)| glob_label(p, h))
}

/// `*` matches any run of characters (none included) within one label.
fn glob_label(pattern: &str, label: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == label;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !label.starts_with(first) || label.len() < first.len() + last.len() || !label.ends_with(last)
    {
        return false;
    }
    let mut middle = &label[first.len()..label.len() - last.len()];
    for part in &parts[1..parts.len() - 1] {
        match middle.find(part) {
            Some(at) => middle = &middle[at + part.len()..],
            None => return false,
        }
    }
    true
}

/// Whether `API_EmbedSafePorts` lets the server fetch from `port` (`None`: the scheme's
/// default). As upstream, the list is split on commas without dropping empty entries, so an
/// empty setting allows nothing; without an explicit port, the scheme must be one a listed port
/// stands for (80 and 8080: `http`, 443: `https`).
pub fn port_allowed(scheme: &str, port: Option<u16>, safe_ports: &str) -> bool {
    let ports: Vec<String> = safe_ports
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect::<String>()
        .split(',')
        .map(str::to_owned)
        .collect();
    match port {
        Some(port) => ports.iter().any(|p| *p == port.to_string()),
        None => ports.iter().any(|p| match p.as_str() {
            "80" | "8080" => scheme == "http",
            "443" => scheme == "https",
            _ => false,
        }),
    }
}

/// lodash's `camelCase`, as upstream names meta tags: `og:title` → `ogTitle`,
/// `twitter:image:src` → `twitterImageSrc`, `msapplication-TileImage` →
/// `msapplicationTileImage`.
pub fn camel_case(name: &str) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = name.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some(prev) = current.chars().last() {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (c.is_uppercase() && (prev.is_lowercase() || prev.is_numeric()))
                || (c.is_uppercase() && prev.is_uppercase() && next_lower)
                || (c.is_alphabetic() && prev.is_numeric());
            if boundary {
                words.push(std::mem::take(&mut current));
            }
        }
        current.push(c);
    }
    if !current.is_empty() {
        words.push(current);
    }
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        let lower = word.to_lowercase();
        if i == 0 {
            out.push_str(&lower);
        } else {
            let mut chars = lower.chars();
            if let Some(first) = chars.next() {
                out.extend(first.to_uppercase());
                out.push_str(chars.as_str());
            }
        }
    }
    out
}

/// Upstream's `getRelevantMetaTags`: keys starting with `og`, `fb`, `twitter`, `oembed` or
/// `msapplication` (and more), or naming a description or title, with a value that is not
/// blank.
pub fn relevant_meta(meta: BTreeMap<String, String>) -> BTreeMap<String, String> {
    meta.into_iter()
        .filter(|(key, value)| {
            let key = key.to_lowercase();
            let prefixed = ["og", "fb", "twitter", "oembed", "msapplication"]
                .iter()
                .any(|p| key.len() > p.len() && key.starts_with(p));
            (prefixed || key.contains("description") || key.contains("title"))
                && !value.trim().is_empty()
        })
        .collect()
}

/// What a page says of itself: its metadata (first occurrence of each key wins, as upstream)
/// and where its oEmbed description is, if it links one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageMeta {
    pub meta: BTreeMap<String, String>,
    pub oembed_url: Option<String>,
}

/// Reads `<title>`, every `<meta>` with `name` or `property` and `content`, and the
/// `<link type="application/json+oembed" href=...>` of an HTML page, skipping comments,
/// scripts and styles. Values have their character references decoded. `oembedHtml` from a
/// page's own meta tags is dropped, as upstream drops it.
pub fn parse_page(html: &str) -> PageMeta {
    let mut page = PageMeta::default();
    let lower = html.to_ascii_lowercase();
    let mut at = 0;
    while let Some(offset) = lower[at..].find('<') {
        let start = at + offset;
        let rest = &lower[start..];
        if rest.starts_with("<!--") {
            at = match rest.find("-->") {
                Some(end) => start + end + 3,
                None => break,
            };
            continue;
        }
        let (tag, attrs, end) = match read_tag(html, &lower, start) {
            Tag::Found(tag, attrs, end) => (tag, attrs, end),
            Tag::Other => {
                at = start + 1;
                continue;
            }
            // Nothing after this point can close a tag: stop rather than scan the rest again
            // from every later `<` (which would take quadratic time on hostile pages).
            Tag::Unterminated => break,
        };
        at = end;
        match tag.as_str() {
            "script" | "style" | "title" | "textarea" => {
                let close = format!("</{tag}");
                let Some(close_at) = lower[end..].find(&close) else {
                    break;
                };
                if tag == "title" {
                    let title = decode_entities(&html[end..end + close_at]);
                    page.meta.entry("pageTitle".to_owned()).or_insert(title);
                }
                at = end + close_at + close.len();
            }
            "meta" => {
                let name = attrs
                    .get("property")
                    .or_else(|| attrs.get("name"))
                    .filter(|n| !n.is_empty());
                if let (Some(name), Some(content)) = (name, attrs.get("content")) {
                    let key = camel_case(name);
                    if !key.is_empty() && key != "oembedHtml" {
                        page.meta.entry(key).or_insert_with(|| content.clone());
                    }
                }
            }
            "link" => {
                let is_oembed = attrs
                    .get("type")
                    .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json+oembed"));
                if is_oembed
                    && page.oembed_url.is_none()
                    && let Some(href) = attrs.get("href").filter(|h| !h.trim().is_empty())
                {
                    page.oembed_url = Some(href.trim().to_owned());
                }
            }
            _ => {}
        }
    }
    page
}

/// What starts at a `<`.
enum Tag {
    /// A tag: its lowercased name, its attributes (lowercased names, decoded values) and
    /// where it ends.
    Found(String, BTreeMap<String, String>, usize),
    /// A closing tag, a declaration or text.
    Other,
    /// A tag the input ends in.
    Unterminated,
}

/// Reads the tag starting at `start` (`<name attr=...>`).
fn read_tag(html: &str, lower: &str, start: usize) -> Tag {
    let bytes = lower.as_bytes();
    let mut i = start + 1;
    let name_start = i;
    while i < bytes.len() && bytes[i].is_ascii_alphanumeric() {
        i += 1;
    }
    if i == name_start {
        return Tag::Other;
    }
    let name = lower[name_start..i].to_owned();
    let mut attrs = BTreeMap::new();
    loop {
        while i < bytes.len() && (bytes[i].is_ascii_whitespace() || bytes[i] == b'/') {
            i += 1;
        }
        if i >= bytes.len() {
            return Tag::Unterminated;
        }
        if bytes[i] == b'>' {
            return Tag::Found(name, attrs, i + 1);
        }
        let attr_start = i;
        while i < bytes.len()
            && !bytes[i].is_ascii_whitespace()
            && !matches!(bytes[i], b'=' | b'>' | b'/')
        {
            i += 1;
        }
        let attr = lower[attr_start..i].to_owned();
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        let mut value = String::new();
        if i < bytes.len() && bytes[i] == b'=' {
            i += 1;
            while i < bytes.len() && bytes[i].is_ascii_whitespace() {
                i += 1;
            }
            if i < bytes.len() && (bytes[i] == b'"' || bytes[i] == b'\'') {
                let quote = bytes[i];
                let value_start = i + 1;
                let Some(value_end) = lower[value_start..]
                    .bytes()
                    .position(|b| b == quote)
                    .map(|p| value_start + p)
                else {
                    return Tag::Unterminated;
                };
                value = decode_entities(&html[value_start..value_end]);
                i = value_end + 1;
            } else {
                let value_start = i;
                while i < bytes.len() && !bytes[i].is_ascii_whitespace() && bytes[i] != b'>' {
                    i += 1;
                }
                value = decode_entities(&html[value_start..i]);
            }
        }
        if !attr.is_empty() {
            attrs.entry(attr).or_insert(value);
        }
    }
}

/// Decodes HTML character references: numeric ones and the named ones pages commonly use in
/// titles and descriptions; unknown names stay as written.
pub fn decode_entities(text: &str) -> String {
    const NAMED: &[(&str, &str)] = &[
        ("amp", "&"),
        ("lt", "<"),
        ("gt", ">"),
        ("quot", "\""),
        ("apos", "'"),
        ("nbsp", "\u{a0}"),
        ("hellip", "…"),
        ("mdash", "—"),
        ("ndash", "–"),
        ("lsquo", "‘"),
        ("rsquo", "’"),
        ("ldquo", "“"),
        ("rdquo", "”"),
        ("laquo", "«"),
        ("raquo", "»"),
        ("middot", "·"),
        ("bull", "•"),
        ("copy", "©"),
        ("reg", "®"),
        ("trade", "™"),
        ("euro", "€"),
        ("pound", "£"),
        ("yen", "¥"),
        ("deg", "°"),
        ("times", "×"),
    ];
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let end = after
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .map(|(i, _)| i);
        let decoded = end.and_then(|end| {
            let name = &after[..end];
            let character = if let Some(number) = name.strip_prefix('#') {
                let code = match number.strip_prefix(['x', 'X']) {
                    Some(hex) => u32::from_str_radix(hex, 16).ok(),
                    None => number.parse::<u32>().ok(),
                };
                code.and_then(char::from_u32)
                    .filter(|c| *c != '\0')
                    .map(String::from)
            } else {
                NAMED
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            };
            character.map(|c| (c, end))
        });
        match decoded {
            Some((character, end)) => {
                out.push_str(&character);
                rest = &after[end + 1..];
            }
            None => {
                out.push('&');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character encoding a page declares: the `charset` of its `Content-Type`, else of a
/// `<meta charset>` or `<meta http-equiv content="...; charset=...">` near its start.
pub fn declared_charset(content_type: Option<&str>, head: &[u8]) -> Option<String> {
    let from_header = content_type.and_then(|ct| charset_param(&ct.to_ascii_lowercase()));
    if from_header.is_some() {
        return from_header;
    }
    let head = String::from_utf8_lossy(&head[..head.len().min(4096)]).to_ascii_lowercase();
    let mut at = 0;
    while let Some(offset) = head[at..].find("<meta") {
        let start = at + offset;
        let end = head[start..].find('>').map_or(head.len(), |e| start + e);
        if let Some(found) = charset_param(&head[start..end]) {
            return Some(found);
        }
        at = end;
    }
    None
}

fn charset_param(text: &str) -> Option<String> {
    let at = text.find("charset=")? + "charset=".len();
    let value: String = text[at..]
        .trim_start_matches(['"', '\''])
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | ':' | '.'))
        .collect();
    (!value.is_empty()).then_some(value)
}

/// The metadata of an oEmbed description (a JSON object): its string values as
/// `oembed<Key>` (`title` → `oembedTitle`, `thumbnail_url` → `oembedThumbnailUrl`), as
/// upstream names them. Its `html` is dropped: it is markup from a third party that clients
/// would render, and upstream keeps it only from the providers it lists.
pub fn oembed_meta(description: &serde_json::Value) -> BTreeMap<String, String> {
    let Some(fields) = description.as_object() else {
        return BTreeMap::new();
    };
    fields
        .iter()
        .filter(|(key, _)| key.as_str() != "html")
        .filter_map(|(key, value)| {
            let text = match value {
                serde_json::Value::String(s) if !s.is_empty() => s.clone(),
                serde_json::Value::Number(n) => n.to_string(),
                _ => return None,
            };
            Some((camel_case(&format!("oembed_{key}")), text))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_found_once_and_not_in_code() {
        assert_eq!(
            extract_urls(
                "see https://a.example/x?y=1#z and http://b.example:8080/ https://a.example/x?y=1#z"
            ),
            ["https://a.example/x?y=1#z", "http://b.example:8080/"]
        );
        assert_eq!(
            extract_urls(
                "`http://code.example` ```\nhttps://block.example\n``` https://ok.example"
            ),
            ["https://ok.example"]
        );
        assert_eq!(
            extract_urls("unclosed ` https://x.example"),
            ["https://x.example"]
        );
        assert!(extract_urls("no links here").is_empty());
        assert_eq!(
            extract_urls("(https://p.example/a)"),
            ["https://p.example/a"]
        );
    }

    #[test]
    fn preview_urls_choose_what_is_previewed() {
        let chosen = vec!["https://a.example".to_owned()];
        let urls = message_urls(
            "https://a.example https://b.example https://chat.example/x",
            Some(&chosen),
            "https://chat.example",
        );
        let ignored: Vec<bool> = urls.iter().map(|u| u.ignore_parse).collect();
        assert_eq!(ignored, [false, true, false]);
        assert!(
            message_urls("https://b.example", None, "")
                .iter()
                .all(|u| !u.ignore_parse)
        );
    }

    #[test]
    fn ignored_hosts_take_names_addresses_ranges_and_patterns() {
        let list =
            "localhost, 127.0.0.1, 10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, *.corp, fd00::/8";
        for host in [
            "localhost",
            "LOCALHOST",
            "127.0.0.1",
            "10.2.3.4",
            "172.31.0.1",
            "192.168.1.1",
            "wiki.corp",
            "[fd00::1]",
        ] {
            assert!(host_ignored(host, list), "{host}");
        }
        for host in [
            "example.com",
            "172.32.0.1",
            "127.0.0.2",
            "a.wiki.corp",
            "corp",
            "8.8.8.8",
        ] {
            assert!(!host_ignored(host, list), "{host}");
        }
        assert!(host_ignored("build-7.example.com", "build-*.example.com"));
        assert!(!host_ignored("anything", "*"));
        assert!(!host_ignored("example.com", ""));
    }

    #[test]
    fn safe_ports_as_upstream() {
        assert!(port_allowed("http", None, "80, 443"));
        assert!(port_allowed("https", None, "80, 443"));
        assert!(!port_allowed("http", Some(8080), "80, 443"));
        assert!(port_allowed("http", Some(8080), "80,8080"));
        assert!(!port_allowed("https", None, "80"));
        assert!(!port_allowed("http", None, ""));
        assert!(!port_allowed("http", Some(80), ""));
    }

    #[test]
    fn camel_case_like_lodash() {
        for (name, want) in [
            ("og:title", "ogTitle"),
            ("og:image:width", "ogImageWidth"),
            ("twitter:image:src", "twitterImageSrc"),
            ("description", "description"),
            ("msapplication-TileImage", "msapplicationTileImage"),
            ("fb:app_id", "fbAppId"),
            ("OG:Title", "ogTitle"),
            ("theme-color", "themeColor"),
            ("oembed_thumbnail_url", "oembedThumbnailUrl"),
        ] {
            assert_eq!(camel_case(name), want, "{name}");
        }
    }

    #[test]
    fn pages_yield_titles_meta_tags_and_oembed_links() {
        let html = r#"<!doctype html><html><head>
            <!-- <meta property="og:title" content="commented out"> -->
            <title>Caf&eacute; &amp; Bar &#8212; &#x2603;</title>
            <meta property="og:title" content="First &quot;one&quot;">
            <meta property='og:title' content='second'>
            <META CONTENT="Desc" NAME="description">
            <meta name=twitter:card content=summary>
            <meta property="og:image" content="https://img.example/a.png?x=1&amp;y=2" />
            <meta name="oembed:html" content="<iframe>">
            <meta name="viewport" content="width=device-width">
            <script>var s = '<meta property="og:description" content="in script">';</script>
            <link rel="alternate" type="application/json+oembed" href="https://o.example/oembed?url=x">
            </head><body>text</body></html>"#;
        let page = parse_page(html);
        assert_eq!(page.meta["pageTitle"], "Caf&eacute; & Bar — ☃");
        assert_eq!(page.meta["ogTitle"], "First \"one\"");
        assert_eq!(page.meta["description"], "Desc");
        assert_eq!(page.meta["twitterCard"], "summary");
        assert_eq!(page.meta["ogImage"], "https://img.example/a.png?x=1&y=2");
        assert!(!page.meta.contains_key("ogDescription"));
        assert!(!page.meta.contains_key("oembedHtml"));
        assert_eq!(
            page.oembed_url.as_deref(),
            Some("https://o.example/oembed?url=x")
        );
        let relevant = relevant_meta(page.meta);
        assert!(relevant.contains_key("pageTitle") && relevant.contains_key("ogImage"));
        assert!(!relevant.contains_key("viewport"));
        // Broken markup ends the scan without panicking.
        for broken in [
            "<meta content=\"x",
            "<title>never closed",
            "<",
            "<<<>>>",
            "<a b='",
        ] {
            let _ = parse_page(broken);
        }
    }

    #[test]
    fn relevant_meta_drops_blank_and_unrelated_values() {
        let meta: BTreeMap<String, String> = [
            ("og", "bare prefix"),
            ("ogTitle", "  "),
            ("ogType", "website"),
            ("keywords", "a,b"),
            ("itemTitle", "x"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        let kept: Vec<String> = relevant_meta(meta).into_keys().collect();
        assert_eq!(kept, ["itemTitle", "ogType"]);
    }

    #[test]
    fn charsets_from_the_header_or_the_page() {
        assert_eq!(
            declared_charset(Some("text/html; charset=ISO-8859-1"), b"").as_deref(),
            Some("iso-8859-1")
        );
        assert_eq!(
            declared_charset(Some("text/html"), b"<head><meta charset=\"windows-1252\">")
                .as_deref(),
            Some("windows-1252")
        );
        assert_eq!(
            declared_charset(
                None,
                b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=shift_jis\">"
            )
            .as_deref(),
            Some("shift_jis")
        );
        assert_eq!(declared_charset(None, b"<html>"), None);
    }

    #[test]
    fn oembed_descriptions_become_oembed_keys() {
        let meta = oembed_meta(&serde_json::json!({
            "type": "video", "title": "T", "thumbnail_url": "https://t.example/a.jpg",
            "width": 480, "html": "<iframe src=x>", "empty": "", "nested": {"a": 1}
        }));
        let keys: Vec<&str> = meta.keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "oembedThumbnailUrl",
                "oembedTitle",
                "oembedType",
                "oembedWidth"
            ]
        );
    }

    #[test]
    fn entities() {
        assert_eq!(
            decode_entities("a &amp;&lt;b&gt; &#39;c&#x27; &bogus; & &#0;"),
            "a &<b> 'c' &bogus; & &#0;"
        );
    }
}
