"""Smoke tests of the Streamlit pages with streamlit.testing.v1.AppTest (no browser, no worker processes)."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")

import tlcore  # noqa: E402
import tlui  # noqa: E402


@pytest.fixture(scope="module")
def finished_runs(tmp_path_factory) -> tuple[Path, list[str]]:
    """A runs folder with finished runs made in-process: one on another test set, then two comparable ones."""
    root = tmp_path_factory.mktemp("runs")
    store = tlcore.RunStore(root)
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    ids = []
    plans = [("zero-shot", {}, 30), ("zero-shot", {}, 40), ("few-shot", {"shots": 4}, 40)]
    for method, options, test_size in plans:
        config = tlcore.RunConfig(model="minilm", method=method, method_options=options, per_class=8,
                                  test_size=test_size, data_name="sms_spam_sample.csv")
        run = tlcore.create_run(config, data, store=store)
        tlcore.execute(run)
        ids.append(run.id)
        time.sleep(1.1)  # run ids start with a one-second timestamp: keep "newest first" unambiguous
    return root, ids


# -- home -----------------------------------------------------------------------------------------------
def test_home_renders_with_links_and_no_runs(tmp_path, monkeypatch, open_app, texts):
    at = open_app(tmp_path / "runs", monkeypatch)
    assert at.title[0].value == "TransferLab"
    assert [link.value for link in at.main.get("page_link")] == ["1 · Data", "2 · Train", "3 · Compare", "4 · Use",
                                                                 "All runs"]
    assert [link.value for link in at.sidebar.get("page_link")] == ["Home", "Data", "Train", "Compare", "Runs", "Use",
                                                                          "Label"]
    assert "No runs yet" in texts(at.markdown)
    assert "lora" in texts(at.markdown)  # the fine-tuning methods come from the registry


def test_home_counts_runs(finished_runs, monkeypatch, open_app):
    at = open_app(finished_runs[0], monkeypatch)
    assert {metric.label: metric.value for metric in at.metric}["Runs saved"] == "3"


# -- data -----------------------------------------------------------------------------------------------
def test_data_page_sample_shows_columns_and_chart(tmp_path, monkeypatch, open_app, texts):
    at = open_app(tmp_path, monkeypatch, tlui.DATA_PAGE)
    selects = {select.label: select.value for select in at.selectbox}
    assert selects == {"Sample dataset": "sms_spam", "Text column": "text", "Label column": "label"}
    assert len(at.get("plotly_chart")) == 1
    assert {metric.label: metric.value for metric in at.metric}["Rows used"] == "400"
    assert "License" in texts(at.caption)
    assert at.session_state[tlui.DATA_NAME] == "sms_spam_sample.csv"
    assert len(at.session_state[tlui.DATA_FRAME]) == 400

    at.selectbox(key="data_w_sample").set_value("yelp").run()
    assert not at.exception
    assert {metric.label: metric.value for metric in at.metric}["Rows used"] == "996"
    assert at.session_state[tlui.DATA_NAME] == "yelp_reviews.csv"


def test_data_page_upload_guesses_columns_and_reports_errors(tmp_path, monkeypatch, open_app, texts):
    at = open_app(tmp_path, monkeypatch, tlui.DATA_PAGE)
    at.radio(key="data_w_source").set_value("Upload a file").run()
    assert at.session_state[tlui.DATA_FRAME] is None  # nothing uploaded yet: no data chosen
    rows = [{"id": i, "message": f"message number {i} with some words", "category": "a" if i % 2 else "b"}
            for i in range(20)]
    at.file_uploader[0].upload("mine.csv", pd.DataFrame(rows).to_csv(index=False).encode(), "text/csv").run()
    assert not at.exception
    selects = {select.label: select.value for select in at.selectbox}
    assert (selects["Text column"], selects["Label column"]) == ("message", "category")
    assert at.session_state[tlui.DATA_NAME] == "mine.csv"

    at.file_uploader[0].set_value(("bad.csv", b"text,label\n", "text/csv")).run()
    assert not at.exception
    assert "bad.csv has a header but no data rows" in texts(at.error)
    assert at.session_state[tlui.DATA_FRAME] is None


# -- train ----------------------------------------------------------------------------------------------
def test_train_page_without_data_says_so(tmp_path, monkeypatch, open_app, texts):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE)
    assert "No data chosen yet" in texts(at.info)
    assert [link.value for link in at.main.get("page_link")] == ["Choose data"]
    assert not at.button


@pytest.mark.parametrize("method", [entry.name for entry in tlcore.list_methods()])
def test_train_page_builds_every_method_from_the_registry(method, tmp_path, monkeypatch, open_app, with_data,
                                                          start_button):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    entry = tlcore.methods.get_method(method)
    if "encoder" not in entry.kinds:
        at.selectbox(key="train_w_model").set_value(
            next(spec.name for spec in tlcore.list_models() if spec.kind in entry.kinds)).run()
    at.selectbox(key="train_w_method").set_value(method).run()
    assert not at.exception
    assert not at.error
    widgets = {w.key for kind in ("number_input", "selectbox", "text_input", "text_area", "checkbox")
               for w in at.get(kind)}
    kind = tlcore.engine.resolve_model(at.selectbox(key="train_w_model").value).kind
    for field in entry.config_cls.describe_fields():
        shown = kind in field.get("model_kinds", [kind])  # an option of the other model kind is hidden
        assert (f"train_opt::{method}::{field['name']}" in widgets) == shown, field["name"]
    assert not start_button(at).disabled


def test_train_page_shows_only_the_options_the_chosen_model_kind_uses(tmp_path, monkeypatch, open_app, with_data,
                                                                      start_button):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    at.selectbox(key="train_w_method").set_value("zero-shot").run()
    labels = lambda: {w.label for kind in ("number_input", "selectbox", "text_input", "text_area")  # noqa: E731
                      for w in at.get(kind)}
    assert {"Refine rounds", "Temperature"} <= labels() and not {"Channel prompt", "Scoring"} & labels()
    at.selectbox(key="train_w_model").set_value("smollm2-135m").run()
    at.selectbox(key="train_w_method").set_value("zero-shot").run()
    assert {"Channel prompt", "Scoring", "Instruction"} <= labels() and not {"Refine rounds"} & labels()
    assert not at.exception and not start_button(at).disabled


def test_train_page_key_options_up_front(tmp_path, monkeypatch, open_app, texts, with_data):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    at.selectbox(key="train_w_method").set_value("lora").run()
    expander = next(e for e in at.expander if e.label == "Advanced")
    inside = {w.label for w in expander.number_input}
    outside = {w.label for w in at.number_input} - inside
    assert {"Epochs (0 = auto)", "Learning rate", "Batch size", "Test size", "Training rows per class"} <= outside
    assert {"LoRA rank r", "Weight decay", "Validation size", "Early stopping (-1 = auto, 0 = off)"} <= inside
    assert "Class weights" in {w.label for w in expander.selectbox}
    # Every training row by default; the test-size advice says what the 80 test rows can tell.
    assert at.number_input(key="train_w_per_class").disabled
    assert "Split: **288** training rows" in texts(at.caption)
    advice = tlcore.compare.advise_test_size(80, n_available=400)
    assert f"Test size: {advice.text}" in texts(at.info)
    assert "about 16 points" in advice.text and "400 rows in all" in advice.text

    at.checkbox(key="train_w_use_all").uncheck().run()
    assert "Split: **64** training rows (ham 32, spam 32)" in texts(at.caption)


def test_train_page_panel_describes_the_method_and_counts_its_parameters(tmp_path, monkeypatch, open_app, texts,
                                                                         with_data):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    at.selectbox(key=tlui.TRAIN_W_METHOD).set_value("lora").run()
    assert not at.exception
    lora = tlcore.methods.get_method("lora")
    shown = texts(at.markdown)
    assert lora.description in shown and lora.when_to_use in shown
    assert "Trainable parameters: **338,690 of 23.1 M (1.5 %)**" in shown  # computed by tlcore.runs.plan_method
    estimate = next(m for m in at.markdown if "on this machine for 288 training and 80 test rows" in m.value)
    assert "about" in estimate.value or "a few seconds" in estimate.value
    assert "2 x params" in estimate.help  # how it was estimated, as a tooltip

    at.selectbox(key=tlui.TRAIN_W_METHOD).set_value("zero-shot").run()
    assert "Trainable parameters: **none** — no training" in texts(at.markdown)


def test_train_page_recommend_sets_the_model_and_method(tmp_path, monkeypatch, open_app, texts, with_data):
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    assert at.selectbox(key=tlui.TRAIN_W_METHOD).value == "zero-shot"
    at.button(key="train_recommend").click().run()
    assert not at.exception
    expected = tlcore.methods.recommend(288, 2, has_gpu=tlcore.engine.has_gpu())
    assert (at.selectbox(key=tlui.TRAIN_W_MODEL).value, at.selectbox(key=tlui.TRAIN_W_METHOD).value) == (
        expected.model, expected.method)
    assert "Recommended for 288 training rows in 2 classes" in texts(at.success)
    assert expected.reason in texts(at.success)

    # Fewer rows per class: the recommendation changes model too, and both widgets follow.
    at.checkbox(key=tlui.TRAIN_W_USE_ALL).uncheck().run()
    at.number_input(key=tlui.TRAIN_W_PER_CLASS).set_value(3).run()
    at.button(key="train_recommend").click().run()
    assert not at.exception
    expected = tlcore.methods.recommend(6, 2, has_gpu=tlcore.engine.has_gpu())
    assert (at.selectbox(key=tlui.TRAIN_W_MODEL).value, at.selectbox(key=tlui.TRAIN_W_METHOD).value) == (
        expected.model, expected.method)
    at.selectbox(key=tlui.TRAIN_W_METHOD).set_value("zero-shot").run()  # the user overrides it
    assert not at.success and "You have chosen otherwise since" in texts(at.caption)


def test_train_page_refuses_a_bad_run_with_its_reason(tmp_path, monkeypatch, open_app, texts, with_data, start_button):
    runs = tmp_path / "runs"
    at = open_app(runs, monkeypatch, tlui.TRAIN_PAGE, **with_data())
    at.selectbox(key="train_w_method").set_value("few-shot").run()
    at.number_input(key="train_opt::few-shot::shots").set_value(64).run()
    at.checkbox(key="train_w_use_all").uncheck().run()
    at.number_input(key="train_w_per_class").set_value(10).run()
    start_button(at).click().run()
    assert not at.exception
    assert "few-shot needs 64 training examples per class" in texts(at.error)
    assert not runs.exists() or not any(runs.iterdir())
    assert at.session_state[tlui.TRAIN_RUNS] == []


def test_train_page_shows_a_live_run(tmp_path, monkeypatch, open_app, texts, with_data):
    store = tlcore.RunStore(tmp_path / "runs")
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="lora", per_class=16,
                                             method_options={"epochs": 2}), data, store=store)
    # Pretend a worker (this process, so its pid is alive) has done 3 of 4 steps and one evaluation.
    run.update_status(status="running", pid=os.getpid(), started=time.time() - 20, stage="training")
    for step in (1, 2, 3):
        run.append_event({"type": "train", "step": step, "epoch": step / 2, "total_steps": 4,
                          "train_loss": 0.7 - 0.1 * step, "learning_rate": 1e-3, "examples_per_s": 8.0,
                          "elapsed": 4.0 * step})
    run.append_event({"type": "eval", "step": 2, "epoch": 1, "total_steps": 4, "val_loss": 0.5,
                      "val_accuracy": 0.75, "elapsed": 9.0})
    at = open_app(store.root, monkeypatch, tlui.TRAIN_PAGE, **with_data(), **{tlui.TRAIN_RUNS: [run.id]})
    assert "Current run" in texts(at.subheader)
    progress = at.get("progress")[0]
    assert "step 3 of 4" in progress.proto.text and "left" in progress.proto.text
    loss, rates = (chart_data(chart) for chart in at.get("plotly_chart"))
    assert list(loss["train loss"]["x"]) == [1, 2, 3] and list(loss["validation loss"]["x"]) == [2]
    assert "train loss (smoothed)" in loss
    assert list(rates["learning rate"]["y"]) == [1e-3] * 3 and list(rates["examples/s"]["y"]) == [8.0] * 3
    assert "accuracy 75.0%" in texts(at.caption)
    start = next(button for button in at.button if button.label == "Start run")
    assert start.disabled  # one run at a time per session
    next(button for button in at.button if button.label == "Cancel run").click().run()
    assert not at.exception
    assert run.cancel_requested
    assert "Cancel requested" in texts(at.caption)
    assert not next(button for button in at.button if button.label == "Start run").disabled


def chart_data(chart) -> dict:
    """The traces of an st.plotly_chart element, by name."""
    import json

    return {trace.get("name"): trace for trace in json.loads(chart.proto.spec)["data"]}


def test_train_page_polls_only_while_its_run_is_live(tmp_path, monkeypatch, open_app, texts):
    import streamlit

    polls = []
    original = streamlit.fragment

    def spy(func=None, *, run_every=None):  # records how often the page asked to be redrawn
        if getattr(func, "__name__", "") == "show_run":
            polls.append(run_every)
        return original(func, run_every=run_every)

    monkeypatch.setattr(streamlit, "fragment", spy)
    store = tlcore.RunStore(tmp_path / "runs")
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="lora", per_class=8), data, store=store)
    run.update_status(status="running", pid=os.getpid(), started=time.time(), stage="training")
    at = open_app(store.root, monkeypatch, tlui.TRAIN_PAGE, **{tlui.TRAIN_RUNS: [run.id]})
    assert polls == [1.5]
    run.update_status(status="failed", error="stopped for the test", finished=time.time())
    at.run()
    assert not at.exception
    assert polls[-1] is None  # a finished run is drawn once and left alone
    assert "stopped for the test" in texts(at.error)


def test_train_page_shows_a_queued_runs_place_in_the_queue(tmp_path, monkeypatch, open_app, with_data):
    store = tlcore.RunStore(tmp_path / "runs")
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    ahead = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8), data, store=store)
    time.sleep(0.01)
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8), data, store=store)
    run.update_status(stage="waiting for a free slot")
    assert store.queue_position(run.id) == 2 and store.queue_position(ahead.id) == 1
    at = open_app(store.root, monkeypatch, tlui.TRAIN_PAGE, **with_data(), **{tlui.TRAIN_RUNS: [run.id]})
    assert "Queued — position 2 (1 queued run ahead)" in at.get("progress")[0].proto.text
    run.update_status(executor="ray")  # Ray queues its tasks itself: no place in this folder's queue
    at = open_app(store.root, monkeypatch, tlui.TRAIN_PAGE, **with_data(), **{tlui.TRAIN_RUNS: [run.id]})
    assert "Queued on the Ray cluster" in at.get("progress")[0].proto.text


def test_train_page_time_left_uses_the_stage_start(tmp_path, monkeypatch, open_app):
    store = tlcore.RunStore(tmp_path / "runs")
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8), data, store=store)
    now = time.time()
    run.update_status(status="running", pid=os.getpid(), started=now - 30, stage="encoding",
                      progress={"done": 40, "total": 80})
    run.update_status(stage_started=now - 10)  # encoding began 10 s ago and is half done: about 10 s left
    at = open_app(store.root, monkeypatch, tlui.TRAIN_PAGE, **{tlui.TRAIN_RUNS: [run.id]})
    text = at.get("progress")[0].proto.text
    assert text.startswith("Encoding: 40 of 80") and "left" in text
    seconds = float(text.split("about ")[1].split(" s left")[0])
    assert 9 <= seconds <= 30  # 10 s, plus however long this busy machine took to get here


def test_train_page_marks_an_early_stopped_run(tmp_path, monkeypatch, open_app, texts, early_stopped_run):
    store = tlcore.RunStore(tmp_path / "runs")
    run = early_stopped_run(store)
    at = open_app(store.root, monkeypatch, tlui.TRAIN_PAGE, **{tlui.TRAIN_RUNS: [run.id]})
    assert "Stopped early at epoch 4 of 10; kept epoch 2's weights" in texts(at.info)
    figure = at.get("plotly_chart")[0].proto.spec
    assert "kept epoch 2" in figure


def test_train_page_offers_to_follow_a_run_it_lost(tmp_path, monkeypatch, open_app, texts):
    """A browser reload loses the session, not the run: the page lists live runs it does not follow."""
    store = tlcore.RunStore(tmp_path / "runs")
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8), data, store=store)
    run.update_status(status="running", pid=os.getpid(), started=time.time(), stage="encoding",
                      progress={"done": 10, "total": 80})
    at = open_app(store.root, monkeypatch, tlui.TRAIN_PAGE)
    assert "Runs in progress elsewhere" in texts(at.markdown)
    next(button for button in at.button if button.label == "Follow").click().run()
    assert not at.exception
    assert at.session_state[tlui.TRAIN_RUNS] == [run.id]
    assert "Current run" in texts(at.subheader)
    assert "Encoding: 10 of 80" in at.get("progress")[0].proto.text
    assert not [button for button in at.button if button.label == "Follow"]


def test_train_page_shows_a_finished_run(finished_runs, monkeypatch, open_app, texts, with_data):
    root, ids = finished_runs
    at = open_app(root, monkeypatch, tlui.TRAIN_PAGE, **with_data(), **{tlui.TRAIN_RUNS: ids[1:]})
    assert "Last run" in texts(at.subheader)
    metrics = {metric.label: metric.value for metric in at.metric}
    assert metrics["Accuracy"].endswith("%") and "Macro-F1" in metrics
    assert "Compare with other runs" in [link.value for link in at.main.get("page_link")]
    assert "Earlier runs in this session" in texts(at.subheader)
    assert len(at.dataframe) == 1
