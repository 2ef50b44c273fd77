//! Mention parsing: `@username`, `@all`, `@here` and `#channel` in message text.

use std::collections::BTreeSet;

/// What a message text mentions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Mentions {
    /// Usernames mentioned with `@`, without `all` and `here`, in order of appearance.
    pub users: Vec<String>,
    pub all: bool,
    pub here: bool,
    /// Channel names mentioned with `#`.
    pub channels: Vec<String>,
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Extracts mentions the way upstream's mention regexes do: a `@` or `#` at the start of the
/// text or after whitespace or an opening bracket, followed by name characters; a trailing dot
/// (end of a sentence) is not part of the name. Text inside inline code and code blocks is
/// ignored.
pub fn parse(text: &str) -> Mentions {
    let mut mentions = Mentions::default();
    let mut seen_users = BTreeSet::new();
    let mut seen_channels = BTreeSet::new();
    let mut in_code = false;
    let mut previous: Option<char> = None;
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '`' {
            in_code = !in_code;
            previous = Some(c);
            i += 1;
            continue;
        }
        let at_boundary = previous
            .is_none_or(|p| p.is_whitespace() || matches!(p, '(' | '[' | '{' | '>' | ',' | ';'));
        if !in_code && at_boundary && (c == '@' || c == '#') {
            let start = i + 1;
            let mut end = start;
            while end < chars.len() && is_name_char(chars[end]) {
                end += 1;
            }
            while end > start && chars[end - 1] == '.' {
                end -= 1;
            }
            if end > start {
                let name: String = chars[start..end].iter().collect();
                if c == '@' {
                    match name.as_str() {
                        "all" => mentions.all = true,
                        "here" => mentions.here = true,
                        _ => {
                            if seen_users.insert(name.to_lowercase()) {
                                mentions.users.push(name);
                            }
                        }
                    }
                } else if seen_channels.insert(name.to_lowercase()) {
                    mentions.channels.push(name);
                }
                previous = chars.get(end - 1).copied();
                i = end;
                continue;
            }
        }
        previous = Some(c);
        i += 1;
    }
    mentions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_users_groups_and_channels() {
        let m = parse("hi @alice and @bob.smith, see #general. @all @here @alice");
        assert_eq!(m.users, ["alice", "bob.smith"]);
        assert!(m.all && m.here);
        assert_eq!(m.channels, ["general"]);
    }

    #[test]
    fn ignores_emails_code_and_bare_signs() {
        let m = parse("mail me at a@b.com, `@notme` @ # x#y");
        assert!(m.users.is_empty(), "{m:?}");
        assert!(m.channels.is_empty());
    }

    #[test]
    fn trailing_dots_end_a_name() {
        assert_eq!(parse("thanks @carol.").users, ["carol"]);
        assert_eq!(parse("(@dave)").users, ["dave"]);
    }
}

#[cfg(test)]
mod properties {
    use super::parse;
    use proptest::prelude::*;

    fn username() -> impl Strategy<Value = String> {
        "[a-z][a-z0-9_-]{0,10}(\\.[a-z0-9]{1,4})?"
            .prop_filter("not a group word", |u| u != "all" && u != "here")
    }

    proptest! {
        #[test]
        fn never_panics_and_names_come_from_the_text(text in "\\PC{0,200}") {
            let m = parse(&text);
            for user in &m.users {
                let needle = format!("@{user}");
                prop_assert!(text.contains(&needle), "{} not in {:?}", user, text);
            }
            for channel in &m.channels {
                let needle = format!("#{channel}");
                prop_assert!(text.contains(&needle), "{} not in {:?}", channel, text);
            }
        }

        #[test]
        fn finds_every_mention_between_words(
            names in proptest::collection::vec(username(), 0..6),
            fillers in proptest::collection::vec("[a-zA-Z ,!?]{0,12}", 7),
            trailing_dot in any::<bool>(),
        ) {
            let mut text = String::new();
            for (i, name) in names.iter().enumerate() {
                text.push_str(&fillers[i]);
                text.push_str(" @");
                text.push_str(name);
                if trailing_dot {
                    text.push('.');
                }
                text.push(' ');
            }
            let mut expected: Vec<String> = Vec::new();
            for name in &names {
                if !expected.iter().any(|e| e.eq_ignore_ascii_case(name)) {
                    expected.push(name.clone());
                }
            }
            prop_assert_eq!(parse(&text).users, expected);
        }
    }
}
