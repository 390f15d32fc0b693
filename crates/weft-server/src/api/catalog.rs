//! `/api/v1/domains` and `/api/v1/products`: the stream catalog over HTTP.
//!
//! The handlers live by resource in [`super::domains`], [`super::products`] (metadata, lifecycle,
//! search, lineage, ODPS) and [`super::product_data`] (a product's records through its output port);
//! this module holds what they share: the acting user, revisions, and running a catalog call.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use weft_catalog::{Catalog, CatalogError};

use super::{domains, insights, product_data, products, ApiRoutes};
use crate::error::ApiError;
use crate::AppState;

/// The header naming who makes a change, recorded in the catalog's history.
pub const ACTOR_HEADER: &str = "x-weft-actor";
/// The actor of requests that do not name one.
pub const ANONYMOUS: &str = "anonymous";

/// The catalog's routes (absolute paths under `/api/v1`).
pub fn routes() -> ApiRoutes {
    ApiRoutes::new()
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
        .get("/api/v1/products/search", products::search)
        .post("/api/v1/products/from-sql", super::from_sql::from_sql)
        .post("/api/v1/products/{id}/access-requests", super::access::request)
        .get("/api/v1/products/{id}/grants", super::access::grants)
        .get("/api/v1/access-requests", super::access::list)
        .post("/api/v1/access-requests/{req}/approve", super::access::approve)
        .post("/api/v1/access-requests/{req}/deny", super::access::deny)
        .post("/api/v1/access-requests/{req}/revoke", super::access::revoke)
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
}

/// Who makes a change: the `X-Weft-Actor` header, or `anonymous`.
///
/// Authentication comes in a later issue; until then the header is trusted as given, and the catalog
/// only checks that it is a plausible name (1 to 200 printable characters).
pub struct Actor(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Actor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        match parts.headers.get(ACTOR_HEADER) {
            None => Ok(Actor(ANONYMOUS.to_string())),
            Some(value) => match value.to_str() {
                Ok(actor) => Ok(Actor(actor.trim().to_string())),
                Err(_) => Err(ApiError::invalid(format!("the {ACTOR_HEADER} header must be printable ASCII text"))),
            },
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

/// Runs a catalog call on the blocking pool (catalog commands append to the log and wait for it).
pub(crate) async fn call<T, F>(state: &AppState, f: F) -> Result<T, ApiError>
where
    F: FnOnce(&Catalog) -> Result<T, CatalogError> + Send + 'static,
    T: Send + 'static,
{
    let catalog = state.catalog.clone();
    super::blocking(move || f(&catalog)).await
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
