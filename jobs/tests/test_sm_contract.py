"""The SageMaker script-mode contract: hyperparameters from SM_HPS and the command line, channels, progress."""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from typing import Literal

import pytest

from judgeloop_jobs.progress import parse_progress_line, report_progress
from judgeloop_jobs.sm_contract import JobConfigError, parse_hyperparameters, read_job_paths, require


@dataclass
class Demo:
    num_samples: int = 8
    temperature: float = 1.0
    lora: bool = False
    marker: str = "[RESULT]"
    backend: Literal["auto", "transformers", "vllm"] = "auto"

    def validate(self) -> None:
        require(self.num_samples >= 1, "num_samples", "must be >= 1", self.num_samples)


def parse(argv=(), hps=None):
    env = {} if hps is None else {"SM_HPS": json.dumps(hps) if not isinstance(hps, str) else hps}
    return parse_hyperparameters(Demo, list(argv), env)


def test_defaults_when_nothing_is_given():
    assert parse() == Demo()


def test_sm_hps_and_cli_are_json_decoded_and_cli_wins():
    cfg = parse(["--num_samples", "4", "--lora", "true", "--temperature", "0"],
                hps={"num_samples": 16, "temperature": 0.7, "backend": "transformers"})
    assert cfg == Demo(num_samples=4, temperature=0.0, lora=True, backend="transformers")
    assert isinstance(cfg.temperature, float)


def test_sagemaker_style_string_values_in_sm_hps_are_decoded():
    # CreateTrainingJob hyperparameters are strings; some toolkits pass them through undecoded.
    cfg = parse(hps={"num_samples": "3", "lora": "True", "marker": '"[SCORE]"'})
    assert (cfg.num_samples, cfg.lora, cfg.marker) == (3, True, "[SCORE]")


def test_marker_text_that_is_not_json_stays_as_typed():
    assert parse(["--marker", "[RESULT]"]).marker == "[RESULT]"
    assert parse(["--marker=[1]"]).marker == "[1]"  # JSON-decodes to a list, but the field is text


def test_dashes_and_equals_forms():
    assert parse(["--num-samples=5"]).num_samples == 5


def test_sagemaker_reserved_hyperparameters_are_ignored():
    assert parse(hps={"sagemaker_program": "generate.py", "sagemaker_region": "eu-west-1"}) == Demo()


def test_sagemaker_reserved_arguments_on_the_command_line_are_ignored():
    assert parse(["--sagemaker_program", "generate.py", "--num_samples", "2", "--sagemaker_region=eu-west-1"]) == \
        Demo(num_samples=2)


def test_json_encoded_choice_and_bare_bool_flag():
    # SageMaker may pass a choice JSON-encoded; HfArgumentParser's `--flag` alone sets a bool field.
    assert parse(["--backend", '"vllm"', "--lora"]) == Demo(backend="vllm", lora=True)


def test_config_file_values_sit_between_sm_hps_and_the_command_line(tmp_path):
    config = tmp_path / "hps.yaml"
    config.write_text("num_samples: 3\ntemperature: 0.5\nmarker: '[SCORE]'\n", encoding="utf-8")
    cfg = parse(["--config", str(config), "--temperature", "0.25"], hps={"num_samples": 9, "lora": True})
    assert cfg == Demo(num_samples=3, temperature=0.25, lora=True, marker="[SCORE]")
    assert parse([f"--config={config}"]) == Demo(num_samples=3, temperature=0.5, marker="[SCORE]")


@pytest.mark.parametrize("text,fragment", [
    ("num_samples: true\n", "'num_samples' (from --config {path}) must be an integer, got True"),
    ("backend: tgi\n", "'backend' (from --config {path}) must be one of 'auto', 'transformers', 'vllm'"),
    ("num_sample: 3\n", "unknown hyperparameter 'num_sample' (from --config {path})"),
    ("- 1\n", "--config {path}: Config file {path} must contain a YAML mapping"),
    ("a: [\n", "--config {path}: while parsing"),
])
def test_bad_config_files_fail_with_the_file_named(tmp_path, text, fragment):
    config = tmp_path / "hps.yaml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(JobConfigError) as err:
        parse(["--config", str(config)])
    assert fragment.format(path=config) in str(err.value)


def test_a_missing_config_file_is_named(tmp_path):
    with pytest.raises(JobConfigError, match=r"--config .*nope\.yaml: .*No such file"):
        parse(["--config", str(tmp_path / "nope.yaml")])
    with pytest.raises(JobConfigError, match="--config has no value"):
        parse(["--config"])


@pytest.mark.parametrize("argv,hps,fragment", [
    (["--num_samples", "many"], None, "'num_samples' (from --num_samples) must be an integer"),
    (["--num_samples", "2.5"], None, "'num_samples' (from --num_samples) must be an integer"),
    (["--lora", "yes"], None, "'lora' (from --lora) must be true or false"),
    ([], {"temperature": "hot"}, "'temperature' (from SM_HPS) must be a number"),
    ([], {"num_samples": True}, "'num_samples' (from SM_HPS) must be an integer"),
    (["--backend", "tgi"], None, "'backend' (from --backend) must be one of 'auto', 'transformers', 'vllm'"),
    (["--num_samples", "0"], None, "'num_samples' must be >= 1, got 0"),
    (["--num_sample", "3"], None, "unknown hyperparameter 'num_sample' (from --num_sample)"),
    (["--num_samples"], None, "--num_samples has no value"),
    (["--num_samples", "4"], {"num_samples": "many"}, "'num_samples' (from SM_HPS) must be an integer"),
    ([], {"num_sample": 3}, "unknown hyperparameter 'num_sample' (from SM_HPS)"),
    (["stray"], None, "unexpected command-line argument 'stray'"),
    ([], "{not json", "SM_HPS is not valid JSON"),
    ([], "[1, 2]", "SM_HPS must be a JSON object"),
])
def test_bad_values_fail_with_the_hyperparameter_named(argv, hps, fragment):
    with pytest.raises(JobConfigError) as err:
        parse(argv, hps)
    assert fragment in str(err.value)


def test_job_paths_read_channels_and_create_outputs(tmp_path):
    (tmp_path / "m").mkdir()
    env = {"SM_CHANNEL_MODEL": str(tmp_path / "m"), "SM_MODEL_DIR": str(tmp_path / "o" / "model"),
           "SM_OUTPUT_DATA_DIR": str(tmp_path / "o" / "data")}
    paths = read_job_paths(["model"], env)
    assert paths.channel("model") == tmp_path / "m"
    assert paths.model_dir.is_dir() and paths.output_data_dir.is_dir()


def test_job_paths_name_the_missing_channel_or_output(tmp_path):
    with pytest.raises(JobConfigError, match="SM_CHANNEL_PAIRS is not set"):
        read_job_paths(["pairs"], {"SM_MODEL_DIR": str(tmp_path), "SM_OUTPUT_DATA_DIR": str(tmp_path)})
    with pytest.raises(JobConfigError, match="is not a folder"):
        read_job_paths(["pairs"], {"SM_CHANNEL_PAIRS": str(tmp_path / "nope"), "SM_MODEL_DIR": str(tmp_path),
                                   "SM_OUTPUT_DATA_DIR": str(tmp_path)})
    with pytest.raises(JobConfigError, match="SM_MODEL_DIR is not set"):
        read_job_paths([], {"SM_OUTPUT_DATA_DIR": str(tmp_path)})


def test_progress_lines_are_one_json_line_each():
    out = io.StringIO()
    report_progress(3, 10, "steps", stream=out, loss=float("nan"))
    report_progress(10, 10, "steps", stream=out, loss=0.25)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("JUDGELOOP_PROGRESS {")
    assert parse_progress_line(lines[0]) == {"done": 3, "total": 10, "unit": "steps", "loss": None}
    assert parse_progress_line(lines[1]) == {"done": 10, "total": 10, "unit": "steps", "loss": 0.25}
    assert parse_progress_line("some other log line") is None
