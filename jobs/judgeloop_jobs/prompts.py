"""Prompt encoding shared by both generation backends and by DPO training (the same ids on both sides)."""
from __future__ import annotations

import hashlib

from .sm_contract import JobConfigError


def encode_prompt(tokenizer, messages, max_prompt_tokens: int) -> tuple[list[int], bool]:
    """The chat template with the generation prompt, then left truncation to max_prompt_tokens (0 = none).
    Returns (ids, whether it was truncated). The end of a judge prompt (the response, the rubric and the
    feedback cue) matters most, so the start is what goes."""
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    # The template already writes any BOS token itself; adding special tokens again would double it.
    ids = tokenizer.encode(text, add_special_tokens=False)
    if max_prompt_tokens and len(ids) > max_prompt_tokens:
        return ids[-max_prompt_tokens:], True
    return ids, False


def prompt_ids_sha256(ids) -> str:
    """A fingerprint of prompt token ids: what a judgment records of the prompt it was sampled from, so that
    training can check it rebuilt the same ids without carrying hundreds of ids per judgment."""
    return hashlib.sha256(",".join(str(int(i)) for i in ids).encode()).hexdigest()


def encode_prompts(tokenizer, requests, max_prompt_tokens: int) -> None:
    """Sets `prompt_ids` (and `truncated`) on each request (encode_prompt)."""
    if not getattr(tokenizer, "chat_template", None):
        raise JobConfigError("the model's tokenizer has no chat_template; generate needs one to render messages")
    for request in requests:
        request.prompt_ids, truncated = encode_prompt(tokenizer, request.messages, max_prompt_tokens)
        request.truncated = request.truncated or truncated
