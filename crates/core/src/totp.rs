//! Time-based one-time passwords (RFC 6238 over RFC 4226's HOTP): 30-second steps, six
//! digits, HMAC-SHA1, as authenticator apps and upstream's `speakeasy` compute them; and the
//! single-use backup codes upstream hands out with them.

use crate::password::sha256_hex;
use ring::hmac;

/// Seconds one code lives.
pub const STEP_SECONDS: i64 = 30;
/// Digits of a code.
pub const DIGITS: u32 = 6;
/// How many backup codes an enrolment yields (upstream's `TOTP.generateCodes`).
pub const BACKUP_CODE_COUNT: usize = 12;
/// Length of a backup code (Meteor's `Random.id(8)`); a code of this length is only ever
/// checked as a backup code, never as a TOTP code, as upstream.
pub const BACKUP_CODE_LEN: usize = 8;

/// Bytes of a new shared secret: 160 bits, the HMAC-SHA1 key size RFC 4226 recommends.
const SECRET_BYTES: usize = 20;

const BASE32_ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new random shared secret, base32 without padding (how apps and the otpauth URL take it).
pub fn new_secret() -> String {
    let bytes: [u8; SECRET_BYTES] = rand::random();
    base32_encode(&bytes)
}

/// RFC 4648 base32, upper case, without padding.
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(
                BASE32_ALPHABET[((buffer >> bits) & 31) as usize],
            ));
        }
    }
    if bits > 0 {
        out.push(char::from(
            BASE32_ALPHABET[((buffer << (5 - bits)) & 31) as usize],
        ));
    }
    out
}

/// Decodes base32 (either case, spaces and padding ignored); `None` on another character.
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(text.len() * 5 / 8);
    let mut buffer: u32 = 0;
    let mut bits = 0u32;
    for c in text.chars().filter(|c| *c != '=' && !c.is_whitespace()) {
        let upper = c.to_ascii_uppercase();
        let value = BASE32_ALPHABET
            .iter()
            .position(|&a| char::from(a) == upper)?;
        buffer = (buffer << 5) | u32::try_from(value).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

/// The HOTP value of `key` at `counter`, as `DIGITS` decimal digits.
pub fn hotp(key: &[u8], counter: u64) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key);
    let tag = hmac::sign(&key, &counter.to_be_bytes());
    let digest = tag.as_ref();
    let offset = usize::from(digest[digest.len() - 1] & 0x0f);
    let binary = (u32::from(digest[offset] & 0x7f) << 24)
        | (u32::from(digest[offset + 1]) << 16)
        | (u32::from(digest[offset + 2]) << 8)
        | u32::from(digest[offset + 3]);
    let code = binary % 10u32.pow(DIGITS);
    format!("{code:0width$}", width = DIGITS as usize)
}

/// The time step holding `unix_seconds`.
fn step_of(unix_seconds: i64) -> i64 {
    unix_seconds.div_euclid(STEP_SECONDS)
}

/// The code of base32 `secret` at `unix_seconds`; `None` for a secret that is not base32.
pub fn code_at(secret: &str, unix_seconds: i64) -> Option<String> {
    let key = base32_decode(secret)?;
    let step = u64::try_from(step_of(unix_seconds)).ok()?;
    Some(hotp(&key, step))
}

/// Whether `code` is the code of `secret` at `unix_seconds` or within `window` steps of it
/// either way (upstream's `Accounts_TwoFactorAuthentication_MaxDelta`, 1 by default). The
/// comparison takes the same time whatever the digits.
pub fn verify(secret: &str, code: &str, unix_seconds: i64, window: u32) -> bool {
    let code = code.trim();
    if code.len() != DIGITS as usize || !code.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let Some(key) = base32_decode(secret) else {
        return false;
    };
    let now = step_of(unix_seconds);
    let window = i64::from(window);
    let mut matched = false;
    for step in (now - window)..=(now + window) {
        let Ok(step) = u64::try_from(step) else {
            continue;
        };
        matched |= constant_time_eq(hotp(&key, step).as_bytes(), code.as_bytes());
    }
    matched
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The `otpauth://` URL an authenticator app scans, labelled as upstream (`Rocket.Chat:<user>`)
/// with `issuer` naming the site.
pub fn otpauth_url(secret: &str, username: &str, issuer: &str) -> String {
    let label = format!("{issuer}:{username}");
    format!(
        "otpauth://totp/{}?secret={secret}&issuer={}",
        percent_encode(&label),
        percent_encode(issuer)
    )
}

fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b':' => {
                char::from(b).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// New backup codes and their digests (SHA-256 hex, as upstream stores them): the codes are
/// shown once, only the digests are kept.
pub fn new_backup_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..BACKUP_CODE_COUNT)
        .map(|_| crate::id::random_id(BACKUP_CODE_LEN))
        .collect();
    let hashes = codes.iter().map(|c| sha256_hex(c)).collect();
    (codes, hashes)
}

/// The digest a backup code is kept as.
pub fn backup_code_hash(code: &str) -> String {
    sha256_hex(code)
}

/// Whether `code` is shaped as a backup code (and so is checked only as one).
pub fn is_backup_code_shape(code: &str) -> bool {
    code.len() == BACKUP_CODE_LEN
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key ("12345678901234567890"), eight digits there; the
    /// six-digit codes are the last six of them.
    const RFC_KEY: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc_6238_vectors() {
        let secret = base32_encode(RFC_KEY);
        for (time, eight_digits) in [
            (59, "94287082"),
            (1_111_111_109, "07081804"),
            (1_111_111_111, "14050471"),
            (1_234_567_890, "89005924"),
            (2_000_000_000, "69279037"),
            (20_000_000_000, "65353130"),
        ] {
            assert_eq!(code_at(&secret, time).as_deref(), Some(&eight_digits[2..]));
        }
    }

    #[test]
    fn base32_round_trips() {
        assert_eq!(base32_encode(b"foobar"), "MZXW6YTBOI");
        assert_eq!(
            base32_decode("mzxw6ytboi======").as_deref(),
            Some(&b"foobar"[..])
        );
        let secret = new_secret();
        assert_eq!(secret.len(), 32);
        assert_eq!(base32_decode(&secret).map(|b| b.len()), Some(SECRET_BYTES));
        assert_eq!(base32_decode("not base32!"), None);
    }

    #[test]
    fn verify_accepts_one_step_either_way_only() {
        let secret = new_secret();
        let now = 1_700_000_000;
        let code = |t| code_at(&secret, t).unwrap_or_default();
        assert!(verify(&secret, &code(now), now, 1));
        assert!(verify(&secret, &code(now - 30), now, 1));
        assert!(verify(&secret, &code(now + 30), now, 1));
        assert!(!verify(&secret, &code(now - 60), now, 1));
        assert!(!verify(&secret, &code(now - 30), now, 0));
        assert!(!verify(&secret, "12345", now, 1));
        assert!(!verify(&secret, "abcdef", now, 1));
    }

    #[test]
    fn backup_codes_are_twelve_and_hashed() {
        let (codes, hashes) = new_backup_codes();
        assert_eq!(codes.len(), 12);
        assert!(codes.iter().all(|c| is_backup_code_shape(c)));
        assert_eq!(hashes[0], sha256_hex(&codes[0]));
    }

    #[test]
    fn otpauth_url_names_user_and_issuer() {
        assert_eq!(
            otpauth_url("ABC", "al ice", "Rocket.Chat"),
            "otpauth://totp/Rocket.Chat:al%20ice?secret=ABC&issuer=Rocket.Chat"
        );
    }
}
