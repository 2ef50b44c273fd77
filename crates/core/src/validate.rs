//! Validation rules for names and addresses.

use regex::Regex;

/// Usernames the server itself keeps (`Accounts_SystemBlockedUsernameList`).
pub const SYSTEM_BLOCKED_USERNAMES: &[&str] = &["admin", "administrator", "system", "user"];

/// Compiles the `UTF8_User_Names_Validation` pattern anchored at both ends, as upstream does.
/// An invalid pattern in the setting falls back to the default so that a typo by an admin
/// cannot open registration to arbitrary names.
pub fn username_regex(pattern: &str) -> Regex {
    Regex::new(&format!("^(?:{pattern})$")).unwrap_or_else(|_| default_username_regex())
}

fn default_username_regex() -> Regex {
    #[allow(
        clippy::unwrap_used,
        reason = "a constant pattern checked by the unit tests"
    )]
    Regex::new("^(?:[0-9a-zA-Z-_.]+)$").unwrap()
}

/// A reasonable email check in the spirit of upstream's `validateEmail`: one `@`, a non-empty
/// local part, a dotted domain and no spaces.
pub fn is_valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email.chars().any(char::is_whitespace)
        && email.len() <= 254
}

/// Whether a username is on a comma-separated block list (case-insensitive), or the system's.
pub fn is_blocked_username(username: &str, blocked_list: &str) -> bool {
    let lower = username.to_lowercase();
    SYSTEM_BLOCKED_USERNAMES.contains(&lower.as_str())
        || blocked_list
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .any(|s| s.to_lowercase() == lower)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_username_rule() {
        let re = username_regex("[0-9a-zA-Z-_.]+");
        assert!(re.is_match("alice.b-c_9"));
        assert!(!re.is_match("alice b"));
        assert!(!re.is_match("élan"));
        assert!(!re.is_match(""));
        assert!(default_username_regex().is_match("x"));
        assert!(username_regex("[").is_match("fallback"));
    }

    #[test]
    fn emails() {
        assert!(is_valid_email("a@example.com"));
        assert!(!is_valid_email("a@example"));
        assert!(!is_valid_email("example.com"));
        assert!(!is_valid_email("a b@example.com"));
    }

    #[test]
    fn blocked_names() {
        assert!(is_blocked_username("Admin", ""));
        assert!(is_blocked_username("bob", "carl, Bob"));
        assert!(!is_blocked_username("bob", "carl"));
    }
}
