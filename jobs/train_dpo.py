"""DPO training job: M(i) = DPO(M(i-1), pairs), with M(i-1) frozen as the reference model.

Contract: docs/CONTRACTS.md ("train_dpo.py"). Channels `model` (a Hugging Face model folder) and `pairs`
(`*.jsonl` preference pairs: `prompt` as chat messages, `chosen`/`rejected` as the assistant's text). Writes
the new model folder (full weights, LoRA merged, tokenizer and chat template) to SM_MODEL_DIR, and
`metrics.jsonl` (one row per step) plus `train_summary.json` to SM_OUTPUT_DATA_DIR.

    SM_CHANNEL_MODEL=... SM_CHANNEL_PAIRS=... SM_MODEL_DIR=... SM_OUTPUT_DATA_DIR=... \
        python jobs/train_dpo.py --beta 0.1 --learning_rate 5e-7
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
                                        require, resolve_checkpoint_dir)

# What a warm local launcher imports once for all of this script's jobs (judgeloop_jobs/zygote.py): the
# libraries main() imports, and the architecture of the project's judges.
PRELOAD = ("torch", "transformers.models.auto.modeling_auto", "transformers.models.auto.tokenization_auto",
           "transformers.models.llama.modeling_llama", "datasets", "peft", "trl", "trl.trainer.dpo_trainer",
           "judgeloop_jobs.grammar", "judgeloop_jobs.quiet", "judgeloop_jobs.prompts", "judgeloop_jobs.pair_prefix")

# The per-step metrics the pipeline reads (docs/CONTRACTS.md); every other numeric log value rides along.
METRIC_KEYS = ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies")


@dataclass
class TrainDpoConfig:
    beta: float = 0.1
    epochs: float = 1.0
    learning_rate: float = 5e-7
    batch_size: int = 8
    gradient_accumulation_steps: int = 1
    max_length: int = 2048
    """Prompt plus completion in tokens; longer pairs lose the start of the prompt, never the judgment."""
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
    rpo_alpha: float = 0.0
    """Weight of a negative log-likelihood term on the chosen judgment added to the DPO loss (RPO, Pang et al.
    2024, "Iterative Reasoning Preference Optimization"); 0 is the paper's pure DPO. TRL: loss_type
    ["sigmoid", "sft"] with loss_weights [1, rpo_alpha]."""
    # The judgment grammar generate.py enforced. Its forced tokens (the marker and the EOS after the score)
    # had probability 1 under the constrained sampler: they carry no choice of the model, so by default
    # they are left out of the DPO log-probabilities (see ForcedTokenMaskingCollator).
    mask_forced_tokens: bool = True
    max_prompt_tokens: int = 0
    """The sampler's prompt budget (generate.py's max_prompt_tokens). Pairs that carry the sampled token ids
    (`chosen_ids`, `rejected_ids`) rebuild their prompt ids the way generate.py did, with this left
    truncation, so DPO trains on the very ids the judge saw and wrote; 0 = no truncation."""
    token_ids: str = "sampled"
    """"sampled": pairs that carry the sampled token ids are trained on those ids; "text": the ids are
    ignored and TRL tokenizes the judgment text (the behaviour before ids were recorded)."""
    marker: str = "[RESULT]"
    score_min: int = 1
    score_max: int = 5
    share_pair_prefixes: bool = True
    """Run the tokens a pair's two judgments share (the prompt) once per pair, for the policy and the reference
    model (judgeloop_jobs/pair_prefix.py); the same loss up to float rounding. Off with activation checkpointing
    (the GPU default), which gives up the key/value cache it needs."""

    def validate(self) -> None:
        require(self.beta > 0, "beta", "must be > 0", self.beta)
        validate_common(self)
        require(0 <= self.rpo_alpha <= 100, "rpo_alpha", "must be between 0 (pure DPO) and 100", self.rpo_alpha)
        require(bool(self.marker.strip()) and self.marker == self.marker.strip(), "marker",
                "must be non-empty text without surrounding spaces", self.marker)
        require(self.token_ids in ("sampled", "text"), "token_ids", "must be 'sampled' or 'text'", self.token_ids)
        require(self.max_prompt_tokens >= 0, "max_prompt_tokens", "must be >= 0 (0 = no truncation)",
                self.max_prompt_tokens)
        require(0 <= self.score_min < self.score_max <= 9, "score_max",
                f"must satisfy 0 <= score_min ({self.score_min}) < score_max <= 9", self.score_max)


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    cfg = parse_hyperparameters(TrainDpoConfig, sys.argv[1:] if argv is None else argv)
    paths = read_job_paths(["model", "pairs"])
    pairs = load_pairs(paths.channel("pairs"), keep_ids=cfg.token_ids == "sampled")
    print(f"train_dpo: {len(pairs)} pairs, config={json.dumps(config_as_dict(cfg))}", flush=True)
    checkpoint_dir = resolve_checkpoint_dir(cfg.checkpoint_dir)
    resume = resume_point("train_dpo", checkpoint_dir,
                          job_fingerprint("train_dpo", cfg, pairs, paths.channel("model")))

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
        raise JobConfigError("the model's tokenizer has no chat_template; DPO on chat messages needs one")
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype)
    # Full fine-tuning: the starting model, loaded a second time and frozen, is the reference.
    # LoRA: no copy; TRL computes reference log-probs with the adapter disabled, i.e. the starting model.
    ref_model = None
    if not cfg.lora:
        ref_model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).eval().requires_grad_(False)

    metrics_path = paths.output_data_dir / "metrics.jsonl"
    start_metrics(metrics_path, resume)
    with tempfile.TemporaryDirectory(prefix="judgeloop-dpo-") as scratch:
        trainer, truncated_pairs = build_trainer(cfg, model, ref_model, tokenizer, pairs, Path(scratch), on_gpu,
                                                 metrics_path, checkpoint_dir)
        kept = len(trainer.train_dataset)
        restore_token_count(trainer, resume)
        # The Trainer restores weights, optimizer, scheduler, RNG state and its place in the data.
        result = trainer.train(resume_from_checkpoint=str(resume.path) if resume else None)
        final_model = trainer.model
        if cfg.lora:
            # The output is always a full model folder: merge the adapter into the base weights.
            final_model = final_model.merge_and_unload()
        save_model(final_model, tokenizer, paths.model_dir)

    rows = [json.loads(line) for line in metrics_path.read_text(encoding="utf-8").splitlines() if line.strip()]
    last = rows[-1] if rows else {}
    summary = {
        "pairs": len(pairs),
        "pairs_trained": kept,
        "truncated_pairs": truncated_pairs,
        # "sampled": trained on the token ids the judge sampled (pairs carry them); "retokenized": on TRL's
        # tokenization of the judgment text (pairs from jobs that did not record ids).
        "token_ids": "sampled" if "chosen_ids" in pairs[0] else "retokenized",
        # Fraction of trained sequences whose marker and EOS were left out of the loss (mask_forced_tokens).
        "forced_tokens_masked": _masked_fraction(trainer.data_collator),
        # Backbone tokens run over tokens in the batches (share_pair_prefixes); None when no batch was shared.
        "backbone_token_fraction": _token_fraction(trainer),
        "steps": int(result.global_step),
        "final_loss": last.get("loss"),
        "final_reward_accuracy": last.get("rewards/accuracies"),
        "final_reward_margin": last.get("rewards/margins"),
        "mean_loss": mean_loss(result, rows, resume),
        "resumed_from_step": resume.step if resume else None,
        "seconds": round(time.monotonic() - started, 3),
        "device": "cuda" if on_gpu else "cpu",
        "dtype": str(dtype).replace("torch.", ""),
        "config": config_as_dict(cfg),
    }
    write_json(paths.output_data_dir / "train_summary.json", summary)
    print(f"train_dpo: {summary['steps']} steps, final loss {summary['final_loss']}, reward accuracy "
          f"{summary['final_reward_accuracy']}, {summary['seconds']}s -> {paths.model_dir}", flush=True)
    return 0


def load_pairs(folder: Path, keep_ids: bool = True) -> list[dict[str, Any]]:
    """Preference pairs in TRL's conversational form: prompt messages; chosen/rejected assistant turns."""
    pairs: list[dict[str, Any]] = []
    for where, row in read_jsonl(channel_jsonl_files(folder, "pairs")):
        prompt = row.get("prompt")
        if (not isinstance(prompt, list) or not prompt
                or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str)
                           for m in prompt)):
            raise JobConfigError(f"{where}: 'prompt' must be a non-empty list of {{'role': str, 'content': str}}")
        for key in ("chosen", "rejected"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise JobConfigError(f"{where}: '{key}' must be a non-empty string (the assistant's judgment)")
        pair = {
            "prompt": [{"role": m["role"], "content": m["content"]} for m in prompt],
            "chosen": [{"role": "assistant", "content": row["chosen"]}],
            "rejected": [{"role": "assistant", "content": row["rejected"]}],
        }
        carried = [key for key in ("chosen_ids", "rejected_ids", "prompt_ids_sha256") if key in row] if keep_ids else []
        if carried:
            if len(carried) < 3:
                raise JobConfigError(f"{where}: a pair with sampled token ids needs chosen_ids, rejected_ids and "
                                     f"prompt_ids_sha256 together (it has only {', '.join(carried)})")
            for key in ("chosen_ids", "rejected_ids"):
                ids = row[key]
                if not isinstance(ids, list) or not ids or not all(isinstance(t, int) and t >= 0 for t in ids):
                    raise JobConfigError(f"{where}: '{key}' must be a non-empty list of token ids")
            if not isinstance(row["prompt_ids_sha256"], str):
                raise JobConfigError(f"{where}: 'prompt_ids_sha256' must be a string")
            pair.update({key: row[key] for key in carried})
        pairs.append(pair)
    if not pairs:
        raise JobConfigError(f"the pairs channel ({folder}) holds no preference pair: nothing to train on")
    with_ids = sum("chosen_ids" in p for p in pairs)
    if 0 < with_ids < len(pairs):
        raise JobConfigError(f"the pairs channel ({folder}) mixes pairs with sampled token ids ({with_ids}) and "
                             f"pairs without ({len(pairs) - with_ids}): give all or none (one pair step writes them)")
    return pairs


def pretokenized_pairs(pairs: list[dict[str, Any]], tokenizer, max_prompt_tokens: int) -> list[dict[str, Any]]:
    """TRL's tokenized columns built from the sampled ids: the prompt re-encoded exactly as generate.py did
    (judgeloop_jobs.prompts.encode_prompt, checked against the sampler's fingerprint), the completions as
    sampled. Re-tokenizing the judgment text instead can give other ids (a sampled token sequence need not
    be the tokenizer's own spelling of its text, and a chat template closes the assistant turn with tokens
    the judge never wrote), so the model would be trained on sequences it did not produce."""
    from judgeloop_jobs.prompts import encode_prompt, prompt_ids_sha256

    rows, cache = [], {}
    for index, pair in enumerate(pairs):
        key = json.dumps(pair["prompt"], sort_keys=True)
        if key not in cache:
            cache[key] = encode_prompt(tokenizer, pair["prompt"], max_prompt_tokens)[0]
        prompt_ids = cache[key]
        if prompt_ids_sha256(prompt_ids) != pair["prompt_ids_sha256"]:
            raise JobConfigError(
                f"pair {index + 1}: the prompt's token ids differ from the ones its judgments were sampled from "
                f"(tokenizer, chat template or max_prompt_tokens={max_prompt_tokens} differ from the sampling "
                f"job's); DPO would train on a context the judge never saw")
        rows.append({"prompt_ids": list(prompt_ids), "chosen_ids": list(pair["chosen_ids"]),
                     "rejected_ids": list(pair["rejected_ids"])})
    return rows


def left_truncated(dataset, max_length: int):
    """TRL's tokenized pairs (`prompt_ids`, `chosen_ids`, `rejected_ids`) cut to `max_length` tokens per sequence,
    and how many pairs were cut.

    TRL truncates the end of a sequence (`keep_start`), which would cut the judgment being trained on, or each
    sequence on its own (`keep_end`), which would give chosen and rejected different contexts. The prompt's start
    is the least informative part (the task description, not the response), so that is what goes, the same for
    both judgments of a pair."""
    def left_truncate(example):
        completion = max(len(example["chosen_ids"]), len(example["rejected_ids"]))
        room = max(max_length - completion, 1)  # keep at least the generation-prompt token
        prompt = example["prompt_ids"]
        example["prompt_ids"] = prompt[-room:] if len(prompt) > room else prompt
        # A judgment longer than max_length on its own (rare: rationales are capped) loses its end.
        example["chosen_ids"] = example["chosen_ids"][: max_length - len(example["prompt_ids"])]
        example["rejected_ids"] = example["rejected_ids"][: max_length - len(example["prompt_ids"])]
        example["was_truncated"] = len(prompt) + completion > max_length
        return example

    dataset = dataset.map(left_truncate)
    return dataset.remove_columns("was_truncated"), int(sum(dataset["was_truncated"]))


def build_trainer(cfg: TrainDpoConfig, model, ref_model, tokenizer, pairs, scratch: Path, on_gpu: bool,
                  metrics_path: Path, checkpoint_dir: Path | None = None):
    """TRL's DPOTrainer on the pairs, and how many pairs lost the start of their prompt (`left_truncated`)."""
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    # Checked before TRL does any work: a prompt encoded unlike the sampler's is a config error.
    sampled = pretokenized_pairs(pairs, tokenizer, cfg.max_prompt_tokens) if "chosen_ids" in pairs[0] else None
    args = DPOConfig(
        **common_trainer_args(cfg, scratch, on_gpu, checkpoint_dir),
        beta=cfg.beta,
        **({"loss_type": ["sigmoid", "sft"], "loss_weights": [1.0, cfg.rpo_alpha]} if cfg.rpo_alpha > 0 else {}),
        max_length=None,  # truncation is ours (left_truncated)
        # Reference log-probs are computed batch by batch from the dataset set below; precomputing them would
        # read TRL's own, untruncated tokenization in the constructor.
        precompute_ref_log_probs=False,
        dataset_num_proc=None,
    )
    collator = None
    if cfg.mask_forced_tokens:
        collator = forced_token_masking_collator(cfg, tokenizer)
    text_pairs = [{key: pair[key] for key in ("prompt", "chosen", "rejected")} for pair in pairs]
    trainer_class = DPOTrainer
    if cfg.share_pair_prefixes:
        trainer_class = pair_prefix_trainer(DPOTrainer)
    trainer = trainer_class(model=model, ref_model=ref_model, args=args, train_dataset=Dataset.from_list(text_pairs),
                         processing_class=tokenizer, peft_config=lora_config(cfg),
                         callbacks=job_callbacks(metrics_path), data_collator=collator)
    # DPOTrainer always tokenizes the text it is given (TRL 1.16 takes no pre-tokenized dataset), into the
    # columns its preference collator reads. What it trains on is set here, through its public train_dataset,
    # before train() reads it: the sampled ids when the pairs carry them (re-tokenizing the judgment text
    # can give other ids, see pretokenized_pairs), else TRL's tokenization; left-truncated either way.
    tokenized = Dataset.from_list(sampled) if sampled is not None else trainer.train_dataset
    trainer.train_dataset, truncated_pairs = left_truncated(tokenized, cfg.max_length)
    if len(trainer.train_dataset) == 0:
        raise JobConfigError("no preference pair is left after tokenization: nothing to train on")
    return trainer, truncated_pairs


def pair_prefix_trainer(base):
    """`base` (TRL's DPOTrainer) whose loss runs each pair's shared prompt once, in the policy and in the
    reference model, and scores only the judgments' positions; see judgeloop_jobs/pair_prefix.py."""
    from judgeloop_jobs.pair_prefix import HEAD_FIELDS, PairPrefixSharing

    class PairPrefixDPOTrainer(base):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)  # gives the models TRL's fused head, which the wrappers call
            self.pair_prefixes = PairPrefixSharing()
            policy = self.model.get_base_model() if hasattr(self.model, "get_base_model") else self.model
            self.pair_prefixes.wrap(policy, HEAD_FIELDS + (("log_sum_sq_probs",) if self.use_weighting else ()))
            if self.ref_model is not None:
                self.pair_prefixes.wrap(self.ref_model, ("log_probs",))

        def compute_loss(self, *args, **kwargs):
            # Every batch the loss runs, for the policy and the reference, is a preference batch.
            with self.pair_prefixes.sharing():
                return super().compute_loss(*args, **kwargs)

    return PairPrefixDPOTrainer


def forced_token_masking_collator(cfg: TrainDpoConfig, tokenizer):
    """TRL's preference collator, with the grammar-forced tokens of each judgment taken out of the loss.

    generate.py samples from the grammar-constrained model, under which the marker tokens and the final EOS
    have probability 1. Scoring them with the unconstrained model instead adds terms that depend only on
    the surrounding rationale, not on any choice the judge made: for a judge that has not learnt the format
    (the tiny judge) they are large and random, and drown the score token's signal. A judgment whose tokens
    do not end in `marker tokens, score, EOS` (e.g. a tokenizer that re-tokenizes differently) is left as is.
    """
    from trl.trainer.dpo_trainer import DataCollatorForPreference

    from judgeloop_jobs.grammar import GrammarError, build_grammar

    try:
        grammar = build_grammar(tokenizer, marker=cfg.marker, score_min=cfg.score_min, score_max=cfg.score_max,
                                max_rationale_tokens=1)
    except GrammarError as err:
        raise JobConfigError(f"mask_forced_tokens: the judgment grammar does not fit this tokenizer: {err}") from None
    prefix, scores, eos = list(grammar.forced_prefix), set(grammar.score_token_ids), grammar.eos_token_id
    tail = len(prefix) + 2

    class ForcedTokenMaskingCollator(DataCollatorForPreference):
        sequences = 0
        masked_sequences = 0

        def torch_call(self, examples):
            out = super().torch_call(examples)
            ids, mask = out["input_ids"], out["completion_mask"]
            for row in range(ids.shape[0]):
                positions = mask[row].nonzero().squeeze(1)
                completion = ids[row, positions].tolist()
                ForcedTokenMaskingCollator.sequences += 1
                if (len(completion) > tail and completion[-1] == eos and completion[-2] in scores
                        and completion[-tail:-2] == prefix):
                    mask[row, positions[-tail:-2]] = 0
                    mask[row, positions[-1]] = 0
                    ForcedTokenMaskingCollator.masked_sequences += 1
            return out

    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
    return ForcedTokenMaskingCollator(pad_token_id=pad_id, max_length=None, pad_to_multiple_of=None)


def save_model(model, tokenizer, out_dir: Path) -> None:
    # Only the final model goes to SM_MODEL_DIR (it is uploaded as the next judge, M(i)).
    model.config.use_cache = True  # training may have turned the KV cache off; generation wants it back
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir, save_jinja_files=False)


def _token_fraction(trainer) -> float | None:
    stats = getattr(getattr(trainer, "pair_prefixes", None), "stats", None)
    return round(stats.tokens_run / stats.tokens_given, 4) if stats and stats.tokens_given else None


def _masked_fraction(collator) -> float | None:
    seen = getattr(collator, "sequences", None)
    return round(collator.masked_sequences / seen, 4) if seen else None


if __name__ == "__main__":
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    try:
        sys.exit(main())
    except JobConfigError as error:
        print(f"train_dpo: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
