//! The files every Confluent Protobuf schema may import without a schema reference, beyond the
//! `google/protobuf/*.proto` well-known types that protox carries: Confluent's serializers resolve
//! `confluent/meta.proto`, `confluent/type/decimal.proto` and the `google/type/*.proto` types that
//! ksqlDB maps `DATE` and `TIME` to (Confluent's `ProtobufSchema` knows them as built-in
//! dependencies). Written here from their published definitions: fields and numbers are what
//! matter on the wire.

/// The built-in file of `name`, if there is one.
pub(super) fn builtin(name: &str) -> Option<&'static str> {
    Some(match name {
        "confluent/meta.proto" => CONFLUENT_META,
        "confluent/type/decimal.proto" => CONFLUENT_DECIMAL,
        "google/type/date.proto" => GOOGLE_DATE,
        "google/type/timeofday.proto" => GOOGLE_TIME_OF_DAY,
        _ => return None,
    })
}

const CONFLUENT_META: &str = r#"syntax = "proto3";
package confluent;
import "google/protobuf/descriptor.proto";
message Meta {
  string doc = 1;
  map<string, string> params = 2;
  repeated string tags = 3;
}
extend google.protobuf.FileOptions { Meta file_meta = 1088; }
extend google.protobuf.MessageOptions { Meta message_meta = 1088; }
extend google.protobuf.FieldOptions { Meta field_meta = 1088; }
extend google.protobuf.EnumOptions { Meta enum_meta = 1088; }
extend google.protobuf.EnumValueOptions { Meta enum_value_meta = 1088; }
"#;

const CONFLUENT_DECIMAL: &str = r#"syntax = "proto3";
package confluent.type;
message Decimal {
  bytes value = 1;
  uint32 precision = 2;
  int32 scale = 3;
}
"#;

const GOOGLE_DATE: &str = r#"syntax = "proto3";
package google.type;
message Date {
  int32 year = 1;
  int32 month = 2;
  int32 day = 3;
}
"#;

const GOOGLE_TIME_OF_DAY: &str = r#"syntax = "proto3";
package google.type;
message TimeOfDay {
  int32 hours = 1;
  int32 minutes = 2;
  int32 seconds = 3;
  int32 nanos = 4;
}
"#;
