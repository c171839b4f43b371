#!/usr/bin/env python3
"""Renders the figures the benchmarks recorded (JSON lines, see benchlib.record) as one Markdown
table, and with --into puts it at the top of a file between two marker lines, replacing the table
there before.

    python3 bench/table.py results.jsonl [--into BENCHMARKS.md] [--date YYYY-MM-DD]
"""

import argparse
import datetime
import json

BEGIN = "<!-- bench/all.sh table: begin -->"
END = "<!-- bench/all.sh table: end -->"


def number(value, unit):
    if value is None:
        return "-"
    if unit == "s" or (unit == "ms" and abs(value) < 1):
        return f"{value:.3f} {unit}"
    if unit == "ms" or abs(value) < 100:
        return f"{value:,.1f} {unit}"
    return f"{value:,.0f} {unit}"


def table(rows, date):
    lines = [
        BEGIN,
        f"## All figures (`bash bench/all.sh`, {date}, 2 vCPU)",
        "",
        "Each figure beside its baseline or peer measured in the same run. The ratio is the figure",
        "over the baseline; for times (ms, and seconds of CPU) lower is better, and the ratio is the",
        "baseline over the figure, so above 1.00x is better everywhere. The sections below hold",
        "each benchmark's detail and history.",
        "",
        "| figure | value | baseline or peer (same run) | baseline value | ratio | command |",
        "|---|---:|---|---:|---:|---|",
    ]
    for row in rows:
        value, base = row["value"], row["baseline_value"]
        if value and base:
            ratio = value / base if row.get("higher_is_better", True) else base / value
            shown = f"{ratio:.2f}x"
        else:
            shown = "-"
        lines.append(
            f"| {row['figure']} | {number(value, row['unit'])} | {row['baseline']} | "
            f"{number(base, row['unit'])} | {shown} | `{row['command']}` |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("results")
    parser.add_argument("--into")
    parser.add_argument("--date", default=datetime.date.today().isoformat())
    args = parser.parse_args()
    with open(args.results) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    rendered = table(rows, args.date)
    if not args.into:
        print(rendered, end="")
        return
    with open(args.into) as f:
        text = f.read()
    if BEGIN in text and END in text:
        before, rest = text.split(BEGIN, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
    else:
        # Below the file's title line, above everything else.
        title, _, after = text.partition("\n")
        before = title + "\n\n"
    with open(args.into, "w") as f:
        f.write(before + rendered + "\n" + after)


if __name__ == "__main__":
    main()
