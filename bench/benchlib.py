"""What the benchmarks share: starting `sluice standalone`, calling a REST API, waiting with a
deadline, and stopping the Sluice process they started."""

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request


def start_standalone(sluice, work, broker_port, worker_port=0, registry_port=0, worker_overrides=()):
    """`sluice standalone` with its data and log (`sluice.log`) under `work`, on the given ports
    (0: any free one)."""
    args = [sluice, "standalone",
            "--override", f"listeners=PLAINTEXT://127.0.0.1:{broker_port}",
            "--override", f"log.dirs={work}/broker",
            "--worker-override", f"listeners=http://127.0.0.1:{worker_port}",
            "--registry-override", f"listeners=http://127.0.0.1:{registry_port}"]
    for override in worker_overrides:
        args += ["--worker-override", override]
    return subprocess.Popen(args, cwd=work, stdout=subprocess.DEVNULL,
                            stderr=open(os.path.join(work, "sluice.log"), "w"))


def cpu_seconds(pid):
    """User plus system CPU seconds a process has used so far. Steadier than wall time on these
    shared machines, and it counts every thread of the process (the embedded broker too)."""
    return stat_cpu_seconds(f"/proc/{pid}/stat")


def stat_cpu_seconds(path):
    """User plus system CPU seconds from a `/proc` stat file: a process's, or one thread's
    (`/proc/<pid>/task/<tid>/stat`)."""
    with open(path) as f:
        # The command name may hold spaces; the fields after it are fixed.
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drop_caches():
    """Writes back and drops the page cache (root only; otherwise does nothing), so each measured
    run starts from the same memory state. On these virtual machines writes into page cache that
    has grown into memory not touched before cost several times more kernel time (the broker's
    CPU per million records tripled over five consecutive runs, and came back after a drop)."""
    subprocess.run(["sync"], check=False)
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        return True
    except OSError:
        return False


def rest(port, method, path, body=None):
    """Calls the REST API on 127.0.0.1:`port`; returns the status and the parsed body."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        text = response.read()
        return response.status, json.loads(text) if text else None


def wait(what, check, interval, timeout):
    """Polls `check` until it returns something true; exits the benchmark after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(interval)
    sys.exit(f"timed out waiting for {what}")


def safe(f):
    """`f()`, or False when it raises (a service not up yet)."""
    try:
        return f()
    except Exception:
        return False


def stop(process):
    """SIGTERM, then SIGKILL if it has not exited within a minute."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()


# The typed CSV rows the spooldir and AvroConverter benchmarks send: six fields, 100 bytes a row.
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


def csv_row(n, i, lines):
    """Row `i` of file `n` (of `lines` rows each), 99 characters."""
    row = f"{n * lines + i},sensor-{i % 100:03d},{i * 0.25:.2f},{'true' if i % 2 else 'false'},2024-01-01T00:00:00,"
    return row + "n" * (99 - len(row))


def topic_end(consumer, topic):
    """The high watermark of partition 0 of `topic`; 0 while the topic does not exist yet."""
    from confluent_kafka import TopicPartition
    try:
        # Refreshes the client's metadata: the topic appears with the first record.
        consumer.list_topics(topic, timeout=5)
        return consumer.get_watermark_offsets(TopicPartition(topic, 0), timeout=5, cached=False)[1]
    except Exception as e:
        if "Unknown partition" not in str(e):
            print(f"watermark of {topic}: {e}", file=sys.stderr)
        return 0


def record(figure, value, unit, baseline, baseline_value, command, higher_is_better=True):
    """Adds one line to the table `bench/all.sh` writes (when it runs this benchmark, it names
    the file in BENCH_RESULTS): a figure, its in-run baseline or peer, and the command."""
    path = os.environ.get("BENCH_RESULTS")
    if not path:
        return
    with open(path, "a") as out:
        out.write(json.dumps({
            "figure": figure, "value": value, "unit": unit, "baseline": baseline,
            "baseline_value": baseline_value, "command": command,
            "higher_is_better": higher_is_better}) + "\n")
