#!/usr/bin/env bash
# Consumer group latency with `sluice standalone` defaults:
#  - time from starting kcat in a new group to its first message, against kcat reading the same
#    partition without a group (the baseline);
#  - time from creating a FileStreamSink (a new group `connect-<name>`) to the last of 1,000
#    records in its file, against kcat reading the same records without a group;
#  - rebalance time of a three-member group when one member leaves (bench/group_rebalance.py).
#
#   cargo build --release --bin sluice && bench/groups.sh
set -euo pipefail

PORT=${PORT:-29094}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=${SLUICE:-$ROOT/target/release/sluice}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-groups.XXXXXX")
PID=
cleanup() {
    [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
B="127.0.0.1:$PORT"

cd "$WORK"
REST=127.0.0.1:${REST_PORT:-28093}
# The sink's file is flushed at each offset commit: every 10 ms here, so the file shows the
# records soon after the sink has them.
RUST_LOG=warn "$SLUICE" standalone --override "listeners=PLAINTEXT://$B" \
    --worker-override "listeners=http://$REST" --worker-override offset.flush.interval.ms=10 \
    2>"$WORK/sluice.log" &
PID=$!
for _ in $(seq 100); do kcat -b "$B" -L >/dev/null 2>&1 && break; sleep 0.1; done
echo hello | kcat -b "$B" -P -t first-message

median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ms() { date +%s%N | cut -c1-13; }
for i in 1 2 3 4 5; do
    t0=$(ms); kcat -b "$B" -C -t first-message -o beginning -c 1 -q >/dev/null; t1=$(ms)
    echo $((t1 - t0)) >>"$WORK/plain"
    t0=$(ms); kcat -b "$B" -G "fresh-$i" -X auto.offset.reset=earliest -c 1 -q first-message >/dev/null; t1=$(ms)
    echo $((t1 - t0)) >>"$WORK/group"
done
lines() { if [ -f "$1" ]; then wc -l <"$1"; else echo 0; fi; }
seq 1000 | kcat -b "$B" -P -t sink-start
for _ in $(seq 100); do curl -sf "http://$REST/" >/dev/null && break; sleep 0.1; done
for i in 1 2 3 4 5; do
    t0=$(ms); kcat -b "$B" -C -t sink-start -o beginning -c 1000 -q >/dev/null; t1=$(ms)
    echo $((t1 - t0)) >>"$WORK/plain-sink"
    out="$WORK/sink-$i.txt"
    t0=$(ms)
    curl -sf -X POST -H 'Content-Type: application/json' "http://$REST/connectors" -d "{\"name\": \"sink-$i\",
        \"config\": {\"connector.class\": \"FileStreamSink\", \"topics\": \"sink-start\", \"file\": \"$out\",
        \"value.converter\": \"org.apache.kafka.connect.storage.StringConverter\"}}" >/dev/null
    for _ in $(seq 5000); do [ "$(lines "$out")" -ge 1000 ] && break; sleep 0.002; done
    t1=$(ms)
    echo $((t1 - t0)) >>"$WORK/sink"
    curl -sf -X DELETE "http://$REST/connectors/sink-$i" >/dev/null
done
SINK=$(median <"$WORK/sink")
PLAIN_SINK=$(median <"$WORK/plain-sink")
echo "New FileStreamSink, POST to 1,000 records in its file, median of 5: ${SINK} ms; kcat -C reading them without a group: ${PLAIN_SINK} ms"
PLAIN=$(median <"$WORK/plain")
GROUP=$(median <"$WORK/group")
echo "First message, new group (kcat -G), median of 5: ${GROUP} ms; without a group (kcat -C): ${PLAIN} ms; ratio $(awk "BEGIN { printf \"%.2f\", $GROUP / $PLAIN }")x"
source "$ROOT/bench/record.sh"
record "groups: first message in a new group (median ms)" "$GROUP" ms \
    "kcat -C without a group, same run" "$PLAIN" "bash bench/groups.sh" lower
record "groups: new FileStreamSink, POST to 1,000 records in its file (median ms)" "$SINK" ms \
    "kcat -C reading them without a group, same run" "$PLAIN_SINK" "bash bench/groups.sh" lower
python3 "$ROOT/bench/group_rebalance.py" "$B" 3000
python3 "$ROOT/bench/group_rebalance.py" "$B" 500
