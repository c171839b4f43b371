#!/usr/bin/env python3
"""Spooldir throughput: ten files of 100k lines (100 bytes each) dropped at once into the input
directory of a running connector; lines/s into the topic for SpoolDirLineDelimitedSourceConnector
(StringConverter) and rows/s for SpoolDirCsvSourceConnector into JsonConverter (schemas.enable,
typed fields). The `chain` kind is the CSV pipeline with five transforms (InsertField,
ReplaceField, Cast, TimestampConverter, RegexRouter), compared with `rows` of the same run, in
rate and in the CPU seconds `sluice standalone` spent per million rows (its broker included).
Baselines measured in the same run: `cat` of the same files, and for lines the ceiling a plain
rdkafka producer reaches sending the same lines with the same headers to the same broker
(`bench/client_ceiling.rs`, no connector).

    cargo build --release --bin sluice --example client_ceiling && python3 bench/spooldir.py
    RUNS=5 KINDS=lines python3 bench/spooldir.py
    RUNS=4 KINDS=rows,chain python3 bench/spooldir.py
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
CEILING = os.environ.get("CEILING", os.path.join(ROOT, "target", "release", "examples", "client_ceiling"))
RUNS = int(os.environ.get("RUNS", "1"))
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

CSV_SCHEMA = benchlib.CSV_SCHEMA


# Five transforms a CSV pipeline might run: add the source topic, drop and rename fields, narrow
# two types, format the timestamp, route to another topic.
CHAIN = {
    "transforms": "insert,replace,cast,timestamp,route",
    "transforms.insert.type": "org.apache.kafka.connect.transforms.InsertField$Value",
    "transforms.insert.topic.field": "source_topic",
    "transforms.replace.type": "org.apache.kafka.connect.transforms.ReplaceField$Value",
    "transforms.replace.exclude": "note",
    "transforms.replace.renames": "sensor:sensor_id",
    "transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
    "transforms.cast.spec": "value:float32,ok:int8",
    "transforms.timestamp.type": "org.apache.kafka.connect.transforms.TimestampConverter$Value",
    "transforms.timestamp.field": "at",
    "transforms.timestamp.target.type": "string",
    "transforms.timestamp.format": "yyyy-MM-dd'T'HH:mm:ss.SSSZ",
    "transforms.route.type": "org.apache.kafka.connect.transforms.RegexRouter",
    "transforms.route.regex": "(.*)",
    "transforms.route.replacement": "$1-routed",
}


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
                    f.write(benchlib.csv_row(n, i, LINES) + "\n")
        paths.append(path)
    return paths


def main():
    if not os.access(SLUICE, os.X_OK) or not os.access(CEILING, os.X_OK):
        sys.exit("build first: cargo build --release --bin sluice --example client_ceiling")
    from confluent_kafka import Consumer

    work = tempfile.mkdtemp(prefix="sluice-spooldir-bench.")
    process = None
    try:
        pristine = os.path.join(work, "pristine")
        os.makedirs(pristine)
        files = {"lines": write_files(pristine, "lines"), "rows": write_files(pristine, "rows")}
        files["chain"] = files["rows"]
        total = FILES * LINES

        def cat_rate(paths):
            best = None
            for _ in range(3):
                start = time.monotonic()
                subprocess.run(["cat", *paths], stdout=subprocess.DEVNULL, check=True)
                elapsed = time.monotonic() - start
                best = elapsed if best is None else min(best, elapsed)
            return total / best

        cats = {kind: cat_rate(paths) for kind, paths in files.items()}
        cats["chain"] = cats["rows"]

        process = benchlib.start_standalone(
            SLUICE, work, BROKER_PORT, worker_port=REST_PORT,
            worker_overrides=["offset.flush.interval.ms=1000"])
        wait("the REST API", lambda: safe(lambda: rest("GET", "/")[0] == 200), 0.05)
        consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{BROKER_PORT}", "group.id": "bench"})

        topic_end = functools.partial(benchlib.topic_end, consumer)

        connectors = {
            "lines": {
                "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirLineDelimitedSourceConnector",
                "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                "input.file.pattern": ".*\\.txt"},
            "rows": {
                "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirCsvSourceConnector",
                "value.converter": "org.apache.kafka.connect.json.JsonConverter",
                "value.converter.schemas.enable": "true",
                "value.schema": CSV_SCHEMA,
                "input.file.pattern": ".*\\.csv"},
        }
        connectors["chain"] = {**connectors["rows"], **CHAIN}
        results = []
        for run in range(1, RUNS + 1):
            # Alternate the order, so a machine that slows down over the run favours no kind.
            for kind in (KINDS if run % 2 else list(reversed(KINDS))):
                name = f"{kind}-{run}"
                base = os.path.join(work, name)
                dirs = {d: os.path.join(base, d) for d in ("staging", "input", "finished", "error")}
                for d in dirs.values():
                    os.makedirs(d)
                staged = []
                for p in files[kind]:
                    copy = os.path.join(dirs["staging"], os.path.basename(p))
                    shutil.copyfile(p, copy)
                    staged.append(copy)
                config = {
                    **connectors[kind], "topic": name, "tasks.max": TASKS, "batch.size": "2000",
                    "input.path": dirs["input"], "finished.path": dirs["finished"], "error.path": dirs["error"],
                    "key.converter": "org.apache.kafka.connect.storage.StringConverter",
                }
                def plain_producer():
                    # The same lines and headers from a plain producer, to the same broker.
                    benchlib.drop_caches()
                    out = subprocess.run(
                        [CEILING, "produce-spooldir", f"127.0.0.1:{BROKER_PORT}", f"ceiling-{run}", *files[kind]],
                        check=True, capture_output=True, text=True).stdout.split()
                    assert int(out[0]) == total, out
                    return total / float(out[1])

                # Alternate which goes first, so a machine that slows down over the run favours
                # neither.
                ceiling = plain_producer() if kind == "lines" and run % 2 == 0 else None
                benchlib.drop_caches()
                status, _ = rest("POST", "/connectors", {"name": name, "config": config})
                assert status == 201, status
                time.sleep(1)
                start, cpu_at_start = time.monotonic(), benchlib.cpu_seconds(process.pid)
                for p in staged:
                    os.rename(p, os.path.join(dirs["input"], os.path.basename(p)))
                topic = f"{name}-routed" if kind == "chain" else name
                wait(f"{total} {kind} in the topic", lambda: topic_end(topic) >= total)
                seconds = time.monotonic() - start
                # The process's CPU (its broker included) per million records.
                cpu = (benchlib.cpu_seconds(process.pid) - cpu_at_start) * 1e6 / total
                wait("every file finished", lambda: len(os.listdir(dirs["finished"])) == FILES, 0.05)
                rest("DELETE", f"/connectors/{name}")
                if kind == "lines" and ceiling is None:
                    ceiling = plain_producer()
                print(f"run {run} {kind}: {total / seconds:,.0f}/s, CPU s per 1M {cpu:.2f}"
                      + (f", ceiling {ceiling:,.0f}/s" if ceiling else ""), file=sys.stderr)
                results.append((run, kind, seconds, ceiling, cpu))
        consumer.close()

        print("| run | connector | records | seconds | records/s | vs cat | plain producer records/s | vs plain producer "
              "| Sluice CPU s per 1M |")
        print("|---|---|---|---|---|---|---|---|---|")
        for run, kind, seconds, ceiling, cpu in results:
            rate = total / seconds
            label = {"lines": "SpoolDirLineDelimited, StringConverter",
                     "rows": "SpoolDirCsv, JsonConverter (schemas.enable)",
                     "chain": "SpoolDirCsv, JsonConverter, five transforms"}[kind]
            plain = f"{ceiling:,.0f} | {rate / ceiling:.2f}x" if ceiling else "- | -"
            print(f"| {run} | {label} | {total} | {seconds:.2f} | {rate:,.0f} | {rate / cats[kind]:.4f}x | {plain} "
                  f"| {cpu:.2f} |")
            if ceiling:
                benchlib.record(f"spooldir: {label} (run {run})", rate, "records/s",
                                "a plain rdkafka producer of the same records", ceiling,
                                "python3 bench/spooldir.py")
        # The pipeline is short of CPU on two cores, so what the chain adds to the process's CPU
        # is its cost, steadier than the rate.
        plain_rows = {run: (total / seconds, cpu) for run, kind, seconds, _, cpu in results if kind == "rows"}
        chained = [(run, total / seconds, cpu) for run, kind, seconds, _, cpu in results if kind == "chain"]
        if plain_rows and chained:
            print("\n| run | rows/s, no transforms | rows/s, five transforms | ratio "
                  "| CPU s per 1M, no transforms | CPU s per 1M, five transforms | CPU ratio |")
            print("|---|---|---|---|---|---|---|")
            for run, rate, cpu in chained:
                if run in plain_rows:
                    plain_rate, plain_cpu = plain_rows[run]
                    print(f"| {run} | {plain_rate:,.0f} | {rate:,.0f} | {rate / plain_rate:.2f}x "
                          f"| {plain_cpu:.2f} | {cpu:.2f} | {plain_cpu / cpu:.2f}x |")
                    benchlib.record(f"transforms: five-transform chain (run {run})", rate, "rows/s",
                                    "the same pipeline without transforms", plain_rate,
                                    "KINDS=rows,chain python3 bench/spooldir.py")
                    benchlib.record(f"transforms: Sluice CPU s per 1M rows, five-transform chain (run {run})",
                                    cpu, "s", "the same pipeline without transforms", plain_cpu,
                                    "KINDS=rows,chain python3 bench/spooldir.py", higher_is_better=False)
        print(f"\n{FILES} files x {LINES} lines of 100 bytes, tasks.max={TASKS}; every file reached finished.path; "
              f"page cache dropped before each measured run: {benchlib.drop_caches()}; "
              f"cat: {cats['lines']:,.0f} lines/s, {cats['rows']:,.0f} rows/s")
    finally:
        if process is not None:
            benchlib.stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
