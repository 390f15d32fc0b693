//! The syntax tree of ksqlDB statements, as parsed (names resolved later by the planner).
//!
//! Unquoted identifiers are upper-cased by the parser, as ksqlDB does; quoted ones keep their case.

use std::collections::BTreeMap;

use crate::lexer::Pos;
use crate::types::SqlType;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Stream,
    Table,
}

impl SourceKind {
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Stream => "STREAM",
            SourceKind::Table => "TABLE",
        }
    }
}

/// A `WITH (...)` property value.
#[derive(Debug, Clone, PartialEq)]
pub enum PropValue {
    Str(String),
    Number(String),
    Bool(bool),
}

impl PropValue {
    pub fn as_text(&self) -> String {
        match self {
            PropValue::Str(s) | PropValue::Number(s) => s.clone(),
            PropValue::Bool(b) => b.to_string(),
        }
    }
}

/// `WITH (...)` properties, keys upper-cased.
pub type Properties = BTreeMap<String, PropValue>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyConstraint {
    None,
    /// `KEY` (streams).
    Key,
    /// `PRIMARY KEY` (tables).
    PrimaryKey,
    /// `HEADERS` (all of a record's headers) or `HEADER('k')` (the last header `k`, with
    /// [`ColumnDef::header`] naming it).
    Headers,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub key: KeyConstraint,
    /// The header key of a `HEADER('k')` column.
    pub header: Option<String>,
    pub pos: Pos,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateSource {
    pub kind: SourceKind,
    pub name: String,
    pub or_replace: bool,
    pub if_not_exists: bool,
    /// `CREATE SOURCE STREAM|TABLE`: read-only.
    pub read_only: bool,
    pub columns: Vec<ColumnDef>,
    pub properties: Properties,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreateAsSelect {
    pub kind: SourceKind,
    pub name: String,
    pub or_replace: bool,
    pub if_not_exists: bool,
    pub properties: Properties,
    pub query: Query,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShowKind {
    Streams,
    Tables,
    Queries,
    Topics,
    Properties,
    Functions,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    CreateSource(CreateSource),
    CreateAsSelect(CreateAsSelect),
    InsertInto {
        target: String,
        query: Query,
    },
    InsertValues {
        target: String,
        columns: Option<Vec<String>>,
        values: Vec<Expr>,
    },
    Query(Query),
    Show {
        kind: ShowKind,
        extended: bool,
    },
    Describe {
        name: String,
        extended: bool,
    },
    DescribeFunction(String),
    /// `EXPLAIN <statement>` or `EXPLAIN <query id>`.
    Explain(Box<Statement>),
    ExplainQuery(String),
    Drop {
        kind: SourceKind,
        name: String,
        if_exists: bool,
        delete_topic: bool,
    },
    Terminate(Option<String>),
    Print {
        topic: String,
        from_beginning: bool,
        interval: Option<u64>,
        limit: Option<u64>,
    },
    Set {
        name: String,
        value: String,
    },
    Unset(String),
    /// `CREATE TYPE [IF NOT EXISTS] name AS type`: a name that stands for `ty` in later statements.
    CreateType {
        name: String,
        ty: SqlType,
        if_not_exists: bool,
    },
    /// `DROP TYPE [IF EXISTS] name`.
    DropType {
        name: String,
        if_exists: bool,
    },
    /// `ALTER STREAM|TABLE name ADD COLUMN ...`: value columns added to a stream or table.
    Alter {
        kind: SourceKind,
        name: String,
        columns: Vec<(String, SqlType)>,
    },
}

/// A parsed statement with the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    pub statement: Statement,
    pub text: String,
    /// Line (from 1) of the statement's first token in the request's text.
    pub line: u32,
    /// Column (from 1) of the statement's first token, for ksqlDB's `Line: l, Col: c:` prefixes.
    pub column: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    Wildcard,
    QualifiedWildcard(String),
    /// `expr->*`: every field of a struct, each a column named after its field.
    StructAll(Expr),
    Expr {
        expr: Expr,
        alias: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JoinKind {
    Inner,
    Left,
    Right,
    FullOuter,
}

impl JoinKind {
    pub fn name(self) -> &'static str {
        match self {
            JoinKind::Inner => "INNER",
            JoinKind::Left => "LEFT OUTER",
            JoinKind::Right => "RIGHT OUTER",
            JoinKind::FullOuter => "FULL OUTER",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AliasedSource {
    pub name: String,
    pub alias: Option<String>,
    pub pos: Pos,
}

impl AliasedSource {
    /// The name columns are qualified with.
    pub fn qualifier(&self) -> &str {
        self.alias.as_deref().unwrap_or(&self.name)
    }
}

/// `WITHIN` of a stream-stream join, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Within {
    pub before: i64,
    pub after: i64,
    pub grace: Option<i64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub kind: JoinKind,
    pub source: AliasedSource,
    pub within: Option<Within>,
    pub on: Expr,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    Tumbling { size: i64 },
    Hopping { size: i64, advance: i64 },
    Session { gap: i64 },
}

/// A `WINDOW` clause; durations in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub kind: WindowKind,
    pub retention: Option<i64>,
    pub grace: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Emit {
    Changes,
    Final,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    pub select: Vec<SelectItem>,
    pub from: AliasedSource,
    pub joins: Vec<Join>,
    pub window: Option<WindowSpec>,
    pub filter: Option<Expr>,
    pub group_by: Vec<Expr>,
    pub partition_by: Vec<Expr>,
    pub having: Option<Expr>,
    pub emit: Option<Emit>,
    pub limit: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    /// An integer: INT when it fits, else BIGINT.
    Integer(i64),
    Decimal(String),
    Double(f64),
    String(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    Eq,
    NotEq,
    Lt,
    LtEq,
    Gt,
    GtEq,
    /// `IS DISTINCT FROM`: `<>` where NULL equals NULL and differs from every value.
    IsDistinctFrom,
    /// `IS NOT DISTINCT FROM`: `=` where NULL equals NULL.
    IsNotDistinctFrom,
    And,
    Or,
}

impl BinaryOp {
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "<>",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
            BinaryOp::IsDistinctFrom => "IS DISTINCT FROM",
            BinaryOp::IsNotDistinctFrom => "IS NOT DISTINCT FROM",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Literal(Literal),
    /// A column, optionally qualified by a source name or alias.
    Column {
        qualifier: Option<String>,
        name: String,
        pos: Pos,
    },
    Negate(Box<Expr>),
    Not(Box<Expr>),
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    IsNull {
        expr: Box<Expr>,
        negated: bool,
    },
    Between {
        expr: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
        negated: bool,
    },
    InList {
        expr: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    Like {
        expr: Box<Expr>,
        pattern: Box<Expr>,
        escape: Option<char>,
        negated: bool,
    },
    Case {
        operand: Option<Box<Expr>>,
        whens: Vec<(Expr, Expr)>,
        otherwise: Option<Box<Expr>>,
    },
    Cast {
        expr: Box<Expr>,
        ty: SqlType,
    },
    /// `expr->field`.
    Field {
        expr: Box<Expr>,
        field: String,
    },
    /// `expr[index]`.
    Subscript {
        expr: Box<Expr>,
        index: Box<Expr>,
    },
    /// A function call; `COUNT(*)` has `star` set and no arguments.
    Call {
        name: String,
        args: Vec<Expr>,
        star: bool,
        pos: Pos,
    },
    Array(Vec<Expr>),
    Map(Vec<(Expr, Expr)>),
    Struct(Vec<(String, Expr)>),
    /// A lambda argument of `TRANSFORM`, `FILTER` or `REDUCE`: `x => body`, `(k, v) => body`.
    Lambda {
        params: Vec<String>,
        body: Box<Expr>,
    },
}

impl Expr {
    /// The column name ksqlDB gives an unaliased select expression, when it is not `KSQL_COL_n`.
    pub fn implicit_name(&self) -> Option<String> {
        match self {
            Expr::Column { name, .. } => Some(name.clone()),
            Expr::Field { field, .. } => Some(field.clone()),
            _ => None,
        }
    }

    /// Visits this expression and its sub-expressions mutably, parents first; `f` returning true
    /// skips the children of the expression it was given (it replaced it). Iterative, so that no
    /// tree costs stack.
    pub fn rewrite(&mut self, f: &mut dyn FnMut(&mut Expr) -> bool) {
        let mut stack: Vec<&mut Expr> = vec![self];
        while let Some(e) = stack.pop() {
            if f(e) {
                continue;
            }
            let first = stack.len();
            e.children_mut(&mut stack);
            stack[first..].reverse();
        }
    }

    /// Visits this expression and every sub-expression, parents first (children left to right).
    /// Iterative, so that no tree costs stack.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        let mut stack: Vec<&'a Expr> = vec![self];
        while let Some(e) = stack.pop() {
            f(e);
            let first = stack.len();
            e.children(&mut stack);
            stack[first..].reverse();
        }
    }

    /// Appends the direct sub-expressions, in the order they are written.
    pub fn children<'a>(&'a self, out: &mut Vec<&'a Expr>) {
        match self {
            Expr::Literal(_) | Expr::Column { .. } => {}
            Expr::Negate(e) | Expr::Not(e) => out.push(e),
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Field { expr, .. } => out.push(expr),
            Expr::Lambda { body, .. } => out.push(body),
            Expr::Binary { left: a, right: b, .. }
            | Expr::Like { expr: a, pattern: b, .. }
            | Expr::Subscript { expr: a, index: b } => {
                out.push(a);
                out.push(b);
            }
            Expr::Between { expr, low, high, .. } => out.extend([&**expr, &**low, &**high]),
            Expr::InList { expr, list, .. } => {
                out.push(expr);
                out.extend(list);
            }
            Expr::Case { operand, whens, otherwise } => {
                out.extend(operand.as_deref());
                for (w, t) in whens {
                    out.push(w);
                    out.push(t);
                }
                out.extend(otherwise.as_deref());
            }
            Expr::Call { args, .. } | Expr::Array(args) => out.extend(args),
            Expr::Map(entries) => {
                for (k, v) in entries {
                    out.push(k);
                    out.push(v);
                }
            }
            Expr::Struct(fields) => out.extend(fields.iter().map(|(_, e)| e)),
        }
    }

    /// Appends the direct sub-expressions mutably, in the order they are written.
    pub fn children_mut<'a>(&'a mut self, out: &mut Vec<&'a mut Expr>) {
        match self {
            Expr::Literal(_) | Expr::Column { .. } => {}
            Expr::Negate(e) | Expr::Not(e) => out.push(e),
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Field { expr, .. } => out.push(expr),
            Expr::Lambda { body, .. } => out.push(body),
            Expr::Binary { left: a, right: b, .. }
            | Expr::Like { expr: a, pattern: b, .. }
            | Expr::Subscript { expr: a, index: b } => {
                out.push(a);
                out.push(b);
            }
            Expr::Between { expr, low, high, .. } => out.extend([&mut **expr, &mut **low, &mut **high]),
            Expr::InList { expr, list, .. } => {
                out.push(expr);
                out.extend(list);
            }
            Expr::Case { operand, whens, otherwise } => {
                out.extend(operand.as_deref_mut());
                for (w, t) in whens {
                    out.push(w);
                    out.push(t);
                }
                out.extend(otherwise.as_deref_mut());
            }
            Expr::Call { args, .. } | Expr::Array(args) => out.extend(args),
            Expr::Map(entries) => {
                for (k, v) in entries {
                    out.push(k);
                    out.push(v);
                }
            }
            Expr::Struct(fields) => out.extend(fields.iter_mut().map(|(_, e)| e)),
        }
    }
}

fn quote_ident(name: &str) -> String {
    let plain = !name.is_empty()
        && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if plain {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

/// A piece of an expression's text: written as is, or an expression still to expand.
enum Piece<'a> {
    Text(&'static str),
    Owned(String),
    Expr(&'a Expr),
}

impl Expr {
    /// Whether this expression's text starts with a minus sign: a negation or a negative literal.
    fn is_signed(&self) -> bool {
        match self {
            Expr::Negate(_) => true,
            Expr::Literal(Literal::Integer(i)) => *i < 0,
            Expr::Literal(Literal::Double(d)) => d.is_sign_negative(),
            Expr::Literal(Literal::Decimal(d)) => d.starts_with('-'),
            _ => false,
        }
    }

    /// Appends the pieces of this expression's text, in order, expanding no sub-expression.
    fn pieces<'a>(&'a self, out: &mut Vec<Piece<'a>>) {
        use Piece::{Expr as E, Owned, Text};
        let not = |negated: bool| if negated { "NOT " } else { "" };
        let list = |out: &mut Vec<Piece<'a>>, items: &mut dyn Iterator<Item = Vec<Piece<'a>>>| {
            for (i, item) in items.enumerate() {
                if i > 0 {
                    out.push(Text(", "));
                }
                out.extend(item);
            }
        };
        match self {
            Expr::Literal(l) => out.push(match l {
                Literal::Null => Text("null"),
                Literal::Bool(b) => Text(if *b { "true" } else { "false" }),
                Literal::Integer(i) => Owned(i.to_string()),
                Literal::Decimal(d) => Owned(d.clone()),
                Literal::Double(d) => Owned(format!("{d:E}")),
                Literal::String(s) => Owned(format!("'{}'", s.replace('\'', "''"))),
            }),
            Expr::Column { qualifier: Some(q), name, .. } => {
                out.push(Owned(format!("{}.{}", quote_ident(q), quote_ident(name))))
            }
            Expr::Column { name, .. } => out.push(Owned(quote_ident(name))),
            // `--` would start a comment: a minus before a signed operand takes parentheses.
            Expr::Negate(e) if e.is_signed() => out.extend([Text("-("), E(e), Text(")")]),
            Expr::Negate(e) => out.extend([Text("-"), E(e)]),
            Expr::Not(e) => out.extend([Text("(NOT "), E(e), Text(")")]),
            Expr::Binary { op, left, right } => {
                out.extend([Text("("), E(left), Text(" "), Text(op.symbol()), Text(" "), E(right), Text(")")])
            }
            Expr::IsNull { expr, negated } => {
                out.extend([Text("("), E(expr), Text(" IS "), Text(not(*negated)), Text("NULL)")])
            }
            Expr::Between { expr, low, high, negated } => out.extend([
                Text("("),
                E(expr),
                Text(" "),
                Text(not(*negated)),
                Text("BETWEEN "),
                E(low),
                Text(" AND "),
                E(high),
                Text(")"),
            ]),
            Expr::InList { expr, list: items, negated } => {
                out.extend([Text("("), E(expr), Text(" "), Text(not(*negated)), Text("IN (")]);
                list(out, &mut items.iter().map(|e| vec![E(e)]));
                out.push(Text("))"));
            }
            Expr::Like { expr, pattern, negated, .. } => {
                out.extend([Text("("), E(expr), Text(" "), Text(not(*negated)), Text("LIKE "), E(pattern), Text(")")])
            }
            Expr::Case { operand, whens, otherwise } => {
                out.push(Text("(CASE"));
                if let Some(o) = operand {
                    out.extend([Text(" "), E(o)]);
                }
                for (w, t) in whens {
                    out.extend([Text(" WHEN "), E(w), Text(" THEN "), E(t)]);
                }
                if let Some(o) = otherwise {
                    out.extend([Text(" ELSE "), E(o)]);
                }
                out.push(Text(" END)"));
            }
            Expr::Cast { expr, ty } => out.extend([Text("CAST("), E(expr), Owned(format!(" AS {ty})"))]),
            // A sign binds less tightly than `->` and `[]`: `(-a)->b` is not `-(a->b)`.
            Expr::Field { expr, field } if expr.is_signed() => {
                out.extend([Text("("), E(expr), Text(")->"), Owned(quote_ident(field))])
            }
            Expr::Field { expr, field } => out.extend([E(expr), Text("->"), Owned(quote_ident(field))]),
            Expr::Subscript { expr, index } if expr.is_signed() => {
                out.extend([Text("("), E(expr), Text(")["), E(index), Text("]")])
            }
            Expr::Subscript { expr, index } => out.extend([E(expr), Text("["), E(index), Text("]")]),
            Expr::Call { name, args, star, .. } => {
                out.extend([Owned(name.clone()), Text("(")]);
                if *star {
                    out.push(Text("*"));
                }
                list(out, &mut args.iter().map(|e| vec![E(e)]));
                out.push(Text(")"));
            }
            Expr::Array(items) => {
                out.push(Text("ARRAY["));
                list(out, &mut items.iter().map(|e| vec![E(e)]));
                out.push(Text("]"));
            }
            Expr::Map(entries) => {
                out.push(Text("MAP("));
                list(out, &mut entries.iter().map(|(k, v)| vec![E(k), Text(":="), E(v)]));
                out.push(Text(")"));
            }
            Expr::Lambda { params, body } => {
                out.push(Text("("));
                list(out, &mut params.iter().map(|p| vec![Owned(quote_ident(p))]));
                out.extend([Text(") => "), E(body)]);
            }
            Expr::Struct(fields) => {
                out.push(Text("STRUCT("));
                list(out, &mut fields.iter().map(|(n, v)| vec![Owned(quote_ident(n)), Text(":="), E(v)]));
                out.push(Text(")"));
            }
        }
    }
}

/// Written with an explicit stack of pieces rather than by recursion, so that printing a tree
/// (`EXPLAIN`, error messages, GROUP BY matching) costs no stack whatever its height.
impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut stack = vec![Piece::Expr(self)];
        while let Some(piece) = stack.pop() {
            match piece {
                Piece::Text(t) => f.write_str(t)?,
                Piece::Owned(t) => f.write_str(&t)?,
                Piece::Expr(e) => {
                    let first = stack.len();
                    e.pieces(&mut stack);
                    stack[first..].reverse();
                }
            }
        }
        Ok(())
    }
}
