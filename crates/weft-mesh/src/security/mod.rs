//! Security: who is asking ([`identities`]), what they may do ([`authz`]), and the record of what was
//! done and refused ([`audit`]).
//!
//! The server authenticates a request (an API token, an OpenID Connect JWT, a session) into an
//! [`Identity`] through [`crate::Mesh::authenticate_token`] or [`crate::Mesh::authenticate_oidc`], and
//! puts its name in the request's [`crate::RequestContext`]. The mesh's change methods and the data
//! plane's read and write paths then ask the [`authz::Authorizer`], by principal name, so that every
//! way in (REST, the registry API, ksqlDB's API, SQL's persistent queries) meets the same rules.

pub mod audit;
pub mod authz;
pub mod identities;

use serde::Serialize;
use weft_auth::JwtClaims;

use crate::error::{MeshError, Result};
use crate::{Mesh, RequestContext};
use audit::{AuditEntry, AuditOutcome, AuditPage, AuditQuery};
use identities::{IdentitySource, PrincipalKind, Scope, TokenRecord, User, UserSpec};

/// How a request proved who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case", tag = "method")]
pub enum SignIn {
    /// An API token, by id.
    Token { id: String },
    /// A JWT of the configured OpenID Connect issuer.
    Oidc,
    /// No authentication: a development server trusting the name a client gives.
    Development,
}

/// A signed-in principal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Identity {
    pub name: String,
    pub kind: PrincipalKind,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub display_name: String,
    pub teams: Vec<String>,
    pub admin: bool,
    /// What the credential allows (a read-only token makes no changes).
    pub scopes: Vec<Scope>,
    pub sign_in: SignIn,
    /// When the credential stops working (epoch ms), if it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl Identity {
    /// Whether the credential may make changes.
    pub fn may_write(&self) -> bool {
        self.scopes.contains(&Scope::Write)
    }

    /// A development server's principal: whoever the client says, with every scope.
    pub fn development(name: &str, admin: bool) -> Identity {
        Identity {
            name: name.to_string(),
            kind: PrincipalKind::User,
            display_name: String::new(),
            teams: Vec::new(),
            admin,
            scopes: vec![Scope::Read, Scope::Write],
            sign_in: SignIn::Development,
            expires_at: None,
        }
    }
}

/// What a caller asks for when creating a token.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenRequest {
    /// Whom the token signs in as (default: the caller). Only platform admins make tokens for others.
    #[serde(default)]
    pub principal: Option<String>,
    #[serde(default)]
    pub description: String,
    /// `read`, `write` (default: both).
    #[serde(default)]
    pub scopes: Vec<Scope>,
    /// Lifetime in seconds (default: until revoked).
    #[serde(default)]
    pub expires_in_seconds: Option<u64>,
}

/// A token just created: its record and its text, which is never shown again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct CreatedToken {
    #[serde(flatten)]
    pub record: TokenRecord,
    /// The token to present (`Authorization: Bearer ...`); shown once.
    pub token: String,
}

/// The bootstrap admin's name.
pub const BOOTSTRAP_ADMIN: &str = crate::PLATFORM_ADMIN;

impl Mesh {
    /// The authorization rules (for the server's checks of its own, such as hiding a profile's top values).
    pub fn authorizer(&self) -> &authz::Authorizer {
        &self.security.authz
    }

    /// On a platform with authorization on and no admin yet: creates the admin `admin` and a token for
    /// it, and returns the token's text (to be printed once). `None` when an admin exists.
    pub fn bootstrap_admin(&self) -> Result<Option<String>> {
        if !self.security.authz.enforcing() || self.security.identities.state().has_admin() {
            return Ok(None);
        }
        let now = crate::context::now_ms();
        let spec = UserSpec {
            name: BOOTSTRAP_ADMIN.to_string(),
            kind: PrincipalKind::User,
            display_name: "Platform admin (bootstrap)".to_string(),
            teams: Vec::new(),
            admin: true,
            disabled: false,
        };
        self.security.identities.set_user("system:bootstrap", spec, IdentitySource::Local, now)?;
        let (record, token) = self.security.identities.create_token(
            "system:bootstrap",
            BOOTSTRAP_ADMIN,
            "bootstrap admin token",
            vec![Scope::Read, Scope::Write],
            None,
            now,
        )?;
        self.audit_mesh("system:bootstrap", "bootstrap admin", &format!("token {}", record.id));
        Ok(Some(token))
    }

    /// The identity an API token signs in as. Refusals are [`MeshError::Unauthenticated`] with the
    /// same words for every bad token; the reason is in the log.
    pub fn authenticate_token(&self, text: &str) -> Result<Identity> {
        let now = crate::context::now_ms();
        match self.security.identities.authenticate(text, now) {
            Ok((user, token)) => Ok(Identity {
                name: user.name,
                kind: user.kind,
                display_name: user.display_name,
                teams: user.teams,
                admin: user.admin,
                scopes: token.scopes,
                sign_in: SignIn::Token { id: token.id },
                expires_at: token.expires_at,
            }),
            Err(reason) => {
                tracing::info!(reason = reason.as_str(), "token refused");
                Err(MeshError::Unauthenticated(format!("the token is not valid ({reason})")))
            }
        }
    }

    /// The identity a verified OpenID Connect token signs in as. A user seen for the first time is
    /// recorded (source `oidc`) with the token's groups as teams, so grants, domain membership and the
    /// SQL queries it starts refer to a known identity; later sign-ins update the teams when they
    /// change. A disabled identity is refused; a service account cannot sign in this way.
    pub fn authenticate_oidc(&self, claims: &JwtClaims) -> Result<Identity> {
        let now = crate::context::now_ms();
        let name = claims.user.clone();
        identities::check_name("the user claim", &name).map_err(|e| MeshError::Unauthenticated(e.to_string()))?;
        let groups: Vec<String> =
            claims.groups.iter().filter(|g| identities::check_team("group", g).is_ok()).cloned().collect();
        let existing = self.security.identities.state().user(&name).cloned();
        let user = match existing {
            Some(user) if user.disabled => return Err(MeshError::Unauthenticated(format!("'{name}' is disabled"))),
            Some(user) if user.kind == PrincipalKind::ServiceAccount => {
                return Err(MeshError::Unauthenticated(format!(
                    "'{name}' is a service account: it signs in with tokens"
                )))
            }
            Some(user) if user.source == IdentitySource::Oidc && sorted(&groups) != user.teams => {
                let spec = UserSpec { teams: groups, ..spec_of(&user) };
                self.security.identities.set_user("system:oidc", spec, IdentitySource::Oidc, now)?
            }
            Some(user) => user,
            None => {
                let spec = UserSpec {
                    name: name.clone(),
                    kind: PrincipalKind::User,
                    display_name: String::new(),
                    teams: groups,
                    admin: false,
                    disabled: false,
                };
                self.security.identities.set_user("system:oidc", spec, IdentitySource::Oidc, now)?
            }
        };
        self.security.authz.forget_decisions();
        Ok(Identity {
            name: user.name,
            kind: user.kind,
            display_name: user.display_name,
            teams: user.teams,
            admin: user.admin,
            scopes: vec![Scope::Read, Scope::Write],
            sign_in: SignIn::Oidc,
            expires_at: Some(claims.expires_at * 1000),
        })
    }

    /// Every user and service account.
    pub fn users(&self) -> Vec<User> {
        self.security.identities.state().users().cloned().collect()
    }

    pub fn user(&self, name: &str) -> Result<User> {
        self.security.identities.state().user(name).cloned().ok_or_else(|| MeshError::UserNotFound(name.to_string()))
    }

    /// Creates or replaces a user or service account (platform admins only).
    pub fn set_user(&self, ctx: &RequestContext, spec: UserSpec) -> Result<User> {
        self.security.authz.require_admin(ctx.principal(), "manage identities")?;
        if spec.name == ctx.principal() && (!spec.admin || spec.disabled) {
            return Err(MeshError::InvalidRequest(
                "an admin cannot take away their own admin right or disable themselves: ask another admin".into(),
            ));
        }
        let user = self.security.identities.set_user(ctx.principal(), spec, IdentitySource::Local, ctx.at())?;
        self.security.authz.forget_decisions();
        Ok(user)
    }

    /// Deletes a user or service account and revokes its tokens (platform admins only).
    pub fn delete_user(&self, ctx: &RequestContext, name: &str) -> Result<User> {
        self.security.authz.require_admin(ctx.principal(), "manage identities")?;
        if name == ctx.principal() {
            return Err(MeshError::InvalidRequest("an admin cannot delete themselves: ask another admin".into()));
        }
        let user = self.security.identities.delete_user(ctx.principal(), name, ctx.at())?;
        self.security.authz.forget_decisions();
        Ok(user)
    }

    /// A new API token: for the caller, or (platform admins only) for another identity.
    pub fn create_token(&self, ctx: &RequestContext, request: TokenRequest) -> Result<CreatedToken> {
        let owner = request.principal.clone().unwrap_or_else(|| ctx.principal().to_string());
        if owner != ctx.principal() {
            self.security.authz.require_admin(ctx.principal(), &format!("create a token for '{owner}'"))?;
        }
        let expires_at = match request.expires_in_seconds {
            None => None,
            Some(0) => return Err(MeshError::InvalidRequest("expiresInSeconds: must be at least 1".into())),
            Some(seconds) => Some(ctx.at().saturating_add(seconds.min(10 * 366 * 86_400) as i64 * 1000)),
        };
        let (record, token) = self.security.identities.create_token(
            ctx.principal(),
            &owner,
            &request.description,
            request.scopes,
            expires_at,
            ctx.at(),
        )?;
        Ok(CreatedToken { record, token })
    }

    /// Tokens: the caller's own, or (platform admins) anyone's (`principal`) or everyone's.
    pub fn tokens(&self, ctx: &RequestContext, principal: Option<&str>) -> Result<Vec<TokenRecord>> {
        let admin = self.security.authz.is_admin(ctx.principal());
        let whose = match principal {
            Some(p) if p != ctx.principal() && !admin => {
                return Err(MeshError::Forbidden {
                    principal: ctx.principal().to_string(),
                    action: format!("list the tokens of '{p}'"),
                    reason: "only platform admins list others' tokens".into(),
                })
            }
            Some(p) => Some(p.to_string()),
            None if admin => None,
            None => Some(ctx.principal().to_string()),
        };
        let state = self.security.identities.state();
        Ok(state.tokens().filter(|t| whose.as_ref().is_none_or(|w| *w == t.principal)).cloned().collect())
    }

    /// Revokes a token: one's own, or (platform admins) anyone's.
    pub fn revoke_token(&self, ctx: &RequestContext, id: &str) -> Result<TokenRecord> {
        let token = self
            .security
            .identities
            .state()
            .token(id)
            .cloned()
            .ok_or_else(|| MeshError::TokenNotFound(id.to_string()))?;
        if token.principal != ctx.principal() {
            self.security
                .authz
                .require_admin(ctx.principal(), &format!("revoke token {id} of '{}'", token.principal))?;
        }
        self.security.identities.revoke_token(ctx.principal(), id, ctx.at())
    }

    /// Appends an audit entry (the server's record of a request).
    pub fn record_audit(&self, entry: AuditEntry) {
        if let Err(error) = self.security.audit.record(entry) {
            tracing::error!(%error, "cannot append to the audit log");
        }
    }

    fn audit_mesh(&self, principal: &str, action: &str, object: &str) {
        self.record_audit(AuditEntry {
            at: crate::context::now_ms(),
            principal: principal.to_string(),
            action: action.to_string(),
            object: object.to_string(),
            outcome: AuditOutcome::Ok,
            status: None,
            request_id: crate::next_request_id(),
            detail: None,
            offset: 0,
        });
    }

    /// Audit entries, newest first (platform admins only).
    pub fn audit(&self, ctx: &RequestContext, query: &AuditQuery) -> Result<AuditPage> {
        self.security.authz.require_admin(ctx.principal(), "read the audit log")?;
        self.security.audit.query(query)
    }

    /// The audit log itself, for a live feed (the caller checked the reader is an admin).
    pub fn audit_log(&self, ctx: &RequestContext) -> Result<&audit::AuditLog> {
        self.security.authz.require_admin(ctx.principal(), "follow the audit log")?;
        Ok(&self.security.audit)
    }
}

fn sorted(teams: &[String]) -> Vec<String> {
    let mut teams = teams.to_vec();
    teams.sort();
    teams.dedup();
    teams
}

fn spec_of(user: &User) -> UserSpec {
    UserSpec {
        name: user.name.clone(),
        kind: user.kind,
        display_name: user.display_name.clone(),
        teams: user.teams.clone(),
        admin: user.admin,
        disabled: user.disabled,
    }
}

/// The parts of the mesh that decide who is asking and what they may do.
pub(crate) struct Security {
    pub(crate) identities: std::sync::Arc<identities::IdentityStore>,
    pub(crate) authz: std::sync::Arc<authz::Authorizer>,
    pub(crate) audit: audit::AuditLog,
}
