"""The Compare page (app_pages/3_Compare.py + tlui/compare_view.py) with streamlit.testing.v1.AppTest, on real runs:
tables, confusion matrices, per-class F1, calibration, the per-example browser, learning curves, the report."""
from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlcore  # noqa: E402
import tlui  # noqa: E402
from tlcore.compare import comparison as cmp  # noqa: E402
from tlcore.runs import learning_curve as lc  # noqa: E402
from tlui import compare_view  # noqa: E402


@pytest.fixture(scope="session")
def compare_page(open_app):
    """``compare_page(runs_dir, monkeypatch, **state)``: the Compare page in a fresh session."""
    def open_(runs_dir: Path, monkeypatch, **state) -> AppTest:
        return open_app(runs_dir, monkeypatch, tlui.COMPARE_PAGE, **state)
    return open_


def traces(figure: dict, kind: str | None = None) -> dict[str, dict]:
    """The figure's traces by name (only those of one kind, e.g. 'scatter', when given)."""
    return {trace.get("name"): trace for trace in figure["data"] if kind in (None, trace.get("type"))}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, make_runs, yelp) -> tuple[Path, dict[str, str]]:
    """A 30-row test set with one run; a 40-row one with zero-shot, few-shot, linear-probe and a learning curve
    (linear-probe, 4 and 8 per class, seeds 0 and 1)."""
    root = tmp_path_factory.mktemp("runs")
    ids = make_runs(root)
    store = tlcore.RunStore(root)
    curve = lc.curve_like(store.get(ids["linear-probe"]), yelp, "linear-probe", "minilm", [4, 8], [0, 1], store)
    lc.execute_curve(curve, stop_on_error=True)
    ids["curve"] = curve[0].config()["group"]
    return root, ids


@pytest.fixture(scope="module")
def comparison(runs) -> cmp.Comparison:
    root, ids = runs
    return tlcore.load_comparison([ids["zero-shot"], ids["few-shot"], ids["linear-probe"]], tlcore.RunStore(root))


def test_compare_page_without_runs_links_to_train(tmp_path, monkeypatch, compare_page, texts):
    at = compare_page(tmp_path / "runs", monkeypatch)
    assert "No finished runs yet" in texts(at.info)
    assert [link.value for link in at.main.get("page_link")] == ["Go to Train"]


def test_page_groups_runs_by_test_set_and_leaves_curve_runs_out(runs, comparison, monkeypatch, compare_page, texts,
                                                                make_runs):
    root, ids = runs
    at = compare_page(root, monkeypatch)
    test_sets = at.selectbox[0]
    assert test_sets.label == "Test set" and len(test_sets.options) == 2
    assert f"{make_runs.test_rows} test rows · 7 runs" in test_sets.options[0]  # the newest test set first
    assert sorted(at.multiselect[0].value) == sorted([ids["zero-shot"], ids["few-shot"], ids["linear-probe"]])
    assert len(at.multiselect[0].options) == 7
    assert "4 learning-curve runs are on this test set" in texts(at.caption)
    assert [tab.label for tab in at.tabs][:len(compare_view.TABS)] == compare_view.TABS

    fingerprint = tlcore.RunStore(root).get(ids["other"]).config()["split"]["test_fingerprint"]
    at.selectbox[0].select(fingerprint).run()
    assert not at.exception
    assert at.multiselect[0].value == [ids["other"]]
    assert "30 test rows · 1 run" in at.selectbox[0].options[1]

    at.selectbox(key="compare_w_view").set_value("disagree").run()
    assert "needs at least two runs" in texts(at.info)


def test_a_link_to_a_run_opens_its_test_set_with_the_run_chosen(runs, monkeypatch, compare_page, texts):
    root, ids = runs
    at = compare_page(root, monkeypatch)
    at.query_params["run"] = ids["other"]  # /Compare?run=ID: the older test set, not the default one
    at.run()
    assert not at.exception
    fingerprint = tlcore.RunStore(root).get(ids["other"]).config()["split"]["test_fingerprint"]
    assert at.selectbox[0].value == fingerprint and at.multiselect[0].value == [ids["other"]]
    store = tlcore.RunStore(root)
    curve_run = next(s.id for s in store.summaries() if store.get(s.id).config().get("group") == ids["curve"])
    at.selectbox[0].select(store.get(ids["zero-shot"]).config()["split"]["test_fingerprint"]).run()
    assert ids["zero-shot"] in at.multiselect[0].value  # once followed, the link no longer decides
    at.query_params["run"] = curve_run  # a learning-curve run is left out by default, but a link adds it
    at.run()
    assert curve_run in at.multiselect[0].value and ids["zero-shot"] in at.multiselect[0].value

    at.query_params["run"] = "20990101-000000-nope"
    at.run()
    assert not at.exception and "not a finished run of this runs folder" in texts(at.warning)


def test_metrics_tab_tables_hold_the_runs_numbers(runs, comparison, monkeypatch, compare_page):
    root, _ = runs
    at = compare_page(root, monkeypatch)
    table = at.dataframe[0].value
    rel = {run.id: tlcore.compare.run_reliability(run.predictions) for run in comparison.runs}
    expected = cmp.metrics_table(comparison, {k: r.ece for k, r in rel.items()})
    assert list(table.columns) == list(expected.columns)
    assert list(table["Run"]) == list(expected["Run"])
    assert list(table["Accuracy"]) == list(expected["Accuracy"])
    assert list(table["ECE"][:-1]) == pytest.approx([r.ece for r in (rel[run.id] for run in comparison.runs)])
    assert table["Run"].iloc[-1].startswith("majority class (")
    per_class = at.dataframe[1].value
    assert per_class.equals(cmp.per_class_table(comparison))

    at.multiselect[0].set_value([comparison.runs[0].id]).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 2  # one run and the majority row


def test_confusion_matrices_show_counts_or_shares(runs, comparison, monkeypatch, compare_page, chart_specs):
    root, _ = runs
    at = compare_page(root, monkeypatch)
    heatmaps = [t for t in chart_specs(at)[0]["data"] if t["type"] == "heatmap"]
    assert [h["z"] for h in heatmaps] == [run.metrics["confusion_matrix"] for run in comparison.runs]
    at.radio(key="compare_w_cm_mode").set_value("Share of each gold class").run()
    heatmaps = [t for t in chart_specs(at)[0]["data"] if t["type"] == "heatmap"]
    for heatmap, run in zip(heatmaps, comparison.runs):
        counts = run.metrics["confusion_matrix"]
        for shares, row in zip(heatmap["z"], counts):
            assert shares == pytest.approx([v / sum(row) for v in row])
    assert heatmaps[0]["text"][0][0].endswith("%")


def test_per_class_f1_and_reliability_charts(runs, comparison, monkeypatch, compare_page, chart_specs):
    root, _ = runs
    at = compare_page(root, monkeypatch)
    f1 = traces(chart_specs(at)[1])
    assert list(f1) == [run.name for run in comparison.runs]
    for run in comparison.runs:
        assert f1[run.name]["y"] == pytest.approx(list(cmp.per_class_f1(comparison)[run.name].values()))
    reliability = traces(chart_specs(at)[2], "scatter")
    for run in comparison.runs:
        rel = tlcore.compare.run_reliability(run.predictions)
        line = reliability[f"{run.name} (ECE {rel.ece:.3f})"]
        assert line["y"] == pytest.approx([b.accuracy for b in rel.bins if b.count])
    calibration = at.dataframe[2].value
    assert list(calibration["Run"]) == [run.name for run in comparison.runs]


def test_examples_browser_filters_sorts_and_downloads(runs, comparison, monkeypatch, compare_page, texts, make_runs):
    root, _ = runs
    at = compare_page(root, monkeypatch)
    frame = cmp.examples_table(comparison)

    def shown():
        return at.dataframe[3].value

    assert len(shown()) == make_runs.test_rows and "**40** of 40 test examples" in texts(at.caption)
    assert shown()[comparison.predicted_column(comparison.runs[0])].iloc[0][0] in "✓✗"
    at.selectbox(key="compare_w_view").set_value("disagree").run()
    assert list(shown()["Row"]) == list(cmp.filter_examples(frame, comparison, "disagree")["Row"])
    at.selectbox(key="compare_w_view").set_value("all").run()
    at.selectbox(key="compare_w_class").set_value("positive").run()
    assert set(shown()["Gold"]) == {"positive"}
    word = next(w for w in comparison.texts[0].split() if len(w) > 3)
    at.text_input(key="compare_w_search").set_value(word).run()
    assert list(shown()["Row"]) == list(cmp.filter_examples(frame, comparison, "all", "positive", word)["Row"])
    at.selectbox(key="compare_w_class").set_value("All classes").run()
    at.text_input(key="compare_w_search").set_value("").run()
    at.selectbox(key="compare_w_sort").set_value("Lowest confidence first").run()
    at.selectbox(key="compare_w_sort_by").set_value(comparison.runs[1].id).run()
    confidence = list(shown()[comparison.confidence_column(comparison.runs[1])])
    assert confidence == sorted(confidence)
    download = at.get("download_button")[0]
    assert download.proto.label == "Download these rows (CSV)"


def test_learning_curve_tab_plots_the_curve_and_answers(runs, comparison, monkeypatch, compare_page, texts,
                                                        chart_specs):
    root, ids = runs
    at = compare_page(root, monkeypatch)
    store = tlcore.RunStore(root)
    assert at.selectbox(key=f"compare_w_lc_group::{comparison.test_fingerprint}").value == ids["curve"]
    figure = traces(chart_specs(at)[3])
    summary = lc.curve_summary(lc.curve_points(lc.curve_groups(store)[ids["curve"]]))
    assert figure["mean accuracy"]["y"] == pytest.approx([row["mean"] for row in summary])
    assert figure["mean accuracy"]["x"] == [4, 8]
    zero_shot = store.get(ids["zero-shot"]).metrics()["accuracy"]
    assert f"zero-shot · minilm ({zero_shot:.3f})" in figure
    at.number_input(key="compare_w_lc_margin::accuracy").set_value(0.0).run()
    assert not at.exception
    needed = lc.examples_needed(summary, zero_shot, 0.0)
    if needed:
        assert f"you need **{needed['per_class']} labeled examples per class**" in texts(at.success)
    else:
        assert "No size on this curve beats zero-shot · minilm" in texts(at.warning)
    assert "To start a learning curve, choose the data" in texts(at.info)  # no data chosen in this session


def test_learning_curve_starts_from_the_page(runs, comparison, monkeypatch, tmp_path, compare_page, texts, yelp_state):
    root, ids = runs
    mine = tmp_path / "runs"
    shutil.copytree(root, mine)
    sms = {**yelp_state(), tlui.DATA_FRAME: tlcore.load_sample("sms_spam"), tlui.DATA_NAME: "sms.csv"}
    at = compare_page(mine, monkeypatch, **sms)
    at.text_input(key="compare_w_lc_sizes").set_value("4").run()
    at.button(key="compare_lc_start").click().run()
    assert "choose the data these runs were trained on" in texts(at.error)  # other data: refused, nothing made

    at = compare_page(mine, monkeypatch, **yelp_state())
    # Doubling from 8 while below the smallest class's training rows (about 430 of 996 Yelp rows), then all.
    assert at.text_input(key="compare_w_lc_sizes").value == "8,16,32,64,128,256,all"
    at.text_input(key="compare_w_lc_sizes").set_value("4").run()
    at.number_input(key="compare_w_lc_seeds").set_value(1).run()
    assert at.button(key="compare_lc_start").proto.label == "Start learning curve (1 run)"
    at.button(key="compare_lc_start").click().run()
    assert not at.exception and not at.error
    groups = lc.curve_groups(tlcore.RunStore(mine), comparison.test_fingerprint)
    assert len(groups) == 2
    new = next(group for group in groups if group != ids["curve"])
    (run,) = groups[new]
    assert run.config()["per_class"] == 4 and run.status().get("pid")
    deadline = time.monotonic() + 180  # a background worker: its features are cached, so it is quick
    while run.status()["status"] in tlcore.LIVE_STATES and time.monotonic() < deadline:
        time.sleep(0.5)
    assert run.status()["status"] == "succeeded"
    at.run()
    assert at.selectbox(key=f"compare_w_lc_group::{comparison.test_fingerprint}").value == new
    assert "1 run: 1 succeeded." in texts(at.caption)


def test_a_live_curve_shows_its_progress_and_can_be_cancelled(runs, comparison, monkeypatch, tmp_path, compare_page,
                                                              texts, yelp):
    import os

    root, ids = runs
    mine = tmp_path / "runs"
    shutil.copytree(root, mine)
    store = tlcore.RunStore(mine)
    curve = lc.curve_like(store.get(ids["linear-probe"]), yelp, "linear-probe", "minilm", [4, 8], [0], store)
    for run in curve:  # as a worker would (this process, so its pid is alive): one running, one waiting
        run.update_status(pid=os.getpid())
    curve[0].update_status(status="running")
    at = compare_page(mine, monkeypatch)
    assert at.selectbox(key=f"compare_w_lc_group::{comparison.test_fingerprint}").value == curve[0].config()["group"]
    assert "0 of 2 runs finished (1 queued, 1 running)" in at.get("progress")[0].proto.text
    assert "No point finished yet" in texts(at.info)
    at.button(key=f"compare_lc_cancel::{curve[0].config()['group']}").click().run()
    assert not at.exception
    assert all(run.cancel_requested for run in curve)


def test_report_tab_offers_the_html_file(runs, monkeypatch, compare_page, texts):
    root, _ = runs
    at = compare_page(root, monkeypatch)
    assert "Download report (HTML)" in [button.proto.label for button in at.get("download_button")]
    assert "Includes the learning curve chosen in its tab: linear-probe · minilm." in texts(at.caption)
