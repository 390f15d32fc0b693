//! API tokens: `weft_<id>_<secret>`.
//!
//! The id (16 hex digits) is public: it names the token in listings, revocations and audit records.
//! The secret is 32 bytes from the system's random source (base64url), shown once when the token is
//! created; the platform keeps only its SHA-256. A fast hash is enough because the secret has 256 bits
//! of entropy (a slow password hash protects low-entropy passwords, which these are not), and it keeps
//! checking a token to one hash per request.

use base64::Engine;

use crate::{hex, random_bytes, sha256, AuthError};

/// What every API token starts with, so secret scanners and people recognise one.
pub const TOKEN_PREFIX: &str = "weft_";

const ID_BYTES: usize = 8;
const SECRET_BYTES: usize = 32;

/// A token's public id: 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TokenId(String);

impl TokenId {
    /// Reads an id as listings show it; `None` unless 16 lowercase hex digits.
    pub fn parse(text: &str) -> Option<TokenId> {
        let ok = text.len() == ID_BYTES * 2 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| TokenId(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for TokenId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The SHA-256 of a token's secret, as stored (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenHash(pub [u8; 32]);

impl TokenHash {
    pub fn of_secret(secret: &str) -> TokenHash {
        TokenHash(sha256(secret.as_bytes()))
    }

    pub fn to_hex(&self) -> String {
        hex(&self.0)
    }

    /// Reads a stored hash (64 hex digits).
    pub fn from_hex(text: &str) -> Option<TokenHash> {
        if text.len() != 64 {
            return None;
        }
        let mut out = [0u8; 32];
        for (i, pair) in text.as_bytes().chunks(2).enumerate() {
            let digit = |c: u8| (c as char).to_digit(16);
            out[i] = (digit(pair[0])? * 16 + digit(pair[1])?) as u8;
        }
        Some(TokenHash(out))
    }

    /// Whether `secret` is the one this hash was made of, in time independent of where they differ.
    pub fn matches(&self, secret: &str) -> bool {
        constant_time_eq(&self.0, &sha256(secret.as_bytes()))
    }
}

/// A token as a client presents it: its id and its secret.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken {
    pub id: TokenId,
    secret: String,
}

impl std::fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret: debug output ends up in logs.
        f.debug_struct("ApiToken").field("id", &self.id).finish_non_exhaustive()
    }
}

impl ApiToken {
    /// A new token from the system's random source.
    pub fn generate() -> Result<ApiToken, AuthError> {
        let mut id = [0u8; ID_BYTES];
        random_bytes(&mut id)?;
        let mut secret = [0u8; SECRET_BYTES];
        random_bytes(&mut secret)?;
        Ok(ApiToken { id: TokenId(hex(&id)), secret: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(secret) })
    }

    /// Reads `weft_<id>_<secret>`; says which part is wrong, never echoing the secret.
    pub fn parse(text: &str) -> Result<ApiToken, AuthError> {
        let rest = text
            .strip_prefix(TOKEN_PREFIX)
            .ok_or_else(|| AuthError::Malformed(format!("an API token starts with {TOKEN_PREFIX:?}")))?;
        let (id, secret) = rest
            .split_once('_')
            .ok_or_else(|| AuthError::Malformed("an API token is weft_<id>_<secret>".to_string()))?;
        let id = TokenId::parse(id)
            .ok_or_else(|| AuthError::Malformed("the token's id is not 16 lowercase hex digits".to_string()))?;
        let decoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(secret);
        if !matches!(decoded, Ok(ref bytes) if bytes.len() == SECRET_BYTES) {
            return Err(AuthError::Malformed("the token's secret is not 32 bytes of base64url".to_string()));
        }
        Ok(ApiToken { id, secret: secret.to_string() })
    }

    /// The hash the platform stores for this token.
    pub fn hash(&self) -> TokenHash {
        TokenHash::of_secret(&self.secret)
    }

    /// Whether this token's secret is the one `stored` was made of.
    pub fn matches(&self, stored: &TokenHash) -> bool {
        stored.matches(&self.secret)
    }

    /// The token as the client must present it (shown once).
    pub fn reveal(&self) -> String {
        format!("{TOKEN_PREFIX}{}_{}", self.id, self.secret)
    }
}

/// Whether `a` and `b` are equal, in time that depends on their lengths only.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut difference = 0u8;
    for (x, y) in a.iter().zip(b) {
        difference |= x ^ y;
    }
    // Keeps the compiler from turning the loop into an early exit.
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_generated_token_reads_back_and_matches_only_its_own_hash() {
        let token = ApiToken::generate().unwrap();
        let text = token.reveal();
        assert!(text.starts_with("weft_"));
        let parsed = ApiToken::parse(&text).unwrap();
        assert_eq!(parsed, token);
        let stored = TokenHash::from_hex(&token.hash().to_hex()).unwrap();
        assert!(parsed.matches(&stored));
        let other = ApiToken::generate().unwrap();
        assert!(!other.matches(&stored));
        assert_ne!(other.id, token.id);
        assert!(!format!("{token:?}").contains(&text[22..]), "debug output hides the secret");
    }

    #[test]
    fn malformed_tokens_say_which_part_is_wrong() {
        let good = ApiToken::generate().unwrap().reveal();
        let cases = [
            ("", "starts with"),
            ("bearer", "starts with"),
            ("weft_", "weft_<id>_<secret>"),
            ("weft_0123456789abcdef", "weft_<id>_<secret>"),
            ("weft_0123456789ABCDEF_x", "16 lowercase hex"),
            ("weft_0123_x", "16 lowercase hex"),
            ("weft_0123456789abcdef_short", "32 bytes"),
            (&good[..good.len() - 1], "32 bytes"),
        ];
        for (text, expected) in cases {
            let error = ApiToken::parse(text).unwrap_err().to_string();
            assert!(error.contains(expected), "{text:?}: {error}");
        }
    }

    #[test]
    fn equal_slices_compare_equal_and_others_do_not() {
        assert!(constant_time_eq(b"", b""));
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"ab"));
        assert!(TokenHash::from_hex("zz").is_none());
        assert!(TokenHash::from_hex(&"g".repeat(64)).is_none());
    }

    proptest! {
        #[test]
        fn parsing_never_panics(text in ".{0,80}") {
            let _ = ApiToken::parse(&text);
            let _ = TokenId::parse(&text);
            let _ = TokenHash::from_hex(&text);
        }
    }
}
