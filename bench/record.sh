# Sourced by the shell benchmarks: `record FIGURE VALUE UNIT BASELINE BASELINE_VALUE COMMAND
# [lower]` adds one line to the table bench/all.sh writes, when it names the file in
# BENCH_RESULTS (see bench/benchlib.py's `record`).
record() {
    [ -n "${BENCH_RESULTS:-}" ] || return 0
    python3 - "$@" >> "$BENCH_RESULTS" <<'PY'
import json, sys
figure, value, unit, baseline, baseline_value, command = sys.argv[1:7]
number = lambda text: float(text) if text not in ("", "-") else None
print(json.dumps({"figure": figure, "value": number(value), "unit": unit, "baseline": baseline,
                  "baseline_value": number(baseline_value), "command": command,
                  "higher_is_better": len(sys.argv) < 8 or sys.argv[7] != "lower"}))
PY
}
