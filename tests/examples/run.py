#!/usr/bin/env python3
"""Runs every example's README as written and checks what it says you will see.

    python3 tests/examples/run.py path/to/sluice [example ...]

For each `examples/<name>/README.md`, in a fresh copy of the example's folder:

* ```sh blocks run in order in one bash session (`set -e`: a failing command fails the example),
  with the given `sluice` first on PATH;
* a block that is a single `sluice standalone|broker|worker|registry ...` command is a service a
  reader starts in a terminal of its own: it is started in the background and waited for (its
  "listening" log lines), and stopped with SIGTERM when the example ends;
* a ```text block after a sh block is what that block prints: each of its lines must appear in
  the output, in order, where `...` in a line stands for anything.

Every wait is bounded; an example taking longer than EXAMPLE_TIMEOUT seconds fails.
"""

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLE_TIMEOUT = 240
SERVICE_START_TIMEOUT = 30
MARKER = "=====sluice-example-block-{}====="

# The log lines that say each kind of service is ready.
READY = {
    "standalone": ["Connect REST API listening", "schema registry listening"],
    "broker": ["broker listening"],
    "worker": ["Connect REST API listening"],
    "registry": ["schema registry listening"],
}
SERVICE = re.compile(r"^sluice (standalone|broker|worker|registry)\b")


def blocks(readme):
    """The README's sh blocks, each with the text block that follows it (or None)."""
    fence = re.compile(r"^```(\w*)\s*$")
    found, kind, lines = [], None, []
    for line in open(readme, encoding="utf-8").read().splitlines():
        opened = fence.match(line)
        if kind is None and opened:
            kind, lines = opened.group(1), []
        elif kind is not None and line.strip() == "```":
            if kind == "sh":
                found.append(["\n".join(lines), None])
            elif kind == "text" and found and found[-1][1] is None:
                found[-1][1] = lines
            kind = None
        elif kind is not None:
            lines.append(line)
    return found


def matches(expected, line):
    parts = [re.escape(p) for p in expected.strip().split("...")]
    return re.search(".*".join(parts), line) is not None


def check_output(expected, output):
    """The first expected line not found in order, or None when all were."""
    lines = output.splitlines()
    at = 0
    for want in (w for w in expected if w.strip()):
        while at < len(lines) and not matches(want, lines[at]):
            at += 1
        if at == len(lines):
            return want
        at += 1
    return None


class Services:
    """The long-running commands an example starts, each in its own process group."""

    def __init__(self, cwd, env, logs):
        self.cwd, self.env, self.logs, self.running = cwd, env, logs, []

    def start(self, command, deadline):
        kind = SERVICE.match(command).group(1)
        log_path = os.path.join(self.logs, f"service-{len(self.running)}.log")
        log = open(log_path, "wb")
        process = subprocess.Popen(
            ["bash", "-c", command], cwd=self.cwd, env=self.env, stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
        self.running.append((command, process, log_path))
        wanted = READY[kind]
        until = min(deadline, time.monotonic() + SERVICE_START_TIMEOUT)
        while time.monotonic() < until:
            text = open(log_path, encoding="utf-8", errors="replace").read()
            if all(w in text for w in wanted):
                return None
            if process.poll() is not None:
                return f"`{command}` exited with {process.returncode}:\n{text}"
            time.sleep(0.05)
        return f"`{command}` was not ready within {SERVICE_START_TIMEOUT} s:\n" + open(
            log_path, encoding="utf-8", errors="replace").read()

    def stop(self):
        for command, process, log_path in reversed(self.running):
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def run_session(script, cwd, env, deadline):
    """Runs the sh blocks' commands in one bash: the process, its output, and whether it timed
    out. The output goes to a file, not a pipe: a command left running in the background (a
    receiver the README starts with `&`) holds it open after bash is done."""
    with tempfile.TemporaryFile() as out:
        process = subprocess.Popen(
            ["bash", "-c", script], cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True)
        timed_out = None
        try:
            process.wait(timeout=max(1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            timed_out = "timed out"
        # Whatever the commands left running in the background ends with them.
        try:
            os.killpg(process.pid, signal.SIGKILL if timed_out else signal.SIGTERM)
        except ProcessLookupError:
            pass
        process.wait()
        out.seek(0)
        return process, out.read().decode(errors="replace"), timed_out


def run_example(name, sluice_dir):
    """None when the example ran as written, else why not."""
    source = os.path.join(ROOT, "examples", name)
    work = tempfile.mkdtemp(prefix=f"sluice-example-{name}-")
    cwd = os.path.join(work, name)
    # What an earlier run in the folder left (see .gitignore) is not part of the example.
    shutil.copytree(source, cwd, ignore=shutil.ignore_patterns(
        "data", "input", "finished", "error", "*.db", "__pycache__"))
    env = dict(os.environ, PATH=sluice_dir + os.pathsep + os.environ["PATH"])
    services = Services(cwd, env, work)
    deadline = time.monotonic() + EXAMPLE_TIMEOUT
    try:
        pending = []  # (index, commands, expected) since the last service start
        for index, (commands, expected) in enumerate(blocks(os.path.join(source, "README.md"))):
            if SERVICE.match(commands.strip()) and "\n" not in commands.strip():
                problem = run_pending(pending, cwd, env, deadline)
                if problem:
                    return problem
                pending = []
                problem = services.start(commands.strip(), deadline)
                if problem:
                    return problem
            else:
                pending.append((index, commands, expected))
        return run_pending(pending, cwd, env, deadline)
    finally:
        services.stop()
        shutil.rmtree(work, ignore_errors=True)


def run_pending(pending, cwd, env, deadline):
    if not pending:
        return None
    script = "set -e\n"
    for index, commands, _ in pending:
        # On a line of its own even after output without a final newline (curl's).
        script += f"printf '\\n%s\\n' '{MARKER.format(index)}'\n{commands}\n"
    script += f"printf '\\n%s\\n' '{MARKER.format('end')}'\n"
    process, output, timed_out = run_session(script, cwd, env, deadline)
    sections = re.split(r"^=====sluice-example-block-(\w+)=====$", output, flags=re.M)
    by_block = dict(zip(sections[1::2], sections[2::2]))
    if timed_out:
        return f"timed out; output so far:\n{output}"
    if process.returncode != 0 or "end" not in by_block:
        return f"a command failed (exit {process.returncode}); output:\n{output}"
    for index, commands, expected in pending:
        if expected is None:
            continue
        missing = check_output(expected, by_block.get(str(index), ""))
        if missing is not None:
            return (f"the block\n{commands}\ndid not print the line\n  {missing}\n"
                    f"it printed:\n{by_block.get(str(index), '')}")
    return None


def main():
    sluice = os.path.realpath(sys.argv[1])
    names = sys.argv[2:] or sorted(
        d for d in os.listdir(os.path.join(ROOT, "examples"))
        if os.path.isfile(os.path.join(ROOT, "examples", d, "README.md")))
    failed = 0
    for name in names:
        started = time.monotonic()
        problem = run_example(name, os.path.dirname(sluice))
        took = time.monotonic() - started
        if problem:
            failed += 1
            print(f"FAILED: {name} ({took:.1f} s)\n{problem}\n", flush=True)
        else:
            print(f"ok: {name} ({took:.1f} s)", flush=True)
    print(f"examples: {len(names) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
