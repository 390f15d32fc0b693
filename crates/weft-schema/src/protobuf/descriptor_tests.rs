//! Schemas sent as base64 `FileDescriptorProto`s: printed, compiled, and equal to what they describe.

use base64::Engine;
use prost_reflect::prost::Message;
use prost_reflect::prost_types::{
    field_descriptor_proto::{Label, Type},
    DescriptorProto, FieldDescriptorProto, FileDescriptorProto, MessageOptions, OneofDescriptorProto,
};

use super::*;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The descriptor protox compiles `text` into (with `references`), without what a printed text
/// cannot carry (comments' source info).
fn descriptor_of(text: &str, references: &[(&str, &str)]) -> FileDescriptorProto {
    let schema = ProtobufSchema::parse_with_references(text, references).unwrap_or_else(|e| panic!("{e}\n{text}"));
    let mut proto = schema.file().file_descriptor_proto().clone();
    proto.source_code_info = None;
    proto
}

const PROTO3: &str = r#"
syntax = "proto3";
package shop.v1;
import "google/protobuf/timestamp.proto";
option java_package = "com.example.shop";
option java_outer_classname = "ShopProto";
option java_multiple_files = true;
option go_package = "example.com/shop;shop";
option csharp_namespace = "Example.Shop";
option optimize_for = SPEED;
option deprecated = false;

// Nested types and map fields interleave: the compiled file lists nested types (map entries
// included) in declaration order, and Confluent's message indexes count them.
message Order {
  message Before { int32 x = 1; }
  string id = 1 [json_name = "orderId"];
  map<string, Line> lines_by_sku = 2;
  message Line {
    string sku = 1;
    int32 quantity = 2;
    enum Kind { KIND_UNSPECIFIED = 0; PHYSICAL = 1; DIGITAL = 2; }
    Kind kind = 3;
  }
  google.protobuf.Timestamp at = 3;
  optional string note = 4;
  repeated int64 amounts = 5 [packed = false];
  oneof payment {
    string card = 6;
    Before voucher = 7 [deprecated = true];
  }
  map<int32, Status> status_by_step = 8;
  message After { repeated After children = 1; }
  optional Status status = 9;
  reserved 20, 30 to 40, 100 to max;
  reserved "legacy", "old_name";
  option deprecated = true;
}

enum Status {
  option allow_alias = true;
  STATUS_UNSPECIFIED = 0;
  OPEN = 1;
  STARTED = 1;
  CLOSED = 2 [deprecated = true];
  reserved 10, 20 to 30, 100 to max;
  reserved "GONE";
}

message Refund { string order_id = 1; bytes proof = 2; double ratio = 3; }

service Shop {
  rpc Place(Order) returns (Refund);
  rpc Watch(Order) returns (stream Order);
  rpc Upload(stream Order.Line) returns (Order) { option deprecated = true; }
  rpc Chat(stream Order) returns (stream Refund) { option idempotency_level = NO_SIDE_EFFECTS; }
}
"#;

const PROTO2: &str = r#"
syntax = "proto2";
package legacy;
message Account {
  required int64 id = 1;
  optional string name = 2 [default = "un\"named\\ \n\t é"];
  optional bytes token = 3 [default = "\001\377abc\""];
  optional Tier tier = 4 [default = GOLD];
  optional double ratio = 5 [default = -inf];
  optional float weight = 6 [default = 1.5e3];
  optional sint32 delta = 7 [default = -42];
  optional bool active = 8 [default = true];
  optional uint64 big = 9 [default = 18446744073709551615];
  repeated int32 scores = 10 [packed = true];
  repeated string tags = 11;
  oneof contact { string email = 12; string phone = 13; }
  optional string user_name = 14 [json_name = "login"];
  optional string js = 15 [ctype = CORD];
  optional int64 js_id = 16 [jstype = JS_STRING];
  map<string, Account> children = 17;
  extensions 100 to 199, 1000 to max;
  reserved 50 to 60;
  enum Tier { SILVER = 1; GOLD = 2; }
}
message Empty {}
"#;

const PROTO2_DEFAULT_SYNTAX: &str = "package plain;\nmessage Point { optional int32 x = 1; optional int32 y = 2; }\n";

const EVENT: &str = "syntax = \"proto3\";\npackage events;\nmessage Event { int64 timestamp = 1; }\n";
const LOGISTICS: &str = "syntax = \"proto3\";\npackage logistics;\nimport public \"event.proto\";\n\
                         message Logistics { events.Event event = 1; repeated events.Event history = 2; }\n";

#[test]
fn descriptors_read_back_as_the_files_they_describe() {
    let cases: &[(&str, &[(&str, &str)])] =
        &[(PROTO3, &[]), (PROTO2, &[]), (PROTO2_DEFAULT_SYNTAX, &[]), (LOGISTICS, &[("event.proto", EVENT)])];
    for (text, references) in cases {
        let original = descriptor_of(text, references);
        let submitted = b64(&original.encode_to_vec());
        let schema = ProtobufSchema::parse_with_references(&submitted, references)
            .unwrap_or_else(|e| panic!("{e}\n{}", descriptor::print(&original).unwrap_or_default()));
        let mut read = schema.file().file_descriptor_proto().clone();
        read.source_code_info = None;
        assert_eq!(read, original, "printed as:\n{}", schema.text());
        // What the registry keeps and deduplicates on is .proto text, compiled like any other.
        assert!(schema.text().starts_with("syntax = "), "{}", schema.text());
        assert_eq!(
            schema.canonical_text(),
            ProtobufSchema::parse_with_references(schema.text(), references).unwrap().canonical_text()
        );
    }
}

#[test]
fn nested_types_keep_their_positions_among_map_entries() {
    let schema = ProtobufSchema::parse(&b64(&descriptor_of(PROTO3, &[]).encode_to_vec())).unwrap();
    let order = schema.message_named("Order").unwrap();
    let nested: Vec<String> = order.child_messages().map(|m| m.name().to_string()).collect();
    assert_eq!(nested, ["Before", "LinesBySkuEntry", "Line", "StatusByStepEntry", "After"]);
    assert_eq!(schema.message_at(&[0, 2]).unwrap().full_name(), "shop.v1.Order.Line");
}

/// A descriptor as a program builds one (Confluent's Python serializer sends what the runtime
/// holds): no json_name, relative type names, a proto3 optional with its synthetic oneof.
fn hand_built() -> FileDescriptorProto {
    let field = |name: &str, number: i32, label: Label, ty: Type, type_name: Option<&str>| FieldDescriptorProto {
        name: Some(name.into()),
        number: Some(number),
        label: Some(label as i32),
        r#type: Some(ty as i32),
        type_name: type_name.map(str::to_string),
        ..Default::default()
    };
    let entry = DescriptorProto {
        name: Some("CountsEntry".into()),
        field: vec![
            field("key", 1, Label::Optional, Type::String, None),
            field("value", 2, Label::Optional, Type::Int64, None),
        ],
        options: Some(MessageOptions { map_entry: Some(true), ..Default::default() }),
        ..Default::default()
    };
    let mut nick = field("nick", 2, Label::Optional, Type::String, None);
    nick.proto3_optional = Some(true);
    nick.oneof_index = Some(0);
    FileDescriptorProto {
        name: Some("user.proto".into()),
        package: Some("people".into()),
        syntax: Some("proto3".into()),
        message_type: vec![DescriptorProto {
            name: Some("User".into()),
            field: vec![
                field("counts", 1, Label::Repeated, Type::Message, Some(".people.User.CountsEntry")),
                nick,
                field("friend", 3, Label::Optional, Type::Message, Some("User")),
            ],
            nested_type: vec![entry],
            oneof_decl: vec![OneofDescriptorProto { name: Some("_nick".into()), options: None }],
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[test]
fn prints_maps_proto3_optionals_and_type_names_as_written() {
    let text = descriptor::print(&hand_built()).unwrap();
    let lines: Vec<&str> = text.lines().map(str::trim).collect();
    assert_eq!(
        lines,
        [
            "syntax = \"proto3\";",
            "package people;",
            "message User {",
            "map<string, int64> counts = 1;",
            "optional string nick = 2;",
            "User friend = 3;",
            "}",
        ]
    );
    let schema = ProtobufSchema::parse(&b64(&hand_built().encode_to_vec())).unwrap();
    let user = schema.message_named("User").unwrap();
    assert!(user.get_field_by_name("counts").unwrap().is_map());
    assert!(user.get_field_by_name("nick").unwrap().supports_presence());
    assert_eq!(user.get_field_by_name("friend").unwrap().number(), 3);
}

fn refusal(descriptor: &FileDescriptorProto) -> String {
    ProtobufSchema::parse(&b64(&descriptor.encode_to_vec())).unwrap_err().to_string()
}

#[test]
fn refuses_what_it_cannot_print_and_names_it() {
    let mut editions = hand_built();
    editions.syntax = Some("editions".into());
    assert!(refusal(&editions).contains("editions"), "{}", refusal(&editions));

    let mut extension = hand_built();
    extension.extension.push(FieldDescriptorProto {
        name: Some("tag".into()),
        number: Some(100),
        extendee: Some(".people.User".into()),
        ..Default::default()
    });
    let error = refusal(&extension);
    assert!(error.contains("extensions are not supported: field 'tag' extends '.people.User'"), "{error}");

    let mut group = hand_built();
    group.message_type[0].field[2].r#type = Some(Type::Group as i32);
    let error = refusal(&group);
    assert!(error.contains("message 'people.User': field 'friend': groups are not supported"), "{error}");

    // Names go into the text: one that is not an identifier could smuggle declarations in.
    let mut injected = hand_built();
    injected.package = Some("people; message Evil { int32 x = 1; } package x".into());
    let error = refusal(&injected);
    assert!(error.contains("the package") && error.contains("not a dotted name"), "{error}");
    let mut spaced = hand_built();
    spaced.message_type[0].field[1].name = Some("nick name".into());
    let error = refusal(&spaced);
    assert!(error.contains("field 'nick name'") && error.contains("not an identifier"), "{error}");

    let mut empty_oneof = hand_built();
    empty_oneof.message_type[0].oneof_decl.push(OneofDescriptorProto { name: Some("choice".into()), options: None });
    let error = refusal(&empty_oneof);
    assert!(error.contains("message 'people.User': oneof 'choice' has no fields"), "{error}");
    let mut orphan_entry = hand_built();
    orphan_entry.message_type[0].field.remove(0);
    let error = refusal(&orphan_entry);
    assert!(error.contains("the map entry type 'CountsEntry' is used by no map field"), "{error}");

    // A custom option arrives as an unknown field of an options message: printing would drop it.
    let mut bytes = hand_built().encode_to_vec();
    bytes.extend([0xf8, 0x06, 0x01]); // field 111, varint 1: no field of FileDescriptorProto
    let error = ProtobufSchema::parse(&b64(&bytes)).unwrap_err().to_string();
    assert!(error.contains("3 of its") && error.contains("would be lost"), "{error}");
}

#[test]
fn garbage_gets_a_precise_error() {
    let not_base64 = ProtobufSchema::parse("abcde").unwrap_err().to_string();
    assert!(not_base64.contains("neither .proto text nor a usable base64 FileDescriptorProto"), "{not_base64}");
    assert!(not_base64.contains("not valid base64"), "{not_base64}");
    // "ABC": field 8 as a fixed64 with one byte of its eight.
    let not_descriptor = ProtobufSchema::parse("QUJD").unwrap_err().to_string();
    assert!(not_descriptor.contains("the bytes are not a FileDescriptorProto"), "{not_descriptor}");
    // Text with a syntax error is still read as text (it holds characters base64 never has).
    let text = ProtobufSchema::parse("syntax = \"proto3\"; message M { int32 = 1; }").unwrap_err().to_string();
    assert!(text.contains("line 1"), "{text}");
    // A descriptor that prints but does not compile: the printed line is quoted.
    let mut unknown_type = hand_built();
    unknown_type.message_type[0].field[2].type_name = Some(".people.Nobody".into());
    let error = refusal(&unknown_type);
    assert!(error.contains("printed as .proto text") && error.contains("`.people.Nobody friend = 3;`"), "{error}");
    // A reference is read the same way, and named when it is not one.
    let main = "syntax = \"proto3\";\nimport \"event.proto\";\nmessage L { events.Event e = 1; }";
    let error = ProtobufSchema::parse_with_references(main, &[("event.proto", "QUJD")]).unwrap_err().to_string();
    assert!(error.starts_with("reference 'event.proto': "), "{error}");
}

#[test]
fn references_may_be_descriptors_too() {
    let event = b64(&descriptor_of(EVENT, &[]).encode_to_vec());
    let schema = ProtobufSchema::parse_with_references(LOGISTICS, &[("event.proto", &event)]).unwrap();
    let field = schema.message_named("Logistics").unwrap().get_field_by_name("event").unwrap();
    assert_eq!(field.kind().as_message().unwrap().full_name(), "events.Event");
}

#[test]
fn serialized_is_the_files_descriptor_named_default() {
    let schema = ProtobufSchema::parse_with_references(LOGISTICS, &[("event.proto", EVENT)]).unwrap();
    let bytes = base64::engine::general_purpose::STANDARD.decode(schema.serialized()).unwrap();
    let served = FileDescriptorProto::decode(bytes.as_slice()).unwrap();
    assert_eq!(served.name(), "default");
    assert_eq!(served.source_code_info, None);
    assert_eq!(served.package(), "logistics");
    assert_eq!(served.dependency, ["event.proto"]);
    assert_eq!(served.public_dependency, [0]);
    assert_eq!(served.message_type[0].name(), "Logistics");
    assert_eq!(served.message_type[0].field[1].type_name(), ".events.Event");
    // And it is a schema in its own right: what a client sends back after fetching it.
    let again = ProtobufSchema::parse_with_references(&schema.serialized(), &[("event.proto", EVENT)]).unwrap();
    assert_eq!(
        descriptor_of(again.text(), &[("event.proto", EVENT)]),
        descriptor_of(LOGISTICS, &[("event.proto", EVENT)])
    );
}
