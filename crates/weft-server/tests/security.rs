//! Security over real HTTP with authentication on: who may call which route, tokens, grants enforced
//! on every read surface, the audit log, and the transport guards (content type, Host).
//!
//! The cast: `admin` (the bootstrap admin), `olivia` (owner of domain `customers`), `mallory` (owner of
//! another domain, `payments`), `gina` (a consumer granted access to `customers.profiles`), `casey` (a
//! consumer with no grant), `anonymous` (no credential) and an expired token.

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use common::TestServer;
use serde_json::{json, Value};
use weft_server::weft_mesh::auth::signature as weft_mesh_signature;

struct Client {
    base: String,
    agent: ureq::Agent,
}

impl Client {
    fn new(base: &str) -> Client {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .into();
        Client { base: base.to_string(), agent }
    }

    /// A request with `token` (if any) and a JSON body (if any); the status and the body as JSON (or text).
    fn call(&self, method: &str, path: &str, token: Option<&str>, body: Option<&Value>) -> (u16, Value) {
        self.call_with(method, path, token, body, &[])
    }

    fn call_with(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let mut request = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let bytes = match body {
            Some(body) => {
                request = request.header("content-type", "application/json");
                body.to_string().into_bytes()
            }
            None => Vec::new(),
        };
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let mut response = self.agent.run(request.body(bytes).expect("request")).expect("HTTP exchange");
        let status = response.status().as_u16();
        let text = response.body_mut().with_config().limit(16 << 20).read_to_string().unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    fn ok(&self, method: &str, path: &str, token: &str, body: Option<&Value>) -> Value {
        let (status, answer) = self.call(method, path, Some(token), body);
        assert!((200..300).contains(&status), "{method} {path}: {status} {answer}");
        answer
    }
}

/// A server with authentication on, and the cast's tokens.
struct Mesh {
    _server: TestServer,
    client: Client,
    tokens: BTreeMap<&'static str, String>,
}

impl Mesh {
    fn token(&self, who: &str) -> &str {
        &self.tokens[who]
    }
}

fn mesh() -> Mesh {
    let server = TestServer::start_with(|config| {
        config.auth = weft_server::AuthMode::Tokens;
        config.webhook_retry_ms = 50;
    });
    let admin = server.server.as_ref().and_then(|s| s.bootstrap_token()).expect("the bootstrap token").to_string();
    let client = Client::new(&server.api.base);
    let mut tokens = BTreeMap::new();
    for (name, teams) in [("olivia", vec!["customers-team"]), ("mallory", vec![]), ("gina", vec![]), ("casey", vec![])]
    {
        client.ok("PUT", &format!("/api/v1/users/{name}"), &admin, Some(&json!({"name": name, "teams": teams})));
        let created = client.ok("POST", "/api/v1/tokens", &admin, Some(&json!({"principal": name})));
        tokens.insert(name, created["token"].as_str().expect("token").to_string());
    }
    let expired =
        client.ok("POST", "/api/v1/tokens", &admin, Some(&json!({"principal": "casey", "expiresInSeconds": 1})));
    tokens.insert("expired", expired["token"].as_str().expect("token").to_string());
    tokens.insert("admin", admin.clone());

    for (domain, owner) in [("customers", "olivia"), ("payments", "mallory")] {
        let spec = json!({"name": domain, "owningTeam": format!("{domain}-team"), "members": [{"user": owner, "role": "owner"}]});
        client.ok("POST", "/api/v1/domains", &admin, Some(&spec));
    }
    let olivia = tokens["olivia"].clone();
    client.ok("POST", "/api/v1/topics", &olivia, Some(&json!({"name": "customers.profiles-v1", "partitions": 1})));
    let product = json!({"id": "customers.profiles", "name": "Customer profiles", "owner": "olivia",
        "description": "One record per customer", "qualityTier": "curated",
        "outputPorts": [{"name": "profiles", "version": "1.0.0", "topic": "customers.profiles-v1",
                         "schemaSubject": "customers.profiles-v1-value", "format": "json"}]});
    client.ok("POST", "/api/v1/products", &olivia, Some(&product));
    let records = json!([{"key": "c1", "value": {"id": "c1", "email": "ann@example.com"}},
                         {"key": "c2", "value": {"id": "c2", "email": "bob@example.com"}}]);
    client.ok("POST", "/api/v1/topics/customers.profiles-v1/records", &olivia, Some(&records));
    let gina = tokens["gina"].clone();
    let request = client.ok(
        "POST",
        "/api/v1/products/customers.profiles/access-requests",
        &gina,
        Some(&json!({"purpose": "churn model"})),
    );
    let id = request["id"].as_str().expect("request id").to_string();
    client.ok("POST", &format!("/api/v1/access-requests/{id}/approve"), &olivia, Some(&json!({})));
    // The expired token has expired by now (1 s).
    std::thread::sleep(Duration::from_millis(1100));
    Mesh { _server: server, client, tokens }
}

/// What a route is, for authorization: the expected outcome per persona follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Anyone, signed in or not.
    Public,
    /// Metadata and one's own things: every signed-in principal.
    SignedIn,
    /// A product's data: its domain, admins, and grantees.
    Data,
    /// A change to the product's domain (`customers`): its members and admins.
    DomainChange,
    /// A creation whose domain is in the body: members of some domain may try, others are refused.
    DomainMember,
    /// Platform admins only.
    Admin,
}

/// Every `/api/v1` route's rule, written by hand: a route the router has and this table lacks fails
/// the test, so no route goes without a decision about who may call it.
fn rule_of(method: &str, path: &str) -> Option<Rule> {
    use Rule::*;
    Some(match (method, path) {
        ("GET", "/api/v1/openapi.json") => Public,
        ("GET" | "POST" | "DELETE", "/api/v1/session") => Public,
        ("GET", "/api/v1/session/oidc" | "/api/v1/session/oidc/callback") => Public,
        ("GET", "/api/v1/topics" | "/api/v1/topics/{topic}") => SignedIn,
        ("POST", "/api/v1/topics") => SignedIn,
        ("DELETE", "/api/v1/topics/{topic}") => DomainChange,
        ("GET", "/api/v1/topics/{topic}/records" | "/api/v1/topics/{topic}/records/stream") => Data,
        ("POST", "/api/v1/topics/{topic}/records") => DomainChange,
        ("GET" | "POST", "/api/v1/groups/{group}/offsets") => SignedIn,
        (
            "GET",
            "/api/v1/domains"
            | "/api/v1/domains/{name}"
            | "/api/v1/domains/{name}/history"
            | "/api/v1/domains/{name}/products",
        ) => SignedIn,
        ("POST", "/api/v1/domains") => Admin,
        ("PUT" | "DELETE", "/api/v1/domains/{name}") => DomainChange,
        (
            "GET",
            "/api/v1/products"
            | "/api/v1/products/search"
            | "/api/v1/products/{id}"
            | "/api/v1/products/{id}/history"
            | "/api/v1/products/{id}/odps"
            | "/api/v1/products/{id}/lineage/upstream"
            | "/api/v1/products/{id}/lineage/downstream"
            | "/api/v1/products/{id}/lineage/fields"
            | "/api/v1/products/{id}/impact"
            | "/api/v1/products/{id}/profile"
            | "/api/v1/products/{id}/stats"
            | "/api/v1/products/{id}/schema"
            | "/api/v1/products/{id}/grants"
            | "/api/v1/products/{id}/contract"
            | "/api/v1/products/{id}/governance",
        ) => SignedIn,
        ("POST", "/api/v1/products:check") => SignedIn,
        ("POST", "/api/v1/products" | "/api/v1/products:apply" | "/api/v1/products/from-sql") => DomainMember,
        ("PUT" | "DELETE", "/api/v1/products/{id}") => DomainChange,
        (
            "POST",
            "/api/v1/products/{id}/publish" | "/api/v1/products/{id}/deprecate" | "/api/v1/products/{id}/retire",
        ) => DomainChange,
        (
            "PUT",
            "/api/v1/products/{id}/odps"
            | "/api/v1/products/{id}/lineage/fields"
            | "/api/v1/products/{id}/contract"
            | "/api/v1/products/{id}/governance",
        ) => DomainChange,
        ("DELETE", "/api/v1/products/{id}/contract") => DomainChange,
        (
            "GET",
            "/api/v1/products/{id}/sample"
            | "/api/v1/products/{id}/records"
            | "/api/v1/products/{id}/records/stream"
            | "/api/v1/products/{id}/export",
        ) => Data,
        // Counts for everyone; the records themselves only for the domain (entriesHidden otherwise).
        ("GET", "/api/v1/products/{id}/dead-letters") => SignedIn,
        ("POST", "/api/v1/products/{id}/dead-letters:replay" | "/api/v1/products/{id}/dead-letters:drop") => {
            DomainChange
        }
        ("POST", "/api/v1/products/{id}/access-requests") => SignedIn,
        ("GET", "/api/v1/access-requests") => SignedIn,
        (
            "POST",
            "/api/v1/access-requests/{req}/approve"
            | "/api/v1/access-requests/{req}/deny"
            | "/api/v1/access-requests/{req}/revoke",
        ) => DomainChange,
        ("GET", "/api/v1/contracts" | "/api/v1/contracts/{id}" | "/api/v1/contracts/{id}/odcs") => SignedIn,
        ("GET", "/api/v1/contracts/{id}/test") => Data,
        ("POST", "/api/v1/contracts") => DomainMember,
        (
            "GET",
            "/api/v1/governance/violations" | "/api/v1/governance/policies" | "/api/v1/governance/dead-letters",
        ) => SignedIn,
        ("PUT", "/api/v1/governance/policies") => Admin,
        ("GET", "/api/v1/history") => SignedIn,
        ("POST", "/api/v1/sql/validate") => SignedIn,
        ("GET", "/api/v1/sql/sources") => SignedIn,
        // Declares the stream over the product's port, for those who may query it.
        ("POST", "/api/v1/products/{id}/sql-source") => Data,
        ("GET", "/api/v1/users" | "/api/v1/users/{name}" | "/api/v1/tokens") => SignedIn,
        ("PUT" | "DELETE", "/api/v1/users/{name}") => Admin,
        ("POST", "/api/v1/tokens") => SignedIn,
        ("DELETE", "/api/v1/tokens/{id}") => SignedIn,
        ("GET", "/api/v1/audit" | "/api/v1/audit/stream") => Admin,
        // One's own subscriptions: another's answer 404, as if it did not exist.
        ("GET" | "POST", "/api/v1/webhooks") => SignedIn,
        ("DELETE", "/api/v1/webhooks/{id}")
        | ("GET", "/api/v1/webhooks/{id}/deliveries")
        | ("POST", "/api/v1/webhooks/{id}/test") => SignedIn,
        _ => return None,
    })
}

/// A concrete path for a route: every parameter names the cast's objects.
fn concrete(path: &str) -> String {
    if path == "/api/v1/contracts/{id}/test" {
        return "/api/v1/contracts/customers-profiles/test?product=customers.profiles".to_string();
    }
    path.replace("{topic}", "customers.profiles-v1")
        .replace("{group}", "g1")
        .replace("{name}", "customers")
        .replace("{req}", "ar-1")
        .replace("{id}", "customers.profiles")
}

fn refused(status: u16) -> bool {
    status == 401 || status == 403
}

#[test]
fn every_route_has_a_rule_and_each_persona_gets_its_answer() {
    let mesh = mesh();
    let routes = weft_server::api::v1();
    let missing: Vec<String> = routes
        .routes()
        .iter()
        .filter(|(m, p)| rule_of(m.as_str(), p).is_none())
        .map(|(m, p)| format!("{m} {p}"))
        .collect();
    assert!(missing.is_empty(), "routes without an authorization rule in this test: {missing:?}");

    let before = state_snapshot(&mesh);
    for (method, path) in routes.routes() {
        let method = method.as_str();
        let rule = rule_of(method, path).expect("checked above");
        let url = concrete(path);
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        // Streams are checked in their own test (their answers do not end).
        if path.ends_with("/stream") {
            continue;
        }
        let (status, answer) = mesh.client.call(method, &url, None, body.as_ref());
        assert_eq!(refused(status), rule != Rule::Public, "anonymous {method} {url}: {status} {answer}");
        if rule != Rule::Public {
            assert_eq!(status, 401, "anonymous {method} {url}: {answer}");
        }
        // An expired token is no caller: refused where a caller is needed, ignored on public routes.
        let (status, answer) = mesh.client.call(method, &url, Some(mesh.token("expired")), body.as_ref());
        assert_eq!(status == 401, rule != Rule::Public, "expired token {method} {url}: {status} {answer}");

        for who in ["casey", "gina", "mallory"] {
            let expected_refusal = match rule {
                Rule::Public | Rule::SignedIn => false,
                Rule::Data => who != "gina",
                Rule::DomainChange | Rule::Admin => true,
                Rule::DomainMember => who != "mallory",
            };
            // Only refusals are sent for changes (an allowed change with an empty body may change
            // things, and is checked by the tests of each route); reads are sent either way.
            if !expected_refusal && method != "GET" {
                continue;
            }
            let (status, answer) = mesh.client.call(method, &url, Some(mesh.token(who)), body.as_ref());
            assert_eq!(refused(status), expected_refusal, "{who} {method} {url}: {status} {answer}");
            if expected_refusal {
                assert_eq!(status, 403, "{who} {method} {url}: {answer}");
                assert!(answer["message"].as_str().is_some_and(|m| m.contains(who)), "{who} {method} {url}: {answer}");
            }
        }
        if method == "GET" {
            for who in ["olivia", "admin"] {
                let allowed = rule != Rule::Admin || who == "admin";
                let (status, answer) = mesh.client.call(method, &url, Some(mesh.token(who)), None);
                assert_eq!(!refused(status), allowed, "{who} {method} {url}: {status} {answer}");
            }
        }
    }
    assert_eq!(state_snapshot(&mesh), before, "refused calls changed nothing");

    // Every refusal left an audit record.
    let admin = mesh.token("admin");
    let page = mesh.client.ok("GET", "/api/v1/audit?outcome=refused&limit=1000", admin, None);
    let entries = page["entries"].as_array().expect("entries");
    for who in ["anonymous", "casey", "mallory"] {
        assert!(entries.iter().any(|e| e["principal"] == who), "no refusal of {who} audited");
    }
    assert!(entries.iter().all(|e| e["status"] == 401 || e["status"] == 403), "refusals are 401 or 403");
    let mallory: Vec<&Value> = entries.iter().filter(|e| e["principal"] == "mallory").collect();
    assert!(
        mallory.iter().any(|e| e["action"] == "POST /api/v1/domains" && e["object"] == "/api/v1/domains"),
        "{mallory:?}"
    );
}

/// What the refused calls must not have changed.
fn state_snapshot(mesh: &Mesh) -> Vec<Value> {
    let admin = mesh.token("admin");
    vec![
        mesh.client.ok("GET", "/api/v1/domains", admin, None),
        mesh.client.ok("GET", "/api/v1/products", admin, None),
        mesh.client.ok("GET", "/api/v1/topics", admin, None),
        mesh.client.ok("GET", "/api/v1/topics/customers.profiles-v1/records?limit=100", admin, None),
        mesh.client.ok("GET", "/api/v1/access-requests", admin, None),
        mesh.client.ok("GET", "/api/v1/users", admin, None),
        mesh.client.ok("GET", "/api/v1/governance/policies", admin, None),
    ]
}

#[test]
fn tokens_are_shown_once_stored_hashed_revoked_at_once_and_malformed_ones_refused() {
    let mesh = mesh();
    let c = &mesh.client;
    let casey = mesh.token("casey");
    let created = c.ok("POST", "/api/v1/tokens", casey, Some(&json!({"description": "laptop", "scopes": ["read"]})));
    let token = created["token"].as_str().expect("token").to_string();
    let id = created["id"].as_str().expect("id").to_string();
    assert!(token.starts_with(&format!("weft_{id}_")));
    // Listed without the secret or its hash.
    let listed = c.ok("GET", "/api/v1/tokens", casey, None);
    let text = listed.to_string();
    assert!(text.contains(&id) && !text.contains(&token[22..]) && !text.contains("hash"), "{text}");
    // Casey lists only casey's tokens; another's list is refused.
    assert!(listed["tokens"].as_array().expect("tokens").iter().all(|t| t["principal"] == "casey"));
    assert_eq!(c.call("GET", "/api/v1/tokens?principal=olivia", Some(casey), None).0, 403);

    // A read-only token reads, and makes no change.
    let (status, who) = c.call("GET", "/api/v1/session", Some(&token), None);
    assert_eq!((status, &who["identity"]["name"]), (200, &json!("casey")));
    let (status, answer) = c.call("POST", "/api/v1/topics", Some(&token), Some(&json!({"name": "scratch"})));
    assert_eq!(status, 403, "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().contains("read-only"), "{answer}");

    // Revocation takes effect on the next request; others cannot revoke it.
    assert_eq!(c.call("DELETE", &format!("/api/v1/tokens/{id}"), Some(mesh.token("mallory")), None).0, 403);
    c.ok("DELETE", &format!("/api/v1/tokens/{id}"), casey, None);
    assert_eq!(c.call("GET", "/api/v1/products", Some(&token), None).0, 401);

    // Malformed and forged credentials.
    let forged = format!("{}A{}", &token[..token.len() - 1], "");
    for bad in [
        "Bearer",
        "Bearer weft_nothex_abc",
        &format!("Bearer {forged}"),
        &format!("Bearer {}", token.replace(&id, "0123456789abcdef")),
        "Digest abc",
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJhZG1pbiJ9.",
    ] {
        let (status, answer) = c.call_with("GET", "/api/v1/products", None, None, &[("authorization", bad)]);
        assert_eq!(status, 401, "{bad}: {answer}");
        assert_eq!(answer["error_code"], 40101, "{bad}: {answer}");
    }
    // Expired.
    let (status, answer) = c.call("GET", "/api/v1/products", Some(mesh.token("expired")), None);
    assert_eq!(status, 401, "{answer}");
    assert!(answer["message"].as_str().unwrap_or_default().contains("not valid"), "{answer}");
}

#[test]
fn grants_decide_every_read_of_a_products_data_and_revocation_ends_them() {
    let mesh = mesh();
    let c = &mesh.client;
    let (casey, gina) = (mesh.token("casey"), mesh.token("gina"));
    for path in [
        "/api/v1/products/customers.profiles/sample",
        "/api/v1/products/customers.profiles/records",
        "/api/v1/products/customers.profiles/export?format=jsonl",
        "/api/v1/topics/customers.profiles-v1/records",
    ] {
        let (status, answer) = c.call("GET", path, Some(casey), None);
        assert_eq!((status, answer["error_code"].as_u64()), (403, Some(40307)), "casey {path}: {answer}");
        assert!(answer["message"].as_str().unwrap_or_default().contains("access-requests"), "{answer}");
        let (status, answer) = c.call("GET", path, Some(gina), None);
        assert_eq!(status, 200, "gina {path}: {answer}");
    }
    // Grants are the last hop of the lineage.
    let graph = c.ok("GET", "/api/v1/products/customers.profiles/lineage/downstream", casey, None);
    let consumers = graph["consumers"].as_array().expect("consumers");
    assert!(consumers.iter().any(|g| g["principal"] == "gina" && g["product"] == "customers.profiles"), "{graph}");
    // The profile's values are data: hidden without a grant, counts kept.
    let hidden = c.ok("GET", "/api/v1/products/customers.profiles/profile", casey, None);
    assert_eq!(hidden["values_hidden"].as_bool().or(hidden["valuesHidden"].as_bool()), Some(true), "{hidden}");
    assert!(!hidden.to_string().contains("ann@example.com"), "{hidden}");
    let shown = c.ok("GET", "/api/v1/products/customers.profiles/profile", gina, None);
    assert!(shown.to_string().contains("ann@example.com"), "{shown}");

    // SQL reads the same way: a pull over a stream on the product's topic.
    let olivia = mesh.token("olivia");
    let create = json!({"ksql": "CREATE STREAM profiles (id VARCHAR, email VARCHAR) WITH (kafka_topic='customers.profiles-v1', value_format='JSON');", "streamsProperties": {}});
    let (status, answer) = c.call("POST", "/ksql", Some(olivia), Some(&create));
    assert_eq!(status, 200, "{answer}");
    // The product's SQL name is for those who may query it: a grantee gets that stream, others a refusal.
    let sql_source = "/api/v1/products/customers.profiles/sql-source";
    let (status, answer) = c.call("POST", sql_source, Some(gina), None);
    assert_eq!((status, answer["name"].as_str()), (200, Some("PROFILES")), "gina: {answer}");
    let (status, answer) = c.call("POST", sql_source, Some(casey), None);
    assert_eq!((status, answer["error_code"].as_u64()), (403, Some(40307)), "casey: {answer}");
    // A product derived by someone without a grant on its input is refused, and nothing runs.
    let derive =
        json!({"ksql": "CREATE STREAM casey_copy AS SELECT * FROM profiles EMIT CHANGES;", "streamsProperties": {}});
    let (status, answer) = c.call("POST", "/ksql", Some(casey), Some(&derive));
    assert!(status >= 400 && answer.to_string().contains("no grant"), "casey derives from profiles: {status} {answer}");
    let (_, queries) =
        c.call("POST", "/ksql", Some(olivia), Some(&json!({"ksql": "SHOW QUERIES;", "streamsProperties": {}})));
    assert!(!queries.to_string().to_uppercase().contains("CASEY_COPY"), "{queries}");
    let query = json!({"sql": "SELECT * FROM profiles EMIT CHANGES;", "properties": {"auto.offset.reset": "earliest"}});
    let (status, answer) = c.call("POST", "/query-stream", Some(casey), Some(&query));
    assert!(status >= 400 || answer.to_string().contains("no grant"), "casey's push query: {status} {answer}");

    // A live tail of gina's ends within seconds of the revocation.
    let (tx, rx) = std::sync::mpsc::channel();
    let url = format!("{}/api/v1/products/customers.profiles/records/stream?from=earliest", c.base);
    let tail_token = gina.to_string();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let response = agent.get(&url).header("authorization", format!("Bearer {tail_token}")).call();
        let Ok(response) = response else { return };
        let mut reader = std::io::BufReader::new(response.into_body().into_reader());
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) > 0 {
            let _ = tx.send(line.trim_end().to_string());
            line.clear();
        }
        let _ = tx.send("<end>".to_string());
    });
    let started = Instant::now();
    let mut seen = Vec::new();
    while seen.iter().filter(|l: &&String| l.starts_with("data:")).count() < 2
        && started.elapsed() < Duration::from_secs(10)
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    assert_eq!(seen.iter().filter(|l| l.starts_with("data:")).count(), 2, "{seen:?}");
    let requests = c.ok("GET", "/api/v1/access-requests?product=customers.profiles&status=approved", olivia, None);
    let id = requests["requests"][0]["id"].as_str().expect("the grant").to_string();
    c.ok("POST", &format!("/api/v1/access-requests/{id}/revoke"), olivia, Some(&json!({"reason": "project over"})));
    let revoked_at = Instant::now();
    let mut ended = false;
    while revoked_at.elapsed() < Duration::from_secs(8) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line == "<end>" || line.contains("40307") => {
                ended = true;
                break;
            }
            _ => {}
        }
    }
    assert!(ended, "the tail did not end within 8 s of the revocation");
    assert_eq!(c.call("GET", "/api/v1/products/customers.profiles/sample", Some(gina), None).0, 403);
}

#[test]
fn domains_own_their_products_topics_and_subjects() {
    let mesh = mesh();
    let c = &mesh.client;
    let mallory = mesh.token("mallory");
    // Mallory may not make herself an owner of customers, nor publish or delete its things.
    let takeover =
        json!({"name": "customers", "owningTeam": "customers-team", "members": [{"user": "mallory", "role": "owner"}]});
    assert_eq!(c.call("PUT", "/api/v1/domains/customers", Some(mallory), Some(&takeover)).0, 403);
    assert_eq!(c.call("POST", "/api/v1/products/customers.profiles/publish", Some(mallory), Some(&json!({}))).0, 403);
    assert_eq!(c.call("DELETE", "/api/v1/topics/customers.profiles-v1", Some(mallory), None).0, 403);
    let write = json!([{"value": {"id": "x"}}]);
    assert_eq!(c.call("POST", "/api/v1/topics/customers.profiles-v1/records", Some(mallory), Some(&write)).0, 403);
    let schema = json!({"schema": "{\"type\":\"object\"}", "schemaType": "JSON"});
    let (status, answer) =
        c.call("POST", "/registry/subjects/customers.profiles-v1-value/versions", Some(mallory), Some(&schema));
    assert_eq!(status, 403, "{answer}");
    // Olivia, in the owning team, may.
    let olivia = mesh.token("olivia");
    let (status, answer) =
        c.call("POST", "/registry/subjects/customers.profiles-v1-value/versions", Some(olivia), Some(&schema));
    assert_eq!(status, 200, "{answer}");
    // A member through the owning team alone (no listing in the domain): a new user in customers-team.
    let admin = mesh.token("admin");
    c.ok("PUT", "/api/v1/users/tom", admin, Some(&json!({"name": "tom", "teams": ["customers-team"]})));
    let tom = c.ok("POST", "/api/v1/tokens", admin, Some(&json!({"principal": "tom"})))["token"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, answer) = c.call("GET", "/api/v1/products/customers.profiles/sample", Some(&tom), None);
    assert_eq!(status, 200, "{answer}");
    // Dead letters: counts for everyone, the records for the domain.
    let hidden = c.ok("GET", "/api/v1/products/customers.profiles/dead-letters", mallory, None);
    assert_eq!(hidden["entries_hidden"], true, "{hidden}");
    let shown = c.ok("GET", "/api/v1/products/customers.profiles/dead-letters", olivia, None);
    assert_eq!(shown["entries_hidden"], false, "{shown}");
    // Nobody approves their own access request.
    let own =
        c.ok("POST", "/api/v1/products/customers.profiles/access-requests", olivia, Some(&json!({"purpose": "mine"})));
    let id = own["id"].as_str().unwrap();
    assert_eq!(c.call("POST", &format!("/api/v1/access-requests/{id}/approve"), Some(olivia), Some(&json!({}))).0, 403);
}

#[test]
fn confluent_clients_use_basic_auth_with_a_token_as_password() {
    let mesh = mesh();
    let c = &mesh.client;
    let olivia = mesh.token("olivia");
    let basic = format!("Basic {}", base64_encode(&format!("olivia:{olivia}")));
    let (status, answer) = c.call_with("GET", "/registry/subjects", None, None, &[("authorization", &basic)]);
    assert_eq!(status, 200, "{answer}");
    let wrong_user = format!("Basic {}", base64_encode(&format!("mallory:{olivia}")));
    let (status, _) = c.call_with("GET", "/registry/subjects", None, None, &[("authorization", &wrong_user)]);
    assert_eq!(status, 401);
    let (status, answer) = c.call_with("GET", "/registry/subjects", None, None, &[]);
    assert_eq!(status, 401, "{answer}");
    let ksql = json!({"ksql": "SHOW STREAMS;", "streamsProperties": {}});
    let (status, answer) = c.call_with("POST", "/ksql", None, Some(&ksql), &[("authorization", &basic)]);
    assert_eq!(status, 200, "{answer}");
}

#[test]
fn cross_site_bodies_and_foreign_hosts_are_refused() {
    let mesh = mesh();
    let c = &mesh.client;
    let admin = mesh.token("admin");
    for content_type in
        [None, Some("text/plain"), Some("application/x-www-form-urlencoded"), Some("multipart/form-data; boundary=x")]
    {
        let mut request = ureq::http::Request::builder()
            .method("POST")
            .uri(format!("{}/api/v1/topics", c.base))
            .header("authorization", format!("Bearer {admin}"));
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let mut response =
            c.agent.run(request.body(br#"{"name":"csrf"}"#.to_vec()).expect("request")).expect("HTTP exchange");
        let text = response.body_mut().read_to_string().unwrap_or_default();
        assert_eq!(response.status().as_u16(), 415, "{content_type:?}: {text}");
    }
    let (status, _) = c.call("GET", "/api/v1/topics/csrf", Some(admin), None);
    assert_eq!(status, 404, "nothing was created");
    let (status, answer) = c.call_with("GET", "/api/v1/products", Some(admin), None, &[("host", "evil.example:80")]);
    assert_eq!(status, 421, "{answer}");
    let (status, _) = c.call_with("GET", "/health", None, None, &[("host", "localhost:1234")]);
    assert_eq!(status, 200);
}

#[test]
fn the_web_session_is_an_http_only_cookie_and_changes_need_its_csrf_token() {
    let mesh = mesh();
    let c = &mesh.client;
    let olivia = mesh.token("olivia");
    let mut response = c
        .agent
        .post(format!("{}/api/v1/session", c.base))
        .header("content-type", "application/json")
        .send(json!({"token": olivia}).to_string())
        .expect("sign in");
    assert_eq!(response.status().as_u16(), 200);
    let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok()).expect("a cookie").to_string();
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attribute), "{cookie}");
    }
    let answer: Value = serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap();
    let csrf = answer["csrfToken"].as_str().expect("csrf token").to_string();
    let session = cookie.split(';').next().unwrap().to_string();
    let (status, who) = c.call_with("GET", "/api/v1/session", None, None, &[("cookie", &session)]);
    assert_eq!((status, &who["identity"]["name"]), (200, &json!("olivia")));
    let topic = json!({"name": "customers.scratch"});
    let (status, answer) = c.call_with("POST", "/api/v1/topics", None, Some(&topic), &[("cookie", &session)]);
    assert_eq!(status, 403, "no CSRF token: {answer}");
    let (status, answer) =
        c.call_with("POST", "/api/v1/topics", None, Some(&topic), &[("cookie", &session), ("x-weft-csrf", &csrf)]);
    assert_eq!(status, 201, "{answer}");
    let (status, _) =
        c.call_with("DELETE", "/api/v1/session", None, None, &[("cookie", &session), ("x-weft-csrf", &csrf)]);
    assert_eq!(status, 204);
    let (status, _) = c.call_with("GET", "/api/v1/products", None, None, &[("cookie", &session)]);
    assert_eq!(status, 401, "signed out");
}

fn base64_encode(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A local webhook receiver: answers each request with the next status of `script` (then 200), and
/// hands over every request's headers and body.
/// One request a receiver got: its headers (lowercase names) and body.
type Received = (BTreeMap<String, String>, String);

fn receiver(script: Vec<u16>) -> (String, std::sync::mpsc::Receiver<Received>) {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut script = script.into_iter();
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = BTreeMap::new();
            let mut line = String::new();
            let _ = reader.read_line(&mut line);
            loop {
                line.clear();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                    break;
                }
                if let Some((name, value)) = line.trim().split_once(':') {
                    headers.insert(name.trim().to_ascii_lowercase(), value.trim().to_string());
                }
            }
            let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
            let mut body = vec![0u8; length];
            let _ = reader.read_exact(&mut body);
            let status = script.next().unwrap_or(200);
            let _ = write!(stream, "HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
            if tx.send((headers, String::from_utf8_lossy(&body).into_owned())).is_err() {
                return;
            }
        }
    });
    (url, rx)
}

#[test]
fn webhooks_are_signed_retried_logged_and_only_heard_by_those_who_may() {
    let mesh = mesh();
    let c = &mesh.client;
    let (olivia, mallory, casey) = (mesh.token("olivia"), mesh.token("mallory"), mesh.token("casey"));
    let (url, deliveries) = receiver(vec![500, 503]);
    let subscribe = json!({"url": url, "events": ["access.granted", "contract.violated", "product.deprecated"], "description": "grants"});
    let created = c.ok("POST", "/api/v1/webhooks", olivia, Some(&subscribe));
    let (id, secret) = (created["id"].as_str().unwrap().to_string(), created["secret"].as_str().unwrap().to_string());
    // Mallory subscribes too, elsewhere: access to customers' products is not hers to hear of.
    let (other_url, others) = receiver(vec![]);
    c.ok("POST", "/api/v1/webhooks", mallory, Some(&json!({"url": other_url, "events": ["access.granted"]})));
    let (status, answer) = c.call(
        "POST",
        "/api/v1/webhooks",
        Some(olivia),
        Some(&json!({"url": "ftp://x", "events": ["access.granted"]})),
    );
    assert_eq!(status, 422, "{answer}");
    let (status, answer) =
        c.call("POST", "/api/v1/webhooks", Some(olivia), Some(&json!({"url": url, "events": ["everything"]})));
    assert!(status == 422 && answer["message"].as_str().unwrap_or_default().contains("events[0]"), "{answer}");

    let request =
        c.ok("POST", "/api/v1/products/customers.profiles/access-requests", casey, Some(&json!({"purpose": "report"})));
    let request_id = request["id"].as_str().unwrap();
    c.ok("POST", &format!("/api/v1/access-requests/{request_id}/approve"), olivia, Some(&json!({})));

    // Two failures, then a success; each attempt signed over the same body.
    let mut attempts = Vec::new();
    for _ in 0..3 {
        attempts.push(deliveries.recv_timeout(Duration::from_secs(10)).expect("a delivery attempt"));
    }
    for (headers, body) in &attempts {
        assert_eq!(headers.get("weft-event").map(String::as_str), Some("access.granted"));
        let signature = headers.get("weft-signature").expect("signed");
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        weft_mesh_signature::verify(secret.as_bytes(), signature, body.as_bytes(), now, 300)
            .expect("the signature verifies");
        assert!(weft_mesh_signature::verify(b"wrong", signature, body.as_bytes(), now, 300).is_err());
        let event: Value = serde_json::from_str(body).expect("JSON");
        assert_eq!(event["data"]["requester"], "casey");
    }
    assert_eq!(attempts[0].0.get("weft-delivery"), attempts[2].0.get("weft-delivery"), "one event, three attempts");
    assert!(others.recv_timeout(Duration::from_millis(500)).is_err(), "mallory hears nothing of customers' grants");

    // The delivery log says so.
    let started = Instant::now();
    let log = loop {
        let log = c.ok("GET", &format!("/api/v1/webhooks/{id}/deliveries"), olivia, None);
        if log["deliveries"].as_array().is_some_and(|d| d.len() >= 3) || started.elapsed() > Duration::from_secs(5) {
            break log;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let attempts: Vec<(u64, bool)> = log["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["attempt"].as_u64().unwrap(), d["ok"].as_bool().unwrap()))
        .collect();
    assert_eq!(attempts, [(1, false), (2, false), (3, true)], "{log}");
    assert_eq!(c.call("GET", &format!("/api/v1/webhooks/{id}/deliveries"), Some(mallory), None).0, 404);

    // The test endpoint pings.
    let (status, queued) = c.call("POST", &format!("/api/v1/webhooks/{id}/test"), Some(olivia), Some(&json!({})));
    assert_eq!(status, 202, "{queued}");
    let (headers, _) = deliveries.recv_timeout(Duration::from_secs(10)).expect("the ping");
    assert_eq!(headers.get("weft-event").map(String::as_str), Some("ping"));

    // Records that break the port's schema: the owners hear of it (once, however many writes).
    let schema = json!({"schemaType": "JSON", "schema": json!({"type": "object", "required": ["email"]}).to_string()});
    c.ok("POST", "/registry/subjects/customers.profiles-v1-value/versions", olivia, Some(&schema));
    for _ in 0..3 {
        let (status, answer) = c.call(
            "POST",
            "/api/v1/topics/customers.profiles-v1/records",
            Some(olivia),
            Some(&json!([{"value": {"id": "c9"}}])),
        );
        assert_eq!(status, 422, "{answer}");
    }
    let (headers, body) = deliveries.recv_timeout(Duration::from_secs(10)).expect("the violation");
    assert_eq!(headers.get("weft-event").map(String::as_str), Some("contract.violated"));
    let event: Value = serde_json::from_str(&body).expect("JSON");
    assert_eq!(
        (&event["data"]["product"], &event["data"]["fate"]),
        (&json!("customers.profiles"), &json!("rejected")),
        "{event}"
    );
    assert!(deliveries.recv_timeout(Duration::from_millis(500)).is_err(), "one event a minute per product");
    c.ok("DELETE", &format!("/api/v1/webhooks/{id}"), olivia, None);
    assert!(c.ok("GET", "/api/v1/webhooks", olivia, None)["webhooks"].as_array().unwrap().is_empty());
}

#[test]
fn a_grant_with_an_expiry_ends_by_itself() {
    let mesh = mesh();
    let c = &mesh.client;
    let (olivia, casey) = (mesh.token("olivia"), mesh.token("casey"));
    let request =
        c.ok("POST", "/api/v1/products/customers.profiles/access-requests", casey, Some(&json!({"purpose": "a look"})));
    let id = request["id"].as_str().unwrap().to_string();
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let (status, answer) = c.call(
        "POST",
        &format!("/api/v1/access-requests/{id}/approve"),
        Some(olivia),
        Some(&json!({"expiresAt": now - 1})),
    );
    assert_eq!(status, 422, "an expiry in the past: {answer}");
    let approved =
        c.ok("POST", &format!("/api/v1/access-requests/{id}/approve"), olivia, Some(&json!({"expiresAt": now + 1500})));
    assert_eq!(approved["expiresAt"], now + 1500);
    assert_eq!(c.call("GET", "/api/v1/products/customers.profiles/sample", Some(casey), None).0, 200);
    // Past the expiry (and the second read decisions are reused for), the grant reads nothing.
    std::thread::sleep(Duration::from_millis(2700));
    let (status, answer) = c.call("GET", "/api/v1/products/customers.profiles/sample", Some(casey), None);
    assert_eq!(status, 403, "{answer}");
}

#[test]
fn a_push_query_ends_within_seconds_of_its_readers_revocation() {
    let mesh = mesh();
    let c = &mesh.client;
    let (olivia, gina) = (mesh.token("olivia"), mesh.token("gina"));
    let create = json!({"ksql": "CREATE STREAM profiles (id VARCHAR, email VARCHAR) WITH (kafka_topic='customers.profiles-v1', value_format='JSON');", "streamsProperties": {}});
    assert_eq!(c.call("POST", "/ksql", Some(olivia), Some(&create)).0, 200);
    let (tx, rx) = std::sync::mpsc::channel();
    let url = format!("{}/query-stream", c.base);
    let token = gina.to_string();
    std::thread::spawn(move || {
        let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
        let query =
            json!({"sql": "SELECT ID FROM PROFILES EMIT CHANGES;", "properties": {"auto.offset.reset": "earliest"}});
        let response = agent
            .post(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .header("accept", "application/vnd.ksqlapi.delimited.v1")
            .send(query.to_string());
        let Ok(response) = response else { return };
        let _ = tx.send(format!("status {}", response.status().as_u16()));
        let mut reader = std::io::BufReader::new(response.into_body().into_reader());
        let mut line = String::new();
        while std::io::BufRead::read_line(&mut reader, &mut line).unwrap_or(0) > 0 {
            let _ = tx.send(line.trim_end().to_string());
            line.clear();
        }
        let _ = tx.send("<end>".to_string());
    });
    let mut seen = Vec::new();
    let started = Instant::now();
    while seen.iter().filter(|l: &&String| l.contains("\"c")).count() < 2 && started.elapsed() < Duration::from_secs(15)
    {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(line);
        }
    }
    assert_eq!(seen.first().map(String::as_str), Some("status 200"), "{seen:?}");
    assert_eq!(seen.iter().filter(|l| l.contains("\"c")).count(), 2, "gina reads both rows: {seen:?}");
    let requests = c.ok("GET", "/api/v1/access-requests?product=customers.profiles&status=approved", olivia, None);
    let id = requests["requests"][0]["id"].as_str().expect("the grant").to_string();
    c.ok("POST", &format!("/api/v1/access-requests/{id}/revoke"), olivia, Some(&json!({})));
    let revoked = Instant::now();
    let mut ended = None;
    while revoked.elapsed() < Duration::from_secs(10) {
        match rx.recv_timeout(Duration::from_millis(200)) {
            Ok(line) if line == "<end>" || line.contains("no grant") || line.contains("error") => {
                ended = Some(line);
                break;
            }
            _ => {}
        }
    }
    assert!(ended.is_some(), "the push query still runs 10 s after the revocation");
    // The statement that made the stream is in the audit log, with its text.
    let audit = c.ok("GET", "/api/v1/audit?action=%2Fksql&principal=olivia", mesh.token("admin"), None);
    let entries = audit["entries"].as_array().expect("entries");
    assert!(
        entries.iter().any(|e| e["detail"].as_str().is_some_and(|d| d.contains("CREATE STREAM profiles"))),
        "{audit}"
    );
    assert!(revoked.elapsed() < Duration::from_secs(6), "it ended {:?} after the revocation", revoked.elapsed());
}

#[test]
fn each_principal_is_held_to_the_rate_limit() {
    let server = TestServer::start_with(|config| {
        config.auth = weft_server::AuthMode::Tokens;
        config.rate_limit = 5;
    });
    let admin = server.server.as_ref().and_then(|s| s.bootstrap_token()).expect("admin token").to_string();
    let c = Client::new(&server.api.base);
    let created = c.ok("POST", "/api/v1/tokens", &admin, Some(&json!({"principal": "admin"})));
    let statuses: Vec<u16> = (0..15).map(|_| c.call("GET", "/api/v1/topics", Some(&admin), None).0).collect();
    let refused = statuses.iter().filter(|s| **s == 429).count();
    assert!((3..=6).contains(&refused), "a burst of 10 passes, then about 5 per second: {statuses:?}");
    let (status, answer) = c.call("GET", "/api/v1/topics", Some(&admin), None);
    assert_eq!((status, answer["error_code"].as_u64()), (429, Some(42901)), "{answer}");
    // Health is nobody's: never limited.
    assert!((0..20).all(|_| c.call("GET", "/health", None, None).0 == 200));
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(c.call("GET", "/api/v1/topics", Some(created["token"].as_str().unwrap()), None).0, 200, "refilled");
}
