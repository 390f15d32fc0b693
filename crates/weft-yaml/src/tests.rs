use super::*;

const LIMITS: Limits =
    Limits { max_document_bytes: 1 << 20, max_depth: 8, max_expanded_nodes: 1000, max_expanded_bytes: 10_000 };

#[test]
fn values_read_as_yaml_1_2_within_the_limits() {
    let value: serde_json::Value =
        from_str("a: yes\nb: 0755\nc: 1_000\nd: true\ne: 2024-01-02\nf: ~\ng: 1.5\n", &LIMITS).unwrap();
    assert_eq!(
        value,
        serde_json::json!({"a": "yes", "b": "0755", "c": "1_000", "d": true, "e": "2024-01-02", "f": null, "g": 1.5})
    );
}

#[test]
fn each_limit_is_refused_with_its_line() {
    let too_large = "x".repeat(LIMITS.max_document_bytes + 1);
    assert_eq!(
        from_str::<serde_json::Value>(&too_large, &LIMITS).unwrap_err(),
        YamlError::TooLarge { size: LIMITS.max_document_bytes + 1, limit: LIMITS.max_document_bytes }
    );
    let deep = "a:\n b:\n  c:\n   d:\n    e:\n     f:\n      g:\n       h:\n        i: [1]\n";
    let err = from_str::<serde_json::Value>(deep, &LIMITS).unwrap_err();
    assert_eq!(err.line(), Some(9), "{err}");
    assert!(err.to_string().contains("nest deeper than 8 levels"), "{err}");
    let bomb = "a: &a [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n";
    let err = from_str::<serde_json::Value>(bomb, &LIMITS).unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("more than 1000 nodes"), "{err}");
    let long = format!("a: &a {}\nb: [*a, *a]\n", "x".repeat(4000));
    let err = from_str::<serde_json::Value>(&long, &LIMITS).unwrap_err();
    assert_eq!(
        err.to_string(),
        "line 2: the document expands to more than 10000 bytes of text (an alias counts as the text it repeats)"
    );
}

#[test]
fn syntax_errors_carry_their_line() {
    let err = from_str::<serde_json::Value>("a: 1\nb: [1, 2\nc: 3\n", &LIMITS).unwrap_err();
    assert!(matches!(err, YamlError::Syntax { line: Some(_), .. }), "{err:?}");
}

#[test]
fn the_line_index_names_the_line_of_each_node() {
    let yaml = "\
apiVersion: v3.1.0
schema:
  - name: orders
    properties:
      - name: id
        logicalType: string
      - {name: amount, logicalType: number}
    quality:
      - rule: x
\"a/b~c\":
  - 1
  -
    - 2
? [complex, key]
: 3
anchor: &x {deep: {er: 1}}
copy: *x
";
    let index = LineIndex::new(yaml);
    let cases = [
        ("", 1),
        ("/apiVersion", 1),
        ("/schema", 2),
        ("/schema/0", 3),
        ("/schema/0/name", 3),
        ("/schema/0/properties", 4),
        ("/schema/0/properties/0/logicalType", 6),
        ("/schema/0/properties/1", 7),
        ("/schema/0/properties/1/logicalType", 7),
        ("/schema/0/quality/0/rule", 9),
        ("/a~1b~0c", 10),
        ("/a~1b~0c/1/0", 13),
        ("/anchor/deep/er", 16),
        ("/copy", 17),
        // Inside an alias: the alias's line.
        ("/copy/deep/er", 17),
        // Unknown: the nearest ancestor's.
        ("/schema/0/properties/0/nothing/here", 5),
    ];
    for (pointer, line) in cases {
        assert_eq!(index.line(pointer), Some(line), "{pointer}");
    }
}
