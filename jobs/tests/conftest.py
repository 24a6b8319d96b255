"""Shared fixtures: a small synthetic corpus, the tiny judge built from it once per session, job runners."""
from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

JOBS_DIR = Path(__file__).resolve().parents[1]
REPO_ROOT = JOBS_DIR.parent
sys.path.insert(0, str(JOBS_DIR))  # the jobs import `judgeloop_jobs` from their own folder
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

# A stand-in for datasets/synthetic (same row format), so the tests do not depend on files other
# engineers own: the gold score is the level of the one verdict word in the response.
LEVEL_WORDS = {1: ["awful", "terrible"], 2: ["poor", "weak"], 3: ["okay", "decent"], 4: ["good", "solid"],
               5: ["superb", "excellent"]}
ITEMS = ["mug", "lamp", "kettle", "backpack", "chair", "towel"]
FILLER = ["It arrived in a small box.", "The colour is as pictured.", "I paid by card.",
          "Shipping took three days.", "It is lighter than expected."]
RUBRIC = {"criteria": "How favourable is the reviewer's overall verdict on the product?",
          "score1": "The verdict is very negative.", "score2": "The verdict is somewhat negative.",
          "score3": "The verdict is neutral.", "score4": "The verdict is positive.",
          "score5": "The verdict is enthusiastic."}
TEMPLATE = ("=== system ===\nYou are a fair, strict judge.\n=== user ===\n### Instruction\n{{instruction}}\n"
            "### Response\n{{response}}\n### Rubric\n{{rubric}}\n### Feedback\n")


def make_examples(n: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        level = 1 + i % 5
        item = rng.choice(ITEMS)
        sentences = rng.sample(FILLER, 2)
        sentences.insert(rng.randint(0, 2), f"Overall the {item} is {rng.choice(LEVEL_WORDS[level])}.")
        rows.append({"id": f"t-{seed}-{i:04d}", "instruction": f"Write a short review of the {item} you bought.",
                     "response": " ".join(sentences), "rubric": RUBRIC, "gold_score": level,
                     "meta": {"level": level}})
    return rows


def messages_for(example: dict) -> list[dict]:
    rubric = example["rubric"]["criteria"] + "\n" + "\n".join(
        f"Score {k}: {example['rubric'][f'score{k}']}" for k in range(1, 6))
    user = (f"### Instruction\n{example['instruction']}\n### Response\n{example['response']}\n"
            f"### Rubric\n{rubric}\n### Feedback")
    return [{"role": "system", "content": "You are a fair, strict judge."}, {"role": "user", "content": user}]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def corpus_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("corpus")
    train = write_jsonl(folder / "train.jsonl", make_examples(120, seed=1))
    template = folder / "pointwise-test.txt"
    template.write_text(TEMPLATE, encoding="utf-8")
    return [train, template]


def build_judge(out: Path, corpus: list[Path], *extra: str) -> Path:
    import build_tiny_judge
    args = ["--out", str(out), "--seed", "0"]
    for path in corpus:
        args += ["--corpus", str(path)]
    assert build_tiny_judge.main(args + list(extra)) == 0
    return out


@pytest.fixture(scope="session")
def tiny_judge(tmp_path_factory, corpus_files) -> Path:
    return build_judge(tmp_path_factory.mktemp("tiny-judge"), corpus_files)


@pytest.fixture(scope="session")
def requests_dir(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("requests")
    rows = [{"request_id": f"r{i}", "example_id": ex["id"], "prompt_hash": "sha256:test",
             "messages": messages_for(ex), "gold_score": ex["gold_score"], "suite": "unit"}
            for i, ex in enumerate(make_examples(5, seed=7))]
    write_jsonl(folder / "part-0.jsonl", rows[:3])
    write_jsonl(folder / "part-1.jsonl", rows[3:])
    return folder


def sm_env(monkeypatch, tmp_path: Path, **channels: Path) -> tuple[Path, Path]:
    """Sets the SageMaker variables for an in-process job run; returns (model_dir, output_data_dir)."""
    for key in list(os.environ):
        if key.startswith("SM_"):
            monkeypatch.delenv(key)
    for name, folder in channels.items():
        monkeypatch.setenv(f"SM_CHANNEL_{name.upper()}", str(folder))
    model_dir, data_dir = tmp_path / "out" / "model", tmp_path / "out" / "data"
    monkeypatch.setenv("SM_MODEL_DIR", str(model_dir))
    monkeypatch.setenv("SM_OUTPUT_DATA_DIR", str(data_dir))
    return model_dir, data_dir


def run_job_subprocess(script: str, tmp_path: Path, channels: dict[str, Path], args: list[str],
                       hps: dict | None = None) -> tuple[subprocess.CompletedProcess, Path, Path]:
    """Runs `python jobs/<script>` from the repo root, exactly as the local job runner does."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SM_")}
    for name, folder in channels.items():
        env[f"SM_CHANNEL_{name.upper()}"] = str(folder)
    model_dir, data_dir = tmp_path / "sub" / "model", tmp_path / "sub" / "data"
    env.update(SM_MODEL_DIR=str(model_dir), SM_OUTPUT_DATA_DIR=str(data_dir), HF_HUB_OFFLINE="1")
    if hps is not None:
        env["SM_HPS"] = json.dumps(hps)
    proc = subprocess.run([sys.executable, f"jobs/{script}", *args], cwd=REPO_ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    return proc, model_dir, data_dir


@pytest.fixture(scope="session")
def pairs_dir(tmp_path_factory):
    """Pairs in the pipeline's format: chosen scores the gold level, rejected is two or more away."""
    folder = tmp_path_factory.mktemp("pairs")
    rows = []
    for ex in make_examples(10, seed=3):
        gold = ex["gold_score"]
        wrong = 1 if gold >= 3 else 5
        rows.append({"example_id": ex["id"], "prompt": messages_for(ex),
                     "chosen": f"The verdict word sets it. [RESULT] {gold}",
                     "rejected": f"The verdict word sets it. [RESULT] {wrong}",
                     "chosen_score": gold, "rejected_score": wrong, "strategy": "gold_margin"})
    write_jsonl(folder / "pairs-00000.jsonl", rows)
    return folder
