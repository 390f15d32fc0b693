//! OpenID Connect bearer tokens: JWTs signed by the organisation's identity provider, verified
//! against the keys the provider publishes (its JSON Web Key Set).
//!
//! What is checked, in order: the shape (three base64url parts, JSON header and claims); the
//! algorithm (RS256/384/512, PS256/384/512, ES256/384, EdDSA; `none` and the HMAC algorithms are
//! refused, so a public key can never be used as a shared secret); the key (by `kid`, its type and
//! declared `alg` matching the header); the signature; then the claims: `iss` equal to the configured
//! issuer, `aud` containing the configured audience, `exp` in the future and `nbf` in the past (with a
//! small leeway for clock skew), and the configured user claim present. A token naming a key the
//! cached set lacks makes the verifier fetch the set again (the issuer rotated its keys), at most
//! once per `refresh_interval`.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};

use base64::Engine;
use ring::signature::{self, UnparsedPublicKey};
use serde::Deserialize;
use serde_json::Value;

use crate::AuthError;

/// How the platform trusts an identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// The `iss` every token must carry, e.g. `https://login.example.com/realms/acme`.
    pub issuer: String,
    /// The `aud` every token must include (the client id Weft is registered as).
    pub audience: String,
    /// The claim that names the user (`sub`, `preferred_username`, `email`...).
    pub user_claim: String,
    /// The claim that lists the user's groups (teams); absent means no groups.
    pub groups_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    pub leeway: Duration,
    /// The least time between two fetches of the key set.
    pub refresh_interval: Duration,
}

impl OidcSettings {
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        OidcSettings {
            issuer: issuer.into(),
            audience: audience.into(),
            user_claim: "sub".to_string(),
            groups_claim: "groups".to_string(),
            leeway: Duration::from_secs(60),
            refresh_interval: Duration::from_secs(30),
        }
    }
}

/// Where the verifier gets the issuer's key set (the JWKS document's text). The server fetches it
/// over HTTP; tests hand one over directly.
pub trait KeySource: Send + Sync {
    fn fetch(&self) -> Result<String, String>;
}

/// What a verified token says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtClaims {
    /// The value of the configured user claim.
    pub user: String,
    /// The values of the configured groups claim.
    pub groups: Vec<String>,
    /// `exp`, seconds since the epoch.
    pub expires_at: i64,
}

/// The signature algorithms accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
    Ps256,
    Ps384,
    Ps512,
    Es256,
    Es384,
    EdDsa,
}

impl Algorithm {
    fn parse(name: &str) -> Result<Algorithm, AuthError> {
        Ok(match name {
            "RS256" => Algorithm::Rs256,
            "RS384" => Algorithm::Rs384,
            "RS512" => Algorithm::Rs512,
            "PS256" => Algorithm::Ps256,
            "PS384" => Algorithm::Ps384,
            "PS512" => Algorithm::Ps512,
            "ES256" => Algorithm::Es256,
            "ES384" => Algorithm::Es384,
            "EdDSA" => Algorithm::EdDsa,
            "none" => return Err(AuthError::Rejected("unsigned tokens (alg none) are refused".to_string())),
            other if other.starts_with("HS") => {
                return Err(AuthError::Rejected(format!("the algorithm {other} (a shared secret) is refused")))
            }
            other => return Err(AuthError::Rejected(format!("the algorithm {other:?} is not supported"))),
        })
    }
}

/// One public key of the set.
#[derive(Debug, Clone)]
enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8>, alg: Option<String> },
    Ec { curve: String, point: Vec<u8>, alg: Option<String> },
    Ed25519 { x: Vec<u8>, alg: Option<String> },
}

impl PublicKey {
    fn declared_alg(&self) -> Option<&str> {
        match self {
            PublicKey::Rsa { alg, .. } | PublicKey::Ec { alg, .. } | PublicKey::Ed25519 { alg, .. } => alg.as_deref(),
        }
    }

    fn verify(&self, algorithm: Algorithm, message: &[u8], sig: &[u8]) -> Result<(), AuthError> {
        let bad = || AuthError::BadSignature("the signature does not match the key".to_string());
        let mismatch = || AuthError::BadSignature(format!("the key cannot verify {algorithm:?} signatures"));
        match (self, algorithm) {
            (PublicKey::Rsa { n, e, .. }, _) => {
                let params: &signature::RsaParameters = match algorithm {
                    Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
                    Algorithm::Rs384 => &signature::RSA_PKCS1_2048_8192_SHA384,
                    Algorithm::Rs512 => &signature::RSA_PKCS1_2048_8192_SHA512,
                    Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
                    Algorithm::Ps384 => &signature::RSA_PSS_2048_8192_SHA384,
                    Algorithm::Ps512 => &signature::RSA_PSS_2048_8192_SHA512,
                    _ => return Err(mismatch()),
                };
                signature::RsaPublicKeyComponents { n, e }.verify(params, message, sig).map_err(|_| bad())
            }
            (PublicKey::Ec { curve, point, .. }, Algorithm::Es256) if curve == "P-256" => {
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(message, sig)
                    .map_err(|_| bad())
            }
            (PublicKey::Ec { curve, point, .. }, Algorithm::Es384) if curve == "P-384" => {
                UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, point)
                    .verify(message, sig)
                    .map_err(|_| bad())
            }
            (PublicKey::Ed25519 { x, .. }, Algorithm::EdDsa) => {
                UnparsedPublicKey::new(&signature::ED25519, x).verify(message, sig).map_err(|_| bad())
            }
            _ => Err(mismatch()),
        }
    }
}

#[derive(Deserialize)]
struct JwkDocument {
    keys: Vec<Value>,
}

/// The usable keys of a JWKS document by `kid` (keys without a `kid` under ""), skipping keys of
/// types Weft does not verify with and keys marked for encryption.
fn parse_key_set(text: &str) -> Result<HashMap<String, PublicKey>, AuthError> {
    let document: JwkDocument = serde_json::from_str(text)
        .map_err(|e| AuthError::KeysUnavailable(format!("the key set is not a JWKS document: {e}")))?;
    let mut keys = HashMap::new();
    for key in document.keys {
        if key.get("use").and_then(Value::as_str).is_some_and(|u| u != "sig") {
            continue;
        }
        let field = |name: &str| key.get(name).and_then(Value::as_str).and_then(|s| decode_part(s).ok());
        let alg = key.get("alg").and_then(Value::as_str).map(str::to_string);
        let parsed = match key.get("kty").and_then(Value::as_str) {
            Some("RSA") => match (field("n"), field("e")) {
                (Some(n), Some(e)) => Some(PublicKey::Rsa { n, e, alg }),
                _ => None,
            },
            Some("EC") => match (key.get("crv").and_then(Value::as_str), field("x"), field("y")) {
                (Some(curve), Some(x), Some(y)) => {
                    let mut point = Vec::with_capacity(1 + x.len() + y.len());
                    point.push(4);
                    point.extend_from_slice(&x);
                    point.extend_from_slice(&y);
                    Some(PublicKey::Ec { curve: curve.to_string(), point, alg })
                }
                _ => None,
            },
            Some("OKP") if key.get("crv").and_then(Value::as_str) == Some("Ed25519") => {
                field("x").map(|x| PublicKey::Ed25519 { x, alg })
            }
            _ => None,
        };
        if let Some(parsed) = parsed {
            let kid = key.get("kid").and_then(Value::as_str).unwrap_or_default().to_string();
            keys.insert(kid, parsed);
        }
    }
    Ok(keys)
}

fn decode_part(text: &str) -> Result<Vec<u8>, AuthError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text.trim_end_matches('='))
        .map_err(|_| AuthError::Malformed("a JWT part is not base64url".to_string()))
}

struct CachedKeys {
    keys: HashMap<String, PublicKey>,
    fetched_at: Option<Instant>,
}

/// Verifies the bearer JWTs of one issuer.
pub struct JwtVerifier {
    settings: OidcSettings,
    source: Box<dyn KeySource>,
    cache: RwLock<CachedKeys>,
}

impl std::fmt::Debug for JwtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JwtVerifier").field("settings", &self.settings).finish_non_exhaustive()
    }
}

/// Whether `token` looks like a JWT (three dot-separated parts), as opposed to an API token.
pub fn looks_like_jwt(token: &str) -> bool {
    token.split('.').count() == 3 && !token.starts_with(crate::token::TOKEN_PREFIX)
}

impl JwtVerifier {
    /// A verifier whose keys are fetched from `source` on first use.
    pub fn new(settings: OidcSettings, source: Box<dyn KeySource>) -> Self {
        JwtVerifier { settings, source, cache: RwLock::new(CachedKeys { keys: HashMap::new(), fetched_at: None }) }
    }

    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Verifies `token` at `now` (seconds since the epoch).
    pub fn verify(&self, token: &str, now: i64) -> Result<JwtClaims, AuthError> {
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(sig), None) = (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed("a JWT has three dot-separated parts".to_string()));
        };
        let header_json: Value = serde_json::from_slice(&decode_part(header)?)
            .map_err(|_| AuthError::Malformed("the JWT header is not JSON".to_string()))?;
        let alg = header_json
            .get("alg")
            .and_then(Value::as_str)
            .ok_or_else(|| AuthError::Malformed("the JWT header names no alg".to_string()))?;
        let algorithm = Algorithm::parse(alg)?;
        let kid = header_json.get("kid").and_then(Value::as_str).unwrap_or_default().to_string();
        let signature = decode_part(sig)?;
        let message = &token.as_bytes()[..header.len() + 1 + payload.len()];

        let key = self.key(&kid)?;
        if let Some(declared) = key.declared_alg() {
            if declared != alg {
                return Err(AuthError::BadSignature(format!("the key {kid:?} is for {declared}, not {alg}")));
            }
        }
        key.verify(algorithm, message, &signature)?;

        let claims: Value = serde_json::from_slice(&decode_part(payload)?)
            .map_err(|_| AuthError::Malformed("the JWT claims are not JSON".to_string()))?;
        self.check_claims(&claims, now)
    }

    fn check_claims(&self, claims: &Value, now: i64) -> Result<JwtClaims, AuthError> {
        let settings = &self.settings;
        let leeway = settings.leeway.as_secs() as i64;
        let issuer = claims.get("iss").and_then(Value::as_str).unwrap_or_default();
        if issuer != settings.issuer {
            return Err(AuthError::Rejected(format!("the issuer {issuer:?} is not {:?}", settings.issuer)));
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(aud)) => *aud == settings.audience,
            Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(settings.audience.as_str())),
            _ => false,
        };
        if !audience_ok {
            return Err(AuthError::Rejected(format!("the audience does not include {:?}", settings.audience)));
        }
        let expires_at = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or_else(|| AuthError::Rejected("the token has no exp claim".to_string()))?;
        if now > expires_at + leeway {
            return Err(AuthError::Expired);
        }
        if let Some(not_before) = claims.get("nbf").and_then(Value::as_i64) {
            if now + leeway < not_before {
                return Err(AuthError::Rejected("the token is not valid yet (nbf)".to_string()));
            }
        }
        let user = claims
            .get(&settings.user_claim)
            .and_then(Value::as_str)
            .filter(|user| !user.trim().is_empty())
            .ok_or_else(|| AuthError::Rejected(format!("the token has no {:?} claim", settings.user_claim)))?;
        let groups = match claims.get(&settings.groups_claim) {
            Some(Value::Array(groups)) => groups.iter().filter_map(Value::as_str).map(str::to_string).collect(),
            Some(Value::String(group)) => vec![group.clone()],
            _ => Vec::new(),
        };
        Ok(JwtClaims { user: user.to_string(), groups, expires_at })
    }

    /// The key named `kid`, fetching the set again when it is unknown and the last fetch is old enough.
    fn key(&self, kid: &str) -> Result<PublicKey, AuthError> {
        let lookup = |cache: &CachedKeys| -> Option<PublicKey> {
            if let Some(key) = cache.keys.get(kid) {
                return Some(key.clone());
            }
            // A token without a kid may use the only key of a one-key set.
            (kid.is_empty() && cache.keys.len() == 1).then(|| cache.keys.values().next().cloned()).flatten()
        };
        {
            let cache = self.cache.read().unwrap_or_else(|poisoned| poisoned.into_inner());
            if let Some(key) = lookup(&cache) {
                return Ok(key);
            }
            if cache.fetched_at.is_some_and(|at| at.elapsed() < self.settings.refresh_interval) {
                return Err(AuthError::BadSignature(format!("the issuer has no key {kid:?}")));
            }
        }
        let text = self.source.fetch().map_err(AuthError::KeysUnavailable)?;
        let keys = parse_key_set(&text)?;
        let mut cache = self.cache.write().unwrap_or_else(|poisoned| poisoned.into_inner());
        *cache = CachedKeys { keys, fetched_at: Some(Instant::now()) };
        lookup(&cache).ok_or_else(|| AuthError::BadSignature(format!("the issuer has no key {kid:?}")))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use ring::rand::SystemRandom;
    use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
    use std::sync::{Arc, Mutex};

    pub(crate) fn b64(bytes: &[u8]) -> String {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }

    /// A test issuer: ECDSA P-256 keys it can rotate, and the JWKS it publishes.
    struct Issuer {
        keys: Vec<(String, EcdsaKeyPair)>,
    }

    impl Issuer {
        fn new() -> Self {
            let mut issuer = Issuer { keys: Vec::new() };
            issuer.add_key("k1");
            issuer
        }

        fn add_key(&mut self, kid: &str) {
            let rng = SystemRandom::new();
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
            let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
            self.keys.push((kid.to_string(), pair));
        }

        fn jwks(&self) -> String {
            let keys: Vec<Value> = self
                .keys
                .iter()
                .map(|(kid, pair)| {
                    let point = pair.public_key().as_ref();
                    serde_json::json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig", "alg": "ES256",
                        "x": b64(&point[1..33]), "y": b64(&point[33..65])})
                })
                .collect();
            serde_json::json!({ "keys": keys }).to_string()
        }

        fn sign(&self, kid: &str, header: Value, claims: Value) -> String {
            let (_, pair) = self.keys.iter().find(|(k, _)| k == kid).unwrap();
            let signing_input =
                format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
            let sig = pair.sign(&SystemRandom::new(), signing_input.as_bytes()).unwrap();
            format!("{signing_input}.{}", b64(sig.as_ref()))
        }

        fn token(&self, kid: &str, claims: Value) -> String {
            self.sign(kid, serde_json::json!({"alg": "ES256", "typ": "JWT", "kid": kid}), claims)
        }
    }

    struct SharedSource {
        jwks: Arc<Mutex<String>>,
        fetches: Arc<Mutex<usize>>,
    }

    impl KeySource for SharedSource {
        fn fetch(&self) -> Result<String, String> {
            *self.fetches.lock().unwrap() += 1;
            Ok(self.jwks.lock().unwrap().clone())
        }
    }

    const NOW: i64 = 1_800_000_000;

    fn claims() -> Value {
        serde_json::json!({"iss": "https://idp.test", "aud": ["weft", "other"], "exp": NOW + 300, "nbf": NOW - 10,
            "sub": "u-123", "preferred_username": "alice", "groups": ["orders-team", "analysts"]})
    }

    fn verifier(issuer: &Issuer) -> (JwtVerifier, Arc<Mutex<String>>, Arc<Mutex<usize>>) {
        let jwks = Arc::new(Mutex::new(issuer.jwks()));
        let fetches = Arc::new(Mutex::new(0));
        let mut settings = OidcSettings::new("https://idp.test", "weft");
        settings.user_claim = "preferred_username".into();
        settings.refresh_interval = Duration::ZERO;
        let source = SharedSource { jwks: jwks.clone(), fetches: fetches.clone() };
        (JwtVerifier::new(settings, Box::new(source)), jwks, fetches)
    }

    #[test]
    fn a_good_token_gives_its_user_and_groups() {
        let issuer = Issuer::new();
        let (verifier, _, _) = verifier(&issuer);
        let claims = verifier.verify(&issuer.token("k1", claims()), NOW).unwrap();
        assert_eq!(claims.user, "alice");
        assert_eq!(claims.groups, vec!["orders-team", "analysts"]);
        assert_eq!(claims.expires_at, NOW + 300);
    }

    #[test]
    fn bad_tokens_are_refused_with_the_reason() {
        let issuer = Issuer::new();
        let (verifier, _, _) = verifier(&issuer);
        let with = |key: &str, value: Value| {
            let mut c = claims();
            c[key] = value;
            issuer.token("k1", c)
        };
        let cases: Vec<(String, &str)> = vec![
            (with("exp", (NOW - 120).into()), "expired"),
            (with("nbf", (NOW + 600).into()), "not valid yet"),
            (with("iss", "https://evil.test".into()), "issuer"),
            (with("aud", "someone-else".into()), "audience"),
            (with("preferred_username", "".into()), "no \"preferred_username\" claim"),
            ("a.b".to_string(), "three dot-separated parts"),
            ("!!.e30.e30".to_string(), "base64url"),
        ];
        for (token, expected) in cases {
            let error = verifier.verify(&token, NOW).unwrap_err().to_string();
            assert!(error.contains(expected), "{expected}: {error}");
        }
        // The expiry is honoured within the leeway only.
        assert!(verifier.verify(&with("exp", (NOW - 30).into()), NOW).is_ok());
    }

    #[test]
    fn unsigned_hmac_and_tampered_tokens_are_refused() {
        let issuer = Issuer::new();
        let (verifier, _, _) = verifier(&issuer);
        let good = issuer.token("k1", claims());
        let parts: Vec<&str> = good.split('.').collect();

        let none_header = b64(br#"{"alg":"none","kid":"k1"}"#);
        let unsigned = format!("{none_header}.{}.", parts[1]);
        assert!(verifier.verify(&unsigned, NOW).unwrap_err().to_string().contains("alg none"));

        let hs_header = b64(br#"{"alg":"HS256","kid":"k1"}"#);
        let hmac = format!("{hs_header}.{}.{}", parts[1], parts[2]);
        assert!(verifier.verify(&hmac, NOW).unwrap_err().to_string().contains("shared secret"));

        let mut forged = claims();
        forged["preferred_username"] = "admin".into();
        let tampered = format!("{}.{}.{}", parts[0], b64(forged.to_string().as_bytes()), parts[2]);
        assert!(matches!(verifier.verify(&tampered, NOW), Err(AuthError::BadSignature(_))));

        // Signed by a key the issuer does not publish.
        let mut stranger = Issuer::new();
        stranger.keys[0].0 = "k1".into();
        let foreign = stranger.token("k1", claims());
        assert!(matches!(verifier.verify(&foreign, NOW), Err(AuthError::BadSignature(_))));

        // The header's alg must be the key's.
        let rs_header = b64(br#"{"alg":"RS256","kid":"k1"}"#);
        let confused = format!("{rs_header}.{}.{}", parts[1], parts[2]);
        assert!(matches!(verifier.verify(&confused, NOW), Err(AuthError::BadSignature(_))));
    }

    #[test]
    fn a_rotated_key_is_fetched_once_and_then_served_from_the_cache() {
        let mut issuer = Issuer::new();
        let (verifier, jwks, fetches) = verifier(&issuer);
        verifier.verify(&issuer.token("k1", claims()), NOW).unwrap();
        verifier.verify(&issuer.token("k1", claims()), NOW).unwrap();
        assert_eq!(*fetches.lock().unwrap(), 1, "the set is cached");

        issuer.add_key("k2");
        *jwks.lock().unwrap() = issuer.jwks();
        verifier.verify(&issuer.token("k2", claims()), NOW).unwrap();
        assert_eq!(*fetches.lock().unwrap(), 2, "an unknown kid fetches the set again");

        // The issuer drops k1: tokens signed with it stop verifying once the set is fetched again.
        issuer.keys.remove(0);
        *jwks.lock().unwrap() = issuer.jwks();
        let stale = {
            let mut old = Issuer::new();
            old.keys[0].0 = "k3".into();
            old.token("k3", claims())
        };
        assert!(verifier.verify(&stale, NOW).is_err());
        assert_eq!(*fetches.lock().unwrap(), 3);
    }

    #[test]
    fn refetches_are_rate_limited() {
        let issuer = Issuer::new();
        let (mut verifier, _, fetches) = verifier(&issuer);
        verifier.settings.refresh_interval = Duration::from_secs(3600);
        let mut stranger = Issuer::new();
        stranger.keys[0].0 = "kx".into();
        for _ in 0..5 {
            assert!(verifier.verify(&stranger.token("kx", claims()), NOW).is_err());
        }
        assert_eq!(*fetches.lock().unwrap(), 1, "unknown kids do not hammer the issuer");
    }

    /// An RSA key made once with `openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048` (as RSAPrivateKey DER)
    /// (a test key, used for nothing else), so RS256 is checked against ring's RSA verifier.
    const RSA_TEST_KEY_DER: &str = include_str!("../tests/rsa-test-key.der.b64");

    #[test]
    fn rs256_tokens_verify_against_an_rsa_jwk() {
        let der = base64::engine::general_purpose::STANDARD.decode(RSA_TEST_KEY_DER.trim()).unwrap();
        let pair = ring::signature::RsaKeyPair::from_der(&der).unwrap();
        // The public key is DER RSAPublicKey: SEQUENCE { n INTEGER, e INTEGER }.
        let components: ring::rsa::PublicKeyComponents<Vec<u8>> = pair.public().into();
        let strip = |v: &[u8]| v.iter().skip_while(|b| **b == 0).copied().collect::<Vec<u8>>();
        let jwks = serde_json::json!({"keys": [{"kty": "RSA", "kid": "r1", "alg": "RS256",
            "n": b64(&strip(&components.n)), "e": b64(&strip(&components.e))}]})
        .to_string();
        let header = b64(br#"{"alg":"RS256","kid":"r1"}"#);
        let input = format!("{header}.{}", b64(claims().to_string().as_bytes()));
        let mut sig = vec![0u8; pair.public().modulus_len()];
        pair.sign(&ring::signature::RSA_PKCS1_SHA256, &SystemRandom::new(), input.as_bytes(), &mut sig).unwrap();
        let token = format!("{input}.{}", b64(&sig));

        struct Fixed(String);
        impl KeySource for Fixed {
            fn fetch(&self) -> Result<String, String> {
                Ok(self.0.clone())
            }
        }
        let verifier = JwtVerifier::new(OidcSettings::new("https://idp.test", "weft"), Box::new(Fixed(jwks)));
        assert_eq!(verifier.verify(&token, NOW).unwrap().user, "u-123");
        let mut flipped = sig.clone();
        flipped[10] ^= 1;
        let forged = format!("{input}.{}", b64(&flipped));
        assert!(matches!(verifier.verify(&forged, NOW), Err(AuthError::BadSignature(_))));
    }

    #[test]
    fn key_sets_skip_what_they_cannot_use() {
        let text = r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"h"},{"kty":"RSA","use":"enc","n":"AQ","e":"AQ","kid":"e"},
            {"kty":"EC","crv":"P-256","kid":"bad"}]}"#;
        assert!(parse_key_set(text).unwrap().is_empty());
        assert!(parse_key_set("{}").is_err());
        assert!(looks_like_jwt("a.b.c") && !looks_like_jwt("weft_a.b.c") && !looks_like_jwt("abc"));
    }
}
