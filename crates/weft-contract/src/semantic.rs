//! Weft's own checks of a contract valid against the standard's schema: what the schema cannot say
//! (two objects of one name, rules naming properties that do not exist, patterns and SQL that do not
//! compile, bounds no value can meet...). Compiling every schema object finds them all, so a
//! contract that imports always compiles.

use serde_json::Value;

use crate::check::{build, Located};
use crate::model;

/// Every problem of the document, located by JSON pointer.
pub(crate) fn check(document: &Value) -> Vec<Located> {
    let mut problems = Vec::new();
    let objects = model::objects(document);
    for (i, object) in objects.iter().enumerate() {
        if let Some(first) = objects[..i].iter().position(|o| o.name == object.name) {
            problems.push(Located {
                pointer: format!("{}/name", object.pointer),
                message: format!("a schema object named '{}' is already defined (schema[{first}])", object.name),
            });
        }
        if let Err(found) = build(object, document.get("customProperties")) {
            problems.extend(found);
        }
    }
    problems
}
