//! Signing in, identities, API tokens and the audit log.
//!
//! - `/api/v1/session`: the web app's sign-in (a token in, an `HttpOnly` `SameSite=Strict` session
//!   cookie and a CSRF token out), who is signed in, sign-out.
//! - `/api/v1/users...`: users and service accounts (platform admins change them).
//! - `/api/v1/tokens...`: API tokens, shown once, listed without secrets, revoked.
//! - `/api/v1/audit`: every change and refusal, filtered, newest first; `/audit/stream` follows it live.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use weft_mesh::auth::Credential;
use weft_mesh::security::audit::{AuditEntry, AuditOutcome, AuditPage, AuditQuery};
use weft_mesh::security::identities::{TokenRecord, User, UserSpec};
use weft_mesh::security::{CreatedToken, Identity, TokenRequest};

use super::openapi::ErrorBody;
use super::{call, Ctx, JsonBody, PathParam, QueryParams};
use crate::auth::Caller;
use crate::config::AuthMode;
use crate::error::{ApiError, ErrorCode};
use crate::AppState;

// ----- session -----

/// Who is signed in, and how this server signs people in.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionAnswer {
    pub signed_in: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    /// For changes made with the session cookie: send it back as `X-Weft-CSRF`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub csrf_token: Option<String>,
    /// `tokens` or `none` (a development server trusting `X-Weft-Actor`).
    pub auth: String,
    /// The OpenID Connect issuer accepted, when one is configured.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oidc_issuer: Option<String>,
}

fn session_answer(state: &AppState, caller: Option<&Caller>) -> SessionAnswer {
    SessionAnswer {
        signed_in: caller.is_some(),
        identity: caller.map(|c| c.identity.clone()),
        csrf_token: caller.and_then(|c| c.session.as_deref()).and_then(|s| state.auth.csrf_of(s)),
        auth: state.auth.mode().to_string(),
        oidc_issuer: state.auth.oidc().map(|v| v.settings().issuer.clone()),
    }
}

/// Who is signed in (also without a credential: `signedIn` is then false).
#[utoipa::path(get, path = "/api/v1/session", tag = "security",
    responses((status = 200, description = "The caller, if signed in, and the server's sign-in methods", body = SessionAnswer),
        (status = 401, description = "A credential was given and does not sign in (40101)", body = ErrorBody)))]
pub async fn whoami(State(state): State<AppState>, caller: Option<Extension<Caller>>) -> Json<SessionAnswer> {
    Json(session_answer(&state, caller.as_ref().map(|Extension(c)| c)))
}

/// A credential to open a web session with.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignInRequest {
    /// An API token (or an OpenID Connect JWT of the configured issuer).
    pub token: String,
}

/// Opens a web session: an `HttpOnly`, `SameSite=Strict` cookie, and a CSRF token for changes.
#[utoipa::path(post, path = "/api/v1/session", tag = "security", request_body = SignInRequest,
    responses((status = 200, description = "Signed in; the cookie is set", body = SessionAnswer),
        (status = 401, description = "The token does not sign in (40101)", body = ErrorBody)))]
pub async fn sign_in(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<SignInRequest>,
) -> Result<Response, ApiError> {
    if state.auth.mode() == AuthMode::None {
        return Err(ApiError::invalid(
            "this development server has no authentication: it acts as whoever X-Weft-Actor names",
        ));
    }
    let token = request.token.trim().to_string();
    let auth = state.auth.clone();
    let credential = Credential::Bearer(token.clone());
    let identity = call(&state, move |mesh| Ok(auth.sign_in(mesh, &credential))).await??;
    let (session, csrf) = state.auth.open_session(&token)?;
    let answer = SessionAnswer {
        signed_in: true,
        identity: Some(identity),
        csrf_token: Some(csrf),
        auth: state.auth.mode().to_string(),
        oidc_issuer: state.auth.oidc().map(|v| v.settings().issuer.clone()),
    };
    let mut response = Json(answer).into_response();
    if let Ok(cookie) = HeaderValue::from_str(&state.auth.session_cookie(Some(&session))) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

/// Ends the web session and clears its cookie.
#[utoipa::path(delete, path = "/api/v1/session", tag = "security",
    responses((status = 204, description = "Signed out")))]
pub async fn sign_out(State(state): State<AppState>, caller: Option<Extension<Caller>>) -> Response {
    if let Some(session) = caller.as_ref().and_then(|Extension(c)| c.session.as_deref()) {
        state.auth.close_session(session);
    }
    let mut response = StatusCode::NO_CONTENT.into_response();
    if let Ok(cookie) = HeaderValue::from_str(&state.auth.session_cookie(None)) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    response
}

/// Where the identity provider sends the browser back: this server, as the browser reached it.
fn callback_url(state: &AppState, uri: &Uri, headers: &HeaderMap) -> Result<String, ApiError> {
    let host = crate::auth::host_of(uri, headers).ok_or_else(|| ApiError::invalid("the request names no Host"))?;
    let scheme = if state.auth.secure_cookies { "https" } else { "http" };
    Ok(format!("{scheme}://{host}/api/v1/session/oidc/callback"))
}

/// Starts signing in with the identity provider (authorization code with PKCE): redirects there.
#[utoipa::path(get, path = "/api/v1/session/oidc", tag = "security",
    responses((status = 302, description = "To the identity provider's authorization endpoint"),
        (status = 404, description = "No identity provider is configured (40413)", body = ErrorBody),
        (status = 503, description = "The identity provider cannot be reached (50301)", body = ErrorBody)))]
pub async fn oidc_start(State(state): State<AppState>, uri: Uri, headers: HeaderMap) -> Result<Response, ApiError> {
    let Some(_) = &state.auth.login else {
        return Err(ApiError::new(ErrorCode::NoIdentityProvider, "this server has no identity provider (oidc_issuer)"));
    };
    let redirect = callback_url(&state, &uri, &headers)?;
    let auth = state.auth.clone();
    let location = tokio::task::spawn_blocking(move || auth.login.as_ref().map(|login| login.start(&redirect)))
        .await
        .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
        .unwrap_or_else(|| Err("no identity provider".into()))
        .map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("the identity provider: {e}")))?;
    let mut response = StatusCode::FOUND.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(axum::http::header::LOCATION, value);
    }
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CallbackParams {
    pub code: Option<String>,
    pub state: Option<String>,
    /// The provider's refusal, when it refused.
    pub error: Option<String>,
    pub error_description: Option<String>,
}

/// Where the identity provider sends the browser back: the code is exchanged (with the PKCE
/// verifier), the ID token verified, a session opened, and the browser sent home.
#[utoipa::path(get, path = "/api/v1/session/oidc/callback", tag = "security", params(CallbackParams),
    responses((status = 302, description = "Signed in; to the web app, with the session cookie"),
        (status = 401, description = "The sign-in failed: unknown state, refused code, bad token (40101)", body = ErrorBody)))]
pub async fn oidc_callback(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    QueryParams(params): QueryParams<CallbackParams>,
) -> Result<Response, ApiError> {
    if let Some(error) = params.error {
        let detail = params.error_description.unwrap_or_default();
        return Err(crate::auth::unauthenticated(&format!("the identity provider refused: {error} {detail}")));
    }
    let (Some(code), Some(flow)) = (params.code, params.state) else {
        return Err(ApiError::invalid("the callback needs code and state"));
    };
    let redirect = callback_url(&state, &uri, &headers)?;
    let auth = state.auth.clone();
    let token = tokio::task::spawn_blocking(move || match &auth.login {
        Some(login) => login.finish(&flow, &code, &redirect),
        None => Err("no identity provider".into()),
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, e.to_string()))?
    .map_err(|e| crate::auth::unauthenticated(&e))?;
    let auth = state.auth.clone();
    let credential = Credential::Bearer(token.clone());
    call(&state, move |mesh| Ok(auth.sign_in(mesh, &credential))).await??;
    let (session, _) = state.auth.open_session(&token)?;
    let mut response = StatusCode::FOUND.into_response();
    response.headers_mut().insert(axum::http::header::LOCATION, HeaderValue::from_static("/"));
    if let Ok(cookie) = HeaderValue::from_str(&state.auth.session_cookie(Some(&session))) {
        response.headers_mut().insert(SET_COOKIE, cookie);
    }
    Ok(response)
}

// ----- users and service accounts -----

#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<User>,
}

/// Every user and service account (names, teams, roles; never credentials).
#[utoipa::path(get, path = "/api/v1/users", tag = "security",
    responses((status = 200, description = "Users and service accounts", body = UserList)))]
pub async fn list_users(State(state): State<AppState>) -> Result<Json<UserList>, ApiError> {
    let users = call(&state, |mesh| Ok(mesh.users())).await?;
    Ok(Json(UserList { users }))
}

#[utoipa::path(get, path = "/api/v1/users/{name}", tag = "security",
    params(("name" = String, Path, description = "The user or service account")),
    responses((status = 200, description = "The identity", body = User),
        (status = 404, description = "No such identity (40410)", body = ErrorBody)))]
pub async fn get_user(State(state): State<AppState>, PathParam(name): PathParam) -> Result<Json<User>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.user(&name)).await?))
}

/// Creates or replaces a user or service account (platform admins only).
#[utoipa::path(put, path = "/api/v1/users/{name}", tag = "security", request_body = UserSpec,
    params(("name" = String, Path, description = "The user or service account")),
    responses((status = 200, description = "The identity as stored", body = User),
        (status = 403, description = "Not a platform admin (40304)", body = ErrorBody),
        (status = 422, description = "An invalid name, team or field (42201)", body = ErrorBody)))]
pub async fn put_user(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    Ctx(ctx): Ctx,
    JsonBody(spec): JsonBody<UserSpec>,
) -> Result<Json<User>, ApiError> {
    if spec.name != name {
        return Err(ApiError::invalid(format!("name: the body names '{}', the path '{name}'", spec.name)));
    }
    Ok(Json(call(&state, move |mesh| mesh.set_user(&ctx, spec)).await?))
}

/// Deletes a user or service account and revokes its tokens (platform admins only).
#[utoipa::path(delete, path = "/api/v1/users/{name}", tag = "security",
    params(("name" = String, Path, description = "The user or service account")),
    responses((status = 200, description = "The deleted identity", body = User),
        (status = 403, description = "Not a platform admin (40304)", body = ErrorBody),
        (status = 404, description = "No such identity (40410)", body = ErrorBody)))]
pub async fn delete_user(
    State(state): State<AppState>,
    PathParam(name): PathParam,
    Ctx(ctx): Ctx,
) -> Result<Json<User>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.delete_user(&ctx, &name)).await?))
}

// ----- tokens -----

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TokenQuery {
    /// Only this identity's tokens (platform admins; others see their own).
    pub principal: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenRecord>,
}

/// API tokens without their secrets: the caller's, or (platform admins) everyone's.
#[utoipa::path(get, path = "/api/v1/tokens", tag = "security", params(TokenQuery),
    responses((status = 200, description = "Tokens, without secrets", body = TokenList),
        (status = 403, description = "Another identity's tokens, not being an admin (40304)", body = ErrorBody)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    QueryParams(query): QueryParams<TokenQuery>,
) -> Result<Json<TokenList>, ApiError> {
    let tokens = call(&state, move |mesh| mesh.tokens(&ctx, query.principal.as_deref())).await?;
    Ok(Json(TokenList { tokens }))
}

/// A new API token, shown once in the answer (`token`); only its hash is stored.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "security", request_body = TokenRequest,
    responses((status = 201, description = "The token; its text is never shown again", body = CreatedToken),
        (status = 403, description = "A token for someone else, not being an admin (40304)", body = ErrorBody),
        (status = 404, description = "No such identity (40410)", body = ErrorBody)))]
pub async fn create_token(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBody(request): JsonBody<TokenRequest>,
) -> Result<(StatusCode, HeaderMap, Json<CreatedToken>), ApiError> {
    let created = call(&state, move |mesh| mesh.create_token(&ctx, request)).await?;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok((StatusCode::CREATED, headers, Json(created)))
}

/// Revokes a token (one's own, or as a platform admin anyone's); it stops working at once.
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "security",
    params(("id" = String, Path, description = "The token's id (16 hex digits)")),
    responses((status = 200, description = "The revoked token", body = TokenRecord),
        (status = 403, description = "Another identity's token, not being an admin (40304)", body = ErrorBody),
        (status = 404, description = "No such token (40411)", body = ErrorBody)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
) -> Result<Json<TokenRecord>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.revoke_token(&ctx, &id)).await?))
}

// ----- audit -----

#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Only this principal's entries.
    pub principal: Option<String>,
    /// Only entries whose object contains this (e.g. a product id).
    pub object: Option<String>,
    /// Only entries whose action contains this (e.g. `DELETE`, `/publish`).
    pub action: Option<String>,
    /// ok, refused or failed.
    #[param(value_type = Option<String>)]
    pub outcome: Option<AuditOutcome>,
    /// Entries at or after (epoch ms).
    pub since: Option<i64>,
    /// Entries before (epoch ms).
    pub until: Option<i64>,
    /// Entries older than this offset (the `nextBefore` of the previous page).
    pub before: Option<u64>,
    /// 1 to 1000 (default 100).
    pub limit: Option<usize>,
}

/// Every change and every refused request, newest first (platform admins only).
#[utoipa::path(get, path = "/api/v1/audit", tag = "security", params(AuditParams),
    responses((status = 200, description = "A page of audit entries", body = AuditPage),
        (status = 403, description = "Not a platform admin (40304)", body = ErrorBody)))]
pub async fn audit(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    QueryParams(params): QueryParams<AuditParams>,
) -> Result<Json<AuditPage>, ApiError> {
    let limit = params.limit.unwrap_or(100);
    if !(1..=weft_mesh::security::audit::MAX_AUDIT_PAGE).contains(&limit) {
        return Err(ApiError::invalid(format!("invalid query: limit must be between 1 and 1000, not {limit}")));
    }
    let query = AuditQuery {
        principal: params.principal,
        object: params.object,
        action: params.action,
        outcome: params.outcome,
        since: params.since,
        until: params.until,
        before: params.before,
        limit,
    };
    Ok(Json(call(&state, move |mesh| mesh.audit(&ctx, &query)).await?))
}

/// The audit log live, as server-sent events (one entry per event), from now on (platform admins only).
#[utoipa::path(get, path = "/api/v1/audit/stream", tag = "security",
    responses((status = 200, description = "Server-sent events, one audit entry each", content_type = "text/event-stream", body = String),
        (status = 403, description = "Not a platform admin (40304)", body = ErrorBody)))]
pub async fn audit_stream(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let (start, watermark) = call(&state, move |mesh| {
        let log = mesh.audit_log(&ctx)?;
        let watermark = log.subscribe()?;
        Ok((log.end_offset()?, watermark))
    })
    .await?;
    let (sender, receiver) = tokio::sync::mpsc::channel::<Event>(256);
    let mut shutdown = state.shutdown_receiver();
    let follow_state = state.clone();
    tokio::spawn(async move {
        let (mut offset, mut watermark) = (start, watermark);
        loop {
            let mesh = follow_state.mesh.clone();
            let from = offset;
            let read = tokio::task::spawn_blocking(move || {
                let ctx = weft_mesh::RequestContext::system("audit-feed");
                mesh.audit_log(&ctx).and_then(|log| log.read_from(from))
            })
            .await;
            let Ok(Ok((entries, next))) = read else { return };
            offset = next;
            for entry in entries {
                let event = Event::default().id(entry.offset.to_string()).data(entry_json(&entry));
                if sender.send(event).await.is_err() {
                    return;
                }
            }
            if *watermark.borrow_and_update() > offset {
                continue;
            }
            tokio::select! {
                changed = watermark.changed() => if changed.is_err() { return },
                _ = shutdown.changed() => return,
                _ = sender.closed() => return,
            }
        }
    });
    let events = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|event| (Ok(event), receiver))
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

fn entry_json(entry: &AuditEntry) -> String {
    serde_json::to_string(entry).unwrap_or_else(|_| "{}".to_string())
}
