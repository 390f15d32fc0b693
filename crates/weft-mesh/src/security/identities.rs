//! Who may sign in: users and service accounts, the teams they are in, and their API tokens, kept as
//! events of the `_weft_identities` topic and rebuilt from it on start.
//!
//! The protocol is the governance store's: plan under the writer lock, append (the commit point),
//! apply what was read back. A token is stored as the SHA-256 of its secret only; the secret is
//! returned once, by the call that creates it.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLockReadGuard};

use serde::{Deserialize, Serialize};
use weft_auth::{ApiToken, TokenHash, TokenId};
use weft_log::{EventLog, TopicConfig};

use crate::error::{MeshError, Result};
use crate::event_store::{EventStore, Unreadable};

/// The internal topic the identity store lives in.
pub const IDENTITIES_TOPIC: &str = "_weft_identities";

/// A person or a program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum PrincipalKind {
    #[default]
    User,
    /// A program (a pipeline, a service): signs in with tokens only.
    ServiceAccount,
}

/// Where an identity was first known from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum IdentitySource {
    /// Created on the platform (an admin, the bootstrap, the demo).
    #[default]
    Local,
    /// Recorded on first sign-in with the organisation's identity provider.
    Oidc,
}

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Scope {
    /// Reads: metadata, and data the holder is granted.
    Read,
    /// Changes, within what the holder may change.
    Write,
}

/// A user or service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The name changes are recorded under and domains list members by.
    pub name: String,
    #[serde(default)]
    pub kind: PrincipalKind,
    #[serde(default)]
    pub display_name: String,
    /// Teams (groups) the identity belongs to; a domain's owning team's members are its members.
    #[serde(default)]
    pub teams: Vec<String>,
    /// Platform admin: sets global policies, manages identities and domains, reads everything.
    #[serde(default)]
    pub admin: bool,
    /// A disabled identity cannot sign in; its tokens stop working.
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub source: IdentitySource,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a caller sends to create or replace a user or service account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UserSpec {
    pub name: String,
    #[serde(default)]
    pub kind: PrincipalKind,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub teams: Vec<String>,
    #[serde(default)]
    pub admin: bool,
    #[serde(default)]
    pub disabled: bool,
}

/// A stored API token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    /// The public id (16 hex digits), also the start of the token's text.
    pub id: String,
    /// Whom the token signs in as.
    pub principal: String,
    #[serde(default)]
    pub description: String,
    pub scopes: Vec<Scope>,
    pub created_at: i64,
    pub created_by: String,
    /// Epoch milliseconds; none: until revoked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_by: Option<String>,
    /// SHA-256 of the secret (hex); not serialized in answers.
    #[serde(default, skip_serializing)]
    #[cfg_attr(feature = "openapi", schema(ignore))]
    pub(crate) hash: String,
}

impl TokenRecord {
    /// Whether the token works at `now` (not revoked, not expired).
    pub fn is_active(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// The stored form of a token (the hash included), as the event carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct StoredToken {
    #[serde(flatten)]
    record: TokenRecord,
    hash: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum IdentityEvent {
    UserSet { user: User, principal: String },
    UserDeleted { name: String, principal: String, at: i64 },
    TokenCreated { token: StoredToken, principal: String },
    TokenRevoked { id: String, principal: String, at: i64 },
}

/// Everything the store knows.
#[derive(Debug, Default)]
pub struct IdentityState {
    users: BTreeMap<String, User>,
    tokens: BTreeMap<String, TokenRecord>,
}

impl IdentityState {
    fn apply(&mut self, event: IdentityEvent) {
        match event {
            IdentityEvent::UserSet { user, .. } => {
                self.users.insert(user.name.clone(), user);
            }
            IdentityEvent::UserDeleted { name, principal, at } => {
                self.users.remove(&name);
                for token in self.tokens.values_mut().filter(|t| t.principal == name && t.revoked_at.is_none()) {
                    token.revoked_at = Some(at);
                    token.revoked_by = Some(principal.clone());
                }
            }
            IdentityEvent::TokenCreated { token, .. } => {
                let mut record = token.record;
                record.hash = token.hash;
                self.tokens.insert(record.id.clone(), record);
            }
            IdentityEvent::TokenRevoked { id, principal, at } => {
                if let Some(token) = self.tokens.get_mut(&id) {
                    token.revoked_at.get_or_insert(at);
                    token.revoked_by.get_or_insert(principal);
                }
            }
        }
    }

    pub fn user(&self, name: &str) -> Option<&User> {
        self.users.get(name)
    }

    pub fn users(&self) -> impl Iterator<Item = &User> {
        self.users.values()
    }

    pub fn token(&self, id: &str) -> Option<&TokenRecord> {
        self.tokens.get(id)
    }

    pub fn tokens(&self) -> impl Iterator<Item = &TokenRecord> {
        self.tokens.values()
    }

    pub fn has_admin(&self) -> bool {
        self.users.values().any(|u| u.admin && !u.disabled)
    }
}

impl crate::event_store::Replayed for IdentityState {
    type Event = IdentityEvent;

    fn apply(&mut self, event: IdentityEvent) {
        IdentityState::apply(self, event);
    }
}

/// The store: state in memory, events in [`IDENTITIES_TOPIC`] (see [`crate::event_store`]).
pub struct IdentityStore {
    store: EventStore<IdentityState>,
}

/// The longest name of a user, service account or team.
pub const MAX_NAME_CHARS: usize = 100;
/// The most teams one identity is in.
pub const MAX_TEAMS: usize = 100;

/// Checks a user, service account or team name: 1 to 100 characters, letters, digits and `._-@+:`.
pub fn check_name(field: &str, name: &str) -> Result<()> {
    let ok_char = |c: char| c.is_alphanumeric() || "._-@+:".contains(c);
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || !name.chars().all(ok_char) {
        return Err(MeshError::InvalidRequest(format!(
            "{field}: '{name}' is not a valid name (1 to {MAX_NAME_CHARS} letters, digits and . _ - @ + :)"
        )));
    }
    if name.starts_with("system:") || name == crate::ANONYMOUS {
        return Err(MeshError::InvalidRequest(format!("{field}: '{name}' is reserved by the platform")));
    }
    Ok(())
}

/// Checks a team name: a domain's owning team is free text ("Customer Experience"), so 1 to 100
/// characters without control characters or surrounding spaces.
pub fn check_team(field: &str, team: &str) -> Result<()> {
    if team.trim().is_empty()
        || team.trim() != team
        || team.chars().count() > MAX_NAME_CHARS
        || team.chars().any(char::is_control)
    {
        return Err(MeshError::InvalidRequest(format!(
            "{field}: '{team}' is not a valid team name (1 to {MAX_NAME_CHARS} characters, no control characters or surrounding spaces)"
        )));
    }
    Ok(())
}

impl UserSpec {
    pub(crate) fn validate(&self) -> Result<()> {
        check_name("name", &self.name)?;
        if self.display_name.chars().count() > 200 || self.display_name.chars().any(char::is_control) {
            return Err(MeshError::InvalidRequest(
                "displayName: at most 200 characters, no control characters".to_string(),
            ));
        }
        if self.teams.len() > MAX_TEAMS {
            return Err(MeshError::InvalidRequest(format!("teams: at most {MAX_TEAMS} teams")));
        }
        for (i, team) in self.teams.iter().enumerate() {
            check_team(&format!("teams[{i}]"), team)?;
        }
        Ok(())
    }
}

impl IdentityStore {
    /// Opens the store, creating its topic on first start, and applies every stored event.
    pub fn open(log: Arc<dyn EventLog>) -> Result<IdentityStore> {
        let config = TopicConfig { retention_ms: None, ..TopicConfig::default() };
        Ok(IdentityStore { store: EventStore::open(log, IDENTITIES_TOPIC, config, Unreadable::Fail)? })
    }

    pub fn state(&self) -> RwLockReadGuard<'_, IdentityState> {
        self.store.state()
    }

    /// Applies what other servers on the same log appended since this one last read it.
    pub(crate) fn refresh(&self) -> Result<()> {
        self.store.refresh()
    }

    fn write<T>(&self, plan: impl FnOnce(&IdentityState) -> Result<(T, Vec<IdentityEvent>)>) -> Result<T> {
        self.store.write(plan)
    }

    /// Creates or replaces a user or service account (its kind and source never change).
    pub fn set_user(&self, principal: &str, spec: UserSpec, source: IdentitySource, now: i64) -> Result<User> {
        spec.validate()?;
        self.write(|state| {
            let existing = state.user(&spec.name);
            if let Some(existing) = existing {
                if existing.kind != spec.kind {
                    return Err(MeshError::InvalidRequest(format!(
                        "kind: '{}' is a {}; the kind of an identity never changes",
                        spec.name,
                        kind_name(existing.kind)
                    )));
                }
            }
            let mut teams = spec.teams.clone();
            teams.sort();
            teams.dedup();
            let user = User {
                name: spec.name.clone(),
                kind: spec.kind,
                display_name: spec.display_name.clone(),
                teams,
                admin: spec.admin,
                disabled: spec.disabled,
                source: existing.map_or(source, |e| e.source),
                created_at: existing.map_or(now, |e| e.created_at),
                updated_at: now,
            };
            if existing == Some(&user) {
                return Ok((user, Vec::new()));
            }
            Ok((user.clone(), vec![IdentityEvent::UserSet { user, principal: principal.to_string() }]))
        })
    }

    /// Deletes an identity and revokes its tokens.
    pub fn delete_user(&self, principal: &str, name: &str, now: i64) -> Result<User> {
        self.write(|state| {
            let user = state.user(name).cloned().ok_or_else(|| MeshError::UserNotFound(name.to_string()))?;
            let event =
                IdentityEvent::UserDeleted { name: name.to_string(), principal: principal.to_string(), at: now };
            Ok((user, vec![event]))
        })
    }

    /// A new token for `owner`: its record and its text, shown this once.
    pub fn create_token(
        &self,
        principal: &str,
        owner: &str,
        description: &str,
        scopes: Vec<Scope>,
        expires_at: Option<i64>,
        now: i64,
    ) -> Result<(TokenRecord, String)> {
        if description.chars().count() > 200 || description.chars().any(char::is_control) {
            return Err(MeshError::InvalidRequest(
                "description: at most 200 characters, no control characters".to_string(),
            ));
        }
        if expires_at.is_some_and(|at| at <= now) {
            return Err(MeshError::InvalidRequest("expiresAt: the expiry must be in the future".to_string()));
        }
        let mut scopes = if scopes.is_empty() { vec![Scope::Read, Scope::Write] } else { scopes };
        scopes.sort();
        scopes.dedup();
        let token = ApiToken::generate().map_err(|e| MeshError::Internal(e.to_string()))?;
        self.write(|state| {
            match state.user(owner) {
                None => return Err(MeshError::UserNotFound(owner.to_string())),
                Some(user) if user.disabled => {
                    return Err(MeshError::InvalidRequest(format!("'{owner}' is disabled: enable it first")))
                }
                Some(_) => {}
            }
            let record = TokenRecord {
                id: token.id.to_string(),
                principal: owner.to_string(),
                description: description.to_string(),
                scopes,
                created_at: now,
                created_by: principal.to_string(),
                expires_at,
                revoked_at: None,
                revoked_by: None,
                hash: String::new(),
            };
            let stored = StoredToken { record: record.clone(), hash: token.hash().to_hex() };
            Ok((
                (record, token.reveal()),
                vec![IdentityEvent::TokenCreated { token: stored, principal: principal.to_string() }],
            ))
        })
    }

    /// Revokes a token (revoking a revoked token changes nothing).
    pub fn revoke_token(&self, principal: &str, id: &str, now: i64) -> Result<TokenRecord> {
        self.write(|state| {
            let token = state.token(id).cloned().ok_or_else(|| MeshError::TokenNotFound(id.to_string()))?;
            if token.revoked_at.is_some() {
                return Ok((token, Vec::new()));
            }
            let mut after = token.clone();
            after.revoked_at = Some(now);
            after.revoked_by = Some(principal.to_string());
            let event = IdentityEvent::TokenRevoked { id: id.to_string(), principal: principal.to_string(), at: now };
            Ok((after, vec![event]))
        })
    }

    /// The identity a token's text signs in as, at `now`. Every refusal says the same to the caller
    /// (no oracle for which tokens exist); the reason goes to the audit record.
    pub fn authenticate(&self, text: &str, now: i64) -> std::result::Result<(User, TokenRecord), String> {
        let token = ApiToken::parse(text).map_err(|e| e.to_string())?;
        let state = self.state();
        let record = state.token(token.id.as_str()).ok_or("no such token")?;
        let stored = TokenHash::from_hex(&record.hash).ok_or("the stored token is unreadable")?;
        if !token.matches(&stored) {
            return Err("the token's secret does not match".to_string());
        }
        if record.revoked_at.is_some() {
            return Err(format!("token {} was revoked", record.id));
        }
        if record.expires_at.is_some_and(|at| now >= at) {
            return Err(format!("token {} expired", record.id));
        }
        let user = state.user(&record.principal).ok_or("the token's identity was deleted")?;
        if user.disabled {
            return Err(format!("'{}' is disabled", user.name));
        }
        Ok((user.clone(), record.clone()))
    }
}

/// Whether `text` could name a token id (for routes taking one).
pub fn is_token_id(text: &str) -> bool {
    TokenId::parse(text).is_some()
}

pub(crate) fn kind_name(kind: PrincipalKind) -> &'static str {
    match kind {
        PrincipalKind::User => "user",
        PrincipalKind::ServiceAccount => "service account",
    }
}
