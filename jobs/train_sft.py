"""SFT control job: M(i) = SFT(M(i-1), chosen judgments) — rejection-sampling fine-tuning on the same pairs.

The control of docs/method.md ("SFT control"): the judge is fine-tuned on the chosen side of the preference pairs only, so that DPO's
gain can be measured against plain supervised training on the same data. Same channels and outputs as
train_dpo.py (docs/CONTRACTS.md, "train_sft.py"): channels `model` and `pairs`; the new model folder in
SM_MODEL_DIR; `metrics.jsonl` (one row per step: `step, loss`, plus TRL's token accuracy) and
`train_summary.json` in SM_OUTPUT_DATA_DIR.

The `pairs` channel may also hold SFT examples, `{"prompt": [chat messages], "completion": "<rationale> [RESULT]
<score>"}` (the warm start's reference judgments), alone or mixed with preference pairs in any file: a pair
contributes its chosen judgment, an example its completion, and each distinct (prompt, judgment) is trained
on once.

    SM_CHANNEL_MODEL=... SM_CHANNEL_PAIRS=... SM_MODEL_DIR=... SM_OUTPUT_DATA_DIR=... \
        python jobs/train_sft.py --learning_rate 1e-5
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from judgeloop_jobs.jsonl import channel_jsonl_files, read_jsonl, write_json
from judgeloop_jobs.training import (common_trainer_args, job_fingerprint, lora_config, mean_loss,
                                     job_callbacks, restore_token_count, resume_point, start_metrics,
                                     validate_common)
from judgeloop_jobs.sm_contract import (JobConfigError, config_as_dict, parse_hyperparameters, read_job_paths,
                                        resolve_checkpoint_dir)
from train_dpo import save_model

# What a warm local launcher imports once for all of this script's jobs (judgeloop_jobs/zygote.py): the
# libraries main() imports, and the architecture of the project's judges.
PRELOAD = ("torch", "transformers.models.auto.modeling_auto", "transformers.models.auto.tokenization_auto",
           "transformers.models.llama.modeling_llama", "datasets", "peft", "trl", "trl.trainer.dpo_trainer",
           "trl.trainer.sft_trainer", "judgeloop_jobs.grammar", "judgeloop_jobs.quiet", "judgeloop_jobs.prompts")


@dataclass
class TrainSftConfig:
    epochs: float = 1.0
    learning_rate: float = 1e-5
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 2048
    """Prompt plus judgment in tokens; longer examples lose the start of the prompt, never the judgment."""
    lora: bool = False
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    seed: int = 0
    checkpoint_dir: str = ""
    """Where to checkpoint and resume from when SM_CHECKPOINT_DIR is not set ("" = SageMaker's
    /opt/ml/checkpoints if it exists, else no checkpoints); see sm_contract.resolve_checkpoint_dir."""
    checkpoint_steps: int = 50
    """With a checkpoint folder: a checkpoint every this many optimizer steps (and at the end), the last 2 kept."""

    def validate(self) -> None:
        validate_common(self)


@dataclass
class TrainingRows:
    """What the `pairs` channel holds, in file order: every row as an SFT example (a pair as its chosen side)."""
    pairs: int
    """Preference pairs read (`prompt, chosen, rejected`)."""
    sft_examples: int
    """SFT examples read (`prompt, completion`)."""
    examples: list[dict[str, Any]]
    """`{"prompt": messages, "completion": [the assistant's message]}` per row, duplicates kept."""


def _messages(where: str, prompt: Any) -> list[dict[str, str]]:
    if (not isinstance(prompt, list) or not prompt
            or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                       for m in prompt)):
        raise JobConfigError(f"{where}: 'prompt' must be a non-empty list of {{'role': str, 'content': str}}")
    return [{"role": m["role"], "content": m["content"]} for m in prompt]


def load_training_rows(folder: Path) -> TrainingRows:
    """Reads the channel's rows, each either a preference pair (train_dpo.py's, `prompt, chosen, rejected`) or
    an SFT example (`prompt, completion`); other keys are ignored. A row of neither shape, or of both, fails
    with its `file:line`."""
    out = TrainingRows(pairs=0, sft_examples=0, examples=[])
    for where, row in read_jsonl(channel_jsonl_files(folder, "pairs")):
        is_pair = row.get("chosen") is not None or row.get("rejected") is not None
        is_sft = row.get("completion") is not None
        if is_pair and is_sft:
            raise JobConfigError(f"{where}: has both 'completion' (an SFT example) and 'chosen'/'rejected' (a preference "
                                 "pair); a row is one or the other")
        if not is_pair and not is_sft:
            raise JobConfigError(f"{where}: neither a preference pair ('prompt', 'chosen', 'rejected') nor an SFT example "
                                 f"('prompt', 'completion'); its keys: {', '.join(sorted(row)) or 'none'}")
        prompt = _messages(where, row.get("prompt"))
        if is_sft:
            if not isinstance(row["completion"], str) or not row["completion"].strip():
                raise JobConfigError(f"{where}: 'completion' must be a non-empty string (the assistant's judgment, "
                                     "'<rationale> [RESULT] <score>')")
            completion = row["completion"]
            out.sft_examples += 1
        else:
            for key in ("chosen", "rejected"):
                if not isinstance(row.get(key), str) or not row[key]:
                    raise JobConfigError(f"{where}: '{key}' must be a non-empty string (the assistant's judgment)")
            completion = row["chosen"]
            out.pairs += 1
        out.examples.append({"prompt": prompt, "completion": [{"role": "assistant", "content": completion}]})
    if not out.examples:
        raise JobConfigError(f"the pairs channel ({folder}) holds no preference pair or SFT example: nothing to train on")
    return out


def distinct_examples(examples: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each (prompt, judgment) once, in first-seen order: a judgment that is the chosen side of several pairs (or
    also an SFT example) would otherwise be trained on several times, a weighting DPO does not give it either."""
    seen: set[str] = set()
    out = []
    for example in examples:
        key = json.dumps([example["prompt"], example["completion"]], sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        out.append({"prompt": example["prompt"], "completion": example["completion"]})
    return out


def chosen_examples(pairs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chosen judgments of train_dpo.py's loaded pairs (`load_pairs`), each (prompt, judgment) once."""
    return distinct_examples([{"prompt": pair["prompt"], "completion": pair["chosen"]} for pair in pairs])


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    cfg = parse_hyperparameters(TrainSftConfig, sys.argv[1:] if argv is None else argv)
    paths = read_job_paths(["model", "pairs"])
    loaded = load_training_rows(paths.channel("pairs"))
    examples = distinct_examples(loaded.examples)
    print(f"train_sft: {loaded.pairs} pairs + {loaded.sft_examples} SFT examples -> {len(examples)} distinct "
          f"judgments, config={json.dumps(config_as_dict(cfg))}", flush=True)
    checkpoint_dir = resolve_checkpoint_dir(cfg.checkpoint_dir)
    resume = resume_point("train_sft", checkpoint_dir,
                          job_fingerprint("train_sft", cfg, examples, paths.channel("model")))

    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from judgeloop_jobs.quiet import quiet_libraries

    quiet_libraries()
    set_seed(cfg.seed)
    on_gpu = torch.cuda.is_available()
    dtype = torch.bfloat16 if on_gpu else torch.float32
    model_dir = paths.channel("model")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    if not getattr(tokenizer, "chat_template", None):
        raise JobConfigError("the model's tokenizer has no chat_template; SFT on chat messages needs one")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)

    metrics_path = paths.output_data_dir / "metrics.jsonl"
    start_metrics(metrics_path, resume)
    with tempfile.TemporaryDirectory(prefix="judgeloop-sft-") as scratch:
        trainer = build_trainer(cfg, model, tokenizer, examples, Path(scratch), on_gpu, metrics_path, checkpoint_dir)
        restore_token_count(trainer, resume)
        # The Trainer restores weights, optimizer, scheduler, RNG state and its place in the data.
        result = trainer.train(resume_from_checkpoint=str(resume.path) if resume else None)
        final_model = trainer.model
        if cfg.lora:
            final_model = final_model.merge_and_unload()
        save_model(final_model, tokenizer, paths.model_dir)

    rows = [json.loads(line) for line in metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    last = rows[-1] if rows else {}
    summary = {
        "method": "sft",
        "pairs": loaded.pairs,
        "sft_examples": loaded.sft_examples,
        "examples": len(examples),
        "steps": int(result.global_step),
        "final_loss": last.get("loss"),
        "final_token_accuracy": last.get("mean_token_accuracy"),
        "mean_loss": mean_loss(result, rows, resume),
        "resumed_from_step": resume.step if resume else None,
        "seconds": round(time.monotonic() - started, 3),
        "device": "cuda" if on_gpu else "cpu",
        "dtype": str(dtype).replace("torch.", ""),
        "config": config_as_dict(cfg),
    }
    write_json(paths.output_data_dir / "train_summary.json", summary)
    print(f"train_sft: {summary['steps']} steps, final loss {summary['final_loss']}, {summary['seconds']}s -> "
          f"{paths.model_dir}", flush=True)
    return 0


def build_trainer(cfg: TrainSftConfig, model, tokenizer, examples, scratch: Path, on_gpu: bool, metrics_path: Path,
                  checkpoint_dir: Path | None = None):
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    args = SFTConfig(
        **common_trainer_args(cfg, scratch, on_gpu, checkpoint_dir),
        # Like train_dpo: keep the end (the response and the judgment), lose the start of a long prompt.
        # TRL 1.x deprecates keep_end (removal in 2.0); requirements.txt pins 1.16.
        max_length=cfg.max_length,
        truncation_mode="keep_end",
        completion_only_loss=True,  # the loss is on the judgment, never on the prompt
        packing=False,
    )
    return SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(examples), processing_class=tokenizer,
                      peft_config=lora_config(cfg), callbacks=job_callbacks(metrics_path))


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        sys.exit(main())
    except JobConfigError as error:
        print(f"train_sft: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
