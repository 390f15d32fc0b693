//! Who is asking: the context every mesh call carries.
//!
//! The principal is the name the server authenticated (an API token's identity, an OpenID Connect
//! user), or on a development server without authentication the name a client gives (`X-Weft-Actor`).
//! The checks that use it ([`crate::security::authz`]: grants on reads, domain membership on changes)
//! sit where every request passes: the write and read paths of [`crate::data`] and the mesh's change
//! methods.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// The principal of requests that name none.
pub const ANONYMOUS: &str = "anonymous";

/// The bootstrap platform admin's name (and, on a development server, the name that acts as admin).
pub const PLATFORM_ADMIN: &str = "admin";

/// The longest principal name accepted (the catalog's limit on actors).
pub const MAX_PRINCIPAL_CHARS: usize = 200;

/// One request's context: who asks, the request's id (for logs and audit), and when it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestContext {
    principal: String,
    request_id: String,
    at: i64,
}

impl RequestContext {
    /// A request by `principal` with the given id, arriving now.
    pub fn new(principal: impl Into<String>, request_id: impl Into<String>) -> Self {
        RequestContext { principal: principal.into(), request_id: request_id.into(), at: now_ms() }
    }

    /// A request by `principal` with a fresh process-unique id (callers without their own ids: the
    /// demo's generators, tests, tools).
    pub fn of(principal: impl Into<String>) -> Self {
        RequestContext::new(principal, next_request_id())
    }

    /// Work the platform does by itself (`system:<component>`), e.g. the demo's data generators.
    pub fn system(component: &str) -> Self {
        RequestContext::of(format!("system:{component}"))
    }

    /// Who asks: the name changes are recorded under.
    pub fn principal(&self) -> &str {
        &self.principal
    }

    pub fn request_id(&self) -> &str {
        &self.request_id
    }

    /// When the request arrived (epoch milliseconds).
    pub fn at(&self) -> i64 {
        self.at
    }
}

/// `r-<n>`: unique within the process, increasing.
pub fn next_request_id() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("r-{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// The time now, epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |elapsed| elapsed.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_are_unique_and_contexts_keep_their_principal() {
        let a = RequestContext::of("alice");
        let b = RequestContext::of("alice");
        assert_ne!(a.request_id(), b.request_id());
        assert_eq!(a.principal(), "alice");
        assert_eq!(RequestContext::system("demo").principal(), "system:demo");
        assert!(a.at() > 1_600_000_000_000, "epoch milliseconds");
    }
}
