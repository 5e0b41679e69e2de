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
``tlcore import`` can bring the export back as a run; nothing outside TransferLab needs it. The tokenizer's ``model_max_length`` is set to the length the run used, so
``truncation=True`` cuts texts exactly where training and evaluation did.
"""
from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
import zipfile
from pathlib import Path

from ..errors import ExportError, TLCoreError
from .predict import check_usable
from ..runs.store import Run

# Public Hugging Face ids of the bundled models (the bundled copies are these models).
HUB_IDS = {"minilm": "sentence-transformers/all-MiniLM-L6-v2",
           "smollm2-135m": "HuggingFaceTB/SmolLM2-135M-Instruct"}

# Files that can run code when loaded (pickle-based) never go into an export.
UNSAFE_SUFFIXES = (".bin", ".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".joblib")

_TOKENIZER_DROP = ("is_local", "local_files_only")  # machine-specific loading flags, not tokenizer settings

# The run's record inside an export, read back by tlcore.use.importing.
RECORD_DIR = "transferlab"
RECORD_FILES = ("config.json", "metrics.json", "predictions.csv", "events.jsonl")



# The end of every "How to load" snippet for a sequence-classification model (model, tokenizer, config defined).
_PREDICT_SNIPPET = [
    "def predict_proba(texts):",
    '    """Class probabilities, one row per text, columns in label order (config.id2label)."""',
    '    batch = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")',
    "    with torch.no_grad():",
    "        return model(**batch).logits.softmax(-1).numpy()",
    "",
    "",
    "labels = [config.id2label[i] for i in range(config.num_labels)]",
    'proba = predict_proba(["Your text here."])',
    "print(labels[proba[0].argmax()], proba[0].max())",
]

def export_kind(method: str) -> str:
    """'peft', 'full' or 'json': what an export of this method holds."""
    from ..methods import get_method
    from ..methods.finetune import FullModelMethod, PeftMethod

    cls = get_method(method).method_cls
    if issubclass(cls, PeftMethod):
        return "peft"
    if issubclass(cls, FullModelMethod):
        return "full"
    return "json"


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
        elif kind == "full":
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
    """Everything a prompt-based or linear-probe run needs to predict, as plain JSON."""
    from ..engine.decoder_scoring import DEFAULT_INSTRUCTION
    from ..engine.models import resolve_model

    method, labels = config["method"], list(config["labels"])
    spec = {"format": "transferlab-method/1", "method": method, "base_model": base_model_id(config["model"]),
            "model_kind": resolve_model(config["model"]).kind, "labels": labels}
    if method == "linear-probe":
        state = json.loads((artifacts / "linear_head.json").read_text(encoding="utf-8"))
        options = state.get("config", {})
        spec.update({"options": options, "max_length": options.get("max_length", 128),
                     "features": "mean of the last hidden states over non-padding tokens, L2-normalised",
                     "linear_head": {"classes": state["classes"], "coef": state["coef"],
                                     "intercept": state["intercept"],
                                     "note": "classes are indexes into labels; with one row of coef (two "
                                             "classes) p(classes[1]) = sigmoid(x.coef[0] + intercept[0])"}})
        return spec
    state = json.loads((artifacts / "method_state.json").read_text(encoding="utf-8"))
    options = state.get("config", {})
    descriptions = options.get("label_descriptions") or {}
    label_texts = {label: str(descriptions.get(label, label)) for label in labels}
    instruction = options.get("instruction", DEFAULT_INSTRUCTION)
    spec.update({"options": options, "label_texts": label_texts, "max_length": options.get("max_length", 256)})
    from ..methods.zero_shot import saved_scoring
    from ..methods.score_offsets import saved_mode, saved_offsets

    mode = options.get("calibration", "auto")
    spec.update({"calibration": saved_mode(state, mode),
                 "calibration_offsets": saved_offsets(state, mode), "class_prior": state.get("class_prior")})
    if state.get("label_vectors") is not None:  # zero-shot label vectors refined on the training texts
        spec["class_vectors"] = state["label_vectors"]
    if spec["model_kind"] == "encoder":
        spec.update({"temperature": options.get("temperature", 0.05),
                     "embedding": "mean of the last hidden states over non-padding tokens, L2-normalised",
                     "scoring": "cosine(text, class vector) / temperature, calibrated, then softmax; class vector = "
                                "class_vectors (zero-shot: the label texts' embeddings refined on the training "
                                "texts) or the normalised mean of the shots' embeddings (few-shot)"})
    elif saved_scoring(artifacts) == "channel":
        spec.update({"channel_prompts": state["channel_prompts"],
                     "scoring": "channel: sum of the log-probabilities of the text's tokens (cut to max_length) "
                                "after each label's prompt in channel_prompts, calibrated, then softmax"})
    else:
        spec.update({"system_prompt": instruction.format(labels=", ".join(label_texts[l] for l in labels)),
                     "scoring": "sum of the log-probabilities of each label text (+ end-of-turn token) after "
                                "the chat prompt, calibrated, then softmax"})
    if "shots" in state:
        spec["shots"] = state["shots"]
    return spec


# -- the model card -------------------------------------------------------------------------------

def _wilson(p: float, n: int, z: float = 1.96) -> tuple[float, float]:
    if not n:
        return 0.0, 1.0
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def _train_counts(run: Run) -> dict[str, int]:
    try:
        return run.split().train.class_counts()
    except (OSError, KeyError, ValueError):
        return {}


def model_card(run: Run, config: dict, metrics: dict, kind: str) -> str:
    from ..methods import get_method
    from ..engine.models import resolve_model

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
    if metrics.get("trainable_params"):
        lines.append(f"| Trainable parameters | {metrics['trainable_params']:,} of "
                     f"{metrics.get('total_params', 0):,} |")
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
        low, high = _wilson(accuracy, n_test)
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
    from ..methods.zero_shot import saved_scoring

    lines += _how_to_load(kind, config, spec.kind, base, bundled, saved_scoring(run.path / "artifacts"))
    lines += ["", "## Files", ""]
    lines += _files_section(kind)
    return "\n".join(lines) + "\n"


def _base_note(base: str, bundled: bool) -> list[str]:
    if bundled:
        return [f"`BASE` is the base model's public hub id (`{base}`). Offline, point it at a local copy of that "
                "model instead: any folder with its `config.json`, tokenizer and `model.safetensors`, such as one "
                f"saved with `hf download {base} --local-dir ...` or TransferLab's bundled copy "
                "(`tlcore models` / the model's package folder)."]
    return [f"`BASE` is the folder the run's model was loaded from (`{base}`); change it if the model lives "
            "elsewhere on this machine."]


def _how_to_load(kind: str, config: dict, model_kind: str, base: str, bundled: bool,
                 scoring: str = "direct") -> list[str]:
    labels = list(config["labels"])
    if kind == "peft":
        return [
            "With transformers and peft only (`pip install transformers peft torch`):", "",
            "```python",
            "import torch",
            "from peft import PeftModel",
            "from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer",
            "",
            'FOLDER = "."  # this folder',
            f'BASE = "{base}"  # the base model: hub id or a local folder',
            "",
            "config = AutoConfig.from_pretrained(FOLDER)  # the classifier: labels (id2label), pad token",
            "# transformers reports the head (classifier / score) as newly initialised here; the next line loads",
            "# the trained head from the adapter folder, with the adapter itself.",
            "base = AutoModelForSequenceClassification.from_pretrained(BASE, config=config, dtype=torch.float32)",
            "model = PeftModel.from_pretrained(base, FOLDER).eval()",
            "tokenizer = AutoTokenizer.from_pretrained(FOLDER)",
            "",
            "",
            *_PREDICT_SNIPPET,
            "```", "",
            *_base_note(base, bundled), "",
            "Or, with the base model named in `adapter_config.json` (edit its `base_model_name_or_path` to use "
            "a local folder):", "",
            "```python",
            "from peft import AutoPeftModelForSequenceClassification",
            "",
            f"labels = {labels!r}",
            "model = AutoPeftModelForSequenceClassification.from_pretrained(",
            '    FOLDER, num_labels=len(labels), id2label=dict(enumerate(labels)),',
            "    label2id={label: i for i, label in enumerate(labels)})",
            "```",
        ]
    if kind == "full":
        return [
            "With transformers only (`pip install transformers torch`):", "",
            "```python",
            "import torch",
            "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
            "",
            'FOLDER = "."  # this folder',
            "",
            "model = AutoModelForSequenceClassification.from_pretrained(FOLDER, dtype=torch.float32).eval()",
            "tokenizer = AutoTokenizer.from_pretrained(FOLDER)",
            "config = model.config",
            "",
            "",
            *_PREDICT_SNIPPET,
            "```", "",
            "A pipeline gives the same probabilities: `pipeline(\"text-classification\", model=FOLDER, "
            "top_k=None)(texts, truncation=True)`.",
        ]
    if model_kind == "decoder" and scoring == "channel":
        return _channel_snippet(base, bundled)
    if model_kind == "decoder":
        return _decoder_snippet(config, base, bundled)
    return _encoder_snippet(config, base, bundled)


# Shared by the encoder and decoder snippets: the same calibration as tlcore.methods.zero_shot.
_SOFTMAX_AND_CALIBRATE = [
    "def softmax(z):",
    "    z = np.exp(z - z.max(axis=1, keepdims=True))",
    "    return z / z.sum(axis=1, keepdims=True)",
    "",
    "",
    "def calibrate(s):",
    '    """Remove the bias of the scores towards some labels: one offset per label, set by the run from its',
    '    test texts as spec["calibration"] says (match: the average probability of each label equals its class',
    '    frequency)."""',
    '    offsets = spec["calibration_offsets"]',
    "    return s if offsets is None else s + np.asarray(offsets)",
    "",
    "",
]

_EMBED = [
    "tokenizer = AutoTokenizer.from_pretrained(BASE)",
    "model = AutoModel.from_pretrained(BASE, dtype=torch.float32).eval()",
    "",
    "",
    "def embed(texts):",
    '    """Sentence vectors: mean of the last hidden states over real tokens, L2-normalised."""',
    '    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=spec["max_length"],',
    '                      return_tensors="pt")',
    "    with torch.no_grad():",
    "        hidden = model(**batch).last_hidden_state",
    '    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)',
    "    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)",
    "    return torch.nn.functional.normalize(pooled, dim=-1).numpy()",
    "",
    "",
    *_SOFTMAX_AND_CALIBRATE,
]


def _encoder_snippet(config: dict, base: str, bundled: bool) -> list[str]:
    method = config["method"]
    head = ["With transformers and numpy only (`pip install transformers torch numpy`):", "",
            "```python", "import json", "", "import numpy as np", "import torch",
            "from transformers import AutoModel, AutoTokenizer", "",
            'FOLDER = "."  # this folder',
            f'BASE = "{base}"  # the base model: hub id or a local folder', "",
            'spec = json.load(open(f"{FOLDER}/method.json"))',
            'labels = spec["labels"]', *_EMBED]
    if method == "linear-probe":
        body = ['head = spec["linear_head"]',
                'coef, intercept = np.asarray(head["coef"]), np.asarray(head["intercept"])',
                "", "",
                "def predict_proba(texts):",
                '    """Class probabilities, one row per text, columns in label order."""',
                "    z = embed(texts) @ coef.T + intercept",
                "    p = np.hstack([-z / 2, z / 2]) if z.shape[1] == 1 else z  # two classes: a sigmoid",
                "    proba = np.zeros((len(texts), len(labels)))",
                '    proba[:, head["classes"]] = softmax(p)',
                "    return proba"]
    elif method == "few-shot":
        body = ['shots = embed([s["text"] for s in spec["shots"]])',
                'prototypes = np.stack([shots[[s["label"] == label for s in spec["shots"]]].mean(0)',
                '                       for label in labels])',
                "class_vectors = prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True)",
                "", "",
                "def predict_proba(texts):",
                '    """Class probabilities, one row per text, columns in label order."""',
                '    return softmax(calibrate(embed(texts) @ class_vectors.T / spec["temperature"]))']
    else:
        body = ['class_vectors = (np.asarray(spec["class_vectors"]) if "class_vectors" in spec',
                '                 else embed([spec["label_texts"][label] for label in labels]))',
                "", "",
                "def predict_proba(texts):",
                '    """Class probabilities, one row per text, columns in label order."""',
                '    return softmax(calibrate(embed(texts) @ class_vectors.T / spec["temperature"]))']
    tail = ["", "", 'proba = predict_proba(["Your text here."])',
            "print(labels[proba[0].argmax()], proba[0].max())", "```", "", *_base_note(base, bundled)]
    return head + body + tail


def _decoder_preamble(base: str) -> list[str]:
    """The start of both decoder snippets: imports, the two paths, the spec and the labels."""
    return ["```python", "import json", "", "import numpy as np", "import torch",
            "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
            'FOLDER = "."  # this folder', f'BASE = "{base}"  # the base model: hub id or a local folder', "",
            'spec = json.load(open(f"{FOLDER}/method.json"))', 'labels = spec["labels"]']


# The end of both decoder snippets: calibrated probabilities from scores(text), and an example call.
_DECODER_PREDICT = [
    "def predict_proba(texts):",
    '    """Class probabilities, one row per text, columns in label order (calibrated as in the run)."""',
    "    return softmax(calibrate(np.stack([scores(t) for t in texts])))",
    "",
    "",
    'proba = predict_proba(["Your text here."])',
    "print(labels[proba[0].argmax()], proba[0].max())",
    "```", "",
]


def _decoder_snippet(config: dict, base: str, bundled: bool) -> list[str]:
    return [
        "With transformers and numpy only (`pip install transformers torch numpy`). This scores one text "
        "and label at a time: simple, and slow for many texts.", "",
        *_decoder_preamble(base),
        'label_texts = [spec["label_texts"][label] for label in labels]',
        "tokenizer = AutoTokenizer.from_pretrained(BASE)",
        "model = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32).eval()",
        "",
        "",
        "def user_turn(text):",
        '    ids = tokenizer(text, add_special_tokens=False)["input_ids"][: spec["max_length"]]',
        '    return "Text: " + tokenizer.decode(ids).strip()',
        "",
        "",
        "def render(query=None):",
        '    """The prompt: instructions, the shots (few-shot), then the query."""',
        '    shots = spec.get("shots", [])',
        "    if tokenizer.chat_template:",
        '        messages = [{"role": "system", "content": spec["system_prompt"]}]',
        "        for shot in shots:",
        '            messages += [{"role": "user", "content": user_turn(shot["text"])},',
        '                         {"role": "assistant", "content": spec["label_texts"][shot["label"]]}]',
        "        if query is not None:",
        '            messages.append({"role": "user", "content": user_turn(query)})',
        "        return tokenizer.apply_chat_template(messages, tokenize=False,",
        "                                             add_generation_prompt=query is not None)",
        '    lines = [spec["system_prompt"], ""]',
        "    for shot in shots:",
        '        lines += [user_turn(shot["text"]), "Label: " + spec["label_texts"][shot["label"]], ""]',
        "    if query is not None:",
        '        lines += [user_turn(query), "Label: "]',
        '    return "\\n".join(lines)',
        "",
        "",
        'end = tokenizer.eos_token if tokenizer.chat_template else "\\n"',
        'label_ids = [tokenizer(t + end, add_special_tokens=False)["input_ids"] for t in label_texts]',
        "",
        "",
        *_SOFTMAX_AND_CALIBRATE,
        "def scores(text):",
        '    """log p(label text | prompt) for each label."""',
        "    prefix = render()",
        '    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]',
        '    ids += tokenizer(render(text)[len(prefix):], add_special_tokens=False)["input_ids"]',
        "    out = []",
        "    for answer in label_ids:",
        "        with torch.no_grad():",
        "            logits = model(torch.tensor([ids + answer])).logits[0, len(ids) - 1:-1]",
        "        logp = torch.log_softmax(logits.float(), -1)",
        "        out.append(sum(logp[i, t].item() for i, t in enumerate(answer)))",
        "    return np.array(out)",
        "",
        "",
        *_DECODER_PREDICT,
        *_base_note(base, bundled),
    ]


def _channel_snippet(base: str, bundled: bool) -> list[str]:
    return [
        "With transformers and numpy only (`pip install transformers torch numpy`). Channel scoring: how likely "
        "the text is after each label's prompt (in method.json). This scores one text and label at a time: "
        "simple, and slow for many texts.", "",
        *_decoder_preamble(base),
        "tokenizer = AutoTokenizer.from_pretrained(BASE)",
        "model = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32).eval()",
        'prompts = [tokenizer(spec["channel_prompts"][label], add_special_tokens=False)["input_ids"]',
        "           for label in labels]",
        "",
        "",
        *_SOFTMAX_AND_CALIBRATE,
        "def scores(text):",
        '    """log p(text | label\'s prompt) for each label."""',
        '    ids = tokenizer(text.strip(), add_special_tokens=False)["input_ids"][: spec["max_length"]]',
        "    out = []",
        "    for prompt in prompts:",
        "        with torch.no_grad():",
        "            logits = model(torch.tensor([prompt + ids])).logits[0, len(prompt) - 1:-1]",
        "        logp = torch.log_softmax(logits.float(), -1)",
        "        out.append(sum(logp[i, t].item() for i, t in enumerate(ids)))",
        "    return np.array(out)",
        "",
        "",
        *_DECODER_PREDICT,
        *_base_note(base, bundled),
    ]


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
    if kind == "full":
        return ["- `config.json`, `model.safetensors`: the whole fine-tuned model (labels in `id2label`).",
                "- `tokenizer.json`, `tokenizer_config.json`: the tokenizer.", *common]
    return ["- `method.json`: everything the method needs besides the base model (label texts, prompt, shots, "
            "calibration, linear head weights).", *common]
