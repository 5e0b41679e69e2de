"""The Train page's "Adapt the base model to your texts" (tlui/adapt_view.py) in AppTest: the data's texts are
counted, a start launches a job in its own process that Cancel stops, too few texts keep Start disabled, and a
finished job shows its loss curve and "Use it as the base model", which selects the adapted model."""
from __future__ import annotations

import pandas as pd

import tlui
from tlcore.runs import AdaptConfig, create_adapt_job, get_adapt_job
from tlcore.runs.adapt_job import execute_adapt_job
from tlui.adapt_view import ADAPT_JOB, ADAPT_W_NAME, ADAPT_W_STEPS


def _expander(at):
    return next(e for e in at.expander if e.label == "Adapt the base model to your texts")


def test_start_then_cancel_a_job_from_the_page(tmp_path, monkeypatch, open_app, with_data, button, texts,
                                               wait_for):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path / "cache"))
    at = open_app(tmp_path / "runs", monkeypatch, tlui.TRAIN_PAGE, **with_data())
    section = texts(_expander(at).caption)
    assert "Continue minilm's own pre-training" in section and "400 distinct texts" in section
    assert at.text_input(key=ADAPT_W_NAME).value == "minilm + sms spam sample"
    at.number_input(key=ADAPT_W_STEPS).set_value(10)
    button(at, "Start adapting").click().run()
    assert not at.exception
    job = get_adapt_job(at.session_state[ADAPT_JOB])
    assert job.config()["name"] == "minilm + sms spam sample" and job.config()["options"]["steps"] == 10
    assert button(at, "Start adapting").disabled  # one adaptation at a time
    button(at, "Cancel adapting").click().run()
    assert wait_for(lambda: job.status()["status"] == "cancelled", timeout=120)
    at.run()
    assert "Adapting was cancelled" in texts(at.warning)
    assert not button(at, "Start adapting").disabled


def test_too_few_texts_keep_start_disabled(tmp_path, monkeypatch, open_app, with_data, button, texts):
    frame = pd.DataFrame({"text": [f"ticket {i} is about the printer" for i in range(60)] * 2,
                          "label": ["a", "b"] * 60})
    at = open_app(tmp_path, monkeypatch, tlui.TRAIN_PAGE, **with_data(frame, name="tickets.csv"))
    assert button(at, "Start adapting").disabled
    assert "needs at least 100 distinct texts; these have 60" in texts(_expander(at).caption)


def test_a_finished_job_shows_its_curve_and_use_it_selects_the_model(tmp_path, monkeypatch, open_app, with_data,
                                                                     button, texts):
    monkeypatch.setenv("TLCORE_CACHE", str(tmp_path / "cache"))
    frame = with_data()[tlui.DATA_FRAME]
    job = create_adapt_job("minilm", frame["text"].tolist(),
                           AdaptConfig(head_warmup=2, steps=2, batch_size=8, max_length=32),
                           name="minilm + texts", source="sms_spam_sample.csv")
    execute_adapt_job(job)
    at = open_app(tmp_path / "runs", monkeypatch, tlui.TRAIN_PAGE, **with_data(),
                  **{ADAPT_JOB: job.id, ADAPT_W_NAME: "minilm + texts"})
    assert "minilm + texts** is ready" in texts(at.success)
    assert any(chart.proto.spec for chart in at.get("plotly_chart"))
    button(at, "Use it as the base model").click().run()
    assert not at.exception
    assert at.selectbox(key=tlui.TRAIN_W_MODEL).value == "minilm + texts"
    assert "adapted to" in texts(at.caption)  # the catalog's description of the adapted model
    assert "It is the Model chosen above" in texts(at.caption)
    assert button(at, "Start adapting").disabled  # its name is taken now
    assert "A model named 'minilm + texts' exists already" in texts(_expander(at).caption)
