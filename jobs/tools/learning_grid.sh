#!/usr/bin/env bash
# Ablations of the learning check (learning_check.py) over seeds, run in parallel with one CPU thread each:
# the embedded default (init 0.1, RPO 1, 4 epochs), pure DPO, Llama's init 0.02, and 2 epochs.
#   PARALLEL=2 SEEDS="0 1" OUT=/tmp/grid bash jobs/tools/learning_grid.sh
# A machine with many cores runs the whole grid at once (PARALLEL=16). Logs: $OUT/<name>.log; a table of
# held-out exact agreement per iteration ends the output.
set -uo pipefail
cd "$(dirname "$0")/../.."
OUT=${OUT:-/tmp/learning-grid}
PY=${PYTHON:-.venv/bin/python}
PARALLEL=${PARALLEL:-2}
SEEDS=${SEEDS:-0 1 2}
mkdir -p "$OUT"
# The GPU (if any) is hidden so that the numbers match a CPU run of the embedded default.
export CUDA_VISIBLE_DEVICES="" HF_HUB_OFFLINE=1 TOKENIZERS_PARALLELISM=false PY OUT
variants=(
  "default|"
  "pure-dpo|--rpo-alpha 0"
  "init-0.02|--initializer-range 0.02"
  "epochs-2|--epochs 2"
)
for seed in $SEEDS; do
  for v in "${variants[@]}"; do printf '%s-s%s|%s --seed %s\n' "${v%%|*}" "$seed" "${v#*|}" "$seed"; done
done | xargs -P "$PARALLEL" -I{} bash -c '
  name=${1%%|*}; flags=${1#*|}
  # shellcheck disable=SC2086 # flags is a list
  "$PY" jobs/tools/learning_check.py --work "/tmp/lc-$name" $flags >"$OUT/$name.log" 2>&1' _ {}
for log in "$OUT"/*.log; do
  printf '%-16s %s\n' "$(basename "$log" .log)" \
    "$(grep -o 'exact agreement [0-9.]*%\|held-out [0-9.]*% -> [0-9.]*%' "$log" | tr '\n' ' ')"
done
