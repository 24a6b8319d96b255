#!/usr/bin/env bash
# The Python job tests: .venv/bin/python -m pytest jobs/tests -q [pytest args...], on JUDGELOOP_PYTEST_WORKERS
# processes (default 2, one per core here; pytest-xdist, a test file per process at a time; 0: in this process).
# `npm run test:py`; scripts/test.sh runs it after set-up. "No tests collected" (pytest exit 5) is a failure.
set -euo pipefail
JL_PREFIX=pytest
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$JL_ROOT"
[[ -x .venv/bin/python ]] || jl_die ".venv/bin/python is missing" "run the set-up first: bash scripts/setup.sh"
[[ -d jobs/tests ]] || jl_die "jobs/tests does not exist" "the Python job tests live in jobs/tests"
export PYTHONDONTWRITEBYTECODE=1
workers=${JUDGELOOP_PYTEST_WORKERS:-2}
[[ $workers =~ ^[0-9]+$ ]] || jl_die "JUDGELOOP_PYTEST_WORKERS=$workers is not a number of processes" "set it to 0 (in this process), 1, 2, ..."
rc=0
.venv/bin/python -m pytest jobs/tests -q -p no:cacheprovider -n "$workers" --dist loadfile "$@" || rc=$?
if ((rc == 5)); then
  jl_die "pytest collected no tests in jobs/tests" "an empty Python suite is not a pass: check jobs/tests/test_*.py"
fi
exit "$rc"
