"""Interoperability: aiokafka produces idempotently, then consumes in a group in two runs that
resume from committed offsets.

Usage: python3 aiokafka_client.py HOST:PORT
"""

import asyncio, sys, uuid
from aiokafka import AIOKafkaProducer, AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

async def main(bootstrap):
    topic = f"aio-{uuid.uuid4().hex[:6]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    await admin.create_topics([NewTopic(topic, 3, 1)])
    await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    for i in range(500):
        await producer.send(topic, key=str(i).encode(), value=f"v{i}".encode(), headers=[("h", b"1")])
    await producer.flush()
    await producer.stop()
    group = f"aio-group-{uuid.uuid4().hex[:6]}"
    seen = set()
    for limit in (300, 200):
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, group_id=group,
                                    auto_offset_reset="earliest", enable_auto_commit=False)
        await consumer.start()
        got = 0
        try:
            while got < limit:
                batch = await asyncio.wait_for(consumer.getmany(timeout_ms=500, max_records=limit - got), 60)
                for tp, records in batch.items():
                    for r in records:
                        seen.add(r.value)
                        got += 1
                    await consumer.commit({tp: records[-1].offset + 1})
        finally:
            await consumer.stop()
    ok = seen == {f"v{i}".encode() for i in range(500)}
    print(f"aiokafka: produced 500 (idempotent), group read 300 then 200: {'ok' if ok else 'MISMATCH'} ({len(seen)} distinct)")
    print(f"{int(ok)} passed, {int(not ok)} failed")
    return 0 if ok else 1

sys.exit(asyncio.run(asyncio.wait_for(main(sys.argv[1]), 300)))
