"""Fixtures of the page tests: the app served in headless Chromium (``server``, ``browser_page``), the
session state of a chosen dataset, and small helpers over AppTest elements. The AppTest fixtures that the
runs tests use too (``open_app``, ``texts``, ``runs_page`` ...) are in tests/conftest.py."""
from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest

import tlcore
import tlui

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots of the browser tests
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
UI_TIMEOUT_MS = 60_000


# -- the app in a real browser ------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def artifacts() -> Path:
    """test-artifacts/: where browser tests save their screenshots."""
    return ARTIFACTS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_healthy(url: str, process: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited with code {process.returncode} before answering")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout:.0f} s")


@pytest.fixture
def server(tmp_path, chromium):
    """The app on a free port, with TLCORE_RUNS_DIR in tmp; yields (url, runs folder)."""
    if not Path(chromium).exists():
        pytest.skip(f"no Chromium at {chromium} (install the Debian package 'chromium' or set TL_CHROMIUM)")
    pytest.importorskip("playwright.sync_api", reason="the playwright Python package is not installed")
    runs = tmp_path / "runs"
    port = _free_port()
    env = {**os.environ, "TLCORE_RUNS_DIR": str(runs)}
    log = open(tmp_path / "streamlit.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port), "--server.address",
         "127.0.0.1", "--server.headless", "true", "--server.fileWatcherType", "none",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, process)
        yield url, runs
    finally:
        import tlcore

        for run in tlcore.RunStore(runs).runs():  # never leave a worker training after a failed test
            try:
                if run.status().get("status") in tlcore.LIVE_STATES:
                    run.request_cancel()
            except tlcore.TLCoreError:
                pass
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


class Browser:
    """A Chromium page on the app, with the helpers the tests share."""

    def __init__(self, page, url: str) -> None:
        from playwright.sync_api import expect

        self.page, self.url, self.expect = page, url, expect
        self.main = page.get_by_test_id("stMain")

    def shot(self, name: str) -> None:
        """The whole page: Streamlit scrolls inside its main block, so grow the window to fit it first."""
        page = self.page
        height = page.evaluate("() => { const main = document.querySelector('[data-testid=\"stMain\"]');"
                               " return main ? main.scrollHeight : document.body.scrollHeight; }")
        page.set_viewport_size({"width": 1400, "height": max(1100, min(int(height), 6000))})
        page.mouse.move(0, 0)  # no tooltip in the picture
        page.wait_for_timeout(700)  # tooltips fade out
        page.screenshot(path=str(ARTIFACTS / f"browser-{name}.png"), full_page=True)
        page.set_viewport_size({"width": 1400, "height": 1100})

    def go(self, title: str) -> None:
        """Client-side navigation through the sidebar (a full reload would lose the session)."""
        self.page.get_by_test_id("stSidebar").get_by_role("link").filter(has_text=re.compile(f"{title}$")).click()
        self.expect(self.main.get_by_role("heading", name=re.compile(title)).first).to_be_visible()

    def choose(self, label: str, option: str) -> None:
        self.page.get_by_test_id("stSelectbox").filter(has_text=label).click()
        self.page.get_by_role("option", name=option, exact=True).click()

    def number(self, label: str, value: int) -> None:
        """Type a number and commit it. A value typed while the rerun of the previous change is still drawing the
        page can be replaced by the server's old one when that rerun ends (seen on a busy machine: a batch size of 4
        came back as 16), so wait for the page to be idle, check, and type it again if it was lost."""
        box = self.page.get_by_label(label, exact=True)
        for _ in range(3):
            box.fill(str(value))
            box.press("Enter")
            self.wait_until_idle()
            if box.input_value() == str(value):
                return
        self.expect(box).to_have_value(str(value))

    def wait_until_idle(self) -> None:
        """Until no script run is in progress (Streamlit shows its status widget while one is)."""
        self.page.wait_for_timeout(300)  # the rerun the last action caused has started by now
        self.expect(self.page.get_by_test_id("stStatusWidget")).to_be_hidden(timeout=60_000)

    def button(self, name: str):
        return self.page.get_by_role("button", name=re.compile(name))


    @contextlib.contextmanager
    def failure_shot(self):
        """A screenshot named 'failure' when the block raises (pytest does not tell fixtures that a test failed)."""
        try:
            yield
        except Exception:
            self.shot("failure")
            raise


@pytest.fixture
def browser_page(server, chromium):
    """(Browser helper, runs folder) on a fresh headless Chromium."""
    from playwright.sync_api import expect, sync_playwright

    url, runs = server
    ARTIFACTS.mkdir(exist_ok=True)
    expect.set_options(timeout=UI_TIMEOUT_MS)  # assertions default to 5 s, too short on a busy machine
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1100}, accept_downloads=True)
        page.set_default_timeout(UI_TIMEOUT_MS)
        try:
            yield Browser(page, url), runs
        finally:
            browser.close()


# -- AppTest helpers --------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def with_data():
    """``with_data(frame=None, name="sms_spam_sample.csv")``: the session state of data chosen on the Data page
    (the SMS sample by default)."""
    def state(frame: pd.DataFrame | None = None, name: str = "sms_spam_sample.csv") -> dict:
        frame = tlcore.load_sample("sms_spam") if frame is None else frame
        return {tlui.DATA_FRAME: frame, tlui.DATA_NAME: name, tlui.DATA_TEXT_COLUMN: "text",
                tlui.DATA_LABEL_COLUMN: "label"}
    return state


@pytest.fixture(scope="session")
def yelp_state():
    """``yelp_state()``: the session state of the bundled Yelp sample chosen on the Data page."""
    def state() -> dict:
        return {tlui.DATA_FRAME: tlcore.load_sample("yelp"), tlui.DATA_NAME: "yelp_reviews.csv",
                tlui.DATA_TEXT_COLUMN: "text", tlui.DATA_LABEL_COLUMN: "label"}
    return state


@pytest.fixture(scope="session")
def button():
    """``button(at, "Start run")``: the page's button with that label."""
    def find(at, label: str):
        return next(b for b in at.button if b.label == label)
    return find


@pytest.fixture(scope="session")
def early_stopped_run():
    """``early_stopped_run(store)``: a finished LoRA run made by hand (no training): validation loss best at
    epoch 2, stopped after epoch 4."""
    def make(store: tlcore.RunStore) -> tlcore.Run:
        data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
        run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="lora", per_class=8, test_size=20,
                                                 method_options={"epochs": 10, "early_stopping": 2},
                                                 data_name="sms_spam_sample.csv"), data, store=store)
        for epoch, val_loss in zip((1, 2, 3, 4), (0.6, 0.4, 0.45, 0.5)):
            run.append_event({"type": "train", "step": epoch, "epoch": epoch, "total_steps": 10,
                              "train_loss": val_loss + 0.1, "learning_rate": 1e-3, "examples_per_s": 10.0,
                              "elapsed": float(epoch)})
            run.append_event({"type": "eval", "step": epoch, "epoch": epoch, "total_steps": 10, "val_loss": val_loss,
                              "val_accuracy": 0.8, "elapsed": float(epoch)})
        metrics = {"run_id": run.id, "model": "minilm", "method": "lora", "n_train": 16, "n_test": 20,
                   "labels": ["ham", "spam"], "accuracy": 0.85, "macro_f1": 0.8, "confusion_matrix": [[15, 1], [2, 2]],
                   "per_class": {}, "majority_baseline": {"label": "ham", "accuracy": 0.8, "macro_f1": 0.444},
                   "train_seconds": 4.0, "predict_seconds": 1.0, "predict_seconds_per_1000": 50.0,
                   "total_seconds": 6.0, "trainable_params": 338690, "total_params": 23052676, "steps": 4,
                   "epochs": 10, "early_stopped": True, "best_epoch": 2,
                   "test_fingerprint": run.config()["split"]["test_fingerprint"]}
        (run.path / "metrics.json").write_text(json.dumps(metrics))
        run.update_status(status="succeeded", stage="done", finished=time.time())
        return run
    return make


@pytest.fixture(scope="session")
def start_button():
    """``start_button(at)``: the Train page's Start run button."""
    def find(at):
        return next(b for b in at.button if b.label == "Start run")
    return find
