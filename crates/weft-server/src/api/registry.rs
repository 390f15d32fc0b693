//! The Confluent Schema Registry REST API, served under `/registry`.

use axum::Router;

use crate::AppState;

/// Routes relative to `/registry`.
pub fn routes() -> Router<AppState> {
    Router::new()
}
