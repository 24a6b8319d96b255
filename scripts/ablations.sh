#!/usr/bin/env bash
# Runs the ablation configs (configs/ablations/) at full size on the local stack and prints their comparison.
#   bash scripts/ablations.sh [--parallel 2] [--only majority-vote,meta-judge]
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx scripts/ablations.ts "$@"
