//! Writes that need one order go to one server: when several servers share a Kafka cluster, a
//! server that does not lead forwards every change of the platform's state (schemas, catalog,
//! contracts, grants, identities, SQL statements that change the SQL catalog) to the server that
//! does, and answers with the leader's answer. Data writes (records, `/inserts-stream`, consumer
//! positions), reads (pull and push queries too), sign-in and checks stay on the server that
//! received them.
//!
//! Who leads is decided elsewhere (the Kafka backend's election); this module sees only
//! [`Leadership`]. The leader checks a forwarded request exactly as one sent to it directly
//! (host, credential, scope, authorization) and audits it; the follower only relays. A forwarded
//! request carries [`FORWARDED_HEADER`], and a server that receives one without leading (the
//! leadership moved while it was on its way) refuses it with 503 rather than forwarding again.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth;
use crate::error::{ApiError, ErrorCode};

/// Marks a request a follower forwarded (its value: the follower's identity).
pub const FORWARDED_HEADER: &str = "x-weft-forwarded-by";
/// Names, on a forwarded request's answer, the leader that answered it.
pub const LEADER_HEADER: &str = "x-weft-leader";

/// Who leads among the servers sharing the platform's log.
pub trait Leadership: Send + Sync {
    /// Whether this server leads now.
    fn is_leader(&self) -> bool;
    /// The base URL of the leader (`http://host:port`), when one has announced itself.
    fn leader(&self) -> Option<String>;
    /// This server's own base URL, as it announces it when it leads.
    fn identity(&self) -> String;
}

/// How long a forwarded request may take (a registration or a SQL statement, not a stream).
const FORWARD_TIMEOUT: Duration = Duration::from_secs(60);

/// Relays ordered writes to the leader.
pub struct Forwarder {
    leadership: Arc<dyn Leadership>,
    agent: ureq::Agent,
}

/// What to do with a request.
pub(crate) enum Route {
    /// Handle it here.
    Here,
    /// Relay it to the leader.
    ToLeader,
    /// Refuse it: it was forwarded here, and this server no longer leads.
    Moved,
    /// Refuse it: its body is larger than the server takes.
    TooLarge,
}

impl Route {
    pub(crate) fn is_here(&self) -> bool {
        matches!(self, Route::Here)
    }
}

impl Forwarder {
    pub fn new(leadership: Arc<dyn Leadership>) -> Self {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(FORWARD_TIMEOUT))
            .build()
            .into();
        Forwarder { leadership, agent }
    }

    /// Where `request` goes. A `POST /ksql` is relayed only when its statements change the SQL
    /// catalog, which takes reading its body (up to `max_body_bytes`): the request comes back
    /// whole, to be handled here or relayed.
    pub(crate) async fn route(&self, request: Request, max_body_bytes: usize) -> (Route, Request) {
        if self.leadership.is_leader() {
            return (Route::Here, request);
        }
        let (ordered, request) = if request.method() == Method::POST && request.uri().path() == "/ksql" {
            let (parts, body) = request.into_parts();
            let Ok(body) = axum::body::to_bytes(body, max_body_bytes).await else {
                return (Route::TooLarge, Request::from_parts(parts, Body::empty()));
            };
            let ordered = serde_json::from_slice::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("ksql").and_then(|k| k.as_str()).map(weft_mesh::weft_sql::text_changes_catalog))
                .unwrap_or(false);
            (ordered, Request::from_parts(parts, Body::from(body)))
        } else {
            (is_ordered_write(request.method(), request.uri().path()), request)
        };
        let route = match (ordered, request.headers().contains_key(FORWARDED_HEADER)) {
            (false, _) => Route::Here,
            (true, true) => Route::Moved,
            (true, false) => Route::ToLeader,
        };
        (route, request)
    }

    /// Sends `request` (its body up to `max_body_bytes`) to the leader and returns its answer.
    /// `session_credential`: the request was signed with a web session, which lives in this server
    /// alone; it was checked here (session, CSRF token, origin), and the leader receives the
    /// credential the session was opened with instead of the cookie.
    pub(crate) async fn forward(
        self: &Arc<Self>,
        request: Request,
        max_body_bytes: usize,
        session_credential: Option<String>,
    ) -> Response {
        let Some(leader) = self.leadership.leader().filter(|leader| *leader != self.leadership.identity()) else {
            return unavailable("no leader is known yet among the servers of this mesh: retry in a moment");
        };
        let (parts, body) = request.into_parts();
        let Ok(body) = axum::body::to_bytes(body, max_body_bytes).await else {
            return ApiError::new(
                ErrorCode::TooLarge,
                "the request body is larger than the server's limit (max_body_bytes)".to_string(),
            )
            .into_response();
        };
        let path_and_query = parts.uri.path_and_query().map_or("/", |p| p.as_str());
        let url = format!("{}{path_and_query}", leader.trim_end_matches('/'));
        let mut outgoing = axum::http::Request::builder().method(parts.method.clone()).uri(&url);
        let replaced = |name: &HeaderName| {
            session_credential.is_some()
                && (name == axum::http::header::COOKIE || name.as_str() == auth::CSRF_HEADER || name == "authorization")
        };
        for (name, value) in &parts.headers {
            if !is_hop_by_hop(name) && !replaced(name) {
                outgoing = outgoing.header(name, value);
            }
        }
        if let Some(credential) = &session_credential {
            outgoing = outgoing.header(axum::http::header::AUTHORIZATION, format!("Bearer {credential}"));
        }
        outgoing = outgoing.header(FORWARDED_HEADER, self.leadership.identity());
        // One request id on both servers, so their log lines and the audit entry meet.
        if !parts.headers.contains_key(crate::REQUEST_ID_HEADER) {
            if let Some(id) = parts.extensions.get::<crate::RequestId>() {
                outgoing = outgoing.header(crate::REQUEST_ID_HEADER, &id.0);
            }
        }
        let Ok(outgoing) = outgoing.body(body.to_vec()) else {
            return unavailable(&format!("cannot forward this request to the leader at {leader}"));
        };
        let forwarder = self.clone();
        let answer = tokio::task::spawn_blocking(move || {
            let response = forwarder.agent.run(outgoing)?;
            let (parts, mut body) = response.into_parts();
            let bytes = body.read_to_vec()?;
            Ok::<_, ureq::Error>((parts, bytes))
        })
        .await;
        match answer {
            Ok(Ok((parts, bytes))) => {
                let mut response = Response::new(Body::from(bytes));
                *response.status_mut() = parts.status;
                for (name, value) in &parts.headers {
                    if !is_hop_by_hop(name) && name != axum::http::header::CONTENT_LENGTH {
                        response.headers_mut().append(name, value.clone());
                    }
                }
                if let Ok(value) = HeaderValue::from_str(&leader) {
                    response.headers_mut().insert(HeaderName::from_static(LEADER_HEADER), value);
                }
                response
            }
            Ok(Err(e)) => unavailable(&format!("the leader at {leader} did not answer ({e}): retry in a moment")),
            Err(e) => unavailable(&format!("forwarding to the leader failed: {e}")),
        }
    }
}

/// Whether the request signs in with a web session rather than a token: sessions live in the server
/// that made them, so the leader would not know it, and the session is checked here before the
/// request is relayed with its credential ([`Forwarder::forward`]).
pub(crate) fn signed_in_by_session(headers: &axum::http::HeaderMap) -> bool {
    !headers.contains_key(axum::http::header::AUTHORIZATION)
        && headers
            .get_all(axum::http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| weft_mesh::auth::credentials::cookie(value, auth::SESSION_COOKIE).is_some())
}

/// 503 with `Retry-After: 1`: the leadership is moving, or the leader is out of reach.
pub(crate) fn unavailable(message: &str) -> Response {
    let mut response = ApiError::new(ErrorCode::Unavailable, message.to_string()).into_response();
    *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from_static("1"));
    response
}

/// Headers of one connection, not of the request (RFC 9110 section 7.6.1), and the length,
/// which the client recomputes. `Host` is kept: the leader checks the name the caller used against
/// its allowed hosts, as it would had the caller asked it directly.
fn is_hop_by_hop(name: &HeaderName) -> bool {
    matches!(
        name.as_str(),
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
    )
}

/// Whether a request changes state that must be decided in one order: every change but data
/// writes (ordered by their partitions), sign-in and sign-out (sessions live in the server that
/// made them), topics, and webhook tests. `POST /ksql` is decided by its statements
/// ([`Forwarder::route`]).
pub fn is_ordered_write(method: &Method, path: &str) -> bool {
    auth::is_change(method, path)
        && !auth::is_data_write(path)
        && path != "/api/v1/session"
        && path != "/ksql"
        // Topics are the cluster's: Kafka orders their creation and deletion itself.
        && !path.starts_with("/api/v1/topics")
        && !(path.starts_with("/api/v1/webhooks/") && path.ends_with("/test"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platform_changes_are_ordered_and_data_writes_reads_and_sessions_are_not() {
        let post = Method::POST;
        for path in [
            "/registry/subjects/orders-value/versions",
            "/api/v1/domains",
            "/api/v1/products/sales.orders/publish",
            "/api/v1/contracts",
            "/api/v1/tokens",
            "/api/v1/products/sales.orders/sql-source",
        ] {
            assert!(is_ordered_write(&post, path), "{path}");
        }
        assert!(is_ordered_write(&Method::PUT, "/registry/config/orders-value"));
        assert!(is_ordered_write(&Method::DELETE, "/api/v1/users/bob"));
        for path in [
            "/api/v1/topics/orders/records",
            "/api/v1/groups/g/offsets",
            "/inserts-stream",
            "/query",
            "/query-stream",
            "/close-query",
            "/api/v1/session",
            "/api/v1/topics",
            "/api/v1/webhooks/w-1/test",
            "/api/v1/sql/validate",
            "/api/v1/products:check",
            "/ksql",
            "/registry/subjects/orders-value",
            "/registry/compatibility/subjects/orders-value/versions",
        ] {
            assert!(!is_ordered_write(&post, path), "{path}");
        }
        assert!(!is_ordered_write(&Method::GET, "/api/v1/domains"));
    }

    #[test]
    fn a_session_cookie_is_told_from_a_token() {
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_static("theme=dark; weft_session=abc"));
        assert!(signed_in_by_session(&headers));
        headers.insert(axum::http::header::AUTHORIZATION, HeaderValue::from_static("Bearer wft_x"));
        assert!(!signed_in_by_session(&headers));
        let mut headers = axum::http::HeaderMap::new();
        headers.insert(axum::http::header::COOKIE, HeaderValue::from_static("theme=dark"));
        assert!(!signed_in_by_session(&headers));
    }
}
