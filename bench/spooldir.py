#!/usr/bin/env python3
"""Spooldir throughput: ten files of 100k lines (100 bytes each) dropped at once into the input
directory of a running connector; lines/s into the topic for SpoolDirLineDelimitedSourceConnector
(StringConverter) and rows/s for SpoolDirCsvSourceConnector into JsonConverter (schemas.enable,
typed fields). Baseline: `cat` of the same files in the same run.

    cargo build --release --bin sluice && python3 bench/spooldir.py
    FILES=4 LINES=50000 TASKS=2 KINDS=lines python3 bench/spooldir.py

Needs the confluent-kafka Python package (for topic watermarks). Prints a Markdown table.
"""

import functools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE", os.path.join(ROOT, "target", "release", "sluice"))
FILES = int(os.environ.get("FILES", "10"))
LINES = int(os.environ.get("LINES", "100000"))
TASKS = os.environ.get("TASKS", "1")
KINDS = os.environ.get("KINDS", "lines,rows").split(",")
BROKER_PORT = int(os.environ.get("PORT", "29392"))
REST_PORT = int(os.environ.get("REST_PORT", "28383"))
TIMEOUT = 900

rest = functools.partial(benchlib.rest, REST_PORT)
safe = benchlib.safe


def wait(what, check, interval=0.02):
    return benchlib.wait(what, check, interval, TIMEOUT)

CSV_SCHEMA = json.dumps({
    "name": "com.example.Reading", "type": "STRUCT", "isOptional": False,
    "fieldSchemas": {
        "id": {"type": "INT64", "isOptional": False},
        "sensor": {"type": "STRING", "isOptional": False},
        "value": {"type": "FLOAT64", "isOptional": False},
        "ok": {"type": "BOOLEAN", "isOptional": False},
        "at": {"name": "org.apache.kafka.connect.data.Timestamp", "type": "INT64", "isOptional": False},
        "note": {"type": "STRING", "isOptional": True},
    },
})


def write_files(directory, kind):
    """FILES files of LINES lines of 100 bytes (99 characters and a newline)."""
    paths = []
    for n in range(FILES):
        path = os.path.join(directory, f"{kind}-{n:02d}.{'txt' if kind == 'lines' else 'csv'}")
        with open(path, "w") as f:
            for i in range(LINES):
                if kind == "lines":
                    f.write(f"{n:02d}{i:018d}" + "x" * 79 + "\n")
                else:
                    row = f"{n * LINES + i},sensor-{i % 100:03d},{i * 0.25:.2f},{'true' if i % 2 else 'false'},2024-01-01T00:00:00,"
                    f.write(row + "n" * (99 - len(row)) + "\n")
        paths.append(path)
    return paths


def main():
    if not os.access(SLUICE, os.X_OK):
        sys.exit("build first: cargo build --release --bin sluice")
    from confluent_kafka import Consumer, TopicPartition

    work = tempfile.mkdtemp(prefix="sluice-spooldir-bench.")
    process = None
    try:
        staging = os.path.join(work, "staging")
        os.makedirs(staging)
        line_files = write_files(staging, "lines")
        csv_files = write_files(staging, "rows")
        total = FILES * LINES

        def cat_rate(paths):
            best = None
            for _ in range(3):
                start = time.monotonic()
                subprocess.run(["cat", *paths], stdout=subprocess.DEVNULL, check=True)
                elapsed = time.monotonic() - start
                best = elapsed if best is None else min(best, elapsed)
            return total / best

        cat_lines = cat_rate(line_files)
        cat_csv = cat_rate(csv_files)

        process = benchlib.start_standalone(
            SLUICE, work, BROKER_PORT, worker_port=REST_PORT,
            worker_overrides=["offset.flush.interval.ms=1000"])
        wait("the REST API", lambda: safe(lambda: rest("GET", "/")[0] == 200), 0.05)
        consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{BROKER_PORT}", "group.id": "bench"})

        def topic_end(topic):
            try:
                # Refreshes the client's metadata: the topic appears with the first record.
                consumer.list_topics(topic, timeout=5)
                return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5, cached=False)[1]
            except Exception as e:
                print(f"watermark of {topic}: {e}", file=sys.stderr)
                return 0

        results = []
        for kind, paths, connector in [
            ("lines", line_files, {
                "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirLineDelimitedSourceConnector",
                "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                "input.file.pattern": ".*\\.txt"}),
            ("rows", csv_files, {
                "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirCsvSourceConnector",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "true",
                "value.schema": CSV_SCHEMA,
                "input.file.pattern": ".*\\.csv"}),
        ]:
            if kind not in KINDS:
                continue
            base = os.path.join(work, kind)
            dirs = {d: os.path.join(base, d) for d in ("input", "finished", "error")}
            for d in dirs.values():
                os.makedirs(d)
            config = {
                **connector, "topic": kind, "tasks.max": TASKS, "batch.size": "2000",
                "input.path": dirs["input"], "finished.path": dirs["finished"], "error.path": dirs["error"],
                "key.converter": "org.apache.kafka.connect.storage.StringConverter",
            }
            status, _ = rest("POST", "/connectors", {"name": kind, "config": config})
            assert status == 201, status
            time.sleep(1)
            start = time.monotonic()
            for p in paths:
                os.rename(p, os.path.join(dirs["input"], os.path.basename(p)))
            wait(f"{total} {kind} in the topic", lambda: topic_end(kind) >= total)
            print(f"{kind}: all in the topic", file=sys.stderr)
            seconds = time.monotonic() - start
            finished = wait("every file finished", lambda: len(os.listdir(dirs["finished"])) == FILES, 0.05)
            results.append((kind, seconds, finished))
        consumer.close()

        print(f"| connector | records | seconds | records/s | vs cat | cat records/s |")
        print("|---|---|---|---|---|---|")
        cats = {"lines": cat_lines, "rows": cat_csv}
        for kind, seconds, _ in results:
            cat = cats[kind]
            rate = total / seconds
            label = "SpoolDirLineDelimited, StringConverter" if kind == "lines" else "SpoolDirCsv, JsonConverter (schemas.enable)"
            print(f"| {label} | {total} | {seconds:.2f} | {rate:,.0f} | {rate / cat:.4f}x | {cat:,.0f} |")
        print(f"\n{FILES} files x {LINES} lines of 100 bytes, tasks.max={TASKS}; every file reached finished.path")
    finally:
        if process is not None:
            benchlib.stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
