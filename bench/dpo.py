"""DPO against its limit: train_dpo.py's trainer beside TRL's DPOTrainer with its defaults, outside Judgeloop,
on the same pairs, model, batch size and number of steps, in one process, on whatever device torch sees.

train_dpo.py's trainer is the one its job builds (`build_trainer`: the pairs' sampled token ids, left
truncation, the marker and EOS masked out of the loss, RPO's SFT term when `--rpo-alpha` > 0). TRL's is
`DPOTrainer(model, args=DPOConfig(...), train_dataset=..., processing_class=tokenizer)` with nothing set but
the output folder, the batch size, the steps and no checkpoints or logging. Each trainer gets a fresh
copy of the model. Model loading is outside both timings; the figure is seconds per optimizer step
(`train_runtime / global_step`).

    .venv/bin/python bench/dpo.py [--model DIR] [--pairs DIR] [--count 160] [--batch-size 16] [--steps 10]
        [--rpo-alpha 1.0] [--threads 1] [--json FILE]
"""
from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from bench_common import ROOT, model_bench_parser, print_comparison, set_up_torch, write_figures


def main() -> int:
    parser = model_bench_parser(__doc__)
    parser.add_argument("--pairs", default=str(ROOT / ".judgeloop/bench/inputs/pairs"))
    parser.add_argument("--count", type=int, default=160, help="pairs used (the first ones)")
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rpo-alpha", type=float, default=1.0, help="train_dpo.py's SFT term (the embedded default's 1.0)")
    parser.add_argument("--activation-checkpointing", action="store_true",
                        help="train_dpo.py's trainer recomputes activations in the backward pass, as TRL's default "
                             "does (the job does it on a GPU only)")
    args = parser.parse_args()

    torch = set_up_torch(args.threads)
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer, set_seed
    from trl import DPOConfig, DPOTrainer

    import train_dpo
    pairs = train_dpo.load_pairs(Path(args.pairs))[:args.count]
    if not pairs:
        parser.error(f"no pairs in {args.pairs} (npx tsx bench/make-job-inputs.ts --out DIR writes some)")
    on_gpu = torch.cuda.is_available()
    dtype = torch.bfloat16 if on_gpu else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(args.model)

    def fresh_model():
        return AutoModelForCausalLM.from_pretrained(args.model, dtype=dtype)

    figures: dict = {"model": args.model, "device": "cuda" if on_gpu else "cpu", "threads": torch.get_num_threads(),
                     "pairs": len(pairs), "batch_size": args.batch_size, "steps": args.steps,
                     "activation_checkpointing": args.activation_checkpointing}
    with tempfile.TemporaryDirectory(prefix="judgeloop-bench-dpo-") as scratch:
        # train_dpo.py's trainer, as its job builds it, stopped after --steps steps.
        cfg = train_dpo.TrainDpoConfig(batch_size=args.batch_size, rpo_alpha=args.rpo_alpha, epochs=1000)
        set_seed(0)
        ref = fresh_model().eval().requires_grad_(False)
        trainer, _ = train_dpo.build_trainer(cfg, fresh_model(), ref, tokenizer, pairs, Path(scratch) / "ours",
                                             on_gpu, Path(scratch) / "metrics.jsonl")
        trainer.args.max_steps = args.steps
        if args.activation_checkpointing:
            trainer.args.activation_checkpointing = True  # read by train(), which enables it on the model
        result = trainer.train()
        ours = result.metrics["train_runtime"] / result.global_step

        # TRL's defaults on the same rows train_dpo.py gives it: the prompt's chat messages, the two judgments.
        set_seed(0)
        rows = [{key: p[key] for key in ("prompt", "chosen", "rejected")} for p in pairs]
        trl_args = DPOConfig(output_dir=str(Path(scratch) / "trl"), per_device_train_batch_size=args.batch_size,
                             max_steps=args.steps, save_strategy="no", report_to="none", disable_tqdm=True,
                             logging_strategy="no", bf16=on_gpu, use_cpu=not on_gpu)
        trl_trainer = DPOTrainer(model=fresh_model(), args=trl_args, train_dataset=Dataset.from_list(rows),
                                 processing_class=tokenizer)
        trl_result = trl_trainer.train()
        trl = trl_result.metrics["train_runtime"] / trl_result.global_step

    figures.update({"train_dpo_seconds_per_step": round(ours, 3), "trl_defaults_seconds_per_step": round(trl, 3),
                    "ratio": round(ours / trl, 2)})
    checkpointing = ", activation checkpointing" if args.activation_checkpointing else ""
    print_comparison(
        f"{args.steps} DPO steps of {args.batch_size} pairs on {figures['device']}, {figures['threads']} thread(s), "
        f"model {args.model}",
        ["trainer", "seconds per step", "pairs/s"],
        [[f"train_dpo.py (sampled ids, masked forced tokens, RPO alpha {args.rpo_alpha}{checkpointing})",
          f"{ours:.3f}", f"{args.batch_size / ours:.1f}"],
         ["TRL DPOTrainer, defaults", f"{trl:.3f}", f"{args.batch_size / trl:.1f}"]],
        f"time per step / limit: {figures['ratio']:.2f}x")
    write_figures(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
