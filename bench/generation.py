"""Generation against its limit: generate.py's transformers backend beside a plain `model.generate` loop over
the same prompts with the same sampling settings, in one process, on whatever device torch sees.

The plain loop is what a person would write without Judgeloop: the same encoded prompts (chat template,
left truncation), N copies of each, left-padded batches of the same size, pure sampling at the same
temperature, no grammar, and exactly as many new tokens per judgment as generate.py produced on average, so
both do the same amount of decoding. Model loading is outside both timings.

    .venv/bin/python bench/generation.py [--model DIR] [--requests DIR] [--count 32] [--samples 8]
        [--rationale-tokens 16] [--batch-size 64] [--threads 1] [--gguf FILE] [--json FILE]

With --gguf, llama.cpp (llama-cpp-python, when installed) on that GGUF file is timed too, on the same
token ids, N samples per prompt from its own prompt cache, the same number of new tokens.

The requests folder holds `*.jsonl` generation requests (bench/make-job-inputs.ts writes some from the
synthetic training set). Prints one table row per implementation and the ratio of their throughputs.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

from bench_common import ROOT, model_bench_parser, print_comparison, set_up_torch, write_figures


def plain_generate_loop(model, prompts: list[list[int]], samples: int, batch_size: int, new_tokens: int,
                        temperature: float, pad_id: int) -> float:
    """Seconds for `model.generate` over N copies of each prompt in left-padded batches."""
    import torch

    rows = [p for p in prompts for _ in range(samples)]
    started = time.monotonic()
    for k in range(0, len(rows), batch_size):
        batch = rows[k:k + batch_size]
        width = max(len(p) for p in batch)
        ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in batch], device=model.device)
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in batch], device=model.device)
        with torch.no_grad():
            model.generate(input_ids=ids, attention_mask=mask, do_sample=True, temperature=temperature, top_k=0,
                           top_p=1.0, max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=pad_id)
    return time.monotonic() - started


def llama_cpp_loop(gguf: str, prompts: list[list[int]], samples: int, new_tokens: int, temperature: float,
                   threads: int) -> float:
    """Seconds for llama.cpp (llama-cpp-python) to sample N judgments of `new_tokens` tokens per prompt.

    Its own prompt cache keeps the prompt's key/values between the N samples of one prompt (`generate`
    reuses the longest common prefix), as generate.py's one prefill per prompt does. Decoding ignores EOS and
    stops at `new_tokens`, so both do the same amount of decoding.
    """
    from llama_cpp import Llama

    llm = Llama(model_path=gguf, n_ctx=max(len(p) for p in prompts) + new_tokens + 8, n_threads=threads,
                n_threads_batch=threads, n_batch=512, seed=0, verbose=False)

    def sample(prompt: list[int]) -> None:
        for k, _token in enumerate(llm.generate(prompt, temp=temperature, top_k=0, top_p=1.0, min_p=0.0)):
            if k + 1 >= new_tokens:
                break

    sample(prompts[0][:8])  # warm-up: first-call costs are not decoding
    started = time.monotonic()
    for prompt in prompts:
        for _ in range(samples):
            sample(prompt)
    return time.monotonic() - started


def main() -> int:
    parser = model_bench_parser(__doc__)
    parser.add_argument("--requests", default=str(ROOT / ".judgeloop/bench/inputs/requests"))
    parser.add_argument("--count", type=int, default=32, help="requests used (the first ones)")
    parser.add_argument("--samples", type=int, default=8)
    parser.add_argument("--rationale-tokens", type=int, default=16)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--gguf", help="also time llama.cpp (llama-cpp-python) on this GGUF file, the model's own "
                        "weights as shipped (the real seed judge's: SmolLM2-135M-Instruct.Q4_1.gguf)")
    args = parser.parse_args()

    torch = set_up_torch(args.threads)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import generate
    requests = generate.load_requests(Path(args.requests))[:args.count]
    if not requests:
        parser.error(f"no requests in {args.requests} (npx tsx bench/make-job-inputs.ts --out DIR writes some)")
    cfg = generate.GenerateConfig(num_samples=args.samples, temperature=1.0, seed=0,
                                  max_rationale_tokens=args.rationale_tokens, batch_size=args.batch_size,
                                  backend="transformers", decoding="forced")
    # generate.py's own backend; it loads the model itself, so its figure is its decoding time (decode_seconds).
    _, stats = generate.generate_with_transformers(cfg, Path(args.model), requests)
    rows = len(requests) * args.samples
    new_tokens = max(1, round(stats["generated_tokens"] / stats["decoded_rows"]))

    tokenizer = AutoTokenizer.from_pretrained(args.model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(args.model, dtype=torch.bfloat16 if device == "cuda" else torch.float32)
    model = model.to(device).eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    prompts = [list(r.prompt_ids) for r in requests]
    torch.manual_seed(0)
    plain_generate_loop(model, prompts[:1], 1, 1, 2, 1.0, pad_id)  # warm-up: first-call costs are not decoding
    plain = plain_generate_loop(model, prompts, args.samples, args.batch_size, new_tokens, 1.0, pad_id)

    llama = None
    if args.gguf:
        try:
            llama = llama_cpp_loop(args.gguf, prompts, args.samples, new_tokens, 1.0, torch.get_num_threads())
        except ImportError as err:
            print(f"(llama.cpp not timed: {err}; pip install llama-cpp-python builds it from source)")

    ours = stats["decode_seconds"]
    figures = {
        "model": args.model, "device": device, "threads": torch.get_num_threads(), "requests": len(requests),
        "samples": args.samples, "judgments": rows, "mean_prompt_tokens": round(stats["prompt_tokens"] / len(requests), 1),
        "new_tokens_per_judgment": new_tokens,
        "judgeloop": {"seconds": round(ours, 3), "judgments_per_second": round(rows / ours, 1),
                      "prefilled_rows": stats["prefilled_rows"]},
        "plain_generate": {"seconds": round(plain, 3), "judgments_per_second": round(rows / plain, 1)},
        "ratio": round(plain / ours, 2),
    }
    table = [["generate.py (grammar, one prefill per prompt)", f"{ours:.2f}", f"{rows / ours:.1f}"],
             ["plain model.generate loop", f"{plain:.2f}", f"{rows / plain:.1f}"]]
    if llama is not None:
        figures["llama_cpp"] = {"gguf": args.gguf, "seconds": round(llama, 3), "judgments_per_second": round(rows / llama, 1)}
        # The limit is the faster of the two.
        figures["ratio"] = round(min(plain, llama) / ours, 2)
        table.append([f"llama.cpp on {Path(args.gguf).name}", f"{llama:.2f}", f"{rows / llama:.1f}"])
    print_comparison(
        f"{rows} judgments ({len(requests)} prompts of {figures['mean_prompt_tokens']} tokens x {args.samples} "
        f"samples, {new_tokens} new tokens each) on {device}, {figures['threads']} thread(s), model {args.model}",
        ["implementation", "seconds", "judgments/s"],
        table,
        f"throughput / limit (the faster of the others): {figures['ratio']:.2f}x")
    write_figures(args.json, figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
