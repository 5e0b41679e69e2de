"""The Compare page's "Does it transfer, and is it fair?" section (tlui/checks_view.py): AppTest for each tab,
and a look in a real browser (screenshots test-artifacts/checks-*.png).
"""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest  # noqa: E402

import tlcore  # noqa: E402
import tlui  # noqa: E402
from tlcore.compare import checks  # noqa: E402

TAB = "compare_checks_tab"


@pytest.fixture
def two_runs(tmp_path, checks_run) -> Path:
    """A private runs folder with copies of the linear-probe and zero-shot runs (the tests save checks in them)."""
    root = tmp_path / "runs"
    root.mkdir()
    for method in ("linear-probe", "zero-shot"):
        run = checks_run(method)
        shutil.copytree(run.path, root / run.id, ignore=shutil.ignore_patterns("evaluations", "checks"))
    return root


@pytest.fixture(scope="session")
def compare_page(new_app):
    """``compare_page(runs_dir, monkeypatch, tab=None, **state)``: the Compare page, on ``tab`` of the checks."""
    def open_(runs_dir: Path, monkeypatch, tab: str | None = None, **state) -> AppTest:
        monkeypatch.setenv("TLCORE_RUNS_DIR", str(runs_dir))
        at = new_app(timeout=240)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        at.switch_page(tlui.COMPARE_PAGE)
        if tab:
            at.session_state[TAB] = tab
        at.run()
        assert not at.exception, at.exception
        return at
    return open_


def table(at: AppTest, column: str) -> pd.DataFrame:
    """The table that has ``column`` (st.dataframe without selection keeps no key in AppTest)."""
    found = [frame.value for frame in at.dataframe if column in frame.value.columns]
    assert found, f"no table with a column {column!r}; tables: {[list(f.value.columns) for f in at.dataframe]}"
    return found[0]


def test_out_of_domain_tab_scores_the_runs_on_a_built_in_domain(two_runs, monkeypatch, compare_page):
    at = compare_page(two_runs, monkeypatch)
    assert "Does it transfer, and is it fair?" in [s.value for s in at.subheader]
    assert {"Out-of-domain", "Slices", "Counterfactual probe", "Compute footprint"} <= {t.label for t in at.tabs}
    assert any("No out-of-domain evaluation yet" in i.value for i in at.info)
    at.selectbox(key="compare_checks_ood_domain").set_value("IMDb").run()
    button = next(b for b in at.button if b.label == "Evaluate 2 runs on imdb_reviews.csv")
    button.click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = table(at, "Out-of-domain accuracy")
    assert sorted(shown["Run"]) == ["linear-probe · minilm", "zero-shot · minilm"]
    assert set(shown["Evaluated on"]) == {"imdb_reviews.csv"} and set(shown["Rows"]) == {300}
    for run in tlcore.RunStore(two_runs).runs():
        saved = checks.load_evaluations(run)[0]
        row = shown[shown["Run"].str.startswith(saved.method)].iloc[0]
        assert row["Out-of-domain accuracy"] == pytest.approx(saved.out_of_domain["accuracy"])
        assert row["Gap (points)"] == pytest.approx(100 * saved.gap_accuracy)


def test_slices_tab_uses_the_data_pages_table_and_marks_small_slices(checks_runs, two_runs, monkeypatch, compare_page):
    mixed = pd.read_csv(checks_runs["root"] / "reviews_mixed.csv")
    at = compare_page(two_runs, monkeypatch, tab="Slices", **{tlui.DATA_FRAME: mixed,
                                                              tlui.DATA_NAME: "reviews_mixed.csv",
                                                              tlui.DATA_TEXT_COLUMN: "text"})
    by_length = table(at, "Note")  # the built-in text length needs no file
    assert by_length["Rows"].sum() == 60
    at.radio(key="compare_checks_slice_source").set_value(
        "A column of reviews_mixed.csv (the Data page's table)").run()
    assert at.selectbox(key="compare_checks_slice_column::reviews_mixed.csv").value == "domain"
    shown = table(at, "Note").set_index("Slice")
    assert set(shown.index) == {"yelp", "amazon"} and shown["Rows"].sum() == 60
    assert shown.loc["amazon", "Note"] == "too small to judge" and shown.loc["yelp", "Note"] == ""
    report = checks.slice_metrics(next(r for r in tlcore.RunStore(two_runs).runs() if "linear-probe" in r.id),
                                  "domain", mixed, save=False)
    assert shown.loc["yelp", "linear-probe · minilm"] == pytest.approx(report.row("yelp").accuracy)
    at.number_input(key="compare_checks_slice_min").set_value(5).run()
    assert "Worst slice" in "\n".join(m.value for m in at.markdown)


def test_probe_and_footprint_tabs(two_runs, monkeypatch, compare_page):
    at = compare_page(two_runs, monkeypatch, tab="Counterfactual probe")
    assert at.text_area(key="compare_checks_probe_pairs").value.startswith("he:she\nhis:her")
    at.text_area(key="compare_checks_probe_pairs").set_value("he:she\nshe:her").run()
    assert any("in two pairs" in e.value for e in at.error)
    at.text_area(key="compare_checks_probe_pairs").set_value("he:she\nhis:her\nman:woman").run()
    next(b for b in at.button if b.label == "Run the probe on 2 runs").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    shown = table(at, "Texts with a term")
    assert len(shown) == 2 and set(shown["Texts"]) == {60}
    assert next(b for b in at.button if b.key == "compare_checks_probe_go").disabled  # saved: nothing to run

    at.session_state[TAB] = "Compute footprint"
    at.run()
    footprint = table(at, "Training FLOPs").set_index("Run")
    assert footprint.loc["linear-probe · minilm", "Trainable params"] == 385
    # zero-shot encodes its training texts once (to refine its label vectors), as the probe does
    assert footprint.loc["zero-shot · minilm", "Training FLOPs"] == footprint.loc["linear-probe · minilm",
                                                                                  "Training FLOPs"]
    assert footprint["Accuracy"].between(0, 1).all()
    at.number_input(key="compare_checks_fp_grid").set_value(800.0).run()  # from the default 400
    doubled = table(at, "Training FLOPs").set_index("Run")
    assert doubled["CO2e (g)"].to_numpy() == pytest.approx(2 * footprint["CO2e (g)"].to_numpy())
    assert any("3,600,000" in m.value for m in at.markdown)  # the formulas are explained


# -- a real browser ---------------------------------------------------------------------------------------
@pytest.mark.browser
def test_checks_in_a_real_browser(checks_runs, browser_page, checks_run, artifacts):
    """Upload an out-of-domain file, slice by an uploaded column, run the probe, read the footprint; a screenshot
    of the section after each (test-artifacts/checks-test-*.png)."""
    from playwright.sync_api import expect

    ui, runs = browser_page
    page = ui.page
    runs.mkdir(parents=True, exist_ok=True)
    for method in ("linear-probe", "zero-shot"):
        run = checks_run(method)
        shutil.copytree(run.path, runs / run.id, ignore=shutil.ignore_patterns("evaluations", "checks"))
    section = page.locator(".st-key-compare_checks")

    def shot(name: str) -> None:
        page.set_viewport_size({"width": 1400, "height": 2400})
        page.mouse.move(0, 0)
        page.wait_for_timeout(700)  # tooltips fade out
        section.screenshot(path=str(artifacts / f"checks-test-{name}.png"))

    def tab(name: str) -> None:
        section.get_by_role("tab", name=name).click()
        expect(section.get_by_role("tab", name=name)).to_have_attribute("aria-selected", "true")

    def upload(label: str, path: Path) -> None:
        # Wait for the rerun the radio caused to draw this uploader: a file handed to one being replaced is lost.
        uploader = section.get_by_test_id("stFileUploader").filter(has_text=label)
        expect(uploader).to_be_visible()
        uploader.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(path))
        expect(uploader).to_contain_text(path.name)

    with ui.failure_shot():
        page.goto(ui.url)
        ui.go("Compare")
        expect(section.get_by_role("heading", name="Does it transfer, and is it fair?")).to_be_visible()
        section.get_by_test_id("stRadio").get_by_text("My own labeled file").click()
        upload("Labeled file with the runs' labels", checks_runs["root"] / "imdb_small.csv")
        ui.button("Evaluate 2 runs on imdb_small.csv").click()
        expect(section.get_by_text("Most confident mistakes out of domain")).to_be_visible(timeout=240_000)
        expect(section.get_by_test_id("stDataFrame").first).to_contain_text("imdb_small.csv")
        shot("ood")

        tab("Slices")
        section.get_by_test_id("stRadio").get_by_text("A column of an uploaded file").click()
        upload("The data file the runs were trained on", checks_runs["root"] / "reviews_mixed.csv")
        expect(section.get_by_role("combobox", name="Column", exact=True)).to_have_value("domain")
        expect(section.get_by_test_id("stDataFrame").first).to_contain_text("too small to judge")
        ui.number("Too small to judge below (test rows)", 5)
        expect(section.get_by_text("Worst slice —")).to_be_visible()
        shot("slices")

        tab("Counterfactual probe")
        section.get_by_test_id("stRadio").get_by_text("A built-in review domain").click()
        ui.choose("Domain", "IMDb")
        ui.button("Run the probe on 2 runs").click()
        expect(ui.button("Probed: results below")).to_be_disabled(timeout=240_000)
        expect(section.get_by_text("sensitivity to the swaps").first).to_be_visible()
        flipped = section.get_by_test_id("stExpander").filter(has_text="flipped by").first
        if flipped.count():
            flipped.click()
        shot("probe")

        tab("Compute footprint")
        expect(section.get_by_test_id("stDataFrame").first).to_contain_text("FLOP", timeout=120_000)
        # both encode the same training texts once: whichever counts more tokens is the reference
        expect(section.get_by_text(re.compile(r"(zero-shot|linear-probe) \(minilm\): .* about the same training "
                                              r"compute as (linear-probe|zero-shot) \(minilm\)"))).to_be_visible()
        section.get_by_text("How these are estimated").click()
        expect(section.get_by_text(re.compile("3,600,000"))).to_be_visible()
        shot("footprint")
