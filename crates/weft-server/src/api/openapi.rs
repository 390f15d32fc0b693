//! The OpenAPI 3 document of every `/api/v1` route, generated from the handlers' annotations
//! (`#[utoipa::path]`) and served at `GET /api/v1/openapi.json`.
//!
//! Paths are listed by hand in [`ApiDoc`]; a test compares them with the routes [`super::v1`] registers,
//! method by method, so a route cannot be added without its documentation.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};
use utoipa::OpenApi;

use super::{domains, groups, insights, product_data, products, records, topics};
pub use crate::error::ErrorBody;

/// The document: `ApiDoc::openapi()`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Weft REST API",
        description = "Topics and records of the event log, consumer groups, and the stream catalog: domains, \
                       data products, their lifecycle, search, lineage, ODPS documents and their data. Every error \
                       is `{\"error_code\", \"message\"}`; the code is the HTTP status followed by two digits."
    ),
    paths(
        topics::list,
        topics::create,
        topics::describe,
        topics::delete,
        records::consume,
        records::produce,
        records::stream,
        groups::list,
        groups::commit,
        serve,
        domains::list,
        domains::create,
        domains::get,
        domains::update,
        domains::delete,
        domains::history,
        domains::products,
        products::list,
        products::create,
        products::apply,
        products::check,
        products::search,
        products::get,
        products::update,
        products::delete,
        products::publish,
        products::deprecate,
        products::retire,
        products::history,
        products::export_odps,
        products::import_odps,
        products::upstream,
        products::downstream,
        products::field_lineage,
        products::set_field_lineage,
        products::impact,
        product_data::sample,
        product_data::records,
        product_data::stream,
        product_data::export,
        insights::profile,
        insights::stats,
        super::from_sql::from_sql,
        super::access::request,
        super::access::list,
        super::access::approve,
        super::access::deny,
        super::access::revoke,
        super::access::grants,
        super::audit::history,
        super::sql_check::validate,
        super::security::whoami,
        super::security::sign_in,
        super::security::sign_out,
        super::security::oidc_start,
        super::security::oidc_callback,
        super::security::list_users,
        super::security::get_user,
        super::security::put_user,
        super::security::delete_user,
        super::security::list_tokens,
        super::security::create_token,
        super::security::revoke_token,
        super::security::audit,
        super::security::audit_stream,
        super::webhooks::list,
        super::webhooks::create,
        super::webhooks::delete,
        super::webhooks::deliveries,
        super::webhooks::test,
        super::governance::violations,
        super::governance::product_schema,
        super::product_sql::ensure,
        super::product_sql::list,
        super::governance::policies,
        super::governance::set_policies,
        super::governance::contract_failures,
        super::contracts::list,
        super::contracts::apply,
        super::contracts::get,
        super::contracts::export,
        super::contracts::test,
        super::contracts::product_contract,
        super::contracts::attach,
        super::contracts::detach,
        super::dead_letters::get,
        super::dead_letters::set,
        super::dead_letters::list,
        super::dead_letters::replay,
        super::dead_letters::drop,
    ),
    components(schemas(ErrorBody))
)]
pub struct ApiDoc;

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        // The error code table, from the one definition of the codes.
        let table: Vec<String> = crate::error::ErrorCode::ALL
            .iter()
            .map(|code| format!("| {} | {} |", *code as u32, code.meaning()))
            .collect();
        let description = doc.info.description.take().unwrap_or_default();
        doc.info.description =
            Some(format!("{description}\n\n| error_code | meaning |\n|---|---|\n{}", table.join("\n")));
        let mut document = match serde_json::to_value(&doc) {
            Ok(document) => document,
            Err(e) => {
                return serde_json::json!({"error_code": 50001, "message": format!("the OpenAPI document failed: {e}")})
                    .to_string()
            }
        };
        add_shared_refusals(&mut document);
        describe_event_streams(&mut document);
        serde_json::to_string_pretty(&document).unwrap_or_default()
    })
}

/// The refusals every operation can meet, made by the layers in front of the handlers (or by the
/// extractors every handler shares), added where a handler's annotation does not already say more.
const SHARED_REFUSALS: [(&str, &str, bool); 7] = [
    ("400", "A malformed request: unreadable JSON in the body (40001)", true),
    ("401", "Not signed in (40101), when authentication is on", false),
    ("403", "Not allowed (40304), or no grant to read the data (40307)", false),
    ("413", "The body is larger than the server accepts (41301)", true),
    ("415", "A body without a JSON (or YAML, where documented) content type (41501)", true),
    ("422", "An invalid path or query parameter, or body field (42201), or name (42202)", false),
    ("429", "Too many requests (42901), when a rate limit is set", false),
];

fn add_shared_refusals(document: &mut Value) {
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let has_body = operation.get("requestBody").is_some();
        let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
        for (status, description, needs_body) in SHARED_REFUSALS {
            if (has_body || !needs_body) && !responses.contains_key(status) {
                responses.insert(
                    status.to_string(),
                    json!({"description": description,
                           "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}),
                );
            }
        }
    }
}

/// A `text/event-stream` response is a sequence of events; OpenAPI has no word for that, so the
/// schema describes one event (the shape SSE clients and schemathesis parse each event into).
fn describe_event_streams(document: &mut Value) {
    let event = json!({
        "type": "object",
        "description": "One server-sent event: `data` is a JSON document, `id` its position when it has one",
        "required": ["data"],
        "properties": {
            "data": {"type": "string"}, "event": {"type": "string"}, "id": {"type": "string"},
            "retry": {"type": "integer"}
        }
    });
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for operation in paths.values_mut().filter_map(Value::as_object_mut).flat_map(|item| item.values_mut()) {
        let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { continue };
        for response in responses.values_mut() {
            if let Some(stream) = response.pointer_mut("/content/text~1event-stream") {
                stream["schema"] = json!({"$ref": "#/components/schemas/ServerSentEvent"});
            }
        }
    }
    if let Some(schemas) = document.pointer_mut("/components/schemas").and_then(Value::as_object_mut) {
        schemas.insert("ServerSentEvent".to_string(), event);
    }
}

/// This document.
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document of the API", body = Object)))]
pub async fn serve() -> Response {
    ([(CONTENT_TYPE, "application/json")], document()).into_response()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use serde_json::Value;

    #[test]
    fn the_document_describes_exactly_the_registered_routes() {
        let document: Value = serde_json::from_str(super::document()).unwrap();
        assert!(document["openapi"].as_str().is_some_and(|v| v.starts_with("3.")), "{}", document["openapi"]);
        let mut documented = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for method in ["get", "post", "put", "delete", "patch", "head", "options"] {
                if item.get(method).is_some() {
                    documented.insert((method.to_uppercase(), path.clone()));
                }
            }
        }
        let registered: BTreeSet<(String, String)> =
            crate::api::v1().routes().iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        let undocumented: Vec<_> = registered.difference(&documented).collect();
        let unrouted: Vec<_> = documented.difference(&registered).collect();
        assert!(undocumented.is_empty(), "routes without documentation: {undocumented:?}");
        assert!(unrouted.is_empty(), "documented routes that are not routed: {unrouted:?}");
    }

    #[test]
    fn operation_ids_are_unique() {
        // Generated clients name a method per operationId; two alike make one of them unreachable.
        let document: Value = serde_json::from_str(super::document()).unwrap();
        let mut seen = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap_or_else(|| panic!("{method} {path} has no id"));
                assert!(seen.insert(id.to_string()), "operationId {id} is used twice (again by {method} {path})");
            }
        }
    }

    #[test]
    fn every_reference_resolves() {
        fn refs<'a>(value: &'a Value, found: &mut Vec<&'a str>) {
            match value {
                Value::Object(map) => {
                    if let Some(Value::String(target)) = map.get("$ref") {
                        found.push(target);
                    }
                    map.values().for_each(|v| refs(v, found));
                }
                Value::Array(items) => items.iter().for_each(|v| refs(v, found)),
                _ => {}
            }
        }
        let document: Value = serde_json::from_str(super::document()).unwrap();
        let mut found = Vec::new();
        refs(&document, &mut found);
        assert!(found.len() > 10, "{found:?}");
        for target in found {
            let name = target.strip_prefix("#/components/schemas/").unwrap_or(target);
            assert!(document["components"]["schemas"].get(name).is_some(), "dangling reference {target}");
        }
    }
}
