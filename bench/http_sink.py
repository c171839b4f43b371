#!/usr/bin/env python3
"""The HTTP sink's requests/s and records/s against a local server that only counts, beside a
plain client sending the same requests to the same server in the same run.

RECORDS string records (100 bytes each) in a topic go to the server through
HttpSinkConnector with batch.max.size 1 and BATCH; the baseline is a Python http.client on one
keep-alive connection posting the same bodies one after another, which is what a hand-written
forwarder does. The server is asyncio, on its own thread, answering 200 with an empty body.

    cargo build --release --bin sluice && python3 bench/http_sink.py
    RECORDS=50000 BATCH=500 python3 bench/http_sink.py

Needs the confluent-kafka Python package.
"""

import asyncio
import functools
import http.client
import os
import shutil
import socket
import sys
import tempfile
import threading
import time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE", os.path.join(ROOT, "target", "release", "sluice"))
RECORDS = int(os.environ.get("RECORDS", "500000"))
SINGLES = int(os.environ.get("SINGLES", "20000"))
BATCH = int(os.environ.get("BATCH", "100"))
BROKER_PORT = int(os.environ.get("PORT", "29692"))
REST_PORT = int(os.environ.get("REST_PORT", "28683"))
TIMEOUT = 900

rest = functools.partial(benchlib.rest, REST_PORT)


class CountingServer:
    """Counts requests and records (each record's text starts with `record-`)."""

    def __init__(self):
        self.requests = 0
        self.records = 0
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        asyncio.run_coroutine_threadsafe(self.serve(sock), self.loop).result(10)

    async def serve(self, sock):
        self.server = await asyncio.start_server(self.connection, sock=sock)

    async def connection(self, reader, writer):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n"):
                    if line[:15].lower() == b"content-length:":
                        length = int(line[15:])
                body = await reader.readexactly(length) if length else b""
                if not self.requests:
                    self.first_at = time.monotonic()
                self.requests += 1
                self.records += body.count(b"record-")
                self.last_at = time.monotonic()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionResetError):
            writer.close()

    def reset(self):
        self.requests = 0
        self.records = 0
        self.first_at = self.last_at = 0.0


def value(i):
    text = f"record-{i:08d}-"
    return text + "x" * (100 - len(text))


def baseline(server, records, batch):
    """Posts `records` values in bodies of `batch`, one request after another."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port)
    began = time.monotonic()
    for start in range(0, records, batch):
        body = ",".join(value(i) for i in range(start, min(start + batch, records)))
        connection.request("POST", "/ingest", body=body, headers={"Content-Type": "text/plain"})
        connection.getresponse().read()
    connection.close()
    return time.monotonic() - began


def main():
    from confluent_kafka import Producer
    work = tempfile.mkdtemp(prefix="sluice-bench-http-")
    server = CountingServer()
    sluice = benchlib.start_standalone(SLUICE, work, BROKER_PORT, REST_PORT)
    try:
        benchlib.wait("the worker", lambda: benchlib.safe(lambda: rest("GET", "/")), 0.1, 60)
        producer = Producer({"bootstrap.servers": f"127.0.0.1:{BROKER_PORT}", "linger.ms": 20})
        for i in range(RECORDS):
            while True:
                try:
                    producer.produce("calls", value(i).encode())
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(120)
        rows = []
        for batch, records in [(1, SINGLES), (BATCH, RECORDS)]:
            server.reset()
            base = baseline(server, records, batch)
            server.reset()
            config = {"connector.class": "io.confluent.connect.http.HttpSinkConnector",
                      "topics": "calls", "http.api.url": f"http://127.0.0.1:{server.port}/ingest",
                      "value.converter": "org.apache.kafka.connect.storage.StringConverter",
                      "batch.max.size": str(batch),
                      "consumer.override.max.poll.records": "500"}
            name = f"http-{batch}"
            # Retried: a 409 while the worker is still taking the previous connector down.
            benchlib.wait(f"{name} created",
                          lambda: benchlib.safe(lambda: rest("POST", "/connectors", {"name": name, "config": config})),
                          0.05, 60)
            benchlib.wait(f"{records} records at the server", lambda: server.records >= records, 0.01, TIMEOUT)
            # From the first request to the last, at the server: the connector's start (a
            # consumer group join) is not the sink's speed.
            seconds = server.last_at - server.first_at
            requests = server.requests - 1
            rest("DELETE", f"/connectors/{name}")
            rows.append((batch, records, base, seconds, requests, records - batch))
        print("| batch.max.size | Records | Plain client req/s | Sluice req/s | Sluice records/s | Against the client |")
        print("|---:|---:|---:|---:|---:|---:|")
        for batch, records, base, seconds, requests, after_first in rows:
            base_rate = (records / batch) / base
            rate = requests / seconds
            print(f"| {batch} | {records} | {base_rate:,.0f} | {rate:,.0f} | {after_first / seconds:,.0f} | {rate / base_rate:.2f} |")
            benchlib.record(f"HTTP sink: batch.max.size {batch}", rate, "req/s",
                            "a plain keep-alive Python client", base_rate,
                            "python3 bench/http_sink.py")
    finally:
        benchlib.stop(sluice)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
