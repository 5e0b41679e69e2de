"""Importing an export: it comes back as a succeeded run that predicts what the original predicted and sits
with it on the same test set; unsafe or foreign archives (path traversal, links, pickle, bombs, oversize,
not an export, edited) are refused with a reason, leaving nothing behind; `tlcore import` follows the CLI
contract. (LoRA and full fine-tuning exports are imported back in test_export.py.)"""
from __future__ import annotations

import json
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import pytest

import tlcore
from tlcore.use import importing


@pytest.fixture(scope="module")
def source_store(tmp_path_factory) -> tlcore.RunStore:
    return tlcore.RunStore(tmp_path_factory.mktemp("source-runs"))


def finished_run(store: tlcore.RunStore, data, method: str, **options) -> tlcore.Run:
    config = tlcore.RunConfig(model="minilm", method=method, per_class=8, test_size=20, method_options=options,
                              data_name="sms_spam_sample.csv")
    run = tlcore.create_run(config, data, store=store)
    tlcore.execute(run)
    return run


@pytest.fixture(scope="module")
def zero_shot_run(source_store, sms) -> tlcore.Run:
    return finished_run(source_store, sms, "zero-shot", max_length=64)


@pytest.fixture(scope="module")
def export_folder(zero_shot_run, tmp_path_factory) -> Path:
    return tlcore.export_run(zero_shot_run, tmp_path_factory.mktemp("exports") / "zero-shot-export")


def probabilities(frame: pd.DataFrame, labels: list[str]) -> np.ndarray:
    return frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float)


def zip_folder(folder: Path, archive: Path, extra: Callable[[zipfile.ZipFile], None] | None = None) -> Path:
    """The export folder as `tlcore export --zip` lays it out, plus whatever ``extra`` adds."""
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zipped.write(path, f"{folder.name}/{path.relative_to(folder).as_posix()}")
        if extra:
            extra(zipped)
    return archive


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_zip_import_is_a_run_that_predicts_like_the_original(zero_shot_run, export_folder, tmp_path):
    archive = tlcore.export_run(zero_shot_run, tmp_path / "shared", zip=True)
    store = tlcore.RunStore(tmp_path / "other-machine")
    run = tlcore.import_export(archive, store)

    assert run.status()["status"] == "succeeded"
    config, original = run.config(), zero_shot_run.config()
    assert config["imported_from"]["run_id"] == zero_shot_run.id
    assert config["imported_from"]["source"] == str(archive)
    assert (config["model"], config["method"], config["labels"]) == ("minilm", "zero-shot", ["ham", "spam"])
    assert config["method_options"] == original["method_options"] and config["run_id"] == run.id
    assert run.metrics()["accuracy"] == zero_shot_run.metrics()["accuracy"] and run.metrics()["run_id"] == run.id

    # Listed like any run, on the same test set as the original (so the Compare page puts them together).
    [summary] = store.summaries()
    assert (summary.id, summary.status) == (run.id, "succeeded")
    assert summary.test_fingerprint == original["split"]["test_fingerprint"]

    stored = zero_shot_run.predictions()
    assert run.predictions()["text"].tolist() == stored["text"].tolist()
    frame, report = tlcore.use.predict_frame(run, stored[["text"]])
    assert report.scored == len(stored)
    np.testing.assert_allclose(probabilities(frame, ["ham", "spam"]), probabilities(stored, ["ham", "spam"]),
                               atol=1e-5)

    # An imported run exports again, and the same archive imports twice as two runs.
    assert (tlcore.export_run(run, tmp_path / "again") / "method.json").exists()
    second = tlcore.import_export(archive, store)
    assert second.id != run.id and len(store.summaries()) == 2
    assert not [name for name in leftovers(store.root) if name.startswith(".")], "no staging folder is left"


def test_folder_import_of_a_linear_probe(source_store, sms, tmp_path):
    run = finished_run(source_store, sms, "linear-probe", max_length=64)
    folder = tlcore.export_run(run, tmp_path / "probe-export")
    imported = tlcore.import_export(folder, tlcore.RunStore(tmp_path / "runs"), source_name="probe-export")
    assert imported.config()["imported_from"]["source"] == "probe-export"
    assert (imported.path / "artifacts" / "linear_head.json").exists()
    stored = run.predictions()
    frame, _ = tlcore.use.predict_frame(imported, stored[["text"]])
    np.testing.assert_allclose(probabilities(frame, ["ham", "spam"]), probabilities(stored, ["ham", "spam"]),
                               atol=1e-5)
    assert folder.exists() and (folder / "method.json").exists(), "a folder import leaves the folder as it was"


def _member(name: str, data: bytes = b"{}", mode: int | None = None):
    def add(zipped: zipfile.ZipFile) -> None:
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        info.compress_type = zipfile.ZIP_DEFLATED
        zipped.writestr(info, data)
    return add


def _edit(relative: str, change: Callable[[dict | list], dict | list]):
    """Rewrite one JSON file of the export before zipping it."""
    def apply(folder: Path) -> None:
        path = folder / relative
        path.write_text(json.dumps(change(json.loads(path.read_text()))))
    return apply


UNSAFE = {
    "parent path": (_member("zero-shot-export/../../escaped.json"), None, "outside the import folder"),
    "absolute path": (_member("/tmp/absolute-escape.json"), None, "outside the import folder"),
    "windows path": (_member("zero-shot-export\\..\\escaped.json"), None, "outside the import folder"),
    "symlink": (_member("zero-shot-export/link.json", b"/etc/passwd", stat.S_IFLNK | 0o777), None, "symbolic link"),
    "pickle weights": (_member("zero-shot-export/pytorch_model.bin", b"\x80\x04K\x01."), None, "pickle-based"),
    "code": (_member("zero-shot-export/modeling_evil.py", b"import os"), None, "file type"),
    "zip bomb": (_member("zero-shot-export/bomb.txt", b"\0" * (20 * 1024 * 1024)), None, "zip bomb"),
    "fake safetensors": (_member("zero-shot-export/model.safetensors", b"not a safetensors file at all"), None,
                         "not a valid safetensors file"),
    "edited labels": (None, _edit("labels.json", lambda labels: ["spam", "ham"]), "labels.json does not match"),
    "unknown method": (None, _edit("transferlab/config.json", lambda c: {**c, "method": "magic"}),
                       "method this TransferLab does not have: unknown method 'magic'"),
    "missing model": (None, _edit("transferlab/config.json", lambda c: {**c, "model": "/nowhere/model"}),
                      "trained on model '/nowhere/model', which is not available here"),
    "bad option": (None, _edit("transferlab/config.json", lambda c: {**c, "method_options": {"shots": 4}}),
                   "unknown option(s) shots"),
    "no run record": (None, lambda folder: shutil.rmtree(folder / "transferlab"), "is not a TransferLab export"),
    "no method state": (None, lambda folder: (folder / "transferlab" / "artifacts" / "method_state.json").unlink(),
                        "is incomplete: transferlab/artifacts/method_state.json missing"),
}


@pytest.mark.parametrize("case", list(UNSAFE))
def test_unsafe_or_foreign_archives_are_refused_and_leave_nothing(case, export_folder, tmp_path):
    extra, change, message = UNSAFE[case]
    folder = tmp_path / "zero-shot-export"
    shutil.copytree(export_folder, folder)
    if change:
        change(folder)
    archive = zip_folder(folder, tmp_path / "upload.zip", extra)
    store = tlcore.RunStore(tmp_path / "runs")
    with pytest.raises(tlcore.TLCoreError) as error:
        tlcore.import_export(archive, store)
    assert message in str(error.value)
    assert leftovers(store.root) == [], "no run and no staging folder is left"
    assert not (tmp_path / "escaped.json").exists() and not Path("/tmp/absolute-escape.json").exists()


def test_caps_on_files_and_size_are_checked_while_unpacking(export_folder, tmp_path, monkeypatch):
    archive = zip_folder(export_folder, tmp_path / "export.zip")
    store = tlcore.RunStore(tmp_path / "runs")
    monkeypatch.setattr(importing, "MAX_FILES", 3)
    with pytest.raises(tlcore.errors.ExportError, match="more than 3 files"):
        tlcore.import_export(archive, store)
    monkeypatch.setattr(importing, "MAX_FILES", 500)
    monkeypatch.setattr(importing, "MAX_TOTAL_BYTES", 2000)
    with pytest.raises(tlcore.errors.ExportError, match="larger than 2,000 bytes unpacked"):
        tlcore.import_export(archive, store)
    with pytest.raises(tlcore.errors.ExportError, match="larger than 2,000 bytes unpacked"):
        tlcore.import_export(export_folder, store)
    assert leftovers(store.root) == []


def test_folders_with_links_or_foreign_files_are_refused(export_folder, tmp_path):
    store = tlcore.RunStore(tmp_path / "runs")
    linked = tmp_path / "linked"
    shutil.copytree(export_folder, linked)
    (linked / "secrets.json").symlink_to("/etc/hostname")
    with pytest.raises(tlcore.errors.ExportError, match="symbolic link 'secrets.json'"):
        tlcore.import_export(linked, store)

    model_folder = tmp_path / "hf-model"
    model_folder.mkdir()
    (model_folder / "config.json").write_text("{}")
    with pytest.raises(tlcore.errors.ExportError,
                       match="not a TransferLab export.*looks like a Hugging Face model folder"):
        tlcore.import_export(model_folder, store)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(tlcore.errors.ExportError, match="neither a folder nor a .zip file"):
        tlcore.import_export(text, store)
    assert leftovers(store.root) == []


def test_cli_import(zero_shot_run, export_folder, tmp_path, tlcore_cli):
    runs = tmp_path / "runs"
    result = tlcore_cli("import", str(export_folder), "--runs-dir", str(runs), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["original_run_id"] == zero_shot_run.id and payload["method"] == "zero-shot"
    assert payload["accuracy"] == zero_shot_run.metrics()["accuracy"]
    assert tlcore.RunStore(runs).get(payload["run_id"]).status()["status"] == "succeeded"

    bad = zip_folder(export_folder, tmp_path / "bad.zip", _member("zero-shot-export/../evil.json"))
    result = tlcore_cli("import", str(bad), "--runs-dir", str(runs), timeout=300)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "path traversal" in lines[0], result.stderr
    assert len(tlcore.RunStore(runs).summaries()) == 1
