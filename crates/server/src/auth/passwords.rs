//! Console passwords: Argon2id with the crate's default parameters, stored as PHC strings
//! (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`), so the parameters travel with each hash and can be
//! raised later without invalidating old ones.
//!
//! Hashing is deliberately slow (tens of milliseconds and ~19 MiB), so it runs on the blocking pool,
//! never on an async worker. [`dummy_hash`] gives sign-in something of the same cost to verify
//! when the username is unknown, so response times do not tell which usernames exist.

use std::sync::OnceLock;

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::error::ApiError;

/// Passwords shorter than this are refused (NIST SP 800-63B asks for at least 8; a console that
/// holds customer phone numbers asks for more).
pub const MIN_PASSWORD_LEN: usize = 12;
/// Longer inputs are refused: hashing megabytes on request would be a denial-of-service lever.
pub use crate::hardening::limits::MAX_PASSWORD_LEN;

/// Checks a new password's length (in characters), naming `field` in the 422.
pub fn check_new_password(field: &str, password: &str) -> Result<(), ApiError> {
    let len = password.chars().count();
    if len < MIN_PASSWORD_LEN {
        return Err(ApiError::invalid_field(field, format!("a password has at least {MIN_PASSWORD_LEN} characters")));
    }
    if len > MAX_PASSWORD_LEN {
        return Err(ApiError::invalid_field(field, format!("a password has at most {MAX_PASSWORD_LEN} characters")));
    }
    Ok(())
}

/// The Argon2id PHC string of `password` with a fresh 16-byte salt (CPU-bound: call from
/// [`hash_password`] in async code).
pub fn hash_password_blocking(password: &str) -> Result<String, ApiError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| ApiError::Internal(format!("password salt: {e}")))?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| ApiError::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches the PHC string `hash` (a hash that cannot be read matches nothing).
pub fn verify_password_blocking(password: &str, hash: &str) -> bool {
    match PasswordHash::new(hash) {
        Ok(parsed) => Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok(),
        Err(e) => {
            tracing::error!(error.cause = %e, "a stored password hash cannot be read");
            false
        }
    }
}

/// [`hash_password_blocking`] on the blocking pool.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_password_blocking(&password))
        .await
        .map_err(|e| ApiError::Internal(format!("password hashing task failed: {e}")))?
}

/// [`verify_password_blocking`] on the blocking pool.
pub async fn verify_password(password: String, hash: String) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || verify_password_blocking(&password, &hash))
        .await
        .map_err(|e| ApiError::Internal(format!("password verification task failed: {e}")))
}

/// A hash of a random password with the same parameters as real ones, made once per process.
pub fn dummy_hash() -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| {
        let mut bytes = [0u8; 24];
        rand::rng().fill_bytes(&mut bytes);
        // Only fails on a salt of the wrong length, which ours is not; an unreadable dummy would
        // still verify nothing, at a lower cost.
        hash_password_blocking(&hex::encode(bytes)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_phc_strings_that_verify_only_the_password() {
        let hash = hash_password_blocking("correct horse battery").unwrap();
        assert!(hash.starts_with("$argon2id$"), "{hash}");
        assert!(verify_password_blocking("correct horse battery", &hash));
        assert!(!verify_password_blocking("correct horse batterY", &hash));
        assert!(!verify_password_blocking("anything", "not a hash"));
        assert_ne!(hash, hash_password_blocking("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(check_new_password("password", "elevenchars").is_err());
        assert!(check_new_password("password", "twelve chars").is_ok());
        assert!(check_new_password("password", &"x".repeat(MAX_PASSWORD_LEN + 1)).is_err());
        assert!(dummy_hash().starts_with("$argon2id$"));
    }
}
