#!/usr/bin/env bash
# `npm run bench [-- --quick] [-- data-step flags]`: every row of docs/benchmarks.md in one run, each figure
# beside its limit, measured in the same process on the same data:
#   1. the data steps (score, pair, metrics) against reading and writing the same rows  bench/data-steps.ts
#   2. generation (generate.py's backend) against a plain model.generate loop     bench/generation.py
#      and, on the real seed judge, llama.cpp on its GGUF (after setup.sh --only llama)
#   3. DPO (train_dpo.py's trainer) against TRL's DPOTrainer with its defaults    bench/dpo.py
#   4. orchestration: each job step against its job's own time, each iteration's time outside the work,
#      and history size against Temporal's limits, on real runs at two input counts  bench/orchestration.ts
#   5. sharded generation: an evaluation of 100,000 inputs in 1, 4 and 16 shards      bench/sharding.ts
# 2 and 3 on the tiny judge, and on the real seed judge when set-up has built it (scripts/setup.sh --only
# real-judge). --quick: small sizes on the tiny judge, for a person checking a change (77 s on 2 cores); no test
# asserts a time.
# Other flags go to bench/data-steps.ts (--inputs 2000,20000 --samples 8 --heap-mb 96 --json FILE ...).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

quick=0
data_flags=()
for arg in "$@"; do
  if [[ $arg == --quick ]]; then quick=1; else data_flags+=("$arg"); fi
done

bash scripts/setup.sh --only npm,tools,python,model
inputs=.judgeloop/bench/inputs
[[ -f $inputs/requests/requests.jsonl ]] || node --import tsx bench/make-job-inputs.ts --out "$inputs" --count 400

echo "== 1. data steps against reading and writing the same rows"
node --import tsx bench/data-steps.ts $( ((quick)) && echo --quick) "${data_flags[@]}"

tiny=.judgeloop/models/tiny-judge
real=.judgeloop/models/smollm2-135m-instruct
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 TOKENIZERS_PARALLELISM=false
py() { .venv/bin/python "$@" 2>&1 | grep -v -E "Warning|warnings.warn|^Loading weights|^JUDGELOOP_PROGRESS|^\{'"; }

echo
echo "== 2. generation against a plain model.generate loop (same prompts, samples and new tokens)"
if ((quick)); then
  py bench/generation.py --model "$tiny" --count 8 --samples 4 --rationale-tokens 8
else
  py bench/generation.py --model "$tiny" --count 64 --samples 8 --rationale-tokens 16
fi
if ((quick)); then
  echo "(--quick: the tiny judge only; the real seed judge and llama.cpp are in the full run)"
elif [[ -f $real/config.json ]]; then
  # llama.cpp on the real seed judge's own GGUF file, when `bash scripts/setup.sh --only llama` has built it.
  llama=()
  if [[ -d .tools/llama-cpp && -f $real.gguf ]]; then
    llama=(--gguf "$real.gguf")
    export PYTHONPATH="$PWD/.tools/llama-cpp${PYTHONPATH:+:$PYTHONPATH}"
  else
    echo "(llama.cpp not timed: bash scripts/setup.sh --only llama builds it, ~6 min once per machine)"
  fi
  py bench/generation.py --model "$real" --count 8 --samples 8 --rationale-tokens 32 "${llama[@]}"
else
  echo "(no real seed judge at $real: bash scripts/setup.sh --only real-judge builds it)"
fi

echo
echo "== 3. DPO against TRL's DPOTrainer with its defaults (same pairs, batch and steps)"
if ((quick)); then
  py bench/dpo.py --model "$tiny" --count 32 --batch-size 8 --steps 3
else
  py bench/dpo.py --model "$tiny" --count 160 --batch-size 16 --steps 10
fi
if ((!quick)) && [[ -f $real/config.json ]]; then
  py bench/dpo.py --model "$real" --count 32 --batch-size 8 --steps 3
fi

echo
echo "== 4. orchestration: job steps against their jobs, iterations' time outside the work, history size"
node --import tsx bench/orchestration.ts $( ((quick)) && echo --quick)

echo
echo "== 5. sharded generation: one evaluation in several shards (wall time, history events)"
if ((quick)); then
  node --import tsx bench/sharding.ts --inputs 500 --shards 1,2
else
  node --import tsx bench/sharding.ts --inputs 100000 --shards 1,4,16
fi

echo
echo "(all rows: ${SECONDS} s)"
