#!/usr/bin/env python3
"""Checks a job image's Python environment; the Dockerfiles run it as their last build step.

A build that installed other versions than the ones asked for (a resolver that quietly picked another torch,
a base image package left in front of ours), or whose packages do not import together, fails here instead of
inside a paid GPU job. Also usable on a built image:

    docker run --rm IMAGE python /opt/judgeloop/verify_env.py --pins /opt/judgeloop/requirements.txt --skip pytest

Checks, each problem listed before exiting 1:
  --pins FILE        every `name==version` line of FILE is installed at exactly that version (`--skip NAME`
                     leaves one out; any other kind of line is an error: the jobs' requirements are exact pins)
  --pin NAME==VER    one more exact pin
  --import MODULE    the module imports (catches binary packages built against another torch or CUDA)
  --command NAME     NAME is on PATH and lives in this interpreter's environment (the SageMaker toolkit's
                     `train`, which the base image's entrypoint runs, must be the one next to this Python)
  --expect-env N=V   environment variable N has exactly the value V (V may be empty)
"""
from __future__ import annotations

import argparse
import importlib
import importlib.metadata as metadata
import os
import re
import shutil
import sys
from pathlib import Path

PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def canonical(name: str) -> str:
    """PEP 503 normalisation: `Jinja2`, `jinja2` and `jinja_2` compare equal as distribution names."""
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path, skip: set[str], problems: list[str]) -> dict[str, str]:
    pins: dict[str, str] = {}
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = PIN.fullmatch(line)
        if not match:
            problems.append(f"{path}:{number}: not an exact pin (name==version): {raw.strip()!r}")
            continue
        name = canonical(match.group(1))
        if name not in skip:
            pins[name] = match.group(2)
    return pins


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--pins", action="append", default=[], type=Path, metavar="FILE")
    parser.add_argument("--skip", action="append", default=[], metavar="NAME")
    parser.add_argument("--pin", action="append", default=[], metavar="NAME==VERSION")
    parser.add_argument("--import", dest="imports", action="append", default=[], metavar="MODULE")
    parser.add_argument("--command", action="append", default=[], metavar="NAME")
    parser.add_argument("--expect-env", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args(argv)

    problems: list[str] = []
    skip = {canonical(s) for s in args.skip}
    pins: dict[str, str] = {}
    for path in args.pins:
        pins.update(read_pins(path, skip, problems))
    for spec in args.pin:
        match = PIN.fullmatch(spec.strip())
        if not match:
            problems.append(f"--pin {spec!r}: not name==version")
            continue
        pins[canonical(match.group(1))] = match.group(2)

    print(f"python {sys.version.split()[0]} at {sys.executable}")
    for name in sorted(pins):
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            problems.append(f"{name}=={pins[name]} is not installed")
            continue
        # A local version label (torch's `+cu130`) is not a different release.
        ok = installed.split("+", 1)[0] == pins[name].split("+", 1)[0]
        print(f"  {name:<24} {installed:<16} {'ok' if ok else 'WANTED ' + pins[name]}")
        if not ok:
            problems.append(f"{name} is {installed}, the pin says {pins[name]}")

    for module in args.imports:
        try:
            loaded = importlib.import_module(module)
        except Exception as err:  # noqa: BLE001 - any import failure is the finding
            problems.append(f"import {module} failed: {type(err).__name__}: {err}")
            continue
        print(f"  import {module:<17} ok ({getattr(loaded, '__version__', 'no __version__')})")

    prefix_bin = Path(sys.prefix).resolve() / "bin"
    for command in args.command:
        found = shutil.which(command)
        if found is None:
            problems.append(f"command {command!r} is not on PATH")
        elif Path(found).resolve().parent != prefix_bin:
            problems.append(f"command {command!r} resolves to {found}, not to this environment's {prefix_bin}")
        else:
            print(f"  command {command:<16} {found}")

    for spec in args.expect_env:
        name, sep, want = spec.partition("=")
        if not sep:
            problems.append(f"--expect-env {spec!r}: not NAME=VALUE")
            continue
        have = os.environ.get(name)
        if have != want:
            problems.append(f"environment variable {name} is {have!r}, expected {want!r}")

    if problems:
        print(f"verify_env: {len(problems)} problem(s):", file=sys.stderr)
        for problem in problems:
            print(f"  - {problem}", file=sys.stderr)
        return 1
    print("verify_env: ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
