"""JSONL input/output for the jobs' channels."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Iterator

from .sm_contract import JobConfigError


def channel_jsonl_files(folder: Path, channel: str) -> list[Path]:
    """Every `*.jsonl` file under a channel folder, in a stable (sorted) order. Fails when there is none."""
    files = sorted(p for p in folder.rglob("*.jsonl") if p.is_file())
    if not files:
        raise JobConfigError(f"channel '{channel}' ({folder}) holds no *.jsonl file")
    return files


def read_jsonl(files: Iterable[Path]) -> Iterator[tuple[str, dict[str, Any]]]:
    """Yields (`file:line` location, row object) for every non-blank line; a bad line fails by location."""
    for path in files:
        with path.open("r", encoding="utf-8") as handle:
            for lineno, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                where = f"{path.name}:{lineno}"
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as err:
                    raise JobConfigError(f"{where}: not valid JSON ({err.msg})") from None
                if not isinstance(row, dict):
                    raise JobConfigError(f"{where}: expected a JSON object, got {type(row).__name__}")
                yield where, row


def write_json(path: Path, obj: Any) -> None:
    path.write_text(json.dumps(obj, indent=2, sort_keys=True) + "\n", encoding="utf-8")
