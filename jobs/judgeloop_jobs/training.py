"""What the two training jobs (train_dpo.py, train_sft.py) share: their common hyperparameter checks, the
trainer arguments that make a job a job (a metrics row per step, progress lines, checkpoints only when there
is a checkpoint folder), LoRA, the callback that writes metrics.jsonl, and resuming from a checkpoint.

Checkpoints (docs/CONTRACTS.md, "Jobs"): with a checkpoint folder (sm_contract.resolve_checkpoint_dir) the
Trainer saves `checkpoint-N` there every `checkpoint_steps` steps and at the end, keeping the last
KEEP_CHECKPOINTS; a job that finds a valid checkpoint of the same job there resumes from the latest one
(weights, optimizer, scheduler, RNG state and data position are the Trainer's own), so a spot interruption
or a killed local job costs at most `checkpoint_steps` steps.
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from judgeloop_jobs.progress import report_progress
from judgeloop_jobs.sm_contract import JobConfigError, config_as_dict, require
from judgeloop_jobs.tracking import tracking_callbacks, tracking_trainer_args

KEEP_CHECKPOINTS = 2  # the Trainer's save_total_limit: the latest, and one more in case the latest is damaged
JOB_MARKER = "judgeloop_job.json"  # in the checkpoint folder: which job (fingerprint) its checkpoints belong to
_CHECKPOINT_NAME = re.compile(r"checkpoint-(\d+)")
_WEIGHT_FILES = ("model.safetensors", "model.safetensors.index.json", "adapter_model.safetensors",
                 "pytorch_model.bin", "pytorch_model.bin.index.json", "adapter_model.bin")
# Written by the Trainer before trainer_state.json, which it writes last: a checkpoint without them (a copy
# cut short, e.g. an S3 sync interrupted by the spot reclaim) would resume with a fresh optimizer.
_STATE_FILES = ("optimizer.pt", "scheduler.pt")


def validate_common(cfg: Any) -> None:
    """Checks the hyperparameters both training configs have (epochs, learning rate, batching, LoRA, seed)."""
    require(cfg.epochs > 0, "epochs", "must be > 0", cfg.epochs)
    require(0 < cfg.learning_rate < 1, "learning_rate", "must be in (0, 1)", cfg.learning_rate)
    require(cfg.batch_size >= 1, "batch_size", "must be >= 1", cfg.batch_size)
    require(cfg.gradient_accumulation_steps >= 1, "gradient_accumulation_steps", "must be >= 1",
            cfg.gradient_accumulation_steps)
    require(cfg.max_length >= 8, "max_length", "must be >= 8", cfg.max_length)
    require(cfg.lora_r >= 1, "lora_r", "must be >= 1", cfg.lora_r)
    require(cfg.lora_alpha >= 1, "lora_alpha", "must be >= 1", cfg.lora_alpha)
    require(0 <= cfg.lora_dropout < 1, "lora_dropout", "must be in [0, 1)", cfg.lora_dropout)
    require(cfg.seed >= 0, "seed", "must be >= 0", cfg.seed)
    require(cfg.checkpoint_steps >= 1, "checkpoint_steps", "must be >= 1", cfg.checkpoint_steps)


def common_trainer_args(cfg: Any, scratch: Path, on_gpu: bool, checkpoint_dir: Path | None = None) -> dict[str, Any]:
    """Keyword arguments for TRL's DPOConfig / SFTConfig that both jobs use: the one place where the jobs'
    hyperparameter names (their public interface, sm_contract) become TRL's, e.g. `epochs` ->
    `num_train_epochs`, `batch_size` -> `per_device_train_batch_size`; the rest is fixed by the job."""
    if checkpoint_dir is None:
        # No checkpoint folder: nothing is written but the final model (to SM_MODEL_DIR, by the job).
        saving: dict[str, Any] = dict(output_dir=str(scratch), save_strategy="no")
    else:
        # Every checkpoint_steps steps and at the last step; optimizer, scheduler and RNG state included.
        saving = dict(output_dir=str(checkpoint_dir), save_strategy="steps", save_steps=cfg.checkpoint_steps,
                      save_total_limit=KEEP_CHECKPOINTS, save_only_model=False)
    return dict(
        **saving,
        # Tracking goes through the guarded callback of job_callbacks, not report_to (judgeloop_jobs/tracking.py).
        report_to="none",
        **tracking_trainer_args(),
        push_to_hub=False,
        logging_strategy="steps",
        logging_steps=1,
        disable_tqdm=True,
        seed=cfg.seed,
        data_seed=cfg.seed,
        num_train_epochs=cfg.epochs,
        learning_rate=cfg.learning_rate,
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        bf16=on_gpu,
        fp16=False,
        # Recomputing activations saves GPU memory on real judges; on CPU with a tiny model it only costs time.
        activation_checkpointing=on_gpu,
        dataloader_num_workers=0,
        dataloader_pin_memory=on_gpu,
    )


def lora_config(cfg: Any):
    """peft's LoraConfig on every linear layer when cfg.lora is set, else None (full fine-tuning)."""
    if not cfg.lora:
        return None
    from peft import LoraConfig
    return LoraConfig(r=cfg.lora_r, lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                      target_modules="all-linear", task_type="CAUSAL_LM")


def finite(value: Any) -> Any:
    """None for NaN and infinities (JSON has neither), the value otherwise."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def metrics_row(step: int, logs: dict[str, Any]) -> dict[str, Any]:
    """A metrics.jsonl row: the step, then every numeric value the Trainer logged for it."""
    row: dict[str, Any] = {"step": step}
    row.update({k: finite(v) for k, v in logs.items() if k != "step" and isinstance(v, (int, float))})
    return row


def job_callbacks(metrics_path: Path) -> list[Any]:
    """Every training job's callbacks: metrics.jsonl and progress, and the tracker's when the worker named a run."""
    return [metrics_and_progress(metrics_path), *tracking_callbacks()]


def metrics_and_progress(metrics_path: Path):
    """A TrainerCallback: one metrics.jsonl row per logged step, and a progress line per step."""
    from transformers import TrainerCallback

    class MetricsAndProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return  # the end-of-training summary (train_runtime, ...) goes to train_summary.json
            row = metrics_row(state.global_step, logs)
            with metrics_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")

        def on_step_end(self, args, state, control, **kwargs):
            report_progress(state.global_step, state.max_steps, "steps")

    return MetricsAndProgress()


@dataclass(frozen=True)
class Checkpoint:
    """A complete `checkpoint-N` folder the Trainer can resume from."""

    path: Path
    step: int
    max_steps: int
    log_history: list[dict[str, Any]] = field(default_factory=list, repr=False, compare=False)


def read_checkpoint(path: Path) -> Checkpoint | str:
    """The checkpoint in `path`, or why it cannot be resumed from (half-written, cut short, not one)."""
    match = _CHECKPOINT_NAME.fullmatch(path.name)
    if not match or not path.is_dir():
        return "not a checkpoint-N folder"
    state_file = path / "trainer_state.json"
    if not state_file.is_file():
        return "no trainer_state.json (half-written)"
    try:
        state = json.loads(state_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return "trainer_state.json is unreadable (half-written)"
    step = int(match[1])
    if not isinstance(state, dict) or state.get("global_step") != step:
        found = state.get("global_step") if isinstance(state, dict) else None
        return f"trainer_state.json's global_step is {found!r}, not {step}"
    if not any((path / name).is_file() for name in _WEIGHT_FILES):
        return "no model weights"
    missing = [name for name in _STATE_FILES if not (path / name).is_file()]
    if missing:
        return f"no {', '.join(missing)}"
    max_steps = state.get("max_steps")
    history = state.get("log_history")
    return Checkpoint(path=path, step=step, max_steps=max_steps if isinstance(max_steps, int) else step,
                      log_history=[e for e in history if isinstance(e, dict)] if isinstance(history, list) else [])


def latest_checkpoint(folder: Path) -> tuple[Checkpoint | None, list[str]]:
    """The valid checkpoint with the highest step in `folder` (None when there is none), and one line for each
    newer `checkpoint-N` folder passed over, saying why. Other files and folders are not looked at."""
    candidates: list[tuple[int, Path]] = []
    if folder.is_dir():
        for child in folder.iterdir():
            match = _CHECKPOINT_NAME.fullmatch(child.name)
            if match and child.is_dir():
                candidates.append((int(match[1]), child))
    skipped: list[str] = []
    for _, path in sorted(candidates, reverse=True):
        found = read_checkpoint(path)
        if isinstance(found, Checkpoint):
            return found, skipped
        skipped.append(f"{path.name}: {found}")
    return None, skipped


def job_fingerprint(job: str, cfg: Any, rows: list[Any], model_dir: Path) -> str:
    """Identifies what a job trains: the script, its hyperparameters (except where and how often it
    checkpoints), the training rows and the starting model's files (names and sizes). A checkpoint is only
    resumed by a job with the same fingerprint."""
    hyperparameters = {k: v for k, v in config_as_dict(cfg).items() if k not in ("checkpoint_dir", "checkpoint_steps")}
    model_files = sorted((p.relative_to(model_dir).as_posix(), p.stat().st_size)
                         for p in model_dir.rglob("*") if p.is_file())
    digest = hashlib.sha256(json.dumps({"job": job, "hyperparameters": hyperparameters, "model": model_files},
                                       sort_keys=True).encode("utf-8"))
    for row in rows:
        digest.update(json.dumps(row, sort_keys=True).encode("utf-8") + b"\n")
    return digest.hexdigest()


def resume_point(job: str, checkpoint_dir: Path | None, fingerprint: str) -> Checkpoint | None:
    """Where training starts: the latest valid checkpoint in `checkpoint_dir`, or None (step 0). Prints one
    line saying which, and one per half-written checkpoint passed over.

    The folder's checkpoints must be this job's (JOB_MARKER holds the fingerprint of the job that wrote
    them): resuming another job's checkpoint would silently train the wrong model, so that is an error.
    """
    if checkpoint_dir is None:
        print(f"{job}: no checkpoint: starting from step 0 (no checkpoint folder: checkpoints off)", flush=True)
        return None
    marker = checkpoint_dir / JOB_MARKER
    has_checkpoints = any(_CHECKPOINT_NAME.fullmatch(p.name) and p.is_dir() for p in checkpoint_dir.iterdir())
    if has_checkpoints:
        try:
            recorded = json.loads(marker.read_text(encoding="utf-8")).get("fingerprint")
        except (OSError, ValueError, AttributeError):
            recorded = None
        if recorded != fingerprint:
            why = "they were written with other hyperparameters, pairs or model" if recorded else f"it has no {JOB_MARKER}"
            raise JobConfigError(f"the checkpoint folder {checkpoint_dir} holds checkpoints of another job ({why}); "
                                 "empty it or set SM_CHECKPOINT_DIR / checkpoint_dir to a folder of this job's own")
    tmp = marker.with_name(marker.name + ".tmp")
    tmp.write_text(json.dumps({"job": job, "fingerprint": fingerprint}) + "\n", encoding="utf-8")
    os.replace(tmp, marker)

    latest, skipped = latest_checkpoint(checkpoint_dir)
    for line in skipped:
        print(f"{job}: ignoring {line}", flush=True)
    if latest is None:
        print(f"{job}: no checkpoint: starting from step 0 (checkpoints go to {checkpoint_dir})", flush=True)
    else:
        print(f"{job}: resuming from {latest.path.name} (step {latest.step} of {latest.max_steps})", flush=True)
    return latest


def start_metrics(metrics_path: Path, resume: Checkpoint | None) -> None:
    """Starts metrics.jsonl: empty, or when resuming, the rows the interrupted run logged up to the checkpoint
    (from its log history; on SageMaker the output folder of the interrupted instance is gone), so the file
    still has one row per step from step 1."""
    rows = [metrics_row(entry["step"], entry) for entry in (resume.log_history if resume else [])
            if "loss" in entry and isinstance(entry.get("step"), int)]
    metrics_path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def mean_loss(result: Any, rows: list[dict[str, Any]], resume: Checkpoint | None) -> Any:
    """The mean training loss over the whole run. After a resume the Trainer's own figure covers only the
    steps this process ran, so it is the mean of the per-step rows (logged every step) instead."""
    if resume is None:
        return finite(result.training_loss)
    losses = [row["loss"] for row in rows if isinstance(row.get("loss"), (int, float))]
    return finite(sum(losses) / len(losses)) if losses else None


def restore_token_count(trainer: Any, resume: Checkpoint | None) -> None:
    """TRL's cumulative `num_tokens` metric is a trainer attribute the checkpoint does not hold: carry it on
    from the checkpoint's last logged value, so the resumed rows count from where the interrupted run was.
    (`_total_train_tokens` is TRL 1.x's private counter; another TRL without it simply restarts the count.)"""
    if resume is None or not hasattr(trainer, "_total_train_tokens"):
        return
    counts = [e["num_tokens"] for e in resume.log_history if isinstance(e.get("num_tokens"), (int, float))]
    if counts:
        trainer._total_train_tokens = counts[-1]
