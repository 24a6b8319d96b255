"""vLLM backend of generate.py (GPU machines). Not testable on the CPU machines; kept small on purpose.

NOT RUN: no machine this code was written on has vLLM (or a GPU); the transformers backend is the tested one.
The decoding rules (modes, stop tokens, budget, marker_source) are judgeloop_jobs/decoding.py's, shared with it.

Decoding "free" (one pass, no logits processor, no grammar): N samples per request from the model's own
distribution, `max_tokens` = the free budget, stopping at `decoding.stop_token_ids` (passed explicitly as
`stop_token_ids`, the same ids as the transformers backend's, rather than left to how vLLM reads the
checkpoint's generation config under `generation_config="vllm"`). The text is decoded from the token ids like
the transformers backend's (special tokens skipped, a marker token kept); marker_source "model" when it
contains the marker, else "absent"; `stopped_by_budget` when vLLM's finish_reason is "length". `num_tokens`
is len(token_ids) as vLLM reports them (whether they keep the stop token was not checked here).

Decoding "forced": the grammar is enforced in two constrained passes, because a regex cannot count tokens:
1. the rationale: N samples per request, at most max_rationale_tokens tokens, stopped early where the model
   writes the marker itself (`stop=[marker]`), at least one token;
2. the score: prompt + rationale + the grammar's marker tokens, then exactly one token drawn from the score
   tokens (`allowed_token_ids`, vLLM's token-level structured output), then the text ends.
The text is `<rationale> {marker} <score>`, the same form the transformers backend writes. Both passes share
the prompt's KV cache (prefix caching), so the second is cheap. marker_source is "model" when the first pass
stopped at the model's own marker (`stop_reason == marker`), else "forced" (the budget ran out, or the model
ended without writing it: either way decoding wrote the marker).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

from .decoding import (Sample, free_marker_source, load_generation_config, skipped_special_ids, stop_token_ids,
                       strip_stop)
from .grammar import NO_PREFIX, GrammarError, build_grammar, judgment_text
from .prompts import encode_prompts
from .progress import report_progress
from .sm_contract import JobConfigError


def generate_with_vllm(cfg, model_dir: Path, requests: list) -> tuple[list, dict[str, Any]]:
    import time

    from transformers import AutoTokenizer
    from vllm import LLM, SamplingParams
    from vllm.inputs import TokensPrompt

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    try:
        grammar = build_grammar(tokenizer, marker=cfg.marker, score_min=cfg.score_min, score_max=cfg.score_max,
                                max_rationale_tokens=cfg.max_rationale_tokens)
    except GrammarError as err:
        raise JobConfigError(f"the judgment grammar does not fit this tokenizer: {err}") from None
    encode_prompts(tokenizer, requests, cfg.max_prompt_tokens)

    # generation_config="vllm": ignore the checkpoint's sampling defaults (top_p etc.); sample from the model
    # itself at the requested temperature, like the transformers backend.
    llm = LLM(model=str(model_dir), seed=cfg.seed, dtype="bfloat16", enable_prefix_caching=True,
              generation_config="vllm")
    greedy = cfg.temperature == 0
    t0 = time.monotonic()
    if cfg.decoding == "free":
        return _generate_free(cfg, llm, tokenizer, requests, load_generation_config(model_dir), t0)

    rationale_params = [
        SamplingParams(n=1 if greedy else cfg.num_samples, temperature=cfg.temperature, top_p=1.0,
                       max_tokens=cfg.max_rationale_tokens, min_tokens=1, stop=[cfg.marker], logprobs=0,
                       seed=cfg.seed + i)
        for i in range(len(requests))]
    first = llm.generate([TokensPrompt(prompt_token_ids=r.prompt_ids) for r in requests], rationale_params)
    report_progress(0, len(requests) * cfg.num_samples, "judgments")

    second_prompts, second_params, owners = [], [], []
    for i, (request, out) in enumerate(zip(requests, first)):
        for s, completion in enumerate(out.outputs):
            # A rationale stopped at the model's own marker may end in the space before it; the marker's own
            # tokens bring that space back.
            rationale_ids = tokenizer.encode(completion.text.rstrip() or completion.text, add_special_tokens=False)
            ids = request.prompt_ids + rationale_ids + list(grammar.forced_prefix)
            second_prompts.append(TokensPrompt(prompt_token_ids=ids))
            second_params.append(SamplingParams(n=1, temperature=cfg.temperature, max_tokens=1, logprobs=0,
                                                allowed_token_ids=list(grammar.score_token_ids),
                                                seed=cfg.seed + i * 1024 + s))
            owners.append((i, s, rationale_ids, completion))
    second = llm.generate(second_prompts, second_params)

    results: list[list[Any]] = [[None] * cfg.num_samples for _ in requests]
    generated = 0
    for (i, s, rationale_ids, completion), out in zip(owners, second):
        score_out = out.outputs[0]
        # Decoded the same way as the transformers backend: rationale tokens, marker tokens, score token.
        text = tokenizer.decode(rationale_ids + list(grammar.forced_prefix) + list(score_out.token_ids[:1]),
                                skip_special_tokens=False, clean_up_tokenization_spaces=False)
        # vLLM's logprobs are the model's (before temperature), summed over the sampled tokens.
        logprob = (completion.cumulative_logprob or 0.0) + (score_out.cumulative_logprob or 0.0)
        num_tokens = len(completion.token_ids) + len(grammar.forced_prefix) + 2  # + score + EOS
        generated += num_tokens
        marker_source = "model" if completion.stop_reason == cfg.marker else "forced"
        for t in (range(cfg.num_samples) if greedy else [s]):
            results[i][t] = Sample(text, num_tokens, float(logprob), marker_source)
    decode_seconds = time.monotonic() - t0
    report_progress(len(requests) * cfg.num_samples, len(requests) * cfg.num_samples, "judgments")
    stats = {"device": "cuda", "dtype": "bfloat16", "decode_seconds": round(decode_seconds, 3),
             "generated_tokens": generated, "prompt_tokens": sum(len(r.prompt_ids) for r in requests),
             "logprob_kind": "model log-probs before temperature (vLLM)",
             "grammar": {"forced_prefix": tokenizer.convert_ids_to_tokens(list(grammar.forced_prefix)),
                         "score_tokens": tokenizer.convert_ids_to_tokens(list(grammar.score_token_ids))}}
    return results, stats


def _generate_free(cfg, llm, tokenizer, requests: list, generation_config, t0: float) -> tuple[list, dict[str, Any]]:
    """Decoding "free": one unconstrained pass (see the module docstring). Not run: no vLLM here."""
    import time

    from vllm import SamplingParams
    from vllm.inputs import TokensPrompt

    try:
        stop_ids = stop_token_ids(tokenizer, generation_config)
    except ValueError as err:
        raise JobConfigError(f"free decoding cannot stop: {err}") from None
    skip_ids = skipped_special_ids(tokenizer, cfg.marker)
    greedy = cfg.temperature == 0
    params = [SamplingParams(n=1 if greedy else cfg.num_samples, temperature=cfg.temperature, top_p=1.0,
                             max_tokens=cfg.free_budget, stop_token_ids=list(stop_ids), logprobs=0, seed=cfg.seed + i)
              for i in range(len(requests))]
    outputs = llm.generate([TokensPrompt(prompt_token_ids=r.prompt_ids) for r in requests], params)
    results: list[list[Any]] = [[None] * cfg.num_samples for _ in requests]
    generated = 0
    for i, out in enumerate(outputs):
        for s, completion in enumerate(out.outputs):
            ids, ended = strip_stop(list(completion.token_ids), stop_ids)
            text = judgment_text(tokenizer, NO_PREFIX, ids[:-1] if ended else ids, skip_ids)
            sample = Sample(text, len(completion.token_ids), float(completion.cumulative_logprob or 0.0),
                            free_marker_source(text, cfg.marker),
                            stopped_by_budget=completion.finish_reason == "length", completion_ids=[int(t) for t in ids])
            generated += sample.num_tokens
            for t in (range(cfg.num_samples) if greedy else [s]):
                results[i][t] = sample
    decode_seconds = time.monotonic() - t0
    report_progress(len(requests) * cfg.num_samples, len(requests) * cfg.num_samples, "judgments")
    stats = {"device": "cuda", "dtype": "bfloat16", "decode_seconds": round(decode_seconds, 3),
             "generated_tokens": generated, "prompt_tokens": sum(len(r.prompt_ids) for r in requests),
             "logprob_kind": "model log-probs before temperature (vLLM)",
             "free": {"max_new_tokens": cfg.free_budget, "stop_tokens": tokenizer.convert_ids_to_tokens(list(stop_ids))}}
    return results, stats
