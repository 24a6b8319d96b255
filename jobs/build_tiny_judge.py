"""Builds the tiny judge: a seeded, few-layer Llama with a byte-level BPE tokenizer trained on a corpus.

No machine here can download weights, so CPU tests and the local demo use this model. Everything is derived
from the corpus and the seed: building twice with the same inputs gives byte-identical files.

    python jobs/build_tiny_judge.py --out .judgeloop/models/tiny-judge \
        --corpus datasets/synthetic/train.jsonl --corpus prompts/pointwise-v1.txt

The tokenizer keeps digits as single tokens and `[RESULT]` as one added token, so the judgment grammar
(rationale, ` [RESULT] `, one score digit, EOS) maps onto a handful of tokens.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Iterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # this builder never needs the hub; make sure nothing tries

BOS, EOS, PAD = "<|bos|>", "<|eos|>", "<|pad|>"
ROLE_TOKENS = ["<|system|>", "<|user|>", "<|assistant|>"]
MARKER = "[RESULT]"

# Turns are `<|role|>content<|eos|>`; the generation prompt is `<|assistant|>`. The prompt rendered with
# add_generation_prompt is then an exact token prefix of prompt + assistant answer, which DPO relies on to
# split prompt from completion, and the judge learns to end its answer with EOS, which generation stops on.
CHAT_TEMPLATE = (
    "{{ bos_token }}"
    "{% for message in messages %}"
    "{% if message['role'] not in ['system', 'user', 'assistant'] %}"
    "{{ raise_exception('unsupported chat role: ' + message['role']) }}"
    "{% endif %}"
    "{{ '<|' + message['role'] + '|>' + message['content'] + eos_token }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|assistant|>' }}{% endif %}"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, type=Path, help="output model folder (created or overwritten)")
    p.add_argument("--corpus", required=True, action="append", type=Path,
                   help="tokenizer training text; .jsonl: every string value of every row; else plain text")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--vocab-size", type=int, default=1024)
    p.add_argument("--hidden-size", type=int, default=64)
    p.add_argument("--intermediate-size", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--heads", type=int, default=4)
    p.add_argument("--max-position-embeddings", type=int, default=4096)
    # 0.1 rather than Llama's 0.02: with small weights every attention head averages the whole prompt
    # uniformly, so the hidden state at the score position hardly depends on the response (its spread across
    # inputs is ~4% of its size) and the self-rationalization loop cannot move the tiny judge's scores in two
    # iterations. Sharper random attention at 0.1 spreads it ~5x (jobs/tools/learning_check.py measures it).
    p.add_argument("--initializer-range", type=float, default=0.1,
                   help="standard deviation of the random weights (default: %(default)s)")
    args = p.parse_args(argv)
    for path in args.corpus:
        if not path.is_file():
            p.error(f"--corpus {path}: no such file")
    if args.hidden_size % args.heads:
        p.error(f"--hidden-size {args.hidden_size} must be divisible by --heads {args.heads}")
    if not 300 <= args.vocab_size <= 65536:
        p.error(f"--vocab-size must be between 300 (bytes + specials) and 65536, got {args.vocab_size}")
    return args


def corpus_texts(paths: list[Path]) -> Iterator[str]:
    """The corpus in a fixed order: files as given, rows in file order, keys in row order."""
    for path in paths:
        if path.suffix == ".jsonl":
            with path.open(encoding="utf-8") as handle:
                for lineno, line in enumerate(handle, start=1):
                    if line.strip():
                        try:
                            yield from _strings(json.loads(line))
                        except json.JSONDecodeError as err:
                            raise SystemExit(f"build_tiny_judge: {path}:{lineno}: not valid JSON ({err.msg})")
        else:
            yield path.read_text(encoding="utf-8")


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def build_tokenizer(texts: list[str], vocab_size: int):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Digits are split one by one *before* byte-level splitting, so " 4" is "Ġ" + "4", never a merged "Ġ4":
    # every score is then the same single token wherever it appears.
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, min_frequency=1, show_progress=False,
        special_tokens=[BOS, EOS, PAD, *ROLE_TOKENS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet())  # all 256 bytes: any text stays encodable
    tok.train_from_iterator(texts, trainer=trainer)
    # Not special: it is part of the judgment text and must survive decode(skip_special_tokens=True).
    tok.add_tokens([AddedToken(MARKER, special=False, normalized=False)])

    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token=BOS, eos_token=EOS, pad_token=PAD,
        extra_special_tokens=ROLE_TOKENS, padding_side="left", truncation_side="left",
        clean_up_tokenization_spaces=False, model_max_length=4096)
    fast.chat_template = CHAT_TEMPLATE
    return fast


def build_model(tokenizer, args: argparse.Namespace):
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=args.hidden_size, intermediate_size=args.intermediate_size,
        num_hidden_layers=args.layers, num_attention_heads=args.heads, num_key_value_heads=args.heads,
        max_position_embeddings=args.max_position_embeddings, tie_word_embeddings=True,
        initializer_range=args.initializer_range,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id)
    torch.manual_seed(args.seed)
    model = LlamaForCausalLM(config)
    # No sampling defaults: the generation job decides how to decode.
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    return model


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    texts = list(corpus_texts(args.corpus))
    if not texts:
        raise SystemExit("build_tiny_judge: the corpus is empty")
    tokenizer = build_tokenizer(texts, args.vocab_size)
    model = build_model(tokenizer, args)

    args.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(args.out, safe_serialization=True)
    # save_jinja_files=False keeps the chat template inside tokenizer_config.json, where every loader looks.
    tokenizer.save_pretrained(args.out, save_jinja_files=False)

    params = sum(p.numel() for p in model.parameters())
    digest = hashlib.sha256()
    for f in sorted(args.out.iterdir()):
        if f.is_file():
            digest.update(f.name.encode() + b"\0" + f.read_bytes())
    print(f"tiny judge: {params} parameters, vocab {len(tokenizer)}, hidden {args.hidden_size}, "
          f"layers {args.layers}, seed {args.seed}, sha256 {digest.hexdigest()[:16]} -> {args.out}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
