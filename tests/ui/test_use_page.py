"""The Use page (app_pages/5_Use.py) with streamlit.testing.v1.AppTest: the playground's default runs and predictions,
"Use this run" from the Runs page, batch prediction of an uploaded file, export to a zip and import of one."""
from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlcore  # noqa: E402
import tlui  # noqa: E402

TIMEOUT = 90  # seconds per script run; the machine may be busy
DATA = "sms_spam_sample.csv"
SPAM = "WINNER!! You have won a free prize. Text CLAIM to 80086 now to collect your cash reward."


def copy_run(store: tlcore.RunStore, run: tlcore.Run, suffix: str, **config_changes) -> tlcore.Run:
    """A copy of a finished run under a new id, with some config.json / metrics.json values changed."""
    copy = tlcore.Run(store.root / f"{run.id}{suffix}")
    shutil.copytree(run.path, copy.path)
    config = {**copy.config(), **{k: v for k, v in config_changes.items() if k != "accuracy"}}
    (copy.path / "config.json").write_text(json.dumps(config))
    if "accuracy" in config_changes:
        (copy.path / "metrics.json").write_text(json.dumps({**copy.metrics(), "accuracy": config_changes["accuracy"]}))
    return copy


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Zero-shot, few-shot and linear-probe MiniLM runs on the SMS sample; a worse copy of the zero-shot run; a
    better copy on other data (neither may be the playground's default for the SMS data)."""
    root = tmp_path_factory.mktemp("use-runs")
    store = tlcore.RunStore(root)
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    ids = {}
    for method, options in (("zero-shot", {}), ("few-shot", {"shots": 4}), ("linear-probe", {})):
        config = tlcore.RunConfig(model="minilm", method=method, method_options={**options, "max_length": 64},
                                  per_class=8, test_size=20, data_name=DATA)
        run = tlcore.create_run(config, data, store=store)
        tlcore.execute(run)
        ids[method] = run.id
    zero = store.get(ids["zero-shot"])
    ids["worse"] = copy_run(store, zero, "-worse", accuracy=-0.5).id
    ids["other-data"] = copy_run(store, zero, "-other", accuracy=2.0, data_name="other.csv").id
    return root, ids


@pytest.fixture
def private_runs(tmp_path, runs) -> tuple[Path, dict[str, str]]:
    """A copy of the shared runs folder, for tests that add runs to it."""
    root, ids = runs
    shutil.copytree(root, tmp_path / "runs-copy")
    return tmp_path / "runs-copy", ids


@pytest.fixture(scope="session")
def use_page(open_app):
    """``use_page(runs_dir, monkeypatch, **state)``: the Use page in a fresh session."""
    def open_(runs_dir: Path, monkeypatch, **state) -> AppTest:
        return open_app(runs_dir, monkeypatch, tlui.USE_PAGE, timeout=TIMEOUT, **state)
    return open_


def chart_probabilities(at: AppTest) -> list[list[float]]:
    return [json.loads(chart.proto.spec)["data"][0]["x"] for chart in at.get("plotly_chart")]


def test_playground_shows_the_best_run_of_each_kind_and_its_probabilities(runs, monkeypatch, use_page, texts):
    root, ids = runs
    at = use_page(root, monkeypatch, **{tlui.DATA_NAME: DATA})
    selected = at.multiselect(key=tlui.USE_W_RUNS).value
    assert selected == [ids["zero-shot"], ids["few-shot"], ids["linear-probe"]], "best of each kind on the data"
    assert "Type a text" in texts(at.caption)

    at.text_area(key=tlui.USE_W_TEXT).set_value(SPAM).run()
    assert not at.exception and not at.error, at.error
    shown = chart_probabilities(at)
    assert len(shown) == 3
    store = tlcore.RunStore(root)
    for run_id, probabilities in zip(selected, shown):  # what the page shows is what the run's model says
        want = tlcore.predict_texts(tlcore.load_method(store.get(run_id)), [SPAM])[0]
        np.testing.assert_allclose(probabilities, want, atol=1e-5)
    predicted = [m.value for m in at.markdown if m.value.startswith("#### ")]
    assert predicted == [f"#### {['ham', 'spam'][int(np.argmax(p))]}" for p in shown]
    assert texts(at.caption).count("ms for this text") == 3

    # On other data the default follows it; a chosen selection is kept when the page is drawn again.
    other = use_page(root, monkeypatch, **{tlui.DATA_NAME: "other.csv"})
    assert other.multiselect(key=tlui.USE_W_RUNS).value == [ids["other-data"]]
    other.multiselect(key=tlui.USE_W_RUNS).set_value([ids["worse"]]).run()
    other.text_area(key=tlui.USE_W_TEXT).set_value("See you at lunch tomorrow?").run()
    assert other.multiselect(key=tlui.USE_W_RUNS).value == [ids["worse"]] and len(chart_probabilities(other)) == 1


def test_use_this_run_on_the_runs_page_opens_it_here(runs, monkeypatch, new_app):
    root, ids = runs
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(root))
    at = new_app(TIMEOUT)
    at.session_state["runs_w_open"] = ids["few-shot"]
    at.run()
    at.switch_page(tlui.RUNS_PAGE).run()
    at.button(key="runs_use").click().run()
    assert not at.exception, at.exception
    assert at.multiselect(key=tlui.USE_W_RUNS).value == [ids["few-shot"]]
    assert at.session_state[tlui.USE_W_BATCH_RUN] == ids["few-shot"]


def test_batch_prediction_returns_every_row_and_lists_the_unscored_ones(runs, monkeypatch, use_page, texts):
    root, ids = runs
    at = use_page(root, monkeypatch, **{tlui.USE_W_TAB: "Batch prediction"})
    assert "Upload a table of texts" in texts(at.info)
    upload = pd.DataFrame({"id": ["a", "b", "c", "d"],
                           "message": [SPAM, "Are we still on for dinner tonight? I'll bring the wine.", "",
                                       "=HYPERLINK(\"http://x\", \"Call now to claim your free ringtone\")"]})
    at.file_uploader(key=tlui.USE_W_UPLOAD).set_value(("new.csv", upload.to_csv(index=False).encode(), "text/csv"))
    at.run()
    assert at.selectbox(key=tlui.USE_W_BATCH_RUN).value == tlcore.RunStore(root).summaries()[0].id  # the newest
    at.selectbox(key=tlui.USE_W_BATCH_RUN).set_value(ids["few-shot"]).run()
    column = next(box for box in at.selectbox if box.label == "Text column")
    assert column.value == "message", "the text column is guessed"
    at.button(key="use_predict").click().run()
    assert not at.exception and not at.error, at.error
    assert "3 of 4 rows scored" in texts(at.warning) and "(row 4)" in texts(at.warning)

    result = at.session_state[tlui.USE_BATCH]
    assert result["file"] == "new_predictions.csv"
    written = pd.read_csv(io.BytesIO(result["csv"]), dtype=str, keep_default_na=False)
    assert written["id"].tolist() == ["a", "b", "c", "d"], "every row comes back, in order"
    assert list(written.columns) == ["id", "message", "predicted", "confidence", "p_ham", "p_spam"]
    assert written.loc[2, "predicted"] == "" and set(written.loc[[0, 1, 3], "predicted"]) <= {"ham", "spam"}
    assert written.loc[3, "message"].startswith("'="), "formula cells are neutralised in the download"
    unscored = at.dataframe[0].value
    assert unscored["file row"].tolist() == [4] and unscored["id"].tolist() == ["c"]
    assert any(b.label == "Download predictions (CSV)" for b in at.get("download_button"))

    # An old .xls is let through the uploader (as on the Data page) so that the page can say how to convert it.
    uploader = at.file_uploader(key=tlui.USE_W_UPLOAD)
    assert ".xls" in list(uploader.proto.type)
    old_excel = (Path(__file__).parents[1] / "data" / "awkward" / "old_excel.xls").read_bytes()
    uploader.set_value(("old.xls", old_excel, "application/vnd.ms-excel")).run()
    assert not at.exception and "save it as .xlsx (Excel Workbook) or CSV" in texts(at.error), at.error


def test_export_to_a_zip_and_import_it_back(private_runs, monkeypatch, tmp_path, use_page, texts):
    root, ids = private_runs
    at = use_page(root, monkeypatch, **{tlui.USE_W_TAB: "Export & import"})
    at.selectbox(key=tlui.USE_W_EXPORT_RUN).set_value(ids["few-shot"]).run()
    assert "method.json" in texts(at.caption)
    at.button(key="use_build_export").click().run()
    assert not at.exception and not at.error, at.error
    built = at.session_state[tlui.USE_EXPORT]
    assert built["run_id"] == ids["few-shot"] and built["name"] == f"{ids['few-shot']}-export.zip"
    with zipfile.ZipFile(io.BytesIO(built["data"])) as zipped:
        assert f"{ids['few-shot']}-export/method.json" in zipped.namelist()
    assert any(b.label.startswith(f"Download {built['name']}") for b in at.get("download_button"))

    at.file_uploader(key=tlui.USE_W_IMPORT_UPLOAD).set_value(("shared-model.zip", built["data"], "application/zip"))
    at.run()
    at.button(key="use_import_zip").click().run()
    assert not at.exception and not at.error, at.error
    assert "Imported **shared-model.zip** as run" in texts(at.success)
    new = at.session_state[tlui.USE_W_RUNS][0]
    imported = tlcore.RunStore(root).get(new)
    assert imported.config()["imported_from"] == {**imported.config()["imported_from"], "source": "shared-model.zip",
                                                  "run_id": ids["few-shot"]}
    assert imported.status()["status"] == "succeeded"

    foreign = tmp_path / "not-an-export"
    foreign.mkdir()
    (foreign / "config.json").write_text("{}")
    at.text_input(key=tlui.USE_W_IMPORT_PATH).set_value(str(foreign)).run()
    at.button(key="use_import_path").click().run()
    assert "Not imported:" in texts(at.error) and "not a TransferLab export" in texts(at.error)
    assert len(tlcore.RunStore(root).summaries()) == len(ids) + 1
