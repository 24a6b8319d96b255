"""The training jobs' experiment tracking: transformers' own MLflowCallback (what TRL's `report_to="mlflow"`
installs) logs the loss curve into the iteration's MLflow run, which the worker names in the environment:

    MLFLOW_TRACKING_URI          the tracking server
    MLFLOW_RUN_ID                the iteration's MLflow run (the callback resumes it)
    JUDGELOOP_TRACKING_RUN_NAME  that run's name (the Trainer's run_name, so the callback keeps it)

Without them the job tracks nothing. The callback is guarded: a tracker that fails (down, slow, refusing a
value) costs the curve, never the training — the first failure prints a warning and switches it off. That is
why the jobs add the callback themselves instead of passing report_to="mlflow", whose callback would raise.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Mapping


def tracking_enabled(env: Mapping[str, str] = os.environ) -> bool:
    return bool(env.get("MLFLOW_TRACKING_URI") and env.get("MLFLOW_RUN_ID"))


def tracking_trainer_args(env: Mapping[str, str] = os.environ) -> dict[str, Any]:
    """TrainingArguments for a tracked job: the iteration run's own name (the callback would rename it)."""
    name = env.get("JUDGELOOP_TRACKING_RUN_NAME")
    return {"run_name": name} if tracking_enabled(env) and name else {}


def _warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def guarded(callback_class: type) -> type:
    """A subclass of `callback_class` whose hooks never raise: the first failure warns and disables it."""

    class GuardedCallback(callback_class):
        failed: str | None = None

        def _guard(self, hook: str, *args: Any, **kwargs: Any) -> Any:
            if self.failed is not None:
                return None
            try:
                return getattr(super(), hook)(*args, **kwargs)
            except Exception as err:  # noqa: BLE001 - any tracker failure must leave the training alone
                self.failed = f"{type(err).__name__}: {err}"
                _warn(f"the loss curve is no longer tracked: the MLflow callback's {hook} failed ({self.failed})")
                return None

        def on_train_begin(self, *args: Any, **kwargs: Any) -> Any:
            return self._guard("on_train_begin", *args, **kwargs)

        def on_log(self, *args: Any, **kwargs: Any) -> Any:
            return self._guard("on_log", *args, **kwargs)

        def on_save(self, *args: Any, **kwargs: Any) -> Any:
            return self._guard("on_save", *args, **kwargs)

        def on_train_end(self, *args: Any, **kwargs: Any) -> Any:
            return self._guard("on_train_end", *args, **kwargs)

        def __del__(self) -> None:
            try:
                super().__del__()
            except Exception:  # noqa: BLE001 - interpreter shutdown with a tracker gone
                pass

    GuardedCallback.__name__ = f"Guarded{callback_class.__name__}"
    return GuardedCallback


def tracking_callbacks(env: Mapping[str, str] = os.environ) -> list[Any]:
    """The guarded MLflow callback when the worker named a run; none otherwise (or without mlflow installed)."""
    if not tracking_enabled(env):
        return []
    try:
        import mlflow  # noqa: F401 - the callback needs it; checked here for a clear warning
        from transformers.integrations import MLflowCallback
    except ImportError as err:
        _warn(f"the loss curve is not tracked: mlflow cannot be imported in the job's Python ({err}); "
              "install mlflow-skinny (jobs/requirements.txt)")
        return []
    return [guarded(MLflowCallback)()]
