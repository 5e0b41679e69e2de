"""The Data page over the corpus of awkward files (tests/data/awkward/): AppTest uploads, no browser.

Every file must give either a preview or an st.error with the library's own message, never an exception; the
validation report (errors, warnings, an info line), the label-variant merge and the sheet choice are checked
on the files made for them.
"""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlcore  # noqa: E402
import tlui  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::tlcore.data.reading.DataWarning")

AWKWARD = Path(__file__).resolve().parents[1] / "data" / "awkward"
FILES = sorted(path.name for path in AWKWARD.iterdir() if path.is_file())


@pytest.fixture(scope="session")
def upload(open_app):
    """``upload(file, runs_dir, monkeypatch)``: the Data page with ``file`` uploaded through its file uploader."""
    def open_(file: str, runs_dir: Path, monkeypatch) -> AppTest:
        at = open_app(runs_dir, monkeypatch, tlui.DATA_PAGE)
        at.radio(key="data_w_source").set_value("Upload a file").run()
        at.file_uploader[0].upload(file, (AWKWARD / file).read_bytes(), "application/octet-stream").run()
        assert not at.exception, at.exception
        return at
    return open_


def previewed(at: AppTest) -> bool:
    return any(str(expander.label).startswith("Preview of") for expander in at.expander)


def test_the_corpus_is_here():
    assert len(FILES) >= 50


@pytest.mark.parametrize("file", FILES)
def test_every_awkward_file_gives_a_preview_or_a_clear_error(file, tmp_path, monkeypatch, upload, texts):
    at = upload(file, tmp_path / "runs", monkeypatch)
    errors = texts(at.error)
    assert previewed(at) or errors, f"{file}: neither a preview nor an error"
    assert "Traceback" not in errors and "Exception" not in errors
    for element in at.error:
        assert file in str(element.value) or len(str(element.value)) > 40, element.value  # a specific message
    if previewed(at):
        info = texts(at.caption)
        assert "rows read" in info and "usable" in info  # the report's info line
    else:
        assert at.session_state[tlui.DATA_FRAME] is None


@pytest.mark.parametrize("file, words", [
    ("empty.csv", "is empty"),
    ("binary_junk.csv", "looks like a binary file"),
    ("html_page.csv", "is an HTML page"),
    ("gzipped.csv", "gzip-compressed; decompress it first"),
    ("truncated.json", "is not valid JSON"),
    ("unclosed_quote.csv", "closes only on line 15"),
])
def test_unreadable_file_shows_the_library_message(file, words, tmp_path, monkeypatch, upload, texts):
    at = upload(file, tmp_path / "runs", monkeypatch)
    assert words in texts(at.error)
    with pytest.raises(tlcore.TLCoreError) as raised:
        tlcore.read_table((AWKWARD / file).read_bytes(), name=file)
    assert str(raised.value) in texts(at.error)  # the library's message, as it is
    assert not previewed(at)
    assert at.session_state[tlui.DATA_FRAME] is None


@pytest.mark.parametrize("file, code", [("float_labels.csv", "float_labels"), ("single_class.csv", "single_class"),
                                        ("tiny_class.csv", "class_too_small")])
def test_blocking_report_errors_are_shown_and_the_train_link_says_so(file, code, tmp_path, monkeypatch, upload, texts):
    at = upload(file, tmp_path / "runs", monkeypatch)
    assert previewed(at)
    frame = tlcore.read_table((AWKWARD / file).read_bytes(), name=file)
    report = tlcore.validate(frame, *tlcore.data.guess_columns(frame), name=file)
    assert code in [issue.code for issue in report.errors]
    shown = texts(at.error)
    assert tlui.page_message(report.issue(code).message) in shown
    links = [link.value for link in at.main.get("page_link")]
    assert not any(str(link).startswith("Next: train") for link in links)
    if at.session_state[tlui.DATA_FRAME] is not None:  # to_labeled accepted it: the link says it cannot be used
        assert any("cannot be used" in str(link) for link in links)


def test_warnings_name_their_rows_and_the_info_line_says_what_to_beat(tmp_path, monkeypatch, upload, texts):
    at = upload("imbalanced.csv", tmp_path / "runs", monkeypatch)
    assert not at.error
    assert "must beat 90.0% accuracy" in texts(at.warning)
    info = texts(at.caption)
    assert "CSV" in info and "50 rows read, 50 usable" in info and "90.0%" in info
    assert [str(link.value) for link in at.main.get("page_link")][-1] == "Next: train a model on this data"

    at = upload("duplicates.csv", tmp_path / "runs", monkeypatch)
    assert "row 42 repeats row 2" in texts(at.warning)


def test_label_variants_merge_button_merges(tmp_path, monkeypatch, upload, texts, button):
    at = upload("label_variants.csv", tmp_path / "runs", monkeypatch)
    assert "label_variants" not in texts(at.error)
    assert any("POSITIVE" in str(w.value) for w in at.warning)
    assert {metric.label: metric.value for metric in at.metric}["Classes"] != "2"
    button(at, "Merge label variants").click().run()
    assert not at.exception, at.exception
    assert not any(b.label == "Merge label variants" for b in at.button)  # no variants left
    assert not at.warning
    assert {metric.label: metric.value for metric in at.metric}["Classes"] == "2"
    frame = at.session_state[tlui.DATA_FRAME]
    assert sorted(frame["label"].astype(str).str.strip().unique()) == ["negative", "positive"]
    assert "Merged label variants" in texts(at.caption)
    figure = at.get("plotly_chart")[0].proto.spec
    assert "POSITIVE" not in figure  # the class chart shows the merged classes


def test_two_sheet_workbook_has_a_sheet_select(tmp_path, monkeypatch, upload, texts):
    at = upload("two_sheets.xlsx", tmp_path / "runs", monkeypatch)
    sheet = at.selectbox(key="data_w_sheet::two_sheets.xlsx")
    assert sheet.options == ["Notes", "Data"] and sheet.value == "Notes"
    assert "also has the sheet 'Data'" in texts(at.error)  # the notes sheet has a single column
    assert at.session_state[tlui.DATA_FRAME] is None
    sheet.set_value("Data").run()
    assert not at.exception, at.exception
    assert not at.error
    assert len(at.session_state[tlui.DATA_FRAME]) == 40
    assert "sheet 'Data'" in texts(at.caption)
