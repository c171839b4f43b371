#!/usr/bin/env python3
"""Connect worker throughput: FileStreamSource -> topic and topic -> FileStreamSink on N lines of
100 bytes, against `cat` reading the same file in the same run; plus the time from
`POST /connectors` to RUNNING and the idle RSS of `sluice standalone`.

    cargo build --release --bin sluice && python3 bench/connect.py
    LINES=200000 python3 bench/connect.py      # a quicker run

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
LINES = int(os.environ.get("LINES", "1000000"))
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


def main():
    if not os.access(SLUICE, os.X_OK):
        sys.exit("build first: cargo build --release --bin sluice")
    from confluent_kafka import Consumer, TopicPartition

    work = tempfile.mkdtemp(prefix="sluice-connect-bench.")
    process = None
    try:
        source_file = os.path.join(work, "in.txt")
        sink_file = os.path.join(work, "out.txt")
        with open(source_file, "w") as f:
            for i in range(LINES):
                f.write(f"{i:020d}" + "x" * 79 + "\n")
        size = os.path.getsize(source_file)

        # Baseline: cat, best of three once the file is in the page cache.
        cat_seconds = []
        for _ in range(3):
            start = time.monotonic()
            subprocess.run(["cat", source_file], stdout=subprocess.DEVNULL, check=True)
            cat_seconds.append(time.monotonic() - start)
        cat_rate = LINES / min(cat_seconds)

        process = benchlib.start_standalone(
            SLUICE, work, BROKER_PORT, worker_port=REST_PORT,
            worker_overrides=["offset.flush.interval.ms=200"])
        wait("the REST API", lambda: safe(lambda: rest("GET", "/")[0] == 200), 0.05)
        time.sleep(2)
        idle_rss = rss_mb(process.pid)

        consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{BROKER_PORT}", "group.id": "bench"})

        def topic_end():
            try:
                return consumer.get_watermark_offsets(TopicPartition("bench", 0), timeout=5)[1]
            except Exception:
                return 0

        # Source: POST, time to RUNNING, time until every line is in the topic.
        start = time.monotonic()
        status, _ = rest("POST", "/connectors", {"name": "src", "config": {
            "connector.class": "FileStreamSource",
            "file": source_file,
            "topic": "bench",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        }})
        assert status == 201, status
        wait("src RUNNING", lambda: running("src"))
        to_running_ms = (time.monotonic() - start) * 1000
        wait("every line in the topic", lambda: topic_end() >= LINES, 0.02)
        source_seconds = time.monotonic() - start

        # Sink: POST, time until the file holds every line.
        start = time.monotonic()
        status, _ = rest("POST", "/connectors", {"name": "sink", "config": {
            "connector.class": "FileStreamSink",
            "file": sink_file,
            "topics": "bench",
            "value.converter": "org.apache.kafka.connect.storage.StringConverter",
            "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        }})
        assert status == 201, status
        wait("the sink file", lambda: os.path.exists(sink_file) and os.path.getsize(sink_file) >= size, 0.02)
        sink_seconds = time.monotonic() - start
        with open(source_file, "rb") as a, open(sink_file, "rb") as b:
            identical = a.read() == b.read()
        busy_rss = rss_mb(process.pid)
        consumer.close()

        source_rate = LINES / source_seconds
        sink_rate = LINES / sink_seconds
        print(f"| stage | lines | seconds | lines/s | vs cat ({cat_rate:,.0f} lines/s) |")
        print("|---|---|---|---|---|")
        print(f"| FileStreamSource -> topic | {LINES} | {source_seconds:.2f} | {source_rate:,.0f} | {source_rate / cat_rate:.3f}x |")
        print(f"| topic -> FileStreamSink | {LINES} | {sink_seconds:.2f} | {sink_rate:,.0f} | {sink_rate / cat_rate:.3f}x |")
        for stage, rate in (("FileStreamSource -> topic", source_rate),
                            ("topic -> FileStreamSink", sink_rate)):
            benchlib.record(f"worker: {stage}", rate, "lines/s", "cat of the same file",
                            cat_rate, "python3 bench/connect.py")
        print()
        print(f"POST /connectors -> RUNNING: {to_running_ms:.0f} ms")
        print(f"sluice standalone RSS: {idle_rss:.1f} MB idle, {busy_rss:.1f} MB after the runs")
        print(f"sink file identical to the source file: {identical}")
    finally:
        if process is not None:
            benchlib.stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
