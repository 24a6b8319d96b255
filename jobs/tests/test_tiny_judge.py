"""The tiny judge builder: deterministic files, a loadable model, and a tokenizer fit for the grammar."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys

import pytest
from conftest import REPO_ROOT, build_judge


def file_hashes(folder):
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


def test_building_twice_gives_byte_identical_files(tmp_path, corpus_files, tiny_judge):
    # A separate process: Python's per-process hash seed must not leak into the tokenizer or weights.
    out = tmp_path / "again"
    cmd = [sys.executable, "jobs/build_tiny_judge.py", "--out", str(out), "--seed", "0"]
    for path in corpus_files:
        cmd += ["--corpus", str(path)]
    proc = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONHASHSEED": "123", "HF_HUB_OFFLINE": "1"})
    assert proc.returncode == 0, proc.stderr
    assert "parameters, vocab" in proc.stdout  # the one-line summary
    expected = file_hashes(tiny_judge)
    assert set(expected) >= {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"}
    assert file_hashes(out) == expected


def test_another_seed_gives_other_weights(tmp_path, corpus_files, tiny_judge):
    other = tmp_path / "seed1"
    import build_tiny_judge
    args = ["--out", str(other), "--seed", "1"] + sum((["--corpus", str(p)] for p in corpus_files), [])
    assert build_tiny_judge.main(args) == 0
    hashes, base = file_hashes(other), file_hashes(tiny_judge)
    assert hashes["model.safetensors"] != base["model.safetensors"]
    assert hashes["tokenizer.json"] == base["tokenizer.json"]  # the tokenizer depends on the corpus only


def test_model_and_tokenizer_load_from_the_folder(tiny_judge):
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_judge)
    model = AutoModelForCausalLM.from_pretrained(tiny_judge)
    assert model.config.model_type == "llama"
    assert model.config.max_position_embeddings >= 4096
    assert model.config.num_hidden_layers == 2 and model.config.num_attention_heads == 4
    assert 300 <= len(tok) <= 2100
    assert model.get_input_embeddings().weight.shape[0] == len(tok)
    assert {tok.bos_token, tok.eos_token, tok.pad_token} == {"<|bos|>", "<|eos|>", "<|pad|>"}


def test_marker_and_digits_are_single_tokens(tiny_judge):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_judge)
    ids = tok.encode("fine [RESULT] 4", add_special_tokens=False)
    pieces = tok.convert_ids_to_tokens(ids)
    assert "[RESULT]" in pieces and pieces[-1] == "4"
    for digit in "0123456789":
        assert len(tok.encode(digit, add_special_tokens=False)) == 1
        assert tok.convert_ids_to_tokens(tok.encode(" " + digit, add_special_tokens=False))[-1] == digit
    # "[RESULT]" is ordinary text: decoding with skip_special_tokens keeps it.
    assert tok.decode(ids, skip_special_tokens=True) == "fine [RESULT] 4"


def test_chat_template_generation_prompt_is_a_prefix_of_the_answered_chat(tiny_judge):
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_judge)
    messages = [{"role": "system", "content": "Be fair."}, {"role": "user", "content": "Grade this."}]
    prompt = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    full = tok.apply_chat_template(messages + [{"role": "assistant", "content": "ok [RESULT] 3"}], tokenize=False)
    assert prompt == "<|bos|><|system|>Be fair.<|eos|><|user|>Grade this.<|eos|><|assistant|>"
    assert full == prompt + "ok [RESULT] 3<|eos|>"
    assert tok.encode(full, add_special_tokens=False)[: len(tok.encode(prompt, add_special_tokens=False))] == \
        tok.encode(prompt, add_special_tokens=False)
    # The template lives in tokenizer_config.json, where every loader looks for it.
    assert "chat_template" in (tiny_judge / "tokenizer_config.json").read_text()


def test_missing_corpus_file_is_a_clear_error(tmp_path):
    proc = subprocess.run([sys.executable, "jobs/build_tiny_judge.py", "--out", str(tmp_path / "x"),
                           "--corpus", str(tmp_path / "missing.jsonl")], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode != 0
    assert "missing.jsonl: no such file" in proc.stderr


@pytest.mark.parametrize("flag,value", [("--hidden-size", "66"), ("--vocab-size", "100")])
def test_bad_sizes_are_rejected(tmp_path, corpus_files, flag, value):
    with pytest.raises(SystemExit):
        build_judge(tmp_path / "bad", corpus_files, flag, value)
