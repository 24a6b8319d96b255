"""SageMaker script-mode contract, shared by every job (docs/CONTRACTS.md, "Jobs").

A job reads:
- `SM_CHANNEL_<NAME>`: one local folder per input channel (upper-case name);
- `SM_MODEL_DIR`: the primary output folder; `SM_OUTPUT_DATA_DIR`: metrics and small summaries;
- hyperparameters: `SM_HPS` (a JSON object) and/or `--key value` command-line pairs whose values are
  JSON-encoded strings, as SageMaker passes them. Command-line values win;
- training jobs only: a checkpoint folder (`resolve_checkpoint_dir`): `SM_CHECKPOINT_DIR` (our convention
  for local runs), else the `checkpoint_dir` hyperparameter, else SageMaker's `/opt/ml/checkpoints` where it
  exists (managed spot syncs it with S3 and restores it after an interruption), else none.

Each job declares its hyperparameters as one typed dataclass (TRL-script style); `parse_hyperparameters`
fills it and every error names the hyperparameter and where its value came from, so a bad config fails in
seconds with a message the pipeline can show, not deep inside torch.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, TypeVar

T = TypeVar("T")

# SageMaker's training toolkit adds its own entries (sagemaker_program, sagemaker_region, ...) to the
# hyperparameters it hands a script; they are not ours to validate.
_SAGEMAKER_RESERVED_PREFIX = "sagemaker_"


class JobConfigError(ValueError):
    """A bad hyperparameter, channel or environment variable. The message names the culprit."""


@dataclass(frozen=True)
class JobPaths:
    """Where a job reads its inputs and writes its outputs."""

    channels: dict[str, Path]
    model_dir: Path
    output_data_dir: Path

    def channel(self, name: str) -> Path:
        try:
            return self.channels[name]
        except KeyError:
            raise JobConfigError(f"channel '{name}' was not provided (set SM_CHANNEL_{name.upper()})") from None


def read_job_paths(required_channels: Sequence[str], environ: Mapping[str, str] | None = None) -> JobPaths:
    """Reads SM_CHANNEL_*, SM_MODEL_DIR and SM_OUTPUT_DATA_DIR; creates the output folders.

    Every required channel must be an existing folder: a missing download should fail here, by name,
    rather than as a confusing 'no files found' later.
    """
    env = os.environ if environ is None else environ
    channels: dict[str, Path] = {}
    for key, value in env.items():
        if key.startswith("SM_CHANNEL_") and len(key) > len("SM_CHANNEL_"):
            channels[key[len("SM_CHANNEL_"):].lower()] = Path(value)
    for name in required_channels:
        var = f"SM_CHANNEL_{name.upper()}"
        if name not in channels:
            raise JobConfigError(f"{var} is not set: this job needs the '{name}' input channel")
        if not channels[name].is_dir():
            raise JobConfigError(f"{var}={channels[name]} is not a folder")
    outputs = {}
    for var in ("SM_MODEL_DIR", "SM_OUTPUT_DATA_DIR"):
        value = env.get(var)
        if not value:
            raise JobConfigError(f"{var} is not set: this job needs to know where to write its outputs")
        outputs[var] = Path(value)
        outputs[var].mkdir(parents=True, exist_ok=True)
    return JobPaths(channels=channels, model_dir=outputs["SM_MODEL_DIR"],
                    output_data_dir=outputs["SM_OUTPUT_DATA_DIR"])


# CheckpointConfig.LocalPath's default: SageMaker creates it (and fills it from S3 on a restarted spot job)
# when the training job has a CheckpointConfig.
SAGEMAKER_CHECKPOINT_DIR = Path("/opt/ml/checkpoints")


def resolve_checkpoint_dir(hyperparameter: str, environ: Mapping[str, str] | None = None,
                           sagemaker_dir: Path = SAGEMAKER_CHECKPOINT_DIR) -> Path | None:
    """The folder a training job checkpoints to and resumes from, or None (no checkpoints).

    In order: `SM_CHECKPOINT_DIR` (set by the local runner), the `checkpoint_dir` hyperparameter (its value is
    `hyperparameter`, "" when unset), `sagemaker_dir` when it exists (a SageMaker job with a CheckpointConfig).
    The first two are created when missing; a path that exists and is not a folder is an error naming it.
    """
    env = os.environ if environ is None else environ
    for value, source in ((env.get("SM_CHECKPOINT_DIR", ""), "SM_CHECKPOINT_DIR"),
                          (hyperparameter, "hyperparameter 'checkpoint_dir'")):
        if not value.strip():
            continue
        folder = Path(value)
        if folder.exists() and not folder.is_dir():
            raise JobConfigError(f"{source}={value} exists and is not a folder")
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as err:
            raise JobConfigError(f"{source}={value} cannot be created ({err.strerror})") from None
        return folder
    return sagemaker_dir if sagemaker_dir.is_dir() else None


def parse_hyperparameters(config_cls: type[T], argv: Sequence[str] | None = None,
                          environ: Mapping[str, str] | None = None) -> T:
    """Builds `config_cls` from SM_HPS and `--key value` arguments (command line wins), then validates it.

    `config_cls` is a dataclass whose fields are typed `int`, `float`, `bool`, `str` or `Literal[...]`; a
    `validate()` method, when present, checks ranges and cross-field rules.
    """
    env = os.environ if environ is None else environ
    raw: dict[str, tuple[Any, str]] = {}  # name -> (value, where it came from)

    hps_text = env.get("SM_HPS", "").strip()
    if hps_text:
        try:
            hps = json.loads(hps_text)
        except json.JSONDecodeError as err:
            raise JobConfigError(f"SM_HPS is not valid JSON ({err.msg} at position {err.pos})") from None
        if not isinstance(hps, dict):
            raise JobConfigError(f"SM_HPS must be a JSON object, got {type(hps).__name__}")
        for key, value in hps.items():
            raw[_normalise_key(key)] = (value, "SM_HPS")

    for key, text in _split_cli(list(argv) if argv is not None else []):
        raw[_normalise_key(key)] = (text, f"--{key}")

    hints = typing.get_type_hints(config_cls)
    fields = {f.name: f for f in dataclasses.fields(config_cls)}
    values: dict[str, Any] = {}
    for name, (value, source) in raw.items():
        if name.startswith(_SAGEMAKER_RESERVED_PREFIX):
            continue
        if name not in fields:
            known = ", ".join(sorted(fields))
            raise JobConfigError(f"unknown hyperparameter '{name}' (from {source}); known: {known}")
        values[name] = _coerce(name, value, hints[name], source)

    config = config_cls(**values)
    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()
    return config


def _normalise_key(key: str) -> str:
    # `--num-samples` and `--num_samples` both name the field num_samples.
    return key.strip().replace("-", "_")


def _split_cli(argv: list[str]) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    i = 0
    while i < len(argv):
        token = argv[i]
        if not token.startswith("--") or token == "--":
            raise JobConfigError(f"unexpected command-line argument {token!r}: expected --key value pairs")
        if "=" in token:
            key, text = token[2:].split("=", 1)
            i += 1
        else:
            if i + 1 >= len(argv):
                raise JobConfigError(f"command-line argument {token} has no value")
            key, text = token[2:], argv[i + 1]
            i += 2
        if not key:
            raise JobConfigError(f"command-line argument {token!r} has an empty name")
        pairs.append((key, text))
    return pairs


def _coerce(name: str, value: Any, hint: Any, source: str) -> Any:
    """Turns a raw value (a JSON-decoded SM_HPS value or a command-line string) into the field's type."""
    def bad(expected: str) -> JobConfigError:
        return JobConfigError(f"hyperparameter '{name}' (from {source}) must be {expected}, got {value!r}")

    # SageMaker passes every value as a JSON-encoded string; decode it unless the field wants the raw text.
    decoded = value
    if isinstance(value, str):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            decoded = value

    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        candidate = decoded if isinstance(decoded, str) else value
        if candidate not in choices:
            raise bad("one of " + ", ".join(repr(c) for c in choices))
        return candidate
    if hint is str:
        # "[RESULT]" is not JSON and stays as typed; '"[RESULT]"' (JSON-encoded) decodes to the same text.
        return decoded if isinstance(decoded, str) else str(value)
    if hint is bool:
        if isinstance(decoded, bool):
            return decoded
        if isinstance(decoded, str) and decoded.lower() in ("true", "false"):
            return decoded.lower() == "true"  # Python's str(True) is "True": accept it
        raise bad("true or false")
    if hint is int:
        if isinstance(decoded, bool):
            raise bad("an integer")
        if isinstance(decoded, int):
            return decoded
        if isinstance(decoded, float) and decoded.is_integer():
            return int(decoded)
        raise bad("an integer")
    if hint is float:
        if isinstance(decoded, bool) or not isinstance(decoded, (int, float)):
            raise bad("a number")
        if not math.isfinite(decoded):
            raise bad("a finite number")
        return float(decoded)
    raise TypeError(f"unsupported hyperparameter type {hint!r} for '{name}'")  # a bug in a config class


def require(condition: bool, name: str, message: str, value: Any) -> None:
    """Range check helper for `validate()` methods: `require(n > 0, 'num_samples', 'must be >= 1', n)`."""
    if not condition:
        raise JobConfigError(f"hyperparameter '{name}' {message}, got {value!r}")


def config_as_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)
