"""Learning check (a dev tool, not a test): can the tiny judge learn the synthetic task through this loop?

Runs the self-rationalization loop end to end with the real job entry points, as subprocesses with the
SageMaker environment, exactly as the local job runner starts them:

    build the tiny judge (corpus: the training split and the prompt template)
    for each iteration:
        evaluate: greedy judgments (N=1, T=0) on the held-out split -> exact agreement with gold
        sample:   N judgments per training input at T=1                 (jobs/generate.py)
        pair:     chosen = score == gold, rejected = |score - gold| >= 2, at most 4 pairs per input
        train:    DPO from the current judge, which is also the reference (jobs/train_dpo.py)
    evaluate the last judge

    .venv/bin/python jobs/tools/learning_check.py --work /tmp/learning-check

The defaults are the embedded default's settings (configs/local.json); flags change one at a time.

It prints agreement before/after each iteration and the seconds per job, and writes the same numbers to
WORK/summary.json. The prompt rendering here is a minimal stand-in for core/judging/prompt.ts (sections, values,
the optional reference-answer block), good enough for the synthetic task's rows.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

JOBS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = JOBS_DIR.parent
JUDGMENT = re.compile(r"^(.*)\s*\[RESULT\]\s*(\d)\s*$", re.S)


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", type=Path, default=Path("/tmp/judgeloop-learning-check"))
    p.add_argument("--train", type=Path, default=REPO_ROOT / "datasets/synthetic/train.jsonl")
    p.add_argument("--heldout", type=Path, default=REPO_ROOT / "datasets/synthetic/heldout.jsonl")
    p.add_argument("--template", type=Path, default=REPO_ROOT / "prompts/pointwise-v1.txt")
    p.add_argument("--iterations", type=int, default=2)
    p.add_argument("--inputs", type=int, default=400, help="training inputs sampled per iteration")
    p.add_argument("--samples", type=int, default=8, help="N: judgments per input")
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--margin", type=int, default=2)
    p.add_argument("--max-pairs-per-input", type=int, default=4)
    p.add_argument("--seed", type=int, default=0)
    # The judge and decoding.
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--intermediate-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--vocab-size", type=int, default=1024)
    p.add_argument("--initializer-range", type=float, default=0.1)
    p.add_argument("--max-rationale-tokens", type=int, default=2)
    p.add_argument("--gen-batch-size", type=int, default=64)
    # DPO.
    p.add_argument("--learning-rate", type=float, default=5e-3)
    p.add_argument("--beta", type=float, default=0.5)
    p.add_argument("--epochs", type=float, default=4.0)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--rpo-alpha", type=float, default=1.0, help="NLL weight on the chosen judgment (RPO)")
    p.add_argument("--lora", action="store_true")
    p.add_argument("--no-mask-forced-tokens", action="store_true",
                   help="score the grammar-forced marker tokens in DPO too (train_dpo's mask_forced_tokens=false)")
    p.add_argument("--no-share-pair-prefixes", action="store_true",
                   help="run each pair's prompt twice, as TRL's own forward does (train_dpo's share_pair_prefixes=false)")
    p.add_argument("--threads", type=int, default=1,
                   help="CPU threads per job (OMP_NUM_THREADS), like backend.cpuThreads in configs/local.json")
    return p.parse_args()


# ------------------------------------------------------------------------------------------ prompt rendering
def render_messages(template: str, example: dict, marker: str = "[RESULT]", lo: int = 1, hi: int = 5) -> list[dict]:
    bodies: dict[str, list[str]] = {}
    current = None
    for line in template.split("\n"):
        header = re.match(r"^===\s*(system|user)\s*===\s*$", line)
        if header:
            current = header.group(1)
            bodies[current] = []
        elif current is not None:  # lines before the first section are comments
            bodies[current].append(line)
    rubric = example["rubric"]
    values = {
        "instruction": example["instruction"], "response": example["response"],
        "reference_answer": example.get("reference_answer") or "",
        "criteria": rubric["criteria"].strip(),
        "score_descriptions": "\n".join(f"Score {k}: {rubric[f'score{k}'].strip()}" for k in range(lo, hi + 1)),
        "score_min": str(lo), "score_max": str(hi), "marker": marker,
    }
    values["rubric"] = values["criteria"] + "\n" + values["score_descriptions"]

    def render(body: str) -> str:
        lines = body.strip().split("\n")
        # A section tag alone on its line takes the line break with it.
        text = "".join(m.group(1) if (m := re.match(r"^[ \t]*(\{\{[#/]\w+\}\})[ \t]*$", l)) else l + "\n"
                       for l in lines)
        for name in ("reference_answer",):
            if values[name].strip():
                text = re.sub(r"\{\{[#/]" + name + r"\}\}", "", text)
            else:
                text = re.sub(r"\{\{#" + name + r"\}\}.*?\{\{/" + name + r"\}\}", "", text, flags=re.S)
        return re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text).strip()

    messages = []
    system = render("\n".join(bodies.get("system", [])))
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": render("\n".join(bodies.get("user", [])))})
    return messages


def fallback_messages(example: dict) -> list[dict]:
    """Used only when prompts/pointwise-v1.txt does not exist yet."""
    rubric = "\n".join([example["rubric"]["criteria"]] + [f"Score {k}: {example['rubric'][f'score{k}']}" for k in range(1, 6)])
    return [{"role": "system", "content": "You are a fair, strict judge."},
            {"role": "user", "content": f"### Instruction\n{example['instruction']}\n\n### Response\n"
                                        f"{example['response']}\n\n### Rubric\n{rubric}\n\n### Feedback"}]


# ------------------------------------------------------------------------------------------------ the jobs
THREADS = {"n": 1}


def run_job(script: str, channels: dict[str, Path], hps: dict, out: Path) -> tuple[Path, Path, float]:
    if out.exists():
        shutil.rmtree(out)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    # On 2 cores one thread per job avoids oversubscription, which slows a tiny model several-fold.
    env.update(OMP_NUM_THREADS=str(THREADS["n"]), MKL_NUM_THREADS=str(THREADS["n"]))
    env.update({f"SM_CHANNEL_{k.upper()}": str(v) for k, v in channels.items()})
    env.update(SM_MODEL_DIR=str(out / "model"), SM_OUTPUT_DATA_DIR=str(out / "data"), SM_HPS=json.dumps(hps),
               HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, f"jobs/{script}"], cwd=REPO_ROOT, env=env, capture_output=True,
                          text=True)
    seconds = time.monotonic() - t0
    (out / "log.txt").parent.mkdir(parents=True, exist_ok=True)
    (out / "log.txt").write_text(proc.stdout + "\n--- stderr ---\n" + proc.stderr)
    if proc.returncode != 0:
        sys.exit(f"{script} failed (exit {proc.returncode}); log: {out / 'log.txt'}\n{proc.stderr[-2000:]}")
    return out / "model", out / "data", seconds


def write_requests(folder: Path, examples: list[dict], template: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "requests.jsonl").open("w") as handle:
        for ex in examples:
            messages = render_messages(template, ex) if template else fallback_messages(ex)
            handle.write(json.dumps({"request_id": ex["id"], "example_id": ex["id"], "gold_score": ex["gold_score"],
                                     "prompt_hash": hashlib.sha256(json.dumps(messages).encode()).hexdigest()[:16],
                                     "messages": messages}) + "\n")


def score_of(text: str) -> int | None:
    m = JUDGMENT.match(text)
    return int(m.group(2)) if m else None


def evaluate(model: Path, requests: Path, out: Path, args) -> tuple[float, float, dict]:
    hps = {"num_samples": 1, "temperature": 0, "seed": args.seed, "max_rationale_tokens": args.max_rationale_tokens,
           "batch_size": args.gen_batch_size}
    model_out, _, seconds = run_job("generate.py", {"model": model, "requests": requests}, hps, out)
    rows = [json.loads(l) for l in (model_out / "judgments.jsonl").read_text().splitlines()]
    hits = sum(score_of(r["text"]) == r["gold_score"] for r in rows)
    histogram: dict[int, int] = {}
    for r in rows:
        s = score_of(r["text"])
        histogram[s] = histogram.get(s, 0) + 1
    return hits / len(rows), seconds, dict(sorted(histogram.items(), key=lambda kv: (kv[0] is None, kv[0])))


def build_pairs(judgments: list[dict], requests: dict[str, dict], args, rng: random.Random) -> list[dict]:
    by_input: dict[str, list[dict]] = {}
    for j in judgments:
        by_input.setdefault(j["example_id"], []).append(j)
    pairs = []
    for example_id, samples in by_input.items():
        gold = requests[example_id]["gold_score"]
        chosen = [s for s in samples if score_of(s["text"]) == gold]
        rejected = [s for s in samples if (sc := score_of(s["text"])) is not None and abs(sc - gold) >= args.margin]
        if not chosen or not rejected:
            continue
        rng.shuffle(chosen)
        rng.shuffle(rejected)
        # Spread over distinct judgments: pair k uses chosen[k % C] and rejected[k % R].
        for k in range(min(args.max_pairs_per_input, max(len(chosen), len(rejected)))):
            c, r = chosen[k % len(chosen)], rejected[k % len(rejected)]
            pairs.append({"example_id": example_id, "prompt": requests[example_id]["messages"], "chosen": c["text"],
                          "rejected": r["text"], "chosen_score": gold, "rejected_score": score_of(r["text"]),
                          "strategy": "gold_margin"})
    return pairs


def main() -> int:
    args = parse_args()
    THREADS["n"] = args.threads
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    train = [json.loads(l) for l in args.train.read_text().splitlines() if l.strip()]
    heldout = [json.loads(l) for l in args.heldout.read_text().splitlines() if l.strip()]
    template = args.template.read_text() if args.template.exists() else None
    print(f"learning check: {len(train)} train, {len(heldout)} held-out, template "
          f"{args.template if template else '(fallback)'}", flush=True)

    judge = work / "m0"
    if judge.exists():
        shutil.rmtree(judge)
    corpus = [args.train] + ([args.template] if template else [])
    cmd = [sys.executable, "jobs/build_tiny_judge.py", "--out", str(judge), "--seed", str(args.seed),
           "--hidden-size", str(args.hidden_size), "--intermediate-size", str(args.intermediate_size),
           "--layers", str(args.layers), "--vocab-size", str(args.vocab_size),
           "--initializer-range", str(args.initializer_range)]
    for path in corpus:
        cmd += ["--corpus", str(path)]
    built = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    if built.returncode != 0:
        sys.exit(built.stderr)
    print(built.stdout.strip(), flush=True)

    heldout_requests = work / "heldout-requests"
    write_requests(heldout_requests, heldout, template)
    rng = random.Random(args.seed)
    train_by_id = {ex["id"]: ex for ex in train}

    results = []
    before, eval_seconds, histogram = evaluate(judge, heldout_requests, work / "eval-0", args)
    print(f"iteration 0: held-out exact agreement {before:.1%} (scores {histogram}, {eval_seconds:.1f}s)", flush=True)
    for iteration in range(1, args.iterations + 1):
        inputs = rng.sample(train, min(args.inputs, len(train)))
        requests_dir = work / f"iter-{iteration}" / "requests"
        write_requests(requests_dir, inputs, template)
        requests = {json.loads(l)["example_id"]: json.loads(l) for l in (requests_dir / "requests.jsonl").read_text().splitlines()}

        gen_hps = {"num_samples": args.samples, "temperature": args.temperature,
                   "seed": args.seed * 1000 + iteration, "max_rationale_tokens": args.max_rationale_tokens,
                   "batch_size": args.gen_batch_size}
        sampled, gen_data, gen_seconds = run_job("generate.py", {"model": judge, "requests": requests_dir}, gen_hps,
                                                 work / f"iter-{iteration}" / "sample")
        judgments = [json.loads(l) for l in (sampled / "judgments.jsonl").read_text().splitlines()]
        sample_agreement = sum(score_of(j["text"]) == requests[j["example_id"]]["gold_score"]
                               for j in judgments) / len(judgments)

        pairs = build_pairs(judgments, requests, args, rng)
        pairs_dir = work / f"iter-{iteration}" / "pairs"
        pairs_dir.mkdir(parents=True, exist_ok=True)
        (pairs_dir / "pairs.jsonl").write_text("".join(json.dumps(p) + "\n" for p in pairs))
        inputs_with_pair = len({p["example_id"] for p in pairs})

        if not pairs:
            # As the pipeline does: an iteration without pairs trains nothing and keeps the judge.
            print(f"iteration {iteration}: no preference pair (samples agree {sample_agreement:.1%}); judge kept",
                  flush=True)
            results.append({"iteration": iteration, "heldout_before": round(before, 4),
                            "heldout_after": round(before, 4), "sample_agreement": round(sample_agreement, 4),
                            "pairs": 0, "inputs_with_pair": 0, "inputs": len(inputs),
                            "generate_seconds": round(gen_seconds, 1), "train_seconds": 0.0})
            continue
        train_hps = {"beta": args.beta, "epochs": args.epochs, "learning_rate": args.learning_rate,
                     "batch_size": args.batch_size, "gradient_accumulation_steps": 1, "max_length": 1024,
                     "lora": args.lora, "seed": args.seed + iteration, "rpo_alpha": args.rpo_alpha,
                     "mask_forced_tokens": not args.no_mask_forced_tokens,
                     "share_pair_prefixes": not args.no_share_pair_prefixes}
        new_judge, train_data, train_seconds = run_job("train_dpo.py", {"model": judge, "pairs": pairs_dir},
                                                       train_hps, work / f"iter-{iteration}" / "train")
        summary = json.loads((train_data / "train_summary.json").read_text())
        judge = new_judge

        after, eval_seconds, histogram = evaluate(judge, heldout_requests, work / f"eval-{iteration}", args)
        row = {"iteration": iteration, "heldout_before": round(before, 4), "heldout_after": round(after, 4),
               "sample_agreement": round(sample_agreement, 4), "pairs": len(pairs),
               "inputs_with_pair": inputs_with_pair, "inputs": len(inputs),
               "generate_seconds": round(gen_seconds, 1), "train_seconds": round(train_seconds, 1),
               "eval_seconds": round(eval_seconds, 1), "train_steps": summary["steps"],
               "final_loss": summary["final_loss"], "final_reward_accuracy": summary["final_reward_accuracy"],
               "after_score_histogram": histogram}
        results.append(row)
        print(f"iteration {iteration}: held-out {before:.1%} -> {after:.1%}; samples agree {sample_agreement:.1%}; "
              f"{len(pairs)} pairs from {inputs_with_pair}/{len(inputs)} inputs; generate {gen_seconds:.1f}s, "
              f"train {train_seconds:.1f}s ({summary['steps']} steps, loss {summary['final_loss']:.3f}), "
              f"eval {eval_seconds:.1f}s; scores {histogram}", flush=True)
        before = after

    report = {"args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
              "iterations": results}
    (work / "summary.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({"heldout": [results[0]["heldout_before"]] + [r["heldout_after"] for r in results]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
