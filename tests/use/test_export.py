"""Exports load with transformers / peft alone (a fresh Python that never imports tlcore) and predict what the
run predicted; imported back into TransferLab they predict the same; prompt-based runs export their JSON; no
pickle ever; destinations are never overwritten."""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import tlcore
from tlcore.engine.models import model_folder

MINILM = str(model_folder(tlcore.engine.resolve_model("minilm")))

@pytest.fixture(scope="module")
def store(tmp_path_factory) -> tlcore.RunStore:
    return tlcore.RunStore(tmp_path_factory.mktemp("export-runs"))


def finished_run(store, data, method: str, **options) -> tlcore.Run:
    """A run in fp32, as the exports' snippets compute (where "auto" picks bf16 their probabilities would differ from
    the run's in the third decimal): the tests check that the snippets reproduce the run exactly."""
    config = tlcore.RunConfig(model="minilm", method=method, per_class=8, test_size=20, method_options=options,
                              precision="fp32")
    run = tlcore.create_run(config, data, store=store)
    tlcore.execute(run)
    return run


@pytest.fixture(scope="module")
def zero_shot_run(store, sms) -> tlcore.Run:
    return finished_run(store, sms, "zero-shot", max_length=64)


def python_blocks(readme: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", readme, flags=re.S)


def with_paths(code: str, folder: Path, base: str = MINILM) -> str:
    """The README's snippet pointed at this export and at the local copy of the base model."""
    code, n_folder = re.subn(r'^FOLDER = ".*"', f"FOLDER = {str(folder)!r}", code, flags=re.M)
    code, n_base = re.subn(r'^BASE = ".*"', f"BASE = {base!r}", code, flags=re.M)
    assert n_folder == 1 and n_base <= 1, "the snippet must set FOLDER (and BASE) once"
    return code


def expected(run: tlcore.Run) -> tuple[list[str], np.ndarray]:
    frame = run.predictions()
    labels = run.config()["labels"]
    return frame["text"].tolist(), frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float)


def check_no_pickle(folder: Path) -> None:
    names = [p.name for p in folder.rglob("*") if p.is_file()]
    assert not [n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt"))], names


def check_imports_back(folder: Path, run: tlcore.Run, want: np.ndarray, tmp_path: Path) -> None:
    """The export, imported into another runs folder, is a succeeded run that predicts what the app predicted."""
    imported = tlcore.import_export(folder, tlcore.RunStore(tmp_path / "imported-runs"))
    assert imported.status()["status"] == "succeeded" and imported.id != run.id
    assert imported.config()["imported_from"]["run_id"] == run.id
    assert imported.metrics()["accuracy"] == run.metrics()["accuracy"]
    texts = run.predictions()["text"].tolist()
    frame, _ = tlcore.use.predict_frame(imported, pd.DataFrame({"text": texts}))
    labels = run.config()["labels"]
    np.testing.assert_allclose(frame[[f"p_{label}" for label in labels]].to_numpy(dtype=float), want, atol=1e-4)


def test_lora_export_loads_with_peft_alone_and_predicts_like_the_run(store, sms, tmp_path, fresh_python):
    run = finished_run(store, sms, "lora", epochs=1, max_length=32)
    folder = tlcore.export_run(run, tmp_path / "lora-export")
    assert {"adapter_config.json", "adapter_model.safetensors", "config.json", "tokenizer.json",
            "tokenizer_config.json", "labels.json", "README.md"} <= {p.name for p in folder.iterdir()}
    check_no_pickle(folder)
    adapter = json.loads((folder / "adapter_config.json").read_text())
    assert adapter["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "ham", "1": "spam"} and config["label2id"] == {"ham": 0, "spam": 1}
    assert json.loads((folder / "tokenizer_config.json").read_text())["model_max_length"] == 32

    readme = (folder / "README.md").read_text()
    for heading in ("## Data", "## Test results", "## Intended use", "## Limits", "## How to load"):
        assert heading in readme
    assert run.config()["split"]["test_fingerprint"] in readme
    assert "`transferlab/`" in readme and "*with the test texts*" in readme  # the card says what it holds
    assert f"Accuracy: **{run.metrics()['accuracy']:.3f}**" in readme
    texts, want = expected(run)

    # The AutoPeft route reads the base model from adapter_config.json: point a copy at the local folder,
    # as the README says to do offline.
    local = tmp_path / "lora-local-base"
    shutil.copytree(folder, local)
    adapter["base_model_name_or_path"] = MINILM
    (local / "adapter_config.json").write_text(json.dumps(adapter))

    first, second = python_blocks(readme)
    program = "\n".join([
        with_paths(first, folder),
        f"texts = {texts!r}",
        "via_peft_model = predict_proba(texts).tolist()",
        f"FOLDER = {str(local)!r}",
        second,  # rebinds `model`, so predict_proba now uses the AutoPeft model
        "via_auto_peft = predict_proba(texts).tolist()",
        "assert 'tlcore' not in sys.modules",
        "import json",
        "print(json.dumps({'peft_model': via_peft_model, 'auto_peft': via_auto_peft, 'labels': labels}))",
    ])
    got = fresh_python(program, tmp_path)
    assert got["labels"] == ["ham", "spam"]
    np.testing.assert_allclose(np.asarray(got["peft_model"]), want, atol=1e-4)
    np.testing.assert_allclose(np.asarray(got["auto_peft"]), want, atol=1e-4)
    check_imports_back(folder, run, want, tmp_path)


def test_full_export_loads_with_transformers_alone_and_predicts_like_the_run(store, sms, tmp_path, fresh_python):
    run = finished_run(store, sms, "full", epochs=1, max_length=32)
    folder = tlcore.export_run(run, tmp_path / "full-export")
    assert {"config.json", "model.safetensors", "tokenizer.json", "labels.json", "README.md"} <= \
        {p.name for p in folder.iterdir()}
    check_no_pickle(folder)
    config = json.loads((folder / "config.json").read_text())
    assert config["id2label"] == {"0": "ham", "1": "spam"} and "_name_or_path" not in config
    texts, want = expected(run)
    snippet = python_blocks((folder / "README.md").read_text())[0]
    program = "\n".join([
        with_paths(snippet, folder),
        f"texts = {texts!r}",
        "proba = predict_proba(texts).tolist()",
        "assert 'tlcore' not in sys.modules and 'peft' not in sys.modules",
        "import json",
        "print(json.dumps({'proba': proba, 'labels': labels}))",
    ])
    got = fresh_python(program, tmp_path)
    assert got["labels"] == ["ham", "spam"]
    np.testing.assert_allclose(np.asarray(got["proba"]), want, atol=1e-4)
    check_imports_back(folder, run, want, tmp_path)


PROMPT_AND_PROBE = {"zero-shot": {"max_length": 64}, "few-shot": {"shots": 2, "max_length": 64},
                    "linear-probe": {"max_length": 64}}


def test_prompt_and_probe_exports_are_json_with_a_working_snippet(store, sms, tmp_path, fresh_python):
    program, want = [], {}
    for method, options in PROMPT_AND_PROBE.items():
        run = finished_run(store, sms, method, **options)
        folder = tlcore.export_run(run, tmp_path / f"{method}-export")
        assert sorted(p.name for p in folder.iterdir()) == ["README.md", "labels.json", "method.json", "transferlab"]
        assert {p.name for p in (folder / "transferlab").iterdir()} == \
            {"artifacts", "config.json", "metrics.json", "predictions.csv"}
        spec = json.loads((folder / "method.json").read_text())
        assert spec["method"] == method and spec["labels"] == ["ham", "spam"]
        assert spec["base_model"] == "sentence-transformers/all-MiniLM-L6-v2" and spec["max_length"] == 64
        if method == "linear-probe":
            assert len(spec["linear_head"]["coef"][0]) == 384
        else:
            assert spec["label_texts"] == {"ham": "ham", "spam": "spam"} and spec["temperature"] == 0.05
        if method == "few-shot":
            assert len(spec["shots"]) == 4 and {s["label"] for s in spec["shots"]} == {"ham", "spam"}
        if method == "zero-shot":  # refined on the 16 training texts, so not recomputable from the label texts
            assert np.asarray(spec["class_vectors"]).shape == (2, 384)
        readme = (folder / "README.md").read_text()
        assert f"`{method}`" in readme and "## How to load" in readme and "Macro-F1" in readme
        texts, want[method] = expected(run)
        # Each snippet runs in its own namespace of one fresh interpreter (one start-up for the three).
        code = with_paths(python_blocks(readme)[0], folder) + f"\nresult = predict_proba({texts!r}).tolist()\n"
        program.append(f"scope = {{}}\nexec({code!r}, scope)\nresults[{method!r}] = scope['result']")
    got = fresh_python("\n".join(["import json", "results = {}", *program,
                                       "assert 'tlcore' not in sys.modules",
                                       "print(json.dumps(results))"]), tmp_path)
    for method in PROMPT_AND_PROBE:
        np.testing.assert_allclose(np.asarray(got[method]), want[method], atol=1e-4, err_msg=method)


def test_export_never_overwrites_and_can_zip(zero_shot_run, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    with pytest.raises(tlcore.errors.ExportError, match="already exists and is not empty"):
        tlcore.export_run(zero_shot_run, taken)
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], "no half-written export is left"

    empty = tmp_path / "empty"
    empty.mkdir()
    assert (tlcore.export_run(zero_shot_run, empty) / "method.json").exists()

    archive = tlcore.export_run(zero_shot_run, tmp_path / "bundle", zip=True)
    assert archive == tmp_path / "bundle.zip" and not (tmp_path / "bundle").exists()
    with zipfile.ZipFile(archive) as zipped:
        names = sorted(zipped.namelist())
    assert [n for n in names if not n.startswith("bundle/transferlab/")] == \
        ["bundle/README.md", "bundle/labels.json", "bundle/method.json"]
    assert "bundle/transferlab/config.json" in names and "bundle/transferlab/artifacts/method_state.json" in names
    with pytest.raises(tlcore.errors.ExportError, match="already exists"):
        tlcore.export_run(zero_shot_run, tmp_path / "bundle", zip=True)


def test_export_refuses_unfinished_and_incomplete_runs(store, sms, zero_shot_run, tmp_path):
    queued = tlcore.create_run(tlcore.RunConfig(model="minilm", method="zero-shot", test_size=20), sms, store=store)
    with pytest.raises(tlcore.RunError, match="is queued.*only a succeeded run"):
        tlcore.export_run(queued, tmp_path / "a")
    broken = tlcore.Run(tmp_path / "copy")
    shutil.copytree(zero_shot_run.path, broken.path)
    (broken.path / "artifacts" / "method_state.json").unlink()
    with pytest.raises(tlcore.RunError, match="artifacts/method_state.json is missing"):
        tlcore.export_run(broken, tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_decoder_channel_export_predicts_like_the_run_without_tlcore(sms, tmp_path, fresh_python):
    store = tlcore.RunStore(tmp_path / "runs")
    config = tlcore.RunConfig(model="smollm2-135m", method="zero-shot", per_class=4, test_size=6,
                              method_options={"max_length": 48}, precision="fp32")  # as the snippet computes
    run = tlcore.create_run(config, sms, store=store)
    tlcore.execute(run)
    folder = tlcore.export_run(run, tmp_path / "channel-export")
    spec = json.loads((folder / "method.json").read_text())
    assert spec["scoring"].startswith("channel") and sorted(spec["channel_prompts"]) == ["ham", "spam"]
    assert "Write a text that is spam." in spec["channel_prompts"]["spam"]
    readme = (folder / "README.md").read_text()
    assert "Channel scoring" in readme
    texts, want = expected(run)
    base = str(model_folder(tlcore.engine.resolve_model("smollm2-135m")))
    code = with_paths(python_blocks(readme)[0], folder, base)
    got = fresh_python(code + f"\nprint(json.dumps(predict_proba({texts!r}).tolist()))\n", tmp_path)
    np.testing.assert_allclose(np.asarray(got), want, atol=1e-3)
    check_imports_back(folder, run, want, tmp_path)
