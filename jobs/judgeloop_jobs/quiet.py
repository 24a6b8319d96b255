"""Keeps job logs readable: progress bars from loaders would drown the JUDGELOOP_PROGRESS lines."""
from __future__ import annotations

import warnings


def quiet_libraries() -> None:
    # The Trainer itself calls this deprecated transformers API at every checkpoint save: not ours to fix.
    warnings.filterwarnings("ignore", message=r".*is_gradient_checkpointing.* is deprecated", category=FutureWarning)
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
