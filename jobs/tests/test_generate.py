"""generate.py on the tiny judge: N parseable judgments per request, greedy and seeded behaviour, errors."""
from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from conftest import read_jsonl, run_job_subprocess, sm_env, write_jsonl

import generate
from judgeloop_jobs.progress import parse_progress_line
from judgeloop_jobs.sm_contract import JobConfigError

JUDGMENT = re.compile(r"^(.*)\s*\[RESULT\]\s*([1-5])$", re.S)


def run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, *args):
    model_dir, data_dir = sm_env(monkeypatch, tmp_path, model=tiny_judge, requests=requests_dir)
    assert generate.main(list(args)) == 0
    summary = json.loads((data_dir / "generation_summary.json").read_text())
    return read_jsonl(model_dir / "judgments.jsonl"), summary


def by_request(rows):
    grouped = defaultdict(list)
    for row in rows:
        grouped[row["request_id"]].append(row)
    return grouped


def test_n_parseable_judgments_per_request_at_temperature_one(monkeypatch, tmp_path, tiny_judge, requests_dir,
                                                             capsys):
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "4",
                                 "--temperature", "1.0", "--max_rationale_tokens", "12", "--batch_size", "6")
    requests = read_jsonl(requests_dir / "part-0.jsonl") + read_jsonl(requests_dir / "part-1.jsonl")
    grouped = by_request(rows)
    assert list(grouped) == [r["request_id"] for r in requests]  # input order is kept
    for request in requests:
        samples = grouped[request["request_id"]]
        assert [s["sample_index"] for s in samples] == [0, 1, 2, 3]
        for sample in samples:
            assert JUDGMENT.match(sample["text"]), sample["text"]
            # Request fields are copied untouched, messages are not.
            assert "messages" not in sample
            assert (sample["example_id"], sample["gold_score"], sample["suite"], sample["prompt_hash"]) == \
                (request["example_id"], request["gold_score"], request["suite"], request["prompt_hash"])
            assert sample["seed"] == 0
            assert 4 <= sample["num_tokens"] <= 12 + 3 + 2  # rationale + " [RESULT] " + score + EOS
            assert sample["logprob"] < 0
    # A random model at T=1 does not say the same thing N times.
    assert len({s["text"] for s in rows}) > len(requests)
    assert summary["backend"] == "transformers"
    assert summary["judgments"] == len(rows) == 20 and summary["requests"] == 5
    assert summary["generated_tokens"] == sum(r["num_tokens"] for r in rows)
    assert summary["tokens_per_second"] > 0 and summary["truncated_prompts"] == 0
    progress = [parse_progress_line(l) for l in capsys.readouterr().out.splitlines() if parse_progress_line(l)]
    assert len(progress) == 4  # 20 sequences in batches of 6
    assert progress[-1] == {"done": 20, "total": 20, "unit": "judgments"}
    assert [p["done"] for p in progress] == sorted(p["done"] for p in progress)


def test_greedy_gives_identical_samples(monkeypatch, tmp_path, tiny_judge, requests_dir):
    rows, _ = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "3",
                           "--temperature", "0", "--max_rationale_tokens", "10")
    grouped = by_request(rows)
    assert len(grouped) == 5
    for samples in grouped.values():
        assert len(samples) == 3
        assert len({(s["text"], s["logprob"]) for s in samples}) == 1
        assert JUDGMENT.match(samples[0]["text"])


def test_greedy_does_not_depend_on_the_seed(monkeypatch, tmp_path, tiny_judge, requests_dir):
    a, _ = run_generate(monkeypatch, tmp_path / "a", tiny_judge, requests_dir, "--temperature", "0",
                        "--num_samples", "1", "--seed", "1", "--max_rationale_tokens", "6")
    b, _ = run_generate(monkeypatch, tmp_path / "b", tiny_judge, requests_dir, "--temperature", "0",
                        "--num_samples", "1", "--seed", "2", "--max_rationale_tokens", "6")
    assert [r["text"] for r in a] == [r["text"] for r in b]


def test_seeded_sampling_is_reproducible_and_the_seed_matters(monkeypatch, tmp_path, tiny_judge, requests_dir):
    args = ["--num_samples", "3", "--max_rationale_tokens", "8"]
    a, _ = run_generate(monkeypatch, tmp_path / "a", tiny_judge, requests_dir, *args, "--seed", "11")
    b, _ = run_generate(monkeypatch, tmp_path / "b", tiny_judge, requests_dir, *args, "--seed", "11")
    c, _ = run_generate(monkeypatch, tmp_path / "c", tiny_judge, requests_dir, *args, "--seed", "12")
    assert a == b
    assert [r["text"] for r in a] != [r["text"] for r in c]
    assert {r["seed"] for r in c} == {12}


def test_long_prompts_are_truncated_from_the_left(monkeypatch, tmp_path, tiny_judge, requests_dir):
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "2",
                                 "--max_prompt_tokens", "24", "--max_rationale_tokens", "4")
    assert summary["truncated_prompts"] == 5
    assert summary["prompt_tokens"] == 5 * 24
    assert all(JUDGMENT.match(r["text"]) for r in rows)


def test_zero_to_nine_scale(monkeypatch, tmp_path, tiny_judge, requests_dir):
    rows, _ = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "4",
                           "--score_min", "0", "--score_max", "9", "--max_rationale_tokens", "3")
    scores = [int(re.search(r"\[RESULT\] (\d)$", r["text"]).group(1)) for r in rows]
    assert all(0 <= s <= 9 for s in scores)


@pytest.mark.parametrize("row,fragment", [
    ({"request_id": "x", "example_id": "e", "prompt_hash": "h", "messages": []}, "'messages' must be a non-empty"),
    ({"request_id": "x", "example_id": "e", "prompt_hash": "h",
      "messages": [{"role": "assistant", "content": "hi"}]}, "messages[0] must be"),
    ({"example_id": "e", "prompt_hash": "h", "messages": [{"role": "user", "content": "hi"}]},
     "request field 'request_id'"),
])
def test_bad_requests_fail_by_location(monkeypatch, tmp_path, tiny_judge, row, fragment):
    folder = tmp_path / "requests"
    write_jsonl(folder / "bad.jsonl", [row])
    sm_env(monkeypatch, tmp_path, model=tiny_judge, requests=folder)
    with pytest.raises(JobConfigError) as err:
        generate.main([])
    assert "bad.jsonl:1" in str(err.value) and fragment in str(err.value)


def test_runs_as_a_script_from_the_repo_root(tmp_path, tiny_judge, requests_dir):
    proc, model_dir, data_dir = run_job_subprocess(
        "generate.py", tmp_path, {"model": tiny_judge, "requests": requests_dir},
        ["--num_samples", "2", "--max_rationale_tokens", "5"], hps={"num_samples": 7, "backend": "auto"})
    assert proc.returncode == 0, proc.stderr
    rows = read_jsonl(model_dir / "judgments.jsonl")
    assert len(rows) == 10  # the command line (2) won over SM_HPS (7)
    assert any(parse_progress_line(l) for l in proc.stdout.splitlines())
    assert json.loads((data_dir / "generation_summary.json").read_text())["backend"] == "transformers"


def test_bad_hyperparameter_exits_non_zero_with_its_name(tmp_path, tiny_judge, requests_dir):
    proc, _, _ = run_job_subprocess("generate.py", tmp_path, {"model": tiny_judge, "requests": requests_dir},
                                    ["--temperature", "-1"])
    assert proc.returncode == 2
    assert "hyperparameter 'temperature' must be between 0 (greedy) and 10, got -1.0" in proc.stderr
