"""High-level entry points shared by the CLI, the app and Python users: validate, split, create a run."""
from __future__ import annotations

from dataclasses import replace

from ..data import LabeledData, make_split
from ..data.labeled import rows_taken
from ..engine.catalog import remember_folder
from ..engine.models import resolve_model
from ..engine.precision import PRECISION_CHOICES, choose_precision
from ..errors import ConfigError, DatasetError
from ..methods import check_supported, get_method
from .store import Run, RunConfig, RunStore


def method_options(method: str, given: dict, strict: bool = True) -> dict:
    """Keep the options the method knows. ``strict`` refuses an option the method does not have."""
    entry = get_method(method)
    known = {f["name"] for f in entry.config_cls.describe_fields()}
    unknown = sorted(k for k, v in given.items() if v is not None and k not in known)
    if unknown and strict:
        raise ConfigError(f"method {method!r} has no option {', '.join(unknown)}; its options are: "
                          f"{', '.join(sorted(known))}.")
    return {k: v for k, v in given.items() if v is not None and k in known}


def create_run(config: RunConfig, data: LabeledData, test: LabeledData | None = None,
               store: RunStore | None = None, sample_seed: int = 0, val: LabeledData | None = None) -> Run:
    """Check everything cheap first (model, method, options, data), then split and create the run folder.

    The split decides whether validation rows are held out (``split.info["val_choice"]`` / ``["val_policy"]``: none
    when the training rows are too few to spare them); a method that finds too few training rows says which split
    took the rest.
    """
    if config.precision not in PRECISION_CHOICES:
        raise ConfigError(f"precision {config.precision!r} is not one of {', '.join(PRECISION_CHOICES)}.")
    if config.device == "cpu":
        choose_precision("cpu", config.precision)  # e.g. fp16 on a CPU: refused now, not in the worker
    spec = resolve_model(config.model, config.model_revision)
    if spec.revision and not config.model_revision:  # the run reloads these weights, whatever the cache gets later
        config = replace(config, model_revision=spec.revision)
    entry = get_method(config.method)
    check_supported(entry, spec)
    entry.config_cls.from_dict(config.method_options)  # raises ConfigError on a bad value, before any work
    split = make_split(data, test, test_size=config.test_size, val_size=config.val_size,
                       split_seed=config.split_seed, per_class=config.per_class, sample_seed=sample_seed,
                       val=val)
    try:
        entry.method_cls.check_data(split.train.class_counts(), config.method_options)
    except DatasetError as exc:
        raise DatasetError(f"{exc} Where the rows went: {rows_taken(split)}.") from None
    run = (store or RunStore()).create(config, split)
    remember_folder(spec)  # a folder model is offered by the model picker next time
    return run
