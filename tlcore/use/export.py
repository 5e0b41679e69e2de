"""Export a finished run as a folder (or zip) that loads with the standard libraries and nothing of ours.

- PEFT methods (lora, dora, ia3, prompt-tuning): the adapter as peft saved it, with
  ``base_model_name_or_path`` set to the public hub id of a bundled base model, the tokenizer, and a
  ``config.json`` of the sequence-classification model (id2label / label2id, pad token), so
  ``PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(BASE, config=...), folder)``
  rebuilds the classifier.
- Full-model methods (full, freeze): the ``save_pretrained`` folder (safetensors, tokenizer, labels in
  config.json): ``AutoModelForSequenceClassification.from_pretrained(folder)``.
- Methods without trained weights (zero-shot, few-shot, linear-probe): ``method.json`` with everything
  needed to reproduce the predictions (prompt, label texts, shots, calibration offsets, linear head).

Every export has a model card (README.md) with a working "How to load" snippet, and never holds a
pickle file. A ``transferlab/`` folder keeps the run's record (config.json, metrics.json, the test
split's predictions.csv, events.jsonl and, for JSON methods, the method's own state files) so that
``tlcore import`` can bring the export back as a run; nothing outside TransferLab needs it. The tokenizer's
``model_max_length`` is set to the length the run used, so ``truncation=True`` cuts texts exactly where training
and evaluation did.
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from ..errors import ExportError, TLCoreError
from ..runs.intervals import wilson_interval
from ..runs.store import Run
from .predict import check_usable

# Public Hugging Face ids of the bundled models (the bundled copies are these models).
HUB_IDS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2",
           "smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct"}

# Files that can run code when loaded (pickle-based) never go into an export.
UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")

_TOKENIZER_DROP = ("is_local", "local_files_only")  # machine-specific loading flags, not tokenizer settings

# The run's record inside an export, read back by tlcore.use.importing.
RECORD_DIR = "transferlab"
RECORD_FILES = ("config.json", "metrics.json", "predictions.csv", "events.jsonl")


def export_kind(method: str) -> str:
    """'peft', 'model' or 'json': what an export of this method holds (the method says)."""
    from ..methods import get_method

    return get_method(method).method_cls.export_kind


def base_model_id(model: str) -> str:
    """What an export names as its base model: the hub id of a bundled model, else the model's folder."""
    if model in HUB_IDS:
        return HUB_IDS[model]
    from ..engine.models import resolve_model

    try:
        return resolve_model(model).path or model  # absolute, whatever the run was given
    except TLCoreError:
        return model


def export_run(run: Run, to: str | Path, zip: bool = False) -> Path:  # noqa: A002  (the CLI's --zip)
    """Export a succeeded run to the folder ``to`` (or, with ``zip``, to ``<to>.zip``); return the path.

    Refuses a destination that exists as a file or a non-empty folder; the export appears whole or
    not at all (built beside the destination, then renamed).
    """
    config = check_usable(run)
    to = Path(to)
    target = (to if to.suffix.lower() == ".zip" else to.with_name(to.name + ".zip")) if zip else to
    _check_destination(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".exporting", dir=target.parent))
    staging.chmod(0o755)  # mkdtemp makes it private; the export is an ordinary folder
    try:
        kind = export_kind(config["method"])
        artifacts = run.path / "artifacts"
        if kind == "peft":
            _export_peft(artifacts / "adapter", staging, config)
        elif kind == "model":
            _export_full(artifacts / "model", staging, config)
        else:
            _export_json(artifacts, staging, config)
        (staging / "labels.json").write_text(json.dumps(config["labels"], indent=2), encoding="utf-8")
        _write_record(run, artifacts, staging / RECORD_DIR, kind)
        metrics = run.metrics() or {}
        (staging / "README.md").write_text(model_card(run, config, metrics, kind), encoding="utf-8")
        assert_no_pickle(staging)
        if zip:
            _zip_folder(staging, target, top=target.stem)
            shutil.rmtree(staging)
        else:
            if target.is_dir():  # an empty folder the user made for it
                target.rmdir()
            os.replace(staging, target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _check_destination(target: Path) -> None:
    if target.is_dir():
        if any(target.iterdir()):
            raise ExportError(f"{str(target)!r} already exists and is not empty; export to a new folder "
                              "(or delete that one first).")
    elif target.exists():
        raise ExportError(f"{str(target)!r} already exists; export to a new path (or delete it first).")


def assert_no_pickle(folder: Path) -> None:
    unsafe = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.suffix.lower() in UNSAFE_SUFFIXES)
    if unsafe:
        raise ExportError(f"the export would contain pickle-based files ({', '.join(unsafe)}); only safetensors "
                          "and JSON are exported. The run's artifacts were not saved as safetensors.")


def _zip_folder(folder: Path, target: Path, top: str) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            for path in sorted(folder.rglob("*")):
                if path.is_file():
                    archive.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


def _write_record(run: Run, artifacts: Path, dest: Path, kind: str) -> None:
    """The run's own files, for ``tlcore import``; for JSON methods also the state files load() reads."""
    dest.mkdir()
    for name in RECORD_FILES:
        if (run.path / name).is_file():
            shutil.copy2(run.path / name, dest / name)
    if kind == "json":
        (dest / "artifacts").mkdir()
        for path in artifacts.glob("*.json"):
            shutil.copy2(path, dest / "artifacts" / path.name)


# -- the three kinds of export --------------------------------------------------------------------

def _max_length(config: dict) -> int | None:
    from ..methods import get_method

    entry = get_method(config["method"])
    options = entry.config_cls.from_dict(config.get("method_options", {}))
    return getattr(options, "max_length", None)


def _copy_files(source: Path, dest: Path, skip: tuple[str, ...] = ()) -> None:
    if not source.is_dir():
        raise ExportError(f"{source} is missing; the run folder is incomplete, train the run again.")
    for path in source.iterdir():
        if path.is_file() and path.name not in skip:
            shutil.copy2(path, dest / path.name)
        elif path.is_dir() and path.name not in skip:
            shutil.copytree(path, dest / path.name)


def _fix_tokenizer(dest: Path, max_length: int | None) -> None:
    path = dest / "tokenizer_config.json"
    if not path.exists():
        return
    settings = json.loads(path.read_text(encoding="utf-8"))
    for key in _TOKENIZER_DROP:
        settings.pop(key, None)
    if max_length:
        settings["model_max_length"] = max_length
    path.write_text(json.dumps(settings, indent=2, ensure_ascii=False), encoding="utf-8")


def _export_peft(adapter: Path, dest: Path, config: dict) -> None:
    from transformers import AutoConfig
    from transformers.models.auto.modeling_auto import MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES

    from ..engine.models import load_tokenizer, model_folder, quiet_transformers, resolve_model

    _copy_files(adapter, dest, skip=("README.md",))  # peft's own card template is replaced by ours
    adapter_config = json.loads((dest / "adapter_config.json").read_text(encoding="utf-8"))
    adapter_config["base_model_name_or_path"] = base_model_id(config["model"])
    adapter_config["inference_mode"] = True
    (dest / "adapter_config.json").write_text(json.dumps(adapter_config, indent=2), encoding="utf-8")
    _fix_tokenizer(dest, _max_length(config))

    # config.json of the classification model: what the head's labels are, and which token pads.
    quiet_transformers()
    labels = list(config["labels"])
    folder = model_folder(resolve_model(config["model"]))
    model_config = AutoConfig.from_pretrained(str(folder), num_labels=len(labels),
                                              id2label=dict(enumerate(labels)),
                                              label2id={label: i for i, label in enumerate(labels)})
    if model_config.pad_token_id is None:  # decoders: the head reads the last non-padding token
        model_config.pad_token_id = load_tokenizer(str(adapter)).pad_token_id
    architecture = MODEL_FOR_SEQUENCE_CLASSIFICATION_MAPPING_NAMES.get(model_config.model_type)
    if architecture:
        model_config.architectures = [architecture]
    model_config.save_pretrained(str(dest))


def _export_full(model: Path, dest: Path, config: dict) -> None:
    _copy_files(model, dest, skip=("README.md",))
    model_config = json.loads((dest / "config.json").read_text(encoding="utf-8"))
    model_config.pop("_name_or_path", None)  # a path on the training machine
    labels = list(config["labels"])
    model_config["id2label"] = {str(i): label for i, label in enumerate(labels)}
    model_config["label2id"] = {label: i for i, label in enumerate(labels)}
    (dest / "config.json").write_text(json.dumps(model_config, indent=2, ensure_ascii=False) + "\n",
                                      encoding="utf-8")
    _fix_tokenizer(dest, _max_length(config))


def _export_json(artifacts: Path, dest: Path, config: dict) -> None:
    spec = method_spec(artifacts, config)
    (dest / "method.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def method_spec(artifacts: Path, config: dict) -> dict:
    """Everything a run without trained weights (prompts, shots, a linear head) needs to predict, as plain JSON."""
    from ..engine.models import resolve_model
    from ..methods import get_method

    spec = {"format": "transferlab-method/1", "method": config["method"], "base_model": base_model_id(config["model"]),
            "model_kind": resolve_model(config["model"]).kind, "labels": list(config["labels"])}
    return get_method(config["method"]).method_cls.export_spec(artifacts, spec)


# -- the model card -------------------------------------------------------------------------------

def _train_counts(run: Run) -> dict[str, int]:
    try:
        return run.split().train.class_counts()
    except (OSError, KeyError, ValueError):
        return {}


def model_card(run: Run, config: dict, metrics: dict, kind: str) -> str:
    from ..engine.models import resolve_model
    from ..methods import get_method

    method, labels = config["method"], list(config["labels"])
    entry = get_method(method)
    spec = resolve_model(config["model"])
    base = base_model_id(config["model"])
    split = config.get("split", {})
    bundled = config["model"] in HUB_IDS
    n_test = metrics.get("n_test", split.get("n_test", 0))
    accuracy, macro_f1 = metrics.get("accuracy"), metrics.get("macro_f1")
    per_class = metrics.get("per_class", {})
    train_counts = _train_counts(run)
    options = {k: v for k, v in (config.get("method_options") or {}).items()}
    lines = [f"# {method} text classifier ({', '.join(labels)})", "",
             f"Exported from TransferLab run `{run.id}` on {time.strftime('%Y-%m-%d')}. "
             "It loads with the standard Hugging Face / Python libraries alone (see *How to load*).", "",
             "| | |", "| --- | --- |",
             f"| Base model | `{base}` ({spec.kind}) |",
             f"| Method | `{method}`: {entry.description} |",
             f"| Labels | {', '.join(f'`{label}`' for label in labels)} |",
             f"| Options | {', '.join(f'{k}={v}' for k, v in sorted(options.items())) or 'defaults'} |"]
    if metrics.get("embedding"):  # how the run made sentence vectors (runs before issue 19 did not record it)
        lines.append(_embedding_row(metrics["embedding"], kind))
    if metrics.get("trainable_params"):
        lines.append(f"| Trainable parameters | {metrics['trainable_params']:,} of "
                     f"{metrics.get('total_params', 0):,} |")
    if metrics.get("precision") not in (None, "fp32"):  # the run's arithmetic; an export's snippets use fp32
        lines.append(f"| Precision | the run computed in {metrics['precision']} mixed precision; the snippets below "
                     "compute in fp32, so their probabilities can differ from the run's in the third decimal |")
    versions = config.get("versions") or {}
    if versions:
        lines.append("| Trained with | " + ", ".join(f"{k} {v}" for k, v in versions.items() if v) + " |")
    lines += ["", "## Data", "",
              f"- Source: `{config.get('data_name', 'data')}` (text column `{config.get('text_column', 'text')}`, "
              f"label column `{config.get('label_column', 'label')}`).",
              f"- Rows: {split.get('n_train', metrics.get('n_train', '?'))} training, "
              f"{split.get('n_val', metrics.get('n_val', '?'))} validation, {n_test} test"
              + (" (a separate test file)." if split.get("separate_test_file") else
                 f" (a stratified hold-out, split seed {split.get('split_seed', 0)}).")]
    if split.get("per_class"):
        lines.append(f"- Training rows sampled: {split['per_class']} per class (sample seed "
                     f"{split.get('sample_seed', 0)}).")
    if train_counts:
        lines.append("- Training rows per class: " + ", ".join(f"`{k}` {v}" for k, v in train_counts.items()) + ".")
    lines.append(f"- Fingerprints: data `{split.get('data_fingerprint', '?')}`, test split "
                 f"`{split.get('test_fingerprint', metrics.get('test_fingerprint', '?'))}` (runs with the same "
                 "test fingerprint were evaluated on exactly the same rows).")
    lines += ["", "## Test results", ""]
    if accuracy is not None:
        low, high = wilson_interval(round(accuracy * n_test), n_test)
        lines += [f"- Accuracy: **{accuracy:.3f}** on {n_test} test rows (95 % interval {low:.3f}–{high:.3f}).",
                  f"- Macro-F1: **{macro_f1:.3f}**."]
        baseline = metrics.get("majority_baseline")
        if baseline:
            lines.append(f"- Always answering the most common class (`{baseline['label']}`) scores "
                         f"{baseline['accuracy']:.3f}.")
        if per_class:
            lines += ["", "| class | precision | recall | F1 | test rows |", "| --- | --- | --- | --- | --- |"]
            lines += [f"| `{label}` | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1']:.3f} | {v['support']} |"
                      for label, v in per_class.items()]
    else:
        lines.append("No test metrics were recorded for this run.")
    lines += ["", "## Intended use", "",
              f"Sorting texts like those in `{config.get('data_name', 'data')}` into the classes "
              f"{', '.join(f'`{label}`' for label in labels)}, as a first pass that people review: for "
              "triage, search and analysis, not for decisions about people without human review.", "",
              "## Limits", "",
              f"- Evaluated on {n_test} rows only: the accuracy above is an estimate with the interval shown; "
              "expect lower accuracy on texts unlike the training data (other topics, style, language or time).",
              "- It only knows these labels; every text gets one of them, including texts that fit none.",
              "- `confidence` (the highest class probability) is not calibrated: treat it as a ranking, and "
              "check a sample of predictions before relying on a threshold.",
              f"- It inherits the biases and limits of `{base}` and of the training rows."]
    if config["model"] == "minilm":
        lines.append("- all-MiniLM-L6-v2 was trained on English; other languages work poorly.")
    max_length = _max_length(config)
    if max_length and kind == "json":
        lines.append(f"- Texts are cut to {max_length} tokens (`max_length` in method.json; the snippet below "
                     "does the same).")
    elif max_length:
        lines.append(f"- Texts are cut to {max_length} tokens (the tokenizer's `model_max_length` here is set to "
                     "that, so `truncation=True` cuts where training did).")
    if config["model"] == "smollm2-135m":
        lines.append("- The run used TransferLab's bundled SmolLM2-135M-Instruct, de-quantized from a Q4_1 GGUF "
                     "file; the hub model has the original weights, so predictions can differ slightly from the "
                     "test results above. For exact reproduction, point BASE at the converted folder TransferLab "
                     "keeps (`~/.cache/tlcore/models/smollm2-135m`, see `tlcore prepare`).")
    lines += ["", "## How to load", ""]
    lines += entry.method_cls.load_snippet(config, spec.kind, base, bundled, run.path / "artifacts")
    lines += ["", "## Files", ""]
    lines += _files_section(kind)
    return "\n".join(lines) + "\n"


def _embedding_row(recorded: dict, kind: str) -> str:
    from ..engine.sentence_config import SentenceConfig

    recipe = SentenceConfig.from_dict(recorded)
    row = f"| Sentence embeddings | {recipe.describe()}"
    if kind == "json" and recipe.key:  # the snippet below mean-pools; say how to get the run's own vectors
        row += (f". The snippet below mean-pools; for these vectors embed with `SentenceTransformer(BASE)"
                f".encode(texts, prompt={recipe.prompt!r}, normalize_embeddings={recipe.normalize})`")
    return row + " |"


def _files_section(kind: str) -> list[str]:
    common = ["- `labels.json`: the labels, in the order of the probability columns.",
              "- `README.md`: this card.",
              f"- `{RECORD_DIR}/`: the TransferLab run's record (settings, test metrics, training curve, and the "
              "test split's predictions *with the test texts*), so that `tlcore import` or the app's Use page can "
              "load this export back as a run. Loading the model does not need it; delete it before sharing the "
              "export if the test texts are private."]
    if kind == "peft":
        return ["- `adapter_config.json`, `adapter_model.safetensors`: the PEFT adapter and the trained "
                "classification head (`modules_to_save`).",
                "- `config.json`: the base model's configuration with this classifier's labels.",
                "- `tokenizer.json`, `tokenizer_config.json`: the tokenizer.", *common]
    if kind == "model":
        return ["- `config.json`, `model.safetensors`: the whole fine-tuned model (labels in `id2label`).",
                "- `tokenizer.json`, `tokenizer_config.json`: the tokenizer.", *common]
    return ["- `method.json`: everything the method needs besides the base model (label texts, prompt, shots, "
            "calibration, linear head weights).", *common]
