#!/usr/bin/env python3
"""Schema registry requests/s and p99 with wrk on 127.0.0.1 (wrk shares the machine):

- GET /schemas/ids/{id};
- re-registering an existing schema (POST /subjects/{s}/versions);
- a compatibility check against a 20-version subject under FULL_TRANSITIVE
  (POST /compatibility/subjects/{s}/versions).

Baseline: GET / of the same server in the same run (the HTTP stack with no registry work),
measured right before each request in each of ROUNDS rounds (default 3); the table has the
medians of the rates and of the per-round ratios.

    cargo build --release --bin sluice && python3 bench/registry.py
    DURATION=5 CONNECTIONS=16 ROUNDS=1 python3 bench/registry.py

Needs wrk (apt-get install wrk). Prints a Markdown table.
"""

import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import benchlib

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SLUICE = os.environ.get("SLUICE", os.path.join(ROOT, "target", "release", "sluice"))
DURATION = os.environ.get("DURATION", "5")
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CONNECTIONS = os.environ.get("CONNECTIONS", "32")
BROKER_PORT = int(os.environ.get("PORT", "29492"))
REGISTRY_PORT = int(os.environ.get("REGISTRY_PORT", "28481"))

rest = functools.partial(benchlib.rest, REGISTRY_PORT)


def median(values):
    values = sorted(values)
    return values[len(values) // 2]


def schema(fields):
    """A record with `fields` optional string fields after a required id: each one more is
    compatible both ways (it has a default), so versions chain under FULL_TRANSITIVE."""
    return json.dumps({
        "type": "record", "name": "Event", "namespace": "bench",
        "fields": [{"name": "id", "type": "long"}]
        + [{"name": f"f{i}", "type": ["null", "string"], "default": None} for i in range(fields)],
    })


def wrk(path, method="GET", body=None, work=None):
    """requests/s and p99 (ms) of wrk against `path`."""
    args = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{DURATION}s", "--latency"]
    if body is not None:
        script = os.path.join(work, f"request-{abs(hash(path))}.lua")
        with open(script, "w") as f:
            f.write(f'wrk.method = "{method}"\n')
            f.write(f"wrk.body = {json.dumps(json.dumps(body))}\n")
            f.write('wrk.headers["Content-Type"] = "application/vnd.schemaregistry.v1+json"\n')
        args += ["-s", script]
    out = subprocess.run(args + [f"http://127.0.0.1:{REGISTRY_PORT}{path}"],
                         capture_output=True, text=True, check=True).stdout
    if re.search(r"Non-2xx or 3xx responses", out):
        sys.exit(f"wrk saw error responses for {path}:\n{out}")
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)\b", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    return rate, p99


def main():
    if not os.access(SLUICE, os.X_OK):
        sys.exit("build first: cargo build --release --bin sluice")
    if shutil.which("wrk") is None:
        sys.exit("needs wrk: apt-get install wrk")
    work = tempfile.mkdtemp(prefix="sluice-registry-bench.")
    process = None
    try:
        process = benchlib.start_standalone(SLUICE, work, BROKER_PORT, registry_port=REGISTRY_PORT)
        benchlib.wait("the registry", lambda: benchlib.safe(lambda: rest("GET", "/")[0] == 200), 0.05, 120)

        _, first = rest("POST", "/subjects/lookup-value/versions", {"schema": schema(0)})
        status, _ = rest("PUT", "/config/chain-value", {"compatibility": "FULL_TRANSITIVE"})
        assert status == 200
        for n in range(20):
            status, _ = rest("POST", "/subjects/chain-value/versions", {"schema": schema(n)})
            assert status == 200, status
        assert rest("GET", "/subjects/chain-value/versions")[1] == list(range(1, 21))

        requests = [
            (f"GET /schemas/ids/{first['id']}", lambda: wrk(f"/schemas/ids/{first['id']}")),
            ("POST /subjects/lookup-value/versions (already registered)",
             lambda: wrk("/subjects/lookup-value/versions", "POST", {"schema": schema(0)}, work)),
            ("POST /compatibility/subjects/chain-value/versions (20 versions, FULL_TRANSITIVE)",
             lambda: wrk("/compatibility/subjects/chain-value/versions", "POST",
                         {"schema": schema(20)}, work)),
        ]
        # name -> [(rate, p99, the baseline's rate just before)] per round
        runs = {name: [] for name, _ in requests}
        for _ in range(ROUNDS):
            for name, run in requests:
                base, _ = wrk("/")
                rate, p99 = run()
                runs[name].append((rate, p99, base))
        bases = [base for results in runs.values() for _, _, base in results]
        print("| request | requests/s | p99 ms | GET / just before | ratio |")
        print("|---|---|---|---|---|")
        print(f"| GET / (baseline) | {median(bases):,.0f} | - | - | 1.00x |")
        rows = []
        for name, results in runs.items():
            rate = median([r for r, _, _ in results])
            p99 = median([p for _, p, _ in results])
            base = median([b for _, _, b in results])
            ratio = median([r / b for r, _, b in results])
            rows.append((name, rate, base))
            print(f"| {name} | {rate:,.0f} | {p99:.2f} | {base:,.0f} | {ratio:.2f}x |")
        print(f"\nwrk -t2 -c{CONNECTIONS} -d{DURATION}s on the same 2-vCPU machine as the registry; "
              f"medians of {ROUNDS} rounds, each request right after its own GET / run")
        command = "python3 bench/registry.py"
        for name, rate, base in rows:
            benchlib.record(f"registry: {name}", rate, "req/s", "GET / of the same server", base,
                            command)
    finally:
        if process is not None:
            benchlib.stop(process)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
