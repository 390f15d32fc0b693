//! The Confluent Schema Registry REST API, served under `/registry`, so a Confluent client (serializers,
//! `SchemaRegistryClient`, `curl` from the Confluent docs) configured with `http://HOST:PORT/registry`
//! works unchanged.
//!
//! Each handler parses the request, calls the one [`Registry`] method its endpoint maps to (see the table
//! in `weft_registry::registry`) on the blocking pool, and renders the answer; changes go through the
//! mesh's methods of the same name, which record who made them and re-index the catalog's products
//! whose schemas changed. Request bodies are read as JSON whatever their JSON content type
//! (`application/vnd.schemaregistry.v1+json`, `application/vnd.schemaregistry+json`,
//! `application/json`); a body without one, or as `text/plain` or a form, is refused before it gets
//! here (see [`crate::auth`]: a cross-origin page could send those). Answers are
//! `application/vnd.schemaregistry.v1+json`. Errors are Confluent's: `{"error_code", "message"}` with the
//! codes of [`RegistryError::status_and_code`], and for what the registry library never sees (a body
//! that is not JSON, an unknown route) the codes Confluent's REST layer uses: the HTTP status itself
//! (400, 404, 405, 413, 422).

use std::str::FromStr;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::json;
use weft_mesh::registry::api::{ConfigResponse, ConfigUpdate, ErrorBody, IdResponse, ModeBody};
use weft_mesh::registry::{
    DeletedFilter, RegisterRequest, Registry, RegistryError, SchemaFormat, SchemaId, VersionSpec,
};
use weft_mesh::{Mesh, MeshError};

use super::Ctx;

use crate::AppState;

/// The content type of every answer under `/registry`.
pub const CONTENT_TYPE_V1: &str = "application/vnd.schemaregistry.v1+json";

/// Routes relative to `/registry`.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(root))
        .route("/schemas", get(schemas))
        .route("/schemas/types", get(schema_types))
        .route("/schemas/ids/{id}", get(schema_by_id))
        .route("/schemas/ids/{id}/schema", get(schema_text_by_id))
        .route("/schemas/ids/{id}/versions", get(versions_of_id))
        .route("/schemas/ids/{id}/subjects", get(subjects_of_id))
        .route("/subjects", get(subjects))
        .route("/subjects/{subject}", post(lookup).delete(delete_subject))
        .route("/subjects/{subject}/versions", get(versions).post(register))
        .route("/subjects/{subject}/metadata", get(latest_with_metadata))
        .route("/subjects/{subject}/versions/{version}", get(version).delete(delete_version))
        .route("/subjects/{subject}/versions/{version}/schema", get(version_schema_text))
        .route("/subjects/{subject}/versions/{version}/referencedby", get(referenced_by))
        .route("/compatibility/subjects/{subject}/versions", post(check_compatibility_all))
        .route("/compatibility/subjects/{subject}/versions/{version}", post(check_compatibility_version))
        .route("/config", get(config).put(set_config).delete(delete_config))
        .route("/config/{subject}", get(subject_config).put(set_subject_config).delete(delete_subject_config))
        .route("/mode", get(mode).put(set_mode).delete(delete_mode))
        .route("/mode/{subject}", get(subject_mode).put(set_subject_mode).delete(delete_subject_mode))
        .fallback(route_not_found)
        .method_not_allowed_fallback(method_not_allowed)
}

// ----- the answer and the error -----

/// A `200 OK` answer with Confluent's content type.
pub struct Reply(Vec<u8>);

impl Reply {
    fn json<T: Serialize>(value: &T) -> Result<Reply, SchemaRegistryError> {
        serde_json::to_vec(value)
            .map(Reply)
            .map_err(|e| SchemaRegistryError::new(500, 50001, format!("cannot render the answer: {e}")))
    }

    /// A schema's own text (`/schema` endpoints): sent as stored, not as a JSON string.
    fn text(text: String) -> Reply {
        Reply(text.into_bytes())
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        ([(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_V1))], self.0).into_response()
    }
}

/// An error in Confluent's shape: the HTTP status and `{"error_code": .., "message": ..}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaRegistryError {
    pub status: u16,
    pub body: ErrorBody,
}

impl SchemaRegistryError {
    fn new(status: u16, error_code: u32, message: impl Into<String>) -> Self {
        SchemaRegistryError { status, body: ErrorBody { error_code, message: message.into() } }
    }

    /// Errors of the REST layer itself, which Confluent codes with the bare HTTP status.
    fn http(status: u16, message: impl Into<String>) -> Self {
        Self::new(status, u32::from(status), message)
    }
}

impl From<RegistryError> for SchemaRegistryError {
    fn from(error: RegistryError) -> Self {
        let (status, body) = ErrorBody::from_error(&error);
        SchemaRegistryError { status, body }
    }
}

impl IntoResponse for SchemaRegistryError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let body = serde_json::to_vec(&self.body).unwrap_or_default();
        (status, [(CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE_V1))], body).into_response()
    }
}

type Answer = Result<Reply, SchemaRegistryError>;

async fn route_not_found() -> SchemaRegistryError {
    SchemaRegistryError::http(404, "HTTP 404 Not Found")
}

async fn method_not_allowed() -> SchemaRegistryError {
    SchemaRegistryError::http(405, "HTTP 405 Method Not Allowed")
}

/// Runs a registry read on the blocking pool.
async fn call<T, F>(state: &AppState, f: F) -> Result<T, SchemaRegistryError>
where
    F: FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
    T: Send + 'static,
{
    let mesh = state.mesh.clone();
    match tokio::task::spawn_blocking(move || f(mesh.registry())).await {
        Ok(result) => result.map_err(SchemaRegistryError::from),
        Err(e) => Err(SchemaRegistryError::new(500, 50001, format!("a registry call failed: {e}"))),
    }
}

/// Runs a registry change through the mesh on the blocking pool: writes append to the log and may wait
/// on fsync.
async fn change<T, F>(state: &AppState, f: F) -> Result<T, SchemaRegistryError>
where
    F: FnOnce(&Mesh) -> Result<T, MeshError> + Send + 'static,
    T: Send + 'static,
{
    let mesh = state.mesh.clone();
    match tokio::task::spawn_blocking(move || f(&mesh)).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(MeshError::Registry(error))) => Err(SchemaRegistryError::from(error)),
        // Confluent's codes for a principal denied an operation, and for a missing credential.
        Ok(Err(denied @ MeshError::Forbidden { .. })) => Err(SchemaRegistryError::new(403, 40301, denied.to_string())),
        Ok(Err(denied @ MeshError::Unauthenticated(_))) => {
            Err(SchemaRegistryError::new(401, 40101, denied.to_string()))
        }
        Ok(Err(other)) => Err(SchemaRegistryError::new(500, 50001, other.to_string())),
        Err(e) => Err(SchemaRegistryError::new(500, 50001, format!("a registry call failed: {e}"))),
    }
}

// ----- extractors -----

/// A JSON request body, whatever its content type. Like Confluent's REST layer: a body that is not
/// JSON, or has a field of the wrong type, is 400 (error code 400); an empty body or a missing
/// required field is 422 (error code 422). Unknown fields are ignored (newer clients send `metadata`,
/// `ruleSet`, ...).
pub struct RegistryJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for RegistryJson<T> {
    type Rejection = SchemaRegistryError;

    async fn from_request(request: Request, state: &S) -> Result<Self, SchemaRegistryError> {
        let bytes = match Bytes::from_request(request, state).await {
            Ok(bytes) => bytes,
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                return Err(SchemaRegistryError::http(
                    413,
                    "the request body is larger than the server's limit (max_body_bytes)",
                ))
            }
            Err(rejection) => {
                return Err(SchemaRegistryError::http(
                    400,
                    format!("cannot read the request body: {}", rejection.body_text()),
                ))
            }
        };
        parse_body(&bytes).map(RegistryJson)
    }
}

fn parse_body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, SchemaRegistryError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(SchemaRegistryError::http(422, "The request body is empty: a JSON object is required"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        let message = e.to_string();
        match e.classify() {
            serde_json::error::Category::Data if message.starts_with("missing field") => {
                SchemaRegistryError::http(422, format!("Invalid request body: {message}"))
            }
            serde_json::error::Category::Data => {
                SchemaRegistryError::http(400, format!("Invalid request body: {message}"))
            }
            _ => SchemaRegistryError::http(400, format!("Malformed JSON in request body: {message}")),
        }
    })
}

/// Query parameters. Unknown ones are ignored and booleans are true only for `true` in any case, as
/// in Confluent's REST layer (so the Python client's `verbose=True` works).
pub struct Params(Vec<(String, String)>);

impl Params {
    fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().rev().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    fn flag(&self, name: &str) -> bool {
        self.get(name).is_some_and(|value| value.trim().eq_ignore_ascii_case("true"))
    }

    fn number(&self, name: &str) -> Result<Option<i64>, SchemaRegistryError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) => value.trim().parse().map(Some).map_err(|_| {
                SchemaRegistryError::http(400, format!("query parameter {name} is not an integer: '{value}'"))
            }),
        }
    }

    /// `format`: the form the schema is answered in (see [`SchemaFormat`]).
    fn format(&self) -> SchemaFormat {
        SchemaFormat::from_param(self.get("format"))
    }

    /// `deletedOnly`, or `deleted_only` as Confluent's Python client (2.x) spells it in its query,
    /// which Confluent's server would ignore.
    fn deleted_only(&self) -> bool {
        self.flag("deletedOnly") || self.flag("deleted_only")
    }

    /// Confluent's `offset` and `limit` (a negative limit is none).
    fn page(&self) -> Result<Page, SchemaRegistryError> {
        let offset = self.number("offset")?.unwrap_or(0).max(0) as usize;
        let limit = self.number("limit")?.filter(|limit| *limit >= 0).map(|limit| limit as usize);
        Ok(Page { offset, limit })
    }
}

/// One page of a listing.
struct Page {
    offset: usize,
    limit: Option<usize>,
}

impl Page {
    fn of<T>(&self, all: Vec<T>) -> Vec<T> {
        all.into_iter().skip(self.offset).take(self.limit.unwrap_or(usize::MAX)).collect()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = SchemaRegistryError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, SchemaRegistryError> {
        match Query::<Vec<(String, String)>>::try_from_uri(&parts.uri) {
            Ok(Query(pairs)) => Ok(Params(pairs)),
            Err(rejection) => Err(SchemaRegistryError::http(400, format!("invalid query: {}", rejection.body_text()))),
        }
    }
}

/// The percent-decoded path parameters of a route (subject names may contain `/`, `:`, spaces ...).
pub struct Segments<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> FromRequestParts<S> for Segments<T> {
    type Rejection = SchemaRegistryError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, SchemaRegistryError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(value)) => Ok(Segments(value)),
            Err(rejection) => Err(SchemaRegistryError::http(400, format!("invalid path: {}", rejection.body_text()))),
        }
    }
}

/// A schema id in a path. Confluent ids are positive 32-bit integers: another number is an unknown id
/// (40403); a segment that is no number at all matches no route (404), as in Confluent.
fn schema_id(segment: &str) -> Result<SchemaId, SchemaRegistryError> {
    match segment.parse::<i64>() {
        Ok(id) => SchemaId::try_from(id)
            .ok()
            .filter(|id| *id >= 1)
            .ok_or_else(|| RegistryError::SchemaNotFound(format!("Schema {id} not found")).into()),
        Err(_) => Err(SchemaRegistryError::http(404, "HTTP 404 Not Found")),
    }
}

fn version_spec(segment: &str) -> Result<VersionSpec, SchemaRegistryError> {
    Ok(VersionSpec::from_str(segment)?)
}

// ----- handlers: schemas -----

/// `GET /`: Confluent answers an empty object (clients use it as a liveness probe).
async fn root() -> Answer {
    Reply::json(&json!({}))
}

/// `GET /schemas/types`.
async fn schema_types(State(state): State<AppState>) -> Answer {
    Reply::json(&state.mesh.registry().schema_types())
}

/// `GET /schemas?subjectPrefix=&deleted=&latestOnly=&offset=&limit=`.
async fn schemas(State(state): State<AppState>, params: Params) -> Answer {
    let prefix = params.get("subjectPrefix").map(str::to_string);
    let (deleted, latest_only) = (params.flag("deleted"), params.flag("latestOnly"));
    let page = params.page()?;
    let all = call(&state, move |r| Ok(r.schemas(prefix.as_deref(), deleted, latest_only))).await?;
    Reply::json(&page.of(all))
}

/// `GET /schemas/ids/{id}?subject=&fetchMaxId=&format=`. `subject` is accepted (ids are global here:
/// there are no contexts); `maxId` is in the answer only with `fetchMaxId=true`, as in Confluent;
/// `format=serialized` answers a Protobuf schema as a base64 `FileDescriptorProto`.
async fn schema_by_id(State(state): State<AppState>, Segments(id): Segments<String>, params: Params) -> Answer {
    let id = schema_id(&id)?;
    let fetch_max_id = params.flag("fetchMaxId");
    let info = match params.format() {
        // The hot path of every deserializer: an in-memory read under the state's read lock, which
        // writers hold only while applying already-durable events (never across log I/O), so it runs
        // inline rather than paying a hop to the blocking pool.
        SchemaFormat::Stored => state.mesh.registry().schema_by_id(id)?,
        // The first request for an id compiles its schema: that belongs on the blocking pool.
        format => call(&state, move |r| r.schema_by_id_in(id, format)).await?,
    };
    let max_id = fetch_max_id.then(|| state.mesh.registry().state().max_id());
    match max_id {
        None => Reply::json(&info),
        Some(max_id) => {
            let mut value = serde_json::to_value(&info).unwrap_or_default();
            value["maxId"] = json!(max_id);
            Reply::json(&value)
        }
    }
}

/// `GET /schemas/ids/{id}/schema?format=`: the schema text alone.
async fn schema_text_by_id(State(state): State<AppState>, Segments(id): Segments<String>, params: Params) -> Answer {
    let id = schema_id(&id)?;
    let format = params.format();
    let info = call(&state, move |r| r.schema_by_id_in(id, format)).await?;
    Ok(Reply::text(info.schema))
}

/// `GET /schemas/ids/{id}/versions?deleted=&offset=&limit=`.
async fn versions_of_id(State(state): State<AppState>, Segments(id): Segments<String>, params: Params) -> Answer {
    let id = schema_id(&id)?;
    let deleted = params.flag("deleted");
    let page = params.page()?;
    Reply::json(&page.of(call(&state, move |r| r.versions_of_id(id, deleted)).await?))
}

/// `GET /schemas/ids/{id}/subjects?deleted=&offset=&limit=`.
async fn subjects_of_id(State(state): State<AppState>, Segments(id): Segments<String>, params: Params) -> Answer {
    let id = schema_id(&id)?;
    let deleted = params.flag("deleted");
    let page = params.page()?;
    Reply::json(&page.of(call(&state, move |r| r.subjects_of_id(id, deleted)).await?))
}

// ----- handlers: subjects -----

/// `GET /subjects?subjectPrefix=&deleted=&deletedOnly=&offset=&limit=`.
async fn subjects(State(state): State<AppState>, params: Params) -> Answer {
    let prefix = params.get("subjectPrefix").map(str::to_string);
    let filter = DeletedFilter::from_flags(params.flag("deleted"), params.deleted_only(), false);
    let page = params.page()?;
    Reply::json(&page.of(call(&state, move |r| Ok(r.subjects_filtered(prefix.as_deref(), filter))).await?))
}

/// `GET /subjects/{subject}/versions?deleted=&deletedOnly=&deletedAsNegative=&offset=&limit=`.
async fn versions(State(state): State<AppState>, Segments(subject): Segments<String>, params: Params) -> Answer {
    let filter =
        DeletedFilter::from_flags(params.flag("deleted"), params.deleted_only(), params.flag("deletedAsNegative"));
    let page = params.page()?;
    Reply::json(&page.of(call(&state, move |r| r.versions_filtered(&subject, filter)).await?))
}

/// `GET /subjects/{subject}/metadata?key=&value=&deleted=`: see `Registry::latest_with_metadata`.
async fn latest_with_metadata(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    params: Params,
) -> Answer {
    let deleted = params.flag("deleted");
    Reply::json(&call(&state, move |r| r.latest_with_metadata(&subject, deleted)).await?)
}

/// `GET /subjects/{subject}/versions/{version}?deleted=&format=`.
async fn version(
    State(state): State<AppState>,
    Segments((subject, version)): Segments<(String, String)>,
    params: Params,
) -> Answer {
    let version = version_spec(&version)?;
    let (deleted, format) = (params.flag("deleted"), params.format());
    Reply::json(&call(&state, move |r| r.version_in(&subject, version, deleted, format)).await?)
}

/// `GET /subjects/{subject}/versions/{version}/schema?deleted=&format=`: the schema text alone.
async fn version_schema_text(
    State(state): State<AppState>,
    Segments((subject, version)): Segments<(String, String)>,
    params: Params,
) -> Answer {
    let version = version_spec(&version)?;
    let (deleted, format) = (params.flag("deleted"), params.format());
    let registered = call(&state, move |r| r.version_in(&subject, version, deleted, format)).await?;
    Ok(Reply::text(registered.schema))
}

/// `GET /subjects/{subject}/versions/{version}/referencedby`.
async fn referenced_by(
    State(state): State<AppState>,
    Segments((subject, version)): Segments<(String, String)>,
) -> Answer {
    let version = version_spec(&version)?;
    Reply::json(&call(&state, move |r| r.referenced_by(&subject, version)).await?)
}

/// `POST /subjects/{subject}/versions?normalize=`: `{"id": n}`. With `normalize` the schema is read
/// back in its canonical text; without, as registered (see `Registry::register`).
async fn register(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    Ctx(ctx): Ctx,
    params: Params,
    RegistryJson(mut request): RegistryJson<RegisterRequest>,
) -> Answer {
    request.normalize = params.flag("normalize");
    let id = change(&state, move |mesh| mesh.register_schema(&ctx, &subject, &request)).await?;
    Reply::json(&IdResponse { id })
}

/// `POST /subjects/{subject}?deleted=&normalize=`: the version of the subject that holds the schema.
/// Schemas are matched on their canonical text, so `normalize` (which Confluent needs to match a
/// schema registered normalized) changes nothing here.
async fn lookup(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    params: Params,
    RegistryJson(request): RegistryJson<RegisterRequest>,
) -> Answer {
    let deleted = params.flag("deleted");
    Reply::json(&call(&state, move |r| r.lookup(&subject, &request.definition(), deleted)).await?)
}

/// `DELETE /subjects/{subject}?permanent=`: the deleted versions.
async fn delete_subject(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    Ctx(ctx): Ctx,
    params: Params,
) -> Answer {
    let permanent = params.flag("permanent");
    let versions = change(&state, move |mesh| mesh.delete_subject(&ctx, &subject, permanent)).await?;
    Reply::json(&versions)
}

/// `DELETE /subjects/{subject}/versions/{version}?permanent=`: the deleted version.
async fn delete_version(
    State(state): State<AppState>,
    Segments((subject, version)): Segments<(String, String)>,
    Ctx(ctx): Ctx,
    params: Params,
) -> Answer {
    let version = version_spec(&version)?;
    let permanent = params.flag("permanent");
    let version = change(&state, move |mesh| mesh.delete_schema_version(&ctx, &subject, version, permanent)).await?;
    Reply::json(&version)
}

// ----- handlers: compatibility -----

async fn check_compatibility(
    state: AppState,
    subject: String,
    version: Option<VersionSpec>,
    params: &Params,
    request: RegisterRequest,
) -> Answer {
    let verbose = params.flag("verbose");
    let result = call(&state, move |r| r.check_compatibility(&subject, version, &request.definition())).await?;
    if verbose {
        Reply::json(&json!({"is_compatible": result.is_compatible, "messages": result.messages}))
    } else {
        Reply::json(&json!({"is_compatible": result.is_compatible}))
    }
}

/// `POST /compatibility/subjects/{subject}/versions?verbose=`: against the versions the level names.
async fn check_compatibility_all(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    params: Params,
    RegistryJson(request): RegistryJson<RegisterRequest>,
) -> Answer {
    check_compatibility(state, subject, None, &params, request).await
}

/// `POST /compatibility/subjects/{subject}/versions/{version}?verbose=`.
async fn check_compatibility_version(
    State(state): State<AppState>,
    Segments((subject, version)): Segments<(String, String)>,
    params: Params,
    RegistryJson(request): RegistryJson<RegisterRequest>,
) -> Answer {
    let version = version_spec(&version)?;
    check_compatibility(state, subject, Some(version), &params, request).await
}

// ----- handlers: config -----

/// `GET /config`.
async fn config(State(state): State<AppState>) -> Answer {
    let level = call(&state, |r| r.config(None, true)).await?;
    Reply::json(&ConfigResponse { compatibility_level: level })
}

/// `GET /config/{subject}?defaultToGlobal=`.
async fn subject_config(State(state): State<AppState>, Segments(subject): Segments<String>, params: Params) -> Answer {
    let default_to_global = params.flag("defaultToGlobal");
    let level = call(&state, move |r| r.config(Some(&subject), default_to_global)).await?;
    Reply::json(&ConfigResponse { compatibility_level: level })
}

async fn put_config(
    state: AppState,
    ctx: weft_mesh::RequestContext,
    subject: Option<String>,
    update: ConfigUpdate,
) -> Answer {
    let level = update.level()?;
    let level = change(&state, move |mesh| mesh.set_compatibility(&ctx, subject.as_deref(), level)).await?;
    Reply::json(&ConfigUpdate { compatibility: level.as_str().to_string() })
}

/// `PUT /config`: `{"compatibility": "FULL"}`.
async fn set_config(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    RegistryJson(update): RegistryJson<ConfigUpdate>,
) -> Answer {
    put_config(state, ctx, None, update).await
}

/// `PUT /config/{subject}`.
async fn set_subject_config(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    Ctx(ctx): Ctx,
    RegistryJson(update): RegistryJson<ConfigUpdate>,
) -> Answer {
    put_config(state, ctx, Some(subject), update).await
}

/// `DELETE /config`: the level that was set; the global level is BACKWARD again.
async fn delete_config(State(state): State<AppState>, Ctx(ctx): Ctx) -> Answer {
    let level = change(&state, move |mesh| mesh.delete_compatibility(&ctx, None)).await?;
    Reply::json(&ConfigResponse { compatibility_level: level })
}

/// `DELETE /config/{subject}`: the level that was set.
async fn delete_subject_config(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    Ctx(ctx): Ctx,
) -> Answer {
    let level = change(&state, move |mesh| mesh.delete_compatibility(&ctx, Some(&subject))).await?;
    Reply::json(&ConfigResponse { compatibility_level: level })
}

// ----- handlers: mode -----

/// `GET /mode`.
async fn mode(State(state): State<AppState>) -> Answer {
    let mode = call(&state, |r| r.mode(None, true)).await?;
    Reply::json(&ModeBody::from(mode))
}

/// `GET /mode/{subject}?defaultToGlobal=`.
async fn subject_mode(State(state): State<AppState>, Segments(subject): Segments<String>, params: Params) -> Answer {
    let default_to_global = params.flag("defaultToGlobal");
    let mode = call(&state, move |r| r.mode(Some(&subject), default_to_global)).await?;
    Reply::json(&ModeBody::from(mode))
}

async fn put_mode(
    state: AppState,
    ctx: weft_mesh::RequestContext,
    subject: Option<String>,
    params: &Params,
    body: ModeBody,
) -> Answer {
    let mode = body.mode()?;
    let force = params.flag("force");
    let mode = change(&state, move |mesh| mesh.set_mode(&ctx, subject.as_deref(), mode, force)).await?;
    Reply::json(&ModeBody::from(mode))
}

/// `PUT /mode?force=`: `{"mode": "READONLY"}`.
async fn set_mode(
    State(state): State<AppState>,
    Ctx(ctx): Ctx,
    params: Params,
    RegistryJson(body): RegistryJson<ModeBody>,
) -> Answer {
    put_mode(state, ctx, None, &params, body).await
}

/// `PUT /mode/{subject}?force=`.
async fn set_subject_mode(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    Ctx(ctx): Ctx,
    params: Params,
    RegistryJson(body): RegistryJson<ModeBody>,
) -> Answer {
    put_mode(state, ctx, Some(subject), &params, body).await
}

/// `DELETE /mode`: the mode that was set; the global mode is READWRITE again.
async fn delete_mode(State(state): State<AppState>, Ctx(ctx): Ctx) -> Answer {
    let mode = change(&state, move |mesh| mesh.delete_mode(&ctx, None)).await?;
    Reply::json(&ModeBody::from(mode))
}

/// `DELETE /mode/{subject}`: the mode that was set.
async fn delete_subject_mode(
    State(state): State<AppState>,
    Segments(subject): Segments<String>,
    Ctx(ctx): Ctx,
) -> Answer {
    let mode = change(&state, move |mesh| mesh.delete_mode(&ctx, Some(&subject))).await?;
    Reply::json(&ModeBody::from(mode))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_errors_map_like_confluent() {
        let empty = parse_body::<RegisterRequest>(b"  ").unwrap_err();
        assert_eq!((empty.status, empty.body.error_code), (422, 422));
        let syntax = parse_body::<RegisterRequest>(b"{\"schema\": ").unwrap_err();
        assert_eq!((syntax.status, syntax.body.error_code), (400, 400));
        let wrong_type = parse_body::<RegisterRequest>(br#"{"schema": {"type": "string"}}"#).unwrap_err();
        assert_eq!((wrong_type.status, wrong_type.body.error_code), (400, 400));
        let missing = parse_body::<RegisterRequest>(br#"{"schemaType": "AVRO"}"#).unwrap_err();
        assert_eq!((missing.status, missing.body.error_code), (422, 422));
        let extra = parse_body::<RegisterRequest>(br#"{"schema": "\"int\"", "metadata": null, "ruleSet": null}"#);
        assert!(extra.is_ok());
    }

    #[test]
    fn ids_and_params_parse_like_confluent() {
        assert_eq!(schema_id("7"), Ok(7));
        assert_eq!(schema_id("-1").unwrap_err().body.error_code, 40403);
        assert_eq!(schema_id("0").unwrap_err().body.error_code, 40403);
        assert_eq!(schema_id("99999999999").unwrap_err().body.error_code, 40403);
        assert_eq!(schema_id("x").unwrap_err().body.error_code, 404);
        let params = Params(vec![("verbose".into(), "True".into()), ("deleted".into(), "yes".into())]);
        assert!(params.flag("verbose"));
        assert!(!params.flag("deleted"));
        assert!(!params.flag("permanent"));
    }
}
