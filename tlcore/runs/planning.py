"""Before a run: how many parameters a method trains, roughly how long it takes here, and which to pick.

Parameter counts are computed, not guessed: the model is built on PyTorch's "meta" device (shapes
only, no memory, no weights read) and prepared by the method exactly as training would.
Time is a FLOP estimate divided by this machine's measured matrix-multiply speed, so it is rough
(within a factor of ~2) but adapts to the hardware.
"""
from __future__ import annotations

import functools
import json
import time
from dataclasses import dataclass
from pathlib import Path

from ..methods.label_vectors import MAX_POOL, worth_refining
from ..methods import get_method
from ..engine.training import resolve_epochs
from ..engine.models import ModelSpec, model_folder, resolve_model

# Share of the matmul peak that a real training/inference step reaches on CPU (measured here: ~45 %).
_EFFICIENCY = 0.4


@dataclass
class MethodPlan:
    method: str
    model: str
    trainable_params: int
    total_params: int
    estimated_seconds: float
    how_estimated: str
    epochs: int = 0  # passes that training will run ("auto" resolved); 0 for methods that do not train


@dataclass
class Recommendation:
    method: str
    model: str
    reason: str


@functools.lru_cache(maxsize=1)
def matmul_gflops() -> float:
    """Peak fp32 1024x1024 matrix-multiply speed here (GPU if present), GFLOP/s: the best of ~0.3 s of tries."""
    import torch

    device = "cuda" if torch.cuda.is_available() else "cpu"
    a = torch.randn(1024, 1024, device=device)
    b = torch.randn(1024, 1024, device=device)
    best, deadline = float("inf"), time.perf_counter() + 0.3
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        a @ b
        if device == "cuda":
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return 2 * 1024**3 / best / 1e9


def _config(folder: Path) -> dict:
    return json.loads((folder / "config.json").read_text())


@functools.lru_cache(maxsize=64)
def _counts(folder: str, method: str, n_labels: int, options_json: str) -> tuple[int, int, int]:
    """(trainable, total, non-embedding total) for a method, built on the meta device."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification

    entry = get_method(method)
    options = json.loads(options_json)
    config = AutoConfig.from_pretrained(folder, num_labels=n_labels)
    if getattr(config, "pad_token_id", None) is None:
        config.pad_token_id = 0
    with torch.device("meta"):
        model = AutoModelForSequenceClassification.from_config(config)
    embedding = sum(p.numel() for n, p in model.named_parameters() if "embed" in n)
    total = sum(p.numel() for p in model.parameters())
    if not entry.method_cls.trains:
        return 0, total, total - embedding
    if method == "linear-probe":
        hidden = config.hidden_size
        return (hidden + 1) * (1 if n_labels == 2 else n_labels), total, total - embedding
    spec = ModelSpec(name="plan", kind="encoder", description="", params=None, license="")
    labels = [str(i) for i in range(n_labels)]
    instance = entry.method_cls(entry.config_cls.from_dict(options), spec, Path(folder), labels)
    with torch.device("meta"):
        prepared = instance.prepare(model)
    trainable = sum(p.numel() for p in prepared.parameters() if p.requires_grad)
    total = sum(p.numel() for p in prepared.parameters())
    return trainable, total, total - embedding


def parameter_counts(folder: Path, method: str, n_labels: int, config) -> tuple[int, int]:
    """(trainable, total) parameters of ``method`` with its config on the model in ``folder``."""
    trainable, total, _ = _counts(str(folder), method, n_labels, json.dumps(config.to_dict(), sort_keys=True))
    return trainable, total


@dataclass
class FlopEstimate:
    """Floating-point operations of a run: what learning costs and what predicting the test texts costs."""

    training: float
    prediction: float
    formula: str

    @property
    def total(self) -> float:
        return self.training + self.prediction


def estimate_flops(kind: str, method: str, compute_params: int, trainable: int, total: int, tokens: float,
                   n_train: int, n_test: int, passes: float, shots: int = 0, n_labels: int = 2,
                   scoring: str = "channel", refine_rounds: int = 0) -> FlopEstimate:
    """FLOPs of one (model, method) run; planning uses it before a run, the compute footprint
    (tlcore.compare.checks.footprint) after it, with the run's measured tokens and passes.

    A forward pass costs 2 FLOPs (a multiply and an add) per non-embedding weight per token.
    ``passes``: passes over the training rows (epochs) for methods that take gradient steps.
    ``scoring``: how a decoder's zero-/few-shot run scores (tlcore.engine.channel_scoring or tlcore.engine.decoder_scoring).
    ``refine_rounds``: an encoder's zero-shot refines its label vectors on (up to MAX_POOL) training texts.
    """
    flops_per_token = 2 * compute_params  # one forward pass
    if kind == "decoder" and method in ("zero-shot", "few-shot"):
        shots = shots if method == "few-shot" else 0
        if scoring == "channel":  # each label's prompt (with every shot) once, then each text after each label
            return FlopEstimate(flops_per_token * n_labels * (shots * n_labels * (tokens + 12) + 12),
                                flops_per_token * tokens * n_labels * n_test,
                                "2 x params x text tokens x labels per test text")
        # Each query re-reads the shared prompt through attention; its weights cost is the query's tokens.
        return FlopEstimate(flops_per_token * shots * n_labels * (tokens + 8),
                            flops_per_token * (tokens + 12) * n_test,
                            "2 x params x (query + label tokens) per test text")
    if not get_method(method).method_cls.trains or method == "linear-probe":
        encoded = n_train if method == "linear-probe" else 0  # training texts encoded once
        if method == "zero-shot" and refine_rounds and worth_refining(min(n_train, MAX_POOL), n_labels):
            encoded = min(n_train, MAX_POOL)
        return FlopEstimate(flops_per_token * tokens * encoded,
                            flops_per_token * tokens * n_test, "2 x params x tokens per text (one forward pass)")
    # Backward costs ~2x forward; adapters skip the frozen weights' gradients (~1x instead of 2x).
    backward = 2 if trainable > total / 2 else 1
    return FlopEstimate(flops_per_token * tokens * n_train * passes * (1 + backward),
                        flops_per_token * tokens * n_test,
                        f"2 x params x tokens x ({1 + backward} per training pass x {passes:g} epochs + 1 per "
                        "prediction)")


def plan_method(model: str, method: str, n_labels: int, n_train: int, n_test: int, mean_tokens: float = 32,
                options: dict | None = None) -> MethodPlan:
    """Trainable parameters and a rough wall-time estimate for one (model, method) on data of this size."""
    spec = resolve_model(model)
    entry = get_method(method)
    config = entry.config_cls.from_dict(options or {})
    folder = model_folder(spec)
    trainable, total, compute_params = _counts(str(folder), method, n_labels, json.dumps(config.to_dict(),
                                                                                          sort_keys=True))
    max_length = getattr(config, "max_length", 128)
    tokens = min(mean_tokens, max_length)
    epochs = 0
    if entry.method_cls.trains and method != "linear-probe":
        epochs = resolve_epochs(getattr(config, "epochs", 1), n_train, getattr(config, "batch_size", 16))
    estimate = estimate_flops(spec.kind, method, compute_params, trainable, total, tokens, n_train, n_test, epochs,
                              shots=getattr(config, "shots", 0), n_labels=n_labels,
                              scoring=getattr(config, "scoring", "channel"),
                              refine_rounds=getattr(config, "refine_rounds", 0))
    flops, formula = estimate.total, estimate.formula
    # Plus starting a worker, importing torch and loading the model (measured here: ~10 s / ~20 s).
    seconds = flops / (matmul_gflops() * 1e9 * _EFFICIENCY) + (20 if spec.kind == "decoder" else 10)
    return MethodPlan(method=method, model=model, trainable_params=int(trainable), total_params=int(total),
                      estimated_seconds=seconds, how_estimated=formula, epochs=epochs)


def recommend(n_train: int, n_labels: int, has_gpu: bool = False) -> Recommendation:
    """A method for this much labeled data on this hardware (rules drawn from our benchmark runs)."""
    per_class = n_train / max(1, n_labels)
    if per_class < 2:
        return Recommendation("zero-shot", "smollm2-135m",
                              "Almost no labeled examples: let the instruction-tuned decoder pick from the label "
                              "names (write label descriptions if the names are terse).")
    if per_class < 8:
        return Recommendation("few-shot", "smollm2-135m",
                              f"About {per_class:.0f} examples per class: show them to the decoder in its prompt; "
                              "no training needed.")
    if per_class < 24 or (n_train > 2000 and not has_gpu):
        return Recommendation("linear-probe", "minilm",
                              "A frozen sentence encoder plus logistic regression trains in seconds and is hard to "
                              "beat at this size" + (" on a CPU." if n_train > 2000 else "."))
    if has_gpu:
        return Recommendation("full", "minilm",
                              "Enough data and a GPU: full fine-tuning is fast and the most flexible.")
    return Recommendation("lora", "minilm",
                          f"About {per_class:.0f} examples per class: LoRA adapts the encoder with ~1.5 % of its "
                          "weights, matching full fine-tuning here at a fraction of the cost.")
