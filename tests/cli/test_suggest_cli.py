"""`tlcore suggest`: the `--json` document (suggestions with the file's row numbers), the table, and bad input
refused with exit 2 and one `error:` line."""
from __future__ import annotations

import json

import pandas as pd
import pytest

import tlcore
from tlcore.cli import main

SUGGESTION_KEYS = {"rank", "row", "index", "text", "predicted", "confidence", "score", "reason"}


@pytest.fixture(scope="module")
def finished(tmp_path_factory, yelp) -> dict:
    """A linear-probe run on MiniLM (8 Yelp sentences per class) and a pool file: 60 sentences it has no label for,
    with a label column that is empty except on the first 5 rows, and one of the run's training texts unlabeled."""
    root = tmp_path_factory.mktemp("suggest-cli")
    config = tlcore.RunConfig(model="minilm", method="linear-probe", per_class=8, test_size=40)
    run = tlcore.create_run(config, yelp, store=tlcore.RunStore(root / "runs"))
    tlcore.execute(run)
    split = run.split()
    used = {t for part in (split.train, split.val, split.test) for t in part.texts}
    texts = list(dict.fromkeys(t for t in yelp.texts if t not in used))[:60] + [split.train.texts[0]]
    labels = ["positive"] * 5 + [""] * (len(texts) - 5)
    pool = root / "pool.csv"
    pd.DataFrame({"text": texts, "label": labels}).to_csv(pool, index=False)
    return {"run": str(run.path), "pool": pool, "texts": texts, "train_text": split.train.texts[0]}


def test_suggest_json_is_one_document_with_file_rows(finished, capsys):
    code = main(["suggest", "--run", finished["run"], "--pool", str(finished["pool"]), "--n", "7", "--json",
                 "--quiet"])
    payload = json.loads(capsys.readouterr().out)
    assert code == 0
    assert {"run_id", "strategy", "labels", "pool_file", "text_column", "label_column", "pool", "labeled_rows",
            "ranked", "skipped", "suggestions"} <= set(payload)
    assert payload["strategy"] == "margin" and payload["labels"] == ["negative", "positive"]
    assert (payload["pool"], payload["labeled_rows"], payload["label_column"]) == (56, 5, "label")
    assert payload["skipped"] == {"empty": 0, "duplicate": 0, "labeled": 1} and payload["ranked"] == 55
    rows = payload["suggestions"]
    assert [r["rank"] for r in rows] == list(range(1, 8))
    assert all(set(r) == SUGGESTION_KEYS for r in rows)
    for r in rows:  # the CSV's header is row 1: the text of row r is texts[r - 2]
        assert finished["texts"][r["row"] - 2] == r["text"] and r["row"] >= 7
    assert finished["train_text"] not in {r["text"] for r in rows}
    assert [r["score"] for r in rows] == sorted((r["score"] for r in rows), reverse=True)


def test_suggest_numbers_rows_as_the_file_does(finished, tmp_path, capsys):
    """A blank line in a CSV and a JSONL file: the row numbers are the file's own (a spreadsheet's, a line's)."""
    texts = finished["texts"][5:15]
    csv = tmp_path / "gappy.csv"
    csv.write_text("text\n\n" + "\n".join(f'"{t}"' for t in texts) + "\n", encoding="utf-8")
    jsonl = tmp_path / "pool.jsonl"
    jsonl.write_text("\n".join(json.dumps({"text": t}) for t in texts) + "\n", encoding="utf-8")
    for path, first in ((csv, 3), (jsonl, 1)):  # CSV: header row 1, blank row 2; JSONL: line 1
        assert main(["suggest", "--run", finished["run"], "--pool", str(path), "--n", "10", "--json", "--quiet"]) == 0
        rows = json.loads(capsys.readouterr().out)["suggestions"]
        assert {r["row"]: r["text"] for r in rows} == {first + i: t for i, t in enumerate(texts)}, path.suffix


def test_suggest_prints_a_table(finished, capsys):
    assert main(["suggest", "--run", finished["run"], "--pool", str(finished["pool"]), "--n", "3",
                 "--strategy", "entropy", "--quiet"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["#", "row", "predicted", "conf.", "text", "why"]
    assert [line.split()[0] for line in out[1:4]] == ["1", "2", "3"]
    assert out[4].startswith("3 of 55 pool texts suggested by run") and "1 already labeled in the run" in out[4]


@pytest.mark.parametrize("extra, message", [
    (["--n", "0"], "argument --n: expected a whole number from 1"),
    (["--strategy", "bald"], "argument --strategy: invalid choice: 'bald'"),
    (["--text-column", "review"], "pool.csv has no text column 'review'; the columns found are: text, label"),
])
def test_bad_flags_exit_2_with_one_error_line(extra, message, finished, capsys):
    assert main(["suggest", "--run", finished["run"], "--pool", str(finished["pool"]), *extra]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], lines


def test_an_unknown_run_exits_2_with_one_error_line(finished, runs_dir, tlcore_cli):
    result = tlcore_cli("suggest", "--run", "20990101-000000-nothing", "--pool", str(finished["pool"]),
                        "--runs-dir", str(runs_dir), "--json")
    assert result.returncode == 2 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "20990101-000000-nothing" in lines[0], lines
