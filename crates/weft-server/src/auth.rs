//! Who is asking, and the checks every request meets before a handler runs.
//!
//! In order: the `Host` header must be one the server answers to (DNS rebinding); a request with a
//! body must say it is JSON (or YAML), so that a cross-origin page cannot send one without a CORS
//! preflight (`text/plain`, form and multipart bodies are refused); the credential is read (an API
//! token or an OpenID Connect JWT as `Authorization: Bearer`, basic auth with a token as password, or
//! the web app's session cookie); routes other than the public ones need a signed-in caller; changes
//! need a token with the `write` scope; a change made with the session cookie must carry the session's
//! CSRF token (`X-Weft-CSRF`). What each principal may do to which object is the mesh's decision
//! ([`weft_mesh::security::authz`]), made in its change methods and data paths.
//!
//! Without authentication (`auth = none`, loopback only) a caller is whoever `X-Weft-Actor` names.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, COOKIE, HOST, ORIGIN};
use axum::http::{HeaderMap, Method, Uri};
use weft_mesh::auth::credentials::{cookie, parse_authorization, Credential};
use weft_mesh::auth::jwt::looks_like_jwt;
use weft_mesh::auth::{JwtVerifier, KeySource, OidcSettings};
use weft_mesh::security::Identity;
use weft_mesh::Mesh;

use crate::config::{AuthMode, OidcConfig, ServerConfig};
use crate::error::{ApiError, ErrorCode};

/// The web app's session cookie.
pub const SESSION_COOKIE: &str = "weft_session";
/// The header a cookie-authenticated change must carry, equal to its session's CSRF token.
pub const CSRF_HEADER: &str = "x-weft-csrf";
/// How long a web session lasts without use.
pub const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);
/// The most sessions held at once (older ones are dropped first).
const MAX_SESSIONS: usize = 100_000;

/// The caller of a request, in its extensions once authenticated.
#[derive(Debug, Clone)]
pub struct Caller {
    pub identity: Identity,
    /// Signed in with the session cookie (the CSRF token then guards changes).
    pub session: Option<String>,
}

struct Session {
    /// The credential the session was opened with, checked again on every request so a revoked
    /// token or a disabled user ends the session at once.
    credential: String,
    csrf: String,
    last_used: Instant,
}

/// The server's authentication state: its mode, the OIDC verifier, web sessions and host names.
pub struct Authenticator {
    mode: AuthMode,
    oidc: Option<JwtVerifier>,
    sessions: Mutex<HashMap<String, Session>>,
    hosts: HostRule,
    /// Requests per second per signed-in principal, when limited.
    pub limiter: Option<RateLimiter>,
    /// The web app's sign-in with the identity provider, when one is configured.
    pub login: Option<crate::oidc_login::OidcLogin>,
    /// Cookies are `Secure` when the server is reached over TLS.
    pub secure_cookies: bool,
}

/// Which `Host` names are served.
enum HostRule {
    Any,
    Names(Vec<String>),
}

impl Authenticator {
    pub fn new(config: &ServerConfig, listen: SocketAddr) -> Authenticator {
        let hosts = if !config.allowed_hosts.is_empty() {
            let mut names: Vec<String> = config.allowed_hosts.iter().map(|h| h.to_ascii_lowercase()).collect();
            names.extend(loopback_names());
            HostRule::Names(names)
        } else if listen.ip().is_unspecified() && config.auth == AuthMode::Tokens {
            HostRule::Any
        } else {
            let mut names = loopback_names();
            if !listen.ip().is_unspecified() {
                names.push(match listen.ip() {
                    std::net::IpAddr::V6(ip) => format!("[{ip}]"),
                    ip => ip.to_string(),
                });
            }
            HostRule::Names(names)
        };
        Authenticator {
            mode: config.auth,
            oidc: config.oidc.as_ref().map(verifier),
            sessions: Mutex::new(HashMap::new()),
            hosts,
            limiter: RateLimiter::new(config.rate_limit),
            login: config.oidc.as_ref().map(crate::oidc_login::OidcLogin::new),
            secure_cookies: false,
        }
    }

    pub fn mode(&self) -> AuthMode {
        self.mode
    }

    pub fn oidc(&self) -> Option<&JwtVerifier> {
        self.oidc.as_ref()
    }

    /// Refuses a host the server does not answer to: the `Host` header and the request target's
    /// authority (HTTP/2's `:authority`, which replaces `Host` there; HTTP/1.1's absolute form) must
    /// both be served names when present.
    pub fn check_host(&self, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
        let HostRule::Names(names) = &self.hosts else { return Ok(()) };
        let header = headers.get(HOST).map(|h| h.to_str().unwrap_or("(not text)"));
        // HTTP/1.0 without Host (nothing a browser sends) names no host to refuse.
        for host in header.into_iter().chain(uri.authority().map(|a| a.as_str())) {
            // An authority may carry `user@`: the host is what follows it.
            let host = host.rsplit_once('@').map_or(host, |(_, host)| host);
            let name = strip_port(host).to_ascii_lowercase();
            if !names.contains(&name) {
                return Err(ApiError::new(
                    ErrorCode::HostNotAllowed,
                    format!("this server does not answer to the host name '{name}' (add it to allowed_hosts)"),
                ));
            }
        }
        Ok(())
    }

    /// The caller of a request, `None` when it presents no credential; an error when it presents a
    /// credential that does not sign in.
    pub fn authenticate(&self, mesh: &Mesh, headers: &HeaderMap) -> Result<Option<Caller>, ApiError> {
        if self.mode == AuthMode::None {
            let name = crate::api::context::actor_of(headers)?;
            let admin = name == weft_mesh::PLATFORM_ADMIN;
            return Ok(Some(Caller { identity: Identity::development(&name, admin), session: None }));
        }
        if let Some(value) = headers.get(AUTHORIZATION) {
            let text = value.to_str().map_err(|_| unauthenticated("the Authorization header is not ASCII text"))?;
            let credential = parse_authorization(text).map_err(|e| unauthenticated(&e.to_string()))?;
            let identity = self.sign_in(mesh, &credential)?;
            return Ok(Some(Caller { identity, session: None }));
        }
        let session_id = headers.get(COOKIE).and_then(|c| c.to_str().ok()).and_then(|c| cookie(c, SESSION_COOKIE));
        if let Some(session_id) = session_id {
            let credential = {
                let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
                match sessions.get_mut(session_id) {
                    Some(session) if session.last_used.elapsed() < SESSION_IDLE => {
                        session.last_used = Instant::now();
                        session.credential.clone()
                    }
                    Some(_) => {
                        sessions.remove(session_id);
                        return Err(unauthenticated("the session expired: sign in again"));
                    }
                    None => {
                        return Err(unauthenticated("the session is not known (the server restarted?): sign in again"))
                    }
                }
            };
            let identity = self.sign_in(mesh, &Credential::Bearer(credential)).inspect_err(|_| {
                self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(session_id);
            })?;
            return Ok(Some(Caller { identity, session: Some(session_id.to_string()) }));
        }
        Ok(None)
    }

    /// The identity a credential signs in as.
    pub fn sign_in(&self, mesh: &Mesh, credential: &Credential) -> Result<Identity, ApiError> {
        let secret = credential.secret();
        if looks_like_jwt(secret) {
            let Some(verifier) = &self.oidc else {
                return Err(unauthenticated("this server accepts no OpenID Connect tokens (no issuer configured)"));
            };
            let now =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
            let claims = verifier.verify(secret, now).map_err(|e| unauthenticated(&e.to_string()))?;
            return mesh.authenticate_oidc(&claims).map_err(ApiError::from);
        }
        let identity = mesh.authenticate_token(secret).map_err(ApiError::from)?;
        if let Credential::Basic { user, .. } = credential {
            let token_id = match &identity.sign_in {
                weft_mesh::security::SignIn::Token { id } => id.as_str(),
                _ => "",
            };
            if user != &identity.name && user != token_id {
                return Err(unauthenticated("the basic-auth user is neither the token's identity nor its id"));
            }
        }
        Ok(identity)
    }

    /// Opens a web session for a credential: the session id (the cookie's value) and its CSRF token.
    pub fn open_session(&self, credential: &str) -> Result<(String, String), ApiError> {
        let id = weft_mesh::auth::random_url_safe(32).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let csrf =
            weft_mesh::auth::random_url_safe(24).map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?;
        let mut sessions = self.sessions.lock().unwrap_or_else(|e| e.into_inner());
        if sessions.len() >= MAX_SESSIONS {
            sessions.retain(|_, s| s.last_used.elapsed() < SESSION_IDLE);
            if sessions.len() >= MAX_SESSIONS {
                if let Some(oldest) = sessions.iter().min_by_key(|(_, s)| s.last_used).map(|(k, _)| k.clone()) {
                    sessions.remove(&oldest);
                }
            }
        }
        sessions.insert(
            id.clone(),
            Session { credential: credential.to_string(), csrf: csrf.clone(), last_used: Instant::now() },
        );
        Ok((id, csrf))
    }

    /// For a change signed with a web session that this server relays to the leader: the checks
    /// the session needs here (it is known and current, its credential still signs in, the CSRF
    /// token and origin match), then the credential it was opened with, which the leader checks
    /// again as if the caller had sent it. `None` when the request carries no session cookie.
    pub fn session_credential(&self, mesh: &Mesh, uri: &Uri, headers: &HeaderMap) -> Result<Option<String>, ApiError> {
        if headers.contains_key(AUTHORIZATION) {
            return Ok(None);
        }
        let Some(caller) = self.authenticate(mesh, headers)? else { return Ok(None) };
        let Some(session) = &caller.session else { return Ok(None) };
        check_csrf(self, &caller, uri, headers)?;
        let credential =
            self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get(session).map(|s| s.credential.clone());
        credential.map(Some).ok_or_else(|| unauthenticated("the session ended: sign in again"))
    }

    /// The CSRF token of a session.
    pub fn csrf_of(&self, session: &str) -> Option<String> {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).get(session).map(|s| s.csrf.clone())
    }

    pub fn close_session(&self, session: &str) {
        self.sessions.lock().unwrap_or_else(|e| e.into_inner()).remove(session);
    }

    /// The `Set-Cookie` value that opens (or, with `None`, clears) the session cookie.
    pub fn session_cookie(&self, session: Option<&str>) -> String {
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        match session {
            Some(id) => format!(
                "{SESSION_COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
                SESSION_IDLE.as_secs()
            ),
            None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
        }
    }
}

fn loopback_names() -> Vec<String> {
    ["localhost", "127.0.0.1", "[::1]"].iter().map(|s| s.to_string()).collect()
}

/// The host a request was sent to, as `host[:port]`: the `Host` header, else (HTTP/2, whose clients
/// send `:authority` instead) the request target's authority.
pub fn host_of<'a>(uri: &'a Uri, headers: &'a HeaderMap) -> Option<&'a str> {
    match headers.get(HOST) {
        Some(host) => host.to_str().ok(),
        None => uri.authority().map(|a| a.as_str()),
    }
}

/// `host:port` → `host` (IPv6 literals keep their brackets).
fn strip_port(host: &str) -> &str {
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

pub(crate) fn unauthenticated(reason: &str) -> ApiError {
    ApiError::new(ErrorCode::Unauthenticated, format!("not signed in: {reason}"))
}

/// Routes anyone may call: health, the API's description, the web app's files and pages, signing in.
pub fn is_public(method: &Method, path: &str) -> bool {
    if matches!(path, "/health" | "/healthcheck" | "/info" | "/api/v1/openapi.json") {
        return true;
    }
    if path == "/api/v1/session" || path.starts_with("/api/v1/session/") {
        return true;
    }
    let api = path.starts_with("/api/")
        || path == "/api"
        || path.starts_with("/registry")
        || path == "/metrics"
        || is_ksql_path(path);
    (method == Method::GET || method == Method::HEAD) && !api
}

pub(crate) fn is_ksql_path(path: &str) -> bool {
    matches!(path, "/ksql" | "/query" | "/query-stream" | "/close-query" | "/inserts-stream")
}

/// Requests that change nothing although their method is POST (queries, checks, lookups).
pub fn is_read_only_post(path: &str) -> bool {
    matches!(path, "/api/v1/sql/validate" | "/api/v1/products:check" | "/query" | "/query-stream" | "/close-query")
        || path.starts_with("/registry/compatibility/")
        || (path.starts_with("/registry/subjects/") && path.matches('/').count() == 3)
}

/// Writes of data rather than changes to the platform: records produced, rows inserted, consumer
/// positions committed. They need the `write` scope like any change, but the audit log records them
/// only when refused (a producer's every request would drown the changes people look for; the
/// product's metrics count the records).
pub fn is_data_write(path: &str) -> bool {
    path == "/inserts-stream"
        || (path.starts_with("/api/v1/topics/") && path.ends_with("/records"))
        || (path.starts_with("/api/v1/groups/") && path.ends_with("/offsets"))
}

/// Whether a request changes state (and so needs the `write` scope and, with a cookie, CSRF).
pub fn is_change(method: &Method, path: &str) -> bool {
    match *method {
        Method::GET | Method::HEAD | Method::OPTIONS => false,
        Method::POST => !is_read_only_post(path),
        _ => true,
    }
}

/// The values of a route template's `{param}` segments in a concrete path (percent-decoded).
pub fn path_params(template: &str, path: &str) -> Vec<(String, String)> {
    template
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(pattern, value)| {
            let name = pattern.strip_prefix('{')?.strip_suffix('}')?;
            Some((name.to_string(), percent_decode(value)))
        })
        .collect()
}

/// A percent-encoded path or query value, decoded the way the web app's file routes decode theirs;
/// a value that does not decode is kept as sent (its handler refuses it).
fn percent_decode(text: &str) -> String {
    crate::web::percent_decode(text).unwrap_or_else(|| text.to_string())
}

/// The authorization a route needs before its body is read, so that a caller who may not make a
/// change is refused as such whatever they send (the mesh checks again, with the whole request).
/// Reads of data are decided in the read path, which knows the topic a product resolves to.
pub fn pre_authorize(
    mesh: &Mesh,
    principal: &str,
    method: &Method,
    route: &str,
    path: &str,
    query: Option<&str>,
) -> Result<(), ApiError> {
    let authz = mesh.authorizer();
    if !authz.enforcing() {
        return Ok(());
    }
    let params = path_params(route, path);
    let param = |name: &str| params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str()).unwrap_or_default();
    if !is_change(method, path) {
        let checked = match route {
            "/api/v1/audit" | "/api/v1/audit/stream" => authz.require_admin(principal, &format!("{method} {path}")),
            "/api/v1/products/{id}/sample"
            | "/api/v1/products/{id}/records"
            | "/api/v1/products/{id}/records/stream"
            | "/api/v1/products/{id}/export" => match mesh.catalog().product(param("id")) {
                Ok(product) => authz.check_read_product(principal, &product),
                // An unknown product is the handler's 404.
                Err(_) => Ok(()),
            },
            "/api/v1/topics/{topic}/records" | "/api/v1/topics/{topic}/records/stream" => {
                authz.check_read_topic(principal, param("topic"))
            }
            // Testing a contract reads the product's data.
            "/api/v1/contracts/{id}/test" => {
                let product = query
                    .unwrap_or_default()
                    .split('&')
                    .find_map(|pair| pair.strip_prefix("product="))
                    .map(percent_decode)
                    .unwrap_or_default();
                match mesh.catalog().product(&product) {
                    Ok(product) => authz.check_read_product(principal, &product),
                    Err(_) => Ok(()),
                }
            }
            _ => Ok(()),
        };
        return checked.map_err(ApiError::from);
    }
    let action = format!("{method} {path}");
    let checked = match (method.as_str(), route) {
        ("POST", "/api/v1/domains")
        | ("PUT", "/api/v1/governance/policies")
        | ("PUT" | "DELETE", "/api/v1/users/{name}")
        | (_, "/api/v1/audit" | "/api/v1/audit/stream") => authz.require_admin(principal, &action),
        ("PUT" | "DELETE", "/api/v1/domains/{name}") => authz.require_domain(principal, param("name"), &action, true),
        ("POST", "/api/v1/topics/{topic}/records") => authz.check_write_topic(principal, param("topic"), "write"),
        ("DELETE", "/api/v1/topics/{topic}") => authz.check_write_topic(principal, param("topic"), "delete"),
        ("POST", "/api/v1/products/{id}/access-requests") => Ok(()),
        // Declaring a product's SQL stream is for querying it: its readers may, not only its domain.
        ("POST", "/api/v1/products/{id}/sql-source") => match mesh.catalog().product(param("id")) {
            Ok(product) => authz.check_read_product(principal, &product),
            Err(_) => Ok(()),
        },
        (_, route) if route.starts_with("/api/v1/products/{id}") => {
            authz.require_product_change(principal, param("id"), &action)
        }
        // Creations name their domain in the body: a caller in no domain can create nothing.
        ("POST", "/api/v1/products" | "/api/v1/products:apply" | "/api/v1/products/from-sql" | "/api/v1/contracts") => {
            if authz.is_admin(principal)
                || mesh.catalog().domains().iter().any(|d| authz.domain_role(principal, d).is_some())
            {
                Ok(())
            } else {
                Err(weft_mesh::MeshError::Forbidden {
                    principal: principal.to_string(),
                    action,
                    reason: "only members of a domain create its products and contracts".to_string(),
                })
            }
        }
        _ => Ok(()),
    };
    checked.map_err(ApiError::from)
}

/// Refuses a body whose content type a cross-origin page may send without a CORS preflight (none,
/// `text/plain`, forms, multipart): every body Weft reads is JSON, YAML or ksqlDB's JSON lines.
///
/// One exception: `POST /close-query` without a content type, which is how ksqlDB's Python client
/// sends it. Closing a push query needs its id (random, known only to the connection that started
/// it), and a cookie-signed change still needs the CSRF header, which a simple request cannot carry.
pub fn check_content_type(method: &Method, path: &str, headers: &HeaderMap, has_body: bool) -> Result<(), ApiError> {
    if !has_body || matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return Ok(());
    }
    let content_type =
        headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").trim().to_ascii_lowercase();
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.is_empty() && *method == Method::POST && path == "/close-query" {
        return Ok(());
    }
    let simple = essence.is_empty()
        || essence == "text/plain"
        || essence == "application/x-www-form-urlencoded"
        || essence == "multipart/form-data";
    if simple {
        let shown = if essence.is_empty() { "none".to_string() } else { format!("'{essence}'") };
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            format!(
                "the request body's content type is {shown}: send Content-Type: application/json (or the \
                 registry's and ksqlDB's JSON types, or application/yaml for documents)"
            ),
        ));
    }
    Ok(())
}

/// A cookie-authenticated change must come from the web app itself: the session's CSRF token in
/// `X-Weft-CSRF`, and no foreign `Origin`.
pub fn check_csrf(auth: &Authenticator, caller: &Caller, uri: &Uri, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(session) = &caller.session else { return Ok(()) };
    let expected = auth.csrf_of(session).unwrap_or_default();
    let given = headers.get(CSRF_HEADER).and_then(|v| v.to_str().ok()).unwrap_or("");
    if expected.is_empty() || !weft_mesh::auth::constant_time_eq(expected.as_bytes(), given.as_bytes()) {
        return Err(ApiError::new(
            ErrorCode::NotAllowed,
            format!("a change made with the session cookie needs the session's CSRF token in {CSRF_HEADER}"),
        ));
    }
    if let (Some(origin), Some(host)) = (headers.get(ORIGIN).and_then(|v| v.to_str().ok()), host_of(uri, headers)) {
        let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
        if !origin_host.eq_ignore_ascii_case(host) {
            return Err(ApiError::new(ErrorCode::NotAllowed, format!("a change from origin {origin} is refused")));
        }
    }
    Ok(())
}

/// The OIDC verifier, fetching the issuer's keys over HTTP.
fn verifier(config: &OidcConfig) -> JwtVerifier {
    let mut settings = OidcSettings::new(config.issuer.clone(), config.audience.clone());
    settings.user_claim = config.user_claim.clone();
    settings.groups_claim = config.groups_claim.clone();
    settings.refresh_interval = Duration::from_millis(config.keys_refresh_ms);
    let source = HttpKeys { issuer: config.issuer.clone(), jwks_url: config.jwks_url.clone() };
    JwtVerifier::new(settings, Box::new(source))
}

/// Reads the issuer's JWKS, from the configured URL or the one its discovery document names.
struct HttpKeys {
    issuer: String,
    jwks_url: Option<String>,
}

impl KeySource for HttpKeys {
    fn fetch(&self) -> Result<String, String> {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(5))).build().into();
        let get = |url: &str| -> Result<String, String> {
            agent
                .get(url)
                .call()
                .map_err(|e| format!("GET {url}: {e}"))?
                .body_mut()
                .with_config()
                .limit(1024 * 1024)
                .read_to_string()
                .map_err(|e| format!("GET {url}: {e}"))
        };
        let url = match &self.jwks_url {
            Some(url) => url.clone(),
            None => {
                let discovery_url = format!("{}/.well-known/openid-configuration", self.issuer.trim_end_matches('/'));
                let discovery: serde_json::Value = serde_json::from_str(&get(&discovery_url)?)
                    .map_err(|e| format!("{discovery_url} is not JSON: {e}"))?;
                discovery
                    .get("jwks_uri")
                    .and_then(|v| v.as_str())
                    .ok_or_else(|| format!("{discovery_url} names no jwks_uri"))?
                    .to_string()
            }
        };
        get(&url)
    }
}

/// Requests per second per principal: a token bucket each, refilled continuously, holding at most
/// two seconds' worth (so a burst of twice the rate passes).
pub struct RateLimiter {
    per_second: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    /// `None` for 0 (no limit).
    pub fn new(per_second: u32) -> Option<RateLimiter> {
        (per_second > 0).then(|| RateLimiter { per_second: f64::from(per_second), buckets: Mutex::new(HashMap::new()) })
    }

    /// Takes one request's token for `principal`; `Err(seconds)` to wait when the bucket is empty.
    pub fn take(&self, principal: &str) -> Result<(), f64> {
        let capacity = self.per_second * 2.0;
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() > 100_000 {
            // Full buckets carry no information: forget them.
            buckets.retain(|_, (tokens, at)| *tokens + at.elapsed().as_secs_f64() * self.per_second < capacity);
        }
        let (tokens, at) = buckets.entry(principal.to_string()).or_insert((capacity, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(capacity);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err((1.0 - *tokens) / self.per_second)
        }
    }
}

/// Keeps the [`Authenticator`] shared.
pub type SharedAuth = Arc<Authenticator>;

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn path_parameters_are_read_from_the_template() {
        let params =
            path_params("/api/v1/products/{id}/dead-letters:replay", "/api/v1/products/a.b%2Fc/dead-letters:replay");
        assert_eq!(params, vec![("id".to_string(), "a.b/c".to_string())]);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
        assert_eq!(percent_decode("%C3%A9"), "é");
    }

    #[test]
    fn the_rate_limit_passes_a_burst_then_the_rate() {
        let limiter = RateLimiter::new(10).expect("a limit");
        let passed = (0..50).filter(|_| limiter.take("alice").is_ok()).count();
        assert_eq!(passed, 20, "a burst of twice the rate");
        let wait = limiter.take("alice").expect_err("empty");
        assert!(wait > 0.0 && wait <= 0.1, "{wait}");
        assert!(limiter.take("bob").is_ok(), "each principal has their own bucket");
        std::thread::sleep(Duration::from_millis(120));
        assert!(limiter.take("alice").is_ok(), "refilled at the rate");
        assert!(RateLimiter::new(0).is_none());
    }

    #[test]
    fn hosts_lose_their_ports() {
        assert_eq!(strip_port("localhost:8080"), "localhost");
        assert_eq!(strip_port("[::1]:8080"), "[::1]");
        assert_eq!(strip_port("example.com"), "example.com");
    }

    #[test]
    fn simple_content_types_are_refused_for_bodies() {
        let mut headers = HeaderMap::new();
        assert!(check_content_type(&Method::POST, "/ksql", &headers, true).is_err());
        assert!(check_content_type(&Method::POST, "/ksql", &headers, false).is_ok());
        for refused in [
            "text/plain",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(refused));
            assert!(check_content_type(&Method::POST, "/ksql", &headers, true).is_err(), "{refused}");
        }
        for accepted in [
            "application/json",
            "application/vnd.schemaregistry.v1+json",
            "application/vnd.ksql.v1+json",
            "application/yaml",
        ] {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(accepted));
            assert!(check_content_type(&Method::PUT, "/ksql", &headers, true).is_ok(), "{accepted}");
        }
    }

    #[test]
    fn close_query_alone_may_come_without_a_content_type() {
        let mut headers = HeaderMap::new();
        assert!(check_content_type(&Method::POST, "/close-query", &headers, true).is_ok());
        assert!(check_content_type(&Method::POST, "/query-stream", &headers, true).is_err());
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        assert!(check_content_type(&Method::POST, "/close-query", &headers, true).is_err());
    }

    #[test]
    fn public_routes_are_few() {
        assert!(is_public(&Method::GET, "/health"));
        assert!(is_public(&Method::GET, "/explore"));
        assert!(is_public(&Method::GET, "/ui/app.js"));
        assert!(is_public(&Method::POST, "/api/v1/session"));
        assert!(!is_public(&Method::GET, "/api/v1/products"));
        assert!(!is_public(&Method::GET, "/registry/subjects"));
        assert!(!is_public(&Method::POST, "/ksql"));
        assert!(!is_public(&Method::POST, "/explore"));
        assert!(!is_public(&Method::GET, "/metrics"));
    }

    #[test]
    fn reads_by_post_are_not_changes() {
        assert!(!is_change(&Method::POST, "/query-stream"));
        assert!(!is_change(&Method::POST, "/registry/subjects/orders-value"));
        assert!(is_change(&Method::POST, "/registry/subjects/orders-value/versions"));
        assert!(is_change(&Method::POST, "/ksql"));
        assert!(is_change(&Method::DELETE, "/api/v1/topics/x"));
    }
}
