//! What a principal may do: the platform's authorization rules, in one place.
//!
//! - **Platform admins** (identities with `admin`) may do everything, and only they create domains,
//!   set global policies, manage identities, change global registry settings and read internal topics.
//! - **Domain owners and members** (listed in the domain, or in its owning team) change their domain's
//!   products, contracts, the schemas under their products' subjects, and the topics their products
//!   serve; owners also change the domain itself and decide access requests.
//! - **Consumers** read a product's data (records, samples, tails, exports, SQL queries over it, top
//!   values of its profile) when they are in its domain or hold a grant: an approved access request
//!   they made, or one made for a team they are in. Metadata stays discoverable to everyone signed in.
//! - Topics no product serves and subjects no product names are nobody's yet: any signed-in writer
//!   may use them.
//!
//! `system:*` principals (the platform's own work, such as the demo's generators) are trusted, and
//! when authorization is off (`weft serve` without authentication, for development on loopback) every
//! principal is, as before authentication existed.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use weft_catalog::{AccessFilter, AccessStatus, Catalog, Domain, Product, ProductId, Role};

use super::identities::IdentityStore;
use crate::error::{MeshError, Result};
use crate::PLATFORM_ADMIN;

/// How long a read decision is reused: a revoked grant stops readers within this (plus their poll).
pub const READ_DECISION_TTL: Duration = Duration::from_secs(1);

/// A read decision and when it was made; `Err` names the product without a grant ("" for an
/// internal topic).
type CachedDecision = (Instant, std::result::Result<(), String>);

/// The authorization rules over the identity store and the catalog.
pub struct Authorizer {
    enforce: bool,
    identities: Arc<IdentityStore>,
    catalog: Arc<Catalog>,
    /// Read decisions by (principal, topic): persistent and push queries check every poll.
    read_cache: Mutex<HashMap<(String, String), CachedDecision>>,
}

impl std::fmt::Debug for Authorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authorizer").field("enforce", &self.enforce).finish_non_exhaustive()
    }
}

fn forbidden(principal: &str, action: &str, reason: impl Into<String>) -> MeshError {
    MeshError::Forbidden { principal: principal.to_string(), action: action.to_string(), reason: reason.into() }
}

impl Authorizer {
    pub(crate) fn new(enforce: bool, identities: Arc<IdentityStore>, catalog: Arc<Catalog>) -> Self {
        Authorizer { enforce, identities, catalog, read_cache: Mutex::new(HashMap::new()) }
    }

    /// Whether the rules are enforced (authentication is on).
    pub fn enforcing(&self) -> bool {
        self.enforce
    }

    /// The platform's own work, or anyone when the rules are off.
    pub fn is_trusted(&self, principal: &str) -> bool {
        !self.enforce || principal.starts_with("system:")
    }

    /// Whether `principal` is a platform admin (without authentication: the principal named `admin`).
    pub fn is_admin(&self, principal: &str) -> bool {
        if principal.starts_with("system:") {
            return true;
        }
        if !self.enforce {
            return principal == PLATFORM_ADMIN;
        }
        self.identities.state().user(principal).is_some_and(|u| u.admin && !u.disabled)
    }

    /// The teams `principal` is in.
    pub fn teams(&self, principal: &str) -> Vec<String> {
        self.identities.state().user(principal).map(|u| u.teams.clone()).unwrap_or_default()
    }

    /// `principal`'s role in `domain`: as listed, else member through the domain's owning team.
    pub fn domain_role(&self, principal: &str, domain: &Domain) -> Option<Role> {
        if let Some(role) = domain.role_of(principal) {
            return Some(role);
        }
        self.teams(principal).contains(&domain.spec.owning_team).then_some(Role::Member)
    }

    pub fn require_admin(&self, principal: &str, action: &str) -> Result<()> {
        if self.is_trusted(principal) || self.is_admin(principal) {
            return Ok(());
        }
        Err(forbidden(principal, action, "only platform admins may do this"))
    }

    /// Refuses unless `principal` is a member (or, with `owner`, an owner) of `domain`, or an admin.
    pub fn require_domain(&self, principal: &str, domain: &str, action: &str, owner: bool) -> Result<()> {
        if self.is_trusted(principal) || self.is_admin(principal) {
            return Ok(());
        }
        let Ok(found) = self.catalog.domain(domain) else {
            return Err(forbidden(principal, action, format!("domain '{domain}' does not exist")));
        };
        match self.domain_role(principal, &found) {
            Some(Role::Owner) => Ok(()),
            Some(Role::Member) if !owner => Ok(()),
            Some(Role::Member) => Err(forbidden(principal, action, format!("only owners of domain '{domain}' may"))),
            None => Err(forbidden(
                principal,
                action,
                format!("only members of domain '{domain}' (or its team '{}') may", found.spec.owning_team),
            )),
        }
    }

    /// Refuses unless `principal` may change the product `id` (a member of the domain its id names).
    pub fn require_product_change(&self, principal: &str, id: &str, action: &str) -> Result<()> {
        if self.is_trusted(principal) {
            return Ok(());
        }
        let id = ProductId::parse(id)?;
        self.require_domain(principal, id.domain().as_str(), action, false)
    }

    /// Whether `principal` may read `product`'s data: in its domain, its owner, an admin, or granted.
    pub fn may_read_product(&self, principal: &str, product: &Product) -> bool {
        if self.is_trusted(principal) || self.is_admin(principal) || product.spec.owner == principal {
            return true;
        }
        if let Ok(domain) = self.catalog.domain(product.id().domain().as_str()) {
            if self.domain_role(principal, &domain).is_some() {
                return true;
            }
        }
        self.has_grant(principal, product.id())
    }

    /// Whether an approved access request covers `principal`: made by it, or for a team it is in.
    pub fn has_grant(&self, principal: &str, product: &ProductId) -> bool {
        let teams = self.teams(principal);
        let filter = AccessFilter {
            product: Some(product.clone()),
            status: Some(AccessStatus::Approved),
            ..AccessFilter::default()
        };
        let now = crate::now_ms();
        self.catalog.access_requests(&filter).iter().filter(|grant| grant.grants_at(now)).any(|grant| {
            grant.requester == principal || grant.consumer.as_ref().is_some_and(|team| teams.contains(team))
        })
    }

    /// Refuses a read of `topic`'s records unless `principal` may read a product served on it.
    /// Internal topics are read by admins only (they hold token hashes and audit records).
    pub fn check_read_topic(&self, principal: &str, topic: &str) -> Result<()> {
        if self.is_trusted(principal) {
            return Ok(());
        }
        let key = (principal.to_string(), topic.to_string());
        if let Some((at, decision)) = self.read_cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key) {
            if at.elapsed() < READ_DECISION_TTL {
                return decision.clone().map_err(|product| self.not_granted(principal, &product, topic));
            }
        }
        let decision = self.decide_read(principal, topic);
        let mut cache = self.read_cache.lock().unwrap_or_else(|e| e.into_inner());
        if cache.len() > 100_000 {
            cache.clear();
        }
        cache.insert(key, (Instant::now(), decision.clone()));
        decision.map_err(|product| self.not_granted(principal, &product, topic))
    }

    /// `Err(product)`: the product on `topic` that `principal` has no grant on ("" for internal topics).
    fn decide_read(&self, principal: &str, topic: &str) -> std::result::Result<(), String> {
        if weft_log::is_internal_topic(topic) {
            return if self.is_admin(principal) { Ok(()) } else { Err(String::new()) };
        }
        let products = self.catalog.products_on_topic(topic);
        if products.is_empty() {
            return Ok(());
        }
        for id in &products {
            if let Ok(product) = self.catalog.product(id.as_str()) {
                if self.may_read_product(principal, &product) {
                    return Ok(());
                }
            }
        }
        Err(products[0].to_string())
    }

    fn not_granted(&self, principal: &str, product: &str, topic: &str) -> MeshError {
        if product.is_empty() {
            return forbidden(
                principal,
                &format!("read topic '{topic}'"),
                "internal topics are read by platform admins only",
            );
        }
        MeshError::NotGranted { principal: principal.to_string(), product: product.to_string() }
    }

    /// Refuses a read of `product`'s data without a grant.
    /// Decisions are reused for [`READ_DECISION_TTL`], as the read path's are.
    pub fn check_read_product(&self, principal: &str, product: &Product) -> Result<()> {
        if self.is_trusted(principal) {
            return Ok(());
        }
        // Keyed apart from topics: a NUL cannot start a topic name.
        let key = (principal.to_string(), format!("\0product:{}", product.id()));
        let cached = self.read_cache.lock().unwrap_or_else(|e| e.into_inner()).get(&key).cloned();
        let decision = match cached {
            Some((at, decision)) if at.elapsed() < READ_DECISION_TTL => decision,
            _ => {
                let decision =
                    if self.may_read_product(principal, product) { Ok(()) } else { Err(product.id().to_string()) };
                let mut cache = self.read_cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.len() > 100_000 {
                    cache.clear();
                }
                cache.insert(key, (Instant::now(), decision.clone()));
                decision
            }
        };
        decision.map_err(|product| MeshError::NotGranted { principal: principal.to_string(), product })
    }

    /// Refuses writing (or deleting) `topic` unless `principal` is in the domain of a product served
    /// on it; a topic no product serves is open to every writer.
    /// `verb` says what is done to it (`write`, `delete`).
    pub fn check_write_topic(&self, principal: &str, topic: &str, verb: &str) -> Result<()> {
        if self.is_trusted(principal) || self.is_admin(principal) {
            return Ok(());
        }
        let products = self.catalog.products_on_topic(topic);
        if products.is_empty() {
            return Ok(());
        }
        let action = &format!("{verb} topic '{topic}'");
        let mut domains: Vec<String> = products.iter().map(|p| p.domain().to_string()).collect();
        domains.dedup();
        for domain in &domains {
            if self.require_domain(principal, domain, action, false).is_ok() {
                return Ok(());
            }
        }
        Err(forbidden(
            principal,
            action,
            format!(
                "topic '{topic}' serves {} of domain {}: only its members may",
                products.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
                domains.join(", ")
            ),
        ))
    }

    /// Refuses changing schemas under `subject` unless `principal` is in the domain of a product
    /// whose port names it; a subject no product names is open to every writer.
    pub fn check_subject_change(&self, principal: &str, subject: &str, action: &str) -> Result<()> {
        if self.is_trusted(principal) || self.is_admin(principal) {
            return Ok(());
        }
        let Ok(products) = self.catalog.products(None) else { return Ok(()) };
        let owners: Vec<&Product> =
            products.iter().filter(|p| p.spec.output_ports.iter().any(|port| port.schema_subject == subject)).collect();
        if owners.is_empty() {
            return Ok(());
        }
        for product in &owners {
            if self.require_domain(principal, product.id().domain().as_str(), action, false).is_ok() {
                return Ok(());
            }
        }
        Err(forbidden(
            principal,
            action,
            format!(
                "subject '{subject}' belongs to {}: only members of its domain may change it",
                owners.iter().map(|p| p.id().to_string()).collect::<Vec<_>>().join(", ")
            ),
        ))
    }

    /// Drops cached read decisions (after a change to grants, domains or identities, so that the
    /// change applies at once to the next read).
    pub fn forget_decisions(&self) {
        self.read_cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }
}
