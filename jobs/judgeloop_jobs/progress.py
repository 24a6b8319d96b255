"""Progress lines the job runners turn into Temporal heartbeat details.

Contract (docs/CONTRACTS.md): one stdout line `JUDGELOOP_PROGRESS {"done": k, "total": n, "unit": "..."}`.
Flushed immediately so a runner reading the pipe sees it while the job is still working.
"""
from __future__ import annotations

import json
import math
import sys
from typing import Any, TextIO

PREFIX = "JUDGELOOP_PROGRESS "


def report_progress(done: int, total: int, unit: str, stream: TextIO | None = None, **extra: Any) -> None:
    """Print one progress line. `extra` (e.g. loss) rides along; it must be JSON-serialisable."""
    # A non-finite float (a diverged loss) becomes null: the line must stay valid JSON for the runner.
    clean = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in extra.items()}
    payload = {"done": int(done), "total": int(total), "unit": unit, **clean}
    out = stream if stream is not None else sys.stdout
    # A progress line must stay one line: json.dumps never emits raw newlines.
    out.write(PREFIX + json.dumps(payload, sort_keys=False, allow_nan=False) + "\n")
    out.flush()


def parse_progress_line(line: str) -> dict[str, Any] | None:
    """The inverse, for tests and tools: the payload of a progress line, or None for any other line."""
    if not line.startswith(PREFIX):
        return None
    return json.loads(line[len(PREFIX):])
