//! The audit log's entries and the hash chain that makes them tamper-evident.
//!
//! Each entry carries the hash of the entry before it (`prev_hash`) and its own `hash`: the
//! SHA-256 of a canonical encoding of every field of the entry followed by `prev_hash`. Editing,
//! inserting or deleting any entry but the newest breaks a link that [`verify_link`] finds.
//! Pruning old entries keeps the chain checkable: the prune is itself an entry
//! ([`PRUNE_ACTION`]) recording the sequence number and hash of the last entry it removed, and
//! the oldest entry left must link to that hash.

use crate::Timestamp;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// The `prev_hash` of the very first entry.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of the entry a prune appends; its `after` holds [`PruneAnchor`]'s fields.
pub const PRUNE_ACTION: &str = "audit.prune";

/// What replaces a secret in `before`/`after`.
pub const REDACTED: &str = "[redacted]";

/// One entry about to be appended: everything but its place in the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditDraft {
    pub at: Timestamp,
    /// The acting user's id, or `system`/`anonymous`.
    pub actor_id: String,
    pub actor_username: String,
    /// What was done, dotted (`user.create`, `setting.update`, `room.delete`, ...).
    pub action: String,
    /// What kind of thing it was done to (`user`, `room`, `setting`, ...).
    pub target_kind: String,
    pub target_id: String,
    /// A readable name of the target when it has one (username, room name).
    pub target_name: Option<String>,
    /// The client's address as the protocol edge saw it (after trusted proxies).
    pub client_address: Option<String>,
    pub user_agent: Option<String>,
    /// The changed fields as they were, as canonical JSON with secrets redacted.
    pub before: Option<String>,
    /// The changed fields as they are now, likewise.
    pub after: Option<String>,
}

/// One stored entry: a draft with its sequence number and its links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// 1, 2, 3, ... without gaps, in the order entries were appended.
    pub seq: u64,
    pub draft: AuditDraft,
    /// The hash of the entry `seq - 1` ([`GENESIS_HASH`] for the first).
    pub prev_hash: String,
    pub hash: String,
}

impl AuditEntry {
    /// Links a draft after an entry with sequence number `prev_seq` and hash `prev_hash`.
    pub fn chain(draft: AuditDraft, prev_seq: u64, prev_hash: &str) -> AuditEntry {
        let seq = prev_seq + 1;
        let hash = entry_hash(seq, &draft, prev_hash);
        AuditEntry {
            seq,
            draft,
            prev_hash: prev_hash.to_owned(),
            hash,
        }
    }

    /// The entry as an export line and a REST item carry it.
    pub fn to_json(&self) -> Value {
        let d = &self.draft;
        let parse = |text: &Option<String>| {
            text.as_deref()
                .map(|t| serde_json::from_str::<Value>(t).unwrap_or(Value::String(t.to_owned())))
                .unwrap_or(Value::Null)
        };
        serde_json::json!({
            "seq": self.seq,
            "ts": d.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "actor": {"_id": d.actor_id, "username": d.actor_username},
            "action": d.action,
            "target": {"kind": d.target_kind, "_id": d.target_id, "name": d.target_name},
            "clientAddress": d.client_address,
            "userAgent": d.user_agent,
            "before": parse(&d.before),
            "after": parse(&d.after),
            "prevHash": self.prev_hash,
            "hash": self.hash,
        })
    }
}

/// The hash of an entry: SHA-256, in lowercase hex, of the canonical JSON array of its fields
/// (sequence number, time in Unix milliseconds, actor, action, target, client, before, after)
/// followed by the previous entry's hash. Absent values are JSON `null`, so that no two
/// different entries encode alike.
pub fn entry_hash(seq: u64, draft: &AuditDraft, prev_hash: &str) -> String {
    let fields = Value::Array(vec![
        Value::from(seq),
        Value::from(draft.at.timestamp_millis()),
        Value::from(draft.actor_id.as_str()),
        Value::from(draft.actor_username.as_str()),
        Value::from(draft.action.as_str()),
        Value::from(draft.target_kind.as_str()),
        Value::from(draft.target_id.as_str()),
        Value::from(draft.target_name.clone()),
        Value::from(draft.client_address.clone()),
        Value::from(draft.user_agent.clone()),
        Value::from(draft.before.clone()),
        Value::from(draft.after.clone()),
        Value::from(prev_hash),
    ]);
    let mut hasher = Sha256::new();
    hasher.update(canonical_json(&fields).as_bytes());
    hex::encode(hasher.finalize())
}

/// JSON with object keys sorted bytewise at every depth and no whitespace: the same value
/// always gives the same text, whatever order its keys were built in.
pub fn canonical_json(value: &Value) -> String {
    fn sorted(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let mut out = Map::new();
                for key in keys {
                    if let Some(inner) = map.get(key) {
                        out.insert(key.clone(), sorted(inner));
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    // Objects are written key by key so that the order holds even if serde_json keeps
    // insertion order (its `preserve_order` feature) or does not.
    fn write(value: &Value, out: &mut String) {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                out.push('{');
                for (i, key) in keys.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&Value::String(key.clone()).to_string());
                    out.push(':');
                    if let Some(inner) = map.get(key) {
                        write(inner, out);
                    }
                }
                out.push('}');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(item, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut out = String::new();
    write(&sorted(value), &mut out);
    out
}

/// Whether a field name names a secret: its value never enters the log.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [
        "password",
        "secret",
        "token",
        "apikey",
        "api_key",
        "privatekey",
        "private_key",
        "credential",
        "bcrypt",
        "salt",
    ]
    .iter()
    .any(|word| key.contains(word))
}

/// `value` with every field whose name is a secret ([`is_secret_key`]) replaced by
/// [`REDACTED`], at every depth.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, inner)| {
                    let inner = if is_secret_key(key) && !inner.is_null() {
                        Value::String(REDACTED.to_owned())
                    } else {
                        redact(inner)
                    };
                    (key.clone(), inner)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        other => other.clone(),
    }
}

/// Where the kept part of a pruned chain starts: the last removed entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneAnchor {
    pub through_seq: u64,
    pub last_hash: String,
}

impl PruneAnchor {
    pub fn to_json(&self) -> Value {
        serde_json::json!({"throughSeq": self.through_seq, "lastHash": self.last_hash})
    }

    /// The anchor a prune entry records, if `entry` is one.
    pub fn of(entry: &AuditEntry) -> Option<PruneAnchor> {
        if entry.draft.action != PRUNE_ACTION {
            return None;
        }
        let after: Value = serde_json::from_str(entry.draft.after.as_deref()?).ok()?;
        Some(PruneAnchor {
            through_seq: after.get("throughSeq")?.as_u64()?,
            last_hash: after.get("lastHash")?.as_str()?.to_owned(),
        })
    }
}

/// What checking a chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainVerdict {
    /// Every entry's hash and link hold; how many entries were checked.
    Intact { entries: u64 },
    /// The first entry whose hash or link does not hold, and why.
    Broken { seq: u64, reason: String },
}

/// Checks a chain entry by entry, oldest first, in constant memory.
#[derive(Debug, Default)]
pub struct ChainVerifier {
    previous: Option<(u64, String)>,
    /// The sequence number the kept chain starts after and the hash it starts from, as the
    /// newest prune entry says (checked when the walk reaches it).
    expected_start: Option<PruneAnchor>,
    checked: u64,
    first: Option<(u64, String)>,
}

impl ChainVerifier {
    pub fn new() -> ChainVerifier {
        ChainVerifier::default()
    }

    /// Checks the next entry; the first broken link ends the walk.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), ChainVerdict> {
        let broken = |reason: &str| ChainVerdict::Broken {
            seq: entry.seq,
            reason: reason.to_owned(),
        };
        if entry_hash(entry.seq, &entry.draft, &entry.prev_hash) != entry.hash {
            return Err(broken("its hash does not match its contents"));
        }
        match &self.previous {
            Some((seq, hash)) => {
                if entry.seq != seq + 1 {
                    return Err(broken("the entry before it is missing"));
                }
                if &entry.prev_hash != hash {
                    return Err(broken("it does not link to the entry before it"));
                }
            }
            None => {
                if entry.seq == 1 && entry.prev_hash != GENESIS_HASH {
                    return Err(broken("the first entry does not start the chain"));
                }
                self.first = Some((entry.seq, entry.prev_hash.clone()));
            }
        }
        if let Some(anchor) = PruneAnchor::of(entry) {
            self.expected_start = Some(anchor);
        }
        self.previous = Some((entry.seq, entry.hash.clone()));
        self.checked += 1;
        Ok(())
    }

    /// The verdict once every entry has been checked: a chain that does not start at entry 1
    /// must start where its newest prune says the pruned part ended.
    pub fn finish(self) -> ChainVerdict {
        if let Some((first_seq, first_prev)) = &self.first
            && *first_seq != 1
        {
            let anchored = self.expected_start.as_ref().is_some_and(|anchor| {
                anchor.through_seq + 1 == *first_seq && &anchor.last_hash == first_prev
            });
            if !anchored {
                return ChainVerdict::Broken {
                    seq: *first_seq,
                    reason: "the entries before it are missing and no prune accounts for them"
                        .to_owned(),
                };
            }
        }
        ChainVerdict::Intact {
            entries: self.checked,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft(action: &str) -> AuditDraft {
        AuditDraft {
            at: crate::now(),
            actor_id: "u1".into(),
            actor_username: "admin".into(),
            action: action.into(),
            target_kind: "user".into(),
            target_id: "u2".into(),
            target_name: Some("bob".into()),
            client_address: Some("127.0.0.1".into()),
            user_agent: None,
            before: None,
            after: Some(canonical_json(&serde_json::json!({"b": 1, "a": [true]}))),
        }
    }

    #[test]
    fn canonical_json_sorts_keys_at_every_depth() {
        let value = serde_json::json!({"z": {"y": 1, "b": 2}, "a": [{"d": 1, "c": 2}]});
        assert_eq!(
            canonical_json(&value),
            r#"{"a":[{"c":2,"d":1}],"z":{"b":2,"y":1}}"#
        );
    }

    #[test]
    fn redact_hides_secrets_at_every_depth() {
        let value =
            serde_json::json!({"name": "x", "password": "p", "services": {"apiToken": "t"}});
        assert_eq!(
            redact(&value),
            serde_json::json!({"name": "x", "password": REDACTED, "services": {"apiToken": REDACTED}})
        );
    }

    #[test]
    fn a_chain_verifies_and_an_edit_breaks_it_at_that_entry() {
        let first = AuditEntry::chain(draft("user.create"), 0, GENESIS_HASH);
        let second = AuditEntry::chain(draft("user.update"), first.seq, &first.hash);
        let third = AuditEntry::chain(draft("user.delete"), second.seq, &second.hash);
        let mut verifier = ChainVerifier::new();
        for entry in [&first, &second, &third] {
            assert!(verifier.check(entry).is_ok());
        }
        assert_eq!(verifier.finish(), ChainVerdict::Intact { entries: 3 });

        let mut edited = second.clone();
        edited.draft.target_name = Some("mallory".into());
        let mut verifier = ChainVerifier::new();
        assert!(verifier.check(&first).is_ok());
        assert!(matches!(
            verifier.check(&edited),
            Err(ChainVerdict::Broken { seq: 2, .. })
        ));
    }

    #[test]
    fn a_pruned_chain_verifies_only_from_its_anchor() {
        let first = AuditEntry::chain(draft("user.create"), 0, GENESIS_HASH);
        let second = AuditEntry::chain(draft("user.update"), 1, &first.hash);
        let mut prune = draft(PRUNE_ACTION);
        prune.after = Some(canonical_json(
            &PruneAnchor {
                through_seq: 1,
                last_hash: first.hash.clone(),
            }
            .to_json(),
        ));
        let third = AuditEntry::chain(prune, 2, &second.hash);
        let mut verifier = ChainVerifier::new();
        assert!(verifier.check(&second).is_ok());
        assert!(verifier.check(&third).is_ok());
        assert_eq!(verifier.finish(), ChainVerdict::Intact { entries: 2 });

        // Without the prune entry, a chain starting at 2 is missing its beginning.
        let mut verifier = ChainVerifier::new();
        assert!(verifier.check(&second).is_ok());
        assert!(matches!(
            verifier.finish(),
            ChainVerdict::Broken { seq: 2, .. }
        ));
    }
}
