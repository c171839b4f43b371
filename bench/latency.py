#!/usr/bin/env python3
"""Produce latency at acks=all against acks=1, on the same broker in the same run.

A confluent-kafka producer (linger.ms=0) sends one 1 KB record to each of four partitions and
waits for the four acknowledgements, SAMPLES times; the rounds take turns between acks=1 (answered
once written) and acks=all (answered once fsynced). The gap between the two is what waiting for
the disk costs a producer that writes to several partitions.

    cargo build --release --bin sluice && python3 bench/latency.py
    ROUNDS=5 SAMPLES=500 python3 bench/latency.py

Prints a Markdown table.
"""

import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE", os.path.join(ROOT, "target", "release", "sluice"))
PORT = int(os.environ.get("PORT", "29192"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
SAMPLES = int(os.environ.get("SAMPLES", "300"))
PARTITIONS = 4
COMMAND = "python3 bench/latency.py"


def wait_for_port(port, process, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the broker exited with {process.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"the broker did not listen on {port} within {timeout} s")


def percentiles(acks, topic):
    """p50 and p90 in ms of SAMPLES sends of one record to each partition, at `acks`."""
    from confluent_kafka import Producer
    producer = Producer({"bootstrap.servers": f"127.0.0.1:{PORT}", "acks": acks, "linger.ms": 0})
    failures = []

    def delivered(error, _message):
        if error is not None:
            failures.append(error)

    def send_one_each(value):
        for partition in range(PARTITIONS):
            producer.produce(topic, value, partition=partition, on_delivery=delivered)
        if producer.flush(30) != 0:
            sys.exit(f"acks={acks}: records still unacknowledged after 30 s")

    send_one_each(b"warm-up")
    times = []
    value = b"x" * 1000
    for _ in range(SAMPLES):
        start = time.perf_counter()
        send_one_each(value)
        times.append((time.perf_counter() - start) * 1000)
    if failures:
        sys.exit(f"acks={acks}: {len(failures)} records failed, first: {failures[0]}")
    times.sort()
    return times[len(times) // 2], times[len(times) * 9 // 10]


def main():
    work = tempfile.mkdtemp(prefix="sluice-latency.")
    broker = subprocess.Popen(
        [SLUICE, "broker", "--override", f"log.dirs={work}/data",
         "--override", f"listeners=PLAINTEXT://127.0.0.1:{PORT}",
         "--override", f"num.partitions={PARTITIONS}"],
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, "broker.log"), "w"))
    try:
        wait_for_port(PORT, broker)
        results = {"1": [], "all": []}
        print("| round | acks | p50 ms | p90 ms |")
        print("|---|---|---|---|")
        for round_ in range(1, ROUNDS + 1):
            order = ("1", "all") if round_ % 2 else ("all", "1")
            for acks in order:
                p50, p90 = percentiles(acks, f"latency-acks{acks}-r{round_}")
                results[acks].append((p50, p90))
                print(f"| {round_} | {acks} | {p50:.2f} | {p90:.2f} |")
        p50 = {acks: statistics.median(r[0] for r in rows) for acks, rows in results.items()}
        p90 = {acks: statistics.median(r[1] for r in rows) for acks, rows in results.items()}
        print(f"\nMedians over {ROUNDS} rounds of {SAMPLES} sends of one 1 KB record to each of "
              f"{PARTITIONS} partitions: acks=1 p50 {p50['1']:.2f} ms, p90 {p90['1']:.2f} ms; "
              f"acks=all p50 {p50['all']:.2f} ms, p90 {p90['all']:.2f} ms.")
        for name, figures in (("p50", p50), ("p90", p90)):
            benchlib.record(f"broker: acks=all latency, one record to each of 4 partitions ({name} ms)",
                            round(figures["all"], 3), "ms", "acks=1, same broker and run",
                            round(figures["1"], 3), COMMAND, higher_is_better=False)
    finally:
        benchlib.stop(broker)
        subprocess.run(["rm", "-rf", work], check=False)


if __name__ == "__main__":
    main()
