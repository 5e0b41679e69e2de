"""The `tlcore run` command line that repeats a run (the Runs page's "Copy CLI command"), and the flags that
carry method options (shared with the parser in ``main``, so the two never disagree).

The command names the data files as the run recorded them (their file names: run it where the files are), every
split setting that differs from the CLI's default, and every method option that differs from the method's
default; the run's YAML ("Download config") stays the complete record.
"""
from __future__ import annotations

import json
import shlex
from typing import Any

from ..methods import get_method
from ..runs.store import RunConfig

# Method options with a flag of their own; any other option goes through `--option NAME=VALUE`.
OPTION_FLAGS = {"shots": "--shots", "epochs": "--epochs", "lr": "--lr", "batch_size": "--batch-size",
                "max_length": "--max-length"}
# What `tlcore run` uses for a setting no flag (and no --config) gives: the command leaves out what equals these.
RUN_DEFAULTS = {"test_size": 0.2, "split_seed": 0, "seed": 0, "device": "auto", "precision": "auto",
                "val_size": 0.1}


def parse_option_value(text: str) -> Any:
    """An `--option` value: JSON when it reads as JSON (numbers, true/false, null, lists, quoted text), else the
    text itself, so `lr=1e-4`, `target_modules=["query","value"]` and `instruction=Classify it` all work."""
    try:
        return json.loads(text)
    except ValueError:
        return text


def option_value_text(value: Any) -> str:
    """The inverse of ``parse_option_value``: text that parses back to ``value``."""
    if isinstance(value, str):
        try:
            json.loads(value)
        except ValueError:
            return value
        return json.dumps(value)  # "16" or "true" as text: quoted, so it stays text
    return json.dumps(value)


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def run_command(config: dict) -> str:
    """The shell command (POSIX quoting) that repeats the run whose config.json is ``config``."""
    settings = RunConfig.from_dict(config)
    options = dict(settings.method_options)
    defaults = get_method(settings.method).config_cls().to_dict()
    parts = ["tlcore", "run", "--train", settings.data_name]
    for flag, name in (("--test", settings.test_name), ("--val", settings.val_name)):
        if name:
            parts += [flag, name]
    parts += ["--text-column", settings.text_column, "--label-column", settings.label_column,
              "--model", settings.model, "--method", settings.method]
    if settings.per_class is not None:
        parts += ["--per-class", str(settings.per_class)]
    if not settings.test_name and settings.test_size != RUN_DEFAULTS["test_size"]:
        parts += ["--test-size", _number(settings.test_size)]
    if not settings.val_name and settings.val_size != RUN_DEFAULTS["val_size"]:
        parts += ["--val-size", _number(settings.val_size)]
    if settings.split_seed != RUN_DEFAULTS["split_seed"]:
        parts += ["--split-seed", str(settings.split_seed)]
    # --seed samples the training rows and seeds the method; the split records the sampling seed.
    seed = (config.get("split") or {}).get("sample_seed", options.get("seed", 0))
    if seed != RUN_DEFAULTS["seed"]:
        parts += ["--seed", str(seed)]
    if options.get("seed", seed) != seed:  # the app samples with seed 0 and may seed the method otherwise
        parts += ["--option", f"seed={options['seed']}"]
    if settings.device != RUN_DEFAULTS["device"]:
        parts += ["--device", settings.device]
    if settings.precision != RUN_DEFAULTS["precision"]:
        parts += ["--precision", settings.precision]
    for name, value in sorted(options.items()):
        if name == "seed" or value == defaults.get(name):
            continue
        if name in OPTION_FLAGS:
            parts += [OPTION_FLAGS[name], option_value_text(value)]
        elif name == "label_descriptions" and isinstance(value, dict):
            for label, text in value.items():
                parts += ["--label-description", f"{label}={text}"]
        else:
            parts += ["--option", f"{name}={option_value_text(value)}"]
    return shlex.join(parts)
