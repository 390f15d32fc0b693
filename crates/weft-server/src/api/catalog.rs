//! `/api/v1/domains` and `/api/v1/products`: the stream catalog.

use axum::Router;

use crate::AppState;

/// The catalog's routes (absolute paths under `/api/v1`).
pub fn routes() -> Router<AppState> {
    Router::new()
}
