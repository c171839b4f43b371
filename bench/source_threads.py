#!/usr/bin/env python3
"""Where a FileStreamSource's time goes, thread by thread, for one build or for several compared
in turns: each round creates a FileStreamSource of N lines of 100 bytes in `sluice standalone`,
reads the topic's high watermark every 5 ms, and reads every thread's CPU from /proc before and
after. The topic is created first, so that reading its watermark is quick from the start.
Prints, per build, medians over the rounds of: the first record's time after the `POST`,
lines/s from the `POST`, lines/s from the first record on (what a warmed-up producer moves, as
`bench/client_ceiling.rs` measures it), and CPU seconds per million lines of the task's thread,
the worker's runtime threads (the sending half), librdkafka's threads and the embedded
broker's.

    cargo build --release --bin sluice && python3 bench/source_threads.py target/release/sluice
    ROUNDS=9 python3 bench/source_threads.py /tmp/before/sluice /tmp/after/sluice
    WORKER_OVERRIDES="producer.linger.ms=20" python3 bench/source_threads.py target/release/sluice

Builds take turns round by round, so a machine that slows down favours none. Needs the
confluent-kafka Python package (for topic watermarks).
"""

import os
import sys
import tempfile
import time
import shutil

import benchlib

LINES = int(os.environ.get("LINES", "1000000"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
BROKER_PORT = int(os.environ.get("PORT", "29592"))
REST_PORT = int(os.environ.get("REST_PORT", "28583"))
# Worker settings (`key=value`, space-separated) on top of the benchmark's own.
WORKER_OVERRIDES = os.environ.get("WORKER_OVERRIDES", "").split()
TIMEOUT = 300

# Thread names, by what they run: the task's own thread is named after its connector.
GROUPS = (("task thread", "task "), ("worker runtime", "tokio-rt-worker"), ("librdkafka", "rdk:"),
          ("broker", "broker"))


def thread_cpu(pid):
    """CPU seconds per thread name of the process so far."""
    seconds = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as f:
                name = f.read().strip()
            seconds[(tid, name)] = benchlib.stat_cpu_seconds(f"/proc/{pid}/task/{tid}/stat")
        except OSError:
            continue  # the thread ended meanwhile
    return seconds


def grouped(before, after):
    totals = {label: 0.0 for label, _ in GROUPS}
    for key, cpu in after.items():
        for label, prefix in GROUPS:
            if key[1].startswith(prefix):
                totals[label] += cpu - before.get(key, 0.0)
                break
    return totals


def one_round(sluice, work, source_file, n):
    """Starts Sluice, runs one FileStreamSource to the end, stops Sluice."""
    from confluent_kafka import Consumer, TopicPartition
    from confluent_kafka.admin import AdminClient, NewTopic

    process = benchlib.start_standalone(sluice, work, BROKER_PORT, worker_port=REST_PORT,
                                        worker_overrides=["offset.flush.interval.ms=200", *WORKER_OVERRIDES])
    try:
        def rest(*args):
            return benchlib.rest(REST_PORT, *args)
        benchlib.wait("the REST API", lambda: benchlib.safe(lambda: rest("GET", "/")[0] == 200),
                      0.05, TIMEOUT)
        time.sleep(1)
        bootstrap = f"127.0.0.1:{BROKER_PORT}"
        topic = f"threads-{n}"
        admin = AdminClient({"bootstrap.servers": bootstrap})
        for future in admin.create_topics([NewTopic(topic, 1, 1)]).values():
            future.result(timeout=30)
        consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "threads"})
        consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=30)
        before = thread_cpu(process.pid)
        start = time.monotonic()
        status, _ = rest("POST", "/connectors", {"name": topic, "config": {
            "connector.class": "FileStreamSource", "file": source_file, "topic": topic,
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter"}})
        assert status == 201, status
        first = None
        while True:
            try:
                end = consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1]
            except Exception:
                end = 0  # the topic does not exist yet
            now = time.monotonic()
            if end > 0 and first is None:
                first = (now - start, end)
            if end >= LINES:
                break
            if now - start > TIMEOUT:
                sys.exit(f"{topic}: {end} of {LINES} lines after {TIMEOUT} s")
            time.sleep(0.005)
        total = now - start
        cpu = grouped(before, thread_cpu(process.pid))
        consumer.close()
        after_first = (LINES - first[1]) / (total - first[0]) if total > first[0] else float("nan")
        return {"first record ms": first[0] * 1000, "lines/s from POST": LINES / total,
                "lines/s after the first": after_first,
                **{f"{label} CPU s per 1M": s * 1e6 / LINES for label, s in cpu.items()}}
    finally:
        benchlib.stop(process)


def main():
    # Sluice runs in a directory of its own: paths as given would not resolve there.
    builds = [os.path.abspath(b) for b in sys.argv[1:]]
    if not builds or not all(os.access(b, os.X_OK) for b in builds):
        sys.exit(__doc__)
    work = tempfile.mkdtemp(prefix="sluice-source-threads.")
    try:
        source_file = os.path.join(work, "in.txt")
        with open(source_file, "w") as f:
            for i in range(LINES):
                f.write(f"{i:020d}" + "x" * 79 + "\n")
        results = {b: [] for b in builds}
        for n in range(ROUNDS):
            for b in (builds if n % 2 == 0 else list(reversed(builds))):
                data = os.path.join(work, f"data-{n}-{builds.index(b)}")
                os.makedirs(data)
                results[b].append(one_round(b, data, source_file, n))
                shutil.rmtree(data)
                print(f"round {n} {b}: " + ", ".join(f"{k} {v:,.2f}" for k, v in results[b][-1].items()),
                      file=sys.stderr)
        keys = list(results[builds[0]][0])
        print("| build | " + " | ".join(keys) + " |")
        print("|---|" + "---|" * len(keys))
        for b in builds:
            medians = [sorted(r[k] for r in results[b])[len(results[b]) // 2] for k in keys]
            print(f"| {b} | " + " | ".join(f"{m:,.0f}" if m >= 100 else f"{m:.2f}" for m in medians) + " |")
        print(f"\nMedians of {ROUNDS} rounds of {LINES} lines.")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
