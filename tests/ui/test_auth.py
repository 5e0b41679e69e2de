"""The optional password gate for an app served to a team (AppTest, no browser)."""
from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlui  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PAGES = ["app.py", tlui.DATA_PAGE, tlui.RUNS_PAGE]
TITLES = {"app.py": "TransferLab", tlui.DATA_PAGE: "1 · Data", tlui.RUNS_PAGE: "Runs"}  # each page's own title


def page(path: str, tmp_path, monkeypatch) -> AppTest:
    """The app, opened at ``path`` (run it to draw the page)."""
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=60)
    return at if path == "app.py" else at.switch_page(path)


def sign_in(at: AppTest, password: str) -> None:
    at.text_input[0].set_value(password)  # inside a form: sent with the submit button's click
    at.button[0].click().run()


def test_without_a_password_every_page_is_open(tmp_path, monkeypatch):
    monkeypatch.delenv("TRANSFERLAB_PASSWORD", raising=False)
    at = page("app.py", tmp_path, monkeypatch).run()
    assert not at.exception and at.title[0].value == "TransferLab" and not at.text_input


@pytest.mark.parametrize("path", PAGES)
def test_a_configured_password_guards_every_page(path, tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFERLAB_PASSWORD", "s3cret ünïcode")
    at = page(path, tmp_path, monkeypatch).run()
    assert not at.exception
    assert [t.label for t in at.text_input] == ["Password"]
    assert not at.sidebar.get("page_link") and not at.dataframe and not at.metric  # nothing else is drawn

    sign_in(at, "wrong")
    assert "not right" in at.error[0].value and [t.label for t in at.text_input] == ["Password"]

    sign_in(at, "s3cret ünïcode")
    assert not at.exception and not at.error
    assert at.sidebar.get("page_link"), "the page itself is shown after signing in"
    assert at.title[0].value == TITLES[path], "the page asked for, not another one"


def test_secrets_file_password_takes_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv("TRANSFERLAB_PASSWORD", "from-env")
    at = page("app.py", tmp_path, monkeypatch)
    at.secrets["transferlab"] = {"password": "from-secrets"}
    at.run()
    sign_in(at, "from-env")
    assert at.error, "the environment's password must not open an app whose secrets set another"
    sign_in(at, "from-secrets")
    assert at.title[0].value == "TransferLab" and not at.error
