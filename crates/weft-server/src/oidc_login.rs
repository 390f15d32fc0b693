//! Signing in to the web app with the organisation's identity provider: the OpenID Connect
//! authorization-code flow with PKCE (RFC 7636).
//!
//! `GET /api/v1/session/oidc` remembers a fresh `state` and PKCE verifier and redirects the browser to
//! the provider's authorization endpoint (from its discovery document) with the verifier's SHA-256
//! challenge; the provider sends the browser back to `/api/v1/session/oidc/callback` with a code,
//! which the server exchanges at the token endpoint together with the verifier (so a code stolen on
//! the way is worthless), verifies the ID token like any bearer JWT, opens a session and redirects
//! home. A `state` is used once and lives ten minutes.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;

use crate::config::OidcConfig;

/// How long a started sign-in waits for the provider's answer.
const PENDING_FOR: Duration = Duration::from_secs(600);
/// Sign-ins in progress at most (older ones are dropped first).
const MAX_PENDING: usize = 10_000;

/// Where the provider's endpoints are.
#[derive(Debug, Clone)]
struct Endpoints {
    authorization: String,
    token: String,
}

/// The flows in progress and how to reach the provider.
pub struct OidcLogin {
    issuer: String,
    client_id: String,
    endpoints: Mutex<Option<Endpoints>>,
    pending: Mutex<HashMap<String, (String, Instant)>>,
}

impl OidcLogin {
    pub fn new(config: &OidcConfig) -> OidcLogin {
        OidcLogin {
            issuer: config.issuer.trim_end_matches('/').to_string(),
            client_id: config.audience.clone(),
            endpoints: Mutex::new(None),
            pending: Mutex::new(HashMap::new()),
        }
    }

    fn agent() -> ureq::Agent {
        ureq::Agent::config_builder()
            .timeout_global(Some(Duration::from_secs(10)))
            .http_status_as_error(false)
            .build()
            .into()
    }

    /// The provider's endpoints, read from its discovery document once.
    fn endpoints(&self) -> Result<Endpoints, String> {
        if let Some(found) = self.endpoints.lock().unwrap_or_else(|e| e.into_inner()).clone() {
            return Ok(found);
        }
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let mut response = Self::agent().get(&url).call().map_err(|e| format!("GET {url}: {e}"))?;
        let text =
            response.body_mut().with_config().limit(1 << 20).read_to_string().map_err(|e| format!("GET {url}: {e}"))?;
        let document: serde_json::Value = serde_json::from_str(&text).map_err(|e| format!("{url} is not JSON: {e}"))?;
        let field = |name: &str| {
            document.get(name).and_then(|v| v.as_str()).map(str::to_string).ok_or(format!("{url} names no {name}"))
        };
        let found = Endpoints { authorization: field("authorization_endpoint")?, token: field("token_endpoint")? };
        *self.endpoints.lock().unwrap_or_else(|e| e.into_inner()) = Some(found.clone());
        Ok(found)
    }

    /// Starts a sign-in: the URL to send the browser to.
    pub fn start(&self, redirect_uri: &str) -> Result<String, String> {
        let endpoints = self.endpoints()?;
        let state = weft_mesh::auth::random_url_safe(24).map_err(|e| e.to_string())?;
        let verifier = weft_mesh::auth::random_url_safe(48).map_err(|e| e.to_string())?;
        let challenge =
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(weft_mesh::auth::sha256(verifier.as_bytes()));
        {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            pending.retain(|_, (_, at)| at.elapsed() < PENDING_FOR);
            if pending.len() >= MAX_PENDING {
                if let Some(oldest) = pending.iter().min_by_key(|(_, (_, at))| *at).map(|(k, _)| k.clone()) {
                    pending.remove(&oldest);
                }
            }
            pending.insert(state.clone(), (verifier, Instant::now()));
        }
        let separator = if endpoints.authorization.contains('?') { '&' } else { '?' };
        Ok(format!(
            "{}{separator}response_type=code&client_id={}&redirect_uri={}&scope={}&state={state}&code_challenge={challenge}&code_challenge_method=S256",
            endpoints.authorization,
            encode(&self.client_id),
            encode(redirect_uri),
            encode("openid profile email groups"),
        ))
    }

    /// Finishes a sign-in: the ID token the provider issued for `code`, if `state` is one this
    /// server started (each is used once).
    pub fn finish(&self, state: &str, code: &str, redirect_uri: &str) -> Result<String, String> {
        let verifier = {
            let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
            match pending.remove(state) {
                Some((verifier, at)) if at.elapsed() < PENDING_FOR => verifier,
                _ => return Err("this sign-in was not started here, was already used, or took too long".into()),
            }
        };
        let endpoints = self.endpoints()?;
        let form = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", redirect_uri),
            ("client_id", &self.client_id),
            ("code_verifier", &verifier),
        ];
        let mut response =
            Self::agent().post(&endpoints.token).send_form(form).map_err(|e| format!("the token endpoint: {e}"))?;
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(1 << 20).read_to_string().map_err(|e| e.to_string())?;
        if !(200..300).contains(&status) {
            return Err(format!(
                "the token endpoint answered {status}: {}",
                text.chars().take(300).collect::<String>()
            ));
        }
        let answer: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| format!("the token endpoint's answer is not JSON: {e}"))?;
        answer
            .get("id_token")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .ok_or_else(|| "the token endpoint gave no id_token".to_string())
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters stay).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            out.push(byte as char);
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
