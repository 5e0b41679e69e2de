"""Fixtures shared by the test folders: small slices of real datasets, a fresh runs folder per test, the real
command line, finished runs that several folders use, and the helpers that drive the app's pages in AppTest.

Test modules never import each other (nor a helper module): what two folders share is a fixture here, what
two modules of one folder share is a fixture in that folder's conftest.py. A helper fixture returns a
function and is session-scoped, so that fixtures of any scope can use it.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

# The tests run where nothing outside can be reached, as CI does: no library may even try the Hugging Face Hub.
# (Importing tlcore sets nothing; its CLI and workers set this for themselves.)
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import tlcore  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHARED_DATASETS = ROOT.parent / "shared" / "datasets"
APP = str(ROOT / "app.py")
APP_TIMEOUT = 60  # seconds per script run of a page; the machine may be busy
CHROMIUM = os.environ.get("TL_CHROMIUM", "/usr/bin/chromium")


# -- data and runs folders ------------------------------------------------------------------------------------
@pytest.fixture(autouse=True)
def runs_dir(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "runs"
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(path))
    return path


@pytest.fixture(scope="session")
def yelp() -> tlcore.data.LabeledData:
    return tlcore.to_labeled(tlcore.load_sample("yelp"), "text", "label")


@pytest.fixture(scope="session")
def sms() -> tlcore.data.LabeledData:
    return tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")


@pytest.fixture(scope="session")
def tiny_split(yelp) -> tlcore.data.Split:
    """8 training rows (4 per class), 4 validation rows, 12 test rows of real Yelp review sentences."""
    return tlcore.make_split(yelp, test_size=12, val_size=4, per_class=4)


def _shared_dataset(*parts: str) -> Path:
    path = SHARED_DATASETS.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared dataset {path} is not present")
    return path


@pytest.fixture(scope="session")
def shared_dataset():
    """``shared_dataset("trec", "trec_train.csv")``: a file of ../shared/datasets; skips the test when it is absent."""
    return _shared_dataset


@pytest.fixture(scope="session")
def trec_path() -> Path:
    return _shared_dataset("trec", "trec_train.csv")


@pytest.fixture(scope="session")
def sms_path() -> Path:
    return ROOT / "tlcore" / "data" / "bundled" / "sms_spam_sample.csv"


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's headless Chromium (TL_CHROMIUM overrides the path); tests skip when it is not there."""
    return CHROMIUM


# -- the real command line and waiting on workers ---------------------------------------------------------------
@pytest.fixture(scope="session")
def tlcore_cli():
    """``tlcore_cli("runs", "--json", timeout=600)``: `python -m tlcore.cli ...` as a user runs it."""
    def run(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "tlcore.cli", *args], capture_output=True, text=True,
                              timeout=timeout)
    return run


# Runs first in the fresh interpreter: importing tlcore there fails, so an export cannot lean on it.
_BLOCK_TLCORE = '''
import sys
class _NoTLCore:
    def find_spec(self, name, path=None, target=None):
        if name == "tlcore" or name.startswith("tlcore."):
            raise ImportError("the export must load without tlcore")
        return None
sys.meta_path.insert(0, _NoTLCore())
'''


@pytest.fixture(scope="session")
def fresh_python():
    """``fresh_python(program, cwd)``: run ``program`` in a new interpreter, offline and with tlcore blocked (what
    an export's user has); it prints one JSON line last, returned parsed."""
    def run(program: str, cwd: Path) -> dict | list:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_VERBOSITY": "error"}
        env.pop("PYTHONPATH", None)
        result = subprocess.run([sys.executable, "-c", _BLOCK_TLCORE + program], cwd=cwd, env=env,
                                capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.strip().splitlines()[-1])
    return run


@pytest.fixture(scope="session")
def wait_for():
    """``wait_for(predicate, timeout=240)``: the predicate's first true value, polled; fails after ``timeout`` s."""
    def wait(predicate, timeout: float = 240, interval: float = 0.2):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise AssertionError("timed out waiting")
    return wait


# -- finished runs that several folders share ---------------------------------------------------------------
MADE_RUNS_TEST_ROWS = 40  # the one test split of make_runs' comparable runs


@pytest.fixture(scope="session")
def make_runs(yelp):
    """``make_runs(root, other_test_set=True)``: finished runs in ``root``: zero-shot, few-shot and linear-probe on
    one 40-row test split of the bundled Yelp sample, and (made first, so older) a zero-shot run on another split
    of 30 rows. Returns {name: run id}. ``make_runs.test_rows`` is the size of that one test split."""
    def make(root: Path, other_test_set: bool = True) -> dict[str, str]:
        store = tlcore.RunStore(root)
        plans = [("other", "zero-shot", {}, 30)] if other_test_set else []
        plans += [("zero-shot", "zero-shot", {}, MADE_RUNS_TEST_ROWS),
                  ("few-shot", "few-shot", {"shots": 4}, MADE_RUNS_TEST_ROWS),
                  ("linear-probe", "linear-probe", {}, MADE_RUNS_TEST_ROWS)]
        ids = {}
        for name, method, options, test_size in plans:
            config = tlcore.RunConfig(model="minilm", method=method, method_options=options, per_class=8,
                                      test_size=test_size, data_name="yelp_reviews.csv")
            run = tlcore.create_run(config, yelp, store=store)
            tlcore.execute(run)
            ids[name] = run.id
            if name == "other":
                time.sleep(1.1)  # run ids start with a one-second timestamp: the other test set is the older one
        return ids
    make.test_rows = MADE_RUNS_TEST_ROWS
    return make


CHECKS_TEST_SIZE = 60


@pytest.fixture(scope="session")
def probe_texts(shared_dataset) -> list[str]:
    """30 IMDb sentences that contain a default counterfactual term and 10 that contain none."""
    from tlcore.compare import checks

    terms = {term.casefold() for pair in checks.DEFAULT_PAIRS for term in pair}
    texts = pd.read_csv(shared_dataset("uci_sentiment_labelled", "imdb_all.csv"), dtype=str)["text"].tolist()
    has = [t for t in texts if terms & {w.casefold() for w in re.findall(r"\w+", t)}]
    lacks = [t for t in texts if not terms & {w.casefold() for w in re.findall(r"\w+", t)}]
    return has[:30] + lacks[:10]


@pytest.fixture(scope="session")
def checks_runs(tmp_path_factory, shared_dataset, probe_texts) -> dict:
    """Once per session, for the checks' library, command-line and page tests: a review file (Yelp, plus some
    Amazon rows, with a `domain` column), three finished runs on it (linear probe, zero-shot and a 2-epoch LoRA on
    MiniLM, all on the same 60-row test split), an IMDb test file with differently spelled labels, and a probe
    file. {method: run id, "root": folder, "test_size": 60}."""
    def domain(name: str, per_class: int, seed: int = 0) -> pd.DataFrame:
        frame = pd.read_csv(shared_dataset("uci_sentiment_labelled", f"{name}_all.csv"), dtype=str,
                            keep_default_na=False)
        return pd.concat([rows.sample(n=per_class, random_state=seed) for _, rows in frame.groupby("label")])

    root = tmp_path_factory.mktemp("checks-runs")
    yelp, amazon = domain("yelp", 80).assign(domain="yelp"), domain("amazon", 20).assign(domain="amazon")
    mixed = pd.concat([yelp, amazon]).sample(frac=1.0, random_state=0)[["text", "label", "domain"]]
    mixed.to_csv(root / "reviews_mixed.csv", index=False)
    imdb = domain("imdb", 40, seed=1)
    imdb.assign(label=imdb["label"].str.capitalize()).to_csv(root / "imdb_small.csv", index=False)
    pd.DataFrame({"review": probe_texts}).to_csv(root / "probe.csv", index=False)
    store = tlcore.RunStore(root / "runs")
    data = tlcore.to_labeled(mixed, "text", "label")
    ids = {}
    for method, options, per_class in (("linear-probe", {}, 40), ("zero-shot", {}, 40),
                                       ("lora", {"epochs": 2, "max_length": 48}, 8)):
        config = tlcore.RunConfig(model="minilm", method=method, method_options=options, per_class=per_class,
                                  test_size=CHECKS_TEST_SIZE, data_name="reviews_mixed.csv")
        run = tlcore.create_run(config, data, store=store)
        tlcore.execute(run)
        ids[method] = run.id
    return {**ids, "root": root, "test_size": CHECKS_TEST_SIZE}


@pytest.fixture(scope="session")
def checks_run(checks_runs):
    """``checks_run("linear-probe")``: that run of ``checks_runs``."""
    def get(method: str) -> tlcore.Run:
        return tlcore.RunStore(checks_runs["root"] / "runs").get(checks_runs[method])
    return get


# -- pages in AppTest (the page tests, and the runs tests that look at a run the way the app shows it) -----------
@pytest.fixture(scope="session")
def open_app():
    """``open_app(runs_dir, monkeypatch, page=None, timeout=60, **state)``: the app run once with ``state`` in its
    session, then switched to ``page`` (a path like tlui.DATA_PAGE); fails on any exception."""
    from streamlit.testing.v1 import AppTest

    def open_(runs_dir: Path, monkeypatch, page: str | None = None, timeout: float = APP_TIMEOUT,
              **state) -> AppTest:
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
    return open_


@pytest.fixture(scope="session")
def new_app():
    """``new_app(timeout=60)``: an AppTest of the app, not run yet (for tests that set secrets or switch first)."""
    from streamlit.testing.v1 import AppTest

    def new(timeout: float = APP_TIMEOUT) -> AppTest:
        return AppTest.from_file(APP, default_timeout=timeout)
    return new


@pytest.fixture(scope="session")
def texts():
    """``texts(at.info)``: the values of Streamlit elements (markdown, captions, alerts) as one string."""
    def join(elements) -> str:
        return "\n".join(str(element.value) for element in elements)
    return join


@pytest.fixture(scope="session")
def runs_page(open_app):
    """``runs_page(runs_dir, monkeypatch, **state)``: the Runs page, opened in a fresh session."""
    import tlui

    def open_(runs_dir: Path, monkeypatch, **state):
        return open_app(runs_dir, monkeypatch, tlui.RUNS_PAGE, **state)
    return open_


@pytest.fixture(scope="session")
def runs_table():
    """``runs_table(at)``: the Runs page's table of runs (a DataFrame)."""
    def table(at) -> pd.DataFrame:
        return at.dataframe[0].value
    return table


@pytest.fixture(scope="session")
def chart_specs():
    """``chart_specs(at)``: the plotly figures the page draws, as dicts."""
    def specs(at) -> list[dict]:
        return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return specs


@pytest.fixture(scope="session")
def train_points():
    """``train_points(loss_figure)``: the steps of the raw training-loss trace."""
    def points(spec: dict) -> list:
        return next(trace["x"] for trace in spec["data"] if trace.get("name") == "train loss")
    return points
