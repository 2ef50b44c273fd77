//! Identifiers and secrets in Rocket.Chat's (Meteor's) forms.

use rand::Rng;

/// Meteor's `Random.id()` alphabet: no look-alike characters (no 0, 1, I, O, l, o...).
const ID_ALPHABET: &[u8] = b"23456789ABCDEFGHJKLMNPQRSTWXYZabcdefghijkmnopqrstuvwxyz";
/// Meteor's `Random.secret()` alphabet (URL-safe base64 characters).
const SECRET_ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_";

/// Length of a document id, as Meteor's `Random.id()` makes them.
pub const ID_LEN: usize = 17;
/// Length of a login token, as Meteor's `Random.secret()` makes them.
pub const SECRET_LEN: usize = 43;

fn random_from(alphabet: &[u8], len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| char::from(alphabet[rng.random_range(0..alphabet.len())]))
        .collect()
}

/// A new random document id (17 characters of Meteor's alphabet).
pub fn new_id() -> String {
    random_from(ID_ALPHABET, ID_LEN)
}

/// A random string of `len` characters of Meteor's id alphabet (`Random.id(len)`).
pub fn random_id(len: usize) -> String {
    random_from(ID_ALPHABET, len)
}

/// A random number, for values that only need to differ (SockJS's `entropy`).
pub fn random_u32() -> u32 {
    rand::rng().random()
}

/// A new random secret (43 URL-safe characters, about 256 bits), used for login tokens.
pub fn new_secret() -> String {
    random_from(SECRET_ALPHABET, SECRET_LEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_meteor_shape() {
        let id = new_id();
        assert_eq!(id.len(), ID_LEN);
        assert!(id.bytes().all(|b| ID_ALPHABET.contains(&b)));
        assert_ne!(new_id(), new_id());
    }

    #[test]
    fn secrets_are_long_and_url_safe() {
        let s = new_secret();
        assert_eq!(s.len(), SECRET_LEN);
        assert!(s.bytes().all(|b| SECRET_ALPHABET.contains(&b)));
    }
}
