"""Interoperability: kafka-python and confluent-kafka against a running Sluice broker.

Each client produces keyed records with headers, then each client reads every topic back with
manually assigned partitions, so each library also reads what the other wrote.

Usage: python3 python_clients.py HOST:PORT
"""

import sys
import time
import uuid

from confluent_kafka import Consumer as CKConsumer
from confluent_kafka import Producer as CKProducer
from confluent_kafka import TopicPartition as CKTopicPartition
from confluent_kafka.admin import AdminClient, NewTopic
from kafka import KafkaConsumer, KafkaProducer, TopicPartition

COUNT = 2000
PARTITIONS = 3
DEADLINE_S = 60


def expected(prefix):
    return {(f"{prefix}-key-{i}".encode(), f"{prefix}-value-{i}".encode()) for i in range(COUNT)}


def create_topic(bootstrap, name):
    admin = AdminClient({"bootstrap.servers": bootstrap})
    futures = admin.create_topics([NewTopic(name, num_partitions=PARTITIONS, replication_factor=1)])
    futures[name].result(timeout=30)


def produce_kafka_python(bootstrap, topic):
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", compression_type="gzip", linger_ms=5)
    for i in range(COUNT):
        producer.send(
            topic,
            key=f"kp-key-{i}".encode(),
            value=f"kp-value-{i}".encode(),
            headers=[("source", b"kafka-python")],
        )
    producer.flush(timeout=30)
    producer.close()


def produce_confluent(bootstrap, topic):
    producer = CKProducer({"bootstrap.servers": bootstrap, "acks": "all", "compression.type": "zstd", "linger.ms": 5})
    failures = []

    def on_delivery(err, _msg):
        if err is not None:
            failures.append(err)

    for i in range(COUNT):
        producer.produce(
            topic,
            key=f"ck-key-{i}".encode(),
            value=f"ck-value-{i}".encode(),
            headers=[("source", b"confluent-kafka")],
            on_delivery=on_delivery,
        )
        producer.poll(0)
    remaining = producer.flush(30)
    assert remaining == 0, f"{remaining} confluent-kafka messages not delivered"
    assert not failures, f"confluent-kafka delivery failures: {failures[:3]}"


def consume_kafka_python(bootstrap, topic):
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=2000)
    consumer.assign([TopicPartition(topic, p) for p in range(PARTITIONS)])
    consumer.seek_to_beginning()
    seen, headers = set(), set()
    deadline = time.time() + DEADLINE_S
    while len(seen) < COUNT and time.time() < deadline:
        for record in consumer:
            seen.add((record.key, record.value))
            headers.update(record.headers)
    consumer.close()
    return seen, headers


def consume_confluent(bootstrap, topic):
    consumer = CKConsumer(
        {"bootstrap.servers": bootstrap, "group.id": f"unused-{uuid.uuid4()}", "enable.auto.commit": False}
    )
    consumer.assign([CKTopicPartition(topic, p, -2) for p in range(PARTITIONS)])
    seen, headers = set(), set()
    deadline = time.time() + DEADLINE_S
    while len(seen) < COUNT and time.time() < deadline:
        msg = consumer.poll(0.5)
        if msg is None:
            continue
        assert msg.error() is None, msg.error()
        seen.add((msg.key(), msg.value()))
        headers.update(msg.headers() or [])
    consumer.close()
    return seen, headers


def main():
    bootstrap = sys.argv[1]
    suffix = uuid.uuid4().hex[:8]
    topics = {"kp": f"interop-kafka-python-{suffix}", "ck": f"interop-confluent-{suffix}"}
    for topic in topics.values():
        create_topic(bootstrap, topic)
    produce_kafka_python(bootstrap, topics["kp"])
    produce_confluent(bootstrap, topics["ck"])
    source = {"kp": b"kafka-python", "ck": b"confluent-kafka"}
    results = []
    for prefix, topic in topics.items():
        for reader, consume in (("kafka-python", consume_kafka_python), ("confluent-kafka", consume_confluent)):
            seen, headers = consume(bootstrap, topic)
            ok = seen == expected(prefix) and headers == {("source", source[prefix])}
            print(f"{reader} read {len(seen)}/{COUNT} records of {topic}: {'ok' if ok else 'MISMATCH'}")
            results.append(ok)
    passed = sum(results)
    print(f"{passed} passed, {len(results) - passed} failed")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
