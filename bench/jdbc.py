#!/usr/bin/env python3
"""The JDBC connectors against PostgreSQL, each beside PostgreSQL's own COPY in the same run.

Sink: ROWS JSON records (with schemas) from a topic into a table through JdbcSinkConnector,
in insert and in upsert mode (batch.size 3000), against `COPY ... FROM` of the same rows from a
CSV file. Source: a table of SOURCE_ROWS rows into a topic through JdbcSourceConnector
(incrementing mode), against `COPY (SELECT ...) TO` of the same table. Rows/s of each and the
ratio to COPY.

    cargo build --release --bin sluice && python3 bench/jdbc.py
    ROWS=100000 SOURCE_ROWS=200000 python3 bench/jdbc.py

Needs PostgreSQL's server binaries (Debian's `postgresql`), psql and the confluent-kafka
Python package. The server runs in a temporary directory on its own port.
"""

import functools
import glob
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE", os.path.join(ROOT, "target", "release", "sluice"))
ROWS = int(os.environ.get("ROWS", "300000"))
SOURCE_ROWS = int(os.environ.get("SOURCE_ROWS", "1000000"))
BROKER_PORT = int(os.environ.get("PORT", "29592"))
REST_PORT = int(os.environ.get("REST_PORT", "28583"))
TIMEOUT = 1800

rest = functools.partial(benchlib.rest, REST_PORT)

SCHEMA = {"type": "struct", "name": "order", "optional": False, "fields": [
    {"field": "id", "type": "int64", "optional": False},
    {"field": "customer", "type": "string", "optional": False},
    {"field": "amount", "type": "double", "optional": False},
    {"field": "qty", "type": "int32", "optional": False},
    {"field": "note", "type": "string", "optional": True},
]}


def row(i):
    return {"id": i, "customer": f"customer-{i % 1000:04d}", "amount": i * 0.25, "qty": i % 7,
            "note": "n" * 40}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Postgres:
    """A PostgreSQL server in a temporary directory, as the `postgres` user under root."""

    def __init__(self, work):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
        if not bins:
            sys.exit("PostgreSQL's server binaries are not installed (apt-get install postgresql)")
        self.bin = os.path.dirname(bins[-1])
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        os.chmod(work, 0o777)
        os.chmod(self.dir, 0o777)
        self.port = free_port()
        self.as_server = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"] \
            if os.geteuid() == 0 else []
        data = os.path.join(self.dir, "data")
        subprocess.run(self.as_server + [f"{self.bin}/initdb", "-D", data, "-U", "postgres",
                                         "--auth=trust", "-E", "UTF8", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL)
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
        subprocess.run(self.as_server + [f"{self.bin}/pg_ctl", "-D", data, "-o", options, "-w",
                                         "-l", os.path.join(self.dir, "server.log"), "start"],
                       check=True, stdout=subprocess.DEVNULL)
        self.data = data

    def psql(self, sql):
        out = subprocess.run(["psql", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                              "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                             check=True, capture_output=True, text=True)
        return out.stdout.strip()

    def count(self, table):
        try:
            return int(self.psql(f"SELECT count(*) FROM {table}"))
        except subprocess.CalledProcessError:
            return 0

    def stop(self):
        subprocess.run(self.as_server + [f"{self.bin}/pg_ctl", "-D", self.data, "-m", "fast",
                                         "-w", "stop"], check=False, stdout=subprocess.DEVNULL)


def timed(what, start_it, done):
    began = time.monotonic()
    start_it()
    benchlib.wait(what, done, 0.05, TIMEOUT)
    return time.monotonic() - began


def main():
    from confluent_kafka import Consumer, Producer
    work = tempfile.mkdtemp(prefix="sluice-bench-jdbc-")
    pg = Postgres(work)
    sluice = benchlib.start_standalone(SLUICE, work, BROKER_PORT, REST_PORT)
    jdbc_url = f"jdbc:postgresql://127.0.0.1:{pg.port}/postgres?user=postgres"
    try:
        benchlib.wait("the worker", lambda: benchlib.safe(lambda: rest("GET", "/")), 0.1, 60)
        producer = Producer({"bootstrap.servers": f"127.0.0.1:{BROKER_PORT}", "linger.ms": 20,
                             "compression.type": "lz4"})
        for i in range(ROWS):
            value = json.dumps({"schema": SCHEMA, "payload": row(i)})
            while True:
                try:
                    producer.produce("orders", value.encode())
                    break
                except BufferError:
                    producer.poll(0.05)
        producer.flush(120)

        results = []
        for mode in ["insert", "upsert"]:
            table = f"orders_{mode}"
            config = {"connector.class": "io.confluent.connect.jdbc.JdbcSinkConnector",
                      "topics": "orders", "connection.url": jdbc_url,
                      "table.name.format": table, "auto.create": "true", "batch.size": "3000",
                      "insert.mode": mode,
                      "value.converter": "org.apache.kafka.connect.json.JsonConverter"}
            if mode == "upsert":
                config.update({"pk.mode": "record_value", "pk.fields": "id"})
            seconds = timed(f"{ROWS} rows in {table}",
                            lambda: rest("POST", "/connectors", {"name": f"sink-{mode}", "config": config}),
                            lambda: pg.count(table) >= ROWS)
            rest("DELETE", f"/connectors/sink-{mode}")
            results.append((f"JDBC sink, {mode}", ROWS, seconds))

        csv = os.path.join(work, "orders.csv")
        with open(csv, "w") as f:
            for i in range(ROWS):
                r = row(i)
                f.write(f"{r['id']},{r['customer']},{r['amount']},{r['qty']},{r['note']}\n")
        os.chmod(csv, 0o644)
        pg.psql("CREATE TABLE orders_copy (id BIGINT, customer TEXT, amount DOUBLE PRECISION, qty INT, note TEXT)")
        began = time.monotonic()
        pg.psql(f"\\copy orders_copy FROM '{csv}' CSV")
        copy_in = time.monotonic() - began

        pg.psql("CREATE TABLE source_rows (id BIGSERIAL PRIMARY KEY, customer TEXT NOT NULL, amount NUMERIC(12,2) NOT NULL, "
                "qty INT NOT NULL, at TIMESTAMP NOT NULL, note TEXT)")
        pg.psql(f"INSERT INTO source_rows (customer, amount, qty, at, note) SELECT 'customer-' || (i % 1000), i * 0.25, i % 7, "
                f"TIMESTAMP '2024-01-01' + i * INTERVAL '1 second', repeat('n', 40) FROM generate_series(1, {SOURCE_ROWS}) AS i")
        began = time.monotonic()
        pg.psql("\\copy (SELECT * FROM source_rows) TO '/dev/null'")
        copy_out = time.monotonic() - began
        consumer = Consumer({"bootstrap.servers": f"127.0.0.1:{BROKER_PORT}", "group.id": "bench"})
        source = {"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
                  "connection.url": jdbc_url, "mode": "incrementing",
                  "incrementing.column.name": "id", "table.whitelist": "source_rows",
                  "topic.prefix": "pg-", "batch.max.rows": "5000", "poll.interval.ms": "100"}
        seconds = timed(f"{SOURCE_ROWS} rows in pg-source_rows",
                        lambda: rest("POST", "/connectors", {"name": "source", "config": source}),
                        lambda: benchlib.topic_end(consumer, "pg-source_rows") >= SOURCE_ROWS)
        consumer.close()

        print(f"| What | Rows | Seconds | Rows/s | Against COPY |")
        print(f"|---|---:|---:|---:|---:|")
        copy_in_rate = ROWS / copy_in
        print(f"| PostgreSQL `COPY FROM` (baseline) | {ROWS} | {copy_in:.2f} | {copy_in_rate:,.0f} | 1.00 |")
        for name, rows, secs in results:
            rate = rows / secs
            print(f"| {name} (batch.size 3000) | {rows} | {secs:.2f} | {rate:,.0f} | {rate / copy_in_rate:.2f} |")
            benchlib.record(f"JDBC: {name}", rate, "rows/s", "PostgreSQL COPY FROM", copy_in_rate,
                            "python3 bench/jdbc.py")
        copy_out_rate = SOURCE_ROWS / copy_out
        rate = SOURCE_ROWS / seconds
        print(f"| PostgreSQL `COPY TO` (baseline) | {SOURCE_ROWS} | {copy_out:.2f} | {copy_out_rate:,.0f} | 1.00 |")
        print(f"| JDBC source, incrementing (batch.max.rows 5000) | {SOURCE_ROWS} | {seconds:.2f} | {rate:,.0f} | {rate / copy_out_rate:.2f} |")
        benchlib.record("JDBC: source, incrementing", rate, "rows/s", "PostgreSQL COPY TO",
                        copy_out_rate, "python3 bench/jdbc.py")
    finally:
        benchlib.stop(sluice)
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
