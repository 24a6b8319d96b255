"""Spot interruptions: train_dpo.py checkpoints to the checkpoint folder and resumes from the latest checkpoint.

The end-to-end test kills the job (SIGKILL, like a reclaimed spot instance) once a checkpoint is complete and
runs the same command again, as the local runner (or SageMaker, after restoring the checkpoint folder) does.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import REPO_ROOT, make_examples, messages_for, read_jsonl, write_jsonl

import train_dpo
from judgeloop_jobs.sm_contract import JobConfigError, resolve_checkpoint_dir
from judgeloop_jobs.training import (JOB_MARKER, Checkpoint, common_trainer_args, job_fingerprint,
                                     latest_checkpoint, read_checkpoint, resume_point, start_metrics)

# ---------------------------------------------------------------------------------------------------------
# Where the checkpoint folder comes from


def test_checkpoint_dir_precedence(tmp_path):
    sagemaker = tmp_path / "opt-ml-checkpoints"
    env_dir, hp_dir = tmp_path / "env", tmp_path / "hp"
    # nothing set and no /opt/ml/checkpoints: no checkpoints (the behaviour before checkpointing existed)
    assert resolve_checkpoint_dir("", {}, sagemaker_dir=sagemaker) is None
    sagemaker.mkdir()
    assert resolve_checkpoint_dir("", {}, sagemaker_dir=sagemaker) == sagemaker  # on SageMaker
    assert resolve_checkpoint_dir(str(hp_dir), {}, sagemaker_dir=sagemaker) == hp_dir
    assert hp_dir.is_dir()  # created
    assert resolve_checkpoint_dir(str(hp_dir), {"SM_CHECKPOINT_DIR": str(env_dir)}, sagemaker_dir=sagemaker) == env_dir
    assert env_dir.is_dir()
    assert resolve_checkpoint_dir("", {"SM_CHECKPOINT_DIR": " "}, sagemaker_dir=sagemaker) == sagemaker


def test_a_checkpoint_dir_that_is_a_file_is_named(tmp_path):
    file = tmp_path / "file"
    file.write_text("x")
    with pytest.raises(JobConfigError, match=r"SM_CHECKPOINT_DIR=.*file exists and is not a folder"):
        resolve_checkpoint_dir("", {"SM_CHECKPOINT_DIR": str(file)}, sagemaker_dir=tmp_path / "none")
    with pytest.raises(JobConfigError, match=r"hyperparameter 'checkpoint_dir'=.*file exists and is not a folder"):
        resolve_checkpoint_dir(str(file), {}, sagemaker_dir=tmp_path / "none")


def test_checkpoint_steps_is_validated(monkeypatch, tmp_path):
    monkeypatch.delenv("SM_HPS", raising=False)
    with pytest.raises(JobConfigError, match=r"hyperparameter 'checkpoint_steps' must be >= 1, got 0"):
        train_dpo.main(["--checkpoint_steps", "0"])


def test_trainer_arguments_with_and_without_a_checkpoint_folder(tmp_path):
    cfg = train_dpo.TrainDpoConfig(checkpoint_steps=7)
    off = common_trainer_args(cfg, tmp_path / "scratch", on_gpu=False)
    assert off["save_strategy"] == "no" and off["output_dir"] == str(tmp_path / "scratch")
    on = common_trainer_args(cfg, tmp_path / "scratch", on_gpu=False, checkpoint_dir=tmp_path / "ckpt")
    assert (on["output_dir"], on["save_strategy"], on["save_steps"], on["save_total_limit"]) == (
        str(tmp_path / "ckpt"), "steps", 7, 2)


# ---------------------------------------------------------------------------------------------------------
# The latest valid checkpoint


def fake_checkpoint(folder: Path, step: int, *, state: object = "ok", files=("model.safetensors", "optimizer.pt",
                                                                              "scheduler.pt")) -> Path:
    path = folder / f"checkpoint-{step}"
    path.mkdir(parents=True)
    for name in files:
        (path / name).write_bytes(b"x")
    if state == "ok":
        state = {"global_step": step, "max_steps": 30, "log_history": [{"loss": 0.5, "step": step}]}
    if isinstance(state, dict):
        (path / "trainer_state.json").write_text(json.dumps(state))
    elif isinstance(state, str) and state != "missing":
        (path / "trainer_state.json").write_text(state)
    return path


LAYOUTS = {
    "empty": ([], None, []),
    "one": ([("ok", 5)], 5, []),
    "several: the highest step, by number not by name": ([("ok", 5), ("ok", 10), ("ok", 9)], 10, []),
    "half-written newest (no trainer_state.json)": ([("ok", 5), ("missing", 10)], 5,
                                                     ["checkpoint-10: no trainer_state.json (half-written)"]),
    "trainer_state.json cut short": ([("ok", 5), ('{"global_st', 10)], 5,
                                     ["checkpoint-10: trainer_state.json is unreadable (half-written)"]),
    "state of another step": ([("ok", 5), ({"global_step": 3}, 10)], 5,
                              ["checkpoint-10: trainer_state.json's global_step is 3, not 10"]),
    "no weights": ([("ok", 5), ("noweights", 10)], 5, ["checkpoint-10: no model weights"]),
    "no optimizer (copy cut short)": ([("ok", 5), ("nooptimizer", 10)], 5, ["checkpoint-10: no optimizer.pt"]),
    "only broken ones": ([("missing", 5), ("missing", 10)], None,
                         ["checkpoint-10: no trainer_state.json (half-written)",
                          "checkpoint-5: no trainer_state.json (half-written)"]),
    "LoRA adapter weights": ([("adapter", 4)], 4, []),
}


@pytest.mark.parametrize("name", list(LAYOUTS))
def test_latest_valid_checkpoint(tmp_path, name):
    layout, expected, skipped = LAYOUTS[name]
    folder = tmp_path / "ckpt"
    folder.mkdir()
    # Never checkpoints: other files and folders a checkpoint folder may hold.
    (folder / "runs").mkdir()
    (folder / "checkpoint-final").mkdir()
    (folder / "checkpoint-99.tmp").mkdir()
    (folder / "checkpoint-77").write_text("a file")
    (folder / JOB_MARKER).write_text("{}")
    for kind, step in layout:
        if kind == "noweights":
            fake_checkpoint(folder, step, files=("optimizer.pt", "scheduler.pt"))
        elif kind == "nooptimizer":
            fake_checkpoint(folder, step, files=("model.safetensors", "scheduler.pt"))
        elif kind == "adapter":
            fake_checkpoint(folder, step, files=("adapter_model.safetensors", "optimizer.pt", "scheduler.pt"))
        else:
            fake_checkpoint(folder, step, state=kind)
    found, passed_over = latest_checkpoint(folder)
    assert (found.step if found else None) == expected
    assert passed_over == skipped
    if found:
        assert found.path == folder / f"checkpoint-{expected}" and found.max_steps == 30


def test_missing_folder_has_no_checkpoint(tmp_path):
    assert latest_checkpoint(tmp_path / "absent") == (None, [])
    assert read_checkpoint(tmp_path) == "not a checkpoint-N folder"


def test_another_jobs_checkpoints_are_refused(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    fake_checkpoint(folder, 5)
    with pytest.raises(JobConfigError, match=f"holds checkpoints of another job .it has no {JOB_MARKER}"):
        resume_point("train_dpo", folder, "a" * 64)
    (folder / JOB_MARKER).write_text(json.dumps({"job": "train_dpo", "fingerprint": "b" * 64}))
    with pytest.raises(JobConfigError, match="other hyperparameters, pairs or model"):
        resume_point("train_dpo", folder, "a" * 64)
    (folder / JOB_MARKER).write_text(json.dumps({"job": "train_dpo", "fingerprint": "a" * 64}))
    assert resume_point("train_dpo", folder, "a" * 64).step == 5
    assert "train_dpo: resuming from checkpoint-5 (step 5 of 30)" in capsys.readouterr().out


def test_an_empty_folder_starts_from_step_0_and_is_claimed(tmp_path, capsys):
    folder = tmp_path / "ckpt"
    folder.mkdir()
    (folder / JOB_MARKER).write_text(json.dumps({"fingerprint": "old"}))  # a finished job's, checkpoints gone
    assert resume_point("train_dpo", folder, "new") is None
    assert json.loads((folder / JOB_MARKER).read_text())["fingerprint"] == "new"
    assert "train_dpo: no checkpoint: starting from step 0" in capsys.readouterr().out
    assert resume_point("train_dpo", None, "new") is None
    assert "no checkpoint: starting from step 0 (no checkpoint folder" in capsys.readouterr().out


def test_the_fingerprint_covers_hyperparameters_data_and_model(tmp_path, tiny_judge):
    cfg = train_dpo.TrainDpoConfig()
    rows = [{"prompt": "p", "chosen": "c"}]
    base = job_fingerprint("train_dpo", cfg, rows, tiny_judge)
    assert job_fingerprint("train_dpo", cfg, list(rows), tiny_judge) == base
    # where and how often it checkpoints does not change what is trained
    assert job_fingerprint("train_dpo", train_dpo.TrainDpoConfig(checkpoint_dir="/x", checkpoint_steps=3), rows,
                           tiny_judge) == base
    assert job_fingerprint("train_sft", cfg, rows, tiny_judge) != base
    assert job_fingerprint("train_dpo", train_dpo.TrainDpoConfig(beta=0.2), rows, tiny_judge) != base
    assert job_fingerprint("train_dpo", cfg, rows + rows, tiny_judge) != base
    other_model = tmp_path / "model"
    other_model.mkdir()
    (other_model / "config.json").write_text("{}")
    assert job_fingerprint("train_dpo", cfg, rows, other_model) != base


def test_resumed_metrics_start_with_the_checkpoints_rows(tmp_path):
    metrics = tmp_path / "metrics.jsonl"
    history = [{"loss": 0.7, "grad_norm": float("nan"), "epoch": 0.1, "step": 1},
               {"loss": 0.6, "epoch": 0.2, "step": 2},
               {"train_runtime": 3.0, "step": 2}]  # not a step's row
    start_metrics(metrics, Checkpoint(path=tmp_path, step=2, max_steps=4, log_history=history))
    assert read_jsonl(metrics) == [{"step": 1, "loss": 0.7, "grad_norm": None, "epoch": 0.1},
                                   {"step": 2, "loss": 0.6, "epoch": 0.2}]
    start_metrics(metrics, None)
    assert metrics.read_text() == ""


# ---------------------------------------------------------------------------------------------------------
# Kill the job mid-training, run it again


PAIRS = 12
EPOCHS = 8  # ~90 steps after the first checkpoint: room to kill the job before it ends, even on a loaded machine
STEPS = PAIRS * EPOCHS  # batch_size 1


@pytest.fixture(scope="module")
def many_pairs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("resume-pairs")
    rows = []
    for ex in make_examples(PAIRS, seed=11):
        gold = ex["gold_score"]
        wrong = 1 if gold >= 3 else 5
        rows.append({"example_id": ex["id"], "prompt": messages_for(ex),
                     "chosen": f"The verdict word sets it. [RESULT] {gold}",
                     "rejected": f"The verdict word sets it. [RESULT] {wrong}"})
    write_jsonl(folder / "pairs-00000.jsonl", rows)
    return folder


def test_a_killed_job_resumes_from_its_latest_checkpoint(tmp_path, tiny_judge, many_pairs):
    checkpoints = tmp_path / "checkpoints"
    model_dir, data_dir = tmp_path / "out" / "model", tmp_path / "out" / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    env.update(SM_CHANNEL_MODEL=str(tiny_judge), SM_CHANNEL_PAIRS=str(many_pairs), SM_MODEL_DIR=str(model_dir),
               SM_OUTPUT_DATA_DIR=str(data_dir), SM_CHECKPOINT_DIR=str(checkpoints), HF_HUB_OFFLINE="1",
               OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    command = [sys.executable, "jobs/train_dpo.py", "--batch_size", "1", "--epochs", str(EPOCHS),
               "--learning_rate", "1e-3", "--checkpoint_steps", "3", "--seed", "4"]

    # First run: killed as soon as a checkpoint is complete (trainer_state.json, written last, parses).
    log = tmp_path / "first.log"
    with log.open("w") as handle:
        first = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 120
    try:
        while latest_checkpoint(checkpoints)[0] is None:
            assert first.poll() is None, f"the job ended before its first checkpoint:\n{log.read_text()[-3000:]}"
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.02)
        first.send_signal(signal.SIGKILL)
    finally:
        if first.poll() is None:
            first.kill()
        first.wait(timeout=30)
    assert first.returncode == -signal.SIGKILL, f"the job finished before it could be killed ({first.returncode})"
    first_log = log.read_text()
    assert "train_dpo: no checkpoint: starting from step 0" in first_log
    assert not (model_dir / "model.safetensors").exists() and not (data_dir / "train_summary.json").exists()
    latest, _ = latest_checkpoint(checkpoints)
    assert latest is not None and 0 < latest.step < STEPS and latest.max_steps == STEPS

    # Second run: the same command.
    second = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stderr[-3000:]
    assert f"train_dpo: resuming from checkpoint-{latest.step} (step {latest.step} of {STEPS})" in second.stdout
    # Training went on from the checkpoint: progress lines only for the steps after it.
    progress = [json.loads(line.split(" ", 1)[1]) for line in second.stdout.splitlines()
                if line.startswith("JUDGELOOP_PROGRESS")]
    assert [p["done"] for p in progress] == list(range(latest.step + 1, STEPS + 1))

    # The final trainer state has the full run's step count; the last two checkpoints are kept.
    final, _ = latest_checkpoint(checkpoints)
    assert final.step == STEPS
    assert json.loads((final.path / "trainer_state.json").read_text())["global_step"] == STEPS
    assert len(list(checkpoints.glob("checkpoint-*"))) == 2

    # Outputs as from an uninterrupted run: a model folder that loads, one metrics row per step, the summary.
    from transformers import AutoModelForCausalLM, AutoTokenizer
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in model_dir.iterdir()}
    AutoModelForCausalLM.from_pretrained(model_dir)
    AutoTokenizer.from_pretrained(model_dir)
    metrics = read_jsonl(data_dir / "metrics.jsonl")
    assert [m["step"] for m in metrics] == list(range(1, STEPS + 1))
    assert all("loss" in m and "rewards/accuracies" in m for m in metrics)
    # TRL's cumulative token count goes on from the checkpoint's rather than restarting at the resume
    assert all(a["num_tokens"] < b["num_tokens"] for a, b in zip(metrics, metrics[1:]))
    summary = json.loads((data_dir / "train_summary.json").read_text())
    assert summary["steps"] == STEPS and summary["resumed_from_step"] == latest.step
    assert summary["mean_loss"] == pytest.approx(sum(m["loss"] for m in metrics) / STEPS)
