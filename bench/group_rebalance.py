"""Rebalance time of a three-member group when one member leaves, with confluent-kafka.

Members learn of a rebalance on their next heartbeat, so the floor is heartbeat.interval.ms;
the figure is reported next to it.

Usage: python3 group_rebalance.py HOST:PORT [heartbeat_ms]
"""

import sys
import threading
import time
import uuid

from confluent_kafka import Consumer
from confluent_kafka.admin import AdminClient, NewTopic


def main():
    bootstrap = sys.argv[1]
    heartbeat = int(sys.argv[2]) if len(sys.argv) > 2 else 3000
    topic = f"rebalance-{uuid.uuid4().hex[:6]}"
    admin = AdminClient({"bootstrap.servers": bootstrap})
    admin.create_topics([NewTopic(topic, 6, 1)])[topic].result(30)
    group = f"trio-{uuid.uuid4().hex[:6]}"
    config = {
        "bootstrap.servers": bootstrap,
        "group.id": group,
        "heartbeat.interval.ms": heartbeat,
        "session.timeout.ms": max(6000, heartbeat * 3),
    }
    consumers = [Consumer(config) for _ in range(3)]
    owned = [set(), set(), set()]
    stop = [False, False, False]

    def run(i):
        c = consumers[i]
        c.subscribe(
            [topic],
            on_assign=lambda _, parts: owned[i].update(p.partition for p in parts),
            on_revoke=lambda _, parts: owned[i].difference_update(p.partition for p in parts),
        )
        while not stop[i]:
            c.poll(0.05)
        c.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    deadline = time.time() + 60
    while not (all(owned) and sum(len(o) for o in owned) == 6) and time.time() < deadline:
        time.sleep(0.01)
    assert all(owned), f"members never settled: {owned}"
    left = time.time()
    stop[2] = True
    threads[2].join()
    while len(owned[0] | owned[1]) < 6 and time.time() < deadline:
        time.sleep(0.005)
    took = time.time() - left
    assert len(owned[0] | owned[1]) == 6, "the survivors never took over"
    print(f"heartbeat.interval.ms={heartbeat}: rebalance after a member left took {took * 1000:.0f} ms "
          f"= {took * 1000 / heartbeat:.2f}x the heartbeat interval")
    stop[0] = stop[1] = True
    for t in threads[:2]:
        t.join()


if __name__ == "__main__":
    main()
