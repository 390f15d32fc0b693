"""Prints, for each key given, the partition Kafka's default partitioner (the Java client's murmur2,
as ported by kafka-python) chooses among N partitions: the reference crates/weft-server/tests/mesh_paths.rs
compares Weft's placement with. Usage: kafka_partitions.py N KEY...  (one JSON object on stdout)."""

import json
import sys

from kafka.partitioner.default import DefaultPartitioner


class Cluster:
    """The part of kafka-python's ClusterMetadata the partitioner asks: one topic with N partitions."""

    def __init__(self, partitions):
        self.partitions = set(range(partitions))

    def topics(self):
        return {"t"}

    def partitions_for_topic(self, topic):
        return self.partitions

    def available_partitions_for_topic(self, topic):
        return self.partitions


def main():
    partitions = int(sys.argv[1])
    cluster = Cluster(partitions)
    partitioner = DefaultPartitioner()
    placed = {}
    for key in sys.argv[2:]:
        serialized = key.encode("utf-8")
        placed[key] = partitioner.partition("t", key, serialized, None, None, cluster)
    print(json.dumps(placed))


if __name__ == "__main__":
    main()
