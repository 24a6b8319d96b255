"""Generation job: N judgments per request, decoded under the judgment grammar ("forced") or freely ("free").

Contract: docs/CONTRACTS.md ("generate.py"). Channels `model` (a Hugging Face model folder) and `requests`
(`*.jsonl`, one request a line); writes `SM_MODEL_DIR/judgments.jsonl` (one row per request and sample) and
`SM_OUTPUT_DATA_DIR/generation_summary.json`.

Backends: vLLM where it is importable (GPU machines), transformers otherwise (CPU, tests, the tiny judge).

Decoding modes (hyperparameter `decoding`; the rules live in judgeloop_jobs/decoding.py, shared by both
backends): "forced" enforces the grammar (the marker and a valid score are forced when the rationale's budget
runs out); "free" samples from the model's own distribution, unmasked, until a stop token or max_new_tokens,
so a judgment without a valid score stays unparseable. Every judgment records `marker_source` (model, forced,
absent or prefix). The default is "forced" (what callers that do not pass `decoding` have always had); the
project's configs choose the mode explicitly.

Two extensions of the judgment grammar (judgeloop_jobs/grammar.py):
- the request field `assistant_prefix`: text the assistant turn already starts with. A prefix ending with
  the marker (`<rationale> <marker> `) leaves only the score to decode, then EOS (the rationale–score
  consistency re-score); any other prefix is a rationale the model continues. The judgment's `text` is the
  whole assistant turn, prefix included, so it parses like any other judgment.
- the hyperparameter `choices`: the alphabet after the marker, e.g. `["A","B"]` for a pairwise verdict
  (a JSON array or comma-separated text); by default the digits score_min..score_max.
These run on the transformers backend; `backend: auto` uses it for them even where vLLM is installed. Both
stay under the grammar in free mode too: a prefix ending with the marker decodes only the score, and a
`choices` job decodes rationale, marker and choice as in forced mode (constrained by design).

    SM_CHANNEL_MODEL=... SM_CHANNEL_REQUESTS=... SM_MODEL_DIR=... SM_OUTPUT_DATA_DIR=... \
        python jobs/generate.py --num_samples 8 --temperature 1.0
"""
from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from judgeloop_jobs.decoding import FREE_BUDGET_SLACK, Sample, count_marker_sources, free_token_budget
from judgeloop_jobs.jsonl import channel_jsonl_files, read_jsonl, write_json
from judgeloop_jobs.progress import report_progress
from judgeloop_jobs.prompts import encode_prompts, prompt_ids_sha256
from judgeloop_jobs.sm_contract import (JobConfigError, config_as_dict, parse_hyperparameters, read_job_paths,
                                        require)

# What a warm local launcher imports once for all of this script's jobs (judgeloop_jobs/zygote.py): the
# libraries main() imports on the transformers backend, and the architecture of the project's judges.
PRELOAD = ("torch", "transformers.models.auto.modeling_auto", "transformers.models.auto.tokenization_auto",
           "transformers.generation.utils", "transformers.models.llama.modeling_llama", "judgeloop_jobs.grammar",
           "judgeloop_jobs.decoding", "judgeloop_jobs.quiet", "judgeloop_jobs.shared_prefill")

ALLOWED_ROLES = ("system", "user")


@dataclass
class GenerateConfig:
    num_samples: int = 8
    """N: judgments per request."""
    temperature: float = 1.0
    """Sampling temperature; 0 means greedy (all N samples are then identical)."""
    seed: int = 0
    max_rationale_tokens: int = 256
    score_min: int = 1
    score_max: int = 5
    marker: str = "[RESULT]"
    backend: Literal["auto", "transformers", "vllm"] = "auto"
    batch_size: int = 16
    """Sequences (request x sample) decoded together by the transformers backend."""
    max_prompt_tokens: int = 4096
    """Longer prompts keep their last max_prompt_tokens tokens (the end holds the response and the cue)."""
    choices: str = ""
    """What may follow the marker instead of a score: a JSON array (`["A","B"]`) or comma-separated text
    (`A,B`) of single-token alternatives. Empty: the integers score_min..score_max."""
    decoding: Literal["forced", "free"] = "forced"
    """"forced": the grammar is enforced (marker and score forced once max_rationale_tokens are spent);
    "free": the model's own distribution, unmasked, until a stop token or max_new_tokens (judgeloop_jobs/
    decoding.py). The default keeps what callers that do not pass it have always had; the project's configs
    set it explicitly."""
    max_new_tokens: int = 0
    """Free mode's token budget per judgment (generated tokens, stop token included; an assistant prefix's
    tokens do not count); 0 = max_rationale_tokens + 16 (decoding.FREE_BUDGET_SLACK). Forced mode ignores
    it: its budget is max_rationale_tokens, then marker, score and EOS."""

    @property
    def free_budget(self) -> int:
        return free_token_budget(self.max_new_tokens, self.max_rationale_tokens)

    @property
    def choice_list(self) -> list[str] | None:
        """The parsed `choices`, or None for the default digits."""
        text = self.choices.strip()
        if not text:
            return None
        if text.startswith("["):
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as err:
                raise JobConfigError(f"hyperparameter 'choices' is not a valid JSON array ({err.msg}), "
                                     f"got {self.choices!r}") from None
            if not isinstance(parsed, list) or not all(isinstance(c, str) for c in parsed):
                raise JobConfigError(f"hyperparameter 'choices' must be an array of strings, got {self.choices!r}")
            return parsed
        return [c.strip() for c in text.split(",")]

    def validate(self) -> None:
        require(1 <= self.num_samples <= 1024, "num_samples", "must be between 1 and 1024", self.num_samples)
        require(0 <= self.temperature <= 10, "temperature", "must be between 0 (greedy) and 10", self.temperature)
        require(self.seed >= 0, "seed", "must be >= 0", self.seed)
        require(self.max_rationale_tokens >= 1, "max_rationale_tokens", "must be >= 1", self.max_rationale_tokens)
        require(0 <= self.score_min <= 9, "score_min", "must be between 0 and 9 (a single digit)", self.score_min)
        require(0 <= self.score_max <= 9, "score_max", "must be between 0 and 9 (a single digit)", self.score_max)
        require(self.score_min < self.score_max, "score_max", f"must be above score_min={self.score_min}",
                self.score_max)
        require(bool(self.marker.strip()) and self.marker == self.marker.strip(), "marker",
                "must be non-empty text without surrounding spaces", self.marker)
        require(self.batch_size >= 1, "batch_size", "must be >= 1", self.batch_size)
        require(self.max_prompt_tokens >= 1, "max_prompt_tokens", "must be >= 1", self.max_prompt_tokens)
        require(self.max_new_tokens >= 0, "max_new_tokens", f"must be >= 0 (0 = max_rationale_tokens + "
                f"{FREE_BUDGET_SLACK})", self.max_new_tokens)
        choices = self.choice_list
        if choices is not None:
            from judgeloop_jobs.grammar import GrammarError, check_choices
            try:
                check_choices(choices, self.marker)
            except GrammarError as err:
                raise JobConfigError(f"hyperparameter 'choices' is invalid: {err}") from None


@dataclass
class Request:
    row: dict[str, Any]  # the request as read; every field but `messages` is copied to its judgments
    messages: list[dict[str, str]]
    where: str = ""  # file:line, for error messages
    prompt_ids: list[int] | None = None  # the chat prompt, then the assistant prefix's context tokens
    truncated: bool = False

    @property
    def assistant_prefix(self) -> str:
        return self.row.get("assistant_prefix") or ""


def main(argv: list[str] | None = None) -> int:
    started = time.monotonic()
    cfg = parse_hyperparameters(GenerateConfig, sys.argv[1:] if argv is None else argv)
    paths = read_job_paths(["model", "requests"])
    requests = load_requests(paths.channel("requests"))
    backend = choose_backend(cfg.backend, needs_transformers=needs_transformers(cfg, requests))
    print(f"generate: {len(requests)} requests x {cfg.num_samples} samples, backend={backend}, "
          f"config={json.dumps(config_as_dict(cfg))}", flush=True)

    if backend == "vllm":
        from judgeloop_jobs.vllm_backend import generate_with_vllm
        results, stats = generate_with_vllm(cfg, paths.channel("model"), requests)
    else:
        results, stats = generate_with_transformers(cfg, paths.channel("model"), requests)

    judgments_path = paths.model_dir / "judgments.jsonl"
    write_judgments(judgments_path, cfg, requests, results)
    seconds = time.monotonic() - started
    samples = [sample for per_request in results for sample in per_request]
    summary = {
        "backend": backend,
        "decoding": cfg.decoding,
        "requests": len(requests),
        "num_samples": cfg.num_samples,
        "judgments": len(requests) * cfg.num_samples,
        # Over the judgments written (a greedy judgment copied N times counts N times).
        "marker_source": count_marker_sources(samples),
        "stopped_by_budget": sum(s.stopped_by_budget for s in samples),
        "truncated_prompts": sum(r.truncated for r in requests),
        "seconds": round(seconds, 3),
        "tokens_per_second": round(stats["generated_tokens"] / max(stats["decode_seconds"], 1e-9), 1),
        "config": config_as_dict(cfg),
        **stats,
    }
    write_json(paths.output_data_dir / "generation_summary.json", summary)
    print(f"generate: wrote {summary['judgments']} judgments to {judgments_path} in {seconds:.1f}s", flush=True)
    return 0


def needs_transformers(cfg: GenerateConfig, requests: list[Request]) -> str | None:
    """Why this job needs the transformers backend (the vLLM backend decodes neither), or None."""
    if cfg.choice_list is not None:
        return "hyperparameter 'choices'"
    if any(r.assistant_prefix for r in requests):
        return "requests with an assistant_prefix"
    return None


def choose_backend(requested: str, needs_transformers: str | None = None) -> str:
    vllm_available = importlib.util.find_spec("vllm") is not None
    if requested == "vllm" and not vllm_available:
        raise JobConfigError("hyperparameter 'backend' is 'vllm' but vllm is not installed here")
    if requested == "vllm" and needs_transformers:
        raise JobConfigError(f"hyperparameter 'backend' is 'vllm', but {needs_transformers} need the transformers "
                             "backend (set backend to 'auto' or 'transformers')")
    if requested == "auto":
        if needs_transformers and vllm_available:
            print(f"generate: {needs_transformers} use the transformers backend", flush=True)
        return "vllm" if vllm_available and not needs_transformers else "transformers"
    return requested


def load_requests(folder: Path) -> list[Request]:
    requests: list[Request] = []
    seen: dict[str, str] = {}
    for where, row in read_jsonl(channel_jsonl_files(folder, "requests")):
        for key in ("request_id", "example_id", "prompt_hash"):
            if not isinstance(row.get(key), str) or not row[key]:
                raise JobConfigError(f"{where}: request field '{key}' must be a non-empty string")
        if row["request_id"] in seen:
            raise JobConfigError(f"{where}: duplicate request_id {row['request_id']!r} (first at {seen[row['request_id']]})")
        seen[row["request_id"]] = where
        messages = row.get("messages")
        if not isinstance(messages, list) or not messages:
            raise JobConfigError(f"{where}: 'messages' must be a non-empty list of chat messages")
        for j, message in enumerate(messages):
            if (not isinstance(message, dict) or message.get("role") not in ALLOWED_ROLES
                    or not isinstance(message.get("content"), str)):
                raise JobConfigError(f"{where}: messages[{j}] must be {{'role': 'system'|'user', 'content': str}}, "
                                     f"got {json.dumps(message)[:200]}")
        prefix = row.get("assistant_prefix")
        if prefix is not None and not isinstance(prefix, str):
            raise JobConfigError(f"{where}: 'assistant_prefix' must be a string, got {json.dumps(prefix)[:200]}")
        requests.append(Request(row=row, messages=messages, where=where))
    return requests


def generate_with_transformers(cfg: GenerateConfig, model_dir: Path, requests: list[Request]):
    """Batched, left-padded `model.generate`; rows under the grammar get it as a logits processor, free rows
    (decoding "free") a processor that only records log-probs (judgeloop_jobs/decoding.py).

    Returns results[request_index][sample_index] = Sample and timing stats.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    from judgeloop_jobs.decoding import (FreeLogitsProcessor, free_marker_source, row_is_constrained,
                                         skipped_special_ids, stop_token_ids, strip_stop)
    from judgeloop_jobs.grammar import (GrammarError, JudgmentLogitsProcessor, build_grammar, judgment_text,
                                        plan_assistant_prefix)
    from judgeloop_jobs.quiet import quiet_libraries
    from judgeloop_jobs.shared_prefill import shared_prompt_cache

    quiet_libraries()

    torch.manual_seed(cfg.seed)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=dtype).to(device).eval()
    try:
        grammar = build_grammar(tokenizer, marker=cfg.marker, score_min=cfg.score_min, score_max=cfg.score_max,
                                max_rationale_tokens=cfg.max_rationale_tokens,
                                logits_size=model.get_output_embeddings().weight.shape[0],
                                choices=cfg.choice_list)
    except GrammarError as err:
        raise JobConfigError(f"the judgment grammar does not fit this tokenizer: {err}") from None
    encode_prompts(tokenizer, requests, cfg.max_prompt_tokens)
    plans = []
    for request in requests:
        try:
            plan = plan_assistant_prefix(tokenizer, grammar, request.assistant_prefix, cfg.marker)
        except GrammarError as err:
            raise JobConfigError(f"{request.where}: {err}") from None
        # The assistant turn already holds the prefix: its tokens follow the (truncated) chat prompt.
        request.prompt_ids = list(request.prompt_ids) + list(plan.context_ids)
        plans.append(plan)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else grammar.eos_token_id
    constrained = [row_is_constrained(cfg.decoding, has_choices=cfg.choice_list is not None,
                                      prefix_at_choice=plan.at_choice) for plan in plans]
    try:
        stop_ids = stop_token_ids(tokenizer, model.generation_config)
    except ValueError as err:
        raise JobConfigError(f"free decoding cannot stop: {err}") from None
    skip_ids = skipped_special_ids(tokenizer, cfg.marker) if not all(constrained) else frozenset()
    # Decode from the model itself: generate() fills every value our configs leave unset from the checkpoint's
    # generation_config (repetition_penalty, no_repeat_ngram_size, min_p, suppress_tokens, ...: Qwen2.5-Instruct
    # ships repetition_penalty 1.05), which would change the distribution and the recorded log-probs. Keep
    # only its token ids (its EOS ids are in stop_ids already), as vLLM's generation_config="vllm" does.
    shipped = model.generation_config
    model.generation_config = GenerationConfig(bos_token_id=shipped.bos_token_id, eos_token_id=shipped.eos_token_id,
                                               pad_token_id=shipped.pad_token_id)

    greedy = cfg.temperature == 0
    # Greedy decoding gives every sample the same judgment: decode each request once and copy it N times
    # (cheaper, and exactly identical instead of identical up to batch-dependent float noise).
    copies = 1 if greedy else cfg.num_samples
    rows = [(r, s) for r in range(len(requests)) for s in range(copies)]
    # Rows under the grammar and free rows go in separate batches (each has its own processor and budget);
    # within each, similar prompt lengths side by side waste less padding. The order is deterministic, so
    # seeded runs repeat (and forced mode's order is what it always was).
    rows.sort(key=lambda rs: (not constrained[rs[0]], len(requests[rs[0]].prompt_ids), rs[0], rs[1]))
    batches = []
    for group in (True, False):
        part = [rs for rs in rows if constrained[rs[0]] == group]
        batches += [part[k:k + cfg.batch_size] for k in range(0, len(part), cfg.batch_size)]
    sampling = dict(do_sample=not greedy, temperature=None if greedy else cfg.temperature,
                    # Pure sampling from the model (no top-k/top-p truncation), as in the paper's T = 1.0 sampling.
                    top_k=0 if not greedy else None, top_p=1.0 if not greedy else None,
                    pad_token_id=pad_id, num_beams=1, use_cache=True)
    grammar_config = GenerationConfig(max_new_tokens=grammar.max_new_tokens, eos_token_id=grammar.eos_token_id,
                                      **sampling)
    free_config = GenerationConfig(max_new_tokens=cfg.free_budget, eos_token_id=list(stop_ids), **sampling)
    temperature = 1.0 if greedy else cfg.temperature

    results: list[list[Any]] = [[None] * cfg.num_samples for _ in requests]
    total, done = len(requests) * cfg.num_samples, 0
    decode_seconds, generated_tokens, prefilled_rows = 0.0, 0, 0
    for batch in batches:
        under_grammar = constrained[batch[0][0]]
        prompts = [requests[r].prompt_ids for r, _ in batch]
        width = max(len(p) for p in prompts)
        input_ids = torch.tensor([[pad_id] * (width - len(p)) + p for p in prompts], device=device)
        attention = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts], device=device)
        if under_grammar:
            processor = JudgmentLogitsProcessor(grammar, temperature=temperature, starts=[plans[r] for r, _ in batch])
        else:
            processor = FreeLogitsProcessor(stop_ids, temperature=temperature, vocab_size=len(tokenizer))
        t0 = time.monotonic()
        # The N samples of a request share its prompt: one prefill each (judgeloop_jobs/shared_prefill.py).
        cache = shared_prompt_cache(model, input_ids, attention, [r for r, _ in batch])
        prefilled_rows += len(batch) if cache is None else len({r for r, _ in batch})
        with torch.no_grad():
            out = model.generate(input_ids=input_ids, attention_mask=attention,
                                 generation_config=grammar_config if under_grammar else free_config,
                                 logits_processor=[processor], **({"cache": cache} if cache is not None else {}))
        decode_seconds += time.monotonic() - t0
        logprobs = processor.finish(out)
        sources = processor.marker_sources() if under_grammar else None
        for i, (r, s) in enumerate(batch):
            completion = out[i, width:].tolist()
            if under_grammar:
                completion, ended = strip_stop(completion, [grammar.eos_token_id])
                if not ended or sources[i] is None:  # the grammar guarantees both; fail loudly if not
                    raise RuntimeError(f"request {requests[r].row['request_id']}: decoding ended without "
                                       f"{'EOS' if not ended else 'a marker'}")
                sample = Sample(judgment_text(tokenizer, plans[r], completion[:-1]), len(completion), logprobs[i],
                                sources[i], completion_ids=sampled_ids(plans[r], completion))
            else:
                completion, ended = strip_stop(completion, stop_ids)
                text = judgment_text(tokenizer, plans[r], completion[:-1] if ended else completion, skip_ids)
                sample = Sample(text, len(completion), logprobs[i], free_marker_source(text, cfg.marker),
                                stopped_by_budget=not ended, completion_ids=sampled_ids(plans[r], completion))
            generated_tokens += len(completion)
            targets = range(cfg.num_samples) if greedy else [s]
            for t in targets:
                results[r][t] = sample
            done += len(targets)
        report_progress(done, total, "judgments")

    stats = {"device": device, "dtype": str(dtype).replace("torch.", ""), "decode_seconds": round(decode_seconds, 3),
             "generated_tokens": generated_tokens,
             "prompt_tokens": sum(len(r.prompt_ids) for r in requests),
             # Prompts run through the model: once per request and batch with shared prefill, else once per row.
             "prefilled_rows": prefilled_rows,
             "decoded_rows": len(rows),
             "prefixed_requests": sum(bool(p.context_ids) for p in plans),
             # Requests decoded under the grammar: all in forced mode; in free mode the re-scores (a prefix
             # ending with the marker) and every request of a `choices` job.
             "constrained_requests": sum(constrained),
             "grammar": {"forced_prefix": tokenizer.convert_ids_to_tokens(list(grammar.forced_prefix)),
                         "score_tokens": tokenizer.convert_ids_to_tokens(list(grammar.score_token_ids))}}
    if not all(constrained):
        stats["free"] = {"max_new_tokens": cfg.free_budget,
                         "stop_tokens": tokenizer.convert_ids_to_tokens(list(stop_ids))}
    return results, stats


def sampled_ids(plan, completion: list[int]) -> list[int] | None:
    """The ids to record for DPO: the completion as sampled. None after an assistant prefix, whose text is
    part of the judgment but whose tokens belong to the prompt side."""
    return None if plan.context_ids else [int(t) for t in completion]


def write_judgments(path: Path, cfg: GenerateConfig, requests: list[Request], results: list[list[Sample]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for request, per_request in zip(requests, results):
            base = {k: v for k, v in request.row.items() if k != "messages"}
            prompt_sha = prompt_ids_sha256(request.prompt_ids or [])
            for sample_index, sample in enumerate(per_request):
                row = {**base, "sample_index": sample_index, "text": sample.text, "seed": cfg.seed,
                       "num_tokens": sample.num_tokens, "logprob": round(sample.logprob, 6),
                       "marker_source": sample.marker_source}
                if sample.completion_ids is not None:
                    # The token identity DPO needs (train_dpo.py, pretokenized_pairs): the sampled ids, and a
                    # fingerprint of the prompt ids they followed.
                    row["completion_ids"] = sample.completion_ids
                    row["prompt_ids_sha256"] = prompt_sha
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    try:
        sys.exit(main())
    except JobConfigError as error:
        print(f"generate: error: {error}", file=sys.stderr, flush=True)
        sys.exit(2)
