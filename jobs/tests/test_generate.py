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


# ---- assistant prefixes (the consistency re-score) and choices (a pairwise verdict) ----

def prefixed_requests(folder, requests_dir, prefixes):
    rows = read_jsonl(requests_dir / "part-0.jsonl") + read_jsonl(requests_dir / "part-1.jsonl")
    out = []
    for row, prefix in zip(rows, prefixes):
        out.append({**row, **({"assistant_prefix": prefix} if prefix is not None else {})})
    write_jsonl(folder / "requests.jsonl", out)
    return folder, out


def test_a_prefix_ending_with_the_marker_yields_prefix_plus_score(monkeypatch, tmp_path, tiny_judge, requests_dir):
    prefixes = ["The verdict is positive. [RESULT] ", "Awful, says the review. [RESULT] ", "The verdict",
                None, "Overall neutral.\n[RESULT]"]
    folder, requests = prefixed_requests(tmp_path / "req", requests_dir, prefixes)
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, folder, "--num_samples", "3",
                                 "--temperature", "1.0", "--max_rationale_tokens", "8", "--batch_size", "4")
    assert summary["prefixed_requests"] == 4 and summary["judgments"] == 15
    grouped = by_request(rows)
    for request in requests:
        prefix = request.get("assistant_prefix")
        for sample in grouped[request["request_id"]]:
            text = sample["text"]
            assert JUDGMENT.match(text), text
            assert sample.get("assistant_prefix") == prefix  # request fields are copied, the prefix too
            if prefix is None:
                continue
            if prefix.rstrip().endswith("[RESULT]"):
                rationale = prefix.rstrip()[: -len("[RESULT]")].rstrip()
                assert re.fullmatch(re.escape(rationale) + r" \[RESULT\] [1-5]", text), text
                assert sample["num_tokens"] == 2  # the score and EOS
            else:
                assert text.startswith(prefix) and len(text) > len(prefix)
    # prefix + score, exactly, for a prefix in the canonical form `<rationale> [RESULT] `
    first = grouped[requests[0]["request_id"]]
    assert all(s["text"][:-1] == prefixes[0] for s in first)


def test_greedy_rescore_of_greedy_judgments_mostly_agrees(monkeypatch, tmp_path, tiny_judge, requests_dir):
    """Re-scoring a greedy judgment's own rationale greedily reads the same context, so it gives the same
    score unless the rationale's text re-tokenizes differently; the consistency filter relies on this."""
    args = ["--num_samples", "1", "--temperature", "0", "--max_rationale_tokens", "10", "--batch_size", "1"]
    first, _ = run_generate(monkeypatch, tmp_path / "a", tiny_judge, requests_dir, *args)
    prefixes = [JUDGMENT.match(r["text"]).group(1).strip() + " [RESULT] " for r in first]
    folder, _ = prefixed_requests(tmp_path / "req", requests_dir, prefixes)
    second, _ = run_generate(monkeypatch, tmp_path / "b", tiny_judge, folder, *args)
    assert [r["text"][:-1] for r in second] == prefixes
    agree = sum(a["text"][-1] == b["text"][-1] for a, b in zip(first, second))
    assert agree >= 4, [(a["text"], b["text"]) for a, b in zip(first, second)]


@pytest.mark.parametrize("choices", ['["A","B"]', "A,B"])
def test_choices_a_b_yield_a_pairwise_verdict(monkeypatch, tmp_path, tiny_judge, requests_dir, choices):
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "4",
                                 "--max_rationale_tokens", "6", "--choices", choices)
    verdicts = set()
    for row in rows:
        match = re.fullmatch(r"(.*\S)\s*\[RESULT\] ([AB])", row["text"], re.S)
        assert match, row["text"]
        verdicts.add(match.group(2))
    assert verdicts == {"A", "B"}
    assert summary["grammar"]["score_tokens"] == ["A", "B"] and summary["config"]["choices"] == choices


def test_choices_and_prefixes_are_validated(monkeypatch, tmp_path, tiny_judge, requests_dir):
    for choices, fragment in [('["A"]', "at least two"), ("A,A", "distinct"), ('["A", 1]', "array of strings"),
                              ("[A,B", "not a valid JSON array")]:
        sm_env(monkeypatch, tmp_path, model=tiny_judge, requests=requests_dir)
        with pytest.raises(JobConfigError, match=re.escape(fragment)) as err:
            generate.main(["--choices", choices])
        assert "hyperparameter 'choices'" in str(err.value)
    for prefix, fragment in [("[RESULT] ", "no rationale before the marker"), ("x [RESULT] 3 y", "only at its end"),
                             (3, "'assistant_prefix' must be a string")]:
        folder = tmp_path / f"bad-{fragment[:5]}"
        write_jsonl(folder / "bad.jsonl", [{"request_id": "x", "example_id": "e", "prompt_hash": "h",
                                            "messages": [{"role": "user", "content": "hi"}],
                                            "assistant_prefix": prefix}])
        sm_env(monkeypatch, tmp_path, model=tiny_judge, requests=folder)
        with pytest.raises(JobConfigError, match=re.escape(fragment)) as err:
            generate.main([])
        assert "bad.jsonl:1" in str(err.value)


def test_the_vllm_backend_is_not_used_for_choices_or_prefixes(monkeypatch):
    monkeypatch.setattr(generate.importlib.util, "find_spec", lambda name: object())  # pretend vLLM is here
    assert generate.choose_backend("auto") == "vllm"
    assert generate.choose_backend("auto", needs_transformers="hyperparameter 'choices'") == "transformers"
    with pytest.raises(JobConfigError, match="need the transformers backend"):
        generate.choose_backend("vllm", needs_transformers="requests with an assistant_prefix")
