# Shell helpers shared by scripts/setup.sh, scripts/test.sh and scripts/pytest.sh. Source it, don't run it.
#
# Conventions: every script prints short lines prefixed with its name ("setup:", "test:"), long output goes to
# a log file under .judgeloop/logs/, and a failure says what failed, where its log is and what to do next.

# The repository root (this file lives in scripts/lib/).
JL_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
JL_LOG_DIR="$JL_ROOT/.judgeloop/logs"
JL_CACHE_DIR="${JUDGELOOP_CACHE_DIR:-$HOME/.cache/judgeloop}"
JL_PREFIX="${JL_PREFIX:-judgeloop}"

# Python steps never reach a model hub: the tiny judge is built locally and real models are local folders.
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export HF_DATASETS_OFFLINE=1
export HF_HUB_DISABLE_TELEMETRY=1

jl_now_ms() { date +%s%3N; }

# Human duration from milliseconds: 850ms, 12.3s, 4m31s.
jl_fmt_ms() {
  local ms=$1
  if ((ms < 1000)); then
    printf '%dms' "$ms"
  elif ((ms < 60000)); then
    printf '%d.%ds' $((ms / 1000)) $((ms % 1000 / 100))
  else
    printf '%dm%02ds' $((ms / 60000)) $((ms % 60000 / 1000))
  fi
}

jl_say() { printf '%s: %s\n' "$JL_PREFIX" "$*"; }
jl_warn() { printf '%s: warning: %s\n' "$JL_PREFIX" "$*" >&2; }

# jl_die "what failed" ["what to do next"] ["log file to show the tail of"]
jl_die() {
  local what=$1 next=${2:-} log=${3:-}
  printf '%s: FAILED: %s\n' "$JL_PREFIX" "$what" >&2
  if [[ -n "$log" && -s "$log" ]]; then
    printf '%s: last lines of %s:\n' "$JL_PREFIX" "${log#"$JL_ROOT"/}" >&2
    tail -n 25 "$log" | sed 's/^/    | /' >&2
  fi
  [[ -n "$next" ]] && printf '%s: next: %s\n' "$JL_PREFIX" "$next" >&2
  exit 1
}

# sha256 of the concatenated contents of the given files (each prefixed by its name, so moves count).
jl_sha256_files() {
  local f
  for f in "$@"; do
    printf '%s\0' "$f"
    cat -- "$f"
    printf '\0'
  done | sha256sum | cut -d' ' -f1
}

jl_sha256_str() { printf '%s' "$1" | sha256sum | cut -d' ' -f1; }

# jl_run_logged LOGFILE CMD...: runs CMD with stdout+stderr into LOGFILE (appended); returns its status.
jl_run_logged() {
  local log=$1
  shift
  mkdir -p "$(dirname "$log")"
  printf '\n$ %s\n' "$*" >>"$log"
  "$@" >>"$log" 2>&1
}

# jl_with_lock NAME CMD...: runs CMD holding an exclusive lock shared by every clone on this machine that uses
# the same cache dir (two set-ups building the same venv or binary at once wait for each other).
jl_with_lock() {
  local name=$1
  shift
  mkdir -p "$JL_CACHE_DIR/locks"
  (
    flock -w 3600 9 || { echo "could not lock $JL_CACHE_DIR/locks/$name.lock within an hour" >&2; exit 1; }
    "$@"
  ) 9>"$JL_CACHE_DIR/locks/$name.lock"
}

# Relative path for messages.
jl_rel() { local p=$1; printf '%s' "${p#"$JL_ROOT"/}"; }
