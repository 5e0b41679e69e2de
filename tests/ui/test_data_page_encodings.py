"""The Data page with files from outside Western Europe (tests/data/encodings/): it says which encoding it found
and how sure the detector was, refuses a file whose encoding is unclear with the place to choose it, and reads
the file in the encoding chosen there. AppTest uploads, no browser."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlui  # noqa: E402

ENCODED = Path(__file__).resolve().parents[1] / "data" / "encodings"


@pytest.fixture
def upload(open_app, tmp_path, monkeypatch):
    """``upload(file)``: the Data page with ``file`` of the encodings corpus uploaded."""
    def open_(file: str) -> AppTest:
        at = open_app(tmp_path / "runs", monkeypatch, tlui.DATA_PAGE)
        at.radio(key="data_w_source").set_value("Upload a file").run()
        at.file_uploader[0].upload(file, (ENCODED / file).read_bytes(), "text/csv").run()
        assert not at.exception, at.exception
        return at
    return open_


def test_the_encoding_found_and_its_confidence_are_shown(upload, texts):
    at = upload("russian_cp1251.csv")
    assert not at.error
    captions = texts(at.caption)
    assert "Read as cp1251 (detected, 100% confidence), delimiter comma." in captions  # the Reading options
    assert "encoding cp1251 (detected, 100% confidence)" in captions  # the validation report's info line
    frame = at.session_state[tlui.DATA_FRAME]
    assert frame["text"].iloc[0] == "Отличный ресторан, обязательно придём ещё раз."
    assert at.selectbox(key="data_w_encoding::russian_cp1251.csv").value == "auto"


def test_an_unclear_encoding_is_refused_then_read_as_chosen(upload, texts):
    file = "japanese_shift_jis_short.csv"
    at = upload(file)
    error = texts(at.error)
    assert "encoding is unclear" in error and "料理がとても美味しかったです。" in error
    assert "Choose the encoding in the Encoding box under Reading options" in error and "--encoding" not in error
    assert at.session_state[tlui.DATA_FRAME] is None
    reading = next(e for e in at.expander if e.label == "Reading options")
    assert reading.proto.expanded  # open, so the box is in sight

    at.selectbox(key=f"data_w_encoding::{file}").set_value("shift_jis").run()
    assert not at.exception, at.exception
    assert not at.error
    assert "Read as shift_jis (chosen), delimiter comma." in texts(at.caption)
    frame = at.session_state[tlui.DATA_FRAME]
    assert frame["text"].tolist()[:2] == ["料理がとても美味しかったです。",
                                          "一時間以上待たされて料理も冷めていました。"]
