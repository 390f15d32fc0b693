//! Expression compilation and evaluation.
//!
//! An [`crate::ast::Expr`] is compiled once against a [`Scope`] into a [`Compiled`] tree whose column
//! references are row indexes and whose types are known; evaluation walks the tree over a row slice
//! and returns a `Cow` so that column references and constants never copy (filters allocate nothing).
//!
//! Semantics follow ksqlDB: a comparison, `BETWEEN`, `IN` or `LIKE` with a null operand is false;
//! `AND`/`OR`/`NOT` use three-valued logic; an expression that fails at run time (division of
//! integers by zero, a bad cast) yields null rather than stopping the query.

use std::borrow::Cow;
use std::cmp::Ordering;

use crate::ast::{BinaryOp, Expr, Literal};
use crate::coerce;
use crate::error::{Result, SqlError};
use crate::functions::{self, ScalarFn};
use crate::types::{Decimal, SqlType, Value};

/// One column visible to an expression.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeColumn {
    /// The source name or alias that qualifies the column (`o.id`), if any.
    pub qualifier: Option<String>,
    pub name: String,
    pub ty: SqlType,
}

/// The columns an expression may refer to, in row order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Scope {
    pub columns: Vec<ScopeColumn>,
}

/// The qualifier of the scope columns a lambda's parameters become: no source can be named so, and
/// an unqualified name finds a lambda parameter (the innermost first) before any source column.
const LAMBDA_QUALIFIER: &str = "\0lambda";

impl Scope {
    pub fn resolve(&self, qualifier: Option<&str>, name: &str) -> Result<usize> {
        if qualifier.is_none() {
            let param =
                self.columns.iter().rposition(|c| c.qualifier.as_deref() == Some(LAMBDA_QUALIFIER) && c.name == name);
            if let Some(i) = param {
                return Ok(i);
            }
        }
        let mut found = None;
        for (i, c) in self.columns.iter().enumerate() {
            if c.qualifier.as_deref() == Some(LAMBDA_QUALIFIER) {
                continue;
            }
            let qualifier_ok = match qualifier {
                Some(q) => c.qualifier.as_deref() == Some(q),
                None => true,
            };
            if qualifier_ok && c.name == name {
                if let Some(first) = found {
                    let owner = |c: &ScopeColumn| c.qualifier.clone().unwrap_or_default();
                    return Err(SqlError::analysis(format!(
                        "Column '{name}' is ambiguous. Could be {}.{name} or {}.{name}.",
                        owner(&self.columns[first]),
                        owner(c)
                    )));
                }
                found = Some(i);
            }
        }
        found.ok_or_else(|| {
            let shown = match qualifier {
                Some(q) => format!("{q}.{name}"),
                None => name.to_string(),
            };
            SqlError::analysis(format!("column '{shown}' cannot be resolved"))
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum NumKind {
    Int,
    Bigint,
    Double,
    Decimal { scale: u8 },
    Str,
}

#[derive(Debug, Clone)]
enum Node {
    Const(Value),
    Column(usize),
    Negate(Box<Node>),
    Not(Box<Node>),
    Arith {
        op: BinaryOp,
        kind: NumKind,
        left: Box<Node>,
        right: Box<Node>,
        /// Inside a lambda: a null operand fails the lambda's call (see [`LambdaFn`]).
        strict: bool,
    },
    Cmp {
        op: BinaryOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    IsNull {
        expr: Box<Node>,
        negated: bool,
    },
    Between {
        expr: Box<Node>,
        low: Box<Node>,
        high: Box<Node>,
        negated: bool,
    },
    In {
        expr: Box<Node>,
        list: Vec<Node>,
        negated: bool,
    },
    Like {
        expr: Box<Node>,
        pattern: LikeSource,
        negated: bool,
    },
    Case {
        whens: Vec<(Node, Node)>,
        otherwise: Option<Box<Node>>,
    },
    Cast {
        expr: Box<Node>,
        from: SqlType,
        to: SqlType,
    },
    /// `TO_JSON_STRING`, which needs the value's type (struct field names).
    ToJson {
        expr: Box<Node>,
        ty: SqlType,
    },
    Field {
        expr: Box<Node>,
        index: usize,
    },
    ArrayIndex {
        expr: Box<Node>,
        index: Box<Node>,
    },
    MapIndex {
        expr: Box<Node>,
        key: Box<Node>,
    },
    Call {
        f: ScalarFn,
        args: Vec<Node>,
    },
    MakeArray(Vec<Node>),
    MakeMap(Vec<(Node, Node)>),
    MakeStruct(Vec<Node>),
    /// `TRANSFORM`, `FILTER` or `REDUCE`: `args` are the non-lambda arguments, `bodies` the
    /// lambdas' bodies, which read the row extended (past `width` columns) by their parameters.
    Lambda {
        f: LambdaFn,
        args: Vec<Node>,
        bodies: Vec<Node>,
        width: usize,
        /// Inside another lambda: a failure is left for the outermost call to report.
        nested: bool,
    },
}

/// The functions that take lambdas, by the collection they walk.
///
/// ksqlDB compiles a lambda to Java, where arithmetic on a null operand throws; the exception
/// fails the whole call (its result is null: `TRANSFORM([5, null], x => x + 5)` is null, while
/// `TRANSFORM(['a', null], x => UCASE(x))` is `['A', null]`). A strict `Arith` node records such
/// a failure in `LAMBDA_FAILED`, which the outermost lambda call reads and clears.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LambdaFn {
    TransformArray,
    TransformMap,
    FilterArray,
    FilterMap,
    ReduceArray,
    ReduceMap,
}

thread_local! {
    static LAMBDA_FAILED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[derive(Debug, Clone)]
enum LikeSource {
    Fixed(LikePattern),
    Dynamic { pattern: Box<Node>, escape: Option<char> },
}

/// A compiled expression with its result type.
#[derive(Debug, Clone)]
pub struct Compiled {
    node: Node,
    pub ty: SqlType,
}

impl Compiled {
    /// A reference to row index `index` (of type `ty`), compiled without a scope.
    pub fn column(index: usize, ty: SqlType) -> Compiled {
        Compiled { node: Node::Column(index), ty }
    }

    /// Evaluates over one row.
    pub fn eval<'a>(&'a self, row: &'a [Value]) -> Cow<'a, Value> {
        eval(&self.node, row)
    }

    /// Evaluates a predicate: null and false both reject.
    pub fn test(&self, row: &[Value]) -> bool {
        matches!(*self.eval(row), Value::Bool(true))
    }

    /// The row index when the expression is a bare column reference.
    pub fn as_column(&self) -> Option<usize> {
        match self.node {
            Node::Column(i) => Some(i),
            _ => None,
        }
    }

    /// Marks in `mask` every row index the expression reads.
    pub fn mark_columns(&self, mask: &mut [bool]) {
        mark(&self.node, mask);
    }

    /// The value when the expression is constant.
    pub fn as_const(&self) -> Option<&Value> {
        match &self.node {
            Node::Const(v) => Some(v),
            _ => None,
        }
    }
}

fn mark(node: &Node, mask: &mut [bool]) {
    let mut stack = vec![node];
    while let Some(node) = stack.pop() {
        if let Node::Column(i) = node {
            if let Some(slot) = mask.get_mut(*i) {
                *slot = true;
            }
        }
        node.children(&mut stack);
    }
}

impl Node {
    /// Appends the direct sub-nodes (in no particular order).
    fn children<'a>(&'a self, out: &mut Vec<&'a Node>) {
        match self {
            Node::Const(_) | Node::Column(_) => {}
            Node::Negate(e) | Node::Not(e) | Node::IsNull { expr: e, .. } | Node::Cast { expr: e, .. } => out.push(e),
            Node::ToJson { expr, .. } => out.push(expr),
            Node::Field { expr, .. } => out.push(expr),
            Node::Arith { left: a, right: b, .. }
            | Node::Cmp { left: a, right: b, .. }
            | Node::And(a, b)
            | Node::Or(a, b)
            | Node::ArrayIndex { expr: a, index: b }
            | Node::MapIndex { expr: a, key: b } => out.extend([&**a, &**b]),
            Node::Between { expr, low, high, .. } => out.extend([&**expr, &**low, &**high]),
            Node::In { expr, list, .. } => {
                out.push(expr);
                out.extend(list);
            }
            Node::Like { expr, pattern, .. } => {
                out.push(expr);
                if let LikeSource::Dynamic { pattern, .. } = pattern {
                    out.push(pattern);
                }
            }
            Node::Case { whens, otherwise } => {
                for (w, t) in whens {
                    out.extend([w, t]);
                }
                out.extend(otherwise.as_deref());
            }
            Node::Call { args, .. } | Node::MakeArray(args) | Node::MakeStruct(args) => out.extend(args),
            Node::Lambda { args, bodies, .. } => {
                out.extend(args);
                out.extend(bodies);
            }
            Node::MakeMap(entries) => {
                for (k, v) in entries {
                    out.extend([k, v]);
                }
            }
        }
    }
}

/// Compiles `expr` against `scope`.
pub fn compile(expr: &Expr, scope: &Scope) -> Result<Compiled> {
    let (node, ty) = compile_node(expr, scope)?;
    Ok(Compiled { node, ty })
}

fn literal_value(l: &Literal) -> Result<(Value, SqlType)> {
    Ok(match l {
        Literal::Null => (Value::Null, SqlType::Null),
        Literal::Bool(b) => (Value::Bool(*b), SqlType::Boolean),
        Literal::Integer(i) => match i32::try_from(*i) {
            Ok(v) => (Value::Int(v), SqlType::Int),
            Err(_) => (Value::Bigint(*i), SqlType::Bigint),
        },
        Literal::Decimal(s) => {
            let d = Decimal::parse(s).ok_or_else(|| SqlError::analysis(format!("invalid decimal literal {s}")))?;
            let precision = (d.integer_digits() + u32::from(d.scale)).max(1) as u8;
            (Value::Decimal(d), SqlType::Decimal { precision: precision.max(d.scale), scale: d.scale })
        }
        Literal::Double(d) => (Value::Double(*d), SqlType::Double),
        Literal::String(s) => (Value::String(s.clone()), SqlType::String),
    })
}

fn boxed(n: Node) -> Box<Node> {
    Box::new(n)
}

fn is_const(n: &Node) -> bool {
    matches!(n, Node::Const(_))
}

/// The common type of CASE branches, IN lists and constructors.
pub fn common_type(types: &[SqlType]) -> Result<SqlType> {
    let mut out = SqlType::Null;
    for t in types {
        if *t == SqlType::Null {
            continue;
        }
        if out == SqlType::Null {
            out = t.clone();
            continue;
        }
        if &out == t {
            continue;
        }
        out = SqlType::widen_numeric(&out, t)
            .ok_or_else(|| SqlError::analysis(format!("incompatible types {out} and {t}")))?;
    }
    Ok(out)
}

/// A type's name without its parameters (`DECIMAL`, `ARRAY`), as ksqlDB's base types print.
fn base_type_name(t: &SqlType) -> &'static str {
    match t {
        SqlType::Boolean => "BOOLEAN",
        SqlType::Int => "INTEGER",
        SqlType::Bigint => "BIGINT",
        SqlType::Double => "DOUBLE",
        SqlType::Decimal { .. } => "DECIMAL",
        SqlType::String => "STRING",
        SqlType::Bytes => "BYTES",
        SqlType::Timestamp => "TIMESTAMP",
        SqlType::Date => "DATE",
        SqlType::Time => "TIME",
        SqlType::Array(_) => "ARRAY",
        SqlType::Map(..) => "MAP",
        SqlType::Struct(_) => "STRUCT",
        SqlType::Null => "NULL",
    }
}

fn arith_type(op: BinaryOp, l: &SqlType, r: &SqlType, expr: &Expr) -> Result<(NumKind, SqlType)> {
    if op == BinaryOp::Add && l == &SqlType::String && r == &SqlType::String {
        return Ok((NumKind::Str, SqlType::String));
    }
    let l = if l == &SqlType::Null { r } else { l };
    let r = if r == &SqlType::Null { l } else { r };
    if l == &SqlType::Null {
        return Ok((NumKind::Int, SqlType::Null));
    }
    if !l.is_numeric() || !r.is_numeric() {
        return Err(SqlError::analysis(format!(
            "Error processing expression: {expr}. Unsupported arithmetic types. {} {}",
            base_type_name(l),
            base_type_name(r)
        )));
    }
    let result = SqlType::widen_numeric(l, r).unwrap_or(SqlType::Double);
    Ok(match result {
        SqlType::Int => (NumKind::Int, SqlType::Int),
        SqlType::Bigint => (NumKind::Bigint, SqlType::Bigint),
        SqlType::Double => (NumKind::Double, SqlType::Double),
        _ => {
            // ksqlDB's decimal result shapes (DecimalUtil / ArithmeticBinaryExpression).
            let (p1, s1) = l.decimal_shape().unwrap_or((10, 0));
            let (p2, s2) = r.decimal_shape().unwrap_or((10, 0));
            let (p, s) = match op {
                BinaryOp::Add | BinaryOp::Sub => {
                    let s = s1.max(s2);
                    ((p1 - s1).max(p2 - s2) + s + 1, s)
                }
                BinaryOp::Mul => (p1 + p2 + 1, s1 + s2),
                BinaryOp::Div => {
                    let s = 6.max(s1 + p2 + 1);
                    (p1 - s1 + s2 + s, s)
                }
                _ => {
                    let s = s1.max(s2);
                    ((p1 - s1).min(p2 - s2) + s, s)
                }
            };
            let s = s.min(38);
            (NumKind::Decimal { scale: s }, SqlType::Decimal { precision: p.clamp(1, 38).max(s), scale: s })
        }
    })
}

/// Compiles children before parents with an explicit stack rather than by recursion, so that
/// compiling costs no stack whatever the tree's height.
fn compile_node(expr: &Expr, scope: &Scope) -> Result<(Node, SqlType)> {
    enum Task<'a> {
        Visit(&'a Expr),
        /// Builds the expression from its last `n` compiled children.
        Build(&'a Expr, usize),
    }
    let mut tasks = vec![Task::Visit(expr)];
    let mut compiled: Vec<(Node, SqlType)> = Vec::new();
    let mut children = Vec::new();
    while let Some(task) = tasks.pop() {
        match task {
            Task::Visit(e) => {
                children.clear();
                compiled_children(e, &mut children);
                tasks.push(Task::Build(e, children.len()));
                tasks.extend(children.iter().rev().map(|c| Task::Visit(c)));
            }
            Task::Build(e, n) => {
                let args = compiled.split_off(compiled.len() - n);
                compiled.push(build(e, args, scope)?);
            }
        }
    }
    compiled.pop().ok_or_else(|| SqlError::analysis("internal error: an expression compiled to nothing"))
}

/// The sub-expressions `build` needs compiled, in order: all of them, except the time unit of
/// `TIMESTAMPADD(SECONDS, ...)` (a keyword, not a column) and the arguments of calls that are
/// refused before their arguments are looked at.
fn compiled_children<'a>(e: &'a Expr, out: &mut Vec<&'a Expr>) {
    match e {
        Expr::Call { name, star, .. } if functions::is_aggregate(name) || *star => {}
        Expr::Call { name, args, .. } if functions::takes_time_unit(name) => {
            out.extend(args.get(1..).unwrap_or_default());
        }
        // Lambda bodies are compiled by `build`, against the scope their parameters extend.
        Expr::Call { args, .. } => out.extend(args.iter().filter(|a| !matches!(a, Expr::Lambda { .. }))),
        Expr::Lambda { .. } => {}
        other => other.children(out),
    }
}

/// The length in milliseconds of the time unit a `TIMESTAMPADD`-like call starts with.
fn time_unit_arg(args: &[Expr]) -> Option<i64> {
    match args.first() {
        Some(Expr::Column { qualifier: None, name: unit, .. }) => functions::time_unit_millis(unit),
        _ => None,
    }
}

/// Builds one node from its children compiled in the order `compiled_children` gives them.
fn build(expr: &Expr, args: Vec<(Node, SqlType)>, scope: &Scope) -> Result<(Node, SqlType)> {
    let mut args = args.into_iter();
    let mut next = || args.next().ok_or_else(|| SqlError::analysis("internal error: a sub-expression is missing"));
    Ok(match expr {
        Expr::Literal(l) => {
            let (v, t) = literal_value(l)?;
            (Node::Const(v), t)
        }
        Expr::Column { qualifier, name, pos } => {
            let i = scope.resolve(qualifier.as_deref(), name).map_err(|e| match e {
                // ksqlDB says where an ambiguous column is.
                SqlError::Analysis(m) if m.contains("is ambiguous") && pos.line > 0 => {
                    SqlError::Analysis(format!("Line: {}, Col: {}: {m}", pos.line, pos.column))
                }
                other => other,
            })?;
            (Node::Column(i), scope.columns[i].ty.clone())
        }
        Expr::Negate(_) => {
            let (n, t) = next()?;
            if !t.is_numeric() && t != SqlType::Null {
                return Err(SqlError::analysis(format!("cannot negate a value of type {t}")));
            }
            (Node::Negate(boxed(n)), t)
        }
        Expr::Not(_) => {
            let (n, t) = next()?;
            expect_boolean(&t, "NOT")?;
            (Node::Not(boxed(n)), SqlType::Boolean)
        }
        Expr::Binary { op, left, right } => {
            let (l, lt) = next()?;
            let (r, rt) = next()?;
            match op {
                BinaryOp::And | BinaryOp::Or => {
                    expect_boolean(&lt, op.symbol())?;
                    expect_boolean(&rt, op.symbol())?;
                    let n =
                        if *op == BinaryOp::And { Node::And(boxed(l), boxed(r)) } else { Node::Or(boxed(l), boxed(r)) };
                    (n, SqlType::Boolean)
                }
                BinaryOp::IsDistinctFrom | BinaryOp::IsNotDistinctFrom => {
                    if lt != SqlType::Null && rt != SqlType::Null && !lt.comparable_with(&rt) {
                        return Err(SqlError::analysis(format!(
                            "Cannot compare {left} ({lt}) to {right} ({rt}) with {}.",
                            if *op == BinaryOp::IsDistinctFrom { "IS_DISTINCT_FROM" } else { "IS_NOT_DISTINCT_FROM" }
                        )));
                    }
                    (Node::Cmp { op: *op, left: boxed(l), right: boxed(r) }, SqlType::Boolean)
                }
                BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::LtEq | BinaryOp::Gt | BinaryOp::GtEq => {
                    let (l, lt) = magic_timestamp(l, lt, left, right);
                    let (r, rt) = magic_timestamp(r, rt, right, left);
                    if lt == SqlType::Null || rt == SqlType::Null {
                        // ksqlDB writes the null literal in capitals here.
                        let text = |e: &Expr| match e {
                            Expr::Literal(Literal::Null) => "NULL".to_string(),
                            other => other.to_string(),
                        };
                        return Err(SqlError::analysis(format!(
                            "Comparison with NULL not supported: {} {} {}",
                            text(left),
                            op.symbol(),
                            text(right)
                        )));
                    }
                    let ordered = matches!(op, BinaryOp::Eq | BinaryOp::NotEq)
                        || ![&lt, &rt]
                            .iter()
                            .any(|t| matches!(t, SqlType::Array(_) | SqlType::Map(..) | SqlType::Struct(_)));
                    if !lt.comparable_with(&rt) || !ordered {
                        return Err(SqlError::analysis(format!(
                            "Cannot compare {left} ({lt}) to {right} ({rt}) with {}.",
                            match op {
                                BinaryOp::Eq => "EQUAL",
                                BinaryOp::NotEq => "NOT_EQUAL",
                                BinaryOp::Lt => "LESS_THAN",
                                BinaryOp::LtEq => "LESS_THAN_OR_EQUAL",
                                BinaryOp::Gt => "GREATER_THAN",
                                _ => "GREATER_THAN_OR_EQUAL",
                            }
                        )));
                    }
                    (Node::Cmp { op: *op, left: boxed(l), right: boxed(r) }, SqlType::Boolean)
                }
                _ => {
                    let (kind, ty) = arith_type(*op, &lt, &rt, expr)?;
                    let strict = in_lambda(scope);
                    (Node::Arith { op: *op, kind, left: boxed(l), right: boxed(r), strict }, ty)
                }
            }
        }
        Expr::IsNull { negated, .. } => {
            let (n, _) = next()?;
            (Node::IsNull { expr: boxed(n), negated: *negated }, SqlType::Boolean)
        }
        Expr::Between { expr: value, low, high, negated } => {
            let (e, et) = next()?;
            let (lo, lot) = next()?;
            let (hi, hit) = next()?;
            let (lo, lot) = magic_timestamp(lo, lot, low, value);
            let (hi, hit) = magic_timestamp(hi, hit, high, value);
            if !et.comparable_with(&lot) || !et.comparable_with(&hit) {
                return Err(SqlError::analysis(format!("BETWEEN bounds of type {lot} and {hit} do not match {et}")));
            }
            (Node::Between { expr: boxed(e), low: boxed(lo), high: boxed(hi), negated: *negated }, SqlType::Boolean)
        }
        Expr::InList { expr: value, list, negated } => {
            // ksqlDB coerces the value and the list to one type together (CoercionUtil), then
            // compares with equality.
            let mut compiled = Vec::with_capacity(list.len() + 1);
            for _ in 0..=list.len() {
                compiled.push(next()?);
            }
            let exprs: Vec<&Expr> = std::iter::once(&**value).chain(list).collect();
            let typed: Vec<(&Expr, &SqlType)> = exprs.iter().zip(&compiled).map(|(e, (_, t))| (*e, t)).collect();
            let common = coerce::common_type(&typed, scope).map_err(|f| f.into_error("Invalid Predicate"))?;
            let mut nodes = compiled.into_iter().zip(&exprs).map(|((n, t), e)| match &common {
                Some(common) => to_common_type(n, &t, common, e),
                None => n,
            });
            let e = nodes.next().unwrap_or(Node::Const(Value::Null));
            (Node::In { expr: boxed(e), list: nodes.collect(), negated: *negated }, SqlType::Boolean)
        }
        Expr::Like { escape, negated, .. } => {
            let (e, et) = next()?;
            let (p, pt) = next()?;
            for t in [&et, &pt] {
                if !matches!(t, SqlType::String | SqlType::Null) {
                    return Err(SqlError::analysis(format!("LIKE needs STRING operands, found {t}")));
                }
            }
            let pattern = match p {
                Node::Const(Value::String(s)) => LikeSource::Fixed(LikePattern::new(&s, *escape)),
                other => LikeSource::Dynamic { pattern: boxed(other), escape: *escape },
            };
            (Node::Like { expr: boxed(e), pattern, negated: *negated }, SqlType::Boolean)
        }
        Expr::Case { operand, whens, otherwise } => {
            let operand = operand.as_ref().map(|_| next()).transpose()?;
            let mut compiled = Vec::with_capacity(whens.len());
            let mut types = Vec::new();
            for _ in whens {
                let (wn, wt) = next()?;
                let cond = match &operand {
                    Some((on, ot)) => {
                        if !ot.comparable_with(&wt) {
                            return Err(SqlError::analysis(format!("CASE operand {ot} cannot be compared to {wt}")));
                        }
                        Node::Cmp { op: BinaryOp::Eq, left: boxed(on.clone()), right: boxed(wn) }
                    }
                    None => {
                        expect_boolean(&wt, "WHEN")?;
                        wn
                    }
                };
                let (tn, tt) = next()?;
                types.push(tt.clone());
                compiled.push((cond, tn, tt));
            }
            let otherwise = match otherwise {
                Some(_) => {
                    let (n, t) = next()?;
                    types.push(t.clone());
                    Some((n, t))
                }
                None => None,
            };
            let ty = common_type(&types).map_err(|_| {
                SqlError::analysis("invalid CASE expression: all THEN and ELSE results must have the same type")
            })?;
            if ty == SqlType::Null {
                return Err(SqlError::analysis("Invalid Case expression. All case branches have NULL type"));
            }
            let compiled = compiled.into_iter().map(|(c, n, t)| (c, coerce(n, &t, &ty))).collect::<Vec<_>>();
            let otherwise = otherwise.map(|(n, t)| boxed(coerce(n, &t, &ty)));
            (Node::Case { whens: compiled, otherwise }, ty)
        }
        Expr::Cast { ty, .. } => {
            let (n, from) = next()?;
            functions::check_cast(&from, ty)?;
            if &from == ty {
                (n, from)
            } else {
                let node = Node::Cast { expr: boxed(n), from: from.clone(), to: ty.clone() };
                (fold(node), ty.clone())
            }
        }
        Expr::Field { expr, field } => {
            let (n, t) = next()?;
            let SqlType::Struct(fields) = &t else {
                return Err(SqlError::analysis(format!("'->' needs a STRUCT but {expr} is {t}")));
            };
            let index = fields
                .iter()
                .position(|(name, _)| name == field)
                .or_else(|| fields.iter().position(|(name, _)| name.eq_ignore_ascii_case(field)))
                .ok_or_else(|| SqlError::analysis(format!("struct {expr} has no field '{field}'")))?;
            (Node::Field { expr: boxed(n), index }, fields[index].1.clone())
        }
        Expr::Subscript { expr, .. } => {
            let (n, t) = next()?;
            let (i, it) = next()?;
            match t {
                SqlType::Array(inner) => {
                    if !matches!(it, SqlType::Int | SqlType::Bigint | SqlType::Null) {
                        return Err(SqlError::analysis(format!("array index must be an integer, found {it}")));
                    }
                    (Node::ArrayIndex { expr: boxed(n), index: boxed(i) }, *inner)
                }
                SqlType::Map(_, v) => (Node::MapIndex { expr: boxed(n), key: boxed(i) }, *v),
                other => return Err(SqlError::analysis(format!("'[]' needs an ARRAY or a MAP but {expr} is {other}"))),
            }
        }
        Expr::Lambda { .. } => {
            return Err(SqlError::analysis(format!(
                "a lambda ({expr}) is only allowed as an argument of TRANSFORM, FILTER or REDUCE"
            )));
        }
        Expr::Call { name, args, .. } if args.iter().any(|a| matches!(a, Expr::Lambda { .. })) => {
            let compiled = args
                .iter()
                .filter(|a| !matches!(a, Expr::Lambda { .. }))
                .map(|_| next())
                .collect::<Result<Vec<_>>>()?;
            lambda_call(name, args, compiled, scope)?
        }
        Expr::Call { name, args, star, .. } => {
            if functions::is_aggregate(name) {
                return Err(SqlError::analysis(format!(
                    "aggregate function {name} is only allowed in the SELECT or HAVING of a GROUP BY query"
                )));
            }
            if *star {
                // A scalar function called with `*` is called with no arguments, as in ksqlDB.
                functions::resolve(name, &[])?;
                return Err(SqlError::analysis(format!("{name}(*) is only allowed as an aggregate")));
            }
            let mut nodes = Vec::with_capacity(args.len());
            let mut types = Vec::with_capacity(args.len());
            let mut args = args.as_slice();
            // TIMESTAMPADD(SECONDS, 5, ts) and friends: the unit is a keyword, passed on as its length
            // in milliseconds.
            if functions::takes_time_unit(name) {
                let Some(millis) = time_unit_arg(args) else {
                    // A column where the unit belongs: ksqlDB finds no signature for the types.
                    if let Some(Ok((_, first))) = args.first().map(|a| compile_node(a, scope)) {
                        let mut types = vec![first.to_string()];
                        for _ in &args[1..] {
                            types.push(next()?.1.to_string());
                        }
                        return Err(SqlError::analysis(format!(
                            "Function '{}' does not accept parameters ({}).",
                            name.to_ascii_lowercase(),
                            types.join(", ")
                        )));
                    }
                    return Err(SqlError::analysis(format!(
                        "{name} expects a time unit (MILLISECONDS, SECONDS, MINUTES, HOURS, DAYS) as its first argument"
                    )));
                };
                nodes.push(Node::Const(Value::Bigint(millis)));
                types.push(SqlType::Bigint);
                args = &args[1..];
            }
            for _ in args {
                let (n, t) = next()?;
                nodes.push(n);
                types.push(t);
            }
            if name == "TO_JSON_STRING" {
                let (Some(expr), 1) = (nodes.pop(), types.len()) else {
                    return Err(functions::no_signature(name, &types));
                };
                let ty = types.swap_remove(0);
                return Ok((fold(Node::ToJson { expr: boxed(expr), ty }), SqlType::String));
            }
            let (f, ty) = functions::resolve(name, &types)?;
            let nodes = if functions::casts_arguments_to_result(f.name) {
                nodes.into_iter().zip(&types).map(|(n, t)| cast_to(n, t, &ty)).collect()
            } else {
                nodes
            };
            let node = Node::Call { f, args: nodes };
            (if f.deterministic { fold(node) } else { node }, ty)
        }
        Expr::Array(items) => {
            // ksqlDB types constructors as it types IN lists (CoercionUtil): ARRAY[1, '2'] is ARRAY<INT>.
            if items.is_empty() {
                return Err(SqlError::analysis(
                    "Array constructor cannot be empty. Please supply at least one element (see \
                     https://github.com/confluentinc/ksql/issues/4239).",
                ));
            }
            let compiled = (0..items.len()).map(|_| next()).collect::<Result<Vec<_>>>()?;
            let typed: Vec<(&Expr, &SqlType)> = items.iter().zip(&compiled).map(|(e, (_, t))| (e, t)).collect();
            let inner = coerce::common_type(&typed, scope).map_err(coerce::Failure::into_plain)?.ok_or_else(|| {
                SqlError::analysis(
                    "Cannot construct an array with all NULL elements (see \
                     https://github.com/confluentinc/ksql/issues/4239). As a workaround, you may cast a NULL value \
                     to the desired type.",
                )
            })?;
            let nodes = compiled.into_iter().zip(items).map(|((n, t), e)| to_common_type(n, &t, &inner, e)).collect();
            (Node::MakeArray(nodes), SqlType::Array(Box::new(inner)))
        }
        Expr::Map(entries) => {
            if entries.is_empty() {
                return Err(SqlError::analysis(
                    "Map constructor cannot be empty. Please supply at least one key value pair (see \
                     https://github.com/confluentinc/ksql/issues/4239).",
                ));
            }
            let mut keys = Vec::with_capacity(entries.len());
            let mut values = Vec::with_capacity(entries.len());
            for _ in entries {
                keys.push(next()?);
                values.push(next()?);
            }
            let common = |compiled: &[(Node, SqlType)], exprs: Vec<&Expr>, what: &str| -> Result<SqlType> {
                let typed: Vec<(&Expr, &SqlType)> = exprs.into_iter().zip(compiled).map(|(e, (_, t))| (e, t)).collect();
                coerce::common_type(&typed, scope)
                    .map_err(coerce::Failure::into_plain)?
                    .ok_or_else(|| SqlError::analysis(format!("Cannot construct a map with all NULL {what}")))
            };
            let kt = common(&keys, entries.iter().map(|(k, _)| k).collect(), "keys")?;
            let vt = common(&values, entries.iter().map(|(_, v)| v).collect(), "values")?;
            let nodes = keys
                .into_iter()
                .zip(values)
                .zip(entries)
                .map(|(((kn, kt0), (vn, vt0)), (ke, ve))| {
                    // Keys are held as strings (a null key as "null", as ksqlDB's serde writes it).
                    let kn = cast_to(to_common_type(kn, &kt0, &kt, ke), &kt, &SqlType::String);
                    (kn, to_common_type(vn, &vt0, &vt, ve))
                })
                .collect();
            (Node::MakeMap(nodes), SqlType::Map(Box::new(SqlType::String), Box::new(vt)))
        }
        Expr::Struct(fields) => {
            let mut nodes = Vec::new();
            let mut types = Vec::new();
            for (i, (name, _)) in fields.iter().enumerate() {
                if fields[..i].iter().any(|(other, _)| other == name) {
                    return Err(SqlError::analysis("Duplicate field names found in STRUCT"));
                }
                let (n, t) = next()?;
                nodes.push(n);
                types.push((name.clone(), t));
            }
            (Node::MakeStruct(nodes), SqlType::Struct(types))
        }
    })
}

fn in_lambda(scope: &Scope) -> bool {
    scope.columns.iter().any(|c| c.qualifier.as_deref() == Some(LAMBDA_QUALIFIER))
}

/// Compiles a call of `TRANSFORM`, `FILTER` or `REDUCE`: `args` as written, `compiled` its
/// non-lambda arguments.
fn lambda_call(name: &str, args: &[Expr], compiled: Vec<(Node, SqlType)>, scope: &Scope) -> Result<(Node, SqlType)> {
    let lambdas: Vec<(&[String], &Expr)> = args
        .iter()
        .filter_map(|a| match a {
            Expr::Lambda { params, body } => Some((params.as_slice(), &**body)),
            _ => None,
        })
        .collect();
    let lambda_last = args.last().is_some_and(|a| matches!(a, Expr::Lambda { .. }));
    let types: Vec<SqlType> = compiled.iter().map(|(_, t)| t.clone()).collect();
    let shape_error = || {
        SqlError::analysis(format!(
            "Function '{name}' does not accept parameters ({}, {}).",
            types.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "),
            lambdas.iter().map(|(p, _)| format!("LAMBDA<{}>", p.len())).collect::<Vec<_>>().join(", ")
        ))
    };
    let collection = types.first().cloned().unwrap_or(SqlType::Null);
    let (f, params): (LambdaFn, Vec<Vec<SqlType>>) = match (name, &collection, compiled.len(), lambdas.len()) {
        ("TRANSFORM", SqlType::Array(t), 1, 1) => (LambdaFn::TransformArray, vec![vec![(**t).clone()]]),
        ("TRANSFORM", SqlType::Map(k, v), 1, 2) => {
            let kv = vec![(**k).clone(), (**v).clone()];
            (LambdaFn::TransformMap, vec![kv.clone(), kv])
        }
        ("FILTER", SqlType::Array(t), 1, 1) => (LambdaFn::FilterArray, vec![vec![(**t).clone()]]),
        ("FILTER", SqlType::Map(k, v), 1, 1) => (LambdaFn::FilterMap, vec![vec![(**k).clone(), (**v).clone()]]),
        ("REDUCE", SqlType::Array(t), 2, 1) => (LambdaFn::ReduceArray, vec![vec![types[1].clone(), (**t).clone()]]),
        ("REDUCE", SqlType::Map(k, v), 2, 1) => {
            (LambdaFn::ReduceMap, vec![vec![types[1].clone(), (**k).clone(), (**v).clone()]])
        }
        _ => return Err(shape_error()),
    };
    if !lambda_last || lambdas.iter().zip(&params).any(|((p, _), want)| p.len() != want.len()) {
        return Err(shape_error());
    }
    let width = scope.columns.len();
    let nested = in_lambda(scope);
    let mut bodies = Vec::with_capacity(lambdas.len());
    let mut body_types = Vec::with_capacity(lambdas.len());
    for ((names, body), types) in lambdas.iter().zip(params) {
        let mut inner = Scope { columns: scope.columns.clone() };
        inner.columns.extend(names.iter().zip(types).map(|(n, ty)| ScopeColumn {
            qualifier: Some(LAMBDA_QUALIFIER.to_string()),
            name: n.clone(),
            ty,
        }));
        let (node, ty) = compile_node(body, &inner)?;
        bodies.push(node);
        body_types.push(ty);
    }
    let ty = match f {
        LambdaFn::TransformArray => SqlType::Array(Box::new(body_types[0].clone())),
        LambdaFn::TransformMap => {
            if !matches!(body_types[0], SqlType::String | SqlType::Null) {
                let key = bodies.remove(0);
                bodies.insert(0, cast_to(key, &body_types[0], &SqlType::String));
            }
            SqlType::Map(Box::new(SqlType::String), Box::new(body_types[1].clone()))
        }
        LambdaFn::FilterArray | LambdaFn::FilterMap => {
            expect_boolean(&body_types[0], "a FILTER lambda")?;
            collection
        }
        LambdaFn::ReduceArray | LambdaFn::ReduceMap => {
            let state = types[1].clone();
            if state == SqlType::Null {
                body_types[0].clone()
            } else {
                let body = bodies.remove(0);
                bodies.insert(0, cast_to(body, &body_types[0], &state));
                state
            }
        }
    };
    let args = compiled.into_iter().map(|(n, _)| n).collect();
    Ok((Node::Lambda { f, args, bodies, width, nested }, ty))
}

/// ksqlDB's "magic" timestamps: a string literal compared with `ROWTIME`, `WINDOWSTART` or
/// `WINDOWEND` is read as a (possibly partial) ISO timestamp in epoch milliseconds, UTC unless it
/// names an offset (`'2018'`, `'2019-01-01T00:00:00+0445'`).
fn magic_timestamp(n: Node, ty: SqlType, this: &Expr, other: &Expr) -> (Node, SqlType) {
    let magic = matches!(other, Expr::Column { name, .. }
        if matches!(name.as_str(), "ROWTIME" | "WINDOWSTART" | "WINDOWEND"));
    match (magic, this) {
        (true, Expr::Literal(Literal::String(s))) => match functions::parse_partial_timestamp(s) {
            Some(ms) => (Node::Const(Value::Bigint(ms)), SqlType::Bigint),
            None => (n, ty),
        },
        _ => (n, ty),
    }
}

/// Wraps `n` in a cast from `from` to `to` unless it already has that type (or is a bare null).
fn cast_to(n: Node, from: &SqlType, to: &SqlType) -> Node {
    if from == to || from == &SqlType::Null {
        n
    } else {
        fold(Node::Cast { expr: boxed(n), from: from.clone(), to: to.clone() })
    }
}

/// Converts one element of a coerced list to the list's type: a literal becomes a constant of
/// that type, anything else is cast.
fn to_common_type(n: Node, from: &SqlType, to: &SqlType, e: &Expr) -> Node {
    if from == to || from == &SqlType::Null {
        return n;
    }
    match (&n, e) {
        (Node::Const(v), Expr::Literal(_)) => Node::Const(coerce::convert_literal(v, from, to)),
        _ => fold(Node::Cast { expr: boxed(n), from: from.clone(), to: to.clone() }),
    }
}

/// Wraps `n` in a cast when its value must widen from `from` to `to` (INT branches of a DOUBLE CASE).
fn coerce(n: Node, from: &SqlType, to: &SqlType) -> Node {
    if from != to && from != &SqlType::Null && to.is_numeric() {
        fold(Node::Cast { expr: boxed(n), from: from.clone(), to: to.clone() })
    } else {
        n
    }
}

/// Evaluates a node whose inputs are all constant.
fn fold(node: Node) -> Node {
    let constant = match &node {
        Node::Cast { expr, .. } | Node::ToJson { expr, .. } => is_const(expr),
        Node::Call { args, .. } => args.iter().all(is_const),
        _ => false,
    };
    if constant {
        let v = eval(&node, &[]).into_owned();
        Node::Const(v)
    } else {
        node
    }
}

fn expect_boolean(t: &SqlType, what: &str) -> Result<()> {
    match t {
        SqlType::Boolean | SqlType::Null => Ok(()),
        other => Err(SqlError::analysis(format!("{what} needs a BOOLEAN operand, found {other}"))),
    }
}

// Evaluation recurses once per tree level (a per-record loop cannot afford an explicit stack's
// allocation), so every frame on that path is kept small: `eval` only dispatches, and each
// operator's work is in its own function, which holds just that operator's locals. In a debug
// build, where frames are not shared between match arms and nothing is inlined, this is what
// keeps a tree of `parser::MAX_EXPR_DEPTH` levels within a 2 MiB thread (`tests/depth.rs`); the
// optimized build inlines the helpers back into `eval` (which it would not do by itself across
// the recursion), so the per-record path costs what a single `match` did.
fn eval<'a>(node: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    // Each arm is one call whose result is this function's result: the frame holds no temporaries.
    match node {
        Node::Const(v) => Cow::Borrowed(v),
        Node::Column(i) => column(row, *i),
        Node::Negate(e) => negate(e, row),
        Node::Not(e) => not(e, row),
        Node::Arith { op, kind, left, right, strict } => eval_arith(*op, *kind, left, right, *strict, row),
        Node::Cmp { op, left, right } => eval_cmp(*op, left, right, row),
        Node::And(l, r) => eval_and(l, r, row),
        Node::Or(l, r) => eval_or(l, r, row),
        Node::IsNull { expr, negated } => eval_is_null(expr, *negated, row),
        Node::Between { expr, low, high, negated } => eval_between(expr, low, high, *negated, row),
        Node::In { expr, list, negated } => eval_in(expr, list, *negated, row),
        Node::Like { expr, pattern, negated } => eval_like(expr, pattern, *negated, row),
        Node::Case { whens, otherwise } => eval_case(whens, otherwise.as_deref(), row),
        Node::Cast { expr, from, to } => eval_cast(expr, from, to, row),
        Node::ToJson { expr, ty } => eval_to_json(expr, ty, row),
        Node::Field { expr, index } => eval_field(expr, *index, row),
        Node::ArrayIndex { expr, index } => eval_array_index(expr, index, row),
        Node::MapIndex { expr, key } => eval_map_index(expr, key, row),
        Node::Call { f, args } => eval_call(f, args, row),
        Node::MakeArray(items) => eval_array(items, row),
        Node::MakeMap(entries) => eval_map(entries, row),
        Node::MakeStruct(fields) => eval_struct(fields, row),
        Node::Lambda { f, args, bodies, width, nested } => eval_lambda(*f, args, bodies, *width, *nested, row),
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_lambda<'a>(
    f: LambdaFn,
    args: &'a [Node],
    bodies: &'a [Node],
    width: usize,
    nested: bool,
    row: &'a [Value],
) -> Cow<'a, Value> {
    let v = lambda_value(f, args, bodies, width, row);
    let failed = LAMBDA_FAILED.with(|c| if nested { c.get() } else { c.replace(false) });
    Cow::Owned(if failed { Value::Null } else { v })
}

/// Runs one lambda call; a failure is recorded in `LAMBDA_FAILED`.
fn lambda_value(f: LambdaFn, args: &[Node], bodies: &[Node], width: usize, row: &[Value]) -> Value {
    let fail = || {
        LAMBDA_FAILED.with(|c| c.set(true));
        Value::Null
    };
    let collection = eval(&args[0], row);
    // The row the bodies read: the outer columns, then the parameters (at most three).
    let mut ext: Vec<Value> = row.iter().take(width).cloned().collect();
    ext.resize(width, Value::Null);
    let mut call = |body: &Node, params: &[&Value]| -> Value {
        ext.truncate(width);
        ext.extend(params.iter().map(|v| (*v).clone()));
        eval(body, &ext).into_owned()
    };
    match (f, &*collection) {
        (LambdaFn::TransformArray, Value::Array(items)) => {
            Value::Array(items.iter().map(|x| call(&bodies[0], &[x])).collect())
        }
        (LambdaFn::FilterArray, Value::Array(items)) => Value::Array(
            items.iter().filter(|x| matches!(call(&bodies[0], &[x]), Value::Bool(true))).cloned().collect(),
        ),
        (LambdaFn::TransformMap, Value::Map(m)) => {
            let mut out = crate::types::SqlMap::new();
            for (k, v) in m.iter() {
                let key = Value::String(k.clone());
                let new_key = match call(&bodies[0], &[&key, v]) {
                    Value::String(s) => s,
                    Value::Null => "null".to_string(),
                    other => functions::to_display_string(&other),
                };
                let new_value = call(&bodies[1], &[&key, v]);
                // ksqlDB fails the call when two entries map to one key.
                if out.insert(new_key, new_value).is_some() {
                    return fail();
                }
            }
            Value::map(out)
        }
        (LambdaFn::FilterMap, Value::Map(m)) => Value::map(
            m.iter()
                .filter(|(k, v)| matches!(call(&bodies[0], &[&Value::String((*k).clone()), v]), Value::Bool(true)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        (LambdaFn::ReduceArray, items) => {
            let mut state = eval(&args[1], row).into_owned();
            if let Value::Array(items) = items {
                for x in items {
                    state = call(&bodies[0], &[&state, x]);
                }
            }
            state
        }
        (LambdaFn::ReduceMap, m) => {
            let mut state = eval(&args[1], row).into_owned();
            if let Value::Map(m) = m {
                // ksqlDB folds in its HashMap's order, which an order-sensitive body shows.
                for (k, v) in crate::types::java_hash_order(m) {
                    state = call(&bodies[0], &[&state, &Value::String(k.clone()), v]);
                }
            }
            state
        }
        _ => Value::Null,
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn column(row: &[Value], i: usize) -> Cow<'_, Value> {
    match row.get(i) {
        Some(v) => Cow::Borrowed(v),
        None => Cow::Owned(Value::Null),
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_field<'a>(expr: &'a Node, index: usize, row: &'a [Value]) -> Cow<'a, Value> {
    field(eval(expr, row), index)
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_is_null<'a>(expr: &'a Node, negated: bool, row: &'a [Value]) -> Cow<'a, Value> {
    Cow::Owned(Value::Bool(eval(expr, row).is_null() != negated))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_cast<'a>(expr: &'a Node, from: &SqlType, to: &SqlType, row: &'a [Value]) -> Cow<'a, Value> {
    Cow::Owned(functions::cast_typed(&eval(expr, row), from, to))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_to_json<'a>(expr: &'a Node, ty: &SqlType, row: &'a [Value]) -> Cow<'a, Value> {
    Cow::Owned(Value::String(functions::to_json_string(&eval(expr, row), ty)))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_array<'a>(items: &'a [Node], row: &'a [Value]) -> Cow<'a, Value> {
    Cow::Owned(Value::Array(eval_all(items, row)))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_struct<'a>(fields: &'a [Node], row: &'a [Value]) -> Cow<'a, Value> {
    Cow::Owned(Value::Struct(eval_all(fields, row)))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn negate<'a>(e: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    Cow::Owned(match &*eval(e, row) {
        Value::Int(v) => Value::Int(v.wrapping_neg()),
        Value::Bigint(v) => Value::Bigint(v.wrapping_neg()),
        Value::Double(v) => Value::Double(-v),
        Value::Decimal(d) => Value::Decimal(Decimal { unscaled: -d.unscaled, scale: d.scale }),
        _ => Value::Null,
    })
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn not<'a>(e: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    Cow::Owned(match &*eval(e, row) {
        Value::Bool(b) => Value::Bool(!b),
        _ => Value::Null,
    })
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_arith<'a>(
    op: BinaryOp,
    kind: NumKind,
    left: &'a Node,
    right: &'a Node,
    strict: bool,
    row: &'a [Value],
) -> Cow<'a, Value> {
    let l = eval(left, row);
    let r = eval(right, row);
    if strict && (l.is_null() || r.is_null()) {
        LAMBDA_FAILED.with(|c| c.set(true));
    }
    Cow::Owned(arith(op, kind, &l, &r))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_cmp<'a>(op: BinaryOp, left: &'a Node, right: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    let l = eval(left, row);
    let r = eval(right, row);
    Cow::Owned(Value::Bool(compare(op, &l, &r)))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_and<'a>(l: &'a Node, r: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    let a = eval(l, row);
    if matches!(*a, Value::Bool(false)) {
        return Cow::Owned(Value::Bool(false));
    }
    let b = eval(r, row);
    Cow::Owned(match (&*a, &*b) {
        (_, Value::Bool(false)) => Value::Bool(false),
        (Value::Bool(true), Value::Bool(true)) => Value::Bool(true),
        _ => Value::Null,
    })
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_or<'a>(l: &'a Node, r: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    let a = eval(l, row);
    if matches!(*a, Value::Bool(true)) {
        return Cow::Owned(Value::Bool(true));
    }
    let b = eval(r, row);
    Cow::Owned(match (&*a, &*b) {
        (_, Value::Bool(true)) => Value::Bool(true),
        (Value::Bool(false), Value::Bool(false)) => Value::Bool(false),
        _ => Value::Null,
    })
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_between<'a>(expr: &'a Node, low: &'a Node, high: &'a Node, negated: bool, row: &'a [Value]) -> Cow<'a, Value> {
    let v = eval(expr, row);
    let lo = eval(low, row);
    let hi = eval(high, row);
    let inside = match (v.sql_cmp(&lo), v.sql_cmp(&hi)) {
        (Some(a), Some(b)) => Some(a != Ordering::Less && b != Ordering::Greater),
        _ => None,
    };
    Cow::Owned(Value::Bool(match inside {
        Some(inside) => inside != negated,
        None => false,
    }))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_in<'a>(expr: &'a Node, list: &'a [Node], negated: bool, row: &'a [Value]) -> Cow<'a, Value> {
    let v = eval(expr, row);
    if v.is_null() {
        return Cow::Owned(Value::Bool(false));
    }
    let found = list.iter().any(|item| v.sql_eq(&eval(item, row)) == Some(true));
    Cow::Owned(Value::Bool(found != negated))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_like<'a>(expr: &'a Node, pattern: &'a LikeSource, negated: bool, row: &'a [Value]) -> Cow<'a, Value> {
    let v = eval(expr, row);
    let Value::String(s) = &*v else {
        return Cow::Owned(Value::Bool(false));
    };
    let matched = match pattern {
        LikeSource::Fixed(p) => p.matches(s),
        LikeSource::Dynamic { pattern, escape } => match &*eval(pattern, row) {
            Value::String(p) => LikePattern::new(p, *escape).matches(s),
            _ => return Cow::Owned(Value::Bool(false)),
        },
    };
    Cow::Owned(Value::Bool(matched != negated))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_case<'a>(whens: &'a [(Node, Node)], otherwise: Option<&'a Node>, row: &'a [Value]) -> Cow<'a, Value> {
    for (cond, then) in whens {
        if matches!(*eval(cond, row), Value::Bool(true)) {
            return eval(then, row);
        }
    }
    match otherwise {
        Some(o) => eval(o, row),
        None => Cow::Owned(Value::Null),
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn field(v: Cow<'_, Value>, index: usize) -> Cow<'_, Value> {
    match v {
        Cow::Borrowed(Value::Struct(fields)) => match fields.get(index) {
            Some(v) => Cow::Borrowed(v),
            None => Cow::Owned(Value::Null),
        },
        Cow::Owned(Value::Struct(mut fields)) if index < fields.len() => Cow::Owned(fields.swap_remove(index)),
        _ => Cow::Owned(Value::Null),
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_array_index<'a>(expr: &'a Node, index: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    let idx = eval(index, row).as_i64();
    let arr = eval(expr, row);
    let pick = |items: &Vec<Value>| -> Option<usize> {
        let len = items.len() as i64;
        let i = idx?;
        // ksqlDB arrays are 1-based; negative indexes count from the end.
        let pos = if i > 0 {
            i - 1
        } else if i < 0 {
            len + i
        } else {
            return None;
        };
        (0..len).contains(&pos).then_some(pos as usize)
    };
    match arr {
        Cow::Borrowed(Value::Array(items)) => match pick(items) {
            Some(p) => Cow::Borrowed(&items[p]),
            None => Cow::Owned(Value::Null),
        },
        Cow::Owned(Value::Array(mut items)) => match pick(&items) {
            Some(p) => Cow::Owned(items.swap_remove(p)),
            None => Cow::Owned(Value::Null),
        },
        _ => Cow::Owned(Value::Null),
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_map_index<'a>(expr: &'a Node, key: &'a Node, row: &'a [Value]) -> Cow<'a, Value> {
    let k = eval(key, row);
    let key_string;
    let k: &str = match &*k {
        Value::String(s) => s,
        Value::Null => return Cow::Owned(Value::Null),
        other => {
            key_string = functions::to_display_string(other);
            &key_string
        }
    };
    match eval(expr, row) {
        Cow::Borrowed(Value::Map(m)) => match m.get(k) {
            Some(v) => Cow::Borrowed(v),
            None => Cow::Owned(Value::Null),
        },
        Cow::Owned(Value::Map(mut m)) => Cow::Owned(m.swap_remove(k).unwrap_or(Value::Null)),
        _ => Cow::Owned(Value::Null),
    }
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_call<'a>(f: &ScalarFn, args: &'a [Node], row: &'a [Value]) -> Cow<'a, Value> {
    let values = eval_all(args, row);
    Cow::Owned((f.eval)(&values))
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_all(nodes: &[Node], row: &[Value]) -> Vec<Value> {
    nodes.iter().map(|n| eval(n, row).into_owned()).collect()
}

#[cfg_attr(not(debug_assertions), inline(always))]
fn eval_map<'a>(entries: &'a [(Node, Node)], row: &'a [Value]) -> Cow<'a, Value> {
    let mut m = crate::types::SqlMap::new();
    for (k, v) in entries {
        let key = match eval(k, row).into_owned() {
            Value::String(k) => k,
            Value::Null => "null".to_string(),
            _ => continue,
        };
        m.insert(key, eval(v, row).into_owned());
    }
    Cow::Owned(Value::map(m))
}

fn compare(op: BinaryOp, l: &Value, r: &Value) -> bool {
    if matches!(op, BinaryOp::IsDistinctFrom | BinaryOp::IsNotDistinctFrom) {
        let same = match (l.is_null(), r.is_null()) {
            (true, true) => true,
            (false, false) => l.sql_eq(r) == Some(true),
            _ => false,
        };
        return same == (op == BinaryOp::IsNotDistinctFrom);
    }
    match op {
        BinaryOp::Eq => return l.sql_eq(r) == Some(true),
        BinaryOp::NotEq => return l.sql_eq(r) == Some(false),
        _ => {}
    }
    let Some(ord) = l.sql_cmp(r) else {
        return false;
    };
    match op {
        BinaryOp::Eq => ord == Ordering::Equal,
        BinaryOp::NotEq => ord != Ordering::Equal,
        BinaryOp::Lt => ord == Ordering::Less,
        BinaryOp::LtEq => ord != Ordering::Greater,
        BinaryOp::Gt => ord == Ordering::Greater,
        BinaryOp::GtEq => ord != Ordering::Less,
        _ => false,
    }
}

fn arith(op: BinaryOp, kind: NumKind, l: &Value, r: &Value) -> Value {
    if l.is_null() || r.is_null() {
        return Value::Null;
    }
    match kind {
        NumKind::Int => {
            let (Some(a), Some(b)) = (l.as_i64(), r.as_i64()) else { return Value::Null };
            let (a, b) = (a as i32, b as i32);
            match op {
                BinaryOp::Add => Value::Int(a.wrapping_add(b)),
                BinaryOp::Sub => Value::Int(a.wrapping_sub(b)),
                BinaryOp::Mul => Value::Int(a.wrapping_mul(b)),
                BinaryOp::Div => a.checked_div(b).map_or(Value::Null, Value::Int),
                _ => a.checked_rem(b).map_or(Value::Null, Value::Int),
            }
        }
        NumKind::Bigint => {
            let (Some(a), Some(b)) = (l.as_i64(), r.as_i64()) else { return Value::Null };
            match op {
                BinaryOp::Add => Value::Bigint(a.wrapping_add(b)),
                BinaryOp::Sub => Value::Bigint(a.wrapping_sub(b)),
                BinaryOp::Mul => Value::Bigint(a.wrapping_mul(b)),
                BinaryOp::Div => a.checked_div(b).map_or(Value::Null, Value::Bigint),
                _ => a.checked_rem(b).map_or(Value::Null, Value::Bigint),
            }
        }
        NumKind::Double => {
            let (Some(a), Some(b)) = (l.as_f64(), r.as_f64()) else { return Value::Null };
            Value::Double(match op {
                BinaryOp::Add => a + b,
                BinaryOp::Sub => a - b,
                BinaryOp::Mul => a * b,
                BinaryOp::Div => a / b,
                _ => a % b,
            })
        }
        NumKind::Decimal { scale } => {
            let to_dec = |v: &Value| match v {
                Value::Decimal(d) => Some(*d),
                Value::Int(i) => Some(Decimal { unscaled: i128::from(*i), scale: 0 }),
                Value::Bigint(i) => Some(Decimal { unscaled: i128::from(*i), scale: 0 }),
                _ => None,
            };
            let (Some(a), Some(b)) = (to_dec(l), to_dec(r)) else { return Value::Null };
            decimal_arith(op, a, b, scale).map_or(Value::Null, Value::Decimal)
        }
        NumKind::Str => match (l, r) {
            (Value::String(a), Value::String(b)) => {
                let mut s = String::with_capacity(a.len() + b.len());
                s.push_str(a);
                s.push_str(b);
                Value::String(s)
            }
            _ => Value::Null,
        },
    }
}

fn decimal_arith(op: BinaryOp, a: Decimal, b: Decimal, scale: u8) -> Option<Decimal> {
    match op {
        BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mod => {
            let s = a.scale.max(b.scale);
            let (x, y) = (a.rescale(s)?.unscaled, b.rescale(s)?.unscaled);
            let v = match op {
                BinaryOp::Add => x.checked_add(y)?,
                BinaryOp::Sub => x.checked_sub(y)?,
                _ => x.checked_rem(y)?,
            };
            Decimal { unscaled: v, scale: s }.rescale(scale)
        }
        BinaryOp::Mul => {
            Decimal { unscaled: a.unscaled.checked_mul(b.unscaled)?, scale: a.scale + b.scale }.rescale(scale)
        }
        _ => {
            if b.unscaled == 0 {
                return None;
            }
            // a / b at `scale` digits, HALF_UP: (a.u * 10^(scale + b.s - a.s)) / b.u.
            let shift = i32::from(scale) + i32::from(b.scale) - i32::from(a.scale);
            let (num, den) = if shift >= 0 {
                (a.unscaled.checked_mul(10i128.checked_pow(shift as u32)?)?, b.unscaled)
            } else {
                (a.unscaled, b.unscaled.checked_mul(10i128.checked_pow((-shift) as u32)?)?)
            };
            let q = num / den;
            let r = num % den;
            let adj = if r.abs().checked_mul(2)? >= den.abs() { num.signum() * den.signum() } else { 0 };
            Some(Decimal { unscaled: q + adj, scale })
        }
    }
}

/// A compiled SQL `LIKE` pattern: `%` matches any run of characters, `_` exactly one.
#[derive(Debug, Clone)]
pub struct LikePattern {
    parts: Vec<LikePart>,
}

#[derive(Debug, Clone, PartialEq)]
enum LikePart {
    Char(char),
    One,
    Any,
}

impl LikePattern {
    pub fn new(pattern: &str, escape: Option<char>) -> LikePattern {
        let mut parts = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            if Some(c) == escape {
                if let Some(n) = chars.next() {
                    parts.push(LikePart::Char(n));
                }
                continue;
            }
            parts.push(match c {
                '%' => LikePart::Any,
                '_' => LikePart::One,
                c => LikePart::Char(c),
            });
        }
        LikePattern { parts }
    }

    pub fn matches(&self, text: &str) -> bool {
        // Iterative wildcard matching with single-star backtracking: O(n*m) worst case, no allocation
        // beyond the character buffer.
        let text: Vec<char> = text.chars().collect();
        let (mut t, mut p) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while t < text.len() {
            match self.parts.get(p) {
                Some(LikePart::Any) => {
                    star = Some((p, t));
                    p += 1;
                }
                Some(LikePart::One) => {
                    t += 1;
                    p += 1;
                }
                Some(LikePart::Char(c)) if *c == text[t] => {
                    t += 1;
                    p += 1;
                }
                _ => match star {
                    Some((sp, st)) => {
                        p = sp + 1;
                        t = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        self.parts[p..].iter().all(|x| *x == LikePart::Any)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parser::parse_expression;

    fn scope() -> Scope {
        let col = |name: &str, ty: SqlType| ScopeColumn { qualifier: Some("S".into()), name: name.into(), ty };
        Scope {
            columns: vec![
                col("I", SqlType::Int),
                col("B", SqlType::Bigint),
                col("D", SqlType::Double),
                col("S", SqlType::String),
                col("N", SqlType::Int),
                col("ARR", SqlType::Array(Box::new(SqlType::Int))),
                col("M", SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Int))),
                col("ST", SqlType::Struct(vec![("A".into(), SqlType::String), ("B".into(), SqlType::Int)])),
                col("DEC", SqlType::Decimal { precision: 4, scale: 2 }),
            ],
        }
    }

    fn row() -> Vec<Value> {
        vec![
            Value::Int(7),
            Value::Bigint(10_000_000_000),
            Value::Double(2.5),
            Value::String("hello".into()),
            Value::Null,
            Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(3)]),
            Value::map(crate::types::SqlMap::from([("k".to_string(), Value::Int(9))])),
            Value::Struct(vec![Value::String("x".into()), Value::Int(4)]),
            Value::Decimal(Decimal::parse("12.34").unwrap()),
        ]
    }

    fn ev(text: &str) -> Value {
        let c = compile(&parse_expression(text).unwrap(), &scope()).unwrap_or_else(|e| panic!("{text}: {e}"));
        let r = row();
        c.eval(&r).into_owned()
    }

    fn ty(text: &str) -> SqlType {
        compile(&parse_expression(text).unwrap(), &scope()).unwrap().ty
    }

    #[test]
    fn arithmetic_types_and_values() {
        assert_eq!(ev("i + 1"), Value::Int(8));
        assert_eq!(ev("i / 2"), Value::Int(3));
        assert_eq!(ev("-i % 4"), Value::Int(-3));
        assert_eq!(ev("i / 0"), Value::Null);
        assert_eq!(ev("i + b"), Value::Bigint(10_000_000_007));
        assert_eq!(ev("i * d"), Value::Double(17.5));
        assert_eq!(ev("n + 1"), Value::Null);
        assert_eq!(ty("i + 1.5"), SqlType::Decimal { precision: 12, scale: 1 });
        assert_eq!(ev("i + 1.5").to_string_for_test(), "8.5");
        assert_eq!(ev("dec * 2").to_string_for_test(), "24.68");
        assert_eq!(ev("dec / 4").to_string_for_test(), "3.0850000000000");
        assert_eq!(ev("s + '!'"), Value::String("hello!".into()));
        assert!(compile(&parse_expression("s + 1").unwrap(), &scope()).is_err());
    }

    #[test]
    fn null_semantics() {
        assert_eq!(ev("n = 1"), Value::Bool(false));
        assert_eq!(ev("n <> 1"), Value::Bool(false));
        assert_eq!(ev("n IS NULL"), Value::Bool(true));
        assert_eq!(ev("i IS NOT NULL"), Value::Bool(true));
        assert_eq!(ev("n = 1 OR i = 7"), Value::Bool(true));
        assert_eq!(ev("NOT (n > 1)"), Value::Bool(true));
        assert_eq!(ev("n BETWEEN 1 AND 2"), Value::Bool(false));
        assert_eq!(ev("n NOT BETWEEN 1 AND 2"), Value::Bool(false));
        assert_eq!(ev("n IN (1, 2)"), Value::Bool(false));
    }

    #[test]
    fn predicates() {
        assert_eq!(ev("i BETWEEN 7 AND 8"), Value::Bool(true));
        assert_eq!(ev("d BETWEEN 2 AND 2.4"), Value::Bool(false));
        assert_eq!(ev("i IN (1, 7)"), Value::Bool(true));
        assert_eq!(ev("i NOT IN (1, 7)"), Value::Bool(false));
        assert_eq!(ev("s LIKE 'h%o'"), Value::Bool(true));
        assert_eq!(ev("s LIKE '_ello'"), Value::Bool(true));
        assert_eq!(ev("s LIKE 'h%x'"), Value::Bool(false));
        assert_eq!(ev("s NOT LIKE '%ll%'"), Value::Bool(false));
        assert_eq!(ev("'50%' LIKE '50!%' ESCAPE '!'"), Value::Bool(true));
        assert_eq!(ev("b > i"), Value::Bool(true));
        assert!(compile(&parse_expression("s > 1").unwrap(), &scope()).is_err());
    }

    #[test]
    fn case_struct_array_map() {
        assert_eq!(ev("CASE WHEN i > 5 THEN 'big' WHEN i > 1 THEN 'small' END"), Value::String("big".into()));
        assert_eq!(ev("CASE WHEN i > 50 THEN 'big' END"), Value::Null);
        assert_eq!(ev("CASE i WHEN 1 THEN 'one' WHEN 7 THEN 'seven' ELSE 'other' END"), Value::String("seven".into()));
        assert_eq!(ev("CASE WHEN i > 5 THEN 1 ELSE 2.5E0 END"), Value::Double(1.0));
        assert_eq!(ev("st->a"), Value::String("x".into()));
        assert_eq!(ev("st->b + 1"), Value::Int(5));
        assert_eq!(ev("arr[1]"), Value::Int(1));
        assert_eq!(ev("arr[-1]"), Value::Int(3));
        assert_eq!(ev("arr[4]"), Value::Null);
        assert_eq!(ev("m['k']"), Value::Int(9));
        assert_eq!(ev("m['nope']"), Value::Null);
        assert_eq!(ev("ARRAY[1, 2][2]"), Value::Int(2));
        assert_eq!(ev("STRUCT(x := 1, y := 'a')->y"), Value::String("a".into()));
        assert!(compile(&parse_expression("st->zz").unwrap(), &scope()).is_err());
    }

    #[test]
    fn casts() {
        assert_eq!(ev("CAST(i AS STRING)"), Value::String("7".into()));
        assert_eq!(ev("CAST(d AS STRING)"), Value::String("2.5".into()));
        assert_eq!(ev("CAST('12' AS INT) + 1"), Value::Int(13));
        assert_eq!(ev("CAST('x' AS INT)"), Value::Null);
        assert_eq!(ev("CAST(d AS INT)"), Value::Int(2));
        assert_eq!(ev("CAST(dec AS DOUBLE)"), Value::Double(12.34));
        assert_eq!(ev("CAST(d AS DECIMAL(3, 1))").to_string_for_test(), "2.5");
        assert_eq!(ev("CAST(1000 AS DECIMAL(3, 1))"), Value::Null);
        assert_eq!(ev("CAST('true' AS BOOLEAN)"), Value::Bool(true));
    }

    #[test]
    fn like_patterns() {
        let p = LikePattern::new("%a%b_", None);
        assert!(p.matches("xxaxxbz"));
        assert!(!p.matches("xxaxxb"));
        assert!(LikePattern::new("%", None).matches(""));
        assert!(LikePattern::new("a%%", None).matches("a"));
    }

    #[test]
    fn resolution_errors() {
        let e = compile(&parse_expression("nope + 1").unwrap(), &scope()).unwrap_err();
        assert_eq!(e.to_string(), "column 'NOPE' cannot be resolved");
        let e = compile(&parse_expression("COUNT(i)").unwrap(), &scope()).unwrap_err();
        assert!(e.to_string().contains("aggregate"));
    }

    impl Value {
        fn to_string_for_test(&self) -> String {
            functions::to_display_string(self)
        }
    }
}
