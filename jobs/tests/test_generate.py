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


# ---- decoding modes: "free" (the model's own text) and "forced" (the grammar), and marker_source ----

import math  # noqa: E402
import shutil  # noqa: E402

from judgeloop_jobs import decoding, grammar  # noqa: E402


def all_requests(requests_dir):
    return read_jsonl(requests_dir / "part-0.jsonl") + read_jsonl(requests_dir / "part-1.jsonl")


def check_summary_counts(rows, summary):
    counts = summary["marker_source"]
    assert set(counts) == {"model", "forced", "absent", "prefix"}
    assert sum(counts.values()) == summary["judgments"] == len(rows)
    for source, n in counts.items():
        assert n == sum(r["marker_source"] == source for r in rows), (source, counts)


def scripted(processor_cls, plan_fn):
    """A test-only subclass of a logits processor: before the processor sees the model's logits, +100 on the
    token plan_fn(step) (step = tokens generated so far), i.e. a model that badly wants to write that text."""
    class Scripted(processor_cls):
        def __call__(self, input_ids, scores):
            if getattr(self, "_start", None) is None:
                self._start = input_ids.shape[1]
            token = plan_fn(input_ids.shape[1] - self._start)
            if token is not None:
                scores = scores.clone()
                scores[:, token] += 100.0
            return super().__call__(input_ids, scores)
    return Scripted


@pytest.fixture(scope="module")
def tok(tiny_judge):
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(tiny_judge)


def test_free_mode_writes_what_the_model_writes(monkeypatch, tmp_path, tiny_judge, requests_dir):
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--decoding", "free",
                                 "--num_samples", "3", "--temperature", "1.0", "--max_new_tokens", "20",
                                 "--batch_size", "4")
    grouped = by_request(rows)
    assert list(grouped) == [r["request_id"] for r in all_requests(requests_dir)]
    for samples in grouped.values():
        assert [s["sample_index"] for s in samples] == [0, 1, 2]
    for row in rows:
        assert row["marker_source"] in ("model", "absent")
        assert (row["marker_source"] == "model") == ("[RESULT]" in row["text"]), row
        assert math.isfinite(row["logprob"]) and row["logprob"] <= 0
        assert 1 <= row["num_tokens"] <= 20
        for special in ("<|eos|>", "<|pad|>", "<|assistant|>", "<|user|>", "<|system|>", "<|bos|>"):
            assert special not in row["text"]  # special tokens may be sampled, and are skipped in the text
    # A random model does not write the grammar's format: far from every text would parse.
    assert sum(bool(JUDGMENT.match(r["text"])) for r in rows) < len(rows)
    check_summary_counts(rows, summary)
    assert summary["decoding"] == "free" and summary["config"]["decoding"] == "free"
    assert summary["marker_source"]["forced"] == summary["marker_source"]["prefix"] == 0
    # A row that did not stop at a stop token used the whole budget.
    assert summary["stopped_by_budget"] <= sum(r["num_tokens"] == 20 for r in rows)
    assert summary["constrained_requests"] == 0
    assert summary["free"] == {"max_new_tokens": 20, "stop_tokens": ["<|eos|>"]}
    assert summary["generated_tokens"] == sum(r["num_tokens"] for r in rows)


def test_free_mode_stops_at_eos_and_keeps_the_models_own_marker(monkeypatch, tmp_path, tiny_judge, requests_dir,
                                                                 tok):
    word = tok.encode("good", add_special_tokens=False)[0]
    marker_ids = tok.encode(" [RESULT] 4", add_special_tokens=False)
    assistant = tok.convert_tokens_to_ids("<|assistant|>")
    plan = [word, assistant, *marker_ids, tok.eos_token_id]  # a special token mid-text: allowed, not shown
    monkeypatch.setattr(decoding, "FreeLogitsProcessor",
                        scripted(decoding.FreeLogitsProcessor, lambda step: plan[min(step, len(plan) - 1)]))
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--decoding", "free",
                                 "--num_samples", "2", "--max_new_tokens", "30")
    for row in rows:
        assert row["text"] == tok.decode([word]) + " [RESULT] 4"
        assert row["marker_source"] == "model"
        assert row["num_tokens"] == len(plan)  # stopped at EOS (counted), long before the budget
        assert -1e-2 < row["logprob"] <= 0  # each token was the (biased) model's near-certain choice
    assert summary["stopped_by_budget"] == 0 and summary["marker_source"]["model"] == 10
    check_summary_counts(rows, summary)


def test_free_mode_stops_at_the_budget_without_a_marker(monkeypatch, tmp_path, tiny_judge, requests_dir, tok):
    word = tok.encode("good", add_special_tokens=False)[0]
    monkeypatch.setattr(decoding, "FreeLogitsProcessor", scripted(decoding.FreeLogitsProcessor, lambda step: word))
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--decoding", "free",
                                 "--num_samples", "3", "--max_rationale_tokens", "5")
    budget = 5 + decoding.FREE_BUDGET_SLACK  # max_new_tokens 0: the default
    for row in rows:
        assert row["text"] == tok.decode([word] * budget) and row["marker_source"] == "absent"
        assert row["num_tokens"] == budget
    assert summary["stopped_by_budget"] == 15 and summary["marker_source"]["absent"] == 15
    assert summary["free"]["max_new_tokens"] == budget
    check_summary_counts(rows, summary)


def test_free_mode_stops_at_every_eos_id_of_the_generation_config(monkeypatch, tmp_path, tiny_judge, requests_dir,
                                                                  tok):
    """Instruct models list their end-of-turn token in generation_config.eos_token_id (a list)."""
    model = tmp_path / "judge"
    shutil.copytree(tiny_judge, model)
    end_of_turn = tok.convert_tokens_to_ids("<|user|>")  # stands in for e.g. Llama 3's <|eot_id|>
    config = json.loads((model / "generation_config.json").read_text())
    config["eos_token_id"] = [tok.eos_token_id, end_of_turn]
    (model / "generation_config.json").write_text(json.dumps(config))
    word = tok.encode("good", add_special_tokens=False)[0]
    plan = [word, word, end_of_turn]
    monkeypatch.setattr(decoding, "FreeLogitsProcessor",
                        scripted(decoding.FreeLogitsProcessor, lambda step: plan[min(step, len(plan) - 1)]))
    rows, summary = run_generate(monkeypatch, tmp_path, model, requests_dir, "--decoding", "free",
                                 "--num_samples", "1", "--max_new_tokens", "12")
    assert {r["text"] for r in rows} == {tok.decode([word, word])} and {r["num_tokens"] for r in rows} == {3}
    assert {r["marker_source"] for r in rows} == {"absent"} and summary["stopped_by_budget"] == 0
    assert summary["free"]["stop_tokens"] == ["<|eos|>", "<|user|>"]


def test_free_greedy_gives_identical_samples(monkeypatch, tmp_path, tiny_judge, requests_dir):
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--decoding", "free",
                                 "--num_samples", "3", "--temperature", "0", "--max_new_tokens", "8")
    for samples in by_request(rows).values():
        assert len({(s["text"], s["logprob"], s["marker_source"], s["num_tokens"]) for s in samples}) == 1
    check_summary_counts(rows, summary)


def test_forced_mode_marks_a_marker_the_model_wrote_itself(monkeypatch, tmp_path, tiny_judge, requests_dir, tok):
    word = tok.encode("good", add_special_tokens=False)[0]

    def plan(step):  # one word, then the grammar's own marker tokens and "4": a model that learnt the format
        tokens = [word, *tok.encode(" [RESULT] 4", add_special_tokens=False)]
        return tokens[min(step, len(tokens) - 1)]

    monkeypatch.setattr(grammar, "JudgmentLogitsProcessor", scripted(grammar.JudgmentLogitsProcessor, plan))
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "2",
                                 "--max_rationale_tokens", "10")
    assert {r["text"] for r in rows} == {tok.decode([word]) + " [RESULT] 4"}
    assert {r["marker_source"] for r in rows} == {"model"} and summary["marker_source"]["model"] == 10
    assert summary["decoding"] == "forced" and summary["stopped_by_budget"] == 0


def test_forced_mode_marks_a_marker_written_at_the_budget(monkeypatch, tmp_path, tiny_judge, requests_dir, tok):
    word = tok.encode("good", add_special_tokens=False)[0]
    monkeypatch.setattr(grammar, "JudgmentLogitsProcessor",
                        scripted(grammar.JudgmentLogitsProcessor, lambda step: word if step < 4 else None))
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "2",
                                 "--max_rationale_tokens", "4")
    for row in rows:
        assert row["text"].startswith(tok.decode([word] * 4) + " [RESULT] ") and JUDGMENT.match(row["text"])
        assert row["marker_source"] == "forced"
    assert summary["marker_source"]["forced"] == 10
    check_summary_counts(rows, summary)


def test_forced_mode_rows_record_model_or_forced(monkeypatch, tmp_path, tiny_judge, requests_dir):
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--num_samples", "4",
                                 "--max_rationale_tokens", "3")
    assert {r["marker_source"] for r in rows} <= {"model", "forced"}
    assert all(JUDGMENT.match(r["text"]) for r in rows)
    check_summary_counts(rows, summary)
    assert summary["constrained_requests"] == 5 and "free" not in summary


@pytest.mark.parametrize("mode", ["forced", "free"])
def test_prefixes_in_both_modes(monkeypatch, tmp_path, tiny_judge, requests_dir, mode):
    """A prefix ending with the marker is a re-score in both modes: only the score, under the grammar
    ("prefix"); a rationale already begun is continued the mode's way."""
    prefixes = ["The verdict is positive. [RESULT] ", "The verdict", None, "Fine.\n[RESULT]", "Awful"]
    folder, requests = prefixed_requests(tmp_path / "req", requests_dir, prefixes)
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, folder, "--decoding", mode,
                                 "--num_samples", "3", "--max_rationale_tokens", "6", "--max_new_tokens", "9",
                                 "--batch_size", "4")
    grouped = by_request(rows)
    for request in requests:
        prefix = request.get("assistant_prefix")
        for sample in grouped[request["request_id"]]:
            if prefix is not None and prefix.rstrip().endswith("[RESULT]"):
                rationale = prefix.rstrip()[: -len("[RESULT]")].rstrip()
                assert re.fullmatch(re.escape(rationale) + r" \[RESULT\] [1-5]", sample["text"]), sample["text"]
                assert sample["marker_source"] == "prefix" and sample["num_tokens"] == 2
                continue
            assert sample["text"].startswith(prefix or "")
            if mode == "forced":
                assert sample["marker_source"] in ("model", "forced") and JUDGMENT.match(sample["text"])
            else:
                assert sample["marker_source"] == ("model" if "[RESULT]" in sample["text"] else "absent")
                assert sample["num_tokens"] <= 9
    assert summary["marker_source"]["prefix"] == 6
    assert summary["constrained_requests"] == (5 if mode == "forced" else 2)
    check_summary_counts(rows, summary)


def test_choices_stay_under_the_grammar_in_free_mode(monkeypatch, tmp_path, tiny_judge, requests_dir):
    rows, summary = run_generate(monkeypatch, tmp_path, tiny_judge, requests_dir, "--decoding", "free",
                                 "--num_samples", "3", "--max_rationale_tokens", "4", "--choices", "A,B")
    for row in rows:
        assert re.fullmatch(r"(.*\S)\s*\[RESULT\] ([AB])", row["text"], re.S), row["text"]
        assert row["marker_source"] in ("model", "forced")
    assert summary["constrained_requests"] == 5 and summary["stopped_by_budget"] == 0
    check_summary_counts(rows, summary)


def test_bad_decoding_values_name_the_hyperparameter(monkeypatch, tmp_path, tiny_judge, requests_dir):
    proc, _, _ = run_job_subprocess("generate.py", tmp_path, {"model": tiny_judge, "requests": requests_dir},
                                    ["--decoding", "sampled"])
    assert proc.returncode == 2
    assert "hyperparameter 'decoding' (from --decoding) must be one of 'forced', 'free', got 'sampled'" in proc.stderr
    sm_env(monkeypatch, tmp_path, model=tiny_judge, requests=requests_dir)
    with pytest.raises(JobConfigError, match="hyperparameter 'max_new_tokens' must be >= 0"):
        generate.main(["--decoding", "free", "--max_new_tokens", "-1"])


@pytest.mark.parametrize("mode", ["forced", "free"])
def test_the_checkpoints_sampling_defaults_do_not_apply(monkeypatch, tmp_path, tiny_judge, requests_dir, mode):
    """A checkpoint's generation_config may carry repetition_penalty and the like (Qwen2.5-Instruct: 1.05);
    the judgments are the model's own distribution all the same."""
    model = tmp_path / "judge"
    shutil.copytree(tiny_judge, model)
    config = json.loads((model / "generation_config.json").read_text())
    config.update(repetition_penalty=50.0, no_repeat_ngram_size=1)
    (model / "generation_config.json").write_text(json.dumps(config))
    args = ["--decoding", mode, "--num_samples", "1", "--temperature", "0", "--max_rationale_tokens", "8"]
    plain, _ = run_generate(monkeypatch, tmp_path / "a", tiny_judge, requests_dir, *args)
    shipped, _ = run_generate(monkeypatch, tmp_path / "b", model, requests_dir, *args)
    assert [(r["text"], r["logprob"]) for r in shipped] == [(r["text"], r["logprob"]) for r in plain]


@pytest.mark.parametrize("keys, expected", [
    ([], None),
    ([7], None),
    ([1, 2, 3], None),
    ([0, 0, 1, 1, 1], ([0, 2], [0, 0, 1, 1, 1])),
    ([5, 6, 5], ([0, 1], [0, 1, 0])),
    (["a", "a"], ([0], [0, 0])),
])
def test_prompt_groups(keys, expected):
    from judgeloop_jobs.shared_prefill import prompt_groups
    assert prompt_groups(keys) == expected


@pytest.mark.parametrize("mode", ["forced", "free"])
def test_one_prefill_per_prompt_decodes_what_one_per_row_decodes(monkeypatch, tmp_path, tiny_judge, requests_dir,
                                                                 mode):
    """The N samples of a request share one prefill of its prompt; the judgments are those that N prefills
    give (same seed), with prefixes, and with a request's samples split across two batches."""
    import judgeloop_jobs.shared_prefill as shared_prefill

    prefixes = ["The verdict is positive. [RESULT] ", "The verdict", None, None, "Awful"]
    folder, _ = prefixed_requests(tmp_path / "req", requests_dir, prefixes)
    args = ["--decoding", mode, "--num_samples", "3", "--max_rationale_tokens", "6", "--max_new_tokens", "9",
            "--batch_size", "4", "--seed", "5"]
    shared, shared_summary = run_generate(monkeypatch, tmp_path / "shared", tiny_judge, folder, *args)
    with monkeypatch.context() as patch:
        patch.setattr(shared_prefill, "shared_prompt_cache", lambda *a, **k: None)
        plain, plain_summary = run_generate(monkeypatch, tmp_path / "plain", tiny_judge, folder, *args)
    assert shared_summary["decoded_rows"] == plain_summary["decoded_rows"] == plain_summary["prefilled_rows"] == 15
    # 15 rows in 4 batches of up to 4: each batch runs each of its requests' prompts once.
    assert shared_summary["prefilled_rows"] < 10
    exact = ("request_id", "sample_index", "text", "num_tokens", "marker_source", "completion_ids")
    assert [{k: r.get(k) for k in exact} for r in shared] == [{k: r.get(k) for k in exact} for r in plain]
    for a, b in zip(shared, plain):
        assert a["logprob"] == pytest.approx(b["logprob"], abs=1e-4)
