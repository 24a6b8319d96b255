"""SageMaker script-mode contract, shared by every job (docs/CONTRACTS.md, "Jobs").

A job reads:
- `SM_CHANNEL_<NAME>`: one local folder per input channel (upper-case name);
- `SM_MODEL_DIR`: the primary output folder; `SM_OUTPUT_DATA_DIR`: metrics and small summaries;
- hyperparameters: `SM_HPS` (a JSON object) and/or `--key value` command-line pairs whose values may be
  JSON-encoded strings, as SageMaker passes them, and/or `--config file.yaml` (TrlParser's). Command-line
  values win, then the file's, then SM_HPS's;
- training jobs only: a checkpoint folder (`resolve_checkpoint_dir`): `SM_CHECKPOINT_DIR` (our convention
  for local runs), else the `checkpoint_dir` hyperparameter, else SageMaker's `/opt/ml/checkpoints` where it
  exists (managed spot syncs it with S3 and restores it after an interruption), else none.

Each job declares its hyperparameters as one typed dataclass (TRL-script style); `parse_hyperparameters`
fills it with TRL's TrlParser (HfArgumentParser underneath, see HyperparameterParser) and every error names
the hyperparameter and where its value came from, so a bad config fails in seconds with a message the
pipeline can show, not deep inside torch.

The dataclasses, not TRL's DPOConfig/SFTConfig, are the jobs' public interface: their names are what the
TypeScript side sends (`epochs`, `batch_size`, a DPO `max_length` that is our left-truncation budget, not
TRL's), and the job itself fixes most trainer arguments (a log row per step, where checkpoints go), so
exposing TRL's ~200 fields would let a stray hyperparameter break the job's contract. The translation to
TRL's names is in one place, training.common_trainer_args.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import typing
from argparse import ArgumentError
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Mapping, Sequence, TypeVar

from trl import TrlParser

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
    """Builds `config_cls` from SM_HPS, a `--config` YAML file and `--key value` arguments, then validates it.

    `config_cls` is a dataclass whose fields are typed `int`, `float`, `bool`, `str` or `Literal[...]`; a
    `validate()` method, when present, checks ranges and cross-field rules. Precedence: the command line, then
    the --config file, then SM_HPS, then the field's default.
    """
    import yaml  # TrlParser reads the --config file with it (PyYAML, a requirement of TRL)

    env = os.environ if environ is None else environ
    # TrlParser looks for `--config PATH` as two arguments; `--config=PATH` is the same.
    args = [part for arg in (argv or []) for part in
            (["--config", arg[len("--config="):]] if arg.startswith("--config=") else [arg])]
    parser = HyperparameterParser(config_cls)
    parser.set_sm_hps(env.get("SM_HPS", ""))
    if "--config" in args:
        position = args.index("--config")
        if position + 1 >= len(args):
            raise JobConfigError("command-line argument --config has no value (a YAML file of hyperparameters)")
        parser.config_source = f"--config {args[position + 1]}"
    try:
        config, rest = parser.parse_args_and_config(args, return_remaining_strings=True)
    except JobConfigError:
        raise
    except _Rejected as rejected:
        raise rejected.error from None
    except ArgumentError as err:
        flag = (err.argument_name or "").split("/")[0]
        detail = " has no value" if err.message == "expected one argument" else f": {err.message}"
        raise JobConfigError(f"command-line argument {flag}{detail}") from None
    except (OSError, ValueError, yaml.YAMLError) as err:  # TrlParser reading the --config file
        raise JobConfigError(f"{parser.config_source}: {' '.join(str(err).split())}") from None
    parser.refuse_leftovers(rest)

    validate = getattr(config, "validate", None)
    if callable(validate):
        validate()
    return config


class HyperparameterParser(TrlParser):
    """TRL's argument parser (HfArgumentParser underneath) over one job's hyperparameter dataclass.

    TrlParser builds the command line from the dataclass's fields (`--name value`, `--name=value`, `--na-me
    value`; `--help`) and reads `--config file.yaml`, whose values replace the defaults. What it adds for
    SageMaker's contract, all through public argparse/TrlParser hooks:
    - SM_HPS's values become defaults too, below the --config file's (`set_sm_hps`);
    - every value, whichever its source, goes through `_convert`: SageMaker's values may be JSON-encoded
      strings, and a field's type is held strictly (a bool is true or false, not "yes"; an int is not 2.5);
    - every error is a JobConfigError naming the hyperparameter and where its value came from, and unknown
      hyperparameters are refused (SageMaker's own `sagemaker_*` entries are skipped).
    """

    def __init__(self, config_cls: type) -> None:
        # Set before TrlParser's constructor, which declares each field through `add_argument`.
        self.hints = typing.get_type_hints(config_cls)
        self.config_source = "--config"
        super().__init__(config_cls, allow_abbrev=False, exit_on_error=False)

    def add_argument(self, *flags: str, **kwargs: Any):
        # HfArgumentParser declares a field as `--<name>` (then its dashed alias), with argparse's own type
        # and choices; ours replace them. `--no_<name>` (a store_false twin of a bool field) stays as it is.
        name = flags[0][2:] if flags and flags[0].startswith("--") else ""
        if name in self.hints and kwargs.get("action") is None:
            hint = self.hints[name]

            def from_command_line(text: str) -> Any:
                try:
                    return _convert(name, text, hint, f"--{name}")
                except JobConfigError as error:
                    raise _Rejected(error) from None

            kwargs["type"] = from_command_line
            if kwargs.pop("choices", None) is not None:
                kwargs["metavar"] = "{" + ",".join(map(str, typing.get_args(hint))) + "}"
        return super().add_argument(*flags, **kwargs)

    def error(self, message: str):  # argparse's hook for what exit_on_error=False still reports by exiting
        raise JobConfigError(f"command line: {message}")

    def parse_args_into_dataclasses(self, args=None, return_remaining_strings=False, **_args_files: Any):
        # HfArgumentParser would also read a `<script>.args` file beside the script: not a source of ours.
        return super().parse_args_into_dataclasses(args, return_remaining_strings, look_for_args_file=False)

    def set_defaults_with_config(self, **values: Any) -> list[str]:
        # TrlParser hands the --config file's mapping here: checked like SM_HPS, unknown keys refused.
        self._set_defaults_from(values, self.config_source)
        return []

    def set_sm_hps(self, text: str) -> None:
        if not text.strip():
            return
        try:
            hps = json.loads(text)
        except json.JSONDecodeError as err:
            raise JobConfigError(f"SM_HPS is not valid JSON ({err.msg} at position {err.pos})") from None
        if not isinstance(hps, dict):
            raise JobConfigError(f"SM_HPS must be a JSON object, got {type(hps).__name__}")
        self._set_defaults_from(hps, "SM_HPS")

    def refuse_leftovers(self, rest: list[str]) -> None:
        """Fails on the first command-line argument no field took, skipping `--sagemaker_* [value]`."""
        i = 0
        while i < len(rest):
            token = rest[i]
            if not token.startswith("--") or token == "--":
                raise JobConfigError(f"unexpected command-line argument {token!r}: expected --key value pairs")
            name = _normalise_key(token[2:].split("=", 1)[0])
            if not name.startswith(_SAGEMAKER_RESERVED_PREFIX):
                self._unknown(name, token.split("=", 1)[0])
            has_value = "=" not in token and i + 1 < len(rest) and not rest[i + 1].startswith("--")
            i += 2 if has_value else 1

    def _set_defaults_from(self, values: Mapping[str, Any], source: str) -> None:
        converted = {}
        for key, value in values.items():
            name = _normalise_key(str(key))
            if name.startswith(_SAGEMAKER_RESERVED_PREFIX):
                continue
            if name not in self.hints:
                self._unknown(name, source)
            converted[name] = _convert(name, value, self.hints[name], source)
        self.set_defaults(**converted)  # argparse: a value the command line may still override

    def _unknown(self, name: str, source: str) -> typing.NoReturn:
        known = ", ".join(sorted(self.hints))
        raise JobConfigError(f"unknown hyperparameter '{name}' (from {source}); known: {known}")


class _Rejected(Exception):
    """Carries a JobConfigError out of argparse, which would replace a ValueError's message with its own."""

    def __init__(self, error: JobConfigError) -> None:
        super().__init__(str(error))
        self.error = error


def _normalise_key(key: str) -> str:
    # `--num-samples` and `--num_samples` both name the field num_samples.
    return key.strip().replace("-", "_")


def _convert(name: str, value: Any, hint: Any, source: str) -> Any:
    """Turns a raw value (command-line text, or an SM_HPS / --config value) into the field's type."""
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
        if isinstance(decoded, str):
            return decoded
        return value if isinstance(value, str) else json.dumps(value)
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
