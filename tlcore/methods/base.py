"""The method registry and what every transfer method shares.

Modelled on peft: each method is a small module that registers a name, a dataclass config
(typed defaults, help text, validation) and a class that fits and predicts.
"""
from __future__ import annotations

import dataclasses
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from ..data import LabeledData
from ..engine.architectures import Architecture, read_architecture
from ..engine.callbacks import Callback
from ..engine.models import ModelSpec
from ..errors import ConfigError, MethodError


def option(default: Any, help: str, **kwargs: Any) -> Any:
    """A config field with help text (shown as CLI help and UI tooltips).

    ``model_kinds=("decoder",)`` marks an option only one kind of model uses; the Train page hides it for others.
    """
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata={"help": help, **kwargs})
    return field(default=default, metadata={"help": help, **kwargs})


MAX_SEED = 2**32 - 1  # numpy's and torch's seeds are unsigned 32/64-bit: keep to the range both take


@dataclass
class MethodConfig:
    """Base of every method's config: JSON round-trip and field-level help."""

    seed: int = option(0, "Seed for sampling demonstrations, initialising heads and shuffling.", min=0, max=MAX_SEED)

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            bounds = f.metadata.get("min"), f.metadata.get("max")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if bounds[0] is not None and value < bounds[0]:
                    raise ConfigError(f"{f.name} must be at least {bounds[0]}, got {value}.")
                if bounds[1] is not None and value > bounds[1]:
                    raise ConfigError(f"{f.name} must be at most {bounds[1]}, got {value}.")
            choices = f.metadata.get("choices")
            if choices and value not in choices:
                raise ConfigError(f"{f.name} must be one of {', '.join(map(str, choices))}; got {value!r}.")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "MethodConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(f"unknown option(s) {', '.join(unknown)} for this method; "
                              f"known options: {', '.join(sorted(names))}.")
        return cls(**values)

    @classmethod
    def describe_fields(cls, model_kind: str | None = None) -> list[dict]:
        """Every field's name, type, default, help and bounds; with ``model_kind``, only those that kind uses."""
        out = []
        for f in dataclasses.fields(cls):
            kinds = f.metadata.get("model_kinds")
            if model_kind is not None and kinds is not None and model_kind not in kinds:
                continue
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore
            out.append({"name": f.name, "type": getattr(f.type, "__name__", str(f.type)), "default": default,
                        "help": f.metadata.get("help", ""),
                        **{k: f.metadata[k] for k in ("min", "max", "choices") if k in f.metadata},
                        **({"model_kinds": list(kinds)} if kinds else {})})
        return out


@dataclass
class TrainingConfig(MethodConfig):
    """Options every fine-tuning method shares."""

    epochs: int = option(0, "Passes over the training split; 0 (auto) plans enough for about 300 optimisation "
                            "steps (3 to 100 passes), so small datasets train long enough, and stops early when the "
                            "validation split (30 rows or more) stops improving.", min=0, max=100)
    lr: float = option(5e-4, "Peak learning rate (AdamW; linear warm-up then linear decay).", min=1e-7, max=1.0)
    batch_size: int = option(16, "Examples per optimisation step.", min=1, max=512)
    max_length: int = option(128, "Tokens per text; longer texts are cut.", min=8, max=4096)
    weight_decay: float = option(0.01, "AdamW weight decay.", min=0.0, max=1.0)
    warmup_ratio: float = option(0.1, "Share of steps spent warming the learning rate up.", min=0.0, max=0.9)
    class_weights: str = option("none", "balanced: weight the loss of each class inversely to its frequency, so a "
                                        "rare class counts as much as a common one.", choices=("none", "balanced"))
    early_stopping: int = option(-1, "Stop when the validation loss has not improved for this many evaluations and "
                                     "keep the best evaluation's weights; 0: off; -1 (auto): on, 3 evaluations, when "
                                     "epochs is auto and the validation split has at least 30 rows.", min=-1, max=50)


@dataclass
class FlopEstimate:
    """Floating-point operations of a run: what learning costs and what predicting the test texts costs."""

    training: float
    prediction: float
    formula: str

    @property
    def total(self) -> float:
        return self.training + self.prediction


@dataclass(frozen=True)
class Workload:
    """The size of one run, as planning (before it) or the compute footprint (after it) sees it."""

    model_kind: str  # "encoder" or "decoder"
    compute_params: int  # non-embedding parameters: the weights a token passes through
    trainable: int
    total: int
    tokens: float  # mean tokens per text
    n_train: int
    n_test: int
    passes: float  # passes over the training rows, for methods that take gradient steps
    n_labels: int = 2


class Method(ABC):
    """A transfer method bound to one model and label set.

    A method owns everything about itself: what it saves and reloads, how it is exported and loaded elsewhere,
    what it costs (parameters, FLOPs) and how it is shown. No module outside ``tlcore/methods`` asks for a
    method by name or class; they read these attributes and call these class methods.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    when_to_use: ClassVar[str] = ""
    kinds: ClassVar[tuple[str, ...]]
    config_cls: ClassVar[type[MethodConfig]]
    trains: ClassVar[bool] = False  # True when fit() learns from labels (a reference baseline when False)
    takes_epochs: ClassVar[bool] = False  # True when fit() takes gradient steps in passes over the rows
    # False when fit() trains through code that does not take TransferLab's mixed precision (autocast + loss
    # scaling in tlcore.engine.training): such a method trains in fp32 whatever the run's precision.
    mixed_precision_fit: ClassVar[bool] = True
    # How the method uses labeled rows, as the app groups methods: "zero-shot", "few-shot" or "fine-tuned".
    family: ClassVar[str] = "fine-tuned"
    # Tried by "Find the best method": a small portfolio that covers the families at a bounded cost.
    in_portfolio: ClassVar[bool] = False
    # What an export holds: "peft" (an adapter), "model" (a whole model folder) or "json" (method.json).
    export_kind: ClassVar[str] = "json"
    # Files save() writes into artifacts/, checked before anything loads (a damaged run fails clearly).
    required_artifacts: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: MethodConfig, model: ModelSpec, folder: Path, labels: Sequence[str],
                 device: str = "cpu") -> None:
        self.config = config
        self.model_spec = model
        self.folder = folder
        self.labels = list(labels)
        self.device = device
        self.trainable_params = 0
        self.total_params = model.params or 0

    @abstractmethod
    def fit(self, train: LabeledData, val: LabeledData, callback: Callback) -> None:
        """Learn from the training split (zero-shot methods only record what they need)."""

    @abstractmethod
    def predict_proba(self, texts: Sequence[str], callback: Callback | None = None) -> np.ndarray:
        """Class probabilities, shape (len(texts), len(labels)), columns in ``self.labels`` order."""

    @abstractmethod
    def save(self, folder: Path) -> None:
        """Write what predict_proba needs (safetensors / JSON only)."""

    @abstractmethod
    def load(self, folder: Path) -> None:
        """Restore the state written by save()."""

    @staticmethod
    def _write_json(path: Path, payload: Any) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2))

    # -- what the method costs (planning before a run, the compute footprint after it) ---------------------

    @classmethod
    def count_parameters(cls, model, n_labels: int, options: dict, folder: Path) -> tuple[int, int]:
        """(trainable, total) parameters of the method on ``model``, a sequence classifier of the base model
        built on the meta device (no weights in memory). This default trains nothing."""
        return 0, sum(p.numel() for p in model.parameters())

    @classmethod
    def check_model(cls, architecture: Architecture, kind: str) -> None:
        """Refuse, before anything loads, a model whose architecture cannot do this method (read from its
        config.json; ``kind`` is "encoder" or "decoder"). Raise MethodError naming what is missing."""

    @classmethod
    def check_data(cls, class_counts: dict[str, int], options: dict) -> None:
        """Refuse training rows the method cannot use (before any expensive work); ``options`` as given."""

    @classmethod
    def estimate_flops(cls, work: Workload, options: dict) -> FlopEstimate:
        """FLOPs of one run; ``options`` are the options it runs (or ran) with.

        A forward pass costs 2 FLOPs (a multiply and an add) per non-embedding weight per token. This default
        is a method that learns nothing from the training texts: one forward pass per test text.
        """
        return FlopEstimate(0.0, 2 * work.compute_params * work.tokens * work.n_test,
                            "2 x params x tokens per text (one forward pass)")

    # -- a saved run ----------------------------------------------------------------------------------------

    @classmethod
    def options_ran_with(cls, artifacts: Path) -> dict:
        """Options a saved run ran with that its config.json may not hold (defaults of its day); {} if none."""
        return {}

    # -- exporting ------------------------------------------------------------------------------------------

    @classmethod
    def export_spec(cls, artifacts: Path, spec: dict) -> dict:
        """For a "json" export: ``spec`` (format, method, base model, model kind, labels) plus everything
        predicting needs, as plain JSON (method.json)."""
        raise MethodError(f"method {cls.name!r} exports {cls.export_kind!r} files, not method.json.")

    @classmethod
    @abstractmethod
    def load_snippet(cls, config: dict, model_kind: str, base: str, bundled: bool, artifacts: Path) -> list[str]:
        """The model card's "How to load" lines: Markdown with a Python snippet that needs no tlcore."""


@dataclass(frozen=True)
class MethodEntry:
    name: str
    config_cls: type[MethodConfig]
    method_cls: type[Method]

    @property
    def description(self) -> str:
        return self.method_cls.description

    @property
    def kinds(self) -> tuple[str, ...]:
        return self.method_cls.kinds

    @property
    def trains(self) -> bool:
        return self.method_cls.trains

    @property
    def when_to_use(self) -> str:
        return self.method_cls.when_to_use

    @property
    def family(self) -> str:
        return self.method_cls.family

    def to_dict(self) -> dict:
        return {"name": self.name, "description": self.description, "when_to_use": self.when_to_use,
                "kinds": list(self.kinds), "family": self.family,
                "trains": self.method_cls.trains, "options": self.config_cls.describe_fields()}


_REGISTRY: dict[str, MethodEntry] = {}


def register_method(*, name: str, config_cls: type[MethodConfig], method_cls: type[Method]) -> None:
    if name in _REGISTRY:
        raise MethodError(f"a method named {name!r} is already registered.")
    method_cls.name = name
    method_cls.config_cls = config_cls
    _REGISTRY[name] = MethodEntry(name, config_cls, method_cls)


def get_method(name: str) -> MethodEntry:
    if name not in _REGISTRY:
        raise MethodError(f"unknown method {name!r}; choose one of: {', '.join(_REGISTRY)}.")
    return _REGISTRY[name]


def list_methods() -> list[MethodEntry]:
    return list(_REGISTRY.values())


def portfolio(model_kind: str) -> tuple[str, ...]:
    """The methods "Find the best method" tries on a model of this kind, cheapest first."""
    return tuple(entry.name for entry in _REGISTRY.values()
                 if entry.method_cls.in_portfolio and model_kind in entry.kinds)


def reference_methods() -> tuple[str, ...]:
    """Methods that learn nothing from labels (zero-shot, few-shot): the base model's own ability, the floor
    every trained method is measured against. In registration order."""
    return tuple(entry.name for entry in _REGISTRY.values() if not entry.trains)


def check_supported(entry: MethodEntry, model: ModelSpec) -> None:
    if model.kind not in entry.kinds:
        raise MethodError(f"method {entry.name!r} does not work with {model.kind} models like {model.name!r} "
                          f"(it supports: {', '.join(entry.kinds)}). {entry.method_cls.description}")
    if model.path:  # a folder of the user's (the bundled models are known to work): its config says what it can do
        entry.method_cls.check_model(read_architecture(model.path), model.kind)


def missing_head(method: str, architecture: Architecture, head: str, needed_for: str, instead: str) -> MethodError:
    """The refusal of a method that needs a transformers class ``head`` the architecture does not have."""
    return MethodError(f"method {method!r} needs {needed_for}, and transformers has no {head} class for "
                       f"{architecture.described} models, so it cannot run on this one. {instead}")


ProgressFn = Callable[[int, int], None]
