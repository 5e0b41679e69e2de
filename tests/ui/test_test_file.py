"""The user's own test file: uploaded on the Data page (optional), used by the Train page's split (AppTest)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlcore  # noqa: E402
import tlui  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::tlcore.data.reading.DataWarning")

AWKWARD = Path(__file__).resolve().parents[1] / "data" / "awkward"


def uploader(at: AppTest, key: str):
    return next(u for u in at.file_uploader if u.key == key)


@pytest.fixture(scope="session")
def with_test_file(open_app):
    """``with_test_file(train, test, runs_dir, monkeypatch)``: the Data page with ``train`` uploaded as the data and
    ``test`` as the own test file."""
    def open_(train: str, test: str, runs_dir: Path, monkeypatch) -> AppTest:
        at = open_app(runs_dir, monkeypatch, tlui.DATA_PAGE)
        at.radio(key="data_w_source").set_value("Upload a file").run()
        uploader(at, "data_w_upload").upload(train, (AWKWARD / train).read_bytes(), "text/csv").run()
        assert not at.exception, at.exception
        assert any(e.label == "Use your own test file" for e in at.expander)
        uploader(at, "data_w_test_upload").upload(test, (AWKWARD / test).read_bytes(), "text/csv").run()
        assert not at.exception, at.exception
        return at
    return open_


def test_without_a_test_file_nothing_changes(tmp_path, monkeypatch, open_app, texts):
    at = open_app(tmp_path / "runs", monkeypatch, tlui.DATA_PAGE)
    assert any(e.label == "Use your own test file" for e in at.expander)
    assert at.session_state[tlui.DATA_TEST] is None
    at.switch_page(tlui.TRAIN_PAGE).run()
    assert not at.exception, at.exception
    assert at.number_input(key=tlui.TRAIN_W_TEST_SIZE).value == 0.2
    assert "test rows." in texts(at.caption) and "your file" not in texts(at.caption)


def test_overlapping_test_file_shows_its_rows_and_a_leakage_warning(tmp_path, monkeypatch, with_test_file, texts):
    at = with_test_file("leak_train.csv", "leak_test.csv", tmp_path / "runs", monkeypatch)
    assert not at.error
    assert "Test rows: **18** from **leak_test.csv**" in texts(at.caption)
    assert "also appear in the training file (leakage)" in texts(at.warning)
    assert "test row 17" in texts(at.warning)
    test = at.session_state[tlui.DATA_TEST]
    assert test["name"] == "leak_test.csv" and len(test["data"]) == 18
    assert len(at.session_state[tlui.DATA_FRAME]) == 40


def test_test_file_with_unseen_labels_shows_the_error(tmp_path, monkeypatch, with_test_file, texts):
    at = with_test_file("leak_train.csv", "unseen_labels_test.csv", tmp_path / "runs", monkeypatch)
    assert "labels that the training file lacks: 'mixed', 'neutral'" in texts(at.error)
    links = [str(link.value) for link in at.main.get("page_link")]
    assert not any(link.startswith("Next: train") for link in links)
    assert any("cannot be used" in link for link in links)


def test_test_file_without_the_columns_shows_the_library_message(tmp_path, monkeypatch, with_test_file, texts):
    at = with_test_file("leak_train.csv", "one_column.csv", tmp_path / "runs", monkeypatch)
    frame = tlcore.read_table((AWKWARD / "one_column.csv").read_bytes(), name="one_column.csv")
    with pytest.raises(tlcore.DatasetError) as raised:
        tlcore.to_labeled(frame, "text", "label", name="one_column.csv")
    assert tlui.page_message(str(raised.value)) in texts(at.error)
    assert at.session_state[tlui.DATA_TEST] is None
    assert not any(str(link.value).startswith("Next: train") for link in at.main.get("page_link"))


def test_train_page_split_uses_the_test_file(tmp_path, monkeypatch, with_test_file, texts):
    at = with_test_file("leak_train.csv", "leak_test.csv", tmp_path / "runs", monkeypatch)
    at.switch_page(tlui.TRAIN_PAGE).run()
    assert not at.exception, at.exception
    assert not at.error
    preview = texts(at.caption)
    assert "Test rows: your file **leak_test.csv** (18 rows)" in preview
    assert not any(n.key == tlui.TRAIN_W_TEST_SIZE for n in at.number_input)  # no test size to choose
    # all 40 rows of the data train: a 10 % validation hold-out (4 rows) would be too few to judge early stopping
    assert "**40** training rows" in preview and "**0** validation" in preview
    assert "Validation: no validation rows: a 10% hold-out would be 4 of only 40 training rows" in preview

    data = tlcore.to_labeled(at.session_state[tlui.DATA_FRAME], "text", "label", name="leak_train.csv")
    test = at.session_state[tlui.DATA_TEST]["data"]
    config = tlcore.RunConfig(model="minilm", method="zero-shot", data_name="leak_train.csv")
    run = tlcore.create_run(config, data, test=test, store=tlcore.RunStore(tmp_path / "runs"), sample_seed=0)
    assert run.id


def test_start_run_passes_the_test_file(tmp_path, monkeypatch, with_test_file):
    started = []
    monkeypatch.setattr(tlcore, "start_worker", lambda run: started.append(run))
    at = with_test_file("leak_train.csv", "leak_test.csv", tmp_path / "runs", monkeypatch)
    at.switch_page(tlui.TRAIN_PAGE).run()
    start = next(b for b in at.button if b.label == "Start run")
    if start.disabled:
        pytest.skip("the default model is not installed here")
    start.click().run()
    run_ids = at.session_state[tlui.TRAIN_RUNS]
    assert len(run_ids) == 1
    split = tlcore.RunStore(tmp_path / "runs").get(run_ids[0]).split()
    assert len(split.test) == 18 and "How awesome is that." in split.test.texts
