"""train_sft.py (the SFT control and the warm start) on the tiny judge: trains on the chosen judgments only, once
each, and on SFT examples (`prompt`, `completion`) given directly."""
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


# --- SFT examples given directly (the warm start's reference judgments) -------------------------------------


def sft_rows(n: int, seed: int) -> list[dict]:
    return [{"example_id": ex["id"], "prompt": messages_for(ex),
             "completion": f"The verdict word sets the level. [RESULT] {ex['gold_score']}"}
            for ex in make_examples(n, seed=seed)]


def test_sft_examples_alone_train_and_write_the_model(monkeypatch, tmp_path, tiny_judge):
    folder = tmp_path / "examples"
    rows = sft_rows(4, seed=5)
    write_jsonl(folder / "examples.jsonl", rows + rows[:1])  # one repeated: trained on once
    model_dir, data_dir = sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=folder)
    assert train_sft.main(["--learning_rate", "3e-3", "--batch_size", "2", "--epochs", "2", "--seed", "1"]) == 0
    summary = json.loads((data_dir / "train_summary.json").read_text())
    assert (summary["pairs"], summary["sft_examples"], summary["examples"]) == (0, 5, 4)
    assert summary["steps"] == 4  # ceil(4 / 2) per epoch, 2 epochs
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {p.name for p in model_dir.iterdir()}


def test_a_channel_may_mix_pairs_and_sft_examples_deduplicated_alike(tmp_path, pairs_dir):
    pairs = read_jsonl(next(pairs_dir.glob("*.jsonl")))
    examples = sft_rows(3, seed=6)
    # The same judgment as an SFT example and as a pair's chosen side counts once.
    same_as_chosen = {"prompt": pairs[0]["prompt"], "completion": pairs[0]["chosen"]}
    folder = tmp_path / "mixed"
    write_jsonl(folder / "a.jsonl", [pairs[0], examples[0], pairs[1], same_as_chosen])
    write_jsonl(folder / "b.jsonl", examples[1:] + pairs[2:4])
    loaded = train_sft.load_training_rows(folder)
    assert (loaded.pairs, loaded.sft_examples) == (4, 4)
    distinct = train_sft.distinct_examples(loaded.examples)
    # pairs 0 and 1 share their chosen judgment (as do 2 and 3); same_as_chosen repeats it.
    assert [e["completion"][0]["content"] for e in distinct] == [
        pairs[0]["chosen"], examples[0]["completion"], examples[1]["completion"], examples[2]["completion"],
        pairs[2]["chosen"]]
    assert all(e["completion"][0]["role"] == "assistant" and e["prompt"][-1]["role"] == "user" for e in distinct)
    # Pairs alone give what the SFT control always trained on.
    from train_dpo import load_pairs
    assert train_sft.distinct_examples(train_sft.load_training_rows(pairs_dir).examples) == \
        train_sft.chosen_examples(load_pairs(pairs_dir))


@pytest.mark.parametrize("row, message", [
    ({"prompt": [{"role": "user", "content": "q"}], "answer": "x"},
     r"bad\.jsonl:2: neither a preference pair \('prompt', 'chosen', 'rejected'\) nor an SFT example "
     r"\('prompt', 'completion'\); its keys: answer, prompt"),
    ({"prompt": [{"role": "user", "content": "q"}], "completion": "ok [RESULT] 3", "chosen": "a", "rejected": "b"},
     r"bad\.jsonl:2: has both 'completion' \(an SFT example\) and 'chosen'/'rejected'"),
    ({"prompt": [{"role": "user", "content": "q"}], "completion": " "},
     r"bad\.jsonl:2: 'completion' must be a non-empty string"),
    ({"prompt": [{"role": "user", "content": "q"}], "completion": 3},
     r"bad\.jsonl:2: 'completion' must be a non-empty string"),
    ({"prompt": "q", "completion": "ok [RESULT] 3"},
     r"bad\.jsonl:2: 'prompt' must be a non-empty list of \{'role': str, 'content': str\}"),
    ({"prompt": [{"role": "user", "content": "q"}], "chosen": "a"},
     r"bad\.jsonl:2: 'rejected' must be a non-empty string"),
])
def test_a_row_of_neither_shape_is_refused_by_file_and_line(tmp_path, row, message):
    folder = tmp_path / "bad-rows"
    good = {"prompt": [{"role": "user", "content": "q"}], "completion": "fine [RESULT] 4"}
    write_jsonl(folder / "bad.jsonl", [good, row])
    with pytest.raises(JobConfigError, match=message):
        train_sft.load_training_rows(folder)


def test_an_empty_channel_and_a_bad_row_as_a_script(tmp_path, tiny_judge):
    empty = tmp_path / "empty"
    write_jsonl(empty / "none.jsonl", [])
    with pytest.raises(JobConfigError, match="holds no preference pair or SFT example"):
        train_sft.load_training_rows(empty)
    bad = tmp_path / "bad"
    write_jsonl(bad / "rows.jsonl", [{"prompt": [{"role": "user", "content": "q"}], "text": "x"}])
    proc = run_job_subprocess("train_sft.py", tmp_path / "run", {"model": tiny_judge, "pairs": bad}, [])[0]
    assert proc.returncode == 2
    assert "train_sft: error: rows.jsonl:1: neither a preference pair" in proc.stderr
