"""judgeloop_jobs/tracking.py: the training jobs' MLflow callback, on only when the worker names a run, and
guarded so that a tracker that fails never fails the training."""
from __future__ import annotations

import socket

import pytest
from conftest import read_jsonl, sm_env

import train_dpo
from judgeloop_jobs import tracking


@pytest.mark.parametrize("env, enabled, args", [
    ({}, False, {}),
    ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"}, False, {}),
    ({"MLFLOW_RUN_ID": "abc"}, False, {}),
    ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000", "MLFLOW_RUN_ID": "abc"}, True, {}),
    ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:5000", "MLFLOW_RUN_ID": "abc", "JUDGELOOP_TRACKING_RUN_NAME": "iteration-1"},
     True, {"run_name": "iteration-1"}),
])
def test_tracking_is_on_only_when_the_worker_names_a_run(env, enabled, args):
    assert tracking.tracking_enabled(env) is enabled
    assert tracking.tracking_trainer_args(env) == args
    callbacks = tracking.tracking_callbacks(env)
    assert len(callbacks) == (1 if enabled else 0)
    if enabled:
        from transformers.integrations import MLflowCallback
        assert isinstance(callbacks[0], MLflowCallback), "transformers' own callback, as report_to='mlflow' installs it"


class Flaky:
    """A callback whose hooks fail as a tracker that went away makes them fail."""
    calls: list[str]

    def __init__(self):
        self.calls = []

    def on_train_begin(self, *args, **kwargs):
        self.calls.append("begin")

    def on_log(self, *args, **kwargs):
        self.calls.append("log")
        raise ConnectionError("tracker gone")

    def on_save(self, *args, **kwargs):
        self.calls.append("save")

    def on_train_end(self, *args, **kwargs):
        self.calls.append("end")

    def __del__(self):
        pass


def test_a_failing_hook_warns_once_and_switches_the_callback_off(capsys):
    callback = tracking.guarded(Flaky)()
    callback.on_train_begin(None, None, None)
    assert callback.on_log(None, None, None, logs={"loss": 1.0}) is None, "the failure does not reach the Trainer"
    callback.on_log(None, None, None, logs={"loss": 0.9})
    callback.on_train_end(None, None, None)
    assert callback.calls == ["begin", "log"], "nothing is sent after the first failure"
    err = capsys.readouterr().err
    assert err.count("warning:") == 1
    assert "the loss curve is no longer tracked" in err and "ConnectionError: tracker gone" in err


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_training_with_a_tracker_that_is_down_still_trains(monkeypatch, tmp_path, tiny_judge, pairs_dir, capsys):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("MLFLOW_RUN_ID", "0123456789abcdef0123456789abcdef")
    monkeypatch.setenv("JUDGELOOP_TRACKING_RUN_NAME", "iteration-1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    model_dir, data_dir = sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=pairs_dir)
    assert train_dpo.main(["--learning_rate", "3e-3", "--epochs", "1", "--batch_size", "4"]) == 0
    assert (model_dir / "model.safetensors").exists()
    assert read_jsonl(data_dir / "metrics.jsonl"), "the job's own metrics are written as always"
    assert "the loss curve is no longer tracked" in capsys.readouterr().err
