"""What to label next: rank unlabeled texts by how much labeling them should teach a finished run's model.

- ``suggest_next(run, pool_texts, n=20)`` predicts the pool with the run's model and returns the ``n`` texts to
  label next, as ``Suggestion``s with the reason in plain words ("the model is torn between billing (0.48) and
  refund (0.44)"). Empty texts, repeats and texts the run already has a label for (its train, validation and
  test rows) are never suggested.
- ``rank_pool(proba, n, strategy, ...)`` is the ranking alone, on arrays (class probabilities, and embeddings for
  diversity): ``suggest_next`` and the active-learning simulation (bench/active_learning.py) share it.
- ``read_pool(file)`` / ``pool_from_frame(frame)``: the unlabeled texts of a file; in a labeled data file, the
  rows whose label is empty.

Strategies: ``margin`` (the default: smallest gap between the two likeliest labels first), ``entropy`` (the most
spread-out probabilities first), ``random`` (the baseline every active strategy must beat), and
``margin+diversity``: the ``CANDIDATES_PER_PICK * n`` smallest-margin texts, of which n are kept by k-center
greedy on sentence embeddings, so a batch is not twenty rewordings of one confusing text (for pools full of
near-duplicates; on the shared datasets it gained less than margin alone, bench/active_learning.py).

Light at import time (no torch): models load inside the functions.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import ConfigError, DatasetError
from ..runs.store import Run, as_run

# margin first: the default, measured best by bench/active_learning.py (+3.3 points over random at 128 labels on
# 4 datasets x 5 seeds, 16 of 20 pairs; margin+diversity +2.2, and it hurt subj's first batch).
STRATEGIES = ("margin", "margin+diversity", "entropy", "random")
CANDIDATES_PER_PICK = 5  # margin+diversity looks at the 5n least certain texts and keeps n that differ
EMBEDDING_MODEL = "minilm"  # what diversity compares texts with when the run's own model is a decoder
EMBEDDING_MAX_LENGTH = 128  # the linear probe's default cut: its cached vectors are reused, not recomputed
_LABEL_NAMES = ("label", "labels")

Embeddings = np.ndarray | Callable[[np.ndarray], np.ndarray]


@dataclass
class Suggestion:
    """One text to label next. ``index`` points into the pool_texts given to ``suggest_next``."""

    index: int
    text: str
    predicted: str
    confidence: float  # the model's probability of ``predicted``
    score: float  # how uncertain the model is, 0-1 (higher: more to learn); what the strategy ranked by
    reason: str

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class SuggestionReport:
    """``suggest_next``'s suggestions, and what the pool held: how many texts were ranked and why others were not."""

    run_id: str
    strategy: str
    labels: list[str]
    pool: int  # texts given
    ranked: int  # texts the model scored (the pool less the skipped ones)
    skipped_empty: int
    skipped_duplicate: int
    skipped_labeled: int  # already in the run's train, validation or test rows
    suggestions: list[Suggestion] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "strategy": self.strategy, "labels": self.labels, "pool": self.pool,
                "ranked": self.ranked, "skipped": {"empty": self.skipped_empty, "duplicate": self.skipped_duplicate,
                                                   "labeled": self.skipped_labeled},
                "suggestions": [s.to_dict() for s in self.suggestions]}


# -- ranking on arrays ----------------------------------------------------------------------------------------------

def check_strategy(strategy: str) -> str:
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    return strategy


def check_n(n) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"n must be a whole number of at least 1 (how many texts to suggest); got {n!r}.")
    return int(n)


def uncertainty(proba: np.ndarray, strategy: str = "margin") -> np.ndarray:
    """How unsure the model is about each row, 0 (sure) to 1 (no idea). ``entropy``: the entropy of the row over
    the log of the number of classes; any other strategy: 1 - (top probability - second probability)."""
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[1] < 2:
        raise DatasetError(f"class probabilities must be a table of rows x at least 2 classes; got shape "
                           f"{proba.shape}.")
    if strategy == "entropy":
        clipped = np.clip(proba, 1e-12, 1.0)
        return -(proba * np.log(clipped)).sum(axis=1) / np.log(proba.shape[1])
    top_two = -np.sort(-proba, axis=1)[:, :2]
    return 1.0 - (top_two[:, 0] - top_two[:, 1])


def k_center_greedy(vectors: np.ndarray, n: int) -> list[int]:
    """``n`` row positions of ``vectors``, each as far as possible from those picked before it; the first is row
    0 (the caller orders rows by priority, and a tie in distance goes to the earlier row)."""
    n = min(n, len(vectors))
    if n == 0:
        return []
    vectors = np.asarray(vectors, dtype=np.float64)
    picked = [0]
    nearest = np.linalg.norm(vectors - vectors[0], axis=1)  # each row's distance to the closest pick so far
    nearest[0] = -1.0
    while len(picked) < n:
        best = int(np.argmax(nearest))  # argmax returns the first of equal maxima: the more uncertain row
        picked.append(best)
        nearest = np.minimum(nearest, np.linalg.norm(vectors - vectors[best], axis=1))
        nearest[picked] = -1.0
    return picked


def rank_pool(proba: np.ndarray, n: int, strategy: str = "margin", seed: int = 0,
              embeddings: Embeddings | None = None) -> np.ndarray:
    """Row positions of ``proba`` (one row of class probabilities per pool text) to label next, best first.

    ``embeddings`` is needed by ``margin+diversity`` only: an array with one vector per row, or a function that
    takes row positions and returns their vectors (so only the candidates get embedded). ``seed`` drives
    ``random``. At most ``len(proba)`` rows come back.
    """
    check_strategy(strategy)
    n = check_n(n)
    proba = np.asarray(proba, dtype=float)
    scores = uncertainty(proba, strategy)
    if strategy == "random":
        return np.random.default_rng(seed).permutation(len(proba))[:n]
    order = np.lexsort((np.arange(len(scores)), -scores))  # most uncertain first; ties: the earlier row
    if strategy != "margin+diversity" or n >= len(order):
        return order[:n]
    if embeddings is None:
        raise ConfigError("margin+diversity needs sentence embeddings of the pool; pass embeddings, or choose "
                          "the margin strategy.")
    candidates = order[:CANDIDATES_PER_PICK * n]
    vectors = embeddings(candidates) if callable(embeddings) else np.asarray(embeddings)[candidates]
    if len(vectors) != len(candidates):
        raise DatasetError(f"got {len(vectors)} embeddings for {len(candidates)} candidate texts; give one vector "
                           "per pool text.")
    picked = candidates[k_center_greedy(vectors, n)]
    return picked[np.lexsort((picked, -scores[picked]))]  # the batch shown most uncertain first


def reason(probabilities: np.ndarray, labels: Sequence[str], strategy: str) -> str:
    """Why a text was suggested, in plain words, from its class probabilities."""
    order = np.argsort(-probabilities, kind="stable")
    first, second = order[0], order[1]
    p1, p2 = float(probabilities[first]), float(probabilities[second])
    if strategy == "random":
        return f"drawn at random (the baseline); the model says {labels[first]} ({p1:.2f})"
    if strategy == "entropy" and len(labels) > 2:
        shown = [i for i in order[:4] if probabilities[i] >= 0.05] or [first]
        spread = ", ".join(f"{labels[i]} ({probabilities[i]:.2f})" for i in shown)
        text = f"the model spreads its belief over {spread}"
    elif p1 - p2 <= 0.5:
        text = f"the model is torn between {labels[first]} ({p1:.2f}) and {labels[second]} ({p2:.2f})"
    else:
        text = f"the model leans to {labels[first]} ({p1:.2f}) but is less sure than elsewhere; next is " \
               f"{labels[second]} ({p2:.2f})"
    if strategy == "margin+diversity":
        text += "; unlike the other suggestions"
    return text


# -- a finished run and a pool of texts ------------------------------------------------------------------------------

def _key(text: str) -> str:
    return text.strip()


def _labeled_texts(run: Run) -> set[str]:
    """Every text the run has a label for: train, validation and test rows (a test row labeled again and added
    to training would leak into the next run's test)."""
    split = run.split()
    return {_key(t) for part in (split.train, split.val, split.test) for t in part.texts}


def suggest_next(run: Run | str | Path, pool_texts: Sequence[str], n: int = 20, strategy: str = "margin",
                 seed: int = 0, *, method=None, callback=None, runs_dir: str | Path | None = None,
                 device: str = "auto", exclude: Sequence[str] = ()) -> list[Suggestion]:
    """The ``n`` pool texts to label next according to a finished run's model, most uncertain first.

    ``run`` is a Run, a run id (in ``runs_dir``) or a run folder. Pass an already loaded ``method`` (from
    ``load_method``) to reuse it; ``callback`` receives the prediction's progress. ``exclude``: texts never to
    suggest, as the run's own rows are not (e.g. every labeled text of the data now, rows labeled since the run
    among them). See ``suggest_report`` for the counts of skipped texts.
    """
    return suggest_report(run, pool_texts, n, strategy, seed, method=method, callback=callback,
                          runs_dir=runs_dir, device=device, exclude=exclude).suggestions


def suggest_report(run: Run | str | Path, pool_texts: Sequence[str], n: int = 20,
                   strategy: str = "margin", seed: int = 0, *, method=None, callback=None,
                   runs_dir: str | Path | None = None, device: str = "auto",
                   exclude: Sequence[str] = ()) -> SuggestionReport:
    """``suggest_next`` with what the pool held: the texts ranked and those skipped (empty, repeated, labeled: by
    the run, or among ``exclude``)."""
    from .predict import check_usable, load_method, predict_texts

    n, strategy = check_n(n), check_strategy(strategy)
    if isinstance(pool_texts, str):
        raise DatasetError("pool_texts must be a list of texts, not one string.")
    if isinstance(exclude, str):
        raise DatasetError("exclude must be a list of texts, not one string.")
    if len(pool_texts) == 0:
        raise DatasetError("the pool is empty; give the unlabeled texts to choose from (a file with a text column, "
                           "or the rows of the data file without a label).")
    run = as_run(run, runs_dir)
    config = check_usable(run)  # before anything loads: a run that did not succeed is refused here
    labels = list(config["labels"])
    labeled = _labeled_texts(run) | {_key(t) for t in exclude if isinstance(t, str)}
    keep: list[int] = []
    seen: set[str] = set()
    empty = duplicate = already = 0
    for index, text in enumerate(pool_texts):
        key = _key(text) if isinstance(text, str) else ""
        if not key:
            empty += 1
        elif key in seen:
            duplicate += 1
        elif key in labeled:
            already += 1
        else:
            seen.add(key)
            keep.append(index)
    if not keep:
        raise DatasetError(f"no pool text is left to suggest: of {len(pool_texts)}, {empty} empty, {duplicate} "
                           f"repeated and {already} already labeled (in run {run.id}"
                           f"{' or among the texts to exclude' if len(exclude) else ''}); add unlabeled texts to the "
                           "pool.")
    texts = [str(pool_texts[i]).strip() for i in keep]
    method = method or load_method(run, device)
    proba = predict_texts(method, texts, callback)
    embed = _embedder(config, texts, getattr(method, "device", "cpu")) if strategy == "margin+diversity" else None
    picked = rank_pool(proba, n, strategy, seed, embed)
    scores = uncertainty(proba, strategy)
    suggestions = []
    for position in picked:
        row = proba[position]
        top = int(np.argmax(row))
        suggestions.append(Suggestion(index=keep[position], text=texts[position], predicted=labels[top],
                                      confidence=float(row[top]), score=float(scores[position]),
                                      reason=reason(row, labels, strategy)))
    return SuggestionReport(run_id=run.id, strategy=strategy, labels=labels, pool=len(pool_texts),
                            ranked=len(texts), skipped_empty=empty, skipped_duplicate=duplicate,
                            skipped_labeled=already, suggestions=suggestions)


def embedding_folder(model: str) -> str:
    """The model folder whose sentence vectors diversity compares: the run's own encoder, else MiniLM (a decoder's
    mean-pooled states are not trained to be compared by distance)."""
    from ..engine.models import model_folder, resolve_model

    spec = resolve_model(model)
    if spec.kind != "encoder":
        spec = resolve_model(EMBEDDING_MODEL)
    return str(model_folder(spec))


def _embedder(config: dict, texts: Sequence[str], device: str) -> Callable[[np.ndarray], np.ndarray]:
    from ..engine.encoders import embed

    folder = embedding_folder(config["model"])
    return lambda positions: embed([texts[i] for i in positions], folder, device,
                                   max_length=EMBEDDING_MAX_LENGTH)


# -- reading a pool ----------------------------------------------------------------------------------------------------

@dataclass
class Pool:
    """Unlabeled texts read from a table: ``texts[i]`` is the file's row ``rows[i]`` (as the file numbers it)."""

    texts: list[str]
    rows: list[int]
    text_column: str
    label_column: str | None  # the column whose empty cells made a row part of the pool; None: every row counts
    labeled_rows: int  # rows left out because they have a label


def pool_from_frame(frame: pd.DataFrame, text_column: str | None = None, label_column: str | None = None,
                    preferred_text: str | None = None, preferred_label: str | None = None,
                    name: str = "the pool") -> Pool:
    """The rows of ``frame`` that can be labeled next: all of them, or (when the table has a label column) those
    whose label is empty. Columns: as given; else the ``preferred_*`` names (a run's own columns) when present;
    else a usual name ("text", "label"); else the table's one text column. Rows with an empty text are kept here
    (``suggest_next`` counts and skips them), so row numbers stay the file's."""
    from .predict import _file_row_numbers, choose_text_column

    columns = [str(c) for c in frame.columns]
    text_column = choose_text_column(frame, text_column, preferred_text, name=name)
    if label_column is not None and label_column not in columns:
        raise DatasetError(f"{name} has no label column {label_column!r}; the columns found are: "
                           f"{', '.join(columns)}. Choose one with --label-column, or leave it out if every row "
                           "is unlabeled.")
    if label_column is None:
        label_column = next((c for c in (preferred_label, *_LABEL_NAMES) if c and c in columns and c != text_column),
                            None)
    if label_column == text_column:
        raise DatasetError(f"the text and label columns are both {text_column!r}; choose two different columns.")
    numbers = _file_row_numbers(frame)
    if label_column is None:
        unlabeled = np.ones(len(frame), dtype=bool)
    else:
        values = frame[label_column]
        unlabeled = (values.isna() | (values.astype(str).str.strip() == "")).to_numpy()
    texts = ["" if pd.isna(v) else str(v) for v in frame[text_column]]
    positions = np.flatnonzero(unlabeled)
    return Pool(texts=[texts[i] for i in positions], rows=[int(numbers[i]) for i in positions],
                text_column=text_column, label_column=label_column, labeled_rows=int(len(frame) - len(positions)))


def read_pool(source: str | Path, text_column: str | None = None, label_column: str | None = None,
              run: Run | str | Path | None = None, runs_dir: str | Path | None = None, **reading) -> Pool:
    """The unlabeled texts of a data file (any format ``read_table`` reads; ``reading``: its encoding, delimiter).
    Given a ``run``, its own text and label column names are tried first."""
    import warnings

    from ..data import read_table

    source = Path(source)
    preferred_text = preferred_label = None
    if run is not None:
        config = as_run(run, runs_dir).config()
        preferred_text, preferred_label = config.get("text_column"), config.get("label_column")
    if not source.is_file():
        raise DatasetError(f"pool file {str(source)!r} does not exist or is not a file; give the path of a data "
                           "file with a text column.")
    with warnings.catch_warnings():  # what reading changed is in frame.attrs; the caller reports it
        warnings.simplefilter("ignore")
        frame = read_table(source, **reading)
    if frame.empty:
        raise DatasetError(f"pool file {source.name!r} has no rows; add the unlabeled texts to it.")
    pool = pool_from_frame(frame, text_column, label_column, preferred_text, preferred_label, name=source.name)
    if not pool.texts:
        raise DatasetError(f"every row of {source.name!r} has a label in column {pool.label_column!r}, so there is "
                           "nothing to suggest; give a file of unlabeled texts, or leave the label cells of the "
                           "rows to choose from empty.")
    return pool

