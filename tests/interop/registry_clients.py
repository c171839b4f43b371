"""confluent-kafka's schema registry client against `sluice registry`: AvroSerializer
(auto-registering) produces to the broker, AvroDeserializer reads the records back, and
compatibility settings, checks and refusals come back as SchemaRegistryError with
Confluent's codes.

    python3 registry_clients.py BOOTSTRAP REGISTRY_URL
"""

import sys
import uuid

from confluent_kafka import Consumer, Producer
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer, AvroSerializer
from confluent_kafka.schema_registry.error import SchemaRegistryError
from confluent_kafka.serialization import MessageField, SerializationContext

V1 = """{"type": "record", "name": "Reading", "namespace": "com.example",
 "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "double"}]}"""
# Adds a field with a default: BACKWARD compatible.
V2 = """{"type": "record", "name": "Reading", "namespace": "com.example",
 "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "double"},
            {"name": "unit", "type": "string", "default": "C"}]}"""
# Adds a field without a default: not BACKWARD compatible.
BAD = """{"type": "record", "name": "Reading", "namespace": "com.example",
 "fields": [{"name": "sensor", "type": "string"}, {"name": "value", "type": "double"},
            {"name": "site", "type": "string"}]}"""


def expect_error(what, call, http_status, codes):
    try:
        call()
    except SchemaRegistryError as e:
        assert e.http_status_code == http_status and e.error_code in codes, (what, e)
        print(f"  {what}: {e.http_status_code} {e.error_code} {e.error_message[:100]}")
        return
    raise AssertionError(f"{what}: no error")


def main():
    bootstrap, url = sys.argv[1], sys.argv[2]
    client = SchemaRegistryClient({"url": url})
    topic = f"readings-{uuid.uuid4().hex[:8]}"
    subject = f"{topic}-value"

    serializer = AvroSerializer(client, V1)
    producer = Producer({"bootstrap.servers": bootstrap})
    sent = [{"sensor": f"s{i}", "value": i * 0.5} for i in range(20)]
    for record in sent:
        value = serializer(record, SerializationContext(topic, MessageField.VALUE))
        producer.produce(topic, value=value)
    assert producer.flush(30) == 0, "undelivered records"

    deserializer = AvroDeserializer(client)
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"g-{topic}",
                         "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    received = []
    for _ in range(300):
        if len(received) == len(sent):
            break
        message = consumer.poll(0.2)
        if message is None or message.error():
            continue
        received.append(deserializer(message.value(), SerializationContext(topic, MessageField.VALUE)))
    consumer.close()
    assert received == sent, (received[:3], len(received))
    print(f"  AvroSerializer -> broker -> AvroDeserializer: {len(received)} records equal")

    registered = client.get_latest_version(subject)
    assert registered.version == 1
    assert client.lookup_schema(subject, Schema(V1, "AVRO")).schema_id == registered.schema_id

    client.set_compatibility(subject, "BACKWARD")
    assert client.get_compatibility(subject) == "BACKWARD"
    assert client.test_compatibility(subject, Schema(V2, "AVRO")) is True
    assert client.test_compatibility(subject, Schema(BAD, "AVRO")) is False
    assert client.register_schema(subject, Schema(V2, "AVRO")) != registered.schema_id
    expect_error("incompatible registration", lambda: client.register_schema(subject, Schema(BAD, "AVRO")),
                 409, (409, 40901))
    expect_error("invalid level", lambda: client.set_compatibility(subject, "SIDEWAYS"), 422, (42203,))
    expect_error("unknown subject", lambda: client.get_latest_version(f"nope-{topic}"), 404, (40401,))
    expect_error("unknown id", lambda: client.get_schema(987654), 404, (40403,))
    expect_error("invalid schema", lambda: client.register_schema(subject, Schema('{"type": "nothing"}', "AVRO")),
                 422, (42201,))
    assert sorted(client.get_versions(subject)) == [1, 2]
    assert client.delete_version(subject, 1) == 1
    assert sorted(client.get_versions(subject)) == [2]
    print("  compatibility, lookups, deletes and errors as Confluent's")


if __name__ == "__main__":
    main()
