"""`tlcore label-issues`: one JSON document with the suspected rows as the file numbers them; exit 2 with one
`error:` line for bad input."""
from __future__ import annotations

import json

import pytest

import tlcore


@pytest.fixture(scope="module")
def noisy_csv(tmp_path_factory):
    """120 Yelp review sentences with an id column and 6 labels flipped (every 20th row)."""
    frame = tlcore.load_sample("yelp").head(120).reset_index(drop=True)
    flipped = list(range(0, 120, 20))
    for i in flipped:
        frame.loc[i, "label"] = "positive" if frame.loc[i, "label"] == "negative" else "negative"
    path = tmp_path_factory.mktemp("label-issues") / "reviews.csv"
    frame.insert(0, "id", range(1000, 1120))
    frame.to_csv(path, index=False)
    return path, flipped


def test_json_lists_suspected_rows(tlcore_cli, noisy_csv):
    path, flipped = noisy_csv
    result = tlcore_cli("label-issues", "--data", str(path), "--json", "--quiet")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["text_column"] == "text" and payload["label_column"] == "label"
    assert payload["n_rows"] == payload["n_checked"] == 120 and payload["folds"] == 5 and payload["model"] == "minilm"
    assert payload["labels"] == ["negative", "positive"] and payload["n_issues"] == len(payload["issues"])
    issue = payload["issues"][0]
    assert set(issue) == {"rank", "row", "file_row", "text", "given", "suggested", "confidence", "given_probability"}
    assert issue["file_row"] == issue["row"] + 2  # a CSV's first data row is row 2 (the header is row 1)
    found = {i["row"] for i in payload["issues"]}
    assert len(found & set(flipped)) >= 3  # most planted flips are listed


@pytest.mark.parametrize("args, message", [
    (["--data", "missing.csv"], "does not exist"),
    (["--data", "{one_class}"], "at least 2 classes"),
    (["--data", "{one_class}", "--folds", "1"], "--folds"),
    ([], "--data"),
])
def test_bad_input_exits_2_with_one_error_line(tlcore_cli, tmp_path, args, message):
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\nhello,a\nworld,a\nagain,a\n")
    result = tlcore_cli("label-issues", *[a.format(one_class=one_class) for a in args])
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and message in lines[0], result.stderr
