#!/usr/bin/env python3
"""Checks docker-compose.yml and the Dockerfile against the sluice binary, without Docker:

* every environment variable a Sluice service sets in the compose file has a prefix its command
  reads (KAFKA_ for the broker, CONNECT_ for the worker, SCHEMA_REGISTRY_ for the registry, all
  three for standalone), is listed in the README, and, with the image's own ENV, passes
  `sluice <command> --check` (every key known, every value valid);
* the image's command line, each service's command and every health check that runs `sluice`
  parse (`--help` with the same arguments).

    python3 tests/compose/check.py path/to/sluice
"""

import os
import shlex
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PREFIXES = {
    "standalone": ("KAFKA_", "CONNECT_", "SCHEMA_REGISTRY_"),
    "broker": ("KAFKA_",),
    "worker": ("CONNECT_",),
    "registry": ("SCHEMA_REGISTRY_",),
}


def dockerfile():
    """The image's ENV, ENTRYPOINT and CMD."""
    text = open(os.path.join(ROOT, "Dockerfile"), encoding="utf-8").read().replace("\\\n", " ")
    env, entrypoint, cmd = {}, [], []
    for line in text.splitlines():
        word, _, rest = line.strip().partition(" ")
        if word == "ENV":
            env.update(dict(pair.split("=", 1) for pair in shlex.split(rest)))
        elif word == "ENTRYPOINT":
            entrypoint = yaml.safe_load(rest)
        elif word == "CMD" and not rest.startswith("curl"):
            cmd = yaml.safe_load(rest)
    return env, entrypoint, cmd


def run(sluice, args, env):
    result = subprocess.run([sluice] + args, env=env, capture_output=True, text=True, timeout=30)
    return result.returncode, result.stdout + result.stderr


def main():
    sluice = os.path.realpath(sys.argv[1])
    image_env, entrypoint, cmd = dockerfile()
    compose = yaml.safe_load(open(os.path.join(ROOT, "docker-compose.yml"), encoding="utf-8"))
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    problems = []
    if entrypoint != ["sluice"]:
        problems.append(f"Dockerfile ENTRYPOINT is {entrypoint}, not [\"sluice\"]")
    code, output = run(sluice, cmd + ["--help"], {"PATH": os.environ["PATH"]})
    if code != 0:
        problems.append(f"the image's command `sluice {' '.join(cmd)}` does not parse:\n{output}")
    checked = 0
    for name, service in compose["services"].items():
        if service.get("image", "").split(":")[0] != "sluice":
            continue
        command = service.get("command", cmd)
        code, output = run(sluice, command + ["--help"], {"PATH": os.environ["PATH"]})
        if code != 0:
            problems.append(f"{name}: `sluice {' '.join(command)}` does not parse:\n{output}")
            continue
        env = {k: str(v) for k, v in (service.get("environment") or {}).items()}
        for variable in env:
            if not variable.startswith(PREFIXES[command[0]]):
                problems.append(f"{name}: sluice {command[0]} does not read {variable}")
            if variable not in readme:
                problems.append(f"{name}: {variable} is not listed in README.md")
        code, output = run(sluice, command + ["--check"], dict(image_env, **env))
        if code != 0:
            problems.append(f"{name}: its configuration does not check:\n{output}")
        test = (service.get("healthcheck") or {}).get("test", [])
        if test[1:2] == ["sluice"]:
            code, output = run(sluice, test[2:] + ["--help"], {"PATH": os.environ["PATH"]})
            if code != 0:
                problems.append(f"{name}: its health check does not parse:\n{output}")
        checked += 1
    for problem in problems:
        print(f"FAILED: {problem}")
    print(f"compose: {checked} Sluice services checked, {len(problems)} problems")
    sys.exit(1 if problems or checked == 0 else 0)


if __name__ == "__main__":
    main()
