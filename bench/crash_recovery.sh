#!/usr/bin/env bash
# How long the broker takes to load its log after kill -9, and how much of it it re-reads.
#
#   bash bench/crash_recovery.sh                       four producers x 1 GB, then the crashes below
#   LARGE=20000 bash bench/crash_recovery.sh           a quicker run (4 x 200 MB)
#   SLUICE=path/to/other/sluice bash bench/crash_recovery.sh    another build, for a before/after
#   COLD=1 bash bench/crash_recovery.sh                the page cache dropped before each restart
#                                                      (root only), so the log is read from disk
#
# Four kcat producers write 10 KB records at acks=all, one partition each; then the broker is
# killed (SIGKILL) and restarted: right after the writes, again after more than the recovery
# point interval (log.flush.offset.checkpoint.interval.ms, 60 s by default) with no writes in
# between, after a clean restart, and after a kill -9 that follows a clean restart. Each start's
# "log loaded" time is printed, with the bytes it CRC-checked. Not in bench/all.sh: it waits
# out the 60 s interval.
set -euo pipefail

LARGE=${LARGE:-100000}
COLD=${COLD:-}
PORT=${PORT:-29099}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=${SLUICE:-$ROOT/target/release/sluice}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-crash.XXXXXX")
BROKER_PID=
cleanup() {
    [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$SLUICE" ] || { echo "build first: cargo build --release --bin sluice" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat is not installed" >&2; exit 1; }

source "$ROOT/bench/brokerlib.sh"

python3 - "$WORK/large.txt" "$LARGE" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    for i in range(int(sys.argv[2])):
        f.write(f"{i:020d}" + "y" * 10219 + "\n")
PY

start_broker() {
    if [ -n "$COLD" ]; then
        sync
        echo 3 > /proc/sys/vm/drop_caches
    fi
    RUST_LOG=info "$SLUICE" broker \
        --override "log.dirs=$WORK/data" \
        --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
        --override "num.partitions=4" 2>"$WORK/broker.log" &
    BROKER_PID=$!
    wait_for_broker Sluice "$PORT" "$BROKER_PID" "$WORK/broker.log"
}
stop_broker() { kill "-$1" "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null || true; BROKER_PID=; }
row() { echo "| $1 | $(load_ms "$WORK/broker.log") | $(checked_mb "$WORK/broker.log") |"; }

start_broker
kcat -b "127.0.0.1:$PORT" -L -t crash >/dev/null 2>&1 || true
producers=()
for p in 0 1 2 3; do
    kcat -b "127.0.0.1:$PORT" -P -t crash -p "$p" -X acks=all -l "$WORK/large.txt" &
    producers+=($!)
done
wait "${producers[@]}"

echo "| restart | log loaded in ms | MB CRC-checked |"
echo "|---|---:|---:|"
stop_broker KILL; start_broker; row "kill -9 right after the writes"
sleep 65
stop_broker KILL; start_broker; row "kill -9 65 s later, nothing written in between"
stop_broker TERM; start_broker; row "clean shutdown"
stop_broker KILL; start_broker; row "kill -9 after a clean restart"
stop_broker TERM
echo
echo "Data: $(du -sh "$WORK/data" | cut -f1) in 4 partitions; $("$SLUICE" --version 2>/dev/null || echo sluice)."
