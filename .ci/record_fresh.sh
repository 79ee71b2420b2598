#!/usr/bin/env bash
# Record fresh kernel traces with new random seeds and check that the model
# accepts every one of them.
#
#   .ci/record_fresh.sh            (as root; run from anywhere)
#
# Records COUNT (default 5) traces of STEPS (default 25) random events from the
# live kernel into build/fresh/seed<S>.jsonl (the kernel harness,
# checker/harness.py, in network namespaces of its own), printing the seeds,
# then runs `check-spec trace FILE` on each.  Every file is kept in
# build/fresh/.
#
# Exit status: 0 all accepted; 1 some trace rejected (its seed and file are
# printed; re-record the same scenario with
# `check-spec record --seed S --steps STEPS --out FILE`); 2 a recording could not
# be made (not root, no netns, ...).
#
# Environment: BIN (default .venv/bin) holds python and check-spec;
# COUNT, STEPS as above.
set -u -o pipefail

cd "$(dirname "$0")/.."
BIN="${BIN:-.venv/bin}"
COUNT="${COUNT:-5}"
STEPS="${STEPS:-25}"
OUT=build/fresh
mkdir -p "$OUT"

seeds=()
for _ in $(seq 1 "$COUNT"); do
    # a new random seed: 31 bits from the kernel's random pool
    seeds+=("$(( $(od -An -N4 -tu4 /dev/urandom | tr -d ' ') & 0x7fffffff ))")
done
echo "record_fresh: seeds: ${seeds[*]} ($STEPS steps each, into $OUT/)"

files=()
for seed in "${seeds[@]}"; do
    f="$OUT/seed$seed.jsonl"
    if ! "$BIN/python" -m nudspec.checker.harness record --seed "$seed" --steps "$STEPS" --out "$f"; then
        echo "record_fresh: could not record seed $seed" >&2
        exit 2
    fi
    files+=("$f")
done

status=0
for i in "${!files[@]}"; do
    f="${files[$i]}"
    seed="${seeds[$i]}"
    if "${BIN:-.venv/bin}/check-spec" trace "$f"; then
        echo "record_fresh: seed $seed accepted ($f)"
    else
        echo "record_fresh: REJECTED: seed $seed (trace kept in $f)" >&2
        status=1
    fi
done
exit "$status"
