"""A warm Python for local jobs: imports an entry point's heavy libraries once, then forks each job from itself.

A local job is a fresh Python that imports torch and transformers (about 3.5 s of CPU) or TRL too (about 8 s)
before it does any work; for the tiny judge's jobs that is half their time. The local runner
(activities/jobs/local-runner.ts) starts one of these per entry point and worker, and launches each job of
that entry point through it:

    python jobs/judgeloop_jobs/zygote.py --script jobs/generate.py

It imports the modules the script names in a top-level `PRELOAD = (...)` (read from its source; the script
does not run here), then reads requests from stdin, one JSON object a line:

    {"id": 1, "cwd": "...", "env": {...}, "log": ".../job.log", "exit": ".../exit.json",
     "job": "<job name>", "spec": "<spec hash>"}

and answers each on stdout with `{"id": 1, "pid": <job pid>}` or `{"id": 1, "error": "..."}`. Each job is
a fork that leads a session and process group of its own (so a cancellation's group kill stops it, and it
outlives this process and the worker, for the next worker to adopt), has the request's environment and
working directory, its stdin on /dev/null and stdout and stderr appended to its log, and runs the script
as `__main__`. When the script ends the job writes its exit record, the same JSON the shell wrapper of a
cold launch writes, to the request's `exit` path, then exits with the script's code. A job killed by a
signal writes none, as a cold launch killed with its shell writes none.

Stdin closing (the worker stopped or died) ends this process; jobs already forked run on. Stdlib only: it
runs with whatever scripts folder the runner points at (the tests' fixture jobs too).
"""
from __future__ import annotations

import argparse
import ast
import atexit
import importlib
import json
import os
import runpy
import signal
import sys
import time
import traceback
from datetime import datetime, timezone
from typing import Any


def preload_names(source: str) -> list[str]:
    """The module names of a script's top-level `PRELOAD = (...)`, read from its source: the script itself is
    not run here (one without a main guard would do its work in this process)."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "PRELOAD" for t in node.targets):
            names = ast.literal_eval(node.value)
            if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
                raise ValueError("PRELOAD must be a tuple or list of module names")
            return list(names)
    return []


def preload(script: str) -> tuple[list[str], dict[str, str]]:
    """Imports the modules the script names in `PRELOAD`; what loaded, and what failed why."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(script)))
    try:
        with open(script, encoding="utf-8") as handle:
            names = preload_names(handle.read())
    except Exception as err:  # the job itself reports a broken script when it runs
        return [], {script: f"{type(err).__name__}: {err}"}
    loaded, failed = [], {}
    for name in names:
        try:
            importlib.import_module(name)
            loaded.append(name)
        except Exception as err:
            failed[name] = f"{type(err).__name__}: {err}"
    return loaded, failed


def exit_code_of(err: SystemExit) -> int:
    if err.code is None:
        return 0
    if isinstance(err.code, int):
        return err.code & 0xFF
    print(err.code, file=sys.stderr)
    return 1


def run_job(script: str, request: dict[str, Any]) -> None:
    """In the forked child: becomes the job, runs the script, writes the exit record, never returns."""
    started = time.monotonic()
    code = 1
    try:
        os.setsid()
        # The one handler this process set; the rest are still what Python starts a script with.
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        os.close(null)
        # This process's stdin object may hold requests it read ahead: the job reads nothing of them.
        sys.stdin = open(os.devnull, encoding="utf-8")
        os.chdir(request["cwd"])
        os.environ.clear()
        os.environ.update(request["env"])
        sys.argv = [script]
        sys.path[0] = os.path.dirname(os.path.abspath(script))
        try:
            runpy.run_path(script, run_name="__main__")
            code = 0
        except SystemExit as err:
            code = exit_code_of(err)
        except KeyboardInterrupt:
            traceback.print_exc()
            code = 130
        except BaseException:
            traceback.print_exc()
            code = 1
        # What a normal interpreter exit does before the process ends: atexit handlers, then flushed output.
        atexit._run_exitfuncs()
    except BaseException:
        traceback.print_exc()
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
            record = {"jobName": request["job"], "specHash": request["spec"], "exitCode": code,
                      # To the millisecond: a warm job can end within a second, and a whole-second
                      # count of 0 would cost nothing against the run's budget (budget.maxJobHours).
                      "seconds": round(time.monotonic() - started, 3),
                      "finishedAt": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")}
            tmp = request["exit"] + ".tmp"
            with open(tmp, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(record) + "\n")
            os.replace(tmp, request["exit"])
        finally:
            os._exit(code)


def reap(_signum=None, _frame=None) -> None:
    """Collects exited jobs, so they do not linger as zombies while this process runs."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def answer(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--script", required=True, help="the entry point whose jobs this process launches")
    args = parser.parse_args()
    loaded, failed = preload(args.script)
    signal.signal(signal.SIGCHLD, reap)
    answer({"ready": True, "pid": os.getpid(), "preloaded": loaded, "failed": failed})
    for line in sys.stdin:
        if not line.strip():
            continue
        request: dict[str, Any] = {}
        try:
            request = json.loads(line)
            for key in ("id", "cwd", "env", "log", "exit", "job", "spec"):
                if key not in request:
                    raise ValueError(f"the request has no {key!r}")
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
        except Exception as err:
            answer({"id": request.get("id"), "error": f"{type(err).__name__}: {err}"})
            continue
        if pid == 0:
            run_job(args.script, request)
        answer({"id": request["id"], "pid": pid})
    return 0


if __name__ == "__main__":
    sys.exit(main())
