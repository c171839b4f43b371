#!/usr/bin/env bash
# Broker throughput with a third-party client (kcat), against the disk's own sequential write
# bandwidth measured in the same run.
#
#   bench/broker.sh            1M x 100 B and 100k x 10 KB, acks=1 and acks=all
#   SMALL=200000 LARGE=20000 bench/broker.sh   a quicker run
#   ROUNDS=3 bench/broker.sh   every workload three times; the table records medians
#
# With TANSU=path/to/tansu (built with `cargo install tansu --features dynostore`; not in CI) the
# same workloads also run against Tansu's in-memory engine, in the same run, as a peer: both
# brokers run side by side and take turns going first in each round.
#
# On a virtual machine the first write to a page of memory the guest has never used costs the
# writer several times what later writes cost (here about 2.3 s of system time per GiB), and it is
# charged to whichever process writes first: Sluice filling the page cache, or Tansu growing its
# heap. So before anything is timed, 80 % of the available memory is written once and freed
# (about 45 s); WARM_MEMORY=0 skips that.
#
# Needs kcat (apt-get install kcat). If the confluent-kafka wheel is installed, kcat runs on its
# newer librdkafka (as in the reference figures); otherwise on the system one. Prints a Markdown
# table for BENCHMARKS.md.
set -euo pipefail

SMALL=${SMALL:-1000000}
LARGE=${LARGE:-100000}
PARTITIONS=${PARTITIONS:-4}
ROUNDS=${ROUNDS:-1}
PORT=${PORT:-29092}
PEER_PORT=${PEER_PORT:-29093}
TANSU=${TANSU:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
SLUICE=${SLUICE:-$ROOT/target/release/sluice}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
BROKER_PID=
PEER_PID=
cleanup() {
    [ -n "$PEER_PID" ] && kill "$PEER_PID" 2>/dev/null && wait "$PEER_PID" 2>/dev/null
    [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

[ -x "$SLUICE" ] || { echo "build first: cargo build --release --bin sluice" >&2; exit 1; }
command -v kcat >/dev/null || { echo "kcat is not installed" >&2; exit 1; }

# Prefer the librdkafka shipped in the confluent-kafka wheel, if present.
WHEEL_LIBS=$(python3 -c 'import confluent_kafka, os; print(os.path.dirname(os.path.dirname(confluent_kafka.__file__)) + "/confluent_kafka.libs")' 2>/dev/null || true)
if [ -n "$WHEEL_LIBS" ] && ls "$WHEEL_LIBS"/librdkafka-*.so.1 >/dev/null 2>&1; then
    mkdir -p "$WORK/lib"
    ln -s "$(ls "$WHEEL_LIBS"/librdkafka-*.so.1 | head -1)" "$WORK/lib/librdkafka.so.1"
    export LD_LIBRARY_PATH="$WORK/lib:$WHEEL_LIBS${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
fi
KCAT_VERSION=$(kcat -V 2>&1 | grep -o 'librdkafka [0-9.]*' | head -1)

source "$ROOT/bench/record.sh"
source "$ROOT/bench/brokerlib.sh"
now() { date +%s.%N; }
cpu_seconds() { awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15) / hz }' "/proc/$1/stat"; }
rss_mb() { awk '/VmRSS/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

if [ "${WARM_MEMORY:-1}" != 0 ]; then
    echo "memory: writing 80% of what is available once, so that no broker pays its first touch" >&2
    python3 -c '
avail = next(int(l.split()[1]) for l in open("/proc/meminfo") if l.startswith("MemAvailable")) * 1024
touched = b"\x01" * int(avail * 0.8)
' >&2
fi

echo "disk: dd 1 GiB with fdatasync" >&2
DD_OUT=$(dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=1024 conv=fdatasync 2>&1 | tail -1)
rm -f "$WORK/dd.tmp"
DD_SECONDS=$(echo "$DD_OUT" | awk -F, '{ print $(NF-1) }' | awk '{ print $1 }')
DISK_MBPS=$(calc "%.0f" "1073.741824 / $DD_SECONDS")

echo "data: $SMALL x 100 B and $LARGE x 10 KB" >&2
python3 - "$WORK" "$SMALL" "$LARGE" <<'PY'
import sys
work, small, large = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(f"{work}/small.txt", "w") as f:
    for i in range(small):
        f.write(f"{i:020d}" + "x" * 79 + "\n")
with open(f"{work}/large.txt", "w") as f:
    for i in range(large):
        f.write(f"{i:020d}" + "y" * 10219 + "\n")
PY

start_broker() {
    RUST_LOG=info "$SLUICE" broker \
        --override "log.dirs=$WORK/data" \
        --override "listeners=PLAINTEXT://127.0.0.1:$PORT" \
        --override "num.partitions=$PARTITIONS" 2>"$WORK/broker.log" &
    BROKER_PID=$!
    wait_for_broker Sluice "$PORT" "$BROKER_PID" "$WORK/broker.log"
}
start_broker
sleep 1
IDLE_RSS=$(rss_mb $BROKER_PID)

start_peer() {
    "$TANSU" broker --listener-url "tcp://127.0.0.1:$PEER_PORT" \
        --advertised-listener-url "tcp://127.0.0.1:$PEER_PORT" --storage-engine memory://tansu/ \
        --silent >"$WORK/tansu.log" 2>&1 &
    PEER_PID=$!
    wait_for_broker Tansu "$PEER_PORT" "$PEER_PID" "$WORK/tansu.log"
}
[ -n "$TANSU" ] && start_peer

echo "| round | broker | workload | acks | produce msg/s | produce MB/s | vs disk | broker CPU s per 1M produced | broker CPU s per 1M consumed | consume msg/s | consume MB/s | broker RSS after |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|"
# Each figure, one value per round: FIGURES["broker workload acks kind"]="v1 v2 ...".
declare -A FIGURES
# Sluice creates a topic on first metadata request (auto.create.topics.enable); Tansu does not.
create_topic() {
    if [ "$1" = tansu ]; then
        "$TANSU" topic create --broker "tcp://127.0.0.1:$2" --partitions "$PARTITIONS" "$3" >/dev/null
    else
        kcat -b "127.0.0.1:$2" -L -t "$3" >/dev/null 2>&1 || true
    fi
}
# run ROUND BROKER-LABEL PORT PID NAME FILE COUNT SIZE ACKS
run() {
    local round=$1 broker=$2 port=$3 pid=$4 name=$5 file=$6 count=$7 size=$8 acks=$9
    local topic="bench-$name-acks$acks-r$round"
    create_topic "$broker" "$port" "$topic"
    # What earlier runs left dirty is written back now, not during this run's timing and fsyncs.
    sync
    local cpu0 t0 t1 cpu1 t2 t3 cpu2 got
    cpu0=$(cpu_seconds "$pid"); t0=$(now)
    kcat -b "127.0.0.1:$port" -P -t "$topic" -X "acks=$acks" -l "$file"
    t1=$(now); cpu1=$(cpu_seconds "$pid")
    t2=$(now)
    # -c stops at the last message; -e would add the client's fetch.wait.max.ms (500 ms) at the end.
    kcat -b "127.0.0.1:$port" -C -t "$topic" -c "$count" -o beginning -q >/dev/null
    t3=$(now); cpu2=$(cpu_seconds "$pid")
    got=$(kcat -b "127.0.0.1:$port" -C -t "$topic" -e -o beginning -q -f '\n' | wc -l)
    [ "$got" -eq "$count" ] || { echo "$topic: consumed $got of $count" >&2; exit 1; }
    local p_rate c_rate p_mb c_mb p_cpu c_cpu key="$broker $name $acks"
    p_rate=$(calc "%.0f" "$count / ($t1 - $t0)")
    c_rate=$(calc "%.0f" "$count / ($t3 - $t2)")
    p_mb=$(calc "%.1f" "$count * $size / 1e6 / ($t1 - $t0)")
    c_mb=$(calc "%.1f" "$count * $size / 1e6 / ($t3 - $t2)")
    p_cpu=$(calc "%.3f" "($cpu1 - $cpu0) * 1e6 / $count")
    c_cpu=$(calc "%.3f" "($cpu2 - $cpu1) * 1e6 / $count")
    FIGURES["$key rate"]+=" $p_rate"
    FIGURES["$key mb"]+=" $p_mb"
    FIGURES["$key pcpu"]+=" $p_cpu"
    FIGURES["$key ccpu"]+=" $c_cpu"
    echo "| $round | $broker | $name | $acks | $p_rate | $p_mb | $(calc "%.2f" "$p_mb / $DISK_MBPS")x | $p_cpu | $c_cpu | $c_rate | $c_mb | $(rss_mb "$pid") MB |"
}
workloads() {
    for acks in 1 all; do
        run "$@" "${SMALL}x100B" "$WORK/small.txt" "$SMALL" 100 "$acks"
        run "$@" "${LARGE}x10KB" "$WORK/large.txt" "$LARGE" 10240 "$acks"
    done
}
for round in $(seq "$ROUNDS"); do
    if [ -z "$TANSU" ]; then
        workloads "$round" sluice "$PORT" "$BROKER_PID"
    elif [ $((round % 2)) -eq 1 ]; then
        workloads "$round" sluice "$PORT" "$BROKER_PID"
        workloads "$round" tansu "$PEER_PORT" "$PEER_PID"
    else
        workloads "$round" tansu "$PEER_PORT" "$PEER_PID"
        workloads "$round" sluice "$PORT" "$BROKER_PID"
    fi
done
[ -n "$PEER_PID" ] && { kill "$PEER_PID"; wait "$PEER_PID" 2>/dev/null || true; PEER_PID=; }
# figure BROKER WORKLOAD ACKS KIND: the median over the rounds.
figure() { median ${FIGURES["$1 $2 $3 $4"]}; }
for acks in 1 all; do
    for name in "${SMALL}x100B" "${LARGE}x10KB"; do
        record "broker: produce $name acks=$acks (kcat)" "$(figure sluice "$name" "$acks" mb)" MB/s \
            "disk, dd with fdatasync" "$DISK_MBPS" "bash bench/broker.sh"
    done
done
if [ -n "$TANSU" ]; then
    echo
    echo "Medians over $ROUNDS round(s), ${SMALL}x100B:"
    echo
    echo "| acks | Sluice msg/s | Tansu msg/s | ratio | Sluice CPU s per 1M produced | Tansu | Sluice CPU s per 1M consumed | Tansu |"
    echo "|---|---|---|---|---|---|---|---|"
    peer="Tansu $("$TANSU" --version 2>/dev/null | awk '{ print $NF }'), memory engine"
    for acks in 1 all; do
        name="${SMALL}x100B"
        s_rate=$(figure sluice "$name" "$acks" rate); t_rate=$(figure tansu "$name" "$acks" rate)
        s_pcpu=$(figure sluice "$name" "$acks" pcpu); t_pcpu=$(figure tansu "$name" "$acks" pcpu)
        s_ccpu=$(figure sluice "$name" "$acks" ccpu); t_ccpu=$(figure tansu "$name" "$acks" ccpu)
        echo "| $acks | $s_rate | $t_rate | $(calc "%.2f" "$s_rate / $t_rate")x | $s_pcpu | $t_pcpu | $s_ccpu | $t_ccpu |"
        command="TANSU=... ROUNDS=$ROUNDS bash bench/broker.sh"
        record "broker: produce $name acks=$acks (msg/s)" "$s_rate" msg/s "$peer" "$t_rate" "$command"
        record "broker: CPU s per 1M produced, $name acks=$acks" "$s_pcpu" s "$peer" "$t_pcpu" "$command" lower
        record "broker: CPU s per 1M consumed, $name acks=$acks" "$s_ccpu" s "$peer" "$t_ccpu" "$command" lower
    done
fi
# Not client-bound: four producers at once, one per partition, 10 KB records at acks=all, against
# what the disk writes when every write must reach it (dd, oflag=dsync) in the same run.
DSYNC_OUT=$(dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count=256 oflag=dsync 2>&1 | tail -1)
rm -f "$WORK/dd.tmp"
DSYNC_MBPS=$(calc "%.0f" "268.435456 / $(echo "$DSYNC_OUT" | awk -F, '{ print $(NF-1) }' | awk '{ print $1 }')")
kcat -b "127.0.0.1:$PORT" -L -t bench-four-producers >/dev/null 2>&1 || true
producers=()
t0=$(now)
for p in 0 1 2 3; do
    kcat -b "127.0.0.1:$PORT" -P -t bench-four-producers -p "$p" -X acks=all -l "$WORK/large.txt" &
    producers+=($!)
done
wait "${producers[@]}"
t1=$(now)
FOUR_MBPS=$(calc "%.1f" "4 * $LARGE * 10240 / 1e6 / ($t1 - $t0)")
echo
echo "Four producers at once, one per partition, $LARGE x 10 KB each, acks=all: $FOUR_MBPS MB/s; dd with oflag=dsync: $DSYNC_MBPS MB/s ($(calc "%.2f" "$FOUR_MBPS / $DSYNC_MBPS")x)."
record "broker: four producers, 10 KB records, acks=all" "$FOUR_MBPS" MB/s "disk, dd with oflag=dsync" \
    "$DSYNC_MBPS" "bash bench/broker.sh"

LOADED_RSS=$(rss_mb $BROKER_PID)
# A crash right after the last writes: what was written since each partition's last recovery
# point (log.flush.offset.checkpoint.interval.ms, 60 s) is read back and CRC-checked.
kill -KILL $BROKER_PID; wait $BROKER_PID 2>/dev/null || true
start_broker
CRASH_LOAD_MS=$(load_ms "$WORK/broker.log")
CHECKED_MB=$(checked_mb "$WORK/broker.log")
kill -TERM $BROKER_PID; wait $BROKER_PID || true
start_broker
sleep 1
CLEAN_LOAD_MS=$(load_ms "$WORK/broker.log")
RESTARTED_RSS=$(rss_mb $BROKER_PID)

echo
echo "Broker RSS: $IDLE_RSS MB idle and empty; $LOADED_RSS MB after the runs above; $RESTARTED_RSS MB idle after a restart holding $(du -sh "$WORK/data" | cut -f1) of data."
echo "Log load at start: $CLEAN_LOAD_MS ms after a clean shutdown; $CRASH_LOAD_MS ms after kill -9 right after the last writes, CRC-checking the $CHECKED_MB MB written since the partitions' recovery points."
echo "Disk sequential write (dd 1 GiB, fdatasync): $DISK_MBPS MB/s. Client: kcat with $KCAT_VERSION. Broker idle RSS: $IDLE_RSS MB; data stored: $(du -sh "$WORK/data" | cut -f1). $PARTITIONS partitions per topic. Memory written once before timing: $([ "${WARM_MEMORY:-1}" != 0 ] && echo yes || echo no)."
