//! The AVRO format: Avro binary in the Confluent wire format (magic byte 0, 4-byte big-endian
//! schema id, Avro datum), with schemas in a schema registry reached through
//! [`crate::registry::SchemaRegistry`].
//!
//! Avro itself (parsing schemas, the binary encoding, the wire format) is `weft-schema`'s; this module
//! holds only what is SQL's:
//!
//! - the columns ksqlDB gives a registered schema ([`AvroSchema::columns`]), and the schema it derives
//!   for columns ([`schema_for`], [`unwrapped_schema_for`]): a record `KsqlDataSourceSchema` in the
//!   namespace `io.confluent.ksql.avro_schemas`, every field an optional union `["null", T]` defaulting
//!   to null, DECIMAL as `bytes` with the `decimal` logical type, TIMESTAMP as `timestamp-millis`, DATE
//!   as `date`, TIME as `time-millis`;
//! - decoding into SQL [`Value`]s and encoding from them ([`AvroCodec`]).
//!
//! Reading decodes with the *writer's* schema (looked up by the id in each record) and maps record
//! fields onto columns by name, exactly or else case-insensitively (Avro spec: schema resolution by
//! field name); a field no column reads is skipped. How each writer field lands in which slot, with
//! which SQL type, is worked out once per writer schema (a read plan); decoding a record then
//! follows the plan over weft-schema's [`Reader`], writing straight into the caller's row slots and
//! reusing their string, bytes, array and struct buffers, so a record allocates nothing it does not
//! have to. Writing uses the schema derived from the columns, registered under `<topic>-value`, or
//! the schema a C*AS pins with `VALUE_SCHEMA_ID` / `KEY_SCHEMA_ID`, whose fields no column gives
//! are written as their default, else null (a required field without a default fails the record,
//! as ksqlDB's serializer does).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};

use serde_json::{json, Value as Json};
use weft_schema::avro::binary::{self, Reader};
use weft_schema::avro::{AvroType, Field, LogicalType, NamedKind};
use weft_schema::{wire, SchemaError, MAX_DEPTH};

use crate::error::{Result, SqlError};
use crate::format::Column;
use crate::registry::{RegistryHandle, SchemaType};
use crate::types::{Decimal, SqlType, Value};

fn bad(msg: impl Into<String>) -> SqlError {
    SqlError::Serde(msg.into())
}

fn schema_error(e: impl Into<SchemaError>) -> SqlError {
    SqlError::Serde(e.into().to_string())
}

/// An Avro schema as the SQL engine reads it: weft-schema's parsed schema, and the columns ksqlDB
/// gives it.
#[derive(Debug, Clone, PartialEq)]
pub struct AvroSchema(weft_schema::avro::AvroSchema);

impl AvroSchema {
    pub fn parse(text: &str) -> Result<AvroSchema> {
        weft_schema::avro::AvroSchema::parse(text).map(AvroSchema).map_err(schema_error)
    }

    /// The parsed schema.
    pub fn schema(&self) -> &weft_schema::avro::AvroSchema {
        &self.0
    }

    /// The SQL type ksqlDB gives the schema (optional unions become their non-null branch).
    pub fn sql_type(&self) -> Result<SqlType> {
        sql_type(&self.0, &self.0.root, 0)
    }

    /// The columns of a record schema (names upper-cased, as ksqlDB infers them); any other schema is
    /// the single column `ROWVAL`.
    pub fn columns(&self) -> Result<Vec<Column>> {
        match record_fields(&self.0, &self.0.root) {
            Some(fields) => fields
                .iter()
                .map(|f| Ok(Column { name: f.name.to_ascii_uppercase(), ty: sql_type(&self.0, &f.ty, 1)? }))
                .collect(),
            None => Ok(vec![Column { name: "ROWVAL".into(), ty: self.sql_type()? }]),
        }
    }
}

/// The fields of `ty` when it is a record.
fn record_fields<'s>(schema: &'s weft_schema::avro::AvroSchema, ty: &AvroType) -> Option<&'s [Field]> {
    match ty {
        AvroType::Named(i) => match &schema.named[*i].kind {
            NamedKind::Record { fields, .. } => Some(fields),
            _ => None,
        },
        _ => None,
    }
}

fn decimal_scale(scale: u32) -> Result<u8> {
    u8::try_from(scale).map_err(|_| SqlError::Unsupported(format!("Avro decimals of scale {scale}")))
}

/// The DECIMAL of an Avro decimal: its own precision and scale, as ksqlDB reads them (precisions
/// beyond SQL's 38 digits are held as 38).
fn decimal_type(precision: u32, scale: u32) -> Result<SqlType> {
    let scale = decimal_scale(scale)?;
    let precision = u8::try_from(precision.min(38)).unwrap_or(38).max(scale).max(1);
    Ok(SqlType::Decimal { precision, scale })
}

/// The SQL type of an Avro type, as ksqlDB maps it. SQL types are finite, so a recursive Avro type
/// (which would be one nested without end) is refused once it nests deeper than [`MAX_DEPTH`].
fn sql_type(schema: &weft_schema::avro::AvroSchema, ty: &AvroType, depth: usize) -> Result<SqlType> {
    if depth >= MAX_DEPTH {
        return Err(SqlError::Unsupported(format!(
            "Avro types nested deeper than {MAX_DEPTH} levels (a recursive type?) as SQL columns"
        )));
    }
    Ok(match ty {
        AvroType::Boolean => SqlType::Boolean,
        AvroType::Int(Some(LogicalType::Date)) => SqlType::Date,
        AvroType::Int(Some(LogicalType::TimeMillis)) => SqlType::Time,
        AvroType::Int(_) => SqlType::Int,
        AvroType::Long(Some(LogicalType::TimestampMillis | LogicalType::TimestampMicros)) => SqlType::Timestamp,
        AvroType::Long(_) => SqlType::Bigint,
        AvroType::Float | AvroType::Double => SqlType::Double,
        AvroType::Bytes(Some(LogicalType::Decimal { precision, scale })) => decimal_type(*precision, *scale)?,
        AvroType::Bytes(_) => SqlType::Bytes,
        AvroType::String(_) => SqlType::String,
        AvroType::Array(items) => SqlType::Array(Box::new(sql_type(schema, items, depth + 1)?)),
        AvroType::Map(values) => {
            SqlType::Map(Box::new(SqlType::String), Box::new(sql_type(schema, values, depth + 1)?))
        }
        AvroType::Union(branches) => {
            let non_null: Vec<&AvroType> = branches.iter().filter(|b| !matches!(b, AvroType::Null)).collect();
            match non_null.as_slice() {
                [one] => sql_type(schema, one, depth)?,
                _ => return Err(SqlError::Unsupported("Avro unions of several non-null types".into())),
            }
        }
        AvroType::Named(i) => match &schema.named[*i].kind {
            NamedKind::Record { fields, .. } => SqlType::Struct(
                fields
                    .iter()
                    .map(|f| Ok((f.name.to_ascii_uppercase(), sql_type(schema, &f.ty, depth + 1)?)))
                    .collect::<Result<_>>()?,
            ),
            NamedKind::Enum { .. } => SqlType::String,
            NamedKind::Fixed { logical: Some(LogicalType::Decimal { precision, scale }), .. } => {
                decimal_type(*precision, *scale)?
            }
            NamedKind::Fixed { .. } => SqlType::Bytes,
        },
        AvroType::Null => return Err(SqlError::Unsupported("Avro null fields".into())),
    })
}

/// The Avro type ksqlDB derives for a SQL type (`path` names nested records).
fn avro_type(t: &SqlType, path: &str) -> Json {
    match t {
        SqlType::Boolean => json!("boolean"),
        SqlType::Int => json!("int"),
        SqlType::Bigint => json!("long"),
        SqlType::Double => json!("double"),
        SqlType::String | SqlType::Null => json!("string"),
        SqlType::Bytes => json!("bytes"),
        SqlType::Decimal { precision, scale } => {
            json!({"type": "bytes", "logicalType": "decimal", "precision": precision, "scale": scale})
        }
        SqlType::Timestamp => json!({"type": "long", "logicalType": "timestamp-millis"}),
        SqlType::Date => json!({"type": "int", "logicalType": "date"}),
        SqlType::Time => json!({"type": "int", "logicalType": "time-millis"}),
        SqlType::Array(i) => json!({"type": "array", "items": optional(avro_type(i, path))}),
        SqlType::Map(_, v) => json!({"type": "map", "values": optional(avro_type(v, path))}),
        SqlType::Struct(fields) => json!({
            "type": "record",
            "name": path,
            "fields": fields.iter().map(|(n, t)| {
                json!({"name": n, "type": optional(avro_type(t, &format!("{path}_{n}"))), "default": null})
            }).collect::<Vec<_>>(),
        }),
    }
}

fn optional(t: Json) -> Json {
    json!(["null", t])
}

/// The full name ksqlDB gives the record it derives, unless `*_SCHEMA_FULL_NAME` names another.
pub const DEFAULT_FULL_NAME: &str = "io.confluent.ksql.avro_schemas.KsqlDataSourceSchema";

/// A full name's namespace (empty without one) and simple name.
fn split_full_name(full: &str) -> (&str, &str) {
    full.rsplit_once('.').unwrap_or(("", full))
}

/// The Avro schema ksqlDB derives for columns.
pub fn schema_for(columns: &[Column]) -> Json {
    schema_named(columns, DEFAULT_FULL_NAME)
}

/// The Avro schema ksqlDB derives for columns, its record named `full_name` (nested records are
/// named after it and the field path).
pub fn schema_named(columns: &[Column], full_name: &str) -> Json {
    let (namespace, name) = split_full_name(full_name);
    let mut schema = json!({
        "type": "record",
        "name": name,
        "fields": columns.iter().map(|c| {
            json!({
                "name": c.name,
                "type": optional(avro_type(&c.ty, &format!("{name}_{}", c.name))),
                "default": null,
            })
        }).collect::<Vec<_>>(),
    });
    if !namespace.is_empty() {
        schema["namespace"] = json!(namespace);
    }
    schema
}

/// The schema of a single column written unwrapped (ksqlDB's single key column, or a value with
/// `WRAP_SINGLE_VALUE=false`): the column's type itself, a struct being a record in ksqlDB's
/// namespace. A null key is a record without key bytes, so the type is not a union with null.
pub fn unwrapped_schema_for(column: &Column) -> Json {
    unwrapped_schema_named(column, DEFAULT_FULL_NAME)
}

/// [`unwrapped_schema_for`], a struct's record named `full_name`.
pub fn unwrapped_schema_named(column: &Column, full_name: &str) -> Json {
    let (namespace, name) = split_full_name(full_name);
    match avro_type(&column.ty, name) {
        Json::Object(mut o) if column.ty.is_struct() && !namespace.is_empty() => {
            o.insert("namespace".into(), json!(namespace));
            Json::Object(o)
        }
        other => other,
    }
}

/// Refuses columns whose names (or nested STRUCT field names) Avro cannot hold, in ksqlDB's words
/// (Avro's own name rule: a letter or `_`, then letters, digits or `_`).
pub fn check_names(columns: &[Column]) -> Result<()> {
    fn name(n: &str) -> Result<()> {
        let mut chars = n.chars();
        let why = match chars.next() {
            None => Some("Empty name".to_string()),
            Some(c) if !(c.is_alphabetic() || c == '_') => Some(format!("Illegal initial character: {n}")),
            Some(_) if chars.any(|c| !(c.is_alphanumeric() || c == '_')) => Some(format!("Illegal character in: {n}")),
            Some(_) => None,
        };
        match why {
            Some(why) => Err(SqlError::analysis(format!("Schema is not compatible with Avro: {why}"))),
            None => Ok(()),
        }
    }
    fn ty(t: &SqlType) -> Result<()> {
        match t {
            SqlType::Array(i) => ty(i),
            SqlType::Map(_, v) => ty(v),
            SqlType::Struct(fields) => fields.iter().try_for_each(|(n, t)| name(n).and_then(|_| ty(t))),
            _ => Ok(()),
        }
    }
    columns.iter().try_for_each(|c| name(&c.name).and_then(|_| ty(&c.ty)))
}

/// Encodes and decodes one source's Avro values.
pub struct AvroCodec {
    registry: RegistryHandle,
    subject: String,
    /// A single column written as a bare datum instead of a one-field record.
    unwrapped: bool,
    /// Writes with the subject's latest schema when it holds the very columns written (a source
    /// whose schema came from the registry), instead of registering one derived from the columns.
    prefer_registered: bool,
    /// The full name of the record derived from the columns (`*_SCHEMA_FULL_NAME`).
    full_name: String,
    /// The registered schema written with (`*_SCHEMA_ID`), instead of one derived from the columns.
    pinned: Option<u32>,
    /// The id and schema used to write (registered on first use).
    writer: Mutex<Option<WriterSchema>>,
    /// How records written with each schema id are read, as met in records.
    readers: Mutex<HashMap<u32, Vec<CachedPlan>>>,
}

/// The id and schema a codec writes with, and for a record where each field takes its value from
/// (`None`: field `i` is column `i`).
type WriterSchema = (u32, Arc<weft_schema::avro::AvroSchema>, Option<Arc<[FieldSource]>>);

/// Where a field of the schema written takes its value from.
#[derive(Debug, Clone)]
enum FieldSource {
    /// Column `i`.
    Column(usize),
    /// No column: the same datum in every record (the field's default, or null), encoded once.
    Fixed(Arc<[u8]>),
    /// No column, no default, not nullable: no record can be written (what this says).
    Missing(String),
}

/// A plan, with the address and length of the columns it was last asked for.
type CachedPlan = (usize, usize, Arc<ReadPlan>);

/// Plans kept per writer schema id (one per list of columns asked for; in practice one).
const PLANS_PER_SCHEMA: usize = 4;

impl fmt::Debug for AvroCodec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AvroCodec({})", self.subject)
    }
}

impl AvroCodec {
    pub fn new(registry: RegistryHandle, subject: String) -> AvroCodec {
        AvroCodec {
            registry,
            subject,
            unwrapped: false,
            prefer_registered: false,
            full_name: DEFAULT_FULL_NAME.to_string(),
            pinned: None,
            writer: Mutex::new(None),
            readers: Mutex::new(HashMap::new()),
        }
    }

    /// A codec naming the record it derives `full_name` (ksqlDB's `VALUE_AVRO_SCHEMA_FULL_NAME`,
    /// `KEY_SCHEMA_FULL_NAME`) instead of [`DEFAULT_FULL_NAME`].
    pub fn named(mut self, full_name: Option<&str>) -> AvroCodec {
        if let Some(name) = full_name {
            self.full_name = name.to_string();
        }
        self
    }

    /// A codec that writes with the subject's latest schema when that schema holds exactly the
    /// columns written (the same names, ignoring case, and SQL types), as ksqlDB writes to a source
    /// whose columns came from the registry (INSERT VALUES, `/inserts-stream`): registering a
    /// schema of its own there would be refused as incompatible (another record name).
    pub fn prefer_registered(mut self, prefer: bool) -> AvroCodec {
        self.prefer_registered = prefer;
        self
    }

    /// A codec writing with the registered schema `id` (a C*AS's `VALUE_SCHEMA_ID` /
    /// `KEY_SCHEMA_ID`) rather than registering one of its own; the schema's fields are matched to
    /// the columns by name, ignoring case (the statement checked that its first fields are the
    /// columns).
    pub fn pinned(mut self, id: Option<u32>) -> AvroCodec {
        self.pinned = id;
        self
    }

    /// The schema `id` pins, each field fed by its column or, without one, by its default, else
    /// null (ksqlDB's serializer fills a missing optional field so; a required one fails).
    fn pinned_writer(&self, id: u32, columns: &[Column]) -> Result<WriterSchema> {
        let parsed = AvroSchema::parse(&self.registry.0.schema_by_id(id)?)?.0;
        let Some(fields) = record_fields(&parsed, &parsed.root).filter(|_| !(self.unwrapped && columns.len() == 1))
        else {
            return Ok((id, Arc::new(parsed), None));
        };
        let mut sources = Vec::with_capacity(fields.len());
        for field in fields {
            if let Some(i) = columns.iter().position(|c| c.name.eq_ignore_ascii_case(&field.name)) {
                sources.push(FieldSource::Column(i));
                continue;
            }
            let mut datum = Vec::new();
            let filled = match &field.default {
                Some(default) => parsed.encode_json_as(&field.ty, default, &mut datum).is_ok(),
                None => Writer { schema: &parsed }.write(&field.ty, &Value::Null, &mut datum, 1).is_ok(),
            };
            sources.push(if filled {
                FieldSource::Fixed(datum.into())
            } else {
                FieldSource::Missing(format!(
                    "Unable to serialize record: field '{}' of value schema {id} is required, has no default and no \
                     column gives it",
                    field.name
                ))
            });
        }
        Ok((id, Arc::new(parsed), Some(sources.into())))
    }

    /// The subject's latest schema, when it holds exactly `columns` (see [`Self::prefer_registered`]).
    fn registered_fit(&self, columns: &[Column]) -> Option<WriterSchema> {
        let (id, text) = self.registry.0.latest(&self.subject).ok()?;
        let parsed = AvroSchema::parse(&text).ok()?;
        let theirs = parsed.columns().ok()?;
        if let (true, [single]) = (self.unwrapped, columns) {
            let whole = crate::registry::whole_schema_type(&theirs);
            return (whole == single.ty).then(|| (id, Arc::new(parsed.0), None));
        }
        record_fields(&parsed.0, &parsed.0.root)?;
        if theirs.len() != columns.len() {
            return None;
        }
        let order: Vec<usize> = theirs
            .iter()
            .map(|t| columns.iter().position(|c| c.name.eq_ignore_ascii_case(&t.name) && c.ty == t.ty))
            .collect::<Option<_>>()?;
        let mut seen = vec![false; columns.len()];
        for &i in &order {
            if std::mem::replace(&mut seen[i], true) {
                return None;
            }
        }
        let order: Vec<FieldSource> = order.into_iter().map(FieldSource::Column).collect();
        Some((id, Arc::new(parsed.0), Some(order.into())))
    }

    /// A codec writing a single column as a bare datum (ksqlDB's `UNWRAP_SINGLES`), as keys of one
    /// column always are.
    pub fn unwrapped(mut self, unwrapped: bool) -> AvroCodec {
        self.unwrapped = unwrapped;
        self
    }

    /// The id and parsed schema this codec writes with, registering the schema the first time.
    fn writer(&self, columns: &[Column]) -> Result<WriterSchema> {
        let mut w = self.writer.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(x) = &*w {
            return Ok(x.clone());
        }
        if let Some(id) = self.pinned {
            let x = self.pinned_writer(id, columns)?;
            *w = Some(x.clone());
            return Ok(x);
        }
        if let Some(x) = self.prefer_registered.then(|| self.registered_fit(columns)).flatten() {
            *w = Some(x.clone());
            return Ok(x);
        }
        let text = match (self.unwrapped, columns) {
            (true, [single]) => unwrapped_schema_named(single, &self.full_name),
            _ => schema_named(columns, &self.full_name),
        }
        .to_string();
        let id = self.registry.0.register(&self.subject, SchemaType::Avro, &text)?;
        let x = (id, Arc::new(AvroSchema::parse(&text)?.0), None);
        *w = Some(x.clone());
        Ok(x)
    }

    /// Registers the schema for `columns` now (sinks register theirs when created, as ksqlDB does).
    pub fn register(&self, columns: &[Column]) -> Result<u32> {
        Ok(self.writer(columns)?.0)
    }

    /// How to read records written with schema `id` into `columns`: made the first time, and again
    /// only for other columns.
    ///
    /// A codec serves one source (its writer schema is derived from the columns it first sees) and is
    /// only ever given that source's columns, mostly the very same vector: a plan is found by the
    /// columns' address and length, and only otherwise by comparing them, which costs as much as
    /// decoding a small record.
    fn read_plan(&self, id: u32, columns: &[Column]) -> Result<Arc<ReadPlan>> {
        let identity = (columns.as_ptr() as usize, columns.len());
        let mut cache = self.readers.lock().unwrap_or_else(|e| e.into_inner());
        let known = cache.get(&id).map(Vec::as_slice).unwrap_or_default();
        if let Some((_, _, plan)) = known.iter().find(|(at, len, _)| (*at, *len) == identity) {
            return Ok(plan.clone());
        }
        let plan = match known.iter().find(|(_, _, plan)| plan.columns == columns) {
            Some((_, _, plan)) => plan.clone(),
            None => {
                let schema = match known.first() {
                    Some((_, _, plan)) => plan.schema.clone(),
                    None => Arc::new(AvroSchema::parse(&self.registry.0.schema_by_id(id)?)?.0),
                };
                Arc::new(ReadPlan::new(schema, columns, self.unwrapped)?)
            }
        };
        // Only ids of registered schemas get here, so hostile records cannot grow the cache.
        let plans = cache.entry(id).or_default();
        if plans.len() == PLANS_PER_SCHEMA {
            plans.remove(0);
        }
        plans.push((identity.0, identity.1, plan.clone()));
        Ok(plan)
    }

    /// Decodes a wire-format value into `out` (one slot per column). `needed` marks the columns the
    /// caller reads (empty: all); the others are skipped and left null.
    pub fn decode_into(&self, columns: &[Column], needed: &[bool], bytes: &[u8], out: &mut [Value]) -> Result<()> {
        let (id, payload) = wire::split(bytes).map_err(schema_error)?;
        let plan = self.read_plan(id, columns)?;
        plan.decode(payload, needed, out)
    }

    /// Encodes values (one per column) in the wire format, registering the schema on first use.
    pub fn encode(&self, columns: &[Column], values: &[&Value], buf: &mut Vec<u8>) -> Result<()> {
        let (id, schema, order) = self.writer(columns)?;
        wire::write_header(id, buf);
        let writer = Writer { schema: &schema };
        match record_fields(&schema, &schema.root) {
            Some(fields) if !(self.unwrapped && columns.len() == 1) => {
                for (i, field) in fields.iter().enumerate() {
                    let column = match order.as_ref().map(|o| o.get(i)) {
                        None => Some(i),
                        Some(Some(FieldSource::Column(c))) => Some(*c),
                        Some(Some(FieldSource::Fixed(datum))) => {
                            buf.extend_from_slice(datum);
                            continue;
                        }
                        // A record the query cannot write stops it, as ksqlDB's serializer does.
                        Some(Some(FieldSource::Missing(why))) => return Err(SqlError::Processing(why.clone())),
                        Some(None) => None,
                    };
                    let v = column.and_then(|c| values.get(c).copied()).unwrap_or(&Value::Null);
                    writer.write(&field.ty, v, buf, 1)?;
                }
                Ok(())
            }
            _ => writer.write(&schema.root, values.first().copied().unwrap_or(&Value::Null), buf, 0),
        }
    }
}

// ----- reading -----

/// How the records of one writer schema are read into one set of columns, worked out once.
#[derive(Debug)]
struct ReadPlan {
    schema: Arc<weft_schema::avro::AvroSchema>,
    /// The columns the plan was made for.
    columns: Vec<Column>,
    root: RootPlan,
}

#[derive(Debug)]
enum RootPlan {
    /// The datum is the value of column 0 (an unwrapped column, or a writer schema that is no record).
    Whole(Plan),
    /// The datum is a record whose fields go to columns; `unread` are the columns no field reaches.
    Columns { fields: Vec<(Option<usize>, Plan)>, unread: Vec<usize> },
}

/// How one value of the writer's schema becomes a SQL value.
#[derive(Debug)]
enum Plan {
    /// A value no column reads: checked and skipped, never built.
    Skip(AvroType),
    /// A primitive, enum or fixed value, made a value of `target` (Avro int read into BIGINT, ...).
    Scalar {
        ty: AvroType,
        target: SqlType,
    },
    Array(Box<Plan>),
    Map(Box<Plan>),
    Union(Vec<Plan>),
    /// A record read into a STRUCT: each writer field goes to a struct slot (or nowhere).
    Struct {
        fields: Vec<(Option<usize>, Plan)>,
        width: usize,
        unread: Vec<usize>,
    },
    /// A value whose SQL type does not fit the writer's type: read as it comes (records as positional
    /// structs), uncoerced, as ksqlDB's lenient reader does.
    AsWritten(AvroType),
}

/// The slot a writer field named `name` goes to among `names`: the same name, else the same name
/// ignoring case.
fn slot_of<'a>(name: &str, mut names: impl Iterator<Item = &'a str> + Clone) -> Option<usize> {
    names.clone().position(|n| n == name).or_else(|| names.position(|n| n.eq_ignore_ascii_case(name)))
}

impl ReadPlan {
    fn new(schema: Arc<weft_schema::avro::AvroSchema>, columns: &[Column], unwrapped: bool) -> Result<ReadPlan> {
        let root_fields = record_fields(&schema, &schema.root);
        // An unwrapped column reads the whole datum, unless the writer wrapped a non-struct column
        // in a record anyway (then its fields map onto the column by name, as for wrapped data).
        let whole = match (unwrapped, columns, root_fields) {
            (true, [c], Some(_)) => c.ty.is_struct(),
            (true, [_], None) => true,
            _ => false,
        };
        let root = match (whole, root_fields, columns.first()) {
            (false, Some(fields), _) => {
                let names = columns.iter().map(|c| c.name.as_str());
                let mut read = vec![false; columns.len()];
                let fields = fields
                    .iter()
                    .map(|field| match slot_of(&field.name, names.clone()) {
                        Some(i) => {
                            read[i] = true;
                            Ok((Some(i), plan(&schema, &field.ty, Some(&columns[i].ty), 1)?))
                        }
                        None => Ok((None, Plan::Skip(field.ty.clone()))),
                    })
                    .collect::<Result<_>>()?;
                let unread = (0..columns.len()).filter(|i| !read[*i]).collect();
                RootPlan::Columns { fields, unread }
            }
            (_, _, Some(column)) => RootPlan::Whole(plan(&schema, &schema.root, Some(&column.ty), 0)?),
            (_, _, None) => RootPlan::Whole(Plan::Skip(schema.root.clone())),
        };
        Ok(ReadPlan { schema, columns: columns.to_vec(), root })
    }

    fn decode(&self, payload: &[u8], needed: &[bool], out: &mut [Value]) -> Result<()> {
        let mut reader = Reader::new(payload);
        let decoding = Decoding { schema: &self.schema };
        match &self.root {
            RootPlan::Whole(plan) => match out.first_mut() {
                Some(slot) => decoding.read(&mut reader, plan, slot)?,
                None => decoding.skip(&mut reader, plan)?,
            },
            RootPlan::Columns { fields, unread } => {
                for &i in unread {
                    out[i] = Value::Null;
                }
                // The record is the first level; its fields the second.
                reader.enter().map_err(schema_error)?;
                for (slot, plan) in fields {
                    match slot {
                        Some(i) if needed.get(*i) != Some(&false) => decoding.read(&mut reader, plan, &mut out[*i])?,
                        Some(i) => {
                            decoding.skip(&mut reader, plan)?;
                            out[*i] = Value::Null;
                        }
                        None => decoding.skip(&mut reader, plan)?,
                    }
                }
                reader.leave();
            }
        }
        reader.finish().map_err(schema_error)
    }
}

/// The plan for a writer type `ty` read as `target` (`None`: as written). Plans follow the SQL type,
/// which is finite, so a recursive writer type is planned only as deep as the columns go.
fn plan(schema: &weft_schema::avro::AvroSchema, ty: &AvroType, target: Option<&SqlType>, depth: usize) -> Result<Plan> {
    if depth >= MAX_DEPTH {
        return Err(SqlError::Unsupported(format!("SQL types nested deeper than {MAX_DEPTH} levels")));
    }
    let Some(target) = target else { return Ok(Plan::AsWritten(ty.clone())) };
    Ok(match (ty, target) {
        (AvroType::Union(branches), _) => {
            Plan::Union(branches.iter().map(|b| plan(schema, b, Some(target), depth)).collect::<Result<_>>()?)
        }
        (AvroType::Array(items), SqlType::Array(inner)) => {
            Plan::Array(Box::new(plan(schema, items, Some(inner), depth + 1)?))
        }
        (AvroType::Map(values), SqlType::Map(_, inner)) => {
            Plan::Map(Box::new(plan(schema, values, Some(inner), depth + 1)?))
        }
        (AvroType::Array(_) | AvroType::Map(_), _) => Plan::AsWritten(ty.clone()),
        (AvroType::Named(i), _) => match (&schema.named[*i].kind, target) {
            (NamedKind::Record { fields, .. }, SqlType::Struct(defs)) => {
                let names = defs.iter().map(|(n, _)| n.as_str());
                let mut read = vec![false; defs.len()];
                let fields = fields
                    .iter()
                    .map(|field| match slot_of(&field.name, names.clone()) {
                        Some(j) => {
                            read[j] = true;
                            Ok((Some(j), plan(schema, &field.ty, Some(&defs[j].1), depth + 1)?))
                        }
                        None => Ok((None, Plan::Skip(field.ty.clone()))),
                    })
                    .collect::<Result<_>>()?;
                let unread = (0..defs.len()).filter(|j| !read[*j]).collect();
                Plan::Struct { fields, width: defs.len(), unread }
            }
            (NamedKind::Record { .. }, _) => Plan::AsWritten(ty.clone()),
            _ => Plan::Scalar { ty: ty.clone(), target: target.clone() },
        },
        (_, SqlType::Struct(_) | SqlType::Array(_) | SqlType::Map(..)) => Plan::AsWritten(ty.clone()),
        _ => Plan::Scalar { ty: ty.clone(), target: target.clone() },
    })
}

/// Reads datums of one writer schema by their plans.
struct Decoding<'s> {
    schema: &'s weft_schema::avro::AvroSchema,
}

impl Decoding<'_> {
    /// Reads past one value of a plan (a column the caller does not need), building nothing.
    fn skip(&self, reader: &mut Reader<'_>, plan: &Plan) -> Result<()> {
        match plan {
            Plan::Skip(ty) | Plan::AsWritten(ty) | Plan::Scalar { ty, .. } => {
                reader.skip(self.schema, ty).map_err(schema_error)
            }
            Plan::Union(branches) => {
                let branch = reader.branch(branches.len()).map_err(schema_error)?;
                self.skip(reader, &branches[branch])
            }
            Plan::Array(items) => self.nested(reader, |reader| {
                while let count @ 1.. = reader.block().map_err(schema_error)? {
                    for _ in 0..count {
                        self.skip(reader, items)?;
                    }
                }
                Ok(())
            }),
            Plan::Map(values) => self.nested(reader, |reader| {
                while let count @ 1.. = reader.block().map_err(schema_error)? {
                    for _ in 0..count {
                        reader.string().map_err(schema_error)?;
                        self.skip(reader, values)?;
                    }
                }
                Ok(())
            }),
            Plan::Struct { fields, .. } => {
                self.nested(reader, |reader| fields.iter().try_for_each(|(_, field)| self.skip(reader, field)))
            }
        }
    }

    /// Runs `inside` one level down.
    fn nested(&self, reader: &mut Reader<'_>, inside: impl FnOnce(&mut Reader<'_>) -> Result<()>) -> Result<()> {
        reader.enter().map_err(schema_error)?;
        let done = inside(reader);
        reader.leave();
        done
    }

    /// Reads one value into `slot`, reusing what the slot holds where it can.
    fn read(&self, reader: &mut Reader<'_>, plan: &Plan, slot: &mut Value) -> Result<()> {
        reader.enter().map_err(schema_error)?;
        let read = self.read_value(reader, plan, slot);
        reader.leave();
        read
    }

    fn read_value(&self, reader: &mut Reader<'_>, plan: &Plan, slot: &mut Value) -> Result<()> {
        match plan {
            Plan::Skip(ty) => {
                reader.skip(self.schema, ty).map_err(schema_error)?;
                *slot = Value::Null;
            }
            Plan::Scalar { ty, target } => self.scalar(reader, ty, target, slot)?,
            // The branch is this same value: no level of its own.
            Plan::Union(branches) => {
                let branch = reader.branch(branches.len()).map_err(schema_error)?;
                self.read_value(reader, &branches[branch], slot)?;
            }
            Plan::Array(items) => self.array(reader, items, slot)?,
            Plan::Map(values) => self.map(reader, values, slot)?,
            Plan::Struct { fields, width, unread } => self.record(reader, fields, *width, unread, slot)?,
            Plan::AsWritten(ty) => *slot = self.as_written(reader, ty)?,
        }
        Ok(())
    }

    fn array(&self, reader: &mut Reader<'_>, items: &Plan, slot: &mut Value) -> Result<()> {
        if !matches!(slot, Value::Array(_)) {
            *slot = Value::Array(Vec::new());
        }
        let Value::Array(out) = slot else { return Ok(()) };
        out.clear();
        loop {
            let count = reader.block().map_err(schema_error)?;
            if count == 0 {
                return Ok(());
            }
            for _ in 0..count {
                let mut item = Value::Null;
                self.read(reader, items, &mut item)?;
                out.push(item);
            }
        }
    }

    fn map(&self, reader: &mut Reader<'_>, values: &Plan, slot: &mut Value) -> Result<()> {
        let mut out = crate::types::SqlMap::new();
        loop {
            let count = reader.block().map_err(schema_error)?;
            if count == 0 {
                break;
            }
            for _ in 0..count {
                let key = reader.string().map_err(schema_error)?.to_string();
                let mut item = Value::Null;
                self.read(reader, values, &mut item)?;
                out.insert(key, item);
            }
        }
        *slot = Value::map(out);
        Ok(())
    }

    fn record(
        &self,
        reader: &mut Reader<'_>,
        fields: &[(Option<usize>, Plan)],
        width: usize,
        unread: &[usize],
        slot: &mut Value,
    ) -> Result<()> {
        if !matches!(slot, Value::Struct(values) if values.len() == width) {
            *slot = Value::Struct(vec![Value::Null; width]);
        }
        let Value::Struct(out) = slot else { return Ok(()) };
        for &j in unread {
            out[j] = Value::Null;
        }
        for (target, plan) in fields {
            match target {
                Some(j) => self.read(reader, plan, &mut out[*j])?,
                None => self.skip(reader, plan)?,
            }
        }
        Ok(())
    }

    /// A primitive, enum or fixed value of the writer's type, made a value of `target`.
    fn scalar(&self, reader: &mut Reader<'_>, ty: &AvroType, target: &SqlType, slot: &mut Value) -> Result<()> {
        // Strings (and enum symbols) into STRING columns and bytes into BYTES columns are copied into
        // the slot's buffer: the common case allocates nothing.
        match (ty, target) {
            (AvroType::String(logical), SqlType::String) => {
                set_string(slot, reader.string_of(*logical).map_err(schema_error)?);
                return Ok(());
            }
            (AvroType::Bytes(None), SqlType::Bytes) => {
                set_bytes(slot, reader.bytes().map_err(schema_error)?);
                return Ok(());
            }
            (AvroType::Named(i), SqlType::String) => {
                let def = &self.schema.named[*i];
                if let NamedKind::Enum { symbols, .. } = &def.kind {
                    let index = reader.symbol(&def.name, symbols.len()).map_err(schema_error)?;
                    set_string(slot, &symbols[index]);
                    return Ok(());
                }
            }
            _ => {}
        }
        let value = self.natural(reader, ty)?;
        // Coerce to the column's type (e.g. an Avro int read into a BIGINT column); a value that does
        // not convert is kept as it is.
        *slot = if value.is_null() || sql_type_of(&value).as_ref() == Some(target) {
            value
        } else {
            match crate::functions::cast_value(&value, target) {
                Value::Null => value,
                cast => cast,
            }
        };
        Ok(())
    }

    /// The SQL value of a primitive, enum or fixed Avro value.
    fn natural(&self, reader: &mut Reader<'_>, ty: &AvroType) -> Result<Value> {
        let r = reader;
        Ok(match ty {
            AvroType::Null => Value::Null,
            AvroType::Boolean => Value::Bool(r.boolean().map_err(schema_error)?),
            AvroType::Int(Some(LogicalType::Date)) => Value::Date(r.int().map_err(schema_error)?),
            AvroType::Int(Some(LogicalType::TimeMillis)) => Value::Time(i64::from(r.int().map_err(schema_error)?)),
            AvroType::Int(_) => Value::Int(r.int().map_err(schema_error)?),
            AvroType::Long(Some(LogicalType::TimestampMillis)) => Value::Timestamp(r.long().map_err(schema_error)?),
            AvroType::Long(Some(LogicalType::TimestampMicros)) => {
                Value::Timestamp(r.long().map_err(schema_error)? / 1000)
            }
            AvroType::Long(_) => Value::Bigint(r.long().map_err(schema_error)?),
            AvroType::Float => Value::Double(f64::from(r.float().map_err(schema_error)?)),
            AvroType::Double => Value::Double(r.double().map_err(schema_error)?),
            AvroType::Bytes(Some(LogicalType::Decimal { scale, .. })) => Value::Decimal(Decimal {
                unscaled: r.decimal(None).map_err(schema_error)?,
                scale: decimal_scale(*scale)?,
            }),
            AvroType::Bytes(_) => Value::Bytes(r.bytes().map_err(schema_error)?.to_vec()),
            AvroType::String(logical) => Value::String(r.string_of(*logical).map_err(schema_error)?.to_string()),
            AvroType::Named(i) => {
                let def = &self.schema.named[*i];
                match &def.kind {
                    NamedKind::Enum { symbols, .. } => {
                        Value::String(symbols[r.symbol(&def.name, symbols.len()).map_err(schema_error)?].clone())
                    }
                    NamedKind::Fixed { size, logical: Some(LogicalType::Decimal { scale, .. }) } => {
                        Value::Decimal(Decimal {
                            unscaled: r.decimal(Some(*size)).map_err(schema_error)?,
                            scale: decimal_scale(*scale)?,
                        })
                    }
                    NamedKind::Fixed { size, .. } => Value::Bytes(r.fixed(*size).map_err(schema_error)?.to_vec()),
                    NamedKind::Record { .. } => return Err(bad("internal: a record read as a scalar")),
                }
            }
            AvroType::Array(_) | AvroType::Map(_) | AvroType::Union(_) => {
                return Err(bad("internal: a collection read as a scalar"))
            }
        })
    }

    /// A value as written, for a column whose type does not fit it: records become positional
    /// structs, nothing is coerced.
    fn as_written(&self, reader: &mut Reader<'_>, ty: &AvroType) -> Result<Value> {
        match ty {
            AvroType::Union(branches) => {
                let branch = reader.branch(branches.len()).map_err(schema_error)?;
                self.as_written(reader, &branches[branch])
            }
            AvroType::Array(items) => {
                let mut out = Vec::new();
                loop {
                    let count = reader.block().map_err(schema_error)?;
                    if count == 0 {
                        return Ok(Value::Array(out));
                    }
                    for _ in 0..count {
                        out.push(self.nested_as_written(reader, items)?);
                    }
                }
            }
            AvroType::Map(values) => {
                let mut out = crate::types::SqlMap::new();
                loop {
                    let count = reader.block().map_err(schema_error)?;
                    if count == 0 {
                        return Ok(Value::map(out));
                    }
                    for _ in 0..count {
                        let key = reader.string().map_err(schema_error)?.to_string();
                        out.insert(key, self.nested_as_written(reader, values)?);
                    }
                }
            }
            AvroType::Named(i) => match &self.schema.named[*i].kind {
                NamedKind::Record { fields, .. } => Ok(Value::Struct(
                    fields.iter().map(|f| self.nested_as_written(reader, &f.ty)).collect::<Result<_>>()?,
                )),
                _ => self.natural(reader, ty),
            },
            _ => self.natural(reader, ty),
        }
    }

    fn nested_as_written(&self, reader: &mut Reader<'_>, ty: &AvroType) -> Result<Value> {
        reader.enter().map_err(schema_error)?;
        let value = self.as_written(reader, ty);
        reader.leave();
        value
    }
}

/// The SQL type a scalar value already has, when it has one of its own.
fn sql_type_of(value: &Value) -> Option<SqlType> {
    Some(match value {
        Value::Bool(_) => SqlType::Boolean,
        Value::Int(_) => SqlType::Int,
        Value::Bigint(_) => SqlType::Bigint,
        Value::Double(_) => SqlType::Double,
        Value::String(_) => SqlType::String,
        Value::Bytes(_) => SqlType::Bytes,
        Value::Timestamp(_) => SqlType::Timestamp,
        Value::Date(_) => SqlType::Date,
        Value::Time(_) => SqlType::Time,
        _ => return None,
    })
}

fn set_string(slot: &mut Value, s: &str) {
    match slot {
        Value::String(buf) => {
            buf.clear();
            buf.push_str(s);
        }
        other => *other = Value::String(s.to_string()),
    }
}

fn set_bytes(slot: &mut Value, b: &[u8]) {
    match slot {
        Value::Bytes(buf) => {
            buf.clear();
            buf.extend_from_slice(b);
        }
        other => *other = Value::Bytes(b.to_vec()),
    }
}

// ----- writing -----

/// Writes SQL values as datums of a schema derived from SQL types.
struct Writer<'s> {
    schema: &'s weft_schema::avro::AvroSchema,
}

impl Writer<'_> {
    fn write(&self, ty: &AvroType, v: &Value, buf: &mut Vec<u8>, depth: usize) -> Result<()> {
        if depth >= MAX_DEPTH {
            return Err(bad(format!("the value nests deeper than {MAX_DEPTH} levels")));
        }
        let mismatch = || bad(format!("cannot write {v:?} as Avro {}", self.schema.type_name(ty)));
        match (ty, v) {
            // ksqlDB's derived schemas make every value an optional union: null, else the other branch.
            (AvroType::Union(branches), v) => {
                let i = if v.is_null() {
                    branches.iter().position(|b| matches!(b, AvroType::Null))
                } else {
                    branches.iter().position(|b| !matches!(b, AvroType::Null))
                }
                .ok_or_else(mismatch)?;
                binary::write_long(i as i64, buf);
                return self.write(&branches[i], v, buf, depth);
            }
            (AvroType::Null, Value::Null) => {}
            (AvroType::Boolean, Value::Bool(b)) => binary::write_boolean(*b, buf),
            (AvroType::Long(Some(LogicalType::TimestampMicros)), Value::Timestamp(ms)) => {
                binary::write_long(ms.checked_mul(1000).ok_or_else(mismatch)?, buf)
            }
            (AvroType::Int(_), v) => {
                let int = v.as_i64().and_then(|i| i32::try_from(i).ok()).ok_or_else(mismatch)?;
                binary::write_long(i64::from(int), buf)
            }
            (AvroType::Long(_), v) => binary::write_long(v.as_i64().ok_or_else(mismatch)?, buf),
            (AvroType::Double, v) => binary::write_double(v.as_f64().ok_or_else(mismatch)?, buf),
            (AvroType::Float, v) => binary::write_float(v.as_f64().ok_or_else(mismatch)? as f32, buf),
            (AvroType::String(_), Value::String(s)) => binary::write_string(s, buf),
            (AvroType::Bytes(Some(LogicalType::Decimal { scale, .. })), Value::Decimal(d)) => {
                let d = d.rescale(decimal_scale(*scale)?).ok_or_else(mismatch)?;
                binary::write_decimal(d.unscaled, None, buf).map_err(|_| mismatch())?;
            }
            (AvroType::Bytes(None), Value::Bytes(b)) => binary::write_bytes(b, buf),
            (AvroType::Array(items), Value::Array(vs)) => {
                if !vs.is_empty() {
                    binary::write_long(vs.len() as i64, buf);
                    for x in vs {
                        self.write(items, x, buf, depth + 1)?;
                    }
                }
                binary::write_long(0, buf);
            }
            (AvroType::Map(values), Value::Map(m)) => {
                if !m.is_empty() {
                    binary::write_long(m.len() as i64, buf);
                    for (k, x) in m.iter() {
                        binary::write_string(k, buf);
                        self.write(values, x, buf, depth + 1)?;
                    }
                }
                binary::write_long(0, buf);
            }
            (AvroType::Named(i), v) => {
                let def = &self.schema.named[*i];
                match (&def.kind, v) {
                    (NamedKind::Record { fields, .. }, Value::Struct(vs)) => {
                        for (field, x) in fields.iter().zip(vs.iter().chain(std::iter::repeat(&Value::Null))) {
                            self.write(&field.ty, x, buf, depth + 1)?;
                        }
                    }
                    (NamedKind::Enum { .. }, Value::String(s)) => {
                        binary::write_long(def.symbol(s).ok_or_else(mismatch)? as i64, buf)
                    }
                    (
                        NamedKind::Fixed { size, logical: Some(LogicalType::Decimal { scale, .. }) },
                        Value::Decimal(d),
                    ) => {
                        let d = d.rescale(decimal_scale(*scale)?).ok_or_else(mismatch)?;
                        binary::write_decimal(d.unscaled, Some(*size), buf).map_err(|_| mismatch())?;
                    }
                    (NamedKind::Fixed { size, .. }, Value::Bytes(b)) if b.len() == *size => buf.extend_from_slice(b),
                    _ => return Err(mismatch()),
                }
            }
            _ => return Err(mismatch()),
        }
        Ok(())
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::registry::SchemaRegistry;

    /// An in-memory registry for tests.
    #[derive(Default)]
    pub struct MemoryRegistry {
        schemas: Mutex<Vec<(String, String)>>,
    }

    impl SchemaRegistry for MemoryRegistry {
        fn register(&self, subject: &str, _schema_type: SchemaType, schema: &str) -> Result<u32> {
            let mut s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(i) = s.iter().position(|(sub, sch)| sub == subject && sch == schema) {
                return Ok(i as u32 + 1);
            }
            s.push((subject.to_string(), schema.to_string()));
            Ok(s.len() as u32)
        }
        fn schema_by_id(&self, id: u32) -> Result<String> {
            let s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
            s.get(id as usize - 1).map(|x| x.1.clone()).ok_or_else(|| bad("no such schema"))
        }
        fn latest(&self, subject: &str) -> Result<(u32, String)> {
            let s = self.schemas.lock().unwrap_or_else(|e| e.into_inner());
            s.iter()
                .enumerate()
                .rev()
                .find(|(_, (sub, _))| sub == subject)
                .map(|(i, (_, sch))| (i as u32 + 1, sch.clone()))
                .ok_or_else(|| bad("no such subject"))
        }
    }

    #[test]
    fn round_trip_through_the_wire_format() {
        let registry = RegistryHandle(Arc::new(MemoryRegistry::default()));
        let columns = vec![
            Column { name: "A".into(), ty: SqlType::Int },
            Column { name: "B".into(), ty: SqlType::String },
            Column { name: "C".into(), ty: SqlType::Decimal { precision: 5, scale: 2 } },
            Column { name: "D".into(), ty: SqlType::Array(Box::new(SqlType::Bigint)) },
            Column { name: "E".into(), ty: SqlType::Struct(vec![("X".into(), SqlType::Double)]) },
            Column { name: "F".into(), ty: SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Boolean)) },
        ];
        let values = vec![
            Value::Int(-7),
            Value::Null,
            Value::Decimal(Decimal { unscaled: -12345, scale: 2 }),
            Value::Array(vec![Value::Bigint(1), Value::Bigint(300)]),
            Value::Struct(vec![Value::Double(1.5)]),
            Value::map(crate::types::SqlMap::from([("k".to_string(), Value::Bool(true))])),
        ];
        let codec = AvroCodec::new(registry.clone(), "t-value".into());
        let mut buf = Vec::new();
        codec.encode(&columns, &values.iter().collect::<Vec<_>>(), &mut buf).unwrap();
        assert_eq!(&buf[..5], &[0, 0, 0, 0, 1]);
        let mut out = vec![Value::Null; columns.len()];
        let reader = AvroCodec::new(registry.clone(), "t-value".into());
        reader.decode_into(&columns, &[], &buf, &mut out).unwrap();
        assert_eq!(out, values);
        let (_, latest) = registry.0.latest("t-value").unwrap();
        let inferred = AvroSchema::parse(&latest).unwrap().columns().unwrap();
        assert_eq!(inferred[0], Column { name: "A".into(), ty: SqlType::Int });
        assert!(reader.decode_into(&columns, &[], b"\x01\x00\x00\x00\x01", &mut out).is_err());
        assert!(reader.decode_into(&columns, &[], &buf[..8], &mut out).is_err());
    }

    #[test]
    fn decodes_with_the_writers_schema() {
        let registry = Arc::new(MemoryRegistry::default());
        let id = registry
            .register(
                "t-value",
                SchemaType::Avro,
                r#"{"type":"record","name":"R","fields":[{"name":"b","type":"string"},{"name":"a","type":"int"}]}"#,
            )
            .unwrap();
        let mut bytes = vec![0];
        bytes.extend_from_slice(&id.to_be_bytes());
        bytes.extend_from_slice(&[0x04, b'h', b'i', 0x0a]);
        let columns =
            vec![Column { name: "A".into(), ty: SqlType::Bigint }, Column { name: "B".into(), ty: SqlType::String }];
        let codec = AvroCodec::new(RegistryHandle(registry), "t-value".into());
        let mut out = vec![Value::Null; 2];
        codec.decode_into(&columns, &[], &bytes, &mut out).unwrap();
        assert_eq!(out, vec![Value::Bigint(5), Value::String("hi".into())]);
    }

    #[test]
    fn parses_named_types_and_logical_types() {
        let s = AvroSchema::parse(
            r#"{"type":"record","name":"R","namespace":"n","fields":[
                {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}},
                {"name":"inner","type":{"type":"record","name":"I","fields":[{"name":"v","type":"int"}]}},
                {"name":"again","type":["null","I"]},
                {"name":"color","type":{"type":"enum","name":"C","symbols":["RED","GREEN"]}}]}"#,
        )
        .unwrap();
        let cols = s.columns().unwrap();
        assert_eq!(cols[0].ty, SqlType::Timestamp);
        assert_eq!(cols[2].ty, SqlType::Struct(vec![("V".into(), SqlType::Int)]));
        assert_eq!(cols[3], Column { name: "COLOR".into(), ty: SqlType::String });
    }
}
