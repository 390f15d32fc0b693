//! HMAC-SHA256 signatures with a timestamp, for what the platform sends out (webhook deliveries).
//!
//! The header is `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`, the scheme Stripe and others
//! use: the receiver recomputes the HMAC with the shared secret and refuses a timestamp outside its
//! tolerance, so a captured delivery cannot be replayed later.

use ring::hmac;

use crate::{constant_time_eq, hex};

/// The signature header's value for `body` sent at `timestamp` (seconds since the epoch).
pub fn sign(secret: &[u8], timestamp: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret);
    let mut context = hmac::Context::with_key(&key);
    context.update(timestamp.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("t={timestamp},v1={}", hex(context.sign().as_ref()))
}

/// Why a signature was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature header is not t=<seconds>,v1=<hex>")]
    Malformed,
    #[error("the timestamp is {0} s away from now, outside the tolerance")]
    Stale(i64),
    #[error("the signature does not match the body")]
    Mismatch,
}

/// Checks a signature header against `body` at `now`, accepting timestamps within `tolerance_secs`.
pub fn verify(secret: &[u8], header: &str, body: &[u8], now: i64, tolerance_secs: i64) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", value)) => timestamp = Some(value.parse::<i64>().map_err(|_| SignatureError::Malformed)?),
            Some(("v1", value)) => signatures.push(value),
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let skew = now.saturating_sub(timestamp);
    if skew.abs() > tolerance_secs {
        return Err(SignatureError::Stale(skew));
    }
    let expected = sign(secret, timestamp, body);
    let expected = expected.rsplit_once("v1=").map(|(_, hex)| hex).unwrap_or_default();
    if signatures.iter().any(|candidate| constant_time_eq(candidate.as_bytes(), expected.as_bytes())) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hmac_matches_rfc_4231() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let tag = hmac::sign(&key, b"what do ya want for nothing?");
        assert_eq!(hex(tag.as_ref()), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    }

    #[test]
    fn signatures_verify_and_refuse_tampering_and_replay() {
        let header = sign(b"s3cret", 1_700_000_000, b"{\"event\":\"x\"}");
        assert!(header.starts_with("t=1700000000,v1="));
        assert_eq!(verify(b"s3cret", &header, b"{\"event\":\"x\"}", 1_700_000_100, 300), Ok(()));
        assert_eq!(verify(b"s3cret", &header, b"{\"event\":\"y\"}", 1_700_000_100, 300), Err(SignatureError::Mismatch));
        assert_eq!(verify(b"other", &header, b"{\"event\":\"x\"}", 1_700_000_100, 300), Err(SignatureError::Mismatch));
        assert_eq!(
            verify(b"s3cret", &header, b"{\"event\":\"x\"}", 1_700_001_000, 300),
            Err(SignatureError::Stale(1000))
        );
        assert_eq!(verify(b"s3cret", "v1=abc", b"", 0, 300), Err(SignatureError::Malformed));
        assert_eq!(verify(b"s3cret", "t=x,v1=abc", b"", 0, 300), Err(SignatureError::Malformed));
    }
}
