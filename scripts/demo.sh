#!/usr/bin/env bash
# `npm run demo`: set up (idempotent, fast when done), then run the embedded default end to end.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec node --import tsx scripts/demo.ts "$@"
