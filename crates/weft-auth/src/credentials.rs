//! What an HTTP request presents as proof of identity.
//!
//! `Authorization: Bearer <API token or JWT>` for the REST API and the CLI; `Authorization: Basic`
//! for clients that only speak basic auth (Confluent's `basic.auth.user.info`, ksqlDB clients' user
//! and password), where the password is an API token and the user is its owner's name or its id.

use base64::Engine;

use crate::AuthError;

/// A credential read from an `Authorization` header.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// `Bearer <token>`: an API token (`weft_...`) or a JWT.
    Bearer(String),
    /// `Basic base64(user:password)`.
    Basic { user: String, password: String },
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Bearer(_) => f.write_str("Bearer(..)"),
            Credential::Basic { user, .. } => f.debug_struct("Basic").field("user", user).finish_non_exhaustive(),
        }
    }
}

impl Credential {
    /// The token the credential carries: the bearer token, or basic auth's password.
    pub fn secret(&self) -> &str {
        match self {
            Credential::Bearer(token) => token,
            Credential::Basic { password, .. } => password,
        }
    }
}

/// The longest `Authorization` header read (JWTs with many groups run to a few kilobytes).
pub const MAX_AUTHORIZATION_BYTES: usize = 16 * 1024;

/// Reads an `Authorization` header value.
pub fn parse_authorization(value: &str) -> Result<Credential, AuthError> {
    if value.len() > MAX_AUTHORIZATION_BYTES {
        return Err(AuthError::Malformed(format!(
            "the Authorization header is longer than {MAX_AUTHORIZATION_BYTES} bytes"
        )));
    }
    let value = value.trim();
    let (scheme, rest) = value.split_once(' ').ok_or_else(|| {
        AuthError::Malformed("the Authorization header must be 'Bearer <token>' or 'Basic <base64>'".to_string())
    })?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        if rest.is_empty() || rest.contains(char::is_whitespace) {
            return Err(AuthError::Malformed("a bearer token is one word".to_string()));
        }
        return Ok(Credential::Bearer(rest.to_string()));
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .map_err(|_| AuthError::Malformed("basic credentials are not base64".to_string()))?;
        let text = String::from_utf8(decoded)
            .map_err(|_| AuthError::Malformed("basic credentials are not UTF-8".to_string()))?;
        let (user, password) = text
            .split_once(':')
            .ok_or_else(|| AuthError::Malformed("basic credentials are user:password".to_string()))?;
        if password.is_empty() {
            return Err(AuthError::Malformed("basic credentials have an empty password".to_string()));
        }
        return Ok(Credential::Basic { user: user.to_string(), password: password.to_string() });
    }
    Err(AuthError::Malformed(format!("the Authorization scheme {scheme:?} is not Bearer or Basic")))
}

/// The value of cookie `name` in a `Cookie` header, if present.
pub fn cookie<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value.trim_matches('"'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn basic(text: &str) -> String {
        format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(text))
    }

    #[test]
    fn bearer_and_basic_credentials_are_read() {
        assert_eq!(parse_authorization("Bearer abc.def").unwrap(), Credential::Bearer("abc.def".into()));
        assert_eq!(parse_authorization("bearer   abc").unwrap(), Credential::Bearer("abc".into()));
        let credential = parse_authorization(&basic("alice:weft_x:y")).unwrap();
        assert_eq!(credential, Credential::Basic { user: "alice".into(), password: "weft_x:y".into() });
        assert_eq!(credential.secret(), "weft_x:y");
        assert!(!format!("{credential:?}").contains("weft_x"), "debug output hides the password");
    }

    #[test]
    fn malformed_headers_say_why() {
        let cases = [
            ("Bearer", "must be"),
            ("Bearer a b", "one word"),
            ("Digest abc", "not Bearer or Basic"),
            ("Basic !!!", "not base64"),
            (&basic("no-colon"), "user:password"),
            (&basic("alice:"), "empty password"),
        ];
        for (header, expected) in cases {
            let error = parse_authorization(header).unwrap_err().to_string();
            assert!(error.contains(expected), "{header:?}: {error}");
        }
        assert!(parse_authorization(&format!("Bearer {}", "a".repeat(MAX_AUTHORIZATION_BYTES))).is_err());
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let header = "theme=dark; weft_session=abc; weft_session_x=no";
        assert_eq!(cookie(header, "weft_session"), Some("abc"));
        assert_eq!(cookie(header, "missing"), None);
        assert_eq!(cookie("", "weft_session"), None);
    }

    proptest! {
        #[test]
        fn reading_any_header_never_panics(text in ".{0,120}") {
            let _ = parse_authorization(&text);
            let _ = cookie(&text, "weft_session");
        }
    }
}
