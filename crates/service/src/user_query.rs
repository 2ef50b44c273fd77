//! The deprecated `query` and `fields` parameters of `users.list`: a small subset of MongoDB's
//! query language, checked against upstream's whitelist (`isValidQuery`) and evaluated over the
//! user as the caller sees it.

use comet_core::{Error, Result};
use regex::RegexBuilder;
use serde_json::{Map, Value};

/// Fields upstream never lets a listing select or query (`defaultFieldsToExclude` and, on
/// `users.*` routes, `limitedUserFieldsToExcludeIfIsPrivilegedUser`).
const NEVER_LISTED: &[&str] = &[
    "joinCode",
    "members",
    "importIds",
    "e2e",
    "services",
    "inviteToken",
];

/// What callers without `view-full-other-user-info` may not select or query
/// (`limitedUserFieldsToExclude`).
const HIDDEN_FROM_THE_UNPRIVILEGED: &[&str] = &[
    "emails",
    "phone",
    "statusConnection",
    "createdAt",
    "lastLogin",
    "requirePasswordChange",
    "requirePasswordChangeReason",
    "roles",
    "statusDefault",
    "_updatedAt",
    "settings",
];

/// Upstream's default projection of `users.list` (`getNonEmptyFields`).
const DEFAULT_FIELDS: &[&str] = &[
    "name",
    "username",
    "emails",
    "roles",
    "status",
    "active",
    "avatarETag",
    "lastLogin",
    "type",
];

/// The logical operators `users.list` accepts, and the field operators of a pattern match.
const LOGICAL_OPERATORS: &[&str] = &["$or", "$and"];
const FIELD_OPERATORS: &[&str] = &["$regex", "$options"];

fn excluded(key: &str, privileged: bool) -> bool {
    let top = key.split('.').next().unwrap_or(key);
    NEVER_LISTED.contains(&top) || (!privileged && HIDDEN_FROM_THE_UNPRIVILEGED.contains(&top))
}

/// The fields a listing shows: the defaults plus those asked for with `1`, less those the
/// caller may not see (a `0` for a default field removes it, as upstream's merge does).
pub fn listed_fields(requested: Option<&Map<String, Value>>, privileged: bool) -> Vec<String> {
    let mut fields: Vec<String> = DEFAULT_FIELDS.iter().map(|f| (*f).to_owned()).collect();
    if let Some(requested) = requested {
        for (key, value) in requested {
            if value.as_i64() == Some(1) {
                if !fields.contains(key) {
                    fields.push(key.clone());
                }
            } else {
                fields.retain(|f| f != key);
            }
        }
    }
    fields.retain(|f| !excluded(f, privileged));
    fields
}

/// A checked `query`: the caller's conditions over the default search of usernames and names.
#[derive(Debug, Clone)]
pub struct UserQuery(Map<String, Value>);

impl UserQuery {
    /// Drops conditions on fields the caller may not query, as upstream does silently, then
    /// refuses any attribute outside the listed fields and any other operator
    /// (`error-invalid-query`, upstream's `Invalid attribute: …` / `Invalid operation: …`).
    pub fn parse(query: &Map<String, Value>, fields: &[String], privileged: bool) -> Result<Self> {
        let mut conditions = Map::new();
        conditions.insert("$or".into(), default_search(privileged));
        for (key, value) in query {
            if !excluded(key, privileged) {
                conditions.insert(key.clone(), value.clone());
            }
        }
        let mut allowed: Vec<String> = fields.to_vec();
        for (field, prefix) in [
            ("emails", "emails.address"),
            ("username", "username"),
            ("name", "name"),
            ("type", "type"),
            ("customFields", "customFields"),
        ] {
            if fields.iter().any(|f| f == field) {
                allowed.push(format!("{prefix}.*"));
            }
        }
        check(&conditions, &allowed, "")?;
        Ok(UserQuery(conditions))
    }

    /// Whether the user's document meets every condition.
    pub fn matches(&self, doc: &Value) -> bool {
        all_hold(&self.0, doc)
    }
}

fn default_search(privileged: bool) -> Value {
    let mut any = vec![
        serde_json::json!({"username": {"$regex": "", "$options": "i"}}),
        serde_json::json!({"name": {"$regex": "", "$options": "i"}}),
    ];
    if privileged {
        any.push(serde_json::json!({"emails.address": {"$regex": "", "$options": "i"}}));
    }
    Value::Array(any)
}

fn invalid(reason: String) -> Error {
    Error::meteor("error-invalid-query", reason)
}

fn check(conditions: &Map<String, Value>, allowed: &[String], parent: &str) -> Result<()> {
    for (key, value) in conditions {
        let path = if parent.is_empty() {
            key.clone()
        } else {
            format!("{parent}.{key}")
        };
        if key.starts_with('$') {
            let known = if parent.is_empty() {
                LOGICAL_OPERATORS.contains(&key.as_str())
            } else {
                FIELD_OPERATORS.contains(&key.as_str())
            };
            if !known {
                return Err(invalid(format!("Invalid operation: {key}")));
            }
            match value {
                Value::Array(items) if parent.is_empty() => {
                    for item in items {
                        let Value::Object(item) = item else {
                            return Err(invalid(format!("Invalid operation: {key}")));
                        };
                        check(item, allowed, "")?;
                    }
                }
                Value::String(_) => {}
                _ => return Err(invalid(format!("Invalid operation: {key}"))),
            }
            continue;
        }
        let permitted = allowed.iter().any(|a| match a.strip_suffix(".*") {
            Some(prefix) => path.starts_with(prefix),
            None => path == *a,
        });
        if !permitted {
            return Err(invalid(format!("Invalid attribute: {path}")));
        }
        if let Value::Object(inner) = value {
            check(inner, allowed, &path)?;
        }
    }
    Ok(())
}

fn all_hold(conditions: &Map<String, Value>, doc: &Value) -> bool {
    conditions
        .iter()
        .all(|(key, condition)| match key.as_str() {
            "$or" => each_clause(condition).any(|c| all_hold(c, doc)),
            "$and" => each_clause(condition).all(|c| all_hold(c, doc)),
            path => {
                let mut found = Vec::new();
                collect(doc, &path.split('.').collect::<Vec<_>>(), &mut found);
                holds(condition, &found)
            }
        })
}

fn each_clause(condition: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    condition
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

/// The values at a dotted path; arrays along the way stand for each of their elements.
fn collect<'a>(value: &'a Value, path: &[&str], found: &mut Vec<&'a Value>) {
    match (value, path.split_first()) {
        (Value::Array(items), Some(_)) => {
            for item in items {
                collect(item, path, found);
            }
        }
        (Value::Object(map), Some((head, rest))) => {
            if let Some(next) = map.get(*head) {
                collect(next, rest, found);
            }
        }
        (_, None) => found.push(value),
        _ => {}
    }
}

fn holds(condition: &Value, found: &[&Value]) -> bool {
    let candidates = || {
        found.iter().flat_map(|v| match v {
            Value::Array(items) => items.iter().collect::<Vec<_>>(),
            other => vec![*other],
        })
    };
    if let Some(pattern) = condition.get("$regex").and_then(Value::as_str) {
        let options = condition
            .get("$options")
            .and_then(Value::as_str)
            .unwrap_or("");
        let Ok(regex) = RegexBuilder::new(pattern)
            .case_insensitive(options.contains('i'))
            .multi_line(options.contains('m'))
            .dot_matches_new_line(options.contains('s'))
            .ignore_whitespace(options.contains('x'))
            .size_limit(1 << 20)
            .build()
        else {
            return false;
        };
        return candidates().any(|v| v.as_str().is_some_and(|s| regex.is_match(s)));
    }
    if condition.is_null() {
        return found.iter().all(|v| v.is_null());
    }
    candidates().any(|v| v == condition) || found.contains(&condition)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(privileged: bool) -> Vec<String> {
        listed_fields(None, privileged)
    }

    fn query(value: Value, privileged: bool) -> Result<UserQuery> {
        let Value::Object(map) = value else {
            panic!("not an object")
        };
        UserQuery::parse(&map, &fields(privileged), privileged)
    }

    #[test]
    fn matches_patterns_equality_and_addresses() {
        let doc = json!({"username": "alice", "name": "Alice A", "active": true,
                         "emails": [{"address": "a@example.org", "verified": true}]});
        assert!(
            query(json!({"name": {"$regex": "^alice", "$options": "i"}}), true)
                .expect("valid query")
                .matches(&doc)
        );
        assert!(
            !query(json!({"name": {"$regex": "^alice"}}), true)
                .expect("valid query")
                .matches(&doc)
        );
        assert!(
            query(json!({"active": true}), true)
                .expect("valid query")
                .matches(&doc)
        );
        assert!(
            query(json!({"emails.address": "a@example.org"}), true)
                .expect("valid query")
                .matches(&doc)
        );
        assert!(
            query(
                json!({"$or": [{"username": "bob"}, {"username": "alice"}]}),
                true
            )
            .expect("valid query")
            .matches(&doc)
        );
        assert!(
            !query(
                json!({"$and": [{"username": "bob"}, {"username": "alice"}]}),
                true
            )
            .expect("valid query")
            .matches(&doc)
        );
    }

    #[test]
    fn refuses_what_the_whitelist_does_not_name() {
        let err = query(json!({"bio": "x"}), true).expect_err("refused");
        assert_eq!(err.reason, "Invalid attribute: bio");
        let err = query(json!({"$where": "1"}), true).expect_err("refused");
        assert_eq!(err.reason, "Invalid operation: $where");
        let err = query(json!({"name": {"$ne": "x"}}), true).expect_err("refused");
        assert_eq!(err.reason, "Invalid operation: $ne");
    }

    #[test]
    fn hidden_fields_are_dropped_for_the_unprivileged() {
        let doc = json!({"username": "alice"});
        // The condition on addresses is ignored, as upstream removes it.
        assert!(
            query(json!({"emails.address": "nobody@example.org"}), false)
                .expect("valid query")
                .matches(&doc)
        );
        assert!(!fields(false).contains(&"emails".to_owned()));
        assert!(fields(true).contains(&"emails".to_owned()));
        let with_bio = listed_fields(json!({"bio": 1, "services": 1}).as_object(), true);
        assert!(with_bio.contains(&"bio".to_owned()));
        assert!(!with_bio.contains(&"services".to_owned()));
    }
}
