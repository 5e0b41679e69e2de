"""The Label page (app_pages/6_Label.py) in AppTest: suspected label errors accepted and saved as a new version that
becomes the current data; suggested rows labeled with the class buttons, skip and undo, saved, and the run's method
re-run on the new version, scored on the same test rows."""
from __future__ import annotations

import json

import pandas as pd
import pytest

pytest.importorskip("streamlit")

import tlcore  # noqa: E402
import tlui  # noqa: E402
from tlui.state import LABEL_PAGE, LABEL_RERUN, LABEL_W_N, LABEL_W_RUN  # noqa: E402

UNLABELED = 30  # the first rows of the review file, their labels blanked: the pool to label from


def test_accept_two_label_errors_and_save_a_version(open_app, runs_dir, monkeypatch, with_data, button):
    at = open_app(runs_dir, monkeypatch, LABEL_PAGE, timeout=120, **with_data())
    button(at, "Find suspected label errors").click().run()
    assert not at.exception, at.exception
    assert any("rows look mislabeled" in m.value for m in at.markdown)
    accept = [b for b in at.button if b.label == "Accept"]
    assert len(accept) >= 2
    accept[0].click().run()
    [b for b in at.button if b.label == "Accept"][1].click().run()
    [b for b in at.button if b.label == "Reject"][2].click().run()
    assert any("2 accepted, 1 rejected" in c.value for c in at.caption)
    button(at, "Save as new version (2 fixes)").click().run()
    assert not at.exception, at.exception

    saved = runs_dir / ".data" / "sms_spam_sample.v2.csv"
    assert at.session_state[tlui.DATA_NAME] == saved.name and saved.is_file()
    assert any(saved.name in s.value and "is now the current data" in s.value for s in at.success)
    log = json.loads(saved.with_name("sms_spam_sample.v2.changes.json").read_text())
    assert log["parent"] == "sms_spam_sample.csv" and len(log["changes"]) == 2
    original = tlcore.load_sample("sms_spam")
    new = pd.read_csv(saved)
    for change in log["changes"]:
        assert change["kind"] == "relabeled" and change["reason"].startswith("suspected label error, confidence 0.")
        assert original.loc[change["row"], "label"] == change["old_label"] != change["new_label"]
        assert new.loc[change["row"], "label"] == change["new_label"]
    assert (new["label"] != original["label"]).sum() == 2  # nothing else changed
    assert any("Versions of this data (2)" in e.label for e in at.expander)


@pytest.fixture
def reviews(runs_dir) -> tuple[pd.DataFrame, tlcore.Run]:
    """200 Yelp review sentences, the first 30 without a label, and a finished linear probe trained on 8 per class
    of the rest (a per-class sample: the re-run must not draw again)."""
    frame = tlcore.load_sample("yelp").head(200).reset_index(drop=True)
    frame.loc[:UNLABELED - 1, "label"] = None
    config = tlcore.RunConfig(model="minilm", method="linear-probe", test_size=40, per_class=8,
                              data_name="reviews.csv")
    run = tlcore.create_run(config, tlcore.to_labeled(frame, "text", "label"), store=tlcore.RunStore(runs_dir))
    tlcore.execute(run)
    assert run.status()["status"] == "succeeded"
    return frame, run


def _finished_elsewhere(runs_dir, data: tlcore.data.LabeledData, data_name: str) -> tlcore.Run:
    """A run marked finished without training (the picker reads only its config and status)."""
    config = tlcore.RunConfig(model="minilm", method="linear-probe", test_size=10, data_name=data_name)
    run = tlcore.create_run(config, data, store=tlcore.RunStore(runs_dir))
    run.update_status(status="succeeded")
    return run


def test_label_suggested_rows_save_and_rerun(open_app, runs_dir, monkeypatch, with_data, button, reviews, wait_for,
                                             sms):
    frame, reference = reviews
    other_data = _finished_elsewhere(runs_dir, sms, "sms.csv")
    other_labels = _finished_elsewhere(runs_dir, sms, "reviews.csv")  # same name, the labels of other data
    at = open_app(runs_dir, monkeypatch, LABEL_PAGE, timeout=120, **with_data(frame, "reviews.csv"))
    picker = at.selectbox(key=LABEL_W_RUN)
    assert picker.value == reference.id and len(picker.options) == 1, (other_data.id, other_labels.id)
    assert any(f"Rows of reviews.csv without a label ({UNLABELED})" in str(r.options) for r in at.radio)
    at.number_input(key=LABEL_W_N).set_value(5).run()
    button(at, "Suggest 5 rows to label").click().run()
    assert not at.exception, at.exception
    assert any("of the file)" in c.value for c in at.caption)  # the row as the file numbers it
    for label in ("negative", "positive", "Skip", "Undo", "positive", "negative", "Skip"):
        button(at, label).click().run()
        assert not at.exception, at.exception
    assert any("All 5 suggested rows answered" in s.value for s in at.success)
    button(at, "Save 4 labeled rows as a new version").click().run()
    assert not at.exception, at.exception

    saved = runs_dir / ".data" / "reviews.v2.csv"
    log = json.loads(saved.with_name("reviews.v2.changes.json").read_text())
    assert [c["new_label"] for c in log["changes"]] == ["negative", "positive", "positive", "negative"]
    assert all(c["kind"] == "labeled" and c["old_label"] is None and c["row"] < UNLABELED for c in log["changes"])
    assert all(c["reason"] == "labeled by the analyst" and c["file_row"] == c["row"] + 2 for c in log["changes"])
    new = pd.read_csv(saved)
    assert [new.loc[c["row"], "label"] for c in log["changes"]] == ["negative", "positive", "positive", "negative"]
    assert new["label"].isna().sum() == UNLABELED - 4

    button(at, "Re-run linear-probe on reviews.v2.csv").click().run()
    assert not at.exception, at.exception
    rerun = tlcore.RunStore(runs_dir).get(at.session_state[LABEL_RERUN]["run_id"])
    rerun.request_cancel()  # the split is what this test checks; the browser test watches a re-run finish
    config, old = rerun.config(), reference.config()
    assert config["data_name"] == "reviews.v2.csv" and config["data_version"] == str(saved)
    assert config["method"] == "linear-probe" and config["per_class"] is None
    assert config["split"]["test_fingerprint"] == old["split"]["test_fingerprint"]
    split, before = rerun.split(), reference.split()
    # trained on the reference's own 16 rows and the 4 new ones: no new draw of 8 per class
    assert split.train.texts == before.train.texts + [c["text"] for c in sorted(log["changes"],
                                                                                key=lambda c: c["row"])]
    assert split.train.labels[:16] == before.train.labels and len(before.train) == 16
    assert split.val.texts == before.val.texts and not set(split.val.texts) & set(split.train.texts)
    assert any("same test rows" in i.value for i in at.info)
    assert wait_for(lambda: rerun.status().get("status") in tlcore.runs.FINAL_STATES, timeout=60)


def test_the_run_picker_offers_only_runs_on_this_data(open_app, runs_dir, monkeypatch, with_data, sms):
    frame = tlcore.load_sample("yelp").head(60).reset_index(drop=True)
    frame.loc[:9, "label"] = None
    _finished_elsewhere(runs_dir, sms, "sms.csv")
    at = open_app(runs_dir, monkeypatch, LABEL_PAGE, **with_data(frame, "reviews.csv"))
    assert any("No finished run was trained on **reviews.csv**" in i.value and "1 finished run on other data"
               in i.value for i in at.info)
    assert not [s for s in at.selectbox if s.key == LABEL_W_RUN]


def test_without_data_the_page_points_to_the_data_page(open_app, runs_dir, monkeypatch):
    at = open_app(runs_dir, monkeypatch, LABEL_PAGE)
    assert [i.value for i in at.info] == ["Choose the data first: a sample or your own file on the Data page."]
    assert not at.button
