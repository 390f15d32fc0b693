//! Weft's HTTP server: the platform's REST API, the Confluent registry API, ksqlDB's API, the web
//! application, health and Prometheus metrics.
//!
//! **Architecture Invariant:** this is the only crate that knows HTTP, and it knows one other crate of
//! Weft's: the mesh ([`weft_mesh`]). A handler parses the request, builds the request's context (who
//! asks, the request id), calls one method of [`weft_mesh::Mesh`], and maps the answer; rules and
//! workflows live in the mesh and the domain crates. Everything `/api/v1` answers with on failure is an
//! [`ApiError`], one JSON shape: `{"error_code": <int>, "message": "..."}` with one code table
//! ([`ErrorCode`]).
//!
//! Routes (all JSON unless said otherwise):
//!
//! | method and path | what |
//! | --- | --- |
//! | `POST /api/v1/topics` | create a topic |
//! | `GET /api/v1/topics` | list topics (`?internal=true` includes the platform's own) |
//! | `GET`, `DELETE /api/v1/topics/{topic}` | describe, delete |
//! | `POST /api/v1/topics/{topic}/records` | produce a JSON array of records |
//! | `GET /api/v1/topics/{topic}/records` | read records by offset, position or timestamp |
//! | `GET /api/v1/topics/{topic}/records/stream` | live tail as server-sent events |
//! | `POST`, `GET /api/v1/groups/{group}/offsets` | commit, read a consumer group's offsets |
//! | `/api/v1/domains...`, `/api/v1/products...` | the stream catalog and products' data ([`api::catalog`]) |
//! | `POST /api/v1/products/from-sql` | a draft product from a stream or table a persistent query writes ([`api::from_sql`]) |
//! | `/api/v1/access-requests...`, `/api/v1/products/{id}/access-requests`, `.../grants` | access requests and grants ([`api::access`]) |
//! | `GET /api/v1/openapi.json` | the OpenAPI 3 document of every `/api/v1` route |
//! | `GET /health` | `{"status":"ok"}` |
//! | `GET /metrics` | Prometheus text format |
//! | `GET /ui/...`, and any other `GET` a browser makes (`/`, `/explore`, `/products/{id}`...) | the web application ([`web`]): its files and, for a browser's page request no other route answers, `index.html` (its router knows the pages) |
//! | `/registry/...` | the Confluent Schema Registry REST API ([`api::registry`]) |
//! | `POST /ksql`, `/query`, `/query-stream`, `/close-query`, `/inserts-stream`, `GET /info`, `/healthcheck` | ksqlDB's REST API over the SQL engine ([`api::ksql`]) |
//!
//! [`serve`] runs the server until a shutdown future completes; [`Server`] splits binding from running
//! so callers can learn the bound port; [`BackgroundServer`] runs one on its own thread (tests, embedding).

pub mod api;
pub mod auth;
pub mod config;
pub mod error;
pub mod forward;
pub mod listen;
pub mod metrics;
pub mod oidc_login;
pub mod tls;
pub mod web;
pub mod webhooks;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_mesh::{Mesh, MeshOptions};

pub use config::{
    AuthMode, ConfigLayer, FsyncPolicy, KafkaLayer, KafkaProperty, KafkaSettings, LogFormat, OidcConfig, ServerConfig,
};
pub use error::{ApiError, ErrorCode, ServerError};
pub use metrics::Metrics;
pub use weft_mesh;

/// The header carrying a request's id: taken from the client when it sends a usable one, else made
/// up; always echoed in the response, and in the request's log line and the changes it makes.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    /// The platform: every handler calls one of its methods.
    pub mesh: Arc<Mesh>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Who is asking: authentication, sessions, allowed hosts.
    pub auth: Arc<auth::Authenticator>,
    /// Set to `true` when the server begins to shut down, so endless responses (live tails) end.
    shutting_down: Arc<watch::Sender<bool>>,
    /// With several servers on one cluster: relays ordered writes to the leader ([`forward`]).
    pub forwarder: Option<Arc<forward::Forwarder>>,
}

/// Request limits taken from the [`ServerConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_records_per_request: usize,
}

impl AppState {
    pub fn new(mesh: Arc<Mesh>, limits: Limits, auth: Arc<auth::Authenticator>) -> Self {
        let metrics = Arc::new(Metrics::new(mesh.metrics().clone()));
        AppState { mesh, metrics, limits, auth, shutting_down: Arc::new(watch::channel(false).0), forwarder: None }
    }

    /// Ends live tails; called when graceful shutdown begins.
    pub fn begin_shutdown(&self) {
        self.shutting_down.send_replace(true);
    }

    fn shutdown_receiver(&self) -> watch::Receiver<bool> {
        self.shutting_down.subscribe()
    }
}

/// The whole HTTP API over `state`.
pub fn router(state: AppState) -> Router {
    Router::new()
        // Every /api/v1 route, listed where the OpenAPI document is checked against them.
        .merge(api::v1().into_router())
        .route("/health", get(health))
        .route("/metrics", get(render_metrics))
        .nest("/registry", api::registry::routes())
        .merge(api::ksql::routes())
        // The web application: /ui/... files, and the fallback of every other route: index.html for a
        // browser's page request, else the JSON 404.
        .merge(web::routes(web::WebSource::from_env()))
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), observe_http))
        .with_state(state)
}

async fn health() -> Json<serde_json::Value> {
    Json(serde_json::json!({"status": "ok"}))
}

async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("method {} is not allowed on {}", request.method(), request.uri().path()),
    )
}

/// A request's id, in its extensions (see [`REQUEST_ID_HEADER`]).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The client's request id when it is a usable one (1 to 100 visible ASCII characters).
fn client_request_id(request: &Request) -> Option<String> {
    let value = request.headers().get(REQUEST_ID_HEADER)?.to_str().ok()?.trim();
    let usable = !value.is_empty() && value.len() <= 100 && value.bytes().all(|b| b.is_ascii_graphic());
    usable.then(|| value.to_string())
}

/// The checks before any handler ([`auth`]): host, content type, credential, sign-in required,
/// write scope, CSRF, and the route's own authorization. The caller (when the credential signed in)
/// comes back either way, so that a refusal is audited under the principal it refused.
fn guard(state: &AppState, request: &Request) -> (Option<auth::Caller>, Result<(), ApiError>) {
    let headers = request.headers();
    let method = request.method();
    let path = request.uri().path();
    if let Err(refused) = state.auth.check_host(request.uri(), headers) {
        return (None, Err(refused));
    }
    // HTTP/2 has no Transfer-Encoding and may send no Content-Length: a body still to come is one too.
    let has_body = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .map_or(headers.contains_key(axum::http::header::TRANSFER_ENCODING), |len| len.trim() != "0")
        || !axum::body::HttpBody::is_end_stream(request.body());
    if let Err(refused) = auth::check_content_type(method, request.uri().path(), headers, has_body) {
        return (None, Err(refused));
    }
    let public = auth::is_public(method, path);
    let caller = match state.auth.authenticate(&state.mesh, headers) {
        Ok(caller) => caller,
        // A public route answers whoever asks: a stale cookie or an expired token (a page's file
        // loading while its user signs out, a sign-in replacing an expired session) is no caller.
        Err(_) if public => None,
        Err(refused) => return (None, Err(refused)),
    };
    if public {
        return (caller, Ok(()));
    }
    let Some(caller) = caller else {
        return (
            None,
            Err(auth::unauthenticated(
                "this route needs a credential: an API token as 'Authorization: Bearer <token>' (or basic auth with \
                 the token as password), or sign in to the web app",
            )),
        );
    };
    let checked = (|| {
        if let Some(limiter) = &state.auth.limiter {
            if let Err(wait) = limiter.take(&caller.identity.name) {
                return Err(ApiError::new(
                    ErrorCode::TooManyRequests,
                    format!(
                        "'{}' sent more than rate_limit requests per second: retry in {:.0} ms",
                        caller.identity.name,
                        (wait * 1000.0).ceil()
                    ),
                ));
            }
        }
        if auth::is_change(method, path) {
            if !caller.identity.may_write() {
                return Err(ApiError::new(
                    ErrorCode::NotAllowed,
                    format!(
                        "'{}' signed in with a read-only token: changes need the write scope",
                        caller.identity.name
                    ),
                ));
            }
            auth::check_csrf(&state.auth, &caller, request.uri(), headers)?;
        }
        let route = request.extensions().get::<MatchedPath>().map_or("", |p| p.as_str());
        auth::pre_authorize(&state.mesh, &caller.identity.name, method, route, path, request.uri().query())
    })();
    (Some(caller), checked)
}

/// A refusal in the shape the route's clients parse: Confluent's under `/registry` (the same fields,
/// its content type), ksqlDB's on its routes (`@type`), the API's elsewhere.
fn refusal_response(path: &str, error: ApiError) -> Response {
    if path.starts_with("/registry") {
        let mut response = error.into_response();
        response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(api::registry::CONTENT_TYPE_V1));
        return response;
    }
    if auth::is_ksql_path(path) {
        let status = error.status();
        let body =
            serde_json::json!({"@type": "generic_error", "error_code": error.error_code(), "message": error.message});
        return (status, [(CONTENT_TYPE, "application/json")], body.to_string()).into_response();
    }
    error.into_response()
}

/// Gives every request an id, authenticates it ([`guard`]), counts and times it, logs one line for it
/// (method, route, status, duration, principal, request id), records every change and every refusal
/// in the audit log, and turns any error response that is not yet in the API's JSON shape (an
/// extractor's or the framework's own) into one, so clients only ever parse one error shape.
async fn observe_http(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let request_id = client_request_id(&request).unwrap_or_else(weft_mesh::next_request_id);
    request.extensions_mut().insert(RequestId(request_id.clone()));
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |path| path.as_str()).to_string();
    let path = request.uri().path().to_string();
    let mut forwarding = None;
    if let Some(forwarder) = state.forwarder.clone() {
        let (destination, whole) = forwarder.route(request, state.limits.max_body_bytes).await;
        request = whole;
        forwarding = Some((destination, forwarder));
    }
    if let Some((destination, forwarder)) = forwarding.filter(|(destination, _)| !destination.is_here()) {
        let mut response = match destination {
            forward::Route::ToLeader => {
                // A web session lives here: it is checked here, and the leader gets its credential.
                let session = if forward::signed_in_by_session(request.headers()) {
                    state.auth.session_credential(&state.mesh, request.uri(), request.headers())
                } else {
                    Ok(None)
                };
                let session = match session {
                    Ok(session) => session,
                    Err(refused) => return refusal_response(&path, refused),
                };
                let response = forwarder.forward(request, state.limits.max_body_bytes, session).await;
                // Read your writes: the change is in the log once the leader answered; apply it
                // here before answering, so the caller's next read on this server finds it.
                if response.status().is_success() {
                    let mesh = state.mesh.clone();
                    if let Ok(Err(e)) = tokio::task::spawn_blocking(move || mesh.catch_up()).await {
                        tracing::warn!(error = %e, "cannot apply the forwarded change here yet");
                    }
                }
                response
            }
            forward::Route::TooLarge => ApiError::new(
                ErrorCode::TooLarge,
                "the request body is larger than the server's limit (max_body_bytes)".to_string(),
            )
            .into_response(),
            _ => forward::unavailable(
                "this server no longer leads the mesh's ordered writes: retry, and the server you ask forwards to \
                 the new leader",
            ),
        };
        // The leader checked, audited and logged the request itself.
        if let Ok(value) = HeaderValue::from_str(&request_id) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        let status = response.status().as_u16();
        state.metrics.record_http(&method, &route, status, started.elapsed());
        tracing::info!(
            target: "weft::http",
            method = method.as_str(),
            route = route.as_str(),
            status,
            duration_ms = started.elapsed().as_secs_f64() * 1000.0,
            request_id = request_id.as_str(),
            "request forwarded to the leader"
        );
        return response;
    }
    let change = auth::is_change(request.method(), &path);
    // SQL statements are audited with their text: the body is read here, then handed on unchanged.
    let mut detail = None;
    if change && path == "/ksql" {
        let (parts, body) = request.into_parts();
        let bytes = match axum::body::to_bytes(body, state.limits.max_body_bytes).await {
            Ok(bytes) => bytes,
            Err(_) => {
                let error = ApiError::new(
                    ErrorCode::TooLarge,
                    "the request body is larger than the server's limit (max_body_bytes)".to_string(),
                );
                return refusal_response(&path, error);
            }
        };
        detail = serde_json::from_slice::<serde_json::Value>(&bytes)
            .ok()
            .and_then(|v| v.get("ksql").and_then(|k| k.as_str()).map(str::to_string));
        request = Request::from_parts(parts, axum::body::Body::from(bytes));
    }
    // With an identity provider, signing in may fetch its keys or record a new user (blocking I/O):
    // the worker thread hands its other tasks on meanwhile. Tokens are checked in memory.
    let (caller, checked) = if state.auth.oidc().is_some() {
        tokio::task::block_in_place(|| guard(&state, &request))
    } else {
        guard(&state, &request)
    };
    let actor = caller.as_ref().map_or(weft_mesh::ANONYMOUS.to_string(), |c| c.identity.name.clone());
    let (actor, mut response) = match checked {
        Ok(()) => {
            if let Some(caller) = caller {
                request.extensions_mut().insert(caller);
            }
            (actor, next.run(request).await)
        }
        Err(refused) => {
            let mut response = refusal_response(&path, refused);
            if response.status() == axum::http::StatusCode::TOO_MANY_REQUESTS {
                response.headers_mut().insert(axum::http::header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            if response.status() == axum::http::StatusCode::UNAUTHORIZED {
                let challenge =
                    if path.starts_with("/registry") || path.starts_with("/ksql") || path.starts_with("/query") {
                        "Basic realm=\"weft\", Bearer realm=\"weft\""
                    } else {
                        "Bearer realm=\"weft\""
                    };
                response
                    .headers_mut()
                    .insert(axum::http::header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
            }
            (actor, response)
        }
    };
    let status = response.status();
    let is_json = response.headers().get(CONTENT_TYPE).and_then(|value| value.to_str().ok()).is_some_and(|value| {
        value.starts_with("application/json")
            || value.starts_with(api::registry::CONTENT_TYPE_V1)
            || value.starts_with(api::ksql::KSQL_CONTENT_TYPE)
    });
    if (status.is_client_error() || status.is_server_error()) && !is_json {
        let body = axum::body::to_bytes(response.into_body(), 64 * 1024).await.unwrap_or_default();
        let code = match status.as_u16() {
            413 => ErrorCode::TooLarge,
            404 => ErrorCode::RouteNotFound,
            405 => ErrorCode::MethodNotAllowed,
            400..=499 => ErrorCode::InvalidInput,
            503 => ErrorCode::Unavailable,
            _ => ErrorCode::Internal,
        };
        let text = String::from_utf8_lossy(&body).trim().to_string();
        let message = if text.is_empty() { status.to_string() } else { text };
        let mut converted = ApiError::new(code, message).into_response();
        *converted.status_mut() = status;
        response = converted;
    }
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let elapsed = started.elapsed();
    let status = response.status().as_u16();
    state.metrics.record_http(&method, &route, status, elapsed);
    if (change && !auth::is_data_write(&path)) || status == 401 || status == 403 {
        let outcome = match status {
            200..=399 => weft_mesh::security::audit::AuditOutcome::Ok,
            401 | 403 => weft_mesh::security::audit::AuditOutcome::Refused,
            _ => weft_mesh::security::audit::AuditOutcome::Failed,
        };
        let entry = weft_mesh::security::audit::AuditEntry {
            at: weft_mesh::now_ms(),
            principal: actor.clone(),
            action: format!("{method} {route}"),
            object: path.clone(),
            outcome,
            status: Some(status),
            request_id: request_id.clone(),
            detail,
            offset: 0,
        };
        let mesh = state.mesh.clone();
        let _ = tokio::task::spawn_blocking(move || mesh.record_audit(entry)).await;
    }
    tracing::info!(
        target: "weft::http",
        method = method.as_str(),
        route = route.as_str(),
        status,
        duration_ms = elapsed.as_secs_f64() * 1000.0,
        actor = actor.as_str(),
        request_id = request_id.as_str(),
        "request"
    );
    response
}

/// A server bound to its address with the platform open, not yet answering requests.
pub struct Server {
    listener: TcpListener,
    state: AppState,
    connections: listen::ConnectionLimits,
    bootstrap_token: Option<String>,
    webhook_retry: std::time::Duration,
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Server {
    /// Binds `config.listen` and opens the platform on the embedded log in `config.data_dir`.
    pub async fn bind(config: &ServerConfig) -> Result<Server, ServerError> {
        Server::bind_with(config, None, false).await
    }

    /// Binds `config.listen` and opens the platform on `log`, any backend of the log seam (a Kafka
    /// cluster's); `config.data_dir` and `config.fsync` are then unused.
    pub async fn bind_on(config: &ServerConfig, log: Arc<dyn weft_mesh::log::EventLog>) -> Result<Server, ServerError> {
        Server::bind_with(config, Some(log), false).await
    }

    /// [`Server::bind_on`] for one of several servers sharing `log`: the work one server does alone
    /// (persistent queries, raw input validation) waits for
    /// [`weft_mesh::Mesh::gate_background_work`] to say this server leads.
    pub async fn bind_shared(
        config: &ServerConfig,
        log: Arc<dyn weft_mesh::log::EventLog>,
    ) -> Result<Server, ServerError> {
        Server::bind_with(config, Some(log), true).await
    }

    async fn bind_with(
        config: &ServerConfig,
        log: Option<Arc<dyn weft_mesh::log::EventLog>>,
        shared: bool,
    ) -> Result<Server, ServerError> {
        // Certificates first: a bad file is refused before the platform opens.
        let tls = config.tls.as_ref().map(tls::acceptor).transpose()?;
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let mut options = MeshOptions::new(config.log_options());
        options.authorization = config.auth == AuthMode::Tokens;
        options.max_pull_rows = config.max_pull_rows;
        options.max_pull_bytes = config.max_pull_bytes;
        options.profile_snapshot_interval = std::time::Duration::from_millis(config.profile_snapshot_ms);
        options.json_schema.format = config.json_schema_format;
        options.await_leadership = shared;
        let mesh = tokio::task::spawn_blocking(move || match log {
            Some(log) => Mesh::open_on(log, &options),
            None => Mesh::open(options),
        })
        .await
        .map_err(|e| ServerError::Thread(e.to_string()))??;
        let bootstrap_token = mesh.bootstrap_admin()?;
        let limits =
            Limits { max_body_bytes: config.max_body_bytes, max_records_per_request: config.max_records_per_request };
        let listen = listener.local_addr().map_err(ServerError::Serve)?;
        let mut authenticator = auth::Authenticator::new(config, listen);
        authenticator.secure_cookies = tls.is_some();
        let authenticator = Arc::new(authenticator);
        let state = AppState::new(Arc::new(mesh), limits, authenticator);
        let connections = listen::ConnectionLimits {
            max_connections: config.max_connections,
            header_timeout: std::time::Duration::from_millis(config.header_timeout_ms),
        };
        let webhook_retry = std::time::Duration::from_millis(config.webhook_retry_ms);
        Ok(Server { listener, state, connections, bootstrap_token, webhook_retry, tls })
    }

    /// On the first start with authentication: the bootstrap admin's token, to print once.
    pub fn bootstrap_token(&self) -> Option<&str> {
        self.bootstrap_token.as_deref()
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Relays the platform's ordered writes to the server `leadership` names whenever this one does
    /// not lead (several servers on one Kafka cluster; see [`forward`]).
    pub fn forward_ordered_writes(&mut self, leadership: Arc<dyn forward::Leadership>) {
        self.state.forwarder = Some(Arc::new(forward::Forwarder::new(leadership)));
    }

    /// The platform this server serves (the demo drives its generators through it).
    pub fn mesh(&self) -> Arc<Mesh> {
        self.state.mesh.clone()
    }

    /// Answers requests until `shutdown` completes, then stops accepting connections, lets in-flight
    /// requests finish, ends live tails, and shuts the platform down.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Server { listener, state, connections, webhook_retry, tls, .. } = self;
        let stop_webhooks = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let sender = webhooks::start(&state.mesh, webhook_retry, stop_webhooks.clone()).map_err(ServerError::Serve)?;
        let app = router(state.clone());
        let signal_state = state.clone();
        let served = listen::serve(listener, app, connections, tls, async move {
            shutdown.await;
            signal_state.begin_shutdown();
        })
        .await
        .map_err(ServerError::Serve);
        stop_webhooks.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = tokio::task::spawn_blocking(move || sender.join()).await;
        // Whatever happened to the listener, the SQL engine's query threads stop, then the log is
        // flushed and closed.
        let mesh = state.mesh.clone();
        drop(state);
        let closed = tokio::task::spawn_blocking(move || mesh.shutdown())
            .await
            .map_err(|e| ServerError::Thread(e.to_string()))
            .and_then(|result| result.map_err(ServerError::from));
        served.and(closed)
    }
}

/// Binds, opens the platform and serves until `shutdown` completes (see [`Server::run`]).
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::bind(&config).await?.run(shutdown).await
}

/// Sends the process's log lines (requests, changes, warnings) to standard error, as text or JSON, at
/// the levels `filter` names (`tracing-subscriber`'s `EnvFilter` syntax, e.g. `info,weft::http=warn`);
/// the `WEFT_LOG` environment variable overrides `filter`. Call once, before serving.
pub fn init_logging(format: LogFormat, filter: &str) {
    let filter = std::env::var("WEFT_LOG").ok().filter(|f| !f.trim().is_empty()).unwrap_or_else(|| filter.to_string());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter).unwrap_or_else(|error| {
        eprintln!("weft: ignoring the log filter {filter:?} ({error}); logging at info");
        tracing_subscriber::EnvFilter::new("info")
    });
    // Colour codes only for a person at a terminal, never in a file or a log collector.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi).with_writer(std::io::stderr);
    // A second call (tests starting several servers) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// Completes on SIGINT (Ctrl-C) or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {}
        _ = terminate => {}
    }
}

/// A server running on its own thread with its own runtime, stopped by [`BackgroundServer::stop`] or drop.
pub struct BackgroundServer {
    addr: SocketAddr,
    bootstrap_token: Option<String>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl BackgroundServer {
    /// Starts a server and returns once it accepts connections (use port 0 to get a free port).
    pub fn start(config: ServerConfig) -> Result<BackgroundServer, ServerError> {
        BackgroundServer::start_with(config, None, None)
    }

    /// [`BackgroundServer::start`] on `log`, any backend of the log seam (see [`Server::bind_on`]).
    pub fn start_on(
        config: ServerConfig,
        log: Arc<dyn weft_mesh::log::EventLog>,
    ) -> Result<BackgroundServer, ServerError> {
        BackgroundServer::start_with(config, Some(log), None)
    }

    /// [`BackgroundServer::start_on`] for one of several servers on `log`, relaying ordered writes
    /// to the server `leadership` names (see [`Server::forward_ordered_writes`]).
    pub fn start_relaying(
        config: ServerConfig,
        log: Arc<dyn weft_mesh::log::EventLog>,
        leadership: Arc<dyn forward::Leadership>,
    ) -> Result<BackgroundServer, ServerError> {
        BackgroundServer::start_with(config, Some(log), Some(leadership))
    }

    fn start_with(
        config: ServerConfig,
        log: Option<Arc<dyn weft_mesh::log::EventLog>>,
        leadership: Option<Arc<dyn forward::Leadership>>,
    ) -> Result<BackgroundServer, ServerError> {
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("weft-server".into())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .map_err(ServerError::Serve)?;
                runtime.block_on(async move {
                    let server = match Server::bind_with(&config, log, false).await {
                        Ok(mut server) => {
                            if let Some(leadership) = leadership {
                                server.forward_ordered_writes(leadership);
                            }
                            server
                        }
                        Err(e) => {
                            let message = e.to_string();
                            let _ = ready_tx.send(Err(e));
                            return Err(ServerError::Thread(message));
                        }
                    };
                    let _ = ready_tx.send(server.local_addr().map(|addr| (addr, server.bootstrap_token.clone())));
                    server
                        .run(async move {
                            let _ = stop_rx.await;
                        })
                        .await
                })
            })
            .map_err(|e| ServerError::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok((addr, bootstrap_token))) => {
                Ok(BackgroundServer { addr, bootstrap_token, stop: Some(stop_tx), thread: Some(thread) })
            }
            Ok(Err(e)) => {
                let _ = thread.join();
                Err(e)
            }
            Err(_) => Err(match thread.join() {
                Ok(Err(e)) => e,
                _ => ServerError::Thread("the server thread ended before it was ready".into()),
            }),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bootstrap admin's token, when this start created it (see [`Server::bootstrap_token`]).
    pub fn bootstrap_token(&self) -> Option<&str> {
        self.bootstrap_token.as_deref()
    }

    /// `http://host:port`, without a trailing slash.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Shuts down gracefully and waits for the log to close.
    pub fn stop(mut self) -> Result<(), ServerError> {
        self.stop_and_join()
    }

    fn stop_and_join(&mut self) -> Result<(), ServerError> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        match self.thread.take() {
            Some(thread) => thread.join().map_err(|_| ServerError::Thread("the server thread panicked".into()))?,
            None => Ok(()),
        }
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        let _ = self.stop_and_join();
    }
}
