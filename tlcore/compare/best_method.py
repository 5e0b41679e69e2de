"""Find the best method: a small portfolio of methods, run as ordinary queued runs on one split, the winner
picked on the validation rows, then reported on the test rows with its interval.

Why pick on validation rows: choosing the run with the best *test* accuracy and quoting that accuracy
overstates it (the best of several noisy estimates is biased upwards), and with a few hundred test rows the
test ranking of close methods is partly chance. The validation rows choose; the test rows only judge the one
choice, with a 95 % interval, and say (paired, on the same rows) whether any other method was clearly better.

A search is a series of runs (tlcore.runs.series) that share ``RunConfig.search``; it lives in the run store
like any run, so the app finds it again after a refresh.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Sequence

from ..data import LabeledData, Split, make_split
from ..data.labeled import MIN_VAL_ROWS
from ..engine.models import resolve_model
from ..errors import DatasetError, MethodError, RunError
from ..methods import check_supported, get_method, portfolio
from ..runs.create import create_run
from ..runs.intervals import run_intervals
from ..runs.store import LIVE_STATES, Run, RunConfig, RunStore, runs_grouped_by
from .formatting import percent
from .paired import PairedComparison, compare_pair

# Below this many validation rows the pick is reported with a caution: one row then moves validation accuracy
# by 3+ points, more than the gap between close methods.
FEW_VALIDATION_ROWS = 30


def new_search_id() -> str:
    return f"search-{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(2)}"


def create_search(base: RunConfig, data: LabeledData, test: LabeledData | None = None,
                  val: LabeledData | None = None, store: RunStore | None = None,
                  methods: Sequence[str] | None = None, seed: int = 0) -> list[Run]:
    """One queued run per method (default: the portfolio for the model's kind), all on the split ``base``
    describes, each at the method's defaults; ``seed`` samples the training rows (``per_class``) and seeds every
    method. Everything is checked before the first run is created."""
    spec = resolve_model(base.model)
    methods = list(dict.fromkeys(methods or portfolio(spec.kind)))
    if not methods:
        raise MethodError(f"no method to try with {spec.kind} model {base.model!r}; name some with --methods.")
    for method in methods:
        check_supported(get_method(method), spec)
    base, _ = split_to_pick_on(base, data, test, val, seed, "finding the best method")
    search = new_search_id()
    store = store or RunStore()
    return [create_run(replace(base, method=method, search=search, group=None, method_options={"seed": seed}), data,
                       test, store, sample_seed=seed, val=val) for method in methods]


def split_to_pick_on(base: RunConfig, data: LabeledData, test: LabeledData | None, val: LabeledData | None,
                     seed: int, what: str) -> tuple[RunConfig, Split]:
    """The split ``base`` describes, with validation rows to pick on: small data keeps every row for training, so
    then the minimum that can tell runs apart is held out (the result's caution says how few they are). ``base``
    comes back with that validation size; ``what`` names the picker in the error when no rows can be held out."""
    split = make_split(data, test, test_size=base.test_size, val_size=base.val_size, split_seed=base.split_seed,
                       per_class=base.per_class, sample_seed=seed, val=val)
    if not len(split.val) and val is None and 0 < base.val_size < 1:
        base = replace(base, val_size=float(MIN_VAL_ROWS))
        split = make_split(data, test, test_size=base.test_size, val_size=base.val_size, split_seed=base.split_seed,
                           per_class=base.per_class, sample_seed=seed, val=val)
    if not len(split.val):
        raise DatasetError(f"{what} picks on the validation rows, and this split has none; give the validation "
                           "hold-out some rows (a validation size of at least 30 rows, or a validation file).")
    return base, split


def search_groups(store: RunStore | None = None) -> dict[str, list[Run]]:
    """{search id: its runs in the order they run}, newest search first."""
    return runs_grouped_by("search", store)


@dataclass
class Candidate:
    """One method of the search: its state and, once finished, its validation and test scores."""

    run_id: str
    method: str
    status: str
    val_accuracy: float | None = None
    val_macro_f1: float | None = None
    accuracy: float | None = None
    accuracy_ci: list[float] | None = None
    macro_f1: float | None = None
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.status == "succeeded"


@dataclass
class SearchResult:
    search: str
    candidates: list[Candidate]
    n_val: int = 0
    n_test: int = 0
    picked: Candidate | None = None
    best_on_test: Candidate | None = None
    paired: list[PairedComparison] = field(default_factory=list)  # the pick against each other finished method

    @property
    def live(self) -> bool:
        return any(c.status in LIVE_STATES for c in self.candidates)

    @property
    def caution(self) -> str | None:
        if self.picked and self.n_val < FEW_VALIDATION_ROWS:
            return (f"Picked on only {self.n_val} validation rows: one row moves validation accuracy by "
                    f"{100 / max(1, self.n_val):.0f} points, so close methods may be ranked by chance.")
        return None

    @property
    def summary(self) -> list[str]:
        """The result in plain words, the pick first."""
        if self.picked is None:
            if self.live:
                return [f"{sum(c.finished for c in self.candidates)} of {len(self.candidates)} methods finished; "
                        "the pick comes when every method has finished."]
            return ["No method finished with validation scores, so there is nothing to pick; see each run's error."]
        pick = self.picked
        lines = [f"Picked {pick.method}: the best validation accuracy ({percent(pick.val_accuracy)} on "
                 f"{self.n_val} rows)."]
        if pick.accuracy is not None:
            interval = (f" (95 % interval {percent(pick.accuracy_ci[0])} to {percent(pick.accuracy_ci[1])})"
                        if pick.accuracy_ci else "")
            lines.append(f"On the {self.n_test} test rows it scores {percent(pick.accuracy)}{interval}.")
        # The pick against each other finished method on the same test rows, in plain words: a method clearly
        # better than the pick says so, and a closer one is "no clear difference", never a win.
        lines += [p.verdict for p in self.paired]
        if self.caution:
            lines.append(self.caution)
        return lines

    def to_dict(self) -> dict:
        def candidate(c: Candidate | None) -> dict | None:
            return None if c is None else {**vars(c)}

        return {"search": self.search, "n_val": self.n_val, "n_test": self.n_test, "live": self.live,
                "picked": candidate(self.picked), "best_on_test": candidate(self.best_on_test),
                "candidates": [candidate(c) for c in self.candidates],
                "paired": [p.to_dict() for p in self.paired], "caution": self.caution, "summary": self.summary}


def _candidate(run: Run) -> tuple[Candidate, dict, object]:
    config, status = run.config(), run.status()
    candidate = Candidate(run_id=run.id, method=str(config.get("method")), status=status.get("status", "damaged"),
                          error=status.get("error"))
    metrics = (run.metrics() or {}) if candidate.finished else {}
    predictions = run.predictions() if candidate.finished else None
    if metrics:
        intervals = run_intervals(metrics, predictions, config.get("labels") or []) or {}
        candidate.val_accuracy, candidate.val_macro_f1 = metrics.get("val_accuracy"), metrics.get("val_macro_f1")
        candidate.accuracy, candidate.macro_f1 = metrics.get("accuracy"), metrics.get("macro_f1")
        candidate.accuracy_ci = intervals.get("accuracy_ci")
    return candidate, {**config, **metrics}, predictions


def search_result(runs: Sequence[Run]) -> SearchResult:
    """The search's state; once no run is live, the pick: best validation accuracy, then validation macro-F1,
    then the cheaper method (portfolio order). Runs that failed or were cancelled are left out of the pick."""
    if not runs:
        raise RunError("no runs in this search.")
    loaded = [_candidate(run) for run in runs]
    result = SearchResult(search=str(runs[0].config().get("search")), candidates=[c for c, _, _ in loaded])
    scored = [(c, info, predictions) for c, info, predictions in loaded
              if c.finished and c.val_accuracy is not None and predictions is not None]
    if result.live or not scored:
        return result
    result.n_val, result.n_test = int(scored[0][1].get("n_val") or 0), int(scored[0][1].get("n_test") or 0)
    order = {c.run_id: i for i, c in enumerate(result.candidates)}
    pick, _, pick_predictions = max(scored, key=lambda item: (item[0].val_accuracy, item[0].val_macro_f1 or 0.0,
                                                               -order[item[0].run_id]))
    result.picked = pick
    result.best_on_test = max((c for c, _, _ in scored), key=lambda c: (c.accuracy or 0.0, -order[c.run_id]))
    gold = pick_predictions["gold"].astype(str).tolist()
    labels = list(scored[0][1].get("labels") or [])
    for other, _, predictions in scored:
        if other is pick:
            continue
        result.paired.append(compare_pair(gold, predictions["predicted"].astype(str).tolist(),
                                          pick_predictions["predicted"].astype(str).tolist(), labels,
                                          other.method, pick.method, run_id=other.run_id,
                                          against_run_id=pick.run_id))
    return result
