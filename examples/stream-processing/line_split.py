"""Kafka Streams' LineSplit tutorial as a consume-transform-produce loop with confluent-kafka:
every line of `streams-plaintext-input` becomes one record per word in `streams-linesplit-output`.

The consumer group `streams-linesplit` shares the input's partitions among every copy of this
script that runs. A line's offset is committed only after its words are acknowledged, so a crash
repeats a line rather than losing it (at least once)."""
from confluent_kafka import Consumer, KafkaException, Producer

consumer = Consumer({
    "bootstrap.servers": "localhost:9092", "group.id": "streams-linesplit",
    "auto.offset.reset": "earliest", "enable.auto.commit": False})
producer = Producer({"bootstrap.servers": "localhost:9092", "enable.idempotence": True})
consumer.subscribe(["streams-plaintext-input"])
try:
    while True:
        message = consumer.poll(1.0)
        if message is None:
            continue
        if message.error():
            raise KafkaException(message.error())
        for word in message.value().decode().split():
            producer.produce("streams-linesplit-output", key=message.key(), value=word)
        producer.flush()
        consumer.commit(message=message, asynchronous=False)
finally:
    consumer.close()
