"""Speed of the real seed judge (SmolLM2-135M-Instruct) on this machine (a dev tool, not a test).

Measures what one self-rationalization iteration spends its time on:

    sampling: a judge prompt of about --prompt-tokens tokens (chat template applied), --batch copies,
              --new-tokens new tokens each, pure sampling at --temperature (no top-k/top-p), as generate.py does
    DPO:      one step on --dpo-sequences sequences of --dpo-length tokens: the frozen reference's forward
              (no grad), the policy's forward + backward with the DPO loss, and one AdamW step

    .venv/bin/python jobs/tools/real_judge_speed.py            # the model set-up built (step real-judge)
    .venv/bin/python jobs/tools/real_judge_speed.py --threads 2 --repeats 3

Prints one table; nothing is written. float32 on CPU (as the jobs use there), bfloat16 on a GPU.
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

FILLER = ("The reviewer describes the packaging, the delivery and the first week of use in some detail. "
          "They mention that the colour matches the pictures and that the instructions were short but clear. ")


@dataclass(frozen=True)
class SpeedConfig:
    model: Path = REPO_ROOT / ".judgeloop" / "models" / "smollm2-135m-instruct"
    prompt_tokens: int = 400
    batch: int = 8
    new_tokens: int = 64
    temperature: float = 1.0
    dpo_sequences: int = 2
    """Sequences per DPO step: chosen and rejected of dpo_sequences / 2 pairs."""
    dpo_length: int = 512
    beta: float = 0.1
    threads: int = 0
    """torch threads (0: torch's default)."""
    repeats: int = 1
    """Timed runs of each measurement after one warm-up run; the table shows the fastest."""
    seed: int = 0


def parse_args(argv: list[str] | None = None) -> SpeedConfig:
    d = SpeedConfig()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", type=Path, default=d.model, help="model folder (default: %(default)s)")
    p.add_argument("--prompt-tokens", type=int, default=d.prompt_tokens)
    p.add_argument("--batch", type=int, default=d.batch)
    p.add_argument("--new-tokens", type=int, default=d.new_tokens)
    p.add_argument("--temperature", type=float, default=d.temperature)
    p.add_argument("--dpo-sequences", type=int, default=d.dpo_sequences)
    p.add_argument("--dpo-length", type=int, default=d.dpo_length)
    p.add_argument("--beta", type=float, default=d.beta)
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--repeats", type=int, default=d.repeats)
    p.add_argument("--seed", type=int, default=d.seed)
    a = p.parse_args(argv)
    if not (a.model / "config.json").is_file():
        p.error(f"--model {a.model}: no config.json (build the real judge: bash scripts/setup.sh --only real-judge)")
    if a.dpo_sequences < 2 or a.dpo_sequences % 2:
        p.error("--dpo-sequences must be even (chosen + rejected per pair) and >= 2")
    for name in ("prompt_tokens", "batch", "new_tokens", "dpo_length", "repeats"):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be >= 1")
    if a.temperature <= 0:
        p.error("--temperature must be > 0 (this measures sampling)")
    return SpeedConfig(**vars(a))


def judge_prompt_ids(tokenizer, target: int) -> list[int]:
    """A judge prompt (system + user, chat template with the generation prompt) of about `target` tokens."""
    words = (FILLER * 100).split()

    def render(n_words: int) -> list[int]:
        user = ("### Instruction\nWrite a short review of the kettle you bought.\n### Response\n"
                + " ".join(words[:n_words]) + " Overall the kettle is good.\n### Rubric\n"
                "How favourable is the reviewer's overall verdict on the product?\n"
                + "".join(f"Score {k}: level {k} of 5.\n" for k in range(1, 6)) + "### Feedback")
        messages = [{"role": "system", "content": "You are a fair, strict judge."}, {"role": "user", "content": user}]
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        return tokenizer.encode(text, add_special_tokens=False)

    lo, hi = 0, len(words)  # the most filler words that keep the prompt within target tokens
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if len(render(mid)) <= target else (lo, mid - 1)
    return render(lo)


def timed(fn, repeats: int) -> float:
    """The best of `repeats` timed runs after a warm-up run: on a shared machine other processes only ever add
    time, so the fastest run is the closest to the machine's own speed."""
    fn()  # warm-up: first calls allocate and pick kernels
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    import torch
    import torch.nn.functional as F
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)

    load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    start = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(cfg.model)
    policy = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=dtype).to(device).eval()
    load_s = time.perf_counter() - start
    params = sum(p.numel() for p in policy.parameters())
    rows: list[tuple[str, str]] = [("model", f"{cfg.model.resolve().name}, {params / 1e6:.1f}M params"),
                                   ("device", f"{device}, {dtype}, {torch.get_num_threads()} threads"),
                                   ("load", f"{load_s:.2f} s")]

    # ---- sampling
    prompt = judge_prompt_ids(tokenizer, cfg.prompt_tokens)
    input_ids = torch.tensor([prompt] * cfg.batch, device=device)
    attention = torch.ones_like(input_ids)
    common = dict(input_ids=input_ids, attention_mask=attention, do_sample=True, temperature=cfg.temperature,
                  top_k=0, top_p=1.0, pad_token_id=tokenizer.pad_token_id, use_cache=True)

    def prefill() -> None:
        with torch.no_grad():
            policy.generate(**common, max_new_tokens=1, min_new_tokens=1)
        sync()

    def sample() -> None:
        with torch.no_grad():  # min_new_tokens: every row makes exactly new_tokens tokens (no early EOS)
            out = policy.generate(**common, max_new_tokens=cfg.new_tokens, min_new_tokens=cfg.new_tokens)
        sync()
        assert out.shape[1] == len(prompt) + cfg.new_tokens

    prefill_s = timed(prefill, cfg.repeats)
    sample_s = timed(sample, cfg.repeats)
    generated = cfg.batch * cfg.new_tokens
    decode_s = max(sample_s - prefill_s, 1e-9)
    rows += [("sampling", f"prompt {len(prompt)} tokens x batch {cfg.batch}, {cfg.new_tokens} new tokens, "
                          f"T={cfg.temperature:g}"),
             ("  prefill (1st token)", f"{prefill_s:.2f} s"),
             ("  total", f"{sample_s:.2f} s = {generated / sample_s:.1f} tokens/s ({generated} tokens)"),
             ("  decode only", f"{(generated - cfg.batch) / decode_s:.1f} tokens/s "
                               f"({decode_s / (cfg.new_tokens - 1) * 1000:.0f} ms per step of {cfg.batch})"
              if cfg.new_tokens > 1 else "-")]

    # ---- one DPO step
    reference = AutoModelForCausalLM.from_pretrained(cfg.model, dtype=dtype).to(device).eval().requires_grad_(False)
    policy.train()
    optimizer = torch.optim.AdamW(policy.parameters(), lr=5e-7)
    ids = torch.randint(0, len(tokenizer), (cfg.dpo_sequences, cfg.dpo_length), device=device)
    completion = torch.zeros_like(ids, dtype=torch.bool)
    completion[:, cfg.dpo_length // 2:] = True  # the second half is the "judgment": its tokens count

    def logps(model, batch) -> torch.Tensor:
        logits = model(input_ids=batch).logits[:, :-1].float()
        per_token = torch.gather(F.log_softmax(logits, -1), 2, batch[:, 1:, None]).squeeze(2)
        return (per_token * completion[:, 1:]).sum(-1)

    def reference_forward() -> torch.Tensor:
        with torch.no_grad():
            out = logps(reference, ids)
        sync()
        return out

    ref = reference_forward()

    def forward_backward() -> None:
        optimizer.zero_grad(set_to_none=True)
        pol = logps(policy, ids)
        margin = (pol[0::2] - ref[0::2]) - (pol[1::2] - ref[1::2])
        loss = -F.logsigmoid(cfg.beta * margin).mean()
        loss.backward()
        sync()

    def optimizer_step() -> None:
        forward_backward()
        optimizer.step()
        sync()

    ref_s = timed(reference_forward, cfg.repeats)
    fb_s = timed(forward_backward, cfg.repeats)
    step_s = timed(optimizer_step, cfg.repeats)
    tokens = cfg.dpo_sequences * cfg.dpo_length
    rows += [("DPO step", f"{cfg.dpo_sequences} sequences x {cfg.dpo_length} tokens "
                          f"({cfg.dpo_sequences // 2} pair(s))"),
             ("  reference forward", f"{ref_s:.2f} s"),
             ("  policy fwd+bwd", f"{fb_s:.2f} s ({tokens / fb_s:.0f} tokens/s)"),
             ("  fwd+bwd+AdamW step", f"{step_s:.2f} s"),
             ("  whole step", f"{ref_s + step_s:.2f} s (reference forward + fwd+bwd + AdamW)")]

    width = max(len(k) for k, _ in rows)
    print(f"real judge speed (best of {cfg.repeats} after a warm-up; load average before: {load_before})")
    for key, value in rows:
        print(f"  {key.ljust(width)}  {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
