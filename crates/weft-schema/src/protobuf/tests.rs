use super::*;

const ORDER: &str = r#"
syntax = "proto3";
package shop;
import "google/protobuf/timestamp.proto";
// An order as the shop's service writes it.
message Order {
  string id = 1;
  int64 amount = 2;
  google.protobuf.Timestamp at = 3;
  message Line { string sku = 1; int32 quantity = 2; }
  repeated Line lines = 4;
}
message Refund { string order_id = 1; }
"#;

#[test]
fn parses_proto3_with_well_known_imports() {
    let schema = ProtobufSchema::parse(ORDER).unwrap();
    let names: Vec<String> = schema.messages().map(|m| m.full_name().to_string()).collect();
    assert_eq!(names, ["shop.Order", "shop.Refund"]);
    assert_eq!(schema.message_named("Refund").unwrap().full_name(), "shop.Refund");
    assert_eq!(schema.message_named("shop.Order.Line").unwrap().name(), "Line");
    assert!(schema.message_named("Missing").is_none());
}

#[test]
fn parses_proto2_and_confluent_builtins() {
    let text = r#"syntax = "proto2";
        import "confluent/type/decimal.proto";
        import "google/type/date.proto";
        import "google/type/timeofday.proto";
        import "confluent/meta.proto";
        message P { required int32 a = 1; optional confluent.type.Decimal d = 2;
          optional google.type.Date day = 3; optional google.type.TimeOfDay t = 4; }"#;
    let schema = ProtobufSchema::parse(text).unwrap();
    assert_eq!(schema.messages().count(), 1);
}

#[test]
fn confluent_meta_options_need_no_import() {
    let text =
        "syntax = \"proto3\"; import \"confluent/type/decimal.proto\"; message M { confluent.type.Decimal d = 1 \
                [(confluent.field_meta) = { params: [{ value: \"4\", key: \"precision\" }]}]; }";
    ProtobufSchema::parse(text).unwrap();
}

#[test]
fn resolves_imports_from_references_only() {
    let main = "syntax = \"proto3\";\nimport \"event.proto\";\nmessage Logistics { Event event = 1; }";
    let event = "syntax = \"proto3\";\nmessage Event { int64 timestamp = 1; }";
    let err = ProtobufSchema::parse(main).unwrap_err();
    assert!(err.to_string().contains("import 'event.proto' not found"), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
    let schema = ProtobufSchema::parse_with_references(main, &[("event.proto", event)]).unwrap();
    assert_eq!(schema.message_at(&[0]).unwrap().name(), "Logistics");
}

#[test]
fn errors_name_line_and_column() {
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nmessage A {\n  int32 a = 1\n}").unwrap_err();
    let ProtobufError::Invalid { line, .. } = &err else { panic!("{err:?}") };
    assert_eq!(*line, Some(4), "{err}");
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nmessage A { Unknown u = 1; }").unwrap_err();
    assert!(err.to_string().contains("Unknown"), "{err}");
    assert!(err.to_string().contains("line 2"), "{err}");
    let err = ProtobufSchema::parse("syntax = \"proto3\";\nmessage A { int32 a = 1; string b = 1; }").unwrap_err();
    assert!(err.to_string().contains('1'), "{err}");
    assert_eq!(ProtobufSchema::parse("syntax = \"proto3\";\nenum E { Z = 0; }").unwrap_err(), ProtobufError::NoMessage);
}

#[test]
fn refuses_deep_nesting_before_parsing() {
    let mut text = String::from("syntax = \"proto3\";\n");
    for i in 0..10_000 {
        text.push_str(&format!("message M{i} {{ "));
    }
    let err = ProtobufSchema::parse(&text).unwrap_err();
    assert_eq!(err, ProtobufError::TooDeep { line: 2 });
    // Braces inside strings and comments do not count.
    let text = format!(
        "syntax = \"proto3\"; // {}\nmessage A {{ string s = 1 [json_name = \"{}\"]; }}",
        "{".repeat(500),
        "{".repeat(500)
    );
    ProtobufSchema::parse(&text).unwrap();
}

#[test]
fn message_indexes_follow_confluent() {
    let mut out = Vec::new();
    write_message_indexes(&[0], &mut out);
    assert_eq!(out, [0]);
    out.clear();
    write_message_indexes(&[1], &mut out);
    assert_eq!(out, [2, 2]);
    out.clear();
    write_message_indexes(&[0, 2], &mut out);
    assert_eq!(out, [4, 0, 4]);
    assert_eq!(read_message_indexes(&[0, 9]).unwrap(), (vec![0], &[9][..]));
    assert_eq!(read_message_indexes(&[4, 0, 4, 7]).unwrap(), (vec![0, 2], &[7][..]));
    assert_eq!(read_message_indexes(&[]), Err(PayloadError::BadIndexes));
    assert_eq!(read_message_indexes(&[6, 0]), Err(PayloadError::BadIndexes));
    assert_eq!(read_message_indexes(&[0x80]), Err(PayloadError::BadIndexes));
    let schema = ProtobufSchema::parse(ORDER).unwrap();
    let line = schema.message_named("Order.Line").unwrap();
    assert_eq!(schema.indexes_of(&line), [0, 0]);
    assert_eq!(schema.message_at(&[0, 0]).unwrap(), line);
    assert_eq!(schema.indexes_of(&schema.message_named("Refund").unwrap()), [1]);
    assert!(schema.message_at(&[2]).is_none());
    assert!(schema.message_at(&[-1]).is_none());
}

#[test]
fn validates_framed_payloads() {
    let schema = ProtobufSchema::parse(ORDER).unwrap();
    // Order { id: "a", amount: 5 } as protoc writes it: field 1 (string), field 2 (varint).
    let order = [0x0a, 0x01, b'a', 0x10, 0x05];
    let mut payload = vec![0];
    payload.extend_from_slice(&order);
    schema.validate_payload(&payload).unwrap();
    let message = schema.decode_payload(&payload).unwrap();
    assert_eq!(message.get_field_by_name("amount").unwrap().as_i64(), Some(5));
    // The same bytes framed as Refund: field 2 is unknown there, which protobuf allows, but a
    // string field given a varint is not a Refund.
    let refund = [2, 2, 0x08, 0x05];
    let err = schema.validate_payload(&refund).unwrap_err();
    assert!(err.message.contains("shop.Refund"), "{}", err.message);
    let err = schema.validate_payload(&[2, 8, 0x0a]).unwrap_err();
    assert!(err.message.contains("[4]"), "{}", err.message);
    let err = schema.validate_payload(&[0, 0x0a, 0x05, b'a']).unwrap_err();
    assert!(err.message.contains("shop.Order"), "{}", err.message);
}

#[test]
fn canonical_text_ignores_layout_and_comments() {
    let a = "syntax = \"proto3\";\n// c\nmessage A {\n  string s = 1; /* x */ map<string, int32> m = 2;\n}\n";
    let b = "syntax=\"proto3\"; message A { string s=1;map<string,int32> m = 2; }";
    assert_eq!(canonical_text(a), canonical_text(b));
    assert_eq!(canonical_text(b), "syntax=\"proto3\";message A{string s=1;map<string,int32>m=2;}");
    assert_ne!(canonical_text(a), canonical_text("syntax=\"proto3\"; message A { string s=1; }"));
    // Text in strings is kept as written.
    assert!(canonical_text("option x = \"a  //b\";").contains("\"a  //b\""));
}
