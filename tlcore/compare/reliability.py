"""Calibration of a run's confidence: reliability bins and expected calibration error (ECE).

Definitions (the usual ones, as in Guo et al. 2017, "On Calibration of Modern Neural Networks"):

- confidence of an example = the probability the run gave its predicted class (the largest one);
- the interval [0, 1] is cut into ``n_bins`` equal-width bins (default 10): (0, 0.1], (0.1, 0.2], ...,
  (0.9, 1.0], the first bin also holding a confidence of exactly 0;
- per bin: the number of examples, their mean confidence and their accuracy (share predicted right);
- ECE = sum over bins of (examples in the bin / all examples) * |accuracy of the bin - mean confidence
  of the bin|, between 0 (confidence matches accuracy) and 1.

A well-calibrated run that says 80 % is right about 80 % of the time. Empty bins are reported with
count 0 and no accuracy or confidence; they add nothing to the ECE.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Sequence

import numpy as np

from ..errors import RunError

DEFAULT_BINS = 10


@dataclass
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    mean_confidence: float | None
    accuracy: float | None


@dataclass
class Reliability:
    """Reliability bins of one run and its expected calibration error."""

    bins: list[ReliabilityBin]
    ece: float
    n: int
    mean_confidence: float
    accuracy: float

    @property
    def overconfidence(self) -> float:
        """Mean confidence minus accuracy: above 0 the run claims more than it delivers."""
        return self.mean_confidence - self.accuracy

    def to_dict(self) -> dict:
        return {"ece": self.ece, "n": self.n, "mean_confidence": self.mean_confidence, "accuracy": self.accuracy,
                "bins": [asdict(b) for b in self.bins]}


def reliability(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = DEFAULT_BINS) -> Reliability:
    """Bin examples by confidence (equal-width bins on [0, 1]) and compute the ECE; see the module docstring."""
    conf = np.asarray(confidence, dtype=float)
    hits = np.asarray(correct, dtype=bool)
    if conf.shape != hits.shape or conf.ndim != 1:
        raise RunError(f"{conf.size} confidences but {hits.size} correctness flags; they must pair up.")
    if conf.size == 0:
        raise RunError("no predictions to measure calibration on.")
    if n_bins < 1:
        raise RunError(f"the number of bins must be at least 1, not {n_bins}.")
    if np.isnan(conf).any() or (conf < 0).any() or (conf > 1).any():
        raise RunError("confidences must be probabilities between 0 and 1; the predictions file is damaged.")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # Bin b holds (edges[b], edges[b+1]]; a confidence of exactly 0 goes to the first bin.
    index = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    bins, ece = [], 0.0
    for b in range(n_bins):
        members = index == b
        count = int(members.sum())
        if count:
            mean_conf, acc = float(conf[members].mean()), float(hits[members].mean())
            ece += count / conf.size * abs(acc - mean_conf)
            bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), count, mean_conf, acc))
        else:
            bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), 0, None, None))
    return Reliability(bins=bins, ece=float(ece), n=int(conf.size), mean_confidence=float(conf.mean()),
                       accuracy=float(hits.mean()))


def run_reliability(predictions, n_bins: int = DEFAULT_BINS) -> Reliability:
    """Reliability of a run from its predictions table (``confidence`` and ``gold``/``predicted`` columns)."""
    missing = [c for c in ("confidence", "gold", "predicted") if c not in predictions.columns]
    if missing:
        raise RunError(f"the predictions table has no {', '.join(missing)} column; it is damaged.")
    correct = predictions["gold"].astype(str) == predictions["predicted"].astype(str)
    return reliability(predictions["confidence"].astype(float).to_numpy(), correct.to_numpy(), n_bins)
