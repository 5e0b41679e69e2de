"""A deep link on a freshly started server (before any session has run app.py) still meets the password gate.

Streamlit 1.67 runs the scripts of a folder named pages/ directly until some session calls st.navigation, so a
first visitor's /Data skipped app.py and its gate (seen with the page scripts in pages/). They live in
app_pages/, which only app.py's st.navigation knows.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser


@pytest.mark.parametrize("path", ["Data", "Runs"])
def test_a_deep_link_on_a_fresh_server_meets_the_password_gate(path, monkeypatch, request, chromium):
    monkeypatch.setenv("TRANSFERLAB_PASSWORD", "s3cret")
    url, _ = request.getfixturevalue("server")  # started after the password is set
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, headless=True)
        try:
            page = browser.new_page()
            page.goto(f"{url}/{path}")
            expect(page.get_by_text("Password", exact=True)).to_be_visible(timeout=60_000)
            assert page.get_by_text("1 · Data").count() == 0 and page.get_by_role("table").count() == 0
        finally:
            browser.close()
