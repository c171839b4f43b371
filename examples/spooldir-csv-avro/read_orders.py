from confluent_kafka import DeserializingConsumer
from confluent_kafka.schema_registry import SchemaRegistryClient
from confluent_kafka.schema_registry.avro import AvroDeserializer

registry = SchemaRegistryClient({"url": "http://localhost:8081"})
consumer = DeserializingConsumer({
    "bootstrap.servers": "localhost:9092", "group.id": "read-orders", "auto.offset.reset": "earliest",
    "key.deserializer": AvroDeserializer(registry), "value.deserializer": AvroDeserializer(registry)})
consumer.subscribe(["orders-avro"])
for message in iter(lambda: consumer.poll(5), None):
    print(message.key(), message.value(), flush=True)
