//! A recursive-descent parser for ksqlDB statements. Errors name the line, the column and what
//! was expected.

use std::collections::BTreeMap;

use crate::ast::*;
use crate::error::{Result, SqlError};
use crate::lexer::{tokenize, Pos, Tok, Token};
use crate::types::SqlType;

/// Parses every statement of `text` (statements separated by `;`).
pub fn parse_statements(text: &str) -> Result<Vec<ParsedStatement>> {
    parse_statements_with_types(text, &BTreeMap::new())
}

/// [`parse_statements`] where a type may also be one of `types` (registered with `CREATE TYPE`)
/// or one a `CREATE TYPE` earlier in `text` registers (and no later `DROP TYPE` drops).
pub fn parse_statements_with_types(text: &str, types: &BTreeMap<String, SqlType>) -> Result<Vec<ParsedStatement>> {
    parse_all(text, types, false)
}

/// [`parse_statements`] that takes any unknown type name for a custom type: what the statements
/// are, when the custom types are not at hand.
pub fn parse_statements_any_type(text: &str) -> Result<Vec<ParsedStatement>> {
    parse_all(text, &BTreeMap::new(), true)
}

fn parse_all(text: &str, types: &BTreeMap<String, SqlType>, any_type: bool) -> Result<Vec<ParsedStatement>> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, i: 0, depth: 0, types: types.clone(), any_type };
    let mut out = Vec::new();
    loop {
        while p.eat_sym(";") {}
        if p.at_eof() {
            break;
        }
        let (start, at) = (p.peek().start, p.peek().pos);
        let statement = p.statement().map_err(|e| with_statement(e, text, start, &p))?;
        match &statement {
            Statement::CreateType { name, ty, .. } => {
                p.types.entry(name.clone()).or_insert_with(|| ty.clone());
            }
            Statement::DropType { name, .. } => {
                p.types.remove(name);
            }
            _ => {}
        }
        let end = p.peek().start;
        if !p.at_eof() && !p.is_sym(";") {
            return Err(p.expected("';' or end of input"));
        }
        out.push(ParsedStatement {
            statement,
            text: text[start..end].trim().to_string(),
            line: at.line,
            column: at.column,
        });
    }
    Ok(out)
}

/// Statements longer than this are not repeated in their syntax errors.
const MAX_QUOTED_STATEMENT: usize = 1000;

/// A syntax error followed by the statement it is in (from `start` to its `;`), as ksqlDB adds it;
/// a very long statement (a generated one, hostile input) is left out rather than echoed.
fn with_statement(e: SqlError, text: &str, start: usize, p: &Parser) -> SqlError {
    match e {
        SqlError::Parse { line, column, message } => {
            let end = p.tokens[p.i.min(p.tokens.len())..]
                .iter()
                .find(|t| matches!(&t.tok, Tok::Sym(";")))
                .map_or(text.len(), |t| t.start + 1);
            let statement = text.get(start..end).unwrap_or_default().trim();
            let message = if statement.len() <= MAX_QUOTED_STATEMENT {
                format!("{message}\nStatement: {statement}")
            } else {
                message
            };
            SqlError::Parse { line, column, message }
        }
        other => other,
    }
}

/// Parses a single expression (used by tests and tools).
pub fn parse_expression(text: &str) -> Result<Expr> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, i: 0, depth: 0, types: BTreeMap::new(), any_type: false };
    let e = p.expr()?;
    if !p.at_eof() {
        return Err(p.expected("end of expression"));
    }
    Ok(e)
}

/// Parses a type such as `ARRAY<STRUCT<A INT>>`.
pub fn parse_type(text: &str) -> Result<SqlType> {
    let tokens = tokenize(text)?;
    let mut p = Parser { tokens, i: 0, depth: 0, types: BTreeMap::new(), any_type: false };
    let t = p.data_type()?;
    if !p.at_eof() {
        return Err(p.expected("end of type"));
    }
    Ok(t)
}

/// Words that never start an alias or a column reference.
const RESERVED: &[&str] = &[
    "SELECT",
    "FROM",
    "WHERE",
    "GROUP",
    "BY",
    "HAVING",
    "WINDOW",
    "EMIT",
    "LIMIT",
    "PARTITION",
    "JOIN",
    "INNER",
    "LEFT",
    "RIGHT",
    "FULL",
    "OUTER",
    "ON",
    "WITHIN",
    "AND",
    "OR",
    "NOT",
    "IS",
    "NULL",
    "BETWEEN",
    "IN",
    "LIKE",
    "CASE",
    "WHEN",
    "THEN",
    "ELSE",
    "END",
    "AS",
    "CAST",
    "TRUE",
    "FALSE",
    "WITH",
    "VALUES",
    "INTO",
    "ESCAPE",
];

/// How deeply brackets may nest (parentheses, calls, CASE, CAST, constructors, subscripts and types):
/// the parser recurses once per level, so deeper input is refused rather than overflowing its stack.
pub const MAX_NESTING: usize = 64;

/// How high an expression's tree may be (a column or literal is 1, `a + b` is 2). Every later walk
/// (type checking, planning, evaluation per record, `EXPLAIN`, dropping the tree) is safe at this
/// height on a 2 MiB thread in a debug build (`tests/depth.rs` checks each), so the parser refuses
/// higher trees as they grow: a 100k-term `a OR a OR ...` is a located error, not a stack overflow.
pub const MAX_EXPR_DEPTH: usize = 512;

/// How tightly a binary operator binds (comparisons are not chained: `predicate` takes one).
fn precedence(op: BinaryOp) -> u8 {
    match op {
        BinaryOp::Or => 1,
        BinaryOp::And => 2,
        BinaryOp::Eq
        | BinaryOp::NotEq
        | BinaryOp::Lt
        | BinaryOp::LtEq
        | BinaryOp::Gt
        | BinaryOp::GtEq
        | BinaryOp::IsDistinctFrom
        | BinaryOp::IsNotDistinctFrom => 3,
        BinaryOp::Add | BinaryOp::Sub => 4,
        BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
    }
}

fn depth_exceeded() -> String {
    format!(
        "the expression nests deeper than {MAX_EXPR_DEPTH} levels: split it, or write a long chain of OR \
         as IN (...)"
    )
}

/// A parsed sub-expression with the height of its tree, so that the depth limit is checked as the
/// tree grows rather than by walking it.
struct Sub {
    expr: Expr,
    height: usize,
}

struct Parser {
    tokens: Vec<Token>,
    i: usize,
    depth: usize,
    /// Custom types (`CREATE TYPE`) by name: the engine's, then those the text creates.
    types: BTreeMap<String, SqlType>,
    /// Any unknown type name is taken as a custom type (as `STRING`): for what a statement is,
    /// without the engine's types.
    any_type: bool,
}

impl Parser {
    fn peek(&self) -> &Token {
        let last = self.tokens.len() - 1;
        &self.tokens[self.i.min(last)]
    }

    fn peek_at(&self, n: usize) -> &Tok {
        let last = self.tokens.len() - 1;
        &self.tokens[(self.i + n).min(last)].tok
    }

    /// Moves past the current token (never past the end).
    fn advance(&mut self) {
        if self.i < self.tokens.len() - 1 {
            self.i += 1;
        }
    }

    fn at_eof(&self) -> bool {
        self.peek().tok == Tok::Eof
    }

    fn pos(&self) -> Pos {
        self.peek().pos
    }

    fn error_at(&self, pos: Pos, message: String) -> SqlError {
        SqlError::Parse { line: pos.line, column: pos.column, message }
    }

    fn expected(&self, what: &str) -> SqlError {
        let t = self.peek();
        self.error_at(t.pos, format!("expected {what} but found {}", t.tok.describe()))
    }

    fn is_kw(&self, kw: &str) -> bool {
        matches!(&self.peek().tok, Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn is_kw_at(&self, n: usize, kw: &str) -> bool {
        matches!(self.peek_at(n), Tok::Word(w) if w.eq_ignore_ascii_case(kw))
    }

    fn eat_kw(&mut self, kw: &str) -> bool {
        if self.is_kw(kw) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: &str) -> Result<()> {
        if self.eat_kw(kw) {
            Ok(())
        } else {
            Err(self.expected(&format!("'{kw}'")))
        }
    }

    fn is_sym(&self, s: &str) -> bool {
        matches!(&self.peek().tok, Tok::Sym(x) if *x == s)
    }

    fn eat_sym(&mut self, s: &str) -> bool {
        if self.is_sym(s) {
            self.advance();
            true
        } else {
            false
        }
    }

    fn expect_sym(&mut self, s: &str) -> Result<()> {
        if self.eat_sym(s) {
            Ok(())
        } else if s == ")" && !self.at_eof() {
            // ANTLR's wording, which ksqlDB passes on (group-by.json: `GROUP BY f3, (f2, f1)`).
            let t = self.peek();
            Err(self.error_at(t.pos, format!("missing ')' at {}", t.tok.describe())))
        } else {
            Err(self.expected(&format!("'{s}'")))
        }
    }

    /// An identifier: unquoted words are upper-cased, quoted ones kept.
    fn ident(&mut self, what: &str) -> Result<String> {
        match &self.peek().tok {
            Tok::Word(w) if !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) => {
                let w = w.to_ascii_uppercase();
                self.advance();
                Ok(w)
            }
            Tok::Quoted(q) => {
                let q = q.clone();
                self.advance();
                Ok(q)
            }
            _ => Err(self.expected(what)),
        }
    }

    /// A source name: an identifier or, as ksqlDB also allows, any word (e.g. a keyword-like name).
    fn source_name(&mut self) -> Result<String> {
        match &self.peek().tok {
            Tok::Word(w) => {
                let w = w.to_ascii_uppercase();
                self.advance();
                Ok(w)
            }
            Tok::Quoted(_) => self.ident("a source name"),
            _ => Err(self.expected("a source name")),
        }
    }

    fn integer(&mut self, what: &str) -> Result<u64> {
        match &self.peek().tok {
            Tok::Int(n) => {
                let pos = self.pos();
                let n = n.parse::<u64>().map_err(|_| self.error_at(pos, format!("{what} is too large")))?;
                self.advance();
                Ok(n)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn string(&mut self, what: &str) -> Result<String> {
        match &self.peek().tok {
            Tok::Str(s) => {
                let s = s.clone();
                self.advance();
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    // ---- statements ----

    fn statement(&mut self) -> Result<Statement> {
        let t = self.peek().clone();
        let Tok::Word(w) = &t.tok else {
            return Err(self.expected("a statement (CREATE, INSERT, SELECT, SHOW, DESCRIBE, EXPLAIN, DROP, ...)"));
        };
        match w.to_ascii_uppercase().as_str() {
            "CREATE" if self.peek_word_at(1, "TYPE") => self.create_type(),
            "CREATE" => self.create(),
            "INSERT" => self.insert(),
            "SELECT" => Ok(Statement::Query(self.query()?)),
            "SHOW" | "LIST" => self.show(),
            "DESCRIBE" => self.describe(),
            "EXPLAIN" => {
                self.advance();
                match &self.peek().tok {
                    Tok::Word(w)
                        if ["SELECT", "CREATE", "INSERT"].iter().any(|k| w.eq_ignore_ascii_case(k))
                            && !matches!(self.peek_at(1), Tok::Sym(";") | Tok::Eof) =>
                    {
                        Ok(Statement::Explain(Box::new(self.statement()?)))
                    }
                    Tok::Word(_) | Tok::Quoted(_) => Ok(Statement::ExplainQuery(self.source_name()?)),
                    _ => Err(self.expected("a statement or a query id")),
                }
            }
            "DROP" if self.peek_word_at(1, "TYPE") => self.drop_type(),
            "DROP" => self.drop(),
            "ALTER" => self.alter(),
            "TERMINATE" => {
                self.advance();
                if self.eat_kw("ALL") {
                    Ok(Statement::Terminate(None))
                } else {
                    Ok(Statement::Terminate(Some(self.source_name()?)))
                }
            }
            "PRINT" => self.print(),
            "SET" => {
                self.advance();
                let name = self.string("a property name in single quotes")?;
                self.expect_sym("=")?;
                let value = self.string("a property value in single quotes")?;
                Ok(Statement::Set { name, value })
            }
            "UNSET" => {
                self.advance();
                Ok(Statement::Unset(self.string("a property name in single quotes")?))
            }
            // ksqlDB's test-only ASSERT statements are refused at their second word.
            "ASSERT" => {
                self.advance();
                let next = self.peek();
                let shown = match &next.tok {
                    Tok::Word(w) => w.to_ascii_uppercase(),
                    other => other.describe().trim_matches('\'').to_string(),
                };
                Err(SqlError::Analysis(format!(
                    "Syntax error at or near '{shown}' at line {}:{}",
                    next.pos.line, next.pos.column
                )))
            }
            // ksqlDB's wording first (asserts.json: `RUN SCRIPT`), then what would be accepted.
            other => Err(self.error_at(
                t.pos,
                format!(
                    "Unknown statement '{other}'\nexpected a statement (CREATE, INSERT, SELECT, SHOW, DESCRIBE, \
                     EXPLAIN, DROP, TERMINATE, PRINT, SET)"
                ),
            )),
        }
    }

    fn source_kind(&mut self) -> Result<SourceKind> {
        if self.eat_kw("STREAM") {
            Ok(SourceKind::Stream)
        } else if self.eat_kw("TABLE") {
            Ok(SourceKind::Table)
        } else {
            Err(self.expected("STREAM or TABLE"))
        }
    }

    fn create(&mut self) -> Result<Statement> {
        self.expect_kw("CREATE")?;
        let or_replace = if self.eat_kw("OR") {
            self.expect_kw("REPLACE")?;
            true
        } else {
            false
        };
        let read_only = self.eat_kw("SOURCE");
        let kind = self.source_kind()?;
        let if_not_exists = if self.eat_kw("IF") {
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
            true
        } else {
            false
        };
        let name = self.source_name()?;
        let mut columns = Vec::new();
        let mut has_columns = false;
        if self.eat_sym("(") {
            has_columns = true;
            loop {
                columns.push(self.column_def()?);
                if self.eat_sym(")") {
                    break;
                }
                if !self.eat_sym(",") {
                    return Err(self.error_at(self.pos(), "Expecting {',', ')'}".into()));
                }
            }
        }
        let properties = if self.is_kw("WITH") { self.properties()? } else { Properties::new() };
        if self.eat_kw("AS") {
            if has_columns {
                return Err(self.expected("no column list with AS SELECT"));
            }
            if read_only {
                return Err(self.error_at(self.pos(), "CREATE SOURCE cannot be AS SELECT".into()));
            }
            let query = self.query()?;
            return Ok(Statement::CreateAsSelect(CreateAsSelect {
                kind,
                name,
                or_replace,
                if_not_exists,
                properties,
                query,
            }));
        }
        Ok(Statement::CreateSource(CreateSource {
            kind,
            name,
            or_replace,
            if_not_exists,
            read_only,
            columns,
            properties,
        }))
    }

    fn column_def(&mut self) -> Result<ColumnDef> {
        let pos = self.pos();
        let name = match &self.peek().tok {
            // Column names may be keywords-looking words in ksqlDB (e.g. `value`, `key`).
            Tok::Word(w) => {
                let w = w.to_ascii_uppercase();
                self.advance();
                w
            }
            Tok::Quoted(_) => self.ident("a column name")?,
            _ => return Err(self.expected("a column name")),
        };
        let ty = self.data_type()?;
        let mut header = None;
        let key = if self.eat_kw("PRIMARY") {
            self.expect_kw("KEY")?;
            KeyConstraint::PrimaryKey
        } else if self.eat_kw("KEY") {
            KeyConstraint::Key
        } else if self.eat_kw("HEADERS") {
            KeyConstraint::Headers
        } else if self.eat_kw("HEADER") {
            self.expect_sym("(")?;
            header = Some(self.string("a header name")?);
            self.expect_sym(")")?;
            KeyConstraint::Headers
        } else {
            KeyConstraint::None
        };
        Ok(ColumnDef { name, ty, key, header, pos })
    }

    fn data_type(&mut self) -> Result<SqlType> {
        let t = self.peek().clone();
        let Tok::Word(w) = &t.tok else {
            return Err(self.expected("a type"));
        };
        let upper = w.to_ascii_uppercase();
        self.advance();
        let primitive = [
            "BOOLEAN",
            "INT",
            "INTEGER",
            "BIGINT",
            "DOUBLE",
            "STRING",
            "VARCHAR",
            "BYTES",
            "TIMESTAMP",
            "DATE",
            "TIME",
        ];
        // ksqlDB's grammar lets a type name carry parameters (`VARCHAR(STRING)`, `STRING(10)`),
        // which its primitive types ignore.
        if primitive.contains(&upper.as_str()) && self.eat_sym("(") {
            match &self.peek().tok {
                Tok::Int(_) => self.advance(),
                Tok::Word(p) if p.eq_ignore_ascii_case("STRING") => self.advance(),
                // ksqlDB's grammar's own words for what may stand there.
                _ => return Err(self.error_at(self.pos(), "Expecting {'STRING', INTEGER_VALUE}".into())),
            }
            self.expect_sym(")")?;
        }
        Ok(match upper.as_str() {
            "BOOLEAN" => SqlType::Boolean,
            "INT" | "INTEGER" => SqlType::Int,
            "BIGINT" => SqlType::Bigint,
            "DOUBLE" => SqlType::Double,
            "STRING" | "VARCHAR" => SqlType::String,
            "BYTES" => SqlType::Bytes,
            "TIMESTAMP" => SqlType::Timestamp,
            "DATE" => SqlType::Date,
            "TIME" => SqlType::Time,
            "DECIMAL" => {
                self.expect_sym("(")?;
                let ppos = self.pos();
                let precision = self.integer("a decimal precision")?;
                self.expect_sym(",")?;
                let scale = self.integer("a decimal scale")?;
                self.expect_sym(")")?;
                // ksqlDB sets no upper bound (DECIMAL(50, 30) is valid); 64 is Connect's default
                // precision, and a scale past 38 would not fit the 128-bit unscaled value.
                if !(1..=64).contains(&precision) || scale > precision || scale > 38 {
                    return Err(self.error_at(
                        ppos,
                        format!(
                            "DECIMAL precision must be 1 to 64 and scale at most the precision and 38, got \
                             ({precision}, {scale})"
                        ),
                    ));
                }
                SqlType::Decimal { precision: precision as u8, scale: scale as u8 }
            }
            "ARRAY" => {
                self.expect_sym("<")?;
                let inner = self.nested(Self::data_type)?;
                self.expect_sym(">")?;
                SqlType::Array(Box::new(inner))
            }
            "MAP" => {
                self.expect_sym("<")?;
                let k = self.nested(Self::data_type)?;
                self.expect_sym(",")?;
                let v = self.nested(Self::data_type)?;
                self.expect_sym(">")?;
                SqlType::Map(Box::new(k), Box::new(v))
            }
            "STRUCT" => {
                self.expect_sym("<")?;
                let mut fields = Vec::new();
                if !self.eat_sym(">") {
                    loop {
                        let name = match &self.peek().tok {
                            Tok::Word(w) => {
                                let w = w.to_ascii_uppercase();
                                self.advance();
                                w
                            }
                            Tok::Quoted(_) => self.ident("a field name")?,
                            _ => return Err(self.expected("a struct field name")),
                        };
                        let ty = self.nested(Self::data_type)?;
                        fields.push((name, ty));
                        if self.eat_sym(">") {
                            break;
                        }
                        if !self.eat_sym(",") {
                            return Err(self.expected("',' or '>'"));
                        }
                    }
                }
                SqlType::Struct(fields)
            }
            other if self.types.contains_key(other) => self.types[other].clone(),
            _ if self.any_type => SqlType::String,
            other => {
                return Err(self.error_at(
                    t.pos,
                    format!(
                        "unknown type '{other}': expected BOOLEAN, INT, BIGINT, DOUBLE, DECIMAL(p, s), STRING, \
                         BYTES, TIMESTAMP, DATE, TIME, ARRAY<...>, MAP<...> or STRUCT<...>"
                    ),
                ))
            }
        })
    }

    fn properties(&mut self) -> Result<Properties> {
        self.expect_kw("WITH")?;
        self.expect_sym("(")?;
        let mut props = Properties::new();
        loop {
            let key = match &self.peek().tok {
                Tok::Word(w) | Tok::Quoted(w) | Tok::Str(w) => w.to_ascii_uppercase(),
                _ => return Err(self.expected("a property name")),
            };
            self.advance();
            self.expect_sym("=")?;
            let negative = self.eat_sym("-");
            let value = match &self.peek().tok {
                Tok::Str(s) => PropValue::Str(s.clone()),
                Tok::Int(n) | Tok::Decimal(n) | Tok::Double(n) => {
                    PropValue::Number(if negative { format!("-{n}") } else { n.clone() })
                }
                Tok::Word(w) if w.eq_ignore_ascii_case("true") => PropValue::Bool(true),
                Tok::Word(w) if w.eq_ignore_ascii_case("false") => PropValue::Bool(false),
                _ => return Err(self.expected("a property value (string, number or boolean)")),
            };
            self.advance();
            props.insert(key, value);
            if self.eat_sym(")") {
                break;
            }
            if !self.eat_sym(",") {
                return Err(self.expected("',' or ')'"));
            }
        }
        Ok(props)
    }

    fn insert(&mut self) -> Result<Statement> {
        self.expect_kw("INSERT")?;
        self.expect_kw("INTO")?;
        let target = self.source_name()?;
        if self.is_sym("(") || self.is_kw("VALUES") {
            let mut columns = None;
            if self.eat_sym("(") {
                let mut cols = Vec::new();
                loop {
                    cols.push(self.column_name()?);
                    if self.eat_sym(")") {
                        break;
                    }
                    if !self.eat_sym(",") {
                        return Err(self.expected("',' or ')'"));
                    }
                }
                columns = Some(cols);
            }
            self.expect_kw("VALUES")?;
            self.expect_sym("(")?;
            let mut values = Vec::new();
            if !self.eat_sym(")") {
                loop {
                    values.push(self.expr()?);
                    if self.eat_sym(")") {
                        break;
                    }
                    if !self.eat_sym(",") {
                        return Err(self.expected("',' or ')'"));
                    }
                }
            }
            return Ok(Statement::InsertValues { target, columns, values });
        }
        if self.is_kw("WITH") {
            self.properties()?;
        }
        if !self.is_kw("SELECT") {
            return Err(self.expected("'SELECT', 'VALUES' or a column list"));
        }
        Ok(Statement::InsertInto { target, query: self.query()? })
    }

    /// A column name where keywords-looking words are allowed (INSERT column lists).
    fn column_name(&mut self) -> Result<String> {
        match &self.peek().tok {
            Tok::Word(w) => {
                let w = w.to_ascii_uppercase();
                self.advance();
                Ok(w)
            }
            Tok::Quoted(_) => self.ident("a column name"),
            _ => Err(self.expected("a column name")),
        }
    }

    fn show(&mut self) -> Result<Statement> {
        self.advance();
        self.eat_kw("ALL");
        let t = self.peek().clone();
        let kind = match &t.tok {
            Tok::Word(w) => match w.to_ascii_uppercase().as_str() {
                "STREAMS" => ShowKind::Streams,
                "TABLES" => ShowKind::Tables,
                "QUERIES" => ShowKind::Queries,
                "TOPICS" => ShowKind::Topics,
                "PROPERTIES" => ShowKind::Properties,
                "FUNCTIONS" => ShowKind::Functions,
                _ => return Err(self.expected("STREAMS, TABLES, QUERIES, TOPICS, PROPERTIES or FUNCTIONS")),
            },
            _ => return Err(self.expected("STREAMS, TABLES, QUERIES, TOPICS, PROPERTIES or FUNCTIONS")),
        };
        self.advance();
        let extended = self.eat_kw("EXTENDED");
        Ok(Statement::Show { kind, extended })
    }

    fn describe(&mut self) -> Result<Statement> {
        self.expect_kw("DESCRIBE")?;
        if self.eat_kw("FUNCTION") {
            return Ok(Statement::DescribeFunction(self.source_name()?));
        }
        let extended = self.eat_kw("EXTENDED");
        if (self.is_kw("STREAMS") || self.is_kw("TABLES")) && matches!(self.peek_at(1), Tok::Sym(";") | Tok::Eof) {
            let kind = if self.eat_kw("STREAMS") {
                ShowKind::Streams
            } else {
                self.advance();
                ShowKind::Tables
            };
            return Ok(Statement::Show { kind, extended: true });
        }
        let name = self.source_name()?;
        let extended = extended || self.eat_kw("EXTENDED");
        Ok(Statement::Describe { name, extended })
    }

    /// Whether the token `ahead` places on is the word `word` (any case).
    fn peek_word_at(&self, ahead: usize, word: &str) -> bool {
        matches!(self.peek_at(ahead), Tok::Word(w) if w.eq_ignore_ascii_case(word))
    }

    /// `CREATE TYPE [IF NOT EXISTS] name AS type`.
    fn create_type(&mut self) -> Result<Statement> {
        self.expect_kw("CREATE")?;
        self.expect_kw("TYPE")?;
        let if_not_exists = if self.eat_kw("IF") {
            self.expect_kw("NOT")?;
            self.expect_kw("EXISTS")?;
            true
        } else {
            false
        };
        let name = self.ident("a type name")?;
        self.expect_kw("AS")?;
        let ty = self.data_type()?;
        Ok(Statement::CreateType { name, ty, if_not_exists })
    }

    /// `DROP TYPE [IF EXISTS] name`.
    fn drop_type(&mut self) -> Result<Statement> {
        self.expect_kw("DROP")?;
        self.expect_kw("TYPE")?;
        let if_exists = if self.eat_kw("IF") {
            self.expect_kw("EXISTS")?;
            true
        } else {
            false
        };
        let name = self.ident("a type name")?;
        Ok(Statement::DropType { name, if_exists })
    }

    /// `ALTER STREAM|TABLE name ADD [COLUMN] name type [, ADD [COLUMN] name type ...]`.
    fn alter(&mut self) -> Result<Statement> {
        self.expect_kw("ALTER")?;
        let kind = self.source_kind()?;
        let name = self.source_name()?;
        let mut columns = Vec::new();
        loop {
            self.expect_kw("ADD")?;
            self.eat_kw("COLUMN");
            let column = self.column_def()?;
            if column.key != KeyConstraint::None {
                return Err(self.expected("a value column (ALTER adds no key or header columns)"));
            }
            columns.push((column.name, column.ty));
            if !self.eat_sym(",") {
                break;
            }
        }
        Ok(Statement::Alter { kind, name, columns })
    }

    fn drop(&mut self) -> Result<Statement> {
        self.expect_kw("DROP")?;
        let kind = self.source_kind()?;
        let if_exists = if self.eat_kw("IF") {
            self.expect_kw("EXISTS")?;
            true
        } else {
            false
        };
        let name = self.source_name()?;
        let delete_topic = if self.eat_kw("DELETE") {
            self.expect_kw("TOPIC")?;
            true
        } else {
            false
        };
        Ok(Statement::Drop { kind, name, if_exists, delete_topic })
    }

    fn print(&mut self) -> Result<Statement> {
        self.expect_kw("PRINT")?;
        let topic = match &self.peek().tok {
            Tok::Str(s) | Tok::Quoted(s) => s.clone(),
            Tok::Word(w) => w.to_ascii_uppercase(),
            _ => return Err(self.expected("a topic name")),
        };
        self.advance();
        let mut from_beginning = false;
        let mut interval = None;
        let mut limit = None;
        loop {
            if self.eat_kw("FROM") {
                self.expect_kw("BEGINNING")?;
                from_beginning = true;
            } else if self.eat_kw("INTERVAL") || self.eat_kw("SAMPLE") {
                interval = Some(self.integer("an interval")?);
            } else if self.eat_kw("LIMIT") {
                limit = Some(self.integer("a limit")?);
            } else {
                break;
            }
        }
        Ok(Statement::Print { topic, from_beginning, interval, limit })
    }

    // ---- queries ----

    fn query(&mut self) -> Result<Query> {
        self.expect_kw("SELECT")?;
        let mut select = Vec::new();
        loop {
            select.push(self.select_item()?);
            if !self.eat_sym(",") {
                break;
            }
        }
        self.expect_kw("FROM")?;
        let from = self.aliased_source()?;
        let mut joins = Vec::new();
        loop {
            let kind = if self.eat_kw("JOIN") {
                JoinKind::Inner
            } else if self.is_kw("INNER") {
                self.advance();
                self.expect_kw("JOIN")?;
                JoinKind::Inner
            } else if self.is_kw("LEFT") || self.is_kw("RIGHT") || self.is_kw("FULL") {
                let k = if self.eat_kw("LEFT") {
                    JoinKind::Left
                } else if self.eat_kw("RIGHT") {
                    JoinKind::Right
                } else {
                    self.advance();
                    JoinKind::FullOuter
                };
                self.eat_kw("OUTER");
                self.expect_kw("JOIN")?;
                k
            } else {
                break;
            };
            let source = self.aliased_source()?;
            let within = if self.eat_kw("WITHIN") { Some(self.within()?) } else { None };
            self.expect_kw("ON")?;
            let on = self.expr()?;
            joins.push(Join { kind, source, within, on });
        }
        let window = if self.eat_kw("WINDOW") { Some(self.window()?) } else { None };
        let filter = if self.eat_kw("WHERE") { Some(self.expr()?) } else { None };
        let mut group_by = Vec::new();
        if self.eat_kw("GROUP") {
            self.expect_kw("BY")?;
            group_by = self.expr_list()?;
        }
        let mut partition_by = Vec::new();
        if self.eat_kw("PARTITION") {
            self.expect_kw("BY")?;
            if self.is_sym("(") && matches!(self.peek_at(1), Tok::Sym(")")) {
                let pos = self.pos();
                return Err(self.error_at(pos, "PARTITION BY requires at least one expression".into()));
            }
            partition_by = self.expr_list()?;
        }
        let having = if self.eat_kw("HAVING") { Some(self.expr()?) } else { None };
        let emit = if self.eat_kw("EMIT") {
            if self.eat_kw("CHANGES") {
                Some(Emit::Changes)
            } else if self.eat_kw("FINAL") {
                Some(Emit::Final)
            } else {
                return Err(self.expected("CHANGES or FINAL"));
            }
        } else {
            None
        };
        let limit = if self.eat_kw("LIMIT") { Some(self.integer("a row limit")?) } else { None };
        Ok(Query { select, from, joins, window, filter, group_by, partition_by, having, emit, limit })
    }

    fn expr_list(&mut self) -> Result<Vec<Expr>> {
        let parens = self.is_sym("(") && self.paren_list_ahead();
        if parens {
            self.advance();
        }
        // ksqlDB's grammar takes value expressions here (arithmetic, calls, a parenthesised
        // predicate or list), so `GROUP BY a AND b` is a syntax error.
        let item = |p: &mut Self| if parens { p.expr() } else { p.nested(Self::arithmetic).map(|s| s.expr) };
        let mut list = vec![item(self)?];
        while self.eat_sym(",") {
            list.push(item(self)?);
        }
        if parens {
            self.expect_sym(")")?;
        }
        Ok(list)
    }

    /// Whether a `(` starts a parenthesised list `(a, b)` rather than an expression `(a + b) * 2`.
    fn paren_list_ahead(&self) -> bool {
        let mut depth = 0i32;
        let mut j = self.i;
        while j < self.tokens.len() {
            match &self.tokens[j].tok {
                Tok::Sym("(") | Tok::Sym("[") => depth += 1,
                Tok::Sym(")") | Tok::Sym("]") => {
                    depth -= 1;
                    if depth == 0 {
                        return !matches!(
                            self.tokens.get(j + 1).map(|t| &t.tok),
                            Some(Tok::Sym(s)) if ["+", "-", "*", "/", "%", "->", "["].contains(s)
                        );
                    }
                }
                Tok::Sym(",") if depth == 1 => return true,
                Tok::Eof => return false,
                _ => {}
            }
            j += 1;
        }
        false
    }

    fn select_item(&mut self) -> Result<SelectItem> {
        if self.eat_sym("*") {
            return Ok(SelectItem::Wildcard);
        }
        if matches!(self.peek().tok, Tok::Word(_) | Tok::Quoted(_))
            && matches!(self.peek_at(1), Tok::Sym("."))
            && matches!(self.peek_at(2), Tok::Sym("*"))
        {
            let q = self.ident("a source name")?;
            self.advance();
            self.advance();
            return Ok(SelectItem::QualifiedWildcard(q));
        }
        let expr = self.expr()?;
        if self.is_sym("->") && matches!(self.peek_at(1), Tok::Sym("*")) {
            self.advance();
            self.advance();
            return Ok(SelectItem::StructAll(expr));
        }
        let alias = if self.eat_kw("AS") {
            Some(self.alias_name()?)
        } else if matches!(&self.peek().tok, Tok::Word(w) if !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)))
            || matches!(self.peek().tok, Tok::Quoted(_))
        {
            Some(self.ident("an alias")?)
        } else {
            None
        };
        Ok(SelectItem::Expr { expr, alias })
    }

    fn alias_name(&mut self) -> Result<String> {
        match &self.peek().tok {
            Tok::Word(w) => {
                let w = w.to_ascii_uppercase();
                self.advance();
                Ok(w)
            }
            Tok::Quoted(_) => self.ident("an alias"),
            _ => Err(self.expected("an alias")),
        }
    }

    fn aliased_source(&mut self) -> Result<AliasedSource> {
        let pos = self.pos();
        let name = self.ident("a source name")?;
        let has_alias = self.eat_kw("AS")
            || matches!(&self.peek().tok, Tok::Word(w) if !RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)))
            || matches!(self.peek().tok, Tok::Quoted(_));
        let alias = if has_alias { Some(self.ident("an alias")?) } else { None };
        Ok(AliasedSource { name, alias, pos })
    }

    fn duration(&mut self) -> Result<i64> {
        let pos = self.pos();
        let n = self.integer("a duration such as '10 SECONDS'")?;
        let unit_pos = self.pos();
        let unit = match &self.peek().tok {
            Tok::Word(w) => w.to_ascii_uppercase(),
            _ => return Err(self.expected("a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS)")),
        };
        let factor: i64 = match unit.trim_end_matches('S') {
            "MILLISECOND" => 1,
            "SECOND" => 1000,
            "MINUTE" => 60_000,
            "HOUR" => 3_600_000,
            "DAY" => 86_400_000,
            _ => {
                return Err(self.error_at(
                    unit_pos,
                    format!("expected a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS) but found '{unit}'"),
                ))
            }
        };
        self.advance();
        i64::try_from(n)
            .ok()
            .and_then(|n| n.checked_mul(factor))
            .ok_or_else(|| self.error_at(pos, "duration is too large".into()))
    }

    fn within(&mut self) -> Result<Within> {
        let (before, after) = if self.eat_sym("(") {
            let b = self.duration()?;
            self.expect_sym(",")?;
            let a = self.duration()?;
            self.expect_sym(")")?;
            (b, a)
        } else {
            let d = self.duration()?;
            (d, d)
        };
        let grace = if self.eat_kw("GRACE") {
            self.expect_kw("PERIOD")?;
            Some(self.duration()?)
        } else {
            None
        };
        Ok(Within { before, after, grace })
    }

    fn window(&mut self) -> Result<WindowSpec> {
        // ksqlDB's grammar lets a window carry a name, which nothing uses (`WINDOW w SESSION (...)`,
        // earliest-offset-udaf.json).
        let kinds = ["TUMBLING", "HOPPING", "SESSION"];
        if matches!(&self.peek().tok, Tok::Word(w) if !kinds.iter().any(|k| w.eq_ignore_ascii_case(k)))
            && matches!(self.peek_at(1), Tok::Word(w) if kinds.iter().any(|k| w.eq_ignore_ascii_case(k)))
        {
            self.advance();
        }
        let t = self.peek().clone();
        let kind_word = match &t.tok {
            Tok::Word(w) => w.to_ascii_uppercase(),
            _ => return Err(self.expected("TUMBLING, HOPPING or SESSION")),
        };
        self.advance();
        self.expect_sym("(")?;
        let mut retention = None;
        let mut grace = None;
        let kind = match kind_word.as_str() {
            "TUMBLING" => {
                self.expect_kw("SIZE")?;
                WindowKind::Tumbling { size: self.duration()? }
            }
            "HOPPING" => {
                self.expect_kw("SIZE")?;
                let size = self.duration()?;
                self.expect_sym(",")?;
                self.expect_kw("ADVANCE")?;
                self.expect_kw("BY")?;
                let advance = self.duration()?;
                WindowKind::Hopping { size, advance }
            }
            "SESSION" => WindowKind::Session { gap: self.duration()? },
            _ => {
                return Err(self
                    .error_at(t.pos, format!("expected TUMBLING, HOPPING or SESSION but found {}", t.tok.describe())))
            }
        };
        while self.eat_sym(",") {
            if self.eat_kw("RETENTION") {
                retention = Some(self.duration()?);
            } else if self.eat_kw("GRACE") {
                self.expect_kw("PERIOD")?;
                grace = Some(self.duration()?);
            } else {
                return Err(self.expected("RETENTION or GRACE PERIOD"));
            }
        }
        self.expect_sym(")")?;
        let pos = t.pos;
        match kind {
            WindowKind::Tumbling { size } | WindowKind::Hopping { size, .. } if size <= 0 => {
                return Err(self.error_at(pos, "window SIZE must be positive".into()))
            }
            WindowKind::Hopping { size, advance } if advance <= 0 || advance > size => {
                return Err(self.error_at(pos, "ADVANCE BY must be positive and at most the window SIZE".into()))
            }
            WindowKind::Session { gap } if gap <= 0 => {
                return Err(self.error_at(pos, "session gap must be positive".into()))
            }
            _ => {}
        }
        Ok(WindowSpec { kind, retention, grace })
    }

    // ---- expressions ----
    //
    // Precedence, loosest first: OR < AND < NOT < comparisons and predicates < + - < * / % < unary
    // sign < postfix -> and [] < primary. `logical` and `arithmetic` climb precedence with explicit
    // operator stacks and gather prefix operators in loops, so `a OR b OR ...` or `- - ... x` costs
    // no stack per term. Only brackets recurse, at most `MAX_NESTING` deep, through few frames
    // (sub, logical, predicate, arithmetic, postfix, primary) since a debug build's frames are large. Every node is built through `node`, which refuses a tree higher than
    // `MAX_EXPR_DEPTH` while it grows, so no later walk ever meets a deeper one.

    pub fn expr(&mut self) -> Result<Expr> {
        Ok(self.sub()?.expr)
    }

    /// An expression one bracket level deeper, with its height.
    fn sub(&mut self) -> Result<Sub> {
        self.nested(Self::logical)
    }

    /// Runs `f` one nesting level deeper, refusing input nested beyond [`MAX_NESTING`].
    fn nested<T>(&mut self, f: fn(&mut Self) -> Result<T>) -> Result<T> {
        if self.depth >= MAX_NESTING {
            return Err(self.error_at(
                self.pos(),
                format!(
                    "nested more than {MAX_NESTING} levels deep (parentheses, function calls, CASE, CAST, \
                     ARRAY, MAP, STRUCT and types count)"
                ),
            ));
        }
        self.depth += 1;
        let r = f(self);
        self.depth -= 1;
        r
    }

    /// Builds a node over children whose highest tree is `children` high, refusing a tree higher than
    /// [`MAX_EXPR_DEPTH`]; `pos` is where the node's operator or keyword is written.
    fn node(&self, pos: Pos, children: usize, expr: Expr) -> Result<Sub> {
        let height = children + 1;
        if height > MAX_EXPR_DEPTH {
            return Err(self.error_at(pos, depth_exceeded()));
        }
        Ok(Sub { expr, height })
    }

    fn binary(&self, pos: Pos, op: BinaryOp, left: Sub, right: Sub) -> Result<Sub> {
        let children = left.height.max(right.height);
        self.node(pos, children, Expr::Binary { op, left: Box::new(left.expr), right: Box::new(right.expr) })
    }

    /// `OR` and `AND` chains over `NOT* predicate` operands, by precedence climbing with explicit
    /// stacks (one loop, no recursion per operator).
    fn logical(&mut self) -> Result<Sub> {
        let mut operands = Vec::new();
        let mut ops = Vec::new();
        loop {
            let mut nots = Vec::new();
            while self.is_kw("NOT") {
                nots.push(self.pos());
                self.advance();
            }
            let e = self.predicate()?;
            operands.push(self.negated(nots, e)?);
            let op = if self.is_kw("OR") {
                BinaryOp::Or
            } else if self.is_kw("AND") {
                BinaryOp::And
            } else {
                break;
            };
            self.reduce(&mut operands, &mut ops, precedence(op))?;
            ops.push((op, self.pos()));
            self.advance();
        }
        self.reduce(&mut operands, &mut ops, 0)?;
        self.last_operand(operands)
    }

    /// `e` under the signs written before it, innermost last.
    /// Refuses a number literal at the cursor that its type cannot hold once `signs` apply, in
    /// ksqlDB's words (an integer beyond BIGINT is not read as a DECIMAL).
    fn check_literal_range(&self, signs: &[(Pos, bool)]) -> Result<()> {
        let negative = signs.iter().filter(|(_, minus)| *minus).count() % 2 == 1;
        let sign = if negative { "-" } else { "" };
        let t = self.peek();
        let pos = signs.first().map_or(t.pos, |(p, _)| *p);
        let message = match &t.tok {
            Tok::Int(n) => {
                let fits = n.parse::<i128>().is_ok_and(|v| i64::try_from(if negative { -v } else { v }).is_ok());
                if fits {
                    return Ok(());
                }
                format!("Invalid numeric literal: {sign}{n}")
            }
            Tok::Double(n) if n.parse::<f64>().is_ok_and(f64::is_infinite) => {
                format!("Number overflows DOUBLE: {sign}{n}")
            }
            _ => return Ok(()),
        };
        // ksqlDB places this error one column after the literal's first character.
        Err(SqlError::Analysis(format!("Failed to prepare statement: line {}:{}: {message}", pos.line, pos.column + 1)))
    }

    fn signed(&self, signs: Vec<(Pos, bool)>, mut e: Sub) -> Result<Sub> {
        for (pos, minus) in signs.into_iter().rev() {
            // Every sign counts one level, folded or not, as when signs nested by recursion.
            let height = e.height + 1;
            if height > MAX_EXPR_DEPTH {
                return Err(self.error_at(pos, depth_exceeded()));
            }
            let expr = match e.expr {
                expr if !minus => expr,
                // -(-9223372036854775808) stays a negation: its value is no BIGINT literal.
                Expr::Literal(Literal::Integer(i)) => match i.checked_neg() {
                    Some(n) => Expr::Literal(Literal::Integer(n)),
                    None => Expr::Negate(Box::new(Expr::Literal(Literal::Integer(i)))),
                },
                Expr::Literal(Literal::Decimal(d)) => {
                    let negated = match d.strip_prefix('-') {
                        Some(positive) => positive.to_string(),
                        None => format!("-{d}"),
                    };
                    // -9223372036854775808 is read as a DECIMAL digit string, but is a BIGINT.
                    match negated.parse::<i64>() {
                        Ok(i) => Expr::Literal(Literal::Integer(i)),
                        Err(_) => Expr::Literal(Literal::Decimal(negated)),
                    }
                }
                Expr::Literal(Literal::Double(d)) => Expr::Literal(Literal::Double(-d)),
                other => Expr::Negate(Box::new(other)),
            };
            e = Sub { expr, height };
        }
        Ok(e)
    }

    /// `e` under the NOTs written before it.
    fn negated(&self, nots: Vec<Pos>, mut e: Sub) -> Result<Sub> {
        for pos in nots.into_iter().rev() {
            e = self.node(pos, e.height, Expr::Not(Box::new(e.expr)))?;
        }
        Ok(e)
    }

    fn arithmetic_op(&self) -> Option<BinaryOp> {
        match &self.peek().tok {
            Tok::Sym("+") => Some(BinaryOp::Add),
            Tok::Sym("-") => Some(BinaryOp::Sub),
            Tok::Sym("*") => Some(BinaryOp::Mul),
            Tok::Sym("/") => Some(BinaryOp::Div),
            Tok::Sym("%") => Some(BinaryOp::Mod),
            _ => None,
        }
    }

    /// Combines the pending operators that bind at least as tightly as `min` (all of them are
    /// left-associative), each with the two operands before it.
    fn reduce(&self, operands: &mut Vec<Sub>, ops: &mut Vec<(BinaryOp, Pos)>, min: u8) -> Result<()> {
        while let Some(&(op, pos)) = ops.last() {
            if precedence(op) < min {
                break;
            }
            ops.pop();
            let (Some(right), Some(left)) = (operands.pop(), operands.pop()) else {
                return Err(self.error_at(pos, format!("internal error: '{}' lacks an operand", op.symbol())));
            };
            operands.push(self.binary(pos, op, left, right)?);
        }
        Ok(())
    }

    fn last_operand(&self, mut operands: Vec<Sub>) -> Result<Sub> {
        match (operands.pop(), operands.is_empty()) {
            (Some(e), true) => Ok(e),
            _ => Err(self.expected("an expression")),
        }
    }

    fn predicate(&mut self) -> Result<Sub> {
        let left = self.arithmetic()?;
        self.predicate_rest(left)
    }

    /// What may follow the left operand of a predicate: one comparison, IS [NOT] NULL, or
    /// [NOT] BETWEEN / IN / LIKE (apart from `predicate`, whose frame every bracket level holds).
    fn predicate_rest(&mut self, left: Sub) -> Result<Sub> {
        let pos = self.pos();
        let op = match &self.peek().tok {
            Tok::Sym("=") => Some(BinaryOp::Eq),
            Tok::Sym("<>") | Tok::Sym("!=") => Some(BinaryOp::NotEq),
            Tok::Sym("<") => Some(BinaryOp::Lt),
            Tok::Sym("<=") => Some(BinaryOp::LtEq),
            Tok::Sym(">") => Some(BinaryOp::Gt),
            Tok::Sym(">=") => Some(BinaryOp::GtEq),
            _ => None,
        };
        if let Some(op) = op {
            self.advance();
            let right = self.arithmetic()?;
            return self.binary(pos, op, left, right);
        }
        if self.eat_kw("IS") {
            let negated = self.eat_kw("NOT");
            if self.eat_kw("DISTINCT") {
                self.expect_kw("FROM")?;
                let op = if negated { BinaryOp::IsNotDistinctFrom } else { BinaryOp::IsDistinctFrom };
                let right = self.arithmetic()?;
                return self.binary(pos, op, left, right);
            }
            self.expect_kw("NULL")?;
            return self.node(pos, left.height, Expr::IsNull { expr: Box::new(left.expr), negated });
        }
        let negated = if self.is_kw("NOT")
            && (self.is_kw_at(1, "BETWEEN") || self.is_kw_at(1, "IN") || self.is_kw_at(1, "LIKE"))
        {
            self.advance();
            true
        } else {
            false
        };
        if self.eat_kw("BETWEEN") {
            return self.between(pos, left, negated);
        }
        if self.eat_kw("IN") {
            return self.in_list(pos, left, negated);
        }
        if self.eat_kw("LIKE") {
            return self.like(pos, left, negated);
        }
        if negated {
            return Err(self.expected("BETWEEN, IN or LIKE"));
        }
        Ok(left)
    }

    fn between(&mut self, pos: Pos, left: Sub, negated: bool) -> Result<Sub> {
        let low = self.arithmetic()?;
        self.expect_kw("AND")?;
        let high = self.arithmetic()?;
        let children = left.height.max(low.height).max(high.height);
        let expr =
            Expr::Between { expr: Box::new(left.expr), low: Box::new(low.expr), high: Box::new(high.expr), negated };
        self.node(pos, children, expr)
    }

    fn in_list(&mut self, pos: Pos, left: Sub, negated: bool) -> Result<Sub> {
        self.expect_sym("(")?;
        let mut children = left.height;
        let mut list = Vec::new();
        loop {
            let item = self.sub()?;
            children = children.max(item.height);
            list.push(item.expr);
            if self.eat_sym(")") {
                break;
            }
            if !self.eat_sym(",") {
                return Err(self.expected("',' or ')'"));
            }
        }
        self.node(pos, children, Expr::InList { expr: Box::new(left.expr), list, negated })
    }

    fn like(&mut self, pos: Pos, left: Sub, negated: bool) -> Result<Sub> {
        let pattern = self.arithmetic()?;
        let escape = if self.eat_kw("ESCAPE") {
            let pos = self.pos();
            let s = self.string("an escape character in single quotes")?;
            let mut chars = s.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => Some(c),
                _ => return Err(self.error_at(pos, "ESCAPE must be a single character".into())),
            }
        } else {
            None
        };
        let children = left.height.max(pattern.height);
        self.node(
            pos,
            children,
            Expr::Like { expr: Box::new(left.expr), pattern: Box::new(pattern.expr), escape, negated },
        )
    }

    /// `+ - * / %` chains over signed operands (`- - x`), by precedence climbing with explicit
    /// stacks (one loop, no recursion per operator or sign).
    fn arithmetic(&mut self) -> Result<Sub> {
        let mut operands = Vec::new();
        let mut ops = Vec::new();
        loop {
            // `+` changes nothing, `-` negates (a literal in place).
            let mut signs = Vec::new();
            loop {
                if self.is_sym("-") {
                    signs.push((self.pos(), true));
                } else if self.is_sym("+") {
                    signs.push((self.pos(), false));
                } else {
                    break;
                }
                self.advance();
            }
            self.check_literal_range(&signs)?;
            let e = self.postfix()?;
            operands.push(self.signed(signs, e)?);
            let Some(op) = self.arithmetic_op() else { break };
            self.reduce(&mut operands, &mut ops, precedence(op))?;
            ops.push((op, self.pos()));
            self.advance();
        }
        self.reduce(&mut operands, &mut ops, 0)?;
        self.last_operand(operands)
    }

    fn postfix(&mut self) -> Result<Sub> {
        let mut e = self.primary()?;
        // `->*` ends the expression: it is a select item's (`SelectItem::StructAll`).
        while (self.is_sym("->") && !matches!(self.peek_at(1), Tok::Sym("*"))) || self.is_sym("[") {
            e = self.postfix_op(e)?;
        }
        Ok(e)
    }

    /// One `->field` or `[index]` after `e` (apart from `postfix`, whose frame every bracket level
    /// holds).
    fn postfix_op(&mut self, e: Sub) -> Result<Sub> {
        let pos = self.pos();
        if self.eat_sym("->") {
            let field = match &self.peek().tok {
                Tok::Word(w) => {
                    let w = w.to_ascii_uppercase();
                    self.advance();
                    w
                }
                Tok::Quoted(_) => self.ident("a field name")?,
                _ => return Err(self.expected("a struct field name after '->'")),
            };
            return self.node(pos, e.height, Expr::Field { expr: Box::new(e.expr), field });
        }
        self.expect_sym("[")?;
        let index = self.sub()?;
        self.expect_sym("]")?;
        let children = e.height.max(index.height);
        self.node(pos, children, Expr::Subscript { expr: Box::new(e.expr), index: Box::new(index.expr) })
    }

    fn primary(&mut self) -> Result<Sub> {
        let leaf = |expr| Ok(Sub { expr, height: 1 });
        match &self.peek().tok {
            Tok::Int(_) | Tok::Decimal(_) | Tok::Double(_) => self.number().and_then(leaf),
            Tok::Str(s) => {
                let s = s.clone();
                self.advance();
                leaf(Expr::Literal(Literal::String(s)))
            }
            Tok::Sym("(") => {
                self.advance();
                let e = self.sub()?;
                self.expect_sym(")")?;
                Ok(e)
            }
            Tok::Quoted(_) => self.column_or_call(),
            Tok::Word(w) => {
                let upper = w.to_ascii_uppercase();
                let bracket = |p: &Self, sym| matches!(p.peek_at(1), Tok::Sym(s) if *s == sym);
                match upper.as_str() {
                    "NULL" => {
                        self.advance();
                        leaf(Expr::Literal(Literal::Null))
                    }
                    "TRUE" | "FALSE" => {
                        self.advance();
                        leaf(Expr::Literal(Literal::Bool(upper == "TRUE")))
                    }
                    "CASE" => self.case_expr(),
                    "CAST" => self.cast_expr(),
                    "ARRAY" if bracket(self, "[") => self.array_expr(),
                    "MAP" if bracket(self, "(") => self.map_expr(),
                    "STRUCT" if bracket(self, "(") => self.struct_expr(),
                    _ if RESERVED.contains(&upper.as_str()) => Err(self.expected("an expression")),
                    _ => self.column_or_call(),
                }
            }
            _ => Err(self.expected("an expression")),
        }
    }

    fn number(&mut self) -> Result<Expr> {
        let t = self.peek().clone();
        self.advance();
        match &t.tok {
            Tok::Int(n) => Ok(match n.parse::<i64>() {
                Ok(i) => Expr::Literal(Literal::Integer(i)),
                Err(_) => Expr::Literal(Literal::Decimal(n.clone())),
            }),
            Tok::Decimal(n) => {
                let n = if n.starts_with('.') { format!("0{n}") } else { n.clone() };
                Ok(Expr::Literal(Literal::Decimal(n)))
            }
            Tok::Double(n) => n
                .parse::<f64>()
                .map(|d| Expr::Literal(Literal::Double(d)))
                .map_err(|_| self.error_at(t.pos, format!("invalid number {n}"))),
            _ => Err(self.error_at(t.pos, format!("expected a number but found {}", t.tok.describe()))),
        }
    }

    fn cast_expr(&mut self) -> Result<Sub> {
        let pos = self.pos();
        self.advance();
        self.expect_sym("(")?;
        let e = self.sub()?;
        self.expect_kw("AS")?;
        // A reserved word is no target type: ksqlDB's wording here (cast.json: `CAST(x AS NULL)`),
        // while in a column list it is a plain syntax error (null.json).
        if let Tok::Word(w) = &self.peek().tok {
            if RESERVED.iter().any(|r| w.eq_ignore_ascii_case(r)) {
                let pos = self.pos();
                return Err(SqlError::Analysis(format!(
                    "Syntax error at or near '{}' at line {}:{}",
                    w.to_ascii_uppercase(),
                    pos.line,
                    pos.column
                )));
            }
        }
        let ty = self.data_type()?;
        self.expect_sym(")")?;
        self.node(pos, e.height, Expr::Cast { expr: Box::new(e.expr), ty })
    }

    fn array_expr(&mut self) -> Result<Sub> {
        let pos = self.pos();
        self.advance();
        self.advance();
        let mut children = 0;
        let mut items = Vec::new();
        if !self.eat_sym("]") {
            loop {
                let item = self.sub()?;
                children = children.max(item.height);
                items.push(item.expr);
                if self.eat_sym("]") {
                    break;
                }
                if !self.eat_sym(",") {
                    return Err(self.expected("',' or ']'"));
                }
            }
        }
        self.node(pos, children, Expr::Array(items))
    }

    fn map_expr(&mut self) -> Result<Sub> {
        let pos = self.pos();
        self.advance();
        self.advance();
        let mut children = 0;
        let mut entries = Vec::new();
        if !self.eat_sym(")") {
            loop {
                let k = self.sub()?;
                self.expect_sym(":=")?;
                let v = self.sub()?;
                children = children.max(k.height).max(v.height);
                entries.push((k.expr, v.expr));
                if self.eat_sym(")") {
                    break;
                }
                if !self.eat_sym(",") {
                    return Err(self.expected("',' or ')'"));
                }
            }
        }
        self.node(pos, children, Expr::Map(entries))
    }

    fn struct_expr(&mut self) -> Result<Sub> {
        let pos = self.pos();
        self.advance();
        self.advance();
        let mut children = 0;
        let mut fields = Vec::new();
        if !self.eat_sym(")") {
            loop {
                let name = self.alias_name()?;
                self.expect_sym(":=")?;
                let v = self.sub()?;
                children = children.max(v.height);
                fields.push((name, v.expr));
                if self.eat_sym(")") {
                    break;
                }
                if !self.eat_sym(",") {
                    return Err(self.expected("',' or ')'"));
                }
            }
        }
        self.node(pos, children, Expr::Struct(fields))
    }

    fn case_expr(&mut self) -> Result<Sub> {
        let pos = self.pos();
        self.expect_kw("CASE")?;
        let mut children = 0;
        let operand = if self.is_kw("WHEN") {
            None
        } else {
            let o = self.sub()?;
            children = o.height;
            Some(Box::new(o.expr))
        };
        let mut whens = Vec::new();
        while self.eat_kw("WHEN") {
            let w = self.sub()?;
            self.expect_kw("THEN")?;
            let t = self.sub()?;
            children = children.max(w.height).max(t.height);
            whens.push((w.expr, t.expr));
        }
        if whens.is_empty() {
            return Err(self.expected("WHEN"));
        }
        let otherwise = if self.eat_kw("ELSE") {
            let o = self.sub()?;
            children = children.max(o.height);
            Some(Box::new(o.expr))
        } else {
            None
        };
        self.expect_kw("END")?;
        self.node(pos, children, Expr::Case { operand, whens, otherwise })
    }

    /// Whether a lambda (`x => ...`, `(x, y) => ...`) starts at the cursor.
    fn at_lambda(&self) -> bool {
        let is_name = |t: &Tok| matches!(t, Tok::Word(_) | Tok::Quoted(_));
        if is_name(self.peek_at(0)) {
            return matches!(self.peek_at(1), Tok::Sym("=>"));
        }
        if !matches!(self.peek_at(0), Tok::Sym("(")) {
            return false;
        }
        let mut i = 1;
        loop {
            if !is_name(self.peek_at(i)) {
                return false;
            }
            match self.peek_at(i + 1) {
                Tok::Sym(",") => i += 2,
                Tok::Sym(")") => break,
                _ => return false,
            }
        }
        matches!(self.peek_at(i + 2), Tok::Sym("=>"))
    }

    /// A lambda function argument: `x => body` or `(x, y) => body`.
    fn lambda(&mut self) -> Result<Sub> {
        let pos = self.pos();
        let parenthesised = self.eat_sym("(");
        let mut params = Vec::new();
        loop {
            let name = self.ident("a lambda parameter")?;
            if params.contains(&name) {
                return Err(self.error_at(pos, format!("Lambda parameter {name} is declared more than once")));
            }
            params.push(name);
            if !parenthesised || !self.eat_sym(",") {
                break;
            }
        }
        if parenthesised {
            self.expect_sym(")")?;
        }
        self.expect_sym("=>")?;
        let body = self.sub()?;
        self.node(pos, body.height, Expr::Lambda { params, body: Box::new(body.expr) })
    }

    fn column_or_call(&mut self) -> Result<Sub> {
        let pos = self.pos();
        let first = self.ident("a column name")?;
        if self.eat_sym("(") {
            let mut children = 0;
            let mut args = Vec::new();
            let mut star = false;
            if self.eat_sym("*") {
                star = true;
                self.expect_sym(")")?;
            } else if !self.eat_sym(")") {
                self.eat_kw("DISTINCT");
                loop {
                    let arg = if self.at_lambda() { self.lambda()? } else { self.sub()? };
                    children = children.max(arg.height);
                    args.push(arg.expr);
                    if self.eat_sym(")") {
                        break;
                    }
                    if !self.eat_sym(",") {
                        return Err(self.expected("',' or ')'"));
                    }
                }
            }
            return self.node(pos, children, Expr::Call { name: first, args, star, pos });
        }
        if self.is_sym(".") && !matches!(self.peek_at(1), Tok::Sym("*")) {
            self.advance();
            let name = match &self.peek().tok {
                Tok::Word(w) => {
                    let w = w.to_ascii_uppercase();
                    self.advance();
                    w
                }
                Tok::Quoted(_) => self.ident("a column name")?,
                _ => return Err(self.expected("a column name after '.'")),
            };
            return Ok(Sub { expr: Expr::Column { qualifier: Some(first), name, pos }, height: 1 });
        }
        Ok(Sub { expr: Expr::Column { qualifier: None, name: first, pos }, height: 1 })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(text: &str) -> Statement {
        let mut v = parse_statements(text).unwrap();
        assert_eq!(v.len(), 1);
        v.remove(0).statement
    }

    fn err(text: &str) -> (u32, u32, String) {
        match parse_statements(text) {
            Err(SqlError::Parse { line, column, message }) => (line, column, message),
            other => panic!("expected a parse error for {text:?}, got {other:?}"),
        }
    }

    #[test]
    fn create_stream_with_columns_and_properties() {
        let s = one("create stream pageviews (id VARCHAR KEY, `viewTime` BIGINT, tags ARRAY<STRING>, \
             addr STRUCT<city STRING, zip INT>, amount DECIMAL(10, 2)) \
             WITH (kafka_topic='pv', value_format='json', partitions=3);");
        let Statement::CreateSource(c) = s else { panic!() };
        assert_eq!(c.kind, SourceKind::Stream);
        assert_eq!(c.name, "PAGEVIEWS");
        assert_eq!(c.columns[0].key, KeyConstraint::Key);
        assert_eq!(c.columns[1].name, "viewTime");
        assert_eq!(c.columns[2].ty, SqlType::Array(Box::new(SqlType::String)));
        assert_eq!(
            c.columns[3].ty,
            SqlType::Struct(vec![("CITY".into(), SqlType::String), ("ZIP".into(), SqlType::Int)])
        );
        assert_eq!(c.properties["KAFKA_TOPIC"], PropValue::Str("pv".into()));
        assert_eq!(c.properties["PARTITIONS"], PropValue::Number("3".into()));
    }

    #[test]
    fn create_table_as_select_full_query() {
        let s = one("CREATE OR REPLACE TABLE t WITH (kafka_topic='o') AS SELECT a.k, COUNT(*) AS c, SUM(x) FROM s a \
             WINDOW TUMBLING (SIZE 1 HOUR, RETENTION 2 DAYS, GRACE PERIOD 10 MINUTES) WHERE x > 1 GROUP BY a.k \
             HAVING COUNT(*) > 2 EMIT FINAL;");
        let Statement::CreateAsSelect(c) = s else { panic!() };
        assert!(c.or_replace);
        assert_eq!(c.kind, SourceKind::Table);
        let q = c.query;
        assert_eq!(q.from.alias.as_deref(), Some("A"));
        assert_eq!(
            q.window,
            Some(WindowSpec {
                kind: WindowKind::Tumbling { size: 3_600_000 },
                retention: Some(2 * 86_400_000),
                grace: Some(600_000)
            })
        );
        assert_eq!(q.emit, Some(Emit::Final));
        assert_eq!(q.group_by.len(), 1);
        assert!(q.having.is_some());
    }

    #[test]
    fn joins_within_and_partition_by() {
        let s = one("SELECT * FROM o JOIN s WITHIN (1 HOUR, 2 HOURS) GRACE PERIOD 5 MINUTES ON o.id = s.id \
             LEFT JOIN c ON o.cid = c.id FULL OUTER JOIN d ON d.x = o.x PARTITION BY o.id EMIT CHANGES LIMIT 5");
        let Statement::Query(q) = s else { panic!() };
        assert_eq!(q.joins.len(), 3);
        assert_eq!(q.joins[0].within, Some(Within { before: 3_600_000, after: 7_200_000, grace: Some(300_000) }));
        assert_eq!(q.joins[1].kind, JoinKind::Left);
        assert_eq!(q.joins[2].kind, JoinKind::FullOuter);
        assert_eq!(q.partition_by.len(), 1);
        assert_eq!(q.limit, Some(5));
    }

    #[test]
    fn expression_precedence() {
        let e = parse_expression("a + b * 2 > 3 AND NOT c OR d IS NOT NULL").unwrap();
        assert_eq!(e.to_string(), "((((A + (B * 2)) > 3) AND (NOT C)) OR (D IS NOT NULL))");
        let e = parse_expression("x NOT BETWEEN 1 AND 2").unwrap();
        assert_eq!(e.to_string(), "(X NOT BETWEEN 1 AND 2)");
        let e = parse_expression("s->a->b[1] LIKE 'x%' ESCAPE '!'").unwrap();
        assert_eq!(e.to_string(), "(S->A->B[1] LIKE 'x%')");
        let e = parse_expression("CASE WHEN a THEN 1 ELSE -2 END").unwrap();
        assert_eq!(e.to_string(), "(CASE WHEN A THEN 1 ELSE -2 END)");
        let e = parse_expression("CAST(a AS DECIMAL(4, 2)) IN (1, 2.5)").unwrap();
        assert_eq!(e.to_string(), "(CAST(A AS DECIMAL(4, 2)) IN (1, 2.5))");
    }

    #[test]
    fn other_statements() {
        assert_eq!(one("show streams"), Statement::Show { kind: ShowKind::Streams, extended: false });
        assert_eq!(one("LIST TOPICS EXTENDED;"), Statement::Show { kind: ShowKind::Topics, extended: true });
        assert_eq!(one("describe extended foo"), Statement::Describe { name: "FOO".into(), extended: true });
        assert_eq!(
            one("drop table if exists foo delete topic"),
            Statement::Drop { kind: SourceKind::Table, name: "FOO".into(), if_exists: true, delete_topic: true }
        );
        assert_eq!(one("TERMINATE CSAS_FOO_1"), Statement::Terminate(Some("CSAS_FOO_1".into())));
        assert_eq!(one("TERMINATE ALL"), Statement::Terminate(None));
        assert_eq!(one("EXPLAIN CSAS_FOO_1"), Statement::ExplainQuery("CSAS_FOO_1".into()));
        assert!(matches!(one("EXPLAIN SELECT * FROM x EMIT CHANGES"), Statement::Explain(_)));
        assert_eq!(
            one("PRINT 'topic' FROM BEGINNING LIMIT 3"),
            Statement::Print { topic: "topic".into(), from_beginning: true, interval: None, limit: Some(3) }
        );
        assert_eq!(
            one("SET 'auto.offset.reset' = 'earliest'"),
            Statement::Set { name: "auto.offset.reset".into(), value: "earliest".into() }
        );
        let Statement::InsertValues { target, columns, values } = one("INSERT INTO s (a, b) VALUES (1, 'x')") else {
            panic!()
        };
        assert_eq!(target, "S");
        assert_eq!(columns, Some(vec!["A".into(), "B".into()]));
        assert_eq!(values.len(), 2);
        assert!(matches!(one("INSERT INTO s SELECT * FROM t"), Statement::InsertInto { .. }));
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = format!("SELECT {}1{} FROM s", "(".repeat(100_000), ")".repeat(100_000));
        let (_, _, m) = err(&deep);
        assert!(m.contains("nested more than 64 levels"), "{m}");
        let (_, _, m) = err(&format!("CREATE STREAM s (a {}INT{})", "ARRAY<".repeat(100_000), ">".repeat(100_000)));
        assert!(m.contains("nested more than 64 levels"), "{m}");
        assert!(parse_expression(&format!("{}1{}", "(".repeat(60), ")".repeat(60))).is_ok());
        // Prefix operators are gathered in a loop: they meet the tree's height limit, not the nesting one.
        let limit = format!("deeper than {MAX_EXPR_DEPTH} levels");
        let (_, _, m) = err(&format!("SELECT {}1 FROM s", "- ".repeat(100_000)));
        assert!(m.contains(&limit), "{m}");
        let (_, _, m) = err(&format!("SELECT {}TRUE FROM s", "NOT ".repeat(100_000)));
        assert!(m.contains(&limit), "{m}");
    }

    #[test]
    fn the_height_limit_points_at_the_operator_that_crosses_it() {
        // A chain of k `+` is k + 1 levels high: the one that makes it MAX_EXPR_DEPTH + 1 is refused.
        let text = format!("SELECT {} AS x FROM s", vec!["a"; MAX_EXPR_DEPTH + 1].join(" + "));
        let (line, column, m) = err(&text);
        let at = text.match_indices('+').nth(MAX_EXPR_DEPTH - 1).map(|(i, _)| i).unwrap_or_default();
        assert_eq!((line, column as usize), (1, at + 1), "{m}");
        assert_eq!(m.lines().next(), Some(depth_exceeded().as_str()));
        let fits = format!("SELECT {} AS x FROM s", vec!["a"; MAX_EXPR_DEPTH].join(" + "));
        assert!(parse_statements(&fits).is_ok());
        // Parentheses add no level; operators inside them do.
        let (_, _, m) = err(&format!("SELECT ({}) FROM s", vec!["a"; MAX_EXPR_DEPTH + 1].join(" OR ")));
        assert_eq!(m.lines().next(), Some(depth_exceeded().as_str()));
    }

    #[test]
    fn several_statements_keep_their_text() {
        let v = parse_statements("SHOW STREAMS; -- c\n SHOW TABLES;;").unwrap();
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].text, "SHOW STREAMS");
        assert_eq!(v[1].text, "SHOW TABLES");
    }

    #[test]
    fn errors_say_where_and_what() {
        let (l, c, m) = err("SELECT * FORM s");
        assert_eq!((l, c), (1, 10));
        assert!(m.contains("expected 'FROM'"), "{m}");
        let (l, c, m) = err("CREATE STREAM s (a INT,\n b FOO) WITH (kafka_topic='t');");
        assert_eq!((l, c), (2, 4));
        assert!(m.contains("unknown type 'FOO'"), "{m}");
        let (_, _, m) = err("SELECT a FROM s WINDOW TUMBLING (SIZE 10 PARSECS)");
        assert!(m.contains("time unit"), "{m}");
        let (_, _, m) = err("CREATE THING x");
        assert!(m.contains("STREAM or TABLE"), "{m}");
        let (_, _, m) = err("SELECT a FROM s WHERE");
        assert!(m.contains("expected an expression but found end of input"), "{m}");
        let (_, _, m) = err("SHOW STREAMS extra");
        assert!(m.contains("';' or end of input"), "{m}");
        let (_, _, m) = err("FOO BAR");
        assert!(m.contains("expected a statement"), "{m}");
    }
}
