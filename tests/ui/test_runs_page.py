"""The Runs page (app_pages/4_Runs.py) with streamlit.testing.v1.AppTest: list, filter, open, delete, duplicate,
YAML."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")

import tlcore  # noqa: E402
import tlui  # noqa: E402

OPEN = "runs_w_open"
DAMAGED = "20250101-000000-lora-minilm-dead"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, early_stopped_run) -> tuple[Path, dict[str, str]]:
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


def test_runs_page_without_runs_links_to_train(tmp_path, monkeypatch, texts, runs_page):
    at = runs_page(tmp_path / "none", monkeypatch)
    assert at.title[0].value == "Runs"
    assert "No runs yet" in texts(at.info)
    assert [link.value for link in at.main.get("page_link")] == ["Go to Train"]


def test_runs_page_lists_every_run_newest_first_with_the_damaged_one(runs, monkeypatch, texts, runs_page, runs_table):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    frame = runs_table(at)
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


def test_runs_page_filters_and_sorts(runs, monkeypatch, texts, runs_page, runs_table):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    at.multiselect(key="runs_w_status").set_value(["succeeded"]).run()
    assert not at.exception
    assert set(runs_table(at)["Run"]) == {ids["zero-shot"], ids["few-shot"], ids["lora"]}
    at.multiselect(key="runs_w_method").set_value(["few-shot", "zero-shot"]).run()
    assert set(runs_table(at)["Run"]) == {ids["zero-shot"], ids["few-shot"]}
    at.selectbox(key="runs_w_sort").set_value("Accuracy (best first)").run()
    accuracy = list(runs_table(at)["Accuracy"])
    assert accuracy == sorted(accuracy, reverse=True)
    assert at.selectbox(key=OPEN).options == [
        tlui.run_label(method, "minilm", run_id) + " · succeeded"
        for method, run_id in sorted(((m, ids[m]) for m in ("few-shot", "zero-shot")),
                                     key=lambda item: -tlcore.RunStore(root).get(item[1]).metrics()["accuracy"])]
    at.multiselect(key="runs_w_model").set_value(["minilm"]).run()
    at.multiselect(key="runs_w_status").set_value(["damaged"]).run()  # damaged runs have no model
    assert "No run matches these filters" in texts(at.info)


def test_runs_page_opens_a_run(runs, monkeypatch, texts, runs_page):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    assert at.selectbox(key=OPEN).value is None  # nothing open until asked
    at.selectbox(key=OPEN).set_value(ids["lora"]).run()
    assert not at.exception
    assert "lora · minilm on sms_spam_sample.csv" in texts(at.markdown)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Accuracy"] == "85.0%" and metrics["Macro-F1"] == "0.800"
    assert "Stopped early at epoch 4 of 10; kept epoch 2's weights" in texts(at.info)
    assert len(at.get("plotly_chart")) == 2  # the loss / validation chart; learning rate and throughput
    settings = json.loads(at.json[0].proto.body)
    assert settings["method"] == "lora" and settings["method_options"] == {"epochs": 10, "early_stopping": 2}
    assert {b.label for b in at.button} >= {"Duplicate into Train", "Delete"}
    assert "Cancel run" not in {b.label for b in at.button}  # finished
    assert at.download_button[0].label == "Download config (YAML)"


def test_runs_page_gives_the_command_line_that_repeats_a_run(runs, monkeypatch, runs_page):
    from tlcore.cli import run_command

    root, ids = runs
    at = runs_page(root, monkeypatch)
    at.selectbox(key=OPEN).set_value(ids["lora"]).run()
    assert not at.exception
    (code,) = at.code
    assert code.value == run_command(tlcore.RunStore(root).get(ids["lora"]).config())
    assert code.value.startswith("tlcore run --train ") and "--method lora" in code.value
    assert "--epochs 10" in code.value and "--option early_stopping=2" in code.value  # what differs from defaults


def test_a_link_opens_a_run_and_the_address_follows_the_open_run(runs, monkeypatch, runs_page, texts):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    at.query_params["run"] = ids["zero-shot"]  # /Runs?run=ID, e.g. a link a colleague sent
    at.run()
    assert not at.exception
    assert at.selectbox(key=OPEN).value == ids["zero-shot"]
    at.selectbox(key=OPEN).set_value(ids["few-shot"]).run()
    assert at.selectbox(key=OPEN).value == ids["few-shot"]  # the old address does not undo the choice
    assert at.query_params["run"] in (ids["few-shot"], [ids["few-shot"]])  # the address is a link to it

    at.query_params["run"] = "20990101-000000-zero-shot-minilm-gone"
    at.run()
    assert "which is not among the runs shown here" in texts(at.warning)


def test_runs_page_opens_a_damaged_run_without_crashing(runs, monkeypatch, texts, runs_page, button):
    at = runs_page(runs[0], monkeypatch)
    at.selectbox(key=OPEN).set_value(DAMAGED).run()
    assert not at.exception
    assert "This run folder is damaged" in texts(at.error)
    assert button(at, "Duplicate into Train").disabled
    assert not button(at, "Delete").disabled


def test_runs_page_downloads_the_config_as_yaml(runs, monkeypatch, runs_page):
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


def test_runs_page_deletes_after_confirmation(runs, copy_of, monkeypatch, texts, runs_page, runs_table, button):
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
    assert ids["zero-shot"] not in set(runs_table(at)["Run"])
    assert at.selectbox(key=OPEN).value is None  # the deleted run is no longer open

    at.selectbox(key=OPEN).set_value(DAMAGED).run()  # a damaged folder can be deleted too
    button(at, "Delete").click().run()
    button(at, "Yes, delete it").click().run()
    assert not at.exception
    assert not (mine / DAMAGED).exists()
    assert list(runs_table(at)["Run"]) == [ids["few-shot"]]


def test_runs_page_refuses_to_delete_a_live_run_and_cancels_it(runs, copy_of, monkeypatch, texts, runs_page, button):
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


def test_runs_page_duplicates_a_run_into_train(runs, monkeypatch, texts, runs_page, button):
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


def test_duplicating_a_zero_shot_run_keeps_what_it_ran_with_even_where_todays_default_differs(copy_of, runs,
                                                                                              monkeypatch, runs_page,
                                                                                              button):
    """A zero-shot run saved before label-vector refinement existed did not refine: its copy must not either."""
    root, ids = runs
    mine = copy_of("zero-shot")
    state_file = mine / ids["zero-shot"] / "artifacts" / "method_state.json"
    state = json.loads(state_file.read_text())
    state["config"].pop("refine_rounds")  # as the previous release saved it
    state_file.write_text(json.dumps(state))
    for folder, expected in ((root, 3), (mine, 0)):  # today's run refined with the default 3; the old one did not
        at = runs_page(folder, monkeypatch)
        at.selectbox(key=OPEN).set_value(ids["zero-shot"]).run()
        button(at, "Duplicate into Train").click().run()
        assert not at.exception
        assert at.number_input(key=tlui.option_key("zero-shot", "refine_rounds")).value == expected


def test_runs_page_plots_against_steps_or_epochs_and_remembers_the_choice(runs, monkeypatch, runs_page, chart_specs):
    root, ids = runs
    at = runs_page(root, monkeypatch)
    at.selectbox(key=OPEN).set_value(ids["lora"]).run()
    control = at.segmented_control(key=tlui.CHART_W_X_AXIS)
    assert control.value == "steps" and control.options == ["Steps", "Epochs"]
    loss, rates = chart_specs(at)
    assert loss["layout"]["xaxis"]["title"]["text"] == "training step"
    assert [trace["name"] for trace in rates["data"]] == ["learning rate", "examples/s"]

    control.set_value("epochs").run()
    assert not at.exception
    loss, rates = chart_specs(at)
    assert loss["layout"]["xaxis"]["title"]["text"] == "epoch"
    assert rates["layout"]["xaxis"]["title"]["text"] == "epoch"
    assert "kept epoch 2" in json.dumps(loss)  # the early-stopping mark follows the axis

    # The choice is the session's: the Train page plots the same run against epochs too.
    at.session_state[tlui.TRAIN_RUNS] = [ids["lora"]]
    at.switch_page(tlui.TRAIN_PAGE).run()
    assert not at.exception
    assert at.segmented_control(key=tlui.CHART_W_X_AXIS).value == "epochs"
    assert chart_specs(at)[0]["layout"]["xaxis"]["title"]["text"] == "epoch"
    at.switch_page(tlui.RUNS_PAGE).run()
    at.selectbox(key=OPEN).set_value(ids["lora"]).run()
    assert at.segmented_control(key=tlui.CHART_W_X_AXIS).value == "epochs"


def test_a_live_run_survives_a_refresh_and_two_sessions_both_get_their_runs(tmp_path, monkeypatch, open_app, texts,
                                                                            runs_page, runs_table, button, chart_specs,
                                                                            train_points, with_data, wait_for):
    """Two sessions start real runs at once (one trains, one waits its turn); new sessions (a page refresh)
    show both, the live curve so far, and after cancelling, a fresh session (an app restart) shows the same history."""
    root = tmp_path / "live-runs"
    monkeypatch.setenv("TLCORE_MAX_CONCURRENT_RUNS", "1")
    store = tlcore.RunStore(root)
    sessions = []
    try:
        # A LoRA run of many small steps (the test cancels it), as if chosen in the widgets.
        choices = {**with_data(), tlui.TRAIN_W_METHOD: "lora", tlui.TRAIN_W_USE_ALL: False, tlui.TRAIN_W_PER_CLASS: 8,
                   tlui.option_key("lora", "epochs"): 100, tlui.option_key("lora", "batch_size"): 4,
                   tlui.option_key("lora", "max_length"): 32}
        for _ in range(2):  # two browser sessions, each starting a run
            at = open_app(root, monkeypatch, tlui.TRAIN_PAGE, **choices)
            assert "Split: **16** training rows (ham 8, spam 8)" in texts(at.caption)
            next(b for b in at.button if b.label == "Start run").click().run()
            assert not at.exception, at.exception
            sessions.append(at)
        ids = [at.session_state[tlui.TRAIN_RUNS] for at in sessions]
        assert all(len(started) == 1 for started in ids) and ids[0] != ids[1]  # each session got its own run
        runs = [store.get(started[0]) for started in ids]

        def training() -> tlcore.Run | None:
            return next((r for r in runs if len([e for e in r.events() if e["type"] == "train"]) >= 3), None)

        live = wait_for(training)
        waiting = next(r for r in runs if r is not live)
        wait_for(lambda: waiting.status().get("stage") == "waiting for a free slot", timeout=60)

        # A refresh: a new session of the Runs page lists both and shows the live curve with the points so far.
        before = len([e for e in live.events() if e["type"] == "train"])
        fresh = runs_page(root, monkeypatch)
        rows = runs_table(fresh).set_index("Run")
        assert rows.loc[live.id, "Status"] == "running"
        assert (rows.loc[waiting.id, "Status"], rows.loc[waiting.id, "Note"]) == ("queued", "queued — position 1")
        fresh.selectbox(key=OPEN).set_value(live.id).run()
        after = len([e for e in live.events() if e["type"] == "train"])
        assert not fresh.exception, fresh.exception
        assert "Training: step" in fresh.get("progress")[0].proto.text
        loss, rates = chart_specs(fresh)
        shown = train_points(loss)
        assert before <= len(shown) <= after and shown == list(range(1, len(shown) + 1))
        assert len(rates["data"][0]["x"]) == len(shown)

        # The Train page of a new session offers to follow runs it did not start, and then shows the curve.
        train = open_app(root, monkeypatch, tlui.TRAIN_PAGE)
        assert "Runs in progress elsewhere" in texts(train.markdown)
        follow = [b for b in train.button if b.label == "Follow"]
        assert len(follow) == 2
        next(b for b in follow if b.key == f"train_follow::{live.id}").click().run()
        assert not train.exception, train.exception
        assert train.session_state[tlui.TRAIN_RUNS] == [live.id]
        assert len(train_points(chart_specs(train)[0])) >= len(shown)

        # Cancel both: the queued one from the session that started it (first, so that it cannot start when
        # the other stops), then the live one from the Runs page.
        starter = sessions[runs.index(waiting)]
        starter.run()
        assert "Queued — position 1" in starter.get("progress")[0].proto.text
        next(b for b in starter.button if b.label == "Cancel run").click().run()
        assert not starter.exception, starter.exception
        button(fresh, "Cancel run").click().run()
        for run in runs:
            final = wait_for(lambda: run.status()["status"] in tlcore.runs.FINAL_STATES and run.status(), timeout=120)
            assert final["status"] == "cancelled", final
        assert waiting.status()["error"] == "cancelled while queued"
    finally:
        for run in store.runs():  # never leave a worker training after a failed test
            if run.status().get("status") in tlcore.LIVE_STATES:
                run.request_cancel()

    # An app restart: a fresh session shows the cancelled run with its whole curve, as the files hold it.
    restarted = runs_page(root, monkeypatch)
    assert set(runs_table(restarted)["Status"]) == {"cancelled"}
    restarted.selectbox(key=OPEN).set_value(live.id).run()
    assert "The run was cancelled: cancelled by the user" in texts(restarted.warning)
    steps = [e["step"] for e in live.events() if e["type"] == "train"]
    loss = chart_specs(restarted)[0]
    assert train_points(loss) == steps and len(steps) >= len(shown)
    assert loss["layout"]["xaxis"]["range"][1] == steps[-1] + 0.5  # it ends where the run stopped, not at step 400
