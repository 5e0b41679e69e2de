"""`tlcore sweep`: the `--json` document, the table, and a bad grid refused before any run (exit 2, one `error:`)."""
from __future__ import annotations

import json

import pytest

from tlcore.cli import main

CONFIGURATION_KEYS = {"run_id", "options", "label", "status", "val_accuracy", "val_macro_f1", "accuracy",
                      "accuracy_ci", "macro_f1", "train_seconds", "error"}


def _sweep(path, runs_dir, *extra: str) -> list[str]:
    return ["sweep", "--train", str(path), "--model", "minilm", "--method", "linear-probe", "--per-class", "8",
            "--test-size", "40", "--val-size", "40", "--runs-dir", str(runs_dir), "--quiet", *extra]


def test_sweep_json_is_one_document_with_every_configuration_and_the_pick(yelp, tmp_path, runs_dir, capsys):
    data = tmp_path / "yelp.csv"
    yelp.to_frame().to_csv(data, index=False)
    code = main(_sweep(data, runs_dir, "--grid", "C=0.01,100", "class_weights=none,balanced", "--json"))
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"sweep", "method", "model", "varied", "n_val", "n_test", "live", "configurations", "picked", "runner_up",
            "best_on_test", "paired", "tie_broken_by_cost", "caution", "summary"} <= set(payload)
    assert payload["method"] == "linear-probe" and payload["varied"] == ["C", "class_weights"]
    assert payload["n_val"] == 40 and payload["n_test"] == 40 and not payload["live"]
    rows = payload["configurations"]
    assert [row["options"] for row in rows] == [{"C": 0.01, "class_weights": "none"},
                                                {"C": 0.01, "class_weights": "balanced"},
                                                {"C": 100.0, "class_weights": "none"},
                                                {"C": 100.0, "class_weights": "balanced"}]
    assert all(CONFIGURATION_KEYS <= set(row) and row["status"] == "succeeded" for row in rows)
    assert payload["picked"]["val_accuracy"] == max(row["val_accuracy"] for row in rows)
    assert payload["paired"]["against"] == payload["picked"]["run_id"]
    assert payload["paired"]["verdict"] in payload["summary"][2]
    assert payload["summary"][0].startswith(f"Picked {payload['picked']['label']}")


def test_sweep_prints_a_table_with_the_pick_marked(sms_path, runs_dir, capsys):
    assert main(_sweep(sms_path, runs_dir, "--grid", "C=0.1,10")) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["configuration", "validation", "test", "run"]
    assert [line.split()[0] for line in out[1:3]] == ["C=0.1", "C=10"]
    assert sum(line.endswith("← picked") for line in out[1:3]) == 1
    assert out[3].startswith("Picked C=")


@pytest.mark.parametrize("grid, message", [
    (["C=0.1,fast"], "grid option C takes a number; got 'fast'"),
    (["rank=4,8"], "linear-probe has no option 'rank'; options this method can vary: seed, C"),
    (["C=1"], "only 1 configuration"),
])
def test_a_bad_grid_exits_2_with_one_error_line_and_no_run(grid, message, sms_path, runs_dir, tlcore_cli):
    result = tlcore_cli(*_sweep(sms_path, runs_dir, "--grid", *grid))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], result.stderr
    assert not runs_dir.exists() or not any(runs_dir.iterdir()), "a refused sweep must not leave a folder"


def test_an_option_given_by_flag_and_grid_is_refused(sms_path, runs_dir, capsys):
    assert main(_sweep(sms_path, runs_dir, "--option", "C=2", "--grid", "C=0.1,10")) == 2
    assert "C is given both by a flag and in --grid" in capsys.readouterr().err
    assert main(_sweep(sms_path, runs_dir)) == 2
    assert "a sweep needs --grid" in capsys.readouterr().err
