"""Reads a topic's stored bytes from Weft (GET .../records?raw=true, what a Kafka consumer receives) and
decodes them the way a Kafka consumer with Confluent's deserializers would: keys with StringDeserializer,
values with AvroDeserializer given Weft's schema registry. Prints one JSON object per record:
{"partition", "offset", "key", "value", "schema_id"}.

Usage: avro_port_consumer.py WEFT_URL TOPIC"""

import base64
import json
import sys
import urllib.request

from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringDeserializer


def main():
    weft, topic = sys.argv[1].rstrip("/"), sys.argv[2]
    registry = SchemaRegistryClient({"url": f"{weft}/registry"})
    values = AvroDeserializer(registry)
    keys = StringDeserializer("utf_8")
    with urllib.request.urlopen(f"{weft}/api/v1/topics/{topic}/records?raw=true&limit=10000") as answer:
        page = json.load(answer)
    for record in page["records"]:
        assert record.get("value_encoding") == "base64", record
        key_bytes = base64.b64decode(record["key"]) if record["key"] is not None else None
        value_bytes = base64.b64decode(record["value"])
        assert value_bytes[0] == 0, f"not the Confluent wire format: magic byte {value_bytes[0]}"
        schema_id = int.from_bytes(value_bytes[1:5], "big")
        value = values(value_bytes, SerializationContext(topic, MessageField.VALUE))
        key = keys(key_bytes, SerializationContext(topic, MessageField.KEY)) if key_bytes is not None else None
        print(json.dumps({"partition": record["partition"], "offset": record["offset"], "key": key,
                          "value": value, "schema_id": schema_id}, sort_keys=True, default=str))


if __name__ == "__main__":
    main()
