#!/usr/bin/env bash
# Every benchmark of the project, one after the other, then one table of their figures (each
# beside its in-run baseline or peer, with the ratio and the command) put at the top of
# BENCHMARKS.md. Each benchmark's own output is kept under bench/out/ (not committed).
#
#   bash bench/all.sh
#   ONLY="registry.py startup.sh" bash bench/all.sh     some of them; the table holds only theirs
#   TANSU=path/to/tansu bash bench/all.sh     the broker also against Tansu's in-memory engine
#
# Needs kcat, wrk, PostgreSQL's server binaries and confluent-kafka (as .ci/run installs them,
# plus wrk). Takes about half an hour on 2 vCPUs.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --bin sluice --example client_ceiling

ALL="broker.sh latency.py groups.sh startup.sh registry.py connect.py spooldir.py transforms.sh avro.py jdbc.py http_sink.py"
OUT=bench/out
mkdir -p "$OUT"
# Absolute: some benchmarks work from their own temporary directory.
export BENCH_RESULTS="$PWD/$OUT/results.jsonl"
: > "$BENCH_RESULTS"
failed=()
for bench in ${ONLY:-$ALL}; do
    echo "== $bench" >&2
    case $bench in
        *.sh) runner=bash ;;
        *.py) runner=python3 ;;
    esac
    # The spooldir benchmark also measures the transform chain when asked for it; three runs,
    # as one run's ratio moves by more than the chain's cost.
    extra=()
    [ "$bench" = spooldir.py ] && extra=(env KINDS=lines,rows,chain "RUNS=${SPOOLDIR_RUNS:-3}")
    # The broker's figures are medians over rounds, each broker taking turns going first.
    [ "$bench" = broker.sh ] && extra=(env "ROUNDS=${BROKER_ROUNDS:-3}")
    if ! timeout 1800 "${extra[@]}" "$runner" "bench/$bench" > "$OUT/${bench%.*}.md" 2> "$OUT/${bench%.*}.log"; then
        echo "FAILED: $bench (see $OUT/${bench%.*}.log)" >&2
        failed+=("$bench")
    fi
done
python3 bench/table.py "$BENCH_RESULTS" --into BENCHMARKS.md
python3 bench/table.py "$BENCH_RESULTS"
if [ ${#failed[@]} -gt 0 ]; then
    echo "benchmarks that failed: ${failed[*]}" >&2
    exit 1
fi
