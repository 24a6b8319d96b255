"""judgeloop_jobs/pair_prefix.py: a pair batch's common prefixes run once give the hidden states and the
gradients of running every row, and any other batch takes the backbone's own forward."""
from __future__ import annotations

import pytest
import torch

from judgeloop_jobs.pair_prefix import (HEAD_FIELDS, PairPrefixSharing, PrefixSharingStats, common_prefix_lengths,
                                       shared_hidden_states)

PAD = 2


def batch(firsts, seconds):
    """A right-padded batch [firsts; seconds] and its attention mask."""
    rows = [torch.tensor(r) for r in firsts + seconds]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), PAD)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = r, 1
    return ids, mask


@pytest.mark.parametrize("firsts, seconds, expected", [
    ([[5, 6, 7]], [[5, 6, 8]], [2]),
    ([[5, 6, 7]], [[5, 6, 7, 9]], [3]),  # one row is a prefix of the other
    ([[5, 6]], [[9, 6]], [0]),
    ([[5, 6, 7, 8], [4]], [[5, 6, 7, 9, 9], [4, 4]], [3, 1]),
    ([[5, 2]], [[5, 2, 3]], [2]),  # a real token equal to the pad id still counts
])
def test_common_prefix_lengths(firsts, seconds, expected):
    ids, mask = batch(firsts, seconds)
    assert common_prefix_lengths(ids, mask.sum(1)).tolist() == expected


@pytest.fixture(scope="module")
def judge(tiny_judge):
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(tiny_judge)


@pytest.fixture
def backbone(judge):
    return judge.base_model


def pair_batch(seed=0, vocab=200):
    """Three pairs: prompts of 4 to 12 tokens; judgments that share their first token or none; rows of unequal length."""
    g = torch.Generator().manual_seed(seed)
    draw = lambda n: torch.randint(3, vocab, (n,), generator=g).tolist()  # noqa: E731
    prompts = [draw(7), draw(12), draw(4)]
    chosen = [draw(3), draw(1), draw(5)]
    rejected = [chosen[0][:1] + draw(2), draw(4), draw(2)]
    return batch([p + c for p, c in zip(prompts, chosen)], [p + r for p, r in zip(prompts, rejected)])


def plain_hidden(backbone, ids, mask):
    return backbone(input_ids=ids, attention_mask=mask, use_cache=False).last_hidden_state


def test_shared_prefixes_give_the_same_hidden_states_and_gradients(backbone):
    ids, mask = pair_batch()
    valid = mask.bool()
    weights = torch.randn(*ids.shape, backbone.config.hidden_size)
    stats = PrefixSharingStats()

    def hidden_and_grads(share):
        backbone.zero_grad()
        hidden = shared_hidden_states(backbone, ids, mask, stats) if share else plain_hidden(backbone, ids, mask)
        (hidden * weights)[valid].sum().backward()
        return hidden.detach(), {n: p.grad.clone() for n, p in backbone.named_parameters()}

    plain, plain_grads = hidden_and_grads(False)
    shared, shared_grads = hidden_and_grads(True)
    assert stats.tokens_given == int(mask.sum())
    assert stats.tokens_run == int(mask.sum()) - (7 + 1) - 12 - 4  # each pair's common prefix once
    torch.testing.assert_close(shared[valid], plain[valid], atol=1e-5, rtol=1e-5)
    for name, grad in plain_grads.items():
        scale = max(1.0, float(grad.abs().max()))  # float rounding grows with the gradient's size
        torch.testing.assert_close(shared_grads[name], grad, atol=1e-5 * scale, rtol=1e-4, msg=name)


def test_the_positions_continue_the_prefix(backbone):
    """Without the tail's positions the rotary embeddings would restart at 0 and the states would differ."""
    ids, mask = pair_batch(seed=1)
    without_positions = lambda **kw: backbone(**{k: v for k, v in kw.items() if k != "position_ids"})  # noqa: E731
    broken = shared_hidden_states(without_positions, ids, mask, PrefixSharingStats())
    assert not torch.allclose(broken[mask.bool()], plain_hidden(backbone, ids, mask)[mask.bool()], atol=1e-3)


@pytest.mark.parametrize("case", ["odd rows", "left padding", "no common token", "identical rows", "checkpointing"])
def test_other_batches_are_not_shared(backbone, case):
    ids, mask = pair_batch()
    if case == "odd rows":
        ids, mask = ids[:5], mask[:5]
    elif case == "left padding":
        ids, mask = ids.flip(1), mask.flip(1)
    elif case == "no common token":
        ids = ids.clone()
        ids[3, 0] = ids[0, 0] + 1
    elif case == "identical rows":
        ids, mask = torch.cat([ids[:3]] * 2), torch.cat([mask[:3]] * 2)
    backbone.gradient_checkpointing = case == "checkpointing"
    try:
        assert shared_hidden_states(backbone, ids, mask, PrefixSharingStats()) is None
    finally:
        backbone.gradient_checkpointing = False


@pytest.fixture
def fused_judge(tiny_judge):
    """A fresh tiny judge with TRL's fused head, as TRL's DPO trainer gives its policy."""
    from transformers import AutoModelForCausalLM
    from trl.trainer.utils import add_fused_lm_head
    model = AutoModelForCausalLM.from_pretrained(tiny_judge)
    add_fused_lm_head(model, outputs=HEAD_FIELDS)
    return model


def labelled(ids, mask, prompt_lengths):
    """TRL's labels: the judgments' tokens; the prompt and the padding -100."""
    labels = ids.masked_fill(mask == 0, -100)
    for row, n in enumerate(prompt_lengths + prompt_lengths):
        labels[row, :n] = -100
    return labels


@pytest.mark.parametrize("chunk_logits", [1 << 25, 1000])  # one chunk; a few positions per chunk
def test_the_wrapped_forward_returns_trls_fused_head_output(fused_judge, monkeypatch, chunk_logits):
    import judgeloop_jobs.pair_prefix as module
    monkeypatch.setattr(module, "HEAD_CHUNK_LOGITS", chunk_logits)
    ids, mask = pair_batch(vocab=fused_judge.config.vocab_size)
    labels = labelled(ids, mask, [7, 12, 4])
    call = dict(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True, use_cache=False)

    def output_and_grads():
        fused_judge.zero_grad()
        out = fused_judge(**call)
        (out.log_probs * torch.linspace(0.5, 1.5, out.log_probs.numel()).view_as(out.log_probs)).sum().backward()
        return out, {n: p.grad.clone() for n, p in fused_judge.named_parameters()}

    trl_out, trl_grads = output_and_grads()
    sharing = PairPrefixSharing()
    assert sharing.wrap(fused_judge)
    with sharing.sharing():
        ours, our_grads = output_and_grads()
    assert sharing.stats.shared_batches == 1 and sharing.stats.plain_batches == 0
    scored = labels[:, 1:] != -100
    assert torch.equal(ours.label_mask, scored)
    for field in ("log_probs", "entropy", "mean_logits"):
        torch.testing.assert_close(getattr(ours, field), getattr(trl_out, field), atol=1e-5, rtol=1e-5, msg=field)
        assert not getattr(ours, field)[~scored].any(), f"{field} is zero where there is no label"
    assert torch.equal(ours.is_top1, trl_out.is_top1)
    assert not ours.entropy.requires_grad and not ours.mean_logits.requires_grad
    for name, grad in trl_grads.items():
        scale = max(1.0, float(grad.abs().max()))
        torch.testing.assert_close(our_grads[name], grad, atol=1e-5 * scale, rtol=1e-4, msg=name)


@pytest.mark.parametrize("case", ["inactive", "extra argument", "no labels", "not a pair batch"])
def test_other_calls_take_trls_forward(fused_judge, case):
    ids, mask = pair_batch(vocab=fused_judge.config.vocab_size)
    call = dict(input_ids=ids, attention_mask=mask, labels=labelled(ids, mask, [7, 12, 4]), fused_lm_head=True)
    if case == "extra argument":
        call["position_ids"] = torch.arange(ids.shape[1])[None].expand(ids.shape[0], -1)
    elif case == "no labels":
        call = dict(input_ids=ids, attention_mask=mask)
    elif case == "not a pair batch":
        call.update(input_ids=ids[:5], attention_mask=mask[:5], labels=call["labels"][:5])
    expected = fused_judge(**call)
    sharing = PairPrefixSharing()
    sharing.wrap(fused_judge)
    if case == "inactive":
        out = fused_judge(**call)
    else:
        with sharing.sharing():
            out = fused_judge(**call)
    assert sharing.stats.shared_batches == 0
    key = "logits" if case == "no labels" else "log_probs"
    assert torch.equal(out[key], expected[key])


def test_a_head_field_it_does_not_compute_leaves_the_model_alone(fused_judge):
    forward = fused_judge.forward
    assert not PairPrefixSharing().wrap(fused_judge, HEAD_FIELDS + ("log_sum_sq_probs",))
    assert fused_judge.forward is forward
