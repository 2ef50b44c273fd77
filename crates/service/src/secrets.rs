//! Secrets the server must read back (TOTP shared secrets), sealed at rest with AES-256-GCM
//! under the server's secret key (`COMET_SECRET_KEY`, or `<data dir>/secret.key`): a copy of
//! the database alone does not reveal them.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use comet_core::{Error, Result};
use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};

/// Marks the format of a sealed value, so that another one can follow.
const SEALED_PREFIX: &str = "v1:";
/// Bytes of the key.
pub const SECRET_KEY_LEN: usize = 32;

/// The server's key for secrets at rest.
#[derive(Clone)]
pub struct SecretKey([u8; SECRET_KEY_LEN]);

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretKey(<redacted>)")
    }
}

impl SecretKey {
    /// A new random key.
    pub fn generate() -> SecretKey {
        SecretKey(rand::random())
    }

    /// Reads a key written as 64 hexadecimal digits (surrounding whitespace ignored).
    pub fn from_hex(text: &str) -> std::result::Result<SecretKey, String> {
        let bytes = hex::decode(text.trim()).map_err(|e| format!("not hexadecimal: {e}"))?;
        let bytes: [u8; SECRET_KEY_LEN] = bytes
            .try_into()
            .map_err(|_| format!("must be {} hexadecimal digits", SECRET_KEY_LEN * 2))?;
        Ok(SecretKey(bytes))
    }

    /// The key as 64 hexadecimal digits, for writing it down.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    fn aead_key(&self) -> Result<LessSafeKey> {
        UnboundKey::new(&AES_256_GCM, &self.0)
            .map(LessSafeKey::new)
            .map_err(|_| Error::internal("invalid secret key"))
    }

    /// Seals `plain` for storage, bound to `context` (the owner and the purpose), so that a
    /// sealed value copied to another row does not open there.
    pub fn seal(&self, plain: &str, context: &str) -> Result<String> {
        let nonce: [u8; NONCE_LEN] = rand::random();
        let mut sealed = plain.as_bytes().to_vec();
        self.aead_key()?
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(context.as_bytes()),
                &mut sealed,
            )
            .map_err(|_| Error::internal("sealing a secret failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD_NO_PAD.encode(out)))
    }

    /// Opens a value [`SecretKey::seal`] made with the same key and context.
    pub fn open(&self, sealed: &str, context: &str) -> Result<String> {
        let unreadable = || Error::internal("a stored secret cannot be opened with this key");
        let encoded = sealed.strip_prefix(SEALED_PREFIX).ok_or_else(unreadable)?;
        let bytes = STANDARD_NO_PAD.decode(encoded).map_err(|_| unreadable())?;
        if bytes.len() < NONCE_LEN {
            return Err(unreadable());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| unreadable())?;
        let mut buffer = ciphertext.to_vec();
        let plain = self
            .aead_key()?
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut buffer)
            .map_err(|_| unreadable())?;
        String::from_utf8(plain.to_vec()).map_err(|_| unreadable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_context() {
        let key = SecretKey::generate();
        let sealed = key.seal("JBSWY3DPEHPK3PXP", "totp:u1").expect("sealing");
        assert!(!sealed.contains("JBSWY3DPEHPK3PXP"));
        assert_eq!(
            key.open(&sealed, "totp:u1").expect("sealing"),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(key.open(&sealed, "totp:u2").is_err());
        let other = SecretKey::generate();
        assert!(other.open(&sealed, "totp:u1").is_err());
        // Two seals of one secret differ (fresh nonces).
        assert_ne!(
            key.seal("x", "c").expect("sealing"),
            key.seal("x", "c").expect("sealing")
        );
        let again = SecretKey::from_hex(&key.to_hex()).expect("sealing");
        assert_eq!(
            again.open(&sealed, "totp:u1").expect("sealing"),
            "JBSWY3DPEHPK3PXP"
        );
        assert!(SecretKey::from_hex("abcd").is_err());
    }
}
