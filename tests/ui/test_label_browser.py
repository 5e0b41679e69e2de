"""The labeling journey in a real browser (headless Chromium): an uploaded review file with unlabeled rows, two
suspected label errors fixed and saved as a version, five suggested rows labeled with the keyboard (one key per
class, skip, undo), saved, and the run's method re-run on the new version.
Screenshots: test-artifacts/browser-label-*."""
from __future__ import annotations

import json
import re

import pytest

pytestmark = pytest.mark.browser

UNLABELED = 30


def test_fix_two_errors_label_five_rows_and_rerun(browser_page, tmp_path, wait_for):
    from playwright.sync_api import expect

    import tlcore

    ui, runs = browser_page
    page, main, shot = ui.page, ui.main, ui.shot
    frame = tlcore.load_sample("yelp").head(200).reset_index(drop=True)
    frame.loc[:UNLABELED - 1, "label"] = None
    upload = tmp_path / "reviews.csv"
    frame.to_csv(upload, index=False)
    config = tlcore.RunConfig(model="minilm", method="linear-probe", test_size=40, data_name="reviews.csv")
    reference = tlcore.create_run(config, tlcore.to_labeled(frame, "text", "label"), store=tlcore.RunStore(runs))
    tlcore.execute(reference)  # in this process: quicker than a worker, and the same files

    with ui.failure_shot():
        page.goto(ui.url)
        expect(main.get_by_role("heading", name="TransferLab")).to_be_visible()
        ui.go("Data")
        page.get_by_test_id("stRadio").get_by_text("Upload a file").click()
        expect(page.get_by_text("Upload a table with a text column")).to_be_visible()
        page.get_by_test_id("stFileUploaderDropzoneInput").set_input_files(str(upload))
        expect(page.get_by_text("Preview of reviews.csv")).to_be_visible()

        ui.go("Label")
        header = re.compile(r"Data: reviews\.csv · 170 labeled rows, 30 without a label")
        expect(main.get_by_text(header)).to_be_visible()
        ui.button("Find suspected label errors").click()
        expect(main.get_by_text(re.compile("rows look mislabeled"))).to_be_visible()
        shot("label-01-suspected-errors")
        for i in range(2):
            main.get_by_role("button", name="Accept").nth(i).click()
            expect(main.get_by_text(f"{i + 1} accepted, 0 rejected", exact=False)).to_be_visible()
        ui.button(r"Save as new version \(2 fixes\)").click()
        expect(main.get_by_text(re.compile(r"Saved reviews\.v2\.csv \(2 labels fixed\)"))).to_be_visible()
        shot("label-02-fixes-saved")

        ui.number("Rows to suggest", 5)
        ui.button("Suggest 5 rows to label").click()
        expect(main.get_by_text("Row 1 of 5", exact=False)).to_be_visible()
        shot("label-03-suggested")
        done = 0
        for key in ("1", "2", "S", "U", "1", "2", "1"):
            main.get_by_text(re.compile(r"\d of 5 answered")).first.click()  # focus the page, not a text box
            page.keyboard.press(key)
            done = done - 1 if key == "U" else done + 1
            expect(main.get_by_text(f"{done} of 5 answered", exact=False)).to_be_visible()
            if done == 2 and key == "2":
                shot("label-04-labeling")
        expect(main.get_by_text("All 5 suggested rows answered")).to_be_visible()
        shot("label-05-all-answered")
        ui.button("Save 5 labeled rows as a new version").click()
        expect(main.get_by_text(re.compile(r"Saved reviews\.v3\.csv \(5 rows labeled\)"))).to_be_visible()

        ui.button(r"Re-run linear-probe on reviews\.v3\.csv").click()
        expect(main.get_by_text(re.compile("scored on the same test rows"))).to_be_visible()
        rerun = next(r for r in tlcore.RunStore(runs).runs() if r.id != reference.id)
        status = wait_for(lambda: rerun.status().get("status") in tlcore.runs.FINAL_STATES and rerun.status(),
                          timeout=240)
        assert status["status"] == "succeeded", status
        expect(main.get_by_text(re.compile(r"same test rows as .*\(succeeded\)"))).to_be_visible()  # polled
        shot("label-06-rerun-finished")
        main.get_by_role("link", name="Compare the runs").click()
        expect(main.get_by_role("heading", name=re.compile("Compare"))).to_be_visible()
        shot("label-07-compare")

    versions = runs / ".data"
    fixes = json.loads((versions / "reviews.v2.changes.json").read_text())
    labels = json.loads((versions / "reviews.v3.changes.json").read_text())
    assert [c["kind"] for c in fixes["changes"]] == ["relabeled"] * 2 and labels["parent"] == "reviews.v2.csv"
    assert [c["new_label"] for c in labels["changes"]] == ["negative", "positive", "negative", "positive", "negative"]
    assert all(c["row"] < UNLABELED and c["old_label"] is None for c in labels["changes"])
    config = rerun.config()
    assert config["data_version"] == str(versions / "reviews.v3.csv")
    assert config["split"]["test_fingerprint"] == reference.config()["split"]["test_fingerprint"]
