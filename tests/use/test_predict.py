"""Batch prediction with a finished run: every row comes back, rows without text are kept and reported,
CSV output is safe to open in a spreadsheet, and the CLI's predict / export follow the contract."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import tlcore
from tlcore.use.csv_safe import neutralize_formula
from tlcore.use.predict import choose_text_column


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tlcore.RunStore:
    return tlcore.RunStore(tmp_path_factory.mktemp("predict-runs"))


@pytest.fixture(scope="module")
def sentiment_run(store, yelp) -> tlcore.Run:
    """A zero-shot MiniLM run on Yelp review sentences (labels negative / positive): no training, seconds."""
    config = tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20, method_options={"max_length": 64})
    run = tlcore.create_run(config, yelp, store=store)
    tlcore.execute(run)
    return run


@pytest.fixture(scope="module")
def sentiment_method(sentiment_run):
    return tlcore.load_method(sentiment_run)


def test_loaded_method_predicts_what_the_run_predicted(sentiment_run, sentiment_method):
    stored = sentiment_run.predictions()
    frame, report = tlcore.use.predict_frame(sentiment_run, stored[["text", "gold"]], method=sentiment_method)
    labels = ["negative", "positive"]
    np.testing.assert_allclose(frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float),
                               stored[[f"p_{label}" for label in labels]].to_numpy(dtype=float), atol=1e-4)
    assert frame["predicted"].tolist() == stored["predicted"].tolist()
    assert report.scored == report.rows == len(stored) and report.text_column == "text"


def test_batch_prediction_returns_every_row_in_order(sentiment_run, sentiment_method, shared_dataset):
    # 1,000 movie-review rows of both classes (the file holds the positive ones first): 500 of each, interleaved.
    table = tlcore.read_table(shared_dataset("rt_polarity", "rt_polarity_all.csv"))
    halves = [table.head(500).reset_index(drop=True), table.tail(500).reset_index(drop=True)]
    source = pd.concat(halves).sort_index(kind="stable").reset_index(drop=True)
    assert source["label"].value_counts().to_dict() == {"positive": 500, "negative": 500}
    frame, report = tlcore.use.predict_frame(sentiment_run, source, method=sentiment_method)
    assert len(frame) == 1000 and report.rows == report.scored == 1000 and report.unscored == 0
    assert frame["text"].tolist() == source["text"].tolist() and frame["label"].tolist() == source["label"].tolist()
    assert list(frame.columns) == ["text", "label", "predicted", "confidence", "p_negative", "p_positive"]
    proba = frame[["p_negative", "p_positive"]].to_numpy(dtype=float)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(frame["confidence"].to_numpy(dtype=float), proba.max(axis=1))
    assert set(frame["predicted"]) <= {"negative", "positive"}
    # A zero-shot run trained on restaurant reviews labels most movie reviews right.
    assert (frame["predicted"] == frame["label"]).mean() > 0.6


def test_rows_without_text_are_kept_and_reported(sentiment_run, tmp_path):
    source = tmp_path / "reviews.csv"
    pd.DataFrame({"id": ["1", "2", "3", "4", "5", "6"],
                  "review": ["The food was wonderful and the staff were lovely.", "", None, "   ",
                             '=HYPERLINK("http://example.com", "Terrible, cold food and rude service.")',
                             "Cold fries, rude waiter, never again."]}).to_csv(source, index=False)
    output = tmp_path / "scored.csv"
    report = tlcore.use.predict_file(sentiment_run, source, output)
    assert (report.rows, report.scored, report.unscored) == (6, 3, 3)
    assert report.unscored_rows == [3, 4, 5], "file rows: the header is row 1"
    assert report.text_column == "review" and "3 rows have no text" in report.summary()

    written = pd.read_csv(output, dtype=str, keep_default_na=False)
    assert written["id"].tolist() == ["1", "2", "3", "4", "5", "6"], "every row is written, in order"
    empty = written[written["id"].isin(["2", "3", "4"])]
    assert (empty[["predicted", "confidence", "p_negative", "p_positive"]] == "").all().all()
    scored = written[~written["id"].isin(["2", "3", "4"])]
    assert set(scored["predicted"]) <= {"negative", "positive"} and (scored["confidence"] != "").all()
    assert written.loc[written["id"] == "5", "review"].item().startswith("'=HYPERLINK"), "formula neutralised"

    # One column: an empty text is a blank line, which reading skips; the report still names it.
    single = tmp_path / "single.csv"
    single.write_text("text\nGreat tacos.\n\nAwful coffee.\n")
    report = tlcore.use.predict_file(sentiment_run, single, tmp_path / "single_out.csv")
    assert (report.rows, report.scored, report.skipped_rows) == (2, 2, [3])
    assert "1 blank or unreadable row of the file (3) was skipped" in report.summary()


def test_missing_values_of_any_kind_are_unscored(sentiment_run, sentiment_method):
    frame = pd.DataFrame({"text": ["Great coffee.", None, np.nan, pd.NA, " \t ", 42]}, dtype=object)
    out, report = tlcore.use.predict_frame(sentiment_run, frame, method=sentiment_method)
    assert report.unscored_rows == [3, 4, 5, 6] and report.scored == 2 and len(out) == 6
    assert out["predicted"].isna().tolist() == [False, True, True, True, True, False]


def test_formula_cells_are_neutralised():
    cells = ("=1+1", "+41 555", "-2+3", "@SUM(A1)", "\t=1", "=-1", "plain", "", 3.5, None)
    assert [neutralize_formula(v) for v in cells] == \
        ["'=1+1", "'+41 555", "'-2+3", "'@SUM(A1)", "'\t=1", "'=-1", "plain", "", 3.5, None]
    # A plain number runs nothing (and "-1" is a common label): it stays as it is.
    assert [neutralize_formula(v) for v in ("-1", "+2", "-0.5", "-1e3")] == ["-1", "+2", "-0.5", "-1e3"]


def test_text_column_choice():
    frame = pd.DataFrame({"id": ["1", "2"], "body_text": ["a long enough sentence to be text", "another one here"],
                          "score": ["4", "5"]})
    assert choose_text_column(frame) == "body_text"
    assert choose_text_column(frame, preferred="score") == "score"  # the run's own text column wins
    assert choose_text_column(frame.rename(columns={"body_text": "sentence"})) == "sentence"
    with pytest.raises(tlcore.DatasetError, match="no text column 'msg'.*id, body_text, score.*--text-column"):
        choose_text_column(frame, "msg")
    two = frame.assign(title=["a headline with several words", "and another headline"])
    with pytest.raises(tlcore.DatasetError, match="cannot tell which column.*--text-column"):
        choose_text_column(two)


def test_load_method_refuses_unfinished_and_incomplete_runs(store, yelp, sentiment_run, tmp_path):
    queued = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20), yelp, store=store)
    with pytest.raises(tlcore.RunError, match="is queued"):
        tlcore.load_method(queued)
    failed = tlcore.Run(tmp_path / "failed-run")
    failed.path.mkdir()
    (failed.path / "config.json").write_text(json.dumps(sentiment_run.config()))
    failed.write_status({"status": "failed", "error": "out of memory"})
    with pytest.raises(tlcore.RunError, match=r"is failed \(out of memory\)"):
        tlcore.use.predict_frame(failed, pd.DataFrame({"text": ["fine"]}))


def test_cli_predict_and_export(sentiment_run, store, tmp_path, tlcore_cli):
    source = tmp_path / "new.csv"
    pd.DataFrame({"id": ["a", "b", "c"], "text": ["Best pizza in town.", "", "Slow service and a dirty table."]}
                 ).to_csv(source, index=False)
    output = tmp_path / "out.csv"
    result = tlcore_cli("predict", "--run", sentiment_run.id, "--input", str(source), "--output", str(output),
                        "--runs-dir", str(store.root), "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert {k: payload[k] for k in ("run_id", "rows", "scored", "unscored", "output")} == \
        {"run_id": sentiment_run.id, "rows": 3, "scored": 2, "unscored": 1, "output": str(output)}
    predicted = pd.read_csv(output, keep_default_na=False)["predicted"].tolist()
    assert predicted[1] == "" and {predicted[0], predicted[2]} <= {"negative", "positive"}

    result = tlcore_cli("export", "--run", sentiment_run.id, "--to", str(tmp_path / "model"),
                        "--runs-dir", str(store.root))
    assert result.returncode == 0, result.stderr
    assert "exported run" in result.stdout and (tmp_path / "model" / "method.json").exists()
    result = tlcore_cli("export", "--run", str(sentiment_run.path), "--to", str(tmp_path / "model"), "--zip")
    assert result.returncode == 0 and (tmp_path / "model.zip").exists(), result.stderr


@pytest.mark.parametrize("args, message", [
    (("predict", "--run", "nope", "--input", "{data}", "--output", "{tmp}/o.csv"), "no run 'nope'"),
    (("predict", "--run", "{run}", "--input", "{tmp}/missing.csv", "--output", "{tmp}/o.csv"), "does not exist"),
    (("predict", "--run", "{run}", "--input", "{data}", "--output", "{tmp}/o.csv", "--text-column", "msg"),
     "no text column 'msg'; the columns found are: text, label"),
    (("predict", "--run", "{run}", "--input", "{data}", "--output", "{tmp}/o.xlsx"), "must be a .csv file"),
    (("predict", "--run", "{run}", "--input", "{data}"), "required: --output"),
    (("export", "--run", "nope", "--to", "{tmp}/e"), "no run 'nope'"),
    (("export", "--run", "{run}", "--to", "{tmp}"), "already exists and is not empty"),
])
def test_cli_bad_input_exits_2_with_one_error_line(args, message, sentiment_run, store, tmp_path, tlcore_cli):
    data = tmp_path / "data.csv"
    pd.DataFrame({"text": ["good"], "label": ["positive"]}).to_csv(data, index=False)
    filled = [a.replace("{data}", str(data)).replace("{tmp}", str(tmp_path)).replace("{run}", sentiment_run.id)
              for a in args]
    result = tlcore_cli(*filled, "--runs-dir", str(store.root))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert message in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "o.csv").exists() and not (tmp_path / "e").exists()
