//! Inputs the fuzz targets (`fuzz/fuzz_targets`, run by `scripts/fuzz`) found to break an invariant,
//! kept so that the bug stays fixed. Each test names its target and the invariant it checks.

use weft_sql::parser::parse_expression;

/// Target `sql_parse`: an expression prints as text that parses again (`EXPLAIN`, the names of
/// unaliased columns and GROUP BY matching print expressions). A minus before an operand whose text
/// starts with a minus printed `--`, which starts a comment (minimized input: `-+-A`); and a minus
/// folded into a negative decimal literal made it `--1.5`, which planning refused as no decimal.
#[test]
fn a_minus_before_a_minus_prints_as_an_expression_not_a_comment() {
    for (text, expected) in [
        ("-+-A", "-(-A)"),
        ("- -1", "1"),
        ("-(-1.5)", "1.5"),
        ("-(-(-1.5))", "-1.5"),
        // 9223372036854775808 alone is no literal (ksqlDB literals.json: "Invalid numeric literal").
        ("-(-9223372036854775808)", "-(-9223372036854775808)"),
        ("-(-A->X)", "-(-A->X)"),
        ("-(-A)->X", "-(-A)->X"),
        ("(-A)[1]", "(-A)[1]"),
        ("-(-A[1])->B", "-(-A[1])->B"),
        ("-(-2.5E0)", "2.5E0"),
    ] {
        let expr = parse_expression(text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let printed = expr.to_string();
        assert_eq!(printed, expected, "{text}");
        let again = parse_expression(&printed).unwrap_or_else(|e| panic!("{text} printed as {printed}: {e}"));
        assert_eq!(again.to_string(), printed, "{text} printed as {printed} reads as another expression");
    }
}
