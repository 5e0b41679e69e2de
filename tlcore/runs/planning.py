"""Before a run: how many parameters a method trains and roughly how long it takes here.

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

from ..engine.models import choose_device, model_folder, resolve_model
from ..engine.training import resolve_epochs
from ..methods import get_method
from ..methods.base import FlopEstimate, Workload

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


@functools.lru_cache(maxsize=1)
def matmul_gflops() -> float:
    """Peak fp32 1024x1024 matrix-multiply speed here (GPU if present), GFLOP/s: the best of ~0.3 s of tries."""
    import torch

    device = choose_device()  # where runs will train
    a = torch.randn(1024, 1024, device=device)
    b = torch.randn(1024, 1024, device=device)
    best, deadline = float("inf"), time.perf_counter() + 0.3
    while time.perf_counter() < deadline:
        start = time.perf_counter()
        a @ b
        if device != "cpu":  # a GPU works asynchronously: wait for the product
            getattr(torch, device).synchronize()
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
    with torch.device("meta"):
        trainable, total = entry.method_cls.count_parameters(model, n_labels, options, Path(folder))
    return trainable, total, total - embedding


def parameter_counts(folder: Path, method: str, n_labels: int, config) -> tuple[int, int]:
    """(trainable, total) parameters of ``method`` with its config on the model in ``folder``."""
    trainable, total, _ = _counts(str(folder), method, n_labels, json.dumps(config.to_dict(), sort_keys=True))
    return trainable, total


def estimate_flops(kind: str, method: str, compute_params: int, trainable: int, total: int, tokens: float,
                   n_train: int, n_test: int, passes: float, n_labels: int = 2, options: dict | None = None
                   ) -> FlopEstimate:
    """FLOPs of one (model, method) run, as the method counts them (``Method.estimate_flops``); planning uses it
    before a run, the compute footprint (tlcore.compare.checks.footprint) after it, with the run's measured
    tokens and passes. ``options``: the options the run runs (or ran) with."""
    work = Workload(model_kind=kind, compute_params=compute_params, trainable=trainable, total=total, tokens=tokens,
                    n_train=n_train, n_test=n_test, passes=passes, n_labels=n_labels)
    return get_method(method).method_cls.estimate_flops(work, options or {})


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
    if entry.method_cls.takes_epochs:
        epochs = resolve_epochs(getattr(config, "epochs", 1), n_train, getattr(config, "batch_size", 16))
    estimate = estimate_flops(spec.kind, method, compute_params, trainable, total, tokens, n_train, n_test, epochs,
                              n_labels=n_labels, options=config.to_dict())
    flops, formula = estimate.total, estimate.formula
    # Plus starting a worker, importing torch and loading the model (measured here: ~10 s / ~20 s).
    seconds = flops / (matmul_gflops() * 1e9 * _EFFICIENCY) + (20 if spec.kind == "decoder" else 10)
    return MethodPlan(method=method, model=model, trainable_params=int(trainable), total_params=int(total),
                      estimated_seconds=seconds, how_estimated=formula, epochs=epochs)
