//! Conditions a client may attach to a search (`users.autocomplete`'s `selector.conditions`):
//! Mongo-style documents which, as upstream's `isValidQuery` allows them, may combine
//! field equalities with `$and` and `$or` and use no other operator. They are checked once,
//! then evaluated against each candidate's JSON document.

use serde_json::{Map, Value};

/// The operators a condition may use.
const ALLOWED_OPERATORS: &[&str] = &["$and", "$or"];

/// Keys upstream strips before looking at a query (they could reach object prototypes there).
const DANGEROUS_KEYS: &[&str] = &["__proto__", "constructor", "prototype"];

/// Whether `conditions` is an object that uses only allowed operators; the error names the
/// first one that is not (`Invalid operation: $nor`).
pub fn check(conditions: &Value) -> Result<(), String> {
    match conditions {
        Value::Object(map) => check_object(map),
        _ => Err("query must be an object".to_owned()),
    }
}

fn check_object(map: &Map<String, Value>) -> Result<(), String> {
    for (key, value) in map {
        if DANGEROUS_KEYS.contains(&key.as_str()) {
            continue;
        }
        if key.starts_with('$') && !ALLOWED_OPERATORS.contains(&key.as_str()) {
            return Err(format!("Invalid operation: {key}"));
        }
        check_value(value)?;
    }
    Ok(())
}

fn check_value(value: &Value) -> Result<(), String> {
    match value {
        Value::Object(map) => check_object(map),
        Value::Array(items) => items.iter().try_for_each(check_value),
        _ => Ok(()),
    }
}

/// Whether `doc` satisfies `conditions` (which `check` accepted).
pub fn matches(doc: &Value, conditions: &Value) -> bool {
    let Value::Object(map) = conditions else {
        return false;
    };
    map.iter()
        .filter(|(key, _)| !DANGEROUS_KEYS.contains(&key.as_str()))
        .all(|(key, expected)| match key.as_str() {
            "$and" => expected
                .as_array()
                .is_some_and(|all| all.iter().all(|c| matches(doc, c))),
            "$or" => expected
                .as_array()
                .is_some_and(|any| any.iter().any(|c| matches(doc, c))),
            path => field_equals(&values_at(doc, path), expected),
        })
}

/// The values a dotted path reaches, stepping into every element of the arrays on its way,
/// as Mongo does; empty when nothing is there.
fn values_at<'a>(doc: &'a Value, path: &str) -> Vec<&'a Value> {
    let mut current = vec![doc];
    for part in path.split('.') {
        let mut next = Vec::new();
        for value in current {
            match value {
                Value::Object(map) => next.extend(map.get(part)),
                Value::Array(items) => match part.parse::<usize>() {
                    Ok(index) => next.extend(items.get(index)),
                    Err(_) => next.extend(
                        items
                            .iter()
                            .filter_map(|item| item.as_object().and_then(|m| m.get(part))),
                    ),
                },
                _ => {}
            }
        }
        current = next;
    }
    current
}

/// Mongo's equality: a missing field equals `null`; an array field equals a value it holds.
fn field_equals(found: &[&Value], expected: &Value) -> bool {
    if found.is_empty() {
        return expected.is_null();
    }
    found.iter().any(|value| {
        same(value, expected)
            || value
                .as_array()
                .is_some_and(|items| items.iter().any(|item| same(item, expected)))
    })
}

/// Equality with numbers compared by value (`1` equals `1.0`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| same(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(key, p)| y.get(key).is_some_and(|q| same(p, q)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_and_or_are_allowed_anywhere() {
        assert!(check(&json!({"$and": [{"active": false}, {"status": "online"}]})).is_ok());
        assert!(check(&json!({"$or": [{"username": "a"}, {"name": {"first": "b"}}]})).is_ok());
        assert_eq!(
            check(&json!({"$nor": [{"username": "a"}]})),
            Err("Invalid operation: $nor".to_owned())
        );
        assert_eq!(
            check(&json!({"username": {"$exists": true}})),
            Err("Invalid operation: $exists".to_owned())
        );
        assert_eq!(
            check(&json!({"$or": [{"status": {"$ne": "offline"}}]})),
            Err("Invalid operation: $ne".to_owned())
        );
        assert!(check(&json!("text")).is_err());
    }

    #[test]
    fn equality_follows_mongo() {
        let doc = json!({"active": true, "status": "online", "roles": ["user", "bot"],
                         "emails": [{"address": "a@b.c"}], "utcOffset": 2});
        assert!(matches(&doc, &json!({})));
        assert!(matches(&doc, &json!({"active": true, "status": "online"})));
        assert!(!matches(
            &doc,
            &json!({"$and": [{"active": false}, {"status": "online"}]})
        ));
        assert!(matches(
            &doc,
            &json!({"$or": [{"active": false}, {"status": "online"}]})
        ));
        assert!(matches(&doc, &json!({"roles": "bot"})));
        assert!(matches(&doc, &json!({"roles": ["user", "bot"]})));
        assert!(matches(&doc, &json!({"emails.address": "a@b.c"})));
        assert!(matches(&doc, &json!({"utcOffset": 2.0})));
        assert!(matches(&doc, &json!({"nickname": null})));
        assert!(!matches(&doc, &json!({"nickname": "x"})));
    }
}
