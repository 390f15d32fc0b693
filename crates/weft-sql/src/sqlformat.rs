//! The statement text ksqlDB quotes after some of its errors (`Statement: ...`), as its
//! `SqlFormatter` writes a CREATE ... AS SELECT once analysed: one select item a line, columns
//! qualified by their source, every item named.

use crate::ast::{CreateAsSelect, Expr, PropValue, SelectItem};
use crate::metastore::SourceDef;
use crate::plan::{expand_select, star_of};

/// `c` over its one `source` as ksqlDB formats it; None for what this does not write the way
/// ksqlDB does (joins, windows, lambdas), where the quote is left out rather than made up.
pub(crate) fn create_as_select(c: &CreateAsSelect, source: &SourceDef) -> Option<String> {
    let q = &c.query;
    let mut has_lambda = false;
    let every = q.select.iter().filter_map(|i| match i {
        SelectItem::Expr { expr, .. } | SelectItem::StructAll(expr) => Some(expr),
        _ => None,
    });
    for e in every.chain(&q.group_by).chain(&q.partition_by).chain(&q.filter).chain(&q.having) {
        e.walk(&mut |x| has_lambda |= matches!(x, Expr::Lambda { .. }));
    }
    if !q.joins.is_empty() || q.window.is_some() || has_lambda {
        return None;
    }
    let alias = q.from.qualifier().to_string();
    let star = |_: Option<&str>| Ok(star_of(source, &alias));
    let items = expand_select(&q.select, &star).ok()?;
    let qualified = |e: &Expr| -> String {
        let mut e = e.clone();
        e.rewrite(&mut |x| {
            if let Expr::Column { qualifier: qualifier @ None, .. } = x {
                *qualifier = Some(alias.clone());
            }
            false
        });
        e.to_string()
    };
    let mut out = format!("CREATE {} {}", c.kind.name(), c.name);
    if !c.properties.is_empty() {
        let props: Vec<String> = c
            .properties
            .iter()
            .map(|(k, v)| match v {
                PropValue::Str(s) => format!("{k}='{}'", s.replace('\'', "''")),
                other => format!("{k}={}", other.as_text()),
            })
            .collect();
        out.push_str(&format!(" WITH ({})", props.join(", ")));
    }
    out.push_str(" AS SELECT\n");
    let lines: Vec<String> = items.iter().map(|i| format!("  {} {}", qualified(&i.expr), i.name)).collect();
    out.push_str(&lines.join(",\n"));
    out.push_str(&format!("\nFROM {} {alias}", q.from.name));
    if let Some(f) = &q.filter {
        out.push_str(&format!("\nWHERE {}", qualified(f)));
    }
    if !q.group_by.is_empty() {
        let g: Vec<String> = q.group_by.iter().map(&qualified).collect();
        out.push_str(&format!("\nGROUP BY {}", g.join(", ")));
    }
    if !q.partition_by.is_empty() {
        let p: Vec<String> = q.partition_by.iter().map(&qualified).collect();
        out.push_str(&format!("\nPARTITION BY {}", p.join(", ")));
    }
    if let Some(h) = &q.having {
        out.push_str(&format!("\nHAVING {}", qualified(h)));
    }
    out.push_str("\nEMIT CHANGES");
    Some(out)
}
