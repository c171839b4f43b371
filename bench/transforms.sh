#!/usr/bin/env bash
# The five-transform chain of bench/spooldir.py on its own (bench/transform_chain.rs): ns per
# record for the chain and for each transform alone, against the same records dropped without
# a chain. Prints the example's Markdown table.
#
#   bash bench/transforms.sh
#   RECORDS=1000000 bash bench/transforms.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/record.sh
cargo build --release --example transform_chain >&2
table=$(target/release/examples/transform_chain "${RECORDS:-500000}")
echo "$table"
row() { echo "$table" | awk -F'|' -v name="$1" '$2 ~ name {gsub(/ /, "", $3); print $3}'; }
floor=$(row "none")
command='bash bench/transforms.sh'
for name in "five transforms" "InsertField" "ReplaceField" "Cast" "TimestampConverter" "RegexRouter"; do
    record "transforms alone: $name (ns per record)" "$(row "$name")" ns \
        "the records dropped, no transforms" "$floor" "$command" lower
done
