"""A sweep: one method run at every combination of a few option values (a grid), all on one split; the best
configuration picked on the validation rows, then reported on the test rows with its interval.

Why validation rows, as for "Find the best method" (tlcore.compare.best_method): the best of several test scores
overstates the winner, so the validation rows choose and the test rows only judge the one choice. A paired
verdict (tlcore.compare.paired) of the pick against the runner-up on the same test rows says whether the test set
can tell the two apart at all.

- ``parse_grid`` reads ``name=v1,v2`` items (the CLI's ``--grid``, the Train page's boxes) into typed values
  (``check_grid`` for a grid given in code), checked by the method's own config (the validation ``create_run``
  uses), within ``MAX_SWEEP_RUNS`` configurations;
- ``create_sweep`` makes one queued run per configuration on the same split, each tagged ``RunConfig.sweep``;
  they are a series of runs (``tlcore.runs.series``: ``start_series`` in the app, ``execute_series`` in the CLI),
  so they go through whichever executor runs series;
- ``sweep_result`` reads them back: every configuration's scores, the pick, its test interval and the verdict.

Light at import time (no torch).
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

from ..data import LabeledData
from ..data.labeled import rows_taken
from ..engine.models import resolve_model
from ..errors import ConfigError, DatasetError, RunError, TLCoreError, quoted
from ..methods import check_supported, get_method
from ..methods.base import MethodConfig, TrainingConfig
from ..runs.create import create_run
from ..runs.intervals import run_intervals
from ..runs.store import LIVE_STATES, Run, RunConfig, RunStore, runs_grouped_by
from .best_method import FEW_VALIDATION_ROWS, split_to_pick_on
from .formatting import percent
from .paired import PairedComparison, compare_pair

MAX_SWEEP_RUNS = 50  # above this a sweep is hours on a laptop: the grid is refused with its size
SWEEPABLE_TYPES = ("int", "float", "str", "bool")  # a dict or list option has no comma-separated values
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")

Grid = dict[str, list[Any]]


# -- the grid --------------------------------------------------------------------------------------------------
def sweepable_options(method: str, model_kind: str | None = None) -> list[dict]:
    """The method's options a grid may vary (numbers, choices, switches), as ``describe_fields`` gives them."""
    fields = get_method(method).config_cls.describe_fields(model_kind)
    return [f for f in fields if f["type"] in SWEEPABLE_TYPES and (f["type"] != "str" or f.get("choices"))]


def main_options(method: str, model_kind: str | None = None) -> list[str]:
    """What a sweep varies first: the learning rate and epochs when the method has them, and the method's own main
    knob (its first numeric option that the shared training options do not have, e.g. a rank)."""
    usable = sweepable_options(method, model_kind)
    names = [f["name"] for f in usable]
    shared = {f.name for f in dataclasses.fields(TrainingConfig)} | {f.name for f in dataclasses.fields(MethodConfig)}
    first = [name for name in ("lr", "epochs") if name in names]
    own = [f["name"] for f in usable if f["name"] not in shared and f["type"] in ("int", "float")]
    return first + own[:1]


def suggested_values(field_info: dict, current: Any = None) -> list[Any]:
    """Values to try around ``current`` (default: the option's default): a third, the value and three times it for
    a decimal, half and double for a whole number, every choice of a choice, both settings of a switch."""
    value = field_info["default"] if current is None else current
    low, high = field_info.get("min", -math.inf), field_info.get("max", math.inf)
    if field_info.get("choices"):
        return list(field_info["choices"])
    kind = field_info["type"]
    if kind == "bool":
        return [False, True]
    if kind == "float":
        tried = [float(f"{value / 3:.1g}"), float(value), float(f"{value * 3:.1g}")] if value else [0.0, 0.1]
    elif kind == "int":
        tried = [max(1, value // 2), value, value * 2] if value > 0 else [value, 3, 10]
    else:
        return [value]
    return list(dict.fromkeys(v for v in tried if low <= v <= high))


def value_text(value: Any) -> str:
    """How a grid value is written: 0.0003 as 0.0003, 1e-05 as 1e-05, True as true."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _typed(name: str, kind: str, value: Any) -> Any:
    """``value`` (text from a grid item, or a value given in code) as the option's type; a ConfigError that says
    what was expected."""
    text = str(value).strip()
    try:
        if kind == "bool":
            if isinstance(value, bool):
                return value
            if text.lower() not in _TRUE + _FALSE:
                raise ValueError
            return text.lower() in _TRUE
        if isinstance(value, bool):  # True is not the number 1 here
            raise ValueError
        if kind == "float":
            number = float(value)
            if not math.isfinite(number):
                raise ValueError
            return number
        if kind == "int":
            number = float(value)  # "1e3" and "10.0" are whole numbers too; "2.5" is not
            if not math.isfinite(number) or not number.is_integer():
                raise ValueError
            return int(number)
    except (TypeError, ValueError):
        expected = {"bool": "true or false", "float": "a number", "int": "a whole number"}[kind]
        raise ConfigError(f"grid option {name} takes {expected}; got {quoted(text)}.") from None
    if not isinstance(value, str):
        raise ConfigError(f"grid option {name} takes text; got {quoted(text)}.")
    return text


def parse_grid(items: Sequence[str], method: str, model_kind: str | None = None,
               base_options: dict | None = None) -> Grid:
    """``["lr=1e-4,3e-4", "epochs=3,10"]`` -> ``{"lr": [0.0001, 0.0003], "epochs": [3, 10]}``, checked as
    ``check_grid`` checks a grid given in code."""
    valid = ", ".join(f["name"] for f in sweepable_options(method, model_kind)) or "none"
    grid: dict[str, list[Any]] = {}
    for item in items:
        name, equals, values = str(item).partition("=")
        name = name.strip()
        if not equals or not name:
            raise ConfigError(f"a grid item is NAME=VALUE,VALUE (such as lr=1e-4,3e-4); got {quoted(item)}. "
                              f"Options this method can vary: {valid}.")
        if name in grid:
            raise ConfigError(f"grid option {name} is given twice; list all its values once, e.g. {name}=a,b.")
        parts = [part.strip() for part in values.split(",")]
        if not all(parts):
            raise ConfigError(f"grid option {name} has an empty value in {quoted(item)}; list values separated by "
                              "commas, such as lr=1e-4,3e-4.")
        grid[name] = parts
    return check_grid(grid, method, model_kind, base_options)


def check_grid(grid: dict[str, Sequence[Any]], method: str, model_kind: str | None = None,
               base_options: dict | None = None) -> Grid:
    """The grid with its values typed as the method's options and duplicates dropped.

    Names must be options the method's config has (and ``model_kind`` uses) that take numbers, choices or switches;
    every value and every configuration is checked by the method's config with ``base_options`` (the options the
    runs share: the validation ``create_run`` uses), so nothing is created for a grid that would fail. A grid must
    make between 2 and ``MAX_SWEEP_RUNS`` configurations.
    """
    entry = get_method(method)
    usable = {f["name"]: f for f in sweepable_options(method, model_kind)}
    every = {f["name"]: f for f in entry.config_cls.describe_fields()}
    valid = ", ".join(usable) or "none"
    typed_grid: Grid = {}
    for name, values in grid.items():
        if name not in usable:
            if name in every and every[name]["type"] not in SWEEPABLE_TYPES:
                why = f"{name} takes a {every[name]['type']}, which a grid cannot list"
            elif name in every:
                why = f"{name} does not apply to {model_kind} models"
            else:
                why = f"{method} has no option {quoted(name)}"
            raise ConfigError(f"{why}; options this method can vary: {valid}.")
        typed = list(dict.fromkeys(_typed(name, usable[name]["type"], value) for value in values))
        for value in typed:
            try:
                entry.config_cls.from_dict({**(base_options or {}), name: value})
            except ConfigError as exc:
                raise ConfigError(f"grid value {name}={value_text(value)} is refused: {exc}") from None
        typed_grid[name] = typed
    if not typed_grid:
        raise ConfigError(f"the grid is empty; give at least one option with two or more values, such as "
                          f"lr=1e-4,3e-4. Options this method can vary: {valid}.")
    count = math.prod(len(values) for values in typed_grid.values())
    sizes = " x ".join(str(len(values)) for values in typed_grid.values())
    if count < 2:
        raise ConfigError("this grid makes only 1 configuration; give at least one option two or more values.")
    if count > MAX_SWEEP_RUNS:
        raise ConfigError(f"this grid makes {count} runs ({sizes}), more than the {MAX_SWEEP_RUNS} a sweep allows; "
                          "give fewer values.")
    for configuration in configurations(typed_grid):  # options that are fine alone may still clash together
        try:
            entry.config_cls.from_dict({**(base_options or {}), **configuration})
        except ConfigError as exc:
            raise ConfigError(f"grid configuration {configuration_label(configuration)} is refused: {exc}") from None
    return typed_grid


def configurations(grid: Grid) -> list[dict]:
    """Every combination of the grid's values, the first option varying slowest."""
    names = list(grid)
    return [dict(zip(names, values)) for values in itertools.product(*grid.values())]


def configuration_label(options: dict) -> str:
    return ", ".join(f"{name}={value_text(value)}" for name, value in options.items())


# -- creating the runs -----------------------------------------------------------------------------------------
def new_sweep_id(method: str) -> str:
    return f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{method}-{secrets.token_hex(2)}"


def create_sweep(base: RunConfig, data: LabeledData, grid: Grid, test: LabeledData | None = None,
                 val: LabeledData | None = None, store: RunStore | None = None, seed: int = 0) -> list[Run]:
    """One queued run per configuration of ``grid`` on the split ``base`` describes (``base.method_options`` with
    the configuration's values on top); ``seed`` samples the training rows (``per_class``), so every run trains
    and is judged on the same rows. Everything is checked before the first run is created."""
    entry = get_method(base.method)
    spec = resolve_model(base.model)
    check_supported(entry, spec)
    grid = check_grid(grid, base.method, spec.kind, base.method_options)
    base, split = split_to_pick_on(base, data, test, val, seed, "a sweep")
    options = [{**base.method_options, **configuration} for configuration in configurations(grid)]
    for chosen in options:
        try:
            entry.method_cls.check_data(split.train.class_counts(), chosen)
        except DatasetError as exc:
            raise DatasetError(f"{exc} Where the rows went: {rows_taken(split)}.") from None
    sweep = new_sweep_id(base.method)
    store = store or RunStore()
    return [create_run(replace(base, sweep=sweep, group=None, search=None, method_options=chosen), data, test,
                       store, sample_seed=seed, val=val) for chosen in options]


def sweep_groups(store: RunStore | None = None) -> dict[str, list[Run]]:
    """{sweep id: its runs in the order they run}, newest sweep first."""
    return runs_grouped_by("sweep", store)


# -- the result ------------------------------------------------------------------------------------------------
@dataclass
class Configuration:
    """One configuration of the sweep: the values it varies, its state and, once finished, its scores."""

    run_id: str
    options: dict  # the grid's values for this run (the options the configurations differ in)
    status: str
    val_accuracy: float | None = None
    val_macro_f1: float | None = None
    accuracy: float | None = None
    accuracy_ci: list[float] | None = None
    macro_f1: float | None = None
    train_seconds: float | None = None
    error: str | None = None

    @property
    def label(self) -> str:
        return configuration_label(self.options)

    @property
    def finished(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict:
        return {**vars(self), "label": self.label}


@dataclass
class SweepResult:
    sweep: str
    method: str
    model: str
    configurations: list[Configuration]
    varied: list[str] = field(default_factory=list)  # the option names the grid varies
    n_val: int = 0
    n_test: int = 0
    picked: Configuration | None = None
    runner_up: Configuration | None = None  # second on the validation rows
    best_on_test: Configuration | None = None
    paired: PairedComparison | None = None  # the pick against the runner-up, on the test rows
    tie_broken_by_cost: bool = False  # several configurations shared the best validation accuracy

    @property
    def live(self) -> bool:
        return any(c.status in LIVE_STATES for c in self.configurations)

    @property
    def finished_count(self) -> int:
        return sum(c.finished for c in self.configurations)

    @property
    def caution(self) -> str | None:
        if self.picked and self.n_val < FEW_VALIDATION_ROWS:
            return (f"Picked on only {self.n_val} validation rows: one row moves validation accuracy by "
                    f"{100 / max(1, self.n_val):.0f} points, so close configurations may be ranked by chance.")
        return None

    @property
    def summary(self) -> list[str]:
        """The result in plain words, the pick first."""
        total = len(self.configurations)
        if self.picked is None:
            if self.live:
                return [f"{self.finished_count} of {total} configurations finished; the pick comes when every "
                        "configuration has finished."]
            return ["No configuration finished with validation scores, so there is nothing to pick; see each run's "
                    "error."]
        pick = self.picked
        tie = " (tied with another; the cheaper one)" if self.tie_broken_by_cost else ""
        lines = [f"Picked {pick.label}: the best validation accuracy of {total} configurations "
                 f"({percent(pick.val_accuracy)} on {self.n_val} rows){tie}."]
        if pick.accuracy is not None:
            interval = (f" (95 % interval {percent(pick.accuracy_ci[0])} to {percent(pick.accuracy_ci[1])})"
                        if pick.accuracy_ci else "")
            lines.append(f"On the {self.n_test} test rows it scores {percent(pick.accuracy)}{interval}.")
        if self.paired is not None:  # the runner-up on the same test rows: a win only when the data can tell
            lines.append(f"Against the runner-up on the test rows: {self.paired.verdict}")
        if self.caution:
            lines.append(self.caution)
        return lines

    def to_dict(self) -> dict:
        def one(c: Configuration | None) -> dict | None:
            return None if c is None else c.to_dict()

        return {"sweep": self.sweep, "method": self.method, "model": self.model, "varied": self.varied,
                "n_val": self.n_val, "n_test": self.n_test, "live": self.live,
                "configurations": [c.to_dict() for c in self.configurations], "picked": one(self.picked),
                "runner_up": one(self.runner_up), "best_on_test": one(self.best_on_test),
                "paired": self.paired.to_dict() if self.paired else None,
                "tie_broken_by_cost": self.tie_broken_by_cost, "caution": self.caution, "summary": self.summary}


def varied_options(option_sets: Sequence[dict]) -> list[str]:
    """The option names whose values differ between configurations, in the order the first one lists them."""
    names = list(dict.fromkeys(name for options in option_sets for name in options))
    return [name for name in names if len({repr(options.get(name)) for options in option_sets}) > 1]


def rank(configurations: Sequence[Configuration], cost: Callable[[Configuration], float]) -> list[Configuration]:
    """Finished configurations with validation scores, best first: validation accuracy, then the cheaper
    (``cost``, asked only for a tie), then grid order. The test scores take no part."""
    scored = [c for c in configurations if c.finished and c.val_accuracy is not None]
    order = {c.run_id: i for i, c in enumerate(configurations)}
    best = max((c.val_accuracy for c in scored), default=None)
    tied = {c.run_id for c in scored if c.val_accuracy == best}
    costs = {c.run_id: cost(c) for c in scored if c.run_id in tied} if len(tied) > 1 else {}
    return sorted(scored, key=lambda c: (-c.val_accuracy, costs.get(c.run_id, 0.0), order[c.run_id]))


def planned_cost(config: dict, metrics: dict) -> float:
    """A configuration's cost for breaking ties: the planned seconds of its options on its data (the same estimate
    the Train page shows), so it does not depend on which run happened to load the model first; measured training
    seconds when planning is not possible."""
    from ..runs.planning import plan_method

    try:
        return plan_method(config["model"], config["method"], len(metrics.get("labels") or [None]),
                           int(metrics.get("n_train") or 0), int(metrics.get("n_test") or 0),
                           options=config.get("method_options") or {}).estimated_seconds
    except (TLCoreError, OSError, ValueError, KeyError):
        return float(metrics.get("train_seconds") or 0.0)


def sweep_result(runs: Sequence[Run]) -> SweepResult:
    """The sweep's state; once no run is live, the pick (``rank``), its test interval and the paired verdict
    against the runner-up. Runs that failed or were cancelled are left out of the pick."""
    if not runs:
        raise RunError("no runs in this sweep.")
    configs = [run.config() for run in runs]
    varied = varied_options([c.get("method_options") or {} for c in configs])
    loaded: dict[str, tuple[dict, dict, Any]] = {}
    items = []
    for run, config in zip(runs, configs):
        status = run.status()
        item = Configuration(run_id=run.id, options={k: (config.get("method_options") or {}).get(k) for k in varied},
                             status=status.get("status", "damaged"), error=status.get("error"))
        if item.finished:
            metrics, predictions = run.metrics() or {}, run.predictions()
            intervals = run_intervals(metrics, predictions, config.get("labels") or []) or {}
            item.val_accuracy, item.val_macro_f1 = metrics.get("val_accuracy"), metrics.get("val_macro_f1")
            item.accuracy, item.macro_f1 = metrics.get("accuracy"), metrics.get("macro_f1")
            item.accuracy_ci, item.train_seconds = intervals.get("accuracy_ci"), metrics.get("train_seconds")
            loaded[run.id] = (config, metrics, predictions)
        items.append(item)
    first = configs[0]
    result = SweepResult(sweep=str(first.get("sweep")), method=str(first.get("method")), model=str(first.get("model")),
                         configurations=items, varied=varied)
    if result.live:  # the page polls while runs train: rank (a tie may build a plan) only once they are done
        return result
    ranked = rank(items, lambda c: planned_cost(loaded[c.run_id][0], loaded[c.run_id][1]))
    if not ranked:
        return result
    pick = ranked[0]
    _, pick_metrics, pick_predictions = loaded[pick.run_id]
    result.picked, result.n_val = pick, int(pick_metrics.get("n_val") or 0)
    result.n_test = int(pick_metrics.get("n_test") or 0)
    result.tie_broken_by_cost = len(ranked) > 1 and ranked[1].val_accuracy == pick.val_accuracy
    finished = [c for c in ranked if c.accuracy is not None]
    order = {c.run_id: i for i, c in enumerate(items)}
    result.best_on_test = max(finished, key=lambda c: (c.accuracy, -order[c.run_id]), default=None)
    if len(ranked) > 1:
        result.runner_up = runner = ranked[1]
        predictions = loaded[runner.run_id][2]
        result.paired = compare_pair(pick_predictions["gold"].astype(str).tolist(),
                                     predictions["predicted"].astype(str).tolist(),
                                     pick_predictions["predicted"].astype(str).tolist(),
                                     list(first.get("labels") or []), runner.label, pick.label,
                                     run_id=runner.run_id, against_run_id=pick.run_id)
    return result
