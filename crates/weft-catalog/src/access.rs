//! Access requests and grants: who asked to consume which product, why, and what its owners decided.
//!
//! A request is `pending` until the product's owner (or an owner of its domain) approves or denies
//! it; an approved request is a grant until it is revoked. Requests are catalog events like every
//! other change (in the product's history, replayed on start). Enforcing grants on reads is not
//! here: it comes with authentication.

use serde::{Deserialize, Serialize};

use crate::model::{Domain, Product, Role};
use crate::{CatalogError, ProductId};

/// The longest purpose or decision reason.
pub const MAX_ACCESS_TEXT: usize = 2000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AccessStatus {
    Pending,
    Approved,
    Denied,
    /// An approval withdrawn.
    Revoked,
}

impl AccessStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessStatus::Pending => "pending",
            AccessStatus::Approved => "approved",
            AccessStatus::Denied => "denied",
            AccessStatus::Revoked => "revoked",
        }
    }

    pub fn parse(value: &str) -> Result<Self, CatalogError> {
        match value {
            "pending" => Ok(AccessStatus::Pending),
            "approved" => Ok(AccessStatus::Approved),
            "denied" => Ok(AccessStatus::Denied),
            "revoked" => Ok(AccessStatus::Revoked),
            _ => Err(CatalogError::invalid(
                "status",
                format!("'{value}' is not one of pending, approved, denied, revoked"),
            )),
        }
    }
}

/// What an owner decides about a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AccessDecision {
    /// pending -> approved.
    Approve,
    /// pending -> denied.
    Deny,
    /// approved -> revoked.
    Revoke,
}

impl AccessDecision {
    pub fn as_str(self) -> &'static str {
        match self {
            AccessDecision::Approve => "approve",
            AccessDecision::Deny => "deny",
            AccessDecision::Revoke => "revoke",
        }
    }

    /// The status the decision needs and the one it leads to.
    pub(crate) fn transition(self) -> (AccessStatus, AccessStatus) {
        match self {
            AccessDecision::Approve => (AccessStatus::Pending, AccessStatus::Approved),
            AccessDecision::Deny => (AccessStatus::Pending, AccessStatus::Denied),
            AccessDecision::Revoke => (AccessStatus::Approved, AccessStatus::Revoked),
        }
    }
}

/// A request to consume a product.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccessRequest {
    /// `ar-N`, N counting from 1 in the order requests were made.
    pub id: String,
    pub product: ProductId,
    /// Who asked (the acting user of the request).
    pub requester: String,
    /// The team or domain that will consume the data, when not the requester alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consumer: Option<String>,
    pub purpose: String,
    pub status: AccessStatus,
    /// Epoch milliseconds.
    pub requested_at: i64,
    /// Who made the last decision, when, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When an approval stops granting access (epoch ms); none: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl AccessRequest {
    /// Whether the request grants access at `now`: approved, and not past its expiry.
    pub fn grants_at(&self, now: i64) -> bool {
        self.status == AccessStatus::Approved && self.expires_at.is_none_or(|at| now < at)
    }
}

/// Which requests a listing returns; every given field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessFilter {
    pub requester: Option<String>,
    /// Requests on products this user may decide about.
    pub approver: Option<String>,
    pub status: Option<AccessStatus>,
    pub product: Option<ProductId>,
}

/// The number in `ar-N`.
pub(crate) fn request_number(id: &str) -> Option<u64> {
    id.strip_prefix("ar-")?.parse().ok().filter(|n| *n > 0)
}

/// Whether `user` may decide about access to `product`: its owner, or an owner of its domain.
pub(crate) fn may_decide(user: &str, product: &Product, domain: Option<&Domain>) -> bool {
    product.spec.owner == user || domain.is_some_and(|d| d.role_of(user) == Some(Role::Owner))
}

pub(crate) fn check_text(field: &str, value: &str, required: bool, max: usize) -> Result<(), CatalogError> {
    if required && value.trim().is_empty() {
        return Err(CatalogError::invalid(field, "it is required and may not be blank"));
    }
    if value.chars().count() > max {
        return Err(CatalogError::invalid(field, format!("it is longer than {max} characters")));
    }
    if value.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(CatalogError::invalid(field, "control characters are not allowed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_and_statuses_parse() {
        assert_eq!(request_number("ar-12"), Some(12));
        for bad in ["ar-0", "ar-", "12", "ar-x", "AR-1"] {
            assert_eq!(request_number(bad), None, "{bad}");
        }
        assert_eq!(AccessStatus::parse("revoked").unwrap(), AccessStatus::Revoked);
        assert!(AccessStatus::parse("granted").unwrap_err().to_string().contains("pending, approved"));
        assert_eq!(AccessDecision::Revoke.transition(), (AccessStatus::Approved, AccessStatus::Revoked));
    }
}
