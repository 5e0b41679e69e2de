"""Compute footprint of a finished run: parameters, FLOPs, wall time, energy and CO2e, with the assumptions stated.

- FLOPs: the planning formula (``tlcore.runs.planning.estimate_flops``, one definition for before and after a
  run) fed with what the run really did: its mean tokens per text (the model's tokenizer, cut at the
  method's max_length), its training rows and the passes it really made (steps / steps per epoch). A
  forward pass costs 2 x non-embedding params x tokens; training adds a backward pass costing 2x a
  forward pass when most weights train (full fine-tuning) and ~1x when they are frozen (adapters, freeze:
  no weight gradients for frozen weights). Linear probe: one forward pass per training text (the
  logistic regression is negligible). Zero-/few-shot: no training; the decoder's few-shot prompt is
  counted once. Validation passes and model loading are left out.
- Energy (kWh) = assumed power (W) x measured wall time (s) / 3.6e6, where wall time is the run's
  training plus test-prediction seconds and power is cores x watts per core on a CPU, or the GPU's
  watts on a GPU (the host CPU is not added). Defaults: 15 W per core, 300 W per GPU; editable.
- CO2e (g) = energy (kWh) x grid intensity (g CO2e per kWh); default 400 g/kWh (roughly a world average),
  editable.
These are order-of-magnitude estimates: real power depends on load, and FLOPs ignore attention's
quadratic term and memory traffic.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass, field

from ...errors import ConfigError
from ...runs.store import Run
from . import store

CPU_WATTS_PER_CORE = 15.0
GPU_WATTS = 300.0
GRID_G_PER_KWH = 400.0


def _cores_here() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


@dataclass
class FootprintAssumptions:
    """The editable assumptions behind the energy and CO2e estimates."""

    cpu_watts_per_core: float = CPU_WATTS_PER_CORE
    cpu_cores: int = field(default_factory=_cores_here)
    gpu_watts: float = GPU_WATTS
    grid_g_per_kwh: float = GRID_G_PER_KWH
    watts: float | None = None  # a total power that overrides the per-device rule

    def __post_init__(self) -> None:
        for name in ("cpu_watts_per_core", "cpu_cores", "gpu_watts"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name.replace('_', ' ')} must be above 0, got {getattr(self, name)}.")
        if self.grid_g_per_kwh < 0:
            raise ConfigError(f"grid intensity must be 0 or more g CO2e/kWh, got {self.grid_g_per_kwh}.")
        if self.watts is not None and not self.watts > 0:
            raise ConfigError(f"power must be above 0 W, got {self.watts}.")

    def power(self, device: str) -> tuple[float, str]:
        """(watts, how they were chosen) for a run on ``device``."""
        if self.watts is not None:
            return self.watts, f"{self.watts:g} W (given)"
        if str(device).startswith("cuda"):
            return self.gpu_watts, f"{self.gpu_watts:g} W (one GPU)"
        watts = self.cpu_cores * self.cpu_watts_per_core
        return watts, f"{watts:g} W ({self.cpu_cores} CPU cores x {self.cpu_watts_per_core:g} W)"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class Footprint:
    run_id: str
    method: str
    model: str
    accuracy: float | None
    macro_f1: float | None
    trainable_params: int
    total_params: int
    compute_params: int  # non-embedding parameters: the ones a token's forward pass multiplies
    n_train: int
    n_test: int
    passes: float  # passes over the training rows actually made (0 for methods without gradient steps)
    train_tokens: float  # mean tokens per training text, after truncation
    test_tokens: float
    training_flops: float
    prediction_flops: float
    flops_formula: str
    train_seconds: float
    predict_seconds: float
    device: str
    watts: float
    power_basis: str
    energy_kwh: float
    grid_g_per_kwh: float
    co2e_g: float

    @property
    def wall_seconds(self) -> float:
        return self.train_seconds + self.predict_seconds

    def to_dict(self) -> dict:
        return {**asdict(self), "wall_seconds": self.wall_seconds}


def energy_kwh(watts: float, seconds: float) -> float:
    """Energy of drawing ``watts`` for ``seconds``: W x s = J, and 1 kWh = 3.6e6 J."""
    return watts * seconds / 3.6e6


def _mean_tokens(run: Run, folder, max_length: int, train_texts: list[str], test_texts: list[str]
                 ) -> tuple[float, float]:
    """Mean tokens per training and per test text (cut at max_length); cached in the run folder."""
    name = f"tokens-{max_length}"
    saved = store.load(run, store.CHECKS, name)
    if saved:
        return saved["train"], saved["test"]
    from ...engine.models import load_tokenizer

    tokenizer = load_tokenizer(str(folder))

    def mean(texts: list[str]) -> float:
        if not texts:
            return 0.0
        ids = tokenizer(list(texts), truncation=True, max_length=max_length)["input_ids"]
        return sum(len(i) for i in ids) / len(ids)

    train, test = mean(train_texts), mean(test_texts)
    store.save(run, store.CHECKS, name, {"train": train, "test": test, "max_length": max_length})
    return train, test


def compute_footprint(run: Run, assumptions: FootprintAssumptions | None = None) -> Footprint:
    """The compute footprint of a finished run (see the module docstring for every formula)."""
    from ...engine.models import model_folder, resolve_model
    from ...methods import get_method
    from ...runs.planning import _counts, estimate_flops
    from ...use.predict import check_usable

    assumptions = assumptions or FootprintAssumptions()
    config = check_usable(run)
    metrics = run.metrics() or {}
    spec = resolve_model(config["model"])
    entry = get_method(config["method"])
    method_config = entry.config_cls.from_dict(config.get("method_options", {}))
    folder = model_folder(spec)
    labels = list(config["labels"])
    options = json.dumps(method_config.to_dict(), sort_keys=True)  # the key planning caches counts under
    planned_trainable, planned_total, compute_params = _counts(str(folder), config["method"], len(labels), options)
    split = store.split_or_none(run)
    if split is not None:
        train_texts, test_texts = split.train.texts, split.test.texts
    else:  # an imported run keeps its test texts (predictions.csv) but not its training texts
        predictions = run.predictions()
        test_texts = [] if predictions is None else predictions["text"].astype(str).tolist()
        train_texts = test_texts
    max_length = int(getattr(method_config, "max_length", 128))
    train_tokens, test_tokens = _mean_tokens(run, folder, max_length, train_texts, test_texts)
    n_train = int(metrics.get("n_train", len(split.train) if split else 0))
    n_test = int(metrics.get("n_test", len(test_texts)))
    passes = 0.0
    if entry.method_cls.takes_epochs:
        batch = int(getattr(method_config, "batch_size", 16))
        steps_per_epoch = max(1, math.ceil(n_train / batch))
        steps = metrics.get("steps")
        passes = steps / steps_per_epoch if steps else float(metrics.get("epochs_completed") or 0)
    trainable = int(metrics.get("trainable_params", planned_trainable))
    total = int(metrics.get("total_params", planned_total))
    # What the run ran with: its config, and what it saved for options added since (e.g. a decoder's scoring).
    ran_with = {**method_config.to_dict(), **entry.method_cls.options_ran_with(run.path / "artifacts")}
    flops = estimate_flops(spec.kind, config["method"], compute_params, trainable, total, train_tokens, n_train,
                           0, passes, n_labels=len(labels), options=ran_with)
    prediction = estimate_flops(spec.kind, config["method"], compute_params, trainable, total, test_tokens, 0,
                                n_test, passes, n_labels=len(labels), options=ran_with).prediction
    device = str(metrics.get("device", "cpu"))
    watts, basis = assumptions.power(device)
    train_seconds = float(metrics.get("train_seconds") or 0.0)
    predict_seconds = float(metrics.get("predict_seconds") or 0.0)
    energy = energy_kwh(watts, train_seconds + predict_seconds)
    return Footprint(
        run_id=run.id, method=config["method"], model=config["model"], accuracy=metrics.get("accuracy"),
        macro_f1=metrics.get("macro_f1"), trainable_params=trainable, total_params=total,
        compute_params=int(compute_params), n_train=n_train, n_test=n_test, passes=passes,
        train_tokens=train_tokens, test_tokens=test_tokens, training_flops=flops.training,
        prediction_flops=prediction, flops_formula=flops.formula + ("" if split is not None else
                                                                   "; tokens per training text taken from the test "
                                                                   "texts (an imported run has no training texts)"),
        train_seconds=train_seconds,
        predict_seconds=predict_seconds, device=device, watts=watts, power_basis=basis, energy_kwh=energy,
        grid_g_per_kwh=assumptions.grid_g_per_kwh, co2e_g=energy * assumptions.grid_g_per_kwh)


def explain(assumptions: FootprintAssumptions) -> list[str]:
    """Each estimate's formula in words, with the assumptions in force (shown by the app and the report)."""
    return [
        "Trainable parameters: counted on the trained model (adapters, head or every weight).",
        "FLOPs of one forward pass = 2 x non-embedding parameters x tokens per text (a multiply and an add per "
        "weight per token); tokens = the run's mean tokens per text, from its model's tokenizer, cut at the "
        "method's max_length.",
        "Training FLOPs = forward pass x training rows x passes x (1 + backward), backward = 2 when most weights "
        "train (full fine-tuning), 1 when they are frozen (LoRA, DoRA, IA3, prompt tuning, freeze: no weight "
        "gradients); passes = training steps / steps per epoch, as the run really ran. Linear probe: one "
        "forward pass per training row. Zero-shot and few-shot do not train (a decoder's few-shot prompt is "
        "counted once). Validation passes and loading the model are left out.",
        "Wall time = the run's measured training + test-prediction seconds (model loading excluded).",
        f"Energy (kWh) = power (W) x wall time (s) / 3,600,000; power = CPU cores x "
        f"{assumptions.cpu_watts_per_core:g} W per core on a CPU ({assumptions.cpu_cores} cores assumed), "
        f"{assumptions.gpu_watts:g} W on a GPU"
        + (f"; here overridden: {assumptions.watts:g} W" if assumptions.watts is not None else "") + ".",
        f"CO2e (g) = energy (kWh) x grid intensity ({assumptions.grid_g_per_kwh:g} g CO2e per kWh).",
        "Order-of-magnitude estimates: real power depends on load; FLOPs leave out attention's quadratic term "
        "and memory traffic.",
    ]


def compare_compute(footprints: list[Footprint]) -> list[str]:
    """"lora (minilm): 1.2 points less accuracy for 3.0x less training compute than full (minilm)." lines,
    against the run with the most training FLOPs."""
    trained = [f for f in footprints if f.training_flops > 0 and f.accuracy is not None]
    if not trained or len(footprints) < 2:
        return []
    top = max(trained, key=lambda f: f.training_flops)
    lines = []
    for f in sorted(footprints, key=lambda f: -(f.training_flops)):
        if f is top or f.accuracy is None:
            continue
        points = 100 * (f.accuracy - top.accuracy)
        more = "more" if points > 0 else "less"
        if f.training_flops > 0:
            accuracy = f"{abs(points):.1f} points {more} accuracy" if abs(points) >= 0.05 else "the same accuracy"
            ratio = top.training_flops / f.training_flops
            compute = (f"{ratio:.1f}x less training compute than" if ratio >= 1.05 else
                       "about the same training compute as")  # e.g. zero-shot and a probe encode the same texts
            lines.append(f"{f.method} ({f.model}): {accuracy} for {compute} {top.method} ({top.model}).")
        else:
            accuracy = (f"{abs(points):.1f} points {more} accuracy than" if abs(points) >= 0.05
                        else "the same accuracy as")
            lines.append(f"{f.method} ({f.model}): {accuracy} {top.method} ({top.model}), with no training compute.")
    return lines
