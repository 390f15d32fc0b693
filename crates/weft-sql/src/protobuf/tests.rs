use super::*;

fn col(name: &str, ty: SqlType) -> Column {
    Column { name: name.into(), ty }
}

#[test]
fn derived_schema_is_ksqldb_shaped() {
    let columns = vec![col("I", SqlType::Int), col("S", SqlType::String)];
    assert_eq!(
        schema_for(&columns, DEFAULT_NAME, Nullable::Default),
        "syntax = \"proto3\";\n\nmessage ConnectDefault1 {\n  int32 I = 1;\n  string S = 2;\n}\n"
    );
    let wrapped = schema_for(&columns, DEFAULT_NAME, Nullable::Wrapper);
    assert!(wrapped.contains("import \"google/protobuf/wrappers.proto\";"), "{wrapped}");
    assert!(wrapped.contains("google.protobuf.Int32Value I = 1;"), "{wrapped}");
    assert!(schema_for(&columns, "a.b.Name", Nullable::Optional)
        .contains("package a.b;\n\nmessage Name {\n  optional int32 I = 1;"));
}

fn round_trip(codec: &ProtobufCodec, columns: &[Column], values: Vec<Value>) -> Vec<Value> {
    let refs: Vec<&Value> = values.iter().collect();
    let mut buf = Vec::new();
    codec.encode(columns, &refs, &mut buf).unwrap();
    let mut out = vec![Value::Null; columns.len()];
    codec.decode_into(columns, &buf, &mut out).unwrap();
    out
}

#[test]
fn every_type_round_trips_without_the_registry() {
    let columns = vec![
        col("B", SqlType::Boolean),
        col("BIG", SqlType::Bigint),
        col("D", SqlType::Double),
        col("DEC", SqlType::Decimal { precision: 5, scale: 2 }),
        col("TS", SqlType::Timestamp),
        col("DAY", SqlType::Date),
        col("T", SqlType::Time),
        col("BYTES", SqlType::Bytes),
        col("A", SqlType::Array(Box::new(SqlType::Int))),
        col("M", SqlType::Map(Box::new(SqlType::String), Box::new(SqlType::Double))),
        col("S", SqlType::Struct(vec![("F0".into(), SqlType::Int), ("F1".into(), SqlType::String)])),
    ];
    let values = vec![
        Value::Bool(true),
        Value::Bigint(-400_000_000_000),
        Value::Double(1.5),
        Value::Decimal(Decimal { unscaled: -1001, scale: 2 }),
        Value::Timestamp(1_600_000_000_123),
        Value::Date(-3),
        Value::Time(3_723_004),
        Value::Bytes(vec![0, 255]),
        Value::Array(vec![Value::Int(1), Value::Int(2)]),
        Value::map([("a".to_string(), Value::Double(1.1))].into_iter().collect()),
        Value::Struct(vec![Value::Int(7), Value::String("x".into())]),
    ];
    let codec = ProtobufCodec::without_registry();
    assert_eq!(round_trip(&codec, &columns, values.clone()), values);
}

#[test]
fn nulls_follow_the_nullable_representation() {
    let columns = vec![
        col("I", SqlType::Int),
        col("S", SqlType::String),
        col("ST", SqlType::Struct(vec![("F".into(), SqlType::Int)])),
        col("A", SqlType::Array(Box::new(SqlType::Int))),
    ];
    let nulls = vec![Value::Null, Value::Null, Value::Null, Value::Array(vec![Value::Null, Value::Int(3)])];
    // proto3 defaults: a null scalar reads back as its default; a message stays null; list items
    // have no null.
    let plain = round_trip(&ProtobufCodec::without_registry(), &columns, nulls.clone());
    assert_eq!(
        plain,
        vec![
            Value::Int(0),
            Value::String(String::new()),
            Value::Null,
            Value::Array(vec![Value::Int(0), Value::Int(3)])
        ]
    );
    for nullable in [Nullable::Optional, Nullable::Wrapper] {
        let codec = ProtobufCodec::without_registry().nullable(nullable);
        let back = round_trip(&codec, &columns, nulls.clone());
        assert_eq!(&back[..3], &[Value::Null, Value::Null, Value::Null], "{nullable:?}");
    }
}

#[test]
fn registered_schemas_give_columns() {
    let text = "syntax = \"proto3\"; import \"confluent/type/decimal.proto\"; \
                message ConfluentDefault1 {enum Suit {SPADES = 0; HEARTS = 1;} float c1 = 1; uint32 c2 = 2; Suit c3 = 3; \
                confluent.type.Decimal c6 = 6 [(confluent.field_meta) = { params: [{ value: \"4\", key: \"precision\" }, { value: \"2\", key: \"scale\" }]}];}";
    let columns = columns_from_schema(text, None).unwrap();
    let described: Vec<String> = columns.iter().map(|c| format!("{} {}", c.name, c.ty)).collect();
    assert_eq!(described, ["C1 DOUBLE", "C2 BIGINT", "C3 STRING", "C6 DECIMAL(4, 2)"]);
    let err = columns_from_schema(text, Some("Missing")).unwrap_err();
    assert!(err.to_string().contains("Missing"), "{err}");
    assert_eq!(
        nullable_of("CREATE STREAM X WITH (value_protobuf_nullable_representation='WRAPPER')", "VALUE"),
        Nullable::Wrapper
    );
    assert_eq!(nullable_of("CREATE STREAM X WITH (kafka_topic='x')", "VALUE"), Nullable::Default);
}
