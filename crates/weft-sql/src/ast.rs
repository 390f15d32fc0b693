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
    /// `HEADERS` / `HEADER('k')` columns are parsed and refused by the planner.
    Headers,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ColumnDef {
    pub name: String,
    pub ty: SqlType,
    pub key: KeyConstraint,
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
}

/// A parsed statement with the text it was parsed from.
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedStatement {
    pub statement: Statement,
    pub text: String,
}

#[derive(Debug, Clone, PartialEq)]
pub enum SelectItem {
    Wildcard,
    QualifiedWildcard(String),
    Expr { expr: Expr, alias: Option<String> },
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
    /// skips the children of the expression it was given (it replaced it).
    pub fn rewrite(&mut self, f: &mut dyn FnMut(&mut Expr) -> bool) {
        if f(self) {
            return;
        }
        match self {
            Expr::Literal(_) | Expr::Column { .. } => {}
            Expr::Negate(e) | Expr::Not(e) => e.rewrite(f),
            Expr::Binary { left, right, .. } => {
                left.rewrite(f);
                right.rewrite(f);
            }
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Field { expr, .. } => expr.rewrite(f),
            Expr::Between { expr, low, high, .. } => {
                expr.rewrite(f);
                low.rewrite(f);
                high.rewrite(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.rewrite(f);
                list.iter_mut().for_each(|e| e.rewrite(f));
            }
            Expr::Like { expr, pattern, .. } => {
                expr.rewrite(f);
                pattern.rewrite(f);
            }
            Expr::Case { operand, whens, otherwise } => {
                if let Some(o) = operand {
                    o.rewrite(f);
                }
                for (w, t) in whens {
                    w.rewrite(f);
                    t.rewrite(f);
                }
                if let Some(o) = otherwise {
                    o.rewrite(f);
                }
            }
            Expr::Subscript { expr, index } => {
                expr.rewrite(f);
                index.rewrite(f);
            }
            Expr::Call { args, .. } | Expr::Array(args) => args.iter_mut().for_each(|e| e.rewrite(f)),
            Expr::Map(entries) => {
                for (k, v) in entries {
                    k.rewrite(f);
                    v.rewrite(f);
                }
            }
            Expr::Struct(fields) => fields.iter_mut().for_each(|(_, e)| e.rewrite(f)),
        }
    }

    /// Visits this expression and every sub-expression, parents first.
    pub fn walk<'a>(&'a self, f: &mut dyn FnMut(&'a Expr)) {
        f(self);
        match self {
            Expr::Literal(_) | Expr::Column { .. } => {}
            Expr::Negate(e) | Expr::Not(e) => e.walk(f),
            Expr::Binary { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Expr::IsNull { expr, .. } | Expr::Cast { expr, .. } | Expr::Field { expr, .. } => expr.walk(f),
            Expr::Between { expr, low, high, .. } => {
                expr.walk(f);
                low.walk(f);
                high.walk(f);
            }
            Expr::InList { expr, list, .. } => {
                expr.walk(f);
                list.iter().for_each(|e| e.walk(f));
            }
            Expr::Like { expr, pattern, .. } => {
                expr.walk(f);
                pattern.walk(f);
            }
            Expr::Case { operand, whens, otherwise } => {
                if let Some(o) = operand {
                    o.walk(f);
                }
                for (w, t) in whens {
                    w.walk(f);
                    t.walk(f);
                }
                if let Some(o) = otherwise {
                    o.walk(f);
                }
            }
            Expr::Subscript { expr, index } => {
                expr.walk(f);
                index.walk(f);
            }
            Expr::Call { args, .. } | Expr::Array(args) => args.iter().for_each(|e| e.walk(f)),
            Expr::Map(entries) => {
                for (k, v) in entries {
                    k.walk(f);
                    v.walk(f);
                }
            }
            Expr::Struct(fields) => fields.iter().for_each(|(_, e)| e.walk(f)),
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

impl std::fmt::Display for Expr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expr::Literal(l) => match l {
                Literal::Null => f.write_str("null"),
                Literal::Bool(b) => f.write_str(if *b { "true" } else { "false" }),
                Literal::Integer(i) => write!(f, "{i}"),
                Literal::Decimal(d) => f.write_str(d),
                Literal::Double(d) => write!(f, "{d:E}"),
                Literal::String(s) => write!(f, "'{}'", s.replace('\'', "''")),
            },
            Expr::Column { qualifier: Some(q), name, .. } => write!(f, "{}.{}", quote_ident(q), quote_ident(name)),
            Expr::Column { name, .. } => f.write_str(&quote_ident(name)),
            Expr::Negate(e) => write!(f, "-{e}"),
            Expr::Not(e) => write!(f, "(NOT {e})"),
            Expr::Binary { op, left, right } => write!(f, "({left} {} {right})", op.symbol()),
            Expr::IsNull { expr, negated } => write!(f, "({expr} IS {}NULL)", if *negated { "NOT " } else { "" }),
            Expr::Between { expr, low, high, negated } => {
                write!(f, "({expr} {}BETWEEN {low} AND {high})", if *negated { "NOT " } else { "" })
            }
            Expr::InList { expr, list, negated } => {
                write!(f, "({expr} {}IN (", if *negated { "NOT " } else { "" })?;
                for (i, e) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("))")
            }
            Expr::Like { expr, pattern, negated, .. } => {
                write!(f, "({expr} {}LIKE {pattern})", if *negated { "NOT " } else { "" })
            }
            Expr::Case { operand, whens, otherwise } => {
                f.write_str("(CASE")?;
                if let Some(o) = operand {
                    write!(f, " {o}")?;
                }
                for (w, t) in whens {
                    write!(f, " WHEN {w} THEN {t}")?;
                }
                if let Some(o) = otherwise {
                    write!(f, " ELSE {o}")?;
                }
                f.write_str(" END)")
            }
            Expr::Cast { expr, ty } => write!(f, "CAST({expr} AS {ty})"),
            Expr::Field { expr, field } => write!(f, "{expr}->{}", quote_ident(field)),
            Expr::Subscript { expr, index } => write!(f, "{expr}[{index}]"),
            Expr::Call { name, args, star, .. } => {
                write!(f, "{name}(")?;
                if *star {
                    f.write_str("*")?;
                }
                for (i, e) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str(")")
            }
            Expr::Array(items) => {
                f.write_str("ARRAY[")?;
                for (i, e) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{e}")?;
                }
                f.write_str("]")
            }
            Expr::Map(entries) => {
                f.write_str("MAP(")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k}:={v}")?;
                }
                f.write_str(")")
            }
            Expr::Struct(fields) => {
                f.write_str("STRUCT(")?;
                for (i, (n, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{}:={v}", quote_ident(n))?;
                }
                f.write_str(")")
            }
        }
    }
}
