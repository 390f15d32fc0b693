//! The SQL parser on arbitrary text: every statement, expression and type either parses or is
//! refused with an error, and an expression prints as text that parses again to an expression that
//! prints the same (`EXPLAIN`, the names of unaliased columns and GROUP BY matching print expressions).
#![no_main]

use libfuzzer_sys::fuzz_target;
use weft_sql::parser::{parse_expression, parse_statements, parse_type};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(statements) = parse_statements(text) {
        for parsed in &statements {
            // The statement's own text, as the engine stores it, parses again.
            let again = parse_statements(&parsed.text);
            assert!(again.is_ok(), "the text of a parsed statement does not parse: {:?}: {again:?}", parsed.text);
        }
    }
    if let Ok(expr) = parse_expression(text) {
        let printed = expr.to_string();
        let again = parse_expression(&printed)
            .unwrap_or_else(|e| panic!("a printed expression does not parse: {text:?} printed as {printed:?}: {e}"));
        // GROUP BY matching compares printed expressions: the text must stand for this one expression.
        assert_eq!(again.to_string(), printed, "{text:?} printed as {printed:?} reads as another expression");
    }
    let _ = parse_type(text);
});
