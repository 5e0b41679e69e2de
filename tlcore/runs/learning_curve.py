"""Learning curves: one method at 8, 16, 32, ... labeled examples per class (and all), several seeds.

A curve is a group of ordinary runs: one run per (size, seed), all on the same test rows, each tagged
with the same ``RunConfig.group`` id. They live in the run store like any other run, so the Compare
page finds them again after a refresh and every point can be opened, exported or deleted.

- ``create_curve`` makes the runs (refusing a split that would not give the expected test rows);
- ``start_curve`` executes them one after another in one detached worker process, each through the runs
  folder's slots like any run, so the app survives a refresh and the user can cancel; the model loads once
  for the whole curve; ``execute_curve`` does the same in this process (the CLI). A curve is a series of
  runs (tlcore.runs.series), as a "Find the best method" search is;
- ``curve_points`` / ``curve_summary`` / ``references`` / ``examples_needed`` read the results:
  mean and standard deviation across seeds per size with a 95 % interval (the band), the zero-shot and
  few-shot runs on the same test rows as flat reference lines, and the smallest size whose mean beats a
  reference by a margin.

Light at import time (no torch).
"""
from __future__ import annotations

import secrets
import statistics
import time
from dataclasses import replace
from pathlib import Path
from typing import Callable, Sequence

from ..data import LabeledData, make_split
from ..errors import ConfigError, DatasetError, MethodError, RunError, TLCoreError, quoted
from ..methods import get_method
from ..methods import reference_methods as default_references
from .create import create_run
from .intervals import run_intervals

# A curve is a series of runs, started, executed and cancelled as one (tlcore.runs.series).
from .series import cancel_series as cancel_curve  # noqa: F401
from .series import execute_series as execute_curve
from .series import start_series as start_curve  # noqa: F401
from .store import Run, RunConfig, RunStore, runs_grouped_by

ALL = "all"
METRICS = ("accuracy", "macro_f1")
FIRST_SIZE = 8


# -- planning --------------------------------------------------------------------------------------
def parse_sizes(text: str) -> list[int | None]:
    """'8,16,32,all' -> [8, 16, 32, None] (None: every training row), ascending, 'all' last."""
    sizes: list[int | None] = []
    for part in (p.strip().lower() for p in str(text).split(",")):
        if not part:
            continue
        if part == ALL:
            sizes.append(None)
            continue
        try:
            value = int(part)
        except ValueError:
            raise ConfigError(f"sizes must be whole numbers of examples per class or 'all', got {quoted(part)} "
                              "(e.g. 8,16,32,all).") from None
        if value < 1:
            raise ConfigError(f"a size must be at least 1 example per class, got {value}.")
        sizes.append(value)
    if not sizes:
        raise ConfigError("no sizes given; list examples per class such as 8,16,32,all.")
    return order_sizes(sizes)


def order_sizes(sizes: Sequence[int | None]) -> list[int | None]:
    unique = list(dict.fromkeys(sizes))
    return sorted((s for s in unique if s is not None)) + ([None] if None in unique else [])


def default_sizes(train_counts: dict[str, int], first: int = FIRST_SIZE) -> list[int | None]:
    """8, 16, 32, ... while every class has more training rows than that, then all rows."""
    smallest = min(train_counts.values()) if train_counts else 0
    sizes: list[int | None] = []
    size = first
    while size < smallest:
        sizes.append(size)
        size *= 2
    return sizes + [None]


def new_group_id(method: str) -> str:
    return f"curve-{time.strftime('%Y%m%d-%H%M%S')}-{method}-{secrets.token_hex(2)}"


def create_curve(base: RunConfig, data: LabeledData, sizes: Sequence[int | None], seeds: Sequence[int],
                 store: RunStore | None = None, test: LabeledData | None = None, val: LabeledData | None = None,
                 expected_test_fingerprint: str | None = None, group: str | None = None) -> list[Run]:
    """Create one queued run per (size, seed), smallest size first, all on the split ``base`` describes.

    ``expected_test_fingerprint``: refuse (before creating anything) when ``data`` with these split settings
    would not give those test rows, e.g. because other data is chosen than the runs being compared used.
    """
    store = store or RunStore()
    entry = get_method(base.method)
    if not entry.method_cls.trains:
        raise MethodError(f"{base.method} learns nothing from labeled rows beyond its examples, so it has no "
                          "learning curve; it is drawn as a reference line. Choose a method that trains, such as "
                          "linear-probe or lora.")
    sizes = order_sizes(sizes)
    seeds = list(dict.fromkeys(int(s) for s in seeds))
    if not sizes:
        raise ConfigError("no sizes given; list examples per class such as 8,16,32,all.")
    if not seeds:
        raise ConfigError("no seeds given; use at least one seed.")
    if any(s is not None and s < 1 for s in sizes):
        raise ConfigError(f"sizes must be at least 1 example per class, got {sizes}.")
    split = make_split(data, test, test_size=base.test_size, val_size=base.val_size, split_seed=base.split_seed,
                       val=val)
    if expected_test_fingerprint and split.fingerprint != expected_test_fingerprint:
        raise DatasetError(f"{base.data_name} with test size {base.test_size} and split seed {base.split_seed} "
                           f"gives test set {split.fingerprint[:8]}, not {expected_test_fingerprint[:8]}: choose the "
                           "data these runs were trained on (same file and columns) on the Data page.")
    group = group or new_group_id(base.method)
    runs = []
    for size in sizes:
        for seed in seeds:
            config = replace(base, per_class=size, group=group, method_options={**base.method_options, "seed": seed})
            runs.append(create_run(config, data, test, store, sample_seed=seed, val=val))
    return runs


def settings_from_run(reference: Run) -> tuple[dict, LabeledData | None, LabeledData | None]:
    """(split settings, test rows, validation rows) that reproduce ``reference``'s test split.

    Separate test and validation files are taken from the run's own copy of them, so only the
    training data needs to be chosen again.
    """
    config = reference.config()
    stored = reference.split() if config.get("test_name") or config.get("val_name") else None
    settings = {key: config[key] for key in ("data_name", "text_column", "label_column", "test_size", "val_size",
                                             "split_seed", "test_name", "val_name", "device", "precision")
                if key in config}
    test = stored.test if stored and config.get("test_name") else None
    val = stored.val if stored and config.get("val_name") else None
    return settings, test, val


def curve_like(reference: Run, data: LabeledData, method: str, model: str, sizes: Sequence[int | None],
               seeds: Sequence[int], store: RunStore | None = None, method_options: dict | None = None) -> list[Run]:
    """A learning curve on the same test rows as ``reference`` (the Compare page's action)."""
    settings, test, val = settings_from_run(reference)
    base = RunConfig(model=model, method=method, method_options=dict(method_options or {}), **settings)
    fingerprint = reference.config().get("split", {}).get("test_fingerprint")
    return create_curve(base, data, sizes, seeds, store, test, val, expected_test_fingerprint=fingerprint)


def references_like(reference: Run, data: LabeledData, model: str, methods: Sequence[str],
                    store: RunStore | None = None) -> list[Run]:
    """Queued zero-shot / few-shot runs (default options, every training row) on ``reference``'s test rows."""
    settings, test, val = settings_from_run(reference)
    runs = []
    for method in methods:
        config = RunConfig(model=model, method=method, **settings)
        runs.append(create_run(config, data, test, store or RunStore(), sample_seed=0, val=val))
    return runs


# -- reading ---------------------------------------------------------------------------------------
def curve_groups(store: RunStore | None = None, test_fingerprint: str | None = None) -> dict[str, list[Run]]:
    """{group id: its runs, oldest first}, newest group first; only groups on ``test_fingerprint`` if given."""
    on_test = None if not test_fingerprint else (
        lambda config: config.get("split", {}).get("test_fingerprint") == test_fingerprint)
    return runs_grouped_by("group", store, keep=on_test)


def curve_status(runs: Sequence[Run]) -> dict[str, int]:
    """How many runs of the curve are in each state."""
    counts: dict[str, int] = {}
    for run in runs:
        try:
            state = run.status().get("status", "damaged")
        except RunError:
            state = "damaged"
        counts[state] = counts.get(state, 0) + 1
    return counts


def curve_points(runs: Sequence[Run]) -> list[dict]:
    """One point per finished run: examples per class (a number or 'all'), x (mean rows per class), seed, scores."""
    points = []
    for run in runs:
        try:
            if run.status().get("status") != "succeeded":
                continue
            config, metrics = run.config(), run.metrics() or {}
        except RunError:
            continue
        if "accuracy" not in metrics:
            continue
        per_class = config.get("per_class")
        n_labels = max(1, len(config.get("labels") or metrics.get("labels") or [None]))
        points.append({"per_class": per_class if per_class else ALL,
                       "x": float(per_class) if per_class else metrics.get("n_train", 0) / n_labels,
                       "seed": (config.get("method_options") or {}).get("seed", 0),
                       "accuracy": metrics["accuracy"], "macro_f1": metrics.get("macro_f1"), "run_id": run.id,
                       "n_train": metrics.get("n_train"), "method": config.get("method"),
                       "model": config.get("model"), **_point_intervals(run, config, metrics)})
    return sorted(points, key=lambda p: (p["per_class"] == ALL, p["x"], p["seed"]))


def _point_intervals(run: Run, config: dict, metrics: dict) -> dict:
    """The run's 95 % intervals (metrics.json, or computed from predictions.csv for older runs); None when unknown."""
    labels = config.get("labels") or []
    try:  # predictions.csv is read only when metrics.json has no intervals
        intervals = run_intervals(metrics, None, labels) or run_intervals(metrics, run.predictions(), labels)
    except (TLCoreError, OSError, ValueError, KeyError):  # a damaged predictions file: no band at that point
        intervals = None
    return intervals or {"accuracy_ci": None, "macro_f1_ci": None}


def _band(values: list[float], members: Sequence[dict], metric: str) -> tuple[float | None, float | None, str | None]:
    """(low, high, what) of the 95 % band at one size.

    Several seeds: the t-interval of the mean across seeds (mean ± t·std/√seeds) — what another set of seeds
    would likely give; it says nothing of the test rows, which every seed shares. One seed: that run's
    bootstrap interval over the test rows, the only uncertainty one run can show.
    """
    mean = statistics.fmean(values)
    if len(values) > 1:
        from scipy.stats import t

        half = float(t.ppf(0.975, len(values) - 1)) * statistics.stdev(values) / len(values) ** 0.5
        return max(0.0, mean - half), min(1.0, mean + half), "seeds"
    interval = members[0].get(f"{metric}_ci")
    if interval:
        return float(interval[0]), float(interval[1]), "test rows"
    return None, None, None


def curve_summary(points: Sequence[dict], metric: str = "accuracy") -> list[dict]:
    """Per size: mean and standard deviation across seeds (sample std, 0 for a single seed), and a 95 % band
    (``low``, ``high``; ``band`` says whether it is across seeds or, with one seed, over test rows), in size order."""
    if metric not in METRICS:
        raise ConfigError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}.")
    by_size: dict = {}
    for point in points:
        by_size.setdefault(point["per_class"], []).append(point)
    rows = []
    for per_class, members in by_size.items():
        values = [float(p[metric]) for p in members if p.get(metric) is not None]
        if not values:
            continue
        low, high, band = _band(values, [p for p in members if p.get(metric) is not None], metric)
        rows.append({"per_class": per_class, "x": statistics.fmean(p["x"] for p in members),
                     "n_train": statistics.fmean(p["n_train"] or 0 for p in members), "seeds": len(values),
                     "metric": metric, "mean": statistics.fmean(values),
                     "std": statistics.stdev(values) if len(values) > 1 else 0.0,
                     "min": min(values), "max": max(values), "low": low, "high": high, "band": band})
    return sorted(rows, key=lambda r: (r["per_class"] == ALL, r["x"]))


def references(store: RunStore | None, test_fingerprint: str, model: str | None = None,
               methods: Sequence[str] | None = None) -> list[dict]:
    """The newest finished run of each reference method (and model) on the same test rows, outside any curve;
    ``methods`` defaults to the methods that learn nothing from labels (zero-shot, few-shot)."""
    methods = default_references() if methods is None else methods
    store = store or RunStore()
    found: dict[tuple[str, str], dict] = {}
    for summary in store.summaries():  # newest first
        if (summary.status != "succeeded" or summary.test_fingerprint != test_fingerprint
                or summary.method not in methods or (model and summary.model != model)):
            continue
        key = (summary.method, summary.model)
        if key in found:
            continue
        run = store.get(summary.id)
        try:
            if run.config().get("group"):
                continue
            metrics = run.metrics() or {}
        except RunError:
            continue
        found[key] = {"name": f"{summary.method} · {Path(summary.model).name}", "method": summary.method,
                      "model": summary.model, "accuracy": metrics.get("accuracy"),
                      "macro_f1": metrics.get("macro_f1"), "run_id": summary.id}
    return sorted(found.values(), key=lambda r: (list(methods).index(r["method"]), r["model"]))


def examples_needed(summary: Sequence[dict], reference: float, margin: float = 0.0) -> dict | None:
    """The smallest size whose mean score is above ``reference + margin`` (the summary's metric), or None."""
    for row in sorted(summary, key=lambda r: (r["per_class"] == ALL, r["x"])):
        if row["mean"] > reference + margin:
            return row
    return None


def curve_payload(runs: Sequence[Run], refs: Sequence[dict]) -> dict:
    """The CLI's JSON: points, summary per size (accuracy mean/std, macro-F1 mean/std), references."""
    points = curve_points(runs)
    accuracy = curve_summary(points, "accuracy")
    macro = {row["per_class"]: row for row in curve_summary(points, "macro_f1")}
    summary = [{"per_class": row["per_class"], "n_train": row["n_train"], "seeds": row["seeds"], "mean": row["mean"],
                "std": row["std"], "ci": [row["low"], row["high"]] if row["band"] else None, "band": row["band"],
                "macro_f1_mean": macro.get(row["per_class"], {}).get("mean"),
                "macro_f1_std": macro.get(row["per_class"], {}).get("std"),
                "macro_f1_ci": ([macro[row["per_class"]]["low"], macro[row["per_class"]]["high"]]
                                if macro.get(row["per_class"], {}).get("band") else None)} for row in accuracy]
    config = runs[0].config() if runs else {}
    return {"group": config.get("group"), "method": config.get("method"), "model": config.get("model"),
            "test_fingerprint": config.get("split", {}).get("test_fingerprint"),
            "n_test": config.get("split", {}).get("n_test"), "metric": "accuracy",
            "points": [{key: p[key] for key in ("per_class", "seed", "accuracy", "macro_f1", "accuracy_ci",
                                                "macro_f1_ci", "run_id", "n_train")} for p in points],
            "summary": summary,
            "references": {r["method"]: {key: r[key] for key in ("accuracy", "macro_f1", "run_id", "model")}
                           for r in refs}}


def run_learning_curve(base: RunConfig, data: LabeledData, sizes: Sequence[int | None], seeds: Sequence[int],
                       store: RunStore | None = None, test: LabeledData | None = None,
                       val: LabeledData | None = None, reference_methods: Sequence[str] | None = None,
                       reference_options: Callable[[str], dict] | None = None,
                       echo: Callable[[str], None] | None = None) -> dict:
    """The whole curve in this process (the CLI): the runs, then any missing reference run; the JSON payload.

    A reference (zero-shot, few-shot) already finished on the same test rows with the same model is reused.
    """
    store = store or RunStore()
    reference_methods = default_references() if reference_methods is None else reference_methods
    for method in reference_methods:
        get_method(method)  # an unknown name fails before any work
    runs = create_curve(base, data, sizes, seeds, store, test, val)
    execute_curve(runs, echo=echo, stop_on_error=True)
    fingerprint = runs[0].config()["split"]["test_fingerprint"]
    found = {r["method"] for r in references(store, fingerprint, base.model, reference_methods)}
    for method in reference_methods:
        if method in found:
            continue
        options = reference_options(method) if reference_options else {}
        config = replace(base, method=method, per_class=None, group=None, method_options=options)
        run = create_run(config, data, test, store, sample_seed=0, val=val)
        if echo:
            echo(f"reference {method}: run {run.id}")
        try:
            execute_curve([run], echo=echo, stop_on_error=True)
        except TLCoreError as exc:  # e.g. too few rows for few-shot's examples: say so, keep the curve
            if echo:
                echo(f"reference {method} failed: {exc}")
    return curve_payload(runs, references(store, fingerprint, base.model, reference_methods))
