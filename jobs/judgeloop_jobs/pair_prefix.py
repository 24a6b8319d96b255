"""One pass over the tokens a preference pair's two judgments share (DPO training and its reference model).

TRL's DPO batch holds each pair twice: the prompt and the chosen judgment in row i, the same prompt and the
rejected judgment in row i + B, right-padded. A judge's prompt (rubric, instruction, response) is usually far
longer than its judgment, so the model runs most of its tokens twice, for the policy and again for the
reference model, and on a CPU TRL's language-model head then scores every position, prompt included (it
scores only the judgment's positions on GPUs, where its kernel is compiled). A causal model's hidden states
at a position depend only on the tokens up to it, so the two rows agree wherever their tokens agree: the
prompt, and any opening the judgments have in common.

`PairPrefixSharing.wrap(model)` wraps a causal LM's forward (after TRL has given it its fused head). While
`sharing()` is on, a call `model(input_ids, attention_mask, labels, fused_lm_head=True)` on a batch in that
layout runs each pair's common prefix once (B rows), then both rows' remaining tokens from that key/value
cache (2B rows, their positions continuing the prefix's), and scores only the positions that have a label.
It returns what TRL's fused head returns (log-probabilities, and the entropy, mean logit and top-1 flags its
metrics read), in the batch's own layout, so TRL's loss and metrics run unchanged. Gradients reach the
prefix from both rows, as they do when it is run twice. Anything else (another layout, a prefix of no token,
activation checkpointing, which gives up the cache, a head that scales or caps its logits) takes the wrapped
forward as it is. Results are equal up to float rounding: a prefix of B rows and one of 2B rows may sum in
another order.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

# Positions of one chunk of the head, as a number of logits: its logits are the head's peak memory.
HEAD_CHUNK_LOGITS = 1 << 25
# Config fields with which a model's head is more than `lm_head(hidden)`: those models take TRL's head.
SCALED_HEAD_FIELDS = ("final_logit_softcapping", "logit_scale", "output_multiplier", "lm_head_multiplier",
                      "logits_scaling")
# The per-token fields of TRL's fused head this path computes ("log_probs" first); TRL's DPO trainer reads
# these four from the policy (and "log_sum_sq_probs" too with use_weighting: that trainer is left as it is).
HEAD_FIELDS = ("log_probs", "entropy", "mean_logits", "is_top1")
# The keyword arguments TRL's DPO trainer gives the model, all of which this path handles (PEFT's wrapper adds
# others, set to None: those are the model's defaults, and fine too).
HANDLED_ARGUMENTS = {"input_ids", "attention_mask", "use_cache", "labels", "fused_lm_head"}


@dataclass
class PrefixSharingStats:
    """What the wrapper did: batches it shared or left alone, and the backbone tokens it ran against the
    tokens it was given."""
    shared_batches: int = 0
    plain_batches: int = 0
    tokens_given: int = 0
    tokens_run: int = 0


class PairPrefixSharing:
    def __init__(self) -> None:
        self.active = False
        self.stats = PrefixSharingStats()

    @contextmanager
    def sharing(self):
        """Batches inside are TRL preference batches: [chosen rows; rejected rows], pair i in rows i and i + B."""
        self.active, before = True, self.active
        try:
            yield
        finally:
            self.active = before

    def wrap(self, model, outputs=HEAD_FIELDS) -> bool:
        """Wraps `model.forward` on this instance; `outputs`: the per-token fields its callers read, "log_probs"
        first. False (and nothing wrapped) when a field is not one this path computes."""
        if outputs[0] != "log_probs" or not set(outputs) <= set(HEAD_FIELDS):
            return False
        fused_forward = model.forward
        text_config = model.config.get_text_config()
        plain_head = not any(getattr(text_config, field, None) is not None for field in SCALED_HEAD_FIELDS)

        def forward(*args, **kwargs):
            if self.active and kwargs.get("fused_lm_head"):
                out = None
                others = [k for k, v in kwargs.items() if k not in HANDLED_ARGUMENTS and v is not None]
                if plain_head and not args and not others and kwargs.get("labels") is not None:
                    out = shared_prefix_forward(model, kwargs["input_ids"], kwargs.get("attention_mask"),
                                                kwargs["labels"], outputs, self.stats)
                if out is not None:
                    return out
                self.stats.plain_batches += 1
            return fused_forward(*args, **kwargs)

        model.forward = forward
        return True


def common_prefix_lengths(input_ids, lengths):
    """For a batch [first rows; second rows] with `lengths` real tokens per row: how many leading tokens row i
    and row i + B have in common, per pair."""
    import torch

    half = input_ids.shape[0] // 2
    first, second = input_ids[:half], input_ids[half:]
    shortest = torch.minimum(lengths[:half], lengths[half:])
    positions = torch.arange(input_ids.shape[1], device=input_ids.device)
    same = (first == second) & (positions < shortest[:, None])
    return same.long().cumprod(dim=1).sum(dim=1)


def shared_hidden_states(backbone, input_ids, attention_mask, stats: PrefixSharingStats):
    """The backbone's last hidden states for a pair batch, each pair's common prefix run once; None when the
    batch is not one (odd rows, not right-padded, a pair with no common first token, nothing after the prefix)
    or the backbone cannot restart from a cache."""
    import torch

    if attention_mask is None or input_ids.dim() != 2 or input_ids.shape[0] % 2:
        return None
    if getattr(backbone, "gradient_checkpointing", False):
        return None
    rows, width = input_ids.shape
    half = rows // 2
    positions = torch.arange(width, device=input_ids.device)
    lengths = attention_mask.long().sum(dim=1)
    if not torch.equal(attention_mask.bool(), positions[None, :] < lengths[:, None]):
        return None
    prefix = common_prefix_lengths(input_ids, lengths)
    row_prefix = torch.cat([prefix, prefix])
    rest = lengths - row_prefix
    if int(prefix.min()) < 1 or int(rest.max()) < 1:
        return None

    # The common prefixes, once per pair, right-padded to the longest.
    span = int(prefix.max())
    prefix_mask = (positions[None, :span] < prefix[:, None]).long()
    head = backbone(input_ids=input_ids[:half, :span], attention_mask=prefix_mask, use_cache=True)
    cache = getattr(head, "cache", None)
    if cache is None or any(getattr(cache, "is_linear", [])):
        return None
    cache.batch_select_indices(torch.cat([torch.arange(half, device=input_ids.device)] * 2))

    # Each row's remaining tokens, from its pair's cache, at the positions that follow its prefix.
    steps = int(rest.max())
    offsets = torch.arange(steps, device=input_ids.device)
    tail_positions = row_prefix[:, None] + offsets[None, :]
    tail_ids = input_ids.gather(1, tail_positions.clamp(max=width - 1))
    tail_mask = (offsets[None, :] < rest[:, None]).long()
    tail = backbone(input_ids=tail_ids, attention_mask=torch.cat([prefix_mask.repeat(2, 1), tail_mask], dim=1),
                    position_ids=tail_positions, cache=cache, use_cache=True)

    # Back to the batch's layout: position p of a row is the prefix's p before its prefix ends, else the tail's.
    hidden_head = head.last_hidden_state.repeat(2, 1, 1)
    size = hidden_head.shape[-1]
    if span < width:
        hidden_head = torch.nn.functional.pad(hidden_head, (0, 0, 0, width - span))
    tail_index = (positions[None, :] - row_prefix[:, None]).clamp(0, steps - 1)
    hidden_tail = tail.last_hidden_state.gather(1, tail_index[..., None].expand(-1, -1, size))
    in_prefix = (positions[None, :] < row_prefix[:, None])[..., None]

    stats.tokens_given += int(lengths.sum())
    stats.tokens_run += int(prefix.sum()) + int(rest.sum())
    return torch.where(in_prefix, hidden_head[:, :width], hidden_tail)


def shared_prefix_forward(model, input_ids, attention_mask, labels, outputs, stats: PrefixSharingStats):
    """TRL's fused-head output for a pair batch (`FusedCausalLMOutput`), from `shared_hidden_states` and the
    head on the labelled positions only; None when the batch is not a pair batch."""
    import torch
    from trl.trainer.utils import FusedCausalLMOutput

    hidden = shared_hidden_states(model.base_model, input_ids, attention_mask, stats)
    if hidden is None:
        return None
    stats.shared_batches += 1
    targets = labels[:, 1:]
    scored = targets != -100
    fields = head_on(model.get_output_embeddings(), hidden[:, :-1][scored], targets[scored], outputs)

    def in_layout(name):
        if name not in fields:
            return None
        dtype = torch.bool if name == "is_top1" else hidden.dtype
        return torch.zeros(scored.shape, dtype=dtype, device=hidden.device).masked_scatter(scored, fields[name].to(dtype))

    log_probs = in_layout("log_probs")
    return FusedCausalLMOutput(
        loss=-log_probs.sum() / scored.sum().clamp(min=1),
        log_probs=log_probs,
        entropy=in_layout("entropy"),
        mean_logits=in_layout("mean_logits"),
        is_top1=in_layout("is_top1"),
        label_mask=scored,
    )


def head_on(lm_head, hidden, targets, outputs) -> dict:
    """The head's log-probability of each target, and the asked-for statistics of each position's next-token
    distribution (detached, as TRL's are), chunk by chunk. With gradients, a chunk's logits are recomputed in
    the backward pass rather than kept, so memory stays at one chunk of logits."""
    import torch
    from torch.utils.checkpoint import checkpoint

    def chunk_fields(h, t):
        logits = lm_head(h).float()
        log_p = torch.log_softmax(logits, dim=-1)
        fields = [log_p.gather(1, t[:, None]).squeeze(1)]
        detached = log_p.detach()
        for name in outputs[1:]:
            if name == "entropy":
                fields.append(-(detached.exp() * detached).sum(-1))
            elif name == "mean_logits":
                fields.append(logits.detach().mean(-1))
            else:  # is_top1
                fields.append(logits.detach().argmax(-1) == t)
        return tuple(fields)

    chunk = max(1, HEAD_CHUNK_LOGITS // lm_head.weight.shape[0])
    parts: list[list] = [[] for _ in outputs]
    for start in range(0, hidden.shape[0], chunk):
        h, t = hidden[start:start + chunk], targets[start:start + chunk]
        if torch.is_grad_enabled() and h.requires_grad:
            fields = checkpoint(chunk_fields, h, t, use_reentrant=False)
        else:
            fields = chunk_fields(h, t)
        for part, values in zip(parts, fields):
            part.append(values)
    return {name: torch.cat(values) if values else hidden.new_zeros(0, dtype=torch.bool if name == "is_top1" else None)
            for name, values in zip(outputs, parts)}
