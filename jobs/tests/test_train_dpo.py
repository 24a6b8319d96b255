"""train_dpo.py on the tiny judge: a new, loadable model folder, per-step metrics, LoRA merged, errors."""
from __future__ import annotations

import json
import math

import pytest
import torch
from conftest import read_jsonl, run_job_subprocess, sm_env, write_jsonl

import train_dpo
from judgeloop_jobs.progress import parse_progress_line
from judgeloop_jobs.sm_contract import JobConfigError

CONTRACT_KEYS = {"step", "loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies"}


def load_state(folder):
    from transformers import AutoModelForCausalLM
    return {k: v.clone() for k, v in AutoModelForCausalLM.from_pretrained(folder).state_dict().items()}


def run_train(monkeypatch, tmp_path, tiny_judge, pairs_dir, *args):
    model_dir, data_dir = sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=pairs_dir)
    assert train_dpo.main(list(args)) == 0
    return model_dir, data_dir


def assert_full_model_folder(model_dir, tiny_judge):
    from transformers import AutoTokenizer
    names = {p.name for p in model_dir.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= names
    assert not any(n.startswith("checkpoint") or n.startswith("adapter_") for n in names), names
    tok = AutoTokenizer.from_pretrained(model_dir)
    assert tok.chat_template == AutoTokenizer.from_pretrained(tiny_judge).chat_template
    before, after = load_state(tiny_judge), load_state(model_dir)
    assert before.keys() == after.keys()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed, "training must change the weights"
    return changed


def test_full_fine_tuning(monkeypatch, tmp_path, tiny_judge, pairs_dir, capsys):
    model_dir, data_dir = run_train(monkeypatch, tmp_path, tiny_judge, pairs_dir, "--learning_rate", "3e-3",
                                    "--batch_size", "4", "--epochs", "3", "--beta", "0.1", "--seed", "5")
    assert_full_model_folder(model_dir, tiny_judge)

    metrics = read_jsonl(data_dir / "metrics.jsonl")
    assert len(metrics) == 9  # ceil(10 / 4) steps per epoch, 3 epochs, logged every step
    assert [m["step"] for m in metrics] == list(range(1, 10))
    for row in metrics:
        assert CONTRACT_KEYS <= row.keys()
        assert all(math.isfinite(row[k]) for k in CONTRACT_KEYS)
    # Chosen and rejected differ only in the score token: DPO must learn to separate them.
    assert metrics[-1]["rewards/margins"] > 0
    assert metrics[-1]["rewards/accuracies"] > 0.5

    summary = json.loads((data_dir / "train_summary.json").read_text())
    assert summary["steps"] == 9 and summary["pairs"] == 10 and summary["pairs_trained"] == 10
    assert summary["final_loss"] == metrics[-1]["loss"]
    assert summary["final_reward_accuracy"] == metrics[-1]["rewards/accuracies"]
    assert summary["final_reward_margin"] == metrics[-1]["rewards/margins"]
    assert summary["seconds"] > 0 and summary["device"] == "cpu" and summary["dtype"] == "float32"
    assert summary["forced_tokens_masked"] == 1.0  # every judgment ends in marker, score, EOS

    progress = [parse_progress_line(l) for l in capsys.readouterr().out.splitlines() if parse_progress_line(l)]
    assert [p["done"] for p in progress] == list(range(1, 10))
    assert {p["total"] for p in progress} == {9} and {p["unit"] for p in progress} == {"steps"}


def test_the_trained_judge_prefers_the_chosen_judgment(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    """The point of DPO: log p(chosen) - log p(rejected) rises relative to the starting model."""
    from transformers import AutoModelForCausalLM, AutoTokenizer
    model_dir, _ = run_train(monkeypatch, tmp_path, tiny_judge, pairs_dir, "--learning_rate", "3e-3",
                             "--batch_size", "5", "--epochs", "4")
    tok = AutoTokenizer.from_pretrained(tiny_judge)
    pairs = read_jsonl(next(pairs_dir.glob("*.jsonl")))

    def margin(folder):
        model = AutoModelForCausalLM.from_pretrained(folder).eval()
        total = 0.0
        for pair in pairs:
            prompt = tok.apply_chat_template(pair["prompt"], tokenize=False, add_generation_prompt=True)
            scores = []
            for answer in (pair["chosen"], pair["rejected"]):
                ids = tok.encode(prompt + answer + tok.eos_token, add_special_tokens=False)
                n_prompt = len(tok.encode(prompt, add_special_tokens=False))
                with torch.no_grad():
                    logits = model(torch.tensor([ids])).logits[0, :-1]
                logp = torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None]).squeeze(1)
                scores.append(float(logp[n_prompt - 1:].sum()))
            total += scores[0] - scores[1]
        return total / len(pairs)

    assert margin(model_dir) > margin(tiny_judge) + 0.5


@pytest.mark.parametrize("lora", [False, True])
def test_a_pairs_shared_prompt_runs_once_and_trains_the_same_model(monkeypatch, tmp_path, tiny_judge, pairs_dir, lora):
    """share_pair_prefixes (judgeloop_jobs/pair_prefix.py): fewer backbone tokens, the same metrics and weights
    as TRL's own forward up to float rounding; with LoRA too, where the reference is the adapter-free model."""
    args = ["--learning_rate", "3e-3", "--batch_size", "4", "--epochs", "2", "--seed", "5", "--rpo_alpha", "1.0"]
    if lora:
        args += ["--lora", "true", "--lora_r", "4", "--lora_alpha", "8"]
    runs = {}
    for share in ("true", "false"):
        model_dir, data_dir = run_train(monkeypatch, tmp_path / share, tiny_judge, pairs_dir, *args,
                                        "--share_pair_prefixes", share)
        runs[share] = (load_state(model_dir), read_jsonl(data_dir / "metrics.jsonl"),
                       json.loads((data_dir / "train_summary.json").read_text()))
    (shared_state, shared_metrics, shared_summary), (plain_state, plain_metrics, plain_summary) = runs["true"], runs["false"]
    # The prompt is most of each row: each pair's two rows run it once.
    assert 0.5 < shared_summary["backbone_token_fraction"] < 0.7
    assert plain_summary["backbone_token_fraction"] is None
    assert len(shared_metrics) == len(plain_metrics) == 6
    for ours, theirs in zip(shared_metrics, plain_metrics):
        for key in ("loss", "rewards/chosen", "rewards/rejected", "rewards/margins", "entropy", "mean_token_accuracy"):
            assert ours[key] == pytest.approx(theirs[key], rel=1e-4, abs=1e-5), (ours["step"], key)
    for name, weights in plain_state.items():
        torch.testing.assert_close(shared_state[name], weights, atol=1e-4, rtol=1e-4, msg=name)


def test_lora_is_merged_into_a_full_model(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    model_dir, data_dir = run_train(monkeypatch, tmp_path, tiny_judge, pairs_dir, "--lora", "true",
                                    "--lora_r", "4", "--lora_alpha", "8", "--learning_rate", "5e-3",
                                    "--batch_size", "5", "--epochs", "1")
    changed = assert_full_model_folder(model_dir, tiny_judge)
    # LoRA targets the linear layers only: embeddings and norms keep their starting values.
    assert changed and all("proj" in k for k in changed), changed
    metrics = read_jsonl(data_dir / "metrics.jsonl")
    assert len(metrics) == 2 and all(CONTRACT_KEYS <= m.keys() for m in metrics)
    assert json.loads((data_dir / "train_summary.json").read_text())["config"]["lora"] is True


def test_prompts_longer_than_max_length_lose_their_start(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    model_dir, data_dir = run_train(monkeypatch, tmp_path, tiny_judge, pairs_dir, "--max_length", "48",
                                    "--batch_size", "10", "--learning_rate", "1e-3")
    summary = json.loads((data_dir / "train_summary.json").read_text())
    assert summary["truncated_pairs"] == 10 and summary["pairs_trained"] == 10
    assert summary["steps"] == 1
    metrics = read_jsonl(data_dir / "metrics.jsonl")
    assert metrics[0]["num_tokens"] <= 2 * 10 * 48  # chosen + rejected sequences, each at most max_length


def test_empty_pairs_fail_clearly(tmp_path, tiny_judge):
    empty = tmp_path / "pairs"
    write_jsonl(empty / "pairs-00000.jsonl", [])
    proc, model_dir, _ = run_job_subprocess("train_dpo.py", tmp_path, {"model": tiny_judge, "pairs": empty}, [])
    assert proc.returncode != 0
    assert "holds no preference pair: nothing to train on" in proc.stderr
    assert not (model_dir / "model.safetensors").exists()


def test_bad_pair_rows_fail_by_location(monkeypatch, tmp_path, tiny_judge):
    folder = tmp_path / "pairs"
    write_jsonl(folder / "p.jsonl", [{"example_id": "e", "prompt": "not messages", "chosen": "a", "rejected": "b"}])
    sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=folder)
    with pytest.raises(JobConfigError, match=r"p\.jsonl:1: 'prompt' must be a non-empty list"):
        train_dpo.main([])


def test_runs_as_a_script_with_sm_hps(tmp_path, tiny_judge, pairs_dir):
    proc, model_dir, data_dir = run_job_subprocess(
        "train_dpo.py", tmp_path, {"model": tiny_judge, "pairs": pairs_dir}, [],
        hps={"learning_rate": 1e-3, "batch_size": 10, "epochs": 1, "lora": False, "seed": 1})
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (model_dir / "model.safetensors").exists()
    assert json.loads((data_dir / "train_summary.json").read_text())["steps"] == 1
    assert parse_progress_line(next(l for l in proc.stdout.splitlines() if l.startswith("JUDGELOOP_PROGRESS")))


def test_forced_marker_and_eos_are_left_out_of_the_dpo_loss(tiny_judge):
    """Under the constrained sampler the marker tokens and the final EOS have probability 1: no choice to
    credit. The collator keeps the rationale and the score in the loss and drops exactly those tokens."""
    from transformers import AutoTokenizer
    tok = AutoTokenizer.from_pretrained(tiny_judge)
    collator = train_dpo.forced_token_masking_collator(train_dpo.TrainDpoConfig(), tok)
    enc = lambda text: tok.encode(text, add_special_tokens=False)  # noqa: E731
    marker = enc(" [RESULT] ")
    prompt = enc("<|bos|><|user|>Grade it.<|eos|><|assistant|>")
    chosen = enc("Fine words [RESULT] 4") + [tok.eos_token_id]
    rejected = enc("Other text") + [tok.eos_token_id]  # no marker: not a grammar judgment, left as is
    batch = collator([{"prompt_ids": prompt, "chosen_ids": chosen, "rejected_ids": rejected}])
    mask, ids = batch["completion_mask"], batch["input_ids"]
    kept = ids[0][mask[0].bool()].tolist()
    assert kept == enc("Fine words") + enc(" 4")[-1:], tok.convert_ids_to_tokens(kept)
    assert mask[0].sum() == len(chosen) - len(marker) - 1
    assert mask[1].sum() == len(rejected)  # untouched
    assert collator.masked_sequences == 1 and collator.sequences == 2


def test_forced_token_masking_can_be_turned_off(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    _, data_dir = run_train(monkeypatch, tmp_path, tiny_judge, pairs_dir, "--mask_forced_tokens", "false",
                            "--batch_size", "10", "--learning_rate", "1e-3")
    summary = json.loads((data_dir / "train_summary.json").read_text())
    assert summary["forced_tokens_masked"] is None and summary["config"]["mask_forced_tokens"] is False


def test_rpo_adds_the_chosen_judgments_nll_to_the_loss(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    """rpo_alpha > 0 adds alpha x the mean per-token NLL of the chosen judgment. At the first step the policy
    equals the reference, so the DPO part is log 2 in both runs and the difference is that NLL: several nats
    for a random judge (the rationale's tokens are near-uniform over the vocabulary)."""
    first_loss = {}
    for alpha in ("0", "1"):
        _, data_dir = run_train(monkeypatch, tmp_path / alpha, tiny_judge, pairs_dir, "--rpo_alpha", alpha,
                                "--batch_size", "10", "--learning_rate", "1e-3", "--seed", "2")
        first_loss[alpha] = read_jsonl(data_dir / "metrics.jsonl")[0]["loss"]
        assert json.loads((data_dir / "train_summary.json").read_text())["config"]["rpo_alpha"] == float(alpha)
    assert first_loss["0"] == pytest.approx(math.log(2), abs=1e-3)
    assert first_loss["1"] - first_loss["0"] > 2.0, first_loss


def test_rpo_alpha_is_validated(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=pairs_dir)
    with pytest.raises(JobConfigError, match="rpo_alpha"):
        train_dpo.main(["--rpo_alpha", "-1"])


def sampled_pairs(tokenizer, rows):
    """The pairs of `pairs_dir` as the pipeline writes them after generate.py recorded token ids: the
    completions' ids as a sampler would have produced them (here, encoded by hand, with the EOS)."""
    from judgeloop_jobs.prompts import encode_prompt, prompt_ids_sha256
    out = []
    for row in rows:
        ids = lambda text: tokenizer.encode(text, add_special_tokens=False) + [tokenizer.eos_token_id]  # noqa: E731
        out.append({**row, "chosen_ids": ids(row["chosen"]), "rejected_ids": ids(row["rejected"]),
                    "prompt_ids_sha256": prompt_ids_sha256(encode_prompt(tokenizer, row["prompt"], 0)[0])})
    return out


def test_pairs_with_sampled_ids_train_on_exactly_those_ids(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    from transformers import AutoTokenizer
    from judgeloop_jobs.prompts import encode_prompt
    tok = AutoTokenizer.from_pretrained(tiny_judge)
    rows = sampled_pairs(tok, read_jsonl(pairs_dir / "pairs-00000.jsonl"))
    folder = write_jsonl(tmp_path / "pairs" / "pairs-00000.jsonl", rows).parent
    _, data_dir = run_train(monkeypatch, tmp_path, tiny_judge, folder, "--learning_rate", "3e-3", "--batch_size", "5")
    summary = json.loads((data_dir / "train_summary.json").read_text())
    assert summary["token_ids"] == "sampled" and summary["pairs_trained"] == 10
    assert summary["forced_tokens_masked"] == 1.0

    prepared = train_dpo.pretokenized_pairs(train_dpo.load_pairs(folder), tok, 0)
    for row, got in zip(rows, prepared):
        assert got["prompt_ids"] == encode_prompt(tok, row["prompt"], 0)[0]
        assert got["chosen_ids"] == row["chosen_ids"] and got["rejected_ids"] == row["rejected_ids"]


@pytest.mark.parametrize("change, message", [
    (lambda rows: [{k: v for k, v in rows[0].items() if k != "rejected_ids"}] + rows[1:],
     r"pairs-00000\.jsonl:1: a pair with sampled token ids needs chosen_ids, rejected_ids and prompt_ids_sha256"),
    (lambda rows: [{**rows[0], "chosen_ids": []}] + rows[1:], r"pairs-00000\.jsonl:1: 'chosen_ids' must be a non-empty list"),
    (lambda rows: [{k: v for k, v in rows[0].items() if k not in ("chosen_ids", "rejected_ids", "prompt_ids_sha256")}]
     + rows[1:], r"mixes pairs with sampled token ids \(9\) and pairs without \(1\)"),
])
def test_bad_sampled_ids_fail_by_location(monkeypatch, tmp_path, tiny_judge, pairs_dir, change, message):
    from transformers import AutoTokenizer
    rows = change(sampled_pairs(AutoTokenizer.from_pretrained(tiny_judge), read_jsonl(pairs_dir / "pairs-00000.jsonl")))
    folder = write_jsonl(tmp_path / "pairs" / "pairs-00000.jsonl", rows).parent
    sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=folder)
    with pytest.raises(JobConfigError, match=message):
        train_dpo.main([])


def test_a_prompt_encoded_unlike_the_sampler_is_refused(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    from transformers import AutoTokenizer
    rows = sampled_pairs(AutoTokenizer.from_pretrained(tiny_judge), read_jsonl(pairs_dir / "pairs-00000.jsonl"))
    folder = write_jsonl(tmp_path / "pairs" / "pairs-00000.jsonl", rows).parent
    sm_env(monkeypatch, tmp_path, model=tiny_judge, pairs=folder)
    # The sampler saw whole prompts; a training job told that it truncated them to 16 tokens must not train.
    with pytest.raises(JobConfigError, match=r"pair 1: the prompt's token ids differ .*max_prompt_tokens=16"):
        train_dpo.main(["--max_prompt_tokens", "16"])


def test_token_ids_text_ignores_the_sampled_ids(monkeypatch, tmp_path, tiny_judge, pairs_dir):
    from transformers import AutoTokenizer
    rows = sampled_pairs(AutoTokenizer.from_pretrained(tiny_judge), read_jsonl(pairs_dir / "pairs-00000.jsonl"))
    rows[0]["prompt_ids_sha256"] = "not the prompt's"  # would be refused if the ids were used
    folder = write_jsonl(tmp_path / "pairs" / "pairs-00000.jsonl", rows).parent
    _, data_dir = run_train(monkeypatch, tmp_path, tiny_judge, folder, "--token_ids", "text", "--batch_size", "10")
    assert json.loads((data_dir / "train_summary.json").read_text())["token_ids"] == "retokenized"
