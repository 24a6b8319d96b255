"""What the two training jobs (train_dpo.py, train_sft.py) share: their common hyperparameter checks, the
trainer arguments that make a job a job (no checkpoints, a metrics row per step, progress lines), LoRA, and
the callback that writes metrics.jsonl."""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from judgeloop_jobs.progress import report_progress
from judgeloop_jobs.sm_contract import require


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


def common_trainer_args(cfg: Any, scratch: Path, on_gpu: bool) -> dict[str, Any]:
    """Keyword arguments for TRL's DPOConfig / SFTConfig that both jobs use."""
    return dict(
        output_dir=str(scratch),  # checkpoints are never written (save_strategy="no"); only the final model is
        save_strategy="no",
        report_to="none",
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


def metrics_and_progress(metrics_path: Path):
    """A TrainerCallback: one metrics.jsonl row per logged step, and a progress line per step."""
    from transformers import TrainerCallback

    class MetricsAndProgress(TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if not logs or "loss" not in logs:
                return  # the end-of-training summary (train_runtime, ...) goes to train_summary.json
            row = {"step": state.global_step}
            row.update({k: finite(v) for k, v in logs.items() if isinstance(v, (int, float))})
            with metrics_path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(row) + "\n")

        def on_step_end(self, args, state, control, **kwargs):
            report_progress(state.global_step, state.max_steps, "steps")

    return MetricsAndProgress()
