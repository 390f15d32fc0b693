"""A plain Kafka client on a topic Weft serves: confluent-kafka's Consumer and Producer talking to the
broker directly, with Confluent's Avro serializers given Weft's schema registry (nothing of Weft's
but its registry URL). crates/weft/tests/kafka_serve.rs runs it against a tansu broker.

Usage:
  kafka_avro_clients.py consume BOOTSTRAP REGISTRY TOPIC COUNT
      Subscribes as a fresh consumer group from the earliest offset, reads COUNT records (30 s at most)
      and prints one JSON object per record: {"partition", "offset", "key", "value", "schema_id"}.
  kafka_avro_clients.py produce BOOTSTRAP REGISTRY TOPIC [SUBJECT]
      Reads JSON lines {"key": STRING, "value": OBJECT} from standard input, produces each with
      StringSerializer and AvroSerializer (the subject's latest schema, as a producer that does not
      register schemas is configured), flushes, and prints the schema id it wrote with. A line
      {"key": STRING, "raw": STRING} is produced as those UTF-8 bytes, serialized by nobody. SUBJECT
      names the value schema's subject (default TOPIC-value): a product's subject, for its raw input
      topic."""

import json
import sys
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.serialization import MessageField, SerializationContext, StringDeserializer, StringSerializer


def consume(bootstrap, registry, topic, count):
    values = AvroDeserializer(registry)
    keys = StringDeserializer("utf_8")
    consumer = Consumer({
        "bootstrap.servers": bootstrap,
        "group.id": f"python-{uuid.uuid4()}",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    })
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    read = 0
    try:
        while read < count and time.monotonic() < deadline:
            message = consumer.poll(0.5)
            if message is None:
                continue
            if message.error():
                raise KafkaException(message.error())
            context = SerializationContext(topic, MessageField.VALUE)
            raw = message.value()
            assert raw[0] == 0, f"not the Confluent wire format: magic byte {raw[0]}"
            record = {
                "partition": message.partition(),
                "offset": message.offset(),
                "key": keys(message.key(), SerializationContext(topic, MessageField.KEY)),
                "value": values(raw, context),
                "schema_id": int.from_bytes(raw[1:5], "big"),
            }
            print(json.dumps(record, sort_keys=True), flush=True)
            read += 1
    finally:
        consumer.close()
    if read < count:
        sys.exit(f"read {read} of {count} records within 30 s")


def produce(bootstrap, registry, topic, subject=None):
    # Weft's registry holds the port's schema: the producer uses it rather than registering its own.
    conf = {"auto.register.schemas": False, "use.latest.version": True}
    if subject is not None:
        conf["subject.name.strategy"] = lambda _context, _record_name: subject
    values = AvroSerializer(registry, None, conf=conf)
    keys = StringSerializer("utf_8")
    producer = Producer({"bootstrap.servers": bootstrap, "acks": "all"})
    failures = []

    def delivered(error, _message):
        if error is not None:
            failures.append(str(error))

    schema_id = None
    for line in sys.stdin:
        if not line.strip():
            continue
        record = json.loads(line)
        if "raw" in record:
            # A producer that does not serialize as the topic expects: these bytes as they are.
            value = record["raw"].encode("utf-8")
        else:
            value = values(record["value"], SerializationContext(topic, MessageField.VALUE))
            schema_id = int.from_bytes(value[1:5], "big")
        key = keys(record["key"], SerializationContext(topic, MessageField.KEY))
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
        producer.poll(0)
    remaining = producer.flush(30)
    if remaining or failures:
        sys.exit(f"{remaining} records undelivered, failures: {failures}")
    print(json.dumps({"schema_id": schema_id}))


def main():
    mode, bootstrap, registry_url, topic = sys.argv[1:5]
    registry = SchemaRegistryClient({"url": registry_url})
    if mode == "consume":
        consume(bootstrap, registry, topic, int(sys.argv[5]))
    elif mode == "produce":
        produce(bootstrap, registry, topic, *sys.argv[5:6])
    else:
        sys.exit(f"unknown mode {mode!r}: consume or produce")


if __name__ == "__main__":
    main()
