"""End to end: the real app in headless Chromium. The analyst's whole journey (data, zero-shot, few-shot, a LoRA run
watched live, a cancelled one, Compare, Playground, batch prediction, export) in one session; the method panel
and the Runs page.

Runs `streamlit run app.py` on a free port with its own runs folder, then drives it with Playwright.
Screenshots of each step (and of a failure) go to test-artifacts/.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

pytestmark = pytest.mark.browser

RUN_TIMEOUT_MS = 240_000  # a run loads the model in a fresh process; the machine may be busy


# An HTML payload the app must show as text and never run (it would set window.__xss).
INJECTED = '<img src=x onerror="window.__xss=1">Call now to claim'


@pytest.fixture
def upload_file(tmp_path) -> Path:
    """A small CSV from the SMS spam sample (40 ham, 20 spam) plus the rows an analyst's file really has: the
    same (HTML-looking) text labelled both ways, an exact repeat and a row without text."""
    import tlcore

    frame = tlcore.load_sample("sms_spam")
    small = pd.concat([frame[frame.label == "ham"].head(40), frame[frame.label == "spam"].head(20)])
    dirty = pd.DataFrame({"text": [INJECTED, INJECTED, small.text.iloc[0], ""],
                          "label": ["spam", "ham", small.label.iloc[0], "ham"]})
    path = tmp_path / "sms_small.csv"
    pd.concat([small.sample(frac=1.0, random_state=0), dirty]).to_csv(path, index=False)
    return path


@pytest.fixture
def unlabeled_file(tmp_path) -> Path:
    """Texts to label in a batch: ordinary ones, a spreadsheet formula, markup and an empty cell."""
    path = tmp_path / "inbox.csv"
    pd.DataFrame({"id": [1, 2, 3, 4, 5], "message": [
        "URGENT! You have won a 1 week FREE membership. Text WIN to 80086 now",
        "Are we still meeting for lunch tomorrow?",
        "=cmd|' /C calc'!A0",
        "<script>window.__xss=2</script>see you at 6",
        ""]}).to_csv(path, index=False)
    return path


def test_method_panel_recommend_and_runs_page(browser_page):
    """The Train page's method panel and Recommend button; the Runs page: open a row, download, duplicate, delete."""
    from playwright.sync_api import expect

    import tlcore

    ui, runs = browser_page
    page, main = ui.page, ui.main
    data = tlcore.to_labeled(tlcore.load_sample("sms_spam"), "text", "label")
    run = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", per_class=8, test_size=20,
                                             data_name="sms_spam_sample.csv"), data, store=tlcore.RunStore(runs))
    tlcore.execute(run)  # in this process: quicker than a worker, and the same files

    with ui.failure_shot():
        page.goto(ui.url)
        expect(main.get_by_role("heading", name="TransferLab")).to_be_visible()
        ui.go("Data")  # the first sample is chosen by default
        expect(page.get_by_test_id("stMetric").filter(has_text="Rows used")).to_contain_text("400")
        ui.go("Train")
        ui.choose("Method", "lora")
        expect(page.get_by_text("338,690 of 23.1 M (1.5 %)")).to_be_visible()
        expect(page.get_by_text(re.compile("on this machine for 288 training and 80 test rows"))).to_be_visible()
        ui.choose("Method", "zero-shot")
        expect(page.get_by_text(re.compile("none — no training"))).to_be_visible()
        ui.button("Recommend").click()
        expect(page.get_by_text(re.compile("Recommended for 288 training rows in 2 classes"))).to_be_visible()
        expect(page.get_by_role("combobox", name="Method")).to_have_value("lora")
        expect(page.get_by_text("338,690 of 23.1 M (1.5 %)")).to_be_visible()
        ui.shot("8-train-method-panel")

        ui.go("Runs")
        grid = page.get_by_test_id("stDataFrame")
        expect(grid).to_be_visible()
        expect(grid).to_contain_text("zero-shot")
        box = grid.bounding_box()
        page.mouse.click(box["x"] + 14, box["y"] + 35 + 17)  # the first row's selection box opens it
        expect(ui.button("Duplicate into Train")).to_be_visible()
        expect(page.get_by_text(re.compile("zero-shot · minilm on sms_spam_sample.csv"))).to_be_visible()
        expect(page.get_by_test_id("stMetric").filter(has_text="Accuracy")).to_be_visible()
        with page.expect_download() as download_info:
            page.get_by_test_id("stDownloadButton").get_by_role("button").click()
        download = download_info.value
        assert download.suggested_filename == f"{run.id}.yaml"
        assert "method: zero-shot" in Path(download.path()).read_text()
        ui.shot("9-runs-open")

        ui.button("Duplicate into Train").click()
        expect(page.get_by_text(re.compile("Settings copied from run"))).to_be_visible()
        expect(page.get_by_label("Test size", exact=True)).to_have_value("20")
        expect(page.get_by_label("Training rows per class", exact=True)).to_have_value("8")
        ui.shot("10-train-duplicated")

        ui.go("Runs")
        page.get_by_test_id("stSelectbox").filter(has_text="Open a run").click()
        page.get_by_role("option").filter(has_text="zero-shot").click()
        ui.button("^Delete").click()
        expect(page.get_by_text(re.compile("This cannot be undone"))).to_be_visible()
        ui.button("Yes, delete it").click()
        expect(page.get_by_text(f"Deleted run {run.id}.")).to_be_visible()
        expect(page.get_by_text(re.compile("No runs yet"))).to_be_visible()
        assert not run.path.exists()


def test_the_theme_follows_the_system_setting(browser_page):
    """Light or dark as the viewer's system says, with the app's colours for each (.streamlit/config.toml)."""
    from playwright.sync_api import expect

    ui, _ = browser_page
    page = ui.page
    with ui.failure_shot():
        for scheme, background in (("dark", "rgb(17, 24, 39)"), ("light", "rgb(255, 255, 255)")):
            page.emulate_media(color_scheme=scheme)
            page.goto(ui.url)
            expect(ui.main.get_by_role("heading", name="TransferLab")).to_be_visible()
            app = page.get_by_test_id("stApp")
            expect(app).to_have_css("background-color", background)
            if scheme == "dark":
                ui.shot("theme-dark-home")


# A paired verdict of the Compare page and the search (tlcore.compare.paired.PairedComparison.verdict).
VERDICT = re.compile(r"beats .* points of accuracy|No clear difference on \d+ test rows|No difference")


def test_find_the_best_method(browser_page):
    """One click runs the portfolio as queued runs; the user stops the slow methods; the pick is shown with its
    interval and its paired verdicts, and Compare opens on the same runs."""
    from playwright.sync_api import expect

    import tlcore

    ui, runs = browser_page
    page, main = ui.page, ui.main
    with ui.failure_shot():
        page.goto(ui.url)
        expect(main.get_by_role("heading", name="TransferLab")).to_be_visible()
        ui.go("Data")  # the SMS sample, chosen by default
        expect(page.get_by_test_id("stMetric").filter(has_text="Rows used")).to_contain_text("400")
        ui.go("Train")
        expect(page.get_by_text(re.compile("Test size: With 80 test rows"))).to_be_visible()  # the advice
        page.get_by_test_id("stCheckbox").filter(has_text="Use all training rows").click()
        ui.number("Training rows per class", 8)
        expect(page.get_by_text(re.compile(r"training rows \(ham 8, spam 8\)"))).to_be_visible()
        ui.button("Find the best method").click()
        progress = main.locator('[data-testid^="stAlertContent"]').filter(has_text="methods finished")
        expect(progress).to_be_visible()
        ui.shot("best-1-running")
        # zero-shot, few-shot and the linear probe take seconds; SetFit and LoRA train for a minute or more on a
        # CPU. Stop there, as a user in a hurry would: the pick is made among the methods that finished.
        expect(progress.filter(has_text="3 of 5 methods finished")).to_be_visible(timeout=RUN_TIMEOUT_MS)
        ui.button("Cancel the search").click()
        picked = main.locator('[data-testid^="stAlertContent"]').filter(has_text="Picked ")
        expect(picked).to_contain_text("validation accuracy", timeout=RUN_TIMEOUT_MS)
        expect(picked).to_contain_text("95 % interval")
        expect(main.get_by_text(VERDICT).first).to_be_visible()  # the pick against each other finished method
        ui.shot("best-2-picked")
        ui.button("Compare these runs").click()
        expect(main.get_by_role("heading", name=re.compile("Compare")).first).to_be_visible()
        verdicts = main.locator('[data-testid^="stAlertContent"]').filter(has_text=VERDICT)
        expect(verdicts).to_have_count(2)  # the best of the three finished runs against the two others
        ui.shot("best-3-compare")

    statuses = sorted(s.status for s in tlcore.RunStore(runs).summaries())
    assert statuses == ["cancelled", "cancelled", "succeeded", "succeeded", "succeeded"]


# Points of the loss chart's raw train-loss line, read from the plotly element the browser drew.
TRAIN_POINTS_JS = """() => {
    for (const plot of document.querySelectorAll('[data-testid="stPlotlyChart"] .js-plotly-plot')) {
        const trace = (plot.data || []).find(t => t.name === 'train loss');
        if (trace) return trace.x.length;
    }
    return 0;
}"""


def _points(page) -> int:
    return page.evaluate(TRAIN_POINTS_JS)


def test_analyst_journey(browser_page, upload_file, unlabeled_file):
    """The whole journey in one browser session: sample and uploaded data with its warnings, zero-shot, few-shot,
    a LoRA run watched live, a second one cancelled, Compare, the Playground, a batch download and an export."""
    import zipfile

    from playwright.sync_api import expect

    import tlcore

    ui, runs = browser_page
    page, main, shot, go, choose, number = ui.page, ui.main, ui.shot, ui.go, ui.choose, ui.number
    with ui.failure_shot():
        page.goto(ui.url)
        expect(main.get_by_role("heading", name="TransferLab")).to_be_visible()
        expect(page.get_by_test_id("stSidebar").get_by_role("link")).to_have_count(7)  # Home, 6 pages
        shot("journey-01-home")

        # Data: the bundled sample first, then the analyst's own (messy) file.
        go("Data")
        expect(page.get_by_test_id("stMetric").filter(has_text="Rows used")).to_contain_text("400")
        shot("journey-02-sample")
        page.get_by_test_id("stRadio").get_by_text("Upload a file").click()
        # Wait for the rerun the radio caused to draw the uploader: a file handed to one being replaced is lost.
        expect(page.get_by_text("Upload a table with a text column")).to_be_visible()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload_file))
        expect(page.get_by_text(f"Preview of {upload_file.name}")).to_be_visible()
        warnings = page.get_by_test_id("stAlertContentWarning")
        expect(warnings.filter(has_text="with different labels")).to_be_visible()
        expect(warnings.filter(has_text="repeats an earlier text exactly")).to_be_visible()
        expect(warnings.filter(has_text="will be dropped")).to_be_visible()
        expect(warnings.filter(has_text=INJECTED[:34])).to_be_visible()  # the markup is shown as text ...
        assert page.evaluate("() => window.__xss") is None  # ... and never ran
        expect(page.get_by_test_id("stMetric").filter(has_text="Rows used")).to_contain_text("63")
        shot("journey-03-upload-warnings")

        # Zero-shot, then few-shot, on the uploaded file.
        go("Train")
        expect(page.get_by_text(f"{upload_file.name} — 63 rows, 2 classes", exact=False)).to_be_visible()
        choose("Model", "minilm · encoder, 22.7 M params · bundled")
        for done, method in enumerate(("zero-shot", "few-shot")):
            choose("Method", method)
            ui.button("Start run").click()
            expect(main.get_by_role("heading", name="Current run")).to_be_visible()
            expect(page.get_by_role("link", name=re.compile("Compare with other runs"))).to_be_visible(
                timeout=RUN_TIMEOUT_MS)
            expect(page.get_by_test_id("stMetric").filter(has_text="Accuracy").first).to_be_visible()
            shot(f"journey-0{4 + done}-{method}")

        # A LoRA run, watched live until it finishes.
        choose("Method", "lora")
        page.get_by_test_id("stCheckbox").filter(has_text="Use all training rows").click()  # on by default
        expect(page.get_by_label("Training rows per class", exact=True)).to_be_enabled()  # the rerun is drawn
        number("Epochs (0 = auto)", 3)
        number("Batch size", 4)
        number("Training rows per class", 16)
        expect(page.get_by_text(re.compile(r"training rows \(ham 16, spam 1\d\)"))).to_be_visible()
        ui.button("Start run").click()
        expect(main.get_by_role("heading", name="Current run")).to_be_visible()
        expect(ui.button("Cancel run")).to_be_visible()
        page.wait_for_function(f"({TRAIN_POINTS_JS})() >= 1", timeout=RUN_TIMEOUT_MS)  # a live point
        shot("journey-06-lora-live")
        expect(page.get_by_role("link", name=re.compile("Compare with other runs"))).to_be_visible(
            timeout=RUN_TIMEOUT_MS)
        expect(main.get_by_role("heading", name="Last run")).to_be_visible()
        page.wait_for_function(f"({TRAIN_POINTS_JS})() == 24")  # 8 steps (31 rows by 4) x 3 epochs, all drawn
        page.get_by_test_id("stPlotlyChart").first.hover()  # plotly's mode bar: one button, a PNG of the chart
        expect(page.locator('[data-testid="stPlotlyChart"] .modebar-btn[data-title="Download plot as a PNG" i]').first
               ).to_be_attached()
        shot("journey-07-lora-done")

        # A second LoRA run: its curve grows while it trains, then it is cancelled.
        number("Epochs (0 = auto)", 100)
        ui.button("Start run").click()
        expect(main.get_by_role("heading", name="Earlier runs in this session")).to_be_visible()
        expect(ui.button("Cancel run")).to_be_visible()
        page.wait_for_function(f"({TRAIN_POINTS_JS})() >= 2", timeout=RUN_TIMEOUT_MS)
        first = _points(page)
        # The fragment redraws every 1.5 s; a step (or an epoch's validation) may take a while on a busy machine.
        page.wait_for_function(f"({TRAIN_POINTS_JS})() > {first}", timeout=RUN_TIMEOUT_MS)
        assert _points(page) > first
        expect(page.get_by_test_id("stProgress")).to_contain_text("Training: step")
        shot("journey-08-second-live")
        ui.button("Cancel run").click()
        expect(page.get_by_text("The run was cancelled.")).to_be_visible(timeout=RUN_TIMEOUT_MS)
        shot("journey-09-cancelled")

        # Compare the three finished runs on their shared test split.
        go("Compare")
        chosen = page.get_by_test_id("stMultiSelect")
        for label in ("zero-shot · minilm", "few-shot · minilm", "lora · minilm"):
            expect(chosen).to_contain_text(label)
        table = page.get_by_test_id("stDataFrame").first
        expect(table).to_contain_text("majority class (ham)")
        # The paired verdict of the best run against each other one: plain words, never an unsupported winner.
        verdicts = main.locator('[data-testid^="stAlertContent"]').filter(has_text=VERDICT)
        expect(verdicts).to_have_count(2)
        shot("journey-10-compare-metrics")
        page.get_by_role("tab", name="Confusion matrices").click()
        expect(page.get_by_test_id("stPlotlyChart").filter(visible=True)).to_have_count(1)
        shot("journey-10-compare")

        # Use: the playground answers with the best run of each kind.
        go("Use")
        box = page.get_by_label("Text", exact=True)
        box.fill("WINNER!! Claim your free prize now, text CLAIM to 81010")
        box.press("Control+Enter")
        expect(main.get_by_text(re.compile(r"^confidence \d"))).to_have_count(3, timeout=RUN_TIMEOUT_MS)
        for method in ("zero-shot", "few-shot", "lora"):
            expect(main.get_by_text(re.compile(f"^{method} · minilm$"))).to_be_visible()  # its result card
        shot("journey-11-playground")

        # Batch prediction: the same file back, labelled, formulas neutralised.
        page.get_by_role("tab", name="Batch prediction").click()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(unlabeled_file))
        expect(page.get_by_text(re.compile(f"{unlabeled_file.name} · 5 rows"))).to_be_visible()
        ui.button("^Predict$").click()
        with page.expect_download() as download_info:
            page.get_by_role("button", name=re.compile("Download predictions")).click()
        scored = pd.read_csv(download_info.value.path(), keep_default_na=False)
        assert list(scored["id"]) == [1, 2, 3, 4, 5]
        assert set(scored.loc[:3, "predicted"]) <= {"ham", "spam"}
        assert scored.loc[2, "message"].startswith("'=")  # a spreadsheet would not run it
        assert scored.loc[4, "predicted"] == ""  # no text, no prediction, row kept
        assert page.evaluate("() => window.__xss") is None
        shot("journey-12-batch")

        # Export the LoRA run and download the zip.
        page.get_by_role("tab", name="Export & import").click()
        page.get_by_test_id("stSelectbox").filter(has_text="Run to export").click()
        page.get_by_role("option").filter(has_text=re.compile("^lora · minilm")).click()
        # The choice reruns the page: wait for what it draws for a LoRA run, or the click can hit the old button.
        expect(main.get_by_text(re.compile("A zip with the PEFT adapter"))).to_be_visible()
        ui.button("Build export").click()
        with page.expect_download() as download_info:
            ui.button(r"^Download .*\.zip").click()
        names = zipfile.ZipFile(download_info.value.path()).namelist()
        assert any(n.endswith("adapter_model.safetensors") for n in names), names
        assert any("transferlab/" in n for n in names), names
        shot("journey-13-export")

    statuses = sorted((s.method, s.status) for s in tlcore.RunStore(runs).summaries())
    assert statuses == [("few-shot", "succeeded"), ("lora", "cancelled"), ("lora", "succeeded"),
                        ("zero-shot", "succeeded")]


def test_the_model_picker_offers_the_hugging_face_cache(hub_models, browser_page):
    """A model already in the Hugging Face cache is picked like a bundled one, with its kind, size and embedding
    recipe shown before anything loads, and trains (zero-shot runs to the end by its Hub id)."""
    from playwright.sync_api import expect

    import tlcore

    ui, runs = browser_page
    page, main = ui.page, ui.main
    with ui.failure_shot():
        page.goto(ui.url)
        ui.go("Data")
        expect(page.get_by_test_id("stMetric").filter(has_text="Rows used")).to_contain_text("400")
        ui.go("Train")
        page.get_by_test_id("stSelectbox").filter(has_text="Model").click()
        options = page.get_by_role("option")
        expect(options.filter(has_text="tiny-org/st-cls-encoder")).to_contain_text("Hugging Face cache")
        expect(options.filter(has_text="tiny-org/qwen2-chat")).to_contain_text("decoder")
        ui.shot("picker-1-options")
        options.filter(has_text="tiny-org/st-cls-encoder").click()
        expect(main.get_by_text(re.compile("Embeds with CLS token pooling"))).to_be_visible()
        ui.choose("Method", "zero-shot")
        ui.button("Start run").click()
        expect(main.get_by_text(re.compile("succeeded")).first).to_be_visible(timeout=RUN_TIMEOUT_MS)
        ui.shot("picker-2-run")
    [summary] = tlcore.RunStore(runs).summaries()
    assert (summary.model, summary.status) == ("tiny-org/st-cls-encoder", "succeeded")
