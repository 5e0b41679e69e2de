"""The checks on the command line: tlcore evaluate / slices / probe / footprint (exit codes, --json, errors).

Most calls run `tlcore.cli.main` in this process (the models stay loaded between calls); one runs the real
`python -m tlcore.cli` to check the contract end to end.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys

import pandas as pd
import pytest

from tlcore.cli import main
from tlcore.compare import checks


def cli(capsys, *args: str) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out = capsys.readouterr()
    return code, out.out, out.err


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_evaluate_maps_labels_and_prints_the_gap(checks_runs, capsys, tmp_path, checks_run):
    run = checks_run("linear-probe")
    frame = pd.read_csv(checks_runs["root"] / "imdb_small.csv")
    numeric = tmp_path / "imdb_numeric.csv"
    frame.assign(label=frame["label"].map({"Negative": 0, "Positive": 1})).to_csv(numeric, index=False)

    code, out, err = cli(capsys, "evaluate", "--run", run.path, "--data", numeric)
    assert code == 2 and "--map FILE_LABEL=RUN_LABEL" in one_error_line(err) and not out

    code, out, _ = cli(capsys, "evaluate", "--run", run.path, "--data", numeric, "--map", "0=negative",
                       "--map", "1=positive", "--json")
    result = json.loads(out)
    assert code == 0 and result["label_mapping"] == {"0": "negative", "1": "positive"} and result["n"] == 80
    assert result["gap_accuracy"] == pytest.approx(result["out_of_domain"]["accuracy"] - run.metrics()["accuracy"])
    assert (run.path / "evaluations" / "imdb_numeric.json").exists()

    code, out, _ = cli(capsys, "evaluate", "--run", run.path, "--data", numeric, "--map", "0=negative",
                       "--map", "1=positive")
    assert code == 0 and re.search(r"gap\s+[-+]\d+\.\d points of accuracy", out)
    assert "labels mapped: 0 -> negative, 1 -> positive" in out


def test_slices_probe_and_footprint_commands(checks_runs, capsys, tmp_path, checks_run):
    probe_run, zero_shot = checks_run("linear-probe"), checks_run("zero-shot")
    mixed = checks_runs["root"] / "reviews_mixed.csv"
    code, out, _ = cli(capsys, "slices", "--run", probe_run.path, "--column", "domain", "--data", mixed,
                       "--min-size", 5, "--json")
    report = json.loads(out)
    assert code == 0 and {r["value"] for r in report["rows"]} == {"yelp", "amazon"} and report["worst"]
    code, out, _ = cli(capsys, "slices", "--run", probe_run.path, "--column", "domain", "--data", mixed)
    assert code == 0 and "too small to judge" in out  # the Amazon slice of the test split has < 20 rows
    code, out, _ = cli(capsys, "slices", "--run", probe_run.path, "--column", "length")
    assert code == 0 and "words" in out
    code, _, err = cli(capsys, "slices", "--run", probe_run.path, "--column", "region", "--data", mixed)
    assert code == 2 and "columns found are: text, label, domain" in one_error_line(err)

    code, out, _ = cli(capsys, "probe", "--run", zero_shot.path, "--pairs", "he:she,his:her", "--data",
                       checks_runs["root"] / "probe.csv", "--json")
    result = json.loads(out)
    texts = pd.read_csv(checks_runs["root"] / "probe.csv")["review"]
    with_term = sum(bool(re.search(r"\b(he|she|his|her)\b", t, re.IGNORECASE)) for t in texts)
    assert code == 0 and result["n_texts"] == len(texts) and result["n_affected"] == with_term
    assert result["pairs"] == [["he", "she"], ["his", "her"]] and result["source"].endswith("probe.csv")
    code, _, err = cli(capsys, "probe", "--run", zero_shot.path, "--pairs", "he:she,she:it")
    assert code == 2 and "in two pairs" in one_error_line(err)

    code, out, _ = cli(capsys, "footprint", "--run", probe_run.path, "--run", zero_shot.path, "--watts", 50,
                       "--grid", 100, "--json")
    payload = json.loads(out)
    assert code == 0 and [r["method"] for r in payload["runs"]] == ["linear-probe", "zero-shot"]
    for row in payload["runs"]:
        assert row["watts"] == 50 and row["co2e_g"] == pytest.approx(row["energy_kwh"] * 100)
        assert row["energy_kwh"] == pytest.approx(50 * row["wall_seconds"] / 3.6e6)
    code, out, _ = cli(capsys, "footprint", "--run", probe_run.path)
    assert code == 0 and "FLOP" in out and "g CO2e at 400 g/kWh" in out
    code, _, err = cli(capsys, "footprint", "--run", probe_run.path, "--grid", -5)
    assert code == 2 and "grid intensity" in one_error_line(err)


def test_the_real_command_prints_one_json_document_and_one_error_line(checks_runs, checks_run):
    run = checks_run("zero-shot")
    path = checks_runs["root"] / "imdb_small.csv"
    saved = checks.evaluate_ood(run, path)  # in this process, where the model is already loaded
    command = [sys.executable, "-m", "tlcore.cli"]
    done = subprocess.run([*command, "evaluate", "--run", str(run.path), "--data", str(path), "--json"],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)  # the saved evaluation, shared through the run folder: nothing rescored
    assert result["created"] == saved.created and result["out_of_domain"] == saved.out_of_domain
    bad = subprocess.run([*command, "evaluate", "--run", "no-such-run", "--data", "x.csv", "--runs-dir",
                          str(run.path.parent)], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and "no run 'no-such-run'" in one_error_line(bad.stderr) and not bad.stdout
