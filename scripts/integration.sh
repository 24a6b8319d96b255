#!/usr/bin/env bash
# The integration stage (`npm run test:integration`): test/integration/*.test.ts against the real services.
# The fault matrix runs first and alone: it runs three faulted runs at once itself, on 3-second heartbeat
# timeouts, and measures what the worker does under faults, not under a neighbour's load. The other files
# then run two at a time (JUDGELOOP_TEST_LANES), the longest first, so the short ones fill the other lane
# while the end-to-end run trains. Each file starts its own services on free ports, so files never share state.
#
# Usage: scripts/integration.sh [FILE...]   (files given: just those, one at a time)
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

run() { node --import tsx --test --test-concurrency="$1" "${@:2}"; }

if (($#)); then
  run 1 "$@"
  exit
fi

EXCLUSIVE=(test/integration/fault-matrix.test.ts)
# The longest files (docs/testing.md's per-file times), in this order; then the rest in name order.
LONGEST=(e2e real-judge-smoke ablations reuse security relative-eval budget promotion)
ordered=()
for name in "${LONGEST[@]}"; do
  file=test/integration/$name.test.ts
  [[ -f $file ]] && ordered+=("$file")
done
for file in test/integration/*.test.ts; do
  [[ " ${EXCLUSIVE[*]} ${ordered[*]} " == *" $file "* ]] || ordered+=("$file")
done

rc=0
run 1 "${EXCLUSIVE[@]}" || rc=$?
run "${JUDGELOOP_TEST_LANES:-2}" "${ordered[@]}" || rc=$?
exit "$rc"
