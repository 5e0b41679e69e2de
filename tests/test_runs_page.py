"""The Runs page (pages/4_Runs.py) with streamlit.testing.v1.AppTest: list, filter, open, delete, duplicate, YAML."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

import tlcore  # noqa: E402
import tlui  # noqa: E402

APP = str(ROOT / "app.py")
TIMEOUT = 60  # seconds per script run; the machine may be busy
OPEN = "runs_w_open"
DAMAGED = "20250101-000000-lora-minilm-dead"


def runs_page(runs_dir: Path, monkeypatch, **state) -> AppTest:
    monkeypatch.setenv("TLCORE_RUNS_DIR", str(runs_dir))
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(tlui.RUNS_PAGE).run()
    assert not at.exception, at.exception
    return at


def texts(elements) -> str:
    return "\n".join(str(element.value) for element in elements)


def button(at: AppTest, label: str):
    return next(b for b in at.button if b.label == label)


def table(at: AppTest):
    return at.dataframe[0].value


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Two finished runs (zero-shot, few-shot), a queued one, a hand-made early-stopped LoRA run, a damaged folder."""
    root = tmp_path_factory.mktemp("runs")
    store = tlcore.RunStore(root)
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    ids = {}
    for method, options in (("zero-shot", {}), ("few-shot", {"shots": 4})):
        config = tlcore.RunConfig(model="minilm", method=method, method_options=options, per_class=8, test_size=20,
                                  data_name="sms_spam_sample.csv")
        run = tlcore.create_run(config, data, store=store)
        tlcore.execute(run)
        ids[method] = run.id
        time.sleep(1.1)  # run ids start with a one-second timestamp: keep "newest first" unambiguous
    from test_pages import early_stopped_run

    ids["lora"] = early_stopped_run(store).id
    time.sleep(1.1)
    queued = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8, test_size=20), data,
                               store=store)  # no worker: it waits in the queue for ever
    ids["queued"] = queued.id
    damaged = root / DAMAGED
    damaged.mkdir()
    (damaged / "config.json").write_text("{not json")
    (damaged / "status.json").write_text(json.dumps({"status": "failed", "error": "boom"}))
    ids["damaged"] = DAMAGED
    return root, ids


@pytest.fixture
def copy_of(tmp_path, runs):
    """A private runs folder holding copies of some shared runs, for tests that change them."""
    root, ids = runs

    def make(*names: str) -> Path:
        mine = tmp_path / "my-runs"
        mine.mkdir(exist_ok=True)
        for name in names:
            shutil.copytree(root / ids[name], mine / ids[name])
        return mine
    return make


def test_runs_page_without_runs_links_to_train(tmp_path, monkeypatch):
    at = runs_page(tmp_path / "none", monkeypatch)
    assert at.title[0].value == "Runs"
    assert "No runs yet" in texts(at.info)
    assert [link.value for link in at.main.get("page_link")] == ["Go to Train"]


def test_runs_page_lists_every_run_newest_first_with_the_damaged_one(runs, monkeypatch):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    frame = table(at)
    assert list(frame["Run"]) == [ids["queued"], ids["lora"], ids["few-shot"], ids["zero-shot"], DAMAGED]
    rows = frame.set_index("Run")
    assert rows.loc[ids["zero-shot"], "Status"] == "succeeded"
    assert rows.loc[ids["zero-shot"], "Method"] == "zero-shot" and rows.loc[ids["zero-shot"], "Model"] == "minilm"
    assert rows.loc[ids["zero-shot"], "Data"] == "sms_spam_sample.csv"
    assert rows.loc[ids["zero-shot"], "Test rows"] == 20
    fingerprint = tlcore.RunStore(root).get(ids["zero-shot"]).config()["split"]["test_fingerprint"]
    assert rows.loc[ids["zero-shot"], "Test set"] == fingerprint[:8]
    assert 0 <= rows.loc[ids["zero-shot"], "Accuracy"] <= 1 and rows.loc[ids["zero-shot"], "Duration"].endswith("s")
    assert rows.loc[ids["queued"], "Note"] == "queued — position 1"
    assert rows.loc[DAMAGED, "Status"] == "damaged"
    assert "config.json is damaged" in rows.loc[DAMAGED, "Note"]
    assert DAMAGED in texts(at.warning)  # called out under the table too
    assert "5 of 5 runs shown" in texts(at.caption)


def test_runs_page_filters_and_sorts(runs, monkeypatch):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    at.multiselect(key="runs_w_status").set_value(["succeeded"]).run()
    assert not at.exception
    assert set(table(at)["Run"]) == {ids["zero-shot"], ids["few-shot"], ids["lora"]}
    at.multiselect(key="runs_w_method").set_value(["few-shot", "zero-shot"]).run()
    assert set(table(at)["Run"]) == {ids["zero-shot"], ids["few-shot"]}
    at.selectbox(key="runs_w_sort").set_value("Accuracy (best first)").run()
    accuracy = list(table(at)["Accuracy"])
    assert accuracy == sorted(accuracy, reverse=True)
    assert at.selectbox(key=OPEN).options == [
        tlui.run_label(method, "minilm", run_id) + " · succeeded"
        for method, run_id in sorted(((m, ids[m]) for m in ("few-shot", "zero-shot")),
                                     key=lambda item: -tlcore.RunStore(root).get(item[1]).metrics()["accuracy"])]
    at.multiselect(key="runs_w_model").set_value(["minilm"]).run()
    at.multiselect(key="runs_w_status").set_value(["damaged"]).run()  # damaged runs have no model
    assert "No run matches these filters" in texts(at.info)


def test_runs_page_opens_a_run(runs, monkeypatch):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    assert at.selectbox(key=OPEN).value is None  # nothing open until asked
    at.selectbox(key=OPEN).set_value(ids["lora"]).run()
    assert not at.exception
    assert "lora · minilm on sms_spam_sample.csv" in texts(at.markdown)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Accuracy"] == "85.0%" and metrics["Macro-F1"] == "0.800"
    assert "Stopped early at epoch 4 of 10; kept epoch 2's weights" in texts(at.info)
    assert len(at.get("plotly_chart")) == 1  # the loss / validation chart
    settings = json.loads(at.json[0].proto.body)
    assert settings["method"] == "lora" and settings["method_options"] == {"epochs": 10, "early_stopping": 2}
    assert {b.label for b in at.button} >= {"Duplicate into Train", "Delete"}
    assert "Cancel run" not in {b.label for b in at.button}  # finished
    assert at.download_button[0].label == "Download config (YAML)"


def test_runs_page_opens_a_damaged_run_without_crashing(runs, monkeypatch):
    at = runs_page(runs[0], monkeypatch)
    at.selectbox(key=OPEN).set_value(DAMAGED).run()
    assert not at.exception
    assert "This run folder is damaged" in texts(at.error)
    assert button(at, "Duplicate into Train").disabled
    assert not button(at, "Delete").disabled


def test_runs_page_downloads_the_config_as_yaml(runs, monkeypatch):
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    saved = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        saved[filename] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    root, ids = runs
    at = runs_page(root, monkeypatch)
    at.selectbox(key=OPEN).set_value(ids["zero-shot"]).run()
    assert not at.exception
    content = saved[f"{ids['zero-shot']}.yaml"]
    content = content.decode() if isinstance(content, bytes) else content
    assert "method: zero-shot" in content and "model: minilm" in content and "test_size: 20" in content
    assert content == tlcore.RunStore(root).get(ids["zero-shot"]).config_yaml()


def test_runs_page_deletes_after_confirmation(runs, copy_of, monkeypatch):
    _, ids = runs
    mine = copy_of("zero-shot", "few-shot", "damaged")
    at = runs_page(mine, monkeypatch)
    at.selectbox(key=OPEN).set_value(ids["zero-shot"]).run()
    button(at, "Delete").click().run()
    assert not at.exception
    assert "cannot be undone" in texts(at.warning)
    assert (mine / ids["zero-shot"]).exists()  # nothing happens before the confirmation
    button(at, "Keep it").click().run()
    assert "cannot be undone" not in texts(at.warning)
    assert (mine / ids["zero-shot"]).exists()

    button(at, "Delete").click().run()
    button(at, "Yes, delete it").click().run()
    assert not at.exception
    assert not (mine / ids["zero-shot"]).exists()
    assert f"Deleted run {ids['zero-shot']}" in texts(at.success)
    assert ids["zero-shot"] not in set(table(at)["Run"])
    assert at.selectbox(key=OPEN).value is None  # the deleted run is no longer open

    at.selectbox(key=OPEN).set_value(DAMAGED).run()  # a damaged folder can be deleted too
    button(at, "Delete").click().run()
    button(at, "Yes, delete it").click().run()
    assert not at.exception
    assert not (mine / DAMAGED).exists()
    assert list(table(at)["Run"]) == [ids["few-shot"]]


def test_runs_page_refuses_to_delete_a_live_run_and_cancels_it(runs, copy_of, monkeypatch):
    _, ids = runs
    mine = copy_of("queued")
    at = runs_page(mine, monkeypatch)
    at.selectbox(key=OPEN).set_value(ids["queued"]).run()
    assert "Queued — position 1" in at.get("progress")[0].proto.text
    button(at, "Delete").click().run()
    assert "It is still queued: cancel it first." in texts(at.warning)
    button(at, "Yes, delete it").click().run()
    assert not at.exception
    assert "cancel it before deleting" in texts(at.error)
    assert (mine / ids["queued"]).exists()

    button(at, "Cancel run").click().run()
    assert not at.exception
    assert tlcore.RunStore(mine).get(ids["queued"]).cancel_requested
    assert "Cancel requested" in texts(at.info)
    assert button(at, "Cancel run").disabled


def test_runs_page_duplicates_a_run_into_train(runs, monkeypatch):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    at.selectbox(key=OPEN).set_value(ids["few-shot"]).run()
    button(at, "Duplicate into Train").click().run()
    assert not at.exception
    assert at.title[0].value == "2 · Train"
    assert f"Settings copied from run {ids['few-shot']}" in texts(at.info).replace("`", "")
    assert at.selectbox(key=tlui.TRAIN_W_MODEL).value == "minilm"
    assert at.selectbox(key=tlui.TRAIN_W_METHOD).value == "few-shot"
    assert at.number_input(key=tlui.option_key("few-shot", "shots")).value == 4
    assert at.number_input(key=tlui.TRAIN_W_TEST_SIZE).value == 20
    assert at.number_input(key=tlui.TRAIN_W_PER_CLASS).value == 8
    assert at.checkbox(key=tlui.TRAIN_W_USE_ALL).value is False
    assert at.session_state[tlui.DATA_NAME] == "sms_spam_sample.csv"  # a bundled sample is loaded again
    assert "Split: **16** training rows (ham 8, spam 8)" in texts(at.caption)
    button(at, "Start run")  # ready to go

    # A run with options that are not defaults, and its own split: the Train page takes all of them.
    at.switch_page(tlui.RUNS_PAGE).run()
    at.selectbox(key=OPEN).set_value(ids["lora"]).run()
    button(at, "Duplicate into Train").click().run()
    assert not at.exception
    assert at.selectbox(key=tlui.TRAIN_W_METHOD).value == "lora"
    assert at.number_input(key=tlui.option_key("lora", "epochs")).value == 10
    assert at.number_input(key=tlui.option_key("lora", "early_stopping")).value == 2
    assert at.number_input(key=tlui.option_key("lora", "r")).value == 8  # the default it ran with
