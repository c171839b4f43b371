#!/usr/bin/env python3
"""Connect worker throughput: FileStreamSource -> topic and topic -> FileStreamSink on N lines of
100 bytes, each against the ceiling of the worker's Kafka client in the same run: a plain rdkafka
producer sending the same lines, and a plain rdkafka consumer writing them to a file
(`bench/client_ceiling.rs`). Plus the time from `POST /connectors` to RUNNING and the idle RSS of
`sluice standalone`. Each stage runs ROUNDS times, alternating with its ceiling; the table has
medians.

    cargo build --release --bin sluice --example client_ceiling && python3 bench/connect.py
    LINES=200000 ROUNDS=1 python3 bench/connect.py      # a quicker run

Needs the confluent-kafka Python package (for topic watermarks). Prints a Markdown table.
"""

import functools
import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE", os.path.join(ROOT, "target", "release", "sluice"))
CEILING = os.environ.get("CEILING", os.path.join(ROOT, "target", "release", "examples", "client_ceiling"))
LINES = int(os.environ.get("LINES", "1000000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
BROKER_PORT = int(os.environ.get("PORT", "29192"))
REST_PORT = int(os.environ.get("REST_PORT", "28083"))
TIMEOUT = 600

rest = functools.partial(benchlib.rest, REST_PORT)
safe = benchlib.safe


def wait(what, check, interval=0.005):
    return benchlib.wait(what, check, interval, TIMEOUT)


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return 0.0


def running(name):
    try:
        _, status = rest("GET", f"/connectors/{name}/status")
    except Exception:
        return False
    tasks = status.get("tasks", [])
    return status["connector"]["state"] == "RUNNING" and tasks and all(
        t["state"] == "RUNNING" for t in tasks
    )


def ceiling(*args):
    """Runs the plain client; returns its records per second."""
    out = subprocess.run([CEILING, *args], check=True, capture_output=True, text=True).stdout.split()
    assert int(out[0]) == LINES, out
    return LINES / float(out[1])


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def main():
    if not os.access(SLUICE, os.X_OK) or not os.access(CEILING, os.X_OK):
        sys.exit("build first: cargo build --release --bin sluice --example client_ceiling")
    from confluent_kafka import Consumer, TopicPartition

    work = tempfile.mkdtemp(prefix="sluice-connect-bench.")
    process = None
    try:
        source_file = os.path.join(work, "in.txt")
        with open(source_file, "w") as f:
            for i in range(LINES):
                f.write(f"{i:020d}" + "x" * 79 + "\n")
        size = os.path.getsize(source_file)
        with open(source_file, "rb") as f:
            source_bytes = f.read()

        process = benchlib.start_standalone(
            SLUICE, work, BROKER_PORT, worker_port=REST_PORT,
            worker_overrides=["offset.flush.interval.ms=200"])
        wait("the REST API", lambda: safe(lambda: rest("GET", "/")[0] == 200), 0.05)
        time.sleep(2)
        idle_rss = rss_mb(process.pid)
        bootstrap = f"127.0.0.1:{BROKER_PORT}"

        def topic_end(consumer, topic):
            try:
                return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5)[1]
            except Exception:
                return 0

        strings = {
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        }
        rates = {"source": [], "source ceiling": [], "sink": [], "sink ceiling": []}
        to_running_ms = []
        identical = True
        for run in range(ROUNDS):
            # Source: from the POST until every line is in the topic.
            topic = f"bench-{run}"
            # A consumer per topic: librdkafka remembers a topic it was told does not exist.
            consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench"})
            start = time.monotonic()
            status, _ = rest("POST", "/connectors", {"name": f"src-{run}", "config": {
                "connector.class": "FileStreamSource", "file": source_file, "topic": topic,
                **strings}})
            assert status == 201, status
            wait("src RUNNING", lambda: running(f"src-{run}"))
            to_running_ms.append((time.monotonic() - start) * 1000)
            wait("every line in the topic", lambda: topic_end(consumer, topic) >= LINES, 0.01)
            consumer.close()
            rates["source"].append(LINES / (time.monotonic() - start))
            rest("DELETE", f"/connectors/src-{run}")
            rates["source ceiling"].append(ceiling("produce", bootstrap, f"ceiling-{run}", source_file))

            # Sink: from the POST until the file holds every line.
            sink_file = os.path.join(work, f"out-{run}.txt")
            start = time.monotonic()
            status, _ = rest("POST", "/connectors", {"name": f"sink-{run}", "config": {
                "connector.class": "FileStreamSink", "file": sink_file, "topics": topic,
                **strings}})
            assert status == 201, status
            wait("the sink file",
                 lambda: os.path.exists(sink_file) and os.path.getsize(sink_file) >= size, 0.01)
            rates["sink"].append(LINES / (time.monotonic() - start))
            rest("DELETE", f"/connectors/sink-{run}")
            with open(sink_file, "rb") as f:
                identical = identical and f.read() == source_bytes
            os.remove(sink_file)
            plain_file = os.path.join(work, f"plain-{run}.txt")
            rates["sink ceiling"].append(ceiling("consume", bootstrap, topic, str(LINES), plain_file))
            os.remove(plain_file)
            print(f"round {run}: " + ", ".join(f"{k} {v[-1]:,.0f}/s" for k, v in rates.items()),
                  file=sys.stderr)
        busy_rss = rss_mb(process.pid)

        print(f"| stage | lines | lines/s | plain rdkafka client, same lines | ratio |")
        print("|---|---|---|---|---|")
        for stage, label, client in (("source", "FileStreamSource -> topic", "producer"),
                                     ("sink", "topic -> FileStreamSink", "consumer")):
            rate, peak = median(rates[stage]), median(rates[f"{stage} ceiling"])
            print(f"| {label} | {LINES} | {rate:,.0f} | {client}: {peak:,.0f} | {rate / peak:.2f}x |")
            benchlib.record(f"worker: {label}", rate, "lines/s",
                            f"plain rdkafka {client}, same lines", peak, "python3 bench/connect.py")
        print()
        print(f"Medians of {ROUNDS} rounds. POST /connectors -> RUNNING: {median(to_running_ms):.0f} ms")
        print(f"sluice standalone RSS: {idle_rss:.1f} MB idle, {busy_rss:.1f} MB after the runs")
        print(f"every sink file identical to the source file: {identical}")
        if not identical:
            sys.exit("a sink file differs from the source file")
    finally:
        if process is not None:
            benchlib.stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
