//! Weft's credentials: how a caller proves who it is, and how the platform signs what it sends.
//!
//! - [`token`]: API tokens (`weft_<id>_<secret>`): generated from the system's random source, shown
//!   once, stored only as the SHA-256 of the secret, compared in constant time.
//! - [`credentials`]: what an HTTP request presents (`Authorization: Bearer`, `Authorization: Basic`
//!   with a token as the password, as Confluent's and ksqlDB's clients send it, a session cookie).
//! - [`jwt`]: OpenID Connect bearer tokens verified against the issuer's JSON Web Key Set (signature,
//!   issuer, audience, expiry; `alg: none` and HMAC algorithms refused), refetching the keys when the
//!   issuer rotates them.
//! - [`signature`]: HMAC-SHA256 signatures with a timestamp (webhook deliveries).
//!
//! Not here: who the identities are and what they may do (the mesh's identity store and its
//! authorization), nor HTTP (the server). The crate holds no state but a verifier's cached keys.

pub mod credentials;
pub mod jwt;
pub mod signature;
pub mod token;

pub use credentials::{parse_authorization, Credential};
pub use jwt::{JwtClaims, JwtVerifier, KeySource, OidcSettings};
pub use token::{constant_time_eq, ApiToken, TokenHash, TokenId};

/// Why a credential was refused. Messages say what was wrong without repeating the secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The credential is not in a shape Weft reads (not a token, not a JWT, bad encoding).
    #[error("malformed credential: {0}")]
    Malformed(String),
    /// A JWT's signature does not verify, or no key of the issuer can verify it.
    #[error("the token's signature is not valid: {0}")]
    BadSignature(String),
    /// A JWT's claims are not acceptable (issuer, audience, expiry, user claim).
    #[error("the token is not accepted: {0}")]
    Rejected(String),
    /// A JWT or API token past its expiry.
    #[error("the token expired")]
    Expired,
    /// The issuer's keys could not be read.
    #[error("cannot read the identity provider's keys: {0}")]
    KeysUnavailable(String),
    /// The system's random source failed.
    #[error("the system random source failed")]
    Random,
}

/// Fills `bytes` from the operating system's random source.
pub fn random_bytes(bytes: &mut [u8]) -> Result<(), AuthError> {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new().fill(bytes).map_err(|_| AuthError::Random)
}

/// A random URL-safe string of `n` random bytes (base64url, no padding): session ids, CSRF tokens,
/// OAuth `state` and PKCE verifiers.
pub fn random_url_safe(n: usize) -> Result<String, AuthError> {
    use base64::Engine;
    let mut bytes = vec![0u8; n];
    random_bytes(&mut bytes)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref());
    out
}

/// Lowercase hexadecimal of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha256_matches_the_standard_vector() {
        // FIPS 180-2, "abc".
        assert_eq!(hex(&sha256(b"abc")), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn random_strings_differ_and_are_url_safe() {
        let a = random_url_safe(32).unwrap();
        let b = random_url_safe(32).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }
}
