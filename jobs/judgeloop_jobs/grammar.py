"""The judgment grammar, enforced while decoding (docs/CONTRACTS.md, generate.py).

A judgment is: a rationale of 1..max_rationale_tokens tokens whose first token has visible text, then ` {marker} `, then exactly one score in
[score_min, score_max], then end of sequence. Enforcing it token by token means even an untrained (random)
model yields parseable judgments, so the loop never wastes samples on formatting.

The "score" may be any small alphabet of single-token choices instead of digits (`choices`, e.g. ["A", "B"]
for a pairwise verdict). A row may also start from an assistant prefix (`plan_assistant_prefix`): a prefix
that ends with the marker goes straight to the choice (the rationale–score consistency re-score); any other
prefix is a rationale already begun, which the model continues under the same rules.

How the tokens are chosen:
- `forced_prefix` is the token sequence every judgment's tail shares before the score (the marker with its
  spaces), and `score_token_ids` the one token per score that follows it. Both come from encoding
  " {marker} {score}" for every score, so the generated tokens decode to exactly that text whatever the
  tokenizer does with spaces (GPT-2 style "Ġ4", Llama-3 style " " + "4", ...).
- While the rationale runs, special tokens (EOS, role tokens, ...) are banned, and so is any token whose text
  contains the marker: the marker may only appear as the judgment's own separator.
- If the model itself starts emitting `forced_prefix`, the rationale ends there: once its tokens have spelled
  the marker, the rest of the prefix is forced. When the budget of max_rationale_tokens is spent, the
  remaining prefix tokens are forced.
- Each row records where its marker came from (`_RowState.marker_source`, read with
  `JudgmentLogitsProcessor.marker_sources()`): "model" when the model's own tokens spelled it before the
  budget ran out, "forced" when the budget ran out first, "prefix" when the assistant prefix ended with it.

This is generate.py's "forced" decoding mode; its "free" mode (judgeloop_jobs/decoding.py) leaves the logits
alone except for the rows that stay constrained in both modes (a prefix ending with the marker, `choices`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import torch

from judgeloop_jobs.decoding import LogprobSummingProcessor


class GrammarError(ValueError):
    """The tokenizer cannot express the judgment grammar (e.g. a score that is not a single token)."""


@dataclass(frozen=True)
class JudgmentGrammar:
    forced_prefix: tuple[int, ...]
    # Index into forced_prefix from which the prefix is forced: the marker text is complete at that point.
    commit_length: int
    # The texts that may follow the marker (digits by default, or the configured choices) and their tokens.
    score_values: tuple[str, ...]
    score_token_ids: tuple[int, ...]
    eos_token_id: int
    max_rationale_tokens: int
    # Over the model's logits dimension: True where a token may appear inside a rationale.
    rationale_allowed: torch.Tensor = field(repr=False)
    # The subset allowed as a rationale's first token: tokens with visible text, so that no rationale is
    # blank (a judgment without a rationale is unparseable: the method trains on rationales).
    rationale_first: torch.Tensor = field(repr=False, default=None)  # type: ignore[assignment]

    @property
    def max_new_tokens(self) -> int:
        """Upper bound on a completion's length: rationale + prefix + score + EOS."""
        return self.max_rationale_tokens + len(self.forced_prefix) + 2


def check_choices(choices: Sequence[str], marker: str) -> None:
    """Raises GrammarError unless `choices` are at least two distinct, non-empty texts without whitespace."""
    if len(choices) < 2:
        raise GrammarError(f"choices must list at least two alternatives, got {list(choices)!r}")
    for choice in choices:
        if not isinstance(choice, str) or not choice or any(c.isspace() for c in choice):
            raise GrammarError(f"each choice must be non-empty text without whitespace, got {choice!r}")
        if marker in choice:
            raise GrammarError(f"choice {choice!r} contains the marker {marker!r}")
    if len(set(choices)) != len(choices):
        raise GrammarError(f"choices must be distinct, got {list(choices)!r}")


def build_grammar(tokenizer, *, marker: str, score_min: int, score_max: int, max_rationale_tokens: int,
                  logits_size: int | None = None, choices: Sequence[str] | None = None) -> JudgmentGrammar:
    """Derives the token-level grammar from a Hugging Face tokenizer. Raises GrammarError with the reason.

    Without `choices` the marker is followed by one integer in [score_min, score_max]; with them (e.g.
    ["A", "B"]), by exactly one of those texts, and score_min/score_max are not used.
    """
    if not marker or marker != marker.strip():
        raise GrammarError(f"marker must be non-empty text without surrounding spaces, got {marker!r}")
    if choices:
        check_choices(choices, marker)
    elif not 0 <= score_min < score_max <= 9:
        raise GrammarError(f"scores must satisfy 0 <= score_min < score_max <= 9, got {score_min}..{score_max}")
    if max_rationale_tokens < 1:
        raise GrammarError(f"max_rationale_tokens must be >= 1, got {max_rationale_tokens}")
    eos = tokenizer.eos_token_id
    if eos is None:
        raise GrammarError("the tokenizer has no eos_token: a judgment could never end")

    def encode(text: str) -> list[int]:
        return list(tokenizer.encode(text, add_special_tokens=False))

    scores = tuple(choices) if choices else tuple(str(s) for s in range(score_min, score_max + 1))
    what = "choice" if choices else "score"
    tails = {s: encode(f" {marker} {s}") for s in scores}
    score_ids = [ids[-1] if ids else -1 for ids in tails.values()]
    if len(set(score_ids)) != len(score_ids):
        shown = {s: tokenizer.convert_ids_to_tokens(ids[-1:]) for s, ids in tails.items()}
        raise GrammarError(f"two {what}s share a token (the tokenizer cannot tell them apart): {shown}")
    prefix = _common_prefix(list(tails.values()))
    for s, ids in tails.items():
        if len(ids) != len(prefix) + 1:
            hint = ("use single-token choices" if choices
                    else "use a tokenizer with single-token digits or a smaller scale")
            raise GrammarError(
                f"{what} {s} is not a single token after the marker: {f' {marker} {s}'!r} encodes to "
                f"{tokenizer.convert_ids_to_tokens(ids)}; {hint}")
    if not prefix:
        raise GrammarError(f"the marker {marker!r} encodes to no tokens")

    commit = next((k for k in range(1, len(prefix) + 1) if marker in tokenizer.decode(prefix[:k])), None)
    if commit is None:
        raise GrammarError(f"the marker's tokens {tokenizer.convert_ids_to_tokens(prefix)} do not decode to {marker!r}")

    size = logits_size if logits_size is not None else len(tokenizer)
    allowed = torch.zeros(size, dtype=torch.bool)
    allowed[: min(len(tokenizer), size)] = True  # rows past the tokenizer are embedding padding, never real text
    banned = set(tokenizer.all_special_ids) | {eos}
    for token_id, added in getattr(tokenizer, "added_tokens_decoder", {}).items():
        if getattr(added, "special", False):
            banned.add(token_id)
    # The marker may appear only as the separator; a lone marker token inside the rationale would make the
    # text ambiguous to parse. Decoding every id once is cheap even for a 128k vocabulary.
    visible = torch.zeros(size, dtype=torch.bool)
    for token_id in range(min(len(tokenizer), size)):
        text = tokenizer.decode([token_id])
        if marker in text:
            banned.add(token_id)
        visible[token_id] = bool(text.strip())
    for token_id in banned:
        if 0 <= token_id < size:
            allowed[token_id] = False
    if not bool(allowed.any()):
        raise GrammarError("no token is allowed inside a rationale")
    first = allowed & visible
    if not bool(first.any()):
        raise GrammarError("no token with visible text is allowed to start a rationale")

    return JudgmentGrammar(forced_prefix=tuple(prefix), commit_length=commit, score_values=scores,
                           score_token_ids=tuple(score_ids), eos_token_id=int(eos),
                           max_rationale_tokens=max_rationale_tokens, rationale_allowed=allowed,
                           rationale_first=first)


def _common_prefix(seqs: list[list[int]]) -> list[int]:
    out: list[int] = []
    for column in zip(*seqs):
        if any(c != column[0] for c in column):
            break
        out.append(column[0])
    return out


# Per-row decoding phases.
RATIONALE, FORCED, SCORE, EOS, DONE = range(5)


class _RowState:
    __slots__ = ("phase", "generated", "match", "forced_index", "marker_source")

    def __init__(self) -> None:
        self.phase = RATIONALE
        self.generated = 0  # tokens generated so far, rationale plus any partial marker
        self.match = 0  # length of the longest rationale suffix (after its first token) equal to a prefix start
        self.forced_index = 0
        # Who wrote the marker: None while the rationale runs, then "model" (its own tokens spelled it),
        # "forced" (the budget ran out first) or "prefix" (the assistant prefix ended with it).
        self.marker_source: str | None = None

    def copy(self) -> "_RowState":
        other = _RowState()
        other.phase, other.generated, other.match, other.forced_index, other.marker_source = (
            self.phase, self.generated, self.match, self.forced_index, self.marker_source)
        return other


def _advance(g: JudgmentGrammar, row: _RowState, token: int) -> None:
    """Moves a row's state past one token it was given (generated, or part of its assistant prefix)."""
    if row.phase == RATIONALE:
        row.generated += 1
        if row.generated > 1:  # the first token is always rationale: a judgment has one
            row.match = _extend_match(g.forced_prefix, row.match, token)
        if row.match >= g.commit_length:
            # The model's own tokens spelled the marker (within the budget: past it, `_allow` forces it).
            row.phase, row.forced_index, row.marker_source = FORCED, row.match, "model"
    elif row.phase == FORCED:
        row.forced_index += 1
    elif row.phase == SCORE:
        row.phase = EOS
    elif row.phase == EOS:
        row.phase = DONE
    if row.phase == FORCED and row.forced_index >= len(g.forced_prefix):
        row.phase = SCORE


@dataclass(frozen=True)
class AssistantPrefix:
    """How one request's assistant prefix enters decoding (`plan_assistant_prefix`).

    `context_ids` go after the prompt (the assistant turn already holds them); generation starts in `state`.
    The judgment's text is `head_text` followed by the text of `tail_ids` + the generated tokens, decoded in
    the context of `head_ids` (`judgment_text`).
    """
    context_ids: tuple[int, ...] = ()
    head_text: str = ""
    head_ids: tuple[int, ...] = ()
    tail_ids: tuple[int, ...] = ()
    state: _RowState = field(default_factory=_RowState, repr=False)

    @property
    def at_choice(self) -> bool:
        """True when the prefix ended with the marker: only the score (or choice) and EOS remain."""
        return self.state.phase == SCORE


NO_PREFIX = AssistantPrefix()


def plan_assistant_prefix(tokenizer, grammar: JudgmentGrammar, prefix: str | None, marker: str) -> AssistantPrefix:
    """Where decoding starts for an assistant turn that begins with `prefix`. Raises GrammarError.

    - None or "": no prefix, the full grammar (a rationale first).
    - A prefix ending with the marker (trailing whitespace allowed), `<rationale> <marker> `: the rationale
      is encoded, the grammar's own marker tokens follow, and only a score (or choice) then EOS may be
      generated. The text is `<rationale> <marker> <score>` exactly as an unprefixed judgment spells it,
      i.e. prefix + score for a prefix in the canonical form `formatJudgment` writes. The rationale must be
      non-blank (the marker may occur inside it: the last marker counts, as when parsing).
    - Any other prefix is a rationale already begun: its tokens count towards max_rationale_tokens and the
      model continues it under the grammar. It must have visible text and must not contain the marker.
    """
    if not prefix:
        return NO_PREFIX

    def encode(text: str) -> tuple[int, ...]:
        return tuple(tokenizer.encode(text, add_special_tokens=False))

    stripped = prefix.rstrip()
    if stripped.endswith(marker):
        rationale = stripped[: -len(marker)].rstrip()
        if not rationale.strip():
            raise GrammarError(f"assistant_prefix {prefix[:60]!r} has no rationale before the marker {marker!r}")
        head = encode(rationale)
        state = _RowState()
        state.phase, state.generated, state.marker_source = SCORE, len(head), "prefix"
        return AssistantPrefix(context_ids=head + grammar.forced_prefix, head_text=rationale, head_ids=head,
                               tail_ids=grammar.forced_prefix, state=state)
    if not prefix.strip():
        raise GrammarError("assistant_prefix has no visible text (omit it, or begin the rationale)")
    if marker in prefix:
        raise GrammarError(f"assistant_prefix may contain the marker {marker!r} only at its end, got {prefix[:80]!r}")
    ids = encode(prefix)
    state = _RowState()
    for token in ids:
        _advance(grammar, state, token)
    if state.phase != RATIONALE:  # the prefix's tokens spelled the marker after all
        raise GrammarError(f"assistant_prefix may contain the marker {marker!r} only at its end, got {prefix[:80]!r}")
    return AssistantPrefix(context_ids=ids, head_text=prefix, head_ids=ids, state=state)


def judgment_text(tokenizer, plan: AssistantPrefix, generated_ids: Sequence[int],
                  skip_ids: frozenset[int] = frozenset()) -> str:
    """The whole judgment: the prefix's head text, then the tail and generated tokens (EOS already removed)
    decoded in the context of the head, so tokenizers that merge spaces into the next token stay exact.
    `skip_ids` are left out of the generated tokens (free mode: the special tokens, `decoding.skipped_special_ids`)."""
    def decode(ids: Sequence[int]) -> str:
        # Under the grammar no special token can occur before EOS (it bans them), so nothing needs skipping;
        # keeping them would only matter for a marker that is itself a special token, which must stay in the
        # text. Free mode passes the special ids other than such a marker as `skip_ids`.
        return tokenizer.decode(list(ids), skip_special_tokens=False, clean_up_tokenization_spaces=False)

    more = list(plan.tail_ids) + [t for t in generated_ids if t not in skip_ids]
    if not plan.head_ids:
        return plan.head_text + decode(more)
    head = decode(plan.head_ids)
    full = decode(list(plan.head_ids) + more)
    return plan.head_text + (full[len(head):] if full.startswith(head) else decode(more))


class JudgmentLogitsProcessor(LogprobSummingProcessor):
    """Masks the logits so every row follows the grammar; also sums each row's log-probabilities.

    One instance serves one `generate` call (rows are tracked by position in the batch). The log-probability
    of each generated token is taken under the distribution it was drawn from: the masked logits divided by
    `temperature` (use 1.0 for greedy decoding). Call `finish(sequences)` after generation for the last token.
    `starts` gives each row's assistant prefix (`plan_assistant_prefix`; the prompt must end with its
    `context_ids`); rows without one start a rationale.
    """

    def __init__(self, grammar: JudgmentGrammar, temperature: float = 1.0,
                 starts: Sequence[AssistantPrefix] | None = None) -> None:
        self.g = grammar
        self.temperature = temperature
        self.starts = list(starts) if starts is not None else None
        self.prompt_length: int | None = None
        self.rows: list[_RowState] = []
        self.logprob_sums: torch.Tensor | None = None
        self._last_logprobs: torch.Tensor | None = None

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        if self.prompt_length is None:
            self.prompt_length = input_ids.shape[1]
            batch = input_ids.shape[0]
            if self.starts is not None and len(self.starts) != batch:
                raise ValueError(f"{len(self.starts)} row starts for a batch of {batch}")
            self.rows = [start.state.copy() for start in self.starts] if self.starts is not None \
                else [_RowState() for _ in range(batch)]
            self.logprob_sums = torch.zeros(batch, dtype=torch.float64)
        else:
            self._consume(input_ids[:, -1])

        allowed = torch.zeros_like(scores, dtype=torch.bool)
        for i, row in enumerate(self.rows):
            self._allow(row, allowed[i])
        masked = scores.masked_fill(~allowed, float("-inf"))
        self._last_logprobs = torch.log_softmax(masked.float() / self.temperature, dim=-1)
        return masked

    def marker_sources(self) -> list[str | None]:
        """Per row, who wrote the marker: "model", "forced" or "prefix" (None only for a row that never got
        past its rationale, which a finished generation cannot have). Read it after `finish`."""
        return [row.marker_source for row in self.rows]

    def _consume(self, tokens: torch.Tensor) -> None:
        assert self._last_logprobs is not None and self.logprob_sums is not None
        for i, row in enumerate(self.rows):
            if row.phase == DONE:
                continue  # generate pads finished rows; those tokens are not part of the judgment
            token = int(tokens[i])
            self.logprob_sums[i] += float(self._last_logprobs[i, token])
            _advance(self.g, row, token)

    def _allow(self, row: _RowState, allowed: torch.Tensor) -> None:
        g = self.g
        if row.phase == RATIONALE and row.generated >= g.max_rationale_tokens:
            # Budget spent: finish the marker from wherever the model's own partial marker left off.
            row.phase, row.forced_index, row.marker_source = FORCED, row.match, "forced"
        if row.phase == RATIONALE:
            allowed.copy_(g.rationale_allowed if row.generated >= 1 else g.rationale_first)
            if row.generated >= 1:
                # Continuing (or starting) the marker is always allowed, even if its token is banned alone.
                allowed[g.forced_prefix[row.match]] = True
        elif row.phase == FORCED:
            allowed[g.forced_prefix[row.forced_index]] = True
        elif row.phase == SCORE:
            allowed[list(g.score_token_ids)] = True
        else:  # EOS, or DONE (finished rows are padded by generate; any finite choice will do)
            allowed[g.eos_token_id] = True


def _extend_match(prefix: tuple[int, ...], match: int, token: int) -> int:
    """Longest k such that (the matched suffix + token) ends with prefix[:k]. The prefix is a few tokens."""
    if match < len(prefix) and prefix[match] == token:
        return match + 1
    # Fall back: try shorter borders of prefix[:match] followed by token (naive KMP; fine for tiny prefixes).
    window = list(prefix[:match]) + [token]
    for k in range(min(len(window), len(prefix)), 0, -1):
        if tuple(window[-k:]) == prefix[:k]:
            return k
    return 0
