#!/usr/bin/env bash
# Interoperability suite: clients Sluice did not write (Debian's kcat, kafka-python,
# confluent-kafka) against a `sluice broker` started from examples/server.properties.
#
#   tests/interop/run.sh path/to/sluice
set -euo pipefail

SLUICE=$(realpath "${1:?usage: run.sh path/to/sluice}")
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-interop.XXXXXX")
BROKER_PID=
REGISTRY_PID=
STANDALONE_PID=
passed=0
failed=0
cleanup() {
    if [ -n "$STANDALONE_PID" ]; then kill "$STANDALONE_PID" 2>/dev/null || true; wait "$STANDALONE_PID" 2>/dev/null || true; fi
    if [ -n "$REGISTRY_PID" ]; then kill "$REGISTRY_PID" 2>/dev/null || true; wait "$REGISTRY_PID" 2>/dev/null || true; fi
    if [ -n "$BROKER_PID" ]; then kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# The address=... of the first log line containing the marker; waits up to 20 s for it.
address_in() {
    local log=$1 marker=$2 address=
    for _ in $(seq 400); do
        address=$(sed -n "s/.*$marker.*address=\([0-9.:]*\).*/\1/p" "$log" | head -1)
        [ -n "$address" ] && break
        sleep 0.05
    done
    echo "$address"
}

check() {
    local name=$1; shift
    if "$@"; then
        echo "ok: $name"; passed=$((passed + 1))
    else
        echo "FAILED: $name"; failed=$((failed + 1))
    fi
}

"$SLUICE" broker "$ROOT/examples/server.properties" \
    --override "log.dirs=$WORK/data" \
    --override "listeners=PLAINTEXT://127.0.0.1:0" \
    --override "advertised.listeners=PLAINTEXT://127.0.0.1:0" 2>"$WORK/broker.log" &
BROKER_PID=$!
BOOTSTRAP=$(address_in "$WORK/broker.log" "broker listening")
[ -n "$BOOTSTRAP" ] || { cat "$WORK/broker.log"; echo "broker did not start"; exit 1; }
echo "broker at $BOOTSTRAP; kcat: $(kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*' | head -1)"

kcat_metadata() { timeout 30 kcat -b "$BOOTSTRAP" -L | grep -q "broker 1 at $BOOTSTRAP"; }
check "kcat -L lists the broker" kcat_metadata

kcat_round_trip() {
    seq 1 100000 | sed 's/^/message-/' >"$WORK/in.txt"
    timeout 120 kcat -b "$BOOTSTRAP" -P -t kcat-100k -l "$WORK/in.txt" || return 1
    timeout 120 kcat -b "$BOOTSTRAP" -C -t kcat-100k -o beginning -e -q >"$WORK/out.txt" || return 1
    [ "$(wc -l <"$WORK/out.txt")" -eq 100000 ] && cmp -s <(sort "$WORK/in.txt") <(sort "$WORK/out.txt")
}
check "kcat -P then -C: 100k messages out, the same 100k back" kcat_round_trip

kcat_keys() {
    printf 'k1:v1\nk2:v2\nk1:v3\n' | timeout 30 kcat -b "$BOOTSTRAP" -P -t kcat-keys -K: -z lz4 || return 1
    local got
    got=$(timeout 30 kcat -b "$BOOTSTRAP" -C -t kcat-keys -o beginning -e -q -f '%k=%s\n' | sort | tr '\n' ' ')
    [ "$got" = "k1=v1 k1=v3 k2=v2 " ]
}
check "kcat keyed, lz4-compressed records" kcat_keys

sluice_cli() {
    "$SLUICE" topics create --bootstrap-server "$BOOTSTRAP" --topic cli --partitions 2 >/dev/null || return 1
    printf 'a:1\nb:2\n' | "$SLUICE" produce --bootstrap-server "$BOOTSTRAP" --topic cli --key-separator : --compression-codec zstd || return 1
    local got
    got=$(timeout 30 kcat -b "$BOOTSTRAP" -C -t cli -o beginning -e -q -f '%k=%s\n' | sort | tr '\n' ' ')
    [ "$got" = "a=1 b=2 " ]
}
check "sluice produce, read back by kcat" sluice_cli

check "kafka-python and confluent-kafka" timeout 600 python3 "$HERE/python_clients.py" "$BOOTSTRAP"
check "kafka-python and confluent-kafka consumer groups resume from commits" \
    timeout 600 python3 "$HERE/python_groups.py" "$BOOTSTRAP"
check "aiokafka: idempotent produce, group consume resuming from commits" \
    timeout 600 python3 "$HERE/aiokafka_client.py" "$BOOTSTRAP"

kcat_group() {
    seq 1 1000 | sed 's/^/grouped-/' >"$WORK/group.txt"
    timeout 60 kcat -b "$BOOTSTRAP" -P -t kcat-group -l "$WORK/group.txt" || return 1
    local first second
    first=$(timeout 60 kcat -b "$BOOTSTRAP" -G kcat-readers -X auto.offset.reset=earliest -e -q kcat-group | wc -l)
    printf 'late-1\nlate-2\n' | timeout 30 kcat -b "$BOOTSTRAP" -P -t kcat-group || return 1
    second=$(timeout 60 kcat -b "$BOOTSTRAP" -G kcat-readers -X auto.offset.reset=earliest -e -q kcat-group | tr '\n' ' ')
    echo "  first run read $first, second run read: $second"
    [ "$first" -eq 1000 ] && [ "$second" = "late-1 late-2 " ]
}
check "kcat -G consumes in a group and resumes from its commits" kcat_group

groups_lag() {
    local out
    out=$("$SLUICE" groups describe kcat-readers --bootstrap-server "$BOOTSTRAP") || return 1
    echo "$out" | sed 's/^/  /'
    echo "$out" | awk '$1 == "kcat-readers" && $2 == "kcat-group" { rows++; if ($6 != 0) bad++ } END { exit !(rows == 1 && bad == 0) }'
}
check "sluice groups describe shows committed offsets and zero LAG" groups_lag

"$SLUICE" registry \
    --override "kafkastore.bootstrap.servers=$BOOTSTRAP" \
    --override "listeners=http://127.0.0.1:0" 2>"$WORK/registry.log" &
REGISTRY_PID=$!
REGISTRY=$(address_in "$WORK/registry.log" "schema registry listening")
if [ -n "$REGISTRY" ]; then
    check "confluent-kafka SchemaRegistryClient, AvroSerializer and AvroDeserializer" \
        timeout 300 python3 "$HERE/registry_clients.py" "$BOOTSTRAP" "http://$REGISTRY"
    kill -TERM "$REGISTRY_PID"
    wait "$REGISTRY_PID" || true
else
    cat "$WORK/registry.log"
    echo "FAILED: the schema registry did not start"; failed=$((failed + 1))
fi
REGISTRY_PID=

# AvroConverter in a worker, with the embedded registry of `sluice standalone` as its default.
mkdir -p "$WORK/standalone"
(cd "$WORK/standalone" && exec "$SLUICE" standalone \
    --override "log.dirs=$WORK/standalone/broker" \
    --override "listeners=PLAINTEXT://127.0.0.1:0" \
    --worker-override "listeners=http://127.0.0.1:0" \
    --worker-override "offset.flush.interval.ms=200" \
    --registry-override "listeners=http://127.0.0.1:0") 2>"$WORK/standalone.log" &
STANDALONE_PID=$!
S_BOOTSTRAP=$(address_in "$WORK/standalone.log" "broker listening")
S_REST=$(address_in "$WORK/standalone.log" "Connect REST API listening")
S_REGISTRY=$(address_in "$WORK/standalone.log" "schema registry listening")
if [ -n "$S_REST" ] && [ -n "$S_REGISTRY" ]; then
    check "AvroConverter: spooldir to AvroDeserializer, AvroSerializer to sinks, schema evolution" \
        timeout 300 python3 "$HERE/avro_connect.py" "$S_BOOTSTRAP" "http://$S_REST" "http://$S_REGISTRY" \
        "$WORK/standalone" "$SLUICE"
else
    cat "$WORK/standalone.log"
    echo "FAILED: sluice standalone did not start"; failed=$((failed + 1))
fi
kill -TERM "$STANDALONE_PID"
wait "$STANDALONE_PID" || true
STANDALONE_PID=

kill -TERM "$BROKER_PID"
wait "$BROKER_PID" || true
BROKER_PID=
clean_stop() { grep -q "broker stopped cleanly" "$WORK/broker.log"; }
check "SIGTERM stops the broker cleanly" clean_stop

echo "interop: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
