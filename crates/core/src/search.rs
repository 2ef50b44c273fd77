//! Message search queries with upstream's operators: `from:user`, `mention:user`,
//! `has:star`, `is:pinned`, `before:`/`after:`/`on:` (dates as `dd-mm-yyyy` or
//! `yyyy-mm-dd`), `order:asc`. Everything else is text.

use chrono::NaiveDate;

/// A parsed search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    pub text: String,
    /// Author username (`from:`; `me` is the caller).
    pub from: Option<String>,
    /// Mentioned username (`mention:`).
    pub mention: Option<String>,
    pub starred: bool,
    pub pinned: bool,
    /// Messages strictly before this day.
    pub before: Option<NaiveDate>,
    /// Messages strictly after this day.
    pub after: Option<NaiveDate>,
    /// Messages on this day.
    pub on: Option<NaiveDate>,
    pub oldest_first: bool,
}

fn date(raw: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(raw, "%d-%m-%Y")
        .or_else(|_| NaiveDate::parse_from_str(raw, "%d/%m/%Y"))
        .or_else(|_| NaiveDate::parse_from_str(raw, "%Y-%m-%d"))
        .ok()
}

/// Splits operators from text; unknown or malformed operators stay text.
pub fn parse(input: &str) -> SearchQuery {
    let mut query = SearchQuery::default();
    let mut words = Vec::new();
    for word in input.split_whitespace() {
        let Some((operator, value)) = word.split_once(':') else {
            words.push(word);
            continue;
        };
        let value = value.trim_start_matches('@');
        let handled = match (
            operator.to_ascii_lowercase().as_str(),
            value.to_ascii_lowercase().as_str(),
        ) {
            ("from", v) if !v.is_empty() => {
                query.from = Some(value.to_owned());
                true
            }
            ("mention", v) if !v.is_empty() => {
                query.mention = Some(value.to_owned());
                true
            }
            ("has", "star") | ("is", "starred") => {
                query.starred = true;
                true
            }
            ("is", "pinned") | ("has", "pin") => {
                query.pinned = true;
                true
            }
            ("before", _) => date(value).map(|d| query.before = Some(d)).is_some(),
            ("after", _) => date(value).map(|d| query.after = Some(d)).is_some(),
            ("on", _) => date(value).map(|d| query.on = Some(d)).is_some(),
            ("order", "asc") => {
                query.oldest_first = true;
                true
            }
            ("order", "desc") => true,
            _ => false,
        };
        if !handled {
            words.push(word);
        }
    }
    query.text = words.join(" ");
    query
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operators_and_text() {
        let q = parse("deploy from:@alice has:star before:01-02-2026 after:2026-01-01 order:asc");
        assert_eq!(q.text, "deploy");
        assert_eq!(q.from.as_deref(), Some("alice"));
        assert!(q.starred && q.oldest_first);
        assert_eq!(q.before, NaiveDate::from_ymd_opt(2026, 2, 1));
        assert_eq!(q.after, NaiveDate::from_ymd_opt(2026, 1, 1));
    }

    #[test]
    fn unknown_operators_are_text() {
        let q = parse("see http://example.com before:someday");
        assert_eq!(q.text, "see http://example.com before:someday");
        assert_eq!(
            q,
            SearchQuery {
                text: q.text.clone(),
                ..SearchQuery::default()
            }
        );
    }
}
