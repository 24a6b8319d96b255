#!/usr/bin/env bash
# The Python interpreter of the fault-matrix runs (backend.python): the real one, with two faults a test
# turns on in $JUDGELOOP_FAULT_DIR:
# - exit0-<script>: one launch of that script exits 0 at once without writing anything (the file is removed
#   first, so only one launch does): a job that "succeeds" without its outputs;
# - job-delay (seconds): every job waits that long before its script starts, as long as a fresh interpreter
#   takes to import torch, so a test can catch it running.
# A warm Python (backend.warmPython: jobs/judgeloop_jobs/zygote.py as the first argument) runs as
# fault_zygote.py, which applies the same faults to each job it forks.
real=${JUDGELOOP_REAL_PYTHON:?set JUDGELOOP_REAL_PYTHON to the interpreter the jobs use}
script=$(basename "${1:-}")
if [[ $script == zygote.py ]]; then
  exec "$real" "$(dirname "${BASH_SOURCE[0]}")/fault_zygote.py" "$@"
fi
if [[ -n ${JUDGELOOP_FAULT_DIR:-} && -e $JUDGELOOP_FAULT_DIR/exit0-$script ]] && rm "$JUDGELOOP_FAULT_DIR/exit0-$script" 2>/dev/null; then
  echo "fault-python: $script exits 0 without running"
  exit 0
fi
if [[ -n ${JUDGELOOP_FAULT_DIR:-} && -e $JUDGELOOP_FAULT_DIR/job-delay ]]; then
  sleep "$(cat "$JUDGELOOP_FAULT_DIR/job-delay")"
fi
exec "$real" "$@"
