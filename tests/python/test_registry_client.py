"""Confluent's own Python client (confluent-kafka) against Weft's schema registry.

Usage: test_registry_client.py REGISTRY_URL [USER:TOKEN]   (e.g. http://127.0.0.1:8080/registry)

With USER:TOKEN the client signs in with basic auth (`basic.auth.user.info`, an API token as the
password), as Confluent's clients do against a secured registry, and a client without it is refused.

Run by crates/weft-server/tests/registry_python_client.rs on a fresh server; exits non-zero on the first
failed check. Every check prints one line, so a failure shows how far the client got.
"""

import base64
import json
import sys

from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.schema_registry.json_schema import JSONDeserializer, JSONSerializer
from confluent_kafka.schema_registry.protobuf import ProtobufDeserializer, ProtobufSerializer
from confluent_kafka.serialization import MessageField, SerializationContext
from google.protobuf import descriptor_pb2, descriptor_pool, timestamp_pb2
from google.protobuf.message_factory import GetMessageClass

ORDER_V1 = {
    "type": "record",
    "name": "Order",
    "namespace": "weft.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "amount", "type": "double"},
    ],
}
NORMALIZED = {
    "type": "record",
    "name": "Normalized",
    "namespace": "weft.test",
    "fields": [{"name": "id", "type": "long"}],
}
# BACKWARD compatible with v1: the new field has a default.
ORDER_V2 = {
    "type": "record",
    "name": "Order",
    "namespace": "weft.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": "string", "default": "EUR"},
    ],
}
# Not BACKWARD compatible with v2: a new field without a default.
ORDER_BAD = {
    "type": "record",
    "name": "Order",
    "namespace": "weft.test",
    "fields": [
        {"name": "id", "type": "long"},
        {"name": "amount", "type": "double"},
        {"name": "currency", "type": "string", "default": "EUR"},
        {"name": "customer", "type": "string"},
    ],
}
PAYMENT_JSON = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Payment",
    "type": "object",
    "properties": {
        "id": {"type": "string"},
        "cents": {"type": "integer", "minimum": 0},
    },
    "required": ["id", "cents"],
    "additionalProperties": False,
}

checks = 0

FIELD = descriptor_pb2.FieldDescriptorProto


def protobuf_order_class():
    """An Order message class built at runtime, as protoc would have generated it: proto3, importing
    an own second file (registered as a schema reference) and google/protobuf/timestamp.proto (which
    Confluent's serializers never send as a reference), with a map, a proto3 optional, a oneof and a
    nested enum."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)

    common = descriptor_pb2.FileDescriptorProto(name="weft/common.proto", package="weft.common", syntax="proto3")
    money = common.message_type.add(name="Money")
    money.field.add(name="currency", number=1, type=FIELD.TYPE_STRING, label=FIELD.LABEL_OPTIONAL)
    money.field.add(name="cents", number=2, type=FIELD.TYPE_INT64, label=FIELD.LABEL_OPTIONAL)
    pool.Add(common)

    shop = descriptor_pb2.FileDescriptorProto(name="weft/order.proto", package="weft.shop", syntax="proto3")
    shop.dependency.extend(["weft/common.proto", "google/protobuf/timestamp.proto"])
    shop.options.java_package = "com.example.shop"
    order = shop.message_type.add(name="Order")
    status = order.enum_type.add(name="Status")
    status.value.add(name="STATUS_UNSPECIFIED", number=0)
    status.value.add(name="PAID", number=1)
    entry = order.nested_type.add(name="QuantitiesEntry")
    entry.options.map_entry = True
    entry.field.add(name="key", number=1, type=FIELD.TYPE_STRING, label=FIELD.LABEL_OPTIONAL)
    entry.field.add(name="value", number=2, type=FIELD.TYPE_INT32, label=FIELD.LABEL_OPTIONAL)
    order.oneof_decl.add(name="payment")
    order.oneof_decl.add(name="_note")
    order.field.add(name="id", number=1, type=FIELD.TYPE_STRING, label=FIELD.LABEL_OPTIONAL)
    order.field.add(
        name="total", number=2, type=FIELD.TYPE_MESSAGE, type_name=".weft.common.Money", label=FIELD.LABEL_OPTIONAL
    )
    order.field.add(
        name="at", number=3, type=FIELD.TYPE_MESSAGE, type_name=".google.protobuf.Timestamp", label=FIELD.LABEL_OPTIONAL
    )
    order.field.add(
        name="quantities",
        number=4,
        type=FIELD.TYPE_MESSAGE,
        type_name=".weft.shop.Order.QuantitiesEntry",
        label=FIELD.LABEL_REPEATED,
    )
    order.field.add(name="card", number=5, type=FIELD.TYPE_STRING, label=FIELD.LABEL_OPTIONAL, oneof_index=0)
    order.field.add(name="voucher", number=6, type=FIELD.TYPE_STRING, label=FIELD.LABEL_OPTIONAL, oneof_index=0)
    order.field.add(
        name="note", number=7, type=FIELD.TYPE_STRING, label=FIELD.LABEL_OPTIONAL, oneof_index=1, proto3_optional=True
    )
    order.field.add(
        name="status", number=8, type=FIELD.TYPE_ENUM, type_name=".weft.shop.Order.Status", label=FIELD.LABEL_OPTIONAL
    )
    order.field.add(name="tags", number=9, type=FIELD.TYPE_STRING, label=FIELD.LABEL_REPEATED)
    pool.Add(shop)
    return GetMessageClass(pool.FindMessageTypeByName("weft.shop.Order"))


def protobuf_round_trip(client, url):
    """ProtobufSerializer registers the schema (and its import, as a reference) as base64 descriptors;
    ProtobufDeserializer reads them back with format=serialized."""
    Order = protobuf_order_class()
    ctx = SerializationContext("shop-orders", MessageField.VALUE)
    order = Order(id="o-1", card="4242", note="leave at the door", status=1, tags=["gift", "fragile"])
    order.total.currency = "EUR"
    order.total.cents = 1999
    order.at.seconds = 1_700_000_000
    order.at.nanos = 5
    order.quantities["sku-1"] = 2
    order.quantities["sku-2"] = 1
    serializer = ProtobufSerializer(Order, client, {"use.deprecated.format": False})
    framed = serializer(order, ctx)
    schema_id = int.from_bytes(framed[1:5], "big")
    check(framed[0] == 0 and framed[5] == 0, f"Protobuf message framed with id {schema_id} and message index [0]")
    check(client.get_subjects().count("weft/common.proto") == 1, "the imported file is registered under its own name")
    registered = client.get_latest_version("shop-orders-value")
    check(registered.schema_id == schema_id, "shop-orders-value holds the serializer's schema")
    references = [(r.name, r.subject, r.version) for r in registered.schema.references]
    check(
        references == [("weft/common.proto", "weft/common.proto", 1)],
        f"the schema refers to weft/common.proto, and not to the well-known timestamp.proto ({references})",
    )

    reader = SchemaRegistryClient(conf(url))
    deserializer = ProtobufDeserializer(Order, {"use.deprecated.format": False}, schema_registry_client=reader)
    read = deserializer(framed, ctx)
    check(read == order, "the Protobuf message round-trips through the registry")
    check(read.HasField("note") and read.WhichOneof("payment") == "card", "presence and the oneof survive")

    text = SchemaRegistryClient(conf(url)).get_schema(schema_id)
    check(text.schema_type == "PROTOBUF", "the Protobuf schema reads back with schemaType PROTOBUF")
    proto = text.schema_str
    check(
        proto.startswith('syntax = "proto3";') and "message Order {" in proto,
        f"GET /schemas/ids/{schema_id} answers .proto text naming the message:\n{proto}",
    )
    check(
        'import "weft/common.proto";' in proto
        and "map<string, int32> quantities = 4;" in proto
        and "optional string note = 7;" in proto,
        "with its import, the map and the proto3 optional",
    )
    serialized = SchemaRegistryClient(conf(url)).get_schema(schema_id, fmt="serialized").schema_str
    served = descriptor_pb2.FileDescriptorProto.FromString(base64.standard_b64decode(serialized))
    sent = descriptor_pb2.FileDescriptorProto()
    Order.DESCRIPTOR.file.CopyToProto(sent)
    check(
        [m.name for m in served.message_type] == ["Order"]
        and [(f.name, f.number, f.label, f.type) for f in served.message_type[0].field]
        == [(f.name, f.number, f.label, f.type) for f in sent.message_type[0].field]
        and [n.name for n in served.message_type[0].nested_type] == ["QuantitiesEntry"]
        and list(served.dependency) == list(sent.dependency),
        "format=serialized answers the descriptor the serializer sent (messages, fields, numbers, labels, types)",
    )
    again = ProtobufSerializer(Order, SchemaRegistryClient(conf(url)), {"use.deprecated.format": False})
    check(again(order, ctx) == framed, "a second serializer finds the same schema id")


def check(condition, what):
    global checks
    if not condition:
        print(f"FAILED: {what}", flush=True)
        sys.exit(1)
    checks += 1
    print(f"ok: {what}", flush=True)


def expect_error(call, status, code, what):
    try:
        call()
    except SchemaRegistryError as e:
        check(
            e.http_status_code == status and e.error_code == code,
            f"{what} -> HTTP {e.http_status_code}, error {e.error_code}: {e.error_message}",
        )
        return
    check(False, f"{what} should have failed with {status}/{code}")


USER_INFO = sys.argv[2] if len(sys.argv) > 2 else None


def conf(url):
    """The client's configuration: the URL, and the basic-auth credentials when given."""
    config = {"url": url}
    if USER_INFO:
        config["basic.auth.user.info"] = USER_INFO
    return config


def main():
    url = sys.argv[1]
    if USER_INFO:
        try:
            SchemaRegistryClient({"url": url}).get_subjects()
            raise SystemExit("FAIL: a client without credentials was served")
        except SchemaRegistryError as error:
            check(error.http_status_code == 401, f"a client without credentials is refused ({error.http_status_code})")
    client = SchemaRegistryClient(conf(url))

    check(client.get_subjects() == [], "a fresh registry has no subjects")
    check(sorted(client.get_schema_types()) == ["AVRO", "JSON", "PROTOBUF"], "schema types are AVRO, JSON and PROTOBUF")

    # Avro: serialize with auto-registration, deserialize by the id in the frame.
    topic = "orders"
    value_ctx = SerializationContext(topic, MessageField.VALUE)
    serializer = AvroSerializer(client, json.dumps(ORDER_V1))
    record = {"id": 42, "amount": 12.5}
    framed = serializer(record, value_ctx)
    check(framed[0] == 0 and len(framed) > 5, "Avro record framed with magic byte 0")
    avro_id = int.from_bytes(framed[1:5], "big")
    check(avro_id == 1, f"first schema gets id 1 (got {avro_id})")
    fresh_client = SchemaRegistryClient(conf(url))
    deserializer = AvroDeserializer(fresh_client)
    check(deserializer(framed, value_ctx) == record, "Avro record round-trips through the registry")

    latest = client.get_latest_version("orders-value")
    check(latest.schema_id == avro_id and latest.version == 1, "get_latest_version gives id 1, version 1")
    check(latest.subject == "orders-value", "the subject is orders-value (TopicNameStrategy)")
    read_back = json.loads(latest.schema.schema_str)
    check(
        (read_back["name"], read_back["namespace"]) == ("Order", "weft.test"),
        "the schema reads back with name and namespace apart, as registered",
    )
    by_id = json.loads(client.get_schema(avro_id).schema_str)
    check(by_id == ORDER_V1, "get_schema answers the registered record (name, namespace, fields)")
    check(
        client.get_schema_versions(avro_id)[0].subject == "orders-value",
        "get_schema_versions lists the subject version using the id",
    )

    again = client.register_schema("orders-value", Schema(json.dumps(ORDER_V1), "AVRO"))
    check(again == avro_id, "registering the same schema again gives the same id")

    # Compatibility under the default BACKWARD level.
    check(client.get_compatibility() == "BACKWARD", "the global compatibility level is BACKWARD")
    check(
        client.test_compatibility("orders-value", Schema(json.dumps(ORDER_V2), "AVRO")) is True,
        "adding a field with a default is BACKWARD compatible",
    )
    v2_id = client.register_schema("orders-value", Schema(json.dumps(ORDER_V2), "AVRO"))
    check(v2_id == 2, f"the compatible change registers as id 2 (got {v2_id})")
    check(
        client.test_compatibility("orders-value", Schema(json.dumps(ORDER_BAD), "AVRO")) is False,
        "adding a field without a default is not BACKWARD compatible",
    )
    check(
        client.test_compatibility_all_versions("orders-value", Schema(json.dumps(ORDER_BAD), "AVRO")) is False,
        "the incompatible change fails against all versions too",
    )
    expect_error(
        lambda: client.register_schema("orders-value", Schema(json.dumps(ORDER_BAD), "AVRO")),
        409,
        409,
        "registering the incompatible change",
    )
    check(client.get_versions("orders-value") == [1, 2], "orders-value has versions [1, 2]")
    v1 = client.get_version("orders-value", 1)
    check(v1.schema_id == avro_id, "version 1 keeps id 1")

    check(client.set_compatibility("orders-value", "NONE")["compatibility"] == "NONE", "set_compatibility NONE")
    check(client.get_compatibility("orders-value") == "NONE", "the subject level reads back as NONE")
    bad_id = client.register_schema("orders-value", Schema(json.dumps(ORDER_BAD), "AVRO"))
    check(bad_id == 3, f"under NONE the change registers as id 3 (got {bad_id})")
    check(client.get_compatibility() == "BACKWARD", "the global level is still BACKWARD")

    # The same schema under another subject reuses its id.
    copied = client.register_schema("orders-copy", Schema(json.dumps(ORDER_V1), "AVRO"))
    check(copied == avro_id, "the same schema under a second subject gets the same id")
    subjects = sorted(client.get_subjects_by_schema_id(avro_id))
    check(subjects == ["orders-copy", "orders-value"], f"id 1 is used by both subjects ({subjects})")
    found = client.lookup_schema("orders-copy", Schema(json.dumps(ORDER_V1), "AVRO"))
    check(found.version == 1 and found.schema_id == avro_id, "lookup_schema finds version 1 of orders-copy")

    # JSON Schema.
    payments_ctx = SerializationContext("payments", MessageField.VALUE)
    json_serializer = JSONSerializer(json.dumps(PAYMENT_JSON), client)
    payment = {"id": "p-1", "cents": 1250}
    framed = json_serializer(payment, payments_ctx)
    json_id = int.from_bytes(framed[1:5], "big")
    check(framed[0] == 0 and json_id == 4, f"JSON record framed with the next id, 4 (got {json_id})")
    json_deserializer = JSONDeserializer(None, schema_registry_client=SchemaRegistryClient(conf(url)))
    check(json_deserializer(framed, payments_ctx) == payment, "JSON record round-trips through the registry")
    fetched = SchemaRegistryClient(conf(url)).get_schema(json_id)
    check(fetched.schema_type == "JSON", "the JSON schema reads back with schemaType JSON")

    # Deletes: soft, then permanent; a permanent delete needs a soft delete first.
    expect_error(
        lambda: client.delete_subject("orders-copy", permanent=True),
        404,
        40405,
        "a permanent delete before a soft delete",
    )
    check(client.delete_subject("orders-copy") == [1], "soft delete of orders-copy deletes version 1")
    check("orders-copy" not in client.get_subjects(), "a soft-deleted subject is not listed")
    check("orders-copy" in client.get_subjects(deleted=True), "it is listed with deleted=true")
    expect_error(lambda: client.get_latest_version("orders-copy"), 404, 40401, "latest of a soft-deleted subject")
    check(client.get_subjects(deleted_only=True) == ["orders-copy"], "deleted_only lists only the deleted subject")
    check(client.get_versions("orders-copy", deleted=True) == [1], "its versions are listed with deleted=true")
    check(client.get_versions("orders-value", deleted_only=True) == [], "orders-value has no deleted version")
    expect_error(
        lambda: client.get_latest_with_metadata("orders-value", {"owner": "alice"}),
        404,
        40403,
        "no version has metadata (Weft keeps none)",
    )
    check(client.delete_subject("orders-copy", permanent=True) == [1], "the permanent delete deletes version 1")
    check("orders-copy" not in client.get_subjects(deleted=True), "a hard-deleted subject is gone")
    check(SchemaRegistryClient(conf(url)).get_schema(avro_id).schema_str, "id 1 still serves orders-value")
    expect_error(lambda: client.get_schema(999), 404, 40403, "an unknown schema id")
    expect_error(lambda: client.get_version("orders-value", 9), 404, 40402, "an unknown version")
    expect_error(lambda: client.get_latest_version("nope"), 404, 40401, "an unknown subject")
    expect_error(
        lambda: client.set_compatibility("orders-value", "SOMETIMES"), 422, 42203, "an invalid compatibility level"
    )

    # normalize: registered and looked up in the canonical text, which names the record in full.
    normalized_id = client.register_schema("normalized-value", Schema(json.dumps(NORMALIZED)), normalize_schemas=True)
    normalized = json.loads(client.get_schema(normalized_id).schema_str)
    check(normalized["name"] == "weft.test.Normalized", "a schema registered with normalize reads back normalized")
    found = client.lookup_schema("normalized-value", Schema(json.dumps(NORMALIZED)), normalize_schemas=True)
    check(found.schema_id == normalized_id, "lookup_schema with normalize finds it")

    # Subject names with characters that need URL encoding.
    odd = "team/a:orders value"
    odd_id = client.register_schema(odd, Schema(json.dumps(ORDER_V1), "AVRO"))
    check(odd_id == avro_id, "a subject named with '/', ':' and a space registers")
    check(client.get_latest_version(odd).subject == odd, "and reads back under its exact name")

    protobuf_round_trip(client, url)

    print(f"all {checks} checks passed", flush=True)


if __name__ == "__main__":
    main()
