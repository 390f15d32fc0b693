//! The REST handlers, grouped by resource, and the extractors they share.
//!
//! The extractors here replace axum's own so that every rejection (a path that does not decode, a bad
//! query parameter, a body over the limit, malformed JSON) is an [`ApiError`] with a message that says
//! which parameter or field is wrong.

pub mod access;
pub mod audit;
pub mod context;
pub mod contracts;
pub mod dead_letters;
pub mod domains;
pub mod from_sql;
pub mod governance;
pub mod groups;
pub mod insights;
pub mod ksql;
pub mod openapi;
pub mod product_data;
pub mod product_sql;
pub mod products;
pub mod records;
pub mod registry;
pub mod security;
pub mod sql_check;
pub mod topics;
pub mod webhooks;

use crate::error::{ApiError, ErrorCode};
use crate::AppState;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::http::{HeaderMap, Method, StatusCode};
use axum::routing::{self, MethodRouter};
use axum::Router;
use serde::de::DeserializeOwned;
use weft_mesh::{Mesh, MeshError};

pub use context::Ctx;

/// Every route under `/api/v1`. The OpenAPI document must describe exactly these (a test checks it).
pub fn v1() -> ApiRoutes {
    ApiRoutes::new()
        .get("/api/v1/topics", topics::list)
        .post("/api/v1/topics", topics::create)
        .get("/api/v1/topics/{topic}", topics::describe)
        .delete("/api/v1/topics/{topic}", topics::delete)
        .get("/api/v1/topics/{topic}/records", records::consume)
        .post("/api/v1/topics/{topic}/records", records::produce)
        .get("/api/v1/topics/{topic}/records/stream", records::stream)
        .get("/api/v1/groups/{group}/offsets", groups::list)
        .post("/api/v1/groups/{group}/offsets", groups::commit)
        .get("/api/v1/openapi.json", openapi::serve)
        .get("/api/v1/domains", domains::list)
        .post("/api/v1/domains", domains::create)
        .get("/api/v1/domains/{name}", domains::get)
        .put("/api/v1/domains/{name}", domains::update)
        .delete("/api/v1/domains/{name}", domains::delete)
        .get("/api/v1/domains/{name}/history", domains::history)
        .get("/api/v1/domains/{name}/products", domains::products)
        .get("/api/v1/products", products::list)
        .post("/api/v1/products", products::create)
        .post("/api/v1/products:apply", products::apply)
        .post("/api/v1/products:check", products::check)
        .get("/api/v1/products/search", products::search)
        .post("/api/v1/products/from-sql", from_sql::from_sql)
        .post("/api/v1/products/{id}/access-requests", access::request)
        .get("/api/v1/products/{id}/grants", access::grants)
        .get("/api/v1/access-requests", access::list)
        .post("/api/v1/access-requests/{req}/approve", access::approve)
        .post("/api/v1/access-requests/{req}/deny", access::deny)
        .post("/api/v1/access-requests/{req}/revoke", access::revoke)
        .get("/api/v1/products/{id}", products::get)
        .put("/api/v1/products/{id}", products::update)
        .delete("/api/v1/products/{id}", products::delete)
        .post("/api/v1/products/{id}/publish", products::publish)
        .post("/api/v1/products/{id}/deprecate", products::deprecate)
        .post("/api/v1/products/{id}/retire", products::retire)
        .get("/api/v1/products/{id}/history", products::history)
        .get("/api/v1/products/{id}/odps", products::export_odps)
        .put("/api/v1/products/{id}/odps", products::import_odps)
        .get("/api/v1/products/{id}/lineage/upstream", products::upstream)
        .get("/api/v1/products/{id}/lineage/downstream", products::downstream)
        .get("/api/v1/products/{id}/lineage/fields", products::field_lineage)
        .put("/api/v1/products/{id}/lineage/fields", products::set_field_lineage)
        .get("/api/v1/products/{id}/impact", products::impact)
        .get("/api/v1/products/{id}/sample", product_data::sample)
        .get("/api/v1/products/{id}/records", product_data::records)
        .get("/api/v1/products/{id}/records/stream", product_data::stream)
        .get("/api/v1/products/{id}/export", product_data::export)
        .get("/api/v1/products/{id}/profile", insights::profile)
        .get("/api/v1/products/{id}/stats", insights::stats)
        .get("/api/v1/contracts", contracts::list)
        .post("/api/v1/contracts", contracts::apply)
        .get("/api/v1/contracts/{id}", contracts::get)
        .get("/api/v1/contracts/{id}/odcs", contracts::export)
        .get("/api/v1/contracts/{id}/test", contracts::test)
        .get("/api/v1/products/{id}/contract", contracts::product_contract)
        .put("/api/v1/products/{id}/contract", contracts::attach)
        .delete("/api/v1/products/{id}/contract", contracts::detach)
        .get("/api/v1/products/{id}/governance", dead_letters::get)
        .put("/api/v1/products/{id}/governance", dead_letters::set)
        .get("/api/v1/products/{id}/dead-letters", dead_letters::list)
        .post("/api/v1/products/{id}/dead-letters:replay", dead_letters::replay)
        .post("/api/v1/products/{id}/dead-letters:drop", dead_letters::drop)
        .get("/api/v1/products/{id}/schema", governance::product_schema)
        .post("/api/v1/products/{id}/sql-source", product_sql::ensure)
        .get("/api/v1/sql/sources", product_sql::list)
        .get("/api/v1/governance/violations", governance::violations)
        .get("/api/v1/governance/policies", governance::policies)
        .put("/api/v1/governance/policies", governance::set_policies)
        .get("/api/v1/governance/dead-letters", governance::contract_failures)
        .get("/api/v1/history", audit::history)
        .post("/api/v1/sql/validate", sql_check::validate)
        .get("/api/v1/session", security::whoami)
        .post("/api/v1/session", security::sign_in)
        .delete("/api/v1/session", security::sign_out)
        .get("/api/v1/session/oidc", security::oidc_start)
        .get("/api/v1/session/oidc/callback", security::oidc_callback)
        .get("/api/v1/users", security::list_users)
        .get("/api/v1/users/{name}", security::get_user)
        .put("/api/v1/users/{name}", security::put_user)
        .delete("/api/v1/users/{name}", security::delete_user)
        .get("/api/v1/tokens", security::list_tokens)
        .post("/api/v1/tokens", security::create_token)
        .delete("/api/v1/tokens/{id}", security::revoke_token)
        .get("/api/v1/audit", security::audit)
        .get("/api/v1/audit/stream", security::audit_stream)
        .get("/api/v1/webhooks", webhooks::list)
        .post("/api/v1/webhooks", webhooks::create)
        .delete("/api/v1/webhooks/{id}", webhooks::delete)
        .get("/api/v1/webhooks/{id}/deliveries", webhooks::deliveries)
        .post("/api/v1/webhooks/{id}/test", webhooks::test)
}

/// A router that remembers the method and path of every route it was given, so the routes can be
/// compared with the OpenAPI document.
pub struct ApiRoutes {
    router: Router<AppState>,
    routes: Vec<(Method, &'static str)>,
}

impl Default for ApiRoutes {
    fn default() -> Self {
        Self::new()
    }
}

impl ApiRoutes {
    pub fn new() -> Self {
        ApiRoutes { router: Router::new(), routes: Vec::new() }
    }

    fn add(mut self, method: Method, path: &'static str, route: MethodRouter<AppState>) -> Self {
        // Routing one path twice merges the methods.
        self.router = self.router.route(path, route);
        self.routes.push((method, path));
        self
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::GET, path, routing::get(handler))
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::POST, path, routing::post(handler))
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::PUT, path, routing::put(handler))
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(self, path: &'static str, handler: H) -> Self {
        self.add(Method::DELETE, path, routing::delete(handler))
    }

    pub fn merge(mut self, other: ApiRoutes) -> Self {
        self.router = self.router.merge(other.router);
        self.routes.extend(other.routes);
        self
    }

    /// The routes, in the order they were added.
    pub fn routes(&self) -> &[(Method, &'static str)] {
        &self.routes
    }

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// Runs a mesh call on the blocking pool (mesh calls append to the log and may wait on fsync).
pub(crate) async fn call<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&Mesh) -> Result<T, MeshError> + Send + 'static,
    T: Send + 'static,
{
    let mesh = state.mesh.clone();
    match tokio::task::spawn_blocking(move || f(&mesh)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(e) => Err(ApiError::new(ErrorCode::Internal, format!("a platform call failed: {e}"))),
    }
}

/// The request body as bytes, within the configured body limit.
pub struct RawBody(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(request, state).await {
            Ok(bytes) => Ok(RawBody(bytes)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(ApiError::new(
                ErrorCode::TooLarge,
                "the request body is larger than the server's limit (max_body_bytes)".to_string(),
            )),
            Err(rejection) => {
                Err(ApiError::invalid(format!("cannot read the request body: {}", rejection.body_text())))
            }
        }
    }
}

/// A JSON body; errors name the field path (`offsets[2].partition`) and serde's line and column.
pub struct JsonBody<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let RawBody(bytes) = RawBody::from_request(request, state).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Deserializes `bytes`, naming the path of the offending field when there is one.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // Tracking the path costs about a tenth of a produce request's time, and only a refusal needs
    // it: a body that parses is parsed once, a bad one a second time to say where it went wrong.
    if let Ok(value) = serde_json::from_slice(bytes) {
        return Ok(value);
    }
    let deserializer = &mut serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(deserializer).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let mut error = ApiError::from_json(&inner);
        if path != "." && inner.classify() == serde_json::error::Category::Data {
            // The path says where, for people and (as `field`) for forms; serde_json's "at line L
            // column C" would say it again, less readably.
            let text = inner.to_string();
            let position = format!(" at line {} column {}", inner.line(), inner.column());
            error.message =
                format!("invalid request body at {path}: {}", text.strip_suffix(&position).unwrap_or(&text));
            error.field = Some(path);
        }
        error
    })?;
    Ok(value)
}

/// Query parameters; unknown parameters and bad values are 422 errors naming the parameter.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match Query::<T>::try_from_uri(&parts.uri) {
            Ok(Query(params)) => Ok(QueryParams(params)),
            Err(rejection) => Err(ApiError::invalid(format!("invalid query: {}", rejection.body_text()))),
        }
    }
}

/// The one path parameter of a route (a topic or group name), percent-decoded.
pub struct PathParam(pub String);

impl<S: Send + Sync> FromRequestParts<S> for PathParam {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(PathParam(value)),
            Err(rejection) => Err(ApiError::invalid(format!("invalid path: {}", rejection.body_text()))),
        }
    }
}

/// The revision a change is based on: the `If-Match` header (`"3"` or `3`) or the `ifRevision` query
/// parameter; both may be given only when they agree.
pub(crate) fn expected_revision(headers: &HeaderMap, query: Option<u64>) -> Result<Option<u64>, ApiError> {
    let header = match headers.get("if-match") {
        None => None,
        Some(value) => {
            let text = value.to_str().unwrap_or_default().trim();
            let text = text.strip_prefix("W/").unwrap_or(text).trim_matches('"');
            match text.parse::<u64>() {
                Ok(revision) => Some(revision),
                Err(_) => {
                    return Err(ApiError::invalid(format!(
                        "the If-Match header must be a revision number such as \"3\", not {text:?}"
                    )))
                }
            }
        }
    };
    match (header, query) {
        (Some(a), Some(b)) if a != b => Err(ApiError::invalid(format!(
            "the If-Match header ({a}) and the ifRevision parameter ({b}) disagree: give one of them"
        ))),
        (a, b) => Ok(a.or(b)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn revisions_come_from_if_match_or_the_query() {
        let mut headers = HeaderMap::new();
        assert_eq!(expected_revision(&headers, None).ok(), Some(None));
        assert_eq!(expected_revision(&headers, Some(4)).ok(), Some(Some(4)));
        headers.insert("if-match", HeaderValue::from_static("\"3\""));
        assert_eq!(expected_revision(&headers, None).ok(), Some(Some(3)));
        assert_eq!(expected_revision(&headers, Some(3)).ok(), Some(Some(3)));
        assert!(expected_revision(&headers, Some(4)).is_err());
        headers.insert("if-match", HeaderValue::from_static("*"));
        assert!(expected_revision(&headers, None).is_err());
    }
}
