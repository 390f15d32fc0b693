//! Who is asking: the request's context, built from what authentication found.
//!
//! The principal is the caller [`crate::auth`] signed in (an API token's identity, an OpenID Connect
//! user, a web session), or `anonymous` on a public route without a credential. On a development
//! server without authentication it is the `X-Weft-Actor` header (`anonymous` without one), trusted as
//! given. The mesh and the catalog record it with every change. The request id is the one
//! [`crate::observe_http`] gave the request.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use weft_mesh::{RequestContext, ANONYMOUS};

use crate::error::ApiError;
use crate::RequestId;

/// The header naming who makes a change on a development server without authentication.
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
        let actor = match parts.extensions.get::<crate::auth::Caller>() {
            Some(caller) => caller.identity.name.clone(),
            None => ANONYMOUS.to_string(),
        };
        let request_id = match parts.extensions.get::<RequestId>() {
            Some(RequestId(id)) => id.clone(),
            None => weft_mesh::next_request_id(),
        };
        Ok(Ctx(RequestContext::new(actor, request_id)))
    }
}
