//! `/api/v1/webhooks`: subscriptions to the mesh's events, their delivery log, and test deliveries
//! (the sender is [`crate::webhooks`]).

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use weft_mesh::webhooks::{CreatedWebhook, Delivery, Webhook, WebhookSpec};

use super::openapi::ErrorBody;
use super::{call, Ctx, JsonBody, PathParam};
use crate::error::ApiError;
use crate::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<Webhook>,
}

/// The caller's subscriptions (a platform admin's: everyone's).
#[utoipa::path(get, path = "/api/v1/webhooks", operation_id = "list_webhooks", tag = "webhooks",
    responses((status = 200, description = "Subscriptions", body = WebhookList)))]
pub async fn list(State(state): State<AppState>, Ctx(ctx): Ctx) -> Result<Json<WebhookList>, ApiError> {
    let webhooks = call(&state, move |mesh| Ok(mesh.list_webhooks(&ctx))).await?;
    Ok(Json(WebhookList { webhooks }))
}

/// Subscribes to event types: product.published, product.deprecated, product.retired, schema.changed,
/// access.requested, access.granted, access.revoked, contract.violated. The answer holds the signing
/// secret, shown once.
#[utoipa::path(post, path = "/api/v1/webhooks", operation_id = "create_webhook", tag = "webhooks", request_body = WebhookSpec,
    responses((status = 201, description = "The subscription and its secret", body = CreatedWebhook),
        (status = 422, description = "A bad URL or event type (42201)", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    JsonBody(spec): JsonBody<WebhookSpec>,
) -> Result<(StatusCode, Json<CreatedWebhook>), ApiError> {
    let created = call(&state, move |mesh| mesh.create_webhook(&ctx, spec)).await?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// Ends a subscription (its owner, or a platform admin).
#[utoipa::path(delete, path = "/api/v1/webhooks/{id}", operation_id = "delete_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "wh-N")),
    responses((status = 200, description = "The ended subscription", body = Webhook),
        (status = 404, description = "No such subscription of the caller's (40412)", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
) -> Result<Json<Webhook>, ApiError> {
    Ok(Json(call(&state, move |mesh| mesh.delete_webhook(&ctx, &id)).await?))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<Delivery>,
}

/// The subscription's latest delivery attempts (up to 200), oldest first.
#[utoipa::path(get, path = "/api/v1/webhooks/{id}/deliveries", tag = "webhooks",
    params(("id" = String, Path, description = "wh-N")),
    responses((status = 200, description = "Delivery attempts", body = DeliveryList),
        (status = 404, description = "No such subscription of the caller's (40412)", body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
) -> Result<Json<DeliveryList>, ApiError> {
    let deliveries = call(&state, move |mesh| mesh.webhook_deliveries(&ctx, &id)).await?;
    Ok(Json(DeliveryList { deliveries }))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TestDelivery {
    /// The ping event's id: its attempts appear in the delivery log under it.
    pub event_id: String,
}

/// Sends a `ping` event to the subscription (asynchronously; see its deliveries).
#[utoipa::path(post, path = "/api/v1/webhooks/{id}/test", operation_id = "test_webhook", tag = "webhooks",
    params(("id" = String, Path, description = "wh-N")),
    responses((status = 202, description = "The ping is queued", body = TestDelivery),
        (status = 404, description = "No such subscription of the caller's (40412)", body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    PathParam(id): PathParam,
    Ctx(ctx): Ctx,
) -> Result<(StatusCode, Json<TestDelivery>), ApiError> {
    let event_id = call(&state, move |mesh| mesh.test_webhook(&ctx, &id)).await?;
    Ok((StatusCode::ACCEPTED, Json(TestDelivery { event_id })))
}
