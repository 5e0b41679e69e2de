"""`tlcore adapt` as a user runs it: one JSON document with the new model's record, the model usable by name
afterwards; bad input is one `error:` line with exit code 2, before any model loads."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[2]
SMS = ROOT / "tlcore" / "data" / "bundled" / "sms_spam_sample.csv"
RECORD_KEYS = {"job_id", "folder", "slug", "name", "base", "base_path", "kind", "objective", "mode", "texts",
               "held_out_texts", "steps", "head_warmup_steps", "final_loss", "held_out_loss", "seconds", "created",
               "source", "config"}


def _one_error_line(result) -> str:
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_adapt_json_and_the_model_is_listed_by_name(tmp_path, tlcore_cli, monkeypatch):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path / "cache"))
    result = tlcore_cli("adapt", "--model", "minilm", "--texts", str(SMS), "--name", "minilm + texts", "--mode",
                        "lora", "--steps", "2", "--head-warmup", "2", "--batch-size", "8", "--max-length", "32",
                        "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    record = json.loads(result.stdout)
    assert set(record) == RECORD_KEYS
    assert record["folder"] == str(tmp_path / "cache" / "adapted" / "minilm-texts")
    assert (record["name"], record["mode"], record["objective"], record["steps"], record["source"]) == (
        "minilm + texts", "lora-merged", "masked-lm", 2, "sms_spam_sample.csv")
    assert json.loads((Path(record["folder"]) / "tlcore_adapted.json").read_text())["name"] == "minilm + texts"
    models = json.loads(tlcore_cli("models", "--json").stdout)
    assert any(m["name"] == "minilm + texts" and m["path"] == record["folder"] for m in models)
    again = tlcore_cli("adapt", "--model", "minilm", "--texts", str(SMS), "--name", "minilm + texts")
    assert "already exists" in _one_error_line(again)


def test_bad_input_is_one_error_line(tmp_path, capsys):
    from tlcore.cli.main import main

    few = tmp_path / "few.csv"
    pd.DataFrame({"text": [f"text number {i}" for i in range(20)]}).to_csv(few, index=False)
    cases = {
        ("--model", "minilm", "--texts", str(few)): "at least 100 distinct texts",
        ("--model", "minilm", "--texts", str(SMS), "--text-column", "body"): "no column 'body'",
        ("--model", "minilm", "--texts", str(SMS), "--mode", "half"): "not one of full-weights, lora-merged",
        ("--model", "minilm", "--texts", str(SMS), "--steps", "0"): "--steps",
        ("--model", "minilm", "--texts", str(SMS), "--name", "+++"): "no letters or digits",
        ("--model", "no-such-model", "--texts", str(SMS)): "unknown model",
        ("--model", "minilm", "--texts", str(tmp_path / "missing.csv")): "missing.csv",
        ("--model", "minilm"): "--texts",
    }
    for args, expected in cases.items():
        assert main(["adapt", *args, "--out", str(tmp_path / "out")]) == 2, args
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], (args, captured.err)
        assert captured.out == ""
    assert not (tmp_path / "out").exists()  # refused before any job folder was written
