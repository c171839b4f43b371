#!/usr/bin/env python3
"""AvroConverter throughput against StringConverter, in the same run of `sluice standalone`.

Source: ten CSV files of 100k typed rows into a topic through SpoolDirCsvSourceConnector, with
value.converter AvroConverter (registry-framed Avro) or StringConverter (the struct's text).
Sink: a FileStreamSink reading each of those topics back through the same converter into a
file. Records/s of each, the Avro/String ratio, the requests the AvroConverters sent to the
registry (counted by a proxy in front of it: one per new schema is expected, not per record), and
the CPU seconds the Sluice process spent per million records in each stage (its broker included)
and in both together: the String sink writes text its source already formatted, where the Avro
sink formats each struct itself, so only both stages compare the same work.

    cargo build --release --bin sluice && python3 bench/avro.py
    RUNS=3 FILES=4 LINES=50000 python3 bench/avro.py

Needs the confluent-kafka Python package (for topic watermarks). Prints Markdown tables.
"""

import functools
import http.server
import json
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.request

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE", os.path.join(ROOT, "target", "release", "sluice"))
RUNS = int(os.environ.get("RUNS", "2"))
FILES = int(os.environ.get("FILES", "10"))
LINES = int(os.environ.get("LINES", "100000"))
BROKER_PORT = int(os.environ.get("PORT", "29492"))
REST_PORT = int(os.environ.get("REST_PORT", "28483"))
REGISTRY_PORT = int(os.environ.get("REGISTRY_PORT", "28481"))
TIMEOUT = 900

rest = functools.partial(benchlib.rest, REST_PORT)
safe = benchlib.safe

CSV_SCHEMA = benchlib.CSV_SCHEMA

CONVERTERS = {
    "string": {"value.converter": "org.apache.kafka.connect.storage.StringConverter"},
    "avro": {"value.converter": "io.confluent.connect.avro.AvroConverter"},
}


def wait(what, check, interval=0.02):
    return benchlib.wait(what, check, interval, TIMEOUT)


class CountingProxy:
    """Forwards HTTP requests to the registry and counts them."""

    def __init__(self, target):
        self.count = 0
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def forward(self):
                proxy.count += 1
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                request = urllib.request.Request(target + self.path, data=body, method=self.command,
                                                 headers={"Content-Type": self.headers.get("Content-Type", "application/json")})
                try:
                    with urllib.request.urlopen(request, timeout=30) as response:
                        status, payload = response.status, response.read()
                except urllib.error.HTTPError as e:
                    status, payload = e.code, e.read()
                self.send_response(status)
                self.send_header("Content-Type", "application/vnd.schemaregistry.v1+json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = forward

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


def write_files(directory):
    paths = []
    for n in range(FILES):
        path = os.path.join(directory, f"rows-{n:02d}.csv")
        with open(path, "w") as f:
            for i in range(LINES):
                f.write(benchlib.csv_row(n, i, LINES) + "\n")
        paths.append(path)
    return paths


def main():
    if not os.access(SLUICE, os.X_OK):
        sys.exit("build first: cargo build --release --bin sluice")
    from confluent_kafka import Consumer

    work = tempfile.mkdtemp(prefix="sluice-avro-bench.")
    process = None
    try:
        pristine = os.path.join(work, "pristine")
        os.makedirs(pristine)
        files = write_files(pristine)
        total = FILES * LINES
        process = benchlib.start_standalone(SLUICE, work, BROKER_PORT, worker_port=REST_PORT,
                                            registry_port=REGISTRY_PORT,
                                            worker_overrides=["offset.flush.interval.ms=1000"])
        wait("the REST API", lambda: safe(lambda: rest("GET", "/")[0] == 200), 0.05)
        proxy = CountingProxy(f"http://127.0.0.1:{REGISTRY_PORT}")
        consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{BROKER_PORT}", "group.id": "bench"})

        topic_end = functools.partial(benchlib.topic_end, consumer)

        # Lines counted so far per file, and where counting stopped: each check reads only what
        # the sink appended since the last one, so waiting costs the machine next to nothing
        # (reading the whole file ten times a second took up to half a core from the sink).
        counted = {}

        def lines_in(path):
            offset, lines = counted.get(path, (0, 0))
            try:
                with open(path, "rb") as f:
                    f.seek(offset)
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        lines += chunk.count(b"\n")
                        offset += len(chunk)
            except FileNotFoundError:
                return 0
            counted[path] = (offset, lines)
            return lines

        results = []
        for run in range(1, RUNS + 1):
            for kind in (["string", "avro"] if run % 2 else ["avro", "string"]):
                name = f"{kind}-{run}"
                converter = dict(CONVERTERS[kind])
                if kind == "avro":
                    converter["value.converter.schema.registry.url"] = proxy.url
                dirs = {d: os.path.join(work, name, d) for d in ("staging", "input", "finished", "error")}
                for d in dirs.values():
                    os.makedirs(d)
                staged = []
                for p in files:
                    copy = os.path.join(dirs["staging"], os.path.basename(p))
                    shutil.copyfile(p, copy)
                    staged.append(copy)
                before = proxy.count
                benchlib.drop_caches()
                status, _ = rest("POST", "/connectors", {"name": f"{name}-source", "config": {
                    "connector.class": "com.github.jcustenborder.kafka.connect.spooldir.SpoolDirCsvSourceConnector",
                    "value.schema": CSV_SCHEMA, "input.file.pattern": ".*\\.csv", "topic": name,
                    "batch.size": "2000", "input.path": dirs["input"], "finished.path": dirs["finished"],
                    "error.path": dirs["error"], **converter}})
                assert status == 201, status
                time.sleep(1)
                start, cpu = time.monotonic(), benchlib.cpu_seconds(process.pid)
                for p in staged:
                    os.rename(p, os.path.join(dirs["input"], os.path.basename(p)))
                wait(f"{total} records in {name}", lambda: topic_end(name) >= total)
                source_seconds = time.monotonic() - start
                source_cpu = benchlib.cpu_seconds(process.pid) - cpu
                rest("DELETE", f"/connectors/{name}-source")

                out = os.path.join(work, f"{name}.txt")
                start, cpu = time.monotonic(), benchlib.cpu_seconds(process.pid)
                status, _ = rest("POST", "/connectors", {"name": f"{name}-sink", "config": {
                    "connector.class": "FileStreamSink", "topics": name, "file": out, **converter}})
                assert status == 201, status
                wait(f"{total} lines in {out}", lambda: lines_in(out) >= total, 0.01)
                sink_seconds = time.monotonic() - start
                sink_cpu = benchlib.cpu_seconds(process.pid) - cpu
                rest("DELETE", f"/connectors/{name}-sink")
                requests = proxy.count - before
                print(f"run {run} {kind}: source {total / source_seconds:,.0f}/s, sink {total / sink_seconds:,.0f}/s, "
                      f"registry requests {requests}, CPU s per 1M: source {source_cpu * 1e6 / total:.2f}, "
                      f"sink {sink_cpu * 1e6 / total:.2f}", file=sys.stderr)
                results.append((run, kind, source_seconds, sink_seconds, requests, source_cpu, sink_cpu))
                os.remove(out)
        consumer.close()

        print("| run | converter | source records/s | sink records/s | registry requests "
              "| Sluice CPU s per 1M, source | Sluice CPU s per 1M, sink |")
        print("|---|---|---|---|---|---|---|")
        for run, kind, source, sink, requests, source_cpu, sink_cpu in results:
            print(f"| {run} | {kind} | {total / source:,.0f} | {total / sink:,.0f} | {requests if kind == 'avro' else '-'} "
                  f"| {source_cpu * 1e6 / total:.2f} | {sink_cpu * 1e6 / total:.2f} |")
        by = {(run, kind): (source, sink, source_cpu, sink_cpu)
              for run, kind, source, sink, _, source_cpu, sink_cpu in results}
        print("\n| run | source Avro/String | sink Avro/String | source CPU String/Avro | sink CPU String/Avro "
              "| source and sink CPU String/Avro |")
        print("|---|---|---|---|---|---|")
        for run in range(1, RUNS + 1):
            if (run, "avro") in by and (run, "string") in by:
                (a_src, a_sink, a_src_cpu, a_sink_cpu) = by[(run, "avro")]
                (s_src, s_sink, s_src_cpu, s_sink_cpu) = by[(run, "string")]
                # The String sink writes text the String source already formatted; the Avro sink
                # formats each struct itself. Both stages together compare the same work.
                a_both, s_both = a_src_cpu + a_sink_cpu, s_src_cpu + s_sink_cpu
                print(f"| {run} | {s_src / a_src:.2f}x | {s_sink / a_sink:.2f}x "
                      f"| {s_src_cpu / a_src_cpu:.2f}x | {s_sink_cpu / a_sink_cpu:.2f}x | {s_both / a_both:.2f}x |")
                for stage, avro, string in (("source", a_src, s_src), ("sink", a_sink, s_sink)):
                    benchlib.record(f"AvroConverter: {stage} (run {run})", total / avro,
                                    "records/s", "StringConverter, same pipeline",
                                    total / string, "python3 bench/avro.py")
                for stage, avro, string in (("source", a_src_cpu, s_src_cpu), ("sink", a_sink_cpu, s_sink_cpu),
                                            ("source and sink", a_both, s_both)):
                    benchlib.record(f"AvroConverter: Sluice CPU s per 1M records, {stage} (run {run})",
                                    avro * 1e6 / total, "s", "StringConverter, same pipeline",
                                    string * 1e6 / total, "python3 bench/avro.py", higher_is_better=False)
        print(f"\n{FILES} files x {LINES} CSV rows of 100 bytes (six typed fields); SpoolDirCsvSourceConnector, then "
              f"FileStreamSink; the same process, alternating order; page cache dropped before each source run: "
              f"{benchlib.drop_caches()}")
    finally:
        if process is not None:
            benchlib.stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
