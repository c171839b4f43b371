#!/usr/bin/env bash
# How long `sluice standalone` takes to answer GET /connectors and GET /subjects after it is
# started: on an empty data directory, and on a restart with a connector and a schema stored.
# Median, min and max of RUNS starts each, in milliseconds, from the command to both answering
# (probed every few milliseconds).
#
#   cargo build --release --bin sluice && bash bench/startup.sh
#   RUNS=20 bash bench/startup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SLUICE=${SLUICE:-target/release/sluice}
RUNS=${RUNS:-10}
BROKER=39392 REST=38393 REGISTRY=38391
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

now_ms() { date +%s%3N; }

# Whether GET $2 on 127.0.0.1:$1 answers 200, through bash's /dev/tcp: no process is started,
# so probing costs well under a millisecond.
answers() {
    local status
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' "$2" >&3
    read -r status <&3 || true
    exec 3<&- 3>&-
    [[ $status == *" 200 "* ]]
}

# Starts Sluice on $1, prints the milliseconds until both services answered; with "store",
# leaves a connector and a schema behind. Stops it.
start_once() {
    local data=$1 begin ready=""
    begin=$(now_ms)
    "$SLUICE" standalone --override "listeners=PLAINTEXT://127.0.0.1:$BROKER" \
        --override "log.dirs=$data/broker" --worker-override "listeners=http://127.0.0.1:$REST" \
        --registry-override "listeners=http://127.0.0.1:$REGISTRY" 2>>"$work/sluice.log" &
    local pid=$!
    for _ in $(seq 1 5000); do
        if answers "$REST" /connectors 2>/dev/null && answers "$REGISTRY" /subjects 2>/dev/null; then
            ready=$(( $(now_ms) - begin ))
            break
        fi
        sleep 0.002
    done
    if [ "${2:-}" = "store" ]; then
        curl -sf -o /dev/null -X POST -H 'Content-Type: application/json' \
            --data "{\"name\":\"lines\",\"config\":{\"connector.class\":\"FileStreamSource\",\"file\":\"$data/in.txt\",\"topic\":\"lines\"}}" \
            "http://127.0.0.1:$REST/connectors"
        curl -sf -o /dev/null -X POST -H 'Content-Type: application/vnd.schemaregistry.v1+json' \
            --data '{"schema":"\"string\""}' "http://127.0.0.1:$REGISTRY/subjects/lines-value/versions"
    fi
    if [ -z "$ready" ]; then
        # Why it never answered: the end of what Sluice said.
        tail -n 20 "$work/sluice.log" >&2
    fi
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" || true
    echo "${ready:?never answered}"
}

# Median, min and max of the numbers on stdin.
summary() {
    sort -n | awk '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2] + v[NR/2+1]) / 2; printf "%s | %s | %s", m, v[1], v[NR]}'
}

empty=() restart=()
for i in $(seq 1 "$RUNS"); do
    data="$work/empty-$i"
    mkdir -p "$data"
    empty+=("$(start_once "$data" store)")
    restart+=("$(start_once "$data")")
done

echo "| Start ($RUNS runs) | GET /connectors and GET /subjects answering: median ms | min | max |"
echo "|---|---:|---:|---:|"
printf '| empty data directory | %s |\n' "$(printf '%s\n' "${empty[@]}" | summary)"
printf '| restart, a connector and a schema stored | %s |\n' "$(printf '%s\n' "${restart[@]}" | summary)"

source "$(dirname "$0")/record.sh"
median_of() { printf '%s\n' "$@" | summary | cut -d' ' -f1; }
record "start-up: REST API and registry answering, empty data directory (median ms)" \
    "$(median_of "${empty[@]}")" ms "target" 300 "bash bench/startup.sh" lower
record "start-up: REST API and registry answering, restart with data (median ms)" \
    "$(median_of "${restart[@]}")" ms "target" 300 "bash bench/startup.sh" lower
