//! Weft's HTTP server: a JSON REST API over the event log, plus health and Prometheus metrics.
//!
//! The handlers in [`api`] only translate HTTP into calls on an [`EventLog`] and back; the log owns every
//! rule about topics, records and offsets. Everything the API answers with on failure is an
//! [`ApiError`], one JSON shape: `{"error_code": <int>, "message": "..."}`.
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
//! | `GET /ui/...`, `GET /`, `/explore`, `/products/{id}`... | the web application ([`web`]): its files and, for its page URLs, `index.html` |
//! | `/registry/...` | the Confluent Schema Registry REST API ([`api::registry`]) |
//! | `POST /ksql`, `/query`, `/query-stream`, `/close-query`, `/inserts-stream`, `GET /info`, `/healthcheck` | ksqlDB's REST API over the SQL engine ([`api::ksql`]) |
//!
//! [`serve`] runs the server until a shutdown future completes; [`Server`] splits binding from running
//! so callers can learn the bound port; [`BackgroundServer`] runs one on its own thread (tests, embedding).

pub mod api;
pub mod config;
pub mod error;
pub mod metrics;
pub mod schemas;
pub mod web;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::AtomicU32;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{DefaultBodyLimit, MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use tokio::net::TcpListener;
use tokio::sync::watch;
use weft_catalog::Catalog;
use weft_log::{EmbeddedLog, EventLog};
use weft_registry::Registry;
use weft_sql::{Engine, EngineOptions};

pub use config::{ConfigLayer, FsyncPolicy, ServerConfig};
pub use error::{ApiError, ErrorCode, ServerError};
pub use metrics::Metrics;

/// What every handler shares.
#[derive(Clone)]
pub struct AppState {
    pub log: Arc<dyn EventLog>,
    /// The schema registry, served under `/registry` with the Confluent REST API.
    pub registry: Arc<Registry>,
    /// The stream catalog: domains and data products.
    pub catalog: Arc<Catalog>,
    /// The streaming SQL engine, served with ksqlDB's REST API ([`api::ksql`]).
    pub sql: Arc<Engine>,
    pub metrics: Arc<Metrics>,
    pub limits: Limits,
    /// Picks the partition for a produce request's records that have neither key nor partition.
    round_robin: Arc<AtomicU32>,
    /// Set to `true` when the server begins to shut down, so endless responses (live tails) end.
    shutting_down: Arc<watch::Sender<bool>>,
}

/// Request limits taken from the [`ServerConfig`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub max_body_bytes: usize,
    pub max_records_per_request: usize,
}

impl AppState {
    pub fn new(
        log: Arc<dyn EventLog>,
        registry: Arc<Registry>,
        catalog: Arc<Catalog>,
        sql: Arc<Engine>,
        limits: Limits,
    ) -> Self {
        AppState {
            log,
            registry,
            catalog,
            sql,
            metrics: Arc::new(Metrics::default()),
            limits,
            round_robin: Arc::new(AtomicU32::new(0)),
            shutting_down: Arc::new(watch::channel(false).0),
        }
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
        // The web application: /ui/... files and index.html for its page URLs.
        .merge(web::routes(web::WebSource::from_env()))
        .fallback(route_not_found)
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

async fn route_not_found(request: Request) -> ApiError {
    ApiError::new(ErrorCode::RouteNotFound, format!("no route for {} {}", request.method(), request.uri().path()))
}

async fn method_not_allowed(request: Request) -> ApiError {
    ApiError::new(
        ErrorCode::MethodNotAllowed,
        format!("method {} is not allowed on {}", request.method(), request.uri().path()),
    )
}

/// Counts and times every request, and turns any error response that is not yet in the API's JSON
/// shape (an extractor's or the framework's own) into one, so clients only ever parse one error shape.
async fn observe_http(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().to_string();
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |path| path.as_str()).to_string();
    let mut response = next.run(request).await;
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
    state.metrics.record_http(&method, &route, response.status().as_u16(), started.elapsed());
    response
}

/// A server bound to its address with its log open, not yet answering requests.
pub struct Server {
    listener: TcpListener,
    log: Arc<EmbeddedLog>,
    state: AppState,
}

impl Server {
    /// Binds `config.listen` and opens the embedded log in `config.data_dir`.
    pub async fn bind(config: &ServerConfig) -> Result<Server, ServerError> {
        let listener = TcpListener::bind(config.listen)
            .await
            .map_err(|source| ServerError::Bind { addr: config.listen, source })?;
        let options = config.log_options();
        // The platform's state is rebuilt from the log: the registry first, since the catalog reads
        // schemas while it indexes.
        let (log, registry, catalog, sql) = tokio::task::spawn_blocking(move || {
            let log = EmbeddedLog::open(options)?;
            let shared: Arc<dyn EventLog> = log.clone();
            let registry = Arc::new(Registry::open(shared.clone())?);
            let lookup = Arc::new(schemas::RegistrySchemas::new(registry.clone()));
            let catalog = Arc::new(Catalog::open(shared.clone(), lookup)?);
            // The SQL engine last: its persistent queries start running as soon as it opens.
            let sql_registry = Arc::new(schemas::SqlSchemas::new(registry.clone()));
            let engine_options = EngineOptions {
                background: true,
                schema_registry: Some(weft_sql::registry::RegistryHandle(sql_registry)),
                ..EngineOptions::default()
            };
            let sql = Arc::new(Engine::open(shared, engine_options)?);
            // Dropping a stream or table that published data products depend on is refused.
            sql.set_drop_guard(Arc::new(api::from_sql::CatalogDropGuard(catalog.clone())));
            Ok::<_, ServerError>((log, registry, catalog, sql))
        })
        .await
        .map_err(|e| ServerError::Thread(e.to_string()))??;
        let limits =
            Limits { max_body_bytes: config.max_body_bytes, max_records_per_request: config.max_records_per_request };
        let state = AppState::new(log.clone(), registry, catalog, sql, limits);
        Ok(Server { listener, log, state })
    }

    /// The address actually bound (useful with port 0).
    pub fn local_addr(&self) -> Result<SocketAddr, ServerError> {
        self.listener.local_addr().map_err(ServerError::Serve)
    }

    /// Answers requests until `shutdown` completes, then stops accepting connections, lets in-flight
    /// requests finish, ends live tails, and shuts the log down.
    pub async fn run(self, shutdown: impl Future<Output = ()> + Send + 'static) -> Result<(), ServerError> {
        let Server { listener, log, state } = self;
        let app = router(state.clone());
        let signal_state = state.clone();
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                signal_state.begin_shutdown();
            })
            .await
            .map_err(ServerError::Serve);
        // Whatever happened to the listener, the SQL engine's query threads stop, then the log is
        // flushed and closed.
        let sql = state.sql.clone();
        drop(state);
        let closed = tokio::task::spawn_blocking(move || {
            sql.shutdown();
            log.shutdown()
        })
        .await
        .map_err(|e| ServerError::Thread(e.to_string()))
        .and_then(|result| result.map_err(ServerError::from));
        served.and(closed)
    }
}

/// Binds, opens the log and serves until `shutdown` completes (see [`Server::run`]).
pub async fn serve(
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServerError> {
    Server::bind(&config).await?.run(shutdown).await
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
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), ServerError>>>,
}

impl BackgroundServer {
    /// Starts a server and returns once it accepts connections (use port 0 to get a free port).
    pub fn start(config: ServerConfig) -> Result<BackgroundServer, ServerError> {
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
                    let server = match Server::bind(&config).await {
                        Ok(server) => server,
                        Err(e) => {
                            let message = e.to_string();
                            let _ = ready_tx.send(Err(e));
                            return Err(ServerError::Thread(message));
                        }
                    };
                    let _ = ready_tx.send(server.local_addr());
                    server
                        .run(async move {
                            let _ = stop_rx.await;
                        })
                        .await
                })
            })
            .map_err(|e| ServerError::Thread(e.to_string()))?;
        match ready_rx.recv() {
            Ok(Ok(addr)) => Ok(BackgroundServer { addr, stop: Some(stop_tx), thread: Some(thread) }),
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
