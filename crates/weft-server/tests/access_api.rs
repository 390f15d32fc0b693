//! Access requests and grants over real HTTP: request, list by role, decide, grants, restart.

mod common;

use common::{Api, TestServer};
use serde_json::{json, Value};

fn as_user(api: &Api, user: &str, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
    let bytes = body.map(Value::to_string);
    let reply = api.send(
        method,
        path,
        &[("content-type", "application/json"), ("x-weft-actor", user)],
        bytes.as_deref().map(str::as_bytes),
    );
    let value = if reply.body.is_empty() { Value::Null } else { reply.json() };
    (reply.status, value)
}

fn ids(body: &Value, field: &str) -> Vec<String> {
    body[field].as_array().expect("array").iter().map(|r| r["id"].as_str().unwrap_or_default().to_string()).collect()
}

#[test]
fn consumers_request_and_owners_decide() {
    let mut server = TestServer::start();
    let api = &server.api;
    let domain = json!({"name": "sales", "owningTeam": "team-sales",
                        "members": [{"user": "alice", "role": "owner"}, {"user": "bob", "role": "member"}]});
    assert_eq!(api.post("/api/v1/domains", &domain).0, 201);
    let product = json!({"id": "sales.orders", "name": "Orders", "owner": "alice"});
    assert_eq!(as_user(api, "alice", "POST", "/api/v1/products", Some(&product)).0, 201);

    let path = "/api/v1/products/sales.orders/access-requests";
    let (status, r1) =
        as_user(api, "dave", "POST", path, Some(&json!({"purpose": "Revenue report", "consumer": "finance"})));
    assert_eq!(status, 201, "{r1}");
    assert_eq!(
        (&r1["id"], &r1["requester"], &r1["status"], &r1["consumer"]),
        (&json!("ar-1"), &json!("dave"), &json!("pending"), &json!("finance"))
    );
    let (status, body) = as_user(api, "dave", "POST", path, Some(&json!({"purpose": "again"})));
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40904)), "{body}");
    let (status, body) = as_user(api, "dave", "POST", path, Some(&json!({})));
    assert_eq!(status, 422, "{body}");
    let (status, body) =
        as_user(api, "dave", "POST", "/api/v1/products/sales.nope/access-requests", Some(&json!({"purpose": "x"})));
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40404)), "{body}");
    let (status, _) = as_user(api, "erin", "POST", path, Some(&json!({"purpose": "Fraud model"})));
    assert_eq!(status, 201);

    // Listing: by requester, by approver (what they may decide), by status and product.
    assert_eq!(ids(&api.get("/api/v1/access-requests?requester=dave").1, "requests"), ["ar-1"]);
    assert_eq!(ids(&api.get("/api/v1/access-requests?approver=alice&status=pending").1, "requests"), ["ar-1", "ar-2"]);
    assert!(ids(&api.get("/api/v1/access-requests?approver=bob").1, "requests").is_empty());
    assert_eq!(ids(&api.get("/api/v1/access-requests?product=sales.orders").1, "requests").len(), 2);
    let (status, body) = api.get("/api/v1/access-requests?status=granted");
    assert_eq!((status, body["error_code"].as_u64()), (422, Some(42201)), "{body}");

    // Only owners decide; decisions follow the status.
    let (status, body) = as_user(api, "bob", "POST", "/api/v1/access-requests/ar-1/approve", None);
    assert_eq!((status, body["error_code"].as_u64()), (403, Some(40304)), "{body}");
    let (status, body) = as_user(api, "alice", "POST", "/api/v1/access-requests/ar-1/approve", None);
    assert_eq!(status, 200, "{body}");
    assert_eq!((&body["status"], &body["decidedBy"]), (&json!("approved"), &json!("alice")));
    assert!(body["decidedAt"].is_i64(), "{body}");
    let (status, body) =
        as_user(api, "alice", "POST", "/api/v1/access-requests/ar-2/deny", Some(&json!({"reason": "no PII"})));
    assert_eq!((status, &body["reason"]), (200, &json!("no PII")), "{body}");
    let (status, body) = as_user(api, "alice", "POST", "/api/v1/access-requests/ar-2/approve", None);
    assert_eq!((status, body["error_code"].as_u64()), (409, Some(40904)), "{body}");
    let (status, body) = as_user(api, "alice", "POST", "/api/v1/access-requests/ar-7/revoke", None);
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40406)), "{body}");
    let (status, body) =
        as_user(api, "alice", "POST", "/api/v1/access-requests/ar-1/deny", Some(&json!({"colour": "red"})));
    assert_eq!(status, 422, "{body}");

    let (status, body) = api.get("/api/v1/products/sales.orders/grants");
    assert_eq!(status, 200);
    assert_eq!(ids(&body, "grants"), ["ar-1"]);
    let (_, history) = api.get("/api/v1/products/sales.orders/history");
    let changes = history["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|h| h["changed"] == json!(["accessRequests"]))
        .count();
    assert_eq!(changes, 4, "{history}");

    // Everything survives a restart; then the grant is revoked.
    server.restart();
    let api = &server.api;
    assert_eq!(ids(&api.get("/api/v1/products/sales.orders/grants").1, "grants"), ["ar-1"]);
    let (status, body) =
        as_user(api, "alice", "POST", "/api/v1/access-requests/ar-1/revoke", Some(&json!({"reason": "project ended"})));
    assert_eq!((status, &body["status"]), (200, &json!("revoked")), "{body}");
    assert!(ids(&api.get("/api/v1/products/sales.orders/grants").1, "grants").is_empty());
    let (status, body) = api.get("/api/v1/products/sales.nope/grants");
    assert_eq!((status, body["error_code"].as_u64()), (404, Some(40404)), "{body}");
}
