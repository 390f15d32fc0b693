//! OpenID Connect bearer tokens against a local identity provider: a discovery document and a key
//! set served over HTTP by the test, JWTs signed with its keys (ECDSA P-256), the provider rotating
//! its keys while the server runs.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::TestServer;
use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use serde_json::{json, Value};

/// Unpadded base64url, as JWT parts are.
fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The identity provider: its keys by kid, served at `/.well-known/openid-configuration` and `/jwks`,
/// and an authorization-code flow with PKCE (`/authorize` signs in `user` at once, `/token` checks the
/// verifier against the challenge).
struct Provider {
    issuer: String,
    keys: Arc<Mutex<Vec<(String, EcdsaKeyPair)>>>,
    /// Codes issued: code -> (challenge, redirect_uri).
    codes: Arc<Mutex<std::collections::HashMap<String, (String, String)>>>,
}

/// The query or form parameters of `text`, decoded.
fn params(text: &str) -> std::collections::HashMap<String, String> {
    text.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (k.to_string(), decode(v))).collect()
}

fn decode(text: &str) -> String {
    let bytes = text.replace('+', " ").into_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(byte) = u8::from_str_radix(std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"), 16) {
                out.push(byte);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Provider {
    fn start() -> Provider {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("addr"));
        let keys: Arc<Mutex<Vec<(String, EcdsaKeyPair)>>> = Arc::new(Mutex::new(Vec::new()));
        let codes: Arc<Mutex<std::collections::HashMap<String, (String, String)>>> = Arc::default();
        let (served, base, issued) = (keys.clone(), issuer.clone(), codes.clone());
        let signer = Provider { issuer: issuer.clone(), keys: keys.clone(), codes: codes.clone() };
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut request_line = String::new();
                let _ = reader.read_line(&mut request_line);
                let mut line = String::new();
                let mut length = 0usize;
                while reader.read_line(&mut line).unwrap_or(0) > 0 && !line.trim().is_empty() {
                    if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                        length = value.trim().parse().unwrap_or(0);
                    }
                    line.clear();
                }
                let mut body = vec![0u8; length];
                let _ = std::io::Read::read_exact(&mut reader, &mut body);
                let target = request_line.split_whitespace().nth(1).unwrap_or("/").to_string();
                let (path, query) = target.split_once('?').unwrap_or((&target, ""));
                let (status, location, answer) = match path {
                    "/.well-known/openid-configuration" => (200, None, json!({"issuer": base, "jwks_uri": format!("{base}/jwks"),
                        "authorization_endpoint": format!("{base}/authorize"), "token_endpoint": format!("{base}/token")}).to_string()),
                    "/authorize" => {
                        let q = params(query);
                        assert_eq!(q.get("code_challenge_method").map(String::as_str), Some("S256"), "PKCE with S256");
                        assert_eq!(q.get("response_type").map(String::as_str), Some("code"));
                        let code = format!("code-{}", issued.lock().unwrap().len() + 1);
                        issued.lock().unwrap().insert(code.clone(), (q["code_challenge"].clone(), q["redirect_uri"].clone()));
                        let back = format!("{}?code={code}&state={}", q["redirect_uri"], q["state"]);
                        (302, Some(back), String::new())
                    }
                    "/token" => {
                        let form = params(&String::from_utf8_lossy(&body));
                        let known = issued.lock().unwrap().remove(form.get("code").map(String::as_str).unwrap_or_default());
                        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
                        let challenge = b64(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
                        match known {
                            Some((expected, redirect)) if expected == challenge && Some(&redirect) == form.get("redirect_uri") => {
                                let id_token = signer.token("k1", json!({"preferred_username": "olga", "groups": ["orders-team"], "aud": form["client_id"]}));
                                (200, None, json!({"id_token": id_token, "access_token": "opaque", "token_type": "Bearer"}).to_string())
                            }
                            _ => (400, None, json!({"error": "invalid_grant"}).to_string()),
                        }
                    }
                    _ => (200, None, jwks(&served.lock().unwrap())),
                };
                let location = location.map(|l| format!("location: {l}\r\n")).unwrap_or_default();
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\n{location}content-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
            }
        });
        let provider = Provider { issuer, keys, codes };
        provider.add_key("k1");
        provider
    }

    fn add_key(&self, kid: &str) {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).expect("key");
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).expect("key");
        self.keys.lock().unwrap().push((kid.to_string(), pair));
    }

    fn remove_key(&self, kid: &str) {
        self.keys.lock().unwrap().retain(|(k, _)| k != kid);
    }

    /// A JWT with `claims` over the standard ones, signed with key `kid`.
    fn token(&self, kid: &str, claims: Value) -> String {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let mut all = json!({"iss": self.issuer, "aud": "weft", "exp": now + 300, "iat": now});
        for (key, value) in claims.as_object().expect("claims").iter() {
            all[key] = value.clone();
        }
        let header = json!({"alg": "ES256", "typ": "JWT", "kid": kid});
        let input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(all.to_string().as_bytes()));
        let keys = self.keys.lock().unwrap();
        let (_, pair) = keys.iter().find(|(k, _)| k == kid).expect("the key");
        let signature = pair.sign(&SystemRandom::new(), input.as_bytes()).expect("sign");
        format!("{input}.{}", b64(signature.as_ref()))
    }
}

/// A server with authentication on, trusting `provider` with the audience `audience`.
fn server_trusting(provider: &Provider, audience: &str) -> TestServer {
    let (issuer, audience) = (provider.issuer.clone(), audience.to_string());
    TestServer::start_with(|config| {
        config.auth = weft_server::AuthMode::Tokens;
        config.oidc = Some(weft_server::OidcConfig {
            issuer,
            audience,
            jwks_url: None,
            user_claim: "preferred_username".into(),
            groups_claim: "groups".into(),
            keys_refresh_ms: 0,
        });
    })
}

fn jwks(keys: &[(String, EcdsaKeyPair)]) -> String {
    let keys: Vec<Value> = keys
        .iter()
        .map(|(kid, pair)| {
            let point = pair.public_key().as_ref();
            json!({"kty": "EC", "crv": "P-256", "kid": kid, "alg": "ES256", "use": "sig",
                "x": b64(&point[1..33]), "y": b64(&point[33..65])})
        })
        .collect();
    json!({ "keys": keys }).to_string()
}

fn call(base: &str, method: &str, path: &str, token: &str, body: Option<&Value>) -> (u16, Value) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let request = ureq::http::Request::builder()
        .method(method)
        .uri(format!("{base}{path}"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(body.map(Value::to_string).unwrap_or_default().into_bytes())
        .expect("request");
    let mut response = agent.run(request).expect("HTTP exchange");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

#[test]
fn the_identity_providers_tokens_sign_in_with_their_groups_and_bad_ones_are_refused() {
    let provider = Provider::start();
    let server = server_trusting(&provider, "weft");
    let base = server.api.base.clone();
    let admin = server.server.as_ref().and_then(|s| s.bootstrap_token()).expect("admin token").to_string();
    let domain =
        json!({"name": "orders", "owningTeam": "orders-team", "members": [{"user": "admin", "role": "owner"}]});
    assert_eq!(call(&base, "POST", "/api/v1/domains", &admin, Some(&domain)).0, 201);

    // A user of the provider, in the domain's owning team: signed in, a member, recorded on first use.
    let olga =
        provider.token("k1", json!({"sub": "u-1", "preferred_username": "olga", "groups": ["orders-team", "staff"]}));
    let (status, session) = call(&base, "GET", "/api/v1/session", &olga, None);
    assert_eq!(status, 200, "{session}");
    assert_eq!(session["identity"]["name"], "olga");
    assert_eq!(session["identity"]["signIn"]["method"], "oidc");
    assert_eq!(session["identity"]["teams"], json!(["orders-team", "staff"]));
    let product = json!({"id": "orders.placed", "name": "Orders", "owner": "olga"});
    let (status, answer) = call(&base, "POST", "/api/v1/products", &olga, Some(&product));
    assert_eq!(status, 201, "a member through the owning team: {answer}");
    let (_, user) = call(&base, "GET", "/api/v1/users/olga", &admin, None);
    assert_eq!(user["source"], "oidc", "{user}");

    // Another user, in no team of the domain: signed in, not a member.
    let omar = provider.token("k1", json!({"preferred_username": "omar"}));
    let (status, answer) = call(&base, "PUT", "/api/v1/products/orders.placed", &omar, Some(&product));
    assert_eq!(status, 403, "{answer}");

    // Refused: expired, another audience, another issuer, unsigned, signed by a key the provider does
    // not publish, no user claim.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let stranger = Provider::start();
    let unsigned = {
        let header = b64(br#"{"alg":"none","typ":"JWT"}"#);
        let claims = json!({"iss": provider.issuer, "aud": "weft", "exp": now + 300, "preferred_username": "admin"});
        format!("{header}.{}.", b64(claims.to_string().as_bytes()))
    };
    for (what, token) in [
        ("expired", provider.token("k1", json!({"preferred_username": "olga", "exp": now - 600}))),
        ("another audience", provider.token("k1", json!({"preferred_username": "olga", "aud": "other-app"}))),
        ("another issuer", provider.token("k1", json!({"preferred_username": "olga", "iss": "https://evil.example"}))),
        ("unsigned", unsigned),
        ("a stranger's key", stranger.token("k1", json!({"iss": provider.issuer, "preferred_username": "admin"}))),
        ("no user claim", provider.token("k1", json!({"sub": "u-9"}))),
    ] {
        let (status, answer) = call(&base, "GET", "/api/v1/products", &token, None);
        assert_eq!((status, answer["error_code"].as_u64()), (401, Some(40101)), "{what}: {answer}");
    }

    // The provider rotates: a token signed with its new key is accepted at once (the server fetches
    // the keys again), and once the old key is withdrawn, tokens signed with it are refused.
    provider.add_key("k2");
    let rotated = provider.token("k2", json!({"preferred_username": "olga", "groups": ["orders-team"]}));
    let (status, answer) = call(&base, "GET", "/api/v1/session", &rotated, None);
    assert_eq!(status, 200, "{answer}");
    let (status, session) = call(&base, "GET", "/api/v1/session", &rotated, None);
    assert_eq!((status, &session["identity"]["teams"]), (200, &json!(["orders-team"])), "teams follow the token");
    let old = provider.token("k1", json!({"preferred_username": "olga"}));
    provider.remove_key("k1");
    // A new kid makes the server look again; k1 is then gone from what it knows.
    provider.add_key("k3");
    let (status, _) =
        call(&base, "GET", "/api/v1/session", &provider.token("k3", json!({"preferred_username": "olga"})), None);
    assert_eq!(status, 200);
    let (status, answer) = call(&base, "GET", "/api/v1/products", &old, None);
    assert_eq!(status, 401, "a withdrawn key signs nothing: {answer}");
}

/// GET without following redirects: status, `Location`, `Set-Cookie`.
fn get_raw(url: &str, cookie: Option<&str>) -> (u16, Option<String>, Option<String>) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).max_redirects(0).build().into();
    let mut request = agent.get(url);
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    let response = request.call().expect("HTTP exchange");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    (response.status().as_u16(), header("location"), header("set-cookie"))
}

#[test]
fn the_web_app_signs_in_with_the_authorization_code_flow_and_pkce() {
    let provider = Provider::start();
    let issuer = provider.issuer.clone();
    let server = server_trusting(&provider, "weft-web");
    let base = server.api.base.clone();
    // The browser asks to sign in, and is sent to the provider with a PKCE challenge.
    let (status, to_provider, _) = get_raw(&format!("{base}/api/v1/session/oidc"), None);
    assert_eq!(status, 302);
    let to_provider = to_provider.expect("a redirect");
    assert!(to_provider.starts_with(&format!("{issuer}/authorize?")), "{to_provider}");
    assert!(to_provider.contains("code_challenge=") && to_provider.contains("client_id=weft-web"), "{to_provider}");
    // The provider signs the user in and sends the browser back with a code.
    let (status, back, _) = get_raw(&to_provider, None);
    assert_eq!(status, 302);
    let back = back.expect("back to weft");
    assert!(back.starts_with(&format!("{base}/api/v1/session/oidc/callback?")), "{back}");
    // Weft exchanges the code (with the verifier), opens a session, and sends the browser home.
    let (status, home, cookie) = get_raw(&back, None);
    assert_eq!((status, home.as_deref()), (302, Some("/")), "{cookie:?}");
    let cookie = cookie.expect("a session cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let mut answer = agent.get(format!("{base}/api/v1/session")).header("cookie", &session).call().expect("session");
    let who: Value = serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(
        (&who["identity"]["name"], &who["identity"]["signIn"]["method"]),
        (&json!("olga"), &json!("oidc")),
        "{who}"
    );

    // The same answer again (a replayed callback) and a state this server never started are refused.
    let (status, _, _) = get_raw(&back, None);
    assert_eq!(status, 401, "a state is used once");
    let forged = back.replace("state=", "state=x");
    let (status, _, _) = get_raw(&forged, None);
    assert_eq!(status, 401);
    // A code exchanged without the right verifier is refused by the provider, and so the sign-in.
    let (_, to_provider, _) = get_raw(&format!("{base}/api/v1/session/oidc"), None);
    let (_, back, _) = get_raw(&to_provider.expect("redirect"), None);
    let back = back.expect("back");
    let code = back.split("code=").nth(1).and_then(|rest| rest.split('&').next()).expect("a code").to_string();
    provider.codes.lock().unwrap().get_mut(&code).expect("issued").0 = "another-challenge".into();
    let (status, _, cookie) = get_raw(&back, None);
    assert_eq!((status, cookie), (401, None), "no session without the verifier's challenge");
}
