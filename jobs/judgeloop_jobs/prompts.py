"""Prompt encoding shared by both generation backends."""
from __future__ import annotations

from .sm_contract import JobConfigError


def encode_prompts(tokenizer, requests, max_prompt_tokens: int) -> None:
    """Sets `prompt_ids` (and `truncated`) on each request: the chat template with the generation prompt,
    then left truncation to max_prompt_tokens. The end of a judge prompt (the response, the rubric and the
    feedback cue) matters most, so the start is what goes."""
    if not getattr(tokenizer, "chat_template", None):
        raise JobConfigError("the model's tokenizer has no chat_template; generate needs one to render messages")
    for request in requests:
        text = tokenizer.apply_chat_template(request.messages, tokenize=False, add_generation_prompt=True)
        # The template already writes any BOS token itself; adding special tokens again would double it.
        ids = tokenizer.encode(text, add_special_tokens=False)
        if len(ids) > max_prompt_tokens:
            ids, request.truncated = ids[-max_prompt_tokens:], True
        request.prompt_ids = ids
