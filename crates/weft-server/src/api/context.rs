//! Who is asking: the request's context, built from its headers.
//!
//! The actor comes from the `X-Weft-Actor` header (`anonymous` without one) and is trusted as given
//! until authentication arrives; the mesh and the catalog record it with every change. The request id
//! is the one [`crate::observe_http`] gave the request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use weft_mesh::{RequestContext, ANONYMOUS};

use crate::error::ApiError;
use crate::RequestId;

/// The header naming who makes a change, recorded in the catalog's history.
pub const ACTOR_HEADER: &str = "x-weft-actor";

/// The actor a request names: the `X-Weft-Actor` header, trimmed, or `anonymous`.
pub fn actor_of(headers: &HeaderMap) -> Result<String, ApiError> {
    match headers.get(ACTOR_HEADER) {
        None => Ok(ANONYMOUS.to_string()),
        Some(value) => match value.to_str() {
            Ok(actor) => Ok(actor.trim().to_string()),
            Err(_) => Err(ApiError::invalid(format!("the {ACTOR_HEADER} header must be printable ASCII text"))),
        },
    }
}

/// The request's context for mesh calls.
pub struct Ctx(pub RequestContext);

impl<S: Send + Sync> FromRequestParts<S> for Ctx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let actor = actor_of(&parts.headers)?;
        let request_id = match parts.extensions.get::<RequestId>() {
            Some(RequestId(id)) => id.clone(),
            None => weft_mesh::next_request_id(),
        };
        Ok(Ctx(RequestContext::new(actor, request_id)))
    }
}
