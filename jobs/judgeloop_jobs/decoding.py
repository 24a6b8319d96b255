"""How a judgment is decoded: the rules both generation backends share (docs/CONTRACTS.md, generate.py).

Two modes (the `decoding` hyperparameter):
- "forced": the judgment grammar (grammar.py) masks the logits. The rationale gets max_rationale_tokens
  tokens; if the model has not written the marker by then, decoding writes the marker and the model picks a
  score from the allowed ones. Every judgment parses, but the parse rate is the grammar's, not the model's.
- "free": the model's own distribution, unmasked: its rationale and, if it writes one, its own `[RESULT] n`.
  Decoding stops at a stop token (`stop_token_ids`: the tokenizer's EOS and every EOS id of the model's
  generation_config, e.g. a chat template's end-of-turn token) or after `max_new_tokens` tokens. Nothing
  checks the text: a judgment without a valid score is simply unparseable downstream.

Rows that stay under the grammar in both modes (`row_is_constrained`): a request whose assistant_prefix ends
with the marker (the consistency re-score decodes only the score, from the score tokens) and every row of a
job with `choices` (a pairwise verdict: rationale, marker, one choice; the marker is forced when the budget
runs out, and `marker_source` says so). These are constrained by design.

Every judgment records where its marker came from (`MARKER_SOURCES`):
- "model": the model wrote it (forced mode: the grammar's state machine reached the marker through the
  model's own tokens before the budget ran out; free mode: the text contains the marker);
- "forced": forced mode, the budget ran out and decoding wrote the marker;
- "absent": free mode, the text has no marker;
- "prefix": the marker came from the request's assistant_prefix (only the score was decoded).
Forced mode's answer is exact (the logits processor records it, `JudgmentLogitsProcessor.marker_sources`);
free mode's is read from the text, which is the model's own.

Log-probabilities: each judgment's `logprob` is the sum, over its generated tokens (stop token included), of
the log-probability of the token under the distribution it was sampled from (transformers backend: the
logits, masked in forced mode, divided by the temperature; 1 when greedy). Best-of-N baselines use it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import torch

try:  # transformers is always installed with the jobs; the import is guarded only for the vLLM-only path
    from transformers import LogitsProcessor
except ImportError:  # pragma: no cover
    LogitsProcessor = object  # type: ignore[misc,assignment]

DECODING_MODES = ("forced", "free")
MARKER_SOURCES = ("model", "forced", "absent", "prefix")
# Free mode's default token budget is the rationale budget plus this much room for the model's own
# ` [RESULT] n`, end-of-turn token and a little slack (the marker alone is 3-5 tokens in real tokenizers).
FREE_BUDGET_SLACK = 16


def free_token_budget(max_new_tokens: int, max_rationale_tokens: int) -> int:
    """Free mode's budget: `max_new_tokens`, or max_rationale_tokens + FREE_BUDGET_SLACK when it is 0."""
    return max_new_tokens if max_new_tokens > 0 else max_rationale_tokens + FREE_BUDGET_SLACK


def row_is_constrained(mode: str, *, has_choices: bool, prefix_at_choice: bool) -> bool:
    """Whether a row decodes under the grammar: always in forced mode; in free mode only a re-score (a prefix
    ending with the marker) or a `choices` job."""
    if mode not in DECODING_MODES:
        raise ValueError(f"unknown decoding mode {mode!r}")
    return mode == "forced" or has_choices or prefix_at_choice


@dataclass(frozen=True)
class Sample:
    """One decoded judgment, as generate.py writes it."""
    text: str
    num_tokens: int  # generated tokens, stop token included
    logprob: float
    marker_source: str  # one of MARKER_SOURCES
    stopped_by_budget: bool = False  # free mode: ended by max_new_tokens, not by a stop token
    # The generated token ids as sampled (stop token included when there was one), for DPO to train on the
    # very tokens the judge produced. None where a backend rebuilds the tokens from text (vLLM's forced mode).
    completion_ids: list[int] | None = None


def _as_ids(value) -> list[int]:
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def stop_token_ids(tokenizer, generation_config=None) -> tuple[int, ...]:
    """The tokens that end a free-mode judgment: the tokenizer's EOS, then every id of the model's
    `generation_config.eos_token_id` (an int or a list: instruct models list their end-of-turn token there,
    e.g. Llama 3's `<|eot_id|>` beside `<|end_of_text|>`, Qwen's `<|im_end|>` beside `<|endoftext|>`).
    Order kept, duplicates dropped; raises ValueError when there is none."""
    ids: list[int] = []
    for token in _as_ids(getattr(tokenizer, "eos_token_id", None)) + _as_ids(
            getattr(generation_config, "eos_token_id", None) if generation_config is not None else None):
        if token not in ids:
            ids.append(token)
    if not ids:
        raise ValueError("neither the tokenizer nor the generation config defines an EOS token")
    return tuple(ids)


def skipped_special_ids(tokenizer, marker: str) -> frozenset[int]:
    """The ids a free-mode text leaves out: special tokens (EOS, role tokens, ...), except any whose text
    contains the marker (a tokenizer may make the marker a special token; the text must keep it)."""
    special = set(getattr(tokenizer, "all_special_ids", []) or [])
    for token_id, added in (getattr(tokenizer, "added_tokens_decoder", {}) or {}).items():
        if getattr(added, "special", False):
            special.add(int(token_id))
    return frozenset(t for t in special if marker not in tokenizer.decode([t]))


def strip_stop(completion: Sequence[int], stop_ids: Iterable[int]) -> tuple[list[int], bool]:
    """Cuts a completion after its first stop token. Returns (the tokens up to and including it, whether
    there was one): without one, decoding ended at the budget."""
    stops = set(stop_ids)
    tokens = list(completion)
    for k, token in enumerate(tokens):
        if token in stops:
            return tokens[: k + 1], True
    return tokens, False


def free_marker_source(text: str, marker: str) -> str:
    """marker_source of a free-mode judgment: "model" when its text contains the marker, else "absent"."""
    return "model" if marker in text else "absent"


def count_marker_sources(samples: Iterable[Sample]) -> dict[str, int]:
    counts = {source: 0 for source in MARKER_SOURCES}
    for sample in samples:
        counts[sample.marker_source] += 1
    return counts


class LogprobSummingProcessor(LogitsProcessor):
    """Base of both decoding processors: each keeps `logprob_sums`, the sum of each row's generated tokens'
    log-probabilities under the distribution they were drawn from, adding a token's term in `_consume` when
    the next step (or `finish`) sees it."""

    prompt_length: int | None = None
    logprob_sums: torch.Tensor | None = None

    def finish(self, sequences: torch.LongTensor) -> list[float]:
        """Adds the final token's log-prob and returns the per-row sums."""
        assert self.prompt_length is not None and self.logprob_sums is not None
        if sequences.shape[1] > self.prompt_length:
            self._consume(sequences[:, -1])
        return [float(x) for x in self.logprob_sums]

    def _consume(self, tokens: torch.Tensor) -> None:
        raise NotImplementedError


class FreeLogitsProcessor(LogprobSummingProcessor):
    """Free-mode companion of JudgmentLogitsProcessor: leaves the model's distribution as it is and sums each
    row's log-probabilities under the distribution the token was drawn from (logits / temperature; use 1.0
    for greedy decoding). One instance serves one `generate` call; call `finish(sequences)` afterwards.

    The only logits it touches are rows past the tokenizer's vocabulary (`vocab_size`; embedding padding,
    which no text can contain): they get -inf. A row ends at its first stop token; the padding `generate`
    adds after that is not counted.
    """

    def __init__(self, stop_ids: Sequence[int], temperature: float = 1.0, vocab_size: int | None = None) -> None:
        self.stop_ids = frozenset(int(t) for t in stop_ids)
        self.temperature = temperature
        self.vocab_size = vocab_size
        self.prompt_length: int | None = None
        self.done: list[bool] = []
        self.logprob_sums: torch.Tensor | None = None
        self._last_logprobs: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
            self.done = [False] * input_ids.shape[0]
            self.logprob_sums = torch.zeros(input_ids.shape[0], dtype=torch.float64)
        else:
            self._consume(input_ids[:, -1])
        if self.vocab_size is not None and scores.shape[-1] > self.vocab_size:
            scores = scores.clone()
            scores[:, self.vocab_size:] = float("-inf")
        self._last_logprobs = torch.log_softmax(scores.float() / self.temperature, dim=-1)
        return scores

    def _consume(self, tokens: torch.Tensor) -> None:
        assert self._last_logprobs is not None and self.logprob_sums is not None
        for i, token in enumerate(tokens.tolist()):
            if self.done[i]:
                continue
            self.logprob_sums[i] += float(self._last_logprobs[i, token])
            self.done[i] = token in self.stop_ids


def load_generation_config(model_dir):
    """The model folder's generation_config.json as a transformers GenerationConfig, or None without one."""
    from transformers import GenerationConfig
    try:
        return GenerationConfig.from_pretrained(model_dir)
    except (OSError, ValueError):
        return None
