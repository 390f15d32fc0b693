//! `POST /api/v1/sql/validate`: checks ksqlDB statements without running them, for an editor that
//! validates as the user types.
//!
//! Syntax is checked by the engine's parser (errors carry line and column); queries, `CREATE ... AS
//! SELECT` and `INSERT INTO ... SELECT` are then planned through `EXPLAIN`, which resolves names and
//! types and has no side effect; names that must (not) exist are looked up in the metastore. Nothing is
//! written: validating is safe to call on every keystroke.

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use weft_mesh::weft_sql::ast::{SourceKind, Statement};
use weft_mesh::weft_sql::lexer::{tokenize, Tok};
use weft_mesh::weft_sql::parser::parse_statements_with_types;
use weft_mesh::weft_sql::{Engine, SqlError};

use super::openapi::ErrorBody;
use super::{call, JsonBody};
use crate::error::ApiError;
use crate::AppState;

/// The longest text validated (an editor's buffer, not a bulk load).
const MAX_SQL_BYTES: usize = 256 * 1024;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ValidateRequest {
    /// One or more statements separated by `;`.
    pub sql: String,
}

/// One statement of the text, as the parser saw it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckedStatement {
    /// `createSource`, `createAsSelect`, `insertInto`, `insertValues`, `query`, `show`, `describe`,
    /// `explain`, `drop`, `terminate`, `print`, `set`, `unset`, `createType`, `dropType` or `alter`.
    pub kind: String,
    pub text: String,
    /// Where the statement starts (1-based; columns count characters).
    pub line: u32,
    pub column: u32,
    /// The stream or table it creates, inserts into, describes or drops.
    pub name: Option<String>,
    /// `STREAM` or `TABLE`, for statements that create or drop one.
    pub source_kind: Option<String>,
    /// The `SELECT` the statement runs (the statement itself for a query), to preview its output.
    pub select: Option<String>,
    /// A push query (`EMIT CHANGES`), which streams; `false` for other statements.
    pub push: bool,
    /// `full` when names and types were checked too, `syntax` when only the syntax was (a statement
    /// after one that creates a source refers to what does not exist yet).
    pub checked: String,
}

/// What is wrong, and where.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SqlProblem {
    pub line: u32,
    pub column: u32,
    pub message: String,
    /// The index of the statement in `statements` (absent for syntax errors, which stop parsing).
    pub statement: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Validation {
    pub valid: bool,
    pub statements: Vec<CheckedStatement>,
    pub errors: Vec<SqlProblem>,
}

/// Checks statements without running them.
#[utoipa::path(post, path = "/api/v1/sql/validate", tag = "sql", request_body = ValidateRequest,
    responses((status = 200, description = "Whether the text is valid, its statements, and each problem with its line and column", body = Validation),
        (status = 413, description = "The text is too long (41301)", body = ErrorBody),
        (status = 422, description = "No `sql` field (42201)", body = ErrorBody)))]
pub async fn validate(
    State(state): State<AppState>,
    JsonBody(request): JsonBody<ValidateRequest>,
) -> Result<Json<Validation>, ApiError> {
    if request.sql.len() > MAX_SQL_BYTES {
        return Err(ApiError::new(
            crate::error::ErrorCode::TooLarge,
            format!("the SQL text is {} bytes; validation takes at most {MAX_SQL_BYTES}", request.sql.len()),
        ));
    }
    let validation = call(&state, move |mesh| Ok(check(mesh.sql(), &request.sql))).await?;
    Ok(Json(validation))
}

fn check(engine: &Engine, text: &str) -> Validation {
    let parsed = match parse_statements_with_types(text, &engine.types()) {
        Ok(parsed) => parsed,
        Err(e) => {
            let (line, column, message) = match e {
                // The editor places the error itself: the statement ksqlDB repeats is left out.
                SqlError::Parse { line, column, message } => {
                    let message = message.split("\nStatement: ").next().unwrap_or_default().to_string();
                    (line, column, message)
                }
                other => (1, 1, other.to_string()),
            };
            return Validation {
                valid: false,
                statements: Vec::new(),
                errors: vec![SqlProblem { line, column, message, statement: None }],
            };
        }
    };
    let mut statements = Vec::new();
    let mut errors = Vec::new();
    let mut cursor = 0;
    // Once a statement creates a source, later ones may refer to it: only their syntax can be checked.
    let mut creates_before = false;
    for (index, parsed) in parsed.iter().enumerate() {
        // The parser keeps each statement's text as a trimmed slice of the input, in order.
        let start = text[cursor..].find(&parsed.text).map_or(cursor, |at| cursor + at);
        cursor = start + parsed.text.len();
        let (line, column) = position(text, start);
        let mut statement = describe(&parsed.statement, &parsed.text, line, column);
        if creates_before {
            statement.checked = "syntax".into();
        } else if let Err(message) = analyse(engine, &parsed.statement, &parsed.text) {
            // Point at the name the message is about when the statement has it, else at the statement.
            let (line, column) = locate(&parsed.text, &message).map_or((line, column), |at| position(text, start + at));
            errors.push(SqlProblem { line, column, message, statement: Some(index) });
        }
        creates_before |= matches!(parsed.statement, Statement::CreateSource(_) | Statement::CreateAsSelect(_));
        statements.push(statement);
    }
    Validation { valid: errors.is_empty(), statements, errors }
}

/// Line and column (1-based, in characters) of byte `offset` of `text`.
fn position(text: &str, offset: usize) -> (u32, u32) {
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (u32::try_from(line).unwrap_or(u32::MAX), u32::try_from(column).unwrap_or(u32::MAX))
}

fn kind_name(kind: SourceKind) -> Option<String> {
    Some(kind.name().to_string())
}

fn describe(statement: &Statement, text: &str, line: u32, column: u32) -> CheckedStatement {
    let (kind, name, source_kind, select, push) = match statement {
        Statement::CreateSource(c) => ("createSource", Some(c.name.clone()), kind_name(c.kind), None, false),
        Statement::CreateAsSelect(c) => {
            ("createAsSelect", Some(c.name.clone()), kind_name(c.kind), select_of(text), false)
        }
        Statement::InsertInto { target, .. } => ("insertInto", Some(target.clone()), None, select_of(text), false),
        Statement::InsertValues { target, .. } => ("insertValues", Some(target.clone()), None, None, false),
        Statement::Query(q) => ("query", None, None, Some(text.to_string()), q.emit.is_some()),
        Statement::Show { .. } => ("show", None, None, None, false),
        Statement::Describe { name, .. } => ("describe", Some(name.clone()), None, None, false),
        Statement::DescribeFunction(name) => ("describe", Some(name.clone()), None, None, false),
        Statement::Explain(_) | Statement::ExplainQuery(_) => ("explain", None, None, None, false),
        Statement::Drop { kind, name, .. } => ("drop", Some(name.clone()), kind_name(*kind), None, false),
        Statement::Terminate(_) => ("terminate", None, None, None, false),
        Statement::Print { topic, .. } => ("print", Some(topic.clone()), None, None, false),
        Statement::Set { .. } => ("set", None, None, None, false),
        Statement::Unset(_) => ("unset", None, None, None, false),
        Statement::CreateType { name, .. } => ("createType", Some(name.clone()), None, None, false),
        Statement::DropType { name, .. } => ("dropType", Some(name.clone()), None, None, false),
        Statement::Alter { kind, name, .. } => ("alter", Some(name.clone()), kind_name(*kind), None, false),
    };
    CheckedStatement {
        kind: kind.into(),
        text: text.to_string(),
        line,
        column,
        name,
        source_kind,
        select,
        push,
        checked: "full".into(),
    }
}

/// The text from the statement's first `SELECT` outside parentheses (the query of `CREATE ... AS
/// SELECT` and `INSERT INTO ... SELECT`).
fn select_of(text: &str) -> Option<String> {
    let tokens = tokenize(text).ok()?;
    let mut depth = 0i32;
    for token in &tokens {
        match &token.tok {
            Tok::Sym("(") => depth += 1,
            Tok::Sym(")") => depth -= 1,
            Tok::Word(w) if depth == 0 && w.eq_ignore_ascii_case("SELECT") => {
                return Some(text[token.start..].trim().to_string());
            }
            _ => {}
        }
    }
    None
}

/// Name and type checks that need the metastore; `Err` is the engine's message.
fn analyse(engine: &Engine, statement: &Statement, text: &str) -> Result<(), String> {
    let exists = |name: &str| engine.source(name).is_some();
    match statement {
        Statement::CreateSource(c) if !c.or_replace && !c.if_not_exists && exists(&c.name) => {
            Err(already_exists(c.kind, &c.name))
        }
        Statement::CreateAsSelect(c) if !c.or_replace && !c.if_not_exists && exists(&c.name) => {
            Err(already_exists(c.kind, &c.name))
        }
        Statement::Drop { kind, name, if_exists: false, .. } if !exists(name) => {
            Err(format!("{} {name} does not exist", kind.name()))
        }
        Statement::Describe { name, .. } if !exists(name) => Err(format!("{name} does not exist")),
        Statement::Query(_) | Statement::CreateAsSelect(_) | Statement::InsertInto { .. } => {
            // EXPLAIN plans the statement (names, types, functions) and changes nothing.
            engine.execute(&format!("EXPLAIN {text}")).map(|_| ()).map_err(|e| e.to_string())
        }
        _ => Ok(()),
    }
}

/// Where in `statement` the first quoted name of `message` ('NAME' or `NAME`) is written, compared
/// without case as a whole word (the engine upper-cases unquoted names).
fn locate(statement: &str, message: &str) -> Option<usize> {
    let quote = message.find(['\'', '`'])?;
    let close = message.as_bytes()[quote] as char;
    let rest = &message[quote + 1..];
    let name = &rest[..rest.find(close)?];
    if name.is_empty() || !name.is_ascii() {
        return None;
    }
    let haystack = statement.to_ascii_uppercase();
    let needle = name.to_ascii_uppercase();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(found) = haystack[from..].find(&needle) {
        let at = from + found;
        let end = at + needle.len();
        let before = at.checked_sub(1).map(|i| haystack.as_bytes()[i]);
        let after = haystack.as_bytes().get(end).copied();
        if !before.is_some_and(word) && !after.is_some_and(word) {
            return Some(at);
        }
        from = end;
    }
    None
}

/// ksqlDB's message for a name that is taken.
fn already_exists(kind: SourceKind, name: &str) -> String {
    let kind = kind.name().to_ascii_lowercase();
    format!("Cannot add {kind} '{name}': A {kind} with the same name already exists")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_count_lines_and_characters() {
        let text = "SELECT 1;\n  SELECT é, x";
        assert_eq!(position(text, 0), (1, 1));
        assert_eq!(position(text, 12), (2, 3));
        let after_accent = text.find(", x").unwrap_or_default();
        assert_eq!(position(text, after_accent), (2, 11));
    }

    #[test]
    fn errors_point_at_the_name_they_are_about() {
        let statement = "SELECT ID, NOPE_X, nope FROM ORDERS";
        assert_eq!(locate(statement, "column 'NOPE' cannot be resolved"), Some(19));
        assert_eq!(locate(statement, "column `ID` is ambiguous"), Some(7));
        assert_eq!(locate(statement, "no quotes here"), None);
        assert_eq!(locate(statement, "column 'GONE' cannot be resolved"), None);
        assert_eq!(locate(statement, "unterminated 'quote"), None);
    }

    #[test]
    fn the_select_of_a_create_as_select_skips_parentheses() {
        let text = "CREATE STREAM big WITH (KAFKA_TOPIC='t') AS SELECT id, (SELECT) FROM orders";
        assert_eq!(select_of(text).as_deref(), Some("SELECT id, (SELECT) FROM orders"));
        assert_eq!(select_of("INSERT INTO a SELECT * FROM b").as_deref(), Some("SELECT * FROM b"));
        assert_eq!(select_of("CREATE STREAM a (id INT) WITH (KAFKA_TOPIC='a')"), None);
    }
}
