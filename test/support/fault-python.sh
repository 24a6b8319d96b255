#!/usr/bin/env bash
# The Python interpreter of the fault-matrix runs (backend.python): the real one, except that when
# $JUDGELOOP_FAULT_DIR/exit0-<script> exists, one launch of that script exits 0 at once without writing
# anything (the file is removed first, so only one launch does) — a job that "succeeds" without its outputs.
script=$(basename "${1:-}")
if [[ -n ${JUDGELOOP_FAULT_DIR:-} && -e $JUDGELOOP_FAULT_DIR/exit0-$script ]] && rm "$JUDGELOOP_FAULT_DIR/exit0-$script" 2>/dev/null; then
  echo "fault-python: $script exits 0 without running"
  exit 0
fi
exec "${JUDGELOOP_REAL_PYTHON:?set JUDGELOOP_REAL_PYTHON to the interpreter the jobs use}" "$@"
