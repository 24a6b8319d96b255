"""One prefill per prompt for the N samples of a request (transformers backend).

A judge writes N judgments per request from the same prompt. `model.generate` on N copies of a prompt runs
the prompt through the model N times (`num_return_sequences` copies the inputs before the prefill too), and
a judgment prompt (rubric, instruction, response) is usually far longer than the judgment, so that prefill is
most of the work: with 8 samples of a 2-token judgment nearly all of it.

`shared_prompt_cache` runs each distinct prompt of a batch once, without its last token, and copies the key
/value cache to every row that holds it; `generate` then starts from that cache with the full rows (the
restart it supports for a cache it is given) and runs the last prompt token and the judgment per row, as
before. The rows are decoded from the same logits up to float rounding (a batch of 8 and one of 64 may sum
in another order), and draw the same random numbers in the same order.
"""
from __future__ import annotations

from typing import Any, Sequence


def prompt_groups(keys: Sequence[Any]) -> tuple[list[int], list[int]] | None:
    """For rows whose prompts are identified by `keys`: the first row of each distinct prompt, and for each row
    the index of its prompt in that list. None when no prompt repeats (nothing to share)."""
    first: dict[Any, int] = {}
    unique: list[int] = []
    index: list[int] = []
    for row, key in enumerate(keys):
        if key not in first:
            first[key] = len(unique)
            unique.append(row)
        index.append(first[key])
    return (unique, index) if len(unique) < len(keys) else None


def shared_prompt_cache(model, input_ids, attention_mask, keys: Sequence[Any]):
    """The key/value cache of `input_ids[:, :-1]` for every row, computed once per distinct prompt (`keys`
    names each row's prompt; rows with equal keys hold equal ids and masks), or None when no prompt repeats
    or the prompts are a single token (generate needs one uncached token to start from)."""
    import torch

    groups = prompt_groups(keys)
    if groups is None or input_ids.shape[1] < 2:
        return None
    unique, index = groups
    rows = torch.tensor(unique, device=input_ids.device)
    ids, mask = input_ids[rows, :-1], attention_mask[rows, :-1]
    # The positions generate() gives left-padded rows: counted from each row's first real token.
    positions = (mask.long().cumsum(-1) - 1).masked_fill(mask == 0, 0)
    with torch.no_grad():
        out = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True)
    cache = out.cache
    # A recurrent layer's state is not a cache generate() can restart from with the full rows: run those
    # models as before.
    if cache is None or any(getattr(cache, "is_linear", [])):
        return None
    cache.batch_select_indices(torch.tensor(index, device=input_ids.device))
    return cache
