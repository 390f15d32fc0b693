//! Two servers on one log, as on one Kafka cluster, in one process: the follower relays ordered
//! writes to the leader ([`weft_server::forward`]). Here the writes are the web app's, signed with
//! a session cookie that only the follower knows: the follower checks the session and its CSRF
//! token, and the leader receives the session's credential, decides, and audits the change under
//! the person who made it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};
use weft_server::forward::Leadership;
use weft_server::weft_mesh::log::{EmbeddedLog, EventLog};
use weft_server::{AuthMode, BackgroundServer};

/// Leadership as the test sets it: the leader's URL, once it runs.
struct Fixed {
    leader: Mutex<Option<String>>,
    identity: String,
}

impl Leadership for Fixed {
    fn is_leader(&self) -> bool {
        false
    }
    fn leader(&self) -> Option<String> {
        self.leader.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn identity(&self) -> String {
        self.identity.clone()
    }
}

struct Answer {
    status: u16,
    body: Value,
    leader: Option<String>,
    cookie: Option<String>,
}

fn call(base: &str, method: &str, path: &str, body: Option<&Value>, headers: &[(&str, &str)]) -> Answer {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(format!("{base}{path}"));
    request = request.header("host", "localhost");
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
    let mut response = agent.run(request.body(bytes).expect("request")).expect("HTTP exchange");
    let header = |name: &str| response.headers().get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
    let (leader, cookie) = (header("x-weft-leader"), header("set-cookie"));
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().unwrap_or_default();
    Answer { status, body: serde_json::from_str(&text).unwrap_or(Value::String(text)), leader, cookie }
}

#[test]
fn a_web_session_on_the_follower_changes_the_mesh_through_the_leader() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = common::test_config(dir.path());
    config.auth = AuthMode::Tokens;
    let log: Arc<dyn EventLog> = EmbeddedLog::open(config.log_options()).expect("the shared log");
    let leader = BackgroundServer::start_on(config.clone(), log.clone()).expect("the leader starts");
    let token = leader.bootstrap_token().expect("the bootstrap admin's token").to_string();
    let leadership = Arc::new(Fixed { leader: Mutex::new(Some(leader.url())), identity: "follower".into() });
    let follower = BackgroundServer::start_relaying(config, log, leadership).expect("the follower starts");

    // Signing in is the follower's own business: the session lives there.
    let signed_in = call(&follower.url(), "POST", "/api/v1/session", Some(&json!({"token": token})), &[]);
    assert_eq!(signed_in.status, 200, "{}", signed_in.body);
    assert_eq!(signed_in.leader, None, "not relayed");
    let cookie = signed_in.cookie.expect("a session cookie");
    let session = cookie.split(';').next().expect("the cookie's value").to_string();
    let csrf = signed_in.body["csrfToken"].as_str().expect("a CSRF token").to_string();

    // A change without the CSRF token is refused by the follower, and not relayed.
    let domain = json!({"name": "sales", "owningTeam": "team-sales", "members": [{"user": "admin", "role": "owner"}]});
    let refused = call(&follower.url(), "POST", "/api/v1/domains", Some(&domain), &[("cookie", &session)]);
    assert_eq!((refused.status, refused.leader.as_deref()), (403, None), "{}", refused.body);

    // With it, the change is decided by the leader and read back from the follower at once.
    let created = call(
        &follower.url(),
        "POST",
        "/api/v1/domains",
        Some(&domain),
        &[("cookie", &session), ("x-weft-csrf", &csrf)],
    );
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.leader.as_deref(), Some(leader.url().as_str()), "relayed to the leader");
    let listed = call(&follower.url(), "GET", "/api/v1/domains", None, &[("cookie", &session)]);
    assert!(listed.body.to_string().contains("\"sales\""), "{}", listed.body);

    // The leader audited it under the person behind the session.
    let bearer = format!("Bearer {token}");
    let audit = call(&leader.url(), "GET", "/api/v1/audit?limit=100", None, &[("authorization", &bearer)]);
    assert_eq!(audit.status, 200, "{}", audit.body);
    let entries = audit.body["entries"].as_array().cloned().unwrap_or_default();
    let entry = entries
        .iter()
        .find(|e| e["action"] == "POST /api/v1/domains" && e["outcome"] == "ok")
        .unwrap_or_else(|| panic!("no audit entry of the domain's creation: {}", audit.body));
    assert_eq!(entry["principal"], "admin", "{entry}");

    // A session the follower does not know is refused there.
    let stranger = call(
        &follower.url(),
        "POST",
        "/api/v1/domains",
        Some(&domain),
        &[("cookie", "weft_session=not-a-session"), ("x-weft-csrf", &csrf)],
    );
    assert_eq!((stranger.status, stranger.leader.as_deref()), (401, None), "{}", stranger.body);

    drop(follower);
    drop(leader);
}
