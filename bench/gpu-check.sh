#!/usr/bin/env bash
# One prepared run for a GPU machine without network (the `device` tool): checks the jobs' GPU path —
# transformers generation in bf16 on CUDA with the judgment grammar, TRL DPO in bf16, LoRA — and measures
# their throughput on the tiny judge and on a ~200M-parameter model of the same shape.
# Needs: .whl/ (trl, transformers, datasets and their missing deps as wheels) and .judgeloop/bench/inputs
# (npx tsx bench/make-job-inputs.ts --out .judgeloop/bench/inputs), both carried to the machine.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-.judgeloop/gpu-out}
mkdir -p "$OUT"
exec > >(tee "$OUT/gpu-check.log") 2>&1
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, trl, peft; print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__, 'peft', peft.__version__, 'cuda', torch.cuda.is_available())"
python3 -c "import vllm" 2>/dev/null && echo "vllm: importable" || echo "vllm: not installed here (generate.py uses transformers)"
corpus=(--corpus datasets/synthetic/train.jsonl --corpus prompts/pointwise-v1.txt)
python3 jobs/build_tiny_judge.py --out /tmp/tiny --seed 0 "${corpus[@]}"
python3 jobs/build_tiny_judge.py --out /tmp/mid --seed 0 "${corpus[@]}" --hidden-size 1024 --intermediate-size 2816 --layers 16 --heads 16
run() {
  local name=$1; shift
  echo "== $name"
  env PYTHON=python3 "$@" bash bench/jobs.sh "${MODEL}" .judgeloop/bench/inputs "/tmp/bench-$name" | tail -2
  cp "/tmp/bench-$name/gen-out/generation_summary.json" "$OUT/$name-generation.json" 2>/dev/null
  cp "/tmp/bench-$name/train-out/train_summary.json" "$OUT/$name-train.json" 2>/dev/null
}
MODEL=/tmp/tiny run tiny
MODEL=/tmp/mid run mid BATCH=256 TRAIN_BATCH=16
MODEL=/tmp/mid run mid-lora BATCH=256 TRAIN_BATCH=16 LORA=true
nvidia-smi --query-gpu=memory.used --format=csv,noheader
