"""Interoperability: consumer groups with kafka-python and confluent-kafka.

Each client consumes part of a topic in a group and commits; a second consumer in the same group
must resume exactly where the first committed, so the two runs together read every record once.

Usage: python3 python_groups.py HOST:PORT
"""

import sys
import time
import uuid

from confluent_kafka import Consumer as CKConsumer
from confluent_kafka import Producer as CKProducer
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer

COUNT = 1000
FIRST = 600
DEADLINE_S = 60


def setup(bootstrap, topic):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])[topic].result(timeout=30)
    producer = CKProducer({"bootstrap.servers": bootstrap})
    for i in range(COUNT):
        producer.produce(topic, key=str(i).encode(), value=f"value-{i}".encode())
    assert producer.flush(30) == 0


def kafka_python_run(bootstrap, topic, group, limit):
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_poll_records=50,
    )
    seen = []
    deadline = time.time() + DEADLINE_S
    while len(seen) < limit and time.time() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            for record in records:
                if len(seen) < limit:
                    seen.append(record.value)
                    consumer.commit({consumer_tp(record): offset_and_metadata(record.offset + 1)})
    consumer.close()
    return seen


def consumer_tp(record):
    from kafka import TopicPartition

    return TopicPartition(record.topic, record.partition)


def offset_and_metadata(offset):
    from kafka.structs import OffsetAndMetadata

    try:
        return OffsetAndMetadata(offset, "", -1)
    except TypeError:
        return OffsetAndMetadata(offset, "")


def confluent_run(bootstrap, topic, group, limit):
    consumer = CKConsumer(
        {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    seen = []
    deadline = time.time() + DEADLINE_S
    while len(seen) < limit and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        seen.append(msg.value())
        consumer.commit(message=msg, asynchronous=False)
    consumer.close()
    return seen


def main():
    bootstrap = sys.argv[1]
    topic = f"groups-{uuid.uuid4().hex[:8]}"
    setup(bootstrap, topic)
    expected = {f"value-{i}".encode() for i in range(COUNT)}
    results = []
    for name, run in (("kafka-python", kafka_python_run), ("confluent-kafka", confluent_run)):
        group = f"{name}-{uuid.uuid4().hex[:6]}"
        started = time.time()
        first = run(bootstrap, topic, group, FIRST)
        second = run(bootstrap, topic, group, COUNT - FIRST)
        ok = len(first) == FIRST and len(second) == COUNT - FIRST and set(first) | set(second) == expected
        print(f"{name}: group {group} read {len(first)} then {len(second)} records in {time.time() - started:.1f}s: {'ok' if ok else 'MISMATCH'}")
        results.append(ok)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
