"""What bench/generation.py and bench/dpo.py share: the flags every model bench takes, and torch set up the
way the jobs run (quiet loaders, a fixed number of threads)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The benches call the jobs' own functions, which import `judgeloop_jobs` from the jobs' folder.
sys.path.insert(0, str(ROOT / "jobs"))


def model_bench_parser(doc: str) -> argparse.ArgumentParser:
    """A parser with --model (default the tiny judge), --threads and --json; the bench adds its own flags."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--model", default=str(ROOT / ".judgeloop/models/tiny-judge"))
    parser.add_argument("--threads", type=int, default=1, help="torch threads (0: torch's default)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser


def set_up_torch(threads: int):
    """torch with the jobs' quiet loaders and `threads` threads (0 leaves torch's default); returns torch."""
    import torch

    from judgeloop_jobs.quiet import quiet_libraries

    quiet_libraries()
    if threads:
        torch.set_num_threads(threads)
    return torch


def print_comparison(title: str, columns: list[str], rows: list[list[str]], ratio: str) -> None:
    """What each model bench prints: what ran, a Markdown table of Judgeloop's row and its limit's, the ratio."""
    print(title)
    print("| " + " | ".join(columns) + " |")
    print("| --- |" + " ---: |" * (len(columns) - 1))
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(ratio)


def write_figures(path: str | None, figures: dict) -> None:
    if path:
        Path(path).write_text(json.dumps(figures, indent=2) + "\n")
