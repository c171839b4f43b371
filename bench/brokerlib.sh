# Sourced by the shell benchmarks that start a broker and read its log.

# wait_for_broker NAME PORT PID LOG: waits until the broker answers a metadata request; stops the
# benchmark at once, with the end of the broker's log, if it exits first (a Tansu built without
# `--features dynostore` does), or after five minutes (loading a large log after kill -9 can take
# tens of seconds).
wait_for_broker() {
    local name=$1 port=$2 pid=$3 log=$4 deadline=$((SECONDS + 300))
    while [ "$SECONDS" -lt "$deadline" ]; do
        kcat -b "127.0.0.1:$port" -m 1 -L >/dev/null 2>&1 && return 0
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "$name exited before answering on port $port; its log ends:" >&2
            tail -5 "$log" >&2
            exit 1
        fi
        sleep 0.05
    done
    echo "$name did not answer on port $port within five minutes" >&2
    exit 1
}

# load_ms LOG: how long the broker took to load its log at start.
load_ms() { sed -n 's/.*log loaded.*elapsed_ms=\([0-9]*\).*/\1/p' "$1" | head -1; }

# checked_mb LOG: the MB recovery read and CRC-checked at start, over all partitions.
checked_mb() {
    sed -n 's/.*segment recovered.*checked_bytes=\([0-9]*\).*/\1/p' "$1" |
        awk '{ s += $1 } END { if (NR) printf "%.0f", s / 1e6; else printf "not reported" }'
}
