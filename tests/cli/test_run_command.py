"""`tlcore run` repeats a run from the command line the Runs page shows (tlcore.cli.run_command), and takes any
method option with `--option NAME=VALUE`."""
from __future__ import annotations

import json
import shlex
import subprocess
import sys

import pytest

import tlcore
from tlcore.cli.command import option_value_text, parse_option_value, run_command

# Which run, when and with what it ran; the split's test fingerprint is compared on its own below.
VOLATILE = {"run_id", "created", "versions", "split"}


@pytest.mark.parametrize("value", [16, 1e-4, 0.5, True, None, "16", "true", "Classify it", ["query", "value"],
                                   {"spam": "an advert"}])
def test_an_option_value_survives_the_command_line(value):
    assert parse_option_value(option_value_text(value)) == value


def _cli(args: list[str], cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tlcore.cli", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def test_the_command_of_a_run_repeats_it(tmp_path):
    tlcore.load_sample("sms_spam").to_csv(tmp_path / "sms.csv", index=False)
    runs = tmp_path / "runs"
    first = _cli(["run", "--train", "sms.csv", "--model", "minilm", "--method", "zero-shot", "--per-class", "8",
                  "--test-size", "40", "--val-size", "0", "--seed", "2", "--option", "temperature=0.1",
                  "--option", "refine_rounds=1", "--runs-dir", str(runs), "--json", "--quiet"], tmp_path)
    assert first.returncode == 0, first.stderr
    store = tlcore.RunStore(runs)
    original = store.get(json.loads(first.stdout)["run_id"]).config()
    assert original["method_options"]["temperature"] == 0.1 and original["method_options"]["refine_rounds"] == 1

    command = run_command(original)
    assert "--option temperature=0.1" in command and "--val-size 0" in command and "--seed 2" in command
    args = shlex.split(command)
    assert args[:2] == ["tlcore", "run"]
    again = _cli([*args[1:], "--runs-dir", str(runs), "--json", "--quiet"], tmp_path)
    assert again.returncode == 0, again.stderr
    repeated = store.get(json.loads(again.stdout)["run_id"]).config()
    assert {k: v for k, v in repeated.items() if k not in VOLATILE} == \
        {k: v for k, v in original.items() if k not in VOLATILE}
    assert repeated["split"]["test_fingerprint"] == original["split"]["test_fingerprint"]
    assert json.loads(again.stdout)["accuracy"] == json.loads(first.stdout)["accuracy"]


@pytest.mark.parametrize("option, message", [
    ("nope=1", "--option nope does not apply to method 'zero-shot'"),
    ("=1", "expected NAME=VALUE"),
    ("temperature", "expected NAME=VALUE"),
])
def test_a_bad_option_exits_2_with_one_error_line(option, message, tmp_path):
    tlcore.load_sample("sms_spam").to_csv(tmp_path / "sms.csv", index=False)
    result = _cli(["run", "--train", "sms.csv", "--model", "minilm", "--method", "zero-shot",
                   "--option", option, "--runs-dir", str(tmp_path / "runs")], tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr
