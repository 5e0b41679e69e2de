"""Linear probe: frozen sentence features from the model, and a logistic-regression head on top.

Features are the model's sentence vectors (tlcore.engine.encoders): pooled as the folder's
sentence-transformers configuration says, else mean-pooled (encoders and decoders alike), in the run's precision. They
are cached on disk per model, recipe, precision and text, so probing the same data again (other seeds, other sizes)
costs no model time. The cache is capped (FEATURE_CACHE_BYTES over all models): the least recently used texts go first.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..data import LabeledData
from ..engine.autocast_state import autocast_tag
from ..engine.callbacks import Callback
from ..engine.encoders import embed
from ..engine.models import cache_dir
from ..engine.sentence_config import read_sentence_config
from .base import FlopEstimate, Method, MethodConfig, Workload, option, register_method
from .export_snippets import LINEAR_HEAD_BODY, encoder_snippet


@dataclass
class LinearProbeConfig(MethodConfig):
    C: float = option(1.0, "Inverse L2 regularisation strength of the logistic regression.", min=1e-6, max=1e6)
    max_length: int = option(128, "Tokens per text; longer texts are cut.", min=8, max=4096)
    class_weights: str = option("none", "balanced: weight classes inversely to their frequency.",
                               choices=("none", "balanced"))


FEATURE_CACHE_BYTES = 256 * 2**20  # ~150,000 MiniLM texts; a cache must not fill the user's disk
# The cache's size as this process last measured it plus what it wrote since, per cache folder: the folder is
# scanned again only when that passes the cap, not on every new text (the Playground scores one at a time).
_known_bytes: dict[Path, int] = {}


def _weights_stamp(folder: Path) -> str:
    """The weights' sizes and times: a folder whose weights changed (a model adapted again under the same name) is
    embedded again rather than served its old vectors."""
    stamps = [f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}" for f in sorted(folder.glob("*.safetensors"))]
    return "|" + ",".join(stamps)


class FeatureCache:
    """Embeddings on disk, one .npy per (model folder, max length, embedding recipe, precision, text)."""

    def __init__(self, folder: Path, max_length: int) -> None:
        self.recipe = read_sentence_config(folder)
        # The length the texts are really cut at, the weights (``_weights_stamp``) and the recipe (a plain
        # mean-pooling recipe adds nothing: its key is "").
        tag = f"{Path(folder).resolve()}|{self.recipe.length(max_length)}{_weights_stamp(Path(folder))}"
        key = hashlib.sha256((tag + (f"|{self.recipe.key}" if self.recipe.key else "")).encode()).hexdigest()[:16]
        self.root = cache_dir() / "features" / key  # fp32 vectors; another precision's sit beside (``folder_for``)
        self.folder, self.max_length = folder, max_length

    def folder_for(self, device: str) -> Path:
        """Where the vectors computed in the caller's precision (autocast state on ``device``) are kept."""
        tag = autocast_tag(device)
        return self.root.with_name(f"{self.root.name}-{tag}") if tag else self.root

    def get(self, texts: Sequence[str], device: str, callback: Callback | None) -> np.ndarray:
        keys = [hashlib.sha256(t.encode("utf-8")).hexdigest() for t in texts]
        root = self.folder_for(device)
        features: list[np.ndarray | None] = [None] * len(texts)
        missing = []
        for i, key in enumerate(keys):
            path = root / f"{key}.npy"
            try:
                features[i] = np.load(path)
                os.utime(path)  # the modification time records the last use, for least-recently-used eviction
            except (OSError, ValueError, EOFError):  # not cached yet, evicted meanwhile, or a half-written file
                missing.append(i)
        if missing:
            progress = (lambda d, t: callback.on_progress("encoding", d, t)) if callback else None
            vectors = embed([texts[i] for i in missing], str(self.folder), device, max_length=self.max_length,
                            progress=progress)
            root.mkdir(parents=True, exist_ok=True)
            written = 0
            for i, vector in zip(missing, vectors):
                path = root / f"{keys[i]}.npy"
                np.save(path, vector)
                written += path.stat().st_size
                features[i] = vector
            cache = root.parent
            known = _known_bytes.get(cache)
            if known is None or known + written > FEATURE_CACHE_BYTES:
                prune_feature_cache(cache, FEATURE_CACHE_BYTES, keep={f"{k}.npy" for k in keys})
            else:
                _known_bytes[cache] = known + written
        return np.stack(features)


def prune_feature_cache(root: Path, limit_bytes: int, keep: set[str] = frozenset()) -> int:
    """Delete the least recently used feature files until the cache fits ``limit_bytes``; returns how many.

    Files named in ``keep`` (the texts of the current call) stay even if the cache is still too big.
    """
    files = []
    for folder in root.iterdir():
        if folder.is_dir():
            for entry in os.scandir(folder):
                if entry.name.endswith(".npy") and entry.is_file():
                    stat = entry.stat()
                    files.append((stat.st_mtime, stat.st_size, entry.path, entry.name))
    total = sum(size for _, size, _, _ in files)
    removed = 0
    for _, size, path, name in sorted(files):
        if total <= limit_bytes:
            break
        if name in keep:
            continue
        try:
            os.remove(path)
        except FileNotFoundError:  # another process pruned it first
            pass
        total -= size
        removed += 1
    _known_bytes[root] = total
    return removed


class LinearProbe(Method):
    description = ("Keeps the model frozen, turns each text into a feature vector once, and fits a logistic "
                   "regression on top: seconds to train, a strong baseline for small data.")
    when_to_use = ("Prefer it as the first baseline for any labeled set: seconds on a CPU, no tuning, hard to beat "
                   "below ~30 rows per class.")
    kinds = ("encoder", "decoder")
    trains = True
    in_portfolio = True
    required_artifacts = ("linear_head.json",)

    def _features(self, texts: Sequence[str], callback: Callback | None) -> np.ndarray:
        cache = FeatureCache(self.folder, self.config.max_length)
        self.embedding = cache.recipe.to_dict()  # the recipe the run records (metrics.json, linear_head.json)
        return cache.get(texts, self.device, callback)

    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        from sklearn.linear_model import LogisticRegression

        features = self._features(train.texts, callback)
        self.head = LogisticRegression(C=self.config.C, max_iter=2000, random_state=self.config.seed,
                                       class_weight=None if self.config.class_weights == "none" else "balanced")
        self.head.fit(features, [self.labels.index(y) for y in train.labels])
        self.trainable_params = int(self.head.coef_.size + self.head.intercept_.size)

    def predict_proba(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        features = self._features(texts, callback)
        proba = np.zeros((len(texts), len(self.labels)))
        proba[:, self.head.classes_] = self.head.predict_proba(features)
        return proba

    def save(self, folder: Path) -> None:
        self._write_json(folder / "linear_head.json", {
            "classes": self.head.classes_.tolist(), "coef": self.head.coef_.tolist(),
            "intercept": self.head.intercept_.tolist(), "config": self.config.to_dict(),
            "embedding": getattr(self, "embedding", None)})

    def load(self, folder: Path) -> None:
        from sklearn.linear_model import LogisticRegression

        state = json.loads((folder / "linear_head.json").read_text())
        self.head = LogisticRegression()
        self.head.classes_ = np.asarray(state["classes"])
        self.head.coef_ = np.asarray(state["coef"])
        self.head.intercept_ = np.asarray(state["intercept"])
        self.trainable_params = int(self.head.coef_.size + self.head.intercept_.size)


    @classmethod
    def count_parameters(cls, model, n_labels: int, options: dict, folder: Path) -> tuple[int, int]:
        # One weight per feature (+ a bias) per class; a single row of them for two classes.
        hidden = model.config.hidden_size
        return (hidden + 1) * (1 if n_labels == 2 else n_labels), sum(p.numel() for p in model.parameters())

    @classmethod
    def estimate_flops(cls, work: Workload, options: dict) -> FlopEstimate:
        flops_per_token = 2 * work.compute_params  # training texts are encoded once, like the test texts
        return FlopEstimate(flops_per_token * work.tokens * work.n_train, flops_per_token * work.tokens * work.n_test,
                            "2 x params x tokens per text (one forward pass)")

    @classmethod
    def export_spec(cls, artifacts: Path, spec: dict) -> dict:
        state = json.loads((artifacts / "linear_head.json").read_text(encoding="utf-8"))
        options = state.get("config", {})
        spec.update({"options": options, "max_length": options.get("max_length", 128),
                     "features": (state.get("embedding") or {}).get(
                         "description", "mean of the last hidden states over non-padding tokens, L2-normalised"),
                     "linear_head": {"classes": state["classes"], "coef": state["coef"],
                                     "intercept": state["intercept"],
                                     "note": "classes are indexes into labels; with one row of coef (two "
                                             "classes) p(classes[1]) = sigmoid(x.coef[0] + intercept[0])"}})
        return spec

    @classmethod
    def load_snippet(cls, config: dict, model_kind: str, base: str, bundled: bool, artifacts: Path) -> list[str]:
        return encoder_snippet(LINEAR_HEAD_BODY, base, bundled)


register_method(name="linear-probe", config_cls=LinearProbeConfig, method_cls=LinearProbe)
