//! Password and token digests in the forms Meteor's accounts packages use.
//!
//! Rocket.Chat never hashes the plain password directly: the client (or the server, for plain
//! logins) first takes the SHA-256 hex digest, and bcrypt is applied to that digest. Keeping the
//! same scheme lets digest logins (`{digest, algorithm: "sha-256"}`) and plain logins share one
//! stored hash, and lets a Rocket.Chat database's hashes be imported unchanged.

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// The lowercase hex SHA-256 of a plain password: what Meteor clients send as `digest`.
pub fn sha256_hex(plain: &str) -> String {
    hex::encode(Sha256::digest(plain.as_bytes()))
}

/// The stored form of a login token: base64 of its SHA-256 (Meteor's `Accounts._hashLoginToken`).
pub fn hash_login_token(token: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(token.as_bytes()))
}

/// Whether a string looks like a SHA-256 hex digest (64 lowercase or uppercase hex characters).
pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_known_vector() {
        assert_eq!(
            sha256_hex("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert!(is_sha256_hex(&sha256_hex("x")));
        assert!(!is_sha256_hex("xyz"));
    }

    #[test]
    fn token_hash_is_base64_sha256() {
        assert_eq!(
            hash_login_token("abc"),
            "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0="
        );
    }
}
