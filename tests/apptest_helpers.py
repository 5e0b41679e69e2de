"""What the page tests share: open the app (optionally on one page) with a runs folder and session state."""
from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[1] / "app.py")
TIMEOUT = 60  # seconds per script run; the machine may be busy


def open_app(runs_dir: Path, monkeypatch, page: str | None = None, timeout: float = TIMEOUT, **state) -> AppTest:
    """The app run once with ``state`` in its session, then switched to ``page``; fails on any exception."""
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    if page:
        at.switch_page(page).run()
        assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    """The values of Streamlit elements (markdown, captions, alerts) as one string, for `in` checks."""
    return "\n".join(str(element.value) for element in elements)
