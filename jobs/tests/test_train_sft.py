"""train_sft.py (the SFT control) on the tiny judge: trains on the chosen judgments only, once each."""
from __future__ import annotations

import json

import pytest
import torch
from conftest import make_examples, messages_for, read_jsonl, run_job_subprocess, sm_env, write_jsonl

import train_sft
from judgeloop_jobs.sm_contract import JobConfigError


@pytest.fixture(scope="module")
def pairs_dir(tmp_path_factory):
    """Two pairs per input sharing their chosen judgment, as gold_margin's spread selection produces."""
    folder = tmp_path_factory.mktemp("pairs")
    rows = []
    for ex in make_examples(6, seed=4):
        gold = ex["gold_score"]
        for wrong in ((1, 2) if gold >= 4 else (5, 4)):
            rows.append({"example_id": ex["id"], "prompt": messages_for(ex),
                         "chosen": f"The verdict word sets it. [RESULT] {gold}",
                         "rejected": f"Something else. [RESULT] {wrong}",
                         "chosen_score": gold, "rejected_score": wrong, "strategy": "gold_margin"})
    write_jsonl(folder / "pairs-00000.jsonl", rows)
    return folder


def chosen_logprob(model_dir, tokenizer_dir, pairs_dir) -> float:
    from transformers import AutoModelForCausalLM, AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    total = 0.0
    for pair in read_jsonl(next(pairs_dir.glob("*.jsonl"))):
        prompt = tok.apply_chat_template(pair["prompt"], tokenize=False, add_generation_prompt=True)
        ids = tok.encode(prompt + pair["chosen"] + tok.eos_token, add_special_tokens=False)
        n_prompt = len(tok.encode(prompt, add_special_tokens=False))
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, :-1]
        logp = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None]).squeeze(1)
        total += float(logp[n_prompt - 1:].sum())
    return total


def test_sft_trains_on_each_chosen_judgment_once_and_raises_its_likelihood(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    model_dir, data_dir = sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=pairs_dir)
    assert train_sft.main(["--learning_rate", "3e-3", "--batch_size", "3", "--epochs", "3", "--seed", "1"]) == 0
    summary = json.loads((data_dir / "train_summary.json").read_text())
    assert summary["method"] == "sft" and summary["pairs"] == 12
    assert summary["examples"] == 6, "a chosen judgment shared by two pairs is trained on once"
    assert summary["steps"] == 6  # ceil(6 / 3) steps per epoch, 3 epochs
    metrics = read_jsonl(data_dir / "metrics.jsonl")
    assert [m["step"] for m in metrics] == list(range(1, 7)) and all("loss" in m for m in metrics)
    assert metrics[-1]["loss"] < metrics[0]["loss"]
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in model_dir.iterdir()}
    assert chosen_logprob(model_dir, tiny_judge, pairs_dir) > chosen_logprob(tiny_judge, tiny_judge, pairs_dir) + 5


def test_sft_as_a_script_and_bad_hyperparameters(tmp_path, tiny_judge, pairs_dir):
    proc, model_dir, _ = run_job_subprocess("train_sft.py", tmp_path, {"model": tiny_judge, "pairs": pairs_dir}, [],
                                            hps={"learning_rate": 1e-3, "batch_size": 6, "epochs": 1})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (model_dir / "model.safetensors").exists()
    bad = run_job_subprocess("train_sft.py", tmp_path / "bad", {"model": tiny_judge, "pairs": pairs_dir},
                             ["--learning_rate", "2"])[0]
    assert bad.returncode == 2 and "learning_rate" in bad.stderr


def test_sft_config_is_validated():
    with pytest.raises(JobConfigError, match="batch_size"):
        train_sft.TrainSftConfig(batch_size=0).validate()
