"""The judgment grammar, driven by adversarial fake logits: whatever the model prefers, output parses."""
from __future__ import annotations

import math
import re

import pytest
import torch

from judgeloop_jobs.grammar import GrammarError, JudgmentLogitsProcessor, build_grammar

JUDGMENT = re.compile(r"^(.*)\s*\[RESULT\]\s*([1-5])$", re.S)


@pytest.fixture(scope="module")
def tok(tiny_judge):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(tiny_judge)


def decode_with(grammar, logits_fn, rows=6, prompt_len=3, sample=False, seed=0):
    """A minimal generate loop: the processor masks, we pick (argmax or sample), until every row has EOS."""
    gen = torch.Generator().manual_seed(seed)
    processor = JudgmentLogitsProcessor(grammar, temperature=1.0)
    ids = torch.zeros(rows, prompt_len, dtype=torch.long)
    done = torch.zeros(rows, dtype=torch.bool)
    for _ in range(grammar.max_new_tokens):
        scores = processor(ids, logits_fn(ids).clone())
        if sample:
            nxt = torch.multinomial(torch.softmax(scores, -1), 1, generator=gen).squeeze(1)
        else:
            nxt = scores.argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, grammar.eos_token_id), nxt)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        done |= nxt == grammar.eos_token_id
        if bool(done.all()):
            break
    logprobs = processor.finish(ids)
    completions = []
    for row in ids[:, prompt_len:].tolist():
        completions.append(row[: row.index(grammar.eos_token_id) + 1] if grammar.eos_token_id in row else row)
    return completions, logprobs


def check(tok, grammar, completion, max_rationale):
    assert completion[-1] == grammar.eos_token_id, "every judgment ends with EOS"
    body = completion[:-1]
    assert body[-1] in grammar.score_token_ids
    prefix = list(grammar.forced_prefix)
    assert body[-1 - len(prefix):-1] == prefix, "the marker tokens come right before the score"
    rationale = body[: -1 - len(prefix)]
    assert 1 <= len(rationale) <= max_rationale
    special = set(tok.all_special_ids)
    assert not special & set(rationale), "no special token inside a rationale"
    text = tok.decode(body, skip_special_tokens=False)
    match = JUDGMENT.match(text)
    assert match, text
    assert "[RESULT]" not in match.group(1), "the marker appears once, as the separator"
    return text


def test_grammar_tokens_for_the_tiny_tokenizer(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=8)
    assert tok.decode(list(g.forced_prefix)) == " [RESULT] "
    assert [tok.decode([t]) for t in g.score_token_ids] == ["1", "2", "3", "4", "5"]
    assert g.max_new_tokens == 8 + len(g.forced_prefix) + 2
    assert not g.rationale_allowed[tok.eos_token_id] and not g.rationale_allowed[tok.convert_tokens_to_ids("[RESULT]")]


def test_random_logits_always_give_parseable_judgments(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=6)
    torch.manual_seed(0)
    completions, logprobs = decode_with(g, lambda ids: torch.randn(ids.shape[0], len(tok)) * 5, rows=32,
                                        sample=True)
    for completion in completions:
        check(tok, g, completion, 6)
    assert all(lp < 0 and math.isfinite(lp) for lp in logprobs)


def test_a_model_that_wants_to_stop_or_emit_specials_is_held_to_the_grammar(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=5)
    bad = [tok.eos_token_id, tok.pad_token_id, tok.convert_tokens_to_ids("<|assistant|>"),
           tok.convert_tokens_to_ids("[RESULT]")]

    def logits(ids):
        out = torch.zeros(ids.shape[0], len(tok))
        out[:, bad] = 100.0  # the model badly wants to end, switch turns or write the marker early
        return out

    for completion in decode_with(g, logits)[0]:
        check(tok, g, completion, 5)
        assert len(completion) == 5 + len(g.forced_prefix) + 2  # budget spent, then the marker was forced


def test_a_model_that_prefers_whitespace_still_writes_a_visible_rationale(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=2)
    blank = [i for i in range(len(tok)) if bool(g.rationale_allowed[i]) and not tok.decode([i]).strip()]
    assert blank, "the tiny tokenizer has whitespace-only tokens (the case this guards against)"

    def logits(ids):
        out = torch.zeros(ids.shape[0], len(tok))
        out[:, blank] = 100.0  # the model badly wants a blank rationale
        return out

    for completion in decode_with(g, logits)[0]:
        text = check(tok, g, completion, 2)
        assert JUDGMENT.match(text).group(1).strip(), f"blank rationale in {text!r}"


def test_the_model_writing_the_marker_itself_ends_the_rationale(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=50)
    word = tok.encode("good", add_special_tokens=False)[0]
    four = g.score_token_ids[3]

    def logits(ids):
        # After one word, prefer the marker's tokens in order, then "4": a model that learnt the format.
        out = torch.zeros(ids.shape[0], len(tok))
        generated = ids.shape[1] - 3
        plan = [word, *g.forced_prefix, four]
        out[:, plan[min(generated, len(plan) - 1)]] = 50.0
        return out

    completions, logprobs = decode_with(g, logits, rows=2)
    for completion in completions:
        text = check(tok, g, completion, 50)
        assert text == tok.decode([word]) + " [RESULT] 4"
    assert all(lp > -1e-3 for lp in logprobs)  # every choice was the model's near-certain favourite


def test_scale_zero_to_nine(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=0, score_max=9, max_rationale_tokens=3)
    assert len(g.score_token_ids) == 10
    completions, _ = decode_with(g, lambda ids: torch.randn(ids.shape[0], len(tok)), rows=16, sample=True, seed=3)
    for completion in completions:
        assert tok.decode([completion[-2]]) in list("0123456789")


def test_logits_wider_than_the_tokenizer_never_pick_padding_rows(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=4,
                      logits_size=len(tok) + 64)

    def logits(ids):
        out = torch.zeros(ids.shape[0], len(tok) + 64)
        out[:, len(tok):] = 100.0  # embedding padding rows are not tokens
        return out

    for completion in decode_with(g, logits)[0]:
        assert max(completion) < len(tok)
        check(tok, g, completion, 4)


def test_tokenizers_that_cannot_express_the_grammar_are_rejected(tok):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    # A word-level vocabulary without digits: every score would be the same unknown token.
    words = Tokenizer(models.WordLevel({"[UNK]": 0, "<eos>": 1, "[RESULT]": 2, "fine": 3}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    no_digits = PreTrainedTokenizerFast(tokenizer_object=words, eos_token="<eos>", unk_token="[UNK]")
    with pytest.raises(GrammarError, match="share a token"):
        build_grammar(no_digits, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=4)
    with pytest.raises(GrammarError, match="score_min < score_max"):
        build_grammar(tok, marker="[RESULT]", score_min=3, score_max=3, max_rationale_tokens=4)
    with pytest.raises(GrammarError, match="surrounding spaces"):
        build_grammar(tok, marker=" [RESULT]", score_min=1, score_max=5, max_rationale_tokens=4)


# ---- choices (a pairwise verdict) and assistant prefixes ----

from judgeloop_jobs.grammar import (NO_PREFIX, SCORE, check_choices, judgment_text,  # noqa: E402
                                    plan_assistant_prefix)

VERDICT = re.compile(r"^(.*\S)\s*\[RESULT\] ([AB])$", re.S)


def test_choices_a_b_give_a_verdict_after_the_marker(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=6, choices=["A", "B"])
    assert g.score_values == ("A", "B")
    assert [tok.decode([t]) for t in g.score_token_ids] == ["A", "B"]
    assert tok.decode(list(g.forced_prefix)) == " [RESULT] "
    completions, _ = decode_with(g, lambda ids: torch.randn(ids.shape[0], len(tok)) * 5, rows=24, sample=True, seed=5)
    verdicts = set()
    for completion in completions:
        assert completion[-1] == g.eos_token_id and completion[-2] in g.score_token_ids
        text = tok.decode(completion[:-1], skip_special_tokens=False)
        match = VERDICT.match(text)
        assert match, text
        verdicts.add(match.group(2))
    assert verdicts == {"A", "B"}  # random logits pick both


def test_choices_that_cannot_work_are_rejected(tok):
    for choices, message in [(["A"], "at least two"), (["A", "A"], "distinct"), (["A", "B C"], "without whitespace"),
                             (["A", ""], "without whitespace"), (["A", "[RESULT]"], "contains the marker")]:
        with pytest.raises(GrammarError, match=message):
            check_choices(choices, "[RESULT]")
        with pytest.raises(GrammarError, match=message):
            build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=4, choices=choices)
    with pytest.raises(GrammarError, match="choice qzxv is not a single token"):
        build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=4, choices=["A", "qzxv"])


def decode_rows(grammar, starts, logits_fn, seed=0, sample=True):
    """Like decode_with, with one assistant prefix per row (the prompt content is irrelevant to the grammar)."""
    gen = torch.Generator().manual_seed(seed)
    processor = JudgmentLogitsProcessor(grammar, temperature=1.0, starts=starts)
    rows = len(starts)
    ids = torch.zeros(rows, 3, dtype=torch.long)
    done = torch.zeros(rows, dtype=torch.bool)
    for _ in range(grammar.max_new_tokens):
        scores = processor(ids, logits_fn(ids).clone())
        nxt = torch.multinomial(torch.softmax(scores, -1), 1, generator=gen).squeeze(1) if sample else scores.argmax(-1)
        nxt = torch.where(done, torch.full_like(nxt, grammar.eos_token_id), nxt)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        done |= nxt == grammar.eos_token_id
        if bool(done.all()):
            break
    out = []
    for row in ids[:, 3:].tolist():
        out.append(row[: row.index(grammar.eos_token_id) + 1])
    return out


def test_a_prefix_ending_with_the_marker_leaves_only_the_score(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=6)
    prefix = "The review is enthusiastic, so the verdict is clear. [RESULT] "
    plan = plan_assistant_prefix(tok, g, prefix, "[RESULT]")
    assert plan.at_choice and plan.state.phase == SCORE
    assert plan.context_ids[-len(g.forced_prefix):] == g.forced_prefix
    assert plan.head_text == prefix[: prefix.index(" [RESULT]")]
    # Also with a newline before the marker and no space after it: the grammar's own marker tokens follow.
    assert plan_assistant_prefix(tok, g, "Clear.\n[RESULT]", "[RESULT]").head_text == "Clear."
    bad = [tok.eos_token_id, tok.convert_tokens_to_ids("[RESULT]"), tok.encode("good", add_special_tokens=False)[0]]

    def logits(ids):
        out = torch.randn(ids.shape[0], len(tok))
        out[:, bad] = 100.0  # the model would rather stop, or write more rationale or another marker
        return out

    completions = decode_rows(g, [plan] * 16, logits)
    scores = set()
    for completion in completions:
        assert len(completion) == 2 and completion[0] in g.score_token_ids and completion[1] == g.eos_token_id
        text = judgment_text(tok, plan, completion[:-1])
        assert text == prefix + tok.decode(completion[:1]), text  # prefix + score, exactly
        assert JUDGMENT.match(text)
        scores.add(text[-1])
    assert len(scores) > 1


def test_a_partial_rationale_prefix_is_continued_under_the_grammar(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=8)
    prefix = "The verdict"
    plan = plan_assistant_prefix(tok, g, prefix, "[RESULT]")
    prefix_tokens = len(tok.encode(prefix, add_special_tokens=False))
    assert not plan.at_choice and plan.state.generated == prefix_tokens
    completions = decode_rows(g, [plan, NO_PREFIX] * 8, lambda ids: torch.randn(ids.shape[0], len(tok)) * 5, seed=2)
    for i, completion in enumerate(completions):
        if i % 2:  # the unprefixed rows of the same batch keep the full grammar
            check(tok, g, completion, 8)
            continue
        body = completion[:-1]
        assert body[-1] in g.score_token_ids and body[-1 - len(g.forced_prefix):-1] == list(g.forced_prefix)
        assert len(body) - 1 - len(g.forced_prefix) <= 8 - prefix_tokens  # the prefix counts towards the budget
        text = judgment_text(tok, plan, body)
        assert text.startswith(prefix) and JUDGMENT.match(text), text
        assert "[RESULT]" not in JUDGMENT.match(text).group(1)


def test_prefixes_that_cannot_work_are_rejected(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=8)
    assert plan_assistant_prefix(tok, g, None, "[RESULT]") is NO_PREFIX
    assert plan_assistant_prefix(tok, g, "", "[RESULT]") is NO_PREFIX
    for prefix, message in [("[RESULT] ", "no rationale before the marker"), ("  \n[RESULT]", "no rationale"),
                            ("   ", "no visible text"), ("Fine [RESULT] 4 then", "only at its end")]:
        with pytest.raises(GrammarError, match=re.escape(message)):
            plan_assistant_prefix(tok, g, prefix, "[RESULT]")
    # The marker may be quoted in the rationale of a prefix that ends with it: the last marker counts.
    plan = plan_assistant_prefix(tok, g, "It said [RESULT] 2 before. [RESULT] ", "[RESULT]")
    assert plan.at_choice and plan.head_text == "It said [RESULT] 2 before."


# ---- marker_source: who wrote the marker, recorded by the processor (exact, not read from the text) ----

from judgeloop_jobs import decoding  # noqa: E402


def feed(grammar, tokens_per_row, starts=None):
    """Feeds hand-picked tokens through the processor as `generate` would: the processor sees the logits, then
    the next column is appended. Asserts that every fed token was allowed; returns the processor."""
    processor = JudgmentLogitsProcessor(grammar, temperature=1.0, starts=starts)
    rows = len(tokens_per_row)
    ids = torch.zeros(rows, 3, dtype=torch.long)
    width = max(len(t) for t in tokens_per_row)
    for step in range(width):
        scores = processor(ids, torch.zeros(rows, grammar.rationale_allowed.shape[0]))
        column = []
        for i, tokens in enumerate(tokens_per_row):
            token = tokens[step] if step < len(tokens) else grammar.eos_token_id  # finished rows: padding
            assert step >= len(tokens) or math.isfinite(float(scores[i, token])), (i, step, token)
            column.append(token)
        ids = torch.cat([ids, torch.tensor(column)[:, None]], dim=1)
    processor.finish(ids)
    return processor


def test_marker_source_model_forced_and_prefix(tok):
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=4)
    word = tok.encode("good", add_special_tokens=False)[0]
    tail = [*g.forced_prefix, g.score_token_ids[3], g.eos_token_id]
    model_wrote_it = [word, *tail]  # the marker's tokens, chosen by the model within the budget
    budget_spent = [word] * 4 + tail  # four rationale tokens: the marker is forced
    # The model began the marker with its last budget token (" "): the rest is forced, so "forced".
    began_at_the_budget = [word] * 3 + tail
    # The model's tokens complete the marker exactly as the budget runs out: still its own.
    at_the_edge = [word] * (4 - g.commit_length) + tail
    processor = feed(g, [model_wrote_it, budget_spent, began_at_the_budget, at_the_edge])
    assert processor.marker_sources() == ["model", "forced", "forced", "model"]
    # A rationale begun by the prefix: its tokens count towards the budget, the marker is the model's if it
    # writes it before the budget runs out; a prefix ending with the marker: "prefix".
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=8)
    begun = plan_assistant_prefix(tok, g, "Good", "[RESULT]")
    room = g.max_rationale_tokens - begun.state.generated
    assert room >= g.commit_length
    rescore = plan_assistant_prefix(tok, g, "Good. [RESULT] ", "[RESULT]")
    processor = feed(g, [[g.score_token_ids[0], g.eos_token_id], [word] * room + tail,
                         [word] * (room - g.commit_length) + tail], starts=[rescore, begun, begun])
    assert processor.marker_sources() == ["prefix", "forced", "model"]
    assert plan_assistant_prefix(tok, g, "Good. [RESULT] ", "[RESULT]").state.marker_source == "prefix"


def test_marker_sources_of_scripted_decoding(tok):
    """The existing scripted cases: a model that wants to stop is forced at the budget; one that learnt the
    format writes the marker itself."""
    g = build_grammar(tok, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=5)

    def wants_to_stop(ids):
        out = torch.zeros(ids.shape[0], len(tok))
        out[:, [tok.eos_token_id, tok.convert_tokens_to_ids("<|assistant|>")]] = 100.0
        return out

    processor = JudgmentLogitsProcessor(g, temperature=1.0)
    ids = torch.zeros(3, 3, dtype=torch.long)
    for _ in range(g.max_new_tokens):
        nxt = processor(ids, wants_to_stop(ids)).argmax(-1)
        ids = torch.cat([ids, nxt[:, None]], dim=1)
        if bool((nxt == g.eos_token_id).all()):
            break
    processor.finish(ids)
    assert processor.marker_sources() == ["forced"] * 3


def test_free_logits_processor_leaves_the_distribution_and_sums_log_probs():
    vocab, padded = 6, 8
    eos = 5
    logits = torch.tensor([[0.0, 1.0, 2.0, 3.0, 0.5, 9.0, 50.0, 50.0]]).repeat(2, 1)
    processor = decoding.FreeLogitsProcessor([eos], temperature=2.0, vocab_size=vocab)
    ids = torch.zeros(2, 1, dtype=torch.long)
    fed = [[3, 1, eos], [2, eos, 4]]  # the second row ends at step 2; its later column is padding
    for step in range(3):
        out = processor(ids, logits.clone())
        assert torch.equal(out[:, :vocab], logits[:, :vocab])  # nothing masked: EOS and every token allowed
        assert bool(torch.isinf(out[:, vocab:]).all())  # but rows past the vocabulary are not tokens
        ids = torch.cat([ids, torch.tensor([[fed[0][step]], [fed[1][step]]])], dim=1)
    sums = processor.finish(ids)
    expected = torch.log_softmax(logits[0, :vocab] / 2.0, -1)
    assert sums[0] == pytest.approx(float(expected[3] + expected[1] + expected[eos]), abs=1e-6)
    assert sums[1] == pytest.approx(float(expected[2] + expected[eos]), abs=1e-6)  # padding not counted
    assert all(s <= 0 for s in sums)


def test_decoding_rules(tok):
    from transformers import GenerationConfig
    assert decoding.stop_token_ids(tok) == (tok.eos_token_id,)
    user = tok.convert_tokens_to_ids("<|user|>")
    assert decoding.stop_token_ids(tok, GenerationConfig(eos_token_id=[user, tok.eos_token_id])) == \
        (tok.eos_token_id, user)
    assert decoding.stop_token_ids(tok, GenerationConfig(eos_token_id=user)) == (tok.eos_token_id, user)
    skipped = decoding.skipped_special_ids(tok, "[RESULT]")
    assert tok.eos_token_id in skipped and user in skipped
    assert tok.convert_tokens_to_ids("[RESULT]") not in skipped  # the marker stays in the text
    assert decoding.strip_stop([4, 5, 9, 5], [5]) == ([4, 5], True)
    assert decoding.strip_stop([4, 9], [5]) == ([4, 9], False)
    assert decoding.free_marker_source("ok [RESULT] 3", "[RESULT]") == "model"
    assert decoding.free_marker_source("ok, 3", "[RESULT]") == "absent"
    assert decoding.free_token_budget(0, 100) == 100 + decoding.FREE_BUDGET_SLACK
    assert decoding.free_token_budget(40, 100) == 40
    assert decoding.row_is_constrained("forced", has_choices=False, prefix_at_choice=False)
    assert not decoding.row_is_constrained("free", has_choices=False, prefix_at_choice=False)
    assert decoding.row_is_constrained("free", has_choices=True, prefix_at_choice=False)
    assert decoding.row_is_constrained("free", has_choices=False, prefix_at_choice=True)
