#!/usr/bin/env bash
# Benchmarks the two jobs on their own, on whatever device torch sees (CPU here; a GPU where there is one):
# generation throughput (judgments/s, tokens/s) and DPO training throughput (steps/s, pairs/s).
#
#   bash bench/jobs.sh [MODEL_DIR] [INPUTS_DIR] [OUT_DIR]
# MODEL_DIR defaults to the tiny judge; INPUTS_DIR must hold requests/ and pairs/ (bench/make-job-inputs.ts).
# Environment: PYTHON (default .venv/bin/python), SAMPLES (8), BATCH (64), EPOCHS (1), TRAIN_BATCH (16), LORA (false).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL=${1:-.judgeloop/models/tiny-judge}
INPUTS=${2:-.judgeloop/bench/inputs}
OUT=${3:-.judgeloop/bench/out}
PY=${PYTHON:-.venv/bin/python}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
if [[ ! -f $INPUTS/requests/requests.jsonl ]]; then npx tsx bench/make-job-inputs.ts --out "$INPUTS"; fi
rm -rf "$OUT" && mkdir -p "$OUT"/{gen-model,gen-out,train-model,train-out}

SM_CHANNEL_MODEL=$MODEL SM_CHANNEL_REQUESTS=$INPUTS/requests SM_MODEL_DIR=$OUT/gen-model SM_OUTPUT_DATA_DIR=$OUT/gen-out \
  "$PY" jobs/generate.py --num_samples "${SAMPLES:-8}" --temperature 1.0 --seed 0 --max_rationale_tokens 16 \
  --batch_size "${BATCH:-64}" --backend transformers | grep -v JUDGELOOP_PROGRESS
SM_CHANNEL_MODEL=$MODEL SM_CHANNEL_PAIRS=$INPUTS/pairs SM_MODEL_DIR=$OUT/train-model SM_OUTPUT_DATA_DIR=$OUT/train-out \
  "$PY" jobs/train_dpo.py --epochs "${EPOCHS:-1}" --batch_size "${TRAIN_BATCH:-16}" --learning_rate 1e-4 --beta 0.1 \
  --max_length 512 --lora "${LORA:-false}" | grep -v JUDGELOOP_PROGRESS | grep -v "^{'loss'"
echo "generation: $(cat "$OUT/gen-out/generation_summary.json" | tr -d '\n' | tr -s ' ')"
echo "training:   $(cat "$OUT/train-out/train_summary.json" | tr -d '\n' | tr -s ' ')"
