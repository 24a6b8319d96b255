#!/usr/bin/env bash
# The README's test command (`npm test`; CI runs it through .ci/run). Stages, stopping at the first failure:
#   setup        scripts/setup.sh (idempotent; seconds when everything is in place)
#   typecheck    tsc --noEmit
#   unit         npm run test:unit (node --test on test/unit/*.test.ts)
#   workflows    npm run test:workflows (the workflow code's control paths on Temporal's time-skipping test server, stubbed activities)
#   python       scripts/pytest.sh (jobs/tests on the tiny judge)
#   integration  npm run test:integration (scripts/integration.sh: node --test on test/integration/*.test.ts; real Temporal dev server, S3 server, Python jobs)
#
# Usage: scripts/test.sh [--from STAGE] [--only STAGE[,STAGE]]
set -uo pipefail

JL_PREFIX=test
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$JL_ROOT"

STAGES=(setup typecheck unit workflows python integration)
from="" only=""
while (($#)); do
  case $1 in
    --from) from=${2:?--from needs a stage}; shift 2 ;;
    --from=*) from=${1#*=}; shift ;;
    --only) only=${2:?--only needs a value}; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    -h | --help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "test: unknown argument '$1' (see: bash scripts/test.sh --help)" >&2; exit 2 ;;
  esac
done
for s in $from ${only//,/ }; do
  [[ " ${STAGES[*]} " == *" $s "* ]] || { echo "test: unknown stage '$s' (stages: ${STAGES[*]})" >&2; exit 2; }
done

export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true

stage_cmd() {
  case $1 in
    setup) echo "bash scripts/setup.sh" ;;
    typecheck) echo "node_modules/.bin/tsc -p tsconfig.json --noEmit" ;;
    unit) echo "npm run --silent test:unit" ;;
    workflows) echo "npm run --silent test:workflows" ;;
    python) echo "bash scripts/pytest.sh" ;;
    integration) echo "npm run --silent test:integration" ;;
  esac
}

T0=$(jl_now_ms)
summary=()
started=false
[[ -z $from ]] && started=true
for stage in "${STAGES[@]}"; do
  [[ $stage == "$from" ]] && started=true
  $started || continue
  [[ -n $only && ",$only," != *",$stage,"* ]] && continue
  cmd=$(stage_cmd "$stage")
  printf '\n%s: ===== %s: %s\n' "$JL_PREFIX" "$stage" "$cmd"
  t=$(jl_now_ms)
  rc=0
  $cmd || rc=$?
  took=$(jl_fmt_ms $(($(jl_now_ms) - t)))
  if ((rc != 0)); then
    summary+=("$stage FAILED ($took)")
    passed="none"
    if ((${#summary[@]} > 1)); then passed=$(IFS=';'; echo "${summary[*]:0:${#summary[@]}-1}" | sed 's/;/; /g'); fi
    printf '\n%s: FAILED at stage "%s" (exit %d, after %s). Passed before it: %s\n' "$JL_PREFIX" "$stage" "$rc" "$took" "$passed" >&2
    printf '%s: rerun this stage: %s   (or from here on: bash scripts/test.sh --from %s)\n' "$JL_PREFIX" "$cmd" "$stage" >&2
    exit "$rc"
  fi
  summary+=("$stage ok ($took)")
done
printf '\n%s: PASSED all stages in %s: %s\n' "$JL_PREFIX" "$(jl_fmt_ms $(($(jl_now_ms) - T0)))" "$(IFS=,; echo "${summary[*]}" | sed 's/,/, /g')"
