//! Password hashing off the async runtime: bcrypt is deliberately slow.

use comet_core::{Error, Result};

/// bcrypt of a SHA-256 hex digest, Meteor's storage form.
pub(crate) async fn hash_digest(digest: String, cost: u32) -> Result<String> {
    tokio::task::spawn_blocking(move || bcrypt::hash(digest.to_lowercase(), cost))
        .await
        .map_err(Error::internal)?
        .map_err(Error::internal)
}

/// Whether a SHA-256 hex digest matches a stored bcrypt hash. A malformed stored hash is
/// treated as a mismatch (and logged) rather than a crash.
pub(crate) async fn verify_digest(digest: String, stored: String) -> Result<bool> {
    let verdict =
        tokio::task::spawn_blocking(move || bcrypt::verify(digest.to_lowercase(), &stored))
            .await
            .map_err(Error::internal)?;
    match verdict {
        Ok(matches) => Ok(matches),
        Err(e) => {
            tracing::warn!(error = %e, "stored password hash is not valid bcrypt");
            Ok(false)
        }
    }
}
