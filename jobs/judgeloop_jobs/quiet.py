"""Keeps job logs readable: progress bars from loaders would drown the JUDGELOOP_PROGRESS lines."""
from __future__ import annotations


def quiet_libraries() -> None:
    try:
        from transformers.utils import logging as hf_logging
        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover
        pass
    try:
        import datasets
        datasets.disable_progress_bars()
    except ImportError:  # pragma: no cover
        pass
